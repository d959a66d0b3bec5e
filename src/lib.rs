//! reachcheck (work in progress).
pub mod model;
pub mod policy;
pub mod problem;
pub use model::{OrgNumber, OrgNumberError};
