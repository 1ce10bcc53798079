#!/usr/bin/env bash
# setup.sh: install the Debian/Ubuntu packages harbor-lab and its tests use.
# Idempotent: packages already present are not fetched again. Needs root.
# Usage: scripts/setup.sh [EXTRA-PACKAGE...]   (bench.sh adds the tools it measures with)
set -euo pipefail

# openssl and procps (kill) are used by the tests; time by the benchmarks; python3-venv
# holds python-tuf, the TUF peer (scripts/python-tuf.sh).
PACKAGES=(docker.io docker-registry docker-compose busybox-static curl ca-certificates time openssl procps python3-venv "$@")

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup.sh: needs root to install: ${missing[*]}" >&2
    exit 3
  fi
  echo "setup.sh: installing ${missing[*]}" >&2
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

# The rust-version Cargo.toml asks for (Debian's own cargo, 1.63 in bookworm and 1.85 in
# trixie, is older).
NEED_MINOR=$(sed -n 's/^rust-version = "1\.\([0-9]*\).*/\1/p' "$(dirname "$0")/../Cargo.toml")
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup.sh: cargo is not installed; install Rust 1.$NEED_MINOR or newer (https://rustup.rs)" >&2
  exit 3
fi
have=$(cargo --version | awk '{print $2}')
if [ "$(echo "$have" | cut -d. -f1)" = 1 ] && [ "$(echo "$have" | cut -d. -f2)" -lt "$NEED_MINOR" ]; then
  echo "setup.sh: cargo $have is too old; harbor-lab needs Rust 1.$NEED_MINOR or newer (rustup update, or https://rustup.rs)" >&2
  exit 3
fi
