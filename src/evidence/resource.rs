//! Evidence about a resource rather than a unit: its entry in Altinn's resource registry
//! (whether it exists, whether access lists gate it, who owns them) and the owner's access
//! lists bound to it with their members (docs/design.md, rule 11).
//!
//! Owns: the checked shapes of that evidence. Does not own: deciding whether a recipient
//! passes the gate (the engine does).

use std::sync::Arc;

use rustc_hash::FxHashSet;

use super::Observed;
use crate::model::{OrgNumber, SourceFailure};

/// Whether Altinn gates a resource by access lists (`accessListMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessListMode {
    /// `Disabled`: the policy alone decides.
    Disabled,
    /// `Enabled`: a permit holds only for parties on an access list bound to it.
    Enabled,
}

/// A resource's registry entry, as far as reading it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResourceMeta {
    /// The resource exists.
    Found {
        /// Its access-list mode.
        access_list_mode: AccessListMode,
        /// The owner's org code (`hasCompetentAuthority.orgcode`): whose lists gate it.
        owner: Option<Arc<str>>,
        /// The owner's organisation number (`hasCompetentAuthority.organization`): only
        /// its token may read the lists.
        owner_org: Option<OrgNumber>,
    },
    /// Altinn answered 404 for the resource or its policy: it does not exist there, so
    /// nothing about it can be proven (`resource_not_in_altinn`).
    NotInAltinn {
        /// Where the 404 came from.
        location: Arc<str>,
    },
}

/// The members of one access list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Members {
    /// Members that are organisations, by number.
    pub orgs: FxHashSet<OrgNumber>,
    /// Members given without any identifiers: who they are is not known.
    pub unidentified: u32,
}

/// One of the owner's access lists that is bound to the resource.
#[derive(Clone, Debug, PartialEq)]
pub struct AccessList {
    /// Its identifier, unique per owner (`godkjente-kommuner`).
    pub identifier: Arc<str>,
    /// The actions the binding allows; `None` (no `actionFilters`) allows every action.
    pub actions: Option<Vec<Arc<str>>>,
    /// Its members.
    pub members: Observed<Members>,
}

impl AccessList {
    /// Whether the binding lets members `read` (filters compare exactly).
    pub fn allows_read(&self) -> bool {
        self.actions
            .as_ref()
            .is_none_or(|a| a.is_empty() || a.iter().any(|x| &**x == "read"))
    }
}

/// Everything known about one resource.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ResourceEvidence {
    /// Its registry entry.
    pub metadata: Observed<ResourceMeta>,
    /// The owner's access lists bound to it (needed only when access lists gate it).
    pub access_lists: Observed<Vec<AccessList>>,
}

impl ResourceEvidence {
    /// Every failed source about the resource.
    pub fn failures(&self) -> impl Iterator<Item = &Arc<SourceFailure>> {
        let lists = match &self.access_lists {
            Observed::Present(l) => l.as_slice(),
            _ => &[],
        };
        [self.metadata.failure(), self.access_lists.failure()]
            .into_iter()
            .flatten()
            .chain(lists.iter().filter_map(|l| l.members.failure()))
    }

    /// Whether access lists gate the resource (its entry says `Enabled`).
    pub fn gated(&self) -> bool {
        matches!(
            self.metadata,
            Observed::Present(ResourceMeta::Found {
                access_list_mode: AccessListMode::Enabled,
                ..
            })
        )
    }
}
