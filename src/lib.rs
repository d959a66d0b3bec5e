//! reachcheck (work in progress).
pub mod evidence;
pub mod model;
pub mod policy;
pub mod problem;
pub mod routing;
pub use model::{OrgNumber, OrgNumberError};
