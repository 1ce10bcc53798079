//! Sigstore bundle signatures, as cosign 3 writes them by default: an in-toto
//! statement about the image digest, signed in a DSSE envelope (over PAE),
//! wrapped in a v0.3 bundle that names the public key by a hint. The bundle is
//! the one layer of an OCI 1.1 referrer manifest whose `subject` is the image.
//!
//! Parsing is as strict as cosign's (protojson): unknown fields are refused.
//! Verification is stricter in one way: only the cosign *signature* predicate
//! counts, never an attestation made with the same key.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{
    STANDARD as B64, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::pkcs8::EncodePublicKey as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::registry::manifest::{Descriptor, ImageManifest};
use crate::registry::{OCI_MANIFEST, sha256_digest};

/// The v0.3 bundle media type, as a layer type, an artifact type and in the bundle.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The other spelling of v0.3 that sigstore accepts inside a bundle.
const BUNDLE_MEDIA_TYPE_PARAM: &str = "application/vnd.dev.sigstore.bundle+json;version=0.3";
/// What every sigstore bundle media type starts with (how cosign spots one).
pub const BUNDLE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// The predicate type of a cosign image signature (an attestation has another).
pub const SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The empty config blob, `{}`.
pub const EMPTY_CONFIG: &[u8] = b"{}";
pub const CONTENT_ANNOTATION: &str = "dev.sigstore.bundle.content";
pub const PREDICATE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";
/// Largest bundle blob we read (a signature bundle is about 1 KiB).
pub const BUNDLE_LIMIT: usize = 1 << 20;

/// DSSE's pre-authentication encoding: what is actually signed.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The key hint cosign writes: base64 of the SHA-256 of the DER public key.
pub fn key_hint(key: &VerifyingKey) -> String {
    use sha2::Digest as _;
    let der = key
        .to_public_key_der()
        .expect("a P-256 key has a DER encoding");
    B64.encode(sha2::Sha256::digest(der.as_bytes()))
}

// ---------------------------------------------------------------------------
// The documents, strictly (protojson refuses unknown fields; it also takes the
// proto field names, hence the snake_case aliases).

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Bundle {
    pub media_type: String,
    #[serde(alias = "verification_material")]
    pub verification_material: VerificationMaterial,
    #[serde(alias = "dsse_envelope", skip_serializing_if = "Option::is_none")]
    pub dsse_envelope: Option<Envelope>,
    #[serde(alias = "message_signature", skip_serializing_if = "Option::is_none")]
    pub message_signature: Option<Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerificationMaterial {
    #[serde(alias = "public_key", skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKeyIdentifier>,
    #[serde(
        alias = "x509_certificate_chain",
        skip_serializing_if = "Option::is_none"
    )]
    pub x509_certificate_chain: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<Value>,
    #[serde(alias = "tlog_entries", skip_serializing_if = "Option::is_none")]
    pub tlog_entries: Option<Vec<Value>>,
    #[serde(
        alias = "timestamp_verification_data",
        skip_serializing_if = "Option::is_none"
    )]
    pub timestamp_verification_data: Option<Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PublicKeyIdentifier {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hint: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Envelope {
    /// base64 of the statement bytes.
    pub payload: String,
    #[serde(alias = "payload_type")]
    pub payload_type: String,
    #[serde(default)]
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSignature {
    /// base64 of the ASN.1 DER ECDSA signature over PAE.
    pub sig: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub keyid: String,
}

/// An in-toto statement (v1 shape; v0.1 parses too and fails the `_type` check).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub kind: String,
    #[serde(default)]
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType", alias = "predicate_type", default)]
    pub predicate_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<Value>,
}

/// An in-toto resource descriptor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Subject {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default)]
    pub digest: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(
        alias = "download_location",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub download_location: Option<String>,
    #[serde(alias = "media_type", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Map<String, Value>>,
}

pub fn parse_bundle(bytes: &[u8]) -> Result<Bundle, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("not a sigstore bundle: {e}"))
}

pub fn parse_statement(bytes: &[u8]) -> Result<Statement, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("the statement is not in-toto JSON: {e}"))
}

// ---------------------------------------------------------------------------
// Writing.

/// The statement cosign 3 signs for `digest` (`sha256:<hex>`), annotations on
/// the subject.
pub fn build_statement(digest: &str, annotations: &BTreeMap<String, String>) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    let mut subject = Map::new();
    subject.insert("digest".into(), serde_json::json!({ "sha256": hex }));
    if !annotations.is_empty() {
        let a: Map<String, Value> = annotations
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        subject.insert("annotations".into(), Value::Object(a));
    }
    let statement = serde_json::json!({
        "_type": STATEMENT_V1,
        "subject": [subject],
        "predicateType": SIGN_PREDICATE,
        "predicate": {},
    });
    serde_json::to_vec(&statement).expect("a statement serialises")
}

