//! Push-to-alert latency of Altinn Events (issue 16): from `altinn-sim` pushing
//! `…correspondencereceiverneverread` for a message to the daemon's webhook, to the
//! `messages_at_risk` alert naming that message reaching an alert receiver, on loopback.
//!
//! Target: p99 ≤ 1 s, with the alerts' grouping window (`outcomes.alert_window`) stated,
//! since every alert waits for its window to close before it leaves.
//!
//! How: `altinn-sim` serves the demo for the police district 310000019, whose recipients
//! never read (`--reading default=never`), with `--allow-http-webhooks`; `reachcheck serve`
//! runs as its own process with `[events]` on a port picked beforehand, polling only hourly
//! (so only events can raise an alert); `reachcheck subscribe` subscribes it. The bench
//! publishes ROUNDS × PER_ROUND concern reports to the district's recipients, each round a
//! minute after the previous one and due when the type's 24 hours are up, then moves the
//! stand-in's clock to each round's due time in turn, PAUSE_MS apart: each step makes the
//! stand-in push PER_ROUND never-read events, which the daemon re-fetches, finds unread
//! past the deadline and alerts. The push time of each event is the stand-in's first
//! attempt (`/_sim/events`, wall clock); the alert time is when the receiver here got it.
//!
//! Every re-fetch goes through the daemon's HTTP discipline, so a burst larger than
//! `live.rate_per_second` (10 by default) waits for its turn: the publications' own events
//! are all re-fetched before the clock moves, and each round stays within the rate.
//!
//! Run with `cargo bench --bench events` (about a minute). Options through the
//! environment: `ROUNDS` (50), `PER_ROUND` (4), `PAUSE_MS` (400), `WINDOW_MS` (50, the
//! grouping window), `RATE` (10, `live.rate_per_second`), `SERVER_LOG` (`warn`).

mod common;

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Percentiles, env_or, human, listing, load_average, root};
use serde_json::{Value, json};

const SENDER: &str = "310000019";
const TOKEN: &str = "bench-token-0123456789abcdef";

