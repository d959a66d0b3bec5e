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
//! during the measured window is read from `/proc`.
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
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Percentiles, XorShift, env_or, human, listing, load_average, wait_ready};
use http_body_util::{BodyExt as _, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;

/// The API token the server is given (16 characters or more).
const TOKEN: &str = "bench-token-0123456789abcdef";
/// One response body in this many is parsed and checked.
const SAMPLE_EVERY: u64 = 64;

fn serve(root: &Path, store: &Path, log: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_reachcheck"));
    c.current_dir(root)
        .env("REACHCHECK_API_TOKENS", format!("bench:{TOKEN}"))
        .env("REACHCHECK_LOG", log)
        .args(["serve", "--store"])
        .arg(store);
    c
}

/// CPU time (user + system) a process has used, from `/proc/PID/stat`.
fn cpu_time(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64)
}

fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// The request bodies: one per route of the demo's routing table, serialised once.
fn bodies(root: &Path) -> Vec<Bytes> {
    let text = std::fs::read_to_string(root.join("examples/demo/routes.csv"))
        .unwrap_or_else(|e| panic!("{e}"));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("sender") && !l.trim().is_empty())
        .filter_map(|l| {
            let mut f = l.split(',').map(str::trim);
            Some((f.next()?, f.next()?, f.next()?))
        })
        .map(|(sender, message_type, recipient)| {
            let body = serde_json::json!({
                "subject": {"type": "organization", "id": sender},
                "action": {"name": "send", "properties": {"message_type": message_type}},
                "resource": {"type": "organization", "id": recipient},
            });
            Bytes::from(serde_json::to_vec(&body).unwrap_or_else(|e| panic!("{e}")))
        })
        .collect()
}

/// What one connection saw in the measured window.
#[derive(Default)]
struct Seen {
    latencies: Vec<u64>,
    non_200: u64,
    failed: u64,
    bad_body: u64,
    sampled: u64,
}

/// Phases of one run, as instants.
#[derive(Clone, Copy)]
struct Window {
    counted_from: Instant,
    until: Instant,
}

async fn connect(
    addr: SocketAddr,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// One keep-alive connection sending requests one after another until the window ends.
async fn connection(addr: SocketAddr, bodies: Arc<Vec<Bytes>>, window: Window, seed: u64) -> Seen {
    let host = HeaderValue::from_str(&addr.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let auth = HeaderValue::from_str(&format!("Bearer {TOKEN}")).unwrap_or_else(|e| panic!("{e}"));
    let json = HeaderValue::from_static("application/json");
    let mut rng = XorShift::new(seed);
    let mut seen = Seen {
        latencies: Vec::with_capacity(1 << 16),
        ..Seen::default()
    };
    let mut sender = None;
    let mut n: u64 = 0;
    while Instant::now() < window.until {
        let s = match &mut sender {
            Some(s) => s,
            None => match connect(addr).await {
                Ok(s) => sender.insert(s),
                Err(_) => {
                    seen.failed += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        if s.ready().await.is_err() {
            seen.failed += 1;
            sender = None;
            continue;
        }
        let mut req = Request::new(Full::new(bodies[rng.below(bodies.len())].clone()));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = hyper::Uri::from_static("/access/v1/evaluation");
        let h = req.headers_mut();
        h.insert(HOST, host.clone());
        h.insert(AUTHORIZATION, auth.clone());
        h.insert(CONTENT_TYPE, json.clone());
        let started = Instant::now();
        let exchange = async {
            let resp = s.send_request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((status, body.to_bytes()))
        };
        // A server that stops answering must not hold the run up past its window.
        let result = tokio::time::timeout(Duration::from_secs(10), exchange)
            .await
            .unwrap_or_else(|_| Err("no answer within 10 s".to_owned()));
        let took = started.elapsed().as_nanos() as u64;
        let counted = started >= window.counted_from;
        n += 1;
        match result {
            Ok((status, body)) => {
                if !counted {
                    continue;
                }
                seen.latencies.push(took);
                if status != StatusCode::OK {
                    seen.non_200 += 1;
                } else if n.is_multiple_of(SAMPLE_EVERY) {
                    seen.sampled += 1;
                    let ok = serde_json::from_slice::<serde_json::Value>(&body)
                        .is_ok_and(|v| v["decision"].is_boolean());
                    if !ok {
                        seen.bad_body += 1;
                    }
                }
            }
            Err(_) => {
                if counted {
                    seen.failed += 1;
                }
                sender = None;
            }
        }
    }
    seen
}

/// One run at `connections` connections; prints one row.
fn run(
    rt: &tokio::runtime::Runtime,
    addr: SocketAddr,
    server_pid: &str,
    bodies: &Arc<Vec<Bytes>>,
    connections: usize,
    warmup: Duration,
    duration: Duration,
) {
    let start = Instant::now();
    let window = Window {
        counted_from: start + warmup,
        until: start + warmup + duration,
    };
    let tasks: Vec<_> = (0..connections)
        .map(|i| {
            rt.spawn(connection(
                addr,
                Arc::clone(bodies),
                window,
                0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1),
            ))
        })
        .collect();
    // The CPU both processes use in the measured window.
    std::thread::sleep(
        window
            .counted_from
            .saturating_duration_since(Instant::now()),
    );
    let (server0, client0, wall0) = (cpu_time(server_pid), cpu_time("self"), Instant::now());
    std::thread::sleep(window.until.saturating_duration_since(Instant::now()));
    let (server1, client1, wall) = (cpu_time(server_pid), cpu_time("self"), wall0.elapsed());
    let mut all = Seen::default();
    for t in tasks {
        let s = rt
            .block_on(t)
            .unwrap_or_else(|e| panic!("a connection task failed: {e}"));
        all.latencies.extend_from_slice(&s.latencies);
        all.non_200 += s.non_200;
        all.failed += s.failed;
        all.bad_body += s.bad_body;
        all.sampled += s.sampled;
    }
    let p = Percentiles::of(&mut all.latencies);
    let rate = p.n as f64 / duration.as_secs_f64();
    let cores = |d: Duration| d.as_secs_f64() / wall.as_secs_f64();
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
        cores(server1.saturating_sub(server0)),
        cores(client1.saturating_sub(client0)),
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
    let counts: Vec<usize> = std::env::var("CONNECTIONS")
        .unwrap_or_else(|_| "16,32,64".to_owned())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .filter(|&c| c > 0)
        .collect();

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
    let pid = server.id().to_string();

    let bodies = Arc::new(bodies(&root));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
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
        run(&rt, addr, &pid, &bodies, c, warmup, duration);
    }
    drop(rt);
    println!("load average after: {}", load_average());
    let _ = server.kill();
    let _ = server.wait();
}
