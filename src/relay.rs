//! Logs relayed by rsyslog (see `fleet-logging.md`): a receiver writes each forwarded line as
//! `TIMESTAMP HOST TAG: message`, with the control characters of a joined multi-line event
//! escaped as `#ooo` (`#012` a newline, `#011` a tab). When a file's lines are such wrappers of
//! log4j records (mailbox.log, audit.log, sync.log sent by imfile), [`Unwrap`] gives back the
//! original log: prefixes stripped and escapes decoded, so the stack trace is a multi-line
//! mailbox event again, matched by the mailbox rules as it would be on the mailstore. Lines of
//! syslog origin (postfix, amavis) are left as they are: they are syslog already.

use std::io::{self, BufRead, BufReader, Read};

use crate::kind::{is_log4j_start, is_syslog_start, LogKind};

/// A relayed line's parts: the sender's host, its tag (program), and the message.
pub struct Relayed<'a> {
    pub host: &'a [u8],
    pub tag: &'a [u8],
    pub msg: &'a [u8],
}

/// Splits a relayed line (`RSYSLOG_FileFormat`/`ForwardFormat`, classic `Mmm dd` or RFC 5424).
pub fn split_header(line: &[u8]) -> Option<Relayed<'_>> {
    if line.first() == Some(&b'<') {
        return split_5424(line);
    }
    if !is_syslog_start(line) {
        return None;
    }
    // The timestamp: one token in RFC 3339, three (`Mmm dd HH:MM:SS`) in the classic form.
    let tokens = if line[0].is_ascii_digit() { 1 } else { 3 };
    let mut rest = line;
    for _ in 0..tokens {
        rest = skip_token(rest)?;
    }
    let (host, after_host) = token(rest)?;
    let tag_end = after_host.windows(2).position(|w| w == b": ")?;
    let tag = &after_host[..tag_end];
    if tag.contains(&b' ') {
        return None;
    }
    Some(Relayed {
        host,
        tag: tag.split(|&b| b == b'[').next().unwrap_or(tag),
        msg: &after_host[tag_end + 2..],
    })
}

/// `<PRI>1 TIMESTAMP HOST APP-NAME PROCID MSGID STRUCTURED-DATA MSG`.
fn split_5424(line: &[u8]) -> Option<Relayed<'_>> {
    let close = line.iter().take(6).position(|&b| b == b'>')?;
    let rest = line[close + 1..].strip_prefix(b"1 ")?;
    let (_ts, rest) = token(rest)?;
    let (host, rest) = token(rest)?;
    let (app, rest) = token(rest)?;
    let (_procid, rest) = token(rest)?;
    let (_msgid, rest) = token(rest)?;
    let rest = skip_structured_data(rest)?;
    let msg = rest.strip_prefix(b" ").unwrap_or(rest);
    let msg = msg.strip_prefix("\u{feff}".as_bytes()).unwrap_or(msg);
    Some(Relayed {
        host,
        tag: app,
        msg,
    })
}

/// `-` or one or more `[id k="v" ...]` elements (`]` and `"` escaped with `\` inside values).
fn skip_structured_data(b: &[u8]) -> Option<&[u8]> {
    if let Some(rest) = b.strip_prefix(b"-") {
        return Some(rest);
    }
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        let mut quoted = false;
        i += 1;
        loop {
            match *b.get(i)? {
                b'\\' => i += 1,
                b'"' => quoted = !quoted,
                b']' if !quoted => break,
                _ => {}
            }
            i += 1;
        }
        i += 1;
    }
    (i > 0).then(|| &b[i..])
}

/// The next space-separated token and what follows its space.
fn token(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = b.iter().position(|&c| c == b' ')?;
    Some((&b[..end], &b[end + 1..]))
}

fn skip_token(b: &[u8]) -> Option<&[u8]> {
    let start = b.iter().position(|&c| c != b' ')?;
    let end = b[start..].iter().position(|&c| c == b' ')? + start;
    Some(&b[end + 1..])
}

/// The kind of log a relayed message was written in: by the tag the forwarder gives each file
/// (`zimbra-mailbox`, `zimbra-nginx`…), else by its first bytes; `None` for syslog-origin lines.
fn inner_kind(r: &Relayed<'_>) -> Option<LogKind> {
    let by_tag = match r.tag {
        b"zimbra-mailbox" | b"zimbra-audit" | b"zimbra-sync" | b"zimbra-ews" | b"zimbra-milter" => {
            Some(LogKind::Mailbox)
        }
        b"zimbra-mailboxd" => Some(LogKind::Mailboxd),
        b"zimbra-nginx" => Some(LogKind::Nginx),
        b"zimbra-clamd" | b"zimbra-freshclam" => Some(LogKind::Clamav),
        b"zimbra-install" | b"zimbra-zmsetup" | b"zimbra-setup" => Some(LogKind::Setup),
        b"zimbra-mysql" => Some(LogKind::Mysql),
        _ => None,
    };
    by_tag.or_else(|| is_log4j_start(r.msg).then_some(LogKind::Mailbox))
}

