//! Watch: follows logs live ([`follow`]), frames what is appended ([`assemble`]), matches each
//! event as it completes, hands the findings to a sink, and checkpoints every file
//! ([`checkpoint`]) so a restart resumes where the last run stopped. Wakes on notify (inotify)
//! events for the directories of the targets, or polls when notify cannot be set up or
//! `--poll` asks for it.
//!
//! When it records ([`WatchOptions::record`]), each round's findings, the error events no rule
//! knew, the context of earlier findings and the checkpoints that cover them go to the incident
//! store in one transaction ([`crate::store::Batch`]); the checkpoints then live in the store,
//! not in `checkpoints.json`, so a crash can never leave one ahead of the other.
//!
//! Given a [`Reloader`], it reads its rules again on SIGHUP and when a rule file of the extra
//! directories changes ([`reload`]), between two rounds; a set that does not load leaves the
//! rules in force.

pub mod alert;
pub mod assemble;
pub mod checkpoint;
pub mod follow;
pub mod reload;
pub mod silence;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use std::sync::Arc;

use crate::maint;
use crate::matcher::Matcher;
use crate::scan::{AfterContext, EventMatcher, Finding, ScanOptions, Suspended};
use crate::store::{Batch, Store};
use checkpoint::Checkpoint;
use follow::{FollowOptions, Follower, Round, Stream};
use reload::Reloader;

/// The standard Zimbra log set of a host: what `zkb watch` follows when given no paths. Named
/// one by one (no broad glob), and without the noisy `myslow.log` and `nginx.access.log`.
pub const STANDARD_LOGS: &[&str] = &[
    "/opt/zimbra/log/mailbox.log",
    "/opt/zimbra/log/audit.log",
    "/opt/zimbra/log/sync.log",
    "/opt/zimbra/log/zmmailboxd.out",
    "/opt/zimbra/log/nginx.log",
    "/opt/zimbra/log/clamd.log",
    "/opt/zimbra/log/freshclam.log",
    "/opt/zimbra/log/mysql_error.log",
    "/opt/zimbra/log/mysqld.log",
    "/opt/zimbra/log/sqlMigration.log",
    "/var/log/zimbra.log",
    "/tmp/install.log.*",
    "/tmp/zmsetup.*.log",
];

/// How to watch.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    pub targets: Vec<String>,
    pub follow: FollowOptions,
    /// Poll at this interval instead of waiting for notify events.
    pub poll: Option<Duration>,
    /// Where checkpoints are kept (none: every run starts afresh).
    pub data_dir: Option<PathBuf>,
    /// Record findings in the incident store of the data dir (with the checkpoints).
    pub record: bool,
    /// Raise `fleet.host-silent` for a host of a per-host tree quiet this long ([`silence`]).
    pub silence: Option<Duration>,
}

/// Events kept before and after each recorded finding.
pub const STORE_CONTEXT: usize = 2;

/// Where the watch keeps its checkpoints, and what it found.
enum Journal {
    File(checkpoint::Store),
    Store(Box<Store>),
}

impl Journal {
    fn open(opts: &WatchOptions, say: &mut dyn FnMut(Message)) -> Journal {
        let file = checkpoint::Store::new(opts.data_dir.as_deref());
        match opts.data_dir.as_deref().filter(|_| opts.record) {
            Some(dir) => match Store::open(dir) {
                Ok(store) => Journal::Store(Box::new(store)),
                Err(e) => {
                    say(Message::Warning(format!(
                        "{e}; watching without recording incidents"
                    )));
                    Journal::File(file)
                }
            },
            None => Journal::File(file),
        }
    }

    /// The checkpoints of the last run (a store that has none yet takes over those of
    /// `checkpoints.json`).
    fn load(
        &self,
        data_dir: Option<&std::path::Path>,
        say: &mut dyn FnMut(Message),
    ) -> Vec<Checkpoint> {
        let stored = match self {
            Journal::Store(store) => match store.checkpoints() {
                Ok(c) if !c.is_empty() => return c,
                Ok(_) => None,
                Err(e) => Some(e.to_string()),
            },
            Journal::File(_) => None,
        };
        if let Some(e) = stored {
            say(Message::Warning(format!(
                "checkpoints unreadable ({e}); files without one start from their end"
            )));
            return Vec::new();
        }
        checkpoint::Store::new(data_dir).load().unwrap_or_else(|e| {
            say(Message::Warning(format!(
                "checkpoints unreadable ({e}); files without one start from their end"
            )));
            Vec::new()
        })
    }
}

