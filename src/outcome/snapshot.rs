//! Recorded details of sent messages in a snapshot directory (docs/design.md, "Files"):
//! `correspondence/<correspondence-id>/details.json`, or `details.json.status.json` for an
//! answer that was not 2xx. Read like the other recorded evidence: a directory without either
//! file is no data (skipped); a file that cannot be used, a refusal (401/403) or any other
//! status makes the message unusable, named with its file — it stays as it was, never read.
//!
//! Recorded details are replayed as of the poll's time ([`Message::as_of`]): a message
//! published later does not exist yet, and a read after it has not happened. So a snapshot
//! judged at a pinned `now` sees what a live poll would have seen then.

use std::path::Path;

use jiff::Timestamp;

use rustc_hash::FxHashMap;

use super::details::parse_details;
use super::message::{CorrespondenceId, Message};
use super::{Fetched, Gathered};
use crate::evidence::{Recorded, SnapshotDir, recorded};
use crate::store::KnownMessage;

/// The directory of recorded correspondence details in a snapshot.
pub const CORRESPONDENCE: &str = "correspondence";
/// A correspondence's details, in its directory under [`CORRESPONDENCE`].
pub const DETAILS_FILE: &str = "details.json";

/// Reads every recorded message that is not final in `known`, as it stood at `as_of`
/// (everything recorded when `None`).
pub(super) async fn gather(
    dir: &SnapshotDir,
    known: &FxHashMap<CorrespondenceId, KnownMessage>,
    as_of: Option<Timestamp>,
) -> Gathered {
    let root = dir.root().join(CORRESPONDENCE);
    let skip: Vec<CorrespondenceId> = known
        .iter()
        .filter(|(_, k)| k.is_final)
        .map(|(id, _)| *id)
        .collect();
    match tokio::task::spawn_blocking(move || read_all(&root, &skip, as_of)).await {
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

fn read_all(root: &Path, skip: &[CorrespondenceId], as_of: Option<Timestamp>) -> Gathered {
    let (mut listed, each) = read_each(root, skip);
    let mut out = Gathered::default();
    for (id, r) in each {
        let details = match r {
            None => continue,
            Some(Ok(m)) => match as_of {
                None => Ok(m),
                Some(t) => match m.as_of(t) {
                    Some(m) => Ok(m),
                    None => {
                        // Not sent yet at `as_of`: not in the list either.
                        listed -= 1;
                        continue;
                    }
                },
            },
            Some(Err(u)) => Err(u.named()),
        };
        out.items.push(Fetched {
            id,
            resource: details.as_ref().ok().map(|m| m.resource.clone()),
            details,
        });
    }
    out.listed = listed;
    out
}

type Each = (CorrespondenceId, Option<Result<Message, Unusable>>);

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

#[cfg(test)]
mod tests {
    use super::*;

    const EARLY: &str = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    const LATE: &str = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c";

    fn write(root: &Path, id: &str, published: &str, read: &str) {
        let dir = root.join(CORRESPONDENCE).join(id);
        std::fs::create_dir_all(&dir).unwrap();
        let body = serde_json::json!({
            "correspondenceId": id,
            "resourceId": "politi-bekymringsmelding",
            "recipient": "urn:altinn:organization:identifier-no:964338531",
            "published": published,
            "read": read,
        });
        std::fs::write(dir.join(DETAILS_FILE), body.to_string()).unwrap();
    }

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn recorded_details_are_replayed_as_of_the_polls_time() {
        let tmp = tempfile::tempdir().unwrap();
        write(
            tmp.path(),
            EARLY,
            "2026-11-21T04:00:00Z",
            "2026-11-22T09:00:00Z",
        );
        write(
            tmp.path(),
            LATE,
            "2026-11-21T08:00:00Z",
            "2026-11-21T08:30:00Z",
        );
        let root = tmp.path().join(CORRESPONDENCE);
        let read = |g: &Gathered| -> Vec<(String, Option<Timestamp>)> {
            g.items
                .iter()
                .map(|f| (f.id.to_string(), f.details.as_ref().unwrap().read))
                .collect()
        };

        // Before the second was published: it does not exist yet, and the first is unread.
        let g = read_all(&root, &[], Some(t("2026-11-21T06:00:00Z")));
        assert_eq!(g.listed, 1);
        assert_eq!(read(&g), [(EARLY.to_owned(), None)]);

        // Between the second's read and the first's.
        let g = read_all(&root, &[], Some(t("2026-11-21T09:00:00Z")));
        assert_eq!(g.listed, 2);
        assert_eq!(
            read(&g),
            [
                (EARLY.to_owned(), None),
                (LATE.to_owned(), Some(t("2026-11-21T08:30:00Z")))
            ]
        );

        // Without a time, everything as recorded.
        let g = read_all(&root, &[], None);
        assert_eq!(
            read(&g),
            [
                (EARLY.to_owned(), Some(t("2026-11-22T09:00:00Z"))),
                (LATE.to_owned(), Some(t("2026-11-21T08:30:00Z")))
            ]
        );
    }
}
