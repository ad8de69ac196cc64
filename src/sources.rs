//! Sources: the files, directories, gzip rotations and stdin a scan reads. Expands directories
//! (recursively, in name order), opens each input (decompressing gzip by its magic bytes,
//! multi-member included), detects its kind and host, and skips binary files.

use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use jiff::Timestamp;

use crate::error::Error;
use crate::kind::LogKind;

/// How many leading bytes are looked at to sniff the kind and spot binary files.
const HEAD: usize = 8192;

/// An input named on the command line or found in a directory.
#[derive(Clone, Debug)]
pub struct Input {
    /// `None` for stdin.
    pub path: Option<PathBuf>,
    /// Found by walking a directory (non-log files are skipped there, not reported).
    pub from_walk: bool,
}

impl Input {
    pub fn display(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| "<stdin>".to_string(), |p| p.display().to_string())
    }
}

/// Expands the command-line paths: `-` is stdin, directories are walked.
pub fn expand(paths: &[String], errors: &mut Vec<Error>) -> Vec<Input> {
    let mut out = Vec::new();
    for p in paths {
        if p == "-" {
            out.push(Input {
                path: None,
                from_walk: false,
            });
            continue;
        }
        let path = PathBuf::from(p);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk(&path, &mut out, errors),
            Ok(_) => out.push(Input {
                path: Some(path),
                from_walk: false,
            }),
            Err(e) => errors.push(Error::Io {
                path: p.clone(),
                source: e,
            }),
        }
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<Input>, errors: &mut Vec<Error>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(Error::Io {
                path: dir.display().to_string(),
                source: e,
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.') && n != ".install_history");
        if hidden {
            continue;
        }
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => walk(&path, out, errors),
            Ok(m) if m.is_file() => out.push(Input {
                path: Some(path),
                from_walk: true,
            }),
            Ok(_) => {}
            Err(e) => errors.push(Error::Io {
                path: path.display().to_string(),
                source: e,
            }),
        }
    }
}

/// The text of every file under `dir` (recursively, or `dir` itself when it is a file) whose
/// extension is one of `exts`, in path order, with an error for each file or folder that could
/// not be read. Used for rule and KB directories.
pub fn read_tree(dir: &Path, exts: &[&str]) -> (Vec<(String, String)>, Vec<Error>) {
    fn walk(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) -> io::Result<()> {
        if dir.is_file() {
            out.push(dir.to_path_buf());
            return Ok(());
        }
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(&path, exts, out)?;
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.contains(&e))
            {
                out.push(path);
            }
        }
        Ok(())
    }
    let (mut files, mut texts, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    if let Err(e) = walk(dir, exts, &mut files) {
        errors.push(Error::Io {
            path: dir.display().to_string(),
            source: e,
        });
    }
    files.sort();
    for f in files {
        let name = f.display().to_string();
        match std::fs::read_to_string(&f) {
            Ok(text) => texts.push((name, text)),
            Err(e) => errors.push(Error::Io {
                path: name,
                source: e,
            }),
        }
    }
    (texts, errors)
}

/// An opened input, ready to frame.
pub struct Opened {
    pub name: String,
    pub kind: LogKind,
    pub host: Option<String>,
    pub mtime: Option<Timestamp>,
    /// The size of an uncompressed regular file (one that can be read from any offset).
    pub plain_size: Option<u64>,
    /// The zone its time stamps were written in, when the file says (relayed lines do).
    pub tz: Option<jiff::tz::TimeZone>,
    pub reader: Box<dyn Read + Send>,
}

/// Why an input was not scanned.
pub enum Skip {
    /// Not an error: a binary file.
    Quiet(String),
    /// Not an error, and not worth a word unless asked (-v): a non-log file found while walking.
    Silent(String),
    Error(Error),
}

