//! `zkb run -- COMMAND`: runs an installer (or any command) in a pseudo-terminal, passes the
//! terminal through both ways unchanged, and records and matches what it prints.
//!
//! Three stages, so the installer never waits for zkb: the relay (pty → our terminal) only
//! copies bytes and offers a copy to a bounded queue, dropping and counting when it is full;
//! the recorder cleans the bytes ([`clean`]) and appends them to a `setup`-kind log in the data
//! dir, synced every 100 ms; the matcher frames the clean text into events and matches them,
//! with every batch run under `catch_unwind`, so a panic there is reported and the rest goes on.

pub mod clean;

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, CommandBuilder, PtySize};

use crate::kind::LogKind;
use crate::matcher::Matcher;
use crate::scan::{EventMatcher, Finding, ScanOptions};
use crate::watch::assemble::Assembler;
use clean::Cleaner;

/// Chunks the relay may have queued for the recorder before it drops.
const QUEUE: usize = 1024;
/// The recording is synced to disk at least this often.
const SYNC_EVERY: Duration = Duration::from_millis(100);
/// An open event is matched once the output has been quiet this long.
const FLUSH_AFTER: Duration = Duration::from_millis(50);

/// What to run and where to record it.
pub struct RunOptions {
    pub command: Vec<OsString>,
    /// The recording: `<data>/runs/<name>-console-<time>.log`.
    pub record: PathBuf,
    /// Test hook: `sleep` (the matcher sleeps 10 s on its first event) or `panic`.
    pub hook: Option<String>,
}

/// How the run went.
pub struct RunOutcome {
    /// The command's exit status (128 + N when killed by signal N), as the shell gives it.
    pub exit_code: i32,
    pub findings: Vec<Finding>,
    /// Chunks of output not recorded because the recorder fell behind.
    pub dropped: u64,
    /// Problems of the recorder or matcher (a panic, a write error); the relay went on.
    pub problems: Vec<String>,
}

/// A finding seen during the run (for `--notify`).
pub type OnFinding = Box<dyn FnMut(&Finding) + Send>;

/// The recording's path for a command named `name`, started now.
pub fn record_path(data_dir: &Path, name: &str) -> PathBuf {
    let stamp = jiff::Zoned::now().strftime("%Y%m%d-%H%M%S");
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    data_dir
        .join("runs")
        .join(format!("{safe}-console-{stamp}.log"))
}

/// Runs the command; returns when it has exited and its output has been relayed.
pub fn run(
    opts: &RunOptions,
    matcher: Arc<Matcher>,
    scan_opts: &ScanOptions,
    on_finding: OnFinding,
) -> io::Result<RunOutcome> {
    quiet_matcher_panics();
    if let Some(dir) = opts.record.parent() {
        fs::create_dir_all(dir)?;
    }
    let record_file = File::create(&opts.record)?;
    let pair = native_pty_system()
        .openpty(terminal_size())
        .map_err(io::Error::other)?;
    let mut cmd = CommandBuilder::new(&opts.command[0]);
    cmd.args(&opts.command[1..]);
    cmd.cwd(std::env::current_dir()?);
    let mut child = pair.slave.spawn_command(cmd).map_err(io::Error::other)?;
    drop(pair.slave);
    let reader = pair.master.try_clone_reader().map_err(io::Error::other)?;
    let writer = pair.master.take_writer().map_err(io::Error::other)?;
    let _raw = RawMode::enter();
    spawn_input_relay(writer);
    spawn_resizer(pair.master);

    let problems = Arc::new(Mutex::new(Vec::new()));
    let findings = Arc::new(Mutex::new(Vec::new()));
    let dropped = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let (to_recorder, from_relay) = mpsc::sync_channel::<Vec<u8>>(QUEUE);
    let (to_matcher, from_recorder) = mpsc::sync_channel::<String>(QUEUE);
    let relay_done = spawn_output_relay(reader, to_recorder, dropped.clone());
    let recorder = {
        let (problems, dropped, finished) = (problems.clone(), dropped.clone(), finished.clone());
        std::thread::spawn(move || {
            record(
                record_file,
                from_relay,
                to_matcher,
                &finished,
                &dropped,
                &problems,
            )
        })
    };
    let matching = {
        let (problems, findings, finished) = (problems.clone(), findings.clone(), finished.clone());
        let hook = opts.hook.clone();
        let name = opts.record.display().to_string();
        let scan_opts = scan_opts.clone();
        std::thread::Builder::new()
            .name(MATCHER_THREAD.into())
            .spawn(move || {
                let mut m = EventMatcher::new(&matcher, &scan_opts, name, LogKind::Setup, None);
                match_text(
                    from_recorder,
                    &mut m,
                    on_finding,
                    hook,
                    &findings,
                    &finished,
                    &problems,
                )
            })?
    };
    let status = wait_child(&mut *child);
    // The output the command wrote before it ended, unless daemons it started keep the
    // terminal open: then the relay goes on without us.
    let _ = relay_done.recv_timeout(Duration::from_millis(500));
    finished.store(true, Ordering::Relaxed);
    let _ = recorder.join();
    // A matcher that hangs does not hold up the exit status: it is left behind.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !matching.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    if !matching.is_finished() {
        note(
            &problems,
            "matching did not finish in time; the summary may be incomplete".into(),
        );
    }
    let findings = std::mem::take(&mut *findings.lock().unwrap_or_else(|e| e.into_inner()));
    let problems = std::mem::take(&mut *problems.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(RunOutcome {
        exit_code: status,
        findings,
        dropped: dropped.load(Ordering::Relaxed),
        problems,
    })
}

