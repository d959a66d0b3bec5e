//! `altinn-sim`: a local stand-in that serves a snapshot directory over HTTP at the real
//! paths of Maskinporten, Altinn (token exchange, authorized parties, connections, profile,
//! resource registry) and Enhetsregisteret, so that the live path is tested for real without
//! the internet.
//!
//! It checks what the real services check: the Maskinporten grant's signature against the
//! client's public key, `aud`, `iss`, `exp - iat <= 120`, a `jti` never seen before, known
//! scopes and no unknown claims (answering with Maskinporten's error shape); Altinn endpoints
//! need an Altinn token from the exchange. Every unit with a connections file has approved the
//! system user. Latency, faults (5xx, 429, timeouts, malformed bodies, token refusals) and a
//! rate limit can be injected; fault decisions are a pure function of the seed and the request
//! (method, path, query, how many times it was asked), so a run is deterministic for a seed
//! whatever the order requests arrive in.
//!
//! `/_sim/grants` lists the grants' headers and claims as the stand-in saw them and
//! `/_sim/requests` counts requests by endpoint, for tests and benchmarks.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Form, Path as UrlPath, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Value, json};

use reachcheck::evidence::{CONNECTIONS, NOTIFICATION_ADDRESSES, ROLES, SUB_UNITS, UNITS};
use reachcheck::model::OrgNumber;

/// The client id the stand-in accepts unless told otherwise.
pub(crate) const CLIENT_ID: &str = "reachcheck-altinn-sim";
/// The key id the stand-in accepts unless told otherwise.
pub(crate) const KEY_ID: &str = "altinn-sim-key-1";
/// Scopes the stand-in's Maskinporten knows.
pub(crate) const SCOPES: [&str; 4] = [
    "altinn:accessmanagement/authorizedparties",
    "altinn:accessmanagement/enduser:connections:toothers.read",
    "altinn:portal/enduser",
    "altinn:resourceregistry/resource.read",
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
/// The endpoints, as counted in `/_sim/requests` and named in `only=`.
pub(crate) const ENDPOINTS: [&str; 9] = [
    "maskinporten/token",
    "altinn/exchange",
    "altinn/authorizedparties",
    "altinn/connections",
    "altinn/notificationaddresses",
    "altinn/resourcepolicy",
    "brreg/enheter",
    "brreg/underenheter",
    "brreg/roller",
];
/// Authorized parties per page.
const PAGE: usize = 100;

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
    /// Refuse a token request (Maskinporten or exchange).
    pub(crate) token: f64,
    /// Inject only on this endpoint (as `/_sim/requests` names them, e.g. `brreg/roller`).
    pub(crate) only: Option<String>,
}

impl std::str::FromStr for Faults {
    type Err = String;

    /// Parses `5xx=0.2,429=0.1,timeout=0.05,malformed=0.05,token=0.1` (any subset), with
    /// `only=ENDPOINT` to confine the faults to one endpoint.
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

/// How the stand-in behaves.
#[derive(Clone, Debug)]
pub(crate) struct SimOptions {
    /// The snapshot directory served.
    pub(crate) snapshot: PathBuf,
    /// Added to every answer.
    pub(crate) latency: Duration,
    /// Injected faults.
    pub(crate) faults: Faults,
    /// Requests per second before answering 429.
    pub(crate) rate_limit: Option<NonZeroU32>,
    /// Seed of the fault decisions.
    pub(crate) seed: u64,
    /// The client's public key (PEM).
    pub(crate) public_key_pem: Vec<u8>,
    /// The accepted client id.
    pub(crate) client_id: String,
    /// The accepted key id.
    pub(crate) key_id: String,
    /// Lifetime of Maskinporten tokens, seconds.
    pub(crate) token_lifetime: u64,
}

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

struct Sim {
    opts: SimOptions,
    issuer: String,
    files: HashMap<String, Vec<u8>>,
    /// Organisation number → (party uuid, name, unit type), for units that approved.
    parties: BTreeMap<OrgNumber, (String, Option<String>, Option<String>)>,
    key: DecodingKey,
    jti: Mutex<HashSet<String>>,
    mp_tokens: Mutex<HashSet<String>>,
    altinn_tokens: Mutex<HashSet<String>>,
    grants: Mutex<Vec<SeenGrant>>,
    asked: Mutex<HashMap<String, u64>>,
    counts: Mutex<BTreeMap<String, u64>>,
    limiter: Option<DefaultDirectRateLimiter>,
    serial: std::sync::atomic::AtomicU64,
}

/// The party UUID the stand-in gives a unit.
pub(crate) fn party_uuid(org: OrgNumber) -> String {
    format!("00000000-0000-4000-8000-{:012}", org.get())
}

fn org_of_party(uuid: &str) -> Option<OrgNumber> {
    let tail = uuid.strip_prefix("00000000-0000-4000-8000-")?;
    OrgNumber::parse(tail.trim_start_matches('0')).ok()
}

fn load_files(root: &Path) -> std::io::Result<HashMap<String, Vec<u8>>> {
    let mut out = HashMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(root) {
                let rel = rel.to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read(&path)?);
            }
        }
    }
    Ok(out)
}

