//! The Docker daemon config steps: merge the registry into insecure-registries
//! (backup once, atomic write, after a confirmation), then make the running
//! dockerd pick it up with SIGHUP and confirm through `docker info`.
//!
//! With `--tls` daemon.json is left alone, except that an entry an earlier
//! HTTP run of harbor-lab added is taken out again (it would make dockerd
//! accept a broken certificate), and dockerd reloaded without it.

use std::time::Duration;

use anyhow::Context as _;

use super::InstallRun;
use super::harbor_yml::diff;
use crate::docker::daemon_config;
use crate::error::UserError;
use crate::fsutil::{backup_once, write_through};
use crate::journal::DaemonConfigRecord;
use crate::lab::options::InstallOptions;
use crate::lab::step::{Check, Outcome, Pipeline as _};
use crate::ui::prompt;

/// What the check merged, for `apply`. `new_text` None: the file already
/// lists entries an interrupted run of ours wrote; `apply` only records them.
pub(super) struct Pending {
    existed: bool,
    new_text: Option<String>,
    added: Vec<String>,
    /// --tls: `added` are being taken out, not added.
    removing: bool,
}

/// --tls: the entries an earlier HTTP run of ours added (the journal's).
fn ours(run: &InstallRun<'_>) -> Vec<String> {
    run.state
        .daemon_config
        .as_ref()
        .map(|r| r.added.clone())
        .unwrap_or_default()
}

fn entries(opts: &InstallOptions) -> Vec<String> {
    daemon_config::registry_entries(&opts.host.host, opts.host.port)
}

pub(super) fn plan_config(opts: &InstallOptions) -> String {
    if opts.tls.is_some() {
        return format!(
            "leave {} alone (--tls), but for an insecure-registries entry an earlier HTTP run added",
            opts.daemon_config.display()
        );
    }
    format!(
        "add {} to insecure-registries in {}",
        entries(opts).join(", "),
        opts.daemon_config.display()
    )
}

pub(super) async fn check_config(run: &mut InstallRun<'_>) -> anyhow::Result<Check> {
    let path = &run.opts.daemon_config;
    let entries = entries(run.opts);
    let current = daemon_config::read(path)?;
    if run.opts.tls.is_some() {
        let removal = daemon_config::remove(path, current.as_deref(), &ours(run))?;
        let Some(new_text) = removal.new_text else {
            return Ok(Check::Done(format!(
                "--tls: {} is not touched",
                path.display()
            )));
        };
        let preview = diff(
            current.as_deref().unwrap_or(""),
            &new_text,
            &path.display().to_string(),
            "without harbor-lab's insecure entry",
        );
        let plan = format!(
            "take {} (added by an earlier HTTP run) out of insecure-registries in {}",
            removal.added.join(", "),
            path.display()
        );
        run.daemon = Some(Pending {
            existed: true,
            new_text: Some(new_text),
            added: removal.added,
            removing: true,
        });
        return Ok(Check::Needed {
            plan,
            preview: Some(preview),
        });
    }
    let merge = daemon_config::merge(path, current.as_deref(), &entries)?;
    let Some(new_text) = merge.new_text else {
        // Listed because a run of ours wrote them and was stopped before its
        // journal said so (the intent was journalled first): ours after all.
        if let Some(rec) = run.state.daemon_config.as_ref()
            && !rec.pending.is_empty()
        {
            let plan = format!(
                "record {} in {} as this lab's (written by an interrupted run)",
                rec.pending.join(", "),
                path.display()
            );
            run.daemon = Some(Pending {
                existed: true,
                new_text: None,
                added: rec.pending.clone(),
                removing: false,
            });
            return Ok(Check::needed(plan));
        }
        return Ok(Check::Done(format!(
            "{} already lists {}",
            path.display(),
            entries.join(", ")
        )));
    };
    let preview = diff(
        current.as_deref().unwrap_or(""),
        &new_text,
        &path.display().to_string(),
        "with insecure-registries",
    );
    let plan = format!("add {} to {}", merge.added.join(", "), path.display());
    run.daemon = Some(Pending {
        existed: current.is_some(),
        new_text: Some(new_text),
        added: merge.added,
        removing: false,
    });
    Ok(Check::Needed {
        plan,
        preview: Some(preview),
    })
}

