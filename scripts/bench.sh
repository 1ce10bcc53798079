#!/usr/bin/env bash
# bench.sh: harbor-lab's speed against the real peers, on the loopback registry.
# Every figure is printed next to its target and, where something outside our code
# bounds it, next to that floor. Ratios are ours / theirs (lower is better).
#   verify (a)  one image, wall time, vs cosign 2.5 (median of 15)     target <= 0.2
#               run again and the first time (the payload is the one verify writes
#               itself: not fetched), and the first verify of a payload it must fetch
#                  floor: our process start + the loopback round trips it needs (as a
#                  one-shot client meets an idle registry, and on a warm connection)
#          (b)  N = 100 and N = 1000 images in one run, wall time against the
#               registry's own CPU during that run divided by the cores   target <= 1.15
#               and what of the cores neither the registry nor the client used;
#               floor in practice: the same requests from curl --parallel, and from
#               h2load (C, libev: a load generator that spends 35-45 % of our CPU);
#               the floor of the requested HTTP stack: reqwest alone, as verify
#               builds it, asking for the same requests (examples/get_paths.rs);
#               beside them, the CPU any client spends checking n P-256 signatures
#               (openssl speed)
#               linearity: time(1000) <= 10.5 x time(100), peak RSS(1000) <= 2 x RSS(100)
#               (and 100 images against 100 cosign runs, for reference)
#          (c)  sign 100 images: 1 of our runs vs 100 cosign runs       target <= 0.05
#                  floor: the registry taking the same reads and writes from a client
#                  that does nothing else (scripts/bench-sign-writes.py, 8 at a time)
#          (d)  peak memory of (a)                                      target <= 0.15
#   download (e) 1 GiB from loopback, checksum included, vs curl -o    target <= 1.1
#            (f) peak memory of (e)                                     target <= 32 MiB
#            (g) a second `install` when everything is done              target <= 1 s
#   bundle (sigstore bundles; the registry has no referrers API, so the fallback tag)
#          (h)  verify one bundle-signed image vs cosign 3.1          target <= 0.3
#               (issue 13 asks <= 0.2 of cosign 3.1, as for (a)); floors as (a)'s
#          (i)  verify 100: 1 of our runs vs 100 cosign 3 runs       target <= 0.05 (or
#               within 1.25x of the registry's own CPU floor, printed)
#   lab      (k) a second `up` when everything is done                  target <= 1 s,
#               and no download, no push, no install.sh
#            (l) `status` when Harbor answers (median of 15)             target <= 100 ms
#   tuf      (j) verify --tuf of one image over plain verify, wall       target <= 1.5
#               and 100 images with --tuf in one run over 100 without    target <= 1.2
# The machine must be otherwise idle: wall times on 2 shared cores are only as good
# as the quiet around them. CPU times (ours and the registry's) are printed as well.
# Usage: scripts/bench.sh [cosign|bundle|download|lab|tuf|all]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
WHAT="${1:-all}"

# The tools the bench measures with (command:package), installed with the rest
# (scripts/setup.sh skips what is there).
NEEDS=(/usr/bin/time:time python3:python3 ss:iproute2 h2load:nghttp2-client openssl:openssl)
HARBOR_LAB_EXTRA_PACKAGES="${NEEDS[*]##*:}"
# shellcheck source=scripts/lab-env.sh
source scripts/lab-env.sh
for need in "${NEEDS[@]}"; do
  command -v "${need%%:*}" >/dev/null || { echo "bench.sh: needs ${need%%:*} (apt-get install ${need##*:})" >&2; exit 3; }
done
# The binary users get: the root package's alone, as scripts/up.sh builds it. Built in
# one go with the examples (which bring the dev-dependencies) or the workspace (the
# test double), its dependencies would take their features as well, and its symbols
# would no longer be the ones scripts/verify.order lays out: one verify's peak RSS
# 6.8-7.2 MiB instead of 4.1-4.3. The examples and the double (bench-lab.sh,
# bench-download.sh) are built after it, each on its own; neither relinks it.
cargo build --release -q
cargo build --release -q --examples
cargo build --release -q -p harbor-double
HL="$CARGO_TARGET_DIR/release/harbor-lab"
FETCH="$CARGO_TARGET_DIR/release/examples/fetch"
GET_PATHS="$CARGO_TARGET_DIR/release/examples/get_paths"
COSIGN="$HARBOR_LAB_COSIGN"
COSIGN3="$HARBOR_LAB_COSIGN3"
REG="$HARBOR_LAB_TEST_REGISTRY"
# The manifest types the bench's own clients (Python, curl, h2load) accept.
export BENCH_ACCEPT="application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export COSIGN_PASSWORD=bench HOME="$WORK"

