//! Live sweep of the demo through `altinn-sim`, as two processes: the stand-in answering
//! with 50 ms latency and at most 20 requests per second, and `reachcheck check` configured
//! for the same 20 per second, as the police's client (`--client-org 310000019`, owner of
//! the demo's resources) on Altinn's real access model: a Maskinporten token per
//! organisation that approved reachcheck's system user, exchanged for an Altinn token.
//!
//! Each sweep is a fresh `reachcheck check`, so it starts with no token, as every sweep of
//! the daemon does at its default interval (an hour) with the real lifetimes (Maskinporten
//! 120 s, Altinn 30 min): tokens are fetched once per organisation per sweep.
//!
//! Reported per recipient of the routing table: token calls (grant and exchange), fixed calls
//! (Enhetsregisteret, authorized parties, connections, and the registry's calls per resource
//! shared out) and rights calls (one per resource delegation, rule 10). Targets (issue 12):
//! fixed calls plus tokens at most 6 per recipient, and wall time within 1.10 times the
//! rate-limit bound (requests ÷ 20 per second).
//!
//! Run with `cargo bench --bench live_sweep` (about two minutes). Options through the
//! environment: `LATENCY_MS` (50), `RATE` (20), `SWEEPS` (1).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A plain HTTP/1.0 GET (the stand-in's counters), without a client library.
fn http_get(base: &str, path: &str) -> String {
    let addr = base.trim_start_matches("http://");
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and test harness probes
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let latency = env_or("LATENCY_MS", 50);
    let rate = env_or("RATE", 20);
    let sweeps = env_or("SWEEPS", 1);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = dir.path().join("sim.toml");

    let mut sim = Command::new(env!("CARGO_BIN_EXE_altinn-sim"))
        .args([
            "--snapshot",
            "examples/demo/snapshot",
            "--policies",
            "policies",
            "--listen",
            "127.0.0.1:0",
            "--client-org",
            "310000019",
        ])
        .arg("--write-config")
        .arg(&config)
        .args([
            "--latency-ms",
            &latency.to_string(),
            "--rate-limit",
            &rate.to_string(),
        ])
        .current_dir(&root)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("altinn-sim: {e}"));
    let mut first = String::new();
    let stdout = sim.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    BufReader::new(stdout)
        .read_line(&mut first)
        .unwrap_or_else(|e| panic!("{e}"));
    let base = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    let text = std::fs::read_to_string(&config).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        &config,
        text.replacen(
            "[live]\n",
            &format!("[live]\nrate_per_second = {rate}\nconcurrency = 8\n"),
            1,
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let routes = std::fs::read_to_string(root.join("examples/demo/routes.csv"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut recipients: Vec<&str> = routes
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("sender") && !l.trim().is_empty())
        .filter_map(|l| l.split(',').nth(2))
        .collect();
    recipients.sort_unstable();
    recipients.dedup();

    println!("live sweep of the demo through altinn-sim: latency {latency} ms, limit {rate}/s");
    println!("{} recipients in the routing table", recipients.len());
    println!(
        "{:>5} {:>9} {:>8} {:>8} {:>7} {:>8} {:>8} {:>8} {:>10} {:>6}",
        "sweep",
        "requests",
        "wall s",
        "ideal s",
        "ratio",
        "tokens",
        "fixed",
        "rights",
        "fixed+tok",
        "429s"
    );
    let mut before = serde_json::Map::new();
    for sweep in 1..=sweeps {
        let started = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_reachcheck"))
            .args(["check", "--config"])
            .arg(&config)
            .args([
                "--policies",
                "policies",
                "--routes",
                "examples/demo/routes.csv",
                "--format",
                "csv",
            ])
            .current_dir(&root)
            .stdout(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("reachcheck: {e}"));
        let wall = started.elapsed().as_secs_f64();
        assert!(
            matches!(status.code(), Some(0 | 1)),
            "check failed: {status}"
        );
        let counts: serde_json::Value =
            serde_json::from_str(&http_get(&base, "/_sim/requests")).unwrap_or_default();
        let now = counts.as_object().cloned().unwrap_or_default();
        // This sweep's requests by endpoint.
        let made = |e: &str| {
            now.get(e).and_then(serde_json::Value::as_u64).unwrap_or(0)
                - before
                    .get(e)
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0)
        };
        let endpoints: Vec<&String> = now
            .keys()
            .filter(|k| k.as_str() != "rate_limited")
            .collect();
        let total: u64 = endpoints.iter().map(|e| made(e)).sum();
        let tokens = made("maskinporten/token") + made("altinn/exchange");
        let rights = made("altinn/resourcerights");
        let fixed = total - tokens - rights;
        let limited = made("rate_limited");
        let by_endpoint: Vec<String> = endpoints
            .iter()
            .map(|e| format!("{e} {}", made(e)))
            .filter(|s| !s.ends_with(" 0"))
            .collect();
        before = now;
        let ideal = total as f64 / rate as f64;
        let n = recipients.len() as f64;
        let per = |x: u64| x as f64 / n;
        println!(
            "{sweep:>5} {total:>9} {wall:>8.1} {ideal:>8.1} {:>7.3} {:>8.2} {:>8.2} {:>8.2} {:>10.2} {limited:>6}",
            wall / ideal,
            per(tokens),
            per(fixed),
            per(rights),
            per(fixed + tokens),
        );
        println!("  by endpoint: {}", by_endpoint.join(", "));
        println!(
            "  targets: fixed+tokens per recipient <= 6: {}; wall <= 1.10 x ideal: {}",
            if per(fixed + tokens) <= 6.0 {
                "met"
            } else {
                "MISSED"
            },
            if wall / ideal <= 1.10 {
                "met"
            } else {
                "MISSED"
            },
        );
    }
    let _ = sim.kill();
    let _ = sim.wait();
}
