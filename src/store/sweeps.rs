//! Sweeps and the verdict history. A sweep is a row (running, then ok, failed or aborted);
//! every route ever judged has a row in `routes`; each route's verdict is kept as changes
//! only, a `verdicts` row holding from the sweep that wrote it (`since`) until the one that
//! replaced or ended it (`until`). A sweep is recorded in two transactions:
//! [`Store::record_answers`] writes the answers blob (`answers.rs`), marks the sweep `ok`
//! with its counts and its history due (`history_due`) — from then on the sweep is durable
//! and served; [`Store::write_history`] then makes one pass over the judged routes (the
//! evaluation at hand, or the answers read back) that writes new routes and changed
//! verdicts and hands each route's findings to the finding ledger (`findings.rs`). Reading
//! back: the latest answers, the verdicts as of any sweep, the sweeps themselves; readers
//! of the history write what is due first.
//!
//! Owns the `sweeps`, `routes`, `verdicts`, `answers` and `history_due` tables (the blob's
//! format is `answers.rs`; forgetting old rows is `retention.rs`). Does not own the finding
//! lifecycle (`findings.rs` writes `findings` and `finding_events` inside the history's
//! transaction), nor suppressions (read once per history and passed to the ledger), nor
//! judging (the engine did).

use std::sync::Arc;

use jiff::Timestamp;
use rustc_hash::FxHashMap;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use std::collections::hash_map::Entry;

use super::codec::{
    Texts, corrupt, findings_json, message_type, opt_time, org, parse_tier, parse_verdict, stamp,
    tier_str, time, verdict_str,
};
use super::findings::{Detail, FindingChange, FindingLedger, OpenFindings};
use super::sql::{Backend, Db, DbResult, Inserter, Row, params};
use super::{Store, StoreError, Suppression, answers, lease};
use crate::engine::Evaluation;
use crate::model::{EvidenceTier, Finding, FindingCode, MessageTypeId, OrgNumber, Route, Verdict};

/// A sweep's id (ascending in time).
pub type SweepId = i64;

/// The PostgreSQL channel a sweep's id is sent on when its answers are recorded, for the
/// instances that follow (`LISTEN`).
pub(super) const SWEEPS_CHANNEL: &str = "reachcheck_sweeps";
/// The PostgreSQL channel an instance that does not sweep tells the sweeper on that it
/// stored sent messages (from Altinn Events), which may need an alert only the sweeper sends.
pub(super) const MESSAGES_CHANNEL: &str = "reachcheck_messages";

/// How a sweep ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SweepStatus {
    /// Still running (or the process died during it; see [`Store::open`]).
    Running,
    /// Judged and recorded.
    Ok,
    /// Could not gather evidence or judge.
    Failed,
    /// The process ended during the sweep; nothing of it was recorded.
    Aborted,
}

impl SweepStatus {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => SweepStatus::Running,
            "ok" => SweepStatus::Ok,
            "failed" => SweepStatus::Failed,
            "aborted" => SweepStatus::Aborted,
            _ => return None,
        })
    }
}

/// One sweep as recorded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepRecord {
    /// Its id.
    pub id: SweepId,
    /// When it started.
    pub started_at: Timestamp,
    /// When it ended, if it did.
    pub finished_at: Option<Timestamp>,
    /// Where the evidence came from.
    pub source: String,
    /// How it ended.
    pub status: SweepStatus,
    /// Why it failed.
    pub error: Option<String>,
    /// When its evidence was taken.
    pub taken_at: Option<Timestamp>,
    /// Routes judged, and by verdict (for a sweep that ended `ok`).
    pub counts: Option<VerdictCounts>,
    /// Verdict rows written: routes whose verdict changed, appeared or went away.
    pub changed: Option<u64>,
}

/// Routes by verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VerdictCounts {
    /// All routes.
    pub routes: u64,
    /// `readable`.
    pub readable: u64,
    /// `not_readable`.
    pub not_readable: u64,
    /// `unknown`.
    pub unknown: u64,
}

/// A route's current verdict, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredVerdict {
    /// The route.
    pub route: Route,
    /// Its verdict.
    pub verdict: Verdict,
    /// Readers found.
    pub readers: u32,
    /// Whether the evidence was complete.
    pub tier: EvidenceTier,
    /// The findings.
    pub findings: Arc<[Finding]>,
}

/// The latest successful sweep and its verdicts.
#[derive(Clone, Debug)]
pub struct Latest {
    /// The sweep.
    pub sweep: SweepRecord,
    /// When its evidence was taken.
    pub taken_at: Timestamp,
    /// Every route's verdict.
    pub verdicts: Vec<StoredVerdict>,
}

/// What recording a sweep did.
#[derive(Clone, Debug, Default)]
pub struct SweepOutcome {
    /// Routes by verdict.
    pub counts: VerdictCounts,
    /// Verdict rows written.
    pub changed: u64,
    /// Findings opened, resolved, reopened or retired.
    pub changes: Vec<FindingChange>,
    /// Findings on the routes judged, by code.
    pub by_code: Vec<(FindingCode, u64)>,
}

