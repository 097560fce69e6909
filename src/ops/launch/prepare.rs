//! Making an agent's worktree ready before it starts: the plan's recipe and lease, once per
//! worktree, and Claude Code's settings.

use super::command::environment;
use crate::git;
use crate::ops::place::Place;
use crate::plan::Recipe;
use crate::store::Actor;
use crate::workspace::Workspace;
use anyhow::{bail, Context, Result};
use std::path::Path;

/// The name of the marker, in a worktree's own git folder, that says its recipe ran.
pub(super) const PREPARED_MARK: &str = "swarm-prepared";

/// Makes the worktree ready to work, the first time an agent starts in it (a worktree made
/// now or by `setup`): the include globs, links, copies and setup command of the recipe, with
/// the agent's environment and its lease. What was done, one line each. When the setup fails,
/// the caller tears down what it started (`abandon`), or, in a worktree this launch did not
/// make, this does.
pub(super) fn ready_worktree(
    ws: &Workspace,
    recipe: Option<&Recipe>,
    actor: &Actor,
    task: &str,
    place: &Place,
    added: &git::worktree::Added,
) -> Result<Vec<String>> {
    let mut said = Vec::new();
    let mark = git::worktree::own_git_dir(&added.path)?.join(PREPARED_MARK);
    let logs = crate::coord::subdir(&ws.coord_dir, "logs")?;
    let record = crate::lease::record_of(&added.path);
    let mut lease = None;
    if let Some(r) = recipe {
        let l = crate::lease::take(ws, &actor.id, &added.path, r.ports)?;
        said.push(format!("{} leased", l.shown()));
        // Set up with another lease (the plan's number of ports changed): what the setup
        // started is torn down with the environment it ran with, and it is set up again.
        let before = record.as_ref().and_then(|rec| rec.lease.clone());
        if let Some(old) =
            before.filter(|b| mark.exists() && (b.slot, b.port_list()) != (l.slot, l.port_list()))
        {
            if let Some(t) = record.as_ref().and_then(|rec| {
                let log = logs.join(format!("{}-teardown-slot-{}.log", actor.id, old.slot));
                crate::ops::recipe::teardown(r, &added.path, &rec.env(), &log)
            }) {
                said.push(format!("{t}, for its old slot {}", old.slot));
            }
            said.push(format!(
                "the worktree was set up for slot {}; it is set up again for slot {}",
                old.slot, l.slot
            ));
            std::fs::remove_file(&mark)
                .with_context(|| format!("{}: cannot remove", mark.display()))?;
        }
        lease = Some(l);
    }
    // Nothing to do is not marked done: a recipe added to the plan later still applies here.
    let nothing = recipe.is_none() && crate::ops::recipe::include_globs(ws, None)?.is_empty();
    if mark.exists() || nothing {
        return Ok(said);
    }
    let env = environment(ws, place, task);
    // Kept before the setup runs: a setup cut short is torn down with what it ran with.
    crate::lease::save_record(
        &added.path,
        &crate::lease::Record {
            lease,
            env: env
                .iter()
                .filter(|(k, _)| k != "PATH")
                .map(|(k, v)| (k.clone(), v.to_string_lossy().into_owned()))
                .collect(),
        },
    )?;
    let log = logs.join(format!("{}-setup.log", actor.id));
    let mut beat = || {
        let _ = ws.begin(Some(actor)).and_then(|t| t.commit());
    };
    let mut say = |line: String| eprintln!("swarm: {line}");
    match crate::ops::recipe::prepare(ws, recipe, &added.path, &env, &log, &mut beat, &mut say) {
        Ok(done) => said.extend(done),
        Err(e) if added.created_worktree => return Err(e),
        Err(e) => {
            let torn = recipe.and_then(|r| {
                let log = logs.join(format!("{}-teardown.log", actor.id));
                crate::ops::recipe::teardown(r, &added.path, &env, &log)
            });
            return Err(match torn {
                Some(t) => e.context(format!("{t}, after the setup failed")),
                None => e,
            });
        }
    }
    std::fs::write(&mark, b"").with_context(|| format!("{}: cannot write", mark.display()))?;
    Ok(said)
}

/// Writes the worktree's `.claude/settings.local.json` (see `agent::claude`), kept out of git
/// through `.git/info/exclude`; one the repository tracks is left alone.
pub(super) fn claude_settings(ws: &Workspace, worktree: &Path, hooks: bool) -> Result<()> {
    let rel = ".claude/settings.local.json";
    let tracked = git2::Repository::open(worktree)
        .ok()
        .and_then(|r| r.index().ok())
        .is_some_and(|i| i.get_path(Path::new(rel), 0).is_some());
    if tracked {
        bail!(
            "{}: the repository tracks {rel}, so swarm does not write it; the agent will ask before running swarm's commands",
            worktree.display()
        );
    }
    crate::workspace::add_ignore_line(
        &ws.git_dir.join("info").join("exclude"),
        &format!("/{rel}"),
    )?;
    let exe = std::env::current_exe().context("cannot find the swarm executable")?;
    crate::agent::claude::install(worktree, &exe, hooks)?;
    Ok(())
}
