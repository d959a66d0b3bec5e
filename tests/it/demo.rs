//! The committed demo (`examples/demo/`) is exactly what its generator writes, and shows
//! what its README says it shows.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use reachcheck::engine::{DEFAULT_MAX_DATA_AGE, ExplainOptions};
use reachcheck::settings::parse_time;
use reachcheck::{EvidenceTier, FindingCode, Policies, RoutingTable, SnapshotDir, Verdict};

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
    assert_eq!(summary.routes, 1073, "{summary}");
    // What examples/demo/README.md says about the access data rules 10-13 read.
    assert_eq!(
        (
            summary.rights_answers,
            summary.write_only,
            summary.inconsistent,
            summary.access_list_members
        ),
        (92, 1, 1, 355),
        "{summary}"
    );
    // The onboarding states examples/demo/README.md states: approved are exactly the 303
    // municipalities with connections (356 - 53 with Enhetsregisteret roles only).
    assert_eq!(
        (
            summary.approved,
            summary.pending,
            summary.rejected,
            summary.denied,
            summary.timed_out,
            summary.never_asked
        ),
        (303, 10, 3, 2, 5, 33),
        "{summary}"
    );
    assert_eq!(summary.approved, summary.municipalities - summary.er_only);

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

/// A hand-picked route of `examples/demo/README.md`: routing-table line, message type,
/// recipient, verdict, readers, evidence tier, finding codes (in any order).
type HandPicked = (
    u32,
    &'static str,
    &'static str,
    Verdict,
    u32,
    EvidenceTier,
    &'static [&'static str],
);