pub(super) const SWEEP_COLUMNS: &str = "id, started_at, finished_at, source, status, error, taken_at, routes, readable, not_readable, unknown, changed";

pub(super) fn sweep_row(r: &Row<'_>) -> DbResult<SweepRecord> {
    let status = r.str(4)?;
    let routes: Option<i64> = r.opt_i64(7)?;
    let count = |i: usize| -> DbResult<u64> { Ok(r.opt_i64(i)?.unwrap_or(0).max(0) as u64) };
    Ok(SweepRecord {
        id: r.i64(0)?,
        started_at: time(r.str(1)?)?,
        finished_at: opt_time(r.opt_string(2)?)?,
        source: r.string(3)?,
        status: SweepStatus::parse(status).ok_or_else(|| corrupt("sweep status", status))?,
        error: r.opt_string(5)?,
        taken_at: opt_time(r.opt_string(6)?)?,
        counts: match routes {
            Some(n) => Some(VerdictCounts {
                routes: n.max(0) as u64,
                readable: count(8)?,
                not_readable: count(9)?,
                unknown: count(10)?,
            }),
            None => None,
        },
        changed: r.opt_i64(11)?.map(|n| n.max(0) as u64),
    })
}

impl Store {
    /// Records that a sweep started.
    pub fn begin_sweep(
        &mut self,
        started_at: Timestamp,
        source: &str,
    ) -> Result<SweepId, StoreError> {
        self.db
            .prepare_insert(
                "INSERT INTO sweeps (started_at, source, status) VALUES (?1, ?2, 'running')",
            )
            .and_then(|mut st| st.insert_id(params![stamp(started_at), source]))
            .map_err(|e| self.err(e))
    }

