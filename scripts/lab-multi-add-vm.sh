#!/usr/bin/env bash
# Adding a VM moves no running VM (issue: placement that never moves a
# running VM by surprise), on the real two-host lab (make lab-multi first):
#   1. record every VM's host, domain UUID, disk file (inode) and address;
#   2. converge the VM layer (playbooks/vms.yml) on a copy of the inventory
#      that adds one VM, "aaa1" (it sorts first, so an address plan from the
#      inventory alone would shift every other VM's address);
#   3. record again: hosts, UUIDs, disk inodes and addresses must be equal,
#      and aaa1 defined on exactly one host with an address of its own;
#   4. remove aaa1 again (vm_state: undefined on the same copy, then its disk).
# Prints one line per check and `lab-multi-add-vm: N passed, N failed` last.
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
INV=${LAB_MULTI_INVENTORY:-$REPO/inventories/lab-multi}
PREFIX=${LAB_MULTI_PREFIX:-lm-}
NEW=${LAB_MULTI_NEW_VM:-aaa1}
K1=qemu:///system
K2=qemu+ssh://10.79.0.2/system
PASSED=0
FAILED=0
check() {
  if [ "$2" = 0 ]; then PASSED=$((PASSED + 1)); echo "PASS $1${3:+ ($3)}"
  else FAILED=$((FAILED + 1)); echo "FAIL $1${3:+ ($3)}"; fi
}

snapshot() {  # one line per VM: name host uuid disk-inode ipv4 seed-sha256
  local host uri name
  for host in kvm1 kvm2; do
    uri=$K1; [ $host = kvm2 ] && uri=$K2
    for name in $(timeout 60 virsh -q -c $uri list --all --name | grep "^$PREFIX"); do
      local xml uuid disk inode ip seed sum
      xml=$(timeout 60 virsh -c $uri dumpxml "$name")
      uuid=$(sed -n 's:.*<uuid>\(.*\)</uuid>.*:\1:p' <<<"$xml" | head -1)
      disk=$(grep -o "<source file='[^']*\.qcow2'" <<<"$xml" | head -1 | cut -d"'" -f2)
      # the seed disk too: a VM's network-config rewritten with another
      # address takes effect at its next boot (found by this test)
      seed=$(grep -o "<source file='[^']*-seed\.iso'" <<<"$xml" | head -1 | cut -d"'" -f2)
      if [ $host = kvm1 ]; then inode=$(stat -c %i "$disk"); sum=$(sha256sum "$seed" | cut -c1-16)
      else inode=$(ssh 10.79.0.2 stat -c %i "$disk"); sum=$(ssh 10.79.0.2 sha256sum "$seed" | cut -c1-16); fi
      ip=$(sed -n 's:.*<smbvdc\:ipv4>\(.*\)</smbvdc\:ipv4>.*:\1:p' <<<"$xml")
      echo "${name#"$PREFIX"} $host $uuid $inode $ip $sum"
    done
  done | sort
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -a "$INV" "$work/inv"
# the copy keeps the lab's secrets and SSH key (same VMs), and one VM more
python3 - "$work/inv/hosts.yml" "$NEW" <<'EOF'
import sys, yaml
path, new = sys.argv[1], sys.argv[2]
data = yaml.safe_load(open(path))
data["all"]["children"]["vms"].setdefault("hosts", {})[new] = {"vm_memory_mb": 256, "vm_disk_gb": 3}
yaml.safe_dump(data, open(path, "w"), sort_keys=False)
EOF

before=$(snapshot)
echo "before:"; sed 's/^/  /' <<<"$before"
start=$SECONDS
(cd "$REPO" && ansible-playbook -i "$work/inv" playbooks/vms.yml) >"$work/add.log" 2>&1
rc=$?
tail -8 "$work/add.log" | sed 's/^/  /'
check "vms.yml with $NEW added" $rc "$((SECONDS - start)) s"
after=$(snapshot)
echo "after:"; sed 's/^/  /' <<<"$after"
kept=$(grep -v "^$NEW " <<<"$after")
[ "$kept" = "$before" ]
check "no existing VM moved, was redefined with another UUID, got a new disk, a new address or a new seed" $? \
  "$(wc -l <<<"$before") VMs compared"
n=$(grep -c "^$NEW " <<<"$after")
[ "$n" = 1 ]; check "$NEW defined on exactly one host" $? "$(grep "^$NEW " <<<"$after" | cut -d' ' -f2,5)"
newip=$(grep "^$NEW " <<<"$after" | cut -d' ' -f5)
! cut -d' ' -f5 <<<"$before" | grep -qx "$newip"
check "$NEW got an address of its own" $? "$newip"

# remove the test VM again
python3 - "$work/inv/hosts.yml" "$NEW" <<'EOF'
import sys, yaml
path, new = sys.argv[1], sys.argv[2]
data = yaml.safe_load(open(path))
data["all"]["children"]["vms"]["hosts"][new]["vm_state"] = "undefined"
yaml.safe_dump(data, open(path, "w"), sort_keys=False)
EOF
(cd "$REPO" && ansible-playbook -i "$work/inv" playbooks/vms.yml) >"$work/remove.log" 2>&1
check "$NEW removed again (vm_state: undefined)" $? "$(grep -c "^$NEW " <<<"$(snapshot)") left"
for host in kvm1 kvm2; do
  f=/var/lib/smbvdc/images/$PREFIX$NEW.qcow2
  if [ $host = kvm1 ]; then rm -f "$f" "${f%.qcow2}-seed.iso"; else ssh 10.79.0.2 rm -f "$f" "${f%.qcow2}-seed.iso"; fi
done
[ "$(snapshot)" = "$before" ]; check "the branch is as before" $?

echo "lab-multi-add-vm: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
