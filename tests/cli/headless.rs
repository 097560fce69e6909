//! `launch --headless`: supervised agents, judged by their outcome; signals give tasks back.

use crate::support::{alive, count_tasks, git, script, stderr, stdout, wait_until, Env};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Commits a file for its task and exits 0; never calls swarm (the supervisor marks it done).
const COMMITS: &str = r#"#!/bin/sh
echo "$SWARM_TASK" > "h-$SWARM_TASK.txt"
git add . && git -c user.name=a -c user.email=a@example.com commit -q -m "headless $SWARM_TASK"
"#;

/// An agent that writes its pid to `mark`, then works (sleeps) until stopped. `exec`: it is
/// the supervisor's direct child, as a preset's CLI would be.
fn waiting_agent(env: &Env, mark: &Path) -> String {
    let body = format!("#!/bin/sh\necho $$ > '{}'\nexec sleep 60\n", mark.display());
    script(env, "wait.sh", &body)
}

/// Runs one headless supervisor with `cmd` as the agent; it must succeed. Returns its stderr.
fn launch_ok(env: &Env, cmd: &str) -> String {
    let o = env.run(&["launch", "--headless", "--agent-cmd", cmd]);
    assert!(o.status.success(), "{}", stderr(&o));
    stderr(&o)
}

/// Runs one headless supervisor with `cmd` as the agent; it must stop early with exit 1 (its
/// worktree needs a look). Returns its stderr.
fn launch_stopped(env: &Env, cmd: &str) -> String {
    let o = env.run(&["launch", "--headless", "--agent-cmd", cmd]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("stopping:"), "{}", stderr(&o));
    stderr(&o)
}

/// Whether the agent wrote its pid to `mark`.
fn started(mark: &Path) -> bool {
    std::fs::read_to_string(mark).is_ok_and(|s| !s.trim().is_empty())
}

#[test]
fn three_supervisors_finish_a_plan_and_each_task_once() {
    let env = Env::with_plan(&crate::support::flat_plan(10));
    let cmd = script(&env, "commits.sh", COMMITS);
    let o = env.run(&["launch", "--headless", "-n", "3", "--agent-cmd", &cmd]);
    assert!(o.status.success(), "{}", stderr(&o));
    let plan = env.plan();
    let tasks = plan["tasks"].as_object().unwrap();
    assert!(tasks.values().all(|t| t["status"] == "completed"), "{plan}");
    let log = git(&env.repo, &["log", "--all", "--format=%s"]);
    for id in tasks.keys() {
        let n = log
            .lines()
            .filter(|l| *l == format!("headless {id}"))
            .count();
        assert_eq!(n, 1, "{id}:\n{log}");
    }
    let reg = env.registry();
    let agents = reg["agents"].as_object().unwrap();
    assert_eq!(agents.len(), 3);
    assert!(agents.values().all(|a| a["state"] == "done"), "{reg}");
    assert!(reg["claimedTasks"].as_object().unwrap().is_empty());
}

#[test]
fn a_task_failing_three_times_ends_failed_and_says_why() {
    let env = Env::with_plan(crate::support::CHAIN);
    for attempt in 1..=3 {
        let o = env.run(&["launch", "--headless", "--agent-cmd", "false"]);
        // The last attempt leaves the task failed: the supervisor's run failed.
        let want = if attempt == 3 { 1 } else { 0 };
        assert_eq!(o.status.code(), Some(want), "{}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("(attempt {attempt})")),
            "{}",
            stderr(&o)
        );
    }
    let a = &env.plan()["tasks"]["a"];
    assert_eq!(a["status"], "failed");
    assert_eq!(a["attempts"], 3);
    let list = stdout(&env.run(&["list"]));
    let line = list.lines().find(|l| l.starts_with("a ")).unwrap();
    assert!(
        line.contains("failed after 3 attempts: the agent exited with status 1"),
        "{list}"
    );
    let js = env.run(&["join-status"]);
    assert_eq!(js.status.code(), Some(3));
    assert!(
        stdout(&js).contains("failed after 3 attempts"),
        "{}",
        stdout(&js)
    );
    let o = env.run(&["launch", "--headless", "--agent-cmd", "false"]);
    assert_eq!(o.status.code(), Some(3), "nothing is ready any more");
}

