//! Counting the store for comparisons (`zkb diff`): occurrences per rule and host, and error
//! events no rule knew per template and host, within a time window.

use rusqlite::params;

use super::{Store, StoreError};

/// What a count is of.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    /// A rule (its id).
    Rule(String),
    /// An unknown event template.
    Unknown(String),
}

/// Occurrences of one subject on one host in a window.
#[derive(Clone, Debug)]
pub struct Count {
    pub subject: Subject,
    pub host: Option<String>,
    pub title: String,
    pub severity: String,
    pub count: i64,
    /// The ids of the incidents (or unknown groups) the occurrences belong to.
    pub groups: i64,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
}

impl Store {
    /// Counts per rule and host, and per unknown template and host, of what happened in
    /// `[since, until)` (milliseconds).
    pub fn counts_between(&self, since: i64, until: i64) -> Result<Vec<Count>, StoreError> {
        let mut out = self.counts(
            "SELECT i.rule, i.host, MAX(i.title), MAX(i.severity), COUNT(*), COUNT(DISTINCT i.id),
                    MIN(o.ts_ms), MAX(o.ts_ms)
             FROM occurrences o JOIN incidents i ON i.id = o.incident
             WHERE o.ts_ms >= ?1 AND o.ts_ms < ?2 GROUP BY i.rule, i.host",
            since,
            until,
            Subject::Rule,
        )?;
        out.extend(self.counts(
            "SELECT u.template, u.host, u.template, COALESCE(MAX(u.level), ''), COUNT(*),
                    COUNT(DISTINCT u.id), MIN(e.ts_ms), MAX(e.ts_ms)
             FROM unknown_events e JOIN unknown u ON u.id = e.unknown
             WHERE e.ts_ms >= ?1 AND e.ts_ms < ?2 GROUP BY u.template, u.host",
            since,
            until,
            Subject::Unknown,
        )?);
        Ok(out)
    }

    /// The first and last occurrence times stored (rule findings and unknown events), if any.
    pub fn occurrence_span(&self) -> Result<Option<(i64, i64)>, StoreError> {
        self.conn
            .query_row(
                "SELECT MIN(t), MAX(t) FROM (
                    SELECT ts_ms AS t FROM occurrences WHERE ts_ms IS NOT NULL
                    UNION ALL SELECT ts_ms FROM unknown_events WHERE ts_ms IS NOT NULL)",
                [],
                |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?)),
            )
            .map(|(a, b)| a.zip(b))
            .map_err(|e| self.err(e))
    }

    fn counts(
        &self,
        sql: &str,
        since: i64,
        until: i64,
        subject: fn(String) -> Subject,
    ) -> Result<Vec<Count>, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![since, until], |r| {
                Ok(Count {
                    subject: subject(r.get(0)?),
                    host: r.get(1)?,
                    title: r.get(2)?,
                    severity: r.get(3)?,
                    count: r.get(4)?,
                    groups: r.get(5)?,
                    first_ms: r.get(6)?,
                    last_ms: r.get(7)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}
