#!/bin/bash
# Speed of `zkb unknown` (every event framed and its level parsed, the unknown ones templated
# and grouped) on seeded realistic logs, against `zkb scan`, and against grep and ripgrep
# merely selecting the WARN/ERROR lines (no grouping at all), in one run. Writes its table into
# BENCHMARKS.md.
#
#   bench/unknown.sh            # 500 MB (half mailbox.log, half zimbra.log)
#   SIZE=100 bench/unknown.sh   # a quicker run (BENCHMARKS.md untouched)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-500}
need() { command -v "$1" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }; }
need rg ripgrep
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
cargo build --release -q
ZKB=$(pwd)/target/release/zkb
work=${BENCH_DIR:-/tmp/zkb-bench}/$SIZE
mkdir -p "$work"
[ -f "$work/zimbra.log" ] || "$ZKB" generate --out "$work" --size $((SIZE * 10 / 9)) --seed 7
files="$work/mailbox.log $work/zimbra.log"
mb=$(du -cm $files | tail -1 | cut -f1)
cat $files > /dev/null  # warm the page cache
out=$(mktemp)
run() {  # label, command...: best of 3 wall seconds (clock, not /usr/bin/time's 10 ms) and peak RSS
  local label=$1; shift
  local best=999999 rss=0
  for _ in 1 2 3; do
    local t0; t0=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$out.t" "$@" > "$out.o" 2>/dev/null || true
    best=$(python3 -c "print(min($best, $(date +%s.%N) - $t0))"); rss=$(cat "$out.t")
  done
  printf '| %s | %.3f s | %.0f MB/s | %d MB |\n' "$label" "$best" "$(python3 -c "print($mb / max($best, 0.001))")" $((rss / 1024))
}
{
  echo "$mb MB of seeded logs (\`zkb generate --seed 7\`: mailbox.log and zimbra.log), page cache warm, best of 3."
  echo
  echo "| Command | Time | Throughput | Peak RSS |"
  echo "|---|---|---|---|"
  run '`zkb unknown` (templates, grouped)' "$ZKB" unknown -q --limit 0 $files
  run '`zkb unknown --threads 1`' "$ZKB" unknown -q --limit 0 --threads 1 $files
  run '`zkb scan` (known problems only)' "$ZKB" scan -q --format json $files
  run '`rg -c "WARN|ERROR|error"` (selection only)' rg -c 'WARN|ERROR|error' $files
  run '`grep -cE "WARN|ERROR|error"` (selection only)' grep -cE 'WARN|ERROR|error' $files
  echo
  "$ZKB" unknown -q --limit 0 --format json $files > "$out.j"
  echo "zkb unknown found $(python3 -c "import json,sys; g=[json.loads(l) for l in open('$out.j')]; print(f'{sum(x[\"count\"] for x in g):,} events in {len(g)} templates')")."
} | tee "$out"
[ "$SIZE" != 500 ] && exit 0
python3 bench/put_block.py unknown.sh "$out" "Unknown events (\`zkb unknown\`)"
