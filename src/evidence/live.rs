//! Live evidence over HTTP: Altinn access management (authorized parties of our system
//! user, connections, what each resource delegation grants), Enhetsregisteret (units,
//! sub-units, roles), Altinn profile (notification addresses) and the resource registry
//! (each resource's entry, the XACML policy Altinn enforces, the owner's access lists and
//! their members).
//!
//! The same shapes as the snapshot directory are parsed by the same code, and a status means
//! the same as a recorded `.status.json` ([`status_meaning`]), so a live sweep of a stand-in
//! serving a snapshot gives the same evidence as reading that snapshot. Every failure after
//! retries leaves that source of that unit (or resource) [`Observed::Failed`], named; the
//! sweep goes on for everyone else.
//!
//! Requests per unit: its Enhetsregisteret record (one, or two when it is not known whether
//! it is a main unit or a sub-unit), its roles (main units), its connections (units that
//! approved our system user) and its notification addresses; one rights answer per resource
//! delegation its connections name. Per resource: its entry and policy, and where access
//! lists gate it, the owner's lists and each bound list's members. Per sweep: the tokens
//! (cached across sweeps) and the authorized parties.

use std::collections::{BTreeMap, HashMap};

use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use jiff::Timestamp;
use oauth2::AccessToken;
use reqwest::{StatusCode, Url};
use serde::Deserialize;

use super::raw::{
    RawAccessLists, RawBrregUnit, RawConnections, RawMembers, RawNotificationAddresses,
    RawResourceRights, RawRoller, RawServiceResource,
};
use super::{
    AccessList, AccessListMode, DelegatedRights, EvidenceError, EvidenceSource, Gathered, Observed,
    RemotePolicy, ResourceEvidence, ResourceMeta, Snapshot, StatusMeaning, UnitEvidence,
    status_meaning,
};
use crate::auth::{Auth, AuthError, bearer};
use crate::http::{Answer, Http, HttpFailure};
use crate::model::{OrgNumber, Register, ResourceId, SourceFailure, SourceKind};

/// Where the live sources are and how to reach them.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveEndpoints {
    /// Altinn platform, e.g. `https://platform.altinn.no` (access management, profile,
    /// resource registry, token exchange).
    pub altinn: Url,
    /// Enhetsregisteret, e.g. `https://data.brreg.no`.
    pub brreg: Url,
    /// The scopes asked of Maskinporten for access management and profile (space separated).
    pub scope: String,
    /// The scope asked of Maskinporten to read the resource owner's access lists.
    pub access_list_scope: String,
    /// The organisation whose system user reachcheck acts as (`authorization_details`);
    /// `None` asks for a plain Maskinporten token.
    pub system_user_org: Option<OrgNumber>,
}

/// Progress of a sweep: units done out of units known, and failures so far.
pub type ProgressFn = dyn Fn(usize, usize, usize) + Send + Sync;

/// Gathers evidence from the live APIs.
#[derive(Clone)]
pub struct LiveSource {
    http: Http,
    auth: Arc<Auth>,
    endpoints: LiveEndpoints,
    progress: Option<Arc<ProgressFn>>,
}

impl std::fmt::Debug for LiveSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSource")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

/// An authorized party: a unit that approved our system user.
#[derive(Clone, Debug)]
struct Party {
    uuid: String,
    unit_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawPartiesPage {
    Paged {
        #[serde(default)]
        links: Option<RawNext>,
        data: Vec<RawAuthorizedParty>,
    },
    Bare(Vec<RawAuthorizedParty>),
}

#[derive(Deserialize, Default)]
struct RawNext {
    #[serde(default)]
    next: Option<String>,
}

/// `AuthorizedPartyDto`, only what is needed (never `personId`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAuthorizedParty {
    party_uuid: String,
    #[serde(default)]
    organization_number: Option<String>,
    #[serde(default)]
    unit_type: Option<String>,
    #[serde(default)]
    is_deleted: bool,
    #[serde(default)]
    subunits: Vec<RawAuthorizedParty>,
}

fn collect_parties(list: Vec<RawAuthorizedParty>, out: &mut HashMap<OrgNumber, Party>) {
    for p in list {
        if let Some(org) = p
            .organization_number
            .as_deref()
            .and_then(|o| OrgNumber::parse(o).ok())
            && !p.is_deleted
        {
            out.insert(
                org,
                Party {
                    uuid: p.party_uuid,
                    unit_type: p.unit_type,
                },
            );
        }
        collect_parties(p.subunits, out);
    }
}

