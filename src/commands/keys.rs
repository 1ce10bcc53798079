//! `keys generate` and `keys public-key`.

use anyhow::Context as _;

use crate::cli::{GenerateArgs, PublicKeyArgs};
use crate::context::Context;
use crate::cosign::keys;
use crate::error::Exit;
use crate::fsutil::write_atomic;
use crate::lab::keys::{KeyPair, load_signing_key};
use crate::lab::secrets;
use crate::ui::Reporter;

pub fn generate(ctx: &Context, ui: &Reporter, args: &GenerateArgs) -> anyhow::Result<Exit> {
    let pair = KeyPair::at_prefix(&ctx.resolve(args.output_key_prefix.as_ref()));
    // Refuse before asking for a password nobody will use.
    pair.refuse_existing(args.force)?;
    let password = secrets::key_password(
        ctx,
        ui,
        args.password.password_file.as_deref(),
        "private key",
        true,
    )?;
    pair.write(ui, args.force, &password)?;
    if ui.json {
        ui.json_out(&serde_json::json!({
            "private_key": pair.private,
            "public_key": pair.public,
        }));
    }
    Ok(Exit::Ok)
}

pub fn public_key(ctx: &Context, ui: &Reporter, args: &PublicKeyArgs) -> anyhow::Result<Exit> {
    let path = ctx.resolve(&args.key);
    let key = load_signing_key(ctx, ui, &path, args.password.password_file.as_deref())?;
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
    Ok(Exit::Ok)
}
