#!/usr/bin/env python3
"""Check the upgrade-night example: line formats and expected.tsv.

    python3 check.py

1. Every line of every file must fit the layout of its log kind
   (shared/reference/zimbra-log-formats.md); timestamps stay inside the night
   and never go backwards within a file.
2. Files are framed into events the way zkb frames them (mailbox.log: a
   timestamp+level line starts a record, other lines continue it; zmsetup log:
   a dated line starts an event; install console: an unindented non-empty
   line starts an event; syslog and access logs: one line per event).
3. Every event that contains one of the problem signatures below must be a
   row of expected.tsv (at its first line, with that KB id), and every row of
   expected.tsv must point at such an event.  Strings that must not occur at
   all are checked too.

Exit status 0 when everything holds, 1 otherwise.
"""

import datetime as dt
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
NIGHT = (dt.datetime(2026, 3, 14, 21, 55), dt.datetime(2026, 3, 15, 3, 35))

SIGNATURES = [
    (r"Upgrading from \d+\.\d+\.\d+_GA_\d+ to \d+\.\d+\.\d+_GA_\d+", "upgrade/multi-server-order"),
    (r"Verifying integrity of message store databases\.", "upgrade/schema-upgrade-slow"),
    (r"Schema upgrade required from version \d+ to \d+\.", "upgrade/schema-upgrade-slow"),
    (r"Running mysql_upgrade\.\.\.", "upgrade/schema-upgrade-slow"),
    (r"Running /opt/zimbra/libexec/scripts/migrate", "upgrade/schema-upgrade-slow"),
    (r"ERROR: The ZCS Network upgrade requires a license to be located in", "license/file-not-found-installer"),
    (r"failed to activate license\.", "license/not-activated-after-upgrade"),
    (r"Failed to activate a license", "license/not-activated-after-upgrade"),
    (r"No such blob: mailbox=\d+, item=\d+, change=\d+", "store/hsm-volume-not-mounted"),
    (r"java\.io\.FileNotFoundException: \S+\.msg does not exist", "store/hsm-volume-not-mounted"),
    (r"status=deferred \(connect to \S+\[[\d.]+\]:7025: Connection refused\)", "mta/lmtp-delivery-deferred"),
    (r"connect\(\) failed \(111: Connection refused\) while connecting to upstream", "proxy/upstream-connection-refused"),
    (r"dict_ldap_connect: Unable to bind to server", "mta/ldap-lookup-failure"),
    (r"proxy:ldap:\S+ lookup error for", "mta/ldap-lookup-failure"),
    (r"451 4\.3\.0 <[^>]+>: Temporary lookup failure", "mta/ldap-lookup-failure"),
    (r"LDAP error:  - unable to get connection: ldap host=", "ldap/unreachable-from-mailboxd"),
    (r"connect to Milter service \S+: Connection refused", "mta/milter-unavailable"),
    (r"milter-reject: .*451 4\.7\.1 Service unavailable", "mta/milter-unavailable"),
    (r"unsupported dictionary type: hash", "upgrade/postfix-hash-maps-lost"),
    (r"hash:\S+ lookup error for", "upgrade/postfix-hash-maps-lost"),
    (r"Sender address rejected: Server configuration error", "upgrade/postfix-hash-maps-lost"),
]
# signatures of problems that are NOT part of this story: must not occur anywhere
ABSENT = ["missing blob for id", "Data version mismatch", "UPGRADE FAILED", "Script failed with code",
          "MDB_MAP_FULL", "All nginx lookup handlers are unavailable", "no live upstreams",
          "Service status change:", "OutOfMemoryError", "Failed to start", "slapadd import failed",
          "Unable to reach the Zimbra License Activation Server", "Error: One or more LDAP master servers",
          "Insufficient system storage", "Disk warning", "exited twice", "Relay access denied",
          ":10024: Connection refused", ":10032: Connection refused", "Could not establish a connection to the database"]

