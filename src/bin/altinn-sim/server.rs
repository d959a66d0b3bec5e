//! The HTTP server: the snapshot's files loaded once, the shared state, the routes at the
//! real APIs' paths and the handlers of Altinn's and Enhetsregisteret's data endpoints.
//! Maskinporten and the exchange are in `grant.rs`; what every request passes through
//! (counting, latency, the rate limit, faults) is in `faults.rs`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use serde_json::{Value, json};

use reachcheck::evidence::{
    CONNECTIONS, MASKINPORTEN, NOTIFICATION_ADDRESSES, ROLES, STATUS_SUFFIX, SUB_UNITS, UNITS,
};

/// Vendor system-user requests, by the organisation asked: `<dir>/<orgnr>.json`.
pub(crate) const SYSTEM_USER_REQUESTS: &str = "authentication/systemuser/request";
use reachcheck::model::OrgNumber;

use crate::correspondence::{CorrespondenceOptions, Mailroom};
use crate::faults::{Faults, discipline};
use crate::grant::{SeenGrant, altinn_auth, exchange, token};
use crate::registry;

/// Authorized parties per page.
const PAGE: usize = 100;

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
    /// Policies Altinn enforces for resources whose policy the snapshot did not record.
    pub(crate) policies: Option<PathBuf>,
    /// Profile answers system-user tokens (the real one's access check may refuse them).
    pub(crate) profile_for_system_users: bool,
    /// The subscription key Access management, profile and the resource registry require.
    pub(crate) platform_subscription_key: Option<String>,
    /// Correspondence: the sender, the subscription key, how recipients read, the clock.
    pub(crate) correspondence: CorrespondenceOptions,
    /// reachcheck's system in Altinn's system register, if registered.
    pub(crate) system: Option<crate::vendor::SystemRegistration>,
    /// Events may push to a plain `http://` endpoint (`--allow-http-webhooks`).
    pub(crate) allow_http_webhooks: bool,
}

/// API management's refusal of a request without the subscription key `key` (401 with its
/// own body shape), if it is one.
pub(crate) fn apim_refusal(key: &str, headers: &HeaderMap) -> Option<Response> {
    let given = headers
        .get("Ocp-Apim-Subscription-Key")
        .and_then(|v| v.to_str().ok());
    if given == Some(key) {
        return None;
    }
    let message = if given.is_none() {
        "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API."
    } else {
        "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."
    };
    Some(
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"statusCode": 401, "message": message})),
        )
            .into_response(),
    )
}

/// The stand-in's state, shared by every handler.
pub(crate) struct Sim {
    pub(crate) opts: SimOptions,
    pub(crate) issuer: String,
    files: HashMap<String, Vec<u8>>,
    /// Every unit the snapshot has a record of: its name, form and main unit.
    units: BTreeMap<OrgNumber, UnitInfo>,
    /// Organisations whose system user for this client exists (they approved it); grows
    /// when a vendor request is approved (`/_sim/approve/{id}`).
    pub(crate) approved: Mutex<BTreeSet<OrgNumber>>,
    /// The vendor's registered system and its system-user requests.
    pub(crate) vendor: crate::vendor::Vendor,
    /// The organisation whose system user each issued token acts for (`None`: a token
    /// without `authorization_details`, the client's own).
    pub(crate) token_orgs: Mutex<HashMap<String, Option<OrgNumber>>>,
    pub(crate) key: DecodingKey,
    pub(crate) jti: Mutex<HashSet<String>>,
    pub(crate) mp_tokens: Mutex<HashSet<String>>,
    pub(crate) altinn_tokens: Mutex<HashSet<String>>,
    pub(crate) grants: Mutex<Vec<SeenGrant>>,
    pub(crate) asked: Mutex<HashMap<String, u64>>,
    pub(crate) counts: Mutex<BTreeMap<String, u64>>,
    pub(crate) limiter: Option<DefaultDirectRateLimiter>,
    pub(crate) serial: std::sync::atomic::AtomicU64,
    /// The scopes each issued token carries.
    pub(crate) token_scopes: Mutex<HashMap<String, String>>,
    /// Correspondence's messages, behaviours and clock.
    pub(crate) mailroom: Mailroom,
    /// Events: subscriptions and pushes.
    pub(crate) hub: crate::events::Hub,
}

/// The party UUID the stand-in gives a unit.
pub(crate) fn party_uuid(org: OrgNumber) -> String {
    format!("00000000-0000-4000-8000-{:012}", org.get())
}

/// What the stand-in knows of a unit from its Enhetsregisteret record.
#[derive(Clone, Debug)]
pub(crate) struct UnitInfo {
    name: Option<String>,
    form: Option<String>,
    main_unit: Option<OrgNumber>,
}

