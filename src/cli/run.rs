//! `zkb run -- COMMAND`: the command line over [`crate::run`], and the summary printed when
//! the command has ended.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::{self, Write};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::{load, style_stderr, time_zone, Global, Outcome};
use crate::kb::Kb;
use crate::matcher::Matcher;
use crate::output::{escape, json_finding, Style};
use crate::rules::Rule;
use crate::run::{self, RunOptions};
use crate::scan::{Finding, ScanOptions};
use crate::state;
use crate::watch::alert::Alerter;

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  zkb run -- ./install.sh                 the installer, exactly as run bare
  zkb run --name mbx2 -- ./install.sh -s  a name for the recording
  zkb run --notify 'mail -s zkb admin@example.com' -- ./install.sh

The command runs in a pseudo-terminal: prompts, answers, colours, window size and Ctrl-C pass
through unchanged, and zkb exits with the command's status. What it prints is recorded (escape
sequences stripped) under the data dir's runs/ directory, which `zkb watch` also follows, and
the problems found are listed with their fixes when the command ends.")]
pub struct RunArgs {
    /// A name for the recording (default: the command's file name).
    #[arg(long)]
    pub name: Option<String>,
    /// Run this command on each new finding during the run, with its JSON on stdin (as
    /// `watch --exec`).
    #[arg(long, value_name = "CMD")]
    pub notify: Option<String>,
    /// The command and its arguments (after `--`).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<OsString>,
}

/// Test hooks for the matcher (`sleep`, `panic`), from the environment.
const HOOK_VAR: &str = "ZKB_TEST_MATCHER_HOOK";

pub fn run(g: &Global, a: &RunArgs) -> Result<Outcome> {
    if a.command.is_empty() {
        bail!("zkb run needs a command: zkb run -- ./install.sh");
    }
    let Some(data) = state::data_dir(g.data.as_deref()) else {
        bail!("no data directory to record in (set --data or ZKB_DATA)");
    };
    if std::env::var_os("TMUX").is_none() && std::env::var_os("STY").is_none() && !g.quiet {
        eprintln!(
            "zkb: warning: not inside tmux or screen; if this SSH session drops, the installer dies with it (tmux new -s upgrade, then run this again)"
        );
    }
    let name = a.name.clone().unwrap_or_else(|| {
        std::path::Path::new(&a.command[0])
            .file_stem()
            .map_or_else(|| "run".into(), |s| s.to_string_lossy().into_owned())
    });
    let (set, kb) = load(g);
    let matcher = Arc::new(Matcher::new(set.rules));
    let scan_opts = ScanOptions {
        tz: time_zone(g)?,
        year: g.year,
        ..ScanOptions::default()
    };
    let opts = RunOptions {
        command: a.command.clone(),
        record: run::record_path(&data, &name),
        hook: std::env::var(HOOK_VAR).ok(),
    };
    let kb = Arc::new(kb);
    let notify = notifier(a.notify.clone(), matcher.clone(), kb.clone());
    let window = open_window(&data, a);
    let outcome = run::run(&opts, matcher.clone(), &scan_opts, notify);
    close_window(window);
    let outcome = outcome.with_context(|| format!("running {:?}", a.command[0]))?;
    if !g.quiet {
        let mut err = io::stderr().lock();
        summary(&mut err, &outcome, &matcher.rules, &kb, &style_stderr(g))?;
        writeln!(
            err,
            "zkb: recorded in {}; exit status {}",
            opts.record.display(),
            outcome.exit_code
        )?;
    }
    Ok(Outcome {
        code: outcome.exit_code,
    })
}

/// The run is a maintenance window of this host (see `zkb maint`), so that a watch here holds
/// the errors that the installer's stops and restarts cause. Best effort: a store that cannot
/// be opened does not stop the installer.
fn open_window(data: &std::path::Path, a: &RunArgs) -> Option<(crate::store::Store, i64)> {
    let host = crate::sources::local_hostname()?;
    let mut store = crate::store::Store::open(data).ok()?;
    let command: Vec<String> = a
        .command
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let w = crate::maint::Window {
        scope: crate::maint::Scope::Host(host),
        start_ms: jiff::Timestamp::now().as_millisecond(),
        end_ms: None,
        reason: format!("zkb run -- {}", command.join(" ")),
        source: "zkb run".into(),
        id: None,
    };
    let id = store.maint_start(&w).ok()?;
    Some((store, id))
}

fn close_window(window: Option<(crate::store::Store, i64)>) {
    if let Some((mut store, id)) = window {
        let now = jiff::Timestamp::now().as_millisecond();
        if let Err(e) = store.maint_close(id, now) {
            eprintln!("zkb: {e}");
        }
    }
}

/// The `--notify` hook: the alerter of `watch --exec`, once per new finding's incident.
fn notifier(cmd: Option<String>, matcher: Arc<Matcher>, kb: Arc<Kb>) -> run::OnFinding {
    let Some(cmd) = cmd else {
        return Box::new(|_| {});
    };
    let mut alerter = Alerter::new(cmd, 10);
    Box::new(move |f: &Finding| {
        let Some(r) = f.rule else { return };
        let rule = &matcher.rules[r];
        let json = json_finding(f, Some(rule), &kb, None);
        if let Ok(bytes) = serde_json::to_vec(&json) {
            alerter.alert(rule, f, &bytes);
        }
    })
}

/// Each finding with its severity and console line, and each KB entry's fix steps once.
fn summary(
    w: &mut impl Write,
    outcome: &run::RunOutcome,
    rules: &[Rule],
    kb: &Kb,
    s: &Style,
) -> io::Result<()> {
    writeln!(w)?;
    if outcome.findings.is_empty() {
        writeln!(w, "zkb: no known problem in the command's output")?;
    } else {
        writeln!(
            w,
            "zkb: {} finding(s) in the command's output:",
            outcome.findings.len()
        )?;
    }
    let mut fixes_shown = BTreeSet::new();
    for f in &outcome.findings {
        let Some(rule) = f.rule.map(|i| &rules[i]) else {
            continue;
        };
        let sev = rule.severity.as_str().to_uppercase();
        writeln!(w, "\n{} {}  [{}]", s.paint("1", &sev), rule.title, rule.id)?;
        for line in f.text.lines().take(3) {
            writeln!(w, "  | {}", escape(line, false))?;
        }
        for id in &rule.kb {
            let Some(entry) = kb.get(id) else { continue };
            if !fixes_shown.insert(id.clone()) {
                writeln!(w, "  KB {id}: fix shown above")?;
                continue;
            }
            writeln!(w, "  KB {}  (zkb kb show {id})", entry.title())?;
            writeln!(w, "  {}", s.paint("32", "Fix:"))?;
            for line in entry.section("Fix").unwrap_or("").lines() {
                writeln!(w, "    {line}")?;
            }
        }
    }
    if outcome.dropped > 0 {
        writeln!(
            w,
            "\nzkb: {} chunk(s) of output came faster than they could be recorded and were not matched (the command saw none of this)",
            outcome.dropped
        )?;
    }
    for p in &outcome.problems {
        writeln!(w, "zkb: {p}")?;
    }
    Ok(())
}
