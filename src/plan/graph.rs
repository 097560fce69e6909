//! The task graph: cycle detection, topological order, readiness and critical paths, each in
//! O(tasks + edges).

use super::Task;

/// Orders the `n` tasks so that every blocker comes before the tasks it blocks, or returns one
/// cycle (task indexes, each waiting for the next, the first repeated at the end).
/// `blocked_by(i)` lists task i's blockers; `dependents` is their reverse (see `dependents`).
pub fn topological_order<'a>(
    n: usize,
    blocked_by: impl Fn(usize) -> &'a [usize],
    dependents: &Adjacency,
) -> Result<Vec<usize>, Vec<usize>> {
    let mut indegree: Vec<usize> = (0..n).map(|i| blocked_by(i).len()).collect();
    let mut order: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut head = 0;
    while head < order.len() {
        let t = order[head];
        head += 1;
        for &d in &dependents[t] {
            indegree[d] -= 1;
            if indegree[d] == 0 {
                order.push(d);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Every task left has a blocker that is also left: walking blockers must revisit a task.
    let start = (0..n).find(|&i| indegree[i] > 0).unwrap_or(0);
    let mut position = vec![usize::MAX; n];
    let mut path = Vec::new();
    let mut v = start;
    while position[v] == usize::MAX {
        position[v] = path.len();
        path.push(v);
        v = blocked_by(v)
            .iter()
            .copied()
            .find(|&b| indegree[b] > 0)
            .unwrap_or(v);
    }
    let mut cycle = path.split_off(position[v]);
    cycle.push(v);
    Err(cycle)
}

/// For each task, a list of tasks, all in one buffer: `adjacency[i]` is task `i`'s list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Adjacency {
    /// Where task `i`'s list ends in `items` (it starts where task `i - 1`'s ends).
    ends: Vec<usize>,
    items: Vec<usize>,
}

impl Adjacency {
    /// How many tasks it has lists for.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether it has no lists.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

impl std::ops::Index<usize> for Adjacency {
    type Output = [usize];
    fn index(&self, i: usize) -> &[usize] {
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1],
        };
        &self.items[start..self.ends[i]]
    }
}

/// For each of the `n` tasks, the tasks that list it in `blockedBy`, in plan order.
pub fn dependents<'a>(n: usize, blocked_by: impl Fn(usize) -> &'a [usize]) -> Adjacency {
    // Counted first, then filled: one buffer instead of a vector per task.
    let mut ends = vec![0usize; n];
    for t in 0..n {
        for &b in blocked_by(t) {
            ends[b] += 1;
        }
    }
    let mut total = 0;
    for e in &mut ends {
        total += *e;
        *e = total;
    }
    // Filled from the back, each list's last slot first, so each ends up in plan order.
    let mut items = vec![0usize; total];
    for t in (0..n).rev() {
        for &b in blocked_by(t).iter().rev() {
            ends[b] -= 1;
            items[ends[b]] = t;
        }
    }
    // `ends[b]` now holds where list `b` starts, which is where list `b - 1` ends.
    ends.rotate_left(1.min(n));
    if let Some(last) = ends.last_mut() {
        *last = total;
    }
    Adjacency { ends, items }
}

/// Hours of work left on a task: its estimate (1 when absent) less its progress; 0 when done.
pub fn remaining_hours(task: &Task) -> f64 {
    if task.status.is_done() {
        return 0.0;
    }
    let estimate = task.estimate.unwrap_or(1.0);
    let done = f64::from(task.progress.unwrap_or(0).min(100)) / 100.0;
    // Landing verifies the task once more at the end, however far the work is.
    estimate * (1.0 - done) + task.verify_estimate.unwrap_or(0.0)
}

/// For each task, the longest chain of remaining work that starts with it and runs through
/// the tasks waiting on it (its own remaining hours included).
pub fn critical_path_from(tasks: &[Task], order: &[usize], dependents: &Adjacency) -> Vec<f64> {
    let mut path = vec![0.0; tasks.len()];
    for &t in order.iter().rev() {
        let longest_after = dependents[t].iter().map(|&d| path[d]).fold(0.0, f64::max);
        path[t] = remaining_hours(&tasks[t]) + longest_after;
    }
    path
}

/// For each task, the longest chain of remaining work that ends with it (its blockers' chains
/// plus its own remaining hours): when it could be done at the earliest, given enough agents.
pub fn critical_path_to(tasks: &[Task], order: &[usize]) -> Vec<f64> {
    let mut path = vec![0.0; tasks.len()];
    for &t in order {
        let longest_before = tasks[t]
            .blocked_by
            .iter()
            .map(|&b| path[b])
            .fold(0.0, f64::max);
        path[t] = remaining_hours(&tasks[t]) + longest_before;
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(blocked_by: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
        let n = blocked_by.len();
        topological_order(n, |i| &blocked_by[i], &dependents(n, |i| &blocked_by[i]))
    }

    #[test]
    fn dependents_lists_each_task_s_dependents_in_plan_order() {
        let blocked_by = [vec![], vec![0], vec![0, 1], vec![], vec![2, 0, 3], vec![1]];
        let deps = dependents(blocked_by.len(), |i| &blocked_by[i]);
        let lists: Vec<&[usize]> = (0..deps.len()).map(|i| &deps[i]).collect();
        let want: [&[usize]; 6] = [&[1, 2, 4], &[2, 5], &[4], &[4], &[], &[]];
        assert_eq!(lists, want);
        assert!(dependents(0, |i| &blocked_by[i]).is_empty());
    }

    #[test]
    fn order_puts_blockers_first() {
        let blocked_by = vec![vec![1], vec![], vec![0, 1]];
        let order = order(&blocked_by).unwrap();
        let pos = |t| order.iter().position(|&x| x == t).unwrap();
        assert!(pos(1) < pos(0) && pos(0) < pos(2));
    }

    #[test]
    fn cycle_is_reported_closed() {
        // 0 waits for 1, 1 waits for 2, 2 waits for 0; 3 is free.
        let blocked_by = vec![vec![1], vec![2], vec![0], vec![]];
        let cycle = order(&blocked_by).unwrap_err();
        assert_eq!(cycle.len(), 4);
        assert_eq!(cycle.first(), cycle.last());
        for w in cycle.windows(2) {
            assert!(blocked_by[w[0]].contains(&w[1]));
        }
    }

    #[test]
    fn self_block_is_a_cycle() {
        assert_eq!(order(&[vec![0]]).unwrap_err(), vec![0, 0]);
    }
}
