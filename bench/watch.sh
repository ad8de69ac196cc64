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
python3 bench/put_block.py watch.sh "$out" "Live watch"
