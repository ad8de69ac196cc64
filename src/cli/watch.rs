//! `zkb watch`: the command line over [`crate::watch`].

use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::{load, parse_severity, time_zone, Global, Outcome};
use crate::dashboard::{self, Update};
use crate::diff::Change;
use crate::matcher::Matcher;
use crate::output::{escape, Format, Printer};
use crate::rules::{parse_duration, Severity};
use crate::scan::{Finding, ScanOptions};
use crate::state;
use crate::watch::alert::Alerter;
use crate::watch::follow::FollowOptions;
use crate::watch::reload::Reloader;
use crate::watch::{self, Message, WatchOptions, STANDARD_LOGS};

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  zkb watch                                  the standard Zimbra logs of this host
  zkb watch /opt/zimbra/log/mailbox.log      one file
  zkb watch '/srv/rsyslog/*/zimbra.log'      a glob (quoted), new matches are picked up
  zkb watch --format json | jq .rule         one JSON object per finding, flushed per line

Rotations (rename, copytruncate, delete and recreate) are followed; a restart resumes from the
checkpoints in the data dir, so nothing is missed while zkb is stopped.

Rules edited by hand are picked up without a restart: a change to a rule file in a --rules
directory or in ~/.config/zkb/rules (a new file, or that directory created, counts) is seen
within about a second (or the --poll interval, when longer), and `kill -HUP` reloads at once.
The new rules apply to the lines written after the `rules reloaded` message; when a file does
not load, zkb names the file and line and keeps the rules in force.

Every finding is recorded in the incident store of the data dir (with two events of context on
each side, and the error-level events no rule knew), committed together with the checkpoints,
so even `kill -9` neither loses nor repeats one. Read it back with `zkb incidents` and
`zkb report`; `--no-store` turns recording off.")]
pub struct WatchArgs {
    /// Files or globs to follow. Default: the standard Zimbra log set (mailbox.log, audit.log,
    /// sync.log, zmmailboxd.out, nginx.log, clamd.log, freshclam.log, mysql_error.log,
    /// mysqld.log, sqlMigration.log, /var/log/zimbra.log, /tmp/install.log.*,
    /// /tmp/zmsetup.*.log, and the consoles `zkb run` records in the data dir).
    pub paths: Vec<String>,
    /// Read files that have no checkpoint yet from their start.
    #[arg(long, conflicts_with = "from_end")]
    pub from_start: bool,
    /// Read files that have no checkpoint yet from their end (the default).
    #[arg(long)]
    pub from_end: bool,
    /// Poll for changes at this interval (e.g. 500ms, 2s) instead of using inotify; for
    /// network filesystems. Used on its own when inotify cannot be set up.
    #[arg(long, value_name = "INTERVAL", value_parser = parse_interval)]
    pub poll: Option<Duration>,
    /// Hand out the last event of a file after it has been quiet this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 50)]
    pub flush_ms: u64,
    /// Only findings at or above this severity (info, low, medium, high, critical).
    /// Default: info, or min_severity in the config file.
    #[arg(long, value_parser = parse_severity)]
    pub min_severity: Option<Severity>,
    /// Only show and alert the findings of this host (the store still records every host).
    #[arg(long)]
    pub host: Option<String>,
    /// Only these rules (an id, or a prefix ending in `*`; repeatable or comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub rule: Vec<String>,
    /// Run this command once per new incident (a rule and its group), with the finding's JSON
    /// on its stdin; run by /bin/sh -c, log text never put into the command line.
    /// Default: alert_command in the config file.
    #[arg(long, value_name = "CMD")]
    pub exec: Option<String>,
    /// Most --exec commands started in any minute.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub exec_per_minute: usize,
    /// Show the live dashboard (the default when stdout is a terminal and --format is human).
    #[arg(long, conflicts_with = "no_tui")]
    pub tui: bool,
    /// A host of a per-host tree (`/var/log/remote/<host>/`) that sends nothing for this long
    /// is a finding (`fleet.host-silent`), and its return another; `0` turns it off. Quiet
    /// servers stay audible through the forwarder's heartbeat (deploy/rsyslog).
    /// Default: 10m, or silence in the config file.
    #[arg(long, value_name = "AGE")]
    pub silence: Option<String>,
    /// The per-host tree whose upgrade board the dashboard shows (key `u`); default: the
    /// `<root>` of a target such as `<root>/*/*.log`.
    #[arg(long, value_name = "DIR")]
    pub site: Option<PathBuf>,
    /// Mark each finding against the baseline (`zkb baseline build`; default: baseline.json in
    /// the data dir, or `--baseline=FILE`): NEW or ×N, those at their usual rate folded away.
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub baseline: Option<Option<PathBuf>>,
    /// Stream findings as lines even on a terminal.
    #[arg(long)]
    pub no_tui: bool,
    /// Do not record findings in the incident store (checkpoints are still kept, in
    /// `watch/checkpoints.json`).
    #[arg(long)]
    pub no_store: bool,
    /// Run at normal CPU and I/O priority (by default watch runs at idle priority, so it never
    /// takes time from mailboxd).
    #[arg(long)]
    pub normal_priority: bool,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    match parse_duration(s) {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(format!("{s:?} is not an interval (use 500ms, 2s, 1m)")),
    }
}

