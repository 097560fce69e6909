//! A person's edits and swarm's, on one status.json: swarm never writes over a plan that
//! changed since it read it, and a stale copy saved by a person never reopens finished work.

use crate::support::{stderr, stdout, wait_until, Env};
use serde_json::Value;
use std::process::Stdio;

/// Adds task `id` to the plan the way a script or an editor would: the whole file rewritten,
/// by rename (`atomic`) or in place.
fn add_task(env: &Env, id: &str, atomic: bool) {
    let mut plan: Value =
        serde_json::from_str(&std::fs::read_to_string(env.plan_path()).unwrap()).unwrap();
    plan["tasks"][id] = serde_json::json!({"title": format!("added {id}")});
    let text = serde_json::to_string_pretty(&plan).unwrap();
    if atomic {
        let tmp = env.plan_path().with_extension("edit");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, env.plan_path()).unwrap();
    } else {
        std::fs::write(env.plan_path(), text).unwrap();
    }
}

/// A claim held by strace at its first fdatasync (it has read the plan and staged its write)
/// while a person adds a task, by rename and in place: the claim's write keeps the new task.
#[test]
fn a_plan_changed_while_swarm_works_is_not_written_over() {
    for atomic in [true, false] {
        let env = Env::with_plan(&crate::support::flat_plan(2));
        assert!(env.run(&["setup", "-q"]).status.success());
        let claimer = env
            .strace(&[
                "-f",
                "-o",
                "/dev/null",
                "-e",
                "inject=fdatasync:delay_enter=1500000:when=1",
            ])
            .args(["task", "claim", "--next", "--agent", "a"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("strace is needed for this test (.ci/run installs it)");
        let plan_dir = env.tasks.join("proj");
        let staged = || {
            std::fs::read_dir(&plan_dir)
                .unwrap()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().contains("swarm-tmp"))
        };
        wait_until(30, staged, || "the claim never staged its write".into());
        add_task(&env, "added-by-hand", atomic);
        let o = claimer.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o).trim(), "t0000");
        assert!(
            stderr(&o).contains("changed by someone else while this command ran"),
            "{}",
            stderr(&o)
        );
        let plan = env.plan();
        assert_eq!(
            plan["tasks"]["added-by-hand"]["title"], "added added-by-hand",
            "atomic {atomic}: {plan}"
        );
        assert_eq!(
            plan["tasks"]["t0000"]["status"], "in-progress",
            "atomic {atomic}"
        );
        assert_eq!(plan["tasks"]["t0000"]["agent"], "a");
    }
}

