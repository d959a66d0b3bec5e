//! The `[events]` section: the webhook Altinn Events pushes to, and the subscriptions
//! `reachcheck subscribe` keeps. Every problem names its key and line.

use std::num::NonZeroU32;
use std::path::Path;

use reqwest::Url;
use serde::Deserialize;
use toml::Spanned;

use crate::http::check_url;
use crate::problem::{Problem, line_of};
use crate::settings::{LiveSettings, SettingsError};

/// The webhook's default path in the daemon's HTTP server.
pub const DEFAULT_PATH: &str = "/altinn/events";
/// The scope of the sender's token for the subscriptions API (API-NOTES-2026 §4.1).
pub const DEFAULT_SCOPE: &str = "altinn:events.subscribe";
/// The Correspondence event types subscribed to by default: those that say a message was
/// published, read, confirmed, not read or confirmed by its due time, or that nobody was
/// told (API-NOTES-2026 §4.4). Each is one subscription per resource: `typeFilter` takes
/// one exact type.
pub const DEFAULT_TYPES: [&str; 7] = [
    "correspondencepublished",
    "correspondencereceiverread",
    "correspondencereceiverconfirmed",
    "correspondencereceiverneverread",
    "correspondencereceiverneverconfirmed",
    "correspondencenotificationfailed",
    "correspondencenotificationallfailed",
];
/// Every Correspondence event type whose `resourceinstance` is a correspondence id
/// (`notificationcreated` names a notification order, attachments an attachment).
pub const KNOWN_TYPES: [&str; 12] = [
    "correspondenceinitialized",
    "correspondencepublished",
    "correspondencepublishfailed",
    "correspondencereceiverread",
    "correspondencereceiverconfirmed",
    "correspondencereceiverneverread",
    "correspondencereceiverneverconfirmed",
    "correspondencepurged",
    "correspondencenotificationdelivered",
    "correspondencenotificationreminderdelivered",
    "correspondencenotificationfailed",
    "correspondencenotificationallfailed",
];
/// Paths of the daemon's own API, which the webhook may not take.
const TAKEN: [&str; 5] = ["/healthz", "/readyz", "/metrics", "/access/", "/v1/"];

/// The `[events]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct EventSettings {
    /// Serve the webhook (default: when the section is present).
    pub enabled: bool,
    /// The webhook's path in the daemon's HTTP server.
    pub path: String,
    /// The address Altinn pushes to (what subscriptions name as `endPoint`): the daemon's
    /// webhook as seen from the internet, behind the TLS terminator.
    pub public_url: Option<Url>,
    /// Bodies larger than this are refused (400).
    pub max_body_bytes: usize,
    /// Pushes accepted per second, on average; beyond it 429 (Altinn retries).
    pub rate_per_second: NonZeroU32,
    /// Pushes accepted at once before the rate applies.
    pub burst: NonZeroU32,
    /// Event ids remembered for de-duplication.
    pub remember: usize,
    /// Event types (without `no.altinn.correspondence.`) subscribed to and acted on.
    pub types: Vec<String>,
    /// Maskinporten scopes of the sender's token for the subscriptions API.
    pub scope: String,
    /// Where the Events API is (default: `live.altinn_url`).
    pub events_url: Option<Url>,
}

impl Default for EventSettings {
    fn default() -> Self {
        EventSettings {
            enabled: false,
            path: DEFAULT_PATH.to_owned(),
            public_url: None,
            max_body_bytes: 16 * 1024,
            rate_per_second: NonZeroU32::new(50).unwrap_or(NonZeroU32::MIN),
            burst: NonZeroU32::new(500).unwrap_or(NonZeroU32::MIN),
            remember: 100_000,
            types: DEFAULT_TYPES.iter().map(|t| (*t).to_owned()).collect(),
            scope: DEFAULT_SCOPE.to_owned(),
            events_url: None,
        }
    }
}

