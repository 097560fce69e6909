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
    launch_with(env, bin, preset, result, &[])
}

/// `launch` with `extra` arguments.
fn launch_with(
    env: &Env,
    bin: &Path,
    preset: &str,
    result: &str,
    extra: &[&str],
) -> std::process::Output {
    let argv = env.repo.parent().unwrap().join("argv");
    std::fs::create_dir_all(&argv).unwrap();
    env.swarm()
        .args(["launch", "--headless", "--agent", preset])
        .args(extra)
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
    let mut out: Vec<String> = Vec::new();
    for w in words {
        let shown = match (w.starts_with("You are "), out.last().map(String::as_str)) {
            (true, _) => "<prompt>".to_string(),
            (false, Some("--add-dir")) => "<dir>".to_string(),
            _ => w.clone(),
        };
        out.push(shown);
    }
    out
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
                "--permission-mode",
                "acceptEdits",
                "<prompt>",
            ],
        ),
        (
            "codex",
            &[
                "codex",
                "exec",
                "--json",
                "-s",
                "workspace-write",
                "-c",
                "approval_policy=never",
                "--add-dir",
                "<dir>",
                "--add-dir",
                "<dir>",
                "<prompt>",
            ],
        ),
        (
            "gemini",
            &[
                "gemini",
                "--approval-mode",
                "auto_edit",
                "--skip-trust",
                "-p",
                "<prompt>",
                "-o",
                "json",
            ],
        ),
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
            stderr(&o).contains("2 task(s), 2 done, 0 not (2 run(s))"),
            "{preset}: {}",
            stderr(&o)
        );
        // What each run reported about itself is kept on the task.
        let run = &plan["tasks"]["t0000"]["runs"][0];
        let session = match preset {
            "claude" => Some("s-1"),
            "codex" => Some("th-1"),
            "gemini" => Some("g-1"),
            _ => None,
        };
        assert_eq!(run["sessionId"].as_str(), session, "{preset}: {run}");
        assert_eq!(run["outcome"], "done", "{preset}: {run}");
        if preset == "claude" {
            assert_eq!(
                (run["costUsd"].as_f64(), run["turns"].as_u64()),
                (Some(0.01), Some(2))
            );
        }
        if preset == "codex" {
            assert_eq!(run["turns"], 1, "{run}");
            assert_eq!(
                run["tokens"],
                serde_json::json!({"input": 100, "cachedInput": 0, "output": 20}),
                "{run}"
            );
        }
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
        // --fresh: no resumed session (claude and codex would otherwise try again at once).
        let o = launch_with(&env, &bin, preset, "fail", &["--fresh"]);
        assert!(o.status.success(), "{preset}: {}", stderr(&o));
        let task = &env.plan()["tasks"]["t0000"];
        assert_eq!(task["status"], "pending", "{preset}: {task}");
        assert_eq!(task["attempts"], 1, "{preset}: {task}");
        let why = task["lastFailure"].as_str().unwrap_or_default();
        assert!(why.contains(reason), "{preset}: {why:?} lacks {reason:?}");
    }
}

#[test]
fn a_failed_claude_run_is_recorded_and_its_session_resumed() {
    let env = Env::with_plan(&flat_plan(1));
    let bin = env.repo.parent().unwrap().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = env.repo.parent().unwrap().join("claude-argv");
    // Checks the argv it must get; the first run reports an error with exit 0, the resumed
    // one works and finishes the task.
    let body = format!(
        r#"#!/bin/sh
printf '%s\0' "$@" >> '{log}'; printf '\036' >> '{log}'
case " $* " in
  *" -p "*"--output-format stream-json --verbose"*) ;;
  *) echo "unexpected argv: $*" >&2; exit 64 ;;
esac
if [ "$2" = --resume ]; then
  [ "$3" = s-7 ] || {{ echo "resumed the wrong session: $3" >&2; exit 65; }}
  echo '{{"type":"system","subtype":"init","session_id":"s-7"}}'
  echo work > work.txt && git add work.txt && git -c user.name=c -c user.email=c@example.com commit -qm work
  echo '{{"type":"result","subtype":"success","is_error":false,"result":"done","session_id":"s-7","num_turns":3,"total_cost_usd":0.05,"duration_ms":900}}'