/// The kind of log relayed in a file, judged from its first lines: the inner kind most of them
/// carry, or `None` when they are syslog-origin lines (postfix, amavis) or not relayed at all.
pub fn relayed_kind(head: &[u8]) -> Option<LogKind> {
    let lines: Vec<&[u8]> = head
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .take(20)
        .collect();
    let kinds: Vec<LogKind> = lines
        .iter()
        .filter_map(|l| split_header(l).as_ref().and_then(inner_kind))
        .collect();
    let first = *kinds.first()?;
    let same = kinds.iter().filter(|k| **k == first).count();
    (same * 2 > lines.len()).then_some(first)
}

/// The zone of the sender, from the RFC 3339 offset of the first relayed line's time stamp:
/// the inner record (a log4j time, which carries none) was written in it.
pub fn header_zone(head: &[u8]) -> Option<jiff::tz::TimeZone> {
    let line = head
        .split(|&b| b == b'\n')
        .find(|l| split_header(l).is_some() && l.first().is_some_and(u8::is_ascii_digit))?;
    let stamp = std::str::from_utf8(line.split(|&b| b == b' ').next()?).ok()?;
    let tail = stamp.get(19..)?;
    let offset = if tail.ends_with('Z') {
        jiff::tz::Offset::UTC
    } else {
        // `+HH:MM` (or `-HH:MM`) after the seconds and their fraction.
        let at = tail.rfind(['+', '-'])?;
        let sign = if tail[at..].starts_with('-') { -1 } else { 1 };
        let (h, m) = tail.get(at + 1..)?.split_once(':')?;
        let secs = sign * (h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60);
        jiff::tz::Offset::from_seconds(secs).ok()?
    };
    Some(jiff::tz::TimeZone::fixed(offset))
}

/// Decodes rsyslog's `#ooo` escapes (three octal digits), and with `literal_lf` the `\n` that
/// rsyslog's `escapeLF` (on by default) leaves where a joined multi-line event had its line
/// breaks — where what follows starts a continuation line (a tab, `Caused by`, a Java class).
pub fn decode_escapes(msg: &[u8], out: &mut Vec<u8>, literal_lf: bool) {
    let mut i = 0;
    while i < msg.len() {
        let octal = msg[i] == b'#'
            && msg.len() >= i + 4
            && (b'0'..=b'3').contains(&msg[i + 1])
            && msg[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c));
        if octal {
            out.push((msg[i + 1] - b'0') * 64 + (msg[i + 2] - b'0') * 8 + (msg[i + 3] - b'0'));
            i += 4;
        } else if literal_lf && msg[i..].starts_with(b"\\n") && continuation(&msg[i + 2..]) {
            out.push(b'\n');
            i += 2;
        } else {
            out.push(msg[i]);
            i += 1;
        }
    }
}

/// Whether text starts the way a continuation line of a Java event does.
fn continuation(b: &[u8]) -> bool {
    const STARTS: &[&[u8]] = &[
        b"#011",
        b"\t",
        b"Caused by",
        b"ExceptionId:",
        b"Code:",
        b"...",
    ];
    if STARTS.iter().any(|s| b.starts_with(s)) {
        return true;
    }
    // A Java class name: dotted lower-case packages, then the class (`com.zimbra.cs.X:`).
    let word = b.split(|&c| c == b' ' || c == b':').next().unwrap_or(b"");
    let parts: Vec<&[u8]> = word.split(|&c| c == b'.').collect();
    parts.len() >= 3
        && parts[0].first().is_some_and(u8::is_ascii_lowercase)
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.iter()
                    .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'$')
        })
}

/// The original line(s) of one relayed line (without its newline): prefix stripped, escapes
/// decoded; a line that is not relayed (or of syslog origin) is given back as it is.
pub fn unwrap_line(line: &[u8], out: &mut Vec<u8>) {
    match split_header(line) {
        Some(r) if inner_kind(&r).is_some() => decode_escapes(r.msg, out, is_log4j_start(r.msg)),
        _ => out.extend_from_slice(line),
    }
}

