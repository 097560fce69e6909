//! Writing a transaction: both files durably, in crash-safe order, and never over a plan that
//! someone else changed since it was read.
//!
//! status.json is edited by people and scripts while swarm runs. Before writing it, swarm
//! checks that the file still holds what it read (by content: a file's times are only as fine
//! as the kernel's clock tick, and two writes of one size within a tick look alike); if not,
//! it reads the new one and applies its own changes to it, task by task (what swarm set wins
//! on the fields it set; everything else the other writer did stays). The plan is put in place
//! by exchanging it with the file there, so a write that lands in the moment before is found
//! in what was taken out, and merged too.

use super::{LockReplaced, Txn};
use crate::atomic::{self, DirSyncs, Staged};
use crate::events;
use crate::plan::{Plan, Stamp};
use crate::registry::{model::format_time, Registry};
use anyhow::{anyhow, bail, Context, Result};

/// How many times a plan that keeps changing under swarm is merged before giving up.
const MERGES: usize = 10;

impl Txn<'_> {
    /// Like `commit`, and hands back the state as written.
    pub fn finish(mut self) -> Result<(Plan, Registry)> {
        if self.plan_dirty {
            self.follow_plan_changes()?;
        }
        let plan = match self.plan_dirty {
            true => Some(self.stage_plan()?),
            false => None,
        };
        // The registry remembers which plan swarm wrote last: a plan that is not that one
        // was written by someone else since (see `restore_finished_work`).
        if let Some(stamp) = plan.as_ref().and_then(Staged::stamp) {
            self.registry.plan_stamp = Some(stamp);
            self.registry_dirty = true;
        }
        if self.registry_dirty {
            self.registry.last_updated = Some(format_time(self.now));
            // An old registry is stamped with the project on its first write.
            if self.registry.project.is_none() {
                self.registry.project = Some(self.ws.project.clone());
            }
        }
        let registry_path = self.ws.registry_path();
        let registry = match self.registry_dirty {
            true => Some(
                atomic::stage_json(&registry_path, &self.registry).with_context(|| {
                    format!("{}: cannot write the registry", registry_path.display())
                })?,
            ),
            false => None,
        };
        let staged: Vec<&Staged> = plan.iter().chain(registry.iter()).collect();
        atomic::sync_all_staged(staged.iter().copied())
            .context("cannot sync the new plan and registry")?;
        // A lock file deleted or replaced while this process held it (a `git clean`, a person)
        // lets another process lock a new file and work at the same time: write nothing.
        if !staged.is_empty() && !self.lock.still_at_path() {
            return Err(LockReplaced(self.lock.path().to_path_buf()).into());
        }
        let mut syncs = DirSyncs::default();
        let (first, second) = match self.plan_first {
            true => (plan.map(Either::Plan), registry.map(Either::Registry)),
            false => (registry.map(Either::Registry), plan.map(Either::Plan)),
        };
        for staged in first.into_iter().chain(second) {
            match staged {
                Either::Plan(p) => self.install_plan(p, &mut syncs)?,
                Either::Registry(r) => r
                    .install(&mut syncs)
                    .context("cannot rename the new registry into place")?,
            }
        }
        // Durable before anyone else can read it: a state another process reports must not
        // be one a crash can still undo.
        syncs
            .sync()
            .context("cannot sync the coordination directories")?;
        // The change is made now: a log that cannot be appended to is worth a warning, not a
        // failure reported for a change that was made.
        let events_path = self.ws.events_path();
        if let Err(e) = events::append(&events_path, &self.events) {
            eprintln!(
                "swarm: warning: {}: cannot append events: {e}",
                events_path.display()
            );
        }
        drop(self.lock);
        if !self.ws.settings.quiet {
            for n in &self.notices {
                eprintln!("swarm: {n}");
            }
        }
        Ok((self.plan, self.registry))
    }

    fn stage_plan(&self) -> Result<Staged> {
        self.plan
            .stage()
            .with_context(|| format!("{}: cannot write the plan", self.plan.path().display()))
    }

    /// If the plan file changed since it was read, reads it again and applies this
    /// transaction's changes to the new one (never writing over what someone wrote).
    fn follow_plan_changes(&mut self) -> Result<()> {
        for _ in 0..MERGES {
            let path = self.plan.path().to_path_buf();
            if self.plan.holds_as_read(&path) {
                return Ok(());
            }
            if self.plan.is_replacement() {
                bail!(
                    "{}: changed while your edit was being applied; nothing was written",
                    path.display()
                );
            }
            let newer = Plan::load(&path).map_err(|e| {
                anyhow!("{e} — status.json was changed while this command ran and is not valid now; nothing was written: fix it and run the command again")
            })?;
            self.merge_into(newer);
        }
        bail!(
            "{}: keeps changing while swarm writes it; nothing was written",
            self.plan.path().display()
        )
    }

    /// Makes `newer` (the plan as someone else wrote it) this transaction's plan, with this
    /// transaction's changes applied.
    fn merge_into(&mut self, mut newer: Plan) {
        let dropped = newer.apply_changes_of(&self.plan);
        self.notices.push(format!(
            "{} was changed by someone else while this command ran: swarm's changes were applied to the new version{}",
            self.plan.path().display(),
            match dropped.is_empty() {
                true => String::new(),
                false => format!(
                    " (not to {}, gone from it)",
                    dropped.join(", ")
                ),
            }
        ));
        self.plan = newer;
    }

    /// Puts the staged plan in place by exchange, and checks that what it took out of place
    /// is the file this transaction built on; if someone wrote in between, their version is
    /// merged and put in place instead.
    fn install_plan(&mut self, mut staged: Staged, syncs: &mut DirSyncs) -> Result<()> {
        let path = self.plan.path().to_path_buf();
        for round in 1..=MERGES {
            // Written while the files were synced: merged before anything is exchanged, so
            // that the window the exchange below guards is a moment, not a disk flush.
            if !self.plan.holds_as_read(&path) {
                // Its temp file goes first: the new one has the same name.
                drop(staged);
                self.follow_plan_changes()?;
                staged = self.stage_plan()?;
                atomic::sync_all_staged([&staged]).context("cannot sync the new plan")?;
            }
            let ours = staged.stamp();
            let Some(old) = staged
                .exchange(syncs)
                .context("cannot rename the new plan into place")?
            else {
                return Ok(());
            };
            // What was in place must be what this transaction built on.
            if self.plan.holds_as_read(old.path()) {
                return Ok(());
            }
            // Written in the moment between the check and the rename (perhaps still being
            // written, through a file its writer holds open): theirs goes back in place at
            // once, and this transaction's changes are applied to it, as before the rename.
            let put_back = |old: atomic::Displaced| {
                old.put_back(&path)
                    .with_context(|| format!("cannot put {} back in place", path.display()))
            };
            let out = put_back(old)?;
            // Written again while ours was in place (into it, or by rename over it): that
            // write is the newest, and goes in place; the one put back goes. Either way the
            // temp name is free again before anything is staged under it.
            match Stamp::at(out.path()) == ours {
                true => drop(out),
                false => drop(put_back(out)?),
            }
            if round == MERGES {
                self.notices.push(format!(
                    "{} kept being written by someone else; it is left as they wrote it, and the next swarm command brings this one's changes into it",
                    path.display()
                ));
                return Ok(());
            }
            self.follow_plan_changes()?;
            staged = self.stage_plan()?;
            atomic::sync_all_staged([&staged]).context("cannot sync the new plan")?;
        }
        Ok(())
    }
}

/// One of the two files of a transaction, staged.
enum Either {
    Plan(Staged),
    Registry(Staged),
}
