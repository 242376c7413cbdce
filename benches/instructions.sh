#!/usr/bin/env bash
# Instructions a pass over each labelled file in ../shared/datasets takes (a benchmark, not a
# test): the bare jieba-rs cut (HMM on) and the engine's whole analysis, each after a warm-up
# pass, counted by valgrind's callgrind in `measured_passes` alone. Unlike wall time on a shared
# machine, whose speed drifts by a third from run to run, the count is the same in every run,
# so a change to the engine can be weighed in one run of each binary. It is not the time: the
# cut misses the cache more than the engine does, so the time ratio runs below this one.
# The third count, `read`, is the engine's reading alone (normalise, segment, look up and walk
# the tokens), which every analysis needs before crisis, emotions, topics and keywords: the
# least the engine can cost with jieba-rs as its segmenter.
# Needs valgrind (apt-get install valgrind); about a minute a file.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/xinqing-target}"
command -v valgrind >/dev/null || { echo "benches/instructions.sh needs valgrind" >&2; exit 2; }
cargo build --release --quiet
BIN="${BIN:-$CARGO_TARGET_DIR/release/xinqing}"
DATA=../shared/datasets
count() { # file column part: instructions of one measured pass
  valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect='*measured_passes*' \
    "$BIN" bench-engine --input "$1" --text-column "$2" --only "$3" --rounds 1 2>&1 >/dev/null |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
for spec in "chnsenticorp_htl_all.csv review" "smp2020_ewect_virus_train.jsonl content"; do
  set -- $spec
  file="$DATA/$1"
  cut=$(count "$file" "$2" cut)
  engine=$(count "$file" "$2" engine)
  read=$(count "$file" "$2" read)
  awk -v f="$1" -v c="$cut" -v e="$engine" -v r="$read" -v b="$(stat -c %s "$file")" 'BEGIN {
    printf "%-36s cut %6.0f M instructions (%5.1f a byte)  engine %6.0f M (%5.1f a byte)  engine / cut %.2f×  reading alone / cut %.2f×\n",
      f, c / 1e6, c / b, e / 1e6, e / b, e / c, r / c }'
done
