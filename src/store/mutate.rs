//! The changes commands make, each applied to both files at once so they cannot disagree.

use super::Txn;
use crate::plan::Status;
use crate::registry::{model::format_time, ClaimEntry};
use serde_json::Map;

impl Txn<'_> {
    /// The agent holding a claim on task `i`, if any.
    pub fn holder(&self, i: usize) -> Option<&str> {
        let task = &self.plan.tasks[i];
        self.registry
            .claimed_tasks
            .get(&task.id)
            .map(|c| c.agent.as_str())
    }

    /// Gives task `i` to `agent`: a registry claim, and the task in progress in the plan.
    pub fn claim(&mut self, i: usize, agent: &str) {
        let id = self.plan.tasks[i].id.clone();
        let from = self.plan.tasks[i].status;
        self.registry.claimed_tasks.insert(
            id.clone(),
            ClaimEntry {
                agent: agent.to_string(),
                claimed_at: Some(format_time(self.now)),
                extra: Map::new(),
            },
        );
        if let Some(a) = self.registry.agents.get_mut(agent) {
            a.current_task = Some(id.clone());
        }
        self.plan.set_status(i, Status::InProgress);
        self.plan.set_claim(i, Some(agent));
        self.plan_dirty = true;
        self.registry_dirty = true;
        self.log(
            "claim",
            Some(agent),
            Some(&id),
            Some(from.as_str()),
            Some("in-progress"),
            None,
        );
    }

    /// Gives task `i` back: no claim, status pending, ready again once its blockers are done.
    pub fn release(&mut self, i: usize, detail: Option<String>) {
        let (agent, from) = self.drop_claim(i);
        self.plan.set_status(i, Status::Pending);
        self.plan.set_claim(i, None);
        self.plan_dirty = true;
        let id = self.plan.tasks[i].id.clone();
        self.log(
            "release",
            agent.as_deref(),
            Some(&id),
            Some(from.as_str()),
            Some("pending"),
            detail,
        );
    }

    /// Moves task `i` to a final status (completed, reviewed, failed) or back to pending,
    /// ending any claim. The agent stays recorded in the plan as the one who did it.
    pub fn set_status(&mut self, i: usize, status: Status, agent: Option<&str>) {
        if status == Status::Pending {
            return self.release(i, None);
        }
        let (holder, from) = self.drop_claim(i);
        let recorded = self.plan.tasks[i].agent.clone();
        let who = holder.or_else(|| agent.map(str::to_string)).or(recorded);
        self.plan.set_status(i, status);
        self.plan.set_agent(i, who.as_deref(), false);
        if status.is_done() {
            self.plan.set_progress(i, 100);
        }
        self.plan_dirty = true;
        self.plan_first = true;
        let id = self.plan.tasks[i].id.clone();
        self.log(
            "status",
            who.as_deref(),
            Some(&id),
            Some(from.as_str()),
            Some(status.as_str()),
            None,
        );
    }

    /// Completes task `i` with the record of where its work landed on the integration branch
    /// (`landed`), logged with `detail`.
    pub fn land(
        &mut self,
        i: usize,
        landed: serde_json::Value,
        agent: Option<&str>,
        detail: String,
    ) {
        self.plan.set_landed(i, Some(landed));
        self.set_status(i, Status::Completed, agent);
        let id = self.plan.tasks[i].id.clone();
        self.log("land", agent, Some(&id), None, None, Some(detail));
    }

    /// Reopens finished or failed task `i` on purpose: pending, no agent, attempts reset.
    pub fn reopen(&mut self, i: usize) {
        let from = self.plan.tasks[i].status;
        self.plan.set_status(i, Status::Pending);
        self.plan.set_agent(i, None, false);
        self.plan.set_progress(i, 0);
        self.plan.set_attempts(i, 0);
        if self.plan.tasks[i].landed {
            self.plan.set_landed(i, None);
        }
        self.plan_dirty = true;
        self.plan_first = true;
        let id = self.plan.tasks[i].id.clone();
        self.log(
            "reopen",
            None,
            Some(&id),
            Some(from.as_str()),
            Some("pending"),
            None,
        );
    }

    /// Records progress on task `i`.
    pub fn set_progress(&mut self, i: usize, percent: u8) {
        self.plan.set_progress(i, percent);
        self.plan_dirty = true;
    }

    /// Replaces the plan with `plan` (a person's edit, merged), to be written on commit over the
    /// file this transaction read.
    pub fn replace_plan(&mut self, mut plan: crate::plan::Plan) {
        plan.stamp_as(&self.plan);
        self.plan = plan;
        self.plan_dirty = true;
    }

    /// Writes the registry on commit even when nothing in it changed (`setup` creates it).
    pub fn write_registry(&mut self) {
        self.registry_dirty = true;
    }

    /// Records `value` as field `key` of task `i` (a PR URL, an archived branch).
    pub fn set_task_field(&mut self, i: usize, key: &str, value: serde_json::Value) {
        self.plan.set_field(i, key, value);
        self.plan_dirty = true;
    }

    /// Records that `agent`'s work is now on branch `branch` (its branch was archived).
    pub fn set_agent_branch(&mut self, agent: &str, branch: &str) {
        if let Some(a) = self.registry.agents.get_mut(agent) {
            a.branch = Some(branch.to_string());
            self.registry_dirty = true;
        }
    }

    /// Removes the registry claim on task `i`; returns who held it and the status before.
    pub(super) fn drop_claim(&mut self, i: usize) -> (Option<String>, Status) {
        let id = self.plan.tasks[i].id.clone();
        let from = self.plan.tasks[i].status;
        let holder = self
            .registry
            .claimed_tasks
            .shift_remove(&id)
            .map(|c| c.agent);
        if let Some(agent) = &holder {
            if let Some(a) = self.registry.agents.get_mut(agent) {
                if a.current_task.as_deref() == Some(id.as_str()) {
                    a.current_task = None;
                }
            }
            self.registry_dirty = true;
        }
        (holder, from)
    }
}

