//! Where metadata comes from, behind tough's `Transport` trait: `file://`
//! (tough's own), `http(s)://` (over the project's reqwest) and `oci://` (the
//! registry layout of [`super::oci`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::StreamExt as _;
use tough::{FilesystemTransport, Transport, TransportError, TransportErrorKind, TransportStream};
use url::Url;

use super::TufError;
use super::oci::{self, OciLocation};
use crate::http::root_cause;
use crate::registry::Client;
use crate::registry::manifest::Descriptor;

/// A metadata location a user gave, made into a base URL ending in `/` and the
/// transport that reads it.
pub struct Source {
    /// The URL as the user should see it (and the trusted store's key).
    pub display: String,
    pub base: String,
    pub transport: Box<dyn Transport>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

fn with_slash(s: &str) -> String {
    if s.ends_with('/') {
        s.to_string()
    } else {
        format!("{s}/")
    }
}

impl Source {
    /// `file://DIR`, a plain directory path, `http(s)://...` or `oci://...`.
    /// `registry` serves `oci://` locations.
    pub fn open(location: &str, registry: Option<Arc<Client>>) -> Result<Source, String> {
        if location.starts_with("oci://") {
            let loc = OciLocation::parse(location)?;
            let client = registry.ok_or("oci:// needs a registry client")?;
            return Ok(Source {
                display: loc.url(),
                base: with_slash(&loc.url()),
                transport: Box::new(OciTransport::new(client)),
            });
        }
        if location.starts_with("http://") || location.starts_with("https://") {
            Url::parse(location).map_err(|e| format!("{location:?}: {e}"))?;
            return Ok(Source {
                display: location.to_string(),
                base: with_slash(location),
                transport: Box::new(HttpTransport::new()?),
            });
        }
        let url = if location.starts_with("file://") {
            Url::parse(location).map_err(|e| format!("{location:?}: {e}"))?
        } else if location.contains("://") {
            return Err(format!(
                "{location:?}: unsupported scheme (use file://, http://, https:// or oci://)"
            ));
        } else {
            let path = std::path::absolute(location).map_err(|e| format!("{location:?}: {e}"))?;
            Url::from_directory_path(&path).map_err(|_| format!("{location:?}: not a path"))?
        };
        Ok(Source {
            display: url.as_str().trim_end_matches('/').to_string(),
            base: with_slash(url.as_str()),
            transport: Box::new(FilesystemTransport),
        })
    }

    /// Fetch `name` (already quoted for a URL), at most `max` bytes. `None`
    /// when the server says it does not exist (404/403, or no such file).
    pub async fn fetch(&self, name: &str, max: u64) -> Result<Option<Vec<u8>>, TufError> {
        fetch_url(&*self.transport, &format!("{}{name}", self.base), max).await
    }
}

/// Fetch a whole URL, refusing more than `max` bytes.
pub async fn fetch_url(
    transport: &dyn Transport,
    url: &str,
    max: u64,
) -> Result<Option<Vec<u8>>, TufError> {
    let fail = |detail: String| TufError::Fetch {
        url: url.to_string(),
        detail,
    };
    let parsed = Url::parse(url).map_err(|e| fail(e.to_string()))?;
    let mut stream = match transport.fetch(parsed).await {
        Ok(s) => s,
        Err(e) if e.kind() == TransportErrorKind::FileNotFound => return Ok(None),
        Err(e) => return Err(fail(root_cause(&e))),
    };
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) if e.kind() == TransportErrorKind::FileNotFound && out.is_empty() => {
                return Ok(None);
            }
            Err(e) => return Err(fail(root_cause(&e))),
        };
        out.extend_from_slice(&chunk);
        if out.len() as u64 > max {
            return Err(TufError::Invalid(format!(
                "{url} is larger than the {max} bytes allowed for it"
            )));
        }
    }
    Ok(Some(out))
}

/// `http(s)://` over reqwest. 403 and 404 mean "no such file", as in python-tuf.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    pub fn new() -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("harbor-lab/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(15))
            .read_timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(HttpTransport { client })
    }
}

