//! `swarm watch`: a dashboard of the plan, the agents, the join points and the latest events,
//! redrawn every few seconds.

use super::{Ctx, EXIT_OK};
use crate::cli::WatchArgs;
use crate::events::{self, Event};
use crate::ops::{join, list};
use crate::plan::{Plan, Status};
use crate::registry::model::parse_time;
use crate::registry::{AgentEntry, Registry};
use crate::ui::ago;
use crate::ui::{self, Ui};
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::io::{IsTerminal, Write};
use std::time::Duration;

/// How many recent events the dashboard shows.
const RECENT: usize = 8;

pub fn exec(ctx: &Ctx, args: &WatchArgs) -> Result<u8> {
    if !(args.interval.is_finite() && args.interval >= 0.2) {
        return Err(crate::error::usage(format!(
            "invalid --interval {}: expected a number of seconds >= 0.2",
            args.interval
        )));
    }
    let ws = ctx.workspace()?;
    let tty = std::io::stdout().is_terminal();
    loop {
        let (plan, registry) = ws.snapshot()?;
        let recent = events::tail(&ws.events_path(), RECENT)?;
        let now = Utc::now();
        let repo = crate::git::open(&ws.main_root).ok();
        let mut lines = dashboard(
            &ctx.ui,
            &ws.project,
            &plan,
            &registry,
            &recent,
            now,
            repo.as_ref(),
        );
        // Predicted conflicts between live branches (what `swarm conflicts` says), on a plan
        // with an integration branch.
        let integrated = ws.integration_branch(&plan).is_some();
        if let Some(report) = integrated
            .then(|| crate::ops::conflicts::check(&ws).ok())
            .flatten()
        {
            if !report.conflicts.is_empty() {
                lines.push(String::new());
                for line in super::conflicts::lines(&report) {
                    lines.push(format!("conflict  {line}"));
                }
            }
        }
        let finished = plan
            .tasks
            .iter()
            .all(|t| t.status.is_done() || t.status == Status::Failed);
        let mut out = std::io::stdout().lock();
        let drawn = (|| -> std::io::Result<()> {
            if tty && !args.once {
                // Home and clear, then draw: the dashboard replaces itself like `watch(1)`.
                write!(out, "\x1b[H\x1b[2J")?;
            }
            for l in &lines {
                writeln!(out, "{l}")?;
            }
            if !tty && !args.once {
                writeln!(out)?;
            }
            out.flush()
        })();
        match drawn {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(EXIT_OK),
            Err(e) => return Err(e.into()),
        }
        drop(out);
        if args.once || (args.exit_when_done && finished) {
            return Ok(EXIT_OK);
        }
        std::thread::sleep(Duration::from_secs_f64(args.interval));
    }
}

