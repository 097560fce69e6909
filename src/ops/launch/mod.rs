//! `launch`: register an agent, claim its first task before touching git, make its branch and
//! worktree, and build the command that starts the agent there.

mod checks;
mod command;
mod prepare;

use self::checks::{check_permissions, check_program, refuse_running_twice};
use self::command::resume_taken_over;
pub use self::command::{agent_command, environment};
use self::prepare::{claude_settings, ready_worktree};
use super::place::Place;
use crate::agent::{AgentCommand, CommandSource, Mode};
use crate::git;
use crate::scheduler;
use crate::store::Actor;
use crate::workspace::Workspace;
use anyhow::Result;
use std::path::PathBuf;

pub use crate::agent::prompt::Previous;

/// What `launch` is asked to do.
#[derive(Debug, Clone)]
pub struct LaunchRequest {
    /// `--as A`: act as this `coordination.agents` entry (its id, worktree, branch, patterns).
    pub as_agent: Option<String>,
    /// Preset or template.
    pub source: CommandSource,
    /// Interactive or headless command line.
    pub mode: Mode,
    /// `--base`: where new branches start (default: the main worktree's HEAD).
    pub base: Option<String>,
    /// `--worktree-root` (default: the main worktree's parent directory).
    pub worktree_root: Option<PathBuf>,
    /// Whether this process becomes the agent (its pid is recorded); false for `--no-exec`.
    pub exec: bool,
    /// `--fresh`: a retry starts a new session instead of resuming the failed attempt's.
    pub fresh: bool,
    /// The agent id, once this launch has one (it registered while waiting for a task).
    pub agent_id: Option<String>,
    /// Permissions and limits passed to the agent CLI.
    pub options: crate::agent::AgentOptions,
    /// Claude: install swarm's hooks in the worktree's settings (not with `--no-hooks`).
    pub hooks: bool,
    /// `--notify CMD`: run when an agent needs a person, a run fails, the plan is finished.
    pub notify: Option<String>,
}

/// An agent ready to start.
#[derive(Debug, Clone)]
pub struct Launched {
    /// Agent id.
    pub agent: String,
    /// Display name.
    pub name: String,
    /// The claimed task.
    pub task: String,
    /// Its title.
    pub title: String,
    /// The worktree.
    pub worktree: PathBuf,
    /// Its branch.
    pub branch: String,
    /// Whether the worktree was made now (else an existing one is used).
    pub created_worktree: bool,
    /// Whether the branch was made now (else an existing one is used as it is).
    pub created_branch: bool,
    /// The task's previous attempt, when it left commits: whether the agent's branch has them.
    pub previous: Option<Previous>,
    /// The command that starts the agent.
    pub command: AgentCommand,
    /// What became of the worktree of the task's last attempt, when its agent died.
    pub takeover: Takeover,
    /// What was done to make the worktree ready (recipe, lease), one line each.
    pub prepared: Vec<String>,
}

/// What a launch did about the worktree a dead agent left with the task's last attempt in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Takeover {
    /// There was none.
    None,
    /// This agent works on in it.
    Took(crate::ops::takeover::Takeover),
    /// It could not be used: this agent starts in a worktree of its own. Why.
    Fresh(String),
}

impl Takeover {
    /// What people are told about it, given the command the agent starts with (`None` when
    /// there is nothing to say).
    pub fn describe(&self, command: &AgentCommand) -> Option<String> {
        match self {
            Takeover::None => None,
            Takeover::Fresh(why) => Some(format!("starting in a new worktree: {why}")),
            Takeover::Took(t) => {
                let resumed = t
                    .session
                    .as_deref()
                    .filter(|s| command.argv.iter().any(|a| a == s));
                let session = match (resumed, &t.session) {
                    (Some(s), _) => format!("resuming its session {s}"),
                    (None, Some(s)) => {
                        format!("its session {s} is not resumed (--fresh, or the agent CLI cannot)")
                    }
                    (None, None) => {
                        "no session of its was recorded, so the agent starts a new one there".into()
                    }
                };
                Some(format!(
                    "taking over the worktree {} of {} ({}), with what it left there; {session}",
                    t.worktree.display(),
                    t.from,
                    t.why
                ))
            }
        }
    }
}

/// How `launch` ended.
#[derive(Debug, Clone)]
pub enum LaunchOutcome {
    /// Claimed and prepared.
    Ready(Box<Launched>),
    /// Nothing claimable: nothing was created. Why, for people.
    NotReady(String),
}

