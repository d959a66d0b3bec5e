//! The Events subscriptions API with the sender's own token (API-NOTES-2026 §4.1):
//! `POST /events/api/v1/subscriptions` (`endPoint`, `resourceFilter` required, one exact
//! `typeFilter`, never `sourceFilter`), `GET` (the caller's own), `DELETE …/{id}`.
//!
//! What reachcheck wants is one subscription per (tracked resource × event type), all to
//! `events.public_url`; [`Subscriptions::ensure`] creates those missing and leaves the
//! rest, so running it again changes nothing (Altinn itself reuses an identical one).

use std::sync::Arc;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde_json::Value;

use super::cloudevent::{CORRESPONDENCE_PREFIX, RESOURCE_PREFIX};
use super::settings::EventSettings;
use crate::auth::{Auth, bearer};
use crate::http::{Body, Http};
use crate::model::ResourceId;

const PATH: &str = "events/api/v1/subscriptions";

/// A subscription as Altinn keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Subscription {
    /// Altinn's id.
    pub id: i64,
    /// Where events go.
    pub end_point: String,
    /// `urn:altinn:resource:<id>`.
    pub resource_filter: Option<String>,
    /// The one event type.
    pub type_filter: Option<String>,
    /// Whether the handshake succeeded (only validated ones receive events).
    pub validated: bool,
}

/// One subscription reachcheck wants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Planned {
    /// The tracked resource.
    pub resource: ResourceId,
    /// The event type (without `no.altinn.correspondence.`).
    pub kind: String,
}

impl Planned {
    fn resource_filter(&self) -> String {
        format!("{RESOURCE_PREFIX}{}", self.resource)
    }

    fn type_filter(&self) -> String {
        format!("{CORRESPONDENCE_PREFIX}{}", self.kind)
    }

    /// Whether `s` is this subscription to `endpoint`.
    pub fn is(&self, s: &Subscription, endpoint: &Url) -> bool {
        same_endpoint(&s.end_point, endpoint)
            && s.resource_filter.as_deref() == Some(self.resource_filter().as_str())
            && s.type_filter.as_deref() == Some(self.type_filter().as_str())
    }

    /// Every subscription wanted for `resources` and `types`.
    pub fn all(resources: &[ResourceId], types: &[String]) -> Vec<Planned> {
        resources
            .iter()
            .flat_map(|r| {
                types.iter().map(|t| Planned {
                    resource: r.clone(),
                    kind: t.clone(),
                })
            })
            .collect()
    }
}

/// Whether an endpoint Altinn reports is `ours` (Altinn may normalise a trailing slash).
pub(crate) fn same_endpoint(theirs: &str, ours: &Url) -> bool {
    theirs.trim_end_matches('/') == ours.as_str().trim_end_matches('/')
}

/// Why the subscriptions API could not be used. Keeps Altinn's status and body.
#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    /// No token.
    #[error("no token for Altinn Events (scope `{scope}`): {reason}")]
    Token {
        /// The scope asked for.
        scope: String,
        /// Why.
        reason: String,
    },
    /// The request failed.
    #[error("the subscriptions API could not be reached: {0}")]
    Http(String),
    /// Altinn refused.
    #[error("the subscriptions API answered HTTP {status} to {what}: {body}")]
    Refused {
        /// What was asked.
        what: String,
        /// The status.
        status: u16,
        /// Its body (cut to 500 characters).
        body: String,
    },
    /// The answer is not what Altinn sends.
    #[error("the subscriptions API answered something unexpected to {what}: {why}")]
    Malformed {
        /// What was asked.
        what: String,
        /// Why.
        why: String,
    },
    /// The subscription key or header cannot be sent.
    #[error("{0}")]
    Key(String),
}

/// A client of the subscriptions API.
#[derive(Clone)]
pub struct Subscriptions {
    http: Http,
    auth: Arc<Auth>,
    base: Url,
    scope: String,
    key: Option<(HeaderName, HeaderValue)>,
}

impl std::fmt::Debug for Subscriptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriptions")
            .field("base", &self.base.as_str())
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

fn parse(v: &Value) -> Option<Subscription> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    Some(Subscription {
        id: v.get("id")?.as_i64()?,
        end_point: s("endPoint")?,
        resource_filter: s("resourceFilter"),
        type_filter: s("typeFilter"),
        validated: v.get("validated").and_then(Value::as_bool).unwrap_or(false),
    })
}

impl Subscriptions {
    /// A client over `http` with the sender's tokens from `auth`; Events at
    /// `events.events_url`, else `altinn`. The subscription key of `[outcomes]` goes on
    /// every request when one is set (API management fronts Events too).
    ///
    /// # Errors
    /// A subscription key or header name that cannot be sent.
    pub fn new(
        http: Http,
        auth: Arc<Auth>,
        altinn: Url,
        settings: &EventSettings,
        outcomes: &crate::outcome::OutcomeSettings,
    ) -> Result<Subscriptions, SubscriptionError> {
        let key = match &outcomes.subscription_key {
            None => None,
            Some(k) => {
                let name = HeaderName::from_bytes(outcomes.subscription_key_header.as_bytes())
                    .map_err(|_| {
                        SubscriptionError::Key(format!(
                            "`outcomes.subscription_key_header` `{}` is not an HTTP header name",
                            outcomes.subscription_key_header
                        ))
                    })?;
                let mut v = HeaderValue::from_str(k.expose()).map_err(|_| {
                    SubscriptionError::Key(
                        "the subscription key cannot be sent in an HTTP header".to_owned(),
                    )
                })?;
                v.set_sensitive(true);
                Some((name, v))
            }
        };
        Ok(Subscriptions {
            http,
            auth,
            base: settings.events_url.clone().unwrap_or(altinn),
            scope: settings.scope.clone(),
            key,
        })
    }

