#!/bin/bash
# Capacity of a central zkb: `zkb watch` over a receiver's per-host tree fed by simulated
# hosts (bench/fleet_bench.py). Writes its block into BENCHMARKS.md.
#
#   bench/fleet.sh                 # 50 hosts x 100 lines/s for 30 s, a 1,000 events/s burst
#   QUICK=1 bench/fleet.sh         # 10 hosts for 10 s (BENCHMARKS.md untouched)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
out=$(mktemp)
if [ -n "${QUICK:-}" ]; then
  python3 bench/fleet_bench.py target/release/zkb 10 100 1000 10
  exit 0
fi
python3 bench/fleet_bench.py target/release/zkb 50 100 1000 30 | tee "$out"
python3 bench/put_block.py fleet.sh "$out" "Fleet: a central watch (\`bench/fleet.sh\`)"
