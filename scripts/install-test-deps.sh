#!/usr/bin/env bash
# Installs, on a fresh Debian 12 machine as root, every Debian package the tests, the lab and
# the demo need. Safe to run again: it installs only what is missing.
set -euo pipefail

PACKAGES=(
  # Loop devices, namespaces, mounts: losetup, unshare, mkfs.ext4, ip, ping.
  util-linux
  e2fsprogs
  iproute2
  iputils-ping
  # The chaos campaign's observer: which machines answer ARP for the floating IP.
  iputils-arping
  procps
  psmisc
  kmod
  # The lab (package lab in tests/): packet loss on switch ports (nft), the FUSE fault disk
  # (fuse3: fusermount3 fallback for the pure-Rust mount), BMCs (ipmi_sim) and the
  # independent IPMI client, the switch's SNMP agent and its clients, serial PTY pairs and
  # UDP probes (socat), mount/nsenter/setsid.
  nftables
  fuse3
  openipmi
  ipmitool
  snmpd
  snmp
  socat
  mount
  coreutils
  # stonith-plugins: Debian's fence_ipmilan, fence_ifmib and fence_cisco_mds, the peers our
  # IPMI and switch agents are compared with and benchmarked against (fence-agents 4.12.1).
  # The switch agents' tests need nothing more: snmpd/snmp are above, and the Brocade
  # simulator is our own SSH server (tests/src/brocade.rs).
  fence-agents
  # xmllint: validates our agents' -o metadata against fence-agents' metadata.rng.
  libxml2-utils
  # hbd: Debian's OCF agents (ocf:heartbeat:Dummy, ocf:heartbeat:IPaddr2) run through our
  # OCF runner and compared with our native floating IP.
  resource-agents
  # hbd: Debian's heartbeat 3.0.6 (and cluster-glue's libplumb), the peer our wire layer must
  # interoperate with; cl_status reads its view of our node.
  heartbeat
  # cluster-glue: also its `stonith` CLI with the rps10, apcsmart and nw_rpc100s plugins, the
  # independent client that validates the lab's serial power-switch simulators and the peer
  # of the serial fence agents' tests and benchmark.
  cluster-glue
  # sbd (1.5.2): the peer of the poison-pill agent fence_qd_poison; its benchmark runs
  # `sbd message` against `sbd watch` in a lab node (debug mode, CAP_SYS_BOOT dropped).
  sbd
  # The HA cluster lab and the demo: the client fetches the page from the floating IP
  # (curl), the web service checks it listens (ss, in iproute2).
  curl
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "install-test-deps: installing ${missing[*]}"
# Packages such as snmpd or openipmi must not start their services while being installed:
# the lab starts its own copies inside namespaces.
policy=/usr/sbin/policy-rc.d
had_policy=0
[ -e "$policy" ] && had_policy=1
if [ "$had_policy" -eq 0 ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
