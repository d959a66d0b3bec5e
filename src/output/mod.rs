//! Output formats for judged routes: `table` (for people at a terminal), `json` (the
//! contract in docs/design.md), `csv` and `markdown`.
//!
//! Owns: rendering an [`Evaluation`] with its explanations. Does not own: judging, or
//! where the bytes go (the caller passes a writer; files are written atomically by the
//! CLI).

mod markdown;
pub mod messages;
mod table;

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::engine::{
    Assessment, Engine, Evaluation, ExplainOptions, Explanation, RouteResult, Summary,
};
use crate::model::{FindingCode, MessageTypeId, OrgNumber, Route, Verdict};

/// Which routes are printed (`check --only`, `--sender`, `--message-type`). The others are
/// judged and counted all the same: the summary, the findings by code and the exit code
/// cover every route. An empty list lets every value through.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RouteFilter {
    /// Only routes with one of these verdicts.
    pub only: Vec<Verdict>,
    /// Only routes from one of these senders.
    pub sender: Vec<OrgNumber>,
    /// Only routes of one of these message types.
    pub message_type: Vec<MessageTypeId>,
}

static NO_FILTER: RouteFilter = RouteFilter {
    only: Vec::new(),
    sender: Vec::new(),
    message_type: Vec::new(),
};

impl RouteFilter {
    /// Whether every route is shown.
    pub fn is_empty(&self) -> bool {
        self.only.is_empty() && self.sender.is_empty() && self.message_type.is_empty()
    }

    /// Whether a route judged `verdict` is shown.
    pub fn shows(&self, route: &Route, verdict: Verdict) -> bool {
        (self.only.is_empty() || self.only.contains(&verdict))
            && (self.sender.is_empty() || self.sender.contains(&route.sender))
            && (self.message_type.is_empty() || self.message_type.contains(&route.message_type))
    }

    /// The filter as the flags that give it, e.g. `--only not_readable,unknown --sender
    /// 310000019` (empty when every route is shown).
    pub fn flags(&self) -> String {
        fn list<T: std::fmt::Display>(v: &[T]) -> String {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        }
        let mut out = Vec::new();
        if !self.only.is_empty() {
            out.push(format!("--only {}", list(&self.only)));
        }
        if !self.sender.is_empty() {
            out.push(format!("--sender {}", list(&self.sender)));
        }
        if !self.message_type.is_empty() {
            out.push(format!("--message-type {}", list(&self.message_type)));
        }
        out.join(" ")
    }
}

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    /// One line per route, verdict first, then a summary.
    #[default]
    Table,
    /// The JSON contract (docs/design.md, "JSON output").
    Json,
    /// One row per route.
    Csv,
    /// A readable document with every finding, its evidence and remediation.
    Markdown,
}

static EMPTY_HISTORY: crate::outcome::RouteHistory = crate::outcome::RouteHistory {
    sent: 0,
    read_within_deadline: 0,
    last_read: None,
    unread_now: 0,
    unread_past_deadline: 0,
    contradicted_unread: 0,
    contradicted_read: 0,
    not_judged: 0,
};

/// `n routes`, or `1 route`.
pub fn routes(n: usize) -> String {
    if n == 1 {
        "1 route".to_owned()
    } else {
        format!("{n} routes")
    }
}

/// How to render.
#[derive(Clone, Copy, Debug, Default)]
pub struct RenderOptions {
    /// Explanations: show full names or not.
    pub explain: ExplainOptions,
    /// Use colour (table only).
    pub color: bool,
    /// Show each finding's message and remediation under its route (table only).
    pub details: bool,
    /// Without `details`: show why, in one line, under each route that is not readable
    /// (table only; `precheck`).
    pub reasons: bool,
    /// Print the summary before the routes (table only: markdown and JSON always open
    /// with it).
    pub summary_first: bool,
}

/// How many explanations a [`Rendering`] keeps: routes to one recipient usually follow one
/// another, so a small cache builds each explanation about once while memory stays bounded
/// however many distinct assessments there are (a million routes may have a million).
const CACHED_EXPLANATIONS: usize = 8192;

