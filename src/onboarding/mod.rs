//! Onboarding recipients: asking each organisation to approve reachcheck's system user
//! through Altinn's vendor-driven system-user requests (API-NOTES-2026 §1), tracking the
//! answers and saying who is covered.
//!
//! Owns: the `[onboarding]` settings ([`OnboardingSettings`]), who is asked
//! ([`organisations_to_ask`]: the main units of the routing table's recipients), the states
//! of a request ([`RequestStatus`] as Altinn names them, [`OnboardingState`] as reachcheck
//! acts on them), one run of asking and refreshing ([`run`]) and its rendering. Does not
//! own: the HTTP of the vendor endpoints ([`client::VendorClient`]), the table the answers
//! are kept in (`store/onboarding.rs`), judging routes.
//!
//! Registering the system in Altinn's system register is a manual step (it needs the
//! vendor's own decisions: name, client id, packages); [`run`] refuses to ask when the
//! registered system does not offer the configured packages.

pub mod client;
pub mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::model::OrgNumber;
use crate::problem::{Problem, line_of};
use crate::settings::{SettingsError, parse_duration};

pub use client::{VendorClient, VendorError};

/// The access package asked for by default: the one that lets a system user read the
/// organisation's connections (API-NOTES-2026 §0.2; which package Altinn accepts for that is
/// unconfirmed, hence a setting).
pub const DEFAULT_ACCESS_PACKAGE: &str = "urn:altinn:accesspackage:tilgangsstyrer";

/// The scopes of the vendor endpoints (API-NOTES-2026 §1.1): create requests, read them,
/// and list the system's users (and read the system's registration).
pub const DEFAULT_SCOPES: [&str; 3] = [
    "altinn:authentication/systemuser.request.write",
    "altinn:authentication/systemuser.request.read",
    "altinn:authentication/systemregister.write",
];

/// How long a request may stay unanswered before it is listed for follow-up.
pub const DEFAULT_REMIND_AFTER: Duration = Duration::from_secs(14 * 86_400);

/// The `[onboarding]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct OnboardingSettings {
    /// The config file, for messages that name it.
    pub file: std::path::PathBuf,
    /// reachcheck's system id in Altinn's system register (`onboarding.system_id`).
    pub system_id: Option<String>,
    /// The access packages asked for.
    pub access_packages: Vec<String>,
    /// Where Altinn sends the approver afterwards (must be registered on the system).
    pub redirect_url: Option<String>,
    /// The name the organisation sees for the integration.
    pub integration_title: Option<String>,
    /// The external reference (Altinn's default: the organisation number).
    pub external_ref: Option<String>,
    /// The scopes asked of Maskinporten for the vendor endpoints.
    pub scopes: Vec<String>,
    /// A request unanswered this long is listed for follow-up.
    pub remind_after: Duration,
}

/// The raw `[onboarding]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOnboarding {
    system_id: Option<Spanned<String>>,
    access_packages: Option<Spanned<Vec<String>>>,
    redirect_url: Option<Spanned<String>>,
    integration_title: Option<String>,
    external_ref: Option<Spanned<String>>,
    scopes: Option<Spanned<Vec<String>>>,
    remind_after: Option<Spanned<String>>,
}