/// What a launch would do (`--dry-run`): nothing is changed.
#[derive(Debug, Clone)]
pub struct Preview {
    /// The task it would claim, or why none.
    pub task: Result<String, String>,
    /// Agent id it would use.
    pub agent: String,
    /// Worktree it would use.
    pub worktree: PathBuf,
    /// Branch it would use.
    pub branch: String,
    /// What the worktree recipe would do.
    pub recipe: crate::ops::recipe::Plan,
}

/// Runs the launch up to the point of starting the agent.
pub fn launch(ws: &Workspace, req: &LaunchRequest) -> Result<LaunchOutcome> {
    let plan = ws.load_plan()?;
    let place = place(ws, &plan, req)?;
    // A bad `.worktreeinclude` stops the launch before anything changes.
    crate::ops::recipe::include_globs(ws, plan.worktree.as_ref())?;
    drop(plan);
    check_program(&req.source)?;
    check_permissions(req)?;
    let repo = git::open(&ws.main_root)?;
    let mut base = git::base_commit(&repo, req.base.as_deref())?;
    // With an integration branch, new work starts from what landed (created here when
    // `setup` has not run since the plan declared it).
    let integration = ws.integration_branch(&ws.load_plan()?);
    if let Some(b) = &integration {
        if git::integrate::ensure_branch(&repo, b, base)? {
            eprintln!(
                "swarm: created the integration branch {b} at {}",
                git::short(base)
            );
        }
        if req.base.is_none() {
            base = git::branch_tip(&repo, b).unwrap_or(base);
        }
    }
    let actor = Actor {
        id: place.agent.clone(),
        pid: req.exec.then(std::process::id),
    };
    // Claim first, under the lock: a launch that finds nothing ready creates nothing.
    let mut txn = ws.begin(None)?;
    refuse_running_twice(&txn, &actor)?;
    if let Some(max) = txn.plan.max_agents {
        let others = txn
            .registry
            .agents
            .iter()
            .filter(|(id, a)| **id != actor.id && !a.is_retired())
            .count();
        if others >= max as usize {
            txn.commit()?;
            return Ok(LaunchOutcome::NotReady(format!(
                "{others} agents are alive and coordination.maxAgents is {max}"
            )));
        }
    }
    let preferred = txn.plan.preferred_tasks(req.as_agent.as_deref())?;
    let i = match next_ready(&txn.plan, &txn.registry, &preferred) {
        Ok(i) => i,
        Err(why) => {
            txn.commit()?;
            return Ok(LaunchOutcome::NotReady(why));
        }
    };
    // A dead agent's worktree, still there with its attempt's work: this agent works on in it.
    let found = match &req.as_agent {
        None => crate::ops::takeover::find(&txn, &repo, i),
        Some(_) => crate::ops::takeover::Found::Nothing,
    };
    let (place, takeover) = match found {
        crate::ops::takeover::Found::Take(t) => (
            Place {
                worktree: t.worktree.clone(),
                branch: t.branch.clone(),
                ..place
            },
            Takeover::Took(t),
        ),
        crate::ops::takeover::Found::Fresh(why) => (place, Takeover::Fresh(why)),
        crate::ops::takeover::Found::Nothing => (place, Takeover::None),
    };
    txn.touch(&actor);
    if let Some(entry) = txn.registry.agents.get_mut(&actor.id) {
        entry.name = Some(place.name.clone());
        entry.worktree = Some(place.worktree.display().to_string());
        entry.branch = Some(place.branch.clone());
        entry.tmux_pane = std::env::var("TMUX_PANE")
            .ok()
            .filter(|p| p.starts_with('%'));
    }
    txn.claim(i, &actor.id);
    let task = txn.plan.tasks[i].clone();
    if let Takeover::Took(t) = &takeover {
        txn.take_over(&t.from, &actor.id, &task.id);
    }
    let previous = txn.plan.previous_branch(i);
    // The worktree recipe of the plan the task was claimed from.
    let recipe = txn.plan.worktree.clone();
    let (now, lease) = (txn.now(), ws.settings.lease);
    let (_, registry) = txn.finish()?;
    // What interrupted launches left would make the worktree below fail.
    for line in crate::ops::cleanup::clean_worktrees(&repo, &registry, now, lease) {
        eprintln!("swarm: {line}");
    }

    let start = start_point(&repo, base, previous.as_deref());
    let added = match git::worktree::add(&repo, &place.agent, &place.worktree, &place.branch, start)
    {
        Ok(a) => a,
        Err(e) => {
            give_back(ws, &actor, &task.id);
            return Err(e.context(format!("task {} was given back", task.id)));
        }
    };
    let place = Place {
        worktree: added.path.clone(),
        branch: added.branch.clone(),
        ..place
    };
    // Claude Code: swarm's commands pre-approved, and its hooks, in the worktree's settings.
    if matches!(
        req.source,
        CommandSource::Preset(crate::agent::Preset::Claude)
    ) {
        if let Err(e) = claude_settings(ws, &added.path, req.hooks) {
            eprintln!("swarm: warning: {e:#}");
        }
    }
    // A worktree kept from before, or started from a previous attempt's branch, takes in
    // what landed since.
    let tip = integration
        .as_deref()
        .and_then(|b| git::branch_tip(&repo, b));
    // Not a worktree taken over with a dead agent's work in progress: its uncommitted changes
    // stay as they were, and `task done` brings in what landed.
    let took_over = matches!(takeover, Takeover::Took(_));
    if tip.is_some() && !took_over && (!added.created_worktree || Some(added.tip) != tip) {
        match ws
            .load_plan()
            .map_err(anyhow::Error::from)
            .and_then(|plan| crate::ops::land::refresh(ws, &plan, &added.path))
        {
            Ok(Some(what)) => eprintln!("swarm: {}: {what}", added.path.display()),
            Ok(None) => {}
            Err(e) => eprintln!("swarm: warning: {e:#}"),
        }
    }
    // The plan's recipe and `.worktreeinclude`, once per worktree; a lease on ports and a
    // slot for the agent.
    let recipe = recipe.as_ref();
    let prepared = match ready_worktree(ws, recipe, &actor, &task.id, &place, &added) {
        Ok(said) => said,
        Err(e) => return Err(abandon(ws, recipe, &actor, &task.id, &repo, &added, e)),
    };
    // Said only as it really is: an existing branch was not moved, whatever --base or the
    // previous attempt would have had it start from.
    let previous = previous_work(&repo, base, previous.as_deref(), added.tip);
    let command = match agent_command(ws, req, &place, &task, previous.as_ref())
        .and_then(|c| resume_taken_over(req, &task.id, &takeover, c))
    {
        Ok(c) => c,
        Err(e) => return Err(abandon(ws, recipe, &actor, &task.id, &repo, &added, e)),
    };
    Ok(LaunchOutcome::Ready(Box::new(Launched {
        agent: place.agent,
        name: place.name,
        task: task.id,
        title: task.title,
        worktree: added.path,
        branch: added.branch,
        created_worktree: added.created_worktree,
        created_branch: added.created_branch,
        previous,
        command,
        takeover,
        prepared,
    })))
}

