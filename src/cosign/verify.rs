//! Verification, as `cosign verify --key K --insecure-ignore-tlog`, in both
//! formats: every simple-signing layer of the `.sig` image and every sigstore
//! bundle among the referrers is checked on its own; one valid signature is
//! enough, and a bad one never stops the others.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use futures_util::future::join_all;
use p256::ecdsa::VerifyingKey;

use super::bundle::{self, BundleClaims};
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
        /// The accepted sigstore bundles.
        bundles: Vec<BundleClaims>,
    },
    /// The image exists but has no signature in any accepted format.
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
    B64.decode(signature_b64.trim())
        .is_ok_and(|raw| super::keys::signature_verifies(key, payload, &raw))
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

/// Which signature formats count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Accept {
    /// Only cosign 2's `.sig` layout.
    Legacy,
    /// Only sigstore bundles on OCI 1.1 referrers (cosign 3).
    Bundle,
    /// Either; one valid signature in either format is enough.
    #[default]
    Any,
}

impl Accept {
    fn legacy(self) -> bool {
        self != Accept::Bundle
    }
    fn bundle(self) -> bool {
        self != Accept::Legacy
    }
}

/// Verify `image` against `key`, in either format. `Err` is reserved for the
/// registry failing us; everything about the signatures themselves is in the
/// verdict.
pub async fn verify_image(
    client: &Client,
    key: &VerifyingKey,
    image: &Reference,
    required: &BTreeMap<String, String>,
) -> Result<Verdict, RegistryError> {
    verify_image_with(client, key, image, required, Accept::Any).await
}

/// What one format's candidates gave.
#[derive(Default)]
struct Outcome {
    payloads: Vec<SimpleSigning>,
    raw: Vec<Vec<u8>>,
    bundles: Vec<(String, BundleClaims)>,
    reasons: Vec<String>,
    /// How many signatures (valid or not) were found.
    candidates: usize,
    /// The bundles were looked for on a hint that the registry has no
    /// referrers API, without asking it.
    api_assumed: bool,
}

/// [`verify_image`], counting only the formats `accept` names. Every candidate
/// is judged on its own: unlike cosign 3, a bundle referrer (valid or junk)
/// never hides a valid `.sig` signature.
pub async fn verify_image_with(
    client: &Client,
    key: &VerifyingKey,
    image: &Reference,
    required: &BTreeMap<String, String>,
    accept: Accept,
) -> Result<Verdict, RegistryError> {
    let Some(manifest) = client.get_manifest(image).await? else {
        return Ok(Verdict::ImageNotFound);
    };
    verify_digest(client, key, image, manifest.digest, required, accept).await
}

/// [`verify_image_with`] for a manifest already fetched: `digest` is its
/// digest (`verify --tuf` has fetched the tag's manifest to compare it with
/// the pin, and does not fetch it twice).
pub async fn verify_digest(
    client: &Client,
    key: &VerifyingKey,
    image: &Reference,
    digest: String,
    required: &BTreeMap<String, String>,
    accept: Accept,
) -> Result<Verdict, RegistryError> {
    let look_for_bundles = || async {
        if accept.bundle() {
            check_bundles(client, key, image, &digest, required, false).await
        } else {
            Ok(Outcome::default())
        }
    };
    let (legacy, mut bundles) = futures_util::join!(
        async {
            if accept.legacy() {
                check_legacy(client, key, image, &digest, required).await
            } else {
                Ok(Outcome::default())
            }
        },
        look_for_bundles()
    );
    // A hint that the registry has no referrers API may speed up a pass, never
    // decide a failure: before saying no valid signature, ask the API.
    let passed = |o: &Result<Outcome, RegistryError>| {
        o.as_ref()
            .is_ok_and(|o| !o.payloads.is_empty() || !o.bundles.is_empty())
    };
    if bundles.as_ref().is_ok_and(|b| b.api_assumed) && !passed(&legacy) && !passed(&bundles) {
        client.forget_referrers_hint(&image.registry);
        bundles = look_for_bundles().await;
    }
    // A registry failure on one path does not hide a valid signature on the other.
    let (legacy, bundles) = match (legacy, bundles) {
        (Ok(l), Ok(b)) => (l, b),
        (Ok(l), Err(e)) | (Err(e), Ok(l)) if l.payloads.is_empty() && l.bundles.is_empty() => {
            return Err(e);
        }
        (Ok(l), Err(_)) | (Err(_), Ok(l)) => (l, Outcome::default()),
        (Err(e), Err(_)) => return Err(e),
    };
    let candidates = legacy.candidates + bundles.candidates;
    if legacy.payloads.is_empty() && bundles.bundles.is_empty() {
        if candidates == 0 {
            return Ok(Verdict::NoSignatures { digest });
        }
        let mut reasons = legacy.reasons;
        reasons.extend(bundles.reasons);
        return Ok(Verdict::NoValidSignature { digest, reasons });
    }
    Ok(Verdict::Verified {
        digest,
        payloads: legacy.payloads,
        raw: legacy.raw,
        bundles: bundles.bundles.into_iter().map(|(_, c)| c).collect(),
    })
}

