#!/usr/bin/env bash
# tuf-conformance.sh SUITE_DIR [pytest args]: run the TUF client conformance suite
# (github.com/theupdateframework/tuf-conformance, checked out in SUITE_DIR) against
# harbor-lab's TUF client. Needs Debian's faketime; the suite's exact Python pins
# go into a virtual environment under ${HARBOR_LAB_CACHE:-/var/cache/harbor-lab}
# (made once). Takes about 4 minutes on 2 cores. Not part of test.sh: the suite is
# not in this repository and not on a package index.
set -euo pipefail
cd "$(dirname "$0")/.."
SUITE="${1:?usage: scripts/tuf-conformance.sh SUITE_DIR [pytest args]}"
shift
SUITE=$(cd "$SUITE" && pwd)
CACHE="${HARBOR_LAB_CACHE:-/var/cache/harbor-lab}"
VENV="$CACHE/tuf-conformance-venv"
command -v faketime >/dev/null || { echo "tuf-conformance.sh: needs faketime (apt-get install faketime)" >&2; exit 3; }
PINS=$(/usr/bin/python3 -c 'import sys, tomllib; print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))' "$SUITE/pyproject.toml")
if [ ! -f "$VENV/pins" ] || [ "$(cat "$VENV/pins")" != "$PINS" ]; then
  rm -rf "$VENV"
  /usr/bin/python3 -m venv "$VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install -q --disable-pip-version-check $PINS >&2
  echo "$PINS" > "$VENV/pins"
fi
cargo build -q --bin harbor-lab
export HARBOR_LAB_BIN="${CARGO_TARGET_DIR:-target}/debug/harbor-lab"
HARBOR_LAB_BIN=$(cd "$(dirname "$HARBOR_LAB_BIN")" && pwd)/harbor-lab
export HARBOR_LAB_BIN
cd "$SUITE"
exec "$VENV/bin/pytest" tuf_conformance -p no:cacheprovider -q \
  --entrypoint "$OLDPWD/scripts/tuf-conformance-client" "$@"
