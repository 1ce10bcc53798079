//! `install` and `preflight`: the steps from a machine with Docker to a healthy
//! Harbor. Every step re-checks the real world first, so running the command
//! again finishes an interrupted run and skips what is done, saying so.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::{InstallArgs, PreflightArgs};
use crate::context::Context;
use crate::docker::daemon_config;
use crate::error::{EXIT_OK, UserError};
use crate::fsutil::{backup_once, write_atomic};
use crate::installer::versions::Version;
use crate::installer::{download, extract, preflight, render, run};
use crate::plan::{State, Workdir, fingerprint};
use crate::ui::{Reporter, prompt};

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub id: String,
    /// "done" (did work), "skipped" (already done), "planned" (dry run).
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
}

impl InstallReport {
    fn step(&mut self, ui: &Reporter, id: &str, status: &str, detail: String) {
        let verb = match status {
            "skipped" => "Skipping",
            "planned" => "Would",
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

/// An HTTP client for downloads and Harbor: no cookie store (Harbor's CSRF).
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("harbor-lab/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(Duration::from_secs(60))
        .build()
        .context("setting up the HTTP client")
}

pub fn workdir_path(ctx: &Context, arg: &Option<PathBuf>) -> PathBuf {
    arg.as_ref()
        .map_or_else(|| ctx.state_dir(), |p| ctx.resolve(p))
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

fn base_url(host: &str, port: u16) -> String {
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    if port == 80 {
        format!("http://{host}")
    } else {
        format!("http://{host}:{port}")
    }
}

async fn run_preflight(
    ctx: &Context,
    ui: &Reporter,
    http_port: u16,
    harbor_answers: bool,
    data_volume: &Path,
    daemon_config: &Path,
) -> (Vec<preflight::Check>, bool) {
    let checks = preflight::run(
        ctx,
        &preflight::Inputs {
            http_port,
            harbor_answers,
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
            _ => {}
        }
    }
    (checks, ok)
}

pub async fn preflight_command(
    ctx: &Context,
    ui: &Reporter,
    args: &PreflightArgs,
) -> anyhow::Result<u8> {
    let host = resolve_host(&args.host)?;
    let workdir = workdir_path(ctx, &args.workdir.workdir);
    let client = http_client()?;
    let answers = crate::harbor::health::check(&client, &base_url(&host, args.host.http_port))
        .await
        .is_ok();
    let (checks, ok) = run_preflight(
        ctx,
        ui,
        args.host.http_port,
        answers,
        &workdir.join("data"),
        &ctx.resolve(&args.daemon.daemon_config),
    )
    .await;
    for c in checks.iter().filter(|c| c.result == "ok") {
        ui.status("Ok", &format!("{}: {}", c.name, c.detail));
    }
    if ui.json {
        ui.json_out(&serde_json::json!({"hostname": host, "ok": ok, "checks": checks}));
    }
    if ok {
        Ok(EXIT_OK)
    } else {
        Err(UserError::environment("preflight failed; fix the problems above and run again").into())
    }
}

pub async fn command(ctx: &Context, ui: &Reporter, args: &InstallArgs) -> anyhow::Result<u8> {
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
    Ok(EXIT_OK)
}

/// The whole install, step by step. Used by `install` and `up`.
pub async fn install(
    ctx: &Context,
    ui: &Reporter,
    args: &InstallArgs,
) -> anyhow::Result<InstallReport> {
    let version = Version::parse(&args.harbor_version).ok_or_else(|| {
        UserError::usage(format!(
            "--harbor-version {:?} is not vX.Y.Z (known: {})",
            args.harbor_version,
            crate::installer::versions::KNOWN_VERSIONS.join(", ")
        ))
    })?;
    let root = workdir_path(ctx, &args.workdir.workdir);
    let wd = if args.dry_run {
        Workdir::open_unlocked(&root)
    } else {
        Workdir::open_locked(&root)?
    };
    let mut state = wd.load()?;
    let daemon_path = ctx.resolve(&args.daemon.daemon_config);
    let data_volume = args
        .data_volume
        .as_ref()
        .map_or_else(|| root.join("data"), |p| ctx.resolve(p));
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
        admin_password_file: root.join("admin-password"),
        daemon_config: daemon_path.clone(),
        dry_run: args.dry_run,
        steps: Vec::new(),
    };

    // 1. Preflight.
    let answers = crate::harbor::health::check(&client, &url)
        .await
        .is_ok_and(|h| h.status == "healthy");
    let (_, ok) = run_preflight(ctx, ui, port, answers, &data_volume, &daemon_path).await;
    if !ok {
        return Err(UserError::environment(
            "preflight failed; fix the problems above and run again",
        )
        .into());
    }
    report.step(
        ui,
        "preflight",
        "done",
        "this machine can run Harbor".into(),
    );
    report.step(
        ui,
        "host",
        "done",
        format!("Harbor will be published as {url}"),
    );

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

    // 4. harbor.yml.
    let password_file = report.admin_password_file.clone();
    let password = admin_password(ctx, args, &password_file, args.dry_run)?;
    let settings = render::Settings {
        hostname: host.clone(),
        http_port: port,
        admin_password: password,
        data_volume: data_volume.display().to_string(),
    };
    let (overlay, overlay_name) = match &args.lab_template {
        Some(p) => {
            let p = ctx.resolve(p);
            let text = std::fs::read_to_string(&p)
                .map_err(|e| UserError::usage(format!("--lab-template {}: {e}", p.display())))?;
            (text, p.display().to_string())
        }
        None => (
            render::LAB_TEMPLATE.to_string(),
            "harbor.yml.tmpl (built in)".to_string(),
        ),
    };
    let shipped = match std::fs::read_to_string(harbor_dir.join("harbor.yml.tmpl")) {
        Ok(t) => Some(t),
        Err(_) if args.dry_run => template_from_tarball(&tarball.0),
        Err(e) => {
            return Err(UserError::usage(format!(
                "{}: {e}; the installer does not ship harbor.yml.tmpl",
                harbor_dir.join("harbor.yml.tmpl").display()
            ))
            .into());
        }
    };
    let yml_path = harbor_dir.join("harbor.yml");
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
    let yml_sha = crate::registry::sha256_digest(final_yml.as_bytes());
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
        let log = root.join("install.log");
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
    Ok(report)
}

/// The installer tarball on disk and its md5.
async fn obtain_installer(
    ctx: &Context,
    ui: &Reporter,
    args: &InstallArgs,
    version: &Version,
    client: &reqwest::Client,
    report: &mut InstallReport,
    state: &mut State,
) -> anyhow::Result<(PathBuf, String)> {
    if let Some(p) = &args.installer_file {
        let p = ctx.resolve(p);
        if !p.is_file() {
            return Err(UserError::usage(format!(
                "--installer-file {}: no such file",
                p.display()
            ))
            .into());
        }
        let md5 = file_md5(&p).with_context(|| format!("reading {}", p.display()))?;
        report.step(
            ui,
            "download",
            "skipped",
            format!("using the local installer {}", p.display()),
        );
        return Ok((p, md5));
    }
    let asset = if args.offline {
        version.offline_asset()
    } else {
        version.online_asset()
    };
    let base = args.download_base.trim_end_matches('/');
    let url = format!("{base}/{}/{asset}", version.tag());
    let sums_url = format!("{base}/{}/md5sum", version.tag());
    let dir = ctx.cache_dir().join("downloads").join(version.tag());
    let dest = dir.join(&asset);
    let stored = dir.join(format!("{asset}.md5"));
    // Verified before and unchanged since (same size and mtime): no network, no re-hash.
    let stamp = |p: &Path| {
        std::fs::metadata(p).ok().map(|m| {
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{}:{mtime}", m.len())
        })
    };
    if let (Some(st), Ok(md5)) = (stamp(&dest), std::fs::read_to_string(&stored)) {
        let md5 = md5.trim().to_string();
        if state.is_done("download", &fingerprint(&[&url, &md5, &st])) {
            report.step(
                ui,
                "download",
                "skipped",
                format!("{} is cached and verified (md5 {md5})", dest.display()),
            );
            return Ok((dest, md5));
        }
    }
    let expected = match download::fetch_text(client, &sums_url).await {
        Ok(text) => Some(download::md5_for(&text, &asset).ok_or_else(|| {
            download::DownloadError::NoChecksum {
                url: sums_url.clone(),
                asset: asset.clone(),
            }
        })?),
        // Offline re-run: trust the checksum recorded when the file was verified.
        Err(e) => match std::fs::read_to_string(&stored) {
            Ok(s) if dest.is_file() => {
                ui.warn(&format!(
                    "{e}; using the cached, previously verified {}",
                    dest.display()
                ));
                Some(s.trim().to_string())
            }
            _ => return Err(e.into()),
        },
    };
    if args.dry_run {
        let cached = dest.is_file() && file_md5(&dest).ok() == expected;
        let status = if cached { "skipped" } else { "planned" };
        let detail = if cached {
            format!("{} is cached", dest.display())
        } else {
            format!("download {url}")
        };
        report.step(ui, "download", status, detail);
        return Ok((dest, expected.unwrap_or_default()));
    }
    let spec = download::Spec {
        url: url.clone(),
        dest: dest.clone(),
        md5: expected,
        sha256: None,
    };
    let got = download::download(client, ui, &spec, 4).await?;
    write_atomic(&stored, format!("{}\n", got.md5).as_bytes(), 0o644)
        .with_context(|| format!("writing {}", stored.display()))?;
    if let Some(st) = stamp(&dest) {
        state.record(
            "download",
            &fingerprint(&[&url, &got.md5, &st]),
            &dest.display().to_string(),
            now(ctx),
        );
    }
    if got.cached {
        report.step(
            ui,
            "download",
            "skipped",
            format!("{} is cached (md5 {})", dest.display(), got.md5),
        );
    } else {
        let resumed = if got.resumed_from > 0 {
            format!(", resumed at byte {}", got.resumed_from)
        } else {
            String::new()
        };
        report.step(
            ui,
            "download",
            "done",
            format!("{url} ({} bytes, md5 ok{resumed})", got.bytes),
        );
    }
    Ok((dest, got.md5))
}

fn file_md5(p: &Path) -> std::io::Result<String> {
    use md5::{Digest, Md5};
    use std::io::Read;
    let mut f = std::fs::File::open(p)?;
    let mut h = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(hex::encode(h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

/// Read `harbor/harbor.yml.tmpl` straight from a tarball (dry runs: nothing is written).
fn template_from_tarball(path: &Path) -> Option<String> {
    use std::io::Read;
    let f = std::fs::File::open(path).ok()?;
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    for e in ar.entries().ok()? {
        let mut e = e.ok()?;
        if e.path().ok()?.as_os_str() == "harbor/harbor.yml.tmpl" {
            let mut s = String::new();
            e.by_ref().take(1 << 20).read_to_string(&mut s).ok()?;
            return Some(s);
        }
    }
    None
}

/// The admin password: from --admin-password-file, else the one kept in the
/// workdir, else a new random one (kept 0600). Never printed.
fn admin_password(
    ctx: &Context,
    args: &InstallArgs,
    kept: &Path,
    dry_run: bool,
) -> anyhow::Result<String> {
    if let Some(f) = &args.admin_password_file {
        let p = super::read_secret_file(ctx, f, "--admin-password-file")?;
        if p.is_empty() {
            return Err(UserError::usage(format!(
                "--admin-password-file {}: the password is empty",
                f.display()
            ))
            .into());
        }
        if !dry_run {
            super::keep_secret(kept, &p)?;
        }
        return Ok(p);
    }
    if let Some(p) = super::kept_secret(kept) {
        return Ok(p);
    }
    let p = random_password();
    if !dry_run {
        super::keep_secret(kept, &p)?;
    }
    Ok(p)
}

/// 24 characters from [A-Za-z0-9] (no `$`, which Harbor mangles), with at
/// least one letter so YAML never reads it as a number.
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    loop {
        let mut raw = [0u8; 24];
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
            return s;
        }
    }
}

fn diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(old_name, new_name)
        .to_string()
}

fn write_harbor_yml(
    ui: &Reporter,
    report: &mut InstallReport,
    state: &mut State,
    path: &Path,
    rendered: &str,
    dry_run: bool,
) -> anyhow::Result<()> {
    let ours = crate::registry::sha256_digest(rendered.as_bytes());
    let existing = std::fs::read_to_string(path).ok();
    let last_written = state.harbor.as_ref().map(|h| h.harbor_yml_sha256.clone());
    match &existing {
        Some(e) if e == rendered => {
            report.step(
                ui,
                "harbor-yml",
                "skipped",
                format!("{} is up to date", path.display()),
            );
            return Ok(());
        }
        Some(e) => {
            let edited =
                last_written.as_deref() != Some(&crate::registry::sha256_digest(e.as_bytes()));
            let d = diff(
                e,
                rendered,
                &path.display().to_string(),
                "harbor-lab's rendering",
            );
            if dry_run {
                ui.line(&d);
                report.step(
                    ui,
                    "harbor-yml",
                    "planned",
                    format!("update {}", path.display()),
                );
                return Ok(());
            }
            if edited {
                ui.line(&format!(
                    "{} was edited since harbor-lab wrote it:\n{d}",
                    path.display()
                ));
                let replace = prompt::confirm(
                    ui,
                    &format!("Replace your edited {}? (a backup is kept)", path.display()),
                    "pass --yes to replace it (a backup is kept), or put your change in the lab template",
                )?;
                if !replace {
                    report.step(
                        ui,
                        "harbor-yml",
                        "skipped",
                        format!("kept your edited {}", path.display()),
                    );
                    return Ok(());
                }
            }
            let backup =
                backup_once(path).with_context(|| format!("backing up {}", path.display()))?;
            ui.line(&format!(
                "Backup of the previous harbor.yml: {}",
                backup.display()
            ));
        }
        None if dry_run => {
            ui.line(&format!(
                "--- {} (would be written) ---\n{rendered}",
                path.display()
            ));
            report.step(
                ui,
                "harbor-yml",
                "planned",
                format!("write {}", path.display()),
            );
            return Ok(());
        }
        None => {}
    }
    write_atomic(path, rendered.as_bytes(), 0o600)
        .with_context(|| format!("writing {}", path.display()))?;
    let h = state.harbor.get_or_insert_with(Default::default);
    h.harbor_yml_sha256 = ours;
    report.step(
        ui,
        "harbor-yml",
        "done",
        format!("wrote {}", path.display()),
    );
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn configure_daemon(
    ctx: &Context,
    ui: &Reporter,
    report: &mut InstallReport,
    state: &mut State,
    wd: &Workdir,
    path: &Path,
    host: &str,
    port: u16,
    args: &InstallArgs,
) -> anyhow::Result<()> {
    let entries = daemon_config::registry_entries(host, port);
    let current = daemon_config::read(path)?;
    let merge = daemon_config::merge(path, current.as_deref(), &entries)?;
    match &merge.new_text {
        None => report.step(
            ui,
            "daemon-config",
            "skipped",
            format!("{} already lists {}", path.display(), entries.join(", ")),
        ),
        Some(new) if args.dry_run => {
            ui.line(&diff(
                current.as_deref().unwrap_or(""),
                new,
                &path.display().to_string(),
                "with insecure-registries",
            ));
            report.step(
                ui,
                "daemon-config",
                "planned",
                format!("add {} to {}", merge.added.join(", "), path.display()),
            );
            return Ok(());
        }
        Some(new) => {
            if !prompt::confirm(
                ui,
                &format!(
                    "Add {} to insecure-registries in {} and reload dockerd?",
                    merge.added.join(", "),
                    path.display()
                ),
                "pass --yes to let harbor-lab change the Docker daemon config",
            )? {
                return Err(UserError::usage(format!(
                    "left {} unchanged; Docker cannot push to Harbor over HTTP without it",
                    path.display()
                ))
                .into());
            }
            let backup = if current.is_some() {
                Some(backup_once(path).with_context(|| format!("backing up {}", path.display()))?)
            } else {
                None
            };
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            write_atomic(path, new.as_bytes(), 0o644)
                .with_context(|| format!("writing {}", path.display()))?;
            if state.daemon_config.is_none() {
                state.daemon_config = Some(crate::plan::DaemonConfigRecord {
                    path: path.to_path_buf(),
                    backup,
                    added: merge.added.clone(),
                });
            } else if let Some(rec) = state.daemon_config.as_mut() {
                rec.added.extend(merge.added.clone());
            }
            wd.save(state)?;
            report.step(
                ui,
                "daemon-config",
                "done",
                format!("added {} to {}", merge.added.join(", "), path.display()),
            );
        }
    }
    if args.dry_run || args.daemon.no_daemon_reload {
        if args.daemon.no_daemon_reload {
            report.step(ui, "daemon-reload", "skipped", "--no-daemon-reload".into());
        }
        return Ok(());
    }
    reload_daemon(ctx, ui, report, path, &entries).await
}

/// Make the running dockerd pick up `path`: SIGHUP, then confirm through `info`.
pub async fn reload_daemon(
    ctx: &Context,
    ui: &Reporter,
    report: &mut InstallReport,
    path: &Path,
    entries: &[String],
) -> anyhow::Result<()> {
    let docker = crate::docker::engine::connect(ctx).await?;
    if !entries.is_empty()
        && daemon_config::engine_lists_insecure(&docker, entries)
            .await
            .unwrap_or(false)
    {
        report.step(
            ui,
            "daemon-reload",
            "skipped",
            "the engine already treats the registry as insecure".into(),
        );
        return Ok(());
    }
    let Some(pid) = daemon_config::dockerd_for(path) else {
        return Err(UserError::environment(format!(
            "no running dockerd reads {}; restart Docker (systemctl restart docker) or point --daemon-config at the file it reads",
            path.display()
        ))
        .into());
    };
    daemon_config::sighup(pid)?;
    if entries.is_empty() || daemon_config::confirm(&docker, entries, Duration::from_secs(10)).await
    {
        report.step(
            ui,
            "daemon-reload",
            "done",
            format!(
                "dockerd (pid {pid}) reloaded {} without a restart",
                path.display()
            ),
        );
        return Ok(());
    }
    // SIGHUP did not take: a restart stops containers, so only with consent.
    let restart = prompt::confirm(
        ui,
        "dockerd did not pick up the change on reload; restart Docker (running containers stop)?",
        "pass --yes to allow a Docker restart, or restart it yourself",
    )?;
    if !restart || ctx.which("systemctl").is_none() {
        return Err(UserError::environment(format!(
            "dockerd does not list {} as insecure yet; restart Docker and run again",
            entries.join(", ")
        ))
        .into());
    }
    let status = tokio::process::Command::new("systemctl")
        .args(["restart", "docker"])
        .status()
        .await?;
    if !status.success() || !daemon_config::confirm(&docker, entries, Duration::from_secs(60)).await
    {
        return Err(UserError::environment(
            "restarting Docker did not apply the change; check `journalctl -u docker`",
        )
        .into());
    }
    report.step(ui, "daemon-reload", "done", "Docker restarted".into());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_safe_for_harbor_and_yaml() {
        for _ in 0..50 {
            let p = random_password();
            assert_eq!(p.len(), 24);
            assert!(p.bytes().all(|b| b.is_ascii_alphanumeric()));
            assert_eq!(render::yaml_scalar(&p), p);
        }
    }
}
