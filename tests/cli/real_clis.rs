//! The real agent CLIs from npm (installed by `.ci/run` into a cache; `SWARM_REAL_CLIS` names
//! their bin directory), run offline: each fails at login in its own way, which is exactly a
//! failed attempt to judge. They show that swarm's argv is accepted and a real failure is
//! judged right. Without them these tests say they are skipped and check nothing.

use crate::support::{flat_plan, path_with, stderr, Env};
use std::path::PathBuf;

/// The directory holding the real `claude`, `codex` and `gemini`, if installed.
fn real_clis(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("SWARM_REAL_CLIS").map(PathBuf::from);
    match dir.filter(|d| d.join("claude").exists()) {
        Some(d) => Some(d),
        None => {
            eprintln!("SKIPPED {test}: SWARM_REAL_CLIS is not set (.ci/run installs the real CLIs from npm)");
            None
        }
    }
}

/// `launch --headless --agent PRESET EXTRA…` with the real CLIs first on PATH and a home of
/// the test's own (no login, nothing of the user's touched).
fn launch_real(
    env: &Env,
    bin: &std::path::Path,
    preset: &str,
    extra: &[&str],
) -> std::process::Output {
    let home = env.repo.parent().unwrap().join("home");
    std::fs::create_dir_all(&home).unwrap();
    env.swarm()
        .args(["launch", "--headless", "--agent", preset])
        .args(extra)
        .env("PATH", path_with(bin))
        .env("HOME", &home)
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .env_remove("GEMINI_API_KEY")
        .output()
        .unwrap()
}

/// The agent's log (its stdout and stderr), for what the CLI said about swarm's argv.
fn agent_logs(env: &Env) -> String {
    let dir = env.repo.join(".claude-agents/logs");
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect()
}

#[test]
fn the_real_claude_fails_at_login_and_swarm_records_it_as_a_failed_run() {
    let Some(bin) = real_clis("real claude") else {
        return;
    };
    let env = Env::with_plan(&flat_plan(1));
    let o = launch_real(
        &env,
        &bin,
        "claude",
        &["--max-turns", "3", "--timeout", "120s"],
    );
    // Every attempt (resumed in place) fails the same way: the task ends failed, and so does
    // the supervisor's run.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("failed: t0000"), "{}", stderr(&o));
    let task = &env.plan()["tasks"]["t0000"];
    assert_eq!(task["status"], "failed", "{task}");
    let why = task["lastFailure"].as_str().unwrap_or_default();
    assert!(why.contains("Not logged in"), "{task}");
    let runs = task["runs"].as_array().expect("runs recorded");
    assert!(!runs.is_empty());
    let session = runs[0]["sessionId"].as_str().expect("the CLI's session id");
    assert!(session.len() >= 8, "{session}");
    assert!(runs
        .iter()
        .all(|r| r["outcome"].as_str().unwrap().contains("Not logged in")));
    let log = agent_logs(&env);
    for refused in ["unknown option", "error: option", "requires --verbose"] {
        assert!(!log.contains(refused), "claude refused swarm's argv: {log}");
    }
    // Later runs resumed the first session: the same id, accepted by the real CLI.
    if runs.len() > 1 {
        assert_eq!(runs[1]["sessionId"].as_str(), Some(session), "{task}");
    }
}

#[test]
fn the_real_codex_gets_no_terminal_and_ends_at_the_timeout() {
    let Some(bin) = real_clis("real codex") else {
        return;
    };
    let env = Env::with_plan(&flat_plan(1));
    let started = std::time::Instant::now();
    let o = launch_real(&env, &bin, "codex", &["--timeout", "8s", "--fresh"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "it did not hang"
    );
    let task = &env.plan()["tasks"]["t0000"];
    assert_eq!(task["status"], "pending", "{task}");
    assert!(
        task["lastFailure"].as_str().unwrap().contains("timed out"),
        "{task}"
    );
    assert!(
        task["runs"][0]["sessionId"].is_string(),
        "the thread id: {task}"
    );
    let log = agent_logs(&env);
    assert!(
        !log.contains("unexpected argument"),
        "codex refused swarm's argv: {log}"
    );
}

#[test]
fn the_real_gemini_fails_at_authentication_with_its_own_message() {
    let Some(bin) = real_clis("real gemini") else {
        return;
    };
    let env = Env::with_plan(&flat_plan(1));
    let o = launch_real(&env, &bin, "gemini", &["--timeout", "120s"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let task = &env.plan()["tasks"]["t0000"];
    assert_eq!(task["status"], "pending", "{task}");
    let why = task["lastFailure"].as_str().unwrap();
    assert!(why.contains("gemini reported an error"), "{task}");
    assert!(
        why.contains("Please set an Auth method"),
        "its own message: {task}"
    );
    assert!(task["runs"][0]["sessionId"].is_string(), "{task}");
    let log = agent_logs(&env);
    assert!(
        !log.contains("Unknown argument"),
        "gemini refused swarm's argv: {log}"
    );
}
