//! Generates the demo's message history: three years of messages the 12 police districts
//! sent through Altinn Correspondence, recorded as the sender's details answers
//! (`correspondence/<id>/details.json`, the current `CorrespondenceDetailsExt` shape).
//! **Everything in it is SYNTHETIC**, the figures illustrative.
//!
//! ```text
//! cargo run --example generate-demo-messages [-- --seed 2026 --out examples/demo/messages]
//! ```
//!
//! It reads the demo's routing table (`examples/demo/routes.csv`, written by
//! `generate.rs`) and writes nothing else: the message history is a file set of its own,
//! read through `outcomes.recorded` in `reachcheck.toml`.
//!
//! # Plan
//!
//! - **The incident**, modelled on 2018–2023: Vest politidistrikt (310000124) sends BERGEN
//!   KOMMUNE (964338531) 72 messages over three years, a third of them concern reports
//!   (`bekymringsmelding`). None of the concern reports is ever opened; the criminal-case
//!   documents and ordinary post are read within hours (the demo snapshot judges Bergen's
//!   concern-report route `not_readable`, the others `readable`).
//! - **Everyone else**: 2,328 messages on routes drawn at random from the routing table,
//!   published on weekdays in office hours. Each recipient reads in one way, drawn once: 80 %
//!   promptly (5 minutes to 6 hours), 12 % slowly (1 to 6 days: past the 24- and 72-hour
//!   deadlines), 8 % never. One notification in fifty bounces.
//! - **The two days after the snapshot** ([`AFTER`], from a second random stream of the
//!   seed, so the three years before are as they were): ten messages published between the
//!   demo's first sweep (`now` in `reachcheck.toml`, 2026-11-21T06:00Z) and [`SECOND_SWEEP`],
//!   each on a route hand-picked for what it shows against the first sweep's verdict:
//!   FROLAND's one reader is away and a concern report goes unread (judged `readable`:
//!   `prediction_contradicted`, warning); HOLMESTRAND and LINDESNES open concern reports
//!   reachcheck could not prove anyone able to read (`not_readable`, `unknown`:
//!   `prediction_contradicted`, info); Bergen's concern reports still go unread, as judged.
//!   A run at the snapshot's time sees none of them (recorded details are replayed as of
//!   the poll's time); a second run at [`SECOND_SWEEP`] reconciles them.
//! - No content, no person, no identity number: recipients are organisations, references
//!   are case numbers.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

/// The seed the committed history was generated with.
pub const DEFAULT_SEED: u64 = 2026;
/// Where the committed history lives.
pub const DEFAULT_OUT: &str = "examples/demo/messages";
/// The routing table it draws routes from.
pub const ROUTES: &str = "examples/demo/routes.csv";
/// Vest politidistrikt (synthetic organisation number).
pub const VEST: &str = "310000124";
/// BERGEN KOMMUNE.
pub const BERGEN: &str = "964338531";
/// Messages to Bergen from Vest, a third of them concern reports.
pub const INCIDENT: usize = 72;
/// Messages on every other route.
pub const OTHERS: usize = 2_328;
/// The first day of the history.
pub const FROM: &str = "2023-11-21T00:00:00Z";
/// The snapshot's time: the three-year history ends before it.
pub const UNTIL: &str = "2026-11-21T05:00:00Z";
/// The demo's first sweep (`now` in `reachcheck.toml`).
pub const FIRST_SWEEP: &str = "2026-11-21T06:00:00Z";
/// The demo's second run, two days on: the messages of [`AFTER`] are reconciled then.
pub const SECOND_SWEEP: &str = "2026-11-23T06:00:00Z";
/// Agder politidistrikt (synthetic organisation number).
pub const AGDER: &str = "310000019";
/// Sør-Øst politidistrikt (synthetic organisation number).
pub const SOR_OST: &str = "310000094";
/// FROLAND KOMMUNE: one person can read concern reports (`readable` 1/2).
pub const FROLAND: &str = "946439045";
/// HOLMESTRAND KOMMUNE: its only holder of confidential post has died (`not_readable`).
pub const HOLMESTRAND: &str = "917151229";
/// LINDESNES KOMMUNE: no connections, confidential post unproven (`unknown`).
pub const LINDESNES: &str = "921060440";

