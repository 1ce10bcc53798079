//! The "simple signing" payload cosign signs, byte for byte as Go's
//! `json.Marshal` writes it: compact, fixed key order, HTML-safe escapes, no
//! trailing newline.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const PAYLOAD_TYPE: &str = "cosign container image signature";

/// Build the payload for `docker_reference` (registry/repository, no tag) and
/// `manifest_digest` (`sha256:<hex>`). Annotations go in `optional` as strings.
pub fn build(
    docker_reference: &str,
    manifest_digest: &str,
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    let mut s = String::with_capacity(256);
    s.push_str(r#"{"critical":{"identity":{"docker-reference":"#);
    go_string(&mut s, docker_reference);
    s.push_str(r#"},"image":{"docker-manifest-digest":"#);
    go_string(&mut s, manifest_digest);
    s.push_str(r#"},"type":"#);
    go_string(&mut s, PAYLOAD_TYPE);
    s.push_str(r#"},"optional":"#);
    if annotations.is_empty() {
        s.push_str("null");
    } else {
        s.push('{');
        for (i, (k, v)) in annotations.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            go_string(&mut s, k);
            s.push(':');
            go_string(&mut s, v);
        }
        s.push('}');
    }
    s.push('}');
    s.into_bytes()
}

/// Append `v` as a JSON string the way Go's encoding/json does (HTML-safe).
pub fn go_string(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The payload as cosign's verifier reads it: lenient, unknown fields ignored,
/// missing fields empty (Go's `json.Unmarshal` into `SimpleContainerImage`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SimpleSigning {
    #[serde(default)]
    pub critical: Critical,
    #[serde(default)]
    pub optional: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Critical {
    #[serde(default)]
    pub identity: Identity,
    #[serde(default)]
    pub image: Image,
    #[serde(default, rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Identity {
    #[serde(default, rename = "docker-reference")]
    pub docker_reference: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Image {
    #[serde(default, rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

/// The Rekor bundle annotation cosign copies into `optional.Bundle` of its output.
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

/// Serialise JSON as Go's `json.Marshal` does: `<`, `>`, `&`, U+2028 and U+2029
/// escaped. Those characters only occur inside strings, so escaping them in
/// the compact output is exact.
pub fn go_json<T: Serialize>(value: &T) -> String {
    let text = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// Why a payload's claims were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClaimError {
    #[error("the payload is not simple-signing JSON: {0}")]
    NotJson(String),
    #[error("invalid or missing digest in claim: claims {claimed:?}, image is {expected}")]
    WrongDigest { claimed: String, expected: String },
    #[error("missing or incorrect annotation {key:?}: wanted {wanted:?}, found {found}")]
    Annotation {
        key: String,
        wanted: String,
        found: String,
    },
}

/// Parse a payload and check it claims `expected_digest` and every required annotation.
pub fn check_claims(
    payload: &[u8],
    expected_digest: &str,
    required: &BTreeMap<String, String>,
) -> Result<SimpleSigning, ClaimError> {
    let parsed: SimpleSigning =
        serde_json::from_slice(payload).map_err(|e| ClaimError::NotJson(e.to_string()))?;
    if parsed.critical.image.docker_manifest_digest != expected_digest {
        return Err(ClaimError::WrongDigest {
            claimed: parsed.critical.image.docker_manifest_digest.clone(),
            expected: expected_digest.to_string(),
        });
    }
    for (key, wanted) in required {
        let found = parsed.optional.as_ref().and_then(|o| o.get(key));
        if found.and_then(|v| v.as_str()) != Some(wanted.as_str()) {
            return Err(ClaimError::Annotation {
                key: key.clone(),
                wanted: wanted.clone(),
                found: found.map_or("nothing".into(), |v| v.to_string()),
            });
        }
    }
    Ok(parsed)
}

/// Parse `key=value` annotation flags.
pub fn parse_annotation(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("annotation {s:?} is not key=value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_cosign_bytes_without_annotations() {
        let p = build(
            "127.0.0.1:5000/test/bb",
            "sha256:d00965e7dc519012ea17f7aa4dac6eda1c2cd0b0ab18b816b5127b860f53d1e0",
            &BTreeMap::new(),
        );
        assert_eq!(
            std::str::from_utf8(&p).unwrap(),
            r#"{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/test/bb"},"image":{"docker-manifest-digest":"sha256:d00965e7dc519012ea17f7aa4dac6eda1c2cd0b0ab18b816b5127b860f53d1e0"},"type":"cosign container image signature"},"optional":null}"#
        );
    }

    #[test]
    fn annotations_are_sorted_and_html_escaped() {
        let mut a = BTreeMap::new();
        a.insert("z".to_string(), "<b>&".to_string());
        a.insert("a".to_string(), "x\"y\n".to_string());
        let p = String::from_utf8(build("r/x", "sha256:00", &a)).unwrap();
        assert!(
            p.ends_with(r#""optional":{"a":"x\"y\n","z":"\u003cb\u003e\u0026"}}"#),
            "{p}"
        );
    }

    #[test]
    fn claims_are_checked() {
        let p = build("r/x", "sha256:aa", &BTreeMap::new());
        assert!(check_claims(&p, "sha256:aa", &BTreeMap::new()).is_ok());
        assert!(matches!(
            check_claims(&p, "sha256:bb", &BTreeMap::new()),
            Err(ClaimError::WrongDigest { .. })
        ));
        assert!(matches!(
            check_claims(b"&", "sha256:aa", &BTreeMap::new()),
            Err(ClaimError::NotJson(_))
        ));
        assert!(matches!(
            check_claims(b"{}", "sha256:aa", &BTreeMap::new()),
            Err(ClaimError::WrongDigest { .. })
        ));
        let mut want = BTreeMap::new();
        want.insert("k".to_string(), "v".to_string());
        assert!(matches!(
            check_claims(&p, "sha256:aa", &want),
            Err(ClaimError::Annotation { .. })
        ));
        let signed = build("r/x", "sha256:aa", &want);
        assert!(check_claims(&signed, "sha256:aa", &want).is_ok());
    }
}
