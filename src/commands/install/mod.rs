//! `install` and `preflight`: the steps from a machine with Docker to a healthy
//! Harbor. Every step re-checks the real world first, so running the command
//! again finishes an interrupted run and skips what is done, saying so.

mod config;
mod daemon;
mod fetch;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::{InstallArgs, PreflightArgs};
use crate::context::Context;
use crate::digest::fingerprint;
use crate::error::{Exit, UserError};
use crate::installer::versions::{self, Version};
use crate::installer::{extract, preflight, render, run};
use crate::lab::secrets::Secret;
use crate::ui::Reporter;
use crate::workdir::Workdir;

use config::{admin_password, write_harbor_yml};
use daemon::configure_daemon;
pub use daemon::reload_daemon;
use fetch::{files_from_tarball, obtain_installer};

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub id: String,
    /// "done" (did work), "skipped" (already done), "checked" (a check that
    /// changes nothing), "planned" (dry run).
    pub status: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct InstallReport {
    pub harbor_url: String,
    pub hostname: String,
    pub http_port: u16,
    pub harbor_version: String,
    pub workdir: PathBuf,
    pub admin_password_file: PathBuf,
    pub daemon_config: PathBuf,
    pub dry_run: bool,
    pub steps: Vec<StepReport>,
    /// Harbor's admin password, for `up`'s demo (never serialised).
    #[serde(skip)]
    pub admin_password: Option<Secret>,
}

impl InstallReport {
    fn step(&mut self, ui: &Reporter, id: &str, status: &str, detail: String) {
        let verb = match status {
            "skipped" => "Skipping",
            "planned" => "Would",
            "checked" => "Checked",
            _ => "Done",
        };
        ui.status(verb, &format!("{id}: {detail}"));
        self.steps.push(StepReport {
            id: id.into(),
            status: status.into(),
            detail,
        });
    }
}

/// An HTTP client for downloads and Harbor's health endpoint.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    crate::http::client(crate::http::Profile::Transfer).context("setting up the HTTP client")
}

