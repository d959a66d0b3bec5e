//! [`Problem`]: one error or warning about an input file, with file and line, so that
//! loaders can report every problem at once.

use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a problem is.
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord)]
pub enum Level {
    /// Worth fixing; the input is still usable.
    Warning,
    /// The input cannot be used as it is.
    Error,
}

/// A problem in an input file: what is wrong, where.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Problem {
    /// Error or warning.
    pub level: Level,
    /// The file, as the user named it.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<u32>,
    /// One lower-case sentence; user input in backticks.
    pub message: String,
}

impl Problem {
    /// An error at `file`, `line`.
    pub fn error(file: &Path, line: Option<u32>, message: impl Into<String>) -> Self {
        Problem {
            level: Level::Error,
            file: file.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    /// A warning at `file`, `line`.
    pub fn warning(file: &Path, line: Option<u32>, message: impl Into<String>) -> Self {
        Problem {
            level: Level::Warning,
            ..Problem::error(file, line, message)
        }
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.level == Level::Error
    }

    /// The problem as one line for stderr: `error: …` or `warning: …`.
    pub fn report_line(&self) -> String {
        let level = if self.is_error() { "error" } else { "warning" };
        format!("{level}: {self}")
    }
}

impl fmt::Display for Problem {
    /// `` `policies/x.xml`: line 12: unknown attribute `role` ``
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: ", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// A list of problems, displayed one per line.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    /// Whether any problem is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Problem::is_error)
    }

    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter().filter(|p| p.is_error())
    }

    /// The warnings only.
    pub fn warnings(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter().filter(|p| !p.is_error())
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// The 1-based line of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> u32 {
    let end = offset.min(text.len());
    let line = text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1;
    u32::try_from(line).unwrap_or(u32::MAX)
}

/// How many characters of an offending value a message quotes.
pub const EXCERPT_CHARS: usize = 40;

/// An offending value as a message quotes it: whole when short, else its first
/// [`EXCERPT_CHARS`] characters, `…` and its length, so that a huge field never floods the
/// terminal or the log.
pub fn excerpt(value: &str) -> String {
    let mut chars = value.char_indices();
    match chars.nth(EXCERPT_CHARS) {
        None => value.to_owned(),
        Some((cut, _)) => format!("{}… ({} bytes)", &value[..cut], value.len()),
    }
}

/// Lines of byte offsets looked up in (nearly) document order, as a parser's events or a
/// file's entries come: each call counts the newlines between the previous offset and
/// this one, so a whole document costs one pass, where [`line_of`] on every event would
/// cost one pass per event.
#[derive(Debug)]
pub struct Lines<'a> {
    text: &'a [u8],
    offset: usize,
    line: u32,
}

impl<'a> Lines<'a> {
    /// Lines of `text`, starting at its first byte.
    pub fn new(text: &'a str) -> Self {
        Lines {
            text: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    /// The line of `offset`. Counting costs the distance from the previous offset, either
    /// way, so lookups in (nearly) document order cost one pass in all.
    pub fn at(&mut self, offset: usize) -> u32 {
        let end = offset.min(self.text.len());
        let count = |from: usize, to: usize| {
            let n = self.text[from..to].iter().filter(|&&b| b == b'\n').count();
            u32::try_from(n).unwrap_or(u32::MAX)
        };
        self.line = if end >= self.offset {
            self.line.saturating_add(count(self.offset, end))
        } else {
            self.line.saturating_sub(count(end, self.offset))
        };
        self.offset = end;
        self.line
    }
}

/// Describes a TOML deserialisation error as one sentence plus its line.
pub(crate) fn toml_error(text: &str, err: &toml::de::Error) -> (Option<u32>, String) {
    let line = err.span().map(|s| line_of(text, s.start));
    let mut msg = err.message().trim().replace('\n', " ");
    for (rust, plain) in [
        ("expected i64", "expected an integer"),
        ("expected u32", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected f64", "expected a number"),
    ] {
        msg = msg.replace(rust, plain);
    }
    // Name the key the bad value belongs to, when the value sits on a `key = value` line.
    let key = err.span().and_then(|s| {
        let start = text.get(..s.start)?.rfind('\n').map_or(0, |i| i + 1);
        let (key, _) = text.get(start..s.start)?.split_once('=')?;
        let key = key.trim().trim_matches('"');
        (!key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        .then(|| key.to_owned())
    });
    let msg = lowercase_first(&msg);
    match key {
        Some(k) if !msg.contains(&format!("`{k}`")) => (line, format!("`{k}`: {msg}")),
        _ => (line, msg),
    }
}

/// `Foo bar` -> `foo bar`, for messages from libraries.
pub(crate) fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_print_file_line_and_message() {
        let p = Problem::error(
            Path::new("policies/x.xml"),
            Some(12),
            "unknown attribute `role`",
        );
        assert_eq!(
            p.to_string(),
            "`policies/x.xml`: line 12: unknown attribute `role`"
        );
        let w = Problem::warning(Path::new("routes.csv"), None, "no routes");
        assert_eq!(w.to_string(), "`routes.csv`: no routes");
        assert!(Problems(vec![p, w]).has_errors());
    }

    #[test]
    fn line_of_counts_newlines_before_the_offset() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }

    #[test]
    fn excerpts_keep_short_values_and_cut_long_ones_on_a_character() {
        assert_eq!(excerpt("31000001"), "31000001");
        let long = "ø".repeat(1000);
        let e = excerpt(&long);
        assert!(e.starts_with(&"ø".repeat(EXCERPT_CHARS)), "{e}");
        assert!(e.ends_with("… (2000 bytes)"), "{e}");
        assert_eq!(
            e.chars().count(),
            EXCERPT_CHARS + " … (2000 bytes)".chars().count() - 1
        );
        assert_eq!(
            excerpt(&"x".repeat(EXCERPT_CHARS)),
            "x".repeat(EXCERPT_CHARS)
        );
    }

    #[test]
    fn lines_moving_forward_agree_with_line_of_everywhere() {
        let text = "a\nbb\n\nccc\nd";
        let mut lines = Lines::new(text);
        for offset in 0..=text.len() + 2 {
            assert_eq!(lines.at(offset), line_of(text, offset), "offset {offset}");
        }
        // Backwards still answers right.
        assert_eq!(lines.at(1), 1);
        assert_eq!(lines.at(3), 2);
    }
}
