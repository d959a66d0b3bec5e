//! Webhook alerts: what an alert says ([`Alert`], one JSON message per alert) and how it
//! reaches the receiver ([`Notifier`]): an HTTPS `POST` with a timeout on every attempt,
//! retries with exponential backoff and full jitter on timeouts, connection errors, 5xx and
//! 429 (`Retry-After` honoured, capped by `max_backoff`), and an optional bearer token.
//!
//! It does not decide *when* to alert, nor what changed since the last sweep: the daemon
//! does, and calls [`Notifier::send`]. It does not parse the `[alerts]` config section
//! either ([`AlertSettings`] is filled in by the settings loader). Alerts carry org numbers
//! and codes only, never personal data. Neither the bearer token nor the path of the webhook
//! URL (many receivers keep their secret there) is ever printed in logs, errors or `Debug`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};

use crate::http::retry_after;

/// The header carrying an alert's key, the same on every attempt.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The `service` field of every alert body.
pub const SERVICE: &str = "reachcheck";

/// How much of a receiver's answer an error keeps.
const BODY_LIMIT: usize = 512;

/// A value that must not be seen: `Debug` prints `[redacted]` and there is no `Display`.
/// The value is exposed only at the one call that puts it in a header.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself. Call only where it is sent.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Where and how alerts are sent (config section `[alerts]`).
#[derive(Clone, PartialEq)]
pub struct AlertSettings {
    /// The receiver. `None`: alerts are written to the log only.
    pub webhook_url: Option<Url>,
    /// How often the daemon sends [`Alert::Heartbeat`], so that silence is noticeable.
    pub heartbeat_interval: Duration,
    /// Attempts per alert, the first included (0 counts as 1).
    pub attempts: u32,
    /// The first wait between attempts; doubles each retry, with full jitter.
    pub backoff: Duration,
    /// The longest wait between attempts, `Retry-After` included.
    pub max_backoff: Duration,
    /// Timeout of one attempt, connect to last byte.
    pub timeout: Duration,
    /// Whether a plain `http://` webhook URL may be used (tests and local receivers only).
    pub allow_http: bool,
    /// Sent as `Authorization: Bearer <token>` when set.
    pub bearer_token: Option<Secret>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            webhook_url: None,
            heartbeat_interval: Duration::from_secs(60 * 60),
            attempts: 5,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            allow_http: false,
            bearer_token: None,
        }
    }
}

impl fmt::Debug for AlertSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL's path may be the receiver's secret (Slack, Teams): show the origin only.
        f.debug_struct("AlertSettings")
            .field("webhook_url", &self.webhook_url.as_ref().map(receiver))
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("attempts", &self.attempts)
            .field("backoff", &self.backoff)
            .field("max_backoff", &self.max_backoff)
            .field("timeout", &self.timeout)
            .field("allow_http", &self.allow_http)
            .field("bearer_token", &self.bearer_token)
            .finish()
    }
}

/// One finding on one route, as alerts name it (no personal data: org numbers and codes only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FindingRef {
    /// The sending organisation's number.
    pub sender: String,
    /// The message type's id.
    pub message_type: String,
    /// The recipient organisation's number.
    pub recipient: String,
    /// The finding's code.
    pub code: String,
    /// The finding's severity.
    pub severity: String,
}

/// One sent message that needs acting on, as an alert names it (ids and the sender's own
/// reference; never content, never a person).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageAtRisk {
    /// The correspondence id in Altinn.
    pub id: String,
    /// The sending organisation's number.
    pub sender: String,
    /// The message type's id.
    pub message_type: String,
    /// The sender's own reference (identity numbers masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub senders_reference: Option<String>,
    /// When it was published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<Timestamp>,
    /// `unread_past_deadline` or `notification_failed`.
    pub code: String,
    /// The finding's severity.
    pub severity: String,
    /// When it had to be read by, for `unread_past_deadline`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Timestamp>,
}

/// What to do now about one message type's messages to one recipient.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WhatToDo {
    /// The message type's id.
    pub message_type: String,
    /// The message type's `fallback`, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// The messages to send again another way (correspondence ids).
    pub messages: Vec<String>,
    /// One paragraph saying it: fallback, which messages, to whom.
    pub text: String,
}

