//! Framing for a followed file: bytes arrive a few at a time, so lines are split as they come,
//! a partial last line waits for its newline, and an event is handed out when the next record
//! starts or when [`Assembler::flush`] is called after the file has been quiet. The same caps
//! as [`crate::framing`] keep memory bounded.

use memchr::memchr;

use crate::framing::{strip_cr, EVENT_BYTE_CAP, EVENT_LINE_CAP, LINE_CAP};
use crate::kind::{LogKind, RecordStart};

/// One whole event of a followed file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assembled {
    /// Its text, lines joined by `\n`, without the last newline.
    pub text: Vec<u8>,
    /// 1-based line of its first line in the file.
    pub line: u64,
    /// Offset of its first byte in the file.
    pub offset: u64,
    pub truncated: bool,
}

/// Turns appended bytes into events.
pub struct Assembler {
    record: RecordStart,
    /// Bytes after the last newline seen.
    partial: Vec<u8>,
    /// The partial line was cut at [`LINE_CAP`]; the rest until its newline is dropped.
    partial_cut: bool,
    /// File offset of `partial`'s first byte.
    partial_offset: u64,
    /// Length of the partial line in the file (more than `partial` holds when it was cut).
    partial_disk_len: u64,
    open: Option<Open>,
    /// Lines completed so far.
    lines: u64,
    /// Each line is a relayed one to unwrap first ([`crate::relay`]).
    relayed: bool,
}

struct Open {
    event: Assembled,
    lines: usize,
}

impl Assembler {
    /// An assembler for a file whose next byte is at `offset` and whose next line is line
    /// `line + 1`.
    pub fn new(kind: LogKind, offset: u64, line: u64) -> Self {
        Assembler {
            record: RecordStart::new(kind),
            partial: Vec::new(),
            partial_cut: false,
            partial_offset: offset,
            partial_disk_len: 0,
            open: None,
            lines: line,
            relayed: false,
        }
    }

    /// Unwraps each line relayed by rsyslog (`TS HOST TAG: message`, `#ooo` escapes) into the
    /// lines it stands for before framing them; offsets and line numbers stay the file's.
    pub fn relayed(mut self, on: bool) -> Self {
        self.relayed = on;
        self
    }

    /// Offset of the first byte not yet handed out in an event: where a restart must resume.
    pub fn resume_offset(&self) -> u64 {
        self.open
            .as_ref()
            .map_or(self.partial_offset, |o| o.event.offset)
    }

    /// Line count at [`Assembler::resume_offset`].
    pub fn resume_line(&self) -> u64 {
        self.open
            .as_ref()
            .map_or(self.lines, |o| o.event.line.saturating_sub(1))
    }

    /// An event is waiting for the next record start or a flush.
    pub fn has_open_event(&self) -> bool {
        self.open.is_some()
    }

    /// Feeds bytes that follow the ones fed before; whole events go to `out`.
    pub fn feed(&mut self, mut bytes: &[u8], out: &mut Vec<Assembled>) {
        while !bytes.is_empty() {
            match memchr(b'\n', bytes) {
                Some(i) => {
                    self.extend_partial(&bytes[..i]);
                    self.complete_line(self.partial_disk_len + 1, out);
                    bytes = &bytes[i + 1..];
                }
                None => {
                    self.extend_partial(bytes);
                    bytes = &[];
                }
            }
        }
    }

    /// Hands out the open event (the file has been quiet, so it is taken as complete). A partial
    /// line stays until its newline arrives.
    pub fn flush(&mut self, out: &mut Vec<Assembled>) {
        if let Some(o) = self.open.take() {
            out.push(o.event);
        }
    }

    fn extend_partial(&mut self, bytes: &[u8]) {
        self.partial_disk_len += bytes.len() as u64;
        let room = LINE_CAP.saturating_sub(self.partial.len());
        if bytes.len() > room {
            self.partial.extend_from_slice(&bytes[..room]);
            self.partial_cut = true;
        } else {
            self.partial.extend_from_slice(bytes);
        }
    }

