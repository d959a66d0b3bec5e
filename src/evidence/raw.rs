//! The real APIs' JSON shapes (`Raw…`), and their conversion into checked domain types.
//! These structs exist only at this boundary.
//!
//! Fields reachcheck must never keep are simply not declared: serde skips them, so a
//! `personIdentifier` in a connections payload is never read into memory as a field.

use std::sync::Arc;

use jiff::civil::Date;
use serde::Deserialize;

use crate::model::{
    EntityKind, Grant, HolderSource, OrgNumber, Register, ResourceId, Rightholder, Unit,
};

/// Why a payload cannot be used.
pub(crate) type Reason = String;

/// `{"kode": "...", "beskrivelse": "..."}`.
#[derive(Deserialize)]
pub(crate) struct RawKode {
    kode: String,
}

/// A Brreg unit (`/enheter/{orgnr}` or `/underenheter/{orgnr}`); deleted units carry only
/// `organisasjonsnummer`, `slettedato` and `_links`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawBrregUnit {
    organisasjonsnummer: String,
    navn: Option<String>,
    organisasjonsform: Option<RawKode>,
    overordnet_enhet: Option<String>,
    slettedato: Option<String>,
}

/// Brreg roles (`/enheter/{orgnr}/roller`).
#[derive(Deserialize)]
pub(crate) struct RawRoller {
    rollegrupper: Vec<RawRollegruppe>,
}

