//! Resumable, checksummed, cached downloads.
//!
//! The file grows as `<name>.partial`; a later run re-hashes what is there and
//! asks for the rest with `Range` (a server that answers 200 instead of 206 is
//! restarted from zero, never appended to). Only a file whose checksum matches
//! is renamed into place. Network reads and hashing+writing run on different
//! threads, so a download costs about what the slower of the two costs.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use md5::{Digest as _, Md5};
use reqwest::{StatusCode, header};

use crate::ui::Reporter;

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("{url}: HTTP {status}; check --download-base and --harbor-version")]
    Http { url: String, status: u16 },
    #[error("{url}: {detail} (the partial download is kept; run the command again to resume)")]
    Network { url: String, detail: String },
    #[error(
        "checksum mismatch for {url}: expected {algo} {expected}, got {actual}; the download was deleted, run again to retry"
    )]
    Checksum {
        url: String,
        algo: &'static str,
        expected: String,
        actual: String,
    },
    #[error(
        "cannot fetch {url}: {detail}; check --download-base and the network, or use --installer-file on an offline machine"
    )]
    Unreachable { url: String, detail: String },
    #[error("{path}: {detail}")]
    Io { path: PathBuf, detail: String },
    #[error(
        "{url} sends more than {limit} bytes, more than any Harbor installer of this kind; \
         nothing was kept. Check --download-base (a proxy or mirror may be sending something else)"
    )]
    TooLarge { url: String, limit: u64 },
    #[error(
        "the disk holding {path} is full; the partial download was removed. Free some space \
         (or point HARBOR_LAB_CACHE at a larger disk) and run again"
    )]
    DiskFull { path: PathBuf },
    #[error("{url} lists no checksum for {asset}")]
    NoChecksum { url: String, asset: String },
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> DownloadError + '_ {
    move |e| {
        if e.kind() == std::io::ErrorKind::StorageFull {
            return DownloadError::DiskFull {
                path: path.to_path_buf(),
            };
        }
        DownloadError::Io {
            path: path.to_path_buf(),
            detail: e.to_string(),
        }
    }
}

/// What to fetch and what it must hash to.
#[derive(Debug, Clone)]
pub struct Spec {
    pub url: String,
    pub dest: PathBuf,
    pub md5: Option<String>,
    /// The most bytes the file may have: a server that announces or sends more
    /// is cut off (an endless body must not fill the disk).
    pub max_bytes: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Downloaded {
    pub path: PathBuf,
    pub md5: String,
    pub bytes: u64,
    /// Already in the cache with the right checksum: nothing was fetched.
    pub cached: bool,
    /// Bytes that an earlier, interrupted download had already fetched.
    pub resumed_from: u64,
}

/// Parse an `md5sum` file (`<hex>  <name>` lines) and find `asset`.
pub fn md5_for(md5sum: &str, asset: &str) -> Option<String> {
    md5sum.lines().find_map(|l| {
        let mut parts = l.split_whitespace();
        let sum = parts.next()?;
        let name = parts.next()?.trim_start_matches('*');
        (name == asset && sum.len() == 32 && sum.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| sum.to_ascii_lowercase())
    })
}

/// Fetch a small text file (the `md5sum` list), at most 64 KiB.
pub async fn fetch_text(client: &reqwest::Client, url: &str) -> Result<String, DownloadError> {
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| DownloadError::Unreachable {
            url: url.to_string(),
            detail: crate::http::root_cause(&e),
        })?;
    if !resp.status().is_success() {
        return Err(DownloadError::Http {
            url: url.to_string(),
            status: resp.status().as_u16(),
        });
    }
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk.map_err(|e| net(url, &e))?);
        if body.len() > 64 << 10 {
            return Err(DownloadError::Network {
                url: url.to_string(),
                detail: "the checksum file is larger than 64 KiB".into(),
            });
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

fn net(url: &str, e: &reqwest::Error) -> DownloadError {
    DownloadError::Network {
        url: url.to_string(),
        detail: crate::http::root_cause(e),
    }
}

struct Hashes {
    md5: Md5,
}

impl Hashes {
    fn new() -> Self {
        Hashes { md5: Md5::new() }
    }
    fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
    }
    /// The md5, hex.
    fn finish(self) -> String {
        hex::encode(self.md5.finalize())
    }
}

fn hash_file(path: &Path, hashes: &mut Hashes) -> std::io::Result<u64> {
    hash_prefix(path, u64::MAX, hashes)
}

/// The md5 (hex) of a whole file.
pub fn file_md5(path: &Path) -> std::io::Result<String> {
    let mut h = Hashes::new();
    hash_file(path, &mut h)?;
    Ok(h.finish())
}

/// Hash the first `len` bytes of `path` (all of it when shorter). Bounded so a
/// file that another thread is appending to is never hashed past `len`.
fn hash_prefix(path: &Path, len: u64, hashes: &mut Hashes) -> std::io::Result<u64> {
    let mut f = std::fs::File::open(path)?.take(len);
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        hashes.update(&buf[..n]);
        total += n as u64;
    }
}

