//! The engine: pure evaluation of routes against policies and a snapshot, implementing
//! docs/design.md's "Route evaluation semantics" rules 2-14. No I/O, no clock: `now` is input.
//!
//! Owns: verdicts, reader counts and structured findings ([`Assessment`]), and turning
//! them into sentences ([`explain`]). Does not own: loading anything, or output formats.
//!
//! A verdict depends on the message type and the recipient, never on the sender, so
//! [`evaluate`] assesses each distinct (message type, recipient) pair once.

mod digest;
pub mod explain;

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::evidence::{
    AccessListMode, Observed, ResourceEvidence, ResourceMeta, Snapshot, UnitEvidence,
};
use crate::model::{
    AccessListGate, EvidenceTier, Finding, Gap, MessageTypeId, OrgNumber, ResourceId, Route,
    SourceKind, Verdict,
};
use crate::policy::{Policies, Tri};
use crate::routing::RoutingTable;
use digest::{Counts, Person, UnitDigest, add_person};

pub use explain::{ExplainOptions, ExplainedFinding, Explanation};

/// The default `max_data_age` (docs/design.md, rule 8).
pub const DEFAULT_MAX_DATA_AGE: SignedDuration = SignedDuration::from_hours(24);

/// The judgement of one (message type, recipient) pair.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    /// `readable`, `not_readable` or `unknown`.
    pub verdict: Verdict,
    /// Distinct persons (and system users, where counted) who can read every resource.
    pub readers: u32,
    /// Whether the rightholder evidence was complete (`connections`) or not (`er`).
    pub tier: EvidenceTier,
    /// The findings, in the order of the rules that raised them.
    pub findings: SmallVec<[Finding; 2]>,
    /// When the oldest evidence this judgement rests on was taken.
    pub observed_at: Timestamp,
    /// The main unit whose grants were inherited, if any.
    pub main_unit: Option<OrgNumber>,
}

impl Assessment {
    /// The findings as a slice.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }
}

/// Policies and a snapshot, prepared for answering many questions quickly.
pub struct Engine {
    policies: Arc<Policies>,
    snapshot: Arc<Snapshot>,
    max_data_age: SignedDuration,
    digests: FxHashMap<OrgNumber, UnitDigest>,
    /// Index into `profiles`, by organisation number.
    profile_index: FxHashMap<OrgNumber, u32>,
    /// The organisation number of each profile, ascending.
    profile_orgs: Vec<OrgNumber>,
    profiles: Vec<Profile>,
    /// The candidates of every profile, one after the other (see `Profile::candidates`).
    candidates: Vec<Candidate>,
    /// Per message type: the gates of its resources that are not open (rule 11).
    gates: Vec<SmallVec<[Arc<Gate>; 1]>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("units", &self.digests.len())
            .field("max_data_age", &self.max_data_age)
            .finish()
    }
}

/// What Enhetsregisteret says about a recipient (rule 2).
#[derive(Clone, Debug)]
enum Record {
    /// No record (missing or failed).
    Missing,
    /// Deleted, on this date if known.
    Deleted(Option<jiff::civil::Date>),
    /// An existing unit.
    Present,
}

/// Someone who might read: whether they count, their grants, and the grants they may
/// hold but the evidence does not prove.
#[derive(Clone, Debug)]
struct Candidate {
    counts: Counts,
    atoms: crate::policy::AtomSet,
    maybe: crate::policy::AtomSet,
}

/// How one candidate stands against a message type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Standing {
    /// Proven to read every resource.
    Reader,
    /// Proven not to.
    No,
    /// Depends on something the policy needs that reachcheck cannot evaluate (or a grant
    /// that matches only when case is ignored): `policy_indeterminate`.
    PolicyUncertain,
    /// Depends on evidence that is missing (a delegation's rights answer): `no_data`.
    DataMissing,
}

