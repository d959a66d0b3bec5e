//! Paging Altinn's list of sent correspondences (docs/design.md, "Paging the list";
//! API-NOTES-2026 §3.1). The list answers at most 1000 ids, newest `requestedPublishTime`
//! first, filtered by *exclusive* `from`/`to` bounds, with no paging token. So the next
//! window's `to` is the oldest time seen plus 1 µs: the instant the previous page ended in
//! is asked for again, and the siblings of a bulk send that the cap cut off come back
//! (de-duplicated by id). A full page whose ids all share one instant cannot be paged
//! further: that is `outcomes_incomplete`, never a silent loss.
//!
//! The [`Pager`] is the rule alone, with no I/O: the caller asks for [`Pager::window`],
//! lists, learns the times of the page's ids, and tells [`Pager::advance`].

use jiff::{SignedDuration, Timestamp};

/// Ids per list answer (`const int limit = 1000` in `GetCorrespondencesHandler.cs`).
pub const LIST_CAP: usize = 1000;

/// Most pages read for one resource in one poll before giving up as incomplete.
const MAX_PAGES: u32 = 100_000;

/// Where to list next: exclusive bounds on `requestedPublishTime`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Only messages requested after this (exclusive).
    pub from: Option<Timestamp>,
    /// Only messages requested before this (exclusive).
    pub to: Option<Timestamp>,
}

/// What to do after a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// List the next window.
    Next,
    /// The window is exhausted: every message in it was listed.
    Done,
    /// The list cannot be paged further; some messages may never have been listed.
    Incomplete(Incomplete),
}

/// Why a list could not be read whole.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Incomplete {
    /// A full page at one instant: more messages may share it than the cap lets through.
    #[error(
        "{cap} messages share the publish time {at}: Altinn's list cannot be paged past them, so messages published at that instant may be missing"
    )]
    OneInstant {
        /// The instant.
        at: Timestamp,
        /// The cap.
        cap: usize,
    },
    /// A full page whose times are not known (every details body failed).
    #[error(
        "a full page of {cap} ids whose publish times are not known: the list cannot be paged further"
    )]
    NoTimes {
        /// The cap.
        cap: usize,
    },
    /// Too many pages.
    #[error("more than {0} pages: listing stopped")]
    TooManyPages(u32),
}

/// The window rule for one resource.
#[derive(Clone, Debug)]
pub struct Pager {
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    cap: usize,
    pages: u32,
}

impl Pager {
    /// A pager over messages requested after `from` (all when `None`), with Altinn's cap.
    pub fn new(from: Option<Timestamp>) -> Pager {
        Pager::with_cap(from, LIST_CAP)
    }

    /// As [`Pager::new`] with another cap (tests).
    pub fn with_cap(from: Option<Timestamp>, cap: usize) -> Pager {
        Pager {
            from,
            to: None,
            cap: cap.max(1),
            pages: 0,
        }
    }

    /// The window to list now.
    pub fn window(&self) -> Window {
        Window {
            from: self.from,
            to: self.to,
        }
    }

    /// After listing [`Pager::window`]: `page_len` ids came back and the oldest
    /// `requestedPublishTime` among those whose time is known is `oldest`.
    pub fn advance(&mut self, page_len: usize, oldest: Option<Timestamp>) -> Step {
        self.pages += 1;
        if page_len < self.cap {
            return Step::Done;
        }
        if self.pages >= MAX_PAGES {
            return Step::Incomplete(Incomplete::TooManyPages(MAX_PAGES));
        }
        let Some(oldest) = oldest else {
            return Step::Incomplete(Incomplete::NoTimes { cap: self.cap });
        };
        let next = oldest
            .checked_add(SignedDuration::from_micros(1))
            .unwrap_or(oldest);
        if self.to.is_some_and(|to| next >= to) {
            return Step::Incomplete(Incomplete::OneInstant {
                at: oldest,
                cap: self.cap,
            });
        }
        self.to = Some(next);
        Step::Next
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Altinn's list over `(time, id)` pairs: newest first, exclusive bounds, capped.
    fn list(all: &[(Timestamp, u32)], w: Window, cap: usize) -> Vec<(Timestamp, u32)> {
        let mut v: Vec<_> = all
            .iter()
            .copied()
            .filter(|(t, _)| w.from.is_none_or(|f| *t > f) && w.to.is_none_or(|to| *t < to))
            .collect();
        v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        v.truncate(cap);
        v
    }

    fn run(all: &[(Timestamp, u32)], cap: usize) -> (BTreeSet<u32>, Step, u32) {
        let mut p = Pager::with_cap(None, cap);
        let mut seen = BTreeSet::new();
        let mut requests = 0;
        loop {
            requests += 1;
            let page = list(all, p.window(), cap);
            seen.extend(page.iter().map(|(_, id)| *id));
            let oldest = page.iter().map(|(t, _)| *t).min();
            match p.advance(page.len(), oldest) {
                Step::Next => continue,
                s => return (seen, s, requests),
            }
        }
    }

    fn t(us: i64) -> Timestamp {
        Timestamp::from_microsecond(1_790_000_000_000_000 + us).unwrap()
    }

    #[test]
    fn bulk_sends_cut_by_the_cap_lose_no_sibling() {
        // Three bulk sends of 4 siblings each, at three instants; the cap (5) cuts the
        // second one in the middle.
        let all: Vec<_> = (0..12).map(|i| (t(i64::from(i / 4)), i)).collect();
        let (seen, step, _) = run(&all, 5);
        assert_eq!(step, Step::Done);
        assert_eq!(seen.len(), 12);
    }

    #[test]
    fn a_full_page_at_one_instant_is_incomplete_not_lost_silently() {
        let mut all: Vec<_> = (0..7).map(|i| (t(5), i)).collect();
        all.push((t(1), 99));
        let (seen, step, requests) = run(&all, 5);
        assert!(
            matches!(step, Step::Incomplete(Incomplete::OneInstant { .. })),
            "{step:?}"
        );
        assert_eq!(seen.len(), 5);
        assert_eq!(requests, 2, "one more request proves the instant is full");
    }

    #[test]
    fn many_pages_with_distinct_times_are_read_whole() {
        let all: Vec<_> = (0..1500).map(|i| (t(i64::from(i)), i as u32)).collect();
        let (seen, step, requests) = run(&all, LIST_CAP);
        assert_eq!(step, Step::Done);
        assert_eq!(seen.len(), 1500);
        assert_eq!(requests, 2);
        let none: Vec<(Timestamp, u32)> = Vec::new();
        assert_eq!(run(&none, LIST_CAP).1, Step::Done);
    }

    #[test]
    fn a_full_page_without_times_cannot_be_paged() {
        let mut p = Pager::with_cap(None, 2);
        assert_eq!(
            p.advance(2, None),
            Step::Incomplete(Incomplete::NoTimes { cap: 2 })
        );
    }
}
