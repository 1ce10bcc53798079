//! A TCP proxy on 127.0.0.1 in front of another loopback server that holds
//! back every manifest upload for a while: a signer that is slow between its
//! read of a tag and its write, as one on a loaded machine or a far network is.
//! It also notes the request line of each request that passes (with no hold, it
//! is a request log in front of a real registry).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct SlowProxy {
    pub addr: String,
    held: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SlowProxy {
    /// Manifest uploads held back so far (counted when the hold begins).
    pub fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    /// The request lines seen so far (`GET /v2/...`), in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Forward to `upstream` (host:port on loopback); a client write that starts a
/// `PUT …/manifests/…` request waits `hold` before it is passed on.
pub async fn slow_proxy(upstream: &str, hold: Duration) -> SlowProxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let held = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (upstream, counter, log) = (upstream.to_string(), held.clone(), requests.clone());
    let task = tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (upstream, counter, log) = (upstream.clone(), counter.clone(), log.clone());
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let head = &buf[..n.min(512)];
                        // A read that starts a request (the client writes each
                        // request whole; bodies here are uploads, not logged).
                        let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
                        if line.ends_with(b" HTTP/1.1\r") {
                            let line = String::from_utf8_lossy(&line[..line.len() - 10]);
                            log.lock().unwrap().push(line.into_owned());
                        }
                        if head.starts_with(b"PUT ")
                            && head.windows(11).any(|w| w == b"/manifests/")
                        {
                            counter.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(hold).await;
                        }
                        if sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = sw.shutdown().await;
                };
                let down = async {
                    let _ = tokio::io::copy(&mut sr, &mut cw).await;
                    let _ = cw.shutdown().await;
                };
                tokio::join!(up, down);
            });
        }
    });
    SlowProxy {
        addr,
        held,
        requests,
        task,
    }
}
