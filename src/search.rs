//! The AuthZEN searches (Authorization API 1.0 §8) over the routing table, answered from
//! the [`Verifier`]'s memory: which recipients a sender reaches with a message type
//! (resource search), which message types a sender can send a recipient (action search),
//! which senders' routes reach a recipient with a message type (subject search).
//!
//! Owns: [`RouteIndex`], the routing table sorted three ways so that each search is a
//! binary search and a walk over a contiguous slice; paging with opaque tokens
//! ([`PageToken`]). Does not own: verdicts (the [`Verifier`]) or request shapes (the API).
//!
//! A search lists only what an evaluation would permit (§8: a result fed into an
//! evaluation MUST give `decision: true`), so only routes judged `readable` at `now`. A
//! page walks at most [`MAX_SCAN`] routes, so a request costs a bounded amount of work
//! however few of them are readable; a short page with a token is then an honest answer.
//!
//! Resource searches (the long ones: a sender reaches up to every recipient) have a fast
//! path: [`RouteIndex::refresh`], called when a sweep's answers reach the [`Verifier`] and
//! when the routing table is reloaded, lists the rows a check could call `readable` (with
//! when their evidence was observed), so a page binary-searches that list instead of
//! checking every route it walks. The list only skips routes a check would not call
//! `readable`; every result is still checked, so a page says exactly what checking each
//! route says. While the list belongs to another state of the verifier (between a swap and
//! its refresh), pages take the slow path and answer the same.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use rustc_hash::FxHasher;

use crate::model::{MessageTypeId, OrgNumber, Route, Verdict};
use crate::policy::Policies;
use crate::routing::RoutingTable;
use crate::verifier::{Decision, Pinned, Prospect, Verifier, too_old};

/// Results per page when the request does not say.
pub const DEFAULT_PAGE: usize = 100;
/// The most results one page may ask for.
pub const MAX_PAGE: usize = 1000;
/// The most routes one page walks before it answers (with a token to go on).
pub const MAX_SCAN: usize = 20_000;

/// The routing table, sorted for the three searches. Message types are held by their
/// index in the policies the index was built with.
#[derive(Default)]
pub struct RouteIndex {
    types: Vec<MessageTypeId>,
    /// (sender, type, recipient), sorted: resource search.
    by_sender_type: Vec<(OrgNumber, u32, OrgNumber)>,
    /// (sender, recipient, type), sorted: action search.
    by_sender_recipient: Vec<(OrgNumber, OrgNumber, u32)>,
    /// (type, recipient, sender), sorted: subject search.
    by_type_recipient: Vec<(u32, OrgNumber, OrgNumber)>,
    /// The rows of `by_sender_type` a check could call `readable`, for one state of a
    /// verifier (see [`RouteIndex::refresh`]).
    readable: ArcSwapOption<Readable>,
}

impl std::fmt::Debug for RouteIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.readable.load();
        f.debug_struct("RouteIndex")
            .field("routes", &self.by_sender_type.len())
            .field("readable", &r.as_ref().map(|r| r.rows.len()))
            .finish()
    }
}

/// The rows of `by_sender_type` that a check by one state of a verifier could call
/// `readable`, in order. All other rows a check calls `not_readable` or `unknown`.
struct Readable {
    /// The verifier state it was built from ([`Pinned::generation`]).
    generation: u64,
    /// (position in `by_sender_type`, index in `stamps` or [`JUDGE`]), by position.
    rows: Vec<(u32, u32)>,
    /// When the evidence of each readable (message type, recipient) was observed, and
    /// whether the answer is kept however old it is.
    stamps: Vec<(Timestamp, bool)>,
}

/// A row the verifier has not judged: only a check can tell.
const JUDGE: u32 = u32::MAX;

impl Readable {
    fn bytes(&self) -> usize {
        std::mem::size_of::<Readable>()
            + self.rows.capacity() * std::mem::size_of::<(u32, u32)>()
            + self.stamps.capacity() * std::mem::size_of::<(Timestamp, bool)>()
    }
}

