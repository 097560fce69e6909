//! `launch`: register an agent, claim its first task before touching git, make its branch and
//! worktree, and build the command that starts the agent there.

use super::place::{absolute, Place};
use crate::agent::{self, prompt, AgentCommand, CommandInput, CommandSource, Mode};
use crate::git;
use crate::registry::liveness::{self, Liveness};
use crate::scheduler;
use crate::store::{Actor, Txn};
use crate::workspace::Workspace;
use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

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
    Took(super::takeover::Takeover),
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
    pub recipe: super::recipe::Plan,
}

/// Runs the launch up to the point of starting the agent.
pub fn launch(ws: &Workspace, req: &LaunchRequest) -> Result<LaunchOutcome> {
    let plan = ws.load_plan()?;
    let place = place(ws, &plan, req)?;
    // A bad `.worktreeinclude` stops the launch before anything changes.
    super::recipe::include_globs(ws, plan.worktree.as_ref())?;
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
        None => super::takeover::find(&txn, &repo, i),
        Some(_) => super::takeover::Found::Nothing,
    };
    let (place, takeover) = match found {
        super::takeover::Found::Take(t) => (
            Place {
                worktree: t.worktree.clone(),
                branch: t.branch.clone(),
                ..place
            },
            Takeover::Took(t),
        ),
        super::takeover::Found::Fresh(why) => (place, Takeover::Fresh(why)),
        super::takeover::Found::Nothing => (place, Takeover::None),
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
    let (now, lease) = (txn.now(), ws.settings.lease);
    let (_, registry) = txn.finish()?;
    // What interrupted launches left would make the worktree below fail.
    for line in super::cleanup::clean_worktrees(&repo, &registry, now, lease) {
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
            .and_then(|plan| super::land::refresh(ws, &plan, &added.path))
        {
            Ok(Some(what)) => eprintln!("swarm: {}: {what}", added.path.display()),
            Ok(None) => {}
            Err(e) => eprintln!("swarm: warning: {e:#}"),
        }
    }
    // The plan's recipe and `.worktreeinclude`, once per worktree; a lease on ports and a
    // slot for the agent.
    let prepared = match ready_worktree(ws, &actor, &task.id, &place, &added) {
        Ok(said) => said,
        Err(e) => return Err(abandon(ws, &actor, &task.id, &repo, &added, e)),
    };
    // Said only as it really is: an existing branch was not moved, whatever --base or the
    // previous attempt would have had it start from.
    let previous = previous_work(&repo, base, previous.as_deref(), added.tip);
    let command = match agent_command(ws, req, &place, &task, previous.as_ref())
        .and_then(|c| resume_taken_over(req, &task.id, &takeover, c))
    {
        Ok(c) => c,
        Err(e) => return Err(abandon(ws, &actor, &task.id, &repo, &added, e)),
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

/// The name of the marker, in a worktree's own git folder, that says its recipe ran.
const PREPARED_MARK: &str = "swarm-prepared";

/// Makes the worktree ready to work, the first time an agent starts in it (a worktree made
/// now or by `setup`): the include globs, links, copies and setup command of the recipe, with
/// the agent's environment and its lease. What was done, one line each. When the setup fails,
/// the caller tears down what it started (`abandon`), or, in a worktree this launch did not
/// make, this does.
fn ready_worktree(
    ws: &Workspace,
    actor: &Actor,
    task: &str,
    place: &Place,
    added: &git::worktree::Added,
) -> Result<Vec<String>> {
    let plan = ws.load_plan()?;
    let recipe = plan.worktree.as_ref();
    let mut said = Vec::new();
    let mark = git2::Repository::open(&added.path)
        .map(|r| r.path().join(PREPARED_MARK))
        .with_context(|| format!("{}: cannot open the worktree", added.path.display()))?;
    let logs = crate::coord::subdir(&ws.coord_dir, "logs")?;
    let record = crate::lease::record_of(&added.path);
    let mut lease = None;
    if let Some(r) = recipe {
        let l = crate::lease::take(ws, &actor.id, &added.path, r.ports)?;
        said.push(match l.port_list().as_slice() {
            [] => format!("slot {} leased", l.slot),
            [one] => format!("slot {} and port {one} leased", l.slot),
            [first, .., last] => format!("slot {} and ports {first}-{last} leased", l.slot),
        });
        // Set up with another lease (the plan's number of ports changed): what the setup
        // started is torn down with the environment it ran with, and it is set up again.
        let before = record.as_ref().and_then(|rec| rec.lease.clone());
        if let Some(old) =
            before.filter(|b| mark.exists() && (b.slot, b.port_list()) != (l.slot, l.port_list()))
        {
            if let Some(t) = record.as_ref().and_then(|rec| {
                let log = logs.join(format!("{}-teardown-slot-{}.log", actor.id, old.slot));
                super::recipe::teardown(r, &added.path, &rec.env(), &log)
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
    if mark.exists() {
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
    match super::recipe::prepare(ws, recipe, &added.path, &env, &log, &mut beat, &mut say) {
        Ok(done) => said.extend(done),
        Err(e) if added.created_worktree => return Err(e),
        Err(e) => {
            let torn = recipe.and_then(|r| {
                let log = logs.join(format!("{}-teardown.log", actor.id));
                super::recipe::teardown(r, &added.path, &env, &log)
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

/// The command of an agent that took over a dead agent's worktree: it resumes the session
/// left there, when one was recorded, the CLI can resume it and `--fresh` was not given.
fn resume_taken_over(
    req: &LaunchRequest,
    task: &str,
    takeover: &Takeover,
    command: AgentCommand,
) -> Result<AgentCommand> {
    let Takeover::Took(t) = takeover else {
        return Ok(command);
    };
    let Some(session) = t.session.as_deref().filter(|_| !req.fresh) else {
        return Ok(command);
    };
    let prompt = prompt::resume(task, &t.why);
    Ok(
        match req
            .source
            .resume_argv(session, &prompt, req.mode, &req.options)?
        {
            Some(argv) => AgentCommand { argv, ..command },
            None => command,
        },
    )
}

/// The command that starts the agent at `place` on `task`: prompt, argv, environment.
pub fn agent_command(
    ws: &Workspace,
    req: &LaunchRequest,
    place: &Place,
    task: &crate::plan::Task,
    previous: Option<&Previous>,
) -> Result<AgentCommand> {
    let plan_md = ws.plan_md();
    let integrated = ws
        .load_plan()
        .ok()
        .and_then(|plan| integrated(ws, &plan, &task.id));
    let prompt_text = prompt::render(&prompt::PromptInput {
        agent: &place.agent,
        name: &place.name,
        project: &ws.project,
        worktree: &place.worktree,
        branch: &place.branch,
        task: &task.id,
        title: &task.title,
        description: &task.description,
        plan_md: plan_md.as_deref(),
        prefer_as: req.as_agent.as_deref(),
        previous,
        mode: req.mode,
        integration: integrated.as_ref(),
    });
    let prompt_file = write_prompt(ws, &place.agent, &prompt_text)?;
    let input = CommandInput {
        options: &req.options,
        prompt: &prompt_text,
        task: &task.id,
        worktree: &place.worktree,
        prompt_file: &prompt_file,
    };
    Ok(AgentCommand {
        argv: req.source.argv(req.mode, &input)?,
        cwd: place.worktree.clone(),
        env: {
            let mut env = environment(ws, place, &task.id);
            if let Some(n) = &req.notify {
                env.push((agent::notify::ENV.into(), n.into()));
            }
            env
        },
    })
}

/// What the prompt of task `id` says about the integration branch: its name, the verify
/// command, and where the task's blockers landed.
fn integrated(ws: &Workspace, plan: &crate::plan::Plan, id: &str) -> Option<prompt::Integrated> {
    let branch = ws.integration_branch(plan)?;
    let i = plan.find(id)?;
    let landed = plan.tasks[i]
        .blocked_by
        .iter()
        .map(|&b| {
            let commit = plan
                .field(b, "landed")
                .and_then(|l| {
                    l.get("commit")?
                        .as_str()
                        .map(|c| c[..c.len().min(9)].to_string())
                })
                .unwrap_or_else(|| "the base".into());
            (plan.tasks[b].id.clone(), commit)
        })
        .collect();
    Some(prompt::Integrated {
        branch,
        verify: plan.verify_command(i).map(|v| v.shown()),
        landed,
    })
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
        recipe: super::recipe::preview(ws, plan.worktree.as_ref())?,
    })
}

/// The `SWARM_*` environment of an agent, so `swarm task …` works from its worktree.
pub fn environment(ws: &Workspace, place: &Place, task: &str) -> Vec<(String, OsString)> {
    let mut env: Vec<(String, OsString)> = vec![
        ("SWARM_AGENT_ID".into(), place.agent.clone().into()),
        ("SWARM_AGENT_NAME".into(), place.name.clone().into()),
        ("SWARM_TASK".into(), task.into()),
        ("SWARM_PROJECT".into(), ws.project.clone().into()),
        ("SWARM_TASKS_DIR".into(), absolute(&ws.tasks_root).into()),
        ("SWARM_ROOT".into(), ws.main_root.clone().into()),
    ];
    if let Some(path) = agent::path_with_self() {
        env.push(("PATH".into(), path));
    }
    if let Some(lease) = crate::lease::held(ws, &place.agent) {
        env.extend(lease.env());
    }
    env
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

/// Writes the worktree's `.claude/settings.local.json` (see `agent::claude`), kept out of git
/// through `.git/info/exclude`; one the repository tracks is left alone.
fn claude_settings(ws: &Workspace, worktree: &Path, hooks: bool) -> Result<()> {
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

/// Claude Code refuses `bypassPermissions` as root outside a sandbox it recognises: said
/// before anything changes, instead of a failed run.
fn check_permissions(req: &LaunchRequest) -> Result<()> {
    let claude = matches!(
        req.source,
        CommandSource::Preset(crate::agent::Preset::Claude)
    );
    let bypass = req.options.permissions == crate::agent::Permissions::Bypass;
    let sandbox = std::env::var_os("IS_SANDBOX").is_some_and(|v| v == "1");
    if claude && bypass && rustix::process::geteuid().is_root() && !sandbox {
        bail!(
            "--permissions bypass: Claude Code refuses to skip permissions as root outside a sandbox it recognises; run swarm as a normal user, choose --permissions auto, or set IS_SANDBOX=1 if this machine really is a disposable sandbox"
        );
    }
    Ok(())
}

/// Fails early, before anything changes, when the agent's program is not on PATH.
fn check_program(source: &CommandSource) -> Result<()> {
    let program = match source {
        CommandSource::Preset(p) => p.program().to_string(),
        CommandSource::Template(t) => match agent::template::split(t)
            .map_err(|e| anyhow::anyhow!("--agent-cmd: {e}"))?
            .into_iter()
            .next()
        {
            Some(p) => p,
            None => bail!("--agent-cmd is empty: give the program to run"),
        },
    };
    if program.contains('/') {
        if Path::new(&program).is_file() {
            return Ok(());
        }
        bail!("agent program {program} does not exist");
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|d| d.join(&program).is_file()) {
        return Ok(());
    }
    bail!("agent program {program:?} is not on PATH; install it, or choose another with --agent / --agent-cmd")
}

/// A second process acting as the same live agent would share its worktree: refuse. An agent
/// without a process of its own (`--no-exec`, scripts) is taken as running while it is alive
/// by its lease and holds a task.
fn refuse_running_twice(txn: &Txn<'_>, actor: &Actor) -> Result<()> {
    let Some(entry) = txn.registry.agents.get(&actor.id) else {
        return Ok(());
    };
    if entry.is_retired() {
        return Ok(());
    }
    let held: Vec<&str> = txn
        .registry
        .claimed_tasks
        .iter()
        .filter(|(_, c)| c.agent == actor.id)
        .map(|(t, _)| t.as_str())
        .collect();
    // No process of its own and nothing held, or this very process (registered while it
    // waited for a task).
    if entry.pid.is_none() && held.is_empty() || entry.pid == Some(std::process::id()) {
        return Ok(());
    }
    let verdict = liveness::judge(
        entry,
        None,
        &liveness::host_name(),
        txn.now(),
        txn.workspace().settings.lease,
    );
    match (verdict, entry.pid) {
        (Liveness::Alive, Some(pid)) => bail!(
            "agent {} is already running (pid {pid}); one process per agent",
            actor.id
        ),
        (Liveness::Alive, None) => bail!(
            "agent {} holds {} and is alive by its lease (no process of its own to check); one process per agent: if the one working as {} has stopped, give the task back (swarm task release ID --agent {}), then launch again",
            actor.id,
            held.join(", "),
            actor.id,
            actor.id
        ),
        _ => Ok(()),
    }
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
    actor: &Actor,
    task: &str,
    repo: &git2::Repository,
    added: &git::worktree::Added,
    e: anyhow::Error,
) -> anyhow::Error {
    // What a setup started in the worktree about to go is stopped first.
    let torn = match (added.created_worktree, crate::lease::record_of(&added.path)) {
        (true, Some(record)) => ws.load_plan().ok().and_then(|plan| {
            let log = crate::coord::subdir(&ws.coord_dir, "logs")
                .ok()?
                .join(format!("{}-teardown.log", actor.id));
            super::recipe::teardown(plan.worktree.as_ref()?, &added.path, &record.env(), &log)
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

/// `.claude-agents/prompts/<agent>.md`: the prompt, for agents that read it from a file and
/// for people who want to see what an agent was told.
fn write_prompt(ws: &Workspace, agent: &str, text: &str) -> Result<PathBuf> {
    let dir = crate::coord::subdir(&ws.coord_dir, "prompts")?;
    let path = dir.join(format!("{agent}.md"));
    crate::coord::write(&path, text.as_bytes())?;
    Ok(path)
}
