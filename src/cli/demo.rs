//! `zkb demo`: replays the bundled upgrade night into a temporary directory while watching it.

use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use super::{load, Global, Outcome};
use crate::demo::Replay;
use crate::matcher::Matcher;
use crate::output::{escape, Format};
use crate::scan::{Finding, ScanOptions};
use crate::watch::follow::FollowOptions;
use crate::watch::{self, Message, WatchOptions};

#[derive(Args, Debug)]
#[command(after_help = "\
The night: six hosts (ldap1, mbx1, mbx2, mta1, proxy1, archive1) upgraded one after the other,
with the installer's console, zmsetup logs, mailbox.log, zimbra.log, nginx.log and
zmmailboxd.out. Each event is written at its own time, the whole night squeezed into --seconds,
and one mailbox.log is rotated half-way; what you see is the real `zkb watch` following it.")]
pub struct DemoArgs {
    /// How long the replay of the whole night takes.
    #[arg(long, default_value_t = 60.0)]
    pub seconds: f64,
    /// Stream findings as lines even on a terminal (else the dashboard shows the night, and
    /// stays open after it until you press q).
    #[arg(long)]
    pub no_tui: bool,
    /// Replay into this directory (kept afterwards) instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn run(g: &Global, a: &DemoArgs) -> Result<Outcome> {
    let replay = Replay::upgrade_night();
    let temp = TempDir::new().context("creating a temporary directory")?;
    let dir = a.dir.clone().unwrap_or_else(|| temp.0.join("night"));
    replay
        .prepare(&dir)
        .with_context(|| format!("preparing {}", dir.display()))?;
    let (set, kb) = load(g);
    let matcher = Arc::new(Matcher::new(set.rules));
    let scan_opts = ScanOptions {
        kind: g.kind,
        tz: jiff::tz::TimeZone::UTC,
        ..ScanOptions::default()
    };
    let opts = WatchOptions {
        targets: vec![
            dir.join("*/*.log").display().to_string(),
            dir.join("*/*.out").display().to_string(),
        ],
        follow: FollowOptions {
            from_start: true,
            ..FollowOptions::default()
        },
        poll: None,
        data_dir: Some(temp.0.join("data")),
        record: false,
        silence: None,
    };
    let versions = HashMap::new();
    let printer = super::printer(g, &kb, &matcher, &versions);
    if !g.quiet {
        eprintln!(
            "zkb demo: replaying {} events of an upgrade night from 6 hosts into {} over {:.0} s (Ctrl-C to stop)",
            replay.events(),
            dir.display(),
            a.seconds
        );
    }
    let stop = watch::stop_on_signals();
    let mut findings = 0u64;
    let dashboard = !a.no_tui && g.format == Format::Human && io::stdout().is_terminal();
    let result = {
        let stdout = io::stdout();
        // The demo's rules never change: every batch indexes into `matcher`.
        let mut sink = |_: &Arc<Matcher>, batch: &[Finding], _events: u64| -> io::Result<()> {
            let mut out = stdout.lock();
            for f in batch
                .iter()
                .filter(|f| !super::watch::resolves_only(&matcher, f))
            {
                printer.finding(&mut out, f)?;
                out.flush()?;
                findings += 1;
            }
            Ok(())
        };
        let verbose = g.verbose;
        let mut say = |m: Message| match m {
            Message::Note(n) if verbose => eprintln!("zkb: {}", escape(&n, false)),
            Message::Warning(w) | Message::Info(w) => eprintln!("zkb: {}", escape(&w, false)),
            _ => {}
        };
        let rules = watch::Rules {
            matcher: matcher.clone(),
            reloader: None,
        };
        std::thread::scope(|s| {
            let writer = s.spawn(|| {
                let played = replay.play(&dir, a.seconds.max(0.0), stop);
                if !dashboard {
                    // Give the watcher a moment for the last events, then end the watch.
                    std::thread::sleep(Duration::from_millis(500));
                    stop.store(true, Ordering::Relaxed);
                }
                played
            });
            let watched = if dashboard {
                super::watch::run_dashboard(
                    &opts,
                    rules,
                    &scan_opts,
                    &printer,
                    super::watch::Outputs {
                        alerts: super::watch::Alerts {
                            alerter: None,
                            acks: None,
                            only_host: None,
                        },
                        site: Some(dir.clone()),
                        baseline: None,
                    },
                    stop,
                )
            } else {
                watch::run(&opts, rules, &scan_opts, stop, &mut sink, &mut say)
            };
            stop.store(true, Ordering::Relaxed);
            let played = writer.join().expect("the replay thread does not panic");
            (watched, played)
        })
    };
    match result {
        (Err(e), _) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(Outcome { code: 0 }),
        (Err(e), _) => return Err(anyhow::Error::new(e).context("writing output")),
        (_, Err(e)) => return Err(anyhow::Error::new(e).context("replaying the night")),
        _ => {}
    }
    if !g.quiet && !dashboard {
        eprintln!(
            "zkb demo: {findings} findings. On a real host: `zkb watch` (the standard Zimbra logs), or `zkb scan /opt/zimbra/log`."
        );
    }
    Ok(Outcome { code: 0 })
}

/// A directory of our own under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> io::Result<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!("zkb-demo-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
