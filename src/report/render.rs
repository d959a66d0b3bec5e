//! Renderings of a [`ComplianceReport`]: JSON (the data, canonical, with its hash), CSV
//! (one long table: section, subject, metric, value), Markdown, and one self-contained
//! HTML file (inline CSS and SVG, A4 print styles, semantic tables, colour never alone).

use std::fmt::Write as _;

use super::svg::{percent, trend};
use super::text::Lang;
use super::{ComplianceReport, Coverage, Light, RecipientRow};
use crate::model::OrgNumber;

/// A report format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// One self-contained HTML file, printable on A4.
    Html,
    /// The data with its SHA-256.
    Json,
    /// One long table: section, subject, metric, value.
    Csv,
    /// A readable document.
    Markdown,
    /// A remediation letter to one recipient (`--recipient`), in Markdown.
    Letter,
    /// The remediation letter as one self-contained HTML file.
    LetterHtml,
}

/// Escapes text for HTML.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes text for a Markdown table cell.
fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn day(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d").to_string()
}

fn minute(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

fn period_text(r: &ComplianceReport) -> String {
    let p = r.data.period;
    format!("{} – {}", minute(p.from), minute(p.to))
}

/// The recipients that need action, under each sender that has a route to them that is not
/// readable, in the order of the report's senders; each list worst first.
fn recipients_by_sender(d: &super::ReportData) -> Vec<(OrgNumber, Vec<&RecipientRow>)> {
    d.by_sender
        .iter()
        .map(|s| {
            let rows: Vec<&RecipientRow> = d
                .recipients
                .iter()
                .filter(|r| r.light != Light::Green && r.senders_to_act.contains(&s.sender))
                .collect();
            (s.sender, rows)
        })
        .filter(|(_, rows)| !rows.is_empty())
        .collect()
}

/// The sentence that opens the per-recipient section.
fn recipients_summary(d: &super::ReportData, lang: Lang) -> String {
    let act = d
        .recipients
        .iter()
        .filter(|r| r.light != Light::Green)
        .count();
    let green = d.recipients.len() - act;
    match lang {
        Lang::Nb => format!(
            "Mottakere som trenger tiltak: {act} av {} (minst én rute til dem er ikke lesbar, rød, eller ikke bevist lesbar, gul), under her per avsender. Grønne, alle rutene lesbare: {green}. Alle mottakere står i vedlegget til slutt og i CSV.",
            d.recipients.len()
        ),
        Lang::En => format!(
            "Recipients that need action: {act} of {} (some route to them is not readable, red, or not proven readable, amber), listed below by sender. Green, every route readable: {green}. Every recipient is in the appendix at the end and in the CSV.",
            d.recipients.len()
        ),
    }
}

/// The appendix with every recipient.
fn appendix_title(lang: Lang) -> &'static str {
    match lang {
        Lang::Nb => "Vedlegg: alle mottakere",
        Lang::En => "Appendix: every recipient",
    }
}

/// A recipients' traffic-light table in Markdown.
fn recipients_md(s: &mut String, d: &super::ReportData, rows: &[&RecipientRow], lang: Lang) {
    let w = lang.words();
    let _ = writeln!(
        s,
        "| {} | {} | {} | {} | {} | {} | {} |\n|---|---|---|---:|---:|---:|---:|",
        w.recipient,
        w.status,
        w.worst,
        w.routes,
        w.open_findings,
        w.open_critical_count,
        w.days_open
    );
    for r in rows {
        let mark = match r.light {
            Light::Red => "🔴",
            Light::Amber => "🟡",
            Light::Green => "🟢",
        };
        let _ = writeln!(
            s,
            "| {} | {mark} {} | {} | {} | {} | {} | {} |",
            md(&d.names.label(r.recipient)),
            lang.light(r.light),
            lang.verdict(r.worst),
            r.coverage.routes,
            r.open_findings,
            r.open_critical,
            r.days_open.map_or("–".to_owned(), |d| d.to_string())
        );
    }
    s.push('\n');
}

/// A recipients' traffic-light table in HTML.
fn recipients_html(
    s: &mut String,
    d: &super::ReportData,
    rows: &[&RecipientRow],
    caption: &str,
    lang: Lang,
) {
    let w = lang.words();
    let _ = write!(
        s,
        "<table class=\"lights\"><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\" class=\"num\">{}</th><th scope=\"col\" class=\"num\">{}</th><th scope=\"col\" class=\"num\">{}</th><th scope=\"col\" class=\"num\">{}</th></tr></thead><tbody>",
        esc(caption),
        esc(w.recipient),
        esc(w.status),
        esc(w.worst),
        esc(w.routes),
        esc(w.open_findings),
        esc(w.open_critical_count),
        esc(w.days_open)
    );
    for r in rows {
        let class = match r.light {
            Light::Red => "red",
            Light::Amber => "amber",
            Light::Green => "green",
        };
        let _ = write!(
            s,
            "<tr><th scope=\"row\">{}</th><td><span class=\"light {class}\" aria-hidden=\"true\"></span>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&d.names.label(r.recipient)),
            esc(lang.light(r.light)),
            esc(lang.verdict(r.worst)),
            r.coverage.routes,
            r.open_findings,
            r.open_critical,
            r.days_open.map_or("–".to_owned(), |d| d.to_string())
        );
    }
    s.push_str("</tbody></table>");
}

/// The CSV rows that say which message a row is about (its route, reference and when it
/// was published); returns the subject the message's other rows go under.
fn message_rows(rows: &mut Rows, section: &str, m: &super::outcomes::SentMessage) -> String {
    let subject = m.id.to_string();
    rows.push(
        section,
        &subject,
        "route",
        format!("{} {} {}", m.sender, m.message_type, m.recipient),
    );
    if let Some(r) = &m.senders_reference {
        rows.push(section, &subject, "senders_reference", r);
    }
    rows.push(section, &subject, "published", m.published);
    subject
}

