//! The integration branch: finished tasks land there verified, new work starts from it.

use crate::support::{git, script, stderr, stdout, Env};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A plan whose tasks are `tasks` (JSON members), landing on `swarm/proj` with `verify`.
fn plan(tasks: &str, verify: Option<&str>) -> String {
    let verify = verify
        .map(|v| format!(", \"verify\": {v}"))
        .unwrap_or_default();
    format!(
        r#"{{"coordination": {{"integration": {{"branch": "swarm/proj"{verify}}}}},
  "tasks": {{{tasks}}}}}"#
    )
}

/// An agent started with `launch --no-exec`: its id, task and worktree.
struct Agent {
    id: String,
    task: String,
    worktree: PathBuf,
}

fn launch(env: &Env) -> Agent {
    let o = env.run(&["launch", "--no-exec", "--json", "--agent-cmd", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    Agent {
        id: v["agent"].as_str().unwrap().into(),
        task: v["task"].as_str().unwrap().into(),
        worktree: PathBuf::from(v["worktree"].as_str().unwrap()),
    }
}

/// `swarm task done TASK` as agent `a`, in its worktree.
fn done(env: &Env, a: &Agent, extra: &[&str]) -> std::process::Output {
    env.swarm_in(&a.worktree)
        .args(["task", "done", &a.task])
        .args(extra)
        .env("SWARM_AGENT_ID", &a.id)
        .output()
        .unwrap()
}

fn commit_file(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
    git(dir, &["add", name]);
    git(dir, &["commit", "-q", "-m", &format!("write {name}")]);
}

fn tip(env: &Env) -> String {
    git(&env.repo, &["rev-parse", "swarm/proj"])
        .trim()
        .to_string()
}

fn landed_commit(env: &Env, task: &str) -> String {
    env.plan()["tasks"][task]["landed"]["commit"]
        .as_str()
        .unwrap_or_else(|| panic!("{task} has no landed.commit: {}", env.plan()))
        .to_string()
}

#[test]
fn a_task_starts_with_the_work_its_blockers_landed() {
    let env = Env::with_plan(&plan(
        r#""a": {"title": "A", "blockedBy": []}, "b": {"title": "B", "blockedBy": ["a"]}"#,
        None,
    ));
    let o = env.run(&["setup"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("swarm/proj"), "{}", stderr(&o));
    let a = launch(&env);
    assert_eq!(a.task, "a");
    commit_file(&a.worktree, "a.txt", "from a\n");
    // b is not ready while a is only in progress.
    let o = env.run(&["launch", "--no-exec", "--agent-cmd", "true"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let o = done(&env, &a, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("landed on swarm/proj"),
        "{}",
        stderr(&o)
    );
    assert_eq!(landed_commit(&env, "a"), tip(&env));
    // Another agent, headless: its script fails when a's file is missing.
    let cmd = script(
        &env,
        "check.sh",
        "#!/bin/sh\ntest -f a.txt || { echo 'a.txt missing' >&2; exit 1; }\necho b > b.txt\ngit add b.txt && git -c user.name=b -c user.email=b@example.com commit -q -m b\n",
    );
    let o = env.run(&["launch", "--headless", "--agent-cmd", &cmd]);
    assert!(o.status.success(), "{}", stderr(&o));
    let p = env.plan();
    assert_eq!(
        p["tasks"]["b"]["status"],
        "completed",
        "{p}\n{}",
        stderr(&o)
    );
    assert_ne!(p["tasks"]["b"]["agent"], p["tasks"]["a"]["agent"]);
    assert_eq!(landed_commit(&env, "b"), tip(&env));
    let files = git(&env.repo, &["ls-tree", "--name-only", "swarm/proj"]);
    assert!(
        files.contains("a.txt") && files.contains("b.txt"),
        "{files}"
    );
    // Delivered: the finished supervisor's worktree goes, the live agent's stays.
    let b_worktree = env.registry()["agents"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|e| e["worktree"].as_str().map(PathBuf::from))
        .find(|w| *w != a.worktree)
        .unwrap();
    assert!(b_worktree.exists());
    let o = env.run(&["complete", "--merge"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!b_worktree.exists(), "{}", stderr(&o));
    assert!(a.worktree.exists());
    assert!(stderr(&o).contains("still running"), "{}", stderr(&o));
    assert!(env.repo.join("b.txt").exists());
}

#[test]
fn a_failing_verification_keeps_the_task_and_the_branch_until_fixed() {
    let env = Env::with_plan(&plan(
        r#""a": {"title": "A", "blockedBy": []}"#,
        Some(
            r#"["sh", "-c", "echo checking; test -f ok.txt || { echo 'ok.txt is missing'; exit 7; }"]"#,
        ),
    ));
    assert!(env.run(&["setup", "-q"]).status.success());
    let before = tip(&env);
    let a = launch(&env);
    commit_file(&a.worktree, "a.txt", "work\n");
    let o = done(&env, &a, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("ok.txt is missing"), "{err}");
    assert!(err.contains("exit code 7"), "{err}");
    let log = err
        .split_whitespace()
        .find(|w| w.contains("verify-a-"))
        .expect("the log path is printed");
    assert!(std::fs::read_to_string(log).unwrap().contains("checking"));
    assert_eq!(env.plan()["tasks"]["a"]["status"], "in-progress");
    assert_eq!(tip(&env), before, "the integration branch did not move");
    // Fixed: it lands, and the evidence is on the task.
    commit_file(&a.worktree, "ok.txt", "fixed\n");
    let o = done(&env, &a, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let landed = &env.plan()["tasks"]["a"]["landed"];
    assert_eq!(landed["commit"].as_str().unwrap(), tip(&env));
    assert_eq!(landed["exitCode"], 0);
    assert!(landed["verifiedBy"].as_str().unwrap().starts_with("sh -c"));
    assert!(landed["durationMs"].is_u64() && landed["log"].is_string());
    assert_eq!(env.plan()["tasks"]["a"]["status"], "completed");
}

#[test]
fn a_dirty_worktree_does_not_land() {
    let env = Env::with_plan(&plan(r#""a": {"title": "A", "blockedBy": []}"#, None));
    assert!(env.run(&["setup", "-q"]).status.success());
    let a = launch(&env);
    std::fs::write(a.worktree.join("wip.txt"), "not committed\n").unwrap();
    let o = done(&env, &a, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("wip.txt (untracked)"), "{}", stderr(&o));
    assert_eq!(env.plan()["tasks"]["a"]["status"], "in-progress");
}

#[test]
fn agents_landing_at_the_same_moment_both_land_verified_on_each_others_work() {
    let tasks: Vec<String> = (0..8)
        .flat_map(|r| [format!("x{r}"), format!("y{r}")])
        .map(|id| format!(r#""{id}": {{"title": "{id}", "blockedBy": []}}"#))
        .collect();
    // The verify command records which files the verified commit holds.
    let env = Env::with_plan(&plan(
        &tasks.join(", "),
        Some(
            r#"["sh", "-c", "sleep 0.2; ls > .verified-$SWARM_TASK_ID; git rev-parse HEAD >> .verified-$SWARM_TASK_ID; cp .verified-$SWARM_TASK_ID \"$SWARM_ROOT_LOGS/\"; rm .verified-$SWARM_TASK_ID"]"#,
        ),
    ));
    assert!(env.run(&["setup", "-q"]).status.success());
    let logs = env.repo.parent().unwrap().join("verified");
    std::fs::create_dir_all(&logs).unwrap();
    let mut x = launch(&env);
    let mut y = launch(&env);
    let mut retried = 0;
    for round in 0..8 {
        if round > 0 {
            for (agent, id) in [(&mut x, format!("x{round}")), (&mut y, format!("y{round}"))] {
                let o = env
                    .swarm_in(&agent.worktree)
                    .args(["task", "claim", &id])
                    .env("SWARM_AGENT_ID", &agent.id)
                    .output()
                    .unwrap();
                assert!(o.status.success(), "{}", stderr(&o));
                agent.task = id;
            }
        }
        commit_file(&x.worktree, &format!("{}.txt", x.task), "x\n");
        commit_file(&y.worktree, &format!("{}.txt", y.task), "y\n");
        let spawn = |a: &Agent| {
            env.swarm_in(&a.worktree)
                .args(["task", "done", &a.task])
                .env("SWARM_AGENT_ID", &a.id)
                .env("SWARM_ROOT_LOGS", &logs)
                .output()
        };
        let (ox, oy) = std::thread::scope(|s| {
            let hx = s.spawn(|| spawn(&x).unwrap());
            let hy = s.spawn(|| spawn(&y).unwrap());
            (hx.join().unwrap(), hy.join().unwrap())
        });
        assert!(ox.status.success(), "{}", stderr(&ox));
        assert!(oy.status.success(), "{}", stderr(&oy));
        let again = |o: &std::process::Output| stderr(o).contains("another agent landed");
        retried += usize::from(again(&ox)) + usize::from(again(&oy));
        let (cx, cy) = (landed_commit(&env, &x.task), landed_commit(&env, &y.task));
        let t = tip(&env);
        // The one that landed second is the tip, and holds the other's work.
        let (second, first_file) = if t == cx {
            (&x, format!("{}.txt", y.task))
        } else {
            assert_eq!(t, cy, "the tip is one of the two landings");
            (&y, format!("{}.txt", x.task))
        };
        let seen =
            std::fs::read_to_string(logs.join(format!(".verified-{}", second.task))).unwrap();
        assert!(seen.contains(&first_file), "{seen}");
        assert!(
            seen.contains(&t),
            "verified exactly the commit that landed: {seen}"
        );
        let files = git(&env.repo, &["ls-tree", "--name-only", "swarm/proj"]);
        for r in 0..=round {
            assert!(files.contains(&format!("x{r}.txt")), "round {r}: {files}");
            assert!(files.contains(&format!("y{r}.txt")), "round {r}: {files}");
        }
    }
    // Both verify for 0.2 s from the same tip: the compare-and-swap sends one back each time.
    assert!(
        retried >= 4,
        "only {retried} of 8 rounds merged and verified again"
    );
}

#[test]
fn a_conflicting_landing_changes_nothing_and_lands_once_resolved() {
    let env = Env::with_plan(&plan(
        r#""a": {"title": "A", "blockedBy": []}, "b": {"title": "B", "blockedBy": []}"#,
        None,
    ));
    assert!(env.run(&["setup", "-q"]).status.success());
    let a = launch(&env);
    let b = launch(&env);
    commit_file(&a.worktree, "README.md", "from a\n");
    commit_file(&b.worktree, "README.md", "from b\n");
    assert!(done(&env, &a, &[]).status.success());
    let landed_a = tip(&env);
    let b_head = git(&b.worktree, &["rev-parse", "HEAD"]);
    let o = done(&env, &b, &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("conflicts in README.md"), "{err}");
    assert!(err.contains("--resolve"), "{err}");
    assert_eq!(tip(&env), landed_a);
    assert_eq!(git(&b.worktree, &["rev-parse", "HEAD"]), b_head);
    assert_eq!(git(&b.worktree, &["status", "--porcelain"]), "");
    assert_eq!(env.plan()["tasks"]["b"]["status"], "in-progress");
    // The agent resolves: the merge is left in progress, fixed, committed; then it lands.
    let o = done(&env, &b, &["--resolve"]);
    assert_eq!(o.status.code(), Some(1));
    let merging = git(&b.worktree, &["rev-parse", "--verify", "MERGE_HEAD"]);
    assert_eq!(merging.trim(), landed_a, "the merge is left in progress");
    std::fs::write(b.worktree.join("README.md"), "from a and b\n").unwrap();
    git(&b.worktree, &["add", "README.md"]);
    git(&b.worktree, &["commit", "-q", "--no-edit"]);
    let o = done(&env, &b, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(landed_commit(&env, "b"), tip(&env));
    let readme = git(&env.repo, &["show", "swarm/proj:README.md"]);
    assert_eq!(readme, "from a and b\n");
}

#[test]
fn a_join_point_is_a_commit_and_complete_delivers_the_integration_branch() {
    let mut p = plan(
        r#""a": {"title": "A", "blockedBy": []}, "b": {"title": "B", "blockedBy": []}"#,
        None,
    );
    p.insert_str(1, r#""joinPoints": {"both": {"requires": ["a", "b"]}}, "#);
    let env = Env::with_plan(&p);
    assert!(env.run(&["setup", "-q"]).status.success());
    let a = launch(&env);
    let b = launch(&env);
    commit_file(&a.worktree, "a.txt", "a\n");
    commit_file(&b.worktree, "b.txt", "b\n");
    assert!(done(&env, &a, &[]).status.success());
    let js = env.run(&["join-status", "--json"]);
    assert_eq!(js.status.code(), Some(3));
    let v: Value = serde_json::from_str(&stdout(&js)).unwrap();
    assert!(v["commit"].is_null(), "{v}");
    assert!(done(&env, &b, &[]).status.success());
    let js = env.run(&["join-status", "--json"]);
    assert_eq!(js.status.code(), Some(0));
    let v: Value = serde_json::from_str(&stdout(&js)).unwrap();
    assert_eq!(v["commit"].as_str().unwrap(), tip(&env));
    let text = stdout(&env.run(&["join-status"]));
    assert!(
        text.contains(&format!("Ready at {}", &tip(&env)[..9])),
        "{text}"
    );

    // Unlanded work on a's branch: its worktree is never removed.
    commit_file(&a.worktree, "extra.txt", "not landed\n");
    let o = env.run(&["complete", "--merge"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        git(&env.repo, &["rev-parse", "main"]),
        git(&env.repo, &["rev-parse", "swarm/proj"])
    );
    assert!(env.repo.join("a.txt").exists() && env.repo.join("b.txt").exists());
    let plan = env.plan();
    assert_eq!(plan["tasks"]["a"]["status"], "reviewed");
    assert_eq!(plan["tasks"]["b"]["status"], "reviewed");
    assert!(
        a.worktree.exists() && b.worktree.exists(),
        "live agents keep theirs"
    );
    let o = env.run(&["complete", &a.id]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("write extra.txt"), "{}", stderr(&o));
    assert!(a.worktree.exists());
    let o = env.run(&["complete", &b.id]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!b.worktree.exists());
}

#[test]
fn conflicts_names_exactly_the_pair_that_would_conflict() {
    let env = Env::with_plan(&plan(
        r#""a": {"title": "A", "blockedBy": []}, "b": {"title": "B", "blockedBy": []}, "c": {"title": "C", "blockedBy": []}"#,
        None,
    ));
    assert!(env.run(&["setup", "-q"]).status.success());
    let (a, b, c) = (launch(&env), launch(&env), launch(&env));
    commit_file(&a.worktree, "README.md", "a's readme\n");
    commit_file(&b.worktree, "README.md", "b's readme\n");
    commit_file(&c.worktree, "c.txt", "c\n");
    let o = env.run(&["conflicts", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["branches"].as_array().unwrap().len(), 4, "{v}");
    let pairs = v["conflicts"].as_array().unwrap();
    assert_eq!(pairs.len(), 1, "{v}");
    let mut agents = [
        pairs[0]["a"]["agent"].as_str().unwrap(),
        pairs[0]["b"]["agent"].as_str().unwrap(),
    ];
    agents.sort();
    let mut want = [a.id.as_str(), b.id.as_str()];
    want.sort();
    assert_eq!(agents, want);
    assert_eq!(pairs[0]["files"], serde_json::json!(["README.md"]));
    // Once a lands, b conflicts with the integration branch as well, and nothing was written.
    assert!(done(&env, &a, &[]).status.success());
    let before = env.snapshot();
    let v: Value = serde_json::from_str(&stdout(&env.run(&["conflicts", "--json"]))).unwrap();
    let with_integration = v["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["a"]["branch"] == "swarm/proj" && p["b"]["agent"] == b.id.as_str())
        .count();
    assert_eq!(with_integration, 1, "{v}");
    assert_eq!(env.snapshot(), before);
    let text = stdout(&env.run(&["conflicts"]));
    assert!(text.contains("README.md"), "{text}");
}

#[test]
fn tasks_touching_the_same_files_are_not_handed_out_together_when_another_is_ready() {
    let env = Env::with_plan(
        r#"{"tasks": {
  "db-1": {"title": "schema", "files": ["src/db/**"]},
  "db-2": {"title": "queries", "files": ["src/db/query.rs"]},
  "api": {"title": "api", "files": ["src/api/**", "docs/api.md"]}
}}"#,
    );
    let first = launch(&env);
    let second = launch(&env);
    assert_eq!(first.task, "db-1");
    assert_eq!(second.task, "api", "db-2 would touch db-1's files");
    let third = launch(&env);
    assert_eq!(
        third.task, "db-2",
        "and is not refused when it is all that is left"
    );
    let o = env.run(&["plan", "simulate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("db-1") && stdout(&o).contains("db-2"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_crash_between_moving_the_branch_and_recording_it_is_finished_by_running_done_again() {
    let env = Env::with_plan(&plan(r#""a": {"title": "A", "blockedBy": []}"#, None));
    assert!(env.run(&["setup", "-q"]).status.success());
    let a = launch(&env);
    commit_file(&a.worktree, "a.txt", "a\n");
    // The plan is put in place with renameat2 (an exchange): killed there, after the ref moved.
    let o = env
        .strace(&[
            "-f",
            "-o",
            "/dev/null",
            "-e",
            "inject=renameat2:signal=SIGKILL:when=1",
        ])
        .args(["task", "done", &a.task])
        .current_dir(&a.worktree)
        .env("SWARM_AGENT_ID", &a.id)
        .output()
        .unwrap();
    assert!(!o.status.success(), "killed: {}", stderr(&o));
    let head = git(&a.worktree, &["rev-parse", "HEAD"]).trim().to_string();
    assert_eq!(tip(&env), head, "the branch moved before the kill");
    assert_eq!(env.plan()["tasks"]["a"]["status"], "in-progress");
    let o = done(&env, &a, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(landed_commit(&env, "a"), head);
    assert_eq!(env.plan()["tasks"]["a"]["status"], "completed");
}

#[test]
fn a_claimed_task_is_completed_only_by_landing_it() {
    let env = Env::with_plan(&plan(r#""a": {"title": "A", "blockedBy": []}"#, None));
    assert!(env.run(&["setup", "-q"]).status.success());
    let a = launch(&env);
    let o = env
        .swarm_in(&a.worktree)
        .args(["task", "update", "a", "--status", "completed"])
        .env("SWARM_AGENT_ID", &a.id)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("swarm task done a"), "{}", stderr(&o));
    assert_eq!(env.plan()["tasks"]["a"]["status"], "in-progress");
}

#[test]
fn a_verify_command_that_changes_the_tree_does_not_land() {
    let env = Env::with_plan(&plan(
        r#""a": {"title": "A", "blockedBy": []}"#,
        Some(r#"["sh", "-c", "echo regenerated >> README.md"]"#),
    ));
    assert!(env.run(&["setup", "-q"]).status.success());
    let before = tip(&env);
    let a = launch(&env);
    commit_file(&a.worktree, "a.txt", "a\n");
    let o = done(&env, &a, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("changed files"), "{}", stderr(&o));
    assert!(stderr(&o).contains("README.md"), "{}", stderr(&o));
    assert_eq!(tip(&env), before);
    assert_eq!(env.plan()["tasks"]["a"]["status"], "in-progress");
}

#[test]
fn an_integration_branch_checked_out_somewhere_is_refused() {
    let env = Env::with_plan(
        r#"{"coordination": {"integration": {"branch": "main"}}, "tasks": {"a": {}}}"#,
    );
    let before = env.snapshot();
    let o = env.run(&["setup"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is checked out in"), "{}", stderr(&o));
    assert!(crate::support::changed(&before, &env.snapshot()).is_empty());
}

#[test]
fn complete_keeps_a_finished_agents_worktree_with_commits_on_no_branch() {
    let env = Env::with_plan(&plan(r#""a": {"title": "A", "blockedBy": []}"#, None));
    assert!(env.run(&["setup", "-q"]).status.success());
    let cmd = script(
        &env,
        "work.sh",
        "#!/bin/sh\necho a > a.txt\ngit add a.txt && git -c user.name=a -c user.email=a@example.com commit -q -m a\n",
    );
    let o = env.run(&["launch", "--headless", "--agent-cmd", &cmd]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(env.plan()["tasks"]["a"]["status"], "completed");
    let worktree = PathBuf::from(
        env.registry()["agents"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()["worktree"]
            .as_str()
            .unwrap(),
    );
    git(&worktree, &["checkout", "-q", "--detach"]);
    commit_file(&worktree, "stray.txt", "on no branch\n");
    let o = env.run(&["complete", "--merge"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(worktree.join("stray.txt").exists(), "{}", stderr(&o));
    assert!(stderr(&o).contains("detached"), "{}", stderr(&o));
    assert_eq!(env.plan()["tasks"]["a"]["status"], "reviewed");
}
