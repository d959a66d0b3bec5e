//! Live sweep of the demo through `altinn-sim`, as two processes: the stand-in answering
//! with 50 ms latency and at most 20 requests per second, and `reachcheck check` configured
//! for the same 20 per second.
//!
//! Targets (issue 3): wall time within 10 % of (requests ÷ 20 per second) — the rate limit
//! is the only bottleneck — and at most 4 requests per unit per sweep, tokens included.
//!
//! Run with `cargo bench --bench live_sweep` (about 80 seconds). Options through the
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
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&config)
        .unwrap_or_else(|e| panic!("{e}"));
    writeln!(f, "rate_per_second = {rate}\nconcurrency = 8").unwrap_or_else(|e| panic!("{e}"));

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
    println!(
        "{:>5} {:>9} {:>9} {:>9} {:>7} {:>12} {:>8}",
        "sweep", "requests", "wall s", "ideal s", "ratio", "req/unit", "429s"
    );
    let mut before = 0u64;
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
        let total: u64 = counts
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| k.as_str() != "rate_limited")
                    .filter_map(|(_, v)| v.as_u64())
                    .sum()
            })
            .unwrap_or(0);
        let limited = counts["rate_limited"].as_u64().unwrap_or(0);
        let made = total - before;
        before = total;
        let ideal = made as f64 / rate as f64;
        // Per unit of the routing table (its main units are extra units, so this is an
        // upper bound of requests per unit).
        let per_unit = made as f64 / recipients.len() as f64;
        println!(
            "{sweep:>5} {made:>9} {wall:>9.1} {ideal:>9.1} {:>7.3} {per_unit:>12.2} {limited:>8}",
            wall / ideal
        );
        println!("  by endpoint: {counts}");
    }
    let _ = sim.kill();
    let _ = sim.wait();
}
