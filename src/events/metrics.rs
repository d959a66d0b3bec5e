//! The metrics of pushed events: what arrived, what was done with it, and how long a push
//! took to become an alert.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Why a push was ignored or refused.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// The reason.
    pub reason: String,
}

/// The label of a reason.
pub(crate) fn reason(r: &str) -> ReasonLabel {
    ReasonLabel {
        reason: r.to_owned(),
    }
}

/// Event metrics, registered with the daemon's others.
#[derive(Debug)]
pub struct EventMetrics {
    /// Pushes that reached the webhook.
    pub received: Counter<u64, AtomicU64>,
    /// Hints queued for a re-fetch.
    pub accepted: Counter<u64, AtomicU64>,
    /// Pushes answered 2xx and not acted on: `unknown_resource`, `unsubscribed_type`.
    pub ignored: Family<ReasonLabel, Counter>,
    /// Pushes refused: `malformed`, `oversized` (400), `rate_limited` (429), `busy` (503).
    pub refused: Family<ReasonLabel, Counter>,
    /// Events whose id was seen before.
    pub duplicates: Counter<u64, AtomicU64>,
    /// Subscription handshakes answered.
    pub validations: Counter<u64, AtomicU64>,
    /// Re-fetches of a message's details that failed (nothing changed).
    pub refetch_failures: Counter<u64, AtomicU64>,
    /// Seconds from a push reaching the webhook to its re-fetched state being stored.
    pub push_to_store: Histogram,
    /// Seconds from a push reaching the webhook to the alert it caused being queued (the
    /// alert leaves once `outcomes.alert_window` closes).
    pub push_to_alert: Histogram,
}

fn seconds() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

impl Default for EventMetrics {
    fn default() -> Self {
        EventMetrics {
            received: Counter::default(),
            accepted: Counter::default(),
            ignored: Family::default(),
            refused: Family::default(),
            duplicates: Counter::default(),
            validations: Counter::default(),
            refetch_failures: Counter::default(),
            push_to_store: seconds(),
            push_to_alert: seconds(),
        }
    }
}

impl EventMetrics {
    /// Registers every metric in `r` (names under `events_`).
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "events_received",
            "Pushes from Altinn Events that reached the webhook",
            self.received.clone(),
        );
        r.register(
            "events_accepted",
            "Pushed events queued for a re-fetch of their message",
            self.accepted.clone(),
        );
        r.register(
            "events_ignored",
            "Pushed events answered and not acted on, by reason",
            self.ignored.clone(),
        );
        r.register(
            "events_refused",
            "Pushes refused, by reason",
            self.refused.clone(),
        );
        r.register(
            "events_duplicates",
            "Pushed events whose id was seen before",
            self.duplicates.clone(),
        );
        r.register(
            "events_validations",
            "Subscription handshakes answered",
            self.validations.clone(),
        );
        r.register(
            "events_refetch_failures",
            "Re-fetches of a message's details after an event that failed (nothing changed)",
            self.refetch_failures.clone(),
        );
        r.register(
            "event_push_to_store_seconds",
            "From a push reaching the webhook to the message's re-fetched state stored",
            self.push_to_store.clone(),
        );
        r.register(
            "event_push_to_alert_seconds",
            "From a push reaching the webhook to the alert it caused being queued",
            self.push_to_alert.clone(),
        );
        for k in ["unknown_resource", "unsubscribed_type"] {
            let _ = self.ignored.get_or_create(&reason(k));
        }
        for k in ["malformed", "oversized", "rate_limited", "busy"] {
            let _ = self.refused.get_or_create(&reason(k));
        }
    }
}
