//! # reachcheck
//!
//! Proves that every message a public body sends through Altinn reaches a person who can
//! read it. For every route (sender × message type × recipient) it joins the message
//! type's access policy with the people who actually hold the grants at the recipient, and
//! says `readable`, `not_readable` or `unknown` — never `readable` without proof — with the
//! reason, the evidence and who at the recipient can fix it.
//!
//! ## Map of the crate
//!
//! Data flows one way: sources → snapshot → engine → verdicts → store / verifier / output /
//! reports / alerts. One pass of it is a [`sweep`], the same for the command line and the
//! daemon. The local stand-in for Altinn (`altinn-sim`) is a binary of its own
//! (`src/bin/altinn-sim/`), not part of the library.
//!
//! | module | owns |
//! |---|---|
//! | [`model`] | domain types, checked at the boundary: [`OrgNumber`], [`Grant`], [`Route`], [`Verdict`], [`Finding`], ... |
//! | [`policy`] | message types, XACML resource policies and Altinn's automatic grants, loaded and compiled ([`Policies`]) |
//! | [`routing`] | the routing table CSV ([`RoutingTable`]) |
//! | [`evidence`] | evidence about recipients and resources behind one trait ([`EvidenceSource`]): the recorded [`SnapshotDir`] and the live APIs ([`evidence::live::LiveSource`]) |
//! | [`http`] | HTTP discipline for every upstream: rate limits, bounded concurrency, timeouts, retries |
//! | [`auth`] | Maskinporten's JWT grant, Altinn's token exchange, the token cache |
//! | [`engine`] | pure evaluation of docs/design.md's rules 2-14 ([`Engine`], [`evaluate`]) and explanations |
//! | [`sweep`] | one pass, the same for the command line and the daemon: gather evidence ([`sweep::Source`]), put Altinn's policies in place, evaluate ([`sweep::judge`]) |
//! | [`verifier`] | the pre-send check held in memory ([`Verifier`]) |
//! | [`search`] | the routing table indexed for AuthZEN searches, paged over the [`Verifier`]'s answers ([`search::RouteIndex`]) |
//! | [`events`] | Altinn Events pushed to the daemon's webhook: hints to re-fetch one message, never evidence ([`events::Inbox`]) |
//! | [`outcome`] | sent messages and their fate: Altinn Correspondence with the sender's own token, message → route, findings from what happened ([`outcome::assess`]) |
//! | [`onboarding`] | asking recipients to approve reachcheck's system user (vendor system-user requests), tracking the answers, coverage |
//! | [`store`] | the history, in SQLite or PostgreSQL: sweeps, verdict changes, finding lifecycles, suppressions, audit, sent messages ([`store::Store`]) |
//! | [`alerts`] | webhook alerts: what they say and how they are delivered ([`alerts::Notifier`]) |
//! | [`daemon`] | `reachcheck serve`: scheduled sweeps, reload, shutdown, alerts, as named tasks ([`daemon::Daemon`]) |
//! | [`api`] | the HTTP API: health, metrics, AuthZEN pre-send checks, findings, suppressions |
//! | [`report`] | compliance reports and remediation letters from the store (HTML, JSON, CSV, Markdown; nb/en) |
//! | [`metrics`] | the daemon's Prometheus metrics |
//! | [`output`] | table, JSON, CSV and Markdown renderings |
//! | [`settings`] | the configuration file and its defaults |
//! | [`listener`] | the daemon's HTTP listener: connection limit, header-read and idle timeouts, TLS, graceful shutdown |
//! | [`tls`] | TLS on the daemon's listener from PEM files |
//! | [`cli`] | the command line (`check`, `precheck`, `validate`, `serve`, `report`, `messages`, `onboard`, `subscribe`); only the binary uses it |
//! | [`problem`] | input problems with file and line, reported all at once |
//!
//! The engine never does I/O and never reads the clock; sources never judge.

pub mod alerts;
pub mod api;
pub mod auth;
pub mod cli;
pub mod daemon;
pub mod engine;
pub mod events;
pub mod evidence;
pub mod http;
pub mod listener;
pub mod metrics;
pub mod model;
pub mod onboarding;
pub mod outcome;
pub mod output;
pub mod policy;
pub mod problem;
pub mod report;
pub mod routing;
pub mod search;
pub mod settings;
pub mod store;
pub mod sweep;
pub mod tls;
pub mod verifier;

pub use engine::{Assessment, Engine, Evaluation, evaluate};
pub use evidence::{EvidenceSource, Snapshot, SnapshotDir};
pub use model::{
    EvidenceTier, Finding, FindingCode, Grant, MessageTypeId, OrgNumber, OrgNumberError,
    ResourceId, Route, Severity, Verdict,
};
pub use policy::Policies;
pub use routing::RoutingTable;
pub use verifier::{Decision, Verifier};
