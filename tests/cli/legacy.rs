//! Files written by the old scripts, with fields swarm does not know, keep working and keep
//! those fields in their order.

use crate::support::{stderr, stdout, Env};
use serde_json::Value;

const OLD_PLAN: &str = r#"{
  "version": "2024-legacy",
  "tasks": {
    "setup-foundation/project-structure": {
      "title": "Project structure",
      "description": "Lay out the crate",
      "owner": "team-a",
      "status": "pending",
      "blockedBy": [],
      "notes": ["keep", "these"],
      "agent": null,
      "claimed": false,
      "zz-last": {"nested": true}
    },
    "core-features/api": {
      "title": "API",
      "status": "pending",
      "blockedBy": ["setup-foundation/project-structure"],
      "priority": "high",
      "estimate": "2h"
    }
  },
  "coordination": {"agents": {}, "mode": "manual"},
  "joinPoints": {"integration": {"requires": ["setup-foundation/*", "core-features/api"], "owner": "lead"}},
  "trailer": 42
}"#;

const OLD_REGISTRY: &str = r#"{
  "version": "1.0",
  "lastUpdated": "2024-01-01T00:00:00Z",
  "agents": {
    "agent-1700000000-1234": {
      "name": "claude-worker-1234",
      "startTime": "2024-01-01T00:00:00Z",
      "currentTask": null,
      "terminal": "tmux:1"
    }
  },
  "claimedTasks": {},
  "custom": {"keep": "me"}
}"#;

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn old_format_files_load_and_keep_extra_fields_in_order() {
    let env = Env::with_plan(OLD_PLAN);
    std::fs::create_dir_all(env.repo.join(".claude-agents")).unwrap();
    std::fs::write(env.registry_path(), OLD_REGISTRY).unwrap();
    let before = env.plan();

    let o = env.run(&["task", "claim", "--next", "--agent", "agent-new"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "setup-foundation/project-structure");

    let after = env.plan();
    assert_eq!(
        keys(&after),
        keys(&before),
        "top-level keys and their order"
    );
    assert_eq!(after["trailer"], 42);
    assert_eq!(after["version"], "2024-legacy");
    assert_eq!(after["coordination"]["mode"], "manual");
    assert_eq!(after["joinPoints"]["integration"]["owner"], "lead");
    let task = &after["tasks"]["setup-foundation/project-structure"];
    assert_eq!(
        keys(task),
        [
            "title",
            "description",
            "owner",
            "status",
            "blockedBy",
            "notes",
            "agent",
            "claimed",
            "zz-last"
        ],
        "known and unknown task fields stay where they were"
    );
    assert_eq!(task["notes"], serde_json::json!(["keep", "these"]));
    assert_eq!(task["zz-last"]["nested"], true);
    assert_eq!(task["status"], "in-progress");
    assert_eq!(task["agent"], "agent-new");
    assert_eq!(
        after["tasks"]["core-features/api"],
        before["tasks"]["core-features/api"]
    );

    let reg = env.registry();
    assert_eq!(reg["custom"]["keep"], "me");
    assert_eq!(reg["agents"]["agent-1700000000-1234"]["terminal"], "tmux:1");
    assert_eq!(
        reg["claimedTasks"]["setup-foundation/project-structure"]["agent"],
        "agent-new"
    );
}

#[test]
fn an_old_registry_claim_wins_over_pending_in_the_plan() {
    // The old scripts wrote claims to the registry only; swarm must not hand the task out again.
    let env = Env::with_plan(OLD_PLAN);
    std::fs::create_dir_all(env.repo.join(".claude-agents")).unwrap();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let reg = OLD_REGISTRY
        .replace("\"claimedTasks\": {}", &format!(
            "\"claimedTasks\": {{\"setup-foundation/project-structure\": {{\"agent\": \"agent-1700000000-1234\", \"claimedAt\": \"{now}\"}}}}"
        ));
    std::fs::write(env.registry_path(), reg).unwrap();
    let o = env.run(&["task", "claim", "--next", "--agent", "agent-new"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let plan = env.plan();
    let task = &plan["tasks"]["setup-foundation/project-structure"];
    assert_eq!(task["status"], "in-progress");
    assert_eq!(task["agent"], "agent-1700000000-1234");
}

#[test]
fn an_old_claim_past_its_lease_is_released() {
    let env = Env::with_plan(OLD_PLAN);
    std::fs::create_dir_all(env.repo.join(".claude-agents")).unwrap();
    let reg = OLD_REGISTRY.replace(
        "\"claimedTasks\": {}",
        "\"claimedTasks\": {\"setup-foundation/project-structure\": {\"agent\": \"agent-1700000000-1234\", \"claimedAt\": \"2024-01-01T00:00:00Z\"}}",
    );
    std::fs::write(env.registry_path(), reg).unwrap();
    let o = env.run(&["task", "claim", "--next", "--agent", "agent-new"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("agent-1700000000-1234 is dead"),
        "{}",
        stderr(&o)
    );
    let plan = env.plan();
    let task = &plan["tasks"]["setup-foundation/project-structure"];
    assert_eq!(task["agent"], "agent-new");
    assert_eq!(task["attempts"], 1);
    assert_eq!(
        env.registry()["agents"]["agent-1700000000-1234"]["state"],
        "dead"
    );
}

#[test]
fn a_claim_rewrites_only_the_claimed_task_and_keeps_the_file_layout() {
    let plan = "{\n\t\"note\": \"hand written\",\n\t\"tasks\": {\n\t\t\"a\": {\"title\": \"A\"},\n\t\t\"b\": {\n\t\t\t\"title\": \"B\",\n\t\t\t\"blockedBy\": [\"a\"]\n\t\t}\n\t}\n}\n";
    let env = Env::with_plan(plan);
    assert!(env
        .run(&["task", "claim", "a", "--agent", "x"])
        .status
        .success());
    let after = std::fs::read_to_string(env.plan_path()).unwrap();
    let expected_a = "\t\t\"a\": {\"title\": \"A\", \"status\": \"in-progress\", \"agent\": \"x\", \"claimed\": true},";
    assert_eq!(
        after,
        plan.replace("\t\t\"a\": {\"title\": \"A\"},", expected_a),
        "{after}"
    );
    assert!(env
        .run(&["task", "done", "a", "--agent", "x"])
        .status
        .success());
    assert!(env
        .run(&["task", "claim", "b", "--agent", "x"])
        .status
        .success());
    let after = std::fs::read_to_string(env.plan_path()).unwrap();
    assert!(
        after.contains("\t\t\"b\": {\n\t\t\t\"title\": \"B\",\n\t\t\t\"blockedBy\": [\"a\"],\n\t\t\t\"status\": \"in-progress\",\n\t\t\t\"agent\": \"x\",\n\t\t\t\"claimed\": true\n\t\t}"),
        "multi-line objects keep their indentation, and untouched values stay as written: {after}"
    );
    assert!(after.starts_with("{\n\t\"note\": \"hand written\",\n"));
}

/// Fields swarm does not know survive byte for byte in a task it rewrites: numbers as written
/// (`1.10`, `1e2`, integers beyond 64 bits), escapes, nested values, keys and spacing.
#[test]
fn unknown_fields_of_a_rewritten_task_survive_byte_for_byte() {
    let task = r#"{"title": "A", "cost": 1.10, "big": 123456789012345678901234567890, "e": 1e2, "neg": -0.0, "s": "caf\u00e9 \/ \"q\"", "meta":{"n":[1.50,2E+3]}}"#;
    let plan = format!("{{\"tasks\": {{\"a\": {task}}}}}\n");
    let env = Env::with_plan(&plan);
    let o = env.run(&["task", "claim", "a", "--agent", "x"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = std::fs::read_to_string(env.plan_path()).unwrap();
    let claimed = format!(
        "{}, \"status\": \"in-progress\", \"agent\": \"x\", \"claimed\": true}}",
        &task[..task.len() - 1]
    );
    assert_eq!(after, plan.replace(task, &claimed));
}

/// A plan saved on Windows keeps its line endings in the tasks swarm rewrites.
#[test]
fn a_crlf_plan_keeps_crlf_lines() {
    let plan =
        "{\r\n  \"tasks\": {\r\n    \"a\": {\r\n      \"title\": \"A\"\r\n    }\r\n  }\r\n}\r\n";
    let env = Env::with_plan(plan);
    let o = env.run(&["task", "claim", "a", "--agent", "x"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = std::fs::read_to_string(env.plan_path()).unwrap();
    assert!(after.contains("\"claimed\": true"), "{after}");
    assert_eq!(
        after.matches('\n').count(),
        after.matches("\r\n").count(),
        "{after:?}"
    );
}

/// A field nested far deeper than serde's recursion limit neither fails validation nor any
/// claim, and survives the rewrite of its task byte for byte.
#[test]
fn a_deeply_nested_field_is_kept_and_never_breaks_a_claim() {
    let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    let plan = format!("{{\"tasks\": {{\"a\": {{\"x\": {deep}}}, \"b\": {{}}}}}}");
    let env = Env::with_plan(&plan);
    let o = env.run(&["plan", "validate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for agent in ["x", "y"] {
        let o = env.run(&["task", "claim", "--next", "--agent", agent]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let after = std::fs::read_to_string(env.plan_path()).unwrap();
    assert!(after.contains(&deep));
}
