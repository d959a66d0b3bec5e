//! Start to ready: the wall time from spawning `reachcheck serve` on a store that holds a
//! sweep of 1,000,000 routes to its first `GET /readyz` 200.
//!
//! Target (issue 4): ≤ 1 s. Then the same on PostgreSQL (issue 20 target: ≤ 2 s), when
//! `REACHCHECK_TEST_POSTGRES` names a server (`scripts/test-postgres start DIR`): the cached
//! store is copied into a new database with `reachcheck store copy` (timed), `serve` is
//! given its URL and the password through `PGPASSWORD`, and the database is dropped after.
//!
//! The national case (the synthetic nation of `benches/engine.rs`: 1,000,000 routes, each a
//! distinct (message type, recipient) pair over 333,334 units) is built once and cached
//! under `target/bench-startup/VERSION/`: `routes.csv`, a `snapshot/` holding only its
//! `manifest.json` (serve checks that the directory exists and sweeps it only on schedule),
//! and `national.db`, a store holding the evaluation of those routes recorded with
//! `Store::record_sweep` twice: the first sweep, then a sweep that changes nothing (both
//! times are printed when the case is built). Re-runs reuse it; delete the directory (or
//! change [`VERSION`]) to rebuild.
//!
//! Each run spawns `reachcheck serve --store national.db --listen 127.0.0.1:0 --now
//! 2026-11-21T06:00:00Z --interval 87600h` with the repository's `policies/` (the long
//! interval keeps the scheduler from sweeping the cached store however old it is), polls
//! `/readyz` every 2 ms, and kills the server. The server logs JSON at `info`; from its
//! timestamps each run is split into: `before store` (exec, settings, policies, parsing the
//! routing table, opening the store), `store→answers` (the daemon's own `elapsed_ms` for
//! reading the latest sweep and building the answers), `→listening` (the rest of
//! `Daemon::start`, binding), `→ready` (until `/readyz` said 200). Then the same steps are
//! timed in this process with the library calls `Daemon::start` makes, to show where the
//! time inside them goes. The page cache is warm (the store was just written or read).
//!
//! Run with `cargo bench --bench startup` (the first run builds the cache: about a minute).
//! Options through the environment: `RUNS` (5), `ROUTES` (1,000,000; part of the cache key).

mod common;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{env_or, listing, load_average, ts, wait_ready};
use jiff::Timestamp;
use reachcheck::engine::DEFAULT_MAX_DATA_AGE;
use reachcheck::store::Store;
use reachcheck::{Engine, FindingCode, RoutingTable, Verdict, Verifier, evaluate};

/// The cache's version: change it when the generator or the store's format changes.
const VERSION: &str = "v3";
const TOKEN: &str = "bench-token-0123456789abcdef";

struct Case {
    dir: PathBuf,
    routes: PathBuf,
    snapshot: PathBuf,
    store: PathBuf,
}

