//! The Correspondence API over HTTP, with the sender's own (service-owner) token
//! (API-NOTES-2026 §3): `GET /correspondence/api/v1/correspondence?resourceId=&role=Sender`
//! pages the sent messages of each tracked resource by [`Pager`]'s window rule, and
//! `GET /correspondence/api/v1/correspondence/{id}/details` is read for every message that
//! is not final. Requests go through [`Http`] (rate limits, retries, timeouts) with the
//! token from [`Auth`] (Maskinporten, then Altinn's exchange) and, when configured, the API
//! management subscription key.
//!
//! A list that fails or cannot be paged past its cap is `outcomes_incomplete` for its
//! resource; a details answer that cannot be used leaves that message as it was. The poll
//! never fails as a whole: the next one catches up.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use oauth2::AccessToken;
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};
use rustc_hash::{FxHashMap, FxHashSet};

use super::details::parse_details;
use super::message::{CorrespondenceId, Message};
use super::pager::{Pager, Step, Window};
use super::{Fetched, Gathered, OutcomeSettings};
use crate::auth::{Auth, bearer};
use crate::http::Http;
use crate::model::{OrgNumber, ResourceId};
use crate::store::KnownMessage;

const LIST: &str = "correspondence/api/v1/correspondence";

/// Where the Correspondence API is and how to ask it.
#[derive(Clone, Debug, PartialEq)]
pub struct CorrespondenceEndpoints {
    /// Altinn platform, e.g. `https://platform.altinn.no`.
    pub base: Url,
    /// Scopes of the sender's token.
    pub scope: String,
    /// `onBehalfOf` for the list; `None` lets Altinn take the token's organisation.
    pub on_behalf_of: Option<OrgNumber>,
}

/// A client of the Correspondence API. Cheap to clone.
#[derive(Clone)]
pub struct CorrespondenceClient {
    http: Http,
    auth: Arc<Auth>,
    endpoints: CorrespondenceEndpoints,
    key: Option<(HeaderName, HeaderValue)>,
}

impl std::fmt::Debug for CorrespondenceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CorrespondenceClient")
            .field("endpoints", &self.endpoints)
            .field("subscription_key", &self.key.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// The subscription key or its header cannot be sent.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Not a header name.
    #[error("`outcomes.subscription_key_header` `{0}` is not an HTTP header name")]
    HeaderName(String),
    /// Not a header value.
    #[error(
        "the subscription key cannot be sent in an HTTP header: it must be visible ASCII without line breaks"
    )]
    Key,
}

impl CorrespondenceClient {
    /// A client over `http` with tokens from `auth`, at `base` (the Altinn platform).
    ///
    /// # Errors
    /// A subscription key or header name that cannot be sent.
    pub fn new(
        http: Http,
        auth: Arc<Auth>,
        base: Url,
        settings: &OutcomeSettings,
    ) -> Result<CorrespondenceClient, ClientError> {
        let key = match &settings.subscription_key {
            None => None,
            Some(k) => {
                let name = HeaderName::from_bytes(settings.subscription_key_header.as_bytes())
                    .map_err(|_| {
                        ClientError::HeaderName(settings.subscription_key_header.clone())
                    })?;
                let mut v = HeaderValue::from_str(k.expose()).map_err(|_| ClientError::Key)?;
                v.set_sensitive(true);
                Some((name, v))
            }
        };
        Ok(CorrespondenceClient {
            http,
            auth,
            endpoints: CorrespondenceEndpoints {
                base: settings.correspondence_url.clone().unwrap_or(base),
                scope: settings.scope.clone(),
                on_behalf_of: settings.on_behalf_of,
            },
            key,
        })
    }

    /// Where it asks.
    pub fn endpoints(&self) -> &CorrespondenceEndpoints {
        &self.endpoints
    }

    fn url(&self, path: &str) -> Url {
        let mut u = self.endpoints.base.clone();
        let joined = format!(
            "{}/{}",
            u.path().trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        u.set_path(&joined);
        u
    }

    fn headers(&self, token: &AccessToken) -> reqwest::header::HeaderMap {
        let mut h = bearer(token, "application/json");
        if let Some((name, value)) = &self.key {
            h.insert(name.clone(), value.clone());
        }
        h
    }

    /// One page of the list.
    async fn list(
        &self,
        token: &AccessToken,
        resource: &ResourceId,
        w: Window,
    ) -> Result<Vec<CorrespondenceId>, String> {
        let mut url = self.url(LIST);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("resourceId", resource.as_str())
                .append_pair("role", "Sender");
            if let Some(f) = w.from {
                q.append_pair("from", &f.to_string());
            }
            if let Some(t) = w.to {
                q.append_pair("to", &t.to_string());
            }
            if let Some(o) = self.endpoints.on_behalf_of {
                q.append_pair("onBehalfOf", &format!("0192:{o}"));
            }
        }
        let answer = self
            .http
            .get(url, self.headers(token))
            .await
            .map_err(|e| format!("the list failed: {e}"))?;
        if !answer.status.is_success() {
            let hint = if matches!(
                answer.status,
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
            ) {
                " (check `outcomes.scope`, `outcomes.on_behalf_of` and the subscription key: the sender's own token must be allowed to list this resource)"
            } else {
                ""
            };
            return Err(format!("the list answered HTTP {}{hint}", answer.status));
        }
        #[derive(serde::Deserialize)]
        struct RawIds {
            ids: Vec<String>,
        }
        let raw: RawIds = serde_json::from_slice(&answer.body).map_err(|e| {
            format!(
                "the list answer is malformed at line {} column {}: expected {{\"ids\": [...]}}",
                e.line(),
                e.column()
            )
        })?;
        raw.ids
            .iter()
            .map(|s| {
                CorrespondenceId::parse(s)
                    .map_err(|_| "the list answer holds an id that is not a UUID".to_owned())
            })
            .collect()
    }

