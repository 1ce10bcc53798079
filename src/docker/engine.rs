//! A thin layer over bollard: connect (honouring `DOCKER_HOST` from the
//! context), import a rootfs tarball, tag, push and pull, with progress.

use std::collections::HashMap;

use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::{
    CreateImageOptionsBuilder, PushImageOptionsBuilder, TagImageOptionsBuilder,
};
use bytes::Bytes;
use futures_util::StreamExt;

use crate::context::Context;
use crate::registry::Reference;
use crate::ui::Reporter;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "cannot reach the Docker engine at {endpoint}: {detail} (is dockerd running? set DOCKER_HOST if it listens elsewhere)"
    )]
    Unreachable { endpoint: String, detail: String },
    #[error("docker {action}: {detail}")]
    Engine { action: String, detail: String },
}

fn engine(action: &str, e: impl std::fmt::Display) -> DockerError {
    DockerError::Engine {
        action: action.to_string(),
        detail: e.to_string(),
    }
}

/// The Docker endpoint this context points at.
pub fn endpoint(ctx: &Context) -> String {
    ctx.var("DOCKER_HOST")
        .filter(|h| !h.is_empty())
        .unwrap_or("unix:///var/run/docker.sock")
        .to_string()
}

/// Connect and agree on an API version with the daemon (Debian 12 ships 20.10).
pub async fn connect(ctx: &Context) -> Result<Docker, DockerError> {
    let endpoint = endpoint(ctx);
    let unreachable = |e: &dyn std::fmt::Display| DockerError::Unreachable {
        endpoint: endpoint.clone(),
        detail: e.to_string(),
    };
    let docker = Docker::connect_with_host(&endpoint)
        .map_err(|e| unreachable(&e))?
        .with_timeout(std::time::Duration::from_secs(600));
    docker
        .negotiate_version()
        .await
        .map_err(|e| unreachable(&e))
}

/// Import a rootfs tarball as `repo:tag` (`docker import`). Returns the image id.
pub async fn import_rootfs(
    docker: &Docker,
    tarball: Bytes,
    repo: &str,
    tag: &str,
) -> Result<String, DockerError> {
    let opts = CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(repo)
        .tag(tag)
        .build();
    let mut stream = docker.create_image(Some(opts), Some(bollard::body_full(tarball)), None);
    while let Some(item) = stream.next().await {
        item.map_err(|e| engine("import", e))?;
    }
    let inspect = docker
        .inspect_image(&format!("{repo}:{tag}"))
        .await
        .map_err(|e| engine("inspect", e))?;
    Ok(inspect.id.unwrap_or_default())
}

/// `docker tag source image`: `source` is the engine's name or id of an image.
pub async fn tag(docker: &Docker, source: &str, image: &Reference) -> Result<(), DockerError> {
    let opts = TagImageOptionsBuilder::default()
        .repo(&image.docker_repository())
        .tag(engine_tag(image))
        .build();
    docker
        .tag_image(source, Some(opts))
        .await
        .map_err(|e| engine("tag", e))
}

/// What the engine's APIs take as the tag: the digest when there is one
/// (create/pull), else the tag (`latest` when none was given).
fn engine_tag(image: &Reference) -> &str {
    image
        .digest
        .as_deref()
        .or(image.tag.as_deref())
        .unwrap_or("latest")
}

/// Registry credentials for the engine.
pub fn credentials(registry: &str, username: &str, password: &str) -> DockerCredentials {
    DockerCredentials {
        username: Some(username.to_string()),
        password: Some(password.to_string()),
        serveraddress: Some(registry.to_string()),
        ..Default::default()
    }
}

/// `docker push image`; returns the pushed manifest digest the engine reports.
pub async fn push(
    docker: &Docker,
    ui: &Reporter,
    image: &Reference,
    creds: Option<DockerCredentials>,
) -> Result<String, DockerError> {
    push_manifest(docker, ui, image, creds)
        .await
        .map(|(digest, _)| digest)
}

