#!/usr/bin/env bash
# bench.sh: harbor-lab's speed against the real peers, on the loopback registry.
# Prints ratios (ours / theirs; lower is better) with their targets:
#   cosign (a) verify one image, wall time          target <= 0.5
#          (b) verify 100 images: 1 of our runs vs 100 cosign runs   <= 0.05
#          (c) sign 100 images:   1 of our runs vs 100 cosign runs   <= 0.05
#          (d) peak memory of (a)                    target <= 0.3
#   download (e) 1 GiB from loopback, checksum included, vs curl -o  <= 1.1
#            (f) peak memory of (e)                  target <= 32 MiB
#            (g) a second `install` when everything is done          <= 1 s
#   cosign 3 (sigstore bundles; the registry has no referrers API, so the fallback tag)
#          (h) verify one bundle-signed image, wall time      target <= 0.3
#          (i) verify 100: 1 of our runs vs 100 cosign 3 runs  <= 0.05 (or within 1.25x
#              of the registry's own CPU floor, printed)
# Usage: scripts/bench.sh [cosign|bundle|download|all]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
WHAT="${1:-all}"

# shellcheck source=scripts/lab-env.sh
source scripts/lab-env.sh
for need in /usr/bin/time:time python3:python3 ss:iproute2; do
  command -v "${need%%:*}" >/dev/null || { echo "bench.sh: needs ${need%%:*} (apt-get install ${need##*:})" >&2; exit 3; }
done
cargo build --release -q --workspace --bins --examples
HL="$CARGO_TARGET_DIR/release/harbor-lab"
FETCH="$CARGO_TARGET_DIR/release/examples/fetch"
COSIGN="$HARBOR_LAB_COSIGN"
COSIGN3="$HARBOR_LAB_COSIGN3"
REG="$HARBOR_LAB_TEST_REGISTRY"
DOCKER=$(command -v /usr/bin/docker || command -v docker)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export COSIGN_PASSWORD=bench HOME="$WORK"

now() { date +%s.%N; }
ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'{a / b:.3f}')" "$1" "$2"; }
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
report() { printf '%-58s %s\n' "$1" "$2"; }
# The loopback registry's pid, and a process's user+system CPU in seconds.
registry_pid() { ss -Hltnp "sport = :${REG##*:}" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1; }
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }

# images RUN: push 2 x 100 tags of one busybox image; sets the arrays a and b.
images() {
  echo "== $1: setting up 200 images in $REG" >&2
  local run="$1$(date +%s)" i
  mkdir -p "$WORK/rootfs/bin"
  cp "$(command -v busybox)" "$WORK/rootfs/bin/"
  tar -C "$WORK/rootfs" -cf "$WORK/rootfs.tar" .
  "$DOCKER" import "$WORK/rootfs.tar" "$REG/$run/base:v1" >/dev/null
  a=(); b=()
  for i in $(seq 1 100); do
    a+=("$REG/$run/a$i:v1"); b+=("$REG/$run/b$i:v1")
    "$DOCKER" tag "$REG/$run/base:v1" "$REG/$run/a$i:v1"
    "$DOCKER" tag "$REG/$run/base:v1" "$REG/$run/b$i:v1"
  done
  for img in "${a[@]}" "${b[@]}"; do "$DOCKER" push -q "$img" >/dev/null 2>&1 || "$DOCKER" push "$img" >/dev/null; done
}

