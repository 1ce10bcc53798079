//! `install`: from a machine with Docker to a healthy Harbor, as an ordered
//! list of steps (see [`steps`]). Every step re-checks the real world first,
//! so running it again finishes an interrupted run and skips what is done.
//!
//! How to add a step: write its `plan` line, its read-only `check` and its
//! `apply` (in this file or a file of its own beside it), and add one
//! `step!(..)` line to [`steps`], where it belongs in the order.

mod daemon;
mod download;
mod explain;
mod harbor_yml;
pub mod tls;

use std::path::PathBuf;

use anyhow::Context as _;
use serde::Serialize;

use super::options::InstallOptions;
use super::report::StepReport;
use super::secrets::Secret;
use super::step::{self, Check, Outcome, Pipeline, Step};
use crate::context::Context;
use crate::digest::{fingerprint, sha256_digest};
use crate::installer::versions::Version;
use crate::installer::{extract, run as install_sh};
use crate::journal::State;
use crate::step;
use crate::ui::Reporter;
use crate::workdir::Lock;

pub use download::files_from_tarball;

/// The install steps, in order. Step ids are journal keys and `--json` values.
pub fn steps<'a>() -> Vec<Step<InstallRun<'a>>> {
    vec![
        step!(
            "preflight",
            plan_preflight,
            check_preflight,
            step::nothing_to_apply
        ),
        step!(
            "host",
            plan_host,
            check_host,
            step::nothing_to_apply,
            explain::host
        ),
        step!(
            "download",
            download::plan,
            download::check,
            download::apply,
            explain::download
        ),
        step!(
            "extract",
            plan_extract,
            check_extract,
            apply_extract,
            explain::extract
        ),
        step!(
            "tls",
            tls::plan_tls,
            tls::check_tls,
            tls::apply_tls,
            tls::explain_tls
        ),
        step!(
            "harbor-yml",
            harbor_yml::plan,
            harbor_yml::check,
            harbor_yml::apply,
            explain::harbor_yml
        ),
        step!(
            "daemon-config",
            daemon::plan_config,
            daemon::check_config,
            daemon::apply_config,
            explain::daemon_config
        ),
        step!(
            "daemon-reload",
            daemon::plan_reload,
            daemon::check_reload,
            daemon::apply_reload,
            explain::daemon_reload
        ),
        step!(
            "docker-trust",
            tls::plan_trust,
            tls::check_trust,
            tls::apply_trust
        ),
        step!(
            "install",
            plan_install_sh,
            check_install_sh,
            apply_install_sh,
            explain::install_sh
        ),
        step!(
            "health",
            plan_health,
            check_health,
            apply_health,
            explain::health
        ),
    ]
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
    /// `--tls`: Harbor's HTTPS port (None: plain HTTP).
    pub https_port: Option<u16>,
    /// The CA certificate clients must trust for Harbor (`--tls`).
    pub ca_certificate: Option<PathBuf>,
    pub dry_run: bool,
    pub steps: Vec<StepReport>,
    /// Harbor's admin password, handed to `up`'s demo (never serialised).
    #[serde(skip)]
    pub admin_password: Option<Secret>,
}

/// The installer tarball on disk and its md5.
#[derive(Debug, Clone)]
pub struct Installer {
    pub path: PathBuf,
    pub md5: String,
}

/// One install run: the options, the journal, and what the steps found.
pub struct InstallRun<'a> {
    pub ctx: &'a Context,
    pub ui: &'a Reporter,
    pub opts: &'a InstallOptions,
    pub state: State,
    pub client: reqwest::Client,
    pub report: InstallReport,
    /// The Harbor version: the options' one, or the local installer's.
    pub version: Version,
    /// From the download step.
    pub installer: Option<Installer>,
    /// The extract step found the installer already extracted.
    pub extracted: bool,
    /// Harbor was healthy before install.sh (from the install step's check).
    pub healthy_before: bool,
    harbor_yml: Option<harbor_yml::Pending>,
    daemon: Option<daemon::Pending>,
    /// `--tls`: the pair, checked or planned before the run started.
    pub tls: Option<tls::Prepared>,
    _lock: Option<Lock>,
}

/// `install`'s plan (and the first part of `up`'s): one line per step.
pub fn plan(opts: &InstallOptions) -> Vec<String> {
    step::plan_lines(&steps(), opts)
}

impl Pipeline for InstallRun<'_> {
    type Options = InstallOptions;
    const NAME: &'static str = "install";
    fn ui(&self) -> &Reporter {
        self.ui
    }
    fn dry_run(&self) -> bool {
        self.opts.dry_run
    }
    fn save(&mut self) -> anyhow::Result<()> {
        Ok(self.opts.workdir.save(&self.state)?)
    }
    fn record(&mut self, report: StepReport) {
        self.report.steps.push(report);
    }
    fn explaining(&self) -> bool {
        self.opts.explain
    }
    /// The workdir and its lock come now, when the first step is about to
    /// write; the journal is read again under the lock.
    fn prepare_to_write(&mut self) -> anyhow::Result<()> {
        if self._lock.is_none() && !self.opts.dry_run {
            self._lock = Some(self.opts.workdir.lock()?);
            self.state = self.opts.workdir.load()?;
        }
        Ok(())
    }
}

