//! The incident store (`<data>/incidents.sqlite`, SQLite in WAL mode, schema versioned by
//! `user_version` and migrated on open). Every match is an occurrence; occurrences of one rule
//! and group key (the rule's `group_by` fields and the host) that come within [`GAP_MS`] of
//! each other form one incident, which keeps the text (a few sample events with the events
//! around them), counts and first/last seen; each further occurrence is a small row. Error-level
//! events that no rule knew are kept the same way, grouped by their masked wording.
//!
//! An occurrence is known by the identity of its source's content (a fingerprint of the first
//! KiB, so a `.gz` of a file already stored is the same source; see
//! [`crate::watch::follow::source_identity`]) and its offset, so storing the same input twice
//! adds nothing. `zkb watch` commits each round's occurrences and the checkpoints that cover them
//! in one transaction ([`record`]), so a `kill -9` at any point neither loses nor repeats one.
//! Times are kept as milliseconds (for order and windows) and as written, with the offset of
//! the zone they were in. Incidents are searched with FTS5 (BM25 ranking).

pub mod acks;
pub mod counts;
pub mod maint;
pub mod query;
pub mod record;

use std::path::Path;

use rusqlite::Connection;
use serde::Serialize;

pub use query::Filter;
pub use record::{Added, Batch};

/// Occurrences further apart than this start a new incident.
pub const GAP_MS: i64 = 30 * 60 * 1000;

const SCHEMA_VERSION: i64 = 6;

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

/// Version 2: occurrences as small rows (their source an integer into `sources`, the zone as
/// an offset in seconds), zoned times on incidents, sample events with their context, error
/// events no rule knew, and watch checkpoints (committed with the occurrences they cover).
/// v3: an incident can be resolved (by a rule's `resolves`); a resolved one takes no more
/// occurrences, the next starts a new incident.
const SCHEMA_V3: &str = "ALTER TABLE incidents ADD COLUMN resolved_ms INTEGER;";

/// v4: acknowledgements (`zkb ack`).
const SCHEMA_V4: &str = "CREATE TABLE acks (
    incident INTEGER PRIMARY KEY REFERENCES incidents(id),
    ack_until_ms INTEGER,
    ack_note TEXT NOT NULL,
    ack_severity TEXT NOT NULL,
    ack_at_ms INTEGER NOT NULL
);";

/// v5: maintenance windows (`zkb maint`, and those the watch infers from the logs).
const SCHEMA_V5: &str = "CREATE TABLE maintenance (
    id INTEGER PRIMARY KEY,
    host TEXT,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER,
    reason TEXT NOT NULL,
    source TEXT NOT NULL
);";

/// v6: each incident keeps its rule's quiet time (see `quiet` in rules): not seen for that
/// long, it is closed.
const SCHEMA_V6: &str = "ALTER TABLE incidents ADD COLUMN quiet_ms INTEGER;";

const SCHEMA_V2: &str = "
ALTER TABLE incidents ADD COLUMN first_ts TEXT;
ALTER TABLE incidents ADD COLUMN last_ts TEXT;
CREATE TABLE sources (id INTEGER PRIMARY KEY, identity TEXT NOT NULL UNIQUE);
INSERT INTO sources (identity) SELECT DISTINCT source FROM occurrences;
CREATE TABLE occurrences_v2 (
    id INTEGER PRIMARY KEY,
    incident INTEGER NOT NULL REFERENCES incidents(id),
    source INTEGER NOT NULL REFERENCES sources(id),
    offset INTEGER NOT NULL,
    ts_ms INTEGER,
    tz INTEGER,
    line INTEGER NOT NULL,
    fields TEXT NOT NULL
);
INSERT INTO occurrences_v2 (id, incident, source, offset, ts_ms, line, fields)
    SELECT o.id, o.incident, s.id, o.offset, o.ts_ms, o.line, o.fields
    FROM occurrences o JOIN sources s ON s.identity = o.source;
