//! Altinn Correspondence as a sender uses it (API-NOTES-2026 §3): publish
//! (`POST /correspondence/api/v1/correspondence`, at most 500 recipients, one
//! `requestedPublishTime` for all of them), the list (`GET …/correspondence?resourceId=&role=`:
//! at most 1000 ids, newest `requestedPublishTime` first, exclusive `from`/`to`, no paging
//! token) and the details with their status history (`GET …/{id}/details`).
//!
//! What happens to a message after it is published is the stand-in's own business,
//! configured per recipient and independent of the snapshot's readers: `--reading`
//! (`prompt`, `slow`, `never`: a recipient nobody is supposed to be able to read may be given
//! a prompt reader, to contradict the prediction) and `--notifications` (`delivered`,
//! `failed`). Times come from a clock (`/_sim/clock`) that tests move forward, so that
//! deadlines pass in seconds; the daemon can read the same clock (`outcomes.clock_url`).
//!
//! It refuses what Correspondence refuses, with its status codes: no token or an unknown one
//! (401), a token without `altinn:correspondence.write` or `.read` (403), a missing
//! subscription key when one is required (401, as API management answers), listing or
//! reading on behalf of another organisation or another sender's message (401, error 4001),
//! an unknown correspondence (404, error 1001), `from` after `to` (400, error 1027), more
//! than 500 recipients or a malformed recipient (400).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::{Value, json};

use reachcheck::model::OrgNumber;

use crate::grant::bearer;
use crate::server::{Sim, lock};

/// Ids per list answer, as Correspondence caps it.
const LIST_CAP: usize = 1000;
/// Recipients per publish request, as Correspondence caps it.
const MAX_RECIPIENTS: usize = 500;
/// The scope a sender needs.
const WRITE: &str = "altinn:correspondence.write";
/// The scope a recipient needs.
const READ: &str = "altinn:correspondence.read";
const ORG_URN: &str = "urn:altinn:organization:identifier-no:";
const PERSON_URN: &str = "urn:altinn:person:identifier-no:";

/// How a recipient reads what it is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reading {
    /// Opens each message this long after it is published.
    After(SignedDuration),
    /// Never opens anything.
    Never,
}

/// Whether notifications to a recipient reach it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Notifying {
    /// Delivered a minute after publishing.
    Delivered,
    /// Bounced a minute after publishing.
    Failed,
}

/// Per-recipient behaviour with a default, parsed from `default=prompt,964338531=never`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PerRecipient<T> {
    default: T,
    by_org: HashMap<OrgNumber, T>,
}

impl<T: Copy> PerRecipient<T> {
    fn of(&self, org: Option<OrgNumber>) -> T {
        org.and_then(|o| self.by_org.get(&o).copied())
            .unwrap_or(self.default)
    }
}

