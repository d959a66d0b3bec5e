//! `altinn-grants.toml`: Altinn's automatic grants, the ER role table, main-unit
//! inheritance and who can delegate (docs/design.md, rules 3-5), as data.

use std::collections::BTreeMap;
use std::path::Path;

use rustc_hash::FxHashMap;
use serde::Deserialize;
use toml::Spanned;

use crate::model::{Code, Grant};
use crate::problem::{Problem, line_of, toml_error};

/// What a XACML subject attribute names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SubjectAttribute {
    /// An Altinn 2 role or legacy role code (`urn:altinn:rolecode`).
    RoleCode,
    /// An Enhetsregisteret role (`urn:altinn:external-role:ccr`).
    ExternalRole,
    /// An access package (`urn:altinn:accesspackage`).
    AccessPackage,
    /// An attribute no rightholder of a recipient holds (e.g. the service owner's
    /// `urn:altinn:org`): a match on it is simply false.
    Never,
}

/// One Enhetsregisteret role: Brreg code, Altinn 3 code, legacy role code.
#[derive(Clone, Debug, PartialEq)]
pub struct ErRole {
    /// Brreg code, upper case (`DAGL`).
    pub brreg: String,
    /// Altinn 3 code (`daglig-leder`), from `urn:altinn:external-role:ccr:<code>`.
    pub ccr: Code,
    /// Legacy role code (`dagl`), from `urn:altinn:rolecode:<code>`.
    pub legacy: Code,
    /// Display name (`Daglig leder`).
    pub name: String,
}

/// How a rightholder came to hold a grant.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Provenance<'a> {
    /// The source lists it.
    Listed,
    /// It is the legacy role code (or Altinn 3 code) of this listed ER role (rule 4).
    SameRole(&'a ErRole),
    /// Altinn grants it automatically to holders of this ER role (rule 3).
    Automatic(&'a ErRole),
}

/// Display names of a grant.
#[derive(Clone, Debug, PartialEq)]
pub struct GrantName {
    /// Norwegian name as Altinn shows it.
    pub name: String,
    /// English name.
    pub name_en: Option<String>,
}

/// The parsed `altinn-grants.toml`.
#[derive(Clone, Debug)]
pub struct GrantRules {
    subject_attributes: FxHashMap<String, SubjectAttribute>,
    er_roles: Vec<ErRole>,
    /// Brreg code and Altinn 3 code (both lower case) -> index in `er_roles`.
    by_code: FxHashMap<Code, usize>,
    /// Legacy code -> index in `er_roles`.
    by_legacy: FxHashMap<Code, usize>,
    /// Per ER role index: the grants its holders hold automatically.
    automatic: Vec<Vec<Grant>>,
    /// Whether grants at a main unit apply at its sub-units.
    pub inherit_to_sub_units: bool,
    /// Organisation forms (upper case) of units that inherit from their main unit.
    pub sub_unit_forms: Vec<String>,
    /// Grants whose holders can delegate access.
    pub delegation: Vec<Grant>,
    names: FxHashMap<Grant, GrantName>,
    /// Per ER role index: whether it is a key role, whose holders Altinn's connections
    /// always list (rule 13).
    key_roles: Vec<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrants {
    schema: Spanned<i64>,
    #[serde(default)]
    subject_attributes: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    er_role: Vec<Spanned<RawErRole>>,
    #[serde(default)]
    automatic_grant: Vec<Spanned<RawAutomatic>>,
    never_automatic: Option<RawGrantList>,
    inheritance: Option<RawInheritance>,
    delegation: Option<RawGrantList>,
    #[serde(default)]
    grant_name: Vec<Spanned<RawGrantName>>,
    key_roles: Option<RawKeyRoles>,
}

/// `[key_roles]`: the ER roles whose holders are key-role holders (docs/design.md, rules 3, 13).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeyRoles {
    roles: Vec<Spanned<String>>,
    #[allow(
        dead_code,
        reason = "documentation for people; required so every rule cites its source"
    )]
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawErRole {
    brreg: Spanned<String>,
    urn: Spanned<String>,
    legacy: Spanned<String>,
    name: String,
    #[allow(
        dead_code,
        reason = "documentation for people; required so every rule cites its source"
    )]
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAutomatic {
    roles: Vec<Spanned<String>>,
    grants: Vec<Spanned<String>>,
    #[allow(
        dead_code,
        reason = "documentation for people; required so every rule cites its source"
    )]
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrantList {
    grants: Vec<Spanned<String>>,
    #[allow(
        dead_code,
        reason = "documentation for people; required so every rule cites its source"
    )]
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInheritance {
    main_unit_to_sub_unit: bool,
    sub_unit_forms: Vec<String>,
    #[allow(
        dead_code,
        reason = "documentation for people; required so every rule cites its source"
    )]
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrantName {
    grant: Spanned<String>,
    name: String,
    name_en: Option<String>,
    #[allow(dead_code, reason = "documentation for people")]
    source: Option<String>,
}

