//! What the benches share: the repository's paths, the
//! synthetic national-scale snapshot (one generator for every bench), a cheap
//! random number generator, latency percentiles, and the closed-loop HTTP load generator of
//! the pre-send check (`http_api`, `ha`).
//!
//! Each bench is its own crate and uses only part of this module.
#![allow(
    dead_code,
    reason = "each bench crate uses a different part of this module"
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use jiff::Timestamp;
use reachcheck::evidence::{
    AccessList, AccessListMode, Members, Observed, ResourceEvidence, ResourceMeta, Snapshot,
};
use reachcheck::model::{EntityKind, Grant, HolderSource, Register, ResourceId, Rightholder, Unit};
use reachcheck::{OrgNumber, Policies, RoutingTable};

/// The repository root.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The demo's `now` (one hour after its snapshot was taken).
pub(crate) const NOW: &str = "2026-11-21T06:00:00Z";
/// When the demo's and the synthetic nation's evidence was taken.
pub(crate) const TAKEN_AT: &str = "2026-11-21T05:00:00Z";

pub(crate) fn ts(s: &str) -> Timestamp {
    s.parse().unwrap_or_else(|e| panic!("`{s}`: {e}"))
}

pub(crate) fn policies() -> Arc<Policies> {
    Arc::new(Policies::load(&root().join("policies")).unwrap_or_else(|e| panic!("{e}")))
}

