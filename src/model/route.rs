//! [`Route`], [`Verdict`] and [`EvidenceTier`].

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{MessageTypeId, OrgNumber};

/// One line of a sender's routing table: this sender sends this message type to this
/// recipient.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize)]
pub struct Route {
    /// The sending organisation.
    pub sender: OrgNumber,
    /// What is sent.
    pub message_type: MessageTypeId,
    /// The receiving organisation (a main unit or a sub-unit).
    pub recipient: OrgNumber,
}

impl Route {
    /// A route from its three parts.
    pub fn new(sender: OrgNumber, message_type: MessageTypeId, recipient: OrgNumber) -> Self {
        Route {
            sender,
            message_type,
            recipient,
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} -> {} ({})",
            self.sender, self.recipient, self.message_type
        )
    }
}

/// Whether a route's message can be read at the recipient. Never `Readable` without
/// positive evidence.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Proven: at least one real person can read every resource of the message type.
    Readable,
    /// Proven: with complete evidence, nobody can read it (or the recipient is deleted).
    NotReadable,
    /// Not proven either way.
    Unknown,
}

impl Verdict {
    /// The contract name: `readable`, `not_readable` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Readable => "readable",
            Verdict::NotReadable => "not_readable",
            Verdict::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How strong the rightholder evidence behind a verdict is (docs/design.md, rule 6).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceTier {
    /// Altinn connections for the recipient (and its main unit): the complete list.
    Connections,
    /// Only Enhetsregisteret key roles for some unit: proves automatic grants only.
    Er,
}

impl EvidenceTier {
    /// The contract name: `connections` or `er`.
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceTier::Connections => "connections",
            EvidenceTier::Er => "er",
        }
    }
}

impl fmt::Display for EvidenceTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
