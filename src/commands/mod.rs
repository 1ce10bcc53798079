//! The CLI edge: each command turns its flags into typed options
//! (`options.rs`), makes one call into the library (mostly `lab::`), and
//! returns a report that `lib::run` renders once. Errors get context here.

pub mod demo;
pub mod docs;
pub mod down;
pub mod install;
pub mod keys;
pub mod options;
pub mod preflight;
pub mod sign;
pub mod status;
pub mod tuf;
pub mod up;
pub mod verify;

use anyhow::Context as _;

use crate::cli::RegistryArgs;
use crate::context::Context;
use crate::error::UserError;
use crate::lab::report::Declined;
use crate::registry::{Client, RegistryOptions};
use crate::ui::render::Report;
use crate::ui::{Reporter, prompt};

/// What a command hands back to `lib::run`.
pub type Done = anyhow::Result<Box<dyn Report>>;

/// The plan of a command that changes the machine (`up`, `install`), then its
/// one question (none with `--yes`; none on `--dry-run`, which asks nothing).
/// `Some` is the "no"; after a "yes" every later question is answered, so
/// nothing asks mid-run.
pub fn confirm_plan(
    ui: &Reporter,
    command: &str,
    plan: &[String],
    dry_run: bool,
) -> Result<Option<Declined>, UserError> {
    ui.line(&format!("harbor-lab {command} will:"));
    for (i, p) in plan.iter().enumerate() {
        ui.line(&format!("  {}. {p}", i + 1));
    }
    if dry_run {
        return Ok(None);
    }
    if !prompt::confirm(ui, "Proceed?", "pass --yes to run the plan without asking")? {
        return Ok(Some(Declined {
            cancelled: true,
            plan: plan.to_vec(),
        }));
    }
    ui.assume_yes();
    Ok(None)
}

/// The CA certificate (PEM) of the default workdir's `--tls` lab, if any.
fn lab_ca(ctx: &Context) -> Option<Vec<u8>> {
    let state = crate::workdir::Workdir::at(&ctx.state_dir()).load().ok()?;
    std::fs::read(state.tls?.ca_certificate?).ok()
}

/// Build the registry client from the shared registry flags.
pub fn registry_client(ctx: &Context, args: &RegistryArgs) -> anyhow::Result<Client> {
    if args.registry_password.is_some() {
        return Err(UserError::usage(
            "--registry-password is not accepted: a password in argv shows in `ps` and shell history; \
             set REGISTRY_PASSWORD or pass --registry-password-file",
        )
        .into());
    }
    let ca_cert_pem = match &args.registry_cacert {
        Some(p) => {
            let full = ctx.resolve(p);
            Some(
                crate::fsutil::read_limited(&full, crate::fsutil::SMALL_FILE_MAX).map_err(|e| {
                    UserError::usage(format!("--registry-cacert {}: {e}", full.display()))
                })?,
            )
        }
        None => None,
    };
    // The lab's own CA (a `--tls` install in the default workdir) is trusted
    // too, so sign/verify reach the lab's Harbor with no extra flag.
    let ca_cert_pem = match (ca_cert_pem, lab_ca(ctx)) {
        (Some(mut given), Some(lab)) => {
            given.push(b'\n');
            given.extend(lab);
            Some(given)
        }
        (given, lab) => given.or(lab),
    };
    let password = match (&args.registry_password_file, ctx.var("REGISTRY_PASSWORD")) {
        (Some(f), _) => Some(
            crate::lab::secrets::read_file(ctx, f, "--registry-password-file")?
                .expose()
                .to_string(),
        ),
        (None, Some(p)) => Some(p.to_string()),
        (None, None) => None,
    };
    if args.registry_username.is_some() && password.is_none() {
        return Err(UserError::usage(
            "--registry-username needs a password: set REGISTRY_PASSWORD or pass --registry-password-file",
        )
        .into());
    }
    Client::new(RegistryOptions {
        allow_insecure: args.allow_insecure_registry,
        ca_cert_pem,
        username: args.registry_username.clone(),
        password,
        docker_config_dir: ctx.docker_config_dir(),
    })
    .context("setting up the registry client")
}
