//! Making a new worktree ready to work, by the plan's recipe (`coordination.worktree`) and the
//! repository's `.worktreeinclude`: ignored files copied in (`include`), shared
//! folders linked (`link`), heavy folders cloned (`copy`), then the `setup` command.
//!
//! The repository is untrusted input: nothing is read or written through a link that the
//! recipe did not ask for (a link among the files copied is copied as a link; a folder of the
//! new worktree that is a link is never written through), and nothing in the new worktree is
//! overwritten.

mod files;
mod include;

use self::files::{copy_entry, copy_tree, safe_parent, symlink};
use self::include::{glob_set, shown};
pub use self::include::{include_globs, matching_files, Matches, INCLUDE_FILE};
use crate::plan::{CommandLine, Recipe};
use crate::workspace::Workspace;
use anyhow::{bail, Context, Result};
use std::path::Path;

/// What preparing a worktree did, one line each, for people.
pub type Said = Vec<String>;

/// Prepares the new worktree `wt` from the main worktree: copies the `include`d files, makes
/// the links, copies the folders, then runs `setup` with `env` (output in `log`, stopped after
/// the recipe's timeout; `tick` renews the agent's heartbeat while it runs). `say` gets
/// progress for long copies.
pub fn prepare(
    ws: &Workspace,
    recipe: Option<&Recipe>,
    wt: &Path,
    env: &[(String, std::ffi::OsString)],
    log: &Path,
    tick: &mut dyn FnMut(),
    say: &mut dyn FnMut(String),
) -> Result<Said> {
    let main = &ws.main_root;
    let mut said = Said::new();
    let globs = include_globs(ws, recipe)?;
    let found = matching_files(main, &globs)?;
    let mut copied = 0;
    for rel in &found.files {
        if copy_entry(&main.join(rel), wt, rel)? {
            copied += 1;
        }
    }
    if !globs.is_empty() {
        said.push(format!(
            "copied {copied} ignored file(s) matching the include globs"
        ));
        if !found.not_ignored.is_empty() {
            said.push(format!(
                "not copied, as git does not ignore them: {}",
                shown(&found.not_ignored)
            ));
        }
    }
    let Some(recipe) = recipe else {
        return Ok(said);
    };
    for rel in &recipe.link {
        let (src, dest) = (main.join(rel), wt.join(rel));
        if std::fs::symlink_metadata(&src).is_err() {
            said.push(format!(
                "link {rel}: {} does not exist; skipped",
                src.display()
            ));
            continue;
        }
        safe_parent(wt, Path::new(rel))?;
        if std::fs::symlink_metadata(&dest).is_ok() {
            said.push(format!("link {rel}: the worktree has it already; kept"));
            continue;
        }
        symlink(&src, &dest)?;
        // `cache/` in .gitignore matches a folder, not a link named `cache`: the link is kept
        // out of git by name.
        crate::workspace::add_ignore_line(
            &ws.git_dir.join("info").join("exclude"),
            &format!("/{rel}"),
        )?;
        said.push(format!("linked {rel} -> {}", src.display()));
    }
    for rel in &recipe.copy {
        let (src, dest) = (main.join(rel), wt.join(rel));
        match std::fs::symlink_metadata(&src) {
            Ok(m) if m.is_dir() => {}
            _ => {
                said.push(format!(
                    "copy {rel}: {} is not a folder; skipped",
                    src.display()
                ));
                continue;
            }
        }
        safe_parent(wt, Path::new(rel))?;
        if std::fs::symlink_metadata(&dest).is_ok() {
            said.push(format!("copy {rel}: the worktree has it already; kept"));
            continue;
        }
        // Copied under another name first: a copy cut short is never taken for a whole one.
        let partial = dest.with_file_name(format!(
            ".{}.swarm-partial",
            dest.file_name().unwrap_or_default().to_string_lossy()
        ));
        if std::fs::symlink_metadata(&partial).is_ok() {
            std::fs::remove_dir_all(&partial)
                .with_context(|| format!("{}: cannot remove", partial.display()))?;
        }
        let n = copy_tree(&src, &partial, rel, say)?;
        std::fs::rename(&partial, &dest).with_context(|| {
            format!("cannot rename {} to {}", partial.display(), dest.display())
        })?;
        said.push(format!("copied {rel} ({n} files)"));
    }
    if let Some(setup) = &recipe.setup {
        let v = match run_command("setup command", setup, wt, env, log, recipe, tick) {
            Ok(v) => v,
            Err(e) => {
                // The log says it too, for whoever looks there.
                let _ = std::fs::write(log, format!("swarm: {e:#}\n"));
                bail!("{e:#}; see {}", log.display());
            }
        };
        if !v.passed() {
            bail!(
                "the setup command {} {} in {}; its output is in {}{}",
                v.command,
                v.outcome(),
                wt.display(),
                log.display(),
                tail_of(&v)
            );
        }
        said.push(format!(
            "setup {} passed in {:.1} s (log {})",
            v.command,
            v.duration.as_secs_f64(),
            log.display()
        ));
    }
    Ok(said)
}

