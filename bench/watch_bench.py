#!/usr/bin/env python3
"""Measures `zkb watch`: latency from append to printed JSON line at several rates, for an event
followed by another and for the last event before the log goes quiet; the most lines per second
it keeps up with on one core; CPU while the logs are idle; resident memory over an hour's worth
of traffic. Prints a Markdown block. Run through bench/watch.sh.

usage: watch_bench.py ZKB [--quick]
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

ZKB = sys.argv[1]
QUICK = "--quick" in sys.argv
ID = re.compile(r"missing blob for id: (\d+)")
TICK = os.sysconf("SC_CLK_TCK")


def blob(i):
    return ("2026-03-01 02:14:07,511 WARN  [qtp1-1:https://10.0.0.1:443/service/soap/GetMsgRequest] "
            f"[name=u{i}@example.com;mid={i % 50};] mailbox - Unable to get blob for item {i}\n"
            f"com.zimbra.cs.mailbox.MailServiceException: missing blob for id: {i}, change: 1\n")


def ordinary(i):
    return (f"2026-03-01 02:14:08,{i % 1000:03d} INFO  [ImapServer-{i % 7}] "
            f"[name=user{i % 997}@example.com;protocol=imap;ip=10.1.{i % 250}.{i % 200};] "
            f"imap - SELECT elapsed={i % 40} mailbox=INBOX\n")


class Watch:
    """zkb watch on one file, its findings timed by a reader thread."""

    def __init__(self, path, cpu=None, extra=()):
        self.dir = tempfile.mkdtemp(prefix="zkb-watch-bench-data-")
        cmd = [ZKB, "watch", "-v", "--format", "json", "--normal-priority", "--data", self.dir, *extra, path]
        if cpu is not None:
            cmd = ["taskset", "-c", str(cpu)] + cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.recv = {}
        self.ready = threading.Event()
        threading.Thread(target=self._out, daemon=True).start()
        threading.Thread(target=self._err, daemon=True).start()
        if not self.ready.wait(20):
            sys.exit("zkb watch did not start following")

    def _out(self):
        for line in self.proc.stdout:
            now = time.monotonic()
            m = ID.search(line)
            if m:
                self.recv.setdefault(int(m.group(1)), now)

    def _err(self):
        for line in self.proc.stderr:
            if "following" in line:
                self.ready.set()

    def wait_for(self, ids, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end and any(i not in self.recv for i in ids):
            time.sleep(0.005)
        return all(i in self.recv for i in ids)

    def cpu_seconds(self):
        fields = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def rss_mb(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def new_log():
    d = tempfile.mkdtemp(prefix="zkb-watch-bench-")
    path = os.path.join(d, "mailbox.log")
    open(path, "w").close()
    return path


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


def latency_at(rate, seconds):
    """Lines per second `rate`; one problem event in every 100 lines, followed by others."""
    path = new_log()
    w = Watch(path)
    f = open(path, "a")
    sent, n, pid = {}, 0, 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        due = int((time.monotonic() - start) * rate)
        batch = []
        marked = []
        while n < due:
            if n % 100 == 0:
                batch.append(blob(pid))
                marked.append(pid)
                pid += 1
            else:
                batch.append(ordinary(n))
            n += 1
        if batch:
            f.write("".join(batch))
            f.flush()
            t = time.monotonic()
            for i in marked:
                sent[i] = t
        time.sleep(0.001)
    f.write(ordinary(n))
    f.flush()
    ok = w.wait_for(list(sent))
    w.stop()
    lat = [(w.recv[i] - sent[i]) * 1000 for i in sent if i in w.recv]
    achieved = n / (time.monotonic() - start)
    return pct(lat, 0.5), pct(lat, 0.99), ok, achieved


def latency_last_before_quiet(count):
    """A problem event as the last line before the log goes quiet: only the idle flush sends it."""
    path = new_log()
    w = Watch(path)
    f = open(path, "a")
    sent = {}
    for i in range(count):
        f.write(blob(i))
        f.flush()
        sent[i] = time.monotonic()
        w.wait_for([i], timeout=10)
        time.sleep(0.05)
    w.stop()
    lat = [(w.recv[i] - sent[i]) * 1000 for i in sent if i in w.recv]
    return pct(lat, 0.5), pct(lat, 0.99), len(lat) == count


def most_lines_per_second(lines):
    """Appends `lines` at once and times zkb (pinned to core 0) until the last problem is out."""
    os.sched_setaffinity(0, {1} if os.cpu_count() > 1 else {0})
    path = new_log()
    w = Watch(path, cpu=0)
    body, marked = [], []
    for n in range(lines):
        if n % 100 == 0:
            body.append(blob(len(marked)))
            marked.append(len(marked))
        else:
            body.append(ordinary(n))
    text = "".join(body) + ordinary(lines)
    start = time.monotonic()
    with open(path, "a") as f:
        f.write(text)
    ok = w.wait_for(marked, timeout=300)
    took = max(w.recv.values()) - start
    w.stop()
    os.sched_setaffinity(0, set(range(os.cpu_count())))
    return lines / took, ok


def idle_cpu(seconds, files=10):
    d = tempfile.mkdtemp(prefix="zkb-watch-idle-")
    paths = []
    for k in range(files):
        p = os.path.join(d, f"mailbox{k}.log")
        with open(p, "w") as f:
            f.write(ordinary(k) * 100)
        paths.append(p)
    w = Watch(os.path.join(d, "mailbox*.log"), extra=("--kind", "mailbox"))
    time.sleep(1)
    c0, t0 = w.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    c1, t1 = w.cpu_seconds(), time.monotonic()
    w.stop()
    return (c1 - c0) / (t1 - t0) * 100


def memory_over_traffic(lines, samples=8):
    """An hour at 1,000 lines per second is 3.6 million lines: appended in steps, RSS after each."""
    path = new_log()
    w = Watch(path)
    rss = [w.rss_mb()]
    step = lines // samples
    pid = 0
    with open(path, "a") as f:
        for s in range(samples):
            body, marked = [], []
            for n in range(s * step, (s + 1) * step):
                if n % 100 == 0:
                    body.append(blob(pid))
                    marked.append(pid)
                    pid += 1
                else:
                    body.append(ordinary(n))
            f.write("".join(body))
            f.flush()
            w.wait_for(marked[-1:], timeout=300)
            rss.append(w.rss_mb())
    w.stop()
    return rss


secs = 3 if QUICK else 10
rows = []
for rate in (1000, 10000, 50000):
    p50, p99, ok, achieved = latency_at(rate, secs)
    rows.append((f"{rate:,} lines/s (achieved {achieved:,.0f}), event followed by others", p50, p99, ok))
p50, p99, ok = latency_last_before_quiet(20 if QUICK else 50)
rows.append(("last event before the log goes quiet (--flush-ms 50)", p50, p99, ok))
lps, ok_lps = most_lines_per_second(300_000 if QUICK else 2_000_000)
idle = idle_cpu(10 if QUICK else 60)
rss = memory_over_traffic(400_000 if QUICK else 3_600_000)

print("| latency, append to printed JSON line | p50 | p99 | all seen |")
print("|---|---|---|---|")
for name, a, b, ok in rows:
    print(f"| {name} | {a:.1f} ms | {b:.1f} ms | {'yes' if ok else 'NO'} |")
print()
print(f"Most lines per second on one core (`taskset -c 0`, {300_000 if QUICK else 2_000_000:,} mailbox.log lines "
      f"appended at once, 1% problems): {lps:,.0f} lines/s{'' if ok_lps else ' (NOT all findings seen)'}.")
print(f"CPU while 10 followed files are idle: {idle:.2f}% of one core.")
print(f"Resident memory over {3_600_000 if not QUICK else 400_000:,} lines (an hour at 1,000 lines/s), "
      f"sampled after each eighth: {', '.join(f'{r:.0f}' for r in rss)} MB.")
