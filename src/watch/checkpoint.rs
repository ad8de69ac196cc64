//! Checkpoints of followed files, kept in the data dir (`watch/checkpoints.json`): for each file,
//! its identity (device, inode, a fingerprint of its first bytes, a truncation generation) and
//! the offset up to which its events have been handled. Written to a temporary file and renamed
//! into place, so a crash (even `kill -9`) leaves the previous or the new version, never a torn
//! one.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How many leading bytes identify a file's content.
pub const FINGERPRINT_BYTES: usize = 1024;

/// A hash of a file's first bytes (up to [`FINGERPRINT_BYTES`]; fewer while the file is young).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub len: u32,
    pub hash: u64,
}

impl Fingerprint {
    pub fn of(head: &[u8]) -> Fingerprint {
        let head = &head[..head.len().min(FINGERPRINT_BYTES)];
        // FNV-1a: a few lines, and enough to tell two logs apart by their first line.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in head {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        Fingerprint {
            len: head.len() as u32,
            hash,
        }
    }

    /// The fingerprint of an open file's first bytes.
    pub fn of_file(file: &fs::File) -> io::Result<Fingerprint> {
        let mut head = vec![0; FINGERPRINT_BYTES];
        let n = read_full_at(file, &mut head, 0)?;
        Ok(Fingerprint::of(&head[..n]))
    }

    /// The first bytes of a stream (a decompressed `.gz`, say).
    pub fn of_reader(reader: impl Read) -> io::Result<Fingerprint> {
        let mut head = Vec::with_capacity(FINGERPRINT_BYTES);
        reader
            .take(FINGERPRINT_BYTES as u64)
            .read_to_end(&mut head)?;
        Ok(Fingerprint::of(&head))
    }

    /// True when `file` starts with the bytes this fingerprint was taken of.
    pub fn matches_file(&self, file: &fs::File) -> bool {
        if self.len == 0 {
            return true;
        }
        let mut head = vec![0; self.len as usize];
        matches!(read_full_at(file, &mut head, 0), Ok(n) if n == head.len())
            && Fingerprint::of(&head) == *self
    }
}

/// Reads until `buf` is full or the file ends.
pub fn read_full_at(file: &fs::File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], offset + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Where one followed file was left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The path it was followed under (a rotated file keeps its original name here).
    pub path: String,
    pub dev: u64,
    pub ino: u64,
    /// Times it was seen truncated in place (copytruncate).
    pub generation: u32,
    pub fingerprint: Fingerprint,
    /// Events before this offset have been handled.
    pub offset: u64,
    /// Lines before `offset`.
    pub line: u64,
}

#[derive(Default, Serialize, Deserialize)]
struct OnDisk {
    version: u32,
    files: Vec<Checkpoint>,
}

/// The checkpoint file of a data dir.
pub struct Store {
    path: Option<PathBuf>,
}

impl Store {
    /// Checkpoints under `data_dir`, or none kept at all when there is no data dir.
    pub fn new(data_dir: Option<&Path>) -> Store {
        Store {
            path: data_dir.map(|d| d.join("watch").join("checkpoints.json")),
        }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The saved checkpoints; none when the file is missing. A damaged file is an error (the
    /// caller says so and starts afresh).
    pub fn load(&self) -> Result<Vec<Checkpoint>, String> {
        let Some(path) = &self.path else {
            return Ok(Vec::new());
        };
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        serde_json::from_str::<OnDisk>(&text)
            .map(|d| d.files)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Replaces the saved checkpoints.
    pub fn save(&self, files: &[Checkpoint]) -> io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let dir = path.parent().expect("a file in a directory");
        fs::create_dir_all(dir)?;
        let tmp = dir.join("checkpoints.json.tmp");
        let body = serde_json::to_vec(&OnDisk {
            version: 1,
            files: files.to_vec(),
        })
        .map_err(io::Error::other)?;
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&body)?;
        drop(f);
        fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_checkpoints_load_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(Some(dir.path()));
        assert_eq!(store.load().unwrap(), Vec::new());
        let c = Checkpoint {
            path: "/opt/zimbra/log/mailbox.log".into(),
            dev: 1,
            ino: 2,
            generation: 3,
            fingerprint: Fingerprint::of(b"2026-03-01 02:14:07,511 WARN"),
            offset: 4096,
            line: 40,
        };
        store.save(std::slice::from_ref(&c)).unwrap();
        assert_eq!(store.load().unwrap(), vec![c]);
        fs::write(store.path().unwrap(), "{not json").unwrap();
        assert!(store.load().unwrap_err().contains("checkpoints.json"));
    }

    #[test]
    fn fingerprints_tell_files_apart_by_their_first_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        fs::write(&p, b"first line\nsecond line\n").unwrap();
        let f = fs::File::open(&p).unwrap();
        let fp = Fingerprint::of_file(&f).unwrap();
        assert_eq!(fp.len, 23);
        assert!(fp.matches_file(&f));
        assert!(Fingerprint::of(b"first").matches_file(&f));
        assert!(!Fingerprint::of(b"other").matches_file(&f));
        assert_eq!(
            Fingerprint::of_reader(&b"first line\nsecond line\n"[..]).unwrap(),
            fp
        );
    }
}
