//! What people read in `--help`, pinned: every command says what it does (not its own name,
//! not the description of a shared option group), and changes to it are reviewed.

use crate::support::{stderr, stdout, Env};

/// Every command line that has help of its own.
const COMMANDS: &[&[&str]] = &[
    &[],
    &["setup"],
    &["launch"],
    &["list"],
    &["join-status"],
    &["task"],
    &["task", "claim"],
    &["task", "update"],
    &["task", "done"],
    &["task", "release"],
    &["task", "reopen"],
    &["task", "show"],
    &["complete"],
    &["conflicts"],
    &["agents"],
    &["attach"],
    &["watch"],
    &["agent"],
    &["agent", "heartbeat"],
    &["recover"],
    &["log"],
    &["demo"],
    &["plan"],
    &["plan", "init"],
    &["plan", "edit"],
    &["plan", "validate"],
    &["plan", "simulate"],
    &["completions"],
];

/// `swarm ARGS --help`, with no environment that would show in it.
fn help(env: &Env, args: &[&str]) -> String {
    let o = env
        .swarm()
        .env_remove("SWARM_TASKS_DIR")
        .env_remove("COLUMNS")
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    stdout(&o)
}

#[test]
fn every_command_describes_itself() {
    let env = Env::new();
    for args in COMMANDS {
        let text = help(&env, args);
        let about = text.lines().next().unwrap_or_default();
        assert!(
            !about.starts_with('`') && about.len() > 20,
            "{args:?} says only {about:?}"
        );
        assert!(
            !about.contains("Identity of the agent"),
            "{args:?}: {about}"
        );
        let name = match args.is_empty() {
            true => "swarm".to_string(),
            false => format!("help-{}", args.join("-")),
        };
        insta::assert_snapshot!(name, text);
    }
}
