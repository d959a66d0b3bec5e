//! One sweep, the same pass for `check`, `precheck` and the daemon: gather evidence about
//! the recipients of a routing table (a recorded snapshot directory or the live APIs), put
//! the policy Altinn enforces in place of the local copy wherever the source knows it, and
//! evaluate every route.
//!
//! The pass has two steps so that a caller can put each where it belongs:
//! [`Source::gather`] waits on I/O; [`judge`] is CPU work (a million routes take seconds),
//! which the daemon runs on a blocking thread.
//!
//! Owns: choosing and building the evidence source from the settings, the order of the
//! pass, and what a pass hands on ([`Pass`]: an [`Engine`] over the gathered evidence, its
//! [`Evaluation`], and what the gathering cost). Does not own: judging (the engine),
//! presenting (progress bars and output belong to the command line), recording (the store),
//! scheduling (the daemon).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use crate::auth::Auth;
use crate::engine::{Engine, Evaluation, evaluate};
use crate::evidence::live::{LiveSource, ProgressFn};
use crate::evidence::record::{RecordError, Recorder};
use crate::evidence::{
    EvidenceError, EvidenceSource, Gathered, Observed, RemotePolicy, SnapshotDir,
};
use crate::http::Http;
use crate::model::{OrgNumber, ResourceId, SourceKind};
use crate::policy::Policies;
use crate::routing::RoutingTable;
use crate::settings::Settings;

/// The evidence source could not be used at all (one unit's failure is not this: it is a
/// [`SourceFailure`](crate::model::SourceFailure) inside the gathered snapshot).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Neither a snapshot directory nor live sources are configured.
    #[error(
        "no evidence source: pass `--snapshot DIR`, or set `snapshot` or `[live]` in the config file"
    )]
    NotConfigured,
    /// The snapshot directory as a whole (missing, or without a usable manifest).
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    /// The live sources cannot be set up (HTTP client, key).
    #[error("{0}")]
    Live(String),
    /// The recording asked for cannot be made.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// A recording was asked of a source that is not live.
    #[error(
        "only a live sweep can be recorded: set `[live]` in the config file (a snapshot is already a recording)"
    )]
    NotLive,
}

/// Where evidence comes from.
pub enum Source {
    /// A recorded snapshot directory, read anew at each gathering.
    Snapshot(SnapshotDir),
    /// The live APIs.
    Live(Box<LiveSource>),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Snapshot(d) => f.debug_tuple("Snapshot").field(&d.root()).finish(),
            Source::Live(l) => f.debug_tuple("Live").field(l).finish(),
        }
    }
}

impl Source {
    /// The source the settings name: the live APIs when `[live]` is set (a `--snapshot`
    /// flag has already removed it), else the snapshot directory, which must exist.
    pub fn from_settings(settings: &Settings) -> Result<Source, SourceError> {
        match (&settings.live, &settings.snapshot) {
            (Some(live), _) => {
                let http = Http::new(live.http.clone()).map_err(|e| {
                    SourceError::Live(format!("cannot create the HTTP client: {e}"))
                })?;
                let auth = Auth::new(http.clone(), live.auth.clone())
                    .map_err(|e| SourceError::Live(e.to_string()))?;
                Ok(Source::Live(Box::new(LiveSource::new(
                    http,
                    Arc::new(auth),
                    live.endpoints.clone(),
                ))))
            }
            (None, Some(dir)) => {
                if !dir.is_dir() {
                    return Err(EvidenceError::NoDirectory(dir.clone()).into());
                }
                Ok(Source::Snapshot(SnapshotDir::new(dir)))
            }
            (None, None) => Err(SourceError::NotConfigured),
        }
    }

    /// Records every answer of the live sweep as a snapshot directory in `dir`.
    ///
    /// # Errors
    /// The source is not live (a snapshot is already a recording), or `dir` exists and is
    /// not empty, or cannot be created.
    pub fn recording_into(self, dir: &Path) -> Result<Source, SourceError> {
        match self {
            Source::Live(l) => {
                let recorder = Recorder::new(dir)?;
                Ok(Source::Live(Box::new(l.with_recorder(Arc::new(recorder)))))
            }
            Source::Snapshot(_) => Err(SourceError::NotLive),
        }
    }

    /// Reports progress of a live gathering (units done, units known, failures) to `f`;
    /// a snapshot directory reports nothing.
    #[must_use]
    pub fn with_progress(self, f: Arc<ProgressFn>) -> Source {
        match self {
            Source::Live(l) => Source::Live(Box::new(l.with_progress(f))),
            s => s,
        }
    }

