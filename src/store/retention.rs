//! Retention: forgetting history older than a cut-off, across the tables and in one
//! transaction — sweeps, verdict rows that had ended, finding events and audit rows —
//! while keeping what the present still refers to (the latest `ok` sweep, the sweep each
//! current verdict dates from, each finding's lifecycle summary).
//!
//! Owns deleting old rows, for every table at once: it is here rather than in `audit.rs`
//! because three of its four deletions are sweep and finding history, and tables added
//! later add their rule here. Does not own how any row is written (each table's file does)
//! nor the retention window (settings; the daemon calls this).

use super::codec::stamp;
use super::sql::{DbError, params};
use super::{Store, StoreError, SweepId};
use jiff::Timestamp;

/// What pruning removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Sweeps.
    pub sweeps: u64,
    /// Verdict rows that had ended before the oldest kept sweep.
    pub verdicts: u64,
    /// Finding events (opened, resolved, ...) of forgotten sweeps.
    pub events: u64,
    /// Audit rows.
    pub audit: u64,
}

impl Store {
    /// Forgets sweeps that ended before `before` (never the latest `ok` one, nor one a
    /// current verdict dates from), the verdict rows and finding events of forgotten
    /// sweeps, and older audit rows. Each finding's lifecycle summary (first seen, last
    /// seen, resolved, reopened) is kept.
    pub fn prune(&mut self, before: Timestamp) -> Result<Pruned, StoreError> {
        while self.write_history(None)?.is_some() {}
        let path = self.path.display().to_string();
        let wrap = |e: DbError| StoreError {
            path: path.clone(),
            reason: e.to_string(),
        };
        let tx = self.db.begin().map_err(wrap)?;
        super::lease::check(&self.db, self.fence.as_ref()).map_err(wrap)?;
        let db = &self.db;
        let cutoff = stamp(before);
        let keep_from: Option<SweepId> = db
            .query_row(
                "SELECT min(id) FROM sweeps WHERE coalesce(finished_at, started_at) >= ?1
                    OR id = (SELECT max(id) FROM sweeps WHERE status = 'ok')",
                params![cutoff],
                |r| r.opt_i64(0),
            )
            .map_err(wrap)?;
        let mut pruned = Pruned::default();
        if let Some(keep) = keep_from {
            pruned.verdicts = db
                .execute(
                    "DELETE FROM verdicts WHERE until IS NOT NULL AND until <= ?1",
                    params![keep],
                )
                .map_err(wrap)?;
            pruned.events = db
                .execute(
                    "DELETE FROM finding_events WHERE sweep_id < ?1 AND at < ?2",
                    params![keep, cutoff],
                )
                .map_err(wrap)?;
            // Sweeps still referenced by a kept verdict row (its `since`) stay. A
            // finding's first and last sweep are kept as times in the finding itself.
            pruned.sweeps = db
                .execute(
                    "DELETE FROM sweeps WHERE id < ?1
                       AND id NOT IN (SELECT since FROM verdicts)
                       AND id NOT IN (SELECT sweep_id FROM finding_events)",
                    params![keep],
                )
                .map_err(wrap)?;
        }
        pruned.audit = db
            .execute("DELETE FROM audit WHERE at < ?1", params![cutoff])
            .map_err(wrap)?;
        tx.commit().map_err(wrap)?;
        Ok(pruned)
    }
}