#[async_trait]
impl Transport for HttpTransport {
    async fn fetch(&self, url: Url) -> Result<TransportStream, TransportError> {
        let resp = self.client.get(url.clone()).send().await.map_err(|e| {
            TransportError::new_with_cause(TransportErrorKind::Other, url.as_str(), e)
        })?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::FORBIDDEN {
            return Err(TransportError::new(
                TransportErrorKind::FileNotFound,
                url.as_str(),
            ));
        }
        if !status.is_success() {
            return Err(TransportError::new_with_cause(
                TransportErrorKind::Other,
                url.as_str(),
                format!("HTTP {status}"),
            ));
        }
        let u = url.to_string();
        Ok(Box::pin(resp.bytes_stream().map(move |r| {
            r.map_err(|e| TransportError::new_with_cause(TransportErrorKind::Other, &u, e))
        })))
    }
}

/// File name to layer, of one metadata image.
type Layers = BTreeMap<String, Descriptor>;

/// `oci://HOST/REPO:TAG/FILE`: the layer of the metadata image annotated with
/// `FILE`. The image's manifest is read once per transport.
#[derive(Clone)]
pub struct OciTransport {
    client: Arc<Client>,
    index: Arc<tokio::sync::Mutex<BTreeMap<String, Option<Layers>>>>,
}

impl std::fmt::Debug for OciTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OciTransport")
    }
}

impl OciTransport {
    pub fn new(client: Arc<Client>) -> Self {
        OciTransport {
            client,
            index: Arc::default(),
        }
    }
}

/// Split `oci://HOST/REPO:TAG/FILE` into the image location and the file name.
fn split_oci(url: &Url) -> Option<(OciLocation, String)> {
    let s = url.as_str();
    let (image, file) = s.rsplit_once('/')?;
    let loc = OciLocation::parse(image).ok()?;
    let file = percent_decode(file)?;
    Some((loc, file))
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[async_trait]
impl Transport for OciTransport {
    async fn fetch(&self, url: Url) -> Result<TransportStream, TransportError> {
        let (loc, file) = split_oci(&url).ok_or_else(|| {
            TransportError::new_with_cause(
                TransportErrorKind::UnsupportedUrlScheme,
                url.as_str(),
                "expected oci://HOST/REPO:TAG/FILE",
            )
        })?;
        let layer = {
            let mut cache = self.index.lock().await;
            let key = loc.url();
            if !cache.contains_key(&key) {
                let idx = oci::index(&self.client, &loc).await.map_err(|e| {
                    TransportError::new_with_cause(TransportErrorKind::Other, url.as_str(), e)
                })?;
                cache.insert(key.clone(), idx);
            }
            cache
                .get(&key)
                .and_then(|i| i.as_ref())
                .and_then(|i| i.get(&file))
                .cloned()
        };
        let Some(layer) = layer else {
            return Err(TransportError::new(
                TransportErrorKind::FileNotFound,
                url.as_str(),
            ));
        };
        let limit = usize::try_from(layer.size.max(0)).unwrap_or(usize::MAX);
        let blob = self
            .client
            .get_blob(&loc.reference, &layer.digest, limit.min(64 << 20))
            .await
            .map_err(|e| {
                TransportError::new_with_cause(TransportErrorKind::Other, url.as_str(), e)
            })?;
        Ok(Box::pin(futures_util::stream::once(
            async move { Ok(blob) },
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_urls_split_into_image_and_file() {
        let u = Url::parse("oci://127.0.0.1:5055/lab/tuf:latest/1.root.json").unwrap();
        let (loc, f) = split_oci(&u).unwrap();
        assert_eq!(loc.url(), "oci://127.0.0.1:5055/lab/tuf:latest");
        assert_eq!(f, "1.root.json");
    }

    #[test]
    fn directories_become_file_urls() {
        let s = Source::open("/tmp/x", None).unwrap();
        assert_eq!(s.base, "file:///tmp/x/");
        assert!(Source::open("ftp://x", None).is_err());
    }
}
