//! Latency of the in-process pre-send check, [`Verifier::check_at`], call by call.
//!
//! Target (issue 4): p99 ≤ 1 µs per check.
//!
//! Four verifiers, each asked random routes:
//!
//! - `demo/new`: the bundled demo (1073 routes) after an evaluation, built with
//!   `Verifier::new(engine, Some(&evaluation))` as a sweep in the daemon does;
//! - `demo/from_store`: the same evaluation recorded in a temporary SQLite store and loaded
//!   back with `Verifier::from_store` (as `reachcheck serve` does at start);
//! - `national/new`: the synthetic national case of `benches/engine.rs`, 1,000,000 routes over
//!   333,334 units;
//! - `national/from_store`: the same answers through `Verifier::from_store`, from a
//!   `store::Latest` built in memory the way `Store::latest` builds it (findings shared by
//!   text), so that no million-row SQLite file is needed here (see `benches/startup.rs`).
//!
//! The routes asked are: `routed` — random routes of the table; `unrouted` — a (message
//! type, recipient) pair the table does not route, so a verifier with an engine judges it
//! on demand and one from the store answers `unknown` (`not_swept`); `unknown_org` — a
//! recipient the snapshot does not know; `mix` — 90 % routed, 5 % each of the others.
//!
//! Each check is timed on its own with `Instant` (the timer's own cost is printed first, and
//! is included in every figure); `checks/s` is from a second, untimed pass over the same
//! routes.
//!
//! Run with `cargo bench --bench verifier`. Options through the environment: `CALLS` (timed
//! checks per row, 1,000,000), `SCALE` (`demo`, `national` or `all`, the default), `ROUTES`
//! (routes of the national case, 1,000,000).

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use common::{Percentiles, XorShift, env_or, human, listing, load_average, ts};
use jiff::Timestamp;
use reachcheck::engine::DEFAULT_MAX_DATA_AGE;
use reachcheck::store::{Latest, Store, StoredVerdict, SweepRecord, SweepStatus, VerdictCounts};
use reachcheck::{
    Engine, Evaluation, Finding, MessageTypeId, OrgNumber, Policies, Route, RoutingTable,
    SnapshotDir, Verdict, Verifier, evaluate,
};
use rustc_hash::FxHashMap;

/// What the timer itself costs: an empty interval, timed like a check.
fn timer_overhead() -> Percentiles {
    let mut ns = Vec::with_capacity(1_000_000);
    for _ in 0..1_000_000 {
        let t = Instant::now();
        black_box(());
        ns.push(t.elapsed().as_nanos() as u64);
    }
    Percentiles::of(&mut ns)
}

fn header() {
    println!(
        "{:<22} {:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>12}  verdicts (R/N/U)",
        "verifier", "routes", "checks", "p50", "p99", "p99.9", "max", "checks/s"
    );
}

/// Times `calls` checks of `queries` (in order, cycling), then an untimed pass for the rate.
fn measure(label: &str, set: &str, v: &Verifier, queries: &[Route], now: Timestamp, calls: usize) {
    // Warm the caches and the branch predictors on the same routes.
    for q in queries.iter().cycle().take(calls.min(100_000)) {
        black_box(v.check_at(q, now));
    }
    let mut ns = Vec::with_capacity(calls);
    let mut verdicts = [0u64; 3];
    for q in queries.iter().cycle().take(calls) {
        let t = Instant::now();
        let d = v.check_at(black_box(q), now);
        let verdict = d.verdict;
        drop(black_box(d));
        ns.push(t.elapsed().as_nanos() as u64);
        verdicts[match verdict {
            Verdict::Readable => 0,
            Verdict::NotReadable => 1,
            Verdict::Unknown => 2,
        }] += 1;
    }
    let p = Percentiles::of(&mut ns);
    let t = Instant::now();
    for q in queries.iter().cycle().take(calls) {
        black_box(v.check_at(black_box(q), now));
    }
    let rate = calls as f64 / t.elapsed().as_secs_f64();
    println!(
        "{label:<22} {set:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {rate:>12.0}  {}/{}/{}",
        p.n,
        human(p.p50),
        human(p.p99),
        human(p.p999),
        human(p.max),
        verdicts[0],
        verdicts[1],
        verdicts[2],
    );
}

/// `n` routes drawn at random from `pool`.
fn draw(pool: &[Route], n: usize, rng: &mut XorShift) -> Vec<Route> {
    (0..n)
        .map(|_| pool[rng.below(pool.len())].clone())
        .collect()
}

