//! Framing: turns a byte stream into events. Splits lines with memchr, decides with the kind's
//! record-start test where each event begins, joins continuation lines (stack traces, indented
//! lines) to the event above, and enforces the caps that keep memory bounded: 64 KiB a line,
//! 1,000 lines and 1 MiB an event. A cut is recorded in the event's `truncated` flag.
//!
//! The framer hands out *regions*: a run of whole events held in one buffer, with the span of
//! each event. The matcher searches a whole region at once and looks up the event around a hit.

use std::io::{self, Read};

use memchr::memchr;

use crate::kind::{LogKind, RecordStart};

/// Longest line kept; the rest of a longer line is dropped and the event marked as cut.
pub const LINE_CAP: usize = 64 * 1024;
/// Most lines kept in one event; further continuation lines are dropped.
pub const EVENT_LINE_CAP: usize = 1000;
/// Most bytes kept in one event.
pub const EVENT_BYTE_CAP: usize = 1024 * 1024;
/// Default read size.
pub const DEFAULT_CHUNK: usize = 256 * 1024;

/// Where one event lies in a region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSpan {
    /// Index of the event's first byte in the region.
    pub start: usize,
    /// End of the event's text (exclusive; its last newline excluded).
    pub text_end: usize,
    /// Start of the next event (bytes between `text_end` and `end` were cut).
    pub end: usize,
    /// 1-based line number of the event's first line in the stream.
    pub line: u64,
    /// Byte offset of the event's first byte in the (decompressed) stream.
    pub offset: u64,
    /// Some of the event's bytes were dropped by a cap.
    pub truncated: bool,
}

/// A run of whole events.
pub struct Region<'a> {
    pub bytes: &'a [u8],
    pub events: &'a [EventSpan],
}

struct OpenEvent {
    start: usize,
    text_end: usize,
    line: u64,
    offset: u64,
    lines: usize,
    truncated: bool,
}

/// Reads a stream and yields regions of whole events.
pub struct Framer<R> {
    reader: R,
    record: RecordStart,
    chunk: usize,
    buf: Vec<u8>,
    /// Next unscanned line start in `buf`.
    scan: usize,
    /// Bytes at the front of `buf` already handed out as a region.
    consumed: usize,
    /// Stream offset of `buf[0]`, corrected for bytes dropped by caps.
    base: u64,
    lines_seen: u64,
    events: Vec<EventSpan>,
    open: Option<OpenEvent>,
    eof: bool,
    /// Discarding the rest of an over-long line until its newline.
    skipping: bool,
    /// The line at `scan` was cut.
    scan_line_cut: bool,
    bytes_read: u64,
    error: Option<io::Error>,
}

impl<R: Read> Framer<R> {
    pub fn new(reader: R, kind: LogKind) -> Self {
        Self::with_chunk(reader, kind, DEFAULT_CHUNK)
    }

    pub fn with_chunk(reader: R, kind: LogKind, chunk: usize) -> Self {
        Framer {
            reader,
            record: RecordStart::new(kind),
            chunk: chunk.max(1),
            buf: Vec::new(),
            scan: 0,
            consumed: 0,
            base: 0,
            lines_seen: 0,
            events: Vec::new(),
            open: None,
            eof: false,
            skipping: false,
            scan_line_cut: false,
            bytes_read: 0,
            error: None,
        }
    }

    /// Bytes read from the stream so far (after decompression).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Lines seen so far.
    pub fn lines_seen(&self) -> u64 {
        self.lines_seen
    }

