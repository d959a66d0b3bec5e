//! Generates the reachcheck demo: a routing table in which the 12 police districts send
//! three message types to every Norwegian municipality, and a snapshot of recorded API
//! responses about those municipalities. **All access data is SYNTHETIC.**
//!
//! ```text
//! cargo run --example generate-demo [-- --seed 2026 --out examples/demo]
//! ```
//!
//! # Plan
//!
//! *Real*: the 356 municipalities of 2020–2023 (organisation number, municipality number,
//! name, police district) from `municipalities.csv`. *Invented*: everything else — the
//! senders' organisation numbers, every person, party UUID, birth date, role, access
//! package, delegation, rights answer, registry entry, access list, sub-unit and
//! notification address. No national identity number (`personIdentifier`) is written
//! anywhere.
//!
//! - **Senders**: the 12 police districts, synthetic organisation numbers from body
//!   31000001 upwards in sorted district order (Agder is 310000019).
//! - **Routes**: each municipality receives `bekymringsmelding`, `straffesaksforsendelse`
//!   and `ordinaer-post` from its own district (3 × 356 = 1068), plus one route to a
//!   deleted former municipality (`recipient_deleted`) and one to a number with no
//!   Enhetsregisteret record (`no_data`). Agder pilots a fourth type, `melding-kriseteam`,
//!   to three of its municipalities; its resource is not published in Altinn yet (a 404
//!   recorded for its registry entry and policy), so those routes are `unknown` +
//!   `resource_not_in_altinn`.
//! - **Access mix** (a seeded shuffle of exact shares, so every run looks alike), chosen to
//!   show every outcome the engine knows, in roughly the proportions the 2018–2023 cases
//!   suggest (most municipalities had never delegated confidential post):
//!   - 35 % connections, nobody holds confidential post: `bekymringsmelding` is
//!     `not_readable` + `no_reader`. Bergen (964338531) is always one of them. In about a
//!     quarter of these the daglig leder post is vacant, so nobody can read
//!     `straffesaksforsendelse` either (its policy lets daglig leder, innehaver and
//!     kontaktperson kommune read).
//!   - 15 % exactly one confidential reader: `readable` + `too_few_readers`.
//!   - 30 % two or more confidential readers.
//!   - 15 % no connections file (Enhetsregisteret roles only): ordinary post `readable`
//!     at tier `er`, confidential post `unknown` + `no_data`.
//!   - 5 % connections that list only holders who never count (a deceased daglig leder,
//!     a system user, an organisation): `not_readable` for every type. In one of them the
//!     daglig leder is alive in Enhetsregisteret yet missing from the connections, which
//!     list no person: inconsistent evidence, `unknown` + `evidence_inconsistent`.
//! - **Child-welfare sub-units**: for 40 municipalities with connections, concern reports
//!   go to a synthetic `<NAME> KOMMUNE BARNEVERNTJENESTE` (form BEDR, `overordnetEnhet` the
//!   municipality): the delegation is at the sub-unit, only at the main unit (inherited),
//!   at neither, or the sub-unit's connections are missing.
//! - **Notification**: 8 municipalities have an empty address list
//!   (`no_notification_address`), 8 have no notification file (`notification_unknown`).
//! - **Resource delegations and the registry** (docs/design.md, rules 10-11): every resource
//!   delegation in the connections has its rights answer, granting `read`, except one
//!   clerk's delegations of both criminal-case resources, which grant only `write`, at a
//!   municipality where nobody else can read them (`no_reader`, "delegate read, not only
//!   write"). Each of the four resources has its registry entry (owner `politiet`);
//!   `politi-straffesak-forsendelse` is gated by an access list holding every municipality
//!   but one, whose criminal-case route is `not_readable` + `not_on_access_list`. These are
//!   drawn from a second stream of the seed, so everything else is as it was before them.
//! - **Holders that must not count**, sprinkled in: archive system users and an
//!   inter-municipal archive company holding post packages, deceased persons holding
//!   confidential post, resigned daglig ledere in Enhetsregisteret, and people who may
//!   read the criminal-case message but not its attachment.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use reachcheck::OrgNumber;
use serde::Serialize;

/// The seed the committed demo was generated with.
pub const DEFAULT_SEED: u64 = 2026;
/// Where the committed demo lives, relative to the crate root.
pub const DEFAULT_OUT: &str = "examples/demo";
/// When the synthetic snapshot was "taken".
pub const TAKEN_AT: &str = "2026-11-21T05:00:00Z";

/// The real municipality list (a byte copy of `shared/data/municipalities.csv`).
const MUNICIPALITIES_CSV: &str = include_str!("municipalities.csv");

/// Bergen: always connected, with an ordinary-post reader and no confidential reader.
const BERGEN: &str = "964338531";

const BEKYMRING: &str = "bekymringsmelding";
const STRAFFESAK: &str = "straffesaksforsendelse";
const ORDINAER: &str = "ordinaer-post";
/// A message type whose resource is not published in Altinn (docs/design.md, `resource_not_in_altinn`).
const KRISETEAM: &str = "melding-kriseteam";
/// Its resource: in `policies/` (the sender's draft), answered 404 by the registry.
const UNPUBLISHED: &str = "politi-melding-kriseteam";
/// How many of the piloting district's municipalities its routes go to.
const PILOT_ROUTES: usize = 3;

const CONFIDENTIAL_POST: &str = "post-til-virksomheten-med-taushetsbelagt-innhold";
const ORDINARY_POST: &str = "ordinaer-post-til-virksomheten";
const ACCESS_MANAGER: &str = "tilgangsstyrer";
const STRAFFESAK_MESSAGE: &str = "politi-straffesak-forsendelse";
const STRAFFESAK_ATTACHMENT: &str = "politi-straffesak-filvedlegg";

/// The resources of `policies/message-types.toml`, with their titles in the registry.
const RESOURCES: &[(&str, &str)] = &[
    ("politi-bekymringsmelding", "Bekymringsmelding fra politiet"),
    (STRAFFESAK_MESSAGE, "Straffesak forsendelse"),
    (STRAFFESAK_ATTACHMENT, "Straffesak filvedlegg"),
    ("politi-ordinaer-post", "Ordinær post fra politiet"),
];
/// The resource gated by an access list (docs/design.md, rule 11).
const GATED: &str = STRAFFESAK_MESSAGE;
/// The resources' owner in the registry: the org code Altinn knows the police by, with
/// the demo's synthetic number of the first police district (Agder), not a real one.
const OWNER_ORGCODE: &str = "politiet";
const OWNER_ORG: &str = "310000019";
/// The police's access list bound to [`GATED`] for `read`.
const ACCESS_LIST: &str = "straffesak-kommuner";
/// When the access list was made and last changed (synthetic; members joined in 2025).
const ACCESS_LIST_CREATED: &str = "2024-12-02T09:00:00Z";
const ACCESS_LIST_UPDATED: &str = "2025-12-29T09:00:00Z";

const READ: &str = "read";
const WRITE: &str = "write";

const SUB_UNITS: usize = 40;

/// reachcheck's system in Altinn's system register, as the demo's recorded requests name it
/// (start `altinn-sim` with `--client-org 310000019 --system-id` this).
pub const SYSTEM_ID: &str = "310000019_reachcheck";
/// The access package the recorded requests ask for (`[onboarding] access_packages`' default).
const REQUESTED_PACKAGE: &str = "urn:altinn:accesspackage:tilgangsstyrer";
/// Where Altinn's end-user UI lets an organisation approve a request.
const CONFIRM_BASE: &str = "https://am.ui.altinn.no/accessmanagement/ui/systemuser/request";
/// Municipalities with Enhetsregisteret roles only that were asked, per state of the
/// request; the rest of them were never asked.
const PENDING: usize = 10;
const REJECTED: usize = 3;
const DENIED: usize = 2;
const TIMED_OUT: usize = 5;
const NO_ADDRESSES: usize = 8;
const NO_NOTIFICATION_FILE: usize = 8;

const FIRST_NAMES: &[&str] = &[
    "Anne", "Inger", "Kari", "Marit", "Ingrid", "Liv", "Eva", "Berit", "Astrid", "Hilde", "Nina",
    "Silje", "Ida", "Randi", "Ola", "Jan", "Per", "Bjørn", "Lars", "Kjell", "Knut", "Arne",
    "Svein", "Hans", "Geir", "Thomas", "Martin", "Jon", "Nils", "Erik",
];
const LAST_NAMES: &[&str] = &[
    "Hansen",
    "Johansen",
    "Olsen",
    "Larsen",
    "Andersen",
    "Pedersen",
    "Nilsen",
    "Kristiansen",
    "Jensen",
    "Karlsen",
    "Johnsen",
    "Pettersen",
    "Eriksen",
    "Berg",
    "Haugen",
    "Hagen",
    "Johannessen",
    "Andreassen",
    "Jacobsen",
    "Dahl",
    "Jørgensen",
    "Halvorsen",
    "Henriksen",
    "Lund",
    "Sørensen",
];

