//! Test data: root filesystems and images made through dockerd, the fixture
//! Harbor installer and its release directory, tarballs, `dir:` signatures.

use std::collections::HashMap;
use std::path::Path;

use super::bin::unique;

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
    let pushed = harbor_lab::registry::Reference::parse(&format!("{name}:{tag}")).unwrap();
    let digest = harbor_lab::docker::engine::push(&docker, &ui, &pushed, creds)
        .await
        .expect("docker push");
    (format!("{name}:{tag}"), digest)
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

/// The Harbor version the fixture installer is shaped like.
pub const FIXTURE_TAG: &str = "v2.7.1";
