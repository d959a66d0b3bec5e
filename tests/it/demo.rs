//! The committed demo (`examples/demo/`) is exactly what its generator writes, and shows
//! what its README says it shows.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use reachcheck::engine::DEFAULT_MAX_DATA_AGE;
use reachcheck::settings::parse_time;
use reachcheck::{
    EvidenceTier, FindingCode, OrgNumber, Policies, RoutingTable, SnapshotDir, Verdict,
};

#[path = "../../examples/demo/generate.rs"]
#[allow(
    dead_code,
    unreachable_pub,
    reason = "the example's `main` and its public items are used by the example binary, not here"
)]
mod generate;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn demo() -> PathBuf {
    root().join(generate::DEFAULT_OUT)
}

/// Every file under `dir`, by path relative to `dir`.
fn tree(dir: &Path) -> io::Result<BTreeMap<String, Vec<u8>>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) -> io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(base, &path, out)?;
            } else {
                let rel = path.strip_prefix(base).unwrap_or(&path);
                let rel = rel.to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read(&path)?);
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out)?;
    Ok(out)
}

#[test]
fn the_committed_demo_is_what_the_generator_writes_with_the_default_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let summary = generate::generate(generate::DEFAULT_SEED, tmp.path()).unwrap();
    assert_eq!(summary.routes, 1070, "{summary}");

    for file in ["routes.csv", "municipalities.csv"] {
        let fresh = std::fs::read(tmp.path().join(file)).unwrap();
        let committed = std::fs::read(demo().join(file)).unwrap();
        assert!(
            fresh == committed,
            "examples/demo/{file} differs from a fresh generation: rerun `cargo run --example generate-demo`"
        );
    }
    let fresh = tree(&tmp.path().join("snapshot")).unwrap();
    let committed = tree(&demo().join("snapshot")).unwrap();
    let names = |t: &BTreeMap<String, Vec<u8>>| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&fresh),
        names(&committed),
        "the snapshot's file list differs: rerun the generator"
    );
    let differing: Vec<&String> = fresh
        .iter()
        .filter(|(k, v)| committed.get(*k) != Some(v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        differing.is_empty(),
        "snapshot files differ from a fresh generation: {differing:?}"
    );
    assert_eq!(summary.snapshot_files, fresh.len());
}

#[test]
fn the_generator_is_deterministic_and_the_seed_matters() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    generate::generate(7, a.path()).unwrap();
    generate::generate(7, b.path()).unwrap();
    assert!(
        tree(a.path()).unwrap() == tree(b.path()).unwrap(),
        "two runs with seed 7 differ"
    );
    generate::generate(8, b.path()).unwrap();
    assert!(
        tree(a.path()).unwrap() != tree(b.path()).unwrap(),
        "seeds 7 and 8 give the same demo"
    );
}

#[test]
fn the_demo_snapshot_holds_no_national_identity_number() {
    for (name, bytes) in tree(&demo().join("snapshot")).unwrap() {
        if !name.ends_with(".json") {
            continue;
        }
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            !text.contains("personIdentifier"),
            "{name} has a personIdentifier"
        );
        // Words of 11 digits (UUID groups have 4, 8 or 12 characters).
        let eleven_digits = text
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w.len() == 11 && w.bytes().all(|b| b.is_ascii_digit()));
        assert!(!eleven_digits, "{name} has an 11-digit number");
    }
}

#[test]
fn the_demo_shows_every_verdict_and_the_findings_its_readme_promises() {
    let policies = Policies::load(&root().join("policies")).unwrap();
    let routes = RoutingTable::load(&demo().join("routes.csv"), &policies).unwrap();
    let gathered = SnapshotDir::new(demo().join("snapshot"))
        .gathered(
            routes.routes().map(|r| r.recipient),
            &policies.resource_ids(),
        )
        .unwrap();
    let pass = reachcheck::sweep::judge(
        gathered,
        policies,
        &routes,
        parse_time("2026-11-21T06:00:00Z").unwrap(),
        DEFAULT_MAX_DATA_AGE,
    );
    let evaluation = pass.evaluation;

    // The totals examples/demo/README.md states.
    let s = evaluation.summary();
    assert_eq!(
        (s.routes, s.readable, s.not_readable, s.unknown),
        (1070, 796, 205, 69),
        "update examples/demo/README.md when these change"
    );
    let mut findings: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, a) in evaluation.iter() {
        for f in a.findings() {
            *findings.entry(f.code().as_str()).or_default() += 1;
        }
    }
    for code in [
        FindingCode::NoReader,
        FindingCode::TooFewReaders,
        FindingCode::NoData,
        FindingCode::RecipientDeleted,
        FindingCode::NoNotificationAddress,
        FindingCode::NotificationUnknown,
    ] {
        assert!(
            findings.contains_key(code.as_str()),
            "no `{code}` in the demo: {findings:?}"
        );
    }
    assert_eq!(findings.get("recipient_deleted"), Some(&1));

    // Bergen: complete connections, an ordinary-post reader, nobody with confidential post.
    let bergen = OrgNumber::parse("964338531").unwrap();
    let of = |t: &str| {
        evaluation
            .iter()
            .find(|(r, _)| r.route.recipient == bergen && r.route.message_type.as_str() == t)
            .map(|(_, a)| a.clone())
            .unwrap()
    };
    let concern = of("bekymringsmelding");
    assert_eq!(concern.verdict, Verdict::NotReadable);
    assert_eq!(concern.tier, EvidenceTier::Connections);
    assert_eq!(concern.findings()[0].code(), FindingCode::NoReader);
    let ordinary = of("ordinaer-post");
    assert_eq!(ordinary.verdict, Verdict::Readable);
    assert_eq!(ordinary.tier, EvidenceTier::Connections);
}
