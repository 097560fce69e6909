//! Validation of names that end up in paths, branch names and process environments.

use anyhow::{bail, Result};

/// Checks an agent id: letters, digits, `.`, `_`, `-`; no separators, no `..`, no leading
/// `.`/`-`, at most 100 characters, so it is safe as a file name, worktree name and ref part.
pub fn check_agent_id(id: &str) -> Result<()> {
    let why = if id.is_empty() {
        Some("it is empty")
    } else if id.len() > 100 {
        Some("it is longer than 100 characters")
    } else if id.starts_with(['.', '-']) {
        Some("it starts with '.' or '-'")
    } else if id.contains("..") {
        Some("it contains '..'")
    } else if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        Some("only letters, digits, '.', '_' and '-' are allowed")
    } else if id.ends_with(".lock") || id.ends_with('.') {
        Some("it ends with '.lock' or '.'")
    } else {
        None
    };
    match why {
        Some(why) => bail!("invalid agent id {id:?}: {why}"),
        None => Ok(()),
    }
}

/// Checks a task id: not blank, no control characters (ids appear in terminals and logs).
pub fn check_task_id(id: &str) -> Result<()> {
    // Most ids are printable ASCII that starts with a letter or digit: no need to decode them.
    let plain = |b: &u8| b.is_ascii_graphic() || *b == b' ';
    if id.as_bytes().first().is_some_and(u8::is_ascii_graphic) && id.as_bytes().iter().all(plain) {
        return Ok(());
    }
    if id.trim().is_empty() {
        bail!("invalid task id {id:?}: it is empty");
    }
    if id.chars().any(char::is_control) {
        bail!("invalid task id {id:?}: it contains a control character");
    }
    Ok(())
}

/// Checks a branch name with git's ref-name rules.
pub fn check_branch_name(name: &str) -> Result<()> {
    // libgit2 accepts a few names that `git branch` refuses.
    let git_refuses = name == "HEAD" || name == "@" || name.starts_with('-');
    if git_refuses || !git2::Branch::name_is_valid(name).unwrap_or(false) {
        bail!("invalid branch name {name:?}: git does not accept it as a branch name");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids() {
        for ok in [
            "a",
            "phase-0/task-000001",
            " a",
            "a b",
            "tâche-é",
            "x\u{3000}y",
        ] {
            assert!(check_task_id(ok).is_ok(), "{ok:?}");
        }
        for bad in ["", "   ", "\u{3000}", "a\tb", "a\u{7f}", "a\u{85}b", "\n"] {
            assert!(check_task_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn agent_ids() {
        for ok in ["agent-1", "agent-1764000000-42", "a.b_c"] {
            assert!(check_agent_id(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "a/b", "..", "a..b", "-x", ".x", "a b", "x.lock", "a\\b", "é",
        ] {
            assert!(check_agent_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn branch_names_follow_git() {
        assert!(check_branch_name("work/agent-1").is_ok());
        for bad in [
            "a..b", "a b", "x~1", "-x", "a.lock", "a//b", "@", "HEAD", "",
        ] {
            assert!(check_branch_name(bad).is_err(), "{bad}");
        }
    }
}
