//! Policies compiled for evaluation: each resource's `read` rules as clauses over interned
//! grants ("atoms"), so deciding whether a rightholder can read is a few bit tests.
//!
//! A rule's target is put in disjunctive form for the request (resource R, action `read`):
//! every `Match` on the action or the resource becomes true or false, every `Match` on a
//! subject attribute becomes an atom (a grant the subject must hold), and anything
//! reachcheck cannot evaluate becomes *uncertain*. A clause is the set of atoms one
//! `AllOf` combination needs. Uncertain clauses never prove a reader; an uncertain deny
//! turns a proven reader into an uncertain one. That is how the engine fails closed
//! without ever claiming `not_readable` on a guess.

use std::path::Path;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use super::grants::{GrantRules, SubjectAttribute};
use super::xacml::{
    ACTION_ID, ALTINN_RESOURCE, Category, Effect, Match, MatchFunction, ResourcePolicy, Target,
};
use crate::model::{Code, Grant, ResourceId};
use crate::problem::Problem;

/// Index of an interned grant.
pub type AtomId = u32;

/// The exact atoms of one grant: each spelling a policy compares it in, and its atom.
type Spellings = SmallVec<[(Arc<str>, AtomId); 1]>;

/// Grants that matter to some policy (or to delegation), interned to small integers.
///
/// Most atoms are grants as Altinn compares them under `string-equal-ignore-case` (codes
/// lower-cased). A policy that compares a subject attribute with `string-equal` needs the
/// grant in one exact spelling: that is an *exact atom*, held only by someone whose
/// evidence spells the grant exactly so (docs/design.md, rule 12).
#[derive(Clone, Debug, Default)]
pub struct AtomTable {
    ids: FxHashMap<Grant, AtomId>,
    /// Exact atoms by grant (as compared) and spelling.
    exact: FxHashMap<Grant, Spellings>,
    grants: Vec<Grant>,
    /// The spelling of each exact atom (`None` for a case-insensitive one).
    spellings: Vec<Option<Arc<str>>>,
}

impl AtomTable {
    /// The id of `grant`, adding it if new.
    pub fn intern(&mut self, grant: Grant) -> AtomId {
        if let Some(&id) = self.ids.get(&grant) {
            return id;
        }
        let id = AtomId::try_from(self.grants.len()).unwrap_or(AtomId::MAX);
        self.ids.insert(grant.clone(), id);
        self.grants.push(grant);
        self.spellings.push(None);
        id
    }

    /// The id of `grant` spelled exactly `spelled`, adding it if new.
    pub fn intern_exact(&mut self, grant: Grant, spelled: &str) -> AtomId {
        if let Some(id) = self.get_exact(&grant, spelled) {
            return id;
        }
        let id = AtomId::try_from(self.grants.len()).unwrap_or(AtomId::MAX);
        let spelled: Arc<str> = Arc::from(spelled);
        self.exact
            .entry(grant.clone())
            .or_default()
            .push((Arc::clone(&spelled), id));
        self.grants.push(grant);
        self.spellings.push(Some(spelled));
        id
    }

    /// The id of `grant`, if any policy mentions it.
    pub fn get(&self, grant: &Grant) -> Option<AtomId> {
        self.ids.get(grant).copied()
    }

    /// The id of `grant` spelled exactly `spelled`, if a policy compares it exactly.
    pub fn get_exact(&self, grant: &Grant, spelled: &str) -> Option<AtomId> {
        self.exact
            .get(grant)?
            .iter()
            .find(|(s, _)| &**s == spelled)
            .map(|(_, id)| *id)
    }

    /// Whether some policy compares a grant exactly (`string-equal`).
    pub fn has_exact(&self) -> bool {
        !self.exact.is_empty()
    }

    /// The grant behind an id (as compared: lower-cased codes).
    pub fn grant(&self, id: AtomId) -> &Grant {
        &self.grants[id as usize]
    }

    /// The exact spelling an atom needs, if it is an exact atom.
    pub fn spelling(&self, id: AtomId) -> Option<&str> {
        self.spellings[id as usize].as_deref()
    }

