//! The command that starts an agent: its prompt, argv and environment.

use super::{LaunchRequest, Previous, Takeover};
use crate::agent::{self, prompt, AgentCommand, CommandInput};
use crate::ops::place::{absolute, Place};
use crate::workspace::Workspace;
use anyhow::Result;
use std::ffi::OsString;
use std::path::PathBuf;

/// The command of an agent that took over a dead agent's worktree: it resumes the session
/// left there, when one was recorded, the CLI can resume it and `--fresh` was not given.
pub(super) fn resume_taken_over(
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
pub(super) fn integrated(
    ws: &Workspace,
    plan: &crate::plan::Plan,
    id: &str,
) -> Option<prompt::Integrated> {
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

/// `.claude-agents/prompts/<agent>.md`: the prompt, for agents that read it from a file and
/// for people who want to see what an agent was told.
pub(super) fn write_prompt(ws: &Workspace, agent: &str, text: &str) -> Result<PathBuf> {
    let dir = crate::coord::subdir(&ws.coord_dir, "prompts")?;
    let path = dir.join(format!("{agent}.md"));
    crate::coord::write(&path, text.as_bytes())?;
    Ok(path)
}