/// What the watcher tells its caller besides findings.
#[derive(Debug)]
pub enum Message {
    /// Something worth knowing (rotations, files opened); shown with -v.
    Note(String),
    /// Shown always.
    Warning(String),
    /// What the admin should know without asking (the rules were reloaded); shown unless -q.
    Info(String),
}

/// Longest sleep between rounds, so a stop request is seen promptly.
const MAX_WAIT: Duration = Duration::from_millis(250);
/// Checkpoints are written at most this often (and when stopping).
const SAVE_EVERY: Duration = Duration::from_millis(100);

/// What wakes the loop.
enum Wake {
    Notify {
        _watcher: notify::RecommendedWatcher,
        rx: mpsc::Receiver<()>,
    },
    Poll(Duration),
}

impl Wake {
    fn new(follower: &Follower, poll: Option<Duration>, say: &mut dyn FnMut(Message)) -> Wake {
        if let Some(every) = poll {
            return Wake::Poll(every);
        }
        match Self::notify(follower) {
            Ok(w) => w,
            Err(e) => {
                say(Message::Warning(format!(
                    "cannot watch for changes ({e}); polling every 250 ms instead"
                )));
                Wake::Poll(Duration::from_millis(250))
            }
        }
    }

    fn notify(follower: &Follower) -> notify::Result<Wake> {
        use notify::{EventKind, RecursiveMode, Watcher};
        let (tx, rx) = mpsc::channel();
        let prefixes = follower.name_prefixes();
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                let Ok(event) = res else {
                    let _ = tx.send(());
                    return;
                };
                // Opening, reading and closing (ours too: reading a file, listing a directory
                // for a glob) never bring new lines; waking on them would spin.
                if matches!(event.kind, EventKind::Access(_)) {
                    return;
                }
                // Writes to other files of a shared directory (nginx.access.log…) do not wake us;
                // creations, renames and deletions always do.
                let structural = !matches!(event.kind, EventKind::Modify(_) | EventKind::Access(_))
                    || matches!(
                        event.kind,
                        EventKind::Modify(notify::event::ModifyKind::Name(_))
                    );
                let ours = event.paths.iter().any(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| prefixes.iter().any(|pre| n.starts_with(pre.as_str())))
                });
                if structural || ours {
                    let _ = tx.send(());
                }
            })?;
        let mut watched = 0;
        for dir in follower.directories() {
            if dir.is_dir() {
                watcher.watch(&dir, RecursiveMode::NonRecursive)?;
                watched += 1;
            }
        }
        if watched == 0 && !follower.directories().is_empty() {
            return Err(notify::Error::generic("none of the directories exists yet"));
        }
        Ok(Wake::Notify {
            _watcher: watcher,
            rx,
        })
    }

    /// Waits for a change, at most until `deadline` (a flush or checkpoint due); a poll waits
    /// its interval. Returns early once `interrupted` (a stop, or a reload asked for).
    fn wait(&self, deadline: Option<Instant>, interrupted: &dyn Fn() -> bool) {
        let now = Instant::now();
        match self {
            Wake::Notify { rx, .. } => {
                let until = deadline.map_or(MAX_WAIT, |d| d.saturating_duration_since(now));
                if rx.recv_timeout(until.min(MAX_WAIT)).is_ok() {
                    while rx.try_recv().is_ok() {}
                }
            }
            Wake::Poll(every) => {
                let end = deadline.map_or(now + *every, |d| d.min(now + *every));
                while !interrupted() {
                    let left = end.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    std::thread::sleep(left.min(MAX_WAIT));
                }
            }
        }
    }
}

/// The rules a watch matches with: the set in force, and how to read it again (none: it never
/// changes, as in the demo).
pub struct Rules {
    pub matcher: Arc<Matcher>,
    pub reloader: Option<Reloader>,
}

/// Takes each round's findings, the rules they index into and the number of events read.
pub type Sink<'s> = dyn FnMut(&Arc<Matcher>, &[Finding], u64) -> std::io::Result<()> + 's;

