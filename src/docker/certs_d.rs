//! Docker's per-registry trust directory: `<root>/<host>:<port>/ca.crt`, or
//! `<root>/<host>/ca.crt` for port 443 (root: /etc/docker/certs.d). dockerd
//! reads it on every connection, so no reload is needed; skopeo and podman
//! read the same layout (`--cert-dir`).
//!
//! `install` writes the CA atomically and backs up a `ca.crt` that was there
//! (beside it, as `ca.crt.harbor-lab.bak`: Docker only reads `*.crt`,
//! `*.cert` and `*.key`); `remove` puts back exactly what was there before.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsutil::{backup_once, write_atomic};

pub const DEFAULT_ROOT: &str = "/etc/docker/certs.d";

#[derive(Debug, thiserror::Error)]
#[error(
    "{path}: {detail} (this is Docker's registry trust directory; --docker-certs-dir names another)"
)]
pub struct CertsDError {
    pub path: PathBuf,
    pub detail: String,
}

fn io(path: &Path, what: &str, e: std::io::Error) -> CertsDError {
    CertsDError {
        path: path.to_path_buf(),
        detail: format!("cannot {what} ({e})"),
    }
}

/// The directory Docker reads for the registry at host:port.
pub fn dir_for(root: &Path, host: &str, port: u16) -> PathBuf {
    if port == 443 {
        root.join(host)
    } else {
        root.join(format!("{host}:{port}"))
    }
}

/// What harbor-lab changed in certs.d, for `down` and `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertsDRecord {
    /// The `ca.crt` we wrote.
    pub path: PathBuf,
    /// The directory did not exist before (remove it when empty).
    pub created_dir: bool,
    /// The user's earlier `ca.crt`, when there was one.
    pub backup: Option<PathBuf>,
    /// sha256 of what we wrote (to tell a later change apart).
    pub sha256: String,
}

/// How certs.d compares with what we wrote.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    Matches,
    Missing,
    Changed,
}

fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Would `install` change anything?
pub fn is_current(root: &Path, host: &str, port: u16, ca_pem: &[u8]) -> bool {
    std::fs::read(dir_for(root, host, port).join("ca.crt")).is_ok_and(|b| b == ca_pem)
}

/// Put `ca_pem` in place as the registry's `ca.crt`. `previous` is the record
/// of an earlier run: its backup and created_dir carry over, so a re-run (or a
/// renewed CA) never takes our own file for the user's original.
pub fn install(
    root: &Path,
    host: &str,
    port: u16,
    ca_pem: &[u8],
    previous: Option<&CertsDRecord>,
) -> Result<CertsDRecord, CertsDError> {
    let dir = dir_for(root, host, port);
    let path = dir.join("ca.crt");
    let same_place = previous.filter(|p| p.path == path);
    let created_dir = match same_place {
        Some(p) => p.created_dir,
        None => !dir.exists(),
    };
    std::fs::create_dir_all(&dir).map_err(|e| io(&dir, "create it", e))?;
    let existing = match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(&path, "read it", e)),
    };
    let ours = |b: &[u8]| same_place.is_some_and(|p| p.sha256 == sha256(b));
    let backup = match (&existing, same_place) {
        (Some(b), _) if b == ca_pem && same_place.is_none() => {
            // The user already trusts exactly this CA: nothing of ours to undo.
            return Ok(CertsDRecord {
                path,
                created_dir: false,
                backup: None,
                sha256: String::new(),
            });
        }
        (Some(b), Some(p)) if ours(b) => p.backup.clone(),
        (Some(_), _) => Some(backup_once(&path).map_err(|e| io(&path, "back it up", e))?),
        (None, Some(p)) => p.backup.clone(),
        (None, None) => None,
    };
    if existing.as_deref() != Some(ca_pem) {
        write_atomic(&path, ca_pem, 0o644).map_err(|e| io(&path, "write it", e))?;
    }
    Ok(CertsDRecord {
        path,
        created_dir,
        backup,
        sha256: sha256(ca_pem),
    })
}

