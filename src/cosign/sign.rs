//! Signing: resolve the image digest, build the payload, sign it, and append a
//! layer to the `.sig` image (never replacing what is there).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{DerSignature, SigningKey};

use super::payload::{self, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE};
use super::verify::signature_matches;
use crate::registry::manifest::{ConfigFile, Descriptor, ImageManifest};
use crate::registry::{
    Client, OCI_MANIFEST, Reference, RegistryError, SIGNATURE_BLOB_LIMIT, sha256_digest,
};

pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// cosign caps a signature image at this many layers.
pub const MAX_LAYERS: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error(
        "image {0} not found in the registry (no such tag or digest); push it first, or check the name"
    )]
    ImageNotFound(String),
    #[error("{image}: {source}")]
    Registry {
        image: String,
        #[source]
        source: RegistryError,
    },
    #[error("{image}: the existing signature manifest {tag} is not usable: {reason}")]
    BadSignatureImage {
        image: String,
        tag: String,
        reason: String,
    },
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Signed {
    /// The reference as given.
    pub image: String,
    /// The manifest digest that was signed.
    pub digest: String,
    /// Where the signature lives (`repo:sha256-<hex>.sig`).
    pub signature: String,
    /// false when an identical signature by this key was already there.
    pub added: bool,
}

/// Sign one image with `key`. Safe to call concurrently for different images.
pub async fn sign_image(
    client: &Client,
    key: &SigningKey,
    image: &Reference,
    annotations: &BTreeMap<String, String>,
) -> Result<Signed, SignError> {
    let reg = |source| SignError::Registry {
        image: image.to_string(),
        source,
    };
    let digest = match &image.digest {
        Some(d) => d.clone(),
        None => {
            client
                .get_manifest_for_push(image)
                .await
                .map_err(reg)?
                .ok_or_else(|| SignError::ImageNotFound(image.to_string()))?
                .digest
        }
    };
    let payload = payload::build(&image.name(), &digest, annotations);
    let payload_digest = sha256_digest(&payload);
    let sig_ref = image.with_tag(&super::signature_tag(&digest));

    let existing = client.get_manifest_for_push(&sig_ref).await.map_err(reg)?;
    let bad = |reason: String| SignError::BadSignatureImage {
        image: image.to_string(),
        tag: sig_ref.to_string(),
        reason,
    };
    let (mut manifest, mut config) = match existing {
        None => (empty_signature_manifest(), ConfigFile::empty()),
        Some(m) => {
            let parsed: ImageManifest = serde_json::from_slice(&m.bytes)
                .map_err(|e| bad(format!("not an image manifest: {e}")))?;
            let vk = key.verifying_key();
            let duplicate = parsed.layers.iter().any(|l| {
                l.media_type == SIMPLE_SIGNING_MEDIA_TYPE
                    && l.digest == payload_digest
                    && only_signature_annotation(l)
                    && l.annotations
                        .as_ref()
                        .and_then(|a| a.get(SIGNATURE_ANNOTATION))
                        .is_some_and(|s| signature_matches(vk, &payload, s))
            });
            if duplicate {
                return Ok(Signed {
                    image: image.to_string(),
                    digest,
                    signature: sig_ref.to_string(),
                    added: false,
                });
            }
            if parsed.layers.len() >= MAX_LAYERS {
                return Err(bad(format!("it already has {MAX_LAYERS} layers")));
            }
            let config_bytes = client
                .get_blob(&sig_ref, &parsed.config.digest, SIGNATURE_BLOB_LIMIT)
                .await
                .map_err(reg)?;
            let config: ConfigFile = serde_json::from_slice(&config_bytes)
                .map_err(|e| bad(format!("its config is not an image config: {e}")))?;
            (parsed, config)
        }
    };

    let signature: DerSignature = key.sign(&payload);
    let mut layer_annotations = BTreeMap::new();
    layer_annotations.insert(
        SIGNATURE_ANNOTATION.to_string(),
        B64.encode(signature.as_bytes()),
    );
    let payload = Bytes::from(payload);
    client
        .put_blob(&sig_ref, &payload_digest, payload.clone())
        .await
        .map_err(reg)?;

    config.append_layer(&payload_digest);
    let config_bytes = Bytes::from(serde_json::to_vec(&config).expect("config serialises"));
    let config_digest = sha256_digest(&config_bytes);
    client
        .put_blob(&sig_ref, &config_digest, config_bytes.clone())
        .await
        .map_err(reg)?;

    manifest.media_type = Some(OCI_MANIFEST.to_string());
    manifest.config.media_type = OCI_CONFIG.to_string();
    manifest.config.size = config_bytes.len() as i64;
    manifest.config.digest = config_digest;
    manifest.layers.push(Descriptor {
        media_type: SIMPLE_SIGNING_MEDIA_TYPE.to_string(),
        size: payload.len() as i64,
        digest: payload_digest,
        data: None,
        urls: None,
        annotations: Some(layer_annotations),
        platform: None,
        artifact_type: None,
    });
    let manifest_bytes = Bytes::from(serde_json::to_vec(&manifest).expect("manifest serialises"));
    client
        .put_manifest(&sig_ref, manifest_bytes, OCI_MANIFEST)
        .await
        .map_err(reg)?;
    Ok(Signed {
        image: image.to_string(),
        digest,
        signature: sig_ref.to_string(),
        added: true,
    })
}

fn only_signature_annotation(l: &Descriptor) -> bool {
    l.annotations
        .as_ref()
        .is_some_and(|a| a.keys().all(|k| k == SIGNATURE_ANNOTATION))
}

fn empty_signature_manifest() -> ImageManifest {
    ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_string()),
        config: Descriptor {
            media_type: OCI_CONFIG.to_string(),
            size: 0,
            digest: String::new(),
            data: None,
            urls: None,
            annotations: None,
            platform: None,
            artifact_type: None,
        },
        layers: Vec::new(),
        annotations: None,
        subject: None,
        artifact_type: None,
    }
}