    /// The atom as text: its URN, and for an exact atom the spelling it needs.
    pub fn describe(&self, id: AtomId) -> String {
        let g = self.grant(id);
        match self.spelling(id) {
            Some(s) => {
                let urn = g.to_string();
                let prefix = urn.len().saturating_sub(g.code().len());
                format!("{}{s} (exact case)", &urn[..prefix])
            }
            None => g.to_string(),
        }
    }

    /// How many grants are interned.
    pub fn len(&self) -> usize {
        self.grants.len()
    }

    /// Whether no grant is interned.
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }
}

/// A set of atoms, as a bit set (inline up to 128 atoms).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AtomSet(SmallVec<[u64; 2]>);

impl AtomSet {
    /// Adds an atom.
    pub fn insert(&mut self, id: AtomId) {
        let (w, b) = (id as usize / 64, id % 64);
        if self.0.len() <= w {
            self.0.resize(w + 1, 0);
        }
        self.0[w] |= 1 << b;
    }

    /// Whether the atom is in the set.
    pub fn contains(&self, id: AtomId) -> bool {
        let (w, b) = (id as usize / 64, id % 64);
        self.0.get(w).is_some_and(|word| word & (1 << b) != 0)
    }

    /// Whether every atom of `clause` is in the set.
    pub fn contains_all(&self, clause: &[AtomId]) -> bool {
        clause.iter().all(|&a| self.contains(a))
    }

    /// Adds every atom of `other`.
    pub fn union_with(&mut self, other: &AtomSet) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }

    /// Whether the set shares an atom with `atoms`.
    pub fn intersects(&self, atoms: &[AtomId]) -> bool {
        atoms.iter().any(|&a| self.contains(a))
    }

    /// Whether the set holds no atom.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    /// Removes every atom.
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// A conjunction of atoms: a subject holding all of them satisfies the clause.
pub type Clause = SmallVec<[AtomId; 4]>;

/// The outcome of a policy for one subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tri {
    /// Proven: may read.
    Yes,
    /// Proven: may not read.
    No,
    /// Cannot be decided (a rule needs something reachcheck cannot evaluate).
    Maybe,
}

/// One resource's `read` rules, compiled.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CompiledPolicy {
    /// Clauses of `Permit` rules (and the direct delegation of the resource).
    pub permit: Vec<Clause>,
    /// Clauses of `Permit` rules that also need something uncertain.
    pub permit_uncertain: Vec<Clause>,
    /// Clauses of `Deny` rules.
    pub deny: Vec<Clause>,
    /// Clauses of `Deny` rules that also need something uncertain.
    pub deny_uncertain: Vec<Clause>,
}

impl CompiledPolicy {
    /// Whether a subject holding `atoms` may read (deny-overrides).
    pub fn decide(&self, atoms: &AtomSet) -> Tri {
        let holds = |cs: &[Clause]| cs.iter().any(|c| atoms.contains_all(c));
        if holds(&self.deny) {
            return Tri::No;
        }
        let permit = holds(&self.permit);
        if permit && !holds(&self.deny_uncertain) {
            Tri::Yes
        } else if permit || holds(&self.permit_uncertain) {
            Tri::Maybe
        } else {
            Tri::No
        }
    }

    /// The first permit clause `atoms` satisfies, to explain why someone reads.
    pub fn satisfied_permit(&self, atoms: &AtomSet) -> Option<&Clause> {
        self.permit.iter().find(|c| atoms.contains_all(c))
    }
}

/// A message type's resources, compiled, in the order of `MessageType::resources`.
#[derive(Clone, Debug, Default)]
pub struct CompiledType {
    /// One entry per resource.
    pub resources: Vec<CompiledPolicy>,
}

impl CompiledType {
    /// Whether a subject holding `atoms` can read every resource.
    pub fn decide(&self, atoms: &AtomSet) -> Tri {
        let mut out = Tri::Yes;
        for r in &self.resources {
            match r.decide(atoms) {
                Tri::No => return Tri::No,
                Tri::Maybe => out = Tri::Maybe,
                Tri::Yes => {}
            }
        }
        out
    }
}