/// Follows the targets until `stop` is set, giving each round's findings, the rules they index
/// into and the number of events the round read to `sink` (which prints them; an error from it,
/// such as a closed pipe, ends the watch) and messages to `say`.
///
/// A reload of the rules takes effect between two rounds: each round's findings are handed out
/// and recorded with the rules that found them, and the next round starts with the new set.
/// Nothing that outlives a round keeps a rule's index (the streams' threshold counts are moved
/// over by rule id, the store and the alerts know rules by id), so no finding is ever read
/// against the wrong set.
pub fn run(
    opts: &WatchOptions,
    rules: Rules,
    scan_opts: &ScanOptions,
    stop: &AtomicBool,
    sink: &mut Sink<'_>,
    say: &mut dyn FnMut(Message),
) -> std::io::Result<()> {
    let journal = Journal::open(opts, say);
    let saved = journal.load(opts.data_dir.as_deref(), say);
    let recording = matches!(journal, Journal::Store(_));
    // What the store wants besides the printed findings: context, and errors no rule knew.
    let match_opts = ScanOptions {
        before: scan_opts
            .before
            .max(if recording { STORE_CONTEXT } else { 0 }),
        after: scan_opts
            .after
            .max(if recording { STORE_CONTEXT } else { 0 }),
        unmatched: scan_opts.unmatched || recording,
        ..scan_opts.clone()
    };
    let follower = Follower::new(opts.targets.clone(), opts.follow.clone(), saved);
    for t in follower.absent() {
        say(Message::Warning(format!(
            "{t}: not there (yet); zkb follows it when it appears"
        )));
    }
    let wake = Wake::new(&follower, opts.poll, say);
    let mut watch = Watch {
        asked: scan_opts,
        match_opts,
        stop,
        journal,
        follower,
        wake,
        found: Found::default(),
        last_save: None,
        suspended: HashMap::new(),
        silence: opts.silence.map(silence::Silence::new),
        windows: maint::Windows::new(crate::sources::local_hostname().unwrap_or_default()),
        windows_read: None,
    };
    let Rules {
        mut matcher,
        mut reloader,
    } = rules;
    while let Some(next) = watch.rounds(&matcher, reloader.as_mut(), sink, say)? {
        matcher = Arc::new(next);
    }
    Ok(())
}

/// A watch under way: everything that outlives a reload of its rules.
struct Watch<'w> {
    /// The options the caller asked for (what the sink sees).
    asked: &'w ScanOptions,
    /// What matching uses: more context and the unmatched errors when recording.
    match_opts: ScanOptions,
    stop: &'w AtomicBool,
    journal: Journal,
    follower: Follower,
    wake: Wake,
    found: Found,
    last_save: Option<Instant>,
    /// Each stream's matching state while the rules are replaced, with its source identity.
    suspended: HashMap<u64, (Suspended, Arc<str>)>,
    silence: Option<silence::Silence>,
    /// Maintenance windows: inferred from the lines read, and those of the store.
    windows: maint::Windows,
    windows_read: Option<Instant>,
}

/// How often the windows opened by hand are read from the store.
const WINDOWS_EVERY: Duration = Duration::from_secs(2);

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Keeps the windows the logs opened and closed in the store, for `zkb maint list`.
fn keep_windows(store: &mut Store, changes: Vec<maint::Change>, say: &mut dyn FnMut(Message)) {
    for c in changes {
        let (kept, what) = match &c {
            maint::Change::Opened(w) => (
                store.maint_start(w).map(|_| ()),
                format!("maintenance of {} begins: {}", w.scope.label(), w.reason),
            ),
            maint::Change::Closed(scope, end) => (
                store.maint_stop(scope, *end, true).map(|_| ()),
                format!("maintenance of {} ends", scope.label()),
            ),
        };
        say(Message::Info(what));
        if let Err(e) = kept {
            say(Message::Warning(format!(
                "cannot keep the maintenance window: {e}"
            )));
        }
    }
}

