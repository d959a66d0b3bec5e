//! Compliance reports and remediation letters from a hand-made store whose right answers
//! were worked out by hand (below), snapshot tests of every text format, the HTML in a real
//! browser, and a scan of every format for personal data.
//!
//! The hand-made history (two senders, three recipients, three weekly sweeps):
//!
//! | route | sweep 1 (11-02, W45) | sweep 2 (11-09, W46) | sweep 3 (11-16, W47) |
//! |---|---|---|---|
//! | S1 bekymringsmelding → A | not_readable, no_reader | readable | not_readable, no_reader (reopened) |
//! | S1 bekymringsmelding → B | readable | not_readable, no_reader | not_readable, no_reader (suppressed) |
//! | S1 ordinaer-post → C | readable | readable | readable |
//! | S2 bekymringsmelding → A | not_readable, no_reader | readable | readable |
//! | S2 straffesaksforsendelse → C | unknown, no_data | unknown, no_data | readable |
//!
//! So for November: as of sweep 3, 3 of 5 routes readable (600 ‰); weekly 400, 600, 600 ‰;
//! three findings resolved in the period after 168, 168 and 336 hours (median 168, p90 336);
//! open critical: S1→B since 11-09 (7 days, suppressed) and S1→A since 11-16 (0 days);
//! recipients B (red, 7 days), A (red, 0 days), C (green).

use std::path::{Path, PathBuf};
use std::process::Command;

use jiff::{SignedDuration, Timestamp};
use reachcheck::engine::{Assessment, Evaluation, RouteResult};
use reachcheck::model::Finding;
use reachcheck::report::{ComplianceReport, Lang, Light, Period, ReportRequest};
use reachcheck::store::{NewSuppression, Store};
use reachcheck::{EvidenceTier, FindingCode, MessageTypeId, OrgNumber, Route, Verdict};

const S1: &str = "310000019";
const S2: &str = "310000027";
const A: &str = "964338531";
const B: &str = "958935420";
const C: &str = "944496394";

fn org(s: &str) -> OrgNumber {
    OrgNumber::parse(s).unwrap()
}

