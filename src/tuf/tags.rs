//! Tags as TUF targets: the target `<registry>/<repository>:<tag>` pins the
//! manifest (length and sha256) the tag must point to. Pinning checks the
//! cosign signature first; checking compares the registry's tag with the pin.

use std::collections::BTreeMap;

use p256::ecdsa::VerifyingKey;

use super::client::Updater;
use super::repo::Pin;
use super::{TufError, metadata::TargetFile};
use crate::cosign::verify::{Accept, Verdict, verify_digest, verify_image};
use crate::registry::{Client, Manifest, Reference, RegistryError};

/// The TUF target name of a tag.
pub fn target_name(image: &Reference) -> String {
    format!(
        "{}/{}:{}",
        image.registry,
        image.repository,
        image.tag.as_deref().unwrap_or("latest")
    )
}

/// Why a tag cannot be pinned.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("{image}: refusing to pin: image not found (no such tag)")]
    NotFound { image: String },
    #[error("{image}: refusing to pin {digest}: it has no cosign signature")]
    Unsigned { image: String, digest: String },
    #[error("{image}: refusing to pin {digest}: no signature verifies with the key ({reasons})")]
    BadSignature {
        image: String,
        digest: String,
        reasons: String,
    },
    #[error("{image}: give a tag to pin, not a digest")]
    Digest { image: String },
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// Resolve each tag to its manifest and require a signature by `key` on it.
pub async fn resolve_pins(
    client: &Client,
    key: &VerifyingKey,
    images: &[Reference],
) -> Result<Vec<Pin>, PinError> {
    let mut pins = Vec::new();
    for image in images {
        if image.digest.is_some() {
            return Err(PinError::Digest {
                image: image.to_string(),
            });
        }
        let Some(manifest) = client.get_manifest(image).await? else {
            return Err(PinError::NotFound {
                image: image.to_string(),
            });
        };
        let at_digest = image.with_digest(&manifest.digest);
        match verify_image(client, key, &at_digest, &BTreeMap::new()).await? {
            Verdict::Verified { .. } => {}
            Verdict::NoSignatures { digest } => {
                return Err(PinError::Unsigned {
                    image: image.to_string(),
                    digest,
                });
            }
            Verdict::NoValidSignature { digest, reasons } => {
                return Err(PinError::BadSignature {
                    image: image.to_string(),
                    digest,
                    reasons: reasons.join("; "),
                });
            }
            Verdict::ImageNotFound => {
                return Err(PinError::NotFound {
                    image: image.to_string(),
                });
            }
        }
        pins.push(Pin {
            name: target_name(image),
            length: manifest.bytes.len() as u64,
            sha256: manifest.digest.trim_start_matches("sha256:").to_string(),
            media_type: manifest.media_type.clone(),
        });
    }
    Ok(pins)
}

/// What TUF says about one tag, against the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// The tag points where TUF pins it: verify the signature on this digest.
    Fresh {
        digest: String,
    },
    NotPinned,
    TagMoved {
        registry: String,
        tuf_version: u64,
        pinned: String,
    },
    ImageNotFound,
}

impl Freshness {
    pub fn message(&self, image: &Reference) -> String {
        match self {
            Freshness::Fresh { digest } => format!("{image}: pinned at {digest}"),
            Freshness::NotPinned => format!(
                "{image}: not pinned: the TUF targets have no {}",
                target_name(image)
            ),
            Freshness::TagMoved {
                registry,
                tuf_version,
                pinned,
            } => format!(
                "{image}: tag moved: registry has {registry}, TUF version {tuf_version} says {pinned}"
            ),
            Freshness::ImageNotFound => format!("{image}: image not found (no such tag)"),
        }
    }
}

fn pinned_digest(t: &TargetFile) -> Option<String> {
    t.hashes
        .get("sha256")
        .and_then(|h| h.as_str())
        .map(|h| format!("sha256:{h}"))
}

/// The TUF target of each tag, in order (`None`: not pinned). Reads only
/// what the refresh left trusted, plus delegated roles a search reaches.
pub async fn targets_for(
    updater: &mut Updater<'_>,
    images: &[Reference],
) -> Result<Vec<Option<TargetFile>>, TufError> {
    let mut out = Vec::with_capacity(images.len());
    for image in images {
        out.push(updater.target(&target_name(image)).await?);
    }
    Ok(out)
}

/// Compare what the registry serves for a tag with its TUF target.
pub fn judge(target: Option<&TargetFile>, manifest: Option<&Manifest>, version: u64) -> Freshness {
    let Some(target) = target else {
        return Freshness::NotPinned;
    };
    let Some(manifest) = manifest else {
        return Freshness::ImageNotFound;
    };
    let pinned = pinned_digest(target).unwrap_or_default();
    if manifest.digest != pinned || manifest.bytes.len() as u64 != target.length {
        Freshness::TagMoved {
            registry: manifest.digest.clone(),
            tuf_version: version,
            pinned,
        }
    } else {
        Freshness::Fresh {
            digest: manifest.digest.clone(),
        }
    }
}

/// Check one tag against its target, then (when fresh) the cosign signature
/// on the pinned digest. One manifest request, as plain verification makes.
pub async fn verify_fresh(
    client: &Client,
    key: &VerifyingKey,
    image: &Reference,
    target: Option<&TargetFile>,
    version: u64,
    required: &BTreeMap<String, String>,
    accept: Accept,
) -> Result<(Freshness, Option<Verdict>), RegistryError> {
    if target.is_none() {
        return Ok((Freshness::NotPinned, None));
    }
    let manifest = client.get_manifest(image).await?;
    let freshness = judge(target, manifest.as_ref(), version);
    let Freshness::Fresh { digest } = &freshness else {
        return Ok((freshness, None));
    };
    let verdict = verify_digest(client, key, image, digest.clone(), required, accept).await?;
    Ok((freshness, Some(verdict)))
}
