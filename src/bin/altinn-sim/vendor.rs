//! Altinn's system register and vendor-driven system-user requests, as a vendor (the
//! client's organisation, `--client-org`) sees them (API-NOTES-2026 §1): the registered
//! system, requests created for a customer organisation with their statuses and
//! `confirmUrl`, and the system's users once approved. `POST /_sim/approve/{id}` and
//! `/_sim/reject/{id}` stand in for the customer's click; approving makes a system user
//! for that organisation, so Maskinporten then grants tokens for it and Access management
//! answers its evidence.
//!
//! Refused as the real service refuses (`RequestSystemUserController.cs`,
//! `RequestSystemUserService.cs`): no Maskinporten token (401), a scope missing (403), a
//! caller that is not the system's vendor (403), an unknown system (400 `AUTH-00011`), a
//! `redirectUrl` the system did not register, no package or right, or a package the system
//! does not offer (400), an unknown organisation (400), an existing system user (400
//! `AUTH-00004`). A request for the same (system, organisation, external reference) that
//! has not timed out is answered again (200); a request older than 180 days still `New`
//! reads as `Timedout` (on the stand-in's clock, `/_sim/clock`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::{Value, json};

use reachcheck::model::OrgNumber;

use crate::server::{SYSTEM_USER_REQUESTS, Sim, lock};

/// Scope of creating requests (and `byquery`).
pub(crate) const REQUEST_WRITE: &str = "altinn:authentication/systemuser.request.write";
/// Scope of reading requests.
pub(crate) const REQUEST_READ: &str = "altinn:authentication/systemuser.request.read";
/// Scope of the system register and of listing a system's users.
pub(crate) const REGISTER_WRITE: &str = "altinn:authentication/systemregister.write";
/// A `New` request older than this reads as `Timedout` (`REQUEST_TIMEOUT_DAYS`).
const TIMEOUT: SignedDuration = SignedDuration::from_hours(180 * 24);
/// System users per page (`PaginationOptions.Size`).
const PAGE: usize = 50;

/// reachcheck's system as registered in Altinn's system register.
#[derive(Clone, Debug)]
pub(crate) struct SystemRegistration {
    /// The system id (starts with the vendor's organisation number).
    pub(crate) id: String,
    /// The access packages the system offers.
    pub(crate) access_packages: Vec<String>,
    /// The redirect URLs it allows.
    pub(crate) redirect_urls: Vec<String>,
}

/// One system-user request.
#[derive(Clone, Debug)]
struct Request {
    id: String,
    external_ref: String,
    system_id: String,
    party: OrgNumber,
    access_packages: Vec<String>,
    rights: Value,
    status: String,
    redirect_url: Option<String>,
    integration_title: Option<String>,
    created: Timestamp,
}

/// The system and its requests.
#[derive(Debug)]
pub(crate) struct Vendor {
    system: Option<SystemRegistration>,
    requests: Mutex<Vec<Request>>,
    /// Where `confirmUrl` points (the stand-in plays Altinn's end-user UI host).
    ui: String,
    serial: std::sync::atomic::AtomicU64,
}