impl RouteIndex {
    /// Indexes `routes`, whose message types `policies` defines (rows naming another are
    /// left out: the routing table refuses them when it loads).
    pub fn new(routes: &RoutingTable, policies: &Policies) -> RouteIndex {
        let types: Vec<MessageTypeId> = policies
            .message_types()
            .iter()
            .map(|m| m.id.clone())
            .collect();
        let mut a = Vec::with_capacity(routes.entries.len());
        for e in &routes.entries {
            if let Some(t) = policies.message_type_index(&e.route.message_type) {
                a.push((e.route.sender, t as u32, e.route.recipient));
            }
        }
        a.sort_unstable();
        a.dedup();
        let mut b: Vec<_> = a.iter().map(|&(s, t, r)| (s, r, t)).collect();
        b.sort_unstable();
        let mut c: Vec<_> = a.iter().map(|&(s, t, r)| (t, r, s)).collect();
        c.sort_unstable();
        RouteIndex {
            types,
            by_sender_type: a,
            by_sender_recipient: b,
            by_type_recipient: c,
            readable: ArcSwapOption::empty(),
        }
    }

    /// Lists the routes `verifier`'s current answers could call `readable`, so that
    /// resource searches answer from that list (until the verifier's answers change).
    /// Call it after each swap of the verifier and on a new index; it walks every route
    /// once. Without it, pages are the same, only slower. Of two refreshes that overlap,
    /// the list of the verifier's later state is kept.
    pub fn refresh(&self, verifier: &Verifier) {
        let pinned = verifier.pin();
        let Ok(_) = u32::try_from(self.by_sender_type.len()) else {
            // Past four billion routes positions do not fit: the slow path it is.
            self.readable.store(None);
            return;
        };
        // This index's message types, as the verifier's policies number them.
        let types: Vec<Option<u32>> = self.types.iter().map(|t| pinned.type_index(t)).collect();
        let mut rows = Vec::new();
        let mut stamps = Vec::new();
        let mut seen: rustc_hash::FxHashMap<(u32, OrgNumber), u32> =
            rustc_hash::FxHashMap::default();
        for (i, &(_, t, r)) in self.by_sender_type.iter().enumerate() {
            let Some(Some(vt)) = types.get(t as usize) else {
                continue;
            };
            let stamp = match pinned.prospect(*vt, r) {
                Prospect::Never => continue,
                Prospect::Judge => JUDGE,
                Prospect::Readable {
                    observed_at,
                    exempt,
                } => *seen.entry((*vt, r)).or_insert_with(|| {
                    stamps.push((observed_at, exempt));
                    (stamps.len() - 1) as u32
                }),
            };
            rows.push((i as u32, stamp));
        }
        rows.shrink_to_fit();
        stamps.shrink_to_fit();
        let new = Arc::new(Readable {
            generation: pinned.generation(),
            rows,
            stamps,
        });
        // Two refreshes may overlap: the list of the later state stays.
        self.readable.rcu(|current| match current {
            Some(c) if c.generation > new.generation => Some(Arc::clone(c)),
            _ => Some(Arc::clone(&new)),
        });
    }

    /// Whether resource searches take the fast path for `verifier`'s current answers
    /// (the index was refreshed since they last changed).
    pub fn is_current(&self, verifier: &Verifier) -> bool {
        let g = verifier.pin().generation();
        self.readable
            .load()
            .as_ref()
            .is_some_and(|r| r.generation == g)
    }

    /// The memory the fast path holds, in bytes (0 before the first refresh).
    pub fn readable_bytes(&self) -> usize {
        self.readable.load().as_ref().map_or(0, |r| r.bytes())
    }

    /// The distinct routes indexed.
    pub fn len(&self) -> usize {
        self.by_sender_type.len()
    }

    /// Whether no route is indexed.
    pub fn is_empty(&self) -> bool {
        self.by_sender_type.is_empty()
    }

    fn type_index(&self, t: &MessageTypeId) -> Option<u32> {
        self.types.iter().position(|x| x == t).map(|i| i as u32)
    }

    /// Where the rows of `sender` and `message_type` lie in `by_sender_type`.
    fn resource_range(
        &self,
        sender: OrgNumber,
        message_type: &MessageTypeId,
    ) -> Option<(usize, usize)> {
        let t = self.type_index(message_type)?;
        let key = (sender, t);
        let v = &self.by_sender_type;
        let lo = v.partition_point(|&(s, tt, _)| (s, tt) < key);
        let hi = lo + v[lo..].partition_point(|&(s, tt, _)| (s, tt) == key);
        Some((lo, hi))
    }

