#!/usr/bin/env bash
# Runs every test of the workspace, as root on a Debian 12 machine: installs what the tests
# need first. The lab tests create loop devices and network namespaces, so root is required.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "test.sh: the tests create loop devices and namespaces: run as root (sudo $0)" >&2
  exit 1
fi
bash scripts/install-test-deps.sh
source scripts/ensure-toolchain.sh

# Leftovers from an earlier run that was killed can only get in the way.
cargo run --quiet --locked -p lab --bin lab -- sweep >/dev/null 2>&1 || true

cargo test --workspace --locked --no-fail-fast "$@"