    /// Records that a sweep failed; nothing else of it is kept.
    pub fn fail_sweep(
        &mut self,
        id: SweepId,
        at: Timestamp,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE sweeps SET status = 'failed', finished_at = ?2, error = ?3 WHERE id = ?1",
                params![id, stamp(at), reason],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records sweep `id`: its answers and then its history ([`record_answers`] and
    /// [`write_history`]), returning what the history step did.
    ///
    /// [`record_answers`]: Self::record_answers
    /// [`write_history`]: Self::write_history
    pub fn record_sweep(
        &mut self,
        id: SweepId,
        finished_at: Timestamp,
        taken_at: Timestamp,
        evaluation: &Evaluation,
    ) -> Result<SweepOutcome, StoreError> {
        let counts = self.record_answers(id, finished_at, taken_at, evaluation)?;
        Ok(match self.write_history(Some((id, evaluation)))? {
            Some((_, outcome)) => outcome,
            // Another process wrote this sweep's history first.
            None => SweepOutcome {
                counts,
                ..SweepOutcome::default()
            },
        })
    }

    /// The first step of recording sweep `id`, one short transaction: every route's
    /// answer (the `answers` blob, rewritten only when it changed), the sweep marked `ok`
    /// with its counts, and the sweep marked as having its history still to write. From
    /// here on the sweep is the latest and its answers are durable; [`write_history`]
    /// then writes the routes, verdict changes and finding lifecycle from them. A history
    /// still to write from an earlier sweep is written first (its answers would be
    /// replaced).
    ///
    /// [`write_history`]: Self::write_history
    pub fn record_answers(
        &mut self,
        id: SweepId,
        finished_at: Timestamp,
        taken_at: Timestamp,
        evaluation: &Evaluation,
    ) -> Result<VerdictCounts, StoreError> {
        let mut counts = VerdictCounts::default();
        let mut blob = answers::Encoder::default();
        let mut lists: Vec<Option<u32>> = vec![None; evaluation.assessments.len()];
        let mut routes_of: Vec<u64> = vec![0; evaluation.assessments.len()];
        for (r, a) in evaluation.iter() {
            counts.routes += 1;
            match a.verdict {
                Verdict::Readable => counts.readable += 1,
                Verdict::NotReadable => counts.not_readable += 1,
                Verdict::Unknown => counts.unknown += 1,
            }
            routes_of[r.assessment as usize] += 1;
            let list = *lists[r.assessment as usize]
                .get_or_insert_with(|| findings_json(a.findings()).map_or(0, |l| blob.list(&l)));
            blob.push(&r.route, a.verdict, a.tier, a.readers, list);
        }
        let (body, pairs) = blob.finish();
        let hash: [u8; 32] = Sha256::digest(&body).into();
        // What changed since the answers this store recorded last, for the instances that
        // follow (none when this store recorded none: they read all the answers).
        let changes = self.answers.as_ref().map(|kept| {
            let mut by_code: Vec<(FindingCode, u64)> = Vec::new();
            for (a, &n) in evaluation.assessments.iter().zip(&routes_of) {
                for f in a.findings().iter().filter(|_| n > 0) {
                    let c = f.code();
                    match by_code.iter_mut().find(|(k, _)| *k == c) {
                        Some((_, m)) => *m += n,
                        None => by_code.push((c, n)),
                    }
                }
            }
            (kept.sweep, answers::changes(&kept.pairs, &pairs, &by_code))
        });
        // Another process may record a sweep between writing the history due and this
        // transaction: then its history is written, and this tried again.
        for _ in 0..3 {
            if let Some((due, _)) = self.write_history(None)? {
                tracing::info!(sweep = due, "wrote the history of a sweep recorded earlier");
            }
            let db = &self.db;
            let kept = self.answers.as_ref().map(|k| (k.sweep, k.hash));
            let fence = self.fence.as_ref();
            let changes = changes.as_ref();
            let run = || -> DbResult<bool> {
                let tx = db.begin()?;
                lease::check(db, fence)?;
                let due: Option<SweepId> =
                    db.query_opt("SELECT sweep FROM history_due LIMIT 1", params![], |r| {
                        r.i64(0)
                    })?;
                if due.is_some() {
                    return Ok(false);
                }
                // The body is left as it is when it is what this store wrote for the sweep
                // the row still names (a quiet sweep need not write 30 MB again).
                let unchanged = match kept {
                    Some((sweep, h)) if h == hash => {
                        db.execute(
                            "UPDATE answers SET sweep = ?1 WHERE id = 1 AND sweep = ?2",
                            params![id, sweep],
                        )? == 1
                    }
                    _ => false,
                };
                if !unchanged {
                    db.execute(
                        "INSERT INTO answers (id, sweep, body) VALUES (1, ?1, ?2)
                         ON CONFLICT (id) DO UPDATE SET sweep = excluded.sweep, body = excluded.body",
                        params![id, body],
                    )?;
                }
                match changes {
                    Some((base, body)) => db.execute(
                        "INSERT INTO answer_changes (id, sweep, base, body) VALUES (1, ?1, ?2, ?3)
                         ON CONFLICT (id) DO UPDATE
                         SET sweep = excluded.sweep, base = excluded.base, body = excluded.body",
                        params![id, *base, body],
                    )?,
                    None => db.execute("DELETE FROM answer_changes", params![])?,
                };
                db.execute("INSERT INTO history_due (sweep) VALUES (?1)", params![id])?;
                if db.backend() == Backend::Postgres {
                    // Heard by the instances that follow when this commits.
                    db.query_row(
                        &format!("SELECT pg_notify('{SWEEPS_CHANNEL}', ?1)"),
                        params![id.to_string()],
                        |_| Ok(()),
                    )?;
                }
                db.execute(
                    "UPDATE sweeps SET status = 'ok', finished_at = ?2, taken_at = ?3, routes = ?4,
                                       readable = ?5, not_readable = ?6, unknown = ?7, changed = NULL
                     WHERE id = ?1",
                    params![
                        id,
                        stamp(finished_at),
                        stamp(taken_at),
                        counts.routes as i64,
                        counts.readable as i64,
                        counts.not_readable as i64,
                        counts.unknown as i64
                    ],
                )?;
                tx.commit()?;
                Ok(true)
            };
            match run() {
                Ok(true) => {
                    self.answers = Some(answers::Kept {
                        sweep: id,
                        hash,
                        pairs,
                    });
                    return Ok(counts);
                }
                Ok(false) => continue,
                Err(e) => {
                    self.answers = None;
                    return Err(self.err(e));
                }
            }
        }
        Err(self.err("other processes kept recording sweeps into this store meanwhile"))
    }

    /// The second step of recording a sweep: writes the history of the oldest sweep
    /// whose answers are recorded but whose history is not — new routes, changed
    /// verdicts, findings opened, kept, resolved, reopened or retired — in one
    /// transaction, and returns that sweep with what its history did (`None`: no history
    /// was due, or another process wrote it first). `fresh` is the evaluation of the sweep
    /// just recorded, when this process has it; otherwise the history is written from the
    /// stored answers. Readers of the history call this first (through
    /// [`settled`](Self::settled)).
    pub fn write_history(
        &mut self,
        fresh: Option<(SweepId, &Evaluation)>,
    ) -> Result<Option<(SweepId, SweepOutcome)>, StoreError> {
        let mut state = self.state.take();
        let written = write_due(self, &mut state, fresh);
        self.state = state;
        written
    }

    /// Writes any history still due (see [`write_history`](Self::write_history)) before
    /// the history is read, without the state this store keeps between the sweeps it
    /// records (a reader holds no `&mut`; that state notices and is read again). A store
    /// opened for reading only had its history written when it was opened
    /// ([`Store::open_existing`]); one due since is being written by the process that
    /// recorded it.
    pub(super) fn settled(&self) -> Result<(), StoreError> {
        if self.db.read_only() {
            return Ok(());
        }
        while write_due(self, &mut None, None)?.is_some() {}
        Ok(())
    }
    /// The id of the latest sweep that ended `ok`, if any: what an instance that does not
    /// sweep watches, to load each new sweep.
    pub fn latest_ok_sweep(&self) -> Result<Option<SweepId>, StoreError> {
        self.db
            .query_row(
                "SELECT max(id) FROM sweeps WHERE status = 'ok'",
                params![],
                |r| r.opt_i64(0),
            )
            .map_err(|e| self.err(e))
    }

    /// The latest sweep, whatever its status.
    pub fn last_sweep(&self) -> Result<Option<SweepRecord>, StoreError> {
        self.db
            .query_opt(
                &format!("SELECT {SWEEP_COLUMNS} FROM sweeps ORDER BY id DESC LIMIT 1"),
                params![],
                sweep_row,
            )
            .map_err(|e| self.err(e))
    }

    /// Sweeps, newest first.
    pub fn sweeps(&self, limit: u32) -> Result<Vec<SweepRecord>, StoreError> {
        self.db
            .query_map(
                &format!("SELECT {SWEEP_COLUMNS} FROM sweeps ORDER BY id DESC LIMIT ?1"),
                params![i64::from(limit)],
                sweep_row,
            )
            .map_err(|e| self.err(e))
    }

    /// The latest sweep that ended `ok`, with every route's current verdict; `None` before
    /// the first.
    pub fn latest(&self) -> Result<Option<Latest>, StoreError> {
        let sweep = self
            .db
            .query_opt(
                &format!(
                    "SELECT {SWEEP_COLUMNS} FROM sweeps WHERE status = 'ok' ORDER BY id DESC LIMIT 1"
                ),
                params![],
                sweep_row,
            )
            .map_err(|e| self.err(e))?;
        let Some(sweep) = sweep else {
            return Ok(None);
        };
        let taken_at = sweep.taken_at.unwrap_or(sweep.started_at);
        let blob: Option<Vec<u8>> = self
            .db
            .query_opt(
                "SELECT body FROM answers WHERE id = 1 AND sweep = ?1",
                params![sweep.id],
                |r| r.blob(0),
            )
            .map_err(|e| self.err(e))?;
        let verdicts = match blob.as_deref().map(answers::decode) {
            Some(Some(v)) => v,
            found => {
                if found.is_some() {
                    tracing::warn!("the stored answers do not decode: reading the history");
                }
                self.settled()?;
                self.current_verdicts().map_err(|e| self.err(e))?
            }
        };
        Ok(Some(Latest {
            sweep,
            taken_at,
            verdicts,
        }))
    }

    fn current_verdicts(&self) -> DbResult<Vec<StoredVerdict>> {
        // Two sequential scans joined in memory: SQLite's own join seeks both tables once
        // per row, which for a million routes is most of the start-up time.
        let mut types: Vec<MessageTypeId> = Vec::new();
        let mut routes: Vec<Option<(OrgNumber, u32, OrgNumber)>> = Vec::new();
        self.db
            .prepare_cached("SELECT id, sender, message_type, recipient FROM routes ORDER BY id")?
            .for_each(params![], |r| {
                let id = usize::try_from(r.i64(0)?).map_err(|_| corrupt("route id", "negative"))?;
                let t = r.str(2)?;
                let ti = match types.iter().position(|x| x.as_str() == t) {
                    Some(i) => i,
                    None => {
                        types.push(message_type(t)?);
                        types.len() - 1
                    }
                };
                if routes.len() <= id {
                    routes.resize(id + 1, None);
                }
                routes[id] = Some((org(r.i64(1)?)?, ti as u32, org(r.i64(3)?)?));
                Ok(())
            })?;
        // `+until`: a scan of the table in key order, not a walk of the `until` index with
        // a seek into the table for every row (four times slower).
        let mut st = self.db.prepare_cached(
            "SELECT route_id, verdict, readers, tier, findings FROM verdicts
             WHERE +until IS NULL",
        )?;
        let mut out = Vec::with_capacity(routes.len());
        let mut findings = FindingsCache::default();
        st.for_each(params![], |r| {
            let id: i64 = r.i64(0)?;
            let Some(Some((sender, t, recipient))) =
                usize::try_from(id).ok().and_then(|i| routes.get(i))
            else {
                return Err(corrupt("route id", id));
            };
            out.push(StoredVerdict {
                route: Route::new(*sender, types[*t as usize].clone(), *recipient),
                verdict: parse_verdict(r.str(1)?).ok_or_else(|| corrupt("verdict", "?"))?,
                readers: r.u32(2)?,
                tier: parse_tier(r.str(3)?).ok_or_else(|| corrupt("evidence tier", "?"))?,
                findings: findings.get(r.opt_str(4)?)?,
            });
            Ok(())
        })?;
        Ok(out)
    }

    /// Every route's verdict as sweep `sweep` left it (from the change history), in the
    /// order routes were first judged.
    pub fn verdicts_at(&self, sweep: SweepId) -> Result<Vec<StoredVerdict>, StoreError> {
        self.settled()?;
        let run = || -> DbResult<Vec<StoredVerdict>> {
            let mut st = self.db.prepare_cached(
                "SELECT r.sender, r.message_type, r.recipient, v.verdict, v.readers, v.tier, v.findings
                 FROM verdicts v JOIN routes r ON r.id = v.route_id
                 WHERE v.since <= ?1 AND (v.until IS NULL OR v.until > ?1) ORDER BY v.route_id",
            )?;
            read_verdicts(&mut st, sweep)
        };
        run().map_err(|e| self.err(e))
    }

    /// Sweeps that ended `ok` at `from` or later and before `to`, oldest first.
    pub fn ok_sweeps_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<SweepRecord>, StoreError> {
        // RFC 3339 in UTC with `Z` sorts as time; compare parsed values to be safe.
        let all: Vec<SweepRecord> = self
            .db
            .query_map(
                &format!("SELECT {SWEEP_COLUMNS} FROM sweeps WHERE status = 'ok' ORDER BY id"),
                params![],
                sweep_row,
            )
            .map_err(|e| self.err(e))?;
        Ok(all
            .into_iter()
            .filter(|s| s.finished_at.is_some_and(|t| t >= from && t < to))
            .collect())
    }

    /// Whether any route from `sender` was ever judged.
    pub fn has_sender(&self, sender: OrgNumber) -> Result<bool, StoreError> {
        self.settled()?;
        self.db
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM routes WHERE sender = ?1)",
                params![i64::from(sender.get())],
                |r| r.bool(0),
            )
            .map_err(|e| self.err(e))
    }

