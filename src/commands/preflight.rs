//! `harbor-lab preflight`: every machine check, with its fix.

use crate::cli::PreflightArgs;
use crate::context::Context;
use crate::error::{Exit, UserError};
use crate::lab::preflight::{self, PreflightReport};
use crate::ui::Reporter;
use crate::ui::render::{Report, to_json};

pub async fn command(ctx: &Context, ui: &Reporter, args: &PreflightArgs) -> super::Done {
    let opts = super::options::preflight(ctx, args)?;
    let client = crate::http::client(crate::http::Profile::Transfer)?;
    Ok(Box::new(
        preflight::run(ctx, ui, &client, &opts, true).await,
    ))
}

impl Report for PreflightReport {
    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
    fn exit(&self) -> Result<Exit, UserError> {
        if self.ok {
            Ok(Exit::Ok)
        } else {
            Err(preflight::failed())
        }
    }
}