/// Every simple-signing layer of the `.sig` image, checked in parallel.
async fn check_legacy(
    client: &Client,
    key: &VerifyingKey,
    image: &Reference,
    digest: &str,
    required: &BTreeMap<String, String>,
) -> Result<Outcome, RegistryError> {
    let sig_ref = image.with_tag(&super::signature_tag(digest));
    let Some(sig_manifest) = client.get_manifest(&sig_ref).await? else {
        return Ok(Outcome::default());
    };
    let parsed: ImageManifest = match serde_json::from_slice(&sig_manifest.bytes) {
        Ok(m) => m,
        Err(e) => {
            return Ok(Outcome {
                reasons: vec![format!("{sig_ref}: not an image manifest: {e}")],
                candidates: 1,
                ..Default::default()
            });
        }
    };
    let written = WrittenPayload::new(image, digest, required);
    let checks = parsed.layers.iter().enumerate().map(|(i, layer)| {
        let (sig_ref, written) = (&sig_ref, &written);
        async move {
            let blob = if layer.media_type != SIMPLE_SIGNING_MEDIA_TYPE {
                bytes::Bytes::new()
            } else if let Some(known) = written.named_by(layer) {
                known
            } else {
                client
                    .get_blob(sig_ref, &layer.digest, SIGNATURE_BLOB_LIMIT)
                    .await
                    .map_err(|e| format!("layer {}: {e}", i + 1))?
            };
            check_layer(key, layer, &blob, digest, required)
                .map(|p| (p, blob.to_vec()))
                .map_err(|r| format!("layer {}: {r}", i + 1))
        }
    });
    let mut out = Outcome {
        candidates: parsed.layers.len(),
        ..Default::default()
    };
    for result in join_all(checks).await {
        match result {
            Ok((p, b)) => {
                out.payloads.push(p);
                out.raw.push(b);
            }
            Err(r) => out.reasons.push(r),
        }
    }
    Ok(out)
}

/// The payload cosign 2 (and `sign`) writes for `digest` in `image`'s
/// repository with the `required` annotations, made once for all the layers
/// of a `.sig` image. A layer that names exactly these bytes (size and digest)
/// is not fetched: its digest proves they are the registry's blob, and every
/// check of the signature and claims still runs on them. Any other payload
/// (another name, other annotations) is fetched.
struct WrittenPayload {
    body: bytes::Bytes,
    digest: String,
}

impl WrittenPayload {
    fn new(image: &Reference, digest: &str, required: &BTreeMap<String, String>) -> Self {
        let body = bytes::Bytes::from(payload::build(&image.name(), digest, required));
        let digest = crate::digest::sha256_digest(&body);
        WrittenPayload { body, digest }
    }

    /// These bytes, if `layer` names them.
    fn named_by(&self, layer: &Descriptor) -> Option<bytes::Bytes> {
        let same = i64::try_from(self.body.len()).is_ok_and(|n| n == layer.size)
            && self.digest == layer.digest;
        same.then(|| self.body.clone())
    }
}

