//! The one integration test binary: the real `swarm` on real temporary git repositories.

mod bad_input;
mod claims;
mod complete;
mod concurrency;
mod edits;
mod faults;
mod flow;
mod headless;
mod help;
mod hostile;
mod integration;
mod legacy;
mod presets;
mod real_clis;
mod recovery;
mod support;
mod views;
mod worktrees;
