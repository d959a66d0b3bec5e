//! The daemon's listener against slow, idle and too many clients: slowloris connections
//! are shed by the header-read timeout while a real pre-send check is answered promptly,
//! idle keep-alive connections are closed after the idle timeout, at `max_connections` a
//! new connection sheds the one that owed its head longest (or waits while all are being
//! answered); over TLS, handshakes that never complete are
//! shed and HTTP/2 is served with the idle timeout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reachcheck::daemon::{Daemon, run};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::daemon::{TOKEN, daemon_world, overrides};
use crate::fixture::{BAD, SENDER, route};

/// A daemon over a small world with `limits` added to its `[daemon]` section, serving on a
/// free loopback port: its base URL, its stop token and its task.
async fn daemon_with(
    limits: &str,
) -> (
    String,
    CancellationToken,
    tokio::task::JoinHandle<Result<(), reachcheck::daemon::SweepError>>,
    crate::fixture::World,
) {
    let w = daemon_world(&[&route("bekymringsmelding", BAD)]);
    let config = w.path().join("reachcheck.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}{limits}\n")).unwrap();
    let d = Arc::new(Daemon::start(overrides(&w)).unwrap());
    d.sweep_once().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let task = tokio::spawn(run(d, Some(listener), stop.clone(), false));
    (base, stop, task, w)
}

fn addr(base: &str) -> &str {
    base.strip_prefix("http://").unwrap()
}

