//! Findings from what happened to sent messages, computed from stored messages and the
//! message types (docs/design.md, "Message outcomes"). Pure: no I/O, `now` is an input.
//!
//! | code | severity | when |
//! |---|---|---|
//! | `unread_past_deadline` | critical | published, unread, and the type's `read_deadline_hours` have passed |
//! | `notification_failed` | warning | every notification to the recipient failed |
//! | `never_read` | warning | unread past the sender's own `dueDateTime` in Altinn |
//! | `prediction_contradicted` | warning | judged `readable` before it was sent, unread past the deadline |
//! | `prediction_contradicted` | info | read, although judged `not_readable` or `unknown` before it was sent |
//!
//! `outcomes_incomplete` comes from a poll (a list that could not be read whole), not from
//! a message. A message type without `read_deadline_hours` gives no deadline finding.
//! Outcome findings never change a route's verdict nor an exit code.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::message::CorrespondenceId;
use crate::model::{FindingCode, MessageTypeId, Route, Severity, Verdict};
use crate::policy::Policies;
use crate::store::MessageRecord;

/// A finding about one sent message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutcomeFinding {
    /// The code.
    pub code: FindingCode,
    /// The severity.
    pub severity: Severity,
    /// The message.
    pub message: CorrespondenceId,
    /// Its route.
    pub route: Route,
    /// Since when this holds (the deadline, the due time), when it has a time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
}

/// The read deadline of a message type, if it has one.
pub fn deadline_of(policies: &Policies, t: &MessageTypeId) -> Option<SignedDuration> {
    policies
        .message_type(t)?
        .read_deadline_hours
        .map(|h| SignedDuration::from_hours(i64::from(h)))
}

/// When `m` must be read by, if its type has a deadline and it was published.
pub fn due_by(m: &MessageRecord, deadline: Option<SignedDuration>) -> Option<Timestamp> {
    m.published?.checked_add(deadline?).ok()
}

/// The findings about one message at `now`; `deadline` is its type's.
pub fn assess_message(
    m: &MessageRecord,
    deadline: Option<SignedDuration>,
    now: Timestamp,
) -> Vec<OutcomeFinding> {
    let Some(route) = m.route() else {
        return Vec::new();
    };
    if m.failed {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut add = |code: FindingCode, severity: Severity, since: Option<Timestamp>| {
        out.push(OutcomeFinding {
            code,
            severity,
            message: m.id,
            route: route.clone(),
            since,
        });
    };
    let late = due_by(m, deadline).filter(|by| m.read.is_none() && now >= *by);
    if let Some(by) = late {
        add(
            FindingCode::UnreadPastDeadline,
            Severity::Critical,
            Some(by),
        );
    }
    if m.notification == Some(super::NotificationOutcome::Failed) {
        add(FindingCode::NotificationFailed, Severity::Warning, None);
    }
    if let Some(due) = m.due.filter(|d| m.read.is_none() && now >= *d) {
        add(FindingCode::NeverRead, Severity::Warning, Some(due));
    }
    match (m.predicted, m.read) {
        (Some(Verdict::Readable), None) if late.is_some() => {
            add(FindingCode::PredictionContradicted, Severity::Warning, late);
        }
        (Some(Verdict::NotReadable | Verdict::Unknown), Some(read)) => {
            add(
                FindingCode::PredictionContradicted,
                Severity::Info,
                Some(read),
            );
        }
        _ => {}
    }
    out
}

/// The findings about every message in `messages` at `now`.
pub fn assess(
    messages: &[MessageRecord],
    policies: &Policies,
    now: Timestamp,
) -> Vec<OutcomeFinding> {
    messages
        .iter()
        .flat_map(|m| {
            let deadline = m
                .message_type
                .as_ref()
                .and_then(|t| deadline_of(policies, t));
            assess_message(m, deadline, now)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::NotificationOutcome;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn record() -> MessageRecord {
        MessageRecord::sample(9, "2026-11-20T08:00:00Z")
    }

    fn codes(f: &[OutcomeFinding]) -> Vec<(&'static str, Severity)> {
        f.iter().map(|f| (f.code.as_str(), f.severity)).collect()
    }

    #[test]
    fn unread_is_critical_only_once_the_deadline_has_passed() {
        let day = Some(SignedDuration::from_hours(24));
        let m = record();
        assert!(assess_message(&m, day, t("2026-11-21T07:59:59Z")).is_empty());
        let f = assess_message(&m, day, t("2026-11-21T08:00:00Z"));
        assert_eq!(codes(&f), [("unread_past_deadline", Severity::Critical)]);
        assert_eq!(f[0].since, Some(t("2026-11-21T08:00:00Z")));
        // No deadline: no deadline finding, however long it stays unread.
        assert!(assess_message(&m, None, t("2027-01-01T00:00:00Z")).is_empty());
        // Read late: no longer unread.
        let mut r = record();
        r.read = Some(t("2026-11-22T08:00:00Z"));
        assert!(assess_message(&r, day, t("2026-11-23T00:00:00Z")).is_empty());
    }

    #[test]
    fn predictions_are_contradicted_both_ways() {
        let day = Some(SignedDuration::from_hours(24));
        let mut m = record();
        m.predicted = Some(Verdict::Readable);
        let f = assess_message(&m, day, t("2026-11-22T00:00:00Z"));
        assert_eq!(
            codes(&f),
            [
                ("unread_past_deadline", Severity::Critical),
                ("prediction_contradicted", Severity::Warning)
            ]
        );
        let mut r = record();
        r.predicted = Some(Verdict::NotReadable);
        r.read = Some(t("2026-11-20T09:00:00Z"));
        let f = assess_message(&r, day, t("2026-11-22T00:00:00Z"));
        assert_eq!(codes(&f), [("prediction_contradicted", Severity::Info)]);
    }

    #[test]
    fn failed_notifications_and_altinns_due_time_are_warnings() {
        let mut m = record();
        m.notification = Some(NotificationOutcome::Failed);
        m.due = Some(t("2026-11-20T12:00:00Z"));
        let f = assess_message(&m, None, t("2026-11-20T13:00:00Z"));
        assert_eq!(
            codes(&f),
            [
                ("notification_failed", Severity::Warning),
                ("never_read", Severity::Warning)
            ]
        );
        // Off the routing table: counted elsewhere, never judged.
        m.recipient = None;
        assert!(assess_message(&m, None, t("2026-11-20T13:00:00Z")).is_empty());
    }
}
