//! The configuration file (`reachcheck.toml`) and how command-line flags override it.
//!
//! Paths in the file are relative to the file's own directory; paths on the command line
//! are relative to the working directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use toml::Spanned;

use std::num::NonZeroU32;
use std::time::Duration;

use crate::alerts::AlertSettings;
use crate::auth::AuthSettings;
use crate::engine::DEFAULT_MAX_DATA_AGE;
use crate::evidence::live::LiveEndpoints;
use crate::http::{HttpSettings, check_url};
use crate::model::OrgNumber;
use crate::outcome::OutcomeSettings;
use crate::problem::{Problem, line_of, toml_error};

/// The config file used when `--config` is not given and it exists.
pub const DEFAULT_CONFIG: &str = "reachcheck.toml";
/// The policy directory used when neither flag nor config names one.
pub const DEFAULT_POLICIES: &str = "policies";

/// Settings after the config file and flags are combined.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// The config file read, if any.
    pub config_file: Option<PathBuf>,
    /// The policy directory.
    pub policies: PathBuf,
    /// `altinn-grants.toml`, when not in the policy directory.
    pub grants: Option<PathBuf>,
    /// The routing table.
    pub routes: Option<PathBuf>,
    /// The snapshot directory.
    pub snapshot: Option<PathBuf>,
    /// Judge as of this time instead of the clock (for recorded snapshots).
    pub now: Option<Timestamp>,
    /// Evidence older than this proves nothing (rule 8).
    pub max_data_age: SignedDuration,
    /// The live sources (`[live]`), used instead of a snapshot directory.
    pub live: Option<LiveSettings>,
    /// The daemon (`[daemon]`).
    pub daemon: DaemonSettings,
    /// Alerts (`[alerts]`).
    pub alerts: AlertSettings,
    /// What happened to sent messages (`[outcomes]`).
    pub outcomes: OutcomeSettings,
    /// Onboarding recipients (`[onboarding]`), when configured.
    pub onboarding: Option<crate::onboarding::OnboardingSettings>,
    /// Altinn Events pushed to the daemon (`[events]`).
    pub events: crate::events::EventSettings,
    /// `[senders]`: each sender's name as reports and letters show it, by organisation
    /// number (a sender not named here is named as Enhetsregisteret names it, when known).
    pub senders: BTreeMap<OrgNumber, String>,
}

/// The `[daemon]` section: how `reachcheck serve` runs.
#[derive(Clone, Debug, PartialEq)]
pub struct DaemonSettings {
    /// Time between sweeps.
    pub interval: Duration,
    /// The store: a SQLite file or a PostgreSQL database (`--store`, `daemon.store`).
    pub store: crate::store::StoreAddress,
    /// The file whose first line is the PostgreSQL store's password (else `PGPASSWORD`).
    pub store_password_file: Option<PathBuf>,
    /// Where the HTTP API listens.
    pub listen: String,
    /// How long shutdown waits for tasks to finish.
    pub grace: Duration,
    /// `/readyz` fails when the last successful sweep's evidence is older than this
    /// (default: `max_data_age`).
    pub max_sweep_age: Option<Duration>,
    /// Sweeps, verdict history and audit rows older than this are forgotten.
    pub retention: Duration,
    /// A file of API tokens, one per line (`name:token` or `token`), besides the
    /// `REACHCHECK_API_TOKENS` environment variable.
    pub api_tokens_file: Option<PathBuf>,
    /// The daemon's public base URL (`https://HOST[:PORT][/PATH]`), the AuthZEN
    /// `policy_decision_point` that discovery names. Unset: the scheme of the listener and
    /// the request's `Host`.
    pub public_url: Option<String>,
    /// TLS on the listener: the certificate chain (PEM), with [`DaemonSettings::tls_key`].
    pub tls_cert: Option<PathBuf>,
    /// TLS on the listener: the private key (PEM), with [`DaemonSettings::tls_cert`].
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP on an address other than loopback (behind a proxy that terminates
    /// TLS). Default false: such a `listen` without TLS is refused.
    pub allow_plain_http: bool,
    /// Time a client has for the TLS handshake and each request's head.
    pub header_read_timeout: Duration,
    /// Time a connection may go without a byte either way (between requests, or a body or
    /// an answer that stops moving).
    pub idle_timeout: Duration,
    /// Connections served at once; beyond, a new one sheds the slowest owing its head (or
    /// the longest idle), or waits when all are being answered.
    pub max_connections: usize,
    /// This instance's name among several daemons on one PostgreSQL store (the sweeper's
    /// lease names its holder). Unset: the host name and process id.
    pub instance: Option<String>,
    /// How long the sweeper's lease lasts unless renewed (renewed every third of it): the
    /// longest a dead sweeper is waited for before another instance takes over.
    pub lease: Duration,
}

impl DaemonSettings {
    /// The certificate and key files, when TLS is configured.
    pub fn tls(&self) -> Option<(&Path, &Path)> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(c), Some(k)) => Some((c, k)),
            _ => None,
        }
    }

    /// Refuses a listener that would carry the API in the clear beyond this machine: a
    /// `listen` address other than loopback without TLS, unless `allow_plain_http`.
    pub fn check_transport(&self) -> Result<(), String> {
        if self.tls().is_none() && !self.allow_plain_http && !is_loopback(&self.listen) {
            return Err(format!(
                "`daemon.listen` = `{}` is not a loopback address and no TLS is configured: set `daemon.tls_cert` and `daemon.tls_key`, or `daemon.allow_plain_http = true` behind a proxy that terminates TLS",
                self.listen
            ));
        }
        Ok(())
    }
}

