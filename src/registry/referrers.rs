//! OCI 1.1 referrers: the API (`GET /v2/<name>/referrers/<digest>`) where the
//! registry has it, else the fallback index tagged `sha256-<hex>`, as
//! go-containerregistry (cosign) uses them.

use std::time::Duration;

use bytes::Bytes;
use reqwest::{StatusCode, header};
use serde_json::{Map, Value};

use super::{
    Client, MANIFEST_LIMIT, OCI_INDEX, Reference, RegistryError, check_status, read_limited,
    scope_for,
};

/// At most this many pages of a referrers answer are followed.
const MAX_PAGES: usize = 16;
/// At most this many referrers are looked at for one image.
pub const MAX_REFERRERS: usize = 1000;

/// The fallback tag of the referrers of `digest` (`sha256:<hex>` → `sha256-<hex>`).
pub fn fallback_tag(digest: &str) -> String {
    digest.replacen(':', "-", 1)
}

/// One descriptor of a referrers index. `raw` keeps every field as it was
/// written, so that rewriting the index never loses what another client put.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    pub media_type: String,
    pub digest: String,
    pub size: i64,
    pub artifact_type: Option<String>,
    pub raw: Map<String, Value>,
}

/// A referrers index (the API's answer, or the fallback tag's manifest).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReferrersIndex {
    pub manifests: Vec<IndexEntry>,
    /// The whole document, for a faithful rewrite.
    pub raw: Map<String, Value>,
}

/// Parse an OCI image index whose entries are referrers. Entries must carry a
/// sha256 digest, a media type and a size; at most [`MAX_REFERRERS`] of them.
pub fn parse_index(bytes: &[u8]) -> Result<ReferrersIndex, String> {
    let doc: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not an OCI index (JSON: {e})"))?;
    let Value::Object(raw) = doc else {
        return Err("not an OCI index (not a JSON object)".into());
    };
    if raw.get("schemaVersion").and_then(Value::as_u64) != Some(2) {
        return Err("not an OCI index (schemaVersion is not 2)".into());
    }
    if let Some(mt) = raw.get("mediaType")
        && mt.as_str() != Some(OCI_INDEX)
    {
        return Err(format!("not an OCI index (mediaType {mt})"));
    }
    let list = match raw.get("manifests") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err("not an OCI index (manifests is not a list)".into()),
    };
    if list.len() > MAX_REFERRERS {
        return Err(format!(
            "the index lists {} referrers; more than {MAX_REFERRERS} are refused",
            list.len()
        ));
    }
    let mut manifests = Vec::with_capacity(list.len());
    for (i, entry) in list.into_iter().enumerate() {
        let Value::Object(e) = entry else {
            return Err(format!("index entry {} is not an object", i + 1));
        };
        let text = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
        let digest = text("digest")
            .filter(|d| crate::digest::sha256_hex(d).is_some())
            .ok_or_else(|| format!("index entry {} has no sha256 digest", i + 1))?;
        let media_type =
            text("mediaType").ok_or_else(|| format!("index entry {} has no mediaType", i + 1))?;
        let size = e
            .get("size")
            .and_then(Value::as_i64)
            .filter(|s| *s >= 0)
            .ok_or_else(|| format!("index entry {} has no size", i + 1))?;
        manifests.push(IndexEntry {
            media_type,
            digest,
            size,
            artifact_type: text("artifactType"),
            raw: e,
        });
    }
    Ok(ReferrersIndex { manifests, raw })
}

impl ReferrersIndex {
    pub fn contains(&self, digest: &str) -> bool {
        self.manifests.iter().any(|m| m.digest == digest)
    }

    /// The index as bytes, with `manifests` replaced by the current entries.
    pub fn to_bytes(&self) -> Bytes {
        let mut doc = self.raw.clone();
        doc.entry("schemaVersion").or_insert(Value::from(2));
        doc.entry("mediaType").or_insert(Value::from(OCI_INDEX));
        doc.insert(
            "manifests".into(),
            Value::Array(
                self.manifests
                    .iter()
                    .map(|m| Value::Object(m.raw.clone()))
                    .collect(),
            ),
        );
        Bytes::from(serde_json::to_vec(&Value::Object(doc)).expect("an index serialises"))
    }
}

/// Where a list of referrers came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferrersSource {
    /// The registry's referrers API.
    Api,
    /// The `sha256-<hex>` fallback tag.
    FallbackTag,
    /// Neither: the API is missing and there is no fallback tag.
    None,
}