    /// What the store and the logs call this source.
    pub fn label(&self) -> String {
        match self {
            Source::Snapshot(d) => format!("snapshot {}", d.root().display()),
            Source::Live(l) => format!("live {}", l.endpoints().altinn),
        }
    }

    /// Gathers the evidence about every recipient of `routes` (and their main units) and
    /// the policies Altinn enforces for the resources of `policies`, where the source
    /// knows them.
    pub async fn gather(
        &self,
        routes: &RoutingTable,
        policies: &Policies,
    ) -> Result<Gathered, SourceError> {
        let recipients: Vec<OrgNumber> = routes.routes().map(|r| r.recipient).collect();
        let resources = policies.resource_ids();
        let gathered = match self {
            Source::Snapshot(d) => d.gather(&recipients, &resources).await?,
            Source::Live(l) => l.gather(&recipients, &resources).await?,
        };
        tracing::info!(
            requests = gathered.requests,
            units = gathered.snapshot.units.len(),
            failures = gathered.snapshot.failures().len(),
            "evidence gathered"
        );
        Ok(gathered)
    }
}

/// What one pass produced.
pub struct Pass {
    /// The engine over the gathered evidence and the policies Altinn enforces.
    pub engine: Engine,
    /// Every route of the routing table, judged.
    pub evaluation: Evaluation,
    /// Requests the gathering sent (0 for a snapshot directory).
    pub requests: u64,
    /// Failed sources, counted by kind.
    pub failures: Vec<(SourceKind, u64)>,
}

/// Judges every route of `routes` on `gathered`, at `now`: the local `policies` with
/// Altinn's policies put in their place where the source knows them (rule 9 for those that
/// failed), evidence older than `max_data_age` proving nothing. Pure CPU work.
pub fn judge(
    gathered: Gathered,
    policies: Policies,
    routes: &RoutingTable,
    now: Timestamp,
    max_data_age: SignedDuration,
) -> Pass {
    let policies = apply_remote_policies(policies, &gathered.policies);
    let mut failures: Vec<(SourceKind, u64)> = Vec::new();
    for f in gathered.snapshot.failures() {
        match failures.iter_mut().find(|(k, _)| *k == f.source) {
            Some((_, n)) => *n += 1,
            None => failures.push((f.source, 1)),
        }
    }
    let engine = Engine::new(
        Arc::new(policies),
        Arc::new(gathered.snapshot),
        max_data_age,
    );
    let evaluation = evaluate(&engine, routes, now);
    Pass {
        engine,
        evaluation,
        requests: gathered.requests,
        failures,
    }
}

/// The registered name of every sender and recipient of `routes` that the evidence knows,
/// for reports and letters. A sole proprietorship's (`ENK`) name is a person's name: left
/// out, so that no report names a person.
pub fn names(engine: &Engine, routes: &RoutingTable) -> Vec<(OrgNumber, String)> {
    let mut orgs: Vec<OrgNumber> = routes
        .routes()
        .flat_map(|r| [r.sender, r.recipient])
        .collect();
    orgs.sort_unstable();
    orgs.dedup();
    orgs.into_iter()
        .filter_map(|o| {
            let unit = engine.snapshot().unit(o)?.unit.present()?;
            if unit
                .form
                .as_deref()
                .is_some_and(|f| f.eq_ignore_ascii_case("ENK"))
            {
                return None;
            }
            Some((o, unit.name.as_deref()?.trim().to_owned()))
        })
        .filter(|(_, n)| !n.is_empty())
        .collect()
}

/// One whole pass: [`Source::gather`], then [`judge`] on the same thread.
pub async fn sweep(
    source: &Source,
    policies: Policies,
    routes: &RoutingTable,
    now: Timestamp,
    max_data_age: SignedDuration,
) -> Result<Pass, SourceError> {
    let gathered = source.gather(routes, &policies).await?;
    Ok(judge(gathered, policies, routes, now, max_data_age))
}

/// Judges each resource by the policy Altinn returned for it; a policy that could not be
/// fetched makes the resource's routes `unknown` (rule 9); one the source does not know
/// leaves the local copy.
pub fn apply_remote_policies(
    mut policies: Policies,
    remote: &BTreeMap<ResourceId, Observed<RemotePolicy>>,
) -> Policies {
    for (resource, got) in remote {
        policies = match got {
            Observed::Present(p) => {
                let (next, problems) = policies.with_altinn_policy(resource, &p.location, &p.xml);
                for p in problems {
                    tracing::warn!(problem = %p, "Altinn's policy");
                }
                next
            }
            Observed::Failed(f) | Observed::Refused(f) => {
                policies.with_unavailable_policy(resource, Arc::clone(f))
            }
            Observed::Missing => policies,
        };
    }
    policies
}
