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
use super::record::Recorder;
use super::{
    ACCESS_LISTS, ACCESS_LISTS_FILE, CONNECTIONS, MASKINPORTEN, MEMBERS_FILE,
    NOTIFICATION_ADDRESSES, POLICY_FILE, RESOURCE_FILE, RESOURCE_POLICIES, RESOURCE_RIGHTS, ROLES,
    SUB_UNITS, UNITS,
};
use super::{
    AccessList, AccessListMode, DelegatedRights, EvidenceError, EvidenceSource, Gathered, Observed,
    RemotePolicy, ResourceEvidence, ResourceMeta, Snapshot, StatusMeaning, UnitEvidence,
    status_meaning,
};
use crate::auth::{Auth, AuthError, NO_SYSTEM_USER, RefusalScope, bearer};
use crate::http::{Answer, Http, HttpFailure};
use crate::model::{OrgNumber, Register, ResourceId, SourceFailure, SourceKind, Unit};

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
    /// Self-check mode: the one organisation whose system user reachcheck acts as, for
    /// every unit. `None` is sender mode: each recipient main unit (and each sub-unit's
    /// main unit) is asked with a token for that organisation's own system user.
    pub system_user_org: Option<OrgNumber>,
    /// The organisation of reachcheck's Maskinporten client (the sender): the access lists
    /// of a resource it owns are read with its token; those of others are not readable.
    pub client_org: Option<OrgNumber>,
    /// Whether Altinn's profile is asked for notification addresses (API-NOTES-2026 M3:
    /// it may not answer a system user); otherwise they are not verified.
    pub ask_profile: bool,
    /// Sent to Altinn as `Ocp-Apim-Subscription-Key` (M7), when configured.
    pub subscription_key: Option<SubscriptionKey>,
    /// When at least this many organisations were asked and every one was refused for
    /// want of a system user, the client is more likely misregistered than nobody
    /// approved: the sweep stops (0: never). Self-check mode stops on its one refusal.
    pub all_refused_threshold: usize,
}

/// The default of [`LiveEndpoints::all_refused_threshold`].
pub const ALL_REFUSED_THRESHOLD: usize = 5;

/// An Altinn API subscription key. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SubscriptionKey(String);

impl SubscriptionKey {
    /// Wraps a key.
    pub fn new(key: String) -> SubscriptionKey {
        SubscriptionKey(key)
    }

    /// The key, for the one header that carries it.
    pub(crate) fn secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SubscriptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubscriptionKey([redacted])")
    }
}

/// The live sources refused reachcheck's client itself: every organisation would be
/// refused alike, so the sweep stops (a configuration error, not an outage).
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// Maskinporten or Altinn refused the client (key, client id, audience, scope).
    #[error(
        "{0} (check `live.client_id`, `live.key_id`, `live.key_file`, `live.scope` and `live.maskinporten_audience`)"
    )]
    Client(AuthError),
    /// Every organisation asked was refused for want of a system user: more likely this
    /// client is not registered on the system than that nobody approved it.
    #[error(
        "Maskinporten refused a system-user token for every organisation asked ({asked}) with `{error}`: check that `live.client_id` is registered on reachcheck's system in Altinn's system register{}",
        if *self_check { " and that `live.system_user_org` has approved its system user" } else { "" }
    )]
    NoSystemUser {
        /// How many organisations were asked.
        asked: usize,
        /// The error Maskinporten gave.
        error: String,
        /// Self-check mode (one organisation).
        self_check: bool,
    },
    /// The recording could not be written.
    #[error(transparent)]
    Record(#[from] super::record::RecordError),
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
    recorder: Option<Arc<Recorder>>,
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
            out.insert(org, Party { uuid: p.party_uuid });
        }
        collect_parties(p.subunits, out);
    }
}

/// Why a whole class of requests cannot be made (shared by every unit it affects).
type Shared = Arc<str>;