/// Something the operators should hear about. Serialised with its [`Alert::kind`] in the
/// field `kind`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Alert {
    /// After a sweep that changed something: everything in one message.
    SweepChanged {
        /// The sweep.
        sweep_id: i64,
        /// When it finished.
        finished_at: Timestamp,
        /// Routes judged.
        routes: u64,
        /// Routes judged `readable`.
        readable: u64,
        /// Routes judged `not_readable`.
        not_readable: u64,
        /// Routes judged `unknown`.
        unknown: u64,
        /// Findings not seen in the previous sweep.
        new: Vec<FindingRef>,
        /// Findings of the previous sweep gone in this one.
        resolved: Vec<FindingRef>,
        /// Findings that were resolved once and are back.
        reopened: Vec<FindingRef>,
    },
    /// A sweep did not finish.
    SweepFailed {
        /// When it failed.
        at: Timestamp,
        /// Why, as the daemon put it.
        reason: String,
    },
    /// Evidence older than the limit.
    StaleEvidence {
        /// When this was noticed.
        at: Timestamp,
        /// The age of the oldest evidence used.
        data_age_seconds: i64,
        /// The limit (`max_data_age`).
        max_age_seconds: i64,
    },
    /// A suppression expired, so its findings count again.
    SuppressionLapsed {
        /// When this was noticed.
        at: Timestamp,
        /// The suppression.
        suppression_id: i64,
        /// What it covered (a route or a party).
        target: String,
        /// The finding code it covered.
        code: String,
        /// Why it was granted.
        justification: String,
        /// When it expired.
        expired_at: Timestamp,
    },
    /// Messages to one recipient that went unread past their deadline or whose
    /// notification failed, gathered within `outcomes.alert_window`: what to do now.
    MessagesAtRisk {
        /// When this was sent.
        at: Timestamp,
        /// The recipient organisation's number.
        recipient: String,
        /// The messages.
        messages: Vec<MessageAtRisk>,
        /// What to do now, per message type.
        what_to_do: Vec<WhatToDo>,
    },
    /// The list of sent messages could not be read whole for a resource
    /// (`outcomes_incomplete`): some messages may be missing from what reachcheck tracks.
    OutcomesIncomplete {
        /// When this was noticed.
        at: Timestamp,
        /// The resource.
        resource: String,
        /// Why.
        reason: String,
    },
    /// Sent on a fixed cadence, so that silence is noticeable.
    Heartbeat {
        /// When it was sent.
        at: Timestamp,
        /// The last finished sweep, if any.
        last_sweep_id: Option<i64>,
        /// When that sweep finished.
        last_sweep_at: Option<Timestamp>,
        /// The age of the evidence that sweep used.
        data_age_seconds: Option<i64>,
    },
}

impl Alert {
    /// The value of the body's `kind` field (`sweep_changed`, `heartbeat`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Alert::SweepChanged { .. } => "sweep_changed",
            Alert::SweepFailed { .. } => "sweep_failed",
            Alert::StaleEvidence { .. } => "stale_evidence",
            Alert::SuppressionLapsed { .. } => "suppression_lapsed",
            Alert::MessagesAtRisk { .. } => "messages_at_risk",
            Alert::OutcomesIncomplete { .. } => "outcomes_incomplete",
            Alert::Heartbeat { .. } => "heartbeat",
        }
    }

    /// One short line for a log: the kind and its figures, never the finding lists.
    pub fn summary(&self) -> String {
        match self {
            Alert::SweepChanged {
                sweep_id,
                routes,
                readable,
                not_readable,
                unknown,
                new,
                resolved,
                reopened,
                ..
            } => format!(
                "sweep_changed: sweep {sweep_id}, {} ({readable} readable, \
                 {not_readable} not_readable, {unknown} unknown); findings {} new, {} resolved, \
                 {} reopened",
                crate::output::routes(usize::try_from(*routes).unwrap_or(usize::MAX)),
                new.len(),
                resolved.len(),
                reopened.len()
            ),
            Alert::SweepFailed { reason, .. } => format!("sweep_failed: {reason}"),
            Alert::StaleEvidence {
                data_age_seconds,
                max_age_seconds,
                ..
            } => format!(
                "stale_evidence: evidence is {data_age_seconds} s old (limit {max_age_seconds} s)"
            ),
            Alert::SuppressionLapsed {
                suppression_id,
                target,
                code,
                ..
            } => format!("suppression_lapsed: #{suppression_id} ({code} on {target})"),
            Alert::MessagesAtRisk {
                recipient,
                messages,
                ..
            } => {
                let unread = messages
                    .iter()
                    .filter(|m| m.code == "unread_past_deadline")
                    .count();
                format!(
                    "messages_at_risk: {} message(s) to {recipient} ({unread} unread past the deadline, {} with a failed notification)",
                    messages.len(),
                    messages.len() - unread
                )
            }
            Alert::OutcomesIncomplete {
                resource, reason, ..
            } => format!("outcomes_incomplete: `{resource}`: {reason}"),
            Alert::Heartbeat { last_sweep_id, .. } => match last_sweep_id {
                Some(id) => format!("heartbeat: last sweep {id}"),
                None => "heartbeat: no sweep yet".to_owned(),
            },
        }
    }
}

