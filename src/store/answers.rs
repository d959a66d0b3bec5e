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

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use super::StoredVerdict;
use crate::model::{EvidenceTier, Finding, MessageTypeId, OrgNumber, Route, Verdict};

const MAGIC: &[u8; 4] = b"RCA1";

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
        };
        if !self
            .pushed
            .insert((route.sender.get(), t as u16, route.recipient.get()))
        {
            return;
        }
        self.rows
            .extend_from_slice(&route.sender.get().to_le_bytes());
        self.rows.extend_from_slice(&(t as u16).to_le_bytes());
        self.rows
            .extend_from_slice(&route.recipient.get().to_le_bytes());
        self.rows.push(match verdict {
            Verdict::Readable => 0,
            Verdict::NotReadable => 1,
            Verdict::Unknown => 2,
        });
        self.rows.push(match tier {
            EvidenceTier::Connections => 0,
            EvidenceTier::Er => 1,
        });
        self.rows.extend_from_slice(&readers.to_le_bytes());
        self.rows.extend_from_slice(&list.to_le_bytes());
        self.count += 1;
    }

    pub(super) fn finish(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.rows.len() + 1024);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.types.len() as u32).to_le_bytes());
        for t in &self.types {
            out.extend_from_slice(&(t.len() as u16).to_le_bytes());
            out.extend_from_slice(t.as_bytes());
        }
        out.extend_from_slice(&(self.findings.len() as u32).to_le_bytes());
        for f in &self.findings {
            out.extend_from_slice(&(f.len() as u32).to_le_bytes());
            out.extend_from_slice(f.as_bytes());
        }
        out.extend_from_slice(&self.count.to_le_bytes());
        out.extend_from_slice(&self.rows);
        out
    }
}

/// Reads a blob; `None` when it is not one this build wrote whole.
pub(super) fn decode(body: &[u8]) -> Option<Vec<StoredVerdict>> {
    let mut r = Reader { body, at: 0 };
    if r.take(4)? != MAGIC {
        return None;
    }
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
        let verdict = match row[10] {
            0 => Verdict::Readable,
            1 => Verdict::NotReadable,
            2 => Verdict::Unknown,
            _ => return None,
        };
        let tier = match row[11] {
            0 => EvidenceTier::Connections,
            1 => EvidenceTier::Er,
            _ => return None,
        };
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