/// What a report says when `now` is pinned in the configuration.
fn pinned_text(t: jiff::Timestamp, lang: Lang) -> String {
    match lang {
        Lang::Nb => format!(
            "Tiden er låst til {} av `now` i konfigurasjonen: kontroller, alder og frister er målt mot den, ikke mot klokken.",
            minute(t)
        ),
        Lang::En => format!(
            "The time is pinned to {} by `now` in the configuration: checks, ages and deadlines are measured against it, not the clock.",
            minute(t)
        ),
    }
}

fn senders_text(r: &ComplianceReport, lang: Lang) -> String {
    if r.data.senders.is_empty() {
        lang.words().senders_all.to_owned()
    } else {
        r.data
            .senders
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn sweeps_text(r: &ComplianceReport) -> String {
    let ids = &r.data.sweeps;
    // Runs of consecutive ids as ranges: 1–14, 16.
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        out.push(if j > i {
            format!("{}–{}", ids[i], ids[j])
        } else {
            ids[i].to_string()
        });
        i = j + 1;
    }
    out.join(", ")
}

fn hours_text(h: Option<u64>, lang: Lang) -> String {
    match h {
        Some(h) => format!("{h} {}", lang.words().hours),
        None => "–".to_owned(),
    }
}

/// Rows of the long CSV table.
struct Rows(Vec<[String; 4]>);

impl Rows {
    fn push(
        &mut self,
        section: &str,
        subject: impl std::fmt::Display,
        metric: impl std::fmt::Display,
        value: impl std::fmt::Display,
    ) {
        self.0.push([
            section.to_owned(),
            subject.to_string(),
            metric.to_string(),
            value.to_string(),
        ]);
    }

    fn coverage(&mut self, section: &str, subject: &str, c: &Coverage) {
        for (m, v) in [
            ("routes", c.routes),
            ("readable", c.readable),
            ("not_readable", c.not_readable),
            ("unknown", c.unknown),
            ("readable_permille", c.readable_permille),
        ] {
            self.push(section, subject, m, v);
        }
    }
}

impl ComplianceReport {
    /// JSON: `report`, `lang`, `data` (canonical: sorted keys) and `data_sha256`.
    pub fn json(&self, lang: Lang) -> String {
        let data: serde_json::Value =
            serde_json::from_str(&self.canonical).unwrap_or(serde_json::Value::Null);
        let doc = serde_json::json!({
            "report": "reachcheck-compliance",
            "lang": lang.words().lang,
            "data": data,
            "data_sha256": self.sha256,
        });
        let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
        s.push('\n');
        s
    }

    /// CSV: `section,subject,metric,value`, metric names in English whatever the language.
    pub fn csv(&self) -> String {
        let mut rows = Rows(Vec::new());
        let d = &self.data;
        rows.push("meta", "report", "period_from", d.period.from);
        rows.push("meta", "report", "period_to", d.period.to);
        rows.push("meta", "report", "senders", senders_text(self, Lang::En));
        rows.push("meta", "report", "as_of_sweep", d.as_of.sweep);
        rows.push("meta", "report", "as_of", d.as_of.finished_at);
        rows.push(
            "meta",
            "report",
            "evidence_taken_at",
            d.as_of.evidence_taken_at,
        );
        rows.push("meta", "report", "sweeps", sweeps_text(self));
        rows.push("meta", "report", "data_sha256", &self.sha256);
        rows.coverage("coverage", "all", &d.coverage);
        for s in &d.by_sender {
            rows.coverage("sender", &s.sender.to_string(), &s.coverage);
            rows.push("sender", s.sender, "open_findings", s.open_findings);
        }
        for t in &d.by_message_type {
            rows.coverage("message_type", t.message_type.as_str(), &t.coverage);
        }
        if let Some(o) = &d.onboarding {
            for r in &o.by_sender {
                let sender = r.sender.map(|s| s.to_string()).unwrap_or_default();
                for (m, v) in [
                    ("approved", r.approved),
                    ("pending", r.pending),
                    ("refused", r.refused),
                    ("expired", r.expired),
                    ("never_asked", r.never_asked),
                ] {
                    rows.push("onboarding", &sender, m, v);
                }
            }
            for f in &o.follow_up {
                rows.push(
                    "onboarding_follow_up",
                    f.org,
                    "approval_link",
                    f.approval_link.as_deref().unwrap_or(""),
                );
            }
        }
        for r in &d.recipients {
            let light = match r.light {
                Light::Red => "red",
                Light::Amber => "amber",
                Light::Green => "green",
            };
            rows.push("recipient", r.recipient, "light", light);
            rows.push("recipient", r.recipient, "routes", r.coverage.routes);
            rows.push(
                "recipient",
                r.recipient,
                "not_readable",
                r.coverage.not_readable,
            );
            rows.push("recipient", r.recipient, "unknown", r.coverage.unknown);
            rows.push("recipient", r.recipient, "open_findings", r.open_findings);
            rows.push("recipient", r.recipient, "open_critical", r.open_critical);
            if let Some(days) = r.days_open {
                rows.push("recipient", r.recipient, "days_open", days);
            }
        }
        for f in &d.open_critical {
            let subject = format!(
                "{} {} {}",
                f.route.sender, f.route.message_type, f.route.recipient
            );
            rows.push("open_critical", subject, f.code, f.days_open);
        }
        let t = &d.time_to_fix;
        rows.push("time_to_fix", "resolved", "count", t.resolved);
        if let Some(h) = t.median_hours {
            rows.push("time_to_fix", "resolved", "median_hours", h);
        }
        if let Some(h) = t.p90_hours {
            rows.push("time_to_fix", "resolved", "p90_hours", h);
        }
        for w in &d.trend {
            rows.coverage("week", &w.week, &w.coverage);
        }
        for s in &d.suppressions {
            let target = match (&s.sender, &s.message_type) {
                (Some(snd), Some(mt)) => format!("{snd} {mt} {}", s.recipient),
                _ => s.recipient.to_string(),
            };
            rows.push("suppression", s.id, "target", target);
            rows.push("suppression", s.id, "code", s.code);
            rows.push("suppression", s.id, "justification", &s.justification);
            rows.push("suppression", s.id, "expires_at", s.expires_at);
            rows.push("suppression", s.id, "expired", s.expired);
        }
        self.outcomes_csv(&mut rows);
        for (org, name) in &d.names.0 {
            rows.push("organisation", org, "name", name);
        }
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(["section", "subject", "metric", "value"]);
        for r in &rows.0 {
            let _ = w.write_record(r);
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }

    /// Markdown.
    pub fn markdown(&self, lang: Lang) -> String {
        let w = lang.words();
        let d = &self.data;
        let mut s = String::new();
        let _ = writeln!(s, "# {}\n", w.title);
        let _ = writeln!(s, "- {}: {}", w.period, period_text(self));
        let _ = writeln!(s, "- {}: {}", w.senders, senders_text(self, lang));
        let _ = writeln!(
            s,
            "- {} {} ({}), {} {}, {}: {}\n",
            w.as_of,
            d.as_of.sweep,
            minute(d.as_of.finished_at),
            w.evidence_taken,
            minute(d.as_of.evidence_taken_at),
            w.source,
            md(&d.as_of.source)
        );
        if let Some(t) = d.pinned_now {
            let _ = writeln!(s, "> {}\n", md(&pinned_text(t, lang)));
        }
        let _ = writeln!(s, "## {}\n", w.summary);
        let c = &d.coverage;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |\n|---:|---:|---:|---:|---:|\n| {} | {} | {} | {} | {} |\n",
            w.routes,
            w.readable,
            w.not_readable,
            w.unknown,
            w.share_readable,
            c.routes,
            c.readable,
            c.not_readable,
            c.unknown,
            percent(c.readable_permille, lang)
        );
        let coverage_table = |s: &mut String,
                              head: &str,
                              rows: Vec<(String, &Coverage, String)>,
                              extra: Option<&str>| {
            let _ = writeln!(
                s,
                "| {head} | {} | {} | {} | {} | {}{} |",
                w.routes,
                w.readable,
                w.not_readable,
                w.unknown,
                w.share_readable,
                extra.map(|e| format!(" | {e}")).unwrap_or_default()
            );
            let _ = writeln!(
                s,
                "|---|---:|---:|---:|---:|---:|{}",
                if extra.is_some() { "---:|" } else { "" }
            );
            for (k, c, x) in rows {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {}{} |",
                    md(&k),
                    c.routes,
                    c.readable,
                    c.not_readable,
                    c.unknown,
                    percent(c.readable_permille, lang),
                    if extra.is_some() {
                        format!(" | {x}")
                    } else {
                        String::new()
                    }
                );
            }
            s.push('\n');
        };
        let _ = writeln!(s, "## {}\n", w.by_sender);
        coverage_table(
            &mut s,
            w.sender,
            d.by_sender
                .iter()
                .map(|r| {
                    (
                        md(&d.names.label(r.sender)),
                        &r.coverage,
                        r.open_findings.to_string(),
                    )
                })
                .collect(),
            Some(w.open_findings),
        );
        if let Some(o) = &d.onboarding {
            s.push_str(&onboarding_markdown(o, &d.names, lang));
        }
        let _ = writeln!(s, "## {}\n", w.by_type);
        coverage_table(
            &mut s,
            w.message_type,
            d.by_message_type
                .iter()
                .map(|r| {
                    let k = match &r.title {
                        Some(t) => format!("{t} (`{}`)", r.message_type),
                        None => format!("`{}`", r.message_type),
                    };
                    (k, &r.coverage, String::new())
                })
                .collect(),
            None,
        );
        let _ = writeln!(s, "## {}\n", w.by_recipient);
        let _ = writeln!(s, "{}\n", recipients_summary(d, lang));
        for (sender, rows) in recipients_by_sender(d) {
            let _ = writeln!(s, "### {}\n", md(&d.names.label(sender)));
            recipients_md(&mut s, d, &rows, lang);
        }
        let _ = writeln!(s, "## {}\n", w.open_critical);
        if d.open_critical.is_empty() {
            let _ = writeln!(s, "{}\n", w.none);
        } else {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} |\n|---|---|---|---|---|---:|---|",
                w.sender,
                w.message_type,
                w.recipient,
                w.code,
                w.open_since,
                w.days_open,
                w.suppressed
            );
            for f in &d.open_critical {
                let _ = writeln!(
                    s,
                    "| {} | `{}` | {} | {} (`{}`) | {} | {} | {} |",
                    md(&d.names.label(f.route.sender)),
                    f.route.message_type,
                    md(&d.names.label(f.route.recipient)),
                    lang.finding(f.code),
                    f.code,
                    day(f.open_since),
                    f.days_open,
                    f.suppressed_by
                        .map_or(w.no.to_owned(), |id| format!("{} (#{id})", w.yes))
                );
            }
            s.push('\n');
        }
        let t = &d.time_to_fix;
        let _ = writeln!(
            s,
            "## {}\n\n| {} | {} | {} |\n|---:|---:|---:|\n| {} | {} | {} |\n",
            w.time_to_fix,
            w.resolved_in_period,
            w.median,
            w.p90,
            t.resolved,
            hours_text(t.median_hours, lang),
            hours_text(t.p90_hours, lang)
        );
        let _ = writeln!(s, "## {}\n", w.trend);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |\n|---|---:|---:|---:|",
            w.week, w.sweep, w.routes, w.share_readable
        );
        for wk in &d.trend {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                wk.week,
                wk.sweep,
                wk.coverage.routes,
                percent(wk.coverage.readable_permille, lang)
            );
        }
        s.push('\n');
        let _ = writeln!(s, "## {}\n", w.suppressions);
        if d.suppressions.is_empty() {
            let _ = writeln!(s, "{}\n", w.none);
        } else {
            let _ = writeln!(
                s,
                "| # | {} | {} | {} | {} |\n|---:|---|---|---|---|",
                w.recipient, w.code, w.justification, w.valid
            );
            for x in &d.suppressions {
                let target = match (&x.sender, &x.message_type) {
                    (Some(snd), Some(mt)) => {
                        format!("{} ({snd}, `{mt}`)", md(&d.names.label(x.recipient)))
                    }
                    _ => md(&d.names.label(x.recipient)),
                };
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} – {} ({}) |",
                    x.id,
                    target,
                    lang.finding(x.code),
                    md(&x.justification),
                    day(x.created_at),
                    day(x.expires_at),
                    if x.expired { w.expired } else { w.active }
                );
            }
            s.push('\n');
        }
        self.outcomes_markdown(&mut s, lang);
        let _ = writeln!(s, "## {}\n", appendix_title(lang));
        let all: Vec<&RecipientRow> = d.recipients.iter().collect();
        recipients_md(&mut s, d, &all, lang);
        let _ = writeln!(s, "## {}\n", w.method);
        for p in w.method_text {
            let _ = writeln!(s, "{p}\n");
        }
        let _ = writeln!(s, "## {}\n", w.verification);
        let _ = writeln!(s, "- {}: {}", w.sweeps_covered, sweeps_text(self));
        let _ = writeln!(s, "- {}: `{}`", w.sha_text, self.sha256);
        s
    }

    /// One self-contained HTML file.
    pub fn html(&self, lang: Lang) -> String {
        let w = lang.words();
        let d = &self.data;
        let mut s = String::new();
        let _ = write!(
            s,
            "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<main>\n",
            w.lang,
            esc(w.title),
            STYLE
        );
        let _ = write!(s, "<h1>{}</h1>\n<dl class=\"meta\">", esc(w.title));
        for (k, v) in [
            (w.period, period_text(self)),
            (w.senders, senders_text(self, lang)),
            (
                w.as_of,
                format!(
                    "{} ({}), {} {}, {}: {}",
                    d.as_of.sweep,
                    minute(d.as_of.finished_at),
                    w.evidence_taken,
                    minute(d.as_of.evidence_taken_at),
                    w.source,
                    d.as_of.source
                ),
            ),
        ] {
            let _ = write!(s, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&v));
        }
        s.push_str("</dl>\n");
        if let Some(t) = d.pinned_now {
            let _ = writeln!(s, "<p class=\"note\">{}</p>", esc(&pinned_text(t, lang)));
        }
        let c = &d.coverage;
        let _ = write!(
            s,
            "<section aria-labelledby=\"summary\"><h2 id=\"summary\">{}</h2>\n<div class=\"figures\">\
<p class=\"figure\"><span class=\"n\" id=\"share-readable\">{}</span> {}</p>\
<p class=\"figure\"><span class=\"n\">{}</span> {}</p>\
<p class=\"figure\"><span class=\"n\">{}</span> {}</p>\
<p class=\"figure\"><span class=\"n\">{}</span> {}</p>\
<p class=\"figure\"><span class=\"n\">{}</span> {}</p></div></section>\n",
            esc(w.summary),
            percent(c.readable_permille, lang),
            esc(w.share_readable),
            c.routes,
            esc(w.routes),
            c.readable,
            esc(w.readable),
            c.not_readable,
            esc(w.not_readable),
            c.unknown,
            esc(w.unknown)
        );
        let coverage_head = format!(
            "<th scope=\"col\" class=\"num\">{}</th><th scope=\"col\" class=\"num\">{}</th><th scope=\"col\" class=\"num\">{}</th><th scope=\"col\" class=\"num\">{}</th><th scope=\"col\" class=\"num\">{}</th>",
            esc(w.routes),
            esc(w.readable),
            esc(w.not_readable),
            esc(w.unknown),
            esc(w.share_readable)
        );
        let coverage_cells = |c: &Coverage| {
            format!(
                "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
                c.routes,
                c.readable,
                c.not_readable,
                c.unknown,
                percent(c.readable_permille, lang)
            )
        };
        let _ = write!(
            s,
            "<section><h2>{}</h2><table><caption>{}</caption><thead><tr><th scope=\"col\">{}</th>{coverage_head}<th scope=\"col\" class=\"num\">{}</th></tr></thead><tbody>",
            esc(w.by_sender),
            esc(w.by_sender),
            esc(w.sender),
            esc(w.open_findings)
        );
        for r in &d.by_sender {
            let _ = write!(
                s,
                "<tr><th scope=\"row\">{}</th>{}<td class=\"num\">{}</td></tr>",
                esc(&d.names.label(r.sender)),
                coverage_cells(&r.coverage),
                r.open_findings
            );
        }
        s.push_str("</tbody></table></section>\n");
        if let Some(o) = &d.onboarding {
            s.push_str(&onboarding_html(o, &d.names, lang));
        }
        let _ = write!(
            s,
            "<section><h2>{}</h2><table><caption>{}</caption><thead><tr><th scope=\"col\">{}</th>{coverage_head}</tr></thead><tbody>",
            esc(w.by_type),
            esc(w.by_type),
            esc(w.message_type)
        );
        for r in &d.by_message_type {
            let name = match &r.title {
                Some(t) => format!("{} (<code>{}</code>)", esc(t), esc(r.message_type.as_str())),
                None => format!("<code>{}</code>", esc(r.message_type.as_str())),
            };
            let _ = write!(
                s,
                "<tr><th scope=\"row\">{name}</th>{}</tr>",
                coverage_cells(&r.coverage)
            );
        }
        s.push_str("</tbody></table></section>\n");
        let _ = write!(
            s,
            "<section><h2>{}</h2><p>{}</p>",
            esc(w.by_recipient),
            esc(&recipients_summary(d, lang))
        );
        for (sender, rows) in recipients_by_sender(d) {
            let label = d.names.label(sender);
            let _ = write!(s, "<h3>{}</h3>", esc(&label));
            recipients_html(&mut s, d, &rows, &label, lang);
        }
        s.push_str("</section>\n");
        let _ = write!(s, "<section><h2>{}</h2>", esc(w.open_critical));
        if d.open_critical.is_empty() {
            let _ = write!(s, "<p>{}</p>", esc(w.none));
        } else {
            let _ = write!(
                s,
                "<table><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\" class=\"num\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
                esc(w.open_critical),
                esc(w.sender),
                esc(w.message_type),
                esc(w.recipient),
                esc(w.code),
                esc(w.open_since),
                esc(w.days_open),
                esc(w.suppressed)
            );
            for f in &d.open_critical {
                let _ = write!(
                    s,
                    "<tr><td>{}</td><td><code>{}</code></td><th scope=\"row\">{}</th><td>{} (<code>{}</code>)</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                    esc(&d.names.label(f.route.sender)),
                    esc(f.route.message_type.as_str()),
                    esc(&d.names.label(f.route.recipient)),
                    esc(lang.finding(f.code)),
                    f.code,
                    day(f.open_since),
                    f.days_open,
                    f.suppressed_by
                        .map_or(w.no.to_owned(), |id| format!("{} (#{id})", w.yes))
                );
            }
            s.push_str("</tbody></table>");
        }
        s.push_str("</section>\n");
        let t = &d.time_to_fix;
        let _ = writeln!(
            s,
            "<section><h2>{}</h2><table><caption>{}</caption><thead><tr><th scope=\"col\" class=\"num\">{}</th><th scope=\"col\" class=\"num\">{}</th><th scope=\"col\" class=\"num\">{}</th></tr></thead><tbody><tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr></tbody></table></section>",
            esc(w.time_to_fix),
            esc(w.time_to_fix),
            esc(w.resolved_in_period),
            esc(w.median),
            esc(w.p90),
            t.resolved,
            esc(&hours_text(t.median_hours, lang)),
            esc(&hours_text(t.p90_hours, lang))
        );
        let desc = d
            .trend
            .iter()
            .map(|wk| {
                format!(
                    "{}: {}",
                    wk.week,
                    percent(wk.coverage.readable_permille, lang)
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let _ = write!(
            s,
            "<section class=\"trend\"><h2>{}</h2><figure>{}<figcaption>{}</figcaption></figure><table><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\" class=\"num\">{}</th><th scope=\"col\" class=\"num\">{}</th><th scope=\"col\" class=\"num\">{}</th></tr></thead><tbody>",
            esc(w.trend),
            trend(&d.trend, w.trend_caption, &desc, lang),
            esc(w.trend_caption),
            esc(w.trend),
            esc(w.week),
            esc(w.sweep),
            esc(w.routes),
            esc(w.share_readable)
        );
        for wk in &d.trend {
            let _ = write!(
                s,
                "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&wk.week),
                wk.sweep,
                wk.coverage.routes,
                percent(wk.coverage.readable_permille, lang)
            );
        }
        s.push_str("</tbody></table></section>\n");
        let _ = write!(s, "<section><h2>{}</h2>", esc(w.suppressions));
        if d.suppressions.is_empty() {
            let _ = write!(s, "<p>{}</p>", esc(w.none));
        } else {
            let _ = write!(
                s,
                "<table><caption>{}</caption><thead><tr><th scope=\"col\">#</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
                esc(w.suppressions),
                esc(w.recipient),
                esc(w.code),
                esc(w.justification),
                esc(w.valid)
            );
            for x in &d.suppressions {
                let target = match (&x.sender, &x.message_type) {
                    (Some(snd), Some(mt)) => {
                        format!("{} ({snd}, {mt})", d.names.label(x.recipient))
                    }
                    _ => d.names.label(x.recipient),
                };
                let _ = write!(
                    s,
                    "<tr><td>{}</td><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{} – {} ({})</td></tr>",
                    x.id,
                    esc(&target),
                    esc(lang.finding(x.code)),
                    esc(&x.justification),
                    day(x.created_at),
                    day(x.expires_at),
                    esc(if x.expired { w.expired } else { w.active })
                );
            }
            s.push_str("</tbody></table>");
        }
        s.push_str("</section>\n");
        self.outcomes_html(&mut s, lang);
        let _ = write!(s, "<section><h2>{}</h2>", esc(appendix_title(lang)));
        let all: Vec<&RecipientRow> = d.recipients.iter().collect();
        recipients_html(&mut s, d, &all, appendix_title(lang), lang);
        s.push_str("</section>\n");
        let _ = write!(s, "<section><h2>{}</h2>", esc(w.method));
        for p in w.method_text {
            let _ = write!(s, "<p>{}</p>", esc(p));
        }
        s.push_str("</section>\n");
        let _ = write!(
            s,
            "<footer><h2>{}</h2><dl><dt>{}</dt><dd id=\"sweeps\">{}</dd><dt>{}</dt><dd><code id=\"sha256\">{}</code></dd></dl></footer>\n</main>\n</body>\n</html>\n",
            esc(w.verification),
            esc(w.sweeps_covered),
            esc(&sweeps_text(self)),
            esc(w.sha_text),
            self.sha256
        );
        s
    }
}

/// The stylesheet: screen and A4 print, high contrast, lights with a text label.
pub(super) const STYLE: &str = "\
:root{--fg:#111;--muted:#444;--line:#bbb;--red:#c53030;--amber:#b7791f;--green:#2f855a}\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:var(--fg);margin:0;line-height:1.4}\
main{max-width:60rem;margin:0 auto;padding:1.5rem}\
h1{font-size:1.6rem;margin:0 0 .5rem}h2{font-size:1.2rem;margin:1.6rem 0 .5rem;border-bottom:2px solid var(--fg)}\
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}dt{font-weight:600}dd{margin:0}\
.figures{display:flex;flex-wrap:wrap;gap:1rem}.figure{border:1px solid var(--line);padding:.5rem .8rem;margin:0;min-width:7rem}\
.figure .n{display:block;font-size:1.5rem;font-weight:700}\
table{border-collapse:collapse;width:100%;margin:.4rem 0;font-size:.9rem}caption{text-align:left;font-weight:600;padding:.2rem 0;position:absolute;left:-9999px}\
th,td{border-bottom:1px solid var(--line);padding:.25rem .4rem;text-align:left;vertical-align:top}thead th{border-bottom:2px solid var(--fg)}\
.num{text-align:right;font-variant-numeric:tabular-nums}\
.light{display:inline-block;width:.8rem;height:.8rem;border-radius:50%;margin-right:.4rem;vertical-align:-.05rem;border:1px solid #000}\
.light.red{background:var(--red)}.light.amber{background:var(--amber)}.light.green{background:var(--green)}\
figure{margin:.5rem 0}figcaption{color:var(--muted);font-size:.85rem}footer{margin-top:2rem;font-size:.85rem;color:var(--muted)}\
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85em;overflow-wrap:anywhere}\
@page{size:A4;margin:15mm}\
@media print{main{max-width:none;padding:0}body{font-size:10pt}h2{break-after:avoid}tr,figure{break-inside:avoid}thead{display:table-header-group}\
.light{print-color-adjust:exact;-webkit-print-color-adjust:exact}}";

/// A table of plain-text cells, rendered alike in Markdown and HTML.
struct Table {
    caption: String,
    /// Column headings, and whether the column is numeric (right-aligned).
    head: Vec<(&'static str, bool)>,
    rows: Vec<Vec<String>>,
    /// A line after the table (what was left out).
    note: Option<String>,
}

impl Table {
    fn markdown(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "| {} |\n|{}|",
            self.head
                .iter()
                .map(|(h, _)| md(h))
                .collect::<Vec<_>>()
                .join(" | "),
            self.head
                .iter()
                .map(|(_, num)| if *num { "---:" } else { "---" })
                .collect::<Vec<_>>()
                .join("|")
        );
        for r in &self.rows {
            let cells: Vec<String> = r.iter().map(|c| md(c)).collect();
            let _ = writeln!(s, "| {} |", cells.join(" | "));
        }
        s.push('\n');
        if let Some(n) = &self.note {
            let _ = writeln!(s, "{}\n", md(n));
        }
    }

    fn html(&self, s: &mut String) {
        let class = |num: bool| if num { " class=\"num\"" } else { "" };
        let _ = write!(
            s,
            "<table><caption>{}</caption><thead><tr>",
            esc(&self.caption)
        );
        for (h, num) in &self.head {
            let _ = write!(s, "<th scope=\"col\"{}>{}</th>", class(*num), esc(h));
        }
        s.push_str("</tr></thead><tbody>");
        for r in &self.rows {
            s.push_str("<tr>");
            for (i, c) in r.iter().enumerate() {
                let num = self.head.get(i).is_some_and(|(_, n)| *n);
                if i == 0 {
                    let _ = write!(s, "<th scope=\"row\"{}>{}</th>", class(num), esc(c));
                } else {
                    let _ = write!(s, "<td{}>{}</td>", class(num), esc(c));
                }
            }
            s.push_str("</tr>");
        }
        s.push_str("</tbody></table>");
        if let Some(n) = &self.note {
            let _ = write!(s, "<p>{}</p>", esc(n));
        }
    }
}

/// Route rows shown in Markdown and HTML (all are in CSV and JSON).
const ROUTE_ROWS: usize = 50;
/// Unread messages listed in Markdown and HTML (all are in CSV and JSON).
const UNREAD_ROWS: usize = 100;

/// Minutes as the largest sensible unit.
fn minutes_text(m: Option<u64>, lang: Lang) -> String {
    let (h, d) = match lang {
        Lang::Nb => ("t", "d"),
        Lang::En => ("h", "d"),
    };
    match m {
        None => "–".to_owned(),
        Some(m) if m < 120 => format!("{m} min"),
        Some(m) if m < 48 * 60 => format!("{} {h}", m / 60),
        Some(m) => format!("{} {d}", m / (24 * 60)),
    }
}

/// The outcomes section as tables: the figures, the calibration, the routes that need
/// attention, and the messages unread past the deadline.
fn outcome_tables(o: &super::outcomes::Outcomes, names: &super::Names, lang: Lang) -> Vec<Table> {
    let w = lang.words();
    let figures = Table {
        caption: w.outcomes.to_owned(),
        head: vec![("", false), ("#", true)],
        rows: [
            (w.messages_sent, o.messages),
            (w.read_within, o.read_within_deadline),
            (w.read_late, o.read_late),
            (w.unread_now, o.unread_now),
            (w.unread_past, o.unread_past_deadline),
            (w.contradicted_unread, o.contradicted_unread),
            (w.contradicted_read, o.contradicted_read),
        ]
        .into_iter()
        .map(|(k, v)| vec![k.to_owned(), v.to_string()])
        .collect(),
        note: None,
    };
    let verdict = |v: &str| match v {
        "readable" => w.readable,
        "not_readable" => w.not_readable,
        "unknown" => w.unknown,
        _ => w.not_judged,
    };
    let calibration = Table {
        caption: w.calibration.to_owned(),
        head: vec![
            (w.verdict_then, false),
            (w.decided, true),
            (w.read_within, true),
            (w.share_read, true),
        ],
        rows: o
            .calibration
            .iter()
            .map(|c| {
                vec![
                    verdict(c.verdict).to_owned(),
                    c.messages.to_string(),
                    c.read_within_deadline.to_string(),
                    c.read_permille.map_or("–".to_owned(), |p| percent(p, lang)),
                ]
            })
            .collect(),
        note: None,
    };
    let attention: Vec<_> = o
        .by_route
        .iter()
        .filter(|r| r.unread_past_deadline > 0)
        .collect();
    let left_out = o.by_route.len() - attention.len().min(ROUTE_ROWS);
    let routes = Table {
        caption: w.by_route_outcomes.to_owned(),
        head: vec![
            (w.recipient, false),
            (w.sender, false),
            (w.message_type, false),
            (w.messages_sent, true),
            (w.read_within, true),
            (w.unread_now, true),
            (w.unread_past, true),
            (w.median_to_read, true),
            (w.p90_to_read, true),
        ],
        rows: attention
            .iter()
            .take(ROUTE_ROWS)
            .map(|r| {
                vec![
                    names.label(r.recipient),
                    names.label(r.sender),
                    r.message_type.to_string(),
                    r.sent.to_string(),
                    r.read_within_deadline.to_string(),
                    r.unread_now.to_string(),
                    r.unread_past_deadline.to_string(),
                    minutes_text(r.median_minutes_to_read, lang),
                    minutes_text(r.p90_minutes_to_read, lang),
                ]
            })
            .collect(),
        note: (left_out > 0).then(|| format!("{left_out} {}", w.more_routes)),
    };
    // The columns that say which message: recipient, sender, type, reference, published.
    let message_head = || {
        vec![
            (w.recipient, false),
            (w.sender, false),
            (w.message_type, false),
            (w.reference, false),
            (w.published, false),
        ]
    };
    let message_cells = |m: &super::outcomes::SentMessage| {
        vec![
            names.label(m.recipient),
            names.label(m.sender),
            m.message_type.to_string(),
            m.reference(),
            minute(m.published),
        ]
    };
    let unread = Table {
        caption: w.unread_list.to_owned(),
        head: [
            message_head(),
            vec![
                (w.deadline, false),
                (w.age_days, true),
                (w.verdict_then, false),
            ],
        ]
        .concat(),
        rows: o
            .unread
            .iter()
            .take(UNREAD_ROWS)
            .map(|u| {
                let mut row = message_cells(&u.message);
                row.extend([
                    minute(u.deadline),
                    u.age_days.to_string(),
                    u.predicted
                        .map_or(w.not_judged, |v| lang.verdict(v))
                        .to_owned(),
                ]);
                row
            })
            .collect(),
        note: (o.unread.len() > UNREAD_ROWS)
            .then(|| format!("{} {}", o.unread.len() - UNREAD_ROWS, w.more_unread)),
    };
    let contradicted = Table {
        caption: w.contradicted_list.to_owned(),
        head: [
            message_head(),
            vec![
                (w.verdict_then, false),
                (w.opened, false),
                (w.severity, false),
            ],
        ]
        .concat(),
        rows: o
            .contradicted
            .iter()
            .take(UNREAD_ROWS)
            .map(|c| {
                let mut row = message_cells(&c.message);
                row.extend([
                    lang.verdict(c.predicted).to_owned(),
                    c.read.map_or(w.not_opened.to_owned(), minute),
                    if c.severity == "warning" {
                        w.severity_warning
                    } else {
                        w.severity_info
                    }
                    .to_owned(),
                ]);
                row
            })
            .collect(),
        note: (o.contradicted.len() > UNREAD_ROWS)
            .then(|| format!("{} {}", o.contradicted.len() - UNREAD_ROWS, w.more_unread)),
    };
    let mut tables = vec![figures, calibration, routes, unread];
    if !o.contradicted.is_empty() {
        tables.insert(2, contradicted);
    }
    tables
}

impl ComplianceReport {
    /// The outcomes section in Markdown (nothing when the store holds no sent message).
    fn outcomes_markdown(&self, s: &mut String, lang: Lang) {
        let Some(o) = &self.data.outcomes else {
            return;
        };
        let w = lang.words();
        let _ = writeln!(
            s,
            "## {}\n\n{}\n\n{}: {}.\n",
            w.outcomes,
            w.outcomes_read_means,
            w.outcomes_at,
            minute(o.at)
        );
        for (i, t) in outcome_tables(o, &self.data.names, lang)
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                let _ = writeln!(s, "### {}\n", t.caption);
            }
            t.markdown(s);
        }
    }

    /// The outcomes section in HTML (nothing when the store holds no sent message).
    fn outcomes_html(&self, s: &mut String, lang: Lang) {
        let Some(o) = &self.data.outcomes else {
            return;
        };
        let w = lang.words();
        let _ = write!(
            s,
            "<section id=\"outcomes\"><h2>{}</h2><p>{}</p><p>{}: {}.</p>",
            esc(w.outcomes),
            esc(w.outcomes_read_means),
            esc(w.outcomes_at),
            minute(o.at)
        );
        for (i, t) in outcome_tables(o, &self.data.names, lang)
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                let _ = write!(s, "<h3>{}</h3>", esc(&t.caption));
            }
            t.html(s);
        }
        s.push_str("</section>\n");
    }

    /// The outcomes section's CSV rows.
    fn outcomes_csv(&self, rows: &mut Rows) {
        let Some(o) = &self.data.outcomes else {
            return;
        };
        for (m, v) in [
            ("messages", o.messages),
            ("read_within_deadline", o.read_within_deadline),
            ("read_late", o.read_late),
            ("unread_now", o.unread_now),
            ("unread_past_deadline", o.unread_past_deadline),
            ("contradicted_unread", o.contradicted_unread),
            ("contradicted_read", o.contradicted_read),
        ] {
            rows.push("outcomes", "all", m, v);
        }
        for c in &o.calibration {
            rows.push("calibration", c.verdict, "messages", c.messages);
            rows.push(
                "calibration",
                c.verdict,
                "read_within_deadline",
                c.read_within_deadline,
            );
            if let Some(p) = c.read_permille {
                rows.push("calibration", c.verdict, "read_permille", p);
            }
        }
        for r in &o.by_route {
            let subject = format!("{} {} {}", r.sender, r.message_type, r.recipient);
            for (m, v) in [
                ("sent", Some(r.sent)),
                ("read_within_deadline", Some(r.read_within_deadline)),
                ("unread_now", Some(r.unread_now)),
                ("unread_past_deadline", Some(r.unread_past_deadline)),
                ("median_minutes_to_read", r.median_minutes_to_read),
                ("p90_minutes_to_read", r.p90_minutes_to_read),
            ] {
                if let Some(v) = v {
                    rows.push("outcome_route", &subject, m, v);
                }
            }
        }
        for u in &o.unread {
            let subject = message_rows(rows, "unread_message", &u.message);
            rows.push("unread_message", &subject, "deadline", u.deadline);
            rows.push("unread_message", &subject, "age_days", u.age_days);
            rows.push(
                "unread_message",
                &subject,
                "verdict_when_sent",
                u.predicted.map_or("not_judged", |v| v.as_str()),
            );
        }
        for c in &o.contradicted {
            let subject = message_rows(rows, "contradicted_message", &c.message);
            rows.push(
                "contradicted_message",
                &subject,
                "verdict_when_sent",
                c.predicted.as_str(),
            );
            if let Some(r) = c.read {
                rows.push("contradicted_message", &subject, "read", r);
            }
            rows.push("contradicted_message", &subject, "severity", c.severity);
        }
    }
}

