//! `down`: stop Harbor, give the Docker daemon config back byte for byte (and
//! make dockerd forget our registry), put certs.d back as it was (`--tls`), forget the install in the journal, and
//! with `--purge` remove Harbor's data and the workdir. Ordered steps, run by
//! the same executor as install (see [`steps`]).

use std::path::PathBuf;

use anyhow::Context as _;
use serde::Serialize;

use super::report::StepReport;
use super::step::{self, Check, Outcome, Pipeline, Step};
use crate::context::Context;
use crate::docker::daemon_config;
use crate::error::UserError;
use crate::fsutil::write_atomic;
use crate::journal::{DaemonConfigRecord, State};
use crate::step;
use crate::ui::render::{Report, to_json};
use crate::ui::{Reporter, prompt};
use crate::workdir::{Lock, Workdir};

#[derive(Debug, Clone)]
pub struct DownOptions {
    pub workdir: Workdir,
    /// Also remove Harbor's data volume and the workdir (asks first).
    pub purge: bool,
    /// Signal dockerd after restoring its config.
    pub daemon_reload: bool,
}

/// The down steps, in order (`purge` only with --purge).
pub fn steps<'a>() -> Vec<Step<DownRun<'a>>> {
    vec![
        step!(
            "containers",
            plan_containers,
            check_containers,
            apply_containers
        ),
        step!("daemon-config", plan_daemon, check_daemon, apply_daemon),
        step!("docker-trust", plan_trust, check_trust, apply_trust),
        step!("purge", plan_purge, check_purge, apply_purge),
    ]
}

#[derive(Debug, Serialize)]
pub struct DownReport {
    pub workdir: PathBuf,
    /// What was done, one line each.
    pub done: Vec<String>,
    pub steps: Vec<StepReport>,
}

impl Report for DownReport {
    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
}

pub struct DownRun<'a> {
    ctx: &'a Context,
    ui: &'a Reporter,
    opts: &'a DownOptions,
    state: State,
    report: DownReport,
    /// Gone with the workdir once purged (then nothing is saved any more).
    lock: Option<Lock>,
}

impl Pipeline for DownRun<'_> {
    type Options = DownOptions;
    fn ui(&self) -> &Reporter {
        self.ui
    }
    fn dry_run(&self) -> bool {
        false
    }
    fn save(&mut self) -> anyhow::Result<()> {
        if self.lock.is_some() {
            self.opts.workdir.save(&self.state)?;
        }
        Ok(())
    }
    fn record(&mut self, report: StepReport) {
        self.report.steps.push(report);
    }
}

pub async fn down(ctx: &Context, ui: &Reporter, opts: &DownOptions) -> anyhow::Result<DownReport> {
    let wd = &opts.workdir;
    if !wd.root().exists() {
        return Err(UserError::usage(format!(
            "{} does not exist: nothing to take down",
            wd.root().display()
        ))
        .into());
    }
    let lock = wd.lock()?;
    let mut run = DownRun {
        ctx,
        ui,
        opts,
        state: wd.load()?,
        report: DownReport {
            workdir: wd.root().to_path_buf(),
            done: Vec::new(),
            steps: Vec::new(),
        },
        lock: Some(lock),
    };
    let mut steps = steps();
    steps.retain(|s| s.id != "purge" || opts.purge);
    // Harbor is no longer installed from here, whatever else happens.
    let result = step::execute(&mut run, &steps[..2]).await;
    run.state
        .steps
        .retain(|k, _| k != "install" && k != "health");
    run.save()?;
    result?;
    step::execute(&mut run, &steps[2..]).await?;
    Ok(run.report)
}

fn plan_containers(opts: &DownOptions) -> String {
    format!(
        "stop Harbor's containers ({})",
        opts.workdir.compose_file().display()
    )
}

async fn check_containers(run: &mut DownRun<'_>) -> anyhow::Result<Check> {
    let compose_file = run.opts.workdir.compose_file();
    if compose_file.is_file() {
        return Ok(Check::needed("compose down"));
    }
    Ok(Check::Done(format!(
        "there is no {} (install.sh did not get that far)",
        compose_file.display()
    )))
}

