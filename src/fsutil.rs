//! File writes that never leave a half-written file behind: write a temporary
//! file in the same directory, sync it, then rename it over the target.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Atomically replace `path` with `data`, with permission bits `mode`.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".harbor-lab-")
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    // The umask may have narrowed the mode at creation; set it exactly.
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Ask the kernel to start writing `len` bytes at `offset` of `file` to disk now,
/// without waiting for them. A long download that calls this as it goes leaves
/// little for its final `sync_data` (which would otherwise write the whole file
/// after the last byte arrived). Best effort: errors are ignored.
#[cfg(target_os = "linux")]
pub fn start_writeback(file: &std::fs::File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: the descriptor stays open for the borrow of `file`, and the call
    // touches no memory of ours.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
pub fn start_writeback(_file: &std::fs::File, _offset: u64, _len: u64) {}

/// Copy `path` to `<path>.harbor-lab.bak` once: an existing backup is kept,
/// because it holds the user's original. Returns the backup path.
pub fn backup_once(path: &Path) -> std::io::Result<PathBuf> {
    let mut name = path.as_os_str().to_owned();
    name.push(".harbor-lab.bak");
    let backup = PathBuf::from(name);
    if !backup.exists() {
        let data = std::fs::read(path)?;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o7777;
        write_atomic(&backup, &data, mode)?;
    }
    Ok(backup)
}

/// Copy `path` to `<path>.bak` (replacing an older `.bak`), keeping its mode:
/// the version about to be replaced stays recoverable.
pub fn backup_previous(path: &Path) -> std::io::Result<PathBuf> {
    let mut name = path.as_os_str().to_owned();
    name.push(".bak");
    let backup = PathBuf::from(name);
    let data = std::fs::read(path)?;
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o7777;
    write_atomic(&backup, &data, mode)?;
    Ok(backup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_with_exact_mode_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        write_atomic(&p, b"one", 0o600).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        write_atomic(&p, b"two", 0o644).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
        // nothing else left in the directory
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn backup_keeps_the_first_original() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("daemon.json");
        std::fs::write(&p, b"original").unwrap();
        let b = backup_once(&p).unwrap();
        std::fs::write(&p, b"changed").unwrap();
        backup_once(&p).unwrap();
        assert_eq!(std::fs::read(b).unwrap(), b"original");
    }
}
