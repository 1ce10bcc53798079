//! `harbor-lab tuf init|pin|refresh|status|client`: flags to the [`crate::tuf`]
//! library, passwords, publishing, and the report.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::cli::{TufClientAction, TufClientArgs, TufCommand, TufPublishArgs, TufRepoArgs};
use crate::context::Context;
use crate::error::{Exit, UserError};
use crate::lab::secrets;
use crate::registry::Reference;
use crate::tuf::client::{Store, Updater};
use crate::tuf::oci::OciLocation;
use crate::tuf::repo::{self, Lifetimes, Passwords, RepoPaths};
use crate::tuf::transport::Source;
use crate::ui::Reporter;
use crate::ui::render::Report;

pub async fn command(ctx: &Context, ui: &Reporter, cmd: TufCommand) -> super::Done {
    let report: TufReport = match cmd {
        TufCommand::Init(a) => init(ctx, ui, &a).await?,
        TufCommand::Pin(a) => pin(ctx, ui, &a).await?,
        TufCommand::Refresh(a) => refresh(ctx, ui, &a).await?,
        TufCommand::Status(a) => status(ctx, ui, &a.repo)?,
        TufCommand::Client(a) => conformance_client(ctx, ui, &a).await,
    };
    Ok(Box::new(report))
}

/// What a `tuf` subcommand reports: its `--json` document (the progress lines
/// were printed on the way) and its exit code.
struct TufReport {
    json: serde_json::Value,
    exit: Exit,
}

impl TufReport {
    fn ok(json: serde_json::Value) -> TufReport {
        TufReport {
            json,
            exit: Exit::Ok,
        }
    }
}

impl Report for TufReport {
    fn json(&self) -> serde_json::Value {
        self.json.clone()
    }
    fn exit(&self) -> Result<Exit, UserError> {
        Ok(self.exit)
    }
}

/// The repository directory: `--repo`, else `<workdir>/tuf`.
pub fn repo_paths(ctx: &Context, args: &TufRepoArgs) -> RepoPaths {
    let dir = match &args.repo {
        Some(r) => ctx.resolve(r),
        None => crate::workdir::Workdir::from_flag(ctx, args.workdir.workdir.as_deref()).tuf_repo(),
    };
    RepoPaths::new(dir)
}

use crate::lab::freshness::now;

fn lifetimes(p: &TufPublishArgs) -> Lifetimes {
    let mut l = Lifetimes::default();
    if let Some(t) = p.timestamp_expiry {
        l.timestamp = t;
    }
    l
}

/// The online keys' password, kept 0600 in the repository.
fn online_password(paths: &RepoPaths) -> anyhow::Result<String> {
    secrets::read_kept(&paths.online_password()).map(|s| s.expose().to_string()).ok_or_else(|| {
        UserError::usage(format!(
            "{}: missing: the snapshot and timestamp keys cannot be opened (re-create the repository with `harbor-lab tuf init --force`)",
            paths.online_password().display()
        ))
        .into()
    })
}

/// Check every --publish location before anything is written.
fn publish_targets(p: &TufPublishArgs) -> anyhow::Result<Vec<Result<OciLocation, PathBuf>>> {
    p.publish
        .iter()
        .map(|loc| {
            if loc.starts_with("oci://") {
                OciLocation::parse(loc)
                    .map(Ok)
                    .map_err(|e| UserError::usage(format!("--publish {e}")).into())
            } else if loc.contains("://") {
                Err(UserError::usage(format!(
                    "--publish {loc}: give a directory or oci://HOST/PROJECT/REPO[:tag]"
                ))
                .into())
            } else {
                Ok(Err(PathBuf::from(loc)))
            }
        })
        .collect()
}

