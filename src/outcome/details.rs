//! The details of a correspondence as Altinn gives them to its sender
//! (`GET /correspondence/api/v1/correspondence/{id}/details`, `CorrespondenceDetailsExt`;
//! API-NOTES-2026 §3.2–3.3), parsed once into a [`Message`].
//!
//! What is read, and why: `read` and `statusHistory` for when it was opened (never
//! `status`, which is the highest status ever set, not the latest); `published` (or the first
//! `Published` entry); the first `Confirmed` entry; `Failed` in the history; `notifications`
//! with each channel item's `sendStatus.status`. Content is not read (the sender gets
//! `null` after publishing anyway).
//!
//! Personal data never leaves this file: a person recipient becomes [`Recipient::Person`];
//! identity numbers in `sendersReference` are masked; notification recipients' addresses
//! and identity numbers are not read at all. A body that cannot be used is a
//! [`DetailsError`] that names what is wrong and never quotes the body.

use jiff::Timestamp;
use serde::Deserialize;

use super::message::{CorrespondenceId, Message, NotificationOutcome, Recipient};
use crate::model::{OrgNumber, ResourceId, is_identity_number, mask_identity_numbers};

/// Prefixes an organisation number comes with in Correspondence.
const ORG_PREFIXES: [&str; 2] = ["urn:altinn:organization:identifier-no:", "0192:"];
/// Prefixes of a person recipient.
const PERSON_PREFIXES: [&str; 3] = [
    "urn:altinn:person:identifier-no:",
    "urn:altinn:person:idporten-email:",
    "urn:altinn:person:legacy-selfidentified:",
];

/// Why a details body cannot be used. Names the field or the place, never the value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DetailsError {
    /// Not JSON, or not the shape of `CorrespondenceDetailsExt`.
    #[error("malformed details ({what}) at line {line} column {column}")]
    Json {
        /// `not JSON`, `cut off`, or `a field of the wrong type or missing`.
        what: &'static str,
        /// Where.
        line: usize,
        /// Where.
        column: usize,
    },
    /// A field that is missing or not what Altinn sends.
    #[error("`{field}` {why}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
}

