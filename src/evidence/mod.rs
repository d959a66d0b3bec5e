//! Evidence about recipients and resources, behind one trait: a [`Snapshot`] of what each
//! source said about each unit (its record, roles, connections, what each resource
//! delegation grants, notification addresses) and each resource (its registry entry, the
//! access lists that gate it), gathered by an [`EvidenceSource`] (a recorded snapshot
//! directory, or the live APIs over HTTP).
//!
//! Owns: reading sources into checked domain types, and telling "missing" from "failed".
//! Does not own: judging. Sources never decide a verdict.

pub mod live;
mod raw;
pub mod record;
mod resource;
mod snapshot_dir;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;
use rustc_hash::FxHashMap;

pub use resource::{AccessList, AccessListMode, Members, ResourceEvidence, ResourceMeta};
pub use snapshot_dir::{
    ACCESS_LISTS, ACCESS_LISTS_FILE, CONNECTIONS, MANIFEST, MASKINPORTEN, MEMBERS_FILE,
    NOTIFICATION_ADDRESSES, POLICY_FILE, RESOURCE_FILE, RESOURCE_POLICIES, RESOURCE_RIGHTS, ROLES,
    STATUS_SUFFIX, SUB_UNITS, SYSTEM_USER_REQUESTS, SnapshotDir, UNITS, status_path,
};
pub(crate) use snapshot_dir::{Recorded, recorded};

use crate::model::{OrgNumber, ResourceId, Rightholder, SourceFailure, Unit};
use crate::problem::{Problem, Problems};

/// What one source said about one unit.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Observed<T> {
    /// No data from this source: nothing is known, which is not the same as "empty".
    #[default]
    Missing,
    /// The source failed (malformed file, timeout, 5xx, ...): treated as missing, and named.
    Failed(Arc<SourceFailure>),
    /// The source answered that this caller may not see it (401 or 403): nothing is
    /// known, and what that means depends on the source (a unit that has not approved
    /// reachcheck's system user; notification addresses not open to this caller).
    Refused(Arc<SourceFailure>),
    /// The source answered.
    Present(T),
}

impl<T> Observed<T> {
    /// The data, if the source answered.
    pub fn present(&self) -> Option<&T> {
        match self {
            Observed::Present(t) => Some(t),
            _ => None,
        }
    }

    /// The failure, if the source failed.
    pub fn failure(&self) -> Option<&Arc<SourceFailure>> {
        match self {
            Observed::Failed(f) => Some(f),
            _ => None,
        }
    }

    /// The refusal, if the source refused this caller.
    pub fn refusal(&self) -> Option<&Arc<SourceFailure>> {
        match self {
            Observed::Refused(f) => Some(f),
            _ => None,
        }
    }
}

/// Everything known about one unit.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitEvidence {
    /// The unit.
    pub org: OrgNumber,
    /// Its Enhetsregisteret record.
    pub unit: Observed<Unit>,
    /// Its role holders in Enhetsregisteret (main units only).
    pub roles: Observed<Vec<Rightholder>>,
    /// Its rightholders in Altinn access management.
    pub connections: Observed<Vec<Rightholder>>,
    /// How many usable notification addresses it has.
    pub notification_addresses: Observed<u32>,
    /// When this unit's evidence was taken, if not the snapshot's `taken_at`.
    pub observed_at: Option<Timestamp>,
    /// Whether the unit approved reachcheck's system user (`None` when not known: not
    /// asked, or a recorded snapshot without a refusal).
    pub authorized: Option<bool>,
    /// The unit's own link to approve reachcheck's system user (`confirmUrl` of its
    /// pending vendor request), when one is known; carried by `not_authorized`.
    pub approval_link: Option<Arc<str>>,
    /// What each resource delegation in the unit's connections grants (rule 10), by
    /// (resource, party UUID of the rightholder); a delegation without an entry has no
    /// rights answer.
    pub resource_rights: FxHashMap<(ResourceId, Arc<str>), Observed<DelegatedRights>>,
}

