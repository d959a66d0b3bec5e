//! What an instance that does not sweep reads to answer from each new sweep: the changes
//! from the answers it holds to the latest (table `answer_changes`, written with the
//! answers by [`Store::record_answers`]), and, on PostgreSQL, the notice that a sweep was
//! recorded (`LISTEN`), so that it need not wait for its next look; and, the other way,
//! the sweeper's notice that another instance stored sent messages (from Altinn Events)
//! that may need an alert, which only the sweeper sends.
//!
//! Owns reading the changes and listening. Does not own applying them (the
//! [`Verifier`](crate::Verifier)) nor deciding when to look (the daemon's follower).

use std::time::Duration;

use jiff::Timestamp;
use postgres::fallible_iterator::FallibleIterator as _;

use super::answers::{self, PairChange};
use super::sql::{Backend, params};
use super::sweeps::{MESSAGES_CHANNEL, SWEEP_COLUMNS, SWEEPS_CHANNEL, sweep_row};
use super::{PostgresAddress, Store, StoreError, SweepId, SweepRecord};
use crate::model::FindingCode;

/// The changes from the answers of sweep `base` to those of [`sweep`](Self::sweep).
#[derive(Clone, Debug)]
pub struct AnswerChanges {
    /// The sweep the changes lead to (ended `ok`).
    pub sweep: SweepRecord,
    /// When its evidence was taken.
    pub taken_at: Timestamp,
    /// The sweep the changes start from.
    pub base: SweepId,
    /// The (message type, recipient) pairs whose answer changed.
    pub changes: Vec<PairChange>,
    /// The findings on the sweep's routes, by code.
    pub by_code: Vec<(FindingCode, u64)>,
}

impl Store {
    /// Tells the instance that sweeps that this one stored sent messages that may need an
    /// alert (PostgreSQL `NOTIFY`; nothing on SQLite, where one daemon does everything).
    pub fn notify_messages_stored(&self) -> Result<(), StoreError> {
        if self.db.backend() != Backend::Postgres {
            return Ok(());
        }
        self.db
            .query_row(
                &format!("SELECT pg_notify('{MESSAGES_CHANNEL}', '')"),
                params![],
                |_| Ok(()),
            )
            .map_err(|e| self.err(e))
    }

    /// The changes from the answers of sweep `base` to those of a later sweep that ended
    /// `ok`, when the store holds them; `None` otherwise (the answers are then read
    /// whole, [`Store::latest`]): no sweep was recorded after `base` by a recorder that
    /// held `base`'s answers, or the changes do not decode.
    pub fn answer_changes(&self, base: SweepId) -> Result<Option<AnswerChanges>, StoreError> {
        // One statement: the sweep and its changes as of one moment.
        let found = self
            .db
            .query_opt(
                &format!(
                    "SELECT {SWEEP_COLUMNS}, (SELECT body FROM answer_changes WHERE id = 1)
                     FROM sweeps
                     WHERE id = (SELECT sweep FROM answer_changes WHERE id = 1 AND base = ?1)
                       AND status = 'ok'"
                ),
                params![base],
                |r| Ok((sweep_row(r)?, r.blob(12)?)),
            )
            .map_err(|e| self.err(e))?;
        let Some((sweep, body)) = found else {
            return Ok(None);
        };
        let Some((changes, by_code)) = answers::decode_changes(&body) else {
            tracing::warn!(
                sweep = sweep.id,
                "the stored answer changes do not decode: reading the answers whole"
            );
            return Ok(None);
        };
        Ok(Some(AnswerChanges {
            taken_at: sweep.taken_at.unwrap_or(sweep.started_at),
            sweep,
            base,
            changes,
            by_code,
        }))
    }
}

/// What a [`SweepListener`] heard in one wait.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Heard {
    /// The newest sweep recorded, if any was.
    pub sweep: Option<SweepId>,
    /// Whether another instance stored sent messages that may need an alert.
    pub messages: bool,
}

/// A connection of its own to a PostgreSQL store, listening for recorded sweeps and stored
/// messages. Blocking: for a thread of its own.
pub struct SweepListener {
    config: postgres::Config,
    shown: String,
    client: Option<postgres::Client>,
}

impl SweepListener {
    /// A listener on the store at `address`; it connects at its first [`wait`](Self::wait).
    pub fn new(address: &PostgresAddress) -> SweepListener {
        SweepListener {
            config: address.config().clone(),
            shown: address.url().to_owned(),
            client: None,
        }
    }

    /// Waits up to `wait` for a notice: a sweep recorded (the newest is returned), messages
    /// stored. Connects, and listens, first if it is not connected; a failed connection is
    /// reported and tried again at the next call (what happened in between is not heard
    /// of: the follower also looks on its own).
    pub fn wait(&mut self, wait: Duration) -> Result<Heard, StoreError> {
        let shown = &self.shown;
        let err = |e: postgres::Error| StoreError {
            path: shown.clone(),
            reason: super::sql::pg_reason(&e),
        };
        let client = match &mut self.client {
            Some(c) if !c.is_closed() => c,
            slot => {
                let mut c = self.config.connect(postgres::NoTls).map_err(err)?;
                c.batch_execute(&format!(
                    "LISTEN {SWEEPS_CHANNEL}; LISTEN {MESSAGES_CHANNEL}"
                ))
                .map_err(err)?;
                slot.insert(c)
            }
        };
        let mut got = Heard::default();
        let mut heard = |n: postgres::Notification| {
            if n.channel() == MESSAGES_CHANNEL {
                got.messages = true;
            } else if let Ok(id) = n.payload().parse::<SweepId>() {
                got.sweep = got.sweep.max(Some(id));
            }
        };
        let mut notices = client.notifications();
        let first = notices.timeout_iter(wait).next();
        let result = match first {
            Ok(Some(n)) => {
                heard(n);
                // And any that came with it.
                notices.iter().for_each(|n| {
                    heard(n);
                    Ok(())
                })
            }
            other => other.map(|_| ()),
        };
        drop(notices);
        if let Err(e) = result {
            self.client = None;
            return Err(StoreError {
                path: self.shown.clone(),
                reason: super::sql::pg_reason(&e),
            });
        }
        Ok(got)
    }
}