/// Why the stand-in cannot start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SimError {
    /// The snapshot cannot be read.
    #[error("`{0}`: cannot read the snapshot directory: {1}")]
    Snapshot(PathBuf, std::io::Error),
    /// The public key is unusable.
    #[error("the client's public key is not an RSA public key in PEM format: {0}")]
    Key(String),
}

impl Sim {
    fn new(opts: SimOptions, issuer: String) -> Result<Sim, SimError> {
        let files =
            load_files(&opts.snapshot).map_err(|e| SimError::Snapshot(opts.snapshot.clone(), e))?;
        let mut parties = BTreeMap::new();
        for rel in files.keys() {
            let Some(name) = rel
                .strip_prefix(&format!("{CONNECTIONS}/"))
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            let Ok(org) = OrgNumber::parse(name) else {
                continue;
            };
            let unit = files
                .get(&format!("{UNITS}/{org}.json"))
                .or_else(|| files.get(&format!("{SUB_UNITS}/{org}.json")))
                .and_then(|b| serde_json::from_slice::<Value>(b).ok());
            let name = unit
                .as_ref()
                .and_then(|u| u["navn"].as_str())
                .map(str::to_owned);
            let kind = unit
                .as_ref()
                .and_then(|u| u["organisasjonsform"]["kode"].as_str())
                .map(str::to_owned);
            parties.insert(org, (party_uuid(org), name, kind));
        }
        reachcheck::auth::install_crypto();
        let key = DecodingKey::from_rsa_pem(&opts.public_key_pem)
            .map_err(|e| SimError::Key(e.to_string()))?;
        let limiter = opts
            .rate_limit
            .map(|n| RateLimiter::direct(Quota::per_second(n)));
        Ok(Sim {
            issuer,
            files,
            parties,
            key,
            jti: Mutex::default(),
            mp_tokens: Mutex::default(),
            altinn_tokens: Mutex::default(),
            grants: Mutex::default(),
            asked: Mutex::default(),
            counts: Mutex::default(),
            limiter,
            serial: std::sync::atomic::AtomicU64::new(1),
            opts,
        })
    }

    fn file(&self, rel: &str) -> Option<&[u8]> {
        self.files.get(rel).map(Vec::as_slice)
    }

