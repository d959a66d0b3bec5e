//! Suppressions: findings accepted on purpose (comply or explain), each with a written
//! justification and an expiry, for one route or every route to a recipient. Adding them,
//! listing them, and noticing each lapse once.
//!
//! Owns the `suppressions` table and what a suppression covers ([`Suppression::covers`]).
//! Does not own what covering means for the rest: a suppression never changes a verdict or
//! a finding's state; the finding lifecycle (`findings.rs`) only marks a change it covers,
//! and the daemon leaves such changes out of alerts.

use jiff::Timestamp;
use serde::Serialize;

use super::codec::{corrupt, message_type, opt_time, org, stamp, time};
use super::sql::params;
use super::{Store, StoreError};
use crate::model::{FindingCode, MessageTypeId, OrgNumber, Route};

/// A suppression to add.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSuppression {
    /// The recipient.
    pub recipient: OrgNumber,
    /// The finding code it accepts.
    pub code: FindingCode,
    /// Only this sender's route (with `message_type`); none = every route to the recipient.
    pub sender: Option<OrgNumber>,
    /// Only this message type (with `sender`).
    pub message_type: Option<MessageTypeId>,
    /// Why the finding is accepted (comply or explain).
    pub justification: String,
    /// When it stops applying.
    pub expires_at: Timestamp,
}

/// The longest justification kept, in characters.
const MAX_JUSTIFICATION: usize = 2000;

impl NewSuppression {
    /// Checks it as of `now`: the field at fault and why.
    pub fn check(&self, now: Timestamp) -> Result<(), (&'static str, String)> {
        if self.justification.trim().is_empty() {
            return Err((
                "justification",
                "a suppression needs a written justification".to_owned(),
            ));
        }
        crate::model::check_free_text(&self.justification, MAX_JUSTIFICATION)
            .map_err(|e| ("justification", e.to_string()))?;
        if self.sender.is_some() != self.message_type.is_some() {
            return Err((
                if self.sender.is_some() { "message_type" } else { "sender" },
                "a route suppression names both `sender` and `message_type`; a recipient suppression names neither".to_owned(),
            ));
        }
        if self.expires_at <= now {
            return Err((
                "expires_at",
                format!("{} is not in the future", self.expires_at),
            ));
        }
        Ok(())
    }
}

/// A suppression as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Suppression {
    /// Its id.
    pub id: i64,
    /// The recipient.
    pub recipient: OrgNumber,
    /// The finding code.
    pub code: FindingCode,
    /// The sender, for a route suppression.
    pub sender: Option<OrgNumber>,
    /// The message type, for a route suppression.
    pub message_type: Option<MessageTypeId>,
    /// Why.
    pub justification: String,
    /// Who added it.
    pub created_by: String,
    /// When.
    pub created_at: Timestamp,
    /// When it stops applying.
    pub expires_at: Timestamp,
    /// When its lapse was noticed (and alerted).
    pub lapsed_at: Option<Timestamp>,
}

impl Suppression {
    /// Whether it covers `code` on `route` at `now`.
    pub fn covers(&self, route: &Route, code: FindingCode, now: Timestamp) -> bool {
        self.expires_at > now
            && self.code == code
            && self.recipient == route.recipient
            && self.sender.is_none_or(|s| s == route.sender)
            && self
                .message_type
                .as_ref()
                .is_none_or(|t| *t == route.message_type)
    }
}

impl Store {
    /// Adds a suppression; `by` is who asked.
    pub fn add_suppression(
        &mut self,
        s: &NewSuppression,
        by: &str,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        s.check(now)
            .map_err(|(field, m)| self.err(format!("`{field}`: {m}")))?;
        self.db
            .prepare_insert(
                "INSERT INTO suppressions (recipient, code, sender, message_type, justification, created_by, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut st| {
                st.insert_id(params![
                    i64::from(s.recipient.get()),
                    s.code.as_str(),
                    s.sender.map(|o| i64::from(o.get())),
                    s.message_type.as_ref().map(ToString::to_string),
                    s.justification.trim(),
                    by,
                    stamp(now),
                    stamp(s.expires_at)
                ])
            })
            .map_err(|e| self.err(e))
    }

    /// Every suppression, active or not.
    pub fn suppressions(&self) -> Result<Vec<Suppression>, StoreError> {
        self.db
            .query_map(
                "SELECT id, recipient, code, sender, message_type, justification, created_by, created_at, expires_at, lapsed_at
                 FROM suppressions ORDER BY id",
                params![],
                |r| {
                    let code = r.str(2)?;
                    Ok(Suppression {
                        id: r.i64(0)?,
                        recipient: org(r.i64(1)?)?,
                        code: FindingCode::from_name(code)
                            .ok_or_else(|| corrupt("finding code", code))?,
                        sender: r.opt_i64(3)?.map(org).transpose()?,
                        message_type: r.opt_str(4)?.map(message_type).transpose()?,
                        justification: r.string(5)?,
                        created_by: r.string(6)?,
                        created_at: time(r.str(7)?)?,
                        expires_at: time(r.str(8)?)?,
                        lapsed_at: opt_time(r.opt_string(9)?)?,
                    })
                },
            )
            .map_err(|e| self.err(e))
    }

    /// Marks suppressions that expired by `now` and were not yet noticed; returns them
    /// (each is alerted once).
    pub fn lapse_suppressions(&mut self, now: Timestamp) -> Result<Vec<Suppression>, StoreError> {
        let lapsed: Vec<Suppression> = self
            .suppressions()?
            .into_iter()
            .filter(|s| s.lapsed_at.is_none() && s.expires_at <= now)
            .collect();
        for s in &lapsed {
            self.db
                .execute(
                    "UPDATE suppressions SET lapsed_at = ?2 WHERE id = ?1",
                    params![s.id, stamp(now)],
                )
                .map_err(|e| self.err(e))?;
        }
        Ok(lapsed)
    }
}
