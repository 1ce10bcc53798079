//! The TUF client workflow (specification §5), as python-tuf's `ngclient`
//! runs it: update root step by step, then timestamp, snapshot and targets,
//! each checked for signatures, rollback, expiry (freeze) and consistency with
//! the file that lists it. Trusted metadata is kept, byte for byte as it was
//! received, under non-versioned names in one store directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::TufError;
use super::metadata::{
    self, Envelope, Root, Snapshot, TargetFile, Targets, Timestamp, check_length_and_hashes,
    verify_threshold,
};
use super::transport::Source;

/// Largest files the client accepts where the metadata gives no length.
pub const ROOT_MAX: u64 = 512_000;
pub const TIMESTAMP_MAX: u64 = 16_384;
pub const SNAPSHOT_MAX: u64 = 2_000_000;
pub const TARGETS_MAX: u64 = 5_000_000;
/// How many root versions one refresh may step through.
const MAX_ROOT_ROTATIONS: u64 = 256;
/// How many delegated roles one target search may visit.
const MAX_DELEGATIONS: usize = 32;

/// Percent-encode everything but letters, digits and `_.-~` (Python's
/// `urllib.parse.quote(s, safe="")`), for role names in URLs and file names.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn store_error(path: &Path, e: impl std::fmt::Display) -> TufError {
    TufError::Store(format!("{}: {e}", path.display()))
}

/// The directory of trusted metadata.
#[derive(Debug, Clone)]
pub struct Store {
    pub dir: PathBuf,
}

impl Store {
    pub fn read(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dir.join(name)).ok()
    }

    pub fn write(&self, name: &str, data: &[u8]) -> Result<(), TufError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| store_error(&self.dir, e))?;
        let path = self.dir.join(name);
        crate::fsutil::write_atomic(&path, data, 0o644).map_err(|e| store_error(&path, e))
    }

    /// Start a store from a trusted root file (only if it has none yet).
    pub fn init(&self, trusted_root: &[u8]) -> Result<(), TufError> {
        self.write("root.json", trusted_root)
    }
}

/// What a timestamp update did.
enum Update {
    Accepted,
    SameVersion,
}

/// One run of the client over one repository.
pub struct Updater<'a> {
    source: &'a Source,
    store: Store,
    now: jiff::Timestamp,
    root: Envelope<Root>,
    timestamp: Option<Envelope<Timestamp>>,
    snapshot: Option<Envelope<Snapshot>>,
    targets: BTreeMap<String, Envelope<Targets>>,
    /// Which role each trusted targets role was verified against.
    verified_by: BTreeMap<String, String>,
}

fn missing(source: &Source, name: &str) -> TufError {
    TufError::Fetch {
        url: format!("{}{name}", source.base),
        detail: "not found".into(),
    }
}

impl<'a> Updater<'a> {
    /// Load the trusted root of `store` (it must be signed by its own keys).
    pub fn new(store: Store, source: &'a Source, now: jiff::Timestamp) -> Result<Self, TufError> {
        let path = store.dir.join("root.json");
        let data = std::fs::read(&path).map_err(|e| store_error(&path, e))?;
        let root: Envelope<Root> = metadata::parse(&data, "root")?;
        verify_threshold(&root.signed.delegation("root")?, &root, "root")?;
        Ok(Updater {
            source,
            store,
            now,
            root,
            timestamp: None,
            snapshot: None,
            targets: BTreeMap::new(),
            verified_by: BTreeMap::new(),
        })
    }

    pub fn root(&self) -> &Root {
        &self.root.signed
    }

    /// The trusted top-level targets' version (after a refresh).
    pub fn targets_version(&self) -> Option<u64> {
        self.targets.get("targets").map(|t| t.signed.common.version)
    }

    /// Update root, timestamp, snapshot and top-level targets.
    pub async fn refresh(&mut self) -> Result<(), TufError> {
        self.load_root().await?;
        self.load_timestamp().await?;
        self.load_snapshot().await?;
        self.load_targets("targets", "root").await?;
        Ok(())
    }

