//! The command line: `reachcheck check`, `precheck`, `validate`, `serve`, `report` and
//! `messages` (docs/design.md, "Command line"). Parses flags once into settings, calls the library, and maps outcomes to exit
//! codes: 0 every route readable; 1 some route `not_readable` or `unknown`; 2 bad
//! invocation or bad input (with one sentence per problem on stderr, and nothing on
//! stdout that could pass for a result).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use jiff::{SignedDuration, Timestamp};

use crate::daemon::DaemonError;
use crate::engine::ExplainOptions;
use crate::evidence::{EvidenceError, SnapshotDir};
use crate::model::{MessageTypeId, OrgNumber, Route, Verdict};
use crate::output::{Format, RenderOptions, Rendering, RouteFilter};
use crate::policy::{Policies, PolicyError};
use crate::problem::{Problem, Problems};
use crate::routing::{RouteEntry, RoutingError, RoutingTable};
use crate::settings::{Overrides, Settings, SettingsError, parse_age, parse_duration, parse_time};
use crate::sweep::{Pass, Source, SourceError};

const ABOUT: &str =
    "Proves that every message sent through Altinn reaches a person who can read it.";

const LONG_ABOUT: &str = "\
Proves that every message sent through Altinn reaches a person who can read it.

For every route in a routing table (sender × message type × recipient), reachcheck joins the
message type's Altinn access policy with the people who actually hold the grants at the
recipient (Altinn connections, Enhetsregisteret key roles, main-unit inheritance) and whether
anyone will be notified. Each route gets a verdict:

  readable       at least one real person can read every resource of the message type
  not_readable   complete evidence shows nobody can (or the recipient is deleted)
  unknown        not proven either way; never `readable` without proof

with findings that say why, the evidence, and who at the recipient can fix it.";

const AFTER_HELP: &str = "\
Examples:
  reachcheck check                          judge the routing table named in reachcheck.toml
  reachcheck check --format json -o out.json
  reachcheck check --details                show each finding's reason and remedy
  reachcheck check --only not_readable,unknown --sender 310000019
                                            print only those routes (the summary and the exit
                                            code still cover every route)
  reachcheck precheck --sender 310000019 --message-type bekymringsmelding --recipient 964338531
  reachcheck validate                       report every problem in config, policies, routes, snapshot
  reachcheck messages --unread              the sent messages nobody has opened: send them another way

Exit codes: 0 every route readable, 1 some route not_readable or unknown, 2 bad invocation or input.
Configuration: reachcheck.toml in the working directory is read when present.

Documentation, in the repository:
  docs/design.md      why reachcheck exists, the vocabulary, the route evaluation rules 1-14
                      that explanations cite as \"rule N\", and the stable contracts (CLI, files,
                      JSON, library)
  docs/reference.md   every command, setting of reachcheck.toml and file format, the daemon,
                      its HTTP API and store, altinn-sim.";

/// The command line.
#[derive(Parser, Debug)]
#[command(name = "reachcheck", version, about = ABOUT, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Judge every route of the routing table against the snapshot, and print the verdicts.
    #[command(
        after_help = "Exit codes: 0 every route readable, 1 some route not_readable or unknown, 2 bad invocation or input.\n\
                      The rules behind each verdict: docs/design.md (\"Route evaluation semantics\"); \
                      the findings, the JSON fields and the settings: docs/reference.md."
    )]
    Check(CheckArgs),
    /// Judge one route: can someone at RECIPIENT read MESSAGE_TYPE sent by SENDER?
    #[command(
        after_help = "Exit codes: 0 readable, 1 not_readable or unknown, 2 bad invocation or input.\n\
                      The rules behind each verdict: docs/design.md (\"Route evaluation semantics\"); \
                      the findings, the JSON fields and the settings: docs/reference.md."
    )]
    Precheck(PrecheckArgs),
    /// Load and cross-check config, policies, routes and snapshot, and report every problem at once.
    #[command(after_help = "Exit codes: 0 no errors (warnings allowed), 2 errors found.")]
    Validate(ValidateArgs),
    /// Run the daemon: sweep on a schedule, keep history in the store, answer pre-send checks over HTTP, alert.
    #[command(long_about = SERVE_ABOUT, after_help = SERVE_AFTER)]
    Serve(ServeArgs),
    /// Write a compliance report from the store, or a remediation letter to one recipient.
    #[command(long_about = REPORT_ABOUT, after_help = REPORT_AFTER)]
    Report(ReportArgs),
    /// List the messages sent through Altinn and what happened to them: above all, those to send again another way.
    #[command(long_about = MESSAGES_ABOUT, after_help = MESSAGES_AFTER)]
    Messages(MessagesArgs),
    /// Ask every recipient to approve reachcheck's system user in Altinn, and track the answers.
    #[command(long_about = ONBOARD_ABOUT, after_help = ONBOARD_AFTER)]
    Onboard(OnboardArgs),
    /// Subscribe the daemon's webhook to Altinn Events about the sender's messages; list or remove the subscriptions.
    #[command(long_about = SUBSCRIBE_ABOUT, after_help = SUBSCRIBE_AFTER)]
    Subscribe(SubscribeArgs),
    /// Manage the store: give a PostgreSQL database this version's schema, or copy a whole history into another store.
    #[command(long_about = STORE_ABOUT, after_help = STORE_AFTER)]
    Store(StoreArgs),
}

const STORE_ABOUT: &str = "\
The store keeps every sweep, each route's verdict history, the findings' lifecycle,
suppressions, the audit trail of pre-send checks, onboarding requests and the sent messages.
It is a SQLite file (the default, reachcheck.db) or a PostgreSQL database, named the same way
by `--store` in every command and by `daemon.store` in the config:

  reachcheck.db  or  sqlite:/var/lib/reachcheck/reachcheck.db
  postgres://reachcheck@db.example.no:5432/reachcheck

A PostgreSQL URL carries no password (one there is refused): put it in the file that
`daemon.store_password_file` names, or in the PGPASSWORD environment variable.

A SQLite store is migrated when a command opens it. A PostgreSQL store is migrated only by
`reachcheck store migrate`: the operations team decides when the schema of a database that
several instances share changes, and an instance of an older version refuses a newer schema.";

const STORE_AFTER: &str = "\
Examples:
  reachcheck store migrate --store postgres://reachcheck@db.example.no/reachcheck
  reachcheck store copy --from sqlite:reachcheck.db --to postgres://reachcheck@db.example.no/reachcheck

Exit codes: 0 done, 2 bad invocation, a store that cannot be reached or used (named, with its
host, never its password), a newer schema, or a destination that already holds a history.";

/// `reachcheck store`.
#[derive(Args, Debug)]
pub struct StoreArgs {
    /// What to do with the store.
    #[command(subcommand)]
    pub command: StoreCommand,
}

/// `reachcheck store` subcommands.
#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Bring the store's schema to this version (a PostgreSQL store is never migrated otherwise).
    Migrate(StoreMigrateArgs),
    /// Copy a store's whole history into a store that holds none, e.g. from SQLite to PostgreSQL.
    #[command(
        long_about = "Copy a store's whole history (every table, ids kept) into a store that holds no sweeps, in one transaction: a failure leaves the destination as it was. The source is only read. A PostgreSQL destination is given this version's schema first. Stop the daemon that writes the source first, or the copy misses what it writes meanwhile."
    )]
    Copy(StoreCopyArgs),
}

