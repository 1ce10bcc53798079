//! What earlier runs learnt about registries, kept so that the next run does
//! not ask again: today, that a registry has no referrers API (distribution
//! 2.8, the registry inside Harbor before 2.9, answers 404), which saves one
//! request per `verify`.
//!
//! A hint is an empty file `<dir>/<registry>.no-referrers-api`; its mtime is
//! when a registry last said so, and it is trusted for [`HINT_TTL`]. A hint
//! only ever speeds up a pass: before `verify` reports that an image has no
//! valid signature, it asks the API after all (`cosign::verify`). A registry
//! that answers with an API removes the file.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::Client;

/// How long a "no referrers API" answer is trusted without asking again.
pub const HINT_TTL: Duration = Duration::from_secs(3600);

const NO_API: &str = "no-referrers-api";

/// The hints kept in one directory, judged at one time.
pub struct Hints {
    dir: PathBuf,
    now: SystemTime,
}

impl Hints {
    pub fn new(dir: PathBuf, now: SystemTime) -> Self {
        Hints { dir, now }
    }

    /// The file of `registry`'s hint (`127.0.0.1:5000` → `127.0.0.1_5000.…`).
    fn file(&self, registry: &str) -> PathBuf {
        let safe = crate::fsutil::file_name_part(registry);
        self.dir.join(format!("{safe}.{NO_API}"))
    }

    /// Is there a hint for `registry` younger than [`HINT_TTL`]? (A hint
    /// dated in the future is not trusted.)
    fn fresh(&self, path: &Path) -> bool {
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| self.now.duration_since(t).ok())
            .is_some_and(|age| age < HINT_TTL)
    }

    /// Give `client` the fresh hints for these registries.
    pub fn seed<'a>(&self, client: &Client, registries: impl IntoIterator<Item = &'a str>) {
        // One look at the disk per registry, not per image of a batch.
        let registries: std::collections::BTreeSet<&str> = registries.into_iter().collect();
        for registry in registries {
            if self.fresh(&self.file(registry)) {
                client.assume_no_referrers_api(registry);
            }
        }
    }

    /// Keep what `client`'s registries answered in this run. Best effort: a
    /// hint that cannot be written costs the next run one request, nothing more.
    pub fn save(&self, client: &Client) {
        for (registry, has_api) in client.referrers_api_learnt() {
            let path = self.file(&registry);
            if has_api {
                let _ = std::fs::remove_file(&path);
            } else if !self.fresh(&path) {
                let _ = std::fs::create_dir_all(&self.dir)
                    .and_then(|()| crate::fsutil::write_atomic(&path, b"", 0o644));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_become_file_names() {
        let h = Hints::new(PathBuf::from("/c"), SystemTime::now());
        assert_eq!(
            h.file("127.0.0.1:5000"),
            PathBuf::from("/c/127.0.0.1_5000.no-referrers-api")
        );
        assert_eq!(
            h.file("../x/y"),
            PathBuf::from("/c/.._x_y.no-referrers-api")
        );
    }

    #[test]
    fn a_hint_is_trusted_for_its_ttl_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.no-referrers-api");
        std::fs::write(&path, b"").unwrap();
        let written = std::fs::metadata(&path).unwrap().modified().unwrap();
        let at = |d: Duration| Hints::new(dir.path().to_path_buf(), written + d);
        assert!(at(Duration::ZERO).fresh(&path));
        assert!(at(HINT_TTL - Duration::from_secs(1)).fresh(&path));
        assert!(!at(HINT_TTL).fresh(&path));
        let early = Hints::new(dir.path().to_path_buf(), written - Duration::from_secs(5));
        assert!(!early.fresh(&path), "a hint from the future");
        assert!(!at(Duration::ZERO).fresh(&dir.path().join("missing")));
    }
}