    fn url(&self, tail: &str) -> Url {
        let mut u = self.base.clone();
        let joined = format!("{}/{PATH}{tail}", u.path().trim_end_matches('/'));
        u.set_path(&joined);
        u
    }

    async fn headers(&self) -> Result<reqwest::header::HeaderMap, SubscriptionError> {
        let token =
            self.auth
                .token(&self.scope, None)
                .await
                .map_err(|e| SubscriptionError::Token {
                    scope: self.scope.clone(),
                    reason: e.to_string(),
                })?;
        let mut h = bearer(&token, "application/json");
        if let Some((n, v)) = &self.key {
            h.insert(n.clone(), v.clone());
        }
        Ok(h)
    }

    async fn call(
        &self,
        method: Method,
        tail: &str,
        body: Option<&[u8]>,
        what: &str,
    ) -> Result<(StatusCode, Value), SubscriptionError> {
        let headers = self.headers().await?;
        let answer = self
            .http
            .send(
                method,
                self.url(tail),
                headers,
                body.map_or(Body::None, Body::JsonBytes),
            )
            .await
            .map_err(|e| SubscriptionError::Http(e.to_string()))?;
        if !answer.status.is_success() {
            let text = String::from_utf8_lossy(&answer.body);
            let body: String = crate::model::mask_identity_numbers(&text)
                .chars()
                .take(500)
                .collect();
            return Err(SubscriptionError::Refused {
                what: what.to_owned(),
                status: answer.status.as_u16(),
                body,
            });
        }
        let v = if answer.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&answer.body).map_err(|e| SubscriptionError::Malformed {
                what: what.to_owned(),
                why: format!("not JSON ({e})"),
            })?
        };
        Ok((answer.status, v))
    }

    /// The caller's subscriptions.
    ///
    /// # Errors
    /// No token, no answer, a refusal or an answer of another shape.
    pub async fn list(&self) -> Result<Vec<Subscription>, SubscriptionError> {
        let what = "the list of subscriptions";
        let (_, v) = self.call(Method::GET, "", None, what).await?;
        let items = v
            .get("subscriptions")
            .and_then(Value::as_array)
            .or_else(|| v.as_array())
            .ok_or_else(|| SubscriptionError::Malformed {
                what: what.to_owned(),
                why: "no `subscriptions` list".to_owned(),
            })?;
        items
            .iter()
            .map(|i| {
                parse(i).ok_or_else(|| SubscriptionError::Malformed {
                    what: what.to_owned(),
                    why: "a subscription without `id` or `endPoint`".to_owned(),
                })
            })
            .collect()
    }

    /// Creates `p` to `endpoint` (Altinn answers with an identical one if it exists).
    ///
    /// # Errors
    /// As [`Subscriptions::list`].
    pub async fn create(
        &self,
        endpoint: &Url,
        p: &Planned,
    ) -> Result<Subscription, SubscriptionError> {
        let what = format!("a subscription to `{}` for `{}`", p.kind, p.resource);
        let body = serde_json::json!({
            "endPoint": endpoint.as_str(),
            "resourceFilter": p.resource_filter(),
            "typeFilter": p.type_filter(),
        });
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let (_, v) = self.call(Method::POST, "", Some(&bytes), &what).await?;
        parse(&v).ok_or_else(|| SubscriptionError::Malformed {
            what,
            why: "the answer has no `id` or `endPoint`".to_owned(),
        })
    }

    /// Removes subscription `id`.
    ///
    /// # Errors
    /// As [`Subscriptions::list`].
    pub async fn delete(&self, id: i64) -> Result<(), SubscriptionError> {
        self.call(
            Method::DELETE,
            &format!("/{id}"),
            None,
            &format!("removing subscription {id}"),
        )
        .await
        .map(|_| ())
    }

    /// Creates what `wanted` lacks at `endpoint`; each wanted subscription with whether it
    /// was created now.
    ///
    /// # Errors
    /// The first failure; those created before it stay (running again completes them).
    pub async fn ensure(
        &self,
        endpoint: &Url,
        wanted: &[Planned],
    ) -> Result<Vec<(Planned, Subscription, bool)>, SubscriptionError> {
        let existing = self.list().await?;
        let mut out = Vec::new();
        for p in wanted {
            match existing.iter().find(|s| p.is(s, endpoint)) {
                Some(s) => out.push((p.clone(), s.clone(), false)),
                None => {
                    let s = self.create(endpoint, p).await?;
                    out.push((p.clone(), s, true));
                }
            }
        }
        Ok(out)
    }
}
