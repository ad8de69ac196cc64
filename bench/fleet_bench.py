#!/usr/bin/env python3
"""Capacity of a central `zkb watch` over a receiver's per-host tree: HOSTS simulated servers
writing relayed mailbox.log lines (RSYSLOG_FileFormat, stack traces as #012) at RATE lines/s
each, one problem event in every 100 lines, and a burst of BURST events/s on one host for a few
seconds. Measures CPU, peak memory, and latency from append to the printed finding (p50, p99),
with the incident store on (as the service runs). Prints a Markdown table. Run through
bench/fleet.sh.

usage: fleet_bench.py ZKB [HOSTS RATE BURST SECONDS]
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ZKB = sys.argv[1]
HOSTS, RATE, BURST, SECONDS = (int(x) for x in (sys.argv[2:6] + ["50", "100", "1000", "30"][len(sys.argv[2:6]):]))
ID = re.compile(r"missing blob for id: (\d+)")
TICK = os.sysconf("SC_CLK_TCK")


def relay(host, text):
    return f"2026-03-01T02:14:07.511203+07:00 {host}.example.com zimbra-mailbox: " + text.replace("\n", "#012").replace("\t", "#011") + "\n"


def blob(i, mid):
    return (f"2026-03-01 02:14:07,511 WARN  [qtp1-1:https://10.0.0.1:443/service/soap/GetMsgRequest] "
            f"[name=u{i}@example.com;mid={mid};] mailbox - Unable to get blob for item {i}\n"
            f"com.zimbra.cs.mailbox.MailServiceException: missing blob for id: {i}, change: 1\n"
            f"\tat com.zimbra.cs.mailbox.MailItem.getBlob(MailItem.java:1466)")


def ordinary(i):
    return (f"2026-03-01 02:14:08,{i % 1000:03d} INFO  [ImapServer-{i % 7}] "
            f"[name=user{i % 997}@example.com;protocol=imap;ip=10.1.{i % 250}.{i % 200};] "
            f"imap - SELECT elapsed={i % 40} mailbox=INBOX")


root = tempfile.mkdtemp(prefix="zkb-fleet-bench-")
hosts = [f"mbx{h:02d}" for h in range(1, HOSTS + 1)]
files = {}
for h in hosts:
    os.makedirs(os.path.join(root, "remote", h))
    path = os.path.join(root, "remote", h, "zimbra-mailbox.log")
    with open(path, "w") as f:
        f.write(relay(h, ordinary(0)))
    files[h] = open(path, "a")

data = os.path.join(root, "data")
proc = subprocess.Popen([ZKB, "watch", "-v", "--format", "json", "--normal-priority", "--data", data, *os.environ.get("ZKB_EXTRA", "").split(),
                         os.path.join(root, "remote", "*", "*.log")],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
recv, ready = {}, threading.Event()


def read_out():
    for line in proc.stdout:
        now = time.monotonic()
        m = ID.search(line)
        if m:
            recv.setdefault(int(m.group(1)), now)


def read_err():
    for line in proc.stderr:
        if "following" in line:
            ready.set()


threading.Thread(target=read_out, daemon=True).start()
threading.Thread(target=read_err, daemon=True).start()
if not ready.wait(30):
    sys.exit("zkb watch did not start following")
time.sleep(1)


def cpu_seconds():
    fields = open(f"/proc/{proc.pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb():
    for line in open(f"/proc/{proc.pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


sent, n, pid, peak = {}, 0, 0, 0.0
cpu0, start = cpu_seconds(), time.monotonic()
burst_from, burst_to = SECONDS / 3, SECONDS / 3 + 3
burst_n = 0
while time.monotonic() - start < SECONDS:
    elapsed = time.monotonic() - start
    due = int(elapsed * RATE)
    t_batch = {}
    while n < due:
        for k, h in enumerate(hosts):
            if (n + k) % 100 == 0:
                files[h].write(relay(h, blob(pid, k)))
                t_batch[pid] = None
                pid += 1
            else:
                files[h].write(relay(h, ordinary(n)))
        n += 1
    if burst_from <= elapsed < burst_to:
        want = int((elapsed - burst_from) * BURST)
        while burst_n < want:
            files[hosts[0]].write(relay(hosts[0], blob(pid, 1000 + burst_n % 50)))
            t_batch[pid] = None
            pid += 1
            burst_n += 1
    for f in files.values():
        f.flush()
    t = time.monotonic()
    for i in t_batch:
        sent[i] = t
    peak = max(peak, rss_mb())
    time.sleep(float(os.environ.get("ZKB_TICK", "0.005")))
for h in hosts:  # one more line each, so every last problem event is complete
    files[h].write(relay(h, ordinary(n)))
    files[h].flush()
wall = time.monotonic() - start
end = time.monotonic() + 60
while time.monotonic() < end and any(i not in recv for i in sent):
    time.sleep(0.01)
cpu = cpu_seconds() - cpu0
peak = max(peak, rss_mb())
proc.terminate()
proc.wait(20)
lat = sorted((recv[i] - sent[i]) * 1000 for i in sent if i in recv)
pct = lambda p: lat[min(len(lat) - 1, int(len(lat) * p))] if lat else float("nan")
lost = sum(1 for i in sent if i not in recv)
lines = n * HOSTS + burst_n
shutil.rmtree(root, ignore_errors=True)
print(f"{HOSTS} hosts × {RATE} relayed lines/s for {SECONDS} s, one problem event in 100 lines, and "
      f"{BURST} problem events/s on one host for 3 s; `zkb watch` over the glob of the tree, incident store on.\n")
print("| Measure | Result |")
print("|---|---|")
print(f"| lines written | {lines:,} ({lines / wall:,.0f}/s) |")
print(f"| problem events | {len(sent):,}, lost {lost} |")
print(f"| latency append → finding | p50 {pct(0.5):.0f} ms, **p99 {pct(0.99):.0f} ms**, max {lat[-1] if lat else float('nan'):.0f} ms |")
print(f"| CPU | {cpu / wall * 100:.0f}% of one core |")
print(f"| peak RSS | {peak:.0f} MB |")
