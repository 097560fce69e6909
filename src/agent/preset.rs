//! The agent CLIs swarm knows, with their real flags (see FACTS.md): how each starts
//! interactively with a first prompt, and how each runs one prompt headless.

use super::Verdict;
use clap::ValueEnum;
use std::path::Path;

/// `launch --agent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// Claude Code: `claude "<prompt>"`; headless `claude -p --output-format stream-json
    /// --verbose "<prompt>"`, judged by its result event.
    Claude,
    /// OpenAI Codex CLI: `codex "<prompt>"`; headless `codex exec --json "<prompt>"`, judged by
    /// its turn events.
    Codex,
    /// Gemini CLI: `gemini -i "<prompt>"`; headless `gemini -p "<prompt>" -o json`, judged by
    /// its JSON result.
    Gemini,
    /// Aider: `aider --read <prompt file>`; headless `aider --yes-always --message "<prompt>"`,
    /// judged by whether it marked the task done.
    Aider,
    /// opencode: `opencode --prompt "<prompt>"`; headless `opencode run "<prompt>"`, judged by
    /// its exit status.
    Opencode,
}

/// What an agent may do without asking (`launch --permissions`), mapped to each CLI's own
/// flags. Whatever the policy, the commands swarm tells the agent to run are pre-approved
/// where the CLI allows it (Claude Code's `permissions.allow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permissions {
    /// Ask before edits and commands (the CLI's default; a headless agent cannot ask).
    Ask,
    /// Edit files in the worktree without asking; ask before other commands.
    #[default]
    Edits,
    /// Let the CLI approve what it judges safe (Claude's auto mode, Codex without prompts).
    Auto,
    /// Approve everything, no sandbox: for disposable machines only.
    Bypass,
}

/// What else an agent's command line carries: its permissions and limits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentOptions {
    /// The permission policy.
    pub permissions: Permissions,
    /// `--max-turns` (Claude, headless).
    pub max_turns: Option<u32>,
    /// `--max-budget-usd` (Claude, headless).
    pub max_budget_usd: Option<f64>,
    /// Directories outside the worktree the agent's `swarm task …` commands write to (the
    /// coordination dir, the plan's): writable in Codex's sandbox (`--add-dir`).
    pub writable: Vec<std::path::PathBuf>,
}

/// Interactive (a person watches the agent's terminal) or headless (one prompt, then exit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Start the agent's own interface with the prompt as its first message.
    Interactive,
    /// Run the prompt non-interactively and exit.
    Headless,
}

impl Preset {
    /// How a headless run of this agent is judged.
    pub fn verdict(self) -> Verdict {
        match self {
            Preset::Claude => Verdict::ClaudeResult,
            Preset::Codex => Verdict::CodexEvents,
            Preset::Gemini => Verdict::GeminiJson,
            Preset::Aider => Verdict::TaskState,
            Preset::Opencode => Verdict::ExitStatus,
        }
    }