/// Opens an input; `kind` overrides detection.
pub fn open(input: &Input, kind: Option<LogKind>, gentle: bool) -> Result<Opened, Skip> {
    let name = input.display();
    let io_err = |e: io::Error| {
        Skip::Error(Error::Io {
            path: name.clone(),
            source: e,
        })
    };
    let (raw, mtime, mut plain_size): (Box<dyn Read + Send>, _, _) = match &input.path {
        None => (Box::new(io::stdin()), None, None),
        Some(p) => {
            let f = File::open(p).map_err(io_err)?;
            let meta = f.metadata().ok();
            let mtime = meta
                .as_ref()
                .and_then(|m| m.modified().ok())
                .and_then(|t| Timestamp::try_from(t).ok());
            let size = meta.filter(|m| m.is_file()).map(|m| m.len());
            let reader: Box<dyn Read + Send> = if gentle {
                Box::new(crate::priority::CacheFriendly::new(f, 0))
            } else {
                Box::new(f)
            };
            (reader, mtime, size)
        }
    };
    let (magic, raw) = peek(raw, 2).map_err(io_err)?;
    let mut reader: Box<dyn Read + Send> = if magic.starts_with(&[0x1f, 0x8b]) {
        plain_size = None;
        Box::new(OnItsOwnThread::new(MultiGzDecoder::new(raw)))
    } else {
        raw
    };
    let (head, rest) = peek(reader, HEAD).map_err(|e| {
        Skip::Error(Error::Io {
            path: name.clone(),
            source: io::Error::new(e.kind(), format!("cannot read: {e}")),
        })
    })?;
    reader = rest;
    if memchr::memchr(0, &head).is_some() {
        return Err(Skip::Quiet(format!("{name}: binary file, skipped")));
    }
    let by_name = input.path.as_deref().and_then(LogKind::from_path);
    let forced = kind;
    let kind = match (kind, by_name) {
        (Some(k), _) | (None, Some(k)) => k,
        (None, None) => {
            let sniffed = LogKind::sniff(&head);
            if input.from_walk && sniffed == LogKind::Generic {
                return Err(Skip::Silent(format!(
                    "{name}: not a known log file, skipped"
                )));
            }
            sniffed
        }
    };
    let mut host = input.path.as_deref().and_then(host_from_path);
    // A receiver's file of relayed records (log4j, nginx, ...): read as the original log (not
    // cut into segments: its offsets are those of the decoded stream).
    let relayed = forced
        .is_none()
        .then(|| crate::relay::relayed_kind(&head))
        .flatten();
    let mut tz = None;
    let kind = match relayed {
        Some(inner) => {
            tz = crate::relay::header_zone(&head);
            if host.is_none() {
                host = head
                    .split(|&b| b == b'\n')
                    .find_map(crate::relay::split_header)
                    .map(|r| String::from_utf8_lossy(r.host).into_owned());
            }
            reader = Box::new(crate::relay::Unwrap::new(reader));
            plain_size = None;
            inner
        }
        None => kind,
    };
    Ok(Opened {
        name,
        kind,
        host,
        mtime,
        plain_size,
        tz,
        reader,
    })
}

/// Reads up to `n` bytes and gives back a reader that still yields them.
fn peek(mut r: Box<dyn Read + Send>, n: usize) -> io::Result<(Vec<u8>, Box<dyn Read + Send>)> {
    let mut head = Vec::with_capacity(n);
    let mut chunk = [0u8; 4096];
    while head.len() < n {
        let want = (n - head.len()).min(chunk.len());
        match r.read(&mut chunk[..want]) {
            Ok(0) => break,
            Ok(k) => head.extend_from_slice(&chunk[..k]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if head.is_empty() => return Err(e),
            Err(e) => {
                // Keep what was read; the error shows again on the next read.
                let rest: Box<dyn Read + Send> =
                    Box::new(Cursor::new(head.clone()).chain(FailingReader(Some(e))));
                return Ok((head, rest));
            }
        }
    }
    let rest: Box<dyn Read + Send> = Box::new(Cursor::new(head.clone()).chain(r));
    Ok((head, rest))
}

/// Runs a reader (the gzip decoder) on a thread of its own, so decompression and scanning
/// use two cores; chunks come over a short bounded channel. Dropping it stops the thread.
struct OnItsOwnThread {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    at: usize,
}

impl OnItsOwnThread {
    const CHUNK: usize = 256 * 1024;

    fn new(mut inner: impl Read + Send + 'static) -> OnItsOwnThread {
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        std::thread::spawn(move || loop {
            let mut buf = vec![0; Self::CHUNK];
            let msg = match inner.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    Ok(buf)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            let stop = msg.is_err();
            if tx.send(msg).is_err() || stop {
                break;
            }
        });
        OnItsOwnThread {
            rx,
            chunk: Vec::new(),
            at: 0,
        }
    }
}

impl Read for OnItsOwnThread {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

struct FailingReader(Option<io::Error>);

impl Read for FailingReader {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        match self.0.take() {
            Some(e) => Err(e),
            None => Ok(0),
        }
    }
}

/// The host a file belongs to when its lines do not say: the folder it sits in when that
/// folder is named like a host (as a log receiver or a copied log set lays them out), else the
/// local host for the standard Zimbra locations.
pub fn host_from_path(path: &Path) -> Option<String> {
    const GENERIC: [&str; 14] = [
        "log", "logs", "zimbra", "tmp", "var", "opt", "data", "db", "conf", "home", "root", ".",
        "..", "archive",
    ];
    let parent = path.parent()?.file_name()?.to_str()?;
    let hostlike = !parent.is_empty()
        && !GENERIC.contains(&parent)
        && parent.len() <= 253
        && parent
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
        && parent
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && parent.chars().any(|c| c.is_ascii_digit() || c == '.');
    if hostlike {
        return Some(parent.to_string());
    }
    let abs = path.to_str()?;
    if abs.starts_with("/opt/zimbra/") || abs.starts_with("/var/log/") || abs.starts_with("/tmp/") {
        return local_hostname();
    }
    None
}

pub fn local_hostname() -> Option<String> {
    let h = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let h = h.trim();
    (!h.is_empty()).then(|| h.split('.').next().unwrap_or(h).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_from_folders() {
        assert_eq!(
            host_from_path(Path::new("examples/upgrade-night/mbx2/mailbox.log")).as_deref(),
            Some("mbx2")
        );
        assert_eq!(host_from_path(Path::new("logs/mailbox.log")), None);
        assert_eq!(host_from_path(Path::new("samples/mailbox.log")), None);
        assert_eq!(
            host_from_path(Path::new("remote/mta1.example.com/zimbra.log")).as_deref(),
            Some("mta1.example.com")
        );
    }
}
