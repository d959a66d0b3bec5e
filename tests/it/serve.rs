//! `reachcheck serve` as a process: the HTTP API over a temp store on port 0 (answers equal
//! to `check` and `precheck`, tokens, bad requests, metrics, findings), SIGHUP with a broken
//! policy, SIGTERM, and SIGKILL in the middle of a sweep followed by a restart.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reachcheck::store::{Store, SweepStatus};
use serde_json::{Value, json};

use crate::daemon::TOKEN;
use crate::fixture::{Proc, altinn_sim, start};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Starts `reachcheck serve` in `dir` on a free loopback port with `args`.
fn serve_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reachcheck"));
    cmd.current_dir(dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("REACHCHECK_API_TOKENS", format!("tests:{TOKEN}"))
        .env("REACHCHECK_LOG", "info")
        .env("NO_COLOR", "1");
    cmd
}

fn serve(dir: &Path, args: &[&str], log: PathBuf) -> Proc {
    start(serve_cmd(dir, args), log)
}

/// [`serve`] allowed to sweep more often than the minimum (the test-only override).
fn serve_fast(dir: &Path, args: &[&str], log: PathBuf) -> Proc {
    let mut cmd = serve_cmd(dir, args);
    cmd.env(reachcheck::daemon::SHORT_INTERVAL_ENV, "1");
    start(cmd, log)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn wait_ready(c: &reqwest::Client, base: &str, within: Duration) -> Value {
    let until = Instant::now() + within;
    loop {
        if let Ok(r) = c.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return r.json().await.unwrap();
        }
        assert!(Instant::now() < until, "not ready within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn eval_body(sender: &str, t: &str, recipient: &str) -> Value {
    json!({"subject": {"type": "organization", "id": sender},
           "action": {"name": "send", "properties": {"message_type": t}},
           "resource": {"type": "organization", "id": recipient}})
}

async fn post(c: &reqwest::Client, base: &str, path: &str, body: &Value) -> (u16, Value) {
    let r = c
        .post(format!("{base}{path}"))
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Every route of the demo, as `check --format json` judges them.
fn demo_check() -> Vec<Value> {
    let o = Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .current_dir(root())
        .args(["check", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["routes"].as_array().unwrap().clone()
}

/// The demo's routes as one AuthZEN batch, each route an evaluation.
fn batch(routes: &[Value]) -> Value {
    let evaluations: Vec<Value> = routes
        .iter()
        .map(|r| {
            eval_body(
                r["sender"].as_str().unwrap(),
                r["message_type"].as_str().unwrap(),
                r["recipient"].as_str().unwrap(),
            )
        })
        .collect();
    json!({ "evaluations": evaluations })
}

fn assert_same_answers(routes: &[Value], got: &Value) {
    let got = got["evaluations"].as_array().unwrap();
    assert_eq!(got.len(), routes.len());
    // The units the live sweep found unapproved (named on routes that are not readable).
    let unapproved: Vec<&Value> = got
        .iter()
        .flat_map(|e| e["context"]["findings"].as_array().unwrap())
        .filter(|f| f["code"] == "not_authorized")
        .map(|f| &f["unit"])
        .collect();
    let mut mismatches = Vec::new();
    for (want, got) in routes.iter().zip(got) {
        // Live sources also say which units have not approved reachcheck's system user;
        // a recorded snapshot cannot. Without that approval the live sweep has no token to
        // read the unit's notification addresses with, which the snapshot holds.
        let unapproved = unapproved.contains(&&want["recipient"]);
        let codes = |v: &Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .filter(|f| {
                    f["code"] != "not_authorized"
                        && !(unapproved
                            && ["notification_unverified", "no_notification_address"]
                                .contains(&f["code"].as_str().unwrap()))
                })
                .map(|f| f["code"].as_str().unwrap().to_owned())
                .collect()
        };
        if got["context"]["verdict"] != want["verdict"]
            || got["context"]["readers"] != want["readers"]
            || codes(&got["context"]["findings"]) != codes(&want["findings"])
            || got["decision"] != json!(want["verdict"] == "readable")
        {
            mismatches.push(format!("{want}\n  vs {got}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} routes differ, e.g. {}",
        mismatches.len(),
        mismatches[0]
    );
}

/// A directory with a private copy of the policies and a config naming the demo.
fn demo_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    for e in std::fs::read_dir(root().join("policies")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), policies.join(e.file_name())).unwrap();
    }
    let demo = root().join("examples/demo");
    std::fs::write(
        dir.path().join("reachcheck.toml"),
        format!(
            "policies = \"policies\"\nroutes = {:?}\nsnapshot = {:?}\nnow = \"2026-11-21T06:00:00Z\"\n\n[daemon]\nstore = \"store.db\"\n",
            demo.join("routes.csv").display().to_string(),
            demo.join("snapshot").display().to_string()
        ),
    )
    .unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_like_check_and_precheck_holds_auth_and_reloads_safely() {
    let dir = demo_dir();
    let mut p = serve(dir.path(), &[], dir.path().join("serve.log"));
    let c = client();
    let ready = wait_ready(&c, &p.base, Duration::from_secs(60)).await;
    assert_eq!(ready["sweep_id"], 1, "{ready}");
    // Regression (issue 18): the line about a new store said "until the first".
    assert!(
        p.log()
            .contains("the store has no sweep yet: checks are unknown until the first sweep ends"),
        "{}",
        p.log()
    );

    // Every demo route, in one batch, answered as `check` judges it.
    let routes = demo_check();
    let (status, got) = post(&c, &p.base, "/access/v1/evaluations", &batch(&routes)).await;
    assert_eq!(status, 200, "{got}");
    assert_same_answers(&routes, &got);

    // A few single checks against `precheck` itself.
    let mut checks = routes.len();
    for r in routes.iter().step_by(97) {
        let (s, t, rcp) = (
            r["sender"].as_str().unwrap(),
            r["message_type"].as_str().unwrap(),
            r["recipient"].as_str().unwrap(),
        );
        let o = Command::new(env!("CARGO_BIN_EXE_reachcheck"))
            .current_dir(root())
            .args(["precheck", "--format", "json", "--sender", s])
            .args(["--message-type", t, "--recipient", rcp])
            .output()
            .unwrap();
        let pre: Value = serde_json::from_slice(&o.stdout).unwrap();
        let pre = &pre["routes"][0];
        let (status, one) = post(&c, &p.base, "/access/v1/evaluation", &eval_body(s, t, rcp)).await;
        checks += 1;
        assert_eq!(status, 200);
        assert_eq!(one["context"]["verdict"], pre["verdict"], "{s} {t} {rcp}");
        assert_eq!(one["context"]["readers"], pre["readers"]);
        assert_eq!(one["decision"], json!(pre["verdict"] == "readable"));
        assert_eq!(
            o.status.code(),
            Some(if one["decision"] == true { 0 } else { 1 })
        );
        if one["decision"] == false {
            assert!(one["context"]["fallback"].is_string(), "{one}");
        }
        assert_eq!(one["context"]["data_age_seconds"], 3600);
    }

    // No token, a wrong token: 401 on everything but health.
    let body = eval_body("310000019", "bekymringsmelding", "964338531");
    for path in ["/access/v1/evaluation", "/access/v1/evaluations"] {
        let r = c
            .post(format!("{}{path}", p.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        let r = c
            .post(format!("{}{path}", p.base))
            .bearer_auth("0123456789abcdef-wrong-token")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    for path in ["/metrics", "/v1/findings", "/v1/sweeps", "/v1/suppressions"] {
        let r = c.get(format!("{}{path}", p.base)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    for path in ["/healthz", "/readyz"] {
        let r = c.get(format!("{}{path}", p.base)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    // The demo pins `now`: /readyz says so, beside an age measured against it.
    let ready: Value = c
        .get(format!("{}/readyz", p.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["pinned_now"], "2026-11-21T06:00:00Z", "{ready}");
    assert!(
        ready["note"].as_str().unwrap().contains("pinned"),
        "{ready}"
    );

    // Bad requests: 400 naming the field, never a 500.
    let bad = |mutate: &dyn Fn(&mut Value), field: &str| {
        let mut b = body.clone();
        mutate(&mut b);
        (b, field.to_owned())
    };
    let cases = [
        bad(&|b| b["subject"]["id"] = json!("12345"), "subject.id"),
        bad(&|b| b["subject"]["type"] = json!("user"), "subject.type"),
        bad(&|b| b["resource"]["id"] = json!(964338531), "resource.id"),
        bad(&|b| b["action"]["name"] = json!("read"), "action.name"),
        bad(
            &|b| b["action"]["properties"]["message_type"] = json!("no-such-type"),
            "action.properties.message_type",
        ),
        bad(
            &|b| {
                b.as_object_mut().unwrap().remove("action");
            },
            "action",
        ),
        bad(&|b| *b = json!([1, 2]), "body"),
    ];
    for (b, field) in cases {
        let (status, e) = post(&c, &p.base, "/access/v1/evaluation", &b).await;
        assert_eq!(status, 400, "{b}");
        assert_eq!(e["field"], field.as_str(), "{e}");
        assert!(e["error"].as_str().is_some_and(|s| !s.is_empty()));
    }
    let r = c
        .post(format!("{}/access/v1/evaluation", p.base))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json; charset=utf-8")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A body that does not say it is JSON is refused before it is read: 415, named.
    let good = serde_json::to_string(&batch(&routes[..1])["evaluations"][0]).unwrap();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut req = c
            .post(format!("{}/access/v1/evaluation", p.base))
            .bearer_auth(TOKEN)
            .body(good.clone());
        if let Some(t) = content_type {
            req = req.header("content-type", t);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 415, "{content_type:?}");
        let e: serde_json::Value = r.json().await.unwrap();
        assert!(
            e["error"]
                .as_str()
                .is_some_and(|m| m.contains("Content-Type")),
            "{e}"
        );
    }
    // The same body as structured JSON is answered.
    let r = c
        .post(format!("{}/access/v1/evaluation", p.base))
        .bearer_auth(TOKEN)
        .header("content-type", "application/authzen+json")
        .body(good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    checks += 1;
    let mut items = batch(&routes[..3]);
    items["evaluations"][2]["resource"]["id"] = json!("999");
    let (status, e) = post(&c, &p.base, "/access/v1/evaluations", &items).await;
    assert_eq!(
        (status, e["field"].as_str()),
        (400, Some("evaluations[2].resource.id"))
    );
    // The batch form inherits what an evaluation leaves out.
    let (status, inherited) = post(
        &c,
        &p.base,
        "/access/v1/evaluations",
        &json!({"subject": body["subject"], "action": body["action"],
                "evaluations": [{"resource": body["resource"]}, {"resource": {"type": "organization", "id": "958935420"}}]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(inherited["evaluations"].as_array().unwrap().len(), 2);
    checks += 2;

    // Metrics and findings.
    let m = crate::fixture::metrics(&p.base).await;
    let summary = |v: &str| routes.iter().filter(|r| r["verdict"] == v).count();
    for line in [
        format!(
            "reachcheck_routes{{verdict=\"readable\"}} {}",
            summary("readable")
        ),
        format!(
            "reachcheck_routes{{verdict=\"not_readable\"}} {}",
            summary("not_readable")
        ),
        "reachcheck_sweeps_total{status=\"ok\"} 1".to_owned(),
        "reachcheck_data_age_seconds 3600".to_owned(),
        // 2026-11-21T06:00:00Z, the demo's pinned `now`.
        "reachcheck_pinned_now_seconds 1795240800".to_owned(),
    ] {
        assert!(m.contains(&line), "{line} not in\n{m}");
    }
    let f: Value = c
        .get(format!(
            "{}/v1/findings?severity=critical&state=open&recipient=964338531&limit=50",
            p.base
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let found = f["findings"].as_array().unwrap();
    assert!(!found.is_empty());
    assert!(found.iter().all(|x| x["recipient"] == "964338531"
        && x["severity"] == "critical"
        && x["state"] == "open"));
    let r = c
        .get(format!("{}/v1/findings?state=gone", p.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "state");

    // SIGHUP with a broken policy: refused, logged, the old state keeps answering.
    let types = dir.path().join("policies/message-types.toml");
    let good = std::fs::read_to_string(&types).unwrap();
    std::fs::write(&types, format!("{good}\n[[message_type]]\nid = \n")).unwrap();
    p.signal(nix::sys::signal::Signal::SIGHUP);
    let until = Instant::now() + Duration::from_secs(20);
    while !p.log().contains("reload refused") {
        assert!(Instant::now() < until, "no refusal logged:\n{}", p.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(p.log().contains("message-types.toml"));
    let (status, again) = post(&c, &p.base, "/access/v1/evaluations", &batch(&routes)).await;
    assert_eq!(status, 200);
    assert_same_answers(&routes, &again);
    checks += routes.len();

    // SIGTERM: a clean stop; every check is in the audit table.
    p.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(p.wait_exit(Duration::from_secs(20)), Some(0), "{}", p.log());
    let store = Store::open(&dir.path().join("store.db")).unwrap();
    store.integrity_check().unwrap();
    assert_eq!(
        store.audit_count().unwrap(),
        checks as u64,
        "one audit row per pre-send check answered"
    );
    let log = p.log();
    for task in ["http", "scheduler", "audit-writer", "alerts", "signals"] {
        assert!(
            log.contains(&format!("task=\"{task}\"")) || log.contains(&format!("task={task}")),
            "task {task} not reported ended:\n{log}"
        );
    }
}

/// Starts `altinn-sim` over the demo; adds `extra` to the `[live]` section it writes.
fn sim(dir: &Path, name: &str, latency_ms: u32, extra: &str) -> (Proc, PathBuf) {
    let config = dir.join(format!("{name}.toml"));
    let p = altinn_sim(
        &[
            "--snapshot",
            "examples/demo/snapshot",
            "--policies",
            "policies",
            "--write-config",
            config.to_str().unwrap(),
            "--latency-ms",
            &latency_ms.to_string(),
            "--rate-limit",
            "100000",
            // The demo's answers come from a snapshot that holds notification addresses.
            "--profile-for-system-users",
            // The client is the police, who own the resources and so read their access lists.
            "--client-org",
            "310000019",
        ],
        dir.join(format!("{name}.log")),
    );
    let text = std::fs::read_to_string(&config).unwrap();
    let mut text = text.replacen("[live]\n", &format!("[live]\n{extra}"), 1);
    text.push_str(&format!(
        "\n[daemon]\nstore = {:?}\n",
        dir.join("store.db").display().to_string()
    ));
    std::fs::write(&config, text).unwrap();
    (p, config)
}

fn demo_args(config: &Path) -> Vec<String> {
    vec![
        "--config".to_owned(),
        config.display().to_string(),
        "--policies".to_owned(),
        root().join("policies").display().to_string(),
        "--routes".to_owned(),
        root()
            .join("examples/demo/routes.csv")
            .display()
            .to_string(),
    ]
}

fn sweeps(dir: &Path) -> Vec<(i64, SweepStatus)> {
    // Read-only look: SQLite allows it beside a writer (WAL).
    let c = rusqlite::Connection::open_with_flags(
        dir.join("store.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut st = c
        .prepare("SELECT id, status FROM sweeps ORDER BY id")
        .unwrap();
    st.query_map([], |r| {
        let s: String = r.get(1)?;
        Ok((
            r.get(0)?,
            match s.as_str() {
                "ok" => SweepStatus::Ok,
                "running" => SweepStatus::Running,
                "failed" => SweepStatus::Failed,
                _ => SweepStatus::Aborted,
            },
        ))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn count(dir: &Path, sql: &str) -> i64 {
    let c = rusqlite::Connection::open_with_flags(
        dir.join("store.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_in_the_middle_of_a_sweep_loses_nothing_and_a_restart_answers_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let routes = demo_check();
    // Sweep 1, whole: a fast stand-in.
    let (_fast, fast) = sim(d, "fast", 0, "rate_per_second = 2000\nconcurrency = 16\n");
    let once = Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .arg("serve")
        .args(demo_args(&fast))
        .arg("--once")
        .env("REACHCHECK_API_TOKENS", format!("tests:{TOKEN}"))
        .output()
        .unwrap();
    assert_eq!(
        once.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&once.stderr)
    );
    assert_eq!(sweeps(d), vec![(1, SweepStatus::Ok)]);
    let verdict_rows = count(d, "SELECT count(*) FROM verdicts");
    let findings = count(d, "SELECT count(*) FROM findings WHERE state = 'open'");
    assert_eq!(verdict_rows, routes.len() as i64);

    // Sweep 2 through a slow stand-in, killed with SIGKILL half-way.
    let (slow_sim, slow) = sim(d, "slow", 100, "rate_per_second = 200\nconcurrency = 4\n");
    let args: Vec<String> = demo_args(&slow);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Sweeping every second against a live source needs the test-only override.
    let mut with_interval = args.clone();
    with_interval.extend(["--interval", "1s"]);
    let refused = serve_cmd(d, &with_interval).arg("--once").output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains(
            "`daemon.interval` (`--interval`) is 1s: at least 60s against live Altinn sources"
        ),
        "{err}"
    );
    let victim = serve_fast(d, &with_interval, d.join("victim.log"));
    let c = client();
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let requests: Value = c
            .get(format!("{}/_sim/requests", slow_sim.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let n: u64 = requests
            .as_object()
            .unwrap()
            .values()
            .filter_map(Value::as_u64)
            .sum();
        if n > 200 && sweeps(d).last() == Some(&(2, SweepStatus::Running)) {
            break;
        }
        assert!(Instant::now() < until, "the second sweep never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(victim); // SIGKILL
    assert_eq!(
        sweeps(d),
        vec![(1, SweepStatus::Ok), (2, SweepStatus::Running)]
    );

    // Restart (fast stand-in, the normal interval): answers from sweep 1 at once.
    let started = Instant::now();
    let fast_args = demo_args(&fast);
    let fast_args: Vec<&str> = fast_args.iter().map(String::as_str).collect();
    let p = serve(d, &fast_args, d.join("restart.log"));
    let ready = wait_ready(&c, &p.base, Duration::from_secs(10)).await;
    let took = started.elapsed();
    assert_eq!(ready["sweep_id"], 1, "{ready}");
    assert!(took < Duration::from_secs(5), "ready after {took:?}");
    let (status, got) = post(&c, &p.base, "/access/v1/evaluations", &batch(&routes)).await;
    assert_eq!(status, 200);
    assert_same_answers(&routes, &got);

    // The store: intact, the killed sweep aborted with nothing of it kept.
    let store = Store::open(&d.join("store.db")).unwrap();
    store.integrity_check().unwrap();
    assert_eq!(
        sweeps(d),
        vec![(1, SweepStatus::Ok), (2, SweepStatus::Aborted)]
    );
    assert_eq!(count(d, "SELECT count(*) FROM verdicts"), verdict_rows);
    assert_eq!(count(d, "SELECT count(*) FROM verdicts WHERE since = 2"), 0);
    assert_eq!(
        count(d, "SELECT count(*) FROM finding_events WHERE sweep_id = 2"),
        0
    );
    assert_eq!(
        count(d, "SELECT count(*) FROM findings WHERE state = 'open'"),
        findings
    );
    drop(p);

    // And the lifecycle goes on: the next whole sweep changes nothing.
    let next = Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .arg("serve")
        .args(demo_args(&fast))
        .arg("--once")
        .env("REACHCHECK_API_TOKENS", format!("tests:{TOKEN}"))
        .output()
        .unwrap();
    assert_eq!(next.status.code(), Some(0));
    assert_eq!(sweeps(d).last(), Some(&(3, SweepStatus::Ok)));
    assert_eq!(count(d, "SELECT changed FROM sweeps WHERE id = 3"), 0);
    assert_eq!(
        count(d, "SELECT count(*) FROM finding_events WHERE sweep_id = 3"),
        0
    );
}

/// `serve` over the demo snapshot into a store in `dir`, without any API token in the
/// environment (and none in a config file: none is given).
fn serve_without_tokens(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reachcheck"));
    cmd.current_dir(dir)
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--now", "2026-11-21T06:00:00Z"])
        .arg("--snapshot")
        .arg(root().join("examples/demo/snapshot"))
        .arg("--policies")
        .arg(root().join("policies"))
        .arg("--routes")
        .arg(root().join("examples/demo/routes.csv"))
        .arg("--store")
        .arg(dir.join("store.db"))
        .env_remove("REACHCHECK_API_TOKENS")
        .env("NO_COLOR", "1");
    cmd
}

#[test]
fn serve_once_needs_no_api_token_because_it_serves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let once = serve_without_tokens(d).arg("--once").output().unwrap();
    assert_eq!(
        once.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&once.stderr)
    );
    assert_eq!(sweeps(d), vec![(1, SweepStatus::Ok)]);
    assert_eq!(
        count(d, "SELECT count(*) FROM verdicts"),
        demo_check().len() as i64
    );
    // A configured token is still checked, even with --once: a short one is refused.
    let short = serve_without_tokens(d)
        .arg("--once")
        .env("REACHCHECK_API_TOKENS", "ops:short")
        .output()
        .unwrap();
    assert_eq!(short.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("16"),
        "{}",
        String::from_utf8_lossy(&short.stderr)
    );
    // Serving still needs one: refused before anything starts, naming both ways to give one.
    let served = serve_without_tokens(d).output().unwrap();
    let err = String::from_utf8_lossy(&served.stderr);
    assert_eq!(served.status.code(), Some(2), "{err}");
    for want in [
        "no API tokens",
        "REACHCHECK_API_TOKENS",
        "daemon.api_tokens_file",
    ] {
        assert!(err.contains(want), "{want} missing: {err}");
    }
    assert!(served.stdout.is_empty());
    assert_eq!(sweeps(d).len(), 1, "the refused runs swept nothing");
}
