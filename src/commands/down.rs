//! `harbor-lab down`: stop Harbor, take this lab's entries out of the Docker
//! daemon config, optionally purge. It takes the flags `up` took, so an `up`
//! line can be retyped; `--workdir`, `--daemon-config` and
//! `--no-daemon-reload` count.

use crate::cli::DownArgs;
use crate::context::Context;
use crate::error::UserError;
use crate::lab::down::{self, DownOptions};
use crate::ui::Reporter;
use crate::workdir::Workdir;

pub async fn command(ctx: &Context, ui: &Reporter, args: &DownArgs) -> super::Done {
    let install = &args.up.install;
    if install.dry_run {
        return Err(UserError::usage(
            "down has no --dry-run: `harbor-lab status` shows what a down would undo",
        )
        .into());
    }
    let opts = DownOptions {
        workdir: Workdir::from_flag(ctx, install.workdir.workdir.as_deref()),
        purge: args.purge,
        daemon_reload: !install.daemon.no_daemon_reload,
        daemon_config: install
            .daemon
            .daemon_config
            .as_deref()
            .map(|p| ctx.resolve(p)),
    };
    Ok(Box::new(down::down(ctx, ui, &opts).await?))
}
