//! The `harbor-lab` binary: parse the command line, build the process context,
//! hand over to the library, and turn the outcome into an exit code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match harbor_lab::cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return harbor_lab::refused_command_line(e, &args).into(),
    };
    let ctx = harbor_lab::context::Context::from_os();
    let ui = harbor_lab::ui::Reporter::new(&ctx, cli.global.ui_options());
    let code = harbor_lab::run(cli, &ctx, &ui);
    std::process::ExitCode::from(code)
}
