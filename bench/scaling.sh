#!/bin/bash
# How scan cost grows with input size (50 MB, 500 MB, 2 GB; all shipped rules) and with the
# number of rules (40, 200, 1,000 synthetic rules from bench/gen_rules.py on the 500 MB set),
# with the peak resident memory of every run. Prints a table and writes it into BENCHMARKS.md.
#
#   bench/scaling.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
need() { command -v "$1" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }; }
need hyperfine hyperfine
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
cargo build --release -q
ZKB=$(pwd)/target/release/zkb
base=${BENCH_DIR:-/tmp/zkb-bench}/scaling
mkdir -p "$base"
rows="$base/rows.tsv"; : > "$rows"

peak_kb() { { /usr/bin/time -v "$@" >/dev/null; } 2>&1 | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}'; }
measure() { # label, MB, command...
  local label=$1 mb=$2; shift 2
  hyperfine -N --output=pipe --warmup 1 --runs "$RUNS" --export-json "$base/h.json" "$*" >/dev/null
  local median; median=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$base/h.json")
  printf '%s\t%s\t%s\t%s\n' "$label" "$mb" "$median" "$(peak_kb "$@")" >> "$rows"
}

for size in 50 500 2000; do
  d="$base/$size"
  [ -f "$d/zimbra.log" ] || "$ZKB" generate --out "$d" --size $((size * 10 / 9)) --seed 7 >/dev/null
  mb=$(du -cm "$d/mailbox.log" "$d/zimbra.log" | tail -1 | cut -f1)
  measure "all shipped rules, $size MB" "$mb" "$ZKB" scan -q --format json --data "$base/data" "$d/mailbox.log" "$d/zimbra.log"
done

d="$base/500"
mb=$(du -cm "$d/mailbox.log" "$d/zimbra.log" | tail -1 | cut -f1)
head -c 30000000 "$d/mailbox.log" > "$base/sample-mailbox.log"
head -c 30000000 "$d/zimbra.log" > "$base/sample-zimbra.log"
for n in 40 200 1000; do
  python3 bench/gen_rules.py "$n" "$base/sample-mailbox.log" "$base/sample-zimbra.log" "$base/rules-$n.yaml" 2>/dev/null
  measure "$n synthetic rules, 500 MB" "$mb" "$ZKB" scan -q --format json --no-default-rules --rules "$base/rules-$n.yaml" --data "$base/data" "$d/mailbox.log" "$d/zimbra.log"
done

python3 - "$rows" <<'PY' > "$base/table.md"
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
print("| run | input | time (median) | ns per byte | peak RSS |")
print("|---|---|---|---|---|")
for label, mb, t, kb in rows:
    mb, t, kb = float(mb), float(t), int(kb)
    print(f"| {label} | {mb:.0f} MB | {t:.2f} s | {t * 1e9 / (mb * 1e6):.2f} | {kb / 1024:.0f} MB |")
by = {r[0]: float(r[2]) for r in rows}
r40, r1000 = by["40 synthetic rules, 500 MB"], by["1000 synthetic rules, 500 MB"]
print()
print(f"1,000 rules take {r1000 / r40:.1f}x the time of 40 rules (target at most 3x).")
PY
cat "$base/table.md"
python3 - "$base/table.md" <<'PY'
import re, sys, datetime
table = open(sys.argv[1]).read()
text = open("BENCHMARKS.md").read()
block = f"<!-- scaling.sh:begin -->\n_Written by `bench/scaling.sh` on {datetime.date.today()}._\n\n{table}<!-- scaling.sh:end -->"
if "<!-- scaling.sh:begin -->" in text:
    text = re.sub(r"<!-- scaling.sh:begin -->.*<!-- scaling.sh:end -->", lambda m: block, text, flags=re.S)
else:
    text += "\n## Scan scaling (`bench/scaling.sh`)\n\n" + block + "\n"
open("BENCHMARKS.md", "w").write(text)
PY
