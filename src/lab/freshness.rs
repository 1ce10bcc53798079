//! Freshness with TUF, in the lab: the client side of `verify --tuf` (one
//! refresh of the metadata for every image, a trusted store per repository
//! URL), and the demo's freshness act (pin, update, roll back, freeze).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use p256::ecdsa::{SigningKey, VerifyingKey};

use crate::context::Context;
use crate::cosign::verify::{Verdict, verify_image};
use crate::error::UserError;
use crate::lab::secrets::{self, Secret};
use crate::registry::{Client, Reference};
use crate::tuf::TufError;
use crate::tuf::client::{Store, Updater};
use crate::tuf::metadata::TargetFile;
use crate::tuf::oci::OciLocation;
use crate::tuf::repo::{self, Lifetimes, Passwords, RepoPaths};
use crate::tuf::tags::{self, Freshness};
use crate::tuf::transport::Source;
use crate::ui::Reporter;

pub fn now(ctx: &Context) -> jiff::Timestamp {
    jiff::Timestamp::try_from(ctx.now()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// Where `verify --tuf` keeps the trusted metadata of one repository URL:
/// `$HARBOR_LAB_HOME`, else `$XDG_STATE_HOME`, else `~/.local/state`, then
/// `harbor-lab/tuf/<host-and-path>-<hash>`.
pub fn trusted_store(ctx: &Context, url: &str) -> PathBuf {
    let base = ctx
        .var("HARBOR_LAB_HOME")
        .filter(|d| !d.is_empty())
        .map(|d| ctx.resolve(Path::new(d)))
        .or_else(|| {
            ctx.var("XDG_STATE_HOME")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
        })
        .or_else(|| ctx.home().map(|h| h.join(".local/state")))
        .unwrap_or_else(|| ctx.resolve(Path::new(".harbor-lab-state")));
    base.join("harbor-lab/tuf")
        .join(crate::tuf::store_name(url))
}

/// What TUF says of each tag, fetched once for all images.
pub struct Pins {
    /// The target of each tag, in order (`None`: not pinned).
    pub targets: Vec<Option<TargetFile>>,
    /// The trusted targets version.
    pub version: u64,
    pub url: String,
}

/// Run the client workflow once against `location` (default: the directory
/// holding `root`), trusting `root` on first use of the store, and look up
/// every image's tag.
pub async fn refresh_pins(
    ctx: &Context,
    root: &Path,
    location: Option<&str>,
    registry: Arc<Client>,
    images: &[Reference],
    store: Option<PathBuf>,
) -> anyhow::Result<Pins> {
    let root_path = ctx.resolve(root);
    let root_bytes = std::fs::read(&root_path).map_err(|e| {
        UserError::usage(format!(
            "--tuf {}: cannot read it: {e}",
            root_path.display()
        ))
    })?;
    let location = match location {
        Some(u) => u.to_string(),
        None => root_path
            .parent()
            .unwrap_or(Path::new("/"))
            .display()
            .to_string(),
    };
    let source = Source::open(&location, Some(registry))
        .map_err(|e| UserError::usage(format!("--tuf-url {e}")))?;
    let store = Store {
        dir: store.unwrap_or_else(|| trusted_store(ctx, &source.display)),
    };
    if store.read("root.json").is_none() {
        crate::tuf::metadata::parse::<crate::tuf::metadata::Root>(&root_bytes, "root")
            .with_context(|| format!("--tuf {}", root_path.display()))?;
        store.init(&root_bytes)?;
    }
    let mut updater = Updater::new(store, &source, now(ctx))?;
    let targets = async {
        updater.refresh().await?;
        tags::targets_for(&mut updater, images).await
    }
    .await
    .with_context(|| format!("TUF metadata from {}", source.display))?;
    Ok(Pins {
        targets,
        version: updater.targets_version().unwrap_or(0),
        url: source.display.clone(),
    })
}

/// The Harbor project that holds the lab's TUF metadata (no cosign policy: the
/// metadata image is not signed, and a policy would refuse it with 412).
pub const METADATA_PROJECT: &str = "tuf";

/// What the demo's freshness act found.
#[derive(Debug, Clone, Default)]
pub struct ActOutcome {
    pub tuf_root: PathBuf,
    pub rollback_caught: bool,
    pub freeze_caught: bool,
    /// The real cosign's verdict on the rolled-back tag: "accepted",
    /// "refused", or "not run" when cosign is not on PATH.
    pub cosign_on_rollback: String,
}

/// Where the act reports each of its steps: (id, ok, detail).
pub type OnStep<'a> = &'a mut dyn FnMut(&str, bool, String);

/// Everything the act needs.
pub struct Act<'a> {
    pub ctx: &'a Context,
    pub ui: &'a Reporter,
    pub explain: bool,
    pub client: Arc<Client>,
    /// The demo image (signed), `host/project/name:tag`.
    pub image: &'a Reference,
    /// Opens the lab key; called only when a signature must be written.
    pub signing_key: &'a dyn Fn() -> anyhow::Result<SigningKey>,
    pub verifying_key: &'a VerifyingKey,
    pub public_key: &'a Path,
    /// The demo's private TUF repository.
    pub repo_dir: PathBuf,
    /// The signature format the demo signs in.
    pub format: crate::cosign::sign::Format,
}

impl Act<'_> {
    fn explain(&self, lines: &[String]) {
        if self.explain {
            for l in lines {
                self.ui.line(&format!("  $ {l}"));
            }
        }
    }
}

