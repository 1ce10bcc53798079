//! `completions` and `man`: generated from the one CLI definition, so they
//! never drift from the flags.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionShell, CompletionsArgs};
use crate::ui::Reporter;
use crate::ui::render::Report;

/// A generated text for stdout (a script or a page), whatever `--json` says.
struct Text(String);

impl Report for Text {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({ "text": self.0 })
    }
    fn human(&self, ui: &Reporter) {
        ui.stdout(&self.0);
    }
}

pub fn completions(args: &CompletionsArgs) -> super::Done {
    let shell = match args.shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut full_command(), "harbor-lab", &mut out);
    Ok(Box::new(Text(String::from_utf8_lossy(&out).into_owned())))
}

pub fn man() -> super::Done {
    let mut out = Vec::new();
    clap_mangen::Man::new(full_command())
        .render(&mut out)
        .map_err(|e| anyhow::anyhow!("rendering the man page: {e}"))?;
    Ok(Box::new(Text(String::from_utf8_lossy(&out).into_owned())))
}

/// The whole command line, every subcommand built: cli.rs defers each
/// subcommand's arguments until it is the one parsed, and the completion
/// scripts and the man page describe all of them.
fn full_command() -> clap::Command {
    let mut cmd = Cli::command();
    cmd.build();
    cmd
}
