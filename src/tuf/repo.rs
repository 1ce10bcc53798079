//! The repository side: the lab's TUF repository on disk (`<repo>/keys`,
//! `<repo>/metadata`), made and re-signed with tough's schema types and its
//! editor's `SignedRole` over cosign-format keys.
//!
//! Root and targets keys are the offline keys (the user's password); snapshot
//! and timestamp keys are online, with a generated password kept 0600 next to
//! them. Consistent snapshots, spec version 1.0.0, whole-second expiries.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use serde::Serialize;
use tough::editor::signed::SignedRole;
use tough::key_source::KeySource;
use tough::schema::decoded::{Decoded, Hex};
use tough::schema::{
    Hashes, KeyHolder, Metafile, Role, RoleKeys, RoleType, Root, Signed, Snapshot, Target, Targets,
    Timestamp,
};

use super::signer::{CosignKeySource, key_id, tuf_key};

pub const SPEC_VERSION: &str = "1.0.0";
/// Default lifetimes.
pub const ROOT_LIFETIME: Duration = Duration::from_secs(365 * 86_400);
pub const TARGETS_LIFETIME: Duration = Duration::from_secs(90 * 86_400);
pub const SNAPSHOT_LIFETIME: Duration = Duration::from_secs(7 * 86_400);
pub const TIMESTAMP_LIFETIME: Duration = Duration::from_secs(86_400);

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error(
        "{0} already holds a TUF repository: pass --force to replace it (clients that trust its root will refuse the new one)"
    )]
    Exists(PathBuf),
    #[error("{0} holds no TUF repository: run `harbor-lab tuf init --repo {0}` first")]
    Missing(PathBuf),
    #[error("{path}: {detail}")]
    File { path: PathBuf, detail: String },
    #[error("signing {role}: {detail}")]
    Sign { role: String, detail: String },
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> RepoError {
    RepoError::File {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

/// The files of one repository.
#[derive(Debug, Clone)]
pub struct RepoPaths {
    pub dir: PathBuf,
}

impl RepoPaths {
    pub fn new(dir: PathBuf) -> Self {
        RepoPaths { dir }
    }
    pub fn metadata(&self) -> PathBuf {
        self.dir.join("metadata")
    }
    pub fn key(&self, role: &str) -> PathBuf {
        self.dir.join("keys").join(format!("{role}.key"))
    }
    pub fn online_password(&self) -> PathBuf {
        self.dir.join("keys").join("online.password")
    }
    /// The first root: what clients are given to trust.
    pub fn first_root(&self) -> PathBuf {
        self.metadata().join("1.root.json")
    }
    fn read(&self, name: &str) -> Result<Vec<u8>, RepoError> {
        let path = self.metadata().join(name);
        std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound && !self.first_root().exists() {
                RepoError::Missing(self.dir.clone())
            } else {
                file_err(&path, e)
            }
        })
    }
    fn parse<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, RepoError> {
        let data = self.read(name)?;
        serde_json::from_slice(&data).map_err(|e| file_err(&self.metadata().join(name), e))
    }
    fn write(&self, name: &str, data: &[u8]) -> Result<(), RepoError> {
        let dir = self.metadata();
        std::fs::create_dir_all(&dir).map_err(|e| file_err(&dir, e))?;
        let path = dir.join(name);
        crate::fsutil::write_atomic(&path, data, 0o644).map_err(|e| file_err(&path, e))
    }
}

/// Lifetimes of the roles, counted from `now`.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub root: Duration,
    pub targets: Duration,
    pub snapshot: Duration,
    pub timestamp: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            root: ROOT_LIFETIME,
            targets: TARGETS_LIFETIME,
            snapshot: SNAPSHOT_LIFETIME,
            timestamp: TIMESTAMP_LIFETIME,
        }
    }
}

/// `now + d`, in whole seconds (python-tuf refuses fractional expiries).
pub fn expiry(now: jiff::Timestamp, d: Duration) -> jiff::Timestamp {
    let secs = now.as_second().saturating_add(d.as_secs() as i64);
    jiff::Timestamp::from_second(secs).unwrap_or(jiff::Timestamp::MAX)
}

fn nz(v: u64) -> NonZeroU64 {
    NonZeroU64::new(v).unwrap_or(NonZeroU64::MIN)
}

