//! `harbor-lab up`: the plan (from the same step lists that run), one
//! confirmation, then install -> keys -> demo (lab::up).

use crate::cli::UpArgs;
use crate::context::Context;
use crate::lab::{install, up};
use crate::ui::{Reporter, prompt};

pub async fn command(ctx: &Context, ui: &Reporter, args: &UpArgs) -> super::Done {
    let mut opts = super::options::install(ctx, &args.install)?;
    let story = super::options::story(&args.story);
    // `up --explain` shows the manual commands of the install steps too.
    opts.explain = story.explain;
    let plan = up::plan(&opts, &story);
    ui.line("harbor-lab up will:");
    for (i, p) in plan.iter().enumerate() {
        ui.line(&format!("  {}. {p}", i + 1));
    }
    if opts.dry_run {
        let install = install::install(ctx, ui, &opts).await?;
        return Ok(Box::new(up::UpPlan {
            dry_run: true,
            plan,
            install,
        }));
    }
    if !prompt::confirm(ui, "Proceed?", "pass --yes to run the plan without asking")? {
        return Ok(Box::new(up::UpDeclined {
            cancelled: true,
            plan,
        }));
    }
    // One confirmation for the whole plan.
    ui.assume_yes();
    Ok(Box::new(up::up(ctx, ui, &opts, &story).await?))
}
