#!/usr/bin/env bash
# Ingest benchmark (not a test): a synthetic feedback CSV of ROWS rows (default 1,000,000)
# ingested by xinqing, beside DuckDB's own read_csv of the same file into a table, the floor
# for any loader built on DuckDB. Prints rows/s and peak RSS for both.
#
#   bash benches/ingest.sh            # 1,000,000 rows
#   ROWS=200000 bash benches/ingest.sh
#
# Needs /usr/bin/time (Debian package "time") and, for the floor, Python's duckdb package
# (installed with pip if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/xinqing-target}"
ROWS="${ROWS:-1000000}"
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/xinqing"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

"$BIN" synth --days 1 --per-day "$ROWS" --kinds feedback --out "$WORK/data" >/dev/null
FILE="$WORK/data/feedback/feedback-2020-02-01.csv"
BYTES=$(stat -c %s "$FILE")
echo "file: $ROWS rows, $((BYTES / 1024 / 1024)) MiB, UTF-8 with BOM, Chinese headers"

measure() { # label, command...
  local label="$1"; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err"; exit 1; }
  read -r secs rss_kb <"$WORK/time"
  awk -v l="$label" -v s="$secs" -v k="$rss_kb" -v n="$ROWS" \
    'BEGIN { printf "%-28s %8.2f s  %10.0f rows/s  peak RSS %6.0f MiB\n", l, s, n / s, k / 1024 }'
}

export XINQING_PSEUDONYM_KEY="benchmark-key-not-secret-0123456789"
measure "xinqing ingest feedback" "$BIN" --db "$WORK/x.duckdb" ingest feedback "$FILE"
measure "  again (same file, skipped)" "$BIN" --db "$WORK/x.duckdb" ingest feedback "$FILE"
measure "  --force (all unchanged)" "$BIN" --db "$WORK/x.duckdb" ingest feedback --force "$FILE"

python3 -c "import duckdb" 2>/dev/null || pip install --quiet duckdb
cat >"$WORK/floor.py" <<PY
import duckdb
con = duckdb.connect("$WORK/floor.duckdb")
con.execute("SET threads = 2")
con.execute("CREATE TABLE f AS SELECT * FROM read_csv('$FILE', header = true, all_varchar = true)")
print(con.execute("SELECT count(*) FROM f").fetchone()[0])
PY
measure "duckdb read_csv (floor)" python3 "$WORK/floor.py"
echo "floor rows: $(cat "$WORK/out"); duckdb $(python3 -c 'import duckdb; print(duckdb.__version__)')"
echo "store rows: $("$BIN" --db "$WORK/x.duckdb" query --format csv 'SELECT count(*) FROM feedback_messages' | tail -1)"
