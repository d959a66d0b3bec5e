//! `reachcheck onboard` through the `altinn-sim` stand-in as a process: every organisation
//! asked once, approval moves one to approved and the next sweep judges it from its own
//! evidence; refused requests are never asked again, expired ones are; bad configuration
//! exits 2 naming the setting; one organisation's refusal is named and the others go on.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::fixture::{BAD, ER_ONLY, GOOD, SENDER, World, altinn_sim, route, stderr, stdout};

const SYSTEM_ID: &str = "310000019_reachcheck";
/// A valid organisation number of which Enhetsregisteret knows nothing.
const UNKNOWN: &str = "970000003";

/// The world's three municipalities; `ER_ONLY` already rejected a request (so the stand-in
/// counts only accepted requests as approvals), the others were never asked.
fn world() -> World {
    let w = World::new(&[
        &route("bekymringsmelding", GOOD),
        &route("bekymringsmelding", BAD),
        &route("bekymringsmelding", ER_ONLY),
    ]);
    let dir = w.snapshot().join("authentication/systemuser/request");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("{ER_ONLY}.json")),
        format!(
            r#"{{"id":"0b8b8d8e-0000-4000-8000-000000000009","partyOrgNo":"{ER_ONLY}","status":"Rejected","created":"2026-10-01T00:00:00Z"}}"#
        ),
    )
    .unwrap();
    w
}

/// Starts the stand-in with reachcheck's system registered, and writes `sim.toml` in the
/// world with the routing table, the policies and a store; `extra` is appended to
/// `[onboarding]`.
fn start(w: &World, extra: &str) -> crate::fixture::Proc {
    let config = w.path().join("sim.toml");
    let snapshot = w.snapshot();
    let sim = altinn_sim(
        &[
            "--snapshot",
            snapshot.to_str().unwrap(),
            "--policies",
            "policies",
            "--client-org",
            SENDER,
            "--system-id",
            SYSTEM_ID,
            "--write-config",
            config.to_str().unwrap(),
        ],
        w.path().join("altinn-sim.log"),
    );
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains(&format!("system_id = \"{SYSTEM_ID}\"")),
        "{text}"
    );
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let text = text.replacen(
        "[live]\n",
        &format!(
            "policies = {:?}\nroutes = \"routes.csv\"\n\n[daemon]\nstore = \"store.db\"\n\n[live]\nrate_per_second = 2000\n",
            policies.display().to_string()
        ),
        1,
    ) + extra;
    std::fs::write(&config, text).unwrap();
    sim
}

fn run(w: &World, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .current_dir(w.path())
        .args(args)
        .args(["--config", "sim.toml"])
        .output()
        .unwrap()
}

fn onboard(w: &World, args: &[&str]) -> (Option<i32>, Value, String) {
    let o = run(w, &[&["onboard", "--format", "json"][..], args].concat());
    let v = serde_json::from_str(&stdout(&o)).unwrap_or(Value::Null);
    (o.status.code(), v, stderr(&o))
}

fn org<'a>(run: &'a Value, org: &str) -> &'a Value {
    run["organisations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["org"] == org)
        .unwrap_or_else(|| panic!("{org} not in {run}"))
}

