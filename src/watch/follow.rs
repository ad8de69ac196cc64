//! The follower: which files to read and from where. Each round it looks at the target paths
//! (literal paths or globs), notices files that appear, rotations by rename+create (the old file
//! is drained through its open descriptor, late writes included, until it has been quiet for a
//! while), copytruncate (the file shrinks or its first bytes change: read again from 0, one
//! truncation generation up), deletion and recreation; then reads what was appended to every
//! file it holds and hands the bytes to each file's [`Assembler`].
//!
//! A file is known by device and inode *and* a fingerprint of its first bytes, so a reused inode
//! is not taken for the old file. On the first round saved [`Checkpoint`]s are matched to the
//! files: a file still in place resumes at its offset; one that was rotated while zkb was
//! stopped is looked for among its siblings (`mailbox.log.1`, `zimbra.log.2026-03-01.gz`…, a
//! compressed one by the fingerprint of its decompressed start) and read from its offset to
//! its end.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::assemble::{Assembled, Assembler};
use super::checkpoint::{read_full_at, Checkpoint, Fingerprint, FINGERPRINT_BYTES};
use crate::kind::LogKind;

/// Most bytes read from one file in one round, so one busy file cannot hold up the others.
const ROUND_BYTES: usize = 4 << 20;
const READ_CHUNK: usize = 256 << 10;

/// How the follower behaves.
#[derive(Clone, Debug)]
pub struct FollowOptions {
    /// Read files that have no checkpoint from their start (else from their end). Files that
    /// appear while watching are always read from their start.
    pub from_start: bool,
    /// An open event is handed out once its file has been quiet this long.
    pub flush_after: Duration,
    /// A rotated or deleted file is let go once it has been quiet this long.
    pub retire_after: Duration,
    /// Forces the kind of every file (else from its name, else from its first lines).
    pub kind: Option<LogKind>,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            from_start: false,
            flush_after: Duration::from_millis(50),
            retire_after: Duration::from_secs(5),
            kind: None,
        }
    }
}

/// Which stream an event came from.
#[derive(Clone, Debug)]
pub struct Stream {
    /// Stable for the stream's life (keys per-stream state such as thresholds).
    pub id: u64,
    pub name: Arc<str>,
    pub kind: LogKind,
    pub host: Option<String>,
    /// What its content is known by in the incident store ([`source_identity`]).
    pub source: Arc<str>,
    /// Lines relayed by rsyslog, unwrapped into the `kind` they were written in
    /// ([`crate::relay`]).
    pub relayed: bool,
    /// The sender's zone of a relayed file (its lines' log4j times carry none).
    pub tz: Option<jiff::tz::TimeZone>,
}

/// What one round gave.
#[derive(Default)]
pub struct Round {
    pub events: Vec<(Stream, Assembled)>,
    /// What happened to the files (opened, rotated, truncated, let go…).
    pub notes: Vec<String>,
    /// Files that could not be read (each reported once until it changes).
    pub errors: Vec<String>,
    /// Streams that ended this round.
    pub closed: Vec<u64>,
    /// A file had more to read than one round takes: the next round is due now.
    pub more: bool,
    /// A young file grew to a full fingerprint: what was recorded under its first identity
    /// (old, new) is now known by its content.
    pub rekeys: Vec<(Arc<str>, Arc<str>)>,
}

/// One file being read.
struct Tracked {
    stream: Stream,
    /// The target path it was opened under (its checkpoint's path, after a rename too).
    origin: PathBuf,
    file: File,
    dev: u64,
    ino: u64,
    generation: u32,
    fingerprint: Fingerprint,
    read_offset: u64,
    asm: Assembler,
    /// Rotated away or deleted at this time: drained, then let go.
    retiring_since: Option<Instant>,
    last_data: Instant,
}