else
  echo '{{"type":"system","subtype":"init","session_id":"s-7"}}'
  echo '{{"type":"assistant","message":{{"content":[{{"type":"text","text":"working"}}]}}}}'
  echo '{{"type":"result","subtype":"error_during_execution","is_error":true,"errors":["tool crashed"],"session_id":"s-7","num_turns":2,"total_cost_usd":0.02}}'
fi
exit 0
"#,
        log = log.display()
    );
    let path = bin.join("claude");
    std::fs::write(&path, body).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = env
        .swarm()
        .args(["launch", "--headless"])
        .env("PATH", path_with(&bin))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("resuming session s-7"),
        "{}",
        stderr(&o)
    );
    let task = &env.plan()["tasks"]["t0000"];
    assert_eq!(task["status"], "completed", "{task}\n{}", stderr(&o));
    assert_eq!(task["attempts"], 1, "{task}");
    let runs = task["runs"].as_array().expect("runs recorded");
    assert_eq!(runs.len(), 2, "{task}");
    assert_eq!(runs[0]["sessionId"], "s-7");
    assert_eq!(runs[0]["costUsd"], 0.02);
    assert!(
        runs[0]["outcome"]
            .as_str()
            .unwrap()
            .contains("tool crashed"),
        "{task}"
    );
    assert_eq!(runs[1]["sessionId"], "s-7");
    assert_eq!(runs[1]["costUsd"], 0.05);
    assert_eq!(runs[1]["turns"], 3);
    assert_eq!(runs[1]["outcome"], "done");
    assert!(runs[1]["durationMs"].is_u64());
    // `task show --json` has them too.
    let shown: serde_json::Value = serde_json::from_str(&crate::support::stdout(
        &env.run(&["task", "show", "t0000", "--json"]),
    ))
    .unwrap();
    assert_eq!(shown["runs"].as_array().map(Vec::len), Some(2), "{shown}");
    let calls = std::fs::read_to_string(&log).unwrap();
    let calls: Vec<&str> = calls.split('\u{1e}').filter(|c| !c.is_empty()).collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(!calls[0].contains("--resume"));
    assert!(
        calls[1].starts_with("-p\0--resume\0s-7\0"),
        "{:?}",
        calls[1]
    );
    assert!(
        calls[1].contains("tool crashed"),
        "the resumed prompt says what happened"
    );
}

