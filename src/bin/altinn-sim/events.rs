//! Altinn Events for a sender (API-NOTES-2026 §4): subscriptions
//! (`/events/api/v1/subscriptions`), the validation handshake, and pushes of what happens
//! to Correspondence messages, with the real retry schedule on the stand-in's clock.
//!
//! It refuses what Events refuses: no token or an unknown one (401), a token without
//! `altinn:events.subscribe` (403), a missing `resourceFilter`, a `sourceFilter` or an
//! `alternativeSubjectFilter` (400, Altinn's messages), a resource the caller does not own
//! (401, Altinn's message), an endpoint that is not an absolute `https://` URL (400; plain
//! `http://` only with `--allow-http-webhooks`, the stand-in's one documented relaxation).
//! It is stricter than Altinn in one place: a `typeFilter` naming more than one type (a
//! list, or a comma-separated string) is refused (400), since Altinn matches it as one
//! exact type and would silently push nothing.
//!
//! Only a validated subscription receives events, and only events that happen after it
//! was created. A push is `POST <endPoint>` with the CloudEvent as `application/json` and no
//! authentication; a non-2xx answer or no answer is retried after 10 s, 30 s, 1 m, 5 m,
//! 10 m, 30 m, 1 h, 3 h, 6 h, 12 h and 12 h on the stand-in's clock (so tests move the clock
//! to let a retry happen), then the event goes to the dead-letter queue. `GET /_sim/events`
//! lists every delivery with its attempts and wall-clock times, for tests and benchmarks.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use serde_json::{Map, Value, json};

use reachcheck::model::OrgNumber;

use crate::grant::bearer;
use crate::server::{Sim, lock};

/// The scope the subscriptions API needs.
const SUBSCRIBE: &str = "altinn:events.subscribe";
const RESOURCE_URN: &str = "urn:altinn:resource:";
const TYPE_PREFIX: &str = "no.altinn.correspondence.";
const VALIDATION: &str = "platform.events.validatesubscription";
/// Waits after each failed push (`OutboundQueuePolicy`): 12 attempts in all.
const RETRIES: [SignedDuration; 11] = [
    SignedDuration::from_secs(10),
    SignedDuration::from_secs(30),
    SignedDuration::from_mins(1),
    SignedDuration::from_mins(5),
    SignedDuration::from_mins(10),
    SignedDuration::from_mins(30),
    SignedDuration::from_hours(1),
    SignedDuration::from_hours(3),
    SignedDuration::from_hours(6),
    SignedDuration::from_hours(12),
    SignedDuration::from_hours(12),
];
/// How often the stand-in looks for what happened and what is due (real time).
const TICK: Duration = Duration::from_millis(10);

#[derive(Clone, Debug)]
struct Sub {
    id: i64,
    end_point: String,
    resource_filter: String,
    type_filter: Option<String>,
    subject_filter: Option<String>,
    consumer: String,
    created: Timestamp,
    validated: bool,
}

impl Sub {
    fn json(&self) -> Value {
        json!({
            "id": self.id, "endPoint": self.end_point, "sourceFilter": null,
            "resourceFilter": self.resource_filter, "subjectFilter": self.subject_filter,
            "alternativeSubjectFilter": null, "typeFilter": self.type_filter,
            "consumer": self.consumer, "createdBy": self.consumer,
            "created": self.created.to_string(), "validated": self.validated,
            "includeSubunits": false
        })
    }
}

#[derive(Clone, Debug)]
struct Delivery {
    sub: i64,
    endpoint: String,
    body: Value,
    attempt: usize,
    due: Timestamp,
    validation: bool,
    log: usize,
}

/// One delivery as `GET /_sim/events` shows it.
#[derive(Clone, Debug, Serialize)]
struct Logged {
    event_id: String,
    #[serde(rename = "type")]
    kind: String,
    resourceinstance: Option<String>,
    subscription: i64,
    endpoint: String,
    attempts: usize,
    /// `pending`, `delivered` or `dead_letter`.
    status: &'static str,
    last_status: Option<u16>,
    /// Wall-clock time of the first attempt, microseconds since the epoch.
    first_sent_us: Option<i64>,
    /// Wall-clock time the delivery was answered 2xx.
    delivered_us: Option<i64>,
}

