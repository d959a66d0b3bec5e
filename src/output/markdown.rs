//! The markdown format: a summary, a table of routes, then every route with findings, with
//! each finding's message, remediation and evidence.

use std::io::{self, Write};

use super::Rendering;

/// Escapes `|` so text stays inside its table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub(super) fn render(r: &mut Rendering<'_>, out: &mut dyn Write) -> io::Result<()> {
    let evaluation = r.evaluation;
    let s = evaluation.summary();
    let snapshot = r.engine.snapshot();
    writeln!(out, "# reachcheck: {}\n", super::routes(s.routes))?;
    writeln!(
        out,
        "Judged at {} on evidence from `{}` taken at {}.\n",
        evaluation.now,
        cell(&snapshot.origin),
        snapshot.taken_at
    )?;
    writeln!(out, "| verdict | routes |\n|---|---:|")?;
    writeln!(out, "| readable | {} |", s.readable)?;
    writeln!(out, "| not_readable | {} |", s.not_readable)?;
    writeln!(out, "| unknown | {} |\n", s.unknown)?;
    let by_code = r.findings_by_code();
    if !by_code.is_empty() {
        writeln!(out, "| finding | severity | routes |\n|---|---|---:|")?;
        for (code, n) in &by_code {
            writeln!(out, "| `{code}` | {} | {n} |", code.severity())?;
        }
        writeln!(out)?;
    }

    if !r.filter.is_empty() {
        writeln!(
            out,
            "Shown below: {} of {} routes (`{}`); the counts above cover them all.\n",
            r.shown().count(),
            s.routes,
            r.filter.flags()
        )?;
    }

    writeln!(out, "## Routes\n")?;
    writeln!(
        out,
        "*Readers*: found/required, the people at the recipient who can read the message type / \
         how many it requires (`min_readers`).\n"
    )?;
    writeln!(
        out,
        "| verdict | readers | message type | sender | recipient | findings |\n|---|---:|---|---|---|---|"
    )?;
    for route in r.shown() {
        let a = &evaluation.assessments[route.assessment as usize];
        let min = r.min_readers(&route.route.message_type);
        let x = r.explanation(route);
        let codes: Vec<String> = x.findings.iter().map(|f| format!("`{}`", f.code)).collect();
        writeln!(
            out,
            "| {} | {}/{min} | `{}` | {} | {}{} | {} |",
            a.verdict,
            a.readers,
            route.route.message_type,
            route.route.sender,
            route.route.recipient,
            x.recipient_name
                .as_deref()
                .map(|n| format!(" {}", cell(n)))
                .unwrap_or_default(),
            codes.join(", ")
        )?;
    }

    let has_findings = |route: &&crate::engine::RouteResult| {
        !evaluation.assessments[route.assessment as usize]
            .findings
            .is_empty()
    };
    if r.shown().any(|route| has_findings(&route)) {
        writeln!(out, "\n## Findings")?;
    }
    for route in r.shown().filter(has_findings) {
        let a = &evaluation.assessments[route.assessment as usize];
        let x = r.explanation(route).clone();
        writeln!(
            out,
            "\n### {} · `{}` · {} → {}{}\n",
            a.verdict,
            route.route.message_type,
            route.route.sender,
            route.route.recipient,
            x.recipient_name
                .as_deref()
                .map(|n| format!(" {n}"))
                .unwrap_or_default()
        )?;
        // Line 0: the route came from no file (`precheck`).
        let line = if route.line > 0 {
            format!(", routing table line {}", route.line)
        } else {
            String::new()
        };
        writeln!(
            out,
            "Readers: {} (evidence tier `{}`{line}).\n",
            a.readers, a.tier
        )?;
        for line in &x.readers {
            writeln!(out, "- {line}")?;
        }
        if !x.readers.is_empty() {
            writeln!(out)?;
        }
        for f in &x.findings {
            writeln!(out, "- **`{}`** ({}): {}", f.code, f.severity, f.message)?;
            writeln!(out, "  - *What to do:* {}", f.remediation)?;
            for e in &f.evidence {
                writeln!(out, "  - {e}")?;
            }
        }
    }
    Ok(())
}
