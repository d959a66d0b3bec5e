//! [`Grant`]: something a rightholder holds at a unit.

use std::fmt;
use std::sync::Arc;

use super::ResourceId;

/// A grant code. It compares, hashes and prints lower-cased (Altinn's
/// `string-equal-ignore-case`), and keeps the spelling its source gave it
/// ([`Code::spelled`]) for `string-equal`, which Altinn compares exactly (docs/design.md, rule 12).
#[derive(Clone)]
pub struct Code {
    folded: Arc<str>,
    /// The source's spelling, only when it differs from `folded`.
    spelled: Option<Arc<str>>,
}

impl Code {
    /// Trims `s`; compares as its lower case, remembers its spelling.
    pub fn new(s: &str) -> Self {
        let s = s.trim();
        if s.bytes().any(|b| b.is_ascii_uppercase()) || !s.is_ascii() {
            let folded = s.to_lowercase();
            let spelled = (folded != s).then(|| Arc::from(s));
            Code {
                folded: Arc::from(folded),
                spelled,
            }
        } else {
            Code {
                folded: Arc::from(s),
                spelled: None,
            }
        }
    }

    /// The code as compared (lower case).
    pub fn as_str(&self) -> &str {
        &self.folded
    }

    /// The code as its source spelled it (trimmed).
    pub fn spelled(&self) -> &str {
        self.spelled.as_deref().unwrap_or(&self.folded)
    }
}

impl PartialEq for Code {
    fn eq(&self, other: &Self) -> bool {
        self.folded == other.folded
    }
}

impl Eq for Code {}

impl std::hash::Hash for Code {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.folded.hash(state);
    }
}

impl PartialOrd for Code {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Code {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.folded.cmp(&other.folded)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.folded)
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.folded, f)
    }
}

/// Something a subject holds at a unit (docs/design.md, "Grant").
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Grant {
    /// An Altinn 2 role or a legacy role code: `urn:altinn:rolecode:<code>` (e.g. `a0286`, `dagl`).
    RoleCode(Code),
    /// An Enhetsregisteret role: `urn:altinn:external-role:ccr:<code>` (e.g. `daglig-leder`),
    /// or, from Brreg itself, its Brreg code (e.g. `dagl`).
    ExternalRole(Code),
    /// An Altinn 3 access package: `urn:altinn:accesspackage:<code>`.
    AccessPackage(Code),
    /// An Altinn 3 role: `urn:altinn:role:<code>` (e.g. `rettighetshaver`, `hovedadministrator`).
    AltinnRole(Code),
    /// A direct delegation of one resource: `urn:altinn:resource:<id>`.
    Resource(ResourceId),
    /// Any other URN, kept (lower-cased) for display; it never matches a policy.
    Other(Code),
}

const ROLECODE: &str = "urn:altinn:rolecode:";
const EXTERNAL_CCR: &str = "urn:altinn:external-role:ccr:";
const PACKAGE: &str = "urn:altinn:accesspackage:";
const ROLE: &str = "urn:altinn:role:";
const RESOURCE: &str = "urn:altinn:resource:";

impl Grant {
    /// Reads a grant from its URN. Prefixes and codes are case-insensitive; an unknown
    /// URN becomes [`Grant::Other`].
    pub fn from_urn(urn: &str) -> Grant {
        let urn = urn.trim();
        let lower = urn.to_ascii_lowercase();
        // The code in its source's spelling: prefixes are ASCII, so the lower-cased URN's
        // prefix has the same length as the original's.
        let rest = |prefix: &str| {
            lower
                .starts_with(prefix)
                .then(|| &urn[prefix.len()..])
                .filter(|r| !r.is_empty())
        };
        if let Some(code) = rest(ROLECODE) {
            Grant::RoleCode(Code::new(code))
        } else if let Some(code) = rest(EXTERNAL_CCR) {
            Grant::ExternalRole(Code::new(code))
        } else if let Some(code) = rest(PACKAGE) {
            Grant::AccessPackage(Code::new(code))
        } else if let Some(code) = rest(ROLE) {
            Grant::AltinnRole(Code::new(code))
        } else if rest(RESOURCE).is_some() {
            match ResourceId::parse(&urn[RESOURCE.len()..]) {
                Ok(id) => Grant::Resource(id),
                Err(_) => Grant::Other(Code::new(urn)),
            }
        } else {
            Grant::Other(Code::new(urn))
        }
    }

    /// The code as its source spelled it, for exact (`string-equal`) comparison.
    pub fn spelled(&self) -> &str {
        match self {
            Grant::RoleCode(c)
            | Grant::ExternalRole(c)
            | Grant::AccessPackage(c)
            | Grant::AltinnRole(c)
            | Grant::Other(c) => c.spelled(),
            Grant::Resource(r) => r.as_str(),
        }
    }

    /// The short code (`a0286`, `daglig-leder`, a resource id, ...).
    pub fn code(&self) -> &str {
        match self {
            Grant::RoleCode(c)
            | Grant::ExternalRole(c)
            | Grant::AccessPackage(c)
            | Grant::AltinnRole(c)
            | Grant::Other(c) => c.as_str(),
            Grant::Resource(r) => r.as_str(),
        }
    }
}

impl fmt::Display for Grant {
    /// The URN form, e.g. `urn:altinn:accesspackage:ordinaer-post-til-virksomheten`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grant::RoleCode(c) => write!(f, "{ROLECODE}{c}"),
            Grant::ExternalRole(c) => write!(f, "{EXTERNAL_CCR}{c}"),
            Grant::AccessPackage(c) => write!(f, "{PACKAGE}{c}"),
            Grant::AltinnRole(c) => write!(f, "{ROLE}{c}"),
            Grant::Resource(r) => write!(f, "{RESOURCE}{r}"),
            Grant::Other(c) => write!(f, "{c}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_compare_folded_and_remember_their_spelling() {
        let g = Grant::from_urn("URN:ALTINN:ROLECODE:DAGL");
        assert_eq!(g, Grant::from_urn("urn:altinn:rolecode:dagl"));
        assert_eq!(g.spelled(), "DAGL");
        assert_eq!(g.code(), "dagl");
        assert_eq!(
            Grant::from_urn("urn:altinn:rolecode:dagl").spelled(),
            "dagl"
        );
        let mut set = std::collections::HashSet::new();
        set.insert(Code::new("A0286"));
        assert!(set.contains(&Code::new("a0286")));
    }

    #[test]
    fn urns_parse_case_insensitively_and_print_canonically() {
        let g = Grant::from_urn("URN:Altinn:RoleCode:A0286");
        assert_eq!(g, Grant::RoleCode(Code::new("a0286")));
        assert_eq!(g.to_string(), "urn:altinn:rolecode:a0286");
        assert_eq!(
            Grant::from_urn("urn:altinn:external-role:ccr:daglig-leder"),
            Grant::ExternalRole(Code::new("DAGLIG-LEDER"))
        );
        assert_eq!(
            Grant::from_urn(
                "urn:altinn:accesspackage:post-til-virksomheten-med-taushetsbelagt-innhold"
            )
            .code(),
            "post-til-virksomheten-med-taushetsbelagt-innhold"
        );
        assert_eq!(
            Grant::from_urn("urn:altinn:resource:politi-straffesak-forsendelse"),
            Grant::Resource(ResourceId::parse("politi-straffesak-forsendelse").unwrap())
        );
        assert!(matches!(
            Grant::from_urn("urn:altinn:external-role:cra:kommune"),
            Grant::Other(_)
        ));
        assert!(matches!(
            Grant::from_urn("urn:altinn:rolecode:"),
            Grant::Other(_)
        ));
    }
}
