#!/usr/bin/env bash
# test.sh: set up a fresh Debian/Ubuntu machine and run the whole test suite.
#   1. install the Debian packages (docker.io, docker-registry, busybox-static, ...)
#   2. start dockerd and a loopback docker-registry when they are not running
#   3. fetch the cosign 2.5 / skopeo 1.18 peers into a cache outside the clone
#   4. cargo fmt --check, cargo clippy -D warnings (the fuzz targets too), cargo test
#      (everything)
# The cache (peers, service state, cargo's target dir) is ${HARBOR_LAB_CACHE:-/var/cache/harbor-lab}.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lab-env.sh
source scripts/lab-env.sh
echo "test.sh: registry $HARBOR_LAB_TEST_REGISTRY, cosign $HARBOR_LAB_COSIGN, skopeo $HARBOR_LAB_SKOPEO" >&2

# tests/lab.rs serves an old workdir's downloads again on the port that workdir names,
# 41330, which lies in the kernel's range for outgoing connections: reserve it, so that
# no connection of a test running beside it is given that port (until the next boot;
# best effort: the test also waits for the port).
reserved=$(cat /proc/sys/net/ipv4/ip_local_reserved_ports 2>/dev/null || true)
echo "${reserved:+$reserved,}41330" >/proc/sys/net/ipv4/ip_local_reserved_ports 2>/dev/null || true

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# The fuzz targets (fuzz/, a workspace of their own, run by hand) still build.
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
cargo clippy --manifest-path fuzz/Cargo.toml --bins -- -D warnings
cargo test --workspace "$@"
