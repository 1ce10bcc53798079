//! A local store of what registries serve by digest: signature payloads,
//! bundle blobs and referrer manifests fetched by digest. A digest names its
//! content for good, so a `verify` that runs again (a CI loop, an admission
//! check) reads them here instead of asking the registry; what is mutable (a
//! tag, the `.sig` image, the fallback index) is always asked.
//!
//! Every read is checked against its digest again (a file that was changed or
//! cut short is a miss, and is fetched and written anew), and is bounded like
//! the network read it replaces. Writes are best effort, straight to the
//! entry's name and not synced: a torn or half-written file fails its digest
//! and is fetched and written again. Entries older than [`MAX_AGE`] are
//! removed, looked for at most once a day.
//!
//! Layout: `<dir>/sha256/<hex>` for blobs; `<dir>/manifests/<hex>` for
//! manifests, whose first line is the media type the registry gave.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::sha256_digest;
use crate::digest::sha256_hex;

/// Entries older than this are removed.
pub const MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
/// Larger blobs are not kept (a signature payload is a few hundred bytes, a
/// bundle a few KiB).
pub const KEEP_LIMIT: usize = 4 << 20;
/// How often the store looks for old entries.
const PRUNE_EVERY: Duration = Duration::from_secs(24 * 3600);

pub struct ContentStore {
    dir: PathBuf,
    now: SystemTime,
    /// Has this store looked for old entries yet (once per run at most)?
    pruned: AtomicBool,
}

impl ContentStore {
    pub fn new(dir: PathBuf, now: SystemTime) -> Self {
        ContentStore {
            dir,
            now,
            pruned: AtomicBool::new(false),
        }
    }

    fn blob_path(&self, digest: &str) -> Option<PathBuf> {
        sha256_hex(digest).map(|h| self.dir.join("sha256").join(h))
    }

    fn manifest_path(&self, digest: &str) -> Option<PathBuf> {
        sha256_hex(digest).map(|h| self.dir.join("manifests").join(h))
    }

    /// The blob `digest`, if it is here, whole and at most `limit` bytes.
    pub fn blob(&self, digest: &str, limit: usize) -> Option<Bytes> {
        let data = crate::fsutil::read_limited(&self.blob_path(digest)?, limit as u64).ok()?;
        (sha256_digest(&data) == digest).then(|| Bytes::from(data))
    }

    /// The manifest `digest` and its media type, if it is here, whole and at
    /// most `limit` bytes.
    pub fn manifest(&self, digest: &str, limit: usize) -> Option<(String, Bytes)> {
        let path = self.manifest_path(digest)?;
        let data = crate::fsutil::read_limited(&path, limit as u64 + 256).ok()?;
        let newline = data.iter().position(|&b| b == b'\n')?;
        let media_type = std::str::from_utf8(&data[..newline]).ok()?.to_string();
        let bytes = Bytes::from(data).slice(newline + 1..);
        (bytes.len() <= limit && sha256_digest(&bytes) == digest).then_some((media_type, bytes))
    }

    /// Keep the blob `digest` (whose content the caller has checked), if it
    /// is at most [`KEEP_LIMIT`] bytes.
    pub fn keep_blob(&self, digest: &str, data: &[u8]) {
        if data.len() > KEEP_LIMIT {
            return;
        }
        if let Some(path) = self.blob_path(digest) {
            self.write(&path, &[data]);
        }
    }

    /// Keep the manifest `digest` with its media type (one line, no newline in it).
    pub fn keep_manifest(&self, digest: &str, media_type: &str, data: &[u8]) {
        if media_type.contains('\n') || media_type.len() > 255 {
            return;
        }
        if let Some(path) = self.manifest_path(digest) {
            self.write(&path, &[media_type.as_bytes(), b"\n", data]);
        }
    }