    /// The program name.
    pub fn program(self) -> &'static str {
        match self {
            Preset::Claude => "claude",
            Preset::Codex => "codex",
            Preset::Gemini => "gemini",
            Preset::Aider => "aider",
            Preset::Opencode => "opencode",
        }
    }

    /// The argv that resumes session `session` with `prompt` in `mode`, for the CLIs that can:
    /// Claude Code's `--resume` (headless with `-p`), Codex's `exec resume` (headless only).
    pub fn resume_argv(
        self,
        session: &str,
        prompt: &str,
        mode: Mode,
        opts: &AgentOptions,
    ) -> Option<Vec<String>> {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut v = match (self, mode) {
            (Preset::Claude, Mode::Headless) => words(&[
                "claude",
                "-p",
                "--resume",
                session,
                "--output-format",
                "stream-json",
                "--verbose",
            ]),
            (Preset::Claude, Mode::Interactive) => words(&["claude", "--resume", session]),
            (Preset::Codex, Mode::Headless) => {
                words(&["codex", "exec", "resume", "--json", session])
            }
            _ => return None,
        };
        v.extend(self.policy(mode, opts));
        v.push(prompt.to_string());
        Some(v)
    }

    /// The flags that carry `opts` for this CLI in `mode` (FACTS.md): Claude's
    /// `--permission-mode` (and, headless, `--max-turns`, `--max-budget-usd`); Codex's sandbox
    /// and approval policy (`exec` cannot ask: never); Gemini's `--approval-mode` (with
    /// `--skip-trust`, without which a new worktree's folder is untrusted and the mode is
    /// ignored); Aider's `--yes-always`. opencode reads its permissions from its own config.
    pub fn policy(self, mode: Mode, opts: &AgentOptions) -> Vec<String> {
        let p = opts.permissions;
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut v = match self {
            Preset::Claude => {
                let m = match p {
                    Permissions::Ask => "default",
                    Permissions::Edits => "acceptEdits",
                    Permissions::Auto => "auto",
                    Permissions::Bypass => "bypassPermissions",
                };
                words(&["--permission-mode", m])
            }
            Preset::Codex => {
                let sandbox = match p {
                    Permissions::Bypass => "danger-full-access",
                    _ => "workspace-write",
                };
                let approval = match (mode, p) {
                    (Mode::Headless, _) | (_, Permissions::Auto | Permissions::Bypass) => "never",
                    (_, Permissions::Ask) => "untrusted",
                    (_, Permissions::Edits) => "on-request",
                };
                let mut v = words(&["-s", sandbox, "-c", &format!("approval_policy={approval}")]);
                if p != Permissions::Bypass {
                    for dir in &opts.writable {
                        v.extend(["--add-dir".to_string(), dir.display().to_string()]);
                    }
                }
                v
            }
            Preset::Gemini => match p {
                Permissions::Ask => words(&["--approval-mode", "default"]),
                Permissions::Edits | Permissions::Auto => {
                    words(&["--approval-mode", "auto_edit", "--skip-trust"])
                }
                Permissions::Bypass => words(&["--approval-mode", "yolo", "--skip-trust"]),
            },
            // Headless aider always confirms (it cannot ask); interactive only past `ask`.
            Preset::Aider if mode == Mode::Interactive && p != Permissions::Ask => {
                words(&["--yes-always"])
            }
            Preset::Aider | Preset::Opencode => Vec::new(),
        };
        if self == Preset::Claude && mode == Mode::Headless {
            if let Some(n) = opts.max_turns {
                v.extend(["--max-turns".to_string(), n.to_string()]);
            }
            if let Some(usd) = opts.max_budget_usd {
                v.extend(["--max-budget-usd".to_string(), usd.to_string()]);
            }
        }
        v
    }

    /// The argv that starts this agent on `prompt`. Aider has no flag for a first message in
    /// interactive mode, so it gets the prompt as a read-only file in its chat (`--read`).
    pub fn argv(
        self,
        mode: Mode,
        prompt: &str,
        prompt_file: &Path,
        opts: &AgentOptions,
    ) -> Vec<String> {
        let p = prompt.to_string();
        let policy = self.policy(mode, opts);
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let rest: Vec<String> = match (self, mode) {
            (Preset::Claude, Mode::Interactive) => [policy, vec![p]].concat(),
            // stream-json needs --verbose in print mode; the last event is the result.
            (Preset::Claude, Mode::Headless) => [
                words(&["-p", "--output-format", "stream-json", "--verbose"]),
                policy,
                vec![p],
            ]
            .concat(),
            (Preset::Codex, Mode::Interactive) => [policy, vec![p]].concat(),
            (Preset::Codex, Mode::Headless) => {
                [words(&["exec", "--json"]), policy, vec![p]].concat()
            }
            (Preset::Gemini, Mode::Interactive) => [policy, vec!["-i".into(), p]].concat(),
            (Preset::Gemini, Mode::Headless) => {
                [policy, vec!["-p".into(), p, "-o".into(), "json".into()]].concat()
            }
            (Preset::Aider, Mode::Interactive) => [
                policy,
                vec!["--read".into(), prompt_file.display().to_string()],
            ]
            .concat(),
            (Preset::Aider, Mode::Headless) => {
                vec!["--yes-always".into(), "--message".into(), p]
            }
            (Preset::Opencode, Mode::Interactive) => vec!["--prompt".into(), p],
            (Preset::Opencode, Mode::Headless) => vec!["run".into(), p],
        };
        std::iter::once(self.program().to_string())
            .chain(rest)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMPT: &str = "do $(this) `now`; rm -rf / \"quoted\"\nline 2";

    fn argv(p: Preset, m: Mode) -> Vec<String> {
        let ask = AgentOptions {
            permissions: Permissions::Ask,
            ..AgentOptions::default()
        };
        let mut v = p.argv(m, PROMPT, Path::new("/coord/prompts/agent-1.md"), &ask);
        // The policy's flags are tested on their own (`policies`).
        for flag in p.policy(m, &ask) {
            let at = v.iter().position(|w| *w == flag).unwrap();
            v.remove(at);
        }
        v
    }

    #[test]
    fn claude() {
        assert_eq!(argv(Preset::Claude, Mode::Interactive), ["claude", PROMPT]);
        assert_eq!(
            argv(Preset::Claude, Mode::Headless),
            [
                "claude",
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                PROMPT
            ]
        );
    }

    #[test]
    fn resume() {
        let o = AgentOptions::default();
        assert_eq!(
            Preset::Claude
                .resume_argv("s-1", "go on", Mode::Headless, &o)
                .unwrap(),
            [
                "claude",
                "-p",
                "--resume",
                "s-1",
                "--output-format",
                "stream-json",
                "--verbose",
                "--permission-mode",
                "acceptEdits",
                "go on"
            ]
        );
        assert_eq!(
            Preset::Codex
                .resume_argv("t-1", "go on", Mode::Headless, &o)
                .unwrap(),
            [
                "codex",
                "exec",
                "resume",
                "--json",
                "t-1",
                "-s",
                "workspace-write",
                "-c",
                "approval_policy=never",
                "go on"
            ]
        );
        assert!(Preset::Gemini
            .resume_argv("g", "go on", Mode::Headless, &o)
            .is_none());
        assert!(Preset::Codex
            .resume_argv("t", "go on", Mode::Interactive, &o)
            .is_none());
        let interactive = Preset::Claude
            .resume_argv("s-2", "go on", Mode::Interactive, &o)
            .unwrap();
        assert_eq!(interactive[..3], ["claude", "--resume", "s-2"]);
        assert!(!interactive.contains(&"-p".to_string()));
        assert_eq!(interactive.last().unwrap(), "go on");
        let writable = AgentOptions {
            writable: vec!["/repo/.claude-agents".into()],
            ..AgentOptions::default()
        };
        let codex = Preset::Codex.policy(Mode::Headless, &writable);
        assert_eq!(codex[4..], ["--add-dir", "/repo/.claude-agents"]);
    }

    #[test]
    fn policies() {
        let with = |p| AgentOptions {
            permissions: p,
            max_turns: Some(30),
            max_budget_usd: Some(2.5),
            writable: Vec::new(),
        };
        use Permissions::*;
        let cases: &[(Preset, Mode, Permissions, &[&str])] = &[
            (
                Preset::Claude,
                Mode::Interactive,
                Ask,
                &["--permission-mode", "default"],
            ),
            (
                Preset::Claude,
                Mode::Interactive,
                Edits,
                &["--permission-mode", "acceptEdits"],
            ),
            (
                Preset::Claude,
                Mode::Interactive,
                Auto,
                &["--permission-mode", "auto"],
            ),
            (
                Preset::Claude,
                Mode::Headless,
                Bypass,
                &[
                    "--permission-mode",
                    "bypassPermissions",
                    "--max-turns",
                    "30",
                    "--max-budget-usd",
                    "2.5",
                ],
            ),
            (
                Preset::Codex,
                Mode::Interactive,
                Ask,
                &["-s", "workspace-write", "-c", "approval_policy=untrusted"],
            ),
            (
                Preset::Codex,
                Mode::Interactive,
                Edits,
                &["-s", "workspace-write", "-c", "approval_policy=on-request"],
            ),
            (
                Preset::Codex,
                Mode::Headless,
                Edits,
                &["-s", "workspace-write", "-c", "approval_policy=never"],
            ),
            (
                Preset::Codex,
                Mode::Headless,
                Bypass,
                &["-s", "danger-full-access", "-c", "approval_policy=never"],
            ),
            (
                Preset::Gemini,
                Mode::Headless,
                Ask,
                &["--approval-mode", "default"],
            ),
            (
                Preset::Gemini,
                Mode::Headless,
                Edits,
                &["--approval-mode", "auto_edit", "--skip-trust"],
            ),
            (
                Preset::Gemini,
                Mode::Interactive,
                Bypass,
                &["--approval-mode", "yolo", "--skip-trust"],
            ),
            (Preset::Aider, Mode::Interactive, Ask, &[]),
            (Preset::Aider, Mode::Interactive, Edits, &["--yes-always"]),
            (Preset::Opencode, Mode::Headless, Bypass, &[]),
        ];
        for (preset, mode, p, want) in cases {
            assert_eq!(
                preset.policy(*mode, &with(*p)),
                *want,
                "{preset:?} {mode:?} {p:?}"
            );
        }
    }

    #[test]
    fn codex() {
        assert_eq!(argv(Preset::Codex, Mode::Interactive), ["codex", PROMPT]);
        assert_eq!(
            argv(Preset::Codex, Mode::Headless),
            ["codex", "exec", "--json", PROMPT]
        );
    }

    #[test]
    fn gemini() {
        assert_eq!(
            argv(Preset::Gemini, Mode::Interactive),
            ["gemini", "-i", PROMPT]
        );
        assert_eq!(
            argv(Preset::Gemini, Mode::Headless),
            ["gemini", "-p", PROMPT, "-o", "json"]
        );
    }

    #[test]
    fn aider() {
        assert_eq!(
            argv(Preset::Aider, Mode::Interactive),
            ["aider", "--read", "/coord/prompts/agent-1.md"]
        );
        assert_eq!(
            argv(Preset::Aider, Mode::Headless),
            ["aider", "--yes-always", "--message", PROMPT]
        );
    }

    #[test]
    fn opencode() {
        assert_eq!(
            argv(Preset::Opencode, Mode::Interactive),
            ["opencode", "--prompt", PROMPT]
        );
        assert_eq!(
            argv(Preset::Opencode, Mode::Headless),
            ["opencode", "run", PROMPT]
        );
    }
}
