//! `swarm plan edit`: a person edits the plan in `$EDITOR` while agents run. The editor works
//! on a copy; the result is checked, then applied under the lock with a three-way merge
//! against what swarm changed meanwhile: swarm's changes to fields the person left alone are
//! kept, the person's changes win everywhere else, and a field both changed differently is a
//! conflict that changes nothing.

use crate::plan::Plan;
use crate::workspace::Workspace;
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// How an edit went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edited {
    /// The editor changed nothing.
    Unchanged,
    /// The edit is in the plan; the tasks whose fields swarm had changed meanwhile, kept.
    Applied {
        /// Tasks where swarm's changes made while the editor was open were kept.
        merged: Vec<String>,
    },
}

/// Opens `editor` (split into words like `--agent-cmd`; the copy's path goes last) on a copy
/// of the plan, then applies the result. An invalid result or a conflict changes nothing and
/// keeps the copy, whose path the error gives.
pub fn edit(ws: &Workspace, editor: &str) -> Result<Edited> {
    let base = ws.load_plan()?;
    let base_text = std::fs::read_to_string(base.path())
        .with_context(|| format!("{}: cannot read", base.path().display()))?;
    let copy = copy_path(base.path());
    std::fs::write(&copy, &base_text)
        .with_context(|| format!("{}: cannot write the copy to edit", copy.display()))?;
    let status = run_editor(editor, &copy);
    let edited = std::fs::read_to_string(&copy);
    let keep = |why: String| -> anyhow::Error {
        anyhow::anyhow!(
            "{why}; nothing was changed, and your edit is kept in {}",
            copy.display()
        )
    };
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => {
            let _ = std::fs::remove_file(&copy);
            bail!("the editor exited with {s}; nothing was changed");
        }
        Err(e) => {
            let _ = std::fs::remove_file(&copy);
            return Err(e);
        }
    }
    let edited =
        edited.with_context(|| format!("{}: cannot read the edited copy", copy.display()))?;
    if edited == base_text {
        let _ = std::fs::remove_file(&copy);
        return Ok(Edited::Unchanged);
    }
    let mut ours = Plan::parse(base.path(), &edited).map_err(|e| keep(format!("{e}")))?;
    let mut txn = ws.begin(None)?;
    let merged = merge(&base, &txn.plan, &mut ours).map_err(keep)?;
    txn.replace_plan(ours);
    txn.commit()?;
    let _ = std::fs::remove_file(&copy);
    Ok(Edited::Applied { merged })
}

/// `status.edit-<unix>.json` beside the plan: the editor sees a JSON file, and a kept edit is
/// where the plan is.
fn copy_path(plan: &Path) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    plan.with_file_name(format!("status.edit-{stamp}.json"))
}

fn run_editor(editor: &str, file: &Path) -> Result<std::process::ExitStatus> {
    let words = crate::agent::template::split(editor)?;
    let Some((program, args)) = words.split_first() else {
        bail!("the editor command is empty: set VISUAL or EDITOR");
    };
    std::process::Command::new(program)
        .args(args)
        .arg(file)
        .status()
        .with_context(|| format!("cannot start the editor {program:?} (VISUAL / EDITOR)"))
}

/// Applies to `ours` (the person's edit of `base`) what changed from `base` to `theirs` (the
/// plan now, with swarm's changes since): for each task and field swarm changed, its value,
/// unless the person changed that field too (to something else: a conflict). Returns the
/// tasks where swarm's changes were applied.
fn merge(base: &Plan, theirs: &Plan, ours: &mut Plan) -> Result<Vec<String>, String> {
    let mut merged = Vec::new();
    let mut conflicts = Vec::new();
    for (i, t) in theirs.tasks.iter().enumerate() {
        let Some(b) = base.find(&t.id) else {
            continue; // swarm adds no tasks; a task added meanwhile by hand is not ours to judge
        };
        let (before, now) = (base.fields(b), theirs.fields(i));
        let changed: Vec<(&String, &Value)> = now
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(*v))
            .collect();
        if changed.is_empty() {
            continue;
        }
        let Some(o) = ours.find(&t.id) else {
            conflicts.push(format!(
                "task {} was removed in your edit, but changed meanwhile ({})",
                t.id,
                keys(&changed)
            ));
            continue;
        };
        let mine: HashMap<String, Value> = ours.fields(o);
        let mut applied = false;
        for (k, v) in changed {
            match mine.get(k) {
                m if m == before.get(k) => {
                    ours.set_raw_field(o, k, v.clone());
                    applied = true;
                }
                Some(m) if m == v => {}
                _ => conflicts.push(format!(
                    "task {} field {k}: you set {}, and it became {} meanwhile",
                    t.id,
                    mine.get(k).map_or("nothing".into(), Value::to_string),
                    v
                )),
            }
        }
        if applied {
            merged.push(t.id.clone());
        }
    }
    match conflicts.is_empty() {
        true => Ok(merged),
        false => Err(format!(
            "your edit conflicts with what changed while the editor was open: {}",
            conflicts.join("; ")
        )),
    }
}

fn keys(fields: &[(&String, &Value)]) -> String {
    fields
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
