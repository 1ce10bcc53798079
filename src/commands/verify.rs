//! `harbor-lab verify`: cosign's human lines on stderr, the verified payloads
//! on stdout (as each image is verified, like cosign), and cosign's exit codes.

use std::collections::BTreeMap;

use anyhow::Context as _;
use futures_util::StreamExt;
use serde::Serialize;

use crate::cli::{OutputFormat, VerifyArgs};
use crate::context::Context;
use crate::cosign::bundle::BundleClaims;
use crate::cosign::keys;
use crate::cosign::payload::{SimpleSigning, go_json};
use crate::cosign::verify::{Verdict, verify_image_with};
use crate::error::{Exit, UserError};
use crate::exit::ExitCoded;
use crate::registry::Reference;
use crate::ui::Reporter;
use crate::ui::render::{Report, to_json};

/// One image's result in `verify --json`.
#[derive(Debug, Serialize)]
struct Verified {
    image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<String>,
    verified: bool,
    /// The formats of the accepted signatures (`bundle`, `legacy`).
    #[serde(skip_serializing_if = "Option::is_none")]
    formats: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payloads: Option<Vec<SimpleSigning>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bundles: Option<Vec<BundleClaims>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejections: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
struct VerifyReport {
    ok: bool,
    images: Vec<Verified>,
    #[serde(skip)]
    exit: Exit,
}

impl Report for VerifyReport {
    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
    fn exit(&self) -> Result<Exit, UserError> {
        Ok(self.exit)
    }
}

pub async fn run(ctx: &Context, ui: &Reporter, args: &VerifyArgs) -> super::Done {
    let images = Reference::parse_unique(&args.images)?;
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
        .map(|image| verify_image_with(&client, &key, image, &required, args.format.into()))
        .buffered(args.jobs as usize)
        .collect()
        .await;
    let mut report = VerifyReport {
        ok: true,
        images: Vec::new(),
        exit: Exit::Ok,
    };
    for (image, verdict) in images.iter().zip(verdicts) {
        let (exit, entry) = judge(ui, args, image, &required, verdict);
        if report.exit.is_ok() {
            report.exit = exit;
        }
        report.images.push(entry);
    }
    report.ok = report.exit.is_ok();
    Ok(Box::new(report))
}

/// One image's verdict: its lines (as cosign prints them), exit code and entry.
fn judge(
    ui: &Reporter,
    args: &VerifyArgs,
    image: &Reference,
    required: &BTreeMap<String, String>,
    verdict: Result<Verdict, crate::registry::RegistryError>,
) -> (Exit, Verified) {
    let entry = |digest: Option<String>, reason: Option<&str>| Verified {
        image: image.to_string(),
        digest,
        verified: reason.is_none(),
        formats: None,
        payloads: None,
        bundles: None,
        reason: reason.map(str::to_string),
        rejections: None,
    };
    match verdict {
        Ok(Verdict::Verified {
            digest,
            payloads,
            raw,
            bundles,
        }) => {
            let lines = crate::cosign::verify::header_lines_for(
                image,
                !required.is_empty(),
                !bundles.is_empty(),
            );
            for l in lines {
                ui.line(&l);
            }
            if !ui.json {
                // cosign 3 prints a verified bundle as a claims object naming the
                // image as given; legacy payloads follow as cosign 2 prints them.
                let reference = image.to_string();
                let claims: Vec<serde_json::Value> = bundles
                    .iter()
                    .map(|b| b.cosign_output(&reference))
                    .collect();
                ui.stdout(&match args.output {
                    OutputFormat::Json => {
                        let mut list = claims;
                        list.extend(payloads.iter().filter_map(|p| serde_json::to_value(p).ok()));
                        format!("\n{}\n", go_json(&list))
                    }
                    OutputFormat::Text => claims
                        .iter()
                        .map(|c| format!("{}\n", go_json(c)))
                        .chain(
                            raw.iter()
                                .map(|p| format!("{}\n", String::from_utf8_lossy(p))),
                        )
                        .collect(),
                });
            }
            let formats = [
                (!bundles.is_empty(), "bundle"),
                (!payloads.is_empty(), "legacy"),
            ]
            .into_iter()
            .filter_map(|(has, f)| has.then_some(f))
            .collect();
            let mut e = entry(Some(digest), None);
            e.formats = Some(formats);
            e.payloads = Some(payloads);
            e.bundles = Some(bundles);
            (Exit::Ok, e)
        }
        Ok(Verdict::NoSignatures { digest }) => {
            ui.error(&format!("{image}: no signatures found"));
            let reason = Some("no signatures found");
            (Exit::NoSignatures, entry(Some(digest), reason))
        }
        Ok(Verdict::NoValidSignature { digest, reasons }) => {
            ui.error(&format!(
                "{image}: no matching signatures:\n  {}",
                reasons.join("\n  ")
            ));
            let mut e = entry(Some(digest), Some("no matching signatures"));
            e.rejections = Some(reasons);
            (Exit::NoValidSignature, e)
        }
        Ok(Verdict::ImageNotFound) => {
            ui.error(&format!("{image}: image not found (no such tag or digest)"));
            (Exit::ImageNotFound, entry(None, Some("image not found")))
        }
        Err(e) => {
            ui.error(&format!("{image}: {e}"));
            (e.exit(), entry(None, Some(&e.to_string())))
        }
    }
}