/// The messages after the first sweep: (sender, message type, recipient, published, read
/// that long after, in minutes; `None`: never).
pub const AFTER: [(&str, &str, &str, &str, Option<i64>); 10] = [
    // Judged readable (1/2) but its one reader is away: nobody opens it.
    (
        AGDER,
        "bekymringsmelding",
        FROLAND,
        "2026-11-21T08:40:12Z",
        None,
    ),
    // Judged not readable, and unread: the prediction holds.
    (
        VEST,
        "bekymringsmelding",
        BERGEN,
        "2026-11-21T09:12:40Z",
        None,
    ),
    (
        VEST,
        "ordinaer-post",
        BERGEN,
        "2026-11-21T10:05:03Z",
        Some(35),
    ),
    // Judged not readable, yet opened: someone got access after the snapshot, or an
    // integration fetched it. Either way the evidence was incomplete.
    (
        SOR_OST,
        "bekymringsmelding",
        HOLMESTRAND,
        "2026-11-21T11:20:27Z",
        Some(42),
    ),
    (
        VEST,
        "straffesaksforsendelse",
        BERGEN,
        "2026-11-21T13:00:55Z",
        Some(120),
    ),
    // Judged unknown (no connections), and opened.
    (
        AGDER,
        "bekymringsmelding",
        LINDESNES,
        "2026-11-22T07:30:18Z",
        Some(185),
    ),
    (
        AGDER,
        "straffesaksforsendelse",
        FROLAND,
        "2026-11-22T09:00:31Z",
        Some(64),
    ),
    (
        AGDER,
        "ordinaer-post",
        FROLAND,
        "2026-11-22T10:00:09Z",
        Some(20),
    ),
    (
        SOR_OST,
        "ordinaer-post",
        HOLMESTRAND,
        "2026-11-22T14:00:44Z",
        Some(58),
    ),
    // Unread at the second run, but its 24 hours are not over yet.
    (
        VEST,
        "bekymringsmelding",
        BERGEN,
        "2026-11-22T20:15:02Z",
        None,
    ),
];

/// What the generator wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Messages written, [`AFTER`] included.
    pub messages: usize,
    /// Of those, published after the first sweep ([`AFTER`]).
    pub after: usize,
    /// Of those, read at all.
    pub read: usize,
    /// Concern reports to Bergen before the snapshot, none read.
    pub incident_concern_reports: usize,
    /// When the first of them was published.
    pub first_incident: Option<Timestamp>,
}

/// How a recipient reads.
#[derive(Clone, Copy, Debug)]
enum Reads {
    Prompt,
    Slow,
    Never,
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A weekday office-hours time between `FROM` and `UNTIL`.
fn office_time(rng: &mut ChaCha8Rng) -> Timestamp {
    let (from, until) = (ts(FROM), ts(UNTIL));
    let days = until.duration_since(from).as_hours() / 24;
    loop {
        let day = rng.random_range(0..days);
        let t = from
            .checked_add(SignedDuration::from_hours(
                day * 24 + rng.random_range(7..15),
            ))
            .and_then(|t| t.checked_add(SignedDuration::from_secs(rng.random_range(0..3600))))
            .unwrap_or(from);
        let weekday = t.to_zoned(jiff::tz::TimeZone::UTC).weekday();
        if !matches!(
            weekday,
            jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
        ) && t < until
        {
            return t;
        }
    }
}

/// A UUID in version-7 layout: the time, then seeded randomness.
fn uuid(t: Timestamp, rng: &mut ChaCha8Rng) -> String {
    let ms = (t.as_millisecond().max(0) as u64) & 0xffff_ffff_ffff;
    let r: u64 = rng.random();
    let s: u64 = rng.random();
    format!(
        "{:08x}-{:04x}-7{:03x}-{:04x}-{:012x}",
        ms >> 16,
        ms & 0xffff,
        r & 0xfff,
        0x8000 | ((r >> 12) & 0x3fff),
        s & 0xffff_ffff_ffff
    )
}

/// As .NET writes a `DateTimeOffset`.
fn dto(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.f+00:00").to_string()
}

/// The message types messages are sent as: `melding-kriseteam` is not (its resource is
/// not published in Altinn, so nothing can be sent as it).
const SENT_TYPES: [&str; 3] = [
    "bekymringsmelding",
    "straffesaksforsendelse",
    "ordinaer-post",
];

/// The routes of the routing table whose type is sent: (sender, message type, recipient).
fn routes(file: &Path) -> io::Result<Vec<(String, String, String)>> {
    let text = fs::read_to_string(file)?;
    Ok(text
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut p = l.split(',');
            Some((
                p.next()?.to_owned(),
                p.next()?.to_owned(),
                p.next()?.to_owned(),
            ))
        })
        .filter(|(_, t, _)| SENT_TYPES.contains(&t.as_str()))
        .collect())
}

