//! A loopback file server for installer releases: honours Range, records what
//! it was asked, and misbehaves for one path on demand (cut, endless, huge,
//! held).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;

use super::fake_registry::read_head;

pub struct FileServer {
    pub addr: String,
    pub log: Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FileServer {
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

/// The files directly in `dir`, as the server's paths `<prefix>/<name>`.
pub fn dir_files(dir: &std::path::Path, prefix: &str) -> HashMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                format!("{prefix}/{}", e.file_name().to_string_lossy()),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

pub async fn file_server(files: HashMap<String, Vec<u8>>, cut_first: Option<String>) -> FileServer {
    file_server_with(files, cut_first.map(Special::CutFirst)).await
}

/// How the file server misbehaves for one path.
#[derive(Clone, Debug)]
pub enum Special {
    /// The first response is cut halfway (the connection drops).
    CutFirst(String),
    /// A 200 with a chunked body that does not end (bounded at 192 MiB so a
    /// broken client cannot make the test run forever).
    Endless(String),
    /// A 200 announcing 10 GiB, then a few bytes.
    HugeLength(String),
    /// The first response sends half, then waits until the path is asked for
    /// again (at most 5 s), then sends the rest: two clients overlap for sure.
    HoldFirst(String),
}

pub async fn file_server_with(
    files: HashMap<String, Vec<u8>>,
    special: Option<Special>,
) -> FileServer {
    file_server_on("127.0.0.1:0", files, special).await
}

/// [`file_server_with`] on a given loopback address (a journal that names a
/// URL needs its port again).
pub async fn file_server_on(
    addr: &str,
    files: HashMap<String, Vec<u8>>,
    special: Option<Special>,
) -> FileServer {
    // A fixed port in the kernel's range for outgoing connections can be held
    // for a while by another test's connection (scripts/test.sh keeps the one
    // the tests use out of that range): wait for it rather than fail at once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let listener = loop {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => break l,
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            Err(e) => panic!("{addr} must be free: {e}"),
        }
    };
    let addr = listener.local_addr().unwrap().to_string();
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let files = Arc::new(files);
    let special = Arc::new(std::sync::Mutex::new(special));
    let again = Arc::new(tokio::sync::Notify::new());
    let log2 = log.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (files, log, special, again) =
                (files.clone(), log2.clone(), special.clone(), again.clone());
            tokio::spawn(async move {
                let Some(head) = read_head(&mut sock).await else {
                    return;
                };
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let range = head
                    .lines()
                    .find(|l| l.to_ascii_lowercase().starts_with("range:"))
                    .and_then(|l| l.split("bytes=").nth(1))
                    .and_then(|r| r.trim().trim_end_matches('-').parse::<usize>().ok());
                log.lock().unwrap().push(match range {
                    Some(r) => format!("GET {path} range={r}"),
                    None => format!("GET {path}"),
                });
                again.notify_waiters();
                // The special behaviour for this path, once (Endless and
                // HugeLength every time).
                let mine = {
                    let mut s = special.lock().unwrap();
                    match s.clone() {
                        Some(Special::Endless(p) | Special::HugeLength(p)) if p == path => {
                            s.clone()
                        }
                        Some(Special::CutFirst(p) | Special::HoldFirst(p)) if p == path => s.take(),
                        _ => None,
                    }
                };
                match mine {
                    Some(Special::Endless(_)) => {
                        let _ = sock.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").await;
                        let block = vec![b'x'; 64 * 1024];
                        let framed = [
                            format!("{:x}\r\n", block.len()).into_bytes(),
                            block,
                            b"\r\n".to_vec(),
                        ]
                        .concat();
                        for _ in 0..3072 {
                            if sock.write_all(&framed).await.is_err() {
                                return;
                            }
                        }
                        return;
                    }
                    Some(Special::HugeLength(_)) => {
                        let _ = sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10737418240\r\nConnection: close\r\n\r\nxxxx").await;
                        return;
                    }
                    _ => {}
                }
                let Some(body) = files.get(&path) else {
                    let _ = sock.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
                    return;
                };
                let start = range.unwrap_or(0).min(body.len());
                let part = &body[start..];
                let status = if range.is_some() {
                    format!(
                        "206 Partial Content\r\nContent-Range: bytes {start}-{}/{}",
                        body.len().saturating_sub(1),
                        body.len()
                    )
                } else {
                    "200 OK".to_string()
                };
                let h = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n",
                    part.len()
                );
                let _ = sock.write_all(h.as_bytes()).await;
                match mine {
                    Some(Special::CutFirst(_)) => {
                        let _ = sock.write_all(&part[..part.len() / 2]).await;
                        // Drop the connection halfway.
                        return;
                    }
                    Some(Special::HoldFirst(_)) => {
                        let half = part.len() / 2;
                        let _ = sock.write_all(&part[..half]).await;
                        let _ = sock.flush().await;
                        let _ = tokio::time::timeout(
                            std::time::Duration::from_secs(5),
                            again.notified(),
                        )
                        .await;
                        let _ = sock.write_all(&part[half..]).await;
                    }
                    _ => {
                        let _ = sock.write_all(part).await;
                    }
                }
                let _ = sock.shutdown().await;
            });
        }
    });
    FileServer { addr, log, task }
}
