//! Compliance reports for directorates and remediation letters for recipients, computed
//! from the store ([`ComplianceReport::build`], [`letter::Letter::build`]) and rendered as
//! JSON, CSV, Markdown or one self-contained HTML file, in bokmål or English.
//!
//! Owns: the accounting method (what counts, as of which sweep), the figures, and their
//! renderings. Does not own: judging (the engine did that and the store kept it).
//!
//! No personal data: the store holds organisation numbers, codes, grants and counts only;
//! free text that operators write (suppression justifications) is shown with anything that
//! looks like a national identity number removed.

pub mod letter;
pub mod onboarding;
pub mod outcomes;
mod render;
mod svg;
pub mod text;

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::model::{FindingCode, MessageTypeId, OrgNumber, Route, Severity, Verdict};
use crate::policy::Policies;
use crate::store::{Change, Store, StoreError, SweepId, SweepRecord};

pub use render::ReportFormat;
pub use text::Lang;

/// The report cannot be made; every variant means exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The store has no successful sweep at all.
    #[error(
        "the store `{0}` has no successful sweep yet: run `reachcheck serve --once` (or let the daemon sweep) first"
    )]
    NoSweeps(String),
    /// No sweep ended in the period.
    #[error(
        "no sweep ended between {from} and {to}; the store's sweeps ended between {first} and {last}"
    )]
    EmptyPeriod {
        /// Period start.
        from: Timestamp,
        /// Period end.
        to: Timestamp,
        /// First sweep in the store.
        first: Timestamp,
        /// Last sweep in the store.
        last: Timestamp,
    },
    /// A sender the store has never seen.
    #[error("`--sender {0}`: the store has no route from this sender")]
    UnknownSender(OrgNumber),
    /// A sender without routes in the sweep reported on.
    #[error(
        "`--sender {sender}`: no route from this sender in sweep {sweep}, the last of the period"
    )]
    SenderWithoutRoutes {
        /// The sender.
        sender: OrgNumber,
        /// The sweep.
        sweep: SweepId,
    },
    /// A recipient without routes (letters).
    #[error(
        "`--recipient {recipient}`: no route to this recipient in sweep {sweep}, the last of the period"
    )]
    UnknownRecipient {
        /// The recipient.
        recipient: OrgNumber,
        /// The sweep.
        sweep: SweepId,
    },
    /// The period is not a period.
    #[error("{0}")]
    Period(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A half-open interval of time `[from, to)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Period {
    /// Start, included.
    pub from: Timestamp,
    /// End, excluded.
    pub to: Timestamp,
}

impl Period {
    /// `YYYY-MM`: that calendar month, in UTC.
    pub fn month(s: &str) -> Result<Period, String> {
        let bad = || format!("`--period {s}`: expected a month as YYYY-MM, e.g. `2026-11`");
        let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
        let (y, m): (i16, i8) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        let first = jiff::civil::Date::new(y, m, 1).map_err(|_| bad())?;
        let next = first
            .checked_add(jiff::Span::new().months(1))
            .map_err(|_| bad())?;
        Ok(Period {
            from: utc_midnight(first)?,
            to: utc_midnight(next)?,
        })
    }

    /// `--from` and `--to`: dates (`YYYY-MM-DD`, the whole day included) or RFC 3339 times
    /// (`--to` excluded). A missing end is open.
    pub fn between(from: Option<&str>, to: Option<&str>) -> Result<Period, String> {
        let from = match from {
            Some(s) => bound(s, "--from", false)?,
            None => Timestamp::MIN,
        };
        let to = match to {
            Some(s) => bound(s, "--to", true)?,
            None => Timestamp::MAX,
        };
        if from >= to {
            return Err(format!("`--from` ({from}) is not before `--to` ({to})"));
        }
        Ok(Period { from, to })
    }
}

fn utc_midnight(d: jiff::civil::Date) -> Result<Timestamp, String> {
    d.to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .map_err(|e| e.to_string())
}

fn bound(s: &str, flag: &str, end: bool) -> Result<Timestamp, String> {
    let s = s.trim();
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    let d: jiff::civil::Date = s
        .parse()
        .map_err(|_| format!("`{flag} {s}`: expected a date (YYYY-MM-DD) or an RFC 3339 time"))?;
    let d = if end {
        d.tomorrow().map_err(|e| e.to_string())?
    } else {
        d
    };
    utc_midnight(d)
}

/// What to report on.
#[derive(Clone, Debug)]
pub struct ReportRequest {
    /// The period: sweeps that ended in it.
    pub period: Period,
    /// Only these senders (none = all).
    pub senders: Vec<OrgNumber>,
}

/// Routes by verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// Routes.
    pub routes: u64,
    /// `readable`.
    pub readable: u64,
    /// `not_readable`.
    pub not_readable: u64,
    /// `unknown`.
    pub unknown: u64,
    /// Share of routes proven readable, in per mille (unknown counts as not proven).
    pub readable_permille: u64,
}

impl Coverage {
    fn add(&mut self, v: Verdict) {
        self.routes += 1;
        match v {
            Verdict::Readable => self.readable += 1,
            Verdict::NotReadable => self.not_readable += 1,
            Verdict::Unknown => self.unknown += 1,
        }
        self.readable_permille = (self.readable * 1000 + self.routes / 2) / self.routes;
    }
}

/// A traffic light: the worst verdict of a recipient's routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Light {
    /// Some route cannot be read.
    Red,
    /// Some route is not proven readable.
    Amber,
    /// Every route is readable.
    Green,
}

/// One sender's routes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SenderRow {
    /// The sender.
    pub sender: OrgNumber,
    /// Its routes by verdict.
    pub coverage: Coverage,
    /// Open findings on its routes.
    pub open_findings: u64,
}

/// One message type's routes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TypeRow {
    /// The message type.
    pub message_type: MessageTypeId,
    /// Its title, when the policies define it.
    pub title: Option<String>,
    /// Its routes by verdict.
    pub coverage: Coverage,
}

/// One recipient's traffic light.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecipientRow {
    /// The recipient.
    pub recipient: OrgNumber,
    /// Red, amber or green.
    pub light: Light,
    /// The worst verdict of its routes.
    pub worst: Verdict,
    /// Its routes by verdict.
    pub coverage: Coverage,
    /// Open findings on its routes.
    pub open_findings: u64,
    /// Open critical findings on its routes.
    pub open_critical: u64,
    /// Days since the oldest open finding opened (whole days), if any is open.
    pub days_open: Option<u64>,
    /// The senders with a route to it that is not readable (`not_readable` or `unknown`):
    /// who is to act, for the report's recipients-first view.
    #[serde(rename = "senders_needing_action")]
    pub senders_to_act: Vec<OrgNumber>,
}

/// An open critical finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpenFinding {
    /// The route.
    #[serde(flatten)]
    pub route: Route,
    /// Its code.
    pub code: FindingCode,
    /// When it (last) opened.
    pub open_since: Timestamp,
    /// Whole days open at the sweep reported on.
    pub days_open: u64,
    /// The suppression accepting it, if any.
    pub suppressed_by: Option<i64>,
}

/// How fast findings are fixed: from (re)opening to resolution, for findings resolved in
/// the period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TimeToFix {
    /// Findings resolved in the period.
    pub resolved: u64,
    /// Median, in hours (rounded).
    pub median_hours: Option<u64>,
    /// 90th percentile (nearest rank), in hours (rounded).
    pub p90_hours: Option<u64>,
}

/// Coverage in one ISO week: the last sweep that ended in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WeekRow {
    /// `2026-W47`.
    pub week: String,
    /// The sweep.
    pub sweep: SweepId,
    /// Routes by verdict.
    pub coverage: Coverage,
}

/// A suppression in force during the period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SuppressionRow {
    /// Its id.
    pub id: i64,
    /// The recipient.
    pub recipient: OrgNumber,
    /// The sender, for a route suppression.
    pub sender: Option<OrgNumber>,
    /// The message type, for a route suppression.
    pub message_type: Option<MessageTypeId>,
    /// The finding code accepted.
    pub code: FindingCode,
    /// Why (identity numbers removed).
    pub justification: String,
    /// Since when.
    pub created_at: Timestamp,
    /// Until when.
    pub expires_at: Timestamp,
    /// Whether it had expired at the sweep reported on.
    pub expired: bool,
}

/// The sweep the report's state comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AsOf {
    /// The sweep.
    pub sweep: SweepId,
    /// When it ended.
    pub finished_at: Timestamp,
    /// When its evidence was taken.
    pub evidence_taken_at: Timestamp,
    /// Where its evidence came from.
    pub source: String,
}

/// Everything a compliance report says, as data (this is what the SHA-256 covers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReportData {
    /// The period.
    pub period: Period,
    /// The senders reported on (empty: all).
    pub senders: Vec<OrgNumber>,
    /// The sweeps that ended in the period, which the report covers.
    pub sweeps: Vec<SweepId>,
    /// The state reported is that of this sweep, the last of the period.
    pub as_of: AsOf,
    /// All routes.
    pub coverage: Coverage,
    /// Per sender.
    pub by_sender: Vec<SenderRow>,
    /// Per message type.
    pub by_message_type: Vec<TypeRow>,
    /// Per recipient, worst first.
    pub recipients: Vec<RecipientRow>,
    /// Open critical findings, oldest first.
    pub open_critical: Vec<OpenFinding>,
    /// Time to fix.
    pub time_to_fix: TimeToFix,
    /// Coverage per week.
    pub trend: Vec<WeekRow>,
    /// Suppressions in force during the period.
    pub suppressions: Vec<SuppressionRow>,
    /// What happened to the messages sent in the period (absent when the store holds no
    /// sent message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcomes: Option<outcomes::Outcomes>,
    /// Onboarding coverage, when reachcheck asks recipients for approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onboarding: Option<onboarding::OnboardingCoverage>,
    /// The name of each organisation in the report that has one (see [`Names`]).
    #[serde(skip_serializing_if = "Names::is_empty")]
    pub names: Names,
    /// The time `now` in the configuration pins, when it does: the report says so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned_now: Option<Timestamp>,
}

/// Organisation names, shown beside their numbers: a sender's from `[senders]` in the
/// configuration, else each organisation's registered name in Enhetsregisteret as the last
/// sweep that saw it read it (kept in the store). Public register data: a sole
/// proprietorship's name, a person's, is never kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Names(pub BTreeMap<OrgNumber, String>);

impl Names {
    /// The store's names with `senders` (from the configuration) over them.
    ///
    /// # Errors
    /// The store failed.
    pub fn load(
        store: &Store,
        senders: &BTreeMap<OrgNumber, String>,
    ) -> Result<Names, ReportError> {
        let mut names = store.names()?;
        names.extend(senders.iter().map(|(o, n)| (*o, n.clone())));
        Ok(Names(names))
    }

    /// Whether there is no name.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `org`'s name, if known.
    pub fn get(&self, org: OrgNumber) -> Option<&str> {
        self.0.get(&org).map(String::as_str)
    }

    /// `964338531 BERGEN KOMMUNE`, or the number alone.
    pub fn label(&self, org: OrgNumber) -> String {
        match self.get(org) {
            Some(n) => format!("{org} {n}"),
            None => org.to_string(),
        }
    }

    /// `BERGEN KOMMUNE (964338531)`, or the number alone.
    pub fn name_first(&self, org: OrgNumber) -> String {
        match self.get(org) {
            Some(n) => format!("{n} ({org})"),
            None => org.to_string(),
        }
    }

    /// Only the names of `orgs`.
    pub fn only(&self, orgs: impl IntoIterator<Item = OrgNumber>) -> Names {
        Names(
            orgs.into_iter()
                .filter_map(|o| Some((o, self.get(o)?.to_owned())))
                .collect(),
        )
    }
}

/// A compliance report: its data and the data's SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComplianceReport {
    /// The figures.
    pub data: ReportData,
    /// The data as canonical JSON (sorted keys, no spaces): what the hash is over.
    pub canonical: String,
    /// SHA-256 of `canonical`, hex.
    pub sha256: String,
}

/// Whole days in a duration.
fn days(d: SignedDuration) -> u64 {
    (d.as_secs().max(0) / 86_400) as u64
}

/// Removes what looks like a national identity number (11 digits, or 6 + space + 5) from
/// operators' free text.
pub fn scrub(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_ascii_digit()) {
            let mut j = i;
            let mut digits = 0;
            while j < chars.len() && (chars[j].is_ascii_digit() || (chars[j] == ' ' && digits == 6))
            {
                if chars[j].is_ascii_digit() {
                    digits += 1;
                }
                j += 1;
                if digits == 11 {
                    break;
                }
            }
            let ends = j >= chars.len() || !chars[j].is_ascii_digit();
            if digits == 11 && ends {
                out.push_str("[…]");
                i = j;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// The state of each finding at a sweep, from the event history: open since when.
fn open_at(events: &[crate::store::FindingEvent], sweep: SweepId) -> BTreeMap<i64, Timestamp> {
    let mut open = BTreeMap::new();
    for e in events.iter().filter(|e| e.sweep <= sweep) {
        match e.change {
            Change::Opened | Change::Reopened => {
                open.insert(e.finding, e.at);
            }
            Change::Resolved | Change::Retired => {
                open.remove(&e.finding);
            }
        }
    }
    open
}

fn percentile(sorted: &[u64], p: u64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    // Nearest rank: the smallest value with at least p % of values at or below it.
    let rank = (p * sorted.len() as u64).div_ceil(100).max(1) as usize;
    sorted.get(rank - 1).copied()
}

/// The ISO week of a time, `2026-W47`.
fn iso_week(t: Timestamp) -> String {
    let d = t.to_zoned(jiff::tz::TimeZone::UTC).date();
    let w = d.iso_week_date();
    format!("{}-W{:02}", w.year(), w.week())
}

impl ComplianceReport {
    /// Computes the report for `request` from `store`; `policies` (if loaded) give
    /// message-type titles.
    pub fn build(
        store: &Store,
        policies: Option<&Policies>,
        request: &ReportRequest,
    ) -> Result<ComplianceReport, ReportError> {
        let (sweeps, last, period) = sweeps_of(store, request.period)?;
        let verdicts = store.verdicts_at(last.id)?;
        let known_senders: std::collections::BTreeSet<OrgNumber> =
            verdicts.iter().map(|v| v.route.sender).collect();
        let all_findings = store.all_findings(last.finished_at.unwrap_or(last.started_at))?;
        for s in &request.senders {
            if !known_senders.contains(s) {
                if all_findings.iter().any(|f| f.route.sender == *s) || store.has_sender(*s)? {
                    return Err(ReportError::SenderWithoutRoutes {
                        sender: *s,
                        sweep: last.id,
                    });
                }
                return Err(ReportError::UnknownSender(*s));
            }
        }
        let wanted = |r: &Route| request.senders.is_empty() || request.senders.contains(&r.sender);
        let as_of_time = last.finished_at.unwrap_or(last.started_at);
        let events = store.finding_events()?;
        let open = open_at(&events, last.id);
        let by_id: BTreeMap<i64, &crate::store::FindingRecord> =
            all_findings.iter().map(|f| (f.id, f)).collect();
        let suppressions = store.suppressions()?;

        let mut coverage = Coverage::default();
        let mut senders: BTreeMap<OrgNumber, SenderRow> = BTreeMap::new();
        let mut types: BTreeMap<MessageTypeId, Coverage> = BTreeMap::new();
        let mut recipients: BTreeMap<OrgNumber, RecipientRow> = BTreeMap::new();
        for v in verdicts.iter().filter(|v| wanted(&v.route)) {
            coverage.add(v.verdict);
            senders
                .entry(v.route.sender)
                .or_insert_with(|| SenderRow {
                    sender: v.route.sender,
                    coverage: Coverage::default(),
                    open_findings: 0,
                })
                .coverage
                .add(v.verdict);
            types
                .entry(v.route.message_type.clone())
                .or_default()
                .add(v.verdict);
            let row = recipients
                .entry(v.route.recipient)
                .or_insert_with(|| RecipientRow {
                    recipient: v.route.recipient,
                    light: Light::Green,
                    worst: Verdict::Readable,
                    coverage: Coverage::default(),
                    open_findings: 0,
                    open_critical: 0,
                    days_open: None,
                    senders_to_act: Vec::new(),
                });
            row.coverage.add(v.verdict);
            if v.verdict != Verdict::Readable && !row.senders_to_act.contains(&v.route.sender) {
                row.senders_to_act.push(v.route.sender);
            }
            let light = match v.verdict {
                Verdict::NotReadable => Light::Red,
                Verdict::Unknown => Light::Amber,
                Verdict::Readable => Light::Green,
            };
            if light < row.light {
                row.light = light;
                row.worst = v.verdict;
            }
        }

        let mut open_critical = Vec::new();
        for (id, since) in &open {
            let Some(f) = by_id.get(id) else { continue };
            if !wanted(&f.route) {
                continue;
            }
            let age = days(as_of_time.duration_since(*since));
            if let Some(s) = senders.get_mut(&f.route.sender) {
                s.open_findings += 1;
            }
            if let Some(r) = recipients.get_mut(&f.route.recipient) {
                r.open_findings += 1;
                if f.severity == Severity::Critical {
                    r.open_critical += 1;
                }
                r.days_open = Some(r.days_open.map_or(age, |d| d.max(age)));
            }
            if f.severity == Severity::Critical {
                open_critical.push(OpenFinding {
                    route: f.route.clone(),
                    code: f.code,
                    open_since: *since,
                    days_open: age,
                    suppressed_by: suppressions
                        .iter()
                        .find(|s| s.covers(&f.route, f.code, as_of_time))
                        .map(|s| s.id),
                });
            }
        }
        open_critical.sort_by(|a, b| {
            (a.open_since, &a.route.recipient, &a.route.sender, a.code).cmp(&(
                b.open_since,
                &b.route.recipient,
                &b.route.sender,
                b.code,
            ))
        });

        // Time to fix: resolutions in the period, from the (re)opening before each.
        let mut opened_at: BTreeMap<i64, Timestamp> = BTreeMap::new();
        let mut hours: Vec<u64> = Vec::new();
        for e in events.iter().filter(|e| e.sweep <= last.id) {
            match e.change {
                Change::Opened | Change::Reopened => {
                    opened_at.insert(e.finding, e.at);
                }
                Change::Resolved => {
                    let in_period = e.at >= period.from && e.at < period.to;
                    let ours = by_id.get(&e.finding).is_some_and(|f| wanted(&f.route));
                    if let (true, true, Some(o)) = (in_period, ours, opened_at.get(&e.finding)) {
                        let secs = e.at.duration_since(*o).as_secs().max(0) as u64;
                        hours.push((secs + 1800) / 3600);
                    }
                    opened_at.remove(&e.finding);
                }
                Change::Retired => {
                    opened_at.remove(&e.finding);
                }
            }
        }
        hours.sort_unstable();
        let time_to_fix = TimeToFix {
            resolved: hours.len() as u64,
            median_hours: percentile(&hours, 50),
            p90_hours: percentile(&hours, 90),
        };

        // Trend: the last sweep of each ISO week.
        let mut weeks: BTreeMap<String, &SweepRecord> = BTreeMap::new();
        for s in &sweeps {
            if let Some(t) = s.finished_at {
                weeks.insert(iso_week(t), s);
            }
        }
        let mut trend = Vec::new();
        for (week, s) in weeks {
            let mut c = Coverage::default();
            let at = if s.id == last.id {
                None
            } else {
                Some(store.verdicts_at(s.id)?)
            };
            for v in at
                .as_ref()
                .unwrap_or(&verdicts)
                .iter()
                .filter(|v| wanted(&v.route))
            {
                c.add(v.verdict);
            }
            trend.push(WeekRow {
                week,
                sweep: s.id,
                coverage: c,
            });
        }

        let suppression_rows = suppressions
            .iter()
            .filter(|s| s.created_at < period.to && s.expires_at > period.from)
            .filter(|s| {
                request.senders.is_empty() || s.sender.is_none_or(|x| request.senders.contains(&x))
            })
            .map(|s| SuppressionRow {
                id: s.id,
                recipient: s.recipient,
                sender: s.sender,
                message_type: s.message_type.clone(),
                code: s.code,
                justification: scrub(&s.justification),
                created_at: s.created_at,
                expires_at: s.expires_at,
                expired: s.expires_at <= as_of_time,
            })
            .collect();

        let mut recipients: Vec<RecipientRow> = recipients.into_values().collect();
        for r in &mut recipients {
            r.senders_to_act.sort_unstable();
        }
        recipients.sort_by(|a, b| {
            (a.light, std::cmp::Reverse(a.days_open), a.recipient).cmp(&(
                b.light,
                std::cmp::Reverse(b.days_open),
                b.recipient,
            ))
        });
        let data = ReportData {
            period,
            senders: request.senders.clone(),
            sweeps: sweeps.iter().map(|s| s.id).collect(),
            as_of: AsOf {
                sweep: last.id,
                finished_at: as_of_time,
                evidence_taken_at: last.taken_at.unwrap_or(last.started_at),
                source: last.source.clone(),
            },
            coverage,
            by_sender: senders.into_values().collect(),
            by_message_type: types
                .into_iter()
                .map(|(t, coverage)| TypeRow {
                    title: policies
                        .and_then(|p| p.message_type(&t))
                        .map(|m| m.title.clone()),
                    message_type: t,
                    coverage,
                })
                .collect(),
            recipients,
            open_critical,
            time_to_fix,
            trend,
            suppressions: suppression_rows,
            outcomes: outcomes_of(
                store,
                policies,
                request.period,
                &request.senders,
                &[],
                as_of_time,
            )?,
            onboarding: None,
            names: Names::default(),
            pinned_now: None,
        };
        Ok(ComplianceReport::seal(data))
    }

    /// The report saying that `now` pins the time (when it does), sealed again.
    pub fn with_pinned_now(self, now: Option<Timestamp>) -> ComplianceReport {
        let mut data = self.data;
        data.pinned_now = now;
        ComplianceReport::seal(data)
    }

    /// The report with the names of the organisations in it (senders and recipients of
    /// its routes and sent messages), sealed again.
    pub fn with_names(self, names: &Names) -> ComplianceReport {
        let mut data = self.data;
        let mut orgs: Vec<OrgNumber> = data.by_sender.iter().map(|r| r.sender).collect();
        orgs.extend(data.recipients.iter().map(|r| r.recipient));
        if let Some(o) = &data.outcomes {
            orgs.extend(o.by_route.iter().flat_map(|r| [r.sender, r.recipient]));
        }
        data.names = names.only(orgs);
        ComplianceReport::seal(data)
    }

    /// Hashes the data.
    pub fn seal(data: ReportData) -> ComplianceReport {
        // Through `Value`, whose maps are sorted: the canonical form an auditor can
        // rebuild with `jq -jcS .data report.json | sha256sum`.
        let canonical = serde_json::to_value(&data)
            .map(|v| v.to_string())
            .unwrap_or_default();
        let sha256 = hex(&Sha256::digest(canonical.as_bytes()));
        ComplianceReport {
            data,
            canonical,
            sha256,
        }
    }
}

/// The outcomes of the messages `senders` (or all) published in `period` (its open ends
/// left open: messages may predate the first sweep) to `recipients` (or all), as of the
/// last poll of sent messages (else `at`); `None` when the store holds no sent message.
fn outcomes_of(
    store: &Store,
    policies: Option<&Policies>,
    period: Period,
    senders: &[OrgNumber],
    recipients: &[OrgNumber],
    at: Timestamp,
) -> Result<Option<outcomes::Outcomes>, ReportError> {
    if store.message_count()? == 0 {
        return Ok(None);
    }
    // The messages are as the last poll saw them, by the outcome clock (a pinned `now`, a
    // stand-in's clock): judge their deadlines then, not at the sweep's wall-clock end.
    let at = store
        .last_poll()?
        .and_then(|p| p.at)
        .unwrap_or(at)
        .min(period.to);
    let messages = store.messages(&crate::store::MessageFilter {
        senders: senders.to_vec(),
        recipients: recipients.to_vec(),
        from: Some(period.from).filter(|t| *t != Timestamp::MIN),
        to: Some(period.to).filter(|t| *t != Timestamp::MAX),
        ..crate::store::MessageFilter::default()
    })?;
    Ok(Some(outcomes::Outcomes::build(&messages, policies, at)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The successful sweeps that ended in `period`, the last of them, and the period with
/// its open ends closed at the store's first sweep and just after its last.
fn sweeps_of(
    store: &Store,
    period: Period,
) -> Result<(Vec<SweepRecord>, SweepRecord, Period), ReportError> {
    let all = store.ok_sweeps_between(Timestamp::MIN, Timestamp::MAX)?;
    let end = |s: &SweepRecord| s.finished_at.unwrap_or(s.started_at);
    let (Some(first), Some(last)) = (all.first(), all.last()) else {
        return Err(ReportError::NoSweeps(store.path().display().to_string()));
    };
    let period = Period {
        from: if period.from == Timestamp::MIN {
            end(first)
        } else {
            period.from
        },
        to: if period.to == Timestamp::MAX {
            end(last)
                .checked_add(SignedDuration::from_secs(1))
                .unwrap_or(Timestamp::MAX)
        } else {
            period.to
        },
    };
    let sweeps: Vec<SweepRecord> = all
        .iter()
        .filter(|s| end(s) >= period.from && end(s) < period.to)
        .cloned()
        .collect();
    match sweeps.last() {
        Some(l) => {
            let l = l.clone();
            Ok((sweeps, l, period))
        }
        None => Err(ReportError::EmptyPeriod {
            from: period.from,
            to: period.to,
            first: end(first),
            last: end(last),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_numbers_are_scrubbed_and_other_numbers_kept() {
        assert_eq!(scrub("ref 01017012345 ok"), "ref […] ok");
        assert_eq!(scrub("010170 12345"), "[…]");
        assert_eq!(
            scrub("org 964338531, case 2026/123"),
            "org 964338531, case 2026/123"
        );
        assert_eq!(scrub("123456789012"), "123456789012");
        assert_eq!(scrub("ørn 01017012345"), "ørn […]");
    }

    #[test]
    fn months_and_dates_make_half_open_periods() {
        let p = Period::month("2026-11").unwrap();
        assert_eq!(p.from.to_string(), "2026-11-01T00:00:00Z");
        assert_eq!(p.to.to_string(), "2026-12-01T00:00:00Z");
        let p = Period::between(Some("2026-11-01"), Some("2026-11-30")).unwrap();
        assert_eq!(p.to.to_string(), "2026-12-01T00:00:00Z");
        assert!(Period::month("2026-13").is_err());
        assert!(Period::between(Some("2026-12-01"), Some("2026-11-01")).is_err());
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[5], 90), Some(5));
        let v: Vec<u64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 90), Some(9));
    }
}
