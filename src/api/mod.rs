//! The HTTP API (axum): health, readiness, metrics, the pre-send check shaped like the
//! OpenID AuthZEN 1.0 evaluation API, findings with their lifecycle, suppressions and
//! sweeps.
//!
//! Owns: request and response shapes, bearer-token authentication, turning bad requests
//! into a 400 that names the field. Does not own: answers (the [`Verifier`]) or history
//! (the store). [`router`] builds the whole API, so tests can call it without a socket.
//!
//! | route | auth | does |
//! |---|---|---|
//! | `GET /healthz` | no | the process is up |
//! | `GET /readyz` | no | policies loaded and the last sweep's evidence is young enough; the sweep answered from, and the sweeper's lease among several daemons |
//! | `GET /metrics` | yes | Prometheus text |
//! | `POST /access/v1/evaluation` | yes | one pre-send check |
//! | `POST /access/v1/evaluations` | yes | many pre-send checks, `options.evaluations_semantic` honoured |
//! | `POST /access/v1/search/resource`, `/search/action`, `/search/subject` | yes | AuthZEN searches over the routing table: readable routes only, paged |
//! | `GET /.well-known/authzen-configuration` | no | AuthZEN discovery: the decision point and its endpoints |
//! | `GET /v1/findings` | yes | findings, filtered by `sender`, `recipient`, `message_type`, `state`, `severity`, `limit`; `outcomes`: the findings about sent messages (reconciliation included) |
//! | `GET /v1/suppressions`, `POST /v1/suppressions` | yes | accepted findings, with justification and expiry |
//! | `GET /v1/sweeps` | yes | the latest sweeps |
//! | `POST <events.path>` | no (a hint only) | Altinn Events' pushes, with `[events]` (see [`crate::events`]) |
//!
//! [`Verifier`]: crate::Verifier

mod authzen;
mod search;
pub mod tokens;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use serde::Serialize;

use crate::daemon::Shared;
use crate::model::{MessageTypeId, OrgNumber, Severity};
use crate::store::{FindingFilter, FindingState, NewSuppression};

pub use authzen::{EvaluationRequest, EvaluationResponse};

/// The caller, as authenticated.
#[derive(Clone, Debug)]
pub struct Caller(pub Arc<str>);

/// A JSON error: `{"error": "...", "field": "..."}`.
#[derive(Debug, Serialize)]
pub struct ApiError {
    /// One sentence.
    pub error: String,
    /// The request field at fault, if one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip)]
    status: StatusCode,
}

impl ApiError {
    /// A 400 naming `field`.
    pub fn field(field: impl Into<String>, error: impl Into<String>) -> ApiError {
        ApiError {
            error: error.into(),
            field: Some(field.into()),
            status: StatusCode::BAD_REQUEST,
        }
    }

    fn status(status: StatusCode, error: impl Into<String>) -> ApiError {
        ApiError {
            error: error.into(),
            field: None,
            status,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut r = (status, axum::Json(self)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

/// The whole API over `shared`.
pub fn router(shared: Arc<Shared>) -> Router {
    let protected = Router::new()
        .route("/metrics", get(metrics))
        .route("/access/v1/evaluation", post(authzen::evaluation))
        .route("/access/v1/evaluations", post(authzen::evaluations))
        .route("/access/v1/search/resource", post(search::resources))
        .route("/access/v1/search/action", post(search::actions))
        .route("/access/v1/search/subject", post(search::subjects))
        .route("/v1/findings", get(findings))
        .route("/v1/suppressions", get(suppressions).post(add_suppression))
        .route("/v1/sweeps", get(sweeps))
        .route_layer(middleware::from_fn(json_only))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            authenticate,
        ));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route(
            "/.well-known/authzen-configuration",
            get(authzen::configuration),
        )
        .merge(protected)
        .merge(crate::events::webhook::routes(&shared))
        .fallback(|| async { ApiError::status(StatusCode::NOT_FOUND, "no such endpoint") })
        .with_state(shared)
}

/// Whether a `Content-Type` names JSON: `application/json` or `application/*+json`, with
/// any parameters (`; charset=utf-8`).
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json") && sub.len() > "+json".len())
}

/// A body sent to a JSON endpoint must say it is JSON: anything else is 415, named.
async fn json_only(req: Request, next: Next) -> Result<Response, ApiError> {
    if req.method() == axum::http::Method::POST {
        let given = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("(not text)"));
        if !given.is_some_and(is_json) {
            let said = given.map_or_else(
                || "no Content-Type".to_owned(),
                |g| format!("Content-Type `{}`", g.chars().take(80).collect::<String>()),
            );
            return Err(ApiError::status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("{said}: send the body as `Content-Type: application/json`"),
            ));
        }
    }
    Ok(next.run(req).await)
}

