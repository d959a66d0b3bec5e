//! Units digested for evaluation: each unit's rightholder evidence grouped into persons,
//! with the grants that matter to some policy as a bit set. Built once per snapshot.

use std::hash::{Hash, Hasher};

use jiff::civil::Date;
use rustc_hash::{FxHashMap, FxHasher};
use smallvec::SmallVec;

use std::sync::Arc;

use crate::evidence::{DelegatedRights, Observed, UnitEvidence};
use crate::model::{EntityKind, Grant, HolderSource, ResourceId, Rightholder};
use crate::policy::{AtomSet, Policies, Provenance};

/// Whether, and as what, a person can count as a reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counts {
    /// A person (or self-identified person): counts.
    Person,
    /// A system user: counts only where the message type says so.
    SystemUser,
    /// Never counts: an organisation, an enterprise user, deceased, deleted, unknown kind.
    Never,
}

/// How a person is identified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Namespace {
    /// By Altinn party UUID.
    Party,
    /// By name and birth date (Enhetsregisteret, or a connection without a party id).
    Name,
}

/// One person (or system user, or organisation) at one unit, with all their grants there.
#[derive(Clone, Debug)]
pub(crate) struct Person {
    pub(crate) key: u64,
    pub(crate) namespace: Namespace,
    pub(crate) name_key: u64,
    pub(crate) birth: Option<Date>,
    pub(crate) counts: Counts,
    pub(crate) atoms: AtomSet,
    /// Grants the person may hold but the evidence does not prove: a resource delegation
    /// whose rights answer is missing or failed (rule 10).
    pub(crate) maybe: AtomSet,
    pub(crate) delegator: bool,
    /// Indices into the unit's holder list (connections or roles) that make up this person.
    pub(crate) holders: SmallVec<[u32; 1]>,
}

impl Person {
    /// Whether `other` is the same person (docs/design.md, rule 5: distinct persons): the same
    /// party id, or the same name (and birth date where both have one) across a party-id
    /// and a name-identified source.
    pub(crate) fn same_as(&self, other: &Person) -> bool {
        if self.namespace == other.namespace {
            return self.key == other.key;
        }
        self.name_key != 0
            && self.name_key == other.name_key
            && match (self.birth, other.birth) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }

    /// Takes in `other`'s grants and standing.
    pub(crate) fn merge(&mut self, other: &Person) {
        self.atoms.union_with(&other.atoms);
        self.maybe.union_with(&other.maybe);
        self.delegator |= other.delegator;
        self.counts = match (self.counts, other.counts) {
            (Counts::Never, _) | (_, Counts::Never) => Counts::Never,
            (Counts::Person, _) | (_, Counts::Person) => Counts::Person,
            _ => Counts::SystemUser,
        };
    }
}

/// A unit's rightholder evidence, digested.
#[derive(Clone, Debug, Default)]
pub(crate) struct UnitDigest {
    /// Connections are present and consistent: the list is complete.
    pub(crate) complete: bool,
    /// Connections are present.
    pub(crate) connections: bool,
    /// Connections name no living person while Enhetsregisteret names this many living
    /// key-role holders (rule 13): the list is not complete.
    pub(crate) inconsistent: Option<u32>,
    /// Resource delegations whose rights answer is missing or failed (rule 10).
    pub(crate) rights_gaps: Vec<crate::model::Gap>,
    /// Which list the persons come from (`None` when neither connections nor roles).
    pub(crate) source: Option<HolderSource>,
    /// The persons, distinct within the unit.
    pub(crate) persons: Vec<Person>,
}

fn hash_of(parts: &[&str]) -> u64 {
    let mut h = FxHasher::default();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish().max(1)
}

/// Upper-case name words in sorted order, so `NORDMANN KARI` and `Kari Nordmann` agree.
fn name_key(name: Option<&str>) -> u64 {
    let Some(name) = name else { return 0 };
    let mut words: Vec<String> = name.split_whitespace().map(str::to_uppercase).collect();
    if words.is_empty() {
        return 0;
    }
    words.sort();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    hash_of(&words)
}

/// What each resource delegation at a unit grants, by (resource, party).
type Rights = FxHashMap<(ResourceId, Arc<str>), Observed<DelegatedRights>>;

fn person_of(index: usize, h: &Rightholder, policies: &Policies, rights: &Rights) -> Person {
    let counts = if h.deceased || h.deleted {
        Counts::Never
    } else {
        match h.kind {
            EntityKind::Person | EntityKind::SelfIdentified => Counts::Person,
            EntityKind::SystemUser => Counts::SystemUser,
            _ => Counts::Never,
        }
    };
    let name_key = name_key(h.name.as_deref());
    let (namespace, key) = match &h.party {
        Some(p) if !p.is_empty() => (Namespace::Party, hash_of(&["party", p])),
        _ => {
            let birth = h.birth_date.map(|d| d.to_string()).unwrap_or_default();
            let kind = h.kind.to_string();
            (
                Namespace::Name,
                hash_of(&["name", &name_key.to_string(), &birth, &kind]),
            )
        }
    };
    let mut atoms = AtomSet::default();
    let mut maybe = AtomSet::default();
    let table = policies.atoms();
    let exact = table.has_exact();
    for g in &h.grants {
        policies.grants().expand(g, |d, provenance| {
            let Some(a) = table.get(&d) else {
                return;
            };
            if let Grant::Resource(resource) = &d {
                // Rule 10: a delegation reads only if its rights answer says `read`.
                let answer = h
                    .party
                    .as_ref()
                    .and_then(|p| rights.get(&(resource.clone(), Arc::clone(p))));
                match answer {
                    Some(Observed::Present(r)) if r.reads() => atoms.insert(a),
                    Some(Observed::Present(_)) => {}
                    _ => maybe.insert(a),
                }
                return;
            }
            atoms.insert(a);
            // Rule 12: a grant the evidence lists is compared in its spelling; one
            // reachcheck derives, in the spelling `altinn-grants.toml` records, unless
            // the evidence lists it too.
            if exact
                && (matches!(provenance, Provenance::Listed) || !h.grants.contains(&d))
                && let Some(e) = table.get_exact(&d, d.spelled())
            {
                atoms.insert(e);
            }
        });
    }
    let delegator = atoms.intersects(policies.delegator_atoms());
    Person {
        key,
        namespace,
        name_key,
        birth: h.birth_date,
        counts,
        atoms,
        maybe,
        delegator,
        holders: SmallVec::from_elem(u32::try_from(index).unwrap_or(u32::MAX), 1),
    }
}