/// An unsigned number from the environment, else `default`.
pub(crate) fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Whether the harness only asks what the bench contains (`cargo bench -- --list`, test
/// harness probes): then the bench does nothing.
pub(crate) fn listing() -> bool {
    std::env::args().any(|a| a == "--list")
}

/// xorshift64: cheap and deterministic, enough to pick routes at random.
#[derive(Clone, Debug)]
pub(crate) struct XorShift(u64);

impl XorShift {
    pub(crate) fn new(seed: u64) -> Self {
        XorShift(seed.max(1))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number below `n` (n > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Percentiles of a set of latencies in nanoseconds.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Percentiles {
    pub(crate) n: usize,
    pub(crate) p50: u64,
    pub(crate) p99: u64,
    pub(crate) p999: u64,
    pub(crate) max: u64,
    pub(crate) mean: f64,
}

impl Percentiles {
    /// Sorts `ns` and reads its percentiles (nearest rank).
    pub(crate) fn of(ns: &mut [u64]) -> Percentiles {
        if ns.is_empty() {
            return Percentiles::default();
        }
        ns.sort_unstable();
        let at = |q: f64| ns[((q * ns.len() as f64).ceil() as usize).clamp(1, ns.len()) - 1];
        Percentiles {
            n: ns.len(),
            p50: at(0.50),
            p99: at(0.99),
            p999: at(0.999),
            max: ns[ns.len() - 1],
            mean: ns.iter().map(|&x| x as f64).sum::<f64>() / ns.len() as f64,
        }
    }
}

/// A duration in the unit that reads best.
pub(crate) fn human(ns: u64) -> String {
    let d = Duration::from_nanos(ns);
    if ns < 10_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    }
}

/// `uptime`, for the record: these benches share two cores with other work.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Organisation numbers from consecutive 8-digit bodies (skipping bodies without a check
/// digit).
pub(crate) fn orgs_from(start: u32, n: usize) -> Vec<OrgNumber> {
    (start..).filter_map(OrgNumber::from_body).take(n).collect()
}

fn person(i: usize, grants: &[&str]) -> Rightholder {
    Rightholder {
        party: Some(Arc::from(format!("00000000-0000-4000-8000-{i:012}"))),
        kind: EntityKind::Person,
        name: Some(Arc::from("Syntetisk Person")),
        birth_date: None,
        deceased: false,
        deleted: false,
        grants: grants.iter().map(|g| Grant::from_urn(g)).collect(),
        resigned: Vec::new(),
        via: None,
        source: HolderSource::Connections,
    }
}

fn er_holder(code: &str) -> Rightholder {
    Rightholder {
        party: None,
        kind: EntityKind::Person,
        name: Some(Arc::from("Syntetisk Leder")),
        birth_date: None,
        deceased: false,
        deleted: false,
        grants: vec![Grant::from_urn(code)],
        resigned: Vec::new(),
        via: None,
        source: HolderSource::Enhetsregisteret,
    }
}

const CONFIDENTIAL: &str =
    "urn:altinn:accesspackage:post-til-virksomheten-med-taushetsbelagt-innhold";
const DAGL: &str = "urn:altinn:external-role:ccr:daglig-leder";
const ORDINARY: &str = "urn:altinn:accesspackage:ordinaer-post-til-virksomheten";
const KOMK: &str = "urn:altinn:external-role:ccr:kontaktperson-kommune";

/// A synthetic nation: `recipients` units, a fifth of them
/// sub-units of the first units; 70 % with connections (3-8 people, some holding
/// confidential post), the rest Brreg roles only; 90 % with notification addresses.
pub(crate) fn national(recipients: usize) -> (Snapshot, Vec<OrgNumber>) {
    let taken_at = ts(TAKEN_AT);
    let mut snapshot = Snapshot::new(taken_at, "synthetic national-scale benchmark");
    let orgs = orgs_from(40_000_000, recipients);
    let mains = recipients - recipients / 5;
    for (i, &org) in orgs.iter().enumerate() {
        let sub = i >= mains;
        let ev = snapshot.unit_mut(org);
        ev.unit = Observed::Present(Unit {
            org,
            name: None,
            form: Some(Arc::from(if sub { "BEDR" } else { "KOMM" })),
            main_unit: sub.then(|| orgs[i - mains]),
            deleted_on: None,
            deleted: false,
            register: if sub {
                Register::Underenheter
            } else {
                Register::Enheter
            },
        });
        if i % 10 != 0 {
            ev.notification_addresses = Observed::Present(1);
        }
        ev.observed_at = Some(taken_at);
        if i % 10 < 7 {
            let people = 3 + i % 6;
            let holders = (0..people)
                .map(|p| match (i + p) % 4 {
                    0 => person(i * 8 + p, &[CONFIDENTIAL, DAGL]),
                    1 => person(i * 8 + p, &[ORDINARY]),
                    2 => person(i * 8 + p, &["urn:altinn:rolecode:A0286", KOMK]),
                    _ => person(i * 8 + p, &["urn:altinn:rolecode:A0212"]),
                })
                .collect();
            ev.connections = Observed::Present(holders);
        } else if !sub {
            ev.roles = Observed::Present(vec![er_holder(DAGL), er_holder(KOMK)]);
        }
    }
    // The registry entries of the project's resources (rule 11): one gated by an access
    // list that nine in ten units are on, so that gate is on the measured path too.
    for r in [
        "politi-bekymringsmelding",
        "politi-ordinaer-post",
        "politi-straffesak-filvedlegg",
        "politi-straffesak-forsendelse",
    ] {
        let gated = r == "politi-straffesak-forsendelse";
        let access_lists = if gated {
            Observed::Present(vec![AccessList {
                identifier: Arc::from("kommuner"),
                actions: None,
                members: Observed::Present(Members {
                    orgs: orgs
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| i % 10 != 3)
                        .map(|(_, o)| *o)
                        .collect(),
                    unidentified: 0,
                }),
            }])
        } else {
            Observed::Missing
        };
        snapshot.resources.insert(
            ResourceId::parse(r).unwrap_or_else(|e| panic!("{e}")),
            ResourceEvidence {
                metadata: Observed::Present(ResourceMeta::Found {
                    access_list_mode: if gated {
                        AccessListMode::Enabled
                    } else {
                        AccessListMode::Disabled
                    },
                    owner: Some(Arc::from("politiet")),
                    owner_org: OrgNumber::parse("310000019").ok(),
                }),
                access_lists,
            },
        );
    }
    (snapshot, orgs)
}

/// The synthetic nation's routing table: `routes` rows, each a distinct (message type,
/// recipient) pair, from twelve synthetic senders. Returns the CSV text and the table.
pub(crate) fn national_routes(
    policies: &Policies,
    orgs: &[OrgNumber],
    routes: usize,
) -> (String, RoutingTable) {
    let types: Vec<String> = policies
        .message_types()
        .iter()
        .map(|t| t.id.to_string())
        .collect();
    let senders = orgs_from(31_000_001, 12);
    let mut csv = String::with_capacity(routes * 40);
    csv.push_str("sender,message_type,recipient\n");
    let pairs = orgs.iter().flat_map(|o| types.iter().map(move |t| (t, o)));
    for (i, (t, org)) in pairs.take(routes).enumerate() {
        let sender = senders[i % senders.len()];
        csv.push_str(&format!("{sender},{t},{org}\n"));
    }
    let table = RoutingTable::parse(
        Path::new("national.csv"),
        csv.as_bytes(),
        |t| policies.message_type_index(t).is_some(),
        "",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    (csv, table)
}

/// How many units the nation needs so that every route is a distinct pair.
pub(crate) fn units_for(policies: &Policies, routes: usize) -> usize {
    routes.div_ceil(policies.message_types().len())
}

/// The status of a plain HTTP/1.0 GET (no client library, so probing costs the server
/// nothing it would not pay anyway).
pub(crate) fn status_of(addr: std::net::SocketAddr, path: &str) -> Option<u16> {
    get(addr, path).map(|(status, _)| status)
}

/// A plain HTTP/1.0 GET: the status and the body.
pub(crate) fn get(addr: std::net::SocketAddr, path: &str) -> Option<(u16, String)> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Some((status, body))
}

/// Polls `/readyz` every `poll` until it answers 200; panics if the server exits first or
/// `limit` passes.
pub(crate) fn wait_ready(
    addr: std::net::SocketAddr,
    server: &mut std::process::Child,
    poll: Duration,
    limit: Duration,
) {
    let begun = std::time::Instant::now();
    loop {
        if status_of(addr, "/readyz") == Some(200) {
            return;
        }
        if let Ok(Some(status)) = server.try_wait() {
            panic!("the server exited before it was ready: {status}");
        }
        assert!(
            begun.elapsed() < limit,
            "the server was not ready within {limit:?}"
        );
        std::thread::sleep(poll);
    }
}

/// A PostgreSQL database for one bench run, dropped with it: made on the server
/// `REACHCHECK_TEST_POSTGRES` names (`scripts/test-postgres start DIR` prints it), the
/// password in `REACHCHECK_TEST_POSTGRES_PASSWORD_FILE`.
pub(crate) struct PgDatabase {
    server: postgres::Config,
    /// The database's name.
    pub(crate) name: String,
    /// Where it is, with the password.
    pub(crate) config: postgres::Config,
    /// Its URL without the password, and the password.
    pub(crate) url: String,
    pub(crate) password: String,
}

impl PgDatabase {
    /// A new database named after `label`; `None` without a server.
    pub(crate) fn new(label: &str) -> Option<PgDatabase> {
        let url = std::env::var("REACHCHECK_TEST_POSTGRES").ok()?;
        let mut server: postgres::Config = url.parse().unwrap_or_else(|e| panic!("{e}"));
        let password = match std::env::var("REACHCHECK_TEST_POSTGRES_PASSWORD_FILE") {
            Ok(file) => std::fs::read_to_string(file)
                .unwrap_or_else(|e| panic!("{e}"))
                .trim_end_matches(['\n', '\r'])
                .to_owned(),
            Err(_) => String::new(),
        };
        if !password.is_empty() {
            server.password(password.as_str());
        }
        let name = format!("reachcheck_bench_{}_{label}", std::process::id());
        server
            .connect(postgres::NoTls)
            .and_then(|mut c| c.batch_execute(&format!("CREATE DATABASE {name}")))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut config = server.clone();
        config.dbname(&name);
        let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
        Some(PgDatabase {
            server,
            url: format!("{base}/{name}"),
            name,
            config,
            password,
        })
    }

    /// The server's processes: the postmaster and every process it started (a backend per
    /// connection, its background workers), for their CPU time.
    pub(crate) fn server_processes(&self) -> Vec<u32> {
        let ppid = |pid: u32| -> Option<u32> {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // The field after the state, which follows the command name.
            stat.rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        };
        let mut client = self
            .config
            .connect(postgres::NoTls)
            .unwrap_or_else(|e| panic!("{e}"));
        let backend = client
            .query_one("SELECT pg_backend_pid()", &[])
            .map(|r| r.get::<_, i32>(0) as u32)
            .unwrap_or_else(|e| panic!("{e}"));
        // Read while the backend is there: it ends with the connection.
        let postmaster = ppid(backend);
        drop(client);
        let Some(postmaster) = postmaster else {
            return Vec::new(); // on another machine, or in another PID namespace
        };
        let mut pids = vec![postmaster];
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for entry in dir.flatten() {
                let pid = entry.file_name().to_str().and_then(|n| n.parse().ok());
                if let Some(pid) = pid.filter(|&p| ppid(p) == Some(postmaster)) {
                    pids.push(pid);
                }
            }
        }
        pids
    }

    /// A store on it, migrated first.
    pub(crate) fn open(&self) -> reachcheck::store::Store {
        use reachcheck::store::Store;
        let shown = format!("postgres://…/{}", self.name);
        Store::migrate_postgres(&self.config, &shown).unwrap_or_else(|e| panic!("{e}"));
        Store::open_postgres(&self.config, &shown).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut c) = self.server.connect(postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// The API token the benches' servers are given (16 characters or more).
pub(crate) const TOKEN: &str = "bench-token-0123456789abcdef";
/// One response body in this many is parsed and checked.
pub(crate) const SAMPLE_EVERY: u64 = 64;

/// A comma-separated list of positive numbers from the environment, else `default`
/// (`CONNECTIONS=16,32,64`).
pub(crate) fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .filter(|&c| c > 0)
        .collect()
}

/// CPU time (user + system) a process has used, from `/proc/PID/stat` (`self` for this one).
pub(crate) fn cpu_time(pid: &str) -> Duration {
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

/// CPU time the whole machine spent busy (every state of `/proc/stat`'s `cpu` line but
/// idle and iowait), over all its cores: the servers, this process, PostgreSQL and anything
/// else that shares the machine.
pub(crate) fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user already).
    let busy: u64 = f
        .iter()
        .take(8)
        .enumerate()
        .filter(|&(i, _)| i != 3 && i != 4)
        .map(|(_, &t)| t)
        .sum();
    Duration::from_secs_f64(busy as f64 / clock_ticks() as f64)
}

fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// Pre-send check bodies (`POST /access/v1/evaluation`), serialised once, for the routes
/// of a routing table's CSV text (`sender,message_type,recipient`; its header, comments and
/// blank lines skipped): every route, or `pick` of them chosen at random (with repeats).
pub(crate) fn evaluation_bodies(csv: &str, pick: Option<usize>) -> Vec<Bytes> {
    let routes: Vec<(&str, &str, &str)> = csv
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("sender") && !l.trim().is_empty())
        .filter_map(|l| {
            let mut f = l.split(',').map(str::trim);
            Some((f.next()?, f.next()?, f.next()?))
        })
        .collect();
    let chosen: Vec<(&str, &str, &str)> = match pick {
        Some(n) if !routes.is_empty() => {
            let mut rng = XorShift::new(0xB0D1_E5E5_5EED_0001);
            (0..n).map(|_| routes[rng.below(routes.len())]).collect()
        }
        _ => routes,
    };
    chosen
        .into_iter()
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

/// What connections saw in the measured window.
#[derive(Clone, Debug, Default)]
pub(crate) struct Seen {
    /// Each counted request's latency, in nanoseconds.
    pub(crate) latencies: Vec<u64>,
    pub(crate) non_200: u64,
    pub(crate) failed: u64,
    /// Sampled bodies without a boolean `decision`.
    pub(crate) bad_body: u64,
    pub(crate) sampled: u64,
    /// Sampled answers by verdict: `readable`, `not_readable`, `unknown`.
    pub(crate) verdicts: [u64; 3],
    /// Sampled answers with the finding `not_swept`: a route the sweep answered from does
    /// not hold (a bench asking about routes it never recorded).
    pub(crate) not_swept: u64,
    /// Answers with status 200, the warm-up's included (each one an audit row).
    pub(crate) answered: u64,
}

impl Seen {
    /// Adds what `other` saw.
    pub(crate) fn add(&mut self, other: &Seen) {
        self.latencies.extend_from_slice(&other.latencies);
        self.non_200 += other.non_200;
        self.failed += other.failed;
        self.bad_body += other.bad_body;
        self.sampled += other.sampled;
        for (a, b) in self.verdicts.iter_mut().zip(other.verdicts) {
            *a += b;
        }
        self.not_swept += other.not_swept;
        self.answered += other.answered;
    }

    /// Failed requests, statuses but 200 and bad sampled bodies.
    pub(crate) fn errors(&self) -> u64 {
        self.non_200 + self.failed + self.bad_body
    }

    /// Checks one sampled answer.
    fn sample(&mut self, body: &[u8]) {
        self.sampled += 1;
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
            self.bad_body += 1;
            return;
        };
        if !v["decision"].is_boolean() {
            self.bad_body += 1;
        }
        match v["context"]["verdict"].as_str() {
            Some("readable") => self.verdicts[0] += 1,
            Some("not_readable") => self.verdicts[1] += 1,
            _ => self.verdicts[2] += 1,
        }
        let findings = v["context"]["findings"].as_array();
        if findings.is_some_and(|f| f.iter().any(|f| f["code"] == "not_swept")) {
            self.not_swept += 1;
        }
    }
}