/// The dashboard's lines: header, progress bar, agents, join points, recent events.
pub(crate) fn dashboard(
    ui: &Ui,
    project: &str,
    plan: &Plan,
    registry: &Registry,
    recent: &[Event],
    now: DateTime<Utc>,
    repo: Option<&git2::Repository>,
) -> Vec<String> {
    let ready = list::readiness(plan, registry);
    let s = list::summary(plan, &ready);
    let mut out = vec![ui.bold_out(&format!(
        "swarm · {project} · {} tasks · {}",
        s.total,
        now.format("%Y-%m-%d %H:%M:%S UTC")
    ))];
    let width = 30;
    let filled = (s.done * width).checked_div(s.total).unwrap_or(width);
    let spent = match plan.tasks.iter().any(|t| !t.runs.is_empty()) {
        true => {
            let turns: u64 = plan.tasks.iter().filter_map(|t| t.spend().1).sum();
            format!(" · ${:.2}, {turns} turns spent", plan.spent_usd())
        }
        false => String::new(),
    };
    out.push(format!(
        "[{}{}] {}/{} done · {} in progress · {} ready · {} waiting · {} failed{spent}",
        "#".repeat(filled),
        ".".repeat(width - filled),
        s.done,
        s.total,
        s.in_progress,
        s.ready,
        s.waiting,
        s.failed
    ));

    // Agents: the live ones, with what they hold.
    out.push(String::new());
    let live: Vec<(&String, &AgentEntry)> = registry
        .agents
        .iter()
        .filter(|(_, a)| !a.is_retired())
        .collect();
    if live.is_empty() {
        out.push(ui.dim_out("no live agents (swarm launch starts one)"));
    } else {
        let name_w = live
            .iter()
            .map(|(id, _)| id.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let rows: Vec<(String, String, String, String)> = live
            .iter()
            .map(|(id, a)| {
                let held = registry.held_by(id);
                let task = match held.as_slice() {
                    [] => "-".to_string(),
                    [one] => one.to_string(),
                    [one, rest @ ..] => format!("{one} (+{})", rest.len()),
                };
                let progress = held
                    .first()
                    .and_then(|t| plan.find(t))
                    .map_or("-".to_string(), |i| ui::percent(plan.tasks[i].progress));
                let seen = a
                    .last_seen()
                    .map_or("-".to_string(), |t| format!("{} ago", ago(now, t)));
                (id.to_string(), task, progress, seen)
            })
            .collect();
        let task_w = rows.iter().map(|r| r.1.len()).max().unwrap_or(4).max(4);
        out.push(ui.bold_out(&format!(
            "{:name_w$}  {:task_w$}  {:>8}  LAST SEEN",
            "AGENT", "TASK", "PROGRESS"
        )));
        for (name, task, progress, seen) in rows {
            out.push(format!(
                "{name:name_w$}  {task:task_w$}  {progress:>8}  {seen}"
            ));
        }
        // Agents waiting for a person, with what they asked and for how long; stalled ones.
        for (id, a) in &live {
            let stalled = crate::ops::activity::stalled_minutes(
                repo,
                a,
                now,
                crate::ops::activity::STALLED_AFTER,
            );
            if let Some(m) = stalled {
                out.push(ui.bold_out(&format!(
                    "! {id} looks stalled: no heartbeat and no new commit for {m} minutes"
                )));
            }
            if let Some(n) = &a.needs_input {
                let since = crate::registry::model::parse_time(&n.since)
                    .map(|t| ago(now, t))
                    .unwrap_or_default();
                out.push(ui.bold_out(&format!("! {id} waits for you ({since}): {}", n.message)));
            }
        }
    }

    // Join points.
    if !plan.join_points.is_empty() {
        out.push(String::new());
        let name_w = plan
            .join_points
            .iter()
            .map(|p| p.name.len())
            .max()
            .unwrap_or(0);
        let schedule = join::schedule(plan, registry, live.len());
        for p in &plan.join_points {
            let r = join::report(plan, registry, p, &schedule);
            let verdict = if r.ready { "Ready" } else { "Not Ready" };
            let eta = match r.eta() {
                e if e.is_empty() => e,
                e => format!(", {e}"),
            };
            out.push(format!(
                "join {:name_w$}  {}  {}/{} done{eta}",
                r.point,
                ui.verdict_out(r.ready, verdict),
                r.done,
                r.total
            ));
        }
    }

    // The latest events, oldest first.
    if !recent.is_empty() {
        out.push(String::new());
        for e in recent {
            out.push(ui.dim_out(&event_line(e, now)));
        }
    }
    out
}

fn event_line(e: &Event, now: DateTime<Utc>) -> String {
    let when =
        parse_time(&e.time).map_or_else(|| e.time.clone(), |t| format!("{:>3} ago", ago(now, t)));
    let who = e.agent.as_deref().unwrap_or("");
    let what = match (e.from.as_deref(), e.to.as_deref()) {
        (Some(f), Some(t)) => format!("{} {f} -> {t}", e.event),
        (None, Some(t)) => format!("{} -> {t}", e.event),
        _ => e.event.clone(),
    };
    let detail = e.detail.as_deref().map(|d| format!("({d})"));
    let rest = [Some(who.to_string()), Some(what), e.task.clone(), detail]
        .into_iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    format!("{when}  {rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ago_picks_the_largest_unit() {
        let t = parse_time("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(ago(t + chrono::Duration::seconds(4), t), "4s");
        assert_eq!(ago(t + chrono::Duration::seconds(125), t), "2m");
        assert_eq!(ago(t + chrono::Duration::hours(3), t), "3h");
        assert_eq!(ago(t + chrono::Duration::days(2), t), "2d");
        assert_eq!(ago(t, t + chrono::Duration::seconds(9)), "0s");
    }
}
