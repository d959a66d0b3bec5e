//! Do the loaders scale linearly? (issue 14: hostile or huge input must not stall a
//! reload.) Each loader is timed on an input and on one ten times larger, in one run, and
//! the ratio of the times is printed: linear work gives about 10, the target is ≤ 15.
//!
//! - XACML: a policy with N `Match` elements in one rule (5,000 and 50,000; the larger
//!   is about 20 MB) through `policy::parse_policy`;
//! - CSV: a routing table of N routes (100,000 and 1,000,000) through `RoutingTable::parse`;
//! - TOML: `message-types.toml` with N message types (2,000 and 20,000) through
//!   `policy::parse_message_types`;
//! - JSON: one unit's connections file with N holders (5,000 and 50,000) through
//!   `SnapshotDir::load`;
//! - explain: `Engine::explain` of a route to a unit whose connections list N holders
//!   (10,000 and 100,000), after it was judged.
//!
//! Run with `cargo bench --bench loaders`. Not a test and not in CI: a measurement. Each
//! figure is the best of three runs.

// A measurement, not a product path: a setup that fails should stop it loudly.
#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use reachcheck::policy::{parse_message_types, parse_policy};
use reachcheck::{MessageTypeId, OrgNumber, RoutingTable, SnapshotDir};

const TARGET: f64 = 15.0;

fn best_of_three(mut f: impl FnMut()) -> Duration {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn policy(matches: usize) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<xacml:Policy xmlns:xacml=\"urn:oasis:names:tc:xacml:3.0:core:schema:wd-17\" PolicyId=\"urn:altinn:policyid:x\" Version=\"1.0\" RuleCombiningAlgId=\"urn:oasis:names:tc:xacml:3.0:rule-combining-algorithm:deny-overrides\">\n<xacml:Target/>\n<xacml:Rule RuleId=\"r1\" Effect=\"Permit\">\n<xacml:Target>\n<xacml:AnyOf>\n",
    );
    for i in 0..matches {
        let _ = write!(
            s,
            "<xacml:AllOf>\n<xacml:Match MatchId=\"urn:oasis:names:tc:xacml:1.0:function:string-equal\">\n<xacml:AttributeValue DataType=\"http://www.w3.org/2001/XMLSchema#string\">role{i}</xacml:AttributeValue>\n<xacml:AttributeDesignator AttributeId=\"urn:altinn:rolecode\" Category=\"urn:oasis:names:tc:xacml:1.0:subject-category:access-subject\" DataType=\"http://www.w3.org/2001/XMLSchema#string\" MustBePresent=\"false\"/>\n</xacml:Match>\n</xacml:AllOf>\n"
        );
    }
    s.push_str("</xacml:AnyOf>\n<xacml:AnyOf>\n<xacml:AllOf>\n<xacml:Match MatchId=\"urn:oasis:names:tc:xacml:1.0:function:string-equal\">\n<xacml:AttributeValue DataType=\"http://www.w3.org/2001/XMLSchema#string\">x</xacml:AttributeValue>\n<xacml:AttributeDesignator AttributeId=\"urn:altinn:resource\" Category=\"urn:oasis:names:tc:xacml:3.0:attribute-category:resource\" DataType=\"http://www.w3.org/2001/XMLSchema#string\" MustBePresent=\"false\"/>\n</xacml:Match>\n</xacml:AllOf>\n</xacml:AnyOf>\n<xacml:AnyOf>\n<xacml:AllOf>\n<xacml:Match MatchId=\"urn:oasis:names:tc:xacml:1.0:function:string-equal\">\n<xacml:AttributeValue DataType=\"http://www.w3.org/2001/XMLSchema#string\">read</xacml:AttributeValue>\n<xacml:AttributeDesignator AttributeId=\"urn:oasis:names:tc:xacml:1.0:action:action-id\" Category=\"urn:oasis:names:tc:xacml:3.0:attribute-category:action\" DataType=\"http://www.w3.org/2001/XMLSchema#string\" MustBePresent=\"false\"/>\n</xacml:Match>\n</xacml:AllOf>\n</xacml:AnyOf>\n</xacml:Target>\n</xacml:Rule>\n</xacml:Policy>\n");
    s
}

fn routes(n: usize) -> Vec<u8> {
    let mut s = String::from("sender,message_type,recipient\n");
    for i in 0..n {
        // Valid organisation numbers: 8 digits and a mod-11 check digit.
        let body = 80_000_000 + (i as u32 % 9_000_000);
        let Some(org) = (0..10)
            .map(|d| body * 10 + d)
            .find(|n| OrgNumber::parse(&n.to_string()).is_ok())
        else {
            continue;
        };
        let _ = writeln!(s, "310000019,bekymringsmelding,{org}");
    }
    s.into_bytes()
}

fn message_types(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let _ = write!(
            s,
            "[[message_type]]\nid = \"type-{i}\"\ntitle = \"Type {i}\"\nresources = [\"resource-{i}\"]\nmin_readers = 1\n\n"
        );
    }
    s
}

