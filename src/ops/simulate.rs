//! What-if for N agents: the plan's remaining work played out by the scheduler's own order
//! (priority, longest critical path, plan order), each task taking its estimate (1 h when
//! absent) less its progress. Pure code: plan in, schedule out.

use crate::plan::{graph, Plan, Priority};
use crate::scheduler;
use serde::Serialize;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// One simulated run.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Agents simulated.
    pub agents: usize,
    /// Hours until the last finishable task is done.
    pub makespan: f64,
    /// When each task is done, in hours from now (0 for done tasks); `None` for tasks that can
    /// never be done because a task they wait for (directly or not) failed.
    pub finish: Vec<Option<f64>>,
}

/// The figures of `plan simulate --json` (durations in hours).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Agents simulated.
    pub agents: usize,
    /// Hours until every finishable task is done with that many agents.
    pub makespan: f64,
    /// `max(criticalPath, work / agents)`: no schedule can be shorter.
    pub lower_bound: f64,
    /// The longest chain of remaining work.
    pub critical_path: f64,
    /// Remaining work, summed over the finishable tasks.
    pub work: f64,
    /// Share of the agents' time spent working: `work / (agents × makespan)`.
    pub utilisation: f64,
    /// Tasks that can never be done (a task they wait for failed).
    pub unreachable: usize,
    /// The makespan for other numbers of agents.
    pub sweep: Vec<SweepPoint>,
    /// Pairs of unfinished tasks whose `files` may overlap and that can run at the same time
    /// (neither waits for the other): merge conflicts waiting to happen.
    pub overlaps: Vec<(String, String)>,
}

/// One point of the sweep.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SweepPoint {
    /// Agents.
    pub agents: usize,
    /// Hours until done.
    pub makespan: f64,
}

/// Hours, ordered by `total_cmp`, so that the heaps' entries can derive their order.
#[derive(Debug, Clone, Copy)]
struct Hours(f64);

impl Ord for Hours {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}
impl PartialOrd for Hours {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Hours {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Hours {}

/// The scheduler's preference among ready tasks, smallest first: higher priority, then the
/// longer critical path through the tasks waiting on it, then plan order (as
/// `scheduler::pick_next`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    priority: Priority,
    path: Reverse<Hours>,
    index: usize,
}

/// A running task, ordered by when it is done (then by index, for determinism).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Running {
    done_at: Hours,
    index: usize,
}

/// Plays the remaining work out with `agents` agents (at least 1). Tasks in progress
/// (`working(i)`: status in-progress or claimed) are started first, then ready tasks in the
/// scheduler's order as agents come free. O((tasks + edges) log tasks).
pub fn run(plan: &Plan, agents: usize, working: impl Fn(usize) -> bool) -> Schedule {
    let cut = scheduler::cut_off(plan);
    let path = graph::critical_path_from(&plan.tasks, &plan.order, &plan.dependents);
    run_with(plan, agents, &working, &cut, &path)
}

