//! The daemon's HTTP listener: the accept loop, a connection limit, the header-read and
//! idle timeouts, TLS (with the certificate swapped on SIGHUP) and graceful shutdown, for
//! plain HTTP and HTTPS alike.
//!
//! Owns: how long a client may hold a connection without doing its part. A connection has
//! `header_read_timeout` from its start (the TLS handshake included) and from the first
//! byte of each later request until that request's head is complete; after that no byte
//! may stop moving either way for `idle_timeout` — between requests, or while one is
//! answered (a request body that stops arriving, an answer the client stops reading).
//! A client that misses either is disconnected, so slow or idle clients cannot hold the
//! connections real checks need. At `max_connections` a new connection makes room: the
//! connection that has owed its head the longest (else the one idle the longest) is shed.
//! Only when every connection is being answered does the new one wait for a slot; the
//! loop then accepts no other (they wait in the kernel's backlog, not refused). HTTP/1.1
//! always; HTTP/2 where TLS negotiates it (ALPN `h2`).
//!
//! Does not own: the routes and their answers (the api module), when to stop (the daemon's
//! cancellation token), the TLS files (the tls module).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum_server::accept::Accept as _;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How the listener treats clients (`[daemon]` `header_read_timeout`, `idle_timeout`,
/// `max_connections`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenerSettings {
    /// Time for the TLS handshake and each request's head, from the connection's start or
    /// the request's first byte.
    pub header_read_timeout: Duration,
    /// Time a connection may go without a byte either way, between requests or while one
    /// is answered.
    pub idle_timeout: Duration,
    /// Connections served at once; beyond, a new one sheds the slowest owing its head (or
    /// the longest idle), or waits when all are being answered.
    pub max_connections: usize,
    /// How long shutdown lets open connections finish their requests.
    pub grace: Duration,
}

/// Serves `router` on `tcp` (with TLS when `tls` is given) until `stop` is cancelled; then
/// stops accepting, lets each connection finish the request it is answering, and waits at
/// most `settings.grace` for them.
pub async fn serve(
    tcp: tokio::net::TcpListener,
    tls: Option<RustlsConfig>,
    router: Router,
    settings: ListenerSettings,
    stop: CancellationToken,
) {
    let limit = Arc::new(Semaphore::new(settings.max_connections.max(1)));
    let open = Registry::default();
    let connections = TaskTracker::new();
    let mut next_id = 0u64;
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            accepted = tcp.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, keep serving.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // At the limit, make room: shed the connection that has owed its head the longest
        // (else the longest idle). With none to shed, this one waits for a slot, and the
        // loop accepts no other meanwhile (they wait in the backlog).
        let permit = match Arc::clone(&limit).try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if !open.evict_one() {
                    tracing::debug!("at the connection limit; waiting for a slot");
                }
                tokio::select! {
                    biased;
                    () = stop.cancelled() => break,
                    p = Arc::clone(&limit).acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let (router, tls, stop) = (router.clone(), tls.clone(), stop.clone());
        let activity = Arc::new(Activity::new());
        next_id += 1;
        let id = next_id;
        open.insert(id, Arc::clone(&activity));
        let open = open.clone();
        connections.spawn(async move {
            let shed = connection(stream, tls, router, settings, stop, activity).await;
            if let Some(why) = shed {
                tracing::debug!(%peer, why, "connection closed");
            }
            open.remove(id);
            drop(permit);
        });
    }
    drop(tcp);
    connections.close();
    if tokio::time::timeout(settings.grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "connections still open after the grace period; closing them"
        );
    }
}

/// The open connections, for making room at the limit.
#[derive(Clone, Default)]
struct Registry(Arc<std::sync::Mutex<std::collections::HashMap<u64, Arc<Activity>>>>);

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<u64, Arc<Activity>>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn insert(&self, id: u64, a: Arc<Activity>) {
        self.lock().insert(id, a);
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Sheds the connection that has owed its head the longest, else the one idle the
    /// longest; never one that is being answered. Whether there was one.
    fn evict_one(&self) -> bool {
        let open = self.lock();
        let candidates = |phase: u8, since: fn(&Activity) -> u64| {
            open.values()
                .filter(|a| a.phase.load(Ordering::Acquire) == phase)
                .filter(|a| !a.evicted.load(Ordering::Acquire))
                .min_by_key(|a| a.start + Duration::from_millis(since(a)))
                .cloned()
        };
        let victim = candidates(HEAD, |a| a.head_since.load(Ordering::Relaxed))
            .or_else(|| candidates(IDLE, |a| a.last_io.load(Ordering::Relaxed)));
        match victim {
            Some(a) => {
                a.evicted.store(true, Ordering::Release);
                a.changed.notify_one();
                true
            }
            None => false,
        }
    }
}

