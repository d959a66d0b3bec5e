//! Maskinporten's JWT-bearer grant, Altinn's token exchange, and a token cache
//! (`API-NOTES.md` §5.1, §5.3).
//!
//! The grant is signed RS256 with the client's private key (read from a PEM file) and carries
//! exactly `aud`, `iss`, `scope`, `iat`, `exp` (`iat` + at most 120 s), a fresh `jti`, and —
//! for a system-user token — `authorization_details` naming the organisation. Maskinporten's
//! answer is parsed with `oauth2`'s standard token and error types; the access token is then
//! exchanged for an Altinn token (`GET /authentication/api/v1/exchange/maskinporten`, a
//! plain-text body, JSON quotes stripped). Tokens are cached per (scope, organisation) and
//! refreshed before they expire, one refresh at a time per key.
//!
//! Keys and tokens are secret types: their `Debug` says `[redacted]`, and no error message
//! or log line carries them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oauth2::basic::{BasicErrorResponse, BasicTokenResponse};
use oauth2::{AccessToken, TokenResponse as _};
use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue};
use serde::Serialize;

use crate::http::{Body, Http, HttpFailure};
use crate::model::OrgNumber;

/// The longest grant lifetime Maskinporten accepts (`exp - iat`).
pub const MAX_GRANT_LIFETIME_SECS: i64 = 120;
/// The grant type of the JWT-bearer flow.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Settings of the Maskinporten client and the Altinn exchange.
#[derive(Clone, Debug, PartialEq)]
pub struct AuthSettings {
    /// Maskinporten's token endpoint, e.g. `https://maskinporten.no/token`.
    pub token_url: Url,
    /// Maskinporten's issuer identifier, the grant's `aud`, e.g. `https://maskinporten.no/`.
    pub audience: String,
    /// The client id registered in Maskinporten (the grant's `iss`).
    pub client_id: String,
    /// The PEM file with the client's RSA private key.
    pub key_file: PathBuf,
    /// The key id registered with the client (header `kid`); without it, `x5c` is needed.
    pub key_id: Option<String>,
    /// The certificate chain for header `x5c` (base64 DER), when no `kid` is used.
    pub x5c: Option<Vec<String>>,
    /// Altinn's exchange endpoint; `None` uses Maskinporten tokens as they are.
    pub exchange_url: Option<Url>,
    /// How long an Altinn token lives (Altinn's `JwtValidityMinutes`, 30 min by default).
    pub altinn_token_lifetime: Duration,
    /// Refresh a cached token this long before it expires.
    pub refresh_margin: Duration,
}

/// Why a token could not be had. Never carries a key or a token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The key file cannot be read.
    #[error("`{path}` (setting `key_file`): cannot read the private key: {reason}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The key file holds no usable RSA private key.
    #[error("`{path}` (setting `key_file`): not an RSA private key in PEM format: {reason}")]
    Key {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Neither `kid` nor `x5c` is configured.
    #[error(
        "setting `key_id`: Maskinporten needs the key id registered with the client (or an x5c chain)"
    )]
    NoKeyId,
    /// The grant could not be signed.
    #[error("cannot sign the Maskinporten grant: {0}")]
    Sign(String),
    /// The upstream did not answer usefully.
    #[error("{0}")]
    Http(#[from] HttpFailure),
    /// The upstream refused, with its OAuth error.
    #[error("{upstream} refused the token request (HTTP {status}): {error}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Refused {
        /// The upstream.
        upstream: String,
        /// HTTP status.
        status: u16,
        /// OAuth `error`, or the status text.
        error: String,
        /// OAuth `error_description`.
        description: Option<String>,
        /// OAuth `error_uri` (Maskinporten's names the error id, `…/errors/MP-303`).
        uri: Option<String>,
    },
    /// The upstream answered something that is not a token.
    #[error("{upstream} answered HTTP {status} with {what}")]
    Garbage {
        /// The upstream.
        upstream: String,
        /// HTTP status.
        status: u16,
        /// What was wrong.
        what: String,
    },
}

