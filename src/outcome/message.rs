//! The checked types of a sent message: [`CorrespondenceId`], [`Message`], who it went to
//! ([`Recipient`]) and whether the recipient was told ([`NotificationOutcome`]).

use std::fmt;

use jiff::{SignedDuration, Timestamp};

use crate::model::{OrgNumber, ResourceId};

/// The id of a correspondence in Altinn: a UUID, kept as a number and shown in Altinn's
/// lower-case hyphenated form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CorrespondenceId(u128);

/// Why a string is not a correspondence id. Never quotes the string (it came from outside).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a correspondence id: expected a UUID such as `0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b`")]
pub struct CorrespondenceIdError;

impl CorrespondenceId {
    /// Parses a UUID (`8-4-4-4-12` hexadecimal digits, either case).
    pub fn parse(s: &str) -> Result<CorrespondenceId, CorrespondenceIdError> {
        let b = s.trim().as_bytes();
        if b.len() != 36 {
            return Err(CorrespondenceIdError);
        }
        let mut v: u128 = 0;
        for (i, &c) in b.iter().enumerate() {
            if matches!(i, 8 | 13 | 18 | 23) {
                if c != b'-' {
                    return Err(CorrespondenceIdError);
                }
                continue;
            }
            let d = (c as char).to_digit(16).ok_or(CorrespondenceIdError)?;
            v = (v << 4) | u128::from(d);
        }
        Ok(CorrespondenceId(v))
    }

    /// The id whose 128 bits are `v` (synthetic data, tests).
    pub fn from_u128(v: u128) -> CorrespondenceId {
        CorrespondenceId(v)
    }

    /// The id's 128 bits.
    pub fn as_u128(self) -> u128 {
        self.0
    }
}

impl fmt::Display for CorrespondenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            (v >> 96) as u32,
            (v >> 80) as u16,
            (v >> 64) as u16,
            (v >> 48) as u16,
            v & 0xffff_ffff_ffff
        )
    }
}

impl fmt::Debug for CorrespondenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CorrespondenceId({self})")
    }
}

impl serde::Serialize for CorrespondenceId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Whom a message was sent to. A person is never named: not even masked, the identity stays
/// out of reachcheck.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Recipient {
    /// An organisation.
    Organisation(OrgNumber),
    /// A person (identity number, ID-porten e-mail or self-identified user).
    Person,
}

/// Whether the recipient was told that the message arrived, over all its notifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationOutcome {
    /// No notification was ordered.
    None,
    /// Ordered, not sent yet or not known to have arrived.
    Pending,
    /// At least one notification reached an address.
    Delivered,
    /// Every notification failed: nobody was told.
    Failed,
}

impl NotificationOutcome {
    /// `none`, `pending`, `delivered` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationOutcome::None => "none",
            NotificationOutcome::Pending => "pending",
            NotificationOutcome::Delivered => "delivered",
            NotificationOutcome::Failed => "failed",
        }
    }

    /// The outcome named by [`NotificationOutcome::as_str`].
    pub fn from_name(s: &str) -> Option<NotificationOutcome> {
        Some(match s {
            "none" => NotificationOutcome::None,
            "pending" => NotificationOutcome::Pending,
            "delivered" => NotificationOutcome::Delivered,
            "failed" => NotificationOutcome::Failed,
            _ => return None,
        })
    }
}

/// One correspondence the sender published, as its details said at one moment: never its
/// content, never who read it, no personal data (a person recipient is [`Recipient::Person`],
/// identity numbers in the sender's reference are masked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Its id.
    pub id: CorrespondenceId,
    /// The resource it was sent as (which gives its message type).
    pub resource: ResourceId,
    /// The sending organisation, from the details' `sender`.
    pub sender: Option<OrgNumber>,
    /// Whom it went to.
    pub recipient: Recipient,
    /// The sender's own reference, identity numbers masked.
    pub senders_reference: Option<String>,
    /// `requestedPublishTime`: what the list's `from`/`to` filter on.
    pub requested_publish: Option<Timestamp>,
    /// When it was published (the recipient could see it from then).
    pub published: Option<Timestamp>,
    /// When it was first opened, by anyone or any system.
    pub read: Option<Timestamp>,
    /// When the recipient confirmed it.
    pub confirmed: Option<Timestamp>,
    /// Whether the sender asked for a confirmation.
    pub confirmation_needed: bool,
    /// The sender's own due time in Altinn (`dueDateTime`).
    pub due: Option<Timestamp>,
    /// Whether the recipient was told.
    pub notification: NotificationOutcome,
    /// Every notification is in a final status (or there is none).
    pub notifications_settled: bool,
    /// Publishing failed: the message never reached the recipient.
    pub failed: bool,
}

