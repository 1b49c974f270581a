#!/usr/bin/env bash
# `make lab`: site.yml on the lab inventory. When none of the branch's VMs was
# defined before (a first build from nothing) and the run succeeds, its wall
# time is recorded in build/lab/first-build.json, the baseline bench/rerun.py
# compares a no-change run with. Usage: scripts/lab-up.sh <inventory> [ansible-playbook args]
set -euo pipefail
INV=${1:?usage: scripts/lab-up.sh <inventory> [args]}
shift
cd "$(dirname "$0")/.."
branch=$(ansible-inventory -i "$INV" --list 2>/dev/null |
  python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(sorted(set(d.get("_meta",{}).get("hostvars",{})))))')
defined=$(virsh -c qemu:///system list --all --name 2>/dev/null || true)
first=1
for h in $branch; do
  if grep -qx "$h" <<<"$defined"; then first=0; break; fi
done
start=$(date +%s)
ansible-playbook -i "$INV" playbooks/site.yml "$@"
end=$(date +%s)
if [ "$first" = 1 ]; then
  mkdir -p build/lab
  printf '{"seconds": %d, "inventory": "%s", "finished": "%s"}\n' "$((end - start))" "$INV" "$(date -u +%FT%TZ)" \
    > build/lab/first-build.json
  echo "lab-up: first build of $INV took $((end - start)) s (build/lab/first-build.json)"
fi