fn route(s: &str, t: &str, r: &str) -> Route {
    Route::new(org(s), MessageTypeId::parse(t).unwrap(), org(r))
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// One sweep's judgements: (route, verdict, findings).
fn evaluation(now: Timestamp, judged: Vec<(Route, Verdict, Vec<Finding>)>) -> Evaluation {
    let mut routes = Vec::new();
    let mut assessments = Vec::new();
    for (i, (route, verdict, findings)) in judged.into_iter().enumerate() {
        assessments.push(Assessment {
            verdict,
            readers: u32::from(verdict == Verdict::Readable) * 2,
            tier: EvidenceTier::Connections,
            findings: smallvec::SmallVec::from_vec(findings),
            observed_at: now,
            main_unit: None,
        });
        routes.push(RouteResult {
            route,
            line: i as u32 + 2,
            assessment: i as u32,
        });
    }
    Evaluation {
        now,
        routes,
        assessments,
    }
}

fn no_data() -> Finding {
    Finding::NoData {
        no_record: false,
        recipient_connections: true,
        main_unit_connections: None,
        gaps: None,
    }
}

/// The hand-made store described at the top.
pub(crate) fn hand_made_store(dir: &Path) -> PathBuf {
    use Verdict::{NotReadable as N, Readable as R, Unknown as U};
    let path = dir.join("store.db");
    let mut store = Store::open(&path).unwrap();
    let (a1, b1, c1) = (
        route(S1, "bekymringsmelding", A),
        route(S1, "bekymringsmelding", B),
        route(S1, "ordinaer-post", C),
    );
    let (a2, c2) = (
        route(S2, "bekymringsmelding", A),
        route(S2, "straffesaksforsendelse", C),
    );
    let nr = || vec![Finding::NoReader];
    let sweeps = [
        (
            "2026-11-02T06:00:00Z",
            vec![
                (a1.clone(), N, nr()),
                (b1.clone(), R, vec![]),
                (c1.clone(), R, vec![]),
                (a2.clone(), N, nr()),
                (c2.clone(), U, vec![no_data()]),
            ],
        ),
        (
            "2026-11-09T06:00:00Z",
            vec![
                (a1.clone(), R, vec![]),
                (b1.clone(), N, nr()),
                (c1.clone(), R, vec![]),
                (a2.clone(), R, vec![]),
                (c2.clone(), U, vec![no_data()]),
            ],
        ),
        (
            "2026-11-16T06:00:00Z",
            vec![
                (a1, N, nr()),
                (b1, N, nr()),
                (c1, R, vec![]),
                (a2, R, vec![]),
                (c2, R, vec![]),
            ],
        ),
    ];
    for (i, (when, judged)) in sweeps.into_iter().enumerate() {
        let end = at(when);
        let start = end.checked_sub(SignedDuration::from_mins(5)).unwrap();
        let id = store.begin_sweep(start, "snapshot hand-made").unwrap();
        if i == 1 {
            store
                .add_suppression(
                    &NewSuppression {
                        recipient: org(B),
                        code: FindingCode::NoReader,
                        sender: None,
                        message_type: None,
                        justification: "Oslo gets these on paper until the delegation is done; case owner id 01017012345.".to_owned(),
                        expires_at: at("2026-12-31T00:00:00Z"),
                    },
                    "ops",
                    at("2026-11-10T08:00:00Z"),
                )
                .unwrap();
        }
        store
            .record_sweep(
                id,
                end,
                start.checked_sub(SignedDuration::from_hours(1)).unwrap(),
                &evaluation(end, judged),
            )
            .unwrap();
    }
    path
}

fn policies() -> reachcheck::Policies {
    reachcheck::Policies::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")).unwrap()
}

fn november(senders: &[&str]) -> ReportRequest {
    ReportRequest {
        period: Period::month("2026-11").unwrap(),
        senders: senders.iter().map(|s| org(s)).collect(),
    }
}

#[test]
fn the_figures_are_the_ones_worked_out_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&hand_made_store(dir.path())).unwrap();
    let p = policies();
    let r = ComplianceReport::build(&store, Some(&p), &november(&[])).unwrap();
    let d = &r.data;
    assert_eq!(d.sweeps, vec![1, 2, 3]);
    assert_eq!(d.as_of.sweep, 3);
    let c = d.coverage;
    assert_eq!(
        (
            c.routes,
            c.readable,
            c.not_readable,
            c.unknown,
            c.readable_permille
        ),
        (5, 3, 2, 0, 600)
    );
    let trend: Vec<(&str, u64)> = d
        .trend
        .iter()
        .map(|w| (w.week.as_str(), w.coverage.readable_permille))
        .collect();
    assert_eq!(
        trend,
        [("2026-W45", 400), ("2026-W46", 600), ("2026-W47", 600)]
    );
    let t = d.time_to_fix;
    assert_eq!(
        (t.resolved, t.median_hours, t.p90_hours),
        (3, Some(168), Some(336))
    );
    let open: Vec<(String, u64, bool)> = d
        .open_critical
        .iter()
        .map(|f| {
            (
                f.route.recipient.to_string(),
                f.days_open,
                f.suppressed_by.is_some(),
            )
        })
        .collect();
    assert_eq!(open, [(B.to_owned(), 7, true), (A.to_owned(), 0, false)]);
    let lights: Vec<(String, Light, Option<u64>)> = d
        .recipients
        .iter()
        .map(|r| (r.recipient.to_string(), r.light, r.days_open))
        .collect();
    assert_eq!(
        lights,
        [
            (B.to_owned(), Light::Red, Some(7)),
            (A.to_owned(), Light::Red, Some(0)),
            (C.to_owned(), Light::Green, None),
        ]
    );
    let s1 = d.by_sender.iter().find(|s| s.sender == org(S1)).unwrap();
    assert_eq!(
        (s1.coverage.routes, s1.coverage.readable, s1.open_findings),
        (3, 1, 2)
    );
    let bek = d
        .by_message_type
        .iter()
        .find(|t| t.message_type.as_str() == "bekymringsmelding")
        .unwrap();
    assert_eq!((bek.coverage.routes, bek.coverage.readable), (3, 1));
    assert_eq!(
        bek.title.as_deref(),
        Some("Bekymringsmelding til barneverntjenesten")
    );
    // The suppression, with the identity number removed from its justification.
    assert_eq!(d.suppressions.len(), 1);
    assert!(!d.suppressions[0].justification.contains("01017012345"));
    assert!(d.suppressions[0].justification.contains("on paper"));

    // One sender: its routes only.
    let r2 = ComplianceReport::build(&store, Some(&p), &november(&[S2])).unwrap();
    let c = r2.data.coverage;
    assert_eq!((c.routes, c.readable, c.readable_permille), (2, 2, 1000));
    let t = r2.data.time_to_fix;
    assert_eq!(
        (t.resolved, t.median_hours, t.p90_hours),
        (2, Some(168), Some(336))
    );
    assert!(r2.data.open_critical.is_empty());

    // A past period: the state as of its last sweep, from the history.
    let early = ReportRequest {
        period: Period::between(Some("2026-11-01"), Some("2026-11-05")).unwrap(),
        senders: vec![],
    };
    let r3 = ComplianceReport::build(&store, Some(&p), &early).unwrap();
    assert_eq!(r3.data.as_of.sweep, 1);
    assert_eq!(r3.data.coverage.readable_permille, 400);
    assert_eq!(r3.data.time_to_fix.resolved, 0);
    assert_eq!(r3.data.open_critical.len(), 2, "S1→A and S2→A at sweep 1");
}