/// A reader giving back the original log of a relayed file.
pub struct Unwrap<R> {
    inner: BufReader<R>,
    line: Vec<u8>,
    out: Vec<u8>,
    at: usize,
}

impl<R: Read> Unwrap<R> {
    pub fn new(inner: R) -> Self {
        Unwrap {
            inner: BufReader::with_capacity(1 << 16, inner),
            line: Vec::new(),
            out: Vec::new(),
            at: 0,
        }
    }

    fn refill(&mut self) -> io::Result<bool> {
        self.line.clear();
        self.out.clear();
        self.at = 0;
        if self.inner.read_until(b'\n', &mut self.line)? == 0 {
            return Ok(false);
        }
        let newline = self.line.last() == Some(&b'\n');
        let body = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
        unwrap_line(body, &mut self.out);
        if newline {
            self.out.push(b'\n');
        }
        Ok(true)
    }
}

impl<R: Read> Read for Unwrap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at >= self.out.len() {
            if !self.refill()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_lf_left_on_and_rfc_5424_and_tags() {
        let line = "2026-11-25T08:25:05.212183+00:00 mbox1.example.test zimbra-mailbox: 2026-11-25 10:00:02,789 ERROR [qtp-1] [] soap - handler exception\\ncom.zimbra.common.service.ServiceException: system failure\\n#011at com.zimbra.X.y(X.java:299)\n";
        let mut out = String::new();
        Unwrap::new(line.as_bytes())
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "2026-11-25 10:00:02,789 ERROR [qtp-1] [] soap - handler exception\ncom.zimbra.common.service.ServiceException: system failure\n\tat com.zimbra.X.y(X.java:299)\n");
        let mut kept = Vec::new();
        decode_escapes(br"path C:\new and \n not a break", &mut kept, true);
        assert_eq!(kept, br"path C:\new and \n not a break");
        let r5424 = b"<134>1 2026-03-01T02:14:07.511203+07:00 mbx1.example.com zimbra-nginx - - [zkb@32473 file=\"/opt/zimbra/log/nginx.log\" off=\"3\"] 2026/03/01 02:14:07 [error] 12#0: *3 upstream timed out";
        let r = split_header(r5424).unwrap();
        assert_eq!(
            (r.host, r.tag),
            (&b"mbx1.example.com"[..], &b"zimbra-nginx"[..])
        );
        assert!(r.msg.starts_with(b"2026/03/01"));
        assert_eq!(relayed_kind(r5424), Some(LogKind::Nginx));
        let zone = header_zone(RELAYED.as_bytes()).unwrap();
        assert_eq!(
            zone.to_offset(jiff::Timestamp::UNIX_EPOCH).seconds(),
            7 * 3600
        );
    }

    const RELAYED: &str = "2026-03-01T02:14:07.511203+07:00 mbx1.example.com zimbra-mailbox: 2026-03-01 02:14:07,511 WARN  [qtp1-1] [name=ann@example.com;mid=41;] mailbox - Unable to get blob for item 257#012com.zimbra.cs.mailbox.MailServiceException: missing blob for id: 257, change: 9911#012#011at com.zimbra.cs.mailbox.MailItem.getBlob(MailItem.java:1466)\n";

    #[test]
    fn a_relayed_stack_trace_becomes_the_original_lines() {
        assert_eq!(relayed_kind(RELAYED.as_bytes()), Some(LogKind::Mailbox));
        let mut out = String::new();
        Unwrap::new(RELAYED.as_bytes())
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(
            out,
            "2026-03-01 02:14:07,511 WARN  [qtp1-1] [name=ann@example.com;mid=41;] mailbox - Unable to get blob for item 257\ncom.zimbra.cs.mailbox.MailServiceException: missing blob for id: 257, change: 9911\n\tat com.zimbra.cs.mailbox.MailItem.getBlob(MailItem.java:1466)\n"
        );
    }

    #[test]
    fn classic_headers_and_syslog_origin_lines() {
        let classic =
            b"Mar  1 02:14:07 mbx1 zimbra-mailbox: 2026-03-01 02:14:07,511 ERROR [x] [] y - z";
        assert_eq!(split_header(classic).unwrap().host, b"mbx1");
        let postfix = b"2026-03-01T02:15:00.000100+07:00 mta1.example.com postfix/lmtp[4242]: 8F2D41A0B3: to=<a@b.c>, status=deferred";
        assert_eq!(relayed_kind(postfix), None, "postfix lines stay syslog");
        let mut s = Vec::new();
        decode_escapes(b"a#012b#011c #1 #999 #0", &mut s, false);
        assert_eq!(s, b"a\nb\tc #1 #999 #0");
    }
}
