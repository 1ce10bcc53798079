//! The demo's steps. Each `apply` carries out one part of the story and says
//! what Harbor (or verification) showed; `Failed` when it was not what the
//! tutorial promises.

use std::collections::BTreeMap;

use anyhow::Context as _;
use bytes::Bytes;

use super::DemoRun;
use super::image::DemoImage;
use crate::cosign::sign::{Format as SignFormat, SignOptions, Subject};
use crate::cosign::verify::{Verdict, verify_image};
use crate::docker::engine::{self, PullPolicy};
use crate::error::UserError;
use crate::harbor::client::Created;
use crate::lab::options::StoryOptions;
use crate::lab::secrets;
use crate::lab::step::{Check, Outcome};
use crate::registry::{Client, Reference};
use crate::ui::Tone;

/// Steps that always run (their work is the showing).
pub(super) async fn always(_: &mut DemoRun<'_>) -> anyhow::Result<Check> {
    Ok(Check::needed("run"))
}

pub(super) fn plan_connect(story: &StoryOptions) -> String {
    format!(
        "log in to Harbor and make sure project {} exists",
        story.project
    )
}

pub(super) async fn check_connect(run: &mut DemoRun<'_>) -> anyhow::Result<Check> {
    run.harbor.check_login().await?;
    Ok(Check::needed("create the project if missing"))
}

pub(super) async fn apply_connect(run: &mut DemoRun<'_>) -> anyhow::Result<Outcome> {
    choose_format(run).await;
    let (url, project) = (&run.target.harbor_url, &run.story.project);
    Ok(Outcome::verdict(
        true,
        match run.harbor.create_project(project, false).await? {
            Created::New => format!("logged in to {url} and created project {project}"),
            Created::Exists => format!("logged in to {url}; project {project} exists"),
        },
    ))
}

/// The signature format: `--signature-format`, else what this Harbor version
/// counts as a cosign signature (bundles from v2.15, else the legacy `.sig`).
async fn choose_format(run: &mut DemoRun<'_>) {
    let version = run
        .harbor
        .harbor_version()
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let counts_bundles =
        crate::installer::versions::Version::parse(version.split('-').next().unwrap_or_default())
            .is_some_and(|v| v.counts_bundle_signatures());
    run.format = run.story.signature_format.unwrap_or(if counts_bundles {
        SignFormat::Bundle
    } else {
        SignFormat::Legacy
    });
    run.report.harbor_version = version;
    run.report.signature_format = run.format.as_str().to_string();
}

/// A manifest read that Harbor refused with 412 (a project that enforces
/// cosign signatures, an unsigned image, a client that is not cosign) reads
/// as "not readable".
fn unless_refused(
    read: Result<Option<crate::registry::Manifest>, crate::registry::RegistryError>,
) -> Result<Option<crate::registry::Manifest>, crate::registry::RegistryError> {
    match read {
        Err(e) if e.status() == Some(412) => Ok(None),
        other => other,
    }
}

pub(super) fn plan_push(story: &StoryOptions) -> String {
    format!(
        "push {} unsigned",
        match &story.image_file {
            Some(f) => format!("the image in {}", f.display()),
            None => story.image.clone(),
        }
    )
}

/// `--explain`: the tutorial's tag and push.
pub(super) fn explain_push(run: &DemoRun<'_>) -> Vec<String> {
    let image = &run.image.target;
    run.commands(&[
        format!("docker tag {} {image}", run.story.image),
        format!("docker push {image}"),
    ])
}

pub(super) async fn check_push(run: &mut DemoRun<'_>) -> anyhow::Result<Check> {
    let image = run.image.target.clone();
    let current = unless_refused(run.registry.get_manifest(&image).await)?;
    if let (Some(p), Some(m)) = (&run.previous, &current)
        && m.digest == p.digest
    {
        // The signed subject is the manifest as pushed (digest, media type
        // and byte length): signing needs no read of the unsigned image.
        run.subject = Some(Subject::from_manifest(m));
        run.report.digest = p.digest.clone();
        return Ok(Check::Done(format!(
            "{image} is already pushed ({})",
            p.digest
        )));
    }
    Ok(Check::needed(format!("push {image}")))
}

