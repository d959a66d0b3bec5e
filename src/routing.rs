//! The routing table: a CSV file with header `sender,message_type,recipient`, `#` comments
//! and blank lines allowed (DESIGN.md, "Files").
//!
//! Owns: parsing and checking every row against the known message types, reporting every
//! bad row with its line. Does not own: judging routes.

use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;

use crate::model::{MessageTypeId, OrgNumber, OrgNumberError, Route};
use crate::policy::Policies;
use crate::problem::{Problem, Problems};

/// One route and the line it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteEntry {
    /// The route.
    pub route: Route,
    /// 1-based line in the routing table.
    pub line: u32,
}

/// A checked routing table, routes in file order.
#[derive(Clone, Debug, Default)]
pub struct RoutingTable {
    /// The file it was read from.
    pub file: PathBuf,
    /// The routes, in file order.
    pub entries: Vec<RouteEntry>,
    /// Warnings (e.g. duplicate rows); errors refuse the table.
    pub warnings: Vec<Problem>,
}

/// The routing table could not be loaded; every problem found is listed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{problems}")]
pub struct RoutingError {
    /// Errors and warnings, each with file and line.
    pub problems: Problems,
}

impl RoutingTable {
    /// Reads and checks a routing table against the message types in `policies`.
    pub fn load(file: &Path, policies: &Policies) -> Result<RoutingTable, RoutingError> {
        match std::fs::read(file) {
            Ok(bytes) => RoutingTable::parse(
                file,
                &bytes,
                |t| policies.message_type(t).is_some(),
                &known_list(policies),
            ),
            Err(e) => Err(RoutingError {
                problems: Problems(vec![Problem::error(
                    file,
                    None,
                    format!("cannot read the routing table: {e}"),
                )]),
            }),
        }
    }

    /// Parses routing-table bytes. `known` says whether a message type exists;
    /// `known_names` lists them for the error message.
    pub fn parse(
        file: &Path,
        bytes: &[u8],
        known: impl Fn(&MessageTypeId) -> bool,
        known_names: &str,
    ) -> Result<RoutingTable, RoutingError> {
        let mut problems = Vec::new();
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut lines = Lines::new(bytes);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .flexible(true)
            .from_reader(bytes);
        let mut width = 0;
        let columns = match reader.headers().cloned() {
            Ok(h) => {
                width = h.len();
                let find = |name: &str| h.iter().position(|c| c.eq_ignore_ascii_case(name));
                match (find("sender"), find("message_type"), find("recipient")) {
                    (Some(s), Some(m), Some(r)) => Some((s, m, r)),
                    _ => {
                        problems.push(Problem::error(
                            file,
                            reader
                                .headers()
                                .ok()
                                .and_then(|h| h.position())
                                .map(|p| lines.at(p.byte())),
                            format!(
                                "the header is `{}`: expected `sender,message_type,recipient`",
                                h.iter().collect::<Vec<_>>().join(",")
                            ),
                        ));
                        None
                    }
                }
            }
            Err(e) => {
                problems.push(Problem::error(
                    file,
                    Some(1),
                    format!("cannot read the header: {e}"),
                ));
                None
            }
        };
        let mut entries = Vec::new();
        let mut warnings = Vec::new();
        if let Some((cs, cm, cr)) = columns {
            let mut seen: FxHashMap<Route, u32> = FxHashMap::default();
            let mut interned: Vec<MessageTypeId> = Vec::new();
            for record in reader.records() {
                let record = match record {
                    Ok(r) => r,
                    Err(e) => {
                        problems.push(Problem::error(
                            file,
                            e.position().map(|p| lines.at(p.byte())),
                            format!("cannot read the row: {}", csv_error_text(&e)),
                        ));
                        continue;
                    }
                };
                let line = record.position().map_or(0, |p| lines.at(p.byte()));
                if record.iter().all(str::is_empty) {
                    continue;
                }
                if record.len() != width {
                    problems.push(Problem::error(
                        file,
                        Some(line),
                        format!(
                            "the row `{}` has {} fields: expected {width}, as in the header",
                            record.iter().collect::<Vec<_>>().join(","),
                            record.len()
                        ),
                    ));
                    continue;
                }
                let field = |i: usize| record.get(i).unwrap_or("");
                let before = problems.len();
                let sender = OrgNumber::parse(field(cs)).map_err(|e| {
                    problems.push(Problem::error(file, Some(line), org_problem("sender", &e)))
                });
                let recipient = OrgNumber::parse(field(cr)).map_err(|e| {
                    problems.push(Problem::error(
                        file,
                        Some(line),
                        org_problem("recipient", &e),
                    ))
                });
                // One shared id per message type, not one allocation per row.
                let existing = interned
                    .iter()
                    .find(|t| t.as_str() == field(cm).trim())
                    .cloned();
                let message_type =
                    match existing.map_or_else(|| MessageTypeId::parse(field(cm)), Ok) {
                        Ok(t) if known(&t) => {
                            if !interned.contains(&t) {
                                interned.push(t.clone());
                            }
                            Ok(t)
                        }
                        Ok(t) => {
                            problems.push(Problem::error(
                                file,
                                Some(line),
                                format!(
                                    "unknown message type `{t}`: the policies define {known_names}"
                                ),
                            ));
                            Err(())
                        }
                        Err(e) => {
                            problems.push(Problem::error(file, Some(line), e.to_string()));
                            Err(())
                        }
                    };
                if problems.len() > before {
                    continue;
                }
                if let (Ok(sender), Ok(message_type), Ok(recipient)) =
                    (sender, message_type, recipient)
                {
                    let route = Route::new(sender, message_type, recipient);
                    if let Some(first) = seen.get(&route) {
                        warnings.push(Problem::warning(
                            file,
                            Some(line),
                            format!("this route repeats line {first}"),
                        ));
                    } else {
                        seen.insert(route.clone(), line);
                    }
                    entries.push(RouteEntry { route, line });
                }
            }
            if entries.is_empty() && problems.is_empty() {
                problems.push(Problem::error(
                    file,
                    None,
                    "the routing table has no routes: add rows `sender,message_type,recipient`",
                ));
            }
        }
        if !problems.is_empty() {
            problems.extend(warnings);
            return Err(RoutingError {
                problems: Problems(problems),
            });
        }
        Ok(RoutingTable {
            file: file.to_path_buf(),
            entries,
            warnings,
        })
    }