/// The passwords that open the keys.
pub struct Passwords {
    /// Root and targets (offline).
    pub offline: String,
    /// Snapshot and timestamp (online).
    pub online: String,
}

fn source(paths: &RepoPaths, role: &str, password: &str) -> Box<dyn KeySource> {
    Box::new(CosignKeySource {
        path: paths.key(role),
        password: password.to_string(),
    })
}

async fn sign<T: Role + Serialize>(
    role: T,
    root: &Root,
    keys: Vec<Box<dyn KeySource>>,
) -> Result<SignedRole<T>, RepoError> {
    let name = T::TYPE.to_string();
    SignedRole::new(
        role,
        &KeyHolder::Root(root.clone()),
        &keys,
        &SystemRandom::new(),
    )
    .await
    .map_err(|e| RepoError::Sign {
        role: name,
        detail: crate::http::error_chain(&e),
    })
}

fn metafile<T>(signed: &SignedRole<T>, version: NonZeroU64) -> Metafile
where
    T: Role + Serialize,
{
    Metafile {
        length: Some(*signed.length()),
        hashes: Some(Hashes {
            sha256: signed.sha256().to_vec().into(),
            _extra: HashMap::new(),
        }),
        version,
        _extra: HashMap::new(),
    }
}

/// Create keys and the first metadata. Refuses an existing repository unless `force`.
pub async fn init(
    paths: &RepoPaths,
    passwords: &Passwords,
    lifetimes: &Lifetimes,
    now: jiff::Timestamp,
    force: bool,
) -> Result<(), RepoError> {
    if !force && (paths.first_root().exists() || paths.key("root").exists()) {
        return Err(RepoError::Exists(paths.dir.clone()));
    }
    let mut keys = HashMap::new();
    let mut roles = HashMap::new();
    for (role, rt) in [
        ("root", RoleType::Root),
        ("targets", RoleType::Targets),
        ("snapshot", RoleType::Snapshot),
        ("timestamp", RoleType::Timestamp),
    ] {
        let key = crate::cosign::keys::generate();
        let password = if matches!(rt, RoleType::Root | RoleType::Targets) {
            &passwords.offline
        } else {
            &passwords.online
        };
        let pem = crate::cosign::keys::encrypt_private_key(
            &key,
            password.as_bytes(),
            crate::cosign::keys::SIGSTORE_PRIVATE_LABEL,
        )
        .map_err(|e| file_err(&paths.key(role), e))?;
        let path = paths.key(role);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| file_err(dir, e))?;
        }
        crate::fsutil::write_atomic(&path, pem.as_bytes(), 0o600)
            .map_err(|e| file_err(&path, e))?;
        let id: Decoded<Hex> = key_id(key.verifying_key()).map_err(|e| RepoError::Sign {
            role: role.into(),
            detail: e,
        })?;
        keys.insert(id.clone(), tuf_key(key.verifying_key()));
        roles.insert(
            rt,
            RoleKeys {
                keyids: vec![id],
                threshold: NonZeroU64::MIN,
                _extra: HashMap::new(),
            },
        );
    }
    let root = Root {
        spec_version: SPEC_VERSION.into(),
        consistent_snapshot: true,
        version: NonZeroU64::MIN,
        expires: expiry(now, lifetimes.root),
        keys,
        roles,
        _extra: HashMap::new(),
    };
    let signed = sign(
        root.clone(),
        &root,
        vec![source(paths, "root", &passwords.offline)],
    )
    .await?;
    // Old versions from a forced re-init would confuse clients.
    if force && let Ok(entries) = std::fs::read_dir(paths.metadata()) {
        for e in entries.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
    }
    paths.write("1.root.json", signed.buffer())?;
    paths.write("root.json", signed.buffer())?;
    let targets = Targets::new(
        SPEC_VERSION.into(),
        NonZeroU64::MIN,
        expiry(now, lifetimes.targets),
    );
    write_targets_chain(paths, &root, passwords, targets, None, lifetimes, now).await
}

/// The repository as it stands: root, targets, and the versions of snapshot and timestamp.
pub struct Current {
    pub root: Root,
    pub targets: Targets,
    pub snapshot: Snapshot,
    pub timestamp: Timestamp,
}