/// `reachcheck store migrate`.
#[derive(Args, Debug)]
pub struct StoreMigrateArgs {
    /// Config file [default: reachcheck.toml, when present]; gives `daemon.store` and `daemon.store_password_file`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The store: a SQLite FILE (or `sqlite:FILE`) or `postgres://USER@HOST:PORT/DB` [default: daemon.store, else reachcheck.db].
    #[arg(long, value_name = "STORE", value_parser = StoreParser)]
    pub store: Option<crate::store::StoreAddress>,
}

/// `reachcheck store copy`.
#[derive(Args, Debug)]
pub struct StoreCopyArgs {
    /// Config file [default: reachcheck.toml, when present]; gives `daemon.store_password_file`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The store to copy from (only read).
    #[arg(long, value_name = "STORE", value_parser = StoreParser)]
    pub from: crate::store::StoreAddress,
    /// The store to copy into: one that holds no sweeps yet.
    #[arg(long, value_name = "STORE", value_parser = StoreParser)]
    pub to: crate::store::StoreAddress,
}

const ONBOARD_ABOUT: &str = "\
Ask every organisation the routing table's recipients need to approve reachcheck's system
user in Altinn (a vendor system-user request for `onboarding.access_packages`), and track
the answers in the store. Each recipient that is a main unit is asked, and each sub-unit's
main unit; a sub-unit is read through its main unit's approval.

A request is created once: a second run creates nothing new. Refused requests (Rejected,
Denied) are never asked again; expired ones (Timedout) are. Approved means the
organisation is among the system's users (Altinn's list is read every run).

Registering reachcheck's system in Altinn's system register is a manual step (see
docs/reference.md, \"Onboarding recipients\"); onboard needs `[live]` and `[onboarding]
system_id`, and refuses to ask when the system does not offer the configured access packages.

Each organisation is shown with its state (approved, pending, refused, expired,
never_asked), since when, and its own approval link while pending: send each organisation
its own link, never another's. Requests pending longer than `onboarding.remind_after` are
listed for follow-up.";

const ONBOARD_AFTER: &str = "\
Examples:
  reachcheck onboard                        ask every organisation not yet asked
  reachcheck onboard --status               only read the answers again
  reachcheck onboard --status --format csv -o onboarding.csv

Exit codes: 0 done, 1 done but some organisation's request failed (named on its row),
2 bad invocation or configuration (the setting is named).";

/// `reachcheck onboard`.
#[derive(Args, Debug)]
pub struct OnboardArgs {
    /// Config file [default: reachcheck.toml, when present]; needs `[live]` and `[onboarding]`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Policy directory, to read the routing table [default: policies].
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
    /// Routing table whose recipients are asked [default: `routes` in the config].
    #[arg(long, value_name = "FILE")]
    pub routes: Option<PathBuf>,
    /// The store: a SQLite FILE (or `sqlite:FILE`) or `postgres://USER@HOST:PORT/DB` (no password in it) [default: daemon.store, else reachcheck.db].
    #[arg(long, value_name = "STORE", value_parser = StoreParser)]
    pub store: Option<crate::store::StoreAddress>,
    /// Only read the answers again (and the system's users); create no request.
    #[arg(long)]
    pub status: bool,
    /// Output format: table, json or csv.
    #[arg(long, short = 'f', value_enum, default_value_t = MessagesFormat::Table)]
    pub format: MessagesFormat,
    /// Write to FILE instead of standard output (written whole or not at all).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

const SUBSCRIBE_ABOUT: &str = "\
Subscribe the daemon's webhook (`events.public_url`) to Altinn Events about the messages the
sender sends: one subscription per tracked resource (the first resource of each message type
with track_outcomes) and per event type in `events.types` (Altinn matches one exact type per
subscription). Run it again at will: what exists is left as it is, only what is missing is
created. Uses the sender's own token (scope `events.scope`, default altinn:events.subscribe)
through the `[live]` section.

Altinn then posts a validation event to the webhook (the daemon answers it) and, from then
on, each event. Events carry no authentication: the daemon only takes them as a hint to
fetch the message's details again with its own token.";

const SUBSCRIBE_AFTER: &str = "\
Examples:
  reachcheck subscribe                       create what is missing
  reachcheck subscribe --list                every subscription of this sender
  reachcheck subscribe --remove              remove reachcheck's own (to events.public_url)
  reachcheck subscribe --remove --id 42      remove one

Exit codes: 0 done, 2 bad invocation or config, or Altinn refused (the refusal is named).";

/// `reachcheck subscribe`.
#[derive(Args, Debug)]
pub struct SubscribeArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub sources: SourceArgs,
    /// List this sender's subscriptions instead of creating any.
    #[arg(long, conflicts_with = "remove")]
    pub list: bool,
    /// Remove reachcheck's subscriptions (those to the webhook for tracked resources), or those given with --id.
    #[arg(long)]
    pub remove: bool,
    /// With --remove: only this subscription id; repeat for several.
    #[arg(long, value_name = "ID", requires = "remove")]
    pub id: Vec<i64>,
    /// The webhook's public address [default: events.public_url].
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Output format: table or json.
    #[arg(long, short = 'f', value_enum, default_value_t = SubscribeFormat::Table)]
    pub format: SubscribeFormat,
}

/// Formats of `reachcheck subscribe`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SubscribeFormat {
    /// One line per subscription, then a summary.
    Table,
    /// Everything, for programs.
    Json,
}

const MESSAGES_ABOUT: &str = "\
List the messages the sender sent through Altinn Correspondence and what happened to each:
published, first opened, confirmed, whether the recipient was told — above all the list a
sender must send again another way when something went wrong.

Reads the store that `reachcheck serve` fills (every sweep polls Altinn Correspondence with
the sender's own token, or reads a snapshot's correspondence/ directory). --refresh polls
once first, into the store.

Each message has a state: read (within the type's read_deadline_hours), read_late, unread,
unread_past_deadline, pending (not published yet), failed (publishing failed) or unknown
(its details could not be used: never counted as read). \"Read\" means opened by anyone or
any system: an integration fetching a message marks it read.

Only messages on a route of the routing table are listed (--unrouted adds the others,
without their recipient). No content and no personal data is ever stored or shown: a
person recipient is never kept and identity numbers in references are masked.";

const MESSAGES_AFTER: &str = "\
Examples:
  reachcheck messages --unread                        what to send again another way, now
  reachcheck messages --unread --recipient 964338531 --message-type bekymringsmelding
  reachcheck messages --refresh --from 2026-11-01 --format csv -o november.csv
  reachcheck messages --sender 310000019 --format json

Exit codes: 0 listed (whatever the messages' states), 2 bad invocation, no store, or a refresh that could not run.";

/// `reachcheck messages`.
#[derive(Args, Debug)]
pub struct MessagesArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub sources: SourceArgs,
    /// Routing table, to place messages on routes with --refresh [default: `routes` in the config].
    #[arg(long, value_name = "FILE")]
    pub routes: Option<PathBuf>,
    /// The store: a SQLite FILE (or `sqlite:FILE`) or `postgres://USER@HOST:PORT/DB` (no password in it) [default: daemon.store, else reachcheck.db].
    #[arg(long, value_name = "STORE", value_parser = StoreParser)]
    pub store: Option<crate::store::StoreAddress>,
    /// Poll Altinn Correspondence (or the snapshot's correspondence/) into the store first.
    #[arg(long)]
    pub refresh: bool,
    /// Only messages published and not opened (those whose details could not be read included).
    #[arg(long)]
    pub unread: bool,
    /// Only messages to this recipient; repeat for several.
    #[arg(long, value_name = "ORG", value_parser = parse_org)]
    pub recipient: Vec<OrgNumber>,
    /// Only messages from this sender; repeat for several.
    #[arg(long, value_name = "ORG", value_parser = parse_org)]
    pub sender: Vec<OrgNumber>,
    /// Only messages of this type; repeat for several.
    #[arg(long, value_name = "ID", value_parser = parse_type)]
    pub message_type: Vec<MessageTypeId>,
    /// Published at or after: a date (YYYY-MM-DD) or RFC 3339 time.
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Published before: a date (included) or RFC 3339 time (excluded).
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Also messages on no route of the routing table (to people, or routes not in the table).
    #[arg(long)]
    pub unrouted: bool,
    /// Output format: table, json or csv.
    #[arg(long, short = 'f', value_enum, default_value_t = MessagesFormat::Table)]
    pub format: MessagesFormat,
    /// Write to FILE instead of standard output (written whole or not at all).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Formats of `reachcheck messages`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MessagesFormat {
    /// One line per message, then what to do.
    Table,
    /// Everything, for programs.
    Json,
    /// One row per message.
    Csv,
}

const REPORT_ABOUT: &str = "\
Write a compliance report from the store: coverage (routes by verdict, share proven
readable) overall, per sender, per message type and per recipient (a traffic light), open
critical findings with their age, time to fix, a weekly trend, suppressions with their
justification, the accounting method, the sweeps covered and a SHA-256 of the data.

