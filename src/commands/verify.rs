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
use crate::tuf::tags::Freshness;
use crate::ui::Reporter;

pub async fn run(ctx: &Context, ui: &Reporter, args: &VerifyArgs) -> anyhow::Result<Exit> {
    let images = super::sign::parse_images(&args.images)?;
    let key_path = ctx.resolve(&args.key);
    let pem = std::fs::read(&key_path).map_err(|e| {
        UserError::usage(format!("--key {}: cannot read it: {e}", key_path.display()))
    })?;
    let key =
        keys::parse_public_key(&pem).with_context(|| format!("--key {}", key_path.display()))?;
    let client = std::sync::Arc::new(super::registry_client(ctx, &args.registry)?);
    let required: BTreeMap<String, String> = args.annotations.iter().cloned().collect();
    let pins = match &args.tuf {
        None => None,
        Some(root) => {
            match crate::lab::freshness::refresh_pins(
                ctx,
                root,
                args.tuf_url.as_deref(),
                client.clone(),
                &images,
                None,
            )
            .await
            {
                Ok(p) => Some(p),
                Err(e) => return Ok(tuf_refused(ui, &images, &e)),
            }
        }
    };

    let verdicts: Vec<_> = futures_util::stream::iter(images.iter().enumerate())
        .map(|(i, image)| {
            let (client, key, required, pins) = (&client, &key, &required, &pins);
            async move {
                match pins {
                    None => verify_image(client, key, image, required)
                        .await
                        .map(|v| (None, Some(v))),
                    Some(p) => crate::tuf::tags::verify_fresh(
                        client,
                        key,
                        image,
                        p.targets[i].as_ref(),
                        p.version,
                        required,
                    )
                    .await
                    .map(|(f, v)| (Some(f), v)),
                }
            }
        })
        .buffered(args.jobs as usize)
        .collect()
        .await;

    let mut exit = Exit::Ok;
    let mut report = Vec::new();
    for (image, verdict) in images.iter().zip(verdicts) {
        let (freshness, verdict) = match verdict {
            Ok((f, v)) => (f, Ok(v)),
            Err(e) => (None, Err(e)),
        };
        let (code, entry) = match verdict {
            Ok(None) => {
                let f = freshness.unwrap_or(Freshness::NotPinned);
                let msg = f.message(image);
                ui.error(&msg);
                (
                    freshness_exit(&f),
                    serde_json::json!({"image": image.to_string(), "verified": false, "fresh": false, "reason": msg}),
                )
            }
            Ok(Some(Verdict::Verified {
                digest,
                payloads,
                raw,
            })) => {
                if let Some(Freshness::Fresh { digest }) = &freshness {
                    ui.status("Fresh", &format!("{image} is where TUF pins it ({digest})"));
                }
                print_success(ui, args, image, &required, &payloads, &raw);
                (
                    Exit::Ok,
                    serde_json::json!({"image": image.to_string(), "digest": digest, "verified": true, "payloads": payloads}),
                )
            }
            Ok(Some(Verdict::NoSignatures { digest })) => {
                ui.error(&format!("{image}: no signatures found"));
                (
                    Exit::NoSignatures,
                    serde_json::json!({"image": image.to_string(), "digest": digest, "verified": false, "reason": "no signatures found"}),
                )
            }
            Ok(Some(Verdict::NoValidSignature { digest, reasons })) => {
                ui.error(&format!(
                    "{image}: no matching signatures:\n  {}",
                    reasons.join("\n  ")
                ));
                (
                    Exit::NoValidSignature,
                    serde_json::json!({"image": image.to_string(), "digest": digest, "verified": false, "reason": "no matching signatures", "rejections": reasons}),
                )
            }
            Ok(Some(Verdict::ImageNotFound)) => {
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
        let mut doc = serde_json::json!({ "ok": exit == Exit::Ok, "images": report });
        if let Some(p) = &pins {
            doc["tuf"] = serde_json::json!({"url": p.url, "targets_version": p.version});
        }
        ui.json_out(&doc);
    }
    Ok(exit)
}

fn freshness_exit(f: &Freshness) -> Exit {
    match f {
        Freshness::NotPinned => Exit::NotPinned,
        Freshness::TagMoved { .. } => Exit::TagMoved,
        Freshness::ImageNotFound => Exit::ImageNotFound,
        Freshness::Fresh { .. } => Exit::Ok,
    }
}

/// The TUF metadata itself was refused (rollback, freeze, invalid): no image
/// can be judged fresh.
fn tuf_refused(ui: &Reporter, images: &[crate::registry::Reference], e: &anyhow::Error) -> Exit {
    ui.error(&format!("{e:#}"));
    if ui.json {
        let report: Vec<_> = images
            .iter()
            .map(|i| serde_json::json!({"image": i.to_string(), "verified": false, "fresh": false, "reason": format!("{e:#}")}))
            .collect();
        ui.json_out(
            &serde_json::json!({ "ok": false, "images": report, "tuf_error": format!("{e:#}") }),
        );
    }
    crate::exit::classify(e)
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
