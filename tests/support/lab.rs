//! One lab fixture for the tests that install the fixture Harbor (installer.rs,
//! lab.rs, tty.rs): a private directory (workdir `work`, a `daemon.json`
//! nobody reads, the demo's image file, the fixture installer), commands with
//! the double's environment, and one `Drop` that stops the double the
//! fixture's install.sh started.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::bin::{Run, harbor_lab, run, unique};
use super::double::{double_env, harbor_lab_with_double};
use super::file_server::{FileServer, file_server};
use super::fixtures::{FIXTURE_TAG, fixture_installer, release_files, rootfs_tar};

pub struct Lab {
    root: tempfile::TempDir,
    /// The double's namespace in the real registry.
    pub namespace: String,
    /// The demo's image name (`--image`), unique to this lab.
    pub image: String,
}

impl Default for Lab {
    fn default() -> Self {
        Lab::new()
    }
}

impl Lab {
    /// An empty lab directory.
    pub fn new() -> Lab {
        Lab {
            root: tempfile::tempdir().unwrap(),
            namespace: unique("lab"),
            image: format!("{}:v1", unique("hl-demo")),
        }
    }

    /// With what the demo needs: `image.tar` (a unique rootfs) and a private `daemon.json`.
    pub fn with_story(self) -> Lab {
        std::fs::write(
            self.path().join("image.tar"),
            rootfs_tar(&unique("demo-image")),
        )
        .unwrap();
        self.private_daemon_config("{}\n");
        self
    }

    /// With the fixture installer as `installer.tgz` and a private `daemon.json`.
    pub fn with_installer_file(self) -> Lab {
        std::fs::write(self.path().join("installer.tgz"), fixture_installer()).unwrap();
        self.private_daemon_config("{}\n");
        self
    }

    pub fn path(&self) -> &Path {
        self.root.path()
    }

    pub fn workdir(&self) -> PathBuf {
        self.path().join("work")
    }

    /// Write the lab's `daemon.json` (one nobody reads, for tests that must not
    /// touch dockerd) and return its path.
    pub fn private_daemon_config(&self, text: &str) -> PathBuf {
        let p = self.path().join("daemon.json");
        std::fs::write(&p, text).unwrap();
        p
    }

    /// The double's environment for this lab (for programs other than ours).
    pub fn double_env(&self) -> Vec<(&'static str, String)> {
        double_env(self.path(), &self.namespace)
    }

    /// Our binary with the double's environment, no arguments yet.
    pub fn bare(&self) -> Command {
        harbor_lab_with_double(self.path(), &self.namespace)
    }

    /// `harbor-lab <sub>` with the double's environment.
    pub fn cmd(&self, sub: &str) -> Command {
        let mut c = self.bare();
        c.arg(sub);
        c
    }

    /// `harbor-lab install --yes` against the release at `base` on port `port`,
    /// with `daemon_config`, then `extra` (a 30 s health timeout unless given).
    /// Each call uses a namespace of its own in the registry.
    pub fn install(&self, base: &str, port: u16, daemon_config: &Path, extra: &[&str]) -> Command {
        let mut c = harbor_lab_with_double(self.path(), &unique("inst"));
        c.arg("install");
        fixture_install_args(&mut c, base, port, &self.workdir(), daemon_config);
        c.arg("--yes").args(extra);
        if !extra.contains(&"--health-timeout") {
            c.args(["--health-timeout", "30"]);
        }
        c
    }

    /// The install flags of a lab that never reloads dockerd (its private daemon.json).
    pub fn install_args(&self, c: &mut Command, base: &str, port: u16) {
        fixture_install_args(
            c,
            base,
            port,
            &self.workdir(),
            &self.path().join("daemon.json"),
        );
        c.args(["--no-daemon-reload", "--health-timeout", "30"]);
    }

    /// The demo flags: this lab's image, loaded from `image.tar`.
    pub fn story_args(&self, c: &mut Command) {
        c.args(["--image", &self.image, "--image-file"])
            .arg(self.path().join("image.tar"));
    }

    /// `up --yes --json` with [`Lab::install_args`] and [`Lab::story_args`].
    pub fn up(&self, base: &str, port: u16) -> Run {
        let mut c = self.cmd("up");
        self.install_args(&mut c, base, port);
        self.story_args(&mut c);
        c.args(["--yes", "--json"]);
        run(&mut c)
    }