/// `run` with the unreachable tasks and the critical paths computed once (for the sweep).
fn run_with(
    plan: &Plan,
    agents: usize,
    working: &impl Fn(usize) -> bool,
    cut: &[bool],
    path: &[f64],
) -> Schedule {
    let agents = agents.max(1);
    let n = plan.tasks.len();
    let mut finish: Vec<Option<f64>> = vec![None; n];
    // Blockers not yet done, per task.
    let mut waiting: Vec<usize> = plan
        .tasks
        .iter()
        .map(|t| {
            t.blocked_by
                .iter()
                .filter(|&&b| !plan.tasks[b].status.is_done())
                .count()
        })
        .collect();
    let mut first = BinaryHeap::new(); // in progress: started before anything else
    let mut ready = BinaryHeap::new();
    for (i, t) in plan.tasks.iter().enumerate() {
        if t.status.is_done() {
            finish[i] = Some(0.0);
        } else if cut[i] {
            continue;
        } else if working(i) {
            first.push(Reverse(i));
        } else if waiting[i] == 0 {
            ready.push(Reverse(Key {
                priority: t.priority,
                path: Reverse(Hours(path[i])),
                index: i,
            }));
        }
    }
    let mut running: BinaryHeap<Reverse<Running>> = BinaryHeap::new();
    let mut now = 0.0_f64;
    let mut free = agents;
    loop {
        while free > 0 {
            let next = match first.pop() {
                Some(Reverse(i)) => i,
                None => match ready.pop() {
                    Some(Reverse(k)) => k.index,
                    None => break,
                },
            };
            running.push(Reverse(Running {
                done_at: Hours(now + graph::remaining_hours(&plan.tasks[next])),
                index: next,
            }));
            free -= 1;
        }
        let Some(Reverse(done)) = running.pop() else {
            break;
        };
        now = done.done_at.0;
        free += 1;
        finish[done.index] = Some(now);
        for &d in &plan.dependents[done.index] {
            waiting[d] -= 1;
            let t = &plan.tasks[d];
            if waiting[d] == 0 && !cut[d] && !t.status.is_done() && !working(d) {
                ready.push(Reverse(Key {
                    priority: t.priority,
                    path: Reverse(Hours(path[d])),
                    index: d,
                }));
            }
        }
    }
    Schedule {
        agents,
        makespan: now,
        finish,
    }
}

/// The full what-if report for `agents`, with a sweep from 1 agent to twice as many (at least
/// 4, at most 64).
pub fn report(plan: &Plan, agents: usize, working: impl Fn(usize) -> bool) -> Report {
    let agents = agents.max(1);
    let cut = scheduler::cut_off(plan);
    let path = graph::critical_path_from(&plan.tasks, &plan.order, &plan.dependents);
    let main = run_with(plan, agents, &working, &cut, &path);
    let work: f64 = plan
        .tasks
        .iter()
        .zip(&cut)
        .filter(|(_, &c)| !c)
        .map(|(t, _)| graph::remaining_hours(t))
        .sum();
    let critical_path = graph::critical_path_to(&plan.tasks, &plan.order)
        .iter()
        .zip(&cut)
        .filter(|(_, &c)| !c)
        .map(|(&p, _)| p)
        .fold(0.0, f64::max);
    let lower_bound = critical_path.max(work / agents as f64);
    let utilisation = if main.makespan > 0.0 {
        work / (agents as f64 * main.makespan)
    } else {
        0.0
    };
    let top = (agents * 2).clamp(4, 64);
    let sweep = (1..=top)
        .map(|a| SweepPoint {
            agents: a,
            makespan: if a == agents {
                main.makespan
            } else {
                run_with(plan, a, &working, &cut, &path).makespan
            },
        })
        .collect();
    Report {
        agents,
        makespan: main.makespan,
        lower_bound,
        critical_path,
        work,
        utilisation,
        unreachable: cut.iter().filter(|&&c| c).count(),
        sweep,
        overlaps: overlaps(plan),
    }
}

/// Pairs of unfinished tasks that may touch the same files and that can run side by side
/// (neither waits, directly or not, for the other), in plan order.
pub fn overlaps(plan: &Plan) -> Vec<(String, String)> {
    let with_files: Vec<usize> = (0..plan.tasks.len())
        .filter(|&i| !plan.tasks[i].files.is_empty() && !plan.tasks[i].status.is_done())
        .collect();
    let mut out = Vec::new();
    for (n, &a) in with_files.iter().enumerate() {
        for &b in &with_files[n + 1..] {
            let (ta, tb) = (&plan.tasks[a], &plan.tasks[b]);
            if scheduler::overlaps_any(&ta.files, &[tb.files.as_slice()])
                && !waits_for(plan, a, b)
                && !waits_for(plan, b, a)
            {
                out.push((ta.id.clone(), tb.id.clone()));
            }
        }
    }
    out
}