    /// The routes, in file order.
    pub fn routes(&self) -> impl ExactSizeIterator<Item = &Route> {
        self.entries.iter().map(|e| &e.route)
    }

    /// How many routes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no routes.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Where the record starting at byte `offset` really begins. The csv crate counts neither
/// comment lines nor the blank lines it skips, so this steps over blank and comment lines.
fn record_start(bytes: &[u8], offset: u64) -> usize {
    let mut end = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    loop {
        let rest = &bytes[end..];
        let skip = if rest.starts_with(b"\r\n") {
            2
        } else if rest.starts_with(b"\n") {
            1
        } else if rest.starts_with(b"#") {
            rest.iter()
                .position(|&b| b == b'\n')
                .map_or(rest.len(), |i| i + 1)
        } else {
            0
        };
        if skip == 0 {
            break;
        }
        end += skip;
    }
    end
}

/// Turns byte offsets into physical line numbers, counting newlines incrementally so that
/// a table of a million rows is read in linear time.
struct Lines<'a> {
    bytes: &'a [u8],
    pos: usize,
    newlines: usize,
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Lines {
            bytes,
            pos: 0,
            newlines: 0,
        }
    }

    /// The 1-based line where the record starting at byte `offset` really begins.
    fn at(&mut self, offset: u64) -> u32 {
        let end = record_start(self.bytes, offset);
        if end < self.pos {
            self.pos = 0;
            self.newlines = 0;
        }
        self.newlines += self.bytes[self.pos..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.pos = end;
        u32::try_from(self.newlines + 1).unwrap_or(u32::MAX)
    }
}

/// `sender `x` is not ...`, or `sender is empty`.
fn org_problem(column: &str, e: &OrgNumberError) -> String {
    match e {
        OrgNumberError::Empty => format!("{column} is empty"),
        other => format!("{column} {other}"),
    }
}

/// "`a`, `b` and `c`" for the known message types.
fn known_list(policies: &Policies) -> String {
    let names: Vec<String> = policies
        .message_types()
        .iter()
        .map(|m| format!("`{}`", m.id))
        .collect();
    match names.as_slice() {
        [] => "no message types".to_owned(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn csv_error_text(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "it is not valid UTF-8".to_owned(),
        _ => crate::problem::lowercase_first(&e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RoutingTable, Vec<String>> {
        RoutingTable::parse(
            Path::new("routes.csv"),
            text.as_bytes(),
            |t| matches!(t.as_str(), "post" | "bekymringsmelding"),
            "`bekymringsmelding` and `post`",
        )
        .map_err(|e| e.problems.0.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn comments_blank_lines_and_spaces_are_allowed() {
        let t = parse(
            "# who sends what\nsender,message_type,recipient\n\n310000000, post ,964338531\n# end\n310000000,bekymringsmelding,964 338 531\n",
        )
        .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.entries[0].line, 4);
        assert_eq!(t.entries[1].line, 6);
        assert_eq!(t.entries[1].route.recipient.to_string(), "964338531");
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line_and_value() {
        let err = parse(concat!(
            "sender,message_type,recipient\n",
            "310000000,post,964338531\n",
            "31000000,post,964338531\n",
            "310000000,brev,964338532\n",
            "310000000,post\n",
        ))
        .unwrap_err();
        assert_eq!(
            err,
            [
                "`routes.csv`: line 3: sender `31000000` is not an organisation number: it has 8 digits, not 9",
                "`routes.csv`: line 4: recipient `964338532` is not a valid organisation number: its check digit should be 1",
                "`routes.csv`: line 4: unknown message type `brev`: the policies define `bekymringsmelding` and `post`",
                "`routes.csv`: line 5: the row `310000000,post` has 2 fields: expected 3, as in the header",
            ]
        );
    }

    #[test]
    fn a_wrong_header_and_an_empty_table_are_errors() {
        assert_eq!(
            parse("from,type,to\n310000000,post,964338531\n").unwrap_err(),
            [
                "`routes.csv`: line 1: the header is `from,type,to`: expected `sender,message_type,recipient`"
            ]
        );
        assert_eq!(
            parse("sender,message_type,recipient\n# nothing yet\n").unwrap_err(),
            [
                "`routes.csv`: the routing table has no routes: add rows `sender,message_type,recipient`"
            ]
        );
    }

    #[test]
    fn a_repeated_route_is_a_warning() {
        let t = parse(
            "sender,message_type,recipient\n310000000,post,964338531\n310000000,post,964338531\n",
        )
        .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(
            t.warnings[0].to_string(),
            "`routes.csv`: line 3: this route repeats line 2"
        );
    }
}