async fn publish(
    ctx: &Context,
    ui: &Reporter,
    paths: &RepoPaths,
    p: &TufPublishArgs,
) -> anyhow::Result<Vec<String>> {
    let mut done = Vec::new();
    for target in publish_targets(p)? {
        match target {
            Ok(loc) => {
                let client = super::registry_client(ctx, &p.registry)?;
                let files = repo::published_files(paths)?;
                let digest = crate::tuf::oci::publish(&client, &loc, &files)
                    .await
                    .with_context(|| format!("publishing the TUF metadata to {}", loc.url()))?;
                ui.status("Published", &format!("{} ({digest})", loc.url()));
                done.push(loc.url());
            }
            Err(dir) => {
                let dir = ctx.resolve(&dir);
                let n = repo::publish_dir(paths, &dir)?;
                ui.status("Published", &format!("{n} files to {}", dir.display()));
                done.push(dir.display().to_string());
            }
        }
    }
    Ok(done)
}

async fn init(
    ctx: &Context,
    ui: &Reporter,
    args: &crate::cli::TufInitArgs,
) -> anyhow::Result<TufReport> {
    let paths = repo_paths(ctx, &args.repo);
    publish_targets(&args.publish)?;
    if !args.force && (paths.first_root().exists() || paths.key("root").exists()) {
        return Err(repo::RepoError::Exists(paths.dir.clone()).into());
    }
    let offline = secrets::key_password(
        ctx,
        ui,
        args.password.password_file.as_deref(),
        "Password for the TUF root and targets keys",
        true,
    )?
    .expose()
    .to_string();
    let online = secrets::random_password();
    secrets::keep(&paths.online_password(), &online)?;
    let online = online.expose().to_string();
    repo::init(
        &paths,
        &Passwords { offline, online },
        &lifetimes(&args.publish),
        now(ctx),
        args.force,
    )
    .await?;
    ui.status(
        "Created",
        &format!(
            "TUF repository {} (clients trust {})",
            paths.dir.display(),
            paths.first_root().display()
        ),
    );
    let published = publish(ctx, ui, &paths, &args.publish).await?;
    Ok(TufReport::ok(serde_json::json!({
        "ok": true, "repo": paths.dir, "root": paths.first_root(), "published": published,
    })))
}

async fn pin(
    ctx: &Context,
    ui: &Reporter,
    args: &crate::cli::TufPinArgs,
) -> anyhow::Result<TufReport> {
    let paths = repo_paths(ctx, &args.repo);
    publish_targets(&args.publish)?;
    repo::load(&paths)?;
    let images = Reference::parse_unique(&args.images)?;
    let key_path = ctx.resolve(&args.key);
    let pem = std::fs::read(&key_path).map_err(|e| {
        UserError::usage(format!("--key {}: cannot read it: {e}", key_path.display()))
    })?;
    let key = crate::cosign::keys::parse_public_key(&pem)
        .with_context(|| format!("--key {}", key_path.display()))?;
    let online = online_password(&paths)?;
    let client = super::registry_client(ctx, &args.publish.registry)?;
    let pins = crate::tuf::tags::resolve_pins(&client, &key, &images).await?;
    let offline = secrets::key_password(
        ctx,
        ui,
        args.password.password_file.as_deref(),
        "Password for the TUF targets key",
        false,
    )?
    .expose()
    .to_string();
    let version = repo::pin(
        &paths,
        &Passwords { offline, online },
        &pins,
        &lifetimes(&args.publish),
        now(ctx),
    )
    .await?;
    for p in &pins {
        ui.status("Pinned", &format!("{} to sha256:{}", p.name, p.sha256));
    }
    ui.status("Signed", &format!("targets version {version}"));
    let published = publish(ctx, ui, &paths, &args.publish).await?;
    let pinned: Vec<_> = pins
        .iter()
        .map(|p| serde_json::json!({"target": p.name, "digest": format!("sha256:{}", p.sha256), "length": p.length}))
        .collect();
    Ok(TufReport::ok(serde_json::json!({
        "ok": true, "targets_version": version, "pinned": pinned, "published": published,
    })))
}

