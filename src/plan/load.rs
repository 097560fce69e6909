//! Reading and validating status.json.

use super::error::{explain, key_at, line_column, PlanError};
use super::file::{BorrowedKey, JoinPointFile, NamedMap, PlanTop, TaskFile};
use super::{graph, AgentSpec, Glob, Integration, JoinPoint, Plan, Stamp, Status, Task};
use crate::ids;
use crate::json::ObjectOnly;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::path::Path;

struct Shown<'a>(&'a Path);
impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.display().fmt(f)
    }
}

/// Reads and validates the plan at `path`. A plan that does not parse is read again after a
/// short wait while it keeps changing (an editor saving in place, a script half-way through a
/// write), so that an agent's command does not fail on a save in progress; one that stays the
/// same and invalid is an error.
pub(super) fn load(path: &Path) -> Result<Plan, PlanError> {
    let mut last: Option<Stamp> = None;
    let mut tries = 0;
    loop {
        let read_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_nanos());
        let (bytes, stamp) = read_file(path)?;
        match parse_bytes(path, bytes) {
            Ok(mut plan) => {
                plan.stamp = Some(stamp);
                plan.read_at = read_at;
                return Ok(plan);
            }
            // Changed since the last try (tries are 100 ms apart, many clock ticks: the file's
            // record tells, even for an editor that shows an empty file more than once).
            Err(_) if tries < 20 && last != Some(stamp) => {
                last = Some(stamp);
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) => return Err(e),
        }
    }
}

/// The bytes of the plan at `path`, and what the file was when they were read.
fn read_file(path: &Path) -> Result<(Vec<u8>, Stamp), PlanError> {
    // The stamp must describe the bytes read: a write landing during the read changes it,
    // and the file is read again.
    let read = || -> io::Result<(Vec<u8>, Stamp)> {
        let mut file = std::fs::File::open(path)?;
        loop {
            let meta = file.metadata()?;
            let before = Stamp::of(&meta);
            let mut bytes = Vec::with_capacity(meta.len() as usize + 1);
            io::Seek::seek(&mut file, io::SeekFrom::Start(0))?;
            io::Read::read_to_end(&mut file, &mut bytes)?;
            if Stamp::of(&file.metadata()?) == before {
                return Ok((bytes, before));
            }
        }
    };
    read().map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => {
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
            PlanError::Missing {
                path: path.into(),
                hint,
            }
        }
        _ => PlanError::Read {
            path: path.into(),
            source: e,
        },
    })
}

