//! `up`: install -> keys -> demo. The plan shown before the one confirmation
//! is printed from the same step lists that run, so it cannot drift from what
//! install and the demo do.

use std::path::PathBuf;

use anyhow::Context as _;
use serde::Serialize;

use super::demo::{self, DemoReport, DemoTarget};
use super::install::{self, InstallReport};
use super::keys::{KeyPair, ensure_lab_keys, explain_lab_keys};
use super::options::{InstallOptions, StoryOptions};
use super::report::{Status, StepReport};
use super::step::plan_lines;
use crate::context::Context;
use crate::error::{Exit, UserError};
use crate::ui::Reporter;
use crate::ui::render::{Report, to_json};

/// Every step `up` takes, in order, one line each.
pub fn plan(opts: &InstallOptions, story: &StoryOptions) -> Vec<String> {
    let mut lines = install::plan(opts);
    lines.push(format!(
        "keys: create the cosign key pair {}.key / .pub if missing",
        opts.workdir.key_prefix().display()
    ));
    lines.extend(plan_lines(&demo::steps(), story));
    lines
}

#[derive(Debug, Serialize)]
pub struct UpReport {
    pub harbor_url: String,
    pub registry: String,
    pub admin_password_file: PathBuf,
    /// `--tls`: the CA certificate clients must trust (null without).
    pub ca_certificate: Option<PathBuf>,
    pub private_key: PathBuf,
    pub public_key: PathBuf,
    /// The generated key password (`cosign.password`), when there is one.
    pub key_password_file: Option<PathBuf>,
    pub install_log: PathBuf,
    /// Where Harbor's containers log (harbor.yml's `log.local.location`).
    pub harbor_log_dir: PathBuf,
    pub workdir: PathBuf,
    pub install: InstallReport,
    pub demo: DemoReport,
}

impl Report for UpReport {
    fn json(&self) -> serde_json::Value {
        let mut doc = to_json(self);
        doc["demo"] = self.demo.public_json();
        doc
    }
    fn human(&self, ui: &Reporter) {
        let demo = &self.demo;
        ui.result_line("");
        ui.result_line(&format!(
            "Harbor:          {} (user admin)",
            self.harbor_url
        ));
        ui.result_line(&format!(
            "Admin password:  {}",
            self.admin_password_file.display()
        ));
        if let Some(ca) = &self.ca_certificate {
            ui.result_line(&format!("CA certificate:  {}", ca.display()));
        }
        ui.result_line(&format!(
            "Keys:            {} / {}",
            self.private_key.display(),
            self.public_key.display()
        ));
        if let Some(p) = &self.key_password_file {
            ui.result_line(&format!("Key password:    {}", p.display()));
        }
        ui.result_line(&format!(
            "Verified:        {} {} (signed by cosign in Harbor: {}; tamper caught: {}; unsigned pull refused: {})",
            demo.image, demo.digest, demo.signed_after, demo.tamper_detected, demo.unsigned_pull_blocked
        ));
        // What to do next, as commands to paste.
        let w = self.workdir.display();
        ui.result_line("");
        ui.result_line("Next:");
        ui.result_line(&format!(
            "  docker login {} -u admin --password-stdin < {}",
            self.registry,
            self.admin_password_file.display()
        ));
        ui.result_line(&format!(
            "  open {} in a browser (user admin)",
            self.harbor_url
        ));
        ui.result_line(&format!(
            "  harbor-lab status --workdir {w}     is Harbor installed and healthy?"
        ));
        ui.result_line(&format!(
            "  harbor-lab down --workdir {w}       stop Harbor, take the daemon.json entries out"
        ));
        ui.result_line(&format!(
            "Logs:            {} (install.sh), {} (Harbor's containers)",
            self.install_log.display(),
            self.harbor_log_dir.display()
        ));
    }
    fn exit(&self) -> Result<Exit, UserError> {
        self.demo.verdict().map(|()| Exit::Ok)
    }
}

/// Where Harbor's containers log: `log.local.location` of the harbor.yml in
/// place, else Harbor's default.
fn harbor_log_dir(wd: &crate::workdir::Workdir) -> PathBuf {
    let default = PathBuf::from("/var/log/harbor");
    let Ok(text) =
        crate::fsutil::read_limited_text(&wd.harbor_yml(), crate::fsutil::CONFIG_FILE_MAX)
    else {
        return default;
    };
    serde_norway::from_str::<serde_norway::Value>(&text)
        .ok()
        .and_then(|v| v["log"]["local"]["location"].as_str().map(PathBuf::from))
        .unwrap_or(default)
}

/// `up --dry-run`: the plan and what install would do.
#[derive(Debug, Serialize)]
pub struct UpPlan {
    pub dry_run: bool,
    pub plan: Vec<String>,
    pub install: InstallReport,
}

impl Report for UpPlan {
    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
}

/// Install, make the lab key pair, then run the demo with it.
pub async fn up(
    ctx: &Context,
    ui: &Reporter,
    opts: &InstallOptions,
    story: &StoryOptions,
) -> anyhow::Result<UpReport> {
    let installed = install::install(ctx, ui, opts).await?;
    let wd = &opts.workdir;
    let keys = KeyPair::at_prefix(&wd.key_prefix());
    if opts.explain {
        explain_lab_keys(ui, &keys);
    }
    // The demo signs with the password the keys were just made with, if they were.
    let key_password = ensure_lab_keys(
        ctx,
        ui,
        &keys,
        story.password_file.as_deref(),
        &wd.cosign_password_file(),
    )?;
    let step = match key_password {
        Some(_) => StepReport::new(
            "keys",
            Status::Done,
            format!("{} created", keys.private.display()),
        ),
        None => StepReport::new(
            "keys",
            Status::Skipped,
            format!("{} already exists", keys.private.display()),
        ),
    };
    step.print(ui);
    let target = DemoTarget {
        harbor_url: installed.harbor_url.clone(),
        user: "admin".into(),
        password_file: installed.admin_password_file.clone(),
        password: installed
            .admin_password
            .clone()
            .context("install chose no admin password")?,
        keys: keys.clone(),
        key_password,
        workdir: wd.clone(),
        ca_certificate: installed.ca_certificate.clone(),
    };
    let demo = demo::run_demo(ctx, ui, story, &target).await?;
    Ok(UpReport {
        registry: opts.host.registry(),
        harbor_url: installed.harbor_url.clone(),
        admin_password_file: installed.admin_password_file.clone(),
        ca_certificate: installed.ca_certificate.clone(),
        private_key: demo.private_key.clone(),
        public_key: demo.public_key.clone(),
        key_password_file: Some(wd.cosign_password_file()).filter(|p| p.is_file()),
        install_log: wd.install_log(),
        harbor_log_dir: harbor_log_dir(wd),
        workdir: wd.root().to_path_buf(),
        install: installed,
        demo,
    })
}
