//! Webhook alerts over real HTTP: a small receiver on port 0 records every request and can
//! be told to fail, stall or rate-limit the first ones; the notifier must send one JSON body
//! per alert, retry what is worth retrying and nothing else, and never show its token.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use reachcheck::alerts::{
    Alert, AlertError, AlertSettings, Delivery, FindingRef, Notifier, SERVICE, Secret,
};
use reqwest::Url;
use serde_json::Value;

/// What the receiver does with its first `fail_first` requests; later ones get 204.
#[derive(Clone, Default)]
struct Script {
    fail_first: u32,
    status: u16,
    retry_after: Option<&'static str>,
    /// Sleep this long before answering a failed request (to make the client time out).
    stall: Duration,
}

/// One request as the receiver saw it.
struct Seen {
    at: Instant,
    authorization: Option<String>,
    content_type: Option<String>,
    key: Option<String>,
    body: Value,
}

struct Shared {
    script: Script,
    hits: AtomicU32,
    seen: Mutex<Vec<Seen>>,
}

struct Receiver {
    url: Url,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start(script: Script) -> Receiver {
        let shared = Arc::new(Shared {
            script,
            hits: AtomicU32::new(0),
            seen: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .route("/hooks/alerts", axum::routing::post(receive))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            url: format!("http://{addr}/hooks/alerts").parse().unwrap(),
            shared,
            task,
        }
    }

    fn hits(&self) -> u32 {
        self.shared.hits.load(Ordering::SeqCst)
    }

    fn bodies(&self) -> Vec<Value> {
        let seen = self.shared.seen.lock().unwrap();
        seen.iter().map(|s| s.body.clone()).collect()
    }

    fn keys(&self) -> Vec<Option<String>> {
        let seen = self.shared.seen.lock().unwrap();
        seen.iter().map(|s| s.key.clone()).collect()
    }

    fn settings(&self) -> AlertSettings {
        AlertSettings {
            webhook_url: Some(self.url.clone()),
            allow_http: true,
            backoff: Duration::from_millis(2),
            max_backoff: Duration::from_millis(20),
            timeout: Duration::from_secs(5),
            ..AlertSettings::default()
        }
    }
}

async fn receive(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let n = s.hits.fetch_add(1, Ordering::SeqCst) + 1;
    let text = |name: header::HeaderName| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    s.seen.lock().unwrap().push(Seen {
        at: Instant::now(),
        authorization: text(header::AUTHORIZATION),
        content_type: text(header::CONTENT_TYPE),
        key: headers
            .get("idempotency-key")
            .map(|v| v.to_str().unwrap().to_owned()),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    if n > s.script.fail_first {
        return StatusCode::NO_CONTENT.into_response();
    }
    tokio::time::sleep(s.script.stall).await;
    let mut resp = (
        StatusCode::from_u16(s.script.status).unwrap(),
        "receiver busy, try later",
    )
        .into_response();
    if let Some(after) = s.script.retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static(after));
    }
    resp
}

fn at(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

fn finding(recipient: &str, code: &str) -> FindingRef {
    FindingRef {
        sender: "974760673".into(),
        message_type: "skatt-varsel".into(),
        recipient: recipient.into(),
        code: code.into(),
        severity: "error".into(),
    }
}

fn sweep_changed() -> Alert {
    Alert::SweepChanged {
        sweep_id: 42,
        finished_at: at("2026-11-21T06:00:00Z"),
        routes: 120,
        readable: 110,
        not_readable: 7,
        unknown: 3,
        new: vec![
            finding("310000001", "no_rightholder"),
            finding("310000002", "role_missing"),
        ],
        resolved: vec![finding("310000003", "no_rightholder")],
        reopened: vec![],
    }
}

fn heartbeat() -> Alert {
    Alert::Heartbeat {
        at: at("2026-11-21T07:00:00Z"),
        last_sweep_id: Some(42),
        last_sweep_at: Some(at("2026-11-21T06:00:00Z")),
        data_age_seconds: None,
    }
}

#[tokio::test]
async fn a_changed_sweep_is_one_message_with_grouped_findings() {
    let r = Receiver::start(Script::default()).await;
    let n = Notifier::new(r.settings()).unwrap();
    let d = n.send(&sweep_changed()).await.unwrap();
    assert_eq!(
        d,
        Delivery::Posted {
            attempts: 1,
            status: 204
        }
    );

    let bodies = r.bodies();
    assert_eq!(bodies.len(), 1, "one sweep, one message");
    let b = &bodies[0];
    assert_eq!(b["service"], SERVICE);
    assert_eq!(b["service"], "reachcheck");
    assert_eq!(b["kind"], "sweep_changed");
    assert!(
        b["sent_at"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .is_ok()
    );
    assert_eq!(b["sweep_id"], 42);
    assert_eq!(b["finished_at"], "2026-11-21T06:00:00Z");
    assert_eq!(b["routes"], 120);
    assert_eq!(b["readable"], 110);
    assert_eq!(b["not_readable"], 7);
    assert_eq!(b["unknown"], 3);
    let codes = |list: &str| -> Vec<(String, String)> {
        b[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["recipient"].as_str().unwrap().to_owned(),
                    f["code"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        codes("new"),
        [
            ("310000001".to_owned(), "no_rightholder".to_owned()),
            ("310000002".to_owned(), "role_missing".to_owned())
        ]
    );
    assert_eq!(
        codes("resolved"),
        [("310000003".to_owned(), "no_rightholder".to_owned())]
    );
    assert!(codes("reopened").is_empty());
    assert_eq!(b["new"][0]["sender"], "974760673");
    assert_eq!(b["new"][0]["message_type"], "skatt-varsel");
    assert_eq!(b["new"][0]["severity"], "error");

    // The alert's own fields read back as the alert.
    let mut fields = b.as_object().unwrap().clone();
    fields.remove("service");
    fields.remove("sent_at");
    let back: Alert = serde_json::from_value(Value::Object(fields)).unwrap();
    assert_eq!(back, sweep_changed());
    let seen = r.shared.seen.lock().unwrap();
    assert_eq!(seen[0].content_type.as_deref(), Some("application/json"));
}

#[tokio::test]
async fn every_kind_is_posted_with_its_kind() {
    let r = Receiver::start(Script::default()).await;
    let n = Notifier::new(r.settings()).unwrap();
    let t = at("2026-11-21T06:00:00Z");
    let alerts = [
        sweep_changed(),
        Alert::SweepFailed {
            at: t,
            reason: "live source: altinn `authorizedparties`: HTTP 503".into(),
        },
        Alert::StaleEvidence {
            at: t,
            data_age_seconds: 90_000,
            max_age_seconds: 86_400,
        },
        Alert::SuppressionLapsed {
            at: t,
            suppression_id: 7,
            target: "974760673/skatt-varsel/310000001".into(),
            code: "no_rightholder".into(),
            justification: "recipient is being wound up".into(),
            expired_at: at("2026-11-20T00:00:00Z"),
        },
        heartbeat(),
    ];
    for a in &alerts {
        n.send(a).await.unwrap();
    }
    let kinds: Vec<_> = r.bodies().iter().map(|b| b["kind"].clone()).collect();
    let expected: Vec<Value> = alerts.iter().map(|a| a.kind().into()).collect();
    assert_eq!(kinds, expected);
    let hb = &r.bodies()[4];
    assert_eq!(hb["last_sweep_id"], 42);
    assert_eq!(hb["data_age_seconds"], Value::Null);
}

#[tokio::test]
async fn server_errors_are_retried_until_the_receiver_accepts() {
    let r = Receiver::start(Script {
        fail_first: 2,
        status: 503,
        ..Script::default()
    })
    .await;
    let n = Notifier::new(r.settings()).unwrap();
    let d = n.send(&heartbeat()).await.unwrap();
    assert_eq!(
        d,
        Delivery::Posted {
            attempts: 3,
            status: 204
        }
    );
    assert_eq!(r.hits(), 3);
    let bodies = r.bodies();
    assert!(
        bodies.iter().all(|b| *b == bodies[0]),
        "every retry sends the same body"
    );
    let keys = r.keys();
    assert_eq!(keys[0].as_ref().map(String::len), Some(32));
    assert!(
        keys.iter().all(|k| *k == keys[0]),
        "and the same key: {keys:?}"
    );
    // Another alert, another key.
    n.send(&Alert::SweepFailed {
        at: "2026-11-21T06:00:00Z".parse().unwrap(),
        reason: "x".to_owned(),
    })
    .await
    .unwrap();
    assert_ne!(r.keys().last().cloned().flatten(), keys[0]);
}

#[tokio::test]
async fn gives_up_after_the_configured_attempts() {
    let r = Receiver::start(Script {
        fail_first: 100,
        status: 500,
        ..Script::default()
    })
    .await;
    let n = Notifier::new(AlertSettings {
        attempts: 3,
        ..r.settings()
    })
    .unwrap();
    let err = n.send(&heartbeat()).await.unwrap_err();
    assert_eq!(r.hits(), 3);
    let AlertError::GaveUp {
        attempts,
        status,
        ref body,
        kind,
        ..
    } = err
    else {
        panic!("{err:?}");
    };
    assert_eq!((attempts, status, kind), (3, Some(500), "heartbeat"));
    assert_eq!(body.as_deref(), Some("receiver busy, try later"));
    assert_eq!(err.status(), Some(500));
    let msg = err.to_string();
    assert!(msg.contains("after 3 attempts"), "{msg}");
    assert!(msg.contains("HTTP 500"), "{msg}");
    assert!(msg.contains("receiver busy"), "{msg}");
    assert!(
        !msg.contains("/hooks/alerts"),
        "the path may be a secret: {msg}"
    );
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    let r = Receiver::start(Script {
        fail_first: 100,
        status: 400,
        ..Script::default()
    })
    .await;
    let n = Notifier::new(r.settings()).unwrap();
    let err = n.send(&sweep_changed()).await.unwrap_err();
    assert_eq!(r.hits(), 1, "a 400 will not get better by asking again");
    assert!(
        matches!(err, AlertError::Rejected { status: 400, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("HTTP 400"), "{msg}");
    assert!(msg.contains("`sweep_changed`"), "{msg}");
    assert!(msg.contains("receiver busy"), "the body is kept: {msg}");
}

#[tokio::test]
async fn retry_after_is_honoured_on_429() {
    let r = Receiver::start(Script {
        fail_first: 1,
        status: 429,
        retry_after: Some("1"),
        ..Script::default()
    })
    .await;
    // Without Retry-After the wait would be at most 2 ms; max_backoff leaves room for 1 s.
    let n = Notifier::new(AlertSettings {
        max_backoff: Duration::from_secs(5),
        ..r.settings()
    })
    .unwrap();
    let d = n.send(&heartbeat()).await.unwrap();
    assert_eq!(
        d,
        Delivery::Posted {
            attempts: 2,
            status: 204
        }
    );
    let seen = r.shared.seen.lock().unwrap();
    let gap = seen[1].at - seen[0].at;
    assert!(gap >= Duration::from_millis(950), "waited only {gap:?}");
}

#[tokio::test]
async fn retry_after_is_capped_by_max_backoff() {
    let r = Receiver::start(Script {
        fail_first: 1,
        status: 429,
        retry_after: Some("3600"),
        ..Script::default()
    })
    .await;
    let n = Notifier::new(r.settings()).unwrap();
    let d = tokio::time::timeout(Duration::from_secs(30), n.send(&heartbeat()))
        .await
        .expect("an hour's Retry-After must be capped by max_backoff (20 ms)")
        .unwrap();
    assert_eq!(
        d,
        Delivery::Posted {
            attempts: 2,
            status: 204
        }
    );
}

#[tokio::test]
async fn a_receiver_that_times_out_is_retried() {
    let r = Receiver::start(Script {
        fail_first: 1,
        status: 200,
        stall: Duration::from_secs(3),
        ..Script::default()
    })
    .await;
    let n = Notifier::new(AlertSettings {
        timeout: Duration::from_millis(200),
        ..r.settings()
    })
    .unwrap();
    let d = n.send(&heartbeat()).await.unwrap();
    assert_eq!(
        d,
        Delivery::Posted {
            attempts: 2,
            status: 204
        }
    );
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported() {
    // A port that was just free: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let n = Notifier::new(AlertSettings {
        webhook_url: Some(format!("http://{addr}/hooks/alerts").parse().unwrap()),
        allow_http: true,
        attempts: 2,
        backoff: Duration::from_millis(2),
        ..AlertSettings::default()
    })
    .unwrap();
    let err = n.send(&heartbeat()).await.unwrap_err();
    assert!(
        matches!(
            err,
            AlertError::GaveUp {
                attempts: 2,
                status: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("could not connect"), "{err}");
}

#[tokio::test]
async fn the_bearer_token_is_sent_only_when_configured() {
    let r = Receiver::start(Script::default()).await;
    Notifier::new(AlertSettings {
        bearer_token: Some(Secret::new("s3cr3t-token")),
        ..r.settings()
    })
    .unwrap()
    .send(&heartbeat())
    .await
    .unwrap();
    Notifier::new(r.settings())
        .unwrap()
        .send(&heartbeat())
        .await
        .unwrap();
    let seen = r.shared.seen.lock().unwrap();
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some("Bearer s3cr3t-token")
    );
    assert_eq!(seen[1].authorization, None);
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let r = Receiver::start(Script {
        fail_first: 100,
        status: 308,
        ..Script::default()
    })
    .await;
    let n = Notifier::new(r.settings()).unwrap();
    let err = n.send(&heartbeat()).await.unwrap_err();
    assert_eq!(r.hits(), 1);
    assert_eq!(err.status(), Some(308));
}

#[test]
fn plain_http_is_refused_without_allow_http() {
    let url: Url = "http://alerts.example.no/hooks/abc".parse().unwrap();
    let err = Notifier::new(AlertSettings {
        webhook_url: Some(url.clone()),
        ..AlertSettings::default()
    })
    .unwrap_err();
    assert!(matches!(err, AlertError::PlainHttp { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("`alerts.webhook_url` is plain http://"),
        "{msg}"
    );
    assert!(msg.contains("alerts.allow_http"), "{msg}");
    assert!(!msg.contains("/hooks/abc"), "{msg}");
    assert!(
        Notifier::new(AlertSettings {
            webhook_url: Some(url),
            allow_http: true,
            ..AlertSettings::default()
        })
        .is_ok()
    );
    let ftp = Notifier::new(AlertSettings {
        webhook_url: Some("ftp://alerts.example.no/x".parse().unwrap()),
        allow_http: true,
        ..AlertSettings::default()
    })
    .unwrap_err();
    assert!(matches!(ftp, AlertError::Scheme { .. }), "{ftp:?}");
}

#[test]
fn debug_of_settings_does_not_show_the_token() {
    let s = AlertSettings {
        webhook_url: Some("https://alerts.example.no/hooks/abc".parse().unwrap()),
        bearer_token: Some(Secret::new("s3cr3t-token")),
        ..AlertSettings::default()
    };
    let settings = format!("{s:?}");
    let notifier = format!("{:?}", Notifier::new(s).unwrap());
    for text in [&settings, &notifier] {
        assert!(!text.contains("s3cr3t"), "{text}");
    }
    assert!(settings.contains("[redacted]"), "{settings}");
}

#[tokio::test]
async fn without_a_webhook_alerts_are_logged_only() {
    let n = Notifier::new(AlertSettings::default()).unwrap();
    assert_eq!(n.send(&sweep_changed()).await.unwrap(), Delivery::Logged);
    // What is logged is one line of figures, not the finding lists.
    let line = sweep_changed().summary();
    assert_eq!(
        line,
        "sweep_changed: sweep 42, 120 routes (110 readable, 7 not_readable, 3 unknown); \
         findings 2 new, 1 resolved, 0 reopened"
    );
    assert!(!line.contains("310000001"), "{line}");
    assert_eq!(heartbeat().summary(), "heartbeat: last sweep 42");
}

#[test]
fn defaults_are_the_documented_ones() {
    let s = AlertSettings::default();
    assert_eq!(s.webhook_url, None);
    assert_eq!(s.heartbeat_interval, Duration::from_secs(3600));
    assert_eq!(s.attempts, 5);
    assert_eq!(s.backoff, Duration::from_secs(1));
    assert_eq!(s.max_backoff, Duration::from_secs(60));
    assert_eq!(s.timeout, Duration::from_secs(10));
    assert!(!s.allow_http);
    assert_eq!(s.bearer_token, None);
}
