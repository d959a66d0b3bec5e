//! The store on each backend (issue 20 targets: ≤ 2 s each at 1,000,000 routes): recording
//! a sweep is two steps, timed apart — its answers (one short transaction; from its end the
//! sweep is durable and served) and its history written from them after
//! (`Store::record_answers`, `Store::write_history`). Recorded: the first sweep of the
//! synthetic nation (`benches/engine.rs`: 1,000,000 routes, each a
//! distinct (message type, recipient) pair); recording the same evaluation again (a quiet
//! sweep: nothing changes, nothing is written but the sweep's row) with the store that
//! recorded the first, which kept the state it left (the daemon's case; the memory that
//! state holds is printed), and once more with a store just opened, which reads that state
//! back; and loading the latest answers as the daemon does on start (`Store::latest`). Each
//! case runs on a new store: a SQLite file in a temporary directory (the rows a first sweep
//! wrote are counted), and — when `REACHCHECK_TEST_POSTGRES` names a server
//! (`scripts/test-postgres start DIR`; the password in `REACHCHECK_TEST_POSTGRES_PASSWORD_FILE`)
//! — a PostgreSQL database made for the run and dropped after it.
//!
//! Run with `cargo bench --bench store`. Options through the environment: `ROUTES`
//! (1,000,000), `RUNS` (1: each run records into a new store).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{PgDatabase, env_or, load_average, ts};
use jiff::Timestamp;
use reachcheck::engine::{DEFAULT_MAX_DATA_AGE, Evaluation};
use reachcheck::store::Store;
use reachcheck::{Engine, evaluate};

struct Times {
    /// Bytes the store kept between sweeps.
    kept: u64,
    first: Took,
    again: Took,
    reopened: Took,
    latest: Duration,
}

/// How long recording a sweep took: its answers, then its history.
struct Took {
    answers: Duration,
    history: Duration,
}

/// Records a sweep of `evaluation` into `store`: what it did and how long each step took.
fn record(
    store: &mut Store,
    evaluation: &Evaluation,
    taken_at: Timestamp,
) -> (reachcheck::store::SweepOutcome, Took) {
    let id = store
        .begin_sweep(Timestamp::now(), "bench")
        .unwrap_or_else(|e| panic!("{e}"));
    let t = Instant::now();
    store
        .record_answers(id, Timestamp::now(), taken_at, evaluation)
        .unwrap_or_else(|e| panic!("{e}"));
    let answers = t.elapsed();
    let t = Instant::now();
    let (_, outcome) = store
        .write_history(Some((id, evaluation)))
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no history was due"));
    (
        outcome,
        Took {
            answers,
            history: t.elapsed(),
        },
    )
}

/// This process's resident memory, in bytes (Linux; 0 elsewhere).
fn resident() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn run(open: impl Fn() -> Store, evaluation: &Evaluation, taken_at: Timestamp) -> Times {
    let mut store = open();
    let (first, first_took) = record(&mut store, evaluation, taken_at);
    assert_eq!(
        first.changed, first.counts.routes,
        "a first sweep writes every route"
    );
    // The daemon's case: the store that recorded the last sweep records the next.
    let (again, again_took) = record(&mut store, evaluation, taken_at);
    assert_eq!(again.changed, 0, "the same evaluation changes nothing");
    // What the store keeps between sweeps, as the memory given back when it is dropped.
    let before = resident();
    drop(store);
    let kept = before.saturating_sub(resident());
    // A store just opened (a restart, or another instance recorded the last sweep) reads
    // the state back first.
    let mut store = open();
    let (reopened, reopened_took) = record(&mut store, evaluation, taken_at);
    assert_eq!(reopened.changed, 0, "the same evaluation changes nothing");
    let t = Instant::now();
    let latest = store
        .latest()
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no latest sweep"));
    let latest_took = t.elapsed();
    assert_eq!(latest.verdicts.len() as u64, first.counts.routes);
    Times {
        kept,
        first: first_took,
        again: again_took,
        reopened: reopened_took,
        latest: latest_took,
    }
}

fn print(backend: &str, routes: usize, t: &Times) {
    let took = |t: &Took| {
        format!(
            "recorded in {:.2} s, history written in {:.2} s",
            t.answers.as_secs_f64(),
            t.history.as_secs_f64()
        )
    };
    println!(
        "store/{backend}: {routes} routes: first sweep {}; the same again {} (state kept: \
         {} MB), {} (state read back); latest answers loaded in {:.2} s (load {})",
        took(&t.first),
        took(&t.again),
        t.kept / 1_000_000,
        took(&t.reopened),
        t.latest.as_secs_f64(),
        load_average()
    );
}

/// What a sweep of this nation writes, table by table.
fn print_rows(file: &std::path::Path) {
    let db = rusqlite::Connection::open(file).unwrap_or_else(|e| panic!("{e}"));
    let rows: Vec<String> = ["routes", "verdicts", "findings", "finding_events"]
        .iter()
        .map(|t| {
            let n: i64 = db
                .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                .unwrap_or_else(|e| panic!("{e}"));
            format!("{t} {n}")
        })
        .collect();
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let wal = file.with_extension("db-wal");
    println!(
        "store/sqlite: rows after the sweeps: {}; file {} MB, log {} MB",
        rows.join(", "),
        size(file) / 1_000_000,
        size(&wal) / 1_000_000
    );
}

fn main() {
    let routes = env_or("ROUTES", 1_000_000) as usize;
    let runs = env_or("RUNS", 1).max(1) as usize;
    let policies = common::policies();
    let (snapshot, orgs) = common::national(common::units_for(&policies, routes));
    let (_, table) = common::national_routes(&policies, &orgs, routes);
    let taken_at = snapshot.taken_at;
    let engine = Engine::new(policies, Arc::new(snapshot), DEFAULT_MAX_DATA_AGE);
    let evaluation = evaluate(&engine, &table, ts(common::NOW));
    for n in 0..runs {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("store.db");
        let open = || Store::open(&file).unwrap_or_else(|e| panic!("{e}"));
        print("sqlite", routes, &run(open, &evaluation, taken_at));
        print_rows(&dir.path().join("store.db"));
        match PgDatabase::new(&format!("store_{n}")) {
            Some(db) => print(
                "postgres",
                routes,
                &run(|| db.open(), &evaluation, taken_at),
            ),
            None => println!("store/postgres: skipped (REACHCHECK_TEST_POSTGRES is not set)"),
        }
    }
}
