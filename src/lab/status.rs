//! `status`: each install step, done / pending / drifted, from the journal and
//! the real world; and whether Harbor answers (healthy or not).

use std::path::PathBuf;
use std::time::SystemTime;

use serde::Serialize;

use super::report::{Status, StepReport};
use crate::digest::sha256_digest;
use crate::docker::{certs_d, daemon_config};
use crate::error::{Exit, UserError};
use crate::journal::{State, TlsRecord};
use crate::ui::Reporter;
use crate::ui::render::{Report, to_json};
use crate::workdir::Workdir;

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub workdir: PathBuf,
    pub harbor_url: String,
    /// Harbor sends a health document (healthy or not).
    pub harbor_answers: bool,
    /// Installed from this workdir (and not taken down since).
    pub installed: bool,
    /// Installed and answering healthy.
    pub healthy: bool,
    /// `--tls`: the CA certificate clients must trust (null without).
    pub ca_certificate: Option<PathBuf>,
    /// `--tls`: the served certificate and its expiry.
    pub tls: Option<TlsStatus>,
    pub steps: Vec<StepReport>,
}

#[derive(Debug, Serialize)]
pub struct TlsStatus {
    pub https_port: u16,
    pub certificate: PathBuf,
    /// `YYYY-MM-DD`, None when the certificate cannot be read.
    pub certificate_expires: Option<String>,
    pub ca_certificate: Option<PathBuf>,
}

impl Report for StatusReport {
    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
    /// The table is the command's output: stdout, one row per step.
    fn human(&self, ui: &Reporter) {
        let mut table = String::new();
        for s in &self.steps {
            let status = serde_json::to_value(s.status).unwrap_or_default();
            let status = status.as_str().unwrap_or("");
            table.push_str(&format!("{:>14}  {:<8} {}\n", s.id, status, s.detail));
        }
        ui.stdout(&table);
    }
    /// A check for scripts: 0 only when Harbor is installed and healthy.
    fn exit(&self) -> Result<Exit, UserError> {
        Ok(match (self.installed, self.healthy) {
            (false, _) => Exit::NotInstalled,
            (true, false) => Exit::NotAnswering,
            (true, true) => Exit::Ok,
        })
    }
}

/// Read the journal and look at the world; changes nothing.
pub async fn status(
    wd: &Workdir,
    client: &reqwest::Client,
    now: SystemTime,
) -> anyhow::Result<StatusReport> {
    let state = wd.load()?;
    // `down` keeps the Harbor record but forgets the install: taken down.
    let installed = state.steps.contains_key("install");
    let taken_down = state.harbor.is_some() && !installed;
    let mut steps = vec![
        extract(wd),
        harbor_yml(wd, &state),
        daemon(&state, taken_down),
    ];
    if let Some(t) = &state.tls {
        steps.extend(tls_steps(t, now));
    }
    steps.push(if installed {
        StepReport::new(
            "install",
            Status::Done,
            wd.install_log().display().to_string(),
        )
    } else if taken_down {
        StepReport::new(
            "install",
            Status::Pending,
            "taken down by `harbor-lab down`; `harbor-lab install` (or up) brings it back",
        )
    } else {
        StepReport::new(
            "install",
            Status::Pending,
            wd.install_log().display().to_string(),
        )
    });
    // A --tls Harbor: its health over https with the lab CA.
    let ca = state
        .tls
        .as_ref()
        .and_then(|t| t.ca_certificate.as_ref())
        .and_then(|p| std::fs::read(p).ok());
    let trusting = match &ca {
        Some(pem) => Some(crate::http::client_trusting(
            crate::http::Profile::Transfer,
            Some(pem),
        )?),
        None => None,
    };
    let (url, answers, health) =
        health(&state, trusting.as_ref().unwrap_or(client), taken_down).await;
    let healthy = health.status == Status::Done;
    steps.push(health);
    steps.push(keys(wd));
    steps.push(demo(&state));
    Ok(StatusReport {
        workdir: wd.root().to_path_buf(),
        harbor_url: url,
        harbor_answers: answers,
        installed,
        healthy: installed && healthy,
        ca_certificate: state.tls.as_ref().and_then(|t| t.ca_certificate.clone()),
        tls: state.tls.as_ref().map(|t| TlsStatus {
            https_port: t.https_port,
            certificate: t.certificate.clone(),
            certificate_expires: crate::tls::read_cert(&t.certificate)
                .ok()
                .map(|c| c[0].expires()),
            ca_certificate: t.ca_certificate.clone(),
        }),
        steps,
    })
}