/// The matcher thread's name: its panics are reported in the summary, not printed over the
/// installer's screen.
const MATCHER_THREAD: &str = "zkb-matcher";

/// Panics on the matcher thread stay quiet (the summary says what happened); others are
/// printed as before.
fn quiet_matcher_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() != Some(MATCHER_THREAD) {
            previous(info);
        }
    }));
}

fn terminal_size() -> PtySize {
    let (cols, rows) = ratatui::crossterm::terminal::size().unwrap_or((80, 24));
    PtySize {
        rows: rows.max(1),
        cols: cols.max(1),
        pixel_width: 0,
        pixel_height: 0,
    }
}

/// Our terminal in raw mode while the command runs (so keys, Ctrl-C included, go to the command
/// as typed), restored on drop.
struct RawMode(bool);

impl RawMode {
    fn enter() -> RawMode {
        use std::io::IsTerminal;
        RawMode(
            io::stdin().is_terminal() && ratatui::crossterm::terminal::enable_raw_mode().is_ok(),
        )
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if self.0 {
            let _ = ratatui::crossterm::terminal::disable_raw_mode();
        }
    }
}

/// Keeps the command's terminal the size of ours (checked every 200 ms; a detached thread).
fn spawn_resizer(master: Box<dyn portable_pty::MasterPty + Send>) {
    std::thread::spawn(move || {
        let mut last = terminal_size();
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let now = terminal_size();
            if (now.rows, now.cols) != (last.rows, last.cols) {
                if master.resize(now).is_err() {
                    break;
                }
                last = now;
            }
        }
    });
}