/// The resource a message type is sent as (its first resource in `policies/`).
fn resource(message_type: &str) -> &'static str {
    match message_type {
        "bekymringsmelding" => "politi-bekymringsmelding",
        "straffesaksforsendelse" => "politi-straffesak-forsendelse",
        _ => "politi-ordinaer-post",
    }
}

struct Sent<'a> {
    sender: &'a str,
    message_type: &'a str,
    recipient: &'a str,
    published: Timestamp,
    read_after: Option<SignedDuration>,
    notification_fails: bool,
    reference: String,
}

fn details(id: &str, m: &Sent<'_>) -> Value {
    let created = m.published;
    let read = m.read_after.and_then(|d| m.published.checked_add(d).ok());
    let notified = m
        .published
        .checked_add(SignedDuration::from_mins(1))
        .unwrap_or(m.published);
    let mut history = vec![
        json!({"status": "Initialized", "statusText": "Initialized", "statusChanged": dto(created)}),
        json!({"status": "ReadyForPublish", "statusText": "ReadyForPublish", "statusChanged": dto(created)}),
        json!({"status": "Published", "statusText": "Published", "statusChanged": dto(m.published)}),
    ];
    if let Some(r) = read {
        history.push(json!({"status": "Read", "statusText": "Read", "statusChanged": dto(r)}));
    }
    let (status, succeeded) = if m.notification_fails {
        ("Email_Failed_Bounced", false)
    } else {
        ("Email_Delivered", true)
    };
    let email = json!({
        "id": null, "succeeded": succeeded,
        "recipient": {"emailAddress": format!("postmottak@{}.example", m.recipient),
            "mobileNumber": null, "organizationNumber": m.recipient,
            "nationalIdentityNumber": null, "isReserved": false},
        "sendStatus": {"status": status, "description": null, "lastUpdate": dto(notified)}
    });
    let notification = json!({
        "id": format!("{id}-n"), "sendersReference": null, "creator": "altinn",
        "created": dto(created), "isReminder": false, "notificationChannel": "Email",
        "ignoreReservation": null, "resourceId": null,
        "processingStatus": {"status": "Processed", "description": null, "lastUpdate": dto(notified)},
        "notificationStatusDetails": {"email": null, "sms": null, "emails": [email], "smses": []}
    });
    let last = if read.is_some() { "Read" } else { "Published" };
    let mut b = json!({
        "recipient": format!("urn:altinn:organization:identifier-no:{}", m.recipient),
        "correspondenceId": id,
        "content": null,
        "created": dto(created),
        "status": last,
        "statusText": last,
        "statusChanged": dto(read.unwrap_or(m.published)),
        "resourceId": resource(m.message_type),
        "sender": format!("urn:altinn:organization:identifier-no:{}", m.sender),
        "sendersReference": m.reference,
        "messageSender": "Politiet",
        "requestedPublishTime": dto(m.published),
        "dueDateTime": null,
        "externalReferences": [],
        "propertyList": {},
        "replyOptions": [],
        "notification": null,
        "ignoreReservation": null,
        "isConfirmationNeeded": false,
        "isConfidential": m.message_type != "ordinaer-post",
        "allowForwarding": false,
        "altinn2CorrespondenceId": null,
        "published": dto(m.published),
        "read": read.map(dto),
        "systemLabel": null
    });
    b["statusHistory"] = Value::Array(history);
    b["notifications"] = json!([notification]);
    b
}

