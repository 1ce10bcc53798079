//! `harbor-lab install`: the plan and one confirmation (as `up`), the install
//! steps (lab::install), then a one-line summary.

use crate::cli::InstallCommandArgs;
use crate::context::Context;
use crate::lab::install::{self, InstallReport};
use crate::ui::Reporter;
use crate::ui::render::{Report, to_json};

pub async fn command(ctx: &Context, ui: &Reporter, args: &InstallCommandArgs) -> super::Done {
    let mut opts = super::options::install(ctx, &args.install)?;
    opts.explain = args.explain;
    // The plan and one question up front, as `up` asks; nothing asks mid-run.
    let plan = install::plan(&opts);
    if let Some(declined) = super::confirm_plan(ui, "install", &plan, opts.dry_run)? {
        return Ok(Box::new(declined));
    }
    Ok(Box::new(install::install(ctx, ui, &opts).await?))
}

impl Report for InstallReport {
    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
    fn human(&self, ui: &Reporter) {
        if !self.dry_run {
            ui.result_line(&format!(
                "Harbor is healthy at {} (admin password: {})",
                self.harbor_url,
                self.admin_password_file.display()
            ));
            if let Some(ca) = &self.ca_certificate {
                ui.result_line(&format!("CA certificate:  {}", ca.display()));
            }
        }
    }
}
