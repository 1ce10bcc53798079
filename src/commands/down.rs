//! `harbor-lab down`: stop Harbor, restore the Docker daemon config, optionally purge.

use crate::cli::DownArgs;
use crate::context::Context;
use crate::lab::down::{self, DownOptions};
use crate::ui::Reporter;
use crate::workdir::Workdir;

pub async fn command(ctx: &Context, ui: &Reporter, args: &DownArgs) -> super::Done {
    let opts = DownOptions {
        workdir: Workdir::from_flag(ctx, args.workdir.workdir.as_deref()),
        purge: args.purge,
        daemon_reload: !args.no_daemon_reload,
    };
    Ok(Box::new(down::down(ctx, ui, &opts).await?))
}
