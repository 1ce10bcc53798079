//! `demo`: the tutorial's story, one step at a time, against a running Harbor.
//!
//!  1. push the image unsigned and show what Harbor reports (not signed);
//!  2. sign it with the lab key and show what Harbor reports (signed by cosign);
//!  3. verify it, with cosign's output;
//!  4. tamper: push a different image to the tag, show verification fail and
//!     why, then put the original back;
//!  5. policy: turn on cosign enforcement, show the unsigned image refused
//!     (Harbor's 412) and the signed one pulled, then restore the policy.
//!
//! What a step found is kept in the journal, so running the demo again skips
//! finished steps (nothing is pushed again) and reports the same answers.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::cli::StoryArgs;
use crate::context::Context;
use crate::cosign::verify::{Verdict, verify_image};
use crate::digest::fingerprint;
use crate::docker::engine::{self, PullPolicy};
use crate::error::{Exit, UserError};
use crate::harbor::client::{Created, Harbor};
use crate::journal::DemoRecord;
use crate::lab::image::DemoImage;
use crate::lab::keys::{KeyPair, ensure_lab_keys};
use crate::lab::secrets::{self, Secret};
use crate::registry::{Client, Reference, RegistryOptions};
use crate::ui::{Reporter, Tone};
use crate::workdir::Workdir;

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct DemoStep {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct DemoReport {
    pub harbor_url: String,
    pub image: String,
    pub digest: String,
    pub signed_before: bool,
    pub signed_after: bool,
    pub verified: bool,
    pub tamper_detected: bool,
    pub unsigned_pull_blocked: bool,
    pub signed_pull_allowed: bool,
    /// Harbor's own words when it refused the unsigned pull.
    pub policy_message: String,
    pub public_key: PathBuf,
    pub private_key: PathBuf,
    pub steps: Vec<DemoStep>,
    /// The digest the tamper step pushed (unsigned), used by the policy step.
    #[serde(default)]
    pub tampered_digest: String,
    /// Inputs this run was for (image, target, key): internal, not reported.
    #[serde(default, skip_serializing)]
    pub fingerprint: String,
}

/// Everything the demo needs to reach Harbor, and the key it signs with.
pub struct Target {
    pub harbor_url: String,
    pub user: String,
    pub password: Secret,
    pub keys: KeyPair,
    /// The key's password when the caller already has it (it just made the key).
    pub key_password: Option<Secret>,
    pub workdir: Workdir,
}

fn registry_host(url: &str) -> Result<String, UserError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            UserError::usage(format!(
                "--harbor-url {url}: must start with http:// or https://"
            ))
        })?;
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') {
        return Err(UserError::usage(format!(
            "--harbor-url {url}: give just scheme://host[:port]"
        )));
    }
    Ok(host.to_string())
}

struct Run<'a> {
    ui: &'a Reporter,
    explain: bool,
    report: DemoReport,
    /// The step being carried out: every error of the story is reported as
    /// "demo step <current>".
    current: &'static str,
}

impl Run<'_> {
    fn explain(&self, lines: &[String]) {
        if self.explain {
            for l in lines {
                self.ui.line(&format!("  $ {l}"));
            }
        }
    }
    fn step(&mut self, name: &str, ok: bool, detail: String) {
        self.step_toned(name, ok, Tone::Plain, detail);
    }
    /// A step whose outcome is a verdict the user should see at a glance
    /// (signed or not, verified or not, allowed or refused).
    fn step_toned(&mut self, name: &str, ok: bool, tone: Tone, detail: String) {
        self.ui.status_toned(
            if ok { "Ok" } else { "Failed" },
            &format!("{name}: {detail}"),
            tone,
        );
        self.report.steps.push(DemoStep {
            name: name.into(),
            ok,
            detail,
        });
    }
}

