//! `swarm list`: tasks with status, agent, progress, and why waiting tasks wait.

use super::{Ctx, EXIT_OK};
use crate::cli::ListArgs;
use crate::ops::list::{self, Filter, TaskRow};
use crate::plan::Status;
use crate::ui::{self, Ui};
use anyhow::Result;
use std::collections::HashMap;

pub fn exec(ctx: &Ctx, args: &ListArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    let (plan, registry) = ws.snapshot()?;
    let filter = Filter {
        statuses: args.status.clone(),
        unassigned: args.unassigned,
        ready: args.ready,
        agent: args
            .agent
            .as_deref()
            .map(|a| ws.resolve_agent(a))
            .transpose()?,
    };
    let ready = list::readiness(&plan, &registry);
    let rows = list::rows(&plan, &registry, &ready, &filter);
    if args.json {
        crate::output::json(&rows)?;
        return Ok(EXIT_OK);
    }
    let s = list::summary(&plan, &ready);
    let text = if args.show_structure {
        structure(&ctx.ui, &rows)
    } else if args.show_dependencies {
        let all = list::rows(&plan, &registry, &ready, &Filter::default());
        let by_id: HashMap<&str, &TaskRow> = all.iter().map(|r| (r.id.as_str(), r)).collect();
        table(&ctx.ui, &rows, Some(&by_id))
    } else {
        table(&ctx.ui, &rows, None)
    };
    crate::output::lines(text)?;
    let turns: u64 = plan.tasks.iter().filter_map(|t| t.spend().1).sum();
    let spent = match plan.tasks.iter().any(|t| !t.runs.is_empty()) {
        true => format!("; ${:.2} and {turns} turns spent", plan.spent_usd()),
        false => String::new(),
    };
    ctx.ui.note(&format!(
        "{} tasks: {} ready, {} in progress, {} waiting, {} done, {} failed{}{spent}",
        s.total,
        s.ready,
        s.in_progress,
        s.waiting,
        s.done,
        s.failed,
        if rows.len() < s.total {
            format!(" ({} shown)", rows.len())
        } else {
            String::new()
        }
    ));
    Ok(EXIT_OK)
}

fn note(row: &TaskRow) -> String {
    let why = row
        .last_failure
        .as_deref()
        .map(|w| format!(": {w}"))
        .unwrap_or_default();
    let base = if row.ready {
        "ready".to_string()
    } else if row.status == Status::Pending && !row.waiting_for.is_empty() {
        format!("waits for {}", row.waiting_for.join(", "))
    } else if row.status == Status::Failed && row.attempts > 0 {
        return format!("failed after {} attempts{why}", row.attempts);
    } else if row.status == Status::Failed {
        return format!("failed{why}");
    } else {
        String::new()
    };
    if row.attempts > 0 && row.status != Status::Completed && row.status != Status::Reviewed {
        let sep = if base.is_empty() { "" } else { "; " };
        return format!("{base}{sep}{} failed attempt(s), last{why}", row.attempts);
    }
    base
}

fn table(ui: &Ui, rows: &[TaskRow], deps: Option<&HashMap<&str, &TaskRow>>) -> Vec<String> {
    let id_w = rows
        .iter()
        .map(|r| r.id.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let agent_w = rows
        .iter()
        .map(|r| r.agent.as_deref().unwrap_or("-").chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = vec![ui.bold_out(&format!(
        "{:id_w$}  {:11}  {:agent_w$}  {:>4}  NOTE",
        "TASK", "STATUS", "AGENT", "PROG"
    ))];
    for r in rows {
        let status = ui.status_out(r.status, r.status.as_str());
        let agent = r.agent.as_deref().unwrap_or("-");
        let line = format!(
            "{}  {}  {:agent_w$}  {:>4}  {}",
            ui::pad(&r.id, r.id.chars().count(), id_w),
            ui::pad(&status, r.status.as_str().len(), 11),
            agent,
            ui::percent(r.progress),
            note(r)
        );
        out.push(line.trim_end().to_string());
        if let Some(all) = deps {
            for b in &r.blocked_by {
                let Some(br) = all.get(b.as_str()) else {
                    continue;
                };
                let who = br
                    .agent
                    .as_deref()
                    .map(|a| format!(", {a}"))
                    .unwrap_or_default();
                let prog = br.progress.map(|p| format!(", {p}%")).unwrap_or_default();
                let mark = if br.status.is_done() {
                    "done"
                } else {
                    "waiting"
                };
                out.push(format!(
                    "    {} {b} ({}{who}{prog}) {}",
                    ui.dim_out("<-"),
                    ui.status_out(br.status, br.status.as_str()),
                    ui.dim_out(mark)
                ));
            }
        }
    }
    out
}

/// Groups ids by their '/'-separated prefixes, in plan order.
fn structure(ui: &Ui, rows: &[TaskRow]) -> Vec<String> {
    #[derive(Default)]
    struct Node {
        children: Vec<(String, Node)>,
        task: Option<usize>,
        done: usize,
        total: usize,
    }
    fn insert(node: &mut Node, parts: &[&str], row: usize, done: bool) {
        node.total += 1;
        node.done += usize::from(done);
        let Some((first, rest)) = parts.split_first() else {
            node.task = Some(row);
            return;
        };
        let pos = match node.children.iter().position(|(n, _)| n == first) {
            Some(p) => p,
            None => {
                node.children.push((first.to_string(), Node::default()));
                node.children.len() - 1
            }
        };
        insert(&mut node.children[pos].1, rest, row, done);
    }
    fn render(ui: &Ui, rows: &[TaskRow], node: &Node, depth: usize, out: &mut Vec<String>) {
        for (name, child) in &node.children {
            let indent = "  ".repeat(depth);
            if let (Some(i), true) = (child.task, child.children.is_empty()) {
                let r = &rows[i];
                let extra = match (r.agent.as_deref(), note(r)) {
                    (Some(a), n) => format!("  {a} {n}"),
                    (None, n) => format!("  {n}"),
                };
                out.push(format!(
                    "{indent}{name}  {}{}",
                    ui.status_out(r.status, r.status.as_str()),
                    extra.trim_end()
                ));
            } else {
                out.push(format!(
                    "{indent}{}  {}",
                    ui.bold_out(&format!("{name}/")),
                    ui.verdict_out(
                        child.done == child.total,
                        &format!("{}/{} done", child.done, child.total)
                    )
                ));
                render(ui, rows, child, depth + 1, out);
            }
        }
    }
    let mut root = Node::default();
    for (i, r) in rows.iter().enumerate() {
        let parts: Vec<&str> = r.id.split('/').collect();
        insert(&mut root, &parts, i, r.status.is_done());
    }
    let mut out = Vec::new();
    render(ui, rows, &root, 0, &mut out);
    out
}
