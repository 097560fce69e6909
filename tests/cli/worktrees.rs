//! Worktrees ready to work: the plan's recipe (`coordination.worktree`) and `.worktreeinclude`
//! copy ignored files in, link and copy folders, run a setup command with the agent's leased
//! ports; `complete` runs the teardown and frees the lease.

use crate::support::{git, stderr, stdout, Env};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A repository with an ignored `.env`, a tracked `.worktreeinclude` naming it, and a plan of
/// `n` tasks whose recipe is `recipe` (the JSON of `coordination.worktree`).
fn repo_with_recipe(n: usize, recipe: &str) -> Env {
    let env = Env::new();
    std::fs::write(env.repo.join(".gitignore"), ".env\n.port\ncache/\ndeps/\n").unwrap();
    std::fs::write(env.repo.join(".worktreeinclude"), "# local config\n.env\n").unwrap();
    git(&env.repo, &["add", ".gitignore", ".worktreeinclude"]);
    git(&env.repo, &["commit", "-q", "-m", "ignore local files"]);
    std::fs::write(env.repo.join(".env"), "SECRET=local\n").unwrap();
    let tasks: Vec<String> = (0..n)
        .map(|i| format!("\"t{i}\": {{\"title\": \"T{i}\"}}"))
        .collect();
    env.write_plan(&format!(
        r#"{{"tasks": {{{}}}, "coordination": {{"worktree": {recipe}}}}}"#,
        tasks.join(", ")
    ));
    env
}

