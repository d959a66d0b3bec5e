//! The daemon behind `reachcheck serve`: scheduled sweeps, the store, the pre-send
//! [`Verifier`], the HTTP API and alerts, as named tasks with one shutdown path.
//!
//! Owns: when things happen — sweeps on a schedule (missed ticks skipped), polls of what
//! happened to sent messages (in every sweep and every `outcomes.interval`), reloads on
//! SIGHUP (keeping the last good state when the new one is broken), shutdown on
//! SIGINT/SIGTERM within a grace period, re-fetches of messages Altinn Events pushed a hint
//! about ([`Daemon::apply_hints`]), alerts after sweeps, for messages at risk
//! (grouped per recipient within `outcomes.alert_window`) and on a heartbeat. Does not
//! own: judging (the engine), history (the store), HTTP shapes (the api module), what a
//! message's fate means (the outcome module).
//!
//! [`Daemon::sweep_once`] and [`Daemon::poll_outcomes_once`] are the single steps; [`run`]
//! is the loop around them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, ArcSwapOption};
use jiff::{SignedDuration, Timestamp};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::alerts::{
    Alert, AlertSettings, AtRiskItem, FindingRef, Grouper, MessageAtRisk, Notifier,
};
use crate::api::tokens::{TOKENS_ENV, Tokens};
use crate::metrics::Metrics;
use crate::model::{FindingCode, ResourceId, Route, SourceKind, Verdict};
use crate::outcome::{OutcomeClock, OutcomeSource, RouteHistory, RouteMap};
use crate::policy::{Policies, PolicyError};
use crate::problem::Problems;
use crate::routing::{RoutingError, RoutingTable};
use crate::settings::{Overrides, Settings, SettingsError};
use crate::store::{
    AuditEntry, Change, Latest, Store, StoreAddress, StoreError, SweepId, SweepOutcome,
};
use crate::sweep::{Source, SourceError};
use crate::verifier::Verifier;

/// What the command line says about the daemon, over the config file.
#[derive(Clone, Debug, Default)]
pub struct ServeOverrides {
    /// The common flags.
    pub sources: Overrides,
    /// `--store`.
    pub store: Option<crate::store::StoreAddress>,
    /// `--listen ADDR`.
    pub listen: Option<String>,
    /// `--interval DURATION`.
    pub interval: Option<Duration>,
    /// `--once`: one sweep and no HTTP API, so no API tokens are needed.
    pub once: bool,
}

/// Why the daemon cannot start, or a reload was refused. Each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// A setting, or a flag that overrides one, does not fit.
    #[error("{0}")]
    Config(String),
    /// The config file.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The policies.
    #[error(transparent)]
    Policies(#[from] PolicyError),
    /// The routing table.
    #[error(transparent)]
    Routing(#[from] RoutingError),
    /// The evidence source.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The store cannot be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A worker thread died.
    #[error("{0}")]
    Worker(String),
}

impl DaemonError {
    /// The problems behind the error, one per file and line, where it has several.
    pub fn problems(&self) -> Option<&Problems> {
        match self {
            DaemonError::Policies(e) => Some(&e.problems),
            DaemonError::Routing(e) => Some(&e.problems),
            DaemonError::Source(SourceError::Evidence(
                crate::evidence::EvidenceError::Problems(p),
            )) => Some(p),
            _ => None,
        }
    }

    /// The error as lines for stderr or the log: one per problem.
    pub fn lines(&self) -> Vec<String> {
        match self.problems() {
            Some(p) => {
                p.0.iter()
                    .map(crate::problem::Problem::report_line)
                    .collect()
            }
            None => vec![format!("error: {self}")],
        }
    }
}

impl ServeOverrides {
    /// The settings: the config file with every flag applied.
    pub fn settings(&self) -> Result<Settings, DaemonError> {
        let mut settings = Settings::load(&self.sources)?;
        if let Some(s) = &self.store {
            settings.daemon.store = s.clone();
        }
        if let Some(l) = &self.listen {
            settings.daemon.listen = crate::settings::check_listen(l)
                .map_err(|m| DaemonError::Config(format!("`--listen`: {m}")))?;
        }
        if let Some(i) = self.interval {
            settings.daemon.interval = i;
        }
        Ok(settings)
    }
}

/// Everything a sweep needs that comes from configuration; replaced whole on reload.
pub struct Inputs {
    /// The settings after flags.
    pub settings: Settings,
    /// The local policies (Altinn's may replace some at each sweep).
    pub policies: Arc<Policies>,
    /// The routing table.
    pub routes: Arc<RoutingTable>,
    /// The routing table sorted for the AuthZEN searches.
    pub route_index: Arc<crate::search::RouteIndex>,
    /// The evidence source.
    pub source: Source,
    /// The API tokens.
    pub tokens: Tokens,
    /// The alert settings.
    pub alerts: AlertSettings,
    /// Message types and routes that sent messages are placed on.
    pub route_map: Arc<RouteMap>,
    /// Where sent messages come from, if anywhere.
    pub outcomes: Option<Arc<OutcomeSource>>,
    /// The time messages' deadlines are measured against.
    pub clock: OutcomeClock,
}

impl Inputs {
    /// Loads config, policies, routes, tokens and the evidence source; every problem is an
    /// error that names its file. API tokens are required unless `o.once` (nothing is
    /// served then); any that are configured are still checked.
    pub fn load(o: &ServeOverrides) -> Result<Inputs, DaemonError> {
        Inputs::from_settings(o.settings()?, !o.once)
    }

    /// As [`Inputs::load`], from settings already read; `serves` says whether the HTTP API
    /// will be served (and so needs API tokens).
    pub fn from_settings(settings: Settings, serves: bool) -> Result<Inputs, DaemonError> {
        let policies = Policies::load_with_grants(&settings.policies, &settings.grants_file())?;
        for p in policies.warnings() {
            tracing::warn!(problem = %p, "policies");
        }
        let routes_file = settings.routes.clone().ok_or_else(|| {
            DaemonError::Config(
                "no routing table: pass `--routes FILE` or set `routes` in the config file"
                    .to_owned(),
            )
        })?;
        let routes = RoutingTable::load(&routes_file, &policies)?;
        for p in &routes.warnings {
            tracing::warn!(problem = %p, "routing table");
        }
        let source = Source::from_settings(&settings)?;
        let env = std::env::var(TOKENS_ENV).ok();
        let tokens = Tokens::load(env.as_deref(), settings.daemon.api_tokens_file.as_deref())
            .map_err(DaemonError::Config)?;
        if tokens.is_empty() && serves {
            return Err(DaemonError::Config(format!(
                "no API tokens: set `{TOKENS_ENV}=name:token` (16 characters or more) or `daemon.api_tokens_file` in the config file"
            )));
        }
        let alerts = settings.alerts.clone();
        let route_map = Arc::new(RouteMap::new(&policies, &routes));
        let route_index = Arc::new(crate::search::RouteIndex::new(&routes, &policies));
        let outcomes = crate::outcome::source_for(&settings, &source)
            .map_err(|e| DaemonError::Config(e.to_string()))?
            .map(Arc::new);
        let clock =
            crate::outcome::clock_for(&settings).map_err(|e| DaemonError::Config(e.to_string()))?;
        Ok(Inputs {
            settings,
            policies: Arc::new(policies),
            routes: Arc::new(routes),
            route_index,
            source,
            tokens,
            alerts,
            route_map,
            outcomes,
            clock,
        })
    }

    /// The time routes are judged at: the configured `now`, else the clock.
    pub fn judge_now(&self) -> Timestamp {
        self.settings.now.unwrap_or_else(Timestamp::now)
    }

    /// Evidence older than this makes `/readyz` fail and raises an alert.
    pub fn max_sweep_age(&self) -> SignedDuration {
        self.settings
            .daemon
            .max_sweep_age
            .and_then(|d| SignedDuration::try_from(d).ok())
            .unwrap_or(self.settings.max_data_age)
    }
}

/// A sweep could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The evidence source as a whole failed.
    #[error("gathering evidence failed: {0}")]
    Source(#[from] SourceError),
    /// The store refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A worker thread died.
    #[error("the sweep's worker failed: {0}")]
    Worker(String),
    /// Sent messages could not be polled at all.
    #[error("polling sent messages failed: {0}")]
    Outcomes(String),
    /// Onboarding requests could not be refreshed at all.
    #[error("refreshing onboarding requests failed: {0}")]
    Onboarding(String),
    /// Another instance holds the sweeper's lease: this one only answers.
    #[error(
        "`{0}` holds the sweeper's lease: this instance answers checks and leaves sweeping to it"
    )]
    NotSweeper(String),
}

/// What one poll of sent messages did.
#[derive(Clone, Debug, Default)]
pub struct OutcomeReport {
    /// The poll, as recorded.
    pub poll: crate::store::PollRecord,
    /// Messages written, and how many of them were new.
    pub ingested: crate::store::Ingested,
    /// Messages queued for an alert.
    pub alerts_queued: u64,
    /// The time deadlines were measured against.
    pub now: Option<Timestamp>,
}

/// What one batch of pushed events did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HintReport {
    /// Messages whose re-fetched details were stored.
    pub stored: u64,
    /// Messages whose re-fetch failed (nothing changed).
    pub failed: u64,
    /// Messages queued for an alert.
    pub alerts_queued: u64,
}

/// What one sweep did.
#[derive(Clone, Debug)]
pub struct SweepReport {
    /// Its id in the store.
    pub id: SweepId,
    /// What recording it did.
    pub outcome: SweepOutcome,
    /// How long it took.
    pub duration: Duration,
}

