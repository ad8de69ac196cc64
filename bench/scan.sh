#!/bin/bash
# (hyperfine --output=pipe: GNU grep stops at the first match when its output is /dev/null.)
# Scan throughput of zkb against the tools an admin would use instead, in one run, on seeded
# realistic logs: ripgrep and grep with the very regexes of `zkb rules list`, fail2ban-regex with
# the same as failregex lines (on a slice: it is slow), cat (the read limit), and on a gzip copy
# zkb against `zcat | rg`. Prints a table and writes it into BENCHMARKS.md.
#
#   bench/scan.sh            # 500 MB (half mailbox.log, half zimbra.log)
#   SIZE=100 bench/scan.sh   # a quicker run
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-500}
RUNS=${RUNS:-3}
need() { command -v "$1" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }; }
need rg ripgrep; need hyperfine hyperfine; need fail2ban-regex fail2ban; need taskset util-linux
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

cargo build --release -q
cargo build --release -q --example gunzip
ZKB=$(pwd)/target/release/zkb
work=${BENCH_DIR:-/tmp/zkb-bench}/$SIZE
mkdir -p "$work"
if [ ! -f "$work/zimbra.log.gz" ]; then
  # The generator writes 45% mailbox.log, 45% zimbra.log, 10% nginx.log: size it so that the
  # first two make SIZE MB.
  "$ZKB" generate --out "$work" --size $((SIZE * 10 / 9)) --seed 7
  gzip -6 -c "$work/mailbox.log" > "$work/mailbox.log.gz"
  gzip -6 -c "$work/zimbra.log" > "$work/zimbra.log.gz"
fi
files="$work/mailbox.log $work/zimbra.log"
gzfiles="$work/mailbox.log.gz $work/zimbra.log.gz"
mb=$(du -cm $files | tail -1 | cut -f1)

# The patterns: every regex of every shipped rule; the subsets grep -E and Python accept.
"$ZKB" rules list --format json | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    for p in r["patterns"]:
        print(p)' > "$work/patterns.txt"
npat=$(wc -l < "$work/patterns.txt")
: > "$work/grep-patterns.txt"
while IFS= read -r p; do
  rc=0; msg=$(grep -E -e "$p" /dev/null 2>&1) || rc=$?
  # grep accepts a pattern when it neither fails (2) nor warns (stray backslashes and the like).
  if [ "$rc" -le 1 ] && [ -z "$msg" ]; then printf '%s\n' "$p" >> "$work/grep-patterns.txt"; fi
done < "$work/patterns.txt"
ngrep=$(wc -l < "$work/grep-patterns.txt")
python3 - "$work/patterns.txt" "$work/f2b.conf" <<'PY'
import re, sys
out, n = [], 0
for p in open(sys.argv[1]).read().splitlines():
    m = re.match(r"^\(\?([a-z]+)\)(.*)$", p, re.S)
    if m:
        p = f"(?{m.group(1)}:{m.group(2)})"
    line = "^<F-ID></F-ID>.*" + p
    try:
        re.compile(line.replace("<F-ID></F-ID>", "(?P<fid>)"))
    except re.error:
        continue
    out.append(line.replace("%", "%%")); n += 1
with open(sys.argv[2], "w") as f:
    f.write("[Definition]\nfailregex = " + "\n            ".join(out) + "\n")
print(n, file=sys.stderr)
PY
nf2b=$(grep -c '<F-ID>' "$work/f2b.conf")
head -c 20000000 "$work/zimbra.log" | head -n -1 > "$work/slice.log"
slice_mb=$(du -m "$work/slice.log" | cut -f1)

json="$work/hyperfine.json"
hyperfine -N --output=pipe --warmup 1 --runs "$RUNS" --export-json "$json" \
  -n "zkb scan (2 threads)" "$ZKB scan -q --format json --data $work/data $files" \
  -n "zkb scan (1 core)" "taskset -c 0 $ZKB scan -q --format json --threads 1 --data $work/data $files" \
  -n "rg -c -f ($npat regexes)" "rg -c -f $work/patterns.txt $files" \
  -n "grep -E -c -f ($ngrep regexes grep accepts)" "grep -E -c -f $work/grep-patterns.txt $files" \
  -n "cat" "cat $files" \
  -n "zkb scan .gz" "$ZKB scan -q --format json --data $work/data $gzfiles" \
  -n "zcat | rg -c -f" "sh -c 'zcat $gzfiles | rg -c -f $work/patterns.txt'" \
  -n "zcat (gzip decode alone)" "sh -c 'zcat $gzfiles > /dev/null'" \
  -n "flate2/zlib-rs decode alone" "sh -c 'for f in $gzfiles; do target/release/examples/gunzip \$f; done'" \
  -n "zkb scan .gz (1 file, 1 thread)" "$ZKB scan -q --format json --threads 1 --data $work/data $work/mailbox.log.gz" \
  -n "flate2/zlib-rs decode alone (1 file)" "target/release/examples/gunzip $work/mailbox.log.gz" \
  -n "zkb scan ${slice_mb} MB slice" "$ZKB scan -q --format json --kind syslog --data $work/data $work/slice.log" \
  >/dev/null