/// Column heads and the follow-up words of the onboarding section.
fn onboarding_words(lang: Lang) -> (&'static str, [&'static str; 6], String) {
    if lang == Lang::Nb {
        (
            "Godkjenning av systembruker (mottakere per avsender)",
            [
                "Avsender",
                "godkjent",
                "venter",
                "avslått",
                "utløpt",
                "ikke spurt",
            ],
            "Venter lenger enn {} dager (følg opp: send hver sin egen lenke)".to_owned(),
        )
    } else {
        (
            "System-user approval (recipients per sender)",
            [
                "Sender",
                "approved",
                "pending",
                "refused",
                "expired",
                "never asked",
            ],
            "Pending longer than {} days (follow up: send each its own link)".to_owned(),
        )
    }
}

fn onboarding_cells(r: &super::onboarding::SenderOnboarding) -> [u64; 5] {
    [r.approved, r.pending, r.refused, r.expired, r.never_asked]
}

fn onboarding_markdown(
    o: &super::onboarding::OnboardingCoverage,
    names: &super::Names,
    lang: Lang,
) -> String {
    let (title, heads, follow) = onboarding_words(lang);
    let mut s = format!(
        "## {title}\n\n| {} |\n|---|---:|---:|---:|---:|---:|\n",
        heads.join(" | ")
    );
    for r in &o.by_sender {
        let cells: Vec<String> = onboarding_cells(r).iter().map(u64::to_string).collect();
        let sender = r.sender.map(|x| md(&names.label(x))).unwrap_or_default();
        let _ = writeln!(s, "| {sender} | {} |", cells.join(" | "));
    }
    s.push('\n');
    if !o.follow_up.is_empty() {
        let _ = writeln!(
            s,
            "{}:\n",
            follow.replace("{}", &o.remind_after_days.to_string())
        );
        for f in &o.follow_up {
            let _ = writeln!(
                s,
                "- {} ({}) {}",
                f.org,
                f.since.map(day).unwrap_or_default(),
                md(f.approval_link.as_deref().unwrap_or("-"))
            );
        }
        s.push('\n');
    }
    s
}