/// State the HTTP API reads.
pub struct Shared {
    /// The pre-send answers.
    pub verifier: Verifier,
    /// The current inputs.
    pub inputs: ArcSwap<Inputs>,
    /// Metrics.
    pub metrics: Metrics,
    /// A store connection for the API's reads and suppressions.
    pub store: Mutex<Store>,
    /// Pre-send checks on their way to the audit table.
    pub audit: mpsc::Sender<AuditEntry>,
    /// When the evidence of the answers was taken, if any sweep is loaded.
    pub taken_at: ArcSwap<Option<Timestamp>>,
    /// What each route's sent messages did, as of the last poll.
    pub histories: ArcSwap<rustc_hash::FxHashMap<Route, RouteHistory>>,
    /// Altinn Events' webhook: its queue of hints to the daemon.
    pub inbox: crate::events::Inbox,
    /// The sweeper's lease as this instance last saw it; `None` on a store of one daemon
    /// (SQLite), where no lease is taken and this instance always sweeps.
    pub lease: ArcSwapOption<LeaseView>,
}

/// The sweeper's lease as an instance last saw it (`/readyz` shows it).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LeaseView {
    /// This instance's name (`daemon.instance`).
    pub instance: String,
    /// Whether this instance holds the lease: it sweeps, alerts and refreshes onboarding.
    pub held: bool,
    /// The holder, as last read (`None`: not known yet, or the store could not be read).
    pub holder: Option<String>,
    /// The holder's fencing token.
    pub token: Option<i64>,
    /// How long the holder's lease had left when last read, in milliseconds.
    pub expires_in_ms: Option<i64>,
}

impl Shared {
    /// Whether this instance is the one that sweeps (always, without a lease).
    pub fn is_sweeper(&self) -> bool {
        self.lease.load().as_ref().is_none_or(|l| l.held)
    }

    /// Age of the evidence the answers rest on, at `now`.
    pub fn data_age(&self, now: Timestamp) -> Option<SignedDuration> {
        (**self.taken_at.load()).map(|t| now.duration_since(t))
    }
}

/// The shortest `daemon.interval` against live sources: a typo must not hammer Altinn.
pub const MIN_LIVE_INTERVAL: Duration = Duration::from_secs(60);
/// The shortest `daemon.interval` on a snapshot directory.
pub const MIN_SNAPSHOT_INTERVAL: Duration = Duration::from_secs(1);
/// Test-only: set to `1` to allow any `daemon.interval` (tests that need sweeps in seconds
/// against a local stand-in). Never in production.
pub const SHORT_INTERVAL_ENV: &str = "REACHCHECK_TEST_ALLOW_SHORT_INTERVAL";
/// Test-only: milliseconds a sweep waits between judging and recording, so that a test can
/// pause the sweeper mid-sweep (the fenced write of a deposed sweeper). Never in production.
pub const RECORD_DELAY_ENV: &str = "REACHCHECK_TEST_RECORD_DELAY_MS";

/// Refuses a sweep interval below the minimum for the evidence source, naming which.
fn check_interval(settings: &Settings) -> Result<(), DaemonError> {
    let (min, against) = if settings.live.is_some() {
        (MIN_LIVE_INTERVAL, "live Altinn sources")
    } else {
        (MIN_SNAPSHOT_INTERVAL, "a snapshot directory")
    };
    let given = settings.daemon.interval;
    if given >= min || std::env::var(SHORT_INTERVAL_ENV).is_ok_and(|v| v == "1") {
        return Ok(());
    }
    Err(DaemonError::Config(format!(
        "`daemon.interval` (`--interval`) is {}: at least {} against {against}, so that a typo cannot sweep continuously",
        humantime_like(given),
        humantime_like(min)
    )))
}

/// A duration as a reader would write it (`1ns`, `500ms`, `60s`).
fn humantime_like(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d.as_millis() > 0 && d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}ns", d.as_nanos())
    }
}

/// The daemon.
pub struct Daemon {
    overrides: ServeOverrides,
    shared: Arc<Shared>,
    /// The connection sweeps write with.
    store: Arc<Mutex<Store>>,
    sweep_lock: tokio::sync::Mutex<()>,
    alerts: mpsc::UnboundedSender<Alert>,
    receivers: Mutex<Option<Receivers>>,
    sweeps_done: watch::Sender<u64>,
    /// When the store's latest successful sweep ended, if any.
    last_finished: Option<Timestamp>,
    /// A `stale_evidence` alert was sent and the evidence has not been fresh since.
    stale_alerted: std::sync::atomic::AtomicBool,
    /// One poll of sent messages at a time.
    outcome_lock: tokio::sync::Mutex<()>,
    /// Messages on their way to an alert.
    at_risk: mpsc::UnboundedSender<AtRiskItem>,
    /// (message, code) queued for an alert, or delivered and recorded by this process: not
    /// queued again.
    queued: Arc<Mutex<rustc_hash::FxHashSet<(String, String)>>>,
    /// Resources whose list was incomplete at the last poll (alerted once until whole).
    incomplete: Mutex<rustc_hash::FxHashSet<ResourceId>>,
    /// The connection delivered message alerts are marked with (fenced with the lease).
    alert_store: Arc<Mutex<Store>>,
    /// On a store shared by several daemons (PostgreSQL): the connection the sweeper's
    /// lease is claimed and renewed with. A claim waits for the holder's write under way
    /// (its fence holds the lease row), up to a history's whole transaction.
    lease_store: Option<Arc<Mutex<Store>>>,
    /// On a store shared by several daemons: the connection the latest sweep is watched and
    /// read with, its own so that following never waits for a claim that waits.
    follow_store: Option<Arc<Mutex<Store>>>,
    /// This instance's name among the daemons on the store.
    instance: String,
    /// Until when the lease last renewed lasts, by this process's clock (measured from
    /// before the renewal was asked).
    held_until: Mutex<Option<Instant>>,
    /// On a PostgreSQL store: what hears of each sweep recorded, for the follower (taken
    /// by it when it starts).
    listener: Mutex<Option<crate::store::SweepListener>>,
}

struct Receivers {
    audit: mpsc::Receiver<AuditEntry>,
    alerts: mpsc::UnboundedReceiver<Alert>,
    at_risk: mpsc::UnboundedReceiver<AtRiskItem>,
    audit_store: Store,
    events: mpsc::Receiver<crate::events::Arrival>,
}