/// `launch --no-exec --json`; it must succeed: what it printed, and what it said.
fn launch_said(env: &Env) -> (Value, String) {
    let o = env.run(&["launch", "--no-exec", "--json", "--agent-cmd", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    (serde_json::from_slice(&o.stdout).unwrap(), stderr(&o))
}

/// `launch --no-exec --json`: agent id and worktree.
fn launch(env: &Env) -> (String, PathBuf) {
    let (v, _) = launch_said(env);
    (
        v["agent"].as_str().unwrap().to_string(),
        PathBuf::from(v["worktree"].as_str().unwrap()),
    )
}

/// `launch --no-exec --json --agent-cmd CMD` with `var` set in its environment; it must
/// succeed: what it printed.
fn launch_json_with(env: &Env, cmd: &str, (key, value): (&str, &std::ffi::OsStr)) -> Value {
    let o = env
        .swarm()
        .args(["launch", "--no-exec", "--json", "--agent-cmd", cmd])
        .env(key, value)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The machine-wide leases of the test's state dir.
fn leases(env: &Env) -> Vec<Value> {
    std::fs::read_to_string(env.state_dir().join("leases.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["leases"].as_array().cloned())
        .unwrap_or_default()
}

#[test]
fn three_agents_get_the_env_file_their_setup_and_different_ports_freed_by_complete() {
    let env = repo_with_recipe(
        3,
        r#"{"setup": ["sh", "-c", "echo \"$SWARM_PORT $SWARM_SLOT $COMPOSE_PROJECT_NAME\" > .port"], "ports": 2,
            "teardown": ["sh", "-c", "echo \"$SWARM_PORT\" >> ../torn-down"]}"#,
    );
    let mut ports = Vec::new();
    let mut agents = Vec::new();
    for _ in 0..3 {
        let (agent, wt) = launch(&env);
        assert_eq!(
            std::fs::read_to_string(wt.join(".env")).unwrap(),
            "SECRET=local\n"
        );
        let marker = std::fs::read_to_string(wt.join(".port")).unwrap();
        let words: Vec<&str> = marker.split_whitespace().collect();
        assert_eq!(words.len(), 3, "{marker}");
        assert!(words[2].starts_with("proj-"), "{marker}");
        ports.push(words[0].parse::<u16>().unwrap());
        agents.push((agent, wt));
    }
    let mut distinct = ports.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "{ports:?}");
    // Blocks of 2 do not overlap either.
    for (i, a) in ports.iter().enumerate() {
        for b in &ports[i + 1..] {
            assert!(a.abs_diff(*b) >= 2, "{ports:?}");
        }
    }
    assert_eq!(leases(&env).len(), 3);
    // The agent's own environment has them too (what `launch --no-exec` prints for scripts).
    let o = env.run(&["agents", "--json"]);
    let shown: Value = serde_json::from_slice(&o.stdout).unwrap();
    let listed: Vec<u64> = shown
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["ports"][0].as_u64())
        .collect();
    assert_eq!(listed.len(), 3, "{shown}");
    let text = stdout(&env.run(&["agents"]));
    assert!(
        text.contains(&format!("{} holds slot", agents[0].0)) && text.contains("ports"),
        "{text}"
    );
    for (i, (agent, wt)) in agents.iter().enumerate() {
        let o = env.run(&["task", "done", &format!("t{i}"), "--agent", agent]);
        assert!(o.status.success(), "{}", stderr(&o));
        let o = env.run(&["complete", agent, "--merge"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(!wt.exists());
        assert!(stderr(&o).contains("freed"), "{}", stderr(&o));
    }
    assert_eq!(leases(&env), Vec::<Value>::new(), "every lease is freed");
    let torn = std::fs::read_to_string(env.repo.parent().unwrap().join("torn-down")).unwrap();
    let mut torn: Vec<u16> = torn.lines().map(|l| l.parse().unwrap()).collect();
    torn.sort();
    let mut want = ports.clone();
    want.sort();
    assert_eq!(torn, want, "teardown ran in each worktree with its ports");
}

#[test]
fn a_failing_setup_gives_the_task_back_and_removes_what_the_launch_made() {
    let env = repo_with_recipe(
        1,
        r#"{"setup": ["sh", "-c", "echo installing; echo broken >&2; exit 7"], "ports": 1,
            "teardown": ["sh", "-c", "echo $SWARM_PORT > ../torn-down"]}"#,
    );
    let o = env.run(&["launch", "--no-exec", "--agent-cmd", "true"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("setup command"), "{err}");
    assert!(err.contains("exit code 7"), "{err}");
    assert!(err.contains("was given back"), "{err}");
    let log = err
        .split_whitespace()
        .find(|w| w.ends_with("-setup.log;") || w.ends_with("-setup.log"))
        .map(|w| w.trim_end_matches(';'))
        .unwrap_or_else(|| panic!("no log path in {err}"));
    let text = std::fs::read_to_string(log).unwrap();
    assert!(
        text.contains("installing") && text.contains("broken"),
        "{text}"
    );
    let task = &env.plan()["tasks"]["t0"];
    assert_eq!(task["status"], "pending", "{task}");
    assert!(
        task["attempts"].is_null() || task["attempts"] == 0,
        "{task}"
    );
    assert!(env.registry()["claimedTasks"]
        .as_object()
        .unwrap()
        .is_empty());
    // No worktree, no branch, no lease left.
    let worktrees = git(&env.repo, &["worktree", "list"]);
    assert_eq!(worktrees.lines().count(), 1, "{worktrees}");
    let branches = git(&env.repo, &["branch", "--list", "work/*"]);
    assert_eq!(branches.trim(), "", "{branches}");
    assert_eq!(leases(&env), Vec::<Value>::new());
    // What the setup may have started is stopped: the teardown ran, with the agent's port.
    let torn = std::fs::read_to_string(env.repo.parent().unwrap().join("torn-down")).unwrap();
    assert!(torn.trim().parse::<u16>().is_ok(), "{torn}");
}

#[test]
fn two_plans_on_one_machine_never_hold_the_same_ports() {
    let recipe = r#"{"ports": 3}"#;
    let a = repo_with_recipe(2, recipe);
    let b = repo_with_recipe(2, recipe);
    // Both plans use the same machine-wide state.
    let shared = a.state_dir();
    let run = |env: &Env| {
        let v = launch_json_with(env, "true", ("SWARM_STATE_DIR", shared.as_os_str()));
        let env_of = |k: &str| v["env"][k].as_str().map(str::to_string);
        (
            env_of("SWARM_PORT").unwrap().parse::<u16>().unwrap(),
            env_of("SWARM_SLOT").unwrap(),
            env_of("COMPOSE_PROJECT_NAME").unwrap(),
        )
    };
    let got = [run(&a), run(&b), run(&a), run(&b)];
    let mut ports: Vec<u16> = got.iter().flat_map(|(p, ..)| [*p, p + 1, p + 2]).collect();
    ports.sort();
    let n = ports.len();
    ports.dedup();
    assert_eq!(ports.len(), n, "{got:?}");
    let mut slots: Vec<&String> = got.iter().map(|(_, s, _)| s).collect();
    slots.sort();
    slots.dedup();
    assert_eq!(slots.len(), 4, "{got:?}");
    let text = std::fs::read_to_string(shared.join("leases.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["leases"].as_array().unwrap().len(), 4, "{text}");
}

#[test]
fn a_dead_agents_worktree_keeps_its_slot_until_it_is_removed() {
    let env = repo_with_recipe(3, r#"{"ports": 1}"#);
    let (first, wt) = launch(&env);
    let slot = leases(&env)[0]["slot"].clone();
    // Its lease lapses (no process of its own: judged by its heartbeat).
    let mut reg = env.registry();
    reg["agents"][&first]["heartbeat"] = "2020-01-01T00:00:00Z".into();
    reg["agents"][&first]["startTime"] = "2020-01-01T00:00:00Z".into();
    reg["claimedTasks"]["t0"]["claimedAt"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(env.registry_path(), reg.to_string()).unwrap();
    let (v, err) = launch_said(&env);
    // Dead by its lease only, it may still be at work in its worktree: not taken over.
    assert!(
        err.contains("starting in a new worktree") && err.contains("may still be in use"),
        "{err}"
    );
    assert_ne!(v["worktree"].as_str().map(PathBuf::from), Some(wt.clone()));
    // What its setup started may still use its slot: the new agent gets another.
    assert_ne!(
        v["env"]["SWARM_SLOT"].as_str(),
        slot.to_string().as_str().into()
    );
    assert_eq!(leases(&env).len(), 2);
    // Once the worktree is gone, so is its lease: the next launch gets the slot.
    std::fs::remove_dir_all(&wt).unwrap();
    let (v, _) = launch_said(&env);
    assert_eq!(
        v["env"]["SWARM_SLOT"].as_str().map(str::to_string),
        Some(slot.to_string())
    );
    assert_eq!(leases(&env).len(), 2);
}

#[test]
fn links_copies_and_include_globs_from_the_plan() {
    let env = repo_with_recipe(
        1,
        r#"{"include": ["config/*.local.json", "*.todo"], "link": ["./cache/"], "copy": ["deps"]}"#,
    );
    std::fs::create_dir_all(env.repo.join("config")).unwrap();
    std::fs::write(env.repo.join("config/app.local.json"), "{}").unwrap();
    std::fs::write(env.repo.join("config/app.json"), "tracked").unwrap();
    git(&env.repo, &["add", "config/app.json"]);
    git(&env.repo, &["commit", "-q", "-m", "config"]);
    std::fs::write(
        env.repo.join(".gitignore"),
        ".env\n.port\ncache/\ndeps/\n*.local.json\n",
    )
    .unwrap();
    git(&env.repo, &["commit", "-qam", "ignore local config"]);
    std::fs::create_dir_all(env.repo.join("cache")).unwrap();
    std::fs::write(env.repo.join("cache/big.bin"), "shared").unwrap();
    std::fs::create_dir_all(env.repo.join("deps/pkg/lib")).unwrap();
    std::fs::write(env.repo.join("deps/pkg/lib/index.js"), "module").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("pkg/lib/index.js", env.repo.join("deps/main.js")).unwrap();
    // Untracked but not ignored: not copied (it would be new work in the worktree).
    std::fs::write(env.repo.join("scratch.todo"), "mine").unwrap();
    let o = env.run(&["launch", "--dry-run", "--json", "--agent-cmd", "true"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["recipe"]["problems"].to_string().contains("scratch.todo"),
        "{v}"
    );
    assert!(
        !v["recipe"]["include"].to_string().contains("scratch.todo"),
        "{v}"
    );
    let (v, err) = launch_said(&env);
    assert!(
        err.contains("not copied, as git does not ignore them: scratch.todo"),
        "{err}"
    );
    let wt = PathBuf::from(v["worktree"].as_str().unwrap());
    assert!(!wt.join("scratch.todo").exists());
    assert_eq!(
        std::fs::read_to_string(wt.join("config/app.local.json")).unwrap(),
        "{}"
    );
    assert_eq!(
        std::fs::read_to_string(wt.join(".env")).unwrap(),
        "SECRET=local\n"
    );
    let cache = std::fs::symlink_metadata(wt.join("cache")).unwrap();
    assert!(cache.file_type().is_symlink());
    assert_eq!(
        std::fs::read_to_string(wt.join("cache/big.bin")).unwrap(),
        "shared"
    );
    let deps = std::fs::symlink_metadata(wt.join("deps")).unwrap();
    assert!(deps.is_dir(), "copied, not linked");
    assert_eq!(
        std::fs::read_to_string(wt.join("deps/pkg/lib/index.js")).unwrap(),
        "module"
    );
    assert_eq!(
        std::fs::read_link(wt.join("deps/main.js")).unwrap(),
        Path::new("pkg/lib/index.js"),
        "a link is copied as a link"
    );
    // The copies are the worktree's own.
    std::fs::write(wt.join("deps/pkg/lib/index.js"), "changed").unwrap();
    assert_eq!(
        std::fs::read_to_string(env.repo.join("deps/pkg/lib/index.js")).unwrap(),
        "module"
    );
    // Nothing of this makes the worktree look dirty.
    assert_eq!(git(&wt, &["status", "--porcelain"]).trim(), "");
}

#[test]
fn a_link_in_the_repository_is_never_written_through() {
    let env = repo_with_recipe(1, r#"{"link": ["config/cache"]}"#);
    let outside = env.repo.parent().unwrap().join("outside");
    std::fs::create_dir_all(outside.join("cache")).unwrap();
    // The repository tracks `config` as a link to a folder outside it.
    #[cfg(unix)]
    std::os::unix::fs::symlink(&outside, env.repo.join("config")).unwrap();
    git(&env.repo, &["add", "config"]);
    git(&env.repo, &["commit", "-q", "-m", "config is a link"]);
    let o = env.run(&["launch", "--no-exec", "--agent-cmd", "true"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("nothing is written through it"), "{err}");
    assert!(err.contains("was given back"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&outside)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("cache")], "{err}");
    assert!(std::fs::read_dir(outside.join("cache"))
        .unwrap()
        .next()
        .is_none());
}

#[test]
fn bad_recipes_and_include_files_are_refused_before_anything_changes() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"link": ["../outside"]}"#,
            "coordination.worktree.link[0]",
        ),
        (r#"{"copy": ["/abs"]}"#, "coordination.worktree.copy[0]"),
        (r#"{"copy": [".git/objects"]}"#, "inside .git"),
        (
            r#"{"include": ["a/[b"]}"#,
            "coordination.worktree.include[0]",
        ),
        (r#"{"ports": 1000}"#, "coordination.worktree.ports"),
        (r#"{"setup": ""}"#, "empty command"),
        (r#"{"setupTimeout": "0s"}"#, "setupTimeout"),
        (r#"{"include": "x"}"#, "coordination.worktree"),
    ];
    for (recipe, want) in cases {
        let env = repo_with_recipe(1, recipe);
        let before = env.snapshot();
        let o = env.run(&["launch", "--no-exec", "--agent-cmd", "true"]);
        assert_eq!(o.status.code(), Some(1), "{recipe}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{recipe}: {}", stderr(&o));
        assert_eq!(
            crate::support::changed(&before, &env.snapshot()),
            Vec::<PathBuf>::new(),
            "{recipe}"
        );
    }
    let env = repo_with_recipe(1, "{}");
    std::fs::write(env.repo.join(".worktreeinclude"), ".env\n\n!secret\n").unwrap();
    let before = env.snapshot();
    for args in [
        &["launch", "--no-exec", "--agent-cmd", "true"][..],
        &["setup"][..],
    ] {
        let o = env.run(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&o).contains(".worktreeinclude:3") && stderr(&o).contains("negated"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    assert_eq!(
        crate::support::changed(&before, &env.snapshot()),
        Vec::<PathBuf>::new()
    );
}

#[test]
fn dry_run_and_setup_show_what_the_recipe_will_do_and_what_is_wrong() {
    let env = repo_with_recipe(
        1,
        r#"{"include": ["nothing/*.here"], "copy": ["deps"], "link": ["README.md"], "setup": "no-such-program --install", "ports": 2}"#,
    );
    let o = env.run(&["launch", "--dry-run", "--json", "--agent-cmd", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let r = &v["recipe"];
    assert_eq!(r["include"], serde_json::json!([".env"]), "{v}");
    assert_eq!(r["copy"], serde_json::json!(["deps"]));
    assert_eq!(r["setup"], "no-such-program --install");
    assert_eq!(r["ports"], 2);
    let problems = r["problems"].to_string();
    assert!(problems.contains("nothing/*.here"), "{problems}");
    assert!(problems.contains("deps"), "{problems}");
    assert!(problems.contains("no-such-program"), "{problems}");
    assert!(problems.contains("git tracks it"), "{problems}");
    let o = env.run(&["setup"]);
    let err = stderr(&o);
    assert!(
        err.contains("no-such-program") && err.contains("nothing/*.here"),
        "{err}"
    );
    let o = env.run(&["launch", "--dry-run", "--agent-cmd", "true"]);
    assert!(stderr(&o).contains("copies 1 file"), "{}", stderr(&o));
    let _ = stdout(&o);
}

#[test]
fn without_git_on_path_worktrees_are_made_with_libgit2() {
    let env = Env::with_plan(&crate::support::flat_plan(1));
    let empty = env.repo.parent().unwrap().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let v = launch_json_with(&env, "/bin/true", ("PATH", empty.as_os_str()));
    let wt = PathBuf::from(v["worktree"].as_str().unwrap());
    assert!(wt.join("README.md").is_file());
    let list = git(&env.repo, &["worktree", "list"]);
    assert!(list.contains(wt.to_str().unwrap()), "{list}");
}

#[test]
fn launches_at_the_same_moment_get_different_ports_and_slots() {
    let env = repo_with_recipe(6, r#"{"ports": 2}"#);
    assert!(env.run(&["setup", "-q"]).status.success());
    let children: Vec<_> = (0..6)
        .map(|_| {
            env.process()
                .args(["launch", "--no-exec", "--json", "--agent-cmd", "true"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut ports = Vec::new();
    let mut slots = Vec::new();
    for child in children {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let port: u16 = v["env"]["SWARM_PORT"].as_str().unwrap().parse().unwrap();
        ports.extend([port, port + 1]);
        slots.push(v["env"]["SWARM_SLOT"].as_str().unwrap().to_string());
    }
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 12, "{ports:?}");
    slots.sort();
    slots.dedup();
    assert_eq!(slots.len(), 6, "{slots:?}");
    assert_eq!(leases(&env).len(), 6);
}

#[test]
fn an_agent_taking_over_a_dead_agents_worktree_keeps_its_ports() {
    let env = repo_with_recipe(
        1,
        r#"{"ports": 1, "setup": ["sh", "-c", "echo $SWARM_PORT > .port"]}"#,
    );
    // Another plan's agent holds the first port while this plan's first agent starts, and is
    // gone (its plan's files and worktree removed) by the time the worktree is taken over:
    // the lowest free port is then not the one this worktree was set up with.
    let other = repo_with_recipe(1, r#"{"ports": 1}"#);
    let state = env.state_dir();
    let other_wt = launch_json_with(&other, "true", ("SWARM_STATE_DIR", state.as_os_str()))
        ["worktree"]
        .as_str()
        .map(PathBuf::from)
        .unwrap();
    // The first agent is a process (`true`) that ends at once, holding its task.
    let o = env.run(&["launch", "--agent-cmd", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let reg = env.registry();
    let (first, entry) = reg["agents"].as_object().unwrap().iter().next().unwrap();
    let wt = PathBuf::from(entry["worktree"].as_str().unwrap());
    let written = std::fs::read_to_string(wt.join(".port")).unwrap();
    std::fs::remove_dir_all(other.repo.join(".claude-agents")).unwrap();
    std::fs::remove_dir_all(&other_wt).unwrap();
    // The next launch finds it dead (its process is gone), takes the worktree over and gets
    // the ports its setup wrote down, though a lower one is free.
    let (v, err) = launch_said(&env);
    assert!(err.contains("taking over the worktree"), "{err}");
    assert_eq!(v["worktree"].as_str().map(PathBuf::from), Some(wt.clone()));
    assert_eq!(v["env"]["SWARM_PORT"].as_str().unwrap(), written.trim());
    assert_ne!(
        written.trim(),
        "20000",
        "the test needs a port above the lowest"
    );
    // The setup did not run again.
    assert_eq!(std::fs::read_to_string(wt.join(".port")).unwrap(), written);
    let held = leases(&env);
    assert_eq!(held.len(), 1, "{held:?}");
    assert_ne!(held[0]["agent"], first.as_str());
}

#[test]
fn teardown_gets_the_worktrees_ports_after_its_supervisor_ended() {
    let env = repo_with_recipe(
        1,
        r#"{"ports": 1, "setup": ["sh", "-c", "echo $SWARM_PORT > .port"],
            "teardown": ["sh", "-c", "echo \"$SWARM_PORT $COMPOSE_PROJECT_NAME $SWARM_AGENT_ID\" > ../torn-down"]}"#,
    );
    let agent = crate::support::script(
        &env,
        "work.sh",
        "#!/bin/sh\necho done > done.txt && git add done.txt && git -c user.name=a -c user.email=a@example.com commit -qm done\n",
    );
    let o = env.run(&["launch", "--headless", "--agent-cmd", &agent]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The supervisor ended; its worktree, still set up, keeps the lease until `complete`.
    assert_eq!(leases(&env).len(), 1);
    let reg = env.registry();
    let (id, entry) = reg["agents"].as_object().unwrap().iter().next().unwrap();
    let wt = PathBuf::from(entry["worktree"].as_str().unwrap());
    let port = std::fs::read_to_string(wt.join(".port")).unwrap();
    let o = env.run(&["complete", id, "--merge"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let torn = std::fs::read_to_string(env.repo.parent().unwrap().join("torn-down")).unwrap();
    assert_eq!(
        torn,
        format!("{} proj-1 {id}\n", port.trim()),
        "the environment its setup ran with"
    );
    assert_eq!(leases(&env), Vec::<Value>::new());
}

#[test]
fn a_worktree_taken_over_with_other_ports_is_torn_down_and_set_up_again() {
    let env = repo_with_recipe(1, "{}");
    let plan = |ports: u32| {
        format!(
            r#"{{"tasks": {{"t0": {{"title": "T0"}}}},
  "coordination": {{"worktree": {{"ports": {ports},
    "setup": ["sh", "-c", "echo $SWARM_PORT_{last} > .port"],
    "teardown": ["sh", "-c", "echo $SWARM_PORT >> ../torn-down"]}}}}}}"#,
            last = ports - 1
        )
    };
    env.write_plan(&plan(1));
    // The first agent is a process that ends at once, holding t0 and its port.
    let o = env.run(&["launch", "--agent-cmd", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let reg = env.registry();
    let (_, entry) = reg["agents"].as_object().unwrap().iter().next().unwrap();
    let wt = PathBuf::from(entry["worktree"].as_str().unwrap());
    let old_port = std::fs::read_to_string(wt.join(".port")).unwrap();
    // The plan now wants two ports per agent: the worktree taken over gets a new block, its
    // old setup is torn down with the old port, and it is set up again with the new ones.
    env.write_plan(&plan(2));
    let (v, err) = launch_said(&env);
    assert!(err.contains("taking over the worktree"), "{err}");
    assert!(err.contains("set up again"), "{err}");
    let new_last = v["env"]["SWARM_PORT_1"].as_str().unwrap();
    assert_eq!(
        std::fs::read_to_string(wt.join(".port")).unwrap().trim(),
        new_last
    );
    let torn = std::fs::read_to_string(env.repo.parent().unwrap().join("torn-down")).unwrap();
    assert_eq!(torn, old_port, "torn down with the port it was set up with");
    assert_eq!(leases(&env).len(), 1);
}

#[test]
fn a_setup_past_its_timeout_is_stopped_and_the_task_given_back() {
    let env = repo_with_recipe(1, r#"{"setup": "sleep 30", "setupTimeout": "1s"}"#);
    let o = env.run(&["launch", "--no-exec", "--agent-cmd", "true"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("timed out after"), "{}", stderr(&o));
    assert_eq!(env.plan()["tasks"]["t0"]["status"], "pending");
}

#[test]
fn a_setup_program_that_does_not_exist_is_named_with_its_log() {
    let env = repo_with_recipe(1, r#"{"setup": "no-such-program-xyz --install"}"#);
    let o = env.run(&["launch", "--no-exec", "--agent-cmd", "true"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("no-such-program-xyz"), "{err}");
    let log = err
        .split_whitespace()
        .find(|w| w.contains("-setup.log"))
        .unwrap_or_else(|| panic!("no log in {err}"))
        .trim_end_matches([';', ':', ',']);
    let text = std::fs::read_to_string(log).unwrap();
    assert!(text.contains("no-such-program-xyz"), "{text}");
    assert_eq!(env.plan()["tasks"]["t0"]["status"], "pending");
}

#[test]
fn a_recipe_added_to_the_plan_later_applies_at_the_next_launch_into_a_worktree() {
    let env = Env::with_plan(
        r#"{"tasks": {"t0": {"title": "T0"}, "t1": {"title": "T1"}},
  "coordination": {"agents": {"a": {"worktree": "../proj-a", "branch": "work/a"}}}}"#,
    );
    assert!(env.run(&["setup", "-q"]).status.success());
    let wt = env.repo.parent().unwrap().join("proj-a");
    let o = env.run(&["launch", "--no-exec", "--as", "a", "--agent-cmd", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = env.run(&["task", "done", "t0", "--agent", "a"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut plan = env.plan();
    plan["coordination"]["worktree"] =
        serde_json::json!({"setup": ["sh", "-c", "echo $SWARM_SLOT > .slot"]});
    std::fs::write(env.repo.join(".gitignore"), ".slot\n").unwrap();
    git(&env.repo, &["add", ".gitignore"]);
    git(&env.repo, &["commit", "-q", "-m", "ignore .slot"]);
    env.write_plan(&plan.to_string());
    assert!(!wt.join(".slot").exists());
    let o = env.run(&["launch", "--no-exec", "--as", "a", "--agent-cmd", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(wt.join(".slot")).unwrap(), "1\n");
}