impl OnboardingSettings {
    /// Checks the raw section of `file` (whose text is `text`).
    pub(crate) fn read(
        file: &Path,
        text: &str,
        raw: RawOnboarding,
    ) -> Result<OnboardingSettings, SettingsError> {
        let err = |span: std::ops::Range<usize>, msg: String| {
            SettingsError(Problem::error(file, Some(line_of(text, span.start)), msg))
        };
        let system_id = match raw.system_id {
            Some(v) => {
                let id = v.get_ref().trim();
                if id.is_empty() || id.contains(char::is_whitespace) {
                    return Err(err(
                        v.span(),
                        format!(
                            "`onboarding.system_id`: `{}` is not a system id (no spaces; it starts with the vendor's organisation number)",
                            v.get_ref()
                        ),
                    ));
                }
                Some(id.to_owned())
            }
            None => None,
        };
        let list = |key: &str, v: Option<Spanned<Vec<String>>>, default: &[&str]| match v {
            None => Ok(default.iter().map(|s| (*s).to_owned()).collect()),
            Some(v) if v.get_ref().iter().all(|s| s.trim().is_empty()) => Err(err(
                v.span(),
                format!("`onboarding.{key}` is empty: name at least one"),
            )),
            Some(v) => Ok(v.into_inner()),
        };
        let access_packages = list(
            "access_packages",
            raw.access_packages,
            &[DEFAULT_ACCESS_PACKAGE],
        )?;
        if let Some(p) = access_packages
            .iter()
            .find(|p| !p.starts_with("urn:altinn:accesspackage:"))
        {
            return Err(SettingsError(Problem::error(
                file,
                None,
                format!(
                    "`onboarding.access_packages`: `{p}` is not an access package URN (`urn:altinn:accesspackage:...`)"
                ),
            )));
        }
        let scopes = list("scopes", raw.scopes, &DEFAULT_SCOPES)?;
        let redirect_url = match raw.redirect_url {
            Some(v) => Some(
                crate::http::check_url(v.get_ref(), false)
                    .map_err(|e| err(v.span(), format!("`onboarding.redirect_url`: {e}")))?
                    .to_string(),
            ),
            None => None,
        };
        let external_ref = match raw.external_ref {
            Some(v) if v.get_ref().trim().is_empty() => {
                return Err(err(
                    v.span(),
                    "`onboarding.external_ref` is empty: leave it out to use the organisation number".to_owned(),
                ));
            }
            Some(v) => Some(v.into_inner()),
            None => None,
        };
        let remind_after = match raw.remind_after {
            Some(v) => parse_duration(v.get_ref())
                .and_then(|d| {
                    Duration::try_from(d).map_err(|_| format!("`{}` is negative", v.get_ref()))
                })
                .map_err(|m| err(v.span(), format!("`onboarding.remind_after`: {m}")))?,
            None => DEFAULT_REMIND_AFTER,
        };
        Ok(OnboardingSettings {
            file: file.to_path_buf(),
            system_id,
            access_packages,
            redirect_url,
            integration_title: raw.integration_title,
            external_ref,
            scopes,
            remind_after,
        })
    }
}

/// A request's status as Altinn names it (`RequestStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestStatus {
    /// Waiting for the organisation.
    New,
    /// Approved: the system user exists.
    Accepted,
    /// Rejected by the organisation.
    Rejected,
    /// Denied.
    Denied,
    /// Not answered in time (180 days).
    Timedout,
}

impl RequestStatus {
    /// Altinn's name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::New => "New",
            RequestStatus::Accepted => "Accepted",
            RequestStatus::Rejected => "Rejected",
            RequestStatus::Denied => "Denied",
            RequestStatus::Timedout => "Timedout",
        }
    }

    /// Parses Altinn's name.
    pub fn parse(s: &str) -> Option<RequestStatus> {
        Some(match s {
            "New" => RequestStatus::New,
            "Accepted" => RequestStatus::Accepted,
            "Rejected" => RequestStatus::Rejected,
            "Denied" => RequestStatus::Denied,
            "Timedout" => RequestStatus::Timedout,
            _ => return None,
        })
    }
}

/// Where an organisation stands, as reachcheck acts on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnboardingState {
    /// Its system user exists: its evidence can be read.
    Approved,
    /// Asked, not answered yet.
    Pending,
    /// `Rejected` or `Denied`: never asked again automatically.
    Refused,
    /// `Timedout`: asked again.
    Expired,
    /// Never asked.
    NeverAsked,
}