#[derive(Deserialize)]
struct RawRollegruppe {
    #[serde(default)]
    roller: Vec<RawRolle>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRolle {
    #[serde(rename = "type")]
    kind: RawKode,
    person: Option<RawPerson>,
    enhet: Option<RawRolleEnhet>,
    #[serde(default)]
    fratraadt: Option<bool>,
    #[serde(default)]
    avregistrert: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPerson {
    fodselsdato: Option<String>,
    navn: Option<RawNavn>,
    #[serde(default)]
    er_doed: Option<bool>,
}

#[derive(Deserialize)]
struct RawNavn {
    fornavn: Option<String>,
    mellomnavn: Option<String>,
    etternavn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRolleEnhet {
    organisasjonsnummer: Option<String>,
    navn: Option<serde_json::Value>,
}

/// Altinn connections (`/accessmanagement/api/v1/enduser/connections`):
/// `{"links": {"next": ...}, "data": [ConnectionDto...]}`.
#[derive(Deserialize)]
pub(crate) struct RawConnections {
    #[serde(default)]
    links: Option<RawLinks>,
    data: Vec<RawConnection>,
}

/// `{"next": url-or-null}`.
#[derive(Deserialize, Default)]
pub(crate) struct RawLinks {
    #[serde(default)]
    pub(crate) next: Option<String>,
}

/// `ConnectionDto`.
#[derive(Deserialize)]
pub(crate) struct RawConnection {
    party: RawParty,
    #[serde(default)]
    roles: Option<Vec<RawRole>>,
    #[serde(default)]
    packages: Option<Vec<RawPackage>>,
    #[serde(default)]
    resources: Option<Vec<RawResource>>,
    #[serde(default)]
    connections: Option<Vec<RawConnection>>,
}

/// `CompactEntityDto` (only what reachcheck reads; `personIdentifier` is not declared).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawParty {
    id: Option<String>,
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    date_of_birth: Option<String>,
    date_of_death: Option<String>,
    #[serde(default)]
    is_deleted: Option<bool>,
}

/// `CompactRoleDto`; Altinn's JSON name for the legacy URN has a trailing space.
#[derive(Deserialize)]
struct RawRole {
    code: Option<String>,
    urn: Option<String>,
    #[serde(rename = "legacyurn ", alias = "legacyurn", alias = "legacyUrn")]
    legacy_urn: Option<String>,
}

#[derive(Deserialize)]
struct RawPackage {
    urn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawResource {
    ref_id: Option<String>,
}

/// Altinn profile notification addresses of an organisation.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawNotificationAddresses {
    organization_number: Option<String>,
    notification_addresses: Vec<RawNotificationAddress>,
}

#[derive(Deserialize)]
struct RawNotificationAddress {
    email: Option<String>,
    phone: Option<String>,
}

/// `ExternalResourceRightDto`: what one party may do with one resource at a unit
/// (`/accessmanagement/api/v1/enduser/connections/resources/rights`). Both lists are
/// required: an answer without them says nothing about the actions.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawResourceRights {
    #[serde(default)]
    resource: Option<RawRightsResource>,
    direct_rights: Vec<RawRightPermission>,
    indirect_rights: Vec<RawRightPermission>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRightsResource {
    ref_id: Option<String>,
}

/// `RightPermission`: one action on the resource, and why the party has it.
#[derive(Deserialize)]
struct RawRightPermission {
    right: RawRight,
}

#[derive(Deserialize)]
struct RawRight {
    action: RawAttribute,
}

/// `AttributeDto`: `{"type": ..., "value": ...}`.
#[derive(Deserialize)]
struct RawAttribute {
    value: String,
}

impl RawResourceRights {
    /// The actions granted, direct and indirect together; refuses an answer about
    /// another resource.
    pub(crate) fn into_rights(
        self,
        resource: &ResourceId,
    ) -> Result<super::DelegatedRights, Reason> {
        if let Some(r) = self.resource.and_then(|r| r.ref_id)
            && r.trim() != resource.as_str()
        {
            return Err(format!(
                "the answer is about resource `{}`, not `{resource}`",
                r.trim()
            ));
        }
        let mut actions: Vec<Arc<str>> = Vec::new();
        for p in self.direct_rights.into_iter().chain(self.indirect_rights) {
            let a = p.right.action.value.trim();
            if !actions.iter().any(|x| &**x == a) {
                actions.push(Arc::from(a));
            }
        }
        Ok(super::DelegatedRights { actions })
    }
}

/// `ServiceResource` from `/resourceregistry/api/v1/resource/{id}`, only what reading
/// needs. `accessListMode` is required: without it the gate is not known.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawServiceResource {
    identifier: String,
    access_list_mode: String,
    #[serde(default)]
    has_competent_authority: Option<RawCompetentAuthority>,
}

#[derive(Deserialize)]
struct RawCompetentAuthority {
    #[serde(default)]
    organization: Option<String>,
    #[serde(default)]
    orgcode: Option<String>,
}

impl RawServiceResource {
    /// The checked entry; refuses an entry about another resource or an unknown mode.
    pub(crate) fn into_meta(self, resource: &ResourceId) -> Result<super::ResourceMeta, Reason> {
        if self.identifier.trim() != resource.as_str() {
            return Err(format!(
                "the entry is about resource `{}`, not `{resource}`",
                self.identifier.trim()
            ));
        }
        let access_list_mode = match self.access_list_mode.trim() {
            m if m.eq_ignore_ascii_case("Disabled") => super::AccessListMode::Disabled,
            m if m.eq_ignore_ascii_case("Enabled") => super::AccessListMode::Enabled,
            m => {
                return Err(format!(
                    "`accessListMode` is `{m}`: expected `Disabled` or `Enabled`"
                ));
            }
        };
        let authority = self.has_competent_authority;
        let owner_org = match authority.as_ref().and_then(|a| a.organization.as_deref()) {
            None => None,
            Some(o) if o.trim().is_empty() => None,
            Some(o) => Some(
                OrgNumber::parse(o)
                    .map_err(|e| format!("`hasCompetentAuthority.organization`: {e}"))?,
            ),
        };
        Ok(super::ResourceMeta::Found {
            access_list_mode,
            owner: authority
                .and_then(|a| a.orgcode)
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .map(Arc::from),
            owner_org,
        })
    }
}

/// The owner's access lists with their connections to one resource
/// (`/resourceregistry/api/v1/access-lists/{owner}?resource=<id>&include=resource-actions`,
/// pages merged).
#[derive(Deserialize)]
pub(crate) struct RawAccessLists {
    #[serde(default)]
    links: Option<RawLinks>,
    data: Vec<RawAccessList>,
}

/// `AccessListInfoDto`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAccessList {
    identifier: String,
    #[serde(default)]
    resource_connections: Option<Vec<RawResourceConnection>>,
}

