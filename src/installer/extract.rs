//! Safe extraction of an installer tarball into the workdir.
//!
//! Every entry is checked before anything is written: no absolute paths, no
//! `..`, no link that points outside, no path through an earlier symlink, no
//! devices or fifos, and a bound on the decompressed size (gzip bombs). The
//! archive is unpacked into a temporary directory inside the workdir and moved
//! into place only when all of it was good, so a refusal leaves nothing behind.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("{archive}: refusing entry {entry:?}: {reason}; nothing was extracted")]
    UnsafeEntry {
        archive: PathBuf,
        entry: String,
        reason: String,
    },
    #[error(
        "{archive}: decompresses to more than {limit} bytes; refusing it as a possible gzip bomb"
    )]
    TooLarge { archive: PathBuf, limit: u64 },
    #[error("{archive}: not a Harbor installer: it has no harbor/install.sh")]
    NotInstaller { archive: PathBuf },
    #[error("{archive}: cannot read the archive: {detail} (truncated or not a .tgz?)")]
    Corrupt { archive: PathBuf, detail: String },
    #[error("{path}: {detail}")]
    Io { path: PathBuf, detail: String },
}

/// The decompressed-size bound for an archive of `compressed` bytes.
pub fn size_limit(compressed: u64) -> u64 {
    (compressed.saturating_mul(50)).clamp(256 << 20, 16 << 30)
}

/// A reader that fails once more than `limit` bytes went through it.
struct Limited<R> {
    inner: R,
    left: u64,
    tripped: std::rc::Rc<std::cell::Cell<bool>>,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            self.tripped.set(true);
            return Err(std::io::Error::other("decompressed size limit exceeded"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn normal_path(raw: &Path) -> Result<PathBuf, String> {
    let mut out = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => return Err("the path contains '..'".into()),
            Component::RootDir | Component::Prefix(_) => {
                return Err("the path is absolute".into());
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err("the path is empty".into());
    }
    Ok(out)
}

/// Resolve `target` (a link target) relative to `base` inside the archive
/// root, failing if it leaves the root.
fn inside(base: &Path, target: &Path) -> Result<PathBuf, String> {
    if target.is_absolute() {
        return Err(format!("the link target {} is absolute", target.display()));
    }
    let mut out: Vec<&std::ffi::OsStr> = base.components().map(|c| c.as_os_str()).collect();
    for c in target.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                if out.pop().is_none() {
                    return Err(format!(
                        "the link target {} points outside the archive",
                        target.display()
                    ));
                }
            }
            _ => {
                return Err(format!(
                    "the link target {} is not relative",
                    target.display()
                ));
            }
        }
    }
    Ok(out.iter().collect())
}

