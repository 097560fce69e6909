//! Reading and validating status.json.

use super::file::{CoordinationFile, JoinPointFile, NamedMap, PlanFile, PlanTop, TaskFile};
use super::hash::IdIndex;
use super::scan::{self, Tasks};
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
    /// Valid JSON that does not make a valid plan, at a known place in the file (a task, a
    /// `blockedBy` entry).
    #[error("{path}:{line}:{column}: {message}")]
    InvalidAt {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column (in bytes, as for JSON errors).
        column: usize,
        /// What was wrong.
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

/// Plans this big or bigger are read and parsed with their blocks allocated in bulk.
const BULK_FROM: usize = 256 << 10;

pub(super) fn load(path: &Path) -> Result<Plan, PlanError> {
    let open = || {
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len() as usize;
        Ok((file, len))
    };
    let (file, len) = open().map_err(|e: io::Error| match e.kind() {
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
    })?;
    // A one-shot command keeps a plan until it exits, and the blocks of a big one are
    // allocated in bulk (in huge pages, see `alloc::bulk`); a small one would only pay for a
    // huge page it barely uses.
    let read_and_parse = || read_and_parse(path, file, len);
    match len >= BULK_FROM {
        true => crate::alloc::bulk(read_and_parse),
        false => read_and_parse(),
    }
}

/// Reads the `len` bytes of the plan at `path` from `file`, and parses them.
fn read_and_parse(path: &Path, mut file: std::fs::File, len: usize) -> Result<Plan, PlanError> {
    let mut bytes = Vec::new();
    let read = bytes
        .try_reserve_exact(len + 1)
        .map_err(io::Error::from)
        .and_then(|()| io::Read::read_to_end(&mut file, &mut bytes));
    if let Err(source) = read {
        return Err(PlanError::Read {
            path: path.into(),
            source,
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

/// What both readers give: every task with the fields swarm reads, and the other sections.
struct Read<'a> {
    tasks: Tasks<'a>,
    /// Whether every task id was checked already (`ids::check_task_id`).
    ids_checked: bool,
    coordination: Option<ObjectOnly<CoordinationFile<'a>>>,
    join_points: Option<NamedMap<'a, JoinPointFile<'a>>>,
}

/// The quick way in: one pass over the bytes (`scan`). It gives up on anything unusual, and
/// then the general reader decides.
fn read_scanned(text: &str) -> Result<Read<'_>, ()> {
    let s = scan::read(text)?;
    Ok(Read {
        coordination: serde_json::from_str(s.coordination.unwrap_or("null")).map_err(drop)?,
        join_points: serde_json::from_str(s.join_points.unwrap_or("null")).map_err(drop)?,
        tasks: s.tasks,
        ids_checked: true,
    })
}

/// The general reader: the top level is parsed once with each task left as raw text, then each
/// task's fields from its own slice. Any error sends the text through the slow, fully typed
/// parse (`explain`), which knows the field path and line:column of the mistake.
fn read_general(text: &str) -> Result<Read<'_>, ()> {
    let ObjectOnly(mut top): ObjectOnly<PlanTop> = serde_json::from_str(text).map_err(drop)?;
    let base = text.as_ptr() as usize;
    let mut tasks = Tasks::default();
    for (id, raw) in std::mem::take(&mut top.tasks.0) {
        let slice = raw.get();
        let start = (slice.as_ptr() as usize).checked_sub(base).ok_or(())?;
        if start + slice.len() > text.len() {
            return Err(());
        }
        let span = (start, start + slice.len());
        let ObjectOnly(t) = serde_json::from_str::<ObjectOnly<TaskFile>>(slice).map_err(drop)?;
        tasks.blockers.extend(t.blocked_by.unwrap_or_default());
        let task = Task {
            title: t.title.unwrap_or_default().into_owned(),
            description: t.description.unwrap_or_default().into_owned(),
            status: t.status.unwrap_or(Status::Pending),
            priority: t.priority.unwrap_or_default(),
            estimate: t.estimate.map(|e| e.0),
            progress: t.progress.map(|p| p.0),
            agent: t.agent.filter(|a| !a.is_empty()).map(Cow::into_owned),
            claimed: t.claimed.unwrap_or(false),
            attempts: t.attempts.unwrap_or(0),
            ..scan::bare_task(id.into_owned())
        };
        tasks.push(task, span);
    }
    Ok(Read {
        tasks,
        ids_checked: false,
        coordination: top.coordination,
        join_points: top.join_points,
    })
}

/// The error of the slow, fully typed parse, for a plan the readers refused.
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
    let read = read_scanned(&text).or_else(|()| read_general(&text));
    let Ok(Read {
        tasks: mut read,
        ids_checked,
        coordination,
        join_points: points,
    }) = read
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
    if !ids_checked {
        for (t, span) in read.tasks.iter().zip(&read.spans) {
            ids::check_task_id(&t.id)
                .map_err(|e| invalid_at(key_at(&text, span.0), format!("tasks: {e}")))?;
        }
    }
    // The quick reader does not look for repeated ids; the general one names them.
    let index = IdIndex::build(read.tasks.len(), |i| &read.tasks[i].id)
        .map_err(|_| explain(path, &text))?;
    // Every `blockedBy` entry, looked up in one go (`get_each` overlaps the lookups); the
    // first unknown one is reported.
    let mut found: Vec<u32> = Vec::with_capacity(read.blockers.len());
    let mut unknown = None;
    index.get_each(&read.blockers, |k, i| {
        // Task indexes fit in u32 (`IdIndex` asserts it).
        found.push(i.map_or(u32::MAX, |i| i as u32));
        if i.is_none() && unknown.is_none() {
            unknown = Some(k);
        }
    });
    if let Some(k) = unknown {
        let i = read.blocker_ends.partition_point(|&end| end <= k);
        let b = &read.blockers[k];
        return Err(invalid_at(
            blocker_at(&text, read.spans[i], b),
            format!(
                "task {:?} is blocked by {b:?}, which is not a task in this plan",
                read.tasks[i].id
            ),
        ));
    }
    let mut start = 0;
    for i in 0..read.tasks.len() {
        let end = read.blocker_ends[i];
        let mut mine = Vec::with_capacity(end - start);
        for bi in found[start..end].iter().map(|&b| b as usize) {
            if !mine.contains(&bi) {
                mine.push(bi);
            }
        }
        read.tasks[i].blocked_by = mine;
        start = end;
    }
    let Tasks { tasks, spans, .. } = read;
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
    let join_points = join_points(points, &tasks, &index).map_err(invalid)?;
    let agents = match coordination.and_then(|c| c.0.agents) {
        Some(agents) => agent_specs(agents).map_err(invalid)?,
        None => Vec::new(),
    };
    // An exact id in an agent's task list must be a task, as in join points.
    for a in &agents {
        if let Some(g) = a
            .tasks
            .iter()
            .find(|g| !g.is_wildcard() && index.get(g.as_str()).is_none())
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

/// The 1-based line and column (in bytes) of byte `at` of `text`.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..at.min(text.len())];
    let line_start = before
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(0, |p| p + 1);
    let line = 1 + before.iter().filter(|&&c| c == b'\n').count();
    (line, before.len() - line_start + 1)
}

/// Where blocker `id` is written in the task whose object spans `span` of `text`: the string
/// in the value of the task's own `"blockedBy"` key (not one nested deeper), or the task's key
/// when it is not found as written (an escaped id).
fn blocker_at(text: &str, span: (usize, usize), id: &str) -> usize {
    let task = &text[span.0..span.1];
    let quoted = format!("\"{id}\"");
    top_level_key_end(task, "blockedBy")
        .and_then(|after| task[after..].find(&quoted).map(|p| span.0 + after + p))
        .unwrap_or_else(|| key_at(text, span.0))
}

/// In the JSON object `object`, the end of its own key `key` written without escapes (keys of
/// nested objects and text inside strings do not count).
fn top_level_key_end(object: &str, key: &str) -> Option<usize> {
    let b = object.as_bytes();
    let (mut depth, mut i) = (0u32, 0);
    while i < b.len() {
        match b[i] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' => {
                let start = i + 1;
                i = start;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                let after = i + 1;
                let is_key = object
                    .get(after..)
                    .is_some_and(|rest| rest.trim_start().starts_with(':'));
                if depth == 1 && is_key && object.get(start..i) == Some(key) {
                    return Some(after);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Where the key of the task whose object starts at byte `object` of `text` starts (its
/// opening quote): what a message about the task points at.
fn key_at(text: &str, object: usize) -> usize {
    let b = text.as_bytes();
    let before = text[..object].trim_end();
    let Some(colon) = before.strip_suffix(':') else {
        return object;
    };
    let close = colon.trim_end().len();
    if close == 0 || b[close - 1] != b'"' {
        return object;
    }
    // The opening quote: the nearest `"` before the closing one that no backslash escapes.
    let mut at = close - 1;
    while let Some(q) = text[..at].rfind('"') {
        let backslashes = b[..q].iter().rev().take_while(|&&c| c == b'\\').count();
        if backslashes % 2 == 0 {
            return q;
        }
        at = q;
    }
    object
}

fn join_points(
    points: Option<NamedMap<JoinPointFile>>,
    tasks: &[Task],
    index: &IdIndex,
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
            } else if let Some(i) = index.get(g.as_str()) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift), so failures reproduce.
    struct Gen(u64, bool);
    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        /// One of `from`; in a tame plan only one of the first two (which both readers take).
        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            let n = if self.1 { from.len() } else { 2 };
            from[(self.next() % n as u64) as usize]
        }
    }

    /// A plan with random fields, mostly well-formed, some of the values and layouts the quick
    /// reader gives up on, some that neither reader accepts.
    fn random_plan(g: &mut Gen) -> String {
        let n = 1 + g.next() % 6;
        let ids: Vec<String> = (0..n).map(|i| format!("p/t{i}")).collect();
        let ws = ["", " ", "\n  ", "\t", "\r\n"];
        let mut tasks = Vec::new();
        g.1 = g.next() & 1 == 0; // wild or tame
        for (i, id) in ids.iter().enumerate() {
            let mut fields = Vec::new();
            let mut used = 0u32;
            for _ in 0..g.next() % 7 {
                let blocker = &ids[(g.next() % n) as usize];
                let kind = g.next() % if g.1 { 13 } else { 12 };
                if !g.1 && used & 1 << kind != 0 {
                    continue; // a tame plan repeats no field
                }
                used |= 1 << kind;
                let field = match kind {
                    0 => format!(
                        r#""title": {}"#,
                        g.pick(&[
                            r#""T""#,
                            r#""a \"q\" \\ \/ \n""#,
                            r#""\u00e9""#,
                            "null",
                            "3",
                            r#""é""#
                        ])
                    ),
                    1 => format!(
                        r#""description": {}"#,
                        g.pick(&[r#""""#, r#""d\td""#, "[]"])
                    ),
                    2 => format!(
                        r#""status": {}"#,
                        g.pick(&[
                            r#""pending""#,
                            r#""in-progress""#,
                            r#""completed""#,
                            r#""reviewed""#,
                            r#""failed""#,
                            r#""done""#,
                            "null",
                            r#""pend\u0069ng""#
                        ])
                    ),
                    3 if i > 0 => format!(
                        r#""blockedBy": ["{}"]"#,
                        &ids[(g.next() % i as u64) as usize]
                    ),
                    3 => r#""blockedBy": []"#.to_string(),
                    4 => format!(
                        r#""priority": {}"#,
                        g.pick(&[
                            "1",
                            "-2",
                            "0",
                            "-0",
                            "1.0",
                            "1e2",
                            r#""high""#,
                            r#""low""#,
                            r#""urgent""#,
                            "99999999999999999999",
                            "null"
                        ])
                    ),
                    5 => format!(
                        r#""estimate": {}"#,
                        g.pick(&[
                            "2",
                            "0",
                            "-0",
                            "1.5",
                            "2e0",
                            "-1",
                            r#""90m""#,
                            r#""1h30m""#,
                            r#""x""#,
                            "1234567890123456789",
                            "null"
                        ])
                    ),
                    6 => format!(
                        r#""progress": {}"#,
                        g.pick(&["0", "40", "100", "101", "40.5", "-1", "1e1", "null"])
                    ),
                    7 => format!(r#""agent": {}"#, g.pick(&[r#""w1""#, r#""""#, "null", "1"])),
                    8 => format!(r#""claimed": {}"#, g.pick(&["true", "false", "null", "0"])),
                    9 => format!(
                        r#""attempts": {}"#,
                        g.pick(&["0", "3", "-1", "1.0", "4294967296", "null"])
                    ),
                    10 => format!(
                        r#""x-extra": {}"#,
                        g.pick(&[
                            r#"{"a": [1, -2.5e+3, true, false, null, "s"]}"#,
                            "[]",
                            "{}",
                            "0.5",
                            "01",
                            "[1,]",
                            r#""\ud83d\ude00""#
                        ])
                    ),
                    11 if used & 1 << 3 == 0 => {
                        used |= 1 << 3;
                        format!(r#""blockedBy": ["{blocker}", "{blocker}"]"#)
                    }
                    11 => continue,
                    _ => format!(r#""b\u006cockedBy": ["{blocker}"]"#),
                };
                fields.push(field);
            }
            let sep = format!(",{}", g.pick(&ws));
            tasks.push(format!(
                r#""{id}":{}{{{}}}"#,
                g.pick(&ws),
                fields.join(&sep)
            ));
        }
        let extra = g.pick(&[
            r#", "joinPoints": {"j": {"requires": ["p/*"]}}"#,
            "",
            r#", "coordination": {"agents": {"a": {"tasks": ["p/t0"]}}}"#,
            r#", "meta": {"v": 1}"#,
            r#", "tasks": {}"#,
        ]);
        format!(
            r#"{{"tasks": {{{}}}{extra}}}{}"#,
            tasks.join(", "),
            g.pick(&ws)
        )
    }

    #[test]
    fn positions_point_at_keys_and_at_the_tasks_own_blocked_by() {
        // The task's key, escaped quotes and backslashes included; the object when there is
        // no key before it.
        for (text, key) in [
            (r#"{"a": {}}"#, r#""a""#),
            (r#"{"x\"y" : {}}"#, r#""x\"y""#),
            (r#"{"b\\":{}}"#, r#""b\\""#),
            ("{\"c\"\n  :\n  {}}", r#""c""#),
        ] {
            let object = text.rfind('{').unwrap();
            assert_eq!(key_at(text, object), text.find(key).unwrap(), "{text}");
        }
        assert_eq!(key_at("[{}]", 1), 1);
        // Only the object's own key counts: not one nested deeper, not a string value.
        let task = r#"{"note": "\"blockedBy\": x", "m": {"blockedBy": []}, "blockedBy": ["z"]}"#;
        let end = top_level_key_end(task, "blockedBy").unwrap();
        assert_eq!(&task[end..], r#": ["z"]}"#);
        assert_eq!(
            top_level_key_end(r#"{"m": {"blockedBy": []}}"#, "blockedBy"),
            None
        );
    }

    #[test]
    fn the_quick_reader_agrees_with_the_general_one() {
        let mut corpus: Vec<String> = vec![
            include_str!("../demo/status.json").into(),
            include_str!("starter/status.json").into(),
            include_str!("../../examples/sample-plan/status.json").into(),
        ];
        let mut g = Gen(0x9e37_79b9_7f4a_7c15, false);
        corpus.extend((0..20_000).map(|_| random_plan(&mut g)));
        let (mut quick, mut general) = (0, 0);
        for text in &corpus {
            let expected = read_general(text);
            match read_scanned(text) {
                Ok(read) => {
                    quick += 1;
                    let expected = expected.unwrap_or_else(|()| {
                        panic!("the quick reader accepted what the general one refuses: {text}")
                    });
                    assert_eq!(read.tasks, expected.tasks, "{text}");
                    assert_eq!(
                        read.join_points.map(|j| j.0.len()),
                        expected.join_points.map(|j| j.0.len())
                    );
                }
                Err(()) => general += usize::from(expected.is_ok()),
            }
        }
        // Both paths are exercised: most plans read quickly, some only the general way.
        assert!(quick > 8_000, "quick reader accepted only {quick}");
        assert!(
            general > 200,
            "general reader alone accepted only {general}"
        );
    }
}