#[test]
fn a_spent_plan_budget_stops_new_claims_and_says_why() {
    let mut plan = flat_plan(3);
    plan.insert_str(1, r#""coordination": {"budgetUsd": 0.015}, "#);
    let env = Env::with_plan(&plan);
    let bin = fakes(&env);
    // Each stand-in claude run reports $0.01: the second run passes the budget.
    let o = launch(&env, &bin, "claude", "ok");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("budget is spent: $0.02 recorded of $0.015"),
        "{}",
        stderr(&o)
    );
    let p = env.plan();
    assert_eq!(
        crate::support::count_tasks(&p, "status", "completed"),
        2,
        "{p}"
    );
    assert_eq!(p["tasks"]["t0002"]["status"], "pending");
    let o = env.run(&["task", "claim", "--next", "--agent", "someone"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("coordination.budgetUsd"),
        "{}",
        stderr(&o)
    );
    let o = env.run(&["task", "claim", "t0002", "--agent", "someone"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("budget is spent"), "{}", stderr(&o));
    let o = env.run(&["list"]);
    assert!(
        stderr(&o).contains("$0.02 and 4 turns spent"),
        "{}",
        stderr(&o)
    );
    let o = env.run(&["watch", "--once"]);
    let out = crate::support::stdout(&o);
    assert!(out.contains("$0.02, 4 turns spent"), "{out}");
    let out = crate::support::stdout(&env.run(&["task", "show", "t0000"]));
    assert!(out.contains("spent: $0.01   turns: 2"), "{out}");
}

#[test]
fn each_preset_gets_the_permission_flags_of_each_policy() {
    // What each CLI documents (FACTS.md), for each policy, as its stand-in received it.
    let expected: &[(&str, &str, &[&str])] = &[
        ("claude", "ask", &["--permission-mode", "default"]),
        ("claude", "edits", &["--permission-mode", "acceptEdits"]),
        ("claude", "auto", &["--permission-mode", "auto"]),
        (
            "claude",
            "bypass",
            &["--permission-mode", "bypassPermissions"],
        ),
        (
            "codex",
            "ask",
            &["-s", "workspace-write", "-c", "approval_policy=never"],
        ),
        (
            "codex",
            "bypass",
            &["-s", "danger-full-access", "-c", "approval_policy=never"],
        ),
        ("gemini", "ask", &["--approval-mode", "default"]),
        (
            "gemini",
            "edits",
            &["--approval-mode", "auto_edit", "--skip-trust"],
        ),
        (
            "gemini",
            "auto",
            &["--approval-mode", "auto_edit", "--skip-trust"],
        ),
        (
            "gemini",
            "bypass",
            &["--approval-mode", "yolo", "--skip-trust"],
        ),
        ("aider", "ask", &["--yes-always"]),
        ("opencode", "bypass", &[]),
    ];
    for (preset, policy, flags) in expected {
        let env = Env::with_plan(&flat_plan(1));
        let bin = fakes(&env);
        let o = launch_with(&env, &bin, preset, "ok", &["--permissions", policy]);
        if *preset == "claude" && *policy == "bypass" && !o.status.success() {
            // As root outside a sandbox swarm refuses, as Claude Code would.
            assert!(stderr(&o).contains("IS_SANDBOX=1"), "{}", stderr(&o));
            continue;
        }
        assert!(o.status.success(), "{preset} {policy}: {}", stderr(&o));
        let words = argv(&env, preset, "t0000");
        let found = flags.is_empty() || words.windows(flags.len()).any(|w| w == *flags);
        assert!(found, "{preset} {policy}: {flags:?} not in {words:?}");
        if *preset == "claude" {
            let modes = words.iter().filter(|w| *w == "--permission-mode").count();
            assert_eq!(modes, 1, "{words:?}");
        }
    }
    // With IS_SANDBOX=1 (or not root), bypass reaches claude.
    let env = Env::with_plan(&flat_plan(1));
    let bin = fakes(&env);
    let argv_dir = env.repo.parent().unwrap().join("argv");
    std::fs::create_dir_all(&argv_dir).unwrap();
    let o = env
        .swarm()
        .args(["launch", "--headless", "--permissions", "bypass"])
        .env("PATH", path_with(&bin))
        .env("FAKE_ARGV", &argv_dir)
        .env("FAKE_RESULT", "ok")
        .env("IS_SANDBOX", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(argv(&env, "claude", "t0000").contains(&"bypassPermissions".to_string()));
}

/// A plan with pre-assigned agent `a` (its worktree made by setup), and stand-ins on PATH.
fn claude_worktree(env: &Env) -> (PathBuf, PathBuf) {
    env.write_plan(
        r#"{"tasks": {"t": {"title": "T"}},
  "coordination": {"agents": {"a": {"worktree": "../proj-a", "branch": "work/a"}}}}"#,
    );
    assert!(env.run(&["setup", "-q"]).status.success());
    (env.repo.parent().unwrap().join("proj-a"), fakes(env))
}

/// `launch --no-exec --as a EXTRA…` with the stand-ins on PATH; it must succeed.
fn launch_as_a(env: &Env, bin: &Path, extra: &[&str]) {
    let o = env
        .swarm()
        .args(["launch", "--no-exec", "--as", "a"])
        .args(extra)
        .env("PATH", path_with(bin))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The worktree's Claude Code settings.
fn claude_settings(wt: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(wt.join(".claude/settings.local.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Runs the hook command swarm installed for `event` in `worktree`, as Claude Code would:
/// through a shell, the hook's JSON on stdin, with the agent's environment.
fn run_hook(env: &Env, worktree: &Path, event: &str, agent: &str, payload: &str) -> String {
    let settings = claude_settings(worktree);
    let groups = settings["hooks"][event].as_array().unwrap();
    let command = groups
        .iter()
        .flat_map(|g| g["hooks"].as_array().unwrap())
        .map(|h| h["command"].as_str().unwrap())
        .find(|c| c.contains("agent hook"))
        .unwrap();
    let mut child = std::process::Command::new("sh")
        .args(["-c", command])
        .current_dir(worktree)
        .env("SWARM_AGENT_ID", agent)
        .env("SWARM_TASKS_DIR", &env.tasks)
        .env("CLAUDE_PROJECT_DIR", worktree)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(payload.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{event}: {}", stderr(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn claude_settings_allow_swarms_commands_keep_a_persons_rules_and_stay_out_of_git() {
    let env = Env::new();
    let (wt, bin) = claude_worktree(&env);
    std::fs::create_dir_all(wt.join(".claude")).unwrap();
    std::fs::write(
        wt.join(".claude/settings.local.json"),
        r#"{"permissions": {"allow": ["Bash(npm test)"]}, "env": {"FOO": "1"}}"#,
    )
    .unwrap();
    launch_as_a(&env, &bin, &[]);
    let v = claude_settings(&wt);
    let allow: Vec<&str> = v["permissions"]["allow"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    for rule in [
        "Bash(npm test)",
        "Bash(swarm task *)",
        "Bash(git add *)",
        "Bash(git commit *)",
    ] {
        assert!(allow.contains(&rule), "{rule} missing: {allow:?}");
    }
    assert_eq!(v["env"]["FOO"], "1");
    for event in ["Notification", "Stop", "SessionStart"] {
        assert!(v["hooks"][event].is_array(), "{event}: {v}");
    }
    assert_eq!(crate::support::git(&wt, &["status", "--porcelain"]), "");
    let ignored = crate::support::git(&wt, &["check-ignore", ".claude/settings.local.json"]);
    assert_eq!(ignored.trim(), ".claude/settings.local.json");
    // --no-hooks: the rules, no hooks.
    let env = Env::new();
    let (wt, bin) = claude_worktree(&env);
    launch_as_a(&env, &bin, &["--no-hooks"]);
    let v = claude_settings(&wt);
    assert!(v["hooks"].is_null(), "{v}");
    assert!(v["permissions"]["allow"].is_array());
}

#[test]
fn claude_hooks_show_an_agent_waiting_for_a_person_and_hold_a_stop_while_its_task_is_open() {
    let env = Env::new();
    let (wt, bin) = claude_worktree(&env);
    launch_as_a(&env, &bin, &[]);
    let payload = r#"{"session_id":"s-1","transcript_path":"/tmp/t.jsonl","cwd":"/w","hook_event_name":"Notification","message":"Claude needs your permission to use Bash","notification_type":"permission_prompt"}"#;
    run_hook(&env, &wt, "Notification", "a", payload);
    let agents: serde_json::Value =
        serde_json::from_str(&crate::support::stdout(&env.run(&["agents", "--json"]))).unwrap();
    let a = agents
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "a")
        .unwrap();
    assert_eq!(a["needsInput"]["type"], "permission_prompt", "{a}");
    assert_eq!(
        a["needsInput"]["message"],
        "Claude needs your permission to use Bash"
    );
    assert!(a["needsInput"]["since"].is_string());
    let text = crate::support::stdout(&env.run(&["agents"]));
    assert!(
        text.contains("a waits for you (permission_prompt"),
        "{text}"
    );

    // Stop while the task is in progress: blocked, with what to do; a stop that is already a
    // continuation is let through.
    let stop = r#"{"session_id":"s-1","hook_event_name":"Stop","stop_hook_active":false}"#;
    let out = run_hook(&env, &wt, "Stop", "a", stop);
    let reply: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(reply["decision"], "block");
    assert!(
        reply["reason"]
            .as_str()
            .unwrap()
            .contains("swarm task done t"),
        "{reply}"
    );
    let again = r#"{"session_id":"s-1","hook_event_name":"Stop","stop_hook_active":true}"#;
    assert_eq!(run_hook(&env, &wt, "Stop", "a", again).trim(), "");
    // The agent acted: it no longer waits for a person.
    let agents: serde_json::Value =
        serde_json::from_str(&crate::support::stdout(&env.run(&["agents", "--json"]))).unwrap();
    assert!(agents[0]["needsInput"].is_null(), "{agents}");
    // Done: the stop is allowed.
    let o = env
        .swarm_in(&wt)
        .args(["task", "done", "t"])
        .env("SWARM_AGENT_ID", "a")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(run_hook(&env, &wt, "Stop", "a", stop).trim(), "");
    // SessionStart records the session, for a launch that takes the worktree over later.
    let start = r#"{"session_id":"s-1","hook_event_name":"SessionStart","source":"startup"}"#;
    run_hook(&env, &wt, "SessionStart", "a", start);
    assert_eq!(env.registry()["agents"]["a"]["sessionId"], "s-1");
    let agents: serde_json::Value =
        serde_json::from_str(&crate::support::stdout(&env.run(&["agents", "--json"]))).unwrap();
    assert_eq!(agents[0]["sessionId"], "s-1", "{agents}");
}

/// A stand-in `claude` for takeovers: its first run names session s-9 (headless init event),
/// leaves a commit and an uncommitted file, waits until swarm recorded the session and kills
/// its supervisor (SIGKILL: nothing is settled); later runs log their argv and directory
/// (`<argv>\0<cwd>`) and finish the task.
fn crashing_claude(env: &Env) -> (PathBuf, PathBuf) {
    let dir = env.repo.parent().unwrap();
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("claude-calls");
    let body = format!(
        r#"#!/bin/sh
if [ ! -f '{first}' ]; then
  touch '{first}'
  echo '{{"type":"system","subtype":"init","session_id":"s-9"}}'
  echo one > one.txt && git add one.txt && git -c user.name=c -c user.email=c@example.com commit -qm one
  echo half > half.txt
  i=0
  until grep -q '"s-9"' "$SWARM_ROOT/.claude-agents/task-registry.json"; do
    i=$((i+1)); [ $i -gt 200 ] && exit 9; sleep 0.05
  done
  kill -9 $PPID; sleep 10; exit 0
fi
printf '%s\0' "$@" >> '{log}'; pwd >> '{log}'; printf '\036' >> '{log}'
[ -f half.txt ] && git add half.txt
echo two > two.txt && git add two.txt && git -c user.name=c -c user.email=c@example.com commit -qm two
echo '{{"type":"system","subtype":"init","session_id":"s-10"}}'
echo '{{"type":"result","subtype":"success","is_error":false,"result":"done","session_id":"s-10","num_turns":1,"total_cost_usd":0.01}}'
"#,
        first = dir.join("first-run").display(),
        log = log.display()
    );
    let path = bin.join("claude");
    std::fs::write(&path, body).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    (bin, log)
}

/// `launch --headless` with the stand-in `claude` in `bin`.
fn headless(env: &Env, bin: &Path) -> std::process::Output {
    env.swarm()
        .args(["launch", "--headless"])
        .env("PATH", path_with(bin))
        .output()
        .unwrap()
}

/// The first launch, killed with its agent: the worktree it left.
fn launch_and_crash(env: &Env, bin: &Path) -> PathBuf {
    let o = headless(env, bin);
    assert_eq!(o.status.code(), None, "killed: {}", stderr(&o));
    let reg = env.registry();
    let (_, agent) = reg["agents"].as_object().unwrap().iter().next().unwrap();
    assert_eq!(
        agent["sessionId"], "s-9",
        "recorded before the crash: {reg}"
    );
    PathBuf::from(agent["worktree"].as_str().unwrap())
}

/// The launch after the crash; it must succeed: what it said.
fn relaunch(env: &Env, bin: &Path) -> String {
    let o = headless(env, bin);
    assert!(o.status.success(), "{}", stderr(&o));
    stderr(&o)
}

#[test]
fn a_new_launch_takes_over_a_dead_agents_worktree_and_resumes_its_session() {
    let env = Env::with_plan(&flat_plan(1));
    let (bin, log) = crashing_claude(&env);
    let wt = launch_and_crash(&env, &bin);
    assert!(wt.join("half.txt").is_file());
    let err = relaunch(&env, &bin);
    assert!(err.contains("taking over the worktree"), "{err}");
    assert!(err.contains("resuming its session s-9"), "{err}");
    let calls = std::fs::read_to_string(&log).unwrap();
    let call = calls.split('\u{1e}').next().unwrap();
    assert!(call.starts_with("-p\0--resume\0s-9\0"), "{call:?}");
    assert!(
        call.contains("is dead"),
        "the prompt says what happened: {call:?}"
    );
    let cwd = call.rsplit('\0').next().unwrap().trim();
    assert_eq!(
        std::fs::canonicalize(cwd).unwrap(),
        std::fs::canonicalize(&wt).unwrap(),
        "resumed in the dead agent's worktree"
    );
    let task = &env.plan()["tasks"]["t0000"];
    assert_eq!(task["status"], "completed", "{task}");
    // The work left uncommitted is in the finished task's branch.
    let files = crate::support::git(&wt, &["ls-files"]);
    for f in ["one.txt", "half.txt", "two.txt"] {
        assert!(files.contains(f), "{f} in {files}");
    }
    let reg = env.registry();
    let agents = reg["agents"].as_object().unwrap();
    let (dead, second) = (
        &agents.values().next().unwrap(),
        agents.values().nth(1).unwrap(),
    );
    assert_eq!(dead["state"], "dead");
    assert!(
        dead["worktree"].is_null(),
        "the dead agent no longer names it: {reg}"
    );
    assert_eq!(second["worktree"].as_str().map(PathBuf::from), Some(wt));
}

#[test]
fn a_dead_agents_vanished_worktree_means_a_fresh_start_that_says_why() {
    let env = Env::with_plan(&flat_plan(1));
    let (bin, log) = crashing_claude(&env);
    let wt = launch_and_crash(&env, &bin);
    std::fs::remove_dir_all(&wt).unwrap();
    let err = relaunch(&env, &bin);
    assert!(
        err.contains("starting in a new worktree") && err.contains("is gone"),
        "{err}"
    );
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(!calls.contains("--resume"), "{calls:?}");
    let cwd = calls
        .split('\u{1e}')
        .next()
        .unwrap()
        .rsplit('\0')
        .next()
        .unwrap()
        .trim();
    assert_ne!(Path::new(cwd), wt);
    // The commit the dead agent made is kept: the new branch starts from it.
    let files = crate::support::git(Path::new(cwd), &["ls-files"]);
    assert!(
        files.contains("one.txt") && files.contains("two.txt"),
        "{files}"
    );
    assert_eq!(env.plan()["tasks"]["t0000"]["status"], "completed");
}

#[test]
fn every_attempt_resumed_in_place_is_set_aside_when_the_task_fails() {
    let env = Env::with_plan(&flat_plan(2));
    let bin = env.repo.parent().unwrap().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // t0000 always fails after a commit (one per attempt, resumed in place); t0001 works.
    let body = r#"#!/bin/sh
n=$(ls attempt-* 2>/dev/null | wc -l)
if [ "$SWARM_TASK" = t0000 ]; then
  echo x > "attempt-$n" && git add . && git -c user.name=c -c user.email=c@example.com commit -qm "t0000 attempt $n"
  echo '{"type":"system","subtype":"init","session_id":"s-a"}'
  echo '{"type":"result","subtype":"error_during_execution","is_error":true,"errors":["broken"],"session_id":"s-a"}'
else
  echo y > done.txt && git add . && git -c user.name=c -c user.email=c@example.com commit -qm "t0001 done"
  echo '{"type":"system","subtype":"init","session_id":"s-b"}'
  echo '{"type":"result","subtype":"success","is_error":false,"result":"ok","session_id":"s-b"}'
fi
"#;
    let path = bin.join("claude");
    std::fs::write(&path, body).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = headless(&env, &bin);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "t0000 ended failed: {err}");
    assert!(err.contains("failed: t0000"), "{err}");
    let plan = env.plan();
    assert_eq!(plan["tasks"]["t0000"]["status"], "failed", "{plan}");
    assert_eq!(plan["tasks"]["t0001"]["status"], "completed", "{plan}");
    // The agent's branch holds t0001's work only; every attempt at t0000 is on the branch
    // set aside for it.
    let reg = env.registry();
    let (_, agent) = reg["agents"].as_object().unwrap().iter().next().unwrap();
    let branch = agent["branch"].as_str().unwrap();
    let log = crate::support::git(&env.repo, &["log", "--format=%s", branch]);
    assert!(log.contains("t0001 done"), "{log}");
    assert!(!log.contains("attempt"), "{log}");
    let aside = plan["tasks"]["t0000"]["previousBranch"].as_str().unwrap();
    let log = crate::support::git(&env.repo, &["log", "--format=%s", aside]);
    for n in 0..3 {
        assert!(log.contains(&format!("t0000 attempt {n}")), "{log}");
    }
}
