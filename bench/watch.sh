#!/bin/bash
# Live-watch figures for BENCHMARKS.md: latency from append to printed JSON line (p50, p99) at
# 1k, 10k and 50k lines per second and for the last event before a log goes quiet, the most
# lines per second zkb keeps up with on one core, CPU while the logs are idle, and resident
# memory over an hour's worth of traffic. Writes its block into BENCHMARKS.md.
#
#   bench/watch.sh            # the full run (about 3 minutes)
#   QUICK=1 bench/watch.sh    # shorter phases, for a quick look (BENCHMARKS.md untouched)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v taskset >/dev/null || { apt-get update -qq && apt-get install -y -qq util-linux >/dev/null; }
cargo build --release -q
out=$(mktemp)
python3 bench/watch_bench.py "$(pwd)/target/release/zkb" ${QUICK:+--quick} | tee "$out"
[ -n "${QUICK:-}" ] && exit 0
python3 - "$out" <<'PY'
import datetime, os, re, sys
table = open(sys.argv[1]).read()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
head = f"_Written by `bench/watch.sh` on {datetime.date.today()}; {os.cpu_count()} cores, {cpu}._\n\n"
block = f"<!-- watch.sh:begin -->\n{head}{table}<!-- watch.sh:end -->"
text = open("BENCHMARKS.md").read()
if "<!-- watch.sh:begin -->" in text:
    text = re.sub(r"<!-- watch.sh:begin -->.*<!-- watch.sh:end -->", lambda m: block, text, flags=re.S)
else:
    text += "\n## Live watch (`bench/watch.sh`)\n\n" + block + "\n"
open("BENCHMARKS.md", "w").write(text)
PY
