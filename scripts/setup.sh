#!/usr/bin/env bash
# One-command, idempotent setup of a Debian 12 build/controller machine.
#   - Debian packages (only the missing ones are installed); graphviz's dot draws
#     the branch report's topology, chromium renders the report in its test
#   - .venv from requirements.txt (rebuilt only when requirements.txt changes)
#   - collections/ansible_collections/smbvdc/datacenter -> this checkout
#   - dockerd started when it is not running (no systemd on our build machines)
#   - the local systemd base image for molecule, built from Debian packages
#     when it is absent (no container registry is reachable here)
# Usage: scripts/setup.sh [--no-docker]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WITH_DOCKER=1
[ "${1:-}" = "--no-docker" ] && WITH_DOCKER=0

log() { printf 'setup: %s\n' "$*"; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# --- Debian packages -------------------------------------------------------
PKGS=(python3 python3-venv python3-dev gcc pkg-config libvirt-dev git make rsync
      docker.io debootstrap mmdebstrap qemu-system-x86 qemu-utils
      libvirt-daemon-system libvirt-clients genisoimage iproute2 nftables
      ca-certificates bind9-utils
      graphviz chromium)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages present"
fi

# --- Python virtualenv -----------------------------------------------------
PY=${PYTHON:-python3}
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "creating .venv from requirements.txt"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip wheel
  .venv/bin/pip install -q -r requirements.txt
  echo "$want" > "$stamp"
else
  log ".venv up to date"
fi

# --- the checkout as collection smbvdc.datacenter --------------------------
mkdir -p collections/ansible_collections/smbvdc
link=collections/ansible_collections/smbvdc/datacenter
if [ "$(readlink "$link" 2>/dev/null)" != "$ROOT" ]; then
  rm -rf "$link"
  ln -s "$ROOT" "$link"
  log "linked $link -> $ROOT"
fi

[ "$WITH_DOCKER" -eq 1 ] || exit 0

# --- docker engine ---------------------------------------------------------
scripts/start-dockerd.sh

# --- molecule base image ---------------------------------------------------
scripts/build-base-image.sh
log "done"
