//! A person's edits and swarm's, on one status.json: swarm never writes over a plan that
//! changed since it read it, and a stale copy saved by a person never reopens finished work.

use crate::support::{stderr, stdout, wait_until, Env};
use serde_json::Value;
use std::process::{Command, Stdio};

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
        let claimer = Command::new("strace")
            .args([
                "-f",
                "-o",
                "/dev/null",
                "-e",
                "inject=fdatasync:delay_enter=1500000:when=1",
            ])
            .arg(assert_cmd::cargo::cargo_bin("swarm"))
            .arg("-C")
            .arg(&env.repo)
            .arg("--tasks-dir")
            .arg(&env.tasks)
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