/// The cached national case, built if it is not there yet.
fn case(routes: usize) -> Case {
    let dir = common::root()
        .join("target/bench-startup")
        .join(format!("{VERSION}-{routes}"));
    let case = Case {
        routes: dir.join("routes.csv"),
        snapshot: dir.join("snapshot"),
        store: dir.join("national.db"),
        dir,
    };
    let done = case.dir.join("complete");
    if done.is_file() {
        println!("cached national case: {}", case.dir.display());
        return case;
    }
    let _ = std::fs::remove_dir_all(&case.dir);
    std::fs::create_dir_all(&case.snapshot).unwrap_or_else(|e| panic!("{e}"));
    println!("building the national case in {} ...", case.dir.display());
    let begun = Instant::now();
    let policies = common::policies();
    let (snapshot, orgs) = common::national(common::units_for(&policies, routes));
    let (csv, table) = common::national_routes(&policies, &orgs, routes);
    std::fs::write(&case.routes, csv).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        case.snapshot.join("manifest.json"),
        format!("{{\"taken_at\": \"{}\"}}\n", common::TAKEN_AT),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let taken_at = snapshot.taken_at;
    let engine = Engine::new(policies, Arc::new(snapshot), DEFAULT_MAX_DATA_AGE);
    let evaluation = evaluate(&engine, &table, ts(common::NOW));
    let judged = begun.elapsed();
    let mut store = Store::open(&case.store).unwrap_or_else(|e| panic!("{e}"));
    let mut record = |label: &str| {
        let id = store
            .begin_sweep(Timestamp::now(), label)
            .unwrap_or_else(|e| panic!("{e}"));
        let t = Instant::now();
        let outcome = store
            .record_sweep(id, Timestamp::now(), taken_at, &evaluation)
            .unwrap_or_else(|e| panic!("{e}"));
        (outcome, t.elapsed())
    };
    let (outcome, recorded) = record("synthetic national-scale benchmark");
    // The same evaluation once more: what recording a sweep that changed nothing costs (the
    // time the store's write lock is held on every scheduled sweep of a quiet nation).
    let (again, recorded_again) = record("synthetic national-scale benchmark, again");
    assert_eq!(again.changed, 0, "the same evaluation changes nothing");
    drop(store);
    std::fs::write(&done, "").unwrap_or_else(|e| panic!("{e}"));
    let size = std::fs::metadata(&case.store).map_or(0, |m| m.len());
    println!(
        "built: {} routes ({} readable, {} unknown) judged in {:.1} s; recorded in {:.1} s, \
         the same again (no change) in {:.1} s; store {:.0} MB",
        outcome.counts.routes,
        outcome.counts.readable,
        outcome.counts.unknown,
        judged.as_secs_f64(),
        recorded.as_secs_f64(),
        recorded_again.as_secs_f64(),
        size as f64 / 1e6
    );
    case
}

/// One start, in milliseconds from the spawn.
#[derive(Clone, Copy, Debug, Default)]
struct Start {
    /// `answers loaded from the store` was logged, less its `elapsed_ms`.
    before_store: f64,
    /// The daemon's `elapsed_ms`: the store's latest sweep read and the answers built.
    store_to_answers: f64,
    /// The first stdout line, `listening on ...`.
    listening: f64,
    /// The first `/readyz` 200.
    ready: f64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The store `serve` is given: the cached SQLite file, or a PostgreSQL database it was
/// copied into (with the password for `PGPASSWORD`).
struct StoreArg {
    arg: String,
    password: Option<String>,
}

fn start_once(case: &Case, store: &StoreArg, run: usize) -> Start {
    let log = case.dir.join(format!("serve-{run}.log"));
    let stderr = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{e}"));
    let wall0 = Timestamp::now();
    let t0 = Instant::now();
    let mut server = Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .current_dir(&case.dir)
        .env("REACHCHECK_API_TOKENS", format!("bench:{TOKEN}"))
        .env("REACHCHECK_LOG", "info")
        .env("REACHCHECK_LOG_FORMAT", "json")
        .arg("serve")
        .arg("--policies")
        .arg(common::root().join("policies"))
        .arg("--routes")
        .arg(&case.routes)
        .arg("--snapshot")
        .arg(&case.snapshot)
        .arg("--store")
        .arg(&store.arg)
        .env("PGPASSWORD", store.password.as_deref().unwrap_or_default())
        .args([
            "--listen",
            "127.0.0.1:0",
            "--now",
            common::NOW,
            "--interval",
            "87600h",
        ])
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("reachcheck serve: {e}"));
    let stdout = server.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .unwrap_or_else(|e| panic!("{e}"));
    let listening = t0.elapsed();
    let addr: SocketAddr = first
        .trim()
        .strip_prefix("listening on http://")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("unexpected first line `{}`; log:\n{text}", first.trim())
        });
    wait_ready(
        addr,
        &mut server,
        Duration::from_millis(2),
        Duration::from_secs(120),
    );
    let ready = t0.elapsed();
    let _ = server.kill();
    let _ = server.wait();

    let mut s = Start {
        listening: ms(listening),
        ready: ms(ready),
        ..Start::default()
    };
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["fields"]["message"] == "answers loaded from the store" {
            let at: Timestamp = v["timestamp"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or(wall0);
            let logged = at.duration_since(wall0).as_secs_f64() * 1e3;
            s.store_to_answers = v["fields"]["elapsed_ms"].as_f64().unwrap_or(0.0);
            s.before_store = logged - s.store_to_answers;
        }
    }
    s
}