// ------------------------------------------------------------------------------------
// The plan: who is who, before anything is written.
// ------------------------------------------------------------------------------------

/// What the generator wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// The seed.
    pub seed: u64,
    /// Police districts (senders).
    pub senders: usize,
    /// Municipalities (main units).
    pub municipalities: usize,
    /// Synthetic child-welfare sub-units.
    pub sub_units: usize,
    /// Rows in `routes.csv`.
    pub routes: usize,
    /// Files written under `snapshot/` (including its README).
    pub snapshot_files: usize,
    /// Municipalities with connections where nobody holds confidential post.
    pub no_confidential: usize,
    /// ... of which the daglig leder post is vacant.
    pub vacant: usize,
    /// Municipalities with exactly one confidential reader.
    pub one_reader: usize,
    /// Municipalities with two or more confidential readers.
    pub two_or_more: usize,
    /// Municipalities with Enhetsregisteret roles only (no connections file).
    pub er_only: usize,
    /// Municipalities whose connections list only holders that never count.
    pub nobody_counts: usize,
    /// ... of which Enhetsregisteret names a living daglig leder the connections leave
    /// out (inconsistent evidence, docs/design.md, rule 13).
    pub inconsistent: usize,
    /// Rights answers written, one per resource delegation in the connections.
    pub rights_answers: usize,
    /// Municipalities where the only would-be reader of criminal-case documents holds
    /// them by a delegation that grants only `write`.
    pub write_only: usize,
    /// Members of the access list gating `politi-straffesak-forsendelse`.
    pub access_list_members: usize,
    /// Municipalities with an empty notification address list.
    pub no_addresses: usize,
    /// Municipalities without a notification address file.
    pub no_notification_file: usize,
    /// Municipalities whose notification addresses were refused to reachcheck (403).
    pub notification_refused: usize,
    /// Recorded system-user requests by status: `Accepted`, `New`, `Rejected`, `Denied`,
    /// `Timedout`; and municipalities never asked (no request file).
    pub approved: usize,
    /// ... `New` (pending, with their own `confirmUrl`).
    pub pending: usize,
    /// ... `Rejected`.
    pub rejected: usize,
    /// ... `Denied`.
    pub denied: usize,
    /// ... `Timedout` (expired).
    pub timed_out: usize,
    /// Municipalities never asked.
    pub never_asked: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "seed {}", self.seed)?;
        writeln!(
            f,
            "{} senders, {} municipalities, {} sub-units, {} routes, {} snapshot files",
            self.senders, self.municipalities, self.sub_units, self.routes, self.snapshot_files
        )?;
        writeln!(
            f,
            "municipalities: {} nobody holds confidential post ({} with no daglig leder), \
             {} one confidential reader, {} two or more, {} Enhetsregisteret roles only, \
             {} only holders that never count ({} of them inconsistent with Enhetsregisteret)",
            self.no_confidential,
            self.vacant,
            self.one_reader,
            self.two_or_more,
            self.er_only,
            self.nobody_counts,
            self.inconsistent
        )?;
        writeln!(
            f,
            "resource delegations: {} rights answers, {} municipality with a write-only one; \
             access list of {GATED}: {} of {} municipalities",
            self.rights_answers, self.write_only, self.access_list_members, self.municipalities
        )?;
        writeln!(
            f,
            "notification: {} with no address, {} without a notification file, {} refused (403)",
            self.no_addresses, self.no_notification_file, self.notification_refused
        )?;
        write!(
            f,
            "onboarding: {} approved, {} pending, {} refused ({} rejected, {} denied), \
             {} expired, {} never asked",
            self.approved,
            self.pending,
            self.rejected + self.denied,
            self.rejected,
            self.denied,
            self.timed_out,
            self.never_asked
        )
    }
}

/// One row of `municipalities.csv`.
struct Municipality {
    org: OrgNumber,
    number: String,
    name: String,
    district: String,
}

/// What the recipient's access data says (see the plan above).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    NoConfidential,
    OneReader,
    TwoOrMore,
    ErOnly,
    NobodyCounts,
}

/// Where the child-welfare sub-unit's confidential readers are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SubUnitAccess {
    /// Delegated at the sub-unit itself.
    AtSubUnit,
    /// Only at the main unit; the sub-unit inherits them.
    InheritedOnly,
    /// Nowhere.
    Neither,
    /// The sub-unit's connections were not fetched.
    NoConnections,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Notify {
    Addresses,
    Empty,
    Missing,
}

struct Plan {
    access: Access,
    /// No current daglig leder (only for connected municipalities and roles-only ones).
    vacant: bool,
    notify: Notify,
    sub_unit: Option<(OrgNumber, SubUnitAccess)>,
    /// The municipality's Altinn party UUID (the `from` of its delegations, and its id on
    /// access lists).
    party: String,
    /// A clerk holds both criminal-case resources by a delegation that grants only `write`
    /// (only where the daglig leder post is vacant, so nobody else reads them).
    write_only: bool,
    /// Its connections list no person while Enhetsregisteret names a living daglig leder
    /// (only for [`Access::NobodyCounts`]; docs/design.md, rule 13).
    inconsistent: bool,
    /// Member of the police's access list that gates `politi-straffesak-forsendelse`.
    on_access_list: bool,
    /// Its notification addresses were refused to reachcheck (403 recorded; only for
    /// [`Notify::Missing`]; docs/design.md, rule 14).
    notify_refused: bool,
}

fn read_municipalities() -> io::Result<Vec<Municipality>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(MUNICIPALITIES_CSV.as_bytes());
    let mut out = Vec::new();
    for record in reader.records() {
        let r = record.map_err(io::Error::other)?;
        let field = |i: usize| r.get(i).unwrap_or("").to_owned();
        let org = OrgNumber::parse(&field(0)).map_err(io::Error::other)?;
        out.push(Municipality {
            org,
            number: field(1),
            name: field(2),
            district: field(3),
        });
    }
    Ok(out)
}

/// Synthetic organisation numbers from `body` upwards, skipping bodies with no check digit.
struct OrgNumbers(u32);

impl OrgNumbers {
    fn next(&mut self) -> OrgNumber {
        loop {
            let body = self.0;
            self.0 += 1;
            if let Some(org) = OrgNumber::from_body(body) {
                return org;
            }
        }
    }
}

/// `count` copies of each value, shuffled.
fn shuffled<T: Copy>(rng: &mut ChaCha8Rng, shares: &[(T, usize)]) -> Vec<T> {
    let mut v: Vec<T> = shares
        .iter()
        .flat_map(|&(t, n)| std::iter::repeat_n(t, n))
        .collect();
    v.shuffle(rng);
    v
}

/// Moves a `want` into position `at` by swapping with the first `want` elsewhere.
fn force<T: Copy + PartialEq>(v: &mut [T], at: usize, want: T) {
    if v[at] != want
        && let Some(j) = v.iter().position(|x| *x == want)
    {
        v.swap(at, j);
    }
}

fn percent(rng: &mut ChaCha8Rng, p: u32) -> bool {
    rng.random_range(0..100u32) < p
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    let len = u32::try_from(items.len()).unwrap_or(u32::MAX);
    items[rng.random_range(0..len) as usize]
}

fn plan(rng: &mut ChaCha8Rng, municipalities: &[Municipality]) -> Vec<Plan> {
    let n = municipalities.len();
    let share = |p: usize| (n * p + 50) / 100;
    let (no_conf, one, two, er) = (share(35), share(15), share(30), share(15));
    let mut access = shuffled(
        rng,
        &[
            (Access::NoConfidential, no_conf),
            (Access::OneReader, one),
            (Access::TwoOrMore, two),
            (Access::ErOnly, er),
            (
                Access::NobodyCounts,
                n.saturating_sub(no_conf + one + two + er),
            ),
        ],
    );
    let mut notify = shuffled(
        rng,
        &[
            (Notify::Empty, NO_ADDRESSES),
            (Notify::Missing, NO_NOTIFICATION_FILE),
            (
                Notify::Addresses,
                n.saturating_sub(NO_ADDRESSES + NO_NOTIFICATION_FILE),
            ),
        ],
    );
    let bergen = municipalities
        .iter()
        .position(|m| m.org.to_string() == BERGEN);
    if let Some(b) = bergen {
        force(&mut access, b, Access::NoConfidential);
        force(&mut notify, b, Notify::Addresses);
    }
    let mut plans: Vec<Plan> = access
        .iter()
        .zip(&notify)
        .enumerate()
        .map(|(i, (&access, &notify))| {
            let vacant = match access {
                Access::NoConfidential => Some(i) != bergen && percent(rng, 25),
                Access::ErOnly => percent(rng, 15),
                _ => false,
            };
            Plan {
                access,
                vacant,
                notify,
                sub_unit: None,
                party: String::new(),
                write_only: false,
                inconsistent: false,
                on_access_list: true,
                notify_refused: false,
            }
        })
        .collect();

    // Child-welfare sub-units, among connected municipalities other than Bergen.
    let mut eligible: Vec<usize> = (0..n)
        .filter(|&i| {
            Some(i) != bergen
                && matches!(
                    plans[i].access,
                    Access::NoConfidential | Access::OneReader | Access::TwoOrMore
                )
        })
        .collect();
    eligible.shuffle(rng);
    let mut chosen: Vec<usize> = eligible.into_iter().take(SUB_UNITS).collect();
    chosen.sort_unstable();
    let mut numbers = OrgNumbers(32_000_000);
    for i in chosen {
        let roll = rng.random_range(0..100u32);
        let variant = if plans[i].access == Access::NoConfidential {
            match roll {
                0..45 => SubUnitAccess::AtSubUnit,
                45..85 => SubUnitAccess::Neither,
                _ => SubUnitAccess::NoConnections,
            }
        } else {
            match roll {
                0..60 => SubUnitAccess::InheritedOnly,
                60..85 => SubUnitAccess::AtSubUnit,
                _ => SubUnitAccess::NoConnections,
            }
        };
        plans[i].sub_unit = Some((numbers.next(), variant));
    }
    plans
}

