//! XACML 3.0 policies in Altinn's own format: `Policy` / `Rule` / `Target` / `AnyOf` /
//! `AllOf` / `Match`, as the resource registry stores them (API-NOTES §2).
//!
//! Owns: turning a policy document into a checked [`ResourcePolicy`], with a line for
//! every element. Does not own: deciding what the policy means for a rightholder (see
//! `policy::compiled`).

use std::path::Path;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::problem::{Lines, Problem};

/// `urn:oasis:names:tc:xacml:1.0:function:string-equal`.
pub(crate) const STRING_EQUAL: &str = "urn:oasis:names:tc:xacml:1.0:function:string-equal";
/// `urn:oasis:names:tc:xacml:3.0:function:string-equal-ignore-case`.
pub(crate) const STRING_EQUAL_IGNORE_CASE: &str =
    "urn:oasis:names:tc:xacml:3.0:function:string-equal-ignore-case";
/// The action attribute id.
pub(crate) const ACTION_ID: &str = "urn:oasis:names:tc:xacml:1.0:action:action-id";
/// The resource attribute id for an Altinn resource.
pub(crate) const ALTINN_RESOURCE: &str = "urn:altinn:resource";
/// The deny-overrides rule-combining algorithm (what Altinn uses).
pub(crate) const DENY_OVERRIDES: &str =
    "urn:oasis:names:tc:xacml:3.0:rule-combining-algorithm:deny-overrides";

/// A resource's policy: its rules, each with a target in disjunctive form.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourcePolicy {
    /// `PolicyId`.
    pub policy_id: Option<String>,
    /// `RuleCombiningAlgId` (reachcheck always applies deny-overrides: the stricter reading).
    pub combining: Option<String>,
    /// The policy's own target (applies to every rule).
    pub target: Target,
    /// The rules, in document order.
    pub rules: Vec<Rule>,
}

/// `Permit` or `Deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The rule grants.
    Permit,
    /// The rule refuses (and overrides any permit).
    Deny,
}

/// One `Rule`.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// `RuleId`.
    pub id: String,
    /// `Effect`.
    pub effect: Effect,
    /// Its `Target`: every `AnyOf` must match.
    pub target: Target,
    /// The rule has a `Condition`, which reachcheck does not evaluate: the rule's outcome
    /// is then uncertain (a permit proves nothing, a deny may apply).
    pub has_condition: bool,
    /// Line of the `<Rule>` element.
    pub line: u32,
}

/// A `Target`: every `AnyOf` must match. An empty target matches everything.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Target {
    /// The `AnyOf` elements.
    pub any_of: Vec<AnyOf>,
}

/// An `AnyOf`: matches if any of its `AllOf` matches.
#[derive(Clone, Debug, PartialEq)]
pub struct AnyOf {
    /// The `AllOf` elements.
    pub all_of: Vec<AllOf>,
}

/// An `AllOf`: matches if all of its `Match` elements match.
#[derive(Clone, Debug, PartialEq)]
pub struct AllOf {
    /// The `Match` elements.
    pub matches: Vec<Match>,
}

/// The comparison a `Match` uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MatchFunction {
    /// `string-equal`.
    StringEqual,
    /// `string-equal-ignore-case`.
    StringEqualIgnoreCase,
    /// Anything else: reachcheck cannot evaluate it, so the match is uncertain.
    Unsupported(String),
}

/// The attribute category of a designator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Category {
    /// `...:subject-category:access-subject`.
    Subject,
    /// `...:attribute-category:resource`.
    Resource,
    /// `...:attribute-category:action`.
    Action,
    /// Environment or anything else.
    Other(String),
}

/// One `Match`: compare a literal value with an attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct Match {
    /// `MatchId`.
    pub function: MatchFunction,
    /// The `AttributeValue`.
    pub value: String,
    /// `AttributeId` of the designator (`None` for an `AttributeSelector`, which is
    /// uncertain).
    pub attribute: Option<String>,
    /// `Category` of the designator.
    pub category: Category,
    /// Line of the `<Match>` element.
    pub line: u32,
}

impl Category {
    fn parse(s: &str) -> Category {
        let l = s.trim().to_ascii_lowercase();
        if l.contains("subject-category") {
            Category::Subject
        } else if l.ends_with("attribute-category:resource") {
            Category::Resource
        } else if l.ends_with("attribute-category:action") {
            Category::Action
        } else {
            Category::Other(s.trim().to_owned())
        }
    }
}

/// A parsed element: local name, attributes, children, text, line.
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
    line: u32,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }
}

