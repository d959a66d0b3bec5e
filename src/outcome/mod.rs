//! Sent messages and their fate (docs/design.md, "Message outcomes"): the ground truth beside
//! reachcheck's predictions. With the sender's own token, Altinn Correspondence lists the
//! messages the sender published and gives each one's status history; reachcheck keeps, per
//! message, when it was published, first read, confirmed and whether the recipient was told,
//! and finds the messages that went unread while there is still time to send them another
//! way.
//!
//! | file | owns |
//! |---|---|
//! | `message.rs` | the checked types: [`CorrespondenceId`], [`Message`], [`Recipient`], [`NotificationOutcome`], finality |
//! | `details.rs` | parsing a details body into a [`Message`], masking personal data on the way |
//! | `pager.rs` | the list's window rule ([`Pager`]): past the 1000 cap without losing a sibling of a bulk send |
//! | `placing.rs` | message → route ([`RouteMap`], [`Placement`]) |
//! | `live.rs` | the Correspondence API over HTTP with the sender's own token ([`CorrespondenceClient`]) |
//! | `snapshot.rs` | recorded details in a snapshot directory (`correspondence/<id>/details.json`) |
//! | `clock.rs` | the time deadlines are measured against ([`OutcomeClock`]) |
//! | `assess.rs` | findings from stored messages ([`assess`]): pure |
//! | `history.rs` | what a route's messages did ([`RouteHistory`]), for `precheck` and AuthZEN |
//!
//! A poll is [`OutcomeSource::gather`] (I/O), then [`place`] (pure), then the store's
//! `ingest` (one transaction). Sources never judge: findings are computed from what the
//! store holds and the message types, and never change a route's verdict or an exit code.
//! Events pushed by Altinn are hints to read one message's details again
//! ([`OutcomeSource::refetch`]), never evidence (the `events` module).

mod assess;
mod clock;
mod details;
mod history;
mod live;
mod message;
mod pager;
mod placing;
mod snapshot;

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use reqwest::Url;
use rustc_hash::FxHashMap;

pub use assess::{OutcomeFinding, assess, assess_message, deadline_of, due_by};
pub use clock::{ClockError, OutcomeClock};
pub use details::{DetailsError, organisation, parse_details};
pub use history::{RouteHistory, histories};
pub use live::{ClientError, CorrespondenceClient, CorrespondenceEndpoints};
pub use message::{
    CorrespondenceId, CorrespondenceIdError, Message, NotificationOutcome, Recipient,
};
pub use pager::{Incomplete, LIST_CAP, Pager, Step, Window};
pub use placing::{Placement, RouteMap, Unrouted};
pub use snapshot::{CORRESPONDENCE, DETAILS_FILE, check_recorded};

use crate::alerts::Secret;
use crate::evidence::SnapshotDir;
use crate::model::{OrgNumber, ResourceId};
use crate::store::{KnownMessage, PollRecord};

/// The default scopes of the sender's own token for Correspondence (API-NOTES-2026 §3.4:
/// a service owner's token needs `altinn:serviceowner` and `altinn:correspondence.write`).
pub const DEFAULT_SCOPE: &str = "altinn:serviceowner altinn:correspondence.write";
/// The header Altinn's API management reads the subscription key from.
pub const SUBSCRIPTION_KEY_HEADER: &str = "Ocp-Apim-Subscription-Key";
/// How long a message is polled after it was published, unless it is final sooner.
pub const DEFAULT_POLL_FOR: SignedDuration = SignedDuration::from_hours(90 * 24);

/// The `[outcomes]` section: tracking what happened to sent messages.
#[derive(Clone, Debug, PartialEq)]
pub struct OutcomeSettings {
    /// Poll Altinn Correspondence over HTTP (with `[live]`). A snapshot directory's
    /// `correspondence/` is read whatever this says.
    pub live: bool,
    /// Maskinporten scopes of the sender's own token (space separated).
    pub scope: String,
    /// The API management subscription key, sent in [`OutcomeSettings::subscription_key_header`].
    pub subscription_key: Option<Secret>,
    /// The header name for the subscription key.
    pub subscription_key_header: String,
    /// The organisation to list for (`onBehalfOf`); `None` lets Altinn take the token's.
    pub on_behalf_of: Option<OrgNumber>,
    /// Messages are polled this long after publishing, unless final sooner.
    pub poll_for: SignedDuration,
    /// Time between polls in the daemon (besides the poll in every sweep).
    pub interval: Duration,
    /// Alerts about one recipient that arrive within this window go out as one.
    pub alert_window: Duration,
    /// Where the Correspondence API is (default: `live.altinn_url`).
    pub correspondence_url: Option<Url>,
    /// Read the time from this URL (`{"now": RFC 3339}`), e.g. a stand-in's `/_sim/clock`;
    /// for tests that let deadlines pass in seconds.
    pub clock_url: Option<Url>,
    /// A directory laid out like a snapshot whose `correspondence/` holds recorded details
    /// (default: the snapshot directory itself), when not polling live.
    pub recorded: Option<std::path::PathBuf>,
}

