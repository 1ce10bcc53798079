//! `harbor-lab verify`: cosign's human lines on stderr, the verified payloads
//! on stdout (as each image is verified, like cosign), and cosign's exit codes.
//! With `--tuf`, freshness first (`lab::freshness`): one refresh of the TUF
//! metadata for every image, then each tag must point where TUF pins it.

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
use crate::lab::freshness::refresh_pins;
use crate::registry::Reference;
use crate::registry::cas::ContentStore;
use crate::registry::hints::Hints;
use crate::tuf::tags::{Freshness, verify_fresh};
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
    /// With --tuf: the tag points where TUF pins it.
    #[serde(skip_serializing_if = "Option::is_none")]
    fresh: Option<bool>,
}

/// With --tuf: where the metadata came from and the trusted targets version.
#[derive(Debug, Serialize)]
struct TufSummary {
    url: String,
    targets_version: u64,
}

#[derive(Debug, Serialize)]
struct VerifyReport {
    ok: bool,
    images: Vec<Verified>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tuf: Option<TufSummary>,
    /// With --tuf: why the metadata itself was refused (rollback, freeze, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    tuf_error: Option<String>,
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
    let store = ContentStore::new(ctx.content_dir(), ctx.now());
    let client =
        std::sync::Arc::new(super::registry_client(ctx, &args.registry)?.with_content_store(store));
    let required: BTreeMap<String, String> = args.annotations.iter().cloned().collect();
    client.plan(&images, false);
    let hints = Hints::new(ctx.registry_hints_dir(), ctx.now());
    hints.seed(&client, images.iter().map(|i| i.registry.as_str()));
    let mut report = VerifyReport {
        ok: true,
        images: Vec::new(),
        tuf: None,
        tuf_error: None,
        exit: Exit::Ok,
    };
    let pins = match &args.tuf {
        None => None,
        Some(root) => {
            let url = args.tuf_url.as_deref();
            match refresh_pins(ctx, root, url, client.clone(), &images, None).await {
                Ok(p) => Some(p),
                Err(e) => return Ok(Box::new(tuf_refused(ui, report, &images, &e))),
            }
        }
    };
    // In order, each judged as soon as it and those before it are done, so
    // memory stays with the --jobs in flight, however many images there are.
    let accept = args.format.into();
    let mut verdicts = futures_util::stream::iter(images.iter().enumerate())
        .map(|(i, image)| {
            let (client, key, required, pins) = (&client, &key, &required, &pins);
            async move {
                let verdict = match pins {
                    None => verify_image_with(client, key, image, required, accept)
                        .await
                        .map(|v| (None, Some(v))),
                    Some(p) => {
                        let target = p.targets[i].as_ref();
                        verify_fresh(client, key, image, target, p.version, required, accept)
                            .await
                            .map(|(f, v)| (Some(f), v))
                    }
                };
                (image, verdict)
            }
        })
        .buffered(args.jobs as usize);
    while let Some((image, verdict)) = verdicts.next().await {
        let (exit, entry) = match verdict {
            Ok((Some(f), None)) => stale(ui, image, &f),
            Ok((fresh, Some(v))) => {
                if let Some(Freshness::Fresh { digest }) = &fresh {
                    ui.status("Fresh", &format!("{image} is where TUF pins it ({digest})"));
                }
                let (exit, mut entry) = judge(ui, args, image, &required, Ok(v));
                entry.fresh = fresh.map(|_| true);
                (exit, entry)
            }
            Ok((None, None)) => judge(ui, args, image, &required, Ok(Verdict::ImageNotFound)),
            Err(e) => judge(ui, args, image, &required, Err(e)),
        };
        if report.exit.is_ok() {
            report.exit = exit;
        }
        report.images.push(entry);
    }
    drop(verdicts);
    hints.save(&client);
    report.ok = report.exit.is_ok();
    report.tuf = pins.map(|p| TufSummary {
        url: p.url,
        targets_version: p.version,
    });
    Ok(Box::new(report))
}

/// A tag TUF does not vouch for: not pinned (13), moved (14), or gone.
fn stale(ui: &Reporter, image: &Reference, f: &Freshness) -> (Exit, Verified) {
    let reason = f.message(image);
    ui.error(&reason);
    let exit = match f {
        Freshness::NotPinned => Exit::NotPinned,
        Freshness::TagMoved { .. } => Exit::TagMoved,
        Freshness::ImageNotFound => Exit::ImageNotFound,
        Freshness::Fresh { .. } => Exit::Ok,
    };
    let digest = match f {
        Freshness::TagMoved { registry, .. } => Some(registry.clone()),
        _ => None,
    };
    let entry = Verified {
        image: image.to_string(),
        digest,
        verified: false,
        formats: None,
        payloads: None,
        bundles: None,
        reason: Some(reason),
        rejections: None,
        fresh: Some(false),
    };
    (exit, entry)
}

/// The TUF metadata itself was refused (rollback, freeze, invalid): no image
/// can be judged fresh, and each is reported so.
fn tuf_refused(
    ui: &Reporter,
    mut report: VerifyReport,
    images: &[Reference],
    e: &anyhow::Error,
) -> VerifyReport {
    let reason = format!("{e:#}");
    ui.error(&reason);
    report.exit = crate::exit::classify(e);
    report.ok = false;
    report.images = images
        .iter()
        .map(|i| Verified {
            image: i.to_string(),
            digest: None,
            verified: false,
            formats: None,
            payloads: None,
            bundles: None,
            reason: Some(reason.clone()),
            rejections: None,
            fresh: Some(false),
        })
        .collect();
    report.tuf_error = Some(reason);
    report
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
        fresh: None,
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
