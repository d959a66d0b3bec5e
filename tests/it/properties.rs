//! The loaders never panic, whatever they are given: arbitrary text, and real files with
//! random damage. (Property tests; failures shrink to a minimal input.)

use std::path::Path;

use proptest::prelude::*;
use reachcheck::policy::{GrantRules, parse_message_types, parse_policy};
use reachcheck::routing::RoutingTable;

const POLICY: &str = include_str!("../../policies/politi-bekymringsmelding.xml");
const TYPES: &str = include_str!("../../policies/message-types.toml");
const GRANTS: &str = include_str!("../../policies/altinn-grants.toml");
const ROUTES: &str = "# routes\nsender,message_type,recipient\n310000019,post,964338531\n\n310000027,post,958935420\n";

/// A real file with a random slice replaced by random text.
fn damaged(original: &'static str) -> impl Strategy<Value = String> {
    (0..original.len(), 0..64usize, ".{0,24}").prop_map(move |(at, len, insert)| {
        let start = (0..=at)
            .rev()
            .find(|&i| original.is_char_boundary(i))
            .unwrap_or(0);
        let end = (start + len..=original.len())
            .find(|&i| original.is_char_boundary(i))
            .unwrap_or(original.len());
        format!("{}{insert}{}", &original[..start], &original[end..])
    })
}

fn xacml(text: &str) {
    let mut problems = Vec::new();
    let parsed = parse_policy(Path::new("p.xml"), text, &mut problems);
    if parsed.is_none() {
        assert!(
            problems.iter().any(|p| p.is_error()),
            "a refusal always says why"
        );
    }
}

fn routes(bytes: &[u8]) {
    let r = RoutingTable::parse(
        Path::new("r.csv"),
        bytes,
        |t| t.as_str() == "post",
        "`post`",
    );
    if let Err(e) = r {
        assert!(!e.problems.0.is_empty(), "a refusal always says why");
        for p in &e.problems.0 {
            assert!(!p.message.is_empty());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn xacml_never_panics_on_arbitrary_text(text in "\\PC{0,400}") {
        xacml(&text);
    }

    #[test]
    fn xacml_never_panics_on_damaged_policies(text in damaged(POLICY)) {
        xacml(&text);
    }

    #[test]
    fn xacml_never_panics_on_tag_soup(parts in proptest::collection::vec(
        prop_oneof![
            Just("<Policy>"), Just("</Policy>"), Just("<Rule Effect=\"Permit\">"), Just("</Rule>"),
            Just("<Target>"), Just("</Target>"), Just("<AnyOf>"), Just("</AnyOf>"), Just("<AllOf>"),
            Just("</AllOf>"), Just("<Match MatchId=\"urn:oasis:names:tc:xacml:1.0:function:string-equal\">"),
            Just("</Match>"), Just("<AttributeValue>x</AttributeValue>"),
            Just("<AttributeDesignator AttributeId=\"urn:altinn:rolecode\"/>"), Just("&amp;"), Just("&bogus;"),
            Just("<![CDATA[x]]>"), Just("<!-- c -->"), Just("<Condition/>"),
        ],
        0..40,
    )) {
        xacml(&parts.concat());
    }

    #[test]
    fn message_types_never_panic(text in prop_oneof![damaged(TYPES), "\\PC{0,300}".boxed()]) {
        let (_, problems) = parse_message_types(Path::new("m.toml"), &text);
        for p in problems {
            prop_assert!(!p.message.is_empty());
        }
    }

    #[test]
    fn grant_rules_never_panic(text in prop_oneof![damaged(GRANTS), "\\PC{0,300}".boxed()]) {
        let mut problems = Vec::new();
        let rules = GrantRules::parse(Path::new("g.toml"), &text, &mut problems);
        prop_assert!(rules.is_some() || !problems.is_empty());
    }

    #[test]
    fn routing_tables_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        routes(&bytes);
    }

    #[test]
    fn routing_tables_never_panic_when_damaged(text in damaged(ROUTES)) {
        routes(text.as_bytes());
    }
}

/// A recorded details body (the demo's first concern report to Bergen).
const DETAILS: &str = include_str!(
    "../../examples/demo/messages/correspondence/018dcbb3-8b70-7ea8-b5dd-3258b25de720/details.json"
);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn details_never_panic_and_never_quote_what_they_refuse(
        text in prop_oneof![damaged(DETAILS), "\\PC{0,300}".boxed()]
    ) {
        if let Err(e) = reachcheck::outcome::parse_details(text.as_bytes(), None) {
            let why = e.to_string();
            prop_assert!(!why.is_empty());
            // Named, never quoted: nothing longer than a field name comes from the body.
            prop_assert!(!why.contains("018dcbb3"), "{why}");
        }
    }

    #[test]
    fn masked_text_holds_no_identity_number_and_masking_twice_changes_nothing(
        text in "[0-9 .\\-a-z]{0,60}"
    ) {
        let once = reachcheck::model::mask_identity_numbers(&text).into_owned();
        prop_assert!(!reachcheck::model::contains_identity_number(&once), "{once}");
        prop_assert_eq!(reachcheck::model::mask_identity_numbers(&once).into_owned(), once);
    }
}

/// A Correspondence event as Altinn pushes it.
const EVENT: &str = r#"{"id":"1faa107f-3c0a-4fa6-9fce-7cee8838e258","time":"2026-11-20T08:10:00Z","type":"no.altinn.correspondence.correspondencereceiverread","source":"https://platform.altinn.no/correspondence/api/v1/correspondence","subject":"urn:altinn:organization:identifier-no:310000019","resource":"urn:altinn:resource:politi-bekymringsmelding","specversion":"1.0","resourceinstance":"019ce781-a5c0-7d03-8f51-3e7dda66dd74"}"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn pushed_events_never_panic_and_refusals_name_a_field_never_the_body(
        text in prop_oneof![damaged(EVENT), "\\PC{0,300}".boxed()]
    ) {
        if let Err(e) = reachcheck::events::cloudevent::parse(text.as_bytes()) {
            prop_assert!(!e.field().is_empty());
            prop_assert!(!e.to_string().contains("019ce781"), "{e}");
        }
    }
}
