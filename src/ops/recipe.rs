//! Making a new worktree ready to work, by the plan's recipe (`coordination.worktree`) and the
//! repository's `.worktreeinclude`: ignored files copied in (`include`), shared
//! folders linked (`link`), heavy folders cloned (`copy`), then the `setup` command.
//!
//! The repository is untrusted input: nothing is read or written through a link that the
//! recipe did not ask for (a link among the files copied is copied as a link; a folder of the
//! new worktree that is a link is never written through), and nothing in the new worktree is
//! overwritten.

use crate::plan::{CommandLine, Recipe};
use crate::workspace::Workspace;
use anyhow::{bail, Context, Result};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

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
fn glob_set(globs: &[String]) -> Result<GlobSet> {
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
fn literal_prefix(glob: &str) -> Option<PathBuf> {
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
fn shown(paths: &[PathBuf]) -> String {
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
fn walk_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
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

/// Checks that every folder between `wt` and `wt/rel` is a real folder of the worktree (or
/// missing, then made): nothing is read or written through a link the repository put there.
fn safe_parent(wt: &Path, rel: &Path) -> Result<()> {
    let mut at = wt.to_path_buf();
    let parts: Vec<Component> = rel.components().collect();
    for c in &parts[..parts.len().saturating_sub(1)] {
        let Component::Normal(name) = c else {
            bail!("{}: not a plain relative path", rel.display());
        };
        at.push(name);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => bail!(
                "{}: is a link or a file in the new worktree; nothing is written through it",
                at.display()
            ),
            Err(_) => std::fs::create_dir(&at)
                .with_context(|| format!("{}: cannot create", at.display()))?,
        }
    }
    Ok(())
}

/// Copies one file or link `src` to `wt/rel` (a link as a link); whether it did (an existing
/// file is kept).
fn copy_entry(src: &Path, wt: &Path, rel: &Path) -> Result<bool> {
    let dest = wt.join(rel);
    safe_parent(wt, rel)?;
    if std::fs::symlink_metadata(&dest).is_ok() {
        return Ok(false);
    }
    let meta = std::fs::symlink_metadata(src)
        .with_context(|| format!("{}: cannot read", src.display()))?;
    if meta.file_type().is_symlink() {
        let target =
            std::fs::read_link(src).with_context(|| format!("{}: cannot read", src.display()))?;
        symlink(&target, &dest)?;
    } else {
        std::fs::copy(src, &dest)
            .with_context(|| format!("cannot copy {} to {}", src.display(), dest.display()))?;
    }
    Ok(true)
}

/// Copies the folder `src` to `dest` (which does not exist), links as links. Each file goes
/// through `std::fs::copy`, which clones it where the filesystem can (copy_file_range on
/// Linux, clonefile on macOS). Says how far it got every few seconds.
fn copy_tree(src: &Path, dest: &Path, name: &str, say: &mut dyn FnMut(String)) -> Result<u64> {
    let mut count = 0;
    let mut told = Instant::now();
    let mut stack = vec![(src.to_path_buf(), dest.to_path_buf())];
    while let Some((from, to)) = stack.pop() {
        std::fs::create_dir(&to).with_context(|| format!("{}: cannot create", to.display()))?;
        let entries =
            std::fs::read_dir(&from).with_context(|| format!("{}: cannot read", from.display()))?;
        for e in entries {
            let e = e.with_context(|| format!("{}: cannot read", from.display()))?;
            let (f, t) = (e.path(), to.join(e.file_name()));
            let kind = e
                .file_type()
                .with_context(|| format!("{}: cannot read", f.display()))?;
            if kind.is_dir() {
                stack.push((f, t));
                continue;
            }
            if kind.is_symlink() {
                let target = std::fs::read_link(&f)
                    .with_context(|| format!("{}: cannot read", f.display()))?;
                symlink(&target, &t)?;
            } else if kind.is_file() {
                std::fs::copy(&f, &t)
                    .with_context(|| format!("cannot copy {} to {}", f.display(), t.display()))?;
            }
            count += 1;
            if told.elapsed() >= Duration::from_secs(2) {
                say(format!("copying {name}: {count} files so far"));
                told = Instant::now();
            }
        }
    }
    Ok(count)
}

fn symlink(target: &Path, link: &Path) -> Result<()> {
    #[cfg(unix)]
    let made = std::os::unix::fs::symlink(target, link);
    #[cfg(not(unix))]
    let made: std::io::Result<()> = Err(std::io::Error::other("links need a Unix system"));
    made.with_context(|| format!("cannot link {} to {}", link.display(), target.display()))
}

/// What `setup` and `launch --dry-run` say about the recipe: globs that match nothing,
/// folders to link or copy that do not exist, a setup command not on PATH.
pub fn check(ws: &Workspace, recipe: Option<&Recipe>) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let globs = include_globs(ws, recipe)?;
    if !globs.is_empty() {
        let found = matching_files(&ws.main_root, &globs)?;
        let set_of = |g: &String| glob_set(std::slice::from_ref(g));
        for g in &globs {
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
    let tracked = |rel: &str| {
        git2::Repository::open(&ws.main_root)
            .ok()
            .and_then(|r| r.index().ok())
            .is_some_and(|i| {
                let dir = format!("{rel}/");
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
            if !on_path(program) {
                problems.push(format!(
                    "{field}: {program:?} is not on PATH (nor a file, for a path)"
                ));
            }
        }
    }
    Ok(problems)
}

fn on_path(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|d| d.join(program).is_file())
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
    let include = matching_files(&ws.main_root, &globs)?
        .files
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    Ok(Plan {
        include,
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
        problems: check(ws, recipe)?,
    })
}
