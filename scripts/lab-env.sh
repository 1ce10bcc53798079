# lab-env.sh: sourced by test.sh and bench.sh (from the repo's root).
# Installs the Debian packages (and those named in HARBOR_LAB_EXTRA_PACKAGES), starts
# dockerd and the loopback registry, fetches the cosign/skopeo peers, and exports where
# everything is:
#   HARBOR_LAB_CACHE (default /var/cache/harbor-lab), CARGO_TARGET_DIR (in the cache),
#   HARBOR_LAB_TEST_REGISTRY, HARBOR_LAB_TEST_DAEMON_CONFIG, HARBOR_LAB_TEST_DOCKERD_PID,
#   HARBOR_LAB_COSIGN, HARBOR_LAB_SKOPEO, HARBOR_LAB_COSIGN3, HARBOR_LAB_PYTHON_TUF (python-tuf 7.0.1's venv).
export HARBOR_LAB_CACHE="${HARBOR_LAB_CACHE:-/var/cache/harbor-lab}"
mkdir -p "$HARBOR_LAB_CACHE"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HARBOR_LAB_CACHE/target}"
# shellcheck disable=SC2086 # one package name per word
scripts/setup.sh ${HARBOR_LAB_EXTRA_PACKAGES:-}
set -a
eval "$(scripts/services.sh)"
eval "$(scripts/peers.sh)"
eval "$(scripts/python-tuf.sh)"
set +a