/// Every unit with a record in the snapshot (main units and sub-units).
fn units_of(files: &HashMap<String, Vec<u8>>) -> BTreeMap<OrgNumber, UnitInfo> {
    let mut out = BTreeMap::new();
    for (rel, bytes) in files {
        let Some(name) = rel
            .strip_prefix(&format!("{UNITS}/"))
            .or_else(|| rel.strip_prefix(&format!("{SUB_UNITS}/")))
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        let (Ok(org), Ok(v)) = (
            OrgNumber::parse(name),
            serde_json::from_slice::<Value>(bytes),
        ) else {
            continue;
        };
        out.insert(
            org,
            UnitInfo {
                name: v["navn"].as_str().map(str::to_owned),
                form: v["organisasjonsform"]["kode"].as_str().map(str::to_owned),
                main_unit: v["overordnetEnhet"]
                    .as_str()
                    .and_then(|m| OrgNumber::parse(m).ok()),
            },
        );
    }
    out
}

/// Which organisations approved reachcheck's system user: those whose vendor request
/// (`authentication/systemuser/request/<org>.json`) says `Accepted`; in a snapshot without
/// requests, those whose connections (or a sub-unit's) were recorded. A recorded
/// Maskinporten refusal (`auth/maskinporten/<org>.status.json`) always wins.
fn approvals(
    files: &HashMap<String, Vec<u8>>,
    units: &BTreeMap<OrgNumber, UnitInfo>,
) -> BTreeSet<OrgNumber> {
    let org_in = |rel: &str, dir: &str| {
        rel.strip_prefix(&format!("{dir}/"))
            .and_then(|n| n.strip_suffix(".json"))
            .and_then(|n| OrgNumber::parse(n).ok())
    };
    let requests: Vec<(OrgNumber, &Vec<u8>)> = files
        .iter()
        .filter_map(|(rel, b)| org_in(rel, SYSTEM_USER_REQUESTS).map(|o| (o, b)))
        .collect();
    let mut approved: BTreeSet<OrgNumber> = if requests.is_empty() {
        files
            .keys()
            .filter_map(|rel| org_in(rel, CONNECTIONS))
            .map(|o| {
                units
                    .get(&o)
                    .and_then(|u| u.main_unit)
                    .filter(|_| {
                        // A sub-unit is read through its main unit's system user.
                        files.contains_key(&format!("{SUB_UNITS}/{o}.json"))
                    })
                    .unwrap_or(o)
            })
            .collect()
    } else {
        requests
            .into_iter()
            .filter(|(_, b)| {
                serde_json::from_slice::<Value>(b)
                    .is_ok_and(|v| v["status"].as_str() == Some("Accepted"))
            })
            .map(|(o, _)| o)
            .collect()
    };
    approved.retain(|o| !files.contains_key(&format!("{MASKINPORTEN}/{o}{STATUS_SUFFIX}")));
    approved
}