fn now(ctx: &Context) -> u64 {
    ctx.now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn resolve_host(host: &crate::cli::HostArgs) -> anyhow::Result<String> {
    let name = match &host.hostname {
        Some(h) => h.clone(),
        None => crate::net::detect_host_ip()?.to_string(),
    };
    crate::net::check_hostname(&name, host.allow_loopback_hostname)?;
    Ok(name)
}

/// Harbor's URL. `host` is a DNS name or an IPv4 address (check_hostname refuses
/// IPv6 literals, which Harbor cannot use).
pub(crate) fn base_url(host: &str, port: u16) -> String {
    if port == 80 {
        format!("http://{host}")
    } else {
        format!("http://{host}:{port}")
    }
}

/// Whose Harbor answers on host:port: this workdir's (its journal or the
/// register of labs says so), another lab's, or none. Any health document
/// counts as an answer, healthy or not.
async fn port_owner(
    ctx: &Context,
    client: &reqwest::Client,
    wd: &Workdir,
    host: &str,
    port: u16,
) -> crate::labs::PortOwner {
    let answers = crate::harbor::health::check(client, &base_url(host, port))
        .await
        .is_ok();
    let ours = wd
        .load()
        .ok()
        .and_then(|s| s.harbor)
        .is_some_and(|h| h.http_port == port && h.hostname == host);
    crate::labs::owner(ctx, port, answers, wd.root(), ours)
}

async fn run_preflight(
    ctx: &Context,
    ui: &Reporter,
    http_port: u16,
    port_owner: crate::labs::PortOwner,
    data_volume: &Path,
    daemon_config: &Path,
    show_ok: bool,
) -> (Vec<preflight::Check>, bool) {
    let checks = preflight::run(
        ctx,
        &preflight::Inputs {
            http_port,
            port_owner,
            data_volume,
            daemon_config,
            min_docker: (17, 6),
        },
    )
    .await;
    let mut ok = true;
    for c in &checks {
        match c.result.as_str() {
            "fail" => {
                ok = false;
                ui.error(&format!(
                    "preflight {}: {}; fix: {}",
                    c.name, c.detail, c.fix
                ));
            }
            "warn" => ui.warn(&format!("preflight {}: {} ({})", c.name, c.detail, c.fix)),
            _ if show_ok => ui.status("Ok", &format!("{}: {}", c.name, c.detail)),
            _ => {}
        }
    }
    (checks, ok)
}

pub async fn preflight_command(
    ctx: &Context,
    ui: &Reporter,
    args: &PreflightArgs,
) -> anyhow::Result<Exit> {
    let host = resolve_host(&args.host)?;
    let wd = Workdir::from_flag(ctx, args.workdir.workdir.as_deref());
    let client = http_client()?;
    let owner = port_owner(ctx, &client, &wd, &host, args.host.http_port).await;
    let (checks, ok) = run_preflight(
        ctx,
        ui,
        args.host.http_port,
        owner,
        &wd.default_data_volume(),
        &ctx.resolve(&args.daemon.path()),
        true,
    )
    .await;
    if ui.json {
        ui.json_out(&serde_json::json!({"hostname": host, "ok": ok, "checks": checks}));
    }
    if ok {
        Ok(Exit::Ok)
    } else {
        Err(UserError::environment("preflight failed; fix the problems above and run again").into())
    }
}

pub async fn command(ctx: &Context, ui: &Reporter, args: &InstallArgs) -> anyhow::Result<Exit> {
    let report = install(ctx, ui, args).await?;
    if ui.json {
        ui.json_out(&serde_json::to_value(&report)?);
    } else if !report.dry_run {
        ui.result_line(&format!(
            "Harbor is healthy at {} (admin password: {})",
            report.harbor_url,
            report.admin_password_file.display()
        ));
    }
    Ok(Exit::Ok)
}

/// The version to plan with before the installer is opened: --harbor-version,
/// else the one in --installer-file's name, else the newest we know. The bool says
/// whether the user chose it.
fn first_version(args: &InstallArgs) -> anyhow::Result<(Version, bool)> {
    if let Some(s) = &args.harbor_version {
        let v = Version::parse(s).ok_or_else(|| {
            UserError::usage(format!(
                "--harbor-version {s:?} is not vX.Y.Z (known: {})",
                versions::KNOWN_VERSIONS.join(", ")
            ))
        })?;
        return Ok((v, true));
    }
    let named = args.installer_file.as_deref().and_then(name_version);
    let newest = Version::parse(versions::DEFAULT_VERSION);
    let v = named
        .or(newest)
        .context("the built-in default version is not vX.Y.Z")?;
    Ok((v, false))
}

fn name_version(file: &Path) -> Option<Version> {
    versions::from_installer_name(file.file_name()?.to_str()?)
}

/// The version a local installer was packaged as: its prepare script's image tag,
/// else its file name.
fn installer_version(file: &Path, prepare: Option<&str>) -> Option<Version> {
    prepare
        .and_then(versions::from_prepare_script)
        .or_else(|| name_version(file))
}

/// The whole install, step by step. Used by `install` and `up`.
pub async fn install(
    ctx: &Context,
    ui: &Reporter,
    args: &InstallArgs,
) -> anyhow::Result<InstallReport> {
    let (mut version, explicit) = first_version(args)?;
    let wd = Workdir::from_flag(ctx, args.workdir.workdir.as_deref());
    let root = wd.root().to_path_buf();
    wd.check()?;
    let daemon_path = ctx.resolve(&args.daemon.path());
    let data_volume = args
        .data_volume
        .as_ref()
        .map_or_else(|| wd.default_data_volume(), |p| ctx.resolve(p));
    let dv = data_volume.display().to_string();
    if dv.contains(|c: char| c.is_whitespace() || "#'\"$".contains(c)) {
        return Err(UserError::usage(format!(
            "--data-volume {dv:?}: Harbor's prepare reads the path as one word; use a path without spaces, quotes, '#' or '$'"
        ))
        .into());
    }
    let host = resolve_host(&args.host)?;
    let port = args.host.http_port;
    let url = base_url(&host, port);
    let client = http_client()?;
    let mut report = InstallReport {
        harbor_url: url.clone(),
        hostname: host.clone(),
        http_port: port,
        harbor_version: version.tag(),
        workdir: root.clone(),
        admin_password_file: wd.admin_password_file(),
        daemon_config: daemon_path.clone(),
        dry_run: args.dry_run,
        steps: Vec::new(),
        admin_password: None,
    };

    // A daemon config we could not merge into fails now, before any step writes.
    let daemon_text = crate::docker::daemon_config::read(&daemon_path)?;
    crate::docker::daemon_config::merge(
        &daemon_path,
        daemon_text.as_deref(),
        &crate::docker::daemon_config::registry_entries(&host, port),
    )?;

    // 1. Preflight.
    let owner = port_owner(ctx, &client, &wd, &host, port).await;
    let (_, ok) = run_preflight(ctx, ui, port, owner, &data_volume, &daemon_path, false).await;
    if !ok {
        return Err(UserError::environment(
            "preflight failed; fix the problems above and run again",
        )
        .into());
    }
    report.step(
        ui,
        "preflight",
        "checked",
        "this machine can run Harbor".into(),
    );
    report.step(
        ui,
        "host",
        "checked",
        format!("Harbor will be published as {url}"),
    );

    // Everything so far only read. The workdir and its lock exist from here on,
    // when the first step is about to write: a refused command leaves nothing.
    let _lock = if args.dry_run { None } else { Some(wd.lock()?) };
    let mut state = wd.load()?;

    // 2. Download (or the local installer).
    let tarball =
        obtain_installer(ctx, ui, args, &version, &client, &mut report, &mut state).await?;
    if !args.dry_run {
        wd.save(&state)?;
    }

    // 3. Extract.
    let harbor_dir = wd.harbor_dir();
    let tar_fp = fingerprint(&[&tarball.1]);
    let extracted = harbor_dir.join("install.sh").is_file() && state.is_done("extract", &tar_fp);
    if extracted {
        report.step(
            ui,
            "extract",
            "skipped",
            format!("{} is already extracted", harbor_dir.display()),
        );
    } else if args.dry_run {
        report.step(
            ui,
            "extract",
            "planned",
            format!(
                "extract {} into {}",
                tarball.0.display(),
                harbor_dir.display()
            ),
        );
    } else {
        let n = extract::extract_installer(&tarball.0, &harbor_dir, &["harbor.yml"])?;
        state.record(
            "extract",
            &tar_fp,
            &tarball.0.display().to_string(),
            now(ctx),
        );
        wd.save(&state)?;
        report.step(
            ui,
            "extract",
            "done",
            format!("{n} entries into {}", harbor_dir.display()),
        );
    }

    // What the installer holds: from the extracted files, or (a dry run that has
    // not extracted this tarball) straight from the tarball.
    let [shipped, prepare] = if args.dry_run && !extracted {
        let mut f = files_from_tarball(&tarball.0, &["harbor/harbor.yml.tmpl", "harbor/prepare"]);
        [f[0].take(), f[1].take()]
    } else {
        ["harbor.yml.tmpl", "prepare"].map(|n| std::fs::read_to_string(harbor_dir.join(n)).ok())
    };
    // A local installer says which Harbor it is, and the rules for harbor.yml and
    // install.sh's flags follow that version.
    if let Some(file) = &args.installer_file
        && let Some(found) = installer_version(file, prepare.as_deref())
        && found != version
    {
        if explicit {
            return Err(UserError::usage(format!(
                "--installer-file {} holds Harbor {found}, but --harbor-version says {version}; \
                 pass --harbor-version {found} or leave it out",
                file.display()
            ))
            .into());
        }
        version = found;
        report.harbor_version = found.tag();
    }

    // 4. harbor.yml.
    let password_file = report.admin_password_file.clone();
    let password = admin_password(ctx, args, &password_file, args.dry_run)?;
    report.admin_password = Some(password.clone());
    let settings = render::Settings {
        hostname: host.clone(),
        http_port: port,
        admin_password: password.expose().to_string(),
        data_volume: data_volume.display().to_string(),
    };
    let (overlay, overlay_name) = match &args.lab_template {
        Some(p) => {
            let p = ctx.resolve(p);
            let text = crate::fsutil::read_limited_text(&p, crate::fsutil::CONFIG_FILE_MAX)
                .map_err(|e| UserError::usage(format!("--lab-template {}: {e}", p.display())))?;
            (text, p.display().to_string())
        }
        None => (
            render::LAB_TEMPLATE.to_string(),
            "harbor.yml.tmpl (built in)".to_string(),
        ),
    };
    if shipped.is_none() && !args.dry_run {
        return Err(UserError::usage(format!(
            "{}: missing or unreadable; the installer does not ship harbor.yml.tmpl",
            harbor_dir.join("harbor.yml.tmpl").display()
        ))
        .into());
    }
    let yml_path = wd.harbor_yml();
    let rendered = match shipped {
        Some(t) => Some(render::render(&t, &overlay, &overlay_name, &settings)?),
        None => None,
    };
    if let Some(rendered) = &rendered {
        render::validate(rendered, &version, args.host.allow_loopback_hostname)?;
        write_harbor_yml(
            ui,
            &mut report,
            &mut state,
            &yml_path,
            rendered,
            args.dry_run,
        )?;
        if !args.dry_run {
            wd.save(&state)?;
        }
    } else {
        report.step(
            ui,
            "harbor-yml",
            "planned",
            "render harbor.yml once the installer is downloaded".into(),
        );
    }
    let final_yml = std::fs::read_to_string(&yml_path).unwrap_or_default();
    if !args.dry_run {
        // The file in place (ours, or the user's kept version) must pass too.
        render::validate(&final_yml, &version, args.host.allow_loopback_hostname)
            .with_context(|| format!("checking {}", yml_path.display()))?;
    }

    // 5. Docker daemon config.
    configure_daemon(
        ctx,
        ui,
        &mut report,
        &mut state,
        &wd,
        &daemon_path,
        &host,
        port,
        args,
    )
    .await?;

    // 6. install.sh, 7. health.
    let yml_sha = crate::digest::sha256_digest(final_yml.as_bytes());
    let flags: Vec<String> = if args.with_trivy && version.install_flags().contains(&"--with-trivy")
    {
        vec!["--with-trivy".into()]
    } else {
        Vec::new()
    };
    let install_fp = fingerprint(&[&yml_sha, &flags.join(" "), &version.tag()]);
    let healthy_now = crate::harbor::health::check(&client, &url)
        .await
        .is_ok_and(|h| h.status == "healthy");
    if state.is_done("install", &install_fp) && healthy_now {
        report.step(
            ui,
            "install",
            "skipped",
            "install.sh already ran with this harbor.yml and Harbor is up".into(),
        );
    } else if args.dry_run {
        report.step(
            ui,
            "install",
            "planned",
            format!(
                "run {}/install.sh {}",
                harbor_dir.display(),
                flags.join(" ")
            ),
        );
    } else {
        let log = wd.install_log();
        run::run_install_sh(ctx, ui, &harbor_dir, &flags, &log).await?;
        state.record("install", &install_fp, &log.display().to_string(), now(ctx));
        wd.save(&state)?;
        report.step(
            ui,
            "install",
            "done",
            format!("install.sh finished (log: {})", log.display()),
        );
    }
    if args.dry_run {
        report.step(
            ui,
            "health",
            "planned",
            format!("wait for {url}/api/v2.0/health"),
        );
        return Ok(report);
    }
    if healthy_now {
        report.step(ui, "health", "skipped", format!("{url} is already healthy"));
    } else {
        let h = crate::harbor::health::wait_healthy(
            &client,
            ui,
            &url,
            Duration::from_secs(args.health_timeout),
        )
        .await?;
        report.step(
            ui,
            "health",
            "done",
            format!("{url} is {} ({} components)", h.status, h.components.len()),
        );
    }
    // harbor_yml_sha256 is only ever set by write_harbor_yml: it marks the file
    // as ours, so a user's kept version is never taken for ours later.
    let h = state.harbor.get_or_insert_with(Default::default);
    h.version = version.tag();
    h.hostname = host;
    h.http_port = port;
    h.url = url;
    h.data_volume = data_volume;
    h.admin_password_file = password_file;
    state.record(
        "health",
        &fingerprint(&[&report.harbor_url]),
        "healthy",
        now(ctx),
    );
    wd.save(&state)?;
    crate::labs::register(ctx, port, wd.root());
    Ok(report)
}
