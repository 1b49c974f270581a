#!/usr/bin/env bash
# Live migration proof between this host's libvirtd (kvm1, qemu:///system)
# and kvm2 (scripts/lab-second-host.sh up): a throw-away 256 MiB guest
# "smbvdc-mig-test" (linked clone of the lab base image, static address on the
# shared bridge br-smbvdc-mlan) is booted on kvm1, given a marker file, moved
# live with its storage to kvm2 (the flags of playbooks/tasks/live_migrate.yml)
# and back, while it is pinged every 0.1 s. Prints the migration times, the
# longest ping gap and the lost pings of each move, checks the marker file on
# the other side, then removes the guest and its files on both hosts.
#
#   scripts/lab-migration-test.sh            run the whole test (about 3-5 min)
#   scripts/lab-migration-test.sh --playbook the same, each move through
#        playbooks/tasks/live_migrate.yml on inventories/lab-multi (what
#        migrate.yml/evacuate.yml/rebalance.yml run per move)
#   scripts/lab-migration-test.sh cleanup    remove the test guest everywhere
#
# It touches nothing of the lab: its own domain, directory
# (/var/lib/smbvdc/mig-test on both hosts) and a storage pool "migtest" on
# kvm2 only (so that kvm2's libvirt pre-creates the target disk, as the
# kvm_host role's pool does on a real second host).
set -euo pipefail

VM=smbvdc-mig-test
DIR=/var/lib/smbvdc/mig-test
BASE=$(readlink -f /var/lib/smbvdc/base/current)
KEYDIR=/var/lib/smbvdc-lab/migtest
KVM2_MGMT=${SMBVDC_KVM2_MGMT_IP:-10.79.0.2}
KVM1_MGMT=${SMBVDC_KVM2_MGMT_HOST_IP:-10.79.0.1}
BRIDGE=${SMBVDC_KVM2_LAN_BRIDGE:-br-smbvdc-mlan}
IP=${MIGTEST_IP:-10.78.10.250}
GW=${MIGTEST_GW:-10.78.10.1}
MAC=52:54:00:4d:16:fa
MEM_MIB=256
K1=qemu:///system
K2=qemu+ssh://$KVM2_MGMT/system
BOOT_TIMEOUT=${MIGTEST_BOOT_TIMEOUT:-300}
MIGRATE_TIMEOUT=${MIGTEST_MIGRATE_TIMEOUT:-600}

log() { echo "migration-test: $*"; }
die() { echo "migration-test: ERROR: $*" >&2; exit 1; }
v1() { timeout 60 virsh -q -c "$K1" "$@"; }
v2() { timeout 60 virsh -q -c "$K2" "$@"; }
gssh() {
  timeout 30 ssh -i "$KEYDIR/id_ed25519" -o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "root@$IP" "$@"
}

cleanup() {
  local c
  for c in "$K1" "$K2"; do
    if timeout 60 virsh -q -c "$c" dominfo "$VM" >/dev/null 2>&1; then
      timeout 60 virsh -q -c "$c" destroy "$VM" >/dev/null 2>&1 || true
      timeout 60 virsh -q -c "$c" undefine "$VM" >/dev/null 2>&1 || true
      log "removed $VM from $c"
    fi
  done
  if timeout 60 virsh -q -c "$K2" pool-info migtest >/dev/null 2>&1; then
    v2 pool-destroy migtest >/dev/null 2>&1 || true
    v2 pool-undefine migtest >/dev/null 2>&1 || true
  fi
  rm -rf "$DIR" "$KEYDIR"
  timeout 20 ssh -o BatchMode=yes "root@$KVM2_MGMT" rm -rf "$DIR" 2>/dev/null || true
}

if [ "${1:-}" = cleanup ]; then cleanup; exit 0; fi
PLAYBOOK=0
if [ "${1:-}" = --playbook ]; then PLAYBOOK=1; fi
REPO=$(cd "$(dirname "$0")/.." && pwd)

command -v ping >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iputils-ping >/dev/null
[ -f "$BASE/disk.qcow2" ] || die "no base image under /var/lib/smbvdc/base/current (make lab builds it)"
v2 version >/dev/null || die "kvm2 does not answer on $K2: scripts/lab-second-host.sh up"
ip -br addr show dev "$BRIDGE" >/dev/null || die "no bridge $BRIDGE: scripts/lab-second-host.sh up"
# A guest left running on kvm1 by an interrupted run is reused (boot costs minutes under emulation).
REUSE=0
if [ "$(timeout 60 virsh -q -c "$K1" domstate "$VM" 2>/dev/null)" = running ] && [ -f "$KEYDIR/id_ed25519" ]; then
  REUSE=1
  log "reusing $VM, running on kvm1"
  v2 pool-start migtest >/dev/null 2>&1 || true