/// The unit a party UUID of this stand-in names.
pub(crate) fn org_of_party(uuid: &str) -> Option<OrgNumber> {
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
        let units = units_of(&files);
        let approved = approvals(&files, &units);
        reachcheck::auth::install_crypto();
        let key = DecodingKey::from_rsa_pem(&opts.public_key_pem)
            .map_err(|e| SimError::Key(e.to_string()))?;
        let limiter = opts
            .rate_limit
            .map(|n| RateLimiter::direct(Quota::per_second(n)));
        let mailroom = Mailroom::new(opts.correspondence.clone(), opts.seed, &files);
        let vendor = crate::vendor::Vendor::new(opts.system.clone(), &files, &issuer);
        Ok(Sim {
            vendor,
            issuer,
            mailroom,
            hub: crate::events::Hub::new(opts.allow_http_webhooks),
            token_scopes: Mutex::default(),
            files,
            units,
            approved: Mutex::new(approved),
            token_orgs: Mutex::default(),
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

    pub(crate) fn file(&self, rel: &str) -> Option<&[u8]> {
        self.files.get(rel).map(Vec::as_slice)
    }

    /// The status recorded for `rel` (`<rel>.status.json`) and its body, if any.
    pub(crate) fn recorded_status(&self, rel: &str) -> Option<(StatusCode, Value)> {
        let raw: Value = serde_json::from_slice(self.file(&format!("{rel}.status.json"))?).ok()?;
        let status = raw["status"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .and_then(|s| StatusCode::from_u16(s).ok())?;
        Some((status, raw.get("body").cloned().unwrap_or(Value::Null)))
    }

    /// Whether `org` has approved reachcheck's system user.
    pub(crate) fn approved(&self, org: OrgNumber) -> bool {
        lock(&self.approved).contains(&org)
    }

    /// Whether the snapshot has a record of `org` in Enhetsregisteret.
    pub(crate) fn knows(&self, org: OrgNumber) -> bool {
        self.units.contains_key(&org)
    }

    /// The organisation a token's system user acts for, if it is a system-user token.
    pub(crate) fn token_org(&self, headers: &HeaderMap) -> Option<OrgNumber> {
        let t = crate::grant::bearer(headers)?;
        lock(&self.token_orgs).get(t).copied().flatten()
    }

    /// The parties a system user of `org` may act for: `org` and its sub-units.
    pub(crate) fn parties_of(&self, org: OrgNumber) -> Vec<OrgNumber> {
        std::iter::once(org)
            .chain(
                self.units
                    .iter()
                    .filter(|(_, u)| u.main_unit == Some(org))
                    .map(|(o, _)| *o),
            )
            .collect()
    }

    /// Whether a token may read what `party` (a party UUID) has: it is a system-user token
    /// of the party's organisation or of its main unit.
    pub(crate) fn may_read(&self, headers: &HeaderMap, party: &str) -> Option<OrgNumber> {
        let org = org_of_party(party)?;
        let own = self.token_org(headers)?;
        self.parties_of(own).contains(&org).then_some(org)
    }

    /// The organisation whose connections an Access management request asks about, as
    /// Altinn checks it: an Altinn token (else 401), every required parameter (`party` and
    /// `from`, and the caller's others when `others_missing` names them; else 400),
    /// `party == from` (400), and a party of the token's own system user (else 403,
    /// docs/altinn-refusals.md §5).
    pub(crate) fn asked_party(
        &self,
        headers: &HeaderMap,
        party: Option<&str>,
        from: Option<&str>,
        others_missing: Option<&str>,
    ) -> Result<OrgNumber, Box<Response>> {
        if !altinn_auth(self, headers) {
            return Err(Box::new((StatusCode::UNAUTHORIZED, "").into_response()));
        }
        let bad = |title: String| {
            (StatusCode::BAD_REQUEST, Json(json!({ "title": title }))).into_response()
        };
        let (Some(party), Some(from)) = (party, from) else {
            return Err(Box::new(bad(others_missing.map_or_else(
                || "party and from are required".to_owned(),
                |o| format!("party, from, {o} are required"),
            ))));
        };
        if let Some(o) = others_missing {
            return Err(Box::new(bad(format!("party, from, {o} are required"))));
        }
        if party != from {
            return Err(Box::new(bad("party must equal from".to_owned())));
        }
        self.may_read(headers, party)
            .ok_or_else(|| Box::new((StatusCode::FORBIDDEN, "").into_response()))
    }

    /// Maskinporten's refusal for `org`, if the snapshot recorded one.
    pub(crate) fn recorded_refusal(&self, org: OrgNumber) -> Option<(StatusCode, Value)> {
        self.recorded_status(&format!("{MASKINPORTEN}/{org}"))
    }

    /// Whether the request carries a Maskinporten token this stand-in issued.
    pub(crate) fn maskinporten_auth(&self, headers: &HeaderMap) -> bool {
        crate::grant::bearer(headers).is_some_and(|t| lock(&self.mp_tokens).contains(t))
    }

    /// The owner the recorded registry entry of `resource` names: its org code and
    /// organisation number.
    pub(crate) fn resource_owner(&self, resource: &str) -> Option<(String, Option<OrgNumber>)> {
        let entry: Value = serde_json::from_slice(
            self.file(&format!("resourceregistry/{resource}/resource.json"))?,
        )
        .ok()?;
        let authority = &entry["hasCompetentAuthority"];
        Some((
            authority["orgcode"].as_str()?.to_owned(),
            authority["organization"]
                .as_str()
                .and_then(|o| OrgNumber::parse(o).ok()),
        ))
    }

    /// Whether the client's organisation owns a resource whose owner has org code `code`.
    pub(crate) fn owns_lists_of(&self, code: &str) -> bool {
        let Some(client) = self.opts.correspondence.client_org else {
            return false;
        };
        self.files
            .keys()
            .filter_map(|rel| {
                rel.strip_prefix("resourceregistry/")?
                    .strip_suffix("/resource.json")
            })
            .filter_map(|r| self.resource_owner(r))
            .any(|(c, org)| c == code && org == Some(client))
    }
}

/// The recorded answer for `rel`: the file (200), else its `.status.json` (that status
/// and body), else 404.
pub(crate) fn replay(sim: &Sim, rel: &str) -> Response {
    if let Some(b) = sim.file(rel) {
        return ([(header::CONTENT_TYPE, "application/json")], b.to_vec()).into_response();
    }
    match sim.recorded_status(rel) {
        Some((status, Value::Null)) => status.into_response(),
        Some((status, body)) => (status, Json(body)).into_response(),
        None => json_file(None),
    }
}

/// Locks `m`, whether or not a panicking holder poisoned it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
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
    // Altinn lists the parties of the token's user; a token with neither a user nor a
    // system user is refused (docs/altinn-refusals.md §5).
    let Some(own) = sim.token_org(&headers) else {
        return (StatusCode::UNAUTHORIZED, "Unknown user type").into_response();
    };
    let party = |org: OrgNumber| {
        let u = sim.units.get(&org);
        json!({
            "partyUuid": party_uuid(org), "name": u.and_then(|u| u.name.clone()),
            "organizationNumber": org.to_string(), "type": "Organization",
            "unitType": u.and_then(|u| u.form.clone()), "isDeleted": false,
            "onlyHierarchyElementWithNoAccess": false, "authorizedResources": [],
            "authorizedRoles": [], "subunits": []
        })
    };
    let mut top = party(own);
    top["subunits"] = Value::Array(sim.parties_of(own).into_iter().skip(1).map(party).collect());
    let all = [top];
    let page = q.page.unwrap_or(1).max(1);
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
    match sim.asked_party(&headers, q.party.as_deref(), q.from.as_deref(), None) {
        Ok(org) => replay(&sim, &format!("{CONNECTIONS}/{org}.json")),
        Err(refusal) => *refusal,
    }
}

async fn brreg_unit(State(sim): State<Arc<Sim>>, UrlPath(org): UrlPath<String>) -> Response {
    replay(&sim, &format!("{UNITS}/{org}.json"))
}

async fn brreg_sub_unit(State(sim): State<Arc<Sim>>, UrlPath(org): UrlPath<String>) -> Response {
    replay(&sim, &format!("{SUB_UNITS}/{org}.json"))
}

async fn brreg_roles(State(sim): State<Arc<Sim>>, UrlPath(org): UrlPath<String>) -> Response {
    replay(&sim, &format!("{ROLES}/{org}.json"))
}

async fn notification_addresses(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    UrlPath(org): UrlPath<String>,
) -> Response {
    if !altinn_auth(&sim, &headers) {
        return (StatusCode::UNAUTHORIZED, "").into_response();
    }
    // Altinn's profile answers the organisation's own users; its access check refuses a
    // system user (API-NOTES-2026 M3; docs/altinn-refusals.md §6), unless told otherwise.
    if sim.token_org(&headers).is_some() && !sim.opts.profile_for_system_users {
        return (StatusCode::FORBIDDEN, "").into_response();
    }
    replay(&sim, &format!("{NOTIFICATION_ADDRESSES}/{org}.json"))
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
            "/authentication/api/v1/systemregister/vendor/{system}",
            get(crate::vendor::system),
        )
        .route(
            "/authentication/api/v1/systemuser/request/vendor",
            post(crate::vendor::create),
        )
        .route(
            "/authentication/api/v1/systemuser/request/vendor/{id}",
            get(crate::vendor::request),
        )
        .route(
            "/authentication/api/v1/systemuser/request/vendor/byexternalref/{system}/{org}/{ext}",
            get(crate::vendor::by_external_ref),
        )
        .route(
            "/authentication/api/v1/systemuser/vendor/bysystem/{system}",
            get(crate::vendor::system_users),
        )
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
            get(registry::policy),
        )
        .route(
            "/resourceregistry/api/v1/resource/{id}",
            get(registry::resource),
        )
        .route(
            "/resourceregistry/api/v1/access-lists/{owner}",
            get(registry::access_lists),
        )
        .route(
            "/resourceregistry/api/v1/access-lists/{owner}/{list}/members",
            get(registry::members),
        )
        .route(
            "/accessmanagement/api/v1/enduser/connections/resources/rights",
            get(registry::rights),
        )
        .route(
            "/correspondence/api/v1/correspondence",
            get(crate::correspondence::list).post(crate::correspondence::publish),
        )
        .route(
            "/correspondence/api/v1/correspondence/{id}/details",
            get(crate::correspondence::details),
        )
        .route(
            "/_sim/clock",
            get(crate::correspondence::clock).post(crate::correspondence::set_clock),
        )
        .route(
            "/_sim/correspondence",
            post(crate::correspondence::sim_publish),
        )
        .route(
            "/events/api/v1/subscriptions",
            get(crate::events::list).post(crate::events::create),
        )
        .route(
            "/events/api/v1/subscriptions/{id}",
            axum::routing::delete(crate::events::delete),
        )
        .route("/_sim/events", get(crate::events::deliveries))
        .route("/_sim/grants", get(seen_grants))
        .route("/_sim/approve/{id}", post(crate::vendor::sim_approve))
        .route("/_sim/reject/{id}", post(crate::vendor::sim_reject))
        .route("/_sim/requests", get(request_counts))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&sim), discipline))
        .with_state(Arc::clone(&sim));
    tokio::spawn(crate::events::dispatch(sim));
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Running { base_url, task })
}