fn check(spec: &Spec, md5: &str) -> Result<(), DownloadError> {
    if let Some(expected) = &spec.md5
        && !expected.eq_ignore_ascii_case(md5)
    {
        return Err(DownloadError::Checksum {
            url: spec.url.clone(),
            algo: "md5",
            expected: expected.clone(),
            actual: md5.to_string(),
        });
    }
    Ok(())
}

fn partial_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

/// Download `spec` (or reuse a verified cached copy), retrying with backoff.
pub async fn download(
    client: &reqwest::Client,
    ui: &Reporter,
    spec: &Spec,
    attempts: u32,
) -> Result<Downloaded, DownloadError> {
    let dest = &spec.dest;
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    // One download per cache entry at a time: a second run waits for the first
    // and then finds the verified file (they would otherwise share `.partial`).
    let _lock = lock_entry(ui, dest).await?;
    if dest.exists() {
        let mut h = Hashes::new();
        let bytes = hash_file(dest, &mut h).map_err(io_err(dest))?;
        let md5 = h.finish();
        if check(spec, &md5).is_ok() && spec.md5.is_some() {
            return Ok(Downloaded {
                path: dest.clone(),
                md5,
                bytes,
                cached: true,
                resumed_from: 0,
            });
        }
        // A cached file that does not match is not ours to trust: fetch again.
        std::fs::remove_file(dest).map_err(io_err(dest))?;
    }
    let mut delay = Duration::from_millis(500);
    for attempt in 1..=attempts.max(1) {
        match fetch_once(client, ui, spec).await {
            Ok(d) => return Ok(d),
            Err(e) => {
                let retry = matches!(e, DownloadError::Network { .. })
                    || matches!(e, DownloadError::Http { status, .. } if status >= 500);
                if !retry || attempt == attempts {
                    return Err(e);
                }
                ui.warn(&format!("{e}; retrying in {:.1}s", delay.as_secs_f32()));
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
    unreachable!("the loop returns on its last attempt")
}

/// Lock the directory that holds `dest` (flock on the directory itself, so no
/// lock file is left in the cache), waiting with a line saying so while another
/// run holds it. The lock goes with the returned handle.
async fn lock_entry(ui: &Reporter, dest: &Path) -> Result<std::fs::File, DownloadError> {
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let handle = std::fs::File::open(&dir).map_err(io_err(&dir))?;
    match handle.try_lock() {
        Ok(()) => return Ok(handle),
        Err(std::fs::TryLockError::WouldBlock) => {}
        Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&dir)(e)),
    }
    ui.status(
        "Waiting",
        &format!(
            "for another harbor-lab run downloading into {}",
            dir.display()
        ),
    );
    tokio::task::spawn_blocking(move || handle.lock().map(|()| handle))
        .await
        .map_err(|e| io_err(&dir)(std::io::Error::other(e)))?
        .map_err(io_err(&dir))
}

fn too_large(spec: &Spec, partial: &Path) -> DownloadError {
    let _ = std::fs::remove_file(partial);
    DownloadError::TooLarge {
        url: spec.url.clone(),
        limit: spec.max_bytes,
    }
}

/// One attempt, resuming from what an earlier attempt left in `.partial`.
async fn fetch_once(
    client: &reqwest::Client,
    ui: &Reporter,
    spec: &Spec,
) -> Result<Downloaded, DownloadError> {
    let partial = partial_path(&spec.dest);
    let existing = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
    let mut req = client.get(&spec.url);
    if existing > 0 {
        req = req.header(header::RANGE, format!("bytes={existing}-"));
    }
    let resp = req.send().await.map_err(|e| net(&spec.url, &e))?;
    let status = resp.status();
    let resume = match status {
        StatusCode::PARTIAL_CONTENT if existing > 0 => true,
        s if s.is_success() => false,
        StatusCode::RANGE_NOT_SATISFIABLE => {
            // The partial file is as long as (or longer than) the resource: start over.
            let _ = std::fs::remove_file(&partial);
            return Err(DownloadError::Network {
                url: spec.url.clone(),
                detail: "the server refused to resume; the partial file was removed".into(),
            });
        }
        s => {
            return Err(DownloadError::Http {
                url: spec.url.clone(),
                status: s.as_u16(),
            });
        }
    };
    let offset = if resume { existing } else { 0 };
    let total = resp.content_length().map(|l| l + offset);
    if total.is_some_and(|t| t > spec.max_bytes) {
        return Err(too_large(spec, &partial));
    }
    let bar = ui.bar_from(
        total,
        spec.dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .as_deref()
            .unwrap_or("download"),
        offset,
    );

    // Two threads: one hashes (first what a resumed file already holds), one
    // writes. MD5 is sequential and the slowest part, so it gets a core of its own.
    // At most QUEUE chunks wait for each thread (chunks are at most a few
    // hundred KiB), so memory stays bounded however slow the disk or hash is.
    const QUEUE: usize = 8;
    let (hash_tx, hash_rx) = std::sync::mpsc::sync_channel::<bytes::Bytes>(QUEUE);
    let (write_tx, write_rx) = std::sync::mpsc::sync_channel::<bytes::Bytes>(QUEUE);
    let partial_h = partial.clone();
    let hasher = std::thread::spawn(move || -> std::io::Result<Hashes> {
        let mut hashes = Hashes::new();
        if resume {
            // Exactly the bytes that were there before this attempt: the writer
            // thread appends to the same file meanwhile.
            let got = hash_prefix(&partial_h, existing, &mut hashes)?;
            if got != existing {
                return Err(std::io::Error::other(
                    "the partial download shrank while resuming",
                ));
            }
        }
        while let Ok(chunk) = hash_rx.recv() {
            hashes.update(&chunk);
        }
        Ok(hashes)
    });
    let partial_w = partial.clone();
    let writer = std::thread::spawn(move || -> std::io::Result<u64> {
        let (file, mut written) = if resume {
            let f = std::fs::OpenOptions::new().append(true).open(&partial_w)?;
            let len = f.metadata()?.len();
            (f, len)
        } else {
            (std::fs::File::create(&partial_w)?, 0)
        };
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        // Start writing to disk every WRITEBACK bytes, so that the final sync has
        // little left to do (it used to add half a second per GiB at the end).
        const WRITEBACK: u64 = 16 << 20;
        let mut synced = written;
        while let Ok(chunk) = write_rx.recv() {
            out.write_all(&chunk)?;
            written += chunk.len() as u64;
            if written - synced >= WRITEBACK {
                out.flush()?;
                crate::fsutil::start_writeback(out.get_ref(), synced, written - synced);
                synced = written;
            }
        }
        out.flush()?;
        out.get_ref().sync_data()?;
        Ok(written)
    });

    let mut stream = resp.bytes_stream();
    let mut net_error = None;
    let mut received = offset;
    let mut over_limit = false;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => {
                received += c.len() as u64;
                if received > spec.max_bytes {
                    over_limit = true;
                    break;
                }
                bar.inc(c.len() as u64);
                // Bytes clones share the buffer; both threads see the same chunk.
                if hash_tx.send(c.clone()).is_err() || write_tx.send(c).is_err() {
                    break;
                }
            }
            Err(e) => {
                net_error = Some(net(&spec.url, &e));
                break;
            }
        }
    }
    drop(hash_tx);
    drop(write_tx);
    let panicked = |_| io_err(&partial)(std::io::Error::other("a download thread panicked"));
    let written = writer.join().map_err(panicked)?.map_err(|e| {
        let e = io_err(&partial)(e);
        if matches!(e, DownloadError::DiskFull { .. }) {
            // Keeping it would keep the disk full; what is left cannot finish anyway.
            let _ = std::fs::remove_file(&partial);
        }
        e
    });
    let hashes = hasher.join().map_err(panicked)?.map_err(io_err(&partial));
    bar.finish_and_clear();
    let written = written?;
    let hashes = hashes?;
    if over_limit {
        return Err(too_large(spec, &partial));
    }
    if let Some(e) = net_error {
        return Err(e);
    }
    if let Some(t) = total
        && written < t
    {
        return Err(DownloadError::Network {
            url: spec.url.clone(),
            detail: format!("the connection closed after {written} of {t} bytes"),
        });
    }
    let md5 = hashes.finish();
    if let Err(e) = check(spec, &md5) {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, &spec.dest).map_err(io_err(&spec.dest))?;
    Ok(Downloaded {
        path: spec.dest.clone(),
        md5,
        bytes: written,
        cached: false,
        resumed_from: offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resuming_hashes_only_what_was_there_before() {
        // The writer thread appends to the partial file while the hasher reads
        // it: the hasher must stop at the length the attempt started with.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.partial");
        std::fs::write(&p, b"hello world, and then some appended bytes").unwrap();
        let mut h = Hashes::new();
        assert_eq!(hash_prefix(&p, 11, &mut h).unwrap(), 11);
        let mut expected = Hashes::new();
        expected.update(b"hello world");
        assert_eq!(h.finish(), expected.finish());
        let mut all = Hashes::new();
        assert_eq!(hash_file(&p, &mut all).unwrap(), 41);
    }

    #[test]
    fn md5sum_lines() {
        let f = "0123456789abcdef0123456789abcdef  harbor-online-installer-v2.7.1.tgz\nffffffffffffffffffffffffffffffff  other.tgz\n";
        assert_eq!(
            md5_for(f, "harbor-online-installer-v2.7.1.tgz").as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(md5_for(f, "missing.tgz"), None);
        assert_eq!(md5_for("zz  x.tgz", "x.tgz"), None);
    }
}