/// Publish the repository's current files to `loc`.
pub async fn publish_oci(
    client: &Client,
    paths: &RepoPaths,
    loc: &OciLocation,
) -> anyhow::Result<String> {
    let files = repo::published_files(paths)?;
    crate::tuf::oci::publish(client, loc, &files)
        .await
        .with_context(|| format!("publishing the TUF metadata to {}", loc.url()))
}

/// `verify --tuf` of one image, as the demo shows it.
async fn check(
    act: &Act<'_>,
    client: &Arc<Client>,
    root: &Path,
    loc: &OciLocation,
    image: &Reference,
    store: &Path,
) -> anyhow::Result<Result<Freshness, TufError>> {
    let pins = match refresh_pins(
        act.ctx,
        root,
        Some(&loc.url()),
        client.clone(),
        std::slice::from_ref(image),
        Some(store.to_path_buf()),
    )
    .await
    {
        Ok(p) => p,
        Err(e) => match e.chain().find_map(|c| c.downcast_ref::<TufError>()) {
            Some(
                t @ (TufError::Rollback { .. } | TufError::Freeze { .. } | TufError::Invalid(_)),
            ) => return Ok(Err(t.clone())),
            _ => return Err(e),
        },
    };
    let (fresh, verdict) = tags::verify_fresh(
        client,
        act.verifying_key,
        image,
        pins.targets[0].as_ref(),
        pins.version,
        &BTreeMap::new(),
        crate::cosign::verify::Accept::Any,
    )
    .await?;
    if let (Freshness::Fresh { digest }, Some(v)) = (&fresh, &verdict)
        && !matches!(v, Verdict::Verified { .. })
    {
        anyhow::bail!("{image} is pinned at {digest}, but its signature does not verify: {v:?}");
    }
    Ok(Ok(fresh))
}

/// `original`'s manifest with the same layers and a config that carries one
/// more label (`key=value`), the new config blob already pushed: a new digest
/// for the same content (the demo's tampered image, a second release).
pub(crate) async fn relabelled(
    client: &Client,
    image: &Reference,
    original: &crate::registry::Manifest,
    key: &str,
    value: &str,
) -> anyhow::Result<serde_json::Value> {
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&original.bytes).context("the pushed manifest is not JSON")?;
    let config_digest = manifest["config"]["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let config = client.get_blob(image, &config_digest, 16 << 20).await?;
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&config).context("the image config is not JSON")?;
    if !cfg["config"].is_object() {
        cfg["config"] = serde_json::json!({});
    }
    if !cfg["config"]["Labels"].is_object() {
        cfg["config"]["Labels"] = serde_json::json!({});
    }
    cfg["config"]["Labels"][key] = serde_json::json!(value);
    let new_config = Bytes::from(serde_json::to_vec(&cfg)?);
    let new_digest = crate::digest::sha256_digest(&new_config);
    client
        .put_blob(image, &new_digest, new_config.clone())
        .await?;
    manifest["config"]["digest"] = serde_json::json!(new_digest);
    manifest["config"]["size"] = serde_json::json!(new_config.len());
    Ok(manifest)
}

/// Push a variant of `image` (its config relabelled) to `tag`; its digest.
async fn push_variant(
    client: &Client,
    image: &Reference,
    tag: &str,
    label: &str,
) -> anyhow::Result<crate::cosign::sign::Subject> {
    let original = client
        .get_manifest(image)
        .await?
        .ok_or_else(|| UserError::remote(format!("{image} disappeared")))?;
    let manifest = relabelled(client, image, &original, "org.harbor-lab.release", label).await?;
    let media_type = manifest["mediaType"]
        .as_str()
        .unwrap_or(&original.media_type)
        .to_string();
    let bytes = Bytes::from(serde_json::to_vec(&manifest)?);
    let size = bytes.len() as i64;
    let digest = client
        .put_manifest(&image.with_tag(tag), bytes, &media_type)
        .await?;
    // What we pushed is the signature's subject: in a project that enforces
    // cosign signatures Harbor answers 412 to reading it back before it is signed.
    Ok(crate::cosign::sign::Subject {
        digest,
        media_type,
        size,
    })
}

