//! `altinn-sim`: a local stand-in that serves a snapshot directory over HTTP at the real
//! paths of Maskinporten, Altinn (token exchange, authorized parties, connections, profile,
//! resource registry) and Enhetsregisteret, so that the live path is tested for real without
//! the internet. It is a binary of its own, not part of the library: tests and benches start
//! it as a process (`--listen 127.0.0.1:0`, then read the port from the first line on
//! stdout). It uses only the library's public items (the snapshot layout, `OrgNumber`, the
//! grant's constants).
//!
//! It checks what the real services check: the Maskinporten grant's signature against the
//! client's public key, `aud`, `iss`, `exp - iat <= 120`, a `jti` never seen before, known
//! scopes and no unknown claims (answering with Maskinporten's error shape); Altinn endpoints
//! need an Altinn token from the exchange. Every unit with a connections file has approved the
//! system user. Latency, faults (5xx, 429, timeouts, malformed bodies, token refusals) and a
//! rate limit can be injected; fault decisions are a pure function of the seed and the request
//! (method, path, query, how many times it was asked), so a run is deterministic for a seed
//! whatever the order requests arrive in.
//!
//! It also plays Altinn Correspondence for a sender (publish, list, details with status
//! history), with reading behaviour per recipient set on the command line and a clock
//! (`/_sim/clock`) that tests move forward, and Altinn Events for it: subscriptions, the
//! validation handshake and pushes of what happens to its messages, retried on the clock
//! (`/_sim/events` lists the deliveries).
//!
//! `/_sim/grants` lists the grants' headers and claims as the stand-in saw them and
//! `/_sim/requests` counts requests by endpoint, for tests and benchmarks.
//!
//! | module | owns |
//! |---|---|
//! | `main.rs` | the command line |
//! | `server.rs` | the snapshot's files, the shared state, the routes, the data endpoints |
//! | `grant.rs` | Maskinporten's grant checks and Altinn's token exchange |
//! | `faults.rs` | counting, latency, the rate limit and injected faults, per request |
//! | `correspondence.rs` | Correspondence for a sender: publish, list, details; reading behaviour; the clock |
//! | `vendor.rs` | the system register and vendor system-user requests; `/_sim/approve`, `/_sim/reject` |
//! | `events.rs` | Altinn Events: subscriptions, the handshake, pushes with the retry schedule on the clock |
//! | `config.rs` | `--write-config`: a test key pair and the `[live]` config |

use std::io::Write as _;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use reachcheck::model::OrgNumber;

mod config;
mod correspondence;
mod events;
mod faults;
mod grant;
mod registry;
mod server;
mod vendor;

use config::{generate_key_pair, key_file_for, live_config, write_private};
use faults::Faults;
use server::SimOptions;