/// A person saves a copy of status.json read before swarm's changes (and adds a task to it):
/// the next command gives finished tasks their status back and says so, keeps the live claim,
/// keeps the person's new task; `task reopen` is how a finished task goes back on purpose.
#[test]
fn a_stale_copy_never_reopens_finished_work_or_drops_a_claim() {
    let env = Env::with_plan(&crate::support::flat_plan(3));
    let stale = std::fs::read_to_string(env.plan_path()).unwrap();
    for (agent, task) in [("x", "t0000"), ("y", "t0001")] {
        let o = env.run(&["task", "claim", task, "--agent", agent]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert!(env
        .run(&["task", "done", "t0000", "--agent", "x"])
        .status
        .success());
    // The person's editor saves what it read at the start, plus a task of theirs.
    let mut copy: Value = serde_json::from_str(&stale).unwrap();
    copy["tasks"]["mine"] = serde_json::json!({"title": "the person's task"});
    std::fs::write(
        env.plan_path(),
        serde_json::to_string_pretty(&copy).unwrap(),
    )
    .unwrap();
    let o = env.run(&["list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("restored t0000 to completed"),
        "{}",
        stderr(&o)
    );
    let plan = env.plan();
    assert_eq!(plan["tasks"]["t0000"]["status"], "completed");
    assert_eq!(plan["tasks"]["t0000"]["agent"], "x");
    assert_eq!(
        plan["tasks"]["t0001"]["status"], "in-progress",
        "y's claim stays"
    );
    assert_eq!(plan["tasks"]["t0001"]["agent"], "y");
    assert_eq!(plan["tasks"]["mine"]["title"], "the person's task");
    // Nothing is claimed twice: the next claim takes what is really free.
    let o = env.run(&["task", "claim", "--next", "--agent", "z"]);
    assert_eq!(stdout(&o).trim(), "t0002", "{}", stderr(&o));
    // On purpose: reopened, and not restored.
    let o = env.run(&["task", "reopen", "t0000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = env.run(&["list"]);
    assert!(!stderr(&o).contains("restored"), "{}", stderr(&o));
    assert_eq!(env.plan()["tasks"]["t0000"]["status"], "pending");
    let o = env.run(&["task", "reopen", "t0002"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "an in-progress task is not reopened"
    );
}

/// `plan edit` with an "editor" (a script) that, while it is open, lets swarm claim a task,
/// then makes the person's edit.
fn plan_edit(env: &Env, edit: &str) -> std::process::Output {
    let script = env.repo.parent().unwrap().join("editor.sh");
    let body = format!(
        "#!/bin/sh\n\"$SWARM_BIN\" task claim t0000 --agent x -q >/dev/null || exit 9\n{edit}\n"
    );
    std::fs::write(&script, body).unwrap();
    env.swarm()
        .env("VISUAL", format!("sh {}", script.display()))
        .env("SWARM_BIN", assert_cmd::cargo::cargo_bin("swarm"))
        .args(["plan", "edit"])
        .output()
        .unwrap()
}

/// Copies of the plan `plan edit` kept for the person.
fn kept_edits(env: &Env) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(env.tasks.join("proj"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("status.edit-"))
        .collect()
}

#[test]
fn plan_edit_merges_the_person_s_edit_with_what_swarm_did_meanwhile() {
    let env = Env::with_plan(&crate::support::flat_plan(2));
    let o = plan_edit(
        &env,
        r#"sed -i -e 's/"Task 1"/"Renamed"/' -e 's/"t0001": {/"added": {"title": "Added"},\n"t0001": {/' "$1""#,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("what swarm changed meanwhile in t0000 is kept"),
        "{}",
        stderr(&o)
    );
    let plan = env.plan();
    assert_eq!(plan["tasks"]["t0001"]["title"], "Renamed");
    assert_eq!(plan["tasks"]["added"]["title"], "Added");
    assert_eq!(plan["tasks"]["t0000"]["status"], "in-progress");
    assert_eq!(plan["tasks"]["t0000"]["agent"], "x");
    assert!(kept_edits(&env).is_empty());
}

#[test]
fn plan_edit_refuses_a_conflict_or_an_invalid_plan_and_keeps_the_edit() {
    // The person marks t0000 completed while swarm claimed it.
    let env = Env::with_plan(&crate::support::flat_plan(2));
    let o = plan_edit(
        &env,
        r#"sed -i 's/"status": "pending", "blockedBy": \[\]}/"status": "completed", "blockedBy": []}/' "$1""#,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("task t0000 field status"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("your edit is kept in"),
        "{}",
        stderr(&o)
    );
    assert_eq!(kept_edits(&env).len(), 1);
    assert_eq!(env.plan()["tasks"]["t0000"]["status"], "in-progress");
    assert_eq!(env.plan()["tasks"]["t0001"]["status"], "pending");

    // An edit that is not a valid plan.
    let env = Env::with_plan(&crate::support::flat_plan(2));
    let before = std::fs::read_to_string(env.plan_path()).unwrap();
    let o = plan_edit(
        &env,
        r#"printf '{"tasks": {"a": {"blockedBy": ["nope"]}}}' > "$1""#,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not a task in this plan"),
        "{}",
        stderr(&o)
    );
    assert_eq!(kept_edits(&env).len(), 1);
    let after = std::fs::read_to_string(env.plan_path()).unwrap();
    assert!(
        after != before && after.contains("\"agent\": \"x\""),
        "only swarm's claim changed it"
    );
    assert!(
        env.plan()["tasks"].get("a").is_none(),
        "the invalid edit was not applied"
    );
}

/// Agents claim and finish tasks while a writer adds a task every few milliseconds, by rename
/// and in place, each time from what it just read (so often from a copy older than swarm's
/// last change). At the end no added task is lost and no finished task is open again.
/// `SWARM_STRESS_SECS` makes it run longer (default 3 s).
#[test]
fn agents_and_a_writer_on_one_plan_lose_nothing_and_reopen_nothing() {
    let secs: u64 = std::env::var("SWARM_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let env = Env::with_plan(&crate::support::flat_plan(40));
    assert!(env.run(&["setup", "-q"]).status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let finished = std::sync::Mutex::new(Vec::<String>::new());
    let added = std::thread::scope(|s| {
        for n in 0..3 {
            let (env, finished) = (&env, &finished);
            s.spawn(move || {
                let agent = format!("a{n}");
                while std::time::Instant::now() < deadline {
                    let o = env.run(&["task", "claim", "--next", "--agent", &agent, "-q"]);
                    // A save in progress never fails an agent's command: claimed, or nothing
                    // ready (3).
                    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
                    let task = stdout(&o).trim().to_string();
                    if o.status.code() != Some(0) || task.is_empty() {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        continue;
                    }
                    let o = env.run(&["task", "done", &task, "--agent", &agent, "-q"]);
                    assert!(o.status.success(), "{}", stderr(&o));
                    finished.lock().unwrap().push(task);
                }
            });
        }
        let writer = s.spawn(|| {
            let mut added = Vec::new();
            let mut n = 0;
            while std::time::Instant::now() < deadline {
                let id = format!("w{n:04}");
                add_task(&env, &id, n % 2 == 0);
                added.push(id);
                n += 1;
                std::thread::sleep(std::time::Duration::from_millis(15));
            }
            added
        });
        writer.join().unwrap()
    });
    // The next command restores what a stale copy undid.
    let o = env.run(&["list", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let plan = env.plan();
    let lost: Vec<&String> = added
        .iter()
        .filter(|id| plan["tasks"].get(id.as_str()).is_none())
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} added tasks lost: {lost:?}",
        lost.len(),
        added.len()
    );
    let finished = finished.into_inner().unwrap();
    assert!(!finished.is_empty(), "the agents finished nothing");
    let reopened: Vec<&String> = finished
        .iter()
        .filter(|t| plan["tasks"][t.as_str()]["status"] != "completed")
        .collect();
    assert!(
        reopened.is_empty(),
        "finished tasks open again: {reopened:?}"
    );
}
