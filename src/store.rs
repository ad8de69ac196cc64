//! The incident store (`<data>/incidents.sqlite`, SQLite in WAL mode, schema versioned by
//! `user_version` and migrated on open). Every match is an occurrence; occurrences of one rule
//! and group key (the rule's `group_by` fields and the host) that come within [`GAP`] of each
//! other form one incident, which keeps the sample text, counts and first/last seen; each
//! further occurrence is a small row. An occurrence is known by the identity of its source's
//! content (a fingerprint of the first bytes, so a `.gz` of a file already stored is the same
//! source) and its offset, so storing the same input twice adds nothing. Incidents are searched
//! with FTS5 (BM25 ranking).

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::rules::Rule;
use crate::scan::{group_key, Finding};

/// Occurrences further apart than this start a new incident.
pub const GAP_MS: i64 = 30 * 60 * 1000;

const SCHEMA_VERSION: i64 = 1;

const SCHEMA_V1: &str = "
CREATE TABLE incidents (
    id INTEGER PRIMARY KEY,
    rule TEXT NOT NULL,
    group_key TEXT NOT NULL,
    host TEXT,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    kb TEXT NOT NULL,
    first_ms INTEGER,
    last_ms INTEGER,
    count INTEGER NOT NULL,
    sample_file TEXT NOT NULL,
    sample_line INTEGER NOT NULL,
    sample TEXT NOT NULL
);
CREATE INDEX incidents_by_group ON incidents(rule, group_key, last_ms);
CREATE TABLE occurrences (
    id INTEGER PRIMARY KEY,
    incident INTEGER NOT NULL REFERENCES incidents(id),
    source TEXT NOT NULL,
    offset INTEGER NOT NULL,
    rule TEXT NOT NULL,
    ts_ms INTEGER,
    ts TEXT,
    line INTEGER NOT NULL,
    fields TEXT NOT NULL,
    UNIQUE(source, offset, rule)
);
CREATE INDEX occurrences_by_incident ON occurrences(incident);
CREATE VIRTUAL TABLE incidents_fts USING fts5(title, rule, fields, host, text, content='', contentless_delete=1);
";

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("incident store {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "incident store {path}: schema version {found} is newer than this zkb knows ({known})"
    )]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
}

/// One incident, as listed.
#[derive(Clone, Debug, Serialize)]
pub struct Incident {
    pub id: i64,
    pub rule: String,
    pub title: String,
    pub severity: String,
    pub host: Option<String>,
    pub group: String,
    pub count: i64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    #[serde(skip)]
    pub first_ms: Option<i64>,
    #[serde(skip)]
    pub last_ms: Option<i64>,
    pub kb: Vec<String>,
    pub sample_file: String,
    pub sample_line: i64,
    pub sample: String,
}

/// The store, open.
pub struct Store {
    conn: Connection,
    path: String,
}

/// How many occurrences a batch added, and how many were already stored.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Added {
    pub new: u64,
    pub known: u64,
}