impl Default for OutcomeSettings {
    fn default() -> Self {
        OutcomeSettings {
            live: false,
            scope: DEFAULT_SCOPE.to_owned(),
            subscription_key: None,
            subscription_key_header: SUBSCRIPTION_KEY_HEADER.to_owned(),
            on_behalf_of: None,
            poll_for: DEFAULT_POLL_FOR,
            interval: Duration::from_secs(15 * 60),
            alert_window: Duration::from_secs(60),
            correspondence_url: None,
            clock_url: None,
            recorded: None,
        }
    }
}

/// What a source said about one correspondence.
#[derive(Clone, Debug, PartialEq)]
pub struct Fetched {
    /// The correspondence.
    pub id: CorrespondenceId,
    /// The resource it was listed under, when it was listed.
    pub resource: Option<ResourceId>,
    /// Its details, or why they cannot be used (named, never quoted).
    pub details: Result<Message, String>,
}

/// What a source gathered in one poll.
#[derive(Clone, Debug, Default)]
pub struct Gathered {
    /// Details read (or failed).
    pub items: Vec<Fetched>,
    /// Ids listed, over every resource.
    pub listed: u64,
    /// Lists that could not be read whole, per resource, with the reason.
    pub incomplete: Vec<(ResourceId, String)>,
    /// Requests sent.
    pub requests: u64,
}

/// One message ready for the store.
#[derive(Clone, Debug, PartialEq)]
pub enum Ingest {
    /// Usable details.
    Message {
        /// The message.
        message: Message,
        /// Where it belongs.
        placement: Placement,
        /// Whether nothing more will be learned.
        is_final: bool,
    },
    /// Details that could not be used: the message stays as it was, unconfirmed.
    Unusable {
        /// The correspondence.
        id: CorrespondenceId,
        /// Its resource, when listed.
        resource: Option<ResourceId>,
        /// Why (named, never quoted).
        problem: String,
    },
}