# Timestamps are bash's $EPOCHREALTIME, read without a fork: a `$(date)` on each
# side added a process start (2-4 ms) to every figure, a quarter of one verify.
export LC_ALL=C
# Shuffle the array named $1 in place (Fisher-Yates on $RANDOM, no fork).
shuffle() {
  local -n arr=$1
  local j k tmp
  for ((j = ${#arr[@]} - 1; j > 0; j--)); do
    k=$((RANDOM % (j + 1))); tmp=${arr[j]}; arr[j]=${arr[k]}; arr[k]=$tmp
  done
}
# Run `$1 NAME` for each NAME after it, 15 rounds, in a new order each round:
# whatever runs right after cosign pays for it (1-2.5 ms more, measured), so a fixed
# order would bill one command for another's aftermath. Before `cold` the content
# store is emptied (the first verify of an image). Wall times land in SAMPLES[NAME].
declare -A SAMPLES
interleave() {
  local run=$1 what i t0 t1
  shift
  local order=("$@")
  SAMPLES=()
  RANDOM=13
  for i in $(seq 1 15); do
    shuffle order
    for what in "${order[@]}"; do
      [[ $what == cold || $what == fetched ]] && rm -rf "$HARBOR_LAB_CACHE/content"
      t0=$EPOCHREALTIME; "$run" "$what"; t1=$EPOCHREALTIME
      SAMPLES[$what]+="$(seconds "$t0" "$t1") "
    done
  done
}
# The median of SAMPLES[$1].
# shellcheck disable=SC2086 # one sample a word
sampled() { printf '%s\n' ${SAMPLES[$1]} | median; }
ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'{a / b:.3f}')" "$1" "$2"; }
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
report() { printf '%-58s %s\n' "$1" "$2"; }
# The loopback registry's pid, and a process's CPU in seconds: the sum over its threads
# of the scheduler's run time (/proc/PID/task/*/schedstat, in ns). /proc/PID/stat counts
# in 10 ms ticks, +-1 tick = +-2 % of the registry's CPU for 100 images. A thread that
# ended during a run would take its time with it, which could only lower the floor.
registry_pid() { ss -Hltnp "sport = :${REG##*:}" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1; }
cpu_seconds() {
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ns += $1} END {if (NR) printf "%.6f\n", ns / 1e9; else exit 1}' \
    || awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}
# The share (%) of the cores' time over a wall time $1 that neither the registry
# (between two `cpu_seconds` readings $2 and $3) nor the client ($4 s of CPU) used: the
# registry waiting with requests in flight, and anything else the machine ran.
unused_share() { python3 -c "import sys; w, a, b, c, n = map(float, sys.argv[1:]); print(f'{100 * (1 - (b - a + c) / (w * n)):.1f}')" "$1" "$2" "$3" "$4" "$(nproc)"; }
# The registry's CPU floor between two `cpu_seconds` readings: its CPU spread over
# every core (s).
core_floor() { python3 -c "import sys; a, b, n = map(float, sys.argv[1:]); print(f'{(b - a) / n:.4f}')" "$1" "$2" "$(nproc)"; }

# The time between two `now`s, in seconds.
seconds() { python3 -c "import sys; print(f'{float(sys.argv[1]) - float(sys.argv[2]):.4f}')" "$2" "$1"; }
# A command's wall time (s), peak RSS (KiB) and user+system CPU (s), as "wall rss cpu".
measure() {
  local t0 t1
  t0=$EPOCHREALTIME
  /usr/bin/time -o "$WORK/measure" -f '%M %U %S' "$@" >/dev/null 2>"$WORK/measure.err" \
    || { echo "bench.sh: $* failed: $(tail -3 "$WORK/measure.err")" >&2; return 1; }
  t1=$EPOCHREALTIME
  awk -v w="$(seconds "$t0" "$t1")" '{printf "%s %s %.3f\n", w, $1, $2 + $3}' "$WORK/measure"
}
# The median of loopback GETs on kept-alive connections (Python), in seconds: what
# the registry itself needs to answer a verify's requests. Arguments are paths sent
# one after another on one connection; after a lone `--also`, paths sent at the same
# time on a second connection (the bundle look-up `--format any` adds beside them).
# With a first argument `--idle MS`, each run waits MS first and opens new connections,
# as a one-shot client meets the registry: idle since the command before.
round_trips() {
  python3 - "$REG" "$@" <<'PY'
import http.client, os, statistics, sys, threading, time
host, port = sys.argv[1].rsplit(":", 1)
args = sys.argv[2:]
idle = None
if args[:1] == ["--idle"]:
    idle, args = float(args[1]) / 1000, args[2:]
main, also = (args[:args.index("--also")], args[args.index("--also") + 1:]) if "--also" in args else (args, [])
accept = {"Accept": os.environ["BENCH_ACCEPT"]}
conns = [http.client.HTTPConnection(host, int(port)) for _ in range(2)]
def chain(c, paths, must_exist):
    for p in paths:
        c.request("GET", p, headers=accept)
        r = c.getresponse()
        r.read()
        assert r.status == 200 or not must_exist, (p, r.status)
runs = []
for _ in range(16):
    if idle is not None:
        time.sleep(idle)
        conns = [http.client.HTTPConnection(host, int(port)) for _ in range(2)]
    t = time.perf_counter()
    side = threading.Thread(target=chain, args=(conns[1], also, False))
    side.start()
    chain(conns[0], main, True)
    side.join()
    runs.append(time.perf_counter() - t)
    if idle is not None:
        for c in conns:
            c.close()
print(f"{statistics.median(runs[1:]):.4f}")
PY
}
# The paths of the requests one verify of each image makes, one image a line, in the
# order a verify needs them: with `legacy` (a payload verify writes itself), the tag's
# manifest, the .sig manifest, the fallback tag; with `fetched` (a payload it cannot
# write), the same with the .sig's first layer before the fallback tag; with
# `bundle`, the tag's manifest, the fallback index, the bundle's manifest and blob,
# then the .sig (a 404) asked beside.
verify_paths() {
  python3 - "$REG" "$@" <<'PY'
import hashlib, json, os, sys, urllib.error, urllib.request
reg, mode, images = sys.argv[1], sys.argv[2], sys.argv[3:]
accept = {"Accept": os.environ["BENCH_ACCEPT"]}
def get(path):
    with urllib.request.urlopen(urllib.request.Request(f"http://{reg}{path}", headers=accept)) as r:
        return r.read()
for image in images:
    repo, tag = image[len(reg) + 1:].rsplit(":", 1)
    hexd = hashlib.sha256(get(f"/v2/{repo}/manifests/{tag}")).hexdigest()
    m, sig, fb = f"/v2/{repo}/manifests/", f"/v2/{repo}/manifests/sha256-{hexd}.sig", f"/v2/{repo}/manifests/sha256-{hexd}"
    if mode == "legacy":
        print(m + tag, sig, fb)
    elif mode == "fetched":
        layer = json.loads(get(sig))["layers"][0]["digest"]
        print(m + tag, sig, f"/v2/{repo}/blobs/{layer}", fb)
    else:
        bundle = json.loads(get(fb))["manifests"][0]["digest"]
        layer = json.loads(get(m + bundle))["layers"][0]["digest"]
        print(m + tag, fb, m + bundle, f"/v2/{repo}/blobs/{layer}", sig)
PY
}
# curl fetching every path of a `verify_paths` list, 16 at a time (our --jobs), with
# no dependency between them and no checks: a client that does nothing else. Prints
# "wall cpu" (s), as `h2load_all`.
curl_all() {
  tr ' ' '\n' <"$1" | awk -v reg="$REG" '{printf "url = \"http://%s%s\"\noutput = \"/dev/null\"\n", reg, $1}' >"$1.curl"
  wall_cpu curl -s --no-progress-meter -Z --parallel-max 16 -K "$1.curl" -H "Accept: $BENCH_ACCEPT"
}
# h2load asking for the paths of a `verify_paths` list on 16 kept-alive connections,
# one request at a time on each (our --jobs; no pipelining, as hyper): the lightest
# client this machine has. Each connection walks the list from its start (h2load's
# -i), so it asks for the first 3n/16 paths: the same kinds of request, in the same
# proportions. Prints "wall cpu" (s), as `measure`; fails unless every request got
# its answer and none was a 5xx.
h2load_all() {
  local urls="$1.h2load" n t0 t1
  tr ' ' '\n' <"$1" | sed "s#^#http://$REG#" >"$urls"
  n=$(wc -l <"$urls")
  t0=$EPOCHREALTIME
  /usr/bin/time -o "$WORK/h2load.time" -f '%U %S' h2load -p http/1.1 -c 16 -m 1 -n "$n" -i "$urls" \
    -H "accept: $BENCH_ACCEPT" \
    >"$WORK/h2load.out"
  t1=$EPOCHREALTIME
  grep -q "^requests: $n total, $n started, $n done" "$WORK/h2load.out" && ! grep -q " [1-9][0-9]* 5xx" "$WORK/h2load.out" \
    || { echo "bench.sh: h2load did not finish its $n requests:" >&2; cat "$WORK/h2load.out" >&2; return 1; }
  awk -v w="$(seconds "$t0" "$t1")" '{printf "%s %.3f\n", w, $1 + $2}' "$WORK/h2load.time"
}
# `measure`'s "wall rss cpu" as "wall cpu".
wall_cpu() {
  local wall cpu
  read -r wall _ cpu < <(measure "$@")
  echo "$wall $cpu"
}
# (b): three runs of a client that prints "wall cpu" (the command after NAME LABEL),
# each against the registry's CPU during it; reports the median ratio and CPU, and
# ours (the caller's `ratios`) against it. The caller's `rpid` is the registry.
client_floor() {
  local name="$1" label="$2" rs=() cs=() is=() r0 r1 wall cpu med
  shift 2
  for _ in 1 2 3; do
    r0=$(cpu_seconds "$rpid")
    read -r wall cpu < <("$@")
    r1=$(cpu_seconds "$rpid")
    rs+=("$(ratio "$wall" "$(core_floor "$r0" "$r1")")")
    cs+=("$cpu")
    is+=("$(unused_share "$wall" "$r0" "$r1" "$cpu")")
  done
  med=$(printf '%s\n' "${rs[@]}" | median)
  report "    $label" "ratio to floor $med (its CPU $(printf '%s\n' "${cs[@]}" | median)s, cores unused $(printf '%s\n' "${is[@]}" | median) %); ours / $name's $(ratio "$(printf '%s\n' "${ratios[@]}" | median)" "$med")"
}
# Seconds of CPU for one P-256 signature check, as OpenSSL does it (the same
# ecp_nistz256 assembly as aws-lc's, which verify uses).
p256_verify_seconds() {
  openssl speed -seconds 1 ecdsap256 2>/dev/null | awk '/nistp256/ {print 1 / $NF}'
}

# Make the images, each with its own digest: 1000 for our runs, 100 for cosign's, one
# signed with an annotation, and 100 for the floor of (c).
bench_images() {
  echo "== cosign: putting 1201 images into $REG" >&2
  RUN="bench$(date +%s)"
  mapfile -t A < <(python3 scripts/bench-images.py "$REG" "$RUN" a 1000)
  mapfile -t B < <(python3 scripts/bench-images.py "$REG" "$RUN" b 100)
  mapfile -t C < <(python3 scripts/bench-images.py "$REG" "$RUN" c 1)
  mapfile -t D < <(python3 scripts/bench-images.py "$REG" "$RUN" d 100)
  (cd "$WORK" && "$HL" -q keys generate --output-key-prefix ours && "$COSIGN" generate-key-pair --output-key-prefix theirs >/dev/null 2>&1)
}

bench_cosign() {
  # Our runs keep what they learn in a cache of the bench's own: a registry's "no
  # referrers API" and what it served by digest (registry::hints, registry::cas).
  local -x HARBOR_LAB_CACHE="$WORK/cache"
  bench_images
  local t0 t1 ours theirs
  # The images' writes on disk first (the floor below and cosign's runs come later,
  # on a settled disk).
  sync
  t0=$EPOCHREALTIME; "$HL" -q sign --key "$WORK/ours.key" "${A[@]:0:100}"; t1=$EPOCHREALTIME
  ours=$(seconds "$t0" "$t1")
  t0=$EPOCHREALTIME
  for img in "${B[@]}"; do "$COSIGN" sign --key "$WORK/theirs.key" --tlog-upload=false -y "$img" >/dev/null 2>&1; done
  t1=$EPOCHREALTIME; theirs=$(seconds "$t0" "$t1")
  report "(c) sign 100: ours ${ours}s / cosign ${theirs}s" "ratio $(ratio "$ours" "$theirs") (target <= 0.05)"
  # The registry syncs every blob and link it writes to disk: what it takes for the
  # same reads and writes on 100 other images, from a client with nothing else to do
  # (no key, no read-back), is the floor of (c) on this machine's disk.
  local floor_c
  sync
  t0=$EPOCHREALTIME; python3 scripts/bench-sign-writes.py 8 "${D[@]}"; t1=$EPOCHREALTIME
  floor_c=$(seconds "$t0" "$t1")
  report "    floor: the same reads and writes, no key, no read-back: ${floor_c}s" "floor ratio $(ratio "$floor_c" "$theirs"); ours / it $(ratio "$ours" "$floor_c")"
  # (a) and (d): one image, interleaved with cosign, once the writes above are on
  # disk (writeback of a burst of registry writes slows every process for a while).
  sync
  # `cold` is the first verify of an image (the content store emptied before it).
  # The payload of A[0] is the one verify writes itself, so neither fetches it.
  # `fetched` is the first verify of C[0], signed with an annotation verify is not
  # asked for: a payload verify cannot write, fetched (and kept in the store).
  "$HL" -q sign --key "$WORK/ours.key" -a bench=annotated "${C[0]}"
  run_a() {
    case $1 in
      any | cold) "$HL" -q verify --key "$WORK/ours.pub" "${A[0]}" >/dev/null ;;
      fetched) "$HL" -q verify --key "$WORK/ours.pub" "${C[0]}" >/dev/null ;;
      legacy) "$HL" -q verify --format legacy --key "$WORK/ours.pub" "${A[0]}" >/dev/null ;;
      cosign) "$COSIGN" verify --key "$WORK/theirs.pub" --insecure-ignore-tlog=true "${B[0]}" >/dev/null 2>&1 ;;
      version) "$HL" --version >/dev/null ;;
    esac
  }
  interleave run_a any legacy cosign version cold fetched
  ours=$(sampled any); theirs=$(sampled cosign)
  # The floor: starting our binary (--version does nothing else) plus the requests
  # a verify makes in a row: the tag, then the .sig manifest (its payload is the one
  # verify writes itself). `--format any` (the default) also looks for bundles: the
  # fallback tag (404) beside the .sig. (The referrers API, 404 here, is asked once
  # an hour: the answer is kept, registry::hints.) Measured as a one-shot client
  # meets the registry: new connections, the registry idle for 40 ms before (about
  # one cosign run; in the loop above the registry rests between commands, and an
  # idle registry answers slower), and on a warm connection.
  local start p legacy cold fetched
  start=$(sampled version)
  read -ra p < <(verify_paths legacy "${A[0]}")
  local rtt rtt_idle floor floor_idle
  rtt=$(round_trips "${p[0]}" "${p[1]}" --also "${p[2]}")
  rtt_idle=$(round_trips --idle 40 "${p[0]}" "${p[1]}" --also "${p[2]}")
  floor=$(python3 -c "print(f'{$start + $rtt:.4f}')")
  floor_idle=$(python3 -c "print(f'{$start + $rtt_idle:.4f}')")
  # C[0]'s payload is fetched: one more request in a row, the registry's costliest.
  local rtt_fetched floor_fetched
  read -ra p < <(verify_paths fetched "${C[0]}")
  rtt_fetched=$(round_trips --idle 40 "${p[0]}" "${p[1]}" "${p[2]}" --also "${p[3]}")
  floor_fetched=$(python3 -c "print(f'{$start + $rtt_fetched:.4f}')")
  legacy=$(sampled legacy); cold=$(sampled cold); fetched=$(sampled fetched)
  report "(a) verify 1 (median of 15): ours ${ours}s / cosign ${theirs}s" "ratio $(ratio "$ours" "$theirs") (target <= 0.2)"
  report "    floor: start ${start}s + 2 round trips and the look-up ${rtt_idle}s" "floor ratio $(ratio "$floor_idle" "$theirs"); ours / it $(ratio "$ours" "$floor_idle")"
  report "    the same on a warm connection: ${rtt}s" "floor ratio $(ratio "$floor" "$theirs")"
  report "    the first verify of the image (nothing stored): ${cold}s" "ratio $(ratio "$cold" "$theirs") (target <= 0.2); ours / floor $(ratio "$cold" "$floor_idle")"
  report "    --format legacy (cosign 2.5's own work): ${legacy}s" "ratio $(ratio "$legacy" "$theirs") (target <= 0.2)"
  report "    a payload verify cannot write (signed with an annotation not asked for), first verify: ${fetched}s" "ratio $(ratio "$fetched" "$theirs")"
  report "    its floor: start + 3 round trips and the look-up ${rtt_fetched}s" "floor ratio $(ratio "$floor_fetched" "$theirs"); ours / it $(ratio "$fetched" "$floor_fetched")"
  echo "    (a) samples, ours: ${SAMPLES[any]}" >&2
  echo "    (a) samples, ours --format legacy: ${SAMPLES[legacy]}" >&2
  echo "    (a) samples, ours, first verify: ${SAMPLES[cold]}" >&2
  echo "    (a) samples, ours, first verify, payload fetched: ${SAMPLES[fetched]}" >&2
  echo "    (a) samples, cosign: ${SAMPLES[cosign]}" >&2

  local mo mt
  mo=$(measure "$HL" -q verify --key "$WORK/ours.pub" "${A[0]}" | cut -d' ' -f2)
  /usr/bin/time -o "$WORK/mem-theirs" -f %M "$COSIGN" verify --key "$WORK/theirs.pub" --insecure-ignore-tlog=true "${B[0]}" >/dev/null 2>&1
  mt=$(tail -1 "$WORK/mem-theirs")
  report "(d) peak RSS of (a): ours ${mo} KiB / cosign ${mt} KiB" "ratio $(ratio "$mo" "$mt") (target <= 0.15)"

  "$HL" -q sign --key "$WORK/ours.key" "${A[@]:100}"
  sync

  # (b) batches. The registry's own CPU for the requests of our run, spread over every
  # core, is a floor no client can go under; three runs of each size, medians.
  local rpid n run r0 r1 wall rss cpu P256
  rpid=$(registry_pid)
  P256=$(p256_verify_seconds)
  declare -A WALL RSS
  # What a client that does nothing else gets from this registry: curl asking for the
  # same requests (our verify's: the tag, the .sig, the fallback tag), 16 at a time, with no
  # order between them and no checks; its wall time against the same floor.
  verify_paths legacy "${A[@]:0:1000}" >"$WORK/paths-1000"
  head -100 "$WORK/paths-1000" >"$WORK/paths-100"
  for n in 100 1000; do
    local walls=() ratios=() cpus=() rsss=() floors=() cpu_ratios=() idles=()
    for run in 1 2 3; do
      rm -rf "$HARBOR_LAB_CACHE/content"  # as a first verify, all of the requests curl makes
      r0=$(cpu_seconds "$rpid")
      read -r wall rss cpu < <(measure "$HL" -q verify --key "$WORK/ours.pub" "${A[@]:0:$n}")
      r1=$(cpu_seconds "$rpid")
      floor=$(core_floor "$r0" "$r1")
      walls+=("$wall"); cpus+=("$cpu"); rsss+=("$rss"); floors+=("$floor")
      idles+=("$(unused_share "$wall" "$r0" "$r1" "$cpu")")
      ratios+=("$(ratio "$wall" "$floor")")
      # The same ratio if the two cores did nothing but the registry's work and ours:
      # (registry CPU + our CPU) / registry CPU. Independent of other load on the machine.
      cpu_ratios+=("$(python3 -c "print(f'{($r1 - $r0 + $cpu) / ($r1 - $r0):.3f}')")")
    done
    WALL[$n]=$(printf '%s\n' "${walls[@]}" | median)
    RSS[$n]=$(printf '%s\n' "${rsss[@]}" | sort -n | tail -1)
    report "(b) verify $n in one run (median of 3): ${WALL[$n]}s" "ratio to floor $(printf '%s\n' "${ratios[@]}" | median) (target <= 1.15)"
    report "    floor: registry CPU / $(nproc) cores $(printf '%s\n' "${floors[@]}" | median)s; our CPU $(printf '%s\n' "${cpus[@]}" | median)s" "peak RSS ${RSS[$n]} KiB"
    report "    CPU-bound ratio: (registry + our CPU) / registry CPU" "$(printf '%s\n' "${cpu_ratios[@]}" | median) (target <= 1.15)"
    # What neither the registry nor our process used of the cores while it ran (idle,
    # or other processes): the gap between the two ratios above. The clients below
    # leave such a gap as well.
    report "    cores unused by the registry and us" "$(printf '%s\n' "${idles[@]}" | median) % of ${WALL[$n]}s x $(nproc)"
    client_floor curl "floor in practice: curl, the same $((3 * n)) requests, no checks" \
      curl_all "$WORK/paths-$n"
    client_floor h2load "floor in practice: h2load, $((3 * n)) requests of the same kinds" \
      h2load_all "$WORK/paths-$n"
    # The HTTP client we are asked to use (reqwest), as verify builds it, on the same
    # requests with nothing else to do: what the stack costs before verify adds a thing.
    client_floor reqwest "floor of the requested stack: reqwest alone, the same $((3 * n)) requests" \
      wall_cpu "$GET_PATHS" "$REG" "$WORK/paths-$n"
    # Against the registry's CPU in our runs (the floor times the cores).
    local checks; checks=$(python3 -c "print(f'{$n * $P256:.4f}')")
    report "    the signature checks alone: $n x $(python3 -c "print(f'{$P256 * 1e6:.0f}')") us (openssl speed)" "${checks}s of CPU = $(ratio "$checks" "$(python3 -c "print($(printf '%s\n' "${floors[@]}" | median) * $(nproc))")") of the registry's"
  done
  report "(b) linearity: time 1000 / time 100" "$(ratio "${WALL[1000]}" "${WALL[100]}") (target <= 10.5)"
  report "(b) linearity: peak RSS 1000 / peak RSS 100" "$(ratio "${RSS[1000]}" "${RSS[100]}") (target <= 2)"

  # For reference: 100 images in one of our runs against 100 cosign runs.
  t0=$EPOCHREALTIME
  for img in "${B[@]}"; do "$COSIGN" verify --key "$WORK/theirs.pub" --insecure-ignore-tlog=true "$img" >/dev/null 2>&1; done
  t1=$EPOCHREALTIME; theirs=$(seconds "$t0" "$t1")
  report "    verify 100: ours ${WALL[100]}s / 100 cosign runs ${theirs}s" "ratio $(ratio "${WALL[100]}" "$theirs")"
}

