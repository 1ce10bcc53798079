//! The orchestration edge: each command turns its flags into library calls and
//! reports through the [`Reporter`](crate::ui::Reporter). Errors get context here.

pub mod demo;
pub mod docs;
pub mod install;
pub mod keys;
pub mod sign;
pub mod status;
pub mod up;
pub mod verify;

use anyhow::Context as _;

use crate::cli::RegistryArgs;
use crate::context::Context;
use crate::error::UserError;
use crate::fsutil::{SMALL_FILE_MAX, read_limited};
use crate::registry::{Client, RegistryOptions};

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
            Some(read_limited(&full, SMALL_FILE_MAX).map_err(|e| {
                UserError::usage(format!("--registry-cacert {}: {e}", full.display()))
            })?)
        }
        None => None,
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
    let client = Client::new(RegistryOptions {
        allow_insecure: args.allow_insecure_registry,
        ca_cert_pem,
        username: args.registry_username.clone(),
        password,
        docker_config_dir: ctx.docker_config_dir(),
    })
    .context("setting up the registry client")?;
    Ok(client)
}
