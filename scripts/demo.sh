#!/usr/bin/env bash
# The main job, as root on a Debian 12 machine. For now: make a quorum disk on a throw-away
# loop device with mkqdisk, list it, find it by label, dump its status blocks, and clean up.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "demo.sh: needs root (it creates a loop device): sudo $0" >&2
  exit 1
fi
bash scripts/install-test-deps.sh
source scripts/ensure-toolchain.sh
cargo build --quiet --locked --release -p tools --bin mkqdisk
mkqdisk=target/release/mkqdisk

work=$(mktemp -d /tmp/qdisk-demo.XXXXXX)
device=""
cleanup() {
  [ -n "$device" ] && losetup --detach "$device" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

truncate -s 16M "$work/shared.img"
device=$(losetup --find --show "$work/shared.img")
echo "== A throw-away shared disk: $device (a loop device over a sparse 16 MiB file)"
echo
echo "== mkqdisk -c $device -l demo-qdisk --yes"
"$mkqdisk" -c "$device" -l demo-qdisk --yes
echo
echo "== mkqdisk -L $device"
"$mkqdisk" -L "$device"
echo "== mkqdisk -f demo-qdisk -d $device   (header and every node's status block)"
"$mkqdisk" -f demo-qdisk -d "$device" | head -n 20
echo "   ..."
echo
echo "== The same disk re-made in the extended layout for 64 nodes"
"$mkqdisk" -c "$device" -l demo-big --nodes 64 --yes | tail -n 2
"$mkqdisk" -L --json "$device"
echo
echo "== Done; the loop device and its file are removed."
