//! Image references, normalised the way cosign (go-containerregistry) does:
//! `busybox` is `index.docker.io/library/busybox:latest`, other registries are
//! kept as written.

use std::fmt;

pub const DEFAULT_REGISTRY: &str = "index.docker.io";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `host[:port]`.
    pub registry: String,
    /// The repository path inside the registry, e.g. `library/busybox`.
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>`.
    pub digest: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid image reference {input:?}: {reason}")]
pub struct ReferenceError {
    pub input: String,
    pub reason: String,
}

impl Reference {
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        let fail = |reason: &str| ReferenceError {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        if input.is_empty() || input.len() > 4096 {
            return Err(fail("empty or too long"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => (r, Some(d)),
            None => (input, None),
        };
        if let Some(d) = digest {
            if !d.starts_with("sha256:") {
                return Err(fail("only sha256 digests are supported"));
            }
            if crate::digest::sha256_hex(d).is_none() {
                return Err(fail("a sha256 digest has 64 lower-case hex digits"));
            }
        }
        // A tag is a ':' after the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            if !ok {
                return Err(fail(
                    "a tag is 1-128 of [A-Za-z0-9_.-], not starting with . or -",
                ));
            }
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), path.to_string())
            }
            _ => (DEFAULT_REGISTRY.to_string(), name.to_string()),
        };
        let registry = if registry == "docker.io" {
            DEFAULT_REGISTRY.to_string()
        } else {
            registry
        };
        let repository = if registry == DEFAULT_REGISTRY && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if !valid_host(&registry) {
            return Err(fail("the registry must be host[:port]"));
        }
        if !valid_repository(&repository) {
            return Err(fail(
                "the repository must be lower-case path components of [a-z0-9] separated by '.', '_', '__' or '-'",
            ));
        }
        let tag = match (tag, digest) {
            (None, None) => Some("latest".to_string()),
            (t, _) => t.map(str::to_string),
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest: digest.map(str::to_string),
        })
    }

    /// Parse every input, dropping repeats; the first bad one fails.
    pub fn parse_unique(inputs: &[String]) -> Result<Vec<Reference>, ReferenceError> {
        let mut out: Vec<Reference> = Vec::with_capacity(inputs.len());
        let mut seen = std::collections::HashSet::with_capacity(inputs.len());
        for s in inputs {
            let r = Reference::parse(s)?;
            if seen.insert(r.clone()) {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// `registry/repository`: what cosign writes as `docker-reference`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same repository at `digest`.
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: None,
            digest: Some(digest.to_string()),
        }
    }

    /// The same repository at `tag`.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: Some(tag.to_string()),
            digest: None,
        }
    }

    /// The same tag or digest in another registry (`host[:port]`).
    pub fn with_registry(&self, registry: &str) -> Result<Reference, ReferenceError> {
        if !valid_host(registry) {
            return Err(ReferenceError {
                input: registry.to_string(),
                reason: "not a registry host[:port]".into(),
            });
        }
        Ok(Reference {
            registry: registry.to_string(),
            ..self.clone()
        })
    }

    /// The same tag or digest in another repository of the same registry.
    pub fn with_repository(&self, repository: &str) -> Result<Reference, ReferenceError> {
        if !valid_repository(repository) {
            return Err(ReferenceError {
                input: format!("{}/{repository}", self.registry),
                reason: "the repository must be lower-case path components of [a-z0-9._-]".into(),
            });
        }
        Ok(Reference {
            repository: repository.to_string(),
            ..self.clone()
        })
    }

    /// The Docker engine's name for this image: Docker Hub images without the
    /// registry and `library/` (`busybox:latest`), others in full.
    pub fn docker_name(&self) -> String {
        let repo = if self.registry == DEFAULT_REGISTRY {
            self.repository
                .strip_prefix("library/")
                .unwrap_or(&self.repository)
                .to_string()
        } else {
            self.name()
        };
        match (&self.tag, &self.digest) {
            (_, Some(d)) => format!("{repo}@{d}"),
            (Some(t), None) => format!("{repo}:{t}"),
            (None, None) => format!("{repo}:latest"),
        }
    }

    /// The engine's repository name (the part before `:tag`).
    pub fn docker_repository(&self) -> String {
        let name = self.docker_name();
        match (&self.tag, &self.digest) {
            (_, Some(d)) => name.trim_end_matches(&format!("@{d}")).to_string(),
            (Some(t), None) => name.trim_end_matches(&format!(":{t}")).to_string(),
            (None, None) => name.trim_end_matches(":latest").to_string(),
        }
    }

    /// What to put after `/manifests/`: the digest if there is one, else the tag.
    pub fn manifest_ref(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn valid_host(h: &str) -> bool {
    let (host, port) = match h.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => (host, Some(port)),
        _ => (h, None),
    };
    if let Some(p) = port
        && p.parse::<u16>().is_err()
    {
        return false;
    }
    if host.starts_with('[') && host.ends_with(']') {
        return host[1..host.len() - 1]
            .parse::<std::net::Ipv6Addr>()
            .is_ok();
    }
    !host.is_empty()
        && host.len() <= 253
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

fn valid_repository(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 255
        && r.split('/').all(|component| {
            let b = component.as_bytes();
            if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
                return false;
            }
            let mut i = 0;
            while i < b.len() {
                if is_alnum(b[i]) {
                    i += 1;
                    continue;
                }
                // separators: '.', '_', '__', one or more '-'
                let start = i;
                while i < b.len() && !is_alnum(b[i]) {
                    i += 1;
                }
                let sep = &component[start..i];
                let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
                if !ok {
                    return false;
                }
            }
            true
        })
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// Is this registry host on the loopback network (so plain HTTP is allowed,
/// as Docker allows it for 127.0.0.0/8 and ::1)?
pub fn is_loopback_registry(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => h,
        _ => registry,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host == "localhost" {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Reference {
        Reference::parse(s).unwrap()
    }

    #[test]
    fn docker_hub_normalisation() {
        assert_eq!(
            p("busybox").to_string(),
            "index.docker.io/library/busybox:latest"
        );
        assert_eq!(p("busybox").name(), "index.docker.io/library/busybox");
        assert_eq!(p("docker.io/foo/bar:1").name(), "index.docker.io/foo/bar");
        assert_eq!(p("foo/bar").name(), "index.docker.io/foo/bar");
    }

    #[test]
    fn other_registries_are_kept() {
        let r = p("127.0.0.1:5000/test/bb:v1");
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "test/bb");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(p("localhost/x").registry, "localhost");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = p(&format!("h.example:5000/a/b@{d}"));
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_ref(), d);
    }

    #[test]
    fn bad_references_are_refused() {
        for s in [
            "",
            "UPPER/x",
            "h:5000/x@sha256:12",
            "h:99999/x",
            "x:",
            "a//b",
            "h:5000/x:.bad",
            "h/x@md5:aa",
        ] {
            assert!(Reference::parse(s).is_err(), "{s:?} should fail");
        }
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback_registry("127.0.0.1:5000"));
        assert!(is_loopback_registry("127.1.2.3"));
        assert!(is_loopback_registry("localhost:80"));
        assert!(is_loopback_registry("[::1]:5000"));
        assert!(!is_loopback_registry("10.0.0.5"));
        assert!(!is_loopback_registry("harbor.example.com:5000"));
    }
}

#[cfg(test)]
mod docker_name_tests {
    use super::*;

    #[test]
    fn docker_names() {
        let hub = Reference::parse("busybox").unwrap();
        assert_eq!(hub.docker_name(), "busybox:latest");
        assert_eq!(hub.docker_repository(), "busybox");
        let user = Reference::parse("index.docker.io/me/app:1").unwrap();
        assert_eq!(user.docker_name(), "me/app:1");
        let local = Reference::parse("localhost/x:v2").unwrap();
        assert_eq!(local.docker_name(), "localhost/x:v2");
        let port = Reference::parse("127.0.0.1:5055/a/b:v1").unwrap();
        assert_eq!(port.docker_name(), "127.0.0.1:5055/a/b:v1");
        assert_eq!(port.docker_repository(), "127.0.0.1:5055/a/b");
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            port.with_digest(&d).docker_name(),
            format!("127.0.0.1:5055/a/b@{d}")
        );
        let moved = port
            .with_registry("h:8")
            .unwrap()
            .with_repository("p/b")
            .unwrap();
        assert_eq!(moved.to_string(), "h:8/p/b:v1");
        assert!(port.with_repository("Upper/Case").is_err());
        assert!(port.with_registry("bad host").is_err());
    }
}