/// The resource delegations among `holders`, as (resource, party UUID of the holder): one
/// rights answer each tells what it grants (rule 10). Holders without a party id have none.
pub fn delegations(holders: &[Rightholder]) -> Vec<(ResourceId, Arc<str>)> {
    let mut out: Vec<(ResourceId, Arc<str>)> = holders
        .iter()
        .filter_map(|h| h.party.as_ref().map(|p| (h, p)))
        .flat_map(|(h, party)| {
            h.grants.iter().filter_map(move |g| match g {
                crate::model::Grant::Resource(r) => Some((r.clone(), Arc::clone(party))),
                _ => None,
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// What one resource delegation grants: the actions of a `connections/resources/rights`
/// answer, direct and indirect together (docs/design.md, rule 10).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DelegatedRights {
    /// The actions (`read`, `write`, ...), as Altinn spells them.
    pub actions: Vec<Arc<str>>,
}

impl DelegatedRights {
    /// Whether the delegation grants `read` (compared exactly, as Altinn's matcher does).
    pub fn reads(&self) -> bool {
        self.actions.iter().any(|a| &**a == "read")
    }
}

impl UnitEvidence {
    /// A unit about which nothing is known yet.
    pub fn new(org: OrgNumber) -> Self {
        UnitEvidence {
            org,
            unit: Observed::Missing,
            roles: Observed::Missing,
            connections: Observed::Missing,
            notification_addresses: Observed::Missing,
            observed_at: None,
            authorized: None,
            approval_link: None,
            resource_rights: FxHashMap::default(),
        }
    }

    /// Every failed source of this unit (refusals are not failures: they mean something).
    pub fn failures(&self) -> impl Iterator<Item = &Arc<SourceFailure>> {
        [
            self.unit.failure(),
            self.roles.failure(),
            self.connections.failure(),
            self.notification_addresses.failure(),
        ]
        .into_iter()
        .flatten()
        .chain(self.resource_rights.values().filter_map(Observed::failure))
    }
}

/// Everything known about the recipients at one moment (docs/design.md, "Snapshot").
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// When the evidence was taken.
    pub taken_at: Timestamp,
    /// Evidence per unit.
    pub units: FxHashMap<OrgNumber, UnitEvidence>,
    /// Evidence per resource: its registry entry and access lists (rule 11).
    pub resources: BTreeMap<ResourceId, ResourceEvidence>,
    /// Where it came from (a directory, or the live APIs), for messages.
    pub origin: String,
}

impl Snapshot {
    /// An empty snapshot taken at `taken_at`.
    pub fn new(taken_at: Timestamp, origin: impl Into<String>) -> Self {
        Snapshot {
            taken_at,
            units: FxHashMap::default(),
            resources: BTreeMap::new(),
            origin: origin.into(),
        }
    }

    /// The evidence about a resource (missing everywhere when nothing was gathered).
    pub fn resource(&self, id: &ResourceId) -> Option<&ResourceEvidence> {
        self.resources.get(id)
    }

    /// The evidence about `org`, if any.
    pub fn unit(&self, org: OrgNumber) -> Option<&UnitEvidence> {
        self.units.get(&org)
    }

    /// The evidence about `org`, created empty if absent.
    pub fn unit_mut(&mut self, org: OrgNumber) -> &mut UnitEvidence {
        self.units
            .entry(org)
            .or_insert_with(|| UnitEvidence::new(org))
    }

    /// When `org`'s evidence was taken.
    pub fn observed_at(&self, org: OrgNumber) -> Timestamp {
        self.unit(org)
            .and_then(|u| u.observed_at)
            .unwrap_or(self.taken_at)
    }

    /// Every failed source, sorted by location.
    pub fn failures(&self) -> Vec<&Arc<SourceFailure>> {
        let mut out: Vec<_> = self
            .units
            .values()
            .flat_map(UnitEvidence::failures)
            .chain(self.resources.values().flat_map(ResourceEvidence::failures))
            .collect();
        out.sort_by(|a, b| a.location.cmp(&b.location));
        out
    }
}

/// What a non-2xx answer means for a source: the same for a live answer and for one
/// recorded in a snapshot's `.status.json`, so that both read it alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusMeaning {
    /// Nothing known: the source has no such thing (a unit not in a register, no roles).
    NoData,
    /// The source refused this caller (401, 403) where that says something: a unit that
    /// has not approved reachcheck (connections), addresses not open to it (rule 14).
    Refused,
    /// Altinn has no such resource (404 on a resource or its policy, M8).
    NotInAltinn,
    /// Anything else: a failed source (rule 9).
    Failed,
}

/// What `status` means for `source`.
pub fn status_meaning(source: crate::model::SourceKind, status: u16) -> StatusMeaning {
    use crate::model::SourceKind as K;
    match (source, status) {
        // A rights answer or list that is not there: no answer, as when it was not asked.
        (
            K::Unit
            | K::Roles
            | K::Connections
            | K::NotificationAddresses
            | K::ResourceRights
            | K::AccessListMembers,
            404,
        ) => StatusMeaning::NoData,
        (K::Connections | K::NotificationAddresses, 401 | 403) => StatusMeaning::Refused,
        (K::Resource | K::ResourcePolicy, 404) => StatusMeaning::NotInAltinn,
        _ => StatusMeaning::Failed,
    }
}

/// The evidence source as a whole could not be used (not one unit's data: that is a
/// [`SourceFailure`] inside the snapshot).
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// The snapshot directory does not exist.
    #[error(
        "`{0}`: the snapshot directory does not exist: pass `--snapshot DIR` or set `snapshot` in the config file"
    )]
    NoDirectory(PathBuf),
    /// The manifest is missing or malformed, so the evidence has no time.
    #[error("{0}")]
    Manifest(Problem),
    /// Several problems (from validation).
    #[error("{0}")]
    Problems(Problems),
    /// The live sources refused reachcheck's client itself.
    #[error(transparent)]
    Live(#[from] live::LiveError),
}

/// A resource's policy as Altinn's resource registry returned it (live), or as recorded
/// with a snapshot (`resourceregistry/<id>/policy.xml`).
#[derive(Clone, Debug, PartialEq)]
pub struct RemotePolicy {
    /// Where it came from.
    pub location: String,
    /// The XACML text.
    pub xml: String,
}

/// What a source gathered.
#[derive(Debug)]
pub struct Gathered {
    /// Evidence per unit.
    pub snapshot: Snapshot,
    /// The policy Altinn enforces for each resource, where the source knows it.
    pub policies: std::collections::BTreeMap<crate::model::ResourceId, Observed<RemotePolicy>>,
    /// Requests sent (every attempt, tokens included); 0 for a recorded snapshot.
    pub requests: u64,
}

/// A source of evidence about recipients. Sources gather; they never judge.
pub trait EvidenceSource {
    /// Gathers evidence about `recipients` and their main units, and the policies of
    /// `resources` where the source knows them. An error means the source as a whole is
    /// unusable; one unit's failure is a [`SourceFailure`] inside the result.
    fn gather(
        &self,
        recipients: &[OrgNumber],
        resources: &[crate::model::ResourceId],
    ) -> impl std::future::Future<Output = Result<Gathered, EvidenceError>> + Send;
}