    async fn load_root(&mut self) -> Result<(), TufError> {
        let first = self.root.signed.common.version + 1;
        for next in first..first + MAX_ROOT_ROTATIONS {
            let name = format!("{next}.root.json");
            let Some(data) = self.source.fetch(&name, ROOT_MAX).await? else {
                break;
            };
            let new: Envelope<Root> = metadata::parse(&data, "root")?;
            verify_threshold(&self.root.signed.delegation("root")?, &new, "root")?;
            let got = new.signed.common.version;
            if got != next {
                return Err(TufError::Invalid(format!(
                    "{name} holds root version {got}, expected {next}"
                )));
            }
            verify_threshold(&new.signed.delegation("root")?, &new, "new root")?;
            self.root = new;
            self.store.write("root.json", &data)?;
        }
        Ok(())
    }

    fn check_root_fresh(&self) -> Result<(), TufError> {
        let c = &self.root.signed.common;
        if c.is_expired(self.now) {
            return Err(TufError::Freeze {
                role: "root".into(),
                expires: c.expires.clone(),
            });
        }
        Ok(())
    }

    fn update_timestamp(&mut self, data: &[u8]) -> Result<Update, TufError> {
        self.check_root_fresh()?;
        let new: Envelope<Timestamp> = metadata::parse(data, "timestamp")?;
        verify_threshold(
            &self.root.signed.delegation("timestamp")?,
            &new,
            "timestamp",
        )?;
        if let Some(old) = &self.timestamp {
            let (got, trusted) = (new.signed.common.version, old.signed.common.version);
            if got < trusted {
                return Err(TufError::Rollback {
                    role: "timestamp".into(),
                    got,
                    trusted,
                });
            }
            if got == trusted {
                return Ok(Update::SameVersion);
            }
            let (got, trusted) = (
                snapshot_meta(&new.signed).version,
                snapshot_meta(&old.signed).version,
            );
            if got < trusted {
                return Err(TufError::Rollback {
                    role: "snapshot".into(),
                    got,
                    trusted,
                });
            }
        }
        self.timestamp = Some(new);
        self.check_final_timestamp()?;
        Ok(Update::Accepted)
    }

    fn check_final_timestamp(&self) -> Result<&Timestamp, TufError> {
        let ts = self
            .timestamp
            .as_ref()
            .ok_or_else(|| TufError::Invalid("no trusted timestamp".into()))?;
        let c = &ts.signed.common;
        if c.is_expired(self.now) {
            return Err(TufError::Freeze {
                role: "timestamp".into(),
                expires: c.expires.clone(),
            });
        }
        Ok(&ts.signed)
    }

    async fn load_timestamp(&mut self) -> Result<(), TufError> {
        if let Some(local) = self.store.read("timestamp.json") {
            // A local timestamp that is invalid now is only not trusted.
            let _ = self.update_timestamp(&local);
        }
        let data = self
            .source
            .fetch("timestamp.json", TIMESTAMP_MAX)
            .await?
            .ok_or_else(|| missing(self.source, "timestamp.json"))?;
        match self.update_timestamp(&data)? {
            Update::Accepted => self.store.write("timestamp.json", &data),
            Update::SameVersion => Ok(()),
        }
    }

    fn update_snapshot(&mut self, data: &[u8], trusted: bool) -> Result<(), TufError> {
        let meta = snapshot_meta(self.check_final_timestamp()?).clone();
        if !trusted {
            check_length_and_hashes("snapshot", data, meta.length, meta.hashes.as_ref())?;
        }
        let new: Envelope<Snapshot> = metadata::parse(data, "snapshot")?;
        verify_threshold(&self.root.signed.delegation("snapshot")?, &new, "snapshot")?;
        if let Some(old) = &self.snapshot {
            for (name, info) in &old.signed.meta {
                let Some(now) = new.signed.meta.get(name) else {
                    return Err(TufError::Invalid(format!(
                        "the new snapshot no longer lists {name}"
                    )));
                };
                if now.version < info.version {
                    return Err(TufError::Rollback {
                        role: name.trim_end_matches(".json").to_string(),
                        got: now.version,
                        trusted: info.version,
                    });
                }
            }
        }
        self.snapshot = Some(new);
        self.check_final_snapshot().map(|_| ())
    }

