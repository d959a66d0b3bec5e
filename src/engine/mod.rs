//! The engine: pure evaluation of routes against policies and a snapshot, implementing
//! DESIGN.md's "Route evaluation semantics" rules 2-9. No I/O, no clock: `now` is input.
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

use crate::evidence::{Observed, Snapshot, UnitEvidence};
use crate::model::{EvidenceTier, Finding, MessageTypeId, OrgNumber, Route, Verdict};
use crate::policy::{Policies, Tri};
use crate::routing::RoutingTable;
use digest::{Counts, Person, UnitDigest, add_person};

pub use explain::{ExplainOptions, ExplainedFinding, Explanation};

/// The default `max_data_age` (DESIGN rule 8).
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
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("units", &self.digests.len())
            .field("max_data_age", &self.max_data_age)
            .finish()
    }
}

impl Engine {
    /// Digests every unit in the snapshot against the policies.
    pub fn new(
        policies: Arc<Policies>,
        snapshot: Arc<Snapshot>,
        max_data_age: SignedDuration,
    ) -> Self {
        let digests = snapshot
            .units
            .iter()
            .map(|(org, ev)| (*org, UnitDigest::of(ev, &policies)))
            .collect();
        Engine {
            policies,
            snapshot,
            max_data_age,
            digests,
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
        let mut scratch = Vec::new();
        self.assess_with(type_index, recipient, now, &mut scratch)
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

    fn assess_with(
        &self,
        type_index: usize,
        recipient: OrgNumber,
        now: Timestamp,
        scratch: &mut Vec<Person>,
    ) -> Assessment {
        let mt = &self.policies.message_types()[type_index];
        let ev = self.snapshot.unit(recipient);
        let mut a = Assessment {
            verdict: Verdict::Unknown,
            readers: 0,
            tier: EvidenceTier::Er,
            findings: SmallVec::new(),
            observed_at: self.snapshot.observed_at(recipient),
            main_unit: None,
        };
        let unit = ev.and_then(|e| e.unit.present());
        let main_ev = unit
            .and_then(|u| u.main_unit)
            .and_then(|m| self.snapshot.unit(m));
        if let Some(m) = main_ev {
            a.observed_at = a.observed_at.min(self.snapshot.observed_at(m.org));
        }

        // Rule 2: no Enhetsregisteret record, or a deleted recipient, ends the evaluation.
        match unit {
            None => {
                a.findings.push(Finding::NoData {
                    no_record: true,
                    recipient_connections: false,
                    main_unit_connections: None,
                });
            }
            Some(u) if u.deleted => {
                a.verdict = Verdict::NotReadable;
                a.findings
                    .push(Finding::RecipientDeleted { on: u.deleted_on });
            }
            Some(u) => {
                let r_digest = self.digests.get(&recipient);
                // Rule 4: grants at the main unit apply at a sub-unit of an inheriting form.
                let inherit = u
                    .main_unit
                    .filter(|_| self.policies.grants().inherits(u.form.as_deref()));
                a.main_unit = inherit;
                let m_digest = inherit.and_then(|m| self.digests.get(&m));
                let complete = r_digest.is_some_and(|d| d.complete)
                    && (inherit.is_none() || m_digest.is_some_and(|d| d.complete));
                if complete {
                    a.tier = EvidenceTier::Connections;
                }

                // Rules 3-5: distinct persons who can read every resource.
                let persons: &[Person] = match (r_digest, m_digest) {
                    (Some(r), None) => &r.persons,
                    (None, Some(m)) => &m.persons,
                    (Some(r), Some(m)) => {
                        scratch.clear();
                        scratch.extend(r.persons.iter().cloned());
                        for p in &m.persons {
                            add_person(scratch, p.clone());
                        }
                        scratch
                    }
                    (None, None) => &[],
                };
                let compiled = self.policies.compiled(type_index);
                let mut uncertain: Option<usize> = None;
                for p in persons {
                    let countable = match p.counts {
                        Counts::Person => true,
                        Counts::SystemUser => mt.count_system_users,
                        Counts::Never => false,
                    };
                    if !countable {
                        continue;
                    }
                    match compiled.decide(&p.atoms) {
                        Tri::Yes => a.readers += 1,
                        Tri::Maybe => {
                            if uncertain.is_none() {
                                uncertain = compiled
                                    .resources
                                    .iter()
                                    .position(|r| r.decide(&p.atoms) == Tri::Maybe);
                            }
                        }
                        Tri::No => {}
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
                } else if let Some(i) = uncertain {
                    a.findings.push(Finding::PolicyIndeterminate {
                        resource: mt.resources[i].clone(),
                    });
                } else if complete {
                    a.verdict = Verdict::NotReadable;
                    a.findings.push(Finding::NoReader);
                } else {
                    a.findings.push(Finding::NoData {
                        no_record: false,
                        recipient_connections: !r_digest.is_some_and(|d| d.complete),
                        main_unit_connections: inherit
                            .filter(|_| !m_digest.is_some_and(|d| d.complete)),
                    });
                }

                // Rule 7: someone must be told that a message arrived.
                if mt.require_notification
                    && let Some(f) = notification_finding(recipient, ev, u.main_unit, main_ev)
                {
                    a.findings.push(f);
                }
            }
        }

        if let Some(u) = unit.filter(|u| !u.deleted) {
            // Live sources: a unit that has not approved our system user has no connections
            // evidence, and only it can change that.
            if a.verdict != Verdict::Readable {
                let inherit = u
                    .main_unit
                    .filter(|_| self.policies.grants().inherits(u.form.as_deref()));
                let refused = ev
                    .into_iter()
                    .chain(inherit.and_then(|m| self.snapshot.unit(m)))
                    .filter(|e| e.authorized == Some(false) && e.connections.present().is_none());
                for e in refused {
                    a.findings.push(Finding::NotAuthorized { unit: e.org });
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

        // Rule 9: a failed source of the recipient or its main unit leaves the route unknown.
        let failures = ev
            .into_iter()
            .chain(main_ev)
            .flat_map(UnitEvidence::failures);
        for f in failures {
            a.verdict = Verdict::Unknown;
            a.findings.push(Finding::SourceError(Arc::clone(f)));
        }

        // Rule 8: old evidence proves nothing now.
        if now.duration_since(a.observed_at) > self.max_data_age {
            a.verdict = Verdict::Unknown;
            a.findings.push(Finding::StaleData {
                observed_at: a.observed_at,
                max_age: self.max_data_age,
            });
        }
        a
    }
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
    let mut missing = None;
    for (org, obs) in units {
        match obs {
            Some(Observed::Present(n)) if *n > 0 => return None,
            Some(Observed::Present(_)) => {}
            _ => {
                missing.get_or_insert(org);
            }
        }
    }
    Some(match missing {
        Some(org) => Finding::NotificationUnknown { missing: org },
        None => Finding::NoNotificationAddress,
    })
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
    let mut seen: FxHashMap<(u32, OrgNumber), u32> = FxHashMap::default();
    let mut type_of: FxHashMap<&MessageTypeId, usize> = FxHashMap::default();
    let mut out = Evaluation {
        now,
        routes: Vec::with_capacity(routes.size_hint().0),
        assessments: Vec::new(),
    };
    let mut scratch = Vec::new();
    for (route, line) in routes {
        let t = match type_of.get(&route.message_type) {
            Some(&t) => t,
            None => match engine.policies.message_type_index(&route.message_type) {
                Some(t) => {
                    type_of.insert(&route.message_type, t);
                    t
                }
                None => continue,
            },
        };
        let key = (u32::try_from(t).unwrap_or(u32::MAX), route.recipient);
        let index = *seen.entry(key).or_insert_with(|| {
            out.assessments
                .push(engine.assess_with(t, route.recipient, now, &mut scratch));
            u32::try_from(out.assessments.len() - 1).unwrap_or(u32::MAX)
        });
        out.routes.push(RouteResult {
            route: route.clone(),
            line,
            assessment: index,
        });
    }
    out
}
