//! The pre-send check, shaped like the OpenID AuthZEN 1.0 evaluation API: may `subject`
//! (the sender) `send` a message of type `action.properties.message_type` to `resource`
//! (the recipient)? `decision` is true only for `readable`; `context` carries the verdict,
//! reader count, findings, data age, the message type's fallback and the route's history
//! of sent messages (sent, read within the deadline, last read, unread now).
//!
//! Requests are read as JSON values and checked field by field, so that a bad request
//! gets a 400 naming the field (`subject.id`, `evaluations[2].action.name`), never a 500.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ApiError, Caller};
use crate::daemon::Shared;
use crate::engine::explain::summary;
use crate::model::{EvidenceTier, Finding, MessageTypeId, OrgNumber, Route, Severity, Verdict};
use crate::store::AuditEntry;
use crate::verifier::Decision;

/// An organisation, as AuthZEN's subject or resource.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// Always `organization`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The organisation number.
    pub id: String,
}

/// The action: `send`, with the message type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// Always `send`.
    pub name: String,
    /// `{"message_type": ID}`.
    pub properties: serde_json::Map<String, Value>,
}

/// One evaluation request (for clients; the server checks the JSON field by field).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvaluationRequest {
    /// The sender.
    pub subject: Entity,
    /// `send` a message type.
    pub action: Action,
    /// The recipient.
    pub resource: Entity,
}

/// A finding in the response: its code and facts, severity and one sentence.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FindingOut {
    /// The code and facts.
    #[serde(flatten)]
    pub finding: Finding,
    /// `info`, `warning` or `critical`.
    pub severity: Severity,
    /// One sentence.
    pub message: String,
}

/// The `context` of a decision.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DecisionContext {
    /// `readable`, `not_readable` or `unknown`.
    pub verdict: Verdict,
    /// People who can read.
    pub readers: u32,
    /// Whether the evidence was complete.
    pub evidence_tier: EvidenceTier,
    /// Why.
    pub findings: Vec<FindingOut>,
    /// Age of the evidence, in seconds.
    pub data_age_seconds: i64,
    /// What to do instead when the decision is false.
    pub fallback: Option<Arc<str>>,
    /// The sweep the answer comes from.
    pub sweep_id: Option<i64>,
    /// What the route's sent messages did (docs/design.md, "Message outcomes"): the ground truth
    /// beside the prediction.
    pub history: crate::outcome::RouteHistory,
    /// Why a batch stopped here (`deny_on_first_deny`, `permit_on_first_permit`), as
    /// AuthZEN §7 shows it; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// One decision.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvaluationResponse {
    /// True only for `readable`.
    pub decision: bool,
    /// The verdict and its reasons.
    pub context: DecisionContext,
}

pub(super) fn entity(v: &Value, path: &str) -> Result<OrgNumber, ApiError> {
    let Some(obj) = v.as_object() else {
        return Err(ApiError::field(
            path,
            format!("`{path}` must be an object `{{\"type\":\"organization\",\"id\":ORGNR}}`"),
        ));
    };
    match obj.get("type").and_then(Value::as_str) {
        Some("organization") => {}
        Some(other) => {
            return Err(ApiError::field(
                format!("{path}.type"),
                format!("`{other}` is not supported: only `organization`"),
            ));
        }
        None => {
            return Err(ApiError::field(
                format!("{path}.type"),
                "missing: must be `organization`",
            ));
        }
    }
    let id = obj.get("id").and_then(Value::as_str).ok_or_else(|| {
        ApiError::field(
            format!("{path}.id"),
            "missing or not a string: an organisation number",
        )
    })?;
    OrgNumber::parse(id).map_err(|e| ApiError::field(format!("{path}.id"), e.to_string()))
}

pub(super) fn action(v: &Value, path: &str, shared: &Shared) -> Result<MessageTypeId, ApiError> {
    let Some(obj) = v.as_object() else {
        return Err(ApiError::field(
            path,
            "must be an object `{\"name\":\"send\",\"properties\":{\"message_type\":ID}}`",
        ));
    };
    match obj.get("name").and_then(Value::as_str) {
        Some("send") => {}
        Some(other) => {
            return Err(ApiError::field(
                format!("{path}.name"),
                format!("`{other}` is not supported: only `send`"),
            ));
        }
        None => {
            return Err(ApiError::field(
                format!("{path}.name"),
                "missing: must be `send`",
            ));
        }
    }
    let field = format!("{path}.properties.message_type");
    let t = obj
        .get("properties")
        .and_then(|p| p.get("message_type"))
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::field(&field, "missing or not a string: a message type id"))?;
    let id = MessageTypeId::parse(t).map_err(|e| ApiError::field(&field, e.to_string()))?;
    if shared.verifier.policies().message_type(&id).is_none() {
        return Err(ApiError::field(
            &field,
            format!("unknown message type `{id}`"),
        ));
    }
    Ok(id)
}

