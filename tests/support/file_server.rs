//! A loopback file server for installer releases: honours Range, can cut the
//! first response for one path halfway, and records what it was asked.

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

pub async fn file_server(files: HashMap<String, Vec<u8>>, cut_first: Option<String>) -> FileServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let files = Arc::new(files);
    let cut = Arc::new(std::sync::Mutex::new(cut_first));
    let log2 = log.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (files, log, cut) = (files.clone(), log2.clone(), cut.clone());
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
                let cut_now = {
                    let mut c = cut.lock().unwrap();
                    if c.as_deref() == Some(path.as_str()) {
                        *c = None;
                        true
                    } else {
                        false
                    }
                };
                if cut_now {
                    let _ = sock.write_all(&part[..part.len() / 2]).await;
                    // Drop the connection halfway.
                    return;
                }
                let _ = sock.write_all(part).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    FileServer { addr, log, task }
}
