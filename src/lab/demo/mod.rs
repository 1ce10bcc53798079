//! `demo`: the tutorial's story, one step at a time, against a running Harbor
//! (see [`steps`]):
//!
//!  1. connect (login, project), push the image unsigned and show what Harbor
//!     reports (not signed);
//!  2. sign it with the lab key and show what Harbor reports (signed by cosign);
//!  3. verify it, with cosign's output;
//!  4. tamper: push a different image to the tag, show verification fail and
//!     why, then put the original back;
//!  5. policy: turn on cosign enforcement, show the unsigned image refused
//!     (Harbor's 412) and the signed one pulled, then restore the policy;
//!  6. freshness (`fresh.rs` over `lab::freshness`): pin the signed image in a
//!     private TUF repository whose metadata lives in Harbor's `tuf` project,
//!     update it, roll the tag back (cosign accepts, `verify --tuf` refuses),
//!     freeze the timestamp (`verify --tuf` refuses). It runs every time.
//!
//! What the story found is kept in the journal, so running the demo again skips
//! finished steps (nothing is pushed again) and reports the same answers.
//!
//! How to add a step: write its `plan` line, `check` and `apply` (in `story.rs`
//! or a file beside it) and add one `step!(..)` line to [`steps`].

mod fresh;
pub mod image;
mod story;

use std::path::PathBuf;

use anyhow::Context as _;

use super::keys::KeyPair;
use super::options::StoryOptions;
use super::report::{Status, StepReport};
use super::secrets::Secret;
use super::step::{self, Pipeline, Step};
use crate::context::Context;
use crate::cosign::sign::{Format as SignFormat, Subject};
use crate::digest::fingerprint;
use crate::docker::engine;
use crate::error::UserError;
use crate::harbor::client::Harbor;
use crate::journal::State;
pub use crate::journal::{DemoReport, DemoStep};
use crate::registry::{Client, RegistryOptions};
use crate::step;
use crate::ui::Reporter;
use crate::workdir::{Lock, Workdir};
use image::DemoImage;

/// The demo's steps, in order. Step ids are `--json` values.
pub fn steps<'a>() -> Vec<Step<DemoRun<'a>>> {
    vec![
        step!(
            "connect",
            story::plan_connect,
            story::check_connect,
            story::apply_connect
        ),
        step!(
            "push",
            story::plan_push,
            story::check_push,
            story::apply_push,
            story::explain_push
        ),
        step!(
            "show-unsigned",
            story::plan_show_unsigned,
            story::always,
            story::apply_show_unsigned,
            story::explain_show_unsigned
        ),
        step!(
            "sign",
            story::plan_sign,
            story::check_sign,
            story::apply_sign,
            story::explain_sign
        ),
        step!(
            "show-signed",
            story::plan_show_signed,
            story::always,
            story::apply_show_signed
        ),
        step!(
            "verify",
            story::plan_verify,
            story::always,
            story::apply_verify,
            story::explain_verify
        ),
        step!(
            "tamper",
            story::plan_tamper,
            story::check_tamper,
            story::apply_tamper,
            story::explain_tamper
        ),
        step!(
            "policy",
            story::plan_policy,
            story::check_policy,
            story::apply_policy,
            story::explain_policy
        ),
        step!(
            "freshness",
            fresh::plan_freshness,
            fresh::check_freshness,
            fresh::apply_freshness
        ),
    ]
}

impl DemoReport {
    /// The `--json` document: the report without the journal's internal
    /// fields (its input fingerprint), its steps in the one step shape that
    /// install's have too (`id`, `status`, `detail`).
    pub fn public_json(&self) -> serde_json::Value {
        let mut doc = crate::ui::render::to_json(self);
        if let Some(obj) = doc.as_object_mut() {
            obj.remove("fingerprint");
            let steps = self.steps.iter().map(|s| step_report(s).json()).collect();
            obj.insert("steps".into(), steps);
        }
        doc
    }