    /// A fraction in [0, 1) that depends only on the seed, the request and `salt`.
    fn roll(&self, key: &str, nth: u64, salt: &str) -> f64 {
        let mut h = DefaultHasher::new();
        (self.opts.seed, key, nth, salt).hash(&mut h);
        let x = h.finish();
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Names an endpoint for counting (`brreg/enheter`, `altinn/connections`, ...).
fn endpoint(path: &str) -> &'static str {
    match path {
        "/token" => "maskinporten/token",
        p if p.starts_with("/authentication/") => "altinn/exchange",
        p if p.ends_with("/authorizedparties") => "altinn/authorizedparties",
        p if p.starts_with("/accessmanagement/") => "altinn/connections",
        p if p.starts_with("/profile/") => "altinn/notificationaddresses",
        p if p.starts_with("/resourceregistry/") => "altinn/resourcepolicy",
        p if p.ends_with("/roller") => "brreg/roller",
        p if p.starts_with("/enhetsregisteret/api/underenheter") => "brreg/underenheter",
        p if p.starts_with("/enhetsregisteret/") => "brreg/enheter",
        p if p.starts_with("/_sim/") => "sim",
        _ => "other",
    }
}

async fn discipline(State(sim): State<Arc<Sim>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let ep = endpoint(&path);
    if ep == "sim" {
        return next.run(req).await;
    }
    *lock(&sim.counts).entry(ep.to_owned()).or_default() += 1;
    if !sim.opts.latency.is_zero() {
        tokio::time::sleep(sim.opts.latency).await;
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
    let f = match &sim.opts.faults.only {
        Some(only) if only != ep => &none,
        _ => &sim.opts.faults,
    };
    let is_token = ep == "maskinporten/token" || ep == "altinn/exchange";
    if is_token && sim.roll(&key, nth, "token") < f.token {
        return if ep == "maskinporten/token" {
            oauth_error(
                "invalid_grant",
                "Invalid assertion. Client authentication failed (injected fault).",
            )
        } else {
            (StatusCode::UNAUTHORIZED, "").into_response()
        };
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

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn json_file(bytes: Option<&[u8]>) -> Response {
    match bytes {
        Some(b) => ([(header::CONTENT_TYPE, "application/json")], b.to_vec()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"title": "Not Found", "status": 404})),
        )
            .into_response(),
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// Whether the request carries an Altinn token the exchange issued.
fn altinn_auth(sim: &Sim, headers: &HeaderMap) -> bool {
    bearer(headers).is_some_and(|t| lock(&sim.altinn_tokens).contains(t))
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    assertion: Option<String>,
}

async fn token(State(sim): State<Arc<Sim>>, Form(form): Form<TokenForm>) -> Response {
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
    let access = sim.token("mp");
    lock(&sim.mp_tokens).insert(access.clone());
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

async fn exchange(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    match bearer(&headers) {
        Some(t) if lock(&sim.mp_tokens).contains(t) => {
            let altinn = sim.token("eyJhbGciOiJSUzI1NiJ9");
            lock(&sim.altinn_tokens).insert(altinn.clone());
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

#[derive(Deserialize)]
struct PageQuery {
    page: Option<usize>,
}

async fn authorized_parties(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    if !altinn_auth(&sim, &headers) {
        return (StatusCode::UNAUTHORIZED, "").into_response();
    }
    let page = q.page.unwrap_or(1).max(1);
    let all: Vec<Value> = sim
        .parties
        .iter()
        .map(|(org, (uuid, name, kind))| {
            json!({
                "partyUuid": uuid, "name": name, "organizationNumber": org.to_string(),
                "type": "Organization", "unitType": kind, "isDeleted": false,
                "onlyHierarchyElementWithNoAccess": false, "authorizedResources": [],
                "authorizedRoles": [], "subunits": []
            })
        })
        .collect();
    let data: Vec<&Value> = all.iter().skip((page - 1) * PAGE).take(PAGE).collect();
    let next = (page * PAGE < all.len()).then(|| {
        format!(
            "/accessmanagement/api/v1/enduser/authorizedparties?includeSubParties=true&page={}",
            page + 1
        )
    });
    Json(json!({"links": {"next": next}, "data": data})).into_response()
}

#[derive(Deserialize)]
struct ConnQuery {
    party: Option<String>,
    from: Option<String>,
}

async fn connections(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<ConnQuery>,
) -> Response {
    if !altinn_auth(&sim, &headers) {
        return (StatusCode::UNAUTHORIZED, "").into_response();
    }
    let (Some(party), Some(from)) = (q.party, q.from) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"title": "party and from are required"})),
        )
            .into_response();
    };
    if party != from {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"title": "party must equal from"})),
        )
            .into_response();
    }
    match org_of_party(&party).filter(|o| sim.parties.contains_key(o)) {
        Some(org) => json_file(sim.file(&format!("{CONNECTIONS}/{org}.json"))),
        None => (StatusCode::FORBIDDEN, "").into_response(),
    }
}

async fn brreg_unit(State(sim): State<Arc<Sim>>, UrlPath(org): UrlPath<String>) -> Response {
    json_file(sim.file(&format!("{UNITS}/{org}.json")))
}

async fn brreg_sub_unit(State(sim): State<Arc<Sim>>, UrlPath(org): UrlPath<String>) -> Response {
    json_file(sim.file(&format!("{SUB_UNITS}/{org}.json")))
}

async fn brreg_roles(State(sim): State<Arc<Sim>>, UrlPath(org): UrlPath<String>) -> Response {
    json_file(sim.file(&format!("{ROLES}/{org}.json")))
}

