//! Segments: where a large plain file can be cut so that its pieces can be scanned on several
//! cores and still give exactly what one pass over the whole file gives. Every cut lies at the
//! start of a line that begins a record of the file's kind, so no event straddles a cut and the
//! framer, started at a cut, sees the same events as it would have there.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use memchr::memchr;

use crate::framing::strip_cr;
use crate::kind::{LogKind, RecordStart};

/// Files are cut about every this many bytes.
pub const SEGMENT: u64 = 16 << 20;
/// How far past a nominal cut a record start is looked for; without one there is no cut.
const PROBE: usize = 1 << 20;

/// Whether files of this kind may be cut: their record-start test must not depend on what came
/// before (the setup log's does).
pub fn splittable(kind: LogKind) -> bool {
    kind != LogKind::Setup
}

/// The start offsets of the segments of a file of `size` bytes: 0, then the first record start
/// at or after each multiple of `segment` (normally [`SEGMENT`]). Read errors mean fewer cuts.
pub fn cut_points(file: &mut File, size: u64, kind: LogKind, segment: u64) -> Vec<u64> {
    let segment = segment.max(1);
    let mut cuts = vec![0];
    let mut nominal = segment;
    while nominal + segment / 2 < size {
        match record_start_at_or_after(file, nominal, kind) {
            Ok(Some(at)) if at > *cuts.last().unwrap_or(&0) && at < size => cuts.push(at),
            Ok(_) => {}
            Err(_) => break,
        }
        nominal += segment;
    }
    cuts
}

/// The offset of the first line that starts at or after `pos` and begins a record.
fn record_start_at_or_after(file: &mut File, pos: u64, kind: LogKind) -> io::Result<Option<u64>> {
    // Read from one byte before, so a line that starts exactly at `pos` is seen as one.
    let from = pos.saturating_sub(1);
    file.seek(SeekFrom::Start(from))?;
    let mut buf = Vec::with_capacity(PROBE);
    file.take(PROBE as u64).read_to_end(&mut buf)?;
    let Some(nl) = memchr(b'\n', &buf) else {
        return Ok(None);
    };
    let mut record = RecordStart::new(kind);
    let mut start = nl + 1;
    while let Some(len) = memchr(b'\n', &buf[start..]) {
        if record.is_start(strip_cr(&buf[start..start + len])) {
            return Ok(Some(from + start as u64));
        }
        start += len + 1;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn cuts_fall_on_record_starts() {
        let mut f = tempfile::tempfile().unwrap();
        let event = "2026-03-14 23:10:01,001 ERROR [main] [] x - failed\n\tat a.b(C.java:1)\n";
        f.write_all(event.repeat(100).as_bytes()).unwrap();
        let size = f.metadata().unwrap().len();
        let cuts = cut_points(&mut f, size, LogKind::Mailbox, 1000);
        assert_eq!(cuts.len(), 7, "{cuts:?}");
        for (i, &c) in cuts.iter().enumerate().skip(1) {
            assert_eq!(
                c % event.len() as u64,
                0,
                "cut {c} is not at an event start"
            );
            assert!(c >= 1000 * i as u64);
        }
    }

    #[test]
    fn no_cut_without_a_record_start() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"2026-03-14 23:10:01,001 ERROR [main] [] x - failed\n")
            .unwrap();
        let line = "\tat a.b(C.java:1)\n";
        f.write_all(line.repeat(500).as_bytes()).unwrap();
        let size = f.metadata().unwrap().len();
        assert_eq!(cut_points(&mut f, size, LogKind::Mailbox, 1000), vec![0]);
    }
}