/// Run the story. `Err` names the step that could not be carried out.
pub async fn run_demo(
    ctx: &Context,
    ui: &Reporter,
    story: &StoryArgs,
    target: &Target,
) -> anyhow::Result<DemoReport> {
    let wd = &target.workdir;
    let _lock = wd.lock()?;
    let mut state = wd.load()?;
    let host = registry_host(&target.harbor_url)?;
    let demo_image = DemoImage::new(&story.image, &host, &story.project)
        .with_context(|| format!("--image {} in project {}", story.image, story.project))?;
    let demo_image = if story.image_file.is_some() {
        demo_image.from_file()
    } else {
        demo_image
    };
    let name = demo_image.name().to_string();
    let image_ref = demo_image.target.clone();
    let image = image_ref.to_string();
    let key = target.keys.private.clone();
    let public = target.keys.public.clone();
    let fp = fingerprint(&[
        &story.image,
        &story
            .image_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        &image,
        &key.display().to_string(),
    ]);
    let previous: Option<DemoRecord> = state
        .demo
        .clone()
        .filter(|r| r.fingerprint == fp && !story.fresh);
    let mut run = Run {
        ui,
        explain: story.explain,
        report: DemoReport {
            harbor_url: target.harbor_url.clone(),
            image: image.clone(),
            public_key: public.clone(),
            private_key: key.clone(),
            fingerprint: fp,
            ..Default::default()
        },
        current: "setup",
    };
    let password = target.password.expose();
    let harbor = Harbor::new(&target.harbor_url, &target.user, &password)?;
    let registry = Client::new(RegistryOptions {
        allow_insecure: target.harbor_url.starts_with("http://"),
        username: Some(target.user.clone()),
        password: Some(password.to_string()),
        ..Default::default()
    })?;
    let creds = Some(engine::credentials(&host, &target.user, &password));

    let story_result = async {
        // 0. Harbor answers, the credentials work, the project exists.
        let step = "connect";
        run.current = step;
        harbor.check_login().await?;
        let created = harbor.create_project(&story.project, false).await?;
        run.step(
            step,
            true,
            match created {
                Created::New { .. } => format!(
                    "logged in to {} and created project {}",
                    target.harbor_url, story.project
                ),
                Created::Exists => format!(
                    "logged in to {}; project {} exists",
                    target.harbor_url, story.project
                ),
            },
        );

        // 1. Push unsigned, and ask Harbor.
        let step = "push";
        run.current = step;
        run.explain(&[
            format!("docker tag {} {image}", story.image),
            format!("docker push {image}"),
        ]);
        let current = registry.get_manifest(&image_ref).await?;
        let digest = match (&previous, &current) {
            (Some(p), Some(m)) if m.digest == p.digest => {
                run.step(
                    step,
                    true,
                    format!("{image} is already pushed ({})", p.digest),
                );
                p.digest.clone()
            }
            _ => {
                let docker = engine::connect(ctx).await?;
                prepare_local_image(ctx, ui, &docker, story, &demo_image).await?;
                let target_repo = image_ref.docker_repository();
                engine::tag(&docker, &demo_image.local, &target_repo, demo_image.tag()).await?;
                let pushed = engine::push(&docker, ui, &target_repo, demo_image.tag(), creds.clone())
                    .await?;
                let m = registry.get_manifest(&image_ref).await?;
                let served = m.map(|m| m.digest).unwrap_or_default();
                if served != pushed {
                    return Err(UserError::remote(format!("the engine pushed {pushed} but the registry serves {served} for {image}")).into());
                }
                run.step(step, true, format!("pushed {image} ({pushed})"));
                pushed
            }
        };
        run.report.digest = digest.clone();
        let pinned = image_ref.with_digest(&digest);

        let step = "show-unsigned";
        run.current = step;
        run.explain(&[artifact_curl(
            &target.harbor_url,
            &target.user,
            &story.project,
            &name,
            &digest,
        )]);
        let art = harbor.artifact(&story.project, &name, &digest).await?;
        let signed_now = art.as_ref().is_some_and(|a| a.cosign_signed());
        run.report.signed_before = previous.as_ref().map_or(signed_now, |p| p.signed_before);
        let tone = if run.report.signed_before { Tone::Good } else { Tone::Bad };
        run.step_toned(
            step,
            true,
            tone,
            format!(
                "Harbor reports {image}: {}",
                if run.report.signed_before {
                    "signed by cosign (before this demo)"
                } else {
                    "not signed"
                }
            ),
        );

        // 2. Sign, and ask Harbor again.
        let step = "sign";
        run.current = step;
        run.explain(&[format!(
            "cosign sign --key {} --tlog-upload=false {pinned}",
            key.display()
        )]);
        let key_password = match &target.key_password {
            Some(p) => p.clone(),
            None => secrets::lab_key_password(
                ctx,
                ui,
                story.password_file.as_deref(),
                &wd.cosign_password_file(),
                &key,
                false,
            )?,
        };
        let text =
            crate::fsutil::read_limited(&key, crate::fsutil::SMALL_FILE_MAX)
                .map_err(|e| UserError::usage(format!("{}: {e}", key.display())))?;
        let signing_key = crate::cosign::keys::decrypt_private_key(&text, key_password.as_bytes())
            .with_context(|| key.display().to_string())?;
        let signed =
            crate::cosign::sign::sign_image(&registry, &signing_key, &pinned, &BTreeMap::new())
                .await?;
        run.step(
            step,
            true,
            if signed.added {
                format!("signed {digest}; signature at {}", signed.signature)
            } else {
                format!("{digest} is already signed by the lab key")
            },
        );

        let step = "show-signed";
        run.current = step;
        let art = harbor.artifact(&story.project, &name, &digest).await?;
        run.report.signed_after = art.as_ref().is_some_and(|a| a.cosign_signed());
        let acc = art
            .and_then(|a| a.accessories)
            .unwrap_or_default()
            .into_iter()
            .map(|a| a.kind)
            .collect::<Vec<_>>()
            .join(", ");
        let ok = run.report.signed_after;
        run.step_toned(
            step,
            ok,
            if ok { Tone::Good } else { Tone::Bad },
            format!(
                "Harbor reports {image}: {}",
                if ok {
                    format!("signed by cosign (accessories: {acc})")
                } else {
                    "still not signed".into()
                }
            ),
        );

        // 3. Verify, with cosign's output.
        let step = "verify";
        run.current = step;
        run.explain(&[format!(
            "cosign verify --key {} --insecure-ignore-tlog {image}",
            public.display()
        )]);
        // Verify with the public key file, as a learner would (not the private key).
        let pem = crate::fsutil::read_limited(&public, crate::fsutil::SMALL_FILE_MAX)
            .map_err(|e| UserError::usage(format!("{}: {e}", public.display())))?;
        let verifying_key = crate::cosign::keys::parse_public_key(&pem)
            .with_context(|| public.display().to_string())?;
        let vk = &verifying_key;
        match verify_image(&registry, vk, &image_ref, &BTreeMap::new()).await?
        {
            Verdict::Verified { payloads, .. } => {
                super::verify::print_header(ui, &image_ref, &BTreeMap::new());
                if !ui.json {
                    ui.line(&serde_json::to_string(&payloads).unwrap_or_default());
                }
                run.report.verified = true;
                run.step_toned(
                    step,
                    true,
                    Tone::Good,
                    format!("{image} verifies with {}", public.display()),
                );
            }
            other => run.step_toned(step, false, Tone::Bad, format!("{image} does not verify: {other:?}")),
        }

        // 4. Tamper: another image under the same tag.
        let step = "tamper";
        run.current = step;
        match &previous {
            Some(p) if p.tamper_detected && !p.tampered_digest.is_empty() => {
                run.report.tamper_detected = true;
                run.report.tampered_digest = p.tampered_digest.clone();
                run.step_toned(step, true, Tone::Bad, format!("done before: the tag pointed at {}, which has no signature, and verification failed", p.tampered_digest));
            }
            _ => {
                run.explain(&[
                    format!("docker push {image}   # a different image, same tag"),
                    format!(
                        "cosign verify --key {} --insecure-ignore-tlog {image}",
                        public.display()
                    ),
                ]);
                let (tampered, detail) = tamper(&registry, vk, &image_ref).await?;
                run.report.tamper_detected = tampered.is_some();
                run.report.tampered_digest = tampered.map(|t| t.digest).unwrap_or_default();
                // Detected tampering is a failed verification: red, as cosign's.
                run.step_toned(step, run.report.tamper_detected, Tone::Bad, detail);
            }
        }

        // 5. Policy: enforcement on; the unsigned pull is refused, the signed one pulls.
        let step = "policy";
        run.current = step;
        match &previous {
            Some(p) if p.unsigned_pull_blocked && p.signed_pull_allowed => {
                run.report.unsigned_pull_blocked = true;
                run.report.signed_pull_allowed = true;
                run.report.policy_message = p.policy_message.clone();
                run.step_toned(step, true, Tone::Good, format!("done before: Harbor refused the unsigned pull ({:?}) and let the signed one through", p.policy_message));
            }
            _ => {
                run.explain(&[
                    format!("curl -u {}:*** -X PUT -H 'Content-Type: application/json' -d '{{\"metadata\":{{\"enable_content_trust_cosign\":\"true\"}}}}' {}/api/v2.0/projects/{}", target.user, target.harbor_url, story.project),
                    format!("docker pull {}   # unsigned: refused", image_ref.with_digest(&run.report.tampered_digest)),
                    format!("docker pull {image}   # signed: allowed"),
                ]);
                policy(ctx, &harbor, story, &image_ref, &mut run, creds.clone()).await?;
            }
        }

        anyhow::Ok(())
    }.await;
    story_result.with_context(|| format!("demo step {}", run.current))?;

    let r = &run.report;
    state.demo = Some(DemoRecord {
        fingerprint: r.fingerprint.clone(),
        digest: r.digest.clone(),
        signed_before: r.signed_before,
        tamper_detected: r.tamper_detected,
        tampered_digest: r.tampered_digest.clone(),
        unsigned_pull_blocked: r.unsigned_pull_blocked,
        signed_pull_allowed: r.signed_pull_allowed,
        policy_message: r.policy_message.clone(),
    });
    wd.save(&state)?;
    Ok(run.report)
}

