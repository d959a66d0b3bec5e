//! Findings and their lifecycle. A finding is one (route, code): opened when first seen,
//! open while seen, resolved when a sweep no longer sees it on a route still routed,
//! reopened when it comes back, retired when its route leaves the routing table; each step
//! is a finding event of that sweep. Listing findings and events for the API and reports.
//!
//! Owns the `findings` and `finding_events` tables. Does not own the routes, the verdict
//! history or the sweep row (`sweeps.rs`, whose transaction records a sweep), nor
//! suppressions (`suppressions.rs`: read here only to say whether a finding is covered).

use jiff::Timestamp;
use serde::Serialize;

use super::codec::{corrupt, message_type, opt_time, org, parse_severity, time};
use super::{Store, StoreError, SweepId};
use crate::model::{Finding, FindingCode, MessageTypeId, OrgNumber, Route, Severity};

/// Where a finding is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingState {
    /// Seen in the latest sweep.
    Open,
    /// Gone in a later sweep while the route was still routed.
    Resolved,
    /// The route left the routing table while the finding was open.
    Retired,
}

impl FindingState {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            FindingState::Open => "open",
            FindingState::Resolved => "resolved",
            FindingState::Retired => "retired",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => FindingState::Open,
            "resolved" => FindingState::Resolved,
            "retired" => FindingState::Retired,
            _ => return None,
        })
    }
}

/// What a sweep did to a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Seen for the first time.
    Opened,
    /// No longer seen.
    Resolved,
    /// Seen again after being resolved.
    Reopened,
    /// Its route left the routing table.
    Retired,
}

impl Change {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Change::Opened => "opened",
            Change::Resolved => "resolved",
            Change::Reopened => "reopened",
            Change::Retired => "retired",
        }
    }
}

/// A finding that changed in a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct FindingChange {
    /// The route.
    pub route: Route,
    /// The finding's code.
    pub code: FindingCode,
    /// What happened.
    pub change: Change,
    /// An active suppression covers it (alerts leave it out).
    pub suppressed: bool,
}

/// A finding with its lifecycle, as `GET /v1/findings` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FindingRecord {
    /// Its id.
    pub id: i64,
    /// The route.
    #[serde(flatten)]
    pub route: Route,
    /// Its code.
    pub code: FindingCode,
    /// Its severity.
    pub severity: Severity,
    /// Where it is in its life.
    pub state: FindingState,
    /// First seen.
    pub first_seen_at: Timestamp,
    /// Last seen.
    pub last_seen_at: Timestamp,
    /// When it was resolved (or retired), if it is.
    pub resolved_at: Option<Timestamp>,
    /// How often it came back after being resolved.
    pub reopened: u32,
    /// The suppression covering it now, if any.
    pub suppressed_by: Option<i64>,
    /// The latest finding with its facts.
    pub detail: Finding,
}

/// Which findings to list.
#[derive(Clone, Debug, Default)]
pub struct FindingFilter {
    /// Only this sender.
    pub sender: Option<OrgNumber>,
    /// Only this recipient.
    pub recipient: Option<OrgNumber>,
    /// Only this message type.
    pub message_type: Option<MessageTypeId>,
    /// Only in this state.
    pub state: Option<FindingState>,
    /// Only of this severity.
    pub severity: Option<Severity>,
    /// At most this many (newest first).
    pub limit: u32,
}

/// What happened to a finding in a sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindingEvent {
    /// The finding's id.
    pub finding: i64,
    /// The sweep.
    pub sweep: SweepId,
    /// When.
    pub at: Timestamp,
    /// What.
    pub change: Change,
}

impl Store {
    /// Every finding with its lifecycle, oldest first.
    pub fn all_findings(&self, now: Timestamp) -> Result<Vec<FindingRecord>, StoreError> {
        let mut out = self.findings(
            &FindingFilter {
                limit: u32::MAX,
                ..FindingFilter::default()
            },
            now,
        )?;
        out.sort_by_key(|f| f.id);
        Ok(out)
    }

    /// Every finding event (opened, resolved, reopened, retired), in order.
    pub fn finding_events(&self) -> Result<Vec<FindingEvent>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT finding_id, sweep_id, at, event FROM finding_events ORDER BY rowid")
            .map_err(|e| self.err(e))?;
        st.query_map([], |r| {
            let event: String = r.get(3)?;
            Ok(FindingEvent {
                finding: r.get(0)?,
                sweep: r.get(1)?,
                at: time(&r.get::<_, String>(2)?)?,
                change: match event.as_str() {
                    "opened" => Change::Opened,
                    "resolved" => Change::Resolved,
                    "reopened" => Change::Reopened,
                    "retired" => Change::Retired,
                    _ => return Err(corrupt("finding event", &event)),
                },
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| self.err(e))
    }

    /// Findings with their lifecycle, newest first, filtered.
    pub fn findings(
        &self,
        filter: &FindingFilter,
        now: Timestamp,
    ) -> Result<Vec<FindingRecord>, StoreError> {
        let mut sql = String::from(
            "SELECT f.id, r.sender, r.message_type, r.recipient, f.code, f.severity, f.state,
                    f.first_seen_at, f.last_seen_at, f.resolved_at, f.reopened, f.detail
             FROM findings f JOIN routes r ON r.id = f.route_id WHERE 1 = 1",
        );
        let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
        if let Some(s) = filter.sender {
            sql.push_str(" AND r.sender = ?");
            args.push(Box::new(s.get()));
        }
        if let Some(s) = filter.recipient {
            sql.push_str(" AND r.recipient = ?");
            args.push(Box::new(s.get()));
        }
        if let Some(t) = &filter.message_type {
            sql.push_str(" AND r.message_type = ?");
            args.push(Box::new(t.to_string()));
        }
        if let Some(s) = filter.state {
            sql.push_str(" AND f.state = ?");
            args.push(Box::new(s.as_str()));
        }
        if let Some(s) = filter.severity {
            sql.push_str(" AND f.severity = ?");
            args.push(Box::new(s.as_str()));
        }
        sql.push_str(" ORDER BY f.last_seen_at DESC, f.id DESC LIMIT ?");
        args.push(Box::new(filter.limit));
        let suppressions = self.suppressions()?;
        let mut st = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                let code: String = r.get(4)?;
                let severity: String = r.get(5)?;
                let state: String = r.get(6)?;
                let detail: String = r.get(11)?;
                Ok(FindingRecord {
                    id: r.get(0)?,
                    route: Route::new(
                        org(r.get(1)?)?,
                        message_type(&r.get::<_, String>(2)?)?,
                        org(r.get(3)?)?,
                    ),
                    code: FindingCode::from_name(&code)
                        .ok_or_else(|| corrupt("finding code", &code))?,
                    severity: parse_severity(&severity)
                        .ok_or_else(|| corrupt("severity", &severity))?,
                    state: FindingState::parse(&state)
                        .ok_or_else(|| corrupt("finding state", &state))?,
                    first_seen_at: time(&r.get::<_, String>(7)?)?,
                    last_seen_at: time(&r.get::<_, String>(8)?)?,
                    resolved_at: opt_time(r.get(9)?)?,
                    reopened: r.get(10)?,
                    suppressed_by: None,
                    detail: serde_json::from_str(&detail)
                        .map_err(|_| corrupt("finding", &detail))?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .map(|mut f| {
                f.suppressed_by = suppressions
                    .iter()
                    .find(|s| s.covers(&f.route, f.code, now))
                    .map(|s| s.id);
                f
            })
            .collect())
    }
}