/// Every sigstore bundle among the image's referrers, checked in parallel.
/// Referrers that are not bundles (an SBOM, say) are skipped without a word.
/// With `exact`, the annotations must equal `required` (the duplicate check
/// of signing), not merely include them.
async fn check_bundles(
    client: &Client,
    key: &VerifyingKey,
    image: &Reference,
    digest: &str,
    required: &BTreeMap<String, String>,
    exact: bool,
) -> Result<Outcome, RegistryError> {
    let listing = client.list_referrers(image, digest).await?;
    let checks = listing.index.manifests.iter().map(|entry| async move {
        let short = &entry.digest[..entry.digest.len().min(19)];
        let why = |r: String| Some(Err(format!("bundle referrer {short}…: {r}")));
        let referrer = image.with_digest(&entry.digest);
        let manifest = match client.get_content_manifest(&referrer).await {
            Ok(Some(m)) => m,
            Ok(None) => {
                return why("listed in the referrers index but missing from the registry".into());
            }
            Err(e) => return why(e.to_string()),
        };
        let Ok(parsed) = serde_json::from_slice::<ImageManifest>(&manifest.bytes) else {
            let said_bundle = entry
                .artifact_type
                .as_deref()
                .is_some_and(|t| t.starts_with(bundle::BUNDLE_PREFIX));
            return said_bundle
                .then(|| Err(format!("bundle referrer {short}…: not an image manifest")));
        };
        if !bundle::looks_like_bundle(&parsed) {
            return None;
        }
        let layer = match bundle::bundle_layer(&parsed) {
            Ok(l) => l,
            Err(r) => return why(r),
        };
        let blob = match client
            .get_blob(&referrer, &layer.digest, bundle::BUNDLE_LIMIT)
            .await
        {
            Ok(b) => b,
            Err(RegistryError::DigestMismatch { .. }) => {
                return why("the bundle blob does not match its digest".into());
            }
            Err(e) => return why(e.to_string()),
        };
        match bundle::verify_bundle(key, &blob, digest, required) {
            Ok(c) if exact && !same_annotations(&c, required) => {
                why("other annotations than asked".into())
            }
            Ok(c) => Some(Ok((entry.digest.clone(), c))),
            Err(r) => why(r),
        }
    });
    let mut out = Outcome {
        api_assumed: listing.api_assumed_missing,
        ..Default::default()
    };
    for result in join_all(checks).await.into_iter().flatten() {
        out.candidates += 1;
        match result {
            Ok(b) => out.bundles.push(b),
            Err(r) => out.reasons.push(r),
        }
    }
    Ok(out)
}

fn same_annotations(c: &BundleClaims, want: &BTreeMap<String, String>) -> bool {
    c.annotations.len() == want.len()
        && want
            .iter()
            .all(|(k, v)| c.annotations.get(k).and_then(|x| x.as_str()) == Some(v.as_str()))
}

/// The digest of a bundle referrer already made by this key for `digest`
/// with exactly these annotations, if there is one.
pub async fn matching_bundle(
    client: &Client,
    key: &VerifyingKey,
    image: &Reference,
    digest: &str,
    annotations: &BTreeMap<String, String>,
) -> Result<Option<String>, RegistryError> {
    let out = check_bundles(client, key, image, digest, annotations, true).await?;
    Ok(out.bundles.into_iter().next().map(|(d, _)| d))
}

/// cosign's human header for a verified image (what `cosign verify` prints on
/// stderr), line by line.
/// With `bundles`, the lines cosign 3 prints for sigstore bundle signatures: its
/// tlog warning first and an offline-tlog line (printed by cosign even with
/// --insecure-ignore-tlog; we print the same lines so scripts see no difference).
pub fn header_lines_for(image: &Reference, with_annotations: bool, bundles: bool) -> Vec<String> {
    let mut out = header_lines(image, with_annotations);
    if bundles {
        out.insert(0, "WARNING: Skipping tlog verification is an insecure practice that lacks transparency and auditability verification for the signature.".to_string());
        let last = out.len() - 1;
        out.insert(
            last,
            "  - Existence of the claims in the transparency log was verified offline".to_string(),
        );
    }
    out
}

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
