//! Recording a live sweep as a snapshot directory: every answer at the path the snapshot
//! layout gives it (docs/design.md, "Files"), a non-2xx answer as `<path>.status.json`, pages merged,
//! so that the recording replays (as a snapshot, or through `altinn-sim`) to the same
//! verdicts as the sweep that made it.
//!
//! Owns: where each answer goes, and keeping personal data out of it (a connection's
//! `personIdentifier` is dropped, anything shaped like an identity number in a string is
//! masked). Does not own: which requests are made (the live source), nor reading it back
//! (the snapshot directory).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use jiff::Timestamp;
use serde_json::Value;

use super::{MANIFEST, STATUS_SUFFIX};

/// Writes the answers of one sweep under a directory.
#[derive(Debug)]
pub struct Recorder {
    root: PathBuf,
    /// The first write that failed; the recording is then incomplete, and says so.
    failed: Mutex<Option<String>>,
}

/// The recording could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot record the sweep in `{path}`: {reason}")]
pub struct RecordError {
    /// The directory.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

impl Recorder {
    /// A recorder into `root`, which must not exist or be empty (a recording is whole,
    /// never mixed with an older one).
    ///
    /// # Errors
    /// The directory holds files, or cannot be created.
    pub fn new(root: &Path) -> Result<Recorder, RecordError> {
        let err = |reason: String| RecordError {
            path: root.to_path_buf(),
            reason,
        };
        if root.exists() {
            let mut entries = std::fs::read_dir(root).map_err(|e| err(e.to_string()))?;
            if entries.next().is_some() {
                return Err(err(
                    "the directory is not empty: record into a new directory".to_owned(),
                ));
            }
        }
        std::fs::create_dir_all(root).map_err(|e| err(e.to_string()))?;
        Ok(Recorder {
            root: root.to_path_buf(),
            failed: Mutex::new(None),
        })
    }

    /// Records the answer to the request whose snapshot path is `rel`: the body of a 2xx
    /// answer, else `{"status": N, "body": ...}` at `rel.status.json`.
    pub fn answer(&self, rel: &str, status: u16, body: &[u8]) {
        let result = if (200..300).contains(&status) {
            let bytes = if rel.ends_with(".json") {
                clean_json(body)
            } else {
                body.to_vec()
            };
            self.write(rel, &bytes)
        } else {
            let body = if body.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice::<Value>(body).unwrap_or_else(|_| {
                    Value::String(
                        crate::model::mask_identity_numbers(&String::from_utf8_lossy(body))
                            .into_owned(),
                    )
                })
            };
            let text = serde_json::json!({"status": status, "body": clean(body)});
            self.write(
                &format!("{rel}{STATUS_SUFFIX}"),
                text.to_string().as_bytes(),
            )
        };
        if let Err(e) = result {
            let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
            failed.get_or_insert_with(|| format!("`{rel}`: {e}"));
        }
    }

    fn write(&self, rel: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, bytes)
    }

    /// Writes the manifest, naming the sources the sweep did not ask (by snapshot
    /// directory) so that a replay reads their absence as "not asked", not as missing;
    /// reports a write that failed on the way.
    ///
    /// # Errors
    /// Some answer (or the manifest) could not be written.
    pub fn finish(&self, taken_at: Timestamp, not_asked: &[&str]) -> Result<(), RecordError> {
        let err = |reason: String| RecordError {
            path: self.root.clone(),
            reason,
        };
        if let Some(f) = self.failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Err(err(f));
        }
        let mut manifest = serde_json::json!({"taken_at": taken_at.to_string()});
        if !not_asked.is_empty() {
            manifest["not_asked"] = serde_json::json!(not_asked);
        }
        self.write(MANIFEST, manifest.to_string().as_bytes())
            .map_err(|e| err(e.to_string()))
    }
}

/// A JSON body with personal data removed; bytes that are not JSON are kept as they are
/// (the reader will call them malformed, as the sweep did).
fn clean_json(body: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => serde_json::to_vec_pretty(&clean(v)).unwrap_or_else(|_| body.to_vec()),
        Err(_) => body.to_vec(),
    }
}

/// Drops `personIdentifier` keys and masks identity-number-like text, everywhere in `v`.
fn clean(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| k != "personIdentifier")
                .map(|(k, v)| (k, clean(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(clean).collect()),
        Value::String(s) => Value::String(crate::model::mask_identity_numbers(&s).into_owned()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_land_at_their_paths_and_identity_numbers_never_do() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("rec");
        let r = Recorder::new(&root).unwrap();
        r.answer(
            "accessmanagement/connections/964338531.json",
            200,
            br#"{"links":{"next":null},"data":[{"party":{"id":"u1","personIdentifier":"01017012343","name":"Kari 01017012343"}}]}"#,
        );
        r.answer("profile/notificationaddresses/964338531.json", 403, b"");
        r.finish("2026-11-21T05:00:00Z".parse().unwrap(), &[])
            .unwrap();
        let conn =
            std::fs::read_to_string(root.join("accessmanagement/connections/964338531.json"))
                .unwrap();
        assert!(!conn.contains("01017012343"), "{conn}");
        assert!(conn.contains("\"u1\""));
        let status: Value = serde_json::from_str(
            &std::fs::read_to_string(
                root.join("profile/notificationaddresses/964338531.json.status.json"),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(status["status"], 403);
        assert!(root.join(MANIFEST).is_file());
        // A recording is never mixed into an older one.
        assert!(Recorder::new(&root).is_err());
    }
}