impl Message {
    /// Whether nothing more can happen that reachcheck needs to know (docs/design.md, "Final"):
    /// publishing failed; or it was read, confirmed if asked for, and every notification
    /// settled; or `poll_for` has passed since it was published. Final messages are not
    /// polled again.
    pub fn is_final(&self, now: Timestamp, poll_for: SignedDuration) -> bool {
        if self.failed {
            return true;
        }
        let settled = self.read.is_some()
            && (!self.confirmation_needed || self.confirmed.is_some())
            && self.notifications_settled;
        settled
            || self
                .published
                .or(self.requested_publish)
                .and_then(|p| p.checked_add(poll_for).ok())
                .is_some_and(|until| now >= until)
    }

    /// The message as it stood at `t`, for replaying recorded details at a pinned time:
    /// `None` when it was not published (nor due to be) by then; a read or confirmation
    /// after `t` has not happened yet. Notification statuses and a failed publication are
    /// kept as recorded (their times are not read).
    pub fn as_of(mut self, t: Timestamp) -> Option<Message> {
        if self
            .published
            .or(self.requested_publish)
            .is_some_and(|p| p > t)
        {
            return None;
        }
        if self.read.is_some_and(|r| r > t) {
            self.read = None;
        }
        if self.confirmed.is_some_and(|c| c > t) {
            self.confirmed = None;
        }
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_as_of_a_time_forgets_what_came_after_it() {
        let body = serde_json::json!({
            "correspondenceId": "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
            "resourceId": "politi-bekymringsmelding",
            "recipient": "0192:964338531",
            "requestedPublishTime": "2026-11-21T08:00:00Z",
            "statusHistory": [
                {"status": "Confirmed", "statusChanged": "2026-11-21T10:00:00Z"}
            ]
        });
        let m = super::super::details::parse_details(body.to_string().as_bytes(), None).unwrap();
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        // Not due to be published yet (only the requested time is known).
        assert!(m.clone().as_of(t("2026-11-21T07:59:59Z")).is_none());
        // Published, but neither opened nor confirmed yet.
        let then = m.clone().as_of(t("2026-11-21T09:00:00Z")).unwrap();
        assert_eq!((then.read, then.confirmed), (None, None));
        // Confirming opens it: both by 10:00.
        let later = m.as_of(t("2026-11-21T10:00:00Z")).unwrap();
        assert_eq!(later.confirmed, Some(t("2026-11-21T10:00:00Z")));
        assert_eq!(later.read, later.confirmed);
    }

    #[test]
    fn ids_round_trip_in_altinn_form_and_bad_ones_are_refused_unquoted() {
        let s = "0199A1B2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
        let id = CorrespondenceId::parse(s).unwrap();
        assert_eq!(id.to_string(), s.to_ascii_lowercase());
        assert_eq!(CorrespondenceId::parse(&id.to_string()).unwrap(), id);
        for bad in [
            "",
            "0199a1b2c3d47e5f8a9b0c1d2e3f4a5b",
            "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5g",
            "0199a1b2-c3d4-7e5f-8a9b_0c1d2e3f4a5b",
        ] {
            let e = CorrespondenceId::parse(bad).unwrap_err().to_string();
            assert!(bad.is_empty() || !e.contains(bad), "{e}");
        }
        assert_eq!(
            CorrespondenceId::from_u128(1).to_string(),
            "00000000-0000-0000-0000-000000000001"
        );
    }

    fn message() -> Message {
        Message {
            id: CorrespondenceId::from_u128(1),
            resource: ResourceId::parse("r").unwrap(),
            sender: None,
            recipient: Recipient::Person,
            senders_reference: None,
            requested_publish: None,
            published: Some("2026-01-01T00:00:00Z".parse().unwrap()),
            read: None,
            confirmed: None,
            confirmation_needed: false,
            due: None,
            notification: NotificationOutcome::None,
            notifications_settled: true,
            failed: false,
        }
    }

    #[test]
    fn final_when_read_and_settled_or_when_the_poll_window_is_over() {
        let days = SignedDuration::from_hours(24 * 90);
        let soon: Timestamp = "2026-01-02T00:00:00Z".parse().unwrap();
        let later: Timestamp = "2026-04-02T00:00:00Z".parse().unwrap();
        let mut m = message();
        assert!(!m.is_final(soon, days));
        assert!(m.is_final(later, days), "90 days after publishing");
        m.read = Some(soon);
        assert!(m.is_final(soon, days));
        m.confirmation_needed = true;
        assert!(!m.is_final(soon, days), "a confirmation is still due");
        m.confirmed = Some(soon);
        m.notifications_settled = false;
        assert!(!m.is_final(soon, days), "a notification is still under way");
        m.notifications_settled = true;
        assert!(m.is_final(soon, days));
        let mut f = message();
        f.failed = true;
        assert!(f.is_final(soon, days));
    }
}
