//! `--agent-cmd TEMPLATE`: split into words like a shell would, but without one (no
//! expansions, no globbing, no command substitution), then fill in the placeholders.

use super::CommandInput;
use anyhow::{bail, Result};

/// Splits `template` into words and substitutes `{prompt}`, `{task}` and `{worktree}` inside
/// them. Without `{prompt}` anywhere, the prompt is appended as the last argument.
pub fn expand(template: &str, input: &CommandInput<'_>) -> Result<Vec<String>> {
    let words = split(template).map_err(|e| anyhow::anyhow!("--agent-cmd: {e}"))?;
    if words.is_empty() {
        bail!("--agent-cmd is empty: give the program to run, e.g. --agent-cmd 'my-agent --task {{task}}'");
    }
    let worktree = input.worktree.display().to_string();
    let has_prompt = words.iter().any(|w| w.contains("{prompt}"));
    let mut argv: Vec<String> = words
        .iter()
        .map(|w| {
            // One pass, so that a task id or prompt containing "{worktree}" stays as it is.
            let mut out = String::with_capacity(w.len());
            let mut rest = w.as_str();
            while let Some(start) = rest.find('{') {
                out.push_str(&rest[..start]);
                let tail = &rest[start..];
                let (value, len) = [
                    ("{prompt}", input.prompt),
                    ("{task}", input.task),
                    ("{worktree}", worktree.as_str()),
                ]
                .into_iter()
                .find(|(k, _)| tail.starts_with(k))
                .map(|(k, v)| (v, k.len()))
                .unwrap_or(("{", 1));
                out.push_str(value);
                rest = &tail[len..];
            }
            out.push_str(rest);
            out
        })
        .collect();
    if !has_prompt {
        argv.push(input.prompt.to_string());
    }
    Ok(argv)
}

/// Splits a command line into words: blanks separate words; `'…'` keeps everything literally;
/// `"…"` keeps everything but `\"`, `\\`, `` \` `` and `\$`; a backslash outside quotes keeps
/// the next character.
pub fn split(line: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some((_, '\'')) => break,
                        Some((_, c)) => word.push(c),
                        None => bail!("the quote ' at column {} is never closed", at + 1),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, c @ ('"' | '\\' | '`' | '$'))) => word.push(c),
                            Some((_, '\n')) => {}
                            Some((_, c)) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => break,
                        },
                        Some((_, c)) => word.push(c),
                        None => bail!("the quote \" at column {} is never closed", at + 1),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some((_, '\n')) => {}
                    Some((_, c)) => word.push(c),
                    None => bail!("a lone backslash ends the command"),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    static OPTIONS: crate::agent::AgentOptions = crate::agent::AgentOptions {
        permissions: crate::agent::Permissions::Edits,
        max_turns: None,
        max_budget_usd: None,
        writable: Vec::new(),
    };

    fn input() -> CommandInput<'static> {
        CommandInput {
            prompt: "the prompt {task}",
            task: "phase/a",
            worktree: Path::new("/w/x y"),
            prompt_file: Path::new("/p.md"),
            options: &OPTIONS,
        }
    }

    #[test]
    fn splits_like_a_shell_without_expanding() {
        let words = split(r#"sh -c 'echo $HOME; `x`' "a \"b\" $c" d\ e ''"#).unwrap();
        assert_eq!(
            words,
            ["sh", "-c", "echo $HOME; `x`", "a \"b\" $c", "d e", ""]
        );
        assert!(split("a 'b").is_err());
        assert!(split("a \"b").is_err());
    }

    #[test]
    fn placeholders_fill_inside_words() {
        let argv = expand("agent --task={task} -C {worktree} --msg {prompt}", &input()).unwrap();
        assert_eq!(
            argv,
            [
                "agent",
                "--task=phase/a",
                "-C",
                "/w/x y",
                "--msg",
                "the prompt {task}"
            ]
        );
    }

    #[test]
    fn prompt_goes_last_without_a_placeholder() {
        let argv = expand("agent --json '{}'", &input()).unwrap();
        assert_eq!(argv, ["agent", "--json", "{}", "the prompt {task}"]);
        assert!(expand("   ", &input()).is_err());
    }
}