/// `docker push image` (by its tag); returns the pushed manifest's digest and,
/// when the engine reports it, its size in bytes.
pub async fn push_manifest(
    docker: &Docker,
    ui: &Reporter,
    image: &Reference,
    creds: Option<DockerCredentials>,
) -> Result<(String, Option<i64>), DockerError> {
    let (repo, tag) = (image.docker_repository(), engine_tag(image));
    let opts = PushImageOptionsBuilder::default().tag(tag).build();
    let mut stream = docker.push_image(&repo, Some(opts), creds);
    let mut digest = None;
    // One bar per layer, like the docker CLI. bollard's push messages carry no
    // layer id, so a layer is known by its size (distinct layers of the same
    // size share a bar, which only merges their progress).
    let mut bars: HashMap<i64, indicatif::ProgressBar> = HashMap::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| engine(&format!("push {repo}:{tag}"), e))?;
        if let Some(detail) = &info.progress_detail
            && let (Some(cur), Some(total)) = (detail.current, detail.total)
            && total > 0
        {
            let bar = bars.entry(total).or_insert_with(|| {
                ui.bar(
                    Some(total as u64),
                    &format!("layer {}", indicatif::HumanBytes(total as u64)),
                )
            });
            bar.set_position(cur.max(0) as u64);
        }
        if let Some(status) = &info.status
            && let Some(d) = parse_push_digest(status)
        {
            digest = Some((d, parse_push_size(status)));
        }
    }
    for bar in bars.values() {
        bar.finish_and_clear();
    }
    digest.ok_or_else(|| {
        engine(
            &format!("push {repo}:{tag}"),
            "the engine reported no digest",
        )
    })
}

/// When to pull, as Docker's `--pull`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullPolicy {
    Always,
    #[default]
    Missing,
    Never,
}

/// Is `image` present in the engine?
pub async fn has_image(docker: &Docker, image: &Reference) -> bool {
    docker.inspect_image(&image.docker_name()).await.is_ok()
}

/// `docker pull image`, one progress bar per layer. `Err` carries the
/// engine's message (e.g. Harbor's 412 policy text) unchanged.
pub async fn pull(
    docker: &Docker,
    ui: &Reporter,
    image: &Reference,
    creds: Option<DockerCredentials>,
) -> Result<(), DockerError> {
    let opts = CreateImageOptionsBuilder::default()
        .from_image(&image.docker_repository())
        .tag(engine_tag(image))
        .build();
    let mut stream = docker.create_image(Some(opts), None, creds);
    let mut bars: HashMap<String, indicatif::ProgressBar> = HashMap::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| engine(&format!("pull {image}"), e))?;
        if let (Some(id), Some(detail)) = (&info.id, &info.progress_detail)
            && let (Some(cur), Some(total)) = (detail.current, detail.total)
        {
            let bar = bars
                .entry(id.clone())
                .or_insert_with(|| ui.bar(Some(total.max(0) as u64), id));
            bar.set_position(cur.max(0) as u64);
        }
    }
    for bar in bars.values() {
        bar.finish_and_clear();
    }
    Ok(())
}

/// Load an image file as `image` and nothing else: a `docker save` archive
/// (it has `manifest.json`) is loaded with its own tags taken out, so that no
/// image of the user's is re-tagged, and keeps its config (CMD, env); anything
/// else is imported as a root filesystem.
pub async fn load_image_file(
    docker: &Docker,
    data: Bytes,
    image: &Reference,
) -> Result<(), DockerError> {
    if !is_docker_save(&data) {
        return import_rootfs(docker, data, &image.docker_repository(), engine_tag(image))
            .await
            .map(|_| ());
    }
    let untagged = untag_archive(&data).map_err(|e| engine("load", e))?;
    let mut stream = docker.import_image(
        bollard::query_parameters::ImportImageOptionsBuilder::default().build(),
        bollard::body_full(untagged.into()),
        None,
    );
    let mut id = None;
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| engine("load", e))?;
        if let Some(e) = info.error_detail.and_then(|d| d.message) {
            return Err(engine("load", e));
        }
        if let Some(s) = info.stream.as_deref()
            && let Some(rest) = s.trim().strip_prefix("Loaded image ID: ")
        {
            id = Some(rest.to_string());
        }
    }
    let id = id.ok_or_else(|| engine("load", "the engine named no loaded image"))?;
    self::tag(docker, &id, image).await
}