/// Fails t0000 with a commit; does any other task (recording what it saw at its start).
const FAILS_T0000: &str = r#"#!/bin/sh
if [ "$SWARM_TASK" = t0000 ]; then
  echo "$$" >> tries.txt
  git add . && git -c user.name=a -c user.email=a@example.com commit -q -m "try at t0000"
  exit 1
fi
git log --format=%s > "$SEEN"
echo "$SWARM_TASK" > "h-$SWARM_TASK.txt"
git add . && git -c user.name=a -c user.email=a@example.com commit -q -m "headless $SWARM_TASK"
"#;

#[test]
fn a_failed_attempts_commits_are_set_aside_and_never_under_another_task() {
    let env = Env::with_plan(&crate::support::flat_plan(2));
    let root = env.repo.parent().unwrap().to_path_buf();
    let cmd = script(&env, "fails.sh", FAILS_T0000);
    let seen = root.join("seen");
    let o = env
        .swarm()
        .env("SEEN", &seen)
        .args(["launch", "--headless", "--agent-cmd", &cmd])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("its commits are kept on branch"),
        "{}",
        stderr(&o)
    );
    let log = std::fs::read_to_string(&seen).unwrap();
    assert!(
        !log.contains("try at t0000"),
        "t0001 started on the failed attempt: {log}"
    );
    let first = env.plan()["tasks"]["t0000"]["previousBranch"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(first.contains("-attempt-"), "{first}");
    let why = env.plan()["tasks"]["t0000"]["lastFailure"].clone();
    assert!(
        why.as_str()
            .unwrap()
            .contains(&format!("kept on branch {first}")),
        "{why}"
    );
    assert!(git(&env.repo, &["log", "--format=%s", &first]).contains("try at t0000"));

    // The retry starts from the first attempt, fails too, and its branch goes back to the
    // base, not to the first attempt: both tries are on the new attempt branch only.
    let o = env.run(&["launch", "--headless", "--agent-cmd", &cmd]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("continuing from {first}")),
        "{}",
        stderr(&o)
    );
    let t = env.plan()["tasks"]["t0000"].clone();
    assert_eq!(t["attempts"], 2, "{t}");
    let second = t["previousBranch"].as_str().unwrap();
    assert_ne!(second, first);
    let tries = git(&env.repo, &["log", "--format=%s", second]);
    assert_eq!(tries.matches("try at t0000").count(), 2, "{tries}");
    let reg = env.registry();
    let branches: Vec<&str> = reg["agents"]
        .as_object()
        .unwrap()
        .values()
        .map(|a| a["branch"].as_str().unwrap())
        .collect();
    let main = git(&env.repo, &["rev-parse", "main"]);
    assert_eq!(
        git(&env.repo, &["rev-parse", branches[1]]),
        main,
        "{branches:?}"
    );
}

#[test]
fn uncommitted_changes_stop_the_supervisor_and_stay_where_they_are() {
    let env = Env::with_plan(&crate::support::flat_plan(2));
    let body = r#"#!/bin/sh
git init -q vendor/lib
(cd vendor/lib && echo x > f && git add f && git -c user.name=a -c user.email=a@example.com commit -q -m lib && echo y > g)
echo feature > feature.txt
"#;
    let cmd = script(&env, "forgets.sh", body);
    let err = launch_stopped(&env, &cmd);
    assert!(err.contains("has uncommitted changes after"), "{err}");
    assert!(err.contains("feature.txt"), "{err}");
    let plan = env.plan();
    assert_eq!(count_tasks(&plan, "status", "completed"), 1, "{plan}");
    assert_eq!(count_tasks(&plan, "status", "pending"), 1, "{plan}");
    let reg = env.registry();
    let agent = reg["agents"].as_object().unwrap().values().next().unwrap();
    let worktree = PathBuf::from(agent["worktree"].as_str().unwrap());
    // Nothing was committed for the agent or thrown away.
    assert_eq!(
        git(&worktree, &["rev-parse", "HEAD"]),
        git(&env.repo, &["rev-parse", "main"])
    );
    assert!(worktree.join("feature.txt").is_file());
    assert!(worktree.join("vendor/lib/g").is_file());
    assert_eq!(
        git(&worktree.join("vendor/lib"), &["log", "--format=%s"]).trim(),
        "lib"
    );
}