/// A message that needs an alert, on its way to being grouped with others to the same
/// recipient.
#[derive(Clone, Debug, PartialEq)]
pub struct AtRiskItem {
    /// The recipient organisation's number.
    pub recipient: String,
    /// The message.
    pub message: MessageAtRisk,
    /// Its message type's `fallback`.
    pub fallback: Option<String>,
}

/// Gathers [`AtRiskItem`]s per recipient: a recipient's first item opens a window of
/// `window`; what arrives for that recipient within it goes out in the same
/// [`Alert::MessagesAtRisk`] when it closes. Pure: the caller passes the time.
#[derive(Debug)]
pub struct Grouper {
    window: Duration,
    groups: std::collections::BTreeMap<String, (std::time::Instant, Vec<AtRiskItem>)>,
}

impl Grouper {
    /// A grouper with this window.
    pub fn new(window: Duration) -> Grouper {
        Grouper {
            window,
            groups: std::collections::BTreeMap::new(),
        }
    }

    /// Adds an item that arrived at `now`.
    pub fn add(&mut self, item: AtRiskItem, now: std::time::Instant) {
        let window = self.window;
        let group = self
            .groups
            .entry(item.recipient.clone())
            .or_insert_with(|| (now + window, Vec::new()));
        if !group
            .1
            .iter()
            .any(|i| i.message.id == item.message.id && i.message.code == item.message.code)
        {
            group.1.push(item);
        }
    }

    /// When the next window closes.
    pub fn next_due(&self) -> Option<std::time::Instant> {
        self.groups.values().map(|(due, _)| *due).min()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The groups whose window has closed at `now` (all of them with `now = None`), as
    /// alerts with the items in them.
    pub fn take_due(
        &mut self,
        now: Option<std::time::Instant>,
        at: Timestamp,
    ) -> Vec<(Alert, Vec<AtRiskItem>)> {
        let due: Vec<String> = self
            .groups
            .iter()
            .filter(|(_, (d, _))| now.is_none_or(|n| *d <= n))
            .map(|(r, _)| r.clone())
            .collect();
        due.into_iter()
            .filter_map(|r| self.groups.remove(&r).map(|(_, items)| (r, items)))
            .map(|(recipient, items)| (at_risk(&recipient, &items, at), items))
            .collect()
    }
}

/// The alert about `items`, all to `recipient`.
pub fn at_risk(recipient: &str, items: &[AtRiskItem], at: Timestamp) -> Alert {
    let mut what: Vec<WhatToDo> = Vec::new();
    for item in items {
        let m = &item.message;
        let entry = match what.iter_mut().find(|w| w.message_type == m.message_type) {
            Some(w) => w,
            None => {
                what.push(WhatToDo {
                    message_type: m.message_type.clone(),
                    fallback: item.fallback.clone(),
                    messages: Vec::new(),
                    text: String::new(),
                });
                what.last_mut()
                    .unwrap_or_else(|| unreachable!("just pushed"))
            }
        };
        if !entry.messages.contains(&m.id) {
            entry.messages.push(m.id.clone());
        }
    }
    for w in &mut what {
        let listed: Vec<String> = w
            .messages
            .iter()
            .map(|id| {
                let reference = items
                    .iter()
                    .find(|i| &i.message.id == id)
                    .and_then(|i| i.message.senders_reference.as_deref());
                match reference {
                    Some(r) => format!("{id} (ref. {r})"),
                    None => id.clone(),
                }
            })
            .collect();
        let how = match &w.fallback {
            Some(f) => format!("send it again another way now: {f}"),
            None => format!(
                "no `fallback` is set for `{}`: reach the recipient another way now",
                w.message_type
            ),
        };
        w.text = format!(
            "{} `{}` message(s) to {recipient} may not have been seen: {how} Messages: {}.",
            w.messages.len(),
            w.message_type,
            listed.join(", ")
        );
    }
    Alert::MessagesAtRisk {
        at,
        recipient: recipient.to_owned(),
        messages: items.iter().map(|i| i.message.clone()).collect(),
        what_to_do: what,
    }
}

/// The body as posted: `service`, `sent_at`, then the alert's fields with `kind`.
#[derive(Serialize)]
struct Envelope<'a> {
    service: &'static str,
    sent_at: Timestamp,
    #[serde(flatten)]
    alert: &'a Alert,
}

