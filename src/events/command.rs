//! `reachcheck subscribe`: the subscriptions that matter, created idempotently, listed and
//! removed. What matters is one subscription per tracked resource (the first resource of
//! each message type with `track_outcomes`) and per event type in `events.types`, all to
//! `events.public_url`.

use reqwest::Url;
use serde::Serialize;

use super::cloudevent::RESOURCE_PREFIX;
use super::subscriptions::{Planned, SubscriptionError, Subscriptions, same_endpoint};
use crate::model::ResourceId;
use crate::policy::Policies;

/// What to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Create what is missing.
    Create,
    /// List the caller's subscriptions.
    List,
    /// Remove these subscription ids, or (none given) reachcheck's own to the endpoint.
    Remove(Vec<i64>),
}

/// One line of the answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Row {
    /// `created`, `exists`, `removed` or `listed`.
    pub what: &'static str,
    /// Altinn's id.
    pub id: i64,
    /// The resource filter.
    pub resource: Option<String>,
    /// The event type.
    pub event_type: Option<String>,
    /// Where it pushes.
    pub endpoint: String,
    /// Whether Altinn validated the endpoint.
    pub validated: bool,
}

/// The resources whose messages are tracked: the first resource of each message type with
/// `track_outcomes`, sorted; a resource two types share is left out (`validate` refuses it).
pub fn tracked_resources(policies: &Policies) -> Vec<ResourceId> {
    let mut firsts: Vec<ResourceId> = policies
        .message_types()
        .iter()
        .filter(|t| t.track_outcomes)
        .filter_map(|t| t.resources.first().cloned())
        .collect();
    firsts.sort();
    let mut out: Vec<ResourceId> = Vec::new();
    for (i, r) in firsts.iter().enumerate() {
        let shared = firsts.get(i + 1) == Some(r) || (i > 0 && firsts.get(i - 1) == Some(r));
        if !shared {
            out.push(r.clone());
        }
    }
    out
}

fn row(what: &'static str, s: &super::Subscription) -> Row {
    Row {
        what,
        id: s.id,
        resource: s.resource_filter.clone(),
        event_type: s.type_filter.clone(),
        endpoint: s.end_point.clone(),
        validated: s.validated,
    }
}

/// Runs `action`; `endpoint` is needed to create and to remove reachcheck's own.
///
/// # Errors
/// The first refusal or failure of the subscriptions API (what was done before it stays
/// done: running again completes it), or no endpoint where one is needed.
pub async fn run(
    client: &Subscriptions,
    action: &Action,
    endpoint: Option<&Url>,
    wanted: &[Planned],
) -> Result<Vec<Row>, SubscriptionError> {
    let need = |what: &str| {
        endpoint.ok_or_else(|| {
            SubscriptionError::Key(format!(
                "{what} needs the webhook's address: set `events.public_url` in the config file or pass `--endpoint URL`"
            ))
        })
    };
    match action {
        Action::List => Ok(client
            .list()
            .await?
            .iter()
            .map(|s| row("listed", s))
            .collect()),
        Action::Create => {
            let endpoint = need("creating subscriptions")?;
            Ok(client
                .ensure(endpoint, wanted)
                .await?
                .iter()
                .map(|(_, s, created)| row(if *created { "created" } else { "exists" }, s))
                .collect())
        }
        Action::Remove(ids) => {
            let existing = client.list().await?;
            let doomed: Vec<&super::Subscription> = if ids.is_empty() {
                let endpoint = need("removing reachcheck's subscriptions")?;
                existing
                    .iter()
                    .filter(|s| {
                        same_endpoint(&s.end_point, endpoint)
                            && s.resource_filter.as_deref().is_some_and(|r| {
                                r.strip_prefix(RESOURCE_PREFIX).is_some_and(|id| {
                                    wanted.iter().any(|p| p.resource.as_str() == id)
                                })
                            })
                    })
                    .collect()
            } else {
                for id in ids {
                    if !existing.iter().any(|s| s.id == *id) {
                        return Err(SubscriptionError::Key(format!(
                            "subscription `{id}` is not one of this sender's (see `reachcheck subscribe --list`)"
                        )));
                    }
                }
                existing.iter().filter(|s| ids.contains(&s.id)).collect()
            };
            let mut out = Vec::new();
            for s in doomed {
                client.delete(s.id).await?;
                out.push(row("removed", s));
            }
            Ok(out)
        }
    }
}

/// The rows as a table, one line each, then a summary.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    for r in rows {
        out.push_str(&format!(
            "{:<8} {:>6}  {}  {}  {}  {}\n",
            r.what,
            r.id,
            r.resource.as_deref().unwrap_or("-"),
            r.event_type.as_deref().unwrap_or("(every type)"),
            r.endpoint,
            if r.validated {
                "validated"
            } else {
                "not validated yet"
            }
        ));
    }
    let count = |w: &str| rows.iter().filter(|r| r.what == w).count();
    out.push_str(&format!(
        "{} created, {} already there, {} removed, {} listed\n",
        count("created"),
        count("exists"),
        count("removed"),
        count("listed")
    ));
    out
}
