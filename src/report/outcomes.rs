//! What happened to the messages sent in a report's period, beside what was predicted
//! (docs/design.md, "Message outcomes"): per sender, recipient and message type the messages
//! sent, read within the deadline, unread now and the time to first read; the calibration
//! (per verdict at send time, the share read within the deadline); both kinds of
//! `prediction_contradicted`; and every message unread past its deadline, with its age.
//!
//! Pure: computed from stored message rows, the message types and the report's time.
//! "Read" means opened, by anyone or any system: Altinn records the first opening, not who.

use jiff::Timestamp;
use serde::Serialize;

use crate::model::{MessageTypeId, OrgNumber, Verdict};
use crate::outcome::{CorrespondenceId, deadline_of, due_by};
use crate::policy::Policies;
use crate::store::MessageRecord;

/// One sender's messages to one recipient of one message type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PairRow {
    /// The sender.
    pub sender: OrgNumber,
    /// The recipient.
    pub recipient: OrgNumber,
    /// The message type.
    pub message_type: MessageTypeId,
    /// Messages published.
    pub sent: u64,
    /// Read within the type's deadline (read at all, for a type without one).
    pub read_within_deadline: u64,
    /// Not opened, now.
    pub unread_now: u64,
    /// Of those, past the deadline.
    pub unread_past_deadline: u64,
    /// Median minutes from publishing to first opening, over the messages opened.
    pub median_minutes_to_read: Option<u64>,
    /// 90th percentile (nearest rank) of the same.
    pub p90_minutes_to_read: Option<u64>,
}

/// How the messages sent under one verdict fared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CalibrationRow {
    /// The route's verdict at the last sweep before the message was published:
    /// `readable`, `not_readable`, `unknown`, or `not_judged` (no sweep before it; left out
    /// of the calibration proper).
    pub verdict: &'static str,
    /// Messages whose fate is known: opened, or unread past the deadline (a message still
    /// within its deadline is not counted yet).
    pub messages: u64,
    /// Of those, read within the deadline.
    pub read_within_deadline: u64,
    /// The share, in per mille (`None` without messages).
    pub read_permille: Option<u64>,
}

/// Which message a row is about: on a route, with the sender's reference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SentMessage {
    /// The correspondence.
    pub id: CorrespondenceId,
    /// The sender.
    pub sender: OrgNumber,
    /// The recipient.
    pub recipient: OrgNumber,
    /// The message type.
    pub message_type: MessageTypeId,
    /// The sender's own reference (identity numbers masked when stored).
    pub senders_reference: Option<String>,
    /// Published.
    pub published: Timestamp,
}

impl SentMessage {
    /// The sender's reference, else the correspondence id: how a person finds it.
    pub fn reference(&self) -> String {
        self.senders_reference
            .clone()
            .unwrap_or_else(|| self.id.to_string())
    }
}

/// A message unread past its deadline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnreadRow {
    /// The message.
    #[serde(flatten)]
    pub message: SentMessage,
    /// When it should have been read.
    pub deadline: Timestamp,
    /// Whole days since publishing, at the report's time.
    pub age_days: u64,
    /// The verdict it was sent under (`None`: not judged).
    pub predicted: Option<Verdict>,
}

/// A message whose fate contradicted its route's verdict when it was sent
/// (`prediction_contradicted`, docs/design.md, "Message outcomes").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContradictedRow {
    /// The message.
    #[serde(flatten)]
    pub message: SentMessage,
    /// The route's verdict at the last sweep before it was published.
    pub predicted: Verdict,
    /// When it was first opened (`None`: unread past the deadline).
    pub read: Option<Timestamp>,
    /// `warning` (judged readable, unread past the deadline) or `info` (judged not
    /// readable or unknown, yet opened).
    pub severity: &'static str,
}

/// The outcomes section of a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcomes {
    /// Deadlines and ages are measured at this time: the last poll of sent messages (by
    /// the outcome clock), else the end of the report's sweep.
    pub at: Timestamp,
    /// Messages published in the period on routes of the senders reported on.
    pub messages: u64,
    /// Read within the deadline.
    pub read_within_deadline: u64,
    /// Read after the deadline.
    pub read_late: u64,
    /// Not opened, now.
    pub unread_now: u64,
    /// Of those, past the deadline.
    pub unread_past_deadline: u64,
    /// Messages on routes judged `readable` when sent, unread past the deadline:
    /// `prediction_contradicted` (warning; someone can read, nobody did).
    pub contradicted_unread: u64,
    /// Messages on routes judged `not_readable` or `unknown` when sent that were opened:
    /// `prediction_contradicted` (info; the evidence was incomplete).
    pub contradicted_read: u64,
    /// Per verdict at send time.
    pub calibration: Vec<CalibrationRow>,
    /// Per sender, recipient and message type: most unread past the deadline first.
    pub by_route: Vec<PairRow>,
    /// Messages unread past the deadline, oldest first.
    pub unread: Vec<UnreadRow>,
    /// Every message counted in `contradicted_unread` or `contradicted_read`, oldest first.
    pub contradicted: Vec<ContradictedRow>,
}