/// Whether task `a` waits, directly or not, for task `b`.
fn waits_for(plan: &Plan, a: usize, b: usize) -> bool {
    let mut seen = vec![false; plan.tasks.len()];
    let mut stack = vec![a];
    while let Some(i) = stack.pop() {
        for &x in &plan.tasks[i].blocked_by {
            if x == b {
                return true;
            }
            if !std::mem::replace(&mut seen[x], true) {
                stack.push(x);
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Status;
    use std::path::Path;

    fn plan(text: &str) -> Plan {
        Plan::parse(Path::new("status.json"), text).unwrap()
    }

    const DIAMOND: &str = r#"{"tasks": {
        "a": {"estimate": "2h"},
        "b": {"estimate": "3h", "blockedBy": ["a"]},
        "c": {"estimate": "1h", "blockedBy": ["a"]},
        "d": {"estimate": "1h", "blockedBy": ["b", "c"]}
    }}"#;

    #[test]
    fn one_agent_does_all_the_work_in_turn() {
        let p = plan(DIAMOND);
        let s = run(&p, 1, |_| false);
        assert_eq!(s.makespan, 7.0);
    }

    #[test]
    fn enough_agents_reach_the_critical_path() {
        let p = plan(DIAMOND);
        let s = run(&p, 2, |_| false);
        // a (0-2), then b (2-5) and c (2-3) side by side, then d (5-6).
        assert_eq!(s.makespan, 6.0);
        let i = |id: &str| p.find(id).unwrap();
        assert_eq!(s.finish[i("c")], Some(3.0));
        assert_eq!(s.finish[i("d")], Some(6.0));
        let r = report(&p, 2, |_| false);
        assert_eq!((r.critical_path, r.work, r.lower_bound), (6.0, 7.0, 6.0));
        assert_eq!(r.sweep.len(), 4);
        assert_eq!(r.sweep[0].makespan, 7.0);
        assert_eq!(r.sweep[3].makespan, 6.0);
        assert!((r.utilisation - 7.0 / 12.0).abs() < 1e-9);
    }

    #[test]
    fn the_longer_chain_starts_first() {
        // Two agents, three ready tasks: the one that a long chain waits on goes first, so
        // the chain is not delayed behind the short task.
        let p = plan(
            r#"{"tasks": {
            "short": {"estimate": "1h"},
            "other": {"estimate": "1h"},
            "head": {"estimate": "1h"},
            "tail": {"estimate": "5h", "blockedBy": ["head"]}
        }}"#,
        );
        assert_eq!(run(&p, 2, |_| false).makespan, 6.0);
    }

    #[test]
    fn progress_done_work_and_failures_count() {
        let p = plan(
            r#"{"tasks": {
            "done": {"status": "completed", "estimate": "9h"},
            "half": {"status": "in-progress", "estimate": "4h", "progress": 50},
            "bad": {"status": "failed"},
            "after-bad": {"blockedBy": ["bad"]},
            "next": {"estimate": "1h", "blockedBy": ["done", "half"]}
        }}"#,
        );
        let r = report(&p, 1, |i| p.tasks[i].status == Status::InProgress);
        assert_eq!(r.makespan, 3.0);
        assert_eq!(r.work, 3.0);
        assert_eq!(r.unreachable, 2);
        let s = run(&p, 1, |_| false);
        assert_eq!(s.finish[p.find("after-bad").unwrap()], None);
        assert_eq!(s.finish[p.find("done").unwrap()], Some(0.0));
    }

    #[test]
    fn verification_time_counts_and_overlapping_tasks_are_named() {
        let p = plan(
            r#"{"coordination": {"integration": {"verifyEstimate": "30m"}}, "tasks": {
            "db": {"estimate": "1h", "files": ["src/db/**"]},
            "db-more": {"estimate": "1h", "files": ["src/db/query.rs"], "verifyEstimate": "1h"},
            "after-db": {"estimate": "1h", "files": ["src/db/**"], "blockedBy": ["db"]},
            "api": {"estimate": "1h", "files": ["src/api/**"]}
        }}"#,
        );
        let r = report(&p, 1, |_| false);
        assert_eq!(r.work, 1.5 + 2.0 + 1.5 + 1.5);
        assert_eq!(
            r.overlaps,
            vec![
                ("db".to_string(), "db-more".to_string()),
                ("db-more".to_string(), "after-db".to_string())
            ]
        );
    }
}
