//! Conflicts between branches, predicted in memory: each pair is merged as trees (libgit2,
//! no checkout, nothing written) and the conflicting paths are read from the result.

use anyhow::Result;
use git2::{Oid, Repository};

/// A branch to compare: who it belongs to (an agent, or `None` for the integration branch),
/// its name and its tip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    /// The agent whose branch it is; `None` for the integration (or base) branch.
    pub agent: Option<String>,
    /// The branch.
    pub branch: String,
    /// Its tip.
    pub commit: Oid,
}

/// Two branches that would conflict, and on which files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// One branch.
    pub a: Side,
    /// The other.
    pub b: Side,
    /// The paths that conflict, sorted.
    pub files: Vec<String>,
}

/// Every pair among `sides` that would conflict if merged.
pub fn between(repo: &Repository, sides: &[Side]) -> Result<Vec<Conflict>> {
    let mut out = Vec::new();
    for (n, a) in sides.iter().enumerate() {
        for b in &sides[n + 1..] {
            let files = conflicting_files(repo, a.commit, b.commit)?;
            if !files.is_empty() {
                out.push(Conflict {
                    a: a.clone(),
                    b: b.clone(),
                    files,
                });
            }
        }
    }
    Ok(out)
}

/// The files that merging `b` into `a` would leave in conflict (none when one contains the
/// other).
pub fn conflicting_files(repo: &Repository, a: Oid, b: Oid) -> Result<Vec<String>> {
    if a == b || repo.graph_descendant_of(a, b)? || repo.graph_descendant_of(b, a)? {
        return Ok(Vec::new());
    }
    let index = repo.merge_commits(&repo.find_commit(a)?, &repo.find_commit(b)?, None)?;
    if !index.has_conflicts() {
        return Ok(Vec::new());
    }
    let mut files: Vec<String> = index
        .conflicts()?
        .filter_map(|c| c.ok())
        .filter_map(|c| c.our.or(c.their).or(c.ancestor))
        .map(|e| String::from_utf8_lossy(&e.path).into_owned())
        .collect();
    files.sort();
    files.dedup();
    Ok(files)
}
