//! `harbor-lab sign`: decrypt the key once, then sign every image concurrently.

use std::collections::BTreeMap;

use futures_util::StreamExt;

use crate::cli::SignArgs;
use crate::context::Context;
use crate::cosign::sign::{Signed, sign_image};
use crate::error::Exit;
use crate::exit::ExitCoded;
use crate::registry::Reference;
use crate::ui::Reporter;

pub async fn run(ctx: &Context, ui: &Reporter, args: &SignArgs) -> anyhow::Result<Exit> {
    let images = parse_images(&args.images)?;
    let key = crate::lab::keys::load_signing_key(
        ctx,
        ui,
        &ctx.resolve(&args.key),
        args.password.password_file.as_deref(),
    )?;
    let client = super::registry_client(ctx, &args.registry)?;
    let annotations: BTreeMap<String, String> = args.annotations.iter().cloned().collect();

    let results: Vec<_> = futures_util::stream::iter(images.iter())
        .map(|image| {
            let (client, key, annotations) = (&client, &key, &annotations);
            async move { sign_image(client, key, image, annotations).await }
        })
        .buffered(args.jobs as usize)
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
                if exit == Exit::Ok {
                    exit = e.exit();
                }
            }
        }
    }
    if ui.json {
        ui.json_out(&serde_json::json!({ "signed": signed, "ok": exit == Exit::Ok }));
    }
    Ok(exit)
}

/// Parse and de-duplicate image references, failing on the first bad one.
pub fn parse_images(inputs: &[String]) -> anyhow::Result<Vec<Reference>> {
    let mut out: Vec<Reference> = Vec::with_capacity(inputs.len());
    for s in inputs {
        let r = Reference::parse(s)?;
        if !out.contains(&r) {
            out.push(r);
        }
    }
    Ok(out)
}
