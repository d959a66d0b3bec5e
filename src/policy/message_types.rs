//! `message-types.toml`: what senders send, and which Altinn resources deliver it.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::model::{MessageTypeId, ResourceId};
use crate::problem::{Problem, toml_error};

/// A message type (docs/design.md, "Files": `policies/message-types.toml`).
#[derive(Clone, Debug, PartialEq)]
pub struct MessageType {
    /// Identifier used in routing tables.
    pub id: MessageTypeId,
    /// Human-readable name.
    pub title: String,
    /// The Altinn resources that deliver it; a reader must be able to read all of them.
    pub resources: Vec<ResourceId>,
    /// Fewer readers than this adds `too_few_readers`.
    pub min_readers: u32,
    /// Whether a missing notification address is a finding.
    pub require_notification: bool,
    /// Whether Altinn system users count as readers.
    pub count_system_users: bool,
    /// Informative: the content is confidential.
    pub confidential: bool,
    /// Informative: how soon the recipient must read it.
    pub read_deadline_hours: Option<u32>,
    /// Informative: how long Altinn keeps the content.
    pub retention_days: Option<u32>,
    /// What the sender does instead when the route is not readable.
    pub fallback: Option<String>,
    /// Whether messages of this type are tracked in Altinn Correspondence (docs/design.md,
    /// "Message outcomes"): a sent message is of this type when its resource is this
    /// type's first resource. Default true.
    pub track_outcomes: bool,
    /// Line of the `[[message_type]]` entry, for messages.
    pub line: u32,
    /// Line of its `resources` key, for messages about a resource.
    pub resources_line: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    message_type: Vec<Spanned<RawMessageType>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMessageType {
    id: Spanned<String>,
    title: Spanned<String>,
    resources: Spanned<Vec<Spanned<String>>>,
    min_readers: Option<Spanned<i64>>,
    require_notification: Option<bool>,
    count_system_users: Option<bool>,
    confidential: Option<bool>,
    read_deadline_hours: Option<Spanned<i64>>,
    retention_days: Option<Spanned<i64>>,
    fallback: Option<String>,
    track_outcomes: Option<bool>,
}

/// Parses `message-types.toml`, returning the types it could read and every problem found.
pub(crate) fn parse_message_types(
    file: &Path,
    text: &str,
    problems: &mut Vec<Problem>,
) -> Vec<MessageType> {
    let raw: RawFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let (line, msg) = toml_error(text, &e);
            problems.push(Problem::error(file, line, msg));
            return Vec::new();
        }
    };
    if raw.message_type.is_empty() {
        problems.push(Problem::error(
            file,
            None,
            "no message types: add at least one `[[message_type]]` table",
        ));
    }
    // Entries come in file order: their lines are counted in one pass.
    let lines = std::cell::RefCell::new(crate::problem::Lines::new(text));
    let line = |span: std::ops::Range<usize>| Some(lines.borrow_mut().at(span.start));
    let mut out: Vec<MessageType> = Vec::new();
    let mut seen: rustc_hash::FxHashMap<MessageTypeId, u32> = rustc_hash::FxHashMap::default();
    for entry in raw.message_type {
        let entry_line = lines.borrow_mut().at(entry.span().start);
        let raw = entry.into_inner();
        let before = problems.len();
        let id = match MessageTypeId::parse(raw.id.get_ref()) {
            Ok(id) => {
                if let Some(first) = seen.get(&id) {
                    problems.push(Problem::error(
                        file,
                        line(raw.id.span()),
                        format!("message type `{id}` is defined twice (first on line {first})"),
                    ));
                } else {
                    seen.insert(id.clone(), entry_line);
                }
                Some(id)
            }
            Err(e) => {
                problems.push(Problem::error(file, line(raw.id.span()), e.to_string()));
                None
            }
        };
        let title = raw.title.get_ref().trim().to_owned();
        if title.is_empty() {
            problems.push(Problem::error(
                file,
                line(raw.title.span()),
                "`title` is empty: give the message type a human-readable name",
            ));
        }
        let resources_line = line(raw.resources.span()).unwrap_or(entry_line);
        let mut resources = Vec::new();
        if raw.resources.get_ref().is_empty() {
            problems.push(Problem::error(
                file,
                line(raw.resources.span()),
                "`resources` is empty: a message type is delivered as at least one Altinn resource",
            ));
        }
        for r in raw.resources.get_ref() {
            match ResourceId::parse(r.get_ref()) {
                Ok(id) if resources.contains(&id) => problems.push(Problem::error(
                    file,
                    line(r.span()),
                    format!("resource `{id}` is listed twice"),
                )),
                Ok(id) => resources.push(id),
                Err(e) => problems.push(Problem::error(file, line(r.span()), e.to_string())),
            }
        }
        let min_readers = match &raw.min_readers {
            None => 1,
            Some(v) => match u32::try_from(*v.get_ref()) {
                Ok(n) if n >= 1 => n,
                _ => {
                    problems.push(Problem::error(
                        file,
                        line(v.span()),
                        format!(
                            "`min_readers` is `{}`: it must be a whole number of at least 1",
                            v.get_ref()
                        ),
                    ));
                    1
                }
            },
        };
        let mut non_negative = |name: &str, v: &Option<Spanned<i64>>| -> Option<u32> {
            let v = v.as_ref()?;
            match u32::try_from(*v.get_ref()) {
                Ok(n) => Some(n),
                Err(_) => {
                    problems.push(Problem::error(
                        file,
                        line(v.span()),
                        format!(
                            "`{name}` is `{}`: it must be a whole number of at least 0",
                            v.get_ref()
                        ),
                    ));
                    None
                }
            }
        };
        let read_deadline_hours = non_negative("read_deadline_hours", &raw.read_deadline_hours);
        let retention_days = non_negative("retention_days", &raw.retention_days);
        if problems.len() > before {
            continue;
        }
        let Some(id) = id else { continue };
        out.push(MessageType {
            id,
            title,
            resources,
            min_readers,
            require_notification: raw.require_notification.unwrap_or(true),
            count_system_users: raw.count_system_users.unwrap_or(false),
            confidential: raw.confidential.unwrap_or(false),
            read_deadline_hours,
            retention_days,
            fallback: raw
                .fallback
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
            track_outcomes: raw.track_outcomes.unwrap_or(true),
            line: entry_line,
            resources_line,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Vec<MessageType>, Vec<String>) {
        let mut problems = Vec::new();
        let types = parse_message_types(Path::new("message-types.toml"), text, &mut problems);
        (types, problems.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn defaults_apply_when_keys_are_left_out() {
        let (types, problems) = parse(
            "[[message_type]]\nid = \"post\"\ntitle = \"Post\"\nresources = [\"r1\", \"r2\"]\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        let t = &types[0];
        assert_eq!(t.min_readers, 1);
        assert!(t.require_notification);
        assert!(!t.count_system_users);
        assert!(!t.confidential);
        assert!(t.track_outcomes);
        assert_eq!(t.resources.len(), 2);
        assert_eq!(t.line, 1);
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let (types, problems) = parse(concat!(
            "[[message_type]]\n",
            "id = \"a\"\n",
            "title = \"A\"\n",
            "resources = [\"r 1\"]\n",
            "min_readers = 0\n",
            "\n",
            "[[message_type]]\n",
            "id = \"a\"\n",
            "title = \"\"\n",
            "resources = []\n",
        ));
        assert!(types.is_empty());
        assert_eq!(
            problems,
            [
                "`message-types.toml`: line 4: `r 1` is not a valid resource id: use only letters, digits, `.`, `_` and `-`",
                "`message-types.toml`: line 5: `min_readers` is `0`: it must be a whole number of at least 1",
                "`message-types.toml`: line 8: message type `a` is defined twice (first on line 1)",
                "`message-types.toml`: line 9: `title` is empty: give the message type a human-readable name",
                "`message-types.toml`: line 10: `resources` is empty: a message type is delivered as at least one Altinn resource",
            ]
        );
    }

    #[test]
    fn wrong_types_and_unknown_keys_name_the_line() {
        let (_, problems) = parse(
            "[[message_type]]\nid = \"a\"\ntitle = \"A\"\nresources = [\"r\"]\nmin_readers = \"two\"\n",
        );
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with(
                "`message-types.toml`: line 5: `min_readers`: invalid type: string \"two\", expected an integer"
            ),
            "{problems:?}"
        );
        let (_, problems) = parse(
            "[[message_type]]\nid = \"a\"\ntitle = \"A\"\nresources = [\"r\"]\nminreaders = 2\n",
        );
        assert!(
            problems[0].starts_with("`message-types.toml`: line 5: unknown field `minreaders`"),
            "{problems:?}"
        );
    }
}