impl Tracked {
    fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            path: self.origin.display().to_string(),
            dev: self.dev,
            ino: self.ino,
            generation: self.generation,
            fingerprint: self.fingerprint,
            offset: self.asm.resume_offset(),
            line: self.asm.resume_line(),
        }
    }

    /// Brings the stream's identity up to date with the fingerprint and generation.
    fn refresh_source(&mut self, rekeys: &mut Vec<(Arc<str>, Arc<str>)>) {
        let now = source_identity(self.fingerprint, self.dev, self.ino, self.generation);
        if *now == *self.stream.source {
            return;
        }
        let now: Arc<str> = Arc::from(now);
        if self.stream.source.starts_with("ino:") && now.starts_with("fp:") {
            rekeys.push((self.stream.source.clone(), now.clone()));
        }
        self.stream.source = now;
    }
}

/// What a file's content is known by in the incident store: the fingerprint of its first KiB
/// (`fp:…`, the same for a rotation and its `.gz`), or, while it is shorter, its device, inode
/// and truncation generation (`ino:…`).
pub fn source_identity(fp: Fingerprint, dev: u64, ino: u64, generation: u32) -> String {
    if fp.len as usize >= FINGERPRINT_BYTES {
        format!("fp:{:016x}", fp.hash)
    } else {
        format!("ino:{dev}:{ino}:{generation}")
    }
}

/// Follows a set of paths and globs.
pub struct Follower {
    targets: Vec<String>,
    opts: FollowOptions,
    files: Vec<Tracked>,
    /// Checkpoints from the last run, matched to files on the first round.
    saved: Option<Vec<Checkpoint>>,
    /// Files there when the follower was made; only these start at their end (the others
    /// appeared later, even if before the first round).
    present_at_start: HashSet<PathBuf>,
    /// Paths whose open failed, with the message, so each failure is reported once.
    failing: HashSet<(PathBuf, String)>,
    next_id: u64,
    buf: Vec<u8>,
    changed: bool,
}

impl Follower {
    pub fn new(targets: Vec<String>, opts: FollowOptions, saved: Vec<Checkpoint>) -> Follower {
        let present_at_start = targets
            .iter()
            .flat_map(|t| expand(t))
            .filter(|p| p.is_file())
            .collect();
        Follower {
            present_at_start,
            targets,
            opts,
            files: Vec::new(),
            saved: Some(saved),
            failing: HashSet::new(),
            next_id: 1,
            buf: vec![0; READ_CHUNK],
            changed: true,
        }
    }