bench_bundle() {
  local -x HARBOR_LAB_CACHE="$WORK/cache"
  local a b
  echo "== bundle: putting 200 images into $REG" >&2
  local run; run="bundle$(date +%s)"
  mapfile -t a < <(python3 scripts/bench-images.py "$REG" "$run" a 100)
  mapfile -t b < <(python3 scripts/bench-images.py "$REG" "$run" b 100)
  (cd "$WORK" && rm -f ours3.* theirs3.* && "$HL" -q keys generate --output-key-prefix ours3 \
     && "$COSIGN3" generate-key-pair --output-key-prefix theirs3 >/dev/null 2>&1 </dev/null)
  "$HL" -q sign --format bundle --key "$WORK/ours3.key" "${a[@]}"
  local img
  for img in "${b[@]}"; do
    "$COSIGN3" sign --key "$WORK/theirs3.key" --tlog-upload=false --use-signing-config=false \
      --allow-insecure-registry -y "$img" >/dev/null 2>&1
  done
  local t0 t1 ours theirs rpid rcpu0 rcpu1 floor
  rpid=$(registry_pid)
  rcpu0=$(cpu_seconds "$rpid")
  t0=$EPOCHREALTIME; "$HL" -q verify --key "$WORK/ours3.pub" "${a[@]}" >/dev/null; t1=$EPOCHREALTIME
  rcpu1=$(cpu_seconds "$rpid")
  ours=$(seconds "$t0" "$t1")
  t0=$EPOCHREALTIME
  for img in "${b[@]}"; do
    "$COSIGN3" verify --key "$WORK/theirs3.pub" --insecure-ignore-tlog --allow-insecure-registry "$img" >/dev/null 2>&1
  done
  t1=$EPOCHREALTIME; theirs=$(seconds "$t0" "$t1")
  report "(i) verify 100 bundles: ours ${ours}s / cosign 3 ${theirs}s" "ratio $(ratio "$ours" "$theirs") (target <= 0.05)"
  floor=$(core_floor "$rcpu0" "$rcpu1")
  report "    registry CPU in our run: $(python3 -c "print(f'{$rcpu1 - $rcpu0:.2f}')")s on $(nproc) cores" "floor ratio $(ratio "$floor" "$theirs") (ours within 1.25x of it: $(python3 -c "print($ours <= 1.25 * $floor)"))"

  run_h() {
    case $1 in
      ours | cold) "$HL" -q verify --key "$WORK/ours3.pub" "${a[0]}" >/dev/null ;;
      cosign) "$COSIGN3" verify --key "$WORK/theirs3.pub" --insecure-ignore-tlog --allow-insecure-registry "${b[0]}" >/dev/null 2>&1 ;;
      version) "$HL" --version >/dev/null ;;
    esac
  }
  interleave run_h ours cosign version cold
  ours=$(sampled ours); theirs=$(sampled cosign)
  report "(h) verify 1 bundle (median of 15): ours ${ours}s / cosign 3 ${theirs}s" "ratio $(ratio "$ours" "$theirs") (target <= 0.3; issue 13: <= 0.2)"
  # The floors: our process start plus the requests in a row a bundle verify needs
  # here, with the .sig (a 404) asked beside them on a second connection, as a
  # one-shot client meets the registry (idle before, new connections; as (a)). Run
  # again: the tag's manifest and the fallback index (the bundle's manifest and blob
  # are in the content store). The first time: those, the bundle's manifest, its blob.
  local start rtt floor p cold
  start=$(sampled version)
  read -ra p < <(verify_paths bundle "${a[0]}")
  rtt=$(round_trips --idle 40 "${p[0]}" "${p[1]}" --also "${p[4]}")
  floor=$(python3 -c "print(f'{$start + $rtt:.4f}')")
  report "    floor: start ${start}s + 2 round trips ${rtt}s" "floor ratio $(ratio "$floor" "$theirs"); ours / it $(ratio "$ours" "$floor")"
  cold=$(sampled cold)
  report "    the first verify of the image: ${cold}s" "ratio $(ratio "$cold" "$theirs") (target <= 0.3; issue 13: <= 0.2)"
  rtt=$(round_trips --idle 40 "${p[0]}" "${p[1]}" "${p[2]}" "${p[3]}" --also "${p[4]}")
  floor=$(python3 -c "print(f'{$start + $rtt:.4f}')")
  report "    floor: start + 4 round trips ${rtt}s" "floor ratio $(ratio "$floor" "$theirs"); ours / it $(ratio "$cold" "$floor")"
  echo "    (h) samples, ours: ${SAMPLES[ours]}" >&2
  echo "    (h) samples, ours, first verify: ${SAMPLES[cold]}" >&2
  echo "    (h) samples, cosign 3: ${SAMPLES[cosign]}" >&2
}

