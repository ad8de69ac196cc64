//! Being a good neighbour on a production host: `--low-priority` puts zkb at idle CPU and I/O
//! priority (it runs only when a core would otherwise idle, and its reads queue behind
//! mailboxd's), and tells the kernel not to keep the pages of scanned files in the page cache,
//! so a scan of gigabytes of old logs does not push mailboxd's working set out of memory.

use std::fs::File;
use std::io::{self, Read};

/// Drop scanned pages from the cache after about this many bytes.
const DROP_EVERY: u64 = 8 << 20;

/// Lowers the CPU and I/O priority of the calling thread and of every thread it starts later.
/// Returns what could not be done (the scan goes on regardless).
pub fn lower() -> Vec<String> {
    let mut problems = Vec::new();
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread with valid arguments.
        let param = libc::sched_param { sched_priority: 0 };
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } != 0 {
            problems.push(format!("idle CPU priority: {}", io::Error::last_os_error()));
            if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) } != 0 {
                problems.push(format!("nice 19: {}", io::Error::last_os_error()));
            }
        }
        const IOPRIO_WHO_PROCESS: libc::c_long = 1;
        const IOPRIO_CLASS_IDLE: libc::c_long = 3;
        const IOPRIO_CLASS_SHIFT: libc::c_long = 13;
        let ioprio = IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT;
        // SAFETY: ioprio_set takes (which, who, ioprio) integers; 0 is the calling thread.
        if unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, ioprio) } != 0 {
            problems.push(format!("idle I/O priority: {}", io::Error::last_os_error()));
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        // SAFETY: setpriority on the calling process with valid arguments.
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) } != 0 {
            problems.push(format!("nice 19: {}", io::Error::last_os_error()));
        }
    }
    problems
}

/// A file reader that, every few MB, asks the kernel to drop the pages it has read from the
/// page cache (they will not be read again), and reads ahead sequentially.
pub struct CacheFriendly {
    file: File,
    /// File offset of the next byte read.
    pos: u64,
    dropped_to: u64,
}

impl CacheFriendly {
    /// `pos` is the file's current offset.
    pub fn new(file: File, pos: u64) -> CacheFriendly {
        advise(&file, pos, 0, Advice::Sequential);
        CacheFriendly {
            file,
            pos,
            dropped_to: pos,
        }
    }
}

impl Read for CacheFriendly {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.pos += n as u64;
        if n == 0 || self.pos - self.dropped_to >= DROP_EVERY {
            advise(
                &self.file,
                self.dropped_to,
                self.pos - self.dropped_to,
                Advice::DontNeed,
            );
            self.dropped_to = self.pos;
        }
        Ok(n)
    }
}

enum Advice {
    Sequential,
    DontNeed,
}

#[cfg(target_os = "linux")]
fn advise(file: &File, offset: u64, len: u64, advice: Advice) {
    use std::os::fd::AsRawFd;
    let advice = match advice {
        Advice::Sequential => libc::POSIX_FADV_SEQUENTIAL,
        Advice::DontNeed => libc::POSIX_FADV_DONTNEED,
    };
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: the descriptor is open for as long as `file` lives; advice is only a hint.
    unsafe {
        libc::posix_fadvise(file.as_raw_fd(), offset, len, advice);
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_: &File, _: u64, _: u64, _: Advice) {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn cache_friendly_reads_every_byte() {
        let mut f = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..3 * DROP_EVERY as usize)
            .map(|i| (i % 251) as u8)
            .collect();
        f.write_all(&data).unwrap();
        use std::io::{Seek, SeekFrom};
        f.seek(SeekFrom::Start(0)).unwrap();
        let mut got = Vec::new();
        CacheFriendly::new(f, 0).read_to_end(&mut got).unwrap();
        assert_eq!(got, data);
    }
}
