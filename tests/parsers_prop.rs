//! Property tests: no input makes a parser panic, and well-formed inputs that
//! are slightly damaged are refused with an error rather than accepted.

use std::collections::BTreeMap;

use harbor_lab::cosign::{keys, payload};
use harbor_lab::http::parse_error_body;
use harbor_lab::registry::{Reference, auth, manifest};
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

mod installer_inputs {
    use harbor_lab::docker::daemon_config;
    use harbor_lab::installer::versions::{self, Version};
    use harbor_lab::installer::{download, extract, render};
    use proptest::prelude::*;
    use std::path::Path;

    fn settings() -> render::Settings {
        render::Settings {
            hostname: "10.0.0.5".into(),
            http_port: 8080,
            admin_password: "pw".into(),
            data_volume: "/data".into(),
            https: None,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

        #[test]
        fn harbor_yml_validation_never_panics(text in ".{0,600}") {
            let _ = render::validate(&text, &Version::parse("v2.7.1").unwrap(), false);
        }

        #[test]
        fn yaml_shaped_harbor_yml_never_panics(keys in proptest::collection::vec(("[a-z_.]{1,12}", "[ -~]{0,20}"), 0..12)) {
            let text: String = keys.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
            let _ = render::validate(&text, &Version::parse("v2.15.1").unwrap(), true);
        }

        #[test]
        fn rendering_any_template_never_panics(template in ".{0,400}", overlay in ".{0,200}") {
            let _ = render::render(&template, &overlay, "t", &settings());
            let _ = render::render(&template, render::LAB_TEMPLATE, "t", &settings());
        }

        #[test]
        fn daemon_json_merge_never_panics_and_is_idempotent(text in ".{0,300}") {
            let p = Path::new("/etc/docker/daemon.json");
            let entries = daemon_config::registry_entries("10.0.0.5", 80);
            if let Ok(m) = daemon_config::merge(p, Some(&text), &entries) {
                let merged = m.new_text.unwrap_or(text.clone());
                // Merging again changes nothing.
                prop_assert_eq!(daemon_config::merge(p, Some(&merged), &entries).unwrap().new_text, None);
            }
        }

        #[test]
        fn installer_versions_never_panic_and_round_trip(text in ".{0,300}", major in 0u32..100, minor in 0u32..100, patch in 0u32..100) {
            let _ = versions::from_installer_name(&text);
            let _ = versions::from_prepare_script(&text);
            let v = Version::parse(&format!("v{major}.{minor}.{patch}")).unwrap();
            prop_assert_eq!(versions::from_installer_name(&v.online_asset()), Some(v));
            prop_assert_eq!(versions::from_installer_name(&v.offline_asset()), Some(v));
            let script = format!("{text}\ndocker run --rm goharbor/prepare:{v} prepare $@\n");
            // The first tagged image in the script wins; the one we put in is found
            // unless the noise before it already names one.
            if versions::from_prepare_script(&text).is_none() {
                prop_assert_eq!(versions::from_prepare_script(&script), Some(v));
            }
        }

        #[test]
        fn shown_harbor_yml_never_has_a_password(pw in "[A-Za-z0-9]{6,24}", noise in ".{0,200}", indent in " {0,4}", key in "(harbor_admin_|db_)?password", diff_mark in "[-+ ]?") {
            let text = format!("{noise}\n{diff_mark}{indent}{key}: {pw}\nlog:\n  level: info\n");
            let shown = render::hide_passwords(&text);
            prop_assert!(!shown.lines().any(|l| l.ends_with(&format!("{key}: {pw}"))), "{}", shown);
            // Nothing else changes: the same number of lines, the rest intact.
            prop_assert_eq!(shown.lines().count(), text.lines().count());
            prop_assert!(shown.ends_with("log:\n  level: info\n"));
        }

        #[test]
        fn md5sum_lines_never_panic(text in ".{0,300}", asset in "[a-z.-]{1,20}") {
            let _ = download::md5_for(&text, &asset);
        }

        #[test]
        fn extracting_arbitrary_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2048), gz in any::<bool>()) {
            let dir = tempfile::tempdir().unwrap();
            let bytes = if gz {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                std::io::Write::write_all(&mut e, &data).unwrap();
                e.finish().unwrap()
            } else {
                data
            };
            let archive = dir.path().join("x.tgz");
            std::fs::write(&archive, bytes).unwrap();
            std::fs::create_dir_all(dir.path().join("work")).unwrap();
            let err = extract::extract_installer(&archive, &dir.path().join("work/harbor"), &[]).unwrap_err();
            // Garbage is refused as an unreadable archive or a non-installer, never an I/O failure of ours.
            prop_assert!(!matches!(err, extract::ExtractError::Io { .. }), "{}", err);
            prop_assert!(!dir.path().join("work/harbor").exists());
            prop_assert_eq!(std::fs::read_dir(dir.path().join("work")).unwrap().count(), 0, "staging left behind");
        }
    }
}