pub(super) async fn apply_push(run: &mut DemoRun<'_>) -> anyhow::Result<Outcome> {
    let image = run.image.target.clone();
    let docker = engine::connect(run.ctx).await?;
    prepare_local_image(run, &docker).await?;
    engine::tag(&docker, &run.image.local.docker_name(), &image).await?;
    let (pushed, size) = engine::push_manifest(&docker, run.ui, &image, run.creds.clone()).await?;
    match unless_refused(run.registry.get_manifest(&image).await)? {
        Some(m) if m.digest == pushed => run.subject = Some(Subject::from_manifest(&m)),
        Some(m) => {
            return Err(UserError::remote(format!(
                "the engine pushed {pushed} but the registry serves {} for {image}",
                m.digest
            ))
            .into());
        }
        None => {
            // The project enforces cosign signatures, so Harbor will not show us
            // the unsigned manifest: sign what we pushed (digest and size from
            // the engine, the media type as Harbor recorded it).
            let art = run
                .harbor
                .artifact(&run.story.project, run.image.name(), &pushed)
                .await?;
            let media_type = art
                .and_then(|a| a.manifest_media_type)
                .unwrap_or_else(|| crate::registry::DOCKER_MANIFEST.to_string());
            run.subject = size.map(|size| Subject {
                digest: pushed.clone(),
                media_type,
                size,
            });
        }
    }
    run.report.digest = pushed.clone();
    Ok(Outcome::verdict(true, format!("pushed {image} ({pushed})")))
}

pub(super) fn plan_show_unsigned(_: &StoryOptions) -> String {
    "show that Harbor reports it as not signed".into()
}

/// What Harbor says now, always read from its API. On a re-run the story's
/// "before" (what Harbor said before the first run signed the image) is the
/// earlier run's record, and the line says it is a replay.
pub(super) async fn apply_show_unsigned(run: &mut DemoRun<'_>) -> anyhow::Result<Outcome> {
    let digest = run.report.digest.clone();
    let art = run
        .harbor
        .artifact(&run.story.project, run.image.name(), &digest)
        .await?;
    let signed_now = art.as_ref().is_some_and(|a| a.cosign_signed());
    let said = |signed: bool| {
        if signed {
            "signed by cosign"
        } else {
            "not signed"
        }
    };
    let tone = if signed_now { Tone::Good } else { Tone::Bad };
    let detail = match &run.previous {
        Some(p) => {
            run.report.signed_before = p.signed_before;
            format!(
                "Harbor reports {} now: {} (replayed from the earlier run: before it signed, Harbor reported {})",
                run.image.target,
                said(signed_now),
                said(p.signed_before)
            )
        }
        None => {
            run.report.signed_before = signed_now;
            format!(
                "Harbor reports {}: {}",
                run.image.target,
                if signed_now {
                    "signed by cosign (before this demo)"
                } else {
                    "not signed"
                }
            )
        }
    };
    Ok(Outcome::verdict(true, detail).toned(tone))
}

pub(super) fn plan_sign(story: &StoryOptions) -> String {
    match story.signature_format {
        Some(SignFormat::Bundle) => "sign it with the lab key (a sigstore bundle, as cosign 3)".into(),
        Some(SignFormat::Legacy) => "sign it with the lab key (cosign 2's .sig layout)".into(),
        None => "sign it with the lab key (a sigstore bundle on Harbor v2.15+, else cosign 2's .sig layout)".into(),
    }
}

/// `--explain`: cosign's command for the format the demo signs in.
pub(super) fn explain_sign(run: &DemoRun<'_>) -> Vec<String> {
    let pinned = run.image.target.with_digest(&run.report.digest);
    let key = run.target.keys.private.display();
    run.commands(&[match run.format {
        SignFormat::Bundle => format!(
            "cosign sign --key {key} --tlog-upload=false --use-signing-config=false -y {pinned}   # cosign 3: a sigstore bundle"
        ),
        SignFormat::Legacy => {
            format!("cosign sign --key {key} --tlog-upload=false {pinned}   # cosign 2: the .sig image")
        }
    }])
}

