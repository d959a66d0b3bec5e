//! A snapshot directory: recorded API responses, byte for byte in the real APIs' shapes,
//! laid out by API path (docs/design.md, "Files").

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::Timestamp;
use serde::de::DeserializeOwned;

use super::raw::{
    BoundList, RawAccessLists, RawBrregUnit, RawConnections, RawManifest, RawMembers,
    RawNotificationAddresses, RawResourceRights, RawRoller, RawServiceResource, RawStatus,
};
use super::{
    AccessList, AccessListMode, EvidenceError, EvidenceSource, Observed, ResourceEvidence,
    ResourceMeta, Snapshot, StatusMeaning, status_meaning,
};
use crate::model::{OrgNumber, Register, ResourceId, SourceFailure, SourceKind};
use crate::problem::{Problem, line_of};

/// `manifest.json`.
pub const MANIFEST: &str = "manifest.json";
/// Brreg main units.
pub const UNITS: &str = "enhetsregisteret/enheter";
/// Brreg sub-units.
pub const SUB_UNITS: &str = "enhetsregisteret/underenheter";
/// Brreg roles of main units.
pub const ROLES: &str = "enhetsregisteret/roller";
/// Altinn connections (party = from = the unit).
pub const CONNECTIONS: &str = "accessmanagement/connections";
/// Altinn profile notification addresses.
pub const NOTIFICATION_ADDRESSES: &str = "profile/notificationaddresses";
/// The resource registry: `<dir>/<resource id>/policy.xml`, `resource.json` and
/// `access-lists.json`.
pub const RESOURCE_POLICIES: &str = "resourceregistry";
/// A resource's recorded policy, in its directory under [`RESOURCE_POLICIES`].
pub const POLICY_FILE: &str = "policy.xml";
/// A resource's registry entry (`GET /resource/{id}`), beside its policy.
pub const RESOURCE_FILE: &str = "resource.json";
/// The owner's access lists with their connections to the resource, beside its policy.
pub const ACCESS_LISTS_FILE: &str = "access-lists.json";
/// Access-list members: `<dir>/<owner>/<list>/members.json`.
pub const ACCESS_LISTS: &str = "resourceregistry/access-lists";
/// An access list's members, in its directory under [`ACCESS_LISTS`].
pub const MEMBERS_FILE: &str = "members.json";
/// What each resource delegation grants:
/// `<dir>/<unit>/<resource id>/<party uuid>.json`.
pub const RESOURCE_RIGHTS: &str = "accessmanagement/resourcerights";
/// Maskinporten's refusal of a system-user token for an organisation:
/// `<dir>/<orgnr>.json.status.json` (the organisation has no system user for this client).
pub const MASKINPORTEN: &str = "auth/maskinporten";
/// Vendor system-user requests, by the organisation asked: `<dir>/<orgnr>.json`.
pub const SYSTEM_USER_REQUESTS: &str = "authentication/systemuser/request";
/// Added to a path whose answer was not 2xx: `{"status": N, "body": ...}` is recorded
/// there instead.
pub const STATUS_SUFFIX: &str = ".status.json";

/// A recorded snapshot on disk.
#[derive(Clone, Debug)]
pub struct SnapshotDir {
    root: PathBuf,
}

/// Reads a JSON file: `None` when it does not exist, `Err` with a reason when it cannot
/// be read or parsed.
fn read_json<T: DeserializeOwned>(path: &Path) -> Option<Result<T, String>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return None,
        Err(e) => return Some(Err(format!("cannot read the file: {e}"))),
    };
    Some(serde_json::from_slice(&bytes).map_err(|e| format!("malformed JSON: {e}")))
}

/// What was recorded for one request.
pub(crate) enum Recorded<T> {
    /// Nothing: neither the answer nor a status.
    Missing,
    /// A non-2xx answer, recorded in `<path>.status.json`.
    Status(u16, PathBuf),
    /// A file that cannot be used, and why.
    Bad(String, PathBuf),
    /// The answer.
    Answer(T),
}

/// The path where a non-2xx answer for `path` is recorded.
pub fn status_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(STATUS_SUFFIX);
    PathBuf::from(name)
}