bench_download() {
  source scripts/bench-download.sh
}

bench_lab_section() {
  source scripts/bench-lab.sh
}

bench_tuf() {
  echo "== tuf: putting 100 signed, pinned images into $REG" >&2
  local run imgs
  run="tufbench$(date +%s)"
  mapfile -t imgs < <(python3 scripts/bench-images.py "$REG" "$run" t 100)
  (cd "$WORK" && "$HL" -q keys generate --output-key-prefix tufkey --force)
  "$HL" -q sign --key "$WORK/tufkey.key" "${imgs[@]}"
  "$HL" -q tuf init --repo "$WORK/tufrepo" --force
  "$HL" -q tuf pin --repo "$WORK/tufrepo" --key "$WORK/tufkey.pub" "${imgs[@]}"
  # The metadata from the repository's directory (--tuf-url defaults to it),
  # with a trusted store of the bench's own; the first run makes it.
  local tuf=(--tuf "$WORK/tufrepo/metadata/1.root.json")
  export HARBOR_LAB_HOME="$WORK/tufstate"
  "$HL" -q verify --key "$WORK/tufkey.pub" "${tuf[@]}" "${imgs[0]}" >/dev/null

  local so=() st=() t0 t1 ours theirs i
  for i in $(seq 1 15); do
    t0=$EPOCHREALTIME; "$HL" -q verify --key "$WORK/tufkey.pub" "${tuf[@]}" "${imgs[0]}" >/dev/null; t1=$EPOCHREALTIME; so+=("$(seconds "$t0" "$t1")")
    t0=$EPOCHREALTIME; "$HL" -q verify --key "$WORK/tufkey.pub" "${imgs[0]}" >/dev/null; t1=$EPOCHREALTIME; st+=("$(seconds "$t0" "$t1")")
  done
  ours=$(printf '%s\n' "${so[@]}" | median); theirs=$(printf '%s\n' "${st[@]}" | median)
  report "(j) verify 1 (median of 15): --tuf ${ours}s / plain ${theirs}s" "ratio $(ratio "$ours" "$theirs") (target <= 1.5)"
  so=(); st=()
  for i in $(seq 1 5); do
    t0=$EPOCHREALTIME; "$HL" -q verify --key "$WORK/tufkey.pub" "${tuf[@]}" "${imgs[@]}" >/dev/null; t1=$EPOCHREALTIME; so+=("$(seconds "$t0" "$t1")")
    t0=$EPOCHREALTIME; "$HL" -q verify --key "$WORK/tufkey.pub" "${imgs[@]}" >/dev/null; t1=$EPOCHREALTIME; st+=("$(seconds "$t0" "$t1")")
  done
  ours=$(printf '%s\n' "${so[@]}" | median); theirs=$(printf '%s\n' "${st[@]}" | median)
  report "(j) verify 100 (median of 5): --tuf ${ours}s / plain ${theirs}s" "ratio $(ratio "$ours" "$theirs") (target <= 1.2)"
  unset HARBOR_LAB_HOME
}

case "$WHAT" in
  cosign) bench_cosign ;;
  bundle) bench_bundle ;;
  download) bench_download ;;
  lab) bench_lab_section ;;
  tuf) bench_tuf ;;
  all) bench_cosign; bench_bundle; bench_download; bench_lab_section; bench_tuf ;;
  *) echo "usage: bench.sh [cosign|bundle|download|lab|tuf|all]" >&2; exit 2 ;;
esac
