//! Reading and writing a task's fields: the document keeps every byte it does not change, and
//! the typed view (`Task`) stays in step with it.

use super::{edit, run_spend, CommandLine, Plan, Status};
use serde_json::Value;
use std::collections::HashMap;

impl Plan {
    /// Records the runs of task `i` (`runs`), keeping the typed view in step.
    pub fn set_runs(&mut self, i: usize, runs: Vec<Value>) {
        self.tasks[i].runs = runs.iter().map(run_spend).collect();
        self.set_field(i, "runs", Value::Array(runs));
    }

    /// The verify command of task `i`: its own, else the integration's.
    pub fn verify_command(&self, i: usize) -> Option<&CommandLine> {
        self.tasks[i]
            .verify
            .as_ref()
            .or(self.integration.as_ref()?.verify.as_ref())
    }

    /// Records where task `i` landed (`landed`), or clears it (`None`).
    pub fn set_landed(&mut self, i: usize, landed: Option<Value>) {
        self.tasks[i].landed = landed.as_ref().is_some_and(Value::is_object);
        self.set_field(i, "landed", landed.unwrap_or(Value::Null));
    }

    /// Sets the status of task `i`.
    pub fn set_status(&mut self, i: usize, status: Status) {
        self.tasks[i].status = status;
        self.set_field(i, "status", Value::from(status.as_str()));
    }

    /// Records (or clears) the agent working on task `i`.
    pub fn set_claim(&mut self, i: usize, agent: Option<&str>) {
        self.set_agent(i, agent, agent.is_some());
    }

    /// Records the agent of task `i` and whether it still holds the task (an agent that
    /// finished it stays recorded, unclaimed).
    pub fn set_agent(&mut self, i: usize, agent: Option<&str>, claimed: bool) {
        self.tasks[i].agent = agent.map(str::to_string);
        self.tasks[i].claimed = claimed;
        self.set_field(i, "agent", agent.map_or(Value::Null, Value::from));
        self.set_field(i, "claimed", Value::Bool(claimed));
    }

    /// Sets the progress of task `i` (0–100).
    pub fn set_progress(&mut self, i: usize, percent: u8) {
        self.tasks[i].progress = Some(percent);
        self.set_field(i, "progress", Value::from(percent));
    }

    /// Sets the attempt counter of task `i`.
    pub fn set_attempts(&mut self, i: usize, attempts: u32) {
        self.tasks[i].attempts = attempts;
        self.set_field(i, "attempts", Value::from(attempts));
    }

    /// Sets any other field of task `i` (e.g. the branch of a previous attempt). Fields swarm
    /// reads into `Task` go through their own setters, which keep both views in step.
    pub fn set_field(&mut self, i: usize, key: &str, value: Value) {
        let fields = self.edited.entry(i).or_default();
        match fields.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => fields.push((key.to_string(), value)),
        }
    }

    /// Every field of task `i`, as changed or as written in the file.
    pub fn fields(&self, i: usize) -> HashMap<String, Value> {
        let (start, end) = self.spans[i];
        let mut out: HashMap<String, Value> = edit::fields(&self.text[start..end])
            .map(|raw| {
                raw.into_iter()
                    .filter_map(|(k, v)| Some((k, serde_json::from_str(v.get()).ok()?)))
                    .collect()
            })
            .unwrap_or_default();
        for (k, v) in self.edited.get(&i).into_iter().flatten() {
            out.insert(k.clone(), v.clone());
        }
        out
    }

    /// Sets field `key` of task `i` to `value` as read from another version of the plan,
    /// keeping the typed view of the fields swarm reads in step.
    pub fn set_raw_field(&mut self, i: usize, key: &str, value: Value) {
        let t = &mut self.tasks[i];
        match key {
            "status" => {
                if let Some(s) = value.as_str().and_then(Status::parse) {
                    t.status = s;
                }
            }
            "agent" => t.agent = value.as_str().filter(|a| !a.is_empty()).map(str::to_string),
            "claimed" => t.claimed = value.as_bool().unwrap_or(false),
            "progress" => t.progress = value.as_u64().map(|p| p.min(100) as u8),
            "attempts" => t.attempts = value.as_u64().map_or(0, |a| a.min(u32::MAX as u64) as u32),
            "landed" => t.landed = value.is_object(),
            "runs" => {
                t.runs = value
                    .as_array()
                    .map(|r| r.iter().map(run_spend).collect())
                    .unwrap_or_default()
            }
            _ => {}
        }
        self.set_field(i, key, value);
    }

    /// Reads a field of task `i` (as changed, or as written in the file).
    pub fn field(&self, i: usize, key: &str) -> Option<Value> {
        let set = self
            .edited
            .get(&i)
            .and_then(|f| f.iter().find(|(k, _)| k == key));
        match set {
            Some((_, v)) => Some(v.clone()),
            None => {
                let (start, end) = self.spans[i];
                let raw = edit::fields(&self.text[start..end]).ok()?;
                let (_, value) = raw.into_iter().rev().find(|(k, _)| k == key)?;
                serde_json::from_str(value.get()).ok()
            }
        }
    }
}
