//! Putting back what a deletion or a person's stale copy undid: a missing registry is rebuilt
//! from the plan, finished work a stale plan reverted is restored from the event log.

use super::Txn;
use crate::plan::Status;
use crate::registry::model::format_time;
use crate::registry::{AgentEntry, ClaimEntry};
use std::collections::HashMap;

impl Txn<'_> {
    /// A registry that is missing (deleted with the coordination dir by `git clean -X`, say)
    /// while the plan shows tasks claimed is rebuilt from the plan: each claimed task's agent
    /// holds it again, alive by a lease that starts now. Read as empty, it would free every
    /// live agent's task to be claimed twice.
    pub(super) fn rebuild_registry(&mut self) {
        let claimed: Vec<(String, String)> = self
            .plan
            .tasks
            .iter()
            .filter(|t| t.claimed && t.status == Status::InProgress)
            .filter_map(|t| Some((t.id.clone(), t.agent.clone()?)))
            .collect();
        if claimed.is_empty() {
            return;
        }
        let now = format_time(self.now);
        for (task, agent) in &claimed {
            self.registry
                .agents
                .entry(agent.clone())
                .or_insert_with(|| AgentEntry {
                    name: Some(agent.clone()),
                    start_time: Some(now.clone()),
                    heartbeat: Some(now.clone()),
                    state: Some("alive".into()),
                    ..AgentEntry::default()
                })
                .current_task = Some(task.clone());
            self.registry.claimed_tasks.insert(
                task.clone(),
                ClaimEntry {
                    agent: agent.clone(),
                    claimed_at: Some(now.clone()),
                    extra: Default::default(),
                },
            );
        }
        self.registry_dirty = true;
        let agents = self.registry.agents.len();
        let message = format!(
            "{} is missing; rebuilt from the plan: {} claim(s) of {agents} agent(s), alive by a lease that starts now",
            self.ws.registry_path().display(),
            claimed.len()
        );
        eprintln!("swarm: warning: {message}");
        self.log("rebuild", None, None, None, None, Some(message));
    }

    /// A plan written by someone else since swarm last wrote it may be a stale copy that undid
    /// finished work: a task swarm last set completed, reviewed or failed (by the event log)
    /// that the plan shows pending or in progress, with no claim on it, gets that status back,
    /// said on stderr. Everything else in the file (titles, blockers, new tasks) is the
    /// person's and stays. `swarm task reopen` is the way back on purpose.
    pub(super) fn restore_finished_work(&mut self) {
        let events = crate::events::read(&self.ws.events_path()).unwrap_or_default();
        let mut last: HashMap<&str, (&str, Option<&str>)> = HashMap::new();
        for e in &events {
            if let (Some(task), Some(to)) = (e.task.as_deref(), e.to.as_deref()) {
                last.insert(task, (to, e.agent.as_deref()));
            }
        }
        let mut restored = Vec::new();
        for i in 0..self.plan.tasks.len() {
            let t = &self.plan.tasks[i];
            let Some(&(to, agent)) = last.get(t.id.as_str()) else {
                continue;
            };
            let Some(finished) = Status::parse(to).filter(|s| s.is_done() || *s == Status::Failed)
            else {
                continue;
            };
            let undone = matches!(t.status, Status::Pending | Status::InProgress);
            if !undone || self.registry.claimed_tasks.contains_key(&t.id) {
                continue;
            }
            restored.push((i, t.status, finished, agent.map(str::to_string)));
        }
        for (i, was, finished, agent) in restored {
            let id = self.plan.tasks[i].id.clone();
            self.plan.set_status(i, finished);
            self.plan.set_agent(i, agent.as_deref(), false);
            if finished.is_done() {
                self.plan.set_progress(i, 100);
            }
            self.plan_dirty = true;
            self.plan_first = true;
            self.notices.push(format!(
                "restored {id} to {finished}: status.json had it {was}, saved from a copy older than swarm's change (swarm task reopen {id} reopens it on purpose)"
            ));
            self.log(
                "restore",
                agent.as_deref(),
                Some(&id),
                Some(was.as_str()),
                Some(finished.as_str()),
                Some("status.json was written from a stale copy".into()),
            );
        }
        if !self.plan_dirty {
            // Checked: the registry now knows this plan, so the next command does not look again.
            self.registry.plan_stamp = self.plan.stamp();
            self.registry_dirty = true;
        }
    }
}
