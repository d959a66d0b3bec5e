//! The latest sweep's answers in one compact blob (table `answers`), so that a restart
//! reads one row sequentially instead of joining a million rows of history: a cache of the
//! current state, replaced by every sweep in the same transaction as its verdicts. The
//! verdict history stays the record; when the blob is missing or does not decode, the
//! answers are read from the history instead.
//!
//! Layout (little-endian): `RCA1`; the message types (`u32` count, each `u16` length +
//! UTF-8); the distinct findings lists (`u32` count, each `u32` length + JSON); the rows
//! (`u32` count, each 20 bytes: sender `u32`, message type `u16`, recipient `u32`,
//! verdict `u8`, tier `u8`, readers `u32`, findings `u32` (0 = none, else 1-based)).
//!
//! Beside it, what changed since the sweep this store recorded before (table
//! `answer_changes`), for instances that answer from memory and do not sweep: they apply
//! the changes to the answers they hold instead of reading all of them again. A check
//! answers by (message type, recipient) — a judgement every sender's route to that pair
//! shares — so the changes are by pair. Layout: `RCC1`; the message types and the
//! findings lists as above (only those the changes use); the findings on the sweep's
//! routes by code (`u32` length + JSON, for the metrics); the changed pairs (`u32` count,
//! each 16 bytes: message type `u16`, recipient `u32`, verdict `u8` (3 = no longer
//! judged), tier `u8`, readers `u32`, findings `u32`).

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use super::StoredVerdict;
use crate::model::{EvidenceTier, Finding, FindingCode, MessageTypeId, OrgNumber, Route, Verdict};

const MAGIC: &[u8; 4] = b"RCA1";
const CHANGES_MAGIC: &[u8; 4] = b"RCC1";
/// The verdict byte of a pair no longer judged.
const GONE: u8 = 3;

/// A (message type, recipient) pair's answer as a blob holds it: verdict, tier, readers,
/// findings list number (0 = none).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct PairRow {
    verdict: u8,
    tier: u8,
    readers: u32,
    list: u32,
}

/// The answers a store recorded last: the sweep, the SHA-256 of the blob, and its pairs.
pub(super) struct Kept {
    pub(super) sweep: super::SweepId,
    pub(super) hash: [u8; 32],
    pub(super) pairs: Pairs,
}

/// What a store keeps of the answers it recorded last, to write the next sweep's changes:
/// the pairs' answers, with the message types and findings lists their numbers stand for.
pub(super) struct Pairs {
    types: Vec<String>,
    findings: Vec<String>,
    rows: FxHashMap<(u16, u32), PairRow>,
}

/// Builds the blob, row by row.
#[derive(Default)]
pub(super) struct Encoder {
    types: Vec<String>,
    findings: Vec<String>,
    finding_index: FxHashMap<String, u32>,
    rows: Vec<u8>,
    count: u32,
    /// The routes pushed, by (sender, message type, recipient): a route the routing
    /// table holds twice is answered once.
    pushed: FxHashSet<(u32, u16, u32)>,
    /// Each (message type, recipient) pair's answer, as first pushed.
    pairs: FxHashMap<(u16, u32), PairRow>,
}

impl Encoder {
    /// The number a row gives for the findings list `text` (computed once per list, not
    /// per row: a million rows share a few thousand lists).
    pub(super) fn list(&mut self, text: &str) -> u32 {
        match self.finding_index.get(text) {
            Some(&i) => i,
            None => {
                self.findings.push(text.to_owned());
                let i = self.findings.len() as u32;
                self.finding_index.insert(text.to_owned(), i);
                i
            }
        }
    }

    /// Adds a row, unless its route has one already; `list` is its findings list's
    /// [`list`](Self::list) number, 0 for none.
    pub(super) fn push(
        &mut self,
        route: &Route,
        verdict: Verdict,
        tier: EvidenceTier,
        readers: u32,
        list: u32,
    ) {
        let t = match self
            .types
            .iter()
            .position(|x| x == route.message_type.as_str())
        {
            Some(i) => i,
            None => {
                self.types.push(route.message_type.to_string());
                self.types.len() - 1
            }
        } as u16;
        if !self
            .pushed
            .insert((route.sender.get(), t, route.recipient.get()))
        {
            return;
        }
        let row = PairRow {
            verdict: verdict_byte(verdict),
            tier: tier_byte(tier),
            readers,
            list,
        };
        self.pairs.entry((t, route.recipient.get())).or_insert(row);
        self.rows
            .extend_from_slice(&route.sender.get().to_le_bytes());
        self.rows.extend_from_slice(&t.to_le_bytes());
        self.rows
            .extend_from_slice(&route.recipient.get().to_le_bytes());
        self.rows.push(row.verdict);
        self.rows.push(row.tier);
        self.rows.extend_from_slice(&readers.to_le_bytes());
        self.rows.extend_from_slice(&list.to_le_bytes());
        self.count += 1;
    }

