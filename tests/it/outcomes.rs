//! What happened to sent messages (issue 15): the stand-in's Correspondence over real HTTP
//! (its refusals, its cap, order and exclusive bounds), the list paged past the cap without
//! losing a sibling, a never-reading recipient alerted at the deadline with the fallback,
//! `messages --unread`, and recorded details that are missing, malformed, refused or
//! contradictory. Personal data never comes out.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reachcheck::auth::{Auth, AuthSettings};
use reachcheck::daemon::{Daemon, run};
use reachcheck::http::{Http, HttpSettings};
use reachcheck::outcome::{CorrespondenceClient, OutcomeSettings};
use reachcheck::store::Store;
use reachcheck::{OrgNumber, ResourceId};
use rustc_hash::FxHashMap;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::daemon::{TOKEN, daemon_world, overrides};
use crate::fixture::{BAD, ER_ONLY, GOOD, Proc, SENDER, World, altinn_sim, route, stderr, stdout};
use crate::keys::{CLIENT_ID, KEY_ID, keys};

/// Synthetic; passes both mod-11 checks, so it must be masked wherever it goes.
const FNR: &str = "01017012343";
pub(crate) const RESOURCE: &str = "politi-bekymringsmelding";
/// Another police district, with messages of its own.
const OTHER_SENDER: &str = "310000027";
pub(crate) const SCOPE: &str = "altinn:serviceowner altinn:correspondence.write";
const APIM_KEY: &str = "test-subscription-key-0123";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `altinn-sim` serving a world's snapshot and playing Correspondence for SENDER.
pub(crate) struct Stand {
    pub(crate) sim: Proc,
    _dir: tempfile::TempDir,
    key_file: PathBuf,
}

pub(crate) fn stand(w: &World, extra: &[&str]) -> Stand {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("client.key.pem");
    std::fs::write(&key_file, &keys().0).unwrap();
    let public = dir.path().join("client.pub.pem");
    std::fs::write(&public, &keys().1).unwrap();
    let snapshot = w.snapshot();
    let mut args = vec![
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--client-public-key",
        public.to_str().unwrap(),
        "--client-org",
        SENDER,
    ];
    // The stand-in's clock starts at a fixed time unless the test sets it.
    if !extra.contains(&"--clock") {
        args.extend(["--clock", "2026-11-20T08:00:00Z"]);
    }
    args.extend(extra);
    let sim = altinn_sim(&args, dir.path().join("altinn-sim.log"));
    Stand {
        sim,
        _dir: dir,
        key_file,
    }
}

fn fast() -> HttpSettings {
    HttpSettings {
        rate_per_second: std::num::NonZeroU32::new(100_000).unwrap(),
        concurrency: 32,
        timeout: Duration::from_secs(10),
        attempts: 1,
        allow_http: true,
        ..HttpSettings::default()
    }
}

impl Stand {
    pub(crate) fn url(&self, path: &str) -> reqwest::Url {
        format!("{}{path}", self.sim.base).parse().unwrap()
    }

    fn auth(&self, http: &Http) -> Arc<Auth> {
        Arc::new(
            Auth::new(
                http.clone(),
                AuthSettings {
                    token_url: self.url("/token"),
                    audience: format!("{}/", self.sim.base),
                    client_id: CLIENT_ID.to_owned(),
                    key_file: self.key_file.clone(),
                    key_id: Some(KEY_ID.to_owned()),
                    x5c: None,
                    exchange_url: Some(self.url("/authentication/api/v1/exchange/maskinporten")),
                    altinn_token_lifetime: Duration::from_secs(1800),
                    refresh_margin: Duration::from_secs(60),
                },
            )
            .unwrap(),
        )
    }

    pub(crate) async fn token(&self, scope: &str) -> String {
        let http = Http::new(fast()).unwrap();
        self.auth(&http)
            .token(scope, None)
            .await
            .unwrap()
            .secret()
            .clone()
    }

    fn client(&self, settings: &OutcomeSettings) -> CorrespondenceClient {
        let http = Http::new(fast()).unwrap();
        let auth = self.auth(&http);
        CorrespondenceClient::new(http, auth, self.url(""), settings).unwrap()
    }

