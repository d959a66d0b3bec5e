//! The words of reports and letters, in bokmål (the default) and English.

use crate::model::{FindingCode, Verdict};

use super::Light;

/// A report language.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Norsk bokmål.
    #[default]
    Nb,
    /// English.
    En,
}

/// Every label a report or letter uses.
#[allow(missing_docs)]
#[derive(Debug)]
pub struct Words {
    pub lang: &'static str,
    pub title: &'static str,
    pub period: &'static str,
    pub senders_all: &'static str,
    pub senders: &'static str,
    pub as_of: &'static str,
    pub evidence_taken: &'static str,
    pub source: &'static str,
    pub summary: &'static str,
    pub routes: &'static str,
    pub readable: &'static str,
    pub not_readable: &'static str,
    pub unknown: &'static str,
    pub share_readable: &'static str,
    pub by_sender: &'static str,
    pub sender: &'static str,
    pub by_type: &'static str,
    pub message_type: &'static str,
    pub by_recipient: &'static str,
    pub recipient: &'static str,
    pub status: &'static str,
    pub worst: &'static str,
    pub open_findings: &'static str,
    pub open_critical_count: &'static str,
    pub days_open: &'static str,
    pub open_critical: &'static str,
    pub none: &'static str,
    pub code: &'static str,
    pub open_since: &'static str,
    pub suppressed: &'static str,
    pub time_to_fix: &'static str,
    pub resolved_in_period: &'static str,
    pub median: &'static str,
    pub p90: &'static str,
    pub hours: &'static str,
    pub trend: &'static str,
    pub week: &'static str,
    pub sweep: &'static str,
    pub trend_caption: &'static str,
    pub suppressions: &'static str,
    pub justification: &'static str,
    pub valid: &'static str,
    pub expired: &'static str,
    pub active: &'static str,
    pub method: &'static str,
    pub method_text: &'static [&'static str],
    pub verification: &'static str,
    pub sweeps_covered: &'static str,
    pub sha_text: &'static str,
    pub more_recipients: &'static str,
    pub all_routes: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
}

const NB: Words = Words {
    lang: "nb",
    title: "Lesbarhet av meldinger sendt gjennom Altinn",
    period: "Periode",
    senders_all: "alle avsendere",
    senders: "Avsendere",
    as_of: "Tilstand per sveip",
    evidence_taken: "data hentet",
    source: "kilde",
    summary: "Sammendrag",
    routes: "Ruter",
    readable: "Lesbar",
    not_readable: "Ikke lesbar",
    unknown: "Ukjent",
    share_readable: "Andel bevist lesbar",
    by_sender: "Per avsender",
    sender: "Avsender",
    by_type: "Per meldingstype",
    message_type: "Meldingstype",
    by_recipient: "Per mottaker",
    recipient: "Mottaker",
    status: "Status",
    worst: "Verste utfall",
    open_findings: "Åpne funn",
    open_critical_count: "Åpne kritiske",
    days_open: "Dager åpen",
    open_critical: "Åpne kritiske funn",
    none: "Ingen.",
    code: "Funn",
    open_since: "Åpen siden",
    suppressed: "Unntatt",
    time_to_fix: "Tid til retting",
    resolved_in_period: "Funn rettet i perioden",
    median: "Median",
    p90: "90-persentil",
    hours: "timer",
    trend: "Utvikling per uke",
    week: "Uke",
    sweep: "Sveip",
    trend_caption: "Andel ruter bevist lesbare ved siste sveip hver uke",
    suppressions: "Unntak (følg eller forklar)",
    justification: "Begrunnelse",
    valid: "Gyldig",
    expired: "utløpt",
    active: "gjeldende",
    method: "Metode",
    method_text: &[
        "En rute er avsender × meldingstype × mottaker fra avsenderens rutetabell.",
        "«Lesbar» betyr at minst én person hos mottakeren (eller hovedenheten den arver fra) kan lese alle ressursene meldingstypen bruker, etter ressursens tilgangspolicy i Altinn, bevist med tilgangsdata fra Altinn eller nøkkelroller i Enhetsregisteret.",
        "«Ikke lesbar» betyr at fullstendige tilgangsdata viser at ingen kan lese, eller at mottakeren er slettet. «Ukjent» betyr at det ikke er bevist noen vei; ukjent regnes ikke som lesbar i andelen.",
        "Tilstanden er den siste vellykkede sveipen i perioden; utviklingen bruker siste sveip hver ISO-uke (UTC). Tid til retting måles fra et funn åpnes (eller gjenåpnes) til sveipen der det er borte.",
        "Rapporten inneholder organisasjonsnummer, koder og antall, ingen personopplysninger.",
    ],
    verification: "Etterprøving",
    sweeps_covered: "Sveip i perioden",
    sha_text: "SHA-256 av rapportens data (kanonisk JSON, sorterte nøkler; `jq -jcS .data rapport.json | sha256sum`)",
    more_recipients: "mottakere til med samme status er utelatt fra tabellen",
    all_routes: "Alle ruter",
    yes: "ja",
    no: "nei",
};