/// Subscriptions, pending pushes and what was pushed.
#[derive(Debug)]
pub(crate) struct Hub {
    allow_http: bool,
    next_id: AtomicI64,
    serial: AtomicU64,
    subs: std::sync::Mutex<Vec<Sub>>,
    queue: std::sync::Mutex<Vec<Delivery>>,
    log: std::sync::Mutex<Vec<Logged>>,
    done: std::sync::Mutex<HashSet<(String, &'static str)>>,
    client: reqwest::Client,
}

impl Hub {
    /// A hub; `allow_http` lets subscriptions name a plain `http://` endpoint.
    pub(crate) fn new(allow_http: bool) -> Hub {
        Hub {
            allow_http,
            next_id: AtomicI64::new(1),
            serial: AtomicU64::new(1),
            subs: std::sync::Mutex::default(),
            queue: std::sync::Mutex::default(),
            log: std::sync::Mutex::default(),
            done: std::sync::Mutex::default(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(45))
                .build()
                .unwrap_or_default(),
        }
    }

    fn uuid(&self, what: &str) -> String {
        let n = self.serial.fetch_add(1, Ordering::Relaxed);
        let mut h = DefaultHasher::new();
        (n, what).hash(&mut h);
        let r = h.finish();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            (r >> 32) as u32,
            (r >> 16) & 0xffff,
            r & 0xfff,
            0x8000 | ((n >> 48) & 0x3fff),
            n & 0xffff_ffff_ffff
        )
    }

    fn enqueue(&self, sub: &Sub, body: Value, due: Timestamp, validation: bool) {
        let mut log = lock(&self.log);
        log.push(Logged {
            event_id: body["id"].as_str().unwrap_or_default().to_owned(),
            kind: body["type"].as_str().unwrap_or_default().to_owned(),
            resourceinstance: body["resourceinstance"].as_str().map(str::to_owned),
            subscription: sub.id,
            endpoint: sub.end_point.clone(),
            attempts: 0,
            status: "pending",
            last_status: None,
            first_sent_us: None,
            delivered_us: None,
        });
        let at = log.len() - 1;
        drop(log);
        lock(&self.queue).push(Delivery {
            sub: sub.id,
            endpoint: sub.end_point.clone(),
            body,
            attempt: 0,
            due,
            validation,
            log: at,
        });
    }
}

/// The caller's organisation, or Events' refusal.
fn authenticate(sim: &Sim, headers: &HeaderMap) -> Result<OrgNumber, Box<Response>> {
    if let Some(refusal) = sim
        .opts
        .correspondence
        .subscription_key
        .as_deref()
        .and_then(|key| crate::server::apim_refusal(key, headers))
    {
        return Err(Box::new(refusal));
    }
    let Some(token) = bearer(headers).filter(|t| lock(&sim.altinn_tokens).contains(*t)) else {
        return Err(Box::new((StatusCode::UNAUTHORIZED, "").into_response()));
    };
    let scope = lock(&sim.token_scopes)
        .get(token)
        .cloned()
        .unwrap_or_default();
    if !scope.split_whitespace().any(|s| s == SUBSCRIBE) {
        return Err(Box::new((StatusCode::FORBIDDEN, "").into_response()));
    }
    sim.opts
        .correspondence
        .client_org
        .ok_or_else(|| Box::new((StatusCode::UNAUTHORIZED, "").into_response()))
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, message.to_owned()).into_response()
}

fn consumer_of(org: OrgNumber) -> String {
    format!("/organisation/{org}")
}

