//! Which files of the main worktree a new worktree gets: the include globs of the plan and
//! `.worktreeinclude`, matched against what git ignores.

use crate::plan::Recipe;
use crate::workspace::Workspace;
use anyhow::{bail, Context, Result};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use std::path::{Path, PathBuf};

/// The repository's own include list: one glob a line, `#` comments.
pub const INCLUDE_FILE: &str = ".worktreeinclude";

/// The globs of ignored files to copy into new worktrees: the plan's `include`,
/// then `.worktreeinclude` (a bad line is an error naming the file and line).
pub fn include_globs(ws: &Workspace, recipe: Option<&Recipe>) -> Result<Vec<String>> {
    let mut globs: Vec<String> = recipe.map(|r| r.include.clone()).unwrap_or_default();
    let path = ws.main_root.join(INCLUDE_FILE);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(_) => return Ok(globs),
    };
    if !meta.is_file() {
        bail!(
            "{}: expected a file of globs, one a line (it is a link or a folder)",
            path.display()
        );
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{}: cannot read (one glob a line, UTF-8)", path.display()))?;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('!') {
            bail!(
                "{}:{}: {line:?}: negated patterns are not supported; list the files to copy",
                path.display(),
                n + 1
            );
        }
        crate::plan::recipe::check_glob(line)
            .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), n + 1))?;
        globs.push(line.to_string());
    }
    Ok(globs)
}

/// Compiles globs the way `.gitignore` reads them: one without a `/` (but a trailing one)
/// matches at any depth, one with a `/` from the repository's root.
pub(super) fn glob_set(globs: &[String]) -> Result<GlobSet> {
    let mut set = GlobSetBuilder::new();
    for g in globs {
        let anchored = g.trim_end_matches('/').contains('/');
        let g = g.trim_start_matches('/').trim_end_matches('/');
        let pattern = if anchored {
            g.to_string()
        } else {
            format!("**/{g}")
        };
        let glob = GlobBuilder::new(&pattern)
            .literal_separator(true)
            .build()
            .with_context(|| format!("{g:?} is not a valid glob"))?;
        set.add(glob);
    }
    Ok(set.build()?)
}

/// The folder before the first wildcard of an anchored glob (`config/local` for
/// `config/local/*.json`): an ignored folder is looked into only when a glob names it so
/// (`node_modules/`, `target/` are not walked for `**/.env`).
pub(super) fn literal_prefix(glob: &str) -> Option<PathBuf> {
    let g = glob.trim_start_matches('/');
    if !g.trim_end_matches('/').contains('/') {
        return None;
    }
    let mut prefix = PathBuf::new();
    let parts: Vec<&str> = g.split('/').collect();
    for part in &parts[..parts.len() - 1] {
        if part.contains(['*', '?', '[', '{', '\\']) {
            break;
        }
        prefix.push(part);
    }
    // `**/.env` names no folder: it does not send swarm through every ignored one.
    (!prefix.as_os_str().is_empty()).then_some(prefix)
}

/// The files of the main worktree that include globs match (paths relative to it, files and
/// links only), from the user's git.
#[derive(Debug, Default)]
pub struct Matches {
    /// Ignored files: copied. Ignored folders (`node_modules/`) are looked into only when an
    /// anchored glob names them.
    pub files: Vec<PathBuf>,
    /// Untracked files git does not ignore: not copied, since in every worktree they would
    /// look like new work (`complete` and `task done` would refuse).
    pub not_ignored: Vec<PathBuf>,
}

/// The files of the main worktree that `globs` match.
pub fn matching_files(main_root: &Path, globs: &[String]) -> Result<Matches> {
    if globs.is_empty() {
        return Ok(Matches::default());
    }
    let set = glob_set(globs)?;
    let list = |extra: &[&str]| -> Result<Vec<String>> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(main_root)
            .args(["ls-files", "-z", "--others", "--exclude-standard"])
            .args(extra)
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .stdin(std::process::Stdio::null())
            .output()
            .context("cannot run git to list untracked and ignored files")?;
        if !out.status.success() {
            bail!(
                "git ls-files failed in {}: {}",
                main_root.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect())
    };
    let keep = |mut found: Vec<PathBuf>| {
        found.retain(|rel| {
            !rel.starts_with(crate::workspace::COORD_DIR)
                && set.is_match(rel)
                && std::fs::symlink_metadata(main_root.join(rel))
                    .is_ok_and(|m| m.is_file() || m.file_type().is_symlink())
        });
        found.sort();
        found.dedup();
        found
    };
    let not_ignored = keep(list(&[])?.into_iter().map(PathBuf::from).collect());
    let mut candidates: Vec<PathBuf> = Vec::new();
    let prefixes: Vec<PathBuf> = globs.iter().filter_map(|g| literal_prefix(g)).collect();
    for entry in list(&["--ignored", "--directory"])? {
        match entry.strip_suffix('/') {
            None => candidates.push(PathBuf::from(entry)),
            Some(dir) => {
                let dir = Path::new(dir);
                // swarm's own folder is never copied.
                if dir == Path::new(crate::workspace::COORD_DIR) {
                    continue;
                }
                if prefixes
                    .iter()
                    .any(|p| p.starts_with(dir) || dir.starts_with(p))
                {
                    walk_files(main_root, dir, &mut candidates);
                }
            }
        }
    }
    Ok(Matches {
        files: keep(candidates),
        not_ignored,
    })
}

/// Up to 5 paths, for a message.
pub(super) fn shown(paths: &[PathBuf]) -> String {
    let mut names: Vec<String> = paths
        .iter()
        .take(5)
        .map(|p| p.display().to_string())
        .collect();
    if paths.len() > 5 {
        names.push(format!("and {} more", paths.len() - 5));
    }
    names.join(", ")
}

/// Every file and link under `root/dir` (relative to `root`), links not followed.
pub(super) fn walk_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
        return;
    };
    for e in entries.flatten() {
        let rel = dir.join(e.file_name());
        match e.file_type() {
            Ok(t) if t.is_dir() => walk_files(root, &rel, out),
            Ok(_) => out.push(rel),
            Err(_) => {}
        }
    }
}