    /// One message's details.
    async fn details(&self, token: &AccessToken, id: CorrespondenceId) -> Result<Message, String> {
        let url = self.url(&format!("{LIST}/{id}/details"));
        let answer = self
            .http
            .get(url, self.headers(token))
            .await
            .map_err(|e| e.to_string())?;
        match answer.status {
            s if s.is_success() => parse_details(&answer.body, Some(id)).map_err(|e| e.to_string()),
            StatusCode::NOT_FOUND => {
                Err("details not found (HTTP 404): Altinn no longer has this message".to_owned())
            }
            s @ (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => Err(format!(
                "details refused (HTTP {}): the sender's token may not read this message",
                s.as_u16()
            )),
            s => Err(format!("details answered HTTP {}", s.as_u16())),
        }
    }

    /// The details of `ids`, at once (the HTTP client bounds how many are in flight).
    async fn fetch_all(
        &self,
        token: &AccessToken,
        ids: Vec<(CorrespondenceId, Option<ResourceId>)>,
    ) -> Vec<Fetched> {
        let mut tasks = tokio::task::JoinSet::new();
        for (id, resource) in ids {
            let this = self.clone();
            let token = token.clone();
            tasks.spawn(async move {
                let details = this.details(&token, id).await;
                Fetched {
                    id,
                    resource: resource
                        .or_else(|| details.as_ref().ok().map(|m| m.resource.clone())),
                    details,
                }
            });
        }
        let mut out = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(f) => out.push(f),
                Err(e) => tracing::error!(error = %e, "a details request failed unexpectedly"),
            }
        }
        out
    }

    /// The details of `ids` read again with the sender's own token: what an event about
    /// them is checked against (an event alone proves nothing).
    #[tracing::instrument(skip_all, fields(ids = ids.len()))]
    pub async fn refetch(&self, ids: &[CorrespondenceId]) -> Vec<Fetched> {
        let token = match self.auth.token(&self.endpoints.scope, None).await {
            Ok(t) => t,
            Err(e) => {
                return ids
                    .iter()
                    .map(|id| Fetched {
                        id: *id,
                        resource: None,
                        details: Err(format!("no token for Correspondence: {e}")),
                    })
                    .collect();
            }
        };
        self.fetch_all(&token, ids.iter().map(|id| (*id, None)).collect())
            .await
    }

    /// Lists the sent messages of `resources` published within `poll_for` of `now` and
    /// reads the details of every one not final in `known`, and of every known message
    /// not final that the lists did not name.
    #[tracing::instrument(skip_all, fields(resources = resources.len()))]
    pub async fn gather(
        &self,
        resources: &[ResourceId],
        known: &FxHashMap<CorrespondenceId, KnownMessage>,
        now: Timestamp,
        poll_for: SignedDuration,
    ) -> Gathered {
        let start = self.http.requests();
        let mut out = Gathered::default();
        let token = match self.auth.token(&self.endpoints.scope, None).await {
            Ok(t) => t,
            Err(e) => {
                for r in resources {
                    out.incomplete
                        .push((r.clone(), format!("no token for Correspondence: {e}")));
                }
                return out;
            }
        };
        let from = now.checked_sub(poll_for).ok();
        let mut seen: FxHashSet<CorrespondenceId> = FxHashSet::default();
        let mut times: FxHashMap<CorrespondenceId, Timestamp> = FxHashMap::default();
        for resource in resources {
            let mut pager = Pager::new(from);
            loop {
                let ids = match self.list(&token, resource, pager.window()).await {
                    Ok(ids) => ids,
                    Err(why) => {
                        out.incomplete.push((resource.clone(), why));
                        break;
                    }
                };
                out.listed += ids.len() as u64;
                let mut need = Vec::new();
                for id in &ids {
                    if !seen.insert(*id) {
                        continue;
                    }
                    match known.get(id) {
                        Some(k) if k.is_final => {
                            if let Some(t) = k.requested_publish {
                                times.insert(*id, t);
                            }
                        }
                        k => {
                            if let Some(t) = k.and_then(|k| k.requested_publish) {
                                times.insert(*id, t);
                            }
                            need.push((*id, Some(resource.clone())));
                        }
                    }
                }
                for f in self.fetch_all(&token, need).await {
                    if let Some(t) = f.details.as_ref().ok().and_then(|m| m.requested_publish) {
                        times.insert(f.id, t);
                    }
                    out.items.push(f);
                }
                let oldest = ids.iter().filter_map(|id| times.get(id)).min().copied();
                match pager.advance(ids.len(), oldest) {
                    Step::Next => {}
                    Step::Done => break,
                    Step::Incomplete(why) => {
                        out.incomplete.push((resource.clone(), why.to_string()));
                        break;
                    }
                }
            }
        }
        // Messages still open that no list named (older than the window, or a list failed).
        let rest: Vec<(CorrespondenceId, Option<ResourceId>)> = known
            .iter()
            .filter(|(id, k)| {
                !k.is_final
                    && !seen.contains(id)
                    && k.resource.as_ref().is_none_or(|r| resources.contains(r))
            })
            .map(|(id, k)| (*id, k.resource.clone()))
            .collect();
        out.items.extend(self.fetch_all(&token, rest).await);
        out.requests = self.http.requests() - start;
        out
    }
}