/// How an alert went out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// No `webhook_url`: the alert was written to the log only.
    Logged,
    /// The receiver accepted the alert (2xx).
    Posted {
        /// Attempts it took, the successful one included.
        attempts: u32,
        /// The receiver's status.
        status: u16,
    },
}

/// Alerts cannot be set up or an alert did not get through.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// A plain `http://` webhook URL without `allow_http`.
    #[error(
        "`alerts.webhook_url` is plain http:// (`{receiver}`): use https://, or set `alerts.allow_http = true` for a local test receiver"
    )]
    PlainHttp {
        /// The URL's origin (scheme, host, port).
        receiver: String,
    },
    /// A webhook URL that is neither `https://` nor `http://`.
    #[error("`alerts.webhook_url` must start with https://, not `{scheme}:`")]
    Scheme {
        /// The scheme given.
        scheme: String,
    },
    /// The bearer token cannot be put in a header.
    #[error(
        "`alerts.bearer_token` cannot be sent in an HTTP header: it must be visible ASCII without line breaks"
    )]
    Token,
    /// The HTTP client could not be built.
    #[error("cannot set up the HTTP client for alerts: {0}")]
    Client(String),
    /// The alert could not be written as JSON.
    #[error("cannot encode the `{kind}` alert as JSON: {reason}")]
    Encode {
        /// The alert's kind.
        kind: &'static str,
        /// serde's message.
        reason: String,
    },
    /// The receiver refused the alert (a 3xx or 4xx other than 429); not retried.
    #[error(
        "the alert receiver `{receiver}` refused the `{kind}` alert with HTTP {status}: {body}"
    )]
    Rejected {
        /// The receiver's origin.
        receiver: String,
        /// The alert's kind.
        kind: &'static str,
        /// The status.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// Every attempt failed with something worth retrying.
    #[error("gave up sending the `{kind}` alert to `{receiver}` after {attempts} attempts: {last}")]
    GaveUp {
        /// The receiver's origin.
        receiver: String,
        /// The alert's kind.
        kind: &'static str,
        /// Attempts made.
        attempts: u32,
        /// What went wrong the last time (status and start of body, or the network error).
        last: String,
        /// The last status, if the receiver answered.
        status: Option<u16>,
        /// The start of the last answer's body, if the receiver answered.
        body: Option<String>,
    },
}

impl AlertError {
    /// The receiver's last HTTP status, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            AlertError::Rejected { status, .. } => Some(*status),
            AlertError::GaveUp { status, .. } => *status,
            _ => None,
        }
    }
}

/// Sends alerts. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Notifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: reqwest::Client,
    settings: AlertSettings,
    /// `Bearer <token>`, marked sensitive (its `Debug` says `Sensitive`).
    authorization: Option<HeaderValue>,
}

/// The last retryable failure, for the error after the last attempt.
struct Failure {
    reason: String,
    status: Option<u16>,
    body: Option<String>,
}