mod hostile_tarballs {
    use harbor_lab::installer::extract;
    use proptest::prelude::*;

    fn piece() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            Just("harbor"),
            Just(".."),
            Just("."),
            Just("x"),
            Just("link"),
            Just("install.sh"),
            Just("")
        ]
    }

    fn entry() -> impl Strategy<Value = (u8, String, String)> {
        (
            0u8..4,
            (any::<bool>(), proptest::collection::vec(piece(), 1..5))
                .prop_map(|(abs, p)| format!("{}{}", if abs { "/" } else { "" }, p.join("/"))),
            proptest::collection::vec(piece(), 1..5).prop_map(|p| p.join("/")),
        )
    }

    fn raw_header(kind: u8, path: &str, target: &str, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(match kind {
            0 => tar::EntryType::Regular,
            1 => tar::EntryType::Directory,
            2 => tar::EntryType::Symlink,
            _ => tar::EntryType::Link,
        });
        h.set_size(size);
        h.set_mode(0o755);
        let name = &mut h.as_old_mut().name;
        let n = path.len().min(99);
        name[..n].copy_from_slice(&path.as_bytes()[..n]);
        if kind >= 2 {
            let link = &mut h.as_old_mut().linkname;
            let n = target.len().min(99);
            link[..n].copy_from_slice(&target.as_bytes()[..n]);
        }
        h.set_cksum();
        h
    }

    fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                let meta = std::fs::symlink_metadata(&p).unwrap();
                if meta.is_dir() {
                    stack.push(p.clone());
                }
                out.push(p);
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

        #[test]
        fn nothing_ever_lands_outside_the_workdir(entries in proptest::collection::vec(entry(), 1..8), with_installer in any::<bool>()) {
            let root = tempfile::tempdir().unwrap();
            let outside = root.path().join("outside");
            let work = outside.join("deep/work");
            std::fs::create_dir_all(&work).unwrap();
            let mut b = tar::Builder::new(Vec::new());
            if with_installer {
                b.append(&raw_header(0, "harbor/install.sh", "", 4), &b"true"[..]).unwrap();
            }
            for (kind, path, target) in &entries {
                let data: &[u8] = if *kind == 0 { b"data" } else { b"" };
                b.append(&raw_header(*kind, path, target, data.len() as u64), data).unwrap();
            }
            let tar = b.into_inner().unwrap();
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut gz, &tar).unwrap();
            let archive = root.path().join("a.tgz");
            std::fs::write(&archive, gz.finish().unwrap()).unwrap();

            let result = extract::extract_installer(&archive, &work.join("harbor"), &[]);
            // Outside the workdir, only what we made ourselves exists.
            let escaped: Vec<_> = files_under(&outside).into_iter().filter(|p| !p.starts_with(&work) && p != &outside.join("deep")).collect();
            prop_assert!(escaped.is_empty(), "written outside the workdir: {:?} (entries {:?})", escaped, entries);
            match result {
                Ok(_) => prop_assert!(work.join("harbor/install.sh").exists()),
                Err(_) => prop_assert!(!work.join("harbor").exists(), "a refused archive left harbor/ behind"),
            }
            // Every symlink that was extracted points inside the workdir.
            for p in files_under(&work) {
                if let Ok(target) = std::fs::read_link(&p) {
                    let resolved = p.parent().unwrap().join(&target);
                    let mut norm = std::path::PathBuf::new();
                    for c in resolved.components() {
                        match c {
                            std::path::Component::ParentDir => { norm.pop(); }
                            std::path::Component::CurDir => {}
                            other => norm.push(other),
                        }
                    }
                    prop_assert!(norm.starts_with(&work), "{} -> {}", p.display(), target.display());
                }
            }
        }
    }
}

/// The sigstore bundle, in-toto statement and referrers-index parsers.
mod bundles {
    use super::*;
    use harbor_lab::cosign::bundle;
    use harbor_lab::registry::referrers;