/// A local stand-in for Maskinporten, Altinn and Brønnøysund that serves a snapshot
/// directory over HTTP at the real API paths.
///
/// Every unit with a connections file has approved the system user. The first line on
/// stdout is `listening on http://HOST:PORT`.
#[derive(Parser, Debug)]
#[command(
    name = "altinn-sim",
    version,
    after_help = "Example: scripts/try-altinn-sim runs the demo against the stand-in in one command. By hand, \
                  start it, wait for its first line (it writes the config before it listens), then check:\n  \
                  altinn-sim --snapshot examples/demo/snapshot --policies policies --client-org 310000019 \\\n      \
                  --write-config sim.toml > sim.out &\n  \
                  until grep -q '^listening on' sim.out; do sleep 0.1; done\n  \
                  reachcheck check --config sim.toml --routes examples/demo/routes.csv"
)]
struct Args {
    /// The snapshot directory to serve (the layout of `reachcheck --snapshot`).
    #[arg(long, value_name = "DIR")]
    snapshot: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    listen: String,
    /// Write a reachcheck config (a `[live]` section pointing every base URL here) and a
    /// fresh test key pair next to it (`FILE.key.pem`).
    #[arg(long, value_name = "FILE")]
    write_config: Option<PathBuf>,
    /// The client's RSA public key (PEM), instead of generating a pair with --write-config.
    #[arg(long, value_name = "FILE")]
    client_public_key: Option<PathBuf>,
    /// Delay added to every answer, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 0)]
    latency_ms: u64,
    /// Faults to inject, e.g. `5xx=0.2,429=0.1,timeout=0.05,malformed=0.05,token=0.1`;
    /// add `only=ENDPOINT` (e.g. `only=brreg/roller`) to confine them to one endpoint, and
    /// `first=N` to the first N times each request (method, path, query) is asked, e.g.
    /// `malformed=1,only=maskinporten/token,first=1` cuts off one token answer.
    #[arg(long, value_name = "SPEC", default_value = "")]
    faults: Faults,
    /// Requests per second; beyond it, 429 with `Retry-After`.
    #[arg(long, value_name = "N")]
    rate_limit: Option<NonZeroU32>,
    /// Seed of the fault decisions (a run is deterministic for a seed).
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,
    /// Lifetime of the Maskinporten tokens it issues, in seconds (Maskinporten's default
    /// `access_token_lifetime`: docs/altinn-refusals.md §7).
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    token_lifetime: u64,
    /// Policies Altinn enforces for resources whose policy the snapshot did not record
    /// (`DIR/<resource-id>.xml`, e.g. `policies`); without it such a resource has none (404).
    #[arg(long, value_name = "DIR")]
    policies: Option<PathBuf>,
    /// Let Altinn's profile answer system-user tokens (the real one's access check may
    /// refuse them: API-NOTES-2026 M3); without it, 403.
    #[arg(long)]
    profile_for_system_users: bool,
    /// The organisation the client's tokens belong to (Maskinporten's `consumer`): the
    /// sender in Correspondence. Without it Correspondence answers 401 (caller unknown).
    #[arg(long, value_name = "ORG", value_parser = parse_org)]
    client_org: Option<OrgNumber>,
    /// Require this API management subscription key (`Ocp-Apim-Subscription-Key`) on
    /// Correspondence requests.
    #[arg(long, value_name = "KEY")]
    subscription_key: Option<String>,
    /// Require this subscription key (`Ocp-Apim-Subscription-Key`) on Access management,
    /// profile and resource registry requests too (API-NOTES-2026 M7: whether they need one
    /// is unconfirmed); with `--write-config` it is written as `live.subscription_key_file`.
    #[arg(long, value_name = "KEY")]
    platform_subscription_key: Option<String>,
    /// How recipients read what they are sent, independent of the snapshot's readers:
    /// `default=prompt,964338531=never,944496394=slow:48h` (prompt[:DURATION] = 10m,
    /// slow[:DURATION] = 48h, never).
    #[arg(long, value_name = "SPEC", default_value = "default=prompt")]
    reading: correspondence::PerRecipient<correspondence::Reading>,
    /// Whether notifications reach recipients: `default=delivered,964338531=failed`.
    #[arg(long, value_name = "SPEC", default_value = "default=delivered")]
    notifications: correspondence::PerRecipient<correspondence::Notifying>,
    /// Where the stand-in's clock starts (RFC 3339) [default: now]; move it with
    /// `POST /_sim/clock {"advance": "25h"}`.
    #[arg(long, value_name = "RFC3339")]
    clock: Option<jiff::Timestamp>,
    /// reachcheck's system in Altinn's system register (its id starts with --client-org):
    /// serves the vendor's system-user requests and system users, with
    /// `POST /_sim/approve/{id}` and `/_sim/reject/{id}` standing in for the organisation
    /// asked. With --write-config it is written as `onboarding.system_id`.
    #[arg(long, value_name = "ID", requires = "client_org")]
    system_id: Option<String>,
    /// An access package the system offers; repeat for several
    /// [default: urn:altinn:accesspackage:tilgangsstyrer].
    #[arg(long, value_name = "URN", requires = "system_id")]
    system_access_package: Vec<String>,
    /// A redirect URL the system allows; repeat for several.
    #[arg(long, value_name = "URL", requires = "system_id")]
    system_redirect_url: Vec<String>,
    /// Let Events subscriptions name a plain `http://` endpoint (a local webhook). Altinn
    /// refuses them; in production TLS is terminated in front of the daemon or by it.
    /// This is the stand-in's one documented relaxation.
    #[arg(long)]
    allow_http_webhooks: bool,
}