#[test]
fn a_failed_attempt_that_leaves_changes_records_no_previous_branch() {
    let env = Env::with_plan(&crate::support::flat_plan(1));
    let body = r#"#!/bin/sh
echo a > a.txt
git add . && git -c user.name=a -c user.email=a@example.com commit -q -m "half of $SWARM_TASK"
echo b > b.txt
exit 1
"#;
    let cmd = script(&env, "fails-dirty.sh", body);
    let err = launch_stopped(&env, &cmd);
    assert!(err.contains("has uncommitted changes after"), "{err}");
    let t = env.plan()["tasks"]["t0000"].clone();
    assert_eq!(t["status"], "pending", "{t}");
    assert_eq!(t["attempts"], 1, "{t}");
    // The agent's branch also holds whatever it did before: the next attempt must not start
    // from it. Where this attempt's work is, lastFailure says.
    assert!(t.get("previousBranch").is_none(), "{t}");
    let reg = env.registry();
    let agent = reg["agents"].as_object().unwrap().values().next().unwrap();
    let branch = agent["branch"].as_str().unwrap();
    let why = t["lastFailure"].as_str().unwrap();
    assert!(why.contains(&format!("any commits on {branch}")), "{why}");
    assert!(git(&env.repo, &["log", "--format=%s", branch]).contains("half of t0000"));
}

#[test]
fn an_agent_that_marks_its_task_done_then_fails_keeps_its_commits() {
    let env = Env::with_plan(&crate::support::flat_plan(1));
    let body = r#"#!/bin/sh
echo done > done.txt
git add . && git -c user.name=a -c user.email=a@example.com commit -q -m "work on $SWARM_TASK"
swarm task done "$SWARM_TASK" || exit 9
exit 1
"#;
    let cmd = script(&env, "done-then-fails.sh", body);
    let err = launch_ok(&env, &cmd);
    assert!(
        err.contains("t0000 was already marked done when the agent exited with"),
        "{err}"
    );
    let plan = env.plan();
    assert_eq!(plan["tasks"]["t0000"]["status"], "completed", "{plan}");
    assert_eq!(plan["tasks"]["t0000"]["attempts"], Value::Null, "{plan}");
    // The commit stays on the agent's branch; nothing was set aside.
    let reg = env.registry();
    let agent = reg["agents"].as_object().unwrap().values().next().unwrap();
    let branch = agent["branch"].as_str().unwrap();
    let log = git(&env.repo, &["log", "--format=%s", branch]);
    assert!(log.contains("work on t0000"), "{log}");
    let branches = git(&env.repo, &["branch", "--list", "*-attempt-*"]);
    assert!(branches.trim().is_empty(), "{branches}");
}

#[test]
fn processes_an_agent_leaves_running_are_stopped_when_it_exits() {
    let env = Env::with_plan(&crate::support::flat_plan(1));
    let mark = env.repo.parent().unwrap().join("leftover");
    let body = format!(
        "#!/bin/sh\nsleep 60 &\necho $! > '{}'\necho x > x.txt\ngit add . && git -c user.name=a -c user.email=a@example.com commit -q -m x\n",
        mark.display()
    );
    let cmd = script(&env, "leaves-a-process.sh", &body);
    launch_ok(&env, &cmd);
    assert_eq!(env.plan()["tasks"]["t0000"]["status"], "completed");
    let pid: u64 = std::fs::read_to_string(&mark)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_until(
        10,
        || !alive(pid),
        || format!("process {pid} outlived its agent"),
    );
}