    /// The read error that ended the stream early, if any (a truncated gzip, an I/O error).
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    /// The next run of whole events, or `None` at the end of the stream.
    pub fn next_region(&mut self) -> Option<Region<'_>> {
        self.release_consumed();
        loop {
            self.scan_lines();
            if self.eof {
                self.finish();
                if self.events.is_empty() {
                    return None;
                }
                self.consumed = self.buf.len();
                return Some(Region {
                    bytes: &self.buf,
                    events: &self.events,
                });
            }
            if !self.events.is_empty() && self.open_start() >= self.chunk {
                break;
            }
            self.fill();
        }
        let end = self.open_start();
        self.consumed = end;
        Some(Region {
            bytes: &self.buf[..end],
            events: &self.events,
        })
    }

    fn open_start(&self) -> usize {
        self.open.as_ref().map_or(self.scan, |o| o.start)
    }

    fn release_consumed(&mut self) {
        let n = self.consumed;
        if n == 0 {
            return;
        }
        self.buf.drain(..n);
        self.base += n as u64;
        self.scan -= n;
        if let Some(o) = self.open.as_mut() {
            o.start -= n;
            o.text_end -= n;
        }
        self.events.clear();
        self.consumed = 0;
    }

    /// Reads one chunk, dropping the tail of an over-long line.
    fn fill(&mut self) {
        let old = self.buf.len();
        self.buf.resize(old + self.chunk, 0);
        let n = loop {
            match self.reader.read(&mut self.buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.error = Some(e);
                    break 0;
                }
            }
        };
        self.buf.truncate(old + n);
        self.bytes_read += n as u64;
        if n == 0 {
            self.eof = true;
            return;
        }
        if self.skipping {
            self.skip_overlong_tail(old);
        }
        self.cut_partial_line();
    }

    /// While skipping, drops new bytes up to the newline that ends the over-long line.
    fn skip_overlong_tail(&mut self, from: usize) {
        match memchr(b'\n', &self.buf[from..]) {
            Some(k) => {
                self.buf.drain(from..from + k);
                self.base += k as u64;
                self.skipping = false;
            }
            None => {
                let n = self.buf.len() - from;
                self.buf.truncate(from);
                self.base += n as u64;
            }
        }
    }

    /// Cuts the unfinished last line when it already exceeds the cap.
    fn cut_partial_line(&mut self) {
        if self.skipping || self.buf.len() - self.scan <= LINE_CAP {
            return;
        }
        if memchr(b'\n', &self.buf[self.scan..]).is_some() {
            return;
        }
        let keep = self.scan + LINE_CAP;
        let n = self.buf.len() - keep;
        self.buf.truncate(keep);
        self.base += n as u64;
        self.skipping = true;
        self.scan_line_cut = true;
    }

    fn scan_lines(&mut self) {
        while let Some(nl) = memchr(b'\n', &self.buf[self.scan..]) {
            let ls = self.scan;
            let mut le = ls + nl;
            if le - ls > LINE_CAP {
                let cut = le - (ls + LINE_CAP);
                self.buf.drain(ls + LINE_CAP..le);
                self.base += cut as u64;
                le = ls + LINE_CAP;
                self.scan_line_cut = true;
            }
            self.take_line(ls, le, le + 1);
        }
    }

    /// At the end of the stream: the last line without a newline, then the open event.
    fn finish(&mut self) {
        if self.scan < self.buf.len() {
            let (ls, le) = (self.scan, self.buf.len());
            self.take_line(ls, le, le);
        }
        if let Some(o) = self.open.take() {
            let end = self.buf.len();
            self.push_event(o, end);
        }
    }

    /// Adds the line `buf[ls..le]` (next line starts at `next`) to the events.
    fn take_line(&mut self, ls: usize, le: usize, next: usize) {
        self.lines_seen += 1;
        let cut = std::mem::take(&mut self.scan_line_cut);
        let content = strip_cr(&self.buf[ls..le]);
        let starts = self.open.is_none() || self.record.is_start(content);
        if starts {
            if let Some(o) = self.open.take() {
                self.push_event(o, ls);
            }
            self.open = Some(OpenEvent {
                start: ls,
                text_end: le,
                line: self.lines_seen,
                offset: self.base + ls as u64,
                lines: 1,
                truncated: cut,
            });
            self.scan = next;
            return;
        }
        let o = self.open.as_mut().expect("an open event exists here");
        if o.lines >= EVENT_LINE_CAP || le - o.start > EVENT_BYTE_CAP {
            o.truncated = true;
            let n = next - ls;
            self.buf.drain(ls..next);
            self.base += n as u64;
            self.scan = ls;
            return;
        }
        o.lines += 1;
        o.text_end = le;
        o.truncated |= cut;
        self.scan = next;
    }

    fn push_event(&mut self, o: OpenEvent, end: usize) {
        self.events.push(EventSpan {
            start: o.start,
            text_end: o.text_end,
            end,
            line: o.line,
            offset: o.offset,
            truncated: o.truncated,
        });
    }
}

