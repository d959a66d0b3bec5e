//! Explanations: each finding as one sentence, its evidence (who counts, and by which
//! path: direct, key role, inherited from the main unit) and its remediation (the missing
//! grant by its Altinn names, and who at the recipient can delegate it).
//!
//! Persons are shown by role, masked name and Altinn party UUID; full names only when the
//! operator asks. Birth dates and national identity numbers are never shown (the latter
//! are never even read).

use jiff::{SignedDuration, Timestamp};

use super::digest::{Counts, Person};
use super::{Assessment, Engine};
use crate::evidence::Observed;
use crate::model::{
    EntityKind, Finding, FindingCode, Gap, Grant, HolderSource, OrgNumber, ResourceId, Route,
    Severity, SourceKind, mask_name,
};
use crate::policy::{MessageType, Provenance};

/// How to explain.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExplainOptions {
    /// Show people's full names instead of initials.
    pub show_names: bool,
}

/// A finding in words.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ExplainedFinding {
    /// Stable code.
    pub code: FindingCode,
    /// Severity.
    pub severity: Severity,
    /// One sentence: what is wrong.
    pub message: String,
    /// What to do about it, and who can.
    pub remediation: String,
    /// The facts behind it.
    pub evidence: Vec<String>,
}

/// A route's judgement in words.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    /// The recipient's registered name, if known.
    pub recipient_name: Option<String>,
    /// Who can read, and by which path.
    pub readers: Vec<String>,
    /// The findings, in order.
    pub findings: Vec<ExplainedFinding>,
}

impl Explanation {
    /// Findings in words without the evidence behind them (answers loaded from the store
    /// keep codes and facts, not the snapshot): one sentence per finding from its facts.
    pub fn without_evidence<'a>(
        findings: impl Iterator<Item = &'a Finding>,
        recipient: &OrgNumber,
    ) -> Explanation {
        Explanation {
            recipient_name: None,
            readers: Vec::new(),
            findings: findings
                .map(|f| ExplainedFinding {
                    code: f.code(),
                    severity: f.severity(),
                    message: summary(f, recipient),
                    remediation: "Run `reachcheck precheck` (or wait for the next sweep) for the evidence and who can fix it.".to_owned(),
                    evidence: Vec::new(),
                })
                .collect(),
        }
    }
}

/// One sentence from a finding's facts alone.
pub fn summary(f: &Finding, recipient: &OrgNumber) -> String {
    match f {
        Finding::RecipientDeleted { on: Some(d) } => {
            format!("{recipient} was deleted in Enhetsregisteret on {d}.")
        }
        Finding::RecipientDeleted { on: None } => {
            format!("{recipient} is deleted in Enhetsregisteret.")
        }
        Finding::NoReader => format!("Nobody at {recipient} can read this message type."),
        Finding::NoData { .. } => format!(
            "The evidence needed to decide whether anyone at {recipient} can read is missing."
        ),
        Finding::TooFewReaders { readers, min } => {
            format!("Only {readers} of the required {min} readers at {recipient}.")
        }
        Finding::NoNotificationAddress => {
            format!("Nobody at {recipient} or its main unit will be notified.")
        }
        Finding::NotificationUnknown { missing } => {
            format!("Notification addresses of {missing} are not known.")
        }
        Finding::StaleData {
            observed_at,
            max_age,
        } => format!(
            "The evidence is from {observed_at}, older than the allowed {}.",
            age(*max_age)
        ),
        Finding::SourceError(failure) => format!(
            "The {} could not be used: {}.",
            failure.source, failure.reason
        ),
        Finding::PolicyIndeterminate { resource } => {
            format!("A rule in the policy of `{resource}` cannot be evaluated.")
        }
        Finding::NotAuthorized { unit, .. } => {
            format!("{unit} has not approved reachcheck's system user.")
        }
        Finding::PolicyDrift(d) => format!(
            "Altinn's policy for `{}` grants read differently from the local copy.",
            d.resource
        ),
        Finding::NotSwept => format!("The route to {recipient} was not in the last sweep."),
        Finding::NotOnAccessList(g) => format!(
            "{recipient} is on no access list that lets it read `{}`.",
            g.resource
        ),
        Finding::EvidenceInconsistent {
            unit,
            key_role_holders,
        } => format!(
            "Altinn connections of {unit} list no person, while Enhetsregisteret names {}.",
            plural(
                *key_role_holders,
                "living key-role holder",
                "living key-role holders"
            )
        ),
        Finding::NotificationUnverified { unit } => {
            format!("The notification addresses of {unit} could not be read by reachcheck.")
        }
        Finding::ResourceNotInAltinn { resource, .. } => {
            format!("Altinn has no resource `{resource}`.")
        }
    }
}