/// Whether a `HOST:PORT` listen address is loopback only (`127.0.0.0/8`, `[::1]`,
/// `localhost`).
pub fn is_loopback(listen: &str) -> bool {
    let host = listen.rsplit_once(':').map_or(listen, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks `daemon.public_url`: an absolute `http(s)` URL without query or fragment; the
/// trailing `/` is dropped.
pub fn check_public_url(url: &str) -> Result<String, String> {
    let u = reqwest::Url::parse(url.trim()).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    if !matches!(u.scheme(), "https" | "http") || u.host_str().is_none() {
        return Err(format!("`{url}` must be an `https://HOST` URL"));
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err(format!("`{url}` may not have a query or a fragment"));
    }
    Ok(u.as_str().trim_end_matches('/').to_owned())
}

/// The default store file.
pub const DEFAULT_STORE: &str = "reachcheck.db";
/// The default listen address of the HTTP API.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Checks a listen address (`HOST:PORT`, `[V6]:PORT`) before anything starts, so that a typo
/// is an error on the command line rather than a failure after the store was opened.
pub fn check_listen(addr: &str) -> Result<String, String> {
    let addr = addr.trim();
    let port = addr.rsplit_once(':').and_then(|(host, port)| {
        let host_ok = !host.is_empty()
            && (host.parse::<std::net::IpAddr>().is_ok()
                || host.starts_with('[') && host.ends_with(']')
                || host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'));
        port.parse::<u16>().ok().filter(|_| host_ok)
    });
    match port {
        Some(_) => Ok(addr.to_owned()),
        None => Err(format!(
            "`{addr}` is not an address to listen on: write HOST:PORT, e.g. 127.0.0.1:8080 (port 0 picks a free one)"
        )),
    }
}

impl Default for DaemonSettings {
    fn default() -> Self {
        DaemonSettings {
            interval: Duration::from_secs(3600),
            store: crate::store::StoreAddress::Sqlite(PathBuf::from(DEFAULT_STORE)),
            store_password_file: None,
            listen: DEFAULT_LISTEN.to_owned(),
            grace: Duration::from_secs(10),
            max_sweep_age: None,
            retention: Duration::from_secs(400 * 86_400),
            api_tokens_file: None,
            public_url: None,
            tls_cert: None,
            tls_key: None,
            allow_plain_http: false,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            instance: None,
            lease: Duration::from_secs(30),
        }
    }
}

impl DaemonSettings {
    /// The store to open: `flag` (`--store`) when given, else `daemon.store`; for
    /// PostgreSQL with the password from `daemon.store_password_file`, else `PGPASSWORD`.
    pub fn store_address(
        &self,
        flag: Option<&crate::store::StoreAddress>,
    ) -> Result<crate::store::StoreAddress, crate::store::StoreError> {
        let address = flag.unwrap_or(&self.store).clone();
        let shown = address.to_string();
        address
            .with_password_from(self.store_password_file.as_deref())
            .map_err(|reason| crate::store::StoreError {
                path: shown,
                reason,
            })
    }
}

/// The most connections `daemon.max_connections` may allow (each holds a file descriptor).
pub const MAX_CONNECTIONS_LIMIT: usize = 1 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlerts {
    webhook_url: Option<Spanned<String>>,
    heartbeat_interval: Option<Spanned<String>>,
    attempts: Option<Spanned<u32>>,
    backoff: Option<Spanned<String>>,
    max_backoff: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    allow_http: Option<bool>,
    bearer_token_file: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutcomes {
    enabled: Option<Spanned<bool>>,
    scope: Option<Spanned<String>>,
    subscription_key_file: Option<Spanned<String>>,
    subscription_key_header: Option<Spanned<String>>,
    on_behalf_of: Option<Spanned<String>>,
    poll_for: Option<Spanned<String>>,
    interval: Option<Spanned<String>>,
    alert_window: Option<Spanned<String>>,
    correspondence_url: Option<Spanned<String>>,
    clock_url: Option<Spanned<String>>,
    allow_http: Option<bool>,
    recorded: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDaemon {
    interval: Option<Spanned<String>>,
    store: Option<Spanned<String>>,
    store_password_file: Option<String>,
    listen: Option<Spanned<String>>,
    grace: Option<Spanned<String>>,
    max_sweep_age: Option<Spanned<String>>,
    retention: Option<Spanned<String>>,
    api_tokens_file: Option<String>,
    public_url: Option<Spanned<String>>,
    tls_cert: Option<Spanned<String>>,
    tls_key: Option<Spanned<String>>,
    allow_plain_http: Option<bool>,
    header_read_timeout: Option<Spanned<String>>,
    idle_timeout: Option<Spanned<String>>,
    max_connections: Option<Spanned<i64>>,
    instance: Option<Spanned<String>>,
    lease: Option<Spanned<String>>,
}

/// The `[live]` section: where the live APIs are and how to treat them.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveSettings {
    /// Base URLs, scope and system-user organisation.
    pub endpoints: LiveEndpoints,
    /// Rate limits, concurrency, timeouts, retries.
    pub http: HttpSettings,
    /// Maskinporten client and Altinn exchange.
    pub auth: AuthSettings,
}

/// The scopes asked of Maskinporten by default (`API-NOTES.md` §1.4, §1.5, §4.2).
/// `altinn:portal/enduser` is the portal's own scope for signed-in users (API-NOTES-2026 §00
/// M2): not asked for.
pub const DEFAULT_SCOPE: &str = "altinn:accessmanagement/authorizedparties altinn:accessmanagement/enduser:connections:toothers.read";

/// The scope asked of Maskinporten to read the resource owner's access lists
/// (API-NOTES-2026 §5.2: the code registers `accesslist.read`, the docs spell
/// `access-list.read`; UNCONFIRMED which Maskinporten knows, so it is a setting).
pub const DEFAULT_ACCESS_LIST_SCOPE: &str = "altinn:resourceregistry/accesslist.read";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLive {
    altinn_url: Spanned<String>,
    brreg_url: Option<Spanned<String>>,
    maskinporten_token_url: Spanned<String>,
    maskinporten_audience: Spanned<String>,
    client_id: Spanned<String>,
    key_file: Spanned<String>,
    key_id: Option<Spanned<String>>,
    system_user_org: Option<Spanned<String>>,
    client_org: Option<Spanned<String>>,
    notification_addresses: Option<Spanned<String>>,
    subscription_key_file: Option<Spanned<String>>,
    all_refused_threshold: Option<u32>,
    scope: Option<Spanned<String>>,
    access_list_scope: Option<Spanned<String>>,
    allow_http: Option<bool>,
    rate_per_second: Option<Spanned<u32>>,
    rate_limits: Option<std::collections::BTreeMap<String, Spanned<u32>>>,
    concurrency: Option<Spanned<u32>>,
    timeout: Option<Spanned<String>>,
    attempts: Option<Spanned<u32>>,
    backoff: Option<Spanned<String>>,
    max_backoff: Option<Spanned<String>>,
    altinn_token_lifetime: Option<Spanned<String>>,
}

/// What the command line says, which wins over the config file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// `--policies DIR`.
    pub policies: Option<PathBuf>,
    /// `--routes FILE`.
    pub routes: Option<PathBuf>,
    /// `--snapshot DIR`.
    pub snapshot: Option<PathBuf>,
    /// `--now RFC3339`.
    pub now: Option<Timestamp>,
    /// `--max-data-age DURATION`.
    pub max_data_age: Option<SignedDuration>,
}

/// The configuration cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub Problem);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    policies: Option<String>,
    grants: Option<String>,
    routes: Option<String>,
    snapshot: Option<String>,
    now: Option<Spanned<String>>,
    max_data_age: Option<Spanned<String>>,
    live: Option<Spanned<RawLive>>,
    daemon: Option<RawDaemon>,
    alerts: Option<RawAlerts>,
    outcomes: Option<RawOutcomes>,
    onboarding: Option<crate::onboarding::RawOnboarding>,
    events: Option<crate::events::RawEvents>,
    senders: Option<BTreeMap<String, Spanned<String>>>,
}

/// The longest sender name `[senders]` takes.
pub const MAX_SENDER_NAME: usize = 200;

/// Reads `[senders]`: organisation numbers to names, each name free text as docs/design.md's
/// "Real components" allows (no identity number, no control or bidi characters, short).
fn read_senders(
    file: &Path,
    text: &str,
    raw: BTreeMap<String, Spanned<String>>,
) -> Result<BTreeMap<OrgNumber, String>, SettingsError> {
    let mut out = BTreeMap::new();
    for (key, name) in raw {
        let line = Some(line_of(text, name.span().start));
        let org = OrgNumber::parse(key.trim())
            .map_err(|e| SettingsError(Problem::error(file, line, format!("`senders`: {e}"))))?;
        let name = name.into_inner().trim().to_owned();
        if name.is_empty() {
            return Err(SettingsError(Problem::error(
                file,
                line,
                format!("`senders.{org}`: the name is empty"),
            )));
        }
        crate::model::check_free_text(&name, MAX_SENDER_NAME).map_err(|e| {
            SettingsError(Problem::error(file, line, format!("`senders.{org}`: {e}")))
        })?;
        out.insert(org, name);
    }
    Ok(out)
}

/// Parses an RFC 3339 time, with the message the CLI and config share.
pub fn parse_time(s: &str) -> Result<Timestamp, String> {
    let t = s.trim();
    t.parse::<Timestamp>().map_err(|e| {
        // Shaped like a time but not one (a month 13, a year past 9999): say what is wrong.
        let shaped = t.len() >= 10
            && t.as_bytes()[..4].iter().all(u8::is_ascii_digit)
            && t.as_bytes()[4] == b'-';
        if shaped {
            format!("`{s}` is not a valid time: {e}")
        } else {
            format!("`{s}` is not a time: expected RFC 3339 such as `2026-11-21T06:00:00Z`")
        }
    })
}

/// Parses a maximum age of evidence such as `24h`, `90m` or `2days` (zero is refused: the
/// evidence would always be stale).
pub fn parse_age(s: &str) -> Result<SignedDuration, String> {
    positive(s, "evidence would always be stale")
}

/// Parses a duration above zero such as `30s`, `90m` or `2days` (intervals, timeouts, leases).
pub fn parse_duration(s: &str) -> Result<SignedDuration, String> {
    positive(s, "write a duration above zero")
}

fn positive(s: &str, zero: &str) -> Result<SignedDuration, String> {
    let d = humantime::parse_duration(s.trim()).map_err(|e| {
        format!("`{s}` is not a duration ({e}): write it like `24h`, `90m` or `2days`")
    })?;
    let d = SignedDuration::try_from(d).map_err(|_| format!("`{s}` is too long a duration"))?;
    if d.is_zero() {
        return Err(format!("`{s}` is zero: {zero}"));
    }
    Ok(d)
}

impl Settings {
    /// Reads the config file (`--config`, else `reachcheck.toml` if present) and applies the
    /// flags over it.
    pub fn load(o: &Overrides) -> Result<Settings, SettingsError> {
        let file = match &o.config {
            Some(f) => Some(f.clone()),
            None => Some(PathBuf::from(DEFAULT_CONFIG)).filter(|p| p.is_file()),
        };
        let mut s = match &file {
            Some(f) => Settings::read(f)?,
            None => Settings {
                config_file: None,
                policies: PathBuf::from(DEFAULT_POLICIES),
                grants: None,
                routes: None,
                snapshot: None,
                now: None,
                max_data_age: DEFAULT_MAX_DATA_AGE,
                live: None,
                daemon: DaemonSettings::default(),
                alerts: AlertSettings::default(),
                outcomes: OutcomeSettings::default(),
                onboarding: None,
                events: crate::events::EventSettings::default(),
                senders: BTreeMap::new(),
            },
        };
        if let Some(p) = &o.policies {
            s.policies = p.clone();
        }
        if let Some(p) = &o.routes {
            s.routes = Some(p.clone());
        }
        if let Some(p) = &o.snapshot {
            // `--snapshot` judges a recorded snapshot, whatever the config says.
            s.snapshot = Some(p.clone());
            s.live = None;
            s.outcomes.live = false;
        }
        if o.now.is_some() {
            s.now = o.now;
        }
        if let Some(d) = o.max_data_age {
            s.max_data_age = d;
        }
        Ok(s)
    }

    fn read(file: &Path) -> Result<Settings, SettingsError> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            SettingsError(Problem::error(
                file,
                None,
                format!("cannot read the config file: {e}"),
            ))
        })?;
        let raw: RawSettings = toml::from_str(&text).map_err(|e| {
            let (line, msg) = toml_error(&text, &e);
            SettingsError(Problem::error(file, line, msg))
        })?;
        let base = file.parent().unwrap_or(Path::new(""));
        let path = |p: String| {
            let p = PathBuf::from(p);
            if p.is_absolute() { p } else { base.join(p) }
        };
        let line = |s: &Spanned<String>| Some(line_of(&text, s.span().start));
        let now = match &raw.now {
            Some(v) => Some(parse_time(v.get_ref()).map_err(|m| {
                SettingsError(Problem::error(file, line(v), format!("`now`: {m}")))
            })?),
            None => None,
        };
        let max_data_age = match &raw.max_data_age {
            Some(v) => parse_age(v.get_ref()).map_err(|m| {
                SettingsError(Problem::error(
                    file,
                    line(v),
                    format!("`max_data_age`: {m}"),
                ))
            })?,
            None => DEFAULT_MAX_DATA_AGE,
        };
        let live = match raw.live {
            Some(l) => {
                if raw.snapshot.is_some() {
                    return Err(SettingsError(Problem::error(
                        file,
                        Some(line_of(&text, l.span().start)),
                        "both `snapshot` and `[live]` are set: keep the one to use (`--snapshot DIR` on the command line always wins)",
                    )));
                }
                Some(read_live(file, &text, base, l.into_inner())?)
            }
            None => None,
        };
        let age = |key: &str,
                   v: &Option<Spanned<String>>|
         -> Result<Option<Duration>, SettingsError> {
            v.as_ref()
                .map(|v| {
                    parse_duration(v.get_ref())
                        .and_then(|d| {
                            Duration::try_from(d)
                                .map_err(|_| format!("`{}` is negative", v.get_ref()))
                        })
                        .map_err(|m| {
                            SettingsError(Problem::error(file, line(v), format!("`{key}`: {m}")))
                        })
                })
                .transpose()
        };
        let daemon = match raw.daemon {
            Some(d) => {
                let defaults = DaemonSettings::default();
                let half = |v: &Spanned<String>, given: &str, missing: &str| {
                    SettingsError(Problem::error(
                        file,
                        line(v),
                        format!("`{given}` is set without `{missing}`: TLS needs both"),
                    ))
                };
                match (&d.tls_cert, &d.tls_key) {
                    (Some(v), None) => return Err(half(v, "daemon.tls_cert", "daemon.tls_key")),
                    (None, Some(v)) => return Err(half(v, "daemon.tls_key", "daemon.tls_cert")),
                    _ => {}
                }
                DaemonSettings {
                    interval: age("daemon.interval", &d.interval)?.unwrap_or(defaults.interval),
                    store: match &d.store {
                        Some(v) => crate::store::StoreAddress::parse(v.get_ref())
                            .map(|a| a.relative_to(base))
                            .map_err(|m| {
                                SettingsError(Problem::error(
                                    file,
                                    line(v),
                                    format!("`daemon.store`: {m}"),
                                ))
                            })?,
                        None => defaults.store,
                    },
                    store_password_file: d.store_password_file.map(path),
                    listen: match d.listen {
                        Some(l) => check_listen(l.get_ref()).map_err(|m| {
                            SettingsError(Problem::error(
                                file,
                                line(&l),
                                format!("`daemon.listen`: {m}"),
                            ))
                        })?,
                        None => defaults.listen,
                    },
                    grace: age("daemon.grace", &d.grace)?.unwrap_or(defaults.grace),
                    max_sweep_age: age("daemon.max_sweep_age", &d.max_sweep_age)?,
                    retention: age("daemon.retention", &d.retention)?.unwrap_or(defaults.retention),
                    api_tokens_file: d.api_tokens_file.map(path),
                    public_url: match &d.public_url {
                        Some(u) => Some(check_public_url(u.get_ref()).map_err(|m| {
                            SettingsError(Problem::error(
                                file,
                                line(u),
                                format!("`daemon.public_url`: {m}"),
                            ))
                        })?),
                        None => None,
                    },
                    tls_cert: d.tls_cert.map(|v| path(v.into_inner())),
                    tls_key: d.tls_key.map(|v| path(v.into_inner())),
                    allow_plain_http: d.allow_plain_http.unwrap_or(false),
                    header_read_timeout: age("daemon.header_read_timeout", &d.header_read_timeout)?
                        .unwrap_or(defaults.header_read_timeout),
                    idle_timeout: age("daemon.idle_timeout", &d.idle_timeout)?
                        .unwrap_or(defaults.idle_timeout),
                    max_connections: match &d.max_connections {
                        Some(n) => usize::try_from(*n.get_ref())
                            .ok()
                            .filter(|n| (1..=MAX_CONNECTIONS_LIMIT).contains(n))
                            .ok_or_else(|| {
                                SettingsError(Problem::error(
                                    file,
                                    Some(line_of(&text, n.span().start)),
                                    format!(
                                        "`daemon.max_connections` = {}: write a whole number from 1 to {MAX_CONNECTIONS_LIMIT}",
                                        n.get_ref()
                                    ),
                                ))
                            })?,
                        None => defaults.max_connections,
                    },
                    instance: match d.instance {
                        Some(n) => {
                            let name = n.get_ref().trim();
                            if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
                                return Err(SettingsError(Problem::error(
                                    file,
                                    line(&n),
                                    "`daemon.instance`: write a name of 1 to 200 printable characters, unique among the instances on the store",
                                )));
                            }
                            Some(name.to_owned())
                        }
                        None => None,
                    },
                    lease: match age("daemon.lease", &d.lease)? {
                        Some(l) if l < Duration::from_secs(1) => {
                            return Err(SettingsError(Problem::error(
                                file,
                                d.lease.as_ref().and_then(line),
                                "`daemon.lease` is under 1 s: a sweeper must be able to renew it in time",
                            )));
                        }
                        Some(l) => l,
                        None => defaults.lease,
                    },
                }
            }
            None => DaemonSettings::default(),
        };
        let alerts = match raw.alerts {
            Some(a) => {
                let d = AlertSettings::default();
                let allow_http = a.allow_http.unwrap_or(false);
                let err = |v: &Spanned<String>, m: String| {
                    SettingsError(Problem::error(file, line(v), m))
                };
                let webhook_url = match &a.webhook_url {
                    Some(v) => Some(
                        check_url(v.get_ref(), allow_http)
                            .map_err(|e| err(v, format!("`alerts.webhook_url`: {e}")))?,
                    ),
                    None => None,
                };
                let bearer_token = match &a.bearer_token_file {
                    Some(v) => {
                        let f = path(v.get_ref().clone());
                        let t = std::fs::read_to_string(&f).map_err(|e| {
                            err(
                                v,
                                format!(
                                    "`alerts.bearer_token_file`: cannot read `{}`: {e}",
                                    f.display()
                                ),
                            )
                        })?;
                        Some(crate::alerts::Secret::new(t.trim()))
                    }
                    None => None,
                };
                AlertSettings {
                    webhook_url,
                    heartbeat_interval: age("alerts.heartbeat_interval", &a.heartbeat_interval)?
                        .unwrap_or(d.heartbeat_interval),
                    attempts: match &a.attempts {
                        Some(v) if *v.get_ref() == 0 => {
                            return Err(SettingsError(Problem::error(
                                file,
                                Some(line_of(&text, v.span().start)),
                                "`alerts.attempts` must be at least 1",
                            )));
                        }
                        Some(v) => *v.get_ref(),
                        None => d.attempts,
                    },
                    backoff: age("alerts.backoff", &a.backoff)?.unwrap_or(d.backoff),
                    max_backoff: age("alerts.max_backoff", &a.max_backoff)?
                        .unwrap_or(d.max_backoff),
                    timeout: age("alerts.timeout", &a.timeout)?.unwrap_or(d.timeout),
                    allow_http,
                    bearer_token,
                }
            }
            None => AlertSettings::default(),
        };
        let outcomes = match raw.outcomes {
            Some(o) => read_outcomes(file, &text, base, o, live.as_ref())?,
            None => OutcomeSettings::default(),
        };
        let onboarding = match raw.onboarding {
            Some(o) => Some(crate::onboarding::OnboardingSettings::read(file, &text, o)?),
            None => None,
        };
        let events = match raw.events {
            Some(e) => crate::events::read_settings(file, &text, e, live.as_ref())?,
            None => crate::events::EventSettings::default(),
        };
        let senders = match raw.senders {
            Some(m) => read_senders(file, &text, m)?,
            None => BTreeMap::new(),
        };
        Ok(Settings {
            senders,
            onboarding,
            live,
            daemon,
            alerts,
            outcomes,
            events,
            config_file: Some(file.to_path_buf()),
            policies: raw
                .policies
                .map(path)
                .unwrap_or_else(|| base.join(DEFAULT_POLICIES)),
            grants: raw.grants.map(path),
            routes: raw.routes.map(path),
            snapshot: raw.snapshot.map(path),
            now,
            max_data_age,
        })
    }

    /// Whether evidence comes from the live APIs.
    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// The `altinn-grants.toml` to use.
    pub fn grants_file(&self) -> PathBuf {
        self.grants
            .clone()
            .unwrap_or_else(|| self.policies.join(crate::policy::GRANTS_FILE))
    }
}