const EN: Words = Words {
    lang: "en",
    title: "Readability of messages sent through Altinn",
    period: "Period",
    senders_all: "all senders",
    senders: "Senders",
    as_of: "State as of sweep",
    evidence_taken: "evidence taken",
    source: "source",
    summary: "Summary",
    routes: "Routes",
    readable: "Readable",
    not_readable: "Not readable",
    unknown: "Unknown",
    share_readable: "Share proven readable",
    by_sender: "By sender",
    sender: "Sender",
    by_type: "By message type",
    message_type: "Message type",
    by_recipient: "By recipient",
    recipient: "Recipient",
    status: "Status",
    worst: "Worst verdict",
    open_findings: "Open findings",
    open_critical_count: "Open critical",
    days_open: "Days open",
    open_critical: "Open critical findings",
    none: "None.",
    code: "Finding",
    open_since: "Open since",
    suppressed: "Suppressed",
    time_to_fix: "Time to fix",
    resolved_in_period: "Findings resolved in the period",
    median: "Median",
    p90: "90th percentile",
    hours: "hours",
    trend: "Trend per week",
    week: "Week",
    sweep: "Sweep",
    trend_caption: "Share of routes proven readable at the last sweep of each week",
    suppressions: "Suppressions (comply or explain)",
    justification: "Justification",
    valid: "Valid",
    expired: "expired",
    active: "in force",
    method: "Method",
    method_text: &[
        "A route is sender × message type × recipient from the sender's routing table.",
        "\"Readable\" means at least one person at the recipient (or the main unit it inherits from) can read every resource the message type uses, under the resource's access policy in Altinn, proven by Altinn access data or Enhetsregisteret key roles.",
        "\"Not readable\" means complete access data shows nobody can read, or the recipient is deleted. \"Unknown\" means not proven either way; unknown does not count as readable in the share.",
        "The state is that of the last successful sweep in the period; the trend uses the last sweep of each ISO week (UTC). Time to fix runs from a finding opening (or reopening) to the sweep in which it is gone.",
        "The report contains organisation numbers, codes and counts; no personal data.",
    ],
    verification: "Verification",
    sweeps_covered: "Sweeps in the period",
    sha_text: "SHA-256 of the report's data (canonical JSON, sorted keys; `jq -jcS .data report.json | sha256sum`)",
    more_recipients: "more recipients with the same status are left out of the table",
    all_routes: "All routes",
    yes: "yes",
    no: "no",
};

impl Lang {
    /// The words.
    pub fn words(self) -> &'static Words {
        match self {
            Lang::Nb => &NB,
            Lang::En => &EN,
        }
    }

    /// A verdict in words.
    pub fn verdict(self, v: Verdict) -> &'static str {
        let w = self.words();
        match v {
            Verdict::Readable => w.readable,
            Verdict::NotReadable => w.not_readable,
            Verdict::Unknown => w.unknown,
        }
    }

    /// A traffic light in words (never colour alone).
    pub fn light(self, l: Light) -> &'static str {
        match (self, l) {
            (Lang::Nb, Light::Red) => "Rød",
            (Lang::Nb, Light::Amber) => "Gul",
            (Lang::Nb, Light::Green) => "Grønn",
            (Lang::En, Light::Red) => "Red",
            (Lang::En, Light::Amber) => "Amber",
            (Lang::En, Light::Green) => "Green",
        }
    }

    /// A finding code in words.
    pub fn finding(self, c: FindingCode) -> &'static str {
        match (self, c) {
            (Lang::Nb, FindingCode::RecipientDeleted) => "mottakeren er slettet",
            (Lang::Nb, FindingCode::NoReader) => "ingen kan lese",
            (Lang::Nb, FindingCode::NoData) => "tilgangsdata mangler",
            (Lang::Nb, FindingCode::TooFewReaders) => "for få lesere",
            (Lang::Nb, FindingCode::NoNotificationAddress) => "ingen varslingsadresse",
            (Lang::Nb, FindingCode::NotificationUnknown) => "varsling ukjent",
            (Lang::Nb, FindingCode::StaleData) => "utdaterte data",
            (Lang::Nb, FindingCode::SourceError) => "datakilde feilet",
            (Lang::Nb, FindingCode::PolicyIndeterminate) => "policy kan ikke vurderes",
            (Lang::Nb, FindingCode::NotAuthorized) => "ikke godkjent systembruker",
            (Lang::Nb, FindingCode::PolicyDrift) => "policy avviker fra Altinn",
            (Lang::Nb, FindingCode::NotSwept) => "ikke sveipet",
            (Lang::Nb, FindingCode::NotOnAccessList) => "ikke på tilgangslisten",
            (Lang::Nb, FindingCode::EvidenceInconsistent) => "motstridende tilgangsdata",
            (Lang::Nb, FindingCode::NotificationUnverified) => "varsling ikke kontrollert",
            (Lang::Nb, FindingCode::ResourceNotInAltinn) => "ressursen finnes ikke i Altinn",
            (Lang::En, FindingCode::RecipientDeleted) => "recipient deleted",
            (Lang::En, FindingCode::NoReader) => "nobody can read",
            (Lang::En, FindingCode::NoData) => "access data missing",
            (Lang::En, FindingCode::TooFewReaders) => "too few readers",
            (Lang::En, FindingCode::NoNotificationAddress) => "no notification address",
            (Lang::En, FindingCode::NotificationUnknown) => "notification unknown",
            (Lang::En, FindingCode::StaleData) => "stale data",
            (Lang::En, FindingCode::SourceError) => "source failed",
            (Lang::En, FindingCode::PolicyIndeterminate) => "policy cannot be evaluated",
            (Lang::En, FindingCode::NotAuthorized) => "system user not approved",
            (Lang::En, FindingCode::PolicyDrift) => "policy differs from Altinn's",
            (Lang::En, FindingCode::NotSwept) => "not swept",
            (Lang::En, FindingCode::NotOnAccessList) => "not on the access list",
            (Lang::En, FindingCode::EvidenceInconsistent) => "contradictory access data",
            (Lang::En, FindingCode::NotificationUnverified) => "notification not verified",
            (Lang::En, FindingCode::ResourceNotInAltinn) => "resource not in Altinn",
        }
    }
}