fn artifact_curl(url: &str, user: &str, project: &str, name: &str, digest: &str) -> String {
    format!(
        "curl -u {user}:*** '{url}/api/v2.0/projects/{project}/repositories/{name}/artifacts/{digest}?with_accessory=true'"
    )
}

/// The local image to push: loaded from --image-file, or pulled per --pull.
async fn prepare_local_image(
    ctx: &Context,
    ui: &Reporter,
    docker: &bollard::Docker,
    story: &StoryArgs,
    image: &DemoImage,
) -> anyhow::Result<()> {
    let local = image.local.clone();
    if let Some(f) = &story.image_file {
        // `local` is the lab's own name for it (DemoImage::from_file).
        let (repo, tag) = local.rsplit_once(':').unwrap_or((&local, "latest"));
        let path = ctx.resolve(f);
        // An image for the demo is megabytes; a GiB is surely the wrong file.
        let data = crate::fsutil::read_limited(&path, 1 << 30)
            .map_err(|e| UserError::usage(format!("--image-file {}: {e}", path.display())))?;
        engine::load_image_file(docker, Bytes::from(data), repo, tag)
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
    let present = engine::has_image(docker, &local).await;
    match PullPolicy::from(story.pull) {
        PullPolicy::Never if !present => Err(UserError::usage(format!(
            "--pull never, and {local} is not in the local engine; load it or use --image-file"
        ))
        .into()),
        PullPolicy::Never => Ok(()),
        PullPolicy::Missing if present => Ok(()),
        _ => {
            engine::pull(docker, ui, &local, None).await?;
            Ok(())
        }
    }
}

/// Push a different image (same layers, a changed config) to the tag, check
/// that verification of the tag now fails, then put the original back.
/// Returns the tampered digest when verification caught it, and what happened.
async fn tamper(
    registry: &Client,
    vk: &p256::ecdsa::VerifyingKey,
    image: &Reference,
) -> anyhow::Result<(Option<Tampered>, String)> {
    let original = registry
        .get_manifest(image)
        .await?
        .ok_or_else(|| UserError::remote(format!("{image} disappeared")))?;
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&original.bytes).context("the pushed manifest is not JSON")?;
    let config_digest = manifest["config"]["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let config = registry.get_blob(image, &config_digest, 16 << 20).await?;
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&config).context("the image config is not JSON")?;
    if !cfg["config"].is_object() {
        cfg["config"] = serde_json::json!({});
    }
    if !cfg["config"]["Labels"].is_object() {
        cfg["config"]["Labels"] = serde_json::json!({});
    }
    cfg["config"]["Labels"]["org.harbor-lab.tampered"] = serde_json::json!("true");
    let new_config = Bytes::from(serde_json::to_vec(&cfg)?);
    let new_config_digest = crate::digest::sha256_digest(&new_config);
    registry
        .put_blob(image, &new_config_digest, new_config.clone())
        .await?;
    manifest["config"]["digest"] = serde_json::json!(new_config_digest);
    manifest["config"]["size"] = serde_json::json!(new_config.len());
    let tampered = registry
        .put_manifest(
            image,
            Bytes::from(serde_json::to_vec(&manifest)?),
            &original.media_type,
        )
        .await?;
    let verdict = verify_image(registry, vk, image, &BTreeMap::new()).await;
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
                "pushed another image to the tag ({digest}): verification failed, because that digest has no signature; restored {}",
                original.digest
            ),
        ),
        Verdict::NoValidSignature { digest, reasons } => (
            Some(Tampered {
                digest: digest.clone(),
            }),
            format!(
                "pushed another image to the tag ({digest}): verification failed ({}); restored {}",
                reasons.join("; "),
                original.digest
            ),
        ),
        other => (None, format!("tampering was NOT detected: {other:?}")),
    })
}