impl Vendor {
    /// The registration, and the requests the snapshot recorded
    /// (`authentication/systemuser/request/<org>.json`).
    pub(crate) fn new(
        system: Option<SystemRegistration>,
        files: &HashMap<String, Vec<u8>>,
        issuer: &str,
    ) -> Vendor {
        let mut requests = Vec::new();
        let mut names: Vec<&String> = files.keys().collect();
        names.sort();
        for rel in names {
            let Some(org) = rel
                .strip_prefix(&format!("{SYSTEM_USER_REQUESTS}/"))
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| OrgNumber::parse(n).ok())
            else {
                continue;
            };
            let Ok(v) = serde_json::from_slice::<Value>(&files[rel]) else {
                continue;
            };
            let Some(id) = v["id"].as_str() else { continue };
            requests.push(Request {
                id: id.to_owned(),
                external_ref: v["externalRef"]
                    .as_str()
                    .map_or_else(|| org.to_string(), str::to_owned),
                system_id: v["systemId"]
                    .as_str()
                    .map(str::to_owned)
                    .or_else(|| system.as_ref().map(|s| s.id.clone()))
                    .unwrap_or_default(),
                party: org,
                access_packages: system
                    .as_ref()
                    .map(|s| s.access_packages.clone())
                    .unwrap_or_default(),
                rights: json!([]),
                status: v["status"].as_str().unwrap_or("New").to_owned(),
                redirect_url: None,
                integration_title: None,
                created: v["created"]
                    .as_str()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or_else(Timestamp::now),
            });
        }
        Vendor {
            system,
            requests: Mutex::new(requests),
            ui: issuer.trim_end_matches('/').to_owned(),
            serial: std::sync::atomic::AtomicU64::new(1),
        }
    }

    fn confirm_url(&self, id: &str) -> String {
        format!(
            "{}/accessmanagement/ui/systemuser/request?id={id}&DONTCHOOSEREPORTEE=true",
            self.ui
        )
    }

    fn json(&self, r: &Request, now: Timestamp) -> Value {
        let status = status_at(r, now);
        json!({
            "id": r.id, "integrationTitle": r.integration_title, "externalRef": r.external_ref,
            "systemId": r.system_id, "partyOrgNo": r.party.to_string(), "rights": r.rights,
            "accessPackages": r.access_packages.iter().map(|u| json!({"urn": u})).collect::<Vec<_>>(),
            "status": status, "redirectUrl": r.redirect_url, "confirmUrl": self.confirm_url(&r.id),
            "escalated": false, "created": r.created.to_string(), "timedOut": status == "Timedout",
        })
    }
}

fn status_at(r: &Request, now: Timestamp) -> &str {
    if r.status == "New" && now.duration_since(r.created) > TIMEOUT {
        "Timedout"
    } else {
        &r.status
    }
}

/// A problem as Altinn's authentication answers it.
fn problem(status: StatusCode, code: &str, title: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        Json(json!({"type": "https://tools.ietf.org/html/rfc9110#section-15.5.1", "title": title, "status": status.as_u16(), "code": code})),
    )
        .into_response()
}

fn bad(title: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/problem+json")],
        Json(json!({"title": "One or more validation errors occurred.", "status": 400, "errors": {"request": [title]}})),
    )
        .into_response()
}

/// The vendor (the client's organisation) behind a Maskinporten token with `scope`, or
/// the refusal: 401 without a Maskinporten token this stand-in issued (a system-user
/// token is no vendor's), 403 without the scope or the client's organisation.
fn vendor_of(sim: &Sim, headers: &HeaderMap, scope: &str) -> Result<OrgNumber, Box<Response>> {
    let Some(token) = crate::grant::bearer(headers) else {
        return Err(Box::new((StatusCode::UNAUTHORIZED, "").into_response()));
    };
    if !sim.maskinporten_auth(headers)
        || lock(&sim.token_orgs)
            .get(token)
            .copied()
            .flatten()
            .is_some()
    {
        return Err(Box::new((StatusCode::UNAUTHORIZED, "").into_response()));
    }
    let scopes = lock(&sim.token_scopes)
        .get(token)
        .cloned()
        .unwrap_or_default();
    if !scopes.split_whitespace().any(|s| s == scope) {
        return Err(Box::new((StatusCode::FORBIDDEN, "").into_response()));
    }
    sim.opts
        .correspondence
        .client_org
        .ok_or_else(|| Box::new((StatusCode::FORBIDDEN, "").into_response()))
}

/// The registered system if `id` names it and `vendor` owns it.
fn own_system<'a>(sim: &'a Sim, vendor: OrgNumber, id: &str) -> Option<&'a SystemRegistration> {
    sim.vendor
        .system
        .as_ref()
        .filter(|s| s.id == id && s.id.starts_with(&vendor.to_string()))
}

/// `GET /authentication/api/v1/systemregister/vendor/{systemId}`.
pub(crate) async fn system(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let vendor = match vendor_of(&sim, &headers, REGISTER_WRITE) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(s) = own_system(&sim, vendor, &id) else {
        return problem(
            StatusCode::NOT_FOUND,
            "AUTH-00011",
            "The System is not found.",
        );
    };
    Json(json!({
        "id": s.id,
        "vendor": {"authority": "iso6523-actorid-upis", "ID": format!("0192:{vendor}")},
        "name": {"nb": "reachcheck", "nn": "reachcheck", "en": "reachcheck"},
        "description": {"nb": "reachcheck", "nn": "reachcheck", "en": "reachcheck"},
        "rights": [],
        "accessPackages": s.access_packages.iter().map(|u| json!({"urn": u})).collect::<Vec<_>>(),
        "softDeleted": false,
        "clientId": [sim.opts.client_id],
        "allowedRedirectUrls": s.redirect_urls,
        "isVisible": true,
    }))
    .into_response()
}

