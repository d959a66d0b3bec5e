//! Sent messages and what happened to them (DESIGN.md, "Message outcomes"): one row per
//! correspondence the sender published — id, route, published, first read, confirmed,
//! notification outcome, when last checked, whether final — and one row per poll of
//! Altinn Correspondence. No content and no personal data: a message that is not on a
//! route of the routing table (a person, a route not in the table) keeps no recipient, and
//! the sender's reference arrives with identity numbers already masked.
//!
//! Owns the `messages` and `message_polls` tables. Times are microseconds since the epoch
//! (the list is paged by `requestedPublishTime` to the microsecond). Writing a poll's
//! messages is one transaction, so a daemon lost mid-ingest leaves the previous state whole
//! and the next poll catches up. Does not own finding anything (`outcome::assess` does,
//! from these rows) nor the route's verdict (read from the sweep history, only to record the
//! prediction a message was sent under).

use jiff::Timestamp;
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::codec::{corrupt, message_type, org, parse_verdict};
use super::sql::{Db, DbError, DbResult, Param, Row, Value, params};
use super::{Store, StoreError, SweepId};
use crate::model::{FindingCode, MessageTypeId, OrgNumber, ResourceId, Route, Verdict};
use crate::outcome::{CorrespondenceId, Ingest, NotificationOutcome, Placement, Unrouted};

/// A stored message, as read back.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MessageRecord {
    /// The correspondence.
    pub id: CorrespondenceId,
    /// Its resource (not known while its details were never usable and it was not listed).
    pub resource: Option<ResourceId>,
    /// The sending organisation, when known.
    pub sender: Option<OrgNumber>,
    /// Its message type, when its resource names one.
    pub message_type: Option<MessageTypeId>,
    /// The recipient: only for a message on a route of the routing table.
    pub recipient: Option<OrgNumber>,
    /// Why it has no route, if it has none.
    pub unrouted: Option<Unrouted>,
    /// The sender's own reference, identity numbers masked.
    pub senders_reference: Option<String>,
    /// `requestedPublishTime`.
    pub requested_publish: Option<Timestamp>,
    /// Published.
    pub published: Option<Timestamp>,
    /// First opened.
    pub read: Option<Timestamp>,
    /// Confirmed.
    pub confirmed: Option<Timestamp>,
    /// The sender's due time in Altinn.
    pub due: Option<Timestamp>,
    /// Whether a confirmation was asked for.
    pub confirmation_needed: bool,
    /// Whether the recipient was told (`None` until details were read once).
    pub notification: Option<NotificationOutcome>,
    /// Publishing failed.
    pub failed: bool,
    /// Why the latest details could not be used, if they could not (named, never quoted).
    pub problem: Option<String>,
    /// The route's verdict at the last sweep before the message was published
    /// (`None`: not judged then).
    pub predicted: Option<Verdict>,
    /// When reachcheck first saw it.
    pub first_seen: Timestamp,
    /// When its details were last fetched.
    pub checked: Timestamp,
    /// Nothing more will be learned: not polled again.
    pub is_final: bool,
    /// When an `unread_past_deadline` alert went out for it.
    pub alerted_unread: Option<Timestamp>,
    /// When a `notification_failed` alert went out for it.
    pub alerted_notification: Option<Timestamp>,
}

impl MessageRecord {
    /// Its route, if it is on one.
    pub fn route(&self) -> Option<Route> {
        match (self.sender, &self.message_type, self.recipient) {
            (Some(s), Some(t), Some(r)) => Some(Route::new(s, t.clone(), r)),
            _ => None,
        }
    }
}