DROP TABLE occurrences;
ALTER TABLE occurrences_v2 RENAME TO occurrences;
CREATE INDEX occurrences_by_place ON occurrences(source, offset);
CREATE INDEX occurrences_by_incident ON occurrences(incident);
CREATE TABLE samples (
    id INTEGER PRIMARY KEY,
    incident INTEGER NOT NULL REFERENCES incidents(id),
    source INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    file TEXT NOT NULL,
    line INTEGER NOT NULL,
    ts TEXT,
    before TEXT NOT NULL DEFAULT '[]',
    text TEXT NOT NULL,
    after TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX samples_by_incident ON samples(incident);
CREATE INDEX samples_by_place ON samples(source, offset);
INSERT INTO samples (incident, source, offset, file, line, text)
    SELECT id, 0, -1, sample_file, sample_line, sample FROM incidents;
ALTER TABLE incidents ADD COLUMN samples INTEGER NOT NULL DEFAULT 1;
CREATE TABLE unknown (
    id INTEGER PRIMARY KEY,
    template TEXT NOT NULL,
    host TEXT,
    kind TEXT NOT NULL,
    level TEXT,
    first_ms INTEGER,
    last_ms INTEGER,
    first_ts TEXT,
    last_ts TEXT,
    count INTEGER NOT NULL,
    sample_file TEXT NOT NULL,
    sample_line INTEGER NOT NULL,
    sample TEXT NOT NULL
);
CREATE INDEX unknown_by_template ON unknown(template, host, last_ms);
CREATE TABLE unknown_events (
    id INTEGER PRIMARY KEY,
    unknown INTEGER NOT NULL REFERENCES unknown(id),
    source INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    ts_ms INTEGER,
    tz INTEGER,
    line INTEGER NOT NULL
);
CREATE INDEX unknown_events_by_place ON unknown_events(source, offset);
CREATE INDEX unknown_events_by_group ON unknown_events(unknown);
CREATE TABLE watch_checkpoints (id INTEGER PRIMARY KEY, path TEXT NOT NULL, body TEXT NOT NULL);
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
    /// As written in the log, with its zone's offset (UTC when only the instant is known).
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
    /// When the line that proves recovery came (see `resolves` in rules), if it did.
    pub resolved: Option<String>,
    /// Acknowledged (`zkb ack`) and still in force: until when (`forever` for no end).
    pub acked_until: Option<String>,
    pub ack_note: Option<String>,
    /// Closed because it was not seen for its rule's quiet time: since when.
    pub quiet_since: Option<String>,
    /// `open`, `resolved` (by a line that proves recovery), `quiet` (not seen for its quiet
    /// time) or `acknowledged`.
    pub state: &'static str,
}

impl Incident {
    pub(crate) fn state_of(&self) -> &'static str {
        if self.resolved.is_some() {
            "resolved"
        } else if self.quiet_since.is_some() {
            "quiet"
        } else if self.acked_until.is_some() {
            "acknowledged"
        } else {
            "open"
        }
    }
}

/// The store, open.
pub struct Store {
    conn: Connection,
    path: String,
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
        let mut conn = Connection::open(&path).map_err(err)?;
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
        let steps = [
            (1, SCHEMA_V1),
            (2, SCHEMA_V2),
            (3, SCHEMA_V3),
            (4, SCHEMA_V4),
            (5, SCHEMA_V5),
            (6, SCHEMA_V6),
        ];
        for (to, sql) in steps.iter().filter(|(to, _)| *to > version) {
            let tx = conn.transaction().map_err(err)?;
            tx.execute_batch(sql).map_err(err)?;
            tx.pragma_update(None, "user_version", to).map_err(err)?;
            tx.commit().map_err(err)?;
        }
        Ok(Store { conn, path: name })
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_store_is_migrated_on_open_and_keeps_its_incidents() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("incidents.sqlite")).unwrap();
        conn.execute_batch(&format!("{SCHEMA_V1} PRAGMA user_version = 1;"))
            .unwrap();
        conn.execute(
            "INSERT INTO incidents (rule, group_key, host, severity, title, kb, first_ms, last_ms,
                count, sample_file, sample_line, sample)
             VALUES ('store.x', '5', 'mbx1', 'high', 'T', '[]', 1000, 2000, 3, 'f', 7, 'text')",
            [],
        )
        .unwrap();
        drop(conn);
        let store = Store::open(dir.path()).unwrap();
        let version: i64 = store
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let i = store.get(1).unwrap().unwrap();
        assert_eq!(
            (i.count, i.first_seen.as_deref()),
            (3, Some("1970-01-01T00:00:01Z"))
        );
        let samples = store.samples(1).unwrap();
        assert_eq!(samples.len(), 1);
        assert_eq!((samples[0].text.as_str(), samples[0].line), ("text", 7));
        assert!(store.checkpoints().unwrap().is_empty());
        drop(store);
        // Opening again changes nothing.
        assert_eq!(
            Store::open(dir.path()).unwrap().samples(1).unwrap().len(),
            1
        );
    }
}