#[test]
fn the_hash_covers_the_data_and_an_auditor_can_recompute_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&hand_made_store(dir.path())).unwrap();
    let r = ComplianceReport::build(&store, Some(&policies()), &november(&[])).unwrap();
    let json: serde_json::Value = serde_json::from_str(&r.json(Lang::Nb)).unwrap();
    // What `jq -jcS .data` prints: sorted keys, compact.
    let canonical = json["data"].to_string();
    use sha2::Digest as _;
    let digest: String = sha2::Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(json["data_sha256"], digest);
    assert_eq!(digest, r.sha256);
    // The same data gives the same hash; other data another.
    let again = ComplianceReport::build(&store, Some(&policies()), &november(&[])).unwrap();
    assert_eq!(again.sha256, r.sha256);
    let other = ComplianceReport::build(&store, Some(&policies()), &november(&[S2])).unwrap();
    assert_ne!(other.sha256, r.sha256);
    for text in [r.markdown(Lang::Nb), r.html(Lang::En), r.csv()] {
        assert!(text.contains(&r.sha256));
    }
}

#[test]
fn json_csv_and_markdown_match_their_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&hand_made_store(dir.path())).unwrap();
    let p = policies();
    let r = ComplianceReport::build(&store, Some(&p), &november(&[])).unwrap();
    insta::assert_snapshot!("report_json", r.json(Lang::Nb));
    insta::assert_snapshot!("report_csv", r.csv());
    insta::assert_snapshot!("report_markdown_nb", r.markdown(Lang::Nb));
    insta::assert_snapshot!("report_markdown_en", r.markdown(Lang::En));
    let letter = reachcheck::report::letter::Letter::build(
        &store,
        &p,
        org(A),
        Period::month("2026-11").unwrap(),
        &[],
        None,
    )
    .unwrap();
    insta::assert_snapshot!("letter_markdown_nb", letter.markdown(&p, Lang::Nb));
}

