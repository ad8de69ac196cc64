#!/usr/bin/env python3
"""Generate the "upgrade night" example log set for zkb.

Six hosts of one Zimbra site (example.com) during the night of 2026-03-14,
22:00 to 03:30 local time (CET, +0100), while the admin upgrades Zimbra
Network Edition 10.0.13 to 10.1.9.  Standard library only; a fixed seed, so
running it again rewrites byte-identical files.

    python3 generate.py            # writes the host folders and expected.tsv

Layouts follow shared/reference/zimbra-log-formats.md; the planted problems
and their KB ids follow shared/reference/known-issues.md.  README.md tells
the story; check.py validates formats and expected.tsv.
"""

import datetime as dt
import os
import random

SEED = 20260314
HERE = os.path.dirname(os.path.abspath(__file__))
DOMAIN = "example.com"
TZ = "+0100"
OLD = "10.0.13_GA_4837"
NEW = "10.1.9_GA_4200001"
OLD_PKG = "10.0.13.GA.4837"
NEW_PKG = "10.1.9.GA.4200001"

MON = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
WDAY = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]

HOSTS = {
    "ldap1": "10.0.0.5",
    "mbx1": "10.0.0.11",
    "mbx2": "10.0.0.12",
    "archive1": "10.0.0.13",
    "mta1": "10.0.0.20",
    "proxy1": "10.0.0.30",
}
PROXY_IP = HOSTS["proxy1"]


def T(s):
    """'2026-03-14 22:05:12' (or '22:05:12', day chosen by the hour) -> datetime."""
    if len(s) <= 8:
        h = int(s[:2])
        day = "2026-03-14" if h >= 12 else "2026-03-15"
        s = day + " " + s
    return dt.datetime.strptime(s, "%Y-%m-%d %H:%M:%S")


START = T("2026-03-14 21:58:00")
END = T("2026-03-15 03:30:00")


def sec(d, s):
    return d + dt.timedelta(seconds=s)


# ---------------------------------------------------------------- time formats