/// The body of a create request (camelCase, as `CreateRequestSystemUser`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Create {
    external_ref: Option<String>,
    system_id: Option<String>,
    party_org_no: Option<String>,
    rights: Option<Vec<Value>>,
    access_packages: Option<Vec<Value>>,
    redirect_url: Option<String>,
    integration_title: Option<String>,
}

/// `POST /authentication/api/v1/systemuser/request/vendor`.
pub(crate) async fn create(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let vendor = match vendor_of(&sim, &headers, REQUEST_WRITE) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Ok(c) = serde_json::from_slice::<Create>(&body) else {
        return bad("the body is not a CreateRequestSystemUser");
    };
    let (Some(system_id), Some(party)) = (c.system_id, c.party_org_no) else {
        return bad("systemId and partyOrgNo are required");
    };
    let Some(system) = sim.vendor.system.as_ref().filter(|s| s.id == system_id) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "AUTH-00011",
            "The System is not found.",
        );
    };
    if !system.id.starts_with(&vendor.to_string()) {
        return (StatusCode::FORBIDDEN, "").into_response();
    }
    let Some(party) = OrgNumber::parse(&party).ok().filter(|o| sim.knows(*o)) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "AUTH-00020",
            "The party is not found.",
        );
    };
    if let Some(url) = c.redirect_url.as_deref().filter(|u| !u.is_empty())
        && !system.redirect_urls.iter().any(|a| a == url)
    {
        return problem(
            StatusCode::BAD_REQUEST,
            "AUTH-00021",
            "The RedirectUrl is not valid for the System.",
        );
    }
    let packages: Vec<String> = c
        .access_packages
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p["urn"].as_str().map(str::to_owned))
        .collect();
    let rights = c.rights.unwrap_or_default();
    if packages.is_empty() && rights.is_empty() {
        return bad("at least one right or access package is required");
    }
    if let Some(p) = packages
        .iter()
        .find(|p| !system.access_packages.contains(p))
    {
        return problem(
            StatusCode::BAD_REQUEST,
            "AUTH-00013",
            &format!("The access package {p} is not offered by the System."),
        );
    }
    if !rights.is_empty() {
        return problem(
            StatusCode::BAD_REQUEST,
            "AUTH-00012",
            "The Rights are not offered by the System.",
        );
    }
    let external_ref = c.external_ref.unwrap_or_else(|| party.to_string());
    let now = sim.mailroom.now();
    let mut requests = lock(&sim.vendor.requests);
    let same = |r: &&Request| {
        r.system_id == system.id && r.party == party && r.external_ref == external_ref
    };
    if requests.iter().any(|r| same(&r) && r.status == "Accepted") || sim.approved(party) {
        return problem(
            StatusCode::BAD_REQUEST,
            "AUTH-00004",
            "Failed to create new SystemUser, existing SystemUser tied to the given System-Id.",
        );
    }
    if let Some(r) = requests
        .iter()
        .rev()
        .find(|r| same(r) && status_at(r, now) != "Timedout")
    {
        return Json(sim.vendor.json(r, now)).into_response();
    }
    let n = sim
        .vendor
        .serial
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let r = Request {
        id: format!("5e000000-0000-4000-8000-{n:012}"),
        external_ref,
        system_id: system.id.clone(),
        party,
        access_packages: packages,
        rights: json!(rights),
        status: "New".to_owned(),
        redirect_url: c.redirect_url,
        integration_title: c.integration_title,
        created: now,
    };
    let answer = sim.vendor.json(&r, now);
    let location = format!(
        "{}/authentication/api/v1/systemuser/request/{}",
        sim.vendor.ui, r.id
    );
    requests.push(r);
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(answer),
    )
        .into_response()
}

/// `GET /authentication/api/v1/systemuser/request/vendor/{requestId}`.
pub(crate) async fn request(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let vendor = match vendor_of(&sim, &headers, REQUEST_READ) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let now = sim.mailroom.now();
    let requests = lock(&sim.vendor.requests);
    match requests.iter().find(|r| r.id == id) {
        Some(r) if r.system_id.starts_with(&vendor.to_string()) => {
            Json(sim.vendor.json(r, now)).into_response()
        }
        Some(_) => (StatusCode::FORBIDDEN, "").into_response(),
        None => problem(
            StatusCode::NOT_FOUND,
            "AUTH-00010",
            "The Request was not found.",
        ),
    }
}

