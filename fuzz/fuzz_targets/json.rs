//! Documents a registry or a TUF repository serves: image manifests and
//! configs, error bodies, cosign payloads, sigstore bundles and their in-toto
//! statements, referrers indexes, and TUF metadata of every role. None may
//! panic, and no bytes verify as a bundle of a key that did not sign them.
#![no_main]

use std::collections::BTreeMap;

use harbor_lab::cosign::{bundle, payload};
use harbor_lab::http::parse_error_body;
use harbor_lab::registry::{manifest, referrers};
use harbor_lab::tuf::metadata::{self, Root, Snapshot, Targets, Timestamp};
use libfuzzer_sys::fuzz_target;

const DIGEST: &str = "sha256:2deeb8aac732e569dad147fd588bdd7daa2aa60bde94a97f40a30935aa35ebe2";

fn key() -> &'static p256::ecdsa::SigningKey {
    static KEY: std::sync::OnceLock<p256::ecdsa::SigningKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap())
}

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<manifest::ImageManifest>(data);
    let _ = serde_json::from_slice::<manifest::ConfigFile>(data);
    let _ = parse_error_body(data);

    let mut required = BTreeMap::new();
    let _ = payload::check_claims(data, DIGEST, &required);
    required.insert("env".to_string(), "lab".to_string());
    let _ = payload::check_claims(data, DIGEST, &required);

    let _ = bundle::parse_bundle(data);
    let _ = bundle::parse_statement(data);
    // The fuzzer cannot make a P-256 signature: nothing it writes may verify.
    assert!(
        bundle::verify_bundle(key().verifying_key(), data, DIGEST, &BTreeMap::new()).is_err(),
        "unsigned bytes verified as a bundle"
    );
    if let Ok(index) = referrers::parse_index(data) {
        let again = referrers::parse_index(&index.to_bytes()).expect("a written index parses");
        assert_eq!(again.manifests, index.manifests);
    }

    let _ = metadata::parse::<Root>(data, "root");
    let _ = metadata::parse::<Timestamp>(data, "timestamp");
    let _ = metadata::parse::<Snapshot>(data, "snapshot");
    let _ = metadata::parse::<Targets>(data, "targets");
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = metadata::canonical(&value);
    }
});
