//! Findings and their lifecycle. A finding is one (route, code): opened when first seen,
//! open while seen, resolved when a sweep no longer sees it on a route still routed,
//! reopened when it comes back, retired when its route leaves the routing table; each step
//! is a finding event of that sweep. [`FindingLedger`] moves findings along inside the
//! transaction that records a sweep, fed route by route from its single pass; the queries
//! list findings and events for the API and reports.
//!
//! Owns the `findings` and `finding_events` tables. Does not own the routes, the verdict
//! history, the sweep row or the transaction (`sweeps.rs` drives it and hands each route's
//! findings in), nor suppressions (`suppressions.rs`: read here only to say whether a
//! finding is covered).

use jiff::Timestamp;
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::codec::{Texts, corrupt, message_type, opt_time, org, parse_severity, time};
use super::sql::{Db, DbResult, Inserter, Param, Stmt, Value, params};
use super::{Store, StoreError, Suppression, SweepId};
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
    fn as_str(self) -> &'static str {
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
    fn as_str(self) -> &'static str {
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
        self.settled()?;
        self.db
            .query_map(
                "SELECT finding_id, sweep_id, at, event FROM finding_events ORDER BY rowid",
                params![],
                |r| {
                    let event = r.str(3)?;
                    Ok(FindingEvent {
                        finding: r.i64(0)?,
                        sweep: r.i64(1)?,
                        at: time(r.str(2)?)?,
                        change: match event {
                            "opened" => Change::Opened,
                            "resolved" => Change::Resolved,
                            "reopened" => Change::Reopened,
                            "retired" => Change::Retired,
                            _ => return Err(corrupt("finding event", event)),
                        },
                    })
                },
            )
            .map_err(|e| self.err(e))
    }

    /// Findings with their lifecycle, newest first, filtered.
    pub fn findings(
        &self,
        filter: &FindingFilter,
        now: Timestamp,
    ) -> Result<Vec<FindingRecord>, StoreError> {
        self.settled()?;
        // An open finding was seen by the latest `ok` sweep (every sweep keeps each open
        // finding open only if it sees it); its row's `last_seen_at` is written when it
        // stops being open, so a sweep need not rewrite every open finding.
        let mut sql = String::from(
            "SELECT f.id, r.sender, r.message_type, r.recipient, f.code, f.severity, f.state,
                    f.first_seen_at,
                    CASE WHEN f.state = 'open'
                         THEN coalesce((SELECT finished_at FROM sweeps WHERE status = 'ok'
                                        ORDER BY id DESC LIMIT 1), f.last_seen_at)
                         ELSE f.last_seen_at END AS seen,
                    f.resolved_at, f.reopened, f.detail
             FROM findings f JOIN routes r ON r.id = f.route_id WHERE 1 = 1",
        );
        let mut args: Vec<Value> = Vec::new();
        let mut and = |sql: &mut String, column: &str, value: Value| {
            args.push(value);
            sql.push_str(&format!(" AND {column} = ?{}", args.len()));
        };
        if let Some(s) = filter.sender {
            and(&mut sql, "r.sender", i64::from(s.get()).into());
        }
        if let Some(s) = filter.recipient {
            and(&mut sql, "r.recipient", i64::from(s.get()).into());
        }
        if let Some(t) = &filter.message_type {
            and(&mut sql, "r.message_type", t.to_string().into());
        }
        if let Some(s) = filter.state {
            and(&mut sql, "f.state", s.as_str().to_owned().into());
        }
        if let Some(s) = filter.severity {
            and(&mut sql, "f.severity", s.as_str().to_owned().into());
        }
        args.push(i64::from(filter.limit).into());
        sql.push_str(&format!(
            " ORDER BY seen DESC, f.id DESC LIMIT ?{}",
            args.len()
        ));
        let suppressions = self.suppressions()?;
        let args: Vec<&dyn Param> = args.iter().map(|a| a as &dyn Param).collect();
        let rows = self
            .db
            .prepare(&sql)
            .and_then(|mut st| {
                st.query_map(&args, |r| {
                    let code = r.str(4)?;
                    let severity = r.str(5)?;
                    let state = r.str(6)?;
                    let detail = r.str(11)?;
                    Ok(FindingRecord {
                        id: r.i64(0)?,
                        route: Route::new(
                            org(r.i64(1)?)?,
                            message_type(r.str(2)?)?,
                            org(r.i64(3)?)?,
                        ),
                        code: FindingCode::from_name(code)
                            .ok_or_else(|| corrupt("finding code", code))?,
                        severity: parse_severity(severity)
                            .ok_or_else(|| corrupt("severity", severity))?,
                        state: FindingState::parse(state)
                            .ok_or_else(|| corrupt("finding state", state))?,
                        first_seen_at: time(r.str(7)?)?,
                        last_seen_at: time(r.str(8)?)?,
                        resolved_at: opt_time(r.opt_string(9)?)?,
                        reopened: r.u32(10)?,
                        suppressed_by: None,
                        detail: serde_json::from_str(detail)
                            .map_err(|_| corrupt("finding", detail))?,
                    })
                })
            })
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

/// The open findings as a sweep needs them: kept by the store between the sweeps it
/// records (see `SweepState` in `sweeps.rs`), read from the database otherwise.
#[derive(Default)]
pub(super) struct OpenFindings {
    /// By (route id, code).
    open: FxHashMap<(i64, FindingCode), OpenFinding>,
    /// The details of the open findings, numbered (many findings share one).
    details: Texts,
    /// Open findings whose code this version does not know (id, route id): they end.
    strays: Vec<(i64, i64)>,
}

/// An open finding.
struct OpenFinding {
    /// Its id.
    id: i64,
    /// The number of its detail in [`OpenFindings::details`].
    detail: u32,
    /// The last sweep that saw it (0: none since it was read).
    seen: SweepId,
}

impl OpenFindings {
    /// Reads the open findings; codes this version does not know are strays.
    pub(super) fn load(tx: &Db) -> DbResult<OpenFindings> {
        let mut out = OpenFindings::default();
        tx.prepare_cached("SELECT id, route_id, code, detail FROM findings WHERE state = 'open'")?
            .for_each(params![], |r| {
                match FindingCode::from_name(r.str(2)?) {
                    Some(code) => {
                        let detail = out.details.number(r.str(3)?);
                        let id = r.i64(0)?;
                        out.open.insert(
                            (r.i64(1)?, code),
                            OpenFinding {
                                id,
                                detail,
                                seen: 0,
                            },
                        );
                    }
                    None => out.strays.push((r.i64(0)?, r.i64(1)?)),
                }
                Ok(())
            })?;
        Ok(out)
    }
}

/// A finding's detail as a sweep writes it: its JSON, and its number among the details of
/// the open findings before the sweep (`None`: no open finding has it) and after.
#[derive(Clone)]
pub(super) struct Detail {
    json: String,
    before: Option<u32>,
    after: u32,
}

/// The finding half of recording a sweep, inside its transaction: given the open findings
/// when the transaction starts, told each judged route's findings in the same pass that
/// writes its verdict ([`saw`](Self::saw)), and [`finish`](Self::finish)ed to end the open
/// findings no longer seen. The open findings it was given are left as the sweep leaves
/// them.
pub(super) struct FindingLedger<'a> {
    tx: &'a Db,
    sweep: SweepId,
    /// When the sweep finished, as stored.
    now: &'a str,
    finished_at: Timestamp,
    /// The latest `ok` sweep before this one and when it finished: the last sweep that saw
    /// the findings this one ends.
    previous: Option<(SweepId, String)>,
    /// The active suppressions, to mark the changes they cover.
    suppressions: &'a [&'a Suppression],
    /// The open findings, updated as the sweep goes.
    state: &'a mut OpenFindings,
    /// The details of this sweep's findings, numbered: the open findings' after it.
    details: Texts,
    find: Stmt<'a>,
    insert: Inserter<'a>,
    reopen: Stmt<'a>,
    update_detail: Stmt<'a>,
    event: Inserter<'a>,
    /// What this sweep did to findings, in order.
    changes: Vec<FindingChange>,
    /// Findings on the routes judged, by code.
    by_code: ByCode,
}

