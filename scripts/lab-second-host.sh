#!/usr/bin/env bash
# A second KVM host on this machine for the two-host lab (inventories/lab-multi):
# "kvm2", a systemd-nspawn container (Debian bookworm from the Debian mirror)
# that boots systemd and runs libvirtd + QEMU (software emulation, TCG) and
# sshd, in its own network namespace.
#
#   scripts/lab-second-host.sh up       create/start everything (idempotent)
#   scripts/lab-second-host.sh down     stop and remove everything 'up' created
#   scripts/lab-second-host.sh status   what exists now (exit 0 when kvm2 answers)
#
# What 'up' builds (names can be overridden from the environment, see below):
#
#   host (kvm1)                                  netns smbvdc-kvm2 (kvm2)
#   vk2-mgmt 10.79.0.1/30  <---- veth ---->      mgmt0 10.79.0.2/30 (SSH, libvirt, migration)
#   br-smbvdc-mlan 10.78.10.1/24                 br-smbvdc-mlan (no address)
#     + vk2-mlan           <---- veth ---->        + mlan0
#
# The two bridges carry the same name on both hosts and are one layer-2
# segment through the veth pair (on two real machines: the same switch, or a
# VXLAN between them). The lab-multi branch network is `mode: bridge` on it,
# so a VM keeps its address and MAC when it migrates. The host's bridge
# address is the VMs' gateway; the VMs and kvm2 reach the Debian mirror
# through NAT on the host (iptables chains SMBVDC_KVM2, SMBVDC_KVM2_NAT).
#
# The base images directory /var/lib/smbvdc/base is shared with kvm2 at the
# same path (bind mount): linked clones and the guest kernel need the base at
# the same path on both hosts; the image build script locks it (flock).
# Everything else of kvm2 (/var/lib/smbvdc/images, /etc/libvirt) is its own.
#
# Root on this host reaches kvm2 with the key in $STATE_DIR (ssh kvm2, and
# virsh -c qemu+ssh://kvm2/system or qemu+ssh://10.79.0.2/system) through
# /etc/ssh/ssh_config.d/smbvdc-kvm2.conf, which 'down' removes again.
# Memory: kvm2 itself needs ~150 MiB (systemd, sshd, libvirtd); its VMs count
# against the budget of kvm2 in the inventory, and all of it is this
# machine's RAM (see docs/multi-host.md).
set -euo pipefail