/// Adds `p` to `persons`, merging it into the same person if present.
pub(crate) fn add_person(persons: &mut Vec<Person>, p: Person) {
    if let Some(same) = persons.iter_mut().find(|q| q.same_as(&p)) {
        same.merge(&p);
        same.holders.extend(p.holders.iter().copied());
    } else {
        persons.push(p);
    }
}

impl UnitDigest {
    /// Digests a unit: its connections when present, otherwise its Enhetsregisteret
    /// role holders (docs/design.md, rule 3).
    pub(crate) fn of(ev: &UnitEvidence, policies: &Policies) -> UnitDigest {
        let (list, source, connections) = match (&ev.connections, &ev.roles) {
            (Observed::Present(h), _) => (h.as_slice(), Some(HolderSource::Connections), true),
            (_, Observed::Present(h)) => {
                (h.as_slice(), Some(HolderSource::Enhetsregisteret), false)
            }
            _ => (&[][..], None, false),
        };
        let mut persons: Vec<Person> = Vec::with_capacity(list.len());
        // Party ids are looked up by hash so that a unit with hundreds of rightholders
        // digests in linear time; name-identified entries (rare in connections) are
        // compared with everyone.
        let mut by_party: FxHashMap<u64, usize> = FxHashMap::default();
        let mut named: Vec<usize> = Vec::new();
        for (i, h) in list.iter().enumerate() {
            let p = person_of(i, h, policies, &ev.resource_rights);
            let found = match p.namespace {
                Namespace::Party => by_party
                    .get(&p.key)
                    .copied()
                    .or_else(|| named.iter().copied().find(|&j| persons[j].same_as(&p))),
                Namespace::Name => persons.iter().position(|q| q.same_as(&p)),
            };
            match found {
                Some(j) => {
                    persons[j].merge(&p);
                    persons[j].holders.extend(p.holders.iter().copied());
                }
                None => {
                    match p.namespace {
                        Namespace::Party => by_party.insert(p.key, persons.len()),
                        Namespace::Name => {
                            named.push(persons.len());
                            None
                        }
                    };
                    persons.push(p);
                }
            }
        }
        // Rule 13: Altinn's connections always list the unit's key-role holders.
        let inconsistent = if connections && !persons.iter().any(|p| p.counts == Counts::Person) {
            let holders = living_key_role_holders(ev, policies);
            (holders > 0).then_some(holders)
        } else {
            None
        };
        let rights_gaps = if connections {
            crate::evidence::delegations(list)
                .into_iter()
                .filter(|key| !matches!(ev.resource_rights.get(key), Some(Observed::Present(_))))
                .map(|(resource, party)| crate::model::Gap {
                    source: crate::model::SourceKind::ResourceRights,
                    unit: Some(ev.org),
                    resource: Some(resource),
                    party: Some(party),
                    list: None,
                })
                .collect()
        } else {
            Vec::new()
        };
        UnitDigest {
            complete: connections && inconsistent.is_none(),
            connections,
            inconsistent,
            rights_gaps,
            source,
            persons,
        }
    }

    /// The holder list the persons index into.
    pub(crate) fn holders<'a>(&self, ev: &'a UnitEvidence) -> &'a [Rightholder] {
        match (self.source, &ev.connections, &ev.roles) {
            (Some(HolderSource::Connections), Observed::Present(h), _) => h,
            (Some(HolderSource::Enhetsregisteret), _, Observed::Present(h)) => h,
            _ => &[],
        }
    }
}

/// Living persons Enhetsregisteret names in a key role of `ev` (none when its roles are
/// not known).
fn living_key_role_holders(ev: &UnitEvidence, policies: &Policies) -> u32 {
    let Observed::Present(roles) = &ev.roles else {
        return 0;
    };
    let n = roles
        .iter()
        .filter(|h| h.kind.is_person() && !h.deceased && !h.deleted)
        .filter(|h| h.grants.iter().any(|g| policies.grants().is_key_role(g)))
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_keys_ignore_order_and_case() {
        assert_eq!(
            name_key(Some("Kari Nordmann")),
            name_key(Some("NORDMANN  kari"))
        );
        assert_ne!(
            name_key(Some("Kari Nordmann")),
            name_key(Some("Kari O Nordmann"))
        );
        assert_eq!(name_key(None), 0);
        assert_eq!(name_key(Some(" ")), 0);
    }
}
