//! Verification, as `cosign verify --key K --insecure-ignore-tlog`: every
//! simple-signing layer of the `.sig` image is checked on its own; one valid
//! layer is enough, and a bad layer never stops the others.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use futures_util::future::join_all;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{DerSignature, Signature, VerifyingKey};

use super::payload::{self, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, SimpleSigning};
use crate::registry::manifest::{Descriptor, ImageManifest};
use crate::registry::{Client, Reference, RegistryError, SIGNATURE_BLOB_LIMIT};

/// The result of verifying one image.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// At least one layer verified; the accepted payloads, parsed and raw.
    Verified {
        digest: String,
        payloads: Vec<SimpleSigning>,
        raw: Vec<Vec<u8>>,
    },
    /// The image exists but has no `.sig` image.
    NoSignatures { digest: String },
    /// There are signatures but none is valid; one reason per layer.
    NoValidSignature {
        digest: String,
        reasons: Vec<String>,
    },
    /// The tag or digest does not exist.
    ImageNotFound,
}

/// Check one signature annotation (base64 DER, or P1363 as newer cosign accepts)
/// over `payload`.
pub fn signature_matches(key: &VerifyingKey, payload: &[u8], signature_b64: &str) -> bool {
    let Ok(raw) = B64.decode(signature_b64.trim()) else {
        return false;
    };
    if let Ok(sig) = DerSignature::from_bytes(&raw) {
        return key.verify(payload, &sig).is_ok();
    }
    Signature::from_slice(&raw).is_ok_and(|sig| key.verify(payload, &sig).is_ok())
}

/// Check one layer whose blob has been fetched. `Err` is the rejection reason.
pub fn check_layer(
    key: &VerifyingKey,
    layer: &Descriptor,
    blob: &[u8],
    expected_digest: &str,
    required: &BTreeMap<String, String>,
) -> Result<SimpleSigning, String> {
    if layer.media_type != SIMPLE_SIGNING_MEDIA_TYPE {
        return Err(format!(
            "media type {:?} is not a simple-signing payload",
            layer.media_type
        ));
    }
    let sig = layer
        .annotations
        .as_ref()
        .and_then(|a| a.get(SIGNATURE_ANNOTATION))
        .ok_or_else(|| format!("no {SIGNATURE_ANNOTATION} annotation"))?;
    if B64.decode(sig.trim()).is_err() {
        return Err("the signature annotation is not base64".into());
    }
    if !signature_matches(key, blob, sig) {
        return Err("invalid signature: not made by this key, or the payload was changed".into());
    }
    let mut claims =
        payload::check_claims(blob, expected_digest, required).map_err(|e| e.to_string())?;
    // cosign reports a Rekor bundle carried by the layer as optional.Bundle.
    if let Some(bundle) = layer
        .annotations
        .as_ref()
        .and_then(|a| a.get(payload::BUNDLE_ANNOTATION))
        .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
    {
        claims
            .optional
            .get_or_insert_with(Default::default)
            .insert("Bundle".into(), bundle);
    }
    Ok(claims)
}

/// Verify `image` against `key`. `Err` is reserved for the registry failing us;
/// everything about the signatures themselves is in the verdict.
pub async fn verify_image(
    client: &Client,
    key: &VerifyingKey,
    image: &Reference,
    required: &BTreeMap<String, String>,
) -> Result<Verdict, RegistryError> {
    let Some(manifest) = client.get_manifest(image).await? else {
        return Ok(Verdict::ImageNotFound);
    };
    let digest = manifest.digest;
    let sig_ref = image.with_tag(&super::signature_tag(&digest));
    let Some(sig_manifest) = client.get_manifest(&sig_ref).await? else {
        return Ok(Verdict::NoSignatures { digest });
    };
    let parsed: ImageManifest = match serde_json::from_slice(&sig_manifest.bytes) {
        Ok(m) => m,
        Err(e) => {
            return Ok(Verdict::NoValidSignature {
                digest,
                reasons: vec![format!("{sig_ref}: not an image manifest: {e}")],
            });
        }
    };
    if parsed.layers.is_empty() {
        return Ok(Verdict::NoSignatures { digest });
    }
    let checks = parsed.layers.iter().enumerate().map(|(i, layer)| {
        let sig_ref = &sig_ref;
        let digest = &digest;
        async move {
            let blob = if layer.media_type == SIMPLE_SIGNING_MEDIA_TYPE {
                client
                    .get_blob(sig_ref, &layer.digest, SIGNATURE_BLOB_LIMIT)
                    .await
                    .map_err(|e| format!("layer {}: {e}", i + 1))?
            } else {
                bytes::Bytes::new()
            };
            check_layer(key, layer, &blob, digest, required)
                .map(|p| (p, blob.to_vec()))
                .map_err(|r| format!("layer {}: {r}", i + 1))
        }
    });
    let mut payloads = Vec::new();
    let mut raw = Vec::new();
    let mut reasons = Vec::new();
    for result in join_all(checks).await {
        match result {
            Ok((p, b)) => {
                payloads.push(p);
                raw.push(b);
            }
            Err(r) => reasons.push(r),
        }
    }
    if payloads.is_empty() {
        Ok(Verdict::NoValidSignature { digest, reasons })
    } else {
        Ok(Verdict::Verified {
            digest,
            payloads,
            raw,
        })
    }
}

/// cosign's human header for a verified image (what `cosign verify` prints on
/// stderr), line by line.
pub fn header_lines(image: &Reference, with_annotations: bool) -> Vec<String> {
    let mut out = vec![
        String::new(),
        format!("Verification for {image} --"),
        "The following checks were performed on each of these signatures:".to_string(),
    ];
    if with_annotations {
        out.push("  - The specified annotations were verified.".to_string());
    }
    out.push("  - The cosign claims were validated".to_string());
    out.push("  - The signatures were verified against the specified public key".to_string());
    out
}