impl Watch<'_> {
    /// Rounds with one set of rules, until the watch stops (`None`) or the rules are reloaded
    /// (the new set, the streams suspended meanwhile).
    fn rounds(
        &mut self,
        matcher: &Arc<Matcher>,
        mut reloader: Option<&mut Reloader>,
        sink: &mut Sink<'_>,
        say: &mut dyn FnMut(Message),
    ) -> std::io::Result<Option<Matcher>> {
        let match_opts = &self.match_opts;
        let mut matchers: HashMap<u64, (EventMatcher, Arc<str>)> = self
            .suspended
            .drain()
            .map(|(id, (s, source))| (id, (EventMatcher::resume(s, matcher, match_opts), source)))
            .collect();
        let found = &mut self.found;
        let follower = &mut self.follower;
        loop {
            let stopping = self.stop.load(Ordering::Relaxed);
            let now = Instant::now();
            let mut round = follower.round(now);
            if stopping {
                round.events.extend(follower.flush_all());
            }
            if let Some(silence) = self.silence.as_mut() {
                let mut alarms = Vec::new();
                for (stream, _) in &round.events {
                    if let Some(host) = silence::Silence::fleet_host(stream) {
                        alarms.extend(silence.saw(host, now));
                    }
                }
                alarms.extend(silence.check(now));
                round.events.extend(alarms);
            }
            for n in round.notes.drain(..) {
                say(Message::Note(n));
            }
            for e in round.errors.drain(..) {
                say(Message::Warning(e));
            }
            found.clear();
            if let Journal::Store(store) = &self.journal {
                if self
                    .windows_read
                    .is_none_or(|t| now.duration_since(t) >= WINDOWS_EVERY)
                {
                    self.windows_read = Some(now);
                    let since = now_ms() - maint::GRACE_MS;
                    match store.maint_windows(since, &["manual", "zkb run"]) {
                        Ok(w) => self.windows.set_stored(w),
                        Err(e) => say(Message::Warning(format!("maintenance windows: {e}"))),
                    }
                }
            }
            for (stream, event) in &round.events {
                let (m, source) = matcher_for(&mut matchers, matcher, match_opts, stream);
                *source = stream.source.clone();
                m.event(
                    &event.text,
                    event.line,
                    event.offset,
                    event.truncated,
                    &mut found.fresh,
                );
                let changes = self
                    .windows
                    .apply(&matcher.rules, &mut found.fresh, now_ms());
                if let Journal::Store(store) = &mut self.journal {
                    keep_windows(store, changes, say);
                }
                found.sort(source, self.asked);
                found.take_after(m, source, false);
            }
            for id in &round.closed {
                if let Some((mut m, source)) = matchers.remove(id) {
                    found.take_after(&mut m, &source, true);
                }
            }
            if stopping {
                for (m, source) in matchers.values_mut() {
                    found.take_after(m, source, true);
                }
            }
            if !round.events.is_empty() {
                sink(matcher, &found.shown, round.events.len() as u64)?;
            }
            match &mut self.journal {
                Journal::Store(store) => {
                    if !round.events.is_empty() || follower.changed() || !round.rekeys.is_empty() {
                        commit(store, matcher, found, &round, follower, say);
                    }
                }
                Journal::File(file) => {
                    let due = self
                        .last_save
                        .is_none_or(|t| now.duration_since(t) >= SAVE_EVERY);
                    if follower.changed() && (due || stopping) {
                        if let Err(e) = file.save(&follower.checkpoints()) {
                            say(Message::Warning(format!("cannot write checkpoints: {e}")));
                        }
                        self.last_save = Some(now);
                    }
                }
            }
            if stopping {
                return Ok(None);
            }
            // Between rounds, so every finding handed out so far was read against `matcher`.
            if let Some(next) = reloader.as_mut().and_then(|r| reload_if_due(r, now, say)) {
                for (id, (m, source)) in matchers.drain() {
                    self.suspended.insert(id, (m.suspend(), source));
                }
                return Ok(Some(next));
            }
            let mut deadline = follower.next_deadline();
            if let Some(at) = self.silence.as_ref().and_then(|s| s.next_deadline()) {
                deadline = Some(deadline.map_or(at, |d| d.min(at)));
            }
            if follower.changed() {
                let save_at = self.last_save.map_or(now, |t| t + SAVE_EVERY);
                deadline = Some(deadline.map_or(save_at, |d| d.min(save_at)));
            }
            if !round.more {
                let stop = self.stop;
                let asked_to_reload = || reloader.as_ref().is_some_and(|r| r.asked());
                self.wake.wait(deadline, &|| {
                    stop.load(Ordering::Relaxed) || asked_to_reload()
                });
            }
        }
    }
}

/// The rules read again when a reload is due and they load; else `None` (and why on `say`).
fn reload_if_due(
    reloader: &mut Reloader,
    now: Instant,
    say: &mut dyn FnMut(Message),
) -> Option<Matcher> {
    if !reloader.due(now) {
        return None;
    }
    match reloader.reload() {
        Ok(reloaded) => {
            for (id, places) in &reloaded.duplicates {
                say(Message::Warning(format!(
                    "duplicate rule id {id} in {}; the first one is used",
                    places.join(", ")
                )));
            }
            say(Message::Info(reloaded.summary()));
            Some(reloaded.matcher)
        }
        Err(e) => {
            say(Message::Warning(e.to_string()));
            None
        }
    }
}

