//! The interactive paths, on a real terminal: util-linux `script` gives the
//! command a pseudo-terminal and we type into it.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use support::*;

/// Run `args` on a pty in `dir`, typing each line once the command waits at a
/// prompt (at most a minute in all).
fn on_terminal(dir: &Path, args: &[&str], lines: &[&str]) -> (i32, String) {
    on_terminal_env(dir, args, lines, &[])
}

/// Is the command waiting for a line? Its output ends in an unfinished line
/// that looks like a prompt ("…:", "… [y/n]", "…?"), and nothing has been
/// written for a moment. Typing on a timer instead raced a loaded machine:
/// a password typed before the prompt turned echo off was echoed.
fn at_prompt(out: &[u8]) -> bool {
    let text = without_escapes(&String::from_utf8_lossy(out));
    let tail = text.rsplit('\n').next().unwrap_or_default();
    let tail = tail
        .rsplit('\r')
        .find(|t| !t.trim().is_empty())
        .unwrap_or_default();
    let tail = tail.trim_end();
    tail.ends_with(':') || tail.ends_with(']') || tail.ends_with('?')
}

/// `text` without its terminal control sequences (ESC [ … final byte), such
/// as the cursor hiding a prompt ends with.
fn without_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
        } else if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

fn on_terminal_env(
    dir: &Path,
    args: &[&str],
    lines: &[&str],
    env: &[(&str, String)],
) -> (i32, String) {
    use std::io::Read;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    let mut cmdline = shell_words(env!("CARGO_BIN_EXE_harbor-lab"));
    for a in args {
        cmdline.push(' ');
        cmdline.push_str(&shell_words(a));
    }
    // A prompt nobody answers waits on the pty for ever: `timeout` turns that
    // into a failure (exit 124) with the text so far, instead of a hung test.
    let mut child = Command::new("timeout")
        .args(["-k", "5", "60", "script", "-qec", &cmdline, "/dev/null"])
        .current_dir(dir)
        .env_remove("COSIGN_PASSWORD")
        .env("HOME", dir)
        .env("NO_COLOR", "1")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` is installed");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = {
        let seen = Arc::clone(&seen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let mut stdin = child.stdin.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(55);
    let mut typed_at = 0;
    for l in lines {
        // Wait for new output that ends at a prompt and then stays still.
        let mut last = (usize::MAX, Instant::now());
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            let out = seen.lock().unwrap();
            if out.len() != last.0 {
                last = (out.len(), Instant::now());
            } else if out.len() > typed_at
                && at_prompt(&out[typed_at..])
                && last.1.elapsed() >= Duration::from_millis(250)
            {
                break;
            }
        }
        typed_at = seen.lock().unwrap().len();
        if stdin.write_all(format!("{l}\n").as_bytes()).is_err() {
            break;
        }
        stdin.flush().unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let text = String::from_utf8_lossy(&seen.lock().unwrap()).to_string() + &stderr;
    (status.code().unwrap_or(-1), text)
}

fn shell_words(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn key_password_is_asked_twice_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let (code, text) = on_terminal(
        dir.path(),
        &["keys", "generate", "--output-key-prefix", "t"],
        &["sekret", "sekret"],
    );
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("Enter password for private key again"),
        "{text}"
    );
    assert!(!text.contains("sekret"), "the password was echoed: {text}");
    let key = std::fs::read(dir.path().join("t.key")).unwrap();
    harbor_lab::cosign::keys::decrypt_private_key(&key, b"sekret").unwrap();
}

/// `install` asks one question, up front, as `up` does: the plan (which names
/// the daemon.json change), then "Proceed?". "No" changes nothing (exit 0,
/// "nothing done"); "yes" runs the whole install without another question,
/// and never one about a reload that --no-daemon-reload rules out.
#[test]
fn install_asks_once_up_front_on_a_terminal() {
    let lab = Lab::new().with_installer_file();
    let d = lab.path();
    let port = free_port().to_string();
    let owned = Lab::terminal_args("install", &port);
    let args: Vec<&str> = owned.iter().map(String::as_str).collect();
    let (code, text) = on_terminal(d, &args, &["n"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("harbor-lab install will:")
            && text.contains("add 127.0.0.1:")
            && text.contains("to insecure-registries in ")
            && text.contains("daemon.json")
            && text.contains("leave dockerd alone (--no-daemon-reload)")
            && text.contains("Proceed?")
            && text.contains("nothing done"),
        "{text}"
    );
    assert!(!text.contains("error:"), "{text}");
    assert!(!d.join("work").exists(), "a no writes nothing");
    assert_eq!(
        std::fs::read_to_string(d.join("daemon.json")).unwrap(),
        "{}\n"
    );

    let env = lab.double_env();
    let (code, text) = on_terminal_env(d, &args, &["y"], &env);
    lab.kill_double();
    assert_eq!(code, 0, "{text}");
    assert_eq!(text.matches("Proceed? [y/N]").count(), 1, "{text}");
    assert!(!text.contains("Add 127.0.0.1"), "asked mid-run: {text}");
    assert!(!text.contains("reload dockerd?"), "{text}");
    assert!(
        std::fs::read_to_string(d.join("daemon.json"))
            .unwrap()
            .contains(&format!("127.0.0.1:{port}")),
        "{text}"
    );
}

#[test]
fn up_asks_once_and_no_means_nothing_changes() {
    let lab = Lab::new();
    lab.private_daemon_config("{}\n");
    let d = lab.path();
    let port = free_port().to_string();
    let args = [
        "up",
        "--download-base",
        "http://127.0.0.1:9",
        "--hostname",
        "127.0.0.1",
        "--allow-loopback-hostname",
        "--http-port",
        &port,
        "--workdir",
        "work",
        "--daemon-config",
        "daemon.json",
    ];
    let (code, text) = on_terminal(d, &args, &["n"]);
    // "No" is an answer, not an error: exit 0, "nothing done", no red error.
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("harbor-lab up will:") && text.contains("Proceed?"),
        "{text}"
    );
    assert!(text.contains("nothing done"), "{text}");
    assert!(!text.contains("error:"), "{text}");
    assert!(!d.join("work").exists());
    assert_eq!(
        std::fs::read_to_string(d.join("daemon.json")).unwrap(),
        "{}\n"
    );
}

#[test]
fn an_edited_harbor_yml_is_shown_and_kept_as_a_backup() {
    let lab = Lab::new().with_installer_file();
    let d = lab.path();
    let port = free_port().to_string();
    let env = lab.double_env();
    let owned = Lab::terminal_args("install", &port);
    let args: Vec<&str> = owned.iter().map(String::as_str).collect();
    let plain = |extra: &[&str]| run(lab.bare().args(&args).args(extra));
    let out = plain(&["--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let yml = d.join("work/harbor/harbor.yml");
    let mine = std::fs::read_to_string(&yml)
        .unwrap()
        .replace("level: info", "level: debug");
    std::fs::write(&yml, &mine).unwrap();
    // A harbor.yml harbor-lab has no record of writing (as if the user brought it).
    std::fs::remove_file(d.join("work/state.json")).unwrap();

    // On a terminal, answer "no" at the one question: nothing changes.
    let (code, text) = on_terminal_env(d, &args, &["n"], &env);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("nothing done"), "{text}");
    assert_eq!(std::fs::read_to_string(&yml).unwrap(), mine);
    // Without a terminal or --yes: the question up front is an error.
    let out = plain(&[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&yml).unwrap(), mine);
    // "Yes": the diff is shown, the file replaced, the user's version kept
    // as a backup, and nothing asked mid-run.
    let (code, text) = on_terminal_env(d, &args, &["y"], &env);
    lab.kill_double();
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("was edited since harbor-lab wrote it"),
        "{text}"
    );
    assert_eq!(text.matches("Proceed? [y/N]").count(), 1, "{text}");
    assert!(!text.contains("Replace your edited"), "{text}");
    assert_eq!(
        std::fs::read_to_string(d.join("work/harbor/harbor.yml.harbor-lab.bak")).unwrap(),
        mine
    );
}

/// `up` on a terminal: one confirmation, the new key's password typed twice, and
/// the demo signs with it without asking a third time.
#[test]
fn up_on_a_terminal_asks_for_the_key_password_once() {
    let lab = Lab::new().with_installer_file().with_story();
    let d = lab.path();
    let port = free_port().to_string();
    let image = lab.image.clone();
    let env = lab.double_env();
    let mut owned = Lab::terminal_args("up", &port);
    owned.extend(["--image", &image, "--image-file", "image.tar"].map(String::from));
    let args: Vec<&str> = owned.iter().map(String::as_str).collect();
    let (code, text) = on_terminal_env(d, &args, &["y", "lab-key-pw", "lab-key-pw"], &env);
    if code != 0 {
        lab.kill_double();
    }
    assert_eq!(code, 0, "{text}");
    let (before, after) = text.split_once("Done keys:").expect("the keys step ran");
    assert!(before.contains("private key again"), "{text}");
    assert!(!after.contains("Enter password"), "asked again: {text}");
    assert!(
        !text.contains("lab-key-pw"),
        "the password was echoed: {text}"
    );
    assert!(text.contains("Ok verify"), "{text}");
    let key = std::fs::read(d.join("work/cosign.key")).unwrap();
    harbor_lab::cosign::keys::decrypt_private_key(&key, b"lab-key-pw").unwrap();

    // Unattended later (no terminal, no COSIGN_PASSWORD): nothing needs
    // signing, so the key is never opened and the run succeeds, showing what
    // Harbor says now. Where a signature must be written (a bundle, which the
    // first run did not make; --fresh pushes the image again), the typed password is nowhere to be found: a
    // clear error that names the key, never a made-up password kept for it.
    let unattended = |password: Option<&str>, extra: &[&str]| {
        let mut c = lab.bare();
        c.args(&args).arg("--yes").args(extra);
        if let Some(p) = password {
            c.env("COSIGN_PASSWORD", p);
        }
        run(&mut c)
    };
    let nothing_to_sign = unattended(None, &[]);
    let out = unattended(None, &["--fresh", "--signature-format", "bundle"]);
    let with_password = unattended(Some("lab-key-pw"), &["--fresh"]);
    lab.kill_double();
    let ok = &nothing_to_sign;
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stderr.contains("was not opened"), "{}", ok.stderr);
    assert!(ok.stderr.contains("now: signed by cosign"), "{}", ok.stderr);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("cosign.key exists") && out.stderr.contains("COSIGN_PASSWORD"),
        "{}",
        out.stderr
    );
    assert!(!d.join("work/cosign.password").exists());
    assert_eq!(with_password.code, 0, "{}", with_password.stderr);
}

/// Outcomes are coloured with their meaning on a terminal (red: not signed,
/// verification failed, refused; green: signed, verified, allowed), and
/// NO_COLOR turns every colour off.
#[test]
fn outcomes_are_red_or_green_on_a_terminal_and_plain_with_no_color() {
    let lab = Lab::new().with_installer_file().with_story();
    let d = lab.path();
    let port = free_port().to_string();
    let mut env = lab.double_env();
    env.push(("COSIGN_PASSWORD", "colour-pw".into()));
    let mut owned = Lab::terminal_args("up", &port);
    owned.extend(["--image", &lab.image, "--image-file", "image.tar", "--yes"].map(String::from));
    let args: Vec<&str> = owned.iter().map(String::as_str).collect();
    let mut coloured = env.clone();
    coloured.push(("NO_COLOR", String::new()));
    let (code, text) = on_terminal_env(d, &args, &[], &coloured);
    let mut again: Vec<&str> = args.clone();
    again.push("--fresh");
    let (plain_code, plain) = on_terminal_env(d, &again, &[], &env);
    assert_eq!(code, 0, "{text}");
    for (colour, what) in [
        ("31", "show-unsigned: Harbor reports"),
        ("32", "show-signed: Harbor reports"),
        ("32", "verify: "),
        ("31", "tamper: "),
        ("31", "policy-unsigned: Harbor refused"),
        ("32", "policy-signed: "),
    ] {
        assert!(
            text.contains(&format!("\x1b[{colour}m{what}")),
            "{what} is not in colour {colour}: {text:?}"
        );
    }
    assert_eq!(plain_code, 0, "{plain}");
    assert!(plain.contains("show-unsigned: Harbor reports"), "{plain}");
    for colour in ["\x1b[31m", "\x1b[32m", "\x1b[1;32m"] {
        assert!(
            !plain.contains(colour),
            "NO_COLOR=1 still coloured: {plain:?}"
        );
    }
}
