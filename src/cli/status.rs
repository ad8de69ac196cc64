//! `zkb status [DIR]`: the upgrade board of a site, from a tree of per-host folders (a log
//! receiver's, or copied logs such as `examples/upgrade-night`).

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::{Global, Outcome};
use crate::board::{self, State};
use crate::output::{escape, Format};

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  zkb status /var/log/remote           the site, from the log receiver's per-host tree\n  zkb status examples/upgrade-night    the bundled night\n  zkb status --format json /var/log/remote | jq '.hosts[] | select(.state != \"done\")'"
)]
pub struct StatusArgs {
    /// A folder with one sub-folder per server (default: /var/log/remote).
    pub dir: Option<PathBuf>,
}

pub fn run(g: &Global, a: &StatusArgs) -> Result<Outcome> {
    let dir = a
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("/var/log/remote"));
    let b = board::read(&dir);
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
            let state = match h.state {
                State::NotStarted => "not started",
                State::Running => "RUNNING",
                State::Done => "done",
                State::Failed => "FAILED",
                State::Interrupted => "INTERRUPTED",
            };
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
