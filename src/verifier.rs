//! [`Verifier`]: the pre-send check as a library call. It answers from the latest judged
//! snapshot held in memory, is cheap to clone and safe to share across threads, and swaps
//! to a new snapshot atomically after each sweep.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use jiff::{SignedDuration, Timestamp};
use rustc_hash::FxHashMap;

use crate::engine::{Assessment, Engine, Evaluation, ExplainOptions, Explanation};
use crate::model::{EvidenceTier, Finding, MessageTypeId, OrgNumber, Route, Verdict};
use crate::policy::Policies;
use crate::store::{AnswerChanges, Latest, SweepId};

/// The answer to a pre-send check.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// `readable` means go; anything else means no-go or unknown.
    pub verdict: Verdict,
    /// How many people can read it.
    pub readers: u32,
    /// Why, in codes with their facts (see [`Verifier::explain`] for sentences).
    pub findings: Arc<[Finding]>,
    /// How old the evidence is at the time of the check.
    pub data_age: SignedDuration,
    /// Whether the evidence was complete.
    pub evidence_tier: EvidenceTier,
    /// What the sender should do instead when the verdict is not `readable`.
    pub fallback: Option<Arc<str>>,
}

/// The route names a message type the policies do not define.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown message type `{0}`")]
pub struct UnknownMessageType(pub MessageTypeId);

/// A judged (message type, recipient) pair.
#[derive(Clone)]
struct Answer {
    verdict: Verdict,
    readers: u32,
    tier: EvidenceTier,
    /// When its evidence was observed; `None`: when the state's evidence was taken (the
    /// answers loaded from the store, which keeps no time per answer).
    observed_at: Option<Timestamp>,
    findings: Arc<[Finding]>,
}

impl Answer {
    fn observed_at(&self, s: &State) -> Timestamp {
        self.observed_at.unwrap_or(s.taken_at)
    }
}

struct State {
    policies: Arc<Policies>,
    /// The engine, when the answers come from a sweep in this process; routes it has not
    /// judged are judged on demand. `None` when loaded from the store.
    engine: Option<Engine>,
    max_data_age: SignedDuration,
    taken_at: Timestamp,
    /// Answers by (message type index, recipient).
    answers: FxHashMap<(u32, OrgNumber), Answer>,
    fallbacks: Vec<Option<Arc<str>>>,
    /// The store's sweep the answers come from, if any.
    sweep: Option<SweepId>,
    /// Tells this state apart from every other one made in the process (see
    /// [`Pinned::generation`]).
    generation: u64,
}

/// Hands out [`State::generation`]s.
static GENERATION: AtomicU64 = AtomicU64::new(1);

fn next_generation() -> u64 {
    GENERATION.fetch_add(1, Ordering::Relaxed)
}

/// Rule 8 at the time of a check: whether evidence observed at `observed_at` is too old at
/// `now`. The one comparison both [`Verifier::check_at`] and the search index use.
pub(crate) fn too_old(now: Timestamp, observed_at: Timestamp, max_age: SignedDuration) -> bool {
    now.duration_since(observed_at) > max_age
}

fn fallbacks(policies: &Policies) -> Vec<Option<Arc<str>>> {
    policies
        .message_types()
        .iter()
        .map(|m| m.fallback.as_deref().map(Arc::from))
        .collect()
}

fn state(engine: Engine, evaluation: Option<&Evaluation>, sweep: Option<SweepId>) -> State {
    let mut answers = FxHashMap::default();
    // One shared empty list for the many answers without findings.
    let none: Arc<[Finding]> = Arc::from([]);
    if let Some(ev) = evaluation {
        answers.reserve(ev.assessments.len());
        for (r, a) in ev.iter() {
            if let Some(t) = engine.policies().message_type_index(&r.route.message_type) {
                answers
                    .entry((t as u32, r.route.recipient))
                    .or_insert_with(|| Answer {
                        verdict: a.verdict,
                        readers: a.readers,
                        tier: a.tier,
                        observed_at: Some(a.observed_at),
                        findings: if a.findings.is_empty() {
                            Arc::clone(&none)
                        } else {
                            a.findings().into()
                        },
                    });
            }
        }
    }
    State {
        policies: Arc::clone(engine.policies()),
        max_data_age: engine.max_data_age(),
        taken_at: engine.snapshot().taken_at,
        fallbacks: fallbacks(engine.policies()),
        engine: Some(engine),
        answers,
        sweep,
        generation: next_generation(),
    }
}

