//! Real concurrent processes: many claimers at once, a lock holder killed with SIGKILL.

use crate::support::{flat_plan, stderr, stdout, Env};
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Claims in a loop as `agent` until swarm exits 3; returns the tasks it got.
fn claim_until_empty(env: &Env, agent: &str) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        let o = env.run(&["task", "claim", "--next", "--agent", agent, "-q"]);
        match o.status.code() {
            Some(0) => got.push(String::from_utf8_lossy(&o.stdout).trim().to_string()),
            Some(3) => return got,
            other => panic!("claimer {agent} exited {other:?}: {}", stderr(&o)),
        }
    }
}

#[test]
fn sixteen_concurrent_claimers_claim_every_task_exactly_once() {
    let env = Env::with_plan(&flat_plan(200));
    assert!(env.run(&["setup", "-q"]).status.success());
    let results: Vec<(String, Vec<String>)> = thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let env = &env;
                s.spawn(move || {
                    let agent = format!("agent-{i}");
                    let got = claim_until_empty(env, &agent);
                    (agent, got)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("claimer thread"))
            .collect()
    });
    let mut owner: HashMap<String, String> = HashMap::new();
    for (agent, tasks) in &results {
        for t in tasks {
            if let Some(prev) = owner.insert(t.clone(), agent.clone()) {
                panic!("task {t} claimed twice: by {prev} and {agent}");
            }
        }
    }
    assert_eq!(owner.len(), 200, "every task claimed");
    let reg = env.registry();
    let claims = reg["claimedTasks"].as_object().unwrap();
    assert_eq!(claims.len(), 200);
    let plan = env.plan();
    for (task, agent) in &owner {
        assert_eq!(claims[task]["agent"], agent.as_str());
        assert_eq!(plan["tasks"][task]["agent"], agent.as_str());
        assert_eq!(plan["tasks"][task]["status"], "in-progress");
    }
    assert!(
        results.iter().filter(|(_, t)| !t.is_empty()).count() > 1,
        "work was shared"
    );
    let left = std::fs::read_dir(env.repo.join(".claude-agents/claim-requests"))
        .unwrap()
        .count();
    assert_eq!(left, 0, "every claim request was answered and removed");
}

/// `task claim --next` for agent x that gives up after `seconds` of waiting for the lock.
fn claim_waiting_at_most(env: &Env, seconds: &str) -> std::process::Output {
    env.run(&[
        "task",
        "claim",
        "--next",
        "--agent",
        "x",
        "--lock-timeout",
        seconds,
    ])
}

fn lock_path(env: &Env) -> std::path::PathBuf {
    env.repo.join(".claude-agents/task-registry.lock")
}

