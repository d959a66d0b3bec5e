//! Policies: message types (`message-types.toml`), one XACML policy per Altinn resource
//! (`<resource-id>.xml`) and Altinn's automatic grants (`altinn-grants.toml`), loaded once
//! and compiled for the engine.
//!
//! Owns: reading and cross-checking the policy directory, reporting every problem at once
//! with file and line. Does not own: evidence about recipients, or judging routes.

mod compiled;
mod grants;
mod message_types;
mod xacml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustc_hash::FxHashMap;

pub use compiled::{AtomId, AtomSet, AtomTable, Clause, CompiledPolicy, CompiledType, Tri};
pub use grants::{ErRole, GrantName, GrantRules, Provenance, SubjectAttribute};
pub use message_types::MessageType;
pub use xacml::{
    AllOf, AnyOf, Category, Effect, Match, MatchFunction, ResourcePolicy, Rule, Target,
    parse_policy,
};

use crate::model::{Grant, MessageTypeId, PolicyDrift, ResourceId, SourceFailure, SourceKind};
use crate::problem::{Problem, Problems};

/// The file name of the message types in a policy directory.
pub const MESSAGE_TYPES_FILE: &str = "message-types.toml";
/// The file name of the automatic-grant rules in a policy directory.
pub const GRANTS_FILE: &str = "altinn-grants.toml";

/// Parses the text of a `message-types.toml`: the types it could read, and every problem.
pub fn parse_message_types(file: &Path, text: &str) -> (Vec<MessageType>, Vec<Problem>) {
    let mut problems = Vec::new();
    let types = message_types::parse_message_types(file, text, &mut problems);
    (types, problems)
}

/// Policies could not be loaded; every problem found is listed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{problems}")]
pub struct PolicyError {
    /// Errors and warnings, each with file and line.
    pub problems: Problems,
}

/// Everything reachcheck knows about message types and who may read them, loaded and
/// compiled. Cheap to share behind an `Arc`.
#[derive(Clone)]
pub struct Policies {
    dir: PathBuf,
    grants_file: PathBuf,
    message_types: Vec<MessageType>,
    by_id: FxHashMap<MessageTypeId, usize>,
    resources: BTreeMap<ResourceId, ResourcePolicy>,
    grants: GrantRules,
    atoms: AtomTable,
    compiled: Vec<CompiledType>,
    delegators: Vec<AtomId>,
    warnings: Vec<Problem>,
    drift: BTreeMap<ResourceId, Arc<PolicyDrift>>,
    unavailable: BTreeMap<ResourceId, Arc<SourceFailure>>,
}

impl fmt::Debug for Policies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policies")
            .field("dir", &self.dir)
            .field("message_types", &self.message_types.len())
            .field("resources", &self.resources.len())
            .field("atoms", &self.atoms.len())
            .finish()
    }
}

fn read(path: &Path, problems: &mut Vec<Problem>) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) => {
            problems.push(Problem::error(
                path,
                None,
                format!("cannot read the file: {e}"),
            ));
            None
        }
    }
}

impl Policies {
    /// Loads a policy directory: `message-types.toml`, `altinn-grants.toml` and one
    /// `<resource-id>.xml` per resource a message type names.
    pub fn load(dir: &Path) -> Result<Policies, PolicyError> {
        Policies::load_with_grants(dir, &dir.join(GRANTS_FILE))
    }