/// Compare certs.d with what we wrote.
pub fn check(rec: &CertsDRecord) -> Check {
    match std::fs::read(&rec.path) {
        Ok(b) if rec.sha256.is_empty() || sha256(&b) == rec.sha256 => Check::Matches,
        Ok(_) => Check::Changed,
        Err(_) => Check::Missing,
    }
}

/// What `remove` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Removed {
    /// The user's earlier ca.crt is back, byte for byte.
    Restored(PathBuf),
    /// Our ca.crt (and the directory we made) are gone.
    Deleted(PathBuf),
    /// Someone changed the file since: left alone.
    KeptChanged(PathBuf),
    /// The user's own file, which we never changed.
    Untouched(PathBuf),
}

/// Undo `install`: restore the backup byte for byte (and its mode), or delete
/// our file and the directory we created. A file changed since is left.
pub fn remove(rec: &CertsDRecord) -> Result<Removed, CertsDError> {
    if rec.sha256.is_empty() {
        return Ok(Removed::Untouched(rec.path.clone()));
    }
    if check(rec) == Check::Changed {
        return Ok(Removed::KeptChanged(rec.path.clone()));
    }
    if let Some(b) = &rec.backup {
        let data = std::fs::read(b).map_err(|e| io(b, "read the backup", e))?;
        let mode = std::fs::metadata(b)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0o644);
        write_atomic(&rec.path, &data, mode).map_err(|e| io(&rec.path, "restore it", e))?;
        std::fs::remove_file(b).map_err(|e| io(b, "remove the backup", e))?;
        return Ok(Removed::Restored(rec.path.clone()));
    }
    match std::fs::remove_file(&rec.path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(&rec.path, "remove it", e)),
    }
    if rec.created_dir
        && let Some(dir) = rec.path.parent()
    {
        // Only when empty: anything else there is not ours.
        let _ = std::fs::remove_dir(dir);
    }
    Ok(Removed::Deleted(rec.path.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_follows_docker() {
        let r = Path::new("/etc/docker/certs.d");
        assert_eq!(dir_for(r, "10.0.0.5", 443), r.join("10.0.0.5"));
        assert_eq!(dir_for(r, "10.0.0.5", 8443), r.join("10.0.0.5:8443"));
    }

    #[test]
    fn fresh_install_and_remove_leave_nothing() {
        let root = tempfile::tempdir().unwrap();
        let rec = install(root.path(), "h", 8443, b"CA1", None).unwrap();
        assert!(rec.created_dir && rec.backup.is_none());
        assert_eq!(std::fs::read(&rec.path).unwrap(), b"CA1");
        assert_eq!(check(&rec), Check::Matches);
        // Re-run and a renewed CA keep the record's meaning.
        let again = install(root.path(), "h", 8443, b"CA2", Some(&rec)).unwrap();
        assert!(again.created_dir && again.backup.is_none());
        assert_eq!(remove(&again).unwrap(), Removed::Deleted(rec.path.clone()));
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_users_ca_crt_comes_back_byte_for_byte() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("h:8443");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.crt"), b"USER\r\n").unwrap();
        std::fs::set_permissions(dir.join("ca.crt"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
        let rec = install(root.path(), "h", 8443, b"LAB", None).unwrap();
        assert!(!rec.created_dir && rec.backup.is_some());
        let again = install(root.path(), "h", 8443, b"LAB", Some(&rec)).unwrap();
        assert_eq!(again, rec);
        std::fs::write(dir.join("ca.crt"), b"OTHER").unwrap();
        assert_eq!(check(&rec), Check::Changed);
        assert_eq!(
            remove(&rec).unwrap(),
            Removed::KeptChanged(rec.path.clone())
        );
        std::fs::write(dir.join("ca.crt"), b"LAB").unwrap();
        assert_eq!(remove(&rec).unwrap(), Removed::Restored(rec.path.clone()));
        assert_eq!(std::fs::read(dir.join("ca.crt")).unwrap(), b"USER\r\n");
        let mode = std::fs::metadata(dir.join("ca.crt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    }
}