    /// The blob, and the pairs' answers it holds (for the next sweep's changes).
    pub(super) fn finish(self) -> (Vec<u8>, Pairs) {
        let mut out = Vec::with_capacity(self.rows.len() + 1024);
        out.extend_from_slice(MAGIC);
        put_texts(&mut out, &self.types, &self.findings);
        out.extend_from_slice(&self.count.to_le_bytes());
        out.extend_from_slice(&self.rows);
        let pairs = Pairs {
            types: self.types,
            findings: self.findings,
            rows: self.pairs,
        };
        (out, pairs)
    }
}

fn verdict_byte(v: Verdict) -> u8 {
    match v {
        Verdict::Readable => 0,
        Verdict::NotReadable => 1,
        Verdict::Unknown => 2,
    }
}

fn tier_byte(t: EvidenceTier) -> u8 {
    match t {
        EvidenceTier::Connections => 0,
        EvidenceTier::Er => 1,
    }
}

fn verdict_of(b: u8) -> Option<Verdict> {
    match b {
        0 => Some(Verdict::Readable),
        1 => Some(Verdict::NotReadable),
        2 => Some(Verdict::Unknown),
        _ => None,
    }
}

fn tier_of(b: u8) -> Option<EvidenceTier> {
    match b {
        0 => Some(EvidenceTier::Connections),
        1 => Some(EvidenceTier::Er),
        _ => None,
    }
}

/// The message types, then the findings lists, as both blobs lay them out.
fn put_texts(out: &mut Vec<u8>, types: &[String], findings: &[String]) {
    out.extend_from_slice(&(types.len() as u32).to_le_bytes());
    for t in types {
        out.extend_from_slice(&(t.len() as u16).to_le_bytes());
        out.extend_from_slice(t.as_bytes());
    }
    out.extend_from_slice(&(findings.len() as u32).to_le_bytes());
    for f in findings {
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f.as_bytes());
    }
}

/// The message types and findings lists a blob numbers.
type Texts = (Vec<MessageTypeId>, Vec<Arc<[Finding]>>);

/// Reads what [`put_texts`] wrote: the message types, and the findings lists with the
/// empty list as number 0.
fn take_texts(r: &mut Reader<'_>) -> Option<Texts> {
    let n_types = r.u32()?;
    let mut types = Vec::new();
    for _ in 0..n_types {
        let len = r.u16()? as usize;
        let text = std::str::from_utf8(r.take(len)?).ok()?;
        types.push(MessageTypeId::parse(text).ok()?);
    }
    let n_findings = r.u32()?;
    let mut findings: Vec<Arc<[Finding]>> = vec![Arc::from([])];
    for _ in 0..n_findings {
        let len = r.u32()? as usize;
        let list: Vec<Finding> = serde_json::from_slice(r.take(len)?).ok()?;
        findings.push(list.into());
    }
    Some((types, findings))
}

/// The changes from the answers `old` to the answers `new` (both from [`Encoder::finish`]),
/// with the findings on the new sweep's routes by code; the body of `answer_changes`.
pub(super) fn changes(old: &Pairs, new: &Pairs, by_code: &[(FindingCode, u64)]) -> Vec<u8> {
    let old_type: Vec<Option<u16>> = new
        .types
        .iter()
        .map(|t| old.types.iter().position(|o| o == t).map(|i| i as u16))
        .collect();
    fn text(p: &Pairs, list: u32) -> &str {
        match list {
            0 => "",
            n => p.findings[n as usize - 1].as_str(),
        }
    }
    let mut types: Vec<String> = Vec::new();
    let mut lists: Vec<String> = Vec::new();
    let mut list_no: FxHashMap<String, u32> = FxHashMap::default();
    let mut rows: Vec<u8> = Vec::new();
    let mut count = 0u32;
    let mut put = |name: &str, recipient: u32, row: Option<(PairRow, &str)>, rows: &mut Vec<u8>| {
        let t = match types.iter().position(|x| x == name) {
            Some(i) => i,
            None => {
                types.push(name.to_owned());
                types.len() - 1
            }
        } as u16;
        rows.extend_from_slice(&t.to_le_bytes());
        rows.extend_from_slice(&recipient.to_le_bytes());
        match row {
            Some((row, findings)) => {
                let list = match findings {
                    "" => 0,
                    f => *list_no.entry(f.to_owned()).or_insert_with(|| {
                        lists.push(f.to_owned());
                        lists.len() as u32
                    }),
                };
                rows.push(row.verdict);
                rows.push(row.tier);
                rows.extend_from_slice(&row.readers.to_le_bytes());
                rows.extend_from_slice(&list.to_le_bytes());
            }
            None => {
                rows.extend_from_slice(&[GONE, 0]);
                rows.extend_from_slice(&[0; 8]);
            }
        }
        count += 1;
    };
    for (&(t, recipient), row) in &new.rows {
        let findings = text(new, row.list);
        let same = old_type[t as usize]
            .and_then(|o| old.rows.get(&(o, recipient)))
            .is_some_and(|was| {
                (was.verdict, was.tier, was.readers) == (row.verdict, row.tier, row.readers)
                    && text(old, was.list) == findings
            });
        if !same {
            put(
                &new.types[t as usize],
                recipient,
                Some((*row, findings)),
                &mut rows,
            );
        }
    }
    for &(t, recipient) in old.rows.keys() {
        let name = &old.types[t as usize];
        let kept = new
            .types
            .iter()
            .position(|n| n == name)
            .is_some_and(|n| new.rows.contains_key(&(n as u16, recipient)));
        if !kept {
            put(name, recipient, None, &mut rows);
        }
    }
    let mut out = Vec::with_capacity(rows.len() + 1024);
    out.extend_from_slice(CHANGES_MAGIC);
    put_texts(&mut out, &types, &lists);
    let codes = serde_json::to_vec(by_code).unwrap_or_else(|_| b"[]".to_vec());
    out.extend_from_slice(&(codes.len() as u32).to_le_bytes());
    out.extend_from_slice(&codes);
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&rows);
    out
}

