//! events.jsonl: one JSON object per line for every claim, release, status change, recovery.

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// One transition.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    /// When (RFC 3339, UTC).
    pub time: String,
    /// What: `register`, `claim`, `release`, `status`, `recover`, `orphan`, `drop-claim`.
    pub event: String,
    /// The agent concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The task concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// Status before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Status after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Why, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Appends events to the log in one write, durably (never through a link).
pub fn append(path: &Path, events: &[Event]) -> anyhow::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut buf = Vec::new();
    for e in events {
        serde_json::to_writer(&mut buf, e).map_err(io::Error::other)?;
        buf.push(b'\n');
    }
    let mut file = crate::coord::append(path)?;
    file.write_all(&buf)?;
    Ok(file.sync_data()?)
}

/// Reads every event in the log (lines that do not parse are skipped: the log is advisory).
pub fn read(path: &Path) -> io::Result<Vec<Event>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// The last `n` events of the log, oldest first; reads only the end of a long log.
pub fn tail(path: &Path, n: usize) -> io::Result<Vec<Event>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    // Events are a few hundred bytes; 1 KiB each is plenty.
    let window = (n as u64).saturating_mul(1024).max(4096);
    let start = len.saturating_sub(window);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    // Skip a line cut by the window's start.
    let whole = match start {
        0 => &text[..],
        _ => text.split_once('\n').map_or("", |(_, rest)| rest),
    };
    let mut events: Vec<Event> = whole
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let skip = events.len().saturating_sub(n);
    events.drain(..skip);
    Ok(events)
}
