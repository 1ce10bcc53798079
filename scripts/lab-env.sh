# lab-env.sh: sourced by test.sh and bench.sh (from the repo's root).
# Installs the Debian packages, starts dockerd and the loopback registry, fetches
# the cosign/skopeo peers, and exports where everything is:
#   HARBOR_LAB_CACHE (default /var/cache/harbor-lab), CARGO_TARGET_DIR (in the cache),
#   HARBOR_LAB_TEST_REGISTRY, HARBOR_LAB_TEST_DAEMON_CONFIG, HARBOR_LAB_TEST_DOCKERD_PID,
#   HARBOR_LAB_COSIGN, HARBOR_LAB_SKOPEO, HARBOR_LAB_COSIGN3.
export HARBOR_LAB_CACHE="${HARBOR_LAB_CACHE:-/var/cache/harbor-lab}"
mkdir -p "$HARBOR_LAB_CACHE"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HARBOR_LAB_CACHE/target}"
scripts/setup.sh
set -a
eval "$(scripts/services.sh)"
eval "$(scripts/peers.sh)"
set +a
