//! Claude Code in a worktree: `.claude/settings.local.json` with the commands swarm tells the
//! agent to run pre-approved (`permissions.allow`), and hooks that tell swarm when the agent
//! needs a person, stops, or starts a session (FACTS.md). The file is merged with what is
//! there: a person's rules and hooks stay; swarm's own hooks are replaced by the current ones.

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// The commands the prompt gives the agent, as Claude Code permission rules (the space before
/// `*` matters: `Bash(git add *)` does not match `git add-on`).
pub const ALLOW: &[&str] = &[
    "Bash(swarm task *)",
    "Bash(swarm agent *)",
    "Bash(swarm list)",
    "Bash(swarm list *)",
    "Bash(git add *)",
    "Bash(git commit *)",
    "Bash(git status)",
    "Bash(git status *)",
    "Bash(git diff *)",
    "Bash(git log *)",
];

/// The hook events swarm listens to, and the `swarm agent hook` argument of each.
const HOOKS: &[(&str, &str)] = &[
    ("Notification", "notification"),
    ("Stop", "stop"),
    ("SessionStart", "session-start"),
];

/// What marks a hook command as swarm's own.
const MARK: &str = " agent hook ";

/// The settings file of the worktree at `worktree`.
pub fn settings_path(worktree: &Path) -> PathBuf {
    worktree.join(".claude").join("settings.local.json")
}

/// Writes (or merges into) the worktree's `.claude/settings.local.json`: swarm's allow rules,
/// and, with `hooks`, its hooks calling `swarm` (the program at `exe`). Refuses links (the
/// repository is untrusted: a committed `.claude` link would send the write elsewhere) and a
/// file that is not a JSON object (it is left as it is). Returns the file.
pub fn install(worktree: &Path, exe: &Path, hooks: bool) -> Result<PathBuf> {
    let dir = worktree.join(".claude");
    let path = settings_path(worktree);
    for p in [&dir, &path] {
        if std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink()) {
            bail!(
                "{}: is a symbolic link; swarm does not write Claude Code's settings through one",
                p.display()
            );
        }
    }
    let mut settings = match std::fs::read_to_string(&path) {
        Ok(text) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => map,
            _ => bail!(
                "{}: is not a JSON object; it is left as it is, and the agent will ask for permissions (fix or remove it, then launch again)",
                path.display()
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read", path.display())),
    };
    merge_allow(&mut settings)?;
    if hooks {
        merge_hooks(&mut settings, exe)?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let text = serde_json::to_string_pretty(&Value::Object(settings))? + "\n";
    let staged = crate::atomic::stage(&path, |out| out.write_all(text.as_bytes()))
        .with_context(|| format!("{}: cannot write", path.display()))?;
    let mut syncs = crate::atomic::DirSyncs::default();
    staged
        .install(&mut syncs)
        .with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(path)
}

/// Adds swarm's rules to `permissions.allow`, keeping every rule there.
fn merge_allow(settings: &mut Map<String, Value>) -> Result<()> {
    let permissions = settings
        .entry("permissions")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .context("settings: `permissions` is not an object")?;
    let allow = permissions
        .entry("allow")
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .context("settings: `permissions.allow` is not an array")?;
    for rule in ALLOW {
        if !allow.iter().any(|r| r.as_str() == Some(rule)) {
            allow.push(json!(rule));
        }
    }
    Ok(())
}

/// Puts swarm's hooks in place of the ones it installed before (found by their command),
/// keeping every other hook.
fn merge_hooks(settings: &mut Map<String, Value>, exe: &Path) -> Result<()> {
    let hooks = settings
        .entry("hooks")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .context("settings: `hooks` is not an object")?;
    let program = crate::agent::prompt::shell_word(&exe.display().to_string());
    for (event, arg) in HOOKS {
        let groups = hooks
            .entry(*event)
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .with_context(|| format!("settings: `hooks.{event}` is not an array"))?;
        groups.retain(|g| !is_swarms(g));
        groups.push(json!({"hooks": [{
            "type": "command",
            "command": format!("{program}{MARK}{arg}"),
            "timeout": 30
        }]}));
    }
    Ok(())
}

/// Whether a hook group is one swarm installed.
fn is_swarms(group: &Value) -> bool {
    group["hooks"].as_array().is_some_and(|hs| {
        hs.iter().any(|h| {
            h["command"]
                .as_str()
                .is_some_and(|c| c.contains(MARK) && c.contains("swarm"))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_with_a_persons_settings_and_replaces_only_its_own_hooks() {
        let dir = tempfile::tempdir().unwrap();
        let wt = dir.path();
        std::fs::create_dir_all(wt.join(".claude")).unwrap();
        std::fs::write(
            settings_path(wt),
            r#"{"permissions": {"allow": ["Bash(npm test)"], "deny": ["Bash(rm *)"]},
                "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "notify-me"}]}]},
                "model": "opus"}"#,
        )
        .unwrap();
        install(wt, Path::new("/old/swarm"), true).unwrap();
        install(wt, Path::new("/usr/bin/swarm"), true).unwrap();
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(settings_path(wt)).unwrap()).unwrap();
        let allow: Vec<&str> = v["permissions"]["allow"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert_eq!(allow[0], "Bash(npm test)");
        assert!(allow.contains(&"Bash(swarm task *)") && allow.contains(&"Bash(git commit *)"));
        assert_eq!(allow.len(), 1 + ALLOW.len(), "no rule twice");
        assert_eq!(v["permissions"]["deny"][0], "Bash(rm *)");
        assert_eq!(v["model"], "opus");
        let stop = v["hooks"]["Stop"].as_array().unwrap();
        assert_eq!(
            stop.len(),
            2,
            "the person's hook and swarm's, once: {stop:?}"
        );
        assert_eq!(stop[0]["hooks"][0]["command"], "notify-me");
        assert_eq!(
            stop[1]["hooks"][0]["command"],
            "/usr/bin/swarm agent hook stop"
        );
        assert!(v["hooks"]["Notification"][0]["hooks"][0]["command"]
            .as_str()
            .unwrap()
            .ends_with("agent hook notification"));
    }

    #[test]
    fn refuses_links_and_leaves_a_broken_file_alone() {
        let dir = tempfile::tempdir().unwrap();
        let wt = dir.path().join("wt");
        std::fs::create_dir_all(&wt).unwrap();
        std::os::unix::fs::symlink(dir.path(), wt.join(".claude")).unwrap();
        assert!(install(&wt, Path::new("swarm"), false).is_err());
        std::fs::remove_file(wt.join(".claude")).unwrap();
        std::fs::create_dir(wt.join(".claude")).unwrap();
        std::fs::write(settings_path(&wt), "{ not json").unwrap();
        assert!(install(&wt, Path::new("swarm"), false).is_err());
        assert_eq!(
            std::fs::read_to_string(settings_path(&wt)).unwrap(),
            "{ not json"
        );
    }
}