    /// The verdict of `route` as of sweep `sweep` (from the change history).
    pub fn verdict_at(&self, route: &Route, sweep: SweepId) -> Result<Option<Verdict>, StoreError> {
        self.settled()?;
        let v: Option<String> = self
            .db
            .query_opt(
                "SELECT v.verdict FROM verdicts v JOIN routes r ON r.id = v.route_id
                 WHERE r.sender = ?1 AND r.message_type = ?2 AND r.recipient = ?3
                   AND v.since <= ?4 AND (v.until IS NULL OR v.until > ?4)",
                params![
                    i64::from(route.sender.get()),
                    route.message_type.as_str(),
                    i64::from(route.recipient.get()),
                    sweep
                ],
                |r| r.string(0),
            )
            .map_err(|e| self.err(e))?;
        Ok(v.as_deref().and_then(parse_verdict))
    }

    /// Rows in the verdict history (all sweeps), for tests and reports.
    pub fn verdict_rows(&self) -> Result<u64, StoreError> {
        self.settled()?;
        self.db
            .query_row("SELECT count(*) FROM verdicts", params![], |r| r.i64(0))
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.err(e))
    }
}

/// Message types numbered as first met while recording a sweep.
#[derive(Default)]
struct TypeNumbers(Vec<String>);

impl TypeNumbers {
    fn number(&mut self, name: &str) -> u16 {
        match self.0.iter().position(|t| t == name) {
            Some(i) => i as u16,
            None => {
                self.0.push(name.to_owned());
                (self.0.len() - 1) as u16
            }
        }
    }