/// The lab's key pair.
fn keys(wd: &Workdir) -> StepReport {
    let pair = crate::lab::keys::KeyPair::at_prefix(&wd.key_prefix());
    match (pair.private.is_file(), pair.public.is_file()) {
        (true, true) => StepReport::new(
            "keys",
            Status::Done,
            format!("{} / {}", pair.private.display(), pair.public.display()),
        ),
        (false, false) => StepReport::new(
            "keys",
            Status::Pending,
            format!("no key pair at {}.key yet", wd.key_prefix().display()),
        ),
        _ => StepReport::new(
            "keys",
            Status::Drifted,
            format!(
                "only one of {} and {} is there",
                pair.private.display(),
                pair.public.display()
            ),
        ),
    }
}

/// What the last demo showed.
fn demo(state: &State) -> StepReport {
    match &state.demo {
        Some(d) if d.steps.iter().all(|s| s.ok) => StepReport::new(
            "demo",
            Status::Done,
            format!(
                "{} {}: signed, verified, tamper caught, unsigned pull refused",
                d.image, d.digest
            ),
        ),
        Some(d) => StepReport::new(
            "demo",
            Status::Drifted,
            format!(
                "{}: the last demo did not show everything (run `harbor-lab demo`)",
                d.image
            ),
        ),
        None => StepReport::new("demo", Status::Pending, "not run yet"),
    }
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

/// The served certificate's expiry (drifted with fewer than 30 days left, when
/// a re-run would renew it) and whether certs.d still holds the lab CA.
fn tls_steps(t: &TlsRecord, now: SystemTime) -> Vec<StepReport> {
    let mut out = vec![match crate::tls::read_cert(&t.certificate) {
        Ok(chain) => {
            let days = chain[0].days_left(now);
            StepReport::new(
                "tls",
                if days < crate::tls::RENEW_DAYS as i64 {
                    Status::Drifted
                } else {
                    Status::Done
                },
                format!(
                    "{} expires {} ({days} days left)",
                    t.certificate.display(),
                    chain[0].expires()
                ),
            )
        }
        Err(e) => StepReport::new("tls", Status::Drifted, e.to_string()),
    }];
    if let Some(c) = &t.certs_d {
        out.push(match certs_d::check(c) {
            certs_d::Check::Matches => {
                StepReport::new("docker-trust", Status::Done, c.path.display().to_string())
            }
            certs_d::Check::Missing => StepReport::new(
                "docker-trust",
                Status::Drifted,
                format!(
                    "{} is gone; Docker no longer trusts the lab CA",
                    c.path.display()
                ),
            ),
            certs_d::Check::Changed => StepReport::new(
                "docker-trust",
                Status::Drifted,
                format!("{} no longer holds the lab CA", c.path.display()),
            ),
        });
    }
    out
}

fn daemon(state: &State, taken_down: bool) -> StepReport {
    let tls = state.tls.is_some();
    let Some(rec) = state
        .daemon_config
        .as_ref()
        .filter(|r| !(tls && r.added.is_empty()))
    else {
        if taken_down {
            return StepReport::new(
                "daemon-config",
                Status::Pending,
                "this lab's entries were taken out by `harbor-lab down`",
            );
        }
        if tls {
            return StepReport::new(
                "daemon-config",
                Status::Done,
                "--tls: daemon.json lists no entry of harbor-lab's",
            );
        }
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
async fn health(
    state: &State,
    client: &reqwest::Client,
    taken_down: bool,
) -> (String, bool, StepReport) {
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
        Err(_) if taken_down => StepReport::new(
            "health",
            Status::Pending,
            format!("{} was taken down and does not answer", h.url),
        ),
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
