//! A snapshot directory: recorded API responses, byte for byte in the real APIs' shapes,
//! laid out by API path (DESIGN.md, "Files").

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::Timestamp;
use serde::de::DeserializeOwned;

use super::raw::{RawBrregUnit, RawConnections, RawManifest, RawNotificationAddresses, RawRoller};
use super::{EvidenceError, EvidenceSource, Observed, Snapshot};
use crate::model::{OrgNumber, Register, SourceFailure, SourceKind};
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
/// Recorded resource-registry policies: `<dir>/<resource id>/policy.xml`.
pub const RESOURCE_POLICIES: &str = "resourceregistry";

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
        raw.taken_at.trim().parse::<Timestamp>().map_err(|_| {
            let line = text.find(&raw.taken_at).map(|at| line_of(&text, at));
            problem(
                line,
                format!(
                    "`taken_at` is `{}`: expected an RFC 3339 time such as `2026-11-21T05:00:00Z`",
                    raw.taken_at
                ),
            )
        })
    }

    /// Loads everything about `org` into `snapshot`; returns the unit's main unit, if any.
    fn load_unit(&self, org: OrgNumber, snapshot: &mut Snapshot) -> Option<OrgNumber> {
        fn failure<T>(
            org: OrgNumber,
            source: SourceKind,
            path: &Path,
            reason: String,
        ) -> Observed<T> {
            Observed::Failed(Arc::new(SourceFailure {
                unit: Some(org),
                source,
                location: Arc::from(path.display().to_string()),
                reason: Arc::from(reason),
            }))
        }
        let ev = snapshot.unit_mut(org);

        let main_path = self.file(UNITS, org);
        let sub_path = self.file(SUB_UNITS, org);
        ev.unit = match read_json::<RawBrregUnit>(&main_path) {
            Some(r) => match r.and_then(|u| u.into_unit(org, Register::Enheter)) {
                Ok(u) => Observed::Present(u),
                Err(why) => failure(org, SourceKind::Unit, &main_path, why),
            },
            None => match read_json::<RawBrregUnit>(&sub_path) {
                Some(r) => match r.and_then(|u| u.into_unit(org, Register::Underenheter)) {
                    Ok(u) => Observed::Present(u),
                    Err(why) => failure(org, SourceKind::Unit, &sub_path, why),
                },
                None => Observed::Missing,
            },
        };

        let path = self.file(ROLES, org);
        ev.roles = match read_json::<RawRoller>(&path) {
            Some(Ok(r)) => Observed::Present(r.into_holders()),
            Some(Err(why)) => failure(org, SourceKind::Roles, &path, why),
            None => Observed::Missing,
        };

        let path = self.file(CONNECTIONS, org);
        ev.connections = match read_json::<RawConnections>(&path) {
            Some(r) => match r.and_then(RawConnections::into_holders) {
                Ok(h) => Observed::Present(h),
                Err(why) => failure(org, SourceKind::Connections, &path, why),
            },
            None => Observed::Missing,
        };

        let path = self.file(NOTIFICATION_ADDRESSES, org);
        ev.notification_addresses = match read_json::<RawNotificationAddresses>(&path) {
            Some(r) => match r.and_then(|n| n.usable(org)) {
                Ok(n) => Observed::Present(n),
                Err(why) => failure(org, SourceKind::NotificationAddresses, &path, why),
            },
            None => Observed::Missing,
        };

        ev.unit.present().and_then(|u| u.main_unit)
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
                    Err(e) if e.kind() == ErrorKind::NotFound => return None,
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

    /// Loads the evidence about `recipients` and their main units.
    pub fn load(
        &self,
        recipients: impl IntoIterator<Item = OrgNumber>,
    ) -> Result<Snapshot, EvidenceError> {
        let taken_at = self.taken_at()?;
        let mut snapshot = Snapshot::new(taken_at, self.root.display().to_string());
        let mut main_units = Vec::new();
        for org in recipients {
            if snapshot.units.contains_key(&org) {
                continue;
            }
            if let Some(m) = self.load_unit(org, &mut snapshot) {
                main_units.push(m);
            }
        }
        for m in main_units {
            if !snapshot.units.contains_key(&m) {
                self.load_unit(m, &mut snapshot);
            }
        }
        Ok(snapshot)
    }

    /// Loads every unit that has any file in the snapshot, and reports every problem:
    /// malformed files (errors) and file names that are not organisation numbers
    /// (warnings). For `validate`.
    pub fn load_all(&self) -> Result<(Snapshot, Vec<Problem>), EvidenceError> {
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
        let mut snapshot = self.load(orgs)?;
        snapshot.taken_at = taken_at;
        for f in snapshot.failures() {
            problems.push(Problem::error(
                Path::new(&*f.location),
                None,
                f.reason.to_string(),
            ));
        }
        Ok((snapshot, problems))
    }
}

impl EvidenceSource for SnapshotDir {
    async fn gather(
        &self,
        recipients: &[OrgNumber],
        resources: &[crate::model::ResourceId],
    ) -> Result<super::Gathered, EvidenceError> {
        Ok(super::Gathered {
            snapshot: self.load(recipients.iter().copied())?,
            policies: self.resource_policies(resources),
            requests: 0,
        })
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
            .load([OrgNumber::parse(BARNEVERN).unwrap()])
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
        let (snap, problems) = SnapshotDir::new(root).load_all().unwrap();
        assert_eq!(snap.units.len(), 1);
        let msgs: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert!(msgs[0].ends_with("123.json`: ignored: the file name should be an organisation number: `123` is not an organisation number: it has 3 digits, not 9"));
        assert!(msgs[1].ends_with(
            "notes.txt`: ignored: snapshot files are named `<organisation number>.json`"
        ));
        assert!(
            msgs[2].contains(&format!(
                "{KOMMUNE}.json`: malformed JSON: invalid type: integer `7`"
            )),
            "{msgs:?}"
        );
    }
}