    /// The directories whose changes can matter (for the notify watches; a directory that
    /// appears later under a glob is found by the periodic look-around).
    pub fn directories(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self
            .targets
            .iter()
            .filter_map(|t| Path::new(t).parent().map(Path::to_path_buf))
            .map(|d| {
                if d.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    d
                }
            })
            .flat_map(|d| match d.to_str() {
                // `/srv/rsyslog/*/zimbra.log`: the host directories there now.
                Some(pattern) if pattern.contains(['*', '?', '[']) => glob::glob(pattern)
                    .map(|paths| paths.flatten().filter(|p| p.is_dir()).collect())
                    .unwrap_or_default(),
                _ => vec![d],
            })
            .collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }

    /// File-name prefixes of the targets (a glob up to its first wildcard), to tell the
    /// changes that matter from the others in a shared directory.
    pub fn name_prefixes(&self) -> Vec<String> {
        self.targets
            .iter()
            .filter_map(|t| Path::new(t).file_name()?.to_str().map(str::to_string))
            .map(|n| n.split(['*', '?', '[']).next().unwrap_or("").to_string())
            .collect()
    }

    /// The targets that match no file now.
    pub fn absent(&self) -> Vec<String> {
        self.targets
            .iter()
            .filter(|t| !expand(t).iter().any(|p| p.exists()))
            .cloned()
            .collect()
    }

    /// The files being read now.
    pub fn following(&self) -> Vec<String> {
        self.files
            .iter()
            .map(|t| t.stream.name.to_string())
            .collect()
    }

    /// Whether the checkpoints moved since [`Follower::checkpoints`] was last called.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// Where every file stands.
    pub fn checkpoints(&mut self) -> Vec<Checkpoint> {
        self.changed = false;
        self.files.iter().map(Tracked::checkpoint).collect()
    }

    /// When the next round is due without any change: the earliest flush or let-go time.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.files
            .iter()
            .filter_map(|t| {
                let flush = t
                    .asm
                    .has_open_event()
                    .then(|| t.last_data + self.opts.flush_after);
                let retire = t
                    .retiring_since
                    .map(|r| r.max(t.last_data) + self.opts.retire_after);
                match (flush, retire) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            })
            .min()
    }

    /// One round: discover, read, flush quiet files, let go of drained rotated ones.
    pub fn round(&mut self, now: Instant) -> Round {
        let mut round = Round::default();
        self.discover(now, &mut round);
        for t in &mut self.files {
            match read_new(t, &mut self.buf, now, &mut round) {
                Appended::Nothing => {}
                Appended::Some => self.changed = true,
                Appended::More => {
                    self.changed = true;
                    round.more = true;
                }
            }
        }
        for t in &mut self.files {
            if t.asm.has_open_event() && now >= t.last_data + self.opts.flush_after {
                flush(t, &mut round.events);
                self.changed = true;
            }
        }
        let retire_after = self.opts.retire_after;
        let mut kept = Vec::with_capacity(self.files.len());
        for mut t in self.files.drain(..) {
            match t.retiring_since {
                Some(since) if now >= since.max(t.last_data) + retire_after => {
                    flush(&mut t, &mut round.events);
                    round
                        .notes
                        .push(format!("{}: rotated file read to its end", t.stream.name));
                    round.closed.push(t.stream.id);
                    self.changed = true;
                }
                _ => kept.push(t),
            }
        }
        self.files = kept;
        round
    }

    /// Hands out every open event (before zkb stops).
    pub fn flush_all(&mut self) -> Vec<(Stream, Assembled)> {
        let mut out = Vec::new();
        for t in &mut self.files {
            flush(t, &mut out);
        }
        self.changed = true;
        out
    }

    fn discover(&mut self, now: Instant, round: &mut Round) {
        let first = self.saved.is_some();
        let mut present: HashSet<PathBuf> = HashSet::new();
        let paths: Vec<PathBuf> = self.targets.iter().flat_map(|t| expand(t)).collect();
        for path in paths {
            if present.contains(&path) {
                continue;
            }
            let meta = match fs::metadata(&path) {
                Ok(m) if m.is_file() => {
                    present.insert(path.clone());
                    m
                }
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    self.report_failure(&path, &e, round);
                    continue;
                }
            };
            let (dev, ino) = (meta.dev(), meta.ino());
            let live = self
                .files
                .iter_mut()
                .find(|t| t.retiring_since.is_none() && t.origin == path);
            match live {
                Some(t) if (t.dev, t.ino) == (dev, ino) => {
                    if check_truncation(t, meta.len(), round) {
                        self.changed = true;
                    }
                    continue;
                }
                Some(t) => {
                    t.retiring_since = Some(now);
                    round.notes.push(format!(
                        "{}: rotated (a new file took its name); reading the old one to its end",
                        t.stream.name
                    ));
                }
                None => {}
            }
            if self.adopt_renamed(&path, dev, ino, round) {
                continue;
            }
            let start = if first {
                self.resolve_saved(&path, dev, ino, now, round)
            } else {
                Start::Beginning
            };
            self.open(&path, start, now, round);
        }
        if first {
            self.resolve_vanished(&present, now, round);
        }
        for t in &mut self.files {
            if t.retiring_since.is_none() && !present.contains(&t.origin) {
                t.retiring_since = Some(now);
                round.notes.push(format!(
                    "{}: moved away or deleted; reading it to its end",
                    t.stream.name
                ));
            }
        }
        if let Some(saved) = self.saved.take() {
            self.changed |= !saved.is_empty();
        }
    }

    /// Checkpoints of paths that have no file now (rotated away while zkb was stopped, and no
    /// new file yet): their files are looked for among the siblings.
    fn resolve_vanished(&mut self, present: &HashSet<PathBuf>, now: Instant, round: &mut Round) {
        let vanished: Vec<Checkpoint> = self
            .saved
            .as_ref()
            .map(|s| {
                s.iter()
                    .filter(|c| !present.contains(Path::new(&c.path)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for c in vanished {
            let path = PathBuf::from(&c.path);
            self.read_rotated_sibling(&path, &c, now, round);
        }
    }

    /// A file renamed onto another target path (a glob that also matches `mailbox.log.1`) is
    /// the file already being read, not a new one.
    fn adopt_renamed(&mut self, path: &Path, dev: u64, ino: u64, round: &mut Round) -> bool {
        let Ok(now_there) = File::open(path) else {
            return false;
        };
        let Some(t) = self.files.iter_mut().find(|t| {
            (t.dev, t.ino) == (dev, ino)
                && t.origin != path
                && t.fingerprint.matches_file(&now_there)
        }) else {
            return false;
        };
        round
            .notes
            .push(format!("{}: now named {}", t.stream.name, path.display()));
        t.origin = path.to_path_buf();
        t.retiring_since = None;
        self.changed = true;
        true
    }

    /// Where to start a file met on the first round, from the saved checkpoints; reads the
    /// files those checkpoints name that were rotated away while zkb was stopped.
    fn resolve_saved(
        &mut self,
        path: &Path,
        dev: u64,
        ino: u64,
        now: Instant,
        round: &mut Round,
    ) -> Start {
        let name = path.display().to_string();
        let saved: Vec<Checkpoint> = self
            .saved
            .as_ref()
            .map(|s| s.iter().filter(|c| c.path == name).cloned().collect())
            .unwrap_or_default();
        if saved.is_empty() {
            return if self.opts.from_start || !self.present_at_start.contains(path) {
                Start::Beginning
            } else {
                Start::End
            };
        }
        let mut start = Start::Beginning;
        for c in saved {
            let same = (c.dev, c.ino) == (dev, ino)
                && File::open(path).is_ok_and(|f| c.fingerprint.matches_file(&f));
            if same {
                start = Start::At(c);
            } else {
                self.read_rotated_sibling(path, &c, now, round);
            }
        }
        start
    }

    /// Finds the file a checkpoint names among `path`'s siblings and reads it from the
    /// checkpoint's offset: a plain one is followed until quiet, a `.gz` is read once.
    fn read_rotated_sibling(
        &mut self,
        path: &Path,
        c: &Checkpoint,
        now: Instant,
        round: &mut Round,
    ) {
        let Some(dir) = path.parent() else { return };
        let Some(base) = path.file_name().and_then(|n| n.to_str()) else {
            return;
        };
        let Ok(entries) = fs::read_dir(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        }) else {
            return;
        };
        let mut siblings: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(base) && n != base)
            })
            .collect();
        siblings.sort();
        for sib in siblings {
            let Ok(meta) = fs::metadata(&sib) else {
                continue;
            };
            let gz = sib.extension().is_some_and(|e| e == "gz");
            if !gz && (meta.dev(), meta.ino()) == (c.dev, c.ino) {
                let Ok(f) = File::open(&sib) else { continue };
                if c.fingerprint.matches_file(&f) {
                    round.notes.push(format!(
                        "{}: rotated to {} while zkb was stopped; reading it from where it was left",
                        c.path,
                        sib.display()
                    ));
                    self.open(&sib, Start::At(c.clone()), now, round);
                    if let Some(t) = self.files.last_mut() {
                        t.origin = PathBuf::from(&c.path);
                        t.retiring_since = Some(now);
                    }
                    return;
                }
            }
            if gz && gz_fingerprint_matches(&sib, c.fingerprint) {
                round.notes.push(format!(
                    "{}: rotated and compressed to {} while zkb was stopped; reading it from where it was left",
                    c.path,
                    sib.display()
                ));
                self.read_gz_from(&sib, c, round);
                return;
            }
        }
        round.notes.push(format!(
            "{}: the file read before zkb stopped is gone (not found among its rotations)",
            c.path
        ));
    }

    /// Reads a compressed rotation from a checkpoint's offset to its end, in one go.
    fn read_gz_from(&mut self, path: &Path, c: &Checkpoint, round: &mut Round) {
        let mut stream = self.stream_for(path, &[]);
        stream.source = Arc::from(source_identity(c.fingerprint, c.dev, c.ino, c.generation));
        let result = (|| -> io::Result<Vec<Assembled>> {
            let mut dec = flate2::read::MultiGzDecoder::new(File::open(path)?);
            io::copy(&mut (&mut dec).take(c.offset), &mut io::sink())?;
            let mut asm = Assembler::new(stream.kind, c.offset, c.line).relayed(stream.relayed);
            let mut out = Vec::new();
            let mut buf = vec![0; READ_CHUNK];
            loop {
                let n = dec.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                asm.feed(&buf[..n], &mut out);
            }
            asm.flush(&mut out);
            Ok(out)
        })();
        match result {
            Ok(events) => round
                .events
                .extend(events.into_iter().map(|e| (stream.clone(), e))),
            Err(e) => round.errors.push(format!("{}: {e}", path.display())),
        }
        round.closed.push(stream.id);
    }

    fn open(&mut self, path: &Path, start: Start, now: Instant, round: &mut Round) {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                self.report_failure(path, &e, round);
                return;
            }
        };
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(e) => {
                self.report_failure(path, &e, round);
                return;
            }
        };
        self.failing.retain(|(p, _)| p != path);
        let mut head = vec![0; FINGERPRINT_BYTES];
        let n = read_full_at(&file, &mut head, 0).unwrap_or(0);
        head.truncate(n);
        let stream = self.stream_for(path, &head);
        let kind = stream.kind;
        let relayed = stream.relayed;
        let len = meta.len();
        let (offset, line, generation, how) = match start {
            Start::Beginning => (0, 0, 0, "from its start"),
            Start::End => (len, count_lines(&file, len), 0, "from its end"),
            Start::At(c) if c.offset <= len => {
                (c.offset, c.line, c.generation, "from its checkpoint")
            }
            Start::At(c) => (
                0,
                0,
                c.generation + 1,
                "from 0 (truncated while zkb was stopped)",
            ),
        };
        round
            .notes
            .push(format!("{}: following {how}", stream.name));
        let mut stream = stream;
        stream.source = Arc::from(source_identity(
            Fingerprint::of(&head),
            meta.dev(),
            meta.ino(),
            generation,
        ));
        self.files.push(Tracked {
            stream,
            origin: path.to_path_buf(),
            fingerprint: Fingerprint::of(&head),
            dev: meta.dev(),
            ino: meta.ino(),
            generation,
            read_offset: offset,
            asm: Assembler::new(kind, offset, line).relayed(relayed),
            retiring_since: None,
            last_data: now,
            file,
        });
        self.changed = true;
    }

    /// The kind of a file, and whether its lines are relayed ones to unwrap.
    fn kind_of(&self, path: &Path, head: &[u8]) -> (LogKind, bool) {
        if self.opts.kind.is_none() {
            if let Some(inner) = crate::relay::relayed_kind(head) {
                return (inner, true);
            }
        }
        let kind = self
            .opts
            .kind
            .or_else(|| LogKind::from_path(path))
            .unwrap_or_else(|| {
                if head.is_empty() {
                    LogKind::Generic
                } else {
                    LogKind::sniff(head)
                }
            });
        (kind, false)
    }

    fn stream_for(&mut self, path: &Path, head: &[u8]) -> Stream {
        let id = self.next_id;
        self.next_id += 1;
        let (kind, relayed) = self.kind_of(path, head);
        Stream {
            id,
            name: Arc::from(path.display().to_string()),
            kind,
            host: crate::sources::host_from_path(path),
            source: Arc::from(""),
            relayed,
            tz: relayed.then(|| crate::relay::header_zone(head)).flatten(),
        }
    }

    fn report_failure(&mut self, path: &Path, e: &io::Error, round: &mut Round) {
        let key = (path.to_path_buf(), e.kind().to_string());
        if self.failing.insert(key) {
            round.errors.push(format!(
                "cannot read {}: {e} (zkb keeps trying)",
                path.display()
            ));
        }
    }
}