const VERDICTS: [&str; 4] = ["readable", "not_readable", "unknown", "not_judged"];

fn verdict_index(v: Option<Verdict>) -> usize {
    match v {
        Some(Verdict::Readable) => 0,
        Some(Verdict::NotReadable) => 1,
        Some(Verdict::Unknown) => 2,
        None => 3,
    }
}

/// The nearest-rank percentile of sorted values.
fn nearest_rank(sorted: &[u64], p: u64) -> Option<u64> {
    let rank = (p * sorted.len() as u64).div_ceil(100).max(1) as usize;
    sorted.get(rank - 1).copied()
}

impl Outcomes {
    /// The outcomes of `messages` (already limited to the period and the senders) at `at`.
    /// Messages not on a route, not published, or whose publishing failed are left out.
    pub fn build(messages: &[MessageRecord], policies: Option<&Policies>, at: Timestamp) -> Self {
        let mut out = Outcomes {
            at,
            messages: 0,
            read_within_deadline: 0,
            read_late: 0,
            unread_now: 0,
            unread_past_deadline: 0,
            contradicted_unread: 0,
            contradicted_read: 0,
            calibration: VERDICTS
                .into_iter()
                .map(|verdict| CalibrationRow {
                    verdict,
                    messages: 0,
                    read_within_deadline: 0,
                    read_permille: None,
                })
                .collect(),
            by_route: Vec::new(),
            unread: Vec::new(),
            contradicted: Vec::new(),
        };
        let mut routes: std::collections::BTreeMap<
            (OrgNumber, OrgNumber, MessageTypeId),
            (PairRow, Vec<u64>),
        > = std::collections::BTreeMap::new();
        for m in messages {
            let (Some(route), Some(published)) = (m.route(), m.published) else {
                continue;
            };
            if m.failed || published > at {
                continue;
            }
            let deadline = policies.and_then(|p| deadline_of(p, &route.message_type));
            let by = due_by(m, deadline);
            let read = m.read.filter(|r| *r <= at);
            let within = read.is_some_and(|r| by.is_none_or(|by| r <= by));
            let past = read.is_none() && by.is_some_and(|by| at >= by);
            out.messages += 1;
            let (row, minutes) = routes
                .entry((route.sender, route.recipient, route.message_type.clone()))
                .or_insert_with(|| {
                    (
                        PairRow {
                            sender: route.sender,
                            recipient: route.recipient,
                            message_type: route.message_type.clone(),
                            sent: 0,
                            read_within_deadline: 0,
                            unread_now: 0,
                            unread_past_deadline: 0,
                            median_minutes_to_read: None,
                            p90_minutes_to_read: None,
                        },
                        Vec::new(),
                    )
                });
            row.sent += 1;
            match read {
                Some(r) => {
                    if within {
                        out.read_within_deadline += 1;
                        row.read_within_deadline += 1;
                    } else {
                        out.read_late += 1;
                    }
                    let secs = r.duration_since(published).as_secs().max(0) as u64;
                    minutes.push(secs / 60);
                }
                None => {
                    out.unread_now += 1;
                    row.unread_now += 1;
                    if past {
                        out.unread_past_deadline += 1;
                        row.unread_past_deadline += 1;
                    }
                }
            }
            // The calibration counts a message once its fate is known.
            if read.is_some() || past {
                let c = &mut out.calibration[verdict_index(m.predicted)];
                c.messages += 1;
                c.read_within_deadline += u64::from(within);
            }
            let message = || SentMessage {
                id: m.id,
                sender: route.sender,
                recipient: route.recipient,
                message_type: route.message_type.clone(),
                senders_reference: m.senders_reference.clone(),
                published,
            };
            let severity = match (m.predicted, read) {
                (Some(Verdict::Readable), None) if past => {
                    out.contradicted_unread += 1;
                    Some("warning")
                }
                (Some(Verdict::NotReadable | Verdict::Unknown), Some(_)) => {
                    out.contradicted_read += 1;
                    Some("info")
                }
                _ => None,
            };
            if let (Some(severity), Some(predicted)) = (severity, m.predicted) {
                out.contradicted.push(ContradictedRow {
                    message: message(),
                    predicted,
                    read,
                    severity,
                });
            }
            if past && let Some(by) = by {
                out.unread.push(UnreadRow {
                    message: message(),
                    deadline: by,
                    age_days: (at.duration_since(published).as_secs().max(0) / 86_400) as u64,
                    predicted: m.predicted,
                });
            }
        }
        for c in &mut out.calibration {
            c.read_permille = (c.messages > 0).then(|| c.read_within_deadline * 1000 / c.messages);
        }
        out.calibration.retain(|c| c.messages > 0);
        out.by_route = routes
            .into_values()
            .map(|(mut row, mut minutes)| {
                minutes.sort_unstable();
                row.median_minutes_to_read = nearest_rank(&minutes, 50);
                row.p90_minutes_to_read = nearest_rank(&minutes, 90);
                row
            })
            .collect();
        out.by_route
            .sort_by_key(|r| std::cmp::Reverse(r.unread_past_deadline));
        out.unread
            .sort_by_key(|u| (u.message.published, u.message.id));
        out.contradicted
            .sort_by_key(|c| (c.message.published, c.message.id));
        out
    }

