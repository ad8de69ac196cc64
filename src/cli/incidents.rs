//! `zkb incidents list|search|show`: what the incident store remembers.

use std::io::{self, Write};

use anyhow::{Context, Result};
use clap::Subcommand;

use super::{Global, Outcome};
use crate::output::{escape, Format};
use crate::state;
use crate::store::{Incident, Store};
use crate::watch::checkpoint::Fingerprint;

#[derive(Subcommand, Debug)]
pub enum IncidentsCommand {
    /// The most recent incidents.
    List {
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        filter: Filter,
    },
    /// Incidents whose title, rule, fields, host or event text match the words.
    Search {
        #[arg(required = true)]
        query: Vec<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        filter: Filter,
    },
    /// One incident with its sample event.
    Show { id: i64 },
    /// Occurrence counts by rule, host, severity and day.
    Stats,
    /// Forget incidents last seen longer ago than this (e.g. 90d).
    Prune {
        #[arg(long, value_name = "AGE")]
        keep: String,
    },
}

/// Which incidents `list` and `search` show.
#[derive(clap::Args, Debug, Default)]
pub struct Filter {
    /// Only incidents seen at or after this time (RFC 3339, a date, or an age like 2h, 7d).
    #[arg(long)]
    since: Option<String>,
    /// Only incidents seen at or before this time.
    #[arg(long)]
    until: Option<String>,
    /// Only this host.
    #[arg(long)]
    host: Option<String>,
    /// Only these rules (an id, or a prefix ending in `*`).
    #[arg(long)]
    rule: Option<String>,
    /// Only incidents at or above this severity.
    #[arg(long, value_parser = super::parse_severity)]
    min_severity: Option<crate::rules::Severity>,
}

impl Filter {
    /// Keeps the incidents the filter lets through, at most `limit`.
    fn apply(&self, g: &Global, found: Vec<Incident>, limit: usize) -> Result<Vec<Incident>> {
        let tz = super::time_zone(g)?;
        let ms = |s: &Option<String>| -> Result<Option<i64>> {
            s.as_deref()
                .map(|s| super::parse_time(s, &tz).map(|t| t.as_millisecond()))
                .transpose()
        };
        let (since, until) = (ms(&self.since)?, ms(&self.until)?);
        let rule_ok = |id: &str| match self.rule.as_deref() {
            None => true,
            Some(r) => match r.strip_suffix('*') {
                Some(prefix) => id.starts_with(prefix),
                None => id == r,
            },
        };
        Ok(found
            .into_iter()
            .filter(|i| since.is_none_or(|s| i.last_ms.is_none_or(|l| l >= s)))
            .filter(|i| until.is_none_or(|u| i.first_ms.is_none_or(|f| f <= u)))
            .filter(|i| {
                self.host
                    .as_ref()
                    .is_none_or(|h| i.host.as_ref() == Some(h))
            })
            .filter(|i| rule_ok(&i.rule))
            .filter(|i| {
                self.min_severity.is_none_or(|m| {
                    crate::rules::Severity::parse(&i.severity).is_some_and(|s| s >= m)
                })
            })
            .take(limit)
            .collect())
    }
}

/// Incidents fetched before filtering.
const FETCH: usize = 100_000;

/// What identifies an input's content for the store: a fingerprint of its first KiB
/// (decompressed), so the `.gz` of a file already stored, or the same file grown, is the same
/// source. A file shorter than that is known by its path until it grows past it.
pub fn source_identity(path: &str) -> String {
    let open = || -> io::Result<Fingerprint> {
        let f = std::fs::File::open(path)?;
        if path.ends_with(".gz") {
            Fingerprint::of_reader(flate2::read::MultiGzDecoder::new(f))
        } else {
            Fingerprint::of_file(&f)
        }
    };
    match open() {
        Ok(fp) if fp.len as usize >= crate::watch::checkpoint::FINGERPRINT_BYTES => {
            format!("fp:{:016x}", fp.hash)
        }
        _ => {
            let full = std::fs::canonicalize(path)
                .map_or_else(|_| path.into(), |p| p.display().to_string());
            format!("path:{full}")
        }
    }
}

pub fn run(g: &Global, cmd: &IncidentsCommand) -> Result<Outcome> {
    let dir =
        state::data_dir(g.data.as_deref()).context("no data directory (set --data or ZKB_DATA)")?;
    let mut store = Store::open(&dir)?;
    match cmd {
        IncidentsCommand::Stats => return stats(g, &store),
        IncidentsCommand::Prune { keep } => {
            let age = crate::rules::parse_duration(keep)
                .with_context(|| format!("{keep:?} is not an age (use 90d, 12h)"))?;
            let cut = jiff::Timestamp::now().as_millisecond() - age.as_millis() as i64;
            let n = store.prune(cut)?;
            if !g.quiet {
                eprintln!("zkb: pruned {n} incident(s) last seen before {keep} ago");
            }
            return Ok(Outcome { code: 0 });
        }
        _ => {}
    }
    let found = match cmd {
        IncidentsCommand::List { limit, filter } => filter.apply(g, store.list(FETCH)?, *limit)?,
        IncidentsCommand::Search {
            query,
            limit,
            filter,
        } => filter.apply(g, store.search(&query.join(" "), FETCH)?, *limit)?,
        IncidentsCommand::Show { id } => match store.get(*id)? {
            Some(i) => vec![i],
            None => anyhow::bail!("no incident {id} in {}", dir.display()),
        },
        IncidentsCommand::Stats | IncidentsCommand::Prune { .. } => unreachable!("handled above"),
    };
    let out = io::stdout();
    let mut w = io::BufWriter::new(out.lock());
    match g.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut w, &found)?;
            writeln!(w)?;
        }
        Format::Human => {
            let full = matches!(cmd, IncidentsCommand::Show { .. });
            for i in &found {
                human(&mut w, i, full)?;
            }
            if found.is_empty() {
                writeln!(w, "no incidents")?;
            }
        }
    }
    w.flush()?;
    Ok(Outcome { code: 0 })
}