/// Reads what was recorded for `path`: its answer, parsed by `parse`, or else its
/// `.status.json`.
pub(crate) fn recorded<T>(
    path: &Path,
    parse: impl FnOnce(&[u8]) -> Result<T, String>,
) -> Recorded<T> {
    match std::fs::read(path) {
        Ok(bytes) => match parse(&bytes) {
            Ok(t) => Recorded::Answer(t),
            Err(why) => Recorded::Bad(why, path.to_path_buf()),
        },
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let status = status_path(path);
            match read_json::<RawStatus>(&status) {
                None => Recorded::Missing,
                Some(Ok(s))
                    if (200..300).contains(&s.status) || !(100..600).contains(&s.status) =>
                {
                    Recorded::Bad(
                        format!(
                            "`status` is {}: a recorded refusal or error is a status from 300 to 599",
                            s.status
                        ),
                        status,
                    )
                }
                Some(Ok(s)) => Recorded::Status(s.status, status),
                Some(Err(why)) => Recorded::Bad(why, status),
            }
        }
        Err(e) => Recorded::Bad(format!("cannot read the file: {e}"), path.to_path_buf()),
    }
}

/// Parses JSON into `Raw` and converts it with `check`.
fn json<Raw: DeserializeOwned, T>(
    check: impl FnOnce(Raw) -> Result<T, String>,
) -> impl FnOnce(&[u8]) -> Result<T, String> {
    move |bytes| {
        serde_json::from_slice::<Raw>(bytes)
            .map_err(|e| format!("malformed JSON: {e}"))
            .and_then(check)
    }
}

fn failure_at(
    unit: Option<OrgNumber>,
    source: SourceKind,
    path: &Path,
    reason: String,
) -> Arc<SourceFailure> {
    Arc::new(SourceFailure {
        unit,
        source,
        location: Arc::from(path.display().to_string()),
        reason: Arc::from(reason),
    })
}

/// A recorded status in the words a live answer with it gets (`HTTP 403 Forbidden`).
fn status_reason(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status) {
        Ok(s) => format!("HTTP {s}"),
        Err(_) => format!("HTTP {status}"),
    }
}

impl<T> Recorded<T> {
    /// The evidence this record gives; a recorded status means what it means live
    /// ([`status_meaning`]). A 404 of a resource (not in Altinn) is read by the caller.
    fn observed(self, unit: Option<OrgNumber>, source: SourceKind) -> Observed<T> {
        match self {
            Recorded::Missing => Observed::Missing,
            Recorded::Answer(t) => Observed::Present(t),
            Recorded::Bad(why, path) => Observed::Failed(failure_at(unit, source, &path, why)),
            Recorded::Status(s, path) => match status_meaning(source, s) {
                StatusMeaning::NoData => Observed::Missing,
                StatusMeaning::Refused => {
                    Observed::Refused(failure_at(unit, source, &path, status_reason(s)))
                }
                StatusMeaning::NotInAltinn | StatusMeaning::Failed => {
                    Observed::Failed(failure_at(unit, source, &path, status_reason(s)))
                }
            },
        }
    }
}

/// The line a serde_json error names (`... at line 3 column 5`), if any.
fn line_in(reason: &str) -> Option<u32> {
    let rest = &reason[reason.rfind(" at line ")? + " at line ".len()..];
    rest.split_whitespace()
        .next()?
        .parse()
        .ok()
        .filter(|&l| l > 0)
}

/// The file name of a party's rights answer, if its id can name a file (a UUID can).
fn party_file_name(party: &str) -> Option<String> {
    let ok = !party.is_empty()
        && party.len() <= 64
        && party
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| format!("{party}.json"))
}