/// Already signed by the lab key, in the format the demo signs in? Checked
/// with the public key, so the private key is opened (and its password
/// asked for) only when a signature must be written.
pub(super) async fn check_sign(run: &mut DemoRun<'_>) -> anyhow::Result<Check> {
    let digest = run.report.digest.clone();
    let pinned = run.image.target.with_digest(&digest);
    let vk = verifying_key(run)?;
    let found = verify_image(&run.registry, &vk, &pinned, &BTreeMap::new()).await;
    if let Ok(Verdict::Verified {
        payloads, bundles, ..
    }) = found
    {
        let in_format = match run.format {
            SignFormat::Legacy => !payloads.is_empty(),
            SignFormat::Bundle => !bundles.is_empty(),
        };
        if in_format {
            return Ok(Check::Done(format!(
                "{digest} is already signed by the lab key ({} format, verified with {}; the private key was not opened)",
                run.format.as_str(),
                run.target.keys.public.display()
            )));
        }
    }
    Ok(Check::needed(format!("sign {pinned}")))
}

pub(super) async fn apply_sign(run: &mut DemoRun<'_>) -> anyhow::Result<Outcome> {
    let digest = run.report.digest.clone();
    let pinned = run.image.target.with_digest(&digest);
    let signing_key = signing_key(run)?;
    let opts = SignOptions {
        format: run.format,
        annotations: BTreeMap::new(),
        created: humantime::format_rfc3339_seconds(run.ctx.now()).to_string(),
        slots: None,
        lock_dir: Some(run.ctx.locks_dir()),
    };
    let subject = run.subject.clone().filter(|s| s.digest == digest);
    let signed =
        crate::cosign::sign::sign(&run.registry, &signing_key, &pinned, subject, &opts).await?;
    Ok(Outcome::verdict(
        true,
        if signed.added {
            format!(
                "signed {digest} ({} format); signature at {}",
                run.format.as_str(),
                signed.signature
            )
        } else {
            format!("{digest} is already signed by the lab key")
        },
    ))
}

/// The lab key, opened with its password (given, kept, or prompted for).
pub(super) fn signing_key(run: &DemoRun<'_>) -> anyhow::Result<p256::ecdsa::SigningKey> {
    open_lab_key(run.ctx, run.ui, run.story, run.target)
}

/// [`signing_key`] from the run's parts (the freshness act opens the key
/// lazily, while the run is borrowed for its step reports).
pub(super) fn open_lab_key(
    ctx: &crate::context::Context,
    ui: &crate::ui::Reporter,
    story: &StoryOptions,
    target: &super::DemoTarget,
) -> anyhow::Result<p256::ecdsa::SigningKey> {
    let key = &target.keys.private;
    let password = match &target.key_password {
        Some(p) => p.clone(),
        None => secrets::lab_key_password(
            ctx,
            ui,
            story.password_file.as_deref(),
            &target.workdir.cosign_password_file(),
            key,
            false,
        )?,
    };
    let text = crate::fsutil::read_limited(key, crate::fsutil::SMALL_FILE_MAX)
        .map_err(|e| UserError::usage(format!("{}: {e}", key.display())))?;
    crate::cosign::keys::decrypt_private_key(&text, password.as_bytes())
        .with_context(|| key.display().to_string())
}

pub(super) fn plan_show_signed(_: &StoryOptions) -> String {
    "show that Harbor reports it as signed by cosign".into()
}

pub(super) async fn apply_show_signed(run: &mut DemoRun<'_>) -> anyhow::Result<Outcome> {
    let art = run
        .harbor
        .artifact(&run.story.project, run.image.name(), &run.report.digest)
        .await?;
    let signed = art.as_ref().is_some_and(|a| a.cosign_signed());
    run.report.signed_after = signed;
    let acc = art
        .and_then(|a| a.accessories)
        .unwrap_or_default()
        .into_iter()
        .map(|a| a.kind)
        .collect::<Vec<_>>()
        .join(", ");
    Ok(Outcome::verdict(
        signed,
        format!(
            "Harbor reports {}: {}",
            run.image.target,
            if signed {
                format!("signed by cosign (accessories: {acc})")
            } else {
                "still not signed".into()
            }
        ),
    )
    .toned(if signed { Tone::Good } else { Tone::Bad }))
}

pub(super) fn plan_verify(_: &StoryOptions) -> String {
    "verify it with the public key, as cosign verify does".into()
}

/// Verify with the public key file, as a learner would (not the private key).
pub(super) fn verifying_key(run: &DemoRun<'_>) -> anyhow::Result<p256::ecdsa::VerifyingKey> {
    let public = &run.target.keys.public;
    let pem = crate::fsutil::read_limited(public, crate::fsutil::SMALL_FILE_MAX)
        .map_err(|e| UserError::usage(format!("{}: {e}", public.display())))?;
    crate::cosign::keys::parse_public_key(&pem).with_context(|| public.display().to_string())
}

