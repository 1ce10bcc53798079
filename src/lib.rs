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