#[cfg(test)]
impl MessageRecord {
    /// For tests: message `n`, a concern report from 310000019 to 964338531 published at
    /// `published` and delivered, not read, not judged, first seen then; a test sets what
    /// it is about.
    pub(crate) fn sample(n: u128, published: &str) -> MessageRecord {
        let at: Timestamp = published
            .parse()
            .unwrap_or_else(|e| panic!("{published}: {e}"));
        let parse = |s: &str| s.parse().unwrap_or_else(|e| panic!("{s}: {e:?}"));
        MessageRecord {
            id: CorrespondenceId::from_u128(n),
            resource: Some(
                ResourceId::parse("politi-bekymringsmelding").unwrap_or_else(|e| panic!("{e}")),
            ),
            sender: Some(parse("310000019")),
            message_type: Some(
                MessageTypeId::parse("bekymringsmelding").unwrap_or_else(|e| panic!("{e}")),
            ),
            recipient: Some(parse("964338531")),
            unrouted: None,
            senders_reference: None,
            requested_publish: None,
            published: Some(at),
            read: None,
            confirmed: None,
            due: None,
            confirmation_needed: false,
            notification: Some(NotificationOutcome::Delivered),
            failed: false,
            problem: None,
            predicted: None,
            first_seen: at,
            checked: at,
            is_final: false,
            alerted_unread: None,
            alerted_notification: None,
        }
    }
}

/// What the store knows of a message before a poll: enough to page and to skip final ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownMessage {
    /// Its resource, when known.
    pub resource: Option<ResourceId>,
    /// `requestedPublishTime`, when known.
    pub requested_publish: Option<Timestamp>,
    /// Whether it is final.
    pub is_final: bool,
}

/// Which messages to read back.
#[derive(Clone, Debug, Default)]
pub struct MessageFilter {
    /// Only messages published and not read.
    pub unread: bool,
    /// Only these recipients (any, when empty).
    pub recipients: Vec<OrgNumber>,
    /// Only these senders (any, when empty).
    pub senders: Vec<OrgNumber>,
    /// Only these message types (any, when empty).
    pub message_types: Vec<MessageTypeId>,
    /// Published at or after.
    pub from: Option<Timestamp>,
    /// Published before.
    pub to: Option<Timestamp>,
    /// Also messages without a route.
    pub unrouted: bool,
}

/// One poll of Altinn Correspondence, as recorded.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PollRecord {
    /// When.
    pub at: Option<Timestamp>,
    /// Where the messages came from.
    pub source: String,
    /// Ids listed.
    pub listed: u64,
    /// Details read.
    pub fetched: u64,
    /// Messages written.
    pub stored: u64,
    /// Details that could not be used.
    pub unusable: u64,
    /// Messages not on a route.
    pub unrouted: u64,
    /// Why lists could not be read whole (`outcomes_incomplete`), per resource.
    pub incomplete: Vec<(ResourceId, String)>,
}

/// What writing a poll did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ingested {
    /// Rows written.
    pub stored: u64,
    /// Of those, messages seen for the first time.
    pub new: u64,
}

fn micros(t: Option<Timestamp>) -> Option<i64> {
    t.map(Timestamp::as_microsecond)
}

fn from_micros(v: Option<i64>) -> DbResult<Option<Timestamp>> {
    v.map(|us| Timestamp::from_microsecond(us).map_err(|_| corrupt("time", us)))
        .transpose()
}

const COLUMNS: &str = "id, resource, sender, message_type, recipient, unrouted, senders_reference, \
    requested_us, published_us, read_us, confirmed_us, due_us, confirmation_needed, notification, \
    failed, problem, predicted, first_seen_us, checked_us, final, alerted_unread_us, \
    alerted_notification_us";

