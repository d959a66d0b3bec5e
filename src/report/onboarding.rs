//! Onboarding coverage in the compliance report: per sender, how many of its recipients
//! have approved reachcheck's system user (and so can be judged from their own evidence),
//! are pending, refused, expired or never asked; and the requests pending past
//! `onboarding.remind_after`, each with its own organisation's link, for follow-up.
//!
//! Added to a built report only when the store has onboarding records, so reports of
//! installations without onboarding are unchanged.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use super::{ComplianceReport, ReportError};
use crate::model::OrgNumber;
use crate::onboarding::{OnboardingRecord, OnboardingState};
use crate::store::Store;

/// One sender's recipients by onboarding state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SenderOnboarding {
    /// The sender.
    pub sender: Option<OrgNumber>,
    /// Recipients whose organisation approved.
    pub approved: u64,
    /// Asked, not answered.
    pub pending: u64,
    /// Rejected or denied (never asked again automatically).
    pub refused: u64,
    /// Timed out (asked again by the next `onboard`).
    pub expired: u64,
    /// Never asked.
    pub never_asked: u64,
}

impl SenderOnboarding {
    fn add(&mut self, s: OnboardingState) {
        match s {
            OnboardingState::Approved => self.approved += 1,
            OnboardingState::Pending => self.pending += 1,
            OnboardingState::Refused => self.refused += 1,
            OnboardingState::Expired => self.expired += 1,
            OnboardingState::NeverAsked => self.never_asked += 1,
        }
    }
}

/// A request to follow up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FollowUp {
    /// The organisation asked.
    pub org: OrgNumber,
    /// Pending since.
    pub since: Option<Timestamp>,
    /// Its own approval link.
    pub approval_link: Option<String>,
}

/// Onboarding coverage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OnboardingCoverage {
    /// Per sender (recipients of its routes in the report's sweep).
    pub by_sender: Vec<SenderOnboarding>,
    /// Pending longer than this are listed for follow-up.
    pub remind_after_days: u64,
    /// Pending past `remind_after`, oldest first.
    pub follow_up: Vec<FollowUp>,
}

/// The record standing for `recipient`: its own, or the one of its main unit.
fn state_of(
    records: &BTreeMap<OrgNumber, OnboardingRecord>,
    recipient: OrgNumber,
) -> OnboardingState {
    records
        .get(&recipient)
        .or_else(|| records.values().find(|r| r.recipients.contains(&recipient)))
        .map_or(OnboardingState::NeverAsked, |r| r.state)
}

impl ComplianceReport {
    /// The report with onboarding coverage, reminders as of the report's sweep, when the
    /// store has onboarding records (otherwise unchanged), sealed anew.
    ///
    /// # Errors
    /// The store failed.
    pub fn with_onboarding(
        self,
        store: &Store,
        remind_after: Duration,
    ) -> Result<ComplianceReport, ReportError> {
        let records = store.onboarding()?;
        if records.is_empty() {
            return Ok(self);
        }
        let mut data = self.data;
        let now = data.as_of.finished_at;
        let verdicts = store.verdicts_at(data.as_of.sweep)?;
        let mut by_sender: BTreeMap<OrgNumber, BTreeSet<OrgNumber>> = BTreeMap::new();
        for v in &verdicts {
            if data.senders.is_empty() || data.senders.contains(&v.route.sender) {
                by_sender
                    .entry(v.route.sender)
                    .or_default()
                    .insert(v.route.recipient);
            }
        }
        let rows = by_sender
            .into_iter()
            .map(|(sender, recipients)| {
                let mut row = SenderOnboarding {
                    sender: Some(sender),
                    ..SenderOnboarding::default()
                };
                for r in recipients {
                    row.add(state_of(&records, r));
                }
                row
            })
            .collect();
        let mut follow_up: Vec<FollowUp> = records
            .values()
            .filter(|r| r.needs_reminder(now, remind_after))
            .map(|r| FollowUp {
                org: r.org,
                since: r.created.or(r.since),
                approval_link: r.approval_link.clone(),
            })
            .collect();
        follow_up.sort_by_key(|f| (f.since, f.org));
        data.onboarding = Some(OnboardingCoverage {
            by_sender: rows,
            remind_after_days: remind_after.as_secs() / 86_400,
            follow_up,
        });
        Ok(ComplianceReport::seal(data))
    }
}