enum Start {
    Beginning,
    End,
    At(Checkpoint),
}

/// The files a target names now: itself, or what its glob matches (compressed files left out:
/// they are finished rotations, not logs being written).
pub fn expand(target: &str) -> Vec<PathBuf> {
    if !target.contains(['*', '?', '[']) {
        return vec![PathBuf::from(target)];
    }
    let Ok(paths) = glob::glob(target) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = paths
        .flatten()
        .filter(|p| p.extension().is_none_or(|e| e != "gz"))
        .collect();
    out.sort();
    out
}

/// True when the file was truncated in place (it is shorter than what was read, or its first
/// bytes changed); the file is then read again from 0.
fn check_truncation(t: &mut Tracked, len: u64, round: &mut Round) -> bool {
    let shrank = len < t.read_offset;
    if !shrank && t.fingerprint.matches_file(&t.file) {
        return false;
    }
    let mut events = Vec::new();
    t.asm.flush(&mut events);
    round
        .events
        .extend(events.into_iter().map(|e| (t.stream.clone(), e)));
    t.generation += 1;
    t.read_offset = 0;
    t.asm = Assembler::new(t.stream.kind, 0, 0).relayed(t.stream.relayed);
    t.fingerprint = Fingerprint::default();
    t.refresh_source(&mut round.rekeys);
    round.notes.push(format!(
        "{}: truncated in place (copytruncate); reading it again from the start",
        t.stream.name
    ));
    true
}