Or, with --recipient and --format letter, a remediation letter to one recipient: which
message types nobody there can read and from whom, what to delegate (by Altinn name), who
can delegate it, the steps in Altinn and whom to contact.

The state reported is the last successful sweep that ended in the period. Reports contain
organisation numbers, codes and counts, never personal data.";

const REPORT_AFTER: &str = "\
Examples:
  reachcheck report --period 2026-11 -o november.html
  reachcheck report --from 2026-11-01 --to 2026-11-30 --sender 310000019 --format json
  reachcheck report --recipient 964338531 --format letter -o letter.md
  reachcheck report --recipient 964338531 --format letter-html --lang en -o letter.html

Exit codes: 0 written, 2 bad invocation, no store, no sweep in the period, unknown sender or recipient.";

/// `reachcheck report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Config file [default: reachcheck.toml, when present]; gives the policies and `daemon.store`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Policy directory (message-type titles; what letters tell recipients to delegate) [default: policies].
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
    /// The store: a SQLite FILE (or `sqlite:FILE`) or `postgres://USER@HOST:PORT/DB` (no password in it) [default: daemon.store, else reachcheck.db].
    #[arg(long, value_name = "STORE", value_parser = StoreParser)]
    pub store: Option<crate::store::StoreAddress>,
    /// A calendar month, YYYY-MM (UTC).
    #[arg(long, value_name = "YYYY-MM", conflicts_with_all = ["from", "to"])]
    pub period: Option<String>,
    /// Start: a date (YYYY-MM-DD) or RFC 3339 time [default: the first sweep].
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// End: a date (included) or RFC 3339 time (excluded) [default: now].
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Only this sender's routes; repeat for several [default: all].
    #[arg(long, value_name = "ORG", value_parser = parse_org)]
    pub sender: Vec<OrgNumber>,
    /// The recipient of a remediation letter (with --format letter or letter-html).
    #[arg(long, value_name = "ORG", value_parser = parse_org)]
    pub recipient: Option<OrgNumber>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = crate::report::ReportFormat::Html)]
    pub format: crate::report::ReportFormat,
    /// Language: nb (bokmål) or en.
    #[arg(long, value_enum, default_value_t = crate::report::Lang::Nb)]
    pub lang: crate::report::Lang,
    /// Write to FILE instead of standard output (written whole or not at all).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Whom recipients should contact, for letters [default: the senders and Altinn user support].
    #[arg(long, value_name = "TEXT")]
    pub contact: Option<String>,
}

const SERVE_ABOUT: &str = "\
Run the daemon: sweep the routing table on a schedule, keep the verdict history and each
finding's lifecycle in the store (SQLite), answer pre-send checks over HTTP from memory, and
send webhook alerts when findings appear, resolve or come back.

Every sweep, and every `outcomes.interval` between sweeps, also polls what happened to the
messages the sender sent (Altinn Correspondence with the sender's own token when `[outcomes]`
is set beside `[live]`; a snapshot's recorded correspondence otherwise) and alerts, grouped
per recipient, the messages unread past their type's read_deadline_hours or whose
notification failed, with the type's fallback (see `reachcheck messages`).

At start the answers of the store's latest sweep are served at once. A sweep starts at once
(or, when the store's latest is younger than the interval, one interval after it), then one
every interval; missed ticks are skipped. SIGHUP reloads the config,
policies, routes and tokens (a broken new state is refused and the old one kept); SIGINT or
SIGTERM stop it, waiting at most `daemon.grace` for running work.

The API needs bearer tokens: REACHCHECK_API_TOKENS=name:token[,name:token...] (16 characters
or more each) or `daemon.api_tokens_file` in the config file (not with --once, which serves
nothing).";

const SERVE_AFTER: &str = "\
Examples:
  REACHCHECK_API_TOKENS=ops:$(openssl rand -hex 16) reachcheck serve
  reachcheck serve --store /var/lib/reachcheck/reachcheck.db --listen 0.0.0.0:8443 --interval 6h
                                            (with daemon.tls_cert and daemon.tls_key set)
  reachcheck serve --once                   one sweep into the store, then exit

HTTP: GET /healthz, /readyz, /.well-known/authzen-configuration; with a token: GET /metrics,
POST /access/v1/evaluation(s) and /access/v1/search/{resource,action,subject} (AuthZEN),
GET /v1/findings, GET|POST /v1/suppressions, GET /v1/sweeps (docs/reference.md, \"HTTP API\").
Settings (`[daemon]`, `[alerts]`, `[outcomes]`, `[events]`): docs/reference.md, \"Configuration\".
TLS: `daemon.tls_cert` and `daemon.tls_key` (PEM), reloaded on SIGHUP. Without them only a
loopback `--listen` is served, unless `daemon.allow_plain_http = true` (behind a proxy that
terminates TLS).
Slow or idle clients are shed: `daemon.header_read_timeout` (default 10s, the TLS handshake and
each request's head), `daemon.idle_timeout` (60s without a byte either way); at `daemon.max_connections`
(1024) a new connection sheds the one that has owed its request the longest.
The first line on standard output is `listening on http://ADDR` (or `https://ADDR`).
Exit codes: 0 stopped cleanly (or --once recorded its sweep), 2 bad configuration, store or address, or the --once sweep failed.";

/// `reachcheck serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub sources: SourceArgs,
    /// Routing table: CSV with header sender,message_type,recipient.
    #[arg(long, value_name = "FILE")]
    pub routes: Option<PathBuf>,
    /// The store: a SQLite FILE (or `sqlite:FILE`) or `postgres://USER@HOST:PORT/DB` (no password in it) [default: daemon.store, else reachcheck.db].
    #[arg(long, value_name = "STORE", value_parser = StoreParser)]
    pub store: Option<crate::store::StoreAddress>,
    /// Where the HTTP API listens [default: daemon.listen, else 127.0.0.1:8080]; port 0 picks a free one.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Time between sweeps, e.g. 1h, 30m [default: daemon.interval, else 1h].
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    pub interval: Option<std::time::Duration>,
    /// One sweep into the store, then exit (no HTTP server, so no API tokens needed).
    #[arg(long)]
    pub once: bool,
}

fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    parse_duration(s)
        .and_then(|d| std::time::Duration::try_from(d).map_err(|_| format!("`{s}` is negative")))
}

/// Where the inputs are.
#[derive(Args, Debug, Clone)]
pub struct SourceArgs {
    /// Config file [default: reachcheck.toml, when present]. Flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Policy directory: message-types.toml, altinn-grants.toml, one RESOURCE-ID.xml per resource [default: policies].
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
    /// Snapshot directory of recorded API responses (manifest.json, enhetsregisteret/, accessmanagement/, profile/).
    #[arg(long, value_name = "DIR")]
    pub snapshot: Option<PathBuf>,
    /// Judge as of this time instead of now, e.g. 2026-11-21T06:00:00Z.
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub now: Option<Timestamp>,
    /// Evidence older than this proves nothing, e.g. 24h, 90m, 2days [default: 24h].
    #[arg(long, value_name = "DURATION", value_parser = parse_age)]
    pub max_data_age: Option<SignedDuration>,
}

/// How to print.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write to FILE instead of standard output (written whole or not at all).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Colour the table: auto means only on a terminal (and not when NO_COLOR is set).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Under each route in the table, print each finding's reason and what to do.
    #[arg(long)]
    pub details: bool,
    /// Show people's full names instead of initials (identity numbers are never shown).
    #[arg(long)]
    pub show_names: bool,
}

/// When to colour output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Only on a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// `reachcheck check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub sources: SourceArgs,
    /// Routing table: CSV with header sender,message_type,recipient.
    #[arg(long, value_name = "FILE")]
    pub routes: Option<PathBuf>,
    /// Record every answer of the live sweep as a snapshot directory in DIR (new or empty):
    /// refusals as `.status.json`, pages merged, personal identifiers left out. Checking with
    /// `--snapshot DIR` later gives the same verdicts.
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
    /// Print only routes with these verdicts (comma list of readable, not_readable, unknown).
    /// Every route is still judged: the summary, the exit code and JSON's counts cover them
    /// all, and JSON names the filter under "filter".
    #[arg(long, value_name = "VERDICTS", value_delimiter = ',', value_parser = parse_verdict, help_heading = "Which routes to print")]
    pub only: Vec<Verdict>,
    /// Print only routes from these senders (comma list or repeated).
    #[arg(long, value_name = "ORG", value_delimiter = ',', value_parser = parse_org, help_heading = "Which routes to print")]
    pub sender: Vec<OrgNumber>,
    /// Print only routes of these message types (comma list or repeated).
    #[arg(long, value_name = "ID", value_delimiter = ',', value_parser = parse_type, help_heading = "Which routes to print")]
    pub message_type: Vec<MessageTypeId>,
    /// In the table, print the summary (counts, findings, evidence, a legend) before the routes.
    #[arg(long)]
    pub summary_first: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub output: OutputArgs,
}

