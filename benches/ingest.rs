//! Ingest of sent messages into the store (issue 15 target: ≥ 50,000 messages per second).
//!
//! What a poll does with what Altinn answered, minus the network: parse each details body
//! (`outcome::parse_details`), place the message on its route (`RouteMap::place`), and
//! write the poll in one transaction (`Store::ingest`) into a SQLite store on disk (WAL, as
//! the daemon runs it). The bodies are in the current `CorrespondenceDetailsExt` shape with
//! a notification and a status history, a third unread, some to routes not in the table.
//!
//! - `ingest/parse`: parsing alone;
//! - `ingest/new_messages`: parse, place and write messages the store has never seen (the
//!   first poll, or a demo's history) — the headline figure, messages per second into the
//!   store;
//! - `ingest/known_messages`: the same into a store that holds them already (every later
//!   poll updates messages that are not final).
//!
//! Run with `cargo bench --bench ingest`; `MESSAGES` sets the batch (20,000). Criterion
//! prints messages per second as `thrpt` (elements/s); a plain line per case is printed too.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};
use reachcheck::outcome::{
    CorrespondenceId, DEFAULT_POLL_FOR, Ingest, RouteMap, parse_details, place_one,
};
use reachcheck::store::Store;
use reachcheck::{OrgNumber, Policies, RoutingTable};
use serde_json::json;

const SENDER: &str = "310000019";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap_or_else(|e| panic!("`{s}`: {e}"))
}