impl Store {
    /// Opens (creating and migrating) the store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        let path = data_dir.join("incidents.sqlite");
        let name = path.display().to_string();
        let err = |source| StoreError::Sqlite {
            path: name.clone(),
            source,
        };
        if let Err(e) = std::fs::create_dir_all(data_dir) {
            return Err(err(rusqlite::Error::ToSqlConversionFailure(Box::new(e))));
        }
        let conn = Connection::open(&path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: name,
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        if version < 1 {
            conn.execute_batch(&format!(
                "BEGIN; {SCHEMA_V1} PRAGMA user_version = 1; COMMIT;"
            ))
            .map_err(err)?;
        }
        Ok(Store { conn, path: name })
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Records the findings of one source (known by `source`, a content identity) in one
    /// transaction.
    pub fn add(
        &mut self,
        source: &str,
        rules: &[Rule],
        findings: &[Finding],
    ) -> Result<Added, StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        let mut added = Added::default();
        for f in findings {
            let Some(r) = f.rule else { continue };
            let rule = &rules[r];
            let known: Option<i64> = tx
                .query_row(
                    "SELECT id FROM occurrences WHERE source = ?1 AND offset = ?2 AND rule = ?3",
                    params![source, f.offset as i64, rule.id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(err)?;
            if known.is_some() {
                added.known += 1;
                continue;
            }
            let key = group_key(rule, f).join("\u{1f}");
            let ts = f.parsed.ts.as_ref();
            let ts_ms = ts.map(|z| z.timestamp().as_millisecond());
            let incident = find_incident(&tx, &rule.id, &key, ts_ms).map_err(err)?;
            let fields = serde_json::to_string(
                &f.fields
                    .iter()
                    .cloned()
                    .collect::<std::collections::BTreeMap<_, _>>(),
            )
            .unwrap_or_default();
            let id = match incident {
                Some(id) => {
                    tx.execute(
                        "UPDATE incidents SET count = count + 1,
                            first_ms = MIN(COALESCE(first_ms, ?2), COALESCE(?2, first_ms)),
                            last_ms = MAX(COALESCE(last_ms, ?2), COALESCE(?2, last_ms))
                         WHERE id = ?1",
                        params![id, ts_ms],
                    )
                    .map_err(err)?;
                    id
                }
                None => {
                    tx.execute(
                        "INSERT INTO incidents (rule, group_key, host, severity, title, kb,
                            first_ms, last_ms, count, sample_file, sample_line, sample)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 1, ?8, ?9, ?10)",
                        params![
                            rule.id,
                            key,
                            f.host,
                            rule.severity.as_str(),
                            rule.title,
                            serde_json::to_string(&rule.kb).unwrap_or_default(),
                            ts_ms,
                            f.file,
                            f.line as i64,
                            f.text,
                        ],
                    )
                    .map_err(err)?;
                    let id = tx.last_insert_rowid();
                    tx.execute(
                        "INSERT INTO incidents_fts (rowid, title, rule, fields, host, text)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![
                            id,
                            rule.title,
                            rule.id.replace(['.', '-'], " "),
                            fields,
                            f.host,
                            f.text
                        ],
                    )
                    .map_err(err)?;
                    id
                }
            };
            tx.execute(
                "INSERT INTO occurrences (incident, source, offset, rule, ts_ms, ts, line, fields)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    id,
                    source,
                    f.offset as i64,
                    rule.id,
                    ts_ms,
                    ts.map(|z| z.to_string()),
                    f.line as i64,
                    fields
                ],
            )
            .map_err(err)?;
            added.new += 1;
        }
        tx.commit().map_err(err)?;
        Ok(added)
    }

    /// Incidents, most recent first.
    pub fn list(&self, limit: usize) -> Result<Vec<Incident>, StoreError> {
        self.query(
            &format!("{SELECT} ORDER BY COALESCE(last_ms, 0) DESC, id DESC LIMIT ?1"),
            params![limit as i64],
        )
    }

    /// Incidents whose title, rule, fields, host or sample text match `query` (FTS5 syntax is
    /// not needed: words are searched as given), best first.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Incident>, StoreError> {
        let words: Vec<String> = query
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| format!("\"{w}\""))
            .collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        self.query(
            &format!(
                "{SELECT} JOIN (SELECT rowid AS hit, bm25(incidents_fts) AS rank
                     FROM incidents_fts WHERE incidents_fts MATCH ?1) ON hit = incidents.id
                 ORDER BY rank LIMIT ?2"
            ),
            params![words.join(" "), limit as i64],
        )
    }

    /// Incidents seen within `[since, until]` (milliseconds; either open), oldest first.
    pub fn between(
        &self,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Vec<Incident>, StoreError> {
        self.query(
            &format!(
                "{SELECT} WHERE (?1 IS NULL OR COALESCE(last_ms, ?1) >= ?1)
                   AND (?2 IS NULL OR COALESCE(first_ms, ?2) <= ?2)
                 ORDER BY COALESCE(first_ms, 0), id"
            ),
            params![since, until],
        )
    }

    /// Times and severities of the occurrences within `[since, until]` (for the timeline).
    pub fn occurrence_times(
        &self,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT o.ts_ms, i.severity FROM occurrences o JOIN incidents i ON i.id = o.incident
                 WHERE o.ts_ms IS NOT NULL AND (?1 IS NULL OR o.ts_ms >= ?1)
                   AND (?2 IS NULL OR o.ts_ms <= ?2)
                 ORDER BY o.ts_ms",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![since, until], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Deletes incidents whose last occurrence is older than `before_ms`, with their
    /// occurrences; returns how many incidents went.
    pub fn prune(&mut self, before_ms: i64) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        let old = "SELECT id FROM incidents WHERE last_ms IS NOT NULL AND last_ms < ?1";
        tx.execute(
            &format!("DELETE FROM occurrences WHERE incident IN ({old})"),
            params![before_ms],
        )
        .map_err(err)?;
        tx.execute(
            &format!("DELETE FROM incidents_fts WHERE rowid IN ({old})"),
            params![before_ms],
        )
        .map_err(err)?;
        let n = tx
            .execute(
                &old.replace("SELECT id FROM", "DELETE FROM"),
                params![before_ms],
            )
            .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(n)
    }

    /// Occurrence counts grouped by `by` (`rule`, `host`, `severity` or `day`), largest first.
    pub fn stats(&self, by: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let column = match by {
            "rule" => "i.rule",
            "host" => "COALESCE(i.host, '-')",
            "severity" => "i.severity",
            _ => "COALESCE(date(o.ts_ms / 1000, 'unixepoch'), '-')",
        };
        let sql = format!(
            "SELECT {column} AS k, COUNT(*) FROM occurrences o JOIN incidents i ON i.id = o.incident
             GROUP BY k ORDER BY COUNT(*) DESC, k"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// One incident.
    pub fn get(&self, id: i64) -> Result<Option<Incident>, StoreError> {
        Ok(self
            .query(&format!("{SELECT} WHERE incidents.id = ?1"), params![id])?
            .into_iter()
            .next())
    }

    fn query(&self, sql: &str, args: impl rusqlite::Params) -> Result<Vec<Incident>, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(args, incident_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}

const SELECT: &str = "SELECT incidents.id, rule, title, severity, host, group_key, count, first_ms,
    last_ms, kb, sample_file, sample_line, sample FROM incidents";

fn incident_row(row: &rusqlite::Row) -> rusqlite::Result<Incident> {
    let time = |ms: Option<i64>| {
        ms.and_then(|m| jiff::Timestamp::from_millisecond(m).ok())
            .map(|t| t.to_string())
    };
    let kb: String = row.get(9)?;
    let group: String = row.get(5)?;
    Ok(Incident {
        id: row.get(0)?,
        rule: row.get(1)?,
        title: row.get(2)?,
        severity: row.get(3)?,
        host: row.get(4)?,
        group: group
            .split('\u{1f}')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        count: row.get(6)?,
        first_seen: time(row.get(7)?),
        first_ms: row.get(7)?,
        last_ms: row.get(8)?,
        last_seen: time(row.get(8)?),
        kb: serde_json::from_str(&kb).unwrap_or_default(),
        sample_file: row.get(10)?,
        sample_line: row.get(11)?,
        sample: row.get(12)?,
    })
}

/// The incident an occurrence at `ts_ms` joins: the latest of its rule and group whose last
/// occurrence is within [`GAP_MS`] (or, without times, the latest one).
fn find_incident(
    tx: &rusqlite::Transaction,
    rule: &str,
    key: &str,
    ts_ms: Option<i64>,
) -> rusqlite::Result<Option<i64>> {
    match ts_ms {
        Some(ts) => tx
            .query_row(
                "SELECT id FROM incidents WHERE rule = ?1 AND group_key = ?2
                   AND (last_ms IS NULL OR (last_ms >= ?3 - ?4 AND first_ms <= ?3 + ?4))
                 ORDER BY last_ms DESC LIMIT 1",
                params![rule, key, ts, GAP_MS],
                |r| r.get(0),
            )
            .optional(),
        None => tx
            .query_row(
                "SELECT id FROM incidents WHERE rule = ?1 AND group_key = ?2
                 ORDER BY id DESC LIMIT 1",
                params![rule, key],
                |r| r.get(0),
            )
            .optional(),
    }
}
