//! `zkb baseline build|show`: the ordinary rates of a site, from the incident store (or from
//! rotated logs, scanned into it first), for `zkb watch --baseline` (see [`crate::baseline`]).

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use super::{parse_time, state, time_zone, Global, Outcome};
use crate::baseline::Baseline;
use crate::output::{escape, Format};
use crate::store::Store;

#[derive(Subcommand, Debug)]
pub enum BaselineCommand {
    /// Count each rule and each template of errors no rule knew, per host, over a window of
    /// ordinary time, and save the hourly rates.
    Build(BuildArgs),
    /// Print the saved baseline, most frequent first.
    Show(ShowArgs),
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  zkb baseline build --since 7d --until 1h           the last week before tonight\n  zkb baseline build /opt/zimbra/log/mailbox.log.*.gz /var/log/zimbra.log.*.gz\n  zkb watch --baseline                                NEW first, chronic errors folded away\n\nWith PATHs, the rotated logs are scanned into the incident store first (as\n`zkb scan --store --unmatched` does; stored twice they add nothing), and the window defaults\nto what the store holds."
)]
pub struct BuildArgs {
    /// Rotated logs to read into the store first.
    pub paths: Vec<String>,
    /// Start of the window (RFC 3339, YYYY-MM-DD[THH:MM], an age such as 7d). Default: the
    /// first occurrence stored.
    #[arg(long)]
    pub since: Option<String>,
    /// End of the window. Default: the last occurrence stored.
    #[arg(long)]
    pub until: Option<String>,
    /// Where to save it. Default: baseline.json in the data dir.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The baseline file. Default: baseline.json in the data dir.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// Where the baseline lives by default.
pub fn default_path(g: &Global) -> Result<PathBuf> {
    let dir =
        state::data_dir(g.data.as_deref()).context("no data directory (set --data or ZKB_DATA)")?;
    Ok(dir.join("baseline.json"))
}

pub fn run(g: &Global, command: &BaselineCommand) -> Result<Outcome> {
    match command {
        BaselineCommand::Build(a) => build(g, a),
        BaselineCommand::Show(a) => {
            let path = a.file.clone().map_or_else(|| default_path(g), Ok)?;
            show(g, &Baseline::load(&path)?)
        }
    }
}

fn build(g: &Global, a: &BuildArgs) -> Result<Outcome> {
    let dir =
        state::data_dir(g.data.as_deref()).context("no data directory (set --data or ZKB_DATA)")?;
    if !a.paths.is_empty() {
        scan_into_store(g, &dir, &a.paths)?;
    }
    let store = Store::open(&dir)?;
    let tz = time_zone(g)?;
    let at = |s: &Option<String>| -> Result<Option<i64>> {
        s.as_deref()
            .map(|s| parse_time(s, &tz).map(|t| t.as_millisecond()))
            .transpose()
    };
    let span = store.occurrence_span()?;
    let since = at(&a.since)?.or(span.map(|s| s.0));
    let until = at(&a.until)?.or(span.map(|s| s.1 + 1));
    let (Some(since), Some(until)) = (since, until) else {
        anyhow::bail!(
            "the incident store in {} is empty: scan some logs into it first (zkb baseline build PATH...)",
            dir.display()
        );
    };
    if until <= since {
        anyhow::bail!("--until must come after --since");
    }
    let b = Baseline::from_counts(&store.counts_between(since, until)?, since, until);
    let path = a.out.clone().map_or_else(|| default_path(g), Ok)?;
    b.save(&path)?;
    if !g.quiet {
        eprintln!(
            "zkb: baseline of {} subject(s) over {:.1} h ({} .. {}) saved in {}",
            b.entries.len(),
            b.hours,
            b.since,
            b.until,
            path.display()
        );
    }
    Ok(Outcome { code: 0 })
}

/// `zkb scan --store --unmatched --no-output -q PATH...` with the same global options.
fn scan_into_store(g: &Global, dir: &std::path::Path, paths: &[String]) -> Result<()> {
    use clap::Parser;
    let mut args = vec!["zkb", "scan", "--store", "--unmatched", "--no-output"];
    args.extend(paths.iter().map(String::as_str));
    let mut cli = super::Cli::try_parse_from(args).context("the paths to scan")?;
    cli.global = g.clone();
    cli.global.data = Some(dir.to_path_buf());
    cli.global.quiet = true;
    let out = super::run(cli)?;
    if out.code == 2 {
        anyhow::bail!("scanning the logs into the store failed (see above)");
    }
    Ok(())
}

fn show(g: &Global, b: &Baseline) -> Result<Outcome> {
    let out = io::stdout();
    let mut w = io::BufWriter::new(out.lock());
    if g.format == Format::Json {
        serde_json::to_writer_pretty(&mut w, b)?;
        writeln!(w)?;
    } else {
        writeln!(w, "baseline {} .. {} ({:.1} h)", b.since, b.until, b.hours)?;
        for e in &b.entries {
            writeln!(
                w,
                "{:>9.2}/h {:>7}  {:<12} {:<7} {}",
                e.per_hour,
                e.count,
                escape(e.host.as_deref().unwrap_or("-"), false),
                e.kind,
                escape(&e.subject, false)
            )?;
        }
    }
    w.flush()?;
    Ok(Outcome { code: 0 })
}