/// What the connection is doing, for its timeouts.
const HEAD: u8 = 0;
const BUSY: u8 = 1;
const IDLE: u8 = 2;

/// A connection's clock, shared by its I/O, its service and its watchdog.
struct Activity {
    start: Instant,
    /// `HEAD`, `BUSY` or `IDLE`.
    phase: AtomicU8,
    /// Milliseconds after `start` when the current request's head began.
    head_since: AtomicU64,
    /// Milliseconds after `start` of the last byte read or written.
    last_io: AtomicU64,
    /// Requests being answered.
    in_flight: AtomicUsize,
    /// Wakes the watchdog when the phase changes (or the connection is evicted).
    changed: tokio::sync::Notify,
    /// Shed to make room at the connection limit.
    evicted: std::sync::atomic::AtomicBool,
    /// HTTP/2: bytes between requests are often control frames (window updates, pings,
    /// settings acknowledgements), not a new request's head, so reading them never
    /// starts the header-read timeout; the idle timeout still applies.
    multiplexed: std::sync::atomic::AtomicBool,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            phase: AtomicU8::new(HEAD),
            head_since: AtomicU64::new(0),
            last_io: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            changed: tokio::sync::Notify::new(),
            evicted: std::sync::atomic::AtomicBool::new(false),
            multiplexed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn read(&self) {
        let now = self.now();
        self.last_io.store(now, Ordering::Relaxed);
        // The first byte after an idle spell starts a new request's head (on HTTP/1).
        if !self.multiplexed.load(Ordering::Acquire)
            && self
                .phase
                .compare_exchange(IDLE, HEAD, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            self.head_since.store(now, Ordering::Relaxed);
            self.changed.notify_one();
        }
    }

    fn wrote(&self) {
        self.last_io.store(self.now(), Ordering::Relaxed);
    }

    fn begin(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.phase.store(BUSY, Ordering::Release);
        self.changed.notify_one();
    }

    fn end(&self) {
        self.last_io.store(self.now(), Ordering::Relaxed);
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1
            && self
                .phase
                .compare_exchange(BUSY, IDLE, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            self.changed.notify_one();
        }
    }

    /// When the connection is to be shed if nothing changes, and why: owing a head, the
    /// header-read timeout from its start; otherwise the idle timeout from the last byte
    /// moved — between requests, and while one is answered (a body that stops arriving,
    /// an answer the client stops reading).
    fn deadline(&self, s: &ListenerSettings) -> (Instant, &'static str) {
        let at = |ms: u64, d: Duration| self.start + Duration::from_millis(ms) + d;
        let last_io = self.last_io.load(Ordering::Relaxed);
        match self.phase.load(Ordering::Acquire) {
            HEAD => (
                at(
                    self.head_since.load(Ordering::Relaxed),
                    s.header_read_timeout,
                ),
                "header-read timeout",
            ),
            BUSY => (at(last_io, s.idle_timeout), "idle timeout while answering"),
            _ => (at(last_io, s.idle_timeout), "idle timeout"),
        }
    }
}

/// Ends the request in [`Activity`] however its answer ends (also when dropped).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// Resolves when the connection has missed its timeout; the reason.
async fn watchdog(activity: Arc<Activity>, settings: ListenerSettings) -> &'static str {
    loop {
        // Every change of phase is told (a stored permit when nobody waits): never missed.
        let changed = activity.changed.notified();
        if activity.evicted.load(Ordering::Acquire) {
            return "shed at the connection limit";
        }
        let (at, why) = activity.deadline(&settings);
        if Instant::now() >= at {
            return why;
        }
        tokio::select! {
            () = tokio::time::sleep_until(at.into()) => {}
            () = changed => {}
        }
    }
}

/// Serves one connection; why it was shed, if it was.
async fn connection(
    stream: tokio::net::TcpStream,
    tls: Option<RustlsConfig>,
    router: Router,
    settings: ListenerSettings,
    stop: CancellationToken,
    activity: Arc<Activity>,
) -> Option<&'static str> {
    let service = {
        let activity = Arc::clone(&activity);
        let inner = TowerToHyperService::new(router);
        hyper::service::service_fn(move |req| {
            activity.begin();
            let guard = InFlight(Arc::clone(&activity));
            let answer = hyper::service::Service::call(&inner, req);
            async move {
                let r = answer.await;
                drop(guard);
                r
            }
        })
    };
    match tls {
        None => {
            let io = TokioIo::new(Watched::new(stream, Arc::clone(&activity)));
            let conn = http1().serve_connection(io, service);
            drive(conn, activity, settings, stop, |c| c.graceful_shutdown()).await
        }
        Some(tls) => {
            // The handshake belongs to the head: bounded by the header-read timeout.
            let acceptor = RustlsAcceptor::new(tls).handshake_timeout(settings.header_read_timeout);
            let watched = Watched::new(stream, Arc::clone(&activity));
            let stream = tokio::select! {
                biased;
                () = stop.cancelled() => return None,
                why = watchdog(Arc::clone(&activity), settings) => return Some(why),
                s = acceptor.accept(watched, ()) => match s {
                    Ok((s, _)) => s,
                    Err(e) => {
                        tracing::debug!(error = %e, "TLS handshake failed");
                        return Some("TLS handshake failed or timed out");
                    }
                },
            };
            let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
            activity.multiplexed.store(h2, Ordering::Release);
            let io = TokioIo::new(stream);
            if h2 {
                let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(io, service);
                drive(conn, activity, settings, stop, |c| c.graceful_shutdown()).await
            } else {
                let conn = http1().serve_connection(io, service);
                drive(conn, activity, settings, stop, |c| c.graceful_shutdown()).await
            }
        }
    }
}