#[test]
fn an_agent_that_switched_branches_is_left_as_it_is_and_the_supervisor_stops() {
    let env = Env::with_plan(&crate::support::flat_plan(2));
    let body = r#"#!/bin/sh
git checkout -q -b elsewhere
echo x > x.txt
git add . && git -c user.name=a -c user.email=a@example.com commit -q -m "on elsewhere"
exit 1
"#;
    let cmd = script(&env, "switches.sh", body);
    let err = launch_stopped(&env, &cmd);
    assert!(
        err.contains("the worktree is on elsewhere, not on the agent's branch"),
        "{err}"
    );
    assert!(err.contains("it is left as it is"), "{err}");
    // Nothing was reset or moved: the commit is still on the branch the agent made.
    let log = git(&env.repo, &["log", "--format=%s", "elsewhere"]);
    assert!(log.contains("on elsewhere"), "{log}");
    let plan = env.plan();
    assert_eq!(count_tasks(&plan, "attempts", 1), 1, "{plan}");
    assert_eq!(count_tasks(&plan, "status", "pending"), 2, "{plan}");
}

#[test]
fn an_agent_that_moves_its_branch_back_stops_the_supervisor() {
    let env = Env::with_plan(&crate::support::flat_plan(3));
    let body = r#"#!/bin/sh
if [ "$SWARM_TASK" = t0000 ]; then
  echo w > t0000.txt
  git add . && git -c user.name=a -c user.email=a@example.com commit -q -m "t0000 work"
else
  git reset -q --hard main
fi
"#;
    let cmd = script(&env, "rewinds.sh", body);
    let err = launch_stopped(&env, &cmd);
    assert!(
        err.contains("the branch no longer contains the commit it was at"),
        "{err}"
    );
    let plan = env.plan();
    assert_eq!(
        count_tasks(&plan, "status", "pending"),
        1,
        "the supervisor stopped after the second task: {plan}"
    );
}