/// `AccessListResourceConnectionDto`; `actionFilters` is left out when every action is
/// allowed.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawResourceConnection {
    resource_identifier: String,
    #[serde(default)]
    action_filters: Option<Vec<String>>,
}

/// A bound list, before its members are read.
pub(crate) struct BoundList {
    pub(crate) identifier: String,
    pub(crate) actions: Option<Vec<Arc<str>>>,
}

impl RawAccessLists {
    /// The lists bound to `resource`, with the actions each binding allows.
    pub(crate) fn into_bound(self, resource: &ResourceId) -> Result<Vec<BoundList>, Reason> {
        if let Some(next) = self
            .links
            .and_then(|l| l.next)
            .filter(|n| !n.trim().is_empty())
        {
            return Err(format!(
                "it is one page of several (`links.next` is `{next}`), so the lists are incomplete"
            ));
        }
        let mut out = Vec::new();
        for list in self.data {
            let identifier = list.identifier.trim().to_owned();
            if identifier.is_empty()
                || identifier.contains(['/', '\\'])
                || identifier.starts_with('.')
            {
                return Err(format!("`{identifier}` is not an access-list identifier"));
            }
            let Some(connections) = list.resource_connections else {
                return Err(format!(
                    "list `{identifier}` has no `resourceConnections`: record the lists with `include=resource-actions`"
                ));
            };
            for c in connections {
                if c.resource_identifier.trim() != resource.as_str() {
                    continue;
                }
                out.push(BoundList {
                    identifier: identifier.clone(),
                    actions: c
                        .action_filters
                        .filter(|a| !a.is_empty())
                        .map(|a| a.iter().map(|x| Arc::from(x.trim())).collect()),
                });
            }
        }
        Ok(out)
    }
}

/// An access list's members (`/access-lists/{owner}/{identifier}/members`, pages merged).
#[derive(Deserialize)]
pub(crate) struct RawMembers {
    #[serde(default)]
    links: Option<RawLinks>,
    data: Vec<RawMember>,
}

/// `AccessListMembershipDto`: `identifiers` maps identifier URNs to values.
#[derive(Deserialize)]
struct RawMember {
    #[serde(default)]
    identifiers: Option<serde_json::Value>,
}

/// The identifier URN of an organisation number.
const ORG_IDENTIFIER: &str = "urn:altinn:organization:identifier-no";

impl RawMembers {
    /// Members by organisation number; members with identifiers but no organisation
    /// number are persons (never a recipient); members without identifiers are counted
    /// as unidentified.
    pub(crate) fn into_members(self) -> Result<super::Members, Reason> {
        if let Some(next) = self
            .links
            .and_then(|l| l.next)
            .filter(|n| !n.trim().is_empty())
        {
            return Err(format!(
                "it is one page of several (`links.next` is `{next}`), so the members are incomplete"
            ));
        }
        let mut out = super::Members::default();
        for m in self.data {
            let org = match &m.identifiers {
                None | Some(serde_json::Value::Null) => {
                    out.unidentified += 1;
                    continue;
                }
                Some(serde_json::Value::Object(map)) => map.get(ORG_IDENTIFIER).map(|v| match v {
                    serde_json::Value::String(s) => s.trim().to_owned(),
                    other => other.to_string(),
                }),
                // `["urn:altinn:organization:identifier-no:964338531", ...]`
                Some(serde_json::Value::Array(list)) => list.iter().find_map(|v| {
                    v.as_str()?
                        .strip_prefix(ORG_IDENTIFIER)?
                        .strip_prefix(':')
                        .map(|s| s.trim().to_owned())
                }),
                Some(other) => {
                    return Err(format!("`identifiers` is `{other}`: expected an object"));
                }
            };
            if let Some(o) = org {
                let org =
                    OrgNumber::parse(&o).map_err(|e| format!("member `{ORG_IDENTIFIER}`: {e}"))?;
                out.orgs.insert(org);
            }
        }
        Ok(out)
    }
}

/// A recorded non-2xx answer: `<path>.status.json` = `{"status": N, "body": ...}`.
#[derive(Deserialize)]
pub(crate) struct RawStatus {
    pub(crate) status: u16,
}

