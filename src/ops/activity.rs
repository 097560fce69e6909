//! Whether a live agent is stalled: no heartbeat and no new commit on its branch for a while.
//! An agent waiting for a person (needs input) or for a task is not stalled.

use crate::registry::model::AgentEntry;
use chrono::{DateTime, Duration, TimeZone, Utc};

/// How long without a sign of life makes an agent stalled, by default.
pub const STALLED_AFTER: Duration = Duration::minutes(15);

/// The agent's last sign of work: its heartbeat, its start, the newest commit on its branch.
pub fn last_activity(repo: Option<&git2::Repository>, entry: &AgentEntry) -> Option<DateTime<Utc>> {
    let commit = repo.zip(entry.branch.as_deref()).and_then(|(r, b)| {
        let tip = crate::git::branch_tip(r, b)?;
        let when = r.find_commit(tip).ok()?.time().seconds();
        Utc.timestamp_opt(when, 0).single()
    });
    entry.last_seen().into_iter().chain(commit).max()
}

/// Minutes since `entry` last showed a sign of work, when that is more than `after` and it is
/// not waiting (for a person, or for a task to become ready).
pub fn stalled_minutes(
    repo: Option<&git2::Repository>,
    entry: &AgentEntry,
    now: DateTime<Utc>,
    after: Duration,
) -> Option<i64> {
    if entry.is_retired()
        || entry.needs_input.is_some()
        || entry.state.as_deref() == Some("waiting")
    {
        return None;
    }
    let idle = now - last_activity(repo, entry)?;
    (idle > after).then(|| idle.num_minutes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_is_stalled_only_after_a_quiet_while_and_not_while_it_waits() {
        let now = Utc::now();
        let at = |mins: i64| crate::registry::model::format_time(now - Duration::minutes(mins));
        let entry = AgentEntry {
            heartbeat: Some(at(20)),
            start_time: Some(at(60)),
            state: Some("alive".into()),
            ..AgentEntry::default()
        };
        assert_eq!(stalled_minutes(None, &entry, now, STALLED_AFTER), Some(20));
        let fresh = AgentEntry {
            heartbeat: Some(at(2)),
            ..entry.clone()
        };
        assert_eq!(stalled_minutes(None, &fresh, now, STALLED_AFTER), None);
        let asking = AgentEntry {
            needs_input: Some(crate::registry::model::NeedsInput {
                kind: "permission_prompt".into(),
                message: "m".into(),
                since: at(20),
            }),
            ..entry.clone()
        };
        assert_eq!(stalled_minutes(None, &asking, now, STALLED_AFTER), None);
    }
}