fn record_row(r: &Row<'_>) -> DbResult<MessageRecord> {
    let id = r.str(0)?;
    let resource = r.opt_str(1)?;
    let opt_org = |i: usize| -> DbResult<Option<OrgNumber>> { r.opt_i64(i)?.map(org).transpose() };
    let time = |i: usize| from_micros(r.opt_i64(i)?);
    let req = |i: usize| -> DbResult<Timestamp> { time(i)?.ok_or_else(|| corrupt("time", "NULL")) };
    Ok(MessageRecord {
        id: CorrespondenceId::parse(id).map_err(|_| corrupt("correspondence id", id))?,
        resource: resource
            .map(|s| ResourceId::parse(s).map_err(|_| corrupt("resource id", s)))
            .transpose()?,
        sender: opt_org(2)?,
        message_type: r.opt_str(3)?.map(message_type).transpose()?,
        recipient: opt_org(4)?,
        unrouted: match r.opt_str(5)? {
            None => None,
            Some(s) => Some(Unrouted::from_name(s).ok_or_else(|| corrupt("unrouted", s))?),
        },
        senders_reference: r.opt_string(6)?,
        requested_publish: time(7)?,
        published: time(8)?,
        read: time(9)?,
        confirmed: time(10)?,
        due: time(11)?,
        confirmation_needed: r.bool(12)?,
        notification: match r.opt_str(13)? {
            None => None,
            Some(s) => {
                Some(NotificationOutcome::from_name(s).ok_or_else(|| corrupt("notification", s))?)
            }
        },
        failed: r.bool(14)?,
        problem: r.opt_string(15)?,
        predicted: match r.opt_str(16)? {
            None => None,
            Some(s) => Some(parse_verdict(s).ok_or_else(|| corrupt("verdict", s))?),
        },
        first_seen: req(17)?,
        checked: req(18)?,
        is_final: r.bool(19)?,
        alerted_unread: time(20)?,
        alerted_notification: time(21)?,
    })
}

/// The ok sweeps in order of their end, for finding the sweep before a time.
struct SweepTimes(Vec<(i64, SweepId)>);

impl SweepTimes {
    fn load(db: &Db) -> DbResult<SweepTimes> {
        let mut v: Vec<(i64, SweepId)> = db
            .query_map(
                "SELECT id, finished_at FROM sweeps WHERE status = 'ok' AND finished_at IS NOT NULL",
                params![],
                |r| Ok((r.i64(0)?, r.str(1)?.parse::<Timestamp>().ok())),
            )?
            .into_iter()
            .filter_map(|(id, at)| Some((at?.as_microsecond(), id)))
            .collect();
        v.sort_unstable();
        Ok(SweepTimes(v))
    }

    /// The last sweep that ended at or before `t`.
    fn before(&self, t: Timestamp) -> Option<SweepId> {
        let us = t.as_microsecond();
        let i = self.0.partition_point(|(at, _)| *at <= us);
        i.checked_sub(1).map(|i| self.0[i].1)
    }
}

impl Store {
    /// What is known of every stored message, for a poll: its resource, its requested
    /// publish time and whether it is final.
    pub fn known_messages(&self) -> Result<FxHashMap<CorrespondenceId, KnownMessage>, StoreError> {
        let run = || -> DbResult<FxHashMap<CorrespondenceId, KnownMessage>> {
            let mut out = FxHashMap::default();
            let mut resources: Vec<ResourceId> = Vec::new();
            let mut st = self
                .db
                .prepare_cached("SELECT id, resource, requested_us, final FROM messages")?;
            st.for_each(params![], |r| {
                let id = r.str(0)?;
                let id =
                    CorrespondenceId::parse(id).map_err(|_| corrupt("correspondence id", id))?;
                let resource = match r.opt_str(1)? {
                    None => None,
                    Some(res) => Some(match resources.iter().find(|x| x.as_str() == res) {
                        Some(x) => x.clone(),
                        None => {
                            let x =
                                ResourceId::parse(res).map_err(|_| corrupt("resource id", res))?;
                            resources.push(x.clone());
                            x
                        }
                    }),
                };
                out.insert(
                    id,
                    KnownMessage {
                        resource,
                        requested_publish: from_micros(r.opt_i64(2)?)?,
                        is_final: r.bool(3)?,
                    },
                );
                Ok(())
            })?;
            Ok(out)
        };
        run().map_err(|e| self.err(e))
    }

