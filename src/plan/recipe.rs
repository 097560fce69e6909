//! `coordination.worktree`: the recipe that makes a new worktree ready to work — ignored files
//! copied in, shared folders linked, heavy folders cloned, a setup command, a teardown
//! command, and a block of ports leased to the agent.

use super::file::WorktreeFile;
use super::CommandLine;
use std::path::{Component, Path};
use std::time::Duration;

/// The most ports one agent may lease.
pub const MAX_PORTS: u16 = 100;

/// A checked `coordination.worktree`.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipe {
    /// Globs of ignored files copied from the main worktree.
    pub include: Vec<String>,
    /// Folders shared with the main worktree through a symlink.
    pub link: Vec<String>,
    /// Folders copied (cloned where the filesystem can) from the main worktree.
    pub copy: Vec<String>,
    /// Run once in a new worktree before the agent starts.
    pub setup: Option<CommandLine>,
    /// Run by `complete` before the worktree is removed.
    pub teardown: Option<CommandLine>,
    /// How long `setup` (and `teardown`) may run.
    pub setup_timeout: Duration,
    /// How many ports each agent leases (`SWARM_PORT`, `SWARM_PORT_0..N-1`).
    pub ports: u16,
}

impl Recipe {
    /// Checks the plan's `coordination.worktree`; an error names the field.
    pub(super) fn of(w: WorktreeFile) -> Result<Recipe, String> {
        let include = w.include.unwrap_or_default();
        for (i, g) in include.iter().enumerate() {
            check_glob(g).map_err(|e| format!("coordination.worktree.include[{i}]: {e}"))?;
        }
        let mut folders = [w.link.unwrap_or_default(), w.copy.unwrap_or_default()];
        for (field, list) in ["link", "copy"].iter().zip(folders.iter_mut()) {
            for (i, p) in list.iter_mut().enumerate() {
                *p = check_relative(p)
                    .map_err(|e| format!("coordination.worktree.{field}[{i}]: {e}"))?;
            }
        }
        let [link, copy] = folders;
        let timeout = w.setup_timeout.map_or(30.0 * 60.0, |t| t.0.as_secs_f64());
        if !(1.0..=24.0 * 3600.0).contains(&timeout) {
            return Err(
                "coordination.worktree.setupTimeout: give a duration from 1s to 24h, e.g. \"90s\" or \"10m\""
                    .into(),
            );
        }
        let ports = w.ports.unwrap_or(0);
        if ports > MAX_PORTS {
            return Err(format!(
                "coordination.worktree.ports: {ports} ports per agent is more than {MAX_PORTS}"
            ));
        }
        Ok(Recipe {
            include,
            link,
            copy,
            setup: w.setup,
            teardown: w.teardown,
            setup_timeout: Duration::from_secs_f64(timeout),
            ports,
        })
    }
}

/// A glob of `include` or `.worktreeinclude`: relative to the repository, gitignore-like.
pub fn check_glob(glob: &str) -> Result<(), String> {
    let g = glob.trim_start_matches('/');
    if g.is_empty() {
        return Err("an empty glob".into());
    }
    if Path::new(g).components().any(|c| c == Component::ParentDir) {
        return Err(format!("{glob:?} goes outside the repository (..)"));
    }
    globset::Glob::new(g)
        .map(drop)
        .map_err(|e| format!("{glob:?} is not a valid glob: {}", e.kind()))
}

/// A path of `link` or `copy`: a folder of the repository, named relative to its root; in
/// its plain form (`./cache/` is `cache`).
fn check_relative(path: &str) -> Result<String, String> {
    let p = Path::new(path);
    if path.is_empty() {
        return Err("an empty path".into());
    }
    if p.is_absolute() {
        return Err(format!(
            "{path:?} is absolute; name a folder relative to the repository's root"
        ));
    }
    let mut parts = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(n) if n == ".git" => {
                return Err(format!("{path:?} is inside .git"));
            }
            Component::Normal(n) => parts.push(
                n.to_str()
                    .ok_or_else(|| format!("{path:?} is not UTF-8"))?
                    .to_string(),
            ),
            Component::CurDir => {}
            _ => return Err(format!("{path:?} goes outside the repository (..)")),
        }
    }
    if parts.is_empty() {
        return Err(format!("{path:?} is the whole repository"));
    }
    if parts[0] == crate::workspace::COORD_DIR {
        return Err(format!("{path:?} is swarm's own folder"));
    }
    Ok(parts.join("/"))
}

/// `setupTimeout`: a duration written as `--timeout` takes it ("90s", "10m", "1h"; a number is
/// minutes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeout(pub Duration);

impl<'de> serde::Deserialize<'de> for Timeout {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Minutes(f64),
        }
        let expected = "expected a duration like \"90s\", \"10m\" or \"1h\" (a number is minutes)";
        let text = match Raw::deserialize(d).map_err(|_| D::Error::custom(expected))? {
            Raw::Text(t) => t,
            Raw::Minutes(m) => format!("{m}m"),
        };
        crate::cli::parse_duration(&text)
            .map(Timeout)
            .map_err(|_| D::Error::custom(format!("invalid duration {text:?}: {expected}")))
    }
}
