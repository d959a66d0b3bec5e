//! The binary: exit codes, formats, bad input, privacy.

use crate::fixture::{BAD, ER_ONLY, GOOD, SECRET_FNR, World, route, stderr, stdout};

fn all_formats() -> [&'static str; 4] {
    ["table", "json", "csv", "markdown"]
}

#[test]
fn exit_code_is_0_when_every_route_is_readable_and_1_otherwise() {
    let w = World::new(&[
        &route("bekymringsmelding", GOOD),
        &route("ordinaer-post", ER_ONLY),
    ]);
    let o = w.run(&["check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    w.set_routes(&[
        &route("bekymringsmelding", GOOD),
        &route("bekymringsmelding", BAD),
    ]);
    let o = w.run(&["check"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

#[test]
fn the_table_has_one_line_per_route_verdict_first_and_ends_with_the_summary() {
    let w = World::new(&[
        &route("bekymringsmelding", GOOD),
        &route("bekymringsmelding", BAD),
        &route("bekymringsmelding", ER_ONLY),
    ]);
    let o = w.run(&["check"]);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("VERDICT"));
    assert!(lines[1].starts_with("readable "), "{out}");
    assert!(
        lines[2].starts_with("not_readable ") && lines[2].contains("no_reader"),
        "{out}"
    );
    assert!(
        lines[3].starts_with("unknown ") && lines[3].contains("no_data"),
        "{out}"
    );
    assert!(
        out.contains("3 routes: 1 readable, 1 not readable, 1 unknown"),
        "{out}"
    );
    assert!(!out.contains('\u{1b}'), "no colour when not on a terminal");
    let o = w.run(&["check", "--color", "always"]);
    assert!(stdout(&o).contains("\u{1b}["), "colour when asked");
}

#[test]
fn json_output_keeps_the_contract_and_routing_table_order() {
    let w = World::new(&[
        &route("bekymringsmelding", BAD),
        &route("bekymringsmelding", GOOD),
    ]);
    let o = w.run(&["check", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["now"], "2026-11-21T06:00:00Z");
    assert_eq!(v["snapshot_taken_at"], "2026-11-21T05:00:00Z");
    assert_eq!(v["summary"]["routes"], 2);
    assert_eq!(v["summary"]["readable"], 1);
    assert_eq!(v["summary"]["not_readable"], 1);
    assert_eq!(v["summary"]["unknown"], 0);
    let first = &v["routes"][0];
    assert_eq!(first["sender"], "310000019");
    assert_eq!(first["message_type"], "bekymringsmelding");
    assert_eq!(first["recipient"], BAD);
    assert_eq!(first["verdict"], "not_readable");
    assert_eq!(first["readers"], 0);
    assert_eq!(first["evidence_tier"], "connections");
    let f = &first["findings"][0];
    assert_eq!(f["code"], "no_reader");
    assert_eq!(f["severity"], "critical");
    for key in ["message", "remediation"] {
        assert!(f[key].as_str().is_some_and(|s| !s.is_empty()), "{key}");
    }
    assert!(f["evidence"].as_array().is_some_and(|e| !e.is_empty()));
    assert!(
        f["remediation"]
            .as_str()
            .unwrap()
            .contains("post-til-virksomheten-med-taushetsbelagt-innhold"),
        "remediation names the package"
    );
    assert_eq!(v["routes"][1]["recipient"], GOOD);
    assert_eq!(v["routes"][1]["readers"], 2);
}

#[test]
fn csv_and_markdown_carry_every_route() {
    let w = World::new(&[
        &route("bekymringsmelding", BAD),
        &route("ordinaer-post", GOOD),
    ]);
    let o = w.run(&["check", "--format", "csv"]);
    let out = stdout(&o);
    let mut r = csv::Reader::from_reader(out.as_bytes());
    assert_eq!(
        r.headers().unwrap().iter().take(7).collect::<Vec<_>>(),
        [
            "sender",
            "message_type",
            "recipient",
            "verdict",
            "readers",
            "evidence_tier",
            "findings"
        ]
    );
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][3], "not_readable");
    assert_eq!(&rows[0][6], "no_reader");
    assert_eq!(&rows[1][3], "readable");
    let o = w.run(&["check", "--format", "markdown"]);
    let md = stdout(&o);
    assert!(md.starts_with("# reachcheck: 2 routes"));
    assert!(
        md.contains("| not_readable | 0/2 | `bekymringsmelding` |"),
        "{md}"
    );
    assert!(md.contains("**`no_reader`** (critical)"), "{md}");
}

#[test]
fn no_output_ever_contains_a_national_identity_number() {
    let w = World::new(&[
        &route("bekymringsmelding", GOOD),
        &route("bekymringsmelding", BAD),
        &route("ordinaer-post", GOOD),
    ]);
    for format in all_formats() {
        for names in [false, true] {
            let mut args = vec!["check", "--format", format, "--details"];
            if names {
                args.push("--show-names");
            }
            let o = w.run(&args);
            let all = format!("{}{}", stdout(&o), stderr(&o));
            assert!(!all.contains(SECRET_FNR), "{format} names={names}");
            assert!(
                !all.contains("1970-01-01"),
                "birth dates are never shown ({format})"
            );
        }
    }
    let masked = stdout(&w.run(&["check", "--format", "json"]));
    assert!(
        masked.contains("K. N.") && !masked.contains("Kari Nordmann"),
        "names are masked"
    );
    let named = stdout(&w.run(&["check", "--format", "json", "--show-names"]));
    assert!(named.contains("Kari Nordmann"), "unless the operator asks");
}

#[test]
fn output_file_is_written_whole_or_not_at_all() {
    let w = World::new(&[&route("bekymringsmelding", GOOD)]);
    let o = w.run(&["check", "--format", "json", "--output", "out.json"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.path().join("out.json")).unwrap()).unwrap();
    assert_eq!(v["summary"]["routes"], 1);

    w.set_routes(&["310000019,nope,958935420"]);
    let o = w.run(&["check", "--format", "json", "--output", "bad.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!w.path().join("bad.json").exists());
    let leftovers: Vec<_> = std::fs::read_dir(w.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary files left behind");
}

#[test]
fn bad_rows_exit_2_with_file_line_and_value_and_nothing_on_stdout() {
    let w = World::new(&[
        &route("bekymringsmelding", GOOD),
        "310000019,brev,958935420",
        "31000001,ordinaer-post,958935420",
    ]);
    let o = w.run(&["check"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        o.stdout.is_empty(),
        "nothing printed as if it were a result"
    );
    let err = stderr(&o);
    assert_eq!(
        err.lines().collect::<Vec<_>>(),
        [
            "error: `routes.csv`: line 3: unknown message type `brev`: the policies define `bekymringsmelding`, `straffesaksforsendelse`, `ordinaer-post` and `melding-kriseteam`",
            "error: `routes.csv`: line 4: sender `31000001` is not an organisation number: it has 8 digits, not 9",
        ]
    );
}

#[test]
fn missing_inputs_and_bad_flags_exit_2_with_one_sentence() {
    let w = World::new(&[&route("bekymringsmelding", GOOD)]);
    let o = w.run(&["check", "--max-data-age", "soon"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`soon` is not a duration"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_file(w.routes()).unwrap();
    let o = w.run(&["check"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("error: `routes.csv`: cannot read the routing table:"),
        "{}",
        stderr(&o)
    );
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .current_dir(w.path())
        .args(["check", "--now", "yesterday"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`yesterday` is not a time"),
        "{}",
        stderr(&o)
    );
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .current_dir(w.path())
        .args(["check", "--policies", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o).trim(),
        "error: `nowhere`: the policy directory does not exist: pass `--policies DIR` or set `policies` in the config file"
    );
}

#[test]
fn a_malformed_evidence_file_makes_its_unit_unknown_and_is_named() {
    let w = World::new(&[
        &route("bekymringsmelding", GOOD),
        &route("bekymringsmelding", BAD),
    ]);
    std::fs::write(
        w.snapshot()
            .join(format!("accessmanagement/connections/{GOOD}.json")),
        "{\"links\": {\"next\": null}, \"data\": [",
    )
    .unwrap();
    let o = w.run(&["check", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "not fatal: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let good = &v["routes"][0];
    assert_eq!(good["verdict"], "unknown");
    let codes: Vec<&str> = good["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"source_error"), "{codes:?}");
    let text = good.to_string();
    assert!(
        text.contains(&format!("accessmanagement/connections/{GOOD}.json")),
        "{text}"
    );
    assert_eq!(
        v["routes"][1]["verdict"], "not_readable",
        "the rest of the sweep goes on"
    );

    let o = w.run(&["validate"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!("connections/{GOOD}.json`: line 1: malformed JSON")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn stale_evidence_never_yields_readable() {
    let w = World::new(&[&route("bekymringsmelding", GOOD)]);
    let o = w.run(&["check", "--format", "json", "--max-data-age", "30m"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["routes"][0]["verdict"], "unknown");
    assert!(v["routes"][0].to_string().contains("stale_data"));
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn precheck_judges_one_route_with_the_same_exit_codes() {
    let w = World::new(&[]);
    let ok = w.run(&[
        "precheck",
        "--sender",
        "310000019",
        "--message-type",
        "bekymringsmelding",
        "--recipient",
        GOOD,
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(stdout(&ok).starts_with("VERDICT"));
    let bad = w.run(&[
        "precheck",
        "--sender",
        "310000019",
        "--message-type",
        "bekymringsmelding",
        "--recipient",
        BAD,
        "--format",
        "json",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(v["routes"][0]["verdict"], "not_readable");
    let unknown = w.run(&[
        "precheck",
        "--sender",
        "310000019",
        "--message-type",
        "brev",
        "--recipient",
        GOOD,
    ]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("`--message-type`: unknown message type `brev`"),
        "{}",
        stderr(&unknown)
    );
    assert!(unknown.stdout.is_empty());
    let bad_org = w.run(&[
        "precheck",
        "--sender",
        "310000019",
        "--message-type",
        "brev",
        "--recipient",
        "123",
    ]);
    assert_eq!(bad_org.status.code(), Some(2));
    assert!(
        stderr(&bad_org).contains("`123` is not an organisation number"),
        "{}",
        stderr(&bad_org)
    );
}

#[test]
fn validate_reports_a_clean_world_and_counts_it() {
    let w = World::new(&[
        &route("bekymringsmelding", GOOD),
        &route("ordinaer-post", "944073787"),
    ]);
    let o = w.run(&["validate"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with(
            "valid: 4 message type(s), 2 route(s), 3 unit(s) in the snapshot; 1 warning(s)"
        ),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("recipient `944073787` has no Enhetsregisteret record in the snapshot"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn help_teaches_the_verdicts_exit_codes_and_examples() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .arg("--help")
        .output()
        .unwrap();
    let help = stdout(&o);
    for needle in [
        "readable",
        "not_readable",
        "unknown",
        "Exit codes",
        "reachcheck precheck --sender",
    ] {
        assert!(help.contains(needle), "{needle} in --help");
    }
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .args(["check", "--help"])
        .output()
        .unwrap();
    let help = stdout(&o);
    for flag in [
        "--config",
        "--policies",
        "--routes",
        "--snapshot",
        "--now",
        "--format",
        "--output",
        "--max-data-age",
    ] {
        assert!(help.contains(flag), "{flag} in check --help");
    }
}

#[test]
fn a_huge_offending_value_is_quoted_by_its_first_characters_only() {
    let huge = "9".repeat(1_000_000);
    let extra = "x".repeat(200_000);
    let w = World::new(&[
        &route("bekymringsmelding", &huge),
        &format!("310000019,ordinaer-post,{GOOD},{extra}"),
    ]);
    let o = w.run(&["check"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.len() < 2_000, "{} bytes on stderr", err.len());
    assert!(
        err.contains("line 2") && err.contains("… (1000000 bytes)"),
        "{err}"
    );
    assert!(
        err.contains("line 3") && err.contains("has 4 fields"),
        "{err}"
    );
}

#[test]
fn report_refuses_a_file_that_is_not_a_store_and_leaves_it_as_it_was() {
    // Regression (issue 18): `report` on a 0-byte file wrote a schema into it.
    let w = World::new(&[]);
    let sqlite = w.path().join("other.sqlite");
    {
        let c = rusqlite::Connection::open(&sqlite).unwrap();
        c.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
            .unwrap();
    }
    let files = [
        ("empty.db", Vec::new(), "the file is empty"),
        (
            "notes.db",
            b"sender,message_type,recipient\n".to_vec(),
            "not a SQLite database",
        ),
        (
            "other.sqlite",
            std::fs::read(&sqlite).unwrap(),
            "no reachcheck schema",
        ),
    ];
    for (name, bytes, why) in files {
        let path = w.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_reachcheck"))
            .current_dir(w.path())
            .args(["report", "--store", name, "--format", "json"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(name) && err.contains(why), "{name}: {err}");
        assert!(err.contains("not a reachcheck store"), "{err}");
        assert!(o.stdout.is_empty());
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name} unchanged");
        for side in ["-wal", "-shm", "-journal"] {
            assert!(
                !w.path().join(format!("{name}{side}")).exists(),
                "{name}{side}"
            );
        }
    }
}

#[test]
fn validate_reports_policy_errors_even_when_message_types_has_errors() {
    // Regression (issue 18): every problem at once, not the policies' after the types'.
    let w = World::new(&[&route("bekymringsmelding", GOOD)]);
    let policies = w.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut xml = Vec::new();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, policies.join(p.file_name().unwrap())).unwrap();
            if p.extension().is_some_and(|x| x == "xml") {
                xml.push(p.file_name().unwrap().to_owned());
            }
        }
    }
    xml.sort();
    let broken = policies.join(&xml[0]);
    std::fs::write(&broken, "<xacml:Policy").unwrap();
    let types = policies.join("message-types.toml");
    let text = std::fs::read_to_string(&types).unwrap();
    std::fs::write(&types, format!("{text}\n[[message_type]\n")).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .current_dir(w.path())
        .args([
            "validate",
            "--policies",
            "policies",
            "--routes",
            "routes.csv",
            "--snapshot",
            "snapshot",
            "--now",
            "2026-11-21T06:00:00Z",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("message-types.toml"), "{err}");
    assert!(
        err.lines()
            .any(|l| l.contains(xml[0].to_str().unwrap()) && l.contains("error")),
        "{err}"
    );
}

/// Runs `precheck` of one route of the world in `format` (plus `extra` flags).
fn precheck_in(w: &World, recipient: &str, format: &str, extra: &[&str]) -> std::process::Output {
    let args = [
        &[
            "precheck",
            "--sender",
            "310000019",
            "--message-type",
            "bekymringsmelding",
            "--recipient",
            recipient,
            "--format",
            format,
        ][..],
        extra,
    ]
    .concat();
    w.run(&args)
}

#[test]
fn precheck_says_why_without_details_counts_one_route_and_shows_no_line_0() {
    // Regression (issue 18): reasons only with `--details`, "line 0", "1 routes".
    let w = World::new(&[]);
    let o = precheck_in(&w, BAD, "table", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    let why: Vec<&str> = out.lines().filter(|l| l.starts_with("    why: ")).collect();
    assert_eq!(why.len(), 1, "{out}");
    assert!(why[0].len() > "    why: ".len() + 10, "{out}");
    assert!(
        !out.contains("fix:"),
        "remediation stays with --details: {out}"
    );
    assert!(
        out.contains("\n1 route: 0 readable, 1 not readable, 0 unknown"),
        "{out}"
    );
    assert!(!out.contains("1 routes"), "{out}");
    // With --details the finding's own lines say it, once.
    let out = stdout(&precheck_in(&w, BAD, "table", &["--details"]));
    assert!(!out.contains("why:") && out.contains("fix:"), "{out}");
    // A readable route needs no reason.
    let out = stdout(&precheck_in(&w, GOOD, "table", &[]));
    assert!(!out.contains("why:"), "{out}");

    let md = stdout(&precheck_in(&w, BAD, "markdown", &[]));
    assert!(md.starts_with("# reachcheck: 1 route\n"), "{md}");
    assert!(
        !md.contains("line 0") && !md.contains("routing table line"),
        "{md}"
    );
    let v: serde_json::Value =
        serde_json::from_slice(&precheck_in(&w, BAD, "json", &[]).stdout).unwrap();
    assert!(v["routes"][0].get("line").is_none(), "{v}");
    assert_eq!(v["summary"]["routes"], 1);

    // Routes from a file keep their line.
    w.set_routes(&[&route("bekymringsmelding", BAD)]);
    let v: serde_json::Value =
        serde_json::from_slice(&w.run(&["check", "--format", "json"]).stdout).unwrap();
    assert_eq!(v["routes"][0]["line"], 2, "{v}");
    let md = stdout(&w.run(&["check", "--format", "markdown"]));
    assert!(md.contains("routing table line 2)"), "{md}");
    assert!(stdout(&w.run(&["check"])).contains("\n1 route: "));
}

#[test]
fn a_code_found_twice_on_a_route_is_shown_once_with_its_count_in_the_table() {
    // Regression (issue 18): `source_error` was repeated on the route's line.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let case = root.join("tests/cases/each-failed-file-gives-its-own-source-error");
    // The cases' shared policies use the project's automatic grants.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("reachcheck.toml");
    std::fs::write(
        &config,
        format!(
            "policies = {:?}\ngrants = {:?}\nroutes = {:?}\nsnapshot = {:?}\nnow = \"2026-11-21T06:00:00Z\"\n",
            case.join("../_shared/policies"),
            root.join("policies/altinn-grants.toml"),
            case.join("routes.csv"),
            case.join("snapshot"),
        ),
    )
    .unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .current_dir(dir.path())
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("unknown ")).collect();
    assert_eq!(lines.len(), 2, "{out}");
    for l in lines {
        assert_eq!(l.matches("source_error").count(), 1, "{l}");
        assert!(l.contains("source_error ×2"), "{l}");
    }
    // The CSV still lists each finding.
    let csv = std::fs::read_to_string(case.join("expected.csv")).unwrap();
    assert!(csv.contains("source_error;source_error"));
}

#[test]
fn bad_instance_names_and_leases_are_refused_with_exit_2_naming_the_key_and_line() {
    // Issue 21: the two settings of several instances on one store.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("reachcheck.toml");
    let serve = |daemon: &str| {
        std::fs::write(
            &config,
            format!("policies = \"policies\"\nroutes = \"routes.csv\"\n\n[daemon]\n{daemon}\n"),
        )
        .unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_reachcheck"))
            .current_dir(dir.path())
            .args(["serve", "--once", "--config"])
            .arg(&config)
            .output()
            .unwrap()
    };
    let long = "a".repeat(201);
    for (daemon, sentence) in [
        (
            "instance = \"\"",
            "`daemon.instance`: write a name of 1 to 200",
        ),
        (
            "instance = \"   \"",
            "`daemon.instance`: write a name of 1 to 200",
        ),
        (
            &format!("instance = \"{long}\""),
            "`daemon.instance`: write a name of 1 to 200",
        ),
        (
            "instance = \"eu\\nnorth\"",
            "`daemon.instance`: write a name of 1 to 200",
        ),
        ("instance = 7", "instance"),
        ("lease = \"500ms\"", "`daemon.lease` is under 1 s"),
        (
            "lease = \"0s\"",
            "`daemon.lease`: `0s` is zero: write a duration above zero",
        ),
        ("lease = \"soon\"", "daemon.lease"),
    ] {
        let o = serve(daemon);
        assert_eq!(o.status.code(), Some(2), "{daemon}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(sentence), "{daemon}: {err}");
        assert!(err.contains("reachcheck.toml"), "the file is named: {err}");
        assert!(err.contains("line 5: "), "the line is named: {err}");
        assert!(o.stdout.is_empty(), "{daemon}");
    }
    // At the bounds: accepted (the run then fails later, on the missing inputs).
    for daemon in [
        format!("instance = \"{}\"", "a".repeat(200)),
        "instance = \"eu-north 1\"\nlease = \"1s\"".to_owned(),
    ] {
        let err = stderr(&serve(&daemon));
        assert!(
            !err.contains("daemon.instance") && !err.contains("daemon.lease"),
            "{daemon}: {err}"
        );
    }
}
