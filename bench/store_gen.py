#!/usr/bin/env python3
"""A busy week for bench/store.sh: mailbox.log of 3 mailbox servers over 7 days, with
OCCURRENCES missing-blob events (rule store.missing-blob-for-id, grouped by mailbox; 600
mailboxes, a few hundred incidents each side of the 30-minute gap), 2 ordinary lines per
occurrence and, every 50th event, an ERROR no rule knows (40 wordings).

    bench/store_gen.py DIR OCCURRENCES
"""
import os
import random
import sys
from datetime import datetime, timedelta

out, total = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
start = datetime(2026, 3, 9)
week = 7 * 24 * 3600
hosts = ["mbx1", "mbx2", "mbx3"]
files = {}
for h in hosts:
    os.makedirs(os.path.join(out, h), exist_ok=True)
    files[h] = open(os.path.join(out, h, "mailbox.log"), "w")
step = week / total
for i in range(total):
    t = start + timedelta(seconds=i * step)
    ts = t.strftime("%Y-%m-%d %H:%M:%S,") + f"{t.microsecond // 1000:03d}"
    f = files[hosts[i % 3]]
    mid = rng.randrange(1, 201) + 200 * (i % 3)
    item = rng.randrange(1, 2_000_000)
    f.write(
        f"{ts} INFO  [ImapServer-{i % 50}] [name=u{mid}@example.com;mid={mid};ip=10.1.{i % 250}.{mid % 250};] imap - SELECT INBOX elapsed={i % 97}\n"
        f"{ts} INFO  [qtp1-{i % 80}] [name=u{mid}@example.com;mid={mid};] soap - GetMsgRequest elapsed={i % 13}\n"
        f"{ts} WARN  [qtp1-{i % 80}:https://10.0.0.1:443/service/soap/GetMsgRequest] [name=u{mid}@example.com;mid={mid};] mailbox - Unable to get blob for item {item}\n"
        f"com.zimbra.cs.mailbox.MailServiceException: missing blob for id: {item}, change: {i % 1000}\n"
    )
    if i % 50 == 0:
        f.write(f"{ts} ERROR [qtp1-{i % 80}] [] misc - widget subsystem {i % 40} failed after {i % 997} tries on /opt/zimbra/data/tmp/{item}\n")
for f in files.values():
    f.close()
