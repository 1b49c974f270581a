#!/usr/bin/env bash
# Build the local systemd base image that every molecule scenario runs on.
#
# No container registry is reachable on our build machines, so the image is
# made from Debian packages: mmdebstrap (or debootstrap) bookworm into a
# rootfs, then `docker import` with the metadata a systemd PID 1 needs.
#
# The Debian mirror is taken from this machine's own apt sources
# (/etc/apt/sources.list.d/*.sources, /etc/apt/sources.list); override with
# SMBVDC_DEBIAN_MIRROR / SMBVDC_DEBIAN_SECURITY_MIRROR.
#
# Idempotent: the image carries the label `org.smbvdc.recipe` = sha256 of this
# script and roles/kvm_host/files/smbvdc-apt-mirror (which detects the
# mirrors); when an image with the same recipe exists, nothing is done. Edit
# the script (packages, masked units, ...) and the next run rebuilds.
#
# Usage: scripts/build-base-image.sh [--force]
#   SMBVDC_BASE_IMAGE   image name (default smbvdc/debian12-systemd:latest)
#   SMBVDC_BOOTSTRAP    mmdebstrap (default when installed) or debootstrap
set -euo pipefail

IMAGE=${SMBVDC_BASE_IMAGE:-smbvdc/debian12-systemd:latest}
SUITE=bookworm
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

# Packages on top of the essential set. python3 + python3-apt for Ansible's
# apt module, sudo for become tests, dbus so systemctl/hostnamectl/timedatectl
# talk to PID 1, iproute2/procps for probes, netbase for /etc/services.
PACKAGES=(systemd systemd-sysv dbus python3 python3-apt sudo iproute2 procps
          ca-certificates netbase)

# Units that cannot work in a container (no consoles, no udev, no kernel
# module loading, read-only /sys) and would only leave `systemctl
# is-system-running` degraded.
MASK_UNITS=(getty.target console-getty.service serial-getty@.service getty@.service
            systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket
            systemd-udev-trigger.service systemd-udev-settle.service
            systemd-modules-load.service systemd-remount-fs.service
            systemd-firstboot.service systemd-hwdb-update.service
            sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount
            sys-fs-fuse-connections.mount dev-hugepages.mount dev-mqueue.mount
            proc-sys-fs-binfmt_misc.automount systemd-binfmt.service
            apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service
            fstrim.timer)

log() { printf 'build-base-image: %s\n' "$*"; }
die() { printf 'build-base-image: ERROR: %s\n' "$*" >&2; exit 1; }

