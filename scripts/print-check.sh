#!/usr/bin/env bash
# Checks a bulletin in a headless browser (Debian's chromium): it loads with no failed
# resource, prints to A4, and the printed text still holds every section, every column header
# of the widest tables and every listed ID (a clipped table or chart loses them).
# Writes the pages as PNG beside the PDF for a look.
#
#   bash scripts/print-check.sh [BULLETIN_DIR]    # default: the demo's last day
#
# Needs: apt-get install chromium poppler-utils
set -euo pipefail
DIR="${1:-$(dirname "$0")/../xinqing-demo/reports/2020-03-01}"
[ -f "$DIR/bulletin.html" ] || { echo "no $DIR/bulletin.html (run: cargo run --release -- demo)"; exit 1; }
DIR="$(realpath "$DIR")"
HTML="$DIR/bulletin.html"
OUT="$(mktemp -d)"
chromium --headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0 \
  --no-pdf-header-footer --print-to-pdf="$OUT/bulletin.pdf" "file://$HTML" 2>"$OUT/log" >/dev/null
if grep -iE "Failed to load resource|net::ERR_" "$OUT/log"; then
  echo "FAIL: a resource failed to load"; exit 1
fi
pdfinfo "$OUT/bulletin.pdf" | grep -q "Page size: *594.96 x 841.92 pts (A4)" || { echo "FAIL: not A4"; exit 1; }
pdftotext -layout "$OUT/bulletin.pdf" "$OUT/text.txt"
missing=0
expect() { grep -qF -- "$1" "$OUT/text.txt" || { echo "missing in print: $1"; missing=1; }; }
for h in 一、总体态势 二、情绪分析 三、热点话题 四、高危预警 五、热线服务 六、重点人群 七、回复时效 八、工作建议 \
         近7日 非工作时段 95%置信区间 已等待（小时） 处置状态; do
  expect "$h"
done
python3 - "$DIR/bulletin.json" >"$OUT/ids" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
for i in b["crisis"]["items"]: print(i["id"])
for o in b["replies"]["overdue"]: print(o["msg_id"])
for c in b["charts"]: print(c["title"])
PY
while read -r id; do expect "$id"; done <"$OUT/ids"
pdftoppm -r 60 -png "$OUT/bulletin.pdf" "$OUT/page"
echo "$(pdfinfo "$OUT/bulletin.pdf" | grep Pages) of A4; $(wc -l <"$OUT/ids") IDs and chart titles checked; pages in $OUT"
[ "$missing" = 0 ] && echo "print check passed" || { echo "FAIL"; exit 1; }
