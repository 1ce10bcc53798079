#!/usr/bin/env bash
# peers.sh [DIR]: make the interoperability peers available without touching
# the system's apt configuration:
#   cosign 2.5   (packaged from Debian trixie on)
#   skopeo 1.18  (trixie's build has sigstore; bookworm's 1.9.3 has it patched out)
# The .debs are downloaded with a private apt state, unpacked under DIR and run
# from there (skopeo through trixie's own loader and libraries).
# DIR defaults to ${HARBOR_LAB_CACHE:-/var/cache/harbor-lab}/peers. Idempotent.
# Prints HARBOR_LAB_COSIGN=<path> and HARBOR_LAB_SKOPEO=<path> on stdout.
set -euo pipefail

DIR="${1:-${HARBOR_LAB_CACHE:-/var/cache/harbor-lab}/peers}"
ROOT="$DIR/root"
COSIGN="$ROOT/usr/bin/cosign"
SKOPEO="$DIR/skopeo"

runs() { [ -x "$1" ] && "$@" >/dev/null 2>&1; }

fetch() {
  local apt="$DIR/apt"
  rm -rf "$DIR"
  mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$DIR/debs" "$ROOT"
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  if [ ! -r "$keyring" ]; then
    echo "peers.sh: installing debian-archive-keyring to check trixie's signatures" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debian-archive-keyring >&2
  fi
  # Use this machine's Debian mirror when it has one, else the public one.
  local mirror=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$mirror" ] && [ -r /etc/apt/sources.list ]; then
    mirror=$(awk '$1 == "deb" && $0 ~ /debian/ {for (i = 2; i <= NF; i++) if ($i ~ /^http/) {print $i; exit}}' /etc/apt/sources.list)
  fi
  mirror="${mirror:-http://deb.debian.org/debian}"
  echo "deb [signed-by=$keyring] $mirror trixie main" > "$apt/sources.list"
  local opts=(-q -o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
              -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt" -o APT::Sandbox::User=root)
  echo "peers.sh: fetching cosign and skopeo from trixie ($mirror)" >&2
  apt-get "${opts[@]}" update >&2
  (cd "$DIR/debs" && apt-get "${opts[@]}" download cosign/trixie skopeo/trixie libc6/trixie \
     libgpgme11t64/trixie libassuan9/trixie libgpg-error0/trixie libsqlite3-0/trixie >&2)
  local deb
  for deb in "$DIR"/debs/*.deb; do dpkg-deb -x "$deb" "$ROOT"; done
  rm -rf "$apt" "$DIR/debs"
  cat > "$SKOPEO" <<WRAPPER
#!/bin/sh
# skopeo from trixie, run with trixie's loader and libraries.
LIBS="$ROOT/usr/lib/x86_64-linux-gnu"
exec "\$LIBS/ld-linux-x86-64.so.2" --library-path "\$LIBS" "$ROOT/usr/bin/skopeo" "\$@"
WRAPPER
  chmod +x "$SKOPEO"
}

if ! runs "$COSIGN" version || ! runs "$SKOPEO" --version; then
  fetch
fi
runs "$COSIGN" version || { echo "peers.sh: $COSIGN does not run" >&2; exit 1; }
runs "$SKOPEO" --version || { echo "peers.sh: $SKOPEO does not run" >&2; exit 1; }
echo "HARBOR_LAB_COSIGN=$COSIGN"
echo "HARBOR_LAB_SKOPEO=$SKOPEO"