/// How someone holding `atoms` for sure, and perhaps `maybe` too, stands against a
/// message type.
fn standing(
    compiled: &crate::policy::CompiledType,
    atoms: &crate::policy::AtomSet,
    maybe: &crate::policy::AtomSet,
) -> Standing {
    let certain = compiled.decide(atoms);
    if maybe.is_empty() {
        return match certain {
            Tri::Yes => Standing::Reader,
            Tri::No => Standing::No,
            Tri::Maybe => Standing::PolicyUncertain,
        };
    }
    let mut all = atoms.clone();
    all.union_with(maybe);
    match (certain, compiled.decide(&all)) {
        (Tri::Yes, Tri::Yes) => Standing::Reader,
        (Tri::No, Tri::No) => Standing::No,
        (Tri::Maybe, Tri::Maybe) => Standing::PolicyUncertain,
        // What is missing decides.
        _ => Standing::DataMissing,
    }
}

impl Candidate {
    fn standing(&self, compiled: &crate::policy::CompiledType) -> Standing {
        standing(compiled, &self.atoms, &self.maybe)
    }
}

/// What access lists (or the resource's registry entry) say about a resource, prepared
/// once per snapshot (rule 11).
#[derive(Debug)]
enum Gate {
    /// No usable registry entry: a route that would be readable is not proven.
    Unproven(Finding),
    /// Altinn answered 404 for the resource or its policy.
    NotInAltinn(Finding),
    /// Access lists gate the resource.
    Lists {
        /// Organisations on a bound list that allows `read`.
        members: rustc_hash::FxHashSet<OrgNumber>,
        /// Why membership is not fully known, if it is not.
        unknown: SmallVec<[Finding; 1]>,
        /// The finding for a recipient on no such list.
        deny: Finding,
    },
}

