#!/bin/bash
# Is zkb a good neighbour? A CPU-bound probe (one fixed-work loop pinned to each core, standing
# in for mailboxd) is timed alone, then while `zkb scan` runs over and over beside it, then while
# `zkb scan --low-priority` does. Reports the probe's slowdown and how far the scans got, and
# writes the table into BENCHMARKS.md.
#
#   bench/neighbour.sh       # uses the 500 MB set of bench/scan.sh (generated if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
ZKB=$(pwd)/target/release/zkb
work=${BENCH_DIR:-/tmp/zkb-bench}/500
[ -f "$work/zimbra.log" ] || "$ZKB" generate --out "$work" --size 555 --seed 7 >/dev/null
files="$work/mailbox.log $work/zimbra.log"
cores=$(nproc)
probe() { # one fixed-work loop per core, in parallel; prints the slowest wall time
  local pids=() out; out=$(mktemp)
  for c in $(seq 0 $((cores - 1))); do
    ( s=$(date +%s.%N); taskset -c "$c" python3 -c 'x=0
for i in range(25_000_000): x ^= i * i' ; echo "$(date +%s.%N) - $s" | bc >> "$out" ) &
    pids+=($!)
  done
  wait "${pids[@]}"
  sort -n "$out" | tail -1; rm -f "$out"
}
beside() { # runs `zkb scan $1` in a loop while the probe runs; prints "probe-seconds scans"
  local flag=$1 count; count=$(mktemp); echo 0 > "$count"
  ( while :; do "$ZKB" scan -q --format json $flag --data "$work/data" $files >/dev/null; echo $(( $(cat "$count") + 1 )) > "$count"; done ) &
  local loop=$!
  sleep 0.5
  local t; t=$(probe)
  kill "$loop" 2>/dev/null; wait "$loop" 2>/dev/null || true
  echo "$t $(cat "$count")"; rm -f "$count"
}
alone=$(probe)
read -r normal normal_scans < <(beside "")
read -r low low_scans < <(beside "--low-priority")
python3 - "$alone" "$normal" "$normal_scans" "$low" "$low_scans" "$cores" > "$work/neighbour.md" <<'PY'
import sys
alone, normal, ns, low, ls, cores = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
print(f"Probe: one fixed-work Python loop pinned to each of the {cores} cores; zkb scans the 500 MB set in a loop beside it.")
print()
print("| probe runs | probe time | slowdown | zkb scans finished meanwhile |")
print("|---|---|---|---|")
print(f"| alone | {alone:.2f} s | — | — |")
print(f"| beside `zkb scan` | {normal:.2f} s | {100 * (normal / alone - 1):+.0f}% | {ns} |")
print(f"| beside `zkb scan --low-priority` | {low:.2f} s | {100 * (low / alone - 1):+.0f}% | {ls} |")
PY
cat "$work/neighbour.md"
python3 - "$work/neighbour.md" <<'PY'
import re, sys, datetime
table = open(sys.argv[1]).read()
text = open("BENCHMARKS.md").read()
block = f"<!-- neighbour.sh:begin -->\n_Written by `bench/neighbour.sh` on {datetime.date.today()}._\n\n{table}<!-- neighbour.sh:end -->"
if "<!-- neighbour.sh:begin -->" in text:
    text = re.sub(r"<!-- neighbour.sh:begin -->.*<!-- neighbour.sh:end -->", lambda m: block, text, flags=re.S)
else:
    text += "\n## Good neighbour (`bench/neighbour.sh`)\n\n" + block + "\n"
open("BENCHMARKS.md", "w").write(text)
PY
