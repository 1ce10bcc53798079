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
use crate::error::{EXIT_ENVIRONMENT, EXIT_REMOTE, ExitCoded};
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

impl ExitCoded for DockerError {
    fn exit_code(&self) -> u8 {
        match self {
            DockerError::Unreachable { .. } => EXIT_ENVIRONMENT,
            DockerError::Engine { .. } => EXIT_REMOTE,
        }
    }
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

/// `docker tag source repo:tag`.
pub async fn tag(docker: &Docker, source: &str, repo: &str, tag: &str) -> Result<(), DockerError> {
    let opts = TagImageOptionsBuilder::default()
        .repo(repo)
        .tag(tag)
        .build();
    docker
        .tag_image(source, Some(opts))
        .await
        .map_err(|e| engine("tag", e))
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

/// `docker push repo:tag`; returns the pushed manifest digest the engine reports.
pub async fn push(
    docker: &Docker,
    ui: &Reporter,
    repo: &str,
    tag: &str,
    creds: Option<DockerCredentials>,
) -> Result<String, DockerError> {
    let opts = PushImageOptionsBuilder::default().tag(tag).build();
    let bar = ui.bar(None, &format!("push {repo}:{tag}"));
    let mut stream = docker.push_image(repo, Some(opts), creds);
    let mut digest = None;
    let mut layers: HashMap<String, u64> = HashMap::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| engine(&format!("push {repo}:{tag}"), e))?;
        if let Some(detail) = &info.progress_detail
            && let (Some(cur), Some(total)) = (detail.current, detail.total)
        {
            // Without layer ids, key the progress on the layer's total size.
            layers.insert(total.to_string(), cur.max(0) as u64);
            bar.set_position(layers.values().sum());
        }
        if let Some(status) = &info.status
            && let Some(d) = parse_push_digest(status)
        {
            digest = Some(d);
        }
    }
    bar.finish_and_clear();
    digest.ok_or_else(|| {
        engine(
            &format!("push {repo}:{tag}"),
            "the engine reported no digest",
        )
    })
}

/// `"<tag>: digest: sha256:<hex> size: N"` → `sha256:<hex>`.
pub fn parse_push_digest(status: &str) -> Option<String> {
    let rest = status.split("digest: ").nth(1)?;
    let d = rest.split_whitespace().next()?;
    (d.starts_with("sha256:") && d.len() == 71).then(|| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_from_push_status() {
        let d = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(
            parse_push_digest(&format!("v1: digest: {d} size: 527")),
            Some(d)
        );
        assert_eq!(parse_push_digest("Pushed"), None);
        assert_eq!(parse_push_digest("x: digest: sha256:short size: 1"), None);
    }
}
