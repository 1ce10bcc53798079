//! The Harbor API double (tests/harbor-double): building it, and the
//! environment the fixture installer needs to start it.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::bin::{harbor_lab, registry};

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
