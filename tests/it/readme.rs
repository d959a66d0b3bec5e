//! The README runs: every shell block of `README.md`, in order, in one shell, on a fresh
//! copy of the repository, with the exit code each block declares.
//!
//! A block declares what it expects with an invisible marker on the line before its fence
//! (blank lines between are allowed):
//!
//! - no marker: the block runs and must exit 0;
//! - `<!-- readme-test: exit N -->`: the block runs and must exit `N`;
//! - `<!-- readme-test: skip (REASON) -->`: the block is not run; the reason is required.
//!
//! A block's exit code is that of its first command that failed, else 0: the blocks run in
//! one `bash` as a reader pastes them into one terminal (what one block exports or starts in
//! the background, the next sees), without `set -e`. Only `sh`, `bash` and `shell` blocks
//! are commands; `toml`, `json`, `text`, `ini` and the like are shown, not run.
//!
//! The copy is the repository's tracked and untracked-but-not-ignored files (`git ls-files`;
//! without git, every file but `target/` and `.git/`) with their modification times, and
//! `CARGO_TARGET_DIR` is this build's own target folder, so `cargo run` there builds nothing
//! that is already built (CI builds the release profile before the tests; otherwise the first
//! block that needs it builds it once).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the whole README may take: a release build from nothing on two busy cores
/// included.
const TIMEOUT: Duration = Duration::from_secs(45 * 60);

/// The marker's prefix, inside an HTML comment.
const MARKER: &str = "readme-test:";

/// What a block's marker asks.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    /// Run it; it must exit with this code.
    Exit(i32),
    /// Do not run it, for this reason.
    Skip(String),
}

/// One fenced code block of the README.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Block {
    /// 1-based, counting only shell blocks.
    number: usize,
    /// 1-based line of the opening fence.
    line: usize,
    /// The commands, without the fences.
    text: String,
    expect: Expect,
}

impl Block {
    fn first_line(&self) -> &str {
        self.text.lines().next().unwrap_or("").trim()
    }
}

fn parse_marker(comment: &str, line: usize) -> Result<Expect, String> {
    let rest = comment.trim();
    if let Some(code) = rest.strip_prefix("exit") {
        return code
            .trim()
            .parse::<i32>()
            .map(Expect::Exit)
            .map_err(|_| format!("README.md: line {line}: `exit` needs a number: `{comment}`"));
    }
    if let Some(reason) = rest.strip_prefix("skip") {
        let reason = reason.trim();
        let reason = reason
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .map(str::trim)
            .unwrap_or("");
        if reason.is_empty() {
            return Err(format!(
                "README.md: line {line}: a skip needs a reason: `skip (why it cannot run here)`"
            ));
        }
        return Ok(Expect::Skip(reason.to_owned()));
    }
    Err(format!(
        "README.md: line {line}: unknown marker `{comment}` (`exit N` or `skip (REASON)`)"
    ))
}

/// The shell blocks of `readme` with what each expects; every misplaced or malformed marker
/// is an error.
fn shell_blocks(readme: &str) -> Result<Vec<Block>, Vec<String>> {
    let mut blocks = Vec::new();
    let mut errors = Vec::new();
    let mut pending: Option<(Expect, usize)> = None;
    let mut lines = readme.lines().enumerate();
    while let Some((i, raw)) = lines.next() {
        let line = i + 1;
        let trimmed = raw.trim();
        if let Some(comment) = trimmed
            .strip_prefix("<!--")
            .and_then(|c| c.strip_suffix("-->"))
            .map(str::trim)
            .and_then(|c| c.strip_prefix(MARKER))
        {
            if let Some((_, at)) = pending.take() {
                errors.push(format!(
                    "README.md: line {at}: a marker that no code block follows"
                ));
            }
            match parse_marker(comment, line) {
                Ok(expect) => pending = Some((expect, line)),
                Err(e) => errors.push(e),
            }
            continue;
        }
        if trimmed.contains(MARKER) {
            errors.push(format!(
                "README.md: line {line}: a marker must be alone on its line: `<!-- {MARKER} ... -->`"
            ));
            continue;
        }
        if let Some(info) = trimmed.strip_prefix("```") {
            let fence_line = line;
            let lang = info.split([' ', ',', '{']).next().unwrap_or("");
            let mut text = String::new();
            let mut closed = false;
            for (_, body) in lines.by_ref() {
                if body.trim() == "```" {
                    closed = true;
                    break;
                }
                text.push_str(body);
                text.push('\n');
            }
            if !closed {
                errors.push(format!(
                    "README.md: line {fence_line}: a code block that is never closed"
                ));
            }
            let marker = pending.take();
            if matches!(lang, "sh" | "bash" | "shell") {
                blocks.push(Block {
                    number: blocks.len() + 1,
                    line: fence_line,
                    text,
                    expect: marker.map_or(Expect::Exit(0), |(e, _)| e),
                });
            } else if let Some((_, at)) = marker {
                errors.push(format!(
                    "README.md: line {at}: a marker before a `{lang}` block, which is not run"
                ));
            }
            continue;
        }
        if !trimmed.is_empty()
            && let Some((_, at)) = pending.take()
        {
            errors.push(format!(
                "README.md: line {at}: a marker that no code block follows"
            ));
        }
    }
    if let Some((_, at)) = pending {
        errors.push(format!(
            "README.md: line {at}: a marker that no code block follows"
        ));
    }
    if errors.is_empty() {
        Ok(blocks)
    } else {
        Err(errors)
    }
}