impl OnboardingState {
    /// The name in output.
    pub fn as_str(self) -> &'static str {
        match self {
            OnboardingState::Approved => "approved",
            OnboardingState::Pending => "pending",
            OnboardingState::Refused => "refused",
            OnboardingState::Expired => "expired",
            OnboardingState::NeverAsked => "never_asked",
        }
    }

    /// The state of a request in `status` (none: never asked); a listed system user
    /// means approved whatever the request says.
    pub fn of(status: Option<RequestStatus>, has_system_user: bool) -> OnboardingState {
        if has_system_user {
            return OnboardingState::Approved;
        }
        match status {
            None => OnboardingState::NeverAsked,
            Some(RequestStatus::New) => OnboardingState::Pending,
            // Accepted: the system user exists (the listing may lag behind).
            Some(RequestStatus::Accepted) => OnboardingState::Approved,
            Some(RequestStatus::Rejected | RequestStatus::Denied) => OnboardingState::Refused,
            Some(RequestStatus::Timedout) => OnboardingState::Expired,
        }
    }

    /// Whether `onboard` (re)creates a request in this state.
    pub fn asks(self) -> bool {
        matches!(self, OnboardingState::NeverAsked | OnboardingState::Expired)
    }
}

/// What is known of one organisation's onboarding.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OnboardingRecord {
    /// The organisation asked (a main unit).
    pub org: OrgNumber,
    /// Where it stands.
    pub state: OnboardingState,
    /// Altinn's status of its latest request.
    pub status: Option<RequestStatus>,
    /// Since when it is in this state (as far as reachcheck saw).
    pub since: Option<Timestamp>,
    /// The request's id.
    pub request_id: Option<String>,
    /// The organisation's own approval link (`confirmUrl`), while it is pending.
    pub approval_link: Option<String>,
    /// When the request was created.
    pub created: Option<Timestamp>,
    /// When reachcheck last asked Altinn about it.
    pub checked_at: Option<Timestamp>,
    /// Why the last attempt for this organisation failed, if it did.
    pub error: Option<String>,
    /// The recipients of the routing table it stands for (itself, its sub-units).
    pub recipients: Vec<OrgNumber>,
}

impl OnboardingRecord {
    /// A record of an organisation never asked.
    pub fn never_asked(org: OrgNumber) -> OnboardingRecord {
        OnboardingRecord {
            org,
            state: OnboardingState::NeverAsked,
            status: None,
            since: None,
            request_id: None,
            approval_link: None,
            created: None,
            checked_at: None,
            error: None,
            recipients: Vec::new(),
        }
    }

    /// Whether it is pending longer than `remind_after` at `now`: listed for follow-up.
    pub fn needs_reminder(&self, now: Timestamp, remind_after: Duration) -> bool {
        self.state == OnboardingState::Pending
            && self
                .created
                .or(self.since)
                .and_then(|c| {
                    jiff::SignedDuration::try_from(remind_after)
                        .ok()
                        .map(|d| (c, d))
                })
                .is_some_and(|(c, d)| now.duration_since(c) >= d)
    }
}

/// The organisations to ask (docs/design.md, "Who is asked for what"): each recipient that is a
/// main unit, and each recipient's main unit; with the recipients each stands for.
/// `main_unit_of` gives a sub-unit's main unit (`None`: the recipient is a main unit, or
/// its record is not known: then it is asked itself).
pub fn organisations_to_ask(
    recipients: impl IntoIterator<Item = OrgNumber>,
    main_unit_of: impl Fn(OrgNumber) -> Option<OrgNumber>,
) -> BTreeMap<OrgNumber, BTreeSet<OrgNumber>> {
    let mut out: BTreeMap<OrgNumber, BTreeSet<OrgNumber>> = BTreeMap::new();
    for r in recipients {
        let asked = main_unit_of(r).unwrap_or(r);
        out.entry(asked).or_default().insert(r);
    }
    out
}

/// One run of `onboard`: what each organisation's state is afterwards, and whether the
/// run failed for some.
#[derive(Clone, Debug, Serialize)]
pub struct OnboardingRun {
    /// When.
    pub at: Timestamp,
    /// The system asked about.
    pub system_id: String,
    /// Per organisation asked.
    pub organisations: Vec<OnboardingRecord>,
    /// Requests created in this run.
    pub created: usize,
    /// Organisations approved that are not in the routing table.
    pub other_system_users: Vec<OrgNumber>,
    /// A request unanswered this long is listed for follow-up.
    #[serde(with = "humantime_serde_secs")]
    pub remind_after: Duration,
}