pub(crate) fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Frames a whole byte slice; used by tests and by `zkb explain`.
pub fn frame_all(bytes: &[u8], kind: LogKind, chunk: usize) -> Vec<(EventSpan, Vec<u8>)> {
    let mut framer = Framer::with_chunk(bytes, kind, chunk);
    let mut out = Vec::new();
    while let Some(region) = framer.next_region() {
        for e in region.events {
            out.push((e.clone(), region.bytes[e.start..e.text_end].to_vec()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(input: &str, kind: LogKind, chunk: usize) -> Vec<(u64, String)> {
        frame_all(input.as_bytes(), kind, chunk)
            .into_iter()
            .map(|(e, t)| (e.line, String::from_utf8(t).unwrap()))
            .collect()
    }

    const MB: &str = "2025-03-01 10:00:00,001 INFO  [main] [] soap - one\n\
2025-03-01 10:00:01,001 WARN  [qtp-1] [name=a@b.c;] mailbox - two\n\
com.zimbra.cs.mailbox.MailServiceException: No such blob: mailbox=4, item=5, change=6\n\
\tat com.zimbra.cs.X.y(X.java:1) ~[zimbrastore.jar:10.1.9]\n\
Caused by: java.io.IOException: boom\n\
\t... 12 more\n\
2025-03-01 10:00:02,001 ERROR [main] [] system - three";

    #[test]
    fn joins_stack_traces_at_any_chunk_size() {
        for chunk in [1, 7, 64, 4096] {
            let t = texts(MB, LogKind::Mailbox, chunk);
            assert_eq!(t.len(), 3, "chunk {chunk}");
            assert_eq!(t[1].0, 2);
            assert!(t[1].1.ends_with("\t... 12 more"));
            assert_eq!(t[2].0, 7);
            assert_eq!(
                t[2].1,
                "2025-03-01 10:00:02,001 ERROR [main] [] system - three"
            );
        }
    }

    #[test]
    fn offsets_point_at_event_starts() {
        let evs = frame_all(MB.as_bytes(), LogKind::Mailbox, 16);
        for (e, text) in evs {
            let o = e.offset as usize;
            assert_eq!(&MB.as_bytes()[o..o + text.len()], &text[..]);
        }
    }

    #[test]
    fn caps_long_lines_and_marks_the_cut() {
        let mut input = b"2025-03-01 10:00:00,000 INFO  [x] [] soap - ".to_vec();
        input.extend(std::iter::repeat_n(b'a', 3 * LINE_CAP));
        input.extend(b"\n2025-03-01 10:00:01,000 WARN  [x] [] soap - next\n");
        for chunk in [1000, 4096, DEFAULT_CHUNK] {
            let evs = frame_all(&input, LogKind::Mailbox, chunk);
            assert_eq!(evs.len(), 2);
            assert!(evs[0].0.truncated);
            assert_eq!(evs[0].1.len(), LINE_CAP);
            assert_eq!(evs[1].0.line, 2);
            let second = input.len() - b"2025-03-01 10:00:01,000 WARN  [x] [] soap - next\n".len();
            assert_eq!(evs[1].0.offset as usize, second);
            assert!(!evs[1].0.truncated);
        }
    }

    #[test]
    fn caps_lines_per_event() {
        let mut s = String::from("2025-03-01 10:00:00,000 ERROR [x] [] soap - deep\n");
        for i in 0..1500 {
            s.push_str(&format!("\tat frame{i}\n"));
        }
        s.push_str("2025-03-01 10:00:01,000 INFO  [x] [] soap - after\n");
        let t = frame_all(s.as_bytes(), LogKind::Mailbox, 512);
        assert_eq!(t.len(), 2);
        assert!(t[0].0.truncated);
        assert_eq!(t[0].1.split(|&b| b == b'\n').count(), EVENT_LINE_CAP);
        assert_eq!(t[1].0.line, 1502);
    }

    #[test]
    fn empty_and_unterminated_input() {
        assert!(frame_all(b"", LogKind::Syslog, 64).is_empty());
        let t = texts("Mar  1 10:00:00 h p: x", LogKind::Syslog, 64);
        assert_eq!(t, vec![(1, "Mar  1 10:00:00 h p: x".to_string())]);
    }

    #[test]
    fn leading_continuation_lines_form_an_event() {
        let t = texts(
            "\tat orphan\n2025-03-01 10:00:00,000 INFO  [x] [] a - b\n",
            LogKind::Mailbox,
            64,
        );
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].1, "\tat orphan");
    }
}