/// The `[events]` section as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEvents {
    enabled: Option<bool>,
    path: Option<Spanned<String>>,
    public_url: Option<Spanned<String>>,
    max_body_bytes: Option<Spanned<u64>>,
    rate_per_second: Option<Spanned<u32>>,
    burst: Option<Spanned<u32>>,
    remember: Option<Spanned<u64>>,
    types: Option<Spanned<Vec<String>>>,
    scope: Option<Spanned<String>>,
    events_url: Option<Spanned<String>>,
    allow_http: Option<bool>,
}

/// Reads the `[events]` section.
pub(crate) fn read(
    file: &Path,
    text: &str,
    raw: RawEvents,
    live: Option<&LiveSettings>,
) -> Result<EventSettings, SettingsError> {
    let err = |span: std::ops::Range<usize>, msg: String| {
        SettingsError(Problem::error(file, Some(line_of(text, span.start)), msg))
    };
    let d = EventSettings::default();
    let allow_http = raw.allow_http.unwrap_or(false) || live.is_some_and(|l| l.http.allow_http);
    let url = |key: &str, v: &Spanned<String>| {
        check_url(v.get_ref(), allow_http)
            .map_err(|e| err(v.span(), format!("`events.{key}`: {e}")))
    };
    let path = match &raw.path {
        None => d.path.clone(),
        Some(v) => {
            let p = v.get_ref().trim();
            let ok = p.starts_with('/')
                && p.len() > 1
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/-_.".contains(&b))
                && !p.contains("//");
            if !ok {
                return Err(err(
                    v.span(),
                    format!(
                        "`events.path`: `{p}` is not a path: write it like `/altinn/events` (letters, digits, `-`, `_`, `.` and single `/`)"
                    ),
                ));
            }
            if let Some(t) = TAKEN.iter().find(|t| {
                p == t.trim_end_matches('/')
                    || p.starts_with(&format!("{}/", t.trim_end_matches('/')))
            }) {
                return Err(err(
                    v.span(),
                    format!(
                        "`events.path`: `{p}` is the daemon's own `{t}`: choose another, e.g. `/altinn/events`"
                    ),
                ));
            }
            p.to_owned()
        }
    };
    let positive = |key: &str, v: &Option<Spanned<u32>>, default: NonZeroU32| match v {
        None => Ok(default),
        Some(v) => NonZeroU32::new(*v.get_ref())
            .ok_or_else(|| err(v.span(), format!("`events.{key}` is 0: give 1 or more"))),
    };
    let max_body_bytes = match &raw.max_body_bytes {
        None => d.max_body_bytes,
        Some(v) if (256..=1_048_576).contains(v.get_ref()) => *v.get_ref() as usize,
        Some(v) => {
            return Err(err(
                v.span(),
                format!(
                    "`events.max_body_bytes` is {}: give 256 to 1048576 (an Altinn event is well under 4096)",
                    v.get_ref()
                ),
            ));
        }
    };
    let remember = match &raw.remember {
        None => d.remember,
        Some(v) if (1..=10_000_000).contains(v.get_ref()) => *v.get_ref() as usize,
        Some(v) => {
            return Err(err(
                v.span(),
                format!("`events.remember` is {}: give 1 to 10000000", v.get_ref()),
            ));
        }
    };
    let types = match &raw.types {
        None => d.types.clone(),
        Some(v) => {
            let mut out: Vec<String> = Vec::new();
            for t in v.get_ref() {
                let t = t.trim();
                let t = t
                    .strip_prefix(crate::events::cloudevent::CORRESPONDENCE_PREFIX)
                    .unwrap_or(t);
                if !KNOWN_TYPES.contains(&t) {
                    return Err(err(
                        v.span(),
                        format!(
                            "`events.types`: `{t}` is not a Correspondence event about a message: use some of {}",
                            KNOWN_TYPES.join(", ")
                        ),
                    ));
                }
                if !out.iter().any(|o| o == t) {
                    out.push(t.to_owned());
                }
            }
            if out.is_empty() {
                return Err(err(
                    v.span(),
                    "`events.types` is empty: name at least one event type".to_owned(),
                ));
            }
            out
        }
    };
    let scope = match &raw.scope {
        Some(v) if v.get_ref().trim().is_empty() => {
            return Err(err(
                v.span(),
                "`events.scope` is empty: name the Maskinporten scope of the subscriptions API (`altinn:events.subscribe`)".to_owned(),
            ));
        }
        Some(v) => v.get_ref().trim().to_owned(),
        None => d.scope.clone(),
    };
    Ok(EventSettings {
        enabled: raw.enabled.unwrap_or(true),
        path,
        public_url: raw
            .public_url
            .as_ref()
            .map(|v| url("public_url", v))
            .transpose()?,
        max_body_bytes,
        rate_per_second: positive("rate_per_second", &raw.rate_per_second, d.rate_per_second)?,
        burst: positive("burst", &raw.burst, d.burst)?,
        remember,
        types,
        scope,
        events_url: raw
            .events_url
            .as_ref()
            .map(|v| url("events_url", v))
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use crate::settings::{Overrides, Settings};

    fn load(text: &str) -> Result<Settings, String> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("reachcheck.toml");
        std::fs::write(&file, text).unwrap();
        Settings::load(&Overrides {
            config: Some(file),
            ..Overrides::default()
        })
        .map_err(|e| e.to_string())
    }

    #[test]
    fn the_events_section_is_read_with_its_defaults() {
        let s = load("snapshot = \"s\"\n").unwrap();
        assert!(!s.events.enabled, "no section, no webhook");
        let s = load("snapshot = \"s\"\n[events]\npublic_url = \"https://reachcheck.example.no/altinn/events\"\ntypes = [\"correspondencereceiverread\", \"no.altinn.correspondence.correspondencereceiverread\"]\n").unwrap();
        let e = &s.events;
        assert!(e.enabled);
        assert_eq!(e.path, super::DEFAULT_PATH);
        assert_eq!(
            e.types,
            ["correspondencereceiverread"],
            "prefix taken off, once"
        );
        assert_eq!(
            e.public_url.as_ref().map(reqwest::Url::as_str),
            Some("https://reachcheck.example.no/altinn/events")
        );
        assert_eq!(e.scope, super::DEFAULT_SCOPE);
    }

    #[test]
    fn every_bad_key_is_named_with_its_line() {
        for (text, says) in [
            (
                "[events]\npath = \"altinn\"\n",
                "line 3: `events.path`: `altinn` is not a path",
            ),
            (
                "[events]\npath = \"/metrics\"\n",
                "line 3: `events.path`: `/metrics` is the daemon's own",
            ),
            (
                "[events]\npath = \"/v1/hook\"\n",
                "is the daemon's own `/v1/`",
            ),
            (
                "[events]\n\npublic_url = \"http://example.no/hook\"\n",
                "line 4: `events.public_url`: `http://example.no/hook` is plain http://",
            ),
            (
                "[events]\nmax_body_bytes = 10\n",
                "`events.max_body_bytes` is 10",
            ),
            (
                "[events]\nrate_per_second = 0\n",
                "`events.rate_per_second` is 0",
            ),
            (
                "[events]\ntypes = [\"correspondencereceiverread\", \"notificationcreated\"]\n",
                "`events.types`: `notificationcreated` is not a Correspondence event about a message",
            ),
            ("[events]\ntypes = []\n", "`events.types` is empty"),
            ("[events]\nscope = \" \"\n", "`events.scope` is empty"),
            (
                "[events]\nsource_filter = \"x\"\n",
                "unknown field `source_filter`",
            ),
        ] {
            let e = load(&format!("snapshot = \"s\"\n{text}"))
                .map(|_| String::new())
                .unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
