//! AuthZEN 1.0 in full (issue 19): discovery (§9), batch semantics (§7), the three searches
//! with pages (§8), against the demo. In process over a socket for the shapes and the bad
//! requests; as a process over TLS, driven by a third-party AuthZEN client
//! (`openidauthzen`), for "every answer equals `precheck`".

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reachcheck::daemon::{Daemon, ServeOverrides};
use reachcheck::settings::Overrides;
use serde_json::{Value, json};

use crate::daemon::TOKEN;
use crate::fixture::{Proc, start};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A directory with a config naming the demo's policies, routes and snapshot, a token file
/// and `daemon_extra` in `[daemon]`.
pub(crate) fn demo_config(daemon_extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let demo = root().join("examples/demo");
    std::fs::write(
        dir.path().join("reachcheck.toml"),
        format!(
            "policies = {:?}\nroutes = {:?}\nsnapshot = {:?}\nnow = \"2026-11-21T06:00:00Z\"\n\n[daemon]\nstore = \"store.db\"\napi_tokens_file = \"tokens\"\n{daemon_extra}",
            root().join("policies").display().to_string(),
            demo.join("routes.csv").display().to_string(),
            demo.join("snapshot").display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("tokens"), format!("tests:{TOKEN}\n")).unwrap();
    dir
}

/// The demo's routing table: (sender, message type, recipient) rows.
fn demo_routes() -> Vec<(String, String, String)> {
    std::fs::read_to_string(root().join("examples/demo/routes.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            (f[0].to_owned(), f[1].to_owned(), f[2].to_owned())
        })
        .collect()
}

/// `reachcheck check --format json` over the demo: the verdict of every route.
fn demo_verdicts() -> std::collections::HashMap<(String, String, String), String> {
    let o = Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .current_dir(root())
        .args(["check", "--format", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_owned();
            (
                (s("sender"), s("message_type"), s("recipient")),
                s("verdict"),
            )
        })
        .collect()
}

/// `reachcheck precheck --format json` for one route: its verdict and readers.
fn precheck(sender: &str, t: &str, recipient: &str) -> (String, u64) {
    let o = Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .current_dir(root())
        .args(["precheck", "--format", "json", "--sender", sender])
        .args(["--message-type", t, "--recipient", recipient])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let r = &v["routes"][0];
    (
        r["verdict"].as_str().unwrap().to_owned(),
        r["readers"].as_u64().unwrap(),
    )
}

fn eval_body(sender: &str, t: &str, recipient: &str) -> Value {
    json!({"subject": {"type": "organization", "id": sender},
           "action": {"name": "send", "properties": {"message_type": t}},
           "resource": {"type": "organization", "id": recipient}})
}

async fn post(c: &reqwest::Client, base: &str, path: &str, body: &Value) -> (u16, Value) {
    let r = c
        .post(format!("{base}{path}"))
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The daemon over the demo after one sweep, its API on a loopback port: the base URL.
async fn demo_api(dir: &Path) -> (Daemon, String) {
    let d = Daemon::start(ServeOverrides {
        sources: Overrides {
            config: Some(dir.join("reachcheck.toml")),
            ..Overrides::default()
        },
        ..ServeOverrides::default()
    })
    .unwrap();
    d.sweep_once().await.unwrap();
    let app = reachcheck::api::router(Arc::clone(d.shared()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (d, base)
}

/// A readable and a not-readable route of one sender and message type in the demo.
fn mixed_pair(
    verdicts: &std::collections::HashMap<(String, String, String), String>,
) -> ((String, String, String), (String, String, String)) {
    let mut routes: Vec<_> = verdicts.keys().cloned().collect();
    routes.sort();
    for a in &routes {
        if verdicts[a] != "readable" {
            continue;
        }
        if let Some(b) = routes
            .iter()
            .find(|b| b.0 == a.0 && b.1 == a.1 && verdicts[*b] != "readable")
        {
            return (a.clone(), b.clone());
        }
    }
    panic!("the demo has no sender and message type with both verdicts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_batch_semantics_and_searches_answer_as_the_specification_shows() {
    let dir = demo_config("public_url = \"https://pdp.example.no/reachcheck/\"\n");
    let (_d, base) = demo_api(dir.path()).await;
    let c = reqwest::Client::new();

    // §9: discovery, without a token, names the configured identifier and every endpoint.
    let r = c
        .get(format!("{base}/.well-known/authzen-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    let pdp = "https://pdp.example.no/reachcheck";
    assert_eq!(
        doc,
        json!({
            "policy_decision_point": pdp,
            "access_evaluation_endpoint": format!("{pdp}/access/v1/evaluation"),
            "access_evaluations_endpoint": format!("{pdp}/access/v1/evaluations"),
            "search_subject_endpoint": format!("{pdp}/access/v1/search/subject"),
            "search_resource_endpoint": format!("{pdp}/access/v1/search/resource"),
            "search_action_endpoint": format!("{pdp}/access/v1/search/action"),
        })
    );

    // §7: the three semantics over [permit, deny, permit] and [deny, permit, deny].
    let verdicts = demo_verdicts();
    let (yes, no) = mixed_pair(&verdicts);
    let item = |r: &(String, String, String)| eval_body(&r.0, &r.1, &r.2);
    let batch = |items: Vec<Value>, semantic: Option<&str>| {
        let mut b = json!({ "evaluations": items });
        if let Some(s) = semantic {
            b["options"] = json!({ "evaluations_semantic": s });
        }
        b
    };
    let decisions = |v: &Value| -> Vec<bool> {
        v["evaluations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["decision"].as_bool().unwrap())
            .collect()
    };
    let pdp_items = vec![item(&yes), item(&no), item(&yes)];
    let dpd_items = vec![item(&no), item(&yes), item(&no)];
    for semantic in [None, Some("execute_all")] {
        let (s, v) = post(
            &c,
            &base,
            "/access/v1/evaluations",
            &batch(pdp_items.clone(), semantic),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(decisions(&v), [true, false, true]);
        assert!(
            v["evaluations"][1]["context"].get("reason").is_none(),
            "{v}"
        );
        assert!(
            v.get("decision").is_none(),
            "§7: the top-level decision is omitted"
        );
    }
    // deny_on_first_deny: the answers up to and including the first deny, which says why.
    let (s, v) = post(
        &c,
        &base,
        "/access/v1/evaluations",
        &batch(pdp_items.clone(), Some("deny_on_first_deny")),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(decisions(&v), [true, false]);
    assert_eq!(
        v["evaluations"][1]["context"]["reason"],
        "deny_on_first_deny"
    );
    assert_eq!(
        v["evaluations"][1]["context"]["verdict"],
        verdicts[&no].as_str()
    );
    let (_, v) = post(
        &c,
        &base,
        "/access/v1/evaluations",
        &batch(vec![item(&yes), item(&yes)], Some("deny_on_first_deny")),
    )
    .await;
    assert_eq!(decisions(&v), [true, true]);
    // permit_on_first_permit: up to and including the first permit.
    let (_, v) = post(
        &c,
        &base,
        "/access/v1/evaluations",
        &batch(dpd_items.clone(), Some("permit_on_first_permit")),
    )
    .await;
    assert_eq!(decisions(&v), [false, true]);
    assert_eq!(
        v["evaluations"][1]["context"]["reason"],
        "permit_on_first_permit"
    );
    assert_eq!(v["evaluations"][1]["context"]["verdict"], "readable");
    let (_, v) = post(
        &c,
        &base,
        "/access/v1/evaluations",
        &batch(vec![item(&no), item(&no)], Some("permit_on_first_permit")),
    )
    .await;
    assert_eq!(decisions(&v), [false, false]);

    // §8 resource search, in pages of 2: exactly the readable recipients of the table.
    let (sender, t) = (yes.0.clone(), yes.1.clone());
    let want: BTreeSet<String> = demo_routes()
        .into_iter()
        .filter(|r| r.0 == sender && r.1 == t && verdicts[r] == "readable")
        .map(|r| r.2)
        .collect();
    assert!(
        want.len() > 2,
        "the test needs several pages: {}",
        want.len()
    );
    let mut got = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let body = json!({
            "subject": {"type": "organization", "id": sender},
            "action": {"name": "send", "properties": {"message_type": t}},
            "resource": {"type": "organization"},
            "page": {"token": token, "limit": 2},
        });
        let (s, v) = post(&c, &base, "/access/v1/search/resource", &body).await;
        assert_eq!(s, 200, "{v}");
        pages += 1;
        let results = v["results"].as_array().unwrap();
        assert!(results.len() <= 2);
        assert_eq!(v["page"]["count"], results.len());
        for r in results {
            assert_eq!(r["type"], "organization");
            assert_eq!(r["properties"]["decision"], true, "{r}");
            assert_eq!(r["properties"]["context"]["verdict"], "readable");
            assert!(r["properties"]["context"]["readers"].as_u64().unwrap() >= 1);
            got.push(r["id"].as_str().unwrap().to_owned());
        }
        token = v["page"]["next_token"].as_str().unwrap().to_owned();
        if token.is_empty() {
            break;
        }
    }
    assert!(pages >= 2);
    let got_set: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(got.len(), got_set.len(), "no recipient twice across pages");
    assert_eq!(got_set, want);

    // §8 action search: the message types the sender can send the recipient.
    let recipient = yes.2.clone();
    let want: BTreeSet<String> = demo_routes()
        .into_iter()
        .filter(|r| r.0 == sender && r.2 == recipient && verdicts[r] == "readable")
        .map(|r| r.1)
        .collect();
    let (s, v) = post(
        &c,
        &base,
        "/access/v1/search/action",
        &json!({"subject": {"type": "organization", "id": sender},
                "resource": {"type": "organization", "id": recipient}}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let got: BTreeSet<String> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            assert_eq!(a["name"], "send");
            assert_eq!(a["properties"]["decision"], true);
            a["properties"]["message_type"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(v["page"]["next_token"], "");

    // §8 subject search: the senders whose routes reach the recipient with the type.
    let want: BTreeSet<String> = demo_routes()
        .into_iter()
        .filter(|r| r.1 == t && r.2 == recipient && verdicts[r] == "readable")
        .map(|r| r.0)
        .collect();
    let (s, v) = post(
        &c,
        &base,
        "/access/v1/search/subject",
        &json!({"subject": {"type": "organization"},
                "action": {"name": "send", "properties": {"message_type": t}},
                "resource": {"type": "organization", "id": recipient}}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let got: BTreeSet<String> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, want);
    assert!(got.contains(&sender));

    // A recipient that is only unreadable: nothing found, and no token.
    let (s, v) = post(
        &c,
        &base,
        "/access/v1/search/subject",
        &json!({"subject": {"type": "organization"},
                "action": {"name": "send", "properties": {"message_type": no.1}},
                "resource": {"type": "organization", "id": no.2}}),
    )
    .await;
    assert_eq!(s, 200);
    assert!(
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"] != no.0.as_str()),
        "an unreadable route is never a search result: {v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_semantics_tokens_and_search_fields_are_a_400_naming_the_field() {
    let dir = demo_config("");
    let (_d, base) = demo_api(dir.path()).await;
    let c = reqwest::Client::new();
    let routes = demo_routes();
    let (s0, t0, r0) = &routes[0];

    // Discovery without `public_url`: the listener's scheme and the request's host.
    let doc: Value = c
        .get(format!("{base}/.well-known/authzen-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["policy_decision_point"], base.as_str());
    assert_eq!(
        doc["search_resource_endpoint"],
        format!("{base}/access/v1/search/resource")
    );

    let eval = eval_body(s0, t0, r0);
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/access/v1/evaluations",
            json!({"evaluations": [eval.clone()], "options": {"evaluations_semantic": "first_wins"}}),
            "options.evaluations_semantic",
        ),
        (
            "/access/v1/evaluations",
            json!({"evaluations": [eval.clone()], "options": {"evaluations_semantic": 3}}),
            "options.evaluations_semantic",
        ),
        (
            "/access/v1/evaluations",
            json!({"evaluations": [eval.clone()], "options": "deny_on_first_deny"}),
            "options",
        ),
        (
            "/access/v1/search/resource",
            json!({"subject": eval["subject"], "action": eval["action"]}),
            "resource",
        ),
        (
            "/access/v1/search/resource",
            json!({"subject": {"type": "organization"}, "action": eval["action"], "resource": {"type": "organization"}}),
            "subject.id",
        ),
        (
            "/access/v1/search/resource",
            json!({"subject": eval["subject"], "resource": {"type": "organization"}}),
            "action",
        ),
        (
            "/access/v1/search/resource",
            json!({"subject": eval["subject"], "action": eval["action"], "resource": {"type": "person"}}),
            "resource.type",
        ),
        (
            "/access/v1/search/resource",
            json!({"subject": eval["subject"], "action": eval["action"], "resource": {"type": "organization"}, "page": {"token": "not-a-token"}}),
            "page.token",
        ),
        (
            "/access/v1/search/resource",
            json!({"subject": eval["subject"], "action": eval["action"], "resource": {"type": "organization"}, "page": {"token": 17}}),
            "page.token",
        ),
        (
            "/access/v1/search/resource",
            json!({"subject": eval["subject"], "action": eval["action"], "resource": {"type": "organization"}, "page": {"limit": 0}}),
            "page.limit",
        ),
        (
            "/access/v1/search/resource",
            json!({"subject": eval["subject"], "action": eval["action"], "resource": {"type": "organization"}, "page": {"limit": 1001}}),
            "page.limit",
        ),
        (
            "/access/v1/search/resource",
            json!({"subject": eval["subject"], "action": eval["action"], "resource": {"type": "organization"}, "page": []}),
            "page",
        ),
        (
            "/access/v1/search/action",
            json!({"subject": eval["subject"]}),
            "resource",
        ),
        (
            "/access/v1/search/action",
            json!({"subject": eval["subject"], "resource": {"type": "organization"}}),
            "resource.id",
        ),
        (
            "/access/v1/search/subject",
            json!({"action": eval["action"], "resource": eval["resource"]}),
            "subject",
        ),
        (
            "/access/v1/search/subject",
            json!({"subject": {"type": "organization"}, "action": {"name": "send", "properties": {}}, "resource": eval["resource"]}),
            "action.properties.message_type",
        ),
    ];
    for (path, body, field) in cases {
        let (s, v) = post(&c, &base, path, &body).await;
        assert_eq!(s, 400, "{path} {body}: {v}");
        assert_eq!(v["field"], field, "{path} {body}: {v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()));
    }

    // A token of one search is refused by another, naming the token.
    let (_, first) = post(
        &c,
        &base,
        "/access/v1/search/resource",
        &json!({"subject": eval["subject"], "action": eval["action"],
                "resource": {"type": "organization"}, "page": {"limit": 1}}),
    )
    .await;
    let token = first["page"]["next_token"].as_str().unwrap();
    assert!(!token.is_empty(), "{first}");
    let (s, v) = post(
        &c,
        &base,
        "/access/v1/search/subject",
        &json!({"subject": {"type": "organization"}, "action": eval["action"],
                "resource": eval["resource"], "page": {"token": token}}),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["field"], "page.token");
    // The searches need a token like every other check.
    let r = c
        .post(format!("{base}/access/v1/search/action"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// The third-party client's transport: reqwest trusting the test certificate only.
pub(crate) struct Https(pub(crate) reqwest::Client);

impl Https {
    pub(crate) fn trusting(cert_pem: &str) -> Https {
        Https(
            reqwest::Client::builder()
                .tls_built_in_root_certs(false)
                .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        )
    }
}

#[async_trait::async_trait]
impl openidauthzen::http::HttpClient for Https {
    async fn request(
        &self,
        method: openidauthzen::http::Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<openidauthzen::http::HttpResponse, openidauthzen::Error> {
        let mut req = match method {
            openidauthzen::http::Method::Post => self.0.post(url),
            _ => self.0.get(url),
        };
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        let r = req
            .send()
            .await
            .map_err(|e| openidauthzen::Error::Http(Box::new(e)))?;
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = r
            .bytes()
            .await
            .map_err(|e| openidauthzen::Error::Http(Box::new(e)))?
            .to_vec();
        Ok(openidauthzen::http::HttpResponse {
            status,
            headers,
            body,
        })
    }
}

/// A self-signed certificate for `localhost` and 127.0.0.1: (certificate PEM, key PEM).
pub(crate) fn certificate() -> (String, String) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    (ck.cert.pem(), ck.signing_key.serialize_pem())
}

pub(crate) fn serve_cmd(dir: &Path, listen: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reachcheck"));
    cmd.current_dir(dir)
        .args(["serve", "--listen", listen])
        .env("REACHCHECK_LOG", "info")
        .env("NO_COLOR", "1");
    cmd
}

fn org(id: &str) -> openidauthzen::Subject {
    openidauthzen::Subject {
        subject_type: "organization".to_owned(),
        id: Some(id.to_owned()),
        properties: None,
    }
}

fn recipient(id: Option<&str>) -> openidauthzen::Resource {
    openidauthzen::Resource {
        resource_type: "organization".to_owned(),
        id: id.map(str::to_owned),
        properties: None,
    }
}

fn send(t: &str) -> openidauthzen::Action {
    openidauthzen::Action {
        name: "send".to_owned(),
        properties: Some(json!({ "message_type": t })),
    }
}

pub(crate) async fn wait_ready(c: &reqwest::Client, base: &str) {
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(r) = c.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        assert!(Instant::now() < until, "not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_party_authzen_client_over_tls_gets_what_precheck_says() {
    use openidauthzen::{
        ActionSearchRequest, AuthZenClient, EvaluationItem, EvaluationRequest, EvaluationSemantic,
        EvaluationsOptions, EvaluationsRequest, Page, ResourceSearchRequest, SubjectSearchRequest,
    };
    let dir = demo_config("tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n");
    let (cert, key) = certificate();
    std::fs::write(dir.path().join("cert.pem"), &cert).unwrap();
    std::fs::write(dir.path().join("key.pem"), &key).unwrap();
    let p: Proc = start(
        serve_cmd(dir.path(), "127.0.0.1:0"),
        dir.path().join("serve.log"),
    );
    assert!(p.base.starts_with("https://127.0.0.1:"), "{}", p.base);
    let https = Https::trusting(&cert);
    wait_ready(&https.0, &p.base).await;
    // Plain HTTP on the TLS listener gets nothing.
    let plain = p.base.replacen("https://", "http://", 1);
    assert!(
        reqwest::get(format!("{plain}/healthz"))
            .await
            .map_or(true, |r| r.status() != 200)
    );

    let client = AuthZenClient::new(https, Duration::from_secs(300));
    let pdp = p.base.clone();
    // Discovery: the client insists on https and on the identifier it asked for.
    let config = client.discover(&pdp).await.unwrap();
    assert_eq!(config.policy_decision_point, pdp);
    assert_eq!(
        config.search_resource_endpoint.as_deref(),
        Some(format!("{pdp}/access/v1/search/resource").as_str())
    );
    assert!(config.search_action_endpoint.is_some() && config.search_subject_endpoint.is_some());
    assert!(config.access_evaluations_endpoint.is_some());

    let verdicts = demo_verdicts();
    let (yes, no) = mixed_pair(&verdicts);
    // Evaluation: decision and verdict as `precheck` says.
    for r in [&yes, &no] {
        let got = client
            .evaluate(
                &pdp,
                TOKEN,
                &EvaluationRequest {
                    subject: org(&r.0),
                    action: send(&r.1),
                    resource: recipient(Some(&r.2)),
                    context: None,
                },
            )
            .await
            .unwrap();
        let (verdict, readers) = precheck(&r.0, &r.1, &r.2);
        assert_eq!(got.decision, verdict == "readable", "{r:?}");
        let ctx = got.context.unwrap();
        assert_eq!(ctx["verdict"], verdict.as_str());
        assert_eq!(ctx["readers"], readers);
    }

    // Batches with each semantic over [readable, not readable, readable].
    let (yes_v, no_v) = (
        precheck(&yes.0, &yes.1, &yes.2).0,
        precheck(&no.0, &no.1, &no.2).0,
    );
    assert_eq!((yes_v.as_str(), no_v == "readable"), ("readable", false));
    let items: Vec<EvaluationItem> = [&yes, &no, &yes]
        .iter()
        .map(|r| EvaluationItem {
            subject: None,
            action: Some(send(&r.1)),
            resource: Some(recipient(Some(&r.2))),
            context: None,
        })
        .collect();
    for (semantic, want) in [
        (EvaluationSemantic::ExecuteAll, vec![true, false, true]),
        (EvaluationSemantic::DenyOnFirstDeny, vec![true, false]),
        (EvaluationSemantic::PermitOnFirstPermit, vec![true]),
    ] {
        let got = client
            .evaluate_batch(
                &pdp,
                TOKEN,
                &EvaluationsRequest {
                    subject: Some(org(&yes.0)),
                    action: None,
                    resource: None,
                    context: None,
                    evaluations: items.clone(),
                    options: Some(EvaluationsOptions {
                        evaluations_semantic: Some(semantic.clone()),
                        extra: None,
                    }),
                },
            )
            .await
            .unwrap();
        let decisions: Vec<bool> = got.evaluations.iter().map(|e| e.decision).collect();
        assert_eq!(decisions, want, "{semantic:?}");
        for (e, verdict) in got.evaluations.iter().zip([&yes_v, &no_v, &yes_v]) {
            assert_eq!(e.context.as_ref().unwrap()["verdict"], verdict.as_str());
        }
    }

    // Resource search, paged by the client's own `Page`: the readable recipients, each
    // readable by `precheck`.
    let want: BTreeSet<String> = verdicts
        .iter()
        .filter(|(r, v)| r.0 == yes.0 && r.1 == yes.1 && *v == "readable")
        .map(|(r, _)| r.2.clone())
        .collect();
    let mut got = BTreeSet::new();
    let mut token = None;
    loop {
        let page = client
            .search_resources(
                &pdp,
                TOKEN,
                &ResourceSearchRequest {
                    subject: org(&yes.0),
                    action: send(&yes.1),
                    resource: recipient(None),
                    context: None,
                    page: Some(Page {
                        token: token.clone(),
                        limit: Some(3),
                        properties: None,
                    }),
                },
            )
            .await
            .unwrap();
        assert!(page.results.len() <= 3);
        for r in page.results {
            let id = r.id.unwrap();
            assert_eq!(r.properties.unwrap()["decision"], true);
            got.insert(id);
        }
        token = page
            .page
            .and_then(|p| p.next_token)
            .filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    assert_eq!(got, want);
    for id in got.iter().take(3) {
        assert_eq!(precheck(&yes.0, &yes.1, id).0, "readable", "{id}");
    }

    // Action search: the message types the sender can send the recipient.
    let want: BTreeSet<String> = verdicts
        .iter()
        .filter(|(r, v)| r.0 == yes.0 && r.2 == yes.2 && *v == "readable")
        .map(|(r, _)| r.1.clone())
        .collect();
    let found = client
        .search_actions(
            &pdp,
            TOKEN,
            &ActionSearchRequest {
                subject: org(&yes.0),
                resource: recipient(Some(&yes.2)),
                context: None,
                page: None,
            },
        )
        .await
        .unwrap();
    let got: BTreeSet<String> = found
        .results
        .iter()
        .map(|a| {
            assert_eq!(a.name, "send");
            a.properties.as_ref().unwrap()["message_type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(got, want);
    for t in &got {
        assert_eq!(precheck(&yes.0, t, &yes.2).0, "readable", "{t}");
    }

    // Subject search: the senders whose routes reach the recipient with the type.
    let want: BTreeSet<String> = verdicts
        .iter()
        .filter(|(r, v)| r.1 == yes.1 && r.2 == yes.2 && *v == "readable")
        .map(|(r, _)| r.0.clone())
        .collect();
    let found = client
        .search_subjects(
            &pdp,
            TOKEN,
            &SubjectSearchRequest {
                subject: openidauthzen::Subject {
                    subject_type: "organization".to_owned(),
                    id: None,
                    properties: None,
                },
                action: send(&yes.1),
                resource: recipient(Some(&yes.2)),
                context: None,
                page: None,
            },
        )
        .await
        .unwrap();
    let got: BTreeSet<String> = found.results.into_iter().filter_map(|s| s.id).collect();
    assert_eq!(got, want);
    for s in got.iter().take(3) {
        assert_eq!(precheck(s, &yes.1, &yes.2).0, "readable", "{s}");
    }

    // SIGHUP swaps in a new certificate: a client trusting only the new one gets in.
    let (cert2, key2) = certificate();
    std::fs::write(dir.path().join("cert.pem"), &cert2).unwrap();
    std::fs::write(dir.path().join("key.pem"), &key2).unwrap();
    p.signal(nix::sys::signal::Signal::SIGHUP);
    let fresh = Https::trusting(&cert2);
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = fresh.0.get(format!("{}/healthz", p.base)).send().await {
            assert_eq!(r.status(), 200);
            break;
        }
        assert!(
            Instant::now() < until,
            "the new certificate was not served:\n{}",
            p.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stale = Https::trusting(&cert);
    assert!(
        stale
            .0
            .get(format!("{}/healthz", p.base))
            .send()
            .await
            .is_err()
    );
    // A broken pair on SIGHUP is refused; the last good certificate stays.
    std::fs::write(dir.path().join("key.pem"), &key).unwrap();
    p.signal(nix::sys::signal::Signal::SIGHUP);
    let until = Instant::now() + Duration::from_secs(30);
    while !p.log().contains("TLS reload refused") {
        assert!(Instant::now() < until, "no refusal logged:\n{}", p.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = fresh
        .0
        .get(format!("{}/healthz", p.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn bad_tls_files_and_a_plain_public_listener_stop_serve_before_anything_starts() {
    let (cert, key) = certificate();
    let (_, other_key) = certificate();
    // (config lines, listen, files written, the error says, names it must name)
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<(&'a str, &'a str)>,
        &'a str,
        Vec<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n",
            "127.0.0.1:0",
            vec![("cert.pem", &cert), ("key.pem", &other_key)],
            "does not fit",
            vec!["key.pem", "cert.pem"],
        ),
        (
            "tls_cert = \"cert.pem\"\ntls_key = \"missing-key.pem\"\n",
            "127.0.0.1:0",
            vec![("cert.pem", &cert)],
            "cannot read",
            vec!["missing-key.pem", "daemon.tls_key"],
        ),
        (
            "tls_cert = \"key.pem\"\ntls_key = \"key.pem\"\n",
            "127.0.0.1:0",
            vec![("key.pem", &key)],
            "CERTIFICATE",
            vec!["key.pem", "daemon.tls_cert"],
        ),
        (
            "tls_cert = \"cert.pem\"\n",
            "127.0.0.1:0",
            vec![("cert.pem", &cert)],
            "without",
            vec!["daemon.tls_cert", "daemon.tls_key"],
        ),
        (
            "",
            "0.0.0.0:0",
            vec![],
            "not a loopback address",
            vec!["daemon.listen", "allow_plain_http", "daemon.tls_cert"],
        ),
    ];
    for (extra, listen, files, says, names) in cases {
        let dir = demo_config(extra);
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let o = serve_cmd(dir.path(), listen).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra}: {err}");
        assert!(
            o.stdout.is_empty(),
            "nothing listened: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        assert!(err.contains(says), "{extra}: {err}");
        for n in names {
            assert!(err.contains(n), "{extra}: `{n}` not named: {err}");
        }
        assert!(
            !dir.path().join("store.db").exists(),
            "the store was not touched"
        );
        assert!(!err.contains("PRIVATE KEY"), "no key material in messages");
    }
    // Behind a terminating proxy the operator says so, and plain HTTP is served.
    let dir = demo_config("allow_plain_http = true\n");
    let p = start(
        serve_cmd(dir.path(), "0.0.0.0:0"),
        dir.path().join("serve.log"),
    );
    assert!(p.base.starts_with("http://0.0.0.0:"), "{}", p.base);
}
