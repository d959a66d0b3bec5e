//! HTTP discipline for every upstream call: per-host rate limits (governor), bounded
//! concurrency, a timeout on every request, retries with exponential backoff and full jitter
//! on timeouts, connection errors and 5xx, `Retry-After` honoured on 429.
//!
//! A call that still fails after its retries is an [`HttpFailure`] naming the upstream, the
//! path and the last status or error. Callers turn it into missing evidence, never into a
//! verdict. Request URLs in failures and logs never carry tokens (they travel in headers).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use tokio::sync::Semaphore;

/// How the client treats upstreams.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpSettings {
    /// Requests per second per host, unless `host_rates` says otherwise.
    pub rate_per_second: NonZeroU32,
    /// Per-host overrides of `rate_per_second` (host name, without port).
    pub host_rates: HashMap<String, NonZeroU32>,
    /// Requests in flight at once, over all hosts.
    pub concurrency: usize,
    /// Timeout of one attempt, connect to last byte.
    pub timeout: Duration,
    /// Attempts per request, the first included.
    pub attempts: u32,
    /// First backoff; doubles each retry, with full jitter.
    pub backoff: Duration,
    /// Longest wait between attempts, `Retry-After` included.
    pub max_backoff: Duration,
    /// Whether plain `http://` URLs may be used (only for a local stand-in).
    pub allow_http: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            rate_per_second: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            host_rates: HashMap::new(),
            concurrency: 8,
            timeout: Duration::from_secs(20),
            attempts: 4,
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            allow_http: false,
        }
    }
}

/// A request that failed for good.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{upstream} `{path}`: {reason}")]
pub struct HttpFailure {
    /// Which upstream (host).
    pub upstream: String,
    /// The path asked for (no query string: it may name parties).
    pub path: String,
    /// The last status or error, with the number of attempts.
    pub reason: String,
    /// The last HTTP status, if any answer came.
    pub status: Option<u16>,
}

/// An answer: any status the caller has to interpret (2xx and 4xx other than 429).
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The body.
    pub body: bytes::Bytes,
    /// The URL answered (after redirects).
    pub url: Url,
}

/// A body to send.
pub enum Body<'a> {
    /// Nothing.
    None,
    /// `application/x-www-form-urlencoded`.
    Form(&'a [(&'a str, &'a str)]),
    /// A form made anew for each attempt, just before it is sent (after any wait for
    /// the rate limit): for what must be fresh when it arrives, such as a signed grant
    /// with its issue time and single-use id.
    FreshForm(&'a (dyn Fn() -> Vec<(&'static str, String)> + Send + Sync)),
    /// `application/json`.
    Json(&'a serde_json::Value),
    /// `application/json`, serialised already.
    JsonBytes(&'a [u8]),
}

impl std::fmt::Debug for Body<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::None => f.write_str("None"),
            Body::Form(form) => f.debug_tuple("Form").field(&form.len()).finish(),
            Body::FreshForm(_) => f.write_str("FreshForm"),
            Body::Json(_) => f.write_str("Json"),
            Body::JsonBytes(b) => f.debug_tuple("JsonBytes").field(&b.len()).finish(),
        }
    }
}

/// The shared HTTP client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Http {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: reqwest::Client,
    settings: HttpSettings,
    limiters: Mutex<HashMap<String, Arc<DefaultDirectRateLimiter>>>,
    permits: Semaphore,
    requests: AtomicU64,
    jitter: AtomicU64,
}

/// Why an URL cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    /// Not an URL.
    #[error("`{0}` is not a URL: {1}")]
    Invalid(String, String),
    /// Plain HTTP without the allowance.
    #[error(
        "`{0}` is plain http://: only https:// is allowed, unless `allow_http = true` is set for a local stand-in"
    )]
    PlainHttp(String),
    /// Another scheme.
    #[error("`{0}` must start with https://")]
    Scheme(String),
}

/// Parses a base URL and checks its scheme against the allowance.
pub fn check_url(url: &str, allow_http: bool) -> Result<Url, UrlError> {
    let parsed =
        Url::parse(url.trim()).map_err(|e| UrlError::Invalid(url.to_owned(), e.to_string()))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if allow_http => Ok(parsed),
        "http" => Err(UrlError::PlainHttp(url.to_owned())),
        _ => Err(UrlError::Scheme(url.to_owned())),
    }
}