/// 90 % routed, 5 % unrouted pairs, 5 % unknown recipients, shuffled together.
fn mix(routed: &[Route], unrouted: &[Route], unknown: &[Route], n: usize) -> Vec<Route> {
    let mut rng = XorShift::new(0x5EED_0003);
    (0..n)
        .map(|_| match rng.below(100) {
            0..=4 if !unrouted.is_empty() => unrouted[rng.below(unrouted.len())].clone(),
            5..=9 => unknown[rng.below(unknown.len())].clone(),
            _ => routed[rng.below(routed.len())].clone(),
        })
        .collect()
}

/// Pairs of (message type, recipient) over the table's recipients that it does not route.
fn unrouted(policies: &Policies, table: &RoutingTable, cap: usize) -> Vec<Route> {
    let routed: std::collections::HashSet<(&MessageTypeId, OrgNumber)> = table
        .routes()
        .map(|r| (&r.message_type, r.recipient))
        .collect();
    let mut recipients: Vec<OrgNumber> = table.routes().map(|r| r.recipient).collect();
    recipients.sort_unstable();
    recipients.dedup();
    let sender = table.entries[0].route.sender;
    let mut out = Vec::new();
    for t in policies.message_types() {
        for &r in &recipients {
            if !routed.contains(&(&t.id, r)) {
                out.push(Route::new(sender, t.id.clone(), r));
                if out.len() >= cap {
                    return out;
                }
            }
        }
    }
    out
}

/// Routes to recipients no snapshot here knows (organisation numbers from 600000000).
fn unknown_orgs(policies: &Policies, table: &RoutingTable, n: usize) -> Vec<Route> {
    let sender = table.entries[0].route.sender;
    let types = policies.message_types();
    common::orgs_from(60_000_000, n)
        .into_iter()
        .enumerate()
        .map(|(i, org)| Route::new(sender, types[i % types.len()].id.clone(), org))
        .collect()
}

/// Runs every query set against `v`.
fn rows(label: &str, v: &Verifier, sets: &[(&str, &[Route])], now: Timestamp, calls: usize) {
    for (set, queries) in sets {
        if !queries.is_empty() {
            measure(label, set, v, queries, now, calls);
        }
    }
}

/// The evaluation recorded in a fresh SQLite store and loaded back, as the daemon does.
fn through_store(evaluation: &Evaluation, taken_at: Timestamp) -> Latest {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut store = Store::open(&dir.path().join("bench.db")).unwrap_or_else(|e| panic!("{e}"));
    let id = store
        .begin_sweep(Timestamp::now(), "verifier bench")
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .record_sweep(id, Timestamp::now(), taken_at, evaluation)
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .latest()
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the store has no sweep"))
}

/// What `Store::latest` would return for `evaluation`, built in memory: findings shared
/// between routes whose findings have the same JSON text, as the store does.
fn latest_in_memory(evaluation: &Evaluation, taken_at: Timestamp) -> Latest {
    let mut shared: FxHashMap<String, Arc<[Finding]>> = FxHashMap::default();
    let none: Arc<[Finding]> = Arc::from([]);
    let verdicts: Vec<StoredVerdict> = evaluation
        .iter()
        .map(|(r, a)| {
            let findings = if a.findings().is_empty() {
                Arc::clone(&none)
            } else {
                let text = serde_json::to_string(a.findings()).unwrap_or_default();
                Arc::clone(
                    shared
                        .entry(text)
                        .or_insert_with(|| a.findings().to_vec().into()),
                )
            };
            StoredVerdict {
                route: r.route.clone(),
                verdict: a.verdict,
                readers: a.readers,
                tier: a.tier,
                findings,
            }
        })
        .collect();
    let s = evaluation.summary();
    Latest {
        sweep: SweepRecord {
            id: 1,
            started_at: taken_at,
            finished_at: Some(taken_at),
            source: "in memory".to_owned(),
            status: SweepStatus::Ok,
            error: None,
            taken_at: Some(taken_at),
            counts: Some(VerdictCounts {
                routes: s.routes as u64,
                readable: s.readable as u64,
                not_readable: s.not_readable as u64,
                unknown: s.unknown as u64,
            }),
            changed: None,
        },
        taken_at,
        verdicts,
    }
}

