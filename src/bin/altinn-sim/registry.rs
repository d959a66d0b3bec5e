//! The resource registry and resource rights as a sender's sweep reads them (docs/design.md, rules
//! 10-11): a resource's entry and policy, the owner's access lists bound to it and their
//! members, and what one resource delegation grants. Each answer is the snapshot's
//! recorded file, or the status recorded beside it (`<path>.status.json`).
//!
//! A policy the snapshot did not record comes from `--policies DIR` when given (the policy
//! Altinn enforces is then the local copy); otherwise the resource has no policy (404). A
//! registry entry or access lists the snapshot did not record answer 503 (not recorded),
//! never a 404 that would claim the resource is not in Altinn; rights and members not
//! recorded answer 404, which a sweep reads as "no answer", as the snapshot does.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use reachcheck::evidence::{
    ACCESS_LISTS, ACCESS_LISTS_FILE, MEMBERS_FILE, POLICY_FILE, RESOURCE_FILE, RESOURCE_POLICIES,
    RESOURCE_RIGHTS,
};

use crate::grant::altinn_auth;
use crate::server::{Sim, replay};

/// `GET /resourceregistry/api/v1/resource/{id}`: public.
pub(crate) async fn resource(
    State(sim): State<Arc<Sim>>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    recorded_or_unavailable(&sim, &format!("{RESOURCE_POLICIES}/{id}/{RESOURCE_FILE}"))
}

/// The recorded answer; where the snapshot recorded neither the answer nor a status, 503:
/// the registry always answers these, so a recording without them has no honest answer
/// (a 404 would claim that the resource is not in Altinn).
fn recorded_or_unavailable(sim: &Sim, rel: &str) -> Response {
    if sim.file(rel).is_none() && sim.recorded_status(rel).is_none() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"title": "Service Unavailable", "status": 503,
                        "detail": format!("altinn-sim: `{rel}` is not recorded in the snapshot")})),
        )
            .into_response();
    }
    replay(sim, rel)
}

/// `GET /resourceregistry/api/v1/resource/{id}/policy`: public.
pub(crate) async fn policy(State(sim): State<Arc<Sim>>, UrlPath(id): UrlPath<String>) -> Response {
    let rel = format!("{RESOURCE_POLICIES}/{id}/{POLICY_FILE}");
    if let Some(b) = sim.file(&rel) {
        return ([(header::CONTENT_TYPE, "text/xml")], b.to_vec()).into_response();
    }
    if sim.recorded_status(&rel).is_some() {
        return replay(&sim, &rel);
    }
    let local = sim
        .opts
        .policies
        .as_ref()
        .filter(|_| !id.contains(['/', '\\']) && !id.starts_with('.'))
        .and_then(|dir| std::fs::read(dir.join(format!("{id}.xml"))).ok());
    match local {
        Some(b) => ([(header::CONTENT_TYPE, "text/xml")], b).into_response(),
        None => (StatusCode::NOT_FOUND, "Unable to find requested policy").into_response(),
    }
}

#[derive(Deserialize)]
pub(crate) struct ListsQuery {
    resource: Option<String>,
    include: Option<String>,
}

/// `GET /resourceregistry/api/v1/access-lists/{owner}?resource=&include=`: the owner's
/// lists with their connections to one resource. Needs a token; `include` with resource
/// connections needs `resource` (400 otherwise, as the registry answers).
pub(crate) async fn access_lists(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    UrlPath(owner): UrlPath<String>,
    Query(q): Query<ListsQuery>,
) -> Response {
    if !altinn_auth(&sim, &headers) && !sim.maskinporten_auth(&headers) {
        return (StatusCode::UNAUTHORIZED, "").into_response();
    }
    let wants_connections = q
        .include
        .as_deref()
        .is_some_and(|i| i.split(',').any(|x| x.trim().starts_with("resource")));
    let Some(resource) = q.resource.filter(|_| wants_connections) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(
                json!({"title": "One or more validation errors occurred.", "status": 400,
                        "detail": "`include=resource-actions` needs `resource`"}),
            ),
        )
            .into_response();
    };
    // Only the owner reads its lists: the caller (the client's organisation) must own
    // the resource, and `owner` must be its org code (API-NOTES-2026 §5.2).
    let owns = sim.resource_owner(&resource).is_some_and(|(code, org)| {
        code == owner && org.is_some() && org == sim.opts.correspondence.client_org
    });
    if !owns {
        return (StatusCode::FORBIDDEN, "").into_response();
    }
    recorded_or_unavailable(
        &sim,
        &format!("{RESOURCE_POLICIES}/{resource}/{ACCESS_LISTS_FILE}"),
    )
}

/// `GET /resourceregistry/api/v1/access-lists/{owner}/{list}/members`: the owner's only.
pub(crate) async fn members(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    UrlPath((owner, list)): UrlPath<(String, String)>,
) -> Response {
    if !altinn_auth(&sim, &headers) && !sim.maskinporten_auth(&headers) {
        return (StatusCode::UNAUTHORIZED, "").into_response();
    }
    if !sim.owns_lists_of(&owner) {
        return (StatusCode::FORBIDDEN, "").into_response();
    }
    replay(
        &sim,
        &format!("{ACCESS_LISTS}/{owner}/{list}/{MEMBERS_FILE}"),
    )
}

#[derive(Deserialize)]
pub(crate) struct RightsQuery {
    party: Option<String>,
    from: Option<String>,
    to: Option<String>,
    resource: Option<String>,
}

/// `GET /accessmanagement/api/v1/enduser/connections/resources/rights?party&from&to&resource`:
/// all four required; `party == from` asks what `from` delegated to `to`.
pub(crate) async fn rights(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<RightsQuery>,
) -> Response {
    let (to, resource) = (q.to.unwrap_or_default(), q.resource.unwrap_or_default());
    let missing = (to.is_empty() || resource.is_empty()).then_some("to and resource");
    match sim.asked_party(&headers, q.party.as_deref(), q.from.as_deref(), missing) {
        Ok(org) => replay(
            &sim,
            &format!("{RESOURCE_RIGHTS}/{org}/{resource}/{to}.json"),
        ),
        Err(refusal) => *refusal,
    }
}