/// The files to copy: tracked and untracked-but-not-ignored, as git sees them; without git,
/// every file but `target/` and `.git/`.
fn repository_files(root: &Path) -> Vec<PathBuf> {
    let git = Command::new("git")
        .current_dir(root)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .stderr(Stdio::null())
        .output();
    if let Ok(out) = git
        && out.status.success()
    {
        return out
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
            .collect();
    }
    let mut files = Vec::new();
    let mut dirs = vec![PathBuf::new()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(root.join(&dir)).unwrap() {
            let entry = entry.unwrap();
            let rel = dir.join(entry.file_name());
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                if rel != Path::new("target") && rel != Path::new(".git") {
                    dirs.push(rel);
                }
            } else if kind.is_file() {
                files.push(rel);
            }
        }
    }
    files
}

/// Copies `files` from `from` to `to`, keeping permissions and modification times (so that
/// cargo sees the sources as built).
fn copy_files(from: &Path, to: &Path, files: &[PathBuf]) -> usize {
    let mut copied = 0;
    for rel in files {
        let src = from.join(rel);
        let Ok(meta) = std::fs::metadata(&src) else {
            continue; // tracked but deleted in the working tree: a clone would not have it either
        };
        if !meta.is_file() {
            continue;
        }
        let dst = to.join(rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(&src, &dst).unwrap();
        let file = std::fs::File::options().write(true).open(&dst).unwrap();
        file.set_modified(meta.modified().unwrap()).unwrap();
        copied += 1;
    }
    copied
}

/// The folder cargo builds this test into (`…/target`, or `CARGO_TARGET_DIR`): the test's
/// own executable is `TARGET/PROFILE/deps/it-HASH`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// One bash script that runs every block not skipped in the copy `work`, each block's output
/// in `logs/N.log`, its exit code in `logs/N.rc`, its time in `logs/N.time`; and at the end
/// the background processes still running in `logs/left-running`.
fn script(work: &Path, logs: &Path, blocks: &[Block]) -> String {
    let mut s = String::new();
    writeln!(s, "cd {}", shell_quote(work)).unwrap();
    s.push_str("__rc=0\ntrap '__s=$?; if [ \"$__rc\" -eq 0 ]; then __rc=$__s; fi' ERR\n");
    for b in blocks {
        if matches!(b.expect, Expect::Skip(_)) {
            continue;
        }
        let log = shell_quote(&logs.join(b.number.to_string()));
        writeln!(
            s,
            "echo {} > {}",
            b.number,
            shell_quote(&logs.join("current"))
        )
        .unwrap();
        writeln!(s, "__t0=$EPOCHREALTIME").unwrap();
        writeln!(s, "{{\n{}}} > {log}.log 2>&1 < /dev/null", b.text).unwrap();
        writeln!(
            s,
            "echo \"$__rc\" > {log}.rc; echo \"$__t0 $EPOCHREALTIME\" > {log}.time; __rc=0"
        )
        .unwrap();
    }
    // A background process a block started and no block stopped (given a moment to exit).
    writeln!(
        s,
        "trap - ERR\nfor __p in $(jobs -p); do\n  for __i in $(seq 1 100); do kill -0 \"$__p\" 2>/dev/null || break; sleep 0.1; done\n  kill -0 \"$__p\" 2>/dev/null && echo \"$__p $(tr '\\0' ' ' < /proc/$__p/cmdline)\" >> {}\ndone\nexit 0",
        shell_quote(&logs.join("left-running"))
    )
    .unwrap();
    s
}

/// The environment variables cargo sets for a test it runs (and for the crates it builds),
/// never a user's own settings such as `CARGO_HOME` or `CARGO_TERM_COLOR`.
fn is_set_by_cargo_for_tests(name: &str) -> bool {
    matches!(
        name,
        "CARGO"
            | "CARGO_MANIFEST_DIR"
            | "CARGO_MANIFEST_PATH"
            | "CARGO_CRATE_NAME"
            | "CARGO_BIN_NAME"
            | "CARGO_PRIMARY_PACKAGE"
            | "CARGO_TARGET_TMPDIR"
            | "CARGO_RUSTC_CURRENT_DIR"
            | "OUT_DIR"
    ) || name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_BIN_EXE_")
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[test]
fn every_shell_block_of_the_readme_runs_as_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let blocks = shell_blocks(&readme)
        .unwrap_or_else(|errors| panic!("README.md's markers are wrong:\n{}", errors.join("\n")));
    assert!(!blocks.is_empty(), "README.md has no shell block");

    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("reachcheck");
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let files = repository_files(root);
    let copied = copy_files(root, &work, &files);
    assert!(
        work.join("Cargo.toml").is_file() && work.join("README.md").is_file(),
        "the copy of the repository ({copied} files) lacks Cargo.toml or README.md"
    );
    let script_file = tmp.path().join("readme.sh");
    std::fs::write(&script_file, script(&work, &logs, &blocks)).unwrap();

    let started = Instant::now();
    let mut child = {
        use std::os::unix::process::CommandExt as _;
        let mut bash = Command::new("bash");
        // What `cargo test` sets for this test is not in a reader's terminal, and cargo
        // rebuilds a dependency whose build script watches one of them (ring watches
        // `CARGO_MANIFEST_DIR`) when it differs from the build before: without this, every
        // run here and every build outside would rebuild half the tree.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if is_set_by_cargo_for_tests(&name) {
                bash.env_remove(&*name);
            }
        }
        bash.arg(&script_file)
            .env("CARGO_TARGET_DIR", target_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(logs.join("script.err")).unwrap())
            .process_group(0)
            .spawn()
            .unwrap()
    };
    let group = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > TIMEOUT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Whatever a block left behind goes with the script's process group.
    let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGTERM);
    std::thread::sleep(Duration::from_millis(200));
    let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    let _ = child.wait();
    let elapsed = started.elapsed();

    let read = |name: String| std::fs::read_to_string(logs.join(name)).unwrap_or_default();
    let mut failures = Vec::new();
    let mut summary = String::new();
    for b in &blocks {
        let rc = read(format!("{}.rc", b.number));
        let output = read(format!("{}.log", b.number));
        let seconds = read(format!("{}.time", b.number))
            .split_whitespace()
            .map(|t| t.parse::<f64>().unwrap_or(0.0))
            .collect::<Vec<_>>();
        let took = match seconds.as_slice() {
            [a, b] => format!("{:.1} s", b - a),
            _ => String::new(),
        };
        match &b.expect {
            Expect::Skip(reason) => {
                writeln!(
                    summary,
                    "  block {} skipped ({reason}): {}",
                    b.number,
                    b.first_line()
                )
                .unwrap();
            }
            Expect::Exit(want) => {
                writeln!(
                    summary,
                    "  block {} (line {}) {took}: {}",
                    b.number,
                    b.line,
                    b.first_line()
                )
                .unwrap();
                let got = rc.trim().parse::<i32>().ok();
                if got != Some(*want) {
                    let got = got.map_or_else(
                        || "never finished (timed out or the script stopped)".to_owned(),
                        |c| format!("exited {c}"),
                    );
                    failures.push(format!(
                        "README.md block {} (line {}), `{}`: {got}, expected exit {want}; its last lines:\n{}",
                        b.number,
                        b.line,
                        b.first_line(),
                        tail(&output, 30)
                    ));
                }
            }
        }
    }
    eprintln!(
        "README.md: {} shell blocks in {:.1} s:\n{summary}",
        blocks.len(),
        elapsed.as_secs_f64()
    );
    if status.is_none() {
        failures.push(format!(
            "the README's blocks did not finish within {TIMEOUT:?}; block {} was running",
            read("current".to_owned()).trim()
        ));
    }
    let left = read("left-running".to_owned());
    if !left.trim().is_empty() {
        failures.push(format!(
            "a block started a background process that no block stopped:\n{left}"
        ));
    }
    let script_err = read("script.err".to_owned());
    assert!(
        failures.is_empty(),
        "{}\n(the shell's own stderr: {})",
        failures.join("\n\n"),
        tail(&script_err, 10)
    );
}

