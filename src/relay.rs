//! Logs relayed by rsyslog (see `fleet-logging.md`): a receiver writes each forwarded line as
//! `TIMESTAMP HOST TAG: message`, with the control characters of a joined multi-line event
//! escaped as `#ooo` (`#012` a newline, `#011` a tab). When a file's lines are such wrappers of
//! log4j records (mailbox.log, audit.log, sync.log sent by imfile), [`Unwrap`] gives back the
//! original log: prefixes stripped and escapes decoded, so the stack trace is a multi-line
//! mailbox event again, matched by the mailbox rules as it would be on the mailstore. Lines of
//! syslog origin (postfix, amavis) are left as they are: they are syslog already.

use std::io::{self, BufRead, BufReader, Read};

use crate::kind::{is_log4j_start, is_syslog_start, LogKind};

/// Splits a relayed line into the sender's host and the message after its tag.
pub fn split_header(line: &[u8]) -> Option<(&[u8], &[u8])> {
    if !is_syslog_start(line) || line.first() == Some(&b'<') {
        return None;
    }
    // The timestamp: one token in RFC 3339, three (`Mmm dd HH:MM:SS`) in the classic form.
    let tokens = if line[0].is_ascii_digit() { 1 } else { 3 };
    let mut rest = line;
    for _ in 0..tokens {
        rest = skip_token(rest)?;
    }
    let host_end = rest.iter().position(|&b| b == b' ')?;
    let host = &rest[..host_end];
    let after_host = &rest[host_end + 1..];
    let tag_end = after_host.windows(2).position(|w| w == b": ")?;
    if after_host[..tag_end].contains(&b' ') {
        return None;
    }
    Some((host, &after_host[tag_end + 2..]))
}

fn skip_token(b: &[u8]) -> Option<&[u8]> {
    let start = b.iter().position(|&c| c != b' ')?;
    let end = b[start..].iter().position(|&c| c == b' ')? + start;
    Some(&b[end + 1..])
}

/// The kind of log relayed in a file, judged from its first lines: `Some(Mailbox)` when most
/// of them wrap a log4j record.
pub fn relayed_kind(head: &[u8]) -> Option<LogKind> {
    let lines: Vec<&[u8]> = head
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .take(20)
        .collect();
    let wrapped = lines
        .iter()
        .filter(|l| split_header(l).is_some_and(|(_, m)| is_log4j_start(m)))
        .count();
    (!lines.is_empty() && wrapped * 2 > lines.len()).then_some(LogKind::Mailbox)
}

/// Decodes rsyslog's `#ooo` escapes (three octal digits).
pub fn decode_escapes(msg: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < msg.len() {
        let octal = msg.len() >= i + 4
            && (b'0'..=b'3').contains(&msg[i + 1])
            && msg[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c));
        if msg[i] == b'#' && octal {
            out.push((msg[i + 1] - b'0') * 64 + (msg[i + 2] - b'0') * 8 + (msg[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(msg[i]);
            i += 1;
        }
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
        match split_header(body) {
            Some((_, msg)) => decode_escapes(msg, &mut self.out),
            None => self.out.extend_from_slice(body),
        }
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
        assert_eq!(split_header(classic).unwrap().0, b"mbx1");
        let postfix = b"2026-03-01T02:15:00.000100+07:00 mta1.example.com postfix/lmtp[4242]: 8F2D41A0B3: to=<a@b.c>, status=deferred";
        assert_eq!(relayed_kind(postfix), None, "postfix lines stay syslog");
        let mut s = Vec::new();
        decode_escapes(b"a#012b#011c #1 #999 #0", &mut s);
        assert_eq!(s, b"a\nb\tc #1 #999 #0");
    }
}