    /// Writes what a poll learned, in one transaction: each message's latest state (the
    /// prediction it was sent under on its first write), or, for details that could not be
    /// used, the problem — keeping what was known before, so a malformed answer never
    /// makes a message read. A message whose details stay unusable for `poll_for` after it
    /// was first seen is given up on (final).
    pub fn ingest(
        &mut self,
        items: &[Ingest],
        now: Timestamp,
        poll_for: jiff::SignedDuration,
    ) -> Result<Ingested, StoreError> {
        let path = self.path.display().to_string();
        let wrap = |e: DbError| StoreError {
            path: path.clone(),
            reason: e.to_string(),
        };
        // Predictions read the verdict history.
        while self.write_history(None)?.is_some() {}
        let tx = self.db.begin().map_err(wrap)?;
        let mut out = Ingested::default();
        {
            let sweeps = SweepTimes::load(&self.db).map_err(wrap)?;
            let mut predict = self
                .db
                .prepare_cached(
                    "SELECT v.verdict FROM verdicts v JOIN routes r ON r.id = v.route_id
                     WHERE r.sender = ?1 AND r.message_type = ?2 AND r.recipient = ?3
                       AND v.since <= ?4 AND (v.until IS NULL OR v.until > ?4)",
                )
                .map_err(wrap)?;
            // New messages are the bulk of a first poll: one plain insert each; a message
            // already stored is updated in place (its first read and confirmation kept).
            let mut insert = self
                .db
                .prepare_cached(
                    "INSERT INTO messages (id, resource, sender, message_type, recipient, unrouted,
                        senders_reference, requested_us, published_us, read_us, confirmed_us, due_us,
                        confirmation_needed, notification, failed, problem, predicted, first_seen_us,
                        checked_us, final)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, NULL,
                        ?16, ?17, ?17, ?18)
                     ON CONFLICT (id) DO NOTHING",
                )
                .map_err(wrap)?;
            let mut update = self
                .db
                .prepare_cached(
                    "UPDATE messages SET
                        resource = ?2, sender = ?3, message_type = ?4, recipient = ?5,
                        unrouted = ?6, senders_reference = ?7, requested_us = ?8,
                        published_us = ?9, read_us = coalesce(read_us, ?10),
                        confirmed_us = coalesce(confirmed_us, ?11), due_us = ?12,
                        confirmation_needed = ?13, notification = ?14, failed = ?15,
                        problem = NULL, predicted = coalesce(predicted, ?16),
                        checked_us = ?17, final = ?18
                     WHERE id = ?1",
                )
                .map_err(wrap)?;
            let mut unusable = self
                .db
                .prepare_cached(
                    "INSERT INTO messages (id, resource, problem, first_seen_us, checked_us, final)
                     VALUES (?1, ?2, ?3, ?4, ?4, 0)
                     ON CONFLICT (id) DO UPDATE SET problem = excluded.problem,
                        resource = coalesce(messages.resource, excluded.resource),
                        checked_us = excluded.checked_us,
                        final = CASE WHEN messages.first_seen_us + ?5 <= excluded.checked_us
                                     THEN 1 ELSE messages.final END
                     RETURNING first_seen_us = checked_us",
                )
                .map_err(wrap)?;
            let now_us = now.as_microsecond();
            let poll_for_us = i64::try_from(poll_for.as_micros()).unwrap_or(i64::MAX);
            for item in items {
                let new: bool = match item {
                    Ingest::Message {
                        message: m,
                        placement,
                        is_final,
                    } => {
                        let (sender, mtype, recipient, unrouted) = match placement {
                            Placement::Routed(r) => (
                                Some(r.sender),
                                Some(r.message_type.clone()),
                                Some(r.recipient),
                                None,
                            ),
                            Placement::Unrouted {
                                why,
                                message_type,
                                sender,
                            } => (*sender, message_type.clone(), None, Some(*why)),
                        };
                        let predicted: Option<String> = match (placement, m.published) {
                            (Placement::Routed(r), Some(p)) => match sweeps.before(p) {
                                Some(sweep) => predict
                                    .query_opt(
                                        params![
                                            i64::from(r.sender.get()),
                                            r.message_type.as_str(),
                                            i64::from(r.recipient.get()),
                                            sweep
                                        ],
                                        |row| row.string(0),
                                    )
                                    .map_err(wrap)?,
                                None => None,
                            },
                            _ => None,
                        };
                        let id = m.id.to_string();
                        let values = params![
                            id,
                            m.resource.as_str(),
                            sender.map(|o| i64::from(o.get())),
                            mtype.as_ref().map(MessageTypeId::as_str),
                            recipient.map(|o| i64::from(o.get())),
                            unrouted.map(Unrouted::as_str),
                            m.senders_reference,
                            micros(m.requested_publish),
                            micros(m.published),
                            micros(m.read),
                            micros(m.confirmed),
                            micros(m.due),
                            i64::from(m.confirmation_needed),
                            m.notification.as_str(),
                            i64::from(m.failed),
                            predicted,
                            now_us,
                            i64::from(*is_final),
                        ];
                        if insert.execute(values).map_err(wrap)? == 1 {
                            true
                        } else {
                            update.execute(values).map_err(wrap)?;
                            false
                        }
                    }
                    Ingest::Unusable {
                        id,
                        resource,
                        problem,
                    } => unusable
                        .query_row(
                            params![
                                id.to_string(),
                                resource.as_ref().map(ResourceId::as_str),
                                problem,
                                now_us,
                                poll_for_us
                            ],
                            |row| row.bool(0),
                        )
                        .map_err(wrap)?,
                };
                out.stored += 1;
                out.new += u64::from(new);
            }
        }
        tx.commit().map_err(wrap)?;
        Ok(out)
    }

    /// Records a poll.
    pub fn record_poll(&mut self, poll: &PollRecord) -> Result<(), StoreError> {
        let incomplete = serde_json::to_string(&poll.incomplete).map_err(|e| self.err(e))?;
        self.db
            .execute(
                "INSERT INTO message_polls (at_us, source, listed, fetched, stored, unusable, unrouted, incomplete)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    micros(poll.at),
                    poll.source,
                    poll.listed as i64,
                    poll.fetched as i64,
                    poll.stored as i64,
                    poll.unusable as i64,
                    poll.unrouted as i64,
                    incomplete
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The latest poll, if any.
    pub fn last_poll(&self) -> Result<Option<PollRecord>, StoreError> {
        let row = self
            .db
            .query_opt(
                "SELECT at_us, source, listed, fetched, stored, unusable, unrouted, incomplete
                 FROM message_polls ORDER BY id DESC LIMIT 1",
                params![],
                |r| {
                    let n = |i: usize| -> DbResult<u64> { Ok(r.i64(i)?.max(0) as u64) };
                    let incomplete = r.str(7)?;
                    Ok(PollRecord {
                        at: from_micros(r.opt_i64(0)?)?,
                        source: r.string(1)?,
                        listed: n(2)?,
                        fetched: n(3)?,
                        stored: n(4)?,
                        unusable: n(5)?,
                        unrouted: n(6)?,
                        incomplete: serde_json::from_str(incomplete)
                            .map_err(|_| corrupt("incomplete lists", "JSON"))?,
                    })
                },
            )
            .map_err(|e| self.err(e))?;
        Ok(row)
    }

    /// Stored messages matching `filter`, newest published first.
    pub fn messages(&self, filter: &MessageFilter) -> Result<Vec<MessageRecord>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM messages WHERE 1 = 1");
        let mut args: Vec<Value> = Vec::new();
        let list = |sql: &mut String, args: &mut Vec<Value>, col: &str, vals: Vec<Value>| {
            if vals.is_empty() {
                return;
            }
            let marks: Vec<String> = vals
                .iter()
                .enumerate()
                .map(|(i, _)| format!("?{}", args.len() + i + 1))
                .collect();
            sql.push_str(&format!(" AND {col} IN ({})", marks.join(", ")));
            args.extend(vals);
        };
        if !filter.unrouted {
            // On a route — or not known to be off one: details never usable.
            sql.push_str(" AND (recipient IS NOT NULL OR (problem IS NOT NULL AND unrouted IS NULL AND published_us IS NULL))");
        }
        if filter.unread {
            sql.push_str(" AND read_us IS NULL AND failed = 0 AND (published_us IS NOT NULL OR problem IS NOT NULL)");
        }
        let ints = |v: &[OrgNumber]| -> Vec<Value> {
            v.iter().map(|o| i64::from(o.get()).into()).collect()
        };
        list(&mut sql, &mut args, "recipient", ints(&filter.recipients));
        list(&mut sql, &mut args, "sender", ints(&filter.senders));
        list(
            &mut sql,
            &mut args,
            "message_type",
            filter
                .message_types
                .iter()
                .map(|t| t.as_str().to_owned().into())
                .collect(),
        );
        if let Some(f) = filter.from {
            args.push(f.as_microsecond().into());
            sql.push_str(&format!(" AND published_us >= ?{}", args.len()));
        }
        if let Some(t) = filter.to {
            args.push(t.as_microsecond().into());
            sql.push_str(&format!(" AND published_us < ?{}", args.len()));
        }
        sql.push_str(" ORDER BY coalesce(published_us, requested_us, first_seen_us) DESC, id");
        let args: Vec<&dyn Param> = args.iter().map(|a| a as &dyn Param).collect();
        let run = || -> DbResult<Vec<MessageRecord>> {
            self.db.prepare(&sql)?.query_map(&args, record_row)
        };
        run().map_err(|e| self.err(e))
    }

    /// Messages on a route that may need an alert: published, on a route, still polled
    /// (a message unread when its poll window closed is listed by `messages --unread`, not
    /// alerted years later), and not yet alerted for being unread or for a failed
    /// notification.
    pub fn alert_candidates(&self) -> Result<Vec<MessageRecord>, StoreError> {
        let run = || -> DbResult<Vec<MessageRecord>> {
            self.db.query_map(
                &format!(
                    "SELECT {COLUMNS} FROM messages
                 WHERE recipient IS NOT NULL AND published_us IS NOT NULL AND failed = 0
                   AND final = 0
                   AND ((read_us IS NULL AND alerted_unread_us IS NULL)
                     OR (notification = 'failed' AND alerted_notification_us IS NULL))
                 ORDER BY published_us, id"
                ),
                params![],
                record_row,
            )
        };
        run().map_err(|e| self.err(e))
    }

    /// Records that alerts went out for these messages (`unread_past_deadline` or
    /// `notification_failed`), so they are not sent again.
    pub fn mark_alerted(
        &mut self,
        alerted: &[(CorrespondenceId, FindingCode)],
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let path = self.path.display().to_string();
        let wrap = |e: DbError| StoreError {
            path: path.clone(),
            reason: e.to_string(),
        };
        let tx = self.db.begin().map_err(wrap)?;
        super::lease::check(&self.db, self.fence.as_ref()).map_err(wrap)?;
        {
            let mut unread = self
                .db
                .prepare_cached("UPDATE messages SET alerted_unread_us = ?2 WHERE id = ?1")
                .map_err(wrap)?;
            let mut notification = self
                .db
                .prepare_cached("UPDATE messages SET alerted_notification_us = ?2 WHERE id = ?1")
                .map_err(wrap)?;
            for (id, code) in alerted {
                let st = match code {
                    FindingCode::NotificationFailed => &mut notification,
                    _ => &mut unread,
                };
                st.execute(params![id.to_string(), at.as_microsecond()])
                    .map_err(wrap)?;
            }
        }
        tx.commit().map_err(wrap)
    }

    /// Messages stored, for tests and metrics.
    pub fn message_count(&self) -> Result<u64, StoreError> {
        self.db
            .query_row("SELECT count(*) FROM messages", params![], |r| r.i64(0))
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.err(e))
    }
}
