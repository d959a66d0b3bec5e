//! What the benches share: the repository's paths, the
//! synthetic national-scale snapshot (one generator for every bench), a cheap
//! random number generator, and latency percentiles.
//!
//! Each bench is its own crate and uses only part of this module.
#![allow(
    dead_code,
    reason = "each bench crate uses a different part of this module"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

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