impl Notifier {
    /// A notifier with these settings.
    ///
    /// # Errors
    /// A webhook URL that is not `https://` (plain `http://` needs `allow_http`), a bearer
    /// token that cannot be a header value, or a TLS backend that cannot be set up.
    pub fn new(settings: AlertSettings) -> Result<Notifier, AlertError> {
        if let Some(url) = &settings.webhook_url {
            match url.scheme() {
                "https" => {}
                "http" if settings.allow_http => {}
                "http" => {
                    return Err(AlertError::PlainHttp {
                        receiver: receiver(url),
                    });
                }
                other => {
                    return Err(AlertError::Scheme {
                        scheme: other.to_owned(),
                    });
                }
            }
        }
        let authorization = match &settings.bearer_token {
            Some(token) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                    .map_err(|_| AlertError::Token)?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .https_only(!settings.allow_http)
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            // A redirected POST would be resent as a GET, or carry the token elsewhere: the
            // configured URL must be the final one.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("reachcheck/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AlertError::Client(describe(e)))?;
        Ok(Notifier {
            inner: Arc::new(Inner {
                client,
                settings,
                authorization,
            }),
        })
    }

    /// The settings this notifier was made with (the daemon reads `heartbeat_interval`).
    pub fn settings(&self) -> &AlertSettings {
        &self.inner.settings
    }

    /// POSTs `{"service":"reachcheck","sent_at":<RFC 3339>,"kind":...,...}` as JSON.
    ///
    /// Retries timeouts, connection errors, 5xx and 429 (honouring `Retry-After`, capped by
    /// `max_backoff`) with backoff; any other answer that is not 2xx is not retried. Without
    /// a `webhook_url` the alert is logged with `tracing::info!` and the result is
    /// [`Delivery::Logged`].
    ///
    /// # Errors
    /// [`AlertError::Rejected`] for a 3xx or 4xx other than 429, [`AlertError::GaveUp`] when
    /// every attempt failed.
    #[tracing::instrument(skip_all, fields(kind = alert.kind()))]
    pub async fn send(&self, alert: &Alert) -> Result<Delivery, AlertError> {
        let kind = alert.kind();
        let now = Timestamp::now();
        let envelope = Envelope {
            service: SERVICE,
            sent_at: now.round(jiff::Unit::Second).unwrap_or(now),
            alert,
        };
        let body = serde_json::to_vec(&envelope).map_err(|e| AlertError::Encode {
            kind,
            reason: e.to_string(),
        })?;
        let s = &self.inner.settings;
        let Some(url) = &s.webhook_url else {
            // A sweep's alert can list thousands of findings: one readable line at `info`,
            // the whole body at `debug`.
            tracing::info!(
                summary = %alert.summary(),
                "alert (no `alerts.webhook_url` set: logged only)"
            );
            tracing::debug!(alert = %String::from_utf8_lossy(&body), "alert body");
            return Ok(Delivery::Logged);
        };
        // The same key on every attempt of one alert, so a receiver can drop a repeat
        // (a retry after a timeout may follow a delivery it never heard of).
        let key: String = {
            use sha2::Digest as _;
            sha2::Sha256::digest(&body)[..16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        };
        let body = bytes::Bytes::from(body);
        let to = receiver(url);
        let attempts = s.attempts.max(1);
        let mut last = Failure {
            reason: "no attempt was made".to_owned(),
            status: None,
            body: None,
        };
        for attempt in 1..=attempts {
            let mut req = self
                .inner
                .client
                .post(url.clone())
                .header(CONTENT_TYPE, "application/json")
                .header(IDEMPOTENCY_KEY, key.as_str())
                .body(body.clone());
            if let Some(auth) = &self.inner.authorization {
                req = req.header(AUTHORIZATION, auth.clone());
            }
            let wait = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    if status.is_success() {
                        tracing::info!(receiver = %to, attempts = attempt, status = status.as_u16(), "alert delivered");
                        return Ok(Delivery::Posted {
                            attempts: attempt,
                            status: status.as_u16(),
                        });
                    }
                    let after = retry_after(resp.headers());
                    let text = read_start(resp).await;
                    let retryable =
                        status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    if !retryable {
                        return Err(AlertError::Rejected {
                            receiver: to,
                            kind,
                            status: status.as_u16(),
                            body: text,
                        });
                    }
                    last = Failure {
                        reason: format!("HTTP {status}: {text}"),
                        status: Some(status.as_u16()),
                        body: Some(text),
                    };
                    match after {
                        Some(d) if status == StatusCode::TOO_MANY_REQUESTS => d.min(s.max_backoff),
                        _ => self.backoff(attempt),
                    }
                }
                Err(e) => {
                    last = Failure {
                        reason: describe(e),
                        status: None,
                        body: None,
                    };
                    self.backoff(attempt)
                }
            };
            if attempt < attempts {
                tracing::debug!(receiver = %to, attempt, error = %last.reason, ?wait, "alert not delivered; retrying");
                tokio::time::sleep(wait).await;
            }
        }
        Err(AlertError::GaveUp {
            receiver: to,
            kind,
            attempts,
            last: last.reason,
            status: last.status,
            body: last.body,
        })
    }