/// A tampered image that verification refused.
struct Tampered {
    digest: String,
}

async fn policy(
    ctx: &Context,
    harbor: &Harbor,
    story: &StoryArgs,
    image: &Reference,
    run: &mut Run<'_>,
    creds: Option<bollard::auth::DockerCredentials>,
) -> anyhow::Result<()> {
    let ui = run.ui;
    let project = harbor
        .project(&story.project)
        .await?
        .ok_or_else(|| UserError::remote(format!("project {} disappeared", story.project)))?;
    let was = project.cosign_enforced();
    harbor.set_cosign_enforcement(&story.project, true).await?;
    let result = async {
        let docker = engine::connect(ctx).await?;
        let unsigned = image.with_digest(&run.report.tampered_digest).to_string();
        let blocked = match engine::pull(&docker, ui, &unsigned, creds.clone()).await {
            Ok(()) => None,
            Err(e) => Some(e.to_string()),
        };
        let signed = engine::pull(&docker, ui, &image.to_string(), creds.clone()).await;
        anyhow::Ok((blocked, signed))
    }
    .await;
    if !(was || story.keep_policy) {
        harbor.set_cosign_enforcement(&story.project, false).await?;
    }
    let (blocked, signed) = result?;
    match blocked {
        Some(msg) if msg.contains("not signed") => {
            let quoted = msg.rsplit(": ").next().unwrap_or(&msg).trim().to_string();
            run.report.unsigned_pull_blocked = true;
            run.report.policy_message = quoted.clone();
            run.step_toned(
                "policy-unsigned",
                true,
                Tone::Bad,
                format!("Harbor refused the unsigned pull: {quoted:?}"),
            );
        }
        Some(other) => run.step(
            "policy-unsigned",
            false,
            format!("the unsigned pull failed, but not because of the policy: {other}"),
        ),
        None => run.step_toned(
            "policy-unsigned",
            false,
            Tone::Bad,
            "Harbor let the unsigned image through".into(),
        ),
    }
    match signed {
        Ok(()) => {
            run.report.signed_pull_allowed = true;
            run.step_toned(
                "policy-signed",
                true,
                Tone::Good,
                format!("the signed {image} pulls (allowed)"),
            );
        }
        Err(e) => run.step(
            "policy-signed",
            false,
            format!("the signed pull failed: {e}"),
        ),
    }
    let state = if was || story.keep_policy {
        "left on"
    } else {
        "turned back off"
    };
    run.step(
        "policy",
        run.report.unsigned_pull_blocked && run.report.signed_pull_allowed,
        format!("cosign enforcement on project {} {state}", story.project),
    );
    Ok(())
}

