//! [`Finding`]: a coded problem on a route, and the failures of evidence sources.

use std::fmt;
use std::sync::Arc;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::{OrgNumber, ResourceId};

/// How serious a finding is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing; nothing is wrong with the route itself.
    Info,
    /// The route may fail or is weaker than required.
    Warning,
    /// Messages on this route are not read.
    Critical,
}

impl Severity {
    /// `info`, `warning` or `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stable code of a finding, as it appears in every output format.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingCode {
    /// The recipient is deleted in Enhetsregisteret (rule 2).
    RecipientDeleted,
    /// Complete evidence shows nobody can read the message type (rule 6).
    NoReader,
    /// The evidence needed to decide is missing (rules 2 and 6).
    NoData,
    /// Fewer readers than the message type's `min_readers` (rule 6).
    TooFewReaders,
    /// Nobody at the recipient or its main unit will be notified (rule 7).
    NoNotificationAddress,
    /// Whether anyone will be notified is not known: notification data is missing (rule 7).
    NotificationUnknown,
    /// The evidence is older than `max_data_age` (rule 8).
    StaleData,
    /// An evidence source failed or returned something malformed (rule 9).
    SourceError,
    /// A policy needs something reachcheck cannot evaluate, so a reader is uncertain.
    PolicyIndeterminate,
    /// The recipient has not approved reachcheck's system user, so its connections are unknown.
    NotAuthorized,
    /// Altinn enforces a different read policy for a resource than the local copy.
    PolicyDrift,
    /// The route was not in the sweep whose results answer a pre-send check.
    NotSwept,
    /// Access lists gate a resource and the recipient is on none that allows `read` (rule 11).
    NotOnAccessList,
    /// Connections list no person while Enhetsregisteret names living key-role holders (rule 13).
    EvidenceInconsistent,
    /// Notification addresses exist that this caller may not read (rule 14).
    NotificationUnverified,
    /// Altinn answered 404 for a resource or its policy: it does not exist there.
    ResourceNotInAltinn,
    /// A message sent on the route is unread `read_deadline_hours` after it was published
    /// (docs/design.md, "Message outcomes").
    UnreadPastDeadline,
    /// Altinn could not notify the recipient of a message sent on the route.
    NotificationFailed,
    /// A message passed its own `dueDateTime` in Altinn without being read (Altinn's
    /// `correspondencereceiverneverread`).
    NeverRead,
    /// The list of sent messages could not be read whole, so some messages may be missing.
    OutcomesIncomplete,
    /// What happened to the route's messages contradicts its verdict.
    PredictionContradicted,
}

impl FindingCode {
    /// Every code, in the order findings are reported (new codes are appended).
    pub const ALL: [FindingCode; 21] = [
        FindingCode::RecipientDeleted,
        FindingCode::NoReader,
        FindingCode::NoData,
        FindingCode::TooFewReaders,
        FindingCode::NoNotificationAddress,
        FindingCode::NotificationUnknown,
        FindingCode::StaleData,
        FindingCode::SourceError,
        FindingCode::PolicyIndeterminate,
        FindingCode::NotAuthorized,
        FindingCode::PolicyDrift,
        FindingCode::NotSwept,
        FindingCode::NotOnAccessList,
        FindingCode::EvidenceInconsistent,
        FindingCode::NotificationUnverified,
        FindingCode::ResourceNotInAltinn,
        FindingCode::UnreadPastDeadline,
        FindingCode::NotificationFailed,
        FindingCode::NeverRead,
        FindingCode::OutcomesIncomplete,
        FindingCode::PredictionContradicted,
    ];

