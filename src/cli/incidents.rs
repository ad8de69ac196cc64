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
    /// One incident in full: the values of its fields (how many mailboxes, which paths), its
    /// sample events with the events around them, its occurrences and its KB fixes.
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
    /// The store's filter, times read in the `--tz` zone.
    fn for_store(&self, g: &Global) -> Result<crate::store::Filter> {
        let tz = super::time_zone(g)?;
        let ms = |s: &Option<String>| -> Result<Option<i64>> {
            s.as_deref()
                .map(|s| super::parse_time(s, &tz).map(|t| t.as_millisecond()))
                .transpose()
        };
        Ok(crate::store::Filter {
            since: ms(&self.since)?,
            until: ms(&self.until)?,
            host: self.host.clone(),
            rule: self.rule.clone(),
            min_severity: self.min_severity,
        })
    }
}

/// What identifies an input's content for the store, as `zkb watch` knows it too
/// ([`crate::watch::follow::source_identity`]): a fingerprint of its first KiB (decompressed),
/// so the `.gz` of a file already stored, or the same file grown, is the same source. A plain
/// file shorter than that is known by its device and inode (generation 0, as the watch knows a
/// file it has not seen truncated); a short `.gz` or stdin by its path. (A short file scanned,
/// then scanned again once past 1 KiB, is two sources: whether the inode still holds the same
/// content cannot be told, and a truncated file's old rows must not be taken for the new.)
pub fn source_identity(path: &str) -> String {
    use std::os::unix::fs::MetadataExt;
    let open = || -> io::Result<(Fingerprint, Option<(u64, u64)>)> {
        let f = std::fs::File::open(path)?;
        if path.ends_with(".gz") {
            Ok((
                Fingerprint::of_reader(flate2::read::MultiGzDecoder::new(f))?,
                None,
            ))
        } else {
            let meta = f.metadata()?;
            let id = meta.is_file().then(|| (meta.dev(), meta.ino()));
            Ok((Fingerprint::of_file(&f)?, id))
        }
    };
    match open() {
        Ok((fp, _)) if fp.len as usize >= crate::watch::checkpoint::FINGERPRINT_BYTES => {
            crate::watch::follow::source_identity(fp, 0, 0, 0)
        }
        Ok((fp, Some((dev, ino)))) => crate::watch::follow::source_identity(fp, dev, ino, 0),
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
        IncidentsCommand::List { limit, filter } => store.list(&filter.for_store(g)?, *limit)?,
        IncidentsCommand::Search {
            query,
            limit,
            filter,
        } => store.search(&query.join(" "), &filter.for_store(g)?, *limit)?,
        IncidentsCommand::Show { id } => return show(g, &store, *id, &dir),
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
            for i in &found {
                human(&mut w, i)?;
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

fn human(w: &mut impl Write, i: &Incident) -> io::Result<()> {
    writeln!(
        w,
        "#{:<5} {:<8} {:>5}x  {}  {} .. {}  {}  [{}] {}{}",
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
        escape(&i.group, false),
        state_note(i)
    )
}

/// `  (resolved ...)`, `  (closed: quiet since ...; acknowledged until ...)`, `  (open)`.
fn state_note(i: &Incident) -> String {
    let mut parts = Vec::new();
    match (&i.resolved, &i.quiet_since) {
        (Some(t), _) => parts.push(format!("resolved {t}")),
        (None, Some(t)) => parts.push(format!("closed: quiet since {t}")),
        (None, None) if i.acked_until.is_none() => parts.push("open".to_string()),
        _ => {}
    }
    if let Some(u) = &i.acked_until {
        parts.push(format!("acknowledged until {u}"));
    }
    format!("  ({})", parts.join("; "))
}

/// `zkb ack ID [--for AGE] [--note TEXT]`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  zkb ack 42 --for 2h --note \"mbx2 restore running, expected\"\n  zkb ack 7                 until its severity changes\n\nAn acknowledged incident raises no --exec alert (also after the watch restarts) and is\nshown as such in `zkb incidents list`, until the time is up or its severity changes."
)]
pub struct AckArgs {
    /// The incident (see `zkb incidents list`).
    pub id: i64,
    /// For how long (`90m`, `2h`, `3d`); without it, until its severity changes.
    #[arg(long = "for", value_name = "AGE")]
    pub duration: Option<String>,
    /// Why, for whoever looks next.
    #[arg(long, default_value = "")]
    pub note: String,
}

pub fn ack(g: &Global, a: &AckArgs) -> Result<Outcome> {
    let dir =
        state::data_dir(g.data.as_deref()).context("no data directory (set --data or ZKB_DATA)")?;
    let mut store = Store::open(&dir)?;
    let until = match &a.duration {
        Some(d) => {
            let age = crate::rules::parse_duration(d)
                .with_context(|| format!("{d:?} is not an age (use 90m, 2h, 3d)"))?;
            Some(jiff::Timestamp::now().as_millisecond() + age.as_millis() as i64)
        }
        None => None,
    };
    if !store.ack(a.id, until, &a.note)? {
        anyhow::bail!(
            "no incident {} in {} (see `zkb incidents list`)",
            a.id,
            dir.display()
        );
    }
    if !g.quiet {
        let when = until
            .and_then(|m| jiff::Timestamp::from_millisecond(m).ok())
            .map_or("its severity changes".to_string(), |t| t.to_string());
        eprintln!("zkb: incident #{} acknowledged until {when}", a.id);
    }
    Ok(Outcome { code: 0 })
}

/// Occurrences listed by `show`.
const SHOWN_OCCURRENCES: usize = 20;

/// One incident in full: the values its fields took, its samples with their context, its first
/// occurrences and the KB entries with their fixes.
fn show(g: &Global, store: &Store, id: i64, dir: &std::path::Path) -> Result<Outcome> {
    let Some(i) = store.get(id)? else {
        anyhow::bail!("no incident {id} in {}", dir.display());
    };
    let values = store.field_values(id)?;
    let samples = store.samples(id)?;
    let occurrences = store.occurrences(id, SHOWN_OCCURRENCES)?;
    let out = io::stdout();
    let mut w = io::BufWriter::new(out.lock());
    if g.format == Format::Json {
        let mut v = serde_json::to_value(&i)?;
        v["values"] = serde_json::to_value(&values)?;
        v["samples"] = serde_json::to_value(&samples)?;
        v["occurrences"] = serde_json::to_value(&occurrences)?;
        serde_json::to_writer_pretty(&mut w, &v)?;
        writeln!(w)?;
        w.flush()?;
        return Ok(Outcome { code: 0 });
    }
    human(&mut w, &i)?;
    let e = |t: &str| escape(t, false).into_owned();
    if !values.is_empty() {
        writeln!(w, "\nvalues:")?;
    }
    for v in &values {
        writeln!(w, "  {}", e(&crate::report::values_line(v, false)))?;
    }
    for s in &samples {
        writeln!(
            w,
            "\nsample {}:{} {}",
            e(&s.file),
            s.line,
            s.ts.as_deref().unwrap_or("")
        )?;
        for l in s.before.iter().flat_map(|t| t.lines()) {
            writeln!(w, "    {}", e(l))?;
        }
        for l in s.text.lines() {
            writeln!(w, "  > {}", e(l))?;
        }
        for l in s.after.iter().flat_map(|t| t.lines()) {
            writeln!(w, "    {}", e(l))?;
        }
    }
    writeln!(w, "\noccurrences ({} of {}):", occurrences.len(), i.count)?;
    for o in &occurrences {
        let fields: Vec<String> = o
            .fields
            .iter()
            .map(|(k, v)| format!("{k}={}", e(v)))
            .collect();
        writeln!(
            w,
            "  {} line {}  {}",
            o.ts.as_deref().unwrap_or("-"),
            o.line,
            fields.join(" ")
        )?;
    }
    let kb = super::load_kb_only(g);
    for id in &i.kb {
        match kb.get(id) {
            Some(entry) => {
                writeln!(w, "\nKB {id}: {} (zkb kb show {id})", entry.title())?;
                for l in entry.section("Fix").unwrap_or("").lines() {
                    writeln!(w, "  {l}")?;
                }
            }
            None => writeln!(w, "\nKB {id} (not in the loaded KB)")?,
        }
    }
    w.flush()?;
    Ok(Outcome { code: 0 })
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
    /// The site's tree of per-server folders, for the upgrade board in "the night at a
    /// glance" (default: /var/log/remote when it exists).
    #[arg(long, value_name = "DIR")]
    pub site: Option<std::path::PathBuf>,
}

/// The site tree the report reads the board from: `--site`, else the receiver's default.
fn report_site(a: &ReportArgs) -> Option<std::path::PathBuf> {
    a.site.clone().or_else(|| {
        let default = std::path::PathBuf::from("/var/log/remote");
        default.is_dir().then_some(default)
    })
}

/// Groups of unknown error events a report lists (the most frequent).
const UNKNOWN_SHOWN: usize = 50;

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
    let mut values = std::collections::BTreeMap::new();
    let mut samples = std::collections::BTreeMap::new();
    for i in &incidents {
        values.insert(i.id, store.field_values(i.id)?);
        samples.insert(i.id, store.samples(i.id)?);
    }
    let unknown = store.unknown_between(since, until, UNKNOWN_SHOWN)?;
    let kb = super::load_kb_only(g);
    let board = match report_site(a) {
        Some(site) if site.is_dir() => Some(crate::board::read(&site)),
        Some(site) => anyhow::bail!("--site {}: not a directory", site.display()),
        None => None,
    };
    // The last `zkb preflight --report`, when there is one.
    let preflight: Option<crate::preflight::Saved> =
        std::fs::read_to_string(dir.join("preflight.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
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
        values: &values,
        samples: &samples,
        unknown: &unknown,
        board: board.as_ref(),
        preflight: preflight.as_ref(),
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

fn markdown_glance(d: &crate::report::ReportData, clean: &dyn Fn(&str) -> String) -> String {
    let mut s = String::from("## The night at a glance\n\n");
    if d.board.is_none() {
        s.push_str(
            "No site tree given (`zkb report --site DIR`): the incidents per server only.\n\n",
        );
    }
    s.push_str(
        "| server | role | upgrade | last step | incidents | worst |\n|---|---|---|---|---|---|\n",
    );
    let cell = |t: &str| clean(t).replace('|', "\\|");
    for r in crate::report::glance_rows(d) {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} ({}x) | {} |\n",
            cell(&r.host),
            r.role,
            r.upgrade,
            cell(&r.step),
            r.incidents,
            r.occurrences,
            r.worst.as_deref().unwrap_or("-")
        ));
    }
    s.push('\n');
    for f in d.board.map(|b| b.findings.as_slice()).unwrap_or_default() {
        s.push_str(&format!(
            "- **{}** {}: {} (fix: {})\n",
            f.severity.to_uppercase(),
            f.id,
            clean(&f.message),
            f.kb.join(", ")
        ));
    }
    if d.board.is_some_and(|b| !b.findings.is_empty()) {
        s.push('\n');
    }
    s
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
    s.push_str(&markdown_glance(d, &clean));
    if let Some(p) = d.preflight {
        s.push_str(&format!(
            "## Pre-upgrade checks\n\n`zkb preflight` on {} at {}.\n\n| status | check | subject | what it found |\n|---|---|---|---|\n",
            clean(&p.host),
            p.at
        ));
        for f in crate::report::preflight_rows(d) {
            s.push_str(&format!(
                "| {:?} | {} | {} | {} |\n",
                f.status,
                f.check,
                clean(&f.subject).replace('|', "\\|"),
                clean(&f.message).replace('|', "\\|")
            ));
        }
        s.push('\n');
    }
    for i in d.incidents {
        s.push_str(&format!(
            "## {} {} ({}x, {}, {})\n\n`{}` on {} from {} to {}\n\n```\n{}\n```\n\n",
            i.severity.to_uppercase(),
            i.title,
            i.count,
            i.rule,
            i.state,
            clean(&i.group),
            clean(i.host.as_deref().unwrap_or("-")),
            i.first_seen.as_deref().unwrap_or("-"),
            i.last_seen.as_deref().unwrap_or("-"),
            clean(&i.sample)
        ));
        for v in d.values.get(&i.id).into_iter().flatten() {
            s.push_str(&format!(
                "- {}\n",
                clean(&crate::report::values_line(v, d.redact))
            ));
        }
        if d.values.get(&i.id).is_some_and(|v| !v.is_empty()) {
            s.push('\n');
        }
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
    if !d.unknown.is_empty() {
        s.push_str("## Error events no rule knew\n\n| count | host | first seen | wording |\n|---|---|---|---|\n");
        for u in d.unknown {
            s.push_str(&format!(
                "| {} | {} | {} | `{}` |\n",
                u.count,
                clean(u.host.as_deref().unwrap_or("-")),
                u.first_seen.as_deref().unwrap_or("-"),
                clean(&u.template).replace('|', "\\|")
            ));
        }
    }
    s
}
