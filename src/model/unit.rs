//! [`Unit`] (an organisation in Enhetsregisteret) and [`Rightholder`] (who holds grants there).

use std::fmt;
use std::sync::Arc;

use jiff::civil::Date;

use super::{Grant, OrgNumber};

/// Which Enhetsregisteret register a unit record came from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Register {
    /// `enheter`: main units, including organisational units (`ORGL`).
    Enheter,
    /// `underenheter`: sub-units (`BEDR`, `AAFY`).
    Underenheter,
}

/// An organisation's Enhetsregisteret record, as far as reachcheck needs it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Unit {
    /// The unit's organisation number.
    pub org: OrgNumber,
    /// Its registered name (public), if the record has one.
    pub name: Option<Arc<str>>,
    /// Organisation form code (`KOMM`, `BEDR`, `ORGL`, ...), upper case.
    pub form: Option<Arc<str>>,
    /// `overordnetEnhet`: the main unit of a sub-unit or organisational unit.
    pub main_unit: Option<OrgNumber>,
    /// `slettedato`: set when the unit is deleted.
    pub deleted_on: Option<Date>,
    /// Whether the unit is deleted (a deleted record may carry no date).
    pub deleted: bool,
    /// The register the record came from.
    pub register: Register,
}

/// What kind of entity a rightholder is (Altinn's party `type`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum EntityKind {
    /// A natural person (`Person`).
    Person,
    /// A self-identified user (`Selvidentifisert`): a person without a national identity number.
    SelfIdentified,
    /// An Altinn system user (`Systembruker`): counts only where the message type allows.
    SystemUser,
    /// An organisation (`Organisasjon`): never a reader itself.
    Organisation,
    /// An enterprise user (`Virksomhetbruker`): never a reader.
    EnterpriseUser,
    /// Anything else: never a reader.
    Other(Arc<str>),
}

impl EntityKind {
    /// Reads Altinn's party type, case-insensitively, in Norwegian or English.
    pub fn parse(s: &str) -> EntityKind {
        match s.trim().to_ascii_lowercase().as_str() {
            "person" => EntityKind::Person,
            "selvidentifisert" | "selfidentified" | "self-identified" => EntityKind::SelfIdentified,
            "systembruker" | "systemuser" | "system-user" => EntityKind::SystemUser,
            "organisasjon" | "organization" | "organisation" => EntityKind::Organisation,
            "virksomhetbruker" | "virksomhetsbruker" | "enterpriseuser" | "enterprise-user" => {
                EntityKind::EnterpriseUser
            }
            _ => EntityKind::Other(Arc::from(s.trim())),
        }
    }

    /// Whether this is a person (`Person` or `Selvidentifisert`).
    pub fn is_person(&self) -> bool {
        matches!(self, EntityKind::Person | EntityKind::SelfIdentified)
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EntityKind::Person => "person",
            EntityKind::SelfIdentified => "self-identified person",
            EntityKind::SystemUser => "system user",
            EntityKind::Organisation => "organisation",
            EntityKind::EnterpriseUser => "enterprise user",
            EntityKind::Other(s) => s,
        })
    }
}

/// Where a rightholder was seen.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HolderSource {
    /// Altinn access management connections of the unit (complete list).
    Connections,
    /// A role in Enhetsregisteret (key roles: automatic grants only).
    Enhetsregisteret,
}

/// Someone holding grants at a unit. Never carries a national identity number.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Rightholder {
    /// Altinn party UUID, when the source gives one.
    pub party: Option<Arc<str>>,
    /// Person, system user, organisation, ...
    pub kind: EntityKind,
    /// Display name (shown masked unless the operator asks for names).
    pub name: Option<Arc<str>>,
    /// Birth date, used only to tell people with the same name apart; never shown.
    pub birth_date: Option<Date>,
    /// `erDoed` (Brreg) or `dateOfDeath` (Altinn) is set.
    pub deceased: bool,
    /// `isDeleted` (Altinn) is set.
    pub deleted: bool,
    /// Grants the source lists as active.
    pub grants: Vec<Grant>,
    /// ER roles the source lists as resigned (`fratraadt`) or deregistered
    /// (`avregistrert`): kept to explain why they do not count.
    pub resigned: Vec<Grant>,
    /// For a nested connection: the name of the party it holds its grants through.
    pub via: Option<Arc<str>>,
    /// Where it was seen.
    pub source: HolderSource,
}

impl Rightholder {
    /// The name reduced to initials (`Kari Nordmann` -> `K. N.`), for output that must not
    /// identify people.
    pub fn masked_name(&self) -> String {
        match &self.name {
            Some(n) => mask_name(n),
            None => "(no name)".to_owned(),
        }
    }
}

/// Reduces a name to initials: `Kari Nordmann` -> `K. N.`.
pub fn mask_name(name: &str) -> String {
    let initials: Vec<String> = name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .map(|c| format!("{}.", c.to_uppercase()))
        .collect();
    if initials.is_empty() {
        "(no name)".to_owned()
    } else {
        initials.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_keeps_only_initials() {
        assert_eq!(mask_name("Kari  Nordmann"), "K. N.");
        assert_eq!(mask_name("ødegård åse"), "Ø. Å.");
        assert_eq!(mask_name("  "), "(no name)");
    }

    #[test]
    fn entity_kinds_read_norwegian_and_english() {
        assert!(EntityKind::parse("Person").is_person());
        assert!(EntityKind::parse("Selvidentifisert").is_person());
        assert_eq!(EntityKind::parse("Systembruker"), EntityKind::SystemUser);
        assert_eq!(EntityKind::parse("Organization"), EntityKind::Organisation);
        assert!(!EntityKind::parse("Virksomhetbruker").is_person());
        assert!(!EntityKind::parse("Alien").is_person());
    }
}