fn verdict_of(w: &World, recipient: &str) -> Value {
    let o = run(w, &["check", "--format", "json"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap_or_else(|_| panic!("{}", stderr(&o)));
    v["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["recipient"] == recipient)
        .unwrap()
        .clone()
}

fn codes(route: &Value) -> Vec<String> {
    route["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

fn post(base: &str, path: &str, body: &str) -> (u16, Value) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{base}{path}"))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    })
}

#[test]
fn onboard_asks_once_approval_makes_the_next_sweep_judge_from_evidence() {
    let w = world();
    let sim = start(&w, "");

    // Before: the municipality has not approved, so its readers cannot be seen.
    let before = verdict_of(&w, GOOD);
    assert_eq!(before["verdict"], "unknown", "{before}");
    assert!(codes(&before).contains(&"not_authorized".to_owned()));

    // First run: the two never asked are asked; the refused one is not asked again.
    let (code, first, err) = onboard(&w, &[]);
    assert_eq!(code, Some(0), "{err}\n{first}");
    assert_eq!(first["created"], 2, "{first}");
    let good = org(&first, GOOD);
    let bad = org(&first, BAD);
    assert_eq!(good["state"], "pending");
    assert_eq!(good["status"], "New");
    let good_id = good["request_id"].as_str().unwrap().to_owned();
    let bad_id = bad["request_id"].as_str().unwrap().to_owned();
    assert_ne!(good_id, bad_id);
    // Each organisation's own link, never another's.
    let good_link = good["approval_link"].as_str().unwrap();
    assert!(good_link.contains(&format!("id={good_id}")), "{good_link}");
    assert!(!good_link.contains(&bad_id));
    assert!(
        bad["approval_link"]
            .as_str()
            .unwrap()
            .contains(&format!("id={bad_id}"))
    );
    let refused = org(&first, ER_ONLY);
    assert_eq!(refused["state"], "refused", "{refused}");
    assert_eq!(refused["status"], "Rejected");
    assert!(refused["approval_link"].is_null());
    assert_eq!(first["follow_up"], serde_json::json!([]));

    // Second run: nothing new, the same requests.
    let (code, second, err) = onboard(&w, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(second["created"], 0, "{second}");
    assert_eq!(org(&second, GOOD)["request_id"], good_id.as_str());
    assert_eq!(org(&second, BAD)["request_id"], bad_id.as_str());

    // The municipality clicks its link.
    let (s, approved) = post(&sim.base, &format!("/_sim/approve/{good_id}"), "");
    assert_eq!(s, 200, "{approved}");
    assert_eq!(approved["status"], "Accepted");
    // A request already decided cannot be decided again.
    let (s, _) = post(&sim.base, &format!("/_sim/reject/{good_id}"), "");
    assert_eq!(s, 400);

    // The daemon reads the answers again at every sweep, into the store.
    {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_reachcheck"));
        cmd.current_dir(w.path())
            .args(["serve", "--listen", "127.0.0.1:0", "--config", "sim.toml"])
            .env("REACHCHECK_API_TOKENS", "tests:0123456789abcdef0123")
            .env("REACHCHECK_LOG", "info");
        let daemon = crate::fixture::start(cmd, w.path().join("serve.log"));
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let rt = tokio::runtime::Runtime::new().unwrap();
        while rt
            .block_on(reqwest::get(format!("{}/readyz", daemon.base)))
            .map_or(true, |r| r.status() != 200)
        {
            assert!(std::time::Instant::now() < until, "{}", daemon.log());
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(
            daemon.log().contains("onboarding requests refreshed"),
            "{}",
            daemon.log()
        );
        drop(daemon);
        let store = reachcheck::store::Store::open(&w.path().join("store.db")).unwrap();
        let kept = store.onboarding().unwrap();
        let good = &kept[&reachcheck::OrgNumber::parse(GOOD).unwrap()];
        assert_eq!(
            good.state,
            reachcheck::onboarding::OnboardingState::Approved
        );
        assert_eq!(good.approval_link, None);
        // The sweep's `not_authorized` finding carries the organisation's own link.
        let last = store.last_sweep().unwrap().unwrap();
        let verdicts = store.verdicts_at(last.id).unwrap();
        let bad_route = verdicts
            .iter()
            .find(|v| v.route.recipient.to_string() == BAD)
            .unwrap();
        let finding = serde_json::to_value(&bad_route.findings).unwrap();
        let not_authorized = finding
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "not_authorized")
            .unwrap_or_else(|| panic!("{finding}"));
        let link = not_authorized["approval_link"].as_str().unwrap();
        assert!(link.contains(&format!("id={bad_id}")), "{link}");
        assert!(!link.contains(&good_id));
        let good_route = verdicts
            .iter()
            .find(|v| v.route.recipient.to_string() == GOOD)
            .unwrap();
        assert_eq!(good_route.verdict, reachcheck::Verdict::Readable);
    }

    // The report shows coverage per sender; the letter to a recipient carries its own
    // link, and only its own.
    let o = run(&w, &["report", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let coverage = &report["data"]["onboarding"]["by_sender"][0];
    assert_eq!(coverage["sender"], SENDER, "{report}");
    for (state, n) in [
        ("approved", 1),
        ("pending", 1),
        ("refused", 1),
        ("never_asked", 0),
    ] {
        assert_eq!(coverage[state], n, "{state}: {coverage}");
    }
    assert_eq!(
        report["data"]["onboarding"]["follow_up"],
        serde_json::json!([])
    );
    let o = run(
        &w,
        &[
            "report",
            "--recipient",
            BAD,
            "--format",
            "letter",
            "--lang",
            "en",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let letter = stdout(&o);
    assert!(letter.contains(&format!("id={bad_id}")), "{letter}");
    assert!(!letter.contains(&good_id), "{letter}");
    let o = run(&w, &["report", "--recipient", GOOD, "--format", "letter"]);
    assert!(!stdout(&o).contains("request?id="), "{}", stdout(&o));
    let o = run(&w, &["report", "--format", "markdown", "--lang", "en"]);
    let md = stdout(&o);
    assert!(
        md.contains("## System-user approval")
            && md.contains(&format!("| {SENDER} | 1 | 1 | 1 | 0 | 0 |")),
        "{md}"
    );
    let o = run(&w, &["report", "--format", "csv"]);
    let csv = stdout(&o);
    for line in [
        format!("onboarding,{SENDER},approved,1"),
        format!("onboarding,{SENDER},refused,1"),
    ] {
        assert!(csv.contains(&line), "{line}: {csv}");
    }
    let o = run(&w, &["report", "--format", "html", "--lang", "en"]);
    assert!(
        stdout(&o).contains("System-user approval"),
        "{}",
        stdout(&o)
    );

    let (code, status, err) = onboard(&w, &["--status"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(status["created"], 0);
    assert_eq!(org(&status, GOOD)["state"], "approved", "{status}");
    assert!(org(&status, GOOD)["approval_link"].is_null());
    assert_eq!(org(&status, BAD)["state"], "pending");

    // The next sweep judges it from its own connections: two confidential readers.
    let after = verdict_of(&w, GOOD);
    assert_eq!(after["verdict"], "readable", "{after}");
    assert_eq!(after["readers"], 2);
    assert!(!codes(&after).contains(&"not_authorized".to_owned()));
    let still = verdict_of(&w, BAD);
    assert!(
        codes(&still).contains(&"not_authorized".to_owned()),
        "{still}"
    );

    // 181 days later the unanswered request has timed out: asked again, a new request.
    let (s, _) = post(&sim.base, "/_sim/clock", r#"{"advance": "181days"}"#);
    assert_eq!(s, 200);
    let (code, late, err) = onboard(&w, &["--status"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(org(&late, BAD)["state"], "expired", "{late}");
    let (code, again, err) = onboard(&w, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(again["created"], 1, "{again}");
    let renewed = org(&again, BAD);
    assert_eq!(renewed["state"], "pending");
    assert_ne!(renewed["request_id"], bad_id.as_str());
    assert_eq!(org(&again, ER_ONLY)["state"], "refused");
    assert_eq!(org(&again, GOOD)["state"], "approved");
    // Only pending requests are followed up, and the renewed one is fresh.
    assert_eq!(again["follow_up"], serde_json::json!([]));

    // The table says the same, each link on its own row.
    let o = run(&w, &["onboard", "--status"]);
    let table = stdout(&o);
    let line = table.lines().find(|l| l.starts_with(GOOD)).unwrap();
    assert!(
        line.contains("approved") && !line.contains("http"),
        "{line}"
    );
    let line = table.lines().find(|l| l.starts_with(BAD)).unwrap();
    assert!(
        line.contains("pending") && line.contains(renewed["request_id"].as_str().unwrap()),
        "{line}"
    );
}

#[test]
fn bad_onboarding_config_exits_2_naming_the_setting_and_one_refusal_is_that_organisations() {
    let w = world();
    let _sim = start(
        &w,
        "access_packages = [\"urn:altinn:accesspackage:hovedadministrator\"]\n",
    );
    // The system does not offer the package asked for.
    let (code, out, err) = onboard(&w, &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        err.contains("`onboarding.access_packages`") && err.contains("hovedadministrator"),
        "{err}"
    );
    assert!(out.is_null(), "nothing on stdout: {out}");

    let config = w.path().join("sim.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let without = |from: &str, to: &str| {
        std::fs::write(&config, text.replace(from, to)).unwrap();
        onboard(&w, &[])
    };
    // No system id.
    let (code, _, err) = without(&format!("system_id = \"{SYSTEM_ID}\"\n"), "");
    assert_eq!(code, Some(2));
    assert!(err.contains("`onboarding.system_id`"), "{err}");
    // No scopes.
    let (code, _, err) = without(
        "access_packages = [\"urn:altinn:accesspackage:hovedadministrator\"]\n",
        "scopes = []\n",
    );
    assert_eq!(code, Some(2));
    assert!(
        err.contains("`onboarding.scopes`") && err.contains("sim.toml"),
        "{err}"
    );

    // A request Altinn refuses for one organisation: named for it, the others asked.
    std::fs::write(
        &config,
        text.replace(
            "access_packages = [\"urn:altinn:accesspackage:hovedadministrator\"]\n",
            "",
        ),
    )
    .unwrap();
    w.set_routes(&[
        &route("bekymringsmelding", GOOD),
        &route("bekymringsmelding", UNKNOWN),
    ]);
    let (code, out, err) = onboard(&w, &[]);
    assert_eq!(code, Some(1), "{err}\n{out}");
    assert!(err.contains(UNKNOWN), "{err}");
    let unknown = org(&out, UNKNOWN);
    assert_eq!(unknown["state"], "never_asked");
    assert!(
        unknown["error"].as_str().unwrap().starts_with(UNKNOWN),
        "{unknown}"
    );
    assert!(unknown["approval_link"].is_null());
    assert_eq!(org(&out, GOOD)["state"], "pending");
    assert_eq!(out["created"], 1);

    // Pending past `remind_after`: listed for follow-up, with its own link.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text + "remind_after = \"1s\"\n").unwrap();
    // `onboard` reads its clock in whole seconds (truncated) while the request's `created`
    // keeps Altinn's fraction: only after 2 s is "pending for 1 s" certain at any phase.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let (_, later, err) = onboard(&w, &["--status"]);
    assert_eq!(
        later["follow_up"],
        serde_json::json!([GOOD]),
        "{err}\n{later}"
    );
    let o = run(&w, &["onboard", "--status"]);
    let table = stdout(&o);
    let follow = table
        .split("follow up")
        .nth(1)
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        follow.contains(GOOD)
            && follow.contains(org(&later, GOOD)["approval_link"].as_str().unwrap()),
        "{table}"
    );
}

/// A Maskinporten token of the client in `sim.toml` for `scope`, and, for a system user,
/// `org`'s.
fn token(w: &World, scope: &str, org: Option<&str>) -> String {
    let s = reachcheck::settings::Settings::load(&reachcheck::settings::Overrides {
        config: Some(w.path().join("sim.toml")),
        ..Default::default()
    })
    .unwrap();
    let live = s.live.unwrap();
    let http = reachcheck::http::Http::new(live.http.clone()).unwrap();
    let auth = reachcheck::auth::Auth::new(http, live.auth.clone()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let org = org.map(|o| reachcheck::OrgNumber::parse(o).unwrap());
    let (t, _) = rt.block_on(auth.maskinporten_token(scope, org)).unwrap();
    t.secret().clone()
}

fn call(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = reqwest::Client::new();
        let mut r = c.request(method.parse().unwrap(), format!("{base}{path}"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let a = r.send().await.unwrap();
        let s = a.status().as_u16();
        (s, a.json().await.unwrap_or(Value::Null))
    })
}

#[test]
fn the_stand_in_refuses_vendor_requests_as_altinn_does() {
    let w = world();
    let sim = start(&w, "");
    let base = sim.base.as_str();
    let write = "altinn:authentication/systemuser.request.write";
    let read = "altinn:authentication/systemuser.request.read";
    let create = "/authentication/api/v1/systemuser/request/vendor";
    let body = |org: &str| {
        serde_json::json!({"systemId": SYSTEM_ID, "partyOrgNo": org,
            "accessPackages": [{"urn": "urn:altinn:accesspackage:tilgangsstyrer"}]})
    };
    // No token; a token without the scope.
    assert_eq!(call(base, "POST", create, None, Some(body(GOOD))).0, 401);
    let reader = token(&w, read, None);
    assert_eq!(
        call(base, "POST", create, Some(&reader), Some(body(GOOD))).0,
        403
    );
    let t = token(&w, write, None);
    // An unknown system, a package it does not offer, no package, an unknown organisation,
    // a redirect URL it did not register.
    let (s, p) = call(
        base,
        "POST",
        create,
        Some(&t),
        Some(serde_json::json!({
        "systemId": "310000019_other", "partyOrgNo": GOOD,
        "accessPackages": [{"urn": "urn:altinn:accesspackage:tilgangsstyrer"}]})),
    );
    assert_eq!((s, p["code"].as_str()), (400, Some("AUTH-00011")), "{p}");
    let mut b = body(GOOD);
    b["accessPackages"] =
        serde_json::json!([{"urn": "urn:altinn:accesspackage:hovedadministrator"}]);
    assert_eq!(call(base, "POST", create, Some(&t), Some(b)).0, 400);
    let mut b = body(GOOD);
    b["accessPackages"] = serde_json::json!([]);
    assert_eq!(call(base, "POST", create, Some(&t), Some(b)).0, 400);
    assert_eq!(
        call(base, "POST", create, Some(&t), Some(body(UNKNOWN))).0,
        400
    );
    let mut b = body(GOOD);
    b["redirectUrl"] = serde_json::json!("https://evil.example/");
    assert_eq!(call(base, "POST", create, Some(&t), Some(b)).0, 400);
    // Created once (201), then the same open request again (200).
    let (s, first) = call(base, "POST", create, Some(&t), Some(body(GOOD)));
    assert_eq!(s, 201, "{first}");
    assert_eq!(first["status"], "New");
    assert_eq!(first["partyOrgNo"], GOOD);
    assert_eq!(first["externalRef"], GOOD);
    let (s, again) = call(base, "POST", create, Some(&t), Some(body(GOOD)));
    assert_eq!((s, &again["id"]), (200, &first["id"]));
    // A request decided but not timed out is answered again, never replaced.
    let (s, rejected) = call(base, "POST", create, Some(&t), Some(body(ER_ONLY)));
    assert_eq!(
        (s, &rejected["status"]),
        (200, &Value::from("Rejected")),
        "{rejected}"
    );
    // Read with the read scope only; an unknown id is 404.
    let id = first["id"].as_str().unwrap();
    let (s, got) = call(base, "GET", &format!("{create}/{id}"), Some(&reader), None);
    assert_eq!((s, &got["confirmUrl"]), (200, &first["confirmUrl"]));
    assert_eq!(
        call(base, "GET", &format!("{create}/{id}"), Some(&t), None).0,
        403
    );
    assert_eq!(
        call(base, "GET", &format!("{create}/nope"), Some(&reader), None).0,
        404
    );
    // Approved: a system user exists, so a new request for it is AUTH-00004, and
    // Maskinporten now grants that organisation's system-user token.
    assert_eq!(post(base, &format!("/_sim/approve/{id}"), "").0, 200);
    let (s, p) = call(base, "POST", create, Some(&t), Some(body(GOOD)));
    assert_eq!((s, p["code"].as_str()), (400, Some("AUTH-00004")), "{p}");
    let users = token(&w, "altinn:authentication/systemregister.write", None);
    let (s, list) = call(
        base,
        "GET",
        &format!("/authentication/api/v1/systemuser/vendor/bysystem/{SYSTEM_ID}"),
        Some(&users),
        None,
    );
    assert_eq!(s, 200);
    let listed: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["reporteeOrgNo"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec![GOOD], "{list}");
    assert!(!token(&w, "altinn:accessmanagement/authorizedparties", Some(GOOD)).is_empty());
}

#[test]
fn a_recorded_snapshot_carries_each_unapproved_organisations_own_link() {
    let w = World::new(&[
        &route("bekymringsmelding", GOOD),
        &route("bekymringsmelding", BAD),
    ]);
    let s = w.snapshot();
    std::fs::remove_file(s.join(format!("accessmanagement/connections/{BAD}.json"))).unwrap();
    std::fs::create_dir_all(s.join("auth/maskinporten")).unwrap();
    std::fs::write(
        s.join(format!("auth/maskinporten/{BAD}.status.json")),
        r#"{"status":400,"body":{"error":"invalid_altinn_customer_configuration"}}"#,
    )
    .unwrap();
    let requests = s.join("authentication/systemuser/request");
    std::fs::create_dir_all(&requests).unwrap();
    let link = "https://am.ui.altinn.no/accessmanagement/ui/systemuser/request?id=5e000000-0000-4000-8000-000000000007&DONTCHOOSEREPORTEE=true";
    std::fs::write(
        requests.join(format!("{BAD}.json")),
        format!(
            r#"{{"id":"5e000000-0000-4000-8000-000000000007","partyOrgNo":"{BAD}","status":"New","confirmUrl":"{link}"}}"#
        ),
    )
    .unwrap();
    let o = w.run(&["check", "--format", "json"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap_or_else(|_| panic!("{}", stderr(&o)));
    let routes = v["routes"].as_array().unwrap();
    let bad = routes.iter().find(|r| r["recipient"] == BAD).unwrap();
    assert_eq!(bad["verdict"], "unknown", "{bad}");
    let f = bad["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "not_authorized")
        .unwrap_or_else(|| panic!("{bad}"));
    assert!(f["remediation"].as_str().unwrap().contains(link), "{f}");
    assert!(
        f["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().contains(link)),
        "{f}"
    );
    // The approved municipality's routes carry no link, its own or another's.
    let good = routes.iter().find(|r| r["recipient"] == GOOD).unwrap();
    assert!(!good.to_string().contains("request?id="), "{good}");
}