    /// The names, by number.
    fn names(&self) -> &[String] {
        &self.0
    }
}

/// A route's current verdict as stored; `None` where the stored value is not one this
/// version knows.
struct CurrentVerdict {
    verdict: Option<Verdict>,
    readers: u32,
    tier: Option<EvidenceTier>,
    /// The number of its findings list in [`SweepState::lists`].
    list: Option<u32>,
}

/// What recording a sweep needs of what the store holds: every route's id, every current
/// verdict, every open finding, in compact maps (message types and texts numbered, not kept
/// as a string per row). Read from the database when a sweep starts, unless this store
/// recorded the latest sweep itself: then it is the state that sweep left, kept in memory
/// (about 150 MB for 1,000,000 routes, `benches/store.rs`), which saves reading two million
/// rows back. Only recording a sweep writes these rows, and each recording makes a new
/// latest `ok` sweep, so a sweep recorded by another process (or instance) shows as a
/// latest sweep other than [`sweep`](Self::sweep), and the state is read again.
#[derive(Default)]
pub(super) struct SweepState {
    /// Whether it was read (a default state was not).
    loaded: bool,
    /// The latest `ok` sweep it reflects.
    sweep: Option<SweepId>,
    types: TypeNumbers,
    /// Every route ever judged, by (sender, number of its message type, recipient).
    routes: FxHashMap<(u32, u16, u32), RouteState>,
    /// The current verdicts' findings lists, numbered.
    lists: Texts,
    /// Open findings.
    findings: OpenFindings,
}

