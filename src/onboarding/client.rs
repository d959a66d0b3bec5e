//! The vendor endpoints of Altinn Authentication (API-NOTES-2026 §1.2–1.5) and the one
//! Enhetsregisteret look-up onboarding needs (a sub-unit's main unit), over the crate's
//! HTTP discipline. Called with a plain Maskinporten token of reachcheck's own client (no
//! system user: the vendor acts as itself; §1.1).

use std::sync::Arc;

use oauth2::AccessToken;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{OnboardingSettings, RequestStatus};
use crate::auth::{Auth, AuthError, bearer};
use crate::evidence::live::LiveEndpoints;
use crate::http::{Body, Http, HttpFailure};
use crate::model::OrgNumber;

/// A vendor endpoint could not be used.
#[derive(Debug, thiserror::Error)]
pub enum VendorError {
    /// Maskinporten refused reachcheck's client a token for the vendor scopes.
    #[error("{0} (check `onboarding.scopes`: Digdir grants the vendor scopes)")]
    Token(#[from] AuthError),
    /// The request failed (timeouts, 5xx, 429 after retries).
    #[error(transparent)]
    Http(#[from] HttpFailure),
    /// Altinn answered with a refusal.
    #[error("{what}: HTTP {status}{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Refused {
        /// What was asked.
        what: String,
        /// The status.
        status: u16,
        /// The problem's title or code, as Altinn gave it.
        detail: Option<String>,
    },
    /// Altinn answered something that is not what the endpoint returns.
    #[error("{what}: {reason}")]
    Garbage {
        /// What was asked.
        what: String,
        /// Why it is unusable.
        reason: String,
    },
}

impl VendorError {
    /// The HTTP status of a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            VendorError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A system-user request as Altinn answers it (`RequestSystemResponse`).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VendorRequest {
    /// Its id.
    pub id: String,
    /// The organisation asked.
    pub party_org_no: String,
    /// Altinn's status.
    pub status: String,
    /// The organisation's approval link.
    pub confirm_url: Option<String>,
    /// When it was created.
    pub created: Option<jiff::Timestamp>,
}

impl VendorRequest {
    /// Its status, or why it is not one Altinn defines.
    pub fn status(&self) -> Result<RequestStatus, String> {
        RequestStatus::parse(&self.status)
            .ok_or_else(|| format!("unknown request status `{}`", self.status))
    }
}

#[derive(Deserialize)]
struct RawSystem {
    #[serde(default, rename = "accessPackages")]
    access_packages: Vec<RawUrn>,
}

#[derive(Deserialize)]
struct RawUrn {
    urn: String,
}

#[derive(Deserialize)]
struct RawPage {
    links: RawLinks,
    data: Vec<RawSystemUser>,
}

#[derive(Deserialize)]
struct RawLinks {
    next: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSystemUser {
    reportee_org_no: String,
    #[serde(default)]
    is_deleted: bool,
}

/// The vendor endpoints.
#[derive(Clone, Debug)]
pub struct VendorClient {
    http: Http,
    auth: Arc<Auth>,
    endpoints: LiveEndpoints,
    scope: String,
}

/// Pages of system users read at most.
const MAX_PAGES: usize = 1000;

impl VendorClient {
    /// A client of the live sources' HTTP and Maskinporten client with the onboarding
    /// scopes.
    pub fn new(
        http: Http,
        auth: Arc<Auth>,
        endpoints: LiveEndpoints,
        settings: &OnboardingSettings,
    ) -> VendorClient {
        VendorClient {
            http,
            auth,
            endpoints,
            scope: settings.scopes.join(" "),
        }
    }

    /// A Maskinporten token of reachcheck's own client for the vendor scopes.
    ///
    /// # Errors
    /// Maskinporten refused or failed.
    pub async fn token(&self) -> Result<AccessToken, VendorError> {
        Ok(self.auth.maskinporten_token(&self.scope, None).await?.0)
    }

    fn url(&self, base: &Url, path: &str) -> Url {
        let mut u = base.clone();
        u.set_path(&format!(
            "{}/{}",
            base.path().trim_end_matches('/'),
            path.trim_start_matches('/')
        ));
        u
    }

