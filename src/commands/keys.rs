//! `keys generate` and `keys public-key`.

use std::path::PathBuf;

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::{GenerateArgs, PublicKeyArgs};
use crate::context::Context;
use crate::cosign::keys;
use crate::fsutil::write_atomic;
use crate::lab::keys::{KeyPair, load_signing_key};
use crate::lab::secrets;
use crate::ui::Reporter;
use crate::ui::render::{Report, to_json};

#[derive(Debug, Serialize)]
struct Generated {
    private_key: PathBuf,
    public_key: PathBuf,
}

impl Report for Generated {
    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
}

pub fn generate(ctx: &Context, ui: &Reporter, args: &GenerateArgs) -> super::Done {
    let pair = KeyPair::at_prefix(&ctx.resolve(args.output_key_prefix.as_ref()));
    // Refuse before asking for a password nobody will use.
    pair.refuse_existing(args.force)?;
    let file = args.password.password_file.as_deref();
    let password = secrets::key_password(ctx, ui, file, "private key", true)?;
    pair.write(ui, args.force, &password)?;
    Ok(Box::new(Generated {
        private_key: pair.private,
        public_key: pair.public,
    }))
}

/// The public key: written to --outfile, or printed (PEM, or in the JSON document).
#[derive(Debug, Serialize)]
struct PublicKey {
    public_key: String,
    #[serde(skip)]
    written: bool,
}

impl Report for PublicKey {
    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
    fn human(&self, ui: &Reporter) {
        if !self.written {
            ui.stdout(&self.public_key);
        }
    }
}

pub fn public_key(ctx: &Context, ui: &Reporter, args: &PublicKeyArgs) -> super::Done {
    let path = ctx.resolve(&args.key);
    let key = load_signing_key(ctx, ui, &path, args.password.password_file.as_deref())?;
    let public = keys::public_key_pem(key.verifying_key())?;
    if let Some(out) = &args.outfile {
        let out = ctx.resolve(out);
        write_atomic(&out, public.as_bytes(), 0o644)
            .with_context(|| format!("writing {}", out.display()))?;
        ui.line(&format!("Public key written to {}", out.display()));
    }
    Ok(Box::new(PublicKey {
        public_key: public,
        written: args.outfile.is_some(),
    }))
}