fn demo(calls: usize) {
    let policies = common::policies();
    let dir = common::root().join("examples/demo");
    let table =
        RoutingTable::load(&dir.join("routes.csv"), &policies).unwrap_or_else(|e| panic!("{e}"));
    let snapshot = SnapshotDir::new(dir.join("snapshot"))
        .load(
            table.routes().map(|r| r.recipient),
            &policies.resource_ids(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let taken_at = snapshot.taken_at;
    let engine = Engine::new(
        Arc::clone(&policies),
        Arc::new(snapshot),
        DEFAULT_MAX_DATA_AGE,
    );
    let now = ts(common::NOW);
    let evaluation = evaluate(&engine, &table, now);
    let t = Instant::now();
    let v = Verifier::new(engine, Some(&evaluation));
    let built = t.elapsed();
    let t = Instant::now();
    let latest = through_store(&evaluation, taken_at);
    let recorded = t.elapsed();
    let t = Instant::now();
    let stored = Verifier::from_store(Arc::clone(&policies), &latest, DEFAULT_MAX_DATA_AGE);
    let loaded = t.elapsed();
    println!(
        "demo: {} routes; Verifier::new {:.2} ms; record + latest {:.1} ms; from_store {:.2} ms",
        table.len(),
        built.as_secs_f64() * 1e3,
        recorded.as_secs_f64() * 1e3,
        loaded.as_secs_f64() * 1e3
    );

    let pool: Vec<Route> = table.routes().cloned().collect();
    let mut rng = XorShift::new(0x5EED_0001);
    let routed = draw(&pool, 1 << 16, &mut rng);
    let unrouted = unrouted(&policies, &table, usize::MAX);
    let unknown = unknown_orgs(&policies, &table, 4096);
    let mixed = mix(&routed, &unrouted, &unknown, 1 << 16);
    println!(
        "demo: {} unrouted (message type, recipient) pairs among its recipients",
        unrouted.len()
    );
    let sets: [(&str, &[Route]); 4] = [
        ("routed", &routed),
        ("unrouted", &unrouted),
        ("unknown_org", &unknown),
        ("mix", &mixed),
    ];
    header();
    rows("demo/new", &v, &sets, now, calls);
    rows("demo/from_store", &stored, &sets, now, calls);
}

fn national(calls: usize) {
    let routes = env_or("ROUTES", 1_000_000) as usize;
    let policies = common::policies();
    let t = Instant::now();
    let (snapshot, orgs) = common::national(common::units_for(&policies, routes));
    let (_, table) = common::national_routes(&policies, &orgs, routes);
    let taken_at = snapshot.taken_at;
    let engine = Engine::new(
        Arc::clone(&policies),
        Arc::new(snapshot),
        DEFAULT_MAX_DATA_AGE,
    );
    let now = ts(common::NOW);
    let evaluation = evaluate(&engine, &table, now);
    println!(
        "national: {} routes over {} units ({} distinct judgements), generated and judged in {:.1} s",
        table.len(),
        orgs.len(),
        evaluation.assessments.len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let v = Verifier::new(engine, Some(&evaluation));
    let built = t.elapsed();
    let latest = latest_in_memory(&evaluation, taken_at);
    let t = Instant::now();
    let stored = Verifier::from_store(Arc::clone(&policies), &latest, DEFAULT_MAX_DATA_AGE);
    let loaded = t.elapsed();
    println!(
        "national: Verifier::new {:.0} ms; Verifier::from_store {:.0} ms ({} distinct finding lists)",
        built.as_secs_f64() * 1e3,
        loaded.as_secs_f64() * 1e3,
        {
            let mut p: Vec<*const Finding> = latest
                .verdicts
                .iter()
                .map(|v| v.findings.as_ptr())
                .collect();
            p.sort_unstable();
            p.dedup();
            p.len()
        }
    );
    drop(latest);

    let pool: Vec<Route> = table.routes().cloned().collect();
    let mut rng = XorShift::new(0x5EED_0002);
    // As many routes as checks, so that each check lands somewhere new in the table.
    let routed = draw(&pool, calls.max(1), &mut rng);
    drop(pool);
    let unknown = unknown_orgs(&policies, &table, 100_000);
    let mixed = mix(&routed, &[], &unknown, calls.max(1));
    let sets: [(&str, &[Route]); 3] = [
        ("routed", &routed),
        ("unknown_org", &unknown),
        ("mix", &mixed),
    ];
    header();
    rows("national/new", &v, &sets, now, calls);
    rows("national/from_store", &stored, &sets, now, calls);
    // A million judged routes take a while to free; not part of any figure.
    drop(evaluation);
}

fn main() {
    if listing() {
        return;
    }
    let calls = env_or("CALLS", 1_000_000) as usize;
    let scale = std::env::var("SCALE").unwrap_or_else(|_| "all".to_owned());
    println!(
        "verifier: Verifier::check_at, {calls} timed checks per row; load average {}",
        load_average()
    );
    let o = timer_overhead();
    println!(
        "timer overhead (an empty timed interval, included in every figure): p50 {} p99 {} p99.9 {}",
        human(o.p50),
        human(o.p99),
        human(o.p999)
    );
    if scale == "demo" || scale == "all" {
        demo(calls);
    }
    if scale == "national" || scale == "all" {
        national(calls);
    }
}