/// A missing piece of evidence, as `(what is missing, where it would be recorded)`.
fn gap_text(g: &Gap) -> (String, String) {
    let unit = g.unit.map(|u| u.to_string()).unwrap_or_default();
    let resource = g.resource.as_ref().map(|r| r.as_str()).unwrap_or_default();
    let party = g.party.as_deref().unwrap_or_default();
    let list = g.list.as_deref().unwrap_or_default();
    match g.source {
        SourceKind::ResourceRights => (
            format!(
                "the rights of the delegation of `{resource}` to party {party} at {unit} (which actions it grants)"
            ),
            format!(
                "`connections/resources/rights?party={unit}&from={unit}&to={party}&resource={resource}` (snapshot: `{}/{unit}/{resource}/{party}.json`)",
                crate::evidence::RESOURCE_RIGHTS
            ),
        ),
        SourceKind::Resource => (
            format!(
                "the resource registry's entry for `{resource}` (whether access lists gate it)"
            ),
            format!(
                "`/resourceregistry/api/v1/resource/{resource}` (snapshot: `{}/{resource}/{}`)",
                crate::evidence::RESOURCE_POLICIES,
                crate::evidence::RESOURCE_FILE
            ),
        ),
        SourceKind::AccessLists => (
            format!("the resource owner's access lists for `{resource}`"),
            format!(
                "`/resourceregistry/api/v1/access-lists/{{owner}}?resource={resource}&include=resource-actions` (snapshot: `{}/{resource}/{}`)",
                crate::evidence::RESOURCE_POLICIES,
                crate::evidence::ACCESS_LISTS_FILE
            ),
        ),
        SourceKind::AccessListMembers => (
            format!("the members of access list `{list}` (bound to `{resource}`)"),
            format!(
                "`/resourceregistry/api/v1/access-lists/{{owner}}/{list}/members` (snapshot: `{}/{{owner}}/{list}/{}`)",
                crate::evidence::ACCESS_LISTS,
                crate::evidence::MEMBERS_FILE
            ),
        ),
        other => (
            format!("the {other} of {unit}"),
            "the next sweep".to_owned(),
        ),
    }
}

/// Ways to read one resource, as text: (delegable grants, ER roles).
type Alternatives = (Vec<String>, Vec<String>);

/// Most people listed in one piece of evidence.
const MAX_LISTED: usize = 10;

/// A person with the holder records behind them.
struct Who<'a> {
    person: Person,
    refs: Vec<(OrgNumber, &'a crate::model::Rightholder, bool)>,
}

impl Who<'_> {
    fn first(&self) -> Option<&crate::model::Rightholder> {
        self.refs.first().map(|(_, h, _)| *h)
    }
}

fn plural(n: u32, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

fn join_or(items: &[String], word: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} {word} {last}", rest.join(", ")),
    }
}

fn age(d: SignedDuration) -> String {
    let secs = d.as_secs().max(0);
    let rounded = if secs >= 3600 { secs - secs % 60 } else { secs };
    humantime::format_duration(std::time::Duration::from_secs(rounded.unsigned_abs())).to_string()
}

impl Engine {
    fn label(&self, org: OrgNumber) -> String {
        match self.unit_name(org) {
            Some(n) => format!("{n} ({org})"),
            None => org.to_string(),
        }
    }

    /// The registered name of a unit, if the snapshot has it.
    pub fn unit_name(&self, org: OrgNumber) -> Option<String> {
        self.registered_name(org).map(str::to_owned)
    }

    /// The registered name of a unit, borrowed from the snapshot.
    pub fn registered_name(&self, org: OrgNumber) -> Option<&str> {
        self.snapshot
            .unit(org)
            .and_then(|e| e.unit.present())
            .and_then(|u| u.name.as_deref())
    }

