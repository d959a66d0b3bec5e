//! The live path over real HTTP against `altinn-sim`: the Maskinporten grant as the
//! stand-in sees it, token reuse and refresh, 429 and `Retry-After`, faults on every
//! endpoint moving verdicts only to `unknown`, and parity with the snapshot source on the
//! demo and on every case of the independent corpus.

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reachcheck::auth::{Auth, AuthError, AuthSettings};
use reachcheck::engine::DEFAULT_MAX_DATA_AGE;
use reachcheck::evidence::live::{LiveEndpoints, LiveSource};
use reachcheck::http::{Http, HttpSettings};
use reachcheck::sweep::apply_remote_policies;
use reachcheck::{Engine, OrgNumber, Policies, RoutingTable, SnapshotDir, Verdict, evaluate};
use serde_json::Value;

use crate::fixture::{Proc, altinn_sim};
use crate::keys::{CLIENT_ID, KEY_ID, keys};

/// The endpoints as `altinn-sim` names them in `/_sim/requests` and `--faults only=`.
///
/// A copy of the stand-in's own list rather than one read from `/_sim/requests`, which
/// names only the endpoints asked so far. The copy cannot drift silently: the stand-in
/// refuses `only=` with a name it does not know, so a stale entry fails the test that uses it.
const ENDPOINTS: [&str; 13] = [
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
];

/// The organisation of the test client (the police, owner of the demo's resources).
const CLIENT_ORG: &str = "310000019";
/// A demo municipality that approved reachcheck's system user (its connections are recorded).
const APPROVED: &str = "964338531";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A stand-in (the `altinn-sim` process) serving `snapshot`, and a client configured for it.
struct Stand {
    /// Killed when the stand is dropped (before its directory goes).
    sim: Proc,
    _dir: tempfile::TempDir,
    key_file: PathBuf,
}

#[derive(Clone)]
struct StandOptions {
    /// `--faults`, e.g. `5xx=0.2,only=brreg/roller`.
    faults: String,
    seed: u64,
    rate_limit: Option<u32>,
    latency: Duration,
    token_lifetime: u64,
    /// `--policies`: what Altinn enforces where the snapshot recorded no policy.
    policies: Option<PathBuf>,
    /// `--profile-for-system-users`: the profile answers a system user.
    profile_for_system_users: bool,
    /// `--client-org`: the client's organisation (owner of the resources it reads the
    /// access lists of).
    client_org: String,
    /// `--platform-subscription-key`: API management's key on the platform's APIs.
    platform_key: Option<String>,
}

impl Default for StandOptions {
    fn default() -> Self {
        StandOptions {
            faults: String::new(),
            seed: 1,
            rate_limit: None,
            latency: Duration::ZERO,
            token_lifetime: 599,
            policies: Some(root().join("policies")),
            profile_for_system_users: true,
            client_org: CLIENT_ORG.to_owned(),
            platform_key: None,
        }
    }
}

/// Starts `altinn-sim` over `snapshot`, trusting the test key pair's public half.
fn stand(snapshot: &Path, o: StandOptions) -> Stand {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("client.key.pem");
    std::fs::write(&key_file, &keys().0).unwrap();
    let public_key = dir.path().join("client.pub.pem");
    std::fs::write(&public_key, &keys().1).unwrap();
    let (seed, latency, lifetime) = (
        o.seed.to_string(),
        o.latency.as_millis().to_string(),
        o.token_lifetime.to_string(),
    );
    let mut args = vec![
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--client-public-key",
        public_key.to_str().unwrap(),
        "--seed",
        &seed,
        "--faults",
        &o.faults,
        "--latency-ms",
        &latency,
        "--token-lifetime",
        &lifetime,
    ];
    // No limit for none or 0, as before the stand-in became a process.
    let rate = o
        .rate_limit
        .and_then(NonZeroU32::new)
        .map(|n| n.to_string());
    if let Some(rate) = &rate {
        args.extend(["--rate-limit", rate]);
    }
    if let Some(p) = &o.policies {
        args.extend(["--policies", p.to_str().unwrap()]);
    }
    args.extend(["--client-org", &o.client_org]);
    if o.profile_for_system_users {
        args.push("--profile-for-system-users");
    }
    if let Some(k) = &o.platform_key {
        args.extend(["--platform-subscription-key", k]);
    }
    let sim = altinn_sim(&args, dir.path().join("altinn-sim.log"));
    Stand {
        sim,
        _dir: dir,
        key_file,
    }
}

struct Client {
    http: Http,
    auth: Arc<Auth>,
    endpoints: LiveEndpoints,
}

impl Stand {
    fn url(&self, path: &str) -> reqwest::Url {
        reqwest::Url::parse(&format!("{}{path}", self.sim.base)).unwrap()
    }

    fn client(&self, http: HttpSettings, altinn_token_lifetime: Duration) -> Client {
        let http = Http::new(HttpSettings {
            allow_http: true,
            ..http
        })
        .unwrap();
        let auth = Auth::new(
            http.clone(),
            AuthSettings {
                token_url: self.url("/token"),
                audience: format!("{}/", self.sim.base),
                client_id: CLIENT_ID.to_owned(),
                key_file: self.key_file.clone(),
                key_id: Some(KEY_ID.to_owned()),
                x5c: None,
                exchange_url: Some(self.url("/authentication/api/v1/exchange/maskinporten")),
                altinn_token_lifetime,
                refresh_margin: Duration::from_millis(500),
            },
        )
        .unwrap();
        Client {
            http,
            auth: Arc::new(auth),
            endpoints: LiveEndpoints {
                altinn: self.url(""),
                brreg: self.url(""),
                scope: reachcheck::settings::DEFAULT_SCOPE.to_owned(),
                access_list_scope: reachcheck::settings::DEFAULT_ACCESS_LIST_SCOPE.to_owned(),
                // Sender mode: each recipient is asked with its own system user.
                system_user_org: None,
                client_org: Some(OrgNumber::parse(CLIENT_ORG).unwrap()),
                ask_profile: true,
                subscription_key: None,
                all_refused_threshold: reachcheck::evidence::live::ALL_REFUSED_THRESHOLD,
            },
        }
    }

