//! `zkb diff --before A..B --after B..C`: what changed between two windows of the incident
//! store, NEW first, chronic problems at their usual rate folded away.

use std::io::{self, Write};

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;

use super::{parse_time, state, style, time_zone, Global, Outcome};
use crate::diff::{compare, Change, Row};
use crate::output::{escape, Format};
use crate::store::counts::Subject;
use crate::store::Store;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  zkb diff --before 2026-03-07..2026-03-14T20:00 --after 2026-03-14T20:00..now\n  zkb diff --before 7d..1d --after 1d..now --host mbx2\n  zkb diff --before 2026-03-01T00:00..2026-03-01T12:00 --after 2026-03-01T12:00..2026-03-02 --format json\n\nTimes are RFC 3339, YYYY-MM-DD[THH:MM], an age (2h, 3d) or `now`. A subject (a rule, or a\ntemplate of errors no rule knew) on a host is NEW when absent before, GONE when absent after,\n×N when its hourly rate moved by 2× or more; the rest, at their usual rate, are folded (--all\nshows them)."
)]
pub struct DiffArgs {
    /// The reference window, `FROM..TO`.
    #[arg(long, value_name = "FROM..TO")]
    pub before: String,
    /// The window to compare with it, `FROM..TO`.
    #[arg(long, value_name = "FROM..TO")]
    pub after: String,
    /// Only this host.
    #[arg(long)]
    pub host: Option<String>,
    /// Show the subjects at their usual rate too.
    #[arg(long)]
    pub all: bool,
}

pub fn run(g: &Global, a: &DiffArgs) -> Result<Outcome> {
    let before = window(g, &a.before).context("--before")?;
    let after = window(g, &a.after).context("--after")?;
    let dir =
        state::data_dir(g.data.as_deref()).context("no data directory (set --data or ZKB_DATA)")?;
    let store = Store::open(&dir)?;
    let keep = |c: &crate::store::counts::Count| a.host.is_none() || c.host == a.host;
    let b: Vec<_> = store
        .counts_between(before.0, before.1)?
        .into_iter()
        .filter(keep)
        .collect();
    let af: Vec<_> = store
        .counts_between(after.0, after.1)?
        .into_iter()
        .filter(keep)
        .collect();
    let rows = compare(&b, hours(before), &af, hours(after));
    let folded = rows.iter().filter(|r| r.change == Change::Same).count();
    let shown: Vec<&Row> = rows
        .iter()
        .filter(|r| a.all || r.change != Change::Same)
        .collect();
    let out = io::stdout();
    let mut w = io::BufWriter::new(out.lock());
    let result = match g.format {
        Format::Json => shown
            .iter()
            .try_for_each(|r| writeln!(w, "{}", row_json(r))),
        Format::Human => human(&mut w, &shown, g),
    };
    match result.and_then(|_| w.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(Outcome { code: 0 }),
        r => r?,
    }
    if !g.quiet && folded > 0 && !a.all {
        eprintln!("zkb: {folded} at their usual rate folded away (--all shows them)");
    }
    Ok(Outcome { code: 0 })
}

/// `FROM..TO` in milliseconds.
fn window(g: &Global, s: &str) -> Result<(i64, i64)> {
    let (from, to) = s.split_once("..").with_context(|| {
        format!("{s:?} is not a window: write FROM..TO (2026-03-01T00:00..2026-03-01T12:00)")
    })?;
    let tz = time_zone(g)?;
    let at = |t: &str| -> Result<i64> {
        if t == "now" {
            return Ok(jiff::Timestamp::now().as_millisecond());
        }
        Ok(parse_time(t, &tz)?.as_millisecond())
    };
    let (from, to) = (at(from)?, at(to)?);
    anyhow::ensure!(from < to, "{s:?} ends before it starts");
    Ok((from, to))
}

fn hours((from, to): (i64, i64)) -> f64 {
    (to - from) as f64 / 3_600_000.0
}

fn subject(r: &Row) -> (&'static str, &str) {
    match &r.subject {
        Subject::Rule(id) => ("rule", id),
        Subject::Unknown(t) => ("template", t),
    }
}

fn row_json(r: &Row) -> serde_json::Value {
    let (kind, what) = subject(r);
    json!({
        "change": r.change.label(),
        kind: what,
        "host": r.host,
        "title": r.title,
        "severity": r.severity,
        "before": r.before,
        "after": r.after,
        "before_per_hour": (r.before_per_hour * 100.0).round() / 100.0,
        "after_per_hour": (r.after_per_hour * 100.0).round() / 100.0,
        "incidents_after": r.incidents_after,
    })
}

fn human(w: &mut impl Write, rows: &[&Row], g: &Global) -> io::Result<()> {
    if rows.is_empty() {
        return writeln!(w, "nothing new: everything after is at its usual rate");
    }
    let s = style(g);
    for r in rows {
        let (_, what) = subject(r);
        let title = match r.subject {
            Subject::Rule(_) => r.title.as_str(),
            Subject::Unknown(_) => "(no rule knew it)",
        };
        let label = r.change.label();
        let label = match r.change {
            Change::New | Change::Up(_) => s.bold(&format!("{label:<6}")).to_string(),
            _ => format!("{label:<6}"),
        };
        writeln!(
            w,
            "{label} {:<8} {:<8} {:>6} -> {:<6} {}  {}",
            r.severity,
            escape(r.host.as_deref().unwrap_or("-"), false),
            r.before,
            r.after,
            escape(what, false),
            escape(title, false)
        )?;
    }
    Ok(())
}