/// A route as a sweep needs it.
struct RouteState {
    /// Its id.
    id: i64,
    /// Its current verdict (`None`: it left the routing table).
    current: Option<CurrentVerdict>,
    /// The last sweep that judged it (0: none since the state was read).
    seen: SweepId,
}

impl SweepState {
    /// Reads the state as of the latest `ok` sweep `sweep`.
    fn load(tx: &Db, sweep: Option<SweepId>) -> DbResult<SweepState> {
        let mut state = SweepState {
            loaded: true,
            sweep,
            ..SweepState::default()
        };
        let SweepState {
            types,
            routes,
            lists,
            ..
        } = &mut state;
        // Current verdicts by route id first, then every route (with its verdict, if any).
        let mut current: FxHashMap<i64, CurrentVerdict> = FxHashMap::default();
        tx.prepare_cached(
            "SELECT route_id, verdict, readers, tier, findings FROM verdicts WHERE until IS NULL",
        )?
        .for_each(params![], |r| {
            current.insert(
                r.i64(0)?,
                CurrentVerdict {
                    // A value this version cannot read never equals a new verdict, so the
                    // row is replaced.
                    verdict: parse_verdict(r.str(1)?),
                    readers: r.u32(2)?,
                    tier: parse_tier(r.str(3)?),
                    list: r.opt_str(4)?.map(|t| lists.number(t)),
                },
            );
            Ok(())
        })?;
        tx.prepare_cached("SELECT id, sender, message_type, recipient FROM routes")?
            .for_each(params![], |r| {
                let t = types.number(r.str(2)?);
                let id = r.i64(0)?;
                routes.insert(
                    (r.u32(1)?, t, r.u32(3)?),
                    RouteState {
                        id,
                        current: current.remove(&id),
                        seen: 0,
                    },
                );
                Ok(())
            })?;
        if let Some(id) = current.keys().next() {
            return Err(corrupt("current verdict of an unknown route", id));
        }
        state.findings = OpenFindings::load(tx)?;
        Ok(state)
    }
}

/// An assessment's texts, computed once however many routes share it.
#[derive(Clone)]
struct AssessmentTexts {
    /// Its findings list as JSON (`None`: no findings).
    list: Option<String>,
    /// The list's number among the current verdicts' lists before the sweep, and after.
    before: Option<u32>,
    after: Option<u32>,
    /// Each finding's detail.
    each: Vec<Detail>,
}

/// A judged route as its history needs it: from the evaluation just recorded, or read
/// back from the answers blob.
struct Judged<'a> {
    route: &'a Route,
    verdict: Verdict,
    readers: u32,
    tier: EvidenceTier,
    findings: &'a [Finding],
    /// Routes of one group have the same findings, whose texts are worked out once.
    group: usize,
}