async fn apply_containers(run: &mut DownRun<'_>) -> anyhow::Result<Outcome> {
    let wd = &run.opts.workdir;
    let compose_file = wd.compose_file();
    let plugin = tokio::process::Command::new("docker")
        .args(["compose", "version"])
        .output()
        .await
        .is_ok_and(|o| o.status.success());
    let mut cmd = if plugin {
        let mut c = tokio::process::Command::new("docker");
        c.arg("compose");
        c
    } else {
        tokio::process::Command::new("docker-compose")
    };
    let out = cmd
        .arg("-f")
        .arg(&compose_file)
        .args(["down", "-v"])
        .current_dir(wd.harbor_dir())
        .output()
        .await
        .map_err(|e| {
            UserError::environment(format!(
                "running compose down for {}: {e}",
                compose_file.display()
            ))
        })?;
    if !out.status.success() {
        return Err(UserError::environment(format!(
            "compose down failed for {}: {}",
            compose_file.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
        .into());
    }
    Ok(done(run, "stopped Harbor's containers".into()))
}

fn done(run: &mut DownRun<'_>, what: String) -> Outcome {
    run.report.done.push(what.clone());
    Outcome::done(what)
}

fn plan_trust(_: &DownOptions) -> String {
    "put Docker's certs.d back as it was before --tls".into()
}

async fn check_trust(run: &mut DownRun<'_>) -> anyhow::Result<Check> {
    match run.state.tls.as_ref().and_then(|t| t.certs_d.as_ref()) {
        Some(c) => Ok(Check::needed(format!("undo {}", c.path.display()))),
        None => Ok(Check::Done("harbor-lab made no certs.d entry".into())),
    }
}

/// Restore the user's earlier ca.crt byte for byte, or remove ours (and the
/// directory we made). The lab CA itself stays until --purge.
async fn apply_trust(run: &mut DownRun<'_>) -> anyhow::Result<Outcome> {
    let Some(t) = run.state.tls.as_mut() else {
        return Ok(Outcome::skipped("no --tls record"));
    };
    let Some(c) = t.certs_d.take() else {
        return Ok(Outcome::skipped("harbor-lab made no certs.d entry"));
    };
    let removed = crate::docker::certs_d::remove(&c)?;
    Ok(done(run, super::install::tls::removed_text(&removed)))
}

fn plan_daemon(_: &DownOptions) -> String {
    "restore the Docker daemon config harbor-lab changed".into()
}

async fn check_daemon(run: &mut DownRun<'_>) -> anyhow::Result<Check> {
    match &run.state.daemon_config {
        Some(rec) => Ok(Check::needed(format!("restore {}", rec.path.display()))),
        None => Ok(Check::Done(
            "harbor-lab has not changed a daemon config".into(),
        )),
    }
}

/// Make dockerd forget our entries (its reload ignores absent keys, so the
/// original's list is written explicitly first), then put the original bytes back.
async fn apply_daemon(run: &mut DownRun<'_>) -> anyhow::Result<Outcome> {
    let rec = run
        .state
        .daemon_config
        .clone()
        .context("no daemon config to restore")?;
    let original = match &rec.backup {
        Some(b) => {
            Some(std::fs::read(b).with_context(|| format!("reading the backup {}", b.display()))?)
        }
        None => None,
    };
    let mut lines = Vec::new();
    if run.opts.daemon_reload {
        lines.extend(reload_without(run, &rec, original.as_deref()).await?);
    }
    lines.push(restore(&rec, original.as_deref())?);
    run.state.daemon_config = None;
    let detail = lines.join("; ");
    run.report.done.extend(lines);
    Ok(Outcome::done(detail))
}

async fn reload_without(
    run: &DownRun<'_>,
    rec: &DaemonConfigRecord,
    original: Option<&[u8]>,
) -> anyhow::Result<Option<String>> {
    let Some(pid) = daemon_config::dockerd_for(&rec.path) else {
        run.ui.warn(&format!(
            "no running dockerd reads {}; restart Docker to apply it",
            rec.path.display()
        ));
        return Ok(None);
    };
    let original_text = original.map(|b| String::from_utf8_lossy(b).into_owned());
    let reload = daemon_config::reload_text_for(original_text.as_deref());
    write_atomic(&rec.path, reload.as_bytes(), 0o644)
        .with_context(|| format!("writing {}", rec.path.display()))?;
    daemon_config::sighup(pid)?;
    let docker = crate::docker::engine::connect(run.ctx).await?;
    if !daemon_config::confirm_gone(&docker, &rec.added, std::time::Duration::from_secs(10)).await {
        run.ui.warn(&format!(
            "dockerd still lists {}; restart Docker to drop them",
            rec.added.join(", ")
        ));
    }
    Ok(Some(format!(
        "dockerd (pid {pid}) reloaded without {}",
        rec.added.join(", ")
    )))
}

/// The original bytes (and mode) back, or the file removed when we created it.
fn restore(rec: &DaemonConfigRecord, original: Option<&[u8]>) -> anyhow::Result<String> {
    match (&rec.backup, original) {
        (Some(b), Some(bytes)) => {
            let meta = std::fs::metadata(b).with_context(|| format!("reading {}", b.display()))?;
            let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777;
            write_atomic(&rec.path, bytes, mode)
                .with_context(|| format!("restoring {}", rec.path.display()))?;
            std::fs::remove_file(b).with_context(|| format!("removing {}", b.display()))?;
            Ok(format!(
                "restored {} from {}",
                rec.path.display(),
                b.display()
            ))
        }
        _ => {
            if rec.path.exists() {
                std::fs::remove_file(&rec.path)
                    .with_context(|| format!("removing {}", rec.path.display()))?;
            }
            Ok(format!(
                "removed {} (harbor-lab created it)",
                rec.path.display()
            ))
        }
    }
}

fn plan_purge(opts: &DownOptions) -> String {
    format!(
        "delete Harbor's data and {} (asks first)",
        opts.workdir.root().display()
    )
}

/// What a purge deletes: Harbor's data volume (if recorded) and the workdir.
fn purge_targets(run: &DownRun<'_>) -> (Option<PathBuf>, String) {
    let root = run.opts.workdir.root();
    let data = run.state.harbor.as_ref().map(|h| h.data_volume.clone());
    let what = match &data {
        Some(d) => format!("{} and {}", d.display(), root.display()),
        None => root.display().to_string(),
    };
    (data, what)
}

async fn check_purge(run: &mut DownRun<'_>) -> anyhow::Result<Check> {
    Ok(Check::needed(format!("delete {}", purge_targets(run).1)))
}

async fn apply_purge(run: &mut DownRun<'_>) -> anyhow::Result<Outcome> {
    let (data, what) = purge_targets(run);
    if !prompt::confirm(
        run.ui,
        &format!("Delete {what} (Harbor's data, keys, secrets and the lab CA)?"),
        "pass --yes to purge",
    )? {
        return Err(UserError::usage("purge cancelled; nothing was deleted").into());
    }
    if let Some(d) = data
        && d.exists()
    {
        std::fs::remove_dir_all(&d).with_context(|| format!("removing {}", d.display()))?;
    }
    run.lock.take();
    let root = run.opts.workdir.root();
    std::fs::remove_dir_all(root).with_context(|| format!("removing {}", root.display()))?;
    Ok(done(run, format!("removed {what}")))
}
