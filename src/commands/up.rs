//! `harbor-lab up`: the plan (from the same step lists that run), one
//! confirmation, then install -> keys -> demo (lab::up).

use crate::cli::UpArgs;
use crate::context::Context;
use crate::lab::{install, up};
use crate::ui::Reporter;

pub async fn command(ctx: &Context, ui: &Reporter, args: &UpArgs) -> super::Done {
    let mut opts = super::options::install(ctx, &args.install)?;
    let story = super::options::story(&args.story);
    // `up --explain` shows the manual commands of the install steps too.
    opts.explain = story.explain;
    let plan = up::plan(&opts, &story);
    if let Some(declined) = super::confirm_plan(ui, "up", &plan, opts.dry_run)? {
        return Ok(Box::new(declined));
    }
    if opts.dry_run {
        let install = install::install(ctx, ui, &opts).await?;
        return Ok(Box::new(up::UpPlan {
            dry_run: true,
            plan,
            install,
        }));
    }
    Ok(Box::new(up::up(ctx, ui, &opts, &story).await?))
}
