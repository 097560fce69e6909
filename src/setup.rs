//! Setting a repository up for a plan: validate, coordination dir, registry, lock.

use crate::registry::{self, Registry};
use crate::scheduler;
use crate::workspace::Workspace;
use anyhow::{Context, Result};
use std::fs::OpenOptions;

/// What `setup` found and did.
#[derive(Debug, Clone, Default)]
pub struct SetupReport {
    /// Lines for people: what was created.
    pub done: Vec<String>,
    /// Tasks in the plan.
    pub tasks: usize,
    /// Tasks ready now.
    pub ready: usize,
    /// Join points.
    pub join_points: usize,
    /// Agents in coordination.agents.
    pub preassigned: usize,
}

/// Validates the plan, then creates what is missing; running it again changes nothing.
pub fn run(ws: &Workspace, use_gitignore: bool) -> Result<SetupReport> {
    let plan = ws.load_plan()?;
    let mut done = ws.ensure_coordination_dir(use_gitignore)?;
    let lock_path = ws.lock_path();
    if !lock_path.exists() {
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("{}: cannot create", lock_path.display()))?;
        done.push(format!("created {}", lock_path.display()));
    }
    let registry_path = ws.registry_path();
    if !registry_path.exists() {
        let _lock = registry::RegistryLock::acquire(&lock_path, ws.settings.lock_timeout)?;
        if !registry_path.exists() {
            let reg = Registry {
                last_updated: Some(registry::model::format_time(chrono::Utc::now())),
                ..Registry::default()
            };
            registry::save(&registry_path, &reg)?;
            done.push(format!("created {}", registry_path.display()));
        }
    }
    let (plan, registry) = if done.is_empty() {
        ws.snapshot()?
    } else {
        (plan, ws.load_registry()?)
    };
    let ready = scheduler::readiness(&plan, |id| registry.claimed_tasks.contains_key(id));
    Ok(SetupReport {
        done,
        tasks: plan.tasks.len(),
        ready: ready.iter().filter(|r| **r).count(),
        join_points: plan.join_points.len(),
        preassigned: plan.agents.len(),
    })
}