impl SnapshotDir {
    /// A snapshot directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        SnapshotDir { root: root.into() }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn file(&self, dir: &str, org: OrgNumber) -> PathBuf {
        self.root.join(dir).join(format!("{org}.json"))
    }

    /// When the snapshot was taken, from `manifest.json`.
    pub fn taken_at(&self) -> Result<Timestamp, EvidenceError> {
        self.manifest().map(|(t, _)| t)
    }

    /// The manifest: when the snapshot was taken, and the sources a recorded sweep did
    /// not ask (by snapshot directory, e.g. `profile/notificationaddresses`).
    fn manifest(&self) -> Result<(Timestamp, Vec<String>), EvidenceError> {
        if !self.root.is_dir() {
            return Err(EvidenceError::NoDirectory(self.root.clone()));
        }
        let path = self.root.join(MANIFEST);
        let problem = |line, msg: String| EvidenceError::Manifest(Problem::error(&path, line, msg));
        let text = std::fs::read_to_string(&path).map_err(|e| {
            problem(
                None,
                format!("cannot read the snapshot manifest: {e}: every snapshot needs `{{\"taken_at\": \"<RFC 3339>\"}}`"),
            )
        })?;
        let raw: RawManifest = serde_json::from_str(&text).map_err(|e| {
            problem(
                u32::try_from(e.line()).ok().filter(|&l| l > 0),
                format!("malformed manifest: {e}: expected `{{\"taken_at\": \"<RFC 3339>\"}}`"),
            )
        })?;
        let taken_at = raw.taken_at.trim().parse::<Timestamp>().map_err(|_| {
            let line = text.find(&raw.taken_at).map(|at| line_of(&text, at));
            problem(
                line,
                format!(
                    "`taken_at` is `{}`: expected an RFC 3339 time such as `2026-11-21T05:00:00Z`",
                    raw.taken_at
                ),
            )
        })?;
        Ok((taken_at, raw.not_asked))
    }

    /// Loads everything about `org` into `snapshot`; returns the unit's main unit, if any.
    /// The unit's own approval link: the `confirmUrl` of its recorded vendor request
    /// (`authentication/systemuser/request/<org>.json`) while it is `New` and names this
    /// organisation. Anything else (missing, malformed, another organisation, decided)
    /// gives none: a link is never evidence, and never another organisation's.
    fn approval_link(&self, org: OrgNumber) -> Option<Arc<str>> {
        let v = read_json::<serde_json::Value>(&self.file(SYSTEM_USER_REQUESTS, org))?.ok()?;
        let own = v["partyOrgNo"]
            .as_str()
            .and_then(|p| OrgNumber::parse(p).ok())
            == Some(org);
        (own && v["status"] == "New")
            .then(|| {
                v["confirmUrl"]
                    .as_str()
                    .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            })
            .flatten()
            .map(Arc::from)
    }

    fn load_unit(
        &self,
        org: OrgNumber,
        profile_asked: bool,
        snapshot: &mut Snapshot,
    ) -> Option<OrgNumber> {
        let ev = snapshot.unit_mut(org);
        let unit = |register| json(move |u: RawBrregUnit| u.into_unit(org, register));
        // 404 in the register of main units: perhaps a sub-unit.
        ev.unit = match recorded(&self.file(UNITS, org), unit(Register::Enheter)) {
            Recorded::Missing | Recorded::Status(404, _) => {
                recorded(&self.file(SUB_UNITS, org), unit(Register::Underenheter))
                    .observed(Some(org), SourceKind::Unit)
            }
            other => other.observed(Some(org), SourceKind::Unit),
        };
        ev.roles = recorded(
            &self.file(ROLES, org),
            json(|r: RawRoller| Ok(r.into_holders())),
        )
        .observed(Some(org), SourceKind::Roles);
        ev.connections = recorded(
            &self.file(CONNECTIONS, org),
            json(RawConnections::into_holders),
        )
        .observed(Some(org), SourceKind::Connections);
        // A refused connections answer, or Maskinporten's refusal of a token for the
        // organisation whose system user reads this unit (the unit, or a sub-unit's main
        // unit): the unit has not approved reachcheck.
        let owner = match ev.unit.present() {
            Some(u) if u.register == Register::Underenheter => u.main_unit.unwrap_or(org),
            _ => org,
        };
        let refusal_file = status_path(&self.root.join(MASKINPORTEN).join(owner.to_string()));
        let fail = |reason: String| {
            Observed::Failed(Arc::new(SourceFailure {
                unit: Some(org),
                source: SourceKind::Connections,
                location: Arc::from(refusal_file.display().to_string()),
                reason: Arc::from(reason),
            }))
        };
        let token_refused = match read_json::<RawStatus>(&refusal_file) {
            None => false,
            // Connections could not have been read without a token: the recording
            // contradicts itself, and neither half is believed.
            Some(Ok(RawStatus { status: 400..=599 })) if ev.connections.present().is_some() => {
                ev.connections = fail(format!(
                    "connections are recorded although Maskinporten refused a token for {owner}: the recording contradicts itself"
                ));
                false
            }
            Some(Ok(RawStatus { status: 400..=599 })) => true,
            Some(Ok(RawStatus { status })) => {
                ev.connections = fail(format!("status {status} is not a refusal"));
                false
            }
            Some(Err(reason)) => {
                ev.connections = fail(reason);
                false
            }
        };
        if ev.connections.refusal().is_some() || token_refused {
            ev.authorized = Some(false);
        }
        ev.approval_link = self.approval_link(org);
        let addresses = self.file(NOTIFICATION_ADDRESSES, org);
        ev.notification_addresses = match recorded(
            &addresses,
            json(|n: RawNotificationAddresses| n.usable(org)),
        ) {
            // A recorded live sweep did not ask: the profile was not to be asked, or no
            // system user could ask for this unit. Unverified, as it was live.
            Recorded::Missing if !profile_asked || token_refused => {
                Observed::Refused(Arc::new(SourceFailure {
                    unit: Some(org),
                    source: SourceKind::NotificationAddresses,
                    location: Arc::from(addresses.display().to_string()),
                    reason: Arc::from(if token_refused {
                        "not asked: no system user to ask with"
                    } else {
                        "not asked (the recorded sweep's `live.notification_addresses`)"
                    }),
                }))
            }
            other => other.observed(Some(org), SourceKind::NotificationAddresses),
        };
        // What each resource delegation grants (rule 10).
        let delegations = match &ev.connections {
            Observed::Present(holders) => super::delegations(holders),
            _ => Vec::new(),
        };
        for (resource, party) in delegations {
            if ev
                .resource_rights
                .contains_key(&(resource.clone(), Arc::clone(&party)))
            {
                continue;
            }
            let got = match party_file_name(&party) {
                Some(name) => {
                    let path = self
                        .root
                        .join(RESOURCE_RIGHTS)
                        .join(org.to_string())
                        .join(resource.as_str())
                        .join(name);
                    let r = resource.clone();
                    recorded(
                        &path,
                        json(move |raw: RawResourceRights| raw.into_rights(&r)),
                    )
                    .observed(Some(org), SourceKind::ResourceRights)
                }
                // A party id that cannot name a file has no rights answer.
                None => Observed::Missing,
            };
            if !matches!(got, Observed::Missing) {
                ev.resource_rights.insert((resource, party), got);
            }
        }
        ev.unit.present().and_then(|u| u.main_unit)
    }

    /// The registry entries and access lists of `resources` (rule 11), into `snapshot`.
    fn load_resources(&self, resources: &[ResourceId], snapshot: &mut Snapshot) {
        for r in resources {
            let dir = self.root.join(RESOURCE_POLICIES).join(r.as_str());
            let id = r.clone();
            let mut metadata = match recorded(
                &dir.join(RESOURCE_FILE),
                json(move |raw: RawServiceResource| raw.into_meta(&id)),
            ) {
                Recorded::Status(404, path) => Observed::Present(ResourceMeta::NotInAltinn {
                    location: Arc::from(path.display().to_string()),
                }),
                other => other.observed(None, SourceKind::Resource),
            };
            // Altinn has no policy for it: the resource is not there either (M8).
            let policy_status = status_path(&dir.join(POLICY_FILE));
            if !dir.join(POLICY_FILE).exists()
                && let Some(Ok(RawStatus { status: 404 })) = read_json::<RawStatus>(&policy_status)
            {
                metadata = Observed::Present(ResourceMeta::NotInAltinn {
                    location: Arc::from(policy_status.display().to_string()),
                });
            }
            let owner = match &metadata {
                Observed::Present(ResourceMeta::Found {
                    access_list_mode: AccessListMode::Enabled,
                    owner,
                    ..
                }) => Some(owner.clone()),
                _ => None,
            };
            // Access lists matter only when they gate the resource.
            let access_lists = match owner {
                None => Observed::Missing,
                Some(owner) => {
                    let id = r.clone();
                    match recorded(
                        &dir.join(ACCESS_LISTS_FILE),
                        json(move |raw: RawAccessLists| raw.into_bound(&id)),
                    )
                    .observed(None, SourceKind::AccessLists)
                    {
                        Observed::Present(bound) => {
                            Observed::Present(self.members_of(owner.as_deref(), bound))
                        }
                        Observed::Missing => Observed::Missing,
                        Observed::Failed(f) => Observed::Failed(f),
                        Observed::Refused(f) => Observed::Refused(f),
                    }
                }
            };
            snapshot.resources.insert(
                r.clone(),
                ResourceEvidence {
                    metadata,
                    access_lists,
                },
            );
        }
    }

    /// Reads the members of each bound list of `owner`.
    fn members_of(&self, owner: Option<&str>, bound: Vec<BoundList>) -> Vec<AccessList> {
        bound
            .into_iter()
            .map(|b| {
                let members = match owner {
                    // Whose lists they are is not known: neither are their members.
                    None => Observed::Missing,
                    Some(owner) => recorded(
                        &self
                            .root
                            .join(ACCESS_LISTS)
                            .join(owner)
                            .join(&b.identifier)
                            .join(MEMBERS_FILE),
                        json(RawMembers::into_members),
                    )
                    .observed(None, SourceKind::AccessListMembers),
                };
                AccessList {
                    identifier: Arc::from(b.identifier),
                    actions: b.actions,
                    members,
                }
            })
            .collect()
    }

    /// The policies of `resources` recorded from Altinn's resource registry
    /// (`resourceregistry/<id>/policy.xml`), where the snapshot has them.
    pub fn resource_policies(
        &self,
        resources: &[crate::model::ResourceId],
    ) -> std::collections::BTreeMap<crate::model::ResourceId, Observed<super::RemotePolicy>> {
        resources
            .iter()
            .filter_map(|r| {
                let path = self
                    .root
                    .join(RESOURCE_POLICIES)
                    .join(r.as_str())
                    .join("policy.xml");
                let got = match std::fs::read(&path) {
                    // A recorded refusal or failure (not a 404: Altinn has no policy, which
                    // `load` reads as the resource not being in Altinn) is a failure.
                    Err(e) if e.kind() == ErrorKind::NotFound => {
                        let file = status_path(&path);
                        match read_json::<RawStatus>(&file)? {
                            Ok(RawStatus { status: 404 }) => return None,
                            Ok(RawStatus { status }) => Observed::Failed(Arc::new(SourceFailure {
                                unit: None,
                                source: SourceKind::ResourcePolicy,
                                location: Arc::from(file.display().to_string()),
                                reason: Arc::from(format!("HTTP {status}")),
                            })),
                            Err(reason) => Observed::Failed(Arc::new(SourceFailure {
                                unit: None,
                                source: SourceKind::ResourcePolicy,
                                location: Arc::from(file.display().to_string()),
                                reason: Arc::from(reason),
                            })),
                        }
                    }
                    Err(e) => Observed::Failed(Arc::new(SourceFailure {
                        unit: None,
                        source: SourceKind::ResourcePolicy,
                        location: Arc::from(path.display().to_string()),
                        reason: Arc::from(format!("cannot read the file: {e}")),
                    })),
                    Ok(bytes) => match String::from_utf8(bytes) {
                        Ok(xml) => Observed::Present(super::RemotePolicy {
                            location: path.display().to_string(),
                            xml,
                        }),
                        Err(_) => Observed::Failed(Arc::new(SourceFailure {
                            unit: None,
                            source: SourceKind::ResourcePolicy,
                            location: Arc::from(path.display().to_string()),
                            reason: Arc::from("the policy is not UTF-8 text"),
                        })),
                    },
                };
                Some((r.clone(), got))
            })
            .collect()
    }

    /// Loads the evidence about `recipients` and their main units, and about `resources`
    /// (their registry entries and access lists).
    pub fn load(
        &self,
        recipients: impl IntoIterator<Item = OrgNumber>,
        resources: &[ResourceId],
    ) -> Result<Snapshot, EvidenceError> {
        let mut snapshot = self.load_units(recipients)?;
        self.load_resources(resources, &mut snapshot);
        Ok(snapshot)
    }

    /// Everything a sweep takes from the snapshot: [`SnapshotDir::load`], and the
    /// policies Altinn enforced for `resources` where they were recorded.
    pub fn gathered(
        &self,
        recipients: impl IntoIterator<Item = OrgNumber>,
        resources: &[ResourceId],
    ) -> Result<super::Gathered, EvidenceError> {
        Ok(super::Gathered {
            snapshot: self.load(recipients, resources)?,
            policies: self.resource_policies(resources),
            requests: 0,
        })
    }

    /// Loads the evidence about `recipients` and their main units.
    fn load_units(
        &self,
        recipients: impl IntoIterator<Item = OrgNumber>,
    ) -> Result<Snapshot, EvidenceError> {
        let (taken_at, not_asked) = self.manifest()?;
        let profile_asked = !not_asked.iter().any(|d| d == NOTIFICATION_ADDRESSES);
        let mut snapshot = Snapshot::new(taken_at, self.root.display().to_string());
        let mut main_units = Vec::new();
        for org in recipients {
            if snapshot.units.contains_key(&org) {
                continue;
            }
            if let Some(m) = self.load_unit(org, profile_asked, &mut snapshot) {
                main_units.push(m);
            }
        }
        for m in main_units {
            if !snapshot.units.contains_key(&m) {
                self.load_unit(m, profile_asked, &mut snapshot);
            }
        }
        Ok(snapshot)
    }

    /// Loads every unit that has any file in the snapshot, and every resource that has a
    /// directory in it or is one of `resources`, and reports every problem: malformed
    /// files and recorded statuses that cannot be read (errors), file names that are not
    /// organisation numbers, rights answers no delegation asks for, and resources without
    /// a registry entry (warnings). For `validate`.
    pub fn load_all(
        &self,
        resources: &[ResourceId],
    ) -> Result<(Snapshot, Vec<Problem>), EvidenceError> {
        let taken_at = self.taken_at()?;
        let mut problems = Vec::new();
        let mut orgs = Vec::new();
        for dir in [UNITS, SUB_UNITS, ROLES, CONNECTIONS, NOTIFICATION_ADDRESSES] {
            let Ok(entries) = std::fs::read_dir(self.root.join(dir)) else {
                continue;
            };
            let mut paths: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for path in paths {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                let name = name.strip_suffix(STATUS_SUFFIX).unwrap_or(name);
                match name.strip_suffix(".json").map(OrgNumber::parse) {
                    Some(Ok(org)) => orgs.push(org),
                    Some(Err(e)) => problems.push(Problem::warning(
                        &path,
                        None,
                        format!("ignored: the file name should be an organisation number: {e}"),
                    )),
                    None => problems.push(Problem::warning(
                        &path,
                        None,
                        "ignored: snapshot files are named `<organisation number>.json`",
                    )),
                }
            }
        }
        orgs.sort_unstable();
        orgs.dedup();
        let mut all: Vec<ResourceId> = resources.to_vec();
        if let Ok(entries) = std::fs::read_dir(self.root.join(RESOURCE_POLICIES)) {
            for e in entries.filter_map(Result::ok) {
                let name = e.file_name().to_string_lossy().into_owned();
                if !e.path().is_dir()
                    || self.root.join(RESOURCE_POLICIES).join(&name) == self.root.join(ACCESS_LISTS)
                {
                    continue;
                }
                match ResourceId::parse(&name) {
                    Ok(id) => all.push(id),
                    Err(e) => problems.push(Problem::warning(
                        &self.root.join(RESOURCE_POLICIES).join(&name),
                        None,
                        format!("ignored: the directory name should be a resource id: {e}"),
                    )),
                }
            }
        }
        all.sort();
        all.dedup();
        let mut snapshot = self.load(orgs, &all)?;
        snapshot.taken_at = taken_at;
        for f in snapshot.failures() {
            problems.push(Problem::error(
                Path::new(&*f.location),
                line_in(&f.reason),
                f.reason.to_string(),
            ));
        }
        for r in resources {
            let meta = snapshot.resource(r).map(|e| &e.metadata);
            if matches!(meta, None | Some(Observed::Missing)) {
                problems.push(Problem::warning(
                    &self.root.join(RESOURCE_POLICIES).join(r.as_str()).join(RESOURCE_FILE),
                    None,
                    format!(
                        "no registry entry for resource `{r}`: routes of its message types cannot be proven readable (record `GET /resourceregistry/api/v1/resource/{r}`)"
                    ),
                ));
            }
        }
        problems.extend(self.stray_rights(&snapshot));
        Ok((snapshot, problems))
    }

    /// Rights answers that no delegation in the connections asks for (warnings): a
    /// misplaced file proves nothing.
    fn stray_rights(&self, snapshot: &Snapshot) -> Vec<Problem> {
        let mut out = Vec::new();
        let Ok(units) = std::fs::read_dir(self.root.join(RESOURCE_RIGHTS)) else {
            return out;
        };
        let mut files: Vec<PathBuf> = Vec::new();
        for unit in units.filter_map(Result::ok) {
            for resource in std::fs::read_dir(unit.path())
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
            {
                for f in std::fs::read_dir(resource.path())
                    .into_iter()
                    .flatten()
                    .filter_map(Result::ok)
                {
                    files.push(f.path());
                }
            }
        }
        files.sort();
        for path in files {
            let rel = path
                .strip_prefix(self.root.join(RESOURCE_RIGHTS))
                .unwrap_or(&path);
            let parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            let [unit, resource, file] = parts.as_slice() else {
                continue;
            };
            let party = file
                .strip_suffix(STATUS_SUFFIX)
                .unwrap_or(file)
                .strip_suffix(".json")
                .unwrap_or(file);
            let asked = OrgNumber::parse(unit)
                .ok()
                .and_then(|u| snapshot.unit(u))
                .is_some_and(|ev| {
                    ev.resource_rights
                        .keys()
                        .any(|(r, p)| r.as_str() == resource && &**p == party)
                });
            if !asked {
                out.push(Problem::warning(
                    &path,
                    None,
                    format!(
                        "ignored: no delegation of `{resource}` to party `{party}` in the connections of `{unit}` asks for this rights answer"
                    ),
                ));
            }
        }
        out
    }
}

