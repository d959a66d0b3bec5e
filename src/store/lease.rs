//! The sweeper's lease: several daemons on one database agree on the one that sweeps,
//! alerts and refreshes onboarding. The lease is one row — who holds it, a fencing token,
//! and until when — timed by the database's clock, so the instances' clocks never matter.
//! An instance claims it when nobody holds it or its holder's time has run out, and renews
//! it while it holds it; a change of holder makes the token one more. Every transaction of
//! the holder's writes (recording a sweep and its history, onboarding, marking alerts,
//! pruning) checks, inside itself, that the lease still carries its token: a holder
//! deposed while it was paused finds its late write refused, so two sweepers never both
//! write.
//!
//! Owns the `sweeper_lease` table and the fence check. Does not own when to claim or
//! renew, nor what an instance does while it does not hold the lease (the daemon).

use std::time::Duration;

use serde::Serialize;

use super::sql::{Backend, Db, DbError, DbResult, params};
use super::{Store, StoreError};

/// The start of the reason of a write refused because its instance no longer holds the
/// lease (see [`StoreError::is_fenced`]).
pub const FENCED: &str = "this instance no longer holds the sweeper's lease";

/// Who holds the sweeper's lease, as the database has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lease {
    /// The instance holding it.
    pub holder: String,
    /// The fencing token: one more at every change of holder.
    pub token: i64,
    /// Until when, in milliseconds since the epoch on the database's clock.
    pub expires_ms: i64,
    /// The database's clock when this was read, in the same unit.
    pub now_ms: i64,
}

impl Lease {
    /// Whether its time has not run out (when it was read).
    pub fn live(&self) -> bool {
        self.expires_ms > self.now_ms
    }

    /// The fence of its holder's writes.
    pub fn fence(&self) -> Fence {
        Fence {
            holder: self.holder.clone(),
            token: self.token,
        }
    }
}

/// What the holder's writes are fenced with: its name and the token it was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    /// The instance.
    pub holder: String,
    /// Its token.
    pub token: i64,
}

/// The database's clock, in milliseconds since the epoch.
fn now_ms(db: &Db) -> &'static str {
    match db.backend() {
        Backend::Postgres => "(extract(epoch FROM clock_timestamp()) * 1000)::bigint",
        Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
    }
}

impl StoreError {
    /// Whether the write was refused because this instance no longer holds the sweeper's
    /// lease (another took it over).
    pub fn is_fenced(&self) -> bool {
        self.reason.starts_with(FENCED)
    }
}

impl Store {
    /// Claims the sweeper's lease for `holder` for `ttl`, or renews it: granted when
    /// nobody holds it, when its holder's time has run out, or to its holder (the token
    /// kept). Returns the lease as it stands after: held by `holder` or by another. The
    /// time runs from when the row is written, not from when the claim was asked: a claim
    /// that waited for a holder's write under way is not granted a lease already spent.
    pub fn claim_lease(&self, holder: &str, ttl: Duration) -> Result<Lease, StoreError> {
        let now = now_ms(&self.db);
        let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2);
        self.db
            .execute(
                &format!(
                    "INSERT INTO sweeper_lease (id, holder, token, expires_ms)
                     VALUES (1, ?1, 1, {now} + ?2)
                     ON CONFLICT (id) DO UPDATE SET
                        token = CASE WHEN sweeper_lease.holder = excluded.holder
                                     THEN sweeper_lease.token ELSE sweeper_lease.token + 1 END,
                        holder = excluded.holder,
                        expires_ms = {now} + ?2
                     WHERE sweeper_lease.holder = excluded.holder
                        OR sweeper_lease.expires_ms <= {now}"
                ),
                params![holder, ttl],
            )
            .map_err(|e| self.err(e))?;
        self.lease()?
            .ok_or_else(|| self.err("the sweeper's lease is gone right after it was claimed"))
    }

    /// The sweeper's lease as it stands; `None` when nobody ever claimed it.
    pub fn lease(&self) -> Result<Option<Lease>, StoreError> {
        let now = now_ms(&self.db);
        self.db
            .query_opt(
                &format!("SELECT holder, token, expires_ms, {now} FROM sweeper_lease WHERE id = 1"),
                params![],
                |r| {
                    Ok(Lease {
                        holder: r.string(0)?,
                        token: r.i64(1)?,
                        expires_ms: r.i64(2)?,
                        now_ms: r.i64(3)?,
                    })
                },
            )
            .map_err(|e| self.err(e))
    }

    /// Gives the lease up (at shutdown) if `fence` still holds it, so that another
    /// instance takes over at once rather than when its time runs out. Returns whether it
    /// did.
    pub fn release_lease(&self, fence: &Fence) -> Result<bool, StoreError> {
        let now = now_ms(&self.db);
        self.db
            .execute(
                &format!(
                    "UPDATE sweeper_lease SET expires_ms = {now}
                     WHERE id = 1 AND holder = ?1 AND token = ?2"
                ),
                params![fence.holder.as_str(), fence.token],
            )
            .map(|n| n == 1)
            .map_err(|e| self.err(e))
    }

    /// Fences this store's writes as the sweeper's (recording a sweep and its history,
    /// onboarding, marking alerts, pruning) with `fence`: each then checks, inside its
    /// transaction, that the lease still carries this token, and is refused otherwise.
    /// `None`: not fenced (a single daemon, or a command).
    pub fn set_fence(&mut self, fence: Option<Fence>) {
        self.fence = fence;
    }

    /// The fence set, if any.
    pub fn fence(&self) -> Option<&Fence> {
        self.fence.as_ref()
    }
}

/// Inside a transaction of the sweeper's writes: refuses it unless the lease still
/// carries `fence`'s token. On PostgreSQL the row is share-locked until the transaction
/// ends, so a takeover waits for a write already checked; on SQLite the writer's lock
/// orders them.
pub(super) fn check(db: &Db, fence: Option<&Fence>) -> DbResult<()> {
    let Some(fence) = fence else {
        return Ok(());
    };
    let sql = match db.backend() {
        Backend::Postgres => "SELECT holder, token FROM sweeper_lease WHERE id = 1 FOR SHARE",
        Backend::Sqlite => "SELECT holder, token FROM sweeper_lease WHERE id = 1",
    };
    let now: Option<(String, i64)> =
        db.query_opt(sql, params![], |r| Ok((r.string(0)?, r.i64(1)?)))?;
    match now {
        Some((holder, token)) if holder == fence.holder && token == fence.token => Ok(()),
        Some((holder, token)) => Err(DbError::Fenced(format!(
            "{FENCED} (its token was {}; `{holder}` holds it with token {token}): the write is refused",
            fence.token
        ))),
        None => Err(DbError::Fenced(format!(
            "{FENCED} (nobody holds it): the write is refused"
        ))),
    }
}