bench_cosign() {
  local a b
  images bench
  (cd "$WORK" && "$HL" -q keys generate --output-key-prefix ours && "$COSIGN" generate-key-pair --output-key-prefix theirs >/dev/null 2>&1 </dev/null)

  local t0 t1 ours theirs
  t0=$(now); "$HL" -q sign --key "$WORK/ours.key" "${a[@]}"; t1=$(now)
  ours=$(python3 -c "print($t1 - $t0)")
  t0=$(now)
  for img in "${b[@]}"; do "$COSIGN" sign --key "$WORK/theirs.key" --tlog-upload=false -y "$img" >/dev/null 2>&1; done
  t1=$(now); theirs=$(python3 -c "print($t1 - $t0)")
  report "(c) sign 100: ours ${ours}s / cosign ${theirs}s" "ratio $(ratio "$ours" "$theirs") (target <= 0.05)"

  local rpid rcpu0 rcpu1
  rpid=$(registry_pid)
  rcpu0=$(cpu_seconds "$rpid")
  t0=$(now); "$HL" -q verify --key "$WORK/ours.pub" "${a[@]}" >/dev/null; t1=$(now)
  rcpu1=$(cpu_seconds "$rpid")
  ours=$(python3 -c "print($t1 - $t0)")
  t0=$(now)
  for img in "${b[@]}"; do "$COSIGN" verify --key "$WORK/theirs.pub" --insecure-ignore-tlog=true "$img" >/dev/null 2>&1; done
  t1=$(now); theirs=$(python3 -c "print($t1 - $t0)")
  report "(b) verify 100: ours ${ours}s / cosign ${theirs}s" "ratio $(ratio "$ours" "$theirs") (target <= 0.05)"
  # The registry's own CPU for the 300 requests of our run, spread over every core, is
  # a floor no client can go under: print it as a ratio too.
  local floor
  floor=$(python3 -c "print(($rcpu1 - $rcpu0) / $(nproc))")
  report "    registry CPU in our run: $(python3 -c "print(f'{$rcpu1 - $rcpu0:.2f}')")s on $(nproc) cores" "floor ratio $(ratio "$floor" "$theirs")"

  local so=() st=()
  for i in $(seq 1 15); do
    t0=$(now); "$HL" -q verify --key "$WORK/ours.pub" "${a[0]}" >/dev/null; t1=$(now); so+=("$(python3 -c "print($t1 - $t0)")")
    t0=$(now); "$COSIGN" verify --key "$WORK/theirs.pub" --insecure-ignore-tlog=true "${b[0]}" >/dev/null 2>&1; t1=$(now); st+=("$(python3 -c "print($t1 - $t0)")")
  done
  ours=$(printf '%s\n' "${so[@]}" | median); theirs=$(printf '%s\n' "${st[@]}" | median)
  report "(a) verify 1 (median of 15): ours ${ours}s / cosign ${theirs}s" "ratio $(ratio "$ours" "$theirs") (target <= 0.5)"

  local mo mt
  /usr/bin/time -o "$WORK/mem-ours" -f %M "$HL" -q verify --key "$WORK/ours.pub" "${a[0]}" >/dev/null 2>&1
  /usr/bin/time -o "$WORK/mem-theirs" -f %M "$COSIGN" verify --key "$WORK/theirs.pub" --insecure-ignore-tlog=true "${b[0]}" >/dev/null 2>&1
  mo=$(tail -1 "$WORK/mem-ours"); mt=$(tail -1 "$WORK/mem-theirs")
  report "(d) peak RSS of (a): ours ${mo} KiB / cosign ${mt} KiB" "ratio $(ratio "$mo" "$mt") (target <= 0.3)"
}

bench_bundle() {
  local a b
  images bundle
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
  t0=$(now); "$HL" -q verify --key "$WORK/ours3.pub" "${a[@]}" >/dev/null; t1=$(now)
  rcpu1=$(cpu_seconds "$rpid")
  ours=$(python3 -c "print($t1 - $t0)")
  t0=$(now)
  for img in "${b[@]}"; do
    "$COSIGN3" verify --key "$WORK/theirs3.pub" --insecure-ignore-tlog --allow-insecure-registry "$img" >/dev/null 2>&1
  done
  t1=$(now); theirs=$(python3 -c "print($t1 - $t0)")
  report "(i) verify 100 bundles: ours ${ours}s / cosign 3 ${theirs}s" "ratio $(ratio "$ours" "$theirs") (target <= 0.05)"
  floor=$(python3 -c "print(($rcpu1 - $rcpu0) / $(nproc))")
  report "    registry CPU in our run: $(python3 -c "print(f'{$rcpu1 - $rcpu0:.2f}')")s on $(nproc) cores" "floor ratio $(ratio "$floor" "$theirs") (ours within 1.25x of it: $(python3 -c "print($ours <= 1.25 * $floor)"))"

  local so=() st=() i
  for i in $(seq 1 15); do
    t0=$(now); "$HL" -q verify --key "$WORK/ours3.pub" "${a[0]}" >/dev/null; t1=$(now); so+=("$(python3 -c "print($t1 - $t0)")")
    t0=$(now); "$COSIGN3" verify --key "$WORK/theirs3.pub" --insecure-ignore-tlog --allow-insecure-registry "${b[0]}" >/dev/null 2>&1; t1=$(now); st+=("$(python3 -c "print($t1 - $t0)")")
  done
  ours=$(printf '%s\n' "${so[@]}" | median); theirs=$(printf '%s\n' "${st[@]}" | median)
  report "(h) verify 1 bundle (median of 15): ours ${ours}s / cosign 3 ${theirs}s" "ratio $(ratio "$ours" "$theirs") (target <= 0.3)"
}

bench_download() {
  source scripts/bench-download.sh
}

case "$WHAT" in
  cosign) bench_cosign ;;
  bundle) bench_bundle ;;
  download) bench_download ;;
  all) bench_cosign; bench_bundle; bench_download ;;
  *) echo "usage: bench.sh [cosign|bundle|download|all]" >&2; exit 2 ;;
esac
