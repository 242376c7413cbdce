#!/usr/bin/env bash
# Bulletin benchmark (not a test): the time and peak RSS of `xinqing bulletin` for a day
# holding ROWS feedback messages (default 1,000,000) and ROWS/2 hotline calls, first with the
# 29 days before it (the 30-day trend window) at HISTORY messages a day, then again after
# EXTRA more days of older history are added (default 150), to show that the cost does not
# grow with the stored history.
#
#   bash benches/bulletin.sh
#   ROWS=200000 HISTORY=10000 EXTRA=60 bash benches/bulletin.sh
#
# Needs /usr/bin/time (Debian package "time").
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/xinqing-target}"
ROWS="${ROWS:-1000000}"
HISTORY="${HISTORY:-20000}"
EXTRA="${EXTRA:-150}"
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/xinqing"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export XINQING_PSEUDONYM_KEY="benchmark-key-not-secret-0123456789"
DB="$WORK/x.duckdb"

ingest_dir() { # directory of synth output
  for kind in hotline feedback screening; do
    ls "$1/$kind"/*.csv >/dev/null 2>&1 && "$BIN" --db "$DB" ingest "$kind" "$1/$kind"/*.csv >/dev/null
  done
}

# The bulletin day, 2020-06-30, and the 29 days before it.
"$BIN" synth --days 1 --per-day "$ROWS" --start 2020-06-30 --seed 1 --out "$WORK/day" >/dev/null
"$BIN" synth --days 29 --per-day "$HISTORY" --start 2020-06-01 --seed 2 --out "$WORK/month" >/dev/null
/usr/bin/time -f "%e" -o "$WORK/t" bash -c "$(declare -f ingest_dir); BIN=$BIN DB=$DB; ingest_dir $WORK/day; ingest_dir $WORK/month"
echo "stored: $("$BIN" --db "$DB" query --format csv "SELECT (SELECT count(*) FROM feedback_messages) || ' messages, ' || (SELECT count(*) FROM hotline_calls) || ' calls'" | tail -1) (ingest $(cat "$WORK/t") s)"

measure() { # label
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$BIN" --db "$DB" bulletin --date 2020-06-30 --out "$WORK/out" >/dev/null
  read -r secs rss_kb <"$WORK/time"
  printf "%-44s %6.2f s  peak RSS %5.0f MiB\n" "$1" "$secs" "$((rss_kb / 1024))"
}
measure "bulletin, day of $ROWS messages + 29 days"
measure "  again"

"$BIN" synth --days "$EXTRA" --per-day "$HISTORY" --start 2020-01-02 --seed 3 --out "$WORK/old" >/dev/null
ingest_dir "$WORK/old"
echo "stored: $("$BIN" --db "$DB" query --format csv "SELECT (SELECT count(*) FROM feedback_messages) || ' messages, ' || (SELECT count(*) FROM hotline_calls) || ' calls'" | tail -1) after $EXTRA older days"
measure "bulletin, same day, with $EXTRA more days stored"
measure "  again"
