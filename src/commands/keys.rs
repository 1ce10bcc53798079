//! `keys generate` and `keys public-key`.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::cli::{GenerateArgs, PublicKeyArgs};
use crate::context::Context;
use crate::cosign::keys;
use crate::error::{EXIT_OK, UserError};
use crate::fsutil::write_atomic;
use crate::ui::Reporter;

/// The paths of a key pair with the given prefix.
pub fn key_paths(ctx: &Context, prefix: &str) -> (PathBuf, PathBuf) {
    (
        ctx.resolve(format!("{prefix}.key").as_ref()),
        ctx.resolve(format!("{prefix}.pub").as_ref()),
    )
}

pub fn generate(ctx: &Context, ui: &Reporter, args: &GenerateArgs) -> anyhow::Result<u8> {
    let (key_path, pub_path) = key_paths(ctx, &args.output_key_prefix);
    write_key_pair(ctx, ui, &key_path, &pub_path, args.force, &args.password)?;
    if ui.json {
        ui.json_out(&serde_json::json!({
            "private_key": key_path,
            "public_key": pub_path,
        }));
    }
    Ok(EXIT_OK)
}

/// Generate a key pair into the two paths. Refuses to replace existing files
/// unless `force`. Shared by `keys generate` and the lab's key step.
pub fn write_key_pair(
    ctx: &Context,
    ui: &Reporter,
    key_path: &std::path::Path,
    pub_path: &std::path::Path,
    force: bool,
    password: &crate::cli::PasswordArgs,
) -> anyhow::Result<()> {
    if !force {
        for p in [key_path, pub_path] {
            if p.exists() {
                return Err(UserError::usage(format!(
                    "{} already exists; not overwriting it (pass --force to replace the key pair)",
                    p.display()
                ))
                .into());
            }
        }
    }
    let password = super::key_password(ctx, ui, password, "private key", true)?;
    // --force: the key pair being replaced stays recoverable as .bak (0600 kept).
    for p in [key_path, pub_path] {
        if p.exists() {
            let b = crate::fsutil::backup_previous(p)
                .with_context(|| format!("backing up {}", p.display()))?;
            ui.line(&format!("Previous {} kept as {}", p.display(), b.display()));
        }
    }
    let key = keys::generate();
    let private = keys::encrypt_private_key(&key, &password, keys::SIGSTORE_PRIVATE_LABEL)?;
    let public = keys::public_key_pem(key.verifying_key())?;
    write_atomic(key_path, private.as_bytes(), 0o600)
        .with_context(|| format!("writing {}", key_path.display()))?;
    write_atomic(pub_path, public.as_bytes(), 0o644)
        .with_context(|| format!("writing {}", pub_path.display()))?;
    ui.line(&format!("Private key written to {}", key_path.display()));
    ui.line(&format!("Public key written to {}", pub_path.display()));
    Ok(())
}

pub fn public_key(ctx: &Context, ui: &Reporter, args: &PublicKeyArgs) -> anyhow::Result<u8> {
    let path = ctx.resolve(&args.key);
    let key = load_signing_key(ctx, ui, &path, &args.password)?;
    let public = keys::public_key_pem(key.verifying_key())?;
    match &args.outfile {
        Some(out) => {
            let out = ctx.resolve(out);
            write_atomic(&out, public.as_bytes(), 0o644)
                .with_context(|| format!("writing {}", out.display()))?;
            ui.line(&format!("Public key written to {}", out.display()));
        }
        None if ui.json => ui.json_out(&serde_json::json!({ "public_key": public })),
        None => ui.stdout(&public),
    }
    Ok(EXIT_OK)
}

/// Read and decrypt a private key file, naming the file in any error.
pub fn load_signing_key(
    ctx: &Context,
    ui: &Reporter,
    path: &std::path::Path,
    password: &crate::cli::PasswordArgs,
) -> anyhow::Result<p256::ecdsa::SigningKey> {
    let text = crate::fsutil::read_limited(path, crate::fsutil::SMALL_FILE_MAX)
        .map_err(|e| UserError::usage(format!("--key {}: cannot read it: {e}", path.display())))?;
    // Check the envelope before asking for a password.
    let encrypted =
        keys::parse_private_key(&text).with_context(|| format!("--key {}", path.display()))?;
    let password = super::key_password(ctx, ui, password, "private key", false)?;
    encrypted
        .decrypt(&password)
        .with_context(|| format!("--key {}", path.display()))
}