impl<'a> InstallRun<'a> {
    /// Open the run and read the journal; the workdir is locked (and made)
    /// only once a step is about to write (see `prepare_to_write`).
    pub fn start(
        ctx: &'a Context,
        ui: &'a Reporter,
        opts: &'a InstallOptions,
        tls: Option<tls::Prepared>,
    ) -> anyhow::Result<InstallRun<'a>> {
        let wd = &opts.workdir;
        let state = wd.load()?;
        let client = crate::http::client_trusting(
            crate::http::Profile::Transfer,
            tls.as_ref().and_then(tls::Prepared::ca_pem),
        )
        .context("setting up the HTTP client")?;
        let report = InstallReport {
            harbor_url: opts.host.url.clone(),
            hostname: opts.host.host.clone(),
            http_port: opts.host.port,
            harbor_version: opts.version.tag(),
            workdir: wd.root().to_path_buf(),
            admin_password_file: wd.admin_password_file(),
            daemon_config: opts.daemon_config.clone(),
            https_port: opts.host.https_port,
            ca_certificate: tls
                .as_ref()
                .and_then(|p| p.ca.as_ref())
                .map(|c| c.0.clone()),
            dry_run: opts.dry_run,
            steps: Vec::new(),
            admin_password: None,
        };
        Ok(InstallRun {
            ctx,
            ui,
            opts,
            state,
            client,
            report,
            version: opts.version,
            installer: None,
            extracted: false,
            healthy_before: false,
            harbor_yml: None,
            daemon: None,
            tls,
            _lock: None,
        })
    }

    fn now(&self) -> u64 {
        self.ctx
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    fn installer(&self) -> anyhow::Result<&Installer> {
        self.installer
            .as_ref()
            .context("the download step found no installer")
    }
}

/// The whole install, step by step (`install`, and `up`'s first part).
pub async fn install(
    ctx: &Context,
    ui: &Reporter,
    opts: &InstallOptions,
) -> anyhow::Result<InstallReport> {
    // --tls: a given pair is checked, the lab's planned, before anything is written.
    let prepared = match &opts.tls {
        Some(t) => Some(tls::prepare(ctx, t, &opts.workdir, &opts.host.host)?),
        None => None,
    };
    let mut run = InstallRun::start(ctx, ui, opts, prepared)?;
    step::execute(&mut run, &steps()).await?;
    if !opts.dry_run {
        run.prepare_to_write()?;
        record_harbor(&mut run)?;
        crate::labs::register(ctx, opts.host.port, opts.workdir.root());
    }
    Ok(run.report)
}

/// Journal the Harbor this workdir runs, for `demo`, `status` and `down`.
/// `harbor_yml_sha256` is only ever set by the harbor-yml step: it marks the
/// file as ours, so a user's kept version is never taken for ours later.
fn record_harbor(run: &mut InstallRun<'_>) -> anyhow::Result<()> {
    let opts = run.opts;
    let now = run.now();
    let h = run.state.harbor.get_or_insert_with(Default::default);
    h.version = run.version.tag();
    h.hostname = opts.host.host.clone();
    h.http_port = opts.host.port;
    h.url = opts.host.url.clone();
    h.data_volume = opts.data_volume.clone();
    h.admin_password_file = opts.workdir.admin_password_file();
    run.state.record(
        "health",
        &health_fingerprint(&opts.host.url),
        "healthy",
        now,
    );
    run.save()
}

fn plan_preflight(_: &InstallOptions) -> String {
    "check that this machine can run Harbor (Docker, compose, ports, disk, memory)".into()
}

async fn check_preflight(run: &mut InstallRun<'_>) -> anyhow::Result<Check> {
    let opts = run.opts.preflight();
    let report = super::preflight::run(run.ctx, run.ui, &run.client, &opts, false).await;
    if !report.ok {
        return Err(super::preflight::failed().into());
    }
    Ok(Check::Checked("this machine can run Harbor".into()))
}

fn plan_host(opts: &InstallOptions) -> String {
    format!("publish Harbor as {}", opts.host.url)
}

async fn check_host(run: &mut InstallRun<'_>) -> anyhow::Result<Check> {
    Ok(Check::Checked(format!(
        "Harbor will be published as {}",
        run.opts.host.url
    )))
}

fn plan_extract(opts: &InstallOptions) -> String {
    format!(
        "extract the installer into {}",
        opts.workdir.harbor_dir().display()
    )
}

