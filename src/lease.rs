//! Leases on what agents on one machine must not share: a block of TCP ports and a slot number
//! (for a database name, a compose project). They are kept for the whole machine, across
//! plans, in `leases.json` in swarm's state directory (`SWARM_STATE_DIR`, else
//! `$XDG_STATE_HOME/swarm`, else `~/.local/state/swarm`), under an OS lock on `leases.lock`.
//!
//! A lease is held while its agent lives, by the same rules as its claims (its plan's registry
//! is read), and after that while the worktree it set up is still there: what the setup
//! started (a database, containers) may still use the slot and ports until `complete` tears
//! it down and frees them. So leases survive a restart of swarm, an agent that takes over a
//! dead agent's worktree gets its lease, and a lease whose agent is gone and whose worktree was
//! removed is freed by the next lease taken.

use crate::registry::liveness::{self, Liveness};
use crate::registry::Registry;
use crate::workspace::Workspace;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The ports handed out: `FIRST_PORT` up to `LAST_PORT`.
const FIRST_PORT: u16 = 20000;
const LAST_PORT: u16 = 29999;

/// One agent's lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    /// The agent holding it.
    pub agent: String,
    /// Its plan's project.
    pub project: String,
    /// Its plan's coordination dir, where its registry says whether it lives.
    pub coord_dir: PathBuf,
    /// Its worktree.
    pub worktree: PathBuf,
    /// A small number no other live lease has (1, 2, …).
    pub slot: u32,
    /// The first port of its block (none when it leases no ports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// How many ports from `port` are its.
    #[serde(default)]
    pub ports: u16,
    /// How long its agent, without a process of its own, lives after its last sign of life
    /// (its plan's `--lease`), in seconds.
    #[serde(default = "default_lease_secs")]
    pub lease_secs: u64,
    /// When it was taken.
    pub since: String,
}

fn default_lease_secs() -> u64 {
    30 * 60
}

impl Lease {
    /// The environment an agent (and its worktree's setup) gets: `SWARM_SLOT`,
    /// `COMPOSE_PROJECT_NAME`, and `SWARM_PORT`, `SWARM_PORT_0..N-1` for its ports.
    pub fn env(&self) -> Vec<(String, OsString)> {
        let mut env = vec![
            ("SWARM_SLOT".to_string(), self.slot.to_string().into()),
            ("COMPOSE_PROJECT_NAME".into(), self.compose_name().into()),
        ];
        if let Some(first) = self.port {
            env.push(("SWARM_PORT".into(), first.to_string().into()));
            for i in 0..self.ports {
                env.push((format!("SWARM_PORT_{i}"), (first + i).to_string().into()));
            }
        }
        env
    }

    /// The ports of the block.
    pub fn port_list(&self) -> Vec<u16> {
        self.port
            .map(|p| (p..p + self.ports).collect())
            .unwrap_or_default()
    }

    /// "slot 2 and ports 20002-20003", for people.
    pub fn shown(&self) -> String {
        shown(self.slot, &self.port_list())
    }

    /// `<project>-<slot>` in the characters compose allows (lower-case letters, digits, `-`,
    /// `_`), starting with a letter or digit.
    fn compose_name(&self) -> String {
        let base: String = self
            .project
            .chars()
            .map(|c| match c.to_ascii_lowercase() {
                c @ ('a'..='z' | '0'..='9' | '_' | '-') => c,
                _ => '-',
            })
            .collect();
        let base = base.trim_start_matches(['-', '_']);
        let base = if base.is_empty() { "swarm" } else { base };
        format!("{base}-{}", self.slot)
    }
}