/// The hand-picked routes of `examples/demo/README.md`.
#[rustfmt::skip]
const HAND_PICKED: &[HandPicked] = {
    use EvidenceTier::{Connections, Er};
    use Verdict::{NotReadable, Readable, Unknown};
    const B: &str = "bekymringsmelding";
    const S: &str = "straffesaksforsendelse";
    const O: &str = "ordinaer-post";
    const K: &str = "melding-kriseteam";
    &[
        // Bergen.
        (875, B, "964338531", NotReadable, 0, Connections, &["no_reader"]),
        (876, S, "964338531", Readable, 2, Connections, &[]),
        (877, O, "964338531", Readable, 4, Connections, &[]),
        (39, B, "946439045", Readable, 1, Connections, &["too_few_readers"]),
        (16, S, "940493021", NotReadable, 0, Connections, &["no_reader"]),
        (99, S, "945475056", NotReadable, 0, Connections, &["no_reader"]),
        (626, B, "917151229", NotReadable, 0, Connections, &["no_reader"]),
        (68, O, "936846777", NotReadable, 0, Connections, &["no_reader"]),
        // Lindesnes: Enhetsregisteret roles only.
        (21, B, "921060440", Unknown, 0, Er, &["no_data"]),
        (22, S, "921060440", Readable, 1, Er, &["too_few_readers"]),
        (23, O, "921060440", Readable, 1, Er, &[]),
        (153, O, "970540008", Unknown, 0, Er, &["no_data"]),
        // Child-welfare sub-units.
        (297, B, "320000041", Readable, 2, Connections, &[]),
        (142, B, "320000181", Readable, 4, Connections, &[]),
        (15, B, "320000289", NotReadable, 0, Connections, &["no_reader"]),
        (291, B, "320000033", Unknown, 0, Er, &["no_data"]),
        (1057, B, "320000122", Readable, 2, Er, &[]),
        // Grimstad: an empty notification address list.
        (12, B, "864964702", NotReadable, 0, Connections, &["no_reader", "no_notification_address"]),
        (13, S, "864964702", Readable, 2, Connections, &["no_notification_address"]),
        (14, O, "864964702", Readable, 5, Connections, &["no_notification_address"]),
        // Eidskog: no notification address file.
        (175, B, "964948054", Readable, 2, Connections, &["notification_unknown"]),
        (176, S, "964948054", Readable, 1, Connections, &["too_few_readers", "notification_unknown"]),
        (177, O, "964948054", Readable, 4, Connections, &["notification_unknown"]),
        // Valle: its notification addresses refused to reachcheck, a 403 (rule 14).
        (60, B, "964966575", Readable, 1, Connections, &["too_few_readers", "notification_unverified"]),
        (61, S, "964966575", Readable, 2, Connections, &["notification_unverified"]),
        (62, O, "964966575", Readable, 3, Connections, &["notification_unverified"]),
        // Hyllestad: the only would-be reader's delegations grant only `write` (rule 10).
        (960, S, "964967547", NotReadable, 0, Connections, &["no_reader"]),
        // Lyngen: two readers, but not on the access list of `politi-straffesak-forsendelse`
        // (rule 11).
        (740, S, "840014932", NotReadable, 2, Connections, &["not_on_access_list"]),
        // Brønnøy: connections without a person beside a living daglig leder (rule 13).
        (380, B, "964983291", Unknown, 0, Er, &["evidence_inconsistent"]),
        (381, S, "964983291", Unknown, 0, Er, &["evidence_inconsistent"]),
        (382, O, "964983291", Unknown, 0, Er, &["evidence_inconsistent"]),
        // Agder's pilot of a type whose resource Altinn does not have (a recorded 404):
        // `unknown`, whatever the local draft policy would say.
        (1101, K, "964977402", Unknown, 0, Connections, &["no_reader", "resource_not_in_altinn"]),
        (1102, K, "864964702", Unknown, 0, Connections, &["no_reader", "resource_not_in_altinn", "no_notification_address"]),
        // Not (or no longer) in Enhetsregisteret.
        (1106, B, "330000007", NotReadable, 0, Er, &["recipient_deleted"]),
        (1108, O, "340000005", Unknown, 0, Er, &["no_data"]),
    ]
};

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
    let now = parse_time("2026-11-21T06:00:00Z").unwrap();
    let pass = reachcheck::sweep::judge(gathered, policies, &routes, now, DEFAULT_MAX_DATA_AGE);
    let evaluation = &pass.evaluation;

    // The totals examples/demo/README.md states.
    let s = evaluation.summary();
    assert_eq!(
        (s.routes, s.readable, s.not_readable, s.unknown),
        (1073, 795, 203, 75),
        "update examples/demo/README.md when these change"
    );
    // Its table per message type: readable, not_readable, unknown.
    let mut by_type: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    for (r, a) in evaluation.iter() {
        let row = by_type.entry(r.route.message_type.as_str()).or_default();
        row[match a.verdict {
            Verdict::Readable => 0,
            Verdict::NotReadable => 1,
            Verdict::Unknown => 2,
        }] += 1;
    }
    assert_eq!(
        by_type,
        BTreeMap::from([
            ("bekymringsmelding", [166, 132, 59]),
            ("melding-kriseteam", [0, 0, 3]),
            ("ordinaer-post", [333, 17, 7]),
            ("straffesaksforsendelse", [296, 54, 6]),
        ]),
        "update examples/demo/README.md when these change"
    );
    // And its table of findings.
    let mut findings: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, a) in evaluation.iter() {
        for f in a.findings() {
            *findings.entry(f.code().as_str()).or_default() += 1;
        }
    }
    assert_eq!(
        findings,
        BTreeMap::from([
            (FindingCode::NoReader.as_str(), 204),
            (FindingCode::TooFewReaders.as_str(), 200),
            (FindingCode::NoData.as_str(), 69),
            (FindingCode::NoNotificationAddress.as_str(), 25),
            (FindingCode::NotificationUnknown.as_str(), 21),
            (FindingCode::NotificationUnverified.as_str(), 3),
            (FindingCode::EvidenceInconsistent.as_str(), 3),
            (FindingCode::NotOnAccessList.as_str(), 1),
            (FindingCode::RecipientDeleted.as_str(), 1),
            (FindingCode::ResourceNotInAltinn.as_str(), 3),
            (FindingCode::NotAuthorized.as_str(), 26),
        ]),
        "update examples/demo/README.md when these change"
    );

    // The hand-picked routes, by their line in routes.csv.
    for &(line, message_type, recipient, verdict, readers, tier, codes) in HAND_PICKED {
        let (r, a) = evaluation
            .iter()
            .find(|(r, _)| r.line == line)
            .unwrap_or_else(|| panic!("no route on line {line}"));
        let what = format!("line {line}: {message_type} -> {recipient}");
        assert_eq!(r.route.message_type.as_str(), message_type, "{what}");
        assert_eq!(r.route.recipient.to_string(), recipient, "{what}");
        assert_eq!(
            (a.verdict, a.readers, a.tier),
            (verdict, readers, tier),
            "{what}"
        );
        let mut got: Vec<&str> = a.findings().iter().map(|f| f.code().as_str()).collect();
        let mut want = codes.to_vec();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "{what}");
    }

    // Rule 10: a `no_reader` whose only would-be reader was delegated `write`, not `read`,
    // and the remediation says so (Hyllestad).
    let remediation = |line: u32, code: FindingCode| {
        let (r, a) = evaluation.iter().find(|(r, _)| r.line == line).unwrap();
        pass.engine
            .explain(&r.route, a, now, ExplainOptions::default())
            .findings
            .into_iter()
            .find(|f| f.code == code)
            .map(|f| f.remediation)
            .unwrap_or_else(|| panic!("line {line} has no `{code}`"))
    };
    let write_only = remediation(960, FindingCode::NoReader);
    assert!(
        write_only
            .contains("`politi-straffesak-forsendelse` and `politi-straffesak-filvedlegg` to ")
            && write_only.contains("grant only `write`")
            && write_only.contains("delegate `read`, not only `write`"),
        "{write_only}"
    );
    // No other `no_reader` in the demo comes from a write-only delegation.
    let write_only_routes: Vec<u32> = evaluation
        .iter()
        .filter(|(_, a)| {
            a.findings()
                .iter()
                .any(|f| f.code() == FindingCode::NoReader)
        })
        .filter(|(r, _)| remediation(r.line, FindingCode::NoReader).contains("not only `write`"))
        .map(|(r, _)| r.line)
        .collect();
    assert_eq!(write_only_routes, [960]);
    // A resource Altinn does not have: checked against the registry, never judged from the
    // local draft, and the sender told how to send meanwhile.
    let unpublished = remediation(1101, FindingCode::ResourceNotInAltinn);
    assert!(
        unpublished.contains("`politi-melding-kriseteam`")
            && unpublished.contains("resource registry")
            && unpublished.contains("kriseteam"),
        "{unpublished}"
    );
    // Rule 11: the owner is asked to add Lyngen to the list; no delegation can fix it.
    let listed = remediation(740, FindingCode::NotOnAccessList);
    assert!(
        listed.contains("`politiet`") && listed.contains("`straffesak-kommuner`"),
        "{listed}"
    );
}

