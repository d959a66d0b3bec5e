//! What a route's messages did, beside its verdict: messages sent, read within the
//! deadline, last read, unread now, and how they square with the verdicts they were sent
//! under (`check --details`, `precheck` and the AuthZEN context show it).

use jiff::Timestamp;
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::assess::{deadline_of, due_by};
use crate::model::Route;
use crate::policy::Policies;
use crate::store::MessageRecord;

/// The history of one route's messages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RouteHistory {
    /// Messages published on the route.
    pub sent: u64,
    /// Of those, read within the message type's `read_deadline_hours` (read at all, for a
    /// type without one).
    pub read_within_deadline: u64,
    /// When a message on the route was last opened.
    pub last_read: Option<Timestamp>,
    /// Published and not opened, now.
    pub unread_now: u64,
    /// Of those, past the deadline.
    pub unread_past_deadline: u64,
    /// Messages sent while the route was judged `readable` and unread past the deadline:
    /// `prediction_contradicted` (warning; someone can read, nobody did).
    pub contradicted_unread: u64,
    /// Messages sent while the route was judged `not_readable` or `unknown` and opened:
    /// `prediction_contradicted` (info; the evidence was incomplete).
    pub contradicted_read: u64,
    /// Messages sent before any sweep judged the route (`not_judged`).
    pub not_judged: u64,
}

/// The history of every route with messages, at `now`.
pub fn histories(
    messages: &[MessageRecord],
    policies: &Policies,
    now: Timestamp,
) -> FxHashMap<Route, RouteHistory> {
    let mut out: FxHashMap<Route, RouteHistory> = FxHashMap::default();
    for m in messages {
        let (Some(route), Some(_)) = (m.route(), m.published) else {
            continue;
        };
        if m.failed {
            continue;
        }
        let deadline = deadline_of(policies, &route.message_type);
        let by = due_by(m, deadline);
        let h = out.entry(route).or_default();
        h.sent += 1;
        h.not_judged += u64::from(m.predicted.is_none());
        let judged_readable = m.predicted == Some(crate::model::Verdict::Readable);
        match m.read {
            Some(read) => {
                if by.is_none_or(|by| read <= by) {
                    h.read_within_deadline += 1;
                }
                h.last_read = h.last_read.max(Some(read));
                h.contradicted_read += u64::from(m.predicted.is_some() && !judged_readable);
            }
            None => {
                h.unread_now += 1;
                if by.is_some_and(|by| now >= by) {
                    h.unread_past_deadline += 1;
                    h.contradicted_unread += u64::from(judged_readable);
                }
            }
        }
    }
    out
}