/// The referrers of one image, and where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Referrers {
    pub source: ReferrersSource,
    pub index: ReferrersIndex,
    /// The API was not asked: a hint from an earlier run said the registry
    /// has none. A caller about to report that nothing was found should
    /// [`Client::forget_referrers_hint`] and list again.
    pub api_assumed_missing: bool,
}

/// What the referrers API gave.
enum Api {
    Index(ReferrersIndex),
    /// No usable API; `assumed` when on a hint rather than an answer.
    Missing {
        assumed: bool,
    },
}

/// `Link: <url>; rel="next"` → the URL.
fn next_link(headers: &header::HeaderMap) -> Option<String> {
    let v = headers.get(header::LINK)?.to_str().ok()?;
    v.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// Is this error worth a second try (the registry stumbled, e.g. distribution's
/// HTTP 500 while another client rewrites a tag)?
pub fn is_transient(e: &RegistryError) -> bool {
    matches!(e.status(), Some(s) if s >= 500)
}

impl Client {
    /// GET a manifest, retrying a few times on 5xx answers.
    pub async fn get_manifest_retrying(
        &self,
        r: &Reference,
        push_scope: bool,
    ) -> Result<Option<super::Manifest>, RegistryError> {
        let mut attempt = 0;
        loop {
            match self.fetch_manifest(r, push_scope).await {
                Err(e) if is_transient(&e) && attempt < 5 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                }
                other => return other,
            }
        }
    }

    /// The referrers of `image`'s repository at `digest`: through the API when
    /// it answers 200 with the OCI index type, else from the fallback tag (as
    /// cosign does on 404, 400, 406 or another Content-Type).
    pub async fn list_referrers(
        &self,
        image: &Reference,
        digest: &str,
    ) -> Result<Referrers, RegistryError> {
        let assumed = match self.referrers_api(image, digest).await? {
            Api::Index(index) => {
                return Ok(Referrers {
                    source: ReferrersSource::Api,
                    index,
                    api_assumed_missing: false,
                });
            }
            Api::Missing { assumed } => assumed,
        };
        let (source, index) = match self.fallback_index(image, digest).await? {
            Some((index, _)) => (ReferrersSource::FallbackTag, index),
            None => (ReferrersSource::None, ReferrersIndex::default()),
        };
        Ok(Referrers {
            source,
            index,
            api_assumed_missing: assumed,
        })
    }

    /// Take it that `registry` has no referrers API, without asking, until
    /// [`Client::forget_referrers_hint`] or an answer of its own says otherwise:
    /// a hint kept from an earlier run ([`super::hints`]), which saves one
    /// request per invocation. Listings made on it say so
    /// ([`Referrers::api_assumed_missing`]).
    pub fn assume_no_referrers_api(&self, registry: &str) {
        self.with_host(registry, |h| {
            if h.referrers_api.is_none() {
                h.referrers_api = Some(false);
                h.referrers_assumed = true;
            }
        });
    }

    /// Drop a hint given by [`Client::assume_no_referrers_api`], so that the
    /// next listing asks the registry. An answer already had is kept.
    pub fn forget_referrers_hint(&self, registry: &str) {
        self.with_host(registry, |h| {
            if h.referrers_assumed {
                h.referrers_api = None;
                h.referrers_assumed = false;
            }
        });
    }

    /// What the registries themselves answered in this run about their
    /// referrers API (hints left out): `(registry, has_api)`.
    pub fn referrers_api_learnt(&self) -> Vec<(String, bool)> {
        let hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts
            .iter()
            .filter(|(_, h)| !h.referrers_assumed)
            .filter_map(|(r, h)| h.referrers_api.map(|a| (r.clone(), a)))
            .collect()
    }

    /// The API's answer, all pages, or `Missing` when the registry has no usable
    /// API. Whether it has one is learnt once per registry: while nobody knows,
    /// one image asks and the others wait for its answer (distribution 2.8 has
    /// no API, so a batch would otherwise pay one extra request per image).
    async fn referrers_api(&self, image: &Reference, digest: &str) -> Result<Api, RegistryError> {
        let known =
            |s: &Self| s.with_host(&image.registry, |h| (h.referrers_api, h.referrers_assumed));
        let _probing = match known(self) {
            (Some(false), assumed) => return Ok(Api::Missing { assumed }),
            (Some(true), _) => None,
            (None, _) => {
                let guard = self.referrers_probe.lock().await;
                match known(self) {
                    (Some(false), assumed) => return Ok(Api::Missing { assumed }),
                    (Some(true), _) => None,
                    (None, _) => Some(guard),
                }
            }
        };
        match self.referrers_pages(image, digest).await? {
            Some(index) => {
                self.with_host(&image.registry, |h| {
                    h.referrers_api = Some(true);
                    h.referrers_assumed = false;
                });
                Ok(Api::Index(index))
            }
            None => Ok(Api::Missing { assumed: false }),
        }
    }

    async fn referrers_pages(
        &self,
        image: &Reference,
        digest: &str,
    ) -> Result<Option<ReferrersIndex>, RegistryError> {
        let scope = scope_for(&image.repository, false);
        let mut path = format!("/v2/{}/referrers/{digest}", image.repository);
        let mut merged: Option<ReferrersIndex> = None;
        for _ in 0..MAX_PAGES {
            let resp = self
                .send(&image.registry, &scope, &|c, base| {
                    let url = if path.starts_with("http") {
                        path.clone()
                    } else {
                        format!("{base}{path}")
                    };
                    c.get(url).header(header::ACCEPT, OCI_INDEX)
                })
                .await?;
            let content_type = super::media_type(&resp);
            if resp.status() != StatusCode::OK || content_type != OCI_INDEX {
                if merged.is_some() {
                    // A later page failed: report it rather than a partial list.
                    check_status(resp, "GET").await?;
                    return Err(RegistryError::BadResponse {
                        url: path,
                        reason: format!("a referrers page has Content-Type {content_type:?}"),
                    });
                }
                // What cosign takes for "no API" (the OCI spec forbids a 404
                // from a registry that has one); an auth or server error
                // says nothing about the API, so the next image asks again.
                let status = resp.status();
                if matches!(status.as_u16(), 200 | 400 | 404 | 406) {
                    self.with_host(&image.registry, |h| {
                        h.referrers_api = Some(false);
                        h.referrers_assumed = false;
                    });
                }
                return Ok(None);
            }
            let url = resp.url().clone();
            let next = next_link(resp.headers());
            let body = read_limited(resp, MANIFEST_LIMIT).await?;
            let page = parse_index(&body).map_err(|reason| RegistryError::BadResponse {
                url: url.to_string(),
                reason,
            })?;
            match &mut merged {
                None => merged = Some(page),
                Some(m) => {
                    m.manifests.extend(page.manifests);
                    if m.manifests.len() > MAX_REFERRERS {
                        return Err(RegistryError::BadResponse {
                            url: url.to_string(),
                            reason: format!("more than {MAX_REFERRERS} referrers"),
                        });
                    }
                }
            }
            match next {
                Some(n) => {
                    path = url
                        .join(&n)
                        .map_err(|e| RegistryError::BadResponse {
                            url: url.to_string(),
                            reason: format!("bad Link {n:?}: {e}"),
                        })?
                        .to_string();
                }
                None => break,
            }
        }
        Ok(merged)
    }

    /// The fallback index and its raw manifest, or `None` when the tag is missing.
    pub async fn fallback_index(
        &self,
        image: &Reference,
        digest: &str,
    ) -> Result<Option<(ReferrersIndex, super::Manifest)>, RegistryError> {
        let tag = image.with_tag(&fallback_tag(digest));
        let Some(m) = self.get_manifest_retrying(&tag, true).await? else {
            return Ok(None);
        };
        let index = parse_index(&m.bytes).map_err(|reason| RegistryError::BadResponse {
            url: tag.to_string(),
            reason,
        })?;
        Ok(Some((index, m)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_round_trip_keeps_foreign_fields() {
        let d = format!("sha256:{}", "a".repeat(64));
        let text = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"m","size":3,"digest":"{d}","artifactType":"x","platform":{{"os":"linux"}}}}],"annotations":{{"k":"v"}}}}"#
        );
        let idx = parse_index(text.as_bytes()).unwrap();
        assert_eq!(idx.manifests.len(), 1);
        assert_eq!(idx.to_bytes(), Bytes::from(text));
    }

    #[test]
    fn bad_indexes_are_refused() {
        for bad in [
            "[]",
            "{}",
            r#"{"schemaVersion":2,"manifests":[{"digest":"sha256:00","mediaType":"m","size":1}]}"#,
            r#"{"schemaVersion":2,"manifests":{}}"#,
        ] {
            assert!(parse_index(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn link_header() {
        let mut h = header::HeaderMap::new();
        h.insert(
            header::LINK,
            "</v2/a/referrers/sha256:x?n=2>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("/v2/a/referrers/sha256:x?n=2")
        );
    }
}
