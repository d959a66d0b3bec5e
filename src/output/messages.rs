//! `reachcheck messages`: the messages the sender sent and what happened to them, from the
//! store — above all the list a sender must send again another way when something went
//! wrong. Table (people), JSON and CSV.
//!
//! Owns: the listing's rows (a state per message, its findings, its deadline) and their
//! rendering. Does not own: what a finding is (`outcome::assess`) nor reading the store.

use std::io::{self, Write};

use jiff::Timestamp;
use serde::Serialize;

use crate::model::{FindingCode, MessageTypeId, OrgNumber, Severity};
use crate::outcome::{
    CorrespondenceId, NotificationOutcome, RouteHistory, Unrouted, assess_message, deadline_of,
    due_by,
};
use crate::policy::Policies;
use crate::store::{MessageRecord, PollRecord};

/// What became of a message, in one word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Not published yet.
    Pending,
    /// Published, not opened, deadline not passed (or none).
    Unread,
    /// Published, not opened, past the type's deadline.
    UnreadPastDeadline,
    /// Opened within the deadline (or opened, for a type without one).
    Read,
    /// Opened after the deadline.
    ReadLate,
    /// Publishing failed.
    Failed,
    /// Its details could not be used: not known to be read.
    Unknown,
}

impl State {
    /// The word shown.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Unread => "unread",
            State::UnreadPastDeadline => "unread_past_deadline",
            State::Read => "read",
            State::ReadLate => "read_late",
            State::Failed => "failed",
            State::Unknown => "unknown",
        }
    }
}

/// A finding in a row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowFinding {
    /// The code.
    pub code: FindingCode,
    /// The severity.
    pub severity: Severity,
}

/// One message, as listed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MessageRow {
    /// The correspondence id.
    pub id: CorrespondenceId,
    /// The sender.
    pub sender: Option<OrgNumber>,
    /// The message type.
    pub message_type: Option<MessageTypeId>,
    /// The recipient (only for messages on a route).
    pub recipient: Option<OrgNumber>,
    /// The sender's own reference (identity numbers masked).
    pub senders_reference: Option<String>,
    /// Published.
    pub published: Option<Timestamp>,
    /// Read by (published + the type's deadline).
    pub deadline: Option<Timestamp>,
    /// First opened.
    pub read: Option<Timestamp>,
    /// Confirmed.
    pub confirmed: Option<Timestamp>,
    /// Whether the recipient was told.
    pub notification: Option<NotificationOutcome>,
    /// In one word.
    pub state: State,
    /// Its findings at `now`.
    pub findings: Vec<RowFinding>,
    /// Why it is on no route.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unrouted: Option<Unrouted>,
    /// Why its details could not be used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Counts over the listed messages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MessageSummary {
    /// Messages listed.
    pub messages: u64,
    /// Read within the deadline.
    pub read: u64,
    /// Read after the deadline.
    pub read_late: u64,
    /// Unread (deadline not passed, or none).
    pub unread: u64,
    /// Unread past the deadline.
    pub unread_past_deadline: u64,
    /// With a failed notification.
    pub notification_failed: u64,
    /// Details not usable.
    pub unknown: u64,
}

/// What to do about a message type's unread messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fallback {
    /// The message type.
    pub message_type: MessageTypeId,
    /// Its `fallback`, if set.
    pub fallback: Option<String>,
    /// Messages of this type that need it.
    pub messages: u64,
}

/// How the messages sent under one verdict fared (docs/design.md, "Reconciliation"): the share
/// read within the deadline, per verdict of the last sweep before each was published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Calibration {
    /// `readable`, `not_readable`, `unknown`, or `not_judged` (no sweep before it was sent;
    /// left out of the calibration proper).
    pub verdict: &'static str,
    /// Messages published under that verdict.
    pub messages: u64,
    /// Of those, read within the deadline.
    pub read_within_deadline: u64,
}