/// The task a launch would claim now (`preferred` patterns first), or why there is none; for
/// commands that only look (the claim itself is decided under the lock).
pub fn next_ready(
    plan: &crate::plan::Plan,
    registry: &crate::registry::Registry,
    preferred: &[crate::plan::Glob],
) -> std::result::Result<usize, String> {
    let ready = scheduler::readiness(plan, |id| registry.claimed_tasks.contains_key(id));
    scheduler::pick_next(plan, &ready, preferred).ok_or_else(|| {
        scheduler::explain_nothing_ready(plan, |i| {
            registry
                .claimed_tasks
                .get(&plan.tasks[i].id)
                .map(|c| c.agent.as_str())
        })
    })
}

/// Whether waiting may make a task ready: some agent works, and some task it may unblock is
/// not cut off by a failure (nor the plan's budget spent).
pub fn may_become_ready(ws: &Workspace) -> Result<bool> {
    let (plan, registry) = ws.snapshot()?;
    Ok(scheduler::may_become_ready(&plan, |id| {
        registry.claimed_tasks.contains_key(id)
    }))
}

/// What `launch` would do, changing nothing.
pub fn preview(ws: &Workspace, req: &LaunchRequest) -> Result<Preview> {
    let plan = ws.load_plan()?;
    let place = place(ws, &plan, req)?;
    let (plan, registry) = ws.snapshot()?;
    let preferred = plan.preferred_tasks(req.as_agent.as_deref())?;
    Ok(Preview {
        task: next_ready(&plan, &registry, &preferred).map(|i| plan.tasks[i].id.clone()),
        agent: place.agent,
        worktree: place.worktree,
        branch: place.branch,
        recipe: crate::ops::recipe::preview(ws, plan.worktree.as_ref())?,
    })
}

/// The place of the agent this launch starts.
fn place(ws: &Workspace, plan: &crate::plan::Plan, req: &LaunchRequest) -> Result<Place> {
    let kind = match &req.source {
        CommandSource::Preset(p) => p.program(),
        CommandSource::Template(_) => "agent",
    };
    let place = Place::for_launch(
        ws,
        plan,
        req.as_agent.as_deref(),
        kind,
        req.worktree_root.as_deref(),
    )?;
    Ok(match (&req.agent_id, req.as_agent.is_none()) {
        // The id it waited under, and the worktree and branch named after it.
        (Some(id), true) => Place {
            worktree: place
                .worktree
                .with_file_name(format!("{}-{id}", ws.project)),
            branch: format!("work/{id}"),
            agent: id.clone(),
            ..place
        },
        _ => place,
    })
}

