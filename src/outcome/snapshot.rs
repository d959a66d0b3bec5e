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

/// Every problem in a snapshot's recorded correspondence, for `validate`: details that
/// cannot be used are errors (they would be named on every poll); a recorded refusal or
/// other status is a warning (it is what Altinn answered).
pub fn check_recorded(snapshot: &Path) -> Vec<crate::problem::Problem> {
    use crate::problem::Problem;
    let root = snapshot.join(CORRESPONDENCE);
    let g = read_all(&root, &[]);
    g.items
        .into_iter()
        .filter_map(|f| {
            let why = f.details.err()?;
            let file = root.join(f.id.to_string()).join(DETAILS_FILE);
            // The reason names its file first; keep the rest.
            let msg = why
                .split_once("`: ")
                .map_or(why.as_str(), |(_, rest)| rest)
                .to_owned();
            Some(
                if msg.starts_with("refused")
                    || msg.starts_with("not found")
                    || msg.starts_with("the answer was HTTP")
                {
                    Problem::warning(&crate::evidence::status_path(&file), None, msg)
                } else {
                    let line = msg
                        .rsplit_once(" at line ")
                        .and_then(|(_, r)| r.split_whitespace().next()?.parse().ok());
                    Problem::error(&file, line, msg)
                },
            )
        })
        .collect()
}

fn read_all(root: &Path, skip: &[CorrespondenceId]) -> Gathered {
    let skip: rustc_hash::FxHashSet<CorrespondenceId> = skip.iter().copied().collect();
    let mut out = Gathered::default();
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return out,
        Err(e) => {
            tracing::warn!(dir = %root.display(), error = %e, "cannot read recorded correspondence");
            return out;
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
    out.listed = dirs.len() as u64;
    for (id, dir) in dirs {
        let path = dir.join(DETAILS_FILE);
        let details = match recorded(&path, |b| {
            parse_details(b, Some(id)).map_err(|e| e.to_string())
        }) {
            Recorded::Missing => continue,
            Recorded::Answer(m) => Ok(m),
            Recorded::Bad(why, file) => Err(format!("`{}`: {why}", file.display())),
            Recorded::Status(s @ (401 | 403), file) => Err(format!(
                "`{}`: refused (HTTP {s}): the sender's token may not read this message",
                file.display()
            )),
            Recorded::Status(404, file) => Err(format!(
                "`{}`: not found (HTTP 404): Altinn no longer has this message",
                file.display()
            )),
            Recorded::Status(s, file) => {
                Err(format!("`{}`: the answer was HTTP {s}", file.display()))
            }
        };
        out.items.push(Fetched {
            id,
            resource: details.as_ref().ok().map(|m| m.resource.clone()),
            details,
        });
    }
    out
}
