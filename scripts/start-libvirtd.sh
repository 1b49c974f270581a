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