    /// What the story showed, and what to try next, in a few lines.
    pub fn summary_lines(&self) -> Vec<String> {
        let yes_no = |b: bool| if b { "yes" } else { "NO" };
        vec![
            format!("Image:           {} {}", self.image, self.digest),
            format!(
                "Signed by cosign in Harbor: {}; verified with {}: {}; tamper caught: {}; unsigned pull refused: {}; signed pull allowed: {}",
                yes_no(self.signed_after),
                self.public_key.display(),
                yes_no(self.verified),
                yes_no(self.tamper_detected),
                yes_no(self.unsigned_pull_blocked),
                yes_no(self.signed_pull_allowed),
            ),
            format!(
                "Next:            harbor-lab verify --key {} {}",
                self.public_key.display(),
                self.image
            ),
        ]
    }

    /// Did the story show everything it should? Otherwise the error (exit 4)
    /// names the steps that did not.
    pub fn verdict(&self) -> Result<(), UserError> {
        let failed: Vec<&str> = self
            .steps
            .iter()
            .filter(|s| !s.ok)
            .map(|s| s.name.as_str())
            .collect();
        if failed.is_empty() {
            return Ok(());
        }
        Err(UserError::remote(format!(
            "the demo did not show what it should at: {}",
            failed.join(", ")
        )))
    }
}

/// A journalled demo step as a [`StepReport`]; a journal from before the
/// status was kept has only `ok`.
fn step_report(s: &DemoStep) -> StepReport {
    let kept = serde_json::from_value(serde_json::Value::String(s.status.clone())).ok();
    let status = kept.unwrap_or(if s.ok { Status::Ok } else { Status::Failed });
    StepReport::new(&s.name, status, s.detail.clone())
}

/// The Harbor the demo runs against, and the key it signs with.
pub struct DemoTarget {
    pub harbor_url: String,
    pub user: String,
    pub password: Secret,
    /// Where the password is kept (`--explain` reads it from there).
    pub password_file: PathBuf,
    pub keys: KeyPair,
    /// The key's password when the caller already has it (it just made the key).
    pub key_password: Option<Secret>,
    pub workdir: Workdir,
    /// The lab CA of a `--tls` Harbor, trusted for its API and registry.
    pub ca_certificate: Option<PathBuf>,
}

/// One demo run: the story's inputs, its clients, and what it found so far.
pub struct DemoRun<'a> {
    pub ctx: &'a Context,
    pub ui: &'a Reporter,
    pub story: &'a StoryOptions,
    pub target: &'a DemoTarget,
    pub image: DemoImage,
    pub harbor: Harbor,
    pub registry: Client,
    pub creds: Option<bollard::auth::DockerCredentials>,
    /// What an earlier run with the same inputs found (none with --fresh).
    pub previous: Option<DemoReport>,
    pub report: DemoReport,
    /// The format the sign step writes (chosen when Harbor's version is known).
    pub format: SignFormat,
    /// The image as we pushed it: what the signature's `subject` names.
    pub subject: Option<Subject>,
    state: State,
    _lock: Lock,
}

impl Pipeline for DemoRun<'_> {
    type Options = StoryOptions;
    const NAME: &'static str = "demo";
    fn ui(&self) -> &Reporter {
        self.ui
    }
    fn dry_run(&self) -> bool {
        false
    }
    /// The demo journals its findings once, at the end.
    fn save(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
    fn record(&mut self, report: StepReport) {
        self.report.steps.push(DemoStep {
            ok: report.status != Status::Failed,
            status: crate::ui::render::to_json(&report.status)
                .as_str()
                .unwrap_or_default()
                .to_string(),
            name: report.id,
            detail: report.detail,
        });
    }
    fn error_context(&self, id: &'static str) -> Option<String> {
        Some(format!("demo step {id}"))
    }
    fn explaining(&self) -> bool {
        self.story.explain
    }
}