/// Why a whole class of requests cannot be made (shared by every unit it affects).
type Shared = Arc<str>;

impl LiveSource {
    /// A live source over `http`, authenticating with `auth`.
    pub fn new(http: Http, auth: Arc<Auth>, endpoints: LiveEndpoints) -> LiveSource {
        LiveSource {
            http,
            auth,
            endpoints,
            progress: None,
        }
    }

    /// Calls `f(done, total, failures)` as units complete.
    #[must_use]
    pub fn with_progress(mut self, f: Arc<ProgressFn>) -> LiveSource {
        self.progress = Some(f);
        self
    }

    /// Where the live sources are.
    pub fn endpoints(&self) -> &LiveEndpoints {
        &self.endpoints
    }

    /// The HTTP client (shared with the Correspondence client, so that one rate limit
    /// holds per host).
    pub fn http(&self) -> &Http {
        &self.http
    }

    /// The token source (shared with the Correspondence client: one token cache).
    pub fn auth(&self) -> &Arc<Auth> {
        &self.auth
    }

    /// Gets (or reuses) the token a sweep needs, to find a refused or garbled one before
    /// any unit is asked.
    pub async fn token(&self) -> Result<(), AuthError> {
        self.auth
            .token(&self.endpoints.scope, self.endpoints.system_user_org)
            .await
            .map(|_| ())
    }

