//! The webhook Altinn Events pushes to (`events.path` in the daemon's HTTP server).
//!
//! A push carries no authentication (API-NOTES-2026 §4.3), so nothing in it is believed:
//! the webhook answers the subscription handshake, refuses what is malformed or too large
//! (400, naming the field) and what comes too fast (429, so Altinn retries later), ignores
//! event types it did not subscribe to and resources it does not track (2xx, counted),
//! forgets an event id it has seen, and queues the rest as [`Arrival`]s: hints for the
//! daemon to fetch that message's details again with the sender's own token. Only the
//! re-fetch changes anything, so a forged event costs one request and changes nothing.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rustc_hash::FxHashSet;
use tokio::sync::mpsc;

use super::cloudevent::{Hint, Pushed, parse};
use super::metrics::reason;
use super::settings::EventSettings;
use crate::daemon::Shared;

/// Hints waiting for the daemon; beyond this the webhook answers 503 and Altinn retries.
pub const QUEUE: usize = 16_384;

/// A hint and when it arrived.
#[derive(Clone, Debug)]
pub struct Arrival {
    /// What the event said.
    pub hint: Hint,
    /// When the push reached the webhook.
    pub at: Instant,
}

/// Event ids seen, the oldest forgotten first.
#[derive(Debug, Default)]
struct Seen {
    ids: FxHashSet<String>,
    order: VecDeque<String>,
    cap: usize,
}

impl Seen {
    /// Whether `id` is new; remembers it.
    fn insert(&mut self, id: &str) -> bool {
        if self.ids.contains(id) {
            return false;
        }
        if self.order.len() >= self.cap
            && let Some(old) = self.order.pop_front()
        {
            self.ids.remove(&old);
        }
        self.ids.insert(id.to_owned());
        self.order.push_back(id.to_owned());
        true
    }

    fn forget(&mut self, id: &str) {
        if self.ids.remove(id) {
            self.order.retain(|x| x != id);
        }
    }
}

/// The webhook's side of the queue to the daemon, its memory of event ids and its rate.
pub struct Inbox {
    tx: mpsc::Sender<Arrival>,
    seen: Mutex<Seen>,
    limiter: DefaultDirectRateLimiter,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Inbox")
    }
}

impl Inbox {
    /// An inbox for `settings`, and the daemon's end of its queue.
    pub fn new(settings: &EventSettings) -> (Inbox, mpsc::Receiver<Arrival>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let quota = Quota::per_second(settings.rate_per_second).allow_burst(settings.burst);
        (
            Inbox {
                tx,
                seen: Mutex::new(Seen {
                    cap: settings.remember.max(1),
                    ..Seen::default()
                }),
                limiter: RateLimiter::direct(quota),
            },
            rx,
        )
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The webhook's route, when `[events]` is enabled (else none).
pub fn routes(shared: &Arc<Shared>) -> Router<Arc<Shared>> {
    let inputs = shared.inputs.load();
    let s = &inputs.settings.events;
    if !s.enabled {
        return Router::new();
    }
    Router::new().route(&s.path, post(receive))
}

fn refuse(status: StatusCode, field: Option<&str>, error: String) -> Response {
    let mut body = serde_json::json!({ "error": error });
    if let Some(f) = field {
        body["field"] = serde_json::Value::from(f);
    }
    (status, axum::Json(body)).into_response()
}

fn ok(what: &str) -> Response {
    (
        StatusCode::OK,
        axum::Json(serde_json::json!({ "result": what })),
    )
        .into_response()
}

async fn receive(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let at = Instant::now();
    let m = &shared.metrics.events;
    m.received.inc();
    if shared.inbox.limiter.check().is_err() {
        m.refused.get_or_create(&reason("rate_limited")).inc();
        let mut r = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            "too many events: `events.rate_per_second` is reached; try again".to_owned(),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    }
    let inputs = shared.inputs.load();
    let max = inputs.settings.events.max_body_bytes;
    let oversized = || {
        m.refused.get_or_create(&reason("oversized")).inc();
        refuse(
            StatusCode::BAD_REQUEST,
            Some("body"),
            format!("the event is larger than `events.max_body_bytes` ({max} bytes)"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return oversized();
    }
    let Ok(body) = axum::body::to_bytes(req.into_body(), max).await else {
        return oversized();
    };
    let hint = match parse(&body) {
        Err(e) => {
            m.refused.get_or_create(&reason("malformed")).inc();
            tracing::warn!(field = e.field(), error = %e, "a pushed event was refused");
            return refuse(
                StatusCode::BAD_REQUEST,
                Some(e.field()),
                format!("not a usable CloudEvent: {e}"),
            );
        }
        Ok(Pushed::Validation { .. }) => {
            m.validations.inc();
            tracing::info!("Altinn Events validated a subscription to this webhook");
            return ok("validated");
        }
        Ok(Pushed::Other { .. }) => {
            m.ignored.get_or_create(&reason("unsubscribed_type")).inc();
            return ok("ignored: not a Correspondence event");
        }
        Ok(Pushed::Correspondence(h)) => h,
    };
    if !inputs.settings.events.types.contains(&hint.kind) {
        m.ignored.get_or_create(&reason("unsubscribed_type")).inc();
        return ok("ignored: an event type not subscribed to");
    }
    if inputs.route_map.message_type(&hint.resource).is_none() {
        m.ignored.get_or_create(&reason("unknown_resource")).inc();
        tracing::debug!(resource = %hint.resource, "an event about a resource not tracked");
        return ok("ignored: a resource not tracked");
    }
    drop(inputs);
    if !shared.inbox.seen().insert(&hint.id) {
        m.duplicates.inc();
        return ok("duplicate");
    }
    let id = hint.id.clone();
    match shared.inbox.tx.try_send(Arrival { hint, at }) {
        Ok(()) => {
            m.accepted.inc();
            ok("accepted")
        }
        Err(e) => {
            // Not taken: let Altinn's retry bring it again.
            shared.inbox.seen().forget(&id);
            m.refused.get_or_create(&reason("busy")).inc();
            let why = match e {
                mpsc::error::TrySendError::Full(_) => "the daemon is busy: try again",
                mpsc::error::TrySendError::Closed(_) => "the daemon is stopping: try again",
            };
            refuse(StatusCode::SERVICE_UNAVAILABLE, None, why.to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_remembered_up_to_the_cap_oldest_forgotten_first() {
        let mut s = Seen {
            cap: 2,
            ..Seen::default()
        };
        assert!(s.insert("a"));
        assert!(!s.insert("a"));
        assert!(s.insert("b"));
        assert!(s.insert("c"));
        assert!(s.insert("a"), "the oldest was forgotten");
        assert!(!s.insert("c"));
        s.forget("c");
        assert!(s.insert("c"));
    }
}
