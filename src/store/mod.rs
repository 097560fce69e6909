//! A locked transaction over the plan and the registry: lock, load, reconcile, change, write.

mod mutate;
mod reconcile;
mod repair;
mod write;

use crate::events::Event;
use crate::plan::Plan;
use crate::registry::{self, model::format_time, AgentEntry, Registry, RegistryLock};
use crate::workspace::Workspace;
use anyhow::Result;
use chrono::{DateTime, Utc};

/// The lock file was deleted or replaced while a transaction held it: nothing was written, and
/// the transaction may be run again (on the lock at the path now).
#[derive(Debug, thiserror::Error)]
#[error("{}: the lock file was removed or replaced while this command held it, so another process may hold a lock of its own; nothing was written", .0.display())]
pub struct LockReplaced(pub std::path::PathBuf);

/// Who is acting: an agent id, and its process when swarm started it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The agent id.
    pub id: String,
    /// Its process, for agents swarm runs (liveness by pid instead of lease).
    pub pid: Option<u32>,
}

impl Actor {
    /// An agent known only by id (a script, `--agent X`): it holds a lease.
    pub fn leased(id: &str) -> Actor {
        Actor {
            id: id.to_string(),
            pid: None,
        }
    }
}

/// The plan and registry, loaded under the lock and reconciled. Changes are written by
/// `commit`; dropping it without committing writes nothing.
pub struct Txn<'w> {
    ws: &'w Workspace,
    lock: RegistryLock,
    /// The plan as it is now.
    pub plan: Plan,
    /// The registry as it is now.
    pub registry: Registry,
    now: DateTime<Utc>,
    host: String,
    plan_dirty: bool,
    registry_dirty: bool,
    // Tasks that reached a final status are written to the plan first, claims first otherwise;
    // see reconcile.rs for why each order leaves a state the next reconcile resolves.
    plan_first: bool,
    events: Vec<Event>,
    notices: Vec<String>,
}

impl Workspace {
    /// Locks, loads and reconciles. `actor`, when given, is registered or has its lease
    /// renewed before reconciling.
    pub fn begin(&self, actor: Option<&Actor>) -> Result<Txn<'_>> {
        self.begin_checked(actor, |_| Ok(()))
    }

    /// Like `begin`, refusing early with `check`'s error: a command refused for bad input
    /// (an unknown task, say) creates nothing, not even the coordination dir on first use.
    pub fn begin_checked(
        &self,
        actor: Option<&Actor>,
        check: impl Fn(&Plan) -> Result<()>,
    ) -> Result<Txn<'_>> {
        if !self.is_set_up() {
            check(&self.load_plan()?)?;
            self.ensure_coordination_dir(false)?;
        }
        // A first transaction in this clone: a coordination dir the repository brought is not
        // swarm's. Every transaction: nothing it writes may go through a link.
        if !self.registry_path().exists() {
            self.refuse_tracked_coordination_dir()?;
        }
        crate::coord::check(&self.coord_dir)?;
        let lock = self.lock()?;
        let plan = self.load_plan()?;
        check(&plan)?;
        let missing = !self.registry_path().exists();
        let registry = self.load_registry()?;
        let mut txn = Txn {
            ws: self,
            lock,
            plan,
            registry,
            now: Utc::now(),
            host: registry::liveness::host_name(),
            plan_dirty: false,
            registry_dirty: false,
            plan_first: false,
            events: Vec::new(),
            notices: Vec::new(),
        };
        if missing {
            txn.rebuild_registry();
        }
        // Someone else wrote the plan since swarm last did: a stale copy may have undone what
        // swarm set.
        let since = txn.registry.plan_stamp;
        if since.is_some() && since != txn.plan.stamp() {
            txn.restore_finished_work();
        }
        if let Some(actor) = actor {
            txn.touch(actor);
        }
        txn.reconcile(actor.map(|a| a.id.as_str()));
        Ok(txn)
    }

    /// Takes the registry lock, saying once on stderr (unless `-q`) who holds it when it
    /// has to wait.
    pub fn lock(&self) -> Result<RegistryLock> {
        let quiet = self.settings.quiet;
        RegistryLock::acquire(&self.lock_path(), self.settings.lock_timeout, |msg| {
            if !quiet {
                eprintln!("swarm: {msg}");
            }
        })
    }

    /// The plan and registry as they are, reconciled; nothing is created when the workspace
    /// has not been set up yet.
    pub fn snapshot(&self) -> Result<(Plan, Registry)> {
        if !self.is_set_up() {
            return Ok((self.load_plan()?, Registry::default()));
        }
        let txn = self.begin(None)?;
        txn.finish()
    }
}

impl Txn<'_> {
    /// The workspace this transaction belongs to.
    pub fn workspace(&self) -> &Workspace {
        self.ws
    }

    /// The events this transaction will log (reconcile's findings included).
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Whether committing would write either file.
    pub fn is_dirty(&self) -> bool {
        self.plan_dirty || self.registry_dirty
    }

    /// The time the transaction started.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Registers `actor` or renews its lease.
    pub fn touch(&mut self, actor: &Actor) {
        let now = format_time(self.now);
        let host = self.host.clone();
        let entry = self
            .registry
            .agents
            .entry(actor.id.clone())
            .or_insert_with(|| {
                self.events.push(Event {
                    time: now.clone(),
                    event: "register".into(),
                    agent: Some(actor.id.clone()),
                    task: None,
                    from: None,
                    to: None,
                    detail: None,
                });
                AgentEntry {
                    name: Some(actor.id.clone()),
                    start_time: Some(now.clone()),
                    ..AgentEntry::default()
                }
            });
        entry.heartbeat = Some(now);
        entry.state = Some("alive".into());
        // It acts: it no longer waits for a person.
        entry.needs_input = None;
        if let Some(pid) = actor.pid {
            entry.pid = Some(pid);
            entry.pid_start = registry::liveness::process_start(pid);
            entry.host = Some(host);
        }
        self.registry_dirty = true;
    }

    /// Writes what changed (in crash-safe order), appends the events, prints notices.
    pub fn commit(self) -> Result<()> {
        self.finish().map(|_| ())
    }

    fn log(
        &mut self,
        event: &str,
        agent: Option<&str>,
        task: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        detail: Option<String>,
    ) {
        self.events.push(Event {
            time: format_time(self.now),
            event: event.into(),
            agent: agent.map(str::to_string),
            task: task.map(str::to_string),
            from: from.map(str::to_string),
            to: to.map(str::to_string),
            detail,
        });
    }
}