impl EvidenceSource for SnapshotDir {
    async fn gather(
        &self,
        recipients: &[OrgNumber],
        resources: &[crate::model::ResourceId],
    ) -> Result<super::Gathered, EvidenceError> {
        self.gathered(recipients.iter().copied(), resources)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    const KOMMUNE: &str = "964338531";
    const BARNEVERN: &str = "310000000";

    #[test]
    fn loads_a_sub_unit_with_its_main_unit_and_tells_missing_from_failed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, MANIFEST, r#"{"taken_at": "2026-11-21T05:00:00Z"}"#);
        write(
            root,
            &format!("{SUB_UNITS}/{BARNEVERN}.json"),
            &format!(
                r#"{{"organisasjonsnummer":"{BARNEVERN}","navn":"BARNEVERN","organisasjonsform":{{"kode":"BEDR"}},"overordnetEnhet":"{KOMMUNE}"}}"#
            ),
        );
        write(
            root,
            &format!("{UNITS}/{KOMMUNE}.json"),
            &format!(
                r#"{{"organisasjonsnummer":"{KOMMUNE}","navn":"BERGEN KOMMUNE","organisasjonsform":{{"kode":"KOMM"}}}}"#
            ),
        );
        write(
            root,
            &format!("{CONNECTIONS}/{KOMMUNE}.json"),
            r#"{"links":{"next":null},"data":[{"party":"#,
        );
        write(
            root,
            &format!("{NOTIFICATION_ADDRESSES}/{KOMMUNE}.json"),
            &format!(
                r#"{{"organizationNumber":"{KOMMUNE}","notificationAddresses":[{{"email":"post@x.no"}},{{"email":"","phone":null}}]}}"#
            ),
        );
        let snap = SnapshotDir::new(root)
            .load([OrgNumber::parse(BARNEVERN).unwrap()], &[])
            .unwrap();
        let sub = snap.unit(OrgNumber::parse(BARNEVERN).unwrap()).unwrap();
        let unit = sub.unit.present().unwrap();
        assert_eq!(unit.main_unit, Some(OrgNumber::parse(KOMMUNE).unwrap()));
        assert_eq!(unit.form.as_deref(), Some("BEDR"));
        assert_eq!(sub.connections, Observed::Missing);
        let main = snap.unit(OrgNumber::parse(KOMMUNE).unwrap()).unwrap();
        let failure = main.connections.failure().unwrap();
        assert!(
            failure
                .location
                .ends_with(&format!("{CONNECTIONS}/{KOMMUNE}.json"))
        );
        assert!(
            failure
                .reason
                .starts_with("malformed JSON: EOF while parsing"),
            "{}",
            failure.reason
        );
        assert_eq!(main.notification_addresses, Observed::Present(1));
        assert_eq!(main.roles, Observed::Missing);
    }

