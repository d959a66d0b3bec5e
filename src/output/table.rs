//! The table format: one line per route, verdict first, readable at a glance; colour only
//! when asked (the CLI asks on a terminal); a summary at the end.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use super::Rendering;
use crate::model::{Severity, Verdict};

const RECIPIENT_WIDTH: usize = 44;

fn verdict_style(v: Verdict) -> Style {
    match v {
        Verdict::Readable => Style::new().fg_color(Some(AnsiColor::Green.into())),
        Verdict::NotReadable => Style::new().fg_color(Some(AnsiColor::Red.into())).bold(),
        Verdict::Unknown => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
    }
}

fn severity_style(s: Severity) -> Style {
    match s {
        Severity::Critical => Style::new().fg_color(Some(AnsiColor::Red.into())),
        Severity::Warning => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
        Severity::Info => Style::new().dimmed(),
    }
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn pad(s: &str, width: usize) -> String {
    let n = s.chars().count();
    format!("{s}{}", " ".repeat(width.saturating_sub(n)))
}

fn paint(color: bool, style: Style, text: &str) -> String {
    if color {
        format!("{style}{text}{style:#}")
    } else {
        text.to_owned()
    }
}

pub(super) fn render(r: &mut Rendering<'_>, out: &mut dyn Write) -> io::Result<()> {
    if r.options.summary_first {
        summary(r, out)?;
        writeln!(out)?;
        routes(r, out)
    } else {
        routes(r, out)?;
        writeln!(out)?;
        summary(r, out)
    }
}

/// The header and one line per route shown.
fn routes(r: &mut Rendering<'_>, out: &mut dyn Write) -> io::Result<()> {
    let color = r.options.color;
    let evaluation = r.evaluation;
    // The columns' widths first, from the routes and the registered names alone, so that
    // the rows can be written one at a time.
    let type_width = r
        .shown()
        .map(|x| x.route.message_type.as_str().chars().count())
        .max()
        .unwrap_or(4)
        .max("TYPE".len());
    let recipient_width = r
        .shown()
        .map(|x| {
            let number = x.route.recipient.to_string().chars().count();
            let name = r
                .engine
                .registered_name(x.route.recipient)
                .map_or(0, |n| 1 + n.chars().count());
            (number + name).min(RECIPIENT_WIDTH)
        })
        .max()
        .unwrap_or(9)
        .max("RECIPIENT".len());
    writeln!(
        out,
        "{}",
        paint(
            color,
            Style::new().bold(),
            &format!(
                "{}  {}  {}  {}  {}  FINDINGS",
                pad("VERDICT", 12),
                pad("READERS", 7),
                pad("TYPE", type_width),
                pad("SENDER", 9),
                pad("RECIPIENT", recipient_width),
            )
        )
    )?;
    for route in r.shown() {
        let a = &evaluation.assessments[route.assessment as usize];
        let min = r.min_readers(&route.route.message_type);
        let history = r.history(&route.route);
        let details = r.options.details;
        let reasons = r.options.reasons;
        let x = r.explanation(route);
        let recipient = match &x.recipient_name {
            Some(n) => format!("{} {n}", route.route.recipient),
            None => route.route.recipient.to_string(),
        };
        let findings = &x.findings;
        // A code that repeats (one `source_error` per failed file) is shown once, counted.
        let mut codes: Vec<String> = Vec::with_capacity(findings.len());
        let mut shown: Vec<crate::model::FindingCode> = Vec::with_capacity(findings.len());
        for f in findings {
            if shown.contains(&f.code) {
                continue;
            }
            shown.push(f.code);
            let n = findings.iter().filter(|g| g.code == f.code).count();
            let text = match n {
                1 => f.code.as_str().to_owned(),
                n => format!("{} ×{n}", f.code),
            };
            codes.push(paint(color, severity_style(f.severity), &text));
        }
        writeln!(
            out,
            "{}  {}  {}  {}  {}  {}",
            paint(
                color,
                verdict_style(a.verdict),
                &pad(a.verdict.as_str(), 12)
            ),
            pad(&format!("{}/{min}", a.readers), 7),
            pad(route.route.message_type.as_str(), type_width),
            pad(&route.route.sender.to_string(), 9),
            pad(&truncate(&recipient, RECIPIENT_WIDTH), recipient_width),
            codes.join(", ")
        )?;
        if let Some(h) = history {
            writeln!(out, "    messages: {}", super::messages::history_line(h))?;
        }
        if reasons
            && !details
            && a.verdict != Verdict::Readable
            && let Some(f) = findings.first()
        {
            let more = match findings.len() - 1 {
                0 => String::new(),
                n => format!(" (and {n} more)"),
            };
            writeln!(out, "    why: {}{more}", f.message)?;
        }
        if details {
            for f in findings {
                writeln!(
                    out,
                    "    {} {}",
                    paint(color, severity_style(f.severity), &format!("{}:", f.code)),
                    f.message
                )?;
                writeln!(out, "      fix: {}", f.remediation)?;
            }
        }
    }

    Ok(())
}

/// Counts over every route (whatever the filter), the evidence, and what the columns mean.
fn summary(r: &mut Rendering<'_>, out: &mut dyn Write) -> io::Result<()> {
    let color = r.options.color;
    let evaluation = r.evaluation;
    let s = evaluation.summary();
    writeln!(
        out,
        "{}: {}, {}, {}",
        super::routes(s.routes),
        paint(
            color,
            verdict_style(Verdict::Readable),
            &format!("{} readable", s.readable)
        ),
        paint(
            color,
            verdict_style(Verdict::NotReadable),
            &format!("{} not readable", s.not_readable)
        ),
        paint(
            color,
            verdict_style(Verdict::Unknown),
            &format!("{} unknown", s.unknown)
        ),
    )?;
    let by_code = r.findings_by_code();
    if !by_code.is_empty() {
        let parts: Vec<String> = by_code
            .iter()
            .map(|(code, n)| {
                paint(
                    color,
                    severity_style(code.severity()),
                    &format!("{n} {code}"),
                )
            })
            .collect();
        writeln!(out, "findings: {}", parts.join(", "))?;
    }
    let snapshot = r.engine.snapshot();
    let age = evaluation.now.duration_since(snapshot.taken_at);
    writeln!(
        out,
        // Whole seconds: a live sweep's clock readings carry nanoseconds nobody needs.
        "evidence: {} taken {:.0} ({} before {:.0})",
        snapshot.origin,
        snapshot.taken_at,
        humantime::format_duration(std::time::Duration::from_secs(
            age.as_secs().max(0).unsigned_abs()
        )),
        evaluation.now
    )?;
    if !r.filter.is_empty() {
        writeln!(
            out,
            "shown: {} of {} routes ({}); the counts above cover them all",
            r.shown().count(),
            s.routes,
            r.filter.flags()
        )?;
    }
    writeln!(
        out,
        "READERS = found/required: people at the recipient who can read the message type / \
         how many the type requires (min_readers)"
    )?;
    if !r.options.details && !by_code.is_empty() {
        writeln!(
            out,
            "reasons and remediation: add --details, or use --format markdown or --format json"
        )?;
    }
    Ok(())
}