/// An evaluation with what is needed to explain it; explanations are built once per
/// distinct assessment while it is in the cache (they do not depend on the sender).
/// Every format is rendered route by route into the writer: nothing holds the whole
/// output, nor an explanation per route.
pub struct Rendering<'a> {
    /// The engine that judged the routes.
    pub engine: &'a Engine,
    /// The judged routes.
    pub evaluation: &'a Evaluation,
    /// Options.
    pub options: RenderOptions,
    /// What each route's sent messages did, shown beside its verdict when given.
    pub histories:
        Option<&'a rustc_hash::FxHashMap<crate::model::Route, crate::outcome::RouteHistory>>,
    /// Which routes are printed.
    pub filter: &'a RouteFilter,
    /// Explanations by assessment index modulo its length (direct-mapped).
    cache: Vec<Option<(u32, Explanation)>>,
}

impl<'a> Rendering<'a> {
    /// Prepares `evaluation` for rendering.
    pub fn new(engine: &'a Engine, evaluation: &'a Evaluation, options: RenderOptions) -> Self {
        Rendering {
            engine,
            evaluation,
            options,
            histories: None,
            filter: &NO_FILTER,
            cache: vec![None; evaluation.assessments.len().clamp(1, CACHED_EXPLANATIONS)],
        }
    }

    /// Shows what each route's sent messages did (`precheck` with a store).
    #[must_use]
    pub fn with_histories(
        mut self,
        histories: &'a rustc_hash::FxHashMap<crate::model::Route, crate::outcome::RouteHistory>,
    ) -> Self {
        self.histories = Some(histories);
        self
    }

    /// Keeps at most `n` explanations at once (at least one; by default 8,192): fewer use
    /// less memory, and build an explanation again when routes to one recipient are far
    /// apart in the routing table. The output is the same.
    #[must_use]
    pub fn keeping_explanations(mut self, n: usize) -> Self {
        self.cache = vec![None; self.evaluation.assessments.len().clamp(1, n.max(1))];
        self
    }

    /// Prints only the routes `filter` shows.
    #[must_use]
    pub fn with_filter(mut self, filter: &'a RouteFilter) -> Self {
        self.filter = filter;
        self
    }

    /// The routes printed, in routing-table order.
    pub fn shown(&self) -> impl Iterator<Item = &'a RouteResult> + use<'a> {
        let (evaluation, filter) = (self.evaluation, self.filter);
        evaluation.routes.iter().filter(move |r| {
            filter.shows(
                &r.route,
                evaluation.assessments[r.assessment as usize].verdict,
            )
        })
    }

