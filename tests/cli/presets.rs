//! Every preset as `launch --headless` really runs it: stand-ins for `claude`, `codex`,
//! `gemini`, `aider` and `opencode` on PATH record their argv and print what the real CLIs
//! print (FACTS.md), and the supervisor judges each run by that output.

use crate::support::{flat_plan, path_with, stderr, Env};
use std::path::{Path, PathBuf};

/// A stand-in CLI: records its argv (NUL-separated) as `<argv dir>/<program>-<task>`, then
/// prints `ok` or `fail` output for its kind, chosen by `$FAKE_RESULT`.
fn fake(bin: &Path, program: &str, ok: &str, fail: &str) {
    let body = format!(
        r#"#!/bin/sh
printf '%s\0' "$0" "$@" > "$FAKE_ARGV/{program}-$SWARM_TASK"
if [ "$FAKE_RESULT" = ok ]; then
{ok}
else
{fail}
fi
"#
    );
    let path = bin.join(program);
    std::fs::write(&path, body).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A directory of stand-ins for all five CLIs.
fn fakes(env: &Env) -> PathBuf {
    let bin = env.repo.parent().unwrap().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // claude -p --output-format stream-json --verbose: init, a message, the result event; the
    // failure is what the real CLI prints when not logged in (is_error with subtype success).
    fake(
        &bin,
        "claude",
        r#"echo '{"type":"system","subtype":"init","session_id":"s-1"}'
echo '{"type":"assistant","message":{"content":[{"type":"text","text":"working"}]}}'
echo '{"type":"result","subtype":"success","is_error":false,"result":"done","session_id":"s-1","num_turns":2,"total_cost_usd":0.01}'"#,
        r#"echo '{"type":"system","subtype":"init","session_id":"s-2"}'
echo '{"type":"result","subtype":"success","is_error":true,"result":"Not logged in · Please run /login","session_id":"s-2"}'
exit 1"#,
    );
    // codex exec --json: JSONL thread and turn events.
    fake(
        &bin,
        "codex",
        r#"echo '{"type":"thread.started","thread_id":"th-1"}'
echo '{"type":"turn.started"}'
echo '{"type":"turn.completed","usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":20}}'"#,
        r#"echo '{"type":"thread.started","thread_id":"th-2"}'
echo '{"type":"turn.failed","error":{"message":"stream disconnected before completion"}}'
exit 1"#,
    );
    // gemini -p … -o json: one pretty-printed object; exit 41 on an auth error.
    fake(
        &bin,
        "gemini",
        r#"printf '{\n  "session_id": "g-1",\n  "response": "done",\n  "stats": {}\n}\n'"#,
        r#"echo '{"session_id":"g-2","error":{"type":"AuthError","message":"Please set an Auth method","code":41}}'
exit 41"#,
    );
    // aider exits 0 whatever happened: only a task it marked done counts.
    fake(
        &bin,
        "aider",
        r#"swarm task done "$SWARM_TASK""#,
        r#"echo "Can't edit the file""#,
    );
    // opencode run: judged by its exit status.
    fake(&bin, "opencode", "echo done", "echo failed >&2; exit 1");
    bin
}

/// `launch --headless --agent PRESET` on a two-task plan, the stand-ins answering `result`.
fn launch(env: &Env, bin: &Path, preset: &str, result: &str) -> std::process::Output {
    let argv = env.repo.parent().unwrap().join("argv");
    std::fs::create_dir_all(&argv).unwrap();
    env.swarm()
        .args(["launch", "--headless", "--agent", preset])
        .env("PATH", path_with(bin))
        .env("FAKE_ARGV", &argv)
        .env("FAKE_RESULT", result)
        .output()
        .unwrap()
}

/// The argv `program` was started with for `task`.
fn argv(env: &Env, program: &str, task: &str) -> Vec<String> {
    let path = env
        .repo
        .parent()
        .unwrap()
        .join("argv")
        .join(format!("{program}-{task}"));
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut words: Vec<String> = raw.split('\0').map(str::to_string).collect();
    words.pop(); // after the last NUL
    words[0] = Path::new(&words[0])
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    words
}

/// The flags before the prompt (and after it, for gemini), the prompt replaced by `<prompt>`.
fn shape(words: &[String]) -> Vec<String> {
    words
        .iter()
        .map(|w| match w.starts_with("You are ") {
            true => "<prompt>".to_string(),
            false => w.clone(),
        })
        .collect()
}

#[test]
fn every_preset_runs_headless_with_its_real_argv_and_is_judged_by_its_output() {
    let expected: [(&str, &[&str]); 5] = [
        (
            "claude",
            &[
                "claude",
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "<prompt>",
            ],
        ),
        ("codex", &["codex", "exec", "--json", "<prompt>"]),
        ("gemini", &["gemini", "-p", "<prompt>", "-o", "json"]),
        ("aider", &["aider", "--yes-always", "--message", "<prompt>"]),
        ("opencode", &["opencode", "run", "<prompt>"]),
    ];
    for (preset, shape_expected) in expected {
        let env = Env::with_plan(&flat_plan(2));
        let bin = fakes(&env);
        let o = launch(&env, &bin, preset, "ok");
        assert!(o.status.success(), "{preset}: {}", stderr(&o));
        let plan = env.plan();
        for task in ["t0000", "t0001"] {
            assert_eq!(
                plan["tasks"][task]["status"],
                "completed",
                "{preset}: {plan}\n{}",
                stderr(&o)
            );
            let words = argv(&env, preset, task);
            assert_eq!(shape(&words), shape_expected, "{preset} {task}");
            let prompt = words.iter().find(|w| w.starts_with("You are ")).unwrap();
            // Headless: this one task, mark it done, stop; never the work-stealing loop.
            assert!(
                prompt.contains(&format!("swarm task done {task}")),
                "{prompt}"
            );
            assert!(prompt.contains("Do not claim another task"), "{prompt}");
            assert!(!prompt.contains("task claim"), "{prompt}");
        }
        assert!(
            stderr(&o).contains("2 task(s) run, 2 done"),
            "{preset}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn every_preset_s_reported_failure_counts_a_failed_attempt_with_its_reason() {
    let reasons = [
        ("claude", "Not logged in"),
        ("codex", "stream disconnected"),
        ("gemini", "Please set an Auth method"),
        ("aider", "without marking the task done"),
        ("opencode", "status 1"),
    ];
    for (preset, reason) in reasons {
        let env = Env::with_plan(&flat_plan(1));
        let bin = fakes(&env);
        let o = launch(&env, &bin, preset, "fail");
        assert!(o.status.success(), "{preset}: {}", stderr(&o));
        let task = &env.plan()["tasks"]["t0000"];
        assert_eq!(task["status"], "pending", "{preset}: {task}");
        assert_eq!(task["attempts"], 1, "{preset}: {task}");
        let why = task["lastFailure"].as_str().unwrap_or_default();
        assert!(why.contains(reason), "{preset}: {why:?} lacks {reason:?}");
    }
}