#[test]
fn a_letter_says_what_to_delegate_who_can_and_how() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&hand_made_store(dir.path())).unwrap();
    let p = policies();
    let l = reachcheck::report::letter::Letter::build(
        &store,
        &p,
        org(A),
        Period::month("2026-11").unwrap(),
        &[],
        Some("Politiets fellestjenester, altinn@politiet.example".to_owned()),
    )
    .unwrap();
    // Only S1's route to A is not readable (S2's is): one item, from S1 only.
    assert_eq!(l.items.len(), 1);
    assert_eq!(l.items[0].senders, vec![org(S1)]);
    for lang in [Lang::Nb, Lang::En] {
        let md = l.markdown(&p, lang);
        let html = l.html(&p, lang);
        for text in [&md, &html] {
            assert!(
                text.contains("Bekymringsmelding til barneverntjenesten"),
                "{text}"
            );
            assert!(text.contains(S1));
            // The package by its Altinn name (bokmål, or English where given) and URN.
            assert!(text.contains(
                "urn:altinn:accesspackage:post-til-virksomheten-med-taushetsbelagt-innhold"
            ));
            assert!(text.contains("Hovedadministrator"));
            assert!(text.contains("Tilgangsstyrer"));
            assert!(text.contains("Tilgangsstyring"));
            assert!(text.contains("Politiets fellestjenester"));
        }
        let name = if lang == Lang::Nb {
            "«Post til virksomheten med taushetsbelagt innhold»"
        } else {
            "«Mail to the business with confidential content»"
        };
        assert!(md.contains(name), "{md}");
        assert!(html.starts_with("<!DOCTYPE html>"));
    }
    // A recipient with nothing wrong gets a letter that says so.
    let c = reachcheck::report::letter::Letter::build(
        &store,
        &p,
        org(C),
        Period::month("2026-11").unwrap(),
        &[],
        None,
    )
    .unwrap();
    assert!(c.items.is_empty());
    assert!(c.markdown(&p, Lang::En).contains("Nothing needs doing"));
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .args(["report"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

#[test]
fn no_report_that_could_pass_for_all_fine_when_there_is_nothing_to_report() {
    let dir = tempfile::tempdir().unwrap();
    let path = hand_made_store(dir.path());
    let store = path.to_str().unwrap();
    let empty = dir.path().join("empty.db");
    Store::open(&empty).unwrap();
    for (args, says) in [
        (
            vec!["--store", store, "--period", "2025-01"],
            "no sweep ended between",
        ),
        (
            vec!["--store", store, "--sender", "974760673"],
            "no route from this sender",
        ),
        (
            vec!["--store", empty.to_str().unwrap()],
            "has no successful sweep",
        ),
        (vec!["--store", "no/such.db"], "does not exist"),
        (vec!["--store", store, "--period", "2026-13"], "YYYY-MM"),
        (
            vec!["--store", store, "--format", "letter"],
            "needs `--recipient",
        ),
        (vec!["--store", store, "--recipient", A], "is for letters"),
        (
            vec![
                "--store",
                store,
                "--format",
                "letter",
                "--recipient",
                "974760673",
            ],
            "no route to this recipient",
        ),
        (
            vec![
                "--store",
                store,
                "--from",
                "2026-11-20",
                "--to",
                "2026-11-01",
            ],
            "is not before",
        ),
    ] {
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    assert!(
        !Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("no/such.db")
            .exists()
    );
}

/// Every format of the reports and letters about a store filled from a world whose
/// evidence names people (with identity numbers and birth dates).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_format_contains_personal_data() {
    use crate::daemon::{daemon_world, overrides};
    use crate::fixture::{BAD, ER_ONLY, GOOD, SECRET_FNR, route as r};
    let w = daemon_world(&[
        &r("bekymringsmelding", BAD),
        &r("bekymringsmelding", GOOD),
        &r("ordinaer-post", ER_ONLY),
    ]);
    let d = reachcheck::daemon::Daemon::start(overrides(&w)).unwrap();
    d.sweep_once().await.unwrap();
    drop(d);
    let store = w.path().join("store.db");
    let mut texts = Vec::new();
    for format in ["html", "json", "csv", "markdown"] {
        for lang in ["nb", "en"] {
            let o = run(&[
                "--store",
                store.to_str().unwrap(),
                "--format",
                format,
                "--lang",
                lang,
            ]);
            assert_eq!(
                o.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&o.stderr)
            );
            texts.push((
                format!("{format} {lang}"),
                String::from_utf8(o.stdout).unwrap(),
            ));
        }
    }
    for format in ["letter", "letter-html"] {
        for who in [BAD, GOOD, ER_ONLY] {
            let o = run(&[
                "--store",
                store.to_str().unwrap(),
                "--format",
                format,
                "--recipient",
                who,
            ]);
            assert_eq!(
                o.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&o.stderr)
            );
            texts.push((
                format!("{format} {who}"),
                String::from_utf8(o.stdout).unwrap(),
            ));
        }
    }
    // The world's people, their identity number and birth date.
    for (what, text) in &texts {
        assert!(text.len() > 200, "{what} is empty");
        for needle in [
            SECRET_FNR,
            "1970-01-01",
            "Kari",
            "Nordmann",
            "Hansen",
            "Olsen",
            "Anne",
            "K. N.",
            "a0000000-0000-0000-0000-000000000001",
        ] {
            assert!(!text.contains(needle), "{what} contains {needle}");
        }
    }
}

/// Chromium, when installed (CI installs Debian's `chromium`).
fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .map(|c| Path::new("/usr/bin").join(c))
        .find(|p| p.exists())
}