    fn history(&self, route: &crate::model::Route) -> Option<&'a crate::outcome::RouteHistory> {
        self.histories
            .map(|h| h.get(route).unwrap_or(&EMPTY_HISTORY))
    }

    /// The explanation of a route (cached per assessment, a bounded number of them).
    pub fn explanation(&mut self, r: &RouteResult) -> &Explanation {
        let (engine, evaluation, options) = (self.engine, self.evaluation, self.options.explain);
        let a = &evaluation.assessments[r.assessment as usize];
        let slots = self.cache.len();
        let slot = &mut self.cache[r.assessment as usize % slots];
        if slot.as_ref().is_some_and(|(i, _)| *i != r.assessment) {
            *slot = None;
        }
        &slot
            .get_or_insert_with(|| {
                (
                    r.assessment,
                    engine.explain(&r.route, a, evaluation.now, options),
                )
            })
            .1
    }

    /// Renders in `format` to `out`.
    pub fn render(&mut self, format: Format, out: &mut dyn Write) -> io::Result<()> {
        match format {
            Format::Table => table::render(self, out),
            Format::Json => self.json(out),
            Format::Csv => self.csv(out),
            Format::Markdown => markdown::render(self, out),
        }
    }

    /// Findings counted by code, over all routes.
    pub fn findings_by_code(&self) -> BTreeMap<FindingCode, usize> {
        let mut out = BTreeMap::new();
        for (_, a) in self.evaluation.iter() {
            for f in a.findings() {
                *out.entry(f.code()).or_insert(0) += 1;
            }
        }
        out
    }

    fn min_readers(&self, t: &MessageTypeId) -> u32 {
        self.engine
            .policies()
            .message_type(t)
            .map_or(1, |m| m.min_readers)
    }

    fn json(&mut self, out: &mut dyn Write) -> io::Result<()> {
        #[derive(Serialize)]
        struct Head<'h> {
            now: String,
            snapshot_taken_at: String,
            evidence: &'h str,
            summary: Summary,
            findings_by_code: BTreeMap<&'static str, usize>,
            #[serde(skip_serializing_if = "Option::is_none")]
            filter: Option<JsonFilter<'h>>,
        }
        /// Present only when a filter applied: which, and how many routes it let through.
        #[derive(Serialize)]
        struct JsonFilter<'f> {
            #[serde(flatten)]
            filter: &'f RouteFilter,
            routes: usize,
        }
        #[derive(Serialize)]
        struct JsonRoute<'r> {
            sender: OrgNumber,
            message_type: &'r MessageTypeId,
            recipient: OrgNumber,
            verdict: Verdict,
            readers: u32,
            evidence_tier: &'static str,
            recipient_name: Option<&'r str>,
            min_readers: u32,
            evidence_taken_at: String,
            /// Absent for a route that came from no file (`precheck`).
            #[serde(skip_serializing_if = "Option::is_none")]
            line: Option<u32>,
            evidence: &'r [String],
            findings: &'r [crate::engine::ExplainedFinding],
            #[serde(skip_serializing_if = "Option::is_none")]
            history: Option<&'r crate::outcome::RouteHistory>,
        }
        let head = Head {
            now: self.evaluation.now.to_string(),
            snapshot_taken_at: self.engine.snapshot().taken_at.to_string(),
            evidence: &self.engine.snapshot().origin,
            summary: self.evaluation.summary(),
            findings_by_code: self
                .findings_by_code()
                .into_iter()
                .map(|(c, n)| (c.as_str(), n))
                .collect(),
            filter: (!self.filter.is_empty()).then(|| JsonFilter {
                filter: self.filter,
                routes: self.shown().count(),
            }),
        };
        // Stream: the head, then one route at a time, so large tables need little memory.
        let head = serde_json::to_string_pretty(&head).map_err(io::Error::other)?;
        let head = head.trim_end().trim_end_matches('}').trim_end();
        write!(out, "{head},\n  \"routes\": [")?;
        let evaluation = self.evaluation;
        let mut any = false;
        for (i, r) in self.shown().enumerate() {
            any = true;
            let a: &Assessment = &evaluation.assessments[r.assessment as usize];
            let min_readers = self.min_readers(&r.route.message_type);
            let history = self.history(&r.route);
            let x = self.explanation(r);
            let route = JsonRoute {
                history,
                sender: r.route.sender,
                message_type: &r.route.message_type,
                recipient: r.route.recipient,
                verdict: a.verdict,
                readers: a.readers,
                evidence_tier: a.tier.as_str(),
                recipient_name: x.recipient_name.as_deref(),
                min_readers,
                evidence_taken_at: a.observed_at.to_string(),
                line: Some(r.line).filter(|&l| l > 0),
                evidence: &x.readers,
                findings: &x.findings,
            };
            let text = serde_json::to_string_pretty(&route).map_err(io::Error::other)?;
            let sep = if i == 0 { "\n" } else { ",\n" };
            out.write_all(sep.as_bytes())?;
            for (j, line) in text.lines().enumerate() {
                if j > 0 {
                    out.write_all(b"\n")?;
                }
                write!(out, "    {line}")?;
            }
        }
        if !any {
            out.write_all(b"]\n}\n")
        } else {
            out.write_all(b"\n  ]\n}\n")
        }
    }

    fn csv(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record([
            "sender",
            "message_type",
            "recipient",
            "verdict",
            "readers",
            "evidence_tier",
            "findings",
            "recipient_name",
            "min_readers",
            "severity",
            "messages",
            "remediation",
        ])?;
        let evaluation = self.evaluation;
        for r in self.shown() {
            let a = &evaluation.assessments[r.assessment as usize];
            let min = self.min_readers(&r.route.message_type);
            let x = self.explanation(r);
            let codes: Vec<&str> = x.findings.iter().map(|f| f.code.as_str()).collect();
            let severity = x
                .findings
                .iter()
                .map(|f| f.severity)
                .max()
                .map(|s| s.as_str())
                .unwrap_or("");
            let messages: Vec<&str> = x.findings.iter().map(|f| f.message.as_str()).collect();
            let remediation: Vec<&str> =
                x.findings.iter().map(|f| f.remediation.as_str()).collect();
            w.write_record([
                r.route.sender.to_string().as_str(),
                r.route.message_type.as_str(),
                r.route.recipient.to_string().as_str(),
                a.verdict.as_str(),
                a.readers.to_string().as_str(),
                a.tier.as_str(),
                codes.join(";").as_str(),
                x.recipient_name.as_deref().unwrap_or(""),
                min.to_string().as_str(),
                severity,
                messages.join(" | ").as_str(),
                remediation.join(" | ").as_str(),
            ])?;
        }
        w.flush()
    }
}
