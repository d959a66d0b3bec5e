//! `check`'s output: the filters of the printed routes, the summary-first table and its
//! legend, output files (permissions, a missing folder), and the demo's JSON and CSV
//! unchanged by rendering route by route.

use std::path::Path;
use std::process::{Command, Output};

use reachcheck::engine::DEFAULT_MAX_DATA_AGE;
use reachcheck::output::{Format, RenderOptions, Rendering};
use reachcheck::settings::parse_time;
use reachcheck::{Policies, RoutingTable, SnapshotDir};
use sha2::{Digest as _, Sha256};

use crate::fixture::{BAD, ER_ONLY, GOOD, World, route, stderr, stdout};

/// A second sender (the demo's Sør-Vest police district).
const OTHER_SENDER: &str = "310000027";

/// readable, not_readable, unknown, and a readable route from the other sender.
fn world() -> World {
    World::new(&[
        &route("bekymringsmelding", GOOD),
        &route("bekymringsmelding", BAD),
        &route("bekymringsmelding", ER_ONLY),
        &format!("{OTHER_SENDER},ordinaer-post,{GOOD}"),
    ])
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(o)))
}

fn verdicts(v: &serde_json::Value) -> Vec<String> {
    v["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["verdict"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn only_prints_those_verdicts_while_summary_and_exit_code_cover_every_route() {
    let w = world();
    let o = w.run(&[
        "check",
        "--format",
        "json",
        "--only",
        "not_readable,unknown",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(verdicts(&v), ["not_readable", "unknown"]);
    assert_eq!(v["routes"][0]["recipient"], BAD);
    assert_eq!(v["summary"]["routes"], 4, "the summary counts every route");
    assert_eq!(v["summary"]["readable"], 2);
    assert_eq!(
        v["filter"],
        serde_json::json!({
            "only": ["not_readable", "unknown"], "sender": [], "message_type": [], "routes": 2
        }),
        "JSON says which filter applied and how many routes it let through"
    );

    // Showing only the readable routes does not make the run pass.
    let o = w.run(&["check", "--format", "json", "--only", "readable"]);
    assert_eq!(o.status.code(), Some(1), "the exit code covers every route");
    assert_eq!(verdicts(&json(&o)), ["readable", "readable"]);

    // Nothing printed, everything readable: 0 all the same.
    let all_good = World::new(&[&route("bekymringsmelding", GOOD)]);
    let o = all_good.run(&["check", "--format", "json", "--only", "not_readable"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["routes"], serde_json::json!([]));
    assert_eq!(v["filter"]["routes"], 0);
    assert_eq!(v["summary"]["readable"], 1);
}

#[test]
fn sender_and_message_type_filters_combine_and_csv_follows_them() {
    let w = world();
    let o = w.run(&["check", "--format", "json", "--sender", OTHER_SENDER]);
    let v = json(&o);
    assert_eq!(v["routes"].as_array().unwrap().len(), 1);
    assert_eq!(v["routes"][0]["sender"], OTHER_SENDER);
    assert_eq!(v["filter"]["sender"], serde_json::json!([OTHER_SENDER]));
    assert_eq!(
        o.status.code(),
        Some(1),
        "other senders' routes still count"
    );

    let o = w.run(&[
        "check",
        "--format",
        "json",
        "--message-type",
        "bekymringsmelding",
        "--only",
        "readable",
    ]);
    let v = json(&o);
    assert_eq!(v["routes"].as_array().unwrap().len(), 1);
    assert_eq!(v["routes"][0]["recipient"], GOOD);
    assert_eq!(v["routes"][0]["message_type"], "bekymringsmelding");

    let o = w.run(&["check", "--format", "csv", "--only", "unknown"]);
    let out = stdout(&o);
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(out.as_bytes())
        .records()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "{out}");
    assert_eq!(&rows[0][2], ER_ONLY);
    assert_eq!(&rows[0][3], "unknown");

    // Without a filter the JSON carries no `filter` field: the contract is as it was.
    let v = json(&w.run(&["check", "--format", "json"]));
    assert!(v.get("filter").is_none());
    assert_eq!(v["routes"].as_array().unwrap().len(), 4);
}

#[test]
fn bad_filters_exit_2_naming_the_value() {
    let w = world();
    let o = w.run(&["check", "--only", "maybe"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o)
            .contains("`maybe` is not a verdict: use `readable`, `not_readable` or `unknown`"),
        "{}",
        stderr(&o)
    );
    let o = w.run(&["check", "--message-type", "brev"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("error: `--message-type`: unknown message type `brev`:"),
        "{}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty());
    let o = w.run(&["check", "--sender", "12345"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("`12345`"), "{}", stderr(&o));
}

#[test]
fn the_table_says_what_it_shows_explains_readers_and_can_open_with_the_summary() {
    let w = world();
    let o = w.run(&["check", "--only", "unknown"]);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("VERDICT  "), "{out}");
    assert!(lines[1].starts_with("unknown "), "{out}");
    assert!(
        lines[2].is_empty(),
        "one route shown, then the summary: {out}"
    );
    assert!(
        out.contains("4 routes: 2 readable, 1 not readable, 1 unknown"),
        "{out}"
    );
    assert!(
        out.contains("shown: 1 of 4 routes (--only unknown); the counts above cover them all"),
        "{out}"
    );
    assert!(
        out.contains("READERS = found/required: people at the recipient who can read"),
        "{out}"
    );

    let o = w.run(&["check", "--summary-first"]);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("4 routes: "), "{out}");
    let header = lines.iter().position(|l| l.starts_with("VERDICT")).unwrap();
    assert!(
        lines[..header].iter().any(|l| l.starts_with("READERS = ")),
        "the legend comes before the routes: {out}"
    );
    assert_eq!(
        lines.len(),
        header + 5,
        "then the header and every route: {out}"
    );
    assert!(!out.contains("shown:"), "no filter, no filter line");
    assert_eq!(o.status.code(), Some(1));

    let md = stdout(&w.run(&["check", "--format", "markdown", "--only", "not_readable"]));
    assert!(
        md.contains("Shown below: 1 of 4 routes (`--only not_readable`)"),
        "{md}"
    );
    assert!(md.contains("*Readers*: found/required"), "{md}");
    assert_eq!(md.matches("| not_readable | 0/2 |").count(), 1, "{md}");
    assert!(!md.contains("| readable | 2/"), "{md}");
}

/// `reachcheck check` on the world under `umask`, written to `-o out.json`.
fn check_with_umask(w: &World, umask: &str) -> Output {
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    Command::new("sh")
        .current_dir(w.path())
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_reachcheck"))
        .args(["check", "--routes", "routes.csv", "--snapshot", "snapshot"])
        .args([
            "--now",
            "2026-11-21T06:00:00Z",
            "--format",
            "json",
            "-o",
            "out.json",
        ])
        .arg("--policies")
        .arg(policies)
        .output()
        .unwrap()
}

#[cfg(unix)]
#[test]
fn output_files_are_created_as_the_umask_says() {
    use std::os::unix::fs::PermissionsExt as _;
    let w = world();
    let mode = || {
        std::fs::metadata(w.path().join("out.json"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    for (umask, expected) in [
        ("022", 0o644),
        ("027", 0o640),
        ("077", 0o600),
        ("002", 0o664),
    ] {
        // The second run replaces the file of the first: the new one has the new mode.
        let o = check_with_umask(&w, umask);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert_eq!(mode(), expected, "umask {umask}");
    }
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.path().join("out.json")).unwrap()).unwrap();
    assert_eq!(v["summary"]["routes"], 4, "written whole");
}

#[test]
fn output_into_a_missing_folder_exits_2_naming_the_folder_and_no_temporary_file() {
    let w = world();
    let o = w.run(&["check", "--format", "json", "-o", "nowhere/out.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    assert_eq!(
        stderr(&o),
        "error: cannot write `nowhere/out.json`: the folder `nowhere` does not exist\n"
    );
    assert!(!stderr(&o).contains(".tmp"));
    assert!(!w.path().join("nowhere").exists(), "nothing is created");
    // A folder that is a file is no folder either.
    std::fs::write(w.path().join("plain"), "").unwrap();
    let o = w.run(&["check", "-o", "plain/out.txt"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "error: cannot write `plain/out.txt`: the folder `plain` does not exist\n"
    );
}

/// SHA-256 of `reachcheck check --format FORMAT` on the demo (`reachcheck.toml`), as the
/// renderer wrote it before it rendered route by route in bounded memory (commit c636362).
/// JSON and CSV are contracts (docs/design.md): these change only with the demo itself
/// (`cargo run --example generate-demo`); then record the new digests with
/// `cargo run --release -- check --format FORMAT | sha256sum` and say why in the commit.
const DEMO_DIGESTS: [(&str, &[&str], &str); 4] = [
    (
        "json",
        &[],
        "fd3b0648569f615d4b72014679fa1b1adbb5340914169dd9b0e2aebe1c82eefa",
    ),
    (
        "csv",
        &[],
        "7871a8d8ec2814ec1483bb42f1c33662cf59c036159152f10825f523cb307b16",
    ),
    (
        "json",
        &["--details", "--show-names"],
        "bb89907b9e9bdd2d6292c1c1c6b1d23b4989c47c7e3535b40629ee1b6c123cb6",
    ),
    (
        "csv",
        &["--details", "--show-names"],
        "da2be8f21718523921bb521d35eb68206bde2a08648d43cb17bc690fb06f30a7",
    ),
];

#[test]
fn the_demo_json_and_csv_are_byte_for_byte_what_they_were_before_streaming() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (format, extra, digest) in DEMO_DIGESTS {
        let o = Command::new(env!("CARGO_BIN_EXE_reachcheck"))
            .current_dir(root)
            .args(["check", "--format", format])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let got: String = Sha256::digest(&o.stdout)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(got, digest, "{format} {extra:?}");
    }
}

#[test]
fn explanations_evicted_from_the_bounded_cache_are_built_again_the_same() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let demo = root.join("examples/demo");
    let policies = Policies::load(&root.join("policies")).unwrap();
    let routes = RoutingTable::load(&demo.join("routes.csv"), &policies).unwrap();
    let gathered = SnapshotDir::new(demo.join("snapshot"))
        .gathered(
            routes.routes().map(|r| r.recipient),
            &policies.resource_ids(),
        )
        .unwrap();
    let now = parse_time("2026-11-21T06:00:00Z").unwrap();
    let pass = reachcheck::sweep::judge(gathered, policies, &routes, now, DEFAULT_MAX_DATA_AGE);
    assert!(
        pass.evaluation.assessments.len() > 100,
        "the demo has far more assessments than the small caches below"
    );
    let options = RenderOptions {
        details: true,
        ..RenderOptions::default()
    };
    for format in [Format::Json, Format::Csv, Format::Table, Format::Markdown] {
        let render = |keep: usize| {
            let mut out = Vec::new();
            Rendering::new(&pass.engine, &pass.evaluation, options)
                .keeping_explanations(keep)
                .render(format, &mut out)
                .unwrap();
            out
        };
        let every_one = render(usize::MAX);
        assert!(!every_one.is_empty());
        for keep in [0, 1, 2, 7] {
            assert!(
                render(keep) == every_one,
                "{format:?} keeping {keep} explanations differs from keeping all"
            );
        }
    }
}