MON = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
RX = {
    "log4j_start": re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d{3} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) \["),
    "log4j_full": re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) "
                             r"\[[^\]\s][^\]]*\] \[(?:[A-Za-z]+=(?:[^;]|;;)*;)*\] [A-Za-z][\w-]* - \S.*$"),
    "log4j_cont": re.compile(r"^(\tat \S+\((?:[\w$]+\.java:\d+|Native Method|Unknown Source)\) ~?\[[^\]]+\]"
                             r"|\t\.\.\. \d+ more"
                             r"|Caused by: [a-z][\w.$]*(Exception|Error): .+"
                             r"|[a-z][\w.$]*\.[A-Z][\w$]*(Exception|Error): .+)$"),
    "syslog": re.compile(r"^" + MON + r" ( \d|\d\d) (\d\d:\d\d:\d\d) (\S+) ([^\s\[:]+)(\[\d+\])?: +\S.*$"),
    "nginx": re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(debug|info|notice|warn|error|crit|alert|emerg)\] "
                        r"\d+#\d+: (\*\d+ )?\S.*$"),
    "access": re.compile(r"^[\d.]+:\d+ - \S+ \[(\d\d/" + MON + r"/\d{4}:\d\d:\d\d:\d\d) \+0100\]  "
                         r"\"[A-Z]+ https://mail\.example\.com/\S* HTTP/1\.1\" \d{3} \d+ \"[^\"]*\" \"[^\"]+\" "
                         r"\"(-|[\d.]+:\d+)\" \"[\d.]+:\d+\"$"),
    "ctime": re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) " + MON + r" ( \d|\d\d) (\d\d:\d\d:\d\d) (\d{4}) "),
    "jetty": re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.\d{3}:(INFO|WARN|DEBUG|ERROR)?:[\w.]*:[^:\s]+: \S.*$"),
    "reserve": re.compile(r"^Zimbra server reserving server socket port=\d+ bindaddr=\S+ ssl=(true|false)$"),
}


def kind_of(name):
    if name == "mailbox.log":
        return "mailbox"
    if name == "zimbra.log":
        return "syslog"
    if name == "nginx.log":
        return "nginx"
    if name == "nginx.access.log":
        return "access"
    if name.startswith("zmsetup."):
        return "zmsetup"
    if name == "install-console.log":
        return "console"
    if name == "zmmailboxd.out":
        return "mailboxd"
    raise ValueError(name)


def parse_ts(kind, m):
    if kind == "mailbox":
        return dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
    if kind == "syslog":
        return dt.datetime.strptime("2026 %s %s %s" % (m.group(1), m.group(2).strip(), m.group(3)), "%Y %b %d %H:%M:%S")
    if kind == "nginx":
        return dt.datetime.strptime(m.group(1), "%Y/%m/%d %H:%M:%S")
    if kind == "access":
        return dt.datetime.strptime(m.group(1), "%d/%b/%Y:%H:%M:%S")
    if kind == "zmsetup":
        return dt.datetime.strptime("%s %s %s %s" % (m.group(5), m.group(2), m.group(3).strip(), m.group(4)),
                                    "%Y %b %d %H:%M:%S")
    if kind == "mailboxd":
        return dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")


