//! `zkb demo`: the bundled upgrade night (`examples/upgrade-night`, embedded at build time) is
//! written event by event into a temporary directory, paced by the events' own timestamps and
//! squeezed into a chosen time, with a rename rotation of the busiest mailbox.log half-way,
//! while `zkb watch` follows the directory. The replay only writes files; the watching is the
//! real watch.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::framing::Framer;
use crate::kind::LogKind;
use crate::parse::{parse, Event, TimeContext};

/// One event to write: when (seconds into the night), into which file, its bytes.
struct Piece {
    at: f64,
    file: usize,
    bytes: Vec<u8>,
}

/// The night, ready to replay.
pub struct Replay {
    /// Paths relative to the replay directory (`mbx1/mailbox.log`).
    pub files: Vec<PathBuf>,
    pieces: Vec<Piece>,
    /// Seconds from the first event to the last.
    pub span: f64,
}

impl Replay {
    /// The embedded upgrade night.
    pub fn upgrade_night() -> Replay {
        let files: Vec<(PathBuf, &[u8])> = crate::embedded::DEMO
            .iter()
            .map(|(p, b)| (PathBuf::from(p), *b))
            .collect();
        Replay::from_files(&files)
    }

    fn from_files(files: &[(PathBuf, &[u8])]) -> Replay {
        let time = TimeContext::new(jiff::tz::TimeZone::UTC, None, None);
        let mut timed: Vec<Vec<(Option<f64>, Vec<u8>)>> = files
            .iter()
            .map(|(path, bytes)| events_of(path, bytes, &time))
            .collect();
        let known = |evs: &[(Option<f64>, Vec<u8>)]| -> Vec<f64> {
            evs.iter().filter_map(|(t, _)| *t).collect()
        };
        let all: Vec<f64> = timed.iter().flat_map(|e| known(e)).collect();
        let start = all.iter().copied().fold(f64::INFINITY, f64::min);
        let end = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (start, end) = if start.is_finite() {
            (start, end)
        } else {
            (0.0, 1.0)
        };
        let times: Vec<Vec<f64>> = timed.iter().map(|e| known(e)).collect();
        let host = |k: usize| files[k].0.parent().map(Path::to_path_buf);
        for (k, evs) in timed.iter_mut().enumerate() {
            let host_times: Vec<f64> = (0..files.len())
                .filter(|&j| j != k && host(j) == host(k))
                .flat_map(|j| times[j].iter().copied())
                .collect();
            fill_times(evs, &host_times, (start, end));
        }
        let mut pieces: Vec<Piece> = timed
            .into_iter()
            .enumerate()
            .flat_map(|(file, evs)| {
                evs.into_iter().map(move |(t, bytes)| Piece {
                    at: t.unwrap_or(start) - start,
                    file,
                    bytes,
                })
            })
            .collect();
        pieces.sort_by(|a, b| a.at.total_cmp(&b.at));
        Replay {
            files: files.iter().map(|(p, _)| p.clone()).collect(),
            pieces,
            span: (end - start).max(1.0),
        }
    }

    /// Events in the night.
    pub fn events(&self) -> usize {
        self.pieces.len()
    }

    /// Creates the host directories and empty log files under `dir`.
    pub fn prepare(&self, dir: &Path) -> io::Result<()> {
        for f in &self.files {
            let path = dir.join(f);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::File::create(path)?;
        }
        Ok(())
    }

    /// The file rotated half-way: the largest mailbox.log.
    fn rotated(&self) -> Option<usize> {
        (0..self.files.len())
            .filter(|&i| {
                self.files[i]
                    .file_name()
                    .is_some_and(|n| n == "mailbox.log")
            })
            .max_by_key(|&i| self.pieces.iter().filter(|p| p.file == i).count())
    }

    /// Writes the night into `dir` over `seconds`, renaming one mailbox.log to `.1` half-way
    /// (and starting a new one, as log4j does). Stops early when `stop` is set.
    pub fn play(&self, dir: &Path, seconds: f64, stop: &AtomicBool) -> io::Result<()> {
        let scale = seconds / self.span;
        let began = Instant::now();
        let rotate = self.rotated();
        let mut rotated = false;
        for piece in &self.pieces {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let due = Duration::from_secs_f64((piece.at * scale).max(0.0));
            if let Some(wait) = due.checked_sub(began.elapsed()) {
                std::thread::sleep(wait);
            }
            if !rotated && piece.at >= self.span / 2.0 {
                rotated = true;
                if let Some(i) = rotate {
                    let path = dir.join(&self.files[i]);
                    fs::rename(&path, path.with_extension("log.1"))?;
                    fs::File::create(&path)?;
                }
            }
            OpenOptions::new()
                .append(true)
                .create(true)
                .open(dir.join(&self.files[piece.file]))?
                .write_all(&piece.bytes)?;
        }
        Ok(())
    }
}

/// A file's events (with their newlines) and the time of each, when it has one.
fn events_of(path: &Path, bytes: &[u8], time: &TimeContext) -> Vec<(Option<f64>, Vec<u8>)> {
    let kind = LogKind::from_path(path).unwrap_or_else(|| LogKind::sniff(bytes));
    let mut framer = Framer::new(bytes, kind);
    let mut out = Vec::new();
    while let Some(region) = framer.next_region() {
        for span in region.events {
            let text = &region.bytes[span.start..span.text_end];
            let event = Event::from_bytes(kind, text, span.line, span.offset, span.truncated);
            let ts = parse(&event, time)
                .ts
                .map(|z| z.timestamp().as_millisecond() as f64 / 1000.0);
            out.push((ts, region.bytes[span.start..span.end].to_vec()));
        }
    }
    out
}

/// Gives every event a time: the one before it in the file, else the first one after; a file
/// with no times at all (the installer's console) is spread over its host's other files.
fn fill_times(evs: &mut [(Option<f64>, Vec<u8>)], host_times: &[f64], night: (f64, f64)) {
    let first = evs.iter().find_map(|(t, _)| *t);
    if first.is_none() {
        let lo = host_times.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = host_times.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { night };
        let n = evs.len().max(1) as f64;
        for (k, (t, _)) in evs.iter_mut().enumerate() {
            *t = Some(lo + (hi - lo) * k as f64 / n);
        }
        return;
    }
    let mut last = first;
    for (t, _) in evs.iter_mut() {
        match t {
            Some(v) => last = Some(*v),
            None => *t = last,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_night_replays_in_time_order_with_every_byte() {
        let replay = Replay::upgrade_night();
        assert!(replay.files.len() >= 20, "{:?}", replay.files);
        assert!(
            replay.span > 3600.0,
            "the night lasts hours: {}",
            replay.span
        );
        assert!(replay.pieces.windows(2).all(|w| w[0].at <= w[1].at));
        let dir = tempfile::tempdir().unwrap();
        replay.prepare(dir.path()).unwrap();
        replay
            .play(dir.path(), 0.0, &AtomicBool::new(false))
            .unwrap();
        for (path, bytes) in crate::embedded::DEMO {
            let mut written = fs::read(dir.path().join(path)).unwrap();
            if *path == replay.files[replay.rotated().unwrap()].to_str().unwrap() {
                let mut first = fs::read(dir.path().join(format!("{path}.1"))).unwrap();
                first.append(&mut written);
                written = first;
            }
            assert_eq!(written.len(), bytes.len(), "{path}");
        }
    }
}