/// A literal of a target in disjunctive form.
enum Lit {
    True,
    False,
    Atom(AtomId),
    /// `string-equal` on a subject attribute (rule 12): the grant spelled exactly
    /// (`exact`), or, uncertain, the grant matching only when case is ignored (`folded`).
    Exact {
        exact: AtomId,
        folded: AtomId,
    },
    Uncertain(String),
}

/// Most clauses a single rule may expand to before it is refused as too complex.
const MAX_CLAUSES: usize = 4096;

/// A clause under construction: atoms, and why it is uncertain (if it is).
#[derive(Clone)]
struct Partial {
    atoms: Clause,
    uncertain: Option<String>,
}

fn equal(function: &MatchFunction, a: &str, b: &str) -> Option<bool> {
    match function {
        MatchFunction::StringEqual => Some(a == b),
        MatchFunction::StringEqualIgnoreCase => Some(a.to_lowercase() == b.to_lowercase()),
        MatchFunction::Unsupported(_) => None,
    }
}

fn literal(m: &Match, resource: &ResourceId, rules: &GrantRules, atoms: &mut AtomTable) -> Lit {
    let Some(attr) = m.attribute.as_deref() else {
        return Lit::Uncertain("an `AttributeSelector`".into());
    };
    let uncertain_fn = || match &m.function {
        MatchFunction::Unsupported(f) => Lit::Uncertain(format!("match function `{f}`")),
        _ => Lit::Uncertain(String::new()),
    };
    match &m.category {
        Category::Action => {
            if attr != ACTION_ID {
                return Lit::Uncertain(format!("action attribute `{attr}`"));
            }
            match equal(&m.function, &m.value, "read") {
                Some(true) => Lit::True,
                Some(false) => Lit::False,
                None => uncertain_fn(),
            }
        }
        Category::Resource => {
            let wanted: Option<&str> = if attr == ALTINN_RESOURCE {
                Some(resource.as_str())
            } else if let Some((org, app)) = resource
                .as_str()
                .strip_prefix("app_")
                .and_then(|rest| rest.split_once('_'))
            {
                match attr {
                    "urn:altinn:org" => Some(org),
                    "urn:altinn:app" => Some(app),
                    _ => None,
                }
            } else {
                None
            };
            let Some(wanted) = wanted else {
                return Lit::Uncertain(format!("resource attribute `{attr}`"));
            };
            match equal(&m.function, &m.value, wanted) {
                Some(true) => Lit::True,
                Some(false) => Lit::False,
                None => uncertain_fn(),
            }
        }
        Category::Subject => {
            if matches!(m.function, MatchFunction::Unsupported(_)) {
                return uncertain_fn();
            }
            let code = Code::new(&m.value);
            let grant = match rules.subject_attribute(attr) {
                Some(SubjectAttribute::RoleCode) => Grant::RoleCode(code),
                Some(SubjectAttribute::ExternalRole) => rules.canonical(&Grant::ExternalRole(code)),
                Some(SubjectAttribute::AccessPackage) => Grant::AccessPackage(code),
                Some(SubjectAttribute::Never) => return Lit::False,
                None => return Lit::Uncertain(format!("subject attribute `{attr}`")),
            };
            match m.function {
                // Altinn compares `string-equal` exactly: the value as written (rule 12).
                MatchFunction::StringEqual => Lit::Exact {
                    exact: atoms.intern_exact(grant.clone(), m.value.trim()),
                    folded: atoms.intern(grant),
                },
                _ => Lit::Atom(atoms.intern(grant)),
            }
        }
        Category::Other(c) => Lit::Uncertain(format!("attribute `{attr}` in category `{c}`")),
    }
}

/// Why a clause is uncertain, given two reasons: a stated reason wins over an unstated one
/// (`""`, a case-only match under `string-equal`, which is not the policy's fault).
fn why_of(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) if a.is_empty() => Some(b),
        (Some(a), _) => Some(a),
        (None, b) => b,
    }
}

