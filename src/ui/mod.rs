//! All user-facing output goes through one [`Reporter`] (cargo's `Shell` idea):
//! human progress on stderr, machine output (`--json`) on stdout. Progress bars
//! are drawn only when stderr is a terminal and `--quiet` is off; colour follows
//! `NO_COLOR`.

pub mod prompt;
pub mod render;

use std::io::Write;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::context::Context;

/// How the user asked output to behave (the global flags, without their clap types).
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Print only errors and results.
    pub quiet: bool,
    /// stdout carries one machine-readable document.
    pub json: bool,
    /// Answer every confirmation yes.
    pub yes: bool,
}

pub struct Reporter {
    multi: MultiProgress,
    progress: bool,
    color: bool,
    quiet: bool,
    /// `--json`: stdout carries one machine-readable document.
    pub json: bool,
    /// `--yes`: every confirmation is answered yes (`up` sets it after its one confirmation).
    yes: std::sync::atomic::AtomicBool,
    /// Can a prompt be shown (stdin and stderr are terminals)?
    pub interactive: bool,
}

impl Reporter {
    pub fn new(ctx: &Context, global: Options) -> Self {
        let progress = ctx.stderr_tty && !global.quiet;
        let multi = MultiProgress::with_draw_target(if progress {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        Reporter {
            multi,
            progress,
            color: ctx.stderr_tty && !ctx.no_color(),
            quiet: global.quiet,
            json: global.json,
            yes: std::sync::atomic::AtomicBool::new(global.yes),
            interactive: ctx.stdin_tty && ctx.stderr_tty,
        }
    }

    /// A reporter that prints nothing (library tests).
    pub fn silent() -> Self {
        Reporter {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
            progress: false,
            color: false,
            quiet: true,
            json: false,
            yes: std::sync::atomic::AtomicBool::new(false),
            interactive: false,
        }
    }

    /// Are confirmations answered yes?
    pub fn yes(&self) -> bool {
        self.yes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Answer every later confirmation yes (after one confirmation of a whole plan).
    pub fn assume_yes(&self) {
        self.yes.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn emit(&self, line: &str) {
        self.multi.suspend(|| {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{line}");
        });
    }

    /// A status line, cargo style: a right-aligned verb, then the message.
    pub fn status(&self, verb: &str, message: &str) {
        if self.quiet {
            return;
        }
        let verb = self.paint("1;32", &format!("{verb:>12}"));
        self.emit(&format!("{verb} {message}"));
    }

    /// A plain line on stderr (cosign-style human output, explanations).
    pub fn line(&self, text: &str) {
        if !self.quiet {
            self.emit(text);
        }
    }

    /// A line on stderr that is shown even with `--quiet` (results a user asked for).
    pub fn result_line(&self, text: &str) {
        self.emit(text);
    }

    pub fn warn(&self, message: &str) {
        let label = self.paint("1;33", "warning:");
        self.emit(&format!("{label} {message}"));
    }

    pub fn error(&self, message: &str) {
        let label = self.paint("1;31", "error:");
        self.emit(&format!("{label} {message}"));
    }

    /// Write text to stdout (data the user asked for, e.g. verified payloads).
    pub fn stdout(&self, text: &str) {
        self.multi.suspend(|| {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        });
    }

    /// Write one JSON document to stdout.
    pub fn json_out(&self, value: &serde_json::Value) {
        let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
        self.stdout(&format!("{text}\n"));
    }

    /// A byte-count progress bar (hidden when progress is off).
    pub fn bar(&self, len: Option<u64>, message: &str) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let pb = self.multi.add(ProgressBar::new(len.unwrap_or(0)));
        let template = if len.is_some() {
            "{msg:20!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}"
        } else {
            "{msg:20!} {spinner} {bytes} {bytes_per_sec}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            pb.set_style(style.progress_chars("=> "));
        }
        pb.set_message(message.to_string());
        pb
    }

    /// A spinner for a step of unknown length (hidden when progress is off).
    pub fn spinner(&self, message: &str) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let pb = self.multi.add(ProgressBar::new_spinner());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
            pb.set_style(style);
        }
        pb.set_message(message.to_string());
        pb.enable_steady_tick(Duration::from_millis(120));
        pb
    }
}
