//! Throughput and latency of the HTTP pre-send check, `POST /access/v1/evaluation`, with
//! `reachcheck serve` as a separate process on the demo and the load generated here.
//!
//! Target (issue 4): ≥ 20,000 requests per second with p99 ≤ 5 ms, on two cores shared by
//! the server and this load generator.
//!
//! How: one sweep of the demo into a temporary store (`serve --once --store X`), then
//! `serve --store X --listen 127.0.0.1:0`, which answers from that sweep at once; once
//! `/readyz` says 200, for each connection count: that many keep-alive HTTP/1.1
//! connections (hyper's client connection, no pool), each sending one request at a time
//! (closed loop) for a random demo route from bodies serialised beforehand. A warm-up is
//! not counted. Any status but 200, any failed request and any sampled body (one in 64)
//! without a boolean `decision` is an error. The CPU time the server and this process used
//! during the measured window is read from `/proc`. The load generator is
//! `common::closed_loop`, which `ha` spreads over three instances.
//!
//! Run with `cargo bench --bench http_api` (about 40 seconds). Options through the
//! environment: `DURATION_SECS` (10, per connection count), `WARMUP_SECS` (2),
//! `CONNECTIONS` (`16,32,64`), `CLIENT_THREADS` (the load generator's tokio worker
//! threads, 1), `SERVER_LOG` (the server's `REACHCHECK_LOG`, `warn`).

mod common;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{Percentiles, TOKEN, env_list, env_or, human, listing, load_average, wait_ready};

fn serve(root: &Path, store: &Path, log: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_reachcheck"));
    c.current_dir(root)
        .env("REACHCHECK_API_TOKENS", format!("bench:{TOKEN}"))
        .env("REACHCHECK_LOG", log)
        .args(["serve", "--store"])
        .arg(store);
    c
}

/// One run at `connections` connections; prints one row.
fn run(
    rt: &tokio::runtime::Runtime,
    addr: SocketAddr,
    server_pid: u32,
    bodies: &Arc<Vec<Bytes>>,
    connections: usize,
    warmup: Duration,
    duration: Duration,
) {
    let load = common::closed_loop(
        rt,
        &[addr],
        &[&[server_pid]],
        bodies,
        connections,
        warmup,
        duration,
    );
    let mut all = load.all();
    let p = Percentiles::of(&mut all.latencies);
    let rate = p.n as f64 / duration.as_secs_f64();
    println!(
        "{connections:>5} {:>10} {rate:>10.0} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8}   {:.2} / {:.2}",
        p.n,
        human(p.p50),
        human(p.p99),
        human(p.p999),
        human(p.max),
        all.non_200,
        all.failed,
        all.bad_body,
        all.sampled,
        load.cores(load.watched_cpu[0]),
        load.cores(load.client_cpu),
    );
}

fn main() {
    if listing() {
        return;
    }
    let root = common::root();
    let duration = Duration::from_secs(env_or("DURATION_SECS", 10).max(1));
    let warmup = Duration::from_secs(env_or("WARMUP_SECS", 2));
    let threads = env_or("CLIENT_THREADS", 1).max(1) as usize;
    let log = std::env::var("SERVER_LOG").unwrap_or_else(|_| "warn".to_owned());
    let counts = env_list("CONNECTIONS", "16,32,64");

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = dir.path().join("bench.db");
    let status = serve(&root, &store, &log)
        .arg("--once")
        .stdout(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("reachcheck serve --once: {e}"));
    assert!(status.success(), "serve --once failed: {status}");

    let mut server = serve(&root, &store, &log)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("reachcheck serve: {e}"));
    let stdout = server.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .unwrap_or_else(|e| panic!("{e}"));
    let addr: SocketAddr = first
        .trim()
        .strip_prefix("listening on http://")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line: {first}"));
    wait_ready(
        addr,
        &mut server,
        Duration::from_millis(20),
        Duration::from_secs(60),
    );
    let pid = server.id();

    let routes = std::fs::read_to_string(root.join("examples/demo/routes.csv"))
        .unwrap_or_else(|e| panic!("{e}"));
    let bodies = Arc::new(common::evaluation_bodies(&routes, None));
    let rt = common::client_runtime(threads);
    println!(
        "http_api: POST /access/v1/evaluation on the demo ({} routes), {threads} client thread(s), \
         {} s warm-up, {} s measured per row; load average {}",
        bodies.len(),
        warmup.as_secs(),
        duration.as_secs(),
        load_average()
    );
    println!(
        "{:>5} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8}   CPU cores used: server / client",
        "conns",
        "requests",
        "req/s",
        "p50",
        "p99",
        "p99.9",
        "max",
        "non-200",
        "failed",
        "bad body",
        "sampled",
    );
    for &c in &counts {
        run(&rt, addr, pid, &bodies, c, warmup, duration);
    }
    drop(rt);
    println!("load average after: {}", load_average());
    let _ = server.kill();
    let _ = server.wait();
}