pub fn run(g: &Global, a: &WatchArgs) -> Result<Outcome> {
    if !a.normal_priority {
        for problem in crate::priority::lower() {
            if g.verbose {
                eprintln!("zkb: idle priority: could not set {problem}");
            }
        }
    }
    // Before the rules load, so that an edit made while they do is not missed.
    let reloader = Reloader::new(super::rule_sources(g), Some(watch::reload_on_hangup()));
    let (set, kb) = load(g);
    let scan_opts = ScanOptions {
        kind: g.kind,
        tz: time_zone(g)?,
        year: g.year,
        min_severity: super::min_severity(g, a.min_severity),
        rule_filter: a.rule.clone(),
        ..ScanOptions::default()
    };
    let matcher = Arc::new(Matcher::new(set.rules));
    let data_dir = state::data_dir(g.data.as_deref());
    let targets = if a.paths.is_empty() && g.settings.paths.value.is_some() {
        super::default_paths(g)
    } else if a.paths.is_empty() {
        let mut t: Vec<String> = STANDARD_LOGS.iter().map(|s| s.to_string()).collect();
        // What `zkb run` records: the installer's console, live.
        if let Some(d) = &data_dir {
            t.push(d.join("runs").join("*.log").display().to_string());
        }
        t
    } else {
        a.paths.clone()
    };
    let silence = a
        .silence
        .clone()
        .or_else(|| g.settings.silence.value.clone())
        .unwrap_or_else(|| "10m".to_string());
    let exec = a
        .exec
        .clone()
        .or_else(|| g.settings.alert_command.value.clone());
    if targets.iter().any(|t| t == "-") {
        bail!("watch follows files; to read stdin once, use `zkb scan -`");
    }
    let opts = WatchOptions {
        targets,
        follow: FollowOptions {
            from_start: a.from_start,
            flush_after: Duration::from_millis(a.flush_ms),
            kind: g.kind,
            ..FollowOptions::default()
        },
        poll: a.poll,
        data_dir,
        record: !a.no_store,
        silence: match crate::rules::parse_duration(&silence) {
            Some(d) if d.is_zero() => None,
            Some(d) => Some(d),
            None => bail!("--silence {silence:?} is not a duration (10m, 1h, or 0 for none)"),
        },
    };
    let versions = HashMap::new();
    let printer = super::printer(g, &kb, &matcher, &versions);
    let stop = watch::stop_on_signals();
    let rules = watch::Rules {
        matcher: matcher.clone(),
        reloader: Some(reloader),
    };
    // Acknowledged incidents raise no alert (read from the store the watch records into).
    let acks = if exec.is_some() && opts.record {
        opts.data_dir
            .as_deref()
            .and_then(|d| crate::store::Store::open(d).ok())
    } else {
        None
    };
    let baseline = match &a.baseline {
        None => None,
        Some(file) => {
            let path = match file {
                Some(f) => f.clone(),
                None => super::baseline::default_path(g)?,
            };
            let b = crate::baseline::Baseline::load(&path)
                .context("--baseline (build one with `zkb baseline build`)")?;
            Some(b)
        }
    };
    let mut alerter = exec.map(|cmd| Alerter::new(cmd, a.exec_per_minute));
    let dashboard = a.tui || (!a.no_tui && g.format == Format::Human && io::stdout().is_terminal());
    let alerts = Alerts {
        alerter: alerter.as_mut(),
        acks,
        only_host: a.host.clone(),
    };
    let result = if dashboard {
        // The dashboard counts the error events no rule knew, for its `L` key.
        let scan_opts = ScanOptions {
            unmatched: true,
            ..scan_opts.clone()
        };
        let out = Outputs {
            alerts,
            site: a.site.clone().or_else(|| site_root(&opts.targets)),
            baseline,
        };
        run_dashboard(&opts, rules, &scan_opts, &printer, out, stop)
    } else {
        let out = Outputs {
            alerts,
            site: None,
            baseline,
        };
        run_lines(g, &opts, rules, &scan_opts, &printer, out, stop)
    };
    if let Some(alerter) = alerter.as_mut() {
        alerter.finish(Duration::from_secs(5));
    }
    match result {
        Ok(()) => Ok(Outcome { code: 0 }),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Outcome { code: 0 }),
        Err(e) => Err(anyhow::Error::new(e).context("writing output")),
    }
}

