//! Maintenance windows in the store: those opened and closed by hand (`zkb maint start|stop`),
//! by `zkb run` around an installer, and those the watch infers from zmcontrol's and zmsetup's
//! own lines, so that `zkb maint list` shows them all and a watch sees the ones opened by hand.

use rusqlite::params;

use super::{Store, StoreError};
use crate::maint::{Scope, Window};

impl Store {
    /// Opens a window; its row id.
    pub fn maint_start(&mut self, w: &Window) -> Result<i64, StoreError> {
        self.conn
            .execute(
                "INSERT INTO maintenance (host, start_ms, end_ms, reason, source)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![w.scope.host(), w.start_ms, w.end_ms, w.reason, w.source],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Closes the open windows of `scope` at `end_ms` (with `inferred_only`, only those the
    /// logs opened, not those of `zkb maint start` or `zkb run`); how many it closed.
    pub fn maint_stop(
        &mut self,
        scope: &Scope,
        end_ms: i64,
        inferred_only: bool,
    ) -> Result<usize, StoreError> {
        self.conn
            .execute(
                "UPDATE maintenance SET end_ms = ?2
                 WHERE end_ms IS NULL AND COALESCE(host, '') = COALESCE(?1, '')
                   AND (?3 = 0 OR source NOT IN ('manual', 'zkb run'))",
                params![scope.host(), end_ms, inferred_only],
            )
            .map_err(|e| self.err(e))
    }

    /// Closes one window (the one `zkb run` opened) at `end_ms`.
    pub fn maint_close(&mut self, id: i64, end_ms: i64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE maintenance SET end_ms = ?2 WHERE id = ?1 AND end_ms IS NULL",
                params![id, end_ms],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Windows open now or closed after `since_ms`, oldest first (`sources`: only these, or all
    /// when empty).
    pub fn maint_windows(
        &self,
        since_ms: i64,
        sources: &[&str],
    ) -> Result<Vec<Window>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT host, start_ms, end_ms, reason, source, id FROM maintenance
                 WHERE end_ms IS NULL OR end_ms >= ?1 ORDER BY start_ms, id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![since_ms], |r| {
                Ok(Window {
                    scope: Scope::from_host(r.get::<_, Option<String>>(0)?),
                    start_ms: r.get(1)?,
                    end_ms: r.get(2)?,
                    reason: r.get(3)?,
                    source: r.get(4)?,
                    id: Some(r.get(5)?),
                })
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for w in rows {
            let w = w.map_err(|e| self.err(e))?;
            if sources.is_empty() || sources.contains(&w.source.as_str()) {
                out.push(w);
            }
        }
        Ok(out)
    }
}
