//! A seeded generator of realistic mixed Zimbra logs for benchmarks (`zkb generate`, hidden from
//! `--help`): mailbox.log in the log4j layout with context blocks and stack traces, zimbra.log
//! with postfix, amavis, clamd, slapd, zmconfigd and saslauthd lines, and a little nginx.log;
//! mostly ordinary traffic with about 1% problem events drawn from the shipped rules' own match
//! tests. The same seed and size always give the same bytes.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::kind::LogKind;
use crate::rules::Rule;

/// splitmix64: small, fast, and enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }

    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

const SOAP: [&str; 10] = [
    "SearchRequest",
    "GetMsgRequest",
    "NoOpRequest",
    "GetInfoRequest",
    "SendMsgRequest",
    "GetFolderRequest",
    "BatchRequest",
    "ItemActionRequest",
    "MsgActionRequest",
    "SyncRequest",
];
const UA: [&str; 4] = [
    "ZimbraWebClient - FF120 (Linux)/10.1.9_GA_4200001",
    "ZimbraWebClient - GC119 (Win)/10.1.9_GA_4200001",
    "Zimbra Desktop/7.3.1_13063_Windows",
    "MobileSync/2.5",
];
const IMAP: [&str; 6] = ["SELECT", "FETCH", "IDLE", "UID SEARCH", "LOGOUT", "NOOP"];

/// A clock that moves forward a few milliseconds per line.
struct Clock {
    ms: u64,
}

impl Clock {
    fn tick(&mut self, rng: &mut Rng) -> (u64, u64, u64, u64, u64) {
        self.ms += rng.below(40);
        let total_s = self.ms / 1000;
        let day = 14 + (total_s / 86_400) % 14;
        let h = (total_s / 3600) % 24;
        let m = (total_s / 60) % 60;
        let s = total_s % 60;
        (day, h, m, s, self.ms % 1000)
    }
}

/// Problem events per kind, from the rules' own match tests.
fn problems(rules: &[Rule], kind: LogKind) -> Vec<String> {
    rules
        .iter()
        .filter(|r| r.kinds.first() == Some(&kind))
        .flat_map(|r| {
            r.tests
                .matches
                .iter()
                .filter(|t| t.kind.is_none_or(|k| k == kind))
        })
        .map(|t| t.text.trim_end_matches('\n').to_string())
        .collect()
}

fn mailbox_line(rng: &mut Rng, clock: &mut Clock, out: &mut Vec<u8>) -> io::Result<()> {
    let (d, h, m, s, ms) = clock.tick(rng);
    let ts = format!("2026-03-{d:02} {h:02}:{m:02}:{s:02},{ms:03}");
    let user = format!("user{:04}@example.com", rng.below(3000));
    let mid = 2 + rng.below(5000);
    let ip = format!(
        "10.{}.{}.{}",
        1 + rng.below(2),
        rng.below(8),
        1 + rng.below(40)
    );
    let oip = format!("203.0.113.{}", 1 + rng.below(250));
    let r = rng.below(1000);
    if r < 550 {
        let req = rng.pick(&SOAP);
        writeln!(out, "{ts} INFO  [qtp1897115967-{}:https://{ip}:443/service/soap/{req}] [name={user};mid={mid};ip={ip};oip={oip};port={};ua={};soapId={:08x};] soap - {req} elapsed={}",
            100 + rng.below(900), 1024 + rng.below(60000), rng.pick(&UA), rng.next() as u32, 1 + rng.below(900))
    } else if r < 750 {
        writeln!(out, "{ts} INFO  [ImapServer-{}] [name={user};ip={ip};oip={oip};protocol=imap;] imap - {} elapsed={}", 1 + rng.below(400), rng.pick(&IMAP), rng.below(300))
    } else if r < 880 {
        let id = 1000 + rng.below(900_000);
        writeln!(out, "{ts} INFO  [LmtpServer-{}] [name={user};mid={mid};msgid=<{:x}@mail.example.org>;] mailop - Adding Message: id={id}, Message-ID=<{:x}@mail.example.org>, parentId=-1, folderId=2, folderName=Inbox.",
            1 + rng.below(200), rng.next() >> 16, rng.next() >> 16)
    } else if r < 960 {
        writeln!(out, "{ts} INFO  [LmtpServer-{}] [] lmtp - Delivering message: size={} bytes, nrcpts=1, sender=news{}@example.org, msgid=<{:x}@example.org>",
            1 + rng.below(200), 2000 + rng.below(90_000), rng.below(500), rng.next() >> 20)
    } else if r < 990 {
        writeln!(out, "{ts} INFO  [qtp1897115967-{}:https://{ip}:443/service/soap/AuthRequest] [ip={ip};oip={oip};] SoapEngine - handler exception: authentication failed for [{user}], invalid password", 100 + rng.below(900))
    } else {
        writeln!(out, "{ts} WARN  [qtp1897115967-{}:https://{ip}:443/service/soap/SyncRequest] [name={user};mid={mid};ua=MobileSync/2.5;] sync - error while syncing folder", 100 + rng.below(900))?;
        writeln!(out, "java.io.IOException: Connection reset by peer")?;
        for frame in [
            "sun.nio.ch.FileDispatcherImpl.read0(Native Method)",
            "com.zimbra.cs.service.mail.Sync.handle(Sync.java:212)",
            "com.zimbra.soap.SoapEngine.dispatchRequest(SoapEngine.java:625)",
        ] {
            writeln!(out, "\tat {frame} ~[zimbrastore.jar:10.1.9_GA_4200001]")?;
        }
        writeln!(out, "\t... {} more", 20 + rng.below(40))
    }
}

