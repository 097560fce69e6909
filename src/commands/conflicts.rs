//! `swarm conflicts`: predicted merge conflicts between live branches.

use super::{Ctx, EXIT_OK};
use crate::cli::ConflictsArgs;
use crate::git::conflicts::Side;
use crate::ops::conflicts;
use anyhow::Result;
use serde::Serialize;

/// One branch in `--json`.
#[derive(Debug, Serialize)]
struct SideJson<'a> {
    agent: Option<&'a str>,
    branch: &'a str,
    commit: String,
}

impl<'a> From<&'a Side> for SideJson<'a> {
    fn from(s: &'a Side) -> Self {
        SideJson {
            agent: s.agent.as_deref(),
            branch: &s.branch,
            commit: s.commit.to_string(),
        }
    }
}

/// One conflicting pair in `--json`.
#[derive(Debug, Serialize)]
struct ConflictJson<'a> {
    a: SideJson<'a>,
    b: SideJson<'a>,
    files: &'a [String],
}

/// `conflicts --json`.
#[derive(Debug, Serialize)]
struct ReportJson<'a> {
    branches: Vec<SideJson<'a>>,
    conflicts: Vec<ConflictJson<'a>>,
}

pub fn exec(ctx: &Ctx, args: &ConflictsArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    let report = conflicts::check(&ws)?;
    if args.json {
        crate::output::json(&ReportJson {
            branches: report.sides.iter().map(SideJson::from).collect(),
            conflicts: report
                .conflicts
                .iter()
                .map(|c| ConflictJson {
                    a: (&c.a).into(),
                    b: (&c.b).into(),
                    files: &c.files,
                })
                .collect(),
        })?;
        return Ok(EXIT_OK);
    }
    let lines = lines(&report);
    crate::output::lines(lines)?;
    Ok(EXIT_OK)
}

/// For people: one line per conflicting pair, or that there is none.
pub fn lines(report: &conflicts::Report) -> Vec<String> {
    let name = |s: &Side| match &s.agent {
        Some(a) => format!("{a} ({})", s.branch),
        None => s.branch.clone(),
    };
    if report.conflicts.is_empty() {
        return vec![format!(
            "no conflicts among {} branches",
            report.sides.len()
        )];
    }
    report
        .conflicts
        .iter()
        .map(|c| format!("{} <> {}: {}", name(&c.a), name(&c.b), c.files.join(", ")))
        .collect()
}