/// Our stdin to the command, byte for byte (a detached thread: it may sit in a read after the
/// command has ended).
fn spawn_input_relay(mut writer: Box<dyn Write + Send>) {
    std::thread::spawn(move || {
        let mut stdin = io::stdin();
        let mut buf = [0u8; 4096];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if writer
                        .write_all(&buf[..n])
                        .and_then(|_| writer.flush())
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
}

/// The command's output to our stdout, with a copy offered to the recorder; signals on the
/// returned channel when the terminal closes.
fn spawn_output_relay(
    mut reader: Box<dyn Read + Send>,
    queue: SyncSender<Vec<u8>>,
    dropped: Arc<AtomicU64>,
) -> Receiver<()> {
    let (done, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut out = io::stdout();
        let mut buf = [0u8; 8192];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let _ = out.write_all(&buf[..n]);
            let _ = out.flush();
            match queue.try_send(buf[..n].to_vec()) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                    dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let _ = done.send(());
    });
    done_rx
}

/// The shell's view of an exit: the code, or 128 + the signal.
fn wait_child(child: &mut dyn portable_pty::Child) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    if let Some(c) = child.downcast_mut::<std::process::Child>() {
        return match c.wait() {
            Ok(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
            Err(_) => 1,
        };
    }
    match child.wait() {
        Ok(s) => s.exit_code() as i32,
        Err(_) => 1,
    }
}

/// The recorder: cleans, appends, syncs, and passes clean lines on to the matcher.
fn record(
    mut file: File,
    chunks: Receiver<Vec<u8>>,
    to_matcher: SyncSender<String>,
    finished: &AtomicBool,
    dropped: &AtomicU64,
    problems: &Mutex<Vec<String>>,
) {
    let mut cleaner = Cleaner::default();
    let mut last_sync = Instant::now();
    let mut unsynced = false;
    let mut text = String::new();
    loop {
        let chunk = match chunks.recv_timeout(SYNC_EVERY / 2) {
            Ok(c) => Some(c),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let idle = chunk.is_none();
        if let Some(c) = chunk {
            text.clear();
            cleaner.feed(&c, &mut text);
            if !text.is_empty() {
                if let Err(e) = file.write_all(text.as_bytes()) {
                    note(problems, format!("recording: {e}"));
                }
                unsynced = true;
                if to_matcher.try_send(text.clone()).is_err() {
                    dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if unsynced && last_sync.elapsed() >= SYNC_EVERY {
            let _ = file.sync_data();
            last_sync = Instant::now();
            unsynced = false;
        }
        if idle && finished.load(Ordering::Relaxed) {
            break;
        }
    }
    // Drain what is queued, then the unfinished last line (a prompt, a line cut by a kill).
    while let Ok(c) = chunks.try_recv() {
        text.clear();
        cleaner.feed(&c, &mut text);
        let _ = file.write_all(text.as_bytes());
        let _ = to_matcher.try_send(text.clone());
    }
    let rest = cleaner.partial();
    if !rest.is_empty() {
        let _ = file.write_all(format!("{rest}\n").as_bytes());
        let _ = to_matcher.try_send(format!("{rest}\n"));
    }
    let _ = file.sync_data();
}

/// The matcher: frames clean text into `setup` events and matches them.
fn match_text(
    lines: Receiver<String>,
    m: &mut EventMatcher,
    mut on_finding: OnFinding,
    hook: Option<String>,
    findings: &Mutex<Vec<Finding>>,
    finished: &AtomicBool,
    problems: &Mutex<Vec<String>>,
) {
    let mut asm = Assembler::new(LogKind::Setup, 0, 0);
    let mut hook = hook;
    let mut events = Vec::new();
    let mut last_text = Instant::now();
    loop {
        let text = match lines.recv_timeout(FLUSH_AFTER) {
            Ok(t) => Some(t),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match &text {
            Some(t) => {
                asm.feed(t.as_bytes(), &mut events);
                last_text = Instant::now();
            }
            None if last_text.elapsed() >= FLUSH_AFTER => asm.flush(&mut events),
            None => {}
        }
        if !events.is_empty() {
            let batch = std::mem::take(&mut events);
            let result = catch_unwind(AssertUnwindSafe(|| {
                run_hook(&mut hook);
                let mut out = Vec::new();
                for e in &batch {
                    m.event(&e.text, e.line, e.offset, e.truncated, &mut out);
                }
                for f in &out {
                    on_finding(f);
                }
                out
            }));
            match result {
                Ok(out) => findings
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(out),
                Err(_) => note(problems, "matching failed on some output (a bug in zkb); the run and its recording went on".into()),
            }
        }
        if text.is_none() && finished.load(Ordering::Relaxed) && !asm.has_open_event() {
            break;
        }
    }
}

/// The test hooks of the issue: a matcher that stalls, or one that panics, once.
fn run_hook(hook: &mut Option<String>) {
    match hook.take().as_deref() {
        Some("sleep") => std::thread::sleep(Duration::from_secs(10)),
        Some("panic") => panic!("test hook: the matcher panics"),
        _ => {}
    }
}

fn note(problems: &Mutex<Vec<String>>, what: String) {
    problems
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(what);
}