mod humantime_serde_secs {
    pub(super) fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}

impl OnboardingRun {
    /// Organisations pending past `remind_after`.
    pub fn follow_up(&self) -> Vec<&OnboardingRecord> {
        self.organisations
            .iter()
            .filter(|r| r.needs_reminder(self.at, self.remind_after))
            .collect()
    }

    /// Organisations whose request failed in this run.
    pub fn failed(&self) -> usize {
        self.organisations
            .iter()
            .filter(|r| r.error.is_some())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Option<OnboardingSettings>, String> {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("reachcheck.toml");
        std::fs::write(&f, text).unwrap();
        crate::settings::Settings::load(&crate::settings::Overrides {
            config: Some(f),
            ..Default::default()
        })
        .map(|s| s.onboarding)
        .map_err(|e| e.to_string())
    }

    #[test]
    fn onboarding_settings_have_the_defaults_and_refuse_bad_values_by_name() {
        assert_eq!(load("").unwrap(), None);
        let s = load("[onboarding]\nsystem_id = \"310000019_reachcheck\"\n")
            .unwrap()
            .unwrap();
        assert_eq!(s.system_id.as_deref(), Some("310000019_reachcheck"));
        assert_eq!(s.access_packages, vec![DEFAULT_ACCESS_PACKAGE.to_owned()]);
        assert_eq!(s.scopes, DEFAULT_SCOPES.map(str::to_owned).to_vec());
        assert_eq!(s.remind_after, DEFAULT_REMIND_AFTER);
        assert_eq!(s.external_ref, None);
        let s = load(
            "[onboarding]\nremind_after = \"3days\"\nredirect_url = \"https://example.no/done\"\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.system_id, None);
        assert_eq!(s.remind_after, Duration::from_secs(3 * 86_400));
        assert_eq!(s.redirect_url.as_deref(), Some("https://example.no/done"));
        for (text, key) in [
            ("system_id = \"has space\"", "onboarding.system_id"),
            ("scopes = []", "onboarding.scopes"),
            ("access_packages = []", "onboarding.access_packages"),
            (
                "access_packages = [\"tilgangsstyrer\"]",
                "onboarding.access_packages",
            ),
            ("remind_after = \"soon\"", "onboarding.remind_after"),
            (
                "redirect_url = \"http://example.no\"",
                "onboarding.redirect_url",
            ),
            ("external_ref = \"\"", "onboarding.external_ref"),
            ("system = \"x\"", "system"),
        ] {
            let e = load(&format!("[onboarding]\n{text}\n")).unwrap_err();
            assert!(
                e.contains(key) && e.contains("reachcheck.toml"),
                "{text}: {e}"
            );
        }
    }

    #[test]
    fn states_follow_altinn_statuses_and_a_system_user_wins() {
        use OnboardingState as S;
        use RequestStatus as R;
        assert_eq!(S::of(None, false), S::NeverAsked);
        assert_eq!(S::of(Some(R::New), false), S::Pending);
        assert_eq!(S::of(Some(R::Rejected), false), S::Refused);
        assert_eq!(S::of(Some(R::Denied), false), S::Refused);
        assert_eq!(S::of(Some(R::Timedout), false), S::Expired);
        assert_eq!(S::of(Some(R::New), true), S::Approved);
        // Refused is never asked again; expired and never asked are.
        assert!(!S::Refused.asks());
        assert!(!S::Pending.asks());
        assert!(S::Expired.asks() && S::NeverAsked.asks());
        for s in ["New", "Accepted", "Rejected", "Denied", "Timedout"] {
            assert_eq!(R::parse(s).map(R::as_str), Some(s));
        }
        assert_eq!(R::parse("new"), None);
    }

    #[test]
    fn sub_units_are_asked_through_their_main_unit() {
        let o = |s: &str| OrgNumber::parse(s).unwrap();
        let (main, sub, other) = (o("964338531"), o("974760673"), o("958935420"));
        let asked = organisations_to_ask([sub, main, other], |r| (r == sub).then_some(main));
        assert_eq!(asked.len(), 2);
        assert_eq!(
            asked[&main].iter().copied().collect::<Vec<_>>(),
            vec![main, sub]
        );
        assert!(asked.contains_key(&other));
    }

    #[test]
    fn pending_past_remind_after_is_listed_for_follow_up() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let mut r = OnboardingRecord::never_asked(OrgNumber::parse("964338531").unwrap());
        r.state = OnboardingState::Pending;
        r.created = Some(t("2026-11-01T00:00:00Z"));
        let d = DEFAULT_REMIND_AFTER;
        assert!(!r.needs_reminder(t("2026-11-14T23:59:59Z"), d));
        assert!(r.needs_reminder(t("2026-11-15T00:00:00Z"), d));
        r.state = OnboardingState::Refused;
        assert!(!r.needs_reminder(t("2026-12-30T00:00:00Z"), d));
    }
}

/// Why `onboard` cannot ask anyone: a configuration problem (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum OnboardError {
    /// No `onboarding.system_id`.
    #[error(
        "`onboarding.system_id` is not set in {file}: register reachcheck's system in Altinn's system register (a manual step, see docs/reference.md, \"Onboarding recipients\") and name it there"
    )]
    NoSystemId {
        /// The config file.
        file: String,
    },
    /// The registered system does not offer what is asked for.
    #[error(
        "the system `{system_id}` does not offer the access package `{package}` of `onboarding.access_packages` (it offers: {offered}): add it to the system's registration or change the setting"
    )]
    NotOffered {
        /// The system.
        system_id: String,
        /// The package missing.
        package: String,
        /// What the system offers.
        offered: String,
    },
    /// The system is not registered, or not this client's.
    #[error(
        "the system `{system_id}` of `onboarding.system_id` cannot be read from Altinn's system register: {why}"
    )]
    System {
        /// The system.
        system_id: String,
        /// Why.
        why: VendorError,
    },
    /// No token for the vendor scopes.
    #[error("no token for `onboarding.scopes`: {0}")]
    Token(VendorError),
    /// The system's users could not be listed.
    #[error("the system's users cannot be listed: {0}")]
    SystemUsers(VendorError),
}