/// The steps of `Daemon::start` that grow with the routes, timed in this process with the
/// same library calls.
fn steps(case: &Case) {
    let policies = common::policies();
    let t = Instant::now();
    let table = RoutingTable::load(&case.routes, &policies).unwrap_or_else(|e| panic!("{e}"));
    let parse = t.elapsed();
    let t = Instant::now();
    let open: Vec<Store> = (0..3)
        .map(|_| Store::open(&case.store).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let opened = t.elapsed();
    let t = Instant::now();
    let latest = open[0]
        .latest()
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the store has no sweep"));
    let read = t.elapsed();
    let t = Instant::now();
    let verifier = Verifier::from_store(Arc::clone(&policies), &latest, DEFAULT_MAX_DATA_AGE);
    let built = t.elapsed();
    // What `Daemon::start` does for the metrics: three counts and the finding codes.
    let t = Instant::now();
    let counts = [Verdict::Readable, Verdict::NotReadable, Verdict::Unknown]
        .map(|v| latest.verdicts.iter().filter(|x| x.verdict == v).count());
    let mut codes: Vec<(FindingCode, u64)> = Vec::new();
    for c in latest
        .verdicts
        .iter()
        .flat_map(|v| v.findings.iter().map(|f| f.code()))
    {
        match codes.iter_mut().find(|(k, _)| *k == c) {
            Some((_, n)) => *n += 1,
            None => codes.push((c, 1)),
        }
    }
    let metrics = t.elapsed();
    let routes = latest.verdicts.len();
    let t = Instant::now();
    drop(latest);
    let dropped = t.elapsed();
    println!(
        "in-process steps of Daemon::start over {} routes ({} answers; {:?} by verdict; {} codes):",
        table.len(),
        routes,
        counts,
        codes.len()
    );
    for (name, d) in [
        ("RoutingTable::load (routes.csv)", parse),
        ("Store::open ×3", opened),
        ("Store::latest", read),
        ("Verifier::from_store", built),
        ("metrics: counts and codes", metrics),
        ("dropping the Latest", dropped),
    ] {
        println!("  {name:<34} {:>8.0} ms", ms(d));
    }
    // Not part of any figure.
    drop((verifier, table, open));
    floors(case);
}

/// What the two big reads cost at the least with the same libraries: the CSV records
/// without checking them, and the store's query stepped without converting its rows.
fn floors(case: &Case) {
    let t = Instant::now();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .comment(Some(b'#'))
        .from_path(&case.routes)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    while reader
        .read_byte_record(&mut record)
        .unwrap_or_else(|e| panic!("{e}"))
    {
        rows += record.len() as u64 / 3;
    }
    let csv = t.elapsed();
    let conn = rusqlite::Connection::open_with_flags(
        &case.store,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let step = |sql: &str| -> (Duration, u64) {
        let t = Instant::now();
        let mut st = conn.prepare(sql).unwrap_or_else(|e| panic!("{e}"));
        let mut rows = st.query([]).unwrap_or_else(|e| panic!("{e}"));
        let mut n = 0u64;
        while rows.next().unwrap_or_else(|e| panic!("{e}")).is_some() {
            n += 1;
        }
        (t.elapsed(), n)
    };
    // The history as one SQL join (what `Store::latest` first did; now it reads the
    // `answers` blob, and the history only when the blob is missing): SQLite walks
    // `verdicts_until` for `until IS NULL` and looks up each row in `verdicts` and `routes`.
    let (query, n) = step(
        "SELECT r.sender, r.message_type, r.recipient, v.verdict, v.readers, v.tier, v.findings
         FROM verdicts v JOIN routes r ON r.id = v.route_id
         WHERE v.until IS NULL ORDER BY v.route_id",
    );
    // The same rows with `verdicts` read in primary-key order (no lookup per row).
    let (by_key, _) = step(
        "SELECT r.sender, r.message_type, r.recipient, v.verdict, v.readers, v.tier, v.findings
         FROM verdicts v INDEXED BY sqlite_autoindex_verdicts_1 JOIN routes r ON r.id = v.route_id
         WHERE v.until IS NULL ORDER BY v.route_id",
    );
    // The two tables read on their own, each front to back (`+` keeps SQLite off the index),
    // to be joined by route id in memory: the history fallback of `Store::latest`.
    let (verdicts, _) = step(
        "SELECT route_id, verdict, readers, tier, findings FROM verdicts WHERE +until IS NULL",
    );
    let (routes, _) = step("SELECT id, sender, message_type, recipient FROM routes");
    println!("floors with the same libraries (rows read, not converted):");
    for (name, d) in [
        (format!("csv: {rows} records, unchecked"), csv),
        (format!("SQLite: the history as one join, {n} rows"), query),
        (
            "SQLite: same rows, verdicts in key order".to_owned(),
            by_key,
        ),
        ("SQLite: verdicts alone, scanned".to_owned(), verdicts),
        ("SQLite: routes alone, scanned".to_owned(), routes),
    ] {
        println!("  {name:<50} {:>8.0} ms", ms(d));
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(0.0)
}

/// `runs` starts of `serve` on `store`, each printed, then the median.
fn starts(case: &Case, store: &StoreArg, runs: usize, backend: &str) {
    println!(
        "{:>4} {:>13} {:>14} {:>13} {:>10} {:>10}",
        "run", "before store", "store→answers", "→listening", "→ready", "total"
    );
    let mut totals = Vec::new();
    for run in 1..=runs {
        let s = start_once(case, store, run);
        let answers = s.before_store + s.store_to_answers;
        println!(
            "{run:>4} {:>10.0} ms {:>11.0} ms {:>10.0} ms {:>7.0} ms {:>7.0} ms",
            s.before_store,
            s.store_to_answers,
            s.listening - answers,
            s.ready - s.listening,
            s.ready
        );
        totals.push(s.ready);
    }
    let best = totals.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "start to ready ({backend}): median {:.0} ms, best {best:.0} ms (target ≤ 1000 ms on \
         SQLite, ≤ 2000 ms on PostgreSQL); load average {}",
        median(totals),
        load_average()
    );
}

fn main() {
    if listing() {
        return;
    }
    let runs = env_or("RUNS", 5).max(1) as usize;
    let routes = env_or("ROUTES", 1_000_000) as usize;
    let case = case(routes);
    println!(
        "startup: reachcheck serve on a store of {routes} routes, {runs} runs; load average {}",
        load_average()
    );
    let sqlite = StoreArg {
        arg: case.store.display().to_string(),
        password: None,
    };
    starts(&case, &sqlite, runs, "SQLite");
    // The same store in PostgreSQL (issue 20 target: ≤ 2 s), copied with `store copy`.
    match common::PgDatabase::new("startup") {
        Some(db) => {
            let t = Instant::now();
            let copied = Command::new(env!("CARGO_BIN_EXE_reachcheck"))
                .args(["store", "copy", "--from"])
                .arg(&case.store)
                .arg("--to")
                .arg(&db.url)
                .env("PGPASSWORD", &db.password)
                .output()
                .unwrap_or_else(|e| panic!("reachcheck store copy: {e}"));
            assert!(
                copied.status.success(),
                "store copy: {}",
                String::from_utf8_lossy(&copied.stderr)
            );
            println!(
                "copied the store into PostgreSQL ({}) in {:.1} s",
                db.name,
                t.elapsed().as_secs_f64()
            );
            let pg = StoreArg {
                arg: db.url.clone(),
                password: Some(db.password.clone()),
            };
            starts(&case, &pg, runs, "PostgreSQL");
        }
        None => println!("startup on PostgreSQL: skipped (REACHCHECK_TEST_POSTGRES is not set)"),
    }
    steps(&case);
}
