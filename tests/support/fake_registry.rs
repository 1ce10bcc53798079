//! A fake registry on 127.0.0.1: fixed answers per path, and the hostile
//! answers a real registry never gives (garbage, endless or lying bodies).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone)]
pub enum Reply {
    /// 200 with this content type and body.
    Body(&'static str, Vec<u8>),
    /// This status with a body.
    Status(u16, String),
    /// Bytes that are not HTTP at all.
    Garbage,
    /// A 200 that never stops (chunked, unbounded).
    Endless,
    /// A 200 that claims an enormous Content-Length.
    HugeLength,
}

pub struct FakeRegistry {
    pub addr: String,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeRegistry {
    /// Every request served so far, as "METHOD /path?query STATUS", in arrival
    /// order (token requests and 401 challenges included).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// What the fake registry asks of clients before it serves `/v2/...`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum FakeAuth {
    /// Nothing: every request is served.
    Anonymous,
    /// The Docker token flow, as Harbor does it: 401 with a `Bearer` challenge
    /// whose realm is this server's `/service/token`, which hands out the token
    /// `fake-token` for any scopes; requests must carry it.
    Bearer,
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serve `routes` (exact paths, queries ignored) on 127.0.0.1; anything else is
/// `fallback`, and `/v2/` answers 200 unless routed.
pub async fn fake_registry(routes: HashMap<String, Reply>, fallback: Reply) -> FakeRegistry {
    fake_registry_with(routes, fallback, FakeAuth::Anonymous).await
}

/// [`fake_registry`], asking for credentials as `auth` says.
pub async fn fake_registry_with(
    routes: HashMap<String, Reply>,
    fallback: Reply,
    auth: FakeAuth,
) -> FakeRegistry {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    fake_registry_on(listener, routes, fallback, auth)
}

/// [`fake_registry_with`] on a listener bound already (routes whose contents
/// name the registry's address).
pub fn fake_registry_on(
    listener: tokio::net::TcpListener,
    routes: HashMap<String, Reply>,
    fallback: Reply,
    auth: FakeAuth,
) -> FakeRegistry {
    let addr = listener.local_addr().unwrap().to_string();
    let routes = Arc::new(routes);
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = requests.clone();
    let realm = format!("http://{addr}/service/token");
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let routes = routes.clone();
            let fallback = fallback.clone();
            let log = log.clone();
            let realm = realm.clone();
            tokio::spawn(async move {
                let Some(head) = read_head(&mut sock).await else {
                    return;
                };
                let mut parts = head.split_whitespace();
                let method = parts.next().unwrap_or("").to_string();
                let target = parts.next().unwrap_or("/");
                let path = target.split('?').next().unwrap_or("/").to_string();
                let served = format!("{method} {target}");
                let authorized = head
                    .lines()
                    .any(|l| l.eq_ignore_ascii_case("authorization: bearer fake-token"));
                if auth == FakeAuth::Bearer {
                    if path == "/service/token" {
                        log.lock().unwrap().push(format!("{served} 200"));
                        let token = br#"{"token":"fake-token"}"#.to_vec();
                        let _ = answer(&mut sock, &method, Reply::Body("application/json", token))
                            .await;
                        return;
                    }
                    if !authorized {
                        log.lock().unwrap().push(format!("{served} 401"));
                        let _ = challenge(&mut sock, &realm).await;
                        return;
                    }
                }
                let reply = match routes.get(&path) {
                    Some(r) => r.clone(),
                    None if path == "/v2/" => Reply::Body("application/json", b"{}".to_vec()),
                    None => fallback,
                };
                let status = match &reply {
                    Reply::Status(code, _) => *code,
                    _ => 200,
                };
                log.lock().unwrap().push(format!("{served} {status}"));
                let _ = answer(&mut sock, &method, reply).await;
            });
        }
    });
    FakeRegistry {
        addr,
        requests,
        task,
    }
}