/// `POST /events/api/v1/subscriptions`.
pub(crate) async fn create(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let org = match authenticate(&sim, &headers) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    // Property names are bound case-insensitively.
    let Ok(Value::Object(raw)) = serde_json::from_slice::<Value>(&body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "The request body is not a subscription.",
        );
    };
    let o: Map<String, Value> = raw
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    let string = |k: &'static str| -> Result<Option<String>, &'static str> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(k),
        }
    };
    let fields = (|| {
        Ok::<_, &'static str>((
            string("endpoint")?,
            string("resourcefilter")?,
            string("typefilter")?,
            string("subjectfilter")?,
            string("alternativesubjectfilter")?,
            string("sourcefilter")?,
        ))
    })();
    let (endpoint, resource_filter, type_filter, subject_filter, alternative, source) = match fields
    {
        Ok(f) => f,
        Err(k) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("The JSON value of `{k}` could not be converted to System.String."),
            );
        }
    };
    let endpoint = match endpoint.as_deref().map(reqwest::Url::parse) {
        Some(Ok(u)) if u.scheme() == "https" || (u.scheme() == "http" && sim.hub.allow_http) => u,
        Some(Ok(u)) if u.scheme() == "http" => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "Endpoint must use https. (altinn-sim: start it with --allow-http-webhooks to push to a local plain-http webhook)",
            );
        }
        _ => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "Missing or invalid endpoint to push events towards.",
            );
        }
    };
    let Some(resource_filter) = resource_filter.filter(|r| !r.is_empty()) else {
        return refuse(StatusCode::BAD_REQUEST, "Resource filter is required.");
    };
    if source.is_some() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "Source filter is not supported for subscriptions on this resource.",
        );
    }
    if alternative.is_some_and(|a| !a.is_empty()) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "AlternativeSubject is not supported for subscriptions on this resource.",
        );
    }
    if o.get("includesubunits").and_then(Value::as_bool) == Some(true) && subject_filter.is_none() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "Subject filter is required when including subunits.",
        );
    }
    if type_filter
        .as_deref()
        .is_some_and(|t| t.contains(',') || t.trim().contains(char::is_whitespace))
    {
        return refuse(
            StatusCode::BAD_REQUEST,
            "typeFilter takes one exact event type: create one subscription per type (altinn-sim refuses a list, which Altinn would match against nothing)",
        );
    }
    let resource = resource_filter.strip_prefix(RESOURCE_URN).unwrap_or("");
    if sim.mailroom.owner_of(resource) != Some(org) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            &format!(
                "Not authorized to create a subscription for resource {resource_filter} and/ subject filter: {}.",
                subject_filter.as_deref().unwrap_or("")
            ),
        );
    }
    let consumer = consumer_of(org);
    let mut subs = lock(&sim.hub.subs);
    if let Some(same) = subs.iter().find(|s| {
        s.end_point == endpoint.as_str()
            && s.resource_filter == resource_filter
            && s.type_filter == type_filter
            && s.subject_filter == subject_filter
            && s.consumer == consumer
    }) {
        return (StatusCode::CREATED, Json(same.json())).into_response();
    }
    let sub = Sub {
        id: sim.hub.next_id.fetch_add(1, Ordering::Relaxed),
        end_point: endpoint.to_string(),
        resource_filter,
        type_filter,
        subject_filter,
        consumer,
        created: sim.mailroom.now(),
        validated: false,
    };
    subs.push(sub.clone());
    drop(subs);
    let validation = json!({
        "id": sim.hub.uuid("validation"),
        "source": format!("{}events/api/v1/subscriptions/{}", sim.issuer, sub.id),
        "type": VALIDATION,
        "specversion": "1.0"
    });
    sim.hub.enqueue(&sub, validation, sub.created, true);
    (StatusCode::CREATED, Json(sub.json())).into_response()
}

/// `GET /events/api/v1/subscriptions`: the caller's own.
pub(crate) async fn list(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    let org = match authenticate(&sim, &headers) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let consumer = consumer_of(org);
    let subs: Vec<Value> = lock(&sim.hub.subs)
        .iter()
        .filter(|s| s.consumer == consumer)
        .map(Sub::json)
        .collect();
    Json(json!({"count": subs.len(), "subscriptions": subs})).into_response()
}

/// `DELETE /events/api/v1/subscriptions/{id}`: only its creator may.
pub(crate) async fn delete(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let org = match authenticate(&sim, &headers) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let Ok(id) = id.parse::<i64>() else {
        return refuse(StatusCode::BAD_REQUEST, "The value is not valid.");
    };
    let mut subs = lock(&sim.hub.subs);
    match subs.iter().position(|s| s.id == id) {
        None => refuse(StatusCode::NOT_FOUND, "Subscription not found."),
        Some(i) if subs[i].consumer != consumer_of(org) => refuse(
            StatusCode::FORBIDDEN,
            "Not authorized to delete this subscription.",
        ),
        Some(i) => {
            subs.remove(i);
            drop(subs);
            lock(&sim.hub.queue).retain(|d| d.sub != id);
            StatusCode::OK.into_response()
        }
    }
}