    fn headers(&self, token: &AccessToken) -> HeaderMap {
        let mut h = bearer(token, "application/json");
        if let Some(key) = &self.endpoints.subscription_key
            && let Ok(mut v) = HeaderValue::from_str(key.secret())
        {
            v.set_sensitive(true);
            h.insert("Ocp-Apim-Subscription-Key", v);
        }
        h
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        method: Method,
        url: Url,
        token: &AccessToken,
        body: Option<&Value>,
    ) -> Result<(StatusCode, T), VendorError> {
        let body = body.map_or(Body::None, Body::Json);
        let a = self
            .http
            .send(method, url, self.headers(token), body)
            .await?;
        if !a.status.is_success() {
            return Err(refusal(what, a.status, &a.body));
        }
        let v = serde_json::from_slice::<T>(&a.body).map_err(|e| VendorError::Garbage {
            what: what.to_owned(),
            reason: format!("malformed JSON: {e}"),
        })?;
        Ok((a.status, v))
    }

    /// The access packages the registered system `system_id` offers.
    ///
    /// # Errors
    /// Not registered (404), refused or failed.
    pub async fn offered_packages(
        &self,
        token: &AccessToken,
        system_id: &str,
    ) -> Result<Vec<String>, VendorError> {
        let url = self.url(
            &self.endpoints.altinn,
            &format!("authentication/api/v1/systemregister/vendor/{system_id}"),
        );
        let (_, s): (_, RawSystem) = self
            .call("the system register", Method::GET, url, token, None)
            .await?;
        Ok(s.access_packages.into_iter().map(|p| p.urn).collect())
    }

    /// Creates (or, when one is open, gets again) the request for `org`; whether it is new.
    ///
    /// # Errors
    /// Refused (the organisation unknown, a system user already there, ...) or failed.
    pub async fn create(
        &self,
        token: &AccessToken,
        settings: &OnboardingSettings,
        system_id: &str,
        org: OrgNumber,
    ) -> Result<(bool, VendorRequest), VendorError> {
        let url = self.url(
            &self.endpoints.altinn,
            "authentication/api/v1/systemuser/request/vendor",
        );
        let mut body = json!({
            "systemId": system_id,
            "partyOrgNo": org.to_string(),
            "accessPackages": settings.access_packages.iter().map(|u| json!({"urn": u})).collect::<Vec<_>>(),
        });
        if let Some(r) = &settings.external_ref {
            body["externalRef"] = json!(r);
        }
        if let Some(r) = &settings.redirect_url {
            body["redirectUrl"] = json!(r);
        }
        if let Some(t) = &settings.integration_title {
            body["integrationTitle"] = json!(t);
        }
        let (status, r): (_, VendorRequest) = self
            .call(
                "creating the system-user request",
                Method::POST,
                url,
                token,
                Some(&body),
            )
            .await?;
        check_party(&r, org)?;
        Ok((status == StatusCode::CREATED, r))
    }

    /// The request `id` as it stands, for `org`.
    ///
    /// # Errors
    /// Refused or failed.
    pub async fn request(
        &self,
        token: &AccessToken,
        id: &str,
        org: OrgNumber,
    ) -> Result<VendorRequest, VendorError> {
        let url = self.url(
            &self.endpoints.altinn,
            &format!("authentication/api/v1/systemuser/request/vendor/{id}"),
        );
        let (_, r): (_, VendorRequest) = self
            .call(
                "reading the system-user request",
                Method::GET,
                url,
                token,
                None,
            )
            .await?;
        check_party(&r, org)?;
        Ok(r)
    }

    /// The organisations with a (not deleted) system user of `system_id`.
    ///
    /// # Errors
    /// Refused or failed.
    pub async fn system_users(
        &self,
        token: &AccessToken,
        system_id: &str,
    ) -> Result<Vec<OrgNumber>, VendorError> {
        let mut url = self.url(
            &self.endpoints.altinn,
            &format!("authentication/api/v1/systemuser/vendor/bysystem/{system_id}"),
        );
        let mut out = Vec::new();
        for _ in 0..MAX_PAGES {
            let (_, page): (_, RawPage) = self
                .call(
                    "listing the system's users",
                    Method::GET,
                    url.clone(),
                    token,
                    None,
                )
                .await?;
            for u in page.data.into_iter().filter(|u| !u.is_deleted) {
                out.push(OrgNumber::parse(&u.reportee_org_no).map_err(|e| {
                    VendorError::Garbage {
                        what: "listing the system's users".to_owned(),
                        reason: format!("`{}`: {e}", u.reportee_org_no),
                    }
                })?);
            }
            match page.links.next {
                Some(next) => {
                    url = url.join(&next).map_err(|e| VendorError::Garbage {
                        what: "listing the system's users".to_owned(),
                        reason: format!("next page `{next}`: {e}"),
                    })?;
                }
                None => return Ok(out),
            }
        }
        Err(VendorError::Garbage {
            what: "listing the system's users".to_owned(),
            reason: format!("more than {MAX_PAGES} pages"),
        })
    }

