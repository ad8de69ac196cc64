//! Log kinds: which Zimbra log a byte stream is, from its file name or by sniffing its first
//! lines, and the record-start test that framing uses to find where an event begins.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The layouts zkb knows. Each has its own record-start test and field parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum LogKind {
    Mailbox,
    Syslog,
    Mailboxd,
    Nginx,
    Setup,
    Mysql,
    MysqlSlow,
    Clamav,
    Generic,
}

impl LogKind {
    pub const ALL: [LogKind; 9] = [
        LogKind::Mailbox,
        LogKind::Syslog,
        LogKind::Mailboxd,
        LogKind::Nginx,
        LogKind::Setup,
        LogKind::Mysql,
        LogKind::MysqlSlow,
        LogKind::Clamav,
        LogKind::Generic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LogKind::Mailbox => "mailbox",
            LogKind::Syslog => "syslog",
            LogKind::Mailboxd => "mailboxd",
            LogKind::Nginx => "nginx",
            LogKind::Setup => "setup",
            LogKind::Mysql => "mysql",
            LogKind::MysqlSlow => "mysql-slow",
            LogKind::Clamav => "clamav",
            LogKind::Generic => "generic",
        }
    }

    pub fn parse(s: &str) -> Option<LogKind> {
        LogKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Detects the kind from a file name, rotated and compressed names included
    /// (`mailbox.log.2025-03-01.gz`, `zimbra.log.1`, `nginx.log.2.gz`).
    pub fn from_path(path: &Path) -> Option<LogKind> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        let starts = |prefixes: &[&str]| prefixes.iter().any(|p| name.starts_with(p));
        if starts(&["zmmailboxd.out"]) {
            Some(LogKind::Mailboxd)
        } else if starts(&["nginx.log", "nginx.access.log", "nginx.error.log"]) {
            Some(LogKind::Nginx)
        } else if starts(&["myslow"]) {
            Some(LogKind::MysqlSlow)
        } else if starts(&["mysql_error.log", "mysqld.log"]) || name.ends_with(".err") {
            Some(LogKind::Mysql)
        } else if starts(&["clamd", "freshclam"]) {
            Some(LogKind::Clamav)
        } else if starts(&[
            "mailbox.log",
            "audit.log",
            "sync.log",
            "synctrace.log",
            "ews.log",
            "milter.log",
            "wbxml.log",
            "convertd.log",
            "zmmailboxd.log",
        ]) {
            Some(LogKind::Mailbox)
        } else if starts(&[
            "zimbra.log",
            "zimbra-stats.log",
            "maillog",
            "mail.log",
            "mail.err",
            "syslog",
            "messages",
        ]) {
            Some(LogKind::Syslog)
        } else if starts(&[
            "zmsetup",
            "install.log",
            "install-",
            "sqlmigration",
            ".install_history",
        ]) || name.contains("console")
            || name.ends_with(".typescript")
        {
            Some(LogKind::Setup)
        } else {
            None
        }
    }

    /// Guesses the kind from the first lines of a stream: the kind whose record-start pattern
    /// the most of the first non-empty lines show.
    pub fn sniff(head: &[u8]) -> LogKind {
        let lines: Vec<&[u8]> = head
            .split(|&b| b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace) && !l.starts_with(b"# "))
            .take(20)
            .collect();
        if head.starts_with(b"# Time:") || head.starts_with(b"# User@Host:") {
            return LogKind::MysqlSlow;
        }
        type Test = fn(&[u8]) -> bool;
        let tests: [(LogKind, Test); 7] = [
            (LogKind::Mailbox, is_log4j_start),
            (LogKind::Clamav, is_clamav_start),
            (LogKind::Setup, is_ctime_start),
            (LogKind::Nginx, is_nginx_error_start),
            (LogKind::Nginx, is_nginx_access_start),
            (LogKind::Mysql, is_mysql_start),
            (LogKind::Syslog, is_syslog_start),
        ];
        let mut best = (LogKind::Generic, 0);
        for (kind, test) in tests {
            let n = lines.iter().filter(|l| test(l)).count();
            let n = if kind == best.0 { n + best.1 } else { n };
            if n > best.1 {
                best = (kind, n);
            }
        }
        if let Some(first) = lines.first() {
            if let Some((kind, _)) = tests.iter().find(|(_, test)| test(first)) {
                if best.1 * 2 < lines.len() || *kind == best.0 {
                    return *kind;
                }
            }
        }
        if best.1 * 2 >= lines.len().max(1) {
            best.0
        } else {
            LogKind::Generic
        }
    }
}