NAME=${SMBVDC_KVM2_NAME:-smbvdc-kvm2}
HOSTNAME_CT=${SMBVDC_KVM2_HOSTNAME:-kvm2}
ROOT=${SMBVDC_KVM2_ROOT:-/var/lib/machines/$NAME}
STATE_DIR=${SMBVDC_KVM2_STATE:-/var/lib/smbvdc-lab/kvm2}
NETNS=$NAME
SUITE=${SMBVDC_KVM2_SUITE:-bookworm}
MIRROR=${SMBVDC_KVM2_MIRROR:-http://deb.debian.org/debian}
MGMT_HOST_IF=vk2-mgmt
MGMT_CT_IF=mgmt0
MGMT_HOST_IP=${SMBVDC_KVM2_MGMT_HOST_IP:-10.79.0.1}
MGMT_CT_IP=${SMBVDC_KVM2_MGMT_IP:-10.79.0.2}
MGMT_NET=${SMBVDC_KVM2_MGMT_NET:-10.79.0.0/30}
LAN_BR=${SMBVDC_KVM2_LAN_BRIDGE:-br-smbvdc-mlan}
LAN_HOST_IF=vk2-mlan
LAN_CT_IF=mlan0
LAN_NET=${SMBVDC_KVM2_LAN_NET:-10.78.10.0/24}
LAN_HOST_ADDR=${SMBVDC_KVM2_LAN_ADDR:-10.78.10.1/24}
LAN_HOST_ADDR6=${SMBVDC_KVM2_LAN_ADDR6:-fd00:78:10::1/64}
SHARED_BASE=${SMBVDC_KVM2_SHARED_BASE:-/var/lib/smbvdc/base}
DNS_PIDFILE=$STATE_DIR/dnsmasq.pid
FW_CHAIN=SMBVDC_KVM2
NAT_CHAIN=SMBVDC_KVM2_NAT
SSH_DROPIN=/etc/ssh/ssh_config.d/smbvdc-kvm2.conf
KEY=$STATE_DIR/id_ed25519
PIDFILE=$STATE_DIR/nspawn.pid
LOG=$STATE_DIR/nspawn.log
READY=$ROOT/.smbvdc-kvm2-ready
PACKAGES=systemd,systemd-sysv,dbus,libpam-systemd,libvirt-daemon-system,libvirt-daemon-driver-qemu,libvirt-clients,qemu-system-x86,qemu-utils,openssh-server,python3,python3-libvirt,python3-lxml,iproute2,iputils-ping,procps,ca-certificates,netcat-openbsd,genisoimage,dnsmasq-base,iptables,less
BOOT_TIMEOUT=${SMBVDC_KVM2_BOOT_TIMEOUT:-120}

log() { echo "lab-second-host: $*"; }
die() { echo "lab-second-host: ERROR: $*" >&2; exit 1; }
ns() { ip netns exec "$NETNS" "$@"; }
link_exists() { ip link show dev "$1" >/dev/null 2>&1; }
ns_link_exists() { ip -n "$NETNS" link show dev "$1" >/dev/null 2>&1; }
ssh_kvm2() {
  timeout 20 ssh -i "$KEY" -o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=accept-new \
    -o UserKnownHostsFile="$STATE_DIR/known_hosts" "root@$MGMT_CT_IP" "$@"
}
nspawn_pid() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -d "/proc/$pid" ] && grep -q systemd-nspawn "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

need_root() { [ "$(id -u)" -eq 0 ] || die "run as root"; }

ensure_tools() {
  local missing=()
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v systemd-nspawn >/dev/null || missing+=(systemd-container)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v ssh >/dev/null || missing+=(openssh-client)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  fi
}

ensure_key() {
  mkdir -p "$STATE_DIR"; chmod 0700 "$STATE_DIR"
  [ -f "$KEY" ] || { ssh-keygen -q -t ed25519 -N '' -C "root@kvm1 (smbvdc lab)" -f "$KEY"; log "SSH key $KEY created"; }
}

# --- root file system ---------------------------------------------------------
ensure_rootfs() {
  if [ -f "$READY" ]; then return 0; fi
  local tmp=$ROOT.tmp
  rm -rf "$tmp"
  mkdir -p "$(dirname "$ROOT")"
  log "debootstrap $SUITE from $MIRROR into $ROOT (a few minutes)"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$tmp" "$MIRROR" >"$STATE_DIR/debootstrap.log" 2>&1 ||
    die "debootstrap failed, see $STATE_DIR/debootstrap.log"
  rm -rf "$ROOT"
  mv -T "$tmp" "$ROOT"
  touch "$READY"
}

# Files written on every 'up' (same content: no change).
configure_rootfs() {
  echo "$HOSTNAME_CT" >"$ROOT/etc/hostname"
  cat >"$ROOT/etc/hosts" <<EOF
127.0.0.1 localhost
$MGMT_CT_IP $HOSTNAME_CT
$MGMT_HOST_IP kvm1
EOF
  : >"$ROOT/etc/machine-id"
  install -d -m 0700 "$ROOT/root/.ssh"
  install -m 0600 "$KEY.pub" "$ROOT/root/.ssh/authorized_keys"
  install -d "$ROOT/etc/ssh/sshd_config.d"
  cat >"$ROOT/etc/ssh/sshd_config.d/smbvdc.conf" <<EOF
# smbvdc lab: key-only root login on the management address
ListenAddress $MGMT_CT_IP
PermitRootLogin prohibit-password
PasswordAuthentication no
UseDNS no
EOF
  # qemu.conf settings for a container: no per-VM mount namespaces, no
  # cgroup controllers (the container's cgroup v1 hierarchies are read-only),
  # no AppArmor; the migration stream goes to the management address.
  local qc=$ROOT/etc/libvirt/qemu.conf
  sed -i '/^# BEGIN smbvdc-kvm2/,/^# END smbvdc-kvm2/d' "$qc"
  cat >>"$qc" <<EOF
# BEGIN smbvdc-kvm2 (scripts/lab-second-host.sh)
namespaces = [ ]
cgroup_controllers = [ ]
security_driver = "none"
migration_host = "$MGMT_CT_IP"
# END smbvdc-kvm2
EOF
  # libvirt's "default" NAT network is not wanted on kvm2
  rm -f "$ROOT/etc/libvirt/qemu/networks/autostart/default.xml"
  install -d "$ROOT/var/lib/smbvdc/images" "$ROOT$SHARED_BASE"
  # Units that have nothing to do in this container
  local u
  for u in systemd-networkd.service systemd-resolved.service systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer; do
    ln -sf /dev/null "$ROOT/etc/systemd/system/$u"
  done
}

