//! Reading and validating status.json.

use super::file::{NamedMap, PlanFile, PlanTop, TaskFile};
use super::hash::IdMap;
use super::{graph, AgentSpec, Glob, JoinPoint, Plan, Status, Task};
use crate::ids;
use crate::json::ObjectOnly;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Why a plan could not be used. Every message names the file; JSON errors give line:column.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The plan file is not there.
    #[error("{path}: no plan here ({hint})")]
    Missing {
        /// The expected file.
        path: PathBuf,
        /// What to do about it.
        hint: String,
    },
    /// The file exists but cannot be read.
    #[error("{path}: cannot read the plan: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Not JSON, or a field of the wrong type.
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was wrong and what was expected.
        message: String,
    },
    /// Valid JSON that does not make a valid plan.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
}

struct Shown<'a>(&'a Path);
impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.display().fmt(f)
    }
}

pub(super) fn load(path: &Path) -> Result<Plan, PlanError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let dir = path.parent().unwrap_or(Path::new("."));
            let hint = if dir.is_dir() {
                "create status.json here, or use --project / SWARM_PROJECT to pick another plan"
                    .to_string()
            } else {
                format!(
                    "the project directory {} does not exist; check --tasks-dir / SWARM_TASKS_DIR and --project / SWARM_PROJECT",
                    Shown(dir)
                )
            };
            return Err(PlanError::Missing {
                path: path.into(),
                hint,
            });
        }
        Err(source) => {
            return Err(PlanError::Read {
                path: path.into(),
                source,
            })
        }
    };
    let text = String::from_utf8(bytes).map_err(|e| PlanError::Invalid {
        path: path.into(),
        message: format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
    })?;
    // A symlinked status.json (a plan kept elsewhere) is resolved on purpose: rewrites replace
    // the file it points to, in that file's directory, and leave the link in place.
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    match is_link {
        true => match std::fs::canonicalize(path) {
            Ok(real) => parse(&real, text),
            Err(source) => Err(PlanError::Read {
                path: path.into(),
                source,
            }),
        },
        false => parse(path, text),
    }
}

/// The tasks as located by the fast path: id and where its object is in the file.
type Located<'a> = Vec<(Cow<'a, str>, (usize, usize))>;

/// The fast way in: the top level is parsed once with each task left as raw text; each task's
/// fields are then read from its own slice (in `parse`). Any error sends the text through the
/// slow, fully typed parse, which knows the field path and line:column of the mistake.
fn read_fast(text: &str) -> Result<(Located<'_>, PlanTop<'_>), ()> {
    let ObjectOnly(mut top): ObjectOnly<PlanTop> = serde_json::from_str(text).map_err(|_| ())?;
    let base = text.as_ptr() as usize;
    let raw_tasks = std::mem::take(&mut top.tasks.0);
    let mut located = Vec::with_capacity(raw_tasks.len());
    for (id, raw) in raw_tasks {
        let slice = raw.get();
        let start = (slice.as_ptr() as usize).checked_sub(base).ok_or(())?;
        if start + slice.len() > text.len() {
            return Err(());
        }
        located.push((id, (start, start + slice.len())));
    }
    Ok((located, top))
}

/// The error of the slow, fully typed parse, for a plan the fast path refused.
fn explain(path: &Path, text: &str) -> PlanError {
    match crate::json::from_str::<PlanFile>(text) {
        Err(e) => PlanError::Syntax {
            path: path.into(),
            line: e.line,
            column: e.column,
            message: e.message,
        },
        Ok(_) => PlanError::Invalid {
            path: path.into(),
            message: "not a valid plan (the fast reader refused it; please report this)".into(),
        },
    }
}