/// Streams findings as lines (human or JSON), flushed one by one.
fn run_lines(
    g: &Global,
    opts: &WatchOptions,
    rules: watch::Rules,
    scan_opts: &ScanOptions,
    printer: &Printer,
    out: Outputs,
    stop: &AtomicBool,
) -> io::Result<()> {
    let Outputs {
        mut alerts,
        baseline: views_baseline,
        ..
    } = out;
    let host = alerts.only_host.clone();
    let human = g.format == Format::Human;
    let mut held = Held::default();
    let mut baseline = views_baseline.as_ref().map(crate::baseline::Live::new);
    let mut folded = 0u64;
    let stdout = io::stdout();
    let rule_count = rules.matcher.rules.len();
    let mut sink = |matcher: &Arc<Matcher>, findings: &[Finding], _events: u64| {
        // The findings index into the rules of their round, which a reload may have replaced.
        let printer = printer.with_matcher(matcher);
        let mut out = stdout.lock();
        for f in findings
            .iter()
            .filter(|f| host.as_ref().is_none_or(|h| f.host.as_ref() == Some(h)))
        {
            if (human && held.repeat(matcher, f)) || resolves_only(matcher, f) {
                if let Some(note) = alerts.raise(&printer, f) {
                    eprintln!("zkb: {note}");
                }
                continue;
            }
            let change = baseline.as_mut().and_then(|b| against(b, matcher, f));
            if change == Some(Change::Same) {
                folded += 1;
                continue;
            }
            printer.finding_marked(&mut out, f, change.map(Change::label).as_deref())?;
            out.flush()?;
            if let Some(note) = alerts.raise(&printer, f) {
                eprintln!("zkb: {note}");
            }
        }
        Ok(())
    };
    let (quiet, verbose) = (g.quiet, g.verbose);
    let mut say = |m: Message| match m {
        Message::Note(n) if verbose => eprintln!("zkb: {}", escape(&n, false)),
        Message::Warning(w) | Message::Info(w) if !quiet => {
            eprintln!("zkb: {}", escape(&w, false))
        }
        _ => {}
    };
    if !quiet {
        eprintln!(
            "zkb: watching {} path(s) with {rule_count} rules; Ctrl-C to stop",
            opts.targets.len(),
        );
    }
    let result = watch::run(opts, rules, scan_opts, stop, &mut sink, &mut say);
    if folded > 0 && !quiet {
        eprintln!("zkb: {folded} finding(s) at their usual rate against the baseline folded away");
    }
    for e in baseline.iter().flat_map(|b| b.gone()).filter(|_| !quiet) {
        eprintln!(
            "zkb: GONE against the baseline: {} on {} (usually {:.1}/h)",
            e.subject,
            escape(e.host.as_deref().unwrap_or("-"), false),
            e.per_hour
        );
    }
    result
}

/// The finding's change against the baseline (rule findings only).
fn against(b: &mut crate::baseline::Live, matcher: &Matcher, f: &Finding) -> Option<Change> {
    let rule = &matcher.rules[f.rule?];
    let ts = f.parsed.ts.as_ref().map(|z| z.timestamp().as_millisecond());
    Some(b.mark(&rule.id, f.host.as_deref(), ts))
}

/// Where a watch's findings go besides the screen: the alerts, the upgrade board of a site
/// (dashboard), and the baseline that they are marked against.
pub(super) struct Outputs<'a> {
    pub alerts: Alerts<'a>,
    pub site: Option<PathBuf>,
    pub baseline: Option<crate::baseline::Baseline>,
}

/// A match of a `resolve_only` rule: it closes incidents, and is not printed.
pub(super) fn resolves_only(matcher: &Matcher, f: &Finding) -> bool {
    f.rule.is_some_and(|r| matcher.rules[r].resolve_only)
}

/// The expected lines of a maintenance window, printed once per server that is down (the
/// first, then again only after half an hour without one); the store counts them all.
#[derive(Default)]
struct Held {
    last: HashMap<String, i64>,
}

impl Held {
    fn repeat(&mut self, matcher: &Matcher, f: &Finding) -> bool {
        if f.rule
            .is_none_or(|r| matcher.rules[r].id != crate::maint::EXPECTED_RULE)
        {
            return false;
        }
        let down = f
            .fields
            .iter()
            .find(|(k, _)| k == "down")
            .map_or("", |(_, v)| v.as_str());
        let t = f
            .parsed
            .ts
            .as_ref()
            .map_or(0, |z| z.timestamp().as_millisecond());
        match self.last.insert(down.to_string(), t) {
            Some(before) => t - before < crate::store::GAP_MS,
            None => false,
        }
    }
}

