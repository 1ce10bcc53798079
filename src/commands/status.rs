//! `status` (what is done, pending or drifted, and does Harbor answer) and
//! `down` (stop Harbor, restore the Docker daemon config, optionally purge).

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::{DownArgs, StatusArgs};
use crate::context::Context;
use crate::docker::daemon_config;
use crate::error::{Exit, UserError};
use crate::fsutil::write_through;
use crate::ui::{Reporter, prompt};
use crate::workdir::Workdir;

#[derive(Debug, Serialize)]
struct StepStatus {
    id: &'static str,
    /// "done", "pending" or "drifted".
    status: &'static str,
    detail: String,
}

pub async fn status(ctx: &Context, ui: &Reporter, args: &StatusArgs) -> anyhow::Result<Exit> {
    let wd = Workdir::from_flag(ctx, args.workdir.workdir.as_deref());
    let root = wd.root().to_path_buf();
    let state = wd.load()?;
    let mut steps = Vec::new();
    let mut push = |id, status, detail: String| steps.push(StepStatus { id, status, detail });
    let extracted = wd.harbor_dir().join("install.sh").is_file();
    push(
        "extract",
        if extracted { "done" } else { "pending" },
        wd.harbor_dir().display().to_string(),
    );
    let yml = wd.harbor_yml();
    match (std::fs::read(&yml), &state.harbor) {
        (Ok(bytes), Some(h)) if crate::digest::sha256_digest(&bytes) == h.harbor_yml_sha256 => {
            push("harbor-yml", "done", yml.display().to_string())
        }
        (Ok(_), _) => push(
            "harbor-yml",
            "drifted",
            format!("{} was edited since harbor-lab wrote it", yml.display()),
        ),
        (Err(_), _) => push("harbor-yml", "pending", yml.display().to_string()),
    }
    match &state.daemon_config {
        Some(rec) => {
            let text = daemon_config::read(&rec.path)
                .ok()
                .flatten()
                .unwrap_or_default();
            let merged = daemon_config::merge(&rec.path, Some(&text), &rec.added);
            match merged {
                Ok(m) if m.new_text.is_none() => push(
                    "daemon-config",
                    "done",
                    format!("{} lists {}", rec.path.display(), rec.added.join(", ")),
                ),
                _ => push(
                    "daemon-config",
                    "drifted",
                    format!(
                        "{} no longer lists {}",
                        rec.path.display(),
                        rec.added.join(", ")
                    ),
                ),
            }
        }
        None => push("daemon-config", "pending", "not changed yet".into()),
    }
    push(
        "install",
        if state.steps.contains_key("install") {
            "done"
        } else {
            "pending"
        },
        wd.install_log().display().to_string(),
    );
    let mut answers = false;
    let mut url = String::new();
    if let Some(h) = &state.harbor
        && !h.url.is_empty()
    {
        url = h.url.clone();
        let client = super::install::http_client()?;
        let health = crate::harbor::health::check(&client, &h.url).await;
        // It answers when it sends a health document, healthy or not.
        answers = health.is_ok();
        match health {
            Ok(health) if health.status == "healthy" => {
                push("health", "done", format!("{} is healthy", h.url));
            }
            Ok(health) => push(
                "health",
                "drifted",
                format!("{} answers but reports {}", h.url, health.status),
            ),
            Err(e) => push("health", "drifted", format!("{}: {e}", h.url)),
        }
    } else {
        push(
            "health",
            "pending",
            "Harbor was not installed from this workdir".into(),
        );
    }
    if ui.json {
        ui.json_out(&serde_json::json!({"workdir": root, "harbor_url": url, "harbor_answers": answers, "steps": steps}));
    } else {
        for s in &steps {
            ui.result_line(&format!("{:>14}  {:<8} {}", s.id, s.status, s.detail));
        }
    }
    Ok(Exit::Ok)
}