/// `--explain`: cosign's verify with the lab's public key.
pub(super) fn explain_verify(run: &DemoRun<'_>) -> Vec<String> {
    run.commands(&[format!(
        "cosign verify --key {} --insecure-ignore-tlog {}",
        run.target.keys.public.display(),
        run.image.target
    )])
}

pub(super) async fn apply_verify(run: &mut DemoRun<'_>) -> anyhow::Result<Outcome> {
    let (image, public) = (run.image.target.clone(), run.target.keys.public.clone());
    let vk = verifying_key(run)?;
    match verify_image(&run.registry, &vk, &image, &BTreeMap::new()).await? {
        Verdict::Verified {
            payloads, bundles, ..
        } => {
            for l in crate::cosign::verify::header_lines_for(&image, false, !bundles.is_empty()) {
                run.ui.line(&l);
            }
            if !run.ui.json {
                let mut list: Vec<serde_json::Value> = bundles
                    .iter()
                    .map(|b| b.cosign_output(&image.to_string()))
                    .collect();
                list.extend(payloads.iter().filter_map(|p| serde_json::to_value(p).ok()));
                run.ui
                    .line(&serde_json::to_string(&list).unwrap_or_default());
            }
            run.report.verified = true;
            Ok(
                Outcome::verdict(true, format!("{image} verifies with {}", public.display()))
                    .toned(Tone::Good),
            )
        }
        other => Ok(
            Outcome::verdict(false, format!("{image} does not verify: {other:?}")).toned(Tone::Bad),
        ),
    }
}

pub(super) fn plan_tamper(_: &StoryOptions) -> String {
    "push another image to the tag, show verification fail, restore it".into()
}

pub(super) async fn check_tamper(run: &mut DemoRun<'_>) -> anyhow::Result<Check> {
    match &run.previous {
        Some(p) if p.tamper_detected && !p.tampered_digest.is_empty() => {
            run.report.tamper_detected = true;
            run.report.tampered_digest = p.tampered_digest.clone();
            Ok(replayed(format!(
                "the tag pointed at {}, which has no signature, and verification failed",
                p.tampered_digest
            )))
        }
        _ => Ok(Check::needed("tamper")),
    }
}

/// `--explain`: what tampering looks like by hand (shown on a re-run too).
pub(super) fn explain_tamper(run: &DemoRun<'_>) -> Vec<String> {
    let (image, public) = (&run.image.target, &run.target.keys.public);
    run.commands(&[
        format!("docker push {image}   # a different image, same tag"),
        format!(
            "cosign verify --key {} --insecure-ignore-tlog {image}",
            public.display()
        ),
    ])
}

pub(super) async fn apply_tamper(run: &mut DemoRun<'_>) -> anyhow::Result<Outcome> {
    let image = run.image.target.clone();
    let vk = verifying_key(run)?;
    let (tampered, detail) = tamper(&run.registry, &vk, &image).await?;
    run.report.tamper_detected = tampered.is_some();
    run.report.tampered_digest = tampered.map(|t| t.digest).unwrap_or_default();
    // Detected tampering is a failed verification: red, as cosign shows it.
    Ok(Outcome::verdict(run.report.tamper_detected, detail).toned(Tone::Bad))
}

pub(super) fn plan_policy(story: &StoryOptions) -> String {
    format!(
        "turn on cosign enforcement in project {}: the unsigned pull is refused, the signed one pulls{}",
        story.project,
        if story.keep_policy {
            " (left on: --keep-policy)"
        } else {
            ""
        }
    )
}

pub(super) async fn check_policy(run: &mut DemoRun<'_>) -> anyhow::Result<Check> {
    match &run.previous {
        Some(p) if p.unsigned_pull_blocked && p.signed_pull_allowed => {
            run.report.unsigned_pull_blocked = true;
            run.report.signed_pull_allowed = true;
            run.report.policy_message = p.policy_message.clone();
            Ok(replayed(format!(
                "Harbor refused the unsigned pull ({:?}) and let the signed one through",
                p.policy_message
            )))
        }
        _ => Ok(Check::needed("policy")),
    }
}