/// Extract `archive` (gzip tar) so that its `harbor/` ends up at `dest`
/// (`<workdir>/harbor`). Files already in `dest` listed in `keep` (e.g. the
/// user's harbor.yml) are carried over. Returns the number of entries.
pub fn extract_installer(
    archive: &Path,
    dest: &Path,
    keep: &[&str],
) -> Result<usize, ExtractError> {
    let workdir = dest.parent().unwrap_or(Path::new("."));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e: std::io::Error| ExtractError::Io {
            path: path.clone(),
            detail: e.to_string(),
        }
    };
    let file = std::fs::File::open(archive).map_err(io(archive))?;
    let compressed = file.metadata().map_err(io(archive))?.len();
    let limit = size_limit(compressed);
    let staging = tempfile::Builder::new()
        .prefix(".extract-")
        .tempdir_in(workdir)
        .map_err(io(workdir))?;
    let tripped = std::rc::Rc::new(std::cell::Cell::new(false));
    let limited = Limited {
        inner: flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file)),
        left: limit,
        tripped: tripped.clone(),
    };
    let mut tar = tar::Archive::new(limited);
    tar.set_preserve_ownerships(false);
    tar.set_preserve_permissions(true);
    tar.set_unpack_xattrs(false);
    let corrupt = |detail: String| ExtractError::Corrupt {
        archive: archive.to_path_buf(),
        detail,
    };
    let unsafe_entry = |entry: &str, reason: String| ExtractError::UnsafeEntry {
        archive: archive.to_path_buf(),
        entry: entry.to_string(),
        reason,
    };
    let mut symlinks: HashSet<PathBuf> = HashSet::new();
    let mut count = 0;
    let entries = tar.entries().map_err(|e| corrupt(e.to_string()))?;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                return Err(limit_or(e, archive, limit, tripped.get(), corrupt));
            }
        };
        let raw = entry
            .path()
            .map_err(|e| corrupt(e.to_string()))?
            .into_owned();
        let shown = raw.display().to_string();
        let path = normal_path(&raw).map_err(|r| unsafe_entry(&shown, r))?;
        for ancestor in path.ancestors().skip(1) {
            if symlinks.contains(ancestor) {
                return Err(unsafe_entry(
                    &shown,
                    format!("it goes through the symlink {}", ancestor.display()),
                ));
            }
        }
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::Regular | tar::EntryType::Directory | tar::EntryType::Continuous => {}
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(|e| corrupt(e.to_string()))?
                    .ok_or_else(|| unsafe_entry(&shown, "a symlink without a target".into()))?;
                let base = path.parent().unwrap_or(Path::new(""));
                inside(base, &target).map_err(|r| unsafe_entry(&shown, r))?;
                symlinks.insert(path.clone());
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(|e| corrupt(e.to_string()))?
                    .ok_or_else(|| unsafe_entry(&shown, "a hard link without a target".into()))?;
                // Hard link targets are archive paths, relative to the root.
                inside(Path::new(""), &target).map_err(|r| unsafe_entry(&shown, r))?;
            }
            tar::EntryType::XHeader | tar::EntryType::XGlobalHeader => continue,
            other => {
                return Err(unsafe_entry(
                    &shown,
                    format!("entries of type {other:?} (devices, fifos, ...) are not allowed"),
                ));
            }
        }
        let unpacked = entry
            .unpack_in(staging.path())
            .map_err(|e| limit_or(e, archive, limit, tripped.get(), corrupt))?;
        if !unpacked {
            return Err(unsafe_entry(
                &shown,
                "it would land outside the workdir".into(),
            ));
        }
        count += 1;
    }
    // Read to the end so a truncated gzip trailer is noticed.
    let mut rest = tar.into_inner();
    std::io::copy(&mut rest, &mut std::io::sink())
        .map_err(|e| limit_or(e, archive, limit, tripped.get(), corrupt))?;

    let extracted = staging.path().join("harbor");
    let install = extracted.join("install.sh");
    if !std::fs::symlink_metadata(&install).is_ok_and(|m| m.is_file()) {
        return Err(ExtractError::NotInstaller {
            archive: archive.to_path_buf(),
        });
    }
    for name in keep {
        let old = dest.join(name);
        if old.exists() {
            std::fs::copy(&old, extracted.join(name)).map_err(io(&old))?;
        }
    }
    if dest.exists() {
        let aside = staging.path().join("previous");
        std::fs::rename(dest, &aside).map_err(io(dest))?;
    }
    std::fs::rename(&extracted, dest).map_err(io(dest))?;
    Ok(count)
}

fn limit_or(
    e: std::io::Error,
    archive: &Path,
    limit: u64,
    tripped: bool,
    corrupt: impl Fn(String) -> ExtractError,
) -> ExtractError {
    if tripped {
        ExtractError::TooLarge {
            archive: archive.to_path_buf(),
            limit,
        }
    } else {
        corrupt(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets_must_stay_inside() {
        assert!(inside(Path::new("harbor"), Path::new("common.sh")).is_ok());
        assert!(inside(Path::new("harbor/a"), Path::new("../b")).is_ok());
        assert!(inside(Path::new("harbor"), Path::new("../../etc/passwd")).is_err());
        assert!(inside(Path::new(""), Path::new("/etc/passwd")).is_err());
        assert!(normal_path(Path::new("./harbor/x")).is_ok());
        assert!(normal_path(Path::new("harbor/../../x")).is_err());
        assert!(normal_path(Path::new("/etc/x")).is_err());
    }
}