/// `reachcheck precheck`.
#[derive(Args, Debug)]
pub struct PrecheckArgs {
    /// The sending organisation's number.
    #[arg(long, value_name = "ORG", value_parser = parse_org)]
    pub sender: OrgNumber,
    /// The message type id, as in policies/message-types.toml.
    #[arg(long, value_name = "ID", value_parser = parse_type)]
    pub message_type: MessageTypeId,
    /// The receiving organisation's number (main unit or sub-unit).
    #[arg(long, value_name = "ORG", value_parser = parse_org)]
    pub recipient: OrgNumber,
    /// The store whose sent messages give the route's history: a SQLite FILE or `postgres://…` [default: daemon.store, when it exists].
    #[arg(long, value_name = "STORE", value_parser = StoreParser)]
    pub store: Option<crate::store::StoreAddress>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub sources: SourceArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub output: OutputArgs,
}

/// `reachcheck validate`.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub sources: SourceArgs,
    /// Routing table: CSV with header sender,message_type,recipient.
    #[arg(long, value_name = "FILE")]
    pub routes: Option<PathBuf>,
}

/// Reads `--store`, `--from` and `--to`. Unlike clap's own parsers, its error never repeats
/// the value: a PostgreSQL URL given with a password must not be printed back.
#[derive(Clone, Copy, Debug)]
struct StoreParser;

impl clap::builder::TypedValueParser for StoreParser {
    type Value = crate::store::StoreAddress;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        let flag = arg.map_or_else(|| "--store".to_owned(), |a| format!("--{}", a.get_id()));
        let refuse = |m: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("`{flag}`: {m}\n"),
            )
            .with_cmd(cmd)
        };
        let text = value
            .to_str()
            .ok_or_else(|| refuse("the store's name is not valid UTF-8".to_owned()))?;
        crate::store::StoreAddress::parse(text).map_err(refuse)
    }
}

fn parse_org(s: &str) -> Result<OrgNumber, String> {
    OrgNumber::parse(s).map_err(|e| e.to_string())
}

fn parse_type(s: &str) -> Result<MessageTypeId, String> {
    MessageTypeId::parse(s).map_err(|e| e.to_string())
}

fn parse_verdict(s: &str) -> Result<Verdict, String> {
    match s.trim() {
        "readable" => Ok(Verdict::Readable),
        "not_readable" => Ok(Verdict::NotReadable),
        "unknown" => Ok(Verdict::Unknown),
        other => Err(format!(
            "`{}` is not a verdict: use `readable`, `not_readable` or `unknown`",
            crate::problem::excerpt(other)
        )),
    }
}