pub fn load(paths: &RepoPaths) -> Result<Current, RepoError> {
    let root: Signed<Root> = paths.parse("root.json")?;
    let timestamp: Signed<Timestamp> = paths.parse("timestamp.json")?;
    let sv = timestamp
        .signed
        .meta
        .get("snapshot.json")
        .map(|m| m.version)
        .ok_or_else(|| file_err(&paths.metadata().join("timestamp.json"), "no snapshot meta"))?;
    let snapshot: Signed<Snapshot> = paths.parse(&format!("{sv}.snapshot.json"))?;
    let tv = snapshot
        .signed
        .meta
        .get("targets.json")
        .map(|m| m.version)
        .ok_or_else(|| {
            file_err(
                &paths.metadata().join(format!("{sv}.snapshot.json")),
                "no targets meta",
            )
        })?;
    let targets: Signed<Targets> = paths.parse(&format!("{tv}.targets.json"))?;
    Ok(Current {
        root: root.signed,
        targets: targets.signed,
        snapshot: snapshot.signed,
        timestamp: timestamp.signed,
    })
}

/// Sign and write `targets`, then a new snapshot and timestamp that list it.
async fn write_targets_chain(
    paths: &RepoPaths,
    root: &Root,
    passwords: &Passwords,
    targets: Targets,
    previous: Option<&Current>,
    lifetimes: &Lifetimes,
    now: jiff::Timestamp,
) -> Result<(), RepoError> {
    let tv = targets.version;
    let signed_targets = sign(
        targets,
        root,
        vec![source(paths, "targets", &passwords.offline)],
    )
    .await?;
    let sv = nz(previous.map_or(1, |p| p.snapshot.version.get() + 1));
    let mut snapshot = Snapshot::new(SPEC_VERSION.into(), sv, expiry(now, lifetimes.snapshot));
    snapshot
        .meta
        .insert("targets.json".into(), metafile(&signed_targets, tv));
    let signed_snapshot = sign(
        snapshot,
        root,
        vec![source(paths, "snapshot", &passwords.online)],
    )
    .await?;
    let ts_version = nz(previous.map_or(1, |p| p.timestamp.version.get() + 1));
    let timestamp = timestamp_for(&signed_snapshot, sv, ts_version, lifetimes, now);
    let signed_ts = sign(
        timestamp,
        root,
        vec![source(paths, "timestamp", &passwords.online)],
    )
    .await?;
    paths.write(&format!("{tv}.targets.json"), signed_targets.buffer())?;
    paths.write(&format!("{sv}.snapshot.json"), signed_snapshot.buffer())?;
    paths.write("timestamp.json", signed_ts.buffer())
}

fn timestamp_for(
    snapshot: &SignedRole<Snapshot>,
    sv: NonZeroU64,
    version: NonZeroU64,
    lifetimes: &Lifetimes,
    now: jiff::Timestamp,
) -> Timestamp {
    let mut ts = Timestamp::new(
        SPEC_VERSION.into(),
        version,
        expiry(now, lifetimes.timestamp),
    );
    ts.meta
        .insert("snapshot.json".into(), metafile(snapshot, sv));
    ts
}

/// One tag to pin: the target name `<registry>/<repository>:<tag>` and its manifest.
pub struct Pin {
    pub name: String,
    pub length: u64,
    /// Hex sha256 of the manifest.
    pub sha256: String,
    pub media_type: String,
}

/// Set targets, bump versions, re-sign targets, snapshot and timestamp.
pub async fn pin(
    paths: &RepoPaths,
    passwords: &Passwords,
    pins: &[Pin],
    lifetimes: &Lifetimes,
    now: jiff::Timestamp,
) -> Result<u64, RepoError> {
    let current = load(paths)?;
    let mut targets = current.targets.clone();
    targets.version = nz(targets.version.get() + 1);
    targets.expires = expiry(now, lifetimes.targets);
    for p in pins {
        let name = tough::TargetName::new(p.name.clone()).map_err(|e| RepoError::Sign {
            role: "targets".into(),
            detail: format!("target name {:?}: {e}", p.name),
        })?;
        let sha = hex::decode(&p.sha256).map_err(|e| RepoError::Sign {
            role: "targets".into(),
            detail: format!("digest of {}: {e}", p.name),
        })?;
        targets.targets.insert(
            name,
            Target {
                length: p.length,
                hashes: Hashes {
                    sha256: sha.into(),
                    _extra: HashMap::new(),
                },
                custom: HashMap::from([(
                    "mediaType".to_string(),
                    serde_json::Value::String(p.media_type.clone()),
                )]),
                _extra: HashMap::new(),
            },
        );
    }
    let version = targets.version.get();
    write_targets_chain(
        paths,
        &current.root,
        passwords,
        targets,
        Some(&current),
        lifetimes,
        now,
    )
    .await?;
    Ok(version)
}

