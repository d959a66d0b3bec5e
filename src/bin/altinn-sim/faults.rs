//! What can go wrong, and when: the faults (`--faults`), latency (`--latency-ms`) and the
//! rate limit (`--rate-limit`) that one middleware applies to every request, counting it by
//! endpoint on the way. Fault decisions are a pure function of the seed and the request
//! (method, path, query, how many times it was asked), so a run is deterministic for a seed
//! whatever the order requests arrive in.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::server::{Sim, lock};

/// The endpoints, as counted in `/_sim/requests` and named in `only=`.
pub(crate) const ENDPOINTS: [&str; 15] = [
    "maskinporten/token",
    "altinn/exchange",
    "altinn/authorizedparties",
    "altinn/connections",
    "altinn/resourcerights",
    "altinn/notificationaddresses",
    "altinn/resourcepolicy",
    "altinn/resource",
    "altinn/accesslists",
    "altinn/accesslistmembers",
    "brreg/enheter",
    "brreg/underenheter",
    "brreg/roller",
    "altinn/correspondence",
    "altinn/correspondencedetails",
];

/// Fault probabilities, each in [0, 1], on every endpoint or only one.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Faults {
    /// Answer 503.
    pub(crate) server_error: f64,
    /// Answer 429 with `Retry-After`.
    pub(crate) too_many: f64,
    /// Never answer (the client times out).
    pub(crate) timeout: f64,
    /// Answer 200 with a body cut in half.
    pub(crate) malformed: f64,
    /// Fail a token request (Maskinporten or exchange) with 503: unavailable, not refused.
    pub(crate) token: f64,
    /// Inject only on this endpoint (as `/_sim/requests` names them, e.g. `brreg/roller`).
    pub(crate) only: Option<String>,
    /// Inject only the first this many times each request (method, path, query) is asked:
    /// a fault that goes away when asked again.
    pub(crate) first: Option<u64>,
}

impl std::str::FromStr for Faults {
    type Err = String;

    /// Parses `5xx=0.2,429=0.1,timeout=0.05,malformed=0.05,token=0.1` (any subset), with
    /// `only=ENDPOINT` to confine the faults to one endpoint and `first=N` to the first N
    /// times each request is asked.
    fn from_str(s: &str) -> Result<Faults, String> {
        let mut f = Faults::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: expected KIND=PROBABILITY, e.g. 5xx=0.2"))?;
            if k.trim() == "only" {
                let e = v.trim();
                if !ENDPOINTS.contains(&e) {
                    return Err(format!(
                        "`{e}`: unknown endpoint; known: {}",
                        ENDPOINTS.join(", ")
                    ));
                }
                f.only = Some(e.to_owned());
                continue;
            }
            if k.trim() == "first" {
                let n = v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| {
                        format!("`{part}`: `first` must be a whole number of requests, 1 or more")
                    })?;
                f.first = Some(n);
                continue;
            }
            let p: f64 = v
                .trim()
                .parse()
                .ok()
                .filter(|p: &f64| (0.0..=1.0).contains(p))
                .ok_or_else(|| format!("`{part}`: the probability must be a number from 0 to 1"))?;
            match k.trim() {
                "5xx" => f.server_error = p,
                "429" => f.too_many = p,
                "timeout" => f.timeout = p,
                "malformed" => f.malformed = p,
                "token" => f.token = p,
                other => {
                    return Err(format!(
                        "`{other}`: unknown fault; known: 5xx, 429, timeout, malformed, token"
                    ));
                }
            }
        }
        Ok(f)
    }
}