    /// The wait after failed attempt `attempt` (1-based): full jitter under a cap that
    /// doubles each retry.
    fn backoff(&self, attempt: u32) -> Duration {
        backoff_cap(&self.inner.settings, attempt).mul_f64(rand08::random::<f64>())
    }
}

/// The most [`Notifier::backoff`] waits after failed attempt `attempt` (1-based).
fn backoff_cap(s: &AlertSettings, attempt: u32) -> Duration {
    s.backoff
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(s.max_backoff)
}

/// The start of an answer's body, for errors.
async fn read_start(resp: reqwest::Response) -> String {
    match resp.bytes().await {
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => "(no body)".to_owned(),
        Ok(b) => truncate(&String::from_utf8_lossy(&b)),
        Err(e) => format!("(the body could not be read: {})", describe(e)),
    }
}

/// At most [`BODY_LIMIT`] bytes of `s`, cut at a character boundary, marked when cut.
fn truncate(s: &str) -> String {
    let s = s.trim();
    if s.len() <= BODY_LIMIT {
        return s.to_owned();
    }
    let mut end = BODY_LIMIT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A network error in words, without the URL (its path may be a secret), with its root cause.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let what = crate::http::error_kind(&e);
    let mut root = None;
    let mut next = std::error::Error::source(&e);
    while let Some(cause) = next {
        root = Some(cause);
        next = cause.source();
    }
    match root {
        Some(cause) => format!("{what}: {cause}"),
        None => what,
    }
}

