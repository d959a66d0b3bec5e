//! The routing table: a CSV file with header `sender,message_type,recipient`, `#` comments
//! and blank lines allowed (docs/design.md, "Files").
//!
//! Owns: parsing and checking every row against the known message types, reporting every
//! bad row with its line. Does not own: judging routes.

use std::path::{Path, PathBuf};

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
            .flexible(true)
            .from_reader(bytes);
        let mut width = 0;
        let columns = match reader.headers().cloned() {
            Ok(h) => {
                width = h.len();
                let find = |name: &str| h.iter().position(|c| c.trim().eq_ignore_ascii_case(name));
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
                                h.iter().map(str::trim).collect::<Vec<_>>().join(",")
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
        // About 30 bytes a row: room for all of them at once.
        let mut entries = Vec::with_capacity(bytes.len() / 30);
        let mut warnings = Vec::new();
        if let Some((cs, cm, cr)) = columns {
            // Duplicates are found afterwards by sorting plain-number keys (sender, message
            // type index, recipient): no string hashing, no copies of the route.
            let mut keys: Vec<(u128, u32)> = Vec::with_capacity(entries.capacity());
            // One shared id per message type, not one allocation per row; only known
            // types are kept, so a hit needs no further check.
            let mut interned: Vec<MessageTypeId> = Vec::new();
            let mut record = csv::StringRecord::new();
            loop {
                match reader.read_record(&mut record) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        problems.push(Problem::error(
                            file,
                            e.position().map(|p| lines.at(p.byte())),
                            format!("cannot read the row: {}", csv_error_text(&e)),
                        ));
                        // A record the reader cannot parse may not let it go on.
                        if e.is_io_error() {
                            break;
                        }
                        continue;
                    }
                }
                let line = record.position().map_or(0, |p| lines.at(p.byte()));
                if record.iter().all(|f| f.trim().is_empty()) {
                    continue;
                }
                if record.len() != width {
                    problems.push(Problem::error(
                        file,
                        Some(line),
                        format!(
                            "the row `{}` has {} fields: expected {width}, as in the header",
                            crate::problem::excerpt(
                                &record.iter().map(str::trim).collect::<Vec<_>>().join(",")
                            ),
                            record.len()
                        ),
                    ));
                    continue;
                }
                // Trimmed here, not by the reader: its trimming copies every record.
                let field = |i: usize| record.get(i).unwrap_or("").trim();
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
                let raw_type = field(cm).trim();
                let message_type = match interned.iter().position(|t| t.as_str() == raw_type) {
                    Some(i) => Ok(i),
                    None => match MessageTypeId::parse(raw_type) {
                        Ok(t) if known(&t) => {
                            interned.push(t);
                            Ok(interned.len() - 1)
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
                    },
                };
                if problems.len() > before {
                    continue;
                }
                if let (Ok(sender), Ok(t), Ok(recipient)) = (sender, message_type, recipient) {
                    let key = (u128::from(sender.get()) << 64)
                        | ((t as u128) << 32)
                        | u128::from(recipient.get());
                    keys.push((key, line));
                    entries.push(RouteEntry {
                        route: Route::new(sender, interned[t].clone(), recipient),
                        line,
                    });
                }
            }
            // Sorted by key, then line: each run of one route starts at its first line.
            keys.sort_unstable();
            let mut repeats: Vec<(u32, u32)> = Vec::new();
            let mut first = None;
            for (i, &(key, line)) in keys.iter().enumerate() {
                if i > 0 && keys[i - 1].0 == key {
                    repeats.push((line, first.unwrap_or(line)));
                } else {
                    first = Some(line);
                }
            }
            repeats.sort_unstable();
            warnings.extend(repeats.into_iter().map(|(line, first)| {
                Problem::warning(file, Some(line), format!("this route repeats line {first}"))
            }));
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

    #[test]
    fn repeats_name_the_first_line_and_come_in_file_order() {
        let t = parse(concat!(
            "sender,message_type,recipient\n",
            "310000000,post,964338531\n",
            "310000000,bekymringsmelding,964338531\n",
            " 310000000 , post , 964338531 \n",
            "310000000,bekymringsmelding,964338531\n",
            "310000000,post,964 338 531\n",
        ))
        .unwrap();
        assert_eq!(t.len(), 5);
        let w: Vec<String> = t.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            w,
            [
                "`routes.csv`: line 4: this route repeats line 2",
                "`routes.csv`: line 5: this route repeats line 3",
                "`routes.csv`: line 6: this route repeats line 2",
            ]
        );
    }
}
