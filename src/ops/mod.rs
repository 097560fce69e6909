//! Operations behind the commands: each takes the workspace and plain arguments and returns a
//! typed result that commands render.

pub mod activity;
pub mod claim;
pub mod cleanup;
pub mod complete;
pub mod conflicts;
pub mod fleet;
pub mod join;
pub mod land;
pub mod launch;
pub mod list;
pub mod place;
pub mod plan_edit;
pub mod recipe;
pub mod setup;
pub mod simulate;
pub mod supervise;
pub mod takeover;
pub mod task;
pub mod tmux;
pub mod verify;
