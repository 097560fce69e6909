//! Live progress of the demo on stderr: one line per claim and finished task, and on a
//! terminal a progress bar redrawn below them.

use crate::events::Event;
use crate::plan::Status;
use crate::workspace::Workspace;
use anyhow::Result;
use std::io::{IsTerminal, Read, Seek, SeekFrom, Write};

/// The progress display.
pub struct Progress<'w> {
    ws: &'w Workspace,
    color: bool,
    tty: bool,
    offset: u64,
    bar_shown: bool,
    last_bar: String,
}

impl<'w> Progress<'w> {
    /// Starts watching `ws`.
    pub fn new(ws: &'w Workspace, color: bool) -> Progress<'w> {
        Progress {
            ws,
            color,
            tty: std::io::stderr().is_terminal(),
            offset: 0,
            bar_shown: false,
            last_bar: String::new(),
        }
    }

    /// Prints what happened since the last tick and redraws the bar.
    pub fn tick(&mut self) -> Result<()> {
        self.update(false)
    }

    fn update(&mut self, force: bool) -> Result<()> {
        let events = self.new_events()?;
        if events.is_empty() && !force && !self.last_bar.is_empty() {
            return Ok(());
        }
        let (plan, _) = self.ws.snapshot()?;
        let mut err = std::io::stderr().lock();
        if self.bar_shown {
            write!(err, "\r\x1b[K")?;
        }
        for e in events {
            let who = e.agent.as_deref().unwrap_or("?");
            let task = e.task.as_deref().unwrap_or("");
            let line = match (e.event.as_str(), e.to.as_deref()) {
                ("claim", _) => format!("  {who:<22} claimed   {task}"),
                // With an integration branch, finishing is landing: said with its commit.
                ("status", Some("completed")) if plan.integration.is_some() => continue,
                ("status", Some("completed")) => {
                    format!("  {who:<22} {} {task}", self.paint("32", "finished "))
                }
                ("land", _) => {
                    let at = e
                        .detail
                        .as_deref()
                        .and_then(|d| d.rsplit(' ').next())
                        .map(|c| format!(" at {}", &c[..c.len().min(9)]))
                        .unwrap_or_default();
                    format!("  {who:<22} {} {task}{at}", self.paint("32", "landed   "))
                }
                ("verify-failed", _) => format!(
                    "  {who:<22} {} {task} ({})",
                    self.paint("31", "verify ✗ "),
                    e.detail
                        .as_deref()
                        .unwrap_or("")
                        .split("; log:")
                        .next()
                        .unwrap_or("")
                ),
                ("release", _) | ("recover", _) => {
                    format!("  {who:<22} {} {task}", self.paint("33", "released "))
                }
                _ => continue,
            };
            writeln!(err, "{line}")?;
        }
        let done = plan.tasks.iter().filter(|t| t.status.is_done()).count();
        let working = plan
            .tasks
            .iter()
            .filter(|t| t.status == Status::InProgress)
            .count();
        let total = plan.tasks.len().max(1);
        let width = 24;
        let filled = done * width / total;
        let bar = format!(
            "  [{}{}] {done}/{total} done, {working} in progress",
            "#".repeat(filled),
            ".".repeat(width - filled)
        );
        if self.tty {
            write!(err, "{bar}")?;
            self.bar_shown = true;
        }
        err.flush()?;
        self.last_bar = bar;
        Ok(())
    }

    /// Ends the display (leaves the last bar on its own line).
    pub fn finish(&mut self) -> Result<()> {
        self.update(true)?;
        let mut err = std::io::stderr().lock();
        if self.tty {
            writeln!(err)?;
            self.bar_shown = false;
        } else {
            writeln!(err, "{}", self.last_bar)?;
        }
        Ok(())
    }

    fn new_events(&mut self) -> Result<Vec<Event>> {
        let Ok(mut f) = std::fs::File::open(self.ws.events_path()) else {
            return Ok(Vec::new());
        };
        f.seek(SeekFrom::Start(self.offset))?;
        let mut text = String::new();
        f.read_to_string(&mut text)?;
        // Only whole lines: a writer may be half way through one.
        let end = text.rfind('\n').map(|i| i + 1).unwrap_or(0);
        self.offset += end as u64;
        Ok(text[..end]
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}