/// Copy what `from` points at to `tag` (as `crane tag` does); its digest.
async fn retag(client: &Client, from: &Reference, tag: &str) -> anyhow::Result<String> {
    let m = client
        .get_manifest(from)
        .await?
        .ok_or_else(|| UserError::remote(format!("{from} disappeared")))?;
    Ok(client
        .put_manifest(&from.with_tag(tag), m.bytes, &m.media_type)
        .await?)
}

/// The real cosign's verdict on `image` when it is on PATH: (verdict, output).
fn cosign_verdict(act: &Act<'_>, image: &Reference) -> (String, String) {
    let Some(cosign) = act.ctx.which("cosign") else {
        return ("not run".into(), "cosign is not on PATH".into());
    };
    let out = std::process::Command::new(cosign)
        .args(["verify", "--key"])
        .arg(act.public_key)
        .args(["--insecure-ignore-tlog=true", "--allow-insecure-registry"])
        .arg(image.to_string())
        .env_remove("COSIGN_PASSWORD")
        .stdin(std::process::Stdio::null())
        .output();
    match out {
        Ok(o) => (
            if o.status.success() {
                "accepted"
            } else {
                "refused"
            }
            .into(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stderr),
                String::from_utf8_lossy(&o.stdout)
            ),
        ),
        Err(e) => ("not run".into(), format!("cosign: {e}")),
    }
}

