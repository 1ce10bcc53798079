//! The Harbor API double (tests/harbor-double): building it, and the
//! environment the fixture installer needs to start it.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::bin::{free_port, harbor_lab, registry, unique};

/// The environment that lets the fixture's install.sh start the Harbor double:
/// its binary, the real registry behind it, a namespace there, and the test's
/// own download cache under `home`. The one builder for it (commands, and the
/// pseudo-terminal runs of tty.rs).
pub fn double_env(home: &Path, namespace: &str) -> Vec<(&'static str, String)> {
    vec![
        ("HARBOR_LAB_CACHE", home.join("cache").display().to_string()),
        (
            "HARBOR_DOUBLE_BIN",
            harbor_double_bin().display().to_string(),
        ),
        ("HARBOR_DOUBLE_UPSTREAM", format!("http://{}", registry())),
        ("HARBOR_DOUBLE_NAMESPACE", namespace.to_string()),
    ]
}

/// Our binary, set up to install the fixture (see [`double_env`]).
pub fn harbor_lab_with_double(home: &Path, namespace: &str) -> Command {
    let mut c = harbor_lab(home);
    c.envs(double_env(home, namespace));
    c
}

/// The harbor-double binary, built (once per test process, a no-op when it
/// is fresh) next to the test binaries: `cargo test --test X` alone would not
/// rebuild another workspace package.
pub fn harbor_double_bin() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let status = Command::new(env!("CARGO"))
                .args(["build", "-q", "-p", "harbor-double"])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .unwrap();
            assert!(status.success(), "building harbor-double");
            let exe = std::env::current_exe().unwrap();
            exe.parent()
                .unwrap()
                .parent()
                .unwrap()
                .join("harbor-double")
        })
        .clone()
}

/// A Harbor double of `version` in front of the real registry; credentials
/// for docker, cosign and us in `home/.docker`. Killed on drop.
pub struct Double {
    child: std::process::Child,
    pub host: String,
    pub namespace: String,
}

impl Drop for Double {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub const DOUBLE_PW: &str = "Double-pw-123";

pub async fn double(home: &Path, version: &str) -> Double {
    std::fs::write(home.join("pw"), format!("{DOUBLE_PW}\n")).unwrap();
    let port = free_port();
    let namespace = unique("bdl");
    let child = std::process::Command::new(harbor_double_bin())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--upstream", &format!("http://{}", registry())])
        .args(["--namespace", &namespace, "--version", version])
        .arg("--admin-password-file")
        .arg(home.join("pw"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let host = format!("127.0.0.1:{port}");
    for _ in 0..100 {
        if reqwest::get(format!("http://{host}/api/v2.0/ping"))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("admin:{DOUBLE_PW}"));
    std::fs::create_dir_all(home.join(".docker")).unwrap();
    std::fs::write(
        home.join(".docker/config.json"),
        format!("{{\"auths\":{{\"{host}\":{{\"auth\":\"{auth}\"}}}}}}"),
    )
    .unwrap();
    Double {
        child,
        host,
        namespace,
    }
}