async fn notification_addresses(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    UrlPath(org): UrlPath<String>,
) -> Response {
    if !altinn_auth(&sim, &headers) {
        return (StatusCode::UNAUTHORIZED, "").into_response();
    }
    json_file(sim.file(&format!("{NOTIFICATION_ADDRESSES}/{org}.json")))
}

async fn resource_policy(State(sim): State<Arc<Sim>>, UrlPath(id): UrlPath<String>) -> Response {
    match sim.file(&format!("resourceregistry/{id}/policy.xml")) {
        Some(b) => ([(header::CONTENT_TYPE, "text/xml")], b.to_vec()).into_response(),
        None => (StatusCode::NOT_FOUND, "Unable to find requested policy").into_response(),
    }
}

async fn seen_grants(State(sim): State<Arc<Sim>>) -> Response {
    Json(lock(&sim.grants).clone()).into_response()
}

async fn request_counts(State(sim): State<Arc<Sim>>) -> Response {
    Json(lock(&sim.counts).clone()).into_response()
}

async fn not_found(method: Method, uri: axum::http::Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"title": "Not Found", "status": 404, "detail": format!("{method} {} is not served by altinn-sim", uri.path())})),
    )
        .into_response()
}

/// A running stand-in.
#[derive(Debug)]
pub(crate) struct Running {
    /// `http://HOST:PORT`.
    pub(crate) base_url: String,
    /// Finishes when the server stops.
    pub(crate) task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Serves `opts` on `listener` until the task is aborted.
///
/// # Errors
/// The snapshot or key is unusable.
pub(crate) fn serve(
    opts: SimOptions,
    listener: tokio::net::TcpListener,
) -> Result<Running, SimError> {
    let addr = listener
        .local_addr()
        .map_err(|e| SimError::Snapshot(opts.snapshot.clone(), e))?;
    let base_url = format!("http://{addr}");
    let sim = Arc::new(Sim::new(opts, format!("{base_url}/"))?);
    let app = Router::new()
        .route("/token", post(token))
        .route(
            "/authentication/api/v1/exchange/maskinporten",
            get(exchange),
        )
        .route(
            "/accessmanagement/api/v1/enduser/authorizedparties",
            get(authorized_parties),
        )
        .route(
            "/accessmanagement/api/v1/enduser/connections",
            get(connections),
        )
        .route("/enhetsregisteret/api/enheter/{org}", get(brreg_unit))
        .route(
            "/enhetsregisteret/api/enheter/{org}/roller",
            get(brreg_roles),
        )
        .route(
            "/enhetsregisteret/api/underenheter/{org}",
            get(brreg_sub_unit),
        )
        .route(
            "/profile/api/v1/organizations/{org}/notificationaddresses/mandatory",
            get(notification_addresses),
        )
        .route(
            "/resourceregistry/api/v1/resource/{id}/policy",
            get(resource_policy),
        )
        .route("/_sim/grants", get(seen_grants))
        .route("/_sim/requests", get(request_counts))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&sim), discipline))
        .with_state(sim);
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Running { base_url, task })
}

/// A fresh RSA key pair for a test client: (private PKCS#8 PEM, public PEM).
///
/// # Errors
/// Key generation or encoding failed.
pub(crate) fn generate_key_pair() -> Result<(String, String), String> {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let mut rng = rand08::rngs::OsRng;
    let private = rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|e| e.to_string())?;
    let public = rsa::RsaPublicKey::from(&private);
    let private_pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| e.to_string())?
        .to_string();
    let public_pem = public
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| e.to_string())?;
    Ok((private_pem, public_pem))
}

/// The `[live]` configuration that points reachcheck at a stand-in at `base_url`, with the
/// private key in `key_file` (a path as it should appear in the config).
pub(crate) fn live_config(base_url: &str, key_file: &str) -> String {
    format!(
        "# Written by altinn-sim: reachcheck's live sources pointed at a local stand-in.\n\
         # The key is a throwaway test key. Plain http:// is allowed only because of allow_http.\n\
         [live]\n\
         allow_http = true\n\
         altinn_url = \"{base_url}\"\n\
         brreg_url = \"{base_url}\"\n\
         maskinporten_token_url = \"{base_url}/token\"\n\
         maskinporten_audience = \"{base_url}/\"\n\
         client_id = \"{CLIENT_ID}\"\n\
         key_file = \"{key_file}\"\n\
         key_id = \"{KEY_ID}\"\n"
    )
}