async fn refresh(
    ctx: &Context,
    ui: &Reporter,
    args: &crate::cli::TufRefreshArgs,
) -> anyhow::Result<TufReport> {
    let paths = repo_paths(ctx, &args.repo);
    publish_targets(&args.publish)?;
    repo::load(&paths)?;
    let online = online_password(&paths)?;
    let l = lifetimes(&args.publish);
    let version = repo::refresh(&paths, &online, &l, now(ctx)).await?;
    let expires = repo::expiry(now(ctx), l.timestamp);
    ui.status(
        "Signed",
        &format!("timestamp version {version}, valid until {expires}"),
    );
    let published = publish(ctx, ui, &paths, &args.publish).await?;
    Ok(TufReport::ok(serde_json::json!({
        "ok": true, "timestamp_version": version, "expires": expires.to_string(), "published": published,
    })))
}

fn status(ctx: &Context, ui: &Reporter, args: &TufRepoArgs) -> anyhow::Result<TufReport> {
    let paths = repo_paths(ctx, args);
    let st = repo::status(&paths, now(ctx))?;
    if !ui.json {
        ui.result_line(&format!("TUF repository {}", paths.dir.display()));
        for r in &st.roles {
            ui.result_line(&format!(
                "  {:<10} version {:<4} expires {}",
                r.role, r.version, r.expires
            ));
        }
        if st.targets.is_empty() {
            ui.result_line("  no targets pinned yet");
        }
        for (name, digest) in &st.targets {
            ui.result_line(&format!("  {name} -> {digest}"));
        }
    }
    if let Some(ts) = st.roles.iter().find(|r| r.role == "timestamp") {
        if ts.expires_in_secs <= 0 {
            ui.warn(&format!(
                "the timestamp expired at {}: clients refuse the repository (freeze) until `harbor-lab tuf refresh`",
                ts.expires
            ));
        } else if ts.expires_in_secs < 86_400 {
            ui.warn(&format!(
                "the timestamp expires within a day ({}): run `harbor-lab tuf refresh` (from cron or CI)",
                ts.expires
            ));
        }
    }
    Ok(TufReport::ok(
        serde_json::json!({"ok": true, "repo": paths.dir, "status": st}),
    ))
}

/// The conformance protocol: exit 0 when the step fully succeeded, 1 otherwise.
async fn conformance_client(ctx: &Context, ui: &Reporter, args: &TufClientArgs) -> TufReport {
    let (ok, error) = match conformance_step(ctx, args).await {
        Ok(()) => (true, None),
        Err(e) => {
            ui.error(&format!("{e:#}"));
            (false, Some(format!("{e:#}")))
        }
    };
    TufReport {
        json: serde_json::json!({"ok": ok, "error": error}),
        exit: if ok { Exit::Ok } else { Exit::Internal },
    }
}

async fn conformance_step(ctx: &Context, args: &TufClientArgs) -> anyhow::Result<()> {
    let store = Store {
        dir: ctx.resolve(&args.metadata_dir),
    };
    if let TufClientAction::Init { trusted_root } = &args.action {
        let data = std::fs::read(ctx.resolve(trusted_root))
            .with_context(|| format!("reading {}", trusted_root.display()))?;
        store.init(&data)?;
        return Ok(());
    }
    let url = args
        .metadata_url
        .as_deref()
        .context("--metadata-url is required")?;
    let source = Source::open(url, None).map_err(anyhow::Error::msg)?;
    let mut updater = Updater::new(store, &source, now(ctx))?;
    updater.refresh().await?;
    if let TufClientAction::Download = &args.action {
        let base = args
            .target_base_url
            .as_deref()
            .context("--target-base-url is required")?;
        let dir = ctx.resolve(
            args.target_dir
                .as_deref()
                .context("--target-dir is required")?,
        );
        let targets = Source::open(base, None).map_err(anyhow::Error::msg)?;
        for name in &args.target_name {
            let info = updater
                .target(name)
                .await?
                .with_context(|| format!("{name}: no such target"))?;
            updater.download(name, &info, &targets, &dir).await?;
        }
    }
    Ok(())
}
