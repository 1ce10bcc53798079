//! The lab's work directory: the state journal (what each step did, with a
//! fingerprint of its inputs) and the lock that keeps runs apart.
//!
//! Steps themselves re-check the real world before acting, so running a
//! command again is how a run resumes; the journal records what was done and
//! what to undo (`down`).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::UserError;
use crate::fsutil::write_atomic;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// Per step id: the last outcome.
    #[serde(default)]
    pub steps: BTreeMap<String, StepRecord>,
    /// The daemon.json we changed, for `down` to restore.
    #[serde(default)]
    pub daemon_config: Option<DaemonConfigRecord>,
    /// The Harbor this workdir installed.
    #[serde(default)]
    pub harbor: Option<HarborRecord>,
    /// What the demo found (so a re-run reports the same answers without
    /// pushing again); owned by `commands::demo`.
    #[serde(default)]
    pub demo: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepRecord {
    pub status: String,
    /// A hash of the inputs that matter; a change means the step must run again.
    pub fingerprint: String,
    #[serde(default)]
    pub detail: String,
    /// Seconds since the epoch.
    pub at: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DaemonConfigRecord {
    pub path: PathBuf,
    /// The untouched original, or None when the file did not exist.
    pub backup: Option<PathBuf>,
    pub added: Vec<String>,
    /// Entries about to be added: journalled before the file is written, so a
    /// run killed between the write and the journal still knows they are ours.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<String>,
}

impl DaemonConfigRecord {
    /// The write the pending entries were journalled for happened: they are added.
    pub fn commit_pending(&mut self) {
        for p in std::mem::take(&mut self.pending) {
            if !self.added.contains(&p) {
                self.added.push(p);
            }
        }
    }

    /// Every entry this lab put (or was about to put) in the file.
    pub fn ours(&self) -> Vec<String> {
        let mut all = self.added.clone();
        all.extend(
            self.pending
                .iter()
                .filter(|p| !self.added.contains(p))
                .cloned(),
        );
        all
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HarborRecord {
    pub version: String,
    pub hostname: String,
    pub http_port: u16,
    pub url: String,
    pub data_volume: PathBuf,
    pub admin_password_file: PathBuf,
    /// sha256 of the harbor.yml we last wrote (to tell user edits apart).
    pub harbor_yml_sha256: String,
}

/// The work directory and its journal.
pub struct Workdir {
    pub root: PathBuf,
    _lock: Option<File>,
}

impl Workdir {
    /// Open (creating it) and lock the workdir; a second concurrent run fails.
    pub fn open_locked(root: &Path) -> Result<Workdir, UserError> {
        if root.exists() && !root.is_dir() {
            return Err(UserError::usage(format!(
                "the workdir {} is not a directory; pass --workdir with a directory",
                root.display()
            )));
        }
        std::fs::create_dir_all(root).map_err(|e| {
            UserError::environment(format!("cannot create the workdir {}: {e}", root.display()))
        })?;
        let lock_path = root.join(".lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| {
                UserError::environment(format!("cannot open {}: {e}", lock_path.display()))
            })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(UserError::environment(format!(
                    "another harbor-lab run is using {} (lock {}); wait for it to finish",
                    root.display(),
                    lock_path.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(UserError::environment(format!(
                    "cannot lock {}: {e}",
                    lock_path.display()
                )));
            }
        }
        Ok(Workdir {
            root: root.to_path_buf(),
            _lock: Some(file),
        })
    }

    /// Look at a workdir without locking it (status, dry runs).
    pub fn open_unlocked(root: &Path) -> Workdir {
        Workdir {
            root: root.to_path_buf(),
            _lock: None,
        }
    }

    pub fn state_path(&self) -> PathBuf {
        self.root.join("state.json")
    }

    pub fn harbor_dir(&self) -> PathBuf {
        self.root.join("harbor")
    }

    pub fn load(&self) -> Result<State, UserError> {
        let path = self.state_path();
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
        let path = self.state_path();
        let bytes = serde_json::to_vec_pretty(state).expect("state serialises");
        write_atomic(&path, &bytes, 0o600)
            .map_err(|e| UserError::environment(format!("cannot write {}: {e}", path.display())))
    }
}

impl State {
    pub fn record(&mut self, id: &str, fingerprint: &str, detail: &str, now: u64) {
        self.steps.insert(
            id.to_string(),
            StepRecord {
                status: "done".into(),
                fingerprint: fingerprint.to_string(),
                detail: detail.to_string(),
                at: now,
            },
        );
    }

    /// Was `id` done with exactly these inputs?
    pub fn is_done(&self, id: &str, fingerprint: &str) -> bool {
        self.steps
            .get(id)
            .is_some_and(|r| r.status == "done" && r.fingerprint == fingerprint)
    }
}

/// A short fingerprint of some inputs.
pub fn fingerprint(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(&h.finalize()[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_and_state_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let a = Workdir::open_locked(dir.path()).unwrap();
        let err = Workdir::open_locked(dir.path()).err().unwrap();
        assert!(
            err.message.contains("another harbor-lab run"),
            "{}",
            err.message
        );
        let mut s = a.load().unwrap();
        s.record("download", &fingerprint(&["v2.7.1"]), "cached", 1);
        a.save(&s).unwrap();
        let back = a.load().unwrap();
        assert!(back.is_done("download", &fingerprint(&["v2.7.1"])));
        assert!(!back.is_done("download", &fingerprint(&["v2.8.0"])));
        drop(a);
        Workdir::open_locked(dir.path()).unwrap();
    }
}