/// Audit entries buffered before the API waits for the writer.
const AUDIT_QUEUE: usize = 65_536;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Daemon {
    /// Loads everything and opens the store; pre-send checks are answered from the store's
    /// latest sweep at once. Any problem is an error before anything starts.
    pub fn start(overrides: ServeOverrides) -> Result<Daemon, DaemonError> {
        let settings = overrides.settings()?;
        Daemon::start_with(overrides, settings)
    }

    /// As [`Daemon::start`], with the settings already read from `overrides` (so that the
    /// caller that needed them first does not read the config file twice).
    pub fn start_with(
        overrides: ServeOverrides,
        settings: Settings,
    ) -> Result<Daemon, DaemonError> {
        check_interval(&settings)?;
        // The stored answers and the routing table do not depend on each other: read them
        // at the same time (an existing store only; a new one is made once all is valid).
        let address = settings.daemon.store_address(None)?;
        let early_address = Some(&address).filter(|a| a.may_exist());
        std::thread::scope(|scope| {
            let early = early_address.map(|a| {
                scope.spawn(move || -> Result<(Store, Option<Latest>), StoreError> {
                    let store = Store::open_at(a)?;
                    let latest = store.latest()?;
                    Ok((store, latest))
                })
            });
            let inputs = Inputs::from_settings(settings, !overrides.once);
            let early = match early.map(|h| h.join()) {
                None => None,
                Some(Ok(r)) => Some(r),
                Some(Err(_)) => {
                    return Err(DaemonError::Worker(
                        "reading the store failed unexpectedly".to_owned(),
                    ));
                }
            };
            let inputs = inputs?;
            let early = early.transpose()?;
            Daemon::build(overrides, inputs, &address, early)
        })
    }

    /// As [`Daemon::start`], with inputs already loaded.
    pub fn with_inputs(overrides: ServeOverrides, inputs: Inputs) -> Result<Daemon, DaemonError> {
        let address = inputs
            .settings
            .daemon
            .store_address(None)
            .map_err(DaemonError::Store)?;
        Daemon::build(overrides, inputs, &address, None)
    }

    /// The daemon over the store at `address` (its password read once, by the caller),
    /// with the store and its latest sweep if they were read already.
    fn build(
        overrides: ServeOverrides,
        inputs: Inputs,
        address: &StoreAddress,
        early: Option<(Store, Option<Latest>)>,
    ) -> Result<Daemon, DaemonError> {
        let begun = Instant::now();
        let open = || Store::open_at(address).map_err(DaemonError::Store);
        let (store, latest) = match early {
            Some(loaded) => loaded,
            None => {
                let store = open()?;
                let latest = store.latest()?;
                (store, latest)
            }
        };
        let api_store = open()?;
        let audit_store = open()?;
        let alert_store = open()?;
        // Several daemons may share a PostgreSQL store: one sweeps, under a lease.
        let (lease_store, follow_store) = match address {
            StoreAddress::Postgres(_) => (
                Some(Arc::new(Mutex::new(open()?))),
                Some(Arc::new(Mutex::new(open()?))),
            ),
            StoreAddress::Sqlite(_) => (None, None),
        };
        let instance = inputs
            .settings
            .daemon
            .instance
            .clone()
            .unwrap_or_else(default_instance);
        let histories = match store.messages(&crate::store::MessageFilter::default()) {
            Ok(all) => crate::outcome::histories(&all, &inputs.policies, inputs.judge_now()),
            Err(e) => {
                tracing::warn!(error = %e, "the history of sent messages could not be read");
                rustc_hash::FxHashMap::default()
            }
        };
        let metrics = Metrics::new();
        let max_age = inputs.settings.max_data_age;
        let (verifier, taken_at) = match &latest {
            Some(l) => {
                let v = Verifier::from_store(Arc::clone(&inputs.policies), l, max_age);
                record_latest(&metrics, l);
                tracing::info!(
                    sweep = l.sweep.id,
                    routes = l.verdicts.len(),
                    taken_at = %l.taken_at,
                    elapsed_ms = begun.elapsed().as_millis() as u64,
                    "answers loaded from the store"
                );
                (v, Some(l.taken_at))
            }
            None => {
                tracing::info!(
                    "the store has no sweep yet: checks are unknown until the first sweep ends"
                );
                (Verifier::empty(Arc::clone(&inputs.policies), max_age), None)
            }
        };
        {
            // Listing the readable routes for the searches takes a while on a large
            // table: not before `/readyz` (searches are exact meanwhile, only slower).
            let (index, verifier) = (Arc::clone(&inputs.route_index), verifier.clone());
            if let Err(e) = std::thread::Builder::new()
                .name("search-index".to_owned())
                .spawn(move || index.refresh(&verifier))
            {
                tracing::warn!(error = %e, "searches walk every route until the first sweep");
            }
        }
        let (audit_tx, audit_rx) = mpsc::channel(AUDIT_QUEUE);
        let (alerts_tx, alerts_rx) = mpsc::unbounded_channel();
        let (at_risk_tx, at_risk_rx) = mpsc::unbounded_channel();
        let (inbox, events_rx) = crate::events::Inbox::new(&inputs.settings.events);
        Ok(Daemon {
            overrides,
            shared: Arc::new(Shared {
                verifier,
                inputs: ArcSwap::from_pointee(inputs),
                metrics,
                store: Mutex::new(api_store),
                audit: audit_tx,
                taken_at: ArcSwap::from_pointee(taken_at),
                histories: ArcSwap::from_pointee(histories),
                inbox,
                lease: ArcSwapOption::new(lease_store.as_ref().map(|_| {
                    Arc::new(LeaseView {
                        instance: instance.clone(),
                        held: false,
                        holder: None,
                        token: None,
                        expires_in_ms: None,
                    })
                })),
            }),
            store: Arc::new(Mutex::new(store)),
            sweep_lock: tokio::sync::Mutex::new(()),
            alerts: alerts_tx,
            receivers: Mutex::new(Some(Receivers {
                audit: audit_rx,
                alerts: alerts_rx,
                at_risk: at_risk_rx,
                audit_store,
                events: events_rx,
            })),
            sweeps_done: watch::Sender::new(0),
            last_finished: latest.and_then(|l| l.sweep.finished_at),
            stale_alerted: std::sync::atomic::AtomicBool::new(false),
            outcome_lock: tokio::sync::Mutex::new(()),
            at_risk: at_risk_tx,
            queued: Arc::new(Mutex::new(rustc_hash::FxHashSet::default())),
            incomplete: Mutex::new(rustc_hash::FxHashSet::default()),
            alert_store: Arc::new(Mutex::new(alert_store)),
            lease_store,
            follow_store,
            instance,
            held_until: Mutex::new(None),
            listener: Mutex::new(match address {
                StoreAddress::Postgres(pg) => Some(crate::store::SweepListener::new(pg)),
                StoreAddress::Sqlite(_) => None,
            }),
        })
    }

    /// What the API reads.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// How long to wait before the first sweep: none when the store has no sweep or its
    /// latest is older than the interval; otherwise until one interval after it ended, so
    /// a restart does not sweep again what was just swept.
    pub fn first_sweep_delay(&self, interval: Duration, now: Timestamp) -> Duration {
        let Some(done) = self.last_finished else {
            return Duration::ZERO;
        };
        let since = now.duration_since(done);
        let since = Duration::try_from(since).unwrap_or(Duration::ZERO);
        interval.saturating_sub(since)
    }

    /// Sweeps completed (successfully or not) by this process; changes after each.
    pub fn sweeps_done(&self) -> watch::Receiver<u64> {
        self.sweeps_done.subscribe()
    }

    /// Claims the sweeper's lease, or renews it, once; on taking it, fences this instance's
    /// sweeper writes with its token. Without a lease (a store of one daemon) this
    /// instance always sweeps. Returns whether this instance holds it.
    pub async fn claim_lease_once(&self) -> bool {
        let Some(store) = &self.lease_store else {
            return true;
        };
        let ttl = self.shared.inputs.load().settings.daemon.lease;
        let (store, instance) = (Arc::clone(store), self.instance.clone());
        let asked = Instant::now();
        let claimed =
            tokio::task::spawn_blocking(move || lock(&store).claim_lease(&instance, ttl)).await;
        let was = self.shared.lease.load_full();
        let was_held = was.as_ref().is_some_and(|v| v.held);
        let view = match claimed {
            Ok(Ok(lease)) => {
                let held = lease.holder == self.instance && lease.live();
                if held {
                    *lock(&self.held_until) = Some(asked + ttl);
                    let token = was.as_ref().and_then(|v| v.token);
                    if !was_held || token != Some(lease.token) {
                        let fence = lease.fence();
                        let (sweeps, alerts) =
                            (Arc::clone(&self.store), Arc::clone(&self.alert_store));
                        let aborted = tokio::task::spawn_blocking(move || {
                            lock(&alerts).set_fence(Some(fence.clone()));
                            let mut s = lock(&sweeps);
                            s.set_fence(Some(fence));
                            // A sweep still running was cut off with the last holder.
                            s.abort_running()
                        })
                        .await;
                        match aborted {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => {
                                tracing::warn!(error = %e, "sweeps the last holder left running could not be marked aborted")
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "sweeps the last holder left running could not be marked aborted")
                            }
                        }
                        self.shared.metrics.lease_takeovers.inc();
                        tracing::info!(
                            instance = %self.instance,
                            token = lease.token,
                            "this instance holds the sweeper's lease: it sweeps, alerts and refreshes onboarding"
                        );
                    }
                } else if was_held {
                    tracing::warn!(
                        instance = %self.instance,
                        holder = %lease.holder,
                        "the sweeper's lease was taken over: this instance only answers now"
                    );
                }
                LeaseView {
                    instance: self.instance.clone(),
                    held,
                    holder: Some(lease.holder.clone()),
                    token: Some(lease.token),
                    expires_in_ms: Some(lease.expires_ms - lease.now_ms),
                }
            }
            Ok(Err(e)) => self.lease_not_renewed(e.to_string(), was.as_deref()),
            Err(e) => self.lease_not_renewed(e.to_string(), was.as_deref()),
        };
        let held = view.held;
        self.shared.metrics.lease_held.set(i64::from(held));
        self.shared.lease.store(Some(Arc::new(view)));
        held
    }

    /// The lease as this instance sees it when it could not be claimed or renewed:
    /// held only while the last renewal lasts.
    fn lease_not_renewed(&self, reason: String, was: Option<&LeaseView>) -> LeaseView {
        let held = was.is_some_and(|v| v.held)
            && lock(&self.held_until).is_some_and(|t| t > Instant::now());
        tracing::warn!(error = %reason, held, "the sweeper's lease could not be renewed");
        LeaseView {
            held,
            ..was.cloned().unwrap_or(LeaseView {
                instance: self.instance.clone(),
                held,
                holder: None,
                token: None,
                expires_in_ms: None,
            })
        }
    }

    /// On an instance that does not sweep: answers from the latest sweep another instance
    /// recorded, when it is newer than the one answered from — by applying its changes to
    /// the answers held when the store has them, else by reading every answer. Returns
    /// the sweep now answered from.
    pub async fn follow_once(&self) -> Result<Option<SweepId>, StoreError> {
        let Some(store) = &self.follow_store else {
            return Ok(None);
        };
        if self.shared.is_sweeper() {
            return Ok(None); // its own sweeps swap the answers
        }
        let served = self.shared.verifier.sweep();
        let begun = Instant::now();
        let read = |whole: bool| {
            let store = Arc::clone(store);
            async move {
                tokio::task::spawn_blocking(move || {
                    let s = lock(&store);
                    match s.latest_ok_sweep()? {
                        Some(id) if Some(id) > served => match served {
                            Some(base) if !whole => match s.answer_changes(base)? {
                                Some(c) => Ok(Some(Followed::Changes(c))),
                                None => Ok(s.latest()?.map(Followed::Whole)),
                            },
                            _ => Ok(s.latest()?.map(Followed::Whole)),
                        },
                        _ => Ok(None),
                    }
                })
                .await
                .map_err(|e| StoreError {
                    path: String::new(),
                    reason: e.to_string(),
                })?
            }
        };
        let inputs = self.shared.inputs.load();
        let metrics = &self.shared.metrics;
        let (id, how) = match read(false).await? {
            None => return Ok(None),
            Some(Followed::Changes(c)) if self.shared.verifier.apply_changes(&c) => {
                self.shared.taken_at.store(Arc::new(Some(c.taken_at)));
                let n = c.sweep.counts.unwrap_or_default();
                metrics.record_sweep(
                    [
                        (Verdict::Readable, n.readable),
                        (Verdict::NotReadable, n.not_readable),
                        (Verdict::Unknown, n.unknown),
                    ],
                    &c.by_code,
                    &[],
                    0,
                );
                (c.sweep.id, "changes")
            }
            // Held answers moved on meanwhile (a reload): read them whole.
            Some(Followed::Changes(_)) => match read(true).await? {
                Some(Followed::Whole(latest)) => self.follow_whole(&inputs, latest),
                _ => return Ok(None),
            },
            Some(Followed::Whole(latest)) => self.follow_whole(&inputs, latest),
        };
        metrics
            .sweeps_followed
            .get_or_create(&crate::metrics::HowLabel {
                how: how.to_owned(),
            })
            .inc();
        tracing::info!(
            sweep = id,
            how,
            elapsed_ms = begun.elapsed().as_millis() as u64,
            "answering from the sweep the sweeper recorded"
        );
        let index = Arc::clone(&inputs.route_index);
        let verifier = self.shared.verifier.clone();
        tokio::task::spawn_blocking(move || index.refresh(&verifier));
        Ok(Some(id))
    }

    /// Answers from every answer of `latest`, read whole.
    fn follow_whole(&self, inputs: &Inputs, latest: Latest) -> (SweepId, &'static str) {
        self.shared.verifier.swap_stored(
            Arc::clone(&inputs.policies),
            &latest,
            inputs.settings.max_data_age,
        );
        self.shared.taken_at.store(Arc::new(Some(latest.taken_at)));
        record_latest(&self.shared.metrics, &latest);
        let id = latest.sweep.id;
        // A million answers are let go off the async threads.
        tokio::task::spawn_blocking(move || drop(latest));
        (id, "whole")
    }

    /// One sweep: gather evidence, judge every route, record the changes, swap the
    /// verifier, update metrics and queue alerts. One sweep at a time.
    #[tracing::instrument(skip_all)]
    pub async fn sweep_once(&self) -> Result<SweepReport, SweepError> {
        let _one = self.sweep_lock.lock().await;
        if !self.shared.is_sweeper() {
            let holder = self
                .shared
                .lease
                .load()
                .as_ref()
                .and_then(|l| l.holder.clone());
            return Err(SweepError::NotSweeper(
                holder.unwrap_or_else(|| "another instance".to_owned()),
            ));
        }
        let begun = Instant::now();
        let inputs = self.shared.inputs.load_full();
        // A pinned `now` is the time the sweep happens at, so that messages are reconciled
        // against it as they would have been then (docs/design.md, "Message outcomes").
        let started_at = inputs.judge_now();
        let label = inputs.source.label();
        // Onboarding answers first, so that this sweep's findings carry current links; a
        // failure is onboarding's own, never the sweep's.
        if let Err(e) = self.refresh_onboarding_once().await {
            tracing::error!(error = %e, "refreshing onboarding requests failed");
        }
        // The history of a sweep recorded before this process ended, if it was not written.
        match self.blocking(|s| s.write_history(None)).await? {
            Ok(Some((due, outcome))) => {
                tracing::info!(sweep = due, "wrote the history of a sweep recorded earlier");
                self.alert_changes(due, &outcome);
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "writing the history of an earlier sweep failed"),
        }
        let id = self
            .blocking(move |s| s.begin_sweep(started_at, &label))
            .await??;
        let result = self.judge_and_record(&inputs, id).await;
        self.sweeps_done.send_modify(|n| *n += 1);
        match result {
            Ok((outcome, failures)) => {
                let duration = begun.elapsed();
                self.shared.metrics.record_sweep(
                    [
                        (Verdict::Readable, outcome.counts.readable),
                        (Verdict::NotReadable, outcome.counts.not_readable),
                        (Verdict::Unknown, outcome.counts.unknown),
                    ],
                    &outcome.by_code,
                    &failures,
                    duration.as_millis() as i64,
                );
                tracing::info!(
                    sweep = id,
                    routes = outcome.counts.routes,
                    readable = outcome.counts.readable,
                    not_readable = outcome.counts.not_readable,
                    unknown = outcome.counts.unknown,
                    changed = outcome.changed,
                    finding_changes = outcome.changes.len(),
                    elapsed_ms = duration.as_millis() as u64,
                    "sweep recorded"
                );
                self.alert_changes(id, &outcome);
                // What happened to sent messages, beside the verdicts: its failure is its own
                // and never the sweep's.
                if let Err(e) = self.poll_outcomes_once().await {
                    tracing::error!(error = %e, "polling sent messages failed");
                }
                Ok(SweepReport {
                    id,
                    outcome,
                    duration,
                })
            }
            Err(SweepError::Store(e)) if e.is_fenced() => {
                // Deposed while sweeping: the write was refused, as it must be. The new
                // sweeper alerts; this instance only answers from here on.
                self.shared.metrics.fenced_writes.inc();
                tracing::warn!(sweep = id, error = %e, "sweep not recorded: another instance took the sweeper's lease over");
                self.claim_lease_once().await;
                let at = inputs.judge_now();
                let r = e.reason.clone();
                if let Ok(Err(e)) = self.blocking(move |s| s.fail_sweep(id, at, &r)).await {
                    tracing::error!(error = %e, "cannot record the failed sweep");
                }
                Err(SweepError::Store(e))
            }
            Err(e) => {
                let reason = e.to_string();
                tracing::error!(sweep = id, error = %reason, "sweep failed");
                self.shared
                    .metrics
                    .sweeps
                    .get_or_create(&crate::metrics::status("failed"))
                    .inc();
                let at = inputs.judge_now();
                let r = reason.clone();
                if let Ok(Err(e)) = self.blocking(move |s| s.fail_sweep(id, at, &r)).await {
                    tracing::error!(error = %e, "cannot record the failed sweep");
                }
                let _ = self.alerts.send(Alert::SweepFailed { at, reason });
                Err(e)
            }
        }
    }

    /// One poll of sent messages: list and read what is not final, place each message on
    /// its route, write it to the store in one transaction, queue alerts for messages
    /// unread past their deadline or whose notification failed, and refresh each route's
    /// history. `None` when there is no source of sent messages. One poll at a time.
    #[tracing::instrument(skip_all)]
    pub async fn poll_outcomes_once(&self) -> Result<Option<OutcomeReport>, SweepError> {
        let _one = self.outcome_lock.lock().await;
        let inputs = self.shared.inputs.load_full();
        let Some(source) = inputs.outcomes.clone().filter(|s| s.is_available()) else {
            return Ok(None);
        };
        let now = inputs
            .clock
            .now()
            .await
            .map_err(|e| SweepError::Outcomes(e.to_string()))?;
        let poll_for = inputs.settings.outcomes.poll_for;
        let known = self.blocking(|s| s.known_messages()).await??;
        let gathered = source
            .gather(&inputs.route_map.resources(), &known, now, poll_for)
            .await;
        drop(known);
        let (items, poll) = crate::outcome::place(
            gathered,
            &inputs.route_map,
            source.on_behalf_of(),
            now,
            poll_for,
            source.label(),
        );
        let record = poll.clone();
        let ingested = self
            .blocking(move |s| {
                let r = s.ingest(&items, now, poll_for)?;
                s.record_poll(&record)?;
                Ok::<_, StoreError>(r)
            })
            .await??;
        tracing::info!(
            listed = poll.listed,
            fetched = poll.fetched,
            stored = ingested.stored,
            new = ingested.new,
            unusable = poll.unusable,
            unrouted = poll.unrouted,
            incomplete = poll.incomplete.len(),
            "sent messages polled"
        );
        self.alert_incomplete(&poll.incomplete);
        let candidates = self.blocking(|s| s.alert_candidates()).await??;
        let alerts_queued = self.queue_at_risk(&inputs, &candidates, now).len() as u64;
        self.refresh_histories(&inputs, now).await?;
        Ok(Some(OutcomeReport {
            poll,
            ingested,
            alerts_queued,
            now: Some(now),
        }))
    }

    /// What each route's sent messages did, from the store, at `now`.
    async fn refresh_histories(
        &self,
        inputs: &Arc<Inputs>,
        now: Timestamp,
    ) -> Result<(), SweepError> {
        let all = self
            .blocking(|s| s.messages(&crate::store::MessageFilter::default()))
            .await??;
        let policies = Arc::clone(&inputs.policies);
        let histories =
            tokio::task::spawn_blocking(move || crate::outcome::histories(&all, &policies, now))
                .await
                .map_err(|e| SweepError::Worker(e.to_string()))?;
        self.shared.histories.store(Arc::new(histories));
        Ok(())
    }

    /// One batch of events pushed by Altinn: reads each message they name again with the
    /// sender's own token, stores what the re-fetch says (never what an event said), queues
    /// alerts for messages now at risk and refreshes the routes' histories. A re-fetch that
    /// fails changes nothing (the next poll catches up). One at a time with polls.
    #[tracing::instrument(skip_all, fields(hints = arrivals.len()))]
    pub async fn apply_hints(
        &self,
        arrivals: Vec<crate::events::Arrival>,
    ) -> Result<HintReport, SweepError> {
        let metrics = &self.shared.metrics.events;
        let mut first: rustc_hash::FxHashMap<crate::outcome::CorrespondenceId, Instant> =
            rustc_hash::FxHashMap::default();
        for a in &arrivals {
            let t = first.entry(a.hint.correspondence).or_insert(a.at);
            *t = (*t).min(a.at);
        }
        let mut ids: Vec<crate::outcome::CorrespondenceId> = first.keys().copied().collect();
        ids.sort_unstable();
        let inputs = self.shared.inputs.load_full();
        let Some(source) = inputs.outcomes.clone() else {
            metrics.refetch_failures.inc_by(ids.len() as u64);
            tracing::warn!(
                messages = ids.len(),
                "events arrived, but sent messages are not tracked: set `[outcomes]` beside `[live]`"
            );
            return Ok(HintReport {
                failed: ids.len() as u64,
                ..HintReport::default()
            });
        };
        let _one = self.outcome_lock.lock().await;
        let now = inputs
            .clock
            .now()
            .await
            .map_err(|e| SweepError::Outcomes(e.to_string()))?;
        let poll_for = inputs.settings.outcomes.poll_for;
        let mut items = Vec::new();
        let mut report = HintReport::default();
        for f in source.refetch(&ids).await {
            match f.details {
                Err(problem) => {
                    report.failed += 1;
                    tracing::warn!(correspondence = %f.id, %problem, "re-fetch after an event failed: nothing changes");
                }
                Ok(m) => items.push(crate::outcome::place_one(
                    f.id,
                    f.resource,
                    Ok(m),
                    &inputs.route_map,
                    source.on_behalf_of(),
                    now,
                    poll_for,
                )),
            }
        }
        metrics.refetch_failures.inc_by(report.failed);
        let stored: Vec<crate::outcome::CorrespondenceId> = items
            .iter()
            .filter_map(|i| match i {
                crate::outcome::Ingest::Message { message, .. } => Some(message.id),
                crate::outcome::Ingest::Unusable { .. } => None,
            })
            .collect();
        if !items.is_empty() {
            self.blocking(move |s| s.ingest(&items, now, poll_for))
                .await??;
        }
        for id in &stored {
            if let Some(t) = first.get(id) {
                metrics.push_to_store.observe(t.elapsed().as_secs_f64());
            }
        }
        report.stored = stored.len() as u64;
        let candidates = self.blocking(|s| s.alert_candidates()).await??;
        let queued = self.queue_at_risk(&inputs, &candidates, now);
        for id in &queued {
            if let Some(t) = first.get(id) {
                metrics.push_to_alert.observe(t.elapsed().as_secs_f64());
            }
        }
        report.alerts_queued = queued.len() as u64;
        if !self.shared.is_sweeper() && report.stored > 0 {
            // Only the sweeper alerts: tell it what was stored.
            if let Err(e) = self.blocking(|s| s.notify_messages_stored()).await? {
                tracing::warn!(error = %e, "the sweeper could not be told of the messages stored: its next poll alerts them");
            }
        }
        self.refresh_histories(&inputs, now).await?;
        tracing::info!(
            refetched = ids.len(),
            stored = report.stored,
            failed = report.failed,
            alerts_queued = report.alerts_queued,
            "events applied after re-fetching their messages"
        );
        Ok(report)
    }

    /// On the sweeper: queues the alerts due for the messages in the store (those another
    /// instance stored from Altinn Events, which it does not alert itself). Returns how many
    /// were queued.
    pub async fn queue_stored_at_risk(&self) -> Result<usize, SweepError> {
        let inputs = self.shared.inputs.load_full();
        let now = inputs
            .clock
            .now()
            .await
            .map_err(|e| SweepError::Outcomes(e.to_string()))?;
        let candidates = self.blocking(|s| s.alert_candidates()).await??;
        let queued = self.queue_at_risk(&inputs, &candidates, now).len();
        if queued > 0 {
            tracing::info!(queued, "alerts queued for messages another instance stored");
        }
        Ok(queued)
    }

    /// Reads every onboarding request again and lists the system's users (creates none:
    /// that is `reachcheck onboard`'s), into the store. `None` when `[onboarding]` with a
    /// system id and `[live]` are not both configured.
    ///
    /// # Errors
    /// What concerns every organisation (no token, the system's users not listed), or the
    /// store.
    #[tracing::instrument(skip_all)]
    pub async fn refresh_onboarding_once(
        &self,
    ) -> Result<Option<crate::onboarding::OnboardingRun>, SweepError> {
        let inputs = self.shared.inputs.load_full();
        let Some(settings) = inputs
            .settings
            .onboarding
            .clone()
            .filter(|o| o.system_id.is_some() && inputs.settings.live.is_some())
        else {
            return Ok(None);
        };
        let client = crate::onboarding::client_for(&inputs.settings, &settings)
            .map_err(SweepError::Onboarding)?;
        let known = self.blocking(|s| s.onboarding()).await??;
        let mut recipients: Vec<crate::model::OrgNumber> =
            inputs.routes.routes().map(|r| r.recipient).collect();
        recipients.sort_unstable();
        recipients.dedup();
        let run = crate::onboarding::run(
            &client,
            &settings,
            &recipients,
            &known,
            Timestamp::now(),
            false,
        )
        .await
        .map_err(|e| SweepError::Onboarding(e.to_string()))?;
        let record = run.clone();
        self.blocking(move |s| s.record_onboarding(&record))
            .await??;
        tracing::info!(
            organisations = run.organisations.len(),
            failed = run.failed(),
            follow_up = run.follow_up().len(),
            "onboarding requests refreshed"
        );
        Ok(Some(run))
    }

    /// An `outcomes_incomplete` alert for each resource whose list became incomplete.
    fn alert_incomplete(&self, incomplete: &[(ResourceId, String)]) {
        let mut seen = lock(&self.incomplete);
        let now: rustc_hash::FxHashSet<ResourceId> =
            incomplete.iter().map(|(r, _)| r.clone()).collect();
        for (resource, reason) in incomplete {
            if !seen.contains(resource) {
                let _ = self.alerts.send(Alert::OutcomesIncomplete {
                    at: Timestamp::now(),
                    resource: resource.to_string(),
                    reason: reason.clone(),
                });
            }
        }
        *seen = now;
    }

    /// Queues an alert item for each message unread past its deadline or with a failed
    /// notification that was neither alerted nor queued yet. Returns the messages queued.
    fn queue_at_risk(
        &self,
        inputs: &Inputs,
        candidates: &[crate::store::MessageRecord],
        now: Timestamp,
    ) -> Vec<crate::outcome::CorrespondenceId> {
        let mut queued = lock(&self.queued);
        let mut n = Vec::new();
        for m in candidates {
            let (Some(route), Some(t)) = (m.route(), m.message_type.as_ref()) else {
                continue;
            };
            let deadline = crate::outcome::deadline_of(&inputs.policies, t);
            for f in crate::outcome::assess_message(m, deadline, now) {
                let wanted = match f.code {
                    FindingCode::UnreadPastDeadline => m.alerted_unread.is_none(),
                    FindingCode::NotificationFailed => m.alerted_notification.is_none(),
                    _ => false,
                };
                let key = (m.id.to_string(), f.code.as_str().to_owned());
                if !wanted || !queued.insert(key) {
                    continue;
                }
                let item = AtRiskItem {
                    recipient: route.recipient.to_string(),
                    message: MessageAtRisk {
                        id: m.id.to_string(),
                        sender: route.sender.to_string(),
                        message_type: t.to_string(),
                        senders_reference: m.senders_reference.clone(),
                        published: m.published,
                        code: f.code.as_str().to_owned(),
                        severity: f.severity.as_str().to_owned(),
                        deadline: (f.code == FindingCode::UnreadPastDeadline)
                            .then_some(f.since)
                            .flatten(),
                    },
                    fallback: inputs
                        .policies
                        .message_type(t)
                        .and_then(|mt| mt.fallback.clone()),
                };
                if self.at_risk.send(item).is_ok() {
                    n.push(m.id);
                }
            }
        }
        n
    }

    async fn judge_and_record(
        &self,
        inputs: &Arc<Inputs>,
        id: SweepId,
    ) -> Result<(SweepOutcome, Vec<(SourceKind, u64)>), SweepError> {
        let mut gathered = inputs
            .source
            .gather(&inputs.routes, &inputs.policies)
            .await?;
        // Each organisation's own approval link, for its `not_authorized` findings.
        match self.blocking(|s| s.onboarding()).await? {
            Ok(known) => {
                for r in known.into_values() {
                    if let (Some(link), Some(u)) =
                        (r.approval_link, gathered.snapshot.units.get_mut(&r.org))
                    {
                        u.approval_link.get_or_insert_with(|| Arc::from(link));
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "approval links not read"),
        }
        let inputs = Arc::clone(inputs);
        let store = Arc::clone(&self.store);
        let shared = Arc::clone(&self.shared);
        let (evaluation, failures, outcome) = tokio::task::spawn_blocking(move || {
            let pass = crate::sweep::judge(
                gathered,
                (*inputs.policies).clone(),
                &inputs.routes,
                inputs.judge_now(),
                inputs.settings.max_data_age,
            );
            let taken_at = pass.engine.snapshot().taken_at;
            let finished_at = inputs.judge_now();
            let names = crate::sweep::names(&pass.engine, &inputs.routes);
            if let Some(ms) = std::env::var(RECORD_DELAY_ENV)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
            {
                tracing::info!(sweep = id, ms, "test delay before recording");
                std::thread::sleep(Duration::from_millis(ms));
            }
            let mut store = lock(&store);
            let counts = store.record_answers(id, finished_at, taken_at, &pass.evaluation)?;
            // Recorded: served from here on, while its history is written.
            let crate::sweep::Pass {
                engine,
                evaluation,
                failures,
                ..
            } = pass;
            shared.verifier.swap_sweep(engine, &evaluation, id);
            shared.taken_at.store(Arc::new(Some(taken_at)));
            let outcome = match store.write_history(Some((id, &evaluation))) {
                Ok(Some((_, outcome))) => outcome,
                Ok(None) => SweepOutcome {
                    counts,
                    ..SweepOutcome::default()
                },
                // The sweep stands (its answers are recorded); its history is written
                // before the next sweep's, or by the first reader of the history.
                Err(e) => {
                    tracing::error!(sweep = id, error = %e, "writing the sweep's history failed: tried again later");
                    SweepOutcome {
                        counts,
                        ..SweepOutcome::default()
                    }
                }
            };
            // Names for reports and letters: informational, so a failure is logged only.
            if let Err(e) = store.record_names(&names, finished_at) {
                tracing::warn!(error = %e, "organisation names not kept");
            }
            Ok::<_, SweepError>((evaluation, failures, outcome))
        })
        .await
        .map_err(|e| SweepError::Worker(e.to_string()))??;
        // Dropping a million judged routes takes a while, and so does listing the readable
        // ones for the searches: not on the async threads (searches are exact meanwhile).
        let index = Arc::clone(&self.shared.inputs.load().route_index);
        let verifier = self.shared.verifier.clone();
        tokio::task::spawn_blocking(move || {
            drop(evaluation);
            index.refresh(&verifier);
        });
        Ok((outcome, failures))
    }

    fn alert_changes(&self, id: SweepId, outcome: &SweepOutcome) {
        let pick = |c: Change| -> Vec<FindingRef> {
            outcome
                .changes
                .iter()
                .filter(|x| x.change == c && !x.suppressed)
                .map(|x| FindingRef {
                    sender: x.route.sender.to_string(),
                    message_type: x.route.message_type.to_string(),
                    recipient: x.route.recipient.to_string(),
                    code: x.code.as_str().to_owned(),
                    severity: x.code.severity().as_str().to_owned(),
                })
                .collect()
        };
        let (new, resolved, reopened) = (
            pick(Change::Opened),
            pick(Change::Resolved),
            pick(Change::Reopened),
        );
        if new.is_empty() && resolved.is_empty() && reopened.is_empty() {
            return;
        }
        let _ = self.alerts.send(Alert::SweepChanged {
            sweep_id: id,
            finished_at: Timestamp::now(),
            routes: outcome.counts.routes,
            readable: outcome.counts.readable,
            not_readable: outcome.counts.not_readable,
            unknown: outcome.counts.unknown,
            new,
            resolved,
            reopened,
        });
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> T + Send + 'static,
    ) -> Result<T, SweepError> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || f(&mut lock(&store)))
            .await
            .map_err(|e| SweepError::Worker(e.to_string()))
    }

    /// Reloads config, policies, routes and tokens. A broken new state is refused and the
    /// old one kept; the reason is returned (and logged).
    pub async fn reload(&self) -> Result<(), DaemonError> {
        let overrides = self.overrides.clone();
        let verifier = self.shared.verifier.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            let inputs = Inputs::load(&overrides)?;
            inputs.route_index.refresh(&verifier);
            Ok::<_, DaemonError>(inputs)
        })
        .await
        .map_err(|e| DaemonError::Worker(format!("the reload's worker failed: {e}")))?;
        match loaded {
            Ok(inputs) => {
                let old = self.shared.inputs.load();
                if inputs.settings.daemon.listen != old.settings.daemon.listen
                    || inputs.settings.daemon.store != old.settings.daemon.store
                {
                    tracing::warn!("`daemon.listen` and `daemon.store` take effect on restart");
                }
                let (new, was) = (&inputs.settings.daemon, &old.settings.daemon);
                if (
                    new.header_read_timeout,
                    new.idle_timeout,
                    new.max_connections,
                ) != (
                    was.header_read_timeout,
                    was.idle_timeout,
                    was.max_connections,
                ) {
                    tracing::warn!(
                        "`daemon.header_read_timeout`, `idle_timeout` and `max_connections` take effect on restart"
                    );
                }
                let (new, was) = (&inputs.settings.events, &old.settings.events);
                if (
                    new.enabled,
                    &new.path,
                    new.rate_per_second,
                    new.burst,
                    new.remember,
                ) != (
                    was.enabled,
                    &was.path,
                    was.rate_per_second,
                    was.burst,
                    was.remember,
                ) {
                    tracing::warn!(
                        "`events.enabled`, `path`, `rate_per_second`, `burst` and `remember` take effect on restart"
                    );
                }
                tracing::info!(
                    routes = inputs.routes.len(),
                    message_types = inputs.policies.message_types().len(),
                    "reloaded; the next sweep uses the new configuration"
                );
                let index = Arc::clone(&inputs.route_index);
                self.shared.inputs.store(Arc::new(inputs));
                // A sweep may have ended while the new table was read.
                let verifier = self.shared.verifier.clone();
                if !index.is_current(&verifier) {
                    tokio::task::spawn_blocking(move || index.refresh(&verifier));
                }
                self.shared
                    .metrics
                    .reloads
                    .get_or_create(&crate::metrics::status("ok"))
                    .inc();
                Ok(())
            }
            Err(e) => {
                for line in e.lines() {
                    tracing::error!(problem = %line, "reload refused; keeping the last good configuration");
                }
                self.shared
                    .metrics
                    .reloads
                    .get_or_create(&crate::metrics::status("failed"))
                    .inc();
                Err(e)
            }
        }
    }

    /// Checks what needs checking between sweeps: evidence grown too old, suppressions
    /// that lapsed, retention. Returns the alerts it queued.
    pub async fn housekeeping(&self) -> Vec<Alert> {
        let now = Timestamp::now();
        let inputs = self.shared.inputs.load_full();
        let mut out = Vec::new();
        if let Some(age) = self.shared.data_age(inputs.judge_now()) {
            let max = inputs.max_sweep_age();
            let stale = age > max;
            // Once when the evidence grows too old, again only after it was fresh.
            let was = self
                .stale_alerted
                .swap(stale, std::sync::atomic::Ordering::Relaxed);
            if stale && !was {
                out.push(Alert::StaleEvidence {
                    at: now,
                    data_age_seconds: age.as_secs(),
                    max_age_seconds: max.as_secs(),
                });
            }
        }
        let retention = SignedDuration::try_from(inputs.settings.daemon.retention)
            .unwrap_or(SignedDuration::MAX);
        let before = now.checked_sub(retention).unwrap_or(Timestamp::MIN);
        match self
            .blocking(move |s| Ok::<_, StoreError>((s.lapse_suppressions(now)?, s.prune(before)?)))
            .await
        {
            Ok(Ok((lapsed, pruned))) => {
                if pruned != Default::default() {
                    tracing::info!(?pruned, "retention: old history forgotten");
                }
                for s in lapsed {
                    out.push(Alert::SuppressionLapsed {
                        at: now,
                        suppression_id: s.id,
                        target: match (&s.sender, &s.message_type) {
                            (Some(snd), Some(t)) => format!("{snd} {t} {}", s.recipient),
                            _ => s.recipient.to_string(),
                        },
                        code: s.code.as_str().to_owned(),
                        justification: s.justification,
                        expired_at: s.expires_at,
                    });
                }
            }
            Ok(Err(e)) | Err(SweepError::Store(e)) => {
                tracing::error!(error = %e, "housekeeping")
            }
            Err(e) => tracing::error!(error = %e, "housekeeping"),
        }
        for a in &out {
            let _ = self.alerts.send(a.clone());
        }
        out
    }

    /// A heartbeat alert with the latest sweep.
    fn heartbeat(&self) -> Alert {
        let inputs = self.shared.inputs.load();
        Alert::Heartbeat {
            at: Timestamp::now(),
            last_sweep_id: self.shared.verifier.sweep(),
            last_sweep_at: **self.shared.taken_at.load(),
            data_age_seconds: self
                .shared
                .data_age(inputs.judge_now())
                .map(|d| d.as_secs()),
        }
    }
}

