//! Key files and the shared vectors: every vector gives its documented result,
//! through the library and, for signed images, through the real binary and the
//! real cosign against a registry that serves the vector bytes.

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use harbor_lab::cosign::keys::{self, KeyError};
use support::*;

/// The registry's answer for anything the fake registry was not given.
fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// (key file, password, public key file) for every key vector that must load.
fn good_keys() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        (
            "keys/cosign-made-empty-password-n65536.key",
            "",
            "keys/cosign-made-empty-password-n65536.pub",
        ),
        (
            "keys/cosign-label-password-123.key",
            "123",
            "keys/cosign-label-password-123.pub",
        ),
        (
            "keys/sigstore-label-password-hello.key",
            "hello",
            "keys/sigstore-label-password-hello.pub",
        ),
        (
            "upstream/podman/test/e2e/testdata/sigstore-key.key",
            "sigstore pass",
            "upstream/podman/test/e2e/testdata/sigstore-key.pub",
        ),
        (
            "upstream/cosign/pkg/cosign/keys_test.go.extracted/pemsigstorekey.key",
            "hello",
            "upstream/cosign/pkg/cosign/keys_test.go.extracted/pemsigstorekey.derived.pub",
        ),
        (
            "upstream/cosign/pkg/cosign/keys_test.go.extracted/pemcosignkey.key",
            "hello",
            "upstream/cosign/pkg/cosign/keys_test.go.extracted/pemcosignkey.derived.pub",
        ),
        (
            "upstream/sigstore-rs/tests/data/keys/cosign_generated_encrypted_empty_private.key",
            "",
            "upstream/sigstore-rs/tests/data/keys/cosign_generated_encrypted_empty_private.derived.pub",
        ),
        (
            "upstream/sigstore-rs/tests/data/keys/ecdsa_encrypted_private.key",
            "123",
            "upstream/sigstore-rs/tests/data/keys/ecdsa_encrypted_private.derived.pub",
        ),
    ]
}

#[test]
fn every_key_vector_decrypts_to_its_public_key() {
    let v = vectors();
    for (key, password, public) in good_keys() {
        let sk = keys::decrypt_private_key(&read(&v.join(key)), password.as_bytes())
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        let pk = keys::parse_public_key(&read(&v.join(public))).unwrap();
        assert_eq!(sk.verifying_key(), &pk, "{key}");
        // and a wrong password is one clear error, never a parse error
        let wrong = format!("{password}x");
        let err = keys::decrypt_private_key(&read(&v.join(key)), wrong.as_bytes()).unwrap_err();
        assert!(matches!(err, KeyError::WrongPassword), "{key}: {err}");
    }
}

#[test]
fn podman_key_password_with_newline_is_wrong() {
    let v = vectors().join("upstream/podman/test/e2e/testdata/sigstore-key.key");
    let err = keys::decrypt_private_key(&read(&v), b"sigstore pass\n").unwrap_err();
    assert!(matches!(err, KeyError::WrongPassword));
}

#[test]
fn sec1_plaintext_is_refused_as_cosign_does() {
    for key in [
        "keys/invalid-sec1-plaintext-password-hello.key",
        "upstream/cosign/pkg/cosign/keys_test.go.extracted/pemcosigneckey.key",
    ] {
        let err = keys::decrypt_private_key(&read(&vectors().join(key)), b"hello").unwrap_err();
        assert!(matches!(err, KeyError::NotPkcs8), "{key}: {err}");
    }
}

#[test]
fn public_key_command_matches_the_vector_files() {
    let home = tempfile::tempdir().unwrap();
    for (key, password, public) in good_keys() {
        let out = run(harbor_lab(home.path())
            .args(["keys", "public-key", "--key"])
            .arg(vectors().join(key))
            .env("COSIGN_PASSWORD", password));
        assert_eq!(out.code, 0, "{key}: {}", out.stderr);
        let ours = keys::parse_public_key(out.stdout.as_bytes()).unwrap();
        assert_eq!(
            ours,
            keys::parse_public_key(&read(&vectors().join(public))).unwrap()
        );
    }
}