#[test]
fn the_html_renders_in_a_real_browser_with_its_key_figures() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install chromium (.ci/run does)"
        );
        eprintln!("chromium is not installed: skipping the browser test");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&hand_made_store(dir.path())).unwrap();
    let r = ComplianceReport::build(&store, Some(&policies()), &november(&[])).unwrap();
    let html = r.html(Lang::Nb);
    // Self-contained: nothing fetched from anywhere (the SVG namespace is a name, not a fetch).
    for outside in ["https://", "src=", "<link", "@import", "url("] {
        assert!(
            !html.contains(outside),
            "the HTML refers outside: {outside}"
        );
    }
    assert_eq!(
        html.matches("http://").count(),
        html.matches("http://www.w3.org/2000/svg").count()
    );
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).unwrap();
    let shot = dir.path().join("report.png");
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1240,1754",
    ];
    let o = Command::new(&browser)
        .args(common)
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert!(png.len() > 20_000, "a blank page? {} bytes", png.len());
    // The page as laid out: a copy that writes its rendered text (innerText needs layout
    // and leaves out what is not shown) into the DOM, which Chromium then prints.
    let probe = dir.path().join("probe.html");
    std::fs::write(
        &probe,
        html.replace(
            "</body>",
            "<script>document.body.insertAdjacentHTML('beforeend','<pre id=\"rendered\"></pre>');document.getElementById('rendered').textContent=document.querySelector('main').innerText;</script></body>",
        ),
    )
    .unwrap();
    let o = Command::new(&browser)
        .args(common)
        .arg("--dump-dom")
        .arg(format!("file://{}", probe.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&o.stdout);
    // The last one: the first is inside the script's own text.
    let rendered = dom
        .rsplit("<pre id=\"rendered\">")
        .next()
        .and_then(|s| s.split("</pre>").next())
        .unwrap_or_default();
    for figure in [
        // Bokmål: a decimal comma (the no-break space before the sign is checked below).
        "60,0",
        "Lesbarhet av meldinger sendt gjennom Altinn",
        "168 timer",
        "336 timer",
        "Rød",
        "Grønn",
        B,
        "2026-W45",
        r.sha256.as_str(),
    ] {
        assert!(
            rendered.contains(figure),
            "`{figure}` not on the rendered page:\n{rendered}"
        );
    }
    assert!(
        html.contains("60,0\u{a0}%"),
        "a no-break space before the sign"
    );
    // Printable on A4: Chromium's print path honours `@page { size: A4 }`.
    let pdf = dir.path().join("report.pdf");
    let o = Command::new(&browser)
        .args(common)
        .arg("--no-pdf-header-footer")
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pdf = std::fs::read(&pdf).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    let text = String::from_utf8_lossy(&pdf);
    assert!(
        text.contains("/MediaBox [0 0 594.95996 841.91998]") || text.contains("/MediaBox [0 0 595"),
        "not A4: {}",
        text.split("/MediaBox")
            .nth(1)
            .unwrap_or("no MediaBox")
            .chars()
            .take(40)
            .collect::<String>()
    );
    // Kept for a person to look at, when asked.
    if let Some(out) = std::env::var_os("REACHCHECK_SCREENSHOT") {
        std::fs::copy(&shot, out).unwrap();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// `check --format json` over a snapshot: the verdict of each route, by an independent path.
fn check_verdicts(root: &Path, snapshot: &Path) -> Vec<serde_json::Value> {
    let o = Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .current_dir(root)
        .args(["check", "--format", "json", "--snapshot"])
        .arg(snapshot)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["routes"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_report_after_a_fix_shows_the_numbers_check_gives() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("snapshot");
    copy_dir(&root.join("examples/demo/snapshot"), &snapshot);
    std::fs::write(
        dir.path().join("reachcheck.toml"),
        format!(
            "policies = {:?}\nroutes = {:?}\nsnapshot = \"snapshot\"\nnow = \"2026-11-21T06:00:00Z\"\n\n[daemon]\nstore = \"store.db\"\napi_tokens_file = \"tokens\"\n",
            root.join("policies").display().to_string(),
            root.join("examples/demo/routes.csv").display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("tokens"), "t:0123456789abcdef-report\n").unwrap();
    let overrides = reachcheck::daemon::ServeOverrides {
        sources: reachcheck::settings::Overrides {
            config: Some(dir.path().join("reachcheck.toml")),
            ..Default::default()
        },
        ..Default::default()
    };
    let before = check_verdicts(root, &snapshot);
    let d = reachcheck::daemon::Daemon::start(overrides.clone()).unwrap();
    d.sweep_once().await.unwrap();

    // Risør (964977402) gets a person holding confidential post: its concern reports
    // become readable.
    let risor = snapshot.join("accessmanagement/connections/964977402.json");
    let mut conn: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&risor).unwrap()).unwrap();
    conn["data"].as_array_mut().unwrap().push(serde_json::json!({
        "party": {"id": "e0000000-0000-0000-0000-000000000001", "name": "Synthetic Reader", "type": "Person", "variant": "Person"},
        "roles": [], "resources": [],
        "packages": [{"urn": "urn:altinn:accesspackage:post-til-virksomheten-med-taushetsbelagt-innhold"}]
    }));
    std::fs::write(&risor, conn.to_string()).unwrap();
    let after = check_verdicts(root, &snapshot);
    d.sweep_once().await.unwrap();
    drop(d);

    let store = Store::open(&dir.path().join("store.db")).unwrap();
    let r = ComplianceReport::build(
        &store,
        Some(&policies()),
        &ReportRequest {
            period: Period::between(None, None).unwrap(),
            senders: vec![],
        },
    )
    .unwrap();
    let count = |routes: &[serde_json::Value], v: &str| {
        routes.iter().filter(|r| r["verdict"] == v).count() as u64
    };
    let c = r.data.coverage;
    assert_eq!(c.routes, after.len() as u64);
    assert_eq!(c.readable, count(&after, "readable"));
    assert_eq!(c.not_readable, count(&after, "not_readable"));
    assert_eq!(c.unknown, count(&after, "unknown"));
    assert_eq!(
        count(&after, "readable"),
        count(&before, "readable") + 1,
        "the fix made one route readable"
    );
    // The hand-checked recipients: Risør, now green on every route; Bergen, unchanged; and
    // the demo's findings of docs/design.md, rules 10-13, which the fix leaves alone: Hyllestad (a
    // write-only delegation, `no_reader`), Lyngen (`not_on_access_list`) and Brønnøy
    // (`evidence_inconsistent`, amber).
    for (org, routes) in [
        ("964977402", &after),
        ("964338531", &after),
        ("964967547", &after),
        ("840014932", &after),
        ("964983291", &after),
    ] {
        let mine: Vec<&serde_json::Value> =
            routes.iter().filter(|r| r["recipient"] == org).collect();
        let row = r
            .data
            .recipients
            .iter()
            .find(|x| x.recipient.to_string() == org)
            .unwrap();
        assert_eq!(row.coverage.routes, mine.len() as u64);
        let worst = if mine.iter().any(|r| r["verdict"] == "not_readable") {
            Light::Red
        } else if mine.iter().any(|r| r["verdict"] == "unknown") {
            Light::Amber
        } else {
            Light::Green
        };
        assert_eq!(row.light, worst, "{org}");
        let findings: usize = mine
            .iter()
            .map(|r| r["findings"].as_array().unwrap().len())
            .sum();
        assert_eq!(row.open_findings, findings as u64, "{org}");
    }
    // Every critical finding check gives after the fix is open in the report, and only those.
    let mut critical: Vec<(String, String, String)> = after
        .iter()
        .flat_map(|route| {
            route["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["severity"] == "critical")
                .map(move |f| {
                    (
                        route["recipient"].as_str().unwrap().to_owned(),
                        route["message_type"].as_str().unwrap().to_owned(),
                        f["code"].as_str().unwrap().to_owned(),
                    )
                })
        })
        .collect();
    let mut open: Vec<(String, String, String)> = r
        .data
        .open_critical
        .iter()
        .map(|f| {
            (
                f.route.recipient.to_string(),
                f.route.message_type.to_string(),
                f.code.to_string(),
            )
        })
        .collect();
    critical.sort();
    open.sort();
    assert_eq!(open, critical);
    assert!(open.contains(&(
        "840014932".to_owned(),
        "straffesaksforsendelse".to_owned(),
        "not_on_access_list".to_owned()
    )));
    // Risør's no_reader findings were fixed within the period: its concern report's and
    // that of the pilot `melding-kriseteam` (the same policy), which stays `unknown` as its
    // resource is not in Altinn.
    assert_eq!(r.data.time_to_fix.resolved, 2);
    assert_eq!(r.data.sweeps, vec![1, 2]);
    assert!(
        !r.data
            .open_critical
            .iter()
            .any(|f| f.route.recipient.to_string() == "964977402")
    );
}
