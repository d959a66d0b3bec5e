//! Message → route (docs/design.md, "Message → route"): the sender is the organisation in the
//! details' `sender` (else the `onBehalfOf` the list was asked for), the recipient the
//! organisation in `recipient`, the message type the one whose *first* resource is the
//! message's resource. A message to a person, or on a route not in the routing table, is
//! unrouted and its recipient is never kept.

use rustc_hash::{FxHashMap, FxHashSet};

use super::message::{Message, Recipient};
use crate::model::{MessageTypeId, OrgNumber, ResourceId, Route};
use crate::policy::Policies;
use crate::routing::RoutingTable;

/// Why a message has no route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unrouted {
    /// Sent to a person.
    Person,
    /// The sender is not known (no `sender`, and none configured to list for).
    NoSender,
    /// No tracked message type has this resource first.
    UnknownResource,
    /// Sender, type and recipient are not a route of the routing table.
    NotInRoutingTable,
}

impl Unrouted {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Unrouted::Person => "person",
            Unrouted::NoSender => "no_sender",
            Unrouted::UnknownResource => "unknown_resource",
            Unrouted::NotInRoutingTable => "not_in_routing_table",
        }
    }

    /// The reason named by [`Unrouted::as_str`].
    pub fn from_name(s: &str) -> Option<Unrouted> {
        Some(match s {
            "person" => Unrouted::Person,
            "no_sender" => Unrouted::NoSender,
            "unknown_resource" => Unrouted::UnknownResource,
            "not_in_routing_table" => Unrouted::NotInRoutingTable,
            _ => return None,
        })
    }
}

/// Where a message belongs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// On a route of the routing table.
    Routed(Route),
    /// Counted, not placed; the message type and sender when known.
    Unrouted {
        /// Why.
        why: Unrouted,
        /// The message type, when the resource names one.
        message_type: Option<MessageTypeId>,
        /// The sender, when known.
        sender: Option<OrgNumber>,
    },
}

/// The message types to track and the routes to place messages on.
#[derive(Clone, Debug, Default)]
pub struct RouteMap {
    by_resource: FxHashMap<ResourceId, MessageTypeId>,
    ambiguous: Vec<ResourceId>,
    routes: FxHashSet<Route>,
}

impl RouteMap {
    /// The map for `policies` (types with `track_outcomes`) and `routes`. A resource that is
    /// the first of two tracked types places nothing (`validate` refuses such policies).
    pub fn new(policies: &Policies, routes: &RoutingTable) -> RouteMap {
        let mut by_resource: FxHashMap<ResourceId, MessageTypeId> = FxHashMap::default();
        let mut ambiguous = Vec::new();
        for t in policies.message_types().iter().filter(|t| t.track_outcomes) {
            let Some(first) = t.resources.first() else {
                continue;
            };
            if by_resource.insert(first.clone(), t.id.clone()).is_some() {
                ambiguous.push(first.clone());
            }
        }
        for r in &ambiguous {
            by_resource.remove(r);
            tracing::warn!(
                resource = %r,
                "two tracked message types share this first resource: its messages are not placed on routes (set `track_outcomes = false` on one)"
            );
        }
        RouteMap {
            by_resource,
            ambiguous,
            routes: routes.routes().cloned().collect(),
        }
    }

    /// The resources whose sent messages are tracked: the first resource of each tracked
    /// message type, sorted.
    pub fn resources(&self) -> Vec<ResourceId> {
        let mut v: Vec<ResourceId> = self.by_resource.keys().cloned().collect();
        v.sort();
        v
    }

    /// Resources shared as first resource by two tracked types.
    pub fn ambiguous(&self) -> &[ResourceId] {
        &self.ambiguous
    }

    /// The message type a resource stands for.
    pub fn message_type(&self, resource: &ResourceId) -> Option<&MessageTypeId> {
        self.by_resource.get(resource)
    }

    /// Places `m`; `on_behalf_of` is the sender the list was asked for, if any.
    pub fn place(&self, m: &Message, on_behalf_of: Option<OrgNumber>) -> Placement {
        let message_type = self.by_resource.get(&m.resource).cloned();
        let sender = m.sender.or(on_behalf_of);
        let unrouted = |why, message_type| Placement::Unrouted {
            why,
            message_type,
            sender,
        };
        let Recipient::Organisation(recipient) = m.recipient else {
            return unrouted(Unrouted::Person, message_type);
        };
        let Some(message_type) = message_type else {
            return unrouted(Unrouted::UnknownResource, None);
        };
        let Some(sender) = sender else {
            return unrouted(Unrouted::NoSender, Some(message_type));
        };
        let route = Route::new(sender, message_type, recipient);
        if self.routes.contains(&route) {
            Placement::Routed(route)
        } else {
            unrouted(Unrouted::NotInRoutingTable, Some(route.message_type))
        }
    }
}