#[test]
fn timeout_stops_the_agent_and_counts_an_attempt() {
    let env = Env::with_plan(&crate::support::flat_plan(1));
    let cmd = script(&env, "slow.sh", "#!/bin/sh\nexec sleep 30\n");
    let started = Instant::now();
    let o = env.run(&[
        "launch",
        "--headless",
        "--timeout",
        "1s",
        "--agent-cmd",
        &cmd,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(stderr(&o).contains("timed out"), "{}", stderr(&o));
    let t = &env.plan()["tasks"]["t0000"];
    assert_eq!(t["status"], "pending");
    assert_eq!(t["attempts"], 1);
}

#[test]
fn ctrl_c_on_a_supervisor_gives_the_task_back_and_leaves_valid_files() {
    let env = Env::with_plan(&crate::support::flat_plan(2));
    let root = env.repo.parent().unwrap().to_path_buf();
    let mark = root.join("started");
    let cmd = waiting_agent(&env, &mark);
    let sup = env
        .process()
        .args(["launch", "--headless", "--agent-cmd", &cmd])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(30, || started(&mark), || "agent never started".into());
    let agent_pid = std::fs::read_to_string(&mark).unwrap().trim().to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &sup.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let o = sup.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(stderr(&o).contains("stopped by SIGINT"), "{}", stderr(&o));
    assert!(
        !PathBuf::from(format!("/proc/{agent_pid}")).exists(),
        "the agent was stopped"
    );
    let plan: Value = env.plan();
    let reg: Value = env.registry();
    assert!(plan["tasks"]
        .as_object()
        .unwrap()
        .values()
        .all(|t| t["status"] == "pending"));
    assert!(reg["claimedTasks"].as_object().unwrap().is_empty());
    assert!(reg["agents"]
        .as_object()
        .unwrap()
        .values()
        .all(|a| a["state"] == "done"));
    assert_eq!(
        plan["tasks"]["t0000"]["attempts"].as_u64().unwrap_or(0),
        0,
        "no attempt counted"
    );
}

#[test]
fn an_agent_dies_with_its_supervisor_so_its_released_task_is_not_worked_twice() {
    let env = Env::with_plan(&crate::support::flat_plan(1));
    let mark = env.repo.parent().unwrap().join("started");
    let cmd = waiting_agent(&env, &mark);
    let mut sup = env
        .process()
        .args(["launch", "--headless", "--agent-cmd", &cmd])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until(30, || started(&mark), || "agent never started".into());
    let agent = PathBuf::from(format!(
        "/proc/{}",
        std::fs::read_to_string(&mark).unwrap().trim()
    ));
    sup.kill().unwrap(); // SIGKILL: no chance to clean up
    sup.wait().unwrap();
    let gone = || {
        !agent.exists()
            || std::fs::read_to_string(agent.join("stat")).is_ok_and(|s| s.contains(") Z"))
    };
    wait_until(10, gone, || "the agent outlived its supervisor".into());
    // The next command frees the task; nobody else is working on it.
    let o = env.run(&["list", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(env.plan()["tasks"]["t0000"]["status"], "pending");
}

#[test]
fn what_the_agent_started_dies_with_the_supervisor_too() {
    let env = Env::with_plan(&crate::support::flat_plan(1));
    let root = env.repo.parent().unwrap().to_path_buf();
    let beats = root.join("beats");
    // The agent starts a helper that keeps writing (as a CLI's tool process would), then waits.
    let cmd = script(
        &env,
        "helper.sh",
        &format!(
            "#!/bin/sh
(while :; do echo x >> '{}'; sleep 0.05; done) &
exec sleep 60
",
            beats.display()
        ),
    );
    let mut sup = env
        .process()
        .args(["launch", "--headless", "--agent-cmd", &cmd])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let size = || std::fs::metadata(&beats).map_or(0, |m| m.len());
    wait_until(30, || size() >= 10, || "the helper never started".into());
    sup.kill().unwrap(); // SIGKILL
    sup.wait().unwrap();
    // Within a few seconds the file stops growing: the helper is gone too.
    let mut before = size();
    let still = || {
        std::thread::sleep(Duration::from_millis(500));
        let now = size();
        std::mem::replace(&mut before, now) == now
    };
    wait_until(10, still, || {
        "a process the agent started outlived the supervisor".into()
    });
}

/// A supervisor blocked waiting for the lock cannot look at its signal flag: a second SIGINT
/// ends it at once (exit 130), as a second Ctrl-C does.
#[test]
fn a_second_sigint_ends_a_supervisor_blocked_on_the_lock() {
    let env = Env::with_plan(&crate::support::flat_plan(1));
    assert!(env.run(&["setup", "-q"]).status.success());
    let mut holder = crate::support::hold_lock(&env);
    let err = env.repo.parent().unwrap().join("sup.err");
    let mut sup = env
        .process()
        .args(["launch", "--headless", "--agent-cmd", "true"])
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let said = || std::fs::read_to_string(&err).unwrap_or_default();
    wait_until(30, || said().contains("waiting for lock"), said);
    let pid = sup.id().to_string();
    let sigint = || {
        let o = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap();
        assert!(o.success());
    };
    // Signals sent at once may arrive as one: a person presses Ctrl-C again until it ends.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut sent = 0;
    let status = loop {
        if let Some(s) = sup.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "still blocked after {sent} SIGINTs: {}",
            said()
        );
        sigint();
        sent += 1;
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        sent >= 2,
        "one SIGINT was enough: it should only have set the flag"
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{}", said());
    // Nothing was claimed: the next command finds the files as they were.
    assert!(env.registry()["claimedTasks"]
        .as_object()
        .unwrap()
        .is_empty());
}

#[test]
fn agents_launched_together_wait_for_work_instead_of_quitting() {
    // One task ready; two become ready after it. Three agents: the two with nothing to do at
    // first wait, and get the two tasks when they become ready.
    let env = Env::with_plan(
        r#"{"tasks": {
  "a": {"title": "first"},
  "b": {"title": "second", "blockedBy": ["a"]},
  "c": {"title": "third", "blockedBy": ["a"]}
}}"#,
    );
    let cmd = script(
        &env,
        "slow.sh",
        "#!/bin/sh\nsleep 1\necho \"$SWARM_TASK\" > \"w-$SWARM_TASK.txt\"\ngit add . && git -c user.name=a -c user.email=a@example.com commit -q -m \"$SWARM_TASK\"\n",
    );
    let o = env.run(&["launch", "--headless", "-n", "3", "--agent-cmd", &cmd]);
    assert!(o.status.success(), "{}", stderr(&o));
    let plan = env.plan();
    let by: Vec<&str> = ["a", "b", "c"]
        .iter()
        .map(|t| plan["tasks"][t]["agent"].as_str().unwrap_or("-"))
        .collect();
    assert!(
        ["a", "b", "c"]
            .iter()
            .all(|t| plan["tasks"][t]["status"] == "completed"),
        "{plan}"
    );
    let mut distinct = by.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        3,
        "each agent did one task: {by:?}\n{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("waiting for a task to become ready"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn launch_respects_the_plans_cap_on_live_agents() {
    let mut plan = crate::support::flat_plan(3);
    plan.insert_str(1, r#""coordination": {"maxAgents": 1}, "#);
    let env = Env::with_plan(&plan);
    let o = env.run(&["launch", "--no-exec", "--agent-cmd", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = env.run(&["launch", "--no-exec", "--agent-cmd", "true"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1 agents are alive and coordination.maxAgents is 1"),
        "{}",
        stderr(&o)
    );
    assert_eq!(count_tasks(&env.plan(), "status", "in-progress"), 1);
}

#[test]
fn notify_runs_its_command_when_a_run_fails_an_agent_needs_input_and_the_plan_finishes() {
    let env = Env::with_plan(&crate::support::flat_plan(2));
    let root = env.repo.parent().unwrap().to_path_buf();
    let seen = root.join("notified");
    let notify = script(
        &env,
        "notify.sh",
        &format!(
            "#!/bin/sh\necho \"$1|$2|$SWARM_EVENT\" >> '{}'\n",
            seen.display()
        ),
    );
    // t0000 fails once, then works; t0001 works.
    let agent = script(
        &env,
        "flaky.sh",
        &format!(
            "#!/bin/sh\nif [ \"$SWARM_TASK\" = t0000 ] && [ ! -e '{m}' ]; then touch '{m}'; exit 1; fi\necho x > \"$SWARM_TASK.txt\"\ngit add . && git -c user.name=a -c user.email=a@example.com commit -q -m \"$SWARM_TASK\"\n",
            m = root.join("failed-once").display()
        ),
    );
    let o = env.run(&[
        "launch",
        "--headless",
        "-n",
        "2",
        "--agent-cmd",
        &agent,
        "--notify",
        &notify,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    wait_until(
        10,
        || std::fs::read_to_string(&seen).is_ok_and(|t| t.contains("finished|")),
        || format!("no finished notice: {:?}", std::fs::read_to_string(&seen)),
    );
    let lines = std::fs::read_to_string(&seen).unwrap();
    assert!(
        lines
            .lines()
            .any(|l| l.starts_with("failed|") && l.contains("t0000") && l.ends_with("|failed")),
        "{lines}"
    );
    assert_eq!(
        lines.lines().filter(|l| l.starts_with("finished|")).count(),
        1,
        "{lines}"
    );
    // An agent's own process reaches it through SWARM_NOTIFY.
    let o = env
        .swarm()
        .args([
            "agent",
            "needs-input",
            "--agent",
            "someone",
            "--message",
            "which database?",
        ])
        .env("SWARM_NOTIFY", &notify)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    wait_until(
        10,
        || {
            std::fs::read_to_string(&seen)
                .is_ok_and(|t| t.contains("needs-input|someone: which database?"))
        },
        || {
            format!(
                "no needs-input notice: {:?}",
                std::fs::read_to_string(&seen)
            )
        },
    );
}