/// `GET /_sim/events`: every delivery, oldest first.
pub(crate) async fn deliveries(State(sim): State<Arc<Sim>>) -> Response {
    Json(lock(&sim.hub.log).clone()).into_response()
}

/// Pushes what happens, forever: every [`TICK`], the events of what happened to messages
/// since the last look (to the validated subscriptions that match and were made before),
/// then every delivery that is due on the stand-in's clock.
pub(crate) async fn dispatch(sim: Arc<Sim>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let now = sim.mailroom.now();
        let subs: Vec<Sub> = lock(&sim.hub.subs).clone();
        if subs.is_empty() {
            continue;
        }
        let happened = {
            let mut done = lock(&sim.hub.done);
            sim.mailroom.happenings(now, &mut done)
        };
        for h in happened {
            let urn = format!("{RESOURCE_URN}{}", h.resource);
            let kind = format!("{TYPE_PREFIX}{}", h.kind);
            for s in subs.iter().filter(|s| {
                s.validated
                    && s.created <= h.at
                    && s.resource_filter == urn
                    && s.type_filter.as_ref().is_none_or(|t| *t == kind)
                    && s.subject_filter.as_ref().is_none_or(|x| *x == h.subject)
            }) {
                let mut event = json!({
                    "id": sim.hub.uuid(&h.id),
                    "specversion": "1.0",
                    "time": h.at.to_string(),
                    "resource": urn,
                    "resourceinstance": h.id,
                    "type": kind,
                    "source": format!("{}correspondence/api/v1/correspondence", sim.issuer),
                    "subject": h.subject,
                });
                if let Some(org) = h.subject.rsplit(':').next().filter(|o| o.len() == 9) {
                    event["alternativesubject"] = json!(format!("/organisation/{org}"));
                }
                sim.hub.enqueue(s, event, now, false);
            }
        }
        let due: Vec<Delivery> = {
            let mut q = lock(&sim.hub.queue);
            let (due, wait): (Vec<Delivery>, Vec<Delivery>) =
                q.drain(..).partition(|d| d.due <= now);
            *q = wait;
            due
        };
        for d in due {
            let sim = Arc::clone(&sim);
            tokio::spawn(async move { push(&sim, d).await });
        }
    }
}

/// One attempt at one delivery; a failure is queued again on the retry schedule.
async fn push(sim: &Sim, mut d: Delivery) {
    let sent = Timestamp::now().as_microsecond();
    let answer = sim
        .hub
        .client
        .post(&d.endpoint)
        .header("content-type", "application/json")
        .body(d.body.to_string())
        .send()
        .await;
    let status = answer.as_ref().ok().map(|r| r.status().as_u16());
    let ok = status.is_some_and(|s| (200..300).contains(&s));
    d.attempt += 1;
    {
        let mut log = lock(&sim.hub.log);
        if let Some(l) = log.get_mut(d.log) {
            l.attempts = d.attempt;
            l.last_status = status;
            l.first_sent_us.get_or_insert(sent);
            if ok {
                l.status = "delivered";
                l.delivered_us = Some(Timestamp::now().as_microsecond());
            } else if d.attempt > RETRIES.len() {
                l.status = "dead_letter";
            }
        }
    }
    if ok {
        if d.validation
            && let Some(s) = lock(&sim.hub.subs).iter_mut().find(|s| s.id == d.sub)
        {
            s.validated = true;
        }
        return;
    }
    let Some(wait) = RETRIES.get(d.attempt - 1) else {
        return; // the dead-letter queue
    };
    d.due = sim
        .mailroom
        .now()
        .checked_add(*wait)
        .unwrap_or(Timestamp::MAX);
    if lock(&sim.hub.subs).iter().any(|s| s.id == d.sub) {
        lock(&sim.hub.queue).push(d);
    }
}
