//! Combined claims. Under contention most of a claim's time is spent holding the lock to read,
//! rewrite and sync both files. So a `claim --next` first posts a request file; whoever next
//! holds the lock for a full claim serves every posted request in the same write (each claim
//! tagged with the request's id in the registry), and a process whose request was served only
//! reads the registry under the lock to learn its task. Every claim is still decided under the
//! lock by the same code, so no task can be given twice; a request left by a dead process is
//! dropped, and one posted too late for a batch is withdrawn under the lock by its own process,
//! which then claims for itself.

use crate::registry::{liveness, LockFile, Registry, RegistryLock};
use crate::store::{Actor, Txn};
use crate::workspace::Workspace;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::PathBuf;

/// The registry field that tags a claim with the request it served.
const TAG: &str = "request";

/// One posted request, removed when dropped.
#[derive(Debug)]
pub struct Request {
    path: PathBuf,
    /// Unique id: `<pid>-<nanoseconds>`.
    pub id: String,
}

/// What a request file holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct Posted {
    /// Unique id of the request.
    pub id: String,
    /// The agent to claim for.
    pub agent: String,
    /// `--as`: pre-assigned agent whose patterns come first.
    #[serde(default)]
    pub prefer_as: Option<String>,
    /// The requesting process.
    pub pid: u32,
    /// When that process started (clock ticks since boot), against pid reuse.
    #[serde(default)]
    pub pid_start: Option<u64>,
    /// The project it claims in: a holder serves only requests for its own plan.
    #[serde(default)]
    pub project: Option<String>,
}

impl Request {
    /// Posts a request for `actor` (written to a temp name, then renamed: never seen half-written).
    pub fn post(ws: &Workspace, actor: &Actor, prefer_as: Option<&str>) -> Result<Request> {
        let dir = ws.requests_dir();
        // Made by the first request; `create_dir_all` would also stat it every time.
        match fs::create_dir(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            other => other,
        }
        .with_context(|| format!("{}: cannot create", dir.display()))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let id = format!("{}-{nanos}", std::process::id());
        let posted = Posted {
            id: id.clone(),
            agent: actor.id.clone(),
            prefer_as: prefer_as.map(str::to_string),
            pid: std::process::id(),
            pid_start: liveness::process_start(std::process::id()),
            project: Some(ws.project.clone()),
        };
        let path = dir.join(format!("{id}.json"));
        let tmp = dir.join(format!(".{id}.tmp"));
        fs::write(&tmp, serde_json::to_vec(&posted)?)
            .and_then(|()| fs::rename(&tmp, &path))
            .with_context(|| format!("{}: cannot post the claim request", path.display()))?;
        Ok(Request { path, id })
    }

    /// Takes the lock (`busy`, found held a moment ago); if another process already served
    /// this request, returns the task. Otherwise withdraws the request, still under the lock
    /// (no one can serve it afterwards, to a process that goes on to claim or to give up), and
    /// hands the lock back for a full claim, with the registry as read under it.
    pub fn collect(
        self,
        ws: &Workspace,
        busy: LockFile,
    ) -> Result<Result<String, (RegistryLock, Registry)>> {
        let lock = busy.lock(ws.settings.lock_timeout)?;
        let registry = match ws.load_registry() {
            Ok(r) => r,
            Err(e) => {
                drop(self);
                return Err(e);
            }
        };
        let served = registry
            .claimed_tasks
            .iter()
            .find(|(_, c)| c.extra.get(TAG).and_then(|v| v.as_str()) == Some(self.id.as_str()))
            .map(|(task, _)| task.clone());
        match served {
            Some(task) => {
                drop(lock);
                // The serving process syncs too, but this one reports the claim: make sure.
                crate::atomic::sync_dir(&ws.coord_dir)?;
                crate::atomic::sync_dir(&ws.plan_dir())?;
                Ok(Ok(task))
            }
            None => {
                drop(self);
                Ok(Err((lock, registry)))
            }
        }
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Whether process `pid` runs, and is the one that started at `started` when that is known.
/// Only Linux can tell a process is gone; elsewhere every poster counts as alive.
fn poster_alive(pid: u32, started: Option<u64>) -> bool {
    match (liveness::process_start(pid), started) {
        (Some(now), Some(then)) => now == then,
        (Some(_), None) => true,
        (None, _) => !cfg!(target_os = "linux"),
    }
}

/// Whether the process that posted the request file at `path` (named `<pid>-<nanos>.json`, or
/// `.<pid>-<nanos>.tmp` while being written) is known to be gone.
fn poster_is_gone(path: &std::path::Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let pid = name
        .trim_start_matches('.')
        .split('-')
        .next()
        .and_then(|p| p.parse::<u32>().ok());
    pid.is_some_and(|pid| !poster_alive(pid, None))
}

/// Marks the claim on `task` as the answer to request `id`.
fn tag(txn: &mut Txn<'_>, task: &str, id: &str) {
    if let Some(c) = txn.registry.claimed_tasks.get_mut(task) {
        c.extra.insert(TAG.into(), id.into());
    }
}

/// Serves every posted request in `txn`: one claim each while tasks are ready, with
/// `pick(txn, posted)` choosing the task. Requests of dead processes and ones already served
/// are removed. Returns the files to remove once the transaction is committed.
pub fn serve_posted(
    txn: &mut Txn<'_>,
    mut pick: impl FnMut(&Txn<'_>, &Posted) -> Option<usize>,
) -> Vec<PathBuf> {
    let dir = txn.workspace().requests_dir();
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut done = Vec::new();
    let mut posted: Vec<(PathBuf, Posted)> = Vec::new();
    let project = &txn.workspace().project;
    for path in entries.flatten().map(|e| e.path()) {
        let read = match path.extension().is_some_and(|x| x == "json") {
            true => fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Posted>(&b).ok()),
            false => None,
        };
        match read {
            // Another project's request is its own process's to withdraw.
            Some(req) if req.project.as_ref().is_some_and(|p| p != project) => {}
            Some(req) => posted.push((path, req)),
            // A file half-written (a temp name, or cut short by a crash) is left to its own
            // process while that lives, and removed once it is gone.
            None if poster_is_gone(&path) => done.push(path),
            None => {}
        }
    }
    posted.sort_by(|a, b| a.1.id.cmp(&b.1.id));
    for (path, req) in posted {
        let already = txn
            .registry
            .claimed_tasks
            .values()
            .any(|c| c.extra.get(TAG).and_then(|v| v.as_str()) == Some(req.id.as_str()));
        // Served only while the requesting process (the same one, not a reused pid) waits.
        let alive = poster_alive(req.pid, req.pid_start);
        if already || !alive || crate::ids::check_agent_id(&req.agent).is_err() {
            done.push(path);
            continue;
        }
        let Some(i) = pick(txn, &req) else {
            // Nothing ready: its own process will say why.
            continue;
        };
        txn.touch(&Actor::leased(&req.agent));
        txn.claim(i, &req.agent);
        let task = txn.plan.tasks[i].id.clone();
        tag(txn, &task, &req.id);
        done.push(path);
    }
    done
}