pub(super) async fn apply_config(run: &mut InstallRun<'_>) -> anyhow::Result<Outcome> {
    let path = run.opts.daemon_config.clone();
    let p = run
        .daemon
        .take()
        .context("the daemon-config check found nothing to add")?;
    let Some(new_text) = p.new_text else {
        if let Some(rec) = run.state.daemon_config.as_mut() {
            rec.commit_pending();
        }
        return Ok(Outcome::done(format!(
            "{} lists {} (written by an interrupted run; recorded now)",
            path.display(),
            p.added.join(", ")
        )));
    };
    if p.removing {
        write_through(&path, new_text.as_bytes(), 0o644)
            .with_context(|| format!("writing {}", path.display()))?;
        if let Some(rec) = run.state.daemon_config.as_mut() {
            rec.added.retain(|e| !p.added.contains(e));
        }
        return Ok(Outcome::done(format!(
            "took {} out of insecure-registries in {} (TLS needs no insecure entry)",
            p.added.join(", "),
            path.display()
        )));
    }
    let reload = if run.opts.daemon_reload {
        " and reload dockerd"
    } else {
        ""
    };
    if !prompt::confirm(
        run.ui,
        &format!(
            "Add {} to insecure-registries in {}{reload}?",
            p.added.join(", "),
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
    let backup = if p.existed {
        Some(backup_once(&path).with_context(|| format!("backing up {}", path.display()))?)
    } else {
        None
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // The intent goes to the journal first: whatever stops this run after
    // the write, a re-run and `down` know these entries are ours.
    let rec = run
        .state
        .daemon_config
        .get_or_insert_with(|| DaemonConfigRecord {
            path: path.clone(),
            backup,
            added: Vec::new(),
            pending: Vec::new(),
        });
    rec.pending = p.added.clone();
    run.save()?;
    // Through a symlink to its target, keeping the target's mode and owner.
    write_through(&path, new_text.as_bytes(), 0o644)
        .with_context(|| format!("writing {}", path.display()))?;
    run.ctx.fault_point("daemon-config-written");
    if let Some(rec) = run.state.daemon_config.as_mut() {
        rec.commit_pending();
    }
    Ok(Outcome::done(format!(
        "added {} to {}",
        p.added.join(", "),
        path.display()
    )))
}

pub(super) fn plan_reload(opts: &InstallOptions) -> String {
    if opts.tls.is_some() && opts.daemon_reload {
        "reload dockerd only if an insecure entry of ours was taken out".into()
    } else if opts.daemon_reload {
        "reload dockerd (SIGHUP, no restart) and confirm through docker info".into()
    } else {
        "leave dockerd alone (--no-daemon-reload)".into()
    }
}

pub(super) async fn check_reload(run: &mut InstallRun<'_>) -> anyhow::Result<Check> {
    if !run.opts.daemon_reload {
        return Ok(Check::Done("--no-daemon-reload".into()));
    }
    let entries = entries(run.opts);
    if run.opts.tls.is_some() {
        // The engine must not list our HTTP entries any more.
        let listed = match crate::docker::engine::connect(run.ctx).await {
            Ok(docker) => !daemon_config::confirm_gone(&docker, &entries, Duration::ZERO).await,
            Err(_) => false,
        };
        if !listed {
            return Ok(Check::Done(format!(
                "--tls: the engine lists none of {}",
                entries.join(", ")
            )));
        }
        return Ok(Check::needed(format!(
            "reload dockerd so that it drops {}",
            entries.join(", ")
        )));
    }
    if let Ok(docker) = crate::docker::engine::connect(run.ctx).await
        && daemon_config::engine_lists_insecure(&docker, &entries)
            .await
            .unwrap_or(false)
    {
        return Ok(Check::Done(
            "the engine already treats the registry as insecure".into(),
        ));
    }
    Ok(Check::needed(format!(
        "reload dockerd so that it lists {} as insecure",
        entries.join(", ")
    )))
}

/// SIGHUP the dockerd that reads the file, then confirm through `info`; a
/// restart (it stops containers) only with consent.
pub(super) async fn apply_reload(run: &mut InstallRun<'_>) -> anyhow::Result<Outcome> {
    let path = &run.opts.daemon_config;
    let entries = entries(run.opts);
    let docker = crate::docker::engine::connect(run.ctx).await?;
    let Some(pid) = daemon_config::dockerd_for(path) else {
        return Err(UserError::environment(format!(
            "no running dockerd reads {}; restart Docker (systemctl restart docker) or point --daemon-config at the file it reads",
            path.display()
        ))
        .into());
    };
    daemon_config::sighup(pid)?;
    if run.opts.tls.is_some() {
        if !daemon_config::confirm_gone(&docker, &entries, Duration::from_secs(10)).await {
            return Err(UserError::environment(format!(
                "dockerd (pid {pid}) still lists {} as insecure after a reload; restart Docker and run again",
                entries.join(", ")
            ))
            .into());
        }
        return Ok(Outcome::done(format!(
            "dockerd (pid {pid}) reloaded; docker info no longer lists {}",
            entries.join(", ")
        )));
    }
    if daemon_config::confirm(&docker, &entries, Duration::from_secs(10)).await {
        return Ok(Outcome::done(format!(
            "dockerd (pid {pid}) reloaded {} without a restart",
            path.display()
        )));
    }
    let restart = prompt::confirm(
        run.ui,
        "dockerd did not pick up the change on reload; restart Docker (running containers stop)?",
        "pass --yes to allow a Docker restart, or restart it yourself",
    )?;
    if !restart || run.ctx.which("systemctl").is_none() {
        return Err(UserError::environment(format!(
            "dockerd does not list {} as insecure yet; restart Docker and run again",
            entries.join(", ")
        ))
        .into());
    }
    let status = tokio::process::Command::new("systemctl")
        .args(["restart", "docker"])
        .status()
        .await
        .map_err(|e| UserError::environment(format!("running systemctl restart docker: {e}")))?;
    if !status.success()
        || !daemon_config::confirm(&docker, &entries, Duration::from_secs(60)).await
    {
        return Err(UserError::environment(
            "restarting Docker did not apply the change; check `journalctl -u docker`",
        )
        .into());
    }
    Ok(Outcome::done("Docker restarted"))
}
