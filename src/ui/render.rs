//! A command's result, rendered once by `lib::run`: the one `--json` document
//! on stdout, or the human summary; then how the process ends.

use crate::error::{Exit, UserError};
use crate::ui::Reporter;

/// What every command returns.
pub trait Report {
    /// The `--json` document (the field names are a compatibility promise).
    fn json(&self) -> serde_json::Value;
    /// The human summary, when there is no `--json`. Progress was shown on the
    /// way; this is what is left to say at the end.
    fn human(&self, _ui: &Reporter) {}
    /// How the command ends: an exit code, or an error to report (after the
    /// report itself was printed).
    fn exit(&self) -> Result<Exit, UserError> {
        Ok(Exit::Ok)
    }
}

/// A serialisable value as a JSON document (our own plain types cannot fail).
pub fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// Print `report` (JSON or human) and return the exit code. The JSON
/// document carries `ok` (the command ends with exit 0), `version`, and, when
/// it does not, `error: {code, message}`.
pub fn render(ui: &Reporter, report: &dyn Report) -> u8 {
    let exit = report.exit();
    if ui.json {
        let mut doc = report.json();
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("ok".into(), matches!(exit, Ok(Exit::Ok)).into());
            let error = match &exit {
                Err(e) => Some((e.exit, e.message.as_str())),
                // The report is the verdict (status, verify): the code's meaning.
                Ok(code) if !code.is_ok() => Some((*code, code.meaning())),
                Ok(_) => None,
            };
            if let Some((code, message)) = error {
                obj.insert(
                    "error".into(),
                    serde_json::json!({"code": code.code(), "message": message}),
                );
            }
        }
        ui.json_out(&doc);
    } else {
        report.human(ui);
    }
    match exit {
        Ok(exit) => exit.code(),
        Err(e) => {
            ui.error(&e.message);
            e.exit.code()
        }
    }
}

/// Where a failed command's document puts the steps done so far: as
/// `steps` (install, demo, down), or per pipeline as `up` reports them
/// (`install.steps`, `demo.steps`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepsLayout {
    Flat,
    PerPipeline,
}

/// With `--json`, the document of a command that failed before it had a
/// report: `{"ok": false, "version", "error": {"code", "message"}}` and the
/// steps done so far (the failed one last, status `failed`), in the places
/// the command's own report has them.
pub fn failure(ui: &Reporter, exit: Exit, message: &str, layout: StepsLayout) {
    if !ui.json {
        return;
    }
    let mut doc = serde_json::json!({
        "ok": false,
        "error": {"code": exit.code(), "message": message},
    });
    let steps = ui.steps_so_far();
    match layout {
        // Commands without steps (sign, verify, keys, ...) keep their shape.
        StepsLayout::Flat if steps.is_empty() => {}
        StepsLayout::Flat => {
            doc["steps"] = steps.into_iter().map(|(_, s)| s).collect();
        }
        StepsLayout::PerPipeline => {
            for (pipeline, step) in steps {
                let section = &mut doc[pipeline]["steps"];
                if !section.is_array() {
                    *section = serde_json::Value::Array(Vec::new());
                }
                if let Some(list) = section.as_array_mut() {
                    list.push(step);
                }
            }
        }
    }
    ui.json_out(&doc);
}
