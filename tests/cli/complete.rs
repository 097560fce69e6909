//! `complete`: never loses work. Refusals change nothing; archive and PR keep the commits.

use crate::support::{changed, git, stderr, stdout, Env};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One task launched with --no-exec (a lease-holding agent), worked on and marked done.
struct Launched {
    env: Env,
    agent: String,
    worktree: PathBuf,
    branch: String,
}

fn launched() -> Launched {
    let env = Env::with_plan(&crate::support::flat_plan(1));
    let o = env.run(&["launch", "--no-exec", "--json", "--agent-cmd", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let l = Launched {
        agent: v["agent"].as_str().unwrap().into(),
        worktree: PathBuf::from(v["worktree"].as_str().unwrap()),
        branch: v["branch"].as_str().unwrap().into(),
        env,
    };
    let o = l.env.run(&["task", "done", "t0000", "--agent", &l.agent]);
    assert!(o.status.success(), "{}", stderr(&o));
    l
}

fn commit(dir: &Path, file: &str, text: &str, msg: &str) {
    std::fs::write(dir.join(file), text).unwrap();
    git(dir, &["add", file]);
    git(dir, &["commit", "-q", "-m", msg]);
}

fn tip(repo: &Path, rev: &str) -> String {
    git(repo, &["rev-parse", rev]).trim().to_string()
}

#[test]
fn refuses_to_remove_a_worktree_with_uncommitted_changes() {
    let l = launched();
    commit(&l.worktree, "kept.txt", "committed\n", "committed work");
    std::fs::write(l.worktree.join("notes.txt"), "not committed\n").unwrap();
    let before = l.env.snapshot();
    let main_before = tip(&l.env.repo, "main");
    let o = l.env.run(&["complete", &l.agent, "--merge"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("uncommitted changes"), "{err}");
    assert!(err.contains("notes.txt (untracked)"), "{err}");
    assert!(l.worktree.join("notes.txt").is_file());
    assert_eq!(tip(&l.env.repo, "main"), main_before);
    assert_eq!(changed(&before, &l.env.snapshot()), Vec::<PathBuf>::new());
    assert_eq!(l.env.plan()["tasks"]["t0000"]["status"], "completed");
}

#[test]
fn refuses_to_drop_commits_that_are_neither_merged_nor_pushed() {
    let l = launched();
    commit(&l.worktree, "work.txt", "work\n", "unsaved work");
    let before = l.env.snapshot();
    // No remote, no choice of delivery: only removing the worktree is on the table.
    let o = l.env.run(&["complete", &l.agent]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("neither merged into main nor pushed"), "{err}");
    assert!(err.contains("unsaved work"), "{err}");
    assert!(l.worktree.is_dir());
    assert_eq!(changed(&before, &l.env.snapshot()), Vec::<PathBuf>::new());

    // --dry-run shows the plan of a delivery and changes nothing either.
    let o = l.env.run(&["complete", &l.agent, "--archive", "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let plan = stdout(&o);
    assert!(
        plan.contains(&format!("remove worktree {}", l.worktree.display())),
        "{plan}"
    );
    assert!(
        plan.contains(&format!(
            "rename branch {} to archive/{}",
            l.branch, l.branch
        )),
        "{plan}"
    );
    assert_eq!(changed(&before, &l.env.snapshot()), Vec::<PathBuf>::new());
}

#[test]
fn archive_keeps_the_commits_reachable() {
    let l = launched();
    commit(&l.worktree, "work.txt", "work\n", "archived work");
    let work_tip = tip(&l.worktree, "HEAD");
    let o = l.env.run(&["complete", &l.agent, "--archive"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!l.worktree.exists());
    let archived = format!("archive/{}", l.branch);
    assert_eq!(tip(&l.env.repo, &archived), work_tip);
    assert!(git(&l.env.repo, &["branch", "--list", &l.branch]).is_empty());
    // Archived is not delivered: the task stays completed, and says where its work is.
    let task = &l.env.plan()["tasks"]["t0000"];
    assert_eq!(task["status"], "completed");
    assert_eq!(task["archivedBranch"], archived.as_str());
    assert_eq!(l.env.registry()["agents"][&l.agent]["state"], "done");
}

#[test]
fn merge_conflict_changes_nothing() {
    let l = launched();
    commit(
        &l.worktree,
        "README.md",
        "agent's version\n",
        "agent edits README",
    );
    commit(
        &l.env.repo,
        "README.md",
        "main's version\n",
        "main edits README",
    );
    let before = l.env.snapshot();
    let main_before = tip(&l.env.repo, "main");
    let o = l.env.run(&["complete", &l.agent, "--merge"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("conflicts in README.md"),
        "{}",
        stderr(&o)
    );
    assert_eq!(tip(&l.env.repo, "main"), main_before);
    assert!(l.worktree.is_dir());
    assert_eq!(changed(&before, &l.env.snapshot()), Vec::<PathBuf>::new());
}

/// `complete AGENT` (no delivery chosen) with the fake `gh` first on `path`.
fn complete_with_gh(l: &Launched, path: &std::ffi::OsStr) -> std::process::Output {
    l.env
        .swarm()
        .env("PATH", path)
        .args(["complete", &l.agent])
        .output()
        .unwrap()
}

/// A bare `origin` for the repository and a fake `gh` that writes its arguments to the file
/// returned; the `PATH` that finds it first.
fn remote_and_fake_gh(l: &Launched) -> (std::ffi::OsString, PathBuf) {
    let root = l.env.repo.parent().unwrap().to_path_buf();
    git(&root, &["init", "-q", "--bare", "remote.git"]);
    git(
        &l.env.repo,
        &[
            "remote",
            "add",
            "origin",
            root.join("remote.git").to_str().unwrap(),
        ],
    );
    let bin = root.join("fakebin");
    std::fs::create_dir_all(&bin).unwrap();
    let args_file = root.join("gh-args");
    let gh = bin.join("gh");
    std::fs::write(
        &gh,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > '{}'\necho https://github.example/pr/1\n",
            args_file.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).unwrap();
    (crate::support::path_with(&bin), args_file)
}

#[test]
fn without_new_commits_the_default_opens_no_pr() {
    let l = launched();
    let (path, args_file) = remote_and_fake_gh(&l);
    let o = complete_with_gh(&l, &path);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!args_file.exists(), "gh was called: {}", stderr(&o));
    let root = l.env.repo.parent().unwrap();
    let pushed = git(&root.join("remote.git"), &["branch", "--list"]);
    assert!(pushed.trim().is_empty(), "pushed: {pushed}");
    assert!(!l.worktree.exists(), "nothing to lose: the worktree goes");
}

#[test]
fn pr_pushes_and_calls_gh_with_the_right_arguments() {
    let l = launched();
    commit(&l.worktree, "work.txt", "work\n", "pr work");
    let root = l.env.repo.parent().unwrap().to_path_buf();
    let (path, args_file) = remote_and_fake_gh(&l);
    // No --pr: with gh on PATH and a remote, a PR is the default.
    let o = complete_with_gh(&l, &path);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("https://github.example/pr/1"),
        "{}",
        stderr(&o)
    );
    let args = std::fs::read_to_string(&args_file).unwrap();
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(
        args[..6],
        ["pr", "create", "--head", &l.branch, "--base", "main"]
    );
    assert_eq!(args[6], "--title");
    assert!(args[7].contains("t0000"), "{args:?}");
    assert_eq!(args[8], "--body");
    assert!(args[9..].join("\n").contains("`t0000` Task 0"), "{args:?}");
    let pushed = git(&root.join("remote.git"), &["rev-parse", &l.branch]);
    assert_eq!(pushed.trim(), tip(&l.env.repo, &l.branch));
    // A PR opened is not work delivered: the task stays completed, with the PR's address.
    let task = &l.env.plan()["tasks"]["t0000"];
    assert_eq!(task["status"], "completed");
    assert_eq!(task["pullRequest"], "https://github.example/pr/1");
    assert!(!l.worktree.exists(), "pushed and clean: the worktree goes");
    assert!(
        !git(&l.env.repo, &["branch", "--list", &l.branch]).is_empty(),
        "the branch stays"
    );
}

#[test]
fn refuses_while_the_agent_runs_and_cleans_up_after_it_died() {
    let env = Env::with_plan(&crate::support::flat_plan(1));
    let root = env.repo.parent().unwrap().to_path_buf();
    let mark = root.join("running");
    let script = root.join("wait.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ntouch '{}'\nexec sleep 60\n", mark.display()),
    )
    .unwrap();
    let mut agent = env
        .process()
        .args(["launch", "--agent-cmd"])
        .arg(format!("sh {}", script.display()))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    crate::support::wait_until(30, || mark.exists(), || "agent never started".into());
    let reg = env.registry();
    let id = reg["agents"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    let wt = PathBuf::from(reg["agents"][&id]["worktree"].as_str().unwrap());
    let o = env.run(&["complete", &id, "--archive"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("is still running"), "{}", stderr(&o));
    assert!(wt.is_dir());
    agent.kill().unwrap();
    agent.wait().unwrap();
    let o = env.run(&["complete", &id, "--archive"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!wt.exists());
    assert_eq!(env.plan()["tasks"]["t0000"]["status"], "pending");
}

#[test]
fn refuses_a_detached_head_or_a_locked_worktree() {
    let l = launched();
    // Commits on a detached HEAD are on no branch: removing the worktree would lose them.
    git(&l.worktree, &["checkout", "-q", "--detach"]);
    commit(&l.worktree, "loose.txt", "loose\n", "on no branch");
    let before = l.env.snapshot();
    let o = l.env.run(&["complete", &l.agent, "--merge"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("HEAD is detached"), "{}", stderr(&o));
    assert!(l.worktree.join("loose.txt").is_file());
    assert_eq!(changed(&before, &l.env.snapshot()), Vec::<PathBuf>::new());

    // Back on the agent's branch, a locked worktree is refused too, naming the reason.
    git(&l.worktree, &["checkout", "-q", &l.branch]);
    let wt = l.worktree.to_str().unwrap();
    git(
        &l.env.repo,
        &["worktree", "lock", "--reason", "on a usb stick", wt],
    );
    let o = l.env.run(&["complete", &l.agent, "--merge"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("locked (on a usb stick)"),
        "{}",
        stderr(&o)
    );
    assert!(l.worktree.is_dir());
    git(&l.env.repo, &["worktree", "unlock", wt]);
    let o = l.env.run(&["complete", &l.agent, "--merge"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!l.worktree.exists());
}

#[test]
fn a_detached_main_worktree_lists_only_the_agents_commits_and_says_pass_base() {
    let l = launched();
    commit(&l.worktree, "work.txt", "work\n", "unsaved work");
    git(&l.env.repo, &["checkout", "-q", "--detach", "main"]);
    let o = l.env.run(&["complete", &l.agent]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("has 1 commit(s)"),
        "only the agent's own commit: {err}"
    );
    assert!(err.contains("unsaved work"), "{err}");
    assert!(err.contains("pass --base BRANCH"), "{err}");
    // With --base the merge goes ahead as usual.
    let o = l
        .env
        .run(&["complete", &l.agent, "--merge", "--base", "main"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(git(&l.env.repo, &["log", "--format=%s", "main"]).contains("unsaved work"));
}

#[test]
fn refuses_a_worktree_whose_submodules_live_in_it() {
    let l = launched();
    let sub = l.env.repo.parent().unwrap().join("sub");
    git(l.env.repo.parent().unwrap(), &["init", "-q", "sub"]);
    commit(&sub, "s.txt", "s\n", "sub");
    // Added in the agent's worktree: the submodule's repository is created in the worktree's
    // own git dir, and a commit made in it exists nowhere else.
    git(
        &l.worktree,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            sub.to_str().unwrap(),
            "lib",
        ],
    );
    git(&l.worktree, &["commit", "-q", "-m", "add lib"]);
    commit(
        &l.worktree.join("lib"),
        "fix.txt",
        "only here\n",
        "fix in lib",
    );
    git(&l.worktree, &["commit", "-q", "-am", "bump lib"]);
    let before = l.env.snapshot();
    let o = l.env.run(&["complete", &l.agent, "--merge"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("submodules are checked out in the worktree (lib)"),
        "{err}"
    );
    assert!(l.worktree.join("lib/fix.txt").is_file());
    assert_eq!(changed(&before, &l.env.snapshot()), Vec::<PathBuf>::new());
}

#[test]
fn a_delivery_asked_for_a_branch_that_is_gone_is_refused() {
    let l = launched();
    commit(&l.worktree, "w.txt", "work\n", "work");
    let renamed = format!("{}-login", l.branch);
    git(&l.worktree, &["branch", "-m", &l.branch, &renamed]);
    let before = l.env.snapshot();
    let main_before = tip(&l.env.repo, "main");
    let o = l.env.run(&["complete", &l.agent, "--merge"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("branch {} does not exist", l.branch)),
        "{err}"
    );
    assert!(l.worktree.join("w.txt").is_file());
    assert_eq!(tip(&l.env.repo, "main"), main_before);
    assert_eq!(changed(&before, &l.env.snapshot()), Vec::<PathBuf>::new());
}

#[test]
fn a_merge_whose_base_cannot_be_moved_changes_nothing() {
    let l = launched();
    commit(
        &l.worktree,
        "feature.txt",
        "agent's work\n",
        "agent adds a feature",
    );
    // A stale lock left by a crashed git: the base's ref cannot be moved.
    let lock = l.env.repo.join(".git/refs/heads/main.lock");
    std::fs::write(&lock, "").unwrap();
    let before = l.env.snapshot();
    let main_before = tip(&l.env.repo, "main");
    let o = l.env.run(&["complete", &l.agent, "--merge"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot lock main"), "{}", stderr(&o));
    assert_eq!(tip(&l.env.repo, "main"), main_before);
    assert!(
        !l.env.repo.join("feature.txt").exists(),
        "main's checkout was updated"
    );
    assert_eq!(changed(&before, &l.env.snapshot()), Vec::<PathBuf>::new());
    std::fs::remove_file(&lock).unwrap();
    let o = l.env.run(&["complete", &l.agent, "--merge"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(l.env.repo.join("feature.txt").is_file());
}

/// `reviewed` means the work reached the base branch: an archived branch is not that; once
/// it is merged into main, completing the agent again marks its task reviewed.
#[test]
fn reviewed_means_the_work_reached_the_base_branch() {
    let l = launched();
    commit(&l.worktree, "work.txt", "work\n", "the work");
    let o = l.env.run(&["complete", &l.agent, "--archive"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(l.env.plan()["tasks"]["t0000"]["status"], "completed");
    let archived = format!("archive/{}", l.branch);
    git(&l.env.repo, &["merge", "-q", "--no-edit", &archived]);
    let o = l.env.run(&["complete", &l.agent]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(l.env.plan()["tasks"]["t0000"]["status"], "reviewed");
}

/// A PR whose push succeeded but whose `gh` failed: the push is recorded, and where complete
/// stopped; the task stays completed with no PR recorded.
#[test]
fn a_complete_that_fails_half_way_leaves_an_honest_record() {
    let l = launched();
    commit(&l.worktree, "work.txt", "work\n", "pr work");
    let (path, _) = remote_and_fake_gh(&l);
    let gh = l.env.repo.parent().unwrap().join("fakebin/gh");
    std::fs::write(&gh, "#!/bin/sh\necho 'HTTP 502: bad gateway' >&2\nexit 1\n").unwrap();
    let o = l
        .env
        .swarm()
        .env("PATH", path)
        .args(["complete", &l.agent, "--pr"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("bad gateway"), "{}", stderr(&o));
    let log = stdout(&l.env.run(&["log", "--agent", &l.agent]));
    assert!(
        log.contains(&format!("pushed {} to origin", l.branch)),
        "{log}"
    );
    assert!(log.contains("stopped at \"gh pr create"), "{log}");
    let task = &l.env.plan()["tasks"]["t0000"];
    assert_eq!(task["status"], "completed");
    assert!(task.get("pullRequest").is_none(), "{task}");
    assert!(
        l.worktree.exists(),
        "nothing after the failed step was done"
    );
}

/// An agent's display name (`agent-worker-NNNN`) works wherever its id does; what swarm shows
/// is the id.
#[test]
fn an_agent_is_named_by_its_id_or_its_name_everywhere_and_shown_by_its_id() {
    let l = launched();
    let name = l.env.registry()["agents"][&l.agent]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(name, l.agent);
    let list = stdout(&l.env.run(&["list", "--agent", &name]));
    assert!(list.contains(&l.agent) && !list.contains(&name), "{list}");
    let log = stdout(&l.env.run(&["log", "--agent", &name]));
    assert!(log.contains(&l.agent) && log.contains("t0000"), "{log}");
    let o = l.env.run(&["agent", "heartbeat", "--agent", &name]);
    assert!(o.status.success(), "{}", stderr(&o));
    let agents = l.env.registry()["agents"].as_object().unwrap().len();
    assert_eq!(agents, 1, "the name did not register a second agent");
    let o = l.env.run(&["complete", &name, "--archive"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains(&l.agent), "{}", stderr(&o));
    assert_eq!(l.env.registry()["agents"][&l.agent]["state"], "done");
}

#[test]
fn a_worktree_folder_deleted_by_hand_leaves_no_entry_after_complete() {
    let l = launched();
    std::fs::remove_dir_all(&l.worktree).unwrap();
    let o = l.env.run(&["complete", &l.agent, "--merge"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let list = git(&l.env.repo, &["worktree", "list"]);
    assert_eq!(list.lines().count(), 1, "only the main worktree: {list}");
}
