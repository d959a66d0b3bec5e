//! Altinn Events (issue 16): the stand-in's subscriptions refuse what Altinn refuses and
//! retry pushes on its clock; `reachcheck subscribe` creates idempotently, lists and
//! removes; the daemon's webhook answers the handshake, refuses malformed and oversized
//! events, ignores what it does not track, forgets duplicates, and changes nothing on a
//! forged event until a re-fetch says so. Through the stand-in, a read shows in `messages`
//! within a second of its push and a never-read event raises the alert.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::fixture::{BAD, GOOD, SENDER, World, route, stderr, stdout};
use crate::outcomes::{RESOURCE, SCOPE, Stand, ids_of, letter, live_config, stand, wait_for};

const EVENTS_SCOPE: &str = "altinn:events.subscribe";
const READ: &str = "no.altinn.correspondence.correspondencereceiverread";

pub(crate) fn event(id: &str, kind: &str, resource: &str, instance: &str) -> Value {
    json!({
        "id": id, "specversion": "1.0", "time": "2026-11-20T08:10:00Z",
        "type": kind, "resource": format!("urn:altinn:resource:{resource}"),
        "resourceinstance": instance,
        "source": "https://platform.altinn.no/correspondence/api/v1/correspondence",
        "subject": format!("urn:altinn:organization:identifier-no:{SENDER}")
    })
}

pub(crate) async fn post(url: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A store column of one message, read-only.
fn column(store: &Path, id: &str, col: &str) -> Option<i64> {
    let c =
        rusqlite::Connection::open_with_flags(store, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    c.query_row(
        &format!("SELECT {col} FROM messages WHERE id = ?1"),
        [id],
        |r| r.get::<_, Option<i64>>(0),
    )
    .ok()
    .flatten()
}

fn count(store: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open_with_flags(store, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .ok()
        .and_then(|c| c.query_row(sql, [], |r| r.get(0)).ok())
        .unwrap_or(0)
}

pub(crate) use crate::fixture::metrics;

/// The value of a metric line starting with `name` (exactly, labels included).
pub(crate) fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(-1.0)
}

/// A daemon over `config` serving its API on `listener`.
pub(crate) struct Running {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), reachcheck::daemon::SweepError>>,
}

impl Running {
    pub(crate) async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
    }
}

pub(crate) async fn bind() -> (tokio::net::TcpListener, String) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    (l, base)
}

pub(crate) fn start(config: PathBuf, listener: tokio::net::TcpListener) -> Running {
    let (stop, task) = crate::outcomes::serve_on(config, Some(listener));
    Running { stop, task }
}

/// A webhook that keeps every alert posted to it: its URL and what it got.
pub(crate) async fn alert_hook() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got = Arc::new(Mutex::new(Vec::<Value>::new()));
    let keep = Arc::clone(&got);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let keep = Arc::clone(&keep);
            async move {
                keep.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    let (l, base) = bind().await;
    tokio::spawn(async move { axum::serve(l, app).await });
    (format!("{base}/hook"), got)
}

