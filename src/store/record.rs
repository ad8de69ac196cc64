//! Writing to the store: a batch of findings (each with the identity of the content it came
//! from), the after-context of earlier findings, identity changes of young files and, for
//! `zkb watch`, the checkpoints that cover the batch, all in one transaction.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rusqlite::{params, OptionalExtension, Transaction};

use super::{Store, StoreError, GAP_MS};
use crate::parse::format_ts;
use crate::rules::Rule;
use crate::scan::{group_key, AfterContext, Finding};
use crate::watch::checkpoint::Checkpoint;

/// Sample events kept per incident (the first ones), each with its context.
pub const SAMPLES: i64 = 3;

/// How many occurrences a batch added, and how many were already stored.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Added {
    pub new: u64,
    pub known: u64,
}

/// What one commit records.
#[derive(Default)]
pub struct Batch<'a> {
    /// Each finding with the identity of the content it came from.
    pub findings: Vec<(&'a str, &'a Finding)>,
    /// Events that followed earlier findings (`-A` context), by source and offset.
    pub after: Vec<(&'a str, AfterContext)>,
    /// Sources now known by another identity (old, new).
    pub rekeys: &'a [(Arc<str>, Arc<str>)],
    /// The watch checkpoints that cover this batch (replacing the stored ones).
    pub checkpoints: Option<&'a [Checkpoint]>,
}

impl Store {
    /// Records the findings of one source (known by `source`, a content identity) in one
    /// transaction.
    pub fn add(
        &mut self,
        source: &str,
        rules: &[Rule],
        findings: &[Finding],
    ) -> Result<Added, StoreError> {
        let batch = Batch {
            findings: findings.iter().map(|f| (source, f)).collect(),
            ..Batch::default()
        };
        self.record(rules, &batch)
    }

    /// Records a batch in one transaction (taken for writing at once, so a watch and a
    /// `scan --store` writing at the same time wait for each other instead of failing).
    pub fn record(&mut self, rules: &[Rule], batch: &Batch) -> Result<Added, StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let mut added = Added::default();
        // First, so that findings under the new identity meet what was stored under the old.
        for (old, new) in batch.rekeys {
            rekey(&tx, old, new).map_err(err)?;
        }
        let mut sources: HashMap<&str, i64> = HashMap::new();
        for (source, f) in &batch.findings {
            let source_id = match sources.get(source) {
                Some(id) => *id,
                None => {
                    let id = source_id(&tx, source).map_err(err)?;
                    sources.insert(source, id);
                    id
                }
            };
            let new = match f.rule {
                Some(r) => add_occurrence(&tx, source_id, &rules[r], f),
                None => add_unknown(&tx, source_id, f),
            }
            .map_err(err)?;
            if new {
                added.new += 1;
            } else {
                added.known += 1;
            }
        }
        for (source, a) in &batch.after {
            let id = source_id(&tx, source).map_err(err)?;
            tx.prepare_cached("UPDATE samples SET after = ?3 WHERE source = ?1 AND offset = ?2")
                .and_then(|mut st| st.execute(params![id, a.offset as i64, json(&a.lines)]))
                .map_err(err)?;
        }
        if let Some(cps) = batch.checkpoints {
            save_checkpoints(&tx, cps).map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(added)
    }

