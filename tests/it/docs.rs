//! The documentation stays honest: every relative link in README.md and docs/*.md resolves
//! to a file in the repository (and an `#anchor` to a heading there), no document links
//! outside the repository, every "rule N" cited in `src/` is a numbered rule of
//! docs/design.md, `reachcheck --help` names the documents, and every key of the
//! configuration file (derived from the code) is documented in docs/reference.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// README.md's links must all resolve, like those of docs/*.md.
///
/// MERGE: README.md is being rewritten on another branch. Today's README links only files
/// in the repository, so it is checked in full. Should the new one still link outside the
/// repository when it lands, set this to `false` for the time being: README's links that
/// leave the repository or name a missing file are then skipped (listed on stderr), and
/// its other links and anchors are still checked.
const README_STRICT: bool = true;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The Markdown documents under docs/.
fn docs() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    out.sort();
    out
}

/// Lines outside fenced code blocks, with their 1-based numbers.
fn prose(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push((i + 1, line));
        }
    }
    out
}

/// Inline code spans removed, so that `[x](y)` written as code is not a link.
fn without_code(line: &str) -> String {
    let mut out = String::new();
    let mut code = false;
    for c in line.chars() {
        if c == '`' {
            code = !code;
        } else if !code {
            out.push(c);
        }
    }
    out
}

/// The targets of the inline links `[text](target)` of a document, with their lines.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in prose(text) {
        let line = without_code(line);
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            let target = after[..end].split_whitespace().next().unwrap_or("");
            out.push((n, target.to_owned()));
            rest = &after[end..];
        }
    }
    out
}

/// GitHub's anchor for a heading: lower case, code marks and punctuation dropped, each
/// space a hyphen.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Every anchor of a document's headings (a repeated heading gets `-1`, `-2`, ...).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for (_, line) in prose(text) {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if hashes == 0 || hashes > 6 || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(&line[hashes..]);
        let n = seen.entry(base.clone()).or_insert(0);
        out.insert(if *n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        });
        *n += 1;
    }
    out
}

/// What is wrong with the links of `doc` (a file under `repo`): each problem one line.
/// `lenient`: links that leave the repository or name a missing file are skipped.
fn link_problems(repo: &Path, doc: &Path, lenient: bool) -> Vec<String> {
    let text = read(doc);
    let name = doc.strip_prefix(repo).unwrap_or(doc).display().to_string();
    let dir = doc.parent().unwrap();
    let repo = repo.canonicalize().unwrap();
    let mut problems = Vec::new();
    for (line, target) in links(&text) {
        if target.contains("://") || target.starts_with("mailto:") || target.is_empty() {
            continue;
        }
        let (path, anchor) = match target.split_once('#') {
            Some((p, a)) => (p, Some(a)),
            None => (target.as_str(), None),
        };
        let file = if path.is_empty() {
            doc.to_path_buf()
        } else {
            dir.join(path)
        };
        let resolved = file.canonicalize().ok();
        let inside = resolved.as_ref().is_some_and(|f| f.starts_with(&repo));
        let leaves = path.split('/').any(|part| part == "..") && !inside;
        if lenient && (leaves || resolved.is_none()) {
            eprintln!("{name}:{line}: `{target}` skipped (README_STRICT is false)");
            continue;
        }
        if path.starts_with('/') || leaves || (resolved.is_some() && !inside) {
            problems.push(format!(
                "{name}:{line}: `{target}` leaves the repository: a clone does not have it"
            ));
            continue;
        }
        let Some(resolved) = resolved else {
            problems.push(format!(
                "{name}:{line}: `{target}`: no such file in the repository"
            ));
            continue;
        };
        if let Some(anchor) = anchor
            && resolved.extension().is_some_and(|x| x == "md")
            && !anchors(&read(&resolved)).contains(anchor)
        {
            problems.push(format!(
                "{name}:{line}: `{target}`: no heading with the anchor `#{anchor}` in `{path}`",
                path = if path.is_empty() { name.as_str() } else { path }
            ));
        }
    }
    problems
}

