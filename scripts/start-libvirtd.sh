#!/usr/bin/env bash
# Start virtlogd + libvirtd when qemu:///system is not answering. Uses systemd
# where systemd is PID 1 and starts the daemons directly otherwise (our build
# machines run without systemd). Idempotent: exits 0 at once when libvirt
# already answers. Usage: scripts/start-libvirtd.sh [uri] [timeout-seconds]
set -euo pipefail
URI=${1:-qemu:///system}
TIMEOUT=${2:-60}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

answers() { timeout 10 virsh -c "$URI" version >/dev/null 2>&1; }

# Without udev /dev/kvm stays 0600 root:root; libvirtd then re-probes QEMU on
# every capability lookup (about a minute per define). The kvm_host role does
# the same; see roles/kvm_host/tasks/services.yml.
if [ -c /dev/kvm ] && getent group kvm >/dev/null &&
   { [ "$(stat -c %G /dev/kvm)" != kvm ] || [ -z "$(find /dev/kvm -perm -g=rw)" ]; }; then
  $SUDO chgrp kvm /dev/kvm && $SUDO chmod 0660 /dev/kvm
  echo "start-libvirtd: /dev/kvm given to group kvm (mode 0660), as udev does"
fi

if answers; then
  echo "start-libvirtd: libvirtd answering on $URI"
  exit 0
fi

if [ "$(ps -p 1 -o comm= 2>/dev/null)" = "systemd" ]; then
  $SUDO systemctl start virtlogd.socket virtlogd.service 2>/dev/null || $SUDO systemctl start virtlogd
  $SUDO systemctl start libvirtd
else
  # Each daemon keeps a pid file under /run; -d daemonises. A daemon that is
  # already running refuses to start a second copy, which is what we want.
  pgrep -x virtlogd >/dev/null 2>&1 || $SUDO virtlogd -d
  pgrep -x libvirtd >/dev/null 2>&1 || $SUDO libvirtd -d
fi

for _ in $(seq 1 "$TIMEOUT"); do
  if answers; then
    echo "start-libvirtd: libvirtd started, answering on $URI"
    exit 0
  fi
  sleep 1
done
echo "start-libvirtd: libvirtd does not answer on $URI after ${TIMEOUT}s" \
     "(check 'libvirtd -v' and /var/log/libvirt/)" >&2
exit 1
