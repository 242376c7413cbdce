#!/usr/bin/env bash
# Whether two builds of xinqing score the same inputs byte for byte (a check for a change meant to
# make the engine faster and nothing else, not a test): both shared files, every crisis set, the
# feedback and emotion probes, and 4,000 awkward texts made from them (long runs without a mark,
# spaces between characters, capitals, written Cantonese, hotline-note frames, repeated violent
# words, reposts and emoticons, line breaks, reversed lines). Keep a copy of the binary before
# the change: cp "$CARGO_TARGET_DIR/release/xinqing" /tmp/xinqing-before
# Usage: bash benches/same_output.sh /tmp/xinqing-before [BIN_AFTER]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/xinqing-target}"
before=${1:?usage: same_output.sh BIN_BEFORE [BIN_AFTER]}
after=${2:-}
if [ -z "$after" ]; then
  cargo build --release --quiet
  after="$CARGO_TARGET_DIR/release/xinqing"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
DATA=../shared/datasets
python3 - "$work" "$DATA" tests/data dictionaries/crisis.toml <<'PY'
import csv, glob, json, os, random, re, sys
out, data, tests, toml = sys.argv[1:]
crisis = []
for f in sorted(glob.glob(os.path.join(tests, "crisis_*.tsv"))):
    for line in open(f, encoding="utf-8"):
        if line.startswith("#") or "\t" not in line:
            continue
        tier, text = line.rstrip("\n").split("\t", 1)
        if tier != "tier":
            crisis.append(text)
with open(os.path.join(out, "crisis.csv"), "w", encoding="utf-8", newline="") as o:
    w = csv.writer(o); w.writerow(["text"]); w.writerows([t] for t in crisis)
reviews = [r["review"] for r in csv.DictReader(open(os.path.join(data, "chnsenticorp_htl_all.csv"), encoding="utf-8"))]
dialect = re.findall(r'^"?([^"=\s#\[]+)"?\s*=', open(toml, encoding="utf-8").read().split("[dialect]", 1)[1].split("\n[", 1)[0], re.M)
random.seed(7)
def spaced(s): return "".join(c + (" " if random.random() < 0.15 else "") for c in s)
texts = []
for i in range(4000):
    a, b = random.choice(crisis), random.choice(reviews)
    k = i % 10
    texts.append([
        lambda: re.sub(r"[。！？；!?;\n]", "", a + b + a) * random.randint(1, 5),
        lambda: spaced(a),
        lambda: "来电者称" + a + "。来电学生说" + random.choice(crisis),
        lambda: a.upper() + " I WANT TO DIE " + b,
        lambda: random.choice(dialect) + a + random.choice(dialect),
        lambda: "烧死" * random.randint(1, 200) + a,
        lambda: "//@某人:" + a + " #话题# [泪][怒] http://x.cn/abc " + b,
        lambda: "".join(random.choice(a + b + "　 \u3000\t") for _ in range(random.randint(0, 300))),
        lambda: a + "\n" + b + "\r\n" + a,
        lambda: a[::-1] + b,
    ][k]())
texts += ["他" * 5000, "想死" * 3000]
with open(os.path.join(out, "awkward.csv"), "w", encoding="utf-8", newline="") as o:
    w = csv.writer(o); w.writerow(["text"]); w.writerows([t] for t in texts)
PY
inputs=(
  "$DATA/chnsenticorp_htl_all.csv review"
  "$DATA/smp2020_ewect_virus_train.jsonl content"
  "$work/crisis.csv text"
  "$work/awkward.csv text"
)
for f in tests/data/polarity_feedback_probe*.csv tests/data/emotion_feedback_probe.csv; do
  inputs+=("$f text")
done
differ=0
for spec in "${inputs[@]}"; do
  set -- $spec
  "$before" score --input "$1" --text-column "$2" --output "$work/a.jsonl" 2>/dev/null
  "$after" score --input "$1" --text-column "$2" --output "$work/b.jsonl" 2>/dev/null
  lines=$(wc -l < "$work/a.jsonl")
  if cmp -s "$work/a.jsonl" "$work/b.jsonl"; then
    echo "same       $lines lines  $(basename "$1")"
  else
    gone=$(diff "$work/a.jsonl" "$work/b.jsonl" | grep -c '^<' || true)
    new=$(diff "$work/a.jsonl" "$work/b.jsonl" | grep -c '^>' || true)
    echo "DIFFERENT  $(basename "$1"): $lines lines before, $(wc -l < "$work/b.jsonl") after; $gone changed or gone, $new changed or new"
    differ=1
  fi
done
exit $differ