def ts_log4j(t):
    return t.strftime("%Y-%m-%d %H:%M:%S") + ",%03d" % (t.microsecond // 1000)


def ts_jetty(t):
    return t.strftime("%Y-%m-%d %H:%M:%S") + ".%03d" % (t.microsecond // 1000)


def ts_syslog(t):
    return "%s %2d %s" % (MON[t.month - 1], t.day, t.strftime("%H:%M:%S"))


def ts_nginx(t):
    return t.strftime("%Y/%m/%d %H:%M:%S")


def ts_access(t):
    return "%02d/%s/%d:%s %s" % (t.day, MON[t.month - 1], t.year, t.strftime("%H:%M:%S"), TZ)


def ts_ctime(t):
    return "%s %s %2d %s %d" % (WDAY[t.weekday()], MON[t.month - 1], t.day, t.strftime("%H:%M:%S"), t.year)


# ---------------------------------------------------------------- output files

EXPECTED = []  # (relpath, line, kb, note)


class LogFile:
    """Records (time, seq, lines, label); written sorted by time (stable)."""

    def __init__(self, rel, ordered=False):
        self.rel = rel
        self.ordered = ordered
        self.post = None
        self.items = []
        self.seq = 0

    def add(self, t, lines, kb=None, note=""):
        if isinstance(lines, str):
            lines = [lines]
        self.seq += 1
        self.items.append((t, self.seq, list(lines), kb, note))

    def write(self):
        items = self.items if self.ordered else sorted(self.items, key=lambda x: (x[0], x[1]))
        out = []
        for t, _, lines, kb, note in items:
            if t is not None and t > END:
                continue  # the capture ends at 03:30
            if kb:
                EXPECTED.append((self.rel, len(out) + 1, kb, note))
            out.extend(lines)
        if self.post:
            out = self.post(out)
        path = os.path.join(HERE, self.rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(out) + "\n")
        return len(out)


FILES = {}


def renumber(pattern, start, seed):
    """Renumber ids matched by `pattern` (group 1) in order of first
    appearance, so connection ids grow with time like a real counter."""
    import re
    rx = re.compile(pattern)

    def post(lines):
        r = random.Random(seed)
        mp = {}
        nxt = [start]

        def sub(m):
            old = m.group(1)
            if old not in mp:
                nxt[0] += r.randint(1, 7)
                mp[old] = str(nxt[0])
            return m.group(0).replace(old, mp[old], 1)
        return [rx.sub(sub, l) for l in lines]
    return post


def F(rel, ordered=False):
    if rel not in FILES:
        FILES[rel] = LogFile(rel, ordered)
    return FILES[rel]


# ---------------------------------------------------------------- randomness

R = random.Random(SEED)


def rng(name):
    return random.Random("%d/%s" % (SEED, name))


def hexid(r, n):
    return "".join(r.choice("0123456789ABCDEF") for _ in range(n))


def b62(r, n):
    a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(r.choice(a) for _ in range(n))


def uuid(r):
    h = "".join(r.choice("0123456789abcdef") for _ in range(32))
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


# ---------------------------------------------------------------- people

FIRST = ["anna", "peter", "maria", "thomas", "julia", "michael", "laura", "stefan", "sarah", "daniel",
         "lisa", "markus", "katrin", "andreas", "nina", "jan", "eva", "tobias", "lena", "felix",
         "sophie", "lukas", "clara", "david", "hanna", "simon", "paula", "jonas", "emma", "martin",
         "ines", "oliver", "vera", "robert", "helga", "frank", "sabine", "georg", "tanja", "uwe"]
LAST = ["schmidt", "wolf", "keller", "becker", "hoffmann", "richter", "klein", "neumann", "braun", "zimmermann",
        "krueger", "hartmann", "lange", "werner", "schulz", "koch", "bauer", "meyer", "fischer", "weber",
        "schneider", "vogel", "frank", "berger", "roth", "beck", "lorenz", "kraus", "jung", "hahn"]

_pr = rng("people")
_names = []
_seen = set()
while len(_names) < 96:
    n = "%s.%s" % (_pr.choice(FIRST), _pr.choice(LAST))
    if n not in _seen:
        _seen.add(n)
        _names.append(n)


class User:
    def __init__(self, name, host, mid, r):
        self.addr = "%s@%s" % (name, DOMAIN)
        self.host = host
        self.mid = mid
        self.aid = uuid(r)
        self.archived = False
        self.next_item = r.randint(4000, 60000)
        self.imap = r.random() < 0.35
        self.pop = (not self.imap) and r.random() < 0.1
        self.mobile = r.random() < 0.3
        self.device = "%s%s" % (r.choice(["Appl", "SEC", "ANDR"]), hexid(r, 20))


USERS = {"mbx1": [], "mbx2": []}
_ur = rng("users")
for i, n in enumerate(_names):
    h = "mbx1" if i % 2 == 0 else "mbx2"
    mid = 7 + len(USERS[h]) * 3 + _ur.randint(0, 2)
    USERS[h].append(User(n, h, mid, _ur))
ALL_USERS = USERS["mbx1"] + USERS["mbx2"]
# archiving enabled for a quarter of the users; archive accounts live on archive1
ARCHIVE = []
for i, u in enumerate(ALL_USERS):
    if i % 4 == 1:
        u.archived = True
        a = User(u.addr.split("@")[0], "archive1", 3 + len(ARCHIVE) * 2, _ur)
        a.addr = "%s@%s.archive" % (u.addr.split("@")[0], DOMAIN)
        a.imap = a.pop = a.mobile = False
        ARCHIVE.append(a)
        u.archive = a
USERS["archive1"] = ARCHIVE

EXT_SENDERS = ["newsletter@shop.example.net", "billing@utility.example.org", "info@partner-example.net",
               "noreply@tickets.example.org", "j.doe@customer.example.net", "support@vendor.example.org",
               "hr@recruiting.example.net", "alerts@monitoring.example.org", "m.rossi@supplier.example.net",
               "office@lawfirm.example.org", "events@conference.example.net", "sales@wholesale.example.org"]
EXT_RELAYS = [("mail-out1.example.net", "198.51.100.25"), ("mx2.example.org", "198.51.100.47"),
              ("smtp.partner-example.net", "198.51.100.61"), ("out.mailer.example.org", "198.51.100.88"),
              ("relay3.example.net", "198.51.100.102"), ("mta7.bulk.example.org", "198.51.100.140")]
EXT_RCPT_MX = [("mx.example.net", "198.51.100.30"), ("mx1.example.org", "198.51.100.53"),
               ("mail.partner-example.net", "198.51.100.71")]
CLIENT_IPS = ["198.51.100.%d" % i for i in (12, 23, 34, 77, 91, 118, 160, 201)] + \
             ["203.0.113.%d" % i for i in (5, 19, 45, 66, 130, 188, 222)]
WEB_UA = [
    ("ZimbraWebClient - FF123 (Linux)", "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0"),
    ("ZimbraWebClient - GC122 (Win)", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36"),
    ("ZimbraWebClient - SAF17 (Mac)", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15"),
    ("ZimbraWebClient - EDGE122 (Win)", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36 Edg/122.0.2365.80"),
]
IMAP_UA = ["Thunderbird/115.8.1", "Apple Mail (2.3774.400.31)", "K-9 Mail/6.800", "Outlook/16.0"]

# ---------------------------------------------------------------- the timeline

LDAP_DOWN = [(T("22:03:20"), T("22:06:38")), (T("22:07:31"), T("22:07:46"))]
MBX_DOWN = {
    "mbx1": [(T("22:58:35"), T("23:30:50")), (T("23:34:12"), T("23:35:25"))],
    "mbx2": [(T("00:02:45"), T("00:31:40")), (T("00:34:42"), T("00:35:50")), (T("00:49:45"), T("00:56:05"))],
    "archive1": [(T("01:16:55"), T("01:33:10"))],
}
# the first start of the new code on each mailbox host (version in jar names)
MBX_UPGRADED = {"mbx1": T("23:29:40"), "mbx2": T("00:30:30"), "archive1": T("01:32:00")}
MTA_DOWN = (T("01:58:45"), T("02:07:40"))
MILTER_UP = T("02:08:30")
PROXY_DOWN = (T("02:22:40"), T("02:29:00"))
MBX2_REBOOT_UP = T("00:56:05")
HOST_SVC_DOWN = {  # zmconfigd not running (zmcontrol stop .. start), per host
    "ldap1": [(T("22:03:05"), T("22:09:40"))],
    "mbx1": [(T("22:58:20"), T("23:31:40"))],
    "mbx2": [(T("00:02:30"), T("00:32:20")), (T("00:49:30"), T("00:56:30"))],
    "archive1": [(T("01:16:40"), T("01:33:50"))],
    "mta1": [(T("01:58:40"), T("02:09:10"))],
    "proxy1": [(T("02:22:30"), T("02:29:40"))],
}


def in_windows(t, wins):
    return any(a <= t < b for a, b in wins)


def mbx_up(host, t):
    return not in_windows(t, MBX_DOWN[host])


def version_at(host, t):
    return NEW if t >= MBX_UPGRADED[host] else OLD


def next_up(host, t):
    for a, b in MBX_DOWN[host]:
        if a <= t < b:
            return b
    return t


# ---------------------------------------------------------------- mailboxd helpers

class Mailboxd:
    """Per mailbox host: thread counters, JVM pid, and the mailbox.log file."""

    def __init__(self, host):
        self.host = host
        self.r = rng("mailboxd/" + host)
        self.log = F("%s/mailbox.log" % host)
        self.qtp = 1335593353 + self.r.randint(0, 99999)
        self.n = 40
        self.imapn = 1
        self.lmtpn = 1
        self.cid = 1000 + self.r.randint(0, 400)

    def restart(self):
        self.qtp = 1000000000 + self.r.randint(0, 999999999)
        self.n = 10
        self.imapn = 1
        self.lmtpn = 1

    def qtp_thread(self, url):
        self.n += self.r.randint(1, 3)
        if self.n > 400:
            self.n = 30
        return "qtp%d-%d:%s" % (self.qtp, self.n, url)

    def rec(self, t, level, thread, ctx, cat, msg, extra=(), kb=None, note=""):
        t = t + dt.timedelta(milliseconds=self.r.randint(0, 97))
        lvl = {"INFO": "INFO ", "WARN": "WARN ", "ERROR": "ERROR", "FATAL": "FATAL", "DEBUG": "DEBUG"}[level]
        c = "".join("%s=%s;" % kv for kv in ctx)
        line = "%s %s [%s] [%s] %s - %s" % (ts_log4j(t), lvl, thread, c, cat, msg)
        self.log.add(t, [line] + list(extra), kb, note)


MBOXD = {h: Mailboxd(h) for h in ("mbx1", "mbx2", "archive1")}


def jar(ver):
    return "[zimbrastore.jar:%s]" % ver


def frames_soap(ver, handler, handler_file, hline, top):
    z = "~" + jar(ver)
    j = "~[jetty-server-9.4.46.v20220331.jar:9.4.46.v20220331]"
    ju = "~[jetty-util-9.4.46.v20220331.jar:9.4.46.v20220331]"
    fr = list(top)
    fr += [
        "\tat %s.handle(%s:%d) %s" % (handler, handler_file, hline, z),
        "\tat com.zimbra.soap.SoapEngine.dispatchRequest(SoapEngine.java:683) %s" % z,
        "\tat com.zimbra.soap.SoapEngine.dispatch(SoapEngine.java:528) %s" % z,
        "\tat com.zimbra.soap.SoapEngine.dispatch(SoapEngine.java:294) %s" % z,
        "\tat com.zimbra.soap.SoapServlet.doWork(SoapServlet.java:305) %s" % z,
        "\tat com.zimbra.soap.SoapServlet.doPost(SoapServlet.java:214) %s" % z,
        "\tat javax.servlet.http.HttpServlet.service(HttpServlet.java:665) ~[servlet-api-3.1.jar:3.1.0]",
        "\tat com.zimbra.cs.servlet.ZimbraServlet.service(ZimbraServlet.java:215) %s" % z,
        "\tat org.eclipse.jetty.servlet.ServletHolder.handle(ServletHolder.java:799) ~[jetty-servlet-9.4.46.v20220331.jar:9.4.46.v20220331]",
        "\tat org.eclipse.jetty.servlet.ServletHandler.doHandle(ServletHandler.java:550) ~[jetty-servlet-9.4.46.v20220331.jar:9.4.46.v20220331]",
        "\tat org.eclipse.jetty.server.handler.ScopedHandler.handle(ScopedHandler.java:143) %s" % j,
        "\tat org.eclipse.jetty.server.Server.handle(Server.java:516) %s" % j,
        "\tat org.eclipse.jetty.server.HttpChannel.handle(HttpChannel.java:479) %s" % j,
        "\tat org.eclipse.jetty.server.HttpConnection.onFillable(HttpConnection.java:277) %s" % j,
        "\tat org.eclipse.jetty.io.AbstractConnection$ReadCallback.succeeded(AbstractConnection.java:311) ~[jetty-io-9.4.46.v20220331.jar:9.4.46.v20220331]",
        "\tat org.eclipse.jetty.util.thread.QueuedThreadPool.runJob(QueuedThreadPool.java:883) %s" % ju,
        "\tat org.eclipse.jetty.util.thread.QueuedThreadPool$Runner.run(QueuedThreadPool.java:1034) %s" % ju,
        "\tat java.lang.Thread.run(Thread.java:840) [?:?]",
    ]
    return fr


def web_ctx(u, ip_client, ua, soap=True, r=None):
    ctx = [("name", u.addr), ("mid", u.mid), ("ip", PROXY_IP), ("oip", ip_client), ("port", 8080), ("ua", ua)]
    if soap and r is not None:
        ctx.append(("soapId", "%08x" % r.randint(0, 0xffffffff)))
    return ctx


# ---------------------------------------------------------------- web traffic (proxy1 + mailbox.log)

ACCESS = F("proxy1/nginx.access.log")
NGERR = F("proxy1/nginx.log")
NGX = {"pid": 2814, "cid": 48000}


def nginx_pid_at(t):
    return 2814 if t < PROXY_DOWN[0] else 31877


def ngx_cid():
    NGX["cid"] += R.randint(1, 9)
    return NGX["cid"]


def proxy_up(t):
    return not (PROXY_DOWN[0] <= t < PROXY_DOWN[1])


UPSTREAM_REFUSED = []  # for notes


def web_request(t, u, r, method, uri, status_ok=200, size=None, ua_pair=None, client=None, soapname=None,
                blob=False):
    """One browser request through proxy1 to the user's mailbox server."""
    if not proxy_up(t):
        return
    client = client or r.choice(CLIENT_IPS)
    ua_pair = ua_pair or r.choice(WEB_UA)
    port = r.randint(30000, 65000)
    up = "%s:8080" % HOSTS[u.host]
    m = MBOXD[u.host]
    if mbx_up(u.host, t):
        st = status_ok
        sz = size if size is not None else r.randint(400, 9000)
        if soapname:
            ver = version_at(u.host, t)
            ua = "%s/%s" % (ua_pair[0], ver)
            thread = m.qtp_thread("https://mail.%s%s" % (DOMAIN, uri))
            ctx = web_ctx(u, client, ua, True, r)
            tt = sec(t, -r.randint(5, 900) / 1000.0)
            if blob:
                blob_error(tt, u, thread, ctx, soapname, r)
            m.rec(tt, "INFO", thread, ctx, "soap", "%s elapsed=%d" % (soapname, r.randint(2, 180)))
    else:
        st = 502
        sz = 1078
        cid = ngx_cid()
        NGERR.add(t, "%s [error] %d#0: *%d connect() failed (111: Connection refused) while connecting to upstream, "
                     "client: %s, server: mail.%s, request: \"%s %s HTTP/1.1\", upstream: \"http://%s%s\", "
                     "host: \"mail.%s\", referrer: \"https://mail.%s/\""
                  % (ts_nginx(t), nginx_pid_at(t), cid, client, DOMAIN, method, uri, up, uri, DOMAIN, DOMAIN),
                  "proxy/upstream-connection-refused", "%s web upstream %s down" % (u.host, up))
    ACCESS.add(t, "%s:%d - - [%s]  \"%s https://mail.%s%s HTTP/1.1\" %d %d \"https://mail.%s/\" \"%s\" \"%s\" \"%s:443\""
               % (client, port, ts_access(t), method, DOMAIN, uri, st, sz, DOMAIN, ua_pair[1], up, PROXY_IP))


# ---------------------------------------------------------------- HSM blob errors on mbx2

BLOB_STATE = {"n": 0, "mboxes": []}
HSM_USERS = []


def blob_error(t, u, thread, ctx, soapname, r):
    item = r.randint(300, 9000)
    rev = r.randint(900, 40000)
    handler = {"GetMsgRequest": ("com.zimbra.cs.service.mail.GetMsg", "GetMsg.java", 185),
               "GetConvRequest": ("com.zimbra.cs.service.mail.GetConv", "GetConv.java", 152),
               "SearchConvRequest": ("com.zimbra.cs.service.mail.SearchConv", "SearchConv.java", 221)}[soapname]
    ver = version_at(u.host, t)
    z = "~" + jar(ver)
    top = [
        "com.zimbra.cs.mailbox.MailServiceException: No such blob: mailbox=%d, item=%d, change=%d" % (u.mid, item, rev),
        "\tat com.zimbra.cs.mailbox.MailServiceException.NO_SUCH_BLOB(MailServiceException.java:340) %s" % z,
        "\tat com.zimbra.cs.mailbox.MailItem.getBlob(MailItem.java:1387) %s" % z,
        "\tat com.zimbra.cs.mailbox.MessageCache.getMimeMessage(MessageCache.java:172) %s" % z,
        "\tat com.zimbra.cs.mailbox.Message.getMimeMessage(Message.java:466) %s" % z,
        "\tat com.zimbra.cs.mailbox.Message.getMimeMessage(Message.java:453) %s" % z,
        "\tat com.zimbra.cs.service.mail.ToXML.encodeMessageAsMPHelper(ToXML.java:1503) %s" % z,
        "\tat com.zimbra.cs.service.mail.ToXML.encodeMessageAsMP(ToXML.java:1443) %s" % z,
    ]
    fr = frames_soap(ver, handler[0], handler[1], handler[2], top)
    BLOB_STATE["n"] += 1
    if u.mid not in BLOB_STATE["mboxes"]:
        BLOB_STATE["mboxes"].append(u.mid)
    MBOXD[u.host].rec(t, "ERROR", thread, ctx, "mailbox", "Unable to get blob while encoding message", fr,
                      "store/hsm-volume-not-mounted", "mailbox=%d item=%d (%s)" % (u.mid, item, soapname))


def imap_fnf(t, u, r):
    m = MBOXD[u.host]
    item = r.randint(300, 9000)
    rev = r.randint(900, 40000)
    path = "/opt/zimbra/store2/%d/%d/msg/%d/%d-%d.msg" % (u.mid >> 12, u.mid, item >> 12, item, rev)
    ver = version_at(u.host, t)
    z = "~" + jar(ver)
    m.imapn += 1
    thread = "ImapServer-%d" % (m.imapn % 60 + 1)
    m.cid += 1
    ctx = [("name", u.addr), ("mid", u.mid), ("ip", PROXY_IP), ("oip", r.choice(CLIENT_IPS)),
           ("via", "%s(nginx/1.20.0)" % PROXY_IP), ("ua", r.choice(IMAP_UA)), ("cid", m.cid)]
    fr = [
        "com.zimbra.common.service.ServiceException: system failure: IOException while retrieving content for item %d" % item,
        "\tat com.zimbra.common.service.ServiceException.FAILURE(ServiceException.java:310) ~[zimbracommon.jar:%s]" % ver,
        "\tat com.zimbra.cs.mailbox.MessageCache.getMimeMessage(MessageCache.java:225) %s" % z,
        "\tat com.zimbra.cs.mailbox.Message.getMimeMessage(Message.java:466) %s" % z,
        "\tat com.zimbra.cs.imap.ImapMessage.getMimeMessage(ImapMessage.java:309) %s" % z,
        "\tat com.zimbra.cs.imap.ImapHandler.doFETCH(ImapHandler.java:4062) %s" % z,
        "\tat com.zimbra.cs.imap.ImapHandler.executeRequest(ImapHandler.java:1003) %s" % z,
        "\tat com.zimbra.cs.imap.NioImapHandler.processRequest(NioImapHandler.java:109) %s" % z,
        "\tat com.zimbra.cs.server.NioHandlerDispatcher.messageReceived(NioHandlerDispatcher.java:81) %s" % z,
        "\tat org.apache.mina.core.filterchain.DefaultIoFilterChain$TailFilter.messageReceived(DefaultIoFilterChain.java:1015) ~[mina-core-2.1.6.jar:?]",
        "\tat java.lang.Thread.run(Thread.java:840) [?:?]",
        "Caused by: java.io.FileNotFoundException: %s does not exist" % path,
        "\tat com.zimbra.cs.store.BlobInputStream.<init>(BlobInputStream.java:140) %s" % z,
        "\tat com.zimbra.cs.store.BlobInputStream.<init>(BlobInputStream.java:111) %s" % z,
        "\tat com.zimbra.cs.store.file.FileBlobStore.getContent(FileBlobStore.java:396) %s" % z,
        "\tat com.zimbra.cs.mailbox.MessageCache.getMimeMessage(MessageCache.java:183) %s" % z,
        "\t... 8 more",
    ]
    m.rec(t, "WARN", thread, ctx, "imap", "UID FETCH failed", fr,
          "store/hsm-volume-not-mounted", "FileNotFoundException %s" % path)
    if u.mid not in BLOB_STATE["mboxes"]:
        BLOB_STATE["mboxes"].append(u.mid)
    BLOB_STATE["n"] += 1


# ---------------------------------------------------------------- syslog (zimbra.log) helpers

class Syslog:
    def __init__(self, host):
        self.host = host
        self.f = F("%s/zimbra.log" % host)

    def add(self, t, prog, pid, msg, kb=None, note=""):
        p = "%s[%d]" % (prog, pid) if pid is not None else prog
        self.f.add(t, "%s %s %s: %s" % (ts_syslog(t), self.host, p, msg), kb, note)


SYS = {h: Syslog(h) for h in HOSTS}


def zimbramon(h, t, pid, msg):
    SYS[h].add(t, "zimbramon", pid, "%d:info: %s" % (pid, msg))


def zmconfigd_cycles(h, r):
    svc_down = HOST_SVC_DOWN[h]
    pid = 3000 + r.randint(0, 5000)
    t = sec(START, r.randint(0, 59))
    was_down = False
    while t < END:
        if in_windows(t, svc_down):
            was_down = True
            t = sec(t, 60)
            continue
        if was_down:
            pid = 20000 + r.randint(0, 30000)
            was_down = False
        SYS[h].add(t, "zmconfigd", pid, "Fetching All configs")
        SYS[h].add(sec(t, r.randint(0, 1)), "zmconfigd", pid,
                   "All configs fetched in 0.%02d seconds" % r.randint(2, 9))
        t2 = sec(t, r.randint(5, 8))
        if h == "mta1":
            SYS[h].add(t2, "zmconfigd", pid, "Watchdog: service antivirus status is OK.")
        SYS[h].add(t2, "zmconfigd", pid, "All rewrite threads completed in 0.00 sec")
        SYS[h].add(t2, "zmconfigd", pid, "All restarts completed in 0.00 sec")
        t = sec(t, 60 + r.randint(-1, 1))


def sshd_login(h, t, r, who="admin"):
    pid = r.randint(100000, 200000)
    SYS[h].add(t, "sshd", pid, "Accepted publickey for %s from 10.0.0.250 port %d ssh2: ED25519 SHA256:q2kX8c0WJ1rY4oVtM7n9bZs3fE6hU5aLpD1gK0wRiTc"
               % (who, r.randint(40000, 60000)))
    SYS[h].add(t, "sshd", pid, "pam_unix(sshd:session): session opened for user %s(uid=1000) by (uid=0)" % who)
    SYS[h].add(sec(t, 9), "sudo", None, "   %s : TTY=pts/0 ; PWD=/home/%s ; USER=root ; COMMAND=/bin/bash" % (who, who))
    SYS[h].add(sec(t, 9), "sudo", None, "pam_unix(sudo:session): session opened for user root(uid=0) by %s(uid=1000)" % who)


def zmcontrol_stop(h, t, svcs, r):
    pid = r.randint(200000, 300000)
    zimbramon(h, t, pid, "Stopping services initiated by zmcontrol")
    tt = t
    for s in svcs:
        tt = sec(tt, r.randint(2, 9))
        zimbramon(h, tt, pid, "Stopping %s via zmcontrol" % s)
    return tt


def zmcontrol_start(h, t, svcs, r):
    pid = r.randint(200000, 300000)
    zimbramon(h, t, pid, "Starting services initiated by zmcontrol")
    tt = t
    for s in svcs:
        tt = sec(tt, r.randint(3, 12))
        zimbramon(h, tt, pid, "Starting %s via zmcontrol" % s)
    return tt


def mailboxdmgr_stop(h, t, jpid, r):
    m = r.randint(300000, 400000)
    SYS[h].add(t, "zmmailboxdmgr", m, "stop requested")
    SYS[h].add(sec(t, 6), "zmmailboxdmgr", jpid - 3, "manager woke up from wait on mailboxd/JVM with pid %d" % jpid)


def mailboxdmgr_start(h, t, r):
    s = r.randint(300000, 400000)
    SYS[h].add(t, "zmmailboxdmgr", s, "start requested")
    SYS[h].add(t, "zmmailboxdmgr", s, "checking if another instance of manager is already running")
    SYS[h].add(t, "zmmailboxdmgr", s, "file /opt/zimbra/log/zmmailboxd_manager.pid does not exist")
    SYS[h].add(t, "zmmailboxdmgr", s, "assuming no other instance is running")
    mpid = s + 1
    jpid = s + 4
    SYS[h].add(t, "zmmailboxdmgr", mpid, "wrote manager pid %d to /opt/zimbra/log/zmmailboxd_manager.pid" % mpid)
    SYS[h].add(t, "zmmailboxdmgr", mpid, "manager started mailboxd/JVM with pid %d" % jpid)
    SYS[h].add(t, "zmmailboxdmgr", jpid, "wrote java pid %d to /opt/zimbra/log/zmmailboxd_java.pid" % jpid)
    return jpid


# ---------------------------------------------------------------- mailboxd start / stop records

def mailboxd_stop_records(h, t, r):
    m = MBOXD[h]
    ver = version_at(h, sec(t, -1))
    m.rec(t, "INFO", "Thread-%d" % r.randint(10, 40), [], "soap", "Servlet SoapServlet shutting down")
    m.rec(sec(t, 1), "INFO", "Thread-%d" % r.randint(10, 40), [], "misc", "Shutting down Mailbox server")
    out = F("%s/zmmailboxd.out" % h)
    out.add(sec(t, 1), "%s:INFO:oejs.AbstractConnector:Thread-11: Stopped ServerConnector@%s{HTTP/1.1, (http/1.1)}{0.0.0.0:8080}"
            % (ts_jetty(sec(t, 1)), "%08x" % r.randint(0, 0xffffffff)))
    out.add(sec(t, 2), "%s:INFO:oejsh.ContextHandler:Thread-11: Stopped o.e.j.w.WebAppContext@%s{/service,null,STOPPED}{/opt/zimbra/jetty_base/webapps/service}"
            % (ts_jetty(sec(t, 2)), "%08x" % r.randint(0, 0xffffffff)))
    return ver


def mailboxd_start_records(h, t, r, ver):
    m = MBOXD[h]
    m.restart()
    out = F("%s/zmmailboxd.out" % h)
    base = t
    out.add(base, "%s:INFO::main: Logging initialized @%dms to org.eclipse.jetty.util.log.StdErrLog"
            % (ts_jetty(base), r.randint(900, 1500)))
    for i, p in enumerate([(7025, "false"), (7143, "false"), (7993, "true"), (7110, "false"), (7995, "true")]):
        out.add(sec(base, 1), "Zimbra server reserving server socket port=%d bindaddr=null ssl=%s" % p)
    out.add(sec(base, 3), "%s:INFO:oejs.Server:main: jetty-9.4.46.v20220331; built: 2022-03-31T16:38:08.030Z; git: bc17a0369a11ecf40bb92c839b9ef0a8ac50ea18; jvm 17.0.10+7"
            % ts_jetty(sec(base, 3)))
    m.rec(sec(base, 4), "INFO", "main", [], "misc",
          "version=%s release=%s builddate=%s buildhost=zre-ubuntu20-64"
          % (ver.replace("_GA_", "_GA_"), "20260210050000" if ver == NEW else "20250115093000",
             "20260210-0500" if ver == NEW else "20250115-0930"))
    m.rec(sec(base, 4), "INFO", "main", [], "misc", "LANG environment is set to: en_US.UTF-8")
    for k, v in [("java.home", "/opt/zimbra/common/lib/jvm/java"), ("java.runtime.version", "17.0.10+7"),
                 ("java.version", "17.0.10"), ("java.vm.name", "OpenJDK 64-Bit Server VM"),
                 ("os.arch", "amd64"), ("os.name", "Linux"), ("os.version", "5.15.0-101-generic")]:
        m.rec(sec(base, 4), "INFO", "main", [], "misc", "System property %s=%s" % (k, v))
    m.rec(sec(base, 9), "INFO", "main", [], "soap", "Servlet SoapServlet starting up")
    tt = sec(base, r.randint(25, 40))
    out.add(tt, "%s:INFO:oejs.AbstractConnector:main: Started ServerConnector@%s{HTTP/1.1, (http/1.1)}{0.0.0.0:8080}"
            % (ts_jetty(tt), "%08x" % r.randint(0, 0xffffffff)))
    out.add(tt, "%s:INFO:oejs.AbstractConnector:main: Started ssl@%s{SSL, (ssl, http/1.1)}{0.0.0.0:8443}"
            % (ts_jetty(tt), "%08x" % r.randint(0, 0xffffffff)))
    out.add(tt, "%s:INFO:oejs.Server:main: Started @%dms" % (ts_jetty(tt), r.randint(28000, 45000)))


# ---------------------------------------------------------------- mail flow: mta1 + lmtp on mailbox hosts

MTA = SYS["mta1"]
MTA_PIDS = {"qmgr": 2291, "lmtp": [], "smtp": [], "cleanup": [], "smtpd": [], "amavis": [], "proxymap": 2297}
_mr = rng("mta")
QIDS = set()


def qid():
    while True:
        q = hexid(_mr, 11)
        if q not in QIDS:
            QIDS.add(q)
            return q


def pid_of(kind, lo, hi, n=4):
    lst = MTA_PIDS[kind]
    if not lst or _mr.random() < 0.03:
        lst.append(_mr.randint(lo, hi))
        if len(lst) > n:
            lst.pop(0)
    return _mr.choice(lst)


def qmgr_pid(t):
    return 2291 if t < MTA_DOWN[0] else 64712


def mta_up(t):
    return not (MTA_DOWN[0] <= t < MTA_DOWN[1])


AMAVIS_SEQ = {}


def amavis_id():
    p = pid_of("amavis", 11200, 11230, 3)
    AMAVIS_SEQ[p] = AMAVIS_SEQ.get(p, 0) + 1
    if AMAVIS_SEQ[p] > 99:
        AMAVIS_SEQ[p] = 1
    return p, "(%d-%02d)" % (p, AMAVIS_SEQ[p])


PENDING = []  # deferred lmtp deliveries: (retry_time, qid2, rcpt, sender, size, msgid, first_t, host, user, nrcpt)


def pf(x):
    """Postfix-style delay number."""
    if x < 0.1:
        return "%.2f" % x if x >= 0.01 else "0"
    if x < 10:
        return "%.1f" % x
    return "%d" % x


def lmtp_deliver(t, q2, rcpts, sender, size, msgid, first_t):
    """Try LMTP delivery of one queued message to its recipients' mailbox hosts."""
    lpid = pid_of("lmtp", 40000, 60000, 3)
    remaining = []
    by_host = {}
    for u in rcpts:
        by_host.setdefault(u.host, []).append(u)
    for host in sorted(by_host):
        us = by_host[host]
        if mbx_up(host, t):
            for u in us:
                d = (t - first_t).total_seconds() + _mr.randint(5, 40) / 100.0
                tr = _mr.randint(5, 40) / 100.0
                MTA.add(sec(t, 0.2), "postfix/lmtp", lpid,
                        "%s: to=<%s>, relay=%s.%s[%s]:7025, delay=%s, delays=%s/0.01/0.01/%s, dsn=2.1.5, status=sent (250 2.1.5 Delivery OK)"
                        % (q2, u.addr, host, DOMAIN, HOSTS[host], pf(d), pf(max(0.01, d - tr - 0.02)), pf(tr)))
                mbx_delivery(sec(t, 0.1), u, sender, size, msgid)
        else:
            d = (t - first_t).total_seconds()
            for u in us:
                MTA.add(t, "postfix/lmtp", lpid,
                        "%s: to=<%s>, relay=none, delay=%s, delays=%s/0.01/0/0, dsn=4.4.1, status=deferred "
                        "(connect to %s.%s[%s]:7025: Connection refused)"
                        % (q2, u.addr, pf(d + 0.02), pf(d), host, DOMAIN, HOSTS[host]),
                        "mta/lmtp-delivery-deferred", "LMTP to %s:7025 refused (mailboxd down)" % host)
            remaining.extend(us)
    if remaining:
        age = (t - first_t).total_seconds()
        backoff = 300 if age < 300 else min(4000, max(300, age))
        PENDING.append((sec(t, backoff + _mr.randint(0, 20)), q2, remaining, sender, size, msgid, first_t))
    else:
        MTA.add(sec(t, 0.3), "postfix/qmgr", qmgr_pid(t), "%s: removed" % q2)


def mbx_delivery(t, u, sender, size, msgid):
    m = MBOXD[u.host]
    m.lmtpn += 1
    thread = "LmtpServer-%d" % (m.lmtpn % 40 + 1)
    m.rec(t, "INFO", thread, [("ip", HOSTS["mta1"]), ("msgid", msgid)], "lmtp",
          "Delivering message: size=%d bytes, nrcpts=1, sender=%s, msgid=%s" % (size, sender, msgid))
    u.next_item += _mr.randint(1, 4)
    m.rec(sec(t, 0.05), "INFO", thread, [("name", u.addr), ("mid", u.mid), ("ip", HOSTS["mta1"]), ("msgid", msgid)],
          "mailop", "Adding Message: id=%d, sender=%s, Message-ID=%s, parentId=-1, folderId=2, folderName=Inbox acct=%s."
          % (u.next_item, sender, msgid, u.aid))


def process_pending(upto):
    """Retry deferred messages whose retry time has come (queue runs)."""
    while True:
        PENDING.sort(key=lambda x: x[0])
        if not PENDING or PENDING[0][0] > upto:
            return
        rt, q2, rcpts, sender, size, msgid, first_t = PENDING.pop(0)
        if not mta_up(rt):
            rt = sec(MTA_DOWN[1], _mr.randint(30, 90))
        MTA.add(rt, "postfix/qmgr", qmgr_pid(rt), "%s: from=<%s>, size=%d, nrcpt=%d (queue active)" % (q2, sender, size + 700, len(rcpts)))
        lmtp_deliver(sec(rt, 0.1), q2, rcpts, sender, size, msgid, first_t)


def inbound_message(t, u, r, ldap_fail=False):
    if not mta_up(t):
        return
    relay_host, relay_ip = r.choice(EXT_RELAYS)
    sender = r.choice(EXT_SENDERS)
    spid = pid_of("smtpd", 30000, 60000, 5)
    MTA.add(t, "postfix/smtpd", spid, "connect from %s[%s]" % (relay_host, relay_ip))
    if ldap_fail:
        MTA.add(sec(t, 0.4), "postfix/proxymap", MTA_PIDS["proxymap"],
                "warning: dict_ldap_connect: Unable to bind to server ldap://ldap1.%s:389 with dn uid=zmpostfix,cn=appaccts,cn=zimbra: -1 (Can't contact LDAP server)" % DOMAIN,
                "mta/ldap-lookup-failure", "slapd on ldap1 stopped for its upgrade")
        MTA.add(sec(t, 0.5), "postfix/smtpd", spid,
                "warning: proxy:ldap:/opt/zimbra/conf/ldap-vmm.cf lookup error for \"%s\"" % u.addr,
                "mta/ldap-lookup-failure", "LDAP map lookup failed")
        MTA.add(sec(t, 0.5), "postfix/smtpd", spid,
                "NOQUEUE: reject: RCPT from %s[%s]: 451 4.3.0 <%s>: Temporary lookup failure; from=<%s> to=<%s> proto=ESMTP helo=<%s>"
                % (relay_host, relay_ip, u.addr, sender, u.addr, relay_host),
                "mta/ldap-lookup-failure", "recipient temporarily rejected")
        MTA.add(sec(t, 0.7), "postfix/smtpd", spid,
                "disconnect from %s[%s] ehlo=1 mail=1 rcpt=0/1 rset=1 quit=1 commands=4/5" % (relay_host, relay_ip))
        return
    size = r.choice([r.randint(2500, 12000), r.randint(12000, 90000), r.randint(90000, 900000)])
    msgid = "<%s@%s>" % (b62(r, 20), sender.split("@")[1])
    q1 = qid()
    MTA.add(sec(t, 0.3), "postfix/smtpd", spid, "Anonymous TLS connection established from %s[%s]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" % (relay_host, relay_ip))
    MTA.add(sec(t, 0.6), "postfix/smtpd", spid, "%s: client=%s[%s]" % (q1, relay_host, relay_ip))
    cpid = pid_of("cleanup", 30000, 60000, 3)
    MTA.add(sec(t, 0.8), "postfix/cleanup", cpid, "%s: message-id=%s" % (q1, msgid))
    rcpts = [u] + ([u.archive] if u.archived else [])
    MTA.add(sec(t, 0.9), "postfix/qmgr", qmgr_pid(t), "%s: from=<%s>, size=%d, nrcpt=%d (queue active)" % (q1, sender, size, len(rcpts)))
    MTA.add(sec(t, 1.0), "postfix/smtpd", spid, "disconnect from %s[%s] ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7" % (relay_host, relay_ip))
    apid, aid = amavis_id()
    ms = r.randint(300, 2600)
    q2 = qid()
    t2 = sec(t, 1.0 + ms / 1000.0)
    apid2 = r.randint(40000, 60000)
    MTA.add(sec(t2, -0.2), "postfix/amavisd/smtpd", apid2, "connect from localhost[127.0.0.1]")
    MTA.add(sec(t2, -0.2), "postfix/amavisd/smtpd", apid2, "%s: client=localhost[127.0.0.1]" % q2)
    MTA.add(sec(t2, -0.1), "postfix/cleanup", cpid, "%s: message-id=%s" % (q2, msgid))
    MTA.add(sec(t2, -0.1), "postfix/qmgr", qmgr_pid(t), "%s: from=<%s>, size=%d, nrcpt=%d (queue active)" % (q2, sender, size + 700, len(rcpts)))
    MTA.add(sec(t2, -0.1), "postfix/amavisd/smtpd", apid2, "disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=%d data=1 quit=1 commands=%d" % (len(rcpts), 4 + len(rcpts)))
    to = ",".join("<%s>" % x.addr for x in rcpts)
    MTA.add(t2, "amavis", apid, "%s Passed CLEAN {RelayedInbound}, [%s]:%d [%s] <%s> -> %s, Queue-ID: %s, Message-ID: %s, mail_id: %s, Hits: %.3f, size: %d, queued_as: %s, %d ms"
            % (aid, relay_ip, r.randint(30000, 60000), relay_ip, sender, to, q1, msgid, b62(r, 12),
               r.uniform(-2.5, 3.5), size, q2, ms))
    spid2 = pid_of("smtp", 30000, 60000, 3)
    MTA.add(sec(t2, 0.01), "postfix/smtp", spid2,
            "%s: to=<%s>, relay=127.0.0.1[127.0.0.1]:10032, delay=%.1f, delays=0.6/0.01/0.01/%.1f, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as %s)"
            % (q1, u.addr, 1.0 + ms / 1000.0, ms / 1000.0, q2))
    MTA.add(sec(t2, 0.02), "postfix/qmgr", qmgr_pid(t), "%s: removed" % q1)
    lmtp_deliver(sec(t2, 0.05), q2, rcpts, sender, size, msgid, t)


def outbound_message(t, u, r):
    """Mail sent from the web client: mailboxd -> mta1 (10026) -> external MX."""
    if not mta_up(t) or not mbx_up(u.host, t):
        return
    rcpt = r.choice(EXT_SENDERS)
    mx_host, mx_ip = r.choice(EXT_RCPT_MX)
    size = r.randint(1800, 40000)
    msgid = "<%d.%d.%d.JavaMail.zimbra@%s>" % (r.randint(100000000, 999999999), r.randint(100, 999),
                                               int(t.timestamp() * 1000) % 10 ** 13, DOMAIN)
    host = u.host
    spid = pid_of("smtpd", 30000, 60000, 5)
    q1, q2 = qid(), qid()
    MTA.add(t, "postfix/smtpd", spid, "connect from %s.%s[%s]" % (host, DOMAIN, HOSTS[host]))
    MTA.add(sec(t, 0.1), "postfix/smtpd", spid, "%s: client=%s.%s[%s]" % (q1, host, DOMAIN, HOSTS[host]))
    cpid = pid_of("cleanup", 30000, 60000, 3)
    MTA.add(sec(t, 0.2), "postfix/cleanup", cpid, "%s: message-id=%s" % (q1, msgid))
    MTA.add(sec(t, 0.2), "postfix/qmgr", qmgr_pid(t), "%s: from=<%s>, size=%d, nrcpt=1 (queue active)" % (q1, u.addr, size))
    MTA.add(sec(t, 0.3), "postfix/smtpd", spid, "disconnect from %s.%s[%s] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5" % (host, DOMAIN, HOSTS[host]))
    apid, aid = amavis_id()
    ms = r.randint(250, 1500)
    t2 = sec(t, 0.4 + ms / 1000.0)
    MTA.add(t2, "amavis", apid, "%s Passed CLEAN {RelayedOutbound}, ORIGINATING_POST/MYNETS LOCAL [%s]:%d [%s] <%s> -> <%s>, Queue-ID: %s, Message-ID: %s, mail_id: %s, Hits: -, size: %d, queued_as: %s, %d ms"
            % (aid, HOSTS[host], r.randint(30000, 60000), HOSTS[host], u.addr, rcpt, q1, msgid, b62(r, 12), size, q2, ms))
    spid2 = pid_of("smtp", 30000, 60000, 3)
    MTA.add(sec(t2, 0.01), "postfix/smtp", spid2,
            "%s: to=<%s>, relay=127.0.0.1[127.0.0.1]:10026, delay=%.1f, delays=0.2/0.01/0.01/%.1f, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as %s)"
            % (q1, rcpt, 0.4 + ms / 1000.0, ms / 1000.0, q2))
    MTA.add(sec(t2, 0.02), "postfix/qmgr", qmgr_pid(t), "%s: removed" % q1)
    MTA.add(sec(t2, 0.05), "postfix/qmgr", qmgr_pid(t), "%s: from=<%s>, size=%d, nrcpt=1 (queue active)" % (q2, u.addr, size + 650))
    d = r.uniform(0.6, 3.5)
    MTA.add(sec(t2, d), "postfix/smtp", spid2,
            "%s: to=<%s>, relay=%s[%s]:25, delay=%.1f, delays=0.05/0.01/%.1f/%.1f, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as %s)"
            % (q2, rcpt, mx_host, mx_ip, d, d * 0.4, d * 0.6, hexid(r, 10)))
    MTA.add(sec(t2, d + 0.01), "postfix/qmgr", qmgr_pid(t), "%s: removed" % q2)
    # mailbox side: SendMsgRequest + the sent copy
    m = MBOXD[host]
    ua_pair = r.choice(WEB_UA)
    return msgid, ua_pair


def submission_auth(t, u, r):
    """SMTP AUTH from a mail client on port 587 via saslauthd."""
    if not mta_up(t):
        return
    sp = 2411
    ip = r.choice(CLIENT_IPS)
    spid = pid_of("smtpd", 30000, 60000, 5)
    target = "mbx2" if not mbx_up("mbx1", t) else "mbx1"
    if not mbx_up(target, t):
        return
    MTA.add(t, "postfix/submission/smtpd", spid, "connect from unknown[%s]" % ip)
    MTA.add(sec(t, 0.2), "postfix/submission/smtpd", spid, "Anonymous TLS connection established from unknown[%s]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" % ip)
    MTA.add(sec(t, 0.3), "saslauthd", sp, "zmauth: authenticating against elected url 'https://%s.%s:7073/service/admin/soap/' ..." % (target, DOMAIN))
    MTA.add(sec(t, 0.4), "saslauthd", sp, "auth_zimbra: %s auth OK" % u.addr)
    MTA.add(sec(t, 1.5), "postfix/submission/smtpd", spid, "disconnect from unknown[%s] ehlo=2 starttls=1 auth=1 quit=1 commands=5" % ip)


# ---------------------------------------------------------------- installer console and zmsetup log

class Setup:
    """zmsetup.pl output: `progress` goes to the console and, one piece per
    dated line, to the zmsetup log; `detail` goes to the log only; command
    output is appended to the log undated."""

    def __init__(self, console, log):
        self.con = console
        self.log = log
        self.buf = ""
        self.marks = []

    def con_line(self, text, kb=None, note=""):
        self.con.add(None, text, kb, note)

    def progress(self, t, msg, kb=None, note="", con_mark=None):
        """con_mark = (substring, kb, note): the console line holding the
        substring (after pieces are joined) is an expected event."""
        if con_mark:
            self.marks.append(con_mark)
        parts = msg.split("\n")
        for p in parts[:-1]:
            line = self.buf + p
            k, n = None, ""
            for m in self.marks:
                if m[0] in line:
                    k, n = m[1], m[2]
            if k:
                self.marks = [m for m in self.marks if m[0] not in line]
            self.con.add(None, line, k, n)
            self.buf = ""
        self.buf += parts[-1]
        if self.log is None:
            return
        # log: one trailing newline removed, the rest kept as undated lines
        m = msg[:-1] if msg.endswith("\n") else msg
        lines = m.split("\n")
        self.log.add(t, ["%s %s" % (ts_ctime(t), lines[0])] + lines[1:], kb, note)

    def detail(self, t, msg, out=()):
        if self.log is None:
            return
        m = msg[:-1] if msg.endswith("\n") else msg
        lines = m.split("\n")
        self.log.add(t, ["%s %s" % (ts_ctime(t), lines[0])] + lines[1:] + list(out))

    def run(self, t, cmd, out=(), as_user="zimbra"):
        self.detail(t, "*** Running as %s user: %s" % (as_user, cmd), out)


PKGS_ALL = ["zimbra-ldap", "zimbra-logger", "zimbra-mta", "zimbra-dnscache", "zimbra-snmp", "zimbra-store",
            "zimbra-apache", "zimbra-spell", "zimbra-convertd", "zimbra-memcached", "zimbra-proxy",
            "zimbra-archiving", "zimbra-onlyoffice", "zimbra-license-daemon", "zimbra-core"]
OPT_PKGS = ["zimbra-drive", "zimbra-imapd", "zimbra-license-tools", "zimbra-license-extension",
            "zimbra-network-store", "zimbra-network-modules-ng", "zimbra-modern-ui", "zimbra-modern-zimlets",
            "zimbra-zimlet-document-editor", "zimbra-zimlet-classic-document-editor", "zimbra-patch",
            "zimbra-mta-patch", "zimbra-proxy-patch", "zimbra-ldap-patch"]
HOST_PKGS = {
    "ldap1": ["zimbra-ldap", "zimbra-snmp", "zimbra-core"],
    "mbx1": ["zimbra-snmp", "zimbra-store", "zimbra-apache", "zimbra-spell", "zimbra-convertd", "zimbra-core"],
    "mbx2": ["zimbra-snmp", "zimbra-store", "zimbra-apache", "zimbra-spell", "zimbra-convertd", "zimbra-core"],
    "archive1": ["zimbra-snmp", "zimbra-store", "zimbra-archiving", "zimbra-core"],
    "mta1": ["zimbra-mta", "zimbra-dnscache", "zimbra-snmp", "zimbra-core"],
    "proxy1": ["zimbra-snmp", "zimbra-memcached", "zimbra-proxy", "zimbra-core"],
}
HOST_OPT = {
    "ldap1": ["zimbra-license-tools", "zimbra-patch", "zimbra-ldap-patch"],
    "mbx1": ["zimbra-license-tools", "zimbra-license-extension", "zimbra-network-store", "zimbra-modern-ui",
             "zimbra-modern-zimlets", "zimbra-patch"],
    "archive1": ["zimbra-license-tools", "zimbra-license-extension", "zimbra-network-store", "zimbra-patch"],
    "mta1": ["zimbra-license-tools", "zimbra-patch", "zimbra-mta-patch"],
    "proxy1": ["zimbra-license-tools", "zimbra-patch", "zimbra-proxy-patch"],
}
HOST_OPT["mbx2"] = HOST_OPT["mbx1"]
HOST_SERVICES = {
    "ldap1": ["ldap", "snmp", "stats", "zmconfigd"],
    "mbx1": ["mailbox", "convertd", "snmp", "spell", "stats", "zmconfigd"],
    "mbx2": ["mailbox", "convertd", "snmp", "spell", "stats", "zmconfigd"],
    "archive1": ["mailbox", "snmp", "stats", "zmconfigd"],
    "mta1": ["amavis", "antispam", "antivirus", "dnscache", "mta", "opendkim", "snmp", "stats", "zmconfigd"],
    "proxy1": ["memcached", "proxy", "snmp", "stats", "zmconfigd"],
}


def console_head(con, host, logname, r):
    con.add(None, "")
    con.add(None, "Operations logged to /tmp/install.log.%s" % logname)
    con.add(None, "Checking for existing installation...")
    for p in OPT_PKGS:
        if p in HOST_OPT[host]:
            con.add(None, "    %s...FOUND %s-%s" % (p, p, OLD_PKG))
        else:
            con.add(None, "    %s...NOT FOUND" % p)
    for p in PKGS_ALL:
        if p in HOST_PKGS[host]:
            con.add(None, "    %s...FOUND %s-%s" % (p, p, OLD_PKG))
        else:
            con.add(None, "    %s...NOT FOUND" % p)


def console_validate(con, host, kb_note=None):
    if host == "ldap1":
        con.add(None, "Validating existing license is not expired and qualifies for upgrade")
        con.add(None, "License is valid and supports this upgrade.  Continuing.")
    con.add(None, "Validating ldap configuration")
    con.add(None, "LDAP validation succeeded.  Continuing.")


def console_license_ok(con, host, users, limit):
    con.add(None, "Checking for available license file...")
    con.add(None, "Current Users=%d Licensed Users=%d" % (users, limit))


def console_agreement(con, host, r):
    con.add(None, "")
    con.add(None, "----------------------------------------------------------------------")
    for l in ["PLEASE READ THIS AGREEMENT CAREFULLY BEFORE USING THE SOFTWARE.",
              "SYNACOR, INC. (\"SYNACOR\") WILL ONLY LICENSE THIS SOFTWARE TO YOU IF YOU",
              "FIRST ACCEPT THE TERMS OF THIS AGREEMENT. BY DOWNLOADING OR INSTALLING",
              "THE SOFTWARE, OR USING THE PRODUCT, YOU ARE CONSENTING TO BE BOUND BY",
              "THIS AGREEMENT. IF YOU DO NOT AGREE TO ALL OF THE TERMS OF THIS",
              "AGREEMENT, THEN DO NOT DOWNLOAD, INSTALL OR USE THE PRODUCT.",
              "",
              "License Terms for this Zimbra Collaboration Suite Software:",
              "https://www.zimbra.com/license/zimbra-network-edition-eula-2-6.html"]:
        con.add(None, l)
    con.add(None, "----------------------------------------------------------------------")
    con.add(None, "")
    con.add(None, "")
    con.add(None, "")
    con.add(None, "Do you agree with the terms of the software license agreement? [N] y")
    con.add(None, "")
    con.add(None, "Checking for prerequisites...")
    for p in ["NPTL", "netcat-openbsd-1.206-1ubuntu1", "sudo-1.8.31-1ubuntu1.5", "libidn11-1.33-2.2ubuntu2",
              "libpcre3-2:8.39-12ubuntu0.1", "libexpat1-2.2.9-1ubuntu0.7", "libmpfr6-4.0.2-1",
              "libgmp10-2:6.2.0+dfsg-4ubuntu0.1", "libstdc++6-10.5.0-1ubuntu1~20.04",
              "libaio1-0.3.112-5", "unzip-6.0-25ubuntu1.2", "pax-1:20190421-1"]:
        con.add(None, "     FOUND: %s" % p)
    con.add(None, "")
    con.add(None, "Checking for suggested prerequisites...")
    con.add(None, "     FOUND: perl-5.30.0")
    con.add(None, "     FOUND: sysstat")
    if host in ("mbx1", "mbx2", "archive1"):
        con.add(None, "     FOUND: pdftotext")
    con.add(None, "Prerequisite check complete.")
    con.add(None, "")


def console_integrity(con, host, r, nmbox_groups):
    con.add(None, "Checking current number of databases...")
    con.add(None, "")
    con.add(None, "Do you want to verify message store database integrity? [Y] ")
    con.add(None, "Verifying integrity of message store databases.  This may take a while.",
            "upgrade/schema-upgrade-slow", "message store integrity check before the upgrade (expected, slow)")
    # zmdbintegrityreport -v -r: mysqlcheck output, one table per line
    for db in ["zimbra"] + ["mboxgroup%d" % g for g in range(1, nmbox_groups + 1)]:
        tables = ["config", "current_sessions", "deleted_account", "mailbox", "mailbox_metadata", "mobile_devices",
                  "out_of_office", "pending_acl_push", "scheduled_task", "service_status", "table_maintenance",
                  "volume", "volume_blobs"] if db == "zimbra" else \
                 ["appointment", "appointment_dumpster", "data_source_item", "imap_folder", "imap_message",
                  "mail_address", "mail_item", "mail_item_dumpster", "open_conversation", "pop3_message",
                  "purged_conversations", "purged_messages", "revision", "revision_dumpster", "tag",
                  "tagged_item", "tombstone"]
        for tb in tables:
            name = "%s.%s" % (db, tb)
            con.add(None, "%-49sOK" % name)


def console_upgrade_prompts(con, host, r):
    con.add(None, "")
    con.add(None, "Checking for installable packages")
    con.add(None, "")
    for p in HOST_PKGS[host]:
        con.add(None, "Found %s (repo)" % p)
    for p in HOST_OPT[host]:
        con.add(None, "Found %s (repo)" % p)
    con.add(None, "")
    con.add(None, "")
    con.add(None, "The Zimbra Collaboration Server appears already to be installed.")
    con.add(None, "It can be upgraded with no effect on existing accounts,")
    con.add(None, "or the current installation can be completely removed prior")
    con.add(None, "to installation for a clean install.")
    con.add(None, "")
    con.add(None, "Do you wish to upgrade? [Y] ")
    con.add(None, "")
    con.add(None, "")
    con.add(None, "Scanning for any new or additional packages available for installation")
    con.add(None, "Existing packages will be upgraded")
    con.add(None, "    Upgrading %s" % " ".join(sorted(HOST_PKGS[host] + HOST_OPT[host])))
    con.add(None, "")
    con.add(None, "Checking required space for zimbra-core")
    if "zimbra-store" in HOST_PKGS[host]:
        con.add(None, "Checking space for zimbra-store")
    con.add(None, "")
    con.add(None, "Installing:")
    for p in ["zimbra-core-components", "zimbra-common-core-jar", "zimbra-common-core-libs",
              "zimbra-timezone-data", "zimbra-common-mbox-conf", "zimbra-common-mbox-db"][:4 if host in ("ldap1", "mta1", "proxy1") else 6]:
        con.add(None, "    %s" % p)
    for p in HOST_PKGS[host] + HOST_OPT[host]:
        con.add(None, "    %s" % p)
    con.add(None, "")
    con.add(None, "The system will be modified.  Continue? [N] y")
    con.add(None, "")


def console_install(con, host, r, logname):
    con.add(None, "Beginning Installation - see /tmp/install.log.%s for details..." % logname)
    con.add(None, "")
    con.add(None, "Shutting down zimbra mail")
    if host == "ldap1":
        con.add(None, "")
        con.add(None, "Backing up the ldap database...done.")
        con.add(None, "")
        con.add(None, "Backing up the ldap accesslog database...done.")
    con.add(None, "Upgrading the remote packages")
    con.add(None, "")
    con.add(None, "Removing deployed webapp directories")
    con.add(None, "Installing repo packages (%d):" % (len(HOST_PKGS[host]) + len(HOST_OPT[host])))
    for p in sorted(HOST_PKGS[host] + HOST_OPT[host]):
        con.add(None, "   %s" % p)
    con.add(None, "                ...done")
    con.add(None, "")
    con.add(None, "Running Post Installation Configuration:")
    con.add(None, "Copying /tmp/install.log.%s to /opt/zimbra/log" % logname)
    con.add(None, "")


ZIMLETS = ["com_zimbra_attachcontacts", "com_zimbra_attachmail", "com_zimbra_date", "com_zimbra_email",
           "com_zimbra_mailarchive", "com_zimbra_phone", "com_zimbra_srchhighlighter", "com_zimbra_url",
           "com_zimbra_webex", "zimbra-zimlet-briefcase-edit-lool"]


def zmsetup_upgrade(host, S, t0, r, schema=None, license_fail=False, console_only=False):
    """The zmsetup.pl part of an upgrade.  Returns a dict of interesting times."""
    t = t0
    times = {}
    S.detail(t, "Operations logged to /tmp/zmsetup.%s.log" % t0.strftime("%Y%m%d-%H%M%S"))
    S.con_line("Operations logged to /tmp/zmsetup.%s.log" % t0.strftime("%Y%m%d-%H%M%S"))
    for k in ["zimbra_server_hostname", "ldap_url", "ldap_is_master", "zimbra_home"]:
        S.detail(t, "Getting local config %s" % k)
    if host == "ldap1":
        t = sec(t, 3)
        S.progress(t, "Updating LDAP Schema...")
        t = sec(t, 6)
        S.progress(t, "done.\n")
    t = sec(t, 2)
    S.progress(t, "Adding /opt/zimbra/conf/ca/ca.pem to cacerts\n")
    S.run(t, "/opt/zimbra/bin/zmcertmgr addcacert /opt/zimbra/conf/ca/ca.pem",
          ["** Importing cert '/opt/zimbra/conf/ca/ca.pem' as 'zcs-user-ca' into cacerts '/opt/zimbra/common/lib/jvm/java/lib/security/cacerts'",
           "** NOTE: restart mailboxd to use the imported certificate."])
    t = sec(t, 3)
    rel = "upgrade/multi-server-order"
    S.progress(t, "Upgrading from %s to %s\n" % (OLD, NEW), rel,
               "%s upgraded (order ldap1 -> mbx1 -> mbx2 -> archive1 -> mta1 -> proxy1)" % host,
               con_mark=("Upgrading from", rel, "%s upgraded (order ldap1 -> mbx1 -> mbx2 -> archive1 -> mta1 -> proxy1)" % host))
    t = sec(t, 1)
    S.progress(t, "Stopping zimbra services...")
    S.run(t, "/opt/zimbra/bin/zmcontrol stop",
          ["Host %s.%s" % (host, DOMAIN), "\tStopping zmconfigd...Done.", "\tStopping stats...Done.",
           "\tStopping snmp...Done."])
    t = sec(t, 14)
    S.progress(t, "done.\n")
    t = sec(t, 1)
    S.progress(t, "This appears to be %s\n" % OLD.rsplit("_", 1)[0])
    if schema:
        t = sec(t, 2)
        S.progress(t, "Starting mysql...")
        S.run(t, "/opt/zimbra/bin/mysql.server start", ["Starting mysqld...done."])
        t = sec(t, 11)
        S.progress(t, "done.\n")
    if host == "ldap1":
        for _ in range(2):
            t = sec(t, 1)
            S.progress(t, "Checking ldap status...")
            S.run(t, "/opt/zimbra/bin/ldap status", ["slapd not running"])
            S.progress(t, "not running.\n")
        t = sec(t, 1)
        S.progress(t, "Starting ldap...")
        S.run(t, "/opt/zimbra/bin/ldap start", ["Started slapd: pid %d" % r.randint(20000, 30000)])
        t = T("22:06:40")
        S.progress(t, "done.\n")
    t = sec(t, 2)
    S.run(t, "/opt/zimbra/bin/zmcertmgr createca", ["** Creating CA private key /opt/zimbra/ssl/zimbra/ca/ca.key",
                                                      "** Using CA private key from /opt/zimbra/ssl/zimbra/ca/ca.key"])
    t = sec(t, 4)
    S.run(t, "/opt/zimbra/bin/zmcertmgr deployca -localonly",
          ["** Importing cert '/opt/zimbra/ssl/zimbra/ca/ca.pem' as 'zcs-user-ca' into cacerts '/opt/zimbra/common/lib/jvm/java/lib/security/cacerts'",
           "** NOTE: restart services to use the new certificates.",
           "** Cleaning up 3 files from '/opt/zimbra/conf/ca'",
           "** Copying CA to /opt/zimbra/conf/ca"])
    if schema:
        mu_start, mu_end, sc_start, sc_steps, sc_end = schema
        t = mu_start
        for k in ["mysql_root_password", "zimbra_tmp_directory", "mysql_socket", "mysql_mycnf"]:
            S.detail(t, "Getting local config %s" % k)
        S.progress(t, "Running mysql_upgrade...", "upgrade/schema-upgrade-slow",
                   "mysql_upgrade on the message store (expected, slow)",
                   con_mark=("Running mysql_upgrade", "upgrade/schema-upgrade-slow", "mysql_upgrade on the message store (expected, slow)"))
        S.run(t, "/opt/zimbra/common/bin/mysql_upgrade --defaults-file=/opt/zimbra/conf/my.cnf -S /opt/zimbra/data/tmp/mysql/mysql.sock --user=root --password=%s > /opt/zimbra/data/tmp/mysql_upgrade.out 2>&1" % b62(r, 20))
        S.progress(mu_end, "done.\n")
        t = sc_start
        S.progress(t, "Schema upgrade required from version 117 to 118.\n", "upgrade/schema-upgrade-slow",
                   "schema upgrade 117 -> 118 starts",
                   con_mark=("Schema upgrade required", "upgrade/schema-upgrade-slow", "schema upgrade 117 -> 118 starts"))
        S.progress(t, "Running /opt/zimbra/libexec/scripts/migrate20230224-UpdateOnlyOffice-7.2.1.pl\n",
                   "upgrade/schema-upgrade-slow", "schema migration script",
                   con_mark=("Running /opt/zimbra/libexec/scripts/", "upgrade/schema-upgrade-slow", "schema migration script"))
        for i, (tt, m) in enumerate(sc_steps):
            S.progress(tt, "%s: %s\n" % (ts_ctime(tt), m))
        t = sc_end
        S.progress(t, "Stopping mysql...")
        S.run(t, "/opt/zimbra/bin/mysql.server stop", ["Stopping mysqld... done."])
        t = sec(t, 12)
        S.progress(t, "done.\n")
    if host == "ldap1":
        t = sec(t, 3)
        S.progress(t, "Updating global config and COS's with attributes introduced after %s..." % OLD.rsplit("_", 1)[0])
        t = sec(t, 37)
        S.progress(t, "done.\n")
        t = T("22:07:29")
        S.progress(t, "Stopping ldap...")
        S.run(t, "/opt/zimbra/bin/ldap stop", ["Killing slapd with pid %d done." % r.randint(20000, 30000)])
        t = sec(t, 2)
        S.progress(t, "done.\n")
        t = sec(t, 5)
    t = sec(t, 2)
    S.progress(t, "Upgrade complete.\n\n")
    times["complete"] = t
    if host == "ldap1":
        t = sec(t, 2)
        S.progress(t, "Checking ldap status...")
        S.run(t, "/opt/zimbra/bin/ldap status", ["slapd not running"])
        S.progress(t, "not running.\n")
        S.progress(t, "Starting ldap...")
        S.run(t, "/opt/zimbra/bin/ldap start", ["Started slapd: pid %d" % r.randint(30000, 40000)])
        t = T("22:07:47")
        S.progress(t, "done.\n")
    t = sec(t, 3)
    S.run(t, "/opt/zimbra/libexec/zmldapupdateldif")
    t = sec(t, 9)
    S.progress(t, "Saving config in /opt/zimbra/config.%d..." % r.randint(10000, 99999))
    t = sec(t, 1)
    S.progress(t, "done.\n")
    steps = [("Setting local config values...", 4), ("Initializing core config...", 3),
             ("Setting up CA...", 4), ("Deploying CA to /opt/zimbra/conf/ca ...", 2)]
    if host == "ldap1":
        steps += [("Setting replication password...", 2), ("Setting Postfix password...", 1),
                  ("Setting amavis password...", 1), ("Setting nginx password...", 1)]
    steps += [("Creating server entry for %s.%s..." % (host, DOMAIN), 2), ("Saving CA in ldap...", 2),
              ("Saving SSL Certificate in ldap...", 2), ("Setting services on %s.%s..." % (host, DOMAIN), 3)]
    if host in ("mbx1", "mbx2", "archive1"):
        steps += [("Setting zimbraFeatureTasksEnabled=TRUE...", 1), ("Setting zimbraFeatureBriefcasesEnabled=TRUE...", 1),
                  ("Setting TimeZone Preference...", 2), ("Initializing mta config...", 0) if False else ("Setting MTA auth host...", 2)]
    if host == "mta1":
        steps += [("Initializing mta config...", 6), ("Setting MTA auth host...", 2)]
    if host == "proxy1":
        steps += [("Setting up proxy...", 8)]
    steps += [("Setting up syslog.conf...", 3)]
    for msg, d in steps:
        t = sec(t, 1)
        S.progress(t, msg)
        t = sec(t, d)
        S.progress(t, "done.\n")
    t = sec(t, 2)
    S.progress(t, "Starting servers...")
    S.run(t, "/opt/zimbra/bin/zmcontrol start",
          ["Host %s.%s" % (host, DOMAIN)] + ["\tStarting %s...Done." % s for s in HOST_SERVICES[host]])
    times["start_servers"] = t
    return S, t, times


def zmsetup_finish(host, S, t, r, done_at, license_fail=False):
    t = done_at
    S.progress(t, "done.\n")
    if host in ("mbx1", "mbx2", "archive1"):
        t = sec(t, 3)
        if host == "mbx2" and license_fail:
            S.progress(t, "Looking for valid license to activate...")
            S.run(t, "/opt/zimbra/bin/zmlicense -c", ["license not activated"])
            t = sec(t, 2)
            S.run(t, "/opt/zimbra/bin/zmlicense",
                  ["Unable to activate license: activation request failed (java.net.SocketTimeoutException: Connect timed out)"])
            t = sec(t, 31)
            S.progress(t, "failed to activate license.\n", "license/not-activated-after-upgrade",
                       "automatic licence activation failed on mbx2",
                       con_mark=("failed to activate license.", "license/not-activated-after-upgrade", "automatic licence activation failed on mbx2"))
            S.progress(t, "\n*******ERROR\n\nFailed to activate a license - this will prevent your server from functioning properly\n",
                       "license/not-activated-after-upgrade", "licence error block (dated line with empty text)",
                       con_mark=("Failed to activate a license", "license/not-activated-after-upgrade", "licence error block"))
            S.progress(t, "Please contact Zimbra to obtain a license\n")
            S.con_line("Press RETURN to continue ")
            t = sec(t, 48)
        else:
            S.progress(t, "Looking for valid license to activate...")
            S.run(t, "/opt/zimbra/bin/zmlicense -c", ["license is OK"])
            t = sec(t, 2)
            S.progress(t, "license already activated.\n")
        t = sec(t, 4)
        S.progress(t, "Installing common zimlets...\n")
        for z in ZIMLETS:
            t = sec(t, r.randint(1, 2))
            S.progress(t, "\t%s..." % z)
            S.run(t, "/opt/zimbra/bin/zmzimletctl -l deploy zimlets/%s.zip" % z)
            t = sec(t, r.randint(1, 2))
            S.progress(t, "done.\n")
        S.progress(t, "Finished installing common zimlets.\n")
    t = sec(t, 2)
    S.progress(t, "Setting up zimbra crontab...")
    t = sec(t, 1)
    S.progress(t, "done.\n")
    return t


# ---------------------------------------------------------------- host scenarios

def scenario_ldap1():
    r = rng("ldap1")
    con = F("ldap1/install-console.log", ordered=True)
    log = F("ldap1/zmsetup.20260314-220512.log", ordered=True)
    S = Setup(con, log)
    sshd_login("ldap1", T("21:59:10"), r)
    console_head(con, "ldap1", "Kx3dP0qa", r)
    console_validate(con, "ldap1")
    console_agreement(con, "ldap1", r)
    console_upgrade_prompts(con, "ldap1", r)
    console_install(con, "ldap1", r, "Kx3dP0qa")
    S, t, times = zmsetup_upgrade("ldap1", S, T("22:05:12"), r)
    t = sec(t, 55)
    t = zmsetup_finish("ldap1", S, t, r, T("22:09:40"))
    t = sec(t, 3)
    S.progress(t, "Moving /tmp/zmsetup.20260314-220512.log to /opt/zimbra/log\n")
    S.con_line("")
    S.con_line("Configuration complete - press return to exit ")
    # zimbra.log: slapd and service control
    h = "ldap1"
    zmcontrol_stop(h, T("22:03:05"), HOST_SERVICES[h], r)
    SYS[h].add(T("22:03:20"), "slapd", 1843, "daemon: shutdown requested and initiated.")
    SYS[h].add(T("22:03:20"), "slapd", 1843, "slapd shutdown: waiting for 0 operations/tasks to finish")
    SYS[h].add(T("22:03:21"), "slapd", 1843, "slapd stopped.")
    for (a, b), (p_old, p_new) in zip(LDAP_DOWN, [(1843, 24417), (24417, 31108)]):
        SYS[h].add(b, "slapd", p_new, "@(#) $OpenLDAP: slapd 2.6.7 (Feb 10 2026 04:12:33) $")
        SYS[h].add(b, "slapd", p_new, "slapd starting")
    SYS[h].add(T("22:07:31"), "slapd", 24417, "daemon: shutdown requested and initiated.")
    SYS[h].add(T("22:07:31"), "slapd", 24417, "slapd shutdown: waiting for 0 operations/tasks to finish")
    SYS[h].add(T("22:07:32"), "slapd", 24417, "slapd stopped.")
    zmcontrol_start(h, T("22:08:32"), HOST_SERVICES[h][1:], r)
    # replication bookkeeping lines (sync log level) whenever something writes LDAP
    pid = 1843
    t = START
    while t < END:
        t = sec(t, r.randint(20, 140))
        if in_windows(t, LDAP_DOWN):
            continue
        pid = 1843 if t < LDAP_DOWN[0][0] else (24417 if t < LDAP_DOWN[1][0] else 31108)
        addr = "0x%x" % r.randint(0x7f0000000000, 0x7fffffffffff)
        csn = "%s.%06dZ#000000#000#000000" % ((t - dt.timedelta(hours=1)).strftime("%Y%m%d%H%M%S"), r.randint(0, 999999))
        SYS[h].add(t, "slapd", pid, "slap_queue_csn: queueing %s %s" % (addr, csn))
        SYS[h].add(t, "slapd", pid, "slap_graduate_commit_csn: removing %s %s" % (addr, csn))
    zmconfigd_cycles(h, r)


def mailstore_scenario(host, runs, zmsetup_name, t_zmsetup, integrity, mu, sc, finish_times, license_fail=False):
    r = rng(host)
    con = F("%s/install-console.log" % host, ordered=True)
    log = F("%s/%s" % (host, zmsetup_name), ordered=True)
    S = Setup(con, log)
    return r, con, log, S


def schema_steps(a, b, r):
    """Migrate::log output of the schema script spread over [a, b]."""
    span = (b - a).total_seconds()
    pts = [a + dt.timedelta(seconds=int(span * f)) for f in (0.0, 0.02, 0.55, 0.97, 1.0)]
    msgs = ["Verified schema version 117.",
            "Adding tenant column to doc_changes table.",
            "Adding tenant, created_at, password, additional columns to task_result table.",
            "Verified schema version 117.",
            "Updating DB schema version from 117 to 118."]
    return list(zip(pts, msgs))


def scenario_mailstore(host, cfg):
    r = rng(host)
    con = F("%s/install-console.log" % host, ordered=True)
    log = F("%s/%s" % (host, cfg["zmsetup"]), ordered=True)
    S = Setup(con, log)
    sshd_login(host, sec(cfg["console_start"], -70), r)
    if host == "mbx1":
        # first attempt: the licence file is missing
        console_head(con, host, "Hq82LmZt", r)
        console_validate(con, host)
        con.add(None, "Checking for available license file...")
        con.add(None, "ERROR: The ZCS Network upgrade requires a license to be located in",
                "license/file-not-found-installer", "first install.sh run on mbx1: ZCSLicense.xml missing")
        for l in ["/opt/zimbra/conf/ZCSLicense.xml or a license previously installed.",
                  "The upgrade will not continue without a license.", "", "Your system has not been modified.", "",
                  "New customers wanting to purchase or obtain a trial license",
                  "should contact Zimbra sales.  Contact information for Zimbra is",
                  "located at http://www.zimbra.com/about/contact_us.html",
                  "Existing customers can obtain an updated license file via the",
                  "Zimbra Support page located at http://www.zimbra.com/support.", ""]:
            con.add(None, l)
        con.add(None, "root@%s:~/zcs-NETWORK-10.1.9_GA_4200001.UBUNTU20_64.20260210050000# ls -l /opt/zimbra/conf/ZCSLicense.xml" % host)
        con.add(None, "ls: cannot access '/opt/zimbra/conf/ZCSLicense.xml': No such file or directory")
        con.add(None, "root@%s:~/zcs-NETWORK-10.1.9_GA_4200001.UBUNTU20_64.20260210050000# cp -p /backup/%s/opt/zimbra/conf/ZCSLicense.xml /opt/zimbra/conf/" % (host, host))
        con.add(None, "root@%s:~/zcs-NETWORK-10.1.9_GA_4200001.UBUNTU20_64.20260210050000# chown zimbra:zimbra /opt/zimbra/conf/ZCSLicense.xml && chmod 444 /opt/zimbra/conf/ZCSLicense.xml" % host)
        con.add(None, "root@%s:~/zcs-NETWORK-10.1.9_GA_4200001.UBUNTU20_64.20260210050000# ./install.sh" % host)
    console_head(con, host, cfg["installlog"], r)
    console_validate(con, host)
    console_license_ok(con, host, len(USERS[host]) if host != "archive1" else len(ARCHIVE) + 410, 500)
    console_agreement(con, host, r)
    console_integrity(con, host, r, cfg["groups"])
    console_upgrade_prompts(con, host, r)
    console_install(con, host, r, cfg["installlog"])
    sa, sb = cfg["schema"]
    schema = (cfg["mu"][0], cfg["mu"][1], sa, schema_steps(sec(sa, 1), sb, r), sec(sb, 2))
    S, t, times = zmsetup_upgrade(host, S, cfg["zmsetup_t"], r, schema=schema)
    t = zmsetup_finish(host, S, t, r, cfg["servers_done"], license_fail=(host == "mbx2"))
    if "zimlet_restart" in cfg:
        a, b = cfg["zimlet_restart"]
        S.progress(a, "Restarting mailboxd...")
        S.run(a, "/opt/zimbra/bin/zmmailboxdctl restart", ["Stopping mailboxd...done.", "Starting mailboxd...done."])
        S.progress(b, "done.\n")
        t = b
    t = sec(t, 9)
    S.progress(t, "Moving /tmp/%s to /opt/zimbra/log\n" % cfg["zmsetup"])
    S.con_line("")
    S.con_line("Configuration complete - press return to exit ")
    # zimbra.log on the mailstore: service control, mailboxdmgr
    h = host
    jpid = 4100 + r.randint(0, 800)
    for i, (a, b) in enumerate(MBX_DOWN[h]):
        kind = cfg["down_kinds"][i]
        if kind == "upgrade":
            zmcontrol_stop(h, sec(a, -15), HOST_SERVICES[h], r)
        elif kind == "reboot":
            zmcontrol_stop(h, sec(a, -15), HOST_SERVICES[h], r)
        mailboxdmgr_stop(h, sec(a, -6), jpid, r)
        ver = mailboxd_stop_records(h, sec(a, -8), r)
        if kind == "reboot":
            SYS[h].add(sec(a, 40), "systemd", 1, "Stopping Zimbra Collaboration...")
            SYS[h].add(sec(a, 95), "kernel", None, "[    0.000000] Linux version 5.15.0-101-generic (buildd@lcy02-amd64-031) (gcc (Ubuntu 9.4.0-1ubuntu1~20.04.2) 9.4.0, GNU ld (GNU Binutils for Ubuntu) 2.34) #111-Ubuntu SMP Tue Mar 5 20:16:58 UTC 2024 (Ubuntu 5.15.0-101.111-generic 5.15.143)")
            SYS[h].add(sec(a, 118), "systemd", 1, "Mounted /opt/zimbra.")
            SYS[h].add(sec(a, 121), "systemd", 1, "Starting Zimbra Collaboration...")
            zmcontrol_start(h, sec(b, -90), HOST_SERVICES[h][::-1], r)
        elif kind == "upgrade":
            zmcontrol_start(h, sec(b, -60), HOST_SERVICES[h][::-1], r)
        jpid = mailboxdmgr_start(h, sec(b, -45), r)
        mailboxd_start_records(h, sec(b, -44), r, NEW if sec(b, -44) >= MBX_UPGRADED[h] else OLD)
    zmconfigd_cycles(h, r)


MAILSTORES = {
    "mbx1": {"console_start": T("22:20:05"), "installlog": "Vb91RfQw", "groups": 3,
             "zmsetup": "zmsetup.20260314-230217.log", "zmsetup_t": T("23:02:17"),
             "mu": (T("23:03:40"), T("23:14:55")), "schema": (T("23:15:02"), T("23:26:30")),
             "servers_done": T("23:31:40"), "zimlet_restart": (T("23:34:08"), T("23:35:40")),
             "down_kinds": ["upgrade", "restart"]},
    "mbx2": {"console_start": T("23:40:10"), "installlog": "Jc40XkTe", "groups": 3,
             "zmsetup": "zmsetup.20260315-000611.log", "zmsetup_t": T("00:06:11"),
             "mu": (T("00:07:30"), T("00:17:05")), "schema": (T("00:17:10"), T("00:27:40")),
             "servers_done": T("00:32:20"), "zimlet_restart": (T("00:34:38"), T("00:36:00")),
             "down_kinds": ["upgrade", "restart", "reboot"]},
    "archive1": {"console_start": T("01:05:00"), "installlog": "Pm27GsYd", "groups": 1,
                 "zmsetup": "zmsetup.20260315-012044.log", "zmsetup_t": T("01:20:44"),
                 "mu": (T("01:22:00"), T("01:25:30")), "schema": (T("01:25:35"), T("01:29:10")),
                 "servers_done": T("01:33:50"), "down_kinds": ["upgrade"]},
}


def scenario_simple(host, t0, logname, zmsetup_t, servers_done):
    """mta1 and proxy1: console only (zmsetup output as the console shows it)."""
    r = rng(host)
    con = F("%s/install-console.log" % host, ordered=True)
    S = Setup(con, None)
    sshd_login(host, sec(t0, -60), r)
    console_head(con, host, logname, r)
    console_validate(con, host)
    console_agreement(con, host, r)
    console_upgrade_prompts(con, host, r)
    console_install(con, host, r, logname)
    S, t, times = zmsetup_upgrade(host, S, zmsetup_t, r)
    t = zmsetup_finish(host, S, t, r, servers_done)
    t = sec(t, 4)
    S.progress(t, "Moving /tmp/zmsetup.%s.log to /opt/zimbra/log\n" % zmsetup_t.strftime("%Y%m%d-%H%M%S"))
    S.con_line("")
    S.con_line("Configuration complete - press return to exit ")
    return r


def scenario_mta1():
    r = scenario_simple("mta1", T("01:55:00"), "Qe55NcUa", T("02:01:30"), T("02:09:10"))
    h = "mta1"
    zmcontrol_stop(h, T("01:58:30"), HOST_SERVICES[h], r)
    MTA.add(T("01:58:45"), "postfix/master", 2289, "terminating on signal 15")
    zmcontrol_start(h, T("02:06:55"), HOST_SERVICES[h][::-1], r)
    MTA.add(T("02:07:38"), "/postfix-script", 61402, "starting the Postfix mail system")
    MTA.add(T("02:07:40"), "postfix/master", 61455, "daemon started -- version 3.6.14, configuration /opt/zimbra/common/conf")
    # the Zimbra milter is not up yet when the first client connects
    spid = 61893
    ip = "198.51.100.47"
    MTA.add(T("02:08:05"), "postfix/smtpd", spid, "connect from mx2.example.org[%s]" % ip)
    MTA.add(T("02:08:06"), "postfix/smtpd", spid, "warning: connect to Milter service inet:127.0.0.1:7026: Connection refused",
            "mta/milter-unavailable", "Zimbra milter not listening yet after the MTA upgrade")
    MTA.add(T("02:08:06"), "postfix/smtpd", spid,
            "NOQUEUE: milter-reject: RCPT from mx2.example.org[%s]: 451 4.7.1 Service unavailable - try again later; from=<billing@utility.example.org> to=<%s> proto=ESMTP helo=<mx2.example.org>"
            % (ip, USERS["mbx1"][3].addr), "mta/milter-unavailable", "message temporarily rejected (milter_default_action=tempfail)")
    MTA.add(T("02:08:06"), "postfix/smtpd", spid, "disconnect from mx2.example.org[%s] ehlo=1 mail=1 rcpt=0/1 rset=1 quit=1 commands=4/5" % ip)
    # the hand-made hash: map from before the upgrade is still referenced
    MTA.add(T("02:09:41"), "postfix/smtpd", 61990,
            "warning: hash:/opt/zimbra/conf/custom_sender_access is unavailable. unsupported dictionary type: hash",
            "upgrade/postfix-hash-maps-lost", "custom hash: map referenced after the upgrade")
    MTA.add(T("02:15:12"), "postfix/smtpd", 62144,
            "warning: hash:/opt/zimbra/conf/custom_sender_access is unavailable. unsupported dictionary type: hash",
            "upgrade/postfix-hash-maps-lost", "same warning from another smtpd process")
    MTA.add(T("02:15:13"), "postfix/smtpd", 62144,
            "warning: hash:/opt/zimbra/conf/custom_sender_access lookup error for \"newsletter@shop.example.net\"",
            "upgrade/postfix-hash-maps-lost", "lookup in the unusable hash: map")
    MTA.add(T("02:15:13"), "postfix/smtpd", 62144,
            "NOQUEUE: reject: MAIL from mail-out1.example.net[198.51.100.25]: 451 4.3.5 <newsletter@shop.example.net>: Sender address rejected: Server configuration error; from=<newsletter@shop.example.net> proto=ESMTP helo=<mail-out1.example.net>",
            "upgrade/postfix-hash-maps-lost", "sender temporarily rejected")
    # clamd self checks
    t = START
    cp = 2355
    while t < END:
        t = sec(t, 1800)
        if not mta_up(t):
            cp = 61720
            continue
        MTA.add(t, "clamd", cp, "SelfCheck: Database status OK.")
    # zimbramon queue stats every 10 min
    t = sec(START, 120)
    while t < END:
        if mta_up(t):
            p = r.randint(300000, 400000)
            n = len([x for x in PENDING])
            MTA.add(sec(t, 3), "zimbramon", p, "%d:info: %s, QUEUE: %d %d" % (p, t.strftime("%Y-%m-%d %H:%M:%S"), r.randint(0, 40), r.randint(0, 3)))
        t = sec(t, 600)
    zmconfigd_cycles(h, r)


def scenario_proxy1():
    r = scenario_simple("proxy1", T("02:20:00"), "Wt73HbLe", T("02:24:50"), T("02:29:40"))
    h = "proxy1"
    zmcontrol_stop(h, T("02:22:25"), HOST_SERVICES[h], r)
    zmcontrol_start(h, T("02:28:15"), HOST_SERVICES[h][::-1], r)
    NGERR.add(T("02:22:40"), "%s [notice] 2814#0: signal process started" % ts_nginx(T("02:22:40")))
    NGERR.add(T("02:29:00"), "%s [notice] 31877#0: using the \"epoll\" event method" % ts_nginx(T("02:29:00")))
    NGERR.add(T("02:29:00"), "%s [notice] 31877#0: nginx/1.20.0" % ts_nginx(T("02:29:00")))
    NGERR.add(T("02:29:00"), "%s [notice] 31877#0: OS: Linux 5.15.0-101-generic" % ts_nginx(T("02:29:00")))
    NGERR.add(T("02:29:00"), "%s [notice] 31877#0: start worker processes" % ts_nginx(T("02:29:00")))
    zmconfigd_cycles(h, r)


# ---------------------------------------------------------------- user activity over the night

def user_activity():
    r = rng("activity")
    # browser sessions: a user opens the web client and works for a while
    web_users = [u for u in ALL_USERS]
    t = START
    while t < END:
        t = sec(t, r.expovariate(1 / 95.0))
        u = r.choice(web_users)
        web_session(t, u, r)
    # mobile devices (ActiveSync) ping through the night
    for u in ALL_USERS:
        if not u.mobile:
            continue
        t = sec(START, r.randint(0, 900))
        while t < END:
            activesync(t, u, r)
            t = sec(t, r.randint(600, 1500))
    # IMAP / POP clients poll
    for u in ALL_USERS:
        if not (u.imap or u.pop):
            continue
        t = sec(START, r.randint(0, 600))
        while t < END:
            mail_client(t, u, r)
            t = sec(t, r.randint(480, 1500))
    # inbound mail
    t = START
    while t < END:
        t = sec(t, r.expovariate(1 / 70.0))
        u = r.choice(ALL_USERS)
        process_pending(t)
        inbound_message(t, u, r, ldap_fail=in_windows(t, LDAP_DOWN))
    process_pending(END)
    # outbound mail
    t = START
    while t < END:
        t = sec(t, r.expovariate(1 / 420.0))
        u = r.choice(ALL_USERS)
        res = outbound_message(t, u, r)
        if res and proxy_up(t):
            msgid, ua = res
            web_request(sec(t, -0.3), u, r, "POST", "/service/soap/SendMsgRequest", soapname="SendMsgRequest", ua_pair=ua)
            m = MBOXD[u.host]
            u.next_item += 1
    # SMTP AUTH submissions
    t = START
    while t < END:
        t = sec(t, r.expovariate(1 / 900.0))
        submission_auth(t, r.choice(ALL_USERS), r)
    # single failed logins (harmless)
    for tt, who in [(T("22:41:17"), USERS["mbx1"][7]), (T("00:12:40"), USERS["mbx1"][15]),
                    (T("01:47:03"), USERS["mbx2"][4]), (T("03:02:55"), USERS["mbx2"][19])]:
        failed_login(tt, who, r)
    # archive searches by the compliance officer (archive1)
    t = T("22:10:00")
    while t < END:
        t = sec(t, r.randint(900, 2400))
        a = r.choice(ARCHIVE)
        if proxy_up(t):
            web_request(t, a, r, "POST", "/service/soap/SearchRequest", soapname="SearchRequest")


HSM_VICTIMS = []


def web_session(t, u, r):
    client = r.choice(CLIENT_IPS)
    ua = r.choice(WEB_UA)
    web_request(t, u, r, "POST", "/service/soap/GetInfoRequest", soapname="GetInfoRequest", client=client, ua_pair=ua)
    web_request(sec(t, 0.4), u, r, "GET", "/js/Startup1_1_all.js.zgz?v=%s" % "260210050000", size=r.randint(200000, 260000), client=client, ua_pair=ua)
    web_request(sec(t, 1.1), u, r, "POST", "/service/soap/SearchRequest", soapname="SearchRequest", client=client, ua_pair=ua)
    tt = sec(t, 2)
    for _ in range(r.randint(2, 9)):
        tt = sec(tt, r.randint(5, 120))
        kind = r.random()
        old_msg = False
        if u.host == "mbx2" and tt >= MBX2_REBOOT_UP and mbx_up("mbx2", tt):
            # after the reboot, older (HSM-moved) messages fail to open
            old_msg = u in HSM_VICTIMS and r.random() < 0.45
        if kind < 0.45:
            name = r.choice(["GetMsgRequest", "GetConvRequest"]) if old_msg else "GetMsgRequest"
            web_request(tt, u, r, "POST", "/service/soap/%s" % name, soapname=name, client=client, ua_pair=ua, blob=old_msg)
        elif kind < 0.7:
            web_request(tt, u, r, "POST", "/service/soap/SearchRequest", soapname="SearchRequest", client=client, ua_pair=ua)
        elif kind < 0.85:
            web_request(tt, u, r, "POST", "/service/soap/NoOpRequest", soapname="NoOpRequest", client=client, ua_pair=ua)
        elif kind < 0.93:
            web_request(tt, u, r, "POST", "/service/soap/MsgActionRequest", soapname="MsgActionRequest", client=client, ua_pair=ua)
        else:
            web_request(tt, u, r, "POST", "/service/soap/BatchRequest", soapname="BatchRequest", client=client, ua_pair=ua)


def activesync(t, u, r):
    if not proxy_up(t):
        return
    client = r.choice(CLIENT_IPS)
    dtype = "iPhone" if u.device.startswith("Appl") else "Android"
    ua = "Apple-iPhone15C2/2104.150" if dtype == "iPhone" else "Android-Mail/2024.02.18.609839845.Release"
    cmd = r.choice(["Ping", "Ping", "Ping", "Sync", "FolderSync"])
    up = "%s:8080" % HOSTS[u.host]
    st = 200 if mbx_up(u.host, t) else 502
    if st == 502:
        cid = ngx_cid()
        uri = "/Microsoft-Server-ActiveSync?User=%s&DeviceId=%s&DeviceType=%s&Cmd=%s" % (u.addr.replace("@", "%40"), u.device, dtype, cmd)
        NGERR.add(t, "%s [error] %d#0: *%d connect() failed (111: Connection refused) while connecting to upstream, client: %s, server: mail.%s, request: \"POST %s HTTP/1.1\", upstream: \"http://%s%s\", host: \"mail.%s\""
                  % (ts_nginx(t), nginx_pid_at(t), cid, client, DOMAIN, uri, up, uri, DOMAIN),
                  "proxy/upstream-connection-refused", "%s ActiveSync upstream %s down" % (u.host, up))
    ACCESS.add(t, "%s:%d - %s [%s]  \"POST https://mail.%s/Microsoft-Server-ActiveSync?User=%s&DeviceId=%s&DeviceType=%s&Cmd=%s HTTP/1.1\" %d %d \"-\" \"%s\" \"%s\" \"%s:443\""
               % (client, r.randint(30000, 65000), u.addr, ts_access(t), DOMAIN, u.addr.replace("@", "%40"), u.device, dtype, cmd,
                  st, r.randint(120, 900) if st == 200 else 1078, ua, up, PROXY_IP))


def mail_client(t, u, r):
    """IMAP/POP session through the nginx mail proxy."""
    if not proxy_up(t):
        return
    client = r.choice(CLIENT_IPS)
    cport = r.randint(30000, 65000)
    cid = ngx_cid()
    if u.imap:
        sport, up = 993, "%s:7143" % HOSTS[u.host]
    else:
        sport, up = 995, "%s:7110" % HOSTS[u.host]
    pid = nginx_pid_at(t)
    NGERR.add(t, "%s [info] %d#0: *%d client %s:%d connected to 0.0.0.0:%d" % (ts_nginx(t), pid, cid, client, cport, sport))
    if not mbx_up(u.host, t):
        t2 = sec(t, 0.4)
        NGERR.add(t2, "%s [error] %d#0: *%d connect() failed (111: Connection refused) while connecting to upstream, client: %s:%d, server: 0.0.0.0:%d, login: \"%s\", upstream: %s"
                  % (ts_nginx(t2), pid, cid, client, cport, sport, u.addr, up),
                  "proxy/upstream-connection-refused", "%s %s upstream %s down" % (u.host, "IMAP" if u.imap else "POP3", up))
        return
    m = MBOXD[u.host]
    m.cid += 1
    ua = r.choice(IMAP_UA)
    if u.imap:
        m.imapn += 1
        th = "ImapServer-%d" % (m.imapn % 60 + 1)
        ctx = [("ip", PROXY_IP), ("oip", client), ("via", "%s(nginx/1.20.0)" % PROXY_IP), ("ua", ua), ("cid", m.cid)]
        m.rec(sec(t, 0.3), "INFO", th, ctx, "imap", "user %s authenticated, mechanism=PLAIN" % u.addr)
        ctx2 = [("name", u.addr), ("mid", u.mid)] + ctx
        m.rec(sec(t, 0.5), "INFO", th, ctx2, "imap", "selected folder INBOX")
        # after the reboot some IMAP fetches of old messages fail on mbx2
        if u.host == "mbx2" and t >= MBX2_REBOOT_UP and u in HSM_VICTIMS and r.random() < 0.3:
            imap_fnf(sec(t, 0.8), u, r)
        if r.random() < 0.04:
            m.rec(sec(t, 0.9), "INFO", th, ctx2, "imap", "SELECT failed: no such folder: Archives/2019")
    else:
        th = "Pop3Server-%d" % (m.imapn % 20 + 1)
        ctx = [("name", u.addr), ("mid", u.mid), ("ip", PROXY_IP), ("oip", client), ("ua", ua), ("cid", m.cid)]
        m.rec(sec(t, 0.2), "INFO", th, ctx[2:], "pop", "connected")
        m.rec(sec(t, 0.4), "INFO", th, ctx, "pop", "STAT elapsed=%d" % r.randint(1, 30))
        m.rec(sec(t, 0.5), "INFO", th, ctx, "pop", "UIDL elapsed=%d" % r.randint(1, 30))
        m.rec(sec(t, 0.6), "INFO", th, ctx, "pop", "QUIT elapsed=%d" % r.randint(0, 3))
    t3 = sec(t, r.randint(1, 25))
    NGERR.add(t3, "%s [info] %d#0: *%d proxied session done, client: %s:%d, server: 0.0.0.0:%d, login: \"%s\", upstream: %s"
              % (ts_nginx(t3), pid, cid, client, cport, sport, u.addr, up))


def failed_login(t, u, r):
    if not proxy_up(t) or not mbx_up(u.host, t):
        return
    m = MBOXD[u.host]
    client = r.choice(CLIENT_IPS)
    ua = r.choice(WEB_UA)
    ver = version_at(u.host, t)
    th = m.qtp_thread("https://mail.%s/service/soap/AuthRequest" % DOMAIN)
    ctx = [("ip", PROXY_IP), ("oip", client), ("port", 8080), ("ua", "%s/%s" % (ua[0], ver))]
    m.rec(t, "INFO", th, ctx, "SoapEngine", "handler exception: authentication failed for [%s], invalid password" % u.addr)
    ACCESS.add(t, "%s:%d - - [%s]  \"POST https://mail.%s/service/soap/AuthRequest HTTP/1.1\" 500 612 \"https://mail.%s/\" \"%s\" \"%s:8080\" \"%s:443\""
               % (client, r.randint(30000, 65000), ts_access(t), DOMAIN, DOMAIN, ua[1], HOSTS[u.host], PROXY_IP))


def ldap_outage_mailbox_errors():
    """While slapd on ldap1 is down, a few requests on the mailstores fail."""
    r = rng("ldap-outage")
    plan = [("mbx1", T("22:03:48")), ("mbx2", T("22:04:26")), ("mbx1", T("22:05:37")), ("archive1", T("22:06:02"))]
    for host, t in plan:
        m = MBOXD[host]
        client = r.choice(CLIENT_IPS)
        ua = r.choice(WEB_UA)
        th = m.qtp_thread("https://mail.%s/service/soap/AuthRequest" % DOMAIN)
        ctx = [("ip", PROXY_IP), ("oip", client), ("port", 8080), ("ua", "%s/%s" % (ua[0], OLD))]
        z = "~" + jar(OLD)
        top = [
            "com.zimbra.cs.ldap.LdapException: LDAP error:  - unable to get connection: ldap host=: Connection refused",
            "\tat com.zimbra.cs.ldap.LdapException.LDAP_ERROR(LdapException.java:84) %s" % z,
            "\tat com.zimbra.cs.ldap.unboundid.UBIDLdapException.mapToLdapException(UBIDLdapException.java:144) %s" % z,
            "\tat com.zimbra.cs.ldap.unboundid.UBIDLdapContext.getConnection(UBIDLdapContext.java:357) %s" % z,
            "\tat com.zimbra.cs.ldap.unboundid.UBIDLdapContext.<init>(UBIDLdapContext.java:171) %s" % z,
            "\tat com.zimbra.cs.ldap.LdapClient.getContextImpl(LdapClient.java:101) %s" % z,
            "\tat com.zimbra.cs.account.ldap.LdapProvisioning.getAccountByQuery(LdapProvisioning.java:1427) %s" % z,
            "\tat com.zimbra.cs.account.ldap.LdapProvisioning.getAccountByName(LdapProvisioning.java:1605) %s" % z,
        ]
        fr = frames_soap(OLD, "com.zimbra.cs.service.account.Auth", "Auth.java", 215, top)
        fr = fr[:-1] + ["\tat java.lang.Thread.run(Thread.java:840) [?:?]",
                        "Caused by: com.unboundid.ldap.sdk.LDAPException: An error occurred while attempting to connect to server ldap1.%s:389:  java.net.ConnectException: Connection refused" % DOMAIN,
                        "\tat com.unboundid.ldap.sdk.LDAPConnection.connect(LDAPConnection.java:1026) ~[unboundid-ldapsdk-4.0.14.jar:4.0.14]",
                        "\tat com.unboundid.ldap.sdk.ServerSet.getConnection(ServerSet.java:221) ~[unboundid-ldapsdk-4.0.14.jar:4.0.14]",
                        "\tat com.unboundid.ldap.sdk.LDAPConnectionPool.createConnection(LDAPConnectionPool.java:1328) ~[unboundid-ldapsdk-4.0.14.jar:4.0.14]",
                        "\tat com.zimbra.cs.ldap.unboundid.UBIDLdapContext.getConnection(UBIDLdapContext.java:350) %s" % z,
                        "\t... 31 more"]
        m.rec(t, "WARN", th, ctx, "SoapEngine", "handler exception", fr,
              "ldap/unreachable-from-mailboxd", "%s cannot reach slapd on ldap1 during its upgrade" % host)


# ---------------------------------------------------------------- main

def main():
    hr = rng("hsm")
    # mbx2 users whose older mail was moved to the HSM volume /opt/zimbra/store2
    pool = list(USERS["mbx2"])
    hr.shuffle(pool)
    HSM_VICTIMS.extend(pool[:34])
    scenario_ldap1()
    for h in ("mbx1", "mbx2", "archive1"):
        scenario_mailstore(h, MAILSTORES[h])
    scenario_mta1()
    scenario_proxy1()
    ldap_outage_mailbox_errors()
    user_activity()
    # make sure every HSM victim that logs in after the reboot hits at least one broken message
    r = rng("hsm-extra")
    t = sec(MBX2_REBOOT_UP, 70)
    for u in HSM_VICTIMS:
        if u.mid in BLOB_STATE["mboxes"]:
            continue
        t = sec(t, r.randint(60, 260))
        if t > END:
            break
        client = r.choice(CLIENT_IPS)
        ua = r.choice(WEB_UA)
        web_request(t, u, r, "POST", "/service/soap/GetMsgRequest", soapname="GetMsgRequest", client=client, ua_pair=ua, blob=True)

    F("proxy1/nginx.log").post = renumber(r"\*(\d+) ", 48000, "ngx-cid")
    for h in ("mbx1", "mbx2", "archive1"):
        F("%s/mailbox.log" % h).post = renumber(r";cid=(\d+);", 1200, "cid-" + h)
    EXPECTED.clear()
    counts = {}
    for rel in sorted(FILES):
        counts[rel] = FILES[rel].write()
    EXPECTED.sort(key=lambda x: (x[0], x[1]))
    with open(os.path.join(HERE, "expected.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.write("file\tline\tkb_id\tnote\n")
        for rel, line, kb, note in EXPECTED:
            f.write("%s\t%d\t%s\t%s\n" % (rel, line, kb, note))
    total = 0
    for rel in sorted(counts):
        size = os.path.getsize(os.path.join(HERE, rel))
        total += size
        print("%-42s %6d lines %8d bytes" % (rel, counts[rel], size))
    by = {}
    for row in EXPECTED:
        by[row[2]] = by.get(row[2], 0) + 1
    print("total %d bytes; %d expected events" % (total, len(EXPECTED)))
    for kb in sorted(by):
        print("  %-40s %d" % (kb, by[kb]))


if __name__ == "__main__":
    main()