async fn authenticate(
    State(shared): State<Arc<Shared>>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(presented) = presented else {
        return Err(ApiError::status(
            StatusCode::UNAUTHORIZED,
            "a bearer token is required: `Authorization: Bearer TOKEN`",
        ));
    };
    let Some(name) = shared.inputs.load().tokens.check(presented) else {
        return Err(ApiError::status(
            StatusCode::UNAUTHORIZED,
            "the bearer token is not accepted",
        ));
    };
    req.extensions_mut().insert(Caller(name));
    Ok(next.run(req).await)
}

#[derive(Serialize)]
struct Readiness {
    ready: bool,
    reason: Option<String>,
    sweep_id: Option<i64>,
    data_age_seconds: Option<i64>,
    max_age_seconds: i64,
    /// Among several daemons on one store: the sweeper's lease as this instance last saw
    /// it, and whether it holds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    lease: Option<crate::daemon::LeaseView>,
    /// The time `now` in the configuration pins, when it does: ages are measured against
    /// it, not the clock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pinned_now: Option<jiff::Timestamp>,
    /// Says so in words, when the time is pinned.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'static str>,
}

/// What `/readyz` says when `now` is pinned.
const PINNED_NOTE: &str = "the time is pinned by `now` in the configuration: ages are measured against it, not the clock (remove `now` for real use)";

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    let inputs = shared.inputs.load();
    let max = inputs.max_sweep_age();
    let age = shared.data_age(inputs.judge_now());
    let reason = match age {
        None => Some("no sweep yet".to_owned()),
        Some(a) if a > max => Some(format!(
            "the evidence is {} s old, more than the allowed {} s",
            a.as_secs(),
            max.as_secs()
        )),
        Some(_) => None,
    };
    let body = Readiness {
        ready: reason.is_none(),
        reason,
        sweep_id: shared.verifier.sweep(),
        data_age_seconds: age.map(|a| a.as_secs()),
        max_age_seconds: max.as_secs(),
        lease: shared.lease.load().as_deref().cloned(),
        pinned_now: inputs.settings.now,
        note: inputs.settings.now.map(|_| PINNED_NOTE),
    };
    let status = if body.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let inputs = shared.inputs.load();
    if let Some(age) = shared.data_age(inputs.judge_now()) {
        shared.metrics.data_age_seconds.set(age.as_secs());
    }
    shared
        .metrics
        .pinned_now_seconds
        .set(inputs.settings.now.map_or(0, |t| t.as_second()));
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics.encode(),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FindingQuery {
    sender: Option<String>,
    recipient: Option<String>,
    message_type: Option<String>,
    state: Option<String>,
    severity: Option<String>,
    limit: Option<String>,
}

fn query_org(field: &str, v: Option<&str>) -> Result<Option<OrgNumber>, ApiError> {
    v.map(|s| OrgNumber::parse(s).map_err(|e| ApiError::field(field, e.to_string())))
        .transpose()
}

fn parse_filter(q: FindingQuery) -> Result<FindingFilter, ApiError> {
    Ok(FindingFilter {
        sender: query_org("sender", q.sender.as_deref())?,
        recipient: query_org("recipient", q.recipient.as_deref())?,
        message_type: q
            .message_type
            .as_deref()
            .map(|s| {
                MessageTypeId::parse(s).map_err(|e| ApiError::field("message_type", e.to_string()))
            })
            .transpose()?,
        state: q
            .state
            .as_deref()
            .map(|s| match s {
                "open" => Ok(FindingState::Open),
                "resolved" => Ok(FindingState::Resolved),
                "retired" => Ok(FindingState::Retired),
                _ => Err(ApiError::field(
                    "state",
                    format!("`{s}` is not a state: use `open`, `resolved` or `retired`"),
                )),
            })
            .transpose()?,
        severity: q
            .severity
            .as_deref()
            .map(|s| match s {
                "info" => Ok(Severity::Info),
                "warning" => Ok(Severity::Warning),
                "critical" => Ok(Severity::Critical),
                _ => Err(ApiError::field(
                    "severity",
                    format!("`{s}` is not a severity: use `info`, `warning` or `critical`"),
                )),
            })
            .transpose()?,
        limit: match q.limit.as_deref() {
            None => 1000,
            Some(s) => s
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=100_000).contains(n))
                .ok_or_else(|| {
                    ApiError::field("limit", format!("`{s}` is not a number from 1 to 100000"))
                })?,
        },
    })
}

