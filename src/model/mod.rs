//! Domain types, parsed once at the boundary: organisation numbers, identifiers, grants,
//! units and rightholders, routes, verdicts and findings.
//!
//! Owns: the vocabulary of docs/design.md and the checks that make a value valid. Does not own:
//! reading files or APIs (see `policy`, `routing`, `evidence`) or judging (see `engine`).

mod finding;
mod grant;
mod identity;
mod ids;
mod org_number;
mod route;
mod unit;

pub use finding::{
    AccessListGate, Finding, FindingCode, Gap, PolicyDrift, Severity, SourceFailure, SourceKind,
};
pub use grant::{Code, Grant};
pub use identity::{
    FreeTextError, MASK as IDENTITY_MASK, check_free_text, contains_identity_number,
    is_identity_number, mask_identity_numbers,
};
pub use ids::{IdError, MessageTypeId, ResourceId};
pub use org_number::{OrgNumber, OrgNumberError};
pub use route::{EvidenceTier, Route, Verdict};
pub use unit::{EntityKind, HolderSource, Register, Rightholder, Unit, mask_name};