impl fmt::Display for LogKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Decides whether a line begins a new event. Kinds whose layout depends on what the file
/// turns out to hold (setup: dated zmsetup log or undated console capture) keep a little state.
#[derive(Clone, Debug)]
pub struct RecordStart {
    kind: LogKind,
    /// For `setup`: `Some(true)` once the first line showed a ctime date (zmsetup log).
    setup_dated: Option<bool>,
}

impl RecordStart {
    pub fn new(kind: LogKind) -> Self {
        RecordStart {
            kind,
            setup_dated: None,
        }
    }

    /// True when `line` (without its newline) starts a new record of this kind.
    pub fn is_start(&mut self, line: &[u8]) -> bool {
        match self.kind {
            LogKind::Mailbox => is_log4j_start(line),
            LogKind::Syslog => true,
            LogKind::Nginx => is_nginx_error_start(line) || is_nginx_access_start(line),
            LogKind::Mysql => is_mysql_start(line),
            LogKind::MysqlSlow => line.starts_with(b"# Time:") || line.starts_with(b"# User@Host:"),
            LogKind::Clamav => starts_unindented(line),
            LogKind::Setup => self.is_setup_start(line),
            LogKind::Mailboxd | LogKind::Generic => {
                starts_unindented(line) && !is_java_continuation(line)
            }
        }
    }

    fn is_setup_start(&mut self, line: &[u8]) -> bool {
        if !starts_unindented(line) {
            return false;
        }
        let dated = is_ctime_start(line);
        match self.setup_dated {
            None => {
                self.setup_dated = Some(dated);
                true
            }
            Some(true) => dated,
            Some(false) => true,
        }
    }
}

fn starts_unindented(line: &[u8]) -> bool {
    matches!(line.first(), Some(b) if !b.is_ascii_whitespace())
}

fn digits(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(u8::is_ascii_digit)
}

fn at(line: &[u8], i: usize) -> u8 {
    line.get(i).copied().unwrap_or(0)
}

/// `YYYY-MM-DD HH:MM:SS,mmm ` (log4j 1 and 2 as Zimbra configures them).
pub fn is_log4j_start(line: &[u8]) -> bool {
    line.len() >= 24
        && digits(&line[0..4])
        && line[4] == b'-'
        && line[7] == b'-'
        && line[10] == b' '
        && line[13] == b':'
        && line[16] == b':'
        && line[19] == b','
        && digits(&line[20..23])
        && line[23] == b' '
}

/// `Mmm dd HH:MM:SS ` (day space-padded or not), RFC 3339 `YYYY-MM-DDTHH:MM:SS`, or
/// RFC 5424 `<pri>1 `.
pub fn is_syslog_start(line: &[u8]) -> bool {
    if line.first() == Some(&b'<') {
        return line.iter().take(6).any(|&b| b == b'>');
    }
    if line.len() >= 19 && digits(&line[0..4]) && line[4] == b'-' && line[10] == b'T' {
        return true;
    }
    month_index(line).is_some() && {
        let rest = &line[3..];
        let rest = trim_start_spaces(rest);
        let day_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        (1..=2).contains(&day_len) && at(rest, day_len) == b' ' && is_hms(&rest[day_len + 1..])
    }
}