/// Sign `statement` and wrap it: the bundle blob's bytes.
pub fn build_bundle(key: &SigningKey, statement: &[u8]) -> Vec<u8> {
    let signature: DerSignature = key.sign(&pae(IN_TOTO_PAYLOAD_TYPE, statement));
    let bundle = Bundle {
        media_type: BUNDLE_MEDIA_TYPE.into(),
        verification_material: VerificationMaterial {
            public_key: Some(PublicKeyIdentifier {
                hint: key_hint(key.verifying_key()),
            }),
            ..Default::default()
        },
        dsse_envelope: Some(Envelope {
            payload: B64.encode(statement),
            payload_type: IN_TOTO_PAYLOAD_TYPE.into(),
            signatures: vec![EnvelopeSignature {
                sig: B64.encode(signature.as_bytes()),
                keyid: String::new(),
            }],
        }),
        message_signature: None,
    };
    serde_json::to_vec(&bundle).expect("a bundle serialises")
}

/// The referrer manifest that carries `bundle` for `subject`.
pub fn referrer_manifest(subject: Descriptor, bundle: &[u8], created: &str) -> ImageManifest {
    let descriptor = |media_type: &str, data: &[u8], artifact_type: Option<&str>| Descriptor {
        media_type: media_type.into(),
        size: data.len() as i64,
        digest: sha256_digest(data),
        data: None,
        urls: None,
        annotations: None,
        platform: None,
        artifact_type: artifact_type.map(str::to_string),
    };
    ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        config: descriptor(EMPTY_MEDIA_TYPE, EMPTY_CONFIG, Some(BUNDLE_MEDIA_TYPE)),
        layers: vec![descriptor(BUNDLE_MEDIA_TYPE, bundle, None)],
        annotations: Some(BTreeMap::from([
            (CONTENT_ANNOTATION.into(), "dsse-envelope".into()),
            (PREDICATE_ANNOTATION.into(), SIGN_PREDICATE.into()),
            (CREATED_ANNOTATION.into(), created.into()),
        ])),
        subject: Some(subject),
        artifact_type: Some(BUNDLE_MEDIA_TYPE.into()),
    }
}

// ---------------------------------------------------------------------------
// Reading.

/// Is this referrer manifest meant to be a sigstore bundle? (Anything else, an
/// SBOM say, is not a signature and is skipped without a word.)
pub fn looks_like_bundle(m: &ImageManifest) -> bool {
    let is = |t: &str| t.starts_with(BUNDLE_PREFIX);
    m.artifact_type.as_deref().is_some_and(is)
        || is(&m.config.media_type)
        || m.config.artifact_type.as_deref().is_some_and(is)
        || m.layers.iter().any(|l| is(&l.media_type))
}

/// The one bundle layer of a referrer manifest, or why there is none.
pub fn bundle_layer(m: &ImageManifest) -> Result<&Descriptor, String> {
    match m.layers.as_slice() {
        [l] if l.media_type.starts_with(BUNDLE_PREFIX) => Ok(l),
        [l] => Err(format!(
            "its layer has media type {:?}, not a sigstore bundle",
            l.media_type
        )),
        ls => Err(format!(
            "it has {} layers; a bundle referrer has exactly one",
            ls.len()
        )),
    }
}

/// What a verified bundle says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BundleClaims {
    pub digest: String,
    pub predicate_type: String,
    /// The annotations of the subject that matched the image.
    pub annotations: Map<String, Value>,
}

impl BundleClaims {
    /// The object cosign 3 prints for a verified bundle; `reference` is the
    /// image as the user gave it.
    pub fn cosign_output(&self, reference: &str) -> Value {
        let mut optional = Map::new();
        let sorted: BTreeMap<&String, &Value> = self.annotations.iter().collect();
        for (k, v) in sorted {
            optional.insert(k.clone(), v.clone());
        }
        serde_json::json!({
            "critical": {
                "identity": {"docker-reference": reference},
                "image": {"docker-manifest-digest": self.digest},
                "type": self.predicate_type,
            },
            "optional": optional,
        })
    }
}

fn decode_b64(s: &str) -> Option<Vec<u8>> {
    // protojson accepts standard and URL-safe base64, padded or not.
    [B64, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(s).ok())
}

fn signature_verifies(key: &VerifyingKey, message: &[u8], raw: &[u8]) -> bool {
    if let Ok(sig) = DerSignature::from_bytes(raw) {
        return key.verify(message, &sig).is_ok();
    }
    Signature::from_slice(raw).is_ok_and(|sig| key.verify(message, &sig).is_ok())
}

