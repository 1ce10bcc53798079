//! The demo's freshness act, as one step whose sub-steps (tuf-pin,
//! tuf-update, tuf-rollback, tuf-freeze) are reported as they happen. The act
//! itself is `lab::freshness::run_act`.

use std::sync::Arc;

use super::DemoRun;
use crate::error::UserError;
use crate::journal::FreshnessFindings;
use crate::lab::freshness::{Act, METADATA_PROJECT, run_act};
use crate::lab::options::StoryOptions;
use crate::lab::step::{Check, Outcome};
use crate::registry::RegistryOptions;
use crate::tuf::oci::OciLocation;

pub(super) fn plan_freshness(_: &StoryOptions) -> String {
    format!(
        "freshness with TUF: pin the signed image, update it, roll the tag back and freeze the timestamp (metadata in project {METADATA_PROJECT})"
    )
}

/// A re-run replays the act an earlier run finished, as tamper and policy are
/// replayed: the act pushes, signs and waits for a timestamp to expire, which a
/// second `up` must not do again.
pub(super) async fn check_freshness(run: &mut DemoRun<'_>) -> anyhow::Result<Check> {
    let done = run
        .previous
        .as_ref()
        .and_then(|p| p.freshness.clone())
        .filter(|f| {
            f.freshness_rollback_caught && f.freshness_freeze_caught && f.tuf_root.is_file()
        });
    let Some(found) = done else {
        return Ok(Check::needed("freshness"));
    };
    let detail = format!(
        "rollback caught (cosign: {}), freeze caught; trusted root {}",
        found.freshness_cosign_verdict,
        found.tuf_root.display()
    );
    run.report.freshness = Some(found);
    Ok(super::story::replayed(detail))
}

pub(super) async fn apply_freshness(run: &mut DemoRun<'_>) -> anyhow::Result<Outcome> {
    // The metadata's project has no cosign policy: its image is not signed.
    run.harbor.create_project(METADATA_PROJECT, false).await?;
    let host = &run.image.target.registry;
    let name = run.image.name().to_string();
    let loc = OciLocation::parse(&format!("oci://{host}/{METADATA_PROJECT}/{name}-demo"))
        .map_err(UserError::usage)?;
    // Opened only if the act must write a signature (a re-run finds its
    // second release signed already).
    let (ctx, ui, story, target) = (run.ctx, run.ui, run.story, run.target);
    let open_key = move || super::story::open_lab_key(ctx, ui, story, target);
    let verifying_key = super::story::verifying_key(run)?;
    let password = run.target.password.expose().to_string();
    // A --tls lab: the metadata image is reached over https with the lab CA too.
    let ca_cert_pem = match &run.target.ca_certificate {
        Some(p) => Some(
            std::fs::read(p)
                .map_err(|e| UserError::usage(format!("{}: {e} (the lab CA)", p.display())))?,
        ),
        None => None,
    };
    let registry = RegistryOptions {
        allow_insecure: run.target.harbor_url.starts_with("http://"),
        ca_cert_pem,
        username: Some(run.target.user.clone()),
        password: Some(password),
        ..Default::default()
    };
    let image = run.image.target.clone();
    let public = run.target.keys.public.clone();
    let act = Act {
        ctx: run.ctx,
        ui: run.ui,
        explain: run.story.explain,
        client: Arc::new(crate::registry::Client::new(registry)?),
        image: &image,
        signing_key: &open_key,
        verifying_key: &verifying_key,
        public_key: &public,
        repo_dir: run.target.workdir.demo_tuf_repo(),
        format: run.format,
    };
    let found = run_act(&act, &loc, &mut |id, ok, detail| {
        let tone = if ok {
            crate::ui::Tone::Good
        } else {
            crate::ui::Tone::Bad
        };
        run.sub_step(id, ok, tone, detail)
    })
    .await?;
    let ok = found.rollback_caught && found.freeze_caught;
    let detail = format!(
        "rollback {}, freeze {}; trusted root {}",
        if found.rollback_caught {
            "caught"
        } else {
            "NOT caught"
        },
        if found.freeze_caught {
            "caught"
        } else {
            "NOT caught"
        },
        found.tuf_root.display()
    );
    run.report.freshness = Some(FreshnessFindings {
        tuf_root: found.tuf_root,
        freshness_rollback_caught: found.rollback_caught,
        freshness_freeze_caught: found.freeze_caught,
        freshness_cosign_verdict: found.cosign_on_rollback,
    });
    Ok(Outcome::verdict(ok, detail))
}