/// Validates the bytes of the plan at `path`.
fn parse_bytes(path: &Path, bytes: Vec<u8>) -> Result<Plan, PlanError> {
    if bytes.starts_with("\u{feff}".as_bytes()) {
        return Err(PlanError::InvalidAt {
            path: path.into(),
            line: 1,
            column: 1,
            message: "the file starts with a byte-order mark (U+FEFF), which JSON does not allow; save it as UTF-8 without one".into(),
        });
    }
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

/// The tasks as read, before their blockers are resolved to indexes.
struct Read<'a> {
    /// Each task, its `blocked_by` still empty.
    tasks: Vec<Task>,
    /// Byte range of each task's object in the file.
    spans: Vec<(usize, usize)>,
    /// Each task's `blockedBy` entries: the id, and where it is written.
    blockers: Vec<Vec<(Cow<'a, str>, usize)>>,
    /// The first task whose `files` has a pattern that cannot be used, and why.
    bad_files: Option<(usize, String)>,
    top: PlanTop<'a>,
}

/// Reads `text`: the top level once, each task left as raw text that knows its place in the
/// file, then each task's fields from its own slice. `Err(())` when anything is wrong: the
/// fully typed parse (`explain`) then says what and where.
fn read(text: &str) -> Result<Read<'_>, ()> {
    let ObjectOnly(mut top): ObjectOnly<PlanTop> = serde_json::from_str(text).map_err(drop)?;
    let offset = |raw: &RawValue| {
        let at = (raw.get().as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
        (at + raw.get().len() <= text.len()).then_some(at).ok_or(())
    };
    let entries = std::mem::take(&mut top.tasks.0);
    let mut read = Read {
        tasks: Vec::with_capacity(entries.len()),
        spans: Vec::with_capacity(entries.len()),
        blockers: Vec::with_capacity(entries.len()),
        bad_files: None,
        top,
    };
    for (id, raw) in entries {
        let start = offset(raw)?;
        let ObjectOnly(t): ObjectOnly<TaskFile<&RawValue>> =
            serde_json::from_str(raw.get()).map_err(drop)?;
        let mut blockers = Vec::new();
        for b in t.blocked_by.unwrap_or_default() {
            let BorrowedKey(id) = serde_json::from_str(b.get()).map_err(drop)?;
            blockers.push((id, offset(b)?));
        }
        read.blockers.push(blockers);
        read.spans.push((start, start + raw.get().len()));
        read.tasks.push(Task {
            id: id.into_owned(),
            title: t.title.unwrap_or_default().into_owned(),
            description: t.description.unwrap_or_default().into_owned(),
            status: t.status.unwrap_or(Status::Pending),
            blocked_by: Vec::new(),
            priority: t.priority.unwrap_or_default(),
            estimate: t.estimate.map(|e| e.0),
            progress: t.progress.map(|p| p.0),
            agent: t.agent.filter(|a| !a.is_empty()).map(|a| a.into_owned()),
            claimed: t.claimed.unwrap_or(false),
            attempts: t.attempts.unwrap_or(0),
            verify: t.verify,
            files: match t.files {
                Some(files) => match files.iter().map(|f| Glob::new(f)).collect() {
                    Ok(globs) => globs,
                    Err(e) => {
                        read.bad_files.get_or_insert((read.tasks.len(), e));
                        Vec::new()
                    }
                },
                None => Vec::new(),
            },
            landed: t.landed.is_some_and(|l| l.0),
            verify_estimate: t.verify_estimate.map(|e| e.0),
            runs: t
                .runs
                .unwrap_or_default()
                .into_iter()
                .map(|ObjectOnly(r)| super::RunSpend {
                    agent: r.agent,
                    cost_usd: r.cost_usd,
                    turns: r.turns,
                })
                .collect(),
        });
    }
    Ok(read)
}

pub(super) fn parse(path: &Path, text: String) -> Result<Plan, PlanError> {
    let Ok(Read {
        mut tasks,
        spans,
        blockers,
        bad_files,
        top,
    }) = read(&text)
    else {
        return Err(explain(path, &text));
    };
    let invalid = |message: String| PlanError::Invalid {
        path: path.into(),
        message,
    };
    // The same, placed at byte `at` of the file.
    let invalid_at = |at: usize, message: String| {
        let (line, column) = line_column(&text, at);
        PlanError::InvalidAt {
            path: path.into(),
            line,
            column,
            message,
        }
    };
    if let Some((i, e)) = bad_files {
        return Err(invalid_at(
            key_at(&text, spans[i].0),
            format!("task {:?}: files: {e}", tasks[i].id),
        ));
    }
    let mut index = HashMap::with_capacity(tasks.len());
    for (i, (t, span)) in tasks.iter().zip(&spans).enumerate() {
        // Empty and repeated ids: the typed parse says where.
        if t.id.trim().is_empty() || index.insert(t.id.clone(), i).is_some() {
            return Err(explain(path, &text));
        }
        ids::check_task_id(&t.id)
            .map_err(|e| invalid_at(key_at(&text, span.0), format!("tasks: {e}")))?;
    }
    for (i, entries) in blockers.into_iter().enumerate() {
        let mut mine = Vec::with_capacity(entries.len());
        for (b, at) in entries {
            let Some(&bi) = index.get(b.as_ref()) else {
                return Err(invalid_at(
                    at,
                    format!(
                        "task {:?} is blocked by {b:?}, which is not a task in this plan",
                        tasks[i].id
                    ),
                ));
            };
            if !mine.contains(&bi) {
                mine.push(bi);
            }
        }
        tasks[i].blocked_by = mine;
    }
    let n = tasks.len();
    let dependents = graph::dependents(n, |i| &tasks[i].blocked_by);
    let order =
        graph::topological_order(n, |i| &tasks[i].blocked_by, &dependents).map_err(|cycle| {
            let names: Vec<String> = cycle
                .iter()
                .map(|&i| format!("{:?}", tasks[i].id))
                .collect();
            invalid_at(
                key_at(&text, spans[cycle[0]].0),
                format!(
                    "dependency cycle: {} (each task is blocked by the next)",
                    names.join(" -> ")
                ),
            )
        })?;
    let join_points = join_points(top.join_points, &tasks, &index).map_err(invalid)?;
    let (agents, integration, budget_usd, max_agents, permissions, worktree) =
        match top.coordination {
            Some(ObjectOnly(c)) => (
                c.agents,
                c.integration,
                c.budget_usd,
                c.max_agents,
                c.permissions,
                c.worktree,
            ),
            None => (None, None, None, None, None, None),
        };
    let worktree = match worktree {
        Some(ObjectOnly(w)) => Some(super::Recipe::of(w).map_err(invalid)?),
        None => None,
    };
    if max_agents == Some(0) {
        return Err(invalid(
            "coordination.maxAgents: 0 would let no agent start; give 1 or more".into(),
        ));
    }
    if budget_usd.is_some_and(|b| !(b.is_finite() && b >= 0.0)) {
        return Err(invalid(
            "coordination.budgetUsd: expected a number of US dollars, 0 or more".into(),
        ));
    }
    let agents = match agents {
        Some(agents) => agent_specs(agents).map_err(invalid)?,
        None => Vec::new(),
    };
    let integration = match integration {
        Some(ObjectOnly(i)) => Some(integration_of(i).map_err(invalid)?),
        None => None,
    };
    if let Some(default) = integration.as_ref().and_then(|i| i.verify_estimate) {
        for t in &mut tasks {
            t.verify_estimate.get_or_insert(default);
        }
    }
    // An exact id in an agent's task list must be a task, as in join points.
    for a in &agents {
        if let Some(g) = a
            .tasks
            .iter()
            .find(|g| !g.is_wildcard() && !index.contains_key(g.as_str()))
        {
            return Err(invalid(format!(
                "coordination.agents.{}.tasks: {:?} is not a task in this plan",
                a.id,
                g.as_str()
            )));
        }
    }
    Ok(Plan {
        path: path.into(),
        stamp: None,
        read_at: None,
        read_as: None,
        text,
        spans,
        edited: BTreeMap::new(),
        tasks,
        index,
        order,
        dependents,
        join_points,
        agents,
        integration,
        budget_usd,
        max_agents,
        permissions,
        worktree,
    })
}

/// `coordination.integration`, checked.
fn integration_of(i: super::file::IntegrationFile) -> Result<Integration, String> {
    if let Some(branch) = &i.branch {
        ids::check_branch_name(branch)
            .map_err(|e| format!("coordination.integration.branch: {e}"))?;
    }
    let timeout = i.verify_timeout.map_or(30.0 * 60.0, |e| e.0 * 3600.0);
    if timeout < 1.0 {
        return Err(format!(
            "coordination.integration.verifyTimeout: {timeout} s is too short; give at least a second, e.g. \"10m\""
        ));
    }
    // A year is more than any verification needs, and keeps the duration representable.
    if timeout > 366.0 * 24.0 * 3600.0 {
        return Err(
            "coordination.integration.verifyTimeout: more than a year; give a duration like \"30m\" or \"2h\"".into(),
        );
    }
    Ok(Integration {
        branch: i.branch,
        verify: i.verify,
        verify_timeout: std::time::Duration::from_secs_f64(timeout),
        verify_estimate: i.verify_estimate.map(|e| e.0),
    })
}

fn join_points(
    points: Option<NamedMap<JoinPointFile>>,
    tasks: &[Task],
    index: &HashMap<String, usize>,
) -> Result<Vec<JoinPoint>, String> {
    let mut out = Vec::new();
    for (name, jp) in points.map(|p| p.0).unwrap_or_default() {
        let requires = jp
            .requires
            .iter()
            .map(|p| Glob::new(p))
            .collect::<Result<Vec<Glob>, String>>()
            .map_err(|e| format!("joinPoints.{name}.requires: {e}"))?;
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
        let tasks = a
            .tasks
            .unwrap_or_default()
            .iter()
            .map(|p| Glob::new(p))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("coordination.agents.{id}.tasks: {e}"))?;
        out.push(AgentSpec {
            id: id.into_owned(),
            worktree: a.worktree,
            branch: a.branch,
            tasks,
        });
    }
    Ok(out)
}