    /// The messages unread past the deadline sent to `recipient`, oldest first.
    pub fn unread_to(&self, recipient: OrgNumber) -> impl Iterator<Item = &UnreadRow> {
        self.unread
            .iter()
            .filter(move |u| u.message.recipient == recipient)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// A message of `message_type` from 310000019 to `recipient`.
    fn m(
        n: u128,
        message_type: &str,
        recipient: &str,
        published: &str,
        read: Option<&str>,
        predicted: Option<Verdict>,
    ) -> MessageRecord {
        MessageRecord {
            message_type: Some(MessageTypeId::parse(message_type).unwrap()),
            recipient: Some(OrgNumber::parse(recipient).unwrap()),
            senders_reference: Some(format!("PO-{n}")),
            read: read.map(t),
            predicted,
            ..MessageRecord::sample(n, published)
        }
    }

    /// A history worked out by hand. `bekymringsmelding` has a 24-hour deadline,
    /// `ordinaer-post` 168 hours; the report's time is 2026-11-21T00:00Z.
    ///
    /// | # | type | to | published | read | verdict then | fate |
    /// |---|---|---|---|---|---|---|
    /// | 1 | bekymring | Bergen | 11-10 08:00 | 11-10 09:00 (60 min) | readable | within |
    /// | 2 | bekymring | Bergen | 11-11 08:00 | 11-11 10:00 (120 min) | readable | within |
    /// | 3 | bekymring | Bergen | 11-12 08:00 | — | readable | unread past deadline: contradicted (warning) |
    /// | 4 | bekymring | Bergen | 11-13 08:00 | 11-15 08:00 (2880 min) | readable | late |
    /// | 5 | bekymring | Oslo | 11-14 08:00 | 11-14 08:30 (30 min) | not_readable | within: contradicted (info) |
    /// | 6 | bekymring | Oslo | 11-15 08:00 | — | not_readable | unread past deadline |
    /// | 7 | bekymring | Oslo | 11-20 08:00 | — | unknown | unread, deadline 11-21 08:00 not passed: pending |
    /// | 8 | ordinaer | Oslo | 11-01 08:00 | 11-02 08:00 (1440 min) | — | within, not judged |
    /// | 9 | ordinaer | Oslo | 11-05 08:00 | — | — | unread past deadline (11-12), not judged |
    /// | 10 | bekymring | Bergen | 11-16 08:00 | 11-16 08:10 (10 min) | readable | within |
    ///
    /// Calibration: readable 3 of 5 decided (1, 2, 10; 4 late, 3 unread) = 600 ‰;
    /// not_readable 1 of 2 = 500 ‰; unknown none decided (7 pending); not_judged 1 of 2.
    /// Bergen's times to read, sorted: 10, 60, 120, 2880: median (rank 2) 60, p90 (rank 4)
    /// 2880.
    #[test]
    fn a_history_worked_by_hand() {
        let policies =
            Policies::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"))
                .unwrap();
        let (b, o) = ("bekymringsmelding", "ordinaer-post");
        let (bergen, oslo) = ("964338531", "958935420");
        use Verdict::{NotReadable, Readable, Unknown};
        let history = [
            m(
                1,
                b,
                bergen,
                "2026-11-10T08:00:00Z",
                Some("2026-11-10T09:00:00Z"),
                Some(Readable),
            ),
            m(
                2,
                b,
                bergen,
                "2026-11-11T08:00:00Z",
                Some("2026-11-11T10:00:00Z"),
                Some(Readable),
            ),
            m(3, b, bergen, "2026-11-12T08:00:00Z", None, Some(Readable)),
            m(
                4,
                b,
                bergen,
                "2026-11-13T08:00:00Z",
                Some("2026-11-15T08:00:00Z"),
                Some(Readable),
            ),
            m(
                5,
                b,
                oslo,
                "2026-11-14T08:00:00Z",
                Some("2026-11-14T08:30:00Z"),
                Some(NotReadable),
            ),
            m(6, b, oslo, "2026-11-15T08:00:00Z", None, Some(NotReadable)),
            m(7, b, oslo, "2026-11-20T08:00:00Z", None, Some(Unknown)),
            m(
                8,
                o,
                oslo,
                "2026-11-01T08:00:00Z",
                Some("2026-11-02T08:00:00Z"),
                None,
            ),
            m(9, o, oslo, "2026-11-05T08:00:00Z", None, None),
            m(
                10,
                b,
                bergen,
                "2026-11-16T08:00:00Z",
                Some("2026-11-16T08:10:00Z"),
                Some(Readable),
            ),
        ];
        let at = t("2026-11-21T00:00:00Z");
        let out = Outcomes::build(&history, Some(&policies), at);

        assert_eq!(
            (
                out.messages,
                out.read_within_deadline,
                out.read_late,
                out.unread_now,
                out.unread_past_deadline
            ),
            (10, 5, 1, 4, 3)
        );
        assert_eq!((out.contradicted_unread, out.contradicted_read), (1, 1));
        // Each of them, oldest first: #3 (warning, unread) and #5 (info, read at 08:30).
        let listed: Vec<(u128, Verdict, Option<Timestamp>, &str)> = out
            .contradicted
            .iter()
            .map(|c| (c.message.id.as_u128(), c.predicted, c.read, c.severity))
            .collect();
        assert_eq!(
            listed,
            [
                (3, Readable, None, "warning"),
                (5, NotReadable, Some(t("2026-11-14T08:30:00Z")), "info"),
            ]
        );
        let cal: Vec<(&str, u64, u64, Option<u64>)> = out
            .calibration
            .iter()
            .map(|c| {
                (
                    c.verdict,
                    c.messages,
                    c.read_within_deadline,
                    c.read_permille,
                )
            })
            .collect();
        assert_eq!(
            cal,
            [
                ("readable", 5, 3, Some(600)),
                ("not_readable", 2, 1, Some(500)),
                ("not_judged", 2, 1, Some(500)),
            ]
        );
        // Per route: Bergen's concern reports.
        let bergen_row = out
            .by_route
            .iter()
            .find(|r| r.recipient.to_string() == bergen)
            .unwrap();
        assert_eq!(
            (
                bergen_row.sent,
                bergen_row.read_within_deadline,
                bergen_row.unread_now,
                bergen_row.unread_past_deadline,
                bergen_row.median_minutes_to_read,
                bergen_row.p90_minutes_to_read
            ),
            (5, 3, 1, 1, Some(60), Some(2880))
        );
        let oslo_concern = out
            .by_route
            .iter()
            .find(|r| r.recipient.to_string() == oslo && r.message_type.as_str() == b)
            .unwrap();
        assert_eq!(
            (
                oslo_concern.sent,
                oslo_concern.unread_now,
                oslo_concern.unread_past_deadline
            ),
            (3, 2, 1)
        );
        assert_eq!(oslo_concern.median_minutes_to_read, Some(30));
        // Unread past the deadline, oldest first, with their age in whole days.
        let unread: Vec<(u128, u64)> = out
            .unread
            .iter()
            .map(|u| (u.message.id.as_u128(), u.age_days))
            .collect();
        assert_eq!(unread, [(9, 15), (3, 8), (6, 5)]);
        assert_eq!(
            out.unread_to(OrgNumber::parse(bergen).unwrap())
                .map(|u| u.message.senders_reference.as_deref())
                .collect::<Vec<_>>(),
            [Some("PO-3")]
        );
    }

    #[test]
    fn what_happened_after_the_report_time_does_not_count() {
        let at = t("2026-11-12T00:00:00Z");
        let history = [
            // Read after the report's time: unread as of it.
            m(
                1,
                "bekymringsmelding",
                "964338531",
                "2026-11-10T08:00:00Z",
                Some("2026-11-13T08:00:00Z"),
                Some(Verdict::Readable),
            ),
            // Published after it: not counted at all.
            m(
                2,
                "bekymringsmelding",
                "964338531",
                "2026-11-12T08:00:00Z",
                None,
                Some(Verdict::Readable),
            ),
        ];
        let out = Outcomes::build(&history, None, at);
        assert_eq!((out.messages, out.unread_now), (1, 1));
        // Without the message types, no deadline is known: nothing is past one.
        assert_eq!(out.unread_past_deadline, 0);
        assert!(out.calibration.is_empty());
    }
}