/// Whom a token refusal concerns (`docs/altinn-refusals.md`, the last section).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalScope {
    /// One organisation: it has no system user this client may use (Maskinporten's
    /// `invalid_altinn_customer_configuration`, MP-303). The sweep goes on without it.
    Organisation,
    /// The client itself (key, client id, audience, scope, the shape of the grant): every
    /// organisation would be refused alike, so the sweep stops as a configuration error.
    Client,
    /// Nothing about anyone: an upstream that failed or answered garbage. Retried; what
    /// depends on it is `unknown`.
    Transient,
}

/// Maskinporten's error for an organisation without a usable system user (MP-303).
pub const NO_SYSTEM_USER: &str = "invalid_altinn_customer_configuration";

impl AuthError {
    /// A refusal without an OAuth error body: the status says it all.
    fn refused(upstream: String, status: reqwest::StatusCode) -> AuthError {
        AuthError::Refused {
            upstream,
            status: status.as_u16(),
            error: status.canonical_reason().unwrap_or("error").to_owned(),
            description: None,
            uri: None,
        }
    }

    /// Whom the refusal concerns.
    pub fn scope(&self) -> RefusalScope {
        match self {
            AuthError::Refused {
                status, error, uri, ..
            } => {
                let mp_303 = uri.as_deref().is_some_and(|u| u.ends_with("/MP-303"));
                if error == NO_SYSTEM_USER || mp_303 {
                    RefusalScope::Organisation
                } else if *status >= 500 || *status == 429 {
                    RefusalScope::Transient
                } else {
                    RefusalScope::Client
                }
            }
            AuthError::Http(_) | AuthError::Garbage { .. } => RefusalScope::Transient,
            AuthError::KeyFile { .. }
            | AuthError::Key { .. }
            | AuthError::NoKeyId
            | AuthError::Sign(_) => RefusalScope::Client,
        }
    }
}

/// The client's private key. `Debug` never shows it.
#[derive(Clone)]
pub struct SigningKey {
    key: EncodingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

impl SigningKey {
    /// Reads an RSA private key (PKCS#1 or PKCS#8 PEM).
    ///
    /// # Errors
    /// A missing or unreadable file, or one without an RSA private key; the message names
    /// the file, never its contents.
    pub fn from_pem_file(path: &Path) -> Result<SigningKey, AuthError> {
        let pem = std::fs::read(path).map_err(|e| AuthError::KeyFile {
            path: path.to_owned(),
            reason: match e.kind() {
                std::io::ErrorKind::NotFound => "the file does not exist".to_owned(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
                other => other.to_string(),
            },
        })?;
        Self::from_pem(&pem).map_err(|reason| AuthError::Key {
            path: path.to_owned(),
            reason,
        })
    }

    /// Reads an RSA private key from PEM bytes.
    ///
    /// # Errors
    /// When the bytes hold no RSA private key (the reason never quotes them).
    pub fn from_pem(pem: &[u8]) -> Result<SigningKey, String> {
        install_crypto();
        let key = EncodingKey::from_rsa_pem(pem).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidKeyFormat => "invalid key format".to_owned(),
            _ => "the PEM does not hold an RSA private key".to_owned(),
        })?;
        Ok(SigningKey { key })
    }
}

/// Selects jsonwebtoken's pure-Rust crypto backend for this process (idempotent).
pub fn install_crypto() {
    // An error means a provider is installed already, which is what we want.
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
}

/// The claims of a Maskinporten grant: exactly these, nothing else.
#[derive(Serialize)]
struct Claims<'a> {
    aud: &'a str,
    iss: &'a str,
    scope: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorization_details: Option<[AuthorizationDetail; 1]>,
}

/// `{"type": "urn:altinn:systemuser", "systemuser_org": {...}}` (§5.1).
#[derive(Serialize)]
struct AuthorizationDetail {
    #[serde(rename = "type")]
    kind: &'static str,
    systemuser_org: SystemUserOrg,
}

#[derive(Serialize)]
struct SystemUserOrg {
    authority: &'static str,
    #[serde(rename = "ID")]
    id: String,
}

#[derive(Clone, Debug)]
struct Cached {
    token: AccessToken,
    refresh_at: std::time::Instant,
}

type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

/// Gets and caches tokens.
#[derive(Debug)]
pub struct Auth {
    http: Http,
    settings: AuthSettings,
    key: SigningKey,
    cache: Mutex<HashMap<(String, Option<OrgNumber>), Slot>>,
    grants: AtomicU64,
}

