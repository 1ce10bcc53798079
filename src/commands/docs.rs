//! `completions` and `man`: generated from the one CLI definition, so they
//! never drift from the flags.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionShell, CompletionsArgs};
use crate::error::Exit;
use crate::ui::Reporter;

pub fn completions(ui: &Reporter, args: &CompletionsArgs) -> anyhow::Result<Exit> {
    let shell = match args.shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "harbor-lab", &mut out);
    ui.stdout(&String::from_utf8_lossy(&out));
    Ok(Exit::Ok)
}

pub fn man(ui: &Reporter) -> anyhow::Result<Exit> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| anyhow::anyhow!("rendering the man page: {e}"))?;
    ui.stdout(&String::from_utf8_lossy(&out));
    Ok(Exit::Ok)
}