    /// The routes of a search, in a fixed order (a page is a window of these).
    pub fn candidates(&self, query: &Query) -> Candidates<'_> {
        match query {
            Query::Resources {
                sender,
                message_type,
            } => {
                let Some((lo, hi)) = self.resource_range(*sender, message_type) else {
                    return Candidates::None;
                };
                Candidates::Recipients {
                    index: self,
                    rows: &self.by_sender_type[lo..hi],
                }
            }
            Query::Actions { sender, recipient } => {
                let key = (*sender, *recipient);
                let v = &self.by_sender_recipient;
                let lo = v.partition_point(|&(s, r, _)| (s, r) < key);
                let hi = lo + v[lo..].partition_point(|&(s, r, _)| (s, r) == key);
                Candidates::Types {
                    index: self,
                    rows: &v[lo..hi],
                }
            }
            Query::Subjects {
                message_type,
                recipient,
            } => {
                let Some(t) = self.type_index(message_type) else {
                    return Candidates::None;
                };
                let key = (t, *recipient);
                let v = &self.by_type_recipient;
                let lo = v.partition_point(|&(tt, r, _)| (tt, r) < key);
                let hi = lo + v[lo..].partition_point(|&(tt, r, _)| (tt, r) == key);
                Candidates::Senders {
                    index: self,
                    rows: &v[lo..hi],
                }
            }
        }
    }

    /// One page of `query`: the readable routes from `from` on, at most `limit` of them,
    /// walking at most [`MAX_SCAN`] routes; `next` is where the following page starts.
    pub fn page(
        &self,
        verifier: &Verifier,
        query: &Query,
        from: usize,
        limit: usize,
        now: Timestamp,
    ) -> Page {
        let pinned = verifier.pin();
        let candidates = self.candidates(query);
        let total = candidates.len();
        let mut hits = Vec::with_capacity(limit.min(total.saturating_sub(from)));
        let mut at = from.min(total);
        let end = total.min(from.saturating_add(MAX_SCAN));
        let readable = self.readable.load();
        let fast = match (query, readable.as_ref()) {
            (
                Query::Resources {
                    sender,
                    message_type,
                },
                Some(r),
            ) if limit > 0 && r.generation == pinned.generation() => self
                .resource_range(*sender, message_type)
                .map(|(lo, _)| (r, lo)),
            _ => None,
        };
        if let Some((r, lo)) = fast {
            // The rows a check could call readable in the window, by position.
            let first = r.rows.partition_point(|&(p, _)| (p as usize) < lo + at);
            let max_age = pinned.max_data_age();
            at = end;
            for &(p, stamp) in &r.rows[first..] {
                let i = p as usize - lo;
                if i >= end {
                    break;
                }
                if let Some(&(observed_at, exempt)) = r.stamps.get(stamp as usize)
                    && !exempt
                    && too_old(now, observed_at, max_age)
                {
                    continue;
                }
                if let Some(hit) = checked(&pinned, &candidates, i, now) {
                    hits.push(hit);
                    if hits.len() == limit {
                        at = i + 1;
                        break;
                    }
                }
            }
        } else {
            while at < end && hits.len() < limit {
                if let Some(hit) = checked(&pinned, &candidates, at, now) {
                    hits.push(hit);
                }
                at += 1;
            }
        }
        Page {
            hits,
            next: (at < total).then_some(at),
        }
    }
}

/// Route `i` of `candidates` with its decision, if a check calls it readable.
fn checked(
    pinned: &Pinned,
    candidates: &Candidates<'_>,
    i: usize,
    now: Timestamp,
) -> Option<(Route, Decision)> {
    let route = candidates.route(i)?;
    let d = pinned.check_at(&route, now);
    (d.verdict == Verdict::Readable).then_some((route, d))
}

/// What a search asks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Query {
    /// The recipients `sender` reaches with `message_type`.
    Resources {
        /// The sender.
        sender: OrgNumber,
        /// The message type.
        message_type: MessageTypeId,
    },
    /// The message types `sender` can send `recipient`.
    Actions {
        /// The sender.
        sender: OrgNumber,
        /// The recipient.
        recipient: OrgNumber,
    },
    /// The senders whose routes reach `recipient` with `message_type`.
    Subjects {
        /// The message type.
        message_type: MessageTypeId,
        /// The recipient.
        recipient: OrgNumber,
    },
}

