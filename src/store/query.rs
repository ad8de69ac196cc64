//! Reading the store: incidents listed, searched and windowed, their occurrences, samples and
//! the distinct values of their fields, the unknown error events of a window, counts, pruning.

use std::collections::BTreeMap;

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter};
use serde::Serialize;

use super::{Incident, Store, StoreError};
use crate::rules::Severity;

/// One occurrence of an incident.
#[derive(Clone, Debug, Serialize)]
pub struct Occurrence {
    pub ts: Option<String>,
    pub line: i64,
    pub fields: BTreeMap<String, String>,
}

/// A sample event of an incident with the events around it.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    pub file: String,
    pub line: i64,
    pub ts: Option<String>,
    pub before: Vec<String>,
    pub text: String,
    pub after: Vec<String>,
}

/// The values one captured field took across an incident's occurrences.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FieldValues {
    pub field: String,
    /// How many different values.
    pub distinct: i64,
    /// The most frequent values with their counts (at most [`TOP_VALUES`]).
    pub top: Vec<(String, i64)>,
    /// The directory every value lies under, when they are all paths under one.
    pub all_under: Option<String>,
}

/// Values listed per field.
pub const TOP_VALUES: usize = 5;

/// A group of error events that no rule knew, with the same masked wording on one host.
#[derive(Clone, Debug, Serialize)]
pub struct Unknown {
    pub template: String,
    pub host: Option<String>,
    pub kind: String,
    pub level: Option<String>,
    pub count: i64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub sample_file: String,
    pub sample_line: i64,
    pub sample: String,
}

/// Which incidents `list` and `search` return: seen within `[since, until]` (milliseconds;
/// either open), on `host`, of `rule` (a trailing `*` takes every id with that prefix), at or
/// above `min_severity`. Applied in SQL, so a large store is not read to print a few rows.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub host: Option<String>,
    pub rule: Option<String>,
    pub min_severity: Option<Severity>,
}

impl Filter {
    /// The `AND ...` conditions on `incidents` and their values, numbered from `?first`.
    fn sql(&self, first: usize) -> (String, Vec<Value>) {
        let mut sql = String::new();
        let mut values: Vec<Value> = Vec::new();
        let mut cond = |c: &str, v: Value| {
            values.push(v);
            sql.push_str(&format!(
                " AND {}",
                c.replace('?', &format!("?{}", first + values.len() - 1))
            ));
        };
        if let Some(s) = self.since {
            cond("COALESCE(last_ms, ?) >= ?", Value::Integer(s));
        }
        if let Some(u) = self.until {
            cond("COALESCE(first_ms, ?) <= ?", Value::Integer(u));
        }
        if let Some(h) = &self.host {
            cond("host = ?", Value::Text(h.clone()));
        }
        match self.rule.as_deref().map(|r| (r, r.strip_suffix('*'))) {
            Some((_, Some(prefix))) => cond(
                "substr(rule, 1, length(?)) = ?",
                Value::Text(prefix.to_string()),
            ),
            Some((rule, None)) => cond("rule = ?", Value::Text(rule.to_string())),
            None => {}
        }
        if let Some(min) = self.min_severity {
            let allowed: Vec<&str> = Severity::ALL
                .into_iter()
                .filter(|s| *s >= min)
                .map(Severity::as_str)
                .collect();
            cond(
                "instr(?, ',' || severity || ',') > 0",
                Value::Text(format!(",{},", allowed.join(","))),
            );
        }
        (sql, values)
    }
}

impl Store {
    /// Incidents the filter lets through, most recent first.
    pub fn list(&self, filter: &Filter, limit: usize) -> Result<Vec<Incident>, StoreError> {
        let (conds, mut values) = filter.sql(2);
        values.insert(0, Value::Integer(limit as i64));
        self.query(
            &format!(
                "{SELECT} WHERE 1{conds} ORDER BY COALESCE(last_ms, 0) DESC, id DESC LIMIT ?1"
            ),
            params_from_iter(values),
        )
    }

