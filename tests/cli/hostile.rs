//! Hostile plans: nothing from a plan reaches a shell, nothing is created outside the worktree
//! root, names git refuses are refused clearly, links are handled on purpose.

use crate::support::{changed, git, stderr, Env};
use std::path::{Path, PathBuf};

const NASTY: &str =
    "x $(touch PWNED1) `touch PWNED2` \"q\" 'q' ; touch PWNED3 && rm -rf ./victim\nnext line | cat";

fn files_named(dir: &Path, prefix: &str, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_name().to_string_lossy().starts_with(prefix) {
            out.push(p.clone());
        }
        if p.is_dir() && !p.is_symlink() {
            files_named(&p, prefix, out);
        }
    }
}

#[test]
fn plan_text_and_odd_ids_never_reach_a_shell_or_leave_the_root() {
    let plan = serde_json::json!({
        "tasks": {
            "../../escape/x": {"title": NASTY, "description": NASTY, "status": "pending", "blockedBy": []},
            "a/../../b; rm -rf ~": {"title": "`id`", "status": "pending", "blockedBy": []}
        }
    });
    let env = Env::with_plan(&serde_json::to_string_pretty(&plan).unwrap());
    let root = env.repo.parent().unwrap().to_path_buf();
    std::fs::create_dir_all(env.repo.join("victim")).unwrap();
    // The agent records its arguments and environment, one per line, then exits 0.
    let record = root.join("record.sh");
    std::fs::write(
        &record,
        "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done >> \"$OUT\"\nprintf '%s\\n' \"$SWARM_TASK\" >> \"$OUT\"\n",
    )
    .unwrap();
    let out = root.join("recorded.txt");
    let o = env
        .swarm()
        .env("OUT", &out)
        .args(["launch", "--headless", "--agent-cmd"])
        .arg(format!("sh {} {{task}}", record.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let recorded = std::fs::read_to_string(&out).unwrap();
    assert!(recorded.contains("$(touch PWNED1)"), "{recorded}");
    assert!(recorded.contains("`touch PWNED2`"), "{recorded}");
    assert!(recorded.contains("../../escape/x"), "{recorded}");
    assert!(recorded.contains("a/../../b; rm -rf ~"), "{recorded}");
    let mut pwned = Vec::new();
    files_named(&root, "PWNED", &mut pwned);
    assert!(pwned.is_empty(), "{pwned:?}");
    assert!(env.repo.join("victim").is_dir());
    // Worktrees sit under the root, named by agent id, not by task id.
    let mut escaped = Vec::new();
    files_named(root.parent().unwrap(), "escape", &mut escaped);
    assert!(escaped.iter().all(|p| p.starts_with(&root)), "{escaped:?}");
    assert!(env.plan()["tasks"]
        .as_object()
        .unwrap()
        .values()
        .all(|t| t["status"] == "completed"));
}

#[test]
fn bad_preassigned_agents_are_refused_before_anything_is_created() {
    let cases = [
        (r#"{"agent-a": {"branch": "bad..name"}}"#, "bad..name"),
        (r#"{"agent-a": {"branch": "-x"}}"#, "\"-x\""),
        (r#"{"a/b": {"branch": "ok"}}"#, "a/b"),
        (r#"{"..": {}}"#, "\"..\""),
        (
            r#"{"agent-a": {"worktree": "../../outside"}}"#,
            "outside the worktree root",
        ),
        (
            r#"{"agent-a": {"worktree": "/etc/agent-a"}}"#,
            "outside the worktree root",
        ),
    ];
    for (agents, needle) in cases {
        let plan = format!(
            r#"{{"tasks": {{"t": {{"status": "pending", "blockedBy": []}}}}, "coordination": {{"agents": {agents}}}}}"#
        );
        let env = Env::with_plan(&plan);
        let root = env.repo.parent().unwrap().to_path_buf();
        let before = env.snapshot();
        let siblings = std::fs::read_dir(&root).unwrap().count();
        let o = env.run(&["setup"]);
        assert_eq!(o.status.code(), Some(1), "{agents}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{agents}: {}", stderr(&o));
        assert_eq!(
            changed(&before, &env.snapshot()),
            Vec::<PathBuf>::new(),
            "{agents}"
        );
        assert_eq!(
            std::fs::read_dir(&root).unwrap().count(),
            siblings,
            "{agents}"
        );
        assert!(!root.parent().unwrap().join("outside").exists());
    }
}

#[test]
fn symlinked_plan_is_followed_and_symlinked_registry_refused() {
    let env = Env::new();
    let real_dir = env.repo.parent().unwrap().join("real-plans");
    std::fs::create_dir_all(&real_dir).unwrap();
    let real = real_dir.join("status.json");
    std::fs::write(&real, crate::support::CHAIN).unwrap();
    std::os::unix::fs::symlink(&real, env.plan_path()).unwrap();
    let o = env.run(&["task", "claim", "--next", "--agent", "x"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::symlink_metadata(env.plan_path())
        .unwrap()
        .file_type()
        .is_symlink());
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(
        text.contains("in-progress"),
        "the linked file was updated: {text}"
    );

    let reg = env.registry_path();
    let elsewhere = env.repo.parent().unwrap().join("elsewhere.json");
    std::fs::rename(&reg, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &reg).unwrap();
    let before = std::fs::read(&elsewhere).unwrap();
    let o = env.run(&["task", "claim", "--next", "--agent", "y"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("is a symbolic link"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&elsewhere).unwrap(), before);
}

/// Patterns cannot make matching backtrack: a join point and an agent's task list written to
/// be exponential for a backtracking matcher are checked, and claimed through, in a moment.
#[test]
fn hostile_patterns_are_matched_in_linear_time() {
    let long = "a".repeat(60);
    let plan = format!(
        r#"{{"tasks": {{"{long}": {{}}, "aaaaaaaab": {{}}}},
  "joinPoints": {{"j": {{"requires": ["*a*a*a*a*a*a*a*a*b"]}}}},
  "coordination": {{"agents": {{"x": {{"tasks": ["{}"]}}}}}}}}"#,
        "**/".repeat(28)
    );
    let env = Env::with_plan(&plan);
    let start = std::time::Instant::now();
    let o = env.run(&["plan", "validate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = env.run(&["task", "claim", "--next", "--as", "x", "--agent", "x"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = env.run(&["join-status"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        start.elapsed() < std::time::Duration::from_secs(1),
        "took {:?}",
        start.elapsed()
    );
}

/// A repository that commits its own `.claude-agents/` (here an event log that is a link to a
/// file outside, and a task id that is shell code): swarm refuses to use it, says why, and
/// no byte outside the coordination dir changes.
#[test]
fn a_coordination_dir_the_repository_tracks_is_refused() {
    let env = Env::with_plan(r#"{"tasks": {"x$(touch PWNED)": {}}}"#);
    let outside = env.repo.parent().unwrap().join("bashrc");
    std::fs::write(&outside, "# rc\n").unwrap();
    let coord = env.repo.join(".claude-agents");
    std::fs::create_dir_all(&coord).unwrap();
    std::os::unix::fs::symlink(&outside, coord.join("events.jsonl")).unwrap();
    git(&env.repo, &["add", "-f", ".claude-agents"]);
    git(
        &env.repo,
        &["commit", "-q", "-m", "bring a coordination dir"],
    );
    let before = env.snapshot();
    for args in [
        &["setup"][..],
        &["task", "claim", "--next", "--agent", "a"],
        &["list"],
    ] {
        let o = env.run(args);
        if args == ["list"] {
            // Reading is fine: list before setup takes no lock and writes nothing.
            continue;
        }
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("the repository tracks files in swarm's coordination directory"),
            "{}",
            stderr(&o)
        );
    }
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "# rc\n");
    assert!(changed(&before, &env.snapshot()).is_empty());
    assert!(!env.repo.join("PWNED").exists());
}

/// Links in an untracked coordination dir — the dir itself, the event log, the launch script,
/// the registry, the lock, the prompts and logs folders — are refused by name before anything
/// is written, and the files they point at keep every byte.
#[test]
fn nothing_is_written_through_a_link_in_the_coordination_dir() {
    for entry in [
        ".",
        "events.jsonl",
        "launch-agent.sh",
        "task-registry.json",
        "task-registry.lock",
        "prompts",
        "logs",
    ] {
        let env = Env::with_plan(r#"{"tasks": {"a": {}, "b": {}}}"#);
        let o = env.run(&["setup", "-q"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let root = env.repo.parent().unwrap();
        let target = root.join("target-of-link");
        let coord = env.repo.join(".claude-agents");
        let link = if entry == "." {
            coord.clone()
        } else {
            coord.join(entry)
        };
        if entry == "prompts" || entry == "logs" || entry == "." {
            std::fs::create_dir_all(&target).unwrap();
            std::fs::write(target.join("keep"), "keep\n").unwrap();
        } else {
            std::fs::write(&target, "keep\n").unwrap();
        }
        if link.is_dir() {
            std::fs::rename(&link, root.join("moved-away")).unwrap();
        } else {
            let _ = std::fs::remove_file(&link);
        }
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let before = env.snapshot();
        let outside_before = std::fs::read_dir(&target).map(|d| d.count()).ok();
        for args in [
            &["setup"][..],
            &["task", "claim", "--next", "--agent", "x"],
            &["launch", "--no-exec", "--agent-cmd", "true"],
        ] {
            let o = env.run(args);
            assert_eq!(o.status.code(), Some(1), "{entry} {args:?}: {}", stderr(&o));
            assert!(
                stderr(&o).contains("symbolic link"),
                "{entry} {args:?}: {}",
                stderr(&o)
            );
        }
        assert!(changed(&before, &env.snapshot()).is_empty(), "{entry}");
        match outside_before {
            Some(n) => assert_eq!(std::fs::read_dir(&target).unwrap().count(), n, "{entry}"),
            None => assert_eq!(
                std::fs::read_to_string(&target).unwrap(),
                "keep\n",
                "{entry}"
            ),
        }
    }
}