/// The routes a search walks, in order.
#[derive(Debug)]
pub enum Candidates<'a> {
    /// The message type is not in the index.
    None,
    /// Resource search.
    Recipients {
        /// The index.
        index: &'a RouteIndex,
        /// (sender, type, recipient) rows.
        rows: &'a [(OrgNumber, u32, OrgNumber)],
    },
    /// Action search.
    Types {
        /// The index.
        index: &'a RouteIndex,
        /// (sender, recipient, type) rows.
        rows: &'a [(OrgNumber, OrgNumber, u32)],
    },
    /// Subject search.
    Senders {
        /// The index.
        index: &'a RouteIndex,
        /// (type, recipient, sender) rows.
        rows: &'a [(u32, OrgNumber, OrgNumber)],
    },
}

impl Candidates<'_> {
    /// How many routes the search walks in all.
    pub fn len(&self) -> usize {
        match self {
            Candidates::None => 0,
            Candidates::Recipients { rows, .. } => rows.len(),
            Candidates::Types { rows, .. } => rows.len(),
            Candidates::Senders { rows, .. } => rows.len(),
        }
    }

    /// Whether there is nothing to walk.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th route.
    pub fn route(&self, i: usize) -> Option<Route> {
        let (s, t, r, index) = match self {
            Candidates::None => return None,
            Candidates::Recipients { index, rows } => {
                let &(s, t, r) = rows.get(i)?;
                (s, t, r, index)
            }
            Candidates::Types { index, rows } => {
                let &(s, r, t) = rows.get(i)?;
                (s, t, r, index)
            }
            Candidates::Senders { index, rows } => {
                let &(t, r, s) = rows.get(i)?;
                (s, t, r, index)
            }
        };
        Some(Route::new(s, index.types.get(t as usize)?.clone(), r))
    }
}

/// One page of a search.
#[derive(Debug)]
pub struct Page {
    /// The readable routes, in index order, with their decisions.
    pub hits: Vec<(Route, Decision)>,
    /// Where the next page starts, if anything is left to walk.
    pub next: Option<usize>,
}

/// A page token: where the next page starts, bound to the search it belongs to, so that a
/// token from another search (or a mangled one) is refused rather than misread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageToken {
    /// Position in the search's routes.
    pub at: usize,
    fingerprint: u64,
}

/// A page token that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PageTokenError {
    /// Not a token this server made.
    #[error("not a page token of this server: pass back `page.next_token` unchanged")]
    Malformed,
    /// A token of a different search.
    #[error(
        "the page token belongs to another search: repeat the search it came from, or leave the token out"
    )]
    OtherSearch,
}

fn fingerprint(query: &Query) -> u64 {
    let mut h = FxHasher::default();
    query.hash(&mut h);
    h.finish()
}

impl PageToken {
    /// The token for position `at` of `query`.
    pub fn new(query: &Query, at: usize) -> PageToken {
        PageToken {
            at,
            fingerprint: fingerprint(query),
        }
    }