#[test]
fn every_link_in_the_docs_resolves_inside_the_repository() {
    let repo = root();
    let mut problems = Vec::new();
    let docs = docs();
    assert!(
        docs.iter().any(|d| d.ends_with("design.md"))
            && docs.iter().any(|d| d.ends_with("reference.md")),
        "docs/ holds design.md and reference.md: {docs:?}"
    );
    for doc in &docs {
        problems.extend(link_problems(&repo, doc, false));
    }
    problems.extend(link_problems(
        &repo,
        &repo.join("README.md"),
        !README_STRICT,
    ));
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
}

/// The anchors other documents (the new README) link into docs/reference.md.
#[test]
fn reference_keeps_the_anchors_that_readme_links_to() {
    let have = anchors(&read(&root().join("docs/reference.md")));
    for anchor in [
        "http-api",
        "the-store",
        "configuration",
        "live-sources",
        "the-daemon-reachcheck-serve",
        "sent-messages-reachcheck-messages",
        "onboarding-recipients-reachcheck-onboard",
        "altinn-events-reachcheck-subscribe",
        "compliance-reports-and-remediation-letters-reachcheck-report",
        "verdicts-and-findings",
        "json-output",
        "library",
        "layout",
    ] {
        assert!(
            have.contains(anchor),
            "docs/reference.md has no heading `#{anchor}`"
        );
    }
}

/// The checker finds what it exists to find: a missing file, a missing anchor and a link
/// out of the repository, and passes a good link, an anchor and a link in code.
#[test]
fn the_link_checker_finds_broken_links() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("docs")).unwrap();
    std::fs::write(dir.path().join("outside.md"), "# Out\n").unwrap();
    std::fs::write(
        repo.join("docs/other.md"),
        "# The daemon: `reachcheck serve`\n",
    )
    .unwrap();
    let doc = repo.join("docs/a.md");
    std::fs::write(
        &doc,
        "# A\n\n[ok](other.md#the-daemon-reachcheck-serve) [self](#a) `[code](nowhere.md)`\n\
         [gone](missing.md)\n[anchor](other.md#no-such-heading)\n[out](../../outside.md)\n\
         ```\n[fenced](nowhere.md)\n```\n[web](https://example.no/x)\n",
    )
    .unwrap();
    let problems = link_problems(&repo, &doc, false);
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(
        problems[0].contains("docs/a.md:4: `missing.md`: no such file"),
        "{problems:#?}"
    );
    assert!(problems[1].contains("`#no-such-heading`"), "{problems:#?}");
    assert!(
        problems[2].contains("leaves the repository"),
        "{problems:#?}"
    );
    let lenient = link_problems(&repo, &doc, true);
    assert_eq!(
        lenient.len(),
        1,
        "lenient still checks anchors: {lenient:#?}"
    );
}

#[test]
fn github_anchors_are_derived_like_github_does() {
    assert_eq!(
        slug(" JSON output of `check --format json`"),
        "json-output-of-check---format-json"
    );
    assert_eq!(
        slug(" Architecture (one crate, library first)"),
        "architecture-one-crate-library-first"
    );
    assert_eq!(
        slug(" AuthZEN: discovery, batches, searches"),
        "authzen-discovery-batches-searches"
    );
    let a = anchors("# X\n## Files\n```\n# not a heading\n```\n## Files\n");
    assert_eq!(
        a,
        BTreeSet::from(["x".into(), "files".into(), "files-1".into()])
    );
}

/// The numbers of the rules docs/design.md numbers: the evaluation rules ("Route evaluation
/// semantics") and Altinn's rules ("How Altinn decides who can read").
fn design_rules(section: &str) -> Vec<u32> {
    let text = read(&root().join("docs/design.md"));
    let start = text
        .lines()
        .position(|l| l.starts_with("## ") && l.contains(section))
        .unwrap_or_else(|| panic!("docs/design.md has no section `{section}`"));
    text.lines()
        .skip(start + 1)
        .take_while(|l| !l.starts_with("## "))
        .filter_map(|l| {
            let digits: String = l.chars().take_while(char::is_ascii_digit).collect();
            (!digits.is_empty() && l[digits.len()..].starts_with(". "))
                .then(|| digits.parse().unwrap())
        })
        .collect()
}