/// `GET …/systemuser/request/vendor/byexternalref/{systemId}/{orgNo}/{externalRef}`.
pub(crate) async fn by_external_ref(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    UrlPath((system, org, ext)): UrlPath<(String, String, String)>,
) -> Response {
    let vendor = match vendor_of(&sim, &headers, REQUEST_READ) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    if own_system(&sim, vendor, &system).is_none() {
        return (StatusCode::FORBIDDEN, "").into_response();
    }
    let now = sim.mailroom.now();
    let requests = lock(&sim.vendor.requests);
    match requests
        .iter()
        .rev()
        .find(|r| r.system_id == system && r.party.to_string() == org && r.external_ref == ext)
    {
        Some(r) => Json(sim.vendor.json(r, now)).into_response(),
        None => problem(
            StatusCode::NOT_FOUND,
            "AUTH-00010",
            "The Request was not found.",
        ),
    }
}

#[derive(Deserialize)]
pub(crate) struct PageToken {
    token: Option<String>,
}

/// `GET /authentication/api/v1/systemuser/vendor/bysystem/{systemId}?token=`.
pub(crate) async fn system_users(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<PageToken>,
) -> Response {
    let vendor = match vendor_of(&sim, &headers, REGISTER_WRITE) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    if own_system(&sim, vendor, &id).is_none() {
        return (StatusCode::FORBIDDEN, "").into_response();
    }
    let skip = match q.token.as_deref().map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return bad("the token is not valid"),
    };
    let approved: Vec<OrgNumber> = lock(&sim.approved).iter().copied().collect();
    let requests = lock(&sim.vendor.requests);
    let users: Vec<Value> = approved
        .iter()
        .map(|org| {
            let r = requests
                .iter()
                .find(|r| r.party == *org && r.status == "Accepted");
            json!({
                "id": r.map_or_else(|| format!("5f000000-0000-4000-8000-{:012}", org.get()), |r| r.id.clone()),
                "integrationTitle": r.and_then(|r| r.integration_title.clone()).unwrap_or_default(),
                "systemId": id, "productName": "", "reporteeOrgNo": org.to_string(),
                "created": r.map_or_else(|| "2026-01-01T00:00:00Z".to_owned(), |r| r.created.to_string()),
                "isDeleted": false, "supplierName": "", "supplierOrgno": vendor.to_string(),
                "externalRef": r.map_or_else(|| org.to_string(), |r| r.external_ref.clone()),
                "userType": "standard",
            })
        })
        .collect();
    let page: Vec<&Value> = users.iter().skip(skip).take(PAGE).collect();
    let next = (skip + PAGE < users.len()).then(|| {
        format!(
            "{}/authentication/api/v1/systemuser/vendor/bysystem/{id}?token={}",
            sim.vendor.ui,
            skip + PAGE
        )
    });
    Json(json!({"links": {"next": next}, "data": page})).into_response()
}

/// `POST /_sim/approve/{id}`: the organisation asked approves (a `New` request only).
pub(crate) async fn sim_approve(
    State(sim): State<Arc<Sim>>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    decide(&sim, &id, "Accepted")
}

/// `POST /_sim/reject/{id}`: the organisation asked rejects (a `New` request only).
pub(crate) async fn sim_reject(
    State(sim): State<Arc<Sim>>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    decide(&sim, &id, "Rejected")
}

fn decide(sim: &Sim, id: &str, to: &str) -> Response {
    let now = sim.mailroom.now();
    let mut requests = lock(&sim.vendor.requests);
    let Some(r) = requests.iter_mut().find(|r| r.id == id) else {
        return problem(
            StatusCode::NOT_FOUND,
            "AUTH-00010",
            "The Request was not found.",
        );
    };
    let status = status_at(r, now).to_owned();
    if status != "New" {
        return problem(
            StatusCode::BAD_REQUEST,
            "AUTH-00023",
            &format!("The Request is {status}, not New."),
        );
    }
    r.status = to.to_owned();
    if to == "Accepted" {
        lock(&sim.approved).insert(r.party);
    }
    Json(sim.vendor.json(r, now)).into_response()
}