/// `harbor-lab demo`: Harbor and secrets from the workdir unless given.
pub async fn command(
    ctx: &Context,
    ui: &Reporter,
    args: &crate::cli::DemoArgs,
) -> anyhow::Result<Exit> {
    let wd = Workdir::from_flag(ctx, args.workdir.workdir.as_deref());
    let state = wd.load()?;
    let harbor_url = match (&args.harbor_url, &state.harbor) {
        (Some(u), _) => u.trim_end_matches('/').to_string(),
        (None, Some(h)) if !h.url.is_empty() => h.url.clone(),
        _ => {
            return Err(UserError::usage(format!(
                "no Harbor to use: pass --harbor-url, or run `harbor-lab install` first (nothing is recorded in {})",
                wd.root().display()
            ))
            .into());
        }
    };
    let password = match (&args.harbor_password_file, &state.harbor) {
        (Some(f), _) => secrets::read_file(ctx, f, "--harbor-password-file")?,
        (None, Some(h)) => {
            secrets::read_file(ctx, &h.admin_password_file, "the workdir's admin-password")?
        }
        (None, None) => {
            return Err(UserError::usage("no Harbor password: pass --harbor-password-file").into());
        }
    };
    let key_prefix = args
        .key_prefix
        .as_ref()
        .map_or_else(|| wd.key_prefix(), |p| ctx.resolve(p));
    let keys = KeyPair::at_prefix(&key_prefix);
    let key_password = ensure_lab_keys(
        ctx,
        ui,
        &keys,
        args.story.password_file.as_deref(),
        &wd.cosign_password_file(),
    )?;
    if key_password.is_some() {
        ui.status("Done", &format!("keys: created {}", keys.private.display()));
    }
    let target = Target {
        harbor_url,
        user: args.harbor_user.clone(),
        password,
        keys,
        key_password,
        workdir: wd,
    };
    let report = run_demo(ctx, ui, &args.story, &target).await?;
    finish(ui, &report)
}