    fn write(&self, path: &Path, parts: &[&[u8]]) {
        use std::io::Write;
        if !self.pruned.swap(true, Ordering::Relaxed) {
            self.prune_now_and_then();
        }
        let Some(parent) = path.parent() else { return };
        // Straight to its name: a reader that meets it half-written sees a
        // digest mismatch (a miss), and a second writer writes the same bytes.
        let create = || std::fs::File::create(path);
        let file = match create() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(parent).and_then(|()| create())
            }
            other => other,
        };
        let written = file.and_then(|mut f| parts.iter().try_for_each(|p| f.write_all(p)));
        if written.is_err() {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Remove entries older than [`MAX_AGE`], if
    /// the last look was more than a day ago.
    fn prune_now_and_then(&self) {
        let stamp = self.dir.join(".pruned");
        // How old a file is at `now`; zero for one written since (this run's).
        let age = |p: &Path| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .ok()
                .map(|t| self.now.duration_since(t).unwrap_or_default())
        };
        if age(&stamp).is_some_and(|a| a < PRUNE_EVERY)
            || std::fs::create_dir_all(&self.dir)
                .and_then(|()| std::fs::write(&stamp, b""))
                .is_err()
        {
            return;
        }
        for sub in ["sha256", "manifests"] {
            let Ok(entries) = std::fs::read_dir(self.dir.join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if age(&path).is_some_and(|a| a >= MAX_AGE) {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_was_kept_is_read_back_and_a_changed_file_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::new(dir.path().to_path_buf(), SystemTime::now());
        let data = b"payload";
        let d = sha256_digest(data);
        assert_eq!(store.blob(&d, 100), None);
        store.keep_blob(&d, data);
        assert_eq!(store.blob(&d, 100).as_deref(), Some(&data[..]));
        assert_eq!(store.blob(&d, 3), None, "over the limit");
        let m = br#"{"schemaVersion":2}"#;
        let md = sha256_digest(m);
        store.keep_manifest(&md, "application/vnd.oci.image.manifest.v1+json", m);
        let (mt, bytes) = store.manifest(&md, 1000).unwrap();
        assert_eq!(mt, "application/vnd.oci.image.manifest.v1+json");
        assert_eq!(&bytes[..], &m[..]);
        assert_eq!(store.manifest(&md, 5), None, "over the limit");
        // Changed or cut short on disk: not served.
        std::fs::write(store.blob_path(&d).unwrap(), b"payloaD").unwrap();
        assert_eq!(store.blob(&d, 100), None);
        std::fs::write(store.manifest_path(&md).unwrap(), b"x\n{").unwrap();
        assert_eq!(store.manifest(&md, 1000), None);
        // Only sha256 digests name a file.
        assert_eq!(store.blob_path("sha256:../../etc/passwd"), None);
        assert_eq!(store.blob_path(&format!("sha512:{}", "a".repeat(64))), None);
    }

    #[test]
    fn old_entries_are_pruned_once_a_day() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let store = ContentStore::new(dir.path().to_path_buf(), now);
        let old = sha256_digest(b"old");
        store.keep_blob(&old, b"old");
        // A month later, the next write prunes the old entry.
        let later = ContentStore::new(dir.path().to_path_buf(), now + MAX_AGE + PRUNE_EVERY);
        let new = sha256_digest(b"new");
        later.keep_blob(&new, b"new");
        assert_eq!(later.blob(&old, 10), None);
        assert!(later.blob(&new, 10).is_some());
        // Within the day, writes do not look again (the stamp is this run's).
        let stamp = dir.path().join(".pruned");
        let stamped = std::fs::metadata(&stamp).unwrap().modified().unwrap();
        let same_day = ContentStore::new(dir.path().to_path_buf(), stamped + PRUNE_EVERY / 2);
        same_day.keep_blob(&sha256_digest(b"more"), b"more");
        assert_eq!(
            std::fs::metadata(&stamp).unwrap().modified().unwrap(),
            stamped
        );
    }
}