/// 356 synthetic municipalities, the routing table over them, and `n` details bodies.
fn world(n: usize) -> (Policies, RoutingTable, Vec<(CorrespondenceId, Vec<u8>)>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let policies = Policies::load(&root.join("policies")).unwrap_or_else(|e| panic!("{e}"));
    let orgs: Vec<OrgNumber> = (0..)
        .filter_map(|i| OrgNumber::from_body(90_000_000 + i))
        .take(356)
        .collect();
    let mut csv = String::from("sender,message_type,recipient\n");
    // Every municipality but the last 16 is routed: their messages are counted unrouted.
    for o in &orgs[..340] {
        csv.push_str(&format!("{SENDER},bekymringsmelding,{o}\n"));
    }
    let routes = RoutingTable::parse(
        Path::new("ingest.csv"),
        csv.as_bytes(),
        |t| policies.message_type_index(t).is_some(),
        "",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let start = ts("2026-01-01T00:00:00Z");
    let bodies = (0..n)
        .map(|i| {
            let id = CorrespondenceId::from_u128(0x0199_0000_0000_7000_8000_0000_0000_0000 | i as u128);
            let published = start
                .checked_add(SignedDuration::from_secs(i as i64 * 97))
                .unwrap_or(start);
            let read = (i % 3 != 0).then(|| published.checked_add(SignedDuration::from_mins(40)).unwrap_or(published));
            let org = orgs[i % orgs.len()];
            let mut history = vec![
                json!({"status": "Initialized", "statusText": "", "statusChanged": published.to_string()}),
                json!({"status": "Published", "statusText": "", "statusChanged": published.to_string()}),
            ];
            if let Some(r) = read {
                history.push(json!({"status": "Read", "statusText": "", "statusChanged": r.to_string()}));
            }
            let email = json!({"id": null, "succeeded": i % 50 != 0,
                "recipient": {"emailAddress": "post@example.no", "mobileNumber": null,
                    "organizationNumber": org.to_string(), "nationalIdentityNumber": null, "isReserved": false},
                "sendStatus": {"status": if i % 50 == 0 { "Email_Failed_Bounced" } else { "Email_Delivered" },
                    "description": null, "lastUpdate": published.to_string()}});
            let notification = json!({"id": "n", "sendersReference": null, "creator": "x",
                "created": published.to_string(), "isReminder": false, "notificationChannel": "Email",
                "processingStatus": {"status": "Processed", "description": null, "lastUpdate": published.to_string()},
                "notificationStatusDetails": {"email": null, "sms": null, "emails": [email], "smses": []}});
            let mut b = json!({
                "recipient": format!("urn:altinn:organization:identifier-no:{org}"),
                "correspondenceId": id.to_string(), "content": null,
                "created": published.to_string(), "status": "Read", "statusText": "",
                "statusChanged": published.to_string(), "resourceId": "politi-bekymringsmelding",
                "sender": format!("0192:{SENDER}"), "sendersReference": format!("2026/{i:06}"),
                "messageSender": "Politiet", "requestedPublishTime": published.to_string(),
                "dueDateTime": null, "externalReferences": [], "propertyList": {},
                "replyOptions": [], "notification": null, "ignoreReservation": null,
                "isConfirmationNeeded": false, "isConfidential": true, "allowForwarding": false,
                "altinn2CorrespondenceId": null, "published": published.to_string(),
                "read": read.map(|r| r.to_string()), "systemLabel": null
            });
            b["statusHistory"] = serde_json::Value::Array(history);
            b["notifications"] = json!([notification]);
            (id, serde_json::to_vec(&b).unwrap_or_default())
        })
        .collect();
    (policies, routes, bodies)
}

/// Parses and places every body, as a poll does.
fn prepare(map: &RouteMap, bodies: &[(CorrespondenceId, Vec<u8>)], now: Timestamp) -> Vec<Ingest> {
    bodies
        .iter()
        .map(|(id, body)| {
            let details = parse_details(body, Some(*id)).map_err(|e| e.to_string());
            place_one(*id, None, details, map, None, now, DEFAULT_POLL_FOR)
        })
        .collect()
}

fn bench_ingest(c: &mut Criterion) {
    let n = env_or("MESSAGES", 20_000) as usize;
    let (policies, routes, bodies) = world(n);
    let map = RouteMap::new(&policies, &routes);
    let now = ts("2026-11-21T06:00:00Z");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let fresh = |name: &str| {
        let path = dir.path().join(name);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        Store::open(&path).unwrap_or_else(|e| panic!("{e}"))
    };

    // One plain measurement first, so the figure is on one line whatever criterion says.
    let mut store = fresh("once.db");
    let t = Instant::now();
    let items = prepare(&map, &bodies, now);
    let done = store
        .ingest(&items, now, DEFAULT_POLL_FOR)
        .unwrap_or_else(|e| panic!("{e}"));
    let took = t.elapsed();
    assert_eq!(done.new as usize, n);
    eprintln!(
        "ingest: {n} new messages parsed, placed and stored in {:.1} ms: {:.0} messages/s",
        took.as_secs_f64() * 1000.0,
        n as f64 / took.as_secs_f64()
    );
    let t = Instant::now();
    let items = prepare(&map, &bodies, now);
    store
        .ingest(&items, now, DEFAULT_POLL_FOR)
        .unwrap_or_else(|e| panic!("{e}"));
    let took = t.elapsed();
    eprintln!(
        "ingest: {n} known messages parsed, placed and updated in {:.1} ms: {:.0} messages/s",
        took.as_secs_f64() * 1000.0,
        n as f64 / took.as_secs_f64()
    );

    let mut g = c.benchmark_group("ingest");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("parse", |b| {
        b.iter(|| {
            for (id, body) in &bodies {
                let _ = black_box(parse_details(body, Some(*id)));
            }
        });
    });
    g.bench_function("new_messages", |b| {
        b.iter_batched(
            || fresh("new.db"),
            |mut store| {
                let items = prepare(&map, &bodies, now);
                store
                    .ingest(&items, now, DEFAULT_POLL_FOR)
                    .unwrap_or_else(|e| panic!("{e}"));
                store
            },
            BatchSize::PerIteration,
        );
    });
    let mut known = fresh("known.db");
    known
        .ingest(&prepare(&map, &bodies, now), now, DEFAULT_POLL_FOR)
        .unwrap_or_else(|e| panic!("{e}"));
    g.bench_function("known_messages", |b| {
        b.iter(|| {
            let items = prepare(&map, &bodies, now);
            known
                .ingest(&items, now, DEFAULT_POLL_FOR)
                .unwrap_or_else(|e| panic!("{e}"))
        });
    });
    g.finish();
}

criterion_group!(benches, bench_ingest);
criterion_main!(benches);
