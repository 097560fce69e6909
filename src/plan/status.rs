//! Task status values and the fields that rank tasks (priority, estimate, progress).

use serde::{de, Deserialize, Deserializer, Serialize};
use std::fmt;

/// Where a task is in its life: the values status.json allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Not started; ready when unclaimed and every blocker is done.
    #[default]
    Pending,
    /// Claimed by an agent and being worked on.
    InProgress,
    /// Finished by its agent.
    Completed,
    /// Finished and accepted by a person (`swarm complete`).
    Reviewed,
    /// Given up after too many attempts.
    Failed,
}

impl Status {
    /// Every status, in the order people read them.
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::InProgress,
        Status::Completed,
        Status::Reviewed,
        Status::Failed,
    ];

    /// The spelling used in status.json.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::InProgress => "in-progress",
            Status::Completed => "completed",
            Status::Reviewed => "reviewed",
            Status::Failed => "failed",
        }
    }

    /// Whether tasks blocked by a task in this status may start.
    pub fn is_done(self) -> bool {
        matches!(self, Status::Completed | Status::Reviewed)
    }

    /// Parses the status.json spelling.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Scheduling priority: smaller ranks go first (`high` = 1, `medium` = 2, `low` = 3; integers
/// as written, like P1/P2). Absent means medium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Priority(pub i64);

impl Priority {
    /// The named priorities: `high` = 1, `medium` = 2, `low` = 3.
    pub fn named(name: &str) -> Option<Priority> {
        match name {
            "high" => Some(Priority(1)),
            "medium" => Some(Priority(2)),
            "low" => Some(Priority(3)),
            _ => None,
        }
    }
}

impl Default for Priority {
    fn default() -> Self {
        Priority(2)
    }
}

impl<'de> Deserialize<'de> for Priority {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Name(String),
        }
        let expected = "\"high\", \"medium\", \"low\" or an integer (1 = most urgent)";
        match Raw::deserialize(d)
            .map_err(|_| de::Error::custom(format!("invalid priority: expected {expected}")))?
        {
            Raw::Int(n) => Ok(Priority(n)),
            Raw::Name(s) => Priority::named(&s).ok_or_else(|| {
                de::Error::custom(format!("invalid priority {s:?}: expected {expected}"))
            }),
        }
    }
}

/// A work estimate in hours, written as `90m`, `2h`, `1.5h`, `1d` (8 hours), `1h30m` or a number
/// of hours.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Estimate(pub f64);

impl Estimate {
    /// Parses the textual forms; `None` when the text is not a duration.
    pub fn parse(text: &str) -> Option<Estimate> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let mut hours = 0.0;
        let mut number = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let unit = match c {
                'm' => 1.0 / 60.0,
                'h' => 1.0,
                'd' => 8.0,
                'w' => 40.0,
                _ => return None,
            };
            let value: f64 = number.parse().ok()?;
            hours += value * unit;
            number.clear();
        }
        if !number.is_empty() {
            // A bare number means hours; a trailing number after units ("1h30") does not parse.
            if hours > 0.0 {
                return None;
            }
            hours = number.parse().ok()?;
        }
        (hours.is_finite() && hours >= 0.0).then_some(Estimate(hours))
    }
}

impl<'de> Deserialize<'de> for Estimate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Hours(f64),
            Text(String),
        }
        let bad = |shown: String| {
            de::Error::custom(format!(
                "invalid estimate {shown}: expected a duration like \"90m\", \"2h\", \"1d\" or a number of hours"
            ))
        };
        match Raw::deserialize(d).map_err(|_| bad("value".into()))? {
            Raw::Hours(h) if h.is_finite() && h >= 0.0 => Ok(Estimate(h)),
            Raw::Hours(h) => Err(bad(h.to_string())),
            Raw::Text(t) => Estimate::parse(&t).ok_or_else(|| bad(format!("{t:?}"))),
        }
    }
}

/// Percent done, 0 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress(pub u8);

impl<'de> Deserialize<'de> for Progress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = f64::deserialize(d)?;
        if (0.0..=100.0).contains(&n) {
            Ok(Progress(n.round() as u8))
        } else {
            Err(de::Error::custom(format!(
                "invalid progress {n}: expected a percentage from 0 to 100"
            )))
        }
    }
}

/// A command to run (`verify`, `setup`): a line split into words like `--agent-cmd`, or an
/// array of words. Never run through a shell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandLine(pub Vec<String>);

impl CommandLine {
    /// The command as one line, for messages and records.
    pub fn shown(&self) -> String {
        self.0
            .iter()
            .map(|w| crate::agent::prompt::shell_word(w))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl<'de> Deserialize<'de> for CommandLine {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Line(String),
            Words(Vec<String>),
        }
        let expected = "expected a command: a string split into words like --agent-cmd, or an array of strings";
        let words = match Raw::deserialize(d).map_err(|_| de::Error::custom(expected))? {
            Raw::Line(line) => crate::agent::template::split(&line)
                .map_err(|e| de::Error::custom(format!("invalid command {line:?}: {e}")))?,
            Raw::Words(words) => words,
        };
        match words.first() {
            Some(program) if !program.is_empty() => Ok(CommandLine(words)),
            _ => Err(de::Error::custom(format!("empty command: {expected}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_parse_units_and_combinations() {
        assert_eq!(Estimate::parse("90m"), Some(Estimate(1.5)));
        assert_eq!(Estimate::parse("2h"), Some(Estimate(2.0)));
        assert_eq!(Estimate::parse("1d"), Some(Estimate(8.0)));
        assert_eq!(Estimate::parse("1h30m"), Some(Estimate(1.5)));
        assert_eq!(Estimate::parse("3"), Some(Estimate(3.0)));
        assert_eq!(Estimate::parse("2x"), None);
        assert_eq!(Estimate::parse("1h30"), None);
        assert_eq!(Estimate::parse(""), None);
    }

    #[test]
    fn status_round_trips_its_spelling() {
        for st in Status::ALL {
            assert_eq!(Status::parse(st.as_str()), Some(st));
        }
        assert_eq!(Status::parse("done"), None);
    }
}