/// The listing.
#[derive(Clone, Debug, Serialize)]
pub struct MessageList {
    /// Judged as of.
    pub now: Timestamp,
    /// Counts.
    pub summary: MessageSummary,
    /// What to do now, per message type with messages unread past the deadline or not
    /// notified.
    pub what_to_do: Vec<Fallback>,
    /// Per verdict before sending, the share read within the deadline.
    pub by_verdict: Vec<Calibration>,
    /// The latest poll of Altinn Correspondence, if any.
    pub last_poll: Option<PollRecord>,
    /// The messages.
    pub messages: Vec<MessageRow>,
}

impl MessageList {
    /// The listing of `records` at `now`.
    pub fn build(
        records: &[MessageRecord],
        policies: Option<&Policies>,
        now: Timestamp,
        last_poll: Option<PollRecord>,
    ) -> MessageList {
        let mut summary = MessageSummary::default();
        let mut what: Vec<Fallback> = Vec::new();
        let mut rows = Vec::with_capacity(records.len());
        let mut by_verdict: Vec<Calibration> =
            ["readable", "not_readable", "unknown", "not_judged"]
                .into_iter()
                .map(|verdict| Calibration {
                    verdict,
                    messages: 0,
                    read_within_deadline: 0,
                })
                .collect();
        for m in records {
            let deadline = match (policies, &m.message_type) {
                (Some(p), Some(t)) => deadline_of(p, t),
                _ => None,
            };
            let by = due_by(m, deadline);
            let state = if m.failed {
                State::Failed
            } else if let Some(read) = m.read {
                if by.is_some_and(|by| read > by) {
                    State::ReadLate
                } else {
                    State::Read
                }
            } else if m.problem.is_some() && m.published.is_none() {
                State::Unknown
            } else if m.published.is_none() {
                State::Pending
            } else if by.is_some_and(|by| now >= by) {
                State::UnreadPastDeadline
            } else {
                State::Unread
            };
            let findings: Vec<RowFinding> = assess_message(m, deadline, now)
                .into_iter()
                .map(|f| RowFinding {
                    code: f.code,
                    severity: f.severity,
                })
                .collect();
            if m.published.is_some() && m.route().is_some() && !m.failed {
                let i = match m.predicted {
                    Some(crate::model::Verdict::Readable) => 0,
                    Some(crate::model::Verdict::NotReadable) => 1,
                    Some(crate::model::Verdict::Unknown) => 2,
                    None => 3,
                };
                by_verdict[i].messages += 1;
                by_verdict[i].read_within_deadline += u64::from(state == State::Read);
            }
            summary.messages += 1;
            match state {
                State::Read => summary.read += 1,
                State::ReadLate => summary.read_late += 1,
                State::Unread => summary.unread += 1,
                State::UnreadPastDeadline => summary.unread_past_deadline += 1,
                State::Unknown => summary.unknown += 1,
                State::Pending | State::Failed => {}
            }
            let failed_notice = m.notification == Some(NotificationOutcome::Failed);
            if failed_notice {
                summary.notification_failed += 1;
            }
            if (state == State::UnreadPastDeadline || failed_notice && m.read.is_none())
                && let Some(t) = &m.message_type
            {
                match what.iter_mut().find(|w| &w.message_type == t) {
                    Some(w) => w.messages += 1,
                    None => what.push(Fallback {
                        message_type: t.clone(),
                        fallback: policies
                            .and_then(|p| p.message_type(t))
                            .and_then(|mt| mt.fallback.clone()),
                        messages: 1,
                    }),
                }
            }
            rows.push(MessageRow {
                id: m.id,
                sender: m.sender,
                message_type: m.message_type.clone(),
                recipient: m.recipient,
                senders_reference: m.senders_reference.clone(),
                published: m.published,
                deadline: by,
                read: m.read,
                confirmed: m.confirmed,
                notification: m.notification,
                state,
                findings,
                unrouted: m.unrouted,
                problem: m.problem.clone(),
            });
        }
        by_verdict.retain(|c| c.messages > 0);
        MessageList {
            now,
            summary,
            what_to_do: what,
            by_verdict,
            last_poll,
            messages: rows,
        }
    }

