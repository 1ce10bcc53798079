#!/usr/bin/env bash
# up.sh: set up a fresh Debian/Ubuntu machine and run `harbor-lab up`.
#   1. install the Debian packages (docker.io, docker-compose, ...)
#   2. start Docker when it is not running (systemd if present, else dockerd directly)
#   3. build harbor-lab (release), install its man page and shell completions
#      (scripts/install-docs.sh), and run `harbor-lab up` with your arguments
# Example: sudo scripts/up.sh --yes
#          sudo scripts/up.sh --installer-file harbor-offline-installer-v2.15.1.tgz --image-file busybox.tar
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
if ! docker version >/dev/null 2>&1; then
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    systemctl start docker
  else
    echo "up.sh: starting dockerd (log: /var/log/harbor-lab-dockerd.log)" >&2
    nohup dockerd >/var/log/harbor-lab-dockerd.log 2>&1 &
  fi
  for _ in $(seq 100); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
  docker version >/dev/null 2>&1 || { echo "up.sh: Docker did not start" >&2; exit 3; }
fi
cargo build --release -q
bin="${CARGO_TARGET_DIR:-target}/release/harbor-lab"
scripts/install-docs.sh "$bin"   # `man harbor-lab`, and tab completion in bash, zsh, fish
exec "$bin" up "$@"