    /// Like [`Policies::load`], with `altinn-grants.toml` read from `grants_file`.
    pub fn load_with_grants(dir: &Path, grants_file: &Path) -> Result<Policies, PolicyError> {
        let mut problems = Vec::new();
        if !dir.is_dir() {
            problems.push(Problem::error(
                dir,
                None,
                "the policy directory does not exist: pass `--policies DIR` or set `policies` in the config file",
            ));
            return Err(PolicyError {
                problems: Problems(problems),
            });
        }
        let types_file = dir.join(MESSAGE_TYPES_FILE);
        let message_types = read(&types_file, &mut problems)
            .map(|t| message_types::parse_message_types(&types_file, &t, &mut problems))
            .unwrap_or_default();
        // Which policy files are unused is only known when the message types were read.
        let types_ok = !problems.iter().any(Problem::is_error);
        let grants = read(grants_file, &mut problems)
            .and_then(|t| GrantRules::parse(grants_file, &t, &mut problems));

        let mut resources = BTreeMap::new();
        for mt in &message_types {
            for r in &mt.resources {
                if resources.contains_key(r) {
                    continue;
                }
                let file = dir.join(format!("{r}.xml"));
                if !file.is_file() {
                    problems.push(Problem::error(
                        &types_file,
                        Some(mt.resources_line),
                        format!(
                            "message type `{}` names resource `{r}`, but there is no policy file `{}`",
                            mt.id,
                            file.display()
                        ),
                    ));
                    continue;
                }
                if let Some(text) = read(&file, &mut problems)
                    && let Some(p) = parse_policy(&file, &text, &mut problems)
                {
                    resources.insert(r.clone(), p);
                }
            }
        }
        if !types_ok {
            // The message types are not all known, so neither is which policies are used:
            // check every policy file not checked above, so that every problem is reported
            // at once rather than the next ones after the types are fixed.
            let mut rest: Vec<PathBuf> = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "xml") && p.is_file())
                .filter(|p| {
                    p.file_stem()
                        .and_then(|s| s.to_str())
                        .and_then(|s| ResourceId::parse(s).ok())
                        .is_none_or(|id| !message_types.iter().any(|m| m.resources.contains(&id)))
                })
                .collect();
            rest.sort();
            for file in rest {
                if let Some(text) = read(&file, &mut problems) {
                    let _ = parse_policy(&file, &text, &mut problems);
                }
            }
        }
        if let Ok(entries) = std::fs::read_dir(dir)
            .map_err(|_| ())
            .and_then(|e| if types_ok { Ok(e) } else { Err(()) })
        {
            let mut unused: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "xml"))
                .filter(|p| {
                    p.file_stem()
                        .and_then(|s| s.to_str())
                        .and_then(|s| ResourceId::parse(s).ok())
                        .is_none_or(|id| !message_types.iter().any(|m| m.resources.contains(&id)))
                })
                .collect();
            unused.sort();
            for p in unused {
                problems.push(Problem::warning(
                    &p,
                    None,
                    "no message type names this resource, so its policy is not used",
                ));
            }
        }

        let Some(grants) = grants else {
            return Err(PolicyError {
                problems: Problems(problems),
            });
        };
        if problems.iter().any(Problem::is_error) {
            return Err(PolicyError {
                problems: Problems(problems),
            });
        }
        let mut policies = Policies {
            dir: dir.to_path_buf(),
            grants_file: grants_file.to_path_buf(),
            by_id: message_types
                .iter()
                .enumerate()
                .map(|(i, m)| (m.id.clone(), i))
                .collect(),
            message_types,
            resources,
            grants,
            atoms: AtomTable::default(),
            compiled: Vec::new(),
            delegators: Vec::new(),
            warnings: Vec::new(),
            drift: BTreeMap::new(),
            unavailable: BTreeMap::new(),
        };
        policies.compile(&mut problems);
        if problems.iter().any(Problem::is_error) {
            return Err(PolicyError {
                problems: Problems(problems),
            });
        }
        policies.warnings = problems;
        Ok(policies)
    }

    /// Compiles every message type's resources against the grant rules.
    fn compile(&mut self, problems: &mut Vec<Problem>) {
        let mut atoms = AtomTable::default();
        let mut by_resource: BTreeMap<ResourceId, CompiledPolicy> = BTreeMap::new();
        for (id, policy) in &self.resources {
            let file = self.policy_file(id);
            let c = compiled::compile_policy(&file, id, policy, &self.grants, &mut atoms, problems);
            by_resource.insert(id.clone(), c);
        }
        self.compiled = self
            .message_types
            .iter()
            .map(|m| CompiledType {
                resources: m
                    .resources
                    .iter()
                    .map(|r| by_resource.get(r).cloned().unwrap_or_default())
                    .collect(),
            })
            .collect();
        self.delegators = self
            .grants
            .delegation
            .iter()
            .map(|g| atoms.intern(self.grants.canonical(g)))
            .collect();
        self.atoms = atoms;
    }

    /// Returns a copy in which `resource`'s policy is replaced (e.g. by the one Altinn
    /// enforces), recompiled. Problems in the new policy are returned, not fatal.
    pub fn with_resource_policy(
        &self,
        resource: &ResourceId,
        policy: ResourcePolicy,
    ) -> (Policies, Vec<Problem>) {
        let mut next = self.clone();
        next.resources.insert(resource.clone(), policy);
        let mut problems = Vec::new();
        next.compile(&mut problems);
        (next, problems)
    }

    /// Every resource some message type is delivered as, once each, sorted.
    pub fn resource_ids(&self) -> Vec<ResourceId> {
        self.resources.keys().cloned().collect()
    }

    /// The message types, in file order.
    pub fn message_types(&self) -> &[MessageType] {
        &self.message_types
    }

    /// The index of a message type, for [`Policies::compiled`].
    pub fn message_type_index(&self, id: &MessageTypeId) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// A message type by id.
    pub fn message_type(&self, id: &MessageTypeId) -> Option<&MessageType> {
        self.message_type_index(id).map(|i| &self.message_types[i])
    }

    /// The compiled rules of the message type at `index`.
    pub fn compiled(&self, index: usize) -> &CompiledType {
        &self.compiled[index]
    }

    /// The parsed policy of a resource.
    pub fn resource_policy(&self, id: &ResourceId) -> Option<&ResourcePolicy> {
        self.resources.get(id)
    }

    /// The interned grants policies mention.
    pub fn atoms(&self) -> &AtomTable {
        &self.atoms
    }

    /// Atoms whose holders can delegate access (rule 5).
    pub fn delegator_atoms(&self) -> &[AtomId] {
        &self.delegators
    }

    /// The automatic-grant rules.
    pub fn grants(&self) -> &GrantRules {
        &self.grants
    }

    /// Warnings found while loading (never errors: those refuse the load).
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }

    /// The policy directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The grant rules file.
    pub fn grants_file(&self) -> &Path {
        &self.grants_file
    }

    /// Where a resource's policy file is (or would be).
    /// Returns a copy that judges `resource` by the policy Altinn enforces (`xml`, fetched
    /// from `location`), noting a [`PolicyDrift`] when it grants `read` differently from the
    /// local copy. A policy that cannot be parsed makes the resource unavailable (its routes
    /// `unknown`), with the problems returned.
    pub fn with_altinn_policy(
        &self,
        resource: &ResourceId,
        location: &str,
        xml: &str,
    ) -> (Policies, Vec<Problem>) {
        let mut problems = Vec::new();
        let Some(policy) = parse_policy(Path::new(location), xml, &mut problems) else {
            let reason = problems
                .iter()
                .find(|p| p.is_error())
                .map(|p| p.message.clone())
                .unwrap_or_else(|| "not a XACML policy".to_owned());
            let failure = Arc::new(SourceFailure {
                unit: None,
                source: SourceKind::ResourcePolicy,
                location: Arc::from(location),
                reason: Arc::from(reason),
            });
            return (self.with_unavailable_policy(resource, failure), problems);
        };
        let before = self.read_clauses(resource);
        let (mut next, more) = self.with_resource_policy(resource, policy);
        problems.extend(more);
        let after = next.read_clauses(resource);
        next.drift.remove(resource);
        if before != after {
            next.drift.insert(
                resource.clone(),
                Arc::new(PolicyDrift {
                    resource: resource.clone(),
                    location: Arc::from(location),
                    added: after.difference(&before).cloned().collect(),
                    removed: before.difference(&after).cloned().collect(),
                }),
            );
        }
        (next, problems)
    }

    /// Returns a copy in which `resource`'s policy is unavailable: routes of message types
    /// that use it are `unknown`, with the failure named (rule 9).
    pub fn with_unavailable_policy(
        &self,
        resource: &ResourceId,
        failure: Arc<SourceFailure>,
    ) -> Policies {
        let mut next = self.clone();
        next.unavailable.insert(resource.clone(), failure);
        next
    }

    /// Drift of the resources of the message type at `index`.
    pub fn drift(&self, index: usize) -> impl Iterator<Item = &Arc<PolicyDrift>> {
        let drift = &self.drift;
        self.message_types[index]
            .resources
            .iter()
            .filter(move |_| !drift.is_empty())
            .filter_map(move |r| drift.get(r))
    }

    /// Failures to get the policy of the resources of the message type at `index`.
    pub fn unavailable(&self, index: usize) -> impl Iterator<Item = &Arc<SourceFailure>> {
        let unavailable = &self.unavailable;
        self.message_types[index]
            .resources
            .iter()
            .filter(move |_| !unavailable.is_empty())
            .filter_map(move |r| unavailable.get(r))
    }

    /// Who may read `resource`, as sorted descriptions: one per permit clause (`a + b` when
    /// one person needs both) and one per deny clause (`not: ...`).
    pub fn read_clauses(&self, resource: &ResourceId) -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::new();
        let Some(compiled) = self
            .message_types
            .iter()
            .zip(&self.compiled)
            .find_map(|(m, c)| {
                m.resources
                    .iter()
                    .position(|r| r == resource)
                    .map(|i| &c.resources[i])
            })
        else {
            return out;
        };
        let describe = |c: &compiled::Clause| {
            let mut names: Vec<String> =
                c.iter().map(|&a| self.atoms.grant(a).to_string()).collect();
            names.sort();
            names.join(" + ")
        };
        for c in &compiled.permit {
            out.insert(describe(c));
        }
        for c in &compiled.permit_uncertain {
            out.insert(format!("{} (with a condition)", describe(c)));
        }
        for c in compiled.deny.iter().chain(&compiled.deny_uncertain) {
            out.insert(format!("not: {}", describe(c)));
        }
        out
    }

    /// The local policy file of a resource.
    pub fn policy_file(&self, resource: &ResourceId) -> PathBuf {
        self.dir.join(format!("{resource}.xml"))
    }

    /// The grants that make someone a reader of every resource of a message type, as
    /// alternatives per resource (for remediation): each inner list is one clause.
    pub fn read_options(&self, index: usize) -> Vec<Vec<Vec<Grant>>> {
        self.compiled[index]
            .resources
            .iter()
            .map(|r| {
                r.permit
                    .iter()
                    .map(|c| c.iter().map(|&a| self.atoms.grant(a).clone()).collect())
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project_policies() -> Policies {
        Policies::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/policies"))).unwrap()
    }

    #[test]
    fn the_project_policies_load_without_problems() {
        let p = project_policies();
        assert_eq!(p.message_types().len(), 4);
        assert!(p.warnings().is_empty(), "{:?}", p.warnings());
        let i = p
            .message_type_index(&MessageTypeId::parse("straffesaksforsendelse").unwrap())
            .unwrap();
        assert_eq!(p.compiled(i).resources.len(), 2);
    }

    #[test]
    fn confidential_post_is_readable_by_its_package_and_roles_but_not_by_daglig_leder() {
        let p = project_policies();
        let i = p
            .message_type_index(&MessageTypeId::parse("bekymringsmelding").unwrap())
            .unwrap();
        let holder = |urns: &[&str]| {
            let mut s = AtomSet::default();
            for u in urns {
                p.grants().expand(&Grant::from_urn(u), |g, _| {
                    if let Some(a) = p.atoms().get(&g) {
                        s.insert(a);
                    }
                });
            }
            p.compiled(i).decide(&s)
        };
        assert_eq!(
            holder(&["urn:altinn:accesspackage:post-til-virksomheten-med-taushetsbelagt-innhold"]),
            Tri::Yes
        );
        assert_eq!(holder(&["urn:altinn:rolecode:A0287"]), Tri::Yes);
        assert_eq!(
            holder(&["urn:altinn:external-role:ccr:daglig-leder"]),
            Tri::No
        );
        assert_eq!(holder(&["urn:altinn:rolecode:a0236"]), Tri::No);
    }

    #[test]
    fn a_missing_policy_file_and_a_missing_directory_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(MESSAGE_TYPES_FILE),
            "[[message_type]]\nid = \"a\"\ntitle = \"A\"\nresources = [\"nope\"]\n",
        )
        .unwrap();
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/policies/altinn-grants.toml"),
            dir.path().join(GRANTS_FILE),
        )
        .unwrap();
        std::fs::write(dir.path().join("stray.xml"), "<Policy/>").unwrap();
        let err = Policies::load(dir.path()).unwrap_err();
        let msgs: Vec<String> = err.problems.0.iter().map(|p| p.to_string()).collect();
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert!(msgs[0].ends_with(&format!(
            "message-types.toml`: line 4: message type `a` names resource `nope`, but there is no policy file `{}`",
            dir.path().join("nope.xml").display()
        )));
        assert!(msgs[1].ends_with(
            "stray.xml`: no message type names this resource, so its policy is not used"
        ));

        let err = Policies::load(&dir.path().join("missing")).unwrap_err();
        assert!(err.to_string().ends_with(
            "the policy directory does not exist: pass `--policies DIR` or set `policies` in the config file"
        ));
    }
}