fn stats(g: &Global, store: &Store) -> Result<Outcome> {
    let mut all = serde_json::Map::new();
    let mut text = String::new();
    for by in ["severity", "rule", "host", "day"] {
        let rows = store.stats(by)?;
        text.push_str(&format!("by {by}:\n"));
        for (k, n) in &rows {
            text.push_str(&format!("  {n:>8}  {}\n", escape(k, false)));
        }
        all.insert(
            by.to_string(),
            rows.into_iter()
                .map(|(k, n)| (k, serde_json::Value::from(n)))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        );
    }
    if g.format == Format::Json {
        text = format!("{}\n", serde_json::Value::Object(all));
    }
    match io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(Outcome { code: 0 }),
    }
}

fn human(w: &mut impl Write, i: &Incident, full: bool) -> io::Result<()> {
    writeln!(
        w,
        "#{:<5} {:<8} {:>5}x  {}  {} .. {}  {}  [{}] {}",
        i.id,
        i.severity.to_uppercase(),
        i.count,
        i.host
            .as_deref()
            .map_or("-".into(), |h| escape(h, false).into_owned()),
        i.first_seen.as_deref().unwrap_or("-"),
        i.last_seen.as_deref().unwrap_or("-"),
        i.title,
        i.rule,
        escape(&i.group, false)
    )?;
    if full {
        writeln!(w, "  {}:{}", escape(&i.sample_file, false), i.sample_line)?;
        for l in i.sample.lines() {
            writeln!(w, "  | {}", escape(l, false))?;
        }
        for kb in &i.kb {
            writeln!(w, "  KB: zkb kb show {kb}")?;
        }
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Start of the window (same forms as scan --since). Default: everything stored.
    #[arg(long)]
    pub since: Option<String>,
    /// End of the window.
    #[arg(long)]
    pub until: Option<String>,
    /// Write a self-contained HTML page here.
    #[arg(long, value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,
    /// Write Markdown here.
    #[arg(long, value_name = "FILE")]
    pub md: Option<std::path::PathBuf>,
    /// Mask accounts, e-mail addresses and IPs (for a report that leaves the team).
    #[arg(long)]
    pub redact: bool,
}

pub fn report(g: &Global, a: &ReportArgs) -> Result<Outcome> {
    let dir =
        state::data_dir(g.data.as_deref()).context("no data directory (set --data or ZKB_DATA)")?;
    let store = Store::open(&dir)?;
    let tz = super::time_zone(g)?;
    let ms = |s: &Option<String>| -> Result<Option<i64>> {
        s.as_deref()
            .map(|s| super::parse_time(s, &tz).map(|t| t.as_millisecond()))
            .transpose()
    };
    let (since, until) = (ms(&a.since)?, ms(&a.until)?);
    let incidents = store.between(since, until)?;
    let times = store.occurrence_times(since, until)?;
    let kb = super::load_kb_only(g);
    let data = crate::report::ReportData {
        title: format!(
            "zkb report: {} .. {}",
            a.since.as_deref().unwrap_or("the first stored event"),
            a.until.as_deref().unwrap_or("the last")
        ),
        incidents: &incidents,
        times: &times,
        kb: &kb,
        redact: a.redact,
    };
    if let Some(p) = &a.md {
        std::fs::write(p, markdown(&data)).with_context(|| format!("writing {}", p.display()))?;
    }
    match &a.html {
        Some(p) => std::fs::write(p, crate::report::to_html(&data))
            .with_context(|| format!("writing {}", p.display()))?,
        None if a.md.is_none() => {
            io::stdout().write_all(crate::report::to_html(&data).as_bytes())?
        }
        None => {}
    }
    if !g.quiet {
        eprintln!("zkb: report of {} incidents", incidents.len());
    }
    Ok(Outcome { code: 0 })
}

fn markdown(d: &crate::report::ReportData) -> String {
    let clean = |t: &str| {
        let t = if d.redact {
            crate::report::redact(t)
        } else {
            t.to_string()
        };
        t.replace('`', "'")
    };
    let mut s = format!("# {}\n\n", d.title);
    for i in d.incidents {
        s.push_str(&format!(
            "## {} {} ({}x, {})\n\n`{}` on {} from {} to {}\n\n```\n{}\n```\n\n",
            i.severity.to_uppercase(),
            i.title,
            i.count,
            i.rule,
            clean(&i.group),
            clean(i.host.as_deref().unwrap_or("-")),
            i.first_seen.as_deref().unwrap_or("-"),
            i.last_seen.as_deref().unwrap_or("-"),
            clean(&i.sample)
        ));
        for id in &i.kb {
            if let Some(e) = d.kb.get(id) {
                s.push_str(&format!(
                    "Fix ({}):\n\n{}\n\n",
                    e.title(),
                    e.section("Fix").unwrap_or("")
                ));
            }
        }
    }
    s
}
