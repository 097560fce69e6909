//! The command line of `swarm task claim`, the command agents and scripts run most, read
//! without clap.
//!
//! Building clap's command tree is about a third of a millisecond of every process (most of it
//! first touches of clap's code and data), as much as a small claim's own work. This reader
//! knows one narrow shape: the global `-C`, `--tasks-dir`, `--project`, `-q`, `-v`, then
//! `task claim` with `--next` or an id, `--agent`, `--json`. Anything else it does not know
//! (`--help`, `--as`, `--flag=value`, bundled short flags, a repeated flag, a value that starts
//! with `-` or is empty, a setting given through an environment variable, …) makes it give up,
//! and clap reads the command line as before. A test checks that both agree wherever this one
//! accepts.

use super::{AgentArg, Cli, ColorChoice, Command, Global, TaskCommand};
use std::ffi::OsString;
use std::path::PathBuf;

/// The environment variables clap reads for the arguments this reader handles. It gives up
/// when one is set (except `SWARM_AGENT_ID`, read the way clap reads it).
const SETTINGS_FROM_ENV: [&str; 3] = ["SWARM_TASKS_DIR", "SWARM_PROJECT", "SWARM_LEASE"];

/// Reads `args` (without the program name), or `None` when clap must decide. `env` looks up
/// environment variables.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    env: impl Fn(&str) -> Option<OsString>,
) -> Option<Cli> {
    if SETTINGS_FROM_ENV.iter().any(|v| env(v).is_some()) {
        return None;
    }
    let mut global = Global {
        dir: None,
        tasks_dir: None,
        project: None,
        color: ColorChoice::Auto,
        quiet: false,
        verbose: false,
        lock_timeout: None,
        lease: 30.0,
        max_attempts: 3,
    };
    // How many of the words `task claim` were read.
    let (mut words, mut id, mut agent) = (0, None, None);
    let (mut next, mut json) = (false, false);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let arg = arg.into_string().ok()?;
        let mut value = || {
            let v = args.next()?.into_string().ok()?;
            (!v.is_empty() && !v.starts_with('-')).then_some(v)
        };
        match arg.as_str() {
            "-C" => once(&mut global.dir, PathBuf::from(value()?))?,
            "--tasks-dir" => once(&mut global.tasks_dir, PathBuf::from(value()?))?,
            "--project" => once(&mut global.project, value()?)?,
            "-q" | "--quiet" => flag(&mut global.quiet)?,
            "-v" | "--verbose" => flag(&mut global.verbose)?,
            "--next" if words == 2 => flag(&mut next)?,
            "--json" if words == 2 => flag(&mut json)?,
            "--agent" if words == 2 => once(&mut agent, value()?)?,
            w if w.is_empty() || w.starts_with('-') => return None,
            "task" if words == 0 => words = 1,
            "claim" if words == 1 => words = 2,
            _ if words == 2 => once(&mut id, arg)?,
            _ => return None,
        }
    }
    // `--next` or an id, not both (clap: required_unless_present, conflicts_with).
    if words != 2 || next == id.is_some() {
        return None;
    }
    if agent.is_none() {
        agent = match env("SWARM_AGENT_ID") {
            None => None,
            Some(v) => Some(v.into_string().ok().filter(|v| !v.is_empty())?),
        };
    }
    Some(Cli {
        global,
        command: Command::Task(TaskCommand::Claim {
            id,
            next,
            as_agent: None,
            wait: false,
            agent: AgentArg { agent },
            json,
        }),
    })
}

/// Sets an option given once; a second time is clap's to judge.
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

/// Sets a flag given once.
fn flag(slot: &mut bool) -> Option<()> {
    match *slot {
        true => None,
        false => {
            *slot = true;
            Some(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    /// Command lines of up to nine words drawn from these (all of up to four, then random
    /// ones), read by both: wherever the quick reader accepts, clap must accept and read the
    /// same.
    #[test]
    fn agrees_with_clap_wherever_it_accepts() {
        let words = [
            "task",
            "claim",
            "--next",
            "t-1",
            "--agent",
            "a-1",
            "--json",
            "-q",
            "--quiet",
            "-C",
            "/r",
            "--tasks-dir",
            "/t",
            "--project",
            "p",
            "-v",
            "--verbose",
            "--as",
            "--wait",
            "-x",
            "",
            "-qv",
            "--agent=a",
            "--",
            "list",
        ];
        let (mut accepted, mut checked) = (0, 0);
        let mut check = |line: &[&str]| {
            checked += 1;
            let Some(quick) = parse(os(line), |_| None) else {
                return;
            };
            accepted += 1;
            let full = Cli::try_parse_from(std::iter::once("swarm").chain(line.iter().copied()))
                .unwrap_or_else(|e| {
                    panic!("clap refuses {line:?}, which the quick reader took: {e}")
                });
            assert_eq!(format!("{quick:?}"), format!("{full:?}"), "{line:?}");
        };
        let n = words.len();
        for len in 0..=4u32 {
            for mut k in 0..n.pow(len) {
                let line: Vec<&str> = (0..len)
                    .map(|_| {
                        let w = words[k % n];
                        k /= n;
                        w
                    })
                    .collect();
                check(&line);
            }
        }
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..300_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = 3 + (state % 7) as usize;
            let mut line: Vec<&str> = (0..len)
                .map(|i| words[((state >> (8 + 5 * i)) % n as u64) as usize])
                .collect();
            // Mostly with `task` and `claim` somewhere, in that order, so that many are taken.
            if state >> 62 != 0 {
                let (a, b) = ((state >> 3) as usize % len, (state >> 53) as usize % len);
                if a != b {
                    line[a.min(b)] = "task";
                    line[a.max(b)] = "claim";
                }
            }
            check(&line);
        }
        assert!(
            accepted > 1_000,
            "only {accepted} of {checked} lines accepted"
        );
    }

    #[test]
    fn takes_the_agent_from_the_environment_unless_given() {
        let env = |v: &str| (v == "SWARM_AGENT_ID").then(|| OsString::from("env-agent"));
        let agent_of = |cli: Cli| match cli.command {
            Command::Task(TaskCommand::Claim { agent, .. }) => agent.agent,
            other => panic!("{other:?}"),
        };
        let line = os(&["task", "claim", "--next"]);
        assert_eq!(
            agent_of(parse(line, env).unwrap()).as_deref(),
            Some("env-agent")
        );
        let line = os(&["task", "claim", "--next", "--agent", "given"]);
        assert_eq!(
            agent_of(parse(line, env).unwrap()).as_deref(),
            Some("given")
        );
        // An empty one, and settings clap reads from the environment, are left to clap.
        let empty = |v: &str| (v == "SWARM_AGENT_ID").then(OsString::new);
        assert!(parse(os(&["task", "claim", "--next"]), empty).is_none());
        let tasks = |v: &str| (v == "SWARM_TASKS_DIR").then(|| OsString::from("/t"));
        assert!(parse(os(&["task", "claim", "--next"]), tasks).is_none());
    }
}
