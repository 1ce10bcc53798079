//! Shared test fixtures: the real peers and services CI starts (dockerd,
//! docker-registry, cosign, skopeo), images made through dockerd, and a
//! scriptable fake registry for answers a real one never gives.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

fn cache() -> String {
    env_or("HARBOR_LAB_CACHE", "/var/cache/harbor-lab")
}

/// The loopback docker-registry started by scripts/services.sh.
pub fn registry() -> String {
    env_or("HARBOR_LAB_TEST_REGISTRY", "127.0.0.1:5055")
}

fn tool(var: &str, default: String) -> PathBuf {
    let p = PathBuf::from(env_or(var, &default));
    assert!(
        p.exists(),
        "{} not found at {}: run scripts/test.sh (it fetches the peers) or set {var}",
        p.file_name().unwrap_or_default().to_string_lossy(),
        p.display()
    );
    p
}

pub fn cosign_path() -> PathBuf {
    tool(
        "HARBOR_LAB_COSIGN",
        format!("{}/peers/root/usr/bin/cosign", cache()),
    )
}

pub fn skopeo_path() -> PathBuf {
    tool("HARBOR_LAB_SKOPEO", format!("{}/peers/skopeo", cache()))
}

pub fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// A lower-case name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The output of a finished command, decoded.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Run a command with no stdin (so a prompt can never wait for input).
pub fn run(cmd: &mut Command) -> Run {
    Run::from(
        cmd.stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {cmd:?}: {e}")),
    )
}

/// Run a command with no stdin, killing it (and failing the test) when it has
/// not finished within `secs` seconds.
pub fn run_within(cmd: &mut Command, secs: u64) -> Run {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        Ok(out) => Run::from(out.unwrap()),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{cmd:?} did not finish within {secs} s");
        }
    }
}

/// Our binary, with a clean environment for secrets and a private HOME.
pub fn harbor_lab(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_harbor-lab"));
    c.env_remove("COSIGN_PASSWORD")
        .env_remove("REGISTRY_PASSWORD")
        .env_remove("DOCKER_CONFIG")
        .env("HOME", home)
        .current_dir(home);
    c
}

/// Our binary, set up to install the fixture: its own download cache, and the
/// environment the fixture's install.sh needs to start the Harbor double.
pub fn harbor_lab_with_double(home: &Path, namespace: &str) -> Command {
    let mut c = harbor_lab(home);
    c.env("HARBOR_LAB_CACHE", home.join("cache"))
        .env("HARBOR_DOUBLE_BIN", harbor_double_bin())
        .env("HARBOR_DOUBLE_UPSTREAM", format!("http://{}", registry()))
        .env("HARBOR_DOUBLE_NAMESPACE", namespace);
    c
}

/// The real cosign, with its own HOME so it never reads a user's config.
pub fn cosign(home: &Path) -> Command {
    let mut c = Command::new(cosign_path());
    c.env_remove("COSIGN_PASSWORD")
        .env("HOME", home)
        .env("TUF_ROOT", home.join(".sigstore"))
        .current_dir(home);
    c
}

pub fn skopeo(home: &Path) -> Command {
    let mut c = Command::new(skopeo_path());
    c.env("HOME", home).current_dir(home);
    c
}

/// A busybox-static rootfs with a file that makes the image unique.
pub fn rootfs_tar(id: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let busybox = std::fs::read("/usr/bin/busybox")
        .or_else(|_| std::fs::read("/bin/busybox"))
        .expect("busybox-static is installed (scripts/setup.sh)");
    let mut add = |path: &str, data: &[u8], mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_cksum();
        b.append_data(&mut h, path, data).unwrap();
    };
    add("bin/busybox", &busybox, 0o755);
    add("etc/harbor-lab-test-id", id.as_bytes(), 0o644);
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    h.set_cksum();
    b.append_link(&mut h, "bin/sh", "busybox").unwrap();
    b.into_inner().unwrap()
}

/// Make a new image through dockerd (import, then push) at
/// `<registry>/<repo>:<tag>`. Returns the reference and the pushed digest.
pub async fn push_new_image(registry: &str, repo: &str, tag: &str) -> (String, String) {
    push_new_image_as(registry, repo, tag, None).await
}

/// [`push_new_image`], pushing with these registry credentials.
pub async fn push_new_image_as(
    registry: &str,
    repo: &str,
    tag: &str,
    creds: Option<bollard::auth::DockerCredentials>,
) -> (String, String) {
    let ctx = harbor_lab::context::Context::from_os();
    let docker = harbor_lab::docker::engine::connect(&ctx)
        .await
        .expect("dockerd is running (scripts/services.sh)");
    let name = format!("{registry}/{repo}");
    harbor_lab::docker::engine::import_rootfs(
        &docker,
        rootfs_tar(&unique(repo)).into(),
        &name,
        tag,
    )
    .await
    .expect("docker import");
    let ui = harbor_lab::ui::Reporter::silent();
    let digest = harbor_lab::docker::engine::push(&docker, &ui, &name, tag, creds)
        .await
        .expect("docker push");
    (format!("{name}:{tag}"), digest)
}