/// A 401 with the registry's Bearer challenge, as distribution and Harbor send it.
async fn challenge(sock: &mut tokio::net::TcpStream, realm: &str) -> std::io::Result<()> {
    let body = r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
    let h = format!(
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nWWW-Authenticate: Bearer realm=\"{realm}\",service=\"fake-registry\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(h.as_bytes()).await?;
    sock.shutdown().await
}

/// distribution's answer for a manifest or blob it does not have.
pub fn manifest_unknown() -> Reply {
    Reply::Status(
        404,
        r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#.into(),
    )
}

/// Read an HTTP request head (up to the blank line, at most 64 KiB).
pub(super) async fn read_head(sock: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65536 {
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

async fn answer(
    sock: &mut tokio::net::TcpStream,
    method: &str,
    reply: Reply,
) -> std::io::Result<()> {
    let head_only = method == "HEAD";
    match reply {
        Reply::Body(ct, body) => {
            let h = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nDocker-Distribution-Api-Version: registry/2.0\r\nConnection: close\r\n\r\n",
                body.len()
            );
            sock.write_all(h.as_bytes()).await?;
            if !head_only {
                sock.write_all(&body).await?;
            }
        }
        Reply::Status(code, body) => {
            let h = format!(
                "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            sock.write_all(h.as_bytes()).await?;
            if !head_only {
                sock.write_all(body.as_bytes()).await?;
            }
        }
        Reply::Garbage => {
            sock.write_all(b"\x00\x01 this is not HTTP \xff\xfe\r\n\r\n")
                .await?;
        }
        Reply::Endless => {
            sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
                .await?;
            let block = vec![b'x'; 64 * 1024];
            let framed = [
                format!("{:x}\r\n", block.len()).into_bytes(),
                block,
                b"\r\n".to_vec(),
            ]
            .concat();
            // Bounded so the test cannot run forever: 256 MiB at most.
            for _ in 0..4096 {
                sock.write_all(&framed).await?;
            }
        }
        Reply::HugeLength => {
            sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 10737418240\r\nConnection: close\r\n\r\n{")
                .await?;
        }
    }
    sock.shutdown().await
}

/// Routes that serve an image manifest and a cosign `.sig` image made of
/// `layers` (media type, payload, annotations) in repository `repo`.
/// Returns the routes and the image digest.
pub fn signed_image_routes(
    repo: &str,
    manifest: &[u8],
    layers: &[(String, Vec<u8>, std::collections::BTreeMap<String, String>)],
) -> (HashMap<String, Reply>, String) {
    use harbor_lab::registry::sha256_digest;
    let digest = sha256_digest(manifest);
    let media_type = serde_json::from_slice::<serde_json::Value>(manifest)
        .ok()
        .and_then(|v| v["mediaType"].as_str().map(str::to_string))
        .unwrap_or_else(|| "application/vnd.docker.distribution.manifest.v2+json".into());
    let media_type: &'static str = Box::leak(media_type.into_boxed_str());
    let mut routes = HashMap::new();
    routes.insert(
        format!("/v2/{repo}/manifests/{digest}"),
        Reply::Body(media_type, manifest.to_vec()),
    );
    let mut config = harbor_lab::registry::manifest::ConfigFile::empty();
    let mut descs = Vec::new();
    for (mt, payload, ann) in layers {
        let d = sha256_digest(payload);
        config.append_layer(&d);
        routes.insert(
            format!("/v2/{repo}/blobs/{d}"),
            Reply::Body("application/octet-stream", payload.clone()),
        );
        descs.push(serde_json::json!({"mediaType": mt, "size": payload.len(), "digest": d, "annotations": ann}));
    }
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let config_digest = sha256_digest(&config_bytes);
    routes.insert(
        format!("/v2/{repo}/blobs/{config_digest}"),
        Reply::Body("application/octet-stream", config_bytes.clone()),
    );
    let sig = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": config_bytes.len(), "digest": config_digest},
        "layers": descs,
    });
    let tag = format!("sha256-{}.sig", &digest["sha256:".len()..]);
    routes.insert(
        format!("/v2/{repo}/manifests/{tag}"),
        Reply::Body(
            "application/vnd.oci.image.manifest.v1+json",
            serde_json::to_vec(&sig).unwrap(),
        ),
    );
    (routes, digest)
}
