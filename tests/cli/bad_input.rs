//! Bad input: every case exits 1 with a message that names the file (and line:column for
//! JSON), and leaves every file on disk byte for byte as it was.

use crate::support::{stderr, Env, CHAIN};
use std::fs;

/// One bad input: how to break the workspace, what to run, what the message must contain.
struct Case {
    name: &'static str,
    plan: Option<&'static str>,
    prepare: fn(&Env),
    args: &'static [&'static str],
    expect: &'static [&'static str],
}

fn nothing(_: &Env) {}

fn set_up(env: &Env) {
    let o = env.run(&["setup", "-q"]);
    assert!(o.status.success(), "setup: {}", stderr(&o));
}

const CLAIM: &[&str] = &["task", "claim", "--next", "--agent", "x"];
const LIST: &[&str] = &["list"];

fn cases() -> Vec<Case> {
    let c = |name, plan, args, expect| Case {
        name,
        plan: Some(plan),
        prepare: nothing,
        args,
        expect,
    };
    vec![
        c("broken json", r#"{"tasks": {"a": {"status": "pending"}"#, CLAIM, &["status.json:1:", "cut short"]),
        c("trailing comma", "{\"tasks\": {\"a\": {},}}", LIST, &["status.json:1:"]),
        c("garbage", "tasks: [a, b]", LIST, &["status.json:1:2:", "expected ident"]),
        c("empty file", "", LIST, &["status.json:1:1:", "cut short"]),
        c("top level array", "[1, 2]", LIST, &["status.json:1:1:", "expected a JSON object"]),
        c("tasks missing", "{\"joinPoints\": {}}", CLAIM, &["status.json:1:", "missing field `tasks`"]),
        c("tasks is array", "{\n  \"tasks\": [\"a\"]\n}", LIST, &["status.json:2:", "tasks"]),
        c("task is string", "{\"tasks\": {\"a\": \"todo\"}}", LIST, &["status.json:1:", "tasks.a"]),
        c("blockedBy is string", "{\"tasks\": {\n \"a\": {\"blockedBy\": \"b\"}}}", CLAIM, &["status.json:2:", "tasks.a.blockedBy", "sequence"]),
        c("title is number", "{\"tasks\": {\"a\": {\"title\": 7}}}", LIST, &["status.json:1:", "tasks.a.title", "string"]),
        c("unknown status", "{\"tasks\": {\n\n  \"a\": {\"status\": \"done\"}}}", LIST, &["status.json:3:", "tasks.a.status", "unknown variant `done`", "in-progress"]),
        c("bad priority", "{\"tasks\": {\"a\": {\"priority\": \"urgent\"}}}", LIST, &["status.json:1:", "tasks.a.priority", "\"high\""]),
        c("bad estimate", "{\"tasks\": {\"a\": {\"estimate\": \"soon\"}}}", LIST, &["status.json:1:", "tasks.a.estimate", "90m"]),
        c("progress over 100", "{\"tasks\": {\"a\": {\"progress\": 150}}}", LIST, &["status.json:1:", "tasks.a.progress", "0 to 100"]),
        c("duplicate task id", "{\"tasks\": {\"a\": {},\n \"a\": {}}}", CLAIM, &["status.json:2:", "duplicate key \\\"a\\\""]),
        c("empty task id", "{\"tasks\": {\"\": {}}}", LIST, &["status.json:1:", "empty id"]),
        c("control char in id", "{\"tasks\": {\"a\\nb\": {}}}", LIST, &["status.json:1:12:", "control character"]),
        c("unknown blocker", "{\"tasks\": {\"a\": {}, \"b\": {\"blockedBy\": [\"zz\"]}}}", CLAIM, &["status.json:1:41:", "task \\\"b\\\" is blocked by \\\"zz\\\"", "not a task"]),
        c("unknown blocker after a nested blockedBy", "{\"tasks\": {\"a\": {}, \"b\": {\"meta\": {\"blockedBy\": [\"zz\"]}, \"blockedBy\": [\"zz\"]}}}", CLAIM, &["status.json:1:72:", "task \\\"b\\\" is blocked by \\\"zz\\\""]),
        c("cycle", "{\"tasks\": {\"a\": {\"blockedBy\": [\"c\"]}, \"b\": {\"blockedBy\": [\"a\"]}, \"c\": {\"blockedBy\": [\"b\"]}}}", CLAIM, &["status.json:1:12:", "dependency cycle", "\\\"a\\\"", "\\\"b\\\"", "\\\"c\\\""]),
        c("self cycle", "{\"tasks\": {\"a\": {\"blockedBy\": [\"a\"]}}}", LIST, &["status.json:1:12:", "dependency cycle: \\\"a\\\" -> \\\"a\\\""]),
        c("join point unknown task", "{\"tasks\": {\"a\": {}}, \"joinPoints\": {\"j\": {\"requires\": [\"nope\"]}}}", LIST, &["status.json", "joinPoints.j", "\\\"nope\\\""]),
        c("join point glob matches nothing", "{\"tasks\": {\"a\": {}}, \"joinPoints\": {\"j\": {\"requires\": [\"x/*\"]}}}", LIST, &["status.json", "matches no task"]),
        c("join point without requires", "{\"tasks\": {\"a\": {}}, \"joinPoints\": {\"j\": {}}}", LIST, &["status.json:1:", "joinPoints.j", "requires"]),
        c("join point requires string", "{\"tasks\": {\"a\": {}}, \"joinPoints\": {\"j\": {\"requires\": \"a\"}}}", LIST, &["status.json:1:", "joinPoints.j.requires"]),
        c("agent id with slash", "{\"tasks\": {\"a\": {}}, \"coordination\": {\"agents\": {\"a/b\": {}}}}", LIST, &["status.json", "invalid agent id \\\"a/b\\\""]),
        c("agent branch git refuses", "{\"tasks\": {\"a\": {}}, \"coordination\": {\"agents\": {\"ag\": {\"branch\": \"a..b\"}}}}", LIST, &["status.json", "coordination.agents.ag.branch", "a..b"]),
        c("two agents share a worktree", "{\"tasks\": {\"a\": {}}, \"coordination\": {\"agents\": {\"x\": {\"worktree\": \"../w\"}, \"y\": {\"worktree\": \"../w/\"}}}}", LIST, &["status.json", "coordination.agents.y.worktree", "also the worktree of \\\"x\\\""]),
        c("two agents share a branch", "{\"tasks\": {\"a\": {}}, \"coordination\": {\"agents\": {\"x\": {\"branch\": \"f/a\"}, \"y\": {\"branch\": \"f/a\"}}}}", LIST, &["status.json", "coordination.agents.y.branch", "also the branch of"]),
        c("coordination is array", "{\"tasks\": {\"a\": {}}, \"coordination\": [{\"agents\": {}}]}", LIST, &["status.json:1:", "coordination", "a JSON object"]),
        c("agents is array", "{\"tasks\": {\"a\": {}}, \"coordination\": {\"agents\": []}}", LIST, &["status.json:1:", "coordination.agents"]),
        c("integration is a string", "{\"tasks\": {\"a\": {}}, \"coordination\": {\"integration\": \"main\"}}", LIST, &["status.json:1:", "coordination.integration", "a JSON object"]),
        c("integration branch git refuses", "{\"tasks\": {\"a\": {}}, \"coordination\": {\"integration\": {\"branch\": \"a..b\"}}}", LIST, &["status.json", "coordination.integration.branch", "a..b"]),
        c("verify is a number", "{\"tasks\": {\"a\": {}}, \"coordination\": {\"integration\": {\"verify\": 7}}}", LIST, &["status.json:1:", "coordination.integration.verify", "expected a command"]),
        c("verify is empty", "{\"tasks\": {\"a\": {}}, \"coordination\": {\"integration\": {\"verify\": \" \"}}}", LIST, &["status.json:1:", "coordination.integration.verify", "empty command"]),
        c("verify has an open quote", "{\"tasks\": {\n \"a\": {\"verify\": \"cargo 'test\"}}}", LIST, &["status.json:2:", "tasks.a.verify", "never closed"]),
        c("verify timeout too short", "{\"tasks\": {\"a\": {}}, \"coordination\": {\"integration\": {\"verifyTimeout\": 0}}}", LIST, &["status.json", "verifyTimeout", "too short"]),
        c("verify timeout too long", "{\"tasks\": {\"a\": {}}, \"coordination\": {\"integration\": {\"verifyTimeout\": 1e16}}}", LIST, &["status.json", "verifyTimeout", "more than a year"]),
        c("budget is negative", "{\"tasks\": {\"a\": {}}, \"coordination\": {\"budgetUsd\": -5}}", LIST, &["status.json", "coordination.budgetUsd", "0 or more"]),
        c("budget is a string", "{\"tasks\": {\"a\": {}}, \"coordination\": {\"budgetUsd\": \"25\"}}", LIST, &["status.json:1:", "coordination.budgetUsd"]),
        c("max agents is zero", "{\"tasks\": {\"a\": {}}, \"coordination\": {\"maxAgents\": 0}}", LIST, &["status.json", "coordination.maxAgents", "1 or more"]),
        c("worktree link outside", "{\"tasks\": {\"a\": {}}, \"coordination\": {\"worktree\": {\"link\": [\"../up\"]}}}", LIST, &["status.json", "coordination.worktree.link[0]", "outside the repository"]),
        c("worktree link of swarm's folder", "{\"tasks\": {\"a\": {}}, \"coordination\": {\"worktree\": {\"link\": [\"./.claude-agents/logs\"]}}}", LIST, &["status.json", "coordination.worktree.link[0]", "swarm's own folder"]),
        c("worktree copy absolute", "{\"tasks\": {\"a\": {}}, \"coordination\": {\"worktree\": {\"copy\": [\"/etc\"]}}}", LIST, &["status.json", "coordination.worktree.copy[0]", "absolute"]),
        c("worktree include bad glob", "{\"tasks\": {\"a\": {}}, \"coordination\": {\"worktree\": {\"include\": [\"a/[b\"]}}}", LIST, &["status.json", "coordination.worktree.include[0]", "not a valid glob"]),
        c("worktree ports is a string", "{\"tasks\": {\"a\": {}}, \"coordination\": {\"worktree\": {\"ports\": \"2\"}}}", LIST, &["status.json:1:", "coordination.worktree.ports"]),
        c("worktree setup is empty", "{\"tasks\": {\"a\": {}}, \"coordination\": {\"worktree\": {\"setup\": []}}}", LIST, &["status.json:1:", "coordination.worktree.setup", "empty command"]),
        c("runs is an object", "{\"tasks\": {\"a\": {\"runs\": {}}}}", LIST, &["status.json:1:", "tasks.a.runs"]),
        c("files is a string", "{\"tasks\": {\"a\": {\"files\": \"src/**\"}}}", LIST, &["status.json:1:", "tasks.a.files", "sequence"]),
        Case { name: "missing plan", plan: None, prepare: nothing, args: CLAIM, expect: &["status.json", "no plan here"] },
        Case {
            name: "missing project dir",
            plan: None,
            prepare: |env| fs::remove_dir(env.tasks.join("proj")).unwrap(),
            args: LIST,
            expect: &["status.json", "project directory", "does not exist"],
        },
        Case {
            name: "unreadable plan (a directory)",
            plan: None,
            prepare: |env| fs::create_dir(env.plan_path()).unwrap(),
            args: LIST,
            expect: &["status.json", "cannot read"],
        },
        Case {
            name: "plan not utf-8",
            plan: None,
            prepare: |env| fs::write(env.plan_path(), b"{\"tasks\": {\"\xff\": {}}}").unwrap(),
            args: LIST,
            expect: &["status.json", "UTF-8"],
        },
        Case {
            name: "registry not json",
            plan: Some(CHAIN),
            prepare: |env| {
                set_up(env);
                fs::write(env.registry_path(), "{\"agents\": oops}").unwrap();
            },
            args: CLAIM,
            expect: &["task-registry.json:1:12:", "not valid"],
        },
        Case {
            name: "registry wrong type",
            plan: Some(CHAIN),
            prepare: |env| {
                set_up(env);
                fs::write(env.registry_path(), "{\"agents\": [],\n\"claimedTasks\": {}}").unwrap();
            },
            args: LIST,
            expect: &["task-registry.json:1:", "agents"],
        },
        Case {
            name: "registry claim without agent",
            plan: Some(CHAIN),
            prepare: |env| {
                set_up(env);
                fs::write(env.registry_path(), "{\"claimedTasks\": {\"a\": {\"claimedAt\": \"x\"}}}").unwrap();
            },
            args: CLAIM,
            expect: &["task-registry.json:1:", "claimedTasks.a", "agent"],
        },
        c("bad agent id on the command line", CHAIN, &["task", "claim", "--next", "--agent", "../evil"], &["invalid agent id \\\"../evil\\\""]),
        c("claim unknown task", CHAIN, &["task", "claim", "nope", "--agent", "x"], &["status.json", "no task \\\"nope\\\""]),
        c("done unknown task", CHAIN, &["task", "done", "nope"], &["status.json", "no task \\\"nope\\\""]),
        c("unknown join point", CHAIN, &["join-status", "--point", "nope"], &["status.json", "no join point \\\"nope\\\"", "all"]),
        c("project name with slash", CHAIN, &["--project", "../x", "list"], &["invalid project name"]),
        c("release unclaimed task", CHAIN, &["task", "release", "a"], &["not claimed"]),
        c("start an unclaimed task before setup", CHAIN, &["task", "update", "a", "--status", "in-progress"], &["not claimed"]),
        c("unknown task in an agent's list", r#"{"tasks": {"a": {}}, "coordination": {"agents": {"w": {"tasks": ["a", "nope"]}}}}"#, LIST, &["status.json", "coordination.agents.w.tasks", "\\\"nope\\\" is not a task"]),
        Case {
            name: "byte-order mark",
            plan: None,
            prepare: |env| fs::write(env.plan_path(), "\u{feff}{\"tasks\": {\"a\": {}}}").unwrap(),
            args: LIST,
            expect: &["status.json:1:1:", "byte-order mark"],
        },
        c("a worktree inside .git", r#"{"tasks": {"a": {}}, "coordination": {"agents": {"w": {"worktree": ".git/w"}}}}"#, &["setup"], &["status.json", "inside a git directory"]),
        Case {
            name: "a pattern too big to compile",
            plan: None,
            prepare: |env| {
                let pattern = "?*".repeat(50_000);
                env.write_plan(&format!("{{\"tasks\": {{\"a\": {{}}}}, \"joinPoints\": {{\"j\": {{\"requires\": [\"{pattern}\"]}}}}}}"));
            },
            args: LIST,
            expect: &["status.json", "joinPoints.j.requires", "cannot be used"],
        },
        Case {
            name: "a tracked coordination dir",
            plan: Some(CHAIN),
            prepare: |env| {
                let coord = env.repo.join(".claude-agents");
                fs::create_dir_all(&coord).unwrap();
                fs::write(coord.join("task-registry.json"), "{}").unwrap();
                crate::support::git(&env.repo, &["add", "-f", ".claude-agents"]);
                crate::support::git(&env.repo, &["commit", "-q", "-m", "tracked"]);
                fs::remove_file(coord.join("task-registry.json")).unwrap();
            },
            args: CLAIM,
            expect: &["the repository tracks files in swarm's coordination directory", "git rm -r --cached"],
        },
    ]
}

#[test]
fn bad_inputs_exit_1_name_the_file_and_change_nothing() {
    let all = cases();
    assert!(all.len() >= 20);
    let mut failures = Vec::new();
    for case in all {
        let env = Env::new();
        if let Some(plan) = case.plan {
            env.write_plan(plan);
        }
        (case.prepare)(&env);
        let before = env.snapshot();
        let o = env.run(case.args);
        let err = stderr(&o);
        let shown = format!("{err:?}");
        if o.status.code() != Some(1) {
            failures.push(format!(
                "{}: exit {:?}, stderr {err}",
                case.name,
                o.status.code()
            ));
        }
        for needle in case.expect {
            if !err.contains(needle) && !shown.contains(needle) {
                failures.push(format!("{}: stderr lacks {needle:?}: {err}", case.name));
            }
        }
        if !o.stdout.is_empty() {
            failures.push(format!("{}: stdout not empty", case.name));
        }
        let changed = crate::support::changed(&before, &env.snapshot());
        if !changed.is_empty() {
            failures.push(format!("{}: files on disk changed: {changed:?}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
