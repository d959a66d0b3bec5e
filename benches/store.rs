//! The store on each backend (issue 20 targets: ≤ 2 s each at 1,000,000 routes): recording
//! the first sweep of the synthetic nation (`benches/engine.rs`: 1,000,000 routes, each a
//! distinct (message type, recipient) pair), recording the same evaluation again (a quiet
//! sweep: nothing changes, nothing is written but the answers), and loading the latest
//! answers as the daemon does on start (`Store::latest`). Each case runs on a new store:
//! a SQLite file in a temporary directory, and — when `REACHCHECK_TEST_POSTGRES` names a
//! server (`scripts/test-postgres start DIR`; the password in
//! `REACHCHECK_TEST_POSTGRES_PASSWORD_FILE`) — a PostgreSQL database made for the run and
//! dropped after it.
//!
//! Run with `cargo bench --bench store`. Options through the environment: `ROUTES`
//! (1,000,000), `RUNS` (1: each run records into a new store).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{env_or, load_average, ts};
use jiff::Timestamp;
use reachcheck::engine::{DEFAULT_MAX_DATA_AGE, Evaluation};
use reachcheck::store::Store;
use reachcheck::{Engine, evaluate};

/// A PostgreSQL database for one run, dropped with it.
struct PgDatabase {
    server: postgres::Config,
    name: String,
    config: postgres::Config,
}

impl PgDatabase {
    fn new(n: usize) -> Option<PgDatabase> {
        let url = std::env::var("REACHCHECK_TEST_POSTGRES").ok()?;
        let mut server: postgres::Config = url.parse().unwrap_or_else(|e| panic!("{e}"));
        if let Ok(file) = std::env::var("REACHCHECK_TEST_POSTGRES_PASSWORD_FILE") {
            let password = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{e}"));
            server.password(password.trim_end_matches(['\n', '\r']));
        }
        let name = format!("reachcheck_bench_{}_{n}", std::process::id());
        server
            .connect(postgres::NoTls)
            .and_then(|mut c| c.batch_execute(&format!("CREATE DATABASE {name}")))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut config = server.clone();
        config.dbname(&name);
        Some(PgDatabase {
            server,
            name,
            config,
        })
    }

    fn open(&self) -> Store {
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

struct Times {
    first: Duration,
    again: Duration,
    latest: Duration,
}

fn run(store: &mut Store, evaluation: &Evaluation, taken_at: Timestamp) -> Times {
    let mut record = || {
        let id = store
            .begin_sweep(Timestamp::now(), "bench")
            .unwrap_or_else(|e| panic!("{e}"));
        let t = Instant::now();
        let outcome = store
            .record_sweep(id, Timestamp::now(), taken_at, evaluation)
            .unwrap_or_else(|e| panic!("{e}"));
        (outcome, t.elapsed())
    };
    let (first, first_took) = record();
    assert_eq!(
        first.changed, first.counts.routes,
        "a first sweep writes every route"
    );
    let (again, again_took) = record();
    assert_eq!(again.changed, 0, "the same evaluation changes nothing");
    let t = Instant::now();
    let latest = store
        .latest()
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no latest sweep"));
    let latest_took = t.elapsed();
    assert_eq!(latest.verdicts.len() as u64, first.counts.routes);
    Times {
        first: first_took,
        again: again_took,
        latest: latest_took,
    }
}

fn print(backend: &str, routes: usize, t: &Times) {
    println!(
        "store/{backend}: {routes} routes: first sweep recorded in {:.2} s, the same again in \
         {:.2} s, latest answers loaded in {:.2} s (load {})",
        t.first.as_secs_f64(),
        t.again.as_secs_f64(),
        t.latest.as_secs_f64(),
        load_average()
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
        let mut store = Store::open(&dir.path().join("store.db")).unwrap_or_else(|e| panic!("{e}"));
        print("sqlite", routes, &run(&mut store, &evaluation, taken_at));
        match PgDatabase::new(n) {
            Some(db) => {
                let mut store = db.open();
                print("postgres", routes, &run(&mut store, &evaluation, taken_at));
            }
            None => println!("store/postgres: skipped (REACHCHECK_TEST_POSTGRES is not set)"),
        }
    }
}
