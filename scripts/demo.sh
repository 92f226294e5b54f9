#!/usr/bin/env bash
# The main job, as root on a Debian 12 machine: the heartbeat tutorial's two-node web
# cluster (web1, web2, a floating IP and a web service, a quorum disk, IPMI BMCs) built in
# network namespaces on this machine with hbd, fenced and qdiskd; web1 crashes, is fenced
# through its BMC, web2 takes over, web1 comes back and takes the service back. Prints the
# configuration, the status and a timeline of every step; removes everything it made.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "demo.sh: needs root (network namespaces, loop devices, cgroups): sudo $0" >&2
  exit 1
fi
bash scripts/install-test-deps.sh
source scripts/ensure-toolchain.sh
echo "== Building (release)"
cargo build --quiet --locked --release -p hbd -p fenced -p qdisk -p tools -p lab --bins
bins=target/release
# Whatever an interrupted run left behind goes, before and after.
"$bins/lab" sweep >/dev/null 2>&1 || true
trap '"$bins/lab" sweep >/dev/null 2>&1 || true' EXIT
"$bins/lab" demo --bins "$bins"
