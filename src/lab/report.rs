//! What a step did, typed: one `Status` vocabulary and one `StepReport` for
//! install, demo, status, down and preflight, printed through the `Reporter`.

use serde::Serialize;

use crate::ui::{Reporter, Tone};

/// The state of one step. Serialised lowercase (`"done"`, `"skipped"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The step changed something.
    Done,
    /// Already done: the step's check found nothing to do.
    Skipped,
    /// `--dry-run`: what the step would do.
    Planned,
    /// A check that changes nothing passed.
    Checked,
    /// Not done yet (`status`).
    Pending,
    /// Done once, but the world no longer matches (`status`).
    Drifted,
    /// A demo step showed what it should.
    Ok,
    /// A demo step did not show what it should.
    Failed,
}

impl Status {
    /// The verb of the status line (cargo style).
    pub fn verb(self) -> &'static str {
        match self {
            Status::Done => "Done",
            Status::Skipped => "Skipping",
            Status::Planned => "Would",
            Status::Checked => "Checked",
            Status::Pending => "Pending",
            Status::Drifted => "Drifted",
            Status::Ok => "Ok",
            Status::Failed => "Failed",
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StepReport {
    pub id: String,
    pub status: Status,
    pub detail: String,
    /// What the outcome means to the user, for its colour (not reported).
    #[serde(skip)]
    pub tone: Tone,
}

impl StepReport {
    pub fn new(id: &str, status: Status, detail: impl Into<String>) -> StepReport {
        StepReport {
            id: id.to_string(),
            status,
            detail: detail.into(),
            tone: Tone::Plain,
        }
    }

    /// The one `--json` shape of a step, in every report: `{id, status, detail}`.
    pub fn json(&self) -> serde_json::Value {
        crate::ui::render::to_json(self)
    }

    pub fn with_tone(mut self, tone: Tone) -> StepReport {
        self.tone = tone;
        self
    }

    /// The status line on stderr: `    Skipping download: ... is cached`,
    /// coloured by its tone (red: not signed, verification failed, refused;
    /// green: signed, verified, allowed).
    pub fn print(&self, ui: &Reporter) {
        ui.status_toned(
            self.status.verb(),
            &format!("{}: {}", self.id, self.detail),
            self.tone,
        );
    }
}

/// A "no" at a command's one confirmation: an answer, not a failure (exit 0,
/// "nothing done"); its `--json` document is `cancelled` and the `plan`.
#[derive(Debug, Serialize)]
pub struct Declined {
    pub cancelled: bool,
    pub plan: Vec<String>,
}

impl crate::ui::render::Report for Declined {
    fn json(&self) -> serde_json::Value {
        crate::ui::render::to_json(self)
    }
    fn human(&self, ui: &Reporter) {
        ui.result_line("nothing done");
    }
}
