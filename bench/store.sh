#!/bin/bash
# Incident store figures for BENCHMARKS.md: ingestion rate (occurrences per second), search p50
# and p99 with a million occurrences stored, store size per million occurrences, and report
# generation time for a busy week. Writes its block into BENCHMARKS.md.
#
#   bench/store.sh                  # 1,000,000 occurrences (about 2 minutes, 1.5 GB in /tmp)
#   OCCURRENCES=50000 bench/store.sh  # a quick look (BENCHMARKS.md untouched)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
cargo build --release -q --bin zkb --example store_search
n=${OCCURRENCES:-1000000}
work=${TMPDIR:-/tmp}/zkb-store-bench
out=$(mktemp)
python3 bench/store_bench.py target/release/zkb target/release/examples/store_search "$n" "$work" | tee "$out"
rm -rf "$work"
[ "$n" != 1000000 ] && exit 0
python3 bench/put_block.py store.sh "$out" "Incident store"
