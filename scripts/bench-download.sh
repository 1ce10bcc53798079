# Sourced by bench.sh: the installer benchmarks.
#   (e) 1 GiB from a loopback server, md5 checked, vs `curl -o`   target <= 1.1
#   (f) our peak memory during (e)                                 target <= 32 MiB
#   (g) a second `install` when everything is done                 target <= 1 s
# The server is Python's http.server in a thread pool (sendfile), on 127.0.0.1.

bench_download_run() {
  local dir="$WORK/dl" tag=v9.9.9
  mkdir -p "$dir/srv/$tag"
  local asset="harbor-online-installer-$tag.tgz"
  echo "== download: writing a 1 GiB test file" >&2
  head -c $((1 << 30)) /dev/urandom > "$dir/srv/$tag/$asset"
  (cd "$dir/srv/$tag" && md5sum "$asset" > md5sum)
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  (cd "$dir/srv" && exec python3 -c "
import http.server, socketserver, sys
class S(socketserver.ThreadingMixIn, http.server.HTTPServer): daemon_threads = True
S(('127.0.0.1', int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()" "$port") >/dev/null 2>&1 &
  local server=$!
  sleep 1
  local url="http://127.0.0.1:$port/$tag/$asset"
  local t0 t1 ours theirs i
  local so=() st=()
  for i in 1 2 3; do
    rm -f "$dir/curl.out"
    t0=$EPOCHREALTIME; curl -s -o "$dir/curl.out" "$url"; t1=$EPOCHREALTIME; st+=("$(python3 -c "print($t1 - $t0)")")
    rm -rf "$dir/cache"
    # The download step alone: a local Harbor is not involved (the md5 is checked).
    t0=$EPOCHREALTIME
    mkdir -p "$dir/cache"
    /usr/bin/time -o "$dir/mem" -f %M "$FETCH" "$url" "$(cut -d' ' -f1 "$dir/srv/$tag/md5sum")" "$dir/cache/$asset" >/dev/null
    t1=$EPOCHREALTIME; so+=("$(python3 -c "print($t1 - $t0)")")
  done
  kill "$server" 2>/dev/null || true
  # MD5 is sequential: hashing the file alone (from the page cache) is a floor for any
  # download that checks it.
  local md5t
  t0=$EPOCHREALTIME; md5sum "$dir/curl.out" >/dev/null; t1=$EPOCHREALTIME; md5t=$(python3 -c "print($t1 - $t0)")
  ours=$(printf '%s\n' "${so[@]}" | median); theirs=$(printf '%s\n' "${st[@]}" | median)
  report "(e) 1 GiB download+md5 (median of 3): ours ${ours}s / curl ${theirs}s" "ratio $(ratio "$ours" "$theirs") (target <= 1.1)"
  report "    md5sum of the same file alone: ${md5t}s" "floor ratio $(ratio "$md5t" "$theirs")"
  report "(f) peak RSS during (e)" "$(( $(tail -1 "$dir/mem") / 1024 )) MiB (target <= 32 MiB)"
  rm -rf "$dir"
}

# (g) A second `install` against a fixture release when everything is done.
bench_second_install() {
  local dir="$WORK/inst" tag=v2.7.1
  mkdir -p "$dir/pkg/harbor" "$dir/srv/$tag"
  cp tests/support/fixture/install.sh tests/support/fixture/prepare tests/support/fixture/common.sh \
     tests/support/fixture/harbor.yml.tmpl "$dir/pkg/harbor/"
  echo "fixture" > "$dir/pkg/harbor/LICENSE"
  tar -C "$dir/pkg" -czf "$dir/srv/$tag/harbor-online-installer-$tag.tgz" harbor
  (cd "$dir/srv/$tag" && md5sum "harbor-online-installer-$tag.tgz" > md5sum)
  local sport hport
  sport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  hport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  (cd "$dir/srv" && exec python3 -m http.server --bind 127.0.0.1 "$sport") >/dev/null 2>&1 &
  local server=$!
  sleep 1
  echo '{}' > "$dir/daemon.json"
  local args=(install --harbor-version "$tag" --download-base "http://127.0.0.1:$sport" --hostname 127.0.0.1
              --allow-loopback-hostname --http-port "$hport" --workdir "$dir/work" --daemon-config "$dir/daemon.json"
              --no-daemon-reload --yes -q)
  export HARBOR_DOUBLE_BIN="$CARGO_TARGET_DIR/release/harbor-double" HARBOR_DOUBLE_UPSTREAM="http://$REG" HARBOR_DOUBLE_NAMESPACE="bench$$"
  HARBOR_LAB_CACHE="$dir/cache" "$HL" "${args[@]}"
  local t0 t1
  t0=$EPOCHREALTIME; HARBOR_LAB_CACHE="$dir/cache" "$HL" "${args[@]}"; t1=$EPOCHREALTIME
  report "(g) second install, everything done" "$(python3 -c "print(f'{$t1 - $t0:.3f}')") s (target <= 1 s)"
  kill "$(cat "$dir/work/data/double.pid")" "$server" 2>/dev/null || true
  rm -rf "$dir"
}

bench_download_run
bench_second_install