/// Check a bundle blob against `key`, the image `digest` (`sha256:<hex>`) and
/// the annotations the user requires. `Err` is the rejection reason.
pub fn verify_bundle(
    key: &VerifyingKey,
    blob: &[u8],
    digest: &str,
    required: &BTreeMap<String, String>,
) -> Result<BundleClaims, String> {
    let bundle = parse_bundle(blob)?;
    if bundle.media_type != BUNDLE_MEDIA_TYPE && bundle.media_type != BUNDLE_MEDIA_TYPE_PARAM {
        return Err(format!(
            "bundle media type {:?} is not v0.3",
            bundle.media_type
        ));
    }
    let material = &bundle.verification_material;
    if material.x509_certificate_chain.is_some() || material.certificate.is_some() {
        return Err(
            "the bundle carries a certificate (keyless); only public-key bundles are verified with --key"
                .into(),
        );
    }
    let envelope = bundle
        .dsse_envelope
        .as_ref()
        .ok_or("the bundle has no DSSE envelope (a message signature is not an image signature)")?;
    let [signature] = envelope.signatures.as_slice() else {
        return Err(format!(
            "the DSSE envelope has {} signatures; exactly one is expected",
            envelope.signatures.len()
        ));
    };
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(format!(
            "DSSE payloadType {:?} is not {IN_TOTO_PAYLOAD_TYPE}",
            envelope.payload_type
        ));
    }
    let payload = decode_b64(&envelope.payload).ok_or("the DSSE payload is not base64")?;
    let sig = decode_b64(&signature.sig).ok_or("the DSSE signature is not base64")?;
    if !signature_verifies(key, &pae(&envelope.payload_type, &payload), &sig) {
        return Err("invalid signature: not made by this key, or the statement was changed".into());
    }
    let statement = parse_statement(&payload)?;
    if statement.kind != STATEMENT_V1 {
        return Err(format!(
            "statement _type {:?} is not {STATEMENT_V1}",
            statement.kind
        ));
    }
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    let subject = statement
        .subject
        .iter()
        .find(|s| s.digest.get("sha256").is_some_and(|d| d == hex))
        .ok_or_else(|| format!("no subject of the statement has the image digest {digest}"))?;
    if statement.predicate_type != SIGN_PREDICATE {
        return Err(format!(
            "predicate type {:?} is not a cosign signature ({SIGN_PREDICATE}); an attestation is not a signature",
            statement.predicate_type
        ));
    }
    let annotations = subject.annotations.clone().unwrap_or_default();
    for (k, want) in required {
        match annotations.get(k) {
            Some(Value::String(v)) if v == want => {}
            Some(other) => {
                return Err(format!(
                    "annotation {k}: the signature has {other}, not {want:?}"
                ));
            }
            None => return Err(format!("annotation {k} is missing from the signature")),
        }
    }
    Ok(BundleClaims {
        digest: digest.to_string(),
        predicate_type: statement.predicate_type,
        annotations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_slice(&[7u8; 32]).unwrap()
    }

    const D: &str = "sha256:be810f5610e81475ddaee2f143f1e16814a0b8c5270ff2dd4e0e339cd585776d";

    #[test]
    fn pae_is_dsse_v1() {
        assert_eq!(
            pae("a/b", b"hi"),
            b"DSSEv1 3 a/b 2 hi".to_vec(),
            "lengths are decimal byte counts"
        );
    }

    #[test]
    fn statement_is_cosign_shaped() {
        let a = BTreeMap::from([("foo".to_string(), "bar".to_string())]);
        assert_eq!(
            String::from_utf8(build_statement(D, &a)).unwrap(),
            r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"be810f5610e81475ddaee2f143f1e16814a0b8c5270ff2dd4e0e339cd585776d"},"annotations":{"foo":"bar"}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}"#
        );
    }

    #[test]
    fn round_trip_and_rejections() {
        let k = key();
        let vk = k.verifying_key();
        let a = BTreeMap::from([("foo".to_string(), "bar".to_string())]);
        let blob = build_bundle(&k, &build_statement(D, &a));
        let claims = verify_bundle(vk, &blob, D, &a).unwrap();
        assert_eq!(claims.predicate_type, SIGN_PREDICATE);
        let other = format!("sha256:{}", "0".repeat(64));
        assert!(
            verify_bundle(vk, &blob, &other, &BTreeMap::new())
                .unwrap_err()
                .contains("no subject")
        );
        let wrong = BTreeMap::from([("foo".to_string(), "baz".to_string())]);
        assert!(
            verify_bundle(vk, &blob, D, &wrong)
                .unwrap_err()
                .contains("annotation foo")
        );
        let stranger = SigningKey::from_slice(&[9u8; 32]).unwrap();
        assert!(
            verify_bundle(stranger.verifying_key(), &blob, D, &BTreeMap::new())
                .unwrap_err()
                .contains("invalid signature")
        );
        let mut v: Value = serde_json::from_slice(&blob).unwrap();
        v["extra"] = Value::Bool(true);
        let e = verify_bundle(vk, &serde_json::to_vec(&v).unwrap(), D, &a).unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
    }

    #[test]
    fn hint_is_base64_sha256_of_der() {
        let h = key_hint(key().verifying_key());
        assert_eq!(B64.decode(&h).unwrap().len(), 32);
    }
}