    /// The contract name, e.g. `no_reader`.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingCode::RecipientDeleted => "recipient_deleted",
            FindingCode::NoReader => "no_reader",
            FindingCode::NoData => "no_data",
            FindingCode::TooFewReaders => "too_few_readers",
            FindingCode::NoNotificationAddress => "no_notification_address",
            FindingCode::NotificationUnknown => "notification_unknown",
            FindingCode::StaleData => "stale_data",
            FindingCode::SourceError => "source_error",
            FindingCode::PolicyIndeterminate => "policy_indeterminate",
            FindingCode::NotAuthorized => "not_authorized",
            FindingCode::PolicyDrift => "policy_drift",
            FindingCode::NotSwept => "not_swept",
            FindingCode::NotOnAccessList => "not_on_access_list",
            FindingCode::EvidenceInconsistent => "evidence_inconsistent",
            FindingCode::NotificationUnverified => "notification_unverified",
            FindingCode::ResourceNotInAltinn => "resource_not_in_altinn",
            FindingCode::UnreadPastDeadline => "unread_past_deadline",
            FindingCode::NotificationFailed => "notification_failed",
            FindingCode::NeverRead => "never_read",
            FindingCode::OutcomesIncomplete => "outcomes_incomplete",
            FindingCode::PredictionContradicted => "prediction_contradicted",
        }
    }

    /// The severity of this code. Fixed per code, except `prediction_contradicted`: a
    /// warning when a route judged `readable` goes unread past the deadline (this), info
    /// when a message is read on a route not judged `readable` (the outcome says so).
    pub fn severity(self) -> Severity {
        match self {
            FindingCode::RecipientDeleted
            | FindingCode::NoReader
            | FindingCode::NotOnAccessList
            | FindingCode::UnreadPastDeadline => Severity::Critical,
            FindingCode::NotificationFailed
            | FindingCode::NeverRead
            | FindingCode::OutcomesIncomplete
            | FindingCode::PredictionContradicted => Severity::Warning,
            FindingCode::EvidenceInconsistent | FindingCode::ResourceNotInAltinn => {
                Severity::Warning
            }
            FindingCode::NotificationUnverified => Severity::Info,
            FindingCode::NoData
            | FindingCode::TooFewReaders
            | FindingCode::NoNotificationAddress
            | FindingCode::StaleData
            | FindingCode::SourceError
            | FindingCode::PolicyIndeterminate
            | FindingCode::NotAuthorized
            | FindingCode::PolicyDrift
            | FindingCode::NotSwept => Severity::Warning,
            FindingCode::NotificationUnknown => Severity::Info,
        }
    }

    /// Looks a code up by its contract name.
    pub fn from_name(name: &str) -> Option<FindingCode> {
        FindingCode::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for FindingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which evidence source a failure or gap concerns.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// The unit's Enhetsregisteret record (`enheter` / `underenheter`).
    Unit,
    /// The unit's roles in Enhetsregisteret.
    Roles,
    /// The unit's Altinn access management connections.
    Connections,
    /// The unit's notification addresses.
    NotificationAddresses,
    /// A resource's policy in Altinn's resource registry.
    ResourcePolicy,
    /// What one resource delegation grants (`connections/resources/rights`).
    ResourceRights,
    /// A resource's entry in Altinn's resource registry (`accessListMode`, owner).
    Resource,
    /// The resource owner's access lists bound to a resource.
    AccessLists,
    /// The members of one access list.
    AccessListMembers,
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceKind::Unit => "Enhetsregisteret record",
            SourceKind::Roles => "Enhetsregisteret roles",
            SourceKind::Connections => "Altinn connections",
            SourceKind::NotificationAddresses => "notification addresses",
            SourceKind::ResourcePolicy => "resource-registry policy",
            SourceKind::ResourceRights => "resource rights",
            SourceKind::Resource => "resource-registry entry",
            SourceKind::AccessLists => "access lists",
            SourceKind::AccessListMembers => "access-list members",
        })
    }
}

/// An evidence source that failed for one unit: a malformed file, or an API call that
/// timed out or answered garbage. Treated as missing data (rule 9).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SourceFailure {
    /// The unit the data was about (`None` for data about no unit, e.g. a resource policy).
    pub unit: Option<OrgNumber>,
    /// Which source.
    pub source: SourceKind,
    /// Where it came from: a file path or a URL.
    pub location: Arc<str>,
    /// What was wrong, in one sentence.
    pub reason: Arc<str>,
}

impl fmt::Display for SourceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.location, self.reason)
    }
}

/// A piece of evidence that would help decide a route and is not there: which source,
/// and about what.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Gap {
    /// Which source.
    pub source: SourceKind,
    /// The unit it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<OrgNumber>,
    /// The resource it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceId>,
    /// The rightholder (party UUID) it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party: Option<Arc<str>>,
    /// The access list it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<Arc<str>>,
}

/// Access lists gate a resource and the recipient is on none of those that allow `read`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AccessListGate {
    /// The resource.
    pub resource: ResourceId,
    /// The lists' owner (org code), whom to ask.
    pub owner: Option<Arc<str>>,
    /// The bound lists that allow `read` (empty: no list allows it).
    pub lists: Vec<Arc<str>>,
}