/// The snapshot manifest: `{"taken_at": "<RFC 3339>"}`, and in a recorded live sweep the
/// sources it did not ask (`"not_asked": ["profile/notificationaddresses"]`).
#[derive(Deserialize)]
pub(crate) struct RawManifest {
    pub(crate) taken_at: String,
    #[serde(default)]
    pub(crate) not_asked: Vec<String>,
}

fn parse_date(s: &str) -> Option<Date> {
    s.get(..10).unwrap_or(s).parse().ok()
}

fn org_matches(field: &str, expected: OrgNumber) -> Result<(), Reason> {
    match OrgNumber::parse(field) {
        Ok(o) if o == expected => Ok(()),
        Ok(o) => Err(format!("the record is about `{o}`, not `{expected}`")),
        Err(e) => Err(format!("its organisation number: {e}")),
    }
}

impl RawBrregUnit {
    /// The checked unit; `org` is the number it was fetched for.
    pub(crate) fn into_unit(self, org: OrgNumber, register: Register) -> Result<Unit, Reason> {
        org_matches(&self.organisasjonsnummer, org)?;
        let main_unit = match self.overordnet_enhet.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(m) => Some(OrgNumber::parse(m).map_err(|e| format!("`overordnetEnhet`: {e}"))?),
        };
        let (deleted, deleted_on) = match self.slettedato.as_deref().map(str::trim) {
            None | Some("") => (false, None),
            Some(d) => (
                true,
                Some(
                    d.parse::<Date>()
                        .map_err(|_| format!("`slettedato` `{d}` is not a date"))?,
                ),
            ),
        };
        Ok(Unit {
            org,
            name: self.navn.map(|n| Arc::from(n.trim())),
            form: self
                .organisasjonsform
                .map(|f| Arc::from(f.kode.trim().to_ascii_uppercase())),
            main_unit,
            deleted_on,
            deleted,
            register,
        })
    }
}

