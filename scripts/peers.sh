#!/usr/bin/env bash
# peers.sh [DIR]: make the interoperability peers available without touching
# the system's apt configuration:
#   cosign 2.5   (packaged from Debian trixie on)
#   skopeo 1.18  (trixie's build has sigstore; bookworm's 1.9.3 has it patched out)
#   cosign 3.1   (from sid, else forky: its default is the sigstore bundle format)
# The .debs are downloaded with a private apt state, unpacked under DIR and run
# from there (skopeo through trixie's own loader and libraries).
# DIR defaults to ${HARBOR_LAB_CACHE:-/var/cache/harbor-lab}/peers. Idempotent.
# Prints HARBOR_LAB_COSIGN=<path>, HARBOR_LAB_SKOPEO=<path> and
# HARBOR_LAB_COSIGN3=<path> on stdout.
set -euo pipefail

DIR="${1:-${HARBOR_LAB_CACHE:-/var/cache/harbor-lab}/peers}"
ROOT="$DIR/root"
COSIGN="$ROOT/usr/bin/cosign"
SKOPEO="$DIR/skopeo"
COSIGN3="$DIR/v3/usr/bin/cosign"

runs() { [ -x "$1" ] && "$@" >/dev/null 2>&1; }

# This machine's Debian mirror when it has one, else the public one.
mirror() {
  local m=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" && $0 ~ /debian/ {for (i = 2; i <= NF; i++) if ($i ~ /^http/) {print $i; exit}}' /etc/apt/sources.list)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

# download_debs STATE OUT SUITE... -- PACKAGE...: fetch .debs into OUT with a
# private apt state in STATE (the system's apt configuration is never touched).
download_debs() {
  local state="$1" out="$2"; shift 2
  local suites=()
  while [ "$1" != "--" ]; do suites+=("$1"); shift; done
  shift
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  if [ ! -r "$keyring" ]; then
    echo "peers.sh: installing debian-archive-keyring to check Debian's signatures" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debian-archive-keyring >&2
  fi
  local m suite
  m=$(mirror)
  mkdir -p "$state/lists/partial" "$state/archives/partial" "$out"
  for suite in "${suites[@]}"; do
    echo "deb [signed-by=$keyring] $m $suite main"
  done > "$state/sources.list"
  local opts=(-q -o "Dir::Etc::SourceList=$state/sources.list" -o Dir::Etc::SourceParts=/dev/null
              -o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state" -o APT::Sandbox::User=root)
  echo "peers.sh: fetching $* from ${suites[*]} ($m)" >&2
  apt-get "${opts[@]}" update >&2
  (cd "$out" && apt-get "${opts[@]}" download "$@" >&2)
}

fetch() {
  rm -rf "$DIR/root" "$SKOPEO" "$DIR/apt" "$DIR/debs"
  mkdir -p "$ROOT"
  download_debs "$DIR/apt" "$DIR/debs" trixie -- cosign/trixie skopeo/trixie libc6/trixie \
     libgpgme11t64/trixie libassuan9/trixie libgpg-error0/trixie libsqlite3-0/trixie
  local deb
  for deb in "$DIR"/debs/*.deb; do dpkg-deb -x "$deb" "$ROOT"; done
  rm -rf "$DIR/apt" "$DIR/debs"
  cat > "$SKOPEO" <<WRAPPER
#!/bin/sh
# skopeo from trixie, run with trixie's loader and libraries.
LIBS="$ROOT/usr/lib/x86_64-linux-gnu"
exec "\$LIBS/ld-linux-x86-64.so.2" --library-path "\$LIBS" "$ROOT/usr/bin/skopeo" "\$@"
WRAPPER
  chmod +x "$SKOPEO"
}

# cosign 3 is a Go binary that runs on Debian 12's libc; sid first, else forky.
fetch_cosign3() {
  rm -rf "$DIR/v3" "$DIR/apt3" "$DIR/debs3"
  download_debs "$DIR/apt3" "$DIR/debs3" sid forky -- cosign
  local deb
  for deb in "$DIR"/debs3/*.deb; do dpkg-deb -x "$deb" "$DIR/v3"; done
  rm -rf "$DIR/apt3" "$DIR/debs3"
}

if ! runs "$COSIGN" version || ! runs "$SKOPEO" --version; then
  fetch
fi
runs "$COSIGN" version || { echo "peers.sh: $COSIGN does not run" >&2; exit 1; }
runs "$SKOPEO" --version || { echo "peers.sh: $SKOPEO does not run" >&2; exit 1; }
runs "$COSIGN3" version || fetch_cosign3
runs "$COSIGN3" version || { echo "peers.sh: $COSIGN3 does not run" >&2; exit 1; }
echo "HARBOR_LAB_COSIGN=$COSIGN"
echo "HARBOR_LAB_SKOPEO=$SKOPEO"
echo "HARBOR_LAB_COSIGN3=$COSIGN3"