#[test]
fn markers_say_exit_codes_and_reasons_and_nothing_else() {
    let readme = "\
# t

```sh
true
```

<!-- readme-test: exit 1 -->
```sh
false
```

<!-- readme-test: skip (needs a Maskinporten client) -->

```bash
reachcheck onboard
```

```toml
[live]
```
";
    let blocks = shell_blocks(readme).unwrap();
    let got: Vec<(usize, usize, Expect)> = blocks
        .iter()
        .map(|b| (b.number, b.line, b.expect.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, 3, Expect::Exit(0)),
            (2, 8, Expect::Exit(1)),
            (
                3,
                14,
                Expect::Skip("needs a Maskinporten client".to_owned())
            ),
        ]
    );
    assert_eq!(blocks[2].text, "reachcheck onboard\n");
}

#[test]
fn a_skip_without_a_reason_or_a_stray_marker_fails() {
    let cases = [
        (
            "<!-- readme-test: skip -->\n```sh\ntrue\n```\n",
            "needs a reason",
        ),
        (
            "<!-- readme-test: skip () -->\n```sh\ntrue\n```\n",
            "needs a reason",
        ),
        (
            "<!-- readme-test: exit one -->\n```sh\ntrue\n```\n",
            "needs a number",
        ),
        (
            "<!-- readme-test: maybe -->\n```sh\ntrue\n```\n",
            "unknown marker",
        ),
        (
            "<!-- readme-test: exit 1 -->\ntext\n```sh\ntrue\n```\n",
            "no code block follows",
        ),
        (
            "<!-- readme-test: exit 1 -->\n```toml\na = 1\n```\n",
            "not run",
        ),
        (
            "text\n<!-- readme-test: exit 1 -->\n",
            "no code block follows",
        ),
        ("```sh\ntrue\n", "never closed"),
    ];
    for (readme, want) in cases {
        let errors = shell_blocks(readme).expect_err(readme);
        assert!(
            errors.iter().any(|e| e.contains(want)),
            "{readme:?}: expected an error containing {want:?}, got {errors:?}"
        );
    }
}