/// The route asked about, from a request (with `defaults` for the batch form).
fn route(
    v: &Value,
    defaults: Option<&Value>,
    prefix: &str,
    shared: &Shared,
) -> Result<Route, ApiError> {
    let part = |name: &str| -> Result<&Value, ApiError> {
        v.get(name)
            .or_else(|| defaults.and_then(|d| d.get(name)))
            .ok_or_else(|| ApiError::field(format!("{prefix}{name}"), "missing"))
    };
    let sender = entity(part("subject")?, &format!("{prefix}subject"))?;
    let message_type = action(part("action")?, &format!("{prefix}action"), shared)?;
    let recipient = entity(part("resource")?, &format!("{prefix}resource"))?;
    Ok(Route::new(sender, message_type, recipient))
}

pub(super) fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::field("body", format!("not JSON: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::field("body", "must be a JSON object"));
    }
    Ok(v)
}

/// The response for `route` and its decision: the verdict, its reasons and the route's
/// history (no audit; [`decide`] audits).
pub(super) fn response(shared: &Shared, route: &Route, d: &Decision) -> EvaluationResponse {
    let history = shared
        .histories
        .load()
        .get(route)
        .cloned()
        .unwrap_or_default();
    EvaluationResponse {
        decision: d.verdict == Verdict::Readable,
        context: DecisionContext {
            verdict: d.verdict,
            readers: d.readers,
            evidence_tier: d.evidence_tier,
            findings: d
                .findings
                .iter()
                .map(|f| FindingOut {
                    severity: f.severity(),
                    message: summary(f, &route.recipient),
                    finding: f.clone(),
                })
                .collect(),
            data_age_seconds: d.data_age.as_secs(),
            fallback: if d.verdict == Verdict::Readable {
                None
            } else {
                d.fallback.clone()
            },
            sweep_id: shared.verifier.sweep(),
            history,
            reason: None,
        },
    }
}

async fn decide(
    shared: &Shared,
    caller: &Caller,
    route: Route,
    now: Timestamp,
) -> EvaluationResponse {
    let d = shared.verifier.check_at(&route, now);
    let out = response(shared, &route, &d);
    shared
        .metrics
        .checks
        .get_or_create(&crate::metrics::verdict_label(d.verdict))
        .inc();
    let entry = AuditEntry {
        at: Timestamp::now(),
        caller: Arc::clone(&caller.0),
        route,
        verdict: d.verdict,
        readers: d.readers,
    };
    if let Err(tokio::sync::mpsc::error::TrySendError::Full(entry)) = shared.audit.try_send(entry) {
        // The writer is behind: wait for room rather than lose an audit entry.
        let _ = shared.audit.send(entry).await;
    }
    out
}

/// `POST /access/v1/evaluation`.
pub(super) async fn evaluation(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let v = parse_body(&body)?;
    let route = route(&v, None, "", &shared)?;
    let now = shared.inputs.load().judge_now();
    Ok(axum::Json(decide(&shared, &caller, route, now).await).into_response())
}

/// Most evaluations in one batch request.
const MAX_BATCH: usize = 10_000;

/// How a batch is run (AuthZEN §7, `options.evaluations_semantic`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Semantic {
    /// Every evaluation, every answer (the default).
    ExecuteAll,
    /// In order, stopping after the first `decision: false` (like `&&`).
    DenyOnFirstDeny,
    /// In order, stopping after the first `decision: true` (like `||`).
    PermitOnFirstPermit,
}