/// Writes the oldest history due, if any (see [`Store::write_history`]), keeping `slot`,
/// the state the last history written through this store left, up to date.
fn write_due(
    store: &Store,
    slot: &mut Option<Box<SweepState>>,
    fresh: Option<(SweepId, &Evaluation)>,
) -> Result<Option<(SweepId, SweepOutcome)>, StoreError> {
    let db = &store.db;
    let due: Option<SweepId> = db
        .query_row("SELECT min(sweep) FROM history_due", params![], |r| {
            r.opt_i64(0)
        })
        .map_err(|e| store.err(e))?;
    let Some(due) = due else {
        return Ok(None);
    };
    let sweep = db
        .query_row(
            &format!("SELECT {SWEEP_COLUMNS} FROM sweeps WHERE id = ?1"),
            params![due],
            sweep_row,
        )
        .map_err(|e| store.err(e))?;
    let (Some(finished_at), SweepStatus::Ok) = (sweep.finished_at, sweep.status) else {
        return Err(store.err(format!(
            "sweep {due} has a history due but did not end `ok`"
        )));
    };
    let suppressions = store.suppressions()?;
    let active: Vec<&Suppression> = suppressions
        .iter()
        .filter(|s| s.expires_at > finished_at)
        .collect();
    // The judged routes: the evaluation at hand, or the answers recorded with the sweep.
    let evaluation = fresh.and_then(|(id, e)| (id == due).then_some(e));
    let stored = match evaluation {
        Some(_) => None,
        None => {
            let blob: Option<Vec<u8>> = db
                .query_opt(
                    "SELECT body FROM answers WHERE id = 1 AND sweep = ?1",
                    params![due],
                    |r| r.blob(0),
                )
                .map_err(|e| store.err(e))?;
            let decoded = blob.as_deref().and_then(answers::decode);
            if decoded.is_none() {
                tracing::warn!(
                    sweep = due,
                    "the answers this sweep recorded are gone or do not decode: its changes \
                     are written with the next sweep's history"
                );
            }
            decoded
        }
    };
    // The state the previous history left, if this store wrote it; a failed transaction
    // drops it (it may hold changes that were rolled back).
    let mut state = slot.take().unwrap_or_default();
    let mut run = || -> DbResult<Option<SweepOutcome>> {
        let tx = db.begin()?;
        if db.execute("DELETE FROM history_due WHERE sweep = ?1", params![due])? == 0 {
            return Ok(None); // written by another process meanwhile
        }
        let latest: Option<(SweepId, Option<String>)> = db.query_opt(
            "SELECT id, finished_at FROM sweeps WHERE status = 'ok' AND id < ?1
             ORDER BY id DESC LIMIT 1",
            params![due],
            |r| Ok((r.i64(0)?, r.opt_string(1)?)),
        )?;
        // An `ok` sweep always has its end time; one without is not used as "last seen".
        let previous = latest.clone().and_then(|(id, at)| Some((id, at?)));
        let latest = latest.map(|p| p.0);
        if !state.loaded || state.sweep != latest {
            // Never written here, or another process wrote one since.
            *state = SweepState::load(db, latest)?;
        }
        let outcome = if let Some(e) = evaluation {
            let judged = e.iter().map(|(r, a)| Judged {
                route: &r.route,
                verdict: a.verdict,
                readers: a.readers,
                tier: a.tier,
                findings: a.findings(),
                group: r.assessment as usize,
            });
            record(
                db,
                &mut state,
                due,
                finished_at,
                e.assessments.len(),
                judged,
                previous,
                &active,
            )?
        } else if let Some(stored) = &stored {
            // Routes sharing a findings list share one decoded list.
            let mut groups: FxHashMap<*const Finding, usize> = FxHashMap::default();
            let judged: Vec<Judged<'_>> = stored
                .iter()
                .map(|v| {
                    let n = groups.len();
                    Judged {
                        route: &v.route,
                        verdict: v.verdict,
                        readers: v.readers,
                        tier: v.tier,
                        findings: &v.findings,
                        group: *groups.entry(v.findings.as_ptr()).or_insert(n),
                    }
                })
                .collect();
            record(
                db,
                &mut state,
                due,
                finished_at,
                groups.len(),
                judged.into_iter(),
                previous,
                &active,
            )?
        } else {
            // Nothing to write it from: the next history is written over a state read
            // again, and shows this sweep's changes as its own.
            state.loaded = false;
            SweepOutcome::default()
        };
        if state.loaded {
            db.execute(
                "UPDATE sweeps SET changed = ?2 WHERE id = ?1",
                params![due, outcome.changed as i64],
            )?;
        }
        // The fence last, just before the commit: on PostgreSQL it holds the lease's row
        // until then, and every claim and renewal of the lease waits for it. Checked first,
        // it would hold them for the whole history (44 s for a first sweep of 1,000,000
        // routes), past the lease, and the holder's own renewal could not land in time.
        lease::check(db, store.fence.as_ref())?;
        tx.commit()?;
        state.sweep = Some(due);
        Ok(Some(outcome))
    };
    match run() {
        Ok(Some(mut outcome)) => {
            *slot = Some(state);
            outcome.counts = sweep.counts.unwrap_or_default();
            Ok(Some((due, outcome)))
        }
        Ok(None) => {
            *slot = Some(state);
            Ok(None)
        }
        Err(e) => Err(store.err(e)),
    }
}