    /// Incidents the filter lets through whose title, rule, fields, host or sample text match
    /// `query` (FTS5 syntax is not needed: words are searched as given), best first.
    pub fn search(
        &self,
        query: &str,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<Incident>, StoreError> {
        let words: Vec<String> = query
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| format!("\"{w}\""))
            .collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let (conds, mut values) = filter.sql(3);
        values.insert(0, Value::Integer(limit as i64));
        values.insert(0, Value::Text(words.join(" ")));
        self.query(
            &format!(
                "{SELECT} JOIN (SELECT rowid AS hit, bm25(incidents_fts) AS rank
                     FROM incidents_fts WHERE incidents_fts MATCH ?1) ON hit = incidents.id
                 WHERE 1{conds} ORDER BY rank LIMIT ?2"
            ),
            params_from_iter(values),
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

    /// One incident.
    pub fn get(&self, id: i64) -> Result<Option<Incident>, StoreError> {
        Ok(self
            .query(&format!("{SELECT} WHERE incidents.id = ?1"), params![id])?
            .into_iter()
            .next())
    }

    /// The first `limit` occurrences of an incident, in time order.
    pub fn occurrences(&self, incident: i64, limit: usize) -> Result<Vec<Occurrence>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT ts_ms, tz, line, fields FROM occurrences WHERE incident = ?1
                 ORDER BY COALESCE(ts_ms, 0), id LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![incident, limit as i64], |r| {
                let fields: String = r.get(3)?;
                Ok(Occurrence {
                    ts: zoned_text(r.get(0)?, r.get(1)?),
                    line: r.get(2)?,
                    fields: serde_json::from_str(&fields).unwrap_or_default(),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The sample events of an incident, with their context.
    pub fn samples(&self, incident: i64) -> Result<Vec<Sample>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT file, line, ts, before, text, after FROM samples WHERE incident = ?1
                 ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let list = |s: String| serde_json::from_str::<Vec<String>>(&s).unwrap_or_default();
        let rows = stmt
            .query_map(params![incident], |r| {
                Ok(Sample {
                    file: r.get(0)?,
                    line: r.get(1)?,
                    ts: r.get(2)?,
                    before: list(r.get(3)?),
                    text: r.get(4)?,
                    after: list(r.get(5)?),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The distinct values of each captured field across an incident's occurrences.
    pub fn field_values(&self, incident: i64) -> Result<Vec<FieldValues>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT j.key, j.value, COUNT(*) FROM occurrences o, json_each(o.fields) j
                 WHERE o.incident = ?1 GROUP BY j.key, j.value
                 ORDER BY j.key, COUNT(*) DESC, j.value",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![incident], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
            })
            .map_err(|e| self.err(e))?;
        let mut by_field: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
        for row in rows {
            let (k, v, n) = row.map_err(|e| self.err(e))?;
            by_field.entry(k).or_default().push((v, n));
        }
        Ok(by_field
            .into_iter()
            .map(|(field, values)| FieldValues {
                field,
                distinct: values.len() as i64,
                all_under: common_dir(values.iter().map(|(v, _)| v.as_str())),
                top: values.into_iter().take(TOP_VALUES).collect(),
            })
            .collect())
    }

    /// Groups of error events no rule knew, seen within `[since, until]`, most frequent first.
    pub fn unknown_between(
        &self,
        since: Option<i64>,
        until: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Unknown>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT template, host, kind, level, count, first_ms, last_ms, first_ts, last_ts,
                        sample_file, sample_line, sample FROM unknown
                 WHERE (?1 IS NULL OR COALESCE(last_ms, ?1) >= ?1)
                   AND (?2 IS NULL OR COALESCE(first_ms, ?2) <= ?2)
                 ORDER BY count DESC, id LIMIT ?3",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![since, until, limit as i64], |r| {
                let host: String = r.get(1)?;
                Ok(Unknown {
                    template: r.get(0)?,
                    host: (!host.is_empty()).then_some(host),
                    kind: r.get(2)?,
                    level: r.get(3)?,
                    count: r.get(4)?,
                    first_seen: shown_time(r.get(7)?, r.get(5)?),
                    last_seen: shown_time(r.get(8)?, r.get(6)?),
                    sample_file: r.get(9)?,
                    sample_line: r.get(10)?,
                    sample: r.get(11)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
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

    /// Deletes incidents (and groups of unknown events) whose last occurrence is older than
    /// `before_ms`, with their occurrences and samples; returns how many incidents went.
    pub fn prune(&mut self, before_ms: i64) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        let old = "SELECT id FROM incidents WHERE last_ms IS NOT NULL AND last_ms < ?1";
        for sql in [
            format!("DELETE FROM occurrences WHERE incident IN ({old})"),
            format!("DELETE FROM samples WHERE incident IN ({old})"),
            format!("DELETE FROM incidents_fts WHERE rowid IN ({old})"),
            "DELETE FROM unknown_events WHERE unknown IN
                (SELECT id FROM unknown WHERE last_ms IS NOT NULL AND last_ms < ?1)"
                .to_string(),
            "DELETE FROM unknown WHERE last_ms IS NOT NULL AND last_ms < ?1".to_string(),
        ] {
            tx.execute(&sql, params![before_ms]).map_err(err)?;
        }
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

    fn query(&self, sql: &str, args: impl rusqlite::Params) -> Result<Vec<Incident>, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(args, incident_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}

const SELECT: &str = "SELECT incidents.id, rule, title, severity, host, group_key, count, first_ms,
    last_ms, kb, sample_file, sample_line, sample, first_ts, last_ts, resolved_ms,
    (SELECT CASE WHEN a.ack_severity = incidents.severity AND (a.ack_until_ms IS NULL
        OR a.ack_until_ms > CAST(strftime('%s', 'now') AS INTEGER) * 1000)
        THEN COALESCE(a.ack_until_ms, -1) END FROM acks a WHERE a.incident = incidents.id),
    (SELECT a.ack_note FROM acks a WHERE a.incident = incidents.id),
    -- quiet: not seen for its quiet time (1800000 ms is GAP_MS, for incidents stored before v6)
    CASE WHEN resolved_ms IS NULL AND last_ms IS NOT NULL
        AND last_ms + COALESCE(quiet_ms, 1800000) < CAST(strftime('%s', 'now') AS INTEGER) * 1000
        THEN last_ms + COALESCE(quiet_ms, 1800000) END
    FROM incidents";

/// An instant shown in the zone offset it was written in (UTC when that is not known).
fn zoned_text(ms: Option<i64>, tz: Option<i32>) -> Option<String> {
    let t = jiff::Timestamp::from_millisecond(ms?).ok()?;
    let offset = tz
        .and_then(|s| jiff::tz::Offset::from_seconds(s).ok())
        .unwrap_or(jiff::tz::Offset::UTC);
    Some(crate::parse::format_ts(
        &t.to_zoned(jiff::tz::TimeZone::fixed(offset)),
    ))
}

/// A time as written (with its offset), or the instant in UTC when that was not kept.
fn shown_time(written: Option<String>, ms: Option<i64>) -> Option<String> {
    written.or_else(|| {
        ms.and_then(|m| jiff::Timestamp::from_millisecond(m).ok())
            .map(|t| t.to_string())
    })
}

fn incident_row(row: &rusqlite::Row) -> rusqlite::Result<Incident> {
    let kb: String = row.get(9)?;
    let group: String = row.get(5)?;
    let mut incident = Incident {
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
        first_seen: shown_time(row.get(13)?, row.get(7)?),
        first_ms: row.get(7)?,
        last_ms: row.get(8)?,
        last_seen: shown_time(row.get(14)?, row.get(8)?),
        kb: serde_json::from_str(&kb).unwrap_or_default(),
        sample_file: row.get(10)?,
        sample_line: row.get(11)?,
        sample: row.get(12)?,
        resolved: row
            .get::<_, Option<i64>>(15)?
            .and_then(|m| jiff::Timestamp::from_millisecond(m).ok())
            .map(|t| t.to_string()),
        acked_until: row.get::<_, Option<i64>>(16)?.map(|m| match m {
            -1 => "forever".to_string(),
            m => jiff::Timestamp::from_millisecond(m)
                .map(|t| t.to_string())
                .unwrap_or_default(),
        }),
        ack_note: row.get(17)?,
        quiet_since: row
            .get::<_, Option<i64>>(18)?
            .and_then(|m| jiff::Timestamp::from_millisecond(m).ok())
            .map(|t| t.to_string()),
        state: "",
    };
    incident.state = incident.state_of();
    Ok(incident)
}

/// The directory all values lie under, when there are several and each is an absolute path
/// (`/opt/zimbra/store2` for blobs spread over one volume).
fn common_dir<'a>(mut values: impl Iterator<Item = &'a str>) -> Option<String> {
    let first = values.next()?;
    if !first.starts_with('/') {
        return None;
    }
    let mut prefix = first.rsplit_once('/').map_or("", |(d, _)| d).to_string();
    let mut more = false;
    for v in values {
        more = true;
        if !v.starts_with('/') {
            return None;
        }
        while !(v.starts_with(&prefix) && v[prefix.len()..].starts_with('/')) {
            prefix = prefix.rsplit_once('/')?.0.to_string();
        }
    }
    (more && prefix.len() > 1).then_some(prefix)
}

#[cfg(test)]
mod tests {
    use super::common_dir;

    #[test]
    fn values_under_one_directory_are_summed_up_by_it() {
        let paths = [
            "/opt/zimbra/store2/0/257/msg/0/257-1.msg",
            "/opt/zimbra/store2/0/301/msg/0/301-9.msg",
        ];
        assert_eq!(
            common_dir(paths.into_iter()).as_deref(),
            Some("/opt/zimbra/store2/0")
        );
        assert_eq!(common_dir(["/a/b/c"].into_iter()), None);
        assert_eq!(common_dir(["/a/x", "b/y"].into_iter()), None);
        assert_eq!(common_dir(["/a/x", "/b/y"].into_iter()), None);
    }
}
