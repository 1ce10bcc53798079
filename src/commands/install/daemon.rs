//! The Docker daemon config step: merge, back up, write, reload, confirm.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

use super::InstallReport;
use super::config::diff;
use crate::cli::InstallArgs;
use crate::context::Context;
use crate::docker::daemon_config;
use crate::error::UserError;
use crate::fsutil::{backup_once, write_through};
use crate::journal::State;
use crate::ui::{Reporter, prompt};
use crate::workdir::Workdir;

#[allow(clippy::too_many_arguments)]
pub(super) async fn configure_daemon(
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
        // Listed because an interrupted run of ours wrote them: ours after all.
        None if !args.dry_run
            && state
                .daemon_config
                .as_ref()
                .is_some_and(|r| !r.pending.is_empty()) =>
        {
            if let Some(rec) = state.daemon_config.as_mut() {
                rec.commit_pending();
            }
            wd.save(state)?;
            report.step(
                ui,
                "daemon-config",
                "done",
                format!(
                    "{} lists {} (written by an interrupted run; recorded now)",
                    path.display(),
                    entries.join(", ")
                ),
            );
        }
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
            // The intent goes to the journal first: whatever stops this run
            // after the write, a re-run and `down` know these entries are ours.
            let rec =
                state
                    .daemon_config
                    .get_or_insert_with(|| crate::journal::DaemonConfigRecord {
                        path: path.to_path_buf(),
                        backup,
                        added: Vec::new(),
                        pending: Vec::new(),
                    });
            rec.pending = merge.added.clone();
            wd.save(state)?;
            write_through(path, new.as_bytes(), 0o644)
                .with_context(|| format!("writing {}", path.display()))?;
            ctx.fault_point("daemon-config-written");
            if let Some(rec) = state.daemon_config.as_mut() {
                rec.commit_pending();
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