/// Starts `flock` holding the registry lock (its child does not inherit it: -o), and waits
/// until the lock is really held. The caller kills and waits for it.
#[allow(clippy::zombie_processes)]
fn hold_lock(env: &Env) -> std::process::Child {
    let mut child = Command::new("flock")
        .arg("-o")
        .arg(lock_path(env))
        .args(["sleep", "60"])
        .stdout(Stdio::null())
        .spawn()
        .expect("flock(1) is installed");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let probe = Command::new("flock")
            .arg("-n")
            .arg(lock_path(env))
            .arg("true")
            .status()
            .unwrap();
        if !probe.success() {
            return child;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("flock never took the lock");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn lock_holder_killed_with_sigkill_does_not_block_the_next_claim() {
    let env = Env::with_plan(&flat_plan(3));
    assert!(env.run(&["setup", "-q"]).status.success());
    let mut holder = hold_lock(&env);
    // While it lives, the lock is really held: a claim with a short timeout gives up.
    let o = claim_waiting_at_most(&env, "0.5");
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("still locked"), "{err}");
    assert_eq!(
        err.matches("waiting for lock").count(),
        1,
        "said once: {err}"
    );
    // SIGKILL: no cleanup runs, yet the kernel drops the lock.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let o = claim_waiting_at_most(&env, "5");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(env.registry()["claimedTasks"].as_object().unwrap().len(), 1);
}

/// Without `--lock-timeout` a claim waits as long as it takes (the notice comes from a timer
/// signal that interrupts the wait, not from a thread): it says so once, goes on waiting, and
/// claims when the lock is free.
#[test]
fn a_claim_without_a_timeout_says_once_that_it_waits_then_claims() {
    claim_waits_says_so_once_and_claims(false);
}

/// The same when the parent left SIGALRM blocked (a signal mask survives exec): the timer
/// still interrupts the wait.
#[test]
fn a_waiting_claim_says_so_even_with_sigalrm_blocked() {
    claim_waits_says_so_once_and_claims(true);
}

fn claim_waits_says_so_once_and_claims(block_sigalrm: bool) {
    let env = Env::with_plan(&flat_plan(3));
    assert!(env.run(&["setup", "-q"]).status.success());
    let mut holder = hold_lock(&env);
    let err_path = env.repo.parent().unwrap().join("claim.err");
    let mut cmd = env.process();
    cmd.args(["task", "claim", "--next", "--agent", "x"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&err_path).unwrap());
    if block_sigalrm {
        use std::os::unix::process::CommandExt;
        // SAFETY: between fork and exec only async-signal-safe calls (sigemptyset,
        // sigaddset, pthread_sigmask) on a local set.
        unsafe {
            cmd.pre_exec(|| {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGALRM);
                libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                Ok(())
            });
        }
    }
    let mut claimer = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&err_path)
        .unwrap()
        .contains("waiting for lock")
    {
        assert!(
            Instant::now() < deadline,
            "no notice while the lock is held"
        );
        assert!(claimer.try_wait().unwrap().is_none(), "gave up waiting");
        thread::sleep(Duration::from_millis(20));
    }
    // Well past the first notice: still waiting, and still said only once.
    thread::sleep(Duration::from_millis(700));
    assert!(claimer.try_wait().unwrap().is_none(), "gave up waiting");
    assert!(env.registry()["claimedTasks"]
        .as_object()
        .unwrap()
        .is_empty());
    holder.kill().unwrap();
    holder.wait().unwrap();
    let out = claimer.wait_with_output().unwrap();
    let err = std::fs::read_to_string(&err_path).unwrap();
    assert!(out.status.success(), "{err}");
    assert_eq!(
        err.matches("waiting for lock").count(),
        1,
        "said once: {err}"
    );
    assert!(err.contains("held by pid"), "names the holder: {err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "t0000");
    assert_eq!(env.registry()["claimedTasks"].as_object().unwrap().len(), 1);
}