    /// The watch checkpoints committed last (none in a new store).
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT body FROM watch_checkpoints ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for body in rows {
            let body = body.map_err(|e| self.err(e))?;
            if let Ok(c) = serde_json::from_str(&body) {
                out.push(c);
            }
        }
        Ok(out)
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// An event's time: milliseconds, the offset of its zone in seconds, and as written.
fn ts_of(f: &Finding) -> (Option<i64>, Option<i32>, Option<String>) {
    let ts = f.parsed.ts.as_ref();
    (
        ts.map(|z| z.timestamp().as_millisecond()),
        ts.map(|z| z.offset().seconds()),
        ts.map(format_ts),
    )
}

/// The row id of a source identity, made when new.
fn source_id(tx: &Transaction, identity: &str) -> rusqlite::Result<i64> {
    tx.prepare_cached("INSERT OR IGNORE INTO sources (identity) VALUES (?1)")?
        .execute(params![identity])?;
    tx.prepare_cached("SELECT id FROM sources WHERE identity = ?1")?
        .query_row(params![identity], |r| r.get(0))
}

/// Stores one occurrence of a rule; false when it was already there.
fn add_occurrence(
    tx: &Transaction,
    source: i64,
    rule: &Rule,
    f: &Finding,
) -> rusqlite::Result<bool> {
    let known: Option<i64> = tx
        .prepare_cached(
            "SELECT o.id FROM occurrences o JOIN incidents i ON i.id = o.incident
             WHERE o.source = ?1 AND o.offset = ?2 AND i.rule = ?3",
        )?
        .query_row(params![source, f.offset as i64, rule.id], |row| row.get(0))
        .optional()?;
    if known.is_some() {
        return Ok(false);
    }
    let key = group_key(rule, f).join("\u{1f}");
    let (ts_ms, tz, ts) = ts_of(f);
    for closed in &rule.resolves {
        tx.prepare_cached(
            "UPDATE incidents SET resolved_ms = COALESCE(?4, last_ms)
             WHERE rule = ?1 AND group_key = ?2 AND COALESCE(host, '') = COALESCE(?3, '')
               AND resolved_ms IS NULL",
        )?
        .execute(params![closed, key, f.host, ts_ms])?;
    }
    if rule.resolve_only {
        return Ok(false);
    }
    let fields = json(&f.fields.iter().cloned().collect::<BTreeMap<_, _>>());
    let quiet = quiet_ms(rule);
    let id = match find_group(tx, Group::Incident, &rule.id, &key, ts_ms, quiet)? {
        Some(id) => {
            widen(tx, Group::Incident, id, ts_ms, ts.as_deref())?;
            let samples: i64 = tx
                .prepare_cached("SELECT samples FROM incidents WHERE id = ?1")?
                .query_row(params![id], |r| r.get(0))?;
            if samples < SAMPLES {
                add_sample(tx, id, source, f, ts.as_deref())?;
            }
            id
        }
        None => {
            tx.prepare_cached(
                "INSERT INTO incidents (rule, group_key, host, severity, title, kb, first_ms,
                    last_ms, first_ts, last_ts, count, sample_file, sample_line, sample, samples,
                    quiet_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?8, 1, ?9, ?10, ?11, 0, ?12)",
            )?
            .execute(params![
                rule.id,
                key,
                f.host,
                rule.severity.as_str(),
                rule.title,
                json(&rule.kb),
                ts_ms,
                ts,
                f.file,
                f.line as i64,
                f.text,
                quiet,
            ])?;
            let id = tx.last_insert_rowid();
            tx.prepare_cached(
                "INSERT INTO incidents_fts (rowid, title, rule, fields, host, text)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                id,
                rule.title,
                rule.id.replace(['.', '-'], " "),
                fields,
                f.host,
                f.text
            ])?;
            add_sample(tx, id, source, f, ts.as_deref())?;
            id
        }
    };
    tx.prepare_cached(
        "INSERT INTO occurrences (incident, source, offset, ts_ms, tz, line, fields)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        id,
        source,
        f.offset as i64,
        ts_ms,
        tz,
        f.line as i64,
        fields
    ])?;
    Ok(true)
}

/// Keeps the occurrence as one of its incident's samples.
fn add_sample(
    tx: &Transaction,
    incident: i64,
    source: i64,
    f: &Finding,
    ts: Option<&str>,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO samples (incident, source, offset, file, line, ts, before, text, after)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        incident,
        source,
        f.offset as i64,
        f.file,
        f.line as i64,
        ts,
        json(&f.before),
        f.text,
        json(&f.after)
    ])?;
    tx.prepare_cached("UPDATE incidents SET samples = samples + 1 WHERE id = ?1")?
        .execute(params![incident])?;
    Ok(())
}

/// Stores an error event no rule knew, grouped by its masked wording and host; false when it
/// was already there.
fn add_unknown(tx: &Transaction, source: i64, f: &Finding) -> rusqlite::Result<bool> {
    let known: Option<i64> = tx
        .prepare_cached("SELECT id FROM unknown_events WHERE source = ?1 AND offset = ?2")?
        .query_row(params![source, f.offset as i64], |row| row.get(0))
        .optional()?;
    if known.is_some() {
        return Ok(false);
    }
    let template = template_of(f);
    let host = f.host.clone().unwrap_or_default();
    let (ts_ms, tz, ts) = ts_of(f);
    let id = match find_group(tx, Group::Unknown, &template, &host, ts_ms, GAP_MS)? {
        Some(id) => {
            widen(tx, Group::Unknown, id, ts_ms, ts.as_deref())?;
            id
        }
        None => {
            tx.prepare_cached(
                "INSERT INTO unknown (template, host, kind, level, first_ms, last_ms, first_ts,
                    last_ts, count, sample_file, sample_line, sample)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?6, 1, ?7, ?8, ?9)",
            )?
            .execute(params![
                template,
                host,
                f.kind.as_str(),
                f.parsed.level,
                ts_ms,
                ts,
                f.file,
                f.line as i64,
                f.text
            ])?;
            tx.last_insert_rowid()
        }
    };
    tx.prepare_cached(
        "INSERT INTO unknown_events (unknown, source, offset, ts_ms, tz, line)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        id,
        source,
        f.offset as i64,
        ts_ms,
        tz,
        f.line as i64
    ])?;
    Ok(true)
}