/// What a sweep loaded from the store says, in the metrics.
fn record_latest(metrics: &Metrics, l: &Latest) {
    let count = |v: Verdict| l.verdicts.iter().filter(|x| x.verdict == v).count() as u64;
    metrics.record_sweep(
        [
            (Verdict::Readable, count(Verdict::Readable)),
            (Verdict::NotReadable, count(Verdict::NotReadable)),
            (Verdict::Unknown, count(Verdict::Unknown)),
        ],
        &codes(
            l.verdicts
                .iter()
                .flat_map(|v| v.findings.iter().map(|f| f.code())),
        ),
        &[],
        0,
    );
}

/// A newer sweep, as an instance that follows read it.
enum Followed {
    /// The changes to the answers it holds.
    Changes(crate::store::AnswerChanges),
    /// Every answer.
    Whole(Latest),
}

fn codes(it: impl Iterator<Item = FindingCode>) -> Vec<(FindingCode, u64)> {
    let mut out: Vec<(FindingCode, u64)> = Vec::new();
    for c in it {
        match out.iter_mut().find(|(k, _)| *k == c) {
            Some((_, n)) => *n += 1,
            None => out.push((c, 1)),
        }
    }
    out
}

/// How long the audit writer gathers entries before writing them.
const AUDIT_FLUSH: Duration = Duration::from_millis(200);