/// The access data of rules 10-13 (docs/design.md), drawn from `extra` (a second stream of the seed)
/// so that everything [`plan`] decided, and every file it shaped, stays as it was.
///
/// - every municipality gets a party UUID;
/// - one municipality where nobody holds confidential post and the daglig leder post is
///   vacant gets a clerk whose delegation of both criminal-case resources grants only
///   `write`: the only would-be reader, and no reader (rule 10);
/// - one municipality whose connections list only holders that never count instead has a
///   living daglig leder in Enhetsregisteret whom its connections leave out (rule 13);
/// - one municipality whose criminal-case documents are otherwise readable (connections, a
///   daglig leder) is left off the access list of `politi-straffesak-forsendelse` (rule 11).
fn plan_registry(extra: &mut ChaCha8Rng, municipalities: &[Municipality], plans: &mut [Plan]) {
    for p in plans.iter_mut() {
        p.party = uuid(extra);
    }
    let not_bergen = |i: usize| municipalities[i].org.to_string() != BERGEN;
    let mut choose = |wanted: &dyn Fn(&Plan) -> bool| {
        let eligible: Vec<usize> = (0..plans.len())
            .filter(|&i| not_bergen(i) && wanted(&plans[i]))
            .collect();
        (!eligible.is_empty()).then(|| pick(extra, &eligible))
    };
    let write_only = choose(&|p| p.access == Access::NoConfidential && p.vacant);
    let inconsistent = choose(&|p| p.access == Access::NobodyCounts);
    let off_list = choose(&|p| {
        matches!(p.access, Access::OneReader | Access::TwoOrMore)
            || (p.access == Access::NoConfidential && !p.vacant)
    });
    if let Some(i) = write_only {
        plans[i].write_only = true;
    }
    if let Some(i) = inconsistent {
        plans[i].inconsistent = true;
    }
    if let Some(i) = off_list {
        plans[i].on_access_list = false;
    }
}

/// What rule 14 (docs/design.md) added, drawn from `third` (a third stream of the seed, so that the
/// streams before it draw as they did): one municipality without a notification file has
/// its addresses refused to reachcheck instead, recorded as a 403.
fn plan_refusals(third: &mut ChaCha8Rng, municipalities: &[Municipality], plans: &mut [Plan]) {
    let eligible: Vec<usize> = (0..plans.len())
        .filter(|&i| {
            municipalities[i].org.to_string() != BERGEN && plans[i].notify == Notify::Missing
        })
        .collect();
    if !eligible.is_empty() {
        let i = pick(third, &eligible);
        plans[i].notify_refused = true;
    }
}

/// The state of a municipality's recorded system-user request (issue 13).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Asked {
    Accepted,
    New,
    Rejected,
    Denied,
    Timedout,
}

/// Who approved reachcheck's system user, and who was asked in vain: exactly the
/// municipalities with connections accepted (those the stand-in counts as approved without
/// recorded requests, so no verdict changes), and, among those with Enhetsregisteret roles
/// only and a notification file, a seeded few pending, rejected, denied and timed out; the
/// other roles-only municipalities were never asked. Drawn from a fourth stream of the seed.
fn plan_onboarding(fourth: &mut ChaCha8Rng, plans: &[Plan]) -> Vec<Option<Asked>> {
    let mut asked: Vec<Option<Asked>> = plans
        .iter()
        .map(|p| (p.access != Access::ErOnly).then_some(Asked::Accepted))
        .collect();
    let mut eligible: Vec<usize> = (0..plans.len())
        .filter(|&i| plans[i].access == Access::ErOnly && plans[i].notify != Notify::Missing)
        .collect();
    eligible.shuffle(fourth);
    let states = std::iter::repeat_n(Asked::New, PENDING)
        .chain(std::iter::repeat_n(Asked::Rejected, REJECTED))
        .chain(std::iter::repeat_n(Asked::Denied, DENIED))
        .chain(std::iter::repeat_n(Asked::Timedout, TIMED_OUT));
    for (i, state) in eligible.into_iter().zip(states) {
        asked[i] = Some(state);
    }
    asked
}

/// A system-user request as Altinn's vendor endpoints answer it (`RequestSystemResponse`,
/// API-NOTES-2026 §1.3).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SystemUserRequest {
    id: String,
    integration_title: &'static str,
    external_ref: String,
    system_id: &'static str,
    party_org_no: String,
    rights: [(); 0],
    access_packages: [Urn; 1],
    status: &'static str,
    redirect_url: Option<String>,
    confirm_url: String,
    escalated: bool,
    created: String,
}

#[derive(Serialize)]
struct Urn {
    urn: &'static str,
}

/// Maskinporten's refusal of a system-user token for an organisation that has not approved.
#[derive(Serialize)]
struct TokenRefusal {
    status: u16,
    body: TokenRefusalBody,
}

#[derive(Serialize)]
struct TokenRefusalBody {
    error: &'static str,
    error_description: String,
}

/// A time on a whole hour in one of `months` calendar months from `year`-`month`.
fn created(rng: &mut ChaCha8Rng, year: u32, month: u32, months: u32) -> String {
    let m = month - 1 + rng.random_range(0..months);
    let (y, m) = (year + m / 12, m % 12 + 1);
    let day = rng.random_range(1..=28u32);
    let hour = rng.random_range(7..16u32);
    format!("{y}-{m:02}-{day:02}T{hour:02}:00:00Z")
}