/// One round's findings: those printed, and what only the store keeps.
#[derive(Default)]
struct Found {
    fresh: Vec<Finding>,
    /// Findings of rules, as the sink sees them (context only when asked for).
    shown: Vec<Finding>,
    /// Everything to record, with its source identity.
    recorded: Vec<(Arc<str>, Finding)>,
    after: Vec<(Arc<str>, AfterContext)>,
}

impl Found {
    fn clear(&mut self) {
        self.shown.clear();
        self.recorded.clear();
        self.after.clear();
    }

    /// Sorts the findings of one event: rule findings are shown (with the context the caller
    /// asked for) and recorded; error events no rule knew are recorded only, unless asked for.
    fn sort(&mut self, source: &Arc<str>, asked: &ScanOptions) {
        for f in self.fresh.drain(..) {
            // Matches of `resolve_only` rules go to the sink too (the dashboard marks what
            // they resolve, the alerts forget it); it prints none of them.
            if f.rule.is_some() || asked.unmatched {
                let mut shown = f.clone();
                if shown.before.len() > asked.before {
                    let extra = shown.before.len() - asked.before;
                    shown.before.drain(..extra);
                }
                self.shown.push(shown);
            }
            self.recorded.push((source.clone(), f));
        }
    }

    fn take_after(&mut self, m: &mut EventMatcher, source: &Arc<str>, flush: bool) {
        self.after
            .extend(m.take_after(flush).into_iter().map(|a| (source.clone(), a)));
    }
}

/// Records a round and the checkpoints that cover it in one transaction.
fn commit(
    store: &mut Store,
    matcher: &Matcher,
    found: &Found,
    round: &Round,
    follower: &mut Follower,
    say: &mut dyn FnMut(Message),
) {
    let checkpoints = follower.checkpoints();
    let batch = Batch {
        findings: found.recorded.iter().map(|(s, f)| (&**s, f)).collect(),
        after: found.after.iter().map(|(s, a)| (&**s, a.clone())).collect(),
        rekeys: &round.rekeys,
        checkpoints: Some(&checkpoints),
    };
    if let Err(e) = store.record(&matcher.rules, &batch) {
        say(Message::Warning(format!("cannot record this round: {e}")));
    }
}

fn matcher_for<'m, 'a>(
    matchers: &'m mut HashMap<u64, (EventMatcher<'a>, Arc<str>)>,
    matcher: &'a Matcher,
    scan_opts: &'a ScanOptions,
    stream: &Stream,
) -> (&'m mut EventMatcher<'a>, &'m mut Arc<str>) {
    let (m, s) = matchers.entry(stream.id).or_insert_with(|| {
        (
            EventMatcher::new(
                matcher,
                scan_opts,
                stream.name.to_string(),
                stream.kind,
                stream.host.clone(),
            )
            .zoned(stream.tz.clone()),
            stream.source.clone(),
        )
    });
    (m, s)
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// A flag set by SIGINT and SIGTERM, so the watch can write its checkpoints and print the
/// last open event before it exits.
pub fn stop_on_signals() -> &'static AtomicBool {
    let handler: extern "C" fn(libc::c_int) = on_signal;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
        libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
    }
    &STOP
}

static RELOAD: AtomicBool = AtomicBool::new(false);

extern "C" fn on_hangup(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    if sent_by_kernel(info) {
        STOP.store(true, Ordering::Relaxed);
    } else {
        RELOAD.store(true, Ordering::Relaxed);
    }
}

/// Whether a signal came from the kernel, as the SIGHUP of a terminal that went away does,
/// rather than from `kill` (Linux; elsewhere every SIGHUP counts as sent).
fn sent_by_kernel(info: *const libc::siginfo_t) -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo (checked for null anyway);
        // reading a field is async-signal-safe.
        !info.is_null() && unsafe { (*info).si_code } == libc::SI_KERNEL
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = info;
        false
    }
}

/// A flag set by SIGHUP sent with `kill`, the usual way to have a daemon read its
/// configuration again: the watch reloads its rules ([`Reloader`]). The SIGHUP of a terminal
/// that went away stops the watch instead, as SIGTERM does ([`stop_on_signals`]).
pub fn reload_on_hangup() -> &'static AtomicBool {
    let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) = on_hangup;
    // SAFETY: a zeroed sigaction is a valid one (no flags, empty mask) before it is filled in;
    // the handler only reads its siginfo and stores to atomics, which is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as libc::sighandler_t;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGHUP, &action, std::ptr::null_mut());
    }
    &RELOAD
}
