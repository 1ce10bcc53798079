//! The lab's work directory: where every file of a lab lives (the one place
//! that knows their names), the lock that keeps runs apart, and loading and
//! saving the journal.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::context::Context;
use crate::error::UserError;
use crate::fsutil::write_atomic;
use crate::journal::State;

/// A workdir's layout. Resolved once from `--workdir` (see [`Workdir::from_flag`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workdir {
    root: PathBuf,
}

/// Held while a run may change the workdir; a second run is refused.
pub struct Lock {
    _file: File,
}

impl Workdir {
    /// `--workdir` resolved against the working directory, else the default
    /// state directory (`$HARBOR_LAB_HOME`, /var/lib/harbor-lab for root, ...).
    pub fn from_flag(ctx: &Context, flag: Option<&Path>) -> Workdir {
        Workdir {
            root: flag.map_or_else(|| ctx.state_dir(), |p| ctx.resolve(p)),
        }
    }

    pub fn at(root: &Path) -> Workdir {
        Workdir {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The journal.
    pub fn state_file(&self) -> PathBuf {
        self.root.join("state.json")
    }

    /// The extracted installer.
    pub fn harbor_dir(&self) -> PathBuf {
        self.root.join("harbor")
    }

    /// The lab CA and Harbor's server certificate (`--tls`).
    pub fn tls_dir(&self) -> PathBuf {
        self.root.join("tls")
    }

    pub fn harbor_yml(&self) -> PathBuf {
        self.harbor_dir().join("harbor.yml")
    }

    /// What install.sh wrote when Harbor's prepare made one.
    pub fn compose_file(&self) -> PathBuf {
        self.harbor_dir().join("docker-compose.yml")
    }

    pub fn install_log(&self) -> PathBuf {
        self.root.join("install.log")
    }

    /// Harbor's admin password (0600).
    pub fn admin_password_file(&self) -> PathBuf {
        self.root.join("admin-password")
    }

    /// The lab key pair: `<prefix>.key` and `<prefix>.pub`.
    pub fn key_prefix(&self) -> PathBuf {
        self.root.join("cosign")
    }

    /// The lab key's password, when an unattended run made it up (0600).
    pub fn cosign_password_file(&self) -> PathBuf {
        self.root.join("cosign.password")
    }

    /// The lab's TUF repository (keys/ and metadata/), `tuf --repo`'s default.
    pub fn tuf_repo(&self) -> PathBuf {
        self.root.join("tuf")
    }

    /// The demo's private TUF repository (its freshness act).
    pub fn demo_tuf_repo(&self) -> PathBuf {
        self.root.join("demo-tuf")
    }

    /// Harbor's data when `--data-volume` is not given.
    pub fn default_data_volume(&self) -> PathBuf {
        self.root.join("data")
    }

    fn lock_file(&self) -> PathBuf {
        self.root.join(".lock")
    }

    /// Refuse a workdir that is a file, before anything is written.
    pub fn check(&self) -> Result<(), UserError> {
        if self.root.exists() && !self.root.is_dir() {
            return Err(UserError::usage(format!(
                "the workdir {} is not a directory; pass --workdir with a directory",
                self.root.display()
            )));
        }
        Ok(())
    }

    /// Create (if needed) and lock the workdir; a second concurrent run fails.
    pub fn lock(&self) -> Result<Lock, UserError> {
        self.check()?;
        let root = &self.root;
        std::fs::create_dir_all(root).map_err(|e| {
            UserError::environment(format!("cannot create the workdir {}: {e}", root.display()))
        })?;
        let lock_path = self.lock_file();
        let file = crate::fsutil::open_lock_file(&lock_path).map_err(|e| {
            UserError::environment(format!("cannot open {}: {e}", lock_path.display()))
        })?;
        match file.try_lock() {
            Ok(()) => Ok(Lock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(UserError::environment(format!(
                "another harbor-lab run is using {} (lock {}); wait for it to finish",
                root.display(),
                lock_path.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(UserError::environment(format!(
                "cannot lock {}: {e}",
                lock_path.display()
            ))),
        }
    }

    /// The journal, or an empty one when there is none yet.
    pub fn load(&self) -> Result<State, UserError> {
        let path = self.state_file();
        match crate::fsutil::read_limited(&path, crate::fsutil::CONFIG_FILE_MAX) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                UserError::usage(format!(
                    "{} is damaged ({e}); move it aside to start the journal afresh",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(UserError::environment(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    pub fn save(&self, state: &State) -> Result<(), UserError> {
        let path = self.state_file();
        // Serialising our own plain types cannot fail.
        let bytes = serde_json::to_vec_pretty(state).expect("state serialises");
        write_atomic(&path, &bytes, 0o600)
            .map_err(|e| UserError::environment(format!("cannot write {}: {e}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::fingerprint;

    #[test]
    fn second_lock_is_refused_and_state_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let wd = Workdir::at(dir.path());
        let lock = wd.lock().unwrap();
        let err = wd.lock().err().unwrap();
        assert!(
            err.message.contains("another harbor-lab run"),
            "{}",
            err.message
        );
        let mut s = wd.load().unwrap();
        s.record("download", &fingerprint(&["v2.7.1"]), "cached", 1);
        wd.save(&s).unwrap();
        let back = wd.load().unwrap();
        assert!(back.is_done("download", &fingerprint(&["v2.7.1"])));
        assert!(!back.is_done("download", &fingerprint(&["v2.8.0"])));
        drop(lock);
        wd.lock().unwrap();
    }

    #[test]
    fn a_journal_of_da58c46_loads() {
        let text = include_str!("../tests/fixtures/state-da58c46.json");
        let state: State = serde_json::from_str(text).unwrap();
        // Made with --installer-file: no download record.
        for id in ["extract", "install", "health"] {
            assert!(state.steps.contains_key(id), "{id}");
        }
        let demo = state.demo.expect("the demo record");
        assert!(demo.tamper_detected && demo.unsigned_pull_blocked);
        assert!(!demo.tampered_digest.is_empty() && !demo.digest.is_empty());
    }
}
