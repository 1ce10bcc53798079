#!/usr/bin/env bash
# order-file.sh: regenerate scripts/verify.order, the symbol order scripts/build.rs gives
# the release link: every function a `verify` runs (against the loopback registry,
# the first time and again, then of a bundle-signed image), in the order callgrind
# first meets them. Run it after changes that
# rename many symbols (a new rustc, new dependency versions); a stale order is
# harmless (unknown names are skipped), it only lays out less of the code.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lab-env.sh
source scripts/lab-env.sh
command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null
cargo build --release -q --bin harbor-lab
HL="$CARGO_TARGET_DIR/release/harbor-lab"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export HOME="$WORK" COSIGN_PASSWORD=order
mapfile -t images < <(python3 scripts/bench-images.py "$HARBOR_LAB_TEST_REGISTRY" "order$(date +%s)" a 2)
image=${images[0]} bundled=${images[1]}
(cd "$WORK" && "$HL" -q keys generate --output-key-prefix k)
"$HL" -q sign --key "$WORK/k.key" "$image"
"$HL" -q sign --format bundle --key "$WORK/k.key" "$bundled"
# Three verifies with a cache of their own: the first of an image (it asks for the
# referrers API and keeps the payload), then the same again (the hint and the content
# store), then the first of a bundle-signed image; the functions each run meets that
# the ones before it did not follow theirs, so a legacy verify's stay together.
export HARBOR_LAB_CACHE="$WORK/cache"
for run in first again bundle; do
  target=$image
  [ "$run" = bundle ] && target=$bundled
  valgrind -q --tool=callgrind --demangle=no --callgrind-out-file="$WORK/cg-$run.out" \
    "$HL" -q verify --key "$WORK/k.pub" "$target" >/dev/null
done
python3 - "$WORK/cg-first.out" "$WORK/cg-again.out" "$WORK/cg-bundle.out" > scripts/verify.order.new <<'PY'
import re, sys
seen = set()
for path in sys.argv[1:]:
    for line in open(path):
        m = re.match(r"c?fn=\(\d+\) (\S+)$", line.strip())
        if m and not m.group(1).startswith("0x") and m.group(1) not in seen:
            seen.add(m.group(1))
            print(m.group(1))
PY
mv scripts/verify.order.new scripts/verify.order
echo "order-file.sh: $(wc -l < scripts/verify.order) symbols in scripts/verify.order; rebuild the release binary to use them" >&2
