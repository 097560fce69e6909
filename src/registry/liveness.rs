//! Is an agent still alive? By its process on this host, else by its lease.

use super::model::AgentEntry;
use chrono::{DateTime, Duration, Timelike, Utc};

/// The verdict on one agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// Still working.
    Alive,
    /// Gone, with the reason people will read.
    Dead(String),
}

/// This machine's host name, as recorded in the registry.
pub fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}

/// When process `pid` started (clock ticks since boot), or `None` when there is no such process
/// or the platform cannot tell.
pub fn process_start(pid: u32) -> Option<u64> {
    use std::io::Read;
    // The line is a few hundred bytes: one read, where `read_to_string` would grow its buffer
    // from 32 bytes a read at a time (/proc gives no size).
    let mut file = std::fs::File::open(format!("/proc/{pid}/stat")).ok()?;
    let mut buf = [0u8; 4096];
    let mut len = 0;
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    // The command name (field 2) may hold spaces, parentheses or any byte: skip past its
    // last ')'.
    let stat = &buf[..len];
    let rest = std::str::from_utf8(&stat[stat.iter().rposition(|&c| c == b')')? + 1..]).ok()?;
    // After the name: state is field 3, starttime is field 22.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether process information can be read on this platform.
fn can_see_processes() -> bool {
    std::path::Path::new("/proc/self/stat").exists()
}

/// Judges `agent`: on this host with a pid, by that process (and its start time, against pid
/// reuse); otherwise by whether its newest sign of life is within `lease`. `claimed_at` is the
/// newest claim time, which counts as a sign of life for entries written by the old scripts.
pub fn judge(
    agent: &AgentEntry,
    claimed_at: Option<DateTime<Utc>>,
    host: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Liveness {
    if let Some(pid) = agent.pid {
        if agent.host.as_deref() == Some(host) && can_see_processes() {
            return match (process_start(pid), agent.pid_start) {
                (None, _) => Liveness::Dead(format!("process {pid} is gone")),
                (Some(now_start), Some(recorded)) if now_start != recorded => Liveness::Dead(
                    format!("process {pid} is gone (its pid now belongs to another process)"),
                ),
                _ => Liveness::Alive,
            };
        }
    }
    let seen = agent.last_seen().into_iter().chain(claimed_at).max();
    // Times are recorded to the second; compare at the same granularity.
    let now = now.with_nanosecond(0).unwrap_or(now);
    match seen {
        Some(t) if now - t <= lease => Liveness::Alive,
        Some(t) => Liveness::Dead(format!(
            "no sign of life for {} (lease {})",
            human_duration(now - t),
            human_duration(lease)
        )),
        None => Liveness::Dead("no sign of life recorded".to_string()),
    }
}

/// "2h 5m", "45s": short durations for messages.
pub fn human_duration(d: Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(heartbeat: &str) -> AgentEntry {
        AgentEntry {
            heartbeat: Some(heartbeat.into()),
            ..Default::default()
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn process_start_reads_field_22_of_proc_stat() {
        let me = std::process::id();
        let stat = std::fs::read_to_string(format!("/proc/{me}/stat")).unwrap();
        let want: u64 = stat[stat.rfind(')').unwrap() + 1..]
            .split_whitespace()
            .nth(19)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(process_start(me), Some(want));
        assert!(want > 0);
        assert_eq!(process_start(u32::MAX), None);
    }

    #[test]
    fn lease_decides_for_agents_without_pid() {
        let now = super::super::model::parse_time("2026-01-01T12:00:00Z").unwrap();
        let lease = Duration::minutes(30);
        assert_eq!(
            judge(&agent("2026-01-01T11:45:00Z"), None, "h", now, lease),
            Liveness::Alive
        );
        assert!(matches!(
            judge(&agent("2026-01-01T11:00:00Z"), None, "h", now, lease),
            Liveness::Dead(_)
        ));
        // An old-script entry: no heartbeat, judged by its claim time.
        let old = AgentEntry::default();
        assert_eq!(judge(&old, Some(now), "h", now, lease), Liveness::Alive);
    }

    #[test]
    fn own_process_is_alive_and_a_missing_one_is_dead() {
        let host = host_name();
        let me = std::process::id();
        let alive = AgentEntry {
            pid: Some(me),
            pid_start: process_start(me),
            host: Some(host.clone()),
            ..Default::default()
        };
        let now = Utc::now();
        assert_eq!(
            judge(&alive, None, &host, now, Duration::minutes(1)),
            Liveness::Alive
        );
        if can_see_processes() {
            let reused = AgentEntry {
                pid_start: Some(1),
                ..alive.clone()
            };
            assert!(matches!(
                judge(&reused, None, &host, now, Duration::minutes(1)),
                Liveness::Dead(_)
            ));
            let gone = AgentEntry {
                pid: Some(u32::MAX - 1),
                ..alive
            };
            assert!(matches!(
                judge(&gone, None, &host, now, Duration::minutes(1)),
                Liveness::Dead(_)
            ));
        }
    }
}