fn stored_state(policies: Arc<Policies>, latest: &Latest, max_data_age: SignedDuration) -> State {
    let mut answers = FxHashMap::default();
    answers.reserve(latest.verdicts.len());
    for v in &latest.verdicts {
        // A message type the policies no longer define is not answered (unknown).
        if let Some(t) = policies.message_type_index(&v.route.message_type) {
            answers
                .entry((t as u32, v.route.recipient))
                .or_insert_with(|| Answer {
                    verdict: v.verdict,
                    readers: v.readers,
                    tier: v.tier,
                    observed_at: None,
                    findings: Arc::clone(&v.findings),
                });
        }
    }
    State {
        fallbacks: fallbacks(&policies),
        policies,
        engine: None,
        max_data_age,
        taken_at: latest.taken_at,
        answers,
        sweep: Some(latest.sweep.id),
        generation: next_generation(),
    }
}

/// Answers "can this route be read?" from memory.
///
/// ```
/// use std::sync::Arc;
/// use reachcheck::{Engine, Policies, Route, SnapshotDir, Verifier, Verdict, OrgNumber, MessageTypeId};
///
/// let policies = Arc::new(Policies::load("policies".as_ref())?);
/// let sender = OrgNumber::parse("310000019")?;
/// let bergen = OrgNumber::parse("964338531")?;
/// let snapshot = SnapshotDir::new("examples/demo/snapshot").load([bergen], &policies.resource_ids())?;
/// let snapshot = Arc::new(snapshot);
/// let engine = Engine::new(policies, snapshot, reachcheck::engine::DEFAULT_MAX_DATA_AGE);
/// let verifier = Verifier::new(engine, None);
///
/// let route = Route::new(sender, MessageTypeId::parse("ordinaer-post")?, bergen);
/// let now = "2026-11-21T06:00:00Z".parse()?;
/// let decision = verifier.check_at(&route, now);
/// if decision.verdict != Verdict::Readable {
///     for line in verifier.explain(&route, &decision).findings {
///         eprintln!("{}: {}", line.code, line.message);
///     }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Verifier {
    state: Arc<ArcSwap<State>>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.state.load();
        f.debug_struct("Verifier")
            .field("answers", &s.answers.len())
            .field("taken_at", &s.taken_at)
            .field("sweep", &s.sweep)
            .finish()
    }
}

impl Verifier {
    /// A verifier over `engine`, with the judgements of `evaluation` (if any) ready.
    /// Routes it has not judged are judged on demand from the same snapshot.
    pub fn new(engine: Engine, evaluation: Option<&Evaluation>) -> Self {
        Verifier {
            state: Arc::new(ArcSwap::from_pointee(state(engine, evaluation, None))),
        }
    }

    /// A verifier answering from the verdicts of the store's latest sweep, judged against
    /// `policies`. Routes that sweep did not judge are `unknown` with `not_swept`.
    pub fn from_store(
        policies: Arc<Policies>,
        latest: &Latest,
        max_data_age: SignedDuration,
    ) -> Self {
        Verifier {
            state: Arc::new(ArcSwap::from_pointee(stored_state(
                policies,
                latest,
                max_data_age,
            ))),
        }
    }

    /// A verifier that knows nothing yet: every check is `unknown` with `not_swept`.
    pub fn empty(policies: Arc<Policies>, max_data_age: SignedDuration) -> Self {
        Verifier {
            state: Arc::new(ArcSwap::from_pointee(State {
                fallbacks: fallbacks(&policies),
                policies,
                engine: None,
                max_data_age,
                taken_at: Timestamp::UNIX_EPOCH,
                answers: FxHashMap::default(),
                sweep: None,
                generation: next_generation(),
            })),
        }
    }

    /// Swaps to a new snapshot and its judgements, atomically: a check sees either the old
    /// state or the new one, never a mix.
    pub fn swap(&self, engine: Engine, evaluation: Option<&Evaluation>) {
        self.state.store(Arc::new(state(engine, evaluation, None)));
    }

    /// Swaps to the judgements of store sweep `sweep`, made by `engine` (atomically).
    pub fn swap_sweep(&self, engine: Engine, evaluation: &Evaluation, sweep: SweepId) {
        self.state
            .store(Arc::new(state(engine, Some(evaluation), Some(sweep))));
    }

    /// Swaps to answers loaded from the store, judged against `policies` (atomically).
    pub fn swap_stored(
        &self,
        policies: Arc<Policies>,
        latest: &Latest,
        max_data_age: SignedDuration,
    ) {
        self.state
            .store(Arc::new(stored_state(policies, latest, max_data_age)));
    }