fi
if [ "$REUSE" = 0 ]; then
for c in "$K1" "$K2"; do
  ! timeout 60 virsh -q -c "$c" dominfo "$VM" >/dev/null 2>&1 || die "$VM already exists on $c: $0 cleanup"
done

# --- the guest ------------------------------------------------------------------
mkdir -p "$DIR" "$KEYDIR"; chmod 0700 "$KEYDIR"
[ -f "$KEYDIR/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C migtest -f "$KEYDIR/id_ed25519"
qemu-img create -q -f qcow2 -F qcow2 -b "$BASE/disk.qcow2" "$DIR/$VM.qcow2" 2G
mkdir -p "$DIR/seed"
cat >"$DIR/seed/meta-data" <<EOF
instance-id: iid-$VM
local-hostname: $VM
EOF
cat >"$DIR/seed/network-config" <<EOF
version: 2
ethernets:
  eth0:
    match:
      macaddress: $MAC
    set-name: eth0
    dhcp4: false
    dhcp6: false
    addresses: [$IP/24]
    gateway4: $GW
EOF
cat >"$DIR/seed/user-data" <<EOF
#cloud-config
hostname: $VM
disable_root: false
ssh_pwauth: false
ssh_authorized_keys:
  - $(cat "$KEYDIR/id_ed25519.pub")
package_update: false
EOF
genisoimage -quiet -output "$DIR/$VM-seed.iso" -volid cidata -joliet -rock \
  "$DIR/seed/user-data" "$DIR/seed/meta-data" "$DIR/seed/network-config"
chown -R libvirt-qemu:libvirt-qemu "$DIR" 2>/dev/null || true
# The read-only seed is not copied by --copy-storage-all: it must exist on the
# target at the same path (docs/multi-host.md). kvm2 gets it over SSH.
ssh -o BatchMode=yes "root@$KVM2_MGMT" "mkdir -p $DIR"
[ "$PLAYBOOK" = 1 ] || scp -q -o BatchMode=yes "$DIR/$VM-seed.iso" "root@$KVM2_MGMT:$DIR/"  # --playbook: live_migrate.yml copies it
v2 pool-define-as migtest dir --target "$DIR" >/dev/null
v2 pool-start migtest >/dev/null

cat >"$DIR/$VM.xml" <<EOF
<domain type='qemu'>
  <name>$VM</name>
  <memory unit='MiB'>$MEM_MIB</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
    <kernel>$BASE/vmlinuz</kernel>
    <initrd>$BASE/initrd.img</initrd>
    <cmdline>root=LABEL=root ro console=ttyS0,115200 net.ifnames=0</cmdline>
  </os>
  <features><acpi/><apic/><tcg><tb-cache unit='MiB'>32</tb-cache></tcg></features>
  <cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model></cpu>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$DIR/$VM.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$DIR/$VM-seed.iso'/>
      <target dev='vdb' bus='virtio'/>
      <readonly/>
      <serial>cidata</serial>
    </disk>
    <controller type='usb' model='none'/>
    <interface type='bridge'>
      <mac address='$MAC'/>
      <source bridge='$BRIDGE'/>
      <model type='virtio'/>
    </interface>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <memballoon model='none'/>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
  </devices>
</domain>
EOF
v1 define "$DIR/$VM.xml" >/dev/null
t0=$(date +%s)
v1 start "$VM" >/dev/null
log "$VM started on kvm1 (${MEM_MIB} MiB, 1 vCPU, TCG); waiting for SSH on $IP (<= ${BOOT_TIMEOUT}s)"
deadline=$(( t0 + BOOT_TIMEOUT ))
until gssh true 2>/dev/null; do
  if [ "$(date +%s)" -ge "$deadline" ]; then die "$VM has no SSH after ${BOOT_TIMEOUT}s"; fi
  sleep 3
done
log "$VM answers SSH after $(( $(date +%s) - t0 ))s"
fi
MARK=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
gssh "echo $MARK > /root/migration-marker && sync"

# --- one move -------------------------------------------------------------------
# migrate <label> <source uri> <dest uri> <source host> <target host> [extra virsh args]
# The migration runs from this host's virsh (client-driven, not --p2p). Pings
# every 0.1 s from this host; the longest gap between two answered pings is
# the downtime seen on the network.
migrate() {
  local label=$1 src=$2 dst=$3 from=$4 to=$5; shift 5
  local plog; plog=$(mktemp)
  ping -n -D -i 0.1 -W 1 "$IP" >"$plog" 2>&1 &
  local ppid=$!
  sleep 2
  local s e
  s=$(date +%s.%N)
  if [ "$PLAYBOOK" = 1 ]; then
    (cd "$REPO" && PATH=$REPO/.venv/bin:$PATH ANSIBLE_CONFIG=$REPO/ansible.cfg timeout "$MIGRATE_TIMEOUT" \
      ansible-playbook -i inventories/lab-multi scripts/lab-migration-test.yml \
        -e smbvdc_move_vm="${VM#smbvdc-}" -e vm_role_domain_name_prefix=smbvdc- \
        -e smbvdc_move_from="$from" -e smbvdc_move_to="$to") | grep -E '^(TASK|ok|changed|fatal|failed)|PLAY RECAP|localhost ' ||
      { kill "$ppid"; die "migration $label (playbook) failed"; }
  else
    timeout "$MIGRATE_TIMEOUT" virsh -c "$src" migrate --live --copy-storage-all --persistent --undefinesource \
      --verbose "$@" "$VM" "$dst" || { kill "$ppid"; die "migration $label failed"; }
  fi
  e=$(date +%s.%N)
  sleep 3
  # (SIGINT is ignored by background jobs of a script: TERM, and count from icmp_seq)
  kill -TERM "$ppid"; wait "$ppid" 2>/dev/null || true
  local stats
  stats=$(awk '
    /bytes from/ { t=substr($1,2,length($1)-2)+0; n++; if (prev && t-prev>gap) {gap=t-prev}; prev=t
                   match($0, /icmp_seq=[0-9]+/); q=substr($0, RSTART+9, RLENGTH-9)+0
                   if (first=="") first=q; last=q }
    END { sent=last-first+1; printf "answered=%d sent=%d lost=%d max_gap_s=%.2f", n, sent, sent-n, gap }' "$plog")
  # guest downtime as libvirt measured it (completed job of the source)
  log "$label: migration_time_s=$(awk -v s="$s" -v e="$e" 'BEGIN{printf "%.1f", e-s}') ping: $stats"
  echo "$label $(awk -v s="$s" -v e="$e" 'BEGIN{printf "%.1f", e-s}') $stats" >>"$KEYDIR/results"
  rm -f "$plog"
}

log "kvm1 -> kvm2: virsh migrate --live --copy-storage-all --persistent --undefinesource $VM $K2"
migrate "kvm1->kvm2" "$K1" "$K2" kvm1 kvm2
[ "$(v2 domstate "$VM")" = running ] || die "$VM is not running on kvm2 after the move"
if v1 dominfo "$VM" >/dev/null 2>&1; then die "$VM is still defined on kvm1 (--undefinesource)"; fi
log "on kvm2: $(v2 domstate "$VM"), defined on kvm1: no; job: $(v2 domjobinfo "$VM" --completed 2>/dev/null | grep -iE 'downtime|time elapsed|data processed' | tr -s ' ' | paste -sd';' || true)"
[ "$(gssh cat /root/migration-marker)" = "$MARK" ] || die "marker file differs after the move"
log "marker file intact on kvm2; disk on kvm2: $(ssh -o BatchMode=yes "root@$KVM2_MGMT" "qemu-img info -U $DIR/$VM.qcow2 | grep -E 'disk size|backing file:' | paste -sd' '")"
gssh "echo moved-back-$MARK > /root/migration-marker2 && sync"

# Back: the source is kvm2 (client connection over SSH), the destination this
# host's libvirtd. This host's qemu.conf has no migration_host, so the
# migration stream address is given (kvm2 cannot resolve this host's name).
log "kvm2 -> kvm1: virsh -c $K2 migrate ... $VM $K1 --migrateuri tcp://$KVM1_MGMT"
migrate "kvm2->kvm1" "$K2" "$K1" kvm2 kvm1 --migrateuri "tcp://$KVM1_MGMT"
[ "$(v1 domstate "$VM")" = running ] || die "$VM is not running on kvm1 after the move back"
if v2 dominfo "$VM" >/dev/null 2>&1; then die "$VM is still defined on kvm2 (--undefinesource)"; fi
log "on kvm1: $(v1 domstate "$VM"), defined on kvm2: no; job: $(v1 domjobinfo "$VM" --completed 2>/dev/null | grep -iE 'downtime|time elapsed|data processed' | tr -s ' ' | paste -sd';' || true)"
[ "$(gssh cat /root/migration-marker2)" = "moved-back-$MARK" ] || die "second marker differs after the move back"
log "back on kvm1, both marker files intact"
log "results (label migration_time_s ping):"
sed 's/^/  /' "$KEYDIR/results"
cp "$KEYDIR/results" /var/lib/smbvdc-lab/migration-results.txt
cleanup
log "cleaned up: $VM undefined on both hosts, $DIR and pool migtest removed"
