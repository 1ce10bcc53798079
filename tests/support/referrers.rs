//! Referrers pushed by hand, as a hostile or unusual signer would push them:
//! a manifest naming its subject, listed in the fallback tag's index (the
//! loopback registry has no referrers API).

use bytes::Bytes;
use harbor_lab::cosign::bundle::{self, BUNDLE_MEDIA_TYPE};
use harbor_lab::registry::manifest::{Descriptor, ImageManifest};
use harbor_lab::registry::referrers::fallback_tag;
use harbor_lab::registry::{OCI_INDEX, OCI_MANIFEST, Reference, sha256_digest};
use serde_json::{Value, json};

use super::bin::client;

/// Push `bundle_blob` as a referrer of `image` (at `digest`) and list it in the
/// fallback index (appending); `edit` may change the referrer manifest first.
/// Returns the referrer's digest.
pub async fn push_referrer_with(
    image: &str,
    digest: &str,
    bundle_blob: &[u8],
    edit: impl FnOnce(&mut ImageManifest),
) -> String {
    let r = Reference::parse(image).unwrap();
    let c = client();
    let served = c.get_manifest(&r).await.unwrap().unwrap();
    let subject = Descriptor {
        media_type: served.media_type.clone(),
        size: served.bytes.len() as i64,
        digest: digest.to_string(),
        data: None,
        urls: None,
        annotations: None,
        platform: None,
        artifact_type: None,
    };
    let mut m = bundle::referrer_manifest(subject, bundle_blob, "2026-11-30T00:00:00Z");
    edit(&mut m);
    c.put_blob(&r, &m.config.digest, Bytes::from_static(b"{}"))
        .await
        .unwrap();
    c.put_blob(
        &r,
        &sha256_digest(bundle_blob),
        Bytes::copy_from_slice(bundle_blob),
    )
    .await
    .unwrap();
    let bytes = serde_json::to_vec(&m).unwrap();
    let d = c
        .put_manifest(
            &r.with_digest(&sha256_digest(&bytes)),
            bytes.clone().into(),
            OCI_MANIFEST,
        )
        .await
        .unwrap();
    let tag = r.with_tag(&fallback_tag(digest));
    let mut index = match c.get_manifest(&tag).await.unwrap() {
        Some(m) => serde_json::from_slice::<Value>(&m.bytes).unwrap(),
        None => json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}),
    };
    index["manifests"].as_array_mut().unwrap().push(json!({
        "mediaType": OCI_MANIFEST, "size": bytes.len(), "digest": d, "artifactType": BUNDLE_MEDIA_TYPE
    }));
    c.put_manifest(&tag, serde_json::to_vec(&index).unwrap().into(), OCI_INDEX)
        .await
        .unwrap();
    d
}