/// One run: finds each organisation's main unit, lists the system's users, refreshes
/// pending requests and, when `ask`, creates requests for those never asked or expired
/// (never for refused ones). `known` are the records kept from earlier runs; `recipients`
/// the routing table's. One organisation's failure is recorded on it; the others go on.
///
/// # Errors
/// Only what concerns every organisation ([`OnboardError`]).
pub async fn run(
    client: &VendorClient,
    settings: &OnboardingSettings,
    recipients: &[OrgNumber],
    known: &BTreeMap<OrgNumber, OnboardingRecord>,
    now: Timestamp,
    ask: bool,
) -> Result<OnboardingRun, OnboardError> {
    // Whole seconds: what the store keeps, so a run and its reading back show the same.
    let now = Timestamp::from_second(now.as_second()).unwrap_or(now);
    let system_id = settings
        .system_id
        .clone()
        .ok_or_else(|| OnboardError::NoSystemId {
            file: format!("`{}`", settings.file.display()),
        })?;
    let token = client.token().await.map_err(OnboardError::Token)?;
    if ask {
        let offered = client
            .offered_packages(&token, &system_id)
            .await
            .map_err(|why| OnboardError::System {
                system_id: system_id.clone(),
                why,
            })?;
        if let Some(p) = settings
            .access_packages
            .iter()
            .find(|p| !offered.contains(p))
        {
            return Err(OnboardError::NotOffered {
                system_id,
                package: p.clone(),
                offered: if offered.is_empty() {
                    "none".to_owned()
                } else {
                    offered.join(", ")
                },
            });
        }
    }
    let users: BTreeSet<OrgNumber> = client
        .system_users(&token, &system_id)
        .await
        .map_err(OnboardError::SystemUsers)?
        .into_iter()
        .collect();
    // Sub-units are asked through their main unit; a look-up that fails asks the
    // recipient itself and says so.
    let mut lookup_errors: BTreeMap<OrgNumber, String> = BTreeMap::new();
    let mut mains: BTreeMap<OrgNumber, Option<OrgNumber>> = BTreeMap::new();
    // Main units found by an earlier run are not looked up again (every sweep refreshes).
    let found: BTreeMap<OrgNumber, OrgNumber> = known
        .values()
        .filter(|r| r.error.is_none())
        .flat_map(|r| r.recipients.iter().map(move |x| (*x, r.org)))
        .collect();
    for &r in recipients {
        if mains.contains_key(&r) {
            continue;
        }
        if let Some(&owner) = found.get(&r) {
            mains.insert(r, (owner != r).then_some(owner));
            continue;
        }
        let m = match client.main_unit(r).await {
            Ok(m) => m,
            Err(e) => {
                lookup_errors.insert(r, format!("main unit not known: {e}"));
                None
            }
        };
        mains.insert(r, m);
    }
    let asked = organisations_to_ask(recipients.iter().copied(), |r| {
        mains.get(&r).copied().flatten()
    });
    let mut out = Vec::new();
    let mut created = 0;
    for (org, stands_for) in &asked {
        let prev = known
            .get(org)
            .cloned()
            .unwrap_or_else(|| OnboardingRecord::never_asked(*org));
        let mut rec = prev.clone();
        rec.recipients = stands_for.iter().copied().collect();
        rec.error = stands_for
            .iter()
            .find_map(|r| lookup_errors.get(r).cloned());
        let has_user = users.contains(org);
        // A pending request is read again: approved, rejected or timed out since?
        if prev.status == Some(RequestStatus::New)
            && let Some(id) = &prev.request_id
        {
            match client.request(&token, id, *org).await {
                Ok(r) => apply(&mut rec, &r),
                Err(e) => rec.error = Some(format!("{org}: {e}")),
            }
        }
        rec.state = OnboardingState::of(rec.status, has_user);
        if ask && rec.state.asks() {
            match client.create(&token, settings, &system_id, *org).await {
                Ok((new, r)) => {
                    created += usize::from(new);
                    apply(&mut rec, &r);
                    rec.state = OnboardingState::of(rec.status, has_user);
                }
                Err(e) => rec.error = Some(format!("{org}: {e}")),
            }
        }
        if rec.state != OnboardingState::Pending {
            rec.approval_link = None;
        }
        rec.checked_at = Some(now);
        if rec.state != prev.state || rec.since.is_none() {
            rec.since = Some(now);
        }
        out.push(rec);
    }
    Ok(OnboardingRun {
        at: now,
        system_id,
        organisations: out,
        created,
        other_system_users: users
            .into_iter()
            .filter(|o| !asked.contains_key(o))
            .collect(),
        remind_after: settings.remind_after,
    })
}

