//! API bearer tokens: from `REACHCHECK_API_TOKENS` (comma-separated) and the file named by
//! `daemon.api_tokens_file` (one per line, `#` comments). Each entry is `name:token` or
//! just `token` (then named `token-N`). Only SHA-256 digests are kept, and a presented token
//! is compared with every digest in constant time.

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The environment variable holding API tokens.
pub const TOKENS_ENV: &str = "REACHCHECK_API_TOKENS";

/// Shortest token accepted: anything shorter is guessable.
pub const MIN_TOKEN_LEN: usize = 16;

/// The accepted tokens, by name.
#[derive(Clone, Default)]
pub struct Tokens {
    entries: Vec<(Arc<str>, [u8; 32])>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field(
                "names",
                &self.entries.iter().map(|e| &*e.0).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

impl Tokens {
    /// Reads the environment variable's value (if any) and the file (if any). Refuses
    /// short tokens and duplicate names, naming where they were (never the token).
    pub fn load(env: Option<&str>, file: Option<&Path>) -> Result<Tokens, String> {
        let mut t = Tokens::default();
        if let Some(v) = env {
            for (i, entry) in v.split(',').enumerate() {
                t.add(entry, &format!("`{TOKENS_ENV}` entry {}", i + 1))?;
            }
        }
        if let Some(f) = file {
            let text = std::fs::read_to_string(f)
                .map_err(|e| format!("`{}`: cannot read the API token file: {e}", f.display()))?;
            if crate::store::readable_by_others(f) {
                tracing::warn!(
                    file = %f.display(),
                    "the API token file can be read by other users: `chmod 600` it"
                );
            }
            for (i, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                t.add(line, &format!("`{}`: line {}", f.display(), i + 1))?;
            }
        }
        Ok(t)
    }

    fn add(&mut self, entry: &str, whence: &str) -> Result<(), String> {
        let entry = entry.trim();
        if entry.is_empty() {
            return Ok(());
        }
        // Every token has a name: the audit trail records who checked by it.
        let Some((name, token)) = entry
            .split_once(':')
            .map(|(n, t)| (n.trim().to_owned(), t.trim()))
            .filter(|(n, _)| !n.is_empty())
        else {
            return Err(format!(
                "{whence}: a token without a name: write `name:token` (the name is what the audit trail records)"
            ));
        };
        if token.len() < MIN_TOKEN_LEN {
            return Err(format!(
                "{whence}: the token of `{name}` is shorter than {MIN_TOKEN_LEN} characters"
            ));
        }
        if self.entries.iter().any(|(n, _)| **n == *name) {
            return Err(format!("{whence}: the name `{name}` is used twice"));
        }
        self.entries.push((name.into(), digest(token.as_bytes())));
        Ok(())
    }

    /// Whether no token is accepted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The name of the token presented, if it is accepted. Every entry is compared, in
    /// constant time, whatever matches.
    pub fn check(&self, presented: &str) -> Option<Arc<str>> {
        let d = digest(presented.as_bytes());
        let mut found = None;
        for (name, want) in &self.entries {
            if bool::from(want.ct_eq(&d)) {
                found = Some(Arc::clone(name));
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_tokens_from_env_and_file_and_an_unnamed_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        std::fs::write(&file, "# ops\nops:0123456789abcdef-ops\n\n").unwrap();
        let t = Tokens::load(
            Some("ci:0123456789abcdef-ci, anon:0123456789abcdef-anon"),
            Some(&file),
        )
        .unwrap();
        assert_eq!(t.check("0123456789abcdef-ci").as_deref(), Some("ci"));
        assert_eq!(t.check("0123456789abcdef-anon").as_deref(), Some("anon"));
        // A line without a name is refused, naming where it is and never the token.
        std::fs::write(&file, "ops:0123456789abcdef-ops\n0123456789abcdef-x\n").unwrap();
        let e = Tokens::load(None, Some(&file)).unwrap_err();
        assert!(
            e.contains("line 2") && e.contains("without a name") && !e.contains("abcdef-x"),
            "{e}"
        );
        let e = Tokens::load(Some(":0123456789abcdef-y"), None).unwrap_err();
        assert!(e.contains("entry 1") && e.contains("without a name"), "{e}");
        assert_eq!(t.check("0123456789abcdef-ops").as_deref(), Some("ops"));
        assert_eq!(t.check("0123456789abcdef-cj"), None);
        assert_eq!(t.check(""), None);
        assert!(!format!("{t:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn short_tokens_and_duplicate_names_are_refused_without_echoing_them() {
        let e = Tokens::load(Some("a:short"), None).unwrap_err();
        assert!(
            e.contains("`a`") && e.contains("shorter") && !e.contains("short:"),
            "{e}"
        );
        assert!(!e.contains("short\""));
        let e = Tokens::load(Some("a:0123456789abcdef1,a:0123456789abcdef2"), None).unwrap_err();
        assert!(e.contains("used twice"), "{e}");
    }
}