async fn check_extract(run: &mut InstallRun<'_>) -> anyhow::Result<Check> {
    let harbor_dir = run.opts.workdir.harbor_dir();
    let installer = run.installer()?.clone();
    let fp = extract_fingerprint(&installer.md5);
    run.extracted = harbor_dir.join("install.sh").is_file() && run.state.is_done("extract", &fp);
    if run.extracted {
        return Ok(Check::Done(format!(
            "{} is already extracted",
            harbor_dir.display()
        )));
    }
    Ok(Check::needed(format!(
        "extract {} into {}",
        installer.path.display(),
        harbor_dir.display()
    )))
}

async fn apply_extract(run: &mut InstallRun<'_>) -> anyhow::Result<Outcome> {
    let harbor_dir = run.opts.workdir.harbor_dir();
    let installer = run.installer()?.clone();
    let n = extract::extract_installer(&installer.path, &harbor_dir, &["harbor.yml"])?;
    let now = run.now();
    run.state.record(
        "extract",
        &extract_fingerprint(&installer.md5),
        &installer.path.display().to_string(),
        now,
    );
    Ok(Outcome::done(format!(
        "{n} entries into {}",
        harbor_dir.display()
    )))
}

fn plan_install_sh(opts: &InstallOptions) -> String {
    format!(
        "run install.sh{} (log: {})",
        if opts.with_trivy { " --with-trivy" } else { "" },
        opts.workdir.install_log().display()
    )
}

/// install.sh's flags for this version.
fn install_flags(run: &InstallRun<'_>) -> Vec<String> {
    if run.opts.with_trivy && run.version.install_flags().contains(&"--with-trivy") {
        vec!["--with-trivy".into()]
    } else {
        Vec::new()
    }
}

/// The journal's fingerprints: what each step's record is for. A workdir made
/// by an older harbor-lab resumes only while these stay the same.
///
/// extract: the installer's md5.
pub fn extract_fingerprint(installer_md5: &str) -> String {
    fingerprint(&[installer_md5])
}

/// install: what install.sh ran with (harbor.yml's sha256, its flags, the version).
pub fn install_fingerprint_of(
    harbor_yml_sha256: &str,
    flags: &[String],
    version: &Version,
) -> String {
    fingerprint(&[harbor_yml_sha256, &flags.join(" "), &version.tag()])
}

/// health: the URL Harbor answered healthy at.
pub fn health_fingerprint(url: &str) -> String {
    fingerprint(&[url])
}

fn install_fingerprint(run: &InstallRun<'_>) -> String {
    let yml = std::fs::read_to_string(run.opts.workdir.harbor_yml()).unwrap_or_default();
    let of_yml = install_fingerprint_of(
        &sha256_digest(yml.as_bytes()),
        &install_flags(run),
        &run.version,
    );
    // --tls: the served certificate counts too (prepare copies it into nginx's
    // config), so a renewed one runs install.sh again.
    match &run.tls {
        Some(p) => fingerprint(&[&of_yml, &p.served_sha256()]),
        None => of_yml,
    }
}

async fn check_install_sh(run: &mut InstallRun<'_>) -> anyhow::Result<Check> {
    run.healthy_before = super::preflight::harbor_is_up(&run.client, &run.opts.host.url).await;
    if run.state.is_done("install", &install_fingerprint(run)) && run.healthy_before {
        return Ok(Check::Done(
            "install.sh already ran with this harbor.yml and Harbor is up".into(),
        ));
    }
    Ok(Check::needed(format!(
        "run {}/install.sh {}",
        run.opts.workdir.harbor_dir().display(),
        install_flags(run).join(" ")
    )))
}

async fn apply_install_sh(run: &mut InstallRun<'_>) -> anyhow::Result<Outcome> {
    let wd = &run.opts.workdir;
    let log = wd.install_log();
    let flags = install_flags(run);
    install_sh::run_install_sh(run.ctx, run.ui, &wd.harbor_dir(), &flags, &log).await?;
    let (fp, now) = (install_fingerprint(run), run.now());
    run.state
        .record("install", &fp, &log.display().to_string(), now);
    Ok(Outcome::done(format!(
        "install.sh finished (log: {})",
        log.display()
    )))
}

fn plan_health(opts: &InstallOptions) -> String {
    format!(
        "wait until {}/api/v2.0/health reports healthy",
        opts.host.url
    )
}

async fn check_health(run: &mut InstallRun<'_>) -> anyhow::Result<Check> {
    let url = &run.opts.host.url;
    if run.healthy_before {
        return Ok(Check::Done(format!("{url} is already healthy")));
    }
    Ok(Check::needed(format!("wait for {url}/api/v2.0/health")))
}

async fn apply_health(run: &mut InstallRun<'_>) -> anyhow::Result<Outcome> {
    let url = &run.opts.host.url;
    let h = crate::harbor::health::wait_healthy(&run.client, run.ui, url, run.opts.health_timeout)
        .await?;
    Ok(Outcome::done(format!(
        "{url} is {} ({} components)",
        h.status,
        h.components.len()
    )))
}