    #[test]
    fn a_recorded_token_refusal_missing_malformed_refused_or_contradicted() {
        let org = OrgNumber::parse(KOMMUNE).unwrap();
        let refusal = format!("{MASKINPORTEN}/{KOMMUNE}{STATUS_SUFFIX}");
        let load = |files: &[(&str, &str)]| {
            let dir = tempfile::tempdir().unwrap();
            write(
                dir.path(),
                MANIFEST,
                r#"{"taken_at": "2026-11-21T05:00:00Z"}"#,
            );
            write(
                dir.path(),
                &format!("{UNITS}/{KOMMUNE}.json"),
                &format!(
                    r#"{{"organisasjonsnummer":"{KOMMUNE}","navn":"K","organisasjonsform":{{"kode":"KOMM"}}}}"#
                ),
            );
            for (rel, text) in files {
                write(dir.path(), rel, text);
            }
            let snap = SnapshotDir::new(dir.path()).load([org], &[]).unwrap();
            snap.unit(org).unwrap().clone()
        };
        let connections = format!("{CONNECTIONS}/{KOMMUNE}.json");
        let empty = r#"{"links":{"next":null},"data":[]}"#;
        // Missing: nothing is said about approval.
        let u = load(&[]);
        assert_eq!(u.authorized, None);
        assert_eq!(u.connections, Observed::Missing);
        // Refused: not approved, and its addresses were not asked for.
        let u = load(&[(
            &refusal,
            r#"{"status":400,"body":{"error":"invalid_altinn_customer_configuration"}}"#,
        )]);
        assert_eq!(u.authorized, Some(false));
        assert!(u.notification_addresses.refusal().is_some());
        // Malformed, or a status that is no refusal: a failed source, not a verdict.
        for bad in ["{\"status\":", r#"{"status":200,"body":null}"#] {
            let u = load(&[(&refusal, bad)]);
            assert_eq!(u.authorized, None, "{bad}");
            assert!(u.connections.failure().is_some(), "{bad}");
        }
        // Contradicted by recorded connections: neither is believed.
        let u = load(&[
            (&refusal, r#"{"status":400,"body":null}"#),
            (&connections, empty),
        ]);
        assert_eq!(u.authorized, None);
        let f = u.connections.failure().unwrap();
        assert!(f.reason.contains("contradicts itself"), "{}", f.reason);
    }

    #[test]
    fn an_approval_link_only_from_the_units_own_pending_request() {
        let org = OrgNumber::parse(KOMMUNE).unwrap();
        let link = |text: Option<&str>| {
            let dir = tempfile::tempdir().unwrap();
            write(
                dir.path(),
                MANIFEST,
                r#"{"taken_at": "2026-11-21T05:00:00Z"}"#,
            );
            if let Some(t) = text {
                write(
                    dir.path(),
                    &format!("{SYSTEM_USER_REQUESTS}/{KOMMUNE}.json"),
                    t,
                );
            }
            let snap = SnapshotDir::new(dir.path()).load([org], &[]).unwrap();
            snap.unit(org).unwrap().approval_link.clone()
        };
        let url = "https://am.ui.altinn.no/accessmanagement/ui/systemuser/request?id=r1";
        let own = format!(
            r#"{{"id":"r1","partyOrgNo":"{KOMMUNE}","status":"New","confirmUrl":"{url}"}}"#
        );
        assert_eq!(link(Some(&own)).as_deref(), Some(url));
        // Missing, malformed, decided, another organisation's, not a URL: none.
        assert_eq!(link(None), None);
        assert_eq!(link(Some("{")), None);
        assert_eq!(link(Some(&own.replace("New", "Rejected"))), None);
        assert_eq!(link(Some(&own.replace(KOMMUNE, "958935420"))), None);
        assert_eq!(link(Some(&own.replace(url, "javascript:alert(1)"))), None);
    }

    #[test]
    fn a_missing_or_bad_manifest_is_refused_with_the_file_and_value() {
        let dir = tempfile::tempdir().unwrap();
        let err = SnapshotDir::new(dir.path())
            .taken_at()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("manifest.json`: cannot read the snapshot manifest"),
            "{err}"
        );
        write(dir.path(), MANIFEST, "{\n\"taken_at\": \"yesterday\"}");
        let err = SnapshotDir::new(dir.path())
            .taken_at()
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("manifest.json`: line 2: `taken_at` is `yesterday`: expected an RFC 3339 time such as `2026-11-21T05:00:00Z`"),
            "{err}"
        );
        let err = SnapshotDir::new(dir.path().join("nope"))
            .taken_at()
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("the snapshot directory does not exist: pass `--snapshot DIR` or set `snapshot` in the config file"));
    }

    #[test]
    fn load_all_reports_malformed_files_and_stray_names() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, MANIFEST, r#"{"taken_at": "2026-11-21T05:00:00Z"}"#);
        write(
            root,
            &format!("{ROLES}/{KOMMUNE}.json"),
            r#"{"rollegrupper": 7}"#,
        );
        write(root, &format!("{ROLES}/notes.txt"), "x");
        write(root, &format!("{ROLES}/123.json"), "{}");
        let (snap, problems) = SnapshotDir::new(root).load_all(&[]).unwrap();
        assert_eq!(snap.units.len(), 1);
        let msgs: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert!(msgs[0].ends_with("123.json`: ignored: the file name should be an organisation number: `123` is not an organisation number: it has 3 digits, not 9"));
        assert!(msgs[1].ends_with(
            "notes.txt`: ignored: snapshot files are named `<organisation number>.json`"
        ));
        assert!(
            msgs[2].contains(&format!(
                "{KOMMUNE}.json`: line 1: malformed JSON: invalid type: integer `7`"
            )),
            "{msgs:?}"
        );
    }
}
