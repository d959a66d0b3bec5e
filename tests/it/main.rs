//! Integration tests: one binary (see Cargo.toml `autotests = false`).

mod cases;
mod cli;
mod errors;
mod fixture;
mod properties;
mod verifier;
