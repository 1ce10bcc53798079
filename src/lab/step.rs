//! Steps and the one executor that runs them.
//!
//! A step is three plain functions: `plan` (one line for `up`'s plan, from the
//! options alone), `check` (read-only: is it done already?) and `apply` (make
//! it so). The executor alone decides, from the check and `--dry-run`, whether
//! a step is skipped, only checked, planned or applied, prints its line, keeps
//! its report and saves the journal after every step that changed something.

use futures_util::future::LocalBoxFuture;

use super::report::{Status, StepReport};
use crate::ui::Reporter;

/// What a step's check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Already done; nothing to do (reported as skipped).
    Done(String),
    /// A check that changes nothing passed (reported as checked).
    Checked(String),
    /// Work to do: `plan` says what, `preview` shows the change (printed on a
    /// dry run, e.g. a diff).
    Needed {
        plan: String,
        preview: Option<String>,
    },
}

impl Check {
    pub fn needed(plan: impl Into<String>) -> Check {
        Check::Needed {
            plan: plan.into(),
            preview: None,
        }
    }
}

/// What `apply` did: usually `Status::Done`; `Status::Skipped` when it found on
/// the way that nothing was needed (a download already in the cache, an
/// edited file the user chose to keep), `Ok`/`Failed` for the demo's verdicts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    pub detail: String,
    /// What it means to the user, for its colour.
    pub tone: crate::ui::Tone,
}

impl Outcome {
    pub fn done(detail: impl Into<String>) -> Outcome {
        Outcome {
            status: Status::Done,
            detail: detail.into(),
            tone: Default::default(),
        }
    }
    pub fn skipped(detail: impl Into<String>) -> Outcome {
        Outcome {
            status: Status::Skipped,
            detail: detail.into(),
            tone: Default::default(),
        }
    }
    /// A demo verdict: `Ok` when the story showed what it should.
    pub fn verdict(ok: bool, detail: impl Into<String>) -> Outcome {
        Outcome {
            status: if ok { Status::Ok } else { Status::Failed },
            detail: detail.into(),
            tone: Default::default(),
        }
    }
    /// The same outcome, coloured: `Good` for signed / verified / allowed,
    /// `Bad` for not signed / verification failed / refused.
    pub fn toned(mut self, tone: crate::ui::Tone) -> Outcome {
        self.tone = tone;
        self
    }
}

/// What the executor needs from a run (install, demo, down).
pub trait Pipeline {
    /// What the steps' `plan` lines are written from.
    type Options;
    /// The pipeline's name in reports (`install`, `demo`, `down`).
    const NAME: &'static str;
    fn ui(&self) -> &Reporter;
    fn dry_run(&self) -> bool;
    /// Save the journal after a step changed something.
    fn save(&mut self) -> anyhow::Result<()>;
    /// Keep a step's report.
    fn record(&mut self, report: StepReport);
    /// Called before the first `apply` of a run: the moment a step is about
    /// to write (a run refused by a check before it writes nothing, not even
    /// its workdir or lock).
    fn prepare_to_write(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
    /// `--explain`: print, before each step, the manual commands it replaces.
    fn explaining(&self) -> bool {
        false
    }
    /// Context for an error of step `id` (the demo says "demo step <id>").
    fn error_context(&self, id: &'static str) -> Option<String> {
        let _ = id;
        None
    }
}

pub type CheckFn<R> = for<'a> fn(&'a mut R) -> LocalBoxFuture<'a, anyhow::Result<Check>>;
pub type ApplyFn<R> = for<'a> fn(&'a mut R) -> LocalBoxFuture<'a, anyhow::Result<Outcome>>;

/// One step of a pipeline. Its id is a journal key and a `--json` value: never
/// rename one.
pub struct Step<R: Pipeline> {
    pub id: &'static str,
    pub plan: fn(&R::Options) -> String,
    pub check: CheckFn<R>,
    pub apply: ApplyFn<R>,
    /// `--explain`: the manual commands the step replaces, pasteable as
    /// printed (secrets read from their files, never `***`). Printed by the
    /// executor before the check, so a step an earlier run finished shows
    /// them too.
    pub explain: fn(&R) -> Vec<String>,
}

/// `step!("id", plan_fn, check_fn, apply_fn[, explain_fn])`: a [`Step`] from an
/// `async fn check(&mut R) -> Result<Check>`, an `async fn apply(&mut R) ->
/// Result<Outcome>` and, for `--explain`, a `fn explain(&R) -> Vec<String>`.
#[macro_export]
macro_rules! step {
    ($id:literal, $plan:expr, $check:path, $apply:path) => {
        $crate::step!($id, $plan, $check, $apply, $crate::lab::step::no_commands)
    };
    ($id:literal, $plan:expr, $check:path, $apply:path, $explain:expr) => {
        $crate::lab::step::Step {
            id: $id,
            plan: $plan,
            check: |r| Box::pin($check(r)),
            apply: |r| Box::pin($apply(r)),
            explain: $explain,
        }
    };
}

/// A step with no manual command to show.
pub fn no_commands<R>(_: &R) -> Vec<String> {
    Vec::new()
}

/// `--explain`'s lines: each manual command, as a shell prompt would show it.
pub fn print_commands(ui: &Reporter, commands: &[String]) {
    for c in commands {
        ui.line(&format!("  $ {c}"));
    }
}

/// A check for steps whose whole work is the check (`apply` is never called).
pub async fn nothing_to_apply<R>(_: &mut R) -> anyhow::Result<Outcome> {
    Ok(Outcome::skipped("nothing to do"))
}

/// `up`'s plan: one line per step, from the options alone.
pub fn plan_lines<R: Pipeline>(steps: &[Step<R>], opts: &R::Options) -> Vec<String> {
    steps
        .iter()
        .map(|s| format!("{}: {}", s.id, (s.plan)(opts)))
        .collect()
}

/// Run `steps` in order. The first error stops the run.
pub async fn execute<R: Pipeline>(run: &mut R, steps: &[Step<R>]) -> anyhow::Result<()> {
    for step in steps {
        let result = execute_one(run, step).await;
        if let Err(e) = result {
            let e = match run.error_context(step.id) {
                Some(c) => e.context(c),
                None => e,
            };
            // The failed step, for the failed command's --json document.
            let failed = StepReport::new(step.id, Status::Failed, format!("{e:#}"));
            run.ui().keep_step(R::NAME, failed.json());
            return Err(e);
        }
    }
    Ok(())
}

async fn execute_one<R: Pipeline>(run: &mut R, step: &Step<R>) -> anyhow::Result<()> {
    if run.explaining() {
        print_commands(run.ui(), &(step.explain)(run));
    }
    let report = match (step.check)(run).await? {
        Check::Done(detail) => StepReport::new(step.id, Status::Skipped, detail),
        Check::Checked(detail) => StepReport::new(step.id, Status::Checked, detail),
        Check::Needed { plan, preview } if run.dry_run() => {
            if let Some(p) = preview {
                run.ui().line(&p);
            }
            StepReport::new(step.id, Status::Planned, plan)
        }
        Check::Needed { .. } => {
            run.prepare_to_write()?;
            let outcome = (step.apply)(run).await?;
            run.save()?;
            StepReport::new(step.id, outcome.status, outcome.detail).with_tone(outcome.tone)
        }
    };
    keep(run, report);
    Ok(())
}

/// Print a step's line, keep it for a failed command's `--json` document, and
/// in the run's report.
pub fn keep<R: Pipeline>(run: &mut R, report: StepReport) {
    report.print(run.ui());
    run.ui().keep_step(R::NAME, report.json());
    run.record(report);
}