/// Takes what Altinn says of a request into the record (its party already checked).
fn apply(rec: &mut OnboardingRecord, r: &client::VendorRequest) {
    match r.status() {
        Ok(s) => {
            rec.status = Some(s);
            rec.request_id = Some(r.id.clone());
            rec.approval_link = r.confirm_url.clone();
            if r.created.is_some() {
                rec.created = r.created;
            }
        }
        Err(why) => rec.error = Some(format!("{}: {why}", rec.org)),
    }
}

/// The vendor client of the live settings, for `onboarding`.
///
/// # Errors
/// No `[live]` section (named), or the HTTP client or key cannot be set up.
pub fn client_for(
    s: &crate::settings::Settings,
    onboarding: &OnboardingSettings,
) -> Result<VendorClient, String> {
    if s.live.is_none() {
        return Err(
            "onboarding asks Altinn over HTTP: it needs the `[live]` section (Maskinporten client and `live.altinn_url`)"
                .to_owned(),
        );
    }
    match crate::sweep::Source::from_settings(s).map_err(|e| e.to_string())? {
        crate::sweep::Source::Live(l) => Ok(VendorClient::new(
            l.http().clone(),
            std::sync::Arc::clone(l.auth()),
            l.endpoints().clone(),
            onboarding,
        )),
        crate::sweep::Source::Snapshot(_) => {
            Err("onboarding needs the `[live]` section".to_owned())
        }
    }
}
