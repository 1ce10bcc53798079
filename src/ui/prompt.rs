//! Prompts. Nothing prompts without a terminal: there, `--yes` and the
//! environment decide, and a question nobody can answer is an error.

use crate::error::UserError;
use crate::ui::Reporter;

/// Ask yes/no. `--yes` answers yes; without a terminal it is an error naming `flag_hint`.
pub fn confirm(ui: &Reporter, question: &str, flag_hint: &str) -> Result<bool, UserError> {
    if ui.yes() {
        return Ok(true);
    }
    if !ui.interactive {
        return Err(UserError::environment(format!(
            "{question} needs an answer, but there is no terminal to ask on: {flag_hint}"
        )));
    }
    dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()
        .map_err(|e| UserError::environment(format!("could not read the answer: {e}")))
}

/// Ask for a password on the terminal, with confirmation when `confirm` is set.
/// `what` names the secret; `hint` says how to give it without a terminal.
pub fn password(ui: &Reporter, what: &str, confirm: bool, hint: &str) -> Result<String, UserError> {
    if !ui.interactive {
        return Err(UserError::usage(format!(
            "no password for {what}: there is no terminal to ask on; {hint}"
        )));
    }
    let mut p = dialoguer::Password::new()
        .with_prompt(format!("Enter password for {what}"))
        .allow_empty_password(true);
    if confirm {
        p = p.with_confirmation(
            format!("Enter password for {what} again"),
            "passwords do not match",
        );
    }
    p.interact()
        .map_err(|e| UserError::usage(format!("could not read the password: {e}")))
}