    /// The people at `recipient` (and, when it inherits, its main unit), distinct.
    fn people(&self, recipient: OrgNumber, main: Option<OrgNumber>) -> Vec<Who<'_>> {
        let units = || {
            std::iter::once(recipient)
                .chain(main)
                .filter_map(|o| self.digests.get(&o))
        };
        let size: usize = units().map(|d| d.persons.len()).sum();
        let mut out: Vec<Who<'_>> = Vec::with_capacity(size);
        // As the digest does: party ids by hash, so that a unit with a million rightholders
        // is explained in linear time; name-identified persons (rare) are compared with
        // everyone.
        let mut by_party: rustc_hash::FxHashMap<u64, usize> =
            rustc_hash::FxHashMap::with_capacity_and_hasher(size, Default::default());
        let mut named: Vec<usize> = Vec::new();
        for (org, inherited) in std::iter::once((recipient, false)).chain(main.map(|m| (m, true))) {
            let (Some(ev), Some(d)) = (self.snapshot.unit(org), self.digests.get(&org)) else {
                continue;
            };
            let holders = d.holders(ev);
            for p in &d.persons {
                let refs: Vec<_> = p
                    .holders
                    .iter()
                    .filter_map(|&i| holders.get(i as usize))
                    .map(|h| (org, h, inherited))
                    .collect();
                let found = match p.namespace {
                    super::digest::Namespace::Party => by_party
                        .get(&p.key)
                        .copied()
                        .or_else(|| named.iter().copied().find(|&j| out[j].person.same_as(p))),
                    super::digest::Namespace::Name => out.iter().position(|w| w.person.same_as(p)),
                };
                match found {
                    Some(j) => {
                        out[j].person.merge(p);
                        out[j].refs.extend(refs);
                    }
                    None => {
                        match p.namespace {
                            super::digest::Namespace::Party => {
                                by_party.insert(p.key, out.len());
                            }
                            super::digest::Namespace::Name => named.push(out.len()),
                        }
                        out.push(Who {
                            person: p.clone(),
                            refs,
                        });
                    }
                }
            }
        }
        out
    }

    fn who_label(&self, w: &Who<'_>, opts: ExplainOptions) -> String {
        let Some(h) = w.first() else {
            return "someone".to_owned();
        };
        let name = match (&h.name, opts.show_names) {
            (Some(n), true) => n.to_string(),
            // Organisations and system users are not people: their names are not masked.
            (Some(n), false) if !h.kind.is_person() => n.to_string(),
            _ => h.masked_name(),
        };
        let id = w
            .refs
            .iter()
            .find_map(|(_, h, _)| h.party.as_deref())
            .map(|p| format!("party {p}"))
            .unwrap_or_else(|| "Enhetsregisteret".to_owned());
        let via = h
            .via
            .as_deref()
            .map(|v| format!(", via {v}"))
            .unwrap_or_default();
        format!("{name} ({}, {id}{via})", h.kind)
    }

    /// The role that makes someone a delegator (or their ER role), for remediation.
    fn role_label(&self, w: &Who<'_>) -> String {
        let grants = self.policies.grants();
        for (_, h, _) in &w.refs {
            for g in &h.grants {
                let role = match g {
                    Grant::ExternalRole(c) => grants.er_role(c.as_str()),
                    Grant::RoleCode(c) => grants.er_role_by_legacy(c),
                    _ => None,
                };
                if let Some(r) = role {
                    return r.name.to_lowercase();
                }
            }
        }
        for (_, h, _) in &w.refs {
            for g in &h.grants {
                if self.policies.grants().delegation.contains(g) {
                    return grants
                        .names(g)
                        .map(|n| n.name.clone())
                        .unwrap_or_else(|| g.code().to_owned());
                }
            }
        }
        "administrator".to_owned()
    }

    /// How a reader holds `grant`: `[direct]`, `[key role Daglig leder (DAGL)]`, plus
    /// `inherited from main unit …`.
    fn path_of(&self, w: &Who<'_>, grant: &Grant) -> String {
        let rules = self.policies.grants();
        for (org, h, inherited) in &w.refs {
            for listed in &h.grants {
                let mut found = None;
                rules.expand(listed, |g, prov| {
                    if found.is_none() && &g == grant {
                        found = Some(match prov {
                            Provenance::Listed if h.source == HolderSource::Enhetsregisteret => {
                                "registered in Enhetsregisteret".to_owned()
                            }
                            Provenance::Listed => "direct".to_owned(),
                            Provenance::SameRole(r) | Provenance::Automatic(r) => {
                                format!("key role {} ({})", r.name, r.brreg)
                            }
                        });
                    }
                });
                if let Some(mut p) = found {
                    if *inherited {
                        p.push_str(&format!(", inherited from main unit {org}"));
                    }
                    return p;
                }
            }
        }
        "held".to_owned()
    }

    fn reader_line(&self, type_index: usize, w: &Who<'_>, opts: ExplainOptions) -> String {
        let compiled = self.policies.compiled(type_index);
        // One ground per distinct set of grants (several resources are often read through
        // the same role, written differently in each policy).
        let mut seen: Vec<String> = Vec::new();
        let mut grounds: Vec<String> = Vec::new();
        for r in &compiled.resources {
            if let Some(clause) = r.satisfied_permit(&w.person.atoms) {
                let names: Vec<String> = clause
                    .iter()
                    .map(|&a| {
                        self.policies
                            .grants()
                            .describe(self.policies.atoms().grant(a))
                    })
                    .collect();
                let key = names.join(" and ");
                if seen.contains(&key) {
                    continue;
                }
                seen.push(key);
                let parts: Vec<String> = clause
                    .iter()
                    .zip(&names)
                    .map(|(&a, name)| {
                        format!(
                            "{name} [{}]",
                            self.path_of(w, self.policies.atoms().grant(a))
                        )
                    })
                    .collect();
                grounds.push(parts.join(" and "));
            }
        }
        format!(
            "{} reads via {}",
            self.who_label(w, opts),
            grounds.join("; ")
        )
    }

    /// What a person holds that matters to the message type, for "why not" evidence.
    fn holdings_line(&self, w: &Who<'_>, mt: &MessageType, opts: ExplainOptions) -> String {
        let label = self.who_label(w, opts);
        let why_not = match w.person.counts {
            Counts::Never => {
                let h = w.first();
                if h.is_some_and(|h| h.deceased) {
                    Some("deceased: never counts".to_owned())
                } else if h.is_some_and(|h| h.deleted) {
                    Some("deleted: never counts".to_owned())
                } else {
                    Some(match h.map(|h| &h.kind) {
                        Some(EntityKind::Organisation) => {
                            "organisations never count as readers".to_owned()
                        }
                        Some(k) => format!("a {k} never counts as a reader"),
                        None => "never counts".to_owned(),
                    })
                }
            }
            Counts::SystemUser if !mt.count_system_users => {
                Some(format!("system users do not count for `{}`", mt.id))
            }
            _ => None,
        };
        let resigned: Vec<String> = w
            .refs
            .iter()
            .flat_map(|(_, h, _)| &h.resigned)
            .map(|g| format!("resigned as {}", self.policies.grants().describe(g)))
            .collect();
        let table = self.policies.atoms();
        let mut held: Vec<String> = Vec::new();
        for a in (0..table.len()).filter_map(|i| u32::try_from(i).ok()) {
            if w.person.atoms.contains(a) {
                let text = self.policies.grants().describe(table.grant(a));
                if !held.contains(&text) {
                    held.push(text);
                }
            }
        }
        let mut s = label;
        if held.is_empty() {
            s.push_str(" holds nothing that grants read");
        } else {
            s.push_str(&format!(" holds {}", join_or(&held, "and")));
        }
        if !resigned.is_empty() {
            s.push_str(&format!(" ({})", resigned.join(", ")));
        }
        if let Some(w) = why_not {
            s.push_str(&format!(": {w}"));
        }
        s
    }

    /// What would make someone a reader, as an instruction: `delegate X, Y or Z (or …)`,
    /// with the ER roles that also read it noted (they are registered, not delegated).
    fn options_text(&self, type_index: usize) -> String {
        let mt = &self.policies.message_types()[type_index];
        let rules = self.policies.grants();
        // Per resource: (delegable alternatives, ER-role alternatives), as text.
        let mut per_resource: Vec<Alternatives> = Vec::new();
        for clauses in self.policies.read_options(type_index) {
            let (mut delegable, mut registered) = (Vec::new(), Vec::new());
            for clause in clauses {
                if clause.iter().all(|g| matches!(g, Grant::Resource(_))) {
                    continue;
                }
                let mut er_role = false;
                let parts: Vec<String> = clause
                    .iter()
                    .map(|g| {
                        let g = match g {
                            Grant::RoleCode(c) => match rules.er_role_by_legacy(c) {
                                Some(r) => Grant::ExternalRole(r.ccr.clone()),
                                None => g.clone(),
                            },
                            _ => g.clone(),
                        };
                        er_role |= matches!(g, Grant::ExternalRole(_));
                        rules.describe(&g)
                    })
                    .collect();
                let text = if parts.len() == 1 {
                    parts[0].clone()
                } else {
                    format!("both {}", parts.join(" and "))
                };
                let list = if er_role {
                    &mut registered
                } else {
                    &mut delegable
                };
                if !list.contains(&text) {
                    list.push(text);
                }
            }
            per_resource.push((delegable, registered));
        }
        let in_all = |pick: fn(&Alternatives) -> &Vec<String>| -> Vec<String> {
            per_resource
                .first()
                .map(|first| {
                    pick(first)
                        .iter()
                        .filter(|t| per_resource.iter().all(|r| pick(r).contains(t)))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default()
        };
        let delegable = in_all(|r| &r.0);
        let registered = in_all(|r| &r.1);
        let resources: Vec<String> = mt.resources.iter().map(|r| format!("`{r}`")).collect();
        let direct = if resources.len() == 1 {
            format!("the resource {} itself", resources[0])
        } else {
            format!(
                "every resource ({}) directly to the same person",
                join_or(&resources, "and")
            )
        };
        let mut text = if delegable.is_empty() && per_resource.iter().all(|r| r.0.is_empty()) {
            format!("delegate {direct}")
        } else if !delegable.is_empty() {
            format!("delegate {}, or {direct}", join_or(&delegable, "or"))
        } else {
            let parts: Vec<String> = mt
                .resources
                .iter()
                .zip(&per_resource)
                .map(|(r, (delegable, _))| {
                    let mut alts = delegable.clone();
                    alts.push(format!("`{r}` itself"));
                    format!("for `{r}` {}", join_or(&alts, "or"))
                })
                .collect();
            format!(
                "delegate, {} (the same person needs all of them)",
                parts.join("; ")
            )
        };
        if !registered.is_empty() {
            text.push_str(&format!(
                " (holders of {} in Enhetsregisteret can read it too)",
                join_or(&registered, "or")
            ));
        }
        text
    }

    fn delegators_text(&self, people: &[Who<'_>], org: OrgNumber, opts: ExplainOptions) -> String {
        let mut names: Vec<String> = people
            .iter()
            .filter(|w| w.person.delegator && w.person.counts == Counts::Person)
            .map(|w| {
                let name = match (w.first().and_then(|h| h.name.as_deref()), opts.show_names) {
                    (Some(n), true) => n.to_owned(),
                    (Some(n), false) => mask_name(n),
                    (None, _) => "(no name)".to_owned(),
                };
                let inherited = w.refs.iter().all(|(_, _, inherited)| *inherited);
                let at = if inherited { " at the main unit" } else { "" };
                format!("the {} {name}{at}", self.role_label(w))
            })
            .collect();
        let more = names.len().saturating_sub(3);
        names.truncate(3);
        if names.is_empty() {
            return format!(
                "the Hovedadministrator of {} (by default the daglig leder or styrets leder)",
                self.label(org)
            );
        }
        let mut s = join_or(&names, "or");
        if more > 0 {
            s.push_str(&format!(" (or {} more who can delegate)", more));
        }
        s.push_str(&format!(" at {}", self.label(org)));
        s
    }

    /// Delegations of the message type's resources whose rights grant no `read` (rule
    /// 10), as (resource, who, the actions granted).
    fn delegations_without_read(
        &self,
        people: &[Who<'_>],
        mt: &MessageType,
    ) -> Vec<(ResourceId, String, String)> {
        let mut out = Vec::new();
        for w in people {
            for (org, h, _) in &w.refs {
                let (Some(party), Some(ev)) = (&h.party, self.snapshot.unit(*org)) else {
                    continue;
                };
                for g in &h.grants {
                    let Grant::Resource(r) = g else { continue };
                    if !mt.resources.contains(r) {
                        continue;
                    }
                    if let Some(Observed::Present(rights)) = ev
                        .resource_rights
                        .get(&(r.clone(), std::sync::Arc::clone(party)))
                        && !rights.reads()
                    {
                        let actions: Vec<String> =
                            rights.actions.iter().map(|a| format!("`{a}`")).collect();
                        let actions = if actions.is_empty() {
                            "no action".to_owned()
                        } else {
                            join_or(&actions, "and")
                        };
                        out.push((
                            r.clone(),
                            self.who_label(w, ExplainOptions::default()),
                            actions,
                        ));
                    }
                }
            }
        }
        out
    }

    /// Grants held in another case than a policy's exact (`string-equal`) value (rule
    /// 12), as evidence lines.
    fn case_only_matches(&self, people: &[Who<'_>], type_index: usize) -> Vec<String> {
        let table = self.policies.atoms();
        if !table.has_exact() {
            return Vec::new();
        }
        let compiled = self.policies.compiled(type_index);
        let mut out: Vec<String> = Vec::new();
        for r in &compiled.resources {
            for clause in r.permit.iter() {
                for &a in clause {
                    let Some(wanted) = table.spelling(a) else {
                        continue;
                    };
                    let grant = table.grant(a);
                    let Some(folded) = table.get(grant) else {
                        continue;
                    };
                    for w in people {
                        if w.person.atoms.contains(folded) && !w.person.atoms.contains(a) {
                            let held: Vec<String> = w
                                .refs
                                .iter()
                                .flat_map(|(_, h, _)| &h.grants)
                                .filter(|g| *g == grant)
                                .map(|g| format!("`{}`", g.spelled()))
                                .collect();
                            let held = if held.is_empty() {
                                format!("`{}` (as `altinn-grants.toml` spells it)", grant.spelled())
                            } else {
                                join_or(&held, "and")
                            };
                            let line = format!(
                                "the policy compares `{wanted}` exactly; {} holds it as {held}",
                                self.who_label(w, ExplainOptions::default())
                            );
                            if !out.contains(&line) {
                                out.push(line);
                            }
                        }
                    }
                }
            }
        }
        out
    }

    fn notification_evidence(&self, orgs: &[OrgNumber]) -> Vec<String> {
        orgs.iter()
            .map(|&org| {
                let obs = self.snapshot.unit(org).map(|e| &e.notification_addresses);
                match obs {
                    Some(Observed::Present(n)) => format!(
                        "notification addresses of {org}: {}",
                        plural(*n, "usable address", "usable addresses")
                    ),
                    Some(Observed::Failed(f)) => format!("notification addresses of {org}: {f}"),
                    _ => format!("notification addresses of {org}: no data"),
                }
            })
            .collect()
    }

    /// Puts a route's judgement into words.
    pub fn explain(
        &self,
        route: &Route,
        a: &Assessment,
        now: Timestamp,
        opts: ExplainOptions,
    ) -> Explanation {
        let recipient = route.recipient;
        let recipient_name = self.unit_name(recipient);
        let Some(type_index) = self.policies.message_type_index(&route.message_type) else {
            return Explanation {
                recipient_name,
                readers: Vec::new(),
                findings: Vec::new(),
            };
        };
        let mt = &self.policies.message_types()[type_index];
        let title = format!("{} (`{}`)", mt.title, mt.id);
        let label = self.label(recipient);
        let people = self.people(recipient, a.main_unit);
        let compiled = self.policies.compiled(type_index);
        let counted = |w: &Who<'_>| match w.person.counts {
            Counts::Person => true,
            Counts::SystemUser => mt.count_system_users,
            Counts::Never => false,
        };
        let readers: Vec<&Who<'_>> = people
            .iter()
            .filter(|w| {
                counted(w)
                    && super::standing(compiled, &w.person.atoms, &w.person.maybe)
                        == super::Standing::Reader
            })
            .collect();
        let mut reader_lines: Vec<String> = readers
            .iter()
            .take(MAX_LISTED)
            .map(|w| self.reader_line(type_index, w, opts))
            .collect();
        if readers.len() > MAX_LISTED {
            reader_lines.push(format!("… and {} more", readers.len() - MAX_LISTED));
        }
        let unit_evidence = self.snapshot.unit(recipient);
        let main_of_record = unit_evidence
            .and_then(|e| e.unit.present())
            .and_then(|u| u.main_unit);
        let delegators = self.delegators_text(&people, recipient, opts);
        let fallback = mt
            .fallback
            .as_deref()
            .map(|f| format!(" Until then, the sender's fallback applies: {f}"))
            .unwrap_or_default();

        let not_readers = || -> Vec<String> {
            let mut lines: Vec<String> = people
                .iter()
                .filter(|w| {
                    !(counted(w)
                        && super::standing(compiled, &w.person.atoms, &w.person.maybe)
                            == super::Standing::Reader)
                })
                .take(MAX_LISTED)
                .map(|w| self.holdings_line(w, mt, opts))
                .collect();
            let others = people.len().saturating_sub(readers.len());
            if others > MAX_LISTED {
                lines.push(format!("… and {} more", others - MAX_LISTED));
            }
            lines
        };
        let sources = || -> String {
            let describe = |org: OrgNumber, inherited: bool| {
                let d = self.digests.get(&org);
                let what = match d.and_then(|d| d.source) {
                    Some(HolderSource::Connections) => "Altinn connections",
                    Some(HolderSource::Enhetsregisteret) => "Enhetsregisteret key roles only",
                    None => "no rightholder data",
                };
                let n = d.map_or(0, |d| d.persons.len());
                let role = if inherited { "main unit " } else { "" };
                format!(
                    "{role}{org}: {what} ({})",
                    plural(
                        u32::try_from(n).unwrap_or(u32::MAX),
                        "rightholder",
                        "rightholders"
                    )
                )
            };
            std::iter::once(describe(recipient, false))
                .chain(a.main_unit.map(|m| describe(m, true)))
                .collect::<Vec<_>>()
                .join("; ")
        };

        let findings = a
            .findings
            .iter()
            .map(|f| {
                let (message, remediation, evidence) = match f {
                    Finding::RecipientDeleted { on } => (
                        format!(
                            "{label} is deleted in Enhetsregisteret{}, so nobody there can read {title}.",
                            on.map(|d| format!(" (since {d})")).unwrap_or_default()
                        ),
                        format!(
                            "Remove or update the route: send to the organisation that took over {recipient}'s tasks (after a merger, the new municipality) and correct the routing table.{fallback}"
                        ),
                        vec![format!(
                            "Enhetsregisteret: {recipient} has slettedato {}",
                            on.map(|d| d.to_string()).unwrap_or_else(|| "(set)".into())
                        )],
                    ),
                    Finding::NoData { no_record: true, .. } => (
                        format!(
                            "Enhetsregisteret has no record of {recipient}, so whether anyone can read {title} there is unknown."
                        ),
                        format!(
                            "Check the organisation number {recipient} in the routing table against Enhetsregisteret (https://data.brreg.no/enhetsregisteret/oppslag/enheter/{recipient}) and correct it, or gather its record in the next sweep.{fallback}"
                        ),
                        vec![format!("Enhetsregisteret: no record of {recipient} in {}", self.snapshot.origin)],
                    ),
                    Finding::NoData {
                        recipient_connections: false,
                        main_unit_connections: None,
                        gaps: Some(gaps),
                        ..
                    } => {
                        let what: Vec<String> = gaps.iter().map(|g| gap_text(g).0).collect();
                        let mut evidence: Vec<String> = gaps
                            .iter()
                            .map(|g| {
                                let (what, at) = gap_text(g);
                                format!("missing: {what}, at {at}")
                            })
                            .collect();
                        evidence.push(sources());
                        evidence.extend(not_readers());
                        (
                            format!(
                                "Whether anyone at {label} can read {title} is not proven: {} {} missing.",
                                join_or(&what, "and"),
                                if what.len() == 1 { "is" } else { "are" }
                            ),
                            format!(
                                "Gather the missing evidence in the next sweep (or record it in the snapshot): {}.{fallback}",
                                gaps.iter().map(|g| gap_text(g).1).collect::<Vec<_>>().join("; ")
                            ),
                            evidence,
                        )
                    }
                    Finding::NoData {
                        recipient_connections,
                        main_unit_connections,
                        ..
                    } => {
                        let mut missing = Vec::new();
                        if *recipient_connections {
                            missing.push(format!("{recipient}"));
                        }
                        if let Some(m) = main_unit_connections {
                            missing.push(format!("its main unit {m}"));
                        }
                        let missing = join_or(&missing, "and");
                        let mut evidence = vec![sources(), format!("Altinn connections: missing for {missing}")];
                        evidence.extend(not_readers());
                        (
                            format!(
                                "Nobody is proven able to read {title} at {label}: Altinn connections are missing for {missing}, so a delegation only connections would show may exist."
                            ),
                            format!(
                                "Ask {delegators} to approve reachcheck's system user in Altinn, so that delegations can be verified, and to make sure at least {} can read it: {}.{fallback}",
                                plural(mt.min_readers, "person", "persons"),
                                self.options_text(type_index)
                            ),
                            evidence,
                        )
                    }
                    Finding::NoReader => {
                        let mut evidence = vec![sources()];
                        evidence.extend(not_readers());
                        let short = self.delegations_without_read(&people, mt);
                        let read_too = if short.is_empty() {
                            String::new()
                        } else {
                            // One sentence per person: the resources and what they grant.
                            let mut by_who: Vec<(&str, &str, Vec<String>)> = Vec::new();
                            for (resource, who, actions) in &short {
                                match by_who.iter_mut().find(|(w, a, _)| w == who && a == actions) {
                                    Some((_, _, rs)) => rs.push(format!("`{resource}`")),
                                    None => by_who.push((who, actions, vec![format!("`{resource}`")])),
                                }
                            }
                            let what: Vec<String> = by_who
                                .iter()
                                .map(|(who, actions, rs)| {
                                    let (the, grant) = if rs.len() == 1 {
                                        ("the delegation", "grants")
                                    } else {
                                        ("the delegations", "grant")
                                    };
                                    format!("{the} of {} to {who} {grant} only {actions}", join_or(rs, "and"))
                                })
                                .collect();
                            format!(
                                " {}: delegate `read`, not only `write` (Altinn: «Tilgangsstyring» → the person → the service → «Les»); or",
                                join_or(&what, "and")
                            )
                        };
                        (
                            format!(
                                "Nobody at {label} can read {title}: complete Altinn connections show no person with read access to {}.",
                                join_or(&mt.resources.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>(), "and")
                            ),
                            format!(
                                "{} can fix this in Altinn («Tilgangsstyring»):{read_too} {}, to at least {} who {} these messages.{fallback}",
                                capitalise(&delegators),
                                self.options_text(type_index),
                                plural(mt.min_readers, "person", "people"),
                                if mt.min_readers == 1 { "handles" } else { "handle" }
                            ),
                            evidence,
                        )
                    }
                    Finding::TooFewReaders { readers: n, min } => (
                        format!(
                            "Only {} at {label} can read {title}; at least {min} are required.",
                            plural(*n, "person", "persons")
                        ),
                        format!(
                            "Ask {delegators} to {}, to {}, so that messages are read when someone is away.",
                            self.options_text(type_index),
                            plural(min.saturating_sub(*n), "more person", "more people")
                        ),
                        reader_lines.clone(),
                    ),
                    Finding::NoNotificationAddress => {
                        let orgs: Vec<OrgNumber> = std::iter::once(recipient).chain(main_of_record).collect();
                        let who = if main_of_record.is_some() {
                            format!("Neither {label} nor its main unit has a notification address")
                        } else {
                            format!("{label} has no notification address")
                        };
                        (
                            format!("{who}, so nobody is told when {title} arrives."),
                            format!(
                                "Ask {delegators} to register a notification address (e-mail or mobile number) for the organisation in Altinn («Profil» → «Varslingsadresser for virksomheten»)."
                            ),
                            self.notification_evidence(&orgs),
                        )
                    }
                    Finding::NotificationUnknown { missing } => {
                        let orgs: Vec<OrgNumber> = std::iter::once(recipient).chain(main_of_record).collect();
                        (
                            format!(
                                "No notification address is known for {label}, and the notification-address data of {missing} is missing, so whether anyone is told when {title} arrives is unknown."
                            ),
                            format!("Gather the notification addresses of {missing} (Altinn profile) in the next sweep."),
                            self.notification_evidence(&orgs),
                        )
                    }
                    Finding::StaleData { observed_at, max_age } => (
                        format!(
                            "The evidence is from {observed_at}, {} before {now}, older than the allowed {}, so it proves nothing now.",
                            age(now.duration_since(*observed_at)),
                            age(*max_age)
                        ),
                        "Run a new sweep (or record a new snapshot) so the evidence is fresh; raise `max_data_age` only if the sources really change that slowly.".to_owned(),
                        vec![format!("evidence from {} taken at {observed_at}", self.snapshot.origin)],
                    ),
                    Finding::SourceError(failure) => match failure.unit {
                        Some(unit) => (
                            format!(
                                "The {} of {unit} could not be used ({}), so the route cannot be judged.",
                                failure.source, failure.reason
                            ),
                            format!(
                                "Fix or re-record `{}`; until then, routes to {unit} stay unknown.{fallback}",
                                failure.location
                            ),
                            vec![failure.to_string()],
                        ),
                        None => (
                            format!(
                                "The {} at `{}` could not be used ({}), so who can read {title} is not known.",
                                failure.source, failure.location, failure.reason
                            ),
                            format!(
                                "Check that Altinn's resource registry answers for `{}`; until then, every route of this message type stays unknown.{fallback}",
                                failure.location
                            ),
                            vec![failure.to_string()],
                        ),
                    },
                    Finding::NotAuthorized { unit, approval_link } => (
                        format!(
                            "{} has not approved reachcheck's system user, so who holds access there cannot be seen.",
                            self.label(*unit)
                        ),
                        match approval_link {
                            Some(link) => format!(
                                "Ask the Hovedadministrator (or a holder of Tilgangsstyrer) at {} to approve reachcheck's system-user request with {}'s own link: {link}",
                                self.label(*unit),
                                unit
                            ),
                            None => format!(
                                "Ask the Hovedadministrator (or a holder of Tilgangsstyrer) at {} to approve reachcheck's system-user request in Altinn (Profile → Access management → System access), with the package that lets it read the organisation's connections.",
                                self.label(*unit)
                            ),
                        },
                        std::iter::once(format!("{unit} is not among the authorized parties of reachcheck's system user"))
                            .chain(approval_link.iter().map(|l| format!("approval link of {unit}: {l}")))
                            .collect(),
                    ),
                    Finding::PolicyDrift(d) => (
                        format!(
                            "Altinn's policy for `{}` grants read differently from the local copy; the route was judged by Altinn's.",
                            d.resource
                        ),
                        format!(
                            "Update `{}` from `{}` (or tell the resource owner, if Altinn's policy is wrong).",
                            self.policies.policy_file(&d.resource).display(),
                            d.location
                        ),
                        d.added
                            .iter()
                            .map(|g| format!("reads under Altinn's policy only: {g}"))
                            .chain(d.removed.iter().map(|g| format!("reads under the local copy only: {g}")))
                            .collect(),
                    ),
                    Finding::NotSwept => (
                        format!(
                            "The route to {label} was not in the last sweep, so nothing is known about who can read {title} there."
                        ),
                        format!("Add the route to the routing table; the next sweep judges it.{fallback}"),
                        Vec::new(),
                    ),
                    Finding::PolicyIndeterminate { resource } => {
                        let cases = self.case_only_matches(&people, type_index);
                        if cases.is_empty() {
                            (
                                format!(
                                    "A rule in the policy of `{resource}` needs something reachcheck cannot evaluate, so whether anyone at {label} can read {title} is uncertain."
                                ),
                                format!(
                                    "Review `{}` (run `reachcheck validate` for the rule and its line); rules on role codes, ER roles and access packages can be evaluated.",
                                    self.policies.policy_file(resource).display()
                                ),
                                not_readers(),
                            )
                        } else {
                            let mut evidence = cases.clone();
                            evidence.extend(not_readers());
                            (
                                format!(
                                    "The policy of {title} compares a grant exactly (`string-equal`) and the grant at {label} matches it only when case is ignored, so whether Altinn lets anyone read is uncertain (docs/design.md, rule 12)."
                                ),
                                format!(
                                    "Ask the resource owner to compare the value with `string-equal-ignore-case`, or to write it in the case Altinn gives the grant; until then, delegate a grant the policy matches exactly.{fallback}"
                                ),
                                evidence,
                            )
                        }
                    }
                    Finding::NotOnAccessList(g) => {
                        let owner = g
                            .owner
                            .as_deref()
                            .map(|o| format!("the resource owner (`{o}`)"))
                            .unwrap_or_else(|| "the resource owner".to_owned());
                        let lists: Vec<String> = g.lists.iter().map(|l| format!("`{l}`")).collect();
                        let ask = if lists.is_empty() {
                            format!(
                                "Ask {owner} to bind an access list that allows `read` to `{}` and add {recipient} to it",
                                g.resource
                            )
                        } else {
                            format!(
                                "Ask {owner} to add {recipient} to access list {}",
                                join_or(&lists, "or")
                            )
                        };
                        let mut evidence = vec![
                            format!("resource `{}`: `accessListMode` is `Enabled`", g.resource),
                            if lists.is_empty() {
                                "no access list bound to it allows `read`".to_owned()
                            } else {
                                format!(
                                    "access lists bound to it that allow `read`: {}; {recipient} is a member of none",
                                    lists.join(", ")
                                )
                            },
                        ];
                        evidence.extend(reader_lines.iter().cloned());
                        (
                            format!(
                                "{label} is on no access list that lets it read `{}`, so Altinn denies every reader there, whoever holds the rights.",
                                g.resource
                            ),
                            format!(
                                "{ask} (Altinn Studio → the resource → «Tilgangslister»); delegations at {recipient} cannot fix this.{fallback}"
                            ),
                            evidence,
                        )
                    }
                    Finding::EvidenceInconsistent {
                        unit,
                        key_role_holders,
                    } => {
                        let mut evidence = vec![
                            format!("Altinn connections of {unit}: no person listed"),
                            format!(
                                "Enhetsregisteret roles of {unit}: {}",
                                plural(*key_role_holders, "living key-role holder", "living key-role holders")
                            ),
                            sources(),
                        ];
                        evidence.extend(not_readers());
                        (
                            format!(
                                "Altinn connections of {} list no person, while Enhetsregisteret names {}, whom Altinn always lists: the connections are not complete evidence, so whether anyone at {label} can read {title} is unknown.",
                                self.label(*unit),
                                plural(*key_role_holders, "living key-role holder", "living key-role holders")
                            ),
                            format!(
                                "Gather the connections of {unit} again (the party UUID used may be stale, or the system user's access not in place yet); if they stay empty, ask Altinn user support why the key-role holders are missing.{fallback}"
                            ),
                            evidence,
                        )
                    }
                    Finding::NotificationUnverified { unit } => {
                        let orgs: Vec<OrgNumber> = std::iter::once(recipient).chain(main_of_record).collect();
                        (
                            format!(
                                "reachcheck may not read the notification addresses of {} (Altinn refused), so whether anyone is told when {title} arrives is not verified.",
                                self.label(*unit)
                            ),
                            format!(
                                "Ask {delegators} to check that the organisation has a notification address in Altinn («Profil» → «Varslingsadresser for virksomheten»); Altinn's profile answers only the organisation's own users."
                            ),
                            self.notification_evidence(&orgs),
                        )
                    }
                    Finding::ResourceNotInAltinn { resource, location } => (
                        format!(
                            "Altinn has no resource `{resource}` (it answered 404 at `{location}`), so whether anyone at {label} can read {title} cannot be judged."
                        ),
                        format!(
                            "Check `{resource}` in `message-types.toml` against the resource registry of this Altinn environment (test or production); until it exists there, routes of this message type stay unknown.{fallback}"
                        ),
                        vec![format!("{location}: HTTP 404")],
                    ),
                };
                ExplainedFinding {
                    code: f.code(),
                    severity: f.severity(),
                    message,
                    remediation,
                    evidence,
                }
            })
            .collect();
        Explanation {
            recipient_name,
            readers: reader_lines,
            findings,
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