/// The live config with polling slowed to an hour (so that only events change anything
/// after the first sweep), and `[events]` with `events`.
pub(crate) fn events_config(w: &World, s: &Stand, events: &str, alerts: &str) -> PathBuf {
    let config = live_config(w, s, &format!("\n[events]\n{events}\n{alerts}"));
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(
            "interval = \"1s\"\nalert_window = \"1s\"",
            "interval = \"1h\"\nalert_window = \"100ms\"",
        )
        // Sender mode: each recipient's own system user, so the first sweep succeeds and
        // polls once.
        .replace(&format!("system_user_org = \"{SENDER}\"\n"), "");
    std::fs::write(&config, text).unwrap();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_refuses_bad_input_ignores_what_it_does_not_track_and_a_forged_read_changes_nothing()
 {
    let w = World::new(&[&route("bekymringsmelding", BAD)]);
    let s = stand(
        &w,
        &["--reading", &format!("default=prompt:5m,{BAD}=never")],
    );
    let token = s.token(SCOPE).await;
    let (_, sent) = s
        .publish(
            &token,
            &letter(&[format!("0192:{BAD}")], "sak 2026/31", None),
        )
        .await;
    let id = ids_of(&sent)[0].clone();
    let config = events_config(
        &w,
        &s,
        "max_body_bytes = 1024\npath = \"/hooks/altinn\"",
        "",
    );
    let (listener, base) = bind().await;
    let d = start(config, listener);
    let store = w.path().join("store.db");
    wait_for("the message in the store", Duration::from_secs(30), || {
        count(&store, "SELECT count(*) FROM messages") == 1
    })
    .await;
    let hook = format!("{base}/hooks/altinn");

    // The handshake.
    let (status, _) = post(
        &hook,
        r#"{"id":"694caa35-8b25-4cd7-b800-f6eeb93c56ed","source":"https://platform.altinn.no/events/api/v1/subscriptions/1234","type":"platform.events.validatesubscription","specversion":"1.0"}"#,
    )
    .await;
    assert_eq!(status, 200);

    // Malformed and oversized: 400, named, nothing changes.
    let (status, body) = post(&hook, "{not json").await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("body")),
        "{body}"
    );
    let mut no_instance = event("e-1", READ, RESOURCE, &id);
    no_instance
        .as_object_mut()
        .unwrap()
        .remove("resourceinstance");
    let (status, body) = post(&hook, no_instance.to_string()).await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], "resourceinstance", "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("`resourceinstance` is missing")
    );
    let mut big = event("e-2", READ, RESOURCE, &id);
    big["data"] = json!("x".repeat(2000));
    let (status, body) = post(&hook, big.to_string()).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("`events.max_body_bytes` (1024 bytes)"),
        "{body}"
    );

    // A resource nobody tracks, and an event type not subscribed to: answered, ignored.
    let (status, body) = post(&hook, event("e-3", READ, "nabovarsel", &id).to_string()).await;
    assert_eq!(
        (status, body["result"].as_str()),
        (200, Some("ignored: a resource not tracked"))
    );
    let (status, _) = post(
        &hook,
        event(
            "e-4",
            "no.altinn.correspondence.attachmentdownloaded",
            RESOURCE,
            &id,
        )
        .to_string(),
    )
    .await;
    assert_eq!(status, 200);

    // A forged "read" for a real message: accepted as a hint, re-fetched, still unread.
    let forged = event("forged-1", READ, RESOURCE, &id).to_string();
    let (status, body) = post(&hook, forged.clone()).await;
    assert_eq!((status, body["result"].as_str()), (200, Some("accepted")));
    let m = {
        let base = base.clone();
        move || base.clone()
    };
    let mut text = String::new();
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        text = metrics(&m()).await;
        if metric(&text, "reachcheck_event_push_to_store_seconds_count") >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        metric(&text, "reachcheck_event_push_to_store_seconds_count"),
        1.0,
        "{text}"
    );
    assert_eq!(
        column(&store, &id, "read_us"),
        None,
        "a forged read changes nothing"
    );
    // The same event again: a duplicate, not fetched again.
    let (status, body) = post(&hook, forged).await;
    assert_eq!((status, body["result"].as_str()), (200, Some("duplicate")));
    // A message that is not the sender's: the re-fetch is refused, nothing is stored.
    let (status, _) = post(
        &hook,
        event(
            "forged-2",
            READ,
            RESOURCE,
            "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        )
        .to_string(),
    )
    .await;
    assert_eq!(status, 200);
    wait_for(
        "the failed re-fetch counted",
        Duration::from_secs(10),
        || {
            let t = futures_now(metrics(&m()));
            metric(&t, "reachcheck_events_refetch_failures_total") == 1.0
        },
    )
    .await;
    assert_eq!(count(&store, "SELECT count(*) FROM messages"), 1);
    let text = metrics(&base).await;
    for (name, want) in [
        ("reachcheck_events_received_total", 9.0),
        ("reachcheck_events_accepted_total", 2.0),
        ("reachcheck_events_duplicates_total", 1.0),
        ("reachcheck_events_validations_total", 1.0),
        (
            "reachcheck_events_ignored_total{reason=\"unknown_resource\"}",
            1.0,
        ),
        (
            "reachcheck_events_ignored_total{reason=\"unsubscribed_type\"}",
            1.0,
        ),
        ("reachcheck_events_refused_total{reason=\"malformed\"}", 2.0),
        ("reachcheck_events_refused_total{reason=\"oversized\"}", 1.0),
    ] {
        assert_eq!(metric(&text, name), want, "{name}:\n{text}");
    }
    // The webhook is where it was configured and nowhere else.
    let (status, _) = post(&format!("{base}/altinn/events"), forged_body()).await;
    assert_eq!(status, 404);
    d.stop().await;
}

