//! Latency of the AuthZEN searches in process: [`RouteIndex::page`] over the
//! [`Verifier`] of the synthetic national case (1,000,000 routes, twelve senders), as the
//! HTTP API calls it before shaping JSON.
//!
//! Target (issue 19): p99 ≤ 1 ms for a resource search page of 100.
//!
//! Rows: `resource/first` — the first page of 100 of a random (sender, message type);
//! `resource/deep` — a page of 100 from a random position of such a search (a client
//! following tokens); `action` — the message types a random routed (sender, recipient)
//! pair can use; `subject` — the senders of a random routed (message type, recipient).
//! Each call is timed on its own with `Instant`. The index is refreshed from the verifier
//! first, as the daemon does after each sweep (resource searches take the fast path).
//!
//! Run with `cargo bench --bench search`. Options through the environment: `CALLS` (timed
//! calls per row, 20,000), `ROUTES` (routes of the national case, 1,000,000), `LIMIT`
//! (page size, 100).

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use common::{Percentiles, XorShift, env_or, human, listing, load_average, ts};
use jiff::Timestamp;
use reachcheck::engine::DEFAULT_MAX_DATA_AGE;
use reachcheck::search::{Query, RouteIndex};
use reachcheck::{Engine, Verifier, evaluate};

fn row(label: &str, calls: usize, mut one: impl FnMut(usize) -> (usize, bool)) {
    // Warm the caches on the same kind of call.
    for i in 0..calls.min(2_000) {
        black_box(one(i));
    }
    let mut ns = Vec::with_capacity(calls);
    let (mut results, mut more) = (0usize, 0usize);
    for i in 0..calls {
        let t = Instant::now();
        let (n, next) = one(i);
        ns.push(t.elapsed().as_nanos() as u64);
        results += n;
        more += usize::from(next);
    }
    let p = Percentiles::of(&mut ns);
    println!(
        "{label:<16} {:>8} {:>10} {:>10} {:>10} {:>10} {:>12.1} {:>8.0}%",
        p.n,
        human(p.p50),
        human(p.p99),
        human(p.p999),
        human(p.max),
        results as f64 / calls as f64,
        more as f64 * 100.0 / calls as f64,
    );
}

fn main() {
    if listing() {
        return;
    }
    let calls = env_or("CALLS", 20_000) as usize;
    let routes = env_or("ROUTES", 1_000_000) as usize;
    let limit = env_or("LIMIT", 100) as usize;
    println!("load average at start: {}", load_average());
    let policies = common::policies();
    let t = Instant::now();
    let (snapshot, orgs) = common::national(common::units_for(&policies, routes));
    let (_, table) = common::national_routes(&policies, &orgs, routes);
    let engine = Engine::new(
        Arc::clone(&policies),
        Arc::new(snapshot),
        DEFAULT_MAX_DATA_AGE,
    );
    let now: Timestamp = ts(common::NOW);
    let evaluation = evaluate(&engine, &table, now);
    let verifier = Verifier::new(engine, Some(&evaluation));
    println!(
        "national: {} routes over {} units, generated, judged and loaded in {:.1} s",
        table.len(),
        orgs.len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let index = RouteIndex::new(&table, &policies);
    println!(
        "RouteIndex::new: {} routes in {:.0} ms",
        index.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    index.refresh(&verifier);
    println!(
        "RouteIndex::refresh: {:.0} ms, fast path holds {:.1} MB",
        t.elapsed().as_secs_f64() * 1e3,
        index.readable_bytes() as f64 / 1e6
    );
    assert!(index.is_current(&verifier));

    // The questions, drawn from the table's own routes.
    let mut rng = XorShift::new(19);
    let picks: Vec<usize> = (0..calls)
        .map(|_| (rng.next_u64() % table.entries.len() as u64) as usize)
        .collect();
    let route = |i: usize| &table.entries[picks[i]].route;
    let resources: Vec<Query> = (0..calls)
        .map(|i| Query::Resources {
            sender: route(i).sender,
            message_type: route(i).message_type.clone(),
        })
        .collect();
    let offsets: Vec<usize> = resources
        .iter()
        .map(|q| {
            let n = index.candidates(q).len();
            (rng.next_u64() % n.max(1) as u64) as usize
        })
        .collect();
    let actions: Vec<Query> = (0..calls)
        .map(|i| Query::Actions {
            sender: route(i).sender,
            recipient: route(i).recipient,
        })
        .collect();
    let subjects: Vec<Query> = (0..calls)
        .map(|i| Query::Subjects {
            message_type: route(i).message_type.clone(),
            recipient: route(i).recipient,
        })
        .collect();

    println!(
        "{:<16} {:>8} {:>10} {:>10} {:>10} {:>10} {:>12} {:>9}",
        "search", "calls", "p50", "p99", "p99.9", "max", "results", "more"
    );
    row("resource/first", calls, |i| {
        let p = index.page(&verifier, &resources[i], 0, limit, now);
        (p.hits.len(), p.next.is_some())
    });
    row("resource/deep", calls, |i| {
        let p = index.page(&verifier, &resources[i], offsets[i], limit, now);
        (p.hits.len(), p.next.is_some())
    });
    row("action", calls, |i| {
        let p = index.page(&verifier, &actions[i], 0, limit, now);
        (p.hits.len(), p.next.is_some())
    });
    row("subject", calls, |i| {
        let p = index.page(&verifier, &subjects[i], 0, limit, now);
        (p.hits.len(), p.next.is_some())
    });
    println!("load average at end: {}", load_average());
}
