//! The demo's image, parsed once: where it comes from, what the local engine
//! calls it, and where it goes in Harbor.

use crate::registry::Reference;
use crate::registry::reference::ReferenceError;

/// Where images from `--image-file` live in the local engine.
pub const FILE_IMAGE_PREFIX: &str = "harbor-lab-demo/";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoImage {
    /// `--image` as given, normalised.
    pub source: Reference,
    /// The engine's name for it (`busybox:latest`, `host:port/repo:tag` as
    /// [`Reference::docker_name`] spells it).
    pub local: Reference,
    /// In Harbor: `<host>/<project>/<last path component>:<tag>`.
    pub target: Reference,
}

impl DemoImage {
    pub fn new(image: &str, harbor_host: &str, project: &str) -> Result<DemoImage, ReferenceError> {
        let mut source = Reference::parse(image)?;
        if source.tag.is_none() && source.digest.is_none() {
            source.tag = Some("latest".into());
        }
        let name = source
            .repository
            .rsplit('/')
            .next()
            .unwrap_or("demo")
            .to_string();
        let tag = source.tag.clone().unwrap_or_else(|| "latest".into());
        let target = source
            .with_tag(&tag)
            .with_registry(harbor_host)?
            .with_repository(&format!("{project}/{name}"))?;
        Ok(DemoImage {
            local: source.clone(),
            source,
            target,
        })
    }

    /// The image comes from `--image-file`: the local engine gets it under a
    /// name of the lab's own (`harbor-lab-demo/<name>:<tag>`), so no image of
    /// the user's (`busybox:latest`, or whatever --image names) is replaced.
    pub fn from_file(mut self) -> DemoImage {
        self.local = Reference {
            registry: crate::registry::reference::DEFAULT_REGISTRY.to_string(),
            repository: format!("{FILE_IMAGE_PREFIX}{}", self.name()),
            tag: Some(self.tag().to_string()),
            digest: None,
        };
        self
    }

    /// The repository's name inside its Harbor project.
    pub fn name(&self) -> &str {
        self.target
            .repository
            .split_once('/')
            .map_or(self.target.repository.as_str(), |(_, r)| r)
    }

    pub fn tag(&self) -> &str {
        self.target.tag.as_deref().unwrap_or("latest")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_local_and_registry_images() {
        let d = DemoImage::new("busybox", "127.0.0.1:8080", "library").unwrap();
        assert_eq!(d.local.docker_name(), "busybox:latest");
        assert_eq!(
            d.target.to_string(),
            "127.0.0.1:8080/library/busybox:latest"
        );
        assert_eq!(d.name(), "busybox");
        let d = DemoImage::new("myuser/app:1", "h", "p").unwrap();
        assert_eq!(d.local.docker_name(), "myuser/app:1");
        assert_eq!(d.target.to_string(), "h/p/app:1");
        let d = DemoImage::new("localhost/x:v2", "h:1", "p").unwrap();
        assert_eq!(d.local.docker_name(), "localhost/x:v2");
        let d = DemoImage::new("127.0.0.1:5055/pull/src:v1", "127.0.0.1:80", "pulled").unwrap();
        assert_eq!(d.local.docker_name(), "127.0.0.1:5055/pull/src:v1");
        assert_eq!(d.target.to_string(), "127.0.0.1:80/pulled/src:v1");
        assert!(DemoImage::new("busybox", "h", "Bad Project").is_err());
        let d = DemoImage::new("busybox", "h", "p").unwrap().from_file();
        assert_eq!(d.local.docker_name(), "harbor-lab-demo/busybox:latest");
        assert_eq!(d.target.to_string(), "h/p/busybox:latest");
    }
}