/// Why a poll could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum OutcomeError {
    /// The time to judge deadlines against could not be read.
    #[error(transparent)]
    Clock(#[from] ClockError),
    /// The store refused.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Where sent messages come from.
#[derive(Debug)]
pub enum OutcomeSource {
    /// Recorded details in a snapshot directory.
    Snapshot(SnapshotDir),
    /// The Correspondence API.
    Live(Box<CorrespondenceClient>),
}

/// The source of sent messages the settings and the evidence source call for: the
/// Correspondence API when `[outcomes]` polls live (sharing the live source's HTTP client and
/// token cache), else recorded details (`outcomes.recorded`, or the snapshot directory's
/// own `correspondence/`), or none.
///
/// # Errors
/// A subscription key or header that cannot be sent.
pub fn source_for(
    settings: &crate::settings::Settings,
    source: &crate::sweep::Source,
) -> Result<Option<OutcomeSource>, live::ClientError> {
    Ok(match source {
        crate::sweep::Source::Live(l) if settings.outcomes.live => {
            Some(OutcomeSource::Live(Box::new(CorrespondenceClient::new(
                l.http().clone(),
                std::sync::Arc::clone(l.auth()),
                l.endpoints().altinn.clone(),
                &settings.outcomes,
            )?)))
        }
        _ => match (&settings.outcomes.recorded, source) {
            (Some(dir), _) => Some(OutcomeSource::Snapshot(SnapshotDir::new(dir))),
            (None, crate::sweep::Source::Snapshot(d)) => Some(OutcomeSource::Snapshot(d.clone())),
            (None, crate::sweep::Source::Live(_)) => None,
        },
    })
}

/// The clock deadlines are measured against: `outcomes.clock_url` when set, else the
/// configured `now`, else the system clock.
///
/// # Errors
/// When the clock's HTTP client cannot be built.
pub fn clock_for(settings: &crate::settings::Settings) -> Result<OutcomeClock, ClockError> {
    Ok(match (&settings.outcomes.clock_url, settings.now) {
        (Some(url), _) => OutcomeClock::remote(url.clone())?,
        (None, Some(t)) => OutcomeClock::Fixed(t),
        (None, None) => OutcomeClock::System,
    })
}

impl OutcomeSource {
    /// Whether there is anything to poll: always for the API; for a snapshot, when it has
    /// a `correspondence/` directory.
    pub fn is_available(&self) -> bool {
        match self {
            OutcomeSource::Snapshot(d) => d.root().join(CORRESPONDENCE).is_dir(),
            OutcomeSource::Live(_) => true,
        }
    }

    /// What the store and the logs call this source.
    pub fn label(&self) -> String {
        match self {
            OutcomeSource::Snapshot(d) => format!("snapshot {}", d.root().display()),
            OutcomeSource::Live(c) => format!("live {}", c.endpoints().base),
        }
    }

    /// The organisation the list is asked for, if configured.
    pub fn on_behalf_of(&self) -> Option<OrgNumber> {
        match self {
            OutcomeSource::Snapshot(_) => None,
            OutcomeSource::Live(c) => c.endpoints().on_behalf_of,
        }
    }

    /// The details of `ids` read again (after an event about them): from the API with
    /// the sender's own token, or as recorded. An id with nothing recorded is named.
    pub async fn refetch(&self, ids: &[CorrespondenceId]) -> Vec<Fetched> {
        match self {
            OutcomeSource::Live(c) => c.refetch(ids).await,
            OutcomeSource::Snapshot(d) => {
                let all = snapshot::gather(d, &FxHashMap::default(), None).await;
                ids.iter()
                    .map(|id| {
                        all.items
                            .iter()
                            .find(|f| f.id == *id)
                            .cloned()
                            .unwrap_or_else(|| Fetched {
                                id: *id,
                                resource: None,
                                details: Err("no details are recorded for this message".to_owned()),
                            })
                    })
                    .collect()
            }
        }
    }

    /// Gathers the details of every message of `resources` that is not final in `known`
    /// (and, for a snapshot, every recorded one not final).
    pub async fn gather(
        &self,
        resources: &[ResourceId],
        known: &FxHashMap<CorrespondenceId, KnownMessage>,
        now: Timestamp,
        poll_for: SignedDuration,
    ) -> Gathered {
        match self {
            OutcomeSource::Snapshot(d) => snapshot::gather(d, known, Some(now)).await,
            OutcomeSource::Live(c) => c.gather(resources, known, now, poll_for).await,
        }
    }
}

/// One correspondence ready for the store: usable details placed on their route (or
/// counted unrouted) and marked final or not, the rest named.
pub fn place_one(
    id: CorrespondenceId,
    resource: Option<ResourceId>,
    details: Result<Message, String>,
    map: &RouteMap,
    on_behalf_of: Option<OrgNumber>,
    now: Timestamp,
    poll_for: SignedDuration,
) -> Ingest {
    match details {
        Ok(message) => {
            let placement = map.place(&message, on_behalf_of);
            let is_final = message.is_final(now, poll_for);
            Ingest::Message {
                message,
                placement,
                is_final,
            }
        }
        Err(problem) => Ingest::Unusable {
            id,
            resource,
            problem,
        },
    }
}

/// Turns what a source gathered into rows for the store, at `now` ([`place_one`] each),
/// and the poll's record.
pub fn place(
    gathered: Gathered,
    map: &RouteMap,
    on_behalf_of: Option<OrgNumber>,
    now: Timestamp,
    poll_for: SignedDuration,
    source: String,
) -> (Vec<Ingest>, PollRecord) {
    let mut record = PollRecord {
        at: Some(now),
        source,
        listed: gathered.listed,
        fetched: gathered.items.len() as u64,
        incomplete: gathered.incomplete,
        ..PollRecord::default()
    };
    let items: Vec<Ingest> = gathered
        .items
        .into_iter()
        .map(|f| {
            let item = place_one(f.id, f.resource, f.details, map, on_behalf_of, now, poll_for);
            match &item {
                Ingest::Message {
                    placement: Placement::Unrouted { .. },
                    ..
                } => record.unrouted += 1,
                Ingest::Unusable { id, problem, .. } => {
                    record.unusable += 1;
                    tracing::warn!(correspondence = %id, %problem, "details unusable: the message stays as it was");
                }
                Ingest::Message { .. } => {}
            }
            item
        })
        .collect();
    record.stored = items.len() as u64;
    for (resource, why) in &record.incomplete {
        tracing::warn!(%resource, reason = %why, "outcomes_incomplete: the list of sent messages could not be read whole");
    }
    (items, record)
}
