#!/usr/bin/env bash
# Makes sure a Rust toolchain new enough for this workspace is on PATH (sourced by the other
# scripts). Uses the one rustup installed if there is one, otherwise Debian's.
set -euo pipefail

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "ensure-toolchain: no cargo on PATH; installing Debian's"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cargo rustc
fi
# A C compiler: some crates build bundled C sources (libusb for rusb's `vendored` feature,
# so no libusb-1.0-0-dev or pkg-config is needed; bzip2). Debian's rustc pulls gcc in, a
# rustup toolchain does not. This runs before clippy in CI, so the build never lacks it.
if ! command -v cc >/dev/null 2>&1; then
  echo "ensure-toolchain: no C compiler; installing Debian's gcc"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev
fi
need="1.88"
have=$(rustc --version | awk '{print $2}')
if [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]; then
  echo "ensure-toolchain: rustc $have is older than $need, which this workspace needs." >&2
  echo "Install a newer toolchain with rustup (https://rustup.rs) and run this again." >&2
  exit 1
fi