/// Parses a grant URN and checks it is a kind of grant that can be held.
fn parse_grant(urn: &str) -> Result<Grant, String> {
    match Grant::from_urn(urn) {
        Grant::Other(_) => Err(format!(
            "`{urn}` is not a grant URN: expected `urn:altinn:rolecode:…`, `urn:altinn:external-role:ccr:…`, `urn:altinn:accesspackage:…`, `urn:altinn:role:…` or `urn:altinn:resource:…`"
        )),
        g => Ok(g),
    }
}

impl GrantRules {
    /// Parses `altinn-grants.toml`. Problems are pushed to `problems`; `None` when the file
    /// cannot be used at all.
    pub fn parse(file: &Path, text: &str, problems: &mut Vec<Problem>) -> Option<Self> {
        let raw: RawGrants = match toml::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                let (line, msg) = toml_error(text, &e);
                problems.push(Problem::error(file, line, msg));
                return None;
            }
        };
        let before = problems.len();
        let line = |span: std::ops::Range<usize>| Some(line_of(text, span.start));
        let mut err = |span: std::ops::Range<usize>, msg: String| {
            problems.push(Problem::error(file, line(span), msg));
        };
        if *raw.schema.get_ref() != 1 {
            err(
                raw.schema.span(),
                format!(
                    "`schema` is `{}`: this version of reachcheck reads schema 1",
                    raw.schema.get_ref()
                ),
            );
        }

        let mut subject_attributes = FxHashMap::default();
        for (attr, kind) in &raw.subject_attributes {
            let k = match kind.get_ref().as_str() {
                "rolecode" => SubjectAttribute::RoleCode,
                "external-role" => SubjectAttribute::ExternalRole,
                "accesspackage" => SubjectAttribute::AccessPackage,
                "never" => SubjectAttribute::Never,
                other => {
                    err(
                        kind.span(),
                        format!(
                            "subject attribute `{attr}` has kind `{other}`: expected `rolecode`, `external-role`, `accesspackage` or `never`"
                        ),
                    );
                    continue;
                }
            };
            subject_attributes.insert(attr.trim().to_ascii_lowercase(), k);
        }

        let mut er_roles: Vec<ErRole> = Vec::new();
        let mut by_code = FxHashMap::default();
        let mut by_legacy = FxHashMap::default();
        for entry in &raw.er_role {
            let r = entry.get_ref();
            let brreg = r.brreg.get_ref().trim().to_ascii_uppercase();
            if brreg.is_empty() || !brreg.chars().all(|c| c.is_ascii_alphanumeric()) {
                err(
                    r.brreg.span(),
                    format!("`{}` is not a Brreg role code", r.brreg.get_ref()),
                );
                continue;
            }
            let ccr = match Grant::from_urn(r.urn.get_ref()) {
                Grant::ExternalRole(c) => c,
                _ => {
                    err(
                        r.urn.span(),
                        format!(
                            "`{}` is not an ER role URN: expected `urn:altinn:external-role:ccr:<code>`",
                            r.urn.get_ref()
                        ),
                    );
                    continue;
                }
            };
            let legacy = match Grant::from_urn(r.legacy.get_ref()) {
                Grant::RoleCode(c) => c,
                _ => {
                    err(
                        r.legacy.span(),
                        format!(
                            "`{}` is not a legacy role URN: expected `urn:altinn:rolecode:<code>`",
                            r.legacy.get_ref()
                        ),
                    );
                    continue;
                }
            };
            let idx = er_roles.len();
            for code in [Code::new(&brreg), ccr.clone()] {
                if by_code.insert(code.clone(), idx).is_some() {
                    err(
                        entry.span(),
                        format!("ER role code `{code}` appears in two `[[er_role]]` entries"),
                    );
                }
            }
            by_legacy.insert(legacy.clone(), idx);
            er_roles.push(ErRole {
                brreg,
                ccr,
                legacy,
                name: r.name.trim().to_owned(),
            });
        }

        let never: Vec<(Grant, std::ops::Range<usize>)> = raw
            .never_automatic
            .iter()
            .flat_map(|l| &l.grants)
            .filter_map(|g| match parse_grant(g.get_ref()) {
                Ok(grant) => Some((grant, g.span())),
                Err(m) => {
                    problems.push(Problem::error(file, line(g.span()), m));
                    None
                }
            })
            .collect();
        let mut err = |span: std::ops::Range<usize>, msg: String| {
            problems.push(Problem::error(file, line(span), msg));
        };

        let mut automatic = vec![Vec::new(); er_roles.len()];
        for entry in &raw.automatic_grant {
            let a = entry.get_ref();
            let mut grants = Vec::new();
            for g in &a.grants {
                match parse_grant(g.get_ref()) {
                    Ok(grant) => {
                        if never.iter().any(|(n, _)| *n == grant) {
                            err(
                                g.span(),
                                format!(
                                    "`{grant}` is listed under `never_automatic`: nobody holds it automatically (docs/design.md, rule 3), so it cannot be an automatic grant"
                                ),
                            );
                        }
                        grants.push(grant);
                    }
                    Err(m) => err(g.span(), m),
                }
            }
            for role in &a.roles {
                match by_code.get(&Code::new(role.get_ref())) {
                    Some(&idx) => {
                        for g in &grants {
                            if !automatic[idx].contains(g) {
                                automatic[idx].push(g.clone());
                            }
                        }
                    }
                    None => err(
                        role.span(),
                        format!(
                            "role `{}` is not in the `[[er_role]]` table: add it there first",
                            role.get_ref()
                        ),
                    ),
                }
            }
        }

        let (inherit_to_sub_units, sub_unit_forms) = match &raw.inheritance {
            Some(i) => (
                i.main_unit_to_sub_unit,
                i.sub_unit_forms
                    .iter()
                    .map(|f| f.trim().to_ascii_uppercase())
                    .collect(),
            ),
            None => (false, Vec::new()),
        };

        let mut delegation = Vec::new();
        for g in raw.delegation.iter().flat_map(|l| &l.grants) {
            match parse_grant(g.get_ref()) {
                Ok(grant) => delegation.push(grant),
                Err(m) => err(g.span(), m),
            }
        }

        let mut names = FxHashMap::default();
        for entry in &raw.grant_name {
            let n = entry.get_ref();
            match parse_grant(n.grant.get_ref()) {
                Ok(grant) => {
                    names.insert(
                        grant,
                        GrantName {
                            name: n.name.trim().to_owned(),
                            name_en: n.name_en.clone(),
                        },
                    );
                }
                Err(m) => err(n.grant.span(), m),
            }
        }

        // Without `[key_roles]`, the roles with automatic grants are the key roles.
        let mut key_roles = vec![false; er_roles.len()];
        match &raw.key_roles {
            Some(k) => {
                for role in &k.roles {
                    match by_code.get(&Code::new(role.get_ref())) {
                        Some(&idx) => key_roles[idx] = true,
                        None => problems.push(Problem::error(
                            file,
                            line(role.span()),
                            format!(
                                "role `{}` is not in the `[[er_role]]` table: add it there first",
                                role.get_ref()
                            ),
                        )),
                    }
                }
            }
            None => {
                for (idx, grants) in automatic.iter().enumerate() {
                    key_roles[idx] = !grants.is_empty();
                }
            }
        }

        if problems.len() > before {
            return None;
        }
        Some(GrantRules {
            key_roles,
            subject_attributes,
            er_roles,
            by_code,
            by_legacy,
            automatic,
            inherit_to_sub_units,
            sub_unit_forms,
            delegation,
            names,
        })
    }

    /// What a XACML subject attribute id names, if reachcheck knows it.
    pub fn subject_attribute(&self, attribute_id: &str) -> Option<SubjectAttribute> {
        self.subject_attributes
            .get(&attribute_id.trim().to_ascii_lowercase())
            .copied()
    }

    /// The ER role with this Brreg or Altinn 3 code (any case).
    pub fn er_role(&self, code: &str) -> Option<&ErRole> {
        self.by_code
            .get(&Code::new(code))
            .map(|&i| &self.er_roles[i])
    }

    /// The ER role whose legacy role code this is (`dagl` -> daglig leder).
    pub fn er_role_by_legacy(&self, legacy: &Code) -> Option<&ErRole> {
        self.by_legacy.get(legacy).map(|&i| &self.er_roles[i])
    }

    /// The grant in the form policies are matched against: ER roles by their Altinn 3
    /// code, whatever code the source used.
    pub fn canonical(&self, grant: &Grant) -> Grant {
        match grant {
            // Already the Altinn 3 code: kept in the spelling its source gave it (rule 12).
            Grant::ExternalRole(c) => match self.by_code.get(c) {
                Some(&i) if self.er_roles[i].ccr != *c => {
                    Grant::ExternalRole(self.er_roles[i].ccr.clone())
                }
                _ => grant.clone(),
            },
            _ => grant.clone(),
        }
    }

    /// Calls `f` with every grant a holder of `grant` holds: the grant itself (canonical),
    /// for an ER role also its legacy role code (rule 4), and the automatic grants of ER
    /// key roles (rule 3). A legacy role code of an ER role counts as that ER role.
    pub fn expand<'a>(&'a self, grant: &Grant, mut f: impl FnMut(Grant, Provenance<'a>)) {
        let role = match grant {
            Grant::ExternalRole(c) => self.by_code.get(c).copied(),
            Grant::RoleCode(c) => self.by_legacy.get(c).copied(),
            _ => None,
        };
        f(self.canonical(grant), Provenance::Listed);
        if let Some(i) = role {
            let r = &self.er_roles[i];
            match grant {
                Grant::ExternalRole(_) => {
                    f(Grant::RoleCode(r.legacy.clone()), Provenance::SameRole(r))
                }
                _ => f(Grant::ExternalRole(r.ccr.clone()), Provenance::SameRole(r)),
            }
            for g in &self.automatic[i] {
                f(g.clone(), Provenance::Automatic(r));
            }
        }
    }

    /// Whether `grant` is a key role (an ER role in `[key_roles]`, by any of its codes).
    pub fn is_key_role(&self, grant: &Grant) -> bool {
        let role = match grant {
            Grant::ExternalRole(c) => self.by_code.get(c),
            Grant::RoleCode(c) => self.by_legacy.get(c),
            _ => None,
        };
        role.is_some_and(|&i| self.key_roles[i])
    }

    /// Whether grants at a main unit apply at a unit of this organisation form.
    pub fn inherits(&self, form: Option<&str>) -> bool {
        self.inherit_to_sub_units
            && form.is_some_and(|f| {
                self.sub_unit_forms
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(f))
            })
    }

    /// The display names of a grant, if `[[grant_name]]` gives them.
    pub fn names(&self, grant: &Grant) -> Option<&GrantName> {
        self.names.get(grant)
    }

    /// A human name for a grant: `«Post til virksomheten med taushetsbelagt innhold»
    /// (urn:altinn:accesspackage:…)`, `ER role Daglig leder (DAGL)`, ...
    pub fn describe(&self, grant: &Grant) -> String {
        if let Some(n) = self.names.get(grant) {
            return match grant {
                Grant::AccessPackage(_) => format!("access package «{}» ({grant})", n.name),
                Grant::RoleCode(_) | Grant::AltinnRole(_) => format!("role «{}» ({grant})", n.name),
                _ => format!("«{}» ({grant})", n.name),
            };
        }
        match grant {
            Grant::ExternalRole(c) => match self.er_role(c.as_str()) {
                Some(r) => format!("ER role {} ({})", r.name, r.brreg),
                None => format!("ER role `{c}`"),
            },
            Grant::RoleCode(c) => match self.er_role_by_legacy(c) {
                Some(r) => format!("ER role {} ({})", r.name, r.brreg),
                None => format!("role {}", c.as_str().to_ascii_uppercase()),
            },
            Grant::AccessPackage(c) => format!("access package `{c}`"),
            Grant::AltinnRole(c) => format!("Altinn role `{c}`"),
            Grant::Resource(r) => format!("a direct delegation of resource `{r}`"),
            Grant::Other(c) => format!("`{c}`"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project_rules() -> GrantRules {
        let file = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/policies/altinn-grants.toml"
        ));
        let text = std::fs::read_to_string(file).unwrap();
        let mut problems = Vec::new();
        let rules = GrantRules::parse(file, &text, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        rules.unwrap()
    }

    fn expanded(rules: &GrantRules, urn: &str) -> Vec<String> {
        let mut out = Vec::new();
        rules.expand(&Grant::from_urn(urn), |g, _| out.push(g.to_string()));
        out
    }

    #[test]
    fn daglig_leder_gets_its_legacy_code_and_ordinary_post_but_not_confidential_post() {
        let rules = project_rules();
        let got = expanded(&rules, "urn:altinn:external-role:ccr:DAGL");
        assert!(got.contains(&"urn:altinn:external-role:ccr:daglig-leder".to_owned()));
        assert!(got.contains(&"urn:altinn:rolecode:dagl".to_owned()));
        assert!(
            got.contains(&"urn:altinn:accesspackage:ordinaer-post-til-virksomheten".to_owned())
        );
        assert!(got.contains(&"urn:altinn:rolecode:a0236".to_owned()));
        assert!(
            !got.iter()
                .any(|g| g.contains("taushetsbelagt") || g.ends_with("a0286"))
        );
    }

    #[test]
    fn a_legacy_code_counts_as_its_er_role() {
        let rules = project_rules();
        let got = expanded(&rules, "urn:altinn:rolecode:komk");
        assert!(got.contains(&"urn:altinn:external-role:ccr:kontaktperson-kommune".to_owned()));
        assert!(got.contains(&"urn:altinn:rolecode:a0236".to_owned()));
        assert!(
            !got.contains(&"urn:altinn:accesspackage:ordinaer-post-til-virksomheten".to_owned())
        );
    }

    #[test]
    fn an_automatic_confidential_grant_is_refused_with_its_line() {
        let text = r#"schema = 1
[[er_role]]
brreg = "DAGL"
urn = "urn:altinn:external-role:ccr:daglig-leder"
legacy = "urn:altinn:rolecode:dagl"
name = "Daglig leder"
source = "test"
[[automatic_grant]]
roles = ["DAGL", "XYZ"]
grants = ["urn:altinn:rolecode:a0286", "bogus"]
source = "test"
[never_automatic]
grants = ["urn:altinn:rolecode:a0286"]
source = "test"
"#;
        let mut problems = Vec::new();
        assert!(GrantRules::parse(Path::new("g.toml"), text, &mut problems).is_none());
        let msgs: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            msgs,
            [
                "`g.toml`: line 10: `urn:altinn:rolecode:a0286` is listed under `never_automatic`: nobody holds it automatically (docs/design.md, rule 3), so it cannot be an automatic grant",
                "`g.toml`: line 10: `bogus` is not a grant URN: expected `urn:altinn:rolecode:…`, `urn:altinn:external-role:ccr:…`, `urn:altinn:accesspackage:…`, `urn:altinn:role:…` or `urn:altinn:resource:…`",
                "`g.toml`: line 9: role `XYZ` is not in the `[[er_role]]` table: add it there first",
            ]
        );
    }

    #[test]
    fn sub_unit_forms_decide_inheritance() {
        let rules = project_rules();
        assert!(rules.inherits(Some("BEDR")));
        assert!(rules.inherits(Some("orgl")));
        assert!(!rules.inherits(Some("KOMM")));
        assert!(!rules.inherits(None));
    }
}