/// Runs the daemon until `shutdown` is cancelled (or, with `once`, for one sweep): every
/// activity a named task; on shutdown each is waited for at most the grace period.
pub async fn run(
    daemon: Arc<Daemon>,
    listener: Option<tokio::net::TcpListener>,
    shutdown: CancellationToken,
    once: bool,
) -> Result<(), SweepError> {
    let listener = listener.map(|tcp| Listener { tcp, tls: None });
    run_on(daemon, listener, shutdown, once).await
}

/// The HTTP API's listener: a bound socket, and the TLS configuration when
/// `daemon.tls_cert`/`tls_key` are set (swapped on SIGHUP).
pub struct Listener {
    /// The bound socket.
    pub tcp: tokio::net::TcpListener,
    /// TLS, when configured.
    pub tls: Option<axum_server::tls_rustls::RustlsConfig>,
}

/// Reads the TLS files the current settings name into `tls`; a broken new pair is refused
/// and the last good one kept.
pub async fn reload_tls(daemon: &Daemon, tls: &axum_server::tls_rustls::RustlsConfig) {
    let settings = daemon.shared.inputs.load().settings.daemon.clone();
    let Some((cert, key)) = settings.tls() else {
        tracing::warn!("TLS is no longer configured: switching it off takes effect on restart");
        return;
    };
    let (cert, key) = (cert.to_owned(), key.to_owned());
    match tokio::task::spawn_blocking(move || crate::tls::server_config(&cert, &key)).await {
        Ok(Ok(config)) => {
            tls.reload_from_config(config);
            tracing::info!("TLS certificate and key reloaded");
        }
        Ok(Err(e)) => {
            tracing::error!(problem = %e, "TLS reload refused; keeping the last good certificate")
        }
        Err(e) => tracing::error!(error = %e, "the TLS reload's worker failed"),
    }
}

