#!/usr/bin/env bash
# python-tuf.sh [DIR]: the independent TUF peer for the tests, python-tuf 7.0.1
# (PyPI `tuf`, with `securesystemslib[crypto]`), in a virtual environment under
# DIR (default ${HARBOR_LAB_CACHE:-/var/cache/harbor-lab}/python-tuf). Idempotent:
# an environment that already imports the right version is kept.
# Prints HARBOR_LAB_PYTHON_TUF=<the environment's python> on stdout.
set -euo pipefail

DIR="${1:-${HARBOR_LAB_CACHE:-/var/cache/harbor-lab}/python-tuf}"
PY="$DIR/bin/python"
PINS=("tuf==7.0.1" "securesystemslib[crypto]==1.4.0")

ok() {
  [ -x "$PY" ] && "$PY" -c 'import tuf, securesystemslib.signer as s; assert tuf.__version__ == "7.0.1"; s.CryptoSigner' >/dev/null 2>&1
}

if ! ok; then
  echo "python-tuf.sh: installing ${PINS[*]} into $DIR" >&2
  rm -rf "$DIR"
  # Debian's python3 (python3-venv), whatever else is first on PATH.
  /usr/bin/python3 -m venv "$DIR" >&2
  "$DIR/bin/pip" install -q --disable-pip-version-check "${PINS[@]}" >&2
fi
ok || { echo "python-tuf.sh: $PY cannot import python-tuf 7.0.1" >&2; exit 1; }
echo "HARBOR_LAB_PYTHON_TUF=$PY"
