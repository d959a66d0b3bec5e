//! The audit trail of pre-send checks: a row per check answered (when, who asked, the
//! route, the answer), appended in batches by the daemon's audit writer.
//!
//! Owns the `audit` table's writes and its count. Does not own the answers (the verifier
//! gives them, from the latest sweep) nor forgetting old rows (`retention.rs`, together
//! with the rest of the history).

use std::sync::Arc;

use super::codec::{stamp, verdict_str};
use super::sql::{DbError, Inserter, params};
use super::{Store, StoreError};
use crate::model::{Route, Verdict};
use jiff::Timestamp;

/// A pre-send check answered, for the audit table.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    /// When.
    pub at: Timestamp,
    /// Who asked (the API token's name).
    pub caller: Arc<str>,
    /// The route asked about.
    pub route: Route,
    /// The answer.
    pub verdict: Verdict,
    /// Readers in the answer.
    pub readers: u32,
}

impl Store {
    /// Appends pre-send checks to the audit table, in one transaction.
    pub fn audit(&mut self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let path = self.path.display().to_string();
        let wrap = |e: DbError| StoreError {
            path: path.clone(),
            reason: e.to_string(),
        };
        let tx = self.db.begin().map_err(wrap)?;
        // In one `COPY` on PostgreSQL: several instances' checks add up to thousands of
        // rows a second, more than a round trip per row keeps up with.
        let mut rows = Inserter::new(
            &self.db,
            "audit",
            &[
                "at",
                "caller",
                "sender",
                "message_type",
                "recipient",
                "verdict",
                "readers",
            ],
            None,
        )
        .map_err(wrap)?;
        for e in entries {
            rows.push(params![
                stamp(e.at),
                &*e.caller,
                i64::from(e.route.sender.get()),
                e.route.message_type.as_str(),
                i64::from(e.route.recipient.get()),
                verdict_str(e.verdict),
                i64::from(e.readers)
            ])
            .map_err(wrap)?;
        }
        rows.flush().map_err(wrap)?;
        drop(rows);
        tx.commit().map_err(wrap)
    }

    /// Audit rows, for tests and reports.
    pub fn audit_count(&self) -> Result<u64, StoreError> {
        self.db
            .query_row("SELECT count(*) FROM audit", params![], |r| r.i64(0))
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.err(e))
    }
}