/// A pre-send check of BAD (nobody can read confidential post there): its time and answer.
async fn check_bad(base: &str) -> (Duration, serde_json::Value) {
    let started = Instant::now();
    let r = reqwest::Client::new()
        .post(format!("{base}/access/v1/evaluation"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({
            "subject": {"type": "organization", "id": SENDER},
            "action": {"name": "send", "properties": {"message_type": "bekymringsmelding"}},
            "resource": {"type": "organization", "id": BAD}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.json().await.unwrap();
    (started.elapsed(), body)
}

/// Reads one HTTP/1.1 response (head and `Content-Length` body) from `s`; `None` when the
/// server closed the connection first.
async fn read_response(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return Some(String::from_utf8_lossy(&buf).to_string());
            }
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Waits until the server closes `s` (end of stream or reset), writing one byte of a
/// request head every `trickle` if given; how long after `since` that was.
async fn until_closed(mut s: TcpStream, trickle: Option<Duration>, since: Instant) -> Duration {
    let mut chunk = [0u8; 256];
    loop {
        let wait = trickle.unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            r = s.read(&mut chunk) => match r {
                Ok(0) | Err(_) => return since.elapsed(),
                Ok(_) => {}
            },
            () = tokio::time::sleep(wait) => {
                if s.write_all(b"X").await.is_err() {
                    return since.elapsed();
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connections_are_shed_by_the_header_read_timeout_while_checks_are_answered() {
    let (base, stop, task, _w) =
        daemon_with("header_read_timeout = \"1s\"\nidle_timeout = \"30s\"").await;
    let (_, want) = check_bad(&base).await;
    assert_eq!(want["decision"], false);
    assert_eq!(want["context"]["verdict"], "not_readable");

    // 200 slow clients: half send a request line and headers a byte every 300 ms, half
    // send nothing at all.
    let since = Instant::now();
    let mut slow = Vec::new();
    for i in 0..200 {
        let mut s = TcpStream::connect(addr(&base)).await.unwrap();
        let trickle = if i % 2 == 0 {
            s.write_all(b"POST /access/v1/evaluation HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .await
                .unwrap();
            Some(Duration::from_millis(300))
        } else {
            None
        };
        slow.push(tokio::spawn(until_closed(s, trickle, since)));
    }
    let opened = since.elapsed();
    // Meanwhile a real check: answered promptly, and rightly.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (took, got) = check_bad(&base).await;
    assert_eq!(got["decision"], want["decision"]);
    assert_eq!(got["context"]["verdict"], want["context"]["verdict"]);
    assert!(took < Duration::from_secs(2), "the check took {took:?}");

    let mut closed = Vec::new();
    for h in slow {
        closed.push(h.await.unwrap());
    }
    closed.sort();
    let (first, last) = (closed[0], closed[closed.len() - 1]);
    eprintln!(
        "slowloris: 200 connections opened in {opened:?}; check answered in {took:?}; \
         closed after {first:?} .. {last:?} (median {:?})",
        closed[closed.len() / 2]
    );
    // None before its timeout, all within it plus a margin for a loaded machine (the
    // last ones were opened up to `opened` later).
    assert!(
        first >= Duration::from_millis(900),
        "closed early: {first:?}"
    );
    assert!(
        last <= opened + Duration::from_secs(3),
        "still open after {last:?}"
    );
    stop.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let (base, stop, task, _w) =
        daemon_with("header_read_timeout = \"5s\"\nidle_timeout = \"1s\"").await;
    let get = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", addr(&base));
    // A client that keeps asking within the idle timeout keeps its connection.
    let mut s = TcpStream::connect(addr(&base)).await.unwrap();
    for _ in 0..4 {
        s.write_all(get.as_bytes()).await.unwrap();
        let r = read_response(&mut s)
            .await
            .expect("answered on the same connection");
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    // Then it idles: closed after the idle timeout (1 s), long before the header-read
    // timeout (5 s) would.
    s.write_all(get.as_bytes()).await.unwrap();
    assert!(read_response(&mut s).await.is_some());
    let since = Instant::now();
    let after = until_closed(s, None, since).await;
    eprintln!("idle keep-alive connection closed after {after:?}");
    assert!(
        after >= Duration::from_millis(900),
        "closed early: {after:?}"
    );
    assert!(after < Duration::from_secs(3), "closed late: {after:?}");
    stop.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_limit_a_new_connection_sheds_the_one_that_owed_its_head_longest() {
    let (base, stop, task, _w) =
        daemon_with("header_read_timeout = \"30s\"\nidle_timeout = \"30s\"\nmax_connections = 2")
            .await;
    // Two connections that send nothing hold both slots; the first is the older.
    let since = Instant::now();
    let oldest = TcpStream::connect(addr(&base)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let younger = TcpStream::connect(addr(&base)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let oldest = tokio::spawn(until_closed(oldest, None, since));
    let younger = tokio::spawn(until_closed(younger, None, since));
    // A real check is answered at once, long before their 30 s header-read timeout...
    let (took, got) = check_bad(&base).await;
    assert_eq!(got["context"]["verdict"], "not_readable");
    assert!(took < Duration::from_secs(2), "the check took {took:?}");
    // ...by shedding the oldest of them; the younger one stays.
    let shed = tokio::time::timeout(Duration::from_secs(2), oldest)
        .await
        .expect("the oldest was shed")
        .unwrap();
    assert!(shed < Duration::from_secs(3), "{shed:?}");
    assert!(!younger.is_finished(), "the younger one was shed too");
    eprintln!(
        "limit: check answered in {took:?}; the oldest silent connection shed after {shed:?}"
    );
    younger.abort();
    stop.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_limit_with_every_connection_answering_a_new_one_waits_for_a_slot() {
    let (base, stop, task, _w) =
        daemon_with("header_read_timeout = \"30s\"\nidle_timeout = \"30s\"\nmax_connections = 2")
            .await;
    // Two requests being answered (their bodies still to come): nothing to shed.
    let head = format!(
        "POST /access/v1/evaluation HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n",
        addr(&base)
    );
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr(&base)).await.unwrap();
        s.write_all(head.as_bytes()).await.unwrap();
        busy.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let c = reqwest::Client::new();
    let url = format!("{base}/healthz");
    let started = Instant::now();
    let mut waiting = tokio::spawn(async move { c.get(url).send().await.map(|r| r.status()) });
    // The third is not served while both are answering...
    assert!(
        tokio::time::timeout(Duration::from_millis(800), &mut waiting)
            .await
            .is_err(),
        "served beyond the limit"
    );
    // ...and is served as soon as one of them goes.
    drop(busy.pop());
    let freed = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(3), waiting)
        .await
        .expect("served once a slot freed")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    eprintln!(
        "limit: waited {:?}, served {:?} after a slot freed",
        started.elapsed(),
        freed.elapsed()
    );
    stop.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_a_handshake_that_never_completes_is_shed_by_the_header_read_timeout() {
    use crate::authzen::{Https, certificate, demo_config, serve_cmd, wait_ready};
    let dir = demo_config(
        "tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\nheader_read_timeout = \"1s\"\n",
    );
    let (cert, key) = certificate();
    std::fs::write(dir.path().join("cert.pem"), &cert).unwrap();
    std::fs::write(dir.path().join("key.pem"), &key).unwrap();
    let p = crate::fixture::start(
        serve_cmd(dir.path(), "127.0.0.1:0"),
        dir.path().join("serve.log"),
    );
    let https = Https::trusting(&cert);
    wait_ready(&https.0, &p.base).await;
    let addr = p.base.strip_prefix("https://").unwrap().to_owned();
    // 50 clients: half start a TLS record (a ClientHello's header) and trickle its body,
    // half send nothing.
    let since = Instant::now();
    let mut slow = Vec::new();
    for i in 0..50 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        let trickle = if i % 2 == 0 {
            s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00]).await.unwrap();
            Some(Duration::from_millis(300))
        } else {
            None
        };
        slow.push(tokio::spawn(until_closed(s, trickle, since)));
    }
    let opened = since.elapsed();
    // A new client: its own handshake, meanwhile.
    let fresh = Https::trusting(&cert);
    let started = Instant::now();
    let r = fresh
        .0
        .get(format!("{}/healthz", p.base))
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(r.status(), 200);
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let mut closed = Vec::new();
    for h in slow {
        closed.push(h.await.unwrap());
    }
    closed.sort();
    let (first, last) = (closed[0], closed[closed.len() - 1]);
    eprintln!(
        "tls slowloris: 50 connections opened in {opened:?}; a request answered in {took:?}; \
         closed after {first:?} .. {last:?}"
    );
    assert!(
        first >= Duration::from_millis(900),
        "closed early: {first:?}"
    );
    assert!(
        last <= opened + Duration::from_secs(3),
        "still open after {last:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_body_that_stops_arriving_is_shed_by_the_idle_timeout() {
    let (base, stop, task, _w) =
        daemon_with("header_read_timeout = \"5s\"\nidle_timeout = \"1s\"").await;
    // A whole head announcing a body, then a few bytes of it, then nothing (slow POST).
    let mut s = TcpStream::connect(addr(&base)).await.unwrap();
    let head = format!(
        "POST /access/v1/evaluation HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"subject\": ",
        addr(&base)
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let since = Instant::now();
    let after = until_closed(s, None, since).await;
    eprintln!("a request body that stopped arriving: closed after {after:?}");
    assert!(
        after >= Duration::from_millis(900),
        "closed early: {after:?}"
    );
    assert!(after < Duration::from_secs(3), "closed late: {after:?}");
    // The server answers others meanwhile and after.
    let (took, got) = check_bad(&base).await;
    assert_eq!(got["context"]["verdict"], "not_readable");
    assert!(took < Duration::from_secs(2), "{took:?}");
    stop.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_http2_is_served_and_an_idle_http2_connection_is_closed() {
    use crate::authzen::{Https, certificate, demo_config, serve_cmd, wait_ready};
    use rustls::pki_types::pem::PemObject as _;
    let dir = demo_config(
        "tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\nheader_read_timeout = \"5s\"\nidle_timeout = \"1s\"\n",
    );
    let (cert, key) = certificate();
    std::fs::write(dir.path().join("cert.pem"), &cert).unwrap();
    std::fs::write(dir.path().join("key.pem"), &key).unwrap();
    let p = crate::fixture::start(
        serve_cmd(dir.path(), "127.0.0.1:0"),
        dir.path().join("serve.log"),
    );
    wait_ready(&Https::trusting(&cert).0, &p.base).await;
    let addr = p.base.strip_prefix("https://").unwrap().to_owned();

    // An HTTP/2 client over TLS, offering only h2.
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(cert.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            TcpStream::connect(&addr).await.unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    let conn = tokio::spawn(conn);
    let req = hyper::Request::get("https://localhost/healthz")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let r = sender.send_request(req).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), hyper::Version::HTTP_2);
    // Then idle: the server closes the connection after the idle timeout.
    let since = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(4), conn).await;
    let after = since.elapsed();
    eprintln!("idle HTTP/2 connection closed after {after:?}");
    assert!(ended.is_ok(), "the HTTP/2 connection was not closed");
    assert!(
        after >= Duration::from_millis(900),
        "closed early: {after:?}"
    );
    assert!(after < Duration::from_secs(3), "closed late: {after:?}");
}
