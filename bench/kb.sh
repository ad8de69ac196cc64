#!/bin/bash
# KB speed: index build, search latency (p50/p99) and `zkb explain` cold start with the index
# cached and not. Needs hyperfine (installed from Debian's packages when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
cargo build --release -q --example kb_bench
cargo build --release -q
./target/release/examples/kb_bench
data=$(mktemp -d)
line='2026-03-15 00:57:12,044 ERROR [qtp1-12:https://10.0.0.12:443/service/soap/GetMsgRequest] [name=u1@example.com;mid=41;] mailbox - Unable to get blob while encoding message'
./target/release/zkb explain --data "$data" "$line" >/dev/null
hyperfine -N --warmup 3 --runs 30 --export-json "$data/explain.json" \
  "./target/release/zkb explain --data $data '$line'" \
  "./target/release/zkb search --data $data 'old emails blank after reboot'" 2>&1 | grep -E "Time|±|Benchmark"
python3 - "$data/explain.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"cold start {r['command'].split()[1]}: mean {r['mean']*1e3:.1f} ms, max {r['max']*1e3:.1f} ms")
PY
rm -rf "$data"