/// What reachcheck may see through one organisation's system user.
#[derive(Clone)]
enum OrgAccess {
    /// Its token, and the parties it may act for (the organisation and its sub-units).
    Granted {
        token: AccessToken,
        parties: Arc<HashMap<OrgNumber, Party>>,
    },
    /// The organisation has no system user for this client (MP-303): `not_authorized`.
    NotApproved,
    /// The token or the parties could not be had (transient, or the client refused).
    Failed(Shared),
}

/// What one sweep learns about access, shared by its units.
#[derive(Default)]
struct SweepState {
    access: std::sync::Mutex<HashMap<OrgNumber, Arc<tokio::sync::OnceCell<OrgAccess>>>>,
    /// The first refusal of the client itself.
    client_refusal: std::sync::Mutex<Option<AuthError>>,
    /// Organisations asked for a token, and how many were refused for want of a system user.
    asked: AtomicUsize,
    no_system_user: AtomicUsize,
    /// The error those refusals gave.
    no_system_user_error: std::sync::Mutex<Option<String>>,
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl LiveSource {
    /// A live source over `http`, authenticating with `auth`.
    pub fn new(http: Http, auth: Arc<Auth>, endpoints: LiveEndpoints) -> LiveSource {
        LiveSource {
            http,
            auth,
            endpoints,
            progress: None,
            recorder: None,
        }
    }

    /// Records every answer of each sweep under `recorder`'s directory (a snapshot).
    #[must_use]
    pub fn with_recorder(mut self, recorder: Arc<Recorder>) -> LiveSource {
        self.recorder = Some(recorder);
        self
    }

    fn record(&self, rel: &str, status: u16, body: &[u8]) {
        if let Some(r) = self.recorder.as_ref().filter(|_| !rel.is_empty()) {
            r.answer(rel, status, body);
        }
    }

    /// Records a request that failed after its retries with the last status it got (its
    /// body is not kept by the HTTP layer); one that never got an answer (a timeout) has
    /// nothing to record, and replays as missing.
    fn record_failure(&self, rel: &str, e: &HttpFailure) {
        if let Some(status) = e.status {
            self.record(rel, status, b"");
        }
    }

    /// `headers` with the subscription key Altinn's API gateway wants, if configured.
    fn altinn(&self, mut headers: reqwest::header::HeaderMap) -> reqwest::header::HeaderMap {
        if let Some(key) = &self.endpoints.subscription_key
            && let Ok(mut v) = reqwest::header::HeaderValue::from_str(&key.0)
        {
            v.set_sensitive(true);
            headers.insert("Ocp-Apim-Subscription-Key", v);
        }
        headers
    }

    /// Whom the system user that reads `org` belongs to: in self-check mode the one
    /// organisation; in sender mode the unit itself, or a sub-unit's main unit.
    fn owner_of(&self, org: OrgNumber, unit: &Observed<Unit>) -> OrgNumber {
        if let Some(o) = self.endpoints.system_user_org {
            return o;
        }
        match unit {
            Observed::Present(u) if u.register == Register::Underenheter => {
                u.main_unit.unwrap_or(org)
            }
            _ => org,
        }
    }

    /// The access `owner`'s system user gives, asked once per sweep.
    async fn access(&self, state: &SweepState, owner: OrgNumber) -> OrgAccess {
        let cell = Arc::clone(lock(&state.access).entry(owner).or_default());
        cell.get_or_init(|| async {
            if lock(&state.client_refusal).is_some() {
                return OrgAccess::Failed(Shared::from("reachcheck's client was refused"));
            }
            state.asked.fetch_add(1, Ordering::Relaxed);
            match self.auth.token(&self.endpoints.scope, Some(owner)).await {
                Ok(token) => match self.authorized_parties(&token).await {
                    Ok(parties) => OrgAccess::Granted {
                        token,
                        parties: Arc::new(parties),
                    },
                    Err(why) => OrgAccess::Failed(why),
                },
                Err(e) => match e.scope() {
                    RefusalScope::Organisation => {
                        state.no_system_user.fetch_add(1, Ordering::Relaxed);
                        if let AuthError::Refused {
                            status,
                            error,
                            description,
                            uri,
                            ..
                        } = &e
                        {
                            lock(&state.no_system_user_error).get_or_insert_with(|| error.clone());
                            let body = serde_json::json!({
                                "error": error, "error_description": description, "error_uri": uri
                            });
                            self.record(
                                &format!("{MASKINPORTEN}/{owner}"),
                                *status,
                                body.to_string().as_bytes(),
                            );
                        }
                        tracing::info!(org = %owner, "no system user for this client: not authorized");
                        OrgAccess::NotApproved
                    }
                    RefusalScope::Client => {
                        let why = token_failure(&e);
                        lock(&state.client_refusal).get_or_insert(e);
                        OrgAccess::Failed(why)
                    }
                    RefusalScope::Transient => OrgAccess::Failed(token_failure(&e)),
                },
            }
        })
        .await
        .clone()
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
    ///
    /// # Errors
    /// Only when the client itself is refused ([`LiveError`]); every other failure is a
    /// failed source of the units (or resources) it concerns, inside the result.
    pub async fn sweep(
        &self,
        recipients: &[OrgNumber],
        resources: &[ResourceId],
    ) -> Result<Gathered, LiveError> {
        let start_requests = self.http.requests();
        let taken_at = Timestamp::now();
        let state = Arc::new(SweepState::default());
        let (policies, resource_evidence) = self.resources(resources).await;
        let mut snapshot = Snapshot::new(
            taken_at,
            // One address when Altinn and the register are served from one (a stand-in).
            if self.endpoints.altinn == self.endpoints.brreg {
                format!("live: {}", self.endpoints.altinn)
            } else {
                format!("live: {}, {}", self.endpoints.altinn, self.endpoints.brreg)
            },
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
                let state = Arc::clone(&state);
                let (done, failed, total) =
                    (Arc::clone(&done), Arc::clone(&failed), Arc::clone(&total));
                tasks.spawn(async move {
                    let ev = this.unit(org, &state).await;
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
        if let Some(e) = lock(&state.client_refusal).take() {
            return Err(LiveError::Client(e));
        }
        let asked = state.asked.load(Ordering::Relaxed);
        let refused = state.no_system_user.load(Ordering::Relaxed);
        let self_check = self.endpoints.system_user_org.is_some();
        // One organisation refused is that organisation's; all of many, or the one
        // organisation of self-check mode, is the client's.
        let threshold = self.endpoints.all_refused_threshold;
        let all_of_many = threshold > 0 && asked >= threshold;
        if refused > 0 && refused == asked && (all_of_many || self_check) {
            return Err(LiveError::NoSystemUser {
                asked,
                error: lock(&state.no_system_user_error)
                    .clone()
                    .unwrap_or_else(|| NO_SYSTEM_USER.to_owned()),
                self_check,
            });
        }
        if let Some(r) = &self.recorder {
            let not_asked: &[&str] = if self.endpoints.ask_profile {
                &[]
            } else {
                &[NOTIFICATION_ADDRESSES]
            };
            r.finish(taken_at, not_asked)?;
        }
        Ok(Gathered {
            snapshot,
            policies,
            requests: self.http.requests() - start_requests,
        })
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
                        owner_org,
                    }) => this.access_lists(&r, owner.as_deref(), *owner_org).await,
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
        let answer = self
            .http
            .get(url, self.altinn(accept("application/xml")))
            .await;
        let rel = format!("{RESOURCE_POLICIES}/{}/{POLICY_FILE}", r.as_str());
        match &answer {
            Ok(a) => self.record(&rel, a.status.as_u16(), &a.body),
            Err(e) => self.record_failure(&rel, e),
        }
        Ok(match answer {
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
        let answer = self
            .http
            .get(url, self.altinn(accept("application/json")))
            .await;
        let rel = format!("{RESOURCE_POLICIES}/{}/{RESOURCE_FILE}", r.as_str());
        match &answer {
            Ok(a) => self.record(&rel, a.status.as_u16(), &a.body),
            Err(e) => self.record_failure(&rel, e),
        }
        match answer {
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

    /// The owner's access lists bound to `r`, with their members. Only the owner may read
    /// them: with its client's token where reachcheck's client is the owner
    /// (`live.client_org`); otherwise membership is not known.
    async fn access_lists(
        &self,
        r: &ResourceId,
        owner: Option<&str>,
        owner_org: Option<OrgNumber>,
    ) -> Observed<Vec<AccessList>> {
        let (Some(owner), Some(owner_org)) = (owner, owner_org) else {
            return Observed::Missing;
        };
        if self.endpoints.client_org != Some(owner_org) {
            tracing::debug!(resource = %r, %owner, "access lists: only their owner may read them");
            return Observed::Missing;
        }
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
        let kind = SourceKind::AccessLists;
        let rel = format!("{RESOURCE_POLICIES}/{r}/{ACCESS_LISTS_FILE}");
        let bound = match self.paged(url, &token, None, kind, &rel).await {
            Observed::Present(bytes) => match serde_json::from_slice::<RawAccessLists>(&bytes)
                .map_err(|e| format!("malformed JSON: {e}"))
                .and_then(|raw| raw.into_bound(r))
            {
                Ok(b) => b,
                Err(why) => {
                    return Observed::Failed(failure_of(None, kind, "access lists", &why));
                }
            },
            Observed::Missing => return Observed::Missing,
            Observed::Refused(f) | Observed::Failed(f) => return Observed::Failed(f),
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
            let rel = format!("{ACCESS_LISTS}/{owner}/{}/{MEMBERS_FILE}", b.identifier);
            let members = match self.paged(url, &token, None, kind, &rel).await {
                Observed::Present(bytes) => match serde_json::from_slice::<RawMembers>(&bytes)
                    .map_err(|e| format!("malformed JSON: {e}"))
                    .and_then(RawMembers::into_members)
                {
                    Ok(m) => Observed::Present(m),
                    Err(why) => {
                        Observed::Failed(failure_of(None, kind, "access-list members", &why))
                    }
                },
                Observed::Missing => Observed::Missing,
                Observed::Refused(f) | Observed::Failed(f) => Observed::Failed(f),
            };
            lists.push(AccessList {
                identifier: Arc::from(b.identifier),
                actions: b.actions,
                members,
            });
        }
        Observed::Present(lists)
    }

    /// Every page of a `{"links": {"next": ...}, "data": [...]}` answer, merged into one
    /// (and recorded at `rel` so); a status of the first page means what
    /// [`status_meaning`] says, of a later one a failure.
    async fn paged(
        &self,
        mut url: Url,
        token: &AccessToken,
        unit: Option<OrgNumber>,
        kind: SourceKind,
        rel: &str,
    ) -> Observed<Vec<u8>> {
        let mut data: Vec<serde_json::Value> = Vec::new();
        for page in 0..10_000 {
            let a = match self
                .http
                .get(url.clone(), self.altinn(bearer(token, "application/json")))
                .await
            {
                Ok(a) => a,
                Err(e) => {
                    self.record_failure(rel, &e);
                    return Observed::Failed(http_failure(unit, kind, &e));
                }
            };
            if !a.status.is_success() {
                self.record(rel, a.status.as_u16(), &a.body);
                let meaning = status_meaning(kind, a.status.as_u16());
                return match meaning {
                    StatusMeaning::NoData if page == 0 => Observed::Missing,
                    StatusMeaning::Refused if page == 0 => {
                        Observed::Refused(answer_failure(unit, kind, &a))
                    }
                    _ => Observed::Failed(answer_failure(unit, kind, &a)),
                };
            }
            let parsed: RawPage = match serde_json::from_slice(&a.body) {
                Ok(p) => p,
                Err(e) => {
                    self.record(rel, 200, &a.body);
                    return Observed::Failed(failure_of(
                        unit,
                        kind,
                        &location(&a),
                        &format!("malformed JSON: {e}"),
                    ));
                }
            };
            data.extend(parsed.data);
            match parsed
                .links
                .and_then(|l| l.next)
                .filter(|n| !n.trim().is_empty())
            {
                None => {
                    let merged = serde_json::json!({"links": {"next": null}, "data": data})
                        .to_string()
                        .into_bytes();
                    self.record(rel, 200, &merged);
                    return Observed::Present(merged);
                }
                Some(n) => match a.url.join(&n) {
                    Ok(next) => url = next,
                    Err(_) => {
                        return Observed::Failed(failure_of(
                            unit,
                            kind,
                            &location(&a),
                            "`links.next` is not a URL",
                        ));
                    }
                },
            }
        }
        Observed::Failed(failure_of(unit, kind, url.path(), "more than 10000 pages"))
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
            let rel = if file_name_safe(&party) {
                format!("{RESOURCE_RIGHTS}/{org}/{r}/{party}.json")
            } else {
                String::new()
            };
            let got = self
                .fetch(
                    org,
                    SourceKind::ResourceRights,
                    url,
                    self.altinn(bearer(token, "application/json")),
                    &rel,
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
                .get(url.clone(), self.altinn(bearer(token, "application/json")))
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

    async fn unit(&self, org: OrgNumber, state: &SweepState) -> UnitEvidence {
        let mut ev = UnitEvidence::new(org);
        // Enhetsregisteret record: 404 in both registers means no record.
        let mut register = None;
        for (path, dir, reg) in [
            (MAIN, UNITS, Register::Enheter),
            (SUB, SUB_UNITS, Register::Underenheter),
        ] {
            let url = self.url(&self.endpoints.brreg, &format!("{path}/{org}"));
            let rel = format!("{dir}/{org}.json");
            match self.http.get(url.clone(), accept("application/json")).await {
                Ok(a) if a.status == StatusCode::NOT_FOUND => {
                    self.record(&rel, 404, &a.body);
                    continue;
                }
                // A deleted unit answers 410 with its record (`slettedato`).
                Ok(a) if a.status.is_success() || a.status == StatusCode::GONE => {
                    self.record(&rel, 200, &a.body);
                    ev.unit = decode(Some(org), SourceKind::Unit, &a, |b| {
                        serde_json::from_slice::<RawBrregUnit>(b)
                            .map_err(|e| format!("malformed JSON: {e}"))
                            .and_then(|u| u.into_unit(org, reg))
                    });
                    register = Some(reg);
                    break;
                }
                Ok(a) => {
                    self.record(&rel, a.status.as_u16(), &a.body);
                    ev.unit = Observed::Failed(status_failure(org, SourceKind::Unit, &a));
                    break;
                }
                Err(e) => {
                    self.record_failure(&rel, &e);
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
                &format!("{ROLES}/{org}.json"),
                |b| {
                    serde_json::from_slice::<RawRoller>(b)
                        .map(RawRoller::into_holders)
                        .map_err(|e| format!("malformed JSON: {e}"))
                },
            )
            .await
        };
        let owner = self.owner_of(org, &ev.unit);
        let (roles, access) = tokio::join!(roles, self.access(state, owner));

        let connections = async {
            match &access {
                OrgAccess::Granted { token, parties } => match parties.get(&org) {
                    Some(party) => {
                        let connections = self.connections(org, token, &party.uuid).await;
                        // Rule 10: what each resource delegation grants.
                        let rights = match &connections {
                            Observed::Present(holders) => {
                                self.rights(org, token, &party.uuid, holders).await
                            }
                            _ => FxHashMap::default(),
                        };
                        (connections, Some(true), rights)
                    }
                    // Not among the parties the owner's system user may act for.
                    None => {
                        self.record(
                            &format!("{CONNECTIONS}/{org}.json"),
                            403,
                            format!(
                                "{{\"detail\":\"{org} is not among the parties of the system user of {owner}\"}}"
                            )
                            .as_bytes(),
                        );
                        (Observed::Missing, Some(false), FxHashMap::default())
                    }
                },
                OrgAccess::NotApproved => (Observed::Missing, Some(false), FxHashMap::default()),
                OrgAccess::Failed(why) => (
                    Observed::Failed(shared_failure(org, SourceKind::Connections, why)),
                    None,
                    FxHashMap::default(),
                ),
            }
        };
        let addresses = async {
            let kind = SourceKind::NotificationAddresses;
            if !self.endpoints.ask_profile {
                return Observed::Refused(failure_of(
                    Some(org),
                    kind,
                    "profile",
                    "not asked: Altinn's profile answers the organisation's own users, not a system user (`live.notification_addresses`)",
                ));
            }
            let token = match &access {
                OrgAccess::Granted { token, .. } => token,
                OrgAccess::NotApproved => {
                    return Observed::Refused(failure_of(
                        Some(org),
                        kind,
                        "profile",
                        "no system user to ask with",
                    ));
                }
                OrgAccess::Failed(why) => {
                    return Observed::Failed(shared_failure(org, kind, why));
                }
            };
            let url = self.url(
                &self.endpoints.altinn,
                &format!("profile/api/v1/organizations/{org}/notificationaddresses/mandatory"),
            );
            self.fetch(
                org,
                kind,
                url,
                self.altinn(bearer(token, "application/json")),
                &format!("{NOTIFICATION_ADDRESSES}/{org}.json"),
                |b| {
                    serde_json::from_slice::<RawNotificationAddresses>(b)
                        .map_err(|e| format!("malformed JSON: {e}"))
                        .and_then(|n| n.usable(org))
                },
            )
            .await
        };
        let ((connections, authorized, rights), addresses) = tokio::join!(connections, addresses);
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
        rel: &str,
        parse: impl FnOnce(&[u8]) -> Result<T, String>,
    ) -> Observed<T> {
        let got = self.http.get(url, headers).await;
        match &got {
            Ok(a) => self.record(rel, a.status.as_u16(), &a.body),
            Err(e) => self.record_failure(rel, e),
        }
        match got {
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
        let kind = SourceKind::Connections;
        let rel = format!("{CONNECTIONS}/{org}.json");
        match self.paged(url, token, Some(org), kind, &rel).await {
            Observed::Present(bytes) => match serde_json::from_slice::<RawConnections>(&bytes)
                .map_err(|e| format!("malformed JSON: {e}"))
                .and_then(RawConnections::into_holders)
            {
                Ok(h) => Observed::Present(h),
                Err(why) => Observed::Failed(failure_of(Some(org), kind, "connections", &why)),
            },
            Observed::Missing => Observed::Missing,
            Observed::Refused(f) => Observed::Refused(f),
            Observed::Failed(f) => Observed::Failed(f),
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

/// Whether a party id can name a file (a UUID can).
fn file_name_safe(party: &str) -> bool {
    !party.is_empty()
        && party.len() <= 64
        && party
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
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
    /// A sweep fails as a whole only when reachcheck's client is refused; every other
    /// failure is a [`SourceFailure`] of the units (or resources) it concerns, inside the
    /// result.
    async fn gather(
        &self,
        recipients: &[OrgNumber],
        resources: &[ResourceId],
    ) -> Result<Gathered, EvidenceError> {
        Ok(self.sweep(recipients, resources).await?)
    }
}