/// Writes the recorded requests (`authentication/systemuser/request/<org>.json`) and, for
/// every municipality asked that has not approved, Maskinporten's refusal of its token
/// (`auth/maskinporten/<org>.status.json`), as a live sweep records them.
fn write_requests(
    fourth: &mut ChaCha8Rng,
    files: &mut Out,
    municipalities: &[Municipality],
    asked: &[Option<Asked>],
) -> io::Result<()> {
    for (m, state) in municipalities.iter().zip(asked) {
        let Some(state) = *state else { continue };
        let id = uuid(fourth);
        // Accepted long ago; timed out: more than 180 days before the snapshot; pending:
        // within them.
        let (status, when) = match state {
            Asked::Accepted => ("Accepted", created(fourth, 2025, 6, 12)),
            Asked::New => ("New", created(fourth, 2026, 9, 2)),
            Asked::Rejected => ("Rejected", created(fourth, 2026, 4, 6)),
            Asked::Denied => ("Denied", created(fourth, 2026, 4, 6)),
            Asked::Timedout => ("Timedout", created(fourth, 2025, 10, 6)),
        };
        let request = SystemUserRequest {
            confirm_url: format!("{CONFIRM_BASE}?id={id}&DONTCHOOSEREPORTEE=true"),
            id,
            integration_title: "reachcheck",
            external_ref: m.org.to_string(),
            system_id: SYSTEM_ID,
            party_org_no: m.org.to_string(),
            rights: [],
            access_packages: [Urn {
                urn: REQUESTED_PACKAGE,
            }],
            status,
            redirect_url: None,
            escalated: false,
            created: when,
        };
        files.json(SYSTEM_USER_REQUESTS, m.org, &request)?;
        if state != Asked::Accepted {
            files.value(
                &format!("{MASKINPORTEN}/{}.status.json", m.org),
                &TokenRefusal {
                    status: 400,
                    body: TokenRefusalBody {
                        error: "invalid_altinn_customer_configuration",
                        error_description: format!(
                            "MP-303: Invalid authorization details values: no system user for the client in organisation {}",
                            m.org
                        ),
                    },
                },
            )?;
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------
// Synthetic people.
// ------------------------------------------------------------------------------------

#[derive(Clone)]
struct Person {
    party: String,
    first: &'static str,
    last: &'static str,
    birth: String,
    died: Option<String>,
}

impl Person {
    fn name(&self) -> String {
        format!("{} {}", self.first, self.last)
    }
}

/// A version-4 UUID drawn from the generator.
fn uuid(rng: &mut ChaCha8Rng) -> String {
    let mut v: u128 = rng.random();
    v = (v & !(0xF << 76)) | (0x4 << 76);
    v = (v & !(0x3 << 62)) | (0x2 << 62);
    let h = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn date(rng: &mut ChaCha8Rng, years: std::ops::RangeInclusive<u32>) -> String {
    let y = rng.random_range(years);
    let m = rng.random_range(1..=12u32);
    let d = rng.random_range(1..=28u32);
    format!("{y:04}-{m:02}-{d:02}")
}

fn person(rng: &mut ChaCha8Rng) -> Person {
    Person {
        party: uuid(rng),
        first: pick(rng, FIRST_NAMES),
        last: pick(rng, LAST_NAMES),
        birth: date(rng, 1958..=1998),
        died: None,
    }
}

// ------------------------------------------------------------------------------------
// The real APIs' JSON shapes (only the parts the demo fills in).
// ------------------------------------------------------------------------------------

#[derive(Serialize)]
struct Manifest {
    taken_at: &'static str,
    synthetic: &'static str,
}

#[derive(Serialize, Clone)]
struct Kode {
    kode: &'static str,
    beskrivelse: &'static str,
}

#[derive(Serialize)]
struct Href {
    href: String,
}

#[derive(Serialize)]
struct BrregLinks {
    #[serde(rename = "self")]
    this: Href,
    #[serde(rename = "overordnetEnhet", skip_serializing_if = "Option::is_none")]
    main_unit: Option<Href>,
}

#[derive(Serialize)]
struct BrregAddress {
    land: &'static str,
    landkode: &'static str,
    kommune: String,
    kommunenummer: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BrregUnit {
    organisasjonsnummer: String,
    navn: String,
    organisasjonsform: Kode,
    #[serde(skip_serializing_if = "Option::is_none")]
    forretningsadresse: Option<BrregAddress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    beliggenhetsadresse: Option<BrregAddress>,
    registreringsdato_enhetsregisteret: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    overordnet_enhet: Option<String>,
    #[serde(rename = "_links")]
    links: BrregLinks,
}

/// A deleted unit: Brreg returns only these fields.
#[derive(Serialize)]
struct DeletedUnit {
    organisasjonsnummer: String,
    slettedato: &'static str,
    #[serde(rename = "_links")]
    links: BrregLinks,
}

#[derive(Serialize)]
struct Roller {
    rollegrupper: Vec<Rollegruppe>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rollegruppe {
    #[serde(rename = "type")]
    kind: Kode,
    sist_endret: String,
    roller: Vec<Rolle>,
}

#[derive(Serialize)]
struct Rolle {
    #[serde(rename = "type")]
    kind: Kode,
    #[serde(skip_serializing_if = "Option::is_none")]
    person: Option<RollePerson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enhet: Option<RolleEnhet>,
    fratraadt: bool,
    rekkefolge: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RollePerson {
    fodselsdato: String,
    navn: Navn,
    er_doed: bool,
}

#[derive(Serialize)]
struct Navn {
    fornavn: &'static str,
    etternavn: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RolleEnhet {
    organisasjonsnummer: String,
    organisasjonsform: Kode,
    navn: Vec<String>,
    er_slettet: bool,
}

#[derive(Serialize)]
struct Connections {
    links: Links,
    data: Vec<Connection>,
}

#[derive(Serialize)]
struct Links {
    next: Option<String>,
}

#[derive(Serialize)]
struct Connection {
    party: Party,
    roles: Vec<Role>,
    packages: Vec<Package>,
    resources: Vec<Resource>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Party {
    id: String,
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    variant: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    organization_identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_of_birth: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_of_death: Option<String>,
}

#[derive(Serialize)]
struct Role {
    id: String,
    code: &'static str,
    urn: String,
    #[serde(rename = "legacyurn ", skip_serializing_if = "Option::is_none")]
    legacy_urn: Option<String>,
}

#[derive(Serialize)]
struct Package {
    id: String,
    urn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Resource {
    ref_id: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NotificationAddresses {
    organization_number: String,
    notification_addresses: Vec<NotificationAddress>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NotificationAddress {
    notification_address_id: u32,
    email: Option<String>,
    country_code: Option<String>,
    phone: Option<String>,
}

/// `ExternalResourceRightDto`: what one resource delegation grants
/// (`/accessmanagement/api/v1/enduser/connections/resources/rights`), one entry per action.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceRights {
    resource: RightsResource,
    direct_rights: Vec<RightPermission>,
    indirect_rights: Vec<RightPermission>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RightsResource {
    id: String,
    ref_id: &'static str,
    name: &'static str,
}

#[derive(Serialize)]
struct RightPermission {
    right: Right,
    reason: AccessReason,
    permissions: Vec<Permission>,
}

#[derive(Serialize)]
struct Right {
    key: String,
    name: &'static str,
    resource: Vec<Attribute>,
    action: Attribute,
}

#[derive(Serialize)]
struct Attribute {
    #[serde(rename = "type")]
    kind: &'static str,
    value: String,
}

#[derive(Serialize)]
struct AccessReason {
    items: Vec<ReasonItem>,
}

#[derive(Serialize)]
struct ReasonItem {
    name: &'static str,
    description: &'static str,
}

#[derive(Serialize)]
struct Permission {
    from: PartyRef,
    to: PartyRef,
}

#[derive(Serialize)]
struct PartyRef {
    id: String,
}

/// `ServiceResource` from `/resourceregistry/api/v1/resource/{id}` (the parts the demo fills in).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceResource {
    identifier: &'static str,
    title: Text,
    resource_type: &'static str,
    delegable: bool,
    access_list_mode: &'static str,
    has_competent_authority: CompetentAuthority,
}

#[derive(Serialize)]
struct Text {
    nb: &'static str,
}

#[derive(Serialize)]
struct CompetentAuthority {
    organization: &'static str,
    orgcode: &'static str,
    name: Text,
}

/// The owner's access lists with their connections to one resource
/// (`/resourceregistry/api/v1/access-lists/{owner}?resource=<id>&include=resource-connections`).
#[derive(Serialize)]
struct AccessLists {
    links: Links,
    data: Vec<AccessListInfo>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccessListInfo {
    urn: String,
    identifier: &'static str,
    name: &'static str,
    description: &'static str,
    created_at: &'static str,
    updated_at: &'static str,
    resource_connections: Vec<ResourceConnection>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceConnection {
    resource_identifier: &'static str,
    action_filters: Vec<&'static str>,
    created_at: &'static str,
    updated_at: &'static str,
}

/// An access list's members (`/access-lists/{owner}/{identifier}/members`).
#[derive(Serialize)]
struct Members {
    links: Links,
    data: Vec<Member>,
}

#[derive(Serialize)]
struct Member {
    id: String,
    since: String,
    identifiers: MemberIdentifiers,
}

#[derive(Serialize)]
struct MemberIdentifiers {
    #[serde(rename = "urn:altinn:party:uuid")]
    uuid: String,
    #[serde(rename = "urn:altinn:party:id")]
    party_id: u32,
    #[serde(rename = "urn:altinn:organization:identifier-no")]
    organization: String,
}

// ------------------------------------------------------------------------------------
// Grants, and the catalogue of Altinn's fixed role and package ids.
// ------------------------------------------------------------------------------------

/// A grant as the connections API lists it.
#[derive(Clone, Copy)]
enum G {
    /// Enhetsregisteret role: Altinn 3 code and legacy Altinn 2 code.
    Er(&'static str, &'static str),
    /// Altinn 2 role code (e.g. `a0286`).
    A2(&'static str),
    /// Altinn 3 role code (e.g. `rettighetshaver`).
    A3(&'static str),
    /// Access package.
    Package(&'static str),
    /// Direct delegation of a resource.
    Resource(&'static str),
}

const DAGL: G = G::Er("daglig-leder", "dagl");
const KOMK: G = G::Er("kontaktperson-kommune", "komk");
const RIGHTHOLDER: G = G::A3("rettighetshaver");

/// Altinn's role and package ids are fixed per code; the demo draws one per code, once.
struct Catalogue(Vec<(&'static str, String)>);

impl Catalogue {
    fn new(rng: &mut ChaCha8Rng) -> Catalogue {
        let codes = [
            "daglig-leder",
            "kontaktperson-kommune",
            "rettighetshaver",
            "a0236",
            "a0286",
            "a0287",
            CONFIDENTIAL_POST,
            ORDINARY_POST,
            ACCESS_MANAGER,
        ];
        Catalogue(codes.iter().map(|&c| (c, uuid(rng))).collect())
    }

    fn id(&self, code: &str) -> String {
        self.0
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, id)| id.clone())
            .unwrap_or_default()
    }

    fn connection(&self, party: Party, grants: &[G]) -> Connection {
        let mut c = Connection {
            party,
            roles: Vec::new(),
            packages: Vec::new(),
            resources: Vec::new(),
        };
        for g in grants {
            match *g {
                G::Er(code, legacy) => c.roles.push(Role {
                    id: self.id(code),
                    code,
                    urn: format!("urn:altinn:external-role:ccr:{code}"),
                    legacy_urn: Some(format!("urn:altinn:rolecode:{legacy}")),
                }),
                G::A2(code) => c.roles.push(Role {
                    id: self.id(code),
                    code,
                    urn: format!("urn:altinn:rolecode:{code}"),
                    legacy_urn: None,
                }),
                G::A3(code) => c.roles.push(Role {
                    id: self.id(code),
                    code,
                    urn: format!("urn:altinn:role:{code}"),
                    legacy_urn: None,
                }),
                G::Package(code) => c.packages.push(Package {
                    id: self.id(code),
                    urn: format!("urn:altinn:accesspackage:{code}"),
                }),
                G::Resource(id) => c.resources.push(Resource { ref_id: id }),
            }
        }
        c
    }

    fn person(&self, p: &Person, grants: &[G]) -> Connection {
        self.connection(
            Party {
                id: p.party.clone(),
                name: p.name(),
                kind: "Person",
                variant: "Person",
                organization_identifier: None,
                date_of_birth: Some(p.birth.clone()),
                date_of_death: p.died.clone(),
            },
            grants,
        )
    }
}

/// The police's resources in Altinn's registry: each has a fixed registry id, drawn once.
struct Registry(Vec<(&'static str, &'static str, String)>);

impl Registry {
    fn new(extra: &mut ChaCha8Rng) -> Registry {
        Registry(
            RESOURCES
                .iter()
                .map(|&(id, title)| (id, title, uuid(extra)))
                .collect(),
        )
    }

    /// The rights answer for a direct delegation of `resource` from the unit `from` to
    /// the party `to`, granting `actions`.
    fn rights(
        &self,
        resource: &'static str,
        from: &str,
        to: &str,
        actions: &[&str],
    ) -> ResourceRights {
        let (title, id) = self
            .0
            .iter()
            .find(|(r, _, _)| *r == resource)
            .map(|(_, title, id)| (*title, id.clone()))
            .unwrap_or((resource, String::new()));
        ResourceRights {
            resource: RightsResource {
                id,
                ref_id: resource,
                name: title,
            },
            direct_rights: actions
                .iter()
                .map(|&action| RightPermission {
                    right: Right {
                        key: format!("{resource}:{action}"),
                        name: if action == READ { "Les" } else { "Skriv" },
                        resource: vec![Attribute {
                            kind: "urn:altinn:resource",
                            value: resource.to_owned(),
                        }],
                        action: Attribute {
                            kind: "urn:oasis:names:tc:xacml:1.0:action:action-id",
                            value: action.to_owned(),
                        },
                    },
                    reason: AccessReason {
                        items: vec![ReasonItem {
                            name: "direct",
                            description: "Direkte delegert",
                        }],
                    },
                    permissions: vec![Permission {
                        from: PartyRef {
                            id: from.to_owned(),
                        },
                        to: PartyRef { id: to.to_owned() },
                    }],
                })
                .collect(),
            indirect_rights: Vec::new(),
        }
    }

    /// `resource.json` of each resource, and the access list gating [`GATED`] with its
    /// members: the municipalities planned on it.
    fn write(
        &self,
        extra: &mut ChaCha8Rng,
        out: &mut Out,
        municipalities: &[Municipality],
        plans: &[Plan],
    ) -> io::Result<usize> {
        for &(id, title, _) in &self.0 {
            out.value(
                &format!("{REGISTRY}/{id}/resource.json"),
                &ServiceResource {
                    identifier: id,
                    title: Text { nb: title },
                    resource_type: "CorrespondenceService",
                    delegable: true,
                    access_list_mode: if id == GATED { "Enabled" } else { "Disabled" },
                    has_competent_authority: CompetentAuthority {
                        organization: OWNER_ORG,
                        orgcode: OWNER_ORGCODE,
                        name: Text { nb: "Politiet" },
                    },
                },
            )?;
        }
        // Not published: the registry answers 404 for its entry and its policy.
        let not_found = serde_json::json!({"status": 404, "body": {
            "type": "https://tools.ietf.org/html/rfc9110#section-15.5.5",
            "title": "Not Found", "status": 404}});
        for file in ["resource.json", "policy.xml"] {
            out.value(
                &format!("{REGISTRY}/{UNPUBLISHED}/{file}.status.json"),
                &not_found,
            )?;
        }
        out.value(
            &format!("{REGISTRY}/{GATED}/access-lists.json"),
            &AccessLists {
                links: Links { next: None },
                data: vec![AccessListInfo {
                    urn: format!("urn:altinn:access-list:{OWNER_ORGCODE}:{ACCESS_LIST}"),
                    identifier: ACCESS_LIST,
                    name: "Kommuner som mottar straffesaksforsendelser",
                    description: "SYNTHETIC (examples/demo/generate.rs)",
                    created_at: ACCESS_LIST_CREATED,
                    updated_at: ACCESS_LIST_UPDATED,
                    resource_connections: vec![ResourceConnection {
                        resource_identifier: GATED,
                        action_filters: vec![READ],
                        created_at: ACCESS_LIST_CREATED,
                        updated_at: ACCESS_LIST_CREATED,
                    }],
                }],
            },
        )?;
        let mut data = Vec::new();
        for ((m, p), n) in municipalities.iter().zip(plans).zip(50_100_001u32..) {
            if !p.on_access_list {
                continue;
            }
            data.push(Member {
                id: format!("urn:altinn:party:uuid:{}", p.party),
                since: format!("{}T09:00:00Z", date(extra, 2025..=2025)),
                identifiers: MemberIdentifiers {
                    uuid: p.party.clone(),
                    party_id: n,
                    organization: m.org.to_string(),
                },
            });
        }
        let members = data.len();
        out.value(
            &format!("{REGISTRY}/access-lists/{OWNER_ORGCODE}/{ACCESS_LIST}/members.json"),
            &Members {
                links: Links { next: None },
                data,
            },
        )?;
        Ok(members)
    }
}

/// A confidential-post grant as municipalities hold it: mostly the access package, some
/// still the Altinn 2 roles.
fn confidential_grant(rng: &mut ChaCha8Rng) -> G {
    match rng.random_range(0..100u32) {
        0..60 => G::Package(CONFIDENTIAL_POST),
        60..85 => G::A2("a0286"),
        _ => G::A2("a0287"),
    }
}

/// An ordinary-post grant: the access package or the Altinn 2 role Post/arkiv.
fn ordinary_grant(rng: &mut ChaCha8Rng) -> G {
    if percent(rng, 70) {
        G::Package(ORDINARY_POST)
    } else {
        G::A2("a0236")
    }
}

// ------------------------------------------------------------------------------------
// Writing.
// ------------------------------------------------------------------------------------

struct Out {
    root: PathBuf,
    files: usize,
}

impl Out {
    fn json<T: Serialize>(&mut self, dir: &str, org: OrgNumber, value: &T) -> io::Result<()> {
        self.value(&format!("{dir}/{org}.json"), value)
    }

    fn value<T: Serialize>(&mut self, rel: &str, value: &T) -> io::Result<()> {
        let mut text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
        text.push('\n');
        self.text(rel, &text)
    }

    fn text(&mut self, rel: &str, text: &str) -> io::Result<()> {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(path, text)?;
        self.files += 1;
        Ok(())
    }
}

const UNITS: &str = "enhetsregisteret/enheter";
const SUB_UNITS_DIR: &str = "enhetsregisteret/underenheter";
const ROLES: &str = "enhetsregisteret/roller";
const CONNECTIONS: &str = "accessmanagement/connections";
const NOTIFICATIONS: &str = "profile/notificationaddresses";
const RIGHTS: &str = "accessmanagement/resourcerights";
const REGISTRY: &str = "resourceregistry";
const SYSTEM_USER_REQUESTS: &str = "authentication/systemuser/request";
const MASKINPORTEN: &str = "auth/maskinporten";

fn links(register: &str, org: OrgNumber, main_unit: Option<OrgNumber>) -> BrregLinks {
    let base = "https://data.brreg.no/enhetsregisteret/api";
    BrregLinks {
        this: Href {
            href: format!("{base}/{register}/{org}"),
        },
        main_unit: main_unit.map(|m| Href {
            href: format!("{base}/enheter/{m}"),
        }),
    }
}

/// `Guovdageaidnu Kautokeino` -> `guovdageaidnu`, for synthetic e-mail addresses.
fn slug(name: &str) -> String {
    let first = name.split_whitespace().next().unwrap_or(name);
    let mut s = String::new();
    for c in first.to_lowercase().chars() {
        match c {
            'a'..='z' | '0'..='9' | '-' => s.push(c),
            'æ' => s.push_str("ae"),
            'ø' | 'ö' | 'ó' => s.push('o'),
            'å' | 'á' | 'ä' => s.push('a'),
            'č' => s.push('c'),
            'đ' => s.push('d'),
            'ŋ' => s.push('n'),
            'š' => s.push('s'),
            'ŧ' => s.push('t'),
            'ž' => s.push('z'),
            _ => {}
        }
    }
    s
}

fn addresses(org: OrgNumber, emails: &[String]) -> NotificationAddresses {
    NotificationAddresses {
        organization_number: org.to_string(),
        notification_addresses: emails
            .iter()
            .zip(1u32..)
            .map(|(e, i)| NotificationAddress {
                notification_address_id: i,
                email: Some(e.clone()),
                country_code: None,
                phone: None,
            })
            .collect(),
    }
}

/// Per police district: the synthetic audit company (an Enhetsregisteret role holder) and
/// inter-municipal archive company (an organisation in connections) its municipalities use.
struct District {
    name: String,
    sender: OrgNumber,
    audit: (OrgNumber, String),
    archive: (OrgNumber, String, String),
}

fn role_kode(code: &str) -> Kode {
    match code {
        "DAGL" => Kode {
            kode: "DAGL",
            beskrivelse: "Daglig leder",
        },
        "KOMK" => Kode {
            kode: "KOMK",
            beskrivelse: "Kontaktperson i kommune",
        },
        _ => Kode {
            kode: "REVI",
            beskrivelse: "Revisor",
        },
    }
}

fn role_of(code: &str, p: &Person, resigned: bool, order: u32) -> Rolle {
    Rolle {
        kind: role_kode(code),
        person: Some(RollePerson {
            fodselsdato: p.birth.clone(),
            navn: Navn {
                fornavn: p.first,
                etternavn: p.last,
            },
            er_doed: p.died.is_some(),
        }),
        enhet: None,
        fratraadt: resigned,
        rekkefolge: order,
    }
}

/// Everything about one municipality (and its sub-unit): files, and the route recipients.
#[expect(
    clippy::too_many_arguments,
    reason = "the two random streams, the fixed catalogues and the output: passed, not bundled"
)]
fn municipality(
    rng: &mut ChaCha8Rng,
    extra: &mut ChaCha8Rng,
    cat: &Catalogue,
    registry: &Registry,
    out: &mut Out,
    m: &Municipality,
    plan: &Plan,
    district: &District,
) -> io::Result<usize> {
    let mut rights_answers = 0;
    let name = format!("{} KOMMUNE", m.name.to_uppercase());
    let upper = m.name.to_uppercase();
    let slug = slug(&m.name);
    let is_bergen = m.org.to_string() == BERGEN;

    // Enhetsregisteret: the unit (real number and name, synthetic registration date).
    out.json(
        UNITS,
        m.org,
        &BrregUnit {
            organisasjonsnummer: m.org.to_string(),
            navn: name.clone(),
            organisasjonsform: Kode {
                kode: "KOMM",
                beskrivelse: "Kommune",
            },
            forretningsadresse: Some(BrregAddress {
                land: "Norge",
                landkode: "NO",
                kommune: upper.clone(),
                kommunenummer: m.number.clone(),
            }),
            beliggenhetsadresse: None,
            registreringsdato_enhetsregisteret: date(rng, 1995..=1996),
            overordnet_enhet: None,
            links: links("enheter", m.org, None),
        },
    )?;

    // Key-role holders, the same people in Enhetsregisteret and in connections.
    let mut dagl = (!plan.vacant).then(|| person(rng));
    if plan.access == Access::NobodyCounts
        && let Some(d) = dagl.as_mut()
    {
        // Drawn in any case, so that the inconsistent unit leaves the stream as it was.
        let died = date(rng, 2025..=2025);
        if !plan.inconsistent {
            d.died = Some(died);
        }
    }
    let komk = (!plan.vacant && plan.access != Access::NobodyCounts && percent(rng, 50))
        .then(|| person(rng));
    let resigned = (plan.vacant || percent(rng, 10)).then(|| person(rng));

    // Enhetsregisteret roles: every municipality has a file.
    let mut groups = Vec::new();
    let mut dagl_roles = Vec::new();
    if let Some(d) = &dagl {
        dagl_roles.push(role_of("DAGL", d, false, 0));
    }
    if let Some(r) = &resigned {
        dagl_roles.push(role_of("DAGL", r, true, 1));
    }
    if !dagl_roles.is_empty() {
        groups.push(Rollegruppe {
            kind: role_kode("DAGL"),
            sist_endret: date(rng, 2019..=2026),
            roller: dagl_roles,
        });
    }
    if let Some(k) = &komk {
        groups.push(Rollegruppe {
            kind: role_kode("KOMK"),
            sist_endret: date(rng, 2019..=2026),
            roller: vec![role_of("KOMK", k, false, 0)],
        });
    }
    if percent(rng, 60) {
        groups.push(Rollegruppe {
            kind: role_kode("REVI"),
            sist_endret: date(rng, 2015..=2026),
            roller: vec![Rolle {
                kind: role_kode("REVI"),
                person: None,
                enhet: Some(RolleEnhet {
                    organisasjonsnummer: district.audit.0.to_string(),
                    organisasjonsform: Kode {
                        kode: "IKS",
                        beskrivelse: "Interkommunalt selskap",
                    },
                    navn: vec![district.audit.1.clone()],
                    er_slettet: false,
                }),
                fratraadt: false,
                rekkefolge: 0,
            }],
        });
    }
    out.json(
        ROLES,
        m.org,
        &Roller {
            rollegrupper: groups,
        },
    )?;

    // Altinn connections (not for municipalities that never approved reachcheck's system user).
    if plan.access != Access::ErOnly {
        let mut write_only: Option<String> = None;
        let mut data = Vec::new();
        // The inconsistent unit: Altinn always lists the key-role holders, yet these
        // connections leave out the living daglig leder Enhetsregisteret names.
        if let Some(d) = dagl.as_ref().filter(|_| !plan.inconsistent) {
            data.push(cat.person(d, &[DAGL]));
        }
        if let Some(k) = &komk {
            data.push(cat.person(k, &[KOMK]));
        }
        if plan.access != Access::NobodyCounts {
            // The post room: ordinary post, and (where nobody holds a key role) access management.
            let staff = if is_bergen {
                2
            } else {
                rng.random_range(1..=3u32)
            };
            for i in 0..staff {
                let p = person(rng);
                let mut grants = vec![RIGHTHOLDER, ordinary_grant(rng)];
                if i == 0 && plan.vacant {
                    grants.push(G::Package(ACCESS_MANAGER));
                }
                data.push(cat.person(&p, &grants));
            }
            let readers = match plan.access {
                Access::OneReader => 1,
                Access::TwoOrMore => rng.random_range(2..=4u32),
                _ => 0,
            };
            for _ in 0..readers {
                let p = person(rng);
                let mut grants = vec![RIGHTHOLDER, confidential_grant(rng)];
                if percent(rng, 50) {
                    grants.push(G::Package(ORDINARY_POST));
                }
                data.push(cat.person(&p, &grants));
            }
            // Criminal-case documents: the message alone is not enough; both resources are.
            if is_bergen || percent(rng, 20) {
                let p = person(rng);
                data.push(cat.person(&p, &[RIGHTHOLDER, G::Resource(STRAFFESAK_MESSAGE)]));
            }
            if !plan.vacant && percent(rng, 10) {
                let p = person(rng);
                data.push(cat.person(
                    &p,
                    &[
                        RIGHTHOLDER,
                        G::Resource(STRAFFESAK_MESSAGE),
                        G::Resource(STRAFFESAK_ATTACHMENT),
                    ],
                ));
            }
            // A clerk delegated both criminal-case resources, but only `write`: the only
            // would-be reader where nobody holds daglig leder or kontaktperson kommune.
            if plan.write_only {
                let p = person(extra);
                write_only = Some(p.party.clone());
                data.push(cat.person(
                    &p,
                    &[
                        RIGHTHOLDER,
                        G::Resource(STRAFFESAK_MESSAGE),
                        G::Resource(STRAFFESAK_ATTACHMENT),
                    ],
                ));
            }
            // A former employee who held confidential post and has since died.
            if percent(rng, 8) {
                let mut p = person(rng);
                p.died = Some(date(rng, 2023..=2025));
                data.push(cat.person(&p, &[RIGHTHOLDER, G::Package(CONFIDENTIAL_POST)]));
            }
        }
        // Holders that are not persons: they may fetch the post, but nobody reads it.
        if is_bergen || plan.access == Access::NobodyCounts || percent(rng, 40) {
            data.push(cat.connection(
                Party {
                    id: uuid(rng),
                    name: format!("{name} SAK OG ARKIV"),
                    kind: "Systembruker",
                    variant: "Systembruker",
                    organization_identifier: None,
                    date_of_birth: None,
                    date_of_death: None,
                },
                &[G::Package(CONFIDENTIAL_POST), G::Package(ORDINARY_POST)],
            ));
        }
        if plan.access == Access::NobodyCounts || percent(rng, 20) {
            data.push(cat.connection(
                Party {
                    id: district.archive.2.clone(),
                    name: district.archive.1.clone(),
                    kind: "Organisasjon",
                    variant: "IKS",
                    organization_identifier: Some(district.archive.0.to_string()),
                    date_of_birth: None,
                    date_of_death: None,
                },
                &[G::Package(ORDINARY_POST)],
            ));
        }
        // What each resource delegation grants (docs/design.md, rule 10): `read`, the one action
        // the demo's policies give a municipality; the clerk's delegations only `write`.
        for c in &data {
            for r in &c.resources {
                let action = if write_only.as_deref() == Some(c.party.id.as_str()) {
                    WRITE
                } else {
                    READ
                };
                let rights = registry.rights(r.ref_id, &plan.party, &c.party.id, &[action]);
                out.value(
                    &format!("{RIGHTS}/{}/{}/{}.json", m.org, r.ref_id, c.party.id),
                    &rights,
                )?;
                rights_answers += 1;
            }
        }
        out.json(
            CONNECTIONS,
            m.org,
            &Connections {
                links: Links { next: None },
                data,
            },
        )?;
    }

    // Notification addresses.
    match plan.notify {
        Notify::Missing if plan.notify_refused => out.value(
            &format!("{NOTIFICATIONS}/{}.json.status.json", m.org),
            &serde_json::json!({"status": 403, "body": {
                "type": "https://tools.ietf.org/html/rfc9110#section-15.5.4",
                "title": "Forbidden", "status": 403}}),
        )?,
        Notify::Missing => {}
        Notify::Empty => out.json(NOTIFICATIONS, m.org, &addresses(m.org, &[]))?,
        Notify::Addresses => {
            let mut emails = vec![format!("postmottak@{slug}.kommune.example")];
            if percent(rng, 30) {
                emails.push(format!("arkiv@{slug}.kommune.example"));
            }
            out.json(NOTIFICATIONS, m.org, &addresses(m.org, &emails))?;
        }
    }

    // The child-welfare sub-unit.
    if let Some((sub, variant)) = plan.sub_unit {
        out.json(
            SUB_UNITS_DIR,
            sub,
            &BrregUnit {
                organisasjonsnummer: sub.to_string(),
                navn: format!("{name} BARNEVERNTJENESTE"),
                organisasjonsform: Kode {
                    kode: "BEDR",
                    beskrivelse: "Underenhet til næringsdrivende og offentlig forvaltning",
                },
                forretningsadresse: None,
                beliggenhetsadresse: Some(BrregAddress {
                    land: "Norge",
                    landkode: "NO",
                    kommune: upper,
                    kommunenummer: m.number.clone(),
                }),
                registreringsdato_enhetsregisteret: date(rng, 1996..=2015),
                overordnet_enhet: Some(m.org.to_string()),
                links: links("underenheter", sub, Some(m.org)),
            },
        )?;
        let mut data = Vec::new();
        match variant {
            SubUnitAccess::AtSubUnit => {
                for _ in 0..rng.random_range(1..=3u32) {
                    let p = person(rng);
                    let g = if percent(rng, 70) {
                        G::Package(CONFIDENTIAL_POST)
                    } else {
                        G::A2("a0287")
                    };
                    data.push(cat.person(&p, &[RIGHTHOLDER, g]));
                }
            }
            SubUnitAccess::InheritedOnly | SubUnitAccess::Neither => {
                if percent(rng, 50) {
                    let p = person(rng);
                    data.push(cat.person(&p, &[RIGHTHOLDER, G::Package(ORDINARY_POST)]));
                }
            }
            SubUnitAccess::NoConnections => {}
        }
        if variant != SubUnitAccess::NoConnections {
            out.json(
                CONNECTIONS,
                sub,
                &Connections {
                    links: Links { next: None },
                    data,
                },
            )?;
        }
        if percent(rng, 30) {
            let email = format!("barnevern@{slug}.kommune.example");
            out.json(NOTIFICATIONS, sub, &addresses(sub, &[email]))?;
        }
    }
    Ok(rights_answers)
}

fn snapshot_readme(seed: u64, s: &Summary) -> String {
    format!(
        "# Demo snapshot — SYNTHETIC access data

Everything in this directory about **who holds which rights** is **SYNTHETIC**: invented by
`examples/demo/generate.rs` (seed {seed}) to show what reachcheck finds. It says nothing about
any real municipality, person or police district.

| what | real or synthetic |
|---|---|
| municipality organisation numbers, names, municipality numbers (`enhetsregisteret/enheter/`) | real (from `../municipalities.csv`); all other fields are synthetic |
| police districts' organisation numbers (in `../routes.csv`) | synthetic (3xxxxxxxx) |
| child-welfare sub-units (`enhetsregisteret/underenheter/`), the deleted former municipality, the audit and archive companies | synthetic (3xxxxxxxx) |
| persons, birth dates, party UUIDs, roles, access packages, delegations (`enhetsregisteret/roller/`, `accessmanagement/connections/`) | synthetic |
| what each resource delegation grants (`accessmanagement/resourcerights/<unit>/<resource>/<party-uuid>.json`) | synthetic |
| the police's resources in the resource registry (`resourceregistry/<resource>/resource.json`, or a recorded 404 for the unpublished `{UNPUBLISHED}`), owner `politiet` with the synthetic number {OWNER_ORG} | synthetic (resource ids as in `policies/`) |
| the access list gating `{GATED}` (`resourceregistry/{GATED}/access-lists.json`, `resourceregistry/access-lists/{OWNER_ORGCODE}/{ACCESS_LIST}/members.json`) and the municipalities' party UUIDs and ids on it | synthetic (the organisation numbers are real) |
| notification addresses (`profile/notificationaddresses/`) | synthetic (`*.kommune.example`) |

No file contains a national identity number or a `personIdentifier`.

The layout is the snapshot contract of `docs/design.md` (\"Files\"); `manifest.json` says when the
snapshot was taken ({TAKEN_AT}). What the generator wrote:

- {municipalities} municipalities, {sub_units} child-welfare sub-units, {files} files;
- {no_conf} municipalities where nobody holds confidential post ({vacant} of them without a
  daglig leder), {one} with one confidential reader, {two} with two or more, {er} with
  Enhetsregisteret roles only (no connections file), {nobody} whose connections list only holders
  that never count ({inconsistent} of them while Enhetsregisteret names a living daglig leder:
  inconsistent evidence);
- {rights} rights answers, one for every resource delegation in the connections: each grants
  `read`, except in {write_only} municipality where the only would-be reader of criminal-case
  documents holds them by delegations that grant only `write`;
- `resource.json` for the {resources} published resources of `policies/message-types.toml`;
  the fifth, `{UNPUBLISHED}`, is not published in Altinn: the registry's 404 for its entry and
  its policy is recorded as `resourceregistry/{UNPUBLISHED}/resource.json.status.json` and
  `policy.xml.status.json`;
  `{GATED}` has `accessListMode` `Enabled`, and its one bound list
  (`{ACCESS_LIST}`, action filter `read`) has {members} of the {municipalities} municipalities
  as members;
- {no_addr} municipalities with an empty notification address list, {no_file} without a
  notification address file, {refused} whose addresses Altinn refused to reachcheck (a 403
  recorded as `profile/notificationaddresses/<org>.json.status.json`);
- onboarding (issue 13), the system-user requests of reachcheck's system `{SYSTEM_ID}` in
  `authentication/systemuser/request/<org>.json`: {approved} `Accepted` (exactly the
  municipalities with connections), {pending} `New` (pending, each with its own `confirmUrl`),
  {rejected} `Rejected` and {denied} `Denied` (refused), {timed_out} `Timedout` (expired); the
  other {never_asked} municipalities with Enhetsregisteret roles only were never asked (no
  file). For every municipality asked that has not approved, Maskinporten's refusal of its
  token is recorded (`auth/maskinporten/<org>.status.json`), so its routes that are not
  readable carry `not_authorized` (with its own approval link while pending).

Regenerate with `cargo run --example generate-demo`; the output is identical on every run.
",
        municipalities = s.municipalities,
        sub_units = s.sub_units,
        files = s.snapshot_files,
        no_conf = s.no_confidential,
        vacant = s.vacant,
        one = s.one_reader,
        two = s.two_or_more,
        er = s.er_only,
        nobody = s.nobody_counts,
        inconsistent = s.inconsistent,
        rights = s.rights_answers,
        write_only = s.write_only,
        resources = RESOURCES.len(),
        members = s.access_list_members,
        no_addr = s.no_addresses,
        no_file = s.no_notification_file,
        refused = s.notification_refused,
        approved = s.approved,
        pending = s.pending,
        rejected = s.rejected,
        denied = s.denied,
        timed_out = s.timed_out,
        never_asked = s.never_asked,
    )
}

/// Writes the demo for `seed` into `out`: `municipalities.csv`, `routes.csv` and
/// `snapshot/` (replacing an earlier generated snapshot there).
pub fn generate(seed: u64, out: &Path) -> io::Result<Summary> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // A second stream of the same seed for what rules 10-13 added, so that the first
    // stream, and everything it decides, is what it was before them.
    let mut extra = ChaCha8Rng::seed_from_u64(seed);
    extra.set_stream(1);
    let municipalities = read_municipalities()?;
    let mut plans = plan(&mut rng, &municipalities);
    plan_registry(&mut extra, &municipalities, &mut plans);
    let mut third = ChaCha8Rng::seed_from_u64(seed);
    third.set_stream(2);
    plan_refusals(&mut third, &municipalities, &mut plans);
    // A fourth stream for the onboarding states (issue 13): nothing else moves.
    let mut fourth = ChaCha8Rng::seed_from_u64(seed);
    fourth.set_stream(3);
    let asked = plan_onboarding(&mut fourth, &plans);
    let catalogue = Catalogue::new(&mut rng);
    let registry = Registry::new(&mut extra);

    // Senders and the synthetic organisations per district, in sorted district order.
    let mut names: Vec<&str> = municipalities.iter().map(|m| m.district.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut senders = OrgNumbers(31_000_001);
    let mut companies = OrgNumbers(35_000_000);
    let districts: Vec<District> = names
        .iter()
        .map(|&d| District {
            name: d.to_owned(),
            sender: senders.next(),
            audit: (
                companies.next(),
                format!("{} KOMMUNEREVISJON IKS", d.to_uppercase()),
            ),
            archive: (
                companies.next(),
                format!("{} INTERKOMMUNALE ARKIV IKS", d.to_uppercase()),
                uuid(&mut rng),
            ),
        })
        .collect();
    let district_of = |m: &Municipality| {
        districts
            .iter()
            .find(|d| d.name == m.district)
            .ok_or_else(|| io::Error::other(format!("no district `{}`", m.district)))
    };

    let snapshot = out.join("snapshot");
    if snapshot.join("manifest.json").is_file() {
        fs::remove_dir_all(&snapshot)?;
    }
    let mut files = Out {
        root: snapshot,
        files: 0,
    };
    let manifest = Manifest {
        taken_at: TAKEN_AT,
        synthetic: "All access data in this snapshot is SYNTHETIC (examples/demo/generate.rs): \
                    only the municipalities' organisation numbers, names and numbers are real.",
    };
    let mut text = serde_json::to_string_pretty(&manifest).map_err(io::Error::other)?;
    text.push('\n');
    files.text("manifest.json", &text)?;

    let mut rights_answers = 0;
    for (m, p) in municipalities.iter().zip(&plans) {
        rights_answers += municipality(
            &mut rng,
            &mut extra,
            &catalogue,
            &registry,
            &mut files,
            m,
            p,
            district_of(m)?,
        )?;
    }
    let access_list_members = registry.write(&mut extra, &mut files, &municipalities, &plans)?;
    write_requests(&mut fourth, &mut files, &municipalities, &asked)?;

    // Two recipients that are not (or no longer) there.
    let former = OrgNumbers(33_000_000).next();
    files.json(
        UNITS,
        former,
        &DeletedUnit {
            organisasjonsnummer: former.to_string(),
            slettedato: "2020-01-01",
            links: links("enheter", former, None),
        },
    )?;
    let unregistered = OrgNumbers(34_000_000).next();

    // The routing table: per district, its municipalities in list order.
    let mut routes = String::from(
        "sender,message_type,recipient\n\
         # SYNTHETIC demo routing table, written by examples/demo/generate.rs: do not edit.\n\
         # Senders are the 12 police districts with SYNTHETIC organisation numbers (not their\n\
         # real ones). Recipients are the real organisation numbers of the municipalities of\n\
         # 2020-2023 and SYNTHETIC child-welfare sub-units of some of them; all access data\n\
         # about them is SYNTHETIC (see snapshot/README.md).\n",
    );
    let mut count = 0usize;
    for d in &districts {
        routes.push_str(&format!(
            "\n# {} politidistrikt (synthetic organisation number {})\n",
            d.name, d.sender
        ));
        for (m, p) in municipalities.iter().zip(&plans) {
            if m.district != d.name {
                continue;
            }
            let concern = p.sub_unit.map_or(m.org, |(s, _)| s);
            for (t, r) in [(BEKYMRING, concern), (STRAFFESAK, m.org), (ORDINAER, m.org)] {
                routes.push_str(&format!("{},{t},{r}\n", d.sender));
                count += 1;
            }
        }
    }
    let agder = districts
        .iter()
        .find(|d| d.name == "Agder")
        .unwrap_or(&districts[0]);
    routes.push_str(&format!(
        "\n# {} politidistrikt pilots a service not yet published in Altinn.\n",
        agder.name
    ));
    for m in municipalities
        .iter()
        .filter(|m| m.district == agder.name)
        .take(PILOT_ROUTES)
    {
        routes.push_str(&format!("{},{KRISETEAM},{}\n", agder.sender, m.org));
        count += 1;
    }
    let vest = districts
        .iter()
        .find(|d| d.name == "Vest")
        .unwrap_or(&districts[0]);
    let ost = districts
        .iter()
        .find(|d| d.name == "Øst")
        .unwrap_or(&districts[0]);
    routes.push_str(&format!(
        "\n# A synthetic former municipality, merged away on 2020-01-01 (deleted in Enhetsregisteret).\n\
         {},{BEKYMRING},{former}\n\
         # A synthetic organisation number with no Enhetsregisteret record (e.g. a typo).\n\
         {},{ORDINAER},{unregistered}\n",
        vest.sender, ost.sender
    ));
    count += 2;

    let count_access = |a: Access| plans.iter().filter(|p| p.access == a).count();
    let count_asked = |a: Option<Asked>| asked.iter().filter(|&&s| s == a).count();
    let mut summary = Summary {
        seed,
        senders: districts.len(),
        municipalities: municipalities.len(),
        sub_units: plans.iter().filter(|p| p.sub_unit.is_some()).count(),
        routes: count,
        snapshot_files: files.files + 1, // counting the README written next
        no_confidential: count_access(Access::NoConfidential),
        vacant: plans
            .iter()
            .filter(|p| p.access == Access::NoConfidential && p.vacant)
            .count(),
        one_reader: count_access(Access::OneReader),
        two_or_more: count_access(Access::TwoOrMore),
        er_only: count_access(Access::ErOnly),
        nobody_counts: count_access(Access::NobodyCounts),
        inconsistent: plans.iter().filter(|p| p.inconsistent).count(),
        rights_answers,
        write_only: plans.iter().filter(|p| p.write_only).count(),
        access_list_members,
        no_addresses: plans.iter().filter(|p| p.notify == Notify::Empty).count(),
        no_notification_file: plans
            .iter()
            .filter(|p| p.notify == Notify::Missing && !p.notify_refused)
            .count(),
        notification_refused: plans.iter().filter(|p| p.notify_refused).count(),
        approved: count_asked(Some(Asked::Accepted)),
        pending: count_asked(Some(Asked::New)),
        rejected: count_asked(Some(Asked::Rejected)),
        denied: count_asked(Some(Asked::Denied)),
        timed_out: count_asked(Some(Asked::Timedout)),
        never_asked: count_asked(None),
    };
    files.text("README.md", &snapshot_readme(seed, &summary))?;
    summary.snapshot_files = files.files;

    fs::write(out.join("routes.csv"), routes)?;
    fs::write(out.join("municipalities.csv"), MUNICIPALITIES_CSV)?;
    Ok(summary)
}

fn fail(message: &str) -> ! {
    eprintln!("generate-demo: {message}");
    eprintln!("usage: cargo run --example generate-demo [-- --seed N] [--out DIR]");
    std::process::exit(2)
}

fn main() {
    let mut seed = DEFAULT_SEED;
    let mut out = PathBuf::from(DEFAULT_OUT);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seed" => match args.next().map(|s| s.parse::<u64>()) {
                Some(Ok(s)) => seed = s,
                Some(Err(_)) | None => fail("`--seed` needs a whole number"),
            },
            "--out" => match args.next() {
                Some(dir) => out = PathBuf::from(dir),
                None => fail("`--out` needs a directory"),
            },
            other => fail(&format!("unknown argument `{other}`")),
        }
    }
    match generate(seed, &out) {
        Ok(summary) => println!("wrote {}\n{summary}", out.display()),
        Err(e) => {
            eprintln!(
                "generate-demo: cannot write the demo to `{}`: {e}",
                out.display()
            );
            std::process::exit(1);
        }
    }
}