/// As [`run`], on a [`Listener`] that may carry TLS.
pub async fn run_on(
    daemon: Arc<Daemon>,
    listener: Option<Listener>,
    shutdown: CancellationToken,
    once: bool,
) -> Result<(), SweepError> {
    let Some(rx) = lock(&daemon.receivers).take() else {
        return Err(SweepError::Worker(
            "the daemon is already running".to_owned(),
        ));
    };
    let tracker = TaskTracker::new();
    let settings = daemon.shared.inputs.load().settings.daemon.clone();
    spawn(
        &tracker,
        "audit-writer",
        audit_writer(rx.audit, rx.audit_store, shutdown.clone()),
    );
    let notifier_settings = daemon.shared.inputs.load().alerts.clone();
    let window = daemon.shared.inputs.load().settings.outcomes.alert_window;
    spawn(
        &tracker,
        "alerts",
        alerts(
            daemon.clone(),
            AlertQueues {
                alerts: rx.alerts,
                at_risk: rx.at_risk,
                grouper: Grouper::new(window),
                store: Arc::clone(&daemon.alert_store),
                queued: Arc::clone(&daemon.queued),
            },
            notifier_settings,
            shutdown.clone(),
        ),
    );
    let mut tls_config = None;
    if let Some(Listener { tcp, tls }) = listener {
        let router = crate::api::router(Arc::clone(&daemon.shared));
        let stop = shutdown.clone();
        let limits = crate::listener::ListenerSettings {
            header_read_timeout: settings.header_read_timeout,
            idle_timeout: settings.idle_timeout,
            max_connections: settings.max_connections,
            grace: settings.grace,
        };
        tls_config.clone_from(&tls);
        let name = if tls.is_some() { "https" } else { "http" };
        spawn(
            &tracker,
            name,
            crate::listener::serve(tcp, tls, router, limits, stop),
        );
    }
    // The sweeper's lease first (several daemons on one store): the holder sweeps.
    let leasing = daemon.lease_store.clone();
    daemon.claim_lease_once().await;
    let result = if once {
        let r = daemon.sweep_once().await.map(|_| ());
        daemon.housekeeping().await;
        shutdown.cancel();
        r
    } else {
        spawn(
            &tracker,
            "signals",
            signals(daemon.clone(), tls_config, shutdown.clone()),
        );
        if leasing.is_some() {
            spawn(
                &tracker,
                "lease",
                leaseholder(daemon.clone(), shutdown.clone()),
            );
            spawn(
                &tracker,
                "follower",
                follower(daemon.clone(), shutdown.clone()),
            );
        }
        spawn(
            &tracker,
            "scheduler",
            scheduler(daemon.clone(), settings.interval, shutdown.clone()),
        );
        spawn(
            &tracker,
            "outcomes",
            outcome_poller(daemon.clone(), shutdown.clone()),
        );
        spawn(
            &tracker,
            "events",
            event_worker(daemon.clone(), rx.events, shutdown.clone()),
        );
        shutdown.cancelled().await;
        Ok(())
    };
    tracing::info!("shutting down");
    let fence = lock(&daemon.alert_store).fence().cloned();
    let held = daemon.shared.is_sweeper();
    // The audit and alert queues end when the daemon's senders go: the tasks drain them.
    drop(daemon);
    tracker.close();
    if tokio::time::timeout(settings.grace, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_ms = settings.grace.as_millis() as u64,
            "tasks still running after the grace period; leaving them"
        );
    }
    // The sweeper gives its lease up, so that another instance takes over at once.
    if let (Some(store), Some(fence), true) = (leasing, fence, held) {
        let released =
            tokio::task::spawn_blocking(move || lock(&store).release_lease(&fence)).await;
        match released {
            Ok(Ok(true)) => tracing::info!("the sweeper's lease given up"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the sweeper's lease could not be given up: it lapses")
            }
            Err(e) => {
                tracing::warn!(error = %e, "the sweeper's lease could not be given up: it lapses")
            }
        }
    }
    result
}