    fn check_final_snapshot(&self) -> Result<&Snapshot, TufError> {
        let snap = self
            .snapshot
            .as_ref()
            .ok_or_else(|| TufError::Invalid("no trusted snapshot".into()))?;
        let c = &snap.signed.common;
        if c.is_expired(self.now) {
            return Err(TufError::Freeze {
                role: "snapshot".into(),
                expires: c.expires.clone(),
            });
        }
        let want = snapshot_meta(self.check_final_timestamp()?).version;
        version_matches("snapshot", c.version, want, "timestamp")?;
        Ok(&snap.signed)
    }

    async fn load_snapshot(&mut self) -> Result<(), TufError> {
        if let Some(local) = self.store.read("snapshot.json")
            && self.update_snapshot(&local, true).is_ok()
        {
            return Ok(());
        }
        let meta = snapshot_meta(self.check_final_timestamp()?).clone();
        let name = if self.root.signed.consistent_snapshot {
            format!("{}.snapshot.json", meta.version)
        } else {
            "snapshot.json".into()
        };
        let data = self
            .source
            .fetch(&name, meta.length.unwrap_or(SNAPSHOT_MAX))
            .await?
            .ok_or_else(|| missing(self.source, &name))?;
        self.update_snapshot(&data, false)?;
        self.store.write("snapshot.json", &data)
    }

    /// Check `env`'s signatures against what `parent` says of `role`.
    fn verify_delegated(
        &self,
        env: &Envelope<Targets>,
        role: &str,
        parent: &str,
    ) -> Result<(), TufError> {
        if parent == "root" {
            return verify_threshold(&self.root.signed.delegation("targets")?, env, role);
        }
        let delegator = self
            .targets
            .get(parent)
            .and_then(|p| p.signed.delegations.as_ref())
            .and_then(|d| d.delegation(role))
            .ok_or_else(|| TufError::Invalid(format!("{parent} does not delegate to {role}")))?;
        verify_threshold(&delegator, env, role)
    }

    fn update_targets(&mut self, data: &[u8], role: &str, parent: &str) -> Result<(), TufError> {
        let snapshot = self.check_final_snapshot()?;
        let meta = snapshot
            .meta
            .get(&format!("{role}.json"))
            .ok_or_else(|| TufError::Invalid(format!("the snapshot does not list {role}")))?
            .clone();
        check_length_and_hashes(role, data, meta.length, meta.hashes.as_ref())?;
        let new: Envelope<Targets> = metadata::parse(data, "targets")?;
        self.verify_delegated(&new, role, parent)?;
        version_matches(role, new.signed.common.version, meta.version, "snapshot")?;
        let c = &new.signed.common;
        if c.is_expired(self.now) {
            return Err(TufError::Freeze {
                role: role.into(),
                expires: c.expires.clone(),
            });
        }
        self.targets.insert(role.to_string(), new);
        self.verified_by
            .insert(role.to_string(), parent.to_string());
        Ok(())
    }

    async fn load_targets(&mut self, role: &str, parent: &str) -> Result<(), TufError> {
        if let Some(env) = self.targets.get(role) {
            // Loaded once per run; reached through another delegator, it must
            // satisfy that delegator's keys too.
            if self.verified_by.get(role).is_some_and(|p| p != parent) {
                self.verify_delegated(env, role, parent)?;
            }
            return Ok(());
        }
        let file = format!("{}.json", quote(role));
        if let Some(local) = self.store.read(&file)
            && self.update_targets(&local, role, parent).is_ok()
        {
            return Ok(());
        }
        let meta = self
            .check_final_snapshot()?
            .meta
            .get(&format!("{role}.json"))
            .ok_or_else(|| TufError::Invalid(format!("the snapshot does not list {role}")))?
            .clone();
        let name = if self.root.signed.consistent_snapshot {
            format!("{}.{file}", meta.version)
        } else {
            file.clone()
        };
        let data = self
            .source
            .fetch(&name, meta.length.unwrap_or(TARGETS_MAX))
            .await?
            .ok_or_else(|| missing(self.source, &name))?;
        self.update_targets(&data, role, parent)?;
        self.store.write(&file, &data)
    }