/// The per-host tree a watch follows, when a target has the shape `<root>/*/<file glob>`
/// (a log receiver's `/var/log/remote/*/*.log`): the upgrade pane reads its servers.
fn site_root(targets: &[String]) -> Option<PathBuf> {
    targets.iter().find_map(|t| {
        let (root, rest) = t.split_once("/*/")?;
        (!root.contains(['*', '?', '[']) && !rest.contains('/') && !root.is_empty())
            .then(|| PathBuf::from(root))
    })
}

/// The terminal dashboard on this thread, the watch on another.
pub(super) fn run_dashboard(
    opts: &WatchOptions,
    rules: watch::Rules,
    scan_opts: &ScanOptions,
    printer: &Printer,
    out: Outputs,
    stop: &AtomicBool,
) -> io::Result<()> {
    let Outputs {
        mut alerts,
        site,
        baseline,
    } = out;
    let (tx, rx) = mpsc::channel();
    let ctx = dashboard::Context {
        matcher: rules.matcher.clone(),
        kb: printer.kb,
        site,
        data: opts.data_dir.clone().filter(|_| opts.record),
        baseline,
    };
    std::thread::scope(|s| {
        let watcher = s.spawn(move || {
            let messages = tx.clone();
            let mut shown_rules = rules.matcher.clone();
            let mut sink = |matcher: &Arc<Matcher>, findings: &[Finding], events: u64| {
                // Reloaded rules reach the dashboard before the findings that index into them.
                if !Arc::ptr_eq(matcher, &shown_rules) {
                    shown_rules = matcher.clone();
                    let _ = tx.send(Update::Rules(matcher.clone()));
                }
                let printer = printer.with_matcher(matcher);
                for f in findings {
                    if let Some(note) = alerts.raise(&printer, f) {
                        let _ = tx.send(Update::Message(note));
                    }
                }
                let _ = tx.send(Update::Round(findings.to_vec(), events));
                Ok(())
            };
            let mut say = |m: Message| {
                if let Message::Warning(w) | Message::Info(w) = m {
                    let _ = messages.send(Update::Message(escape(&w, false).into_owned()));
                }
            };
            watch::run(opts, rules, scan_opts, stop, &mut sink, &mut say)
        });
        let shown = dashboard::run(rx, stop, ctx);
        stop.store(true, Ordering::Relaxed);
        let watched = watcher.join().expect("the watch thread does not panic");
        shown.and(watched)
    })
}

/// Where findings raise alerts: the `--exec` command, the store's acknowledgements that
/// silence an incident, and `--host` (only that host's findings are shown and alerted).
pub(super) struct Alerts<'a> {
    pub alerter: Option<&'a mut Alerter>,
    pub acks: Option<crate::store::Store>,
    pub only_host: Option<String>,
}

impl Alerts<'_> {
    fn raise(&mut self, printer: &Printer, f: &Finding) -> Option<String> {
        if self
            .only_host
            .as_ref()
            .is_some_and(|h| f.host.as_ref() != Some(h))
        {
            return None;
        }
        // The expected lines of a maintenance window are held, and the lines that open and
        // close one are said as such: no alert.
        let rule = &printer.matcher.rules[f.rule?];
        let alerter = self.alerter.as_deref_mut()?;
        // What a line resolves alerts again when it comes back.
        let group = crate::scan::group_key(rule, f);
        for closed in &rule.resolves {
            alerter.forget(closed, &group);
        }
        if rule.id == crate::maint::EXPECTED_RULE || rule.maintenance.is_some() || rule.resolve_only
        {
            return None;
        }
        alert(alerter, printer, f, self.acks.as_ref())
    }
}

/// Hands a finding to the alerter (findings of rules only; the JSON is the `--format json` line).
/// Runs the alert for a finding, unless its incident is acknowledged in the store (`acks`).
fn alert(
    alerter: &mut Alerter,
    printer: &Printer,
    f: &Finding,
    acks: Option<&crate::store::Store>,
) -> Option<String> {
    let rule = &printer.matcher.rules[f.rule?];
    let key = crate::scan::group_key(rule, f).join("\u{1f}");
    if acks.is_some_and(|s| s.acked(&rule.id, &key, f.host.as_deref())) {
        return None;
    }
    let json = crate::output::json_finding(f, Some(rule), printer.kb, printer.release(f));
    alerter.alert(rule, f, &serde_json::to_vec(&json).ok()?)
}