/// Runs the recipe's `teardown` in `wt` before `complete` removes it: how it went, one line.
pub fn teardown(
    recipe: &Recipe,
    wt: &Path,
    env: &[(String, std::ffi::OsString)],
    log: &Path,
) -> Option<String> {
    let cmd = recipe.teardown.as_ref()?;
    Some(
        match run_command("teardown command", cmd, wt, env, log, recipe, &mut || {}) {
            Ok(v) if v.passed() => format!("teardown {} passed", v.command),
            Ok(v) => format!(
                "teardown {} {} (log {})",
                v.command,
                v.outcome(),
                log.display()
            ),
            Err(e) => format!("teardown: {e:#}"),
        },
    )
}

fn run_command(
    what: &str,
    cmd: &CommandLine,
    wt: &Path,
    env: &[(String, std::ffi::OsString)],
    log: &Path,
    recipe: &Recipe,
    tick: &mut dyn FnMut(),
) -> Result<super::verify::Verified> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string_lossy().into_owned()))
        .collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    super::verify::run(what, cmd, wt, &env, log, recipe.setup_timeout, tick)
}

fn tail_of(v: &super::verify::Verified) -> String {
    let tail = v.tail(5);
    match tail.trim().is_empty() {
        true => String::new(),
        false => format!("; it ended with:\n{tail}"),
    }
}

/// What `setup` and `launch --dry-run` say about the recipe: globs that match nothing,
/// folders to link or copy that do not exist, a setup command not on PATH.
pub fn check(ws: &Workspace, recipe: Option<&Recipe>) -> Result<Vec<String>> {
    let globs = include_globs(ws, recipe)?;
    let found = matching_files(&ws.main_root, &globs)?;
    problems(ws, recipe, &globs, &found)
}

/// What is wrong with the recipe, given its include globs and what they match.
fn problems(
    ws: &Workspace,
    recipe: Option<&Recipe>,
    globs: &[String],
    found: &Matches,
) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    if !globs.is_empty() {
        let set_of = |g: &String| glob_set(std::slice::from_ref(g));
        for g in globs {
            let one = set_of(g)?;
            if !found.files.iter().any(|f| one.is_match(f)) {
                problems.push(format!(
                    "include {g:?} matches no ignored file of {}",
                    ws.main_root.display()
                ));
            }
        }
        if !found.not_ignored.is_empty() {
            problems.push(format!(
                "include matches files git does not ignore, which are not copied (in every worktree they would look like new work): {}; add them to .gitignore to have them copied",
                shown(&found.not_ignored)
            ));
        }
    }
    let Some(recipe) = recipe else {
        return Ok(problems);
    };
    let index = git2::Repository::open(&ws.main_root)
        .ok()
        .and_then(|r| r.index().ok());
    let tracked = |rel: &str| {
        let dir = format!("{rel}/");
        index.as_ref().is_some_and(|i| {
            i.iter().any(|e| {
                let p = String::from_utf8_lossy(&e.path).into_owned();
                p == rel || p.starts_with(&dir)
            })
        })
    };
    for (field, list) in [("link", &recipe.link), ("copy", &recipe.copy)] {
        for rel in list {
            if tracked(rel) {
                problems.push(format!(
                    "{field} {rel:?}: git tracks it, so every worktree has it already; it is left as checked out"
                ));
            }
            if std::fs::symlink_metadata(ws.main_root.join(rel)).is_err() {
                problems.push(format!(
                    "{field} {rel:?}: {} does not exist",
                    ws.main_root.join(rel).display()
                ));
            }
        }
    }
    for (field, cmd) in [("setup", &recipe.setup), ("teardown", &recipe.teardown)] {
        if let Some(program) = cmd.as_ref().and_then(|c| c.0.first()) {
            if !crate::agent::on_path(program) {
                problems.push(format!(
                    "{field}: {program:?} is not on PATH (nor a file, for a path)"
                ));
            }
        }
    }
    Ok(problems)
}

/// What the recipe will do, for `launch --dry-run`: the files it copies, the folders it
/// links and copies, the setup command and the ports.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Files copied from the main worktree.
    pub include: Vec<String>,
    /// Folders linked.
    pub link: Vec<String>,
    /// Folders copied.
    pub copy: Vec<String>,
    /// The setup command, as one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup: Option<String>,
    /// The teardown command, as one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub teardown: Option<String>,
    /// How long setup and teardown may run, in seconds.
    pub setup_timeout_secs: u64,
    /// Ports leased to the agent.
    pub ports: u16,
    /// What `check` found wrong.
    pub problems: Vec<String>,
}

/// What preparing a worktree would do now.
pub fn preview(ws: &Workspace, recipe: Option<&Recipe>) -> Result<Plan> {
    let globs = include_globs(ws, recipe)?;
    let found = matching_files(&ws.main_root, &globs)?;
    Ok(Plan {
        include: found
            .files
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        link: recipe.map(|r| r.link.clone()).unwrap_or_default(),
        copy: recipe.map(|r| r.copy.clone()).unwrap_or_default(),
        setup: recipe
            .and_then(|r| r.setup.as_ref())
            .map(CommandLine::shown),
        teardown: recipe
            .and_then(|r| r.teardown.as_ref())
            .map(CommandLine::shown),
        setup_timeout_secs: recipe.map_or(0, |r| r.setup_timeout.as_secs()),
        ports: recipe.map_or(0, |r| r.ports),
        problems: problems(ws, recipe, &globs, &found)?,
    })
}