impl Auth {
    /// A client; reads the key now, so a bad key is an error before anything is sent.
    ///
    /// # Errors
    /// The key file or key id is unusable.
    pub fn new(http: Http, settings: AuthSettings) -> Result<Auth, AuthError> {
        if settings.key_id.is_none() && settings.x5c.is_none() {
            return Err(AuthError::NoKeyId);
        }
        let key = SigningKey::from_pem_file(&settings.key_file)?;
        Ok(Auth {
            http,
            settings,
            key,
            cache: Mutex::new(HashMap::new()),
            grants: AtomicU64::new(0),
        })
    }

    /// Grants sent to Maskinporten so far.
    pub fn grants(&self) -> u64 {
        self.grants.load(Ordering::Relaxed)
    }

    /// Signs a grant for `scope`, for `org`'s system user if given, issued at `iat` (Unix
    /// seconds) and valid for the longest time Maskinporten allows.
    ///
    /// # Errors
    /// When signing fails.
    pub fn assertion(
        &self,
        scope: &str,
        org: Option<OrgNumber>,
        iat: i64,
    ) -> Result<String, AuthError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid.clone_from(&self.settings.key_id);
        if header.kid.is_none() {
            header.x5c.clone_from(&self.settings.x5c);
        }
        let claims = Claims {
            aud: &self.settings.audience,
            iss: &self.settings.client_id,
            scope,
            iat,
            exp: iat + MAX_GRANT_LIFETIME_SECS,
            jti: format!("{:032x}", rand08::random::<u128>()),
            authorization_details: org.map(|o| {
                [AuthorizationDetail {
                    kind: "urn:altinn:systemuser",
                    systemuser_org: SystemUserOrg {
                        authority: "iso6523-actorid-upis",
                        id: format!("0192:{o}"),
                    },
                }]
            }),
        };
        jsonwebtoken::encode(&header, &claims, &self.key.key)
            .map_err(|e| AuthError::Sign(e.to_string()))
    }

    /// A fresh Maskinporten token and its lifetime.
    ///
    /// # Errors
    /// The request fails, Maskinporten refuses, or answers something else than a token.
    pub async fn maskinporten_token(
        &self,
        scope: &str,
        org: Option<OrgNumber>,
    ) -> Result<(AccessToken, Option<Duration>), AuthError> {
        // Signed once here to refuse an unusable key at once; then anew for each attempt,
        // after any wait for the rate limit: Maskinporten wants `iat` within 10 s of its
        // clock and each `jti` once (API-NOTES §5.1).
        self.assertion(scope, org, jiff::Timestamp::now().as_second())?;
        let form = || {
            self.grants.fetch_add(1, Ordering::Relaxed);
            let assertion = self
                .assertion(scope, org, jiff::Timestamp::now().as_second())
                .unwrap_or_default();
            vec![
                ("grant_type", JWT_BEARER.to_owned()),
                ("assertion", assertion),
            ]
        };
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let answer = self
            .http
            .send(
                reqwest::Method::POST,
                self.settings.token_url.clone(),
                headers,
                Body::FreshForm(&form),
            )
            .await?;
        let upstream = upstream(&self.settings.token_url);
        let status = answer.status.as_u16();
        if !answer.status.is_success() {
            return Err(
                match serde_json::from_slice::<BasicErrorResponse>(&answer.body) {
                    Ok(e) => AuthError::Refused {
                        upstream,
                        status,
                        error: e.error().as_ref().to_owned(),
                        description: e.error_description().cloned(),
                        uri: e.error_uri().cloned(),
                    },
                    Err(_) => AuthError::refused(upstream, answer.status),
                },
            );
        }
        let token: BasicTokenResponse =
            serde_json::from_slice(&answer.body).map_err(|e| AuthError::Garbage {
                upstream,
                status,
                what: format!(
                    "a body that is not a token response ({})",
                    serde_error_kind(&e)
                ),
            })?;
        Ok((token.access_token().clone(), token.expires_in()))
    }

    /// Exchanges a Maskinporten token for an Altinn token.
    ///
    /// # Errors
    /// The request fails or Altinn refuses.
    pub async fn exchange(&self, url: &Url, token: &AccessToken) -> Result<AccessToken, AuthError> {
        let answer = self
            .http
            .get(url.clone(), bearer(token, "text/plain"))
            .await?;
        let upstream = upstream(url);
        let status = answer.status.as_u16();
        if !answer.status.is_success() {
            return Err(AuthError::refused(upstream, answer.status));
        }
        let text = std::str::from_utf8(&answer.body).map_err(|_| AuthError::Garbage {
            upstream: upstream.clone(),
            status,
            what: "a body that is not text".to_owned(),
        })?;
        let token = text.trim().trim_matches('"');
        let looks_like_jwt = token.split('.').count() == 3
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'='));
        if !looks_like_jwt {
            return Err(AuthError::Garbage {
                upstream,
                status,
                what: "a body that is not a token".to_owned(),
            });
        }
        Ok(AccessToken::new(token.to_owned()))
    }

    /// A token for `scope` (and `org`'s system user), from the cache while it is fresh;
    /// otherwise a new grant (and exchange), one refresh at a time per key.
    ///
    /// # Errors
    /// See [`Auth::maskinporten_token`] and [`Auth::exchange`].
    pub async fn token(
        &self,
        scope: &str,
        org: Option<OrgNumber>,
    ) -> Result<AccessToken, AuthError> {
        let slot = {
            let mut cache = match self.cache.lock() {
                Ok(c) => c,
                Err(p) => p.into_inner(),
            };
            Arc::clone(cache.entry((scope.to_owned(), org)).or_default())
        };
        let mut guard = slot.lock().await;
        if let Some(c) = guard.as_ref()
            && std::time::Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let started = std::time::Instant::now();
        // A transient failure (an answer cut off or garbled after a 200, or the HTTP
        // layer's retries of timeouts, 5xx and 429 spent) is asked again with a fresh
        // grant, waiting as the shared retry policy does; a refusal is an answer, never
        // retried. Only after the last try does the failure become the organisation's (or
        // the sweep's) as [`AuthError::scope`] classifies it.
        let mut tries = 0;
        let (token, life) = loop {
            tries += 1;
            match self.fresh(scope, org).await {
                Err(e) if e.scope() == RefusalScope::Transient && tries < TOKEN_TRIES => {
                    let wait = self.http.retry_wait(tries - 1);
                    tracing::debug!(error = %e, tries, ?wait, "token: trying again");
                    tokio::time::sleep(wait).await;
                }
                other => break other?,
            }
        };
        let life = life.unwrap_or(Duration::from_secs(60));
        let refresh_at = started + life.saturating_sub(self.settings.refresh_margin.min(life / 2));
        *guard = Some(Cached {
            token: token.clone(),
            refresh_at,
        });
        tracing::debug!(scope, ?org, ?life, "new token");
        Ok(token)
    }
}