    /// The partial line got its newline; `disk_len` is its length in the file with the newline.
    fn complete_line(&mut self, disk_len: u64, out: &mut Vec<Assembled>) {
        let line_offset = self.partial_offset;
        self.partial_offset += disk_len;
        self.partial_disk_len = 0;
        self.lines += 1;
        let cut = std::mem::take(&mut self.partial_cut);
        let line = std::mem::take(&mut self.partial);
        let content = strip_cr(&line);
        if self.relayed {
            let mut decoded = Vec::with_capacity(content.len());
            crate::relay::unwrap_line(content, &mut decoded);
            for piece in decoded.split(|&b| b == b'\n') {
                self.take_line(piece, line_offset, cut, out);
            }
            return;
        }
        self.take_line(content, line_offset, cut, out);
    }

    /// Adds one line (at `line_offset` in the file) to the open event or starts the next.
    fn take_line(&mut self, content: &[u8], line_offset: u64, cut: bool, out: &mut Vec<Assembled>) {
        let starts = self.open.is_none() || self.record.is_start(content);
        if starts {
            if let Some(o) = self.open.take() {
                out.push(o.event);
            }
            self.open = Some(Open {
                event: Assembled {
                    text: content.to_vec(),
                    line: self.lines,
                    offset: line_offset,
                    truncated: cut,
                },
                lines: 1,
            });
            return;
        }
        let o = self.open.as_mut().expect("an open event exists here");
        if o.lines >= EVENT_LINE_CAP || o.event.text.len() + content.len() > EVENT_BYTE_CAP {
            o.event.truncated = true;
            return;
        }
        o.lines += 1;
        o.event.text.push(b'\n');
        o.event.text.extend_from_slice(content);
        o.event.truncated |= cut;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(events: &[Assembled]) -> Vec<String> {
        events
            .iter()
            .map(|e| String::from_utf8_lossy(&e.text).into_owned())
            .collect()
    }

    const TRACE: &str = "2026-03-01 02:14:07,511 WARN  [qtp1] [] mailbox - Unable to get blob\n\
        com.zimbra.cs.mailbox.MailServiceException: missing blob for id: 257\n\
        \tat com.zimbra.cs.mailbox.MailItem.getBlob(MailItem.java:1466)\n\
        2026-03-01 02:14:08,000 INFO  [ImapServer-2] [] imap - SELECT elapsed=3\n";

    #[test]
    fn byte_by_byte_gives_the_same_events_as_all_at_once() {
        let mut whole = Assembler::new(LogKind::Mailbox, 0, 0);
        let mut a = Vec::new();
        whole.feed(TRACE.as_bytes(), &mut a);
        let mut single = Assembler::new(LogKind::Mailbox, 0, 0);
        let mut b = Vec::new();
        for byte in TRACE.as_bytes() {
            single.feed(std::slice::from_ref(byte), &mut b);
        }
        assert_eq!(a, b);
        assert_eq!(a.len(), 1, "the trace is out, the INFO line waits");
        assert!(texts(&a)[0].contains("MailItem.java:1466"));
        assert_eq!(
            whole.resume_offset(),
            TRACE.find("2026-03-01 02:14:08").unwrap() as u64
        );
        whole.flush(&mut a);
        assert_eq!(a[1].line, 4);
        assert_eq!(whole.resume_offset(), TRACE.len() as u64);
    }

    #[test]
    fn a_partial_line_waits_for_its_newline_even_on_flush() {
        let mut asm = Assembler::new(LogKind::Syslog, 100, 10);
        let mut out = Vec::new();
        asm.feed(b"Mar  1 10:00:00 mta postfix/smtpd[1]: conn", &mut out);
        asm.flush(&mut out);
        assert!(out.is_empty());
        assert_eq!(asm.resume_offset(), 100);
        asm.feed(b"ect from x\n", &mut out);
        asm.flush(&mut out);
        assert_eq!(
            texts(&out),
            ["Mar  1 10:00:00 mta postfix/smtpd[1]: connect from x"]
        );
        assert_eq!((out[0].line, out[0].offset), (11, 100));
        assert_eq!(asm.resume_offset(), 100 + 53);
    }

    #[test]
    fn long_lines_are_cut_and_offsets_stay_those_of_the_file() {
        let mut asm = Assembler::new(LogKind::Syslog, 0, 0);
        let mut out = Vec::new();
        let long = vec![b'x'; LINE_CAP + 10];
        asm.feed(&long, &mut out);
        asm.feed(b"\nnext\n", &mut out);
        asm.flush(&mut out);
        assert_eq!(out.len(), 2);
        assert!(out[0].truncated && out[0].text.len() == LINE_CAP);
        assert_eq!(out[1].offset, LINE_CAP as u64 + 11);
    }
}
