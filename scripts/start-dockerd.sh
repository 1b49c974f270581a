#!/usr/bin/env bash
# Start the Docker engine when it is not answering. Uses systemd where systemd
# is PID 1, and starts dockerd directly otherwise (our build machines run
# without systemd).
set -euo pipefail
if docker info >/dev/null 2>&1; then
  echo "setup: dockerd running"
  exit 0
fi
if [ "$(ps -p 1 -o comm= 2>/dev/null)" = "systemd" ]; then
  systemctl start docker
else
  mkdir -p /var/log
  nohup dockerd >/var/log/smbvdc-dockerd.log 2>&1 &
fi
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && { echo "setup: dockerd started"; exit 0; }
  sleep 1
done
echo "setup: dockerd did not start; see /var/log/smbvdc-dockerd.log" >&2
exit 1