/// Writes the history of sweep `id` (which finished at `finished_at`; `groups` groups of
/// routes sharing findings) from its `judged` routes, inside its transaction, over the
/// `state` the latest `ok` sweep before it (`previous`: its id and when it finished) left;
/// leaves `state` as this sweep leaves it.
#[allow(clippy::too_many_arguments)]
fn record<'a>(
    tx: &Db,
    state: &mut SweepState,
    id: SweepId,
    finished_at: Timestamp,
    groups: usize,
    judged: impl Iterator<Item = Judged<'a>>,
    previous: Option<(SweepId, String)>,
    suppressions: &[&Suppression],
) -> DbResult<SweepOutcome> {
    let now = stamp(finished_at);
    let SweepState {
        types,
        routes,
        lists,
        findings: open,
        ..
    } = state;
    // Open findings, and how they move along in this sweep.
    let mut findings = FindingLedger::new(tx, id, &now, finished_at, previous, suppressions, open)?;

    let mut insert_route = Inserter::new(
        tx,
        "routes",
        &["sender", "message_type", "recipient"],
        Some("id"),
    )?;
    // Only ever closes a verdict written before this sweep: never one still buffered.
    let mut close_verdict =
        tx.prepare_cached("UPDATE verdicts SET until = ?2 WHERE route_id = ?1 AND until IS NULL")?;
    let mut insert_verdict = Inserter::new(
        tx,
        "verdicts",
        &[
            "route_id", "since", "verdict", "readers", "tier", "findings",
        ],
        None,
    )?;

    let mut outcome = SweepOutcome::default();
    // Per group, computed once: the JSON of its findings list, that list's numbers, and
    // each finding's detail.
    let mut texts: Vec<Option<AssessmentTexts>> = vec![None; groups];
    // The findings lists of this sweep: the current verdicts' lists after it.
    let mut new_lists = Texts::default();
    for j in judged {
        let route = j.route;
        let key = (
            route.sender.get(),
            types.number(route.message_type.as_str()),
            route.recipient.get(),
        );
        let (state, new) = match routes.entry(key) {
            Entry::Occupied(e) => (e.into_mut(), false),
            Entry::Vacant(e) => {
                let id = insert_route.push_id(params![
                    i64::from(key.0),
                    route.message_type.as_str(),
                    i64::from(key.2)
                ])?;
                let state = RouteState {
                    id,
                    current: None,
                    seen: 0,
                };
                (e.insert(state), true)
            }
        };
        if state.seen == id {
            continue; // the same route twice in the table: judged the same
        }
        state.seen = id;
        let route_id = state.id;
        let t = match &mut texts[j.group] {
            Some(t) => t,
            slot => {
                let list = findings_json(j.findings);
                let each = j
                    .findings
                    .iter()
                    .map(|f| findings.detail(serde_json::to_string(f).unwrap_or_default()))
                    .collect();
                slot.insert(AssessmentTexts {
                    before: list.as_deref().and_then(|l| lists.get(l)),
                    after: list.as_deref().map(|l| new_lists.number(l)),
                    list,
                    each,
                })
            }
        };
        let now_is = CurrentVerdict {
            verdict: Some(j.verdict),
            readers: j.readers,
            tier: Some(j.tier),
            list: t.after,
        };
        let was = state.current.replace(now_is);
        let same = was.as_ref().is_some_and(|c| {
            c.verdict == Some(j.verdict)
                && c.readers == j.readers
                && c.tier == Some(j.tier)
                && match (c.list, &t.list) {
                    (None, None) => true,
                    (Some(n), Some(_)) => t.before == Some(n),
                    _ => false,
                }
        });
        if !same {
            if was.is_some() {
                close_verdict.execute(params![route_id, id])?;
            }
            insert_verdict.push(params![
                route_id,
                id,
                verdict_str(j.verdict),
                i64::from(j.readers),
                tier_str(j.tier),
                t.list
            ])?;
            outcome.changed += 1;
        }
        findings.saw(route_id, new, route, j.findings, &t.each)?;
    }
    // Routes no longer in the table: their verdict ends here.
    for state in routes.values_mut() {
        if state.seen != id && state.current.take().is_some() {
            close_verdict.execute(params![state.id, id])?;
            outcome.changed += 1;
        }
    }
    *lists = new_lists;
    insert_route.flush()?;
    insert_verdict.flush()?;
    // Open findings not seen now end.
    let by_id = || {
        routes
            .iter()
            .map(|(key, r)| (r.id, (*key, r.seen == id)))
            .collect()
    };
    (outcome.changes, outcome.by_code) = findings.finish(by_id, types.names())?;
    Ok(outcome)
}

/// Findings texts parsed once each: many routes share identical findings.
#[derive(Default)]
struct FindingsCache {
    parsed: FxHashMap<String, Arc<[Finding]>>,
    none: Option<Arc<[Finding]>>,
}

impl FindingsCache {
    fn get(&mut self, text: Option<&str>) -> DbResult<Arc<[Finding]>> {
        let Some(text) = text else {
            return Ok(Arc::clone(self.none.get_or_insert_with(|| Arc::from([]))));
        };
        if let Some(f) = self.parsed.get(text) {
            return Ok(Arc::clone(f));
        }
        let f: Vec<Finding> = serde_json::from_str(text).map_err(|_| corrupt("findings", text))?;
        let f: Arc<[Finding]> = f.into();
        self.parsed.insert(text.to_owned(), Arc::clone(&f));
        Ok(f)
    }
}

fn read_verdicts(st: &mut super::sql::Stmt<'_>, sweep: SweepId) -> DbResult<Vec<StoredVerdict>> {
    let mut out = Vec::new();
    let mut types: FxHashMap<String, MessageTypeId> = FxHashMap::default();
    let mut findings = FindingsCache::default();
    st.for_each(params![sweep], |r| {
        let t = r.str(1)?;
        let message_type = match types.get(t) {
            Some(m) => m.clone(),
            None => {
                let m = message_type(t)?;
                types.insert(t.to_owned(), m.clone());
                m
            }
        };
        let verdict = r.str(3)?;
        let tier = r.str(5)?;
        out.push(StoredVerdict {
            route: Route::new(org(r.i64(0)?)?, message_type, org(r.i64(2)?)?),
            verdict: parse_verdict(verdict).ok_or_else(|| corrupt("verdict", verdict))?,
            readers: r.u32(4)?,
            tier: parse_tier(tier).ok_or_else(|| corrupt("evidence tier", tier))?,
            findings: findings.get(r.opt_str(6)?)?,
        });
        Ok(())
    })?;
    Ok(out)
}