/// The URL's origin (`https://host:port`), all that logs and errors show of it.
fn receiver(url: &Url) -> String {
    url.origin().ascii_serialization()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Timestamp {
        "2026-11-21T06:00:00Z".parse().unwrap()
    }

    #[test]
    fn the_summary_counts_one_route_in_the_singular() {
        // Regression (issue 18): "1 routes".
        let one = |routes| Alert::SweepChanged {
            sweep_id: 7,
            finished_at: at(),
            routes,
            readable: routes,
            not_readable: 0,
            unknown: 0,
            new: vec![],
            resolved: vec![],
            reopened: vec![],
        };
        assert!(one(1).summary().contains("sweep 7, 1 route (1 readable"));
        assert!(one(2).summary().contains("sweep 7, 2 routes (2 readable"));
        assert!(one(0).summary().contains("sweep 7, 0 routes (0 readable"));
    }

    #[test]
    fn kind_is_the_serde_tag_of_every_variant() {
        let alerts = [
            Alert::SweepChanged {
                sweep_id: 1,
                finished_at: at(),
                routes: 0,
                readable: 0,
                not_readable: 0,
                unknown: 0,
                new: vec![],
                resolved: vec![],
                reopened: vec![],
            },
            Alert::SweepFailed {
                at: at(),
                reason: "x".into(),
            },
            Alert::StaleEvidence {
                at: at(),
                data_age_seconds: 1,
                max_age_seconds: 1,
            },
            Alert::SuppressionLapsed {
                at: at(),
                suppression_id: 1,
                target: "t".into(),
                code: "c".into(),
                justification: "j".into(),
                expired_at: at(),
            },
            Alert::MessagesAtRisk {
                at: at(),
                recipient: "964338531".into(),
                messages: vec![],
                what_to_do: vec![],
            },
            Alert::OutcomesIncomplete {
                at: at(),
                resource: "r".into(),
                reason: "x".into(),
            },
            Alert::Heartbeat {
                at: at(),
                last_sweep_id: None,
                last_sweep_at: None,
                data_age_seconds: None,
            },
        ];
        for alert in alerts {
            let v = serde_json::to_value(&alert).unwrap();
            assert_eq!(v["kind"], alert.kind());
            let back: Alert = serde_json::from_value(v).unwrap();
            assert_eq!(back, alert);
        }
    }

    fn item(recipient: &str, id: &str, t: &str, code: &str) -> AtRiskItem {
        AtRiskItem {
            recipient: recipient.into(),
            message: MessageAtRisk {
                id: id.into(),
                sender: "310000019".into(),
                message_type: t.into(),
                senders_reference: Some(format!("ref-{id}")),
                published: Some(at()),
                code: code.into(),
                severity: "critical".into(),
                deadline: None,
            },
            fallback: (t == "bekymringsmelding").then(|| "Ring barnevernet.".to_owned()),
        }
    }

    #[test]
    fn items_to_one_recipient_within_the_window_go_out_as_one_alert() {
        let start = std::time::Instant::now();
        let window = Duration::from_secs(60);
        let mut g = Grouper::new(window);
        g.add(
            item(
                "964338531",
                "a",
                "bekymringsmelding",
                "unread_past_deadline",
            ),
            start,
        );
        g.add(
            item("958935420", "b", "ordinaer-post", "notification_failed"),
            start + Duration::from_secs(10),
        );
        g.add(
            item(
                "964338531",
                "c",
                "bekymringsmelding",
                "unread_past_deadline",
            ),
            start + Duration::from_secs(30),
        );
        g.add(
            item(
                "964338531",
                "c",
                "bekymringsmelding",
                "unread_past_deadline",
            ),
            start + Duration::from_secs(31),
        );
        assert_eq!(g.next_due(), Some(start + window));
        assert!(
            g.take_due(Some(start + Duration::from_secs(59)), at())
                .is_empty()
        );
        let due = g.take_due(Some(start + window), at());
        assert_eq!(due.len(), 1);
        let (alert, items) = &due[0];
        assert_eq!(items.len(), 2, "the repeat of `c` is not added twice");
        let Alert::MessagesAtRisk {
            recipient,
            messages,
            what_to_do,
            ..
        } = alert
        else {
            panic!("{alert:?}")
        };
        assert_eq!(recipient, "964338531");
        assert_eq!(messages.len(), 2);
        assert_eq!(what_to_do.len(), 1);
        assert_eq!(what_to_do[0].messages, ["a", "c"]);
        assert_eq!(
            what_to_do[0].text,
            "2 `bekymringsmelding` message(s) to 964338531 may not have been seen: send it again another way now: Ring barnevernet. Messages: a (ref. ref-a), c (ref. ref-c)."
        );
        assert!(alert.summary().contains(
            "2 message(s) to 964338531 (2 unread past the deadline, 0 with a failed notification)"
        ));
        // What is left goes out at shutdown, window or not.
        let rest = g.take_due(None, at());
        assert_eq!(rest.len(), 1);
        let Alert::MessagesAtRisk { what_to_do, .. } = &rest[0].0 else {
            panic!()
        };
        assert!(
            what_to_do[0]
                .text
                .contains("no `fallback` is set for `ordinaer-post`")
        );
        assert!(g.is_empty());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_stays_under_it() {
        let s = AlertSettings {
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            ..AlertSettings::default()
        };
        let caps: Vec<_> = (1..=6).map(|a| backoff_cap(&s, a).as_millis()).collect();
        assert_eq!(caps, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff_cap(&s, u32::MAX), Duration::from_secs(1));
        let n = Notifier::new(s.clone()).unwrap();
        for attempt in 1..40 {
            assert!(n.backoff(attempt) <= backoff_cap(&s, attempt));
        }
    }

    #[test]
    fn bodies_are_cut_at_a_character_boundary() {
        let long = "ø".repeat(BODY_LIMIT);
        let cut = truncate(&long);
        assert!(cut.len() <= BODY_LIMIT + "…".len());
        assert!(cut.ends_with('…'));
        assert_eq!(truncate(" short \n"), "short");
    }

    #[test]
    fn debug_shows_neither_token_nor_webhook_path() {
        let s = AlertSettings {
            webhook_url: Some(
                "https://hooks.example.no/services/T000/B000/XyZsecret"
                    .parse()
                    .unwrap(),
            ),
            bearer_token: Some(Secret::new("s3cr3t-token")),
            ..AlertSettings::default()
        };
        let n = Notifier::new(s.clone()).unwrap();
        for text in [format!("{s:?}"), format!("{n:?}")] {
            assert!(!text.contains("s3cr3t"), "{text}");
            assert!(!text.contains("XyZsecret"), "{text}");
            assert!(text.contains("hooks.example.no"), "{text}");
        }
        assert!(format!("{s:?}").contains("[redacted]"));
    }

    #[test]
    fn a_token_that_cannot_be_a_header_is_refused_without_showing_it() {
        let err = Notifier::new(AlertSettings {
            bearer_token: Some(Secret::new("bad\ntoken")),
            ..AlertSettings::default()
        })
        .unwrap_err();
        assert!(matches!(err, AlertError::Token));
        assert!(!err.to_string().contains("bad"));
    }
}
