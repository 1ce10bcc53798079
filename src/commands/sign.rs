//! `harbor-lab sign`: decrypt the key once, then sign every image concurrently.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::cli::SignArgs;
use crate::context::Context;
use crate::cosign::sign::{SignOptions, Signed, sign};
use crate::error::{Exit, UserError};
use crate::exit::ExitCoded;
use crate::registry::Reference;
use crate::ui::Reporter;
use crate::ui::render::{Report, to_json};

/// What `sign --json` prints.
#[derive(Debug, Serialize)]
struct SignReport {
    signed: Vec<Signed>,
    ok: bool,
    #[serde(skip)]
    exit: Exit,
}

impl Report for SignReport {
    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
    fn exit(&self) -> Result<Exit, UserError> {
        Ok(self.exit)
    }
}

pub async fn run(ctx: &Context, ui: &Reporter, args: &SignArgs) -> super::Done {
    let images = Reference::parse_unique(&args.images)?;
    let key = crate::lab::keys::load_signing_key(
        ctx,
        ui,
        &ctx.resolve(&args.key),
        args.password.password_file.as_deref(),
    )?;
    let client = super::registry_client(ctx, &args.registry)?;
    let annotations: BTreeMap<String, String> = args.annotations.iter().cloned().collect();
    let opts = SignOptions {
        format: args.format.into(),
        annotations,
        created: humantime::format_rfc3339_seconds(ctx.now()).to_string(),
        slots: Some(Arc::new(Semaphore::new(args.jobs as usize))),
        lock_dir: Some(ctx.locks_dir()),
    };
    client.plan(&images, true);

    let results: Vec<_> = futures_util::stream::iter(images.iter())
        .map(|image| {
            let (client, key, opts) = (&client, &key, &opts);
            async move { sign(client, key, image, None, opts).await }
        })
        // Every image is under way; `opts.slots` keeps --jobs of them at the registry.
        .buffered(images.len().max(1))
        .collect()
        .await;

    let mut exit = Exit::Ok;
    let mut signed: Vec<Signed> = Vec::new();
    for (image, result) in images.iter().zip(results) {
        match result {
            Ok(s) => {
                if s.added {
                    ui.line(&format!("Pushing signature to: {}", image.name()));
                } else {
                    ui.line(&format!(
                        "{} is already signed by this key with the same claims; nothing to add",
                        s.image
                    ));
                }
                signed.push(s);
            }
            Err(e) => {
                ui.error(&format!("signing {image}: {e}"));
                if exit.is_ok() {
                    exit = e.exit();
                }
            }
        }
    }
    Ok(Box::new(SignReport {
        signed,
        ok: exit.is_ok(),
        exit,
    }))
}
