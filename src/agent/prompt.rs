//! The work prompt: who the agent is, its task, and the exact commands to report and go on.

use super::Mode;
use std::fmt::Write;
use std::path::Path;

/// Where a task's previous attempt left its commits, as seen from the agent's branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Previous {
    /// On this branch: the agent's branch starts from (or already has) them.
    Continues(String),
    /// On this branch, which the agent's branch lacks (the agent's branch already existed, so
    /// it could not start there): the agent is told to look and merge what helps.
    Apart(String),
}

/// Everything the prompt mentions.
#[derive(Debug, Clone)]
pub struct PromptInput<'a> {
    /// Agent id (also in `SWARM_AGENT_ID`).
    pub agent: &'a str,
    /// Agent's display name.
    pub name: &'a str,
    /// Project name.
    pub project: &'a str,
    /// The agent's worktree.
    pub worktree: &'a Path,
    /// Its branch.
    pub branch: &'a str,
    /// The task id.
    pub task: &'a str,
    /// The task's title.
    pub title: &'a str,
    /// The task's description.
    pub description: &'a str,
    /// `plan.md` beside status.json, when there is one.
    pub plan_md: Option<&'a Path>,
    /// `--as A`: pre-assigned agent whose tasks come first when claiming the next.
    pub prefer_as: Option<&'a str>,
    /// A previous attempt's branch this worktree starts from.
    pub previous: Option<&'a Previous>,
    /// Headless (this one task, then stop) or interactive (the work-stealing loop).
    pub mode: Mode,
    /// The plan's integration branch, when it has one.
    pub integration: Option<&'a Integrated>,
}

/// The integration branch as the prompt tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integrated {
    /// Its name.
    pub branch: String,
    /// The verify command that runs when the task lands, as one line.
    pub verify: Option<String>,
    /// The task's blockers and the commits they landed at.
    pub landed: Vec<(String, String)>,
}

/// Renders the prompt. Plan text is quoted as data; the commands are given exactly, with the
/// task id as one shell word, because the agent will type them.
pub fn render(p: &PromptInput<'_>) -> String {
    // An id that starts with '-' would read as an option, quoted or not (the shell removes
    // the quotes): it goes after `--`, options first.
    let t = shell_word(p.task);
    let (update, done) = match p.task.starts_with('-') {
        true => (
            format!("swarm task update --progress 50 -- {t}"),
            format!("swarm task done -- {t}"),
        ),
        false => (
            format!("swarm task update {t} --progress 50"),
            format!("swarm task done {t}"),
        ),
    };
    let next = match p.prefer_as {
        Some(a) => format!("swarm task claim --next --as {}", shell_word(a)),
        None => "swarm task claim --next".to_string(),
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "You are {} (agent id {}), one of several coding agents working in parallel on the project \"{}\", coordinated by swarm.",
        p.name, p.agent, p.project
    );
    let _ = writeln!(
        s,
        "You work in your own git worktree {} on branch {}. Commit your work there, in small commits; do not change other worktrees or branches.",
        p.worktree.display(),
        p.branch
    );
    match p.previous {
        Some(Previous::Continues(prev)) => {
            let _ = writeln!(
                s,
                "A previous attempt at this task left commits on {prev}; your branch has them, so continue that work."
            );
        }
        Some(Previous::Apart(prev)) => {
            let _ = writeln!(
                s,
                "A previous attempt at this task left commits on {prev}, which your branch does not have (it already existed). Look at them (git log {}) and merge what helps (git merge {}).",
                shell_word(&format!("{}..{prev}", p.branch)),
                shell_word(prev),
            );
        }
        None => {}
    }
    let _ = writeln!(s, "\nYour task: {} — {}", p.task, p.title);
    if !p.description.trim().is_empty() {
        let _ = writeln!(s, "\n{}", p.description.trim());
    }
    if let Some(md) = p.plan_md {
        let _ = writeln!(s, "\nThe whole plan, for context: {}", md.display());
    }
    if let Some(x) = p.integration {
        let blockers: Vec<String> = x
            .landed
            .iter()
            .map(|(task, commit)| format!("{task} (landed at {commit})"))
            .collect();
        let has = match blockers.is_empty() {
            true => String::new(),
            false => format!(
                ", so it has the work of the tasks this one waits for: {}",
                blockers.join(", ")
            ),
        };
        let verify = match &x.verify {
            Some(v) => format!(", runs the verify command `{v}`"),
            None => String::new(),
        };
        let _ = writeln!(
            s,
            "\nFinished tasks land on branch {b}. Your branch has what landed there{has}. `{done}` lands your work: it brings {b} into your branch{verify}, and moves {b} to your commit only if that passes. If it reports a failure or a conflict, fix it, commit, and run it again.",
            b = x.branch
        );
    }
    let (intro, when_done) = match p.mode {
        Mode::Headless => (
            "You run headless: nobody watches this session or answers questions. Work on this one task only, and report with these exact commands, run from your worktree (your identity comes from SWARM_AGENT_ID):",
            "when it is finished and committed; then stop",
        ),
        Mode::Interactive => (
            "Coordinate with these exact commands, run from your worktree (your identity comes from SWARM_AGENT_ID):",
            "when it is finished and committed",
        ),
    };
    let _ = writeln!(s, "\n{intro}");
    let _ = writeln!(s, "  {update}   # report progress (0-100) as you go");
    let _ = writeln!(s, "  {done}                   # {when_done}");
    match p.mode {
        Mode::Headless => {
            let _ = writeln!(
                s,
                "Do not claim another task: swarm starts the next one after you exit. If you cannot finish this one, commit what is worth keeping, say why in your last message, and exit; swarm records the failed attempt."
            );
        }
        Mode::Interactive => {
            let _ = writeln!(
                s,
                "  {next}                  # then take the next ready task: it prints the task id"
            );
            let _ = writeln!(
                s,
                "  swarm task show ID                       # read that task's title and description"
            );
            let _ = writeln!(
                s,
                "When `{next}` exits with status 3, nothing is ready now. If it says tasks are claimed by other agents, `{next} --wait` waits until their work unblocks one; when that exits 3 too, nothing is left for you: stop. If you cannot finish a task, run `swarm task release ID` and say why."
            );
        }
    }
    s
}