fn onboarding_html(
    o: &super::onboarding::OnboardingCoverage,
    names: &super::Names,
    lang: Lang,
) -> String {
    let (title, heads, follow) = onboarding_words(lang);
    let mut s = format!(
        "<section><h2>{}</h2><table><caption>{}</caption><thead><tr>",
        esc(title),
        esc(title)
    );
    for (i, h) in heads.iter().enumerate() {
        let class = if i == 0 { "" } else { " class=\"num\"" };
        let _ = write!(s, "<th scope=\"col\"{class}>{}</th>", esc(h));
    }
    s.push_str("</tr></thead><tbody>");
    for r in &o.by_sender {
        let sender = r.sender.map(|x| esc(&names.label(x))).unwrap_or_default();
        let _ = write!(s, "<tr><th scope=\"row\">{sender}</th>");
        for c in onboarding_cells(r) {
            let _ = write!(s, "<td class=\"num\">{c}</td>");
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    if !o.follow_up.is_empty() {
        let _ = write!(
            s,
            "<p>{}:</p><ul>",
            esc(&follow.replace("{}", &o.remind_after_days.to_string()))
        );
        for f in &o.follow_up {
            let link = f.approval_link.as_deref().unwrap_or("-");
            let _ = write!(
                s,
                "<li>{} ({}) <a href=\"{}\">{}</a></li>",
                f.org,
                f.since.map(day).unwrap_or_default(),
                esc(link),
                esc(link)
            );
        }
        s.push_str("</ul>");
    }
    s.push_str("</section>\n");
    s
}
