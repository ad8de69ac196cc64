#!/usr/bin/env python3
"""Incident store figures for bench/store.sh: a busy week (bench/store_gen.py) recorded with
`zkb scan --store`, then the same files again, search latency in process and through the CLI,
store size per million occurrences, and `zkb report` over the week. Prints a Markdown table.

    store_bench.py ZKB EXAMPLE OCCURRENCES WORKDIR
"""
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time

zkb, example, total, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
logs, data = os.path.join(work, "week"), os.path.join(work, "data")
shutil.rmtree(work, ignore_errors=True)
os.makedirs(data)
env = dict(os.environ, ZKB_DATA=data, NO_COLOR="1")


def timed(args):
    """Runs a command under /usr/bin/time -v, its output dropped: (seconds, peak RSS in MB)."""
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v"] + args, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    secs = time.perf_counter() - t
    if p.returncode not in (0, 1):
        sys.exit(f"{args} failed ({p.returncode}): {p.stderr[-2000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1)) / 1024
    return secs, rss


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


t = time.perf_counter()
subprocess.run([sys.executable, "bench/store_gen.py", logs, str(total)], check=True)
gen_secs = time.perf_counter() - t
log_mb = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(logs) for f in fs) / 1e6

plain_secs, plain_rss = timed([zkb, "scan", "-q", "--format", "json", logs])
store_secs, store_rss = timed([zkb, "scan", "-q", "--store", "--unmatched", logs])
db = sqlite3.connect(os.path.join(data, "incidents.sqlite"))
count = lambda: [db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                 for t in ("occurrences", "incidents")]
occurrences, incidents = count()
again_secs, _ = timed([zkb, "scan", "-q", "--store", "--unmatched", logs])
added = count()[0] - occurrences
db.close()
store_bytes = sum(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data)
                  if f.startswith("incidents.sqlite"))

inproc = subprocess.run([example, data, "1000"], env=env, capture_output=True, text=True,
                        check=True).stdout.strip()
m = dict(kv.split("=") for kv in inproc.split()[1:])

cli_ms = []
cli_queries = [["search", "blob"], ["search", "missing", "blob"], ["search", "u17"],
               ["search", "blob", "--host", "mbx2", "--min-severity", "high"],
               ["search", "nothing-matches-this"], ["list", "--since", "2026-03-14", "--host", "mbx3"]]
for q in cli_queries * 10:
    t = time.perf_counter()
    subprocess.run([zkb, "incidents"] + q, env=env, capture_output=True, check=True)
    cli_ms.append((time.perf_counter() - t) * 1000)

report = os.path.join(work, "week.html")
report_secs, report_rss = timed([zkb, "report", "--since", "2026-03-09", "--until", "2026-03-16",
                                    "--html", report])
report_kb = os.path.getsize(report) / 1024

print(f"Busy week: {total:,} missing-blob events on 3 mailbox servers, {log_mb:.0f} MB of "
      f"mailbox.log (generated in {gen_secs:.1f} s), {occurrences:,} occurrences in "
      f"{incidents:,} incidents.\n")
print("| Measure | Result |")
print("|---|---|")
print(f"| `zkb scan` without the store | {plain_secs:.2f} s, {plain_rss:.0f} MB peak RSS |")
print(f"| `zkb scan --store --unmatched` (ingestion) | {store_secs:.2f} s, "
      f"**{occurrences / store_secs:,.0f} occurrences/s**, {store_rss:.0f} MB peak RSS |")
print(f"| the same files again | {again_secs:.2f} s, {added} occurrences added |")
print(f"| store size | {store_bytes / 1e6:.0f} MB, **{store_bytes / occurrences * 1e6 / 1e6:.0f} MB "
      f"per million occurrences** ({store_bytes / occurrences:.0f} bytes each) |")
print(f"| search in process (1,000 queries) | p50 {float(m['p50']):.2f} ms, "
      f"**p99 {float(m['p99']):.2f} ms**, max {float(m['max']):.2f} ms |")
print(f"| `zkb incidents search`/`list` from the shell, with filters (60 runs, start-up included) | "
      f"p50 {pct(cli_ms, 0.5):.0f} ms, p99 {pct(cli_ms, 0.99):.0f} ms |")
print(f"| `zkb report --html` for the week | **{report_secs:.2f} s**, {report_rss:.0f} MB peak RSS, "
      f"{report_kb:,.0f} KiB page |")