    /// The opaque text form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("rc1.{}.{:016x}", self.at, self.fingerprint))
    }

    /// Reads a token given back for `query`.
    pub fn decode(text: &str, query: &Query) -> Result<PageToken, PageTokenError> {
        let raw = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| PageTokenError::Malformed)?;
        let raw = std::str::from_utf8(&raw).map_err(|_| PageTokenError::Malformed)?;
        let mut parts = raw.split('.');
        let (Some("rc1"), Some(at), Some(fp), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(PageTokenError::Malformed);
        };
        let at: usize = at.parse().map_err(|_| PageTokenError::Malformed)?;
        let fp = u64::from_str_radix(fp, 16).map_err(|_| PageTokenError::Malformed)?;
        if fp != fingerprint(query) {
            return Err(PageTokenError::OtherSearch);
        }
        Ok(PageToken {
            at,
            fingerprint: fp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(s: &str) -> OrgNumber {
        OrgNumber::parse(s).unwrap()
    }

    #[test]
    fn a_page_walks_a_bounded_number_of_routes_and_lists_no_unknown_route() {
        let policies = std::sync::Arc::new(Policies::load("policies".as_ref()).unwrap());
        let sender = org("310000019");
        let t = policies.message_types()[0].id.clone();
        let mut csv = String::from("sender,message_type,recipient\n");
        let recipients: Vec<OrgNumber> = (40_000_000..)
            .filter_map(OrgNumber::from_body)
            .take(MAX_SCAN + 5)
            .collect();
        for r in &recipients {
            csv.push_str(&format!("{sender},{t},{r}\n"));
        }
        let table = RoutingTable::parse(
            "r.csv".as_ref(),
            csv.as_bytes(),
            |m| policies.message_type_index(m).is_some(),
            "",
        )
        .unwrap();
        let index = RouteIndex::new(&table, &policies);
        assert_eq!(index.len(), recipients.len());
        // Nothing swept: every route is `unknown`, so nothing is a result.
        let verifier = Verifier::empty(
            std::sync::Arc::clone(&policies),
            crate::engine::DEFAULT_MAX_DATA_AGE,
        );
        let q = Query::Resources {
            sender,
            message_type: t.clone(),
        };
        let now = Timestamp::UNIX_EPOCH;
        let first = index.page(&verifier, &q, 0, 100, now);
        assert!(first.hits.is_empty());
        assert_eq!(first.next, Some(MAX_SCAN));
        let last = index.page(&verifier, &q, MAX_SCAN, 100, now);
        assert!(last.hits.is_empty());
        assert_eq!(last.next, None);
        // A position past the end is an empty last page, not a panic.
        let past = index.page(&verifier, &q, usize::MAX, 100, now);
        assert!(past.hits.is_empty() && past.next.is_none());
        // Another sender, another type: nothing to walk.
        let other = Query::Resources {
            sender: org("964338531"),
            message_type: t,
        };
        assert!(index.candidates(&other).is_empty());
    }

    #[test]
    fn a_token_round_trips_and_is_refused_for_another_search_or_mangled() {
        let q = Query::Resources {
            sender: org("310000019"),
            message_type: MessageTypeId::parse("bekymringsmelding").unwrap(),
        };
        let other = Query::Actions {
            sender: org("310000019"),
            recipient: org("964338531"),
        };
        let t = PageToken::new(&q, 1234);
        let text = t.encode();
        assert_eq!(PageToken::decode(&text, &q), Ok(t));
        assert_eq!(PageToken::decode(&text, &q).unwrap().at, 1234);
        assert_eq!(
            PageToken::decode(&text, &other),
            Err(PageTokenError::OtherSearch)
        );
        for bad in [
            "",
            "!!",
            "abc",
            &URL_SAFE_NO_PAD.encode("rc1.x.00"),
            &text[1..],
        ] {
            assert!(PageToken::decode(bad, &q).is_err(), "{bad}");
        }
    }

    /// Every page of every resource search of `table`, following tokens, from `index`,
    /// checked against a check of every route and against the same pages walked route by
    /// route (an index never refreshed). Returns the readable routes found.
    fn all_results(
        index: &RouteIndex,
        table: &RoutingTable,
        verifier: &Verifier,
        now: Timestamp,
    ) -> std::collections::BTreeSet<(OrgNumber, String, OrgNumber)> {
        let slow = RouteIndex::new(table, &verifier.policies());
        assert!(!slow.is_current(verifier));
        let mut found = std::collections::BTreeSet::new();
        let searches: std::collections::BTreeSet<_> = table
            .routes()
            .map(|r| (r.sender, r.message_type.clone()))
            .collect();
        for (sender, message_type) in searches {
            let q = Query::Resources {
                sender,
                message_type,
            };
            let candidates = index.candidates(&q);
            let expected: Vec<(Route, Decision)> = (0..candidates.len())
                .filter_map(|i| candidates.route(i))
                .map(|r| {
                    let d = verifier.check_at(&r, now);
                    (r, d)
                })
                .filter(|(_, d)| d.verdict == Verdict::Readable)
                .collect();
            // Small pages, so that tokens are followed.
            let mut got = Vec::new();
            let mut at = Some(0);
            while let Some(from) = at {
                let page = index.page(verifier, &q, from, 7, now);
                let walked = slow.page(verifier, &q, from, 7, now);
                assert_eq!(page.next, walked.next, "{q:?} from {from}");
                assert_eq!(page.hits, walked.hits, "{q:?} from {from}");
                at = page.next;
                got.extend(page.hits);
            }
            assert_eq!(got, expected, "{q:?}");
            found.extend(
                got.iter()
                    .map(|(r, _)| (r.sender, r.message_type.to_string(), r.recipient)),
            );
        }
        found
    }

    #[test]
    fn a_search_lists_exactly_the_routes_a_check_calls_readable_after_sweeps_and_when_stale() {
        let policies = std::sync::Arc::new(Policies::load("policies".as_ref()).unwrap());
        let table = RoutingTable::load("examples/demo/routes.csv".as_ref(), &policies).unwrap();
        let recipients: std::collections::BTreeSet<OrgNumber> =
            table.routes().map(|r| r.recipient).collect();
        let engine = || {
            let snapshot = crate::SnapshotDir::new("examples/demo/snapshot")
                .load(recipients.iter().copied(), &policies.resource_ids())
                .unwrap();
            crate::Engine::new(
                std::sync::Arc::clone(&policies),
                std::sync::Arc::new(snapshot),
                crate::engine::DEFAULT_MAX_DATA_AGE,
            )
        };
        let now: Timestamp = "2026-11-21T06:00:00Z".parse().unwrap();
        let max_age = crate::engine::DEFAULT_MAX_DATA_AGE;
        let evaluation = crate::evaluate(&engine(), &table, now);
        let verifier = Verifier::new(engine(), Some(&evaluation));
        let index = RouteIndex::new(&table, &policies);
        index.refresh(&verifier);
        assert!(index.is_current(&verifier));
        assert!(index.readable_bytes() > 0);

        // The sweep's answers: the results are the routes the evaluation judged readable.
        let found = all_results(&index, &table, &verifier, now);
        let judged: std::collections::BTreeSet<_> = evaluation
            .iter()
            .filter(|(_, a)| a.verdict == Verdict::Readable)
            .map(|(r, _)| {
                let r = &r.route;
                (r.sender, r.message_type.to_string(), r.recipient)
            })
            .collect();
        assert_eq!(found, judged);
        assert!(
            !found.is_empty() && found.len() < table.len(),
            "a mixed case"
        );

        // A pinned `now` past the evidence's age: every check is `unknown`, so no results,
        // though the index still lists the routes as judged readable.
        let late = now
            .checked_add(max_age)
            .unwrap()
            .checked_add(jiff::SignedDuration::from_secs(1))
            .unwrap();
        assert!(index.is_current(&verifier));
        assert!(all_results(&index, &table, &verifier, late).is_empty());

        // Judged on demand (no evaluation held): the same results.
        let on_demand = Verifier::new(engine(), None);
        index.refresh(&on_demand);
        assert!(index.is_current(&on_demand));
        assert_eq!(all_results(&index, &table, &on_demand, now), judged);

        // A later sweep turns verdicts around: readable routes are not, the others are.
        let flipped: Vec<crate::store::StoredVerdict> = evaluation
            .iter()
            .map(|(r, a)| crate::store::StoredVerdict {
                route: r.route.clone(),
                verdict: if a.verdict == Verdict::Readable {
                    Verdict::NotReadable
                } else {
                    Verdict::Readable
                },
                readers: 1,
                tier: a.tier,
                findings: std::sync::Arc::from([]),
            })
            .collect();
        let latest = crate::store::Latest {
            sweep: crate::store::SweepRecord {
                id: 2,
                started_at: now,
                finished_at: Some(now),
                source: "test".to_owned(),
                status: crate::store::SweepStatus::Ok,
                error: None,
                taken_at: Some(now),
                counts: None,
                changed: None,
            },
            taken_at: now,
            verdicts: flipped,
        };
        verifier.swap_stored(std::sync::Arc::clone(&policies), &latest, max_age);
        // Before the index is refreshed, pages walk the routes: still exact.
        assert!(!index.is_current(&verifier));
        let before = all_results(&index, &table, &verifier, now);
        index.refresh(&verifier);
        assert!(index.is_current(&verifier));
        let after = all_results(&index, &table, &verifier, now);
        assert_eq!(before, after);
        let all: std::collections::BTreeSet<_> = table
            .routes()
            .map(|r| (r.sender, r.message_type.to_string(), r.recipient))
            .collect();
        assert_eq!(
            after,
            all.difference(&judged).cloned().collect(),
            "the results follow the new sweep"
        );
        // The stored answers grow too old as well.
        assert!(all_results(&index, &table, &verifier, late).is_empty());
        // A verifier that knows nothing: nothing is readable.
        let empty = Verifier::empty(std::sync::Arc::clone(&policies), max_age);
        index.refresh(&empty);
        assert!(all_results(&index, &table, &empty, now).is_empty());
    }
}
