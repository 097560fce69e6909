//! The coordination state beside the plan: registry file, its lock, liveness of agents.

pub mod liveness;
pub mod lock;
pub mod model;

pub use liveness::Liveness;
pub use lock::RegistryLock;
pub use model::{AgentEntry, ClaimEntry, Registry};

use anyhow::{Context, Result};
use std::io;
use std::path::Path;

/// Reads the registry at `path`; a missing file is an empty registry.
pub fn load(path: &Path) -> Result<Registry> {
    crate::coord::refuse_link(path)?;
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Registry::default()),
        Err(e) => {
            return Err(e).with_context(|| format!("{}: cannot read the registry", path.display()))
        }
    };
    if text.trim().is_empty() {
        return Ok(Registry::default());
    }
    crate::json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}:{}:{}: {} (the registry is not valid; fix or move it away, then run the command again)",
            path.display(),
            e.line,
            e.column,
            e.message
        )
    })
}

/// Writes the registry atomically and durably (outside transactions).
pub fn save(path: &Path, registry: &Registry) -> Result<()> {
    crate::atomic::write_json(path, registry)
        .with_context(|| format!("{}: cannot write the registry", path.display()))
}
