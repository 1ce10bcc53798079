//! Key pairs on disk: writing one (never over an existing pair without
//! `force`), the lab's own pair in the workdir, and loading a signing key.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::secrets::{self, Secret};
use crate::context::Context;
use crate::cosign::keys;
use crate::error::UserError;
use crate::fsutil::write_atomic;
use crate::ui::Reporter;

/// `PREFIX.key` and `PREFIX.pub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPair {
    pub private: PathBuf,
    pub public: PathBuf,
}

impl KeyPair {
    pub fn at_prefix(prefix: &Path) -> KeyPair {
        KeyPair {
            private: with_ext(prefix, "key"),
            public: with_ext(prefix, "pub"),
        }
    }

    /// Refuse to replace either file unless `force`.
    pub fn refuse_existing(&self, force: bool) -> Result<(), UserError> {
        if force {
            return Ok(());
        }
        for p in [&self.private, &self.public] {
            if p.exists() {
                return Err(UserError::usage(format!(
                    "{} already exists; not overwriting it (pass --force to replace the key pair)",
                    p.display()
                )));
            }
        }
        Ok(())
    }

    /// Generate a key pair encrypted with `password` into the two files. With
    /// `force`, a replaced pair stays recoverable as `.bak` (0600 kept).
    pub fn write(&self, ui: &Reporter, force: bool, password: &Secret) -> anyhow::Result<()> {
        self.refuse_existing(force)?;
        for p in [&self.private, &self.public] {
            if p.exists() {
                let b = crate::fsutil::backup_previous(p)
                    .with_context(|| format!("backing up {}", p.display()))?;
                ui.line(&format!("Previous {} kept as {}", p.display(), b.display()));
            }
        }
        let key = keys::generate();
        let private =
            keys::encrypt_private_key(&key, password.as_bytes(), keys::SIGSTORE_PRIVATE_LABEL)?;
        let public = keys::public_key_pem(key.verifying_key())?;
        write_atomic(&self.private, private.as_bytes(), 0o600)
            .with_context(|| format!("writing {}", self.private.display()))?;
        write_atomic(&self.public, public.as_bytes(), 0o644)
            .with_context(|| format!("writing {}", self.public.display()))?;
        ui.line(&format!(
            "Private key written to {}",
            self.private.display()
        ));
        ui.line(&format!("Public key written to {}", self.public.display()));
        Ok(())
    }
}

/// `prefix` with `.ext` appended (`cosign` -> `cosign.key`).
pub fn with_ext(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(format!(".{ext}"));
    PathBuf::from(s)
}

/// `--explain` for the lab key pair: the cosign command that makes it.
pub fn explain_lab_keys(ui: &Reporter, pair: &KeyPair) {
    let private = pair.private.display().to_string();
    let prefix = private.strip_suffix(".key").unwrap_or(&private);
    crate::lab::step::print_commands(
        ui,
        &[format!(
            "cosign generate-key-pair --output-key-prefix {prefix}"
        )],
    );
}

/// Make sure the lab key pair exists. When it creates the pair it returns the
/// password it was made with, so the demo signs with it instead of asking a
/// third time a moment later; `None` when the pair was already there.
pub fn ensure_lab_keys(
    ctx: &Context,
    ui: &Reporter,
    pair: &KeyPair,
    password_file: Option<&Path>,
    kept_password: &Path,
) -> anyhow::Result<Option<Secret>> {
    if pair.private.exists() && pair.public.exists() {
        return Ok(None);
    }
    if pair.private.exists() != pair.public.exists() {
        return Err(UserError::usage(format!(
            "only one of {} and {} exists; restore the other or remove it (the key pair is never overwritten silently)",
            pair.private.display(),
            pair.public.display()
        ))
        .into());
    }
    if let Some(dir) = pair.private.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let password =
        secrets::lab_key_password(ctx, ui, password_file, kept_password, &pair.private, true)?;
    pair.write(ui, false, &password)?;
    Ok(Some(password))
}

/// Read and decrypt a private key file, naming the file (`--key`) in any
/// error; the password is asked only once the file is known to be a key.
pub fn load_signing_key(
    ctx: &Context,
    ui: &Reporter,
    path: &Path,
    password_file: Option<&Path>,
) -> anyhow::Result<p256::ecdsa::SigningKey> {
    let text = crate::fsutil::read_limited(path, crate::fsutil::SMALL_FILE_MAX)
        .map_err(|e| UserError::usage(format!("--key {}: cannot read it: {e}", path.display())))?;
    let encrypted =
        keys::parse_private_key(&text).with_context(|| format!("--key {}", path.display()))?;
    let password = secrets::key_password(ctx, ui, password_file, "private key", false)?;
    encrypted
        .decrypt(password.as_bytes())
        .with_context(|| format!("--key {}", path.display()))
}