/// The demo's recorded system-user requests: organisation, status and `confirmUrl`.
fn recorded_requests() -> Vec<(String, String, String)> {
    let dir = demo().join("snapshot/authentication/systemuser/request");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        let field = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        out.push((field("partyOrgNo"), field("status"), field("confirmUrl")));
    }
    out.sort();
    out
}

#[test]
fn the_pending_municipalities_not_authorized_findings_carry_their_own_link_and_nobody_elses() {
    let requests = recorded_requests();
    let count = |status: &str| requests.iter().filter(|r| r.1 == status).count();
    assert_eq!(
        ["Accepted", "New", "Rejected", "Denied", "Timedout"].map(count),
        [303, 10, 3, 2, 5]
    );
    let link_of = |org: &str| {
        requests
            .iter()
            .find(|r| r.0 == org && r.1 == "New")
            .map(|r| r.2.clone())
    };

    let policies = Policies::load(&root().join("policies")).unwrap();
    let routes = RoutingTable::load(&demo().join("routes.csv"), &policies).unwrap();
    let gathered = SnapshotDir::new(demo().join("snapshot"))
        .gathered(
            routes.routes().map(|r| r.recipient),
            &policies.resource_ids(),
        )
        .unwrap();
    let now = parse_time("2026-11-21T06:00:00Z").unwrap();
    let pass = reachcheck::sweep::judge(gathered, policies, &routes, now, DEFAULT_MAX_DATA_AGE);
    let mut pending_seen = std::collections::BTreeSet::new();
    let mut not_authorized = 0;
    for (_, a) in pass.evaluation.iter() {
        for f in a.findings() {
            if let reachcheck::Finding::NotAuthorized {
                unit,
                approval_link,
            } = f
            {
                not_authorized += 1;
                let own = link_of(&unit.to_string());
                assert_eq!(approval_link.as_deref(), own.as_deref(), "{unit}");
                if own.is_some() {
                    pending_seen.insert(*unit);
                }
            }
        }
    }
    assert_eq!(not_authorized, 26);
    assert_eq!(pending_seen.len(), 10, "{pending_seen:?}");

    // `check --details` prints each pending municipality's link next to its own name, and no
    // decided request's link.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .args([
            "check",
            "--details",
            "--policies",
            "policies",
            "--routes",
            "examples/demo/routes.csv",
            "--snapshot",
            "examples/demo/snapshot",
            "--now",
            "2026-11-21T06:00:00Z",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    for (org, status, link) in &requests {
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(link.as_str())).collect();
        if status == "New" {
            assert!(!lines.is_empty(), "{org}'s link is missing");
            assert!(
                lines.iter().all(|l| l.contains(org.as_str())),
                "{org}'s link on a line about someone else: {lines:?}"
            );
        } else {
            assert!(lines.is_empty(), "{status} {org}'s link printed: {lines:?}");
        }
    }
}

/// Runs reachcheck in the repository root (the demo's `reachcheck.toml`).
fn reachcheck(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .current_dir(root())
        .args(args)
        .env(
            "REACHCHECK_API_TOKENS",
            "demo:0123456789abcdef0123456789abcdef",
        )
        .output()
        .unwrap()
}

