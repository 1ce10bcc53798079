//! harbor-lab: take a Linux machine with Docker to a running Harbor registry whose
//! images are signed and verified with cosign-compatible signatures.
//!
//! The binary is thin; everything lives here. See `ARCHITECTURE.md` for the map.

pub mod cli;
pub mod commands;
pub mod context;
pub mod cosign;
pub mod digest;
pub mod docker;
pub mod error;
pub mod exit;
pub mod fsutil;
pub mod harbor;
pub mod http;
pub mod installer;
pub mod journal;
pub mod lab;
pub mod labs;
pub mod net;
pub mod registry;
pub mod tls;
pub mod tuf;
pub mod ui;
pub mod workdir;

use cli::{Cli, Command, KeysCommand};
use context::Context;
use ui::Reporter;

/// A command line that clap refused. With `--json` (before any `--`), the
/// failure is the one JSON document on stdout, as every other failure is,
/// and clap's message still goes to stderr; exit 2. Help and version, and
/// refusals without `--json`, are clap's own.
pub fn refused_command_line(err: clap::Error, args: &[std::ffi::OsString]) -> u8 {
    use clap::error::ErrorKind;
    let wants_json = args
        .iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "--json");
    let shown = matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if !wants_json || shown {
        err.exit();
    }
    let _ = err.print();
    // clap's text up to its "Usage:" and "For more information" lines, on one line.
    let rendered = err.render().to_string();
    let message = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    let doc = serde_json::json!({
        "ok": false,
        "error": {"code": error::Exit::Usage.code(), "message": message},
        "version": env!("CARGO_PKG_VERSION"),
    });
    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    error::Exit::Usage.code()
}

/// Run one command line to completion and return the process exit code.
/// Errors are reported here, once, through the reporter.
pub fn run(cli: Cli, ctx: &Context, ui: &Reporter) -> u8 {
    // Commands that wait on the network and do little work of their own run on
    // one thread: worker threads cost more to start and to wake than these
    // commands spend computing (a batch verify is bound by the registry's CPU).
    let mut runtime = match &cli.command {
        Command::Keys(_) | Command::Sign(_) | Command::Verify(_) | Command::Status(_) => {
            tokio::runtime::Builder::new_current_thread()
        }
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = match runtime.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            ui.error(&format!("cannot start the async runtime: {e}"));
            return error::Exit::Internal.code();
        }
    };
    let layout = match cli.command {
        Command::Up(_) => ui::render::StepsLayout::PerPipeline,
        _ => ui::render::StepsLayout::Flat,
    };
    let result = runtime.block_on(async {
        let command = async {
            match cli.command {
                Command::Keys(KeysCommand::Generate(args)) => {
                    commands::keys::generate(ctx, ui, &args)
                }
                Command::Keys(KeysCommand::PublicKey(args)) => {
                    commands::keys::public_key(ctx, ui, &args)
                }
                Command::Sign(args) => commands::sign::run(ctx, ui, &args).await,
                Command::Verify(args) => commands::verify::run(ctx, ui, &args).await,
                Command::Preflight(args) => commands::preflight::command(ctx, ui, &args).await,
                Command::Install(args) => commands::install::command(ctx, ui, &args).await,
                Command::Status(args) => commands::status::command(ctx, &args).await,
                Command::Down(args) => commands::down::command(ctx, ui, &args).await,
                Command::Demo(args) => commands::demo::command(ctx, ui, &args).await,
                Command::Up(args) => commands::up::command(ctx, ui, &args).await,
                Command::Completions(args) => commands::docs::completions(&args),
                Command::Man => commands::docs::man(),
                Command::Tuf(cmd) => commands::tuf::command(ctx, ui, cmd).await,
            }
        };
        tokio::select! {
            result = command => Some(result),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    match result {
        Some(Ok(report)) => ui::render::render(ui, report.as_ref()),
        Some(Err(err)) => {
            let message = format!("{err:#}");
            ui.error(&message);
            let exit = exit::classify(&err);
            ui::render::failure(ui, exit, &message, layout);
            exit.code()
        }
        None => {
            // Every step checks the world before acting, so a re-run resumes.
            let message = "interrupted; run the same command again to resume";
            ui.error(message);
            ui::render::failure(ui, error::Exit::Interrupted, message, layout);
            runtime.shutdown_background();
            error::Exit::Interrupted.code()
        }
    }
}