/// The arguments that point `harbor-lab install` (or `up`) at the fixture
/// release served at `base`, on 127.0.0.1:`port`.
pub fn fixture_install_args(
    c: &mut Command,
    base: &str,
    port: u16,
    workdir: &Path,
    daemon_config: &Path,
) {
    c.args(["--harbor-version", FIXTURE_TAG, "--download-base", base])
        .args([
            "--hostname",
            "127.0.0.1",
            "--allow-loopback-hostname",
            "--http-port",
            &port.to_string(),
        ])
        .arg("--workdir")
        .arg(workdir)
        .arg("--daemon-config")
        .arg(daemon_config);
}

/// The Harbor version the fixture installer is shaped like.
pub const FIXTURE_TAG: &str = "v2.7.1";

/// A library registry client for loopback registries.
pub fn client() -> harbor_lab::registry::Client {
    harbor_lab::registry::Client::new(Default::default()).unwrap()
}

// ---------------------------------------------------------------------------
// A fake registry: fixed answers per path, and hostile answers on demand.

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
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serve `routes` (exact paths, queries ignored) on 127.0.0.1; anything else is
/// `fallback`, and `/v2/` answers 200 unless routed.
pub async fn fake_registry(routes: HashMap<String, Reply>, fallback: Reply) -> FakeRegistry {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let routes = Arc::new(routes);
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let routes = routes.clone();
            let fallback = fallback.clone();
            tokio::spawn(async move {
                let Some(head) = read_head(&mut sock).await else {
                    return;
                };
                let mut parts = head.split_whitespace();
                let method = parts.next().unwrap_or("").to_string();
                let target = parts.next().unwrap_or("/");
                let path = target.split('?').next().unwrap_or("/").to_string();
                let reply = match routes.get(&path) {
                    Some(r) => r.clone(),
                    None if path == "/v2/" => Reply::Body("application/json", b"{}".to_vec()),
                    None => fallback,
                };
                let _ = answer(&mut sock, &method, reply).await;
            });
        }
    });
    FakeRegistry { addr, task }
}

/// Read an HTTP request head (up to the blank line, at most 64 KiB).
async fn read_head(sock: &mut tokio::net::TcpStream) -> Option<String> {
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

/// Parse a containers/image `dir:` signature file (`\0sigstore-json\n{...}`).
pub struct DirSignature {
    pub mime_type: String,
    pub payload: Vec<u8>,
    pub annotations: std::collections::BTreeMap<String, String>,
}

pub fn read_dir_signature(path: &Path) -> DirSignature {
    use base64::Engine as _;
    let raw = std::fs::read(path).unwrap();
    let prefix = b"\x00sigstore-json\n";
    assert!(
        raw.starts_with(prefix),
        "{} is not a sigstore dir: signature",
        path.display()
    );
    let v: serde_json::Value = serde_json::from_slice(&raw[prefix.len()..]).unwrap();
    DirSignature {
        mime_type: v["mimeType"].as_str().unwrap().to_string(),
        payload: base64::engine::general_purpose::STANDARD
            .decode(v["payload"].as_str().unwrap())
            .unwrap(),
        annotations: serde_json::from_value(v["annotations"].clone()).unwrap(),
    }
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

// ---------------------------------------------------------------------------
// A loopback file server for installer releases: honours Range, can cut the
// first response for one path halfway, and records what it was asked.

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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
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

/// The harbor-double binary, built (once per test process, a no-op when it
/// is fresh) next to the test binaries: `cargo test --test X` alone would not
/// rebuild another workspace package.
pub fn harbor_double_bin() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let status = Command::new(env!("CARGO"))
                .args(["build", "-q", "-p", "harbor-double"])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .unwrap();
            assert!(status.success(), "building harbor-double");
            let exe = std::env::current_exe().unwrap();
            exe.parent()
                .unwrap()
                .parent()
                .unwrap()
                .join("harbor-double")
        })
        .clone()
}

/// A tar.gz of `entries` (path, bytes, mode).
pub fn tgz(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, data, mode) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_cksum();
        b.append_data(&mut h, path, *data).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

pub const FIXTURE_TEMPLATE: &str = include_str!("fixture/harbor.yml.tmpl");
pub const FIXTURE_INSTALL: &str = include_str!("fixture/install.sh");
pub const FIXTURE_PREPARE: &str = include_str!("fixture/prepare");
pub const FIXTURE_COMMON: &str = include_str!("fixture/common.sh");

/// A fixture "Harbor online installer" release with the shape of v2.7.1.
pub fn fixture_installer() -> Vec<u8> {
    tgz(&[
        ("harbor/install.sh", FIXTURE_INSTALL.as_bytes(), 0o755),
        ("harbor/prepare", FIXTURE_PREPARE.as_bytes(), 0o755),
        ("harbor/common.sh", FIXTURE_COMMON.as_bytes(), 0o644),
        ("harbor/LICENSE", b"Apache License 2.0 (fixture)\n", 0o644),
        ("harbor/harbor.yml.tmpl", FIXTURE_TEMPLATE.as_bytes(), 0o644),
    ])
}

pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(data))
}

/// A release directory for `tag` serving `tarball` with a matching (or given) md5sum.
pub fn release_files(tag: &str, tarball: Vec<u8>, md5: Option<String>) -> HashMap<String, Vec<u8>> {
    let asset = format!("harbor-online-installer-{tag}.tgz");
    let sum = md5.unwrap_or_else(|| md5_hex(&tarball));
    HashMap::from([
        (
            format!("/{tag}/md5sum"),
            format!("{sum}  {asset}\n").into_bytes(),
        ),
        (format!("/{tag}/{asset}"), tarball),
    ])
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