/// Findings counted by code, in the order the codes were first met.
type ByCode = Vec<(FindingCode, u64)>;

impl<'a> FindingLedger<'a> {
    /// The ledger of sweep `sweep`, which finished at `finished_at` (`now` as stored), over
    /// the open findings `state`; `previous` is the latest `ok` sweep before it.
    pub(super) fn new(
        tx: &'a Db,
        sweep: SweepId,
        now: &'a str,
        finished_at: Timestamp,
        previous: Option<(SweepId, String)>,
        suppressions: &'a [&'a Suppression],
        state: &'a mut OpenFindings,
    ) -> DbResult<Self> {
        Ok(FindingLedger {
            tx,
            sweep,
            now,
            finished_at,
            previous,
            suppressions,
            state,
            details: Texts::default(),
            find: tx
                .prepare_cached("SELECT id, state FROM findings WHERE route_id = ?1 AND code = ?2")?,
            insert: Inserter::new(
                tx,
                "findings",
                &[
                    "route_id",
                    "code",
                    "severity",
                    "state",
                    "first_seen_at",
                    "first_sweep",
                    "last_seen_at",
                    "last_sweep",
                    "detail",
                ],
                Some("id"),
            )?,
            reopen: tx.prepare_cached(
                "UPDATE findings SET state = 'open', reopened = reopened + 1, reopened_at = ?2, resolved_at = NULL, detail = ?3 WHERE id = ?1",
            )?,
            update_detail: tx.prepare_cached("UPDATE findings SET detail = ?2 WHERE id = ?1")?,
            event: Inserter::new(
                tx,
                "finding_events",
                &["finding_id", "sweep_id", "at", "event"],
                None,
            )?,
            changes: Vec::new(),
            by_code: Vec::new(),
        })
    }

    /// A finding's detail as this sweep writes it, from its JSON.
    pub(super) fn detail(&mut self, json: String) -> Detail {
        Detail {
            before: self.state.details.get(&json),
            after: self.details.number(&json),
            json,
        }
    }

    /// Route `route` (id `route_id`; `new`: first judged in this sweep) was judged with
    /// `findings`, `details` holding each one's [`detail`](Self::detail): counts them by
    /// code, keeps the open ones open with their latest detail, opens the new ones and
    /// reopens the resolved ones.
    pub(super) fn saw(
        &mut self,
        route_id: i64,
        new: bool,
        route: &Route,
        findings: &[Finding],
        details: &[Detail],
    ) -> DbResult<()> {
        for (f, detail) in findings.iter().zip(details) {
            let code = f.code();
            match self.by_code.iter_mut().find(|(c, _)| *c == code) {
                Some((_, n)) => *n += 1,
                None => self.by_code.push((code, 1)),
            }
            let change = match self.state.open.get_mut(&(route_id, code)) {
                Some(open) => {
                    let fid = open.id;
                    // Seen earlier in this sweep (the same code twice on the route): its
                    // number is already this sweep's.
                    let was = if open.seen == self.sweep {
                        Some(detail.after)
                    } else {
                        detail.before
                    };
                    open.seen = self.sweep;
                    if was != Some(open.detail) {
                        // It may have been opened in this sweep, and still be buffered.
                        self.insert.flush()?;
                        self.update_detail.execute(params![fid, detail.json])?;
                    }
                    open.detail = detail.after;
                    None
                }
                None => {
                    // A route first judged now has no findings yet: no need to ask.
                    let existing: Option<i64> = if new {
                        None
                    } else {
                        self.find
                            .query_opt(params![route_id, code.as_str()], |r| r.i64(0))?
                    };
                    let (fid, change) = match existing {
                        Some(fid) => {
                            self.reopen.execute(params![fid, self.now, detail.json])?;
                            (fid, Change::Reopened)
                        }
                        None => {
                            let fid = self.insert.push_id(params![
                                route_id,
                                code.as_str(),
                                code.severity().as_str(),
                                "open",
                                self.now,
                                self.sweep,
                                self.now,
                                self.sweep,
                                detail.json
                            ])?;
                            (fid, Change::Opened)
                        }
                    };
                    self.state.open.insert(
                        (route_id, code),
                        OpenFinding {
                            id: fid,
                            detail: detail.after,
                            seen: self.sweep,
                        },
                    );
                    self.event
                        .push(params![fid, self.sweep, self.now, change.as_str()])?;
                    Some(change)
                }
            };
            if let Some(change) = change {
                let suppressed = self.covered(route, code);
                self.changes.push(FindingChange {
                    route: route.clone(),
                    code,
                    change,
                    suppressed,
                });
            }
        }
        Ok(())
    }

    /// Ends the open findings not seen in this sweep — resolved where their route was
    /// judged, retired with their route where not — last seen by the sweep before this one.
    /// `routes` gives, when some end, every route by id: (sender, number of the message type
    /// in `types`, recipient) and whether this sweep judged it. The open findings are left
    /// as this sweep leaves them.
    ///
    /// Returns what the sweep did to findings, in order, and the findings counted by code.
    pub(super) fn finish(
        mut self,
        routes: impl FnOnce() -> FxHashMap<i64, ((u32, u16, u32), bool)>,
        types: &[String],
    ) -> DbResult<(Vec<FindingChange>, ByCode)> {
        // Open findings not seen now: resolved, or retired with their route.
        let gone: Vec<(i64, i64, Option<FindingCode>)> = self
            .state
            .open
            .iter()
            .filter(|(_, f)| f.seen != self.sweep)
            .map(|((route_id, code), f)| (f.id, *route_id, Some(*code)))
            .chain(
                self.state
                    .strays
                    .iter()
                    .map(|&(fid, route_id)| (fid, route_id, None)),
            )
            .collect();
        // Routes by id, to name the routes of ended findings; most sweeps end none.
        let by_id = if gone.is_empty() {
            FxHashMap::default()
        } else {
            routes()
        };
        let mut end_finding = self.tx.prepare_cached(
            "UPDATE findings SET state = ?2, resolved_at = ?3,
                 last_seen_at = coalesce(?4, last_seen_at), last_sweep = coalesce(?5, last_sweep)
             WHERE id = ?1",
        )?;
        let (last_sweep, last_seen) = match &self.previous {
            Some((id, at)) => (Some(*id), Some(at.as_str())),
            None => (None, None),
        };
        for (fid, route_id, code) in gone {
            let change = if by_id.get(&route_id).is_some_and(|(_, judged)| *judged) {
                Change::Resolved
            } else {
                Change::Retired
            };
            let state = if change == Change::Resolved {
                FindingState::Resolved
            } else {
                FindingState::Retired
            };
            end_finding.execute(params![
                fid,
                state.as_str(),
                self.now,
                last_seen,
                last_sweep
            ])?;
            self.event
                .push(params![fid, self.sweep, self.now, change.as_str()])?;
            if let (Some(&((s, t, rcp), _)), Some(code)) = (by_id.get(&route_id), code) {
                let route = Route::new(
                    org(i64::from(s))?,
                    message_type(&types[usize::from(t)])?,
                    org(i64::from(rcp))?,
                );
                let suppressed = self.covered(&route, code);
                self.changes.push(FindingChange {
                    route,
                    code,
                    change,
                    suppressed,
                });
            }
        }
        self.insert.flush()?;
        self.event.flush()?;
        // What stays open is what this sweep saw, with this sweep's details.
        let sweep = self.sweep;
        self.state.open.retain(|_, f| f.seen == sweep);
        self.state.strays.clear();
        self.state.details = std::mem::take(&mut self.details);
        Ok((self.changes, self.by_code))
    }

    /// Whether an active suppression covers `code` on `route`.
    fn covered(&self, route: &Route, code: FindingCode) -> bool {
        self.suppressions
            .iter()
            .any(|s| s.covers(route, code, self.finished_at))
    }
}
