//! Data-driven cases: `tests/cases/<name>/` holds policies, a routing table, a snapshot and
//! the expected verdict, reader count and finding codes of every route (see
//! `tests/cases/README.md`). Every mismatch in every case is reported at once.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use reachcheck::engine::DEFAULT_MAX_DATA_AGE;
use reachcheck::settings::{parse_age, parse_time};
use reachcheck::{Policies, RoutingTable, SnapshotDir};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseToml {
    description: String,
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "informative: which rules of docs/design.md the case exercises"
    )]
    rules: Vec<u32>,
    now: String,
    max_data_age: Option<String>,
    policies: Option<String>,
}

#[derive(serde::Deserialize, Debug)]
struct Expected {
    sender: String,
    message_type: String,
    recipient: String,
    verdict: String,
    readers: u32,
    findings: String,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

pub(crate) fn case_dirs(dir: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('_'))
        .collect();
    dirs.sort();
    dirs
}

fn sorted_codes(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s
        .split(';')
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    v.sort();
    v
}

/// Runs one case; returns a description of every mismatch (empty when it passes).
fn run_case(dir: &Path) -> String {
    let mut out = String::new();
    let case: CaseToml = toml::from_str(&std::fs::read_to_string(dir.join("case.toml")).unwrap())
        .unwrap_or_else(|e| panic!("{}: case.toml: {e}", dir.display()));
    assert!(
        !case.description.trim().is_empty(),
        "{}: describe the case",
        dir.display()
    );
    let policies_dir = dir.join(case.policies.as_deref().unwrap_or("policies"));
    let grants = if policies_dir.join("altinn-grants.toml").is_file() {
        policies_dir.join("altinn-grants.toml")
    } else {
        root().join("policies/altinn-grants.toml")
    };
    let policies = match Policies::load_with_grants(&policies_dir, &grants) {
        Ok(p) => p,
        Err(e) => return format!("policies do not load:\n{e}\n"),
    };
    let routes = match RoutingTable::load(&dir.join("routes.csv"), &policies) {
        Ok(r) => r,
        Err(e) => return format!("routes do not load:\n{e}\n"),
    };
    // The same pass `check` makes: the snapshot's evidence, the policies Altinn enforced
    // where it recorded them, every route judged.
    let gathered = match SnapshotDir::new(dir.join("snapshot")).gathered(
        routes.routes().map(|r| r.recipient),
        &policies.resource_ids(),
    ) {
        Ok(g) => g,
        Err(e) => return format!("snapshot does not load: {e}\n"),
    };
    let now = parse_time(&case.now).unwrap();
    let max_age = case
        .max_data_age
        .as_deref()
        .map_or(DEFAULT_MAX_DATA_AGE, |a| parse_age(a).unwrap());
    let evaluation = reachcheck::sweep::judge(gathered, policies, &routes, now, max_age).evaluation;

    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_path(dir.join("expected.csv"))
        .unwrap();
    let expected: Vec<Expected> = reader.deserialize().map(|r| r.unwrap()).collect();
    if expected.len() != evaluation.routes.len() {
        let _ = writeln!(
            out,
            "expected.csv has {} rows, the routing table {} routes",
            expected.len(),
            evaluation.routes.len()
        );
    }
    for (want, (r, a)) in expected.iter().zip(evaluation.iter()) {
        let route = format!(
            "{},{},{}",
            r.route.sender, r.route.message_type, r.route.recipient
        );
        let want_route = format!("{},{},{}", want.sender, want.message_type, want.recipient);
        if route != want_route {
            let _ = writeln!(
                out,
                "row for {want_route} meets route {route} (order must match)"
            );
            continue;
        }
        let got_codes: Vec<String> = {
            let mut v: Vec<String> = a
                .findings()
                .iter()
                .map(|f| f.code().as_str().to_owned())
                .collect();
            v.sort();
            v
        };
        let want_codes = sorted_codes(&want.findings);
        if a.verdict.as_str() != want.verdict
            || a.readers != want.readers
            || got_codes != want_codes
        {
            let _ = writeln!(
                out,
                "line {}: {route}\n    expected {} readers={} [{}]\n    got      {} readers={} [{}]",
                r.line,
                want.verdict,
                want.readers,
                want_codes.join(";"),
                a.verdict,
                a.readers,
                got_codes.join(";")
            );
        }
    }
    out
}

#[test]
fn every_case_gets_exactly_the_expected_verdicts() {
    let dirs = case_dirs("tests/cases");
    assert!(
        dirs.len() >= 20,
        "the corpus should cover every rule; found {}",
        dirs.len()
    );
    let mut report = String::new();
    for dir in &dirs {
        let problems = run_case(dir);
        if !problems.is_empty() {
            let _ = write!(
                report,
                "\n== {}\n{problems}",
                dir.file_name().unwrap().to_string_lossy()
            );
        }
    }
    assert!(report.is_empty(), "cases that do not match:{report}");
}
