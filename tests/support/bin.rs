//! Finding and running programs: our binary, the peers (cosign, skopeo), the
//! loopback registry, and what a finished command printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

pub(crate) fn env_or(key: &str, default: &str) -> String {
    std::env::var(key)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

pub(crate) fn cache() -> String {
    env_or("HARBOR_LAB_CACHE", "/var/cache/harbor-lab")
}

/// The loopback docker-registry started by scripts/services.sh.
pub fn registry() -> String {
    env_or("HARBOR_LAB_TEST_REGISTRY", "127.0.0.1:5055")
}

fn tool(var: &str, default: String) -> PathBuf {
    let p = PathBuf::from(env_or(var, &default));
    assert!(
        p.exists(),
        "{} not found at {}: run scripts/test.sh (it fetches the peers) or set {var}",
        p.file_name().unwrap_or_default().to_string_lossy(),
        p.display()
    );
    p
}

pub fn cosign_path() -> PathBuf {
    tool(
        "HARBOR_LAB_COSIGN",
        format!("{}/peers/root/usr/bin/cosign", cache()),
    )
}

/// cosign 3.1 (sigstore bundles on OCI 1.1 referrers by default).
pub fn cosign3_path() -> PathBuf {
    tool(
        "HARBOR_LAB_COSIGN3",
        format!("{}/peers/v3/usr/bin/cosign", cache()),
    )
}

pub fn skopeo_path() -> PathBuf {
    tool("HARBOR_LAB_SKOPEO", format!("{}/peers/skopeo", cache()))
}

pub fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// A lower-case name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The output of a finished command, decoded.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Run a command with no stdin (so a prompt can never wait for input).
pub fn run(cmd: &mut Command) -> Run {
    Run::from(
        cmd.stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {cmd:?}: {e}")),
    )
}

/// Run a command with no stdin, killing it (and failing the test) when it has
/// not finished within `secs` seconds.
pub fn run_within(cmd: &mut Command, secs: u64) -> Run {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        Ok(out) => Run::from(out.unwrap()),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{cmd:?} did not finish within {secs} s");
        }
    }
}

/// Our binary, with a clean environment for secrets, a private HOME and a
/// private cache (lock files, what it learnt about registries: test
/// registries come and go on reused ports).
pub fn harbor_lab(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_harbor-lab"));
    c.env_remove("COSIGN_PASSWORD")
        .env_remove("REGISTRY_PASSWORD")
        .env_remove("DOCKER_CONFIG")
        .env("HOME", home)
        .env("HARBOR_LAB_CACHE", private_cache(home))
        .current_dir(home);
    c
}

/// The cache [`harbor_lab`] gives our binary.
pub fn private_cache(home: &Path) -> std::path::PathBuf {
    home.join(".cache/harbor-lab")
}

/// The file in which our binary, run by [`harbor_lab`], keeps that
/// `registry` has no referrers API (`registry::hints`).
pub fn no_referrers_api_hint(home: &Path, registry: &str) -> std::path::PathBuf {
    private_cache(home)
        .join("registries")
        .join(format!("{}.no-referrers-api", registry.replace(':', "_")))
}

/// The real cosign, with its own HOME so it never reads a user's config.
pub fn cosign(home: &Path) -> Command {
    let mut c = Command::new(cosign_path());
    c.env_remove("COSIGN_PASSWORD")
        .env("HOME", home)
        .env("TUF_ROOT", home.join(".sigstore"))
        .current_dir(home);
    c
}

/// `cosign sign` as the tests have cosign 2.5 sign: `image` with the key file
/// `key` (its password `password`), offline (no transparency log), on an
/// insecure loopback registry; `extra` flags go before the image. The caller
/// adds any environment (a `DOCKER_CONFIG`) and runs it.
pub fn cosign_sign_command(
    home: &Path,
    key: &str,
    password: &str,
    image: &str,
    extra: &[&str],
) -> Command {
    let mut c = cosign(home);
    c.args(["sign", "--key", key, "--tlog-upload=false"])
        .args(["--allow-insecure-registry", "-y"])
        .args(extra)
        .arg(image)
        .env("COSIGN_PASSWORD", password);
    c
}

/// The real cosign 3.1, with its own HOME (and TUF root) like [`cosign`].
pub fn cosign3(home: &Path) -> Command {
    let mut c = Command::new(cosign3_path());
    c.env_remove("COSIGN_PASSWORD")
        .env("HOME", home)
        .env("TUF_ROOT", home.join(".sigstore"))
        .current_dir(home);
    c
}

pub fn skopeo(home: &Path) -> Command {
    let mut c = Command::new(skopeo_path());
    c.env("HOME", home).current_dir(home);
    c
}

/// A library registry client for loopback registries.
pub fn client() -> harbor_lab::registry::Client {
    harbor_lab::registry::Client::new(Default::default()).unwrap()
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The key password the interop tests give our binary and the peers.
pub const KEY_PW: &str = "interop-pw";

/// `harbor-lab keys generate` with [`KEY_PW`].
pub fn our_keys(home: &Path, prefix: &str) {
    let out = run(harbor_lab(home)
        .args(["keys", "generate", "--output-key-prefix", prefix])
        .env("COSIGN_PASSWORD", KEY_PW));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// `harbor-lab sign` with a key made by [`our_keys`].
pub fn our_sign(home: &Path, key: &str, images: &[&str], extra: &[&str]) -> Run {
    run(harbor_lab(home)
        .args(["sign", "--key", key])
        .args(extra)
        .args(images)
        .env("COSIGN_PASSWORD", KEY_PW))
}

/// `harbor-lab verify` of one image.
pub fn our_verify(home: &Path, key: &str, image: &str, extra: &[&str]) -> Run {
    run(harbor_lab(home)
        .args(["verify", "--key", key])
        .args(extra)
        .arg(image))
}