    /// As JSON.
    pub fn json(&self, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self).map_err(io::Error::other)?;
        out.write_all(b"\n")
    }

    /// As CSV, one row per message.
    pub fn csv(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record([
            "id",
            "sender",
            "message_type",
            "recipient",
            "senders_reference",
            "published",
            "deadline",
            "read",
            "state",
            "notification",
            "findings",
            "problem",
        ])?;
        let t = |t: Option<Timestamp>| t.map(|t| t.to_string()).unwrap_or_default();
        for m in &self.messages {
            let codes: Vec<&str> = m.findings.iter().map(|f| f.code.as_str()).collect();
            w.write_record([
                m.id.to_string().as_str(),
                &m.sender.map(|s| s.to_string()).unwrap_or_default(),
                m.message_type.as_ref().map_or("", |t| t.as_str()),
                &m.recipient.map(|s| s.to_string()).unwrap_or_default(),
                m.senders_reference.as_deref().unwrap_or(""),
                &t(m.published),
                &t(m.deadline),
                &t(m.read),
                m.state.as_str(),
                m.notification.map_or("", NotificationOutcome::as_str),
                &codes.join(";"),
                m.problem.as_deref().unwrap_or(""),
            ])?;
        }
        w.flush()
    }

    /// As a table for people.
    pub fn table(&self, out: &mut dyn Write) -> io::Result<()> {
        let minute = |t: Option<Timestamp>| {
            t.map(|t| t.strftime("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "-".to_owned())
        };
        let type_width = self
            .messages
            .iter()
            .filter_map(|m| m.message_type.as_ref().map(|t| t.as_str().len()))
            .max()
            .unwrap_or(4)
            .max(4);
        writeln!(
            out,
            "{:<16}  {:<20}  {:<9}  {:<type_width$}  {:<36}  {:<9}  REFERENCE",
            "PUBLISHED", "STATE", "RECIPIENT", "TYPE", "MESSAGE", "NOTIFIED"
        )?;
        for m in &self.messages {
            writeln!(
                out,
                "{:<16}  {:<20}  {:<9}  {:<type_width$}  {:<36}  {:<9}  {}",
                minute(m.published),
                m.state.as_str(),
                m.recipient
                    .map(|r| r.to_string())
                    .or_else(|| m.unrouted.map(|u| u.as_str().to_owned()))
                    .unwrap_or_else(|| "-".to_owned()),
                m.message_type.as_ref().map_or("-", |t| t.as_str()),
                m.id.to_string(),
                m.notification.map_or("-", NotificationOutcome::as_str),
                m.senders_reference.as_deref().unwrap_or("")
            )?;
            if let Some(p) = &m.problem {
                writeln!(out, "    details unusable: {p}")?;
            }
        }
        let s = &self.summary;
        writeln!(out)?;
        writeln!(
            out,
            "{} message(s): {} read within the deadline, {} read late, {} unread ({} past the deadline), {} with a failed notification{}",
            s.messages,
            s.read,
            s.read_late,
            s.unread + s.unread_past_deadline,
            s.unread_past_deadline,
            s.notification_failed,
            if s.unknown > 0 {
                format!(", {} not known (details unusable)", s.unknown)
            } else {
                String::new()
            }
        )?;
        for w in &self.what_to_do {
            match &w.fallback {
                Some(f) => writeln!(
                    out,
                    "send again another way now: {} `{}` message(s): {f}",
                    w.messages, w.message_type
                )?,
                None => writeln!(
                    out,
                    "send again another way now: {} `{}` message(s) (no `fallback` is set for this type)",
                    w.messages, w.message_type
                )?,
            }
        }
        if !self.by_verdict.is_empty() {
            let parts: Vec<String> = self
                .by_verdict
                .iter()
                .map(|c| {
                    format!(
                        "{} {}/{} ({}%)",
                        c.verdict,
                        c.read_within_deadline,
                        c.messages,
                        c.read_within_deadline * 100 / c.messages.max(1)
                    )
                })
                .collect();
            writeln!(
                out,
                "read within the deadline, by the route's verdict before sending: {}",
                parts.join(", ")
            )?;
        }
        if let Some(p) = &self.last_poll {
            for (resource, why) in &p.incomplete {
                writeln!(out, "warning: outcomes_incomplete: `{resource}`: {why}")?;
            }
            if let Some(at) = p.at {
                writeln!(out, "last poll: {at} ({})", p.source)?;
            }
        }
        writeln!(
            out,
            "as of {}; \"read\" means opened by anyone or any system (an integration fetching a message marks it read)",
            self.now
        )
    }
}

/// A route's history in one line.
pub fn history_line(h: &RouteHistory) -> String {
    if h.sent == 0 {
        return "none sent on this route yet".to_owned();
    }
    let last = h
        .last_read
        .map_or_else(|| "never".to_owned(), |t| t.to_string());
    let mut line = format!(
        "{} sent, {} read within the deadline, last read {last}, {} unread now ({} past the deadline)",
        h.sent, h.read_within_deadline, h.unread_now, h.unread_past_deadline
    );
    if h.contradicted_unread > 0 {
        line.push_str(&format!(
            "; prediction_contradicted: {} judged readable when sent, unread past the deadline (someone can read, nobody did)",
            h.contradicted_unread
        ));
    }
    if h.contradicted_read > 0 {
        line.push_str(&format!(
            "; prediction_contradicted: {} judged not readable or unknown when sent, yet opened (the evidence was incomplete)",
            h.contradicted_read
        ));
    }
    if h.not_judged > 0 {
        line.push_str(&format!(
            "; {} sent before any sweep (not_judged)",
            h.not_judged
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Verdict;

    fn record(n: u128, read: Option<&str>, predicted: Option<Verdict>) -> MessageRecord {
        MessageRecord {
            read: read.map(|s| s.parse().unwrap()),
            predicted,
            ..MessageRecord::sample(n, "2026-11-19T08:00:00Z")
        }
    }

    #[test]
    fn states_deadlines_and_the_share_read_per_verdict() {
        let policies =
            Policies::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"))
                .unwrap();
        let now: Timestamp = "2026-11-21T00:00:00Z".parse().unwrap();
        let list = MessageList::build(
            &[
                record(1, Some("2026-11-19T09:00:00Z"), Some(Verdict::Readable)),
                record(2, Some("2026-11-20T09:00:00Z"), Some(Verdict::Readable)),
                record(3, None, Some(Verdict::NotReadable)),
                record(4, None, None),
            ],
            Some(&policies),
            now,
            None,
        );
        let states: Vec<State> = list.messages.iter().map(|m| m.state).collect();
        assert_eq!(
            states,
            [
                State::Read,
                State::ReadLate,
                State::UnreadPastDeadline,
                State::UnreadPastDeadline
            ]
        );
        assert_eq!(
            list.messages[0].deadline,
            Some("2026-11-20T08:00:00Z".parse().unwrap())
        );
        assert_eq!(
            list.by_verdict,
            [
                Calibration {
                    verdict: "readable",
                    messages: 2,
                    read_within_deadline: 1
                },
                Calibration {
                    verdict: "not_readable",
                    messages: 1,
                    read_within_deadline: 0
                },
                Calibration {
                    verdict: "not_judged",
                    messages: 1,
                    read_within_deadline: 0
                },
            ]
        );
        assert_eq!(list.what_to_do.len(), 1);
        assert_eq!(list.what_to_do[0].messages, 2);
        let mut out = Vec::new();
        list.table(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("readable 1/2 (50%), not_readable 0/1 (0%), not_judged 0/1 (0%)"),
            "{text}"
        );
    }
}
