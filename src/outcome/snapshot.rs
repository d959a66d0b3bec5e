//! Recorded details of sent messages in a snapshot directory (DESIGN.md, "Files"):
//! `correspondence/<correspondence-id>/details.json`, or `details.json.status.json` for an
//! answer that was not 2xx. Read like the other recorded evidence: a directory without either
//! file is no data (skipped); a file that cannot be used, a refusal (401/403) or any other
//! status makes the message unusable, named with its file — it stays as it was, never read.

use std::path::Path;

use rustc_hash::FxHashMap;

use super::details::parse_details;
use super::message::CorrespondenceId;
use super::{Fetched, Gathered};
use crate::evidence::{Recorded, SnapshotDir, recorded};
use crate::store::KnownMessage;

/// The directory of recorded correspondence details in a snapshot.
pub const CORRESPONDENCE: &str = "correspondence";
/// A correspondence's details, in its directory under [`CORRESPONDENCE`].
pub const DETAILS_FILE: &str = "details.json";

/// Reads every recorded message that is not final in `known`.
pub(super) async fn gather(
    dir: &SnapshotDir,
    known: &FxHashMap<CorrespondenceId, KnownMessage>,
) -> Gathered {
    let root = dir.root().join(CORRESPONDENCE);
    let skip: Vec<CorrespondenceId> = known
        .iter()
        .filter(|(_, k)| k.is_final)
        .map(|(id, _)| *id)
        .collect();
    match tokio::task::spawn_blocking(move || read_all(&root, &skip)).await {
        Ok(g) => g,
        Err(e) => {
            tracing::error!(error = %e, "reading recorded correspondence failed");
            Gathered::default()
        }
    }
}

/// Why a recorded message cannot be used.
struct Unusable {
    /// The file that says so.
    file: std::path::PathBuf,
    /// What Altinn answered (a recorded status), rather than a file that is broken.
    answered: bool,
    /// Why, without the file.
    why: String,
}

impl Unusable {
    fn named(&self) -> String {
        format!("`{}`: {}", self.file.display(), self.why)
    }
}

/// Every problem in a snapshot's recorded correspondence, for `validate`: details that
/// cannot be used are errors (they would be named on every poll); a recorded refusal or
/// other status is a warning (it is what Altinn answered).
pub fn check_recorded(snapshot: &Path) -> Vec<crate::problem::Problem> {
    use crate::problem::Problem;
    read_each(&snapshot.join(CORRESPONDENCE), &[])
        .1
        .into_iter()
        .filter_map(|(_, r)| r?.err())
        .map(|u| {
            if u.answered {
                Problem::warning(&u.file, None, u.why)
            } else {
                let line = u
                    .why
                    .rsplit_once(" at line ")
                    .and_then(|(_, r)| r.split_whitespace().next()?.parse().ok());
                Problem::error(&u.file, line, u.why)
            }
        })
        .collect()
}

fn read_all(root: &Path, skip: &[CorrespondenceId]) -> Gathered {
    let (listed, each) = read_each(root, skip);
    let mut out = Gathered {
        listed,
        ..Gathered::default()
    };
    for (id, r) in each {
        let details = match r {
            None => continue,
            Some(Ok(m)) => Ok(m),
            Some(Err(u)) => Err(u.named()),
        };
        out.items.push(Fetched {
            id,
            resource: details.as_ref().ok().map(|m| m.resource.clone()),
            details,
        });
    }
    out
}

type Each = (CorrespondenceId, Option<Result<super::Message, Unusable>>);

/// Each recorded message under `root` not in `skip`, and how many directories there were:
/// its details, why they cannot be used, or `None` when nothing is recorded.
fn read_each(root: &Path, skip: &[CorrespondenceId]) -> (u64, Vec<Each>) {
    let skip: rustc_hash::FxHashSet<CorrespondenceId> = skip.iter().copied().collect();
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (0, Vec::new()),
        Err(e) => {
            tracing::warn!(dir = %root.display(), error = %e, "cannot read recorded correspondence");
            return (0, Vec::new());
        }
    };
    let mut dirs: Vec<(CorrespondenceId, std::path::PathBuf)> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(|n| CorrespondenceId::parse(n).ok()) else {
            tracing::warn!(entry = %entry.path().display(), "not a correspondence id: skipped");
            continue;
        };
        if !skip.contains(&id) {
            dirs.push((id, entry.path()));
        }
    }
    dirs.sort_unstable_by_key(|(id, _)| *id);
    let listed = dirs.len() as u64;
    let each = dirs
        .into_iter()
        .map(|(id, dir)| {
            let path = dir.join(DETAILS_FILE);
            let answered = |file, why: String| {
                Some(Err(Unusable {
                    file,
                    answered: true,
                    why,
                }))
            };
            let r = match recorded(&path, |b| {
                parse_details(b, Some(id)).map_err(|e| e.to_string())
            }) {
                Recorded::Missing => None,
                Recorded::Answer(m) => Some(Ok(m)),
                Recorded::Bad(why, file) => Some(Err(Unusable {
                    file,
                    answered: false,
                    why,
                })),
                Recorded::Status(s @ (401 | 403), file) => answered(
                    file,
                    format!("refused (HTTP {s}): the sender's token may not read this message"),
                ),
                Recorded::Status(404, file) => answered(
                    file,
                    "not found (HTTP 404): Altinn no longer has this message".to_owned(),
                ),
                Recorded::Status(s, file) => answered(file, format!("the answer was HTTP {s}")),
            };
            (id, r)
        })
        .collect();
    (listed, each)
}