    /// The main unit of `org` if it is a sub-unit (Enhetsregisteret); `None` for a main
    /// unit.
    ///
    /// # Errors
    /// In neither register, or the look-up failed.
    pub async fn main_unit(&self, org: OrgNumber) -> Result<Option<OrgNumber>, VendorError> {
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        let main = self.url(
            &self.endpoints.brreg,
            &format!("enhetsregisteret/api/enheter/{org}"),
        );
        let a = self.http.get(main, h.clone()).await?;
        if a.status.is_success() || a.status == StatusCode::GONE {
            return Ok(None);
        }
        if a.status != StatusCode::NOT_FOUND {
            return Err(refusal("Enhetsregisteret", a.status, &a.body));
        }
        let sub = self.url(
            &self.endpoints.brreg,
            &format!("enhetsregisteret/api/underenheter/{org}"),
        );
        let a = self.http.get(sub, h).await?;
        if !a.status.is_success() && a.status != StatusCode::GONE {
            return Err(VendorError::Refused {
                what: "Enhetsregisteret".to_owned(),
                status: a.status.as_u16(),
                detail: Some("in neither Enhetsregisteret's main units nor sub-units".to_owned()),
            });
        }
        let v: Value = serde_json::from_slice(&a.body).map_err(|e| VendorError::Garbage {
            what: "Enhetsregisteret".to_owned(),
            reason: format!("malformed JSON: {e}"),
        })?;
        Ok(v["overordnetEnhet"]
            .as_str()
            .and_then(|m| OrgNumber::parse(m).ok()))
    }
}

/// An answer about another organisation than the one asked about is never used: its
/// approval link must not reach this one.
fn check_party(r: &VendorRequest, org: OrgNumber) -> Result<(), VendorError> {
    if OrgNumber::parse(&r.party_org_no).ok() == Some(org) {
        Ok(())
    } else {
        Err(VendorError::Garbage {
            what: "the system-user request".to_owned(),
            reason: format!(
                "it is for `{}`, not the organisation asked about",
                r.party_org_no
            ),
        })
    }
}

fn refusal(what: &str, status: StatusCode, body: &[u8]) -> VendorError {
    let detail = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        let title = v["title"].as_str().or_else(|| v["detail"].as_str());
        let code = v["code"].as_str();
        match (code, title) {
            (Some(c), Some(t)) => Some(format!("{c} {t}")),
            (None, Some(t)) => Some(t.to_owned()),
            (Some(c), None) => Some(c.to_owned()),
            (None, None) => None,
        }
    });
    VendorError::Refused {
        what: what.to_owned(),
        status: status.as_u16(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(party: &str, status: &str) -> VendorRequest {
        serde_json::from_value(json!({
            "id": "r1", "partyOrgNo": party, "status": status,
            "confirmUrl": "https://am.ui.altinn.no/accessmanagement/ui/systemuser/request?id=r1",
            "created": "2026-11-01T00:00:00Z", "timedOut": false
        }))
        .unwrap()
    }

    #[test]
    fn an_answer_about_another_organisation_is_refused_and_never_shown() {
        let org = OrgNumber::parse("964338531").unwrap();
        assert!(check_party(&request("964338531", "New"), org).is_ok());
        let e = check_party(&request("958935420", "New"), org).unwrap_err();
        assert!(e.to_string().contains("958935420"), "{e}");
        assert!(!e.to_string().contains("request?id="), "{e}");
        // Malformed party numbers are not this organisation either.
        assert!(check_party(&request("not a number", "New"), org).is_err());
    }

    #[test]
    fn statuses_altinn_does_not_define_are_errors_and_refusals_keep_code_and_title() {
        assert_eq!(
            request("964338531", "Timedout").status(),
            Ok(RequestStatus::Timedout)
        );
        let e = request("964338531", "Approved").status().unwrap_err();
        assert!(e.contains("`Approved`"), "{e}");
        let e = refusal(
            "creating the system-user request",
            StatusCode::BAD_REQUEST,
            br#"{"title":"Failed to create new SystemUser, existing SystemUser tied to the given System-Id.","status":400,"code":"AUTH-00004"}"#,
        );
        assert_eq!(e.status(), Some(400));
        assert!(e.to_string().contains("AUTH-00004 Failed to create"), "{e}");
        // A body that is no problem: the status alone.
        let e = refusal(
            "listing the system's users",
            StatusCode::FORBIDDEN,
            b"<html>",
        );
        assert_eq!(e.to_string(), "listing the system's users: HTTP 403");
    }
}
