//! Domain types, parsed once at the boundary.
mod org_number;
pub use org_number::{OrgNumber, OrgNumberError};