#[test]
fn claimers_killed_mid_operation_leave_valid_consistent_files() {
    let env = Env::with_plan(&flat_plan(60));
    assert!(env.run(&["setup", "-q"]).status.success());
    for round in 0..6u64 {
        let mut children: Vec<_> = (0..6)
            .map(|i| {
                env.process()
                    .args([
                        "task",
                        "claim",
                        "--next",
                        "-q",
                        "--agent",
                        &format!("r{round}-{i}"),
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        thread::sleep(Duration::from_millis(2 + round * 3));
        for c in &mut children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Whatever instant they died at, both files parse and agree after the next command.
        let o = env.run(&["list", "--json", "-q"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let plan = env.plan();
        let reg = env.registry();
        let claims = reg["claimedTasks"].as_object().unwrap();
        for (id, t) in plan["tasks"].as_object().unwrap() {
            let claimed = claims.contains_key(id);
            assert_eq!(
                claimed,
                t["status"] == "in-progress",
                "task {id}: {t} vs claim {claimed}"
            );
        }
    }
}

#[test]
fn posted_claim_requests_are_served_by_the_next_claimer_and_dead_ones_dropped() {
    let env = Env::with_plan(&flat_plan(4));
    assert!(env.run(&["setup", "-q"]).status.success());
    let dir = env.repo.join(".claude-agents/claim-requests");
    // A request from a live process (this test) for agent "ghost", and one from a dead process.
    let me = std::process::id();
    let live = format!("{{\"id\": \"{me}-1\", \"agent\": \"ghost\", \"pid\": {me}}}");
    std::fs::write(dir.join(format!("{me}-1.json")), live).unwrap();
    let dead = "{\"id\": \"4194300-1\", \"agent\": \"zombie\", \"pid\": 4194300}";
    std::fs::write(dir.join("4194300-1.json"), dead).unwrap();
    // A live pid that started at another time: a reused pid, not the process that asked.
    let reused =
        format!("{{\"id\": \"{me}-2\", \"agent\": \"reused\", \"pid\": {me}, \"pid_start\": 1}}");
    std::fs::write(dir.join(format!("{me}-2.json")), reused).unwrap();
    // Files cut short: a dead process's are removed, a live one's are left to it.
    std::fs::write(dir.join("4194300-2.json"), "").unwrap();
    std::fs::write(dir.join(".4194300-3.tmp"), "{\"id\"").unwrap();
    let partial = dir.join(format!(".{me}-3.tmp"));
    std::fs::write(&partial, "{\"id\"").unwrap();
    // A live process's request for another project's plan: not served here.
    let elsewhere = dir.join(format!("{me}-4.json"));
    let other = format!(
        "{{\"id\": \"{me}-4\", \"agent\": \"far\", \"pid\": {me}, \"project\": \"other\"}}"
    );
    std::fs::write(&elsewhere, other).unwrap();

    let o = env.run(&["task", "claim", "--next", "--agent", "x"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let reg = env.registry();
    let claims = reg["claimedTasks"].as_object().unwrap();
    let ghost: Vec<_> = claims
        .iter()
        .filter(|(_, c)| c["agent"] == "ghost")
        .collect();
    assert_eq!(ghost.len(), 1, "the live request was served: {claims:?}");
    assert_eq!(ghost[0].1["request"], format!("{me}-1"));
    assert!(
        claims.values().all(|c| c["agent"] != "zombie"),
        "a dead process gets nothing"
    );
    assert!(claims.values().any(|c| c["agent"] == "x"));
    let mut left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [partial.clone(), elsewhere.clone()],
        "only the live process's partial file and the other project's request are left"
    );
    assert!(claims.values().all(|c| c["agent"] != "far"));
    std::fs::remove_file(&partial).unwrap();
    std::fs::remove_file(&elsewhere).unwrap();
    // The served task is a real claim: nobody else gets it.
    let ghost_task = ghost[0].0.clone();
    let mut others = Vec::new();
    while let Some(t) = {
        let o = env.run(&["task", "claim", "--next", "--agent", "y"]);
        (o.status.code() == Some(0)).then(|| stdout(&o).trim().to_string())
    } {
        others.push(t);
    }
    assert_eq!(others.len(), 2);
    assert!(!others.contains(&ghost_task));
}

#[test]
fn a_swarm_process_killed_while_holding_the_lock_does_not_block_the_next_claim() {
    // A plan big enough that a debug-build `list` holds the lock for a while.
    let env = Env::with_plan(&flat_plan(20_000));
    assert!(env.run(&["setup", "-q"]).status.success());
    for attempt in 0..20 {
        let mut holder = env
            .process()
            .args(["list", "--json", "-q"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut held = false;
        while Instant::now() < deadline && !held {
            let probe = Command::new("flock")
                .arg("-n")
                .arg(lock_path(&env))
                .arg("true")
                .status()
                .unwrap();
            held = !probe.success();
        }
        holder.kill().unwrap();
        holder.wait().unwrap();
        if !held {
            assert!(
                attempt < 19,
                "never caught the swarm process holding the lock"
            );
            continue;
        }
        let o = claim_waiting_at_most(&env, "5");
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(env.registry()["claimedTasks"]["t0000"]["agent"] == "x");
        return;
    }
}

#[test]
fn a_claim_served_by_another_process_reports_its_title() {
    let env = Env::with_plan(&flat_plan(4));
    assert!(env.run(&["setup", "-q"]).status.success());
    let dir = env.repo.join(".claude-agents/claim-requests");
    let mut holder = hold_lock(&env);
    // Two claimers find the lock busy and post requests; whichever takes the lock first
    // serves the other.
    let claimers: Vec<_> = ["a", "b"]
        .iter()
        .enumerate()
        .map(|(n, agent)| {
            let child = env
                .process()
                .args(["task", "claim", "--next", "--json", "--agent", agent])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::fs::read_dir(&dir).unwrap().flatten().count() <= n {
                assert!(Instant::now() < deadline, "no request posted");
                thread::sleep(Duration::from_millis(5));
            }
            child
        })
        .collect();
    holder.kill().unwrap();
    holder.wait().unwrap();
    let mut tasks = Vec::new();
    for c in claimers {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let task = v["task"].as_str().unwrap().to_string();
        let n: usize = task.trim_start_matches('t').parse().unwrap();
        assert_eq!(v["title"], format!("Task {n}"), "{v}");
        assert!(
            stderr(&o).contains(&format!("claimed {task} (Task {n})")),
            "{}",
            stderr(&o)
        );
        tasks.push(task);
    }
    assert_ne!(tasks[0], tasks[1]);
    // One of the two claims was made for the other process's request.
    let reg = env.registry();
    let served = reg["claimedTasks"]
        .as_object()
        .unwrap()
        .values()
        .filter(|c| c["request"].is_string())
        .count();
    assert_eq!(served, 1, "{reg}");
}