/// A (message type, recipient) pair whose answer changed: its new answer, or `None` when no
/// route to the pair was judged any more.
#[derive(Clone, Debug, PartialEq)]
pub struct PairChange {
    /// The message type.
    pub message_type: MessageTypeId,
    /// The recipient.
    pub recipient: OrgNumber,
    /// The new answer (`None`: no longer judged).
    pub answer: Option<PairAnswer>,
}

/// A pair's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct PairAnswer {
    /// Its verdict.
    pub verdict: Verdict,
    /// Readers found.
    pub readers: u32,
    /// Whether the evidence was complete.
    pub tier: EvidenceTier,
    /// The findings.
    pub findings: Arc<[Finding]>,
}

/// The changed pairs, and the findings by code.
pub(super) type Changes = (Vec<PairChange>, Vec<(FindingCode, u64)>);

/// Reads a changes body; `None` when it is not one this build wrote whole.
pub(super) fn decode_changes(body: &[u8]) -> Option<Changes> {
    let mut r = Reader { body, at: 0 };
    if r.take(4)? != CHANGES_MAGIC {
        return None;
    }
    let (types, findings) = take_texts(&mut r)?;
    let len = r.u32()? as usize;
    let by_code: Vec<(FindingCode, u64)> = serde_json::from_slice(r.take(len)?).ok()?;
    let n = r.u32()? as usize;
    if r.body.len() - r.at != n.checked_mul(16)? {
        return None;
    }
    let mut out = Vec::with_capacity(n);
    for row in r.body[r.at..].chunks_exact(16) {
        let u32_at = |i: usize| u32::from_le_bytes([row[i], row[i + 1], row[i + 2], row[i + 3]]);
        let message_type = types
            .get(u16::from_le_bytes([row[0], row[1]]) as usize)?
            .clone();
        let recipient = OrgNumber::from_u32(u32_at(2))?;
        let answer = match row[6] {
            GONE => None,
            v => Some(PairAnswer {
                verdict: verdict_of(v)?,
                tier: tier_of(row[7])?,
                readers: u32_at(8),
                findings: Arc::clone(findings.get(u32_at(12) as usize)?),
            }),
        };
        out.push(PairChange {
            message_type,
            recipient,
            answer,
        });
    }
    Some((out, by_code))
}

/// Reads a blob; `None` when it is not one this build wrote whole.
pub(super) fn decode(body: &[u8]) -> Option<Vec<StoredVerdict>> {
    let mut r = Reader { body, at: 0 };
    if r.take(4)? != MAGIC {
        return None;
    }
    let (types, findings) = take_texts(&mut r)?;
    let n = r.u32()? as usize;
    if r.body.len() - r.at != n * 20 {
        return None;
    }
    let mut out = Vec::with_capacity(n);
    for row in r.body[r.at..].chunks_exact(20) {
        let u32_at = |i: usize| u32::from_le_bytes([row[i], row[i + 1], row[i + 2], row[i + 3]]);
        let sender = OrgNumber::from_u32(u32_at(0))?;
        let t = types.get(u16::from_le_bytes([row[4], row[5]]) as usize)?;
        let recipient = OrgNumber::from_u32(u32_at(6))?;
        let verdict = verdict_of(row[10])?;
        let tier = tier_of(row[11])?;
        out.push(StoredVerdict {
            route: Route::new(sender, t.clone(), recipient),
            verdict,
            readers: u32_at(12),
            tier,
            findings: Arc::clone(findings.get(u32_at(16) as usize)?),
        });
    }
    Some(out)
}

struct Reader<'a> {
    body: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.body.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}