/// The constant wording of an event, as `zkb unknown` groups it: its message and exception
/// line, variable parts masked.
pub fn template_of(f: &Finding) -> String {
    crate::learn::unknown::event_template(f)
}

/// What occurrences are grouped into.
#[derive(Clone, Copy)]
enum Group {
    /// By rule and group key.
    Incident,
    /// Error events no rule knew, by wording and host.
    Unknown,
}

impl Group {
    fn table(self) -> &'static str {
        match self {
            Group::Incident => "incidents",
            Group::Unknown => "unknown",
        }
    }

    /// The columns of its key.
    /// The condition that keeps resolved incidents out of the search for a group to join.
    fn open_only(self) -> &'static str {
        match self {
            Group::Incident => "AND resolved_ms IS NULL",
            Group::Unknown => "",
        }
    }

    fn key(self) -> (&'static str, &'static str) {
        match self {
            Group::Incident => ("rule", "group_key"),
            Group::Unknown => ("template", "COALESCE(host, '')"),
        }
    }
}

/// The group an occurrence at `ts_ms` joins: the latest with its key whose occurrences come
/// within [`GAP_MS`] (or, without times, the latest one).
/// How long an incident of `rule` may go unseen before it is closed.
fn quiet_ms(rule: &Rule) -> i64 {
    rule.quiet.map_or(GAP_MS, |d| d.as_millis() as i64)
}

fn find_group(
    tx: &Transaction,
    group: Group,
    value: &str,
    key: &str,
    ts_ms: Option<i64>,
    gap_ms: i64,
) -> rusqlite::Result<Option<i64>> {
    let (table, (column, key_column)) = (group.table(), group.key());
    match ts_ms {
        Some(ts) => tx
            .prepare_cached(&format!(
                "SELECT id FROM {table} WHERE {column} = ?1 AND {key_column} = ?2 {open}
                   AND (last_ms IS NULL OR (last_ms >= ?3 - ?4 AND first_ms <= ?3 + ?4))
                 ORDER BY last_ms DESC LIMIT 1",
                open = group.open_only()
            ))?
            .query_row(params![value, key, ts, gap_ms], |r| r.get(0))
            .optional(),
        None => tx
            .prepare_cached(&format!(
                "SELECT id FROM {table} WHERE {column} = ?1 AND {key_column} = ?2 {open}
                 ORDER BY id DESC LIMIT 1",
                open = group.open_only()
            ))?
            .query_row(params![value, key], |r| r.get(0))
            .optional(),
    }
}

/// Counts one more occurrence in a group and widens its first/last seen.
fn widen(
    tx: &Transaction,
    group: Group,
    id: i64,
    ts_ms: Option<i64>,
    ts: Option<&str>,
) -> rusqlite::Result<()> {
    tx.prepare_cached(&format!(
        "UPDATE {} SET count = count + 1,
            first_ts = CASE WHEN ?2 IS NOT NULL AND (first_ms IS NULL OR ?2 < first_ms)
                       THEN ?3 ELSE first_ts END,
            last_ts = CASE WHEN ?2 IS NOT NULL AND (last_ms IS NULL OR ?2 > last_ms)
                      THEN ?3 ELSE last_ts END,
            first_ms = MIN(COALESCE(first_ms, ?2), COALESCE(?2, first_ms)),
            last_ms = MAX(COALESCE(last_ms, ?2), COALESCE(?2, last_ms))
         WHERE id = ?1",
        group.table()
    ))?
    .execute(params![id, ts_ms, ts])?;
    Ok(())
}

/// What was recorded under a young file's first identity moves to its content fingerprint
/// (merged into it when a scan of the same content already stored some).
fn rekey(tx: &Transaction, old: &str, new: &str) -> rusqlite::Result<()> {
    let Some(old_id) = tx
        .prepare_cached("SELECT id FROM sources WHERE identity = ?1")?
        .query_row(params![old], |r| r.get::<_, i64>(0))
        .optional()?
    else {
        return Ok(());
    };
    let new_id = source_id(tx, new)?;
    for table in ["occurrences", "unknown_events", "samples"] {
        tx.execute(
            &format!("UPDATE {table} SET source = ?2 WHERE source = ?1"),
            params![old_id, new_id],
        )?;
    }
    tx.execute("DELETE FROM sources WHERE id = ?1", params![old_id])?;
    Ok(())
}

fn save_checkpoints(tx: &Transaction, cps: &[Checkpoint]) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM watch_checkpoints", [])?;
    for c in cps {
        tx.execute(
            "INSERT INTO watch_checkpoints (path, body) VALUES (?1, ?2)",
            params![c.path, json(c)],
        )?;
    }
    Ok(())
}