fn syslog_line(rng: &mut Rng, clock: &mut Clock, out: &mut Vec<u8>) -> io::Result<()> {
    let (d, h, m, s, _) = clock.tick(rng);
    let hdr = |host: &str, prog: &str, pid: u64| {
        format!("Mar {d:>2} {h:02}:{m:02}:{s:02} {host} {prog}[{pid}]:")
    };
    let q = format!("{:X}", 0x10000000 + rng.below(0xEFFFFFFF));
    let user = format!("user{:04}@example.com", rng.below(3000));
    let ip = format!("198.51.100.{}", 1 + rng.below(250));
    let r = rng.below(1000);
    let line = match r {
        0..=199 => format!("{} connect from mail{}.example.net[{ip}]", hdr("mta1", "postfix/smtpd", 20000 + rng.below(9000)), rng.below(90)),
        200..=349 => format!("{} {q}: client=mail{}.example.net[{ip}]", hdr("mta1", "postfix/smtpd", 20000 + rng.below(9000)), rng.below(90)),
        350..=449 => format!("{} {q}: from=<news{}@example.org>, size={}, nrcpt=1 (queue active)", hdr("mta1", "postfix/qmgr", 1812), rng.below(500), 2000 + rng.below(90000)),
        450..=599 => format!("{} {q}: to=<{user}>, relay=mbx{}.example.com[10.0.0.1{}]:7025, delay=0.{}, delays=0.01/0/0.01/0.1, dsn=2.1.5, status=sent (250 2.1.5 Delivery OK)",
            hdr("mta1", "postfix/lmtp", 30000 + rng.below(9000)), 1 + rng.below(2), 1 + rng.below(2), rng.below(9)),
        600..=719 => format!("{} ({}-{:02}) Passed CLEAN {{RelayedInbound}}, [{ip}]:{} <news{}@example.org> -> <{user}>, Queue-ID: {q}, Message-ID: <{:x}@example.org>, mail_id: {:x}, Hits: -{}.{}, size: {}, queued_as: {:X}, {} ms",
            hdr("mta1", "amavis", 4000 + rng.below(99)), 10000 + rng.below(9000), rng.below(30), 1024 + rng.below(60000), rng.below(500), rng.next() >> 20, rng.next() >> 24, rng.below(3), rng.below(99), 2000 + rng.below(90000), rng.next() >> 36, 100 + rng.below(900)),
        720..=799 => format!("{} disconnect from mail{}.example.net[{ip}] ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7", hdr("mta1", "postfix/smtpd", 20000 + rng.below(9000)), rng.below(90)),
        800..=859 => format!("{} conn={} op={} SRCH base=\"ou=people,dc=example,dc=com\" scope=2 deref=0 filter=\"(zimbraMailDeliveryAddress={user})\"", hdr("ldap1", "slapd", 1203), 1000 + rng.below(99999), rng.below(9)),
        860..=899 => format!("{} zmauth: authenticating against elected url 'https://mbx1.example.com:7073/service/admin/soap/' ...", hdr("mta1", "saslauthd", 1400 + rng.below(5))),
        900..=939 => format!("{} SelfCheck: Database status OK.", hdr("mta1", "clamd", 1999)),
        940..=979 => format!("{} Fetching All configs", hdr("mta1", "zmconfigd", 22746)),
        _ => format!("{} {q}: removed", hdr("mta1", "postfix/qmgr", 1812)),
    };
    writeln!(out, "{line}")
}

