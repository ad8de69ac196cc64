//! `zkb status [DIR]`: the upgrade board of a site, from a tree of per-host folders (a log
//! receiver's, or copied logs such as `examples/upgrade-night`).

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::{Global, Outcome};
use crate::board::{self, State};
use crate::matcher::Matcher;
use crate::output::{escape, Format};
use crate::rules::Severity;
use crate::scan::{self, ScanOptions};
use crate::sources;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  zkb status /var/log/remote           the site, from the log receiver's per-host tree\n  zkb status examples/upgrade-night    the bundled night\n  zkb status --format json /var/log/remote | jq '.hosts[] | select(.state != \"done\")'"
)]
pub struct StatusArgs {
    /// A folder with one sub-folder per server (default: /var/log/remote).
    pub dir: Option<PathBuf>,
    /// List each server's problems at or above this severity, read from its logs by the scan
    /// engine, each with the KB fix for that server's release.
    #[arg(long, value_parser = super::parse_severity, default_value = "high")]
    pub problems: Severity,
    /// Only where each server stands: do not scan the logs for problems.
    #[arg(long)]
    pub no_problems: bool,
}

/// Scans the tree and puts each rule finding on its host's line of the board.
fn add_problems(
    g: &Global,
    a: &StatusArgs,
    dir: &std::path::Path,
    b: &mut board::Board,
) -> Result<()> {
    let (set, kb) = super::load(g);
    let matcher = Matcher::new(set.rules);
    let opts = ScanOptions {
        kind: g.kind,
        tz: super::time_zone(g)?,
        year: g.year,
        min_severity: a.problems,
        ..ScanOptions::default()
    };
    let mut errors = Vec::new();
    let inputs = sources::expand(&[dir.display().to_string()], &mut errors);
    for e in &errors {
        eprintln!("zkb: {e}");
    }
    scan::scan_inputs(&inputs, &matcher, &opts, None, |report| {
        for e in &report.errors {
            eprintln!("zkb: {e}");
        }
        for f in &report.findings {
            if let (Some(r), Some(host)) = (f.rule, f.host.as_deref()) {
                board::add_problem(b, host, &matcher.rules[r]);
            }
        }
    });
    board::finish_problems(b, &kb);
    Ok(())
}

pub fn run(g: &Global, a: &StatusArgs) -> Result<Outcome> {
    let dir = a
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("/var/log/remote"));
    let mut b = board::read(&dir);
    if !a.no_problems {
        add_problems(g, a, &dir, &mut b)?;
    }
    let out = io::stdout();
    let mut w = io::BufWriter::new(out.lock());
    if g.format == Format::Json {
        serde_json::to_writer_pretty(&mut w, &b)?;
        writeln!(w)?;
    } else {
        if b.hosts.is_empty() {
            writeln!(w, "no server folders under {}", dir.display())?;
        }
        for h in &b.hosts {
            let state = board::state_label(h.state);
            let versions = match (&h.from_version, &h.to_version) {
                (Some(a), Some(b)) => format!("{a} -> {b}"),
                _ => "-".into(),
            };
            let schema = h
                .schema_step
                .map(|(n, m)| format!(" schema {n}/{m}"))
                .unwrap_or_default();
            let elapsed = h
                .elapsed_min
                .map(|m| format!(" {m} min"))
                .unwrap_or_default();
            writeln!(
                w,
                "{:<12} {:<10} {:<12} {versions}{schema}{elapsed}",
                escape(&h.host, false),
                h.role,
                state
            )?;
            if matches!(h.state, State::Running | State::Failed | State::Interrupted) {
                if let Some(step) = &h.step {
                    writeln!(w, "             last step: {}", escape(step, false))?;
                }
            }
            for p in &h.problems {
                writeln!(
                    w,
                    "             {} {} ({}x): {}",
                    p.severity.to_uppercase(),
                    p.rule,
                    p.count,
                    escape(&p.title, false)
                )?;
                if let Some(fix) = &p.fix {
                    let variant = p
                        .fix_for
                        .as_deref()
                        .map(|v| format!(" [{v}]"))
                        .unwrap_or_default();
                    writeln!(w, "               fix{variant}: {}", escape(fix, false))?;
                }
            }
        }
        for f in &b.findings {
            writeln!(
                w,
                "\n{} {}: {}",
                f.severity.to_uppercase(),
                f.id,
                escape(&f.message, false)
            )?;
            for kb in &f.kb {
                writeln!(w, "  fix: zkb kb show {kb}")?;
            }
        }
    }
    w.flush()?;
    Ok(Outcome { code: 0 })
}