/// A slot and its ports in words: "slot 1", "slot 1 and port 20000", "slot 1 and ports
/// 20000-20001".
pub fn shown(slot: u32, ports: &[u16]) -> String {
    match ports {
        [] => format!("slot {slot}"),
        [one] => format!("slot {slot} and port {one}"),
        [first, .., last] => format!("slot {slot} and ports {first}-{last}"),
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct LeaseFile {
    #[serde(default)]
    leases: Vec<Lease>,
}

/// swarm's state directory for this user.
pub fn state_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("SWARM_STATE_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("swarm"));
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/state/swarm")),
        None => bail!("no state directory for leases: set SWARM_STATE_DIR or HOME"),
    }
}

/// The lease file, read and written under its lock.
struct Locked {
    path: PathBuf,
    file: LeaseFile,
    _lock: std::fs::File,
}

fn lock() -> Result<Locked> {
    let dir = state_dir()?;
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let lock_path = dir.join("leases.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("{}: cannot open", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("{}: cannot lock", lock_path.display()))?;
    let path = dir.join("leases.json");
    let file = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{}: not a lease file; move it away and swarm starts a new one (agents' ports are then handed out again)",
                path.display()
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => LeaseFile::default(),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read", path.display())),
    };
    Ok(Locked {
        path,
        file,
        _lock: lock,
    })
}

impl Locked {
    fn save(&self) -> Result<()> {
        crate::atomic::write_json(&self.path, &self.file)
            .with_context(|| format!("{}: cannot write", self.path.display()))
    }

    /// Drops the leases whose agents no longer live.
    fn prune(&mut self) {
        let mut judge = Judge::default();
        self.file.leases.retain(|l| judge.lives(l));
    }
}

/// Judges leases by their agents' registries, each read once.
#[derive(Default)]
struct Judge {
    registries: Vec<(PathBuf, Option<Registry>)>,
}

impl Judge {
    /// Whether the agent holding `l` lives, by the same rules as its claims.
    fn lives(&mut self, l: &Lease) -> bool {
        let registry = match self.registries.iter().find(|(d, _)| *d == l.coord_dir) {
            Some((_, r)) => r.clone(),
            None => {
                let r = read_registry(&l.coord_dir);
                self.registries.push((l.coord_dir.clone(), r.clone()));
                r
            }
        };
        // An unreadable registry keeps its leases: better a port not handed out than one
        // handed out twice.
        let Some(registry) = registry else {
            return l.coord_dir.join("task-registry.json").exists() || kept_by_worktree(l);
        };
        let Some(agent) = registry.agents.get(&l.agent) else {
            return kept_by_worktree(l);
        };
        let alive = !agent.is_retired()
            && liveness::judge(
                agent,
                None,
                &liveness::host_name(),
                chrono::Utc::now(),
                chrono::Duration::seconds(l.lease_secs.min(i64::MAX as u64) as i64),
            ) == Liveness::Alive;
        alive || kept_by_worktree(l)
    }
}

/// Whether the worktree of `l` is still there and was set up with it: what its setup started
/// (a database, containers) may still use the slot and ports, until `complete` tears it down.
fn kept_by_worktree(l: &Lease) -> bool {
    record_of(&l.worktree)
        .and_then(|r| r.lease)
        .is_some_and(|w| w.coord_dir == l.coord_dir && w.slot == l.slot && w.port == l.port)
}

fn read_registry(coord_dir: &Path) -> Option<Registry> {
    let bytes = std::fs::read(coord_dir.join("task-registry.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The leases of the plan in `ws` as the file has them, read without the lock (it is only
/// ever replaced whole); none when there is no file.
fn recorded(ws: &Workspace) -> Vec<Lease> {
    let read = || -> Option<LeaseFile> {
        let bytes = std::fs::read(state_dir().ok()?.join("leases.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    read()
        .map(|f| f.leases)
        .unwrap_or_default()
        .into_iter()
        .filter(|l| l.coord_dir == ws.coord_dir)
        .collect()
}

/// The lease of `agent` of the plan in `ws`, if it holds one.
pub fn held(ws: &Workspace, agent: &str) -> Option<Lease> {
    recorded(ws).into_iter().find(|l| l.agent == agent)
}

/// Every lease of the plan in `ws` that is still held (by a live agent, or by the worktree
/// it set up).
pub fn of_plan(ws: &Workspace) -> Vec<Lease> {
    let mut judge = Judge::default();
    recorded(ws)
        .into_iter()
        .filter(|l| judge.lives(l))
        .collect()
}

/// Leases a slot and `ports` ports to `agent` working in `worktree`: its own lease when it has
/// one; else the lease of the worktree (set up by an agent that died: it is handed over, so
/// the worktree keeps the values its setup used); else the lowest slot and the lowest block of
/// ports that no lease on this machine holds and nothing listens on. A lease whose number of
/// ports differs from `ports` (the plan changed) is replaced.
pub fn take(ws: &Workspace, agent: &str, worktree: &Path, ports: u16) -> Result<Lease> {
    let mut locked = lock()?;
    let same_plan = |l: &Lease| l.coord_dir == ws.coord_dir;
    let mine = |l: &Lease| same_plan(l) && l.agent == agent;
    let here = |l: &Lease| same_plan(l) && crate::git::worktree::same_path(&l.worktree, worktree);
    let wanted = |l: &Lease| l.ports == ports || (ports == 0 && l.port.is_none());
    if let Some(l) = locked
        .file
        .leases
        .iter_mut()
        .find(|l| (mine(l) || here(l)) && wanted(l))
    {
        l.agent = agent.to_string();
        l.worktree = worktree.to_path_buf();
        let lease = l.clone();
        locked.prune();
        locked.save()?;
        return Ok(lease);
    }
    locked.file.leases.retain(|l| !mine(l) && !here(l));
    locked.prune();
    let leases = &locked.file.leases;
    let taken: Vec<u16> = leases.iter().flat_map(Lease::port_list).collect();
    let slot = (1..)
        .find(|s| leases.iter().all(|l| l.slot != *s))
        .unwrap_or(1);
    let port = match ports {
        0 => None,
        n => Some(free_block(&taken, n).with_context(|| {
            format!("no block of {n} free ports left between {FIRST_PORT} and {LAST_PORT}")
        })?),
    };
    let lease = Lease {
        agent: agent.to_string(),
        project: ws.project.clone(),
        coord_dir: ws.coord_dir.clone(),
        worktree: worktree.to_path_buf(),
        slot,
        port,
        ports: if port.is_some() { ports } else { 0 },
        lease_secs: ws.settings.lease.num_seconds().max(1) as u64,
        since: crate::registry::model::format_time(chrono::Utc::now()),
    };
    locked.file.leases.push(lease.clone());
    locked.save()?;
    Ok(lease)
}

/// What a worktree was set up with, kept in its own git folder (`swarm-setup.json`): the
/// lease (which the worktree holds until it is removed) and the whole environment its setup
/// ran with, which its teardown gets again.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Record {
    /// The lease, when the plan's recipe leases one.
    #[serde(default)]
    pub lease: Option<Lease>,
    /// The setup's environment (`SWARM_*`, `COMPOSE_PROJECT_NAME`), without PATH.
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
}

impl Record {
    /// The environment to run a command of this worktree's recipe with.
    pub fn env(&self) -> Vec<(String, OsString)> {
        let mut env: Vec<(String, OsString)> = self
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.into()))
            .collect();
        if let Some(path) = crate::agent::path_with_self() {
            env.push(("PATH".into(), path));
        }
        env
    }
}

const RECORD: &str = "swarm-setup.json";

/// Keeps `record` with the worktree at `worktree`.
pub fn save_record(worktree: &Path, record: &Record) -> Result<()> {
    let path = crate::git::worktree::own_git_dir(worktree)?.join(RECORD);
    crate::atomic::write_json(&path, record)
        .with_context(|| format!("{}: cannot write", path.display()))
}

/// What the worktree at `worktree` was last set up with, if anything.
pub fn record_of(worktree: &Path) -> Option<Record> {
    let path = crate::git::worktree::own_git_dir(worktree)
        .ok()?
        .join(RECORD);
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// The first port of `n` consecutive ports, none of them `taken` or in use on this machine.
fn free_block(taken: &[u16], n: u16) -> Option<u16> {
    let mut start = FIRST_PORT;
    while start.checked_add(n - 1)? <= LAST_PORT {
        let busy = (start..start + n).find(|p| taken.contains(p) || !bindable(*p));
        match busy {
            None => return Some(start),
            Some(p) => start = p + 1,
        }
    }
    None
}

/// Whether nothing listens on `port` (on any address).
fn bindable(port: u16) -> bool {
    std::net::TcpListener::bind(("0.0.0.0", port)).is_ok()
        && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Frees the lease of `agent` of the plan in `ws`; whether it had one.
pub fn release(ws: &Workspace, agent: &str) -> Result<bool> {
    if held(ws, agent).is_none() {
        return Ok(false);
    }
    let mut locked = lock()?;
    let before = locked.file.leases.len();
    locked
        .file
        .leases
        .retain(|l| !(l.agent == agent && l.coord_dir == ws.coord_dir));
    if locked.file.leases.len() == before {
        return Ok(false);
    }
    locked.save()?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(project: &str, slot: u32, port: Option<u16>, ports: u16) -> Lease {
        Lease {
            agent: "a".into(),
            project: project.into(),
            coord_dir: "/r/.claude-agents".into(),
            worktree: "/r-a".into(),
            slot,
            port,
            ports,
            lease_secs: 1800,
            since: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn the_environment_names_every_port_and_a_compose_project() {
        let env = lease("My App!", 3, Some(20010), 2).env();
        let get = |k: &str| {
            env.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.to_string_lossy().into_owned())
        };
        assert_eq!(get("SWARM_SLOT").as_deref(), Some("3"));
        assert_eq!(get("COMPOSE_PROJECT_NAME").as_deref(), Some("my-app--3"));
        assert_eq!(get("SWARM_PORT").as_deref(), Some("20010"));
        assert_eq!(get("SWARM_PORT_0").as_deref(), Some("20010"));
        assert_eq!(get("SWARM_PORT_1").as_deref(), Some("20011"));
        assert_eq!(get("SWARM_PORT_2"), None);
        let none = lease("x", 1, None, 0).env();
        assert!(none.iter().all(|(k, _)| !k.starts_with("SWARM_PORT")));
    }

    #[test]
    fn a_block_skips_ports_taken_by_other_leases() {
        let start = free_block(&[], 2).unwrap();
        let taken = [start, start + 1];
        let next = free_block(&taken, 2).unwrap();
        assert!(next > start + 1, "{next}");
        assert!(free_block(&[], LAST_PORT - FIRST_PORT + 2).is_none());
    }
}