/// This instance's name when `daemon.instance` is not set: the host name and process id.
fn default_instance() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "reachcheck".to_owned());
    format!("{host}-{}", std::process::id())
}

fn spawn(
    tracker: &TaskTracker,
    name: &'static str,
    task: impl std::future::Future<Output = ()> + Send + 'static,
) {
    tracker.spawn(async move {
        tracing::debug!(task = name, "started");
        task.await;
        tracing::info!(task = name, "ended");
    });
}

async fn scheduler(daemon: Arc<Daemon>, interval: Duration, shutdown: CancellationToken) {
    // Sweeps are recorded at the judged time (a pinned `now`), so compare on that clock.
    let now = daemon.shared.inputs.load().judge_now();
    let delay = daemon.first_sweep_delay(interval, now);
    if !delay.is_zero() {
        tracing::info!(
            in_seconds = delay.as_secs(),
            "the store's latest sweep is recent: next sweep one interval after it"
        );
    }
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + delay, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            // A shutdown wins over a tick that is due at the same moment.
            biased;
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        if !daemon.shared.is_sweeper() {
            continue; // another instance sweeps
        }
        // A sweep in progress finishes (within the grace period) rather than being torn
        // half-way; the store would throw it away anyway.
        let _ = daemon.sweep_once().await;
        daemon.housekeeping().await;
        if shutdown.is_cancelled() {
            return;
        }
    }
}

/// Renews the sweeper's lease every third of its time; an instance that does not hold it
/// claims it every third too, and again the moment the holder's time runs out, so that a
/// dead sweeper is replaced within the lease of its last renewal.
async fn leaseholder(daemon: Arc<Daemon>, shutdown: CancellationToken) {
    let every = daemon.shared.inputs.load().settings.daemon.lease / 3;
    loop {
        let wait = match daemon.shared.lease.load().as_deref() {
            Some(LeaseView {
                held: false,
                expires_in_ms: Some(left),
                ..
            }) => every.min(Duration::from_millis(left.max(&0).unsigned_abs() + 20)),
            _ => every,
        };
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        daemon.claim_lease_once().await;
    }
}

/// How often an instance that does not sweep looks for a newer sweep to answer from while
/// it cannot listen for them.
const FOLLOW_EVERY: Duration = Duration::from_millis(250);
/// How often it looks while it listens (for a notice lost with a connection).
const FOLLOW_LISTENING_EVERY: Duration = Duration::from_secs(2);

/// On an instance that does not sweep: answers from each new sweep as soon as PostgreSQL
/// tells of its recording (`LISTEN`, on a thread and a connection of its own), and looks
/// on its own every [`FOLLOW_LISTENING_EVERY`] — every [`FOLLOW_EVERY`] while it cannot
/// listen.
async fn follower(daemon: Arc<Daemon>, shutdown: CancellationToken) {
    let heard = Arc::new(tokio::sync::Notify::new());
    let stored = Arc::new(tokio::sync::Notify::new());
    let listening = Arc::new(std::sync::atomic::AtomicBool::new(false));
    if let Some(mut listener) = lock(&daemon.listener).take() {
        let (heard, stored, listening, shutdown) = (
            Arc::clone(&heard),
            Arc::clone(&stored),
            Arc::clone(&listening),
            shutdown.clone(),
        );
        let notices = daemon.shared.metrics.sweep_notices.clone();
        let spawned = std::thread::Builder::new()
            .name("sweep-listener".to_owned())
            .spawn(move || {
                let mut failing = false;
                while !shutdown.is_cancelled() {
                    match listener.wait(Duration::from_millis(500)) {
                        Ok(got) => {
                            if failing {
                                tracing::info!("listening for recorded sweeps again");
                            }
                            failing = false;
                            listening.store(true, std::sync::atomic::Ordering::Relaxed);
                            if let Some(sweep) = got.sweep {
                                tracing::debug!(sweep, "told of a recorded sweep");
                                notices.inc();
                                heard.notify_one();
                            }
                            if got.messages {
                                stored.notify_one();
                            }
                        }
                        Err(e) => {
                            listening.store(false, std::sync::atomic::Ordering::Relaxed);
                            if !failing {
                                tracing::warn!(error = %e, "cannot listen for recorded sweeps: looking for them every 250 ms instead");
                            }
                            failing = true;
                            std::thread::sleep(Duration::from_secs(1));
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot listen for recorded sweeps: looking for them every 250 ms instead");
        }
    }
    let mut failing = false;
    let mut last = tokio::time::Instant::now();
    loop {
        let every = if listening.load(std::sync::atomic::Ordering::Relaxed) {
            FOLLOW_LISTENING_EVERY
        } else {
            FOLLOW_EVERY
        };
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            _ = stored.notified() => {
                // Another instance stored messages from events: the sweeper alerts them.
                if daemon.shared.is_sweeper()
                    && let Err(e) = daemon.queue_stored_at_risk().await
                {
                    tracing::warn!(error = %e, "messages another instance stored could not be read for alerts: the next poll alerts them");
                }
                continue;
            }
            _ = heard.notified() => {}
            _ = tokio::time::sleep_until(last + every) => {}
        }
        last = tokio::time::Instant::now();
        match daemon.follow_once().await {
            Ok(_) => failing = false,
            // Checks go on being answered from memory; said once until it reads again.
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "the latest sweep could not be read: answering from the one loaded");
            }
            Err(_) => {}
        }
    }
}

/// Polls sent messages every `outcomes.interval` between sweeps (which poll too), so that
/// a deadline passing is alerted within an interval. Missed ticks are skipped.
async fn outcome_poller(daemon: Arc<Daemon>, shutdown: CancellationToken) {
    let every = daemon.shared.inputs.load().settings.outcomes.interval;
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        if !daemon.shared.is_sweeper() {
            continue; // the sweeper polls
        }
        if let Err(e) = daemon.poll_outcomes_once().await {
            tracing::error!(error = %e, "polling sent messages failed");
        }
    }
}

