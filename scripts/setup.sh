#!/usr/bin/env bash
# setup.sh: install the Debian/Ubuntu packages harbor-lab and its tests use.
# Idempotent: packages already present are not fetched again. Needs root.
set -euo pipefail

PACKAGES=(docker.io docker-registry docker-compose busybox-static curl ca-certificates time)

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

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup.sh: cargo is not installed; install a current Rust toolchain (https://rustup.rs)" >&2
  exit 3
fi