/// `--explain`: the policy turned on with curl, and the two pulls (shown on
/// a re-run too).
pub(super) fn explain_policy(run: &DemoRun<'_>) -> Vec<String> {
    let image = &run.image.target;
    let unsigned = image.with_digest(&run.report.tampered_digest);
    run.commands(&[
        format!(
            "curl {} -X PUT -H 'Content-Type: application/json' -d '{{\"metadata\":{{\"enable_content_trust_cosign\":\"true\"}}}}' {}/api/v2.0/projects/{}",
            run.curl_user(),
            run.target.harbor_url,
            run.story.project
        ),
        format!("docker pull {unsigned}   # unsigned: refused"),
        format!("docker pull {image}   # signed: allowed"),
    ])
}

pub(super) async fn apply_policy(run: &mut DemoRun<'_>) -> anyhow::Result<Outcome> {
    let (story, image) = (run.story, run.image.target.clone());
    let unsigned = image.with_digest(&run.report.tampered_digest);
    let project = run
        .harbor
        .project(&story.project)
        .await?
        .ok_or_else(|| UserError::remote(format!("project {} disappeared", story.project)))?;
    let was = project.cosign_enforced();
    run.harbor
        .set_cosign_enforcement(&story.project, true)
        .await?;
    let result = async {
        let docker = engine::connect(run.ctx).await?;
        let blocked = engine::pull(&docker, run.ui, &unsigned, run.creds.clone())
            .await
            .err()
            .map(|e| e.to_string());
        let signed = engine::pull(&docker, run.ui, &image, run.creds.clone()).await;
        anyhow::Ok((blocked, signed))
    }
    .await;
    let left_on = was || story.keep_policy;
    if !left_on {
        run.harbor
            .set_cosign_enforcement(&story.project, false)
            .await?;
    }
    let (blocked, signed) = result?;
    report_pulls(run, blocked, signed.map_err(|e| e.to_string()));
    Ok(Outcome::verdict(
        run.report.unsigned_pull_blocked && run.report.signed_pull_allowed,
        format!(
            "cosign enforcement on project {} {}",
            story.project,
            if left_on {
                "left on"
            } else {
                "turned back off"
            }
        ),
    ))
}

/// The two pulls' verdicts, as sub-steps of the policy step.
fn report_pulls(run: &mut DemoRun<'_>, blocked: Option<String>, signed: Result<(), String>) {
    match blocked {
        Some(msg) if crate::installer::versions::is_cosign_policy_refusal(&msg) => {
            let quoted = msg.rsplit(": ").next().unwrap_or(&msg).trim().to_string();
            run.report.unsigned_pull_blocked = true;
            run.report.policy_message = quoted.clone();
            run.sub_step(
                "policy-unsigned",
                true,
                Tone::Bad,
                format!("Harbor refused the unsigned pull: {quoted:?}"),
            );
        }
        Some(other) => run.sub_step(
            "policy-unsigned",
            false,
            Tone::Plain,
            format!("the unsigned pull failed, but not because of the policy: {other}"),
        ),
        None => run.sub_step(
            "policy-unsigned",
            false,
            Tone::Bad,
            "Harbor let the unsigned image through".into(),
        ),
    }
    match signed {
        Ok(()) => {
            run.report.signed_pull_allowed = true;
            let image = run.image.target.to_string();
            run.sub_step(
                "policy-signed",
                true,
                Tone::Good,
                format!("the signed {image} pulls (allowed)"),
            );
        }
        Err(e) => run.sub_step(
            "policy-signed",
            false,
            Tone::Bad,
            format!("the signed pull failed: {e}"),
        ),
    }
}

/// `--explain`: Harbor's API view of the pushed artifact and its accessories.
pub(super) fn explain_show_unsigned(run: &DemoRun<'_>) -> Vec<String> {
    run.commands(&[artifact_curl(run, &run.report.digest)])
}

fn artifact_curl(run: &DemoRun<'_>, digest: &str) -> String {
    format!(
        "curl {} '{}/api/v2.0/projects/{}/repositories/{}/artifacts/{digest}?with_accessory=true'",
        run.curl_user(),
        run.target.harbor_url,
        run.story.project,
        run.image.name()
    )
}