    /// `command` (install or up) with `installer.tgz`, the private `daemon.json`
    /// and the workdir `work`, as paths relative to the lab (for a pty, whose
    /// command line is a string).
    pub fn terminal_args(command: &str, port: &str) -> Vec<String> {
        [
            command,
            "--installer-file",
            "installer.tgz",
            "--hostname",
            "127.0.0.1",
            "--allow-loopback-hostname",
            "--http-port",
            port,
            "--workdir",
            "work",
            "--daemon-config",
            "daemon.json",
            "--no-daemon-reload",
            "--health-timeout",
            "30",
        ]
        .map(String::from)
        .to_vec()
    }

    /// Stop the double the fixture's install.sh started, if it did.
    pub fn kill_double(&self) {
        if let Ok(pid) = std::fs::read_to_string(self.workdir().join("data/double.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    }

    /// Our binary without the double's environment (commands that install nothing).
    pub fn plain(&self) -> Command {
        harbor_lab(self.path())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.kill_double();
    }
}

/// The fixture installer's release (`FIXTURE_TAG`, with its md5sum), served
/// from loopback; pass `http://{addr}` as --download-base.
pub async fn fixture_release() -> FileServer {
    file_server(release_files(FIXTURE_TAG, fixture_installer(), None), None).await
}

/// Run `f` (a blocking command) off the test's async runtime.
pub fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> tokio::task::JoinHandle<T> {
    tokio::task::spawn_blocking(f)
}

/// Run `c` to completion off the test's async runtime.
pub async fn run_blocking(mut c: Command) -> Run {
    blocking(move || run(&mut c)).await.unwrap()
}

/// The demo told the whole story: unsigned first, then signed by cosign in
/// Harbor, verified, tampering caught, the unsigned pull refused by the policy
/// and the signed one allowed.
pub fn assert_whole_story(demo: &serde_json::Value) {
    for (k, want) in [
        ("signed_before", false),
        ("signed_after", true),
        ("verified", true),
        ("tamper_detected", true),
        ("unsigned_pull_blocked", true),
        ("signed_pull_allowed", true),
    ] {
        assert_eq!(demo[k], want, "{k}: {demo}");
    }
}

/// The arguments that point `harbor-lab install` (or `up`) at the fixture
/// release served at `base`, on 127.0.0.1:`port`.
pub fn fixture_install_args(
    c: &mut Command,
    base: &str,
    port: u16,
    workdir: &Path,
    daemon_config: &Path,
) {
    c.args(["--harbor-version", FIXTURE_TAG, "--download-base", base])
        .args([
            "--hostname",
            "127.0.0.1",
            "--allow-loopback-hostname",
            "--http-port",
            &port.to_string(),
        ])
        .arg("--workdir")
        .arg(workdir)
        .arg("--daemon-config")
        .arg(daemon_config);
}

/// A second `up --json` report (`r`) did nothing again: every install step is
/// skipped (preflight and host only checked), nothing is pushed or signed
/// again, and the tamper and policy acts are taken from the journal.
pub fn assert_nothing_done_again(r: &serde_json::Value) {
    for s in r["install"]["steps"].as_array().unwrap() {
        let want = if ["preflight", "host"].contains(&s["id"].as_str().unwrap()) {
            "checked"
        } else {
            "skipped"
        };
        assert_eq!(s["status"], want, "{s}");
    }
    let detail = |n: &str| step_detail(&r["demo"], n);
    for (step, want) in [("push", "already pushed"), ("sign", "already signed")] {
        assert!(detail(step).contains(want), "{}", detail(step));
    }
    for step in ["tamper", "policy"] {
        assert!(
            detail(step).starts_with("replayed from an earlier run"),
            "{}",
            detail(step)
        );
    }
}

/// The `detail` of step `id` in a report section (`r["demo"]`, `r["install"]`).
pub fn step_detail(section: &serde_json::Value, id: &str) -> String {
    let steps = section["steps"].as_array().unwrap();
    let step = steps.iter().find(|s| s["id"] == id);
    let step = step.unwrap_or_else(|| panic!("no step {id}: {section}"));
    step["detail"].as_str().unwrap().to_string()
}

/// A demo report (`again`) gives the same answers as an earlier one (`before`):
/// the image's digest, the tampered digest, the policy's message and every verdict.
pub fn assert_same_answers(again: &serde_json::Value, before: &serde_json::Value) {
    for k in [
        "digest",
        "tampered_digest",
        "signed_before",
        "signed_after",
        "verified",
        "tamper_detected",
        "unsigned_pull_blocked",
        "signed_pull_allowed",
        "policy_message",
    ] {
        assert_eq!(again[k], before[k], "{k}");
    }
}