fn parse_org(s: &str) -> Result<OrgNumber, String> {
    OrgNumber::parse(s).map_err(|e| e.to_string())
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let public_key_pem = match (&args.write_config, &args.client_public_key) {
        (_, Some(p)) => match std::fs::read(p) {
            Ok(k) => k,
            Err(e) => return fail(&format!("`{}` (--client-public-key): {e}", p.display())),
        },
        (Some(_), None) => Vec::new(),
        (None, None) => {
            return fail(
                "give --write-config FILE (a fresh test key pair) or --client-public-key FILE",
            );
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(&args.listen).await {
            Ok(l) => l,
            Err(e) => return fail(&format!("--listen `{}`: {e}", args.listen)),
        };
        let base = match listener.local_addr() {
            Ok(a) => format!("http://{a}"),
            Err(e) => return fail(&format!("--listen `{}`: {e}", args.listen)),
        };
        let mut public_key_pem = public_key_pem;
        if let Some(config) = &args.write_config {
            let (private, public) = match generate_key_pair() {
                Ok(k) => k,
                Err(e) => return fail(&format!("cannot generate a key pair: {e}")),
            };
            let key_file = key_file_for(config);
            let key_name = key_file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Err(e) = write_private(&key_file, &private) {
                return fail(&format!("`{}`: {e}", key_file.display()));
            }
            let mut text = live_config(
                &base,
                &key_name,
                args.client_org,
                args.profile_for_system_users,
            );
            if let Some(k) = &args.platform_subscription_key {
                let file = config.with_extension("platform.key");
                if let Err(e) = write_private(&file, k) {
                    return fail(&format!("`{}`: {e}", file.display()));
                }
                let name = file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                text = text.replacen(
                    "[live]\n",
                    &format!("[live]\nsubscription_key_file = \"{name}\"\n"),
                    1,
                );
            }
            if args.client_org.is_some() {
                // The stand-in plays Correspondence for that sender: poll it too.
                let mut key = None;
                if let Some(k) = &args.subscription_key {
                    let file = config.with_extension("apim.key");
                    if let Err(e) = write_private(&file, k) {
                        return fail(&format!("`{}`: {e}", file.display()));
                    }
                    key = file.file_name().map(|n| n.to_string_lossy().into_owned());
                }
                text.push_str(&config::outcomes_config(key.as_deref()));
            }
            if let Some(id) = &args.system_id {
                text.push_str(&config::onboarding_config(id));
            }
            if let Err(e) = std::fs::write(config, text) {
                return fail(&format!("`{}` (--write-config): {e}", config.display()));
            }
            if args.client_public_key.is_none() {
                public_key_pem = public.into_bytes();
            }
        }
        let opts = SimOptions {
            snapshot: args.snapshot.clone(),
            latency: Duration::from_millis(args.latency_ms),
            faults: args.faults,
            rate_limit: args.rate_limit,
            seed: args.seed,
            public_key_pem,
            client_id: grant::CLIENT_ID.to_owned(),
            key_id: grant::KEY_ID.to_owned(),
            token_lifetime: args.token_lifetime,
            policies: args.policies.clone(),
            profile_for_system_users: args.profile_for_system_users,
            platform_subscription_key: args.platform_subscription_key.clone(),
            correspondence: correspondence::CorrespondenceOptions {
                client_org: args.client_org,
                subscription_key: args.subscription_key.clone(),
                reading: args.reading.clone(),
                notifications: args.notifications.clone(),
                clock_start: args.clock,
            },
            system: args.system_id.clone().map(|id| vendor::SystemRegistration {
                id,
                access_packages: if args.system_access_package.is_empty() {
                    vec!["urn:altinn:accesspackage:tilgangsstyrer".to_owned()]
                } else {
                    args.system_access_package.clone()
                },
                redirect_urls: args.system_redirect_url.clone(),
            }),
            allow_http_webhooks: args.allow_http_webhooks,
        };
        let running = match server::serve(opts, listener) {
            Ok(r) => r,
            Err(e) => return fail(&e.to_string()),
        };
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on {}", running.base_url);
            let _ = out.flush();
        }
        tokio::select! {
            r = running.task => match r {
                Ok(Ok(())) => ExitCode::SUCCESS,
                Ok(Err(e)) => fail(&format!("the server stopped: {e}")),
                Err(e) => fail(&format!("the server stopped: {e}")),
            },
            _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
        }
    })
}
