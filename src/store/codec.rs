//! How values are written into rows and read back, for every table: times as RFC 3339 text
//! in UTC and whole seconds, organisation numbers as integers, verdicts, evidence tiers and
//! severities by name, findings lists as JSON. A stored value this build would not have
//! written is [`corrupt`], never guessed at.
//!
//! Owns the value-level encoding only. Does not own any SQL, table or row shape: the file
//! that owns a table builds and reads its rows with these.

use jiff::Timestamp;
use rustc_hash::FxHashMap;

use crate::model::{EvidenceTier, Finding, MessageTypeId, OrgNumber, Severity, Verdict};

pub(super) fn verdict_str(v: Verdict) -> &'static str {
    match v {
        Verdict::Readable => "readable",
        Verdict::NotReadable => "not_readable",
        Verdict::Unknown => "unknown",
    }
}

pub(super) fn parse_verdict(s: &str) -> Option<Verdict> {
    Some(match s {
        "readable" => Verdict::Readable,
        "not_readable" => Verdict::NotReadable,
        "unknown" => Verdict::Unknown,
        _ => return None,
    })
}

pub(super) fn tier_str(t: EvidenceTier) -> &'static str {
    match t {
        EvidenceTier::Connections => "connections",
        EvidenceTier::Er => "er",
    }
}

pub(super) fn parse_tier(s: &str) -> Option<EvidenceTier> {
    Some(match s {
        "connections" => EvidenceTier::Connections,
        "er" => EvidenceTier::Er,
        _ => return None,
    })
}

pub(super) fn parse_severity(s: &str) -> Option<Severity> {
    Some(match s {
        "info" => Severity::Info,
        "warning" => Severity::Warning,
        "critical" => Severity::Critical,
        _ => return None,
    })
}

use super::sql::DbResult;
pub(super) use super::sql::corrupt;

/// A time as stored: RFC 3339 in UTC, whole seconds (sorts as text, reads as time).
pub(super) fn stamp(t: Timestamp) -> String {
    Timestamp::from_second(t.as_second())
        .unwrap_or(t)
        .to_string()
}

pub(super) fn time(s: &str) -> DbResult<Timestamp> {
    s.parse().map_err(|_| corrupt("time", s))
}

pub(super) fn opt_time(s: Option<String>) -> DbResult<Option<Timestamp>> {
    s.as_deref().map(time).transpose()
}

pub(super) fn org(n: i64) -> DbResult<OrgNumber> {
    u32::try_from(n)
        .ok()
        .and_then(OrgNumber::from_u32)
        .ok_or_else(|| corrupt("organisation number", n))
}

pub(super) fn message_type(s: &str) -> DbResult<MessageTypeId> {
    MessageTypeId::parse(s).map_err(|_| corrupt("message type", s))
}

pub(super) fn findings_json(findings: &[Finding]) -> Option<String> {
    if findings.is_empty() {
        None
    } else {
        serde_json::to_string(findings).ok()
    }
}

/// Texts numbered in the order first met: a million routes share a few thousand findings
/// lists and finding details, so what a sweep keeps of them is numbers, not strings.
#[derive(Default)]
pub(super) struct Texts(FxHashMap<Box<str>, u32>);

impl Texts {
    /// The number of `text`, if it has one.
    pub(super) fn get(&self, text: &str) -> Option<u32> {
        self.0.get(text).copied()
    }

    /// The number of `text`, given one if it has none.
    pub(super) fn number(&mut self, text: &str) -> u32 {
        if let Some(&n) = self.0.get(text) {
            return n;
        }
        let n = self.0.len() as u32;
        self.0.insert(text.into(), n);
        n
    }
}
