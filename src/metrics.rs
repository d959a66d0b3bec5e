//! The daemon's metrics, in Prometheus text format (`GET /metrics`), kept with
//! `prometheus-client`.
//!
//! Owns: the metric names and their meaning. Does not own: when they change (the daemon
//! and the API update them).

use std::sync::atomic::{AtomicI64, AtomicU64};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::model::{FindingCode, SourceKind, Verdict};

/// A verdict label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerdictLabel {
    /// `readable`, `not_readable` or `unknown`.
    pub verdict: String,
}

/// A finding-code label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    /// The finding code.
    pub code: String,
}

/// An upstream-source label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabel {
    /// The evidence source.
    pub source: String,
}

/// An outcome label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    /// `ok` or `failed`.
    pub status: String,
}

/// How an instance that follows loaded a sweep.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HowLabel {
    /// `changes` (applied to the answers held) or `whole` (every answer read).
    pub how: String,
}

/// Every metric the daemon exports.
pub struct Metrics {
    registry: Registry,
    /// Sweeps ended, by status.
    pub sweeps: Family<StatusLabel, Counter>,
    /// Duration of the last sweep, in seconds (milliseconds precision).
    pub sweep_duration_ms: Gauge,
    /// Routes of the last sweep by verdict.
    pub routes: Family<VerdictLabel, Gauge>,
    /// Findings on the routes of the last sweep, by code.
    pub findings: Family<CodeLabel, Gauge>,
    /// Evidence sources that failed, by source (cumulative over sweeps).
    pub upstream_errors: Family<SourceLabel, Counter>,
    /// Age of the evidence the pre-send answers rest on, in seconds (set at each scrape).
    pub data_age_seconds: Gauge<i64, AtomicI64>,
    /// The time `now` in the configuration pins (Unix seconds), 0 when the clock is used:
    /// ages are then measured against it.
    pub pinned_now_seconds: Gauge<i64, AtomicI64>,
    /// Pre-send checks answered, by verdict.
    pub checks: Family<VerdictLabel, Counter>,
    /// Configuration reloads, by status.
    pub reloads: Family<StatusLabel, Counter>,
    /// Alerts that could not be delivered.
    pub alert_failures: Counter<u64, AtomicU64>,
    /// Altinn Events pushed to the webhook.
    pub events: crate::events::EventMetrics,
    /// 1 while this instance holds the sweeper's lease (several daemons on one store).
    pub lease_held: Gauge<i64, AtomicI64>,
    /// Times this instance took the sweeper's lease (a start counts as one).
    pub lease_takeovers: Counter<u64, AtomicU64>,
    /// Writes of this instance refused because another had taken the lease over.
    pub fenced_writes: Counter<u64, AtomicU64>,
    /// Sweeps another instance recorded that this one loaded and now answers from, by how
    /// (`changes`: the changes applied to the answers held; `whole`: every answer read).
    pub sweeps_followed: Family<HowLabel, Counter>,
    /// Notices of a recorded sweep this instance heard from PostgreSQL (`LISTEN`).
    pub sweep_notices: Counter<u64, AtomicU64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("reachcheck");
        let m = Metrics {
            registry: Registry::default(),
            sweeps: Family::default(),
            sweep_duration_ms: Gauge::default(),
            routes: Family::default(),
            findings: Family::default(),
            upstream_errors: Family::default(),
            data_age_seconds: Gauge::default(),
            pinned_now_seconds: Gauge::default(),
            checks: Family::default(),
            reloads: Family::default(),
            alert_failures: Counter::default(),
            events: crate::events::EventMetrics::default(),
            lease_held: Gauge::default(),
            lease_takeovers: Counter::default(),
            fenced_writes: Counter::default(),
            sweeps_followed: Family::default(),
            sweep_notices: Counter::default(),
        };
        registry.register("sweeps", "Sweeps ended, by status", m.sweeps.clone());
        registry.register(
            "sweep_duration_milliseconds",
            "Duration of the last sweep",
            m.sweep_duration_ms.clone(),
        );
        registry.register(
            "routes",
            "Routes of the last successful sweep, by verdict",
            m.routes.clone(),
        );
        registry.register(
            "findings",
            "Findings on the routes of the last successful sweep, by code",
            m.findings.clone(),
        );
        registry.register(
            "upstream_errors",
            "Evidence sources that failed for a unit or resource, by source",
            m.upstream_errors.clone(),
        );
        registry.register(
            "data_age_seconds",
            "Age of the evidence pre-send checks are answered from",
            m.data_age_seconds.clone(),
        );
        registry.register(
            "pinned_now_seconds",
            "The time `now` in the configuration pins, as Unix seconds (0: the clock is used); ages are measured against it",
            m.pinned_now_seconds.clone(),
        );
        registry.register(
            "checks",
            "Pre-send checks answered, by verdict",
            m.checks.clone(),
        );
        registry.register(
            "reloads",
            "Configuration reloads, by status",
            m.reloads.clone(),
        );
        registry.register(
            "alert_failures",
            "Alerts that could not be delivered after their retries",
            m.alert_failures.clone(),
        );
        m.events.register(&mut registry);
        registry.register(
            "lease_held",
            "1 while this instance holds the sweeper's lease among the daemons on its store",
            m.lease_held.clone(),
        );
        registry.register(
            "lease_takeovers",
            "Times this instance took the sweeper's lease",
            m.lease_takeovers.clone(),
        );
        registry.register(
            "fenced_writes",
            "Writes refused because another instance had taken the sweeper's lease over",
            m.fenced_writes.clone(),
        );
        registry.register(
            "sweeps_followed",
            "Sweeps another instance recorded that this one answers from, by how it loaded them: their changes applied to the answers held, or every answer read",
            m.sweeps_followed.clone(),
        );
        registry.register(
            "sweep_notices",
            "Notices of a recorded sweep heard from PostgreSQL by an instance that follows",
            m.sweep_notices.clone(),
        );
        for v in [Verdict::Readable, Verdict::NotReadable, Verdict::Unknown] {
            let _ = m.routes.get_or_create(&verdict_label(v));
        }
        for how in ["changes", "whole"] {
            let _ = m.sweeps_followed.get_or_create(&HowLabel {
                how: how.to_owned(),
            });
        }
        for s in ["ok", "failed"] {
            let _ = m.sweeps.get_or_create(&status(s));
        }
        Metrics { registry, ..m }
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Sets the per-sweep gauges from a sweep's counts.
    pub fn record_sweep(
        &self,
        by_verdict: [(Verdict, u64); 3],
        by_code: &[(FindingCode, u64)],
        failures: &[(SourceKind, u64)],
        duration_ms: i64,
    ) {
        self.sweeps.get_or_create(&status("ok")).inc();
        self.sweep_duration_ms.set(duration_ms);
        for (v, n) in by_verdict {
            self.routes.get_or_create(&verdict_label(v)).set(n as i64);
        }
        self.findings.clear();
        for (c, n) in by_code {
            self.findings
                .get_or_create(&CodeLabel {
                    code: c.as_str().to_owned(),
                })
                .set(*n as i64);
        }
        for (s, n) in failures {
            self.upstream_errors
                .get_or_create(&SourceLabel {
                    source: source_name(*s).to_owned(),
                })
                .inc_by(*n);
        }
    }
}

/// The label of a verdict.
pub fn verdict_label(v: Verdict) -> VerdictLabel {
    VerdictLabel {
        verdict: match v {
            Verdict::Readable => "readable",
            Verdict::NotReadable => "not_readable",
            Verdict::Unknown => "unknown",
        }
        .to_owned(),
    }
}

/// The label of a status.
pub fn status(s: &str) -> StatusLabel {
    StatusLabel {
        status: s.to_owned(),
    }
}

fn source_name(s: SourceKind) -> &'static str {
    match s {
        SourceKind::Unit => "unit",
        SourceKind::Roles => "roles",
        SourceKind::Connections => "connections",
        SourceKind::NotificationAddresses => "notification_addresses",
        SourceKind::ResourcePolicy => "resource_policy",
        SourceKind::ResourceRights => "resource_rights",
        SourceKind::Resource => "resource",
        SourceKind::AccessLists => "access_lists",
        SourceKind::AccessListMembers => "access_list_members",
    }
}