/// The target in disjunctive form; an empty vector means it never matches.
fn dnf(
    targets: &[&Target],
    resource: &ResourceId,
    rules: &GrantRules,
    atoms: &mut AtomTable,
) -> Result<Vec<Partial>, ()> {
    let mut out = vec![Partial {
        atoms: Clause::new(),
        uncertain: None,
    }];
    for target in targets {
        for any_of in &target.any_of {
            let mut options: Vec<Partial> = Vec::new();
            'all_of: for all_of in &any_of.all_of {
                // Usually one partial; an exact match doubles them (exact or case-only).
                let mut ps: SmallVec<[Partial; 1]> = SmallVec::new();
                ps.push(Partial {
                    atoms: Clause::new(),
                    uncertain: None,
                });
                for m in &all_of.matches {
                    match literal(m, resource, rules, atoms) {
                        Lit::True => {}
                        Lit::False => continue 'all_of,
                        Lit::Atom(a) => {
                            for p in &mut ps {
                                if !p.atoms.contains(&a) {
                                    p.atoms.push(a);
                                }
                            }
                        }
                        Lit::Exact { exact, folded } => {
                            let mut case_only = ps.clone();
                            for p in &mut ps {
                                if !p.atoms.contains(&exact) {
                                    p.atoms.push(exact);
                                }
                            }
                            for p in &mut case_only {
                                if !p.atoms.contains(&folded) {
                                    p.atoms.push(folded);
                                }
                                // Uncertain, but not a policy problem worth a warning.
                                p.uncertain.get_or_insert_with(String::new);
                            }
                            ps.extend(case_only);
                            if ps.len() > MAX_CLAUSES {
                                return Err(());
                            }
                        }
                        Lit::Uncertain(why) => {
                            for p in &mut ps {
                                p.uncertain = why_of(p.uncertain.take(), Some(why.clone()));
                            }
                        }
                    }
                }
                options.extend(ps);
            }
            if options.is_empty() {
                return Ok(Vec::new());
            }
            let mut next = Vec::with_capacity(out.len() * options.len());
            for a in &out {
                for b in &options {
                    let mut atoms_ab = a.atoms.clone();
                    for x in &b.atoms {
                        if !atoms_ab.contains(x) {
                            atoms_ab.push(*x);
                        }
                    }
                    next.push(Partial {
                        atoms: atoms_ab,
                        uncertain: why_of(a.uncertain.clone(), b.uncertain.clone()),
                    });
                }
            }
            if next.len() > MAX_CLAUSES {
                return Err(());
            }
            out = next;
        }
    }
    for p in &mut out {
        p.atoms.sort_unstable();
    }
    Ok(out)
}