f2b_start=$(date +%s.%N)
timeout 3000 fail2ban-regex "$work/slice.log" "$work/f2b.conf" >/dev/null 2>&1 || true
f2b=$(echo "$(date +%s.%N) - $f2b_start" | bc)
peak=$( { /usr/bin/time -v "$ZKB" scan -q --format json --data "$work/data" $files >/dev/null; } 2>&1 | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}')
printf '2025-03-01 10:00:00,000 INFO  [x] [] soap - one line\n' > "$work/one.log"
hyperfine -N --output=pipe --warmup 3 --runs 20 --export-json "$work/startup.json" "$ZKB scan -q --data $work/data $work/one.log" >/dev/null

one_mb=$(du -m "$work/mailbox.log" | cut -f1)
python3 - "$json" "$work/startup.json" "$mb" "$slice_mb" "$f2b" "$peak" "$npat" "$ngrep" "$nf2b" "$one_mb" <<'PY' > "$work/table.md"
import json, sys, subprocess, platform
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
start = json.load(open(sys.argv[2]))["results"][0]
mb, slice_mb, f2b, peak = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
npat, ngrep, nf2b = sys.argv[7:10]
one_mb = float(sys.argv[10])
def t(name): return res[name]["median"]
rg = [k for k in res if k.startswith("rg ")][0]
def cpu():
    for l in open("/proc/cpuinfo"):
        if l.startswith("model name"): return l.split(":", 1)[1].strip()
    return platform.processor()
def ver(cmd):
    try: return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]
    except Exception: return "?"
print(f"Machine: {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores, {cpu()}; "
      f"{ver(['rg','--version'])}; {ver(['grep','--version'])}; {ver(['fail2ban-regex','--version'])}; "
      f"{ver(['hyperfine','--version'])}; zkb {ver(['target/release/zkb','--version'])}.")
print(f"Input: {mb:.0f} MB (mailbox.log + zimbra.log from `zkb generate --seed 7`), gzip -6 copy; "
      f"{npat} regexes from `zkb rules list`, of which grep -E accepts {ngrep} and Python/fail2ban {nf2b}. "
      f"Median of the hyperfine runs.")
print()
print("| command | time | MB/s | vs rg |")
print("|---|---|---|---|")
for name, r in res.items():
    size = slice_mb if "slice" in name else one_mb if "1 file" in name else mb
    print(f"| {name} | {r['median']:.2f} s | {size / r['median']:.0f} | {r['median'] / t(rg):.2f}x |")
zslice = [k for k in res if "slice" in k][0]
print(f"| fail2ban-regex {nf2b} failregex, {slice_mb:.0f} MB slice | {f2b:.1f} s | {slice_mb / f2b:.1f} | zkb is {f2b / t(zslice):.0f}x faster on the same slice |")
print()
print(f"Peak resident memory of `zkb scan` on {mb:.0f} MB: {peak / 1024:.0f} MB. "
      f"Start-up (`zkb scan` of a one-line file, all rules): {start['mean'] * 1000:.1f} ms.")
gz = t("zkb scan .gz"); zc = t("zcat (gzip decode alone)")
raw = t("flate2/zlib-rs decode alone"); raw1 = t("flate2/zlib-rs decode alone (1 file)")
gz1 = t("zkb scan .gz (1 file, 1 thread)")
print(f"gzip: zkb on the .gz copy {gz:.2f} s against {zc:.2f} s for zcat alone "
      f"({zc / gz * 100:.0f}% of GNU gzip's decode speed); zcat | rg {t('zcat | rg -c -f'):.2f} s. "
      f"Against the backend zkb uses (flate2 with zlib-rs, decoding both files one after the other): "
      f"{raw:.2f} s, so zkb runs at {raw / gz * 100:.0f}% of its decode speed; one file on one scan thread "
      f"(decoder on its own thread): {gz1:.2f} s against {raw1:.2f} s ({raw1 / gz1 * 100:.0f}%).")
PY
cat "$work/table.md"
python3 - "$work/table.md" <<'PY'
import re, sys, datetime
table = open(sys.argv[1]).read()
path = "BENCHMARKS.md"
text = open(path).read()
block = f"<!-- scan.sh:begin -->\n_Written by `bench/scan.sh` on {datetime.date.today()}._\n\n{table}<!-- scan.sh:end -->"
if "<!-- scan.sh:begin -->" in text:
    text = re.sub(r"<!-- scan.sh:begin -->.*<!-- scan.sh:end -->", lambda m: block, text, flags=re.S)
else:
    text += "\n## Scan speed (`bench/scan.sh`)\n\n" + block + "\n"
open(path, "w").write(text)
PY
