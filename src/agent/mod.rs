//! Starting coding agents: presets, command templates, the work prompt, the environment.

pub mod claude;
pub mod notify;
pub mod outcome;
pub mod preset;
pub mod prompt;
pub mod template;

pub use outcome::{Outcome, RunReport, Verdict};
pub use preset::{AgentOptions, Mode, Permissions, Preset};

use anyhow::{bail, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Linux refuses a single argument longer than this (MAX_ARG_STRLEN).
const MAX_ARG: usize = 128 * 1024;
/// And the whole argv + environment beyond about this (leave room for the environment).
const MAX_ARGV_TOTAL: usize = 1536 * 1024;

/// A fully built agent command: what to run, where, with which extra environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentCommand {
    /// Program and arguments: an argv vector, never a shell string.
    pub argv: Vec<String>,
    /// Working directory: the agent's worktree.
    pub cwd: PathBuf,
    /// Variables added to the inherited environment.
    pub env: Vec<(String, OsString)>,
}

/// How the agent's command line is made.
#[derive(Debug, Clone)]
pub enum CommandSource {
    /// One of the presets.
    Preset(Preset),
    /// `--agent-cmd TEMPLATE`.
    Template(String),
}

/// What the command is built from.
#[derive(Debug, Clone)]
pub struct CommandInput<'a> {
    /// The work prompt.
    pub prompt: &'a str,
    /// The task id.
    pub task: &'a str,
    /// The worktree (the agent's working directory).
    pub worktree: &'a Path,
    /// The prompt written to a file, for agents that read it from one (aider).
    pub prompt_file: &'a Path,
    /// Permissions and limits.
    pub options: &'a AgentOptions,
}

impl CommandSource {
    /// How a headless run is judged (templates: by the exit status).
    pub fn verdict(&self) -> Verdict {
        match self {
            CommandSource::Preset(p) => p.verdict(),
            CommandSource::Template(_) => Verdict::ExitStatus,
        }
    }

    /// The argv that resumes session `session` with `prompt` in `mode`, when the agent CLI
    /// can (templates cannot: they say exactly what to run).
    pub fn resume_argv(
        &self,
        session: &str,
        prompt: &str,
        mode: Mode,
        options: &AgentOptions,
    ) -> Result<Option<Vec<String>>> {
        let argv = match self {
            CommandSource::Preset(p) => p.resume_argv(session, prompt, mode, options),
            CommandSource::Template(_) => None,
        };
        if let Some(a) = &argv {
            check_size(a)?;
        }
        Ok(argv)
    }

    /// Builds the argv for `mode` (templates ignore the mode: they say exactly what to run).
    pub fn argv(&self, mode: Mode, input: &CommandInput<'_>) -> Result<Vec<String>> {
        let argv = match self {
            CommandSource::Preset(p) => {
                p.argv(mode, input.prompt, input.prompt_file, input.options)
            }
            CommandSource::Template(t) => template::expand(t, input)?,
        };
        check_size(&argv)?;
        Ok(argv)
    }
}

/// Refuses command lines the kernel would refuse (E2BIG), with a message that says why.
fn check_size(argv: &[String]) -> Result<()> {
    if let Some(long) = argv.iter().find(|a| a.len() >= MAX_ARG) {
        bail!(
            "the agent's command line has an argument of {} KiB (the prompt?); Linux accepts at most 128 KiB per argument — shorten the task's description or point to a file in it",
            long.len() / 1024
        );
    }
    let total: usize = argv.iter().map(|a| a.len() + 1).sum();
    if total >= MAX_ARGV_TOTAL {
        bail!(
            "the agent's command line is {} KiB; Linux accepts about 2 MiB for arguments and environment together",
            total / 1024
        );
    }
    Ok(())
}

/// Whether `program` can be run: a file at that path when it names one (has a `/`), else a
/// file of that name in a directory of `PATH`.
pub fn on_path(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|d| d.join(program).is_file())
}

/// The `PATH` for agents: the directory of this `swarm` first, unless `swarm` on `PATH`
/// already is this binary, so that the prompt's `swarm …` commands reach the same swarm.
pub fn path_with_self() -> Option<OsString> {
    let exe = std::env::current_exe().ok()?.canonicalize().ok()?;
    let dir = exe.parent()?.to_path_buf();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    let found = dirs
        .iter()
        .map(|d| d.join("swarm"))
        .find(|p| p.is_file())
        .and_then(|p| p.canonicalize().ok());
    if found.as_deref() == Some(exe.as_path()) {
        return None;
    }
    std::env::join_paths(std::iter::once(dir).chain(dirs)).ok()
}