impl RawRoller {
    /// Role holders, one per person (a person with several roles holds them all);
    /// organisations that hold a role are kept as organisations.
    pub(crate) fn into_holders(self) -> Vec<Rightholder> {
        let mut out: Vec<Rightholder> = Vec::new();
        for rolle in self.rollegrupper.into_iter().flat_map(|g| g.roller) {
            let grant = Grant::ExternalRole(crate::model::Code::new(&rolle.kind.kode));
            let resigned = rolle.fratraadt.unwrap_or(false) || rolle.avregistrert.unwrap_or(false);
            let (kind, name, birth_date, deceased) = if let Some(p) = rolle.person {
                let name = p.navn.map(|n| {
                    [n.fornavn, n.mellomnavn, n.etternavn]
                        .into_iter()
                        .flatten()
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(" ")
                });
                (
                    EntityKind::Person,
                    name,
                    p.fodselsdato.as_deref().and_then(parse_date),
                    p.er_doed.unwrap_or(false),
                )
            } else if let Some(e) = rolle.enhet {
                let name = match e.navn {
                    Some(serde_json::Value::String(s)) => Some(s),
                    Some(serde_json::Value::Array(parts)) => Some(
                        parts
                            .iter()
                            .filter_map(|v| v.as_str())
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                    _ => e.organisasjonsnummer,
                };
                (EntityKind::Organisation, name, None, false)
            } else {
                continue;
            };
            let name: Option<Arc<str>> = name.filter(|n| !n.is_empty()).map(Arc::from);
            let same = out.iter_mut().find(|h| {
                h.kind == kind && h.kind.is_person() && h.name == name && h.birth_date == birth_date
            });
            let holder = match same {
                Some(h) => h,
                None => {
                    out.push(Rightholder {
                        party: None,
                        kind,
                        name,
                        birth_date,
                        deceased,
                        deleted: false,
                        grants: Vec::new(),
                        resigned: Vec::new(),
                        via: None,
                        source: HolderSource::Enhetsregisteret,
                    });
                    let last = out.len() - 1;
                    &mut out[last]
                }
            };
            holder.deceased |= deceased;
            let list = if resigned {
                &mut holder.resigned
            } else {
                &mut holder.grants
            };
            if !list.contains(&grant) {
                list.push(grant);
            }
        }
        out
    }
}

impl RawConnections {
    /// The rightholders, with nested connections flattened (they hold their grants via
    /// the outer party). Refuses a payload that says more pages follow: a partial list is
    /// not the complete list that connections evidence promises.
    pub(crate) fn into_holders(self) -> Result<Vec<Rightholder>, Reason> {
        if let Some(next) = self
            .links
            .and_then(|l| l.next)
            .filter(|n| !n.trim().is_empty())
        {
            return Err(format!(
                "it is one page of several (`links.next` is `{next}`), so the list is incomplete"
            ));
        }
        let mut out = Vec::new();
        for c in self.data {
            flatten(c, None, &mut out)?;
        }
        Ok(out)
    }
}

fn flatten(
    c: RawConnection,
    via: Option<Arc<str>>,
    out: &mut Vec<Rightholder>,
) -> Result<(), Reason> {
    let mut grants = Vec::new();
    for r in c.roles.into_iter().flatten() {
        let mut any = false;
        for urn in [r.urn, r.legacy_urn].into_iter().flatten() {
            if !urn.trim().is_empty() {
                let g = Grant::from_urn(&urn);
                if !grants.contains(&g) {
                    grants.push(g);
                }
                any = true;
            }
        }
        if !any && let Some(code) = r.code.filter(|c| !c.trim().is_empty()) {
            grants.push(Grant::AltinnRole(crate::model::Code::new(&code)));
        }
    }
    for p in c.packages.into_iter().flatten() {
        if let Some(urn) = p.urn.filter(|u| !u.trim().is_empty()) {
            grants.push(Grant::from_urn(&urn));
        }
    }
    for r in c.resources.into_iter().flatten() {
        if let Some(id) = r.ref_id.filter(|u| !u.trim().is_empty()) {
            let id = ResourceId::parse(&id).map_err(|e| format!("`resources[].refId`: {e}"))?;
            grants.push(Grant::Resource(id));
        }
    }
    let name: Option<Arc<str>> = c.party.name.map(|n| Arc::from(n.trim()));
    let holder = Rightholder {
        party: c.party.id.map(|i| Arc::from(i.trim())),
        kind: EntityKind::parse(c.party.kind.as_deref().unwrap_or("")),
        name: name.clone(),
        birth_date: c.party.date_of_birth.as_deref().and_then(parse_date),
        deceased: c.party.date_of_death.is_some_and(|d| !d.trim().is_empty()),
        deleted: c.party.is_deleted.unwrap_or(false),
        grants,
        resigned: Vec::new(),
        via,
        source: HolderSource::Connections,
    };
    out.push(holder);
    for nested in c.connections.into_iter().flatten() {
        flatten(
            nested,
            name.clone().or_else(|| Some(Arc::from("another party"))),
            out,
        )?;
    }
    Ok(())
}

impl RawNotificationAddresses {
    /// How many usable addresses (an e-mail or a phone number) the organisation has.
    pub(crate) fn usable(self, org: OrgNumber) -> Result<u32, Reason> {
        if let Some(n) = &self.organization_number {
            org_matches(n, org)?;
        }
        let n = self
            .notification_addresses
            .iter()
            .filter(|a| {
                a.email.as_deref().is_some_and(|e| !e.trim().is_empty())
                    || a.phone.as_deref().is_some_and(|p| !p.trim().is_empty())
            })
            .count();
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
    }

    #[test]
    fn altinns_connections_sample_reads_its_person_and_package() {
        let raw: RawConnections = serde_json::from_str(&sample(
            "accessmanagement-enduser-connections-response.json",
        ))
        .unwrap();
        let holders = raw.into_holders().unwrap();
        assert_eq!(holders.len(), 1);
        let h = &holders[0];
        assert_eq!(h.kind, EntityKind::Person);
        assert_eq!(
            h.party.as_deref(),
            Some("01f7a70d-2619-4c50-8ff4-efd7ae6c8960")
        );
        assert!(
            h.grants
                .contains(&Grant::from_urn("urn:altinn:role:rettighetshaver"))
        );
        assert!(
            h.grants
                .contains(&Grant::from_urn("urn:altinn:accesspackage:skattegrunnlag"))
        );
    }

