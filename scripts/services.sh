#!/usr/bin/env bash
# services.sh: start what the tests need when it is not already running:
#   - dockerd, with its own --config-file (so tests can edit and reload it safely)
#   - Debian's docker-registry (distribution 2.8) on 127.0.0.1:${HARBOR_LAB_REGISTRY_PORT:-5055}
#     (not 5000, where the docker-registry package's own service may listen)
# Idempotent. State lives in ${HARBOR_LAB_CACHE:-/var/cache/harbor-lab}/services.
# Prints the environment the tests read, as KEY=VALUE lines on stdout.
set -euo pipefail

CACHE="${HARBOR_LAB_CACHE:-/var/cache/harbor-lab}"
S="$CACHE/services"
PORT="${HARBOR_LAB_REGISTRY_PORT:-5055}"
mkdir -p "$S"

wait_for() { # wait_for SECONDS CMD...
  local t=$1; shift
  for _ in $(seq $((t * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# --- dockerd ---------------------------------------------------------------
DAEMON_JSON="$S/daemon.json"
if ! docker version >/dev/null 2>&1; then
  [ -f "$DAEMON_JSON" ] || echo '{}' > "$DAEMON_JSON"
  echo "services.sh: starting dockerd (log: $S/dockerd.log)" >&2
  nohup dockerd --config-file "$DAEMON_JSON" --pidfile "$S/dockerd.pid" >"$S/dockerd.log" 2>&1 &
  wait_for 60 docker version || { tail -20 "$S/dockerd.log" >&2; echo "services.sh: dockerd did not start" >&2; exit 1; }
fi
# Which config file does the running daemon use? Tests that change daemon.json need to know.
DPID=$(cat "$S/dockerd.pid" 2>/dev/null || pidof dockerd || true)
RUNNING_CONFIG=""
if [ -n "$DPID" ] && [ -r "/proc/$DPID/cmdline" ]; then
  RUNNING_CONFIG=$(tr '\0' '\n' < "/proc/$DPID/cmdline" | awk 'f{print; exit} /^--config-file$/{f=1} /^--config-file=/{sub("--config-file=",""); print; exit}')
  # A dockerd started without --config-file (e.g. by systemd) reads the default.
  RUNNING_CONFIG="${RUNNING_CONFIG:-/etc/docker/daemon.json}"
fi

# --- docker-registry ----------------------------------------------------------
if ! curl -fsS "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1; then
  mkdir -p "$S/registry-data"
  cat > "$S/registry.yml" <<YML
version: 0.1
log:
  level: warn
  accesslog: {disabled: true}
storage:
  cache: {blobdescriptor: inmemory}
  filesystem: {rootdirectory: $S/registry-data}
  delete: {enabled: true}
http:
  addr: 127.0.0.1:$PORT
YML
  echo "services.sh: starting docker-registry on 127.0.0.1:$PORT" >&2
  nohup docker-registry serve "$S/registry.yml" >"$S/registry.log" 2>&1 &
  wait_for 30 curl -fsS "http://127.0.0.1:$PORT/v2/" || { tail -20 "$S/registry.log" >&2; echo "services.sh: docker-registry did not start" >&2; exit 1; }
fi

echo "HARBOR_LAB_TEST_REGISTRY=127.0.0.1:$PORT"
echo "HARBOR_LAB_TEST_DAEMON_CONFIG=$RUNNING_CONFIG"
echo "HARBOR_LAB_TEST_DOCKERD_PID=$DPID"