fn parse_per<T: Copy>(
    s: &str,
    default: T,
    value: impl Fn(&str) -> Result<T, String>,
) -> Result<PerRecipient<T>, String> {
    let mut out = PerRecipient {
        default,
        by_org: HashMap::new(),
    };
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (who, what) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}`: expected ORG=VALUE or default=VALUE"))?;
        let v = value(what.trim()).map_err(|e| format!("`{part}`: {e}"))?;
        if who.trim() == "default" {
            out.default = v;
        } else {
            let org = OrgNumber::parse(who).map_err(|e| format!("`{part}`: {e}"))?;
            out.by_org.insert(org, v);
        }
    }
    Ok(out)
}

fn duration(s: &str) -> Result<SignedDuration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("`{s}` is not a duration: {e}"))?;
    SignedDuration::try_from(d).map_err(|_| format!("`{s}` is too long"))
}

impl std::str::FromStr for PerRecipient<Reading> {
    type Err = String;

    /// `prompt[:DURATION]` (10m), `slow[:DURATION]` (48h) or `never`, per recipient.
    fn from_str(s: &str) -> Result<Self, String> {
        parse_per(
            s,
            Reading::After(SignedDuration::from_mins(10)),
            |v| match v.split_once(':') {
                None if v == "never" => Ok(Reading::Never),
                None if v == "prompt" => Ok(Reading::After(SignedDuration::from_mins(10))),
                None if v == "slow" => Ok(Reading::After(SignedDuration::from_hours(48))),
                Some(("prompt" | "slow", d)) => duration(d).map(Reading::After),
                _ => Err("expected prompt[:DURATION], slow[:DURATION] or never".to_owned()),
            },
        )
    }
}

impl std::str::FromStr for PerRecipient<Notifying> {
    type Err = String;

    /// `delivered` or `failed`, per recipient.
    fn from_str(s: &str) -> Result<Self, String> {
        parse_per(s, Notifying::Delivered, |v| match v {
            "delivered" => Ok(Notifying::Delivered),
            "failed" => Ok(Notifying::Failed),
            _ => Err("expected delivered or failed".to_owned()),
        })
    }
}

/// The command line's part in Correspondence.
#[derive(Clone, Debug)]
pub(crate) struct CorrespondenceOptions {
    /// The organisation every token the stand-in issues belongs to (Maskinporten's
    /// `consumer`): the sender.
    pub(crate) client_org: Option<OrgNumber>,
    /// Requests must carry this subscription key in `Ocp-Apim-Subscription-Key`.
    pub(crate) subscription_key: Option<String>,
    /// How each recipient reads.
    pub(crate) reading: PerRecipient<Reading>,
    /// Whether notifications reach each recipient.
    pub(crate) notifications: PerRecipient<Notifying>,
    /// Where the clock starts (default: the real time).
    pub(crate) clock_start: Option<Timestamp>,
}

impl Default for CorrespondenceOptions {
    fn default() -> Self {
        CorrespondenceOptions {
            client_org: None,
            subscription_key: None,
            reading: PerRecipient {
                default: Reading::After(SignedDuration::from_mins(10)),
                by_org: HashMap::new(),
            },
            notifications: PerRecipient {
                default: Notifying::Delivered,
                by_org: HashMap::new(),
            },
            clock_start: None,
        }
    }
}

/// A message as the stand-in keeps it; its fate is worked out from the clock when asked.
#[derive(Clone, Debug)]
struct Sent {
    id: String,
    resource: String,
    sender: OrgNumber,
    /// `urn:altinn:organization:identifier-no:…` or `urn:altinn:person:identifier-no:…`.
    recipient: String,
    recipient_org: Option<OrgNumber>,
    senders_reference: String,
    requested: Timestamp,
    created: Timestamp,
    due: Option<Timestamp>,
    confirmation_needed: bool,
    notify: bool,
    reading: Reading,
    notifying: Notifying,
}

/// The stand-in's Correspondence: the clock, the behaviours and the messages.
#[derive(Debug)]
pub(crate) struct Mailroom {
    opts: CorrespondenceOptions,
    offset_us: AtomicI64,
    serial: AtomicU64,
    seed: u64,
    /// Resource → its owner's organisation number, from the snapshot's `resource.json`.
    owners: HashMap<String, OrgNumber>,
    sent: std::sync::Mutex<Vec<Sent>>,
    index: std::sync::Mutex<HashMap<String, usize>>,
}

impl Mailroom {
    /// A mailroom for `opts`; `files` are the snapshot's (for the resources' owners).
    pub(crate) fn new(
        opts: CorrespondenceOptions,
        seed: u64,
        files: &HashMap<String, Vec<u8>>,
    ) -> Mailroom {
        let mut owners = HashMap::new();
        for (rel, bytes) in files {
            let Some(id) = rel
                .strip_prefix("resourceregistry/")
                .and_then(|r| r.strip_suffix("/resource.json"))
            else {
                continue;
            };
            let owner = serde_json::from_slice::<Value>(bytes)
                .ok()
                .and_then(|v| {
                    v["hasCompetentAuthority"]["organization"]
                        .as_str()
                        .map(str::to_owned)
                })
                .and_then(|o| OrgNumber::parse(&o).ok());
            if let Some(o) = owner {
                owners.insert(id.to_owned(), o);
            }
        }
        let offset = opts.clock_start.map_or(0, |t| {
            t.as_microsecond() - Timestamp::now().as_microsecond()
        });
        Mailroom {
            opts,
            offset_us: AtomicI64::new(offset),
            serial: AtomicU64::new(1),
            seed,
            owners,
            sent: std::sync::Mutex::default(),
            index: std::sync::Mutex::default(),
        }
    }

    /// The organisation that owns `resource` in the resource registry, if recorded.
    pub(crate) fn owner_of(&self, resource: &str) -> Option<OrgNumber> {
        self.owners.get(resource).copied()
    }

    /// The stand-in's time.
    pub(crate) fn now(&self) -> Timestamp {
        let us = Timestamp::now().as_microsecond() + self.offset_us.load(Ordering::Relaxed);
        Timestamp::from_microsecond(us).unwrap_or(Timestamp::MAX)
    }

    /// A fresh correspondence id (a UUID, version 7 layout, unique in this run).
    fn next_id(&self) -> String {
        let n = self.serial.fetch_add(1, Ordering::Relaxed);
        let mut h = DefaultHasher::new();
        (self.seed, n, "correspondence").hash(&mut h);
        let r = h.finish();
        let ms = (self.now().as_millisecond().max(0) as u64) & 0xffff_ffff_ffff;
        format!(
            "{:08x}-{:04x}-7{:03x}-{:04x}-{:012x}",
            ms >> 16,
            ms & 0xffff,
            (r >> 52) & 0xfff,
            0x8000 | ((r >> 36) & 0x3fff),
            (n & 0xffff_ffff_ffff) ^ ((r & 0xffff) << 32)
        )
    }
}

/// A problem as Correspondence answers it (`ProblemDetailsHelper`).
fn problem(status: StatusCode, code: u32, detail: &str) -> Response {
    (
        status,
        Json(json!({
            "type": match status.as_u16() {
                400 => "https://tools.ietf.org/html/rfc9110#section-15.5.1",
                401 => "https://tools.ietf.org/html/rfc9110#section-15.5.2",
                _ => "https://tools.ietf.org/html/rfc9110#section-15.5.5",
            },
            "title": status.canonical_reason().unwrap_or(""),
            "status": status.as_u16(),
            "detail": detail,
            "code": format!("CORR-{code:05}"),
            "errorCode": code,
        })),
    )
        .into_response()
}

const NO_ACCESS: &str = "You must use an Altinn token, DialogToken or log in to IDPorten as someone with access to the resource and organization in Altinn Authorization";

/// What a request proved about its caller.
struct Caller {
    org: OrgNumber,
    sender: bool,
}

/// Checks the subscription key, the token and its scopes; the caller, or the refusal.
fn authenticate(sim: &Sim, headers: &HeaderMap, need_write: bool) -> Result<Caller, Box<Response>> {
    let m = &sim.mailroom;
    if let Some(refusal) = m
        .opts
        .subscription_key
        .as_deref()
        .and_then(|key| crate::server::apim_refusal(key, headers))
    {
        return Err(Box::new(refusal));
    }
    let unauthorized = || {
        Box::new(
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "",
            )
                .into_response(),
        )
    };
    let Some(token) = bearer(headers) else {
        return Err(unauthorized());
    };
    if !lock(&sim.altinn_tokens).contains(token) {
        return Err(unauthorized());
    }
    let scope = lock(&sim.token_scopes)
        .get(token)
        .cloned()
        .unwrap_or_default();
    let has = |s: &str| scope.split_whitespace().any(|x| x == s);
    let sender = has(WRITE);
    if !sender && (need_write || !has(READ)) {
        return Err(Box::new((StatusCode::FORBIDDEN, "").into_response()));
    }
    let Some(org) = m.opts.client_org else {
        return Err(Box::new(problem(
            StatusCode::UNAUTHORIZED,
            4006,
            "Could not determine caller",
        )));
    };
    Ok(Caller { org, sender })
}

/// The organisation number in `0192:N`, `urn:…:identifier-no:N` or `N`.
fn org_of(s: &str) -> Option<OrgNumber> {
    let tail = s.rsplit(':').next()?;
    (tail.len() == 9).then(|| OrgNumber::parse(tail).ok())?
}

fn is_identity_number(s: &str) -> bool {
    reachcheck::model::is_identity_number(s)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawPublish {
    correspondence: RawCorrespondence,
    #[serde(default)]
    recipients: Vec<String>,
    /// `/_sim/correspondence` only: publish as this sender.
    #[serde(default)]
    sender: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCorrespondence {
    resource_id: String,
    #[serde(default)]
    senders_reference: Option<String>,
    #[serde(default)]
    requested_publish_time: Option<String>,
    #[serde(default)]
    due_date_time: Option<String>,
    #[serde(default)]
    is_confirmation_needed: bool,
    #[serde(default)]
    notification: Option<Value>,
}

/// An optional time in a request.
fn time(v: &Option<String>) -> Result<Option<Timestamp>, ()> {
    v.as_deref()
        .map(|s| s.parse::<Timestamp>().map_err(|_| ()))
        .transpose()
}

fn bad_request(detail: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({
            "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
            "title": "One or more validation errors occurred.",
            "status": 400,
            "errors": {"": [detail]},
        })),
    )
        .into_response()
}

/// Publishes `body` as `sender`; `checked` refuses a sender that does not own the resource
/// (the real endpoint), test set-up does not.
fn publish_as(sim: &Sim, sender: OrgNumber, body: &Bytes, checked: bool) -> Response {
    let m = &sim.mailroom;
    let raw: RawPublish = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(_) => return bad_request("The request body is not a valid correspondence"),
    };
    if raw.recipients.is_empty() {
        return bad_request("Recipients can not be empty");
    }
    if raw.recipients.len() > MAX_RECIPIENTS {
        return bad_request("Recipients can contain at most 500 recipients");
    }
    let mut recipients = Vec::new();
    for r in &raw.recipients {
        let r = r.trim();
        let person = r.strip_prefix(PERSON_URN).unwrap_or(r);
        if (r.starts_with(ORG_URN) || r.starts_with("0192:")) && org_of(r).is_some() {
            let org = org_of(r);
            recipients.push((
                org.map(|o| format!("{ORG_URN}{o}")).unwrap_or_default(),
                org,
            ));
        } else if is_identity_number(person) {
            recipients.push((format!("{PERSON_URN}{person}"), None));
        } else {
            return bad_request(
                "Recipient should be an organization number in the format 'urn:altinn:organization:identifier-no:organizationnumber' or the format countrycode:organizationnumber, for instance 0192:910753614, a national identity number, an idporten email URN in the format 'urn:altinn:person:idporten-email:email', or a legacy selfidentified URN in the format 'urn:altinn:person:legacy-selfidentified:username'",
            );
        }
    }
    let mut seen = std::collections::HashSet::new();
    if !recipients.iter().all(|(r, _)| seen.insert(r.clone())) {
        return problem(StatusCode::BAD_REQUEST, 1006, "Recipients must be unique");
    }
    let c = raw.correspondence;
    match m.owners.get(&c.resource_id) {
        None => {
            return problem(
                StatusCode::BAD_REQUEST,
                1036,
                "ResourceId must match an existing resource in the resource registry",
            );
        }
        Some(owner) if checked && *owner != sender => {
            return problem(StatusCode::UNAUTHORIZED, 4001, NO_ACCESS);
        }
        Some(_) => {}
    }
    let now = m.now();
    // One instant for every recipient of the request, as Correspondence sets it.
    let (Ok(requested), Ok(due)) = (time(&c.requested_publish_time), time(&c.due_date_time)) else {
        return bad_request("The date is not a valid date and time");
    };
    let requested = requested.unwrap_or(now);
    let mut out = Vec::new();
    {
        let mut sent = lock(&m.sent);
        let mut index = lock(&m.index);
        for (recipient, org) in recipients {
            let id = m.next_id();
            index.insert(id.clone(), sent.len());
            sent.push(Sent {
                id: id.clone(),
                resource: c.resource_id.clone(),
                sender,
                recipient: recipient.clone(),
                recipient_org: org,
                senders_reference: c.senders_reference.clone().unwrap_or_default(),
                requested,
                created: now,
                due,
                confirmation_needed: c.is_confirmation_needed,
                notify: c.notification.is_some(),
                reading: m.opts.reading.of(org),
                notifying: m.opts.notifications.of(org),
            });
            let status = if requested <= now {
                "Published"
            } else {
                "ReadyForPublish"
            };
            out.push(json!({
                "correspondenceId": id, "status": status, "recipient": recipient,
                "notifications": if c.notification.is_some() {
                    json!([{"orderId": null, "isReminder": false, "status": "Success"}])
                } else { json!([]) }
            }));
        }
    }
    Json(json!({"correspondences": out, "attachmentIds": []})).into_response()
}

/// `POST /correspondence/api/v1/correspondence`: initialise and publish.
pub(crate) async fn publish(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match authenticate(&sim, &headers, true) {
        Ok(c) => publish_as(&sim, c.org, &body, true),
        Err(r) => *r,
    }
}

/// `POST /_sim/correspondence`: publish as the `sender` in the body, without a token and
/// whoever owns the resource (test set-up: another sender's messages).
pub(crate) async fn sim_publish(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let sender = serde_json::from_slice::<RawPublish>(&body)
        .ok()
        .and_then(|r| r.sender)
        .and_then(|s| OrgNumber::parse(&s).ok())
        .or(sim.mailroom.opts.client_org);
    match sender {
        Some(s) => publish_as(&sim, s, &body, false),
        None => bad_request("`sender` is required (or start the stand-in with --client-org)"),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListQuery {
    resource_id: Option<String>,
    role: Option<String>,
    from: Option<String>,
    to: Option<String>,
    on_behalf_of: Option<String>,
    status: Option<String>,
}

/// `GET /correspondence/api/v1/correspondence`.
pub(crate) async fn list(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    let caller = match authenticate(&sim, &headers, false) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let m = &sim.mailroom;
    let Some(resource) = q.resource_id.filter(|r| !r.trim().is_empty()) else {
        return bad_request("The resourceId field is required.");
    };
    match q.role.as_deref() {
        Some("Sender" | "Recipient" | "RecipientAndSender") => {}
        _ => return bad_request("The role field is required."),
    }
    let (Ok(from), Ok(to)) = (time(&q.from), time(&q.to)) else {
        return bad_request("The value is not valid for a date and time.");
    };
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return problem(
            StatusCode::BAD_REQUEST,
            1027,
            "From date cannot be after to date",
        );
    }
    let on_behalf_of = match q.on_behalf_of.as_deref() {
        None => caller.org,
        Some(o) => match org_of(o) {
            Some(o) => o,
            None => return problem(StatusCode::UNAUTHORIZED, 4001, NO_ACCESS),
        },
    };
    // A sender lists for itself, and only a resource it owns.
    if on_behalf_of != caller.org || !caller.sender || m.owners.get(&resource) != Some(&caller.org)
    {
        return problem(StatusCode::UNAUTHORIZED, 4001, NO_ACCESS);
    }
    let now = m.now();
    let sent = lock(&m.sent);
    let mut hits: Vec<&Sent> = sent
        .iter()
        .filter(|s| s.resource == resource && s.sender == on_behalf_of)
        .filter(|s| from.is_none_or(|f| s.requested > f) && to.is_none_or(|t| s.requested < t))
        .filter(|s| match q.status.as_deref() {
            None => true,
            Some(st) => history(s, now).iter().any(|(name, _)| *name == st),
        })
        .collect();
    // Newest first; the order within one instant is the database's (here: insertion).
    hits.sort_by_key(|s| std::cmp::Reverse(s.requested));
    let ids: Vec<&str> = hits.iter().take(LIST_CAP).map(|s| s.id.as_str()).collect();
    Json(json!({ "ids": ids })).into_response()
}

/// When each thing happened to `s`, as far as `now`.
fn fate(s: &Sent, now: Timestamp) -> Fate {
    let published = s.requested.max(s.created);
    let published = (published <= now).then_some(published);
    let read = match (published, s.reading) {
        (Some(p), Reading::After(d)) => p.checked_add(d).ok().filter(|r| *r <= now),
        _ => None,
    };
    let confirmed = read
        .filter(|_| s.confirmation_needed)
        .and_then(|r| r.checked_add(SignedDuration::from_mins(1)).ok())
        .filter(|c| *c <= now);
    let notified = published
        .filter(|_| s.notify)
        .and_then(|p| p.checked_add(SignedDuration::from_mins(1)).ok());
    Fate {
        published,
        read,
        confirmed,
        notified,
    }
}

struct Fate {
    published: Option<Timestamp>,
    read: Option<Timestamp>,
    confirmed: Option<Timestamp>,
    notified: Option<Timestamp>,
}

/// The status history a sender sees, oldest first.
fn history(s: &Sent, now: Timestamp) -> Vec<(&'static str, Timestamp)> {
    let f = fate(s, now);
    let mut h = vec![("Initialized", s.created), ("ReadyForPublish", s.created)];
    if let Some(p) = f.published {
        h.push(("Published", p));
    }
    if let Some(r) = f.read {
        h.push(("Read", r));
    }
    if let Some(c) = f.confirmed {
        h.push(("Confirmed", c));
    }
    h
}

/// Something that happened to a message, as Correspondence publishes it to Altinn Events
/// (API-NOTES-2026 §4.4).
#[derive(Clone, Debug)]
pub(crate) struct Happening {
    /// The correspondence.
    pub(crate) id: String,
    /// Its resource.
    pub(crate) resource: String,
    /// The type suffix, e.g. `correspondencereceiverread`.
    pub(crate) kind: &'static str,
    /// The party the event names as subject: the recipient or the sender.
    pub(crate) subject: String,
    /// When it happened.
    pub(crate) at: Timestamp,
}

impl Mailroom {
    /// Everything that has happened to every message up to `now` and was not in `done`
    /// (`(id, kind)` pairs, extended with what is returned).
    pub(crate) fn happenings(
        &self,
        now: Timestamp,
        done: &mut std::collections::HashSet<(String, &'static str)>,
    ) -> Vec<Happening> {
        let sent = lock(&self.sent);
        let mut out = Vec::new();
        for s in sent.iter() {
            let f = fate(s, now);
            let sender = format!("{ORG_URN}{}", s.sender);
            let mut add = |kind: &'static str, at: Option<Timestamp>, to_recipient: bool| {
                let Some(at) = at.filter(|t| *t <= now) else {
                    return;
                };
                if done.insert((s.id.clone(), kind)) {
                    out.push(Happening {
                        id: s.id.clone(),
                        resource: s.resource.clone(),
                        kind,
                        subject: if to_recipient {
                            s.recipient.clone()
                        } else {
                            sender.clone()
                        },
                        at,
                    });
                }
            };
            add("correspondencepublished", f.published, true);
            add("correspondencereceiverread", f.read, false);
            add("correspondencereceiverconfirmed", f.confirmed, false);
            let due = s.due.filter(|_| f.published.is_some());
            add(
                "correspondencereceiverneverread",
                due.filter(|d| f.read.is_none_or(|r| r > *d)),
                true,
            );
            add(
                "correspondencereceiverneverconfirmed",
                due.filter(|d| s.confirmation_needed && f.confirmed.is_none_or(|c| c > *d)),
                true,
            );
            match s.notifying {
                Notifying::Delivered => {
                    add("correspondencenotificationdelivered", f.notified, false);
                }
                Notifying::Failed => {
                    add("correspondencenotificationfailed", f.notified, false);
                }
            }
        }
        out
    }
}

/// As .NET writes a `DateTimeOffset`.
pub(crate) fn dto(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.f+00:00").to_string()
}

/// `GET /correspondence/api/v1/correspondence/{id}/details`.
pub(crate) async fn details(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let caller = match authenticate(&sim, &headers, false) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let m = &sim.mailroom;
    let now = m.now();
    let s = {
        let index = lock(&m.index);
        let sent = lock(&m.sent);
        match index
            .get(&id.to_ascii_lowercase())
            .and_then(|i| sent.get(*i))
        {
            Some(s) => s.clone(),
            None => {
                return problem(
                    StatusCode::NOT_FOUND,
                    1001,
                    "The requested correspondence was not found",
                );
            }
        }
    };
    if !caller.sender || s.sender != caller.org {
        return problem(StatusCode::UNAUTHORIZED, 4001, NO_ACCESS);
    }
    let f = fate(&s, now);
    let h = history(&s, now);
    let (status, changed) = h.last().copied().unwrap_or(("Initialized", s.created));
    let notifications: Vec<Value> = match f.notified {
        None if s.notify => vec![notification(&s, "Email_New", s.created, false)],
        None => Vec::new(),
        Some(at) if at > now => vec![notification(&s, "Email_Sending", now, false)],
        Some(at) => vec![match s.notifying {
            Notifying::Delivered => notification(&s, "Email_Delivered", at, true),
            Notifying::Failed => notification(&s, "Email_Failed_Bounced", at, false),
        }],
    };
    let statuses: Vec<Value> = h
        .iter()
        .map(|(st, at)| json!({"status": st, "statusText": st, "statusChanged": dto(*at)}))
        .collect();
    let sender_urn = format!("{ORG_URN}{}", s.sender);
    let mut body = json!({
        "recipient": s.recipient,
        "correspondenceId": s.id,
        "content": null,
        "created": dto(s.created),
        "status": status,
        "statusText": status,
        "statusChanged": dto(changed),
        "resourceId": s.resource,
        "sender": sender_urn,
        "sendersReference": s.senders_reference,
        "messageSender": null,
        "requestedPublishTime": dto(s.requested),
        "dueDateTime": s.due.map(dto),
        "externalReferences": [],
        "propertyList": {},
        "replyOptions": [],
        "notification": null,
        "ignoreReservation": null,
        "isConfirmationNeeded": s.confirmation_needed,
        "isConfidential": false,
        "allowForwarding": false,
        "altinn2CorrespondenceId": null,
        "published": f.published.map(dto),
        "read": f.read.map(dto),
        "systemLabel": null
    });
    body["statusHistory"] = Value::Array(statuses);
    body["notifications"] = Value::Array(notifications);
    Json(body).into_response()
}

fn notification(s: &Sent, status: &str, at: Timestamp, succeeded: bool) -> Value {
    let org = s.recipient_org.map(|o| o.to_string());
    let item = json!({
        "id": null,
        "succeeded": succeeded,
        "recipient": {
            "emailAddress": org.as_ref().map(|o| format!("post@{o}.example.no")),
            "mobileNumber": null,
            "organizationNumber": org,
            "nationalIdentityNumber": null,
            "isReserved": false
        },
        "sendStatus": {"status": status, "description": null, "lastUpdate": dto(at)}
    });
    json!({
        "id": format!("{}-n", s.id),
        "sendersReference": null,
        "creator": "altinn-sim",
        "created": dto(s.created),
        "isReminder": false,
        "notificationChannel": "Email",
        "ignoreReservation": null,
        "resourceId": null,
        "processingStatus": {"status": "Processed", "description": null, "lastUpdate": dto(at)},
        "notificationStatusDetails": {"email": null, "sms": null, "emails": [item], "smses": []}
    })
}

#[derive(Deserialize)]
pub(crate) struct ClockChange {
    advance: Option<String>,
    set: Option<String>,
}

/// `GET /_sim/clock`: `{"now": RFC 3339}`.
pub(crate) async fn clock(State(sim): State<Arc<Sim>>) -> Response {
    Json(json!({"now": sim.mailroom.now().to_string()})).into_response()
}

/// `POST /_sim/clock` with `{"advance": "25h"}` or `{"set": "<RFC 3339>"}`: moves the
/// stand-in's time (never backwards).
pub(crate) async fn set_clock(State(sim): State<Arc<Sim>>, Json(c): Json<ClockChange>) -> Response {
    let m = &sim.mailroom;
    let now = m.now();
    let target = match (c.advance.as_deref(), c.set.as_deref()) {
        (Some(a), None) => match humantime::parse_duration(a) {
            Ok(d) => now
                .checked_add(SignedDuration::try_from(d).unwrap_or(SignedDuration::ZERO))
                .unwrap_or(now),
            Err(e) => return bad_request(&format!("`advance`: {e}")),
        },
        (None, Some(s)) => match s.parse::<Timestamp>() {
            Ok(t) => t,
            Err(_) => return bad_request("`set`: not an RFC 3339 time"),
        },
        _ => return bad_request("give exactly one of `advance` (a duration) and `set` (a time)"),
    };
    if target < now {
        return bad_request("the clock never goes backwards");
    }
    m.offset_us.fetch_add(
        target.as_microsecond() - now.as_microsecond(),
        Ordering::Relaxed,
    );
    Json(json!({"now": m.now().to_string()})).into_response()
}