enum Appended {
    Nothing,
    Some,
    /// Stopped at the round's limit with more to read.
    More,
}

/// Reads what was appended since the last round.
fn read_new(t: &mut Tracked, buf: &mut [u8], now: Instant, round: &mut Round) -> Appended {
    let mut total = 0;
    let mut events = Vec::new();
    while total < ROUND_BYTES {
        let n = match read_full_at(&t.file, buf, t.read_offset) {
            Ok(n) => n,
            Err(e) => {
                round
                    .errors
                    .push(format!("{}: read failed: {e}", t.stream.name));
                break;
            }
        };
        if n == 0 {
            break;
        }
        t.asm.feed(&buf[..n], &mut events);
        t.read_offset += n as u64;
        total += n;
        if n < buf.len() {
            break;
        }
    }
    if total == 0 {
        return Appended::Nothing;
    }
    t.last_data = now;
    if (t.fingerprint.len as usize) < FINGERPRINT_BYTES {
        if let Ok(fp) = Fingerprint::of_file(&t.file) {
            t.fingerprint = fp;
        }
        t.refresh_source(&mut round.rekeys);
    }
    round
        .events
        .extend(events.into_iter().map(|e| (t.stream.clone(), e)));
    if total >= ROUND_BYTES {
        Appended::More
    } else {
        Appended::Some
    }
}

fn flush(t: &mut Tracked, out: &mut Vec<(Stream, Assembled)>) {
    let mut events = Vec::new();
    t.asm.flush(&mut events);
    out.extend(events.into_iter().map(|e| (t.stream.clone(), e)));
}

fn gz_fingerprint_matches(path: &Path, fp: Fingerprint) -> bool {
    let Ok(f) = File::open(path) else {
        return false;
    };
    let mut head = Vec::with_capacity(FINGERPRINT_BYTES);
    let read = flate2::read::MultiGzDecoder::new(f)
        .take(u64::from(fp.len))
        .read_to_end(&mut head);
    read.is_ok() && head.len() == fp.len as usize && Fingerprint::of(&head) == fp
}

/// Lines in the first `len` bytes (for line numbers when a file is followed from its end).
fn count_lines(file: &File, len: u64) -> u64 {
    let mut buf = vec![0; READ_CHUNK];
    let (mut offset, mut lines) = (0u64, 0u64);
    while offset < len {
        let want = ((len - offset) as usize).min(buf.len());
        match read_full_at(file, &mut buf[..want], offset) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
                offset += n as u64;
            }
        }
    }
    lines
}