def check_file(rel, lines, errors):
    """Validate formats; return the list of events as (first_line_no, text)."""
    host = rel.split("/")[0]
    kind = kind_of(rel.split("/")[1])
    events = []
    last = None

    def err(i, msg):
        if len(errors) < 60:
            errors.append("%s:%d: %s: %r" % (rel, i, msg, lines[i - 1][:160]))
        else:
            errors.append("...")

    def ts_ok(i, t, strict=True):
        nonlocal last
        if not (NIGHT[0] <= t <= NIGHT[1]):
            err(i, "timestamp outside the night")
        if strict and last and t < last:
            err(i, "timestamp goes backwards")
        last = t

    for i, line in enumerate(lines, 1):
        if kind == "mailbox":
            m = RX["log4j_start"].match(line)
            if m:
                if not RX["log4j_full"].match(line):
                    err(i, "bad log4j record line")
                ts_ok(i, parse_ts(kind, m), strict=False)
                events.append([i, line])
            else:
                if not RX["log4j_cont"].match(line):
                    err(i, "bad continuation line")
                if not events:
                    err(i, "continuation before first record")
                else:
                    events[-1][1] += "\n" + line
        elif kind == "syslog":
            m = RX["syslog"].match(line)
            if not m:
                err(i, "bad syslog line")
                continue
            if m.group(4) != host:
                err(i, "host field is not %s" % host)
            ts_ok(i, parse_ts(kind, m))
            events.append([i, line])
        elif kind == "nginx":
            m = RX["nginx"].match(line)
            if not m:
                err(i, "bad nginx error-log line")
                continue
            ts_ok(i, parse_ts(kind, m))
            events.append([i, line])
        elif kind == "access":
            m = RX["access"].match(line)
            if not m:
                err(i, "bad access-log line")
                continue
            ts_ok(i, parse_ts(kind, m))
            events.append([i, line])
        elif kind == "zmsetup":
            m = RX["ctime"].match(line)
            if m:
                ts_ok(i, parse_ts(kind, m))
                events.append([i, line])
            else:
                if not events:
                    err(i, "undated line before the first dated line")
                else:
                    events[-1][1] += "\n" + line
        elif kind == "console":
            if RX["ctime"].match(line) or RX["log4j_start"].match(line):
                err(i, "console capture must not carry log timestamps")
            if line and not line[0].isspace():
                events.append([i, line])
            elif events:
                events[-1][1] += "\n" + line
        elif kind == "mailboxd":
            m = RX["jetty"].match(line)
            if m:
                ts_ok(i, parse_ts(kind, m), strict=False)
            elif not RX["reserve"].match(line):
                err(i, "bad zmmailboxd.out line")
            events.append([i, line])
    return events


def main():
    errors = []
    expected = {}
    with open(os.path.join(HERE, "expected.tsv"), encoding="utf-8") as f:
        head = f.readline().rstrip("\n").split("\t")
        if head != ["file", "line", "kb_id", "note"]:
            errors.append("expected.tsv: bad header %r" % head)
        for n, row in enumerate(f, 2):
            parts = row.rstrip("\n").split("\t")
            if len(parts) != 4:
                errors.append("expected.tsv:%d: need 4 columns" % n)
                continue
            key = (parts[0], int(parts[1]))
            if key in expected:
                errors.append("expected.tsv:%d: duplicate row for %s:%d" % (n, key[0], key[1]))
            expected[key] = parts[2]
    sigs = [(re.compile(p), kb) for p, kb in SIGNATURES]
    found = {}
    nlines = nfiles = 0
    for host in sorted(os.listdir(HERE)):
        d = os.path.join(HERE, host)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            rel = "%s/%s" % (host, name)
            with open(os.path.join(d, name), "rb") as f:
                data = f.read()
            text = data.decode("utf-8")
            if not text.endswith("\n") or "\r" in text:
                errors.append("%s: must be LF-terminated text" % rel)
            lines = text[:-1].split("\n")
            nlines += len(lines)
            nfiles += 1
            for s in ABSENT:
                if s in text:
                    errors.append("%s: contains %r, which is not part of the story" % (rel, s))
            for first, ev in check_file(rel, lines, errors):
                kbs = sorted({kb for rx, kb in sigs if rx.search(ev)})
                if len(kbs) > 1:
                    errors.append("%s:%d: event matches several KB ids %s" % (rel, first, kbs))
                if kbs:
                    found[(rel, first)] = kbs[0]
    for key, kb in sorted(found.items()):
        if key not in expected:
            errors.append("%s:%d: event with signature of %s missing from expected.tsv" % (key[0], key[1], kb))
        elif expected[key] != kb:
            errors.append("%s:%d: expected.tsv says %s, signature says %s" % (key[0], key[1], expected[key], kb))
    for key, kb in sorted(expected.items()):
        if key not in found:
            errors.append("expected.tsv row %s:%d (%s) does not point at an event start with its signature"
                          % (key[0], key[1], kb))
    print("%d files, %d lines, %d expected events, %d signature events found" % (nfiles, nlines, len(expected), len(found)))
    by_kb = {}
    for kb in expected.values():
        by_kb[kb] = by_kb.get(kb, 0) + 1
    for kb in sorted(by_kb):
        print("  %-40s %d" % (kb, by_kb[kb]))
    if errors:
        print("\n".join(errors[:80]))
        print("FAILED: %d problem(s)" % len(errors))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
