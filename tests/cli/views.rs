//! Read commands: list filters and JSON shapes, join-status, task show, agents.

use crate::support::{stderr, stdout, Env, CHAIN};
use serde_json::Value;

fn json(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

#[test]
fn list_json_has_the_documented_shape() {
    let env = Env::with_plan(CHAIN);
    let o = env.run(&["list", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = json(&o);
    let b = &rows[1];
    for key in [
        "id",
        "title",
        "status",
        "agent",
        "progress",
        "blockedBy",
        "ready",
        "waitingFor",
    ] {
        assert!(b.get(key).is_some(), "row lacks {key}: {b}");
    }
    assert_eq!(b["id"], "b");
    assert_eq!(b["status"], "pending");
    assert_eq!(b["ready"], false);
    assert_eq!(b["waitingFor"], serde_json::json!(["a"]));
    assert_eq!(b["blockedBy"], serde_json::json!(["a"]));
}

#[test]
fn list_filters_combine() {
    let env = Env::with_plan(CHAIN);
    assert!(env
        .run(&["task", "claim", "a", "--agent", "x"])
        .status
        .success());
    let ids = |args: &[&str]| -> Vec<String> {
        let mut full = vec!["list", "--json"];
        full.extend_from_slice(args);
        let v = json(&env.run(&full));
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&["--agent", "x"]), ["a"]);
    assert_eq!(ids(&["--status", "pending"]), ["b", "c"]);
    assert_eq!(ids(&["--status", "pending,in-progress"]), ["a", "b", "c"]);
    assert_eq!(ids(&["--unassigned"]), ["b", "c"]);
    assert!(ids(&["--ready"]).is_empty());
    let o = env.run(&["list", "--status", "bogus"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn show_structure_groups_phases() {
    let env = Env::with_plan(
        r#"{"tasks": {"setup/a": {"status": "completed"}, "setup/b": {}, "core/c": {"blockedBy": ["setup/b"]}}}"#,
    );
    let text = stdout(&env.run(&["list", "--show-structure"]));
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("setup/") && lines[0].contains("1/2 done"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("  a") && lines[1].contains("completed"),
        "{text}"
    );
    assert!(
        lines[3].starts_with("core/") && lines[3].contains("0/1 done"),
        "{text}"
    );
    assert!(lines[4].contains("waits for setup/b"), "{text}");
}

#[test]
fn join_status_exit_code_and_json() {
    let env = Env::with_plan(CHAIN);
    let o = env.run(&["join-status", "--json"]);
    assert_eq!(o.status.code(), Some(3));
    let v = json(&o);
    assert_eq!(v["point"], "all");
    assert_eq!(v["ready"], false);
    assert_eq!(v["tasks"].as_array().unwrap().len(), 3);
    for key in ["id", "status", "agent", "progress"] {
        assert!(v["tasks"][0].get(key).is_some(), "{key}");
    }
    assert!(env
        .run(&["task", "claim", "a", "--agent", "x"])
        .status
        .success());
    let text = stdout(&env.run(&["join-status"]));
    assert!(text.contains("Not Ready"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains(" a ") && l.contains("in-progress") && l.contains('x')),
        "{text}"
    );
    for t in ["a", "b", "c"] {
        assert!(env.run(&["task", "done", t]).status.success());
    }
    let o = env.run(&["join-status", "--point", "all"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("all: Ready"), "{}", stdout(&o));
}

#[test]
fn join_status_json_is_an_array_for_several_points() {
    let env = Env::with_plan(
        r#"{"tasks": {"a": {"status": "completed"}, "b": {}},
            "joinPoints": {"first": {"requires": ["a"]}, "second": {"requires": ["a", "b"]}}}"#,
    );
    let o = env.run(&["join-status", "--json"]);
    assert_eq!(o.status.code(), Some(3), "one point is not ready");
    let v = json(&o);
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["ready"], true);
    assert_eq!(v[1]["ready"], false);
    let o = env.run(&["join-status", "--point", "first"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn task_show_and_agents() {
    let env = Env::with_plan(CHAIN);
    assert!(env
        .run(&["task", "claim", "a", "--agent", "x"])
        .status
        .success());
    let v = json(&env.run(&["task", "show", "b", "--json"]));
    assert_eq!(v["waitingFor"], serde_json::json!(["a"]));
    assert_eq!(v["blocks"], serde_json::json!(["c"]));
    let text = stdout(&env.run(&["task", "show", "a"]));
    assert!(
        text.contains("First") && text.contains("agent: x"),
        "{text}"
    );
    let agents = json(&env.run(&["agents", "--json"]));
    assert_eq!(agents[0]["id"], "x");
    assert_eq!(agents[0]["currentTask"], "a");
    assert_eq!(agents[0]["claims"], serde_json::json!(["a"]));
}

#[test]
fn list_works_before_setup_and_creates_nothing() {
    let env = Env::with_plan(CHAIN);
    let before = env.snapshot();
    let o = env.run(&["list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(crate::support::changed(&before, &env.snapshot()).is_empty());
}

#[test]
fn watch_draws_tasks_agents_join_points_and_events() {
    let env = Env::with_plan(CHAIN);
    assert!(env
        .run(&["task", "claim", "a", "--agent", "x"])
        .status
        .success());
    assert!(env
        .run(&["task", "update", "a", "--progress", "40", "--agent", "x"])
        .status
        .success());
    let o = env.run(&["watch", "--once"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("0/3 done · 1 in progress · 0 ready · 2 waiting · 0 failed"),
        "{text}"
    );
    let agent = text
        .lines()
        .find(|l| l.starts_with("x "))
        .unwrap_or_else(|| panic!("no row for agent x: {text}"));
    assert!(
        agent.contains(" a ") && agent.contains("40%") && agent.contains("ago"),
        "{agent}"
    );
    assert!(text.contains("join all  Not Ready  0/3 done"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("x claim") && l.ends_with(" a")),
        "the claim is among the recent events: {text}"
    );

    // --exit-when-done returns once nothing is left to do; a bad interval is refused.
    let o = env.run(&["task", "done", "a", "--agent", "x"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for id in ["b", "c"] {
        let o = env.run(&["task", "done", id]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = env.run(&["watch", "--exit-when-done", "--interval", "0.2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("3/3 done"), "{}", stdout(&o));
    let o = env.run(&["watch", "--interval", "0"]);
    assert_eq!(o.status.code(), Some(2), "a usage error");
    assert!(stderr(&o).contains("--interval"), "{}", stderr(&o));
}

const ESTIMATED: &str = r#"{
  "tasks": {
    "a": {"title": "A", "status": "pending", "estimate": "2h"},
    "b": {"title": "B", "status": "pending", "estimate": "3h", "blockedBy": ["a"]},
    "c": {"title": "C", "status": "pending", "estimate": "1h", "blockedBy": ["a"]},
    "d": {"title": "D", "status": "pending", "estimate": "90m", "blockedBy": ["b", "c"]}
  },
  "joinPoints": {"early": {"requires": ["c"]}, "all": {"requires": ["d"]}}
}"#;

#[test]
fn plan_simulate_reports_makespan_bound_and_sweep() {
    let env = Env::with_plan(ESTIMATED);
    let o = env.run(&["plan", "simulate", "-n", "2", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    // a (0-2), then b (2-5) beside c (2-3), then d (5-6.5).
    assert_eq!(v["agents"], 2);
    assert_eq!(v["makespan"], 6.5);
    assert_eq!(v["criticalPath"], 6.5);
    assert_eq!(v["work"], 7.5);
    assert_eq!(v["lowerBound"], 6.5);
    let sweep: Vec<(u64, f64)> = v["sweep"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["agents"].as_u64().unwrap(),
                p["makespan"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(sweep, [(1, 7.5), (2, 6.5), (3, 6.5), (4, 6.5)]);
    let text = stdout(&env.run(&["plan", "simulate", "-n", "1"]));
    assert!(text.contains("with 1 agents: done in 7.5h"), "{text}");
    assert_eq!(
        env.run(&["plan", "simulate", "-n", "0"]).status.code(),
        Some(2)
    );

    // A claim counts as work under way: with a taken, one agent finishes in the same time,
    // and join-status's estimate follows the simulation.
    assert!(env
        .run(&["task", "claim", "a", "--agent", "x"])
        .status
        .success());
    // One live agent: a (0-2), then b before c (b is on the longer chain), so c is done at 6.
    let v = json(&env.run(&["join-status", "--point", "early", "--json"]));
    assert_eq!(v["estimatedHours"], 6.0, "{v}");
    let v = json(&env.run(&["join-status", "--point", "all", "--json"]));
    assert_eq!(
        v["estimatedHours"], 7.5,
        "one live agent does b, c, d in turn: {v}"
    );

    // A failed task makes a join point unreachable, and says so.
    let o = env.run(&["task", "update", "a", "--status", "failed", "--agent", "x"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&env.run(&["join-status", "--point", "all", "--json"]));
    assert_eq!(v["estimatedHours"], Value::Null, "{v}");
    let text = stdout(&env.run(&["join-status", "--point", "all"]));
    assert!(text.contains("cannot be ready"), "{text}");
    let v = json(&env.run(&["plan", "simulate", "--json"]));
    assert_eq!(v["unreachable"], 4, "{v}");
    assert_eq!(v["makespan"], 0.0, "{v}");
}

#[test]
fn a_reader_that_stops_early_ends_json_output_quietly() {
    use std::io::Read;
    let env = Env::with_plan(&crate::support::flat_plan(3000));
    for args in [&["list", "--json"][..], &["completions", "bash"][..]] {
        let mut child = env
            .process()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 1];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        // The pipe's read end is closed here, with most of the output unread.
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(o.stderr.is_empty(), "{args:?}: {}", stderr(&o));
    }
}

/// What people read in `list` and `join-status`, pinned: a plan with a task of each kind
/// (done, in progress with progress, ready, waiting, failed after attempts).
#[test]
fn list_and_join_status_read_as_pinned() {
    let env = Env::with_plan(
        r#"{"tasks": {
  "setup/repo": {"title": "Create the repository", "status": "completed", "agent": "agent-a", "estimate": "1h"},
  "core/schema": {"title": "Design the schema", "blockedBy": ["setup/repo"], "estimate": "2h", "priority": "high"},
  "core/api": {"title": "Build the API", "blockedBy": ["core/schema"], "estimate": "3h"},
  "ui/shell": {"title": "App shell", "blockedBy": ["setup/repo"], "estimate": "90m"},
  "ui/login": {"title": "Login page", "blockedBy": ["ui/shell", "core/api"]},
  "ops/ci": {"title": "CI pipeline", "status": "failed", "attempts": 3, "lastFailure": "the agent exited with status 1"}
},
"joinPoints": {"mvp": {"requires": ["core/*", "ui/*"]}, "infra": {"requires": ["setup/repo", "ops/ci"]}}}"#,
    );
    let o = env.run(&["task", "claim", "core/schema", "--agent", "agent-b"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = env.run(&[
        "task",
        "update",
        "core/schema",
        "--progress",
        "40",
        "--agent",
        "agent-b",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for (name, args) in [
        ("list", &["list"][..]),
        ("list-dependencies", &["list", "--show-dependencies"]),
        ("list-structure", &["list", "--show-structure"]),
        ("list-ready", &["list", "--ready"]),
        ("join-status", &["join-status"]),
    ] {
        let o = env.run(args);
        let shown = format!("{}--- stderr\n{}", stdout(&o), stderr(&o));
        insta::assert_snapshot!(name, shown);
    }
}

#[test]
fn an_agent_quiet_for_a_while_shows_as_stalled() {
    let env = Env::with_plan(&crate::support::flat_plan(2));
    assert!(env
        .run(&["task", "claim", "--next", "--agent", "quiet"])
        .status
        .success());
    assert!(env
        .run(&["task", "claim", "--next", "--agent", "busy"])
        .status
        .success());
    // Twenty minutes without a sign of life (well within its 30-minute lease).
    let then = (chrono::Utc::now() - chrono::Duration::minutes(20))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let mut reg = env.registry();
    reg["agents"]["quiet"]["heartbeat"] = then.clone().into();
    reg["agents"]["quiet"]["startTime"] = then.into();
    std::fs::write(
        env.registry_path(),
        serde_json::to_string_pretty(&reg).unwrap(),
    )
    .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&crate::support::stdout(&env.run(&["agents", "--json"]))).unwrap();
    let by_id = |id: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .unwrap()
            .clone()
    };
    assert!(
        by_id("quiet")["stalledMinutes"].as_i64().unwrap() >= 19,
        "{v}"
    );
    assert!(by_id("busy")["stalledMinutes"].is_null(), "{v}");
    let text = crate::support::stdout(&env.run(&["watch", "--once"]));
    assert!(text.contains("! quiet looks stalled"), "{text}");
}
