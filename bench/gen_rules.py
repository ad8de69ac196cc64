#!/usr/bin/env python3
"""Synthetic rules for the scaling runs of bench/scaling.sh, in the style of the shipped ones.

Each rule requires a phrase (two words, or one long word) taken from the generated corpus
itself, one that occurs in at most 0.01% of lines, as the shipped rules' literals do (together
they hit a few % of events, spread over 200 rules), so the rules fire and cost what real rules
cost. The corpus has fewer such phrases than 1,000 rules need; a phrase used again gets a
tail that seldom confirms (a candidate that costs a regex run and is then dropped, the common
case for real rules). One rule in fifty has no literal at all (a regex of classes and
repeats), as a user's quick rule might.

    bench/gen_rules.py N SAMPLE_MAILBOX SAMPLE_ZIMBRA OUT.yaml
"""
import random
import re
import sys
from collections import Counter

n, mailbox, zimbra, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
rng = random.Random(7)


def phrases(path, kind):
    lines = open(path, encoding="utf-8", errors="replace").read().splitlines()[:200000]
    seen = Counter()
    example = {}
    for line in lines:
        words = re.findall(r"[A-Za-z][A-Za-z_.-]{3,}", line)
        candidates = {f"{a} {b}" for a, b in zip(words, words[1:])}
        candidates |= {w for w in words if len(w) >= 8}
        for p in candidates:
            if p in line:
                seen[p] += 1
                example.setdefault(p, line)
    hi = len(lines) * 0.0001
    picked = sorted(p for p, c in seen.items() if c <= hi)
    rng.shuffle(picked)
    return [(kind, p, example[p]) for p in picked]


pool = phrases(mailbox, "mailbox") + phrases(zimbra, "syslog")
rng.shuffle(pool)
if not pool:
    sys.exit("no phrases found in the samples")
no_literal = [
    (r"[A-Z]{4,}_[A-Z]{4,}=\d{7,}", "WXYZ_ABCD=12345678"),
    (r"\b\d{3}\.\d{3}\.\d{3}\.\d{3}:\d{5}\b", "123.123.123.123:65000"),
]
with open(out, "w") as f:
    for i in range(n):
        if i % 50 == 49:
            regex, text = no_literal[(i // 50) % len(no_literal)]
            kind = "mailbox"
        else:
            kind, phrase, text = pool[i % len(pool)]
            regex = re.escape(phrase).replace("\\ ", " ") + r"\S*(?: (?P<next>\S+))?"
            if i >= len(pool):
                regex += r".* \d{6}" + str(i % 10)
                text += " 123456" + str(i % 10)
        f.write(f"- id: bench.r{i:04d}\n")
        f.write(f"  title: synthetic rule {i}\n")
        f.write("  severity: low\n")
        f.write(f"  kinds: [{kind}]\n")
        f.write(f"  match: {{regex: '{regex.replace(chr(39), chr(39) * 2)}'}}\n")
        f.write("  tests:\n    match:\n")
        f.write(f"      - text: '{text.replace(chr(39), chr(39) * 2)}'\n")
print(f"{n} rules from {len(pool)} phrases", file=sys.stderr)
