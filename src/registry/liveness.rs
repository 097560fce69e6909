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

/// The fields of `/proc/<pid>/stat` after the command name, from field 3 (the state) on, or
/// `None` when there is no such process or the platform cannot tell.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces, parentheses or any byte: skip past its
    // last ')'.
    let rest = std::str::from_utf8(&stat[stat.iter().rposition(|&c| c == b')')? + 1..]).ok()?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// When process `pid` started (clock ticks since boot), or `None` when there is no such process
/// or the platform cannot tell.
pub fn process_start(pid: u32) -> Option<u64> {
    // Field 22.
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// The exit status of process `pid` when it has exited but its parent has not collected it yet
/// (a zombie), from the kernel's own record (Linux); 128 + the signal when a signal ended it,
/// as shells say.
pub fn zombie_exit_status(pid: u32) -> Option<i32> {
    let fields = stat_fields(pid)?;
    if fields.first().map(String::as_str) != Some("Z") {
        return None;
    }
    // Field 52, as waitpid(2) reports it: the signal in the low 7 bits, else the status in
    // the second byte.
    let code: i32 = fields.get(49)?.parse().ok()?;
    Some(match code & 0x7f {
        0 => (code >> 8) & 0xff,
        signal => 128 + signal,
    })
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
    if let Some(verdict) = by_process(agent, host) {
        return verdict;
    }
    // A time ahead of now (more than a clock's drift) is not a sign of life: one of 2099 would
    // keep a claim until then.
    let believable = |t: &DateTime<Utc>| *t <= now + Duration::minutes(FUTURE_SLACK_MINUTES);
    let seen = agent
        .last_seen_all()
        .into_iter()
        .chain(claimed_at)
        .filter(believable)
        .max();
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

/// The verdict of the agent's own process, when it has one on this host that can be checked;
/// `None` when only its lease can tell.
pub fn by_process(agent: &AgentEntry, host: &str) -> Option<Liveness> {
    let pid = agent.pid?;
    if agent.host.as_deref() != Some(host) || !can_see_processes() {
        return None;
    }
    match (process_start(pid), agent.pid_start) {
        (None, _) => Some(Liveness::Dead(format!("process {pid} is gone"))),
        (Some(now_start), Some(recorded)) if now_start != recorded => Some(Liveness::Dead(
            format!("process {pid} is gone (its pid now belongs to another process)"),
        )),
        (Some(_), Some(_)) => Some(Liveness::Alive),
        // A pid without its start time proves nothing (pid 1 always runs): the lease decides.
        (Some(_), None) => None,
    }
}

/// How far ahead of now a recorded time may be (clocks of hosts drift) before it is ignored.
pub const FUTURE_SLACK_MINUTES: i64 = 5;

/// The times recorded for `agent` that lie further ahead of `now` than clocks drift, for a
/// warning (they are ignored when judging it).
pub fn future_times(agent: &AgentEntry, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    agent
        .last_seen_all()
        .into_iter()
        .filter(|t| *t > now + Duration::minutes(FUTURE_SLACK_MINUTES))
        .collect()
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

    #[cfg(target_os = "linux")]
    #[test]
    fn a_zombie_s_exit_status_is_read_from_the_kernel() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "exit 7"])
            .spawn()
            .unwrap();
        let pid = child.id();
        let start = std::time::Instant::now();
        let mut status = None;
        while status.is_none() && start.elapsed() < std::time::Duration::from_secs(10) {
            status = zombie_exit_status(pid);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(status, Some(7));
        assert_eq!(child.wait().unwrap().code(), Some(7));
        let mut killed = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        killed.kill().unwrap();
        let start = std::time::Instant::now();
        let mut status = None;
        while status.is_none() && start.elapsed() < std::time::Duration::from_secs(10) {
            status = zombie_exit_status(killed.id());
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(status, Some(128 + 9), "SIGKILL");
        killed.wait().unwrap();
        assert_eq!(
            zombie_exit_status(pid),
            None,
            "collected: no zombie any more"
        );
        assert_eq!(zombie_exit_status(std::process::id()), None, "running");
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