    /// Applies the changes from the answers of the store's sweep `changes.base` to those
    /// of `changes.sweep` (atomically), when those of `base` are the answers held, loaded
    /// from the store (or changed so since). Returns whether it applied them; when not,
    /// load the latest answers whole ([`Verifier::swap_stored`]).
    pub fn apply_changes(&self, changes: &AnswerChanges) -> bool {
        let held = self.state.load_full();
        if held.engine.is_some() || held.sweep != Some(changes.base) {
            return false;
        }
        let mut answers = held.answers.clone();
        for c in &changes.changes {
            // A message type the policies no longer define is not answered (unknown).
            let Some(t) = held.policies.message_type_index(&c.message_type) else {
                continue;
            };
            let key = (t as u32, c.recipient);
            match &c.answer {
                Some(a) => {
                    answers.insert(
                        key,
                        Answer {
                            verdict: a.verdict,
                            readers: a.readers,
                            tier: a.tier,
                            observed_at: None,
                            findings: Arc::clone(&a.findings),
                        },
                    );
                }
                None => {
                    answers.remove(&key);
                }
            }
        }
        let next = Arc::new(State {
            policies: Arc::clone(&held.policies),
            engine: None,
            max_data_age: held.max_data_age,
            taken_at: changes.taken_at,
            answers,
            fallbacks: held.fallbacks.clone(),
            sweep: Some(changes.sweep.id),
            generation: next_generation(),
        });
        // Unless another swap came first: then these changes are not for what is held.
        let was = self.state.compare_and_swap(&held, next);
        Arc::ptr_eq(&was, &held)
    }

    /// The store's sweep the answers come from, if any.
    pub fn sweep(&self) -> Option<SweepId> {
        self.state.load().sweep
    }

    /// Whether the verifier holds the results of a sweep (or an engine to judge with).
    pub fn is_loaded(&self) -> bool {
        let s = self.state.load();
        s.engine.is_some() || s.sweep.is_some()
    }

    /// The policies the answers were judged against.
    pub fn policies(&self) -> Arc<Policies> {
        Arc::clone(&self.state.load().policies)
    }

    /// Checks a route now (the system clock).
    pub fn check(&self, route: &Route) -> Decision {
        self.check_at(route, Timestamp::now())
    }

    /// Checks a route as of `now`. An unknown message type gives `unknown` with no
    /// findings; use [`Verifier::try_check_at`] to tell it apart.
    pub fn check_at(&self, route: &Route, now: Timestamp) -> Decision {
        self.try_check_at(route, now)
            .unwrap_or_else(|_| unknown_type_decision())
    }

    /// Checks a route as of `now`, refusing an unknown message type.
    pub fn try_check_at(
        &self,
        route: &Route,
        now: Timestamp,
    ) -> Result<Decision, UnknownMessageType> {
        check_in(&self.state.load(), route, now)
    }

    /// The current answers, held still: checks through the [`Pinned`] all see the same
    /// state, whatever swaps in the meantime.
    pub(crate) fn pin(&self) -> Pinned {
        Pinned(self.state.load_full())
    }
    /// Puts a decision into words.
    pub fn explain(&self, route: &Route, decision: &Decision) -> Explanation {
        self.explain_with(route, decision, ExplainOptions::default())
    }

    /// Puts a decision into words, with options.
    pub fn explain_with(
        &self,
        route: &Route,
        decision: &Decision,
        options: ExplainOptions,
    ) -> Explanation {
        let s = self.state.load();
        let Some(engine) = &s.engine else {
            return Explanation::without_evidence(decision.findings.iter(), &route.recipient);
        };
        let observed_at = engine.snapshot().observed_at(route.recipient);
        let now = observed_at
            .saturating_add(decision.data_age)
            .unwrap_or(observed_at);
        let Some(mut a) = engine.assess_id(&route.message_type, route.recipient, now) else {
            return engine.explain(route, &empty_assessment(observed_at), now, options);
        };
        a.verdict = decision.verdict;
        a.readers = decision.readers;
        a.findings = decision.findings.iter().cloned().collect();
        engine.explain(route, &a, now, options)
    }

    /// When the evidence the verifier holds was taken.
    pub fn taken_at(&self) -> Timestamp {
        self.state.load().taken_at
    }
}

/// What [`Verifier::check_at`] says about a route whose message type it does not know.
fn unknown_type_decision() -> Decision {
    Decision {
        verdict: Verdict::Unknown,
        readers: 0,
        findings: Arc::from([]),
        data_age: SignedDuration::ZERO,
        evidence_tier: EvidenceTier::Er,
        fallback: None,
    }
}