/// Writes the history for `seed` into `out` (replacing `out/correspondence`), drawing
/// routes from `routes_file`.
pub fn generate(seed: u64, routes_file: &Path, out: &Path) -> io::Result<Summary> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let all = routes(routes_file)?;
    let others: Vec<&(String, String, String)> = all
        .iter()
        .filter(|(s, _, r)| !(s == VEST && r == BERGEN))
        .collect();
    if others.is_empty() {
        return Err(io::Error::other(format!(
            "`{}` has no routes",
            routes_file.display()
        )));
    }
    let mut reads: BTreeMap<&str, Reads> = BTreeMap::new();
    for (_, _, r) in &all {
        reads
            .entry(r.as_str())
            .or_insert_with(|| match rng.random_range(0..100u32) {
                0..80 => Reads::Prompt,
                80..92 => Reads::Slow,
                _ => Reads::Never,
            });
    }
    let mut sent: Vec<Sent<'_>> = Vec::new();
    let types = [
        "bekymringsmelding",
        "straffesaksforsendelse",
        "ordinaer-post",
    ];
    for i in 0..INCIDENT {
        let message_type = types[i % 3];
        sent.push(Sent {
            sender: VEST,
            message_type,
            recipient: BERGEN,
            published: office_time(&mut rng),
            read_after: (message_type != "bekymringsmelding")
                .then(|| SignedDuration::from_mins(rng.random_range(20..240))),
            notification_fails: false,
            reference: String::new(),
        });
    }
    for _ in 0..OTHERS {
        let (sender, message_type, recipient) = others[rng.random_range(0..others.len())];
        let read_after = match reads
            .get(recipient.as_str())
            .copied()
            .unwrap_or(Reads::Never)
        {
            Reads::Prompt => Some(SignedDuration::from_mins(rng.random_range(5..360))),
            Reads::Slow => Some(SignedDuration::from_hours(rng.random_range(24..144))),
            Reads::Never => None,
        };
        sent.push(Sent {
            sender,
            message_type,
            recipient,
            published: office_time(&mut rng),
            read_after,
            notification_fails: rng.random_range(0..50u32) == 0,
            reference: String::new(),
        });
    }
    sent.sort_by_key(|m| m.published);
    let until = ts(UNTIL);
    let mut after = AFTER.map(|(sender, message_type, recipient, published, read)| Sent {
        sender,
        message_type,
        recipient,
        published: ts(published),
        read_after: read.map(SignedDuration::from_mins),
        notification_fails: false,
        reference: String::new(),
    });
    let dir = out.join("correspondence");
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir_all(&dir)?;
    let mut summary = Summary::default();
    let mut per_year: BTreeMap<i16, u32> = BTreeMap::new();
    // The ids after the snapshot come from a second stream of the seed, so that the
    // history before it is exactly what it was.
    let mut second = ChaCha8Rng::seed_from_u64(seed);
    second.set_stream(1);
    for m in sent.iter_mut().chain(after.iter_mut()) {
        let year = m.published.to_zoned(jiff::tz::TimeZone::UTC).year();
        let n = per_year.entry(year).or_default();
        *n += 1;
        m.reference = format!("PO-{year}-{:06}", *n);
        let id = if m.published < until {
            uuid(m.published, &mut rng)
        } else {
            summary.after += 1;
            uuid(m.published, &mut second)
        };
        let body = details(&id, m);
        let path = dir.join(&id);
        fs::create_dir_all(&path)?;
        let mut text = serde_json::to_string_pretty(&body).map_err(io::Error::other)?;
        text.push('\n');
        fs::write(path.join("details.json"), text)?;
        summary.messages += 1;
        summary.read += usize::from(m.read_after.is_some());
        if m.recipient == BERGEN && m.message_type == "bekymringsmelding" && m.published < until {
            summary.incident_concern_reports += 1;
            summary.first_incident.get_or_insert(m.published);
        }
    }
    Ok(summary)
}

fn main() {
    let mut seed = DEFAULT_SEED;
    let mut out = PathBuf::from(DEFAULT_OUT);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seed" => match args.next().and_then(|s| s.parse().ok()) {
                Some(s) => seed = s,
                None => {
                    eprintln!("error: `--seed` needs a whole number");
                    std::process::exit(2);
                }
            },
            "--out" => match args.next() {
                Some(o) => out = PathBuf::from(o),
                None => {
                    eprintln!("error: `--out` needs a directory");
                    std::process::exit(2);
                }
            },
            other => {
                eprintln!(
                    "error: unknown argument `{other}`\nusage: cargo run --example generate-demo-messages [-- --seed N] [--out DIR]"
                );
                std::process::exit(2);
            }
        }
    }
    match generate(seed, Path::new(ROUTES), &out) {
        Ok(s) => eprintln!(
            "wrote {} messages ({} read, {} after the first sweep) to `{}`; {} concern reports to Bergen before it, the first published {}",
            s.messages,
            s.read,
            s.after,
            out.display(),
            s.incident_concern_reports,
            s.first_incident.map(|t| t.to_string()).unwrap_or_default()
        ),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
