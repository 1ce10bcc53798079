# Sourced by bench.sh: the lab's own commands when everything is done.
#   (k) a second `up` (the second workshop run, the second CI job)   target <= 1 s,
#       with no download, no push and no install.sh
#   (l) `status` while Harbor answers (median of 15)                 target <= 100 ms
# Harbor is the fixture installer's API double in front of the loopback registry,
# as in tests/lab.rs; the release is served by Python's http.server on 127.0.0.1.

bench_lab() {
  local dir="$WORK/lab" tag=v2.7.1
  mkdir -p "$dir/pkg/harbor" "$dir/srv/$tag" "$dir/rootfs/bin"
  cp tests/support/fixture/install.sh tests/support/fixture/prepare tests/support/fixture/common.sh \
     tests/support/fixture/harbor.yml.tmpl "$dir/pkg/harbor/"
  echo "fixture" > "$dir/pkg/harbor/LICENSE"
  tar -C "$dir/pkg" -czf "$dir/srv/$tag/harbor-online-installer-$tag.tgz" harbor
  (cd "$dir/srv/$tag" && md5sum "harbor-online-installer-$tag.tgz" > md5sum)
  cp "$(command -v busybox)" "$dir/rootfs/bin/"
  echo "bench-lab-$$-$(date +%s)" > "$dir/rootfs/id"
  tar -C "$dir/rootfs" -cf "$dir/image.tar" .
  local sport hport
  sport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  hport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  (cd "$dir/srv" && exec python3 -m http.server --bind 127.0.0.1 "$sport") >/dev/null 2>&1 &
  local server=$!
  sleep 1
  echo '{}' > "$dir/daemon.json"
  local args=(up --harbor-version "$tag" --download-base "http://127.0.0.1:$sport" --hostname 127.0.0.1
              --allow-loopback-hostname --http-port "$hport" --workdir "$dir/work" --daemon-config "$dir/daemon.json"
              --no-daemon-reload --image "bench-lab:v1" --image-file "$dir/image.tar" --yes --json)
  export HARBOR_DOUBLE_BIN="$CARGO_TARGET_DIR/release/harbor-double" HARBOR_DOUBLE_UPSTREAM="http://$REG" HARBOR_DOUBLE_NAMESPACE="benchlab$$"
  echo "== lab: a first \`up\` against the fixture installer and the Harbor double" >&2
  HARBOR_LAB_CACHE="$dir/cache" "$HL" "${args[@]}" > "$dir/first.json"

  # (k) Again, five times; what it did is read from its own report and from the files
  # a download, install.sh or a push would have changed.
  local pid0 tgz0 so=() i t0 t1 what
  pid0=$(cat "$dir/work/data/double.pid")
  tgz0=$(stat -c %Y.%i "$dir/cache/downloads/$tag/harbor-online-installer-$tag.tgz")
  for i in 1 2 3 4 5; do
    t0=$EPOCHREALTIME; HARBOR_LAB_CACHE="$dir/cache" "$HL" "${args[@]}" > "$dir/again.json"; t1=$EPOCHREALTIME
    so+=("$(seconds "$t0" "$t1")")
  done
  what=$(python3 - "$dir/again.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
redone = [s["id"] for s in r["install"]["steps"] if s["status"] not in ("checked", "skipped")]
demo = {s["id"]: s["detail"] for s in r["demo"]["steps"]}
if "already pushed" not in demo.get("push", ""):
    redone.append("push")
if "already signed" not in demo.get("sign", ""):
    redone.append("sign")
print("redid " + ", ".join(redone) if redone else "nothing redone")
PY
)
  [ "$(cat "$dir/work/data/double.pid")" = "$pid0" ] || what="$what; install.sh ran"
  [ "$(stat -c %Y.%i "$dir/cache/downloads/$tag/harbor-online-installer-$tag.tgz")" = "$tgz0" ] || what="$what; downloaded"
  report "(k) second \`up\`, everything done (median of 5)" "$(printf '%s\n' "${so[@]}" | median) s (target <= 1 s); $what"

  # (l) status, with Harbor answering. Floor: starting our binary plus one health request.
  local st=() sv=() start hc
  for i in $(seq 1 15); do
    t0=$EPOCHREALTIME; "$HL" status --workdir "$dir/work" >/dev/null 2>&1; t1=$EPOCHREALTIME; st+=("$(seconds "$t0" "$t1")")
    t0=$EPOCHREALTIME; "$HL" --version >/dev/null; t1=$EPOCHREALTIME; sv+=("$(seconds "$t0" "$t1")")
  done
  "$HL" status --workdir "$dir/work" --json | python3 -c 'import json, sys; d = json.load(sys.stdin); assert d["harbor_answers"], d'
  start=$(printf '%s\n' "${sv[@]}" | median)
  hc=$(python3 - "$hport" <<'PY'
import http.client, statistics, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
runs = []
for _ in range(16):
    t = time.perf_counter()
    c.request("GET", "/api/v2.0/health")
    r = c.getresponse()
    r.read()
    runs.append(time.perf_counter() - t)
print(f"{statistics.median(runs[1:]):.4f}")
PY
)
  report "(l) status, Harbor answering (median of 15)" "$(python3 -c "print(f'{$(printf '%s\n' "${st[@]}" | median) * 1000:.1f}')") ms (target <= 100 ms)"
  report "    floor: start ${start}s (--version) + one health request ${hc}s" "$(python3 -c "print(f'{($start + $hc) * 1000:.1f}')") ms"
  kill "$(cat "$dir/work/data/double.pid")" "$server" 2>/dev/null || true
  rm -rf "$dir"
}

bench_lab
