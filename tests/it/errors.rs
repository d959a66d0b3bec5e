//! Bad-input cases: `tests/errors/<name>/` holds inputs and a `case.toml` with the command
//! line, the exit code and what stderr must say (file, line, value). Nothing may be
//! printed on stdout as if it were a result.

use std::fmt::Write as _;
use std::process::Command;

use crate::cases::case_dirs;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorCase {
    description: String,
    args: Vec<String>,
    exit_code: i32,
    #[serde(default)]
    stderr_contains: Vec<String>,
    #[serde(default = "yes")]
    stdout_empty: bool,
}

fn yes() -> bool {
    true
}

#[test]
fn bad_input_exits_2_naming_file_line_and_value() {
    let dirs = case_dirs("tests/errors");
    assert!(
        dirs.len() >= 8,
        "expected the bad-input corpus, found {}",
        dirs.len()
    );
    let mut report = String::new();
    for dir in &dirs {
        let case: ErrorCase =
            toml::from_str(&std::fs::read_to_string(dir.join("case.toml")).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        assert!(!case.description.is_empty());
        let o = Command::new(env!("CARGO_BIN_EXE_reachcheck"))
            .current_dir(dir)
            .args(&case.args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        let mut problems = String::new();
        if o.status.code() != Some(case.exit_code) {
            let _ = writeln!(
                problems,
                "exit code {:?}, expected {}",
                o.status.code(),
                case.exit_code
            );
        }
        for needle in &case.stderr_contains {
            if !stderr.contains(needle.as_str()) {
                let _ = writeln!(problems, "stderr lacks `{needle}`");
            }
        }
        if case.stdout_empty && !o.stdout.is_empty() {
            let _ = writeln!(
                problems,
                "stdout is not empty:\n{}",
                String::from_utf8_lossy(&o.stdout)
            );
        }
        if !problems.is_empty() {
            let _ = write!(
                report,
                "\n== {}\n{problems}stderr was:\n{stderr}",
                dir.file_name().unwrap().to_string_lossy()
            );
        }
    }
    assert!(
        report.is_empty(),
        "bad-input cases that do not hold:{report}"
    );
}