/// The same `docker save` archive (gzip or not) with every image's `RepoTags`
/// emptied and the legacy `repositories` file left out: `docker load` then
/// names nothing, and the caller tags the image ID.
fn untag_archive(data: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let reader: Box<dyn Read + '_> = if data.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(data))
    } else {
        Box::new(data)
    };
    let mut ar = tar::Archive::new(reader);
    let mut out = tar::Builder::new(Vec::new());
    for entry in ar.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let name = path.to_string_lossy();
        let name = name.trim_start_matches("./");
        if name == "repositories" {
            continue;
        }
        let mut header = entry.header().clone();
        if name == "manifest.json" {
            let mut text = Vec::new();
            entry.by_ref().take(16 << 20).read_to_end(&mut text)?;
            let mut manifest: serde_json::Value = serde_json::from_slice(&text)
                .map_err(|e| std::io::Error::other(format!("manifest.json: {e}")))?;
            if let Some(images) = manifest.as_array_mut() {
                for image in images.iter_mut().filter_map(|i| i.as_object_mut()) {
                    image.insert("RepoTags".into(), serde_json::Value::Null);
                }
            }
            let text = serde_json::to_vec(&manifest).map_err(std::io::Error::other)?;
            header.set_size(text.len() as u64);
            header.set_cksum();
            out.append_data(&mut header, &path, text.as_slice())?;
        } else {
            out.append_data(&mut header, &path, &mut entry)?;
        }
    }
    out.into_inner()
}

fn is_docker_save(data: &[u8]) -> bool {
    let reader: Box<dyn std::io::Read> = if data.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(data))
    } else {
        Box::new(data)
    };
    let mut ar = tar::Archive::new(reader);
    let Ok(entries) = ar.entries() else {
        return false;
    };
    entries.flatten().take(10_000).any(|e| {
        e.path()
            .is_ok_and(|p| p.as_os_str() == "manifest.json" || p.as_os_str() == "./manifest.json")
    })
}

/// `"<tag>: digest: sha256:<hex> size: N"` → `sha256:<hex>`.
pub fn parse_push_digest(status: &str) -> Option<String> {
    let rest = status.split("digest: ").nth(1)?;
    let d = rest.split_whitespace().next()?;
    (d.starts_with("sha256:") && d.len() == 71).then(|| d.to_string())
}

/// `"<tag>: digest: sha256:<hex> size: N"` → N (the manifest's byte length).
pub fn parse_push_size(status: &str) -> Option<i64> {
    let rest = status.split(" size: ").nth(1)?;
    rest.split_whitespace()
        .next()?
        .parse()
        .ok()
        .filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_names_a_reference_as_docker_does() {
        let r = |s: &str| Reference::parse(s).unwrap();
        assert_eq!(r("busybox").docker_repository(), "busybox");
        assert_eq!(engine_tag(&r("busybox")), "latest");
        assert_eq!(r("h:5000/a/b:v1").docker_repository(), "h:5000/a/b");
        assert_eq!(engine_tag(&r("h:5000/a/b:v1")), "v1");
        let d = format!("sha256:{}", "a".repeat(64));
        let pinned = r(&format!("h:5000/a/b:v1@{d}"));
        assert_eq!(pinned.docker_repository(), "h:5000/a/b");
        // The create (pull) API takes the digest in its tag parameter.
        assert_eq!(engine_tag(&pinned), d);
        assert_eq!(r("h:5000/a/b").docker_repository(), "h:5000/a/b");
        assert_eq!(engine_tag(&r("h:5000/a/b")), "latest");
    }

    #[test]
    fn digest_from_push_status() {
        let d = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(
            parse_push_digest(&format!("v1: digest: {d} size: 527")),
            Some(d)
        );
        assert_eq!(parse_push_digest("Pushed"), None);
        assert_eq!(parse_push_size("v1: digest: sha256:x size: 527"), Some(527));
        assert_eq!(parse_push_size("v1: digest: sha256:x size: -1"), None);
        assert_eq!(parse_push_digest("x: digest: sha256:short size: 1"), None);
    }
}