    fn url(&self, base: &Url, path: &str) -> Url {
        let mut u = base.clone();
        let joined = format!(
            "{}/{}",
            base.path().trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        u.set_path(&joined);
        u
    }

    /// Gathers evidence about `recipients` and their main units, and the policies of
    /// `resources`.
    pub async fn sweep(&self, recipients: &[OrgNumber], resources: &[ResourceId]) -> Gathered {
        let start_requests = self.http.requests();
        let taken_at = Timestamp::now();
        let registry = self.resources(resources);
        let access = async {
            let token = self
                .auth
                .token(&self.endpoints.scope, self.endpoints.system_user_org)
                .await
                .map_err(|e| token_failure(&e));
            let parties = match &token {
                Ok(t) => self.authorized_parties(t).await,
                Err(why) => Err(Arc::clone(why)),
            };
            (token, parties)
        };
        let ((policies, resource_evidence), (token, parties)) = tokio::join!(registry, access);
        let token = Arc::new(token);
        let parties = Arc::new(parties);

        let mut snapshot = Snapshot::new(
            taken_at,
            format!("live: {}, {}", self.endpoints.altinn, self.endpoints.brreg),
        );
        snapshot.resources = resource_evidence;
        let mut wanted: Vec<OrgNumber> = recipients.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let total = Arc::new(AtomicUsize::new(wanted.len()));
        let done = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        while !wanted.is_empty() {
            let mut tasks = tokio::task::JoinSet::new();
            for org in wanted.drain(..) {
                let this = self.clone();
                let (token, parties) = (Arc::clone(&token), Arc::clone(&parties));
                let (done, failed, total) =
                    (Arc::clone(&done), Arc::clone(&failed), Arc::clone(&total));
                tasks.spawn(async move {
                    let ev = this.unit(org, &token, &parties).await;
                    let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if ev.failures().next().is_some() {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Some(p) = &this.progress {
                        p(
                            d,
                            total.load(Ordering::Relaxed),
                            failed.load(Ordering::Relaxed),
                        );
                    }
                    ev
                });
            }
            let mut main_units = Vec::new();
            while let Some(joined) = tasks.join_next().await {
                let Ok(mut ev) = joined else { continue };
                ev.observed_at = None;
                if let Some(m) = ev.unit.present().and_then(|u| u.main_unit) {
                    main_units.push(m);
                }
                snapshot.units.insert(ev.org, ev);
            }
            main_units.sort_unstable();
            main_units.dedup();
            main_units.retain(|m| !snapshot.units.contains_key(m));
            total.fetch_add(main_units.len(), Ordering::Relaxed);
            wanted = main_units;
        }
        Gathered {
            snapshot,
            policies,
            requests: self.http.requests() - start_requests,
        }
    }

    /// Per resource: the policy Altinn enforces, its registry entry and, where access
    /// lists gate it, the owner's lists bound to it with their members (rule 11).
    async fn resources(
        &self,
        resources: &[ResourceId],
    ) -> (
        BTreeMap<ResourceId, Observed<RemotePolicy>>,
        BTreeMap<ResourceId, ResourceEvidence>,
    ) {
        let mut tasks = tokio::task::JoinSet::new();
        for r in resources {
            let this = self.clone();
            let r = r.clone();
            tasks.spawn(async move {
                let (policy, entry) = tokio::join!(this.policy(&r), this.resource_entry(&r));
                let (policy, metadata) = match (policy, entry) {
                    // Altinn has no policy for it: the resource is not there either (M8).
                    (Err(location), Observed::Present(ResourceMeta::Found { .. })) => (
                        Observed::Missing,
                        Observed::Present(ResourceMeta::NotInAltinn { location }),
                    ),
                    (Err(_), entry) => (Observed::Missing, entry),
                    (Ok(policy), entry) => (policy, entry),
                };
                let access_lists = match &metadata {
                    Observed::Present(ResourceMeta::Found {
                        access_list_mode: AccessListMode::Enabled,
                        owner,
                    }) => this.access_lists(&r, owner.as_deref()).await,
                    _ => Observed::Missing,
                };
                (
                    r,
                    policy,
                    ResourceEvidence {
                        metadata,
                        access_lists,
                    },
                )
            });
        }
        let mut policies = BTreeMap::new();
        let mut evidence = BTreeMap::new();
        while let Some(Ok((r, policy, ev))) = tasks.join_next().await {
            policies.insert(r.clone(), policy);
            evidence.insert(r, ev);
        }
        (policies, evidence)
    }

    /// The policy Altinn enforces for `r`; `Err(location)` when Altinn has none (404).
    async fn policy(&self, r: &ResourceId) -> Result<Observed<RemotePolicy>, Arc<str>> {
        let url = self.url(
            &self.endpoints.altinn,
            &format!("resourceregistry/api/v1/resource/{}/policy", r.as_str()),
        );
        let location = url.to_string();
        let kind = SourceKind::ResourcePolicy;
        Ok(match self.http.get(url, accept("application/xml")).await {
            Ok(a) if a.status.is_success() => match String::from_utf8(a.body.to_vec()) {
                Ok(xml) => Observed::Present(RemotePolicy { location, xml }),
                Err(_) => Observed::Failed(failure_of(
                    None,
                    kind,
                    &location,
                    "the policy is not UTF-8 text",
                )),
            },
            Ok(a) => match status_meaning(kind, a.status.as_u16()) {
                StatusMeaning::NotInAltinn => return Err(Arc::from(location.as_str())),
                _ => Observed::Failed(failure_of(
                    None,
                    kind,
                    &location,
                    &format!("HTTP {}", a.status),
                )),
            },
            Err(e) => Observed::Failed(http_failure(None, kind, &e)),
        })
    }

    /// The registry entry of `r` (public, no token).
    async fn resource_entry(&self, r: &ResourceId) -> Observed<ResourceMeta> {
        let url = self.url(
            &self.endpoints.altinn,
            &format!("resourceregistry/api/v1/resource/{}", r.as_str()),
        );
        let kind = SourceKind::Resource;
        match self.http.get(url, accept("application/json")).await {
            Ok(a) if a.status.is_success() => decode(None, kind, &a, |b| {
                serde_json::from_slice::<RawServiceResource>(b)
                    .map_err(|e| format!("malformed JSON: {e}"))
                    .and_then(|raw| raw.into_meta(r))
            }),
            Ok(a) => match status_meaning(kind, a.status.as_u16()) {
                StatusMeaning::NotInAltinn => Observed::Present(ResourceMeta::NotInAltinn {
                    location: Arc::from(location(&a)),
                }),
                _ => Observed::Failed(answer_failure(None, kind, &a)),
            },
            Err(e) => Observed::Failed(http_failure(None, kind, &e)),
        }
    }

    /// The owner's access lists bound to `r`, with their members; read with the token of
    /// the owner's scope (only the owner may read them).
    async fn access_lists(&self, r: &ResourceId, owner: Option<&str>) -> Observed<Vec<AccessList>> {
        let Some(owner) = owner else {
            // Whose lists they are is not known: neither is membership.
            return Observed::Missing;
        };
        let token = match self
            .auth
            .token(&self.endpoints.access_list_scope, None)
            .await
        {
            Ok(t) => t,
            Err(e) => {
                return Observed::Failed(failure_of(
                    None,
                    SourceKind::AccessLists,
                    "maskinporten",
                    &token_failure(&e),
                ));
            }
        };
        let mut url = self.url(
            &self.endpoints.altinn,
            &format!("resourceregistry/api/v1/access-lists/{owner}"),
        );
        url.query_pairs_mut()
            .append_pair("resource", r.as_str())
            .append_pair("include", "resource-actions");
        let bound = match self.paged(url, &token, SourceKind::AccessLists).await {
            Ok(Some(bytes)) => match serde_json::from_slice::<RawAccessLists>(&bytes)
                .map_err(|e| format!("malformed JSON: {e}"))
                .and_then(|raw| raw.into_bound(r))
            {
                Ok(b) => b,
                Err(why) => {
                    return Observed::Failed(failure_of(
                        None,
                        SourceKind::AccessLists,
                        "access lists",
                        &why,
                    ));
                }
            },
            Ok(None) => return Observed::Missing,
            Err(f) => return Observed::Failed(f),
        };
        let mut lists = Vec::new();
        for b in bound {
            let url = self.url(
                &self.endpoints.altinn,
                &format!(
                    "resourceregistry/api/v1/access-lists/{owner}/{}/members",
                    b.identifier
                ),
            );
            let kind = SourceKind::AccessListMembers;
            let members = match self.paged(url, &token, kind).await {
                Ok(Some(bytes)) => match serde_json::from_slice::<RawMembers>(&bytes)
                    .map_err(|e| format!("malformed JSON: {e}"))
                    .and_then(RawMembers::into_members)
                {
                    Ok(m) => Observed::Present(m),
                    Err(why) => {
                        Observed::Failed(failure_of(None, kind, "access-list members", &why))
                    }
                },
                Ok(None) => Observed::Missing,
                Err(f) => Observed::Failed(f),
            };
            lists.push(AccessList {
                identifier: Arc::from(b.identifier),
                actions: b.actions,
                members,
            });
        }
        Observed::Present(lists)
    }

    /// Every page of a `{"links": {"next": ...}, "data": [...]}` answer, merged into one;
    /// `None` when the first answer's status means no data ([`status_meaning`]).
    async fn paged(
        &self,
        mut url: Url,
        token: &AccessToken,
        kind: SourceKind,
    ) -> Result<Option<Vec<u8>>, Arc<SourceFailure>> {
        let mut data: Vec<serde_json::Value> = Vec::new();
        for page in 0..10_000 {
            let a = self
                .http
                .get(url.clone(), bearer(token, "application/json"))
                .await
                .map_err(|e| http_failure(None, kind, &e))?;
            if !a.status.is_success() {
                if page == 0 && status_meaning(kind, a.status.as_u16()) == StatusMeaning::NoData {
                    return Ok(None);
                }
                return Err(answer_failure(None, kind, &a));
            }
            let page: RawPage = serde_json::from_slice(&a.body).map_err(|e| {
                failure_of(None, kind, &location(&a), &format!("malformed JSON: {e}"))
            })?;
            data.extend(page.data);
            match page
                .links
                .and_then(|l| l.next)
                .filter(|n| !n.trim().is_empty())
            {
                None => {
                    let merged = serde_json::json!({"links": {"next": null}, "data": data});
                    return Ok(Some(merged.to_string().into_bytes()));
                }
                Some(n) => {
                    url = a.url.join(&n).map_err(|_| {
                        failure_of(None, kind, &location(&a), "`links.next` is not a URL")
                    })?;
                }
            }
        }
        Err(failure_of(None, kind, url.path(), "more than 10000 pages"))
    }

    /// What each resource delegation at `org` grants (rule 10): one rights answer per
    /// (resource, party) the connections name.
    async fn rights(
        &self,
        org: OrgNumber,
        token: &AccessToken,
        unit_party: &str,
        holders: &[crate::model::Rightholder],
    ) -> FxHashMap<(ResourceId, Arc<str>), Observed<DelegatedRights>> {
        let wanted = super::delegations(holders);
        let asks = wanted.into_iter().map(|(r, party)| async move {
            let mut url = self.url(
                &self.endpoints.altinn,
                "accessmanagement/api/v1/enduser/connections/resources/rights",
            );
            url.query_pairs_mut()
                .append_pair("party", unit_party)
                .append_pair("from", unit_party)
                .append_pair("to", &party)
                .append_pair("resource", r.as_str());
            let got = self
                .fetch(
                    org,
                    SourceKind::ResourceRights,
                    url,
                    bearer(token, "application/json"),
                    |b| {
                        serde_json::from_slice::<RawResourceRights>(b)
                            .map_err(|e| format!("malformed JSON: {e}"))
                            .and_then(|raw| raw.into_rights(&r))
                    },
                )
                .await;
            ((r, party), got)
        });
        futures_util::future::join_all(asks)
            .await
            .into_iter()
            .filter(|(_, got)| !matches!(got, Observed::Missing))
            .collect()
    }

    async fn authorized_parties(
        &self,
        token: &AccessToken,
    ) -> Result<HashMap<OrgNumber, Party>, Shared> {
        let mut url = self.url(
            &self.endpoints.altinn,
            "accessmanagement/api/v1/enduser/authorizedparties",
        );
        url.query_pairs_mut()
            .append_pair("includeSubParties", "true")
            .append_pair("includeInactiveParties", "false");
        let mut out = HashMap::new();
        let mut pages = 0;
        loop {
            pages += 1;
            let answer = self
                .http
                .get(url.clone(), bearer(token, "application/json"))
                .await
                .map_err(|e| Shared::from(format!("authorized parties: {e}")))?;
            if !answer.status.is_success() {
                return Err(Shared::from(format!(
                    "authorized parties: {} answered HTTP {}",
                    answer.url.path(),
                    answer.status
                )));
            }
            let page: RawPartiesPage = serde_json::from_slice(&answer.body)
                .map_err(|e| Shared::from(format!("authorized parties: malformed JSON: {e}")))?;
            let next = match page {
                RawPartiesPage::Paged { links, data } => {
                    collect_parties(data, &mut out);
                    links.and_then(|l| l.next).filter(|n| !n.trim().is_empty())
                }
                RawPartiesPage::Bare(data) => {
                    collect_parties(data, &mut out);
                    None
                }
            };
            match next {
                Some(n) if pages < 10_000 => {
                    url = answer.url.join(&n).map_err(|_| {
                        Shared::from("authorized parties: `links.next` is not a URL")
                    })?;
                }
                Some(_) => return Err(Shared::from("authorized parties: more than 10000 pages")),
                None => return Ok(out),
            }
        }
    }

    async fn unit(
        &self,
        org: OrgNumber,
        token: &Result<AccessToken, Shared>,
        parties: &Result<HashMap<OrgNumber, Party>, Shared>,
    ) -> UnitEvidence {
        let mut ev = UnitEvidence::new(org);
        let party = parties.as_ref().ok().and_then(|p| p.get(&org));
        let sub_first = party
            .and_then(|p| p.unit_type.as_deref())
            .is_some_and(|t| matches!(t.to_ascii_uppercase().as_str(), "BEDR" | "AAFY"));
        let order = if sub_first {
            [(SUB, Register::Underenheter), (MAIN, Register::Enheter)]
        } else {
            [(MAIN, Register::Enheter), (SUB, Register::Underenheter)]
        };

        // Enhetsregisteret record: 404 in both registers means no record.
        let mut register = None;
        for (path, reg) in order {
            let url = self.url(&self.endpoints.brreg, &format!("{path}/{org}"));
            match self.http.get(url.clone(), accept("application/json")).await {
                Ok(a) if a.status == StatusCode::NOT_FOUND => continue,
                Ok(a) if a.status.is_success() || a.status == StatusCode::GONE => {
                    ev.unit = decode(Some(org), SourceKind::Unit, &a, |b| {
                        serde_json::from_slice::<RawBrregUnit>(b)
                            .map_err(|e| format!("malformed JSON: {e}"))
                            .and_then(|u| u.into_unit(org, reg))
                    });
                    register = Some(reg);
                    break;
                }
                Ok(a) => {
                    ev.unit = Observed::Failed(status_failure(org, SourceKind::Unit, &a));
                    break;
                }
                Err(e) => {
                    ev.unit = Observed::Failed(http_failure(Some(org), SourceKind::Unit, &e));
                    break;
                }
            }
        }

        let roles = async {
            if register != Some(Register::Enheter) {
                return Observed::Missing;
            }
            let url = self.url(&self.endpoints.brreg, &format!("{MAIN}/{org}/roller"));
            self.fetch(
                org,
                SourceKind::Roles,
                url,
                accept("application/json"),
                |b| {
                    serde_json::from_slice::<RawRoller>(b)
                        .map(RawRoller::into_holders)
                        .map_err(|e| format!("malformed JSON: {e}"))
                },
            )
            .await
        };
        let connections = async {
            let token = match token {
                Ok(t) => t,
                Err(why) => {
                    return (
                        Observed::Failed(shared_failure(org, SourceKind::Connections, why)),
                        None,
                        FxHashMap::default(),
                    );
                }
            };
            let party = match parties {
                Err(why) => {
                    return (
                        Observed::Failed(shared_failure(org, SourceKind::Connections, why)),
                        None,
                        FxHashMap::default(),
                    );
                }
                Ok(p) => match p.get(&org) {
                    Some(p) => p,
                    None => return (Observed::Missing, Some(false), FxHashMap::default()),
                },
            };
            let connections = self.connections(org, token, &party.uuid).await;
            // Rule 10: what each resource delegation grants.
            let rights = match &connections {
                Observed::Present(holders) => self.rights(org, token, &party.uuid, holders).await,
                _ => FxHashMap::default(),
            };
            (connections, Some(true), rights)
        };
        let addresses = async {
            let token = match token {
                Ok(t) => t,
                Err(why) => {
                    return Observed::Failed(shared_failure(
                        org,
                        SourceKind::NotificationAddresses,
                        why,
                    ));
                }
            };
            let url = self.url(
                &self.endpoints.altinn,
                &format!("profile/api/v1/organizations/{org}/notificationaddresses/mandatory"),
            );
            self.fetch(
                org,
                SourceKind::NotificationAddresses,
                url,
                bearer(token, "application/json"),
                |b| {
                    serde_json::from_slice::<RawNotificationAddresses>(b)
                        .map_err(|e| format!("malformed JSON: {e}"))
                        .and_then(|n| n.usable(org))
                },
            )
            .await
        };
        let (roles, (connections, authorized, rights), addresses) =
            tokio::join!(roles, connections, addresses);
        ev.roles = roles;
        ev.connections = connections;
        ev.authorized = authorized;
        ev.resource_rights = rights;
        ev.notification_addresses = addresses;
        ev
    }

    /// A GET whose 2xx body is decoded and whose other statuses mean what
    /// [`status_meaning`] says for `kind`.
    async fn fetch<T>(
        &self,
        org: OrgNumber,
        kind: SourceKind,
        url: Url,
        headers: reqwest::header::HeaderMap,
        parse: impl FnOnce(&[u8]) -> Result<T, String>,
    ) -> Observed<T> {
        match self.http.get(url, headers).await {
            Ok(a) if a.status.is_success() => decode(Some(org), kind, &a, parse),
            Ok(a) => match status_meaning(kind, a.status.as_u16()) {
                StatusMeaning::NoData => Observed::Missing,
                StatusMeaning::Refused => Observed::Refused(status_failure(org, kind, &a)),
                StatusMeaning::NotInAltinn | StatusMeaning::Failed => {
                    Observed::Failed(status_failure(org, kind, &a))
                }
            },
            Err(e) => Observed::Failed(http_failure(Some(org), kind, &e)),
        }
    }

    async fn connections(
        &self,
        org: OrgNumber,
        token: &AccessToken,
        party: &str,
    ) -> Observed<Vec<crate::model::Rightholder>> {
        let mut url = self.url(
            &self.endpoints.altinn,
            "accessmanagement/api/v1/enduser/connections",
        );
        url.query_pairs_mut()
            .append_pair("party", party)
            .append_pair("from", party)
            .append_pair("includeAccessPackages", "true")
            .append_pair("includeResources", "true");
        let mut all: Option<RawConnections> = None;
        for _ in 0..1000 {
            let answer = match self
                .http
                .get(url.clone(), bearer(token, "application/json"))
                .await
            {
                Ok(a) => a,
                Err(e) => {
                    return Observed::Failed(http_failure(Some(org), SourceKind::Connections, &e));
                }
            };
            if answer.status == StatusCode::NOT_FOUND && all.is_none() {
                return Observed::Missing;
            }
            if !answer.status.is_success() {
                return Observed::Failed(status_failure(org, SourceKind::Connections, &answer));
            }
            let mut page: RawConnections = match serde_json::from_slice(&answer.body) {
                Ok(p) => p,
                Err(e) => {
                    return Observed::Failed(failure_of(
                        Some(org),
                        SourceKind::Connections,
                        answer.url.path(),
                        &format!("malformed JSON: {e}"),
                    ));
                }
            };
            let next = page.take_next();
            match &mut all {
                Some(a) => a.extend(page),
                None => all = Some(page),
            }
            match next.map(|n| answer.url.join(&n)) {
                None => break,
                Some(Ok(n)) => url = n,
                Some(Err(_)) => {
                    return Observed::Failed(failure_of(
                        Some(org),
                        SourceKind::Connections,
                        answer.url.path(),
                        "`links.next` is not a URL",
                    ));
                }
            }
        }
        match all.map(RawConnections::into_holders) {
            Some(Ok(h)) => Observed::Present(h),
            Some(Err(why)) => Observed::Failed(failure_of(
                Some(org),
                SourceKind::Connections,
                "connections",
                &why,
            )),
            None => Observed::Missing,
        }
    }
}

const MAIN: &str = "enhetsregisteret/api/enheter";
const SUB: &str = "enhetsregisteret/api/underenheter";

fn accept(what: &'static str) -> reqwest::header::HeaderMap {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        reqwest::header::ACCEPT,
        reqwest::header::HeaderValue::from_static(what),
    );
    h
}

fn decode<T>(
    org: Option<OrgNumber>,
    kind: SourceKind,
    a: &Answer,
    parse: impl FnOnce(&[u8]) -> Result<T, String>,
) -> Observed<T> {
    match parse(&a.body) {
        Ok(v) => Observed::Present(v),
        Err(why) => Observed::Failed(failure_of(org, kind, &location(a), &why)),
    }
}

fn answer_failure(org: Option<OrgNumber>, kind: SourceKind, a: &Answer) -> Arc<SourceFailure> {
    failure_of(org, kind, &location(a), &format!("HTTP {}", a.status))
}

/// A page of a paged answer.
#[derive(Deserialize)]
struct RawPage {
    #[serde(default)]
    links: Option<RawNext>,
    data: Vec<serde_json::Value>,
}

fn location(a: &Answer) -> String {
    let mut u = a.url.clone();
    u.set_query(None);
    u.to_string()
}

fn failure_of(
    org: Option<OrgNumber>,
    source: SourceKind,
    location: &str,
    reason: &str,
) -> Arc<SourceFailure> {
    Arc::new(SourceFailure {
        unit: org,
        source,
        location: Arc::from(location),
        reason: Arc::from(reason),
    })
}

fn status_failure(org: OrgNumber, kind: SourceKind, a: &Answer) -> Arc<SourceFailure> {
    failure_of(Some(org), kind, &location(a), &format!("HTTP {}", a.status))
}

fn http_failure(org: Option<OrgNumber>, kind: SourceKind, e: &HttpFailure) -> Arc<SourceFailure> {
    failure_of(org, kind, &format!("{}{}", e.upstream, e.path), &e.reason)
}

fn shared_failure(org: OrgNumber, kind: SourceKind, why: &Shared) -> Arc<SourceFailure> {
    failure_of(Some(org), kind, "altinn", why)
}

fn token_failure(e: &AuthError) -> Shared {
    Shared::from(format!("no Altinn token: {e}"))
}

impl EvidenceSource for LiveSource {
    /// A sweep never fails as a whole: every failure is a [`SourceFailure`] of the units
    /// (or resources) it concerns, inside the result.
    async fn gather(
        &self,
        recipients: &[OrgNumber],
        resources: &[ResourceId],
    ) -> Result<Gathered, EvidenceError> {
        Ok(self.sweep(recipients, resources).await)
    }
}