pub async fn down(ctx: &Context, ui: &Reporter, args: &DownArgs) -> anyhow::Result<Exit> {
    let install = &args.up.install;
    let no_daemon_reload = install.daemon.no_daemon_reload;
    let wd = Workdir::from_flag(ctx, install.workdir.workdir.as_deref());
    let root = wd.root().to_path_buf();
    if install.dry_run {
        return Err(UserError::usage(
            "down has no --dry-run: `harbor-lab status` shows what a down would undo",
        )
        .into());
    }
    if !root.exists() {
        return Err(UserError::usage(format!(
            "{} does not exist: nothing to take down",
            root.display()
        ))
        .into());
    }
    let lock = wd.lock()?;
    let mut state = wd.load()?;
    // `up`'s line retyped: a daemon config other than the one this lab changed
    // is a mistake to stop at, before anything is touched.
    if let (Some(given), Some(rec)) = (&install.daemon.daemon_config, &state.daemon_config)
        && ctx.resolve(given) != rec.path
    {
        return Err(UserError::usage(format!(
            "--daemon-config {} is not the file this lab changed ({}); leave the flag out, or pass --daemon-config {}",
            ctx.resolve(given).display(),
            rec.path.display(),
            rec.path.display()
        ))
        .into());
    }
    let mut done: Vec<String> = Vec::new();

    // Stop Harbor's containers.
    let compose_file = wd.compose_file();
    if compose_file.is_file() {
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
            .with_context(|| format!("running compose down for {}", compose_file.display()))?;
        if !out.status.success() {
            return Err(UserError::environment(format!(
                "compose down failed for {}: {}",
                compose_file.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
            .into());
        }
    } else {
        ui.status(
            "Skipping",
            &format!(
                "containers: there is no {} (install.sh did not get that far)",
                compose_file.display()
            ),
        );
    }
    // Stopped means Harbor no longer answers; say what is true.
    if let Some(url) = state
        .harbor
        .as_ref()
        .map(|h| h.url.clone())
        .filter(|u| !u.is_empty())
    {
        // After a compose down, give the containers time to go.
        let wait = if compose_file.is_file() { 20 } else { 0 };
        if still_answers(&url, wait).await {
            ui.warn(&format!(
                "{url} still answers: that Harbor was not started by this workdir's compose file; stop it where it was started"
            ));
        } else if compose_file.is_file() {
            done.push(format!(
                "stopped Harbor's containers; {url} no longer answers"
            ));
        }
    }

    // Take our entries out of the daemon config and make dockerd forget them.
    // The pre-install file comes back byte for byte only when nothing else
    // changed since; later edits (an admin's, another lab's entries) are kept.
    if let Some(rec) = state.daemon_config.clone() {
        let ours = rec.ours();
        let original = match &rec.backup {
            Some(b) if b.exists() => Some(
                crate::fsutil::read_limited_text(b, crate::fsutil::CONFIG_FILE_MAX)
                    .with_context(|| format!("reading the backup {}", b.display()))?,
            ),
            _ => None,
        };
        let current = daemon_config::read(&rec.path)?;
        let restore =
            daemon_config::restore_plan(&rec.path, current.as_deref(), original.as_deref(), &ours)?;
        if !no_daemon_reload && current.is_some() {
            match daemon_config::dockerd_for(&rec.path) {
                Some(pid) => {
                    write_through(&rec.path, restore.reload_text.as_bytes(), 0o644)
                        .with_context(|| format!("writing {}", rec.path.display()))?;
                    daemon_config::sighup(pid)?;
                    let docker = crate::docker::engine::connect(ctx).await?;
                    if !daemon_config::confirm_gone(
                        &docker,
                        &ours,
                        std::time::Duration::from_secs(10),
                    )
                    .await
                    {
                        ui.warn(&format!(
                            "dockerd still lists {}; restart Docker to drop them",
                            ours.join(", ")
                        ));
                    }
                    done.push(format!(
                        "dockerd (pid {pid}) reloaded without {}",
                        ours.join(", ")
                    ));
                }
                None => ui.warn(&format!(
                    "no running dockerd reads {}; restart Docker to apply it",
                    rec.path.display()
                )),
            }
        }
        match (&restore.text, restore.exact, &rec.backup) {
            (_, _, _) if current.is_none() => ui.warn(&format!(
                "{} is gone; there was nothing of ours to take out",
                rec.path.display()
            )),
            (Some(text), true, Some(b)) => {
                // Through a symlink to its target, with the target's mode and owner.
                write_through(&rec.path, text.as_bytes(), 0o644)
                    .with_context(|| format!("restoring {}", rec.path.display()))?;
                std::fs::remove_file(b).with_context(|| format!("removing {}", b.display()))?;
                done.push(format!(
                    "restored {} byte for byte from {}",
                    rec.path.display(),
                    b.display()
                ));
            }
            (None, _, _) => {
                // Through a symlink: the link is the user's, the file was ours.
                let file = crate::fsutil::final_target(&rec.path)
                    .with_context(|| format!("following {}", rec.path.display()))?;
                if file.exists() {
                    std::fs::remove_file(&file)
                        .with_context(|| format!("removing {}", file.display()))?;
                }
                done.push(format!(
                    "removed {} (harbor-lab created it)",
                    rec.path.display()
                ));
            }
            (Some(text), _, backup) => {
                write_through(&rec.path, text.as_bytes(), 0o644)
                    .with_context(|| format!("writing {}", rec.path.display()))?;
                let kept = backup
                    .as_ref()
                    .filter(|b| b.exists())
                    .map(|b| format!("; the pre-install copy stays in {}", b.display()))
                    .unwrap_or_default();
                ui.warn(&format!(
                    "{} changed after the install (another lab's entries or your edits): \
                     removed only {} and kept everything else{kept}",
                    rec.path.display(),
                    ours.join(", ")
                ));
                done.push(format!(
                    "removed {} from {}",
                    ours.join(", "),
                    rec.path.display()
                ));
            }
        }
        state.daemon_config = None;
        wd.save(&state)?;
    }
    state.steps.retain(|k, _| k != "install" && k != "health");
    wd.save(&state)?;
    if let Some(h) = &state.harbor {
        crate::labs::unregister(ctx, h.http_port, wd.root());
    }

    if args.purge {
        let data = state.harbor.as_ref().map(|h| h.data_volume.clone());
        let what = match &data {
            Some(d) => format!("{} and {}", d.display(), root.display()),
            None => root.display().to_string(),
        };
        if prompt::confirm(
            ui,
            &format!("Delete {what} (Harbor's data, keys and secrets)?"),
            "pass --yes to purge",
        )? {
            if let Some(d) = data
                && d.exists()
            {
                std::fs::remove_dir_all(&d).with_context(|| format!("removing {}", d.display()))?;
            }
            drop(lock);
            std::fs::remove_dir_all(&root)
                .with_context(|| format!("removing {}", root.display()))?;
            done.push(format!("removed {what}"));
        } else {
            // A "no" is an answer: Harbor is down, the data stays.
            ui.result_line(&format!("purge: nothing deleted ({what} kept)"));
        }
    }
    for d in &done {
        ui.status("Done", d);
    }
    if ui.json {
        ui.json_out(&serde_json::json!({"workdir": root, "done": done}));
    }
    Ok(Exit::Ok)
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