    async fn get_json(&self, path: &str) -> Value {
        reqwest::get(self.url(path))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

fn fast() -> HttpSettings {
    HttpSettings {
        rate_per_second: NonZeroU32::new(5000).unwrap(),
        concurrency: 16,
        timeout: Duration::from_secs(5),
        attempts: 1,
        backoff: Duration::from_millis(20),
        max_backoff: Duration::from_secs(2),
        ..HttpSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grant_carries_exactly_the_documented_claims_as_the_stand_in_sees_them() {
    let s = stand(
        &root().join("examples/demo/snapshot"),
        StandOptions::default(),
    );
    let c = s.client(fast(), Duration::from_secs(1800));
    let org = OrgNumber::parse(APPROVED).unwrap();
    c.auth
        .token("altinn:accessmanagement/authorizedparties", Some(org))
        .await
        .unwrap();
    let grants = s.get_json("/_sim/grants").await;
    let grants = grants.as_array().unwrap();
    assert_eq!(grants.len(), 1);
    let g = &grants[0];
    assert_eq!(g["accepted"], true, "{g}");
    assert_eq!(g["header"]["alg"], "RS256");
    assert_eq!(g["header"]["kid"], KEY_ID);
    let claims = g["claims"].as_object().unwrap();
    let mut names: Vec<&str> = claims.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "aud",
            "authorization_details",
            "exp",
            "iat",
            "iss",
            "jti",
            "scope"
        ]
    );
    assert_eq!(claims["aud"], format!("{}/", s.sim.base));
    assert_eq!(claims["iss"], CLIENT_ID);
    assert_eq!(claims["scope"], "altinn:accessmanagement/authorizedparties");
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!(exp > iat && exp - iat <= 120, "iat {iat} exp {exp}");
    assert!(claims["jti"].as_str().unwrap().len() >= 32);
    let detail = &claims["authorization_details"][0];
    assert_eq!(detail["type"], "urn:altinn:systemuser");
    assert_eq!(
        detail["systemuser_org"]["authority"],
        "iso6523-actorid-upis"
    );
    assert_eq!(detail["systemuser_org"]["ID"], format!("0192:{APPROVED}"));

    // Without a system-user organisation there is no authorization_details claim.
    c.auth
        .token("altinn:accessmanagement/authorizedparties", None)
        .await
        .unwrap();
    let grants = s.get_json("/_sim/grants").await;
    assert!(grants[1]["claims"].get("authorization_details").is_none());
    assert_ne!(grants[0]["claims"]["jti"], grants[1]["claims"]["jti"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stand_in_refuses_what_maskinporten_refuses() {
    let s = stand(
        &root().join("examples/demo/snapshot"),
        StandOptions::default(),
    );
    let c = s.client(fast(), Duration::from_secs(1800));
    let http = reqwest::Client::new();
    let post = |assertion: String| {
        let http = http.clone();
        let url = s.url("/token");
        async move {
            let r = http
                .post(url)
                .form(&[
                    ("grant_type", reachcheck::auth::JWT_BEARER),
                    ("assertion", &assertion),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let now = jiff::Timestamp::now().as_second();
    let a = c
        .auth
        .assertion("altinn:accessmanagement/authorizedparties", None, now)
        .unwrap();
    let (status, body) = post(a.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    // A jti is single-use.
    let (status, body) = post(a).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        body["error_description"].as_str().unwrap().contains("jti"),
        "{body}"
    );
    // An unknown scope.
    let a = c.auth.assertion("altinn:unknown/scope", None, now).unwrap();
    let (status, body) = post(a).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    // A grant issued long ago is expired.
    let a = c
        .auth
        .assertion("altinn:accessmanagement/authorizedparties", None, now - 600)
        .unwrap();
    let (status, body) = post(a).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // The client surfaces the refusal with the upstream, status and OAuth error.
    let err = c
        .auth
        .token("altinn:unknown/scope", None)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, AuthError::Refused { status: 400, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("/token") && msg.contains("invalid_scope"),
        "{msg}"
    );
    assert!(!msg.contains(&keys().0[40..80]), "the key leaked: {msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_cached_per_scope_and_organisation_refreshed_before_expiry_one_at_a_time() {
    let s = stand(
        &root().join("examples/demo/snapshot"),
        StandOptions::default(),
    );
    // Altinn tokens that live 2 s, refreshed 0.5 s before they expire.
    let c = s.client(fast(), Duration::from_secs(2));
    let org = OrgNumber::parse(APPROVED).unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let auth = Arc::clone(&c.auth);
            tokio::spawn(async move {
                auth.token("altinn:accessmanagement/authorizedparties", Some(org))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap().secret().clone());
    }
    assert!(
        tokens.windows(2).all(|w| w[0] == w[1]),
        "concurrent callers share one token"
    );
    assert_eq!(c.auth.grants(), 1, "one grant for eight concurrent callers");
    let again = c
        .auth
        .token("altinn:accessmanagement/authorizedparties", Some(org))
        .await
        .unwrap();
    assert_eq!(again.secret(), &tokens[0]);
    assert_eq!(c.auth.grants(), 1);
    // Another scope or organisation is another token.
    c.auth
        .token("altinn:accessmanagement/authorizedparties", None)
        .await
        .unwrap();
    assert_eq!(c.auth.grants(), 2);
    // After 1.6 s the 2-second token is within its refresh margin: a new one.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let fresh = c
        .auth
        .token("altinn:accessmanagement/authorizedparties", Some(org))
        .await
        .unwrap();
    assert_ne!(fresh.secret(), &tokens[0]);
    assert_eq!(c.auth.grants(), 3);
    let counts = s.get_json("/_sim/requests").await;
    assert_eq!(counts["maskinporten/token"], 3);
    assert_eq!(counts["altinn/exchange"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_after_the_wait_retry_after_asks_for() {
    let s = stand(
        &root().join("examples/demo/snapshot"),
        StandOptions {
            rate_limit: Some(2),
            ..StandOptions::default()
        },
    );
    let c = s.client(
        HttpSettings {
            attempts: 6,
            ..fast()
        },
        Duration::from_secs(1800),
    );
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for org in [
        "964338531",
        "958935420",
        "944496394",
        "964965226",
        "964977402",
        "864964702",
    ] {
        let http = c.http.clone();
        let url = s.url(&format!("/enhetsregisteret/api/enheter/{org}"));
        tasks.spawn(async move { http.get(url, reqwest::header::HeaderMap::new()).await });
    }
    while let Some(r) = tasks.join_next().await {
        let answer = r.unwrap().expect("retried until answered");
        assert_eq!(answer.status, 200);
    }
    let counts = s.get_json("/_sim/requests").await;
    let limited = counts["rate_limited"].as_u64().unwrap_or(0);
    assert!(
        limited >= 1,
        "the stand-in must have refused some: {counts}"
    );
    // Two answered at once (the burst), the rest only after `Retry-After: 1`.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(c.http.requests(), 6 + limited);
}

/// Judges `routes` on the snapshot directory and through the stand-in; returns per route
/// (snapshot verdict, readers, codes) and (live verdict, readers, codes).
type Judged = Vec<(String, Verdict, u32, Vec<String>)>;

/// The code a registry entry or access lists that were never recorded give: the snapshot
/// reads the missing file as `no_data`; live, the stand-in has no honest answer and says
/// 503, a `source_error`. Nothing else may differ (verdict, readers, other codes).
const UNRECORDED: &str = "unrecorded registry data";

/// With `unrecorded_as_missing` (parity), a 503 from the registry reads as the stand-in's
/// "not recorded"; without it (faults injected) a 503 is the fault it is.
fn judge(
    engine: &Engine,
    routes: &RoutingTable,
    now: jiff::Timestamp,
    unrecorded_as_missing: bool,
) -> Judged {
    use reachcheck::model::{Finding, SourceKind};
    evaluate(engine, routes, now)
        .iter()
        .map(|(r, a)| {
            let mut codes: Vec<String> = a
                .findings()
                .iter()
                .map(|f| match f {
                    Finding::NoData { gaps: Some(g), .. }
                        if g.iter().all(|g| {
                            matches!(g.source, SourceKind::Resource | SourceKind::AccessLists)
                        }) =>
                    {
                        UNRECORDED.to_owned()
                    }
                    Finding::SourceError(e)
                        if unrecorded_as_missing
                            && e.reason.contains("503")
                            && matches!(
                                e.source,
                                SourceKind::Resource | SourceKind::AccessLists
                            ) =>
                    {
                        UNRECORDED.to_owned()
                    }
                    f => f.code().as_str().to_owned(),
                })
                .filter(|c| c != "not_authorized")
                .collect();
            codes.sort();
            (
                format!(
                    "{},{},{}",
                    r.route.sender, r.route.message_type, r.route.recipient
                ),
                a.verdict,
                a.readers,
                codes,
            )
        })
        .collect()
}

/// Asserts that two judgements agree route by route, listing every route that differs.
fn assert_same(want: &Judged, got: &Judged, label: &str) {
    assert_eq!(got.len(), want.len());
    let diffs: Vec<String> = want
        .iter()
        .zip(got)
        .filter(|(w, g)| w != g)
        .map(|(w, g)| format!("{w:?}\n  {label}: {g:?}"))
        .collect();
    assert!(
        diffs.is_empty(),
        "{} routes differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

fn snapshot_judgement(policies: &Policies, routes: &RoutingTable, snapshot_dir: &Path) -> Judged {
    let dir = SnapshotDir::new(snapshot_dir);
    let snapshot = dir
        .load(
            routes.routes().map(|r| r.recipient),
            &policies.resource_ids(),
        )
        .unwrap();
    let now = snapshot.taken_at;
    let policies = apply_remote_policies(
        policies.clone(),
        &dir.resource_policies(&policies.resource_ids()),
    );
    let engine = Engine::new(Arc::new(policies), Arc::new(snapshot), DEFAULT_MAX_DATA_AGE);
    judge(&engine, routes, now, true)
}

/// Notification codes of routes to `unasked` units left out: a unit that has not approved
/// reachcheck's system user cannot be asked for its addresses live (no token for it), while a
/// hand-made snapshot may hold them. Nothing else is left out.
fn without_unasked_notification(j: Judged, unasked: &BTreeSet<OrgNumber>) -> Judged {
    j.into_iter()
        .map(|(route, verdict, readers, codes)| {
            let recipient = route
                .rsplit(',')
                .next()
                .and_then(|r| OrgNumber::parse(r).ok());
            let codes = if recipient.is_some_and(|r| unasked.contains(&r)) {
                codes
                    .into_iter()
                    .filter(|c| !c.starts_with("notification_") && c != "no_notification_address")
                    .collect()
            } else {
                codes
            };
            (route, verdict, readers, codes)
        })
        .collect()
}

/// A live sweep through the stand-in, judged; also the units that had not approved
/// reachcheck (see [`without_unasked_notification`], already applied to the result).
async fn live_judgement(
    policies: &Policies,
    routes: &RoutingTable,
    client: &Client,
    parity: bool,
) -> (Judged, u64, BTreeSet<OrgNumber>) {
    let source = LiveSource::new(
        client.http.clone(),
        Arc::clone(&client.auth),
        client.endpoints.clone(),
    );
    let resources = policies.resource_ids();
    let recipients: Vec<OrgNumber> = routes.routes().map(|r| r.recipient).collect();
    let got = source.sweep(&recipients, &resources).await.unwrap();
    let now = got.snapshot.taken_at;
    let unasked: BTreeSet<OrgNumber> = got
        .snapshot
        .units
        .values()
        .filter(|u| u.authorized == Some(false))
        .map(|u| u.org)
        .collect();
    let policies = apply_remote_policies(policies.clone(), &got.policies);
    let engine = Engine::new(
        Arc::new(policies),
        Arc::new(got.snapshot),
        DEFAULT_MAX_DATA_AGE,
    );
    let judged = without_unasked_notification(judge(&engine, routes, now, parity), &unasked);
    (judged, got.requests, unasked)
}

/// The owner organisation a snapshot's registry entries name, if any.
fn owner_in(snapshot: &Path) -> Option<String> {
    let dir = std::fs::read_dir(snapshot.join("resourceregistry")).ok()?;
    dir.filter_map(Result::ok)
        .filter_map(|e| std::fs::read(e.path().join("resource.json")).ok())
        .filter_map(|b| serde_json::from_slice::<Value>(&b).ok())
        .find_map(|v| {
            v["hasCompetentAuthority"]["organization"]
                .as_str()
                .map(str::to_owned)
        })
}

fn demo() -> (Policies, RoutingTable, PathBuf) {
    let policies = Policies::load(&root().join("policies")).unwrap();
    let routes = RoutingTable::load(&root().join("examples/demo/routes.csv"), &policies).unwrap();
    (policies, routes, root().join("examples/demo/snapshot"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_sweep_of_the_demo_gives_exactly_the_snapshot_verdicts() {
    let (policies, routes, dir) = demo();
    let want = snapshot_judgement(&policies, &routes, &dir);
    let s = stand(&dir, StandOptions::default());
    let c = s.client(fast(), Duration::from_secs(1800));
    let (got, requests, unasked) = live_judgement(&policies, &routes, &c, true).await;
    let want = without_unasked_notification(want, &unasked);
    assert_same(&want, &got, "live");
    let units = {
        let mut v: Vec<OrgNumber> = routes.routes().map(|r| r.recipient).collect();
        v.sort_unstable();
        v.dedup();
        v.len() as u64
    };
    // Per unit at most five (its record, once more for a sub-unit; roles; connections;
    // addresses); per organisation asked three (grant, exchange, authorized parties); per
    // delegation one rights answer; per resource its entry, policy, lists and members.
    let counts = s.get_json("/_sim/requests").await;
    let count = |e: &str| counts[e].as_u64().unwrap_or(0);
    let per_delegation = count("altinn/resourcerights");
    let per_resource = count("altinn/resource")
        + count("altinn/resourcepolicy")
        + count("altinn/accesslists")
        + count("altinn/accesslistmembers");
    let per_organisation =
        count("maskinporten/token") + count("altinn/exchange") + count("altinn/authorizedparties");
    assert!(
        per_resource <= 4 * policies.resource_ids().len() as u64,
        "{per_resource} registry requests for {} resources",
        policies.resource_ids().len()
    );
    assert!(
        per_organisation <= 3 * units,
        "{per_organisation} token and party requests for {units} units"
    );
    let fixed = requests - per_delegation - per_resource - per_organisation;
    assert!(
        fixed <= 5 * units,
        "{fixed} fixed requests for {units} units ({requests} in all: {per_delegation} rights, {per_resource} registry, {per_organisation} tokens and parties)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_sweep_of_every_independent_case_gives_exactly_the_snapshot_verdicts() {
    let mut report = String::new();
    let dirs = crate::cases::case_dirs("tests/cases");
    assert!(dirs.len() >= 20);
    for dir in &dirs {
        let case: toml::Value =
            toml::from_str(&std::fs::read_to_string(dir.join("case.toml")).unwrap()).unwrap();
        let policies_dir = dir.join(
            case.get("policies")
                .and_then(|p| p.as_str())
                .unwrap_or("policies"),
        );
        let grants = if policies_dir.join("altinn-grants.toml").is_file() {
            policies_dir.join("altinn-grants.toml")
        } else {
            root().join("policies/altinn-grants.toml")
        };
        let policies = Policies::load_with_grants(&policies_dir, &grants).unwrap();
        let routes = RoutingTable::load(&dir.join("routes.csv"), &policies).unwrap();
        let want = snapshot_judgement(&policies, &routes, &dir.join("snapshot"));
        // The client is the owner of the case's resources, as whoever recorded their
        // access lists was (only the owner may read them).
        let owner = owner_in(&dir.join("snapshot")).unwrap_or_else(|| CLIENT_ORG.to_owned());
        let s = stand(
            &dir.join("snapshot"),
            StandOptions {
                policies: Some(policies_dir.clone()),
                client_org: owner.clone(),
                ..StandOptions::default()
            },
        );
        let mut c = s.client(fast(), Duration::from_secs(1800));
        c.endpoints.client_org = OrgNumber::parse(&owner).ok();
        let (got, _, unasked) = live_judgement(&policies, &routes, &c, true).await;
        let want = without_unasked_notification(want, &unasked);
        for (w, g) in want.iter().zip(&got) {
            if w != g {
                report.push_str(&format!(
                    "{}: {w:?}\n  live: {g:?}\n",
                    dir.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    assert!(report.is_empty(), "{report}");
}

/// Runs the demo through a stand-in injecting `spec` and checks that every verdict is the
/// fault-free one or `unknown`; returns how many moved.
async fn faults_move_only_to_unknown(spec: &str, seed: u64) -> usize {
    let (policies, routes, dir) = demo();
    let clean = clean_verdicts(&policies, &routes, &dir);
    let (moved, wrong) = under_faults(&dir, &policies, &routes, &clean, spec, seed).await;
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    moved
}

fn clean_verdicts(
    policies: &Policies,
    routes: &RoutingTable,
    dir: &Path,
) -> BTreeMap<String, Verdict> {
    snapshot_judgement(policies, routes, dir)
        .into_iter()
        .map(|(k, v, _, _)| (k, v))
        .collect()
}

/// Sweeps `dir` through a stand-in injecting `spec` (one attempt per request, so nothing
/// hides the faults); returns how many verdicts moved from `clean`, and every move that
/// was not to `unknown` with a `source_error`.
async fn under_faults(
    dir: &Path,
    policies: &Policies,
    routes: &RoutingTable,
    clean: &BTreeMap<String, Verdict>,
    spec: &str,
    seed: u64,
) -> (usize, Vec<String>) {
    let s = stand(
        dir,
        StandOptions {
            faults: spec.to_owned(),
            seed,
            ..StandOptions::default()
        },
    );
    let c = s.client(
        HttpSettings {
            timeout: Duration::from_millis(300),
            attempts: 1,
            ..fast()
        },
        Duration::from_secs(1800),
    );
    let (got, _, _) = live_judgement(policies, routes, &c, false).await;
    let mut moved = 0;
    let mut wrong = Vec::new();
    for (route, verdict, _, codes) in &got {
        let was = clean[route];
        if *verdict != was {
            moved += 1;
            // Unknown, and saying why: a failed source, or evidence missing (an
            // organisation whose token was refused is `not_authorized`, so `no_data`).
            let said = codes.iter().any(|c| c == "source_error" || c == "no_data");
            if *verdict != Verdict::Unknown || !said {
                wrong.push(format!(
                    "{spec}: {route} was {was:?}, became {verdict:?} {codes:?}"
                ));
            }
        }
    }
    (moved, wrong)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_every_kind_of_fault_verdicts_only_move_to_unknown() {
    for spec in [
        "5xx=0.3",
        "429=0.3",
        "timeout=0.1",
        "malformed=0.3",
        "token=0.5",
    ] {
        let moved = faults_move_only_to_unknown(spec, 7).await;
        if spec != "token=0.5" {
            assert!(moved > 0, "{spec}: the faults must have hit some routes");
        }
    }
    // A mixture, with several seeds.
    for seed in 1..=3 {
        faults_move_only_to_unknown(
            "5xx=0.1,429=0.05,timeout=0.02,malformed=0.05,token=0.1",
            seed,
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_organisation_refused_alike_stops_the_sweep_as_the_clients_configuration() {
    let (policies, routes, demo_dir) = demo();
    // The demo, where the one system-user request on record was rejected: nobody approved.
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&demo_dir, dir.path());
    // Only the requests written here: not the demo's own.
    let requests = dir.path().join("authentication/systemuser/request");
    std::fs::remove_dir_all(&requests).unwrap();
    std::fs::create_dir_all(&requests).unwrap();
    std::fs::write(
        requests.join("964338531.json"),
        r#"{"id":"0b8b8d8e-0000-4000-8000-000000000001","partyOrgNo":"964338531","status":"Rejected"}"#,
    )
    .unwrap();
    let s = stand(dir.path(), StandOptions::default());
    let c = s.client(fast(), Duration::from_secs(1800));
    let source = LiveSource::new(c.http.clone(), Arc::clone(&c.auth), c.endpoints.clone());
    let recipients: Vec<OrgNumber> = routes.routes().map(|r| r.recipient).collect();
    let err = source
        .sweep(&recipients, &policies.resource_ids())
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            reachcheck::evidence::live::LiveError::NoSystemUser { asked, .. } if asked >= 5
        ),
        "{msg}"
    );
    assert!(
        msg.contains("invalid_altinn_customer_configuration") && msg.contains("live.client_id"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stand_in_refuses_the_one_token_requests_of_the_old_model() {
    // The profile as Altinn answers it today: not to a system user.
    let s = stand(
        &root().join("examples/demo/snapshot"),
        StandOptions {
            profile_for_system_users: false,
            ..StandOptions::default()
        },
    );
    let c = s.client(fast(), Duration::from_secs(1800));
    let scope = reachcheck::settings::DEFAULT_SCOPE;
    let a = OrgNumber::parse(APPROVED).unwrap();
    // Another organisation that approved reachcheck's system user.
    let b = OrgNumber::parse("964977402").unwrap();
    let token_a = c.auth.token(scope, Some(a)).await.unwrap().secret().clone();
    let token_b = c.auth.token(scope, Some(b)).await.unwrap().secret().clone();
    let http = reqwest::Client::new();
    let get = |path: String, token: String| {
        let http = http.clone();
        let url = s.url(&path);
        async move {
            let r = http.get(url).bearer_auth(token).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let parties = |token: String| {
        get(
            "/accessmanagement/api/v1/enduser/authorizedparties?includeSubParties=true".to_owned(),
            token,
        )
    };
    let party_of = |body: &Value| body["data"][0]["partyUuid"].as_str().unwrap().to_owned();
    // Authorized parties: only the token's own organisation.
    let (status, body) = parties(token_a.clone()).await;
    assert_eq!(status, 200, "{body}");
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{body}");
    assert_eq!(data[0]["organizationNumber"], APPROVED);
    let party_a = party_of(&body);
    let party_b = party_of(&parties(token_b.clone()).await.1);
    let connections = |party: &str| {
        format!("/accessmanagement/api/v1/enduser/connections?party={party}&from={party}")
    };
    // Its own connections with its own token; another's with it: 403.
    assert_eq!(get(connections(&party_a), token_a.clone()).await.0, 200);
    assert_eq!(get(connections(&party_b), token_b.clone()).await.0, 200);
    assert_eq!(get(connections(&party_b), token_a.clone()).await.0, 403);
    assert_eq!(get(connections(&party_a), token_b.clone()).await.0, 403);
    // The old model's one token without an organisation: no party at all.
    let plain = c.auth.token(scope, None).await.unwrap().secret().clone();
    assert_eq!(get(connections(&party_a), plain.clone()).await.0, 403);
    assert_eq!(parties(plain).await.0, 401);
    // The profile refuses a system user, even for its own organisation.
    let profile = format!("/profile/api/v1/organizations/{a}/notificationaddresses/mandatory");
    assert_eq!(get(profile, token_a).await.0, 403);
    // The portal's scope for signed-in people is not the client's to ask.
    let err = c
        .auth
        .token("altinn:portal/enduser", Some(a))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid_scope"), "{err}");
}

/// The organisations the stand-in was asked tokens for (`authorization_details`), in order.
async fn token_orgs(s: &Stand) -> Vec<String> {
    let grants = s.get_json("/_sim/grants").await;
    grants
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["claims"]["authorization_details"][0]["systemuser_org"]["ID"].as_str())
        .map(|id| id.trim_start_matches("0192:").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_units_are_read_with_their_main_units_token_and_self_check_keeps_one_organisation() {
    use reachcheck::evidence::live::LiveError;
    let (policies, _, dir) = demo();
    let resources = policies.resource_ids();
    let org = |s: &str| OrgNumber::parse(s).unwrap();
    // A demo sub-unit, and its main unit (both approved: connections recorded).
    let (sub, main) = (org("320000009"), org("859223672"));

    // Sender mode: the sub-unit is read with its main unit's token; no token is asked for it.
    let s = stand(&dir, StandOptions::default());
    let c = s.client(fast(), Duration::from_secs(1800));
    let source = LiveSource::new(c.http.clone(), Arc::clone(&c.auth), c.endpoints.clone());
    let got = source.sweep(&[sub], &resources).await.unwrap();
    let unit = &got.snapshot.units[&sub];
    assert_eq!(unit.authorized, Some(true));
    assert!(
        unit.connections.present().is_some(),
        "{:?}",
        unit.connections
    );
    assert!(got.snapshot.units[&main].connections.present().is_some());
    assert_eq!(token_orgs(&s).await, vec![main.to_string()]);
    drop(s);

    // Self-check mode: one organisation's token for every unit; the others are not its to read.
    let s = stand(&dir, StandOptions::default());
    let mut c = s.client(fast(), Duration::from_secs(1800));
    c.endpoints.system_user_org = Some(main);
    let source = LiveSource::new(c.http.clone(), Arc::clone(&c.auth), c.endpoints.clone());
    let other = org(APPROVED);
    let got = source.sweep(&[sub, main, other], &resources).await.unwrap();
    assert_eq!(got.snapshot.units[&sub].authorized, Some(true));
    assert_eq!(got.snapshot.units[&main].authorized, Some(true));
    assert_eq!(got.snapshot.units[&other].authorized, Some(false));
    assert!(matches!(
        got.snapshot.units[&other].connections,
        reachcheck::evidence::Observed::Missing
    ));
    assert!(token_orgs(&s).await.iter().all(|o| *o == main.to_string()));
    drop(s);

    // Self-check for an organisation that has not approved: the client's own set-up.
    let s = stand(&dir, StandOptions::default());
    let mut c = s.client(fast(), Duration::from_secs(1800));
    let unapproved = org("972417998");
    c.endpoints.system_user_org = Some(unapproved);
    let source = LiveSource::new(c.http.clone(), Arc::clone(&c.auth), c.endpoints.clone());
    let err = source
        .sweep(&[unapproved, other], &resources)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            LiveError::NoSystemUser {
                self_check: true,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("972417998") || err.to_string().contains("system_user_org"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subscription_key_goes_on_every_platform_request_and_without_it_nothing_is_readable() {
    let (policies, routes, dir) = demo();
    let resources = policies.resource_ids();
    let recipients: Vec<OrgNumber> = routes.routes().map(|r| r.recipient).take(60).collect();
    let s = stand(
        &dir,
        StandOptions {
            platform_key: Some("apim-test-key".to_owned()),
            ..StandOptions::default()
        },
    );
    let mut c = s.client(fast(), Duration::from_secs(1800));
    let source =
        |c: &Client| LiveSource::new(c.http.clone(), Arc::clone(&c.auth), c.endpoints.clone());
    // Without the key: API management refuses every platform request; nothing is proven.
    let got = source(&c).sweep(&recipients, &resources).await.unwrap();
    assert!(
        got.snapshot
            .units
            .values()
            .all(|u| u.connections.present().is_none())
    );
    let engine = Engine::new(
        Arc::new(apply_remote_policies(policies.clone(), &got.policies)),
        Arc::new(got.snapshot),
        DEFAULT_MAX_DATA_AGE,
    );
    let now = jiff::Timestamp::now();
    assert!(
        evaluate(&engine, &routes, now)
            .iter()
            .filter(|(r, _)| recipients.contains(&r.route.recipient))
            .all(|(_, a)| a.verdict == Verdict::Unknown),
        "the policies Altinn enforces could not be read: every route is unknown"
    );
    // With it: the connections, registry and access lists answer.
    c.endpoints.subscription_key = Some(reachcheck::evidence::live::SubscriptionKey::new(
        "apim-test-key".to_owned(),
    ));
    let got = source(&c).sweep(&recipients, &resources).await.unwrap();
    assert!(
        got.snapshot
            .units
            .values()
            .any(|u| u.connections.present().is_some())
    );
    // Every published resource's policy; the demo's unpublished one is a 404 (not in Altinn).
    let published = |r: &reachcheck::model::ResourceId| r.as_str() != "politi-melding-kriseteam";
    assert!(
        got.policies
            .iter()
            .filter(|(r, _)| published(r))
            .all(|(_, p)| matches!(p, reachcheck::evidence::Observed::Present(_)))
    );
    assert!(
        got.policies
            .iter()
            .filter(|(r, _)| !published(r))
            .all(|(_, p)| !matches!(p, reachcheck::evidence::Observed::Present(_)))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_live_sweep_replays_to_the_same_verdicts_and_findings() {
    let (policies, routes, demo_dir) = demo();
    // As Altinn is today: the profile refuses system users, so it is not asked; and one
    // organisation's system-user request was rejected.
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&demo_dir, dir.path());
    // Only the requests written here: not the demo's own.
    let requests = dir.path().join("authentication/systemuser/request");
    std::fs::remove_dir_all(&requests).unwrap();
    std::fs::create_dir_all(&requests).unwrap();
    for (org, status) in [(APPROVED, "Accepted"), ("964977402", "Rejected")] {
        std::fs::write(
            requests.join(format!("{org}.json")),
            format!(r#"{{"id":"0b8b8d8e-0000-4000-8000-000000000001","partyOrgNo":"{org}","status":"{status}"}}"#),
        )
        .unwrap();
    }
    let s = stand(
        dir.path(),
        StandOptions {
            profile_for_system_users: false,
            // Some answers fail: a failure is recorded and replays as one.
            faults: "5xx=0.05,malformed=0.02".to_owned(),
            ..StandOptions::default()
        },
    );
    let mut c = s.client(fast(), Duration::from_secs(1800));
    c.endpoints.ask_profile = false;
    let rec = dir.path().join("recording");
    let recorder = Arc::new(reachcheck::evidence::record::Recorder::new(&rec).unwrap());
    let source = LiveSource::new(c.http.clone(), Arc::clone(&c.auth), c.endpoints.clone())
        .with_recorder(recorder);
    let resources = policies.resource_ids();
    let recipients: Vec<OrgNumber> = routes.routes().map(|r| r.recipient).collect();
    let got = source.sweep(&recipients, &resources).await.unwrap();
    let unapproved = |snapshot: &reachcheck::evidence::Snapshot| -> BTreeSet<OrgNumber> {
        snapshot
            .units
            .values()
            .filter(|u| u.authorized == Some(false))
            .map(|u| u.org)
            .collect()
    };
    let live_unapproved = unapproved(&got.snapshot);
    assert!(
        live_unapproved.contains(&OrgNumber::parse("964977402").unwrap()),
        "{live_unapproved:?}"
    );
    let now = got.snapshot.taken_at;
    let live = {
        let policies = apply_remote_policies(policies.clone(), &got.policies);
        let engine = Engine::new(
            Arc::new(policies),
            Arc::new(got.snapshot),
            DEFAULT_MAX_DATA_AGE,
        );
        judge(&engine, &routes, now, false)
    };

    let replay_dir = SnapshotDir::new(&rec);
    let replayed = replay_dir
        .load(recipients.iter().copied(), &resources)
        .unwrap();
    assert_eq!(replayed.taken_at, now);
    assert_eq!(unapproved(&replayed), live_unapproved);
    let replay = {
        let policies =
            apply_remote_policies(policies.clone(), &replay_dir.resource_policies(&resources));
        let engine = Engine::new(Arc::new(policies), Arc::new(replayed), DEFAULT_MAX_DATA_AGE);
        judge(&engine, &routes, now, false)
    };
    assert_same(&live, &replay, "replayed");
    // The faults and the refusals were there to be replayed.
    let codes: BTreeSet<&str> = live
        .iter()
        .flat_map(|j| j.3.iter().map(String::as_str))
        .collect();
    assert!(
        codes.contains("source_error") && codes.contains("notification_unverified"),
        "{codes:?}"
    );
    assert!(
        rec.join("auth/maskinporten/964977402.status.json")
            .is_file()
    );
    // Nothing shaped like an identity number is kept.
    let mut stack = vec![rec.clone()];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files += 1;
                let text = std::fs::read_to_string(&p).unwrap();
                assert!(
                    !reachcheck::model::contains_identity_number(&text),
                    "{}",
                    p.display()
                );
            }
        }
    }
    assert!(files > recipients.len(), "{files} files recorded");
    // A recording is whole: never into a directory that holds one.
    assert!(reachcheck::evidence::record::Recorder::new(&rec).is_err());
}

/// Copies a directory tree.
fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_altinn_enforces_differently_is_used_and_named_as_policy_drift() {
    let (policies, routes, demo_dir) = demo();
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&demo_dir, dir.path());
    // Altinn's copy of the ordinary-post policy lets only confidential-post holders read.
    let local = std::fs::read_to_string(root().join("policies/politi-ordinaer-post.xml")).unwrap();
    let altinns = local
        .replace(
            ">ordinaer-post-til-virksomheten<",
            ">post-til-virksomheten-med-taushetsbelagt-innhold<",
        )
        .replace(">a0236<", ">a0286<");
    assert_ne!(local, altinns);
    let policy_dir = dir.path().join("resourceregistry/politi-ordinaer-post");
    std::fs::create_dir_all(&policy_dir).unwrap();
    std::fs::write(policy_dir.join("policy.xml"), &altinns).unwrap();

    let s = stand(dir.path(), StandOptions::default());
    let c = s.client(fast(), Duration::from_secs(1800));
    let source = LiveSource::new(c.http.clone(), Arc::clone(&c.auth), c.endpoints.clone());
    let recipients: Vec<OrgNumber> = routes.routes().map(|r| r.recipient).collect();
    let got = source
        .sweep(&recipients, &policies.resource_ids())
        .await
        .unwrap();
    let judged = apply_remote_policies(policies.clone(), &got.policies);
    let bergen = OrgNumber::parse("964338531").unwrap();
    let engine = Engine::new(
        Arc::new(judged),
        Arc::new(got.snapshot),
        DEFAULT_MAX_DATA_AGE,
    );
    let now = engine.snapshot().taken_at;
    let ordinary = reachcheck::MessageTypeId::parse("ordinaer-post").unwrap();
    let a = engine.assess_id(&ordinary, bergen, now).unwrap();
    // Bergen's people hold ordinary post only: by Altinn's policy nobody reads.
    assert_eq!(a.verdict, Verdict::NotReadable, "{:?}", a.findings());
    let drift = a
        .findings()
        .iter()
        .find_map(|f| match f {
            reachcheck::Finding::PolicyDrift(d) => Some(d.clone()),
            _ => None,
        })
        .expect("a policy_drift finding");
    assert_eq!(drift.resource.as_str(), "politi-ordinaer-post");
    assert!(
        drift.added.iter().any(|g| g.contains("rolecode:a0286")),
        "{drift:?}"
    );
    assert!(
        drift.removed.iter().any(|g| g.contains("rolecode:a0236")),
        "{drift:?}"
    );
    assert!(
        drift
            .location
            .contains("/resourceregistry/api/v1/resource/politi-ordinaer-post/policy")
    );
    // Types whose policies agree carry no drift.
    let concern = reachcheck::MessageTypeId::parse("bekymringsmelding").unwrap();
    let b = engine.assess_id(&concern, bergen, now).unwrap();
    assert!(
        !b.findings()
            .iter()
            .any(|f| matches!(f, reachcheck::Finding::PolicyDrift(_)))
    );
    // Explained with the grants that differ.
    let route = reachcheck::Route::new(OrgNumber::parse("310000124").unwrap(), ordinary, bergen);
    let e = engine.explain(
        &route,
        &a,
        now,
        reachcheck::engine::ExplainOptions::default(),
    );
    let f = e
        .findings
        .iter()
        .find(|f| f.code.as_str() == "policy_drift")
        .unwrap();
    assert!(
        f.evidence
            .iter()
            .any(|l| l.contains("Altinn's policy only") && l.contains("a0286")),
        "{:?}",
        f.evidence
    );

    // The snapshot source reads the same recorded policy: the same verdicts.
    let (live, _, unasked) = live_judgement(&policies, &routes, &c, true).await;
    assert_eq!(
        live,
        without_unasked_notification(snapshot_judgement(&policies, &routes, dir.path()), &unasked)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_fault_on_every_endpoint_moves_verdicts_only_to_unknown() {
    let (policies, all, demo_dir) = demo();
    // A slice of the demo: 60 routes to municipalities, and every route to a sub-unit, the
    // deleted unit and the unit without a record (their numbers do not start with 8 or 9).
    let mut routes = all.clone();
    routes.entries = all
        .entries
        .iter()
        .enumerate()
        .filter(|(i, e)| {
            *i < 60 || !matches!(e.route.recipient.to_string().as_bytes()[0], b'8' | b'9')
        })
        .map(|(_, e)| e.clone())
        .collect();
    // A recorded policy identical to the local one, so the registry answers 200 for it.
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&demo_dir, dir.path());
    let policy_dir = dir.path().join("resourceregistry/politi-ordinaer-post");
    std::fs::create_dir_all(&policy_dir).unwrap();
    std::fs::copy(
        root().join("policies/politi-ordinaer-post.xml"),
        policy_dir.join("policy.xml"),
    )
    .unwrap();
    let clean = clean_verdicts(&policies, &routes, dir.path());
    let mut report = String::new();
    for endpoint in ENDPOINTS {
        let token_endpoint = matches!(endpoint, "maskinporten/token" | "altinn/exchange");
        for kind in ["5xx", "429", "timeout", "malformed", "token"] {
            if kind == "token" && !token_endpoint {
                continue;
            }
            let spec = format!("{kind}=1,only={endpoint}");
            let (moved, wrong) =
                under_faults(dir.path(), &policies, &routes, &clean, &spec, 1).await;
            for w in wrong {
                report.push_str(&w);
                report.push('\n');
            }
            if moved == 0 {
                report.push_str(&format!(
                    "{spec}: no verdict moved: the fault had no effect\n"
                ));
            }
        }
    }
    assert!(report.is_empty(), "{report}");
}

#[test]
fn the_binaries_agree_check_through_altinn_sim_equals_check_on_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sim.toml");
    let config_arg = config.to_str().unwrap();
    let sim = altinn_sim(
        &[
            "--snapshot",
            "examples/demo/snapshot",
            "--policies",
            "policies",
            "--client-org",
            CLIENT_ORG,
            "--write-config",
            config_arg,
        ],
        dir.path().join("altinn-sim.log"),
    );
    // The first line was `listening on http://127.0.0.1:PORT`.
    assert!(sim.base.starts_with("http://127.0.0.1:"), "{}", sim.base);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("allow_http = true") && text.contains("key_file = \"sim.toml.key.pem\""),
        "{text}"
    );
    let key = dir.path().join("sim.toml.key.pem");
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .contains("PRIVATE KEY")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Fast enough for a test: lift the conservative default rate limit.
    std::fs::write(
        &config,
        text.replacen(
            "[live]\n",
            "[live]\nrate_per_second = 2000\nconcurrency = 16\n",
            1,
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_reachcheck"))
            .args(args)
            .current_dir(root())
            .output()
            .unwrap()
    };
    let common = [
        "--policies",
        "policies",
        "--routes",
        "examples/demo/routes.csv",
        "--format",
        "csv",
    ];
    let rec = dir.path().join("recording");
    let rec_arg = rec.to_str().unwrap();
    let live = run(&[
        &["check", "--config", config_arg, "--record", rec_arg][..],
        &common,
    ]
    .concat());
    // Recording again into the same directory would mix two sweeps: refused, nothing run.
    let again = run(&[
        &["check", "--config", config_arg, "--record", rec_arg][..],
        &common,
    ]
    .concat());
    let snap = run(&[
        &[
            "check",
            "--snapshot",
            "examples/demo/snapshot",
            "--now",
            "2026-11-21T06:00:00Z",
        ][..],
        &common,
    ]
    .concat());
    let one = run(&[
        "precheck",
        "--config",
        config_arg,
        "--policies",
        "policies",
        "--sender",
        "310000019",
        "--message-type",
        "bekymringsmelding",
        "--recipient",
        "964977402",
    ]);
    let base = sim.base.clone();
    drop(sim);
    // Regression (issue 18): off a terminal a live sweep logs its progress on stderr, and
    // the evidence line names the stand-in once, in whole seconds.
    let err = String::from_utf8_lossy(&live.stderr);
    assert!(
        err.lines()
            .any(|l| l.starts_with("sweeping: ") && l.contains(" units, ")),
        "{err}"
    );
    let out = String::from_utf8_lossy(&one.stdout);
    assert!(
        String::from_utf8_lossy(&one.stderr).contains("sweeping: 1/1 units, 0 failed"),
        "{}",
        String::from_utf8_lossy(&one.stderr)
    );
    let evidence = out
        .lines()
        .find(|l| l.starts_with("evidence: live: "))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(evidence.matches(base.as_str()).count(), 1, "{evidence}");
    let stamps: Vec<&str> = evidence
        .split([' ', '('])
        .map(|w| w.trim_end_matches(')'))
        .filter(|w| w.len() > 10 && w.as_bytes()[4] == b'-' && w.contains('T'))
        .collect();
    assert_eq!(stamps.len(), 2, "{evidence}");
    for t in stamps {
        assert!(
            t.ends_with('Z') && !t.contains('.'),
            "whole seconds: {evidence}"
        );
    }
    assert_eq!(
        live.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&live.stderr)
    );
    let columns = |o: &std::process::Output| -> Vec<String> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| l.split(',').take(5).collect::<Vec<_>>().join(","))
            .collect()
    };
    assert_eq!(columns(&live), columns(&snap));
    assert!(columns(&live).len() > 1000);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("is not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    // The recording replays, as a snapshot, to the same lines: verdicts, readers, tiers,
    // findings, names and severities alike. (The explanations name where the evidence came
    // from: a URL when live, the recorded file on replay, as for the unpublished resource's
    // 404.)
    let replay = run(&[&["check", "--snapshot", rec_arg][..], &common].concat());
    let judged = |o: &std::process::Output| -> Vec<String> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| l.split(',').take(10).collect::<Vec<_>>().join(","))
            .collect()
    };
    assert_eq!(judged(&replay), judged(&live));
    let whole = |o: &std::process::Output| -> Vec<String> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.contains("resource_not_in_altinn"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(whole(&replay), whole(&live));
    assert!(
        judged(&live)
            .iter()
            .any(|l| l.contains("melding-kriseteam") && l.contains("resource_not_in_altinn"))
    );
    // A snapshot is a recording already.
    let not_live = run(&[
        &["check", "--snapshot", rec_arg, "--record", rec_arg][..],
        &common,
    ]
    .concat());
    assert_eq!(not_live.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&not_live.stderr).contains("only a live sweep can be recorded"),
        "{}",
        String::from_utf8_lossy(&not_live.stderr)
    );
}

#[test]
fn a_token_maskinporten_refuses_stops_check_with_one_sentence_naming_upstream_status_and_settings()
{
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sim.toml");
    let config_arg = config.to_str().unwrap();
    let sim = altinn_sim(
        &[
            "--snapshot",
            "examples/demo/snapshot",
            "--policies",
            "policies",
            "--write-config",
            config_arg,
        ],
        dir.path().join("altinn-sim.log"),
    );
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}scope = \"altinn:no-such/scope\"\n")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .args([
            "check",
            "--config",
            config_arg,
            "--policies",
            "policies",
            "--routes",
            "examples/demo/routes.csv",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    drop(sim);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    // One sentence, after the progress lines a slow sweep logs off a terminal.
    let error: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("sweeping: "))
        .collect();
    assert_eq!(error.len(), 1, "{stderr}");
    for want in ["/token", "HTTP 400", "invalid_scope", "live.scope"] {
        assert!(stderr.contains(want), "{want} missing: {stderr}");
    }
    let key = std::fs::read_to_string(dir.path().join("sim.toml.key.pem")).unwrap();
    let body: String = key.lines().nth(1).unwrap().to_owned();
    assert!(!stderr.contains(&body), "the key leaked");
}

/// Gathers through the trait, whatever the source.
async fn through_the_trait<S: reachcheck::EvidenceSource>(
    source: &S,
    policies: &Policies,
    routes: &RoutingTable,
) -> reachcheck::evidence::Gathered {
    let recipients: Vec<OrgNumber> = routes.routes().map(|r| r.recipient).collect();
    source
        .gather(&recipients, &policies.resource_ids())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_sources_stand_behind_one_trait_and_gather_the_same_units() {
    let (policies, routes, dir) = demo();
    let s = stand(&dir, StandOptions::default());
    let c = s.client(fast(), Duration::from_secs(1800));
    let live = LiveSource::new(c.http.clone(), Arc::clone(&c.auth), c.endpoints.clone());
    let from_live = through_the_trait(&live, &policies, &routes).await;
    let from_dir = through_the_trait(&SnapshotDir::new(&dir), &policies, &routes).await;
    let mut a: Vec<_> = from_live.snapshot.units.keys().copied().collect();
    let mut b: Vec<_> = from_dir.snapshot.units.keys().copied().collect();
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b);
    assert_eq!(from_dir.requests, 0);
    assert!(from_live.requests > 0);
    for org in &a {
        let (l, d) = (
            &from_live.snapshot.units[org],
            &from_dir.snapshot.units[org],
        );
        assert_eq!(l.unit, d.unit, "{org}");
        // Where the answer came from differs (a URL, a file); what it said may not.
        let said = |o: &reachcheck::evidence::Observed<u32>| match o {
            reachcheck::evidence::Observed::Failed(f) => format!("failed: {}", f.reason),
            reachcheck::evidence::Observed::Refused(f) => format!("refused: {}", f.reason),
            other => format!("{other:?}"),
        };
        // A unit that has not approved reachcheck cannot be asked for its addresses live.
        if l.authorized == Some(false) {
            continue;
        }
        assert_eq!(
            said(&l.notification_addresses),
            said(&d.notification_addresses),
            "{org}"
        );
        assert_eq!(
            l.connections.present().map(Vec::len),
            d.connections.present().map(Vec::len),
            "{org}"
        );
    }
}

/// `check --format json` of `routes` through an `altinn-sim` with `faults`: the process's
/// output and the stand-in's request counts.
async fn check_through_sim(routes: &[&str], faults: &str) -> (std::process::Output, Value) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sim.toml");
    let sim = altinn_sim(
        &[
            "--snapshot",
            "examples/demo/snapshot",
            "--policies",
            "policies",
            "--client-org",
            CLIENT_ORG,
            "--faults",
            faults,
            "--write-config",
            config.to_str().unwrap(),
        ],
        dir.path().join("altinn-sim.log"),
    );
    let text = std::fs::read_to_string(&config).unwrap();
    // Fast enough for a test: a short backoff, the rate limit lifted.
    let text = text.replacen(
        "[live]\n",
        "[live]\nrate_per_second = 2000\nbackoff = \"20ms\"\n",
        1,
    );
    std::fs::write(&config, text).unwrap();
    let routes_file = dir.path().join("routes.csv");
    std::fs::write(
        &routes_file,
        format!("sender,message_type,recipient\n{}\n", routes.join("\n")),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_reachcheck"));
    cmd.args(["check", "--format", "json", "--policies", "policies"])
        .arg("--config")
        .arg(&config)
        .arg("--routes")
        .arg(&routes_file)
        .current_dir(root());
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let counts: Value = reqwest::get(format!("{}/_sim/requests", sim.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (out, counts)
}

/// The routes of a `check --format json` answer, without the time their evidence was
/// taken (which differs between runs).
fn routes_of(o: &std::process::Output) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    let mut routes = v["routes"].as_array().unwrap().clone();
    for r in &mut routes {
        r.as_object_mut().unwrap().remove("evidence_taken_at");
    }
    routes
}

const TOKEN_ROUTES: [&str; 3] = [
    "310000124,bekymringsmelding,964338531",
    "310000124,straffesaksforsendelse,964338531",
    "310000124,ordinaer-post,964338531",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_answer_cut_off_once_is_asked_again_and_the_check_succeeds() {
    let (clean, clean_counts) = check_through_sim(&TOKEN_ROUTES, "").await;
    let (once, once_counts) =
        check_through_sim(&TOKEN_ROUTES, "malformed=1,only=maskinporten/token,first=1").await;
    let clean_routes = routes_of(&clean);
    assert!(
        clean_routes
            .iter()
            .any(|r| r["verdict"] == "readable" && r["evidence_tier"] == "connections"),
        "the clean run proves a reader from connections: {clean_routes:?}"
    );
    assert_eq!(once.status.code(), clean.status.code());
    assert_eq!(routes_of(&once), clean_routes);
    let stderr = String::from_utf8_lossy(&once.stderr);
    assert!(!stderr.contains("error"), "{stderr}");
    // The one cut-off answer was asked again: one token request more than the clean run.
    let tokens = |c: &Value| c["maskinporten/token"].as_u64().unwrap();
    assert!(tokens(&clean_counts) >= 1);
    assert_eq!(tokens(&once_counts), tokens(&clean_counts) + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_answer_always_cut_off_gives_unknown_with_the_reason_not_a_configuration_error() {
    let (out, counts) =
        check_through_sim(&TOKEN_ROUTES, "malformed=1,only=maskinporten/token").await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Not exit 2 blaming the client's settings: the routes are judged, and unknown.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("live."), "{stderr}");
    let routes = routes_of(&out);
    assert_eq!(routes.len(), TOKEN_ROUTES.len());
    for r in &routes {
        assert_eq!(r["verdict"], "unknown", "{r}");
        assert_eq!(r["evidence_tier"], "er", "{r}");
        let reasons: Vec<&str> = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] == "source_error")
            .map(|f| f["message"].as_str().unwrap())
            .collect();
        assert!(
            reasons.iter().any(|m| m.contains("no Altinn token")
                && m.contains("/token")
                && m.contains("cut off")),
            "{r}"
        );
    }
    // Asked again (each answer whole, but cut off), then given up.
    let tokens = counts["maskinporten/token"].as_u64().unwrap();
    assert!(tokens >= 3, "{counts}");
    assert_eq!(
        counts["altinn/connections"].as_u64().unwrap_or(0),
        0,
        "{counts}"
    );
}