fn trim_start_spaces(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&c| c == b' ').count();
    &b[n..]
}

fn is_hms(b: &[u8]) -> bool {
    b.len() >= 8
        && digits(&b[0..2])
        && b[2] == b':'
        && digits(&b[3..5])
        && b[5] == b':'
        && digits(&b[6..8])
}

/// Index 1..=12 of an English month abbreviation at the start of `b`.
pub fn month_index(b: &[u8]) -> Option<u8> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let m = b.get(0..3)?;
    MONTHS.iter().position(|x| &x[..] == m).map(|i| i as u8 + 1)
}

/// `Www Mmm dd HH:MM:SS YYYY` (Perl `scalar localtime`, C `ctime`).
pub fn is_ctime_start(line: &[u8]) -> bool {
    line.len() >= 24
        && line[0].is_ascii_uppercase()
        && line[3] == b' '
        && month_index(&line[4..]).is_some()
        && line[7] == b' '
        && (line[8] == b' ' || line[8].is_ascii_digit())
        && line[9].is_ascii_digit()
        && line[10] == b' '
        && is_hms(&line[11..])
        && line[19] == b' '
        && digits(&line[20..24])
}

fn is_clamav_start(line: &[u8]) -> bool {
    is_ctime_start(line) && line[24..].starts_with(b" -> ")
}

/// nginx error log: `YYYY/MM/DD HH:MM:SS [`.
pub fn is_nginx_error_start(line: &[u8]) -> bool {
    line.len() >= 21
        && digits(&line[0..4])
        && line[4] == b'/'
        && line[7] == b'/'
        && line[10] == b' '
        && is_hms(&line[11..])
        && line[19] == b' '
        && line[20] == b'['
}

/// nginx access log (Zimbra's `upstream` format or combined): `addr[:port] - user [time]`.
fn is_nginx_access_start(line: &[u8]) -> bool {
    let head = &line[..line.len().min(80)];
    matches!(line.first(), Some(b) if b.is_ascii_hexdigit() || *b == b':' || *b == b'[')
        && memchr::memmem::find(head, b" - ").is_some()
        && memchr::memchr(b'[', head).is_some()
}

/// MariaDB/MySQL error log: `YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DD  H:MM:SS` or `YYMMDD HH:MM:SS`.
pub fn is_mysql_start(line: &[u8]) -> bool {
    if line.len() >= 18
        && digits(&line[0..4])
        && line[4] == b'-'
        && line[7] == b'-'
        && line[10] == b' '
    {
        return hms_loose(&line[11..]);
    }
    line.len() >= 15 && digits(&line[0..6]) && line[6] == b' ' && hms_loose(&line[7..])
}

/// `HH:MM:SS` or ` H:MM:SS` (space-padded hour).
fn hms_loose(b: &[u8]) -> bool {
    if at(b, 0) == b' ' {
        b.len() >= 8 && at(b, 1).is_ascii_digit() && at(b, 2) == b':'
    } else {
        is_hms(b)
    }
}

/// Java stack-trace lines that continue the record above even though they are not indented:
/// `Caused by: …`, an exception header such as `com.zimbra.x.FooException: …`, `... 12 more`,
/// and the `ExceptionId:` / `Code:` lines Zimbra's ServiceException adds.
pub fn is_java_continuation(line: &[u8]) -> bool {
    if line.starts_with(b"Caused by:")
        || line.starts_with(b"...")
        || line.starts_with(b"ExceptionId:")
        || line.starts_with(b"Code:")
    {
        return true;
    }
    is_exception_header(line)
}

