//! `swarm plan validate`.

use super::{Ctx, EXIT_OK};
use crate::cli::PlanCommand;
use crate::plan::Plan;
use anyhow::Result;

pub fn exec(ctx: &Ctx, cmd: PlanCommand) -> Result<u8> {
    match cmd {
        PlanCommand::Validate { file } => {
            let path = match file {
                Some(f) => f,
                None => ctx.workspace()?.plan_path(),
            };
            let plan = Plan::load(&path)?;
            let edges: usize = plan.tasks.iter().map(|t| t.blocked_by.len()).sum();
            ctx.ui.note(&format!(
                "{}: valid: {} tasks, {} dependencies, {} join points, {} pre-assigned agents",
                path.display(),
                plan.tasks.len(),
                edges,
                plan.join_points.len(),
                plan.agents.len()
            ));
            Ok(EXIT_OK)
        }
    }
}