    pub(crate) async fn publish(&self, token: &str, body: &Value) -> (u16, Value) {
        let r = reqwest::Client::new()
            .post(self.url("/correspondence/api/v1/correspondence"))
            .bearer_auth(token)
            .header("Ocp-Apim-Subscription-Key", APIM_KEY)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn advance(&self, by: &str) {
        let r = reqwest::Client::new()
            .post(self.url("/_sim/clock"))
            .json(&json!({ "advance": by }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

/// A publish request for `recipients` (organisation numbers).
pub(crate) fn letter(recipients: &[String], reference: &str, at: Option<&str>) -> Value {
    let mut c = json!({
        "resourceId": RESOURCE,
        "sendersReference": reference,
        "content": {"language": "nb", "messageTitle": "Bekymringsmelding", "messageBody": "…"},
        "notification": {"notificationTemplate": "GenericAltinnMessage"}
    });
    if let Some(t) = at {
        c["requestedPublishTime"] = json!(t);
    }
    json!({"correspondence": c, "recipients": recipients})
}

fn orgs(n: usize, offset: u32) -> Vec<String> {
    (0..)
        .filter_map(|i| OrgNumber::from_body(80_000_000 + offset + i))
        .take(n)
        .map(|o| format!("0192:{o}"))
        .collect()
}

pub(crate) fn ids_of(answer: &Value) -> Vec<String> {
    answer["correspondences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["correspondenceId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stand_in_refuses_what_correspondence_refuses_with_its_status_codes() {
    let w = World::new(&[]);
    let s = stand(&w, &["--subscription-key", APIM_KEY]);
    let c = reqwest::Client::new();
    let token = s.token(SCOPE).await;
    let (status, answer) = s.publish(&token, &letter(&orgs(1, 0), "r", None)).await;
    assert_eq!(status, 200, "{answer}");
    let id = ids_of(&answer)[0].clone();
    let list = format!("/correspondence/api/v1/correspondence?resourceId={RESOURCE}&role=Sender");
    let details = format!("/correspondence/api/v1/correspondence/{id}/details");
    let get = |path: &str, token: Option<&str>, key: bool| {
        let mut r = c.get(s.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if key {
            r = r.header("Ocp-Apim-Subscription-Key", APIM_KEY);
        }
        r.send()
    };
    // The sender itself: the list and the details.
    let r = get(&list, Some(&token), true).await.unwrap();
    assert_eq!(r.status(), 200);
    let ids: Value = r.json().await.unwrap();
    assert_eq!(ids["ids"], json!([id]));
    assert_eq!(
        get(&details, Some(&token), true).await.unwrap().status(),
        200
    );
    // API management first: no subscription key, 401 with its own body.
    let r = get(&list, Some(&token), false).await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("missing subscription key")
    );
    // No token, or a token Altinn never issued.
    assert_eq!(get(&list, None, true).await.unwrap().status(), 401);
    assert_eq!(
        get(&list, Some("eyJ.forged.token"), true)
            .await
            .unwrap()
            .status(),
        401
    );
    // A token without Correspondence's scopes: the policy refuses (403).
    let other = s.token("altinn:accessmanagement/authorizedparties").await;
    assert_eq!(get(&list, Some(&other), true).await.unwrap().status(), 403);
    // Another sender's messages: neither its list nor its details (401, error 4001).
    let r = c
        .post(s.url("/_sim/correspondence"))
        .json(&{
            let mut b = letter(&orgs(1, 50), "theirs", None);
            b["sender"] = json!(OTHER_SENDER);
            b
        })
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let theirs = ids_of(&r.json().await.unwrap())[0].clone();
    let r = get(
        &format!("{list}&onBehalfOf=0192:{OTHER_SENDER}"),
        Some(&token),
        true,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errorCode"], 4001, "{body}");
    let r = get(
        &format!("/correspondence/api/v1/correspondence/{theirs}/details"),
        Some(&token),
        true,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 401);
    // Its own list never shows them.
    let ids: Value = get(&list, Some(&token), true)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ids["ids"], json!([id]));
    // An unknown id, a backwards window, a missing role, too many recipients.
    let r = get(
        "/correspondence/api/v1/correspondence/00000000-0000-4000-8000-000000000000/details",
        Some(&token),
        true,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["errorCode"], 1001);
    let r = get(
        &format!("{list}&from=2026-11-21T00:00:00Z&to=2026-11-20T00:00:00Z"),
        Some(&token),
        true,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["errorCode"], 1027);
    let r = get(
        &format!("/correspondence/api/v1/correspondence?resourceId={RESOURCE}"),
        Some(&token),
        true,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let (status, _) = s.publish(&token, &letter(&orgs(501, 100), "r", None)).await;
    assert_eq!(status, 400, "at most 500 recipients in one request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifteen_hundred_messages_published_at_one_instant_are_all_found() {
    let w = World::new(&[]);
    let s = stand(&w, &[]);
    let token = s.token(SCOPE).await;
    // Five bulk sends of 300 (each one instant for all its recipients), fired at once: the
    // list's cap (1000) falls in the middle of the fourth, whose siblings must not be lost.
    let sends = (0..5u32).map(|i| {
        let body = letter(&orgs(300, i * 1000), &format!("bulk-{i}"), None);
        let s = &s;
        let token = token.clone();
        async move { s.publish(&token, &body).await }
    });
    let mut published = std::collections::BTreeSet::new();
    for (status, answer) in futures_join_all(sends).await {
        assert_eq!(status, 200, "{answer}");
        published.extend(ids_of(&answer));
    }
    assert_eq!(published.len(), 1500);
    let client = s.client(&OutcomeSettings::default());
    let now: jiff::Timestamp = "2026-11-20T09:00:00Z".parse().unwrap();
    let g = client
        .gather(
            &[ResourceId::parse(RESOURCE).unwrap()],
            &FxHashMap::default(),
            now,
            reachcheck::outcome::DEFAULT_POLL_FOR,
        )
        .await;
    assert!(g.incomplete.is_empty(), "{:?}", g.incomplete);
    let found: std::collections::BTreeSet<String> =
        g.items.iter().map(|f| f.id.to_string()).collect();
    assert_eq!(found, published, "every message, none twice");
    assert_eq!(g.items.len(), 1500, "each message's details read once");
    assert!(g.items.iter().all(|f| f.details.is_ok()));
    assert!(
        g.listed > 1500,
        "the instant at the page boundary was asked for again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_a_page_at_one_exact_instant_is_outcomes_incomplete_not_a_silent_loss() {
    let w = World::new(&[]);
    let s = stand(&w, &[]);
    let token = s.token(SCOPE).await;
    // Scheduled for the same instant in three requests: 1001 messages share it.
    let at = "2026-11-20T08:00:00.5Z";
    for (i, n) in [(0u32, 500usize), (1, 500), (2, 1)] {
        let (status, answer) = s
            .publish(&token, &letter(&orgs(n, i * 1000), "planned", Some(at)))
            .await;
        assert_eq!(status, 200, "{answer}");
    }
    let client = s.client(&OutcomeSettings::default());
    let g = client
        .gather(
            &[ResourceId::parse(RESOURCE).unwrap()],
            &FxHashMap::default(),
            "2026-11-20T09:00:00Z".parse().unwrap(),
            reachcheck::outcome::DEFAULT_POLL_FOR,
        )
        .await;
    assert_eq!(g.items.len(), 1000, "what the cap lets through is kept");
    assert_eq!(g.incomplete.len(), 1);
    let (resource, why) = &g.incomplete[0];
    assert_eq!(resource.as_str(), RESOURCE);
    assert!(
        why.contains("share the publish time 2026-11-20T08:00:00.5Z"),
        "{why}"
    );
}

/// Joins futures without another dependency.
async fn futures_join_all<F: std::future::Future>(fs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in fs {
        set.push(f);
    }
    let mut out = Vec::new();
    // Polled together: each future is boxed and driven by one join.
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = set.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if done[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => done[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.extend(done.into_iter().flatten());
    out
}

/// A config for reachcheck against the stand-in: live sources, outcomes on the stand-in's
/// clock, a store, and `extra` sections.
pub(crate) fn live_config(w: &World, s: &Stand, extra: &str) -> PathBuf {
    let config = w.path().join("live.toml");
    std::fs::write(w.path().join("tokens"), format!("tests:{TOKEN}\n")).unwrap();
    let text = format!(
        "policies = {policies:?}\nroutes = \"routes.csv\"\n\n\
         [live]\nallow_http = true\naltinn_url = \"{base}\"\nbrreg_url = \"{base}\"\n\
         maskinporten_token_url = \"{base}/token\"\nmaskinporten_audience = \"{base}/\"\n\
         client_id = \"{CLIENT_ID}\"\nkey_file = {key:?}\nkey_id = \"{KEY_ID}\"\n\
         system_user_org = \"{SENDER}\"\nrate_per_second = 5000\nconcurrency = 16\nattempts = 1\n\n\
         [outcomes]\nclock_url = \"{base}/_sim/clock\"\ninterval = \"1s\"\nalert_window = \"1s\"\n\n\
         [daemon]\nstore = \"store.db\"\napi_tokens_file = \"tokens\"\ninterval = \"1h\"\ngrace = \"5s\"\n{extra}",
        policies = root().join("policies").display().to_string(),
        base = s.sim.base,
        key = s.key_file.display().to_string(),
    );
    std::fs::write(&config, text).unwrap();
    config
}

/// A daemon started from `config` (no listener), running until the token is cancelled.
fn serve(
    config: PathBuf,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<Result<(), reachcheck::daemon::SweepError>>,
) {
    serve_on(config, None)
}

/// A daemon started from `config`, serving its API on `listener` if given, running until
/// the token is cancelled.
pub(crate) fn serve_on(
    config: PathBuf,
    listener: Option<tokio::net::TcpListener>,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<Result<(), reachcheck::daemon::SweepError>>,
) {
    let d = Arc::new(
        Daemon::start(reachcheck::daemon::ServeOverrides {
            sources: reachcheck::settings::Overrides {
                config: Some(config),
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap(),
    );
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(run(d, listener, shutdown.clone(), false));
    (shutdown, running)
}

/// A one-number query on the store at `path`, read-only (0 while it cannot be read).
fn counter(path: &Path) -> impl Fn(&str) -> i64 + use<'_> {
    move |sql: &str| {
        let c =
            rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        c.query_row(sql, [], |r| r.get(0)).unwrap_or(0)
    }
}

pub(crate) async fn wait_for(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_to_a_never_reading_recipient_alerts_at_its_deadline_with_the_fallback() {
    let w = World::new(&[
        &route("bekymringsmelding", BAD),
        &route("bekymringsmelding", GOOD),
    ]);
    let s = stand(
        &w,
        &["--reading", &format!("default=prompt:5m,{BAD}=never")],
    );
    let (hook, got) = crate::events::alert_hook().await;
    let config = live_config(
        &w,
        &s,
        &format!("\n[alerts]\nwebhook_url = \"{hook}\"\nallow_http = true\nbackoff = \"10ms\"\n"),
    );
    let token = s.token(SCOPE).await;
    let (_, bad) = s
        .publish(
            &token,
            &letter(
                &[format!("0192:{BAD}")],
                &format!("sak 2026/17 {FNR}"),
                None,
            ),
        )
        .await;
    let bad_id = ids_of(&bad)[0].clone();
    let (_, good) = s
        .publish(
            &token,
            &letter(&[format!("0192:{GOOD}")], "sak 2026/18", None),
        )
        .await;
    let good_id = ids_of(&good)[0].clone();

    let (shutdown, running) = serve(config);
    let store_path = w.path().join("store.db");
    let count = counter(&store_path);
    wait_for(
        "both messages in the store",
        Duration::from_secs(30),
        || count("SELECT count(*) FROM messages") == 2,
    )
    .await;
    let at_risk = |got: &std::sync::Mutex<Vec<Value>>| {
        got.lock()
            .unwrap()
            .iter()
            .filter(|v| v["kind"] == "messages_at_risk")
            .cloned()
            .collect::<Vec<_>>()
    };
    // Within the deadline: read by the prompt reader, not yet late at BAD: no alert.
    s.advance("1h").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(at_risk(&got).is_empty(), "{:?}", got.lock().unwrap());
    // The 24 hours of a concern report pass.
    s.advance("24h").await;
    wait_for("the alert", Duration::from_secs(30), || {
        !at_risk(&got).is_empty()
    })
    .await;
    let alerts = at_risk(&got);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    assert_eq!(a["recipient"], BAD);
    let messages = a["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{a}");
    assert_eq!(messages[0]["id"], bad_id.as_str());
    assert_eq!(messages[0]["code"], "unread_past_deadline");
    assert_eq!(messages[0]["severity"], "critical");
    assert_eq!(messages[0]["senders_reference"], "sak 2026/17 ***********");
    let todo = &a["what_to_do"][0];
    let policies = reachcheck::Policies::load(&root().join("policies")).unwrap();
    let fallback = policies
        .message_type(&reachcheck::MessageTypeId::parse("bekymringsmelding").unwrap())
        .unwrap()
        .fallback
        .clone()
        .unwrap();
    assert_eq!(todo["fallback"], fallback.as_str());
    let text = todo["text"].as_str().unwrap();
    assert!(
        text.contains(&bad_id) && text.contains(BAD) && text.contains(&fallback),
        "{text}"
    );
    assert!(
        !a.to_string().contains(&good_id),
        "the prompt reader's message is fine"
    );
    // Recorded as alerted: a further poll does not alert it again.
    wait_for("the alert recorded", Duration::from_secs(10), || {
        count("SELECT count(*) FROM messages WHERE alerted_unread_us IS NOT NULL") == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(at_risk(&got).len(), 1);
    let all = serde_json::to_string(&*got.lock().unwrap()).unwrap();
    assert!(!all.contains(FNR), "no identity number in any alert");
    shutdown.cancel();
    running.await.unwrap().unwrap();
    // The store never held the identity number either.
    let raw = std::fs::read(w.path().join("store.db")).unwrap();
    assert!(!raw.windows(FNR.len()).any(|x| x == FNR.as_bytes()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_unread_lists_exactly_the_unread_ones() {
    let w = World::new(&[
        &route("bekymringsmelding", GOOD),
        &route("bekymringsmelding", BAD),
        &route("bekymringsmelding", ER_ONLY),
    ]);
    let s = stand(
        &w,
        &[
            "--reading",
            &format!("default=prompt:5m,{ER_ONLY}=slow:48h,{BAD}=never"),
            "--notifications",
            &format!("default=delivered,{BAD}=failed"),
        ],
    );
    let config = live_config(&w, &s, "");
    let token = s.token(SCOPE).await;
    let mut ids = FxHashMap::default();
    for org in [GOOD, BAD, ER_ONLY] {
        let (_, a) = s
            .publish(&token, &letter(&[format!("0192:{org}")], org, None))
            .await;
        ids.insert(org, ids_of(&a)[0].clone());
    }
    s.advance("2h").await;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_reachcheck"))
            .current_dir(w.path())
            .arg("messages")
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap()
    };
    let o = run(&["--refresh", "--unread", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("refreshed: 3 listed"), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let mut unread: Vec<&str> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    unread.sort_unstable();
    let mut expected = vec![ids[BAD].as_str(), ids[ER_ONLY].as_str()];
    expected.sort_unstable();
    assert_eq!(unread, expected);
    let bad = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["recipient"] == BAD)
        .unwrap();
    assert_eq!(bad["notification"], "failed");
    assert!(
        bad["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "notification_failed")
    );
    // Everything, read ones too; then one recipient as CSV.
    let all: Value = serde_json::from_str(&stdout(&run(&["--format", "json"]))).unwrap();
    assert_eq!(all["summary"]["messages"], 3);
    assert_eq!(all["summary"]["read"], 1);
    let csv = stdout(&run(&["--unread", "--recipient", BAD, "--format", "csv"]));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].starts_with(&ids[BAD]), "{csv}");
    // The table ends with what to do.
    s.advance("24h").await;
    let o = run(&["--refresh", "--unread"]);
    let table = stdout(&o);
    assert!(
        table.contains("send again another way now: 2 `bekymringsmelding` message(s)"),
        "{table}"
    );
}

/// A details body in the current `CorrespondenceDetailsExt` shape.
fn details(id: &str, recipient: &str, published: &str, read: Option<&str>) -> Value {
    let mut history =
        vec![json!({"status": "Published", "statusText": "x", "statusChanged": published})];
    if let Some(r) = read {
        history.push(json!({"status": "Read", "statusText": "x", "statusChanged": r}));
    }
    let mut b = json!({
        "recipient": recipient, "correspondenceId": id, "content": null,
        "created": published, "status": if read.is_some() { "Read" } else { "Published" },
        "statusText": "", "statusChanged": published, "resourceId": RESOURCE,
        "sender": format!("0192:{SENDER}"), "sendersReference": format!("ref {FNR}"),
        "messageSender": null, "requestedPublishTime": published, "dueDateTime": null,
        "externalReferences": [], "propertyList": {}, "replyOptions": [], "notification": null,
        "ignoreReservation": null, "isConfirmationNeeded": false, "isConfidential": true,
        "allowForwarding": false, "altinn2CorrespondenceId": null,
        "published": published, "read": read, "notifications": [], "systemLabel": null
    });
    b["statusHistory"] = Value::Array(history);
    b
}

fn record(snapshot: &Path, id: &str, file: &str, body: &[u8]) {
    let dir = snapshot.join("correspondence").join(id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(file), body).unwrap();
}

const ID_READ: &str = "01990000-0000-7000-8000-000000000001";
const ID_UNREAD: &str = "01990000-0000-7000-8000-000000000002";
const ID_MALFORMED: &str = "01990000-0000-7000-8000-000000000003";
const ID_REFUSED: &str = "01990000-0000-7000-8000-000000000004";
const ID_CONTRADICTORY: &str = "01990000-0000-7000-8000-000000000005";
const ID_PERSON: &str = "01990000-0000-7000-8000-000000000006";
const ID_MISSING: &str = "01990000-0000-7000-8000-000000000007";

/// A world whose snapshot records a read message, an unread one, and one of each kind of
/// bad evidence.
fn recorded_world() -> World {
    let w = daemon_world(&[
        &route("bekymringsmelding", BAD),
        &route("bekymringsmelding", GOOD),
    ]);
    let s = w.snapshot();
    let org = |o: &str| format!("urn:altinn:organization:identifier-no:{o}");
    let body = |v: Value| serde_json::to_vec_pretty(&v).unwrap();
    record(
        &s,
        ID_READ,
        "details.json",
        &body(details(
            ID_READ,
            &org(GOOD),
            "2026-11-19T08:00:00Z",
            Some("2026-11-19T09:00:00Z"),
        )),
    );
    record(
        &s,
        ID_UNREAD,
        "details.json",
        &body(details(ID_UNREAD, &org(BAD), "2026-11-19T08:00:00Z", None)),
    );
    // Malformed: cut off in the middle of the identity number.
    let mut cut = body(details(
        ID_MALFORMED,
        &org(BAD),
        "2026-11-19T08:00:00Z",
        Some("2026-11-19T09:00:00Z"),
    ));
    let at = cut
        .windows(FNR.len())
        .position(|x| x == FNR.as_bytes())
        .unwrap()
        + 5;
    cut.truncate(at);
    record(&s, ID_MALFORMED, "details.json", &cut);
    // Refused: the sender's token may not read it.
    record(
        &s,
        ID_REFUSED,
        "details.json.status.json",
        br#"{"status": 403, "body": ""}"#,
    );
    // Contradictory: read before it was published.
    record(
        &s,
        ID_CONTRADICTORY,
        "details.json",
        &body(details(
            ID_CONTRADICTORY,
            &org(BAD),
            "2026-11-19T08:00:00Z",
            Some("2026-11-18T08:00:00Z"),
        )),
    );
    // To a person: counted, never placed, the person never kept.
    record(
        &s,
        ID_PERSON,
        "details.json",
        &body(details(
            ID_PERSON,
            &format!("urn:altinn:person:identifier-no:{FNR}"),
            "2026-11-19T08:00:00Z",
            None,
        )),
    );
    // Missing: a directory with neither answer nor status.
    std::fs::create_dir_all(s.join("correspondence").join(ID_MISSING)).unwrap();
    w
}

#[test]
fn recorded_details_missing_malformed_refused_and_contradictory_are_named_never_read() {
    let w = recorded_world();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .current_dir(w.path())
        .args(["messages", "--refresh", "--unrouted", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.contains(FNR) && !stderr(&o).contains(FNR), "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let by_id = |id: &str| {
        v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .cloned()
    };
    assert_eq!(by_id(ID_READ).unwrap()["state"], "read");
    let unread = by_id(ID_UNREAD).unwrap();
    assert_eq!(unread["state"], "unread_past_deadline");
    assert_eq!(unread["senders_reference"], "ref ***********");
    for (id, says) in [
        (ID_MALFORMED, "malformed details (cut off)"),
        (ID_REFUSED, "refused (HTTP 403)"),
        (
            ID_CONTRADICTORY,
            "`read` is earlier than the message was published",
        ),
    ] {
        let m = by_id(id).unwrap();
        assert_eq!(m["state"], "unknown", "{m}");
        assert!(m["read"].is_null(), "never counted as read: {m}");
        let problem = m["problem"].as_str().unwrap();
        assert!(problem.contains(says) && problem.contains(id), "{problem}");
    }
    let person = by_id(ID_PERSON).unwrap();
    assert_eq!(person["unrouted"], "person");
    assert!(person["recipient"].is_null());
    assert!(
        by_id(ID_MISSING).is_none(),
        "no file: no data, not a message"
    );
    // --unread: the unread one and those not known to be read; never the read one.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .current_dir(w.path())
        .args(["messages", "--unread", "--format", "csv"])
        .output()
        .unwrap();
    let csv = stdout(&o);
    assert!(
        csv.contains(ID_UNREAD) && csv.contains(ID_MALFORMED) && !csv.contains(ID_READ),
        "{csv}"
    );
    // validate names the files: unusable details are errors, a recorded refusal a warning.
    let o = w.run(&["validate"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "error: `snapshot/correspondence/{ID_MALFORMED}/details.json`"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "error: `snapshot/correspondence/{ID_CONTRADICTORY}/details.json`"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "warning: `snapshot/correspondence/{ID_REFUSED}/details.json.status.json`: refused"
        )),
        "{err}"
    );
    assert!(!err.contains(FNR), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn precheck_and_the_authzen_context_carry_the_routes_history_and_verdicts_do_not_change() {
    let w = recorded_world();
    let d = Daemon::start(overrides(&w)).unwrap();
    let report = d.sweep_once().await.unwrap();
    let verdicts_before = report.outcome.counts;
    let app = reachcheck::api::router(Arc::clone(d.shared()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let v: Value = reqwest::Client::new()
        .post(format!("{base}/access/v1/evaluation"))
        .bearer_auth(TOKEN)
        .json(&json!({
            "subject": {"type": "organization", "id": SENDER},
            "action": {"name": "send", "properties": {"message_type": "bekymringsmelding"}},
            "resource": {"type": "organization", "id": BAD}
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let h = &v["context"]["history"];
    assert_eq!(h["sent"], 1, "{v}");
    assert_eq!(h["unread_now"], 1);
    assert_eq!(h["unread_past_deadline"], 1);
    assert_eq!(
        v["context"]["verdict"], "not_readable",
        "outcomes never change a verdict"
    );
    // A second sweep: the same verdicts, whatever the messages did.
    let again = d.sweep_once().await.unwrap();
    assert_eq!(again.outcome.counts, verdicts_before);
    drop(d);
    let store = Store::open(&w.path().join("store.db")).unwrap();
    assert_eq!(store.message_count().unwrap(), 6);
    drop(store);
    // precheck reads the same history from the store; its exit code stays the verdict's.
    let o = w.run(&[
        "precheck",
        "--store",
        "store.db",
        "--sender",
        SENDER,
        "--message-type",
        "bekymringsmelding",
        "--recipient",
        GOOD,
    ]);
    let out = stdout(&o);
    assert!(
        out.contains("messages: 1 sent, 1 read within the deadline, last read 2026-11-19T09:00:00Z, 0 unread now"),
        "{out}"
    );
    let o = w.run(&[
        "precheck",
        "--store",
        "store.db",
        "--format",
        "json",
        "--sender",
        SENDER,
        "--message-type",
        "bekymringsmelding",
        "--recipient",
        BAD,
    ]);
    assert_eq!(o.status.code(), Some(1), "not_readable stays exit 1");
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["routes"][0]["history"]["sent"], 1);
    assert_eq!(v["routes"][0]["history"]["unread_past_deadline"], 1);
}

#[path = "../../examples/demo/messages.rs"]
#[allow(
    dead_code,
    unreachable_pub,
    reason = "the example's `main` and its public items are used by the example binary, not here"
)]
mod demo_messages;

#[test]
fn the_committed_message_history_is_what_its_generator_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let s = demo_messages::generate(
        demo_messages::DEFAULT_SEED,
        &root().join(demo_messages::ROUTES),
        tmp.path(),
    )
    .unwrap();
    assert_eq!(s.messages, 2410);
    assert_eq!(s.after, demo_messages::AFTER.len());
    assert_eq!(s.incident_concern_reports, 24);
    let committed = root()
        .join(demo_messages::DEFAULT_OUT)
        .join("correspondence");
    let fresh = tmp.path().join("correspondence");
    let names = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let ids = names(&fresh);
    assert_eq!(
        ids,
        names(&committed),
        "examples/demo/messages differs from a fresh generation: rerun `cargo run --example generate-demo-messages`"
    );
    for id in &ids {
        let a = std::fs::read(fresh.join(id).join("details.json")).unwrap();
        let b = std::fs::read(committed.join(id).join("details.json")).unwrap();
        assert!(a == b, "{id} differs: rerun the generator");
        assert!(
            !String::from_utf8(b)
                .unwrap()
                .contains("nationalIdentityNumber\": \"")
        );
    }
}

#[test]
fn the_demo_ingests_its_history_and_lists_the_incidents_unread_concern_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("demo.db");
    // reachcheck in the repository root (the demo's reachcheck.toml), on this store.
    let demo = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_reachcheck"))
            .current_dir(root())
            .args(args)
            .arg("--store")
            .arg(&store)
            .env("REACHCHECK_API_TOKENS", format!("demo:{TOKEN}"))
            .output()
            .unwrap()
    };
    let o = demo(&["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let log = stderr(&o);
    assert!(log.contains("sent messages polled"), "{log}");
    // Logs to a pipe or a file carry no colour codes.
    assert!(!log.contains('\u{1b}'), "{log}");
    assert!(
        log.contains("messages_at_risk"),
        "unread messages still being polled are alerted: {log}"
    );
    let o = demo(&[
        "messages",
        "--unread",
        "--recipient",
        demo_messages::BERGEN,
        "--message-type",
        "bekymringsmelding",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let listed = v["messages"].as_array().unwrap();
    assert_eq!(
        listed.len(),
        24,
        "every concern report to Bergen, none opened"
    );
    assert!(
        listed
            .iter()
            .all(|m| m["state"] == "unread_past_deadline" && m["sender"] == demo_messages::VEST)
    );
    assert_eq!(v["what_to_do"][0]["message_type"], "bekymringsmelding");
    // The first of them, and so the day reachcheck would first have alerted (README).
    let first = listed
        .iter()
        .map(|m| m["published"].as_str().unwrap().to_owned())
        .min()
        .unwrap();
    assert_eq!(first, "2024-02-21T12:45:58Z");
    let deadline = listed
        .iter()
        .find(|m| m["published"] == first.as_str())
        .unwrap()["deadline"]
        .clone();
    assert_eq!(deadline, "2024-02-22T12:45:58Z");
    // Bergen's other mail was read: the route the demo judges readable.
    let o = demo(&[
        "messages",
        "--recipient",
        demo_messages::BERGEN,
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["summary"]["messages"], 72);
    assert_eq!(v["summary"]["read"], 48);

    // The compliance report leads its outcomes with the incident: every concern report to
    // Bergen unread, and lists each of them with its reference; Bergen's letter too.
    let o = demo(&["report", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let outcomes = &r["data"]["outcomes"];
    let top = &outcomes["by_route"][0];
    assert_eq!(
        (
            top["recipient"].as_str(),
            top["sender"].as_str(),
            top["message_type"].as_str()
        ),
        (
            Some(demo_messages::BERGEN),
            Some(demo_messages::VEST),
            Some("bekymringsmelding")
        ),
        "{top}"
    );
    assert_eq!(
        (
            &top["sent"],
            &top["unread_now"],
            &top["unread_past_deadline"]
        ),
        (&json!(24), &json!(24), &json!(24))
    );
    let to_bergen = outcomes["unread"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["recipient"] == demo_messages::BERGEN)
        .count();
    assert_eq!(to_bergen, 24);
    let o = demo(&[
        "report",
        "--format",
        "letter",
        "--recipient",
        demo_messages::BERGEN,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let letter = stdout(&o);
    assert!(
        letter.contains("Disse 24 meldingene til BERGEN KOMMUNE (964338531) er ikke åpnet")
            && letter.contains(
                "- `PO-2024-000120`: bekymringsmelding fra Vest politidistrikt (310000124), sendt 2024-02-21"
            ),
        "{letter}"
    );
    assert!(!letter.contains("kan bli slettet"), "{letter}");

    // The first run, at the snapshot's time, saw none of the messages sent after it, so
    // every message it knows was sent before any sweep.
    assert_eq!(outcomes["messages"], 2400, "{}", outcomes["messages"]);
    assert_eq!(
        outcomes["calibration"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["verdict"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["not_judged"]
    );
    assert!(outcomes["contradicted"].as_array().unwrap().is_empty());

    // Two days later (the same snapshot, let count for 72 hours): the messages sent
    // since are reconciled against the first sweep's verdicts (README, "Predictions
    // against outcomes").
    let o = demo(&[
        "serve",
        "--once",
        "--now",
        demo_messages::SECOND_SWEEP,
        "--max-data-age",
        "72h",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = demo(&["report", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let outcomes = &r["data"]["outcomes"];
    assert_eq!(outcomes["at"], "2026-11-23T06:00:00Z");
    assert_eq!(outcomes["messages"], 2410);
    // Worked by hand from `AFTER` and the first sweep's verdicts (Froland bekymringsmelding
    // readable 1/2, straffesak and post readable; Bergen bekymringsmelding not readable, its
    // other two readable; Holmestrand bekymringsmelding not readable, post readable;
    // Lindesnes bekymringsmelding unknown). Deadlines at 2026-11-23T06:00Z: concern reports
    // 24 h, criminal-case documents 72 h, post 168 h.
    // - readable: Froland ×3, Bergen post and straffesak, Holmestrand post = 6 decided
    //   (every one opened within its deadline but Froland's concern report) → 5 within;
    // - not_readable: Bergen's concern report of 11-21 (unread past 24 h) and Holmestrand's
    //   (opened after 42 min) = 2 decided, 1 within; Bergen's of 11-22 20:15 is still
    //   within its 24 hours: not decided yet;
    // - unknown: Lindesnes, opened after 185 min = 1 of 1.
    let calibration: Vec<(String, u64, u64)> = outcomes["calibration"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict"] != "not_judged")
        .map(|c| {
            (
                c["verdict"].as_str().unwrap().to_owned(),
                c["messages"].as_u64().unwrap(),
                c["read_within_deadline"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        calibration,
        [
            ("readable".to_owned(), 6, 5),
            ("not_readable".to_owned(), 2, 1),
            ("unknown".to_owned(), 1, 1)
        ]
    );
    // Both kinds of contradiction: Froland's unread concern report (warning), Holmestrand's
    // and Lindesnes's opened ones (info).
    assert_eq!(
        (
            &outcomes["contradicted_unread"],
            &outcomes["contradicted_read"]
        ),
        (&json!(1), &json!(2))
    );
    let contradicted: Vec<(&str, &str, &str)> = outcomes["contradicted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["recipient"].as_str().unwrap(),
                c["predicted"].as_str().unwrap(),
                c["severity"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        contradicted,
        [
            (demo_messages::FROLAND, "readable", "warning"),
            (demo_messages::HOLMESTRAND, "not_readable", "info"),
            (demo_messages::LINDESNES, "unknown", "info"),
        ]
    );
    // The sweep was recorded at the pinned time, and the route's verdicts are unchanged.
    assert_eq!(
        r["data"]["coverage"]["readable"], 795,
        "{}",
        r["data"]["coverage"]
    );
    assert_eq!(
        r["data"]["as_of"]["finished_at"], "2026-11-23T06:00:00Z",
        "{}",
        r["data"]["as_of"]
    );
    let o = demo(&["report", "--format", "markdown"]);
    let md = stdout(&o);
    assert!(
        md.contains("### Meldinger som motsa vurderingen da de ble sendt")
            && md.contains(
                "| 946439045 FROLAND KOMMUNE | 310000019 Agder politidistrikt | bekymringsmelding |"
            ),
        "{md}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_answers_that_fail_are_named_never_read_and_the_next_poll_catches_up() {
    let w = World::new(&[&route("bekymringsmelding", BAD)]);
    // Half the details answers are cut in half (decided by the seed and the request).
    let s = stand(
        &w,
        &[
            "--faults",
            "malformed=0.5,only=altinn/correspondencedetails",
            "--seed",
            "3",
            "--subscription-key",
            APIM_KEY,
        ],
    );
    std::fs::write(w.path().join("apim.key"), APIM_KEY).unwrap();
    let config = live_config(&w, &s, "");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "[outcomes]\n",
        "[outcomes]\nsubscription_key_file = \"apim.key\"\n",
    );
    std::fs::write(&config, text).unwrap();
    let token = s.token(SCOPE).await;
    let (status, _) = s
        .publish(
            &token,
            &letter(&orgs(20, 7000), &format!("ref {FNR}"), None),
        )
        .await;
    assert_eq!(status, 200);
    let refresh = |config: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_reachcheck"))
            .current_dir(w.path())
            .args([
                "messages",
                "--refresh",
                "--unrouted",
                "--format",
                "json",
                "--config",
            ])
            .arg(config)
            .output()
            .unwrap()
    };
    let unusable = |v: &Value| {
        v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["problem"].is_string())
            .count()
    };
    let o = refresh(&config);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let first = unusable(&v);
    assert!(first > 0, "some answers were malformed: {}", stderr(&o));
    for m in v["messages"].as_array().unwrap() {
        if m["problem"].is_string() {
            assert_eq!(m["state"], "unknown");
            assert!(m["read"].is_null());
            assert!(
                m["problem"]
                    .as_str()
                    .unwrap()
                    .starts_with("malformed details"),
                "{m}"
            );
        }
    }
    assert!(!stdout(&o).contains(FNR) && !stderr(&o).contains(FNR));
    // The next polls ask again for every message not final: each one's details come through
    // sooner or later, and what a good answer said is kept when a later one is cut off.
    let never_usable = |v: &Value| {
        v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["published"].is_null())
            .count()
    };
    let mut left = never_usable(&v);
    assert_eq!(left, first);
    for _ in 0..10 {
        if left == 0 {
            break;
        }
        let o = refresh(&config);
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        left = never_usable(&v);
        for m in v["messages"].as_array().unwrap() {
            assert!(m["read"].is_null(), "nobody has read anything yet: {m}");
        }
    }
    assert_eq!(left, 0, "the polls caught up");

    // Refused: a token without Correspondence's scopes, or no subscription key.
    let refused = w.path().join("refused.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "[outcomes]\n",
        "[outcomes]\nscope = \"altinn:accessmanagement/authorizedparties\"\n",
    );
    std::fs::write(&refused, text).unwrap();
    let o = refresh(&refused);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains(
            "warning: outcomes_incomplete: `politi-bekymringsmelding`: the list answered HTTP 403"
        ),
        "{}",
        stderr(&o)
    );
    let no_key = w.path().join("no-key.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("subscription_key_file = \"apim.key\"\n", "");
    std::fs::write(&no_key, text).unwrap();
    let o = refresh(&no_key);
    assert!(
        stderr(&o).contains("the list answered HTTP 401"),
        "{}",
        stderr(&o)
    );
}

/// Reconciliation end to end (docs/design.md, "Message outcomes"): a sweep judges GOOD `readable` and
/// BAD `not_readable`; then one concern report goes to each. Nobody at GOOD opens it; someone
/// at BAD does. Both predictions are contradicted, each its own way, and the report's
/// calibration, the route histories and `/v1/findings`' outcomes say so; a message sent
/// before the sweep is `not_judged` and left out of the calibration proper.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_contradictions_and_not_judged_reach_the_report_and_the_histories() {
    let w = World::new(&[
        &route("bekymringsmelding", BAD),
        &route("bekymringsmelding", GOOD),
    ]);
    // The stand-in's clock starts at the real time: a sweep's time is the real clock's, and
    // the messages must be published after it by the stand-in's.
    // It starts an hour early, so the first message is published before the sweep.
    let start = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1)).to_string();
    let policies_dir = root().join("policies");
    let s = stand(
        &w,
        &[
            "--reading",
            &format!("default=prompt:5m,{GOOD}=never"),
            "--clock",
            &start,
            "--policies",
            policies_dir.to_str().unwrap(),
        ],
    );
    // Recipients are asked with tokens of their own (each approved reachcheck's system user),
    // not the sender's system user, so that the sweep judges them.
    let config = live_config(&w, &s, "");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(&format!("system_user_org = \"{SENDER}\"\n"), ""),
    )
    .unwrap();
    let token = s.token(SCOPE).await;
    // Before any sweep: not judged.
    let (_, early) = s
        .publish(&token, &letter(&[format!("0192:{BAD}")], "early", None))
        .await;
    assert_eq!(ids_of(&early).len(), 1);

    let (shutdown, running) = serve(config);
    let store_path = w.path().join("store.db");
    let count = counter(&store_path);
    wait_for("the first sweep", Duration::from_secs(30), || {
        let n = count("SELECT count(*) FROM sweeps WHERE status = 'ok'");
        n >= 1
    })
    .await;
    // Sent after it, on a stand-in clock that only moves forward.
    s.advance("2h").await;
    for (to, reference) in [(GOOD, "to-good"), (BAD, "to-bad")] {
        let (status, v) = s
            .publish(&token, &letter(&[format!("0192:{to}")], reference, None))
            .await;
        assert_eq!(status, 200, "{v}");
    }
    // The 24 hours of a concern report pass; BAD's prompt reader opened theirs.
    s.advance("25h").await;
    wait_for("the three fates polled", Duration::from_secs(60), || {
        count("SELECT count(*) FROM messages WHERE read_us IS NOT NULL") == 2
            && count("SELECT count(*) FROM messages WHERE predicted IS NOT NULL") == 2
            && count("SELECT count(*) FROM message_polls") >= 2
    })
    .await;
    // Let the poll that saw the deadline pass land.
    let polls = count("SELECT count(*) FROM message_polls");
    wait_for("one more poll", Duration::from_secs(60), || {
        count("SELECT count(*) FROM message_polls") > polls
    })
    .await;
    shutdown.cancel();
    running.await.unwrap().unwrap();

    let policies = reachcheck::Policies::load(&root().join("policies")).unwrap();
    let store = Store::open(&store_path).unwrap();
    let report = reachcheck::report::ComplianceReport::build(
        &store,
        Some(&policies),
        &reachcheck::report::ReportRequest {
            period: reachcheck::report::Period::between(None, None).unwrap(),
            senders: vec![],
        },
    )
    .unwrap();
    let o = report.data.outcomes.as_ref().expect("an outcomes section");
    assert_eq!((o.messages, o.unread_past_deadline), (3, 1), "{o:?}");
    assert_eq!(
        (o.contradicted_unread, o.contradicted_read),
        (1, 1),
        "{o:?}"
    );
    let cal: Vec<(&str, u64, u64)> = o
        .calibration
        .iter()
        .map(|c| (c.verdict, c.messages, c.read_within_deadline))
        .collect();
    assert_eq!(
        cal,
        [
            ("readable", 1, 0),
            ("not_readable", 1, 1),
            ("not_judged", 1, 1)
        ]
    );
    assert_eq!(o.unread.len(), 1);
    assert_eq!(o.unread[0].message.recipient.to_string(), GOOD);
    assert_eq!(
        o.unread[0].message.senders_reference.as_deref(),
        Some("to-good")
    );
    let md = report.markdown(reachcheck::report::Lang::En);
    assert!(md.contains("opened, by anyone or any system"), "{md}");
    assert!(
        md.contains(
            "| Judged readable, yet unread past the deadline (someone can read, nobody did) | 1 |"
        ),
        "{md}"
    );

    // The route histories, as `check --details` and the AuthZEN context show them.
    let messages = store
        .messages(&reachcheck::store::MessageFilter::default())
        .unwrap();
    let now = store.last_poll().unwrap().unwrap().at.unwrap();
    let h = reachcheck::outcome::histories(&messages, &policies, now);
    let of = |org: &str| {
        h.iter()
            .find(|(r, _)| r.recipient.to_string() == org)
            .map(|(_, h)| h.clone())
            .unwrap()
    };
    let (good, bad) = (of(GOOD), of(BAD));
    assert_eq!(
        (
            good.contradicted_unread,
            good.contradicted_read,
            good.not_judged
        ),
        (1, 0, 0)
    );
    assert_eq!(
        (
            bad.contradicted_unread,
            bad.contradicted_read,
            bad.not_judged
        ),
        (0, 1, 1)
    );
    // And the findings `/v1/findings` lists under `outcomes`, each with its severity.
    let f: Vec<(String, String, reachcheck::model::Severity)> =
        reachcheck::outcome::assess(&messages, &policies, now)
            .into_iter()
            .filter(|f| f.code == reachcheck::model::FindingCode::PredictionContradicted)
            .map(|f| {
                (
                    f.route.recipient.to_string(),
                    f.code.to_string(),
                    f.severity,
                )
            })
            .collect();
    assert_eq!(f.len(), 2, "{f:?}");
    assert!(f.contains(&(
        GOOD.to_owned(),
        "prediction_contradicted".to_owned(),
        reachcheck::model::Severity::Warning
    )));
    assert!(f.contains(&(
        BAD.to_owned(),
        "prediction_contradicted".to_owned(),
        reachcheck::model::Severity::Info
    )));
}