/// A coded problem on a route, with the facts needed to explain it.
///
/// Serialised (for the store and the HTTP API) as an object tagged by `code`, with the
/// facts beside it; the facts name organisations, resources and grants, never people.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Finding {
    /// The recipient is deleted in Enhetsregisteret.
    RecipientDeleted {
        /// `slettedato`, if given.
        on: Option<Date>,
    },
    /// Complete evidence, and nobody can read every resource of the message type.
    NoReader,
    /// Evidence is missing.
    NoData {
        /// The recipient has no Enhetsregisteret record at all.
        no_record: bool,
        /// Connections are missing for the recipient itself.
        recipient_connections: bool,
        /// Connections are missing for the recipient's main unit (which one).
        main_unit_connections: Option<OrgNumber>,
        /// Other evidence that is missing (rights of delegations, resource entries,
        /// access lists).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gaps: Option<Arc<[Gap]>>,
    },
    /// Fewer readers than required.
    TooFewReaders {
        /// Readers found.
        readers: u32,
        /// Readers required.
        min: u32,
    },
    /// Neither the recipient nor its main unit has a notification address.
    NoNotificationAddress,
    /// No address was found, but notification data is missing for this unit.
    NotificationUnknown {
        /// The unit whose notification data is missing.
        missing: OrgNumber,
    },
    /// The evidence is older than allowed.
    StaleData {
        /// When the oldest evidence for the route was taken.
        observed_at: Timestamp,
        /// The allowed age.
        max_age: SignedDuration,
    },
    /// An evidence source failed.
    SourceError(Arc<SourceFailure>),
    /// A policy rule could not be evaluated for some rightholder.
    PolicyIndeterminate {
        /// The resource whose policy it is.
        resource: ResourceId,
    },
    /// This unit (the recipient or its main unit) has not approved reachcheck's system user.
    NotAuthorized {
        /// The unit.
        unit: OrgNumber,
        /// The unit's own link to approve the pending request, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        approval_link: Option<Arc<str>>,
    },
    /// Altinn's policy for a resource grants `read` differently from the local copy; the
    /// route was judged with Altinn's.
    PolicyDrift(Arc<PolicyDrift>),
    /// The route was not among those judged by the sweep the answer comes from (a
    /// pre-send check answered from the store), so nothing about it is known.
    NotSwept,
    /// The recipient is on no access list that lets it be sent `read` access to the
    /// resource: Altinn denies every reader (rule 11).
    NotOnAccessList(Arc<AccessListGate>),
    /// This unit's connections list no person while Enhetsregisteret names living
    /// key-role holders: they are not complete evidence (rule 13).
    EvidenceInconsistent {
        /// The unit.
        unit: OrgNumber,
        /// Living key-role holders Enhetsregisteret names.
        key_role_holders: u32,
    },
    /// This unit's notification addresses could not be read by reachcheck (rule 14).
    NotificationUnverified {
        /// The unit.
        unit: OrgNumber,
    },
    /// Altinn answered 404 for the resource or its policy.
    ResourceNotInAltinn {
        /// The resource.
        resource: ResourceId,
        /// Where the 404 came from.
        location: Arc<str>,
    },
}

/// How Altinn's policy for a resource differs from the local copy, in who may read.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PolicyDrift {
    /// The resource.
    pub resource: ResourceId,
    /// Where Altinn's policy came from.
    pub location: Arc<str>,
    /// Grants (or combinations, `a + b`) that read under Altinn's policy only.
    pub added: Vec<String>,
    /// Grants (or combinations) that read under the local copy only.
    pub removed: Vec<String>,
}

