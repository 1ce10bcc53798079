//! `up`: preflight -> install -> keys -> demo, with one plan shown first and
//! one confirmation. Each part is the same code as its own command, so running
//! `up` again after an interruption finishes the job and skips what is done.

use anyhow::Context as _;
use serde_json::json;

use crate::cli::UpArgs;
use crate::context::Context;
use crate::error::Exit;
use crate::ui::{Reporter, prompt};

use super::demo::{Target, run_demo};
use super::install::install;
use crate::lab::keys::{KeyPair, ensure_lab_keys};
use crate::workdir::Workdir;

pub async fn command(ctx: &Context, ui: &Reporter, args: &UpArgs) -> anyhow::Result<Exit> {
    let wd = Workdir::from_flag(ctx, args.install.workdir.workdir.as_deref());
    let workdir = wd.root().to_path_buf();
    let key_prefix = wd.key_prefix();
    // The address the install will use: --hostname, else the one detected now.
    let host = match &args.install.host.hostname {
        Some(h) => h.clone(),
        None => crate::net::detect_host_ip()
            .map(|ip| ip.to_string())
            .unwrap_or_else(|_| "this machine's first IPv4 address".into()),
    };
    let port = args.install.host.http_port;
    let url = super::install::base_url(&host, port);
    let plan = [
        "check that this machine can run Harbor (Docker, compose, ports, disk, memory)".to_string(),
        match &args.install.installer_file {
            Some(f) => format!(
                "extract the Harbor installer {} into {}",
                f.display(),
                workdir.display()
            ),
            None => format!(
                "download Harbor {} (md5-checked, cached) and extract it into {}",
                args.install
                    .harbor_version
                    .as_deref()
                    .unwrap_or(crate::installer::versions::DEFAULT_VERSION),
                workdir.display()
            ),
        },
        format!(
            "write {}/harbor/harbor.yml for {url} with {}",
            workdir.display(),
            match &args.install.admin_password_file {
                Some(f) => format!("the admin password in {}", f.display()),
                None => "a random admin password (kept 0600)".to_string(),
            }
        ),
        format!(
            "add {host}:{port} to insecure-registries in {}{}",
            args.install.daemon.path().display(),
            if args.install.daemon.no_daemon_reload {
                " (dockerd is not reloaded: --no-daemon-reload)"
            } else {
                " and reload dockerd (no restart)"
            }
        ),
        "run install.sh and wait until Harbor reports healthy".to_string(),
        format!(
            "create the cosign key pair {}.key / .pub if missing",
            key_prefix.display()
        ),
        format!(
            "demo in project {}: push {} unsigned, sign, verify, tamper, enforce the cosign policy",
            args.story.project,
            match &args.story.image_file {
                Some(f) => format!("the image in {}", f.display()),
                None => args.story.image.clone(),
            }
        ),
    ];
    ui.line("harbor-lab up will:");
    for (i, p) in plan.iter().enumerate() {
        ui.line(&format!("  {}. {p}", i + 1));
    }
    if args.install.dry_run {
        let report = install(ctx, ui, &args.install).await?;
        if ui.json {
            ui.json_out(&json!({"dry_run": true, "plan": plan, "install": report}));
        }
        return Ok(Exit::Ok);
    }
    if !prompt::confirm(ui, "Proceed?", "pass --yes to run the plan without asking")? {
        // A "no" is an answer, not a failure.
        ui.result_line("nothing done");
        if ui.json {
            ui.json_out(&json!({"ok": true, "cancelled": true, "plan": plan}));
        }
        return Ok(Exit::Ok);
    }
    // One confirmation for the whole plan.
    ui.assume_yes();

    let installed = install(ctx, ui, &args.install).await?;
    let keys = KeyPair::at_prefix(&key_prefix);
    // The demo signs with the password the keys were just made with, if they were.
    let key_password = ensure_lab_keys(
        ctx,
        ui,
        &keys,
        args.story.password_file.as_deref(),
        &wd.cosign_password_file(),
    )?;
    let (verb, what) = match key_password {
        Some(_) => ("Done", "created"),
        None => ("Skipping", "already exists"),
    };
    ui.status(verb, &format!("keys: {} {what}", keys.private.display()));
    let password = installed
        .admin_password
        .clone()
        .context("install reported no admin password")?;
    let target = Target {
        harbor_url: installed.harbor_url.clone(),
        user: "admin".into(),
        password,
        keys,
        key_password,
        workdir: wd.clone(),
    };
    let demo = run_demo(ctx, ui, &args.story, &target).await?;

    let registry = installed
        .harbor_url
        .trim_start_matches("http://")
        .to_string();
    ui.result_line("");
    ui.result_line(&format!(
        "Harbor:          {} (user admin)",
        installed.harbor_url
    ));
    ui.result_line(&format!(
        "Admin password:  {}",
        installed.admin_password_file.display()
    ));
    ui.result_line(&format!(
        "Keys:            {} / {}",
        demo.private_key.display(),
        demo.public_key.display()
    ));
    let key_password_file = Some(wd.cosign_password_file()).filter(|p| p.is_file());
    if let Some(p) = &key_password_file {
        ui.result_line(&format!("Key password:    {}", p.display()));
    }
    ui.result_line(&format!(
        "Verified:        {} {} (signed by cosign in Harbor: {}; tamper caught: {}; unsigned pull refused: {})",
        demo.image, demo.digest, demo.signed_after, demo.tamper_detected, demo.unsigned_pull_blocked
    ));
    // What to do next, as commands to paste.
    let w = workdir.display();
    ui.result_line("");
    ui.result_line("Next:");
    ui.result_line(&format!(
        "  docker login {registry} -u admin --password-stdin < {}",
        installed.admin_password_file.display()
    ));
    ui.result_line(&format!(
        "  open {} in a browser (user admin)",
        installed.harbor_url
    ));
    ui.result_line(&format!(
        "  harbor-lab status --workdir {w}     is Harbor installed and healthy?"
    ));
    ui.result_line(&format!(
        "  harbor-lab down --workdir {w}       stop Harbor, take the daemon.json entries out"
    ));
    ui.result_line(&format!(
        "Logs:            {} (install.sh), {} (Harbor's containers)",
        wd.install_log().display(),
        harbor_log_dir(&wd).display()
    ));
    let all_ok = demo.steps.iter().all(|s| s.ok);
    if ui.json {
        ui.json_out(&json!({
            "ok": all_ok,
            "harbor_url": installed.harbor_url,
            "registry": registry,
            "admin_password_file": installed.admin_password_file,
            "private_key": demo.private_key,
            "public_key": demo.public_key,
            "key_password_file": key_password_file,
            "install_log": wd.install_log(),
            "install": installed,
            "demo": demo,
        }));
    }
    let code = super::demo::finish(&Reporter::silent(), &demo)?;
    Ok(code)
}

/// Where Harbor's containers log: `log.local.location` of the harbor.yml in
/// place, else Harbor's default.
fn harbor_log_dir(wd: &Workdir) -> std::path::PathBuf {
    let default = std::path::PathBuf::from("/var/log/harbor");
    let Ok(text) =
        crate::fsutil::read_limited_text(&wd.harbor_yml(), crate::fsutil::CONFIG_FILE_MAX)
    else {
        return default;
    };
    serde_norway::from_str::<serde_norway::Value>(&text)
        .ok()
        .and_then(|v| {
            v["log"]["local"]["location"]
                .as_str()
                .map(std::path::PathBuf::from)
        })
        .unwrap_or(default)
}