/// An HTTP/1.1 connection with keep-alive; hyper's own header-read timer is off (ours
/// starts at a request's first byte, not when the previous answer ends).
fn http1() -> hyper::server::conn::http1::Builder {
    let mut b = hyper::server::conn::http1::Builder::new();
    b.keep_alive(true).header_read_timeout(None);
    b
}

/// Runs a connection until it ends, misses a timeout (dropped: the socket closes) or the
/// daemon stops (asked to finish gracefully, then given the grace period).
async fn drive<C, E>(
    conn: C,
    activity: Arc<Activity>,
    settings: ListenerSettings,
    stop: CancellationToken,
    graceful: impl FnOnce(Pin<&mut C>),
) -> Option<&'static str>
where
    C: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut conn = std::pin::pin!(conn);
    let mut watch = std::pin::pin!(watchdog(activity, settings));
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            None
        }
        why = watch.as_mut() => Some(why),
        () = stop.cancelled() => {
            // No new request; the one being answered may finish within the grace period,
            // and a client that is still owing its head is shed on time as before.
            graceful(conn.as_mut());
            tokio::select! {
                _ = conn => None,
                why = watch => Some(why),
                () = tokio::time::sleep(settings.grace) => Some("shutdown"),
            }
        }
    }
}

/// A stream that tells its connection's [`Activity`] about every byte moved.
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    fn new(inner: S, activity: Arc<Activity>) -> Watched<S> {
        Watched { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ListenerSettings {
        ListenerSettings {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4,
            grace: Duration::from_secs(1),
        }
    }

    #[test]
    fn a_new_connection_owes_its_head_then_answers_then_idles() {
        let a = Activity::new();
        let s = settings();
        let (at, why) = a.deadline(&s);
        assert_eq!(why, "header-read timeout");
        assert_eq!(at, a.start + s.header_read_timeout);
        a.begin();
        let (at, why) = a.deadline(&s);
        assert_eq!(why, "idle timeout while answering");
        assert!(at >= a.start + s.idle_timeout);
        a.begin();
        a.end();
        assert_eq!(a.deadline(&s).1, "idle timeout while answering");
        a.end();
        let (at, why) = a.deadline(&s);
        assert_eq!(why, "idle timeout");
        assert!(at >= a.start + s.idle_timeout);
        // A byte after idling starts the next head, with the header-read timeout.
        a.read();
        let (at, why) = a.deadline(&s);
        assert_eq!(why, "header-read timeout");
        assert!(at < a.start + s.idle_timeout);
        // More bytes of the same head do not move its deadline.
        a.read();
        assert_eq!(a.deadline(&s).0, at);
    }

    #[test]
    fn on_http2_bytes_between_requests_keep_the_idle_timeout() {
        let a = Activity::new();
        a.multiplexed.store(true, Ordering::Release);
        let s = settings();
        a.begin();
        a.end();
        // A window update or ping after the answer: not a head, still idle.
        a.read();
        let (at, why) = a.deadline(&s);
        assert_eq!(why, "idle timeout");
        assert!(at >= a.start + s.idle_timeout);
    }

    #[test]
    fn at_the_limit_the_longest_owing_head_goes_first_then_the_longest_idle_never_the_busy() {
        let r = Registry::default();
        let (busy, idle, head) = (
            Arc::new(Activity::new()),
            Arc::new(Activity::new()),
            Arc::new(Activity::new()),
        );
        busy.begin();
        idle.begin();
        idle.end();
        for (id, a) in [(1, &busy), (2, &idle), (3, &head)] {
            r.insert(id, Arc::clone(a));
        }
        assert!(r.evict_one());
        assert!(head.evicted.load(Ordering::Acquire));
        assert!(r.evict_one());
        assert!(idle.evicted.load(Ordering::Acquire));
        assert!(!r.evict_one(), "a connection being answered is never shed");
        assert!(!busy.evicted.load(Ordering::Acquire));
        r.remove(1);
        assert!(!r.evict_one());
    }
}
