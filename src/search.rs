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

use std::hash::{Hash, Hasher};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use rustc_hash::FxHasher;

use crate::model::{MessageTypeId, OrgNumber, Route, Verdict};
use crate::policy::Policies;
use crate::routing::RoutingTable;
use crate::verifier::{Decision, Verifier};

/// Results per page when the request does not say.
pub const DEFAULT_PAGE: usize = 100;
/// The most results one page may ask for.
pub const MAX_PAGE: usize = 1000;
/// The most routes one page walks before it answers (with a token to go on).
pub const MAX_SCAN: usize = 20_000;

/// The routing table, sorted for the three searches. Message types are held by their
/// index in the policies the index was built with.
#[derive(Debug, Default)]
pub struct RouteIndex {
    types: Vec<MessageTypeId>,
    /// (sender, type, recipient), sorted: resource search.
    by_sender_type: Vec<(OrgNumber, u32, OrgNumber)>,
    /// (sender, recipient, type), sorted: action search.
    by_sender_recipient: Vec<(OrgNumber, OrgNumber, u32)>,
    /// (type, recipient, sender), sorted: subject search.
    by_type_recipient: Vec<(u32, OrgNumber, OrgNumber)>,
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
        }
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

    /// The routes of a search, in a fixed order (a page is a window of these).
    pub fn candidates(&self, query: &Query) -> Candidates<'_> {
        match query {
            Query::Resources {
                sender,
                message_type,
            } => {
                let Some(t) = self.type_index(message_type) else {
                    return Candidates::None;
                };
                let key = (*sender, t);
                let v = &self.by_sender_type;
                let lo = v.partition_point(|&(s, tt, _)| (s, tt) < key);
                let hi = lo + v[lo..].partition_point(|&(s, tt, _)| (s, tt) == key);
                Candidates::Recipients {
                    index: self,
                    rows: &v[lo..hi],
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
        let candidates = self.candidates(query);
        let total = candidates.len();
        let mut hits = Vec::with_capacity(limit.min(total.saturating_sub(from)));
        let mut at = from.min(total);
        let end = total.min(from.saturating_add(MAX_SCAN));
        while at < end && hits.len() < limit {
            if let Some(route) = candidates.route(at) {
                let d = verifier.check_at(&route, now);
                if d.verdict == Verdict::Readable {
                    hits.push((route, d));
                }
            }
            at += 1;
        }
        Page {
            hits,
            next: (at < total).then_some(at),
        }
    }
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
}