#[test]
fn reports_and_letters_name_organisations_and_letters_say_what_check_says() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("demo.db");
    let store = store.to_str().unwrap();
    let o = reachcheck(&["serve", "--once", "--store", store]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--store", store]);
        let o = reachcheck(&all);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };

    // Bergen: concern reports need 2 readers (`check` says 0/2), nobody can read them.
    let letter = out(&["report", "--format", "letter", "--recipient", "964338531"]);
    for want in [
        "# Meldinger til BERGEN KOMMUNE (964338531) som ingen kan lese i Altinn",
        "Til: BERGEN KOMMUNE (964338531)",
        // The sender's name from `[senders]` in reachcheck.toml.
        "Fra: Vest politidistrikt (310000124)",
        "Dato: 2026-11-21",
        "til minst 2 personer som skal lese meldingene",
    ] {
        assert!(letter.contains(want), "`{want}` not in:\n{letter}");
    }
    assert!(
        !letter.contains("minst én person som skal lese"),
        "{letter}"
    );
    assert!(!letter.to_lowercase().contains("sveip"), "{letter}");

    // Froland: every type readable, concern reports by 1 of the 2 required.
    let letter = out(&["report", "--format", "letter", "--recipient", "946439045"]);
    assert!(
        letter.starts_with("# Meldinger til FROLAND KOMMUNE (946439045) i Altinn kan leses\n"),
        "{letter}"
    );
    assert!(!letter.contains("som ingen kan lese"), "{letter}");
    assert!(
        letter.contains(
            "bare 1 person hos dere kan lese disse meldingene, og avsenderen krever minst 2"
        ),
        "{letter}"
    );
    let letter = out(&[
        "report",
        "--format",
        "letter",
        "--recipient",
        "946439045",
        "--lang",
        "en",
    ]);
    assert!(
        letter.starts_with("# Messages to FROLAND KOMMUNE (946439045) in Altinn can be read\n"),
        "{letter}"
    );

    // The report: names beside numbers, Norwegian number formatting in bokmål.
    let md = out(&["report", "--format", "markdown"]);
    for want in [
        "| 310000124 Vest politidistrikt |",
        "| 964338531 BERGEN KOMMUNE |",
        "| 1073 | 795 | 203 | 75 | 74,1\u{a0}% |",
        // The demo pins `now`: the report says so.
        "> Tiden er låst til 2026-11-21 06:00 UTC av `now` i konfigurasjonen",
    ] {
        assert!(md.contains(want), "`{want}` not in the report");
    }
    assert!(!md.contains("74.1"), "a decimal point in the bokmål report");
    // Recipients that need action first, by sender; the green ones only counted there and
    // listed in the appendix (Froland is green: every route readable).
    let section = md
        .split("## Per mottaker\n\n")
        .nth(1)
        .and_then(|r| r.split("\n## ").next())
        .unwrap();
    assert!(
        section.starts_with("Mottakere som trenger tiltak: 198 av 398 ")
            && section.contains("Grønne, alle rutene lesbare: 200.")
            && section.contains("### 310000124 Vest politidistrikt\n")
            && section.contains("| 964338531 BERGEN KOMMUNE | 🔴 Rød |")
            && !section.contains("946439045 FROLAND KOMMUNE"),
        "{section}"
    );
    let appendix = md.split("## Vedlegg: alle mottakere\n").nth(1).unwrap();
    assert!(appendix.contains("| 946439045 FROLAND KOMMUNE | 🟢 Grønn |"));
    assert_eq!(
        appendix
            .lines()
            .filter(|l| l.starts_with("| ") && l.contains(" | 🔴 ")
                || l.starts_with("| ") && l.contains(" | 🟡 ")
                || l.starts_with("| ") && l.contains(" | 🟢 "))
            .count(),
        398,
        "every recipient in the appendix"
    );
    let en = out(&["report", "--format", "markdown", "--lang", "en"]);
    assert!(en.contains("| 1073 | 795 | 203 | 75 | 74.1\u{a0}% |"));
    // JSON and CSV keep numbers as numbers, and carry the names beside them.
    let json: serde_json::Value =
        serde_json::from_str(&out(&["report", "--format", "json"])).unwrap();
    assert_eq!(json["data"]["coverage"]["readable_permille"], 741);
    assert_eq!(json["data"]["names"]["964338531"], "BERGEN KOMMUNE");
    assert_eq!(json["data"]["names"]["310000124"], "Vest politidistrikt");
    assert_eq!(json["data"]["pinned_now"], "2026-11-21T06:00:00Z");
    let csv = out(&["report", "--format", "csv"]);
    assert!(
        csv.contains("organisation,964338531,name,BERGEN KOMMUNE"),
        "{csv}"
    );
}