impl<'a> DemoRun<'a> {
    pub fn start(
        ctx: &'a Context,
        ui: &'a Reporter,
        story: &'a StoryOptions,
        target: &'a DemoTarget,
    ) -> anyhow::Result<DemoRun<'a>> {
        let lock = target.workdir.lock()?;
        let state = target.workdir.load()?;
        let host = registry_host(&target.harbor_url)?;
        let image = DemoImage::new(&story.image, &host, &story.project)
            .with_context(|| format!("--image {} in project {}", story.image, story.project))?;
        let image = if story.image_file.is_some() {
            image.from_file()
        } else {
            image
        };
        let fp = demo_fingerprint(story, &image, &target.keys);
        let previous = state
            .demo
            .clone()
            .filter(|r| r.fingerprint == fp && !story.fresh);
        let password = target.password.expose();
        let ca_pem = match &target.ca_certificate {
            Some(p) => Some(std::fs::read(p).map_err(|e| {
                UserError::usage(format!(
                    "{}: {e} (the lab CA of {})",
                    p.display(),
                    target.harbor_url
                ))
            })?),
            None => None,
        };
        let harbor = Harbor::trusting(
            &target.harbor_url,
            &target.user,
            &password,
            ca_pem.as_deref(),
        )?;
        let registry = Client::new(RegistryOptions {
            allow_insecure: target.harbor_url.starts_with("http://"),
            ca_cert_pem: ca_pem,
            username: Some(target.user.clone()),
            password: Some(password.to_string()),
            ..Default::default()
        })?;
        let creds = Some(engine::credentials(&host, &target.user, &password));
        let report = DemoReport {
            harbor_url: target.harbor_url.clone(),
            image: image.target.to_string(),
            public_key: target.keys.public.clone(),
            private_key: target.keys.private.clone(),
            fingerprint: fp,
            ..Default::default()
        };
        Ok(DemoRun {
            ctx,
            ui,
            story,
            target,
            image,
            harbor,
            registry,
            creds,
            previous,
            report,
            format: story.signature_format.unwrap_or(SignFormat::Legacy),
            subject: None,
            state,
            _lock: lock,
        })
    }

    /// The manual commands as this Harbor needs them: a --tls Harbor's lab CA
    /// named too.
    fn commands(&self, lines: &[String]) -> Vec<String> {
        lines
            .iter()
            .map(|l| match &self.target.ca_certificate {
                Some(ca) if l.starts_with("curl ") => {
                    l.replacen("curl ", &format!("curl --cacert {} ", ca.display()), 1)
                }
                Some(ca) if l.starts_with("cosign ") => {
                    format!("{l} --registry-cacert {}", ca.display())
                }
                _ => l.clone(),
            })
            .collect()
    }

    /// `-u user:password` for curl, the password read from its file.
    fn curl_user(&self) -> String {
        format!(
            "-u \"{}:$(cat {})\"",
            self.target.user,
            self.target.password_file.display()
        )
    }

    /// A sub-step's verdict (the policy step reports its two pulls).
    fn sub_step(&mut self, id: &str, ok: bool, tone: crate::ui::Tone, detail: String) {
        let r = StepReport::new(id, if ok { Status::Ok } else { Status::Failed }, detail)
            .with_tone(tone);
        step::keep(self, r);
    }
}

/// Run the story. `Err` names the step that could not be carried out.
pub async fn run_demo(
    ctx: &Context,
    ui: &Reporter,
    story: &StoryOptions,
    target: &DemoTarget,
) -> anyhow::Result<DemoReport> {
    let mut run = DemoRun::start(ctx, ui, story, target)?;
    step::execute(&mut run, &steps()).await?;
    run.state.demo = Some(run.report.clone());
    target.workdir.save(&run.state)?;
    Ok(run.report)
}

/// What the demo's findings are for: the image as given, its file, its place
/// in Harbor, the key. A change runs the whole story again.
pub fn demo_fingerprint(story: &StoryOptions, image: &DemoImage, keys: &KeyPair) -> String {
    fingerprint(&[
        &story.image,
        &story
            .image_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        &image.target.to_string(),
        &keys.private.display().to_string(),
    ])
}

/// `host[:port]` of Harbor's URL.
fn registry_host(url: &str) -> Result<String, UserError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            UserError::usage(format!(
                "--harbor-url {url}: must start with http:// or https://"
            ))
        })?;
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') {
        return Err(UserError::usage(format!(
            "--harbor-url {url}: give just scheme://host[:port]"
        )));
    }
    Ok(host.to_string())
}
