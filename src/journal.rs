//! The journal (`<workdir>/state.json`): what each step did, with a
//! fingerprint of its inputs, and what `down` must undo. Steps re-check the
//! real world before acting, so running a command again is how a run resumes;
//! the journal only tells a finished step from one whose inputs changed.
//!
//! Field names and step ids are a compatibility promise: a workdir made by an
//! older harbor-lab must resume with this one (tests/fixtures/state-da58c46.json).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// Per step id: the last outcome.
    #[serde(default)]
    pub steps: BTreeMap<String, StepRecord>,
    /// The daemon.json we changed, for `down` to restore.
    #[serde(default)]
    pub daemon_config: Option<DaemonConfigRecord>,
    /// The Harbor this workdir installed.
    #[serde(default)]
    pub harbor: Option<HarborRecord>,
    /// What the demo found, so a re-run reports the same answers without
    /// pushing again.
    #[serde(default)]
    pub demo: Option<DemoReport>,
    /// TLS mode (`--tls`): the pair Harbor serves and Docker's trust of it.
    #[serde(default)]
    pub tls: Option<TlsRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TlsRecord {
    pub https_port: u16,
    /// harbor.yml's https.certificate / private_key.
    pub certificate: PathBuf,
    pub private_key: PathBuf,
    /// The CA clients must trust (the lab CA, --tls-ca, or a self-signed
    /// --tls-cert); None when a CA in the system store issued the certificate.
    pub ca_certificate: Option<PathBuf>,
    /// The certs.d entry harbor-lab made, for `down` and `status`.
    pub certs_d: Option<crate::docker::certs_d::CertsDRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepRecord {
    pub status: String,
    /// A hash of the inputs that matter; a change means the step must run again.
    pub fingerprint: String,
    #[serde(default)]
    pub detail: String,
    /// Seconds since the epoch.
    pub at: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DaemonConfigRecord {
    pub path: PathBuf,
    /// The untouched original, or None when the file did not exist.
    pub backup: Option<PathBuf>,
    pub added: Vec<String>,
    /// Entries about to be added: journalled before the file is written, so a
    /// run killed between the write and the journal still knows they are ours.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<String>,
}

impl DaemonConfigRecord {
    /// The write the pending entries were journalled for happened: they are added.
    pub fn commit_pending(&mut self) {
        for p in std::mem::take(&mut self.pending) {
            if !self.added.contains(&p) {
                self.added.push(p);
            }
        }
    }

    /// Every entry this lab put (or was about to put) in the file.
    pub fn ours(&self) -> Vec<String> {
        let mut all = self.added.clone();
        all.extend(
            self.pending
                .iter()
                .filter(|p| !self.added.contains(p))
                .cloned(),
        );
        all
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HarborRecord {
    pub version: String,
    pub hostname: String,
    pub http_port: u16,
    pub url: String,
    pub data_volume: PathBuf,
    pub admin_password_file: PathBuf,
    /// sha256 of the harbor.yml we last wrote (to tell user edits apart).
    pub harbor_yml_sha256: String,
}

/// The demo's report (its `--json` document), kept whole in the journal as
/// every version has kept it: a re-run reads `fingerprint`, `digest`,
/// `signed_before` and the tamper and policy findings back.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DemoReport {
    pub harbor_url: String,
    pub image: String,
    pub digest: String,
    pub signed_before: bool,
    pub signed_after: bool,
    pub verified: bool,
    pub tamper_detected: bool,
    pub unsigned_pull_blocked: bool,
    pub signed_pull_allowed: bool,
    pub policy_message: String,
    /// The Harbor version the demo talked to, when Harbor said.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub harbor_version: String,
    /// The signature format the demo signed in (`legacy` or `bundle`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub signature_format: String,
    pub public_key: PathBuf,
    pub private_key: PathBuf,
    pub steps: Vec<DemoStep>,
    /// The digest the tamper step pushed (unsigned), used by the policy step.
    pub tampered_digest: String,
    /// Inputs the demo ran with (image, image file, target, key).
    pub fingerprint: String,
    /// What the freshness act found (absent in journals from before it).
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<FreshnessFindings>,
}

/// The demo's freshness act, as top-level fields of the demo's report.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct FreshnessFindings {
    /// The first root of the demo's TUF repository (what clients trust).
    pub tuf_root: PathBuf,
    /// `verify --tuf` refused the tag moved back to an older, signed digest.
    pub freshness_rollback_caught: bool,
    /// `verify --tuf` refused metadata whose timestamp had expired.
    pub freshness_freeze_caught: bool,
    /// The real cosign's verdict on that rolled-back tag ("accepted",
    /// "refused", or "not run" without cosign on PATH).
    pub freshness_cosign_verdict: String,
}

/// One demo step as the demo's report (and `--json`) shows it.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct DemoStep {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    /// The step's status as reports show it (`ok`, `failed`, `skipped`, ...);
    /// absent in journals from before it was kept.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
}

impl State {
    pub fn record(&mut self, id: &str, fingerprint: &str, detail: &str, now: u64) {
        self.steps.insert(
            id.to_string(),
            StepRecord {
                status: "done".into(),
                fingerprint: fingerprint.to_string(),
                detail: detail.to_string(),
                at: now,
            },
        );
    }

    /// Was `id` done with exactly these inputs?
    pub fn is_done(&self, id: &str, fingerprint: &str) -> bool {
        self.steps
            .get(id)
            .is_some_and(|r| r.status == "done" && r.fingerprint == fingerprint)
    }
}