/// Reads the `[outcomes]` section; every problem names its key and line.
fn read_outcomes(
    file: &Path,
    text: &str,
    base: &Path,
    raw: RawOutcomes,
    live: Option<&LiveSettings>,
) -> Result<OutcomeSettings, SettingsError> {
    let err = |span: std::ops::Range<usize>, msg: String| {
        SettingsError(Problem::error(file, Some(line_of(text, span.start)), msg))
    };
    let d = OutcomeSettings::default();
    let allow_http = raw.allow_http.unwrap_or(false) || live.is_some_and(|l| l.http.allow_http);
    let url = |key: &str, v: &Spanned<String>| {
        check_url(v.get_ref(), allow_http)
            .map_err(|e| err(v.span(), format!("`outcomes.{key}`: {e}")))
    };
    let duration = |key: &str, v: &Option<Spanned<String>>, default: Duration| match v {
        None => Ok(default),
        Some(v) => parse_duration(v.get_ref())
            .and_then(|d| {
                Duration::try_from(d).map_err(|_| format!("`{}` is negative", v.get_ref()))
            })
            .map_err(|m| err(v.span(), format!("`outcomes.{key}`: {m}"))),
    };
    let live_polling = match &raw.enabled {
        Some(v) if *v.get_ref() && live.is_none() => {
            return Err(err(
                v.span(),
                "`outcomes.enabled` polls Altinn Correspondence over HTTP: it needs the `[live]` section (a snapshot's `correspondence/` is read without it)".to_owned(),
            ));
        }
        Some(v) => *v.get_ref(),
        None => live.is_some(),
    };
    let scope = match &raw.scope {
        Some(v) if v.get_ref().trim().is_empty() => {
            return Err(err(
                v.span(),
                "`outcomes.scope` is empty: name the Maskinporten scopes of the sender's own token, space separated".to_owned(),
            ));
        }
        Some(v) => v.get_ref().trim().to_owned(),
        None => d.scope.clone(),
    };
    let subscription_key = match &raw.subscription_key_file {
        Some(v) => {
            let f = PathBuf::from(v.get_ref());
            let f = if f.is_absolute() { f } else { base.join(f) };
            let key = std::fs::read_to_string(&f).map_err(|e| {
                err(
                    v.span(),
                    format!(
                        "`outcomes.subscription_key_file`: cannot read `{}`: {e}",
                        f.display()
                    ),
                )
            })?;
            let key = key.trim();
            if key.is_empty() {
                return Err(err(
                    v.span(),
                    format!(
                        "`outcomes.subscription_key_file`: `{}` is empty",
                        f.display()
                    ),
                ));
            }
            Some(crate::alerts::Secret::new(key))
        }
        None => None,
    };
    let subscription_key_header = match &raw.subscription_key_header {
        Some(v) => {
            let h = v.get_ref().trim();
            if reqwest::header::HeaderName::from_bytes(h.as_bytes()).is_err() {
                return Err(err(
                    v.span(),
                    format!("`outcomes.subscription_key_header`: `{h}` is not an HTTP header name"),
                ));
            }
            h.to_owned()
        }
        None => d.subscription_key_header.clone(),
    };
    let on_behalf_of = match &raw.on_behalf_of {
        Some(v) => Some(
            crate::model::OrgNumber::parse(v.get_ref())
                .map_err(|e| err(v.span(), format!("`outcomes.on_behalf_of`: {e}")))?,
        ),
        None => None,
    };
    let poll_for = match &raw.poll_for {
        Some(v) => parse_duration(v.get_ref())
            .map_err(|m| err(v.span(), format!("`outcomes.poll_for`: {m}")))?,
        None => d.poll_for,
    };
    Ok(OutcomeSettings {
        live: live_polling,
        scope,
        subscription_key,
        subscription_key_header,
        on_behalf_of,
        poll_for,
        interval: duration("interval", &raw.interval, d.interval)?,
        alert_window: duration("alert_window", &raw.alert_window, d.alert_window)?,
        correspondence_url: raw
            .correspondence_url
            .as_ref()
            .map(|v| url("correspondence_url", v))
            .transpose()?,
        clock_url: raw
            .clock_url
            .as_ref()
            .map(|v| url("clock_url", v))
            .transpose()?,
        recorded: raw.recorded.map(|p| {
            let p = PathBuf::from(p);
            if p.is_absolute() { p } else { base.join(p) }
        }),
    })
}