/// Phases of one run, as instants.
#[derive(Clone, Copy)]
struct Window {
    counted_from: Instant,
    until: Instant,
}

/// What one closed-loop run measured.
pub(crate) struct Load {
    /// What the connections to each target saw, in the targets' order.
    pub(crate) per_target: Vec<Seen>,
    /// The measured window.
    pub(crate) wall: Duration,
    /// CPU time each group of watched processes (summed) and this process used in it.
    pub(crate) watched_cpu: Vec<Duration>,
    pub(crate) client_cpu: Duration,
    /// CPU time the whole machine was busy in it.
    pub(crate) machine_cpu: Duration,
}

impl Load {
    /// What every connection saw.
    pub(crate) fn all(&self) -> Seen {
        let mut all = Seen::default();
        for s in &self.per_target {
            all.add(s);
        }
        all
    }

    /// CPU time as cores busy over the window.
    pub(crate) fn cores(&self, cpu: Duration) -> f64 {
        cpu.as_secs_f64() / self.wall.as_secs_f64()
    }
}

/// The load generator's tokio runtime: `threads` workers.
pub(crate) fn client_runtime(threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `connections` keep-alive HTTP/1.1 connections (hyper's client connection, no pool),
/// spread round-robin over `targets`, each sending one pre-send check at a time (closed
/// loop) with a body picked at random from `bodies`, for `warmup` (not counted) and then
/// `duration`. Any status but 200, any failed request and any sampled body (one in
/// [`SAMPLE_EVERY`]) without a boolean `decision` is an error. The CPU time of each group
/// of processes in `watched` (the servers, say), of this one and of the machine is read
/// over the measured window.
pub(crate) fn closed_loop(
    rt: &tokio::runtime::Runtime,
    targets: &[SocketAddr],
    watched: &[&[u32]],
    bodies: &Arc<Vec<Bytes>>,
    connections: usize,
    warmup: Duration,
    duration: Duration,
) -> Load {
    assert!(!targets.is_empty() && !bodies.is_empty());
    let start = Instant::now();
    let window = Window {
        counted_from: start + warmup,
        until: start + warmup + duration,
    };
    let tasks: Vec<_> = (0..connections)
        .map(|i| {
            let target = i % targets.len();
            let task = rt.spawn(connection(
                targets[target],
                Arc::clone(bodies),
                window,
                0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1),
            ));
            (target, task)
        })
        .collect();
    let groups = || -> Vec<Duration> {
        watched
            .iter()
            .map(|g| g.iter().map(|p| cpu_time(&p.to_string())).sum())
            .collect()
    };
    // The CPU used in the measured window.
    std::thread::sleep(
        window
            .counted_from
            .saturating_duration_since(Instant::now()),
    );
    let (watched0, client0, machine0, wall0) =
        (groups(), cpu_time("self"), machine_busy(), Instant::now());
    std::thread::sleep(window.until.saturating_duration_since(Instant::now()));
    let (watched1, client1, machine1, wall) =
        (groups(), cpu_time("self"), machine_busy(), wall0.elapsed());
    let mut per_target = vec![Seen::default(); targets.len()];
    for (target, task) in tasks {
        let s = rt
            .block_on(task)
            .unwrap_or_else(|e| panic!("a connection task failed: {e}"));
        per_target[target].add(&s);
    }
    Load {
        per_target,
        wall,
        watched_cpu: watched1
            .iter()
            .zip(watched0)
            .map(|(after, before)| after.saturating_sub(before))
            .collect(),
        client_cpu: client1.saturating_sub(client0),
        machine_cpu: machine1.saturating_sub(machine0),
    }
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
                if status == StatusCode::OK {
                    seen.answered += 1;
                }
                if !counted {
                    continue;
                }
                seen.latencies.push(took);
                if status != StatusCode::OK {
                    seen.non_200 += 1;
                } else if n.is_multiple_of(SAMPLE_EVERY) {
                    seen.sample(&body);
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