/// A gate's answer for one recipient.
enum Passage<'a> {
    Pass,
    Deny(&'a Finding),
    Unproven(&'a [Finding]),
    NotInAltinn(&'a Finding),
}

impl Gate {
    /// Builds the gate of `resource` from its evidence; `None` when it is open.
    fn of(resource: &ResourceId, ev: Option<&ResourceEvidence>) -> Option<Gate> {
        let gap = |source, list: Option<&Arc<str>>| Gap {
            source,
            unit: None,
            resource: Some(resource.clone()),
            party: None,
            list: list.cloned(),
        };
        let no_data = |gaps: Vec<Gap>| Finding::NoData {
            no_record: false,
            recipient_connections: false,
            main_unit_connections: None,
            gaps: Some(Arc::from(gaps)),
        };
        let metadata = ev.map_or(&Observed::Missing, |e| &e.metadata);
        let owner = match metadata {
            Observed::Missing => {
                return Some(Gate::Unproven(no_data(vec![gap(
                    SourceKind::Resource,
                    None,
                )])));
            }
            Observed::Failed(f) | Observed::Refused(f) => {
                return Some(Gate::Unproven(Finding::SourceError(Arc::clone(f))));
            }
            Observed::Present(ResourceMeta::NotInAltinn { location }) => {
                return Some(Gate::NotInAltinn(Finding::ResourceNotInAltinn {
                    resource: resource.clone(),
                    location: Arc::clone(location),
                }));
            }
            Observed::Present(ResourceMeta::Found {
                access_list_mode: AccessListMode::Disabled,
                ..
            }) => return None,
            Observed::Present(ResourceMeta::Found { owner, .. }) => owner.clone(),
        };
        let mut members = rustc_hash::FxHashSet::default();
        let mut unknown: SmallVec<[Finding; 1]> = SmallVec::new();
        let mut gaps = Vec::new();
        let mut lists = Vec::new();
        match ev.map_or(&Observed::Missing, |e| &e.access_lists) {
            Observed::Missing => gaps.push(gap(SourceKind::AccessLists, None)),
            Observed::Failed(f) | Observed::Refused(f) => {
                unknown.push(Finding::SourceError(Arc::clone(f)));
            }
            Observed::Present(bound) => {
                for list in bound.iter().filter(|l| l.allows_read()) {
                    lists.push(Arc::clone(&list.identifier));
                    match &list.members {
                        Observed::Present(m) => {
                            members.extend(m.orgs.iter().copied());
                            if m.unidentified > 0 {
                                gaps.push(gap(
                                    SourceKind::AccessListMembers,
                                    Some(&list.identifier),
                                ));
                            }
                        }
                        Observed::Missing => {
                            gaps.push(gap(SourceKind::AccessListMembers, Some(&list.identifier)));
                        }
                        Observed::Failed(f) | Observed::Refused(f) => {
                            unknown.push(Finding::SourceError(Arc::clone(f)));
                        }
                    }
                }
            }
        }
        if !gaps.is_empty() {
            unknown.insert(0, no_data(gaps));
        }
        Some(Gate::Lists {
            members,
            unknown,
            deny: Finding::NotOnAccessList(Arc::new(AccessListGate {
                resource: resource.clone(),
                owner,
                lists,
            })),
        })
    }

    fn passage(&self, recipient: OrgNumber) -> Passage<'_> {
        match self {
            Gate::Unproven(f) => Passage::Unproven(std::slice::from_ref(f)),
            Gate::NotInAltinn(f) => Passage::NotInAltinn(f),
            Gate::Lists {
                members,
                unknown,
                deny,
            } => {
                if members.contains(&recipient) {
                    Passage::Pass
                } else if !unknown.is_empty() {
                    Passage::Unproven(unknown)
                } else {
                    Passage::Deny(deny)
                }
            }
        }
    }
}

/// Everything about a recipient that does not depend on the message type, prepared once
/// per snapshot so that judging a route is one lookup and a loop over its candidates.
#[derive(Clone, Debug)]
struct Profile {
    record: Record,
    /// The main unit whose grants are inherited (rule 4).
    main_unit: Option<OrgNumber>,
    /// Connections present (and consistent) for the recipient and, if it inherits, its
    /// main unit (rules 6, 13).
    complete: bool,
    recipient_connections_missing: bool,
    main_unit_connections_missing: Option<OrgNumber>,
    /// Units whose connections name no person beside living key-role holders (rule 13).
    inconsistent: SmallVec<[(OrgNumber, u32); 1]>,
    /// Resource delegations of the recipient and its main unit without a rights answer.
    rights_gaps: Option<Arc<[Gap]>>,
    /// Distinct persons of the recipient and its inherited main unit (rules 3-5): a range
    /// of `Engine::candidates`.
    candidates: std::ops::Range<u32>,
    /// The rule-7 finding for message types that require notification.
    notification: Option<Finding>,
    /// `source_error` findings of the recipient and its main unit (rule 9).
    failures: SmallVec<[Finding; 1]>,
    /// When the oldest evidence about it was taken (rule 8).
    observed_at: Timestamp,
    /// The recipient and inherited main unit, if they have not approved reachcheck's
    /// system user (live sources) and so have no connections evidence.
    refused: SmallVec<[(OrgNumber, Option<Arc<str>>); 1]>,
}

impl Engine {
    /// Digests every unit in the snapshot against the policies.
    pub fn new(
        policies: Arc<Policies>,
        snapshot: Arc<Snapshot>,
        max_data_age: SignedDuration,
    ) -> Self {
        let digests: FxHashMap<OrgNumber, UnitDigest> = snapshot
            .units
            .iter()
            .map(|(org, ev)| (*org, UnitDigest::of(ev, &policies)))
            .collect();
        let mut profile_index = FxHashMap::default();
        let mut profiles = Vec::with_capacity(snapshot.units.len());
        let mut profile_orgs = Vec::with_capacity(snapshot.units.len());
        let mut candidates = Vec::new();
        // In organisation-number order: deterministic, and routing tables listed by
        // recipient then walk the profiles in memory order.
        let mut orgs: Vec<&OrgNumber> = snapshot.units.keys().collect();
        orgs.sort_unstable();
        for org in orgs {
            let ev = &snapshot.units[org];
            let p = profile(&policies, &snapshot, &digests, ev, &mut candidates);
            profile_index.insert(*org, u32::try_from(profiles.len()).unwrap_or(u32::MAX));
            profile_orgs.push(*org);
            profiles.push(p);
        }
        let mut by_resource: FxHashMap<&ResourceId, Option<Arc<Gate>>> = FxHashMap::default();
        let gates = policies
            .message_types()
            .iter()
            .map(|mt| {
                mt.resources
                    .iter()
                    .filter_map(|r| {
                        by_resource
                            .entry(r)
                            .or_insert_with(|| Gate::of(r, snapshot.resource(r)).map(Arc::new))
                            .clone()
                    })
                    .collect()
            })
            .collect();
        Engine {
            gates,
            policies,
            snapshot,
            max_data_age,
            digests,
            profile_index,
            profile_orgs,
            profiles,
            candidates,
        }
    }

    /// The policies.
    pub fn policies(&self) -> &Arc<Policies> {
        &self.policies
    }

    /// The snapshot.
    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// The maximum evidence age.
    pub fn max_data_age(&self) -> SignedDuration {
        self.max_data_age
    }

    /// Judges whether the message type at `type_index` (see
    /// [`Policies::message_type_index`]) sent to `recipient` can be read, as of `now`.
    pub fn assess(&self, type_index: usize, recipient: OrgNumber, now: Timestamp) -> Assessment {
        self.assess_with(type_index, recipient, now)
    }

    /// Like [`Engine::assess`], for a message type given by id; `None` if unknown.
    pub fn assess_id(
        &self,
        message_type: &MessageTypeId,
        recipient: OrgNumber,
        now: Timestamp,
    ) -> Option<Assessment> {
        self.policies
            .message_type_index(message_type)
            .map(|i| self.assess(i, recipient, now))
    }

    fn assess_with(&self, type_index: usize, recipient: OrgNumber, now: Timestamp) -> Assessment {
        let profile = self.profile_index.get(&recipient).copied();
        self.assess_profile(type_index, profile, now)
    }

    fn assess_profile(
        &self,
        type_index: usize,
        profile: Option<u32>,
        now: Timestamp,
    ) -> Assessment {
        let mt = &self.policies.message_types()[type_index];
        let recipient = profile.map(|i| self.profile_orgs[i as usize]);
        let Some(p) = profile.map(|i| &self.profiles[i as usize]) else {
            // Nothing at all about the recipient: rule 2, no record.
            let mut a = Assessment {
                verdict: Verdict::Unknown,
                readers: 0,
                tier: EvidenceTier::Er,
                findings: SmallVec::new(),
                observed_at: self.snapshot.taken_at,
                main_unit: None,
            };
            a.findings.push(Finding::NoData {
                no_record: true,
                recipient_connections: false,
                main_unit_connections: None,
                gaps: None,
            });
            self.stale(&mut a, now);
            return a;
        };
        let mut a = Assessment {
            verdict: Verdict::Unknown,
            readers: 0,
            tier: EvidenceTier::Er,
            findings: SmallVec::new(),
            observed_at: p.observed_at,
            main_unit: None,
        };
        match &p.record {
            // Rule 2: no Enhetsregisteret record, or a deleted recipient, ends the evaluation.
            Record::Missing => a.findings.push(Finding::NoData {
                no_record: true,
                recipient_connections: false,
                main_unit_connections: None,
                gaps: None,
            }),
            Record::Deleted(on) => {
                a.verdict = Verdict::NotReadable;
                a.findings.push(Finding::RecipientDeleted { on: *on });
            }
            Record::Present => {
                a.main_unit = p.main_unit;
                if p.complete {
                    a.tier = EvidenceTier::Connections;
                }
                // Rules 3-5, 10, 12: distinct persons who can read every resource.
                let compiled = self.policies.compiled(type_index);
                let mut uncertain: Option<usize> = None;
                let mut data_missing = false;
                let range = p.candidates.start as usize..p.candidates.end as usize;
                for c in &self.candidates[range] {
                    let countable = match c.counts {
                        Counts::Person => true,
                        Counts::SystemUser => mt.count_system_users,
                        Counts::Never => false,
                    };
                    if !countable {
                        continue;
                    }
                    match c.standing(compiled) {
                        Standing::Reader => a.readers += 1,
                        Standing::PolicyUncertain => {
                            if uncertain.is_none() {
                                uncertain = compiled
                                    .resources
                                    .iter()
                                    .position(|r| r.decide(&c.atoms) == Tri::Maybe)
                                    .or(Some(0));
                            }
                        }
                        Standing::DataMissing => data_missing = true,
                        Standing::No => {}
                    }
                }

                // Rule 6.
                if a.readers >= 1 {
                    a.verdict = Verdict::Readable;
                    if a.readers < mt.min_readers {
                        a.findings.push(Finding::TooFewReaders {
                            readers: a.readers,
                            min: mt.min_readers,
                        });
                    }
                } else if uncertain.is_some() || data_missing {
                    if let Some(i) = uncertain {
                        a.findings.push(Finding::PolicyIndeterminate {
                            resource: mt.resources[i].clone(),
                        });
                    }
                    if data_missing {
                        a.findings.push(Finding::NoData {
                            no_record: false,
                            recipient_connections: false,
                            main_unit_connections: None,
                            gaps: rights_gaps(p, &mt.resources),
                        });
                    }
                } else if p.complete {
                    a.verdict = Verdict::NotReadable;
                    a.findings.push(Finding::NoReader);
                } else {
                    let missing = p.recipient_connections_missing
                        || p.main_unit_connections_missing.is_some();
                    if missing || p.inconsistent.is_empty() {
                        a.findings.push(Finding::NoData {
                            no_record: false,
                            recipient_connections: p.recipient_connections_missing,
                            main_unit_connections: p.main_unit_connections_missing,
                            gaps: None,
                        });
                    }
                    // Rule 13: connections that contradict Enhetsregisteret prove nothing.
                    for &(unit, key_role_holders) in &p.inconsistent {
                        a.findings.push(Finding::EvidenceInconsistent {
                            unit,
                            key_role_holders,
                        });
                    }
                }

                // Rule 11: access lists and the resource's registry entry.
                if let Some(recipient) = recipient {
                    self.gate(type_index, recipient, &mut a);
                }

                // Rule 7: someone must be told that a message arrived.
                if mt.require_notification
                    && let Some(f) = &p.notification
                {
                    a.findings.push(f.clone());
                }

                // Live sources: a unit that has not approved our system user has no
                // connections evidence, and only it can change that.
                if a.verdict != Verdict::Readable {
                    for (unit, link) in &p.refused {
                        a.findings.push(Finding::NotAuthorized {
                            unit: *unit,
                            approval_link: link.clone(),
                        });
                    }
                }
                // The policy Altinn enforces differs from the local copy: judged by Altinn's.
                for d in self.policies.drift(type_index) {
                    a.findings.push(Finding::PolicyDrift(Arc::clone(d)));
                }
                // A resource whose policy could not be fetched: nothing is proven (rule 9).
                for f in self.policies.unavailable(type_index) {
                    a.verdict = Verdict::Unknown;
                    a.findings.push(Finding::SourceError(Arc::clone(f)));
                }
            }
        }

        // Rule 9: a failed source of the recipient or its main unit leaves the route unknown.
        for f in &p.failures {
            a.verdict = Verdict::Unknown;
            a.findings.push(f.clone());
        }
        self.stale(&mut a, now);
        a
    }

    /// Rule 11: a recipient on no access list that allows `read` is denied whoever holds
    /// the grants; one whose membership (or the resource's registry entry) is not known
    /// is not proven readable; a resource Altinn does not have proves nothing.
    fn gate(&self, type_index: usize, recipient: OrgNumber, a: &mut Assessment) {
        let gates = &self.gates[type_index];
        if gates.is_empty() {
            return;
        }
        let mut denied = false;
        let mut unproven: SmallVec<[&Finding; 1]> = SmallVec::new();
        let mut absent: SmallVec<[&Finding; 1]> = SmallVec::new();
        for g in gates {
            match g.passage(recipient) {
                Passage::Pass => {}
                Passage::Deny(f) => {
                    denied = true;
                    a.findings.push(f.clone());
                }
                Passage::Unproven(fs) => unproven.extend(fs),
                Passage::NotInAltinn(f) => absent.push(f),
            }
        }
        if denied {
            a.verdict = Verdict::NotReadable;
            return;
        }
        if !absent.is_empty() {
            a.verdict = Verdict::Unknown;
            a.findings.extend(absent.into_iter().cloned());
        }
        if a.verdict == Verdict::Readable && !unproven.is_empty() {
            a.verdict = Verdict::Unknown;
            a.findings.extend(unproven.into_iter().cloned());
        }
    }

    /// Rule 8: old evidence proves nothing now.
    fn stale(&self, a: &mut Assessment, now: Timestamp) {
        if now.duration_since(a.observed_at) > self.max_data_age {
            a.verdict = Verdict::Unknown;
            a.findings.push(Finding::StaleData {
                observed_at: a.observed_at,
                max_age: self.max_data_age,
            });
        }
    }
}

/// Prepares what is known about a unit as a recipient.
fn profile(
    policies: &Policies,
    snapshot: &Snapshot,
    digests: &FxHashMap<OrgNumber, UnitDigest>,
    ev: &UnitEvidence,
    arena: &mut Vec<Candidate>,
) -> Profile {
    let recipient = ev.org;
    let unit = ev.unit.present();
    let main_ev = unit
        .and_then(|u| u.main_unit)
        .and_then(|m| snapshot.unit(m));
    let mut observed_at = snapshot.observed_at(recipient);
    if let Some(m) = main_ev {
        observed_at = observed_at.min(snapshot.observed_at(m.org));
    }
    let failures = ev
        .failures()
        .chain(main_ev.into_iter().flat_map(UnitEvidence::failures))
        .map(|f| Finding::SourceError(Arc::clone(f)))
        .collect();
    let mut p = Profile {
        record: Record::Missing,
        main_unit: None,
        complete: false,
        recipient_connections_missing: false,
        main_unit_connections_missing: None,
        inconsistent: SmallVec::new(),
        rights_gaps: None,
        candidates: 0..0,
        notification: None,
        failures,
        observed_at,
        refused: SmallVec::new(),
    };
    let Some(u) = unit else { return p };
    if u.deleted {
        p.record = Record::Deleted(u.deleted_on);
        return p;
    }
    p.record = Record::Present;
    let r_digest = digests.get(&recipient);
    let inherit = u
        .main_unit
        .filter(|_| policies.grants().inherits(u.form.as_deref()));
    p.main_unit = inherit;
    let m_digest = inherit.and_then(|m| digests.get(&m));
    let r_complete = r_digest.is_some_and(|d| d.complete);
    let m_complete = m_digest.is_some_and(|d| d.complete);
    p.complete = r_complete && (inherit.is_none() || m_complete);
    p.recipient_connections_missing = !r_digest.is_some_and(|d| d.connections);
    p.main_unit_connections_missing = inherit.filter(|_| !m_digest.is_some_and(|d| d.connections));
    p.inconsistent = [
        (recipient, r_digest),
        (inherit.unwrap_or(recipient), m_digest),
    ]
    .into_iter()
    .filter_map(|(org, d)| d.and_then(|d| d.inconsistent).map(|n| (org, n)))
    .collect();
    let gaps: Vec<Gap> = r_digest
        .into_iter()
        .chain(m_digest)
        .flat_map(|d| d.rights_gaps.iter().cloned())
        .collect();
    p.rights_gaps = (!gaps.is_empty()).then(|| Arc::from(gaps));
    let mut persons: Vec<Person> = r_digest.map(|d| d.persons.clone()).unwrap_or_default();
    for q in m_digest.iter().flat_map(|d| &d.persons) {
        add_person(&mut persons, q.clone());
    }
    let start = u32::try_from(arena.len()).unwrap_or(u32::MAX);
    arena.extend(persons.into_iter().map(|q| Candidate {
        counts: q.counts,
        atoms: q.atoms,
        maybe: q.maybe,
    }));
    p.candidates = start..u32::try_from(arena.len()).unwrap_or(u32::MAX);
    p.notification = notification_finding(recipient, Some(ev), u.main_unit, main_ev);
    p.refused = std::iter::once(ev)
        .chain(inherit.and_then(|m| snapshot.unit(m)))
        .filter(|e| e.authorized == Some(false) && e.connections.present().is_none())
        .map(|e| (e.org, e.approval_link.clone()))
        .collect();
    p
}

/// Rule 7: the notification finding, if any.
fn notification_finding(
    recipient: OrgNumber,
    ev: Option<&UnitEvidence>,
    main_unit: Option<OrgNumber>,
    main_ev: Option<&UnitEvidence>,
) -> Option<Finding> {
    let units = std::iter::once((recipient, ev.map(|e| &e.notification_addresses)))
        .chain(main_unit.map(|m| (m, main_ev.map(|e| &e.notification_addresses))));
    let (mut missing, mut unverified) = (None, None);
    for (org, obs) in units {
        match obs {
            Some(Observed::Present(n)) if *n > 0 => return None,
            Some(Observed::Present(_)) => {}
            // Rule 14: addresses this caller may not read are not a failed source.
            Some(Observed::Refused(_)) => {
                unverified.get_or_insert(org);
            }
            _ => {
                missing.get_or_insert(org);
            }
        }
    }
    Some(match (unverified, missing) {
        (Some(unit), _) => Finding::NotificationUnverified { unit },
        (None, Some(org)) => Finding::NotificationUnknown { missing: org },
        (None, None) => Finding::NoNotificationAddress,
    })
}

/// The rights gaps of a profile that concern `resources`, if any.
fn rights_gaps(p: &Profile, resources: &[ResourceId]) -> Option<Arc<[Gap]>> {
    let gaps: Vec<Gap> = p
        .rights_gaps
        .iter()
        .flat_map(|g| g.iter())
        .filter(|g| g.resource.as_ref().is_some_and(|r| resources.contains(r)))
        .cloned()
        .collect();
    (!gaps.is_empty()).then(|| Arc::from(gaps))
}

/// One route of the routing table and its judgement.
#[derive(Clone, Debug)]
pub struct RouteResult {
    /// The route.
    pub route: Route,
    /// Its line in the routing table.
    pub line: u32,
    /// Index into [`Evaluation::assessments`].
    pub assessment: u32,
}

/// Counts of routes by verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// All routes.
    pub routes: usize,
    /// Routes judged `readable`.
    pub readable: usize,
    /// Routes judged `not_readable`.
    pub not_readable: usize,
    /// Routes judged `unknown`.
    pub unknown: usize,
}