pub(super) fn parse(path: &Path, text: String) -> Result<Plan, PlanError> {
    let Ok((located, top)) = read_fast(&text) else {
        return Err(explain(path, &text));
    };
    let invalid = |message: String| PlanError::Invalid {
        path: path.into(),
        message,
    };
    let mut index = IdMap::with_capacity_and_hasher(located.len(), Default::default());
    for (i, (id, _)) in located.iter().enumerate() {
        ids::check_task_id(id).map_err(|e| invalid(format!("tasks: {e}")))?;
        index.insert(id.to_string(), i);
    }
    let mut tasks = Vec::with_capacity(located.len());
    let mut spans = Vec::with_capacity(located.len());
    for (id, (start, end)) in located {
        spans.push((start, end));
        // Each task's fields straight into its `Task`: no intermediate copy of the whole plan.
        let Ok(ObjectOnly(t)) = serde_json::from_str::<ObjectOnly<TaskFile>>(&text[start..end])
        else {
            return Err(explain(path, &text));
        };
        let mut blocked_by = Vec::new();
        for b in t.blocked_by.unwrap_or_default() {
            let Some(&bi) = index.get(b.as_ref()) else {
                return Err(invalid(format!(
                    "task {id:?} is blocked by {b:?}, which is not a task in this plan"
                )));
            };
            if !blocked_by.contains(&bi) {
                blocked_by.push(bi);
            }
        }
        tasks.push(Task {
            id: id.into_owned(),
            title: t.title.unwrap_or_default().into_owned(),
            description: t.description.unwrap_or_default().into_owned(),
            status: t.status.unwrap_or(Status::Pending),
            blocked_by,
            priority: t.priority.unwrap_or_default(),
            estimate: t.estimate.map(|e| e.0),
            progress: t.progress.map(|p| p.0),
            agent: t.agent.filter(|a| !a.is_empty()).map(Cow::into_owned),
            claimed: t.claimed.unwrap_or(false),
            attempts: t.attempts.unwrap_or(0),
        });
    }
    let n = tasks.len();
    let dependents = graph::dependents(n, |i| &tasks[i].blocked_by);
    let order =
        graph::topological_order(n, |i| &tasks[i].blocked_by, &dependents).map_err(|cycle| {
            let names: Vec<String> = cycle
                .iter()
                .map(|&i| format!("{:?}", tasks[i].id))
                .collect();
            invalid(format!(
                "dependency cycle: {} (each task is blocked by the next)",
                names.join(" -> ")
            ))
        })?;
    let join_points = join_points(top.join_points, &tasks, &index).map_err(invalid)?;
    let agents = match top.coordination.and_then(|c| c.agents) {
        Some(agents) => agent_specs(agents).map_err(invalid)?,
        None => Vec::new(),
    };
    Ok(Plan {
        path: path.into(),
        text,
        spans,
        edited: BTreeMap::new(),
        unwritable: None,
        tasks,
        index,
        order,
        dependents,
        join_points,
        agents,
    })
}

fn join_points(
    points: Option<NamedMap<super::file::JoinPointFile>>,
    tasks: &[Task],
    index: &IdMap<usize>,
) -> Result<Vec<JoinPoint>, String> {
    let mut out = Vec::new();
    for (name, jp) in points.map(|p| p.0).unwrap_or_default() {
        let requires: Vec<Glob> = jp.requires.iter().map(|p| Glob::new(p)).collect();
        let mut matched = vec![false; tasks.len()];
        for g in &requires {
            // Exact ids are looked up; only wildcards scan the tasks (plans list thousands of ids).
            let any = if g.is_wildcard() {
                let mut any = false;
                for (i, t) in tasks.iter().enumerate() {
                    if g.matches(&t.id) {
                        matched[i] = true;
                        any = true;
                    }
                }
                any
            } else if let Some(&i) = index.get(g.as_str()) {
                matched[i] = true;
                true
            } else {
                false
            };
            if !any {
                let what = if g.is_wildcard() {
                    "matches no task"
                } else {
                    "is not a task in this plan"
                };
                return Err(format!(
                    "joinPoints.{name}: requires {:?}, which {what}",
                    g.as_str()
                ));
            }
        }
        let tasks = (0..tasks.len()).filter(|&i| matched[i]).collect();
        out.push(JoinPoint {
            name: name.into_owned(),
            requires,
            tasks,
        });
    }
    Ok(out)
}

fn agent_specs(agents: NamedMap<'_, super::file::AgentSpecFile>) -> Result<Vec<AgentSpec>, String> {
    let mut out: Vec<AgentSpec> = Vec::new();
    for (id, a) in agents.0 {
        ids::check_agent_id(&id).map_err(|e| format!("coordination.agents: {e}"))?;
        // Two agents in one worktree (or on one branch) would work over each other, and
        // completing one would remove the other's worktree.
        let clean = |p: &str| p.trim_end_matches('/').to_string();
        for other in &out {
            if let (Some(w), Some(o)) = (&a.worktree, &other.worktree) {
                if clean(w) == clean(o) {
                    return Err(format!(
                        "coordination.agents.{id}.worktree: {w:?} is also the worktree of {:?}; each agent needs its own",
                        other.id
                    ));
                }
            }
            if let (Some(b), Some(o)) = (&a.branch, &other.branch) {
                if b == o {
                    return Err(format!(
                        "coordination.agents.{id}.branch: {b:?} is also the branch of {:?}; each agent needs its own",
                        other.id
                    ));
                }
            }
        }
        if let Some(branch) = &a.branch {
            ids::check_branch_name(branch)
                .map_err(|e| format!("coordination.agents.{id}.branch: {e}"))?;
        }
        out.push(AgentSpec {
            id: id.into_owned(),
            worktree: a.worktree,
            branch: a.branch,
            tasks: a
                .tasks
                .unwrap_or_default()
                .iter()
                .map(|p| Glob::new(p))
                .collect(),
        });
    }
    Ok(out)
}
