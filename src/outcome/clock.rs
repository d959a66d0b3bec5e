//! The time deadlines are measured against: the clock, a fixed time (`now` in the config,
//! for recorded snapshots), or a time read over HTTP (`outcomes.clock_url`, e.g. the
//! stand-in's `/_sim/clock`, so that a test's deadlines pass in seconds for the daemon and
//! the stand-in alike).

use std::time::Duration;

use jiff::Timestamp;
use reqwest::Url;

/// The time could not be read.
#[derive(Debug, thiserror::Error)]
#[error("`outcomes.clock_url` `{url}`: {reason}")]
pub struct ClockError {
    /// The clock's URL (origin and path).
    pub url: String,
    /// What went wrong.
    pub reason: String,
}

/// Where the time comes from.
#[derive(Clone, Debug)]
pub enum OutcomeClock {
    /// The system clock.
    System,
    /// A fixed time.
    Fixed(Timestamp),
    /// `GET url` answers `{"now": "<RFC 3339>"}`.
    Remote {
        /// The clock.
        url: Url,
        /// The client.
        client: reqwest::Client,
    },
}

#[derive(serde::Deserialize)]
struct RawNow {
    now: String,
}

impl OutcomeClock {
    /// A clock reading `url`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn remote(url: Url) -> Result<OutcomeClock, ClockError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| ClockError {
                url: url.to_string(),
                reason: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(OutcomeClock::Remote { url, client })
    }

    /// The time now.
    ///
    /// # Errors
    /// A remote clock that does not answer with a time.
    pub async fn now(&self) -> Result<Timestamp, ClockError> {
        match self {
            OutcomeClock::System => Ok(Timestamp::now()),
            OutcomeClock::Fixed(t) => Ok(*t),
            OutcomeClock::Remote { url, client } => {
                let err = |reason: String| ClockError {
                    url: url.to_string(),
                    reason,
                };
                let resp = client
                    .get(url.clone())
                    .send()
                    .await
                    .map_err(|e| err(crate::http::error_kind(&e.without_url())))?;
                if !resp.status().is_success() {
                    return Err(err(format!("HTTP {}", resp.status())));
                }
                let raw: RawNow = resp
                    .json()
                    .await
                    .map_err(|_| err("the answer is not `{\"now\": \"<RFC 3339>\"}`".to_owned()))?;
                raw.now
                    .parse()
                    .map_err(|_| err("`now` is not an RFC 3339 time".to_owned()))
            }
        }
    }
}
