//! Maskinporten and Altinn's token exchange: the JWT grant checked as Maskinporten checks
//! it (signature against the client's public key, `aud`, `iss`, `exp - iat <= 120`, a `jti`
//! never seen before, known scopes, no unknown claims), answered with Maskinporten's error
//! shape; Altinn tokens from the exchange, which Altinn's endpoints require.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::{Value, json};

use reachcheck::model::OrgNumber;

use crate::server::{Sim, lock};

/// The client id the stand-in accepts unless told otherwise.
pub(crate) const CLIENT_ID: &str = "reachcheck-altinn-sim";
/// The key id the stand-in accepts unless told otherwise.
pub(crate) const KEY_ID: &str = "altinn-sim-key-1";
/// Scopes the stand-in's Maskinporten knows.
/// Not `altinn:portal/enduser`: that is the portal's own scope for signed-in users, which
/// a Maskinporten client is refused (API-NOTES-2026 M2).
pub(crate) const SCOPES: [&str; 11] = [
    "altinn:accessmanagement/authorizedparties",
    "altinn:accessmanagement/enduser:connections:toothers.read",
    "altinn:resourceregistry/accesslist.read",
    "altinn:resourceregistry/resource.read",
    "altinn:serviceowner",
    "altinn:correspondence.write",
    "altinn:correspondence.read",
    crate::vendor::REQUEST_WRITE,
    crate::vendor::REQUEST_READ,
    crate::vendor::REGISTER_WRITE,
    "altinn:events.subscribe",
];
/// The claims a grant may carry.
const CLAIMS: [&str; 7] = [
    "aud",
    "iss",
    "scope",
    "iat",
    "exp",
    "jti",
    "authorization_details",
];

/// A grant as the stand-in saw it.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct SeenGrant {
    /// The JWT header.
    pub(crate) header: Value,
    /// The claims.
    pub(crate) claims: Value,
    /// Whether it was accepted.
    pub(crate) accepted: bool,
    /// Why not, if refused.
    pub(crate) refused: Option<String>,
}

impl Sim {
    /// A fresh token, unique in this run, with `prefix` as its first part.
    fn token(&self, prefix: &str) -> String {
        let n = self
            .serial
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut h = DefaultHasher::new();
        (self.opts.seed, prefix, n).hash(&mut h);
        format!(
            "{prefix}.{:016x}{n:08x}.{:016x}",
            h.finish(),
            h.finish().rotate_left(17)
        )
    }
}

/// An OAuth error as Maskinporten answers it (400).
pub(crate) fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// Whether the request carries an Altinn token the exchange issued.
pub(crate) fn altinn_auth(sim: &Sim, headers: &HeaderMap) -> bool {
    bearer(headers).is_some_and(|t| lock(&sim.altinn_tokens).contains(t))
}

/// The form of a token request.
#[derive(Deserialize)]
pub(crate) struct TokenForm {
    grant_type: Option<String>,
    assertion: Option<String>,
}

/// `POST /token`: Maskinporten's JWT-bearer grant.
pub(crate) async fn token(State(sim): State<Arc<Sim>>, Form(form): Form<TokenForm>) -> Response {
    if form.grant_type.as_deref() != Some(reachcheck::auth::JWT_BEARER) {
        return oauth_error(
            "unsupported_grant_type",
            "grant_type must be urn:ietf:params:oauth:grant-type:jwt-bearer",
        );
    }
    let Some(assertion) = form.assertion else {
        return oauth_error("invalid_request", "Missing assertion");
    };
    let header = jsonwebtoken::decode_header(&assertion)
        .ok()
        .and_then(|h| serde_json::to_value(h).ok())
        .unwrap_or(Value::Null);
    let claims = assertion
        .split('.')
        .nth(1)
        .and_then(|p| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .unwrap_or(Value::Null);
    let verdict = check_grant(&sim, &assertion, &header, &claims);
    lock(&sim.grants).push(SeenGrant {
        header,
        claims: claims.clone(),
        accepted: verdict.is_ok(),
        refused: verdict.as_ref().err().map(|(_, d)| d.clone()),
    });
    if let Err((error, description)) = verdict {
        return oauth_error(error, &description);
    }
    // A system user exists only for an organisation that approved it (MP-303 otherwise,
    // docs/altinn-refusals.md §1); a refusal the snapshot recorded is replayed as it is.
    let org = claims["authorization_details"][0]["systemuser_org"]["ID"]
        .as_str()
        .and_then(|id| id.strip_prefix("0192:"))
        .and_then(|o| OrgNumber::parse(o).ok());
    if let Some(org) = org {
        if let Some((status, body)) = sim.recorded_refusal(org) {
            return (status, Json(body)).into_response();
        }
        if !sim.approved(org) {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({
                    "error": reachcheck::auth::NO_SYSTEM_USER,
                    "error_description": format!("MP-303: Invalid authorization details values: no system user for the client in organisation {org}"),
                    "error_uri": format!("{}errors/MP-303", sim.issuer),
                })),
            )
                .into_response();
        }
    }
    let access = sim.token("mp");
    lock(&sim.mp_tokens).insert(access.clone());
    lock(&sim.token_orgs).insert(access.clone(), org);
    // What the token may do travels with it (the exchange copies every claim).
    lock(&sim.token_scopes).insert(
        access.clone(),
        claims["scope"].as_str().unwrap_or("").to_owned(),
    );
    Json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": sim.opts.token_lifetime,
        "scope": claims["scope"],
    }))
    .into_response()
}