fn forged_body() -> String {
    event("x", READ, RESOURCE, "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b").to_string()
}

/// Runs a future to completion from synchronous code inside the test's runtime.
fn futures_now<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

fn reachcheck(w: &World, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .current_dir(w.path())
        .args(args)
        .output()
        .unwrap()
}

async fn deliveries(s: &Stand) -> Vec<Value> {
    reqwest::get(s.url("/_sim/events"))
        .await
        .unwrap()
        .json::<Vec<Value>>()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_stand_in_a_read_shows_within_a_second_and_a_never_read_event_alerts() {
    let w = World::new(&[
        &route("bekymringsmelding", BAD),
        &route("bekymringsmelding", GOOD),
    ]);
    let s = stand(
        &w,
        &[
            "--reading",
            &format!("default=prompt:5m,{BAD}=never"),
            "--allow-http-webhooks",
        ],
    );
    let (alerts_url, got) = alert_hook().await;
    let (listener, base) = bind().await;
    let config = events_config(
        &w,
        &s,
        &format!("public_url = \"{base}/altinn/events\""),
        &format!(
            "\n[alerts]\nwebhook_url = \"{alerts_url}\"\nallow_http = true\nbackoff = \"10ms\"\n"
        ),
    );
    let d = start(config.clone(), listener);
    let cfg = config.to_str().unwrap();

    // Subscribe: created once, then nothing more to do; each is validated by the handshake.
    let o = reachcheck(&w, &["subscribe", "--config", cfg]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // One per tracked resource (the project's policies track three) and event type.
    let types = reachcheck::events::DEFAULT_TYPES.len() * 3;
    assert!(
        stdout(&o).contains(&format!("{types} created, 0 already there")),
        "{}",
        stdout(&o)
    );
    let o = reachcheck(&w, &["subscribe", "--config", cfg]);
    assert!(
        stdout(&o).contains(&format!("0 created, {types} already there")),
        "{}",
        stdout(&o)
    );
    wait_for(
        "every subscription validated",
        Duration::from_secs(10),
        || {
            let o = reachcheck(
                &w,
                &["subscribe", "--list", "--format", "json", "--config", cfg],
            );
            let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
            let subs = v["subscriptions"].as_array().unwrap();
            subs.len() == types && subs.iter().all(|s| s["validated"] == true)
        },
    )
    .await;

    // Sent after the first sweep's poll: only the `published` events bring them in.
    let store = w.path().join("store.db");
    wait_for("the first sweep", Duration::from_secs(30), || {
        count(
            &store,
            "SELECT count(*) FROM sweeps WHERE finished_at IS NOT NULL",
        ) >= 1
    })
    .await;
    let token = s.token(SCOPE).await;
    let now: Value = reqwest::get(s.url("/_sim/clock"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let now: jiff::Timestamp = now["now"].as_str().unwrap().parse().unwrap();
    let due = (now + jiff::SignedDuration::from_hours(24)).to_string();
    let mut to_bad = letter(&[format!("0192:{BAD}")], "sak 2026/40", None);
    to_bad["correspondence"]["dueDateTime"] = json!(due);
    let (_, bad) = s.publish(&token, &to_bad).await;
    let bad_id = ids_of(&bad)[0].clone();
    let (_, good) = s
        .publish(
            &token,
            &letter(&[format!("0192:{GOOD}")], "sak 2026/41", None),
        )
        .await;
    let good_id = ids_of(&good)[0].clone();
    wait_for("both messages pushed in", Duration::from_secs(10), || {
        count(&store, "SELECT count(*) FROM messages") == 2
    })
    .await;

    // GOOD's reader opens it five minutes later: the read event is pushed, re-fetched and
    // stored within a second.
    s.advance("5m").await;
    let mut seen_at = None;
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if column(&store, &good_id, "read_us").is_some() {
            seen_at = Some(jiff::Timestamp::now());
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seen_at = seen_at.expect("the read was stored");
    let log = deliveries(&s).await;
    let pushed = log
        .iter()
        .find(|d| d["resourceinstance"] == good_id.as_str() && d["type"] == READ)
        .expect("the read event was pushed");
    let pushed_at =
        jiff::Timestamp::from_microsecond(pushed["first_sent_us"].as_i64().unwrap()).unwrap();
    let took = seen_at.duration_since(pushed_at);
    assert!(took < jiff::SignedDuration::from_secs(1), "took {took:?}");
    let o = reachcheck(&w, &["messages", "--format", "json", "--config", cfg]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let m = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == good_id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(m["state"], "read", "{m}");
    assert!(
        got.lock()
            .unwrap()
            .iter()
            .all(|a| a["kind"] != "messages_at_risk")
    );

    // BAD never reads it: at its due time (the type's 24 hours) Altinn pushes
    // `…receiverneverread`; the re-fetch confirms it unread and the alert goes out.
    s.advance("24h").await;
    wait_for("the alert", Duration::from_secs(10), || {
        got.lock()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "messages_at_risk")
    })
    .await;
    let alert = got
        .lock()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "messages_at_risk")
        .cloned()
        .unwrap();
    assert_eq!(alert["recipient"], BAD);
    assert_eq!(alert["messages"][0]["id"], bad_id.as_str());
    assert_eq!(alert["messages"][0]["code"], "unread_past_deadline");
    let log = deliveries(&s).await;
    assert!(log.iter().any(|d| d["resourceinstance"] == bad_id.as_str()
        && d["type"] == "no.altinn.correspondence.correspondencereceiverneverread"
        && d["status"] == "delivered"));
    let text = metrics(&base).await;
    assert!(
        metric(&text, "reachcheck_event_push_to_alert_seconds_count") >= 1.0,
        "{text}"
    );

    // Remove: every one of reachcheck's subscriptions goes.
    let o = reachcheck(&w, &["subscribe", "--remove", "--config", cfg]);
    assert!(
        stdout(&o).contains(&format!("{types} removed")),
        "{}",
        stdout(&o)
    );
    let o = reachcheck(&w, &["subscribe", "--list", "--config", cfg]);
    assert!(stdout(&o).contains("0 listed"), "{}", stdout(&o));
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stand_in_refuses_what_events_refuses_and_retries_pushes_on_its_clock() {
    let w = World::new(&[]);
    let strict = stand(&w, &[]);
    let token = strict.token(EVENTS_SCOPE).await;
    let create = |s: &Stand, token: Option<&str>, body: Value| {
        let r = reqwest::Client::new()
            .post(s.url("/events/api/v1/subscriptions"))
            .json(&body);
        let r = match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        };
        async move {
            let r = r.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let urn = format!("urn:altinn:resource:{RESOURCE}");
    let ok = json!({"endPoint": "https://reachcheck.example.no/altinn/events", "resourceFilter": urn,
                    "typeFilter": READ});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        if v.is_null() {
            b.as_object_mut().unwrap().remove(k);
        } else {
            b[k] = v;
        }
        b
    };
    for (body, status, says) in [
        (
            with("resourceFilter", Value::Null),
            400,
            "Resource filter is required.",
        ),
        (
            with(
                "sourceFilter",
                json!("https://platform.altinn.no/correspondence/api/v1/correspondence"),
            ),
            400,
            "Source filter is not supported for subscriptions on this resource.",
        ),
        (
            with("alternativeSubjectFilter", json!("/organisation/958935420")),
            400,
            "AlternativeSubject is not supported",
        ),
        (
            with("typeFilter", json!([READ, READ])),
            400,
            "could not be converted",
        ),
        (
            with("typeFilter", json!(format!("{READ},{READ}"))),
            400,
            "one exact event type",
        ),
        (
            with("endPoint", json!("http://127.0.0.1:9/hook")),
            400,
            "--allow-http-webhooks",
        ),
        (
            with("endPoint", json!("not a url")),
            400,
            "invalid endpoint",
        ),
        (
            with("resourceFilter", json!("urn:altinn:resource:nabovarsel")),
            401,
            "Not authorized to create a subscription for resource urn:altinn:resource:nabovarsel",
        ),
    ] {
        let (got, text) = create(&strict, Some(&token), body.clone()).await;
        assert_eq!(got, status, "{body}: {text}");
        assert!(text.contains(says), "{body}: {text}");
    }
    assert_eq!(create(&strict, None, ok.clone()).await.0, 401);
    let wrong = strict.token(SCOPE).await;
    assert_eq!(create(&strict, Some(&wrong), ok.clone()).await.0, 403);
    let (status, text) = create(&strict, Some(&token), ok.clone()).await;
    assert_eq!(status, 201, "{text}");
    let first: Value = serde_json::from_str(&text).unwrap();
    let (_, text) = create(&strict, Some(&token), ok.clone()).await;
    let again: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        first["id"], again["id"],
        "an identical subscription is reused"
    );
    drop(strict);

    // A webhook that fails twice: the handshake is retried after 10 s and 30 s on the
    // stand-in's clock, and not before.
    let s = stand(&w, &["--allow-http-webhooks"]);
    let token = s.token(EVENTS_SCOPE).await;
    let calls = Arc::new(Mutex::new(0u32));
    let hook = {
        let calls = Arc::clone(&calls);
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move || {
                let calls = Arc::clone(&calls);
                async move {
                    let mut n = calls.lock().unwrap();
                    *n += 1;
                    if *n <= 2 {
                        axum::http::StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        axum::http::StatusCode::OK
                    }
                }
            }),
        );
        let (l, base) = bind().await;
        tokio::spawn(async move { axum::serve(l, app).await });
        format!("{base}/hook")
    };
    let (status, text) = create(&s, Some(&token), with("endPoint", json!(hook))).await;
    assert_eq!(status, 201, "{text}");
    let attempts = |log: &[Value]| log[0]["attempts"].as_u64().unwrap();
    wait_for("the first attempt", Duration::from_secs(5), || {
        futures_now(deliveries(&s))
            .first()
            .is_some_and(|d| d["attempts"] == 1)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        attempts(&deliveries(&s).await),
        1,
        "not retried before 10 s"
    );
    s.advance("10s").await;
    wait_for("the second attempt", Duration::from_secs(5), || {
        futures_now(deliveries(&s))[0]["attempts"] == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        attempts(&deliveries(&s).await),
        2,
        "not retried before 30 s more"
    );
    s.advance("30s").await;
    wait_for(
        "delivered at the third attempt",
        Duration::from_secs(5),
        || futures_now(deliveries(&s))[0]["status"] == "delivered",
    )
    .await;
    let list: Value = reqwest::Client::new()
        .get(s.url("/events/api/v1/subscriptions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["subscriptions"][0]["validated"], true, "{list}");
    assert_eq!(*calls.lock().unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_pushed_while_the_daemon_is_down_are_retried_on_the_stand_ins_clock() {
    let w = World::new(&[&route("bekymringsmelding", GOOD)]);
    let s = stand(&w, &["--allow-http-webhooks"]);
    // The daemon's address, with nobody listening yet.
    let (listener, base) = bind().await;
    drop(listener);
    let config = events_config(
        &w,
        &s,
        &format!("public_url = \"{base}/altinn/events\""),
        "",
    );
    let cfg = config.to_str().unwrap();
    let o = reachcheck(&w, &["subscribe", "--config", cfg]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let token = s.token(SCOPE).await;
    wait_for("the handshakes tried once", Duration::from_secs(10), || {
        let log = futures_now(deliveries(&s));
        !log.is_empty()
            && log
                .iter()
                .all(|d| d["attempts"] == 1 && d["status"] == "pending")
    })
    .await;
    // The daemon comes up; the stand-in's next attempt, 10 s later on its clock, reaches it.
    let listener = tokio::net::TcpListener::bind(base.trim_start_matches("http://"))
        .await
        .unwrap();
    let d = start(config.clone(), listener);
    let store = w.path().join("store.db");
    wait_for("the first sweep", Duration::from_secs(30), || {
        count(
            &store,
            "SELECT count(*) FROM sweeps WHERE finished_at IS NOT NULL",
        ) >= 1
    })
    .await;
    s.advance("10s").await;
    wait_for("every handshake delivered", Duration::from_secs(10), || {
        futures_now(deliveries(&s))
            .iter()
            .all(|d| d["attempts"] == 2 && d["status"] == "delivered")
    })
    .await;
    // Validated now: a message published from here on is pushed and re-fetched at once.
    let (_, sent) = s
        .publish(
            &token,
            &letter(&[format!("0192:{GOOD}")], "sak 2026/50", None),
        )
        .await;
    let id = ids_of(&sent)[0].clone();
    wait_for("the message pushed in", Duration::from_secs(10), || {
        count(
            &store,
            &format!("SELECT count(*) FROM messages WHERE id = '{id}'"),
        ) == 1
    })
    .await;
    d.stop().await;
}
