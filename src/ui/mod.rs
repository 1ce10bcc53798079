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

/// A byte bar drawing to `target`. The message is never cut (a file name is
/// what tells two downloads apart), and a bar that starts part-way (a resumed
/// download) measures its speed over the new bytes only.
fn byte_bar(
    target: ProgressDrawTarget,
    len: Option<u64>,
    message: &str,
    start: u64,
) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(len, target);
    let template = if len.is_some() {
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}"
    } else {
        "{msg} {spinner} {bytes} {bytes_per_sec}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(message.to_string());
    if start > 0 {
        // The jump to `start` is recorded once, then forgotten by the estimator.
        pb.set_position(start);
        pb.tick();
        pb.reset_eta();
    }
    pb
}

/// What an outcome means to the user, for its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tone {
    /// Signed, verified, allowed: green.
    Good,
    /// Not signed, verification failed, refused: red.
    Bad,
    #[default]
    Plain,
}

/// The ANSI colour of a tone.
fn tone_colour(tone: Tone) -> Option<&'static str> {
    match tone {
        Tone::Good => Some("32"),
        Tone::Bad => Some("31"),
        Tone::Plain => None,
    }
}

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
    /// Every step reported so far, by pipeline (`install`, `demo`, `down`), as
    /// its `--json` object: a command that fails still reports them.
    steps: std::sync::Mutex<Vec<(&'static str, serde_json::Value)>>,
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
            steps: Default::default(),
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
            steps: Default::default(),
        }
    }

    /// Keep a step's `--json` object (see [`Reporter::steps_so_far`]).
    pub fn keep_step(&self, pipeline: &'static str, step: serde_json::Value) {
        let mut steps = self.steps.lock().unwrap_or_else(|p| p.into_inner());
        steps.push((pipeline, step));
    }

    /// The steps reported so far, in order, with their pipeline.
    pub fn steps_so_far(&self) -> Vec<(&'static str, serde_json::Value)> {
        self.steps.lock().unwrap_or_else(|p| p.into_inner()).clone()
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
        self.status_toned(verb, message, Tone::Plain);
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

    /// Write the run's one JSON document to stdout (`lib::run` writes it
    /// once, through `render`). Every document carries `ok` (true unless the
    /// command set it) and the tool's `version`.
    pub fn json_out(&self, value: &serde_json::Value) {
        let mut value = value.clone();
        if let Some(obj) = value.as_object_mut() {
            obj.entry("ok").or_insert(serde_json::Value::Bool(true));
            obj.insert("version".into(), env!("CARGO_PKG_VERSION").into());
        }
        let text = serde_json::to_string_pretty(&value).unwrap_or_else(|_| "null".into());
        self.stdout(&format!("{text}\n"));
    }

    /// A byte-count progress bar (hidden when progress is off).
    pub fn bar(&self, len: Option<u64>, message: &str) -> ProgressBar {
        self.bar_from(len, message, 0)
    }

    /// A byte-count progress bar that starts at `start` bytes (a resumed
    /// download): its speed and ETA count only the bytes that arrive from now on.
    pub fn bar_from(&self, len: Option<u64>, message: &str, start: u64) -> ProgressBar {
        if !self.progress {
            return byte_bar(ProgressDrawTarget::hidden(), len, message, start);
        }
        self.multi
            .add(byte_bar(ProgressDrawTarget::hidden(), len, message, start))
    }

    /// A status line whose message carries a verdict, painted as Harbor's UI
    /// and the tutorial show it: green for signed, verified, allowed; red for not
    /// signed, verification failed, refused. The verb is red when `verb` reports
    /// a failure. Plain without colour (`NO_COLOR`, no terminal).
    pub fn status_toned(&self, verb: &str, message: &str, tone: Tone) {
        if self.quiet {
            return;
        }
        let verb_colour = if verb == "Failed" { "1;31" } else { "1;32" };
        let verb = self.paint(verb_colour, &format!("{verb:>12}"));
        let message = match tone_colour(tone) {
            Some(c) => self.paint(c, message),
            None => message.to_string(),
        };
        self.emit(&format!("{verb} {message}"));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A terminal that keeps what is drawn on it.
    #[derive(Debug, Clone, Default)]
    struct Screen(Arc<Mutex<String>>);

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            160
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(s)
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn verdicts_are_red_or_green_and_no_color_is_plain() {
        let mut r = Reporter::silent();
        r.color = true;
        assert_eq!(r.paint("31", "not signed"), "\x1b[31mnot signed\x1b[0m");
        let ctx = Context::for_test(std::path::Path::new("/"), &[("NO_COLOR", "1")]);
        let plain = Reporter::new(&ctx, Options::default());
        assert_eq!(plain.paint("31", "not signed"), "not signed");
        assert_eq!(tone_colour(Tone::Bad), Some("31"));
        assert_eq!(tone_colour(Tone::Good), Some("32"));
        assert_eq!(tone_colour(Tone::Plain), None);
    }

    #[test]
    fn the_download_label_is_whole() {
        let screen = Screen::default();
        let name = "harbor-online-installer-v2.15.1.tgz";
        let pb = byte_bar(
            ProgressDrawTarget::term_like(Box::new(screen.clone())),
            Some(100),
            name,
            0,
        );
        pb.inc(10);
        pb.tick();
        let drawn = screen.0.lock().unwrap().clone();
        assert!(drawn.contains(name), "{drawn:?}");
    }

    #[test]
    fn a_resumed_bar_measures_only_new_bytes() {
        let pb = byte_bar(ProgressDrawTarget::hidden(), Some(2 << 30), "x", 1 << 30);
        assert_eq!(pb.position(), 1 << 30);
        // Nothing new has arrived: no speed, however many bytes were there before.
        assert!(pb.per_sec() < 1.0, "{} bytes/s", pb.per_sec());
    }
}
