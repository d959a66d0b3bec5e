//! What the findings of rules 10-14 tell people to do: `precheck` on routes of the
//! independently written cases, each finding's message and remediation read as a person
//! would (the owner and list to ask, `read` rather than `write`, which case the policy
//! wants), and `validate` naming every malformed new file with its line, at once.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases")
        .join(name)
}

/// A case's policy directory as the command line takes it: its files, with the project's
/// `altinn-grants.toml` where the case brings none (as the case runner does).
fn policies_of(dir: &Path, policies: &str) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(dir.join(policies)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), out.path().join(e.file_name())).unwrap();
    }
    let grants = out.path().join("altinn-grants.toml");
    if !grants.exists() {
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/altinn-grants.toml"),
            grants,
        )
        .unwrap();
    }
    out
}

/// `precheck --format json` of one route of a case; the route's findings by code.
fn findings(case_name: &str, policies: &str, message_type: &str, recipient: &str) -> Vec<Value> {
    let dir = case(case_name);
    let policies = policies_of(&dir, policies);
    let o = Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .arg("precheck")
        .args(["--sender", "310000019", "--message-type", message_type])
        .args(["--recipient", recipient])
        .arg("--policies")
        .arg(policies.path())
        .arg("--snapshot")
        .arg(dir.join("snapshot"))
        .args(["--now", "2026-11-21T06:00:00Z", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["routes"][0]["findings"].as_array().unwrap().clone()
}

fn one<'a>(findings: &'a [Value], code: &str) -> &'a Value {
    findings
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no `{code}` in {findings:?}"))
}

#[test]
fn not_on_the_access_list_names_the_owner_the_list_and_the_recipient_to_add() {
    let f = findings(
        "access-list-membership-of-the-recipient-decides-readable",
        "policies",
        "liste",
        "944496394",
    );
    let f = one(&f, "not_on_access_list");
    assert_eq!(f["severity"], "critical");
    let remedy = f["remediation"].as_str().unwrap();
    assert!(
        remedy.contains("Ask the resource owner (`politiet`) to add 944496394 to access list"),
        "{remedy}"
    );
    assert!(remedy.contains("`godkjente-kommuner`"), "{remedy}");
    assert!(
        remedy.contains("delegations at 944496394 cannot fix this"),
        "{remedy}"
    );
    let evidence = f["evidence"].to_string();
    assert!(evidence.contains("is a member of none"), "{evidence}");
}

#[test]
fn a_write_only_delegation_is_told_to_delegate_read_not_only_write() {
    let f = findings(
        "resource-delegation-reads-only-with-a-read-right",
        "../_shared/policies",
        "konfidensiell",
        "964338531",
    );
    let f = one(&f, "no_reader");
    let remedy = f["remediation"].as_str().unwrap();
    assert!(
        remedy.contains("delegate `read`, not only `write`"),
        "{remedy}"
    );
    assert!(
        remedy.contains("`test-taushetsbelagt` to") && remedy.contains("grants only `write`"),
        "{remedy}"
    );
}

#[test]
fn a_delegation_without_its_rights_answer_names_the_answer_to_gather() {
    let f = findings(
        "resource-delegation-reads-only-with-a-read-right",
        "../_shared/policies",
        "konfidensiell",
        "944073787",
    );
    let f = one(&f, "no_data");
    let message = f["message"].as_str().unwrap();
    assert!(
        message.contains("the rights of the delegation of `test-taushetsbelagt`"),
        "{message}"
    );
    let remedy = f["remediation"].as_str().unwrap();
    assert!(
        remedy.contains("accessmanagement/resourcerights/944073787/test-taushetsbelagt/"),
        "{remedy}"
    );
}

#[test]
fn inconsistent_connections_say_what_contradicts_them() {
    let f = findings(
        "connections-without-persons-beside-living-key-role-holders-are-inconsistent",
        "../_shared/policies",
        "konfidensiell",
        "958935420",
    );
    let f = one(&f, "evidence_inconsistent");
    let message = f["message"].as_str().unwrap();
    assert!(
        message.contains("list no person, while Enhetsregisteret names 1 living key-role holder"),
        "{message}"
    );
    assert!(
        f["remediation"]
            .as_str()
            .unwrap()
            .contains("Gather the connections of 958935420 again"),
        "{f}"
    );
}

#[test]
fn a_case_only_match_says_which_value_and_which_spelling() {
    let f = findings(
        "policy-values-compare-exactly-under-string-equal",
        "policies",
        "eksakt",
        "964338531",
    );
    let f = one(&f, "policy_indeterminate");
    let message = f["message"].as_str().unwrap();
    assert!(message.contains("only when case is ignored"), "{message}");
    let evidence = f["evidence"].to_string();
    assert!(
        evidence.contains("compares `Post-Til-Virksomheten-Med-Taushetsbelagt-Innhold` exactly")
            && evidence.contains("`post-til-virksomheten-med-taushetsbelagt-innhold`"),
        "{evidence}"
    );
}

#[test]
fn refused_addresses_and_absent_resources_say_so() {
    let f = findings(
        "refused-notification-addresses-are-unverified-not-failed",
        "../_shared/policies",
        "konfidensiell",
        "964965226",
    );
    assert_eq!(
        one(&f, "notification_unverified")["severity"],
        "info",
        "{f:?}"
    );
    let f = findings(
        "access-list-or-resource-metadata-unavailable-is-unknown",
        "policies",
        "ressurs-finnes-ikke",
        "958935420",
    );
    let f = one(&f, "resource_not_in_altinn");
    let message = f["message"].as_str().unwrap();
    assert!(
        message.contains("Altinn has no resource `test-ressurs-finnes-ikke`"),
        "{message}"
    );
}

#[test]
fn validate_names_every_malformed_new_file_with_its_line_at_once() {
    let dir = case("malformed-rights-registry-and-status-files-are-source-errors");
    let policies = policies_of(&dir, "policies");
    let o = Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .arg("validate")
        .arg("--policies")
        .arg(policies.path())
        .arg("--routes")
        .arg(dir.join("routes.csv"))
        .arg("--snapshot")
        .arg(dir.join("snapshot"))
        .args(["--now", "2026-11-21T06:00:00Z"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    for (file, what) in [
        (
            "test-liste-ugyldig/access-lists.json`: line 1: ",
            "malformed JSON",
        ),
        ("godkjente/members.json`: line ", "malformed JSON"),
        (
            "test-status-ugyldig/resource.json.status.json`: ",
            "`status` is 200",
        ),
        (
            "00000000-0000-4000-8000-000000000002.json`: ",
            "about resource `test-annen-ressurs`",
        ),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("`{file}` not named:\n{err}"));
        assert!(line.starts_with("error: ") && line.contains(what), "{line}");
    }
    assert!(err.contains("validate: 4 error(s)"), "{err}");
}
