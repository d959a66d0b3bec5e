//! The AuthZEN 1.0 search endpoints (§8): `POST /access/v1/search/resource` (the
//! recipients a sender reaches with a message type), `/search/action` (the message types a
//! sender can send a recipient), `/search/subject` (the senders whose routes reach a
//! recipient with a message type).
//!
//! Answered from the routing table's index and the [`Verifier`]'s memory, never the store.
//! A result is listed only when an evaluation of it would say `decision: true` (the route
//! is `readable` now); each carries, in `properties`, that decision and the same `context`
//! an evaluation gives. Pages: the request's `page.token` (or the draft's
//! `page.next_token`) and `page.limit` (1 to [`MAX_PAGE`], default [`DEFAULT_PAGE`]); the
//! response's `page.next_token` is empty on the last page.
//!
//! [`Verifier`]: crate::Verifier

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ApiError;
use super::authzen::{action, entity, parse_body, response};
use crate::daemon::Shared;
use crate::search::{DEFAULT_PAGE, MAX_PAGE, PageToken, Query};

/// `path` must be an object of type `organization`; its `id`, if any, is ignored (§8).
fn entity_type(v: Option<&Value>, path: &str) -> Result<(), ApiError> {
    let Some(v) = v else {
        return Err(ApiError::field(
            path,
            "missing: `{\"type\":\"organization\"}`",
        ));
    };
    let Some(obj) = v.as_object() else {
        return Err(ApiError::field(
            path,
            format!("`{path}` must be an object `{{\"type\":\"organization\"}}`"),
        ));
    };
    match obj.get("type").and_then(Value::as_str) {
        Some("organization") => Ok(()),
        Some(other) => Err(ApiError::field(
            format!("{path}.type"),
            format!("`{other}` is not supported: only `organization`"),
        )),
        None => Err(ApiError::field(
            format!("{path}.type"),
            "missing: must be `organization`",
        )),
    }
}

fn required<'a>(v: &'a Value, name: &str) -> Result<&'a Value, ApiError> {
    v.get(name).ok_or_else(|| ApiError::field(name, "missing"))
}

/// Where the page starts and how long it is, from the request's `page`.
fn page(v: &Value, query: &Query) -> Result<(usize, usize), ApiError> {
    let Some(page) = v.get("page") else {
        return Ok((0, DEFAULT_PAGE));
    };
    let Some(page) = page.as_object() else {
        return Err(ApiError::field(
            "page",
            "must be an object `{\"token\": TOKEN, \"limit\": N}`",
        ));
    };
    let (name, token) = match (page.get("token"), page.get("next_token")) {
        (Some(t), _) => ("page.token", t),
        (None, Some(t)) => ("page.next_token", t),
        (None, None) => ("page.token", &Value::Null),
    };
    let from = match token {
        Value::Null => 0,
        Value::String(t) if t.is_empty() => 0,
        Value::String(t) => {
            PageToken::decode(t, query)
                .map_err(|e| ApiError::field(name, e.to_string()))?
                .at
        }
        _ => {
            return Err(ApiError::field(
                name,
                "must be a string: the `page.next_token` of the previous page",
            ));
        }
    };
    let limit = match page.get("limit") {
        None | Some(Value::Null) => DEFAULT_PAGE,
        Some(l) => l
            .as_u64()
            .filter(|n| (1..=MAX_PAGE as u64).contains(n))
            .map(|n| n as usize)
            .ok_or_else(|| {
                ApiError::field(
                    "page.limit",
                    format!("`{l}` is not a number of results from 1 to {MAX_PAGE}"),
                )
            })?,
    };
    Ok((from, limit))
}

/// Runs `query` and shapes each readable route with `result`.
fn answer(
    shared: &Shared,
    v: &Value,
    query: Query,
    result: impl Fn(&crate::Route, Value) -> Value,
) -> Result<Response, ApiError> {
    let (from, limit) = page(v, &query)?;
    let inputs = shared.inputs.load();
    let now = inputs.judge_now();
    let found = inputs
        .route_index
        .page(&shared.verifier, &query, from, limit, now);
    let results: Vec<Value> = found
        .hits
        .iter()
        .map(|(route, d)| {
            let out = response(shared, route, d);
            result(
                route,
                json!({"decision": out.decision, "context": out.context}),
            )
        })
        .collect();
    let next = found
        .next
        .map(|at| PageToken::new(&query, at).encode())
        .unwrap_or_default();
    Ok(axum::Json(json!({
        "results": results,
        "page": {"next_token": next, "count": found.hits.len()},
    }))
    .into_response())
}

/// `POST /access/v1/search/resource`: `subject` and `action` given, `resource.type`
/// `organization`.
pub(super) async fn resources(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let v = parse_body(&body)?;
    let sender = entity(required(&v, "subject")?, "subject")?;
    let message_type = action(required(&v, "action")?, "action", &shared)?;
    entity_type(v.get("resource"), "resource")?;
    let query = Query::Resources {
        sender,
        message_type,
    };
    answer(
        &shared,
        &v,
        query,
        |route, properties| json!({"type": "organization", "id": route.recipient, "properties": properties}),
    )
}

/// `POST /access/v1/search/action`: `subject` and `resource` given; every action is `send`
/// with its `message_type` in `properties`.
pub(super) async fn actions(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let v = parse_body(&body)?;
    let sender = entity(required(&v, "subject")?, "subject")?;
    let recipient = entity(required(&v, "resource")?, "resource")?;
    let query = Query::Actions { sender, recipient };
    answer(&shared, &v, query, |route, properties| {
        let mut p = properties;
        if let Some(obj) = p.as_object_mut() {
            obj.insert(
                "message_type".into(),
                Value::String(route.message_type.to_string()),
            );
        }
        json!({"name": "send", "properties": p})
    })
}

/// `POST /access/v1/search/subject`: `action` and `resource` given, `subject.type`
/// `organization`.
pub(super) async fn subjects(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let v = parse_body(&body)?;
    entity_type(v.get("subject"), "subject")?;
    let message_type = action(required(&v, "action")?, "action", &shared)?;
    let recipient = entity(required(&v, "resource")?, "resource")?;
    let query = Query::Subjects {
        message_type,
        recipient,
    };
    answer(
        &shared,
        &v,
        query,
        |route, properties| json!({"type": "organization", "id": route.sender, "properties": properties}),
    )
}
