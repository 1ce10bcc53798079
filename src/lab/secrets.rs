//! Secrets as values: read once from where the user put them (a file, the
//! environment through the `Context`, a prompt) and handed to whoever needs
//! them, never passed through the environment or re-read from a file just
//! written. Kept secrets are 0600 files in the workdir.

use std::path::Path;

use anyhow::Context as _;

use crate::context::Context;
use crate::error::UserError;
use crate::ui::{Reporter, prompt};

/// A password. Its `Debug` never shows it. It is bytes, as cosign takes a
/// key password: `COSIGN_PASSWORD` need not be UTF-8 (files and prompts are).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into().into_bytes())
    }

    pub fn from_bytes(b: impl Into<Vec<u8>>) -> Secret {
        Secret(b.into())
    }

    /// As text (for Harbor's password and harbor.yml, which are text).
    pub fn expose(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// The bytes, as a key password is used.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(********)")
    }
}

/// Read a secret from the first line of a file (the trailing newline is not
/// part of it). `flag` names where the path came from, for the error.
pub fn read_file(ctx: &Context, path: &Path, flag: &str) -> anyhow::Result<Secret> {
    let full = ctx.resolve(path);
    let text = crate::fsutil::read_limited_text(&full, crate::fsutil::SMALL_FILE_MAX)
        .map_err(|e| UserError::usage(format!("{flag} {}: cannot read it: {e}", full.display())))?;
    Ok(Secret::new(text.lines().next().unwrap_or("")))
}

/// A secret kept in the workdir: the first line of `path`, when it exists and
/// is not empty.
pub fn read_kept(path: &Path) -> Option<Secret> {
    let text = crate::fsutil::read_limited_text(path, crate::fsutil::SMALL_FILE_MAX).ok()?;
    text.lines()
        .next()
        .filter(|l| !l.is_empty())
        .map(Secret::new)
}

/// Keep `secret` in `path`, readable by the owner only.
pub fn keep(path: &Path, secret: &Secret) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut line = secret.0.clone();
    line.push(b'\n');
    crate::fsutil::write_atomic(path, &line, 0o600)
        .with_context(|| format!("writing {}", path.display()))
}

/// 24 characters from [A-Za-z0-9] (no `$`, which Harbor mangles), with at
/// least one letter and one digit, so YAML never reads it as a number.
pub fn random_password() -> Secret {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    loop {
        let mut raw = [0u8; 24];
        // The OS random source failing is not something a user can fix.
        getrandom::fill(&mut raw).expect("the operating system's random source failed");
        // 256 % 57 != 0; reject the biased tail.
        if raw
            .iter()
            .any(|b| *b as usize >= 256 - 256 % ALPHABET.len())
        {
            continue;
        }
        let s: String = raw
            .iter()
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
            .collect();
        if s.bytes().any(|b| b.is_ascii_alphabetic()) && s.bytes().any(|b| b.is_ascii_digit()) {
            return Secret::new(s);
        }
    }
}

/// The key password the user gave, without asking: `--password-file`, else
/// `COSIGN_PASSWORD` (set but empty means the empty password, as in cosign;
/// its bytes are used as they are, UTF-8 or not, as cosign does).
pub fn given_key_password(
    ctx: &Context,
    password_file: Option<&Path>,
) -> anyhow::Result<Option<Secret>> {
    use std::os::unix::ffi::OsStrExt;
    match password_file {
        Some(f) => read_file(ctx, f, "--password-file").map(Some),
        None => Ok(ctx
            .var_os("COSIGN_PASSWORD")
            .map(|p| Secret::from_bytes(p.as_bytes()))),
    }
}

/// The private key password: the one given (see [`given_key_password`]), else
/// a prompt on a terminal (typed twice when `confirm`).
pub fn key_password(
    ctx: &Context,
    ui: &Reporter,
    password_file: Option<&Path>,
    what: &str,
    confirm: bool,
) -> anyhow::Result<Secret> {
    if let Some(p) = given_key_password(ctx, password_file)? {
        return Ok(p);
    }
    Ok(Secret::new(prompt::password(
        ui,
        what,
        confirm,
        "set COSIGN_PASSWORD (empty for no password) or pass --password-file",
    )?))
}

/// The lab key's password: --password-file, COSIGN_PASSWORD, the one kept in
/// the workdir, a prompt, or, only when `creating` the key unattended, a random
/// one (then kept 0600 in `kept`). An existing key's password is never made up.
pub fn lab_key_password(
    ctx: &Context,
    ui: &Reporter,
    password_file: Option<&Path>,
    kept: &Path,
    key: &Path,
    creating: bool,
) -> anyhow::Result<Secret> {
    if let Some(p) = given_key_password(ctx, password_file)? {
        return Ok(p);
    }
    if let Some(p) = read_kept(kept) {
        return Ok(p);
    }
    if ui.interactive || !creating {
        return Ok(Secret::new(prompt::password(
            ui,
            "the lab's private key",
            creating,
            &format!(
                "{} exists: set COSIGN_PASSWORD or pass --password-file with the password it was made with",
                key.display()
            ),
        )?));
    }
    let p = random_password();
    keep(kept, &p)?;
    ui.line(&format!(
        "The key password is kept in {} (0600)",
        kept.display()
    ));
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_safe_for_harbor_and_yaml() {
        for _ in 0..50 {
            let p = random_password();
            assert_eq!(p.expose().len(), 24);
            assert!(p.expose().bytes().all(|b| b.is_ascii_alphanumeric()));
            assert_eq!(
                crate::installer::render::yaml_scalar(&p.expose()),
                p.expose()
            );
        }
    }

    #[test]
    fn a_secret_never_shows_in_debug() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
