//! swarm: run many coding agents in parallel on one task graph, safely.
//!
//! The binary is a thin shell over this library: `cli` parses, `commands` render, and the
//! rest does the work: `plan` (status.json), `registry` (claims, lock, liveness), `store`
//! (locked transactions with reconcile), `scheduler` (pure decisions), `ops` (operations).

pub mod agent;
pub mod atomic;
pub mod cli;
pub mod commands;
pub mod coord;
pub mod demo;
pub mod error;
pub mod events;
pub mod git;
pub mod ids;
pub mod json;
pub mod lease;
pub mod ops;
pub mod output;
pub mod plan;
pub mod registry;
pub mod scheduler;
pub mod store;
pub mod ui;
pub mod workspace;
