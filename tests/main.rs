//! The one integration-test binary (one link, one run): fixtures and snapshots, the
//! conformance check against the reference plans, and tests that execute generated
//! scripts for real.

mod artifacts;
mod bulk;
mod cli;
mod common;
mod compose;
mod conformance;
mod fixtures;
mod fuzz;
mod graph;
mod operators;
mod results;
mod runtime;
mod scale;
mod schema;
mod submit;
