//! Integration tests: one binary (see Cargo.toml `autotests = false`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly on broken fixtures, like the tests that call them"
)]

mod alerts;
mod authzen;
mod cases;
mod check_output;
mod cli;
mod daemon;
mod demo;
mod docs;
mod errors;
mod events;
mod fixture;
mod ha;
mod keys;
mod listener;
mod live;
mod onboarding;
mod outcomes;
mod properties;
mod readme;
mod remedies;
mod report;
mod serve;
mod store;
mod store_cli;
mod verifier;