/// Applies the hints the webhook queues, in batches (all that wait, up to 512 at once).
async fn event_worker(
    daemon: Arc<Daemon>,
    mut rx: mpsc::Receiver<crate::events::Arrival>,
    shutdown: CancellationToken,
) {
    let mut batch = Vec::new();
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            n = rx.recv_many(&mut batch, 512) => if n == 0 { return },
        }
        let arrivals = std::mem::take(&mut batch);
        if let Err(e) = daemon.apply_hints(arrivals).await {
            tracing::error!(error = %e, "events could not be applied: the next poll catches up");
        }
    }
}

async fn signals(
    daemon: Arc<Daemon>,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    shutdown: CancellationToken,
) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut hup), Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::hangup()),
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot listen for signals");
            return;
        };
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading");
                    let _ = daemon.reload().await;
                    if let Some(tls) = &tls {
                        reload_tls(&daemon, tls).await;
                    }
                }
                _ = term.recv() => { tracing::info!("SIGTERM"); shutdown.cancel(); return; }
                _ = int.recv() => { tracing::info!("SIGINT"); shutdown.cancel(); return; }
            }
        }
    }
    #[cfg(not(unix))]
    {
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = tokio::signal::ctrl_c() => shutdown.cancel(),
        }
        drop((daemon, tls));
    }
}

/// After shutdown, how long the audit writer waits for the last in-flight checks.
const AUDIT_LINGER: Duration = Duration::from_millis(300);
/// The first wait after a failed audit write; it doubles up to [`AUDIT_RETRY_MAX`].
const AUDIT_RETRY: Duration = Duration::from_millis(250);
const AUDIT_RETRY_MAX: Duration = Duration::from_secs(30);
/// Rows held while the store refuses them; beyond this the writer stops taking more, so
/// the queue fills and pre-send checks wait for room rather than rows being dropped.
const AUDIT_HELD: usize = 65_536;

async fn audit_writer(
    mut rx: mpsc::Receiver<AuditEntry>,
    store: Store,
    shutdown: CancellationToken,
) {
    let store = Arc::new(Mutex::new(store));
    let mut batch = Vec::new();
    let mut retry = AUDIT_RETRY;
    loop {
        if !batch.is_empty() {
            // Rows held from a failed write: add what is queued now, and try again.
            while batch.len() < AUDIT_HELD {
                match rx.try_recv() {
                    Ok(e) => batch.push(e),
                    Err(_) => break,
                }
            }
        } else {
            let n = tokio::select! {
                n = rx.recv_many(&mut batch, 4096) => n,
                // Stopping: take what in-flight requests still send, then end.
                _ = shutdown.cancelled() => {
                    tokio::time::timeout(AUDIT_LINGER, rx.recv_many(&mut batch, 4096))
                        .await
                        .unwrap_or(0)
                }
            };
            if n == 0 {
                return; // every sender gone, or stopping and quiet: the queue is drained
            }
            // Gather a little more, so a busy API writes in few transactions.
            let _ = tokio::time::timeout(AUDIT_FLUSH, async {
                while batch.len() < 16_384 {
                    if rx.recv_many(&mut batch, 4096).await == 0 {
                        break;
                    }
                }
            })
            .await;
        }
        let entries = std::mem::take(&mut batch);
        let store = Arc::clone(&store);
        let written = tokio::task::spawn_blocking(move || {
            let r = lock(&store).audit(&entries);
            (r, entries)
        })
        .await;
        match written {
            Ok((Ok(()), _)) => retry = AUDIT_RETRY,
            Ok((Err(e), entries)) => {
                if shutdown.is_cancelled() {
                    // Each attempt already waited out the store's busy timeout, which is
                    // about the grace period: say what is lost rather than be killed.
                    tracing::error!(
                        error = %e,
                        rows = entries.len(),
                        "stopping: audit rows could not be written"
                    );
                    return;
                }
                // Kept and tried again (a long sweep can hold the store's write lock past
                // its busy timeout): an audit row is never dropped while the daemon runs.
                tracing::warn!(
                    error = %e,
                    rows = entries.len(),
                    retry_in_ms = retry.as_millis() as u64,
                    "audit rows not written yet: will try again"
                );
                batch = entries;
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(AUDIT_RETRY_MAX);
            }
            Err(e) => {
                tracing::error!(error = %e, "the audit writer failed");
                return;
            }
        }
    }
}

/// What the alerts task reads from: single alerts, messages at risk to group, and the store
/// it records delivered message alerts in.
struct AlertQueues {
    alerts: mpsc::UnboundedReceiver<Alert>,
    at_risk: mpsc::UnboundedReceiver<AtRiskItem>,
    grouper: Grouper,
    store: Arc<Mutex<Store>>,
    queued: Arc<Mutex<rustc_hash::FxHashSet<(String, String)>>>,
}

impl AlertQueues {
    /// Sends the groups whose window closed (all, with `now = None`); records the messages
    /// of each delivered alert in the store, and lets those not delivered be queued again
    /// by the next poll.
    async fn flush(
        &mut self,
        notifier: &Notifier,
        shared: &Shared,
        now: Option<std::time::Instant>,
    ) {
        for (alert, items) in self.grouper.take_due(now, Timestamp::now()) {
            let delivered = send(notifier, &alert, shared).await;
            let keys: Vec<(String, String)> = items
                .iter()
                .map(|i| (i.message.id.clone(), i.message.code.clone()))
                .collect();
            let mut recorded = false;
            if delivered {
                let marks: Vec<(crate::outcome::CorrespondenceId, FindingCode)> = keys
                    .iter()
                    .filter_map(|(id, code)| {
                        Some((
                            crate::outcome::CorrespondenceId::parse(id).ok()?,
                            FindingCode::from_name(code)?,
                        ))
                    })
                    .collect();
                let store = Arc::clone(&self.store);
                let at = Timestamp::now();
                let marked =
                    tokio::task::spawn_blocking(move || lock(&store).mark_alerted(&marks, at))
                        .await;
                recorded = matches!(marked, Ok(Ok(())));
                if !recorded {
                    tracing::error!(
                        "delivered message alerts could not be recorded: they may be sent again"
                    );
                }
            }
            // Delivered and recorded: they stay marked as queued, so that a poll that read
            // its candidates before the record was written does not queue them again (it
            // would alert twice). Otherwise the next poll may queue them again.
            if !recorded {
                let mut queued = lock(&self.queued);
                for k in keys {
                    queued.remove(&k);
                }
            }
        }
    }
}

async fn alerts(
    daemon: Arc<Daemon>,
    mut q: AlertQueues,
    settings: AlertSettings,
    shutdown: CancellationToken,
) {
    let notifier = match Notifier::new(settings.clone()) {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(error = %e, "alerts cannot be sent");
            return;
        }
    };
    let metrics_of = Arc::clone(daemon.shared());
    // The first heartbeat goes out before anything else, so that a receiver always sees the
    // daemon start (even a `--once` run whose sweep is done before this task is first polled);
    // the next ones follow every interval.
    send(&notifier, &daemon.heartbeat(), &metrics_of).await;
    let every = settings.heartbeat_interval;
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let beat = {
        let d = Arc::clone(&daemon);
        move || d.heartbeat()
    };
    drop(daemon);
    let mut at_risk_open = true;
    loop {
        let due = q.grouper.next_due();
        let window_closes = async {
            match due {
                Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                None => std::future::pending().await,
            }
        };
        let alert = tokio::select! {
            // Queued alerts before the shutdown, so that none is left behind by chance.
            biased;
            a = q.alerts.recv() => match a {
                Some(a) => a,
                None => {
                    // Every sender is gone: deliver what waits, then stop.
                    while let Ok(i) = q.at_risk.try_recv() {
                        q.grouper.add(i, std::time::Instant::now());
                    }
                    q.flush(&notifier, &metrics_of, None).await;
                    return;
                }
            },
            i = q.at_risk.recv(), if at_risk_open => {
                match i {
                    Some(i) => q.grouper.add(i, std::time::Instant::now()),
                    None => at_risk_open = false,
                }
                continue;
            }
            _ = window_closes => {
                q.flush(&notifier, &metrics_of, Some(std::time::Instant::now())).await;
                continue;
            }
            _ = heartbeat.tick() => beat(),
            _ = shutdown.cancelled() => {
                // Deliver what is queued, windows or not, then stop.
                while let Ok(a) = q.alerts.try_recv() {
                    send(&notifier, &a, &metrics_of).await;
                }
                while let Ok(i) = q.at_risk.try_recv() {
                    q.grouper.add(i, std::time::Instant::now());
                }
                q.flush(&notifier, &metrics_of, None).await;
                return;
            }
        };
        send(&notifier, &alert, &metrics_of).await;
    }
}

/// Sends one alert; whether it was delivered (or logged, without a webhook).
async fn send(notifier: &Notifier, alert: &Alert, shared: &Shared) -> bool {
    // Among several daemons only the sweeper alerts: the others' alerts are left to it
    // (message alerts stay unmarked, so the sweeper's next poll raises them).
    if !shared.is_sweeper() {
        tracing::debug!(kind = alert.kind(), "not the sweeper: alert left to it");
        return false;
    }
    match notifier.send(alert).await {
        Ok(_) => true,
        Err(e) => {
            shared.metrics.alert_failures.inc();
            tracing::error!(error = %e, kind = alert.kind(), "alert not delivered");
            false
        }
    }
}
