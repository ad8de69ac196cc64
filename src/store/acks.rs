//! Acknowledgements (`zkb ack ID --for 2h --note ...`): an acknowledged incident stops
//! alerting and is shown as such until the acknowledgement expires, or the incident's
//! severity is no longer the one acknowledged.

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};

impl Store {
    /// Acknowledges incident `id` until `until_ms` (`None`: until it changes); false when there
    /// is no such incident.
    pub fn ack(&mut self, id: i64, until_ms: Option<i64>, note: &str) -> Result<bool, StoreError> {
        let now = jiff::Timestamp::now().as_millisecond();
        let n = self
            .conn
            .execute(
                "INSERT OR REPLACE INTO acks (incident, ack_until_ms, ack_note, ack_severity, ack_at_ms)
                 SELECT id, ?2, ?3, severity, ?4 FROM incidents WHERE id = ?1",
                params![id, until_ms, note, now],
            )
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// Acknowledges the open incident of `rule` with this group key and host (the dashboard's
    /// `a` key, which knows incidents by their rule and group); its id, or `None` when the
    /// store has no such open incident.
    pub fn ack_open(
        &mut self,
        rule: &str,
        group_key: &str,
        host: Option<&str>,
        until_ms: Option<i64>,
        note: &str,
    ) -> Result<Option<i64>, StoreError> {
        let id: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT id FROM incidents
                 WHERE rule = ?1 AND group_key = ?2 AND COALESCE(host, '') = COALESCE(?3, '')
                   AND resolved_ms IS NULL
                 ORDER BY id DESC LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row(params![rule, group_key, host], |r| r.get(0))
                    .optional()
            })
            .map_err(|e| self.err(e))?;
        match id {
            Some(id) => Ok(self.ack(id, until_ms, note)?.then_some(id)),
            None => Ok(None),
        }
    }

    /// Whether the open incident of `rule` with this group key and host is acknowledged now.
    pub fn acked(&self, rule: &str, group_key: &str, host: Option<&str>) -> bool {
        let now = jiff::Timestamp::now().as_millisecond();
        self.conn
            .prepare_cached(
                "SELECT 1 FROM incidents i JOIN acks a ON a.incident = i.id
                 WHERE i.rule = ?1 AND i.group_key = ?2 AND COALESCE(i.host, '') = COALESCE(?3, '')
                   AND i.resolved_ms IS NULL AND a.ack_severity = i.severity
                   AND (a.ack_until_ms IS NULL OR a.ack_until_ms > ?4)
                 LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row(params![rule, group_key, host, now], |_| Ok(()))
                    .optional()
            })
            .is_ok_and(|r| r.is_some())
    }
}