impl DetailsError {
    fn field(field: &'static str, why: &'static str) -> DetailsError {
        DetailsError::Field { field, why }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDetails {
    correspondence_id: Option<String>,
    resource_id: Option<String>,
    #[serde(default)]
    sender: Option<String>,
    #[serde(default)]
    senders_reference: Option<String>,
    recipient: Option<String>,
    #[serde(default)]
    requested_publish_time: Option<String>,
    #[serde(default)]
    due_date_time: Option<String>,
    #[serde(default)]
    is_confirmation_needed: Option<bool>,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    read: Option<String>,
    #[serde(default)]
    status_history: Option<Vec<RawStatusEvent>>,
    #[serde(default)]
    notifications: Option<Vec<RawNotification>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStatusEvent {
    status: Option<serde_json::Value>,
    status_changed: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawNotification {
    #[serde(default)]
    processing_status: Option<RawProcessingStatus>,
    #[serde(default)]
    notification_status_details: Option<RawStatusDetails>,
}

#[derive(Deserialize)]
struct RawProcessingStatus {
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct RawStatusDetails {
    #[serde(default)]
    email: Option<RawChannelItem>,
    #[serde(default)]
    sms: Option<RawChannelItem>,
    #[serde(default)]
    emails: Option<Vec<RawChannelItem>>,
    #[serde(default)]
    smses: Option<Vec<RawChannelItem>>,
}

/// A notification to one address. Its `recipient` (address, identity number) is not read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawChannelItem {
    #[serde(default)]
    succeeded: Option<bool>,
    #[serde(default)]
    send_status: Option<RawProcessingStatus>,
}

/// What one notification status string says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delivery {
    Delivered,
    Failed,
    Pending,
}

/// Altinn Notifications' per-recipient statuses (`NotificationStatusV2`): `*_Delivered` is
/// delivered and final, `*_Failed*` failed and final; everything else (`*_New`, `*_Sending`,
/// `Email_Succeeded` — accepted, may still bounce — `SMS_Accepted`, `Unknown`, strings
/// not known) is still under way.
fn delivery(status: &str) -> Delivery {
    let s = status.trim();
    if s.ends_with("_Delivered") || s.eq_ignore_ascii_case("delivered") {
        Delivery::Delivered
    } else if s.contains("_Failed") || s.eq_ignore_ascii_case("failed") {
        Delivery::Failed
    } else {
        Delivery::Pending
    }
}

/// An order without per-address items: done when its processing status says so (v1 order
/// statuses `Completed`, `Processed`, `SendConditionNotMet`, `Cancelled`).
fn order_settled(status: Option<&str>) -> bool {
    matches!(
        status.map(str::trim),
        Some("Completed" | "Processed" | "SendConditionNotMet" | "Cancelled")
    )
}

fn notification_outcome(list: &[RawNotification]) -> (NotificationOutcome, bool) {
    if list.is_empty() {
        return (NotificationOutcome::None, true);
    }
    let (mut delivered, mut failed, mut pending) = (0u32, 0u32, 0u32);
    let mut settled = true;
    for n in list {
        let items: Vec<&RawChannelItem> = n
            .notification_status_details
            .iter()
            .flat_map(|d| {
                d.email
                    .iter()
                    .chain(d.sms.iter())
                    .chain(d.emails.iter().flatten())
                    .chain(d.smses.iter().flatten())
            })
            .collect();
        if items.is_empty() {
            let status = n
                .processing_status
                .as_ref()
                .and_then(|p| p.status.as_deref());
            if !order_settled(status) {
                settled = false;
                pending += 1;
            }
            continue;
        }
        for item in items {
            let status = item.send_status.as_ref().and_then(|s| s.status.as_deref());
            match status.map(delivery) {
                Some(Delivery::Delivered) => delivered += 1,
                Some(Delivery::Failed) => failed += 1,
                // Migrated Altinn 2 notifications carry `succeeded: true` and no v2 status.
                None if item.succeeded == Some(true) => delivered += 1,
                _ => {
                    pending += 1;
                    settled = false;
                }
            }
        }
    }
    let outcome = if delivered > 0 {
        NotificationOutcome::Delivered
    } else if pending > 0 {
        NotificationOutcome::Pending
    } else if failed > 0 {
        NotificationOutcome::Failed
    } else {
        NotificationOutcome::None
    };
    (outcome, settled)
}

fn time(field: &'static str, v: Option<&str>) -> Result<Option<Timestamp>, DetailsError> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse::<Timestamp>()
            .map(Some)
            .map_err(|_| DetailsError::field(field, "is not an RFC 3339 time")),
    }
}

/// The organisation number in a Correspondence party string (`0192:NNNNNNNNN`,
/// `urn:altinn:organization:identifier-no:NNNNNNNNN` or nine bare digits).
pub fn organisation(s: &str) -> Option<OrgNumber> {
    let s = s.trim();
    let digits = ORG_PREFIXES
        .iter()
        .find_map(|p| s.strip_prefix(p))
        .unwrap_or(s);
    if digits.len() != 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    OrgNumber::parse(digits).ok()
}

fn recipient(s: &str) -> Result<Recipient, DetailsError> {
    if let Some(org) = organisation(s) {
        return Ok(Recipient::Organisation(org));
    }
    let s = s.trim();
    if PERSON_PREFIXES.iter().any(|p| s.starts_with(p)) || is_identity_number(s) {
        return Ok(Recipient::Person);
    }
    Err(DetailsError::field(
        "recipient",
        "is neither an organisation number nor a person",
    ))
}

fn status_name(v: &serde_json::Value) -> Option<&str> {
    v.as_str()
}

/// Parses a details body. `expected` is the id that was asked for: a body about another
/// correspondence is refused.
///
/// # Errors
/// A [`DetailsError`] naming what is wrong: not JSON, a required field missing
/// (`correspondenceId`, `resourceId`, `recipient`), a time that is not a time, a recipient
/// that is neither an organisation nor a person, or a body that contradicts itself (read
/// before it was published).
pub fn parse_details(
    body: &[u8],
    expected: Option<CorrespondenceId>,
) -> Result<Message, DetailsError> {
    let raw: RawDetails = serde_json::from_slice(body).map_err(|e| DetailsError::Json {
        what: match e.classify() {
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Eof | serde_json::error::Category::Io => "cut off",
            serde_json::error::Category::Data => "a field of the wrong type",
        },
        line: e.line(),
        column: e.column(),
    })?;
    let id = raw
        .correspondence_id
        .as_deref()
        .ok_or(DetailsError::field("correspondenceId", "is missing"))
        .and_then(|s| {
            CorrespondenceId::parse(s)
                .map_err(|_| DetailsError::field("correspondenceId", "is not a UUID"))
        })?;
    if expected.is_some_and(|e| e != id) {
        return Err(DetailsError::field(
            "correspondenceId",
            "is not the correspondence that was asked for",
        ));
    }
    let resource = raw
        .resource_id
        .as_deref()
        .ok_or(DetailsError::field("resourceId", "is missing"))
        .and_then(|s| {
            ResourceId::parse(s)
                .map_err(|_| DetailsError::field("resourceId", "is not a resource id"))
        })?;
    let recipient = recipient(
        raw.recipient
            .as_deref()
            .ok_or(DetailsError::field("recipient", "is missing"))?,
    )?;
    let sender = match raw.sender.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(organisation(s).ok_or(DetailsError::field(
            "sender",
            "is not an organisation number",
        ))?),
    };
    let requested_publish = time(
        "requestedPublishTime",
        raw.requested_publish_time.as_deref(),
    )?;
    let due = time("dueDateTime", raw.due_date_time.as_deref())?;
    let mut published = time("published", raw.published.as_deref())?;
    let mut read = time("read", raw.read.as_deref())?;
    let mut confirmed = None;
    let mut failed = false;
    for e in raw.status_history.iter().flatten() {
        let Some(status) = e.status.as_ref().and_then(status_name) else {
            return Err(DetailsError::field(
                "statusHistory",
                "has an entry without a status name",
            ));
        };
        let at = time("statusHistory[].statusChanged", e.status_changed.as_deref())?;
        let first = |slot: &mut Option<Timestamp>| {
            if let Some(at) = at
                && slot.is_none_or(|t| at < t)
            {
                *slot = Some(at);
            }
        };
        match status {
            "Published" => first(&mut published),
            "Read" => first(&mut read),
            "Confirmed" => first(&mut confirmed),
            "Failed" => failed = true,
            _ => {}
        }
    }
    // Confirming needs the message opened: a confirmation without a read is one.
    if read.is_none() {
        read = confirmed;
    }
    if let (Some(r), Some(p)) = (read, published)
        && r < p
    {
        return Err(DetailsError::field(
            "read",
            "is earlier than the message was published",
        ));
    }
    let (notification, notifications_settled) =
        notification_outcome(raw.notifications.as_deref().unwrap_or_default());
    Ok(Message {
        id,
        resource,
        sender,
        recipient,
        senders_reference: raw
            .senders_reference
            .map(|r| mask_identity_numbers(r.trim()).into_owned())
            .filter(|r| !r.is_empty()),
        requested_publish,
        published,
        read,
        confirmed,
        confirmation_needed: raw.is_confirmation_needed.unwrap_or(false),
        due,
        notification,
        notifications_settled,
        failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const ID: &str = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    /// Synthetic; passes both check digits.
    const FNR: &str = "01017012343";

    /// A body in the current `CorrespondenceDetailsExt` shape (API-NOTES-2026 §3.2).
    fn body() -> Value {
        let email = json!({"id": null, "succeeded": true,
            "recipient": {"emailAddress": "post@example.no", "mobileNumber": null,
                "organizationNumber": "964338531", "nationalIdentityNumber": FNR, "isReserved": false},
            "sendStatus": {"status": "Email_Delivered", "description": null,
                "lastUpdate": "2026-11-01T08:01:00+00:00"}});
        let notification = json!({
            "id": "n1", "sendersReference": null, "creator": "x",
            "created": "2026-11-01T08:00:01+00:00", "isReminder": false,
            "notificationChannel": "Email", "ignoreReservation": null, "resourceId": null,
            "processingStatus": {"status": "Processed", "description": null,
                "lastUpdate": "2026-11-01T08:00:02+00:00"},
            "notificationStatusDetails": {"email": null, "sms": null, "smses": [], "emails": [email]}
        });
        let history = json!([
            {"status": "Initialized", "statusText": "x", "statusChanged": "2026-11-01T08:00:00+00:00"},
            {"status": "Published", "statusText": "x", "statusChanged": "2026-11-01T08:00:01+00:00"},
            {"status": "Read", "statusText": "x", "statusChanged": "2026-11-02T09:00:00+00:00"},
            {"status": "AttachmentsDownloaded", "statusText": "x", "statusChanged": "2026-11-02T09:01:00+00:00"}
        ]);
        let mut b = json!({
            "recipient": "urn:altinn:organization:identifier-no:964338531",
            "correspondenceId": ID,
            "content": null,
            "created": "2026-11-01T08:00:00+00:00",
            "status": "AttachmentsDownloaded",
            "statusText": "x",
            "statusChanged": "2026-11-02T09:00:00+00:00",
            "resourceId": "politi-bekymringsmelding",
            "sender": "0192:310000019",
            "sendersReference": format!("sak 2026/17 {FNR}"),
            "messageSender": "Politiet",
            "requestedPublishTime": "2026-11-01T08:00:00.123456+00:00",
            "dueDateTime": null,
            "externalReferences": [],
            "propertyList": {},
            "replyOptions": [],
            "notification": null,
            "ignoreReservation": null,
            "isConfirmationNeeded": false,
            "isConfidential": true,
            "allowForwarding": false,
            "altinn2CorrespondenceId": null,
            "published": "2026-11-01T08:00:01+00:00",
            "read": "2026-11-02T09:00:00+00:00",
            "systemLabel": null
        });
        b["statusHistory"] = history;
        b["notifications"] = json!([notification]);
        b
    }

    fn parse(v: &Value) -> Result<Message, DetailsError> {
        parse_details(v.to_string().as_bytes(), None)
    }

    #[test]
    fn a_current_details_body_becomes_a_message_without_personal_data() {
        let m = parse(&body()).unwrap();
        assert_eq!(m.id.to_string(), ID);
        assert_eq!(m.resource.as_str(), "politi-bekymringsmelding");
        assert_eq!(m.sender, Some(OrgNumber::parse("310000019").unwrap()));
        assert_eq!(
            m.recipient,
            Recipient::Organisation(OrgNumber::parse("964338531").unwrap())
        );
        assert_eq!(
            m.senders_reference.as_deref(),
            Some("sak 2026/17 ***********")
        );
        assert_eq!(
            m.requested_publish.unwrap().to_string(),
            "2026-11-01T08:00:00.123456Z"
        );
        assert_eq!(m.read.unwrap().to_string(), "2026-11-02T09:00:00Z");
        assert_eq!(m.notification, NotificationOutcome::Delivered);
        assert!(m.notifications_settled);
        assert!(!m.failed);
        assert!(!format!("{m:?}").contains(FNR));
    }

    #[test]
    fn read_comes_from_read_and_the_history_never_from_status() {
        let mut b = body();
        b["read"] = Value::Null;
        let m = parse(&b).unwrap();
        assert_eq!(m.read.unwrap().to_string(), "2026-11-02T09:00:00Z");
        // `status` is the highest status ever: alone it proves nothing.
        let mut b = body();
        b["read"] = Value::Null;
        b["statusHistory"] =
            json!([{"status": "Published", "statusChanged": "2026-11-01T08:00:01Z"}]);
        b["status"] = json!("Read");
        assert_eq!(parse(&b).unwrap().read, None);
        // A confirmation means it was opened.
        b["isConfirmationNeeded"] = json!(true);
        b["statusHistory"] = json!([
            {"status": "Published", "statusChanged": "2026-11-01T08:00:01Z"},
            {"status": "Confirmed", "statusChanged": "2026-11-03T08:00:00Z"}
        ]);
        let m = parse(&b).unwrap();
        assert_eq!(m.confirmed, m.read);
        assert!(m.confirmation_needed);
    }

    #[test]
    fn people_are_recipients_without_identity() {
        for r in [
            format!("urn:altinn:person:identifier-no:{FNR}"),
            FNR.to_owned(),
            "urn:altinn:person:idporten-email:kari@example.no".to_owned(),
        ] {
            let mut b = body();
            b["recipient"] = json!(r);
            assert_eq!(parse(&b).unwrap().recipient, Recipient::Person, "{r}");
        }
        for r in ["0192:964338531", "964338531"] {
            let mut b = body();
            b["recipient"] = json!(r);
            assert!(matches!(
                parse(&b).unwrap().recipient,
                Recipient::Organisation(_)
            ));
        }
    }

    #[test]
    fn notifications_fail_only_when_every_address_failed() {
        let mut b = body();
        b["notifications"][0]["notificationStatusDetails"]["emails"][0]["sendStatus"]["status"] =
            json!("Email_Failed_Bounced");
        b["notifications"][0]["notificationStatusDetails"]["emails"][0]["succeeded"] = json!(false);
        let m = parse(&b).unwrap();
        assert_eq!(m.notification, NotificationOutcome::Failed);
        assert!(m.notifications_settled);
        b["notifications"][0]["notificationStatusDetails"]["smses"] = json!([
            {"succeeded": false, "sendStatus": {"status": "SMS_Sending"}}
        ]);
        let m = parse(&b).unwrap();
        assert_eq!(m.notification, NotificationOutcome::Pending);
        assert!(!m.notifications_settled);
        b["notifications"][0]["notificationStatusDetails"]["smses"] = json!([
            {"succeeded": true, "sendStatus": {"status": "SMS_Delivered"}}
        ]);
        assert_eq!(
            parse(&b).unwrap().notification,
            NotificationOutcome::Delivered
        );
        b["notifications"] = json!([]);
        let m = parse(&b).unwrap();
        assert_eq!(m.notification, NotificationOutcome::None);
        assert!(m.notifications_settled);
        b["notifications"] = json!([{"processingStatus": {"status": "Registered"}}]);
        assert!(!parse(&b).unwrap().notifications_settled);
    }

    #[test]
    fn bad_bodies_are_named_and_never_quoted() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                b"{\"correspondenceId\": ".to_vec(),
                "malformed details (cut off)",
            ),
            (b"<html>".to_vec(), "malformed details (not JSON)"),
            (
                {
                    let mut b = body();
                    b["read"] = json!(FNR);
                    b.to_string().into_bytes()
                },
                "`read` is not an RFC 3339 time",
            ),
            (
                {
                    let mut b = body();
                    b["recipient"] = json!(format!("x{FNR}"));
                    b.to_string().into_bytes()
                },
                "`recipient` is neither an organisation number nor a person",
            ),
            (
                {
                    let mut b = body();
                    b["statusHistory"] = json!(FNR);
                    b.to_string().into_bytes()
                },
                "malformed details (a field of the wrong type)",
            ),
            (
                {
                    let mut b = body();
                    b["read"] = json!("2026-10-01T00:00:00Z");
                    b.to_string().into_bytes()
                },
                "`read` is earlier than the message was published",
            ),
            (
                {
                    let mut b = body();
                    b.as_object_mut().unwrap().remove("resourceId");
                    b.to_string().into_bytes()
                },
                "`resourceId` is missing",
            ),
        ];
        for (bytes, expected) in cases {
            let e = parse_details(&bytes, None).unwrap_err().to_string();
            assert!(e.starts_with(expected), "{e}");
            assert!(!e.contains(FNR), "{e}");
        }
        let other = CorrespondenceId::from_u128(7);
        let e = parse_details(body().to_string().as_bytes(), Some(other)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`correspondenceId` is not the correspondence that was asked for"
        );
    }
}
