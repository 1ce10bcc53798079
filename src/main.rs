//! The `harbor-lab` binary: parse the command line, build the process context,
//! hand over to the library, and turn the outcome into an exit code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = harbor_lab::cli::Cli::parse();
    let ctx = harbor_lab::context::Context::from_os();
    let ui = harbor_lab::ui::Reporter::new(&ctx, cli.global.ui_options());
    let code = harbor_lab::run(cli, &ctx, &ui);
    std::process::ExitCode::from(code)
}
