//! TUF metadata kept in the registry itself: one image whose layers are the
//! metadata files (media type `application/vnd.tuf.metadata+json`, each
//! annotated `tuf.io/filename`), as docker/attest keeps it. A reader maps a file
//! name to its layer and fetches the blob.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::{FILENAME_ANNOTATION, METADATA_MEDIA_TYPE, TufError};
use crate::registry::manifest::{Descriptor, ImageManifest};
use crate::registry::{Client, OCI_MANIFEST, Reference, sha256_digest};

/// The empty config of OCI 1.1 artifacts.
const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";

/// Where the metadata image lives: `oci://HOST/PROJECT/REPO[:tag]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciLocation {
    pub reference: Reference,
}

impl OciLocation {
    /// Parse `oci://HOST/REPO[:tag]`; no tag means `latest`.
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("oci://")
            .ok_or_else(|| format!("{url:?} does not start with oci://"))?;
        if rest.contains('@') {
            return Err(format!(
                "{url:?}: give the metadata image by tag, not by digest"
            ));
        }
        let rest = rest.trim_end_matches('/');
        if !rest.contains('/') {
            return Err(format!(
                "{url:?} needs a repository: oci://HOST/PROJECT/REPO[:tag]"
            ));
        }
        let mut reference = Reference::parse(rest).map_err(|e| e.to_string())?;
        if reference.tag.is_none() {
            reference.tag = Some("latest".into());
        }
        Ok(OciLocation { reference })
    }

    /// The canonical URL of this location (always with its tag).
    pub fn url(&self) -> String {
        format!(
            "oci://{}/{}:{}",
            self.reference.registry,
            self.reference.repository,
            self.reference.tag.as_deref().unwrap_or("latest")
        )
    }
}

fn remote(loc: &OciLocation, e: impl std::fmt::Display) -> TufError {
    TufError::Fetch {
        url: loc.url(),
        detail: e.to_string(),
    }
}

/// Push `files` (name, bytes) as the metadata image at `loc`.
pub async fn publish(
    client: &Client,
    loc: &OciLocation,
    files: &[(String, Vec<u8>)],
) -> Result<String, TufError> {
    let r = &loc.reference;
    let empty = Bytes::from_static(b"{}");
    let empty_digest = sha256_digest(&empty);
    client
        .put_blob(r, &empty_digest, empty.clone())
        .await
        .map_err(|e| remote(loc, e))?;
    let mut layers = Vec::new();
    for (name, data) in files {
        let digest = sha256_digest(data);
        client
            .put_blob(r, &digest, Bytes::from(data.clone()))
            .await
            .map_err(|e| remote(loc, e))?;
        layers.push(Descriptor {
            media_type: METADATA_MEDIA_TYPE.into(),
            size: data.len() as i64,
            digest,
            data: None,
            urls: None,
            annotations: Some(BTreeMap::from([(
                FILENAME_ANNOTATION.to_string(),
                name.clone(),
            )])),
            platform: None,
            artifact_type: None,
        });
    }
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        config: Descriptor {
            media_type: EMPTY_MEDIA_TYPE.into(),
            size: empty.len() as i64,
            digest: empty_digest,
            data: None,
            urls: None,
            annotations: None,
            platform: None,
            artifact_type: None,
        },
        layers,
        annotations: None,
        subject: None,
        artifact_type: Some(METADATA_MEDIA_TYPE.into()),
    };
    let bytes = serde_json::to_vec(&manifest)
        .map_err(|e| TufError::Invalid(format!("metadata manifest: {e}")))?;
    client
        .put_manifest(r, Bytes::from(bytes), OCI_MANIFEST)
        .await
        .map_err(|e| remote(loc, e))
}

/// The file name to layer map of the metadata image, or `None` when the image
/// does not exist.
pub async fn index(
    client: &Client,
    loc: &OciLocation,
) -> Result<Option<BTreeMap<String, Descriptor>>, TufError> {
    let Some(m) = client
        .get_manifest(&loc.reference)
        .await
        .map_err(|e| remote(loc, e))?
    else {
        return Ok(None);
    };
    let parsed: ImageManifest = serde_json::from_slice(&m.bytes)
        .map_err(|e| remote(loc, format!("not an image manifest: {e}")))?;
    Ok(Some(
        parsed
            .layers
            .into_iter()
            .filter(|l| l.media_type == METADATA_MEDIA_TYPE)
            .filter_map(|l| {
                let name = l.annotations.as_ref()?.get(FILENAME_ANNOTATION)?.clone();
                Some((name, l))
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let l = OciLocation::parse("oci://127.0.0.1:5055/lab/tuf-metadata").unwrap();
        assert_eq!(l.url(), "oci://127.0.0.1:5055/lab/tuf-metadata:latest");
        let l = OciLocation::parse("oci://h:1/p/r:v2").unwrap();
        assert_eq!(l.reference.tag.as_deref(), Some("v2"));
        assert!(OciLocation::parse("oci://h").is_err());
        assert!(OciLocation::parse("http://h/p").is_err());
    }
}