/// Re-sign the timestamp alone (the heartbeat). Returns its new version.
pub async fn refresh(
    paths: &RepoPaths,
    online_password: &str,
    lifetimes: &Lifetimes,
    now: jiff::Timestamp,
) -> Result<u64, RepoError> {
    let current = load(paths)?;
    let meta = current
        .timestamp
        .meta
        .get("snapshot.json")
        .cloned()
        .ok_or_else(|| file_err(&paths.metadata().join("timestamp.json"), "no snapshot meta"))?;
    let version = nz(current.timestamp.version.get() + 1);
    let mut ts = Timestamp::new(
        SPEC_VERSION.into(),
        version,
        expiry(now, lifetimes.timestamp),
    );
    ts.meta.insert("snapshot.json".into(), meta);
    let signed = sign(
        ts,
        &current.root,
        vec![source(paths, "timestamp", online_password)],
    )
    .await?;
    paths.write("timestamp.json", signed.buffer())?;
    Ok(version.get())
}

/// What `tuf status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Target name to `sha256:<hex>`.
    pub targets: BTreeMap<String, String>,
    /// Role to (version, expiry).
    pub roles: Vec<RoleStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoleStatus {
    pub role: String,
    pub version: u64,
    pub expires: String,
    /// Seconds until expiry (negative when expired).
    pub expires_in_secs: i64,
}

pub fn status(paths: &RepoPaths, now: jiff::Timestamp) -> Result<Status, RepoError> {
    let c = load(paths)?;
    let role = |role: &str, version: NonZeroU64, expires: jiff::Timestamp| RoleStatus {
        role: role.into(),
        version: version.get(),
        expires: expires.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        expires_in_secs: expires.as_second() - now.as_second(),
    };
    Ok(Status {
        targets: c
            .targets
            .targets
            .iter()
            .map(|(n, t)| {
                (
                    n.raw().to_string(),
                    format!("sha256:{}", hex::encode(&t.hashes.sha256)),
                )
            })
            .collect(),
        roles: vec![
            role("root", c.root.version, c.root.expires),
            role("targets", c.targets.version, c.targets.expires),
            role("snapshot", c.snapshot.version, c.snapshot.expires),
            role("timestamp", c.timestamp.version, c.timestamp.expires),
        ],
    })
}

/// The files a client needs now: every root version, the timestamp, and the
/// current snapshot and targets.
pub fn published_files(paths: &RepoPaths) -> Result<Vec<(String, Vec<u8>)>, RepoError> {
    let c = load(paths)?;
    let mut names: Vec<String> = (1..=c.root.version.get())
        .map(|v| format!("{v}.root.json"))
        .collect();
    let sv = c.timestamp.meta["snapshot.json"].version;
    let tv = c.snapshot.meta["targets.json"].version;
    names.push(format!("{sv}.snapshot.json"));
    names.push(format!("{tv}.targets.json"));
    names.push("timestamp.json".into());
    names
        .into_iter()
        .map(|n| paths.read(&n).map(|d| (n, d)))
        .collect()
}

/// Copy the published files into a directory (for a static HTTP server).
pub fn publish_dir(paths: &RepoPaths, dir: &Path) -> Result<usize, RepoError> {
    let files = published_files(paths)?;
    std::fs::create_dir_all(dir).map_err(|e| file_err(dir, e))?;
    for (n, d) in &files {
        let p = dir.join(n);
        crate::fsutil::write_atomic(&p, d, 0o644).map_err(|e| file_err(&p, e))?;
    }
    Ok(files.len())
}