impl Sim {
    /// A fraction in [0, 1) that depends only on the seed, the request and `salt`.
    fn roll(&self, key: &str, nth: u64, salt: &str) -> f64 {
        let mut h = DefaultHasher::new();
        (self.opts.seed, key, nth, salt).hash(&mut h);
        let x = h.finish();
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Names an endpoint for counting (`brreg/enheter`, `altinn/connections`, ...).
fn endpoint(path: &str) -> &'static str {
    match path {
        "/token" => "maskinporten/token",
        p if p.starts_with("/authentication/api/v1/system") => "altinn/systemuser",
        p if p.starts_with("/authentication/") => "altinn/exchange",
        p if p.ends_with("/authorizedparties") => "altinn/authorizedparties",
        p if p.ends_with("/resources/rights") => "altinn/resourcerights",
        p if p.starts_with("/accessmanagement/") => "altinn/connections",
        p if p.starts_with("/profile/") => "altinn/notificationaddresses",
        p if p.starts_with("/resourceregistry/") && p.ends_with("/policy") => {
            "altinn/resourcepolicy"
        }
        p if p.starts_with("/resourceregistry/api/v1/access-lists/") && p.ends_with("/members") => {
            "altinn/accesslistmembers"
        }
        p if p.starts_with("/resourceregistry/api/v1/access-lists/") => "altinn/accesslists",
        p if p.starts_with("/resourceregistry/") => "altinn/resource",
        p if p.starts_with("/correspondence/") && p.ends_with("/details") => {
            "altinn/correspondencedetails"
        }
        p if p.starts_with("/correspondence/") => "altinn/correspondence",
        p if p.ends_with("/roller") => "brreg/roller",
        p if p.starts_with("/enhetsregisteret/api/underenheter") => "brreg/underenheter",
        p if p.starts_with("/enhetsregisteret/") => "brreg/enheter",
        p if p.starts_with("/_sim/") => "sim",
        _ => "other",
    }
}

/// Counts the request by endpoint, then adds latency, applies the rate limit and injects
/// the faults that the seed and the request decide.
pub(crate) async fn discipline(State(sim): State<Arc<Sim>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let ep = endpoint(&path);
    if ep == "sim" {
        return next.run(req).await;
    }
    *lock(&sim.counts).entry(ep.to_owned()).or_default() += 1;
    if !sim.opts.latency.is_zero() {
        tokio::time::sleep(sim.opts.latency).await;
    }
    // API management in front of the platform's APIs (the token exchange aside).
    let platform = ["/accessmanagement/", "/profile/", "/resourceregistry/"];
    if let Some(key) = &sim.opts.platform_subscription_key
        && platform.iter().any(|p| path.starts_with(p))
        && let Some(refusal) = crate::server::apim_refusal(key, req.headers())
    {
        return refusal;
    }
    if let Some(l) = &sim.limiter
        && l.check().is_err()
    {
        *lock(&sim.counts)
            .entry("rate_limited".to_owned())
            .or_default() += 1;
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, HeaderValue::from_static("1"))],
            Json(json!({"title": "Too many requests", "status": 429})),
        )
            .into_response();
    }
    let key = format!("{} {}", req.method(), req.uri());
    let nth = {
        let mut asked = lock(&sim.asked);
        let n = asked.entry(key.clone()).or_default();
        *n += 1;
        *n
    };
    let none = Faults::default();
    let asked_again = sim.opts.faults.first.is_some_and(|n| nth > n);
    let f = match &sim.opts.faults.only {
        _ if asked_again => &none,
        Some(only) if only != ep => &none,
        _ => &sim.opts.faults,
    };
    let is_token = ep == "maskinporten/token" || ep == "altinn/exchange";
    // A token fault is a failure, not a refusal: the token endpoint is unavailable for a
    // moment. (A refusal says something about the client or an organisation; the world
    // the stand-in serves decides those: which organisations approved, the grant's checks.)
    if is_token && sim.roll(&key, nth, "token") < f.token {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"title": "Service Unavailable", "status": 503})),
        )
            .into_response();
    }
    if sim.roll(&key, nth, "5xx") < f.server_error {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"title": "Service Unavailable", "status": 503})),
        )
            .into_response();
    }
    if sim.roll(&key, nth, "429") < f.too_many {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, HeaderValue::from_static("1"))],
            "",
        )
            .into_response();
    }
    if sim.roll(&key, nth, "timeout") < f.timeout {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let malformed = sim.roll(&key, nth, "malformed") < f.malformed;
    let resp = next.run(req).await;
    if malformed && resp.status().is_success() {
        let (parts, body) = resp.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        let cut = bytes.slice(..bytes.len() / 2);
        let garbage = if cut.is_empty() {
            bytes::Bytes::from_static(b"{\"data\": [")
        } else {
            cut
        };
        let mut parts = parts;
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, axum::body::Body::from(garbage));
    }
    resp
}