impl Http {
    /// A client with these settings.
    ///
    /// # Errors
    /// When the TLS backend cannot be initialised.
    pub fn new(settings: HttpSettings) -> Result<Http, reqwest::Error> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .https_only(!settings.allow_http)
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .user_agent(concat!("reachcheck/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(settings.concurrency.max(1))
            .build()?;
        let permits = Semaphore::new(settings.concurrency.max(1));
        Ok(Http {
            inner: Arc::new(Inner {
                client,
                permits,
                limiters: Mutex::new(HashMap::new()),
                requests: AtomicU64::new(0),
                jitter: AtomicU64::new(0x9E37_79B9_7F4A_7C15),
                settings,
            }),
        })
    }

    /// Requests sent so far (every attempt counts).
    pub fn requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    fn limiter(&self, host: &str) -> Arc<DefaultDirectRateLimiter> {
        let mut map = match self.inner.limiters.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        Arc::clone(map.entry(host.to_owned()).or_insert_with(|| {
            let rate = self
                .inner
                .settings
                .host_rates
                .get(host)
                .copied()
                .unwrap_or(self.inner.settings.rate_per_second);
            // No bursts: requests are spaced evenly, so an upstream that enforces the same
            // rate never has to refuse one.
            Arc::new(RateLimiter::direct(
                Quota::per_second(rate).allow_burst(NonZeroU32::MIN),
            ))
        }))
    }

    /// A pseudo-random fraction in [0, 1) for jitter (splitmix64; no cryptographic need).
    fn jitter(&self) -> f64 {
        let mut z = self
            .inner
            .jitter
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The wait before attempt `attempt + 1` (exponential, full jitter, capped): for a
    /// caller that finds an answer unusable only after reading it and asks again.
    pub fn retry_wait(&self, attempt: u32) -> Duration {
        self.backoff(attempt)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let s = &self.inner.settings;
        let cap = s
            .backoff
            .saturating_mul(1u32 << attempt.min(16))
            .min(s.max_backoff);
        cap.mul_f64(self.jitter())
    }

    /// Sends a request with the discipline of this module and returns any answer that is
    /// not a 5xx or 429 (those are retried), or the failure after the last attempt.
    ///
    /// # Errors
    /// Timeouts, connection errors, 5xx and 429 on every attempt.
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        headers: HeaderMap,
        body: Body<'_>,
    ) -> Result<Answer, HttpFailure> {
        let s = &self.inner.settings;
        let host = url.host_str().unwrap_or("?").to_owned();
        let failure = |reason: String, status: Option<u16>| HttpFailure {
            upstream: host.clone(),
            path: url.path().to_owned(),
            reason,
            status,
        };
        let limiter = self.limiter(&host);
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| failure("the client is shutting down".to_owned(), None))?;
        let mut last = String::new();
        let mut last_status = None;
        for attempt in 0..s.attempts.max(1) {
            limiter.until_ready().await;
            self.inner.requests.fetch_add(1, Ordering::Relaxed);
            let mut req = self
                .inner
                .client
                .request(method.clone(), url.clone())
                .headers(headers.clone());
            match &body {
                Body::None => {}
                Body::Form(form) => req = req.form(form),
                Body::FreshForm(make) => req = req.form(&make()),
                Body::Json(v) => req = req.json(v),
                Body::JsonBytes(b) => {
                    req = req
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(b.to_vec());
                }
            }
            let wait = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    last_status = Some(status.as_u16());
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        let after = retry_after(resp.headers());
                        last = format!("HTTP 429 Too Many Requests after {} attempts", attempt + 1);
                        tracing::debug!(%host, path = url.path(), ?after, "429; backing off");
                        after
                            .map(|d| d.min(s.max_backoff))
                            .unwrap_or_else(|| self.backoff(attempt))
                    } else if status.is_server_error() {
                        last = format!("HTTP {status} after {} attempts", attempt + 1);
                        tracing::debug!(%host, path = url.path(), %status, "server error; retrying");
                        self.backoff(attempt)
                    } else {
                        let answered = resp.url().clone();
                        match resp.bytes().await {
                            Ok(body) => {
                                return Ok(Answer {
                                    status,
                                    body,
                                    url: answered,
                                });
                            }
                            Err(e) => {
                                last = format!(
                                    "the body was cut off ({}) after {} attempts",
                                    error_kind(&e),
                                    attempt + 1
                                );
                                self.backoff(attempt)
                            }
                        }
                    }
                }
                Err(e) => {
                    last = format!("{} after {} attempts", error_kind(&e), attempt + 1);
                    tracing::debug!(%host, path = url.path(), error = %last, "request failed; retrying");
                    self.backoff(attempt)
                }
            };
            if attempt + 1 < s.attempts {
                tokio::time::sleep(wait).await;
            }
        }
        Err(failure(last, last_status))
    }

    /// `GET url` with these headers.
    ///
    /// # Errors
    /// See [`Http::send`].
    pub async fn get(&self, url: Url, headers: HeaderMap) -> Result<Answer, HttpFailure> {
        self.send(Method::GET, url, headers, Body::None).await
    }
}

/// The wait a 429 asks for: `Retry-After` in seconds or as an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate_to_timestamp(v)?;
    let now = jiff::Timestamp::now();
    Some(at.duration_since(now).try_into().unwrap_or(Duration::ZERO))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn httpdate_to_timestamp(s: &str) -> Option<jiff::Timestamp> {
    jiff::fmt::rfc2822::parse(s).ok().map(|z| z.timestamp())
}

/// What went wrong with a request, in a few words.
pub(crate) fn error_kind(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else if e.is_body() || e.is_decode() {
        "the body could not be read".to_owned()
    } else {
        // reqwest's messages carry the URL; ours never carry secrets in URLs.
        format!("request error: {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_needs_the_allowance() {
        assert!(matches!(
            check_url("http://127.0.0.1:8080", false),
            Err(UrlError::PlainHttp(_))
        ));
        assert!(check_url("http://127.0.0.1:8080", true).is_ok());
        assert!(check_url("https://platform.altinn.no", false).is_ok());
        assert!(matches!(
            check_url("ftp://x", true),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(
            check_url("not a url", true),
            Err(UrlError::Invalid(..))
        ));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(
            RETRY_AFTER,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        let http = Http::new(HttpSettings {
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            ..HttpSettings::default()
        })
        .unwrap();
        for attempt in 0..20 {
            let d = http.backoff(attempt);
            let cap = Duration::from_millis(100)
                .saturating_mul(1 << attempt.min(16))
                .min(Duration::from_secs(1));
            assert!(d <= cap, "attempt {attempt}: {d:?} > {cap:?}");
        }
    }
}
