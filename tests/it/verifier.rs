//! The library's pre-send check: same answers as the sweep, shared across threads,
//! atomic swaps, and staleness judged at the time of each check.

use std::sync::Arc;

use jiff::Timestamp;
use reachcheck::engine::DEFAULT_MAX_DATA_AGE;
use reachcheck::{
    Engine, MessageTypeId, OrgNumber, Policies, Route, RoutingTable, SnapshotDir, Verdict,
    Verifier, evaluate,
};

use crate::fixture::{BAD, ER_ONLY, GOOD, World, route};

fn policies() -> Arc<Policies> {
    Arc::new(
        Policies::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")).unwrap(),
    )
}

fn now() -> Timestamp {
    "2026-11-21T06:00:00Z".parse().unwrap()
}

fn r(t: &str, recipient: &str) -> Route {
    Route::new(
        OrgNumber::parse("310000019").unwrap(),
        MessageTypeId::parse(t).unwrap(),
        OrgNumber::parse(recipient).unwrap(),
    )
}

fn world_engine(w: &World) -> (Engine, RoutingTable) {
    let p = policies();
    let routes = RoutingTable::load(&w.routes(), &p).unwrap();
    let snap = SnapshotDir::new(w.snapshot())
        .load(routes.routes().map(|r| r.recipient), &p.resource_ids())
        .unwrap();
    (Engine::new(p, Arc::new(snap), DEFAULT_MAX_DATA_AGE), routes)
}

#[test]
fn checks_answer_exactly_what_the_sweep_judged() {
    let rows = [
        route("bekymringsmelding", GOOD),
        route("bekymringsmelding", BAD),
        route("bekymringsmelding", ER_ONLY),
        route("ordinaer-post", ER_ONLY),
    ];
    let w = World::new(&rows.iter().map(String::as_str).collect::<Vec<_>>());
    let (engine, routes) = world_engine(&w);
    let evaluation = evaluate(&engine, &routes, now());
    let verifier = Verifier::new(engine, Some(&evaluation));
    for (result, a) in evaluation.iter() {
        let d = verifier.check_at(&result.route, now());
        assert_eq!(d.verdict, a.verdict, "{}", result.route);
        assert_eq!(d.readers, a.readers);
        assert_eq!(&*d.findings, a.findings());
        assert_eq!(d.data_age.as_secs(), 3600);
    }
    // A route the sweep did not cover is judged on demand from the same snapshot.
    let d = verifier.check_at(&r("straffesaksforsendelse", GOOD), now());
    assert_eq!(
        d.verdict,
        Verdict::NotReadable,
        "nobody at OSLO holds the straffesak resources"
    );
    assert!(d.fallback.is_some());
}

#[test]
fn evidence_that_ages_past_the_limit_turns_unknown_at_check_time() {
    let w = World::new(&[&route("bekymringsmelding", GOOD)]);
    let (engine, routes) = world_engine(&w);
    let evaluation = evaluate(&engine, &routes, now());
    let verifier = Verifier::new(engine, Some(&evaluation));
    let route = r("bekymringsmelding", GOOD);
    assert_eq!(verifier.check_at(&route, now()).verdict, Verdict::Readable);
    let later: Timestamp = "2026-11-22T06:00:01Z".parse().unwrap();
    let d = verifier.check_at(&route, later);
    assert_eq!(d.verdict, Verdict::Unknown);
    assert!(d.findings.iter().any(|f| f.code().as_str() == "stale_data"));
    let words = verifier.explain(&route, &d);
    assert!(
        words
            .findings
            .iter()
            .any(|f| f.message.contains("older than the allowed"))
    );
}

#[test]
fn unknown_message_types_are_refused_by_try_check_and_never_readable() {
    let w = World::new(&[&route("bekymringsmelding", GOOD)]);
    let (engine, _) = world_engine(&w);
    let verifier = Verifier::new(engine, None);
    let route = r("brev", GOOD);
    assert!(verifier.try_check_at(&route, now()).is_err());
    assert_eq!(verifier.check_at(&route, now()).verdict, Verdict::Unknown);
}

#[test]
fn clones_share_one_state_across_threads_and_swap_atomically() {
    let w = World::new(&[&route("bekymringsmelding", BAD)]);
    let (engine, routes) = world_engine(&w);
    let evaluation = evaluate(&engine, &routes, now());
    let verifier = Verifier::new(engine, Some(&evaluation));
    let route = r("bekymringsmelding", BAD);
    assert_eq!(
        verifier.check_at(&route, now()).verdict,
        Verdict::NotReadable
    );

    // Fix the recipient: two people get the confidential package.
    let fixed = World::new(&[&crate::fixture::route("bekymringsmelding", BAD)]);
    std::fs::copy(
        fixed
            .snapshot()
            .join(format!("accessmanagement/connections/{GOOD}.json")),
        fixed
            .snapshot()
            .join(format!("accessmanagement/connections/{BAD}.json")),
    )
    .unwrap();
    let (engine2, routes2) = world_engine(&fixed);
    let evaluation2 = evaluate(&engine2, &routes2, now());

    let seen: Vec<Verdict> = std::thread::scope(|s| {
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let v = verifier.clone();
                let route = route.clone();
                s.spawn(move || {
                    (0..2000)
                        .map(|_| v.check_at(&route, now()).verdict)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        verifier.swap(engine2, Some(&evaluation2));
        readers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        seen.iter()
            .all(|v| matches!(v, Verdict::NotReadable | Verdict::Readable)),
        "never a mix"
    );
    assert_eq!(verifier.check_at(&route, now()).verdict, Verdict::Readable);
}
