//! Manifest and config documents, serialised in go-containerregistry's field
//! order so that what we write matches cosign byte for byte.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub size: i64,
    pub digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<serde_json::Value>,
    #[serde(rename = "artifactType", skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

/// An image manifest (OCI or Docker v2 schema 2: the same shape).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImageManifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(rename = "artifactType", skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn zero_time() -> String {
    ZERO_TIME.to_string()
}

/// An image config as go-containerregistry re-marshals it: the fields cosign's
/// signature images use, in ggcr's order. Unknown fields are dropped, as ggcr does.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConfigFile {
    #[serde(default)]
    pub architecture: String,
    #[serde(default = "zero_time")]
    pub created: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    #[serde(default)]
    pub os: String,
    pub rootfs: RootFs,
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct History {
    #[serde(default = "zero_time")]
    pub created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub empty_layer: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

impl ConfigFile {
    /// The config of cosign's empty signature image.
    pub fn empty() -> Self {
        ConfigFile {
            architecture: String::new(),
            created: zero_time(),
            history: Vec::new(),
            os: String::new(),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: Vec::new(),
            },
            config: empty_object(),
        }
    }

    /// Record one more uncompressed layer, as `mutate.Append` does.
    pub fn append_layer(&mut self, diff_id: &str) {
        self.rootfs.diff_ids.push(diff_id.to_string());
        self.history.push(History {
            created: zero_time(),
            created_by: None,
            author: None,
            comment: None,
            empty_layer: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosign_config_template_is_reproduced() {
        // The Harbor doc-comment signature's config (vectors: legacy-sig-config.reconstructed.json).
        let mut c = ConfigFile::empty();
        c.append_layer("sha256:0000");
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["sha256:0000"]},"config":{}}"#
        );
    }

    #[test]
    fn skopeo_config_is_normalised_like_ggcr() {
        let skopeo = r#"{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]}}"#;
        let mut c: ConfigFile = serde_json::from_str(skopeo).unwrap();
        c.append_layer("sha256:bb");
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["sha256:aa","sha256:bb"]},"config":{}}"#
        );
    }
}
