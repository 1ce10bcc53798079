//! `status`: each install step, done / pending / drifted, from the journal and
//! the real world; and whether Harbor answers (healthy or not).

use std::path::PathBuf;

use serde::Serialize;

use super::report::{Status, StepReport};
use crate::digest::sha256_digest;
use crate::docker::daemon_config;
use crate::journal::State;
use crate::ui::Reporter;
use crate::ui::render::{Report, to_json};
use crate::workdir::Workdir;

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub workdir: PathBuf,
    pub harbor_url: String,
    /// Harbor sends a health document (healthy or not).
    pub harbor_answers: bool,
    pub steps: Vec<StepReport>,
}

impl Report for StatusReport {
    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
    fn human(&self, ui: &Reporter) {
        for s in &self.steps {
            let status = serde_json::to_value(s.status).unwrap_or_default();
            let status = status.as_str().unwrap_or("");
            ui.result_line(&format!("{:>14}  {:<8} {}", s.id, status, s.detail));
        }
    }
}

/// Read the journal and look at the world; changes nothing.
pub async fn status(wd: &Workdir, client: &reqwest::Client) -> anyhow::Result<StatusReport> {
    let state = wd.load()?;
    let mut steps = vec![extract(wd), harbor_yml(wd, &state), daemon(&state)];
    steps.push(StepReport::new(
        "install",
        if state.steps.contains_key("install") {
            Status::Done
        } else {
            Status::Pending
        },
        wd.install_log().display().to_string(),
    ));
    let (url, answers, health) = health(&state, client).await;
    steps.push(health);
    Ok(StatusReport {
        workdir: wd.root().to_path_buf(),
        harbor_url: url,
        harbor_answers: answers,
        steps,
    })
}

fn extract(wd: &Workdir) -> StepReport {
    let done = wd.harbor_dir().join("install.sh").is_file();
    StepReport::new(
        "extract",
        if done { Status::Done } else { Status::Pending },
        wd.harbor_dir().display().to_string(),
    )
}

fn harbor_yml(wd: &Workdir, state: &State) -> StepReport {
    let yml = wd.harbor_yml();
    match (std::fs::read(&yml), &state.harbor) {
        (Ok(bytes), Some(h)) if sha256_digest(&bytes) == h.harbor_yml_sha256 => {
            StepReport::new("harbor-yml", Status::Done, yml.display().to_string())
        }
        (Ok(_), _) => StepReport::new(
            "harbor-yml",
            Status::Drifted,
            format!("{} was edited since harbor-lab wrote it", yml.display()),
        ),
        (Err(_), _) => StepReport::new("harbor-yml", Status::Pending, yml.display().to_string()),
    }
}

fn daemon(state: &State) -> StepReport {
    let Some(rec) = &state.daemon_config else {
        return StepReport::new("daemon-config", Status::Pending, "not changed yet");
    };
    let text = daemon_config::read(&rec.path)
        .ok()
        .flatten()
        .unwrap_or_default();
    match daemon_config::merge(&rec.path, Some(&text), &rec.added) {
        Ok(m) if m.new_text.is_none() => StepReport::new(
            "daemon-config",
            Status::Done,
            format!("{} lists {}", rec.path.display(), rec.added.join(", ")),
        ),
        _ => StepReport::new(
            "daemon-config",
            Status::Drifted,
            format!(
                "{} no longer lists {}",
                rec.path.display(),
                rec.added.join(", ")
            ),
        ),
    }
}

/// Harbor's URL, whether it answers, and the health step.
async fn health(state: &State, client: &reqwest::Client) -> (String, bool, StepReport) {
    let Some(h) = state.harbor.as_ref().filter(|h| !h.url.is_empty()) else {
        return (
            String::new(),
            false,
            StepReport::new(
                "health",
                Status::Pending,
                "Harbor was not installed from this workdir",
            ),
        );
    };
    let health = crate::harbor::health::check(client, &h.url).await;
    let answers = health.is_ok();
    let step = match health {
        Ok(health) if health.is_healthy() => {
            StepReport::new("health", Status::Done, format!("{} is healthy", h.url))
        }
        Ok(health) => StepReport::new(
            "health",
            Status::Drifted,
            format!("{} answers but reports {}", h.url, health.status),
        ),
        Err(e) => StepReport::new("health", Status::Drifted, format!("{}: {e}", h.url)),
    };
    (h.url.clone(), answers, step)
}