impl Txn<'_> {
    /// Sets `agent`'s retired `state` (`done`, `dead`, `exited`), stamped `retiredAt`, with no
    /// current task.
    pub(super) fn mark_retired(&mut self, agent: &str, state: &str) {
        let now = format_time(self.now);
        if let Some(a) = self.registry.agents.get_mut(agent) {
            a.state = Some(state.into());
            a.current_task = None;
            a.retired_at = Some(now);
            self.registry_dirty = true;
        }
    }

    /// Marks `agent` finished (state `done`, no current task) and logs why.
    pub fn retire(&mut self, agent: &str, why: &str) {
        self.mark_retired(agent, "done");
        self.log(
            "retire",
            Some(agent),
            None,
            None,
            None,
            Some(why.to_string()),
        );
    }

    /// Ends a failed attempt at task `i`: released with `attempts` + 1 and the attempt's branch
    /// remembered (`previousBranch`), or `failed` once `--max-attempts` attempts failed.
    /// Returns the attempts used and whether the task is now failed.
    ///
    /// The plan is written first, with the agent whose attempt it was (`lastFailedAgent`): a
    /// crash between the two writes leaves the attempt recorded in the plan and that agent's
    /// claim on a task no longer in progress, which reconcile drops without counting the
    /// attempt again. (Registry first, the plan would still show the task in progress with no
    /// claim: an orphan, released with the retry record lost.)
    pub fn fail_attempt(&mut self, i: usize, branch: Option<&str>, why: String) -> (u32, bool) {
        self.plan_first = true;
        let attempts = self.plan.tasks[i].attempts + 1;
        if let Some(agent) = self.holder(i).map(str::to_string) {
            self.plan.set_field(i, "lastFailedAgent", agent.into());
        }
        self.plan.set_field(i, "lastFailure", why.as_str().into());
        self.release(i, Some(why));
        self.plan.set_attempts(i, attempts);
        if let Some(branch) = branch {
            self.plan.set_field(i, "previousBranch", branch.into());
        }
        let failed = attempts >= self.ws.settings.max_attempts;
        if failed {
            self.set_status(i, Status::Failed, None);
        }
        (attempts, failed)
    }

    /// A failed attempt at task `i` that its agent tries again at once, in the same worktree
    /// and session: `attempts` + 1 and `lastFailure`, the claim kept. Returns the attempts
    /// used.
    pub fn retry_in_place(&mut self, i: usize, why: String) -> u32 {
        let attempts = self.plan.tasks[i].attempts + 1;
        let holder = self.holder(i).map(str::to_string);
        if let Some(agent) = &holder {
            self.plan
                .set_field(i, "lastFailedAgent", agent.as_str().into());
        }
        self.plan.set_field(i, "lastFailure", why.as_str().into());
        self.plan.set_attempts(i, attempts);
        self.plan_dirty = true;
        let id = self.plan.tasks[i].id.clone();
        self.log("retry", holder.as_deref(), Some(&id), None, None, Some(why));
        attempts
    }

    /// Records the agent CLI's session that `agent` works in (to resume it after a crash).
    pub fn set_session(&mut self, agent: &str, session: &str) {
        if let Some(entry) = self.registry.agents.get_mut(agent) {
            if entry.session_id.as_deref() != Some(session) {
                entry.session_id = Some(session.to_string());
                self.registry_dirty = true;
            }
        }
    }

    /// Hands dead agent `from`'s worktree and branch to agent `to`, which works on in them:
    /// `from` no longer names them, so nothing done about `from` (its `complete`) touches them.
    pub fn take_over(&mut self, from: &str, to: &str, task: &str) {
        let Some(entry) = self.registry.agents.get_mut(from) else {
            return;
        };
        let worktree = entry.worktree.take().unwrap_or_default();
        entry.branch = None;
        let session = entry.session_id.take();
        entry.extra.insert("takenOverBy".into(), to.into());
        // The session goes with the worktree: if this launch fails too, the next one can
        // still resume it.
        if let Some(new) = self.registry.agents.get_mut(to) {
            if new.session_id.is_none() {
                new.session_id = session;
            }
        }
        self.registry_dirty = true;
        self.log(
            "takeover",
            Some(to),
            Some(task),
            None,
            None,
            Some(format!("took over the worktree {worktree} of {from}")),
        );
    }

    /// Appends `run` (what one headless run of an agent reported) to task `i`'s `runs`.
    pub fn record_run(&mut self, i: usize, agent: &str, run: serde_json::Value) {
        let mut runs = self
            .plan
            .field(i, "runs")
            .and_then(|r| r.as_array().cloned())
            .unwrap_or_default();
        let detail = run.to_string();
        runs.push(run);
        self.plan.set_runs(i, runs);
        self.plan_dirty = true;
        let id = self.plan.tasks[i].id.clone();
        self.log("run", Some(agent), Some(&id), None, None, Some(detail));
    }

    /// Records that `agent` waits for a person (cleared when it acts again).
    pub fn set_needs_input(&mut self, agent: &str, needs: crate::registry::model::NeedsInput) {
        if let Some(a) = self.registry.agents.get_mut(agent) {
            a.needs_input = Some(needs.clone());
            self.registry_dirty = true;
        }
        self.log(
            "needs-input",
            Some(agent),
            None,
            None,
            None,
            Some(needs.message),
        );
    }

    /// Logs an event that changes neither file (a merge, a removed worktree, a PR).
    pub fn record(&mut self, event: &str, agent: Option<&str>, detail: String) {
        self.log(event, agent, None, None, None, Some(detail));
    }

    /// Logs an event about task `task` that changes neither file (a failed verification).
    pub fn record_task(&mut self, event: &str, agent: Option<&str>, task: &str, detail: String) {
        self.log(event, agent, Some(task), None, None, Some(detail));
    }
}