/// Reads the `[live]` section; every problem names its key and line.
fn read_live(
    file: &Path,
    text: &str,
    base: &Path,
    raw: RawLive,
) -> Result<LiveSettings, SettingsError> {
    let err = |span: std::ops::Range<usize>, msg: String| {
        SettingsError(Problem::error(file, Some(line_of(text, span.start)), msg))
    };
    let allow_http = raw.allow_http.unwrap_or(false);
    let url = |key: &str, v: &Spanned<String>| {
        check_url(v.get_ref(), allow_http).map_err(|e| err(v.span(), format!("`live.{key}`: {e}")))
    };
    let age = |key: &str,
               v: &Option<Spanned<String>>,
               default: Duration|
     -> Result<Duration, SettingsError> {
        match v {
            None => Ok(default),
            Some(v) => parse_duration(v.get_ref())
                .and_then(|d| {
                    Duration::try_from(d).map_err(|_| format!("`{}` is negative", v.get_ref()))
                })
                .map_err(|m| err(v.span(), format!("`live.{key}`: {m}"))),
        }
    };
    let positive = |key: &str, v: &Spanned<u32>| {
        NonZeroU32::new(*v.get_ref())
            .ok_or_else(|| err(v.span(), format!("`live.{key}` must be at least 1")))
    };
    let altinn = url("altinn_url", &raw.altinn_url)?;
    let brreg = match &raw.brreg_url {
        Some(v) => url("brreg_url", v)?,
        None => check_url("https://data.brreg.no", false).map_err(|e| err(0..0, e.to_string()))?,
    };
    let token_url = url("maskinporten_token_url", &raw.maskinporten_token_url)?;
    let system_user_org = match &raw.system_user_org {
        Some(v) => Some(
            crate::model::OrgNumber::parse(v.get_ref())
                .map_err(|e| err(v.span(), format!("`live.system_user_org`: {e}")))?,
        ),
        None => None,
    };
    let client_org = match &raw.client_org {
        Some(v) => Some(
            crate::model::OrgNumber::parse(v.get_ref())
                .map_err(|e| err(v.span(), format!("`live.client_org`: {e}")))?,
        ),
        None => None,
    };
    let ask_profile = match &raw.notification_addresses {
        None => false,
        Some(v) => match v.get_ref().trim() {
            "skip" => false,
            "profile" => true,
            other => {
                return Err(err(
                    v.span(),
                    format!(
                        "`live.notification_addresses` is `{other}`: expected `skip` (do not ask; routes get notification_unverified) or `profile` (ask Altinn's profile with the organisation's system user)"
                    ),
                ));
            }
        },
    };
    let subscription_key = match &raw.subscription_key_file {
        None => None,
        Some(v) => {
            let path = PathBuf::from(v.get_ref());
            let path = if path.is_absolute() {
                path
            } else {
                base.join(path)
            };
            let text = std::fs::read_to_string(&path).map_err(|e| {
                err(
                    v.span(),
                    format!(
                        "`live.subscription_key_file`: cannot read `{}`: {e}",
                        path.display()
                    ),
                )
            })?;
            let key = text.trim();
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(err(
                    v.span(),
                    format!(
                        "`live.subscription_key_file`: `{}` should hold the key on one line",
                        path.display()
                    ),
                ));
            }
            Some(crate::evidence::live::SubscriptionKey::new(key.to_owned()))
        }
    };
    let scope = raw
        .scope
        .as_ref()
        .map_or(DEFAULT_SCOPE.to_owned(), |s| s.get_ref().trim().to_owned());
    if scope.is_empty() {
        let span = raw.scope.as_ref().map_or(0..0, Spanned::span);
        return Err(err(
            span,
            "`live.scope` is empty: name the Maskinporten scopes, space separated".to_owned(),
        ));
    }
    let access_list_scope = raw
        .access_list_scope
        .as_ref()
        .map_or(DEFAULT_ACCESS_LIST_SCOPE.to_owned(), |s| {
            s.get_ref().trim().to_owned()
        });
    if access_list_scope.is_empty() {
        let span = raw.access_list_scope.as_ref().map_or(0..0, Spanned::span);
        return Err(err(
            span,
            "`live.access_list_scope` is empty: name the Maskinporten scope that reads access lists".to_owned(),
        ));
    }
    let defaults = HttpSettings::default();
    let mut host_rates = std::collections::HashMap::new();
    for (host, rate) in raw.rate_limits.iter().flatten() {
        host_rates.insert(
            host.clone(),
            positive(&format!("rate_limits.{host}"), rate)?,
        );
    }
    let http = HttpSettings {
        rate_per_second: match &raw.rate_per_second {
            Some(v) => positive("rate_per_second", v)?,
            None => defaults.rate_per_second,
        },
        host_rates,
        concurrency: match &raw.concurrency {
            Some(v) => positive("concurrency", v)?.get() as usize,
            None => defaults.concurrency,
        },
        timeout: age("timeout", &raw.timeout, defaults.timeout)?,
        attempts: match &raw.attempts {
            Some(v) => positive("attempts", v)?.get(),
            None => defaults.attempts,
        },
        backoff: age("backoff", &raw.backoff, defaults.backoff)?,
        max_backoff: age("max_backoff", &raw.max_backoff, defaults.max_backoff)?,
        allow_http,
    };
    let key_file = PathBuf::from(raw.key_file.get_ref());
    let key_file = if key_file.is_absolute() {
        key_file
    } else {
        base.join(key_file)
    };
    let auth = AuthSettings {
        exchange_url: Some(
            altinn
                .join("authentication/api/v1/exchange/maskinporten")
                .map_err(|e| err(raw.altinn_url.span(), format!("`live.altinn_url`: {e}")))?,
        ),
        token_url,
        audience: raw.maskinporten_audience.get_ref().trim().to_owned(),
        client_id: raw.client_id.get_ref().trim().to_owned(),
        key_file,
        key_id: raw.key_id.map(|k| k.into_inner()),
        x5c: None,
        altinn_token_lifetime: age(
            "altinn_token_lifetime",
            &raw.altinn_token_lifetime,
            Duration::from_secs(30 * 60),
        )?,
        refresh_margin: Duration::from_secs(60),
    };
    Ok(LiveSettings {
        endpoints: LiveEndpoints {
            altinn,
            brreg,
            scope,
            access_list_scope,
            system_user_org,
            client_org,
            ask_profile,
            subscription_key,
            all_refused_threshold: raw
                .all_refused_threshold
                .map_or(crate::evidence::live::ALL_REFUSED_THRESHOLD, |n| n as usize),
        },
        http,
        auth,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_served_in_the_clear_unless_the_operator_says_so() {
        for l in [
            "127.0.0.1:8080",
            "127.1.2.3:0",
            "[::1]:80",
            "localhost:8080",
        ] {
            assert!(is_loopback(l), "{l}");
        }
        for l in [
            "0.0.0.0:8080",
            "[::]:80",
            "10.0.0.1:443",
            "reachcheck.example.no:80",
        ] {
            assert!(!is_loopback(l), "{l}");
        }
        let mut d = DaemonSettings {
            listen: "0.0.0.0:8080".to_owned(),
            ..DaemonSettings::default()
        };
        let e = d.check_transport().unwrap_err();
        assert!(
            e.contains("`daemon.listen`") && e.contains("allow_plain_http"),
            "{e}"
        );
        d.allow_plain_http = true;
        assert_eq!(d.check_transport(), Ok(()));
        d.allow_plain_http = false;
        d.tls_cert = Some("c.pem".into());
        d.tls_key = Some("k.pem".into());
        assert_eq!(d.check_transport(), Ok(()));
        assert_eq!(DaemonSettings::default().check_transport(), Ok(()));
    }

    #[test]
    fn the_public_url_is_an_absolute_url_without_query_or_fragment() {
        assert_eq!(
            check_public_url("https://pdp.example.no/reachcheck/").as_deref(),
            Ok("https://pdp.example.no/reachcheck")
        );
        assert_eq!(
            check_public_url("https://pdp.example.no:8443").as_deref(),
            Ok("https://pdp.example.no:8443")
        );
        for bad in [
            "pdp.example.no",
            "ftp://x",
            "https://x/?a=1",
            "https://x/#f",
            "",
        ] {
            assert!(check_public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn senders_are_named_and_a_bad_number_or_name_is_refused_on_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("r.toml");
        let load = |text: &str| {
            std::fs::write(&cfg, text).unwrap();
            Settings::load(&Overrides {
                config: Some(cfg.clone()),
                ..Overrides::default()
            })
        };
        let s = load("[senders]\n310000124 = \" Vest politidistrikt \"\n").unwrap();
        assert_eq!(
            s.senders[&OrgNumber::parse("310000124").unwrap()],
            "Vest politidistrikt"
        );
        for (text, want) in [
            (
                "[senders]\n310000125 = \"X\"\n",
                "not a valid organisation number",
            ),
            ("[senders]\n310000124 = \"  \"\n", "the name is empty"),
            // A synthetic identity number (valid check digits) in a name.
            (
                "[senders]\n310000124 = \"Vest 01017012343\"\n",
                "identity number",
            ),
            (
                "[senders]\n310000124 = \"Vest\\u202Epolitidistrikt\"\n",
                "U+202E",
            ),
        ] {
            let e = load(&format!("# line 1\n{text}")).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
            assert!(e.contains("line 3"), "names the line: {e}");
            assert!(!e.contains("01017012343"), "never quotes the number: {e}");
        }
    }

    #[test]
    fn half_a_tls_pair_is_refused_naming_both_keys() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("r.toml");
        std::fs::write(&cfg, "[daemon]\ntls_key = \"k.pem\"\n").unwrap();
        let e = Settings::load(&Overrides {
            config: Some(cfg),
            ..Overrides::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("`daemon.tls_key`") && e.contains("`daemon.tls_cert`"),
            "{e}"
        );
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn paths_in_the_file_are_relative_to_it_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("r.toml");
        std::fs::write(
            &cfg,
            "routes = \"x/routes.csv\"\nsnapshot = \"/abs/snap\"\nnow = \"2026-11-21T06:00:00Z\"\nmax_data_age = \"2h\"\n",
        )
        .unwrap();
        let s = Settings::load(&Overrides {
            config: Some(cfg.clone()),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(s.routes, Some(dir.path().join("x/routes.csv")));
        assert_eq!(s.snapshot, Some(PathBuf::from("/abs/snap")));
        assert_eq!(s.policies, dir.path().join("policies"));
        assert_eq!(s.max_data_age, SignedDuration::from_hours(2));
        let s = Settings::load(&Overrides {
            config: Some(cfg),
            routes: Some("other.csv".into()),
            max_data_age: Some(SignedDuration::from_hours(5)),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(s.routes, Some(PathBuf::from("other.csv")));
        assert_eq!(s.max_data_age, SignedDuration::from_hours(5));
    }

    #[test]
    fn bad_values_name_the_file_line_and_value() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("r.toml");
        std::fs::write(&cfg, "routes = \"r.csv\"\n\nmax_data_age = \"soon\"\n").unwrap();
        let err = Settings::load(&Overrides {
            config: Some(cfg.clone()),
            ..Overrides::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.ends_with("r.toml`: line 3: `max_data_age`: `soon` is not a duration (expected number at 0): write it like `24h`, `90m` or `2days`"),
            "{err}"
        );
        std::fs::write(&cfg, "rutes = \"r.csv\"\n").unwrap();
        let err = Settings::load(&Overrides {
            config: Some(cfg),
            ..Overrides::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("r.toml`: line 1: unknown field `rutes`"),
            "{err}"
        );
        let err = Settings::load(&Overrides {
            config: Some(dir.path().join("none.toml")),
            ..Overrides::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("none.toml`: cannot read the config file"),
            "{err}"
        );
    }

    #[test]
    fn the_outcomes_section_is_checked_key_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("r.toml");
        std::fs::write(dir.path().join("apim.key"), "k3y\n").unwrap();
        std::fs::write(
            &cfg,
            "snapshot = \"s\"\n[outcomes]\nsubscription_key_file = \"apim.key\"\non_behalf_of = \"310000019\"\npoll_for = \"30days\"\nalert_window = \"5s\"\n",
        )
        .unwrap();
        let s = Settings::load(&Overrides {
            config: Some(cfg.clone()),
            ..Overrides::default()
        })
        .unwrap();
        let o = &s.outcomes;
        assert!(!o.live, "a snapshot's correspondence needs no polling");
        assert_eq!(o.scope, crate::outcome::DEFAULT_SCOPE);
        assert_eq!(o.subscription_key.as_ref().unwrap().expose(), "k3y");
        assert!(!format!("{o:?}").contains("k3y"));
        assert_eq!(o.on_behalf_of.unwrap().to_string(), "310000019");
        assert_eq!(o.poll_for, SignedDuration::from_hours(720));
        assert_eq!(o.alert_window, Duration::from_secs(5));
        for (text, expected) in [
            (
                "[outcomes]\npol_for = \"1d\"\n",
                "line 2: unknown field `pol_for`",
            ),
            (
                "[outcomes]\nenabled = true\n",
                "line 2: `outcomes.enabled` polls Altinn Correspondence over HTTP: it needs the `[live]` section",
            ),
            (
                "[outcomes]\n\non_behalf_of = \"123\"\n",
                "line 3: `outcomes.on_behalf_of`: `123` is not an organisation number",
            ),
            (
                "[outcomes]\nclock_url = \"http://127.0.0.1:1/_sim/clock\"\n",
                "line 2: `outcomes.clock_url`: `http://127.0.0.1:1/_sim/clock` is plain http://",
            ),
            (
                "[outcomes]\nsubscription_key_file = \"none.key\"\n",
                "line 2: `outcomes.subscription_key_file`: cannot read",
            ),
        ] {
            std::fs::write(&cfg, text).unwrap();
            let e = Settings::load(&Overrides {
                config: Some(cfg.clone()),
                ..Overrides::default()
            })
            .unwrap_err()
            .to_string();
            assert!(e.contains(expected), "{e}");
        }
    }

    #[test]
    fn the_access_model_settings_of_live_are_checked_key_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("r.toml");
        std::fs::write(dir.path().join("apim.key"), "k3y\n").unwrap();
        std::fs::write(dir.path().join("two.key"), "k3y\nsecond line\n").unwrap();
        let live = "[live]\naltinn_url = \"https://platform.altinn.no\"\n\
                    maskinporten_token_url = \"https://maskinporten.no/token\"\n\
                    maskinporten_audience = \"https://maskinporten.no/\"\n\
                    client_id = \"c\"\nkey_file = \"k.pem\"\n";
        let load = |extra: &str| {
            std::fs::write(&cfg, format!("{live}{extra}")).unwrap();
            Settings::load(&Overrides {
                config: Some(cfg.clone()),
                ..Overrides::default()
            })
        };
        let s = load("client_org = \"310000019\"\nsubscription_key_file = \"apim.key\"\n").unwrap();
        let e = &s.live.as_ref().unwrap().endpoints;
        assert_eq!(e.client_org.unwrap().to_string(), "310000019");
        assert!(!e.ask_profile, "the profile is not asked by default");
        assert!(!e.scope.contains("portal/enduser"));
        assert!(
            !format!("{e:?}").contains("k3y"),
            "the key is never printed"
        );
        for (extra, expected) in [
            ("client_org = \"123\"\n", "line 7: `live.client_org`"),
            (
                "notification_addresses = \"always\"\n",
                "`live.notification_addresses` is `always`: expected `skip`",
            ),
            (
                "subscription_key_file = \"none.key\"\n",
                "`live.subscription_key_file`: cannot read",
            ),
            (
                "subscription_key_file = \"two.key\"\n",
                "`live.subscription_key_file`: `",
            ),
        ] {
            let e = load(extra).unwrap_err().to_string();
            assert!(e.contains(expected), "{extra}: {e}");
            assert!(!e.contains("k3y"), "the key is never printed: {e}");
        }
    }

    #[test]
    fn times_and_ages_parse_with_clear_errors() {
        assert!(parse_time("2026-11-21T06:00:00Z").is_ok());
        assert_eq!(
            parse_time("yesterday").unwrap_err(),
            "`yesterday` is not a time: expected RFC 3339 such as `2026-11-21T06:00:00Z`"
        );
        let e = parse_time("2026-13-01T00:00:00Z").unwrap_err();
        assert!(
            e.starts_with("`2026-13-01T00:00:00Z` is not a valid time: ") && e.contains("month"),
            "{e}"
        );
        assert!(parse_time("99999-01-01T00:00:00Z").is_err());
        assert_eq!(parse_age("90m").unwrap(), SignedDuration::from_mins(90));
        assert_eq!(
            parse_age("0s").unwrap_err(),
            "`0s` is zero: evidence would always be stale"
        );
        // Other durations (intervals, timeouts, the lease) say nothing of evidence.
        assert_eq!(
            parse_duration("30s").unwrap(),
            SignedDuration::from_secs(30)
        );
        assert_eq!(
            parse_duration("0s").unwrap_err(),
            "`0s` is zero: write a duration above zero"
        );
    }
}