fn nginx_line(rng: &mut Rng, clock: &mut Clock, out: &mut Vec<u8>) -> io::Result<()> {
    let (d, h, m, s, _) = clock.tick(rng);
    writeln!(out, "2026/03/{d:02} {h:02}:{m:02}:{s:02} [info] {}#0: *{} client 203.0.113.{}:{} connected to 0.0.0.0:993",
        2381 + rng.below(3), rng.below(9_000_000), 1 + rng.below(250), 1024 + rng.below(60000))
}

type LineFn = fn(&mut Rng, &mut Clock, &mut Vec<u8>) -> io::Result<()>;

/// Writes `mailbox.log`, `zimbra.log` and `nginx.log` into `dir`, about `megabytes` in all
/// (45% / 45% / 10%), with `problem_per_mille` problem events per thousand lines.
pub fn generate(
    dir: &Path,
    megabytes: u64,
    seed: u64,
    rules: &[Rule],
    problem_per_mille: u64,
) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let total = megabytes * 1_000_000;
    let plan: [(&str, LineFn, u64, LogKind); 3] = [
        (
            "mailbox.log",
            mailbox_line,
            total * 45 / 100,
            LogKind::Mailbox,
        ),
        ("zimbra.log", syslog_line, total * 45 / 100, LogKind::Syslog),
        ("nginx.log", nginx_line, total / 10, LogKind::Nginx),
    ];
    for (i, (name, line, size, kind)) in plan.into_iter().enumerate() {
        let mut rng = Rng(seed.wrapping_mul(31).wrapping_add(i as u64));
        let mut clock = Clock { ms: 0 };
        let pool = problems(rules, kind);
        let mut out = BufWriter::with_capacity(1 << 20, File::create(dir.join(name))?);
        let mut written = 0u64;
        let mut tmp = Vec::with_capacity(1024);
        while written < size {
            tmp.clear();
            if !pool.is_empty() && rng.chance(problem_per_mille) {
                writeln!(tmp, "{}", rng.pick(&pool))?;
            } else {
                line(&mut rng, &mut clock, &mut tmp)?;
            }
            out.write_all(&tmp)?;
            written += tmp.len() as u64;
        }
        out.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes_with_problems_from_rule_tests() {
        let mut set = crate::rules::RuleSet::embedded_with_tests();
        set.dedup();
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        generate(a.path(), 1, 7, &set.rules, 10).unwrap();
        generate(b.path(), 1, 7, &set.rules, 10).unwrap();
        for f in ["mailbox.log", "zimbra.log", "nginx.log"] {
            let x = std::fs::read(a.path().join(f)).unwrap();
            assert_eq!(x, std::fs::read(b.path().join(f)).unwrap(), "{f}");
            assert!(x.len() > 50_000, "{f}");
        }
        let mb = std::fs::read_to_string(a.path().join("mailbox.log")).unwrap();
        assert!(mb.contains("\tat ") && mb.contains("[name=user"));
    }
}
