//! Bringing the registry and the plan back into agreement, and freeing dead agents' tasks.
//!
//! Write order makes every crash leave a state with one meaning: a claim writes the registry
//! first, a release writes the registry first, a final status and a failed attempt write the
//! plan first. So:
//! - a registry claim on a task the plan still shows pending is a claim cut short: the claim
//!   wins (as it does for entries written by the old scripts) — unless its agent is dead and
//!   the plan already counts that agent's failed attempt (`lastFailedAgent`): then a failed
//!   attempt was cut short after the plan was written, and the claim is dropped;
//! - a registry claim on a task the plan shows completed, reviewed or failed is a finish cut
//!   short: the claim is dropped;
//! - a task the plan shows claimed with no registry claim is a release cut short: it goes back
//!   to pending.

use super::Txn;
use crate::plan::Status;
use crate::registry::liveness::{judge, Liveness};
use crate::registry::model::{format_time, parse_time};
use crate::registry::AgentEntry;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// How long a retired agent stays in the registry (see `prune_retired`).
const PRUNE_AFTER: chrono::TimeDelta = chrono::TimeDelta::days(7);

impl Txn<'_> {
    /// Frees the claims of dead agents and resolves every disagreement between the files.
    /// `actor` is the agent running this command: alive by definition, never judged.
    pub(super) fn reconcile(&mut self, actor: Option<&str>) {
        self.release_dead_agents(actor);
        self.align_claims_with_plan();
        self.prune_retired();
        // Staged files of processes killed before their rename (under the lock, so none of
        // them is being written now).
        crate::atomic::remove_stale_staged(&self.ws.coord_dir);
        if let Some(dir) = self.plan.path().parent() {
            crate::atomic::remove_stale_staged(dir);
        }
    }

    /// Forgets agents retired more than `PRUNE_AFTER` ago that nothing needs any more: they
    /// hold no claim, no task finished by them awaits `complete` (completed, not reviewed),
    /// and their worktree is gone. Their branch, if any, stays in git (a failed attempt's is
    /// also named by its task's `previousBranch`); the event log keeps their history. The
    /// registry, which every claim reads and rewrites, does not grow with every launch, and
    /// no command opens the repository to decide it.
    fn prune_retired(&mut self) {
        let awaiting_complete = |id: &str| {
            self.plan
                .tasks
                .iter()
                .any(|t| t.status == Status::Completed && t.agent.as_deref() == Some(id))
        };
        let stale: Vec<String> = self
            .registry
            .agents
            .iter()
            .filter(|(id, a)| {
                let retired = a.retired_at.as_deref().and_then(parse_time);
                a.is_retired()
                    && retired.is_some_and(|t| self.now - t > PRUNE_AFTER)
                    && !self
                        .registry
                        .claimed_tasks
                        .values()
                        .any(|c| &c.agent == *id)
                    && a.worktree
                        .as_deref()
                        .is_none_or(|w| !self.ws.main_root.join(w).exists())
                    && !awaiting_complete(id)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in stale {
            self.registry.agents.shift_remove(&id);
            self.registry_dirty = true;
            self.log(
                "prune",
                Some(&id),
                None,
                None,
                None,
                Some("retired over a week ago; nothing left to complete".into()),
            );
        }
    }

    fn release_dead_agents(&mut self, actor: Option<&str>) {
        let mut newest_claim: HashMap<&str, DateTime<Utc>> = HashMap::new();
        for claim in self.registry.claimed_tasks.values() {
            if let Some(t) = claim.claimed_at.as_deref().and_then(parse_time) {
                let e = newest_claim.entry(claim.agent.as_str()).or_insert(t);
                *e = (*e).max(t);
            }
        }
        let lease = self.ws.settings.lease;
        let mut dead: Vec<(String, String)> = Vec::new();
        for (id, agent) in &self.registry.agents {
            if Some(id.as_str()) == actor {
                continue;
            }
            let future = crate::registry::liveness::future_times(agent, self.now);
            if let (Some(t), false) = (future.first(), agent.is_retired()) {
                self.notices.push(format!(
                    "warning: agent {id} has a time in the future ({}); it is ignored, and the agent judged by the rest",
                    format_time(*t)
                ));
            }
            let claimed = newest_claim.get(id.as_str()).copied();
            if agent.is_retired() {
                // Already judged; any claim it still holds (from a crash between two writes)
                // is freed with it.
                if self.registry.claimed_tasks.values().any(|c| &c.agent == id) {
                    dead.push((id.clone(), "marked dead earlier".to_string()));
                }
                continue;
            }
            if let Liveness::Dead(why) = judge(agent, claimed, &self.host, self.now, lease) {
                dead.push((id.clone(), why));
            }
        }
        // Claims by agents the registry does not list (hand-edited or old files).
        for claim in self.registry.claimed_tasks.values() {
            let agent = claim.agent.as_str();
            if Some(agent) == actor
                || self.registry.agents.contains_key(agent)
                || dead.iter().any(|(d, _)| d == agent)
            {
                continue;
            }
            let claimed = newest_claim.get(agent).copied();
            if let Liveness::Dead(why) =
                judge(&AgentEntry::default(), claimed, &self.host, self.now, lease)
            {
                dead.push((agent.to_string(), why));
            }
        }
        for (agent, why) in dead {
            self.retire_dead_agent(&agent, &why);
        }
    }

    fn retire_dead_agent(&mut self, agent: &str, why: &str) {
        let branch = self
            .registry
            .agents
            .get(agent)
            .and_then(|a| a.branch.clone());
        let held = self.registry.held_by(agent);
        // A process that ended holding no task (an agent that finished and quit) is not an
        // alarm: it is `exited`; `dead` is for one that left a task behind.
        let state = if held.is_empty() { "exited" } else { "dead" };
        self.mark_retired(agent, state);
        self.registry_dirty = true;
        if held.is_empty() {
            self.log(state, Some(agent), None, None, None, Some(why.to_string()));
            return;
        }
        for task in held {
            let Some(i) = self.plan.find(&task) else {
                self.registry.claimed_tasks.shift_remove(&task);
                continue;
            };
            let from = self.plan.tasks[i].status;
            let counted = from == Status::Pending
                && self
                    .plan
                    .field(i, "lastFailedAgent")
                    .as_ref()
                    .and_then(|v| v.as_str())
                    == Some(agent);
            if from.is_done() || from == Status::Failed || counted {
                // Already settled in the plan: finished, or this agent's failed attempt already
                // counted (a recovery or a failed run cut short after the plan was written).
                self.drop_claim(i);
                self.log(
                    "drop-claim",
                    Some(agent),
                    Some(&task),
                    None,
                    None,
                    Some(format!("agent {agent} is dead; the task is {from}")),
                );
                continue;
            }
            let (attempts, failed) = self.fail_attempt(
                i,
                branch.as_deref(),
                format!("agent {agent} is dead: {why}"),
            );
            let to = self.plan.tasks[i].status;
            let max = self.ws.settings.max_attempts;
            self.notices.push(if failed {
                format!("agent {agent} is dead ({why}); task {task} failed after {attempts} attempts")
            } else {
                format!(
                    "agent {agent} is dead ({why}); task {task} is pending again (attempt {attempts} of {max} used)"
                )
            });
            self.log(
                "recover",
                Some(agent),
                Some(&task),
                Some(from.as_str()),
                Some(to.as_str()),
                Some(why.to_string()),
            );
        }
    }

    fn align_claims_with_plan(&mut self) {
        let claims: Vec<(String, String)> = self
            .registry
            .claimed_tasks
            .iter()
            .map(|(t, c)| (t.clone(), c.agent.clone()))
            .collect();
        for (task, agent) in claims {
            let Some(i) = self.plan.find(&task) else {
                self.registry.claimed_tasks.shift_remove(&task);
                self.registry_dirty = true;
                self.notices.push(format!(
                    "dropped the claim of {agent} on {task}: the plan has no such task"
                ));
                self.log(
                    "drop-claim",
                    Some(&agent),
                    Some(&task),
                    None,
                    None,
                    Some("not in the plan".into()),
                );
                continue;
            };
            let t = &self.plan.tasks[i];
            match t.status {
                Status::Pending | Status::InProgress
                    if t.status == Status::Pending
                        || t.agent.as_deref() != Some(agent.as_str())
                        || !t.claimed =>
                {
                    let from = t.status;
                    self.plan.set_status(i, Status::InProgress);
                    self.plan.set_claim(i, Some(&agent));
                    self.plan_dirty = true;
                    self.log(
                        "status",
                        Some(&agent),
                        Some(&task),
                        Some(from.as_str()),
                        Some("in-progress"),
                        Some("restored from the registry claim".into()),
                    );
                }
                Status::Completed | Status::Reviewed | Status::Failed => {
                    let status = t.status;
                    self.drop_claim(i);
                    self.log(
                        "drop-claim",
                        Some(&agent),
                        Some(&task),
                        None,
                        None,
                        Some(format!("task is {status}")),
                    );
                }
                _ => {}
            }
        }
        for i in 0..self.plan.tasks.len() {
            let t = &self.plan.tasks[i];
            let marked = t.claimed || (t.status == Status::InProgress && t.agent.is_some());
            let active = matches!(t.status, Status::Pending | Status::InProgress);
            if marked && active && !self.registry.claimed_tasks.contains_key(&t.id) {
                self.release(i, Some("no claim in the registry".into()));
                if let Some(e) = self.events.last_mut() {
                    e.event = "orphan".into();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! One test per row of the crash-state table above: the files as a crash (or an old
    //! script, or a person) left them, and what the next locked command makes of them.

    use crate::plan::Status;
    use crate::workspace::{Settings, Workspace};
    use serde_json::{json, Value};

    /// A repository with `tasks` as its plan and `registry` as its registry, reconciled by a
    /// transaction that is not committed. Returns the task `a`, the claim on `a`, the state of
    /// agent `x` and the kinds of the events reconcile logged.
    fn reconcile(
        tasks: Value,
        registry: Value,
    ) -> (Value, Option<String>, Option<String>, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("proj");
        git2::Repository::init(&repo).unwrap();
        let plan_dir = dir.path().join("tasks/proj");
        std::fs::create_dir_all(&plan_dir).unwrap();
        std::fs::write(
            plan_dir.join("status.json"),
            json!({ "tasks": tasks }).to_string(),
        )
        .unwrap();
        let coord = repo.join(".claude-agents");
        std::fs::create_dir_all(&coord).unwrap();
        std::fs::write(coord.join("task-registry.json"), registry.to_string()).unwrap();
        let ws = Workspace::discover(Settings {
            dir: Some(repo),
            tasks_dir: Some(dir.path().join("tasks")),
            quiet: true,
            ..Settings::default()
        })
        .unwrap();
        let txn = ws.begin(None).unwrap();
        let i = txn.plan.find("a").unwrap();
        let a = json!({
            "status": txn.plan.tasks[i].status.as_str(),
            "agent": txn.plan.tasks[i].agent,
            "claimed": txn.plan.tasks[i].claimed,
            "attempts": txn.plan.tasks[i].attempts,
            "previousBranch": txn.plan.previous_branch(i),
        });
        let claim = txn.registry.claimed_tasks.get("a").map(|c| c.agent.clone());
        let state = txn.registry.agents.get("x").and_then(|e| e.state.clone());
        let events = txn.events().iter().map(|e| e.event.clone()).collect();
        (a, claim, state, events)
    }

    fn now() -> String {
        crate::registry::model::format_time(chrono::Utc::now())
    }

    /// Registry with agent x (alive by a fresh heartbeat, or dead by an old one) claiming `a`.
    fn x_claims_a(alive: bool) -> Value {
        let beat = if alive {
            now()
        } else {
            "2020-01-01T00:00:00Z".into()
        };
        json!({
            "agents": {"x": {"heartbeat": beat, "branch": "work/x"}},
            "claimedTasks": {"a": {"agent": "x", "claimedAt": beat}}
        })
    }

    #[test]
    fn a_claim_cut_short_wins_over_a_pending_task() {
        let (a, claim, _, events) =
            reconcile(json!({"a": {"status": "pending"}}), x_claims_a(true));
        assert_eq!(a["status"], Status::InProgress.as_str());
        assert_eq!(
            (a["agent"].as_str(), a["claimed"].as_bool()),
            (Some("x"), Some(true))
        );
        assert_eq!(claim.as_deref(), Some("x"));
        assert_eq!(events, ["status"]);
    }

    #[test]
    fn the_registry_claim_names_the_agent_of_a_task_in_progress() {
        let plan = json!({"a": {"status": "in-progress", "agent": "y", "claimed": true}});
        let (a, claim, _, _) = reconcile(plan, x_claims_a(true));
        assert_eq!(a["agent"], "x");
        assert_eq!(claim.as_deref(), Some("x"));
    }

    #[test]
    fn a_finish_cut_short_drops_the_claim_and_keeps_the_final_status() {
        for status in ["completed", "reviewed", "failed"] {
            let (a, claim, _, events) =
                reconcile(json!({"a": {"status": status}}), x_claims_a(true));
            assert_eq!(a["status"], status);
            assert_eq!(claim, None, "{status}");
            assert_eq!(events, ["drop-claim"], "{status}");
        }
    }

    #[test]
    fn a_release_cut_short_puts_the_task_back_to_pending() {
        let plan = json!({"a": {"status": "in-progress", "agent": "x", "claimed": true}});
        let registry = json!({"agents": {"x": {"heartbeat": now()}}, "claimedTasks": {}});
        let (a, claim, _, events) = reconcile(plan, registry);
        assert_eq!(a["status"], "pending");
        assert_eq!(
            (a["agent"].is_null(), a["claimed"].as_bool()),
            (true, Some(false))
        );
        assert_eq!(claim, None);
        assert_eq!(events, ["orphan"]);
    }

    #[test]
    fn a_claim_on_a_task_gone_from_the_plan_is_dropped() {
        let mut registry = x_claims_a(true);
        registry["claimedTasks"]["gone"] = json!({"agent": "x"});
        let (_, _, _, events) = reconcile(json!({"a": {"status": "pending"}}), registry);
        assert!(events.contains(&"drop-claim".to_string()), "{events:?}");
    }

    #[test]
    fn a_dead_agent_s_task_is_released_with_its_attempt_and_branch_remembered() {
        let plan = json!({"a": {"status": "in-progress", "agent": "x", "claimed": true}});
        let (a, claim, state, events) = reconcile(plan, x_claims_a(false));
        assert_eq!(a["status"], "pending");
        assert_eq!(a["attempts"], 1);
        assert_eq!(a["previousBranch"], "work/x");
        assert_eq!(claim, None);
        assert_eq!(state.as_deref(), Some("dead"));
        assert!(events.contains(&"recover".to_string()), "{events:?}");
    }

    #[test]
    fn a_dead_agent_s_last_allowed_attempt_fails_the_task() {
        let plan =
            json!({"a": {"status": "in-progress", "agent": "x", "claimed": true, "attempts": 2}});
        let (a, claim, _, _) = reconcile(plan, x_claims_a(false));
        assert_eq!(a["status"], "failed");
        assert_eq!(a["attempts"], 3);
        assert_eq!(claim, None);
    }

    #[test]
    fn a_retired_agent_still_holding_a_claim_frees_it() {
        let mut registry = x_claims_a(true);
        registry["agents"]["x"]["state"] = json!("done");
        let plan = json!({"a": {"status": "in-progress", "agent": "x", "claimed": true}});
        let (a, claim, _, events) = reconcile(plan, registry);
        assert_eq!(a["status"], "pending");
        assert_eq!(claim, None);
        assert!(events.contains(&"recover".to_string()), "{events:?}");
    }

    #[test]
    fn an_agent_that_ended_holding_nothing_has_exited() {
        let registry =
            json!({"agents": {"x": {"heartbeat": "2020-01-01T00:00:00Z"}}, "claimedTasks": {}});
        let (a, _, state, events) = reconcile(json!({"a": {}}), registry);
        assert_eq!(a["status"], "pending");
        assert_eq!(state.as_deref(), Some("exited"));
        assert_eq!(events, ["exited"]);
    }
}