/// Every rule number cited in `text` as "rule N", "rules N-M", "rules N, M and K".
fn cited_rules(text: &str) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    let lower = text.to_lowercase();
    let mut rest = lower.as_str();
    while let Some(at) = rest.find("rule") {
        let before_ok = at == 0 || !rest[..at].ends_with(|c: char| c.is_alphanumeric());
        let mut tail = &rest[at + 4..];
        tail = tail.strip_prefix('s').unwrap_or(tail);
        rest = tail;
        if !before_ok || !tail.starts_with(' ') {
            continue;
        }
        // numbers joined by '-', '–', ',' or 'and'
        let mut numbers: Vec<(u32, bool)> = Vec::new();
        let mut s = tail.trim_start();
        let mut range = false;
        loop {
            let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
            if digits.is_empty() {
                break;
            }
            numbers.push((digits.parse().unwrap(), range));
            s = &s[digits.len()..];
            let t = s.trim_start();
            if let Some(t) = t.strip_prefix('-').or_else(|| t.strip_prefix('–')) {
                range = true;
                s = t.trim_start();
            } else if let Some(t) = t.strip_prefix(',').or_else(|| t.strip_prefix("and ")) {
                range = false;
                s = t.trim_start();
            } else {
                break;
            }
        }
        let mut last = 0;
        for (n, is_range_end) in numbers {
            if is_range_end {
                out.extend(last..=n);
            } else {
                out.insert(n);
            }
            last = n;
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn design_numbers_the_evaluation_rules_1_to_14_and_altinns_rules_1_to_5() {
    assert_eq!(
        design_rules("Route evaluation semantics"),
        (1..=14).collect::<Vec<_>>(),
        "the evaluation rules keep their numbers 1-14 in order (the code cites them)"
    );
    assert_eq!(
        design_rules("How Altinn decides"),
        (1..=5).collect::<Vec<_>>()
    );
}

#[test]
fn every_rule_cited_in_the_code_is_a_rule_of_the_design() {
    let numbered: BTreeSet<u32> = design_rules("Route evaluation semantics")
        .into_iter()
        .collect();
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut unknown = Vec::new();
    let mut cited = BTreeSet::new();
    for file in files {
        let text = read(&file);
        for n in cited_rules(&text) {
            cited.insert(n);
            if !numbered.contains(&n) {
                unknown.push(format!("{}: rule {n}", file.display()));
            }
        }
    }
    assert!(
        cited.len() >= 10,
        "the code cites many rules; found only {cited:?}"
    );
    assert!(
        unknown.is_empty(),
        "rules cited in src/ that docs/design.md does not number:\n{}",
        unknown.join("\n")
    );
}

#[test]
fn cited_rules_reads_single_rules_lists_and_ranges() {
    let got =
        cited_rules("(rule 9) Rules 3-5, 10, 12; rules 2 and 6; rules 10–11; ruler 99 overrule 98");
    assert_eq!(got, BTreeSet::from([2, 3, 4, 5, 6, 9, 10, 11, 12]));
}

#[test]
fn help_names_the_design_and_the_reference_and_both_exist() {
    let out = Command::new(env!("CARGO_BIN_EXE_reachcheck"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for doc in ["docs/design.md", "docs/reference.md"] {
        assert!(
            help.contains(doc),
            "`reachcheck --help` does not name {doc}:\n{help}"
        );
        assert!(
            root().join(doc).is_file(),
            "{doc} is named by --help but missing"
        );
    }
    for command in ["check", "precheck"] {
        let out = Command::new(env!("CARGO_BIN_EXE_reachcheck"))
            .args([command, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(
            help.contains("docs/design.md"),
            "`reachcheck {command} --help` names docs/design.md"
        );
    }
    let design = read(&root().join("docs/design.md"));
    assert!(
        !design.contains("](../"),
        "docs/design.md links outside the repository"
    );
}

/// The field names of `struct NAME { ... }` in the source under `src/`.
fn struct_fields(sources: &[(PathBuf, String)], name: &str) -> Vec<(String, String)> {
    let opening = format!("struct {name} {{");
    let (file, text) = sources
        .iter()
        .find(|(_, t)| t.contains(&opening))
        .unwrap_or_else(|| panic!("no `{opening}` under src/"));
    let body = &text[text.find(&opening).unwrap() + opening.len()..];
    let body = &body[..body.find("\n}").unwrap()];
    assert!(
        !body.contains("serde(rename")
            && !body.contains("serde(alias")
            && !body.contains("serde(flatten"),
        "{}: `{name}` renames a field: teach this test the rename",
        file.display()
    );
    let before = &text[..text.find(&opening).unwrap()];
    let attrs = &before[before.rfind("\n\n").unwrap_or(0)..];
    assert!(
        !attrs.contains("rename_all"),
        "{}: `{name}` renames its fields: teach this test the rename",
        file.display()
    );
    body.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//") && !l.starts_with('#'))
        .filter_map(|l| {
            let l = l
                .strip_prefix("pub(crate) ")
                .or_else(|| l.strip_prefix("pub "))
                .unwrap_or(l);
            let (field, ty) = l.split_once(':')?;
            field
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_')
                .then(|| (field.to_owned(), ty.trim().trim_end_matches(',').to_owned()))
        })
        .collect()
}

/// Every key `reachcheck.toml` accepts, as `key` or `section.key`, read from the raw serde
/// structs the configuration is parsed into (`deny_unknown_fields`: exactly these).
fn settings_keys() -> (Vec<String>, Vec<String>) {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let sources: Vec<(PathBuf, String)> = files
        .into_iter()
        .map(|f| {
            let t = read(&f);
            (f, t)
        })
        .collect();
    let mut top = Vec::new();
    let mut nested = Vec::new();
    for (key, ty) in struct_fields(&sources, "RawSettings") {
        let raw = ty
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .find(|w| w.starts_with("Raw") && w.len() > 3);
        match raw {
            Some(section) => {
                let fields = struct_fields(&sources, section);
                assert!(!fields.is_empty(), "`{section}` has no fields?");
                nested.extend(fields.into_iter().map(|(k, _)| format!("{key}.{k}")));
                top.push(format!("[{key}]"));
            }
            None if ty.contains("BTreeMap") => top.push(format!("[{key}]")),
            None => top.push(key),
        }
    }
    (top, nested)
}

#[test]
fn every_setting_is_documented_in_the_reference() {
    let (top, nested) = settings_keys();
    // the parser found the sections it must find (so it cannot pass by finding nothing)
    for must in [
        "now",
        "[live]",
        "[daemon]",
        "[alerts]",
        "[outcomes]",
        "[onboarding]",
        "[events]",
        "[senders]",
    ] {
        assert!(
            top.contains(&must.to_owned()),
            "settings parser missed `{must}`: {top:?}"
        );
    }
    assert!(
        nested.contains(&"daemon.header_read_timeout".to_owned()),
        "{nested:?}"
    );
    assert!(nested.len() > 60, "{nested:?}");

    let reference = read(&root().join("docs/reference.md"));
    let missing: Vec<&String> = top
        .iter()
        .chain(&nested)
        .filter(|k| !reference.contains(&format!("`{k}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "settings not documented in docs/reference.md: {missing:?}"
    );

    // and the reverse: the reference's settings index names no key that does not exist
    let start = reference
        .find("### Every setting")
        .expect("docs/reference.md: `### Every setting`");
    let index = &reference[start..];
    let index = &index[..index[4..].find("\n#").map_or(index.len(), |i| i + 4)];
    let mut stale = Vec::new();
    for line in index.lines().filter(|l| l.starts_with("| `")) {
        let key = line[3..].split('`').next().unwrap();
        if !nested.iter().any(|k| k == key) {
            stale.push(key.to_owned());
        }
    }
    assert!(
        stale.is_empty(),
        "docs/reference.md documents settings the code does not have: {stale:?}"
    );
}

/// Every finding code the code knows has a row in the reference's table of findings, and
/// the table has no row for a code the code does not know.
#[test]
fn every_finding_code_is_in_the_reference_table_and_no_other() {
    let reference = read(&root().join("docs/reference.md"));
    let start = reference
        .find("## Verdicts and findings")
        .expect("docs/reference.md: `## Verdicts and findings`");
    let section = &reference[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let rows: BTreeSet<&str> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| l[3..].split('`').next().unwrap())
        .collect();
    let codes: BTreeSet<&str> = reachcheck::FindingCode::ALL
        .into_iter()
        .map(reachcheck::FindingCode::as_str)
        .collect();
    assert_eq!(
        rows, codes,
        "docs/reference.md's findings table and FindingCode::ALL differ"
    );
}
