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

use std::path::Path;

use anyhow::Context as _;

use crate::cli::{PasswordArgs, RegistryArgs};
use crate::context::Context;
use crate::error::UserError;
use crate::fsutil::{SMALL_FILE_MAX, read_limited, read_limited_text};
use crate::registry::{Client, RegistryOptions};
use crate::ui::{Reporter, prompt};

/// Read a secret from the first line of a file (the trailing newline is not part of it).
pub fn read_secret_file(ctx: &Context, path: &Path, flag: &str) -> anyhow::Result<String> {
    let full = ctx.resolve(path);
    let text = read_limited_text(&full, SMALL_FILE_MAX)
        .map_err(|e| UserError::usage(format!("{flag} {}: cannot read it: {e}", full.display())))?;
    Ok(text.lines().next().unwrap_or("").to_string())
}

/// A secret kept in the workdir: the first line of `path` when it exists.
pub fn kept_secret(path: &Path) -> Option<String> {
    let text = read_limited_text(path, SMALL_FILE_MAX).ok()?;
    text.lines()
        .next()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
}

/// Keep `secret` in `path`, readable by the owner only.
pub fn keep_secret(path: &Path, secret: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    crate::fsutil::write_atomic(path, format!("{secret}\n").as_bytes(), 0o600)
        .with_context(|| format!("writing {}", path.display()))
}

/// The key password the user gave, without asking: `--password-file`, else
/// `COSIGN_PASSWORD` (set but empty means the empty password, as in cosign).
/// A password is bytes, as cosign takes it: one that is not UTF-8 is used as is.
pub fn given_key_password(
    ctx: &Context,
    password_file: Option<&Path>,
) -> anyhow::Result<Option<Vec<u8>>> {
    use std::os::unix::ffi::OsStrExt;
    match password_file {
        Some(f) => read_secret_file(ctx, f, "--password-file").map(|p| Some(p.into_bytes())),
        None => Ok(ctx.var_os("COSIGN_PASSWORD").map(|p| p.as_bytes().to_vec())),
    }
}

/// The private key password: the one given (see [`given_key_password`]), else a
/// prompt on a terminal.
pub fn key_password(
    ctx: &Context,
    ui: &Reporter,
    args: &PasswordArgs,
    what: &str,
    confirm: bool,
) -> anyhow::Result<Vec<u8>> {
    if let Some(p) = given_key_password(ctx, args.password_file.as_deref())? {
        return Ok(p);
    }
    Ok(prompt::password(
        ui,
        what,
        confirm,
        "set COSIGN_PASSWORD (empty for no password) or pass --password-file",
    )?
    .into_bytes())
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
            Some(read_limited(&full, SMALL_FILE_MAX).map_err(|e| {
                UserError::usage(format!("--registry-cacert {}: {e}", full.display()))
            })?)
        }
        None => None,
    };
    let password = match (&args.registry_password_file, ctx.var("REGISTRY_PASSWORD")) {
        (Some(f), _) => Some(read_secret_file(ctx, f, "--registry-password-file")?),
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