impl Semantic {
    fn parse(body: &Value) -> Result<Semantic, ApiError> {
        let Some(options) = body.get("options") else {
            return Ok(Semantic::ExecuteAll);
        };
        let Some(options) = options.as_object() else {
            return Err(ApiError::field("options", "must be an object"));
        };
        match options.get("evaluations_semantic") {
            None => Ok(Semantic::ExecuteAll),
            Some(Value::String(s)) => match s.as_str() {
                "execute_all" => Ok(Semantic::ExecuteAll),
                "deny_on_first_deny" => Ok(Semantic::DenyOnFirstDeny),
                "permit_on_first_permit" => Ok(Semantic::PermitOnFirstPermit),
                other => Err(ApiError::field(
                    "options.evaluations_semantic",
                    format!(
                        "`{other}` is not an evaluations semantic: use `execute_all`, `deny_on_first_deny` or `permit_on_first_permit`"
                    ),
                )),
            },
            Some(_) => Err(ApiError::field(
                "options.evaluations_semantic",
                "must be a string: `execute_all`, `deny_on_first_deny` or `permit_on_first_permit`",
            )),
        }
    }

    /// Whether a batch stops after `decision`, and the reason it gives.
    fn stops_after(self, decision: bool) -> Option<&'static str> {
        match (self, decision) {
            (Semantic::DenyOnFirstDeny, false) => Some("deny_on_first_deny"),
            (Semantic::PermitOnFirstPermit, true) => Some("permit_on_first_permit"),
            _ => None,
        }
    }
}

/// `POST /access/v1/evaluations`: `evaluations` inherit `subject`, `action` and `resource`
/// from the top level where they leave them out; `options.evaluations_semantic` says
/// whether to stop at the first deny or the first permit. Every evaluation is checked for
/// bad fields before any is answered, so a bad one is a 400 whatever the semantic.
pub(super) async fn evaluations(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let v = parse_body(&body)?;
    let semantic = Semantic::parse(&v)?;
    let routes: Vec<Route> = match v.get("evaluations") {
        None => vec![route(&v, None, "", &shared)?],
        Some(Value::Array(items)) => {
            if items.len() > MAX_BATCH {
                return Err(ApiError::field(
                    "evaluations",
                    format!(
                        "{} evaluations: at most {MAX_BATCH} per request",
                        items.len()
                    ),
                ));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    if !item.is_object() {
                        return Err(ApiError::field(
                            format!("evaluations[{i}]"),
                            "must be an object",
                        ));
                    }
                    route(item, Some(&v), &format!("evaluations[{i}]."), &shared)
                })
                .collect::<Result<_, _>>()?
        }
        Some(_) => return Err(ApiError::field("evaluations", "must be an array")),
    };
    let now = shared.inputs.load().judge_now();
    let mut out = Vec::with_capacity(routes.len());
    for r in routes {
        let mut answer = decide(&shared, &caller, r, now).await;
        let stop = semantic.stops_after(answer.decision);
        answer.context.reason = stop;
        out.push(answer);
        if stop.is_some() {
            break;
        }
    }
    Ok(axum::Json(serde_json::json!({ "evaluations": out })).into_response())
}

/// The paths of the AuthZEN endpoints, as discovery names them.
pub(super) const ENDPOINTS: [(&str, &str); 5] = [
    ("access_evaluation_endpoint", "/access/v1/evaluation"),
    ("access_evaluations_endpoint", "/access/v1/evaluations"),
    ("search_subject_endpoint", "/access/v1/search/subject"),
    ("search_resource_endpoint", "/access/v1/search/resource"),
    ("search_action_endpoint", "/access/v1/search/action"),
];

/// `GET /.well-known/authzen-configuration` (AuthZEN §9), unauthenticated: the policy
/// decision point's identifier (`daemon.public_url`; unset, the listener's scheme and the
/// request's `Host`) and every endpoint served.
pub(super) async fn configuration(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let inputs = shared.inputs.load();
    let daemon = &inputs.settings.daemon;
    let base = match &daemon.public_url {
        Some(u) => u.clone(),
        None => {
            let host = headers
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| {
                    !h.is_empty()
                        && h.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
                })
                .ok_or_else(|| {
                    ApiError::field(
                        "Host",
                        "no usable `Host` header: send one, or set `daemon.public_url`",
                    )
                })?;
            let scheme = if daemon.tls().is_some() {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{host}")
        }
    };
    let mut doc = serde_json::Map::new();
    doc.insert("policy_decision_point".into(), Value::String(base.clone()));
    for (key, path) in ENDPOINTS {
        doc.insert(key.into(), Value::String(format!("{base}{path}")));
    }
    Ok(axum::Json(Value::Object(doc)).into_response())
}