start=$(date +%s.%N)
elapsed() { awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

SCRIPT_PATH=$(readlink -f "$0")
# The apt mirror detection, shared with the kvm_host role's image builder.
APT_MIRROR=$(dirname "$SCRIPT_PATH")/../roles/kvm_host/files/smbvdc-apt-mirror
[ -f "$APT_MIRROR" ] || die "$APT_MIRROR is missing"
RECIPE=$(cat "$SCRIPT_PATH" "$APT_MIRROR" | sha256sum | cut -d' ' -f1)
LABEL=org.smbvdc.recipe

command -v docker >/dev/null || die "docker is not installed (apt-get install docker.io)"
docker info >/dev/null 2>&1 || die "dockerd is not answering (run scripts/start-dockerd.sh)"

# Scenarios may run in parallel and each calls this script: one build at a time.
LOCK=/tmp/smbvdc-base-image.$(printf '%s' "$IMAGE" | tr -c 'A-Za-z0-9._-' '_').lock
exec 9>"$LOCK"
if ! flock -n 9; then
  log "waiting for another build of $IMAGE"
  flock 9
fi

have=$(docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$IMAGE" 2>/dev/null || true)
if [ "$FORCE" -eq 0 ] && [ "$have" = "$RECIPE" ]; then
  log "$IMAGE is up to date (recipe ${RECIPE:0:12}), skipped in $(elapsed)s"
  exit 0
fi
[ -n "$have" ] && log "$IMAGE has recipe ${have:0:12}, want ${RECIPE:0:12}: rebuilding"

# --- mirrors from the machine's own apt sources ----------------------------
# smbvdc-apt-mirror (in the kvm_host role, which ships it to KVM hosts)
# detects the mirrors.
MIRROR=${SMBVDC_DEBIAN_MIRROR:-}
SECURITY=${SMBVDC_DEBIAN_SECURITY_MIRROR:-}
if [ -z "$MIRROR" ] || [ -z "$SECURITY" ]; then
  [ -n "$MIRROR" ] || MIRROR=$(sh "$APT_MIRROR" "$SUITE")
  [ -n "$SECURITY" ] || SECURITY=$(sh "$APT_MIRROR" "$SUITE-security")
fi
[ -n "$MIRROR" ] || die "no '$SUITE' deb source in /etc/apt/sources.list{,.d}; set SMBVDC_DEBIAN_MIRROR=http://<mirror>/debian"
MIRROR=${MIRROR%/}
SECURITY=${SECURITY%/}
log "mirror $MIRROR${SECURITY:+, security $SECURITY}"

SOURCES_LIST="deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main"
[ -n "$SECURITY" ] && SOURCES_LIST="$SOURCES_LIST
deb $SECURITY $SUITE-security main"

# --- rootfs -----------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap/mmdebstrap need it here)"
WORK=$(mktemp -d /tmp/smbvdc-base-image.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ROOTFS=$WORK/rootfs
mkdir -p "$ROOTFS"

BOOTSTRAP=${SMBVDC_BOOTSTRAP:-$(command -v mmdebstrap >/dev/null && echo mmdebstrap || echo debootstrap)}
if [ "$BOOTSTRAP" = mmdebstrap ] && command -v mmdebstrap >/dev/null; then
  log "mmdebstrap $SUITE (${PACKAGES[*]})"
  mmdebstrap --quiet --mode=root --variant=apt --format=directory \
    --include="$(IFS=,; echo "${PACKAGES[*]}")" \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    "$SUITE" "$ROOTFS" - <<<"$SOURCES_LIST"
elif [ "$BOOTSTRAP" = debootstrap ] && command -v debootstrap >/dev/null; then
  log "debootstrap $SUITE (${PACKAGES[*]})"
  debootstrap --variant=minbase --include="$(IFS=,; echo "${PACKAGES[*]}")" \
    "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
  printf '%s\n' "$SOURCES_LIST" >"$ROOTFS/etc/apt/sources.list"
else
  die "$BOOTSTRAP is not installed (apt-get install mmdebstrap debootstrap)"
fi

# --- container tweaks --------------------------------------------------------
for unit in "${MASK_UNITS[@]}"; do
  ln -sf /dev/null "$ROOTFS/etc/systemd/system/$unit"
done
# An empty machine-id makes systemd generate a fresh one per container.
: >"$ROOTFS/etc/machine-id"
rm -f "$ROOTFS/var/lib/dbus/machine-id"
# Apt inside the image: keep it small, no recommends unless asked.
cat >"$ROOTFS/etc/apt/apt.conf.d/90smbvdc-container" <<'EOF'
// smbvdc base image: containers are rebuilt, not upgraded in place
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF
# Keep dpkg's path excludes for packages installed later (debootstrap path too).
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/90smbvdc-nodoc" <<'EOF'
path-exclude=/usr/share/man/*
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/locale/*
path-exclude=/usr/share/info/*
EOF
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin \
       "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/log/*.log \
       "$ROOTFS"/tmp/* "$ROOTFS"/var/tmp/*
# The index is gone: date the lists directory to the epoch so that apt clients
# judging freshness by its mtime (Ansible's cache_valid_time) update first.
touch -d @0 "$ROOTFS/var/lib/apt/lists"
rm -f "$ROOTFS/usr/sbin/policy-rc.d"
# Docker bind-mounts these; leave empty placeholders.
: >"$ROOTFS/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOTFS/etc/hosts"

# --- import -----------------------------------------------------------------
# `docker import --change` (engine 20.10) knows CMD/ENV/LABEL but not
# STOPSIGNAL, so a one-line classic build on top adds it. No registry needed.
STAGE="${IMAGE%:*}:import-$$"
log "docker import -> $IMAGE"
tar -C "$ROOTFS" --numeric-owner --xattrs -c . | docker import \
  --change 'ENV container=docker' \
  --change 'CMD ["/lib/systemd/systemd"]' \
  --message "smbvdc base image ($SUITE, recipe ${RECIPE:0:12})" \
  - "$STAGE" >/dev/null
printf '%s\n' "FROM $STAGE" 'STOPSIGNAL SIGRTMIN+3' \
  "LABEL $LABEL=$RECIPE org.smbvdc.suite=$SUITE" \
  | DOCKER_BUILDKIT=0 docker build --quiet --tag "$IMAGE" - >/dev/null 2>"$WORK/build.log" \
  || { cat "$WORK/build.log" >&2; die "docker build (STOPSIGNAL/LABEL layer) failed"; }
docker image rm "$STAGE" >/dev/null
docker image prune --force --filter "label=org.smbvdc.suite" --filter dangling=true >/dev/null 2>&1 || true

size=$(docker image inspect -f '{{ .Size }}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }')
log "built $IMAGE ($size, recipe ${RECIPE:0:12}) in $(elapsed)s"