/// Compiles the `read` rules of one resource's policy. `file` names the policy in problems.
pub(crate) fn compile_policy(
    file: &Path,
    resource: &ResourceId,
    policy: &ResourcePolicy,
    rules: &GrantRules,
    atoms: &mut AtomTable,
    problems: &mut Vec<Problem>,
) -> CompiledPolicy {
    let mut out = CompiledPolicy::default();
    let mut any_resource_match = false;
    for rule in &policy.rules {
        let clauses = match dnf(&[&policy.target, &rule.target], resource, rules, atoms) {
            Ok(c) => c,
            Err(()) => {
                problems.push(Problem::error(
                    file,
                    Some(rule.line),
                    format!(
                        "rule `{}` has more than {MAX_CLAUSES} combinations of `AnyOf` choices: split it into simpler rules",
                        rule.id
                    ),
                ));
                continue;
            }
        };
        if !clauses.is_empty() {
            any_resource_match = true;
        }
        let mut warned = false;
        for p in clauses {
            let why = why_of(
                p.uncertain,
                rule.has_condition.then(|| "a `Condition`".into()),
            );
            let list = match (rule.effect, why.is_some()) {
                (Effect::Permit, false) => &mut out.permit,
                (Effect::Permit, true) => &mut out.permit_uncertain,
                (Effect::Deny, false) => &mut out.deny,
                (Effect::Deny, true) => &mut out.deny_uncertain,
            };
            if let Some(why) = why.filter(|w| !w.is_empty() && !warned) {
                warned = true;
                problems.push(Problem::warning(
                    file,
                    Some(rule.line),
                    format!(
                        "rule `{}` cannot be fully evaluated for `read`: reachcheck does not evaluate {why}",
                        rule.id
                    ),
                ));
            }
            if !list.contains(&p.atoms) {
                list.push(p.atoms);
            }
        }
    }
    if !any_resource_match {
        problems.push(Problem::warning(
            file,
            None,
            format!(
                "no rule permits or denies `read` on resource `{resource}`: only a direct delegation of the resource makes a reader"
            ),
        ));
    }
    // Rule 2: a direct delegation of the resource lets its holder read it.
    let delegation: Clause = [atoms.intern(Grant::Resource(resource.clone()))]
        .into_iter()
        .collect();
    if !out.permit.contains(&delegation) {
        out.permit.push(delegation);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::xacml::parse_policy;

    fn rules() -> GrantRules {
        let file = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/policies/altinn-grants.toml"
        ));
        let mut problems = Vec::new();
        GrantRules::parse(file, &std::fs::read_to_string(file).unwrap(), &mut problems).unwrap()
    }

    fn m(attr: &str, value: &str) -> String {
        let cat = match attr {
            ACTION_ID => "urn:oasis:names:tc:xacml:3.0:attribute-category:action",
            ALTINN_RESOURCE => "urn:oasis:names:tc:xacml:3.0:attribute-category:resource",
            _ => "urn:oasis:names:tc:xacml:1.0:subject-category:access-subject",
        };
        format!(
            r#"<Match MatchId="urn:oasis:names:tc:xacml:3.0:function:string-equal-ignore-case"><AttributeValue>{value}</AttributeValue><AttributeDesignator AttributeId="{attr}" Category="{cat}"/></Match>"#
        )
    }

    /// A policy with one rule per entry: (effect, [[AllOf matches] per AnyOf]).
    fn policy(rules_xml: &[(&str, Vec<Vec<Vec<String>>>)]) -> String {
        let mut s = String::from("<Policy>");
        for (i, (effect, any_ofs)) in rules_xml.iter().enumerate() {
            s += &format!(r#"<Rule RuleId="r{i}" Effect="{effect}"><Target>"#);
            for any in any_ofs {
                s += "<AnyOf>";
                for all in any {
                    s += &format!("<AllOf>{}</AllOf>", all.concat());
                }
                s += "</AnyOf>";
            }
            s += "</Target></Rule>";
        }
        s + "</Policy>"
    }

    fn compile(xml: &str) -> (CompiledPolicy, AtomTable, Vec<Problem>) {
        let mut problems = Vec::new();
        let p = parse_policy(Path::new("p.xml"), xml, &mut problems).unwrap();
        let mut atoms = AtomTable::default();
        let c = compile_policy(
            Path::new("p.xml"),
            &ResourceId::parse("res").unwrap(),
            &p,
            &rules(),
            &mut atoms,
            &mut problems,
        );
        (c, atoms, problems)
    }

    fn set(atoms: &AtomTable, grants: &[&str]) -> AtomSet {
        let mut s = AtomSet::default();
        for g in grants {
            if let Some(id) = atoms.get(&Grant::from_urn(g)) {
                s.insert(id);
            }
        }
        s
    }

    #[test]
    fn an_all_of_with_two_roles_needs_both_in_one_subject() {
        let xml = policy(&[(
            "Permit",
            vec![
                vec![vec![
                    m("urn:altinn:rolecode", "A0286"),
                    m("urn:altinn:rolecode", "A0236"),
                ]],
                vec![vec![m(ALTINN_RESOURCE, "res")]],
                vec![vec![m(ACTION_ID, "read")]],
            ],
        )]);
        let (c, atoms, problems) = compile(&xml);
        assert!(problems.is_empty(), "{problems:?}");
        let both = set(
            &atoms,
            &["urn:altinn:rolecode:a0286", "urn:altinn:rolecode:a0236"],
        );
        let one = set(&atoms, &["urn:altinn:rolecode:a0286"]);
        assert_eq!(c.decide(&both), Tri::Yes);
        assert_eq!(c.decide(&one), Tri::No);
    }

    #[test]
    fn write_only_rules_and_other_resources_make_no_reader() {
        let xml = policy(&[
            (
                "Permit",
                vec![
                    vec![vec![m("urn:altinn:rolecode", "a0286")]],
                    vec![vec![m(ACTION_ID, "write")]],
                ],
            ),
            (
                "Permit",
                vec![
                    vec![vec![m("urn:altinn:rolecode", "a0236")]],
                    vec![vec![m(ALTINN_RESOURCE, "other")]],
                ],
            ),
        ]);
        let (c, atoms, problems) = compile(&xml);
        assert_eq!(c.permit.len(), 1, "only the direct-delegation clause");
        assert!(c.permit_uncertain.is_empty() && c.deny.is_empty());
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0]
                .message
                .starts_with("no rule permits or denies `read`")
        );
        let delegated = set(&atoms, &["urn:altinn:resource:res"]);
        assert_eq!(c.decide(&delegated), Tri::Yes);
    }

    #[test]
    fn a_matching_deny_removes_the_reader() {
        let xml = policy(&[
            (
                "Permit",
                vec![vec![vec![m("urn:altinn:accesspackage", "pakke")]]],
            ),
            (
                "Deny",
                vec![
                    vec![vec![m("urn:altinn:rolecode", "revi")]],
                    vec![vec![m(ACTION_ID, "read")]],
                ],
            ),
        ]);
        let (c, atoms, _) = compile(&xml);
        let reader = set(&atoms, &["urn:altinn:accesspackage:pakke"]);
        let denied = set(
            &atoms,
            &["urn:altinn:accesspackage:pakke", "urn:altinn:rolecode:revi"],
        );
        assert_eq!(c.decide(&reader), Tri::Yes);
        assert_eq!(c.decide(&denied), Tri::No);
    }

    #[test]
    fn unknown_attributes_never_prove_and_uncertain_denies_give_maybe() {
        let xml = policy(&[
            ("Permit", vec![vec![vec![m("urn:altinn:userid", "1234")]]]),
            (
                "Permit",
                vec![vec![vec![m("urn:altinn:accesspackage", "pakke")]]],
            ),
            ("Deny", vec![vec![vec![m("urn:altinn:partyid", "99")]]]),
        ]);
        let (c, atoms, problems) = compile(&xml);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(
            c.decide(&set(&atoms, &[])),
            Tri::Maybe,
            "userid might be anyone"
        );
        assert_eq!(
            c.decide(&set(&atoms, &["urn:altinn:accesspackage:pakke"])),
            Tri::Maybe,
            "the partyid deny might apply"
        );
    }

    #[test]
    fn the_service_owner_org_attribute_is_simply_false() {
        let xml = policy(&[(
            "Permit",
            vec![
                vec![vec![m("urn:altinn:org", "politiet")]],
                vec![vec![m(ACTION_ID, "read")]],
            ],
        )]);
        let (c, atoms, _) = compile(&xml);
        assert!(c.permit_uncertain.is_empty());
        assert_eq!(c.decide(&set(&atoms, &[])), Tri::No);
    }

    #[test]
    fn er_role_values_are_matched_by_their_altinn_3_code_and_case_is_ignored() {
        let xml = policy(&[(
            "Permit",
            vec![vec![vec![m("urn:altinn:external-role:ccr", "DAGL")]]],
        )]);
        let (c, atoms, _) = compile(&xml);
        let dagl = set(&atoms, &["urn:altinn:external-role:ccr:daglig-leder"]);
        assert_eq!(c.decide(&dagl), Tri::Yes);
    }

    #[test]
    fn string_equal_on_the_action_is_exact() {
        let xml = policy(&[(
            "Permit",
            vec![
                vec![vec![m("urn:altinn:accesspackage", "pakke")]],
                vec![vec![m(ACTION_ID, "READ").replace(
                    "3.0:function:string-equal-ignore-case",
                    "1.0:function:string-equal",
                )]],
            ],
        )]);
        let (c, atoms, _) = compile(&xml);
        assert_eq!(
            c.decide(&set(&atoms, &["urn:altinn:accesspackage:pakke"])),
            Tri::No
        );
    }

    #[test]
    fn atom_sets_grow_past_one_word() {
        let mut s = AtomSet::default();
        s.insert(3);
        s.insert(200);
        assert!(s.contains(200) && s.contains(3) && !s.contains(4));
        assert!(s.contains_all(&[3, 200]));
        let mut t = AtomSet::default();
        t.insert(5);
        t.union_with(&s);
        assert!(t.contains_all(&[3, 5, 200]));
    }
}
