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
use crate::fsutil::write_through;
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
    /// `--daemon-config` as retyped from `up` (resolved): it must be the file
    /// this lab changed.
    pub daemon_config: Option<PathBuf>,
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
    const NAME: &'static str = "down";
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
    let state = wd.load()?;
    // `up`'s line retyped: a daemon config other than the one this lab changed
    // is a mistake to stop at, before anything is touched.
    if let (Some(given), Some(rec)) = (&opts.daemon_config, &state.daemon_config)
        && *given != rec.path
    {
        return Err(UserError::usage(format!(
            "--daemon-config {} is not the file this lab changed ({}); leave the flag out, or pass --daemon-config {}",
            given.display(),
            rec.path.display(),
            rec.path.display()
        ))
        .into());
    }
    let mut run = DownRun {
        ctx,
        ui,
        opts,
        state,
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
    if let Some(h) = &run.state.harbor {
        crate::labs::unregister(ctx, h.http_port, wd.root());
    }
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
    // Nothing to stop here; but a Harbor that answers is not "stopped".
    if let Some(url) = harbor_url(run)
        && still_answers(&url, 0).await
    {
        run.ui.warn(&format!(
            "{url} still answers: that Harbor was not started by this workdir's compose file; stop it where it was started"
        ));
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
    match harbor_url(run) {
        Some(url) if still_answers(&url, 20).await => Ok(Outcome::done(format!(
            "compose down ran, but {url} still answers; stop the Harbor that serves it"
        ))),
        Some(url) => Ok(done(
            run,
            format!("stopped Harbor's containers; {url} no longer answers"),
        )),
        None => Ok(done(run, "stopped Harbor's containers".into())),
    }
}

/// The URL this workdir's Harbor was installed at.
fn harbor_url(run: &DownRun<'_>) -> Option<String> {
    run.state
        .harbor
        .as_ref()
        .map(|h| h.url.clone())
        .filter(|u| !u.is_empty())
}

/// Does Harbor at `url` still answer (any health document) after `wait_secs`?
async fn still_answers(url: &str, wait_secs: u64) -> bool {
    let Ok(client) = crate::http::client(crate::http::Profile::Api) else {
        return false;
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(wait_secs);
    loop {
        if crate::harbor::health::check(&client, url).await.is_err() {
            return false;
        }
        if tokio::time::Instant::now() >= deadline {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
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

/// Take this lab's entries out of the daemon config and make dockerd forget
/// them (its reload ignores absent keys, so the list is written explicitly
/// first). The pre-install bytes come back only when nothing else changed
/// since; later edits (an admin's, another lab's entries) are kept, and so is
/// the backup then.
async fn apply_daemon(run: &mut DownRun<'_>) -> anyhow::Result<Outcome> {
    let rec = run
        .state
        .daemon_config
        .clone()
        .context("no daemon config to restore")?;
    let ours = rec.ours();
    let original = match &rec.backup {
        Some(b) if b.exists() => Some(
            crate::fsutil::read_limited_text(b, crate::fsutil::CONFIG_FILE_MAX)
                .with_context(|| format!("reading the backup {}", b.display()))?,
        ),
        _ => None,
    };
    let current = daemon_config::read(&rec.path)?;
    let plan =
        daemon_config::restore_plan(&rec.path, current.as_deref(), original.as_deref(), &ours)?;
    let mut lines = Vec::new();
    if run.opts.daemon_reload && current.is_some() {
        lines.extend(reload_without(run, &rec, &ours, &plan.reload_text).await?);
    }
    lines.push(restore(run, &rec, &ours, current.is_some(), &plan)?);
    run.state.daemon_config = None;
    let detail = lines.join("; ");
    run.report.done.extend(lines);
    Ok(Outcome::done(detail))
}

async fn reload_without(
    run: &DownRun<'_>,
    rec: &DaemonConfigRecord,
    ours: &[String],
    reload_text: &str,
) -> anyhow::Result<Option<String>> {
    let Some(pid) = daemon_config::dockerd_for(&rec.path) else {
        run.ui.warn(&format!(
            "no running dockerd reads {}; restart Docker to apply it",
            rec.path.display()
        ));
        return Ok(None);
    };
    write_through(&rec.path, reload_text.as_bytes(), 0o644)
        .with_context(|| format!("writing {}", rec.path.display()))?;
    daemon_config::sighup(pid)?;
    let docker = crate::docker::engine::connect(run.ctx).await?;
    if !daemon_config::confirm_gone(&docker, ours, std::time::Duration::from_secs(10)).await {
        run.ui.warn(&format!(
            "dockerd still lists {}; restart Docker to drop them",
            ours.join(", ")
        ));
    }
    Ok(Some(format!(
        "dockerd (pid {pid}) reloaded without {}",
        ours.join(", ")
    )))
}

/// Write what `restore_plan` decided, through a symlink to its target (the
/// target keeps its mode and owner; the link stays the user's).
fn restore(
    run: &DownRun<'_>,
    rec: &DaemonConfigRecord,
    ours: &[String],
    exists: bool,
    plan: &daemon_config::Restore,
) -> anyhow::Result<String> {
    if !exists {
        run.ui.warn(&format!(
            "{} is gone; there was nothing of ours to take out",
            rec.path.display()
        ));
        return Ok(format!("{} was already gone", rec.path.display()));
    }
    match (&plan.text, plan.exact, &rec.backup) {
        (Some(text), true, Some(b)) => {
            write_through(&rec.path, text.as_bytes(), 0o644)
                .with_context(|| format!("restoring {}", rec.path.display()))?;
            std::fs::remove_file(b).with_context(|| format!("removing {}", b.display()))?;
            Ok(format!(
                "restored {} byte for byte from {}",
                rec.path.display(),
                b.display()
            ))
        }
        (None, _, _) => {
            let file = crate::fsutil::final_target(&rec.path)
                .with_context(|| format!("following {}", rec.path.display()))?;
            if file.exists() {
                std::fs::remove_file(&file)
                    .with_context(|| format!("removing {}", file.display()))?;
            }
            Ok(format!(
                "removed {} (harbor-lab created it)",
                rec.path.display()
            ))
        }
        (Some(text), _, backup) => {
            write_through(&rec.path, text.as_bytes(), 0o644)
                .with_context(|| format!("writing {}", rec.path.display()))?;
            let kept = backup
                .as_ref()
                .filter(|b| b.exists())
                .map(|b| format!("; the pre-install copy stays in {}", b.display()))
                .unwrap_or_default();
            run.ui.warn(&format!(
                "{} changed after the install (another lab's entries or your edits): \
                 removed only {} and kept everything else{kept}",
                rec.path.display(),
                ours.join(", ")
            ));
            Ok(format!(
                "removed {} from {}",
                ours.join(", "),
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
        // A "no" is an answer: Harbor is down, the data stays.
        return Ok(Outcome::skipped(format!("nothing deleted ({what} kept)")));
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