/// Every route of a routing table, judged.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// The time the routes were judged at.
    pub now: Timestamp,
    /// The routes, in routing-table order.
    pub routes: Vec<RouteResult>,
    /// The distinct judgements the routes point into.
    pub assessments: Vec<Assessment>,
}

impl Evaluation {
    /// The routes with their judgements, in routing-table order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&RouteResult, &Assessment)> {
        self.routes
            .iter()
            .map(|r| (r, &self.assessments[r.assessment as usize]))
    }

    /// Routes by verdict.
    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            routes: self.routes.len(),
            ..Summary::default()
        };
        for (_, a) in self.iter() {
            match a.verdict {
                Verdict::Readable => s.readable += 1,
                Verdict::NotReadable => s.not_readable += 1,
                Verdict::Unknown => s.unknown += 1,
            }
        }
        s
    }

    /// Whether every route is readable.
    pub fn all_readable(&self) -> bool {
        self.iter().all(|(_, a)| a.verdict == Verdict::Readable)
    }
}

/// Judges every route of `routes` as of `now` (rules 2-9).
///
/// # Panics
/// Never for a routing table loaded against the engine's policies; a route whose message
/// type the policies do not know is skipped (the loader refuses such tables).
pub fn evaluate(engine: &Engine, routes: &RoutingTable, now: Timestamp) -> Evaluation {
    evaluate_routes(
        engine,
        routes.entries.iter().map(|e| (&e.route, e.line)),
        now,
    )
}