/// The prompt that resumes a failed attempt's session: what happened, and what to do now.
pub fn resume(task: &str, why: &str) -> String {
    let t = shell_word(task);
    let done = match task.starts_with('-') {
        true => format!("swarm task done -- {t}"),
        false => format!("swarm task done {t}"),
    };
    format!(
        "Your previous attempt at task {task} did not finish: {why}. Your work so far is still in this worktree. Look at where you stopped, finish the task, commit, and run `{done}`; then stop."
    )
}

/// Quotes `word` for a POSIX shell when it needs it (task ids may hold anything printable).
pub fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> PromptInput<'static> {
        PromptInput {
            agent: "agent-1-2",
            name: "claude-worker-0002",
            project: "demo",
            worktree: Path::new("/w/demo-agent-1-2"),
            branch: "work/agent-1-2",
            task: "core/api",
            title: "Build the API",
            description: "Endpoints for $(users).",
            plan_md: Some(Path::new("/tasks/demo/plan.md")),
            prefer_as: None,
            previous: None,
            integration: None,
            mode: Mode::Interactive,
        }
    }

    #[test]
    fn says_who_what_and_the_commands() {
        let text = render(&input());
        for needle in [
            "agent id agent-1-2",
            "/w/demo-agent-1-2",
            "work/agent-1-2",
            "core/api — Build the API",
            "Endpoints for $(users).",
            "/tasks/demo/plan.md",
            "swarm task update core/api --progress 50",
            "swarm task done core/api",
            "swarm task claim --next",
            "exits with status 3",
        ] {
            assert!(text.contains(needle), "{needle:?} missing in:\n{text}");
        }
    }

    #[test]
    fn a_headless_agent_does_its_one_task_and_never_claims_the_next() {
        let text = render(&PromptInput {
            mode: Mode::Headless,
            ..input()
        });
        assert!(text.contains("swarm task done core/api"), "{text}");
        assert!(text.contains("Do not claim another task"), "{text}");
        assert!(!text.contains("swarm task claim"), "{text}");
        let interactive = render(&input());
        assert!(
            interactive.contains("swarm task claim --next --wait"),
            "{interactive}"
        );
        assert!(!interactive.contains("headless"), "{interactive}");
    }

    #[test]
    fn with_an_integration_branch_it_says_what_landed_and_how_to_land() {
        let integrated = Integrated {
            branch: "swarm/demo".into(),
            verify: Some("cargo test".into()),
            landed: vec![("core/schema".into(), "abc123def".into())],
        };
        let text = render(&PromptInput {
            integration: Some(&integrated),
            ..input()
        });
        for needle in [
            "land on branch swarm/demo",
            "core/schema (landed at abc123def)",
            "`cargo test`",
            "moves swarm/demo to your commit only if that passes",
        ] {
            assert!(text.contains(needle), "{needle:?} missing in:\n{text}");
        }
        assert!(
            !render(&input()).contains("land"),
            "nothing about landing without one"
        );
    }

    #[test]
    fn odd_task_ids_are_quoted_for_the_shell() {
        assert_eq!(shell_word("a/b-c.d"), "a/b-c.d");
        assert_eq!(shell_word("it's $x"), r"'it'\''s $x'");
        let text = render(&PromptInput {
            task: "x; rm -rf /",
            prefer_as: Some("agent-a"),
            ..input()
        });
        assert!(text.contains("swarm task done 'x; rm -rf /'"));
        assert!(text.contains("swarm task claim --next --as agent-a"));
        let text = render(&PromptInput {
            task: "-rf",
            ..input()
        });
        assert!(text.contains("swarm task done -- -rf"), "{text}");
        assert!(
            text.contains("swarm task update --progress 50 -- -rf"),
            "{text}"
        );
        let text = render(&PromptInput {
            task: "-fix auth",
            ..input()
        });
        assert!(text.contains("swarm task done -- '-fix auth'"), "{text}");
    }
}