impl Finding {
    /// The finding's stable code.
    pub fn code(&self) -> FindingCode {
        match self {
            Finding::RecipientDeleted { .. } => FindingCode::RecipientDeleted,
            Finding::NoReader => FindingCode::NoReader,
            Finding::NoData { .. } => FindingCode::NoData,
            Finding::TooFewReaders { .. } => FindingCode::TooFewReaders,
            Finding::NoNotificationAddress => FindingCode::NoNotificationAddress,
            Finding::NotificationUnknown { .. } => FindingCode::NotificationUnknown,
            Finding::StaleData { .. } => FindingCode::StaleData,
            Finding::SourceError(_) => FindingCode::SourceError,
            Finding::PolicyIndeterminate { .. } => FindingCode::PolicyIndeterminate,
            Finding::NotAuthorized { .. } => FindingCode::NotAuthorized,
            Finding::PolicyDrift(_) => FindingCode::PolicyDrift,
            Finding::NotSwept => FindingCode::NotSwept,
            Finding::NotOnAccessList(_) => FindingCode::NotOnAccessList,
            Finding::EvidenceInconsistent { .. } => FindingCode::EvidenceInconsistent,
            Finding::NotificationUnverified { .. } => FindingCode::NotificationUnverified,
            Finding::ResourceNotInAltinn { .. } => FindingCode::ResourceNotInAltinn,
        }
    }

    /// The finding's severity (fixed per code).
    pub fn severity(&self) -> Severity {
        self.code().severity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_their_names() {
        for code in FindingCode::ALL {
            assert_eq!(FindingCode::from_name(code.as_str()), Some(code));
            assert_eq!(
                serde_json::to_string(&code).unwrap(),
                format!("\"{}\"", code.as_str())
            );
        }
        assert_eq!(FindingCode::NoReader.severity(), Severity::Critical);
        assert_eq!(
            FindingCode::UnreadPastDeadline.severity(),
            Severity::Critical
        );
        // Codes are appended, never renumbered: the first sixteen keep their places.
        assert_eq!(FindingCode::ALL[15], FindingCode::ResourceNotInAltinn);
        assert_eq!(FindingCode::ALL[16], FindingCode::UnreadPastDeadline);
    }

    #[test]
    fn findings_round_trip_through_json_tagged_by_code() {
        let org = OrgNumber::parse("964338531").unwrap();
        let all = vec![
            Finding::RecipientDeleted {
                on: Some("2024-01-01".parse().unwrap()),
            },
            Finding::NoReader,
            Finding::NoData {
                no_record: false,
                recipient_connections: true,
                main_unit_connections: Some(org),
                gaps: None,
            },
            Finding::NoData {
                no_record: false,
                recipient_connections: false,
                main_unit_connections: None,
                gaps: Some(Arc::from([Gap {
                    source: SourceKind::ResourceRights,
                    unit: Some(org),
                    resource: Some(ResourceId::parse("r1").unwrap()),
                    party: Some("00000000-0000-4000-8000-000000000001".into()),
                    list: None,
                }])),
            },
            Finding::TooFewReaders { readers: 1, min: 2 },
            Finding::NoNotificationAddress,
            Finding::NotificationUnknown { missing: org },
            Finding::StaleData {
                observed_at: "2026-11-21T05:00:00Z".parse().unwrap(),
                max_age: SignedDuration::from_hours(24),
            },
            Finding::SourceError(Arc::new(SourceFailure {
                unit: Some(org),
                source: SourceKind::Connections,
                location: "https://x/y".into(),
                reason: "HTTP 503".into(),
            })),
            Finding::PolicyIndeterminate {
                resource: ResourceId::parse("r1").unwrap(),
            },
            Finding::NotAuthorized {
                unit: org,
                approval_link: None,
            },
            Finding::NotAuthorized {
                unit: org,
                approval_link: Some(Arc::from(
                    "https://am.ui.example/accessmanagement/ui/systemuser/request?id=1",
                )),
            },
            Finding::PolicyDrift(Arc::new(PolicyDrift {
                resource: ResourceId::parse("r1").unwrap(),
                location: "https://x/p".into(),
                added: vec!["a".into()],
                removed: vec![],
            })),
            Finding::NotSwept,
            Finding::NotOnAccessList(Arc::new(AccessListGate {
                resource: ResourceId::parse("r1").unwrap(),
                owner: Some("politiet".into()),
                lists: vec!["godkjente-kommuner".into()],
            })),
            Finding::EvidenceInconsistent {
                unit: org,
                key_role_holders: 1,
            },
            Finding::NotificationUnverified { unit: org },
            Finding::ResourceNotInAltinn {
                resource: ResourceId::parse("r1").unwrap(),
                location: "x/resource.json.status.json".into(),
            },
        ];
        for f in all {
            let json = serde_json::to_value(&f).unwrap();
            assert_eq!(json["code"], f.code().as_str(), "{json}");
            let back: Finding = serde_json::from_value(json).unwrap();
            assert_eq!(back, f);
        }
    }
}