/// A plain HTTP/1.0 request without a client library; the body of the answer.
fn http(base: &str, method: &str, path: &str, body: Option<&Value>) -> String {
    let addr = base.trim_start_matches("http://");
    let Ok(mut s) = TcpStream::connect(addr) else {
        return String::new();
    };
    let text = body.map(Value::to_string).unwrap_or_default();
    let _ = write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
        text.len()
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

fn json_of(base: &str, path: &str) -> Value {
    serde_json::from_str(&http(base, "GET", path, None)).unwrap_or(Value::Null)
}

fn first_line(child: &mut Child) -> String {
    let mut line = String::new();
    let out = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    BufReader::new(out)
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("{e}"));
    line.trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_owned()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let begun = Instant::now();
    while !f() {
        assert!(begun.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn main() {
    if listing() {
        return;
    }
    let rounds = env_or("ROUNDS", 50) as usize;
    let per_round = env_or("PER_ROUND", 4) as usize;
    let pause = Duration::from_millis(env_or("PAUSE_MS", 400));
    let window = env_or("WINDOW_MS", 50);
    let rate = env_or("RATE", 10);
    let log = std::env::var("SERVER_LOG").unwrap_or_else(|_| "warn".to_owned());
    let root = root();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = dir.path().join("sim.toml");

    let mut sim = Command::new(env!("CARGO_BIN_EXE_altinn-sim"))
        .current_dir(&root)
        .args([
            "--snapshot",
            "examples/demo/snapshot",
            "--policies",
            "policies",
            "--listen",
            "127.0.0.1:0",
            "--client-org",
            SENDER,
            "--reading",
            "default=never",
            "--allow-http-webhooks",
            "--clock",
            "2026-11-21T06:00:00Z",
        ])
        .arg("--write-config")
        .arg(&config)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("altinn-sim: {e}"));
    let sim_base = first_line(&mut sim);
    let _sim = Killed(sim);

    // The alert receiver: when each message's alert arrived.
    let alerted: Arc<Mutex<HashMap<String, jiff::Timestamp>>> = Arc::default();
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let alerts_url = {
        let keep = Arc::clone(&alerted);
        let app = axum::Router::new().route(
            "/alerts",
            axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
                let keep = Arc::clone(&keep);
                async move {
                    let at = jiff::Timestamp::now();
                    if v["kind"] == "messages_at_risk" {
                        let mut k = keep.lock().unwrap_or_else(|e| e.into_inner());
                        for m in v["messages"].as_array().into_iter().flatten() {
                            if let Some(id) = m["id"].as_str() {
                                k.entry(id.to_owned()).or_insert(at);
                            }
                        }
                    }
                    "ok"
                }
            }),
        );
        let l = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap_or_else(|e| panic!("{e}"));
        let url = format!(
            "http://{}/alerts",
            l.local_addr().unwrap_or_else(|e| panic!("{e}"))
        );
        runtime.spawn(async move { axum::serve(l, app).await });
        url
    };

    // The daemon's port, picked now so that the subscription can name it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("{e}"))
        .port();
    let daemon_base = format!("http://127.0.0.1:{port}");
    let text = std::fs::read_to_string(&config).unwrap_or_else(|e| panic!("{e}"));
    let text = text.replacen(
        "[live]\n",
        &format!("[live]\nrate_per_second = {rate}\n"),
        1,
    );
    let text = text.replacen(
        "[outcomes]\nenabled = true\n",
        &format!(
            "[outcomes]\nenabled = true\nclock_url = \"{sim_base}/_sim/clock\"\ninterval = \"1h\"\nalert_window = \"{window}ms\"\n"
        ),
        1,
    ) + &format!(
        "\n[events]\npublic_url = \"{daemon_base}/altinn/events\"\n\n[alerts]\nwebhook_url = \"{alerts_url}\"\nallow_http = true\n\n[daemon]\nstore = \"store.db\"\nlisten = \"127.0.0.1:{port}\"\ninterval = \"1h\"\n"
    );
    std::fs::write(&config, text).unwrap_or_else(|e| panic!("{e}"));
    // The district's concern-report routes of the demo (a sweep of them all is not the
    // point here).
    let demo = std::fs::read_to_string(root.join("examples/demo/routes.csv"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mine: Vec<&str> = demo
        .lines()
        .filter(|l| l.starts_with(&format!("{SENDER},bekymringsmelding,")))
        .collect();
    let routes = dir.path().join("routes.csv");
    std::fs::write(
        &routes,
        format!("sender,message_type,recipient\n{}\n", mine.join("\n")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut serve = Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .current_dir(dir.path())
        .env("REACHCHECK_API_TOKENS", format!("bench:{TOKEN}"))
        .env("REACHCHECK_LOG", &log)
        .args(["serve", "--config"])
        .arg(&config)
        .arg("--routes")
        .arg(&routes)
        .arg("--policies")
        .arg(root.join("policies"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("reachcheck serve: {e}"));
    let _ = first_line(&mut serve);
    let serve = Killed(serve);
    wait_until("the first sweep", Duration::from_secs(120), || {
        json_of(&daemon_base, "/v1/sweeps")["sweeps"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["status"] != "running"))
    });
    let o = Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .current_dir(dir.path())
        .args(["subscribe", "--config"])
        .arg(&config)
        .arg("--policies")
        .arg(root.join("policies"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    wait_until(
        "every subscription validated",
        Duration::from_secs(10),
        || {
            let log = json_of(&sim_base, "/_sim/events");
            log.as_array()
                .is_some_and(|l| !l.is_empty() && l.iter().all(|d| d["status"] == "delivered"))
        },
    );

    // The district's recipients of concern reports.
    let recipients: Vec<&str> = mine.iter().filter_map(|l| l.split(',').nth(2)).collect();
    assert!(!recipients.is_empty());
    let now: jiff::Timestamp = json_of(&sim_base, "/_sim/clock")["now"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no clock"));
    let mut dues = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    for r in 0..rounds {
        // Each round is published a minute after the last, due when its 24 hours are up:
        // moving the clock to a round's due time passes that round's deadline and no later
        // one's.
        let published = now + jiff::SignedDuration::from_mins(r as i64);
        let _ = http(
            &sim_base,
            "POST",
            "/_sim/clock",
            Some(&json!({"set": published.to_string()})),
        );
        let due = published + jiff::SignedDuration::from_hours(24);
        dues.push(due);
        let to: Vec<String> = (0..per_round)
            .map(|i| {
                format!(
                    "0192:{}",
                    recipients[(r * per_round + i) % recipients.len()]
                )
            })
            .collect();
        // One request per recipient: a request's recipients must be unique.
        for t in to {
            let body = json!({
                "correspondence": {"resourceId": "politi-bekymringsmelding",
                    "sendersReference": format!("bench {r}"), "dueDateTime": due.to_string(),
                    "content": {"messageTitle": "Bekymringsmelding"}},
                "recipients": [t]
            });
            let answer: Value = serde_json::from_str(&http(
                &sim_base,
                "POST",
                "/_sim/correspondence",
                Some(&body),
            ))
            .unwrap_or(Value::Null);
            let id = answer["correspondences"][0]["correspondenceId"]
                .as_str()
                .unwrap_or_else(|| panic!("not published: {answer}"))
                .to_owned();
            ids.push(id);
        }
    }
    let total = ids.len();
    wait_until("every publication pushed", Duration::from_secs(30), || {
        let log = json_of(&sim_base, "/_sim/events");
        log.as_array().is_some_and(|l| {
            l.iter()
                .filter(|d| {
                    d["type"] == "no.altinn.correspondence.correspondencepublished"
                        && d["status"] == "delivered"
                })
                .count()
                == total
        })
    });
    // Every publication re-fetched (at `live.rate_per_second`) before the clock moves.
    wait_until(
        "every publication re-fetched",
        Duration::from_secs(120),
        || {
            let m = http(&daemon_base, "GET", "/metrics", None);
            m.lines()
                .find_map(|l| {
                    l.strip_prefix("reachcheck_event_push_to_store_seconds_count ")?
                        .parse::<f64>()
                        .ok()
                })
                .is_some_and(|n| n >= total as f64)
        },
    );
    std::thread::sleep(Duration::from_secs(1));

    println!(
        "push-to-alert latency through altinn-sim: {total} never-read events in {rounds} rounds of {per_round}, {} ms apart; grouping window {window} ms; live.rate_per_second {rate}; load {}",
        pause.as_millis(),
        load_average()
    );
    let begun = Instant::now();
    for due in &dues {
        let _ = http(
            &sim_base,
            "POST",
            "/_sim/clock",
            Some(&json!({"set": due.to_string()})),
        );
        std::thread::sleep(pause);
    }
    wait_until("every alert", Duration::from_secs(30), || {
        alerted.lock().unwrap_or_else(|e| e.into_inner()).len() >= total
    });
    let wall = begun.elapsed();
    let log = json_of(&sim_base, "/_sim/events");
    let pushed: HashMap<String, i64> = log
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["type"] == "no.altinn.correspondence.correspondencereceiverneverread")
        .filter_map(|d| {
            Some((
                d["resourceinstance"].as_str()?.to_owned(),
                d["first_sent_us"].as_i64()?,
            ))
        })
        .collect();
    let alerted = alerted.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut ns: Vec<u64> = ids
        .iter()
        .filter_map(|id| {
            let sent = pushed.get(id)?;
            let at = alerted.get(id)?;
            Some(((at.as_microsecond() - sent).max(0) as u64) * 1000)
        })
        .collect();
    assert_eq!(ns.len(), total, "every message pushed and alerted");
    let p = Percentiles::of(&mut ns);
    println!(
        "push -> alert delivered (window {window} ms included): n {}  p50 {}  p99 {}  max {}  mean {}  (wall {:.1} s)",
        p.n,
        human(p.p50),
        human(p.p99),
        human(p.max),
        human(p.mean as u64),
        wall.as_secs_f64()
    );
    let metrics = http(&daemon_base, "GET", "/metrics", None);
    for l in metrics.lines().filter(|l| {
        l.starts_with("reachcheck_event_push_to_alert_seconds_count")
            || l.starts_with("reachcheck_event_push_to_alert_seconds_sum")
            || l.starts_with("reachcheck_events_accepted_total")
            || l.starts_with("reachcheck_events_refetch_failures_total")
    }) {
        println!("daemon: {l}");
    }
    println!(
        "target p99 <= 1 s: {}",
        if p.p99 <= 1_000_000_000 {
            "met"
        } else {
            "NOT met"
        }
    );
    drop(serve);
}