fn start_element(
    e: &BytesStart<'_>,
    line: u32,
    file: &Path,
    problems: &mut Vec<Problem>,
) -> Element {
    let mut attrs = Vec::new();
    for a in e.attributes() {
        match a {
            Ok(a) => {
                let value = match a.normalized_value(quick_xml::XmlVersion::Implicit1_0) {
                    Ok(v) => v.into_owned(),
                    Err(err) => {
                        problems.push(Problem::error(
                            file,
                            Some(line),
                            format!("malformed attribute value: {err}"),
                        ));
                        a.value.into_owned()
                    }
                };
                attrs.push((a.key.local_name().as_ref().to_owned(), value));
            }
            Err(err) => problems.push(Problem::error(
                file,
                Some(line),
                format!("malformed attribute: {err}"),
            )),
        }
    }
    Element {
        name: e.local_name().as_ref().to_owned(),
        attrs,
        children: Vec::new(),
        text: String::new(),
        line,
    }
}

/// Reads the XML into a tree of elements, or reports why it is not well-formed.
fn read_tree(file: &Path, text: &str, problems: &mut Vec<Problem>) -> Option<Element> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut lines = Lines::new(text);
    loop {
        let pos = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = match reader.read_event() {
            Ok(ev) => ev,
            Err(e) => {
                let at = usize::try_from(reader.error_position()).unwrap_or(pos);
                problems.push(Problem::error(
                    file,
                    Some(lines.at(at)),
                    format!("the policy is not well-formed XML: {e}"),
                ));
                return None;
            }
        };
        let line = lines.at(pos);
        match event {
            Event::Start(e) => stack.push(start_element(&e, line, file, problems)),
            Event::Empty(e) => {
                let el = start_element(&e, line, file, problems);
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None if root.is_none() => root = Some(el),
                    None => {}
                }
            }
            Event::End(_) => {
                let Some(el) = stack.pop() else {
                    problems.push(Problem::error(file, Some(line), "unexpected end tag"));
                    return None;
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    _ => match r.xml10_content().as_ref() {
                        "amp" => Some("&".into()),
                        "lt" => Some("<".into()),
                        "gt" => Some(">".into()),
                        "quot" => Some("\"".into()),
                        "apos" => Some("'".into()),
                        _ => None,
                    },
                };
                match (resolved, stack.last_mut()) {
                    (Some(s), Some(el)) => el.text.push_str(&s),
                    (None, _) => {
                        problems.push(Problem::error(
                            file,
                            Some(line),
                            format!("unknown entity `&{};`", r.xml10_content()),
                        ));
                        return None;
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if let Some(open) = stack.last() {
        problems.push(Problem::error(
            file,
            Some(open.line),
            format!(
                "the policy is not well-formed XML: element `{}` is never closed",
                open.name
            ),
        ));
        return None;
    }
    if root.is_none() {
        problems.push(Problem::error(file, None, "the policy is empty"));
    }
    root
}

/// Parses one resource's XACML policy. Errors and warnings go to `problems`; `None` when
/// the policy cannot be used.
pub fn parse_policy(
    file: &Path,
    text: &str,
    problems: &mut Vec<Problem>,
) -> Option<ResourcePolicy> {
    let before = problems.iter().filter(|p| p.is_error()).count();
    let root = read_tree(file, text, problems)?;
    match root.name.as_str() {
        "Policy" => {}
        "PolicySet" => {
            problems.push(Problem::error(
                file,
                Some(root.line),
                "policy sets are not supported: give each resource one `Policy`",
            ));
            return None;
        }
        other => {
            problems.push(Problem::error(
                file,
                Some(root.line),
                format!("the root element is `{other}`: expected a XACML `Policy`"),
            ));
            return None;
        }
    }
    let combining = root.attr("RuleCombiningAlgId").map(str::to_owned);
    if let Some(c) = &combining
        && c.trim() != DENY_OVERRIDES
    {
        problems.push(Problem::warning(
                file,
                Some(root.line),
                format!(
                    "rule-combining algorithm `{c}` is evaluated as deny-overrides (a matching `Deny` always removes the reader), the stricter reading"
                ),
            ));
    }
    let mut target = Target::default();
    let mut rules = Vec::new();
    for child in &root.children {
        match child.name.as_str() {
            "Target" => target = parse_target(child, file, problems),
            "Rule" => {
                if let Some(rule) = parse_rule(child, file, problems) {
                    rules.push(rule);
                }
            }
            "Description"
            | "ObligationExpressions"
            | "AdviceExpressions"
            | "PolicyDefaults"
            | "VariableDefinition"
            | "PolicyIssuer"
            | "CombinerParameters"
            | "RuleCombinerParameters" => {}
            other => problems.push(Problem::warning(
                file,
                Some(child.line),
                format!("element `{other}` in `Policy` is ignored"),
            )),
        }
    }
    if problems.iter().filter(|p| p.is_error()).count() > before {
        return None;
    }
    Some(ResourcePolicy {
        policy_id: root.attr("PolicyId").map(str::to_owned),
        combining,
        target,
        rules,
    })
}

fn parse_rule(el: &Element, file: &Path, problems: &mut Vec<Problem>) -> Option<Rule> {
    let id = el.attr("RuleId").unwrap_or("").to_owned();
    let effect = match el.attr("Effect").map(str::trim) {
        Some("Permit") => Effect::Permit,
        Some("Deny") => Effect::Deny,
        Some(other) => {
            problems.push(Problem::error(
                file,
                Some(el.line),
                format!("rule `{id}` has effect `{other}`: expected `Permit` or `Deny`"),
            ));
            return None;
        }
        None => {
            problems.push(Problem::error(
                file,
                Some(el.line),
                format!("rule `{id}` has no `Effect`: expected `Permit` or `Deny`"),
            ));
            return None;
        }
    };
    let mut target = Target::default();
    let mut has_condition = false;
    for child in &el.children {
        match child.name.as_str() {
            "Target" => target = parse_target(child, file, problems),
            "Condition" => {
                has_condition = true;
                problems.push(Problem::warning(
                    file,
                    Some(child.line),
                    format!(
                        "rule `{id}` has a `Condition`, which reachcheck does not evaluate: a reader it would permit is not counted, a denial it would make leaves the verdict unknown"
                    ),
                ));
            }
            _ => {}
        }
    }
    Some(Rule {
        id,
        effect,
        target,
        has_condition,
        line: el.line,
    })
}

fn parse_target(el: &Element, file: &Path, problems: &mut Vec<Problem>) -> Target {
    let mut any_of = Vec::new();
    for a in el.children_named("AnyOf") {
        let mut all_of = Vec::new();
        for b in a.children_named("AllOf") {
            let mut matches = Vec::new();
            for m in b.children_named("Match") {
                if let Some(m) = parse_match(m, file, problems) {
                    matches.push(m);
                }
            }
            if matches.is_empty() {
                problems.push(Problem::error(
                    file,
                    Some(b.line),
                    "`AllOf` has no `Match`: XACML requires at least one",
                ));
            }
            all_of.push(AllOf { matches });
        }
        if all_of.is_empty() {
            problems.push(Problem::error(
                file,
                Some(a.line),
                "`AnyOf` has no `AllOf`: XACML requires at least one",
            ));
        }
        any_of.push(AnyOf { all_of });
    }
    Target { any_of }
}

fn parse_match(el: &Element, file: &Path, problems: &mut Vec<Problem>) -> Option<Match> {
    let function = match el.attr("MatchId").map(str::trim) {
        Some(STRING_EQUAL) => MatchFunction::StringEqual,
        Some(STRING_EQUAL_IGNORE_CASE) => MatchFunction::StringEqualIgnoreCase,
        Some(other) => {
            problems.push(Problem::warning(
                file,
                Some(el.line),
                format!(
                    "match function `{other}` is not supported (only string-equal and string-equal-ignore-case): this match is treated as uncertain"
                ),
            ));
            MatchFunction::Unsupported(other.to_owned())
        }
        None => {
            problems.push(Problem::error(
                file,
                Some(el.line),
                "`Match` has no `MatchId`",
            ));
            return None;
        }
    };
    let Some(value) = el.children_named("AttributeValue").next() else {
        problems.push(Problem::error(
            file,
            Some(el.line),
            "`Match` has no `AttributeValue`",
        ));
        return None;
    };
    let (attribute, category) = if let Some(d) = el.children_named("AttributeDesignator").next() {
        let Some(id) = d.attr("AttributeId") else {
            problems.push(Problem::error(
                file,
                Some(d.line),
                "`AttributeDesignator` has no `AttributeId`",
            ));
            return None;
        };
        let category = match d.attr("Category") {
            Some(c) => Category::parse(c),
            None => guess_category(id),
        };
        (Some(id.trim().to_owned()), category)
    } else if let Some(s) = el.children_named("AttributeSelector").next() {
        problems.push(Problem::warning(
            file,
            Some(s.line),
            "`AttributeSelector` is not supported: this match is treated as uncertain",
        ));
        (
            None,
            s.attr("Category")
                .map(Category::parse)
                .unwrap_or(Category::Other(String::new())),
        )
    } else {
        problems.push(Problem::error(
            file,
            Some(el.line),
            "`Match` has no `AttributeDesignator`",
        ));
        return None;
    };
    Some(Match {
        function,
        value: value.text.trim().to_owned(),
        attribute,
        category,
        line: el.line,
    })
}

fn guess_category(attribute_id: &str) -> Category {
    let a = attribute_id.trim();
    if a == ACTION_ID {
        Category::Action
    } else if a == ALTINN_RESOURCE || a.starts_with("urn:altinn:app") || a == "urn:altinn:task" {
        Category::Resource
    } else {
        Category::Subject
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Option<ResourcePolicy>, Vec<String>) {
        let mut problems = Vec::new();
        let p = parse_policy(Path::new("p.xml"), text, &mut problems);
        (p, problems.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn altinns_sample_policy_parses_with_every_part() {
        let text = include_str!("../../tests/data/xacml-accesspackage-policy.xml");
        let (p, problems) = parse(text);
        assert!(problems.is_empty(), "{problems:?}");
        let p = p.unwrap();
        assert_eq!(p.rules.len(), 1);
        let rule = &p.rules[0];
        assert_eq!(rule.effect, Effect::Permit);
        assert_eq!(rule.target.any_of.len(), 3);
        let m = &rule.target.any_of[0].all_of[0].matches[0];
        assert_eq!(m.value, "ansettelsesforhold");
        assert_eq!(m.attribute.as_deref(), Some("urn:altinn:accesspackage"));
        assert_eq!(m.category, Category::Subject);
        assert_eq!(m.function, MatchFunction::StringEqualIgnoreCase);
        assert_eq!(rule.target.any_of[2].all_of.len(), 2, "read or write");
        assert_eq!(m.line, 9);
    }

    #[test]
    fn default_namespace_and_entities_are_read() {
        let (p, problems) = parse(
            r#"<Policy xmlns="urn:oasis:names:tc:xacml:3.0:core:schema:wd-17"><Rule RuleId="r" Effect="Deny"><Target><AnyOf><AllOf>
<Match MatchId="urn:oasis:names:tc:xacml:1.0:function:string-equal"><AttributeValue>a&amp;b&#x41;</AttributeValue>
<AttributeDesignator AttributeId="urn:altinn:resource"/></Match></AllOf></AnyOf></Target></Rule></Policy>"#,
        );
        assert!(problems.is_empty(), "{problems:?}");
        let m = &p.unwrap().rules[0].target.any_of[0].all_of[0].matches[0];
        assert_eq!(m.value, "a&bA");
        assert_eq!(m.category, Category::Resource);
    }

    #[test]
    fn malformed_xml_names_the_line() {
        let (p, problems) =
            parse("<Policy>\n<Rule Effect=\"Permit\">\n<Target>\n</Rule>\n</Policy>\n");
        assert!(p.is_none());
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("`p.xml`: line 4: the policy is not well-formed XML:"),
            "{problems:?}"
        );
        let (_, problems) = parse("<Policy>\n<Rule Effect=\"Permit\">\n");
        assert_eq!(
            problems,
            ["`p.xml`: line 2: the policy is not well-formed XML: element `Rule` is never closed"]
        );
    }

    #[test]
    fn structural_errors_are_all_reported() {
        let (p, problems) = parse(concat!(
            "<Policy>\n",
            "<Rule RuleId=\"a\" Effect=\"Allow\"/>\n",
            "<Rule RuleId=\"b\" Effect=\"Permit\"><Target><AnyOf><AllOf>\n",
            "<Match><AttributeValue>x</AttributeValue></Match>\n",
            "</AllOf></AnyOf></Target></Rule>\n",
            "</Policy>\n"
        ));
        assert!(p.is_none());
        assert_eq!(
            problems,
            [
                "`p.xml`: line 2: rule `a` has effect `Allow`: expected `Permit` or `Deny`",
                "`p.xml`: line 4: `Match` has no `MatchId`",
                "`p.xml`: line 3: `AllOf` has no `Match`: XACML requires at least one",
            ]
        );
    }

    #[test]
    fn unsupported_parts_are_warnings_not_errors() {
        let (p, problems) = parse(concat!(
            "<Policy RuleCombiningAlgId=\"urn:oasis:names:tc:xacml:3.0:rule-combining-algorithm:permit-overrides\">\n",
            "<Rule RuleId=\"b\" Effect=\"Permit\"><Target><AnyOf><AllOf>\n",
            "<Match MatchId=\"urn:oasis:names:tc:xacml:1.0:function:string-regexp-match\"><AttributeValue>x</AttributeValue><AttributeDesignator AttributeId=\"urn:altinn:rolecode\"/></Match>\n",
            "</AllOf></AnyOf></Target><Condition/></Rule>\n",
            "</Policy>\n"
        ));
        let p = p.unwrap();
        assert!(p.rules[0].has_condition);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("evaluated as deny-overrides"));
        assert!(problems[1].contains("line 3: match function"));
        assert!(problems[2].contains("line 4: rule `b` has a `Condition`"));
    }

    #[test]
    fn a_policy_set_is_refused() {
        let (p, problems) = parse("<PolicySet/>");
        assert!(p.is_none());
        assert_eq!(
            problems,
            ["`p.xml`: line 1: policy sets are not supported: give each resource one `Policy`"]
        );
    }
}
