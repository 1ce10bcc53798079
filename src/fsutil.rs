//! File writes that never leave a half-written file behind: write a temporary
//! file in the same directory, sync it, then rename it over the target.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Atomically replace `path` with `data`, with permission bits `mode`.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    write_atomic_as(path, data, mode, None)
}

/// Atomically replace a file someone else manages (daemon.json): through a
/// symlink to its final target (the link stays, as config management tools
/// leave it), keeping the target's permission bits and owner. A file that does
/// not exist yet gets `new_mode`. Returns the path that was written.
pub fn write_through(path: &Path, data: &[u8], new_mode: u32) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let target = final_target(path)?;
    match std::fs::metadata(&target) {
        Ok(m) => write_atomic_as(&target, data, m.mode() & 0o7777, Some((m.uid(), m.gid())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            write_atomic(&target, data, new_mode)?
        }
        Err(e) => return Err(e),
    }
    Ok(target)
}

/// Where `path` ends after following every symlink (the target itself may
/// not exist yet). A loop is an error, as the kernel would report it.
pub fn final_target(path: &Path) -> std::io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) => dir.join(link),
                    None => link,
                };
            }
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(p),
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("{}: too many levels of symbolic links", path.display()),
    ))
}

fn write_atomic_as(
    path: &Path,
    data: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> std::io::Result<()> {
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
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::fchown(tmp.as_file(), Some(uid), Some(gid))?;
    }
    // The umask may have narrowed the mode at creation; set it exactly (after
    // chown, which may clear set-id bits).
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The most a key, password, certificate or public key file may hold: each is
/// a few hundred bytes to a few KiB.
pub const SMALL_FILE_MAX: u64 = 64 << 10;
/// The most a config file we read (daemon.json, harbor.yml, its templates,
/// state.json) may hold.
pub const CONFIG_FILE_MAX: u64 = 4 << 20;

/// `name` as part of a file name: anything but ASCII letters, digits, `-`, `_`
/// and `.` becomes `_` (`127.0.0.1:5000` → `127.0.0.1_5000`, no `/`).
pub fn file_name_part(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Open (creating it and its directory) a file used only to hold a lock; its
/// content is never read or written.
pub fn open_lock_file(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

/// Read a whole file, but never more than `limit` bytes: a larger file (or an
/// endless one such as `/dev/zero`) is an error of kind `FileTooLarge` that
/// says the limit, found before the memory is spent.
pub fn read_limited(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let too_large = || {
        std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("larger than {limit} bytes, too large for what it should hold"),
        )
    };
    let file = std::fs::File::open(path)?;
    if file.metadata()?.len() > limit {
        return Err(too_large());
    }
    let mut data = Vec::new();
    file.take(limit + 1).read_to_end(&mut data)?;
    if data.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(data)
}

/// [`read_limited`] as UTF-8 text.
pub fn read_limited_text(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read_limited(path, limit)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
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
    fn writing_through_a_symlink_keeps_the_link_mode_and_owner() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        let target = dir.path().join("real/daemon.json");
        write_atomic(&target, b"{}", 0o600).unwrap();
        let link = dir.path().join("daemon.json");
        std::os::unix::fs::symlink("real/daemon.json", &link).unwrap();
        let owner = std::fs::metadata(&target).unwrap().uid();
        let written = write_through(&link, b"{\"a\": 1}", 0o644).unwrap();
        assert_eq!(written, dir.path().join("real/daemon.json"));
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"{\"a\": 1}");
        let m = std::fs::metadata(&target).unwrap();
        assert_eq!(m.mode() & 0o777, 0o600);
        assert_eq!(m.uid(), owner);
        // A file that is not there yet gets the mode asked for.
        let fresh = dir.path().join("new.json");
        write_through(&fresh, b"{}", 0o644).unwrap();
        assert_eq!(std::fs::metadata(&fresh).unwrap().mode() & 0o777, 0o644);
    }

    #[test]
    fn reads_are_bounded_and_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        std::fs::write(&p, vec![b'a'; 100]).unwrap();
        assert_eq!(read_limited(&p, 100).unwrap().len(), 100);
        let e = read_limited(&p, 99).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::FileTooLarge);
        assert!(e.to_string().contains("larger than 99 bytes"), "{e}");
        // An endless file stops at the limit.
        let e = read_limited(Path::new("/dev/zero"), SMALL_FILE_MAX).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::FileTooLarge);
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