    /// Find `path` by a pre-order, depth-first search of the delegations,
    /// loading each role only when it is reached.
    pub async fn target(&mut self, path: &str) -> Result<Option<TargetFile>, TufError> {
        if !self.targets.contains_key("targets") {
            self.refresh().await?;
        }
        let mut to_visit = vec![("targets".to_string(), "root".to_string())];
        let mut visited = std::collections::BTreeSet::new();
        while visited.len() <= MAX_DELEGATIONS {
            let Some((role, parent)) = to_visit.pop() else {
                break;
            };
            if visited.contains(&role) {
                continue;
            }
            self.load_targets(&role, &parent).await?;
            let t = &self.targets[&role].signed;
            if let Some(found) = t.targets.get(path) {
                return Ok(Some(found.clone()));
            }
            visited.insert(role.clone());
            if let Some(d) = &t.delegations {
                let mut children = Vec::new();
                for (child, terminating) in d.roles_for(path) {
                    children.push((child, role.clone()));
                    if terminating {
                        to_visit.clear();
                        break;
                    }
                }
                children.reverse();
                to_visit.extend(children);
            }
        }
        Ok(None)
    }

    /// Download target `path` from `targets` into `dir` (file name: the quoted
    /// path), unless a copy with the right length and hashes is already there.
    pub async fn download(
        &self,
        path: &str,
        info: &TargetFile,
        targets: &Source,
        dir: &Path,
    ) -> Result<PathBuf, TufError> {
        let local = dir.join(quote(path));
        if let Ok(data) = std::fs::read(&local)
            && check_length_and_hashes(path, &data, Some(info.length), Some(&info.hashes)).is_ok()
        {
            return Ok(local);
        }
        let mut name = path.to_string();
        if self.root.signed.consistent_snapshot {
            let hash = info
                .hashes
                .values()
                .next()
                .and_then(|h| h.as_str())
                .ok_or_else(|| TufError::Invalid(format!("target {path:?} has no hash")))?;
            name = match path.rsplit_once('/') {
                Some((d, b)) => format!("{d}/{hash}.{b}"),
                None => format!("{hash}.{path}"),
            };
        }
        let data = targets
            .fetch(&name, info.length)
            .await?
            .ok_or_else(|| missing(targets, &name))?;
        check_length_and_hashes(path, &data, Some(info.length), Some(&info.hashes))?;
        std::fs::create_dir_all(dir).map_err(|e| store_error(dir, e))?;
        crate::fsutil::write_atomic(&local, &data, 0o644).map_err(|e| store_error(&local, e))?;
        Ok(local)
    }
}

fn snapshot_meta(ts: &Timestamp) -> &metadata::MetaFile {
    // Checked at parse time.
    &ts.meta["snapshot.json"]
}

fn version_matches(role: &str, got: u64, want: u64, listed_by: &str) -> Result<(), TufError> {
    if got < want {
        return Err(TufError::Rollback {
            role: role.into(),
            got,
            trusted: want,
        });
    }
    if got != want {
        return Err(TufError::Invalid(format!(
            "{role} version {got} does not match version {want} in {listed_by}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_is_pythons() {
        assert_eq!(quote("a/b c"), "a%2Fb%20c");
        assert_eq!(quote("role-1_x.y~"), "role-1_x.y~");
        assert_eq!(quote("é"), "%C3%A9");
    }
}