/// Why a command could not run; every variant means exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A required input is not named anywhere, or a flag does not fit.
    #[error("{0}")]
    Missing(String),
    /// The config file.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The policies.
    #[error(transparent)]
    Policies(#[from] PolicyError),
    /// The routing table.
    #[error(transparent)]
    Routing(#[from] RoutingError),
    /// The evidence source as a whole (the snapshot directory, the live sources' key or
    /// token).
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Problems found by `validate`.
    #[error("{0}")]
    Invalid(Problems),
    /// The daemon could not start.
    #[error(transparent)]
    Daemon(#[from] DaemonError),
    /// The store cannot be opened or used.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Writing the output.
    #[error("cannot write `{path}`: {source}")]
    Output {
        /// Where.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl CliError {
    /// The errors as lines for stderr (warnings that came with them included).
    pub fn lines(&self) -> Vec<String> {
        let problems = match self {
            CliError::Policies(e) => Some(&e.problems),
            CliError::Routing(e) => Some(&e.problems),
            CliError::Invalid(p) => Some(p),
            CliError::Source(SourceError::Evidence(EvidenceError::Problems(p))) => Some(p),
            CliError::Daemon(e) => return e.lines(),
            _ => None,
        };
        match problems {
            Some(p) => p.0.iter().map(Problem::report_line).collect(),
            None => vec![format!("error: {self}")],
        }
    }
}

/// Runs a parsed command line; prints results to stdout (or `--output`) and problems to
/// stderr.
pub fn run(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        Command::Check(a) => check(a),
        Command::Precheck(a) => precheck(a),
        Command::Validate(a) => validate(a),
        Command::Serve(a) => serve(a),
        Command::Report(a) => report(a),
        Command::Messages(a) => messages(a),
        Command::Onboard(a) => onboard(a),
        Command::Subscribe(a) => subscribe(a),
        Command::Store(a) => store(a),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            let mut err = std::io::stderr().lock();
            for line in e.lines() {
                let _ = writeln!(err, "{line}");
            }
            ExitCode::from(2)
        }
    }
}

fn store(a: StoreArgs) -> Result<ExitCode, CliError> {
    use crate::store::Store;
    let config = match &a.command {
        StoreCommand::Migrate(m) => m.config.clone(),
        StoreCommand::Copy(c) => c.config.clone(),
    };
    let s = Settings::load(&Overrides {
        config,
        ..Overrides::default()
    })?;
    let mut out = std::io::stdout().lock();
    match a.command {
        StoreCommand::Migrate(m) => {
            let address = s.daemon.store_address(m.store.as_ref())?;
            let migrated = Store::migrate_at(&address)?;
            let _ = if migrated.from == migrated.to {
                writeln!(
                    out,
                    "store `{address}`: schema version {} already, nothing to do",
                    migrated.to
                )
            } else {
                writeln!(
                    out,
                    "store `{address}`: schema migrated from version {} to {}",
                    migrated.from, migrated.to
                )
            };
        }
        StoreCommand::Copy(c) => {
            let from = s.daemon.store_address(Some(&c.from))?;
            let to = s.daemon.store_address(Some(&c.to))?;
            if from == to {
                return Err(CliError::Missing(format!(
                    "`--from` and `--to` are the same store `{from}`: copy into another one"
                )));
            }
            if !from.may_exist() {
                return Err(CliError::Missing(format!(
                    "store `{from}` does not exist: nothing to copy"
                )));
            }
            let source = Store::open_existing_at(&from)?;
            Store::migrate_at(&to)?;
            let mut destination = Store::open_at(&to)?;
            let copied = source.copy_into(&mut destination)?;
            let _ = writeln!(out, "copied `{from}` into `{to}`:");
            for (table, rows) in &copied.tables {
                let _ = writeln!(out, "  {table:<24} {rows:>10} rows");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn settings(sources: &SourceArgs, routes: Option<PathBuf>) -> Result<Settings, CliError> {
    Ok(Settings::load(&Overrides {
        config: sources.config.clone(),
        policies: sources.policies.clone(),
        routes,
        snapshot: sources.snapshot.clone(),
        now: sources.now,
        max_data_age: sources.max_data_age,
    })?)
}

fn load_policies(s: &Settings) -> Result<Policies, CliError> {
    let p = Policies::load_with_grants(&s.policies, &s.grants_file())?;
    warn_all(p.warnings());
    Ok(p)
}

fn warn_all(problems: &[Problem]) {
    let mut err = std::io::stderr().lock();
    for p in problems {
        let _ = writeln!(err, "{}", p.report_line());
    }
}

/// How often a live sweep logs its progress when stderr is not a terminal.
const PROGRESS_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs one pass of the sweep over `routes` on a runtime of its own: a live source shows
/// a progress bar on stderr on a terminal, and logs its progress there otherwise.
fn sweep(
    s: &Settings,
    policies: Policies,
    routes: &RoutingTable,
    record: Option<&Path>,
) -> Result<Pass, CliError> {
    let mut source = Source::from_settings(s)?;
    if let Some(dir) = record {
        source = source.recording_into(dir)?;
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(routes.len() as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} sweeping {pos}/{len} units, {msg} failed, ETA {eta}",
    ) {
        bar.set_style(style);
    }
    bar.set_message("0");
    // Off a terminal the bar is not drawn: a log line every so often shows the sweep lives.
    let log_every = (!std::io::stderr().is_terminal()).then_some(PROGRESS_LOG_EVERY);
    let last_log = std::sync::Mutex::new(std::time::Instant::now());
    let progress = {
        let bar = bar.clone();
        Arc::new(move |done: usize, total: usize, failed: usize| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            bar.set_message(failed.to_string());
            if let Some(every) = log_every
                && let Ok(mut last) = last_log.lock()
                && (last.elapsed() >= every || done == total)
            {
                *last = std::time::Instant::now();
                let _ = writeln!(
                    std::io::stderr(),
                    "sweeping: {done}/{total} units, {failed} failed"
                );
            }
        })
    };
    let source = source.with_progress(progress);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Missing(format!("cannot start the async runtime: {e}")))?;
    let now = s.now.unwrap_or_else(Timestamp::now);
    let pass = runtime.block_on(crate::sweep::sweep(
        &source,
        policies,
        routes,
        now,
        s.max_data_age,
    ));
    bar.finish_and_clear();
    Ok(pass?)
}

fn check(a: CheckArgs) -> Result<ExitCode, CliError> {
    if let Some(path) = &a.output.output {
        output_folder(path)?;
    }
    let s = settings(&a.sources, a.routes)?;
    let policies = load_policies(&s)?;
    let routes_file = s.routes.clone().ok_or_else(|| {
        CliError::Missing(
            "no routing table: pass `--routes FILE` or set `routes` in the config file".to_owned(),
        )
    })?;
    let filter = RouteFilter {
        only: a.only,
        sender: a.sender,
        message_type: a.message_type,
    };
    if let Some(t) = filter
        .message_type
        .iter()
        .find(|t| policies.message_type(t).is_none())
    {
        return Err(unknown_type(&s, &policies, t));
    }
    let routes = RoutingTable::load(&routes_file, &policies)?;
    warn_all(&routes.warnings);
    let pass = sweep(&s, policies, &routes, a.record.as_deref())?;
    // The evaluation holds every route: the table is not needed past the sweep.
    drop(routes);
    let options = RenderOptions {
        summary_first: a.summary_first,
        ..render_options(&a.output)
    };
    let mut r = Rendering::new(&pass.engine, &pass.evaluation, options).with_filter(&filter);
    write_output(&a.output, |out| r.render(a.output.format, out))?;
    Ok(exit_for(pass.evaluation.all_readable()))
}

/// `--message-type` names a type the policies do not define.
fn unknown_type(s: &Settings, policies: &Policies, t: &MessageTypeId) -> CliError {
    let known: Vec<String> = policies
        .message_types()
        .iter()
        .map(|m| format!("`{}`", m.id))
        .collect();
    CliError::Missing(format!(
        "`--message-type`: unknown message type `{t}`: `{}` defines {}",
        s.policies.join(crate::policy::MESSAGE_TYPES_FILE).display(),
        known.join(", ")
    ))
}

fn precheck(a: PrecheckArgs) -> Result<ExitCode, CliError> {
    if let Some(path) = &a.output.output {
        output_folder(path)?;
    }
    let s = settings(&a.sources, None)?;
    let policies = load_policies(&s)?;
    if policies.message_type(&a.message_type).is_none() {
        return Err(unknown_type(&s, &policies, &a.message_type));
    }
    // The one route, as a routing table of one row (line 0: it came from no file).
    let routes = RoutingTable {
        entries: vec![RouteEntry {
            route: Route::new(a.sender, a.message_type, a.recipient),
            line: 0,
        }],
        ..RoutingTable::default()
    };
    let pass = sweep(&s, policies, &routes, None)?;
    // The route's history, from the store's sent messages, when there is a store.
    let store = match &a.store {
        Some(flag) => Some(s.daemon.store_address(Some(flag))?),
        None => Some(s.daemon.store_address(None)?).filter(|a| a.may_exist()),
    };
    let histories = match store {
        Some(address) => {
            let store = crate::store::Store::open_at(&address)?;
            let records = store.messages(&crate::store::MessageFilter {
                senders: vec![a.sender],
                recipients: vec![a.recipient],
                ..Default::default()
            })?;
            Some(crate::outcome::histories(
                &records,
                pass.engine.policies(),
                pass.evaluation.now,
            ))
        }
        None => None,
    };
    // One route: say why it is not readable, even without `--details`.
    let options = RenderOptions {
        reasons: true,
        ..render_options(&a.output)
    };
    let mut r = Rendering::new(&pass.engine, &pass.evaluation, options);
    if let Some(h) = &histories {
        r = r.with_histories(h);
    }
    write_output(&a.output, |out| r.render(a.output.format, out))?;
    Ok(exit_for(pass.evaluation.all_readable()))
}

fn messages(a: MessagesArgs) -> Result<ExitCode, CliError> {
    use crate::output::messages::MessageList;
    use crate::store::{MessageFilter, Store};
    let s = settings(&a.sources, a.routes.clone())?;
    let period = crate::report::Period::between(a.from.as_deref(), a.to.as_deref())
        .map_err(CliError::Missing)?;
    let address = s.daemon.store_address(a.store.as_ref())?;
    let policies = if a.refresh {
        Some(load_policies(&s)?)
    } else {
        match Policies::load_with_grants(&s.policies, &s.grants_file()) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(error = %e, "policies not loaded: no deadlines");
                None
            }
        }
    };
    if a.refresh {
        let policies = policies
            .as_ref()
            .ok_or_else(|| CliError::Missing("the policies are needed to refresh".to_owned()))?;
        refresh_messages(&s, policies, &address)?;
    } else if !address.may_exist() {
        return Err(CliError::Missing(format!(
            "store `{address}` does not exist: pass `--store FILE`, add `--refresh`, or run `reachcheck serve` to make one"
        )));
    }
    let store = Store::open_at(&address)?;
    let records = store.messages(&MessageFilter {
        unread: a.unread,
        recipients: a.recipient.clone(),
        senders: a.sender.clone(),
        message_types: a.message_type.clone(),
        from: Some(period.from).filter(|f| *f != Timestamp::MIN),
        to: Some(period.to).filter(|t| *t != Timestamp::MAX),
        unrouted: a.unrouted,
    })?;
    let now = s.now.unwrap_or_else(Timestamp::now);
    let list = MessageList::build(&records, policies.as_ref(), now, store.last_poll()?);
    let out = OutputArgs {
        format: Format::Table,
        output: a.output.clone(),
        color: ColorChoice::Never,
        details: false,
        show_names: false,
    };
    write_output(&out, |w| match a.format {
        MessagesFormat::Table => list.table(w),
        MessagesFormat::Json => list.json(w),
        MessagesFormat::Csv => list.csv(w),
    })?;
    Ok(ExitCode::SUCCESS)
}

fn onboard(a: OnboardArgs) -> Result<ExitCode, CliError> {
    let s = Settings::load(&Overrides {
        config: a.config.clone(),
        policies: a.policies.clone(),
        routes: a.routes.clone(),
        ..Overrides::default()
    })?;
    let onboarding = s.onboarding.clone().ok_or_else(|| {
        CliError::Missing(
            "`[onboarding]` is not in the config file: set `onboarding.system_id` to reachcheck's system in Altinn's system register".to_owned(),
        )
    })?;
    if onboarding.system_id.is_none() {
        return Err(CliError::Missing(
            crate::onboarding::OnboardError::NoSystemId {
                file: format!("`{}`", onboarding.file.display()),
            }
            .to_string(),
        ));
    }
    let policies = load_policies(&s)?;
    let routes_file = s.routes.clone().ok_or_else(|| {
        CliError::Missing(
            "no routing table: pass `--routes FILE` or set `routes` in the config file".to_owned(),
        )
    })?;
    let routes = RoutingTable::load(&routes_file, &policies)?;
    warn_all(&routes.warnings);
    let client = crate::onboarding::client_for(&s, &onboarding).map_err(CliError::Missing)?;
    let address = s.daemon.store_address(a.store.as_ref())?;
    let mut store = crate::store::Store::open_at(&address)?;
    let known = store.onboarding()?;
    let mut recipients: Vec<OrgNumber> = routes.routes().map(|r| r.recipient).collect();
    recipients.sort_unstable();
    recipients.dedup();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Missing(format!("cannot start the async runtime: {e}")))?;
    let now = Timestamp::now();
    let run = runtime
        .block_on(crate::onboarding::run(
            &client,
            &onboarding,
            &recipients,
            &known,
            now,
            !a.status,
        ))
        .map_err(|e| CliError::Missing(e.to_string()))?;
    store.record_onboarding(&run)?;
    {
        let mut err = std::io::stderr().lock();
        for r in run.organisations.iter().filter(|r| r.error.is_some()) {
            let _ = writeln!(err, "error: {}", r.error.as_deref().unwrap_or_default());
        }
    }
    let out = OutputArgs {
        format: Format::Table,
        output: a.output.clone(),
        color: ColorChoice::Never,
        details: false,
        show_names: false,
    };
    write_output(&out, |w| match a.format {
        MessagesFormat::Table => run.table(w),
        MessagesFormat::Json => run.json(w),
        MessagesFormat::Csv => run.csv(w),
    })?;
    Ok(if run.failed() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `messages --refresh`: one poll of sent messages into the store at `address`.
fn refresh_messages(
    s: &Settings,
    policies: &Policies,
    address: &crate::store::StoreAddress,
) -> Result<(), CliError> {
    let routes_file = s.routes.clone().ok_or_else(|| {
        CliError::Missing(
            "`--refresh` places messages on routes: pass `--routes FILE` or set `routes` in the config file".to_owned(),
        )
    })?;
    let routes = RoutingTable::load(&routes_file, policies)?;
    warn_all(&routes.warnings);
    let source = Source::from_settings(s)?;
    let outcomes = crate::outcome::source_for(s, &source)
        .map_err(|e| CliError::Missing(e.to_string()))?
        .filter(crate::outcome::OutcomeSource::is_available)
        .ok_or_else(|| {
            CliError::Missing(
                "nothing to refresh from: set `[outcomes]` beside `[live]` to poll Altinn Correspondence, or use a snapshot with a `correspondence/` directory".to_owned(),
            )
        })?;
    let map = crate::outcome::RouteMap::new(policies, &routes);
    let clock = crate::outcome::clock_for(s).map_err(|e| CliError::Missing(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Missing(format!("cannot start the async runtime: {e}")))?;
    let mut store = crate::store::Store::open_at(address)?;
    let known = store.known_messages()?;
    let poll_for = s.outcomes.poll_for;
    let (now, gathered) = runtime.block_on(async {
        let now = clock
            .now()
            .await
            .map_err(|e| CliError::Missing(e.to_string()))?;
        let g = outcomes
            .gather(&map.resources(), &known, now, poll_for)
            .await;
        Ok::<_, CliError>((now, g))
    })?;
    let (items, poll) = crate::outcome::place(
        gathered,
        &map,
        outcomes.on_behalf_of(),
        now,
        poll_for,
        outcomes.label(),
    );
    let ingested = store.ingest(&items, now, poll_for)?;
    store.record_poll(&poll)?;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "refreshed: {} listed, {} read, {} written ({} new), {} unusable, {} off the routing table",
        poll.listed, poll.fetched, ingested.stored, ingested.new, poll.unusable, poll.unrouted
    );
    for (resource, why) in &poll.incomplete {
        let _ = writeln!(err, "warning: outcomes_incomplete: `{resource}`: {why}");
    }
    Ok(())
}

fn subscribe(a: SubscribeArgs) -> Result<ExitCode, CliError> {
    use crate::events::command::{Action, run, table, tracked_resources};
    let s = settings(&a.sources, None)?;
    let live = s.live.as_ref().ok_or_else(|| {
        CliError::Missing(
            "`subscribe` uses the sender's own token: it needs the `[live]` section in the config file".to_owned(),
        )
    })?;
    let endpoint = match &a.endpoint {
        Some(e) => Some(
            crate::http::check_url(e, live.http.allow_http)
                .map_err(|e| CliError::Missing(format!("`--endpoint`: {e}")))?,
        ),
        None => s.events.public_url.clone(),
    };
    let policies = load_policies(&s)?;
    let wanted = crate::events::Planned::all(&tracked_resources(&policies), &s.events.types);
    let action = if a.list {
        Action::List
    } else if a.remove {
        Action::Remove(a.id.clone())
    } else {
        Action::Create
    };
    let source = Source::from_settings(&s)?;
    let Source::Live(l) = &source else {
        return Err(CliError::Missing(
            "`subscribe` needs the `[live]` section, not a snapshot".to_owned(),
        ));
    };
    let client = crate::events::Subscriptions::new(
        l.http().clone(),
        std::sync::Arc::clone(l.auth()),
        l.endpoints().altinn.clone(),
        &s.events,
        &s.outcomes,
    )
    .map_err(|e| CliError::Missing(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Missing(format!("cannot start the async runtime: {e}")))?;
    let rows = runtime
        .block_on(run(&client, &action, endpoint.as_ref(), &wanted))
        .map_err(|e| CliError::Missing(e.to_string()))?;
    let text = match a.format {
        SubscribeFormat::Table => table(&rows),
        SubscribeFormat::Json => {
            let mut t = serde_json::to_string_pretty(&serde_json::json!({ "subscriptions": rows }))
                .unwrap_or_default();
            t.push('\n');
            t
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .map_err(|e| CliError::Output {
            path: "standard output".to_owned(),
            source: e,
        })?;
    Ok(ExitCode::SUCCESS)
}

fn validate(a: ValidateArgs) -> Result<ExitCode, CliError> {
    let s = settings(&a.sources, a.routes)?;
    let mut problems: Vec<Problem> = Vec::new();
    let policies = match Policies::load_with_grants(&s.policies, &s.grants_file()) {
        Ok(p) => {
            problems.extend(p.warnings().iter().cloned());
            problems.extend(outcome_problems(&s, &p));
            Some(p)
        }
        Err(e) => {
            problems.extend(e.problems.0);
            None
        }
    };
    let mut routes = None;
    match (&s.routes, &policies) {
        (None, _) => problems.push(Problem::error(
            Path::new(
                s.config_file
                    .as_deref()
                    .unwrap_or(Path::new("(command line)")),
            ),
            None,
            "no routing table: pass `--routes FILE` or set `routes` in the config file",
        )),
        (Some(file), Some(p)) => match RoutingTable::load(file, p) {
            Ok(t) => {
                problems.extend(t.warnings.iter().cloned());
                routes = Some(t);
            }
            Err(e) => problems.extend(e.problems.0),
        },
        (Some(file), None) => problems.push(Problem::warning(
            file,
            None,
            "not checked: the policies must load first (message types are checked against them)",
        )),
    }
    let mut units = 0;
    let config_path = Path::new(
        s.config_file
            .as_deref()
            .unwrap_or(Path::new("(command line)")),
    )
    .to_path_buf();
    match (&s.snapshot, &s.live) {
        (None, Some(live)) => {
            // Live sources: check what can be checked without calling anyone (the key).
            if let Err(e) = crate::auth::SigningKey::from_pem_file(&live.auth.key_file) {
                problems.push(Problem::error(&config_path, None, e.to_string()));
            }
        }
        (None, None) => problems.push(Problem::error(
            Path::new(
                s.config_file
                    .as_deref()
                    .unwrap_or(Path::new("(command line)")),
            ),
            None,
            "no snapshot: pass `--snapshot DIR` or set `snapshot` in the config file",
        )),
        (Some(dir), _) => match SnapshotDir::new(dir).load_all(
            &policies
                .as_ref()
                .map(Policies::resource_ids)
                .unwrap_or_default(),
        ) {
            Ok((snapshot, found)) => {
                problems.extend(found);
                units = snapshot.units.len();
                let now = s.now.unwrap_or_else(Timestamp::now);
                let age = now.duration_since(snapshot.taken_at);
                if age > s.max_data_age {
                    problems.push(Problem::warning(
                        &dir.join(crate::evidence::MANIFEST),
                        None,
                        format!(
                            "the snapshot was taken at {}, more than `max_data_age` ({}) before {now}: every route will be `unknown` with `stale_data`",
                            snapshot.taken_at,
                            humantime::format_duration(std::time::Duration::from_secs(s.max_data_age.as_secs().unsigned_abs()))
                        ),
                    ));
                }
                if let Some(t) = &routes {
                    let mut missing: Vec<(u32, OrgNumber)> = Vec::new();
                    let mut named = rustc_hash::FxHashSet::default();
                    for e in &t.entries {
                        let has_record = snapshot
                            .unit(e.route.recipient)
                            .is_some_and(|u| !matches!(u.unit, crate::evidence::Observed::Missing));
                        if !has_record && named.insert(e.route.recipient) {
                            missing.push((e.line, e.route.recipient));
                        }
                    }
                    for (line, org) in missing {
                        problems.push(Problem::warning(
                            &t.file,
                            Some(line),
                            format!("recipient `{org}` has no Enhetsregisteret record in the snapshot: its routes will be `unknown`"),
                        ));
                    }
                }
            }
            Err(EvidenceError::Manifest(p)) => problems.push(p),
            Err(e) => problems.push(Problem::error(dir, None, strip_path(&e.to_string(), dir))),
        },
    }
    if let Some(dir) = &s.snapshot {
        problems.extend(crate::outcome::check_recorded(dir));
    }
    let errors = problems.iter().filter(|p| p.is_error()).count();
    let warnings = problems.len() - errors;
    warn_all(&problems);
    if errors > 0 {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "validate: {errors} error(s), {warnings} warning(s)");
        return Ok(ExitCode::from(2));
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "valid: {} message type(s), {} route(s), {units} unit(s) in the snapshot; {warnings} warning(s)",
        policies.map_or(0, |p| p.message_types().len()),
        routes.map_or(0, |r| r.len()),
    );
    Ok(ExitCode::SUCCESS)
}

/// What `validate` says about tracking sent messages: a tracked type without a read
/// deadline is never alerted (warning); two tracked types sharing a first resource cannot be
/// told apart (error).
fn outcome_problems(s: &Settings, p: &Policies) -> Vec<Problem> {
    let file = s.policies.join(crate::policy::MESSAGE_TYPES_FILE);
    let mut out = Vec::new();
    let mut first: Vec<(&crate::model::ResourceId, &MessageTypeId, u32)> = Vec::new();
    for t in p.message_types().iter().filter(|t| t.track_outcomes) {
        if t.read_deadline_hours.is_none() {
            out.push(Problem::warning(
                &file,
                Some(t.line),
                format!(
                    "message type `{}` has no `read_deadline_hours`: its messages are tracked, but never alerted as unread past a deadline",
                    t.id
                ),
            ));
        }
        let Some(r) = t.resources.first() else {
            continue;
        };
        match first.iter().find(|(x, _, _)| *x == r) {
            Some((_, other, line)) => out.push(Problem::error(
                &file,
                Some(t.line),
                format!(
                    "message types `{other}` (line {line}) and `{}` both start with resource `{r}`: a sent message could not be told apart; set `track_outcomes = false` on one",
                    t.id
                ),
            )),
            None => first.push((r, &t.id, t.line)),
        }
    }
    out
}

fn report(a: ReportArgs) -> Result<ExitCode, CliError> {
    use crate::report::{ComplianceReport, Period, ReportFormat, ReportRequest, letter::Letter};
    let s = Settings::load(&Overrides {
        config: a.config.clone(),
        policies: a.policies.clone(),
        ..Overrides::default()
    })?;
    if let Some(c) = &a.contact {
        crate::model::check_free_text(c, 500)
            .map_err(|e| CliError::Missing(format!("`--contact`: {e}")))?;
    }
    let letter = matches!(a.format, ReportFormat::Letter | ReportFormat::LetterHtml);
    if letter != a.recipient.is_some() {
        return Err(CliError::Missing(if letter {
            "`--format letter` needs `--recipient ORG`: the organisation the letter is for"
                .to_owned()
        } else {
            "`--recipient` is for letters: add `--format letter` (Markdown) or `--format letter-html`".to_owned()
        }));
    }
    let period = match &a.period {
        Some(m) => Period::month(m),
        None => Period::between(a.from.as_deref(), a.to.as_deref()),
    }
    .map_err(CliError::Missing)?;
    let address = s.daemon.store_address(a.store.as_ref())?;
    if !address.may_exist() {
        return Err(CliError::Missing(format!(
            "store `{address}` does not exist: pass `--store FILE`, or run `reachcheck serve` to make one"
        )));
    }
    let store = crate::store::Store::open_existing_at(&address)?;
    // Titles in reports are a nicety; letters need the policies to say what to delegate.
    let policies = match Policies::load_with_grants(&s.policies, &s.grants_file()) {
        Ok(p) => Some(p),
        Err(e) if letter => return Err(e.into()),
        Err(e) => {
            tracing::warn!(error = %e, "policies not loaded: message types without titles");
            None
        }
    };
    let text = match (a.recipient, &policies) {
        (Some(recipient), Some(p)) => {
            let names = crate::report::Names::load(&store, &s.senders)
                .map_err(|e| CliError::Missing(e.to_string()))?;
            let l = Letter::build(&store, p, recipient, period, &a.sender, a.contact.clone())
                .map_err(|e| CliError::Missing(e.to_string()))?
                .with_names(&names);
            if a.format == ReportFormat::LetterHtml {
                l.html(p, a.lang)
            } else {
                l.markdown(p, a.lang)
            }
        }
        _ => {
            let r = ComplianceReport::build(
                &store,
                policies.as_ref(),
                &ReportRequest {
                    period,
                    senders: a.sender.clone(),
                },
            )
            .and_then(|r| {
                let remind_after = s
                    .onboarding
                    .as_ref()
                    .map_or(crate::onboarding::DEFAULT_REMIND_AFTER, |o| o.remind_after);
                let names = crate::report::Names::load(&store, &s.senders)?;
                Ok(r.with_onboarding(&store, remind_after)?
                    .with_names(&names)
                    .with_pinned_now(s.now))
            })
            .map_err(|e| CliError::Missing(e.to_string()))?;
            match a.format {
                ReportFormat::Json => r.json(a.lang),
                ReportFormat::Csv => r.csv(),
                ReportFormat::Markdown => r.markdown(a.lang),
                _ => r.html(a.lang),
            }
        }
    };
    let out = OutputArgs {
        format: Format::Table,
        output: a.output.clone(),
        color: ColorChoice::Never,
        details: false,
        show_names: false,
    };
    write_output(&out, |w| w.write_all(text.as_bytes()))?;
    Ok(ExitCode::SUCCESS)
}

fn serve(a: ServeArgs) -> Result<ExitCode, CliError> {
    use crate::daemon::{Daemon, ServeOverrides, run_on};
    let overrides = ServeOverrides {
        sources: Overrides {
            config: a.sources.config.clone(),
            policies: a.sources.policies.clone(),
            routes: a.routes.clone(),
            snapshot: a.sources.snapshot.clone(),
            now: a.sources.now,
            max_data_age: a.sources.max_data_age,
        },
        store: a.store.clone(),
        listen: a.listen.clone(),
        interval: a.interval,
        once: a.once,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Missing(format!("cannot start the async runtime: {e}")))?;
    let settings = overrides.settings()?;
    // TLS files are checked before anything starts.
    let tls = match (a.once, settings.daemon.tls()) {
        (false, Some((cert, key))) => Some(
            crate::tls::server_config(cert, key).map_err(|e| CliError::Missing(e.to_string()))?,
        ),
        _ => None,
    };
    // Bind before the store is touched: a bad address leaves nothing behind.
    let listener = if a.once {
        None
    } else {
        let addr = settings.daemon.listen.clone();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(&addr))
            .map_err(|e| CliError::Missing(format!("cannot listen on `{addr}`: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| CliError::Missing(format!("cannot listen on `{addr}`: {e}")))?;
        // An address that cannot be bound is named as such first; one that can, but would
        // carry the API in the clear beyond this machine, is refused before it serves.
        settings
            .daemon
            .check_transport()
            .map_err(CliError::Missing)?;
        Some((listener, bound))
    };
    let daemon = Arc::new(Daemon::start_with(overrides, settings)?);
    let listener = listener.map(|(tcp, bound)| {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {scheme}://{bound}");
        let _ = out.flush();
        tracing::info!(%bound, scheme, "HTTP API listening");
        crate::daemon::Listener {
            tcp,
            tls: tls.map(axum_server::tls_rustls::RustlsConfig::from_config),
        }
    });
    let shutdown = tokio_util::sync::CancellationToken::new();
    let result = runtime.block_on(run_on(daemon, listener, shutdown, a.once));
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "error: the sweep failed: {e}");
            Ok(ExitCode::from(2))
        }
    }
}

/// `` `dir`: message `` -> `message`, when the error already names the directory.
fn strip_path(msg: &str, dir: &Path) -> String {
    msg.strip_prefix(&format!("`{}`: ", dir.display()))
        .unwrap_or(msg)
        .to_owned()
}

fn exit_for(all_readable: bool) -> ExitCode {
    if all_readable {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn render_options(o: &OutputArgs) -> RenderOptions {
    let color = match o.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            o.output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    RenderOptions {
        explain: ExplainOptions {
            show_names: o.show_names,
        },
        color,
        details: o.details,
        reasons: false,
        summary_first: false,
    }
}

/// The folder `--output` writes into, which must exist (checked before a sweep too, so that
/// a long live sweep is not lost to a typo).
fn output_folder(path: &Path) -> Result<&Path, CliError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(CliError::Missing(format!(
            "cannot write `{}`: the folder `{}` does not exist",
            path.display(),
            dir.display()
        )))
    }
}

/// A temporary file in `dir` for an output file, created as any new file is: `0666` less
/// the umask (tempfile's own default, `0600`, would make reports unreadable to the group
/// that `umask 002` or `022` means to share them with).
fn output_file_in(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let mut b = tempfile::Builder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        b.permissions(std::fs::Permissions::from_mode(0o666));
    }
    b.tempfile_in(dir)
}

/// An I/O error without the path that tempfile adds to it (the temporary file's name).
fn without_path(e: std::io::Error) -> std::io::Error {
    match e.raw_os_error() {
        Some(code) => std::io::Error::from_raw_os_error(code),
        None => std::io::Error::from(e.kind()),
    }
}

/// Writes to `--output` atomically (a temporary file renamed into place), or to stdout.
fn write_output(
    o: &OutputArgs,
    render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), CliError> {
    match &o.output {
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            match render(&mut out).and_then(|()| out.flush()) {
                Ok(()) => Ok(()),
                // A closed pipe (`| head`) is the reader's choice, not an error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => Err(CliError::Output {
                    path: "standard output".to_owned(),
                    source: e,
                }),
            }
        }
        Some(path) => {
            let err = |source| CliError::Output {
                path: path.display().to_string(),
                source,
            };
            let dir = output_folder(path)?;
            // The temporary file's name is nobody's business: an error names the target.
            let mut tmp = output_file_in(dir).map_err(|e| err(without_path(e)))?;
            {
                let mut out = std::io::BufWriter::new(tmp.as_file_mut());
                render(&mut out).and_then(|()| out.flush()).map_err(err)?;
            }
            tmp.persist(path).map_err(|e| err(e.error))?;
            Ok(())
        }
    }
}