/// Like [`evaluate`], for routes from any source (line 0 where unknown).
pub fn evaluate_routes<'a>(
    engine: &Engine,
    routes: impl IntoIterator<Item = (&'a Route, u32)>,
    now: Timestamp,
) -> Evaluation {
    let routes = routes.into_iter();
    let hint = routes.size_hint().0;
    let types = engine.policies.message_types().len();
    // Each distinct (recipient profile, message type) pair is judged once, and the work is
    // arranged so that memory is read front to back whatever order the routing table is
    // in: pass 1 sorts the routes by recipient and walks them alongside the profiles
    // (which are in organisation-number order) to find each route's pair; pass 2 judges
    // the pairs in profile order; pass 3 points every route at its judgement.
    const UNSEEN: u32 = u32::MAX;
    let dense = engine.profiles.len() * types;
    // A handful of message types: a linear scan beats hashing their names.
    let mut type_of: Vec<(&MessageTypeId, usize)> = Vec::new();
    let mut out = Evaluation {
        now,
        routes: Vec::with_capacity(hint),
        assessments: Vec::new(),
    };
    let mut route_types: Vec<u32> = Vec::with_capacity(hint);
    for (route, line) in routes {
        let t = match type_of.iter().find(|(id, _)| *id == &route.message_type) {
            Some(&(_, t)) => t,
            None => match engine.policies.message_type_index(&route.message_type) {
                Some(t) => {
                    type_of.push((&route.message_type, t));
                    t
                }
                None => continue,
            },
        };
        route_types.push(u32::try_from(t).unwrap_or(u32::MAX));
        out.routes.push(RouteResult {
            route: route.clone(),
            line,
            assessment: UNSEEN,
        });
    }

    // Pass 1: (recipient, route index), sorted, merged with the sorted profiles.
    let mut order: Vec<u64> = out
        .routes
        .iter()
        .enumerate()
        .map(|(i, r)| (u64::from(r.route.recipient.get()) << 32) | i as u64)
        .collect();
    order.sort_unstable();
    let mut seen: Vec<u32> = vec![UNSEEN; dense];
    let mut todo: Vec<u32> = Vec::new();
    // Recipients the snapshot knows nothing about: few, numbered after the dense slots.
    let mut strangers: FxHashMap<(u32, OrgNumber), u32> = FxHashMap::default();
    let mut stranger_pairs: Vec<u32> = Vec::new();
    let mut j = 0;
    for key in order {
        let i = (key & 0xFFFF_FFFF) as usize;
        let recipient = out.routes[i].route.recipient;
        while j < engine.profile_orgs.len() && engine.profile_orgs[j] < recipient {
            j += 1;
        }
        let t = route_types[i];
        let slot = if engine.profile_orgs.get(j) == Some(&recipient) {
            let slot = j * types + t as usize;
            if seen[slot] == UNSEEN {
                seen[slot] = 0;
                todo.push(u32::try_from(slot).unwrap_or(u32::MAX));
            }
            slot
        } else {
            let next = dense + stranger_pairs.len();
            let slot = *strangers.entry((t, recipient)).or_insert_with(|| {
                stranger_pairs.push(t);
                u32::try_from(next).unwrap_or(u32::MAX)
            });
            slot as usize
        };
        out.routes[i].assessment = u32::try_from(slot).unwrap_or(u32::MAX);
    }

    // Pass 2: judge each pair once, in profile order (`todo` is ascending already).
    out.assessments.reserve(todo.len() + stranger_pairs.len());
    for slot in todo {
        let (profile, t) = (slot as usize / types, slot as usize % types);
        seen[slot as usize] = u32::try_from(out.assessments.len()).unwrap_or(u32::MAX);
        out.assessments.push(engine.assess_profile(
            t,
            Some(u32::try_from(profile).unwrap_or(u32::MAX)),
            now,
        ));
    }
    let first_stranger = out.assessments.len();
    for &t in &stranger_pairs {
        out.assessments
            .push(engine.assess_profile(t as usize, None, now));
    }

    // Pass 3.
    for r in &mut out.routes {
        let slot = r.assessment as usize;
        r.assessment = if slot < dense {
            seen[slot]
        } else {
            u32::try_from(first_stranger + (slot - dense)).unwrap_or(u32::MAX)
        };
    }
    out
}