/// The demo's freshness act. `loc` is where the metadata is published.
pub async fn run_act(
    act: &Act<'_>,
    loc: &OciLocation,
    on_step: OnStep<'_>,
) -> anyhow::Result<ActOutcome> {
    let mut out = ActOutcome::default();
    let client = act.client.clone();
    let paths = RepoPaths::new(act.repo_dir.clone());
    let root = paths.first_root();
    out.tuf_root = root.clone();
    let store = act.repo_dir.join("client");
    let _ = std::fs::remove_dir_all(&store);
    // The act's own tag, never the demo image's (which the earlier acts keep).
    let tag = if act.image.tag.as_deref() == Some("v1") {
        "v1-tuf"
    } else {
        "v1"
    };
    let v1 = act.image.with_tag(tag);
    let lifetimes = Lifetimes::default();
    let now = || now(act.ctx);

    // The demo's own repository: its passwords are made up and kept with it.
    let offline = secrets::random_password();
    let online = secrets::random_password();
    let passwords = Passwords {
        offline: offline.expose().into(),
        online: online.expose().into(),
    };
    repo::init(&paths, &passwords, &lifetimes, now(), true).await?;
    secrets::keep(
        &act.repo_dir.join("keys/offline.password"),
        &Secret::new(passwords.offline.clone()),
    )?;
    secrets::keep(&paths.online_password(), &online)?;

    // 1. Pin the signed image as v1.
    let step = "tuf-pin";
    act.explain(&[
        format!("harbor-lab tuf init --repo {}", paths.dir.display()),
        format!(
            "harbor-lab tuf pin --repo {} --key {} {v1} --publish {}",
            paths.dir.display(),
            act.public_key.display(),
            loc.url()
        ),
        format!(
            "harbor-lab verify --key {} --tuf {} --tuf-url {} {v1}",
            act.public_key.display(),
            root.display(),
            loc.url()
        ),
        "# TUF adds what cosign cannot say: which digest v1 must have now, in signed, versioned metadata".into(),
    ]);
    let first = retag(&client, act.image, tag).await?;
    let pins = tags::resolve_pins(&client, act.verifying_key, std::slice::from_ref(&v1)).await?;
    let version = repo::pin(&paths, &passwords, &pins, &lifetimes, now()).await?;
    publish_oci(&client, &paths, loc).await?;
    let r = check(act, &client, &root, loc, &v1, &store).await?;
    let ok = matches!(&r, Ok(Freshness::Fresh { .. }));
    on_step(
        step,
        ok,
        format!(
            "pinned {v1} to {first} (targets version {version}) in {}; verify --tuf: {}",
            loc.url(),
            describe(&v1, &r)
        ),
    );

    // 2. A new release under the same tag: push, sign, pin.
    let step = "tuf-update";
    act.explain(&[
        format!("docker push {v1}   # release 2, same tag"),
        format!("cosign sign --key cosign.key --tlog-upload=false {v1}"),
        format!(
            "harbor-lab tuf pin --repo {} --key {} {v1} --publish {}",
            paths.dir.display(),
            act.public_key.display(),
            loc.url()
        ),
        "# the targets version goes up; a client never goes back to an older one".into(),
    ]);
    let pushed = push_variant(&client, act.image, tag, "2").await?;
    let second = pushed.digest.clone();
    let opts = crate::cosign::sign::SignOptions {
        format: act.format,
        annotations: BTreeMap::new(),
        created: humantime::format_rfc3339_seconds(act.ctx.now()).to_string(),
        slots: None,
        lock_dir: Some(act.ctx.locks_dir()),
    };
    // Release 2 is the same bytes every run: a re-run finds it signed by the
    // lab key already and needs no private key.
    let release = v1.with_digest(&second);
    let signed_already = matches!(
        verify_image(&client, act.verifying_key, &release, &BTreeMap::new()).await,
        Ok(Verdict::Verified { .. })
    );
    if !signed_already {
        let key = (act.signing_key)()?;
        crate::cosign::sign::sign(&client, &key, &release, Some(pushed), &opts).await?;
    }
    let pins = tags::resolve_pins(&client, act.verifying_key, std::slice::from_ref(&v1)).await?;
    let version = repo::pin(&paths, &passwords, &pins, &lifetimes, now()).await?;
    publish_oci(&client, &paths, loc).await?;
    let r = check(act, &client, &root, loc, &v1, &store).await?;
    let ok = matches!(&r, Ok(Freshness::Fresh { digest }) if *digest == second);
    on_step(
        step,
        ok,
        format!(
            "pushed and signed {second} as {v1}, pinned it (targets version {version}); verify --tuf: {}",
            describe(&v1, &r)
        ),
    );

    // 3. The attacker moves v1 back to the old, validly signed digest.
    let step = "tuf-rollback";
    act.explain(&[
        format!("crane tag {}@{first} {tag}   # the attacker, with write access to the registry", v1.name()),
        format!("cosign verify --key {} --insecure-ignore-tlog {v1}   # accepts: the old digest is signed", act.public_key.display()),
        format!("harbor-lab verify --key {} --tuf {} --tuf-url {} {v1}   # refuses: tag moved", act.public_key.display(), root.display(), loc.url()),
    ]);
    retag(&client, &v1.with_digest(&first), tag).await?;
    let (verdict, output) = cosign_verdict(act, &v1);
    out.cosign_on_rollback = verdict.clone();
    for l in output.lines().filter(|l| !l.trim().is_empty()) {
        act.ui.line(&format!("  cosign: {l}"));
    }
    let plain = verify_image(&client, act.verifying_key, &v1, &BTreeMap::new()).await?;
    let plain_ok = matches!(plain, Verdict::Verified { .. });
    let r = check(act, &client, &root, loc, &v1, &store).await?;
    let caught = matches!(
        &r,
        Ok(Freshness::TagMoved { .. }) | Err(TufError::Rollback { .. })
    );
    on_step(
        step,
        caught,
        format!(
            "moved {v1} back to {first}: cosign {}, plain verify {}; verify --tuf: {}",
            verdict,
            if plain_ok { "accepts it" } else { "refuses it" },
            describe(&v1, &r)
        ),
    );
    out.rollback_caught = caught;
    retag(&client, &v1.with_digest(&second), tag).await?;

    // 4. Freeze: the registry keeps serving metadata that has expired.
    let step = "tuf-freeze";
    act.explain(&[
        format!(
            "harbor-lab tuf refresh --repo {} --timestamp-expiry 2s --publish {}",
            paths.dir.display(),
            loc.url()
        ),
        "# ... and no heartbeat after it: the registry withholds every newer timestamp".into(),
        format!(
            "harbor-lab verify --key {} --tuf {} --tuf-url {} {v1}   # refuses: freeze",
            act.public_key.display(),
            root.display(),
            loc.url()
        ),
        "# TUF adds a short-lived timestamp: a withheld update shows within its lifetime".into(),
    ]);
    let short = Lifetimes {
        timestamp: Duration::from_secs(2),
        ..lifetimes
    };
    repo::refresh(&paths, &passwords.online, &short, now()).await?;
    publish_oci(&client, &paths, loc).await?;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let r = check(act, &client, &root, loc, &v1, &store).await?;
    let frozen = matches!(&r, Err(TufError::Freeze { .. }));
    out.freeze_caught = frozen;
    on_step(
        step,
        frozen,
        format!(
            "let the 2-second timestamp expire; verify --tuf: {}",
            describe(&v1, &r)
        ),
    );
    // The heartbeat brings the repository back.
    repo::refresh(&paths, &passwords.online, &lifetimes, now()).await?;
    publish_oci(&client, &paths, loc).await?;
    Ok(out)
}

fn describe(image: &Reference, r: &Result<Freshness, TufError>) -> String {
    match r {
        Ok(Freshness::Fresh { digest }) => format!("passes ({digest}, signature verified)"),
        Ok(other) => format!("refuses: {}", other.message(image)),
        Err(e) => format!("refuses: {e}"),
    }
}