/// Times a token is asked for before a transient failure is given up (each try is itself
/// retried by the HTTP layer on timeouts, 5xx and 429; a body that is not a token is caught
/// only here).
const TOKEN_TRIES: u32 = 3;

impl Auth {
    /// A new token: a grant, and the exchange when configured; with its lifetime.
    async fn fresh(
        &self,
        scope: &str,
        org: Option<OrgNumber>,
    ) -> Result<(AccessToken, Option<Duration>), AuthError> {
        let (mp, mp_life) = self.maskinporten_token(scope, org).await?;
        Ok(match &self.settings.exchange_url {
            Some(url) => {
                let altinn = self.exchange(url, &mp).await?;
                (altinn, Some(self.settings.altinn_token_lifetime))
            }
            None => (mp, mp_life),
        })
    }
}

/// `Authorization: Bearer <token>` and `Accept`.
pub fn bearer(token: &AccessToken, accept: &'static str) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {}", token.secret())) {
        v.set_sensitive(true);
        h.insert(AUTHORIZATION, v);
    }
    h.insert(ACCEPT, HeaderValue::from_static(accept));
    h
}

fn upstream(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}{}", url.path()),
        (Some(h), None) => format!("{h}{}", url.path()),
        _ => url.path().to_owned(),
    }
}

fn serde_error_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "cut off",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "missing fields",
        serde_json::error::Category::Eof => "cut off",
    }
}
