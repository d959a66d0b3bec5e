//! The onboarding request of each organisation asked: its state, Altinn's status, its own
//! approval link and the routing table's recipients it stands for. Owns the
//! `onboarding_requests` table; deciding whom to ask is `crate::onboarding`'s.

use std::collections::BTreeMap;

use super::codec::{corrupt, opt_time, org, stamp};
use super::sql::{DbError, params};
use super::{Store, StoreError};
use crate::model::OrgNumber;
use crate::onboarding::{OnboardingRecord, OnboardingRun, OnboardingState, RequestStatus};

fn parse_state(s: &str) -> Option<OnboardingState> {
    Some(match s {
        "approved" => OnboardingState::Approved,
        "pending" => OnboardingState::Pending,
        "refused" => OnboardingState::Refused,
        "expired" => OnboardingState::Expired,
        "never_asked" => OnboardingState::NeverAsked,
        _ => return None,
    })
}

impl Store {
    /// Every organisation's onboarding record, by organisation.
    ///
    /// # Errors
    /// The database failed or a row is corrupt.
    pub fn onboarding(&self) -> Result<BTreeMap<OrgNumber, OnboardingRecord>, StoreError> {
        let rows = self
            .db
            .query_map(
                "SELECT org, state, status, since, request_id, confirm_url, created, checked_at, error, recipients
                 FROM onboarding_requests ORDER BY org",
                params![],
                |r| {
                    let o = org(r.i64(0)?)?;
                    let state = r.str(1)?;
                    let status = r.opt_str(2)?;
                    let recipients = r.str(9)?;
                    let recipients: Vec<u32> = serde_json::from_str(recipients)
                        .map_err(|_| corrupt("onboarding recipients", recipients))?;
                    Ok(OnboardingRecord {
                        org: o,
                        state: parse_state(state)
                            .ok_or_else(|| corrupt("onboarding state", state))?,
                        status: match status {
                            Some(s) => Some(
                                RequestStatus::parse(s)
                                    .ok_or_else(|| corrupt("request status", s))?,
                            ),
                            None => None,
                        },
                        since: opt_time(r.opt_string(3)?)?,
                        request_id: r.opt_string(4)?,
                        approval_link: r.opt_string(5)?,
                        created: opt_time(r.opt_string(6)?)?,
                        checked_at: opt_time(r.opt_string(7)?)?,
                        error: r.opt_string(8)?,
                        recipients: recipients
                            .into_iter()
                            .map(|n| org(i64::from(n)))
                            .collect::<super::sql::DbResult<_>>()?,
                    })
                },
            )
            .map_err(|e| self.err(e))?;
        Ok(rows.into_iter().map(|r| (r.org, r)).collect())
    }

    /// Keeps what a run found, one transaction.
    ///
    /// # Errors
    /// The database failed.
    pub fn record_onboarding(&mut self, run: &OnboardingRun) -> Result<(), StoreError> {
        let path = self.path.display().to_string();
        let err = |e: DbError| StoreError {
            path: path.clone(),
            reason: e.to_string(),
        };
        let tx = self.db.begin().map_err(err)?;
        super::lease::check(&self.db, self.fence.as_ref()).map_err(err)?;
        for r in &run.organisations {
            let recipients: Vec<u32> = r.recipients.iter().map(|o| o.get()).collect();
            self.db.execute(
                "INSERT INTO onboarding_requests
                   (org, state, status, since, request_id, confirm_url, created, checked_at, error, recipients)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (org) DO UPDATE SET state = ?2, status = ?3, since = ?4, request_id = ?5,
                   confirm_url = ?6, created = ?7, checked_at = ?8, error = ?9, recipients = ?10",
                params![
                    i64::from(r.org.get()),
                    r.state.as_str(),
                    r.status.map(RequestStatus::as_str),
                    r.since.map(stamp),
                    r.request_id,
                    r.approval_link,
                    r.created.map(stamp),
                    r.checked_at.map(stamp),
                    r.error,
                    serde_json::to_string(&recipients).unwrap_or_else(|_| "[]".to_owned()),
                ],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// The onboarding record that stands for `recipient` (its own, or its main unit's).
    ///
    /// # Errors
    /// The database failed or a row is corrupt.
    pub fn onboarding_of(
        &self,
        recipient: OrgNumber,
    ) -> Result<Option<OnboardingRecord>, StoreError> {
        let all = self.onboarding()?;
        Ok(all.get(&recipient).cloned().or_else(|| {
            all.into_values()
                .find(|r| r.recipients.contains(&recipient))
        }))
    }
}
