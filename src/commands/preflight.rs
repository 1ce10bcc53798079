//! `harbor-lab preflight`: every machine check, with its fix.

use crate::cli::PreflightArgs;
use crate::context::Context;
use crate::error::{Exit, UserError};
use crate::lab::preflight::{self, PreflightReport};
use crate::ui::Reporter;
use crate::ui::render::{Report, to_json};

pub async fn command(ctx: &Context, ui: &Reporter, args: &PreflightArgs) -> super::Done {
    let opts = super::options::preflight(ctx, args)?;
    // --tls: a given pair is checked here too (the lab's is only planned).
    let ca = match &opts.tls {
        Some(t) => crate::lab::install::tls::prepare(ctx, t, &opts.workdir, &opts.host.host)?
            .ca
            .map(|c| c.1),
        None => None,
    };
    let client = crate::http::client_trusting(crate::http::Profile::Transfer, ca.as_deref())?;
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