/// One state of a [`Verifier`], held still (see [`Verifier::pin`]).
pub(crate) struct Pinned(Arc<State>);

/// What a [`Pinned`] state can say about a (message type, recipient) pair without judging
/// it: enough for the search index to skip the pairs a check would not call `readable`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Prospect {
    /// A check says anything but `readable`, whenever it is made.
    Never,
    /// Judged `readable`; a check says so while the evidence is not too old (see
    /// [`too_old`]), or always when `exempt` (the answer already carries `stale_data`).
    Readable {
        /// When the evidence was observed.
        observed_at: Timestamp,
        /// Whether rule 8 at the time of the check leaves the answer alone.
        exempt: bool,
    },
    /// Not judged yet: a check judges it on demand, so only a check can tell.
    Judge,
}

impl Pinned {
    /// Different for every state a verifier has held (and for every verifier).
    pub(crate) fn generation(&self) -> u64 {
        self.0.generation
    }

    /// As [`Verifier::check_at`], on this state.
    pub(crate) fn check_at(&self, route: &Route, now: Timestamp) -> Decision {
        check_in(&self.0, route, now).unwrap_or_else(|_| unknown_type_decision())
    }

    /// The oldest evidence a check accepts.
    pub(crate) fn max_data_age(&self) -> SignedDuration {
        self.0.max_data_age
    }

    /// The index of message type `t` in this state's policies.
    pub(crate) fn type_index(&self, t: &MessageTypeId) -> Option<u32> {
        self.0.policies.message_type_index(t).map(|i| i as u32)
    }

    /// What a check of message type `t` (an index from [`Pinned::type_index`]) to
    /// `recipient` can say, mirroring `check_in` step by step.
    pub(crate) fn prospect(&self, t: u32, recipient: OrgNumber) -> Prospect {
        match self.0.answers.get(&(t, recipient)) {
            Some(a) if a.verdict == Verdict::Readable => Prospect::Readable {
                observed_at: a.observed_at(&self.0),
                exempt: a
                    .findings
                    .iter()
                    .any(|f| matches!(f, Finding::StaleData { .. })),
            },
            Some(_) => Prospect::Never,
            None if self.0.engine.is_some() => Prospect::Judge,
            // Not swept: `unknown`.
            None => Prospect::Never,
        }
    }
}

fn check_in(s: &State, route: &Route, now: Timestamp) -> Result<Decision, UnknownMessageType> {
    let t = s
        .policies
        .message_type_index(&route.message_type)
        .ok_or_else(|| UnknownMessageType(route.message_type.clone()))?;
    let fresh;
    let a: &Answer = match s.answers.get(&(t as u32, route.recipient)) {
        Some(a) => a,
        None => {
            fresh = match &s.engine {
                Some(engine) => {
                    let a = engine.assess(t, route.recipient, now);
                    Answer {
                        verdict: a.verdict,
                        readers: a.readers,
                        tier: a.tier,
                        observed_at: Some(a.observed_at),
                        findings: a.findings().into(),
                    }
                }
                None => Answer {
                    verdict: Verdict::Unknown,
                    readers: 0,
                    tier: EvidenceTier::Er,
                    observed_at: None,
                    findings: Arc::from([Finding::NotSwept]),
                },
            };
            &fresh
        }
    };
    let findings = Arc::clone(&a.findings);
    let observed_at = a.observed_at(s);
    let data_age = now.duration_since(observed_at);
    let mut d = Decision {
        verdict: a.verdict,
        readers: a.readers,
        findings,
        data_age,
        evidence_tier: a.tier,
        fallback: s.fallbacks[t].clone(),
    };
    // Rule 8 at the time of the check: evidence that was fresh at the sweep may not be now.
    let max_age = s.max_data_age;
    if too_old(now, observed_at, max_age)
        && !d
            .findings
            .iter()
            .any(|f| matches!(f, Finding::StaleData { .. }))
    {
        d.verdict = Verdict::Unknown;
        let mut f = d.findings.to_vec();
        f.push(Finding::StaleData {
            observed_at,
            max_age,
        });
        d.findings = f.into();
    }
    Ok(d)
}

fn empty_assessment(observed_at: Timestamp) -> Assessment {
    Assessment {
        verdict: Verdict::Unknown,
        readers: 0,
        tier: EvidenceTier::Er,
        findings: Default::default(),
        observed_at,
        main_unit: None,
    }
}
