//! Property tests: no input makes a parser panic, and well-formed inputs that
//! are slightly damaged are refused with an error rather than accepted.

use std::collections::BTreeMap;

use harbor_lab::cosign::{keys, payload};
use harbor_lab::registry::{Reference, auth, manifest, parse_error_body};
use proptest::prelude::*;

/// A real envelope, made once (scrypt is deliberately slow).
fn valid_key_json() -> &'static str {
    static JSON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    JSON.get_or_init(|| {
        let pem = keys::encrypt_private_key(&keys::generate(), b"", keys::SIGSTORE_PRIVATE_LABEL)
            .unwrap();
        String::from_utf8(pem::parse(&pem).unwrap().contents().to_vec()).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn key_files_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = keys::parse_private_key(&data);
        let _ = keys::parse_public_key(&data);
    }

    #[test]
    fn pem_wrapped_json_never_panics(body in ".{0,400}", label in prop_oneof![
        Just(keys::SIGSTORE_PRIVATE_LABEL), Just(keys::COSIGN_PRIVATE_LABEL), Just("PUBLIC KEY"), Just("X")]) {
        let text = pem::encode(&pem::Pem::new(label, body.into_bytes()));
        let _ = keys::parse_private_key(text.as_bytes());
        let _ = keys::parse_public_key(text.as_bytes());
    }

    #[test]
    fn damaged_key_envelopes_are_refused_cheaply(pos in 0usize..400, byte in any::<u8>()) {
        // Mutate one byte of a real envelope: it parses to an error or to an
        // envelope, never a panic (decryption is not attempted here: scrypt
        // parameters are checked before any work is done).
        let mut json = valid_key_json().as_bytes().to_vec();
        let i = pos % json.len();
        json[i] = byte;
        let text = pem::encode(&pem::Pem::new(keys::SIGSTORE_PRIVATE_LABEL, json));
        let _ = keys::parse_private_key(text.as_bytes());
    }

    #[test]
    fn payload_claims_never_panic(data in proptest::collection::vec(any::<u8>(), 0..1024), digest in "[a-z0-9:]{0,80}") {
        let _ = payload::check_claims(&data, &digest, &BTreeMap::new());
    }

    #[test]
    fn payload_round_trips(reference in "[a-z0-9./:-]{1,60}", hex in "[a-f0-9]{64}",
                           ann in proptest::collection::btree_map(".{1,10}", ".{0,20}", 0..4)) {
        let digest = format!("sha256:{hex}");
        let p = payload::build(&reference, &digest, &ann);
        // Go-compatible bytes are valid JSON that states exactly what we built.
        let parsed = payload::check_claims(&p, &digest, &ann).unwrap();
        prop_assert_eq!(parsed.critical.identity.docker_reference, reference);
        prop_assert_eq!(parsed.critical.kind, payload::PAYLOAD_TYPE);
    }

    #[test]
    fn manifests_and_configs_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = serde_json::from_slice::<manifest::ImageManifest>(&data);
        let _ = serde_json::from_slice::<manifest::ConfigFile>(&data);
        let _ = parse_error_body(&data);
    }

    #[test]
    fn json_shaped_manifests_never_panic(layers in proptest::collection::vec(("[a-z./+]{0,30}", any::<i64>(), "[a-z0-9:]{0,70}"), 0..5)) {
        let v = serde_json::json!({
            "schemaVersion": 2,
            "config": {"mediaType": "x", "size": 1, "digest": "sha256:00"},
            "layers": layers.iter().map(|(m, s, d)| serde_json::json!({"mediaType": m, "size": s, "digest": d})).collect::<Vec<_>>()
        });
        let m: manifest::ImageManifest = serde_json::from_value(v).unwrap();
        prop_assert_eq!(m.layers.len(), layers.len());
    }

    #[test]
    fn challenges_never_panic(header in ".{0,300}") {
        let _ = auth::parse_challenge(&header);
    }

    #[test]
    fn bearer_challenges_round_trip(realm in "https?://[a-z0-9.:/]{1,40}", service in "[a-z-]{1,20}") {
        let h = format!("Bearer realm=\"{realm}\",service=\"{service}\"");
        let expected = auth::Challenge::Bearer { realm, service: Some(service), scope: None };
        prop_assert_eq!(auth::parse_challenge(&h), Some(expected));
    }

    #[test]
    fn references_never_panic(s in ".{0,200}") {
        if let Ok(r) = Reference::parse(&s) {
            // Whatever parses, prints back to something that parses the same.
            prop_assert_eq!(Reference::parse(&r.to_string()).unwrap(), r);
        }
    }
}
