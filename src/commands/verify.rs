//! `harbor-lab verify`: cosign's human lines on stderr, the verified payloads
//! on stdout, and cosign's exit codes.

use std::collections::BTreeMap;

use anyhow::Context as _;
use futures_util::StreamExt;

use crate::cli::{OutputFormat, VerifyArgs};
use crate::context::Context;
use crate::cosign::keys;
use crate::cosign::verify::{Verdict, verify_image};
use crate::error::{Exit, UserError};
use crate::exit::ExitCoded;
use crate::ui::Reporter;

pub async fn run(ctx: &Context, ui: &Reporter, args: &VerifyArgs) -> anyhow::Result<Exit> {
    let images = super::sign::parse_images(&args.images)?;
    let key_path = ctx.resolve(&args.key);
    let pem =
        crate::fsutil::read_limited(&key_path, crate::fsutil::SMALL_FILE_MAX).map_err(|e| {
            UserError::usage(format!("--key {}: cannot read it: {e}", key_path.display()))
        })?;
    let key =
        keys::parse_public_key(&pem).with_context(|| format!("--key {}", key_path.display()))?;
    let client = super::registry_client(ctx, &args.registry)?;
    let required: BTreeMap<String, String> = args.annotations.iter().cloned().collect();

    let verdicts: Vec<_> = futures_util::stream::iter(images.iter())
        .map(|image| {
            let (client, key, required) = (&client, &key, &required);
            async move { verify_image(client, key, image, required).await }
        })
        .buffered(args.jobs as usize)
        .collect()
        .await;

    let mut exit = Exit::Ok;
    let mut report = Vec::new();
    for (image, verdict) in images.iter().zip(verdicts) {
        let (code, entry) = match verdict {
            Ok(Verdict::Verified {
                digest,
                payloads,
                raw,
            }) => {
                print_success(ui, args, image, &required, &payloads, &raw);
                (
                    Exit::Ok,
                    serde_json::json!({"image": image.to_string(), "digest": digest, "verified": true, "payloads": payloads}),
                )
            }
            Ok(Verdict::NoSignatures { digest }) => {
                ui.error(&format!("{image}: no signatures found"));
                (
                    Exit::NoSignatures,
                    serde_json::json!({"image": image.to_string(), "digest": digest, "verified": false, "reason": "no signatures found"}),
                )
            }
            Ok(Verdict::NoValidSignature { digest, reasons }) => {
                ui.error(&format!(
                    "{image}: no matching signatures:\n  {}",
                    reasons.join("\n  ")
                ));
                (
                    Exit::NoValidSignature,
                    serde_json::json!({"image": image.to_string(), "digest": digest, "verified": false, "reason": "no matching signatures", "rejections": reasons}),
                )
            }
            Ok(Verdict::ImageNotFound) => {
                ui.error(&format!("{image}: image not found (no such tag or digest)"));
                (
                    Exit::ImageNotFound,
                    serde_json::json!({"image": image.to_string(), "verified": false, "reason": "image not found"}),
                )
            }
            Err(e) => {
                ui.error(&format!("{image}: {e}"));
                (
                    e.exit(),
                    serde_json::json!({"image": image.to_string(), "verified": false, "reason": e.to_string()}),
                )
            }
        };
        if exit == Exit::Ok {
            exit = code;
        }
        report.push(entry);
    }
    if ui.json {
        ui.json_out(&serde_json::json!({ "ok": exit == Exit::Ok, "images": report }));
    }
    Ok(exit)
}

fn print_success(
    ui: &Reporter,
    args: &VerifyArgs,
    image: &crate::registry::Reference,
    required: &BTreeMap<String, String>,
    payloads: &[crate::cosign::payload::SimpleSigning],
    raw: &[Vec<u8>],
) {
    print_header(ui, image, required);
    if ui.json {
        return;
    }
    match args.output {
        OutputFormat::Json => {
            let list = crate::cosign::payload::go_json(&payloads);
            ui.stdout(&format!("\n{list}\n"));
        }
        OutputFormat::Text => {
            for p in raw {
                ui.stdout(&format!("{}\n", String::from_utf8_lossy(p)));
            }
        }
    }
}

/// cosign's verification header, on stderr.
pub fn print_header(
    ui: &Reporter,
    image: &crate::registry::Reference,
    required: &BTreeMap<String, String>,
) {
    ui.line("");
    ui.line(&format!("Verification for {image} --"));
    ui.line("The following checks were performed on each of these signatures:");
    if !required.is_empty() {
        ui.line("  - The specified annotations were verified.");
    }
    ui.line("  - The cosign claims were validated");
    ui.line("  - The signatures were verified against the specified public key");
}