fn query<T: serde::de::DeserializeOwned>(raw: Option<&str>) -> Result<T, ApiError> {
    serde_urlencoded_like(raw.unwrap_or(""))
}

/// Query strings through axum's own parser, with unknown parameters named.
fn serde_urlencoded_like<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, ApiError> {
    let uri: axum::http::Uri = format!("/?{raw}")
        .parse()
        .map_err(|_| ApiError::field("query", "the query string is malformed"))?;
    Query::<T>::try_from_uri(&uri).map(|q| q.0).map_err(|e| {
        let text = e.body_text();
        let field = text
            .split('`')
            .nth(1)
            .map_or_else(|| "query".to_owned(), str::to_owned);
        ApiError::field(field, text)
    })
}

/// The route findings with their lifecycle, and beside them (`outcomes`) the findings about
/// sent messages now — `unread_past_deadline`, `notification_failed`, `never_read` and
/// `prediction_contradicted` both ways — with the same filters (they have no lifecycle: they
/// are listed unless a state other than `open` is asked for).
async fn findings(State(shared): State<Arc<Shared>>, req: Request) -> Result<Response, ApiError> {
    let filter = parse_filter(query(req.uri().query())?)?;
    let inputs = shared.inputs.load_full();
    let now = inputs.judge_now();
    let (found, outcomes) = blocking_store(&shared, move |s| {
        let found = s.findings(&filter, now)?;
        if filter.state.is_some_and(|st| st != FindingState::Open) {
            return Ok((found, Vec::new()));
        }
        let messages = s.messages(&crate::store::MessageFilter {
            senders: filter.sender.into_iter().collect(),
            recipients: filter.recipient.into_iter().collect(),
            message_types: filter.message_type.clone().into_iter().collect(),
            ..crate::store::MessageFilter::default()
        })?;
        let outcomes: Vec<_> = crate::outcome::assess(&messages, &inputs.policies, now)
            .into_iter()
            .filter(|f| filter.severity.is_none_or(|sv| f.severity == sv))
            .take(filter.limit as usize)
            .collect();
        Ok((found, outcomes))
    })
    .await?;
    Ok(axum::Json(serde_json::json!({ "findings": found, "outcomes": outcomes })).into_response())
}

async fn suppressions(State(shared): State<Arc<Shared>>) -> Result<Response, ApiError> {
    let found = blocking_store(&shared, |s| s.suppressions()).await?;
    Ok(axum::Json(serde_json::json!({ "suppressions": found })).into_response())
}

async fn add_suppression(
    State(shared): State<Arc<Shared>>,
    axum::Extension(caller): axum::Extension<Caller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let new: NewSuppression = serde_json::from_slice(&body).map_err(|e| {
        let msg = e.to_string();
        let field = msg
            .split('`')
            .nth(1)
            .filter(|_| msg.contains("field"))
            .map_or_else(|| "body".to_owned(), str::to_owned);
        ApiError::field(field, format!("not a suppression: {msg}"))
    })?;
    let now = Timestamp::now();
    new.check(now)
        .map_err(|(field, m)| ApiError::field(field, m))?;
    let by = caller.0.to_string();
    let id = blocking_store(&shared, move |s| s.add_suppression(&new, &by, now)).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({ "id": id })),
    )
        .into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepQuery {
    limit: Option<u32>,
}

async fn sweeps(State(shared): State<Arc<Shared>>, req: Request) -> Result<Response, ApiError> {
    let q: SweepQuery = query(req.uri().query())?;
    let limit = q.limit.unwrap_or(20).clamp(1, 10_000);
    let found = blocking_store(&shared, move |s| s.sweeps(limit)).await?;
    Ok(axum::Json(serde_json::json!({ "sweeps": found })).into_response())
}

async fn blocking_store<T: Send + 'static>(
    shared: &Arc<Shared>,
    f: impl FnOnce(&mut crate::store::Store) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let shared = Arc::clone(shared);
    tokio::task::spawn_blocking(move || {
        let mut store = shared
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut store)
    })
    .await
    .map_err(|e| ApiError::status(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?
    .map_err(|e| {
        tracing::error!(error = %e, "store");
        ApiError::status(StatusCode::SERVICE_UNAVAILABLE, e.reason)
    })
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn json_and_structured_json_with_parameters_pass_and_nothing_else() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/cloudevents+json",
            "application/problem+json;charset=UTF-8",
        ] {
            assert!(is_json(ok), "{ok}");
        }
        for no in [
            "",
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/+json",
            "application/jsonx",
            "text/json",
            "multipart/form-data; boundary=x",
        ] {
            assert!(!is_json(no), "{no}");
        }
    }
}
