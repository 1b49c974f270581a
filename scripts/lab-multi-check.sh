#!/usr/bin/env bash
# Checks of the running two-host lab (make lab-multi, inventories/lab-multi):
#   - kvm2 (scripts/lab-second-host.sh) answers;
#   - every VM of the inventory is defined on exactly one host and runs;
#   - ns1 and ns2 run on different hosts;
#   - playbooks/status.yml on the branch (DNS, mail, web, VMs, monitoring, backups);
#   - with LAB_MULTI_MIGRATE=1: playbooks/migrate.yml moves web1 live to the
#     other host and back while an HTTP probe runs every 0.1 s; prints the
#     migration time and the longest gap the probe saw.
# Prints one line per check and `lab-multi-check: N passed, N failed` last;
# exits 1 on any failure. Traffic goes only to the lab's own hosts and VMs.
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
INV=${LAB_MULTI_INVENTORY:-$REPO/inventories/lab-multi}
PREFIX=${LAB_MULTI_PREFIX:-lm-}
VMS=(ns1 ns2 mail1 web1)
K1=qemu:///system
K2=qemu+ssh://10.79.0.2/system
PASSED=0
FAILED=0

check() {  # check <name> <0|1> [detail]
  if [ "$2" = 0 ]; then PASSED=$((PASSED + 1)); echo "PASS $1${3:+ ($3)}"
  else FAILED=$((FAILED + 1)); echo "FAIL $1${3:+ ($3)}"; fi
}
domains() { timeout 60 virsh -q -c "$1" list --all --name 2>/dev/null | grep "^$PREFIX" | sed "s/^$PREFIX//"; }
state() { timeout 60 virsh -q -c "$1" domstate "$PREFIX$2" 2>/dev/null | head -1; }
where() {  # the host(s) a VM is defined on
  local h=()
  printf '%s\n' "${ON_K1[@]}" | grep -qx "$1" && h+=(kvm1)
  printf '%s\n' "${ON_K2[@]}" | grep -qx "$1" && h+=(kvm2)
  echo "${h[*]}"
}

"$REPO/scripts/lab-second-host.sh" status >/dev/null 2>&1
check "kvm2 runs and its libvirtd answers" $? "scripts/lab-second-host.sh status"

mapfile -t ON_K1 < <(domains "$K1")
mapfile -t ON_K2 < <(domains "$K2")
for vm in "${VMS[@]}"; do
  hosts=$(where "$vm")
  n=$(wc -w <<<"$hosts")
  [ "$n" = 1 ]; check "$vm is defined on exactly one host" $? "${hosts:-nowhere}"
  if [ "$n" = 1 ]; then
    uri=$K1; [ "$hosts" = kvm2 ] && uri=$K2
    [ "$(state "$uri" "$vm")" = running ]; check "$vm runs on $hosts" $?
  fi
done
ns1=$(where ns1); ns2=$(where ns2)
[ -n "$ns1" ] && [ -n "$ns2" ] && [ "$ns1" != "$ns2" ]
check "ns1 and ns2 run on different hosts" $? "ns1 on ${ns1:-?}, ns2 on ${ns2:-?}"

if (cd "$REPO" && ansible-playbook -i "$INV" playbooks/status.yml) | sed 's/^/  /'; then rc=0; else rc=1; fi
check "playbooks/status.yml on the branch" $rc

if [ "${LAB_MULTI_MIGRATE:-0}" = 1 ]; then
  ip=$(timeout 60 virsh -c "$( [ "$(where web1)" = kvm2 ] && echo "$K2" || echo "$K1")" dumpxml "${PREFIX}web1" |
       sed -n 's:.*<smbvdc\:ipv4>\(.*\)</smbvdc\:ipv4>.*:\1:p')
  key=$INV/.smbvdc/ssh/id_ed25519
  vssh() { ssh -i "$key" -o UserKnownHostsFile="$INV/.smbvdc/ssh/known_hosts" -o StrictHostKeyChecking=accept-new \
               -o BatchMode=yes -o ConnectTimeout=20 "root@$ip" "$@"; }
  # Something to probe and data to keep: web1 serves a directory over HTTP
  # (a transient unit, gone at its next boot) holding 64 MiB of random data
  # written to its disk; its checksum must survive both migrations.
  vssh 'set -e; d=/var/lib/smbvdc-probe; mkdir -p $d; [ -s $d/data.bin ] || head -c 67108864 /dev/urandom > $d/data.bin;
        sync; sha256sum $d/data.bin | cut -d" " -f1 > $d/data.sha256; echo ok > $d/index.html;
        systemctl is-active -q smbvdc-probe-http || systemd-run -q --unit=smbvdc-probe-http python3 -m http.server 80 --directory $d'
  check "web1 serves the probe page and holds the test data" $? "$ip"
  sum_before=$(vssh cat /var/lib/smbvdc-probe/data.sha256)
  for target in kvm1 kvm2; do
    [ "$(where web1)" = "$target" ] && continue
    plog=$(mktemp)
    # HTTP probe every 0.1 s (bounded: at most 6000 probes = 10 min)
    ( for _ in $(seq 1 6000); do
        if curl -s -o /dev/null -m 0.5 "http://$ip/"; then echo "$(date +%s.%N) ok"; else echo "$(date +%s.%N) fail"; fi
        sleep 0.1
      done ) >"$plog" &
    probe=$!
    sleep 2
    s=$(date +%s.%N)
    (cd "$REPO" && ansible-playbook -i "$INV" playbooks/migrate.yml -e vm=web1 -e target="$target") >"$plog.ansible" 2>&1
    rc=$?
    e=$(date +%s.%N)
    sleep 3
    kill "$probe" 2>/dev/null; wait "$probe" 2>/dev/null
    oks=$(grep -c ' ok' "$plog")
    # the longest time between two answered probes (a probe that times out
    # costs 0.5 s + 0.1 s, so a gap below ~0.7 s is no outage at all)
    gap=$(awk '$2=="ok" { if (p && $1-p>g) g=$1-p; p=$1 } END { printf "%.2f", g }' "$plog")
    fails=$(grep -c fail "$plog")
    [ "$rc" = 0 ] && [ "$oks" -gt 20 ]
    check "migrate.yml moves web1 live to $target" $? \
      "migration_time_s=$(awk -v s="$s" -v e="$e" 'BEGIN{printf "%.1f", e-s}') http_max_gap_s=$gap answered=$oks failed_probes=$fails; log $plog.ansible"
    rm -f "$plog"
    mapfile -t ON_K1 < <(domains "$K1")
    mapfile -t ON_K2 < <(domains "$K2")
    [ "$(where web1)" = "$target" ]; check "web1 is defined on $target only" $? "$(where web1)"
    sum_after=$(vssh 'sha256sum /var/lib/smbvdc-probe/data.bin | cut -d" " -f1')
    [ -n "$sum_before" ] && [ "$sum_after" = "$sum_before" ]
    check "web1 keeps its disk data on $target" $? "sha256 ${sum_after:0:16}..."
  done
fi

echo "lab-multi-check: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