# --- network -------------------------------------------------------------------
ensure_network() {
  [ -e "/run/netns/$NETNS" ] || ip netns add "$NETNS"
  ns ip link set lo up
  # management veth
  if ! link_exists "$MGMT_HOST_IF"; then
    ip link add "$MGMT_HOST_IF" type veth peer name "$MGMT_CT_IF" netns "$NETNS"
  fi
  ip addr replace "$MGMT_HOST_IP/${MGMT_NET#*/}" dev "$MGMT_HOST_IF"
  ip link set "$MGMT_HOST_IF" up
  ip -n "$NETNS" addr replace "$MGMT_CT_IP/${MGMT_NET#*/}" dev "$MGMT_CT_IF"
  ip -n "$NETNS" link set "$MGMT_CT_IF" up
  ip -n "$NETNS" route replace default via "$MGMT_HOST_IP"
  # the shared VM LAN: one bridge per host, same name, joined by a veth pair
  if ! link_exists "$LAN_BR"; then
    ip link add "$LAN_BR" type bridge stp_state 0 forward_delay 0
  fi
  ip addr replace "$LAN_HOST_ADDR" dev "$LAN_BR"
  ip addr replace "$LAN_HOST_ADDR6" dev "$LAN_BR" nodad 2>/dev/null || true
  ip link set "$LAN_BR" up
  if ! ns_link_exists "$LAN_BR"; then
    ip -n "$NETNS" link add "$LAN_BR" type bridge stp_state 0 forward_delay 0
  fi
  ip -n "$NETNS" link set "$LAN_BR" up
  if ! link_exists "$LAN_HOST_IF"; then
    ip link add "$LAN_HOST_IF" type veth peer name "$LAN_CT_IF" netns "$NETNS"
  fi
  ip link set "$LAN_HOST_IF" master "$LAN_BR" up
  ip -n "$NETNS" link set "$LAN_CT_IF" master "$LAN_BR" up
  ensure_firewall
  ensure_dns
}

# A DNS forwarder on the LAN gateway address, as libvirt's NAT networks have
# one: the VMs' seeds name their gateway as name server (vmconfig), and a
# bridge-mode network has no libvirt dnsmasq. No DHCP (static addresses).
ensure_dns() {
  local pid
  pid=$(cat "$DNS_PIDFILE" 2>/dev/null) || true
  if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then return 0; fi
  command -v dnsmasq >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dnsmasq-base
  dnsmasq --conf-file=/dev/null --pid-file="$DNS_PIDFILE" --bind-interfaces \
    --listen-address="${LAN_HOST_ADDR%/*}" --except-interface=lo --no-dhcp-interface="$LAN_BR" \
    --cache-size=1000 --no-hosts
}