/// `java.io.FileNotFoundException: …`, `com.zimbra.common.service.ServiceException: …`.
pub fn is_exception_header(line: &[u8]) -> bool {
    let end = line
        .iter()
        .position(|&b| b == b':' || b == b' ')
        .unwrap_or(line.len());
    let name = &line[..end];
    if end == line.len() && name.len() != line.len() {
        return false;
    }
    let dotted = name.contains(&b'.') && name.first().is_some_and(u8::is_ascii_lowercase);
    let plain = name
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'$' || *b == b'_');
    dotted
        && plain
        && (name.ends_with(b"Exception")
            || name.ends_with(b"Error")
            || name.ends_with(b"Throwable"))
        && (end == line.len() || line[end] == b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_rotated_names() {
        let k = |s: &str| LogKind::from_path(Path::new(s));
        assert_eq!(
            k("/opt/zimbra/log/mailbox.log.2025-03-01.gz"),
            Some(LogKind::Mailbox)
        );
        assert_eq!(k("/var/log/zimbra.log.1"), Some(LogKind::Syslog));
        assert_eq!(k("nginx.log.2.gz"), Some(LogKind::Nginx));
        assert_eq!(k("/tmp/zmsetup.20240301-101502.log"), Some(LogKind::Setup));
        assert_eq!(k("/tmp/install.log.AbCd1234"), Some(LogKind::Setup));
        assert_eq!(k("zmmailboxd.out"), Some(LogKind::Mailboxd));
        assert_eq!(k("mysql_error.log"), Some(LogKind::Mysql));
        assert_eq!(k("myslow.log.3.gz"), Some(LogKind::MysqlSlow));
        assert_eq!(k("clamd.log"), Some(LogKind::Clamav));
        assert_eq!(k("random.txt"), None);
    }

    #[test]
    fn sniffs_kinds() {
        let mb = b"2025-03-01 10:00:00,001 INFO  [main] [] soap - x\n\tat foo\n";
        assert_eq!(LogKind::sniff(mb), LogKind::Mailbox);
        let sl = b"Mar  1 10:00:00 mta1 postfix/smtpd[1]: connect\nMar 1 10:00:01 mta1 x: y\n";
        assert_eq!(LogKind::sniff(sl), LogKind::Syslog);
        let ng = b"2025/03/01 10:00:00 [error] 12#0: *3 connect() failed\n";
        assert_eq!(LogKind::sniff(ng), LogKind::Nginx);
        let cl = b"Sat Mar  1 10:00:00 2025 -> SelfCheck: Database status OK.\n";
        assert_eq!(LogKind::sniff(cl), LogKind::Clamav);
        let zs = b"Sat Mar  1 10:00:00 2025 Running mysql_upgrade...\n";
        assert_eq!(LogKind::sniff(zs), LogKind::Setup);
        let my = b"2019-09-20 13:46:36 0 [Note] InnoDB: Using Linux native AIO\n";
        assert_eq!(LogKind::sniff(my), LogKind::Mysql);
        assert_eq!(LogKind::sniff(b"hello world\n"), LogKind::Generic);
    }

    #[test]
    fn java_continuations() {
        assert!(is_java_continuation(b"Caused by: java.io.IOException: x"));
        assert!(is_java_continuation(
            b"java.io.FileNotFoundException: /x does not exist"
        ));
        assert!(is_java_continuation(
            b"com.zimbra.cs.mailbox.MailServiceException: No such blob"
        ));
        assert!(!is_java_continuation(b"Starting servers...done."));
        assert!(!is_java_continuation(
            b"ERROR: The ZCS Network upgrade requires a license"
        ));
    }

    #[test]
    fn setup_mode_follows_first_line() {
        let mut dated = RecordStart::new(LogKind::Setup);
        assert!(
            dated.is_start(b"Sat Mar 14 23:07:43 2026 Looking for valid license to activate...")
        );
        assert!(!dated.is_start(b"*******ERROR"));
        let mut console = RecordStart::new(LogKind::Setup);
        assert!(console.is_start(b"Checking for available license file..."));
        assert!(
            console.is_start(b"ERROR: The ZCS Network upgrade requires a license to be located in")
        );
        assert!(!console
            .is_start(b"       It is required for all LDAP master node(s) to be upgraded first."));
    }
}