pub fn finish(ui: &Reporter, report: &DemoReport) -> anyhow::Result<Exit> {
    let all = report.steps.iter().all(|s| s.ok);
    // The result lines: shown even with --quiet.
    let yes_no = |b: bool| if b { "yes" } else { "NO" };
    ui.result_line("");
    ui.result_line(&format!(
        "Image:           {} {}",
        report.image, report.digest
    ));
    ui.result_line(&format!(
        "Signed by cosign in Harbor: {}; verified with {}: {}; tamper caught: {}; unsigned pull refused: {}; signed pull allowed: {}",
        yes_no(report.signed_after),
        report.public_key.display(),
        yes_no(report.verified),
        yes_no(report.tamper_detected),
        yes_no(report.unsigned_pull_blocked),
        yes_no(report.signed_pull_allowed),
    ));
    ui.result_line(&format!(
        "Next:            harbor-lab verify --key {} {}",
        report.public_key.display(),
        report.image
    ));
    if ui.json {
        let mut doc = serde_json::to_value(report)?;
        doc["ok"] = all.into();
        ui.json_out(&doc);
    }
    if all {
        Ok(Exit::Ok)
    } else {
        let failed: Vec<&str> = report
            .steps
            .iter()
            .filter(|s| !s.ok)
            .map(|s| s.name.as_str())
            .collect();
        Err(UserError::remote(format!(
            "the demo did not show what it should at: {}",
            failed.join(", ")
        ))
        .into())
    }
}