    const D: &str = "sha256:be810f5610e81475ddaee2f143f1e16814a0b8c5270ff2dd4e0e339cd585776d";

    fn key() -> p256::ecdsa::SigningKey {
        p256::ecdsa::SigningKey::from_slice(&[5u8; 32]).unwrap()
    }

    fn good_bundle() -> &'static [u8] {
        static B: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        B.get_or_init(|| {
            bundle::build_bundle(&key(), &bundle::build_statement(D, &BTreeMap::new()))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

        #[test]
        fn bundle_statement_and_index_parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = bundle::parse_bundle(&data);
            let _ = bundle::parse_statement(&data);
            let _ = referrers::parse_index(&data);
            let _ = bundle::verify_bundle(key().verifying_key(), &data, D, &BTreeMap::new());
        }

        #[test]
        fn json_shaped_bundles_never_panic(payload in "[A-Za-z0-9+/=]{0,200}", ptype in ".{0,40}",
                                           sigs in proptest::collection::vec("[A-Za-z0-9+/=]{0,100}", 0..3),
                                           media in ".{0,60}") {
            let doc = serde_json::json!({"mediaType": media, "verificationMaterial": {"publicKey": {"hint": "x"}},
                "dsseEnvelope": {"payload": payload, "payloadType": ptype,
                                 "signatures": sigs.iter().map(|s| serde_json::json!({"sig": s})).collect::<Vec<_>>()}});
            let _ = bundle::verify_bundle(key().verifying_key(), &serde_json::to_vec(&doc).unwrap(), D, &BTreeMap::new());
        }

        #[test]
        fn one_damaged_byte_never_verifies_as_another_statement(pos in 0usize..2000, byte in any::<u8>()) {
            let mut data = good_bundle().to_vec();
            let i = pos % data.len();
            prop_assume!(data[i] != byte);
            data[i] = byte;
            // Damage either breaks the bundle or leaves the same claims (e.g. the hint).
            if let Ok(c) = bundle::verify_bundle(key().verifying_key(), &data, D, &BTreeMap::new()) {
                prop_assert_eq!(c.digest, D);
                prop_assert_eq!(c.predicate_type, bundle::SIGN_PREDICATE);
            }
        }

        #[test]
        fn json_shaped_indexes_never_panic(entries in proptest::collection::vec(("[a-z./+]{0,30}", any::<i64>(), "[a-z0-9:]{0,72}"), 0..6)) {
            let m: Vec<_> = entries.iter().map(|(mt, size, d)| serde_json::json!({"mediaType": mt, "size": size, "digest": d})).collect();
            let doc = serde_json::json!({"schemaVersion": 2, "manifests": m});
            if let Ok(index) = referrers::parse_index(&serde_json::to_vec(&doc).unwrap()) {
                // A parsed index writes back what it read.
                let again = referrers::parse_index(&index.to_bytes()).unwrap();
                prop_assert_eq!(again.manifests, index.manifests);
            }
        }
    }
}

mod tls_files {
    use harbor_lab::tls;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

        #[test]
        fn certificate_and_key_files_never_panic(data in proptest::collection::vec(any::<u8>(), 0..1500)) {
            let _ = tls::parse_pem_chain(&data);
            let _ = tls::parse_der(&data);
            let _ = tls::parse_key(&data);
        }

        #[test]
        fn damaged_certificates_never_panic(pos in 0usize..2000, byte in any::<u8>()) {
            // A real certificate with one byte changed: an error or a parse, never a panic.
            let key = lab_cert_der();
            let mut der = key.clone();
            let i = pos % der.len();
            der[i] = byte;
            if let Ok(info) = tls::parse_der(&der) {
                let _ = info.covers("10.0.0.5");
                let _ = info.covers("harbor.lab.test");
                let _ = info.names();
            }
            let text = pem::encode(&pem::Pem::new("CERTIFICATE", der));
            let _ = tls::parse_pem_chain(text.as_bytes());
        }
    }

    /// A certificate made by the lab code, as DER (once per process).
    fn lab_cert_der() -> Vec<u8> {
        static DER: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        DER.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let files = tls::lab::LabFiles::new(dir.path());
            let plan = tls::lab::plan(&files, "10.0.0.5", std::time::SystemTime::now()).unwrap();
            plan.server_info.der
        })
        .clone()
    }
}
