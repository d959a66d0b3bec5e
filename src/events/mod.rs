//! Altinn Events (API-NOTES-2026 §4): outcomes pushed as they happen, trusted only after
//! a re-fetch.
//!
//! Polling finds an unread message at the next poll; Altinn Events says at once that a
//! message was read, went unread past its due time, or that nobody was told. A push carries
//! no authentication, so an event is only a hint: the daemon fetches that message's details
//! again with the sender's own token through the outcome module's live code, and only what
//! the re-fetch says is stored (docs/design.md, "Message outcomes"). A forged event is harmless.
//!
//! | file | owns |
//! |---|---|
//! | `cloudevent.rs` | a pushed body parsed once: the handshake or a [`Hint`], every problem named |
//! | `webhook.rs` | the daemon's webhook: size, rate, de-duplication, unknown resources, the queue to the daemon ([`Inbox`]) |
//! | `settings.rs` | the `[events]` section ([`EventSettings`]) |
//! | `command.rs` | `reachcheck subscribe`: create what is missing, list, remove |
//! | `subscriptions.rs` | the Events subscriptions API, for `reachcheck subscribe` ([`Subscriptions`]) |
//! | `metrics.rs` | received, accepted, ignored, duplicates, re-fetch failures, push-to-alert time |
//!
//! Does not own: what a message's details mean (the outcome module), when the re-fetch
//! runs and what it alerts (the daemon).

pub mod cloudevent;
pub mod command;
mod metrics;
mod settings;
mod subscriptions;
pub mod webhook;

pub use cloudevent::{EventError, Hint, Pushed};
pub use metrics::{EventMetrics, ReasonLabel};
pub use settings::{DEFAULT_PATH, DEFAULT_SCOPE, DEFAULT_TYPES, EventSettings, KNOWN_TYPES};
pub(crate) use settings::{RawEvents, read as read_settings};
pub use subscriptions::{Planned, Subscription, SubscriptionError, Subscriptions};
pub use webhook::{Arrival, Inbox};