fn check_grant(
    sim: &Sim,
    assertion: &str,
    header: &Value,
    claims: &Value,
) -> Result<(), (&'static str, String)> {
    let invalid = |why: &str| ("invalid_grant", format!("Invalid assertion. {why}"));
    if header["alg"] != "RS256" {
        return Err(invalid("alg must be RS256"));
    }
    if header["kid"].as_str() != Some(sim.opts.key_id.as_str()) {
        return Err(invalid("Unknown kid"));
    }
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[sim.issuer.as_str()]);
    v.set_issuer(&[sim.opts.client_id.as_str()]);
    v.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    v.leeway = 10;
    if let Err(e) = jsonwebtoken::decode::<Value>(assertion, &sim.key, &v) {
        return Err(invalid(&format!("Client authentication failed: {e}")));
    }
    let Some(obj) = claims.as_object() else {
        return Err(invalid("claims are not an object"));
    };
    if let Some(extra) = obj.keys().find(|k| !CLAIMS.contains(&k.as_str())) {
        return Err(invalid(&format!("Unknown claim {extra}")));
    }
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap_or(0),
        claims["exp"].as_i64().unwrap_or(0),
    );
    if exp - iat > reachcheck::auth::MAX_GRANT_LIFETIME_SECS || exp <= iat {
        return Err(invalid("exp - iat must be at most 120 seconds"));
    }
    let now = jiff::Timestamp::now().as_second();
    if (iat - now).abs() > 10 {
        return Err(invalid(
            "iat is not within 10 seconds of the server's clock",
        ));
    }
    let Some(jti) = claims["jti"].as_str().filter(|j| !j.is_empty()) else {
        return Err(invalid("jti is required"));
    };
    if !lock(&sim.jti).insert(jti.to_owned()) {
        return Err(invalid("The jti has been used before"));
    }
    let scope = claims["scope"].as_str().unwrap_or("");
    if scope.split_whitespace().next().is_none() {
        return Err(("invalid_scope", "Missing scope".to_owned()));
    }
    if let Some(bad) = scope.split_whitespace().find(|s| !SCOPES.contains(s)) {
        return Err((
            "invalid_scope",
            format!("Scope {bad} is not allowed for this client"),
        ));
    }
    if let Some(d) = claims.get("authorization_details") {
        let ok = d.as_array().is_some_and(|a| {
            a.len() == 1
                && a[0]["type"] == "urn:altinn:systemuser"
                && a[0]["systemuser_org"]["authority"] == "iso6523-actorid-upis"
                && a[0]["systemuser_org"]["ID"]
                    .as_str()
                    .and_then(|id| id.strip_prefix("0192:"))
                    .is_some_and(|o| OrgNumber::parse(o).is_ok())
        });
        if !ok {
            return Err((
                "invalid_authorization_details",
                "authorization_details is malformed".to_owned(),
            ));
        }
    }
    Ok(())
}

/// `GET /authentication/api/v1/exchange/maskinporten`: a Maskinporten token for an Altinn one.
pub(crate) async fn exchange(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    match bearer(&headers) {
        Some(t) if lock(&sim.mp_tokens).contains(t) => {
            let altinn = sim.token("eyJhbGciOiJSUzI1NiJ9");
            lock(&sim.altinn_tokens).insert(altinn.clone());
            let scope = lock(&sim.token_scopes).get(t).cloned().unwrap_or_default();
            lock(&sim.token_scopes).insert(altinn.clone(), scope);
            // The exchange copies every claim, `authorization_details` included.
            let org = lock(&sim.token_orgs).get(t).copied().flatten();
            lock(&sim.token_orgs).insert(altinn.clone(), org);
            // Altinn answers text/plain; some clients see it JSON-quoted.
            (
                [(header::CONTENT_TYPE, "text/plain")],
                format!("\"{altinn}\""),
            )
                .into_response()
        }
        _ => (StatusCode::UNAUTHORIZED, "").into_response(),
    }
}
