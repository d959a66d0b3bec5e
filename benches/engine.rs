//! Benchmarks of the core join (issue 2 targets):
//!
//! - `demo/evaluate`: judging every route of the bundled demo (engine already built);
//! - `national/evaluate_1m_routes`: a synthetic national-scale case of 1,000,000 routes, each a
//!   distinct (message type, recipient) pair so nothing is shared between routes — the worst
//!   case for throughput (target: ≥ 2 million routes per second on one core);
//! - `national/evaluate_1m_routes_shuffled`: the same routes in random order (no locality
//!   between consecutive routes);
//! - `national/engine_new`: digesting that snapshot into per-unit reader candidates;
//! - `process/check_demo`: `reachcheck check` on the demo as a whole process, start to exit,
//!   output discarded (target: under 1 second). Uses the release binary next to the bench.
//!
//! Run with `cargo bench --bench engine`. Criterion reports time per iteration and, where a
//! throughput is set, elements (routes) per second.

use std::hint::black_box;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

mod common;

use common::{national, orgs_from, policies, root};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::Timestamp;
use reachcheck::engine::DEFAULT_MAX_DATA_AGE;
use reachcheck::{Engine, RoutingTable, SnapshotDir, evaluate};

fn now() -> Timestamp {
    "2026-11-21T06:00:00Z"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn bench_demo(c: &mut Criterion) {
    let policies = policies();
    let demo = root().join("examples/demo");
    let routes =
        RoutingTable::load(&demo.join("routes.csv"), &policies).unwrap_or_else(|e| panic!("{e}"));
    let snapshot = SnapshotDir::new(demo.join("snapshot"))
        .load(
            routes.routes().map(|r| r.recipient),
            &policies.resource_ids(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let engine = Engine::new(policies, Arc::new(snapshot), DEFAULT_MAX_DATA_AGE);
    let mut g = c.benchmark_group("demo");
    g.throughput(Throughput::Elements(routes.len() as u64));
    g.bench_function("evaluate", |b| {
        b.iter(|| black_box(evaluate(&engine, &routes, now())));
    });
    g.finish();
}

fn bench_national(c: &mut Criterion) {
    const ROUTES: usize = 1_000_000;
    let policies = policies();
    let types: Vec<String> = policies
        .message_types()
        .iter()
        .map(|t| t.id.to_string())
        .collect();
    let (snapshot, orgs) = national(ROUTES.div_ceil(types.len()));
    // Twelve synthetic senders (police districts), each route a distinct (type, recipient).
    let senders = orgs_from(31_000_001, 12);
    let mut csv = String::from("sender,message_type,recipient\n");
    let pairs = orgs.iter().flat_map(|o| types.iter().map(move |t| (t, o)));
    for (i, (t, org)) in pairs.take(ROUTES).enumerate() {
        let sender = senders[i % senders.len()];
        csv.push_str(&format!("{sender},{t},{org}\n"));
    }
    let routes = RoutingTable::parse(
        Path::new("national.csv"),
        csv.as_bytes(),
        |t| policies.message_type_index(t).is_some(),
        "",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let snapshot = Arc::new(snapshot);
    let mut g = c.benchmark_group("national");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("engine_new", |b| {
        b.iter(|| {
            black_box(Engine::new(
                Arc::clone(&policies),
                Arc::clone(&snapshot),
                DEFAULT_MAX_DATA_AGE,
            ))
        });
    });
    let engine = Engine::new(Arc::clone(&policies), snapshot, DEFAULT_MAX_DATA_AGE);
    let s = evaluate(&engine, &routes, now()).summary();
    eprintln!(
        "national: {} routes: {} readable, {} not_readable, {} unknown",
        s.routes, s.readable, s.not_readable, s.unknown
    );
    g.throughput(Throughput::Elements(routes.len() as u64));
    g.bench_function("evaluate_1m_routes", |b| {
        b.iter_with_large_drop(|| evaluate(&engine, &routes, now()));
    });
    // The same routes in random order: every route's recipient is somewhere else in memory.
    let mut shuffled = routes.clone();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for i in (1..shuffled.entries.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        shuffled.entries.swap(i, (x % (i as u64 + 1)) as usize);
    }
    g.bench_function("evaluate_1m_routes_shuffled", |b| {
        b.iter_with_large_drop(|| evaluate(&engine, &shuffled, now()));
    });
    g.finish();
}

fn bench_process(c: &mut Criterion) {
    let bin = Path::new(env!("CARGO_BIN_EXE_reachcheck"));
    let mut g = c.benchmark_group("process");
    g.sample_size(20);
    g.bench_function("check_demo", |b| {
        b.iter(|| {
            let status = Command::new(bin)
                .current_dir(root())
                .args(["check", "--format", "table", "--color", "never"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(
                matches!(status.code(), Some(0 | 1)),
                "check failed: {status}"
            );
        });
    });
    g.finish();
}

criterion_group!(benches, bench_demo, bench_national, bench_process);
criterion_main!(benches);