    #[test]
    fn brregs_roles_sample_merges_a_person_with_two_roles_and_keeps_the_auditor_as_an_organisation()
    {
        let raw: RawRoller =
            serde_json::from_str(&sample("brreg-roller-response.REDACTED.json")).unwrap();
        let holders = raw.into_holders();
        // The redaction gave DAGL and MEDL the same name and no birth date, so they read as
        // one person with two roles; LEDE has a middle name, so is another.
        assert_eq!(holders.len(), 3, "{holders:?}");
        assert_eq!(
            holders[0].grants,
            [
                Grant::from_urn("urn:altinn:external-role:ccr:dagl"),
                Grant::from_urn("urn:altinn:external-role:ccr:medl")
            ]
        );
        assert_eq!(holders[2].kind, EntityKind::Organisation);
        assert!(
            holders.iter().all(|h| h.birth_date.is_none()),
            "YYYY-MM-DD is no date"
        );
    }

    #[test]
    fn a_person_with_two_roles_is_one_holder_and_resigned_roles_are_set_apart() {
        let raw: RawRoller = serde_json::from_str(
            r#"{"rollegrupper":[{"roller":[
                {"type":{"kode":"DAGL"},"person":{"fodselsdato":"1970-01-01","navn":{"fornavn":"Kari","etternavn":"Nordmann"},"erDoed":false},"fratraadt":false},
                {"type":{"kode":"LEDE"},"person":{"fodselsdato":"1970-01-01","navn":{"fornavn":"Kari","etternavn":"Nordmann"},"erDoed":false},"fratraadt":true}
            ]}]}"#,
        )
        .unwrap();
        let holders = raw.into_holders();
        assert_eq!(holders.len(), 1);
        assert_eq!(
            holders[0].grants,
            [Grant::from_urn("urn:altinn:external-role:ccr:dagl")]
        );
        assert_eq!(
            holders[0].resigned,
            [Grant::from_urn("urn:altinn:external-role:ccr:lede")]
        );
    }

    #[test]
    fn the_legacy_urn_with_altinns_trailing_space_is_read_and_person_identifiers_are_not() {
        let raw: RawConnections = serde_json::from_str(
            r#"{"links":{"next":null},"data":[{"party":{"id":"u1","name":"Kari Nordmann","type":"Person","personIdentifier":"01017012345","dateOfDeath":null},
               "roles":[{"code":"daglig-leder","urn":"urn:altinn:external-role:ccr:daglig-leder","legacyurn ":"urn:altinn:rolecode:dagl"}],
               "packages":[],"resources":[{"refId":"politi-straffesak-forsendelse"}]}]}"#,
        )
        .unwrap();
        let holders = raw.into_holders().unwrap();
        let debug = format!("{holders:?}");
        assert!(!debug.contains("01017012345"));
        assert!(
            holders[0]
                .grants
                .contains(&Grant::from_urn("urn:altinn:rolecode:dagl"))
        );
        assert!(holders[0].grants.contains(&Grant::from_urn(
            "urn:altinn:resource:politi-straffesak-forsendelse"
        )));
        assert!(!holders[0].deceased);
    }

    #[test]
    fn a_partial_page_of_connections_is_refused() {
        let raw: RawConnections =
            serde_json::from_str(r#"{"links":{"next":"https://x/p2"},"data":[]}"#).unwrap();
        assert_eq!(
            raw.into_holders().unwrap_err(),
            "it is one page of several (`links.next` is `https://x/p2`), so the list is incomplete"
        );
    }

    #[test]
    fn a_unit_about_another_number_is_refused() {
        let raw: RawBrregUnit =
            serde_json::from_str(&sample("brreg-underenhet-response.json")).unwrap();
        let other = OrgNumber::parse("964338531").unwrap();
        let err = raw.into_unit(other, Register::Underenheter).unwrap_err();
        assert!(err.contains("776655441"), "{err}");
    }
}