/// The local image to push: loaded from --image-file, or pulled per --pull.
async fn prepare_local_image(run: &DemoRun<'_>, docker: &bollard::Docker) -> anyhow::Result<()> {
    let image: &DemoImage = &run.image;
    let local = &image.local;
    if let Some(f) = &run.story.image_file {
        let path = run.ctx.resolve(f);
        // An image for the demo is megabytes; a GiB is surely the wrong file.
        let data = crate::fsutil::read_limited(&path, 1 << 30)
            .map_err(|e| UserError::usage(format!("--image-file {}: {e}", path.display())))?;
        // `local` is the lab's own name for it (DemoImage::from_file): the
        // user's image of the --image name is never replaced.
        engine::load_image_file(docker, Bytes::from(data), local)
            .await
            .map_err(|e| match e {
                // The engine refused the file's contents: that is the file's fault.
                engine::DockerError::Engine { detail, .. } => UserError::usage(format!(
                    "--image-file {}: Docker could not load or import it ({detail}); give a \
                     `docker save` archive or a tarball of a root filesystem",
                    path.display()
                ))
                .into(),
                other => anyhow::Error::from(other),
            })?;
        return Ok(());
    }
    let present = engine::has_image(docker, local).await;
    match run.story.pull {
        PullPolicy::Never if !present => Err(UserError::usage(format!(
            "--pull never, and {} is not in the local engine; load it or use --image-file",
            local.docker_name()
        ))
        .into()),
        PullPolicy::Never => Ok(()),
        PullPolicy::Missing if present => Ok(()),
        _ => {
            engine::pull(docker, run.ui, local, None).await?;
            Ok(())
        }
    }
}

/// A tampered image that verification refused.
struct Tampered {
    digest: String,
}

/// Push a different image (same layers, a changed config) to the tag, check
/// that verification of the tag now fails, then put the original back.
async fn tamper(
    registry: &Client,
    vk: &p256::ecdsa::VerifyingKey,
    image: &Reference,
) -> anyhow::Result<(Option<Tampered>, String)> {
    let original = registry
        .get_manifest(image)
        .await?
        .ok_or_else(|| UserError::remote(format!("{image} disappeared")))?;
    let tampered = push_tampered(registry, image, &original).await?;
    let verdict = verify_image(registry, vk, image, &BTreeMap::new()).await;
    // In a project that enforces cosign signatures, Harbor refuses to serve the
    // unsigned manifest at all: that is the tampering caught too.
    let verdict = match verdict {
        Err(e) if e.status() == Some(412) => Ok(Verdict::NoSignatures {
            digest: tampered.clone(),
        }),
        other => other,
    };
    // Put the original back whatever the verdict.
    registry
        .put_manifest(image, original.bytes.clone(), &original.media_type)
        .await?;
    let restored = registry
        .get_manifest(image)
        .await?
        .map(|m| m.digest)
        .unwrap_or_default();
    if restored != original.digest {
        return Err(
            UserError::remote(format!("could not restore {image} to {}", original.digest)).into(),
        );
    }
    let restored = &original.digest;
    Ok(match verdict? {
        Verdict::NoSignatures { digest } | Verdict::NoValidSignature { digest, .. }
            if digest != tampered =>
        {
            (
                None,
                format!(
                    "the tag resolved to {digest}, not the tampered {tampered}: the registry did not take the push"
                ),
            )
        }
        Verdict::NoSignatures { digest } => (
            Some(Tampered {
                digest: digest.clone(),
            }),
            format!(
                "pushed another image to the tag ({digest}): verification failed, because that digest has no signature; restored {restored}"
            ),
        ),
        Verdict::NoValidSignature { digest, reasons } => (
            Some(Tampered {
                digest: digest.clone(),
            }),
            format!(
                "pushed another image to the tag ({digest}): verification failed ({}); restored {restored}",
                reasons.join("; ")
            ),
        ),
        other => (None, format!("tampering was NOT detected: {other:?}")),
    })
}

/// The same layers with a changed config, pushed to the tag; its digest.
async fn push_tampered(
    registry: &Client,
    image: &Reference,
    original: &crate::registry::Manifest,
) -> anyhow::Result<String> {
    let manifest = crate::lab::freshness::relabelled(
        registry,
        image,
        original,
        "org.harbor-lab.tampered",
        "true",
    )
    .await?;
    Ok(registry
        .put_manifest(
            image,
            Bytes::from(serde_json::to_vec(&manifest)?),
            &original.media_type,
        )
        .await?)
}

/// A step an earlier run of the same demo finished, shown from its record.
pub(super) fn replayed(what: String) -> Check {
    Check::Done(format!("replayed from an earlier run: {what}"))
}