#[test]
fn keys_generate_writes_cosign_files_with_modes_and_never_overwrites() {
    let home = tempfile::tempdir().unwrap();
    let gen_ = |extra: &[&str]| {
        run(harbor_lab(home.path())
            .args(["keys", "generate", "--output-key-prefix", "lab"])
            .args(extra)
            .env("COSIGN_PASSWORD", "pw"))
    };
    let out = gen_(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("Private key written to"),
        "{}",
        out.stderr
    );
    let key = home.path().join("lab.key");
    let public = home.path().join("lab.pub");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&public).unwrap().permissions().mode() & 0o777,
        0o644
    );
    let text = std::fs::read_to_string(&key).unwrap();
    assert!(text.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
    let before = read(&key);

    let again = gen_(&[]);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(
        again.stderr.contains("lab.key already exists"),
        "{}",
        again.stderr
    );
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    assert_eq!(read(&key), before, "the key must be untouched");

    let forced = gen_(&["--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert_ne!(read(&key), before);
    // The replaced key is kept, still owner-only.
    let bak = home.path().join("lab.key.bak");
    assert_eq!(read(&bak), before);
    assert_eq!(
        std::fs::metadata(&bak).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let sk = keys::decrypt_private_key(&read(&key), b"pw").unwrap();
    assert_eq!(
        sk.verifying_key(),
        &keys::parse_public_key(&read(&public)).unwrap()
    );
}

#[test]
fn password_sources_and_no_terminal() {
    let home = tempfile::tempdir().unwrap();
    // Set but empty: the empty password, as cosign.
    let out = run(harbor_lab(home.path())
        .args(["keys", "generate", "--output-key-prefix", "empty"])
        .env("COSIGN_PASSWORD", ""));
    assert_eq!(out.code, 0, "{}", out.stderr);
    keys::decrypt_private_key(&read(&home.path().join("empty.key")), b"").unwrap();

    // A password file: its first line.
    std::fs::write(home.path().join("pw.txt"), "s3cret\nignored\n").unwrap();
    let out = run(harbor_lab(home.path()).args([
        "keys",
        "generate",
        "--output-key-prefix",
        "file",
        "--password-file",
        "pw.txt",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    keys::decrypt_private_key(&read(&home.path().join("file.key")), b"s3cret").unwrap();

    // Nothing at all and no terminal: a clear error, no hang, no files.
    let out =
        run(harbor_lab(home.path()).args(["keys", "generate", "--output-key-prefix", "none"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("COSIGN_PASSWORD"), "{}", out.stderr);
    assert!(!home.path().join("none.key").exists());

    // Wrong password on use: one line naming the file.
    let out = run(harbor_lab(home.path())
        .args(["keys", "public-key", "--key", "file.key"])
        .env("COSIGN_PASSWORD", "nope"));
    assert_eq!(out.code, 2);
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("file.key") && out.stderr.contains("wrong password"),
        "{}",
        out.stderr
    );
    // --json: the public key inside a JSON document.
    let out = run(harbor_lab(home.path())
        .args(["--json", "keys", "public-key", "--key", "file.key"])
        .env("COSIGN_PASSWORD", "s3cret"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        v["public_key"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    // A missing key file names the flag and the file.
    let out = run(harbor_lab(home.path())
        .args(["keys", "public-key", "--key", "missing.key"])
        .env("COSIGN_PASSWORD", "x"));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--key") && out.stderr.contains("missing.key"),
        "{}",
        out.stderr
    );
}

#[test]
fn oversized_key_and_password_files_are_refused_naming_them() {
    let home = tempfile::tempdir().unwrap();
    let public = vectors().join("keys/cosign-made-empty-password-n65536.pub");
    std::fs::copy(&public, home.path().join("ok.pub")).unwrap();
    const PUBLIC_VECTOR: &str = "ok.pub";
    // A megabyte "key": refused by size, before any parsing.
    let big = home.path().join("big.key");
    std::fs::write(&big, vec![b'A'; 1 << 20]).unwrap();
    let out = run_within(
        harbor_lab(home.path())
            .args(["sign", "--key"])
            .arg(&big)
            .arg("127.0.0.1:1/x:1")
            .env("COSIGN_PASSWORD", ""),
        30,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("--key")
            && out.stderr.contains("big.key")
            && out.stderr.contains("larger than 65536 bytes"),
        "{}",
        out.stderr
    );
    // Endless files: a bounded read, one message naming the flag and the file.
    for args in [
        vec!["keys", "public-key", "--key", "/dev/zero"],
        vec!["verify", "--key", "/dev/zero", "127.0.0.1:1/x:1"],
        vec![
            "keys",
            "generate",
            "--output-key-prefix",
            "z",
            "--password-file",
            "/dev/zero",
        ],
        vec![
            "verify",
            "--key",
            PUBLIC_VECTOR,
            "--registry-username",
            "u",
            "--registry-password-file",
            "/dev/zero",
            "127.0.0.1:1/x:1",
        ],
    ] {
        let out = run_within(
            harbor_lab(home.path())
                .args(&args)
                .env("COSIGN_PASSWORD", ""),
            30,
        );
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("/dev/zero"), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("larger than 65536 bytes"),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert!(!home.path().join("z.key").exists());
}

#[test]
fn a_non_utf8_cosign_password_is_used_as_bytes_like_cosign() {
    use std::os::unix::ffi::OsStrExt;
    let home = tempfile::tempdir().unwrap();
    let password = std::ffi::OsStr::from_bytes(b"caf\xe9-\xff");
    let out = run(harbor_lab(home.path())
        .args(["keys", "generate", "--output-key-prefix", "latin1"])
        .env("COSIGN_PASSWORD", password));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let key = home.path().join("latin1.key");
    keys::decrypt_private_key(&read(&key), b"caf\xe9-\xff").unwrap();
    // The real cosign, given the same bytes, opens it and finds our public key.
    let theirs = run(cosign(home.path())
        .args(["public-key", "--key"])
        .arg(&key)
        .env("COSIGN_PASSWORD", password));
    assert_eq!(theirs.code, 0, "{}", theirs.stderr);
    assert_eq!(
        keys::parse_public_key(theirs.stdout.as_bytes()).unwrap(),
        keys::parse_public_key(&read(&home.path().join("latin1.pub"))).unwrap()
    );
    // And we open a key cosign made with a non-UTF-8 password.
    let made = run(cosign(home.path())
        .args(["generate-key-pair", "--output-key-prefix", "theirs"])
        .env("COSIGN_PASSWORD", password));
    assert_eq!(made.code, 0, "{}", made.stderr);
    let ours = run(harbor_lab(home.path())
        .args(["keys", "public-key", "--key", "theirs.key"])
        .env("COSIGN_PASSWORD", password));
    assert_eq!(ours.code, 0, "{}", ours.stderr);
    assert_eq!(
        keys::parse_public_key(ours.stdout.as_bytes()).unwrap(),
        keys::parse_public_key(&read(&home.path().join("theirs.pub"))).unwrap()
    );
}

#[test]
fn structure_vectors_are_reproduced_byte_for_byte() {
    use harbor_lab::registry::{Reference, sha256_digest};
    let notes = vectors().join("upstream/just-notes/cosign/cosign-traffic.md.extracted");
    let image = read(&notes.join("image-manifest.json"));
    let expected = read(&notes.join("sig-layer-payload.json"));
    let name = Reference::parse("chihjenhuang/cosign1").unwrap().name();
    let ours = harbor_lab::cosign::payload::build(&name, &sha256_digest(&image), &BTreeMap::new());
    assert_eq!(
        String::from_utf8(ours).unwrap(),
        String::from_utf8(expected).unwrap()
    );

    let harbor = vectors().join("upstream/harbor/src/server/middleware/cosign/cosign.go.extracted");
    for (config, manifest) in [
        (
            "legacy-sig-config.reconstructed.json",
            "legacy-sig-manifest.pretty.json",
        ),
        (
            "oci11-sig-config.reconstructed.json",
            "oci11-sig-manifest.pretty.json",
        ),
    ] {
        let m: serde_json::Value = serde_json::from_slice(&read(&harbor.join(manifest))).unwrap();
        let layer = m["layers"][0]["digest"].as_str().unwrap();
        let mut c = harbor_lab::registry::manifest::ConfigFile::empty();
        c.append_layer(layer);
        assert_eq!(
            serde_json::to_vec(&c).unwrap(),
            read(&harbor.join(config)),
            "{config}"
        );
    }
}

#[test]
fn sigstore_rs_signature_vectors() {
    let dir = vectors().join("upstream/sigstore-rs/src/cosign/signature_layers.rs.extracted");
    let payload = read(&dir.join("payload.json"));
    let sig = String::from_utf8(read(&dir.join("signature.b64"))).unwrap();
    let good = keys::parse_public_key(&read(&dir.join("cosign.pub"))).unwrap();
    let wrong = keys::parse_public_key(&read(&dir.join("wrong-key.pub"))).unwrap();
    assert!(harbor_lab::cosign::verify::signature_matches(
        &good,
        &payload,
        sig.trim()
    ));
    assert!(!harbor_lab::cosign::verify::signature_matches(
        &wrong,
        &payload,
        sig.trim()
    ));
}

#[test]
fn oci11_signature_is_ecdsa_over_the_layer_digest() {
    use base64::Engine as _;
    use p256::ecdsa::DerSignature;
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    let dir = vectors().join("upstream/harbor/src/server/middleware/cosign/cosign.go.extracted");
    let m: serde_json::Value =
        serde_json::from_slice(&read(&dir.join("oci11-sig-manifest.pretty.json"))).unwrap();
    let layer = &m["layers"][0];
    let digest = hex::decode(&layer["digest"].as_str().unwrap()["sha256:".len()..]).unwrap();
    let sig = base64::engine::general_purpose::STANDARD
        .decode(
            layer["annotations"]["dev.cosignproject.cosign/signature"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let key =
        keys::parse_public_key(&read(&dir.join("oci11-signer.from-rekor-entry.pub"))).unwrap();
    let sig = DerSignature::from_bytes(&sig).unwrap();
    key.verify_prehash(&digest, &sig).unwrap();
}

/// One signed-image vector served by a fake registry: the image manifest and a
/// `.sig` image made of the given signature files.
struct Case {
    name: &'static str,
    manifest: &'static str,
    signatures: Vec<&'static str>,
    key: &'static str,
    /// Our exit code; cosign must agree.
    expect: i32,
}

fn fixtures(p: &str) -> String {
    format!("upstream/containers-image/signature/fixtures/{p}")
}

fn signed_cases() -> Vec<Case> {
    let f = |s: &str| -> &'static str { Box::leak(fixtures(s).into_boxed_str()) };
    vec![
        Case {
            name: "valid",
            manifest: "signed/valid/manifest.json",
            signatures: vec!["signed/valid/signature-1"],
            key: "signed/cosign.pub",
            expect: 0,
        },
        Case {
            name: "valid-wrong-key",
            manifest: "signed/valid/manifest.json",
            signatures: vec!["signed/valid/signature-1"],
            key: "signed/other-key.pub",
            expect: 12,
        },
        Case {
            name: "two-layers",
            manifest: "signed/valid-two-layers/manifest.json",
            signatures: vec![
                "signed/valid-two-layers/signature-1",
                "signed/valid-two-layers/signature-2",
            ],
            key: "signed/cosign.pub",
            expect: 0,
        },
        Case {
            name: "modified-manifest",
            manifest: "signed/modified-manifest/manifest.json",
            signatures: vec!["signed/modified-manifest/signature-1"],
            key: "signed/cosign.pub",
            expect: 12,
        },
        Case {
            name: "b1",
            manifest: f("dir-img-cosign-valid/manifest.json"),
            signatures: vec![f("dir-img-cosign-valid/signature-1")],
            key: f("cosign.pub"),
            expect: 0,
        },
        Case {
            name: "b2",
            manifest: f("dir-img-cosign-valid-2/manifest.json"),
            signatures: vec![
                f("dir-img-cosign-valid-2/signature-1"),
                f("dir-img-cosign-valid-2/signature-2"),
            ],
            key: f("cosign.pub"),
            expect: 0,
        },
        Case {
            name: "b3",
            manifest: f("dir-img-cosign-key-rekor-valid/manifest.json"),
            signatures: vec![f("dir-img-cosign-key-rekor-valid/signature-1")],
            key: f("cosign2.pub"),
            expect: 0,
        },
        Case {
            name: "b4-skopeo-with-tag",
            manifest: f("dir-img-cosign-valid-with-tag/manifest.json"),
            signatures: vec![f("dir-img-cosign-valid-with-tag/signature-1")],
            key: f("cosign.pub"),
            expect: 0,
        },
        Case {
            name: "c1-unknown-key",
            manifest: f("dir-img-cosign-valid/manifest.json"),
            signatures: vec![f("unknown-cosign-key.signature")],
            key: f("cosign.pub"),
            expect: 12,
        },
        Case {
            name: "c2",
            manifest: f("dir-img-cosign-valid/manifest.json"),
            signatures: vec![f("dir-img-cosign-valid/signature-1")],
            key: f("cosign2.pub"),
            expect: 12,
        },
        Case {
            name: "c3",
            manifest: f("dir-img-cosign-key-rekor-valid/manifest.json"),
            signatures: vec![f("dir-img-cosign-key-rekor-valid/signature-1")],
            key: f("cosign.pub"),
            expect: 12,
        },
        Case {
            name: "c4-mixed",
            manifest: f("dir-img-cosign-mixed/manifest.json"),
            signatures: vec![
                f("dir-img-cosign-mixed/signature-1"),
                f("dir-img-cosign-mixed/signature-2"),
            ],
            key: f("cosign.pub"),
            expect: 0,
        },
        Case {
            name: "c5",
            manifest: f("dir-img-cosign-modified-manifest/manifest.json"),
            signatures: vec![f("dir-img-cosign-modified-manifest/signature-1")],
            key: f("cosign.pub"),
            expect: 12,
        },
        Case {
            name: "c6",
            manifest: f("dir-img-cosign-manifest-digest-error/manifest.json"),
            signatures: vec![f("dir-img-cosign-manifest-digest-error/signature-1")],
            key: f("cosign.pub"),
            expect: 12,
        },
        Case {
            name: "c8-other-attachment",
            manifest: f("dir-img-cosign-valid/manifest.json"),
            signatures: vec![f("dir-img-cosign-other-attachment/signature-1")],
            key: f("cosign.pub"),
            expect: 12,
        },
    ]
}

fn layers_from(files: &[&str]) -> Vec<(String, Vec<u8>, BTreeMap<String, String>)> {
    files
        .iter()
        .map(|f| {
            let s = read_dir_signature(&vectors().join(f));
            (s.mime_type, s.payload, s.annotations)
        })
        .collect()
}

async fn check_case(
    home: &Path,
    name: &str,
    manifest: &[u8],
    layers: &[(String, Vec<u8>, BTreeMap<String, String>)],
    key: &Path,
    expect: i32,
) {
    let repo = format!("vec/{name}");
    let (routes, digest) = signed_image_routes(&repo, manifest, layers);
    let server = fake_registry(routes, manifest_unknown()).await;
    let image = format!("{}/{repo}@{digest}", server.addr);
    let key = key.to_path_buf();
    let (home1, home2) = (home.to_path_buf(), home.to_path_buf());
    let (image1, key1) = (image.clone(), key.clone());
    let ours = tokio::task::spawn_blocking(move || {
        run(harbor_lab(&home1)
            .args(["verify", "--key"])
            .arg(&key1)
            .arg(&image1))
    })
    .await
    .unwrap();
    assert_eq!(ours.code, expect, "{name}: ours: {}", ours.stderr);
    let theirs = tokio::task::spawn_blocking(move || {
        run(cosign(&home2)
            .args([
                "verify",
                "--insecure-ignore-tlog=true",
                "--allow-insecure-registry",
                "--key",
            ])
            .arg(&key)
            .arg(&image))
    })
    .await
    .unwrap();
    assert_eq!(
        theirs.code, expect,
        "{name}: cosign disagrees: {}",
        theirs.stderr
    );
    if expect == 0 {
        // The same payload list on stdout, byte for byte.
        assert_eq!(
            ours.stdout, theirs.stdout,
            "{name}: stdout differs from cosign's"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_vectors_give_their_documented_result_like_cosign() {
    let home = tempfile::tempdir().unwrap();
    for case in signed_cases() {
        let manifest = read(&vectors().join(case.manifest));
        check_case(
            home.path(),
            case.name,
            &manifest,
            &layers_from(&case.signatures),
            &vectors().join(case.key),
            case.expect,
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn payload_vectors_that_are_not_claims_are_refused() {
    let home = tempfile::tempdir().unwrap();
    let manifest = read(&vectors().join("signed/valid/manifest.json"));
    for name in ["ampersand", "empty-object"] {
        let dir = vectors().join("signed/not-json-payload");
        let payload = read(&dir.join(format!("{name}.payload")));
        let sig = String::from_utf8(read(&dir.join(format!("{name}.sig.b64")))).unwrap();
        // The signature itself is valid: only the claims are wrong.
        let key = keys::parse_public_key(&read(&vectors().join("signed/cosign.pub"))).unwrap();
        assert!(harbor_lab::cosign::verify::signature_matches(
            &key,
            &payload,
            sig.trim()
        ));
        let mut ann = BTreeMap::new();
        ann.insert(
            "dev.cosignproject.cosign/signature".to_string(),
            sig.trim().to_string(),
        );
        let layers = vec![(
            "application/vnd.dev.cosign.simplesigning.v1+json".to_string(),
            payload,
            ann,
        )];
        check_case(
            home.path(),
            name,
            &manifest,
            &layers,
            &vectors().join("signed/cosign.pub"),
            12,
        )
        .await;
    }
    // C9: B1's payload with one byte changed.
    let mut layers = layers_from(&[Box::leak(
        fixtures("dir-img-cosign-valid/signature-1").into_boxed_str(),
    )]);
    let p = &mut layers[0].1;
    let i = p.iter().position(|b| *b == b'c').unwrap();
    p[i] = b'C';
    let manifest = read(&vectors().join(fixtures("dir-img-cosign-valid/manifest.json")));
    check_case(
        home.path(),
        "c9-tampered",
        &manifest,
        &layers,
        &vectors().join(fixtures("cosign.pub")),
        12,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn skopeo_made_signature_vector_verifies() {
    let home = tempfile::tempdir().unwrap();
    let dir = vectors().join("upstream/local-skopeo-1.9.3");
    let manifest = read(&dir.join("image-manifest.json"));
    let sig = read_dir_signature(&dir.join("dir-signature-1"));
    let layers = vec![(sig.mime_type, sig.payload, sig.annotations)];
    let key = vectors().join("upstream/podman/test/e2e/testdata/sigstore-key.pub");
    check_case(home.path(), "skopeo-1-9-3", &manifest, &layers, &key, 0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_image_manifest_is_image_not_found() {
    // C7: signatures but no manifest to compare against.
    let home = tempfile::tempdir().unwrap();
    let layers = layers_from(&[Box::leak(
        fixtures("dir-img-cosign-no-manifest/signature-1").into_boxed_str(),
    )]);
    let manifest = read(&vectors().join(fixtures("dir-img-cosign-valid/manifest.json")));
    let (mut routes, digest) = signed_image_routes("vec/c7", &manifest, &layers);
    routes.remove(&format!("/v2/vec/c7/manifests/{digest}"));
    let server = fake_registry(routes, manifest_unknown()).await;
    let image = format!("{}/vec/c7@{digest}", server.addr);
    let key = vectors().join(fixtures("cosign.pub"));
    let h = home.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        run(harbor_lab(&h)
            .args(["verify", "--key"])
            .arg(&key)
            .arg(&image))
    })
    .await
    .unwrap();
    assert_eq!(out.code, 11, "{}", out.stderr);
}

/// A command line the parser refuses is a failure like any other: with
/// `--json`, one document on stdout names the flag; clap's text on stderr.
#[test]
fn json_is_one_document_when_the_command_line_is_refused() {
    let home = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (
            &["install", "--http-port", "0", "--json", "--yes"][..],
            "--http-port",
        ),
        (&["--json", "verify"][..], "--key"),
        (&["--json", "frobnicate"][..], "frobnicate"),
    ] {
        let out = run(harbor_lab(home.path()).args(args));
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        let mut docs =
            serde_json::Deserializer::from_str(&out.stdout).into_iter::<serde_json::Value>();
        let v = docs.next().expect("a document").unwrap();
        assert!(docs.next().is_none(), "{}", out.stdout);
        assert_eq!(v["ok"], false, "{v}");
        assert_eq!(v["version"], env!("CARGO_PKG_VERSION"), "{v}");
        assert_eq!(v["error"]["code"], 2, "{v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{args:?}: {v}");
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
    }
    // Without --json, clap's own refusal, and nothing on stdout.
    let plain = run(harbor_lab(home.path()).args(["install", "--http-port", "0", "--yes"]));
    assert_eq!(plain.code, 2, "{}", plain.stderr);
    assert!(plain.stdout.is_empty(), "{}", plain.stdout);
}

#[test]
fn json_is_one_document_with_ok_version_and_the_error_on_failure() {
    let home = tempfile::tempdir().unwrap();
    let public = vectors().join("keys/sigstore-label-password-hello.key");
    let ok = run(harbor_lab(home.path())
        .args(["--json", "keys", "public-key", "--key"])
        .arg(&public)
        .env("COSIGN_PASSWORD", "hello"));
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let v: serde_json::Value = serde_json::from_str(&ok.stdout).unwrap();
    assert_eq!(
        (v["ok"].clone(), v["version"].clone()),
        (true.into(), env!("CARGO_PKG_VERSION").into())
    );
    let bad = run(harbor_lab(home.path())
        .args(["--json", "keys", "public-key", "--key", "missing.key"])
        .env("COSIGN_PASSWORD", "x"));
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    // Exactly one document, on failure too.
    let mut docs = serde_json::Deserializer::from_str(&bad.stdout).into_iter::<serde_json::Value>();
    let v = docs.next().expect("a document on failure").unwrap();
    assert!(docs.next().is_none(), "{}", bad.stdout);
    assert_eq!(v["ok"], false);
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["error"]["code"], 2);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing.key"),
        "{v}"
    );
}
