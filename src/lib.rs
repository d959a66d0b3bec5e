//! reachcheck (work in progress).
pub mod model;
pub use model::{OrgNumber, OrgNumberError};