# FORWARD accepts kvm2's management traffic and the LAN (bridged frames pass
# iptables here: bridge-nf-call-iptables=1, FORWARD policy DROP); NAT to the
# outside for both subnets. Own chains, one jump each, so 'down' removes
# exactly what 'up' added.
ensure_firewall() {
  iptables -N "$FW_CHAIN" 2>/dev/null || true
  iptables -F "$FW_CHAIN"
  iptables -A "$FW_CHAIN" -i "$MGMT_HOST_IF" -j ACCEPT
  iptables -A "$FW_CHAIN" -o "$MGMT_HOST_IF" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
  iptables -A "$FW_CHAIN" -i "$LAN_BR" -j ACCEPT
  iptables -A "$FW_CHAIN" -o "$LAN_BR" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
  iptables -A "$FW_CHAIN" -i "$LAN_BR" -o "$LAN_BR" -j ACCEPT
  iptables -C FORWARD -j "$FW_CHAIN" 2>/dev/null || iptables -I FORWARD 1 -j "$FW_CHAIN"
  iptables -t nat -N "$NAT_CHAIN" 2>/dev/null || true
  iptables -t nat -F "$NAT_CHAIN"
  iptables -t nat -A "$NAT_CHAIN" -s "$MGMT_NET" ! -d "$MGMT_NET" -j MASQUERADE
  iptables -t nat -A "$NAT_CHAIN" -s "$LAN_NET" ! -d "$LAN_NET" -j MASQUERADE
  iptables -t nat -C POSTROUTING -j "$NAT_CHAIN" 2>/dev/null || iptables -t nat -I POSTROUTING 1 -j "$NAT_CHAIN"
  [ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || sysctl -qw net.ipv4.ip_forward=1
}

# --- container -----------------------------------------------------------------
start_container() {
  if nspawn_pid >/dev/null; then return 0; fi
  [ -c /dev/net/tun ] || die "/dev/net/tun is missing on this host (modprobe tun)"
  log "starting $NAME (systemd-nspawn --boot)"
  # --register=no: this host has no systemd/machined. /dev/net/tun and
  # CAP_NET_ADMIN (in kvm2's own netns only) for the
  # VMs' tap devices; no /dev/kvm (QEMU emulates: libvirt domain type 'qemu').
  setsid systemd-nspawn --quiet --boot --register=no --keep-unit \
    --directory="$ROOT" --machine="$NAME" --hostname="$HOSTNAME_CT" \
    --network-namespace-path="/run/netns/$NETNS" \
    --resolv-conf=copy-host --timezone=off --console=passive \
    --bind=/dev/net/tun --bind="$SHARED_BASE" --capability=CAP_NET_ADMIN \
    --kill-signal=SIGRTMIN+3 \
    >"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
}

wait_ready() {
  local i
  for i in $(seq 1 "$BOOT_TIMEOUT"); do
    if ssh_kvm2 true 2>/dev/null; then break; fi
    nspawn_pid >/dev/null || die "the container stopped; see $LOG"
    sleep 1
    [ "$i" -lt "$BOOT_TIMEOUT" ] || die "kvm2 has no SSH after ${BOOT_TIMEOUT}s; see $LOG"
  done
  for i in $(seq 1 60); do
    if ssh_kvm2 virsh -c qemu:///system version >/dev/null 2>&1; then
      log "kvm2 answers: ssh root@$MGMT_CT_IP, virsh -c qemu+ssh://$HOSTNAME_CT/system"
      return 0
    fi
    sleep 1
  done
  die "libvirtd on kvm2 does not answer; ssh kvm2 journalctl -u libvirtd"
}

write_ssh_dropin() {
  cat >"$SSH_DROPIN" <<EOF
# scripts/lab-second-host.sh: root@kvm1 -> kvm2 (removed by 'down')
Host $HOSTNAME_CT $NAME $MGMT_CT_IP
  HostName $MGMT_CT_IP
  User root
  IdentityFile $KEY
  IdentitiesOnly yes
  UserKnownHostsFile $STATE_DIR/known_hosts
  StrictHostKeyChecking accept-new
EOF
  chmod 0644 "$SSH_DROPIN"
}

cmd_up() {
  need_root
  ensure_tools
  ensure_key
  ensure_rootfs
  configure_rootfs
  ensure_network
  write_ssh_dropin
  start_container
  wait_ready
}

cmd_down() {
  need_root
  local pid i
  if pid=$(nspawn_pid); then
    # Guests on kvm2 die with it: say so (their definitions stay in the rootfs until it is removed)
    log "stopping $NAME (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 30); do [ -d "/proc/$pid" ] || break; sleep 1; done
    if [ -d "/proc/$pid" ]; then log "no clean stop after 30 s, killing"; kill -KILL "$pid" 2>/dev/null || true; sleep 1; fi
  fi
  rm -f "$PIDFILE"
  local dpid
  dpid=$(cat "$DNS_PIDFILE" 2>/dev/null) || true
  if [ -n "$dpid" ] && grep -q dnsmasq "/proc/$dpid/cmdline" 2>/dev/null; then kill "$dpid"; fi
  rm -f "$DNS_PIDFILE"
  iptables -D FORWARD -j "$FW_CHAIN" 2>/dev/null || true
  iptables -F "$FW_CHAIN" 2>/dev/null || true
  iptables -X "$FW_CHAIN" 2>/dev/null || true
  iptables -t nat -D POSTROUTING -j "$NAT_CHAIN" 2>/dev/null || true
  iptables -t nat -F "$NAT_CHAIN" 2>/dev/null || true
  iptables -t nat -X "$NAT_CHAIN" 2>/dev/null || true
  link_exists "$MGMT_HOST_IF" && ip link del "$MGMT_HOST_IF"
  link_exists "$LAN_HOST_IF" && ip link del "$LAN_HOST_IF"
  link_exists "$LAN_BR" && ip link del "$LAN_BR"
  [ -e "/run/netns/$NETNS" ] && ip netns del "$NETNS"
  rm -f "$SSH_DROPIN"
  if [ "${KEEP_ROOTFS:-0}" = 1 ]; then
    log "kept $ROOT (KEEP_ROOTFS=1)"
  else
    # the shared base is a bind mount only while the container runs; make sure
    # nothing is mounted below the rootfs before removing it
    if grep -q " $ROOT/" /proc/mounts; then die "something is still mounted below $ROOT; not removing it"; fi
    rm -rf "$ROOT" "$ROOT.tmp"
    rm -rf "$STATE_DIR"
    rmdir "$(dirname "$STATE_DIR")" 2>/dev/null || true  # only when empty
  fi
  log "down: container, netns, bridges, veths, iptables chains and SSH config removed"
}

cmd_status() {
  local rc=0 pid
  echo "rootfs:    $( [ -f "$READY" ] && echo "$ROOT" || echo absent)"
  if pid=$(nspawn_pid); then echo "container: running (nspawn pid $pid)"; else echo "container: stopped"; rc=1; fi
  echo "netns:     $( [ -e "/run/netns/$NETNS" ] && echo "$NETNS" || echo absent)"
  echo "bridge:    $(ip -br addr show dev "$LAN_BR" 2>/dev/null || echo "$LAN_BR absent")"
  echo "dns:       $(p=$(cat "$DNS_PIDFILE" 2>/dev/null) && [ -d "/proc/$p" ] && echo "dnsmasq on ${LAN_HOST_ADDR%/*} (pid $p)" || echo none)"
  echo "veths:     $(for l in "$MGMT_HOST_IF" "$LAN_HOST_IF"; do link_exists "$l" && printf '%s ' "$l"; done)"
  echo "iptables:  $(iptables -S "$FW_CHAIN" 2>/dev/null | grep -c '^-A') forward rule(s), $(iptables -t nat -S "$NAT_CHAIN" 2>/dev/null | grep -c '^-A') nat rule(s)"
  if [ $rc -eq 0 ] && [ -f "$KEY" ] && ssh_kvm2 virsh -c qemu:///system list --all 2>/dev/null | sed 's/^/kvm2: /'; then
    echo "libvirt:   answering on qemu+ssh://$HOSTNAME_CT/system"
  else
    echo "libvirt:   not answering"; rc=1
  fi
  return $rc
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