fn connections(dir: &Path, org: &str, n: usize) {
    let conn = dir.join("accessmanagement/connections");
    std::fs::create_dir_all(&conn).unwrap();
    let mut s = String::from("{\"links\":{\"next\":null},\"data\":[");
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(
            s,
            "{{\"party\":{{\"id\":\"00000000-0000-4000-8000-{i:012}\",\"name\":\"Person {i}\",\"type\":\"Person\",\"variant\":\"Person\",\"dateOfBirth\":\"1970-01-01\"}},\"roles\":[],\"packages\":[{{\"id\":\"p\",\"urn\":\"urn:altinn:accesspackage:ordinaer-post-til-virksomheten\"}}],\"resources\":[]}}"
        );
    }
    s.push_str("]}");
    std::fs::write(conn.join(format!("{org}.json")), s).unwrap();
    let units = dir.join("enhetsregisteret/enheter");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::write(
        units.join(format!("{org}.json")),
        format!("{{\"organisasjonsnummer\":\"{org}\",\"navn\":\"X\",\"organisasjonsform\":{{\"kode\":\"KOMM\"}}}}"),
    )
    .unwrap();
    std::fs::write(
        dir.join("manifest.json"),
        "{\"taken_at\":\"2026-11-21T05:00:00Z\"}",
    )
    .unwrap();
}

fn report(name: &str, small: (usize, Duration), large: (usize, Duration)) -> bool {
    let ratio = large.1.as_secs_f64() / small.1.as_secs_f64().max(1e-9);
    let ok = ratio <= TARGET;
    println!(
        "{name:<7} {:>9} items {:>9.1} ms   {:>9} items {:>9.1} ms   ratio {ratio:>5.1}  {}",
        small.0,
        small.1.as_secs_f64() * 1e3,
        large.0,
        large.1.as_secs_f64() * 1e3,
        if ok { "ok (≤ 15)" } else { "OVER 15" }
    );
    ok
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let file = Path::new("bench.xml");
    let mut all = true;

    let time_xacml = |n: usize| {
        let text = policy(n);
        let d = best_of_three(|| {
            let mut problems = Vec::new();
            assert!(
                parse_policy(file, &text, &mut problems).is_some(),
                "{problems:?}"
            );
        });
        (n, d)
    };
    all &= report("xacml", time_xacml(5_000), time_xacml(50_000));

    let time_csv = |n: usize| {
        let bytes = routes(n);
        let d = best_of_three(|| {
            let t = RoutingTable::parse(
                Path::new("routes.csv"),
                &bytes,
                |m: &MessageTypeId| m.as_str() == "bekymringsmelding",
                "`bekymringsmelding`",
            )
            .unwrap();
            assert!(!t.is_empty());
        });
        (n, d)
    };
    all &= report("csv", time_csv(100_000), time_csv(1_000_000));

    let time_toml = |n: usize| {
        let text = message_types(n);
        let d = best_of_three(|| {
            let (types, problems) = parse_message_types(Path::new("message-types.toml"), &text);
            assert_eq!(types.len(), n, "{problems:?}");
        });
        (n, d)
    };
    all &= report("toml", time_toml(2_000), time_toml(20_000));

    let time_json = |n: usize| {
        let dir = tempfile::tempdir().unwrap();
        let org = "958935420";
        connections(dir.path(), org, n);
        let snapshot = SnapshotDir::new(dir.path());
        let unit = OrgNumber::parse(org).unwrap();
        let d = best_of_three(|| {
            let s = snapshot.load([unit], &[]).unwrap();
            assert!(s.units.contains_key(&unit));
        });
        (n, d)
    };
    all &= report("json", time_json(5_000), time_json(50_000));

    // Explaining a route to a unit whose connections list N holders (issue 14: a million
    // never finished): the unit is digested and judged first, then only `explain` is timed.
    let policies = reachcheck::Policies::load(Path::new("policies")).unwrap();
    let time_explain = |n: usize| {
        let dir = tempfile::tempdir().unwrap();
        let org = "958935420";
        connections(dir.path(), org, n);
        let routes = RoutingTable::parse(
            Path::new("routes.csv"),
            format!("sender,message_type,recipient\n310000019,ordinaer-post,{org}\n").as_bytes(),
            |m: &MessageTypeId| policies.message_type(m).is_some(),
            "",
        )
        .unwrap();
        let unit = OrgNumber::parse(org).unwrap();
        let gathered = SnapshotDir::new(dir.path())
            .gathered([unit], &policies.resource_ids())
            .unwrap();
        let now = "2026-11-21T06:00:00Z".parse().unwrap();
        let pass = reachcheck::sweep::judge(
            gathered,
            policies.clone(),
            &routes,
            now,
            jiff::SignedDuration::from_hours(24),
        );
        let (r, a) = pass.evaluation.iter().next().unwrap();
        let d = best_of_three(|| {
            let e = pass.engine.explain(
                &r.route,
                a,
                now,
                reachcheck::engine::ExplainOptions::default(),
            );
            assert!(!e.readers.is_empty());
        });
        (n, d)
    };
    all &= report("explain", time_explain(10_000), time_explain(100_000));

    println!(
        "{}",
        if all {
            "every loader scales within the target"
        } else {
            "a loader is over the target"
        }
    );
}
