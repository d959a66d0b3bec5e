//! The daemon in-process: the finding lifecycle across sweeps, verdict history stored as
//! changes, suppressions, reload keeping the last good state, and the schedule under
//! paused time. (`serve.rs` runs the binary.)

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use reachcheck::daemon::{Daemon, ServeOverrides, run};
use reachcheck::settings::Overrides;
use reachcheck::store::{Change, FindingFilter, FindingState, NewSuppression, Store};
use reachcheck::{OrgNumber, Route, Verdict};
use tokio_util::sync::CancellationToken;

use crate::fixture::{BAD, GOOD, SENDER, World, bad_gets_a_reader, route};

pub(crate) const TOKEN: &str = "0123456789abcdef-test-token";

/// A world with a daemon config: the project's policies, the world's routes and snapshot,
/// a store and a token file in the world's directory.
pub(crate) fn daemon_world(routes: &[&str]) -> World {
    let w = World::new(routes);
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    std::fs::write(
        w.path().join("reachcheck.toml"),
        format!(
            "policies = {policies:?}\nroutes = \"routes.csv\"\nsnapshot = \"snapshot\"\nnow = \"2026-11-21T06:00:00Z\"\n\n[daemon]\nstore = \"store.db\"\napi_tokens_file = \"tokens\"\ninterval = \"1h\"\ngrace = \"5s\"\n",
            policies = policies.display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(w.path().join("tokens"), format!("tests:{TOKEN}\n")).unwrap();
    w
}

pub(crate) fn overrides(w: &World) -> ServeOverrides {
    ServeOverrides {
        sources: Overrides {
            config: Some(w.path().join("reachcheck.toml")),
            ..Overrides::default()
        },
        store: Some(reachcheck::store::StoreAddress::Sqlite(
            w.path().join("store.db"),
        )),
        ..ServeOverrides::default()
    }
}

fn org(s: &str) -> OrgNumber {
    OrgNumber::parse(s).unwrap()
}

fn r(t: &str, recipient: &str) -> Route {
    Route::new(
        org(SENDER),
        reachcheck::MessageTypeId::parse(t).unwrap(),
        org(recipient),
    )
}

fn changes(report: &reachcheck::daemon::SweepReport, c: Change) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = report
        .outcome
        .changes
        .iter()
        .filter(|x| x.change == c)
        .map(|x| (x.route.recipient.to_string(), x.code.as_str().to_owned()))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_open_resolve_reopen_and_retire_and_only_changes_are_stored() {
    let w = daemon_world(&[
        &route("bekymringsmelding", BAD),
        &route("bekymringsmelding", GOOD),
    ]);
    let d = Daemon::start(overrides(&w)).unwrap();
    let bad = r("bekymringsmelding", BAD);

    // 1: BAD has nobody who can read confidential post.
    let s1 = d.sweep_once().await.unwrap();
    assert_eq!(s1.outcome.counts.routes, 2);
    assert_eq!(s1.outcome.changed, 2, "first sweep writes every route");
    assert!(changes(&s1, Change::Opened).contains(&(BAD.to_owned(), "no_reader".to_owned())));
    let now = "2026-11-21T06:00:00Z".parse().unwrap();
    assert_eq!(
        d.shared().verifier.check_at(&bad, now).verdict,
        Verdict::NotReadable
    );

    // 2: nothing changed: nothing written, no finding moves.
    let s2 = d.sweep_once().await.unwrap();
    assert_eq!(s2.outcome.changed, 0);
    assert!(s2.outcome.changes.is_empty(), "{:?}", s2.outcome.changes);

    // 3: BAD gets two readers: no_reader resolves, the verdict changes.
    bad_gets_a_reader(&w, true);
    let s3 = d.sweep_once().await.unwrap();
    assert_eq!(
        changes(&s3, Change::Resolved),
        vec![(BAD.to_owned(), "no_reader".to_owned())]
    );
    assert_eq!(s3.outcome.changed, 1);
    assert_eq!(
        d.shared().verifier.check_at(&bad, now).verdict,
        Verdict::Readable
    );

    // 4: the readers go again: the same finding reopens (not a new one).
    bad_gets_a_reader(&w, false);
    let s4 = d.sweep_once().await.unwrap();
    assert_eq!(
        changes(&s4, Change::Reopened),
        vec![(BAD.to_owned(), "no_reader".to_owned())]
    );
    assert!(changes(&s4, Change::Opened).is_empty());

    // 5: the route leaves the routing table (reload): its finding retires.
    w.set_routes(&[&route("bekymringsmelding", GOOD)]);
    d.reload().await.unwrap();
    let s5 = d.sweep_once().await.unwrap();
    assert!(changes(&s5, Change::Retired).contains(&(BAD.to_owned(), "no_reader".to_owned())));

    let store = Store::open(&w.path().join("store.db")).unwrap();
    // History: the verdict at each sweep, from changes only (2 + 1 + 1 + 1 closing).
    assert_eq!(
        store.verdict_at(&bad, s1.id).unwrap(),
        Some(Verdict::NotReadable)
    );
    assert_eq!(
        store.verdict_at(&bad, s2.id).unwrap(),
        Some(Verdict::NotReadable)
    );
    assert_eq!(
        store.verdict_at(&bad, s3.id).unwrap(),
        Some(Verdict::Readable)
    );
    assert_eq!(
        store.verdict_at(&bad, s4.id).unwrap(),
        Some(Verdict::NotReadable)
    );
    assert_eq!(store.verdict_at(&bad, s5.id).unwrap(), None);
    assert_eq!(store.verdict_rows().unwrap(), 4);
    let all = store
        .findings(
            &FindingFilter {
                recipient: Some(org(BAD)),
                limit: 100,
                ..FindingFilter::default()
            },
            Timestamp::now(),
        )
        .unwrap();
    let no_reader = all.iter().find(|f| f.code.as_str() == "no_reader").unwrap();
    assert_eq!(no_reader.state, FindingState::Retired);
    assert_eq!(no_reader.reopened, 1);
    assert!(no_reader.first_seen_at <= no_reader.last_seen_at);
    assert!(no_reader.resolved_at.is_some());
    store.integrity_check().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suppressed_finding_is_kept_but_not_alerted_and_its_lapse_is_noticed_once() {
    let w = daemon_world(&[&route("bekymringsmelding", BAD)]);
    let mut store = Store::open(&w.path().join("store.db")).unwrap();
    let now = Timestamp::now();
    let expires = now
        .checked_add(jiff::SignedDuration::from_hours(24))
        .unwrap();
    let suppression = NewSuppression {
        recipient: org(BAD),
        code: reachcheck::FindingCode::NoReader,
        sender: None,
        message_type: None,
        justification:
            "Bergen receives these on paper until the delegation is in place (case 2026/123)."
                .to_owned(),
        expires_at: expires,
    };
    let id = store.add_suppression(&suppression, "ops", now).unwrap();
    // Refused: no justification; half a route; expiry in the past.
    for (bad, field) in [
        (
            NewSuppression {
                justification: "  ".to_owned(),
                ..suppression.clone()
            },
            "justification",
        ),
        (
            NewSuppression {
                sender: Some(org(SENDER)),
                ..suppression.clone()
            },
            "message_type",
        ),
        // Free text with personal data, too long, or with hidden characters.
        (
            NewSuppression {
                justification: "Gjelder saksbehandler 010170 12343".to_owned(),
                ..suppression.clone()
            },
            "justification",
        ),
        (
            NewSuppression {
                justification: "x".repeat(1_500_000),
                ..suppression.clone()
            },
            "justification",
        ),
        (
            NewSuppression {
                justification: "ok\0".to_owned(),
                ..suppression.clone()
            },
            "justification",
        ),
        (
            NewSuppression {
                justification: "paper \u{202E}2026".to_owned(),
                ..suppression.clone()
            },
            "justification",
        ),
        (
            NewSuppression {
                expires_at: now,
                ..suppression.clone()
            },
            "expires_at",
        ),
    ] {
        assert_eq!(bad.check(now).unwrap_err().0, field);
        assert!(store.add_suppression(&bad, "ops", now).is_err());
    }

    let d = Daemon::start(overrides(&w)).unwrap();
    let s1 = d.sweep_once().await.unwrap();
    let opened: Vec<_> = s1
        .outcome
        .changes
        .iter()
        .filter(|c| c.code.as_str() == "no_reader")
        .collect();
    assert_eq!(opened.len(), 1);
    assert!(opened[0].suppressed, "covered by the suppression");
    let listed = store
        .findings(
            &FindingFilter {
                limit: 10,
                ..FindingFilter::default()
            },
            now,
        )
        .unwrap();
    let f = listed
        .iter()
        .find(|f| f.code.as_str() == "no_reader")
        .unwrap();
    assert_eq!(
        f.suppressed_by,
        Some(id),
        "still recorded, marked suppressed"
    );

    // Not lapsed yet; lapsed after expiry, exactly once.
    assert!(store.lapse_suppressions(now).unwrap().is_empty());
    let later = expires
        .checked_add(jiff::SignedDuration::from_secs(1))
        .unwrap();
    let lapsed = store.lapse_suppressions(later).unwrap();
    assert_eq!(lapsed.len(), 1);
    assert_eq!(lapsed[0].id, id);
    assert!(store.lapse_suppressions(later).unwrap().is_empty());
    let after = store
        .findings(
            &FindingFilter {
                limit: 10,
                ..FindingFilter::default()
            },
            later,
        )
        .unwrap();
    assert!(after.iter().all(|f| f.suppressed_by.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_reload_keeps_the_last_good_state_and_a_fixed_one_is_taken() {
    let w = daemon_world(&[&route("bekymringsmelding", BAD)]);
    // A private copy of the policies, so they can be broken.
    let policies = w.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    for e in std::fs::read_dir(&project).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), policies.join(e.file_name())).unwrap();
    }
    let config = w.path().join("reachcheck.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text
        .lines()
        .map(|l| {
            if l.starts_with("policies") {
                "policies = \"policies\""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&config, text).unwrap();

    let d = Daemon::start(overrides(&w)).unwrap();
    d.sweep_once().await.unwrap();
    let bad = r("bekymringsmelding", BAD);
    let now = "2026-11-21T06:00:00Z".parse().unwrap();
    let before = d.shared().verifier.check_at(&bad, now);

    let types = policies.join("message-types.toml");
    let good = std::fs::read_to_string(&types).unwrap();
    std::fs::write(&types, good.replace("id = \"bekymringsmelding\"", "id = 7")).unwrap();
    let e = d.reload().await.unwrap_err();
    let said = e.lines().join("\n");
    assert!(said.contains("message-types.toml"), "{said}");
    // The old inputs stay, and so do the answers; a sweep still works with them.
    assert!(
        d.shared()
            .inputs
            .load()
            .policies
            .message_type(&reachcheck::MessageTypeId::parse("bekymringsmelding").unwrap())
            .is_some()
    );
    assert_eq!(d.shared().verifier.check_at(&bad, now), before);
    d.sweep_once().await.unwrap();
    assert_eq!(
        d.shared().verifier.check_at(&bad, now).verdict,
        before.verdict
    );

    // A broken routing table is refused too.
    w.set_routes(&["310000019,bekymringsmelding,12345"]);
    std::fs::write(&types, &good).unwrap();
    let e = d.reload().await.unwrap_err();
    assert!(e.lines().join("\n").contains("routes.csv"));

    // Fixed: taken.
    w.set_routes(&[&route("bekymringsmelding", GOOD)]);
    d.reload().await.unwrap();
    assert_eq!(d.shared().inputs.load().routes.len(), 1);
    let m = d.shared().metrics.encode();
    assert!(
        m.contains("reachcheck_reloads_total{status=\"failed\"} 2"),
        "{m}"
    );
    assert!(
        m.contains("reachcheck_reloads_total{status=\"ok\"} 1"),
        "{m}"
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn sweeps_follow_the_interval_and_missed_ticks_are_skipped() {
    let w = daemon_world(&[&route("bekymringsmelding", GOOD)]);
    let d = Arc::new(Daemon::start(overrides(&w)).unwrap());
    let mut done = d.sweeps_done();
    let stop = CancellationToken::new();
    let task = tokio::spawn(run(Arc::clone(&d), None, stop.clone(), false));

    // An empty store: the first sweep at once.
    done.wait_for(|n| *n == 1).await.unwrap();
    // Not before the interval.
    tokio::time::sleep(Duration::from_secs(59 * 60)).await;
    assert_eq!(*done.borrow(), 1);
    tokio::time::sleep(Duration::from_secs(60 + 1)).await;
    done.wait_for(|n| *n == 2).await.unwrap();

    // The process was stopped for 3.5 intervals (the clock jumps): one sweep for all the
    // missed ticks, not three.
    tokio::time::advance(Duration::from_secs(3 * 3600 + 1800)).await;
    done.wait_for(|n| *n == 3).await.unwrap();
    tokio::time::sleep(Duration::from_secs(10 * 60)).await;
    assert_eq!(*done.borrow(), 3, "missed ticks are skipped, not caught up");
    // Then on the schedule again.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    done.wait_for(|n| *n == 4).await.unwrap();

    stop.cancel();
    task.await.unwrap().unwrap();
    drop(d);
    let store = Store::open(&w.path().join("store.db")).unwrap();
    let sweeps = store.sweeps(10).unwrap();
    assert_eq!(sweeps.len(), 4);
    assert!(
        sweeps
            .iter()
            .all(|s| s.status == reachcheck::store::SweepStatus::Ok)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_answers_from_the_store_at_once_and_does_not_sweep_again_early() {
    let w = daemon_world(&[
        &route("bekymringsmelding", BAD),
        &route("bekymringsmelding", GOOD),
    ]);
    let first = Daemon::start(overrides(&w)).unwrap();
    let s1 = first.sweep_once().await.unwrap();
    let now: Timestamp = "2026-11-21T06:00:00Z".parse().unwrap();
    let routes = [r("bekymringsmelding", BAD), r("bekymringsmelding", GOOD)];
    let answers: Vec<_> = routes
        .iter()
        .map(|x| first.shared().verifier.check_at(x, now))
        .collect();
    drop(first);

    let again = Daemon::start(overrides(&w)).unwrap();
    assert_eq!(again.shared().verifier.sweep(), Some(s1.id));
    for (x, want) in routes.iter().zip(&answers) {
        let got = again.shared().verifier.check_at(x, now);
        assert_eq!(got.verdict, want.verdict);
        assert_eq!(got.readers, want.readers);
        assert_eq!(got.findings, want.findings);
        assert_eq!(got.data_age, want.data_age);
    }
    // A route the sweep did not judge: unknown, not_swept (no engine to judge it with).
    let other = again
        .shared()
        .verifier
        .check_at(&r("ordinaer-post", GOOD), now);
    assert_eq!(other.verdict, Verdict::Unknown);
    assert_eq!(other.findings[0].code().as_str(), "not_swept");
    // The stored sweep is fresh: the next one waits for the rest of the interval. Sweeps
    // are recorded at the judged time (here the pinned `now`), and compared on that clock.
    let judged = again.shared().inputs.load().judge_now();
    assert_eq!(judged, now);
    let delay = again.first_sweep_delay(Duration::from_secs(3600), judged);
    assert!(delay > Duration::from_secs(3500), "{delay:?}");
}

/// A webhook receiver on port 0 that keeps what it is sent.
async fn receiver() -> (String, Arc<std::sync::Mutex<Vec<serde_json::Value>>>) {
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = Arc::clone(&got);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<serde_json::Value>| {
            let keep = Arc::clone(&keep);
            async move {
                keep.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

fn with_webhook(w: &World, url: &str) {
    let config = w.path().join("reachcheck.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[alerts]\nwebhook_url = \"{url}\"\nallow_http = true\nbackoff = \"10ms\"\nattempts = 2\n"
    ));
    std::fs::write(&config, text).unwrap();
}

async fn kinds_after(
    got: &std::sync::Mutex<Vec<serde_json::Value>>,
    n: usize,
) -> Vec<serde_json::Value> {
    let until = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let v = got.lock().unwrap().clone();
        if v.len() >= n || std::time::Instant::now() > until {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_group_a_sweeps_changes_in_one_message_and_report_failed_sweeps() {
    let (url, got) = receiver().await;
    let w = daemon_world(&[
        &route("bekymringsmelding", BAD),
        &route("bekymringsmelding", GOOD),
    ]);
    with_webhook(&w, &url);

    // One sweep: one `sweep_changed` with the new findings grouped (after the heartbeat
    // the alerts task sends when it starts).
    let d = Arc::new(Daemon::start(overrides(&w)).unwrap());
    run(Arc::clone(&d), None, CancellationToken::new(), true)
        .await
        .unwrap();
    let sent = kinds_after(&got, 2).await;
    let kinds: Vec<&str> = sent.iter().map(|v| v["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["heartbeat", "sweep_changed"], "{sent:?}");
    let changed = &sent[1];
    assert_eq!(changed["service"], "reachcheck");
    assert_eq!(changed["routes"], 2);
    let new = changed["new"].as_array().unwrap();
    assert!(
        new.iter().any(|f| f["recipient"] == BAD
            && f["code"] == "no_reader"
            && f["severity"] == "critical"),
        "{changed}"
    );
    assert!(changed["resolved"].as_array().unwrap().is_empty());
    drop(d);

    // Fixed at the recipient: the next sweep's message lists it as resolved.
    bad_gets_a_reader(&w, true);
    got.lock().unwrap().clear();
    let d = Arc::new(Daemon::start(overrides(&w)).unwrap());
    run(Arc::clone(&d), None, CancellationToken::new(), true)
        .await
        .unwrap();
    let sent = kinds_after(&got, 2).await;
    let changed = sent.iter().find(|v| v["kind"] == "sweep_changed").unwrap();
    let resolved = changed["resolved"].as_array().unwrap();
    assert!(
        resolved
            .iter()
            .any(|f| f["recipient"] == BAD && f["code"] == "no_reader"),
        "{changed}"
    );
    drop(d);

    // A sweep that cannot gather evidence: `sweep_failed`, and the store says so.
    std::fs::remove_file(w.snapshot().join("manifest.json")).unwrap();
    got.lock().unwrap().clear();
    let d = Arc::new(Daemon::start(overrides(&w)).unwrap());
    let r = run(Arc::clone(&d), None, CancellationToken::new(), true).await;
    assert!(r.is_err());
    let sent = kinds_after(&got, 2).await;
    let failed = sent.iter().find(|v| v["kind"] == "sweep_failed").unwrap();
    assert!(
        failed["reason"].as_str().unwrap().contains("manifest.json"),
        "{failed}"
    );
    drop(d);
    let store = Store::open(&w.path().join("store.db")).unwrap();
    let last = store.last_sweep().unwrap().unwrap();
    assert_eq!(last.status, reachcheck::store::SweepStatus::Failed);
    assert!(last.error.unwrap().contains("manifest.json"));
    // The answers of the last good sweep are still what a restart serves.
    assert_eq!(store.latest().unwrap().unwrap().sweep.id, last.id - 1);
}

#[test]
fn retention_forgets_old_sweeps_and_ended_verdicts_but_keeps_the_latest_answers() {
    let w = daemon_world(&[&route("bekymringsmelding", BAD)]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let d = Daemon::start(overrides(&w)).unwrap();
    rt.block_on(d.sweep_once()).unwrap();
    bad_gets_a_reader(&w, true);
    rt.block_on(d.sweep_once()).unwrap();
    rt.block_on(d.sweep_once()).unwrap();
    let mut store = Store::open(&w.path().join("store.db")).unwrap();
    assert_eq!(store.verdict_rows().unwrap(), 2);
    let future = Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(1))
        .unwrap();
    let pruned = store.prune(future).unwrap();
    // Sweep 1's verdict ended at sweep 2: forgotten, with sweep 1; sweep 2 still holds
    // the current verdict (since = 2), and sweep 3 is the latest.
    assert_eq!(pruned.verdicts, 1);
    assert_eq!(store.verdict_rows().unwrap(), 1);
    let left: Vec<i64> = store.sweeps(10).unwrap().iter().map(|s| s.id).collect();
    assert!(
        left.contains(&3) && left.contains(&2) && !left.contains(&1),
        "{left:?}"
    );
    let latest = store.latest().unwrap().unwrap();
    assert_eq!(latest.verdicts.len(), 1);
    assert_eq!(latest.verdicts[0].verdict, Verdict::Readable);
    store.integrity_check().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answers_blob_agrees_with_the_history_and_a_broken_one_is_not_trusted() {
    let w = daemon_world(&[
        &route("bekymringsmelding", BAD),
        &route("bekymringsmelding", GOOD),
        &route("ordinaer-post", crate::fixture::ER_ONLY),
    ]);
    let d = Daemon::start(overrides(&w)).unwrap();
    d.sweep_once().await.unwrap();
    bad_gets_a_reader(&w, true);
    let last = d.sweep_once().await.unwrap();
    drop(d);
    let path = w.path().join("store.db");
    let sorted = |mut v: Vec<reachcheck::store::StoredVerdict>| {
        v.sort_by_key(|x| x.route.to_string());
        v
    };
    let store = Store::open(&path).unwrap();
    let from_blob = sorted(store.latest().unwrap().unwrap().verdicts);
    let from_history = sorted(store.verdicts_at(last.id).unwrap());
    assert_eq!(from_blob.len(), 3);
    assert_eq!(from_blob, from_history);
    drop(store);

    // A damaged blob: the answers come from the history, the same.
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute("UPDATE answers SET body = x'5243413100'", [])
        .unwrap();
    drop(c);
    let store = Store::open(&path).unwrap();
    assert_eq!(
        sorted(store.latest().unwrap().unwrap().verdicts),
        from_history
    );
    // No blob at all (a store from before it existed): the same.
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute("DELETE FROM answers", []).unwrap();
    drop(c);
    assert_eq!(
        sorted(store.latest().unwrap().unwrap().verdicts),
        from_history
    );
}

/// Mangles a valid request: a field removed, retyped, emptied, made huge or nested.
fn mangle(rng: &mut rand_chacha::ChaCha8Rng, v: &mut serde_json::Value, depth: u32) {
    use rand::RngExt;
    let replacements = || -> Vec<serde_json::Value> {
        vec![
            serde_json::Value::Null,
            serde_json::json!(true),
            serde_json::json!(-1),
            serde_json::json!(1e308),
            serde_json::json!(""),
            serde_json::json!("ø".repeat(10_000)),
            serde_json::json!("9643385310"),
            serde_json::json!("96433853\u{0}1"),
            serde_json::json!([1, [2, [3]]]),
            serde_json::json!({"type": "organization"}),
            serde_json::json!({"name": "send", "properties": []}),
        ]
    };
    if let Some(obj) = v.as_object_mut() {
        let keys: Vec<String> = obj.keys().cloned().collect();
        if keys.is_empty() {
            return;
        }
        let k = &keys[rng.random_range(0..keys.len())];
        match rng.random_range(0..4) {
            0 => {
                obj.remove(k);
            }
            1 if depth < 3 => {
                if let Some(inner) = obj.get_mut(k) {
                    mangle(rng, inner, depth + 1);
                }
            }
            _ => {
                let r = replacements();
                obj.insert(k.clone(), r[rng.random_range(0..r.len())].clone());
            }
        }
    }
}

/// An AuthZEN evaluation request for the route to BAD.
fn evaluation_of_bad() -> serde_json::Value {
    serde_json::json!({
        "subject": {"type": "organization", "id": SENDER},
        "action": {"name": "send", "properties": {"message_type": "bekymringsmelding"}},
        "resource": {"type": "organization", "id": BAD}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mangled_requests_get_a_400_naming_a_field_never_a_500() {
    use rand::SeedableRng as _;
    let w = daemon_world(&[&route("bekymringsmelding", BAD)]);
    let d = Daemon::start(overrides(&w)).unwrap();
    d.sweep_once().await.unwrap();
    let app = reachcheck::api::router(Arc::clone(d.shared()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let c = reqwest::Client::new();
    let valid = evaluation_of_bad();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let (mut ok, mut refused) = (0, 0);
    for i in 0..300 {
        let mut body = valid.clone();
        for _ in 0..(1 + i % 3) {
            mangle(&mut rng, &mut body, 0);
        }
        let path = if i % 2 == 0 {
            "/access/v1/evaluation".to_owned()
        } else {
            body = serde_json::json!({"evaluations": [valid.clone(), body]});
            "/access/v1/evaluations".to_owned()
        };
        let r = c
            .post(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let answer: serde_json::Value = r.json().await.unwrap();
        match status {
            200 => ok += 1,
            400 => {
                refused += 1;
                assert!(
                    answer["field"].as_str().is_some_and(|f| !f.is_empty()),
                    "{body} -> {answer}"
                );
            }
            other => panic!("{other} for {body}: {answer}"),
        }
    }
    assert!(
        refused > 200,
        "most mangled requests are refused ({ok} answered)"
    );
    // Bodies that are not JSON at all.
    for raw in ["", "{", "null", "[]", "\u{feff}{}", "{\"subject\":"] {
        let r = c
            .post(format!("{base}/access/v1/evaluation"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{raw:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_that_grows_too_old_is_alerted_once_not_after_every_sweep() {
    let w = daemon_world(&[&route("bekymringsmelding", GOOD)]);
    let config = w.path().join("reachcheck.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    // The world's evidence is an hour old at `now`: older than a 30-minute limit.
    std::fs::write(
        &config,
        text.replace("[daemon]\n", "[daemon]\nmax_sweep_age = \"30m\"\n"),
    )
    .unwrap();
    let d = Daemon::start(overrides(&w)).unwrap();
    d.sweep_once().await.unwrap();
    let kinds = |alerts: Vec<reachcheck::alerts::Alert>| -> Vec<&'static str> {
        alerts.iter().map(|a| a.kind()).collect()
    };
    assert_eq!(kinds(d.housekeeping().await), ["stale_evidence"]);
    d.sweep_once().await.unwrap();
    assert!(
        kinds(d.housekeeping().await).is_empty(),
        "still stale: said already"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_rows_the_store_refuses_are_kept_and_written_when_it_accepts_them() {
    let w = daemon_world(&[&route("bekymringsmelding", BAD)]);
    let d = Arc::new(Daemon::start(overrides(&w)).unwrap());
    d.sweep_once().await.unwrap();
    // Another connection makes every audit insert fail, as a write lock held past the busy
    // timeout (a long sweep) or a full disk would.
    let db = w.path().join("store.db");
    let other = rusqlite::Connection::open(&db).unwrap();
    other
        .execute_batch(
            "CREATE TRIGGER hold BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'held'); END;",
        )
        .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let task = tokio::spawn(run(Arc::clone(&d), Some(listener), stop.clone(), false));
    let c = reqwest::Client::new();
    let body = evaluation_of_bad();
    for _ in 0..20 {
        let r = c
            .post(format!("{base}/access/v1/evaluation"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "checks are answered while the audit waits");
    }
    // Past the writer's flush and first retries: nothing could be written.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let count = || Store::open(&db).unwrap().audit_count().unwrap();
    assert_eq!(count(), 0);

    // The store accepts rows again: every one of the twenty arrives, once.
    other.execute_batch("DROP TRIGGER hold;").unwrap();
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while count() < 20 && std::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count(), 20);
    stop.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(count(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_this_version_cannot_read_are_replaced_or_resolved_not_trusted() {
    // A store written by another version (or edited by hand, the daemon stopped): a current
    // verdict with an evidence tier this version does not know, an open finding with a code
    // it does not know. (A running daemon keeps what its last sweep wrote for the next one:
    // rows changed under it without a sweep are read on its next start.)
    let w = daemon_world(&[
        &route("bekymringsmelding", BAD),
        &route("bekymringsmelding", GOOD),
    ]);
    let d = Daemon::start(overrides(&w)).unwrap();
    d.sweep_once().await.unwrap();
    drop(d);
    let db = w.path().join("store.db");
    let c = rusqlite::Connection::open(&db).unwrap();
    let good: i64 = c
        .query_row(
            "SELECT id FROM routes WHERE recipient = ?1",
            [GOOD.parse::<i64>().unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    c.execute(
        "UPDATE verdicts SET tier = 'hearsay' WHERE route_id = ?1 AND until IS NULL",
        [good],
    )
    .unwrap();
    c.execute(
        "INSERT INTO findings (route_id, code, severity, state, first_seen_at, first_sweep, last_seen_at, last_sweep, detail)
         VALUES (?1, 'from_the_future', 'warning', 'open', '2026-11-21T06:00:00Z', 1, '2026-11-21T06:00:00Z', 1, '{}')",
        [good],
    )
    .unwrap();
    let stray = c.last_insert_rowid();

    let d = Daemon::start(overrides(&w)).unwrap();
    let s = d.sweep_once().await.unwrap();
    // The unreadable row is replaced by what this sweep judged; nothing else changed.
    assert_eq!(s.outcome.changed, 1);
    let (tier, rows): (String, i64) = c
        .query_row(
            "SELECT (SELECT tier FROM verdicts WHERE route_id = ?1 AND until IS NULL),
                    (SELECT count(*) FROM verdicts WHERE route_id = ?1)",
            [good],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((tier.as_str(), rows), ("connections", 2));
    // The unknown finding is no longer open, with an event saying so; it is not reported as a
    // change (nobody could say what it was).
    let (state, events): (String, i64) = c
        .query_row(
            "SELECT state, (SELECT count(*) FROM finding_events WHERE finding_id = ?1) FROM findings WHERE id = ?1",
            [stray],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((state.as_str(), events), ("resolved", 1));
    assert!(s.outcome.changes.is_empty(), "{:?}", s.outcome.changes);
    // And the next sweep is quiet again.
    let s = d.sweep_once().await.unwrap();
    assert_eq!(s.outcome.changed, 0);
    assert!(s.outcome.changes.is_empty());
}
