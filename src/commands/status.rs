//! `harbor-lab status`: each install step, done / pending / drifted.

use crate::cli::StatusArgs;
use crate::context::Context;
use crate::workdir::Workdir;

pub async fn command(ctx: &Context, args: &StatusArgs) -> super::Done {
    let wd = Workdir::from_flag(ctx, args.workdir.workdir.as_deref());
    let client = crate::http::client(crate::http::Profile::Transfer)?;
    Ok(Box::new(
        crate::lab::status::status(&wd, &client, ctx.now()).await?,
    ))
}