/// The targets of the Markdown links and images in `text`: `[text](TARGET)` and
/// `[text](TARGET "title")`.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let Some(end) = after.find(')') else { break };
        let target = after[..end].split_whitespace().next().unwrap_or("");
        targets.push(target.to_owned());
        rest = &after[end..];
    }
    targets
}

#[test]
fn no_link_of_the_readme_leaves_the_repository() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let targets = link_targets(&readme);
    assert!(
        targets.iter().any(|t| t.starts_with("docs/")),
        "README.md links nothing in docs/: {targets:?}"
    );
    let outside: Vec<&String> = targets
        .iter()
        .filter(|t| !t.starts_with("https://") && !t.starts_with('#'))
        .filter(|t| {
            let path = t.split('#').next().unwrap_or("");
            path.starts_with('/')
                || path.starts_with('~')
                || path.contains(':')
                || Path::new(path)
                    .components()
                    .any(|c| c == std::path::Component::ParentDir)
        })
        .collect();
    assert!(
        outside.is_empty(),
        "README.md links outside the repository (a clone has only the repository): {outside:?}"
    );
}

#[test]
fn link_targets_are_read_from_inline_links_and_images() {
    let text = "See [the design](docs/design.md#rules), ![chart](img/a.svg \"t\") and \
                [site](https://example.no) but not [a] (b).";
    assert_eq!(
        link_targets(text),
        vec!["docs/design.md#rules", "img/a.svg", "https://example.no"]
    );
    assert_eq!(
        link_targets("[x](../shared/DESIGN.md)"),
        vec!["../shared/DESIGN.md"]
    );
}