/// Registers this launch's agent as waiting for a task (`state: waiting`), so that agents
/// finishing a task leave newly ready ones to it; returns its id, to launch under.
pub fn register_waiting(ws: &Workspace, req: &LaunchRequest) -> Result<String> {
    let plan = ws.load_plan()?;
    let place = place(ws, &plan, req)?;
    drop(plan);
    let actor = Actor {
        id: place.agent.clone(),
        pid: Some(std::process::id()),
    };
    let mut txn = ws.begin(Some(&actor))?;
    if let Some(entry) = txn.registry.agents.get_mut(&actor.id) {
        entry.state = Some("waiting".into());
        entry.name = Some(place.name.clone());
    }
    txn.commit()?;
    Ok(place.agent)
}

/// Ends a launch that waited and found nothing left to do.
pub fn stop_waiting(ws: &Workspace, agent: &str) -> Result<()> {
    let mut txn = ws.begin(None)?;
    txn.retire(agent, "nothing left to do");
    txn.commit()
}

/// Where the new branch starts: the previous attempt's branch when it has commits the base
/// lacks (no work is lost), else the base.
fn start_point(repo: &git2::Repository, base: git2::Oid, previous: Option<&str>) -> git2::Oid {
    unmerged_tip(repo, base, previous).unwrap_or(base)
}

/// The tip of the previous attempt's branch, when it has commits `base` lacks.
fn unmerged_tip(
    repo: &git2::Repository,
    base: git2::Oid,
    previous: Option<&str>,
) -> Option<git2::Oid> {
    git::branch_tip(repo, previous?).filter(|&tip| !git::safety::is_merged(repo, tip, base))
}

/// How the previous attempt's branch `previous` relates to the agent's branch at `tip`: `None`
/// when there was none or its commits are all in `base` already.
pub fn previous_work(
    repo: &git2::Repository,
    base: git2::Oid,
    previous: Option<&str>,
    tip: git2::Oid,
) -> Option<Previous> {
    let prev = previous?;
    let prev_tip = unmerged_tip(repo, base, Some(prev))?;
    Some(match git::safety::is_merged(repo, prev_tip, tip) {
        true => Previous::Continues(prev.to_string()),
        false => Previous::Apart(prev.to_string()),
    })
}

/// Ends a launch that failed after making its worktree: the task is given back, and what
/// this launch made a moment ago (worktree, branch), which holds no work yet, goes too.
fn abandon(
    ws: &Workspace,
    recipe: Option<&crate::plan::Recipe>,
    actor: &Actor,
    task: &str,
    repo: &git2::Repository,
    added: &git::worktree::Added,
    e: anyhow::Error,
) -> anyhow::Error {
    // What a setup started in the worktree about to go is stopped first.
    let torn = match (added.created_worktree, recipe) {
        (true, Some(recipe)) => crate::lease::record_of(&added.path).and_then(|record| {
            let log = crate::coord::subdir(&ws.coord_dir, "logs")
                .ok()?
                .join(format!("{}-teardown.log", actor.id));
            crate::ops::recipe::teardown(recipe, &added.path, &record.env(), &log)
        }),
        _ => None,
    };
    give_back(ws, actor, task);
    let mut undone: String = git::worktree::undo(repo, added)
        .iter()
        .map(|u| format!("; {u}"))
        .collect();
    if added.created_worktree && crate::lease::release(ws, &actor.id).unwrap_or(false) {
        undone.push_str("; its lease was freed");
    }
    let e = match torn {
        Some(t) => e.context(t),
        None => e,
    };
    e.context(format!("task {task} was given back{undone}"))
}

/// Undoes a claim after a failed launch (no attempt counted) and retires the agent.
pub fn give_back(ws: &Workspace, actor: &Actor, task: &str) {
    let Ok(mut txn) = ws.begin(Some(actor)) else {
        return;
    };
    if let Some(i) = txn.plan.find(task) {
        if txn.holder(i) == Some(actor.id.as_str()) {
            // A worktree this launch took over goes on holding the task's work: the next
            // launch takes it over from this agent.
            let took_over = txn.plan.previous_branch(i).is_some()
                && txn
                    .registry
                    .agents
                    .get(&actor.id)
                    .and_then(|a| a.branch.clone())
                    == txn.plan.previous_branch(i);
            txn.release(i, Some("launch failed".into()));
            if took_over {
                txn.set_task_field(i, "lastFailedAgent", actor.id.as_str().into());
            }
        }
    }
    txn.retire(&actor.id, "launch failed");
    let _ = txn.commit();
}
