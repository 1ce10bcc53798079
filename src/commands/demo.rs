//! `harbor-lab demo`: the tutorial's story (lab::demo) against a Harbor given
//! by flags or recorded in the workdir by `install`.

use crate::cli::DemoArgs;
use crate::context::Context;
use crate::error::{Exit, UserError};
use crate::lab::demo::DemoTarget;
use crate::lab::demo::{self, DemoReport};
use crate::lab::keys::{KeyPair, ensure_lab_keys, explain_lab_keys};
use crate::lab::report::{Status, StepReport};
use crate::lab::secrets;
use crate::ui::Reporter;
use crate::ui::render::Report;
use crate::workdir::Workdir;

pub async fn command(ctx: &Context, ui: &Reporter, args: &DemoArgs) -> super::Done {
    let story = super::options::story(&args.story);
    let target = demo_target(ctx, args)?;
    if story.explain {
        explain_lab_keys(ui, &target.keys);
    }
    let key_password = ensure_lab_keys(
        ctx,
        ui,
        &target.keys,
        story.password_file.as_deref(),
        &target.workdir.cosign_password_file(),
    )?;
    if key_password.is_some() {
        let created = format!("created {}", target.keys.private.display());
        StepReport::new("keys", Status::Done, created).print(ui);
    }
    let target = demo::DemoTarget {
        key_password,
        ..target
    };
    Ok(Box::new(demo::run_demo(ctx, ui, &story, &target).await?))
}

impl Report for DemoReport {
    fn json(&self) -> serde_json::Value {
        self.public_json()
    }
    /// The result lines: shown even with --quiet.
    fn human(&self, ui: &Reporter) {
        ui.result_line("");
        for l in self.summary_lines() {
            ui.result_line(&l);
        }
    }
    fn exit(&self) -> Result<Exit, UserError> {
        self.verdict().map(|()| Exit::Ok)
    }
}

/// The Harbor `demo` runs against: --harbor-url and --harbor-password-file,
/// else what `install` recorded in the workdir; the key pair at --key-prefix,
/// else the workdir's.
fn demo_target(ctx: &Context, args: &DemoArgs) -> anyhow::Result<DemoTarget> {
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
    let (password, password_file) = match (&args.harbor_password_file, &state.harbor) {
        (Some(f), _) => (
            secrets::read_file(ctx, f, "--harbor-password-file")?,
            ctx.resolve(f),
        ),
        (None, Some(h)) => (
            secrets::read_file(ctx, &h.admin_password_file, "the workdir's admin-password")?,
            h.admin_password_file.clone(),
        ),
        (None, None) => {
            return Err(UserError::usage("no Harbor password: pass --harbor-password-file").into());
        }
    };
    let key_prefix = args
        .key_prefix
        .as_ref()
        .map_or_else(|| wd.key_prefix(), |p| ctx.resolve(p));
    // The workdir's lab CA, for its own Harbor (not for a --harbor-url elsewhere).
    let ca_certificate = match (&state.harbor, &state.tls) {
        (Some(h), Some(t)) if h.url == harbor_url => t.ca_certificate.clone(),
        _ => None,
    };
    Ok(DemoTarget {
        harbor_url,
        user: args.harbor_user.clone(),
        password,
        password_file,
        keys: KeyPair::at_prefix(&key_prefix),
        key_password: None,
        workdir: wd,
        ca_certificate,
    })
}
