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

    /// The argv that resumes headless session `session` with `prompt` (Claude Code's
    /// `-p --resume`, `codex exec resume`), for the CLIs that can.
    pub fn resume_argv(self, session: &str, prompt: &str) -> Option<Vec<String>> {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut v = match self {
            Preset::Claude => words(&[
                "claude",
                "-p",
                "--resume",
                session,
                "--output-format",
                "stream-json",
                "--verbose",
            ]),
            Preset::Codex => words(&["codex", "exec", "resume", "--json", session]),
            Preset::Gemini | Preset::Aider | Preset::Opencode => return None,
        };
        v.push(prompt.to_string());
        Some(v)
    }

    /// The argv that starts this agent on `prompt`. Aider has no flag for a first message in
    /// interactive mode, so it gets the prompt as a read-only file in its chat (`--read`).
    pub fn argv(self, mode: Mode, prompt: &str, prompt_file: &Path) -> Vec<String> {
        let p = prompt.to_string();
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let rest: Vec<String> = match (self, mode) {
            (Preset::Claude, Mode::Interactive) => vec![p],
            // stream-json needs --verbose in print mode; the last event is the result.
            (Preset::Claude, Mode::Headless) => {
                let mut v = words(&["-p", "--output-format", "stream-json", "--verbose"]);
                v.push(p);
                v
            }
            (Preset::Codex, Mode::Interactive) => vec![p],
            (Preset::Codex, Mode::Headless) => {
                let mut v = words(&["exec", "--json"]);
                v.push(p);
                v
            }
            (Preset::Gemini, Mode::Interactive) => vec!["-i".into(), p],
            (Preset::Gemini, Mode::Headless) => vec!["-p".into(), p, "-o".into(), "json".into()],
            (Preset::Aider, Mode::Interactive) => {
                vec!["--read".into(), prompt_file.display().to_string()]
            }
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
        p.argv(m, PROMPT, Path::new("/coord/prompts/agent-1.md"))
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
        assert_eq!(
            Preset::Claude.resume_argv("s-1", "go on").unwrap(),
            [
                "claude",
                "-p",
                "--resume",
                "s-1",
                "--output-format",
                "stream-json",
                "--verbose",
                "go on"
            ]
        );
        assert_eq!(
            Preset::Codex.resume_argv("t-1", "go on").unwrap(),
            ["codex", "exec", "resume", "--json", "t-1", "go on"]
        );
        assert!(Preset::Gemini.resume_argv("g", "go on").is_none());
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
