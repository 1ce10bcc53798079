//! Sigstore bundle signatures (OCI 1.1 referrers) against the real cosign 3.1,
//! both ways, on the real loopback docker-registry (no referrers API: the
//! fallback tag) and through the Harbor double (the referrers API); the
//! negative cases; a junk referrer next to a valid `.sig`; concurrent signers.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use harbor_lab::cosign::bundle::{self, BUNDLE_MEDIA_TYPE};
use harbor_lab::cosign::keys;
use harbor_lab::registry::manifest::{Descriptor, ImageManifest};
use harbor_lab::registry::referrers::{fallback_tag, parse_index};
use harbor_lab::registry::{OCI_INDEX, OCI_MANIFEST, Reference, sha256_digest};
use serde_json::{Value, json};
use support::*;

const PW: &str = KEY_PW;

/// `cosign sign` as cosign 3.1 signs offline with a key (a bundle referrer).
fn c3_sign(home: &Path, key: &str, image: &str, extra: &[&str]) -> Run {
    run(&mut c3_sign_command(home, key, image, extra))
}

/// [`c3_sign`] before it runs (to add a `DOCKER_CONFIG`).
fn c3_sign_command(home: &Path, key: &str, image: &str, extra: &[&str]) -> Command {
    let mut c = cosign3(home);
    c.args([
        "sign",
        "--key",
        key,
        "--tlog-upload=false",
        "--use-signing-config=false",
        "--allow-insecure-registry",
        "-y",
    ])
    .args(extra)
    .arg(image)
    .env("COSIGN_PASSWORD", PW);
    c
}

/// `cosign verify` as cosign 3.1 verifies offline with a key (the image to add).
fn c3_verify_command(home: &Path, key: &str) -> Command {
    let mut c = cosign3(home);
    c.args([
        "verify",
        "--key",
        key,
        "--insecure-ignore-tlog",
        "--allow-insecure-registry",
    ]);
    c
}

fn c3_verify(home: &Path, key: &str, image: &str, extra: &[&str]) -> Run {
    run(c3_verify_command(home, key).args(extra).arg(image))
}

async fn image(name: &str) -> (String, String) {
    push_new_image(&registry(), &format!("bundle/{}", unique(name)), "v1").await
}

fn at_digest(image: &str, digest: &str) -> String {
    format!("{}@{digest}", Reference::parse(image).unwrap().name())
}

/// The fallback index of `image` at `digest` (the registry has no referrers API).
async fn fallback(image: &str, digest: &str) -> harbor_lab::registry::referrers::ReferrersIndex {
    let r = Reference::parse(image).unwrap();
    let m = client()
        .get_manifest(&r.with_tag(&fallback_tag(digest)))
        .await
        .unwrap()
        .expect("a fallback referrers index");
    assert_eq!(m.media_type, OCI_INDEX);
    parse_index(&m.bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn cosign3_and_we_read_each_others_bundles_with_the_same_output() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    our_keys(h, "ours");
    let (img, digest) = image("ours").await;

    // 1. We sign (bundle, annotations); cosign 3.1 verifies, through the fallback tag.
    let out = our_sign(
        h,
        "ours.key",
        &[&img],
        &["--format", "bundle", "-a", "team=lab"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let theirs = c3_verify(h, "ours.pub", &img, &["-a", "team=lab"]);
    assert_eq!(theirs.code, 0, "cosign 3: {}", theirs.stderr);
    let wrong = c3_verify(h, "ours.pub", &img, &["-a", "team=other"]);
    assert_ne!(wrong.code, 0, "cosign 3 must refuse a wrong annotation");

    // 4. Our output is cosign 3's, byte for byte (stdout and stderr).
    let ours = our_verify(h, "ours.pub", &img, &["-a", "team=lab"]);
    assert_eq!(ours.code, 0, "{}", ours.stderr);
    assert_eq!(ours.stdout, theirs.stdout);
    assert_eq!(ours.stderr, theirs.stderr);
    let text_ours = our_verify(h, "ours.pub", &img, &["-o", "text"]);
    let text_theirs = c3_verify(h, "ours.pub", &img, &["-o", "text"]);
    assert_eq!(text_ours.stdout, text_theirs.stdout);

    // What we wrote: one index entry; the referrer's subject is the image's
    // manifest as served (media type and byte length).
    let index = fallback(&img, &digest).await;
    assert_eq!(index.manifests.len(), 1);
    let r = Reference::parse(&img).unwrap();
    let c = client();
    let referrer = c
        .get_manifest(&r.with_digest(&index.manifests[0].digest))
        .await
        .unwrap()
        .unwrap();
    let m: ImageManifest = serde_json::from_slice(&referrer.bytes).unwrap();
    let served = c.get_manifest(&r).await.unwrap().unwrap();
    let subject = m.subject.unwrap();
    assert_eq!(subject.digest, digest);
    assert_eq!(subject.size as usize, served.bytes.len());
    assert_eq!(subject.media_type, served.media_type);
    assert_eq!(m.artifact_type.as_deref(), Some(BUNDLE_MEDIA_TYPE));
    assert_eq!(m.config.size, 2);

    // Signing again with the same key and claims adds nothing.
    let again = our_sign(
        h,
        "ours.key",
        &[&img],
        &["--format", "bundle", "-a", "team=lab"],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stderr.contains("already signed"), "{}", again.stderr);
    assert_eq!(fallback(&img, &digest).await.manifests.len(), 1);

    // 2. cosign 3.1 signs; we verify, with cosign's output.
    let out = run(cosign3(h)
        .args(["generate-key-pair", "--output-key-prefix", "c3"])
        .env("COSIGN_PASSWORD", PW));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (img2, digest2) = image("theirs").await;
    let s = c3_sign(h, "c3.key", &at_digest(&img2, &digest2), &["-a", "k=v"]);
    assert_eq!(s.code, 0, "cosign 3 sign: {}", s.stderr);
    let ours = our_verify(h, "c3.pub", &img2, &[]);
    assert_eq!(ours.code, 0, "{}", ours.stderr);
    let theirs = c3_verify(h, "c3.pub", &img2, &[]);
    assert_eq!(ours.stdout, theirs.stdout);
    assert_eq!(ours.stderr, theirs.stderr);
    // We append to cosign 3's index and keep its entry.
    let out = our_sign(h, "ours.key", &[&img2], &["--format", "bundle"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fallback(&img2, &digest2).await.manifests.len(), 2);
    assert_eq!(c3_verify(h, "c3.pub", &img2, &[]).code, 0);
    assert_eq!(c3_verify(h, "ours.pub", &img2, &[]).code, 0);
    // Only the formats asked for count.
    assert_eq!(
        our_verify(h, "c3.pub", &img2, &["--format", "legacy"]).code,
        10
    );
    let json = our_verify(h, "c3.pub", &img2, &["--json"]);
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["images"][0]["formats"], json!(["bundle"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn both_formats_on_one_image_and_cosign3_reads_our_legacy_signatures() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    our_keys(h, "a");
    our_keys(h, "b");
    // 3. cosign 3.1 verifies our legacy signature (the image has no bundle).
    let (img, digest) = image("both").await;
    assert_eq!(our_sign(h, "a.key", &[&img], &[]).code, 0);
    let c = c3_verify(h, "a.pub", &img, &[]);
    assert_eq!(c.code, 0, "cosign 3 on a legacy signature: {}", c.stderr);
    // Key b signs the same image as a bundle: either key verifies with us.
    assert_eq!(c3_sign(h, "b.key", &at_digest(&img, &digest), &[]).code, 0);
    for key in ["a.pub", "b.pub"] {
        let v = our_verify(h, key, &img, &[]);
        assert_eq!(v.code, 0, "{key}: {}", v.stderr);
    }
    let legacy_only = our_verify(h, "b.pub", &img, &["--format", "legacy"]);
    assert_eq!(legacy_only.code, 12, "{}", legacy_only.stderr);
    let bundle_only = our_verify(h, "a.pub", &img, &["--format", "bundle"]);
    assert_eq!(bundle_only.code, 12, "{}", bundle_only.stderr);
    // cosign 3 looks only at the bundle now: key a is refused by it.
    assert_ne!(c3_verify(h, "a.pub", &img, &[]).code, 0);
}

// ---------------------------------------------------------------------------
// Hand-made referrers, as a hostile or broken signer would push them.

fn signing_key(home: &Path, prefix: &str) -> p256::ecdsa::SigningKey {
    keys::decrypt_private_key(
        &std::fs::read(home.join(format!("{prefix}.key"))).unwrap(),
        PW.as_bytes(),
    )
    .unwrap()
}

/// Push `bundle_blob` as a referrer of `image` and list it in the fallback index
/// (appending); `edit` may change the referrer manifest first.
async fn push_referrer(image: &str, digest: &str, bundle_blob: &[u8], extra_layer: bool) -> String {
    push_referrer_with(image, digest, bundle_blob, |m| {
        if extra_layer {
            m.layers.push(m.layers[0].clone());
        }
    })
    .await
}

/// A bundle blob for `statement`, after `edit` changed its JSON.
fn bundle_with(
    key: &p256::ecdsa::SigningKey,
    statement: &[u8],
    edit: impl FnOnce(&mut Value),
) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&bundle::build_bundle(key, statement)).unwrap();
    edit(&mut v);
    serde_json::to_vec(&v).unwrap()
}

fn b64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// We refuse with `reason` (exit `code`); cosign 3 refuses too.
fn both_refuse(h: &Path, img: &str, code: i32, reason: &str) {
    let ours = our_verify(h, "ours.pub", img, &[]);
    assert_eq!(ours.code, code, "ours: {}", ours.stderr);
    assert!(
        ours.stderr.contains(reason),
        "expected {reason:?} in: {}",
        ours.stderr
    );
    let theirs = c3_verify(h, "ours.pub", img, &[]);
    assert_ne!(theirs.code, 0, "cosign 3 accepted it: {}", theirs.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_bundles_are_refused_each_with_its_reason() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    our_keys(h, "ours");
    our_keys(h, "other");
    let key = signing_key(h, "ours");
    let none = BTreeMap::new();

    // A tampered statement (signature over the original).
    let (img, digest) = image("neg-tampered").await;
    let good = bundle::build_statement(&digest, &none);
    let forged = bundle::build_statement(&digest, &BTreeMap::from([("x".into(), "y".into())]));
    let blob = bundle_with(&key, &good, |v| {
        v["dsseEnvelope"]["payload"] = json!(b64(&forged));
    });
    push_referrer(&img, &digest, &blob, false).await;
    both_refuse(h, &img, 12, "invalid signature");

    // A statement about another digest.
    let (img, digest) = image("neg-subject").await;
    let lie = bundle::build_statement(&format!("sha256:{}", "0".repeat(64)), &none);
    push_referrer(&img, &digest, &bundle::build_bundle(&key, &lie), false).await;
    both_refuse(
        h,
        &img,
        12,
        "no subject of the statement has the image digest",
    );

    // Signed by another key.
    let (img, digest) = image("neg-key").await;
    let stmt = bundle::build_statement(&digest, &none);
    push_referrer(
        &img,
        &digest,
        &bundle::build_bundle(&signing_key(h, "other"), &stmt),
        false,
    )
    .await;
    both_refuse(h, &img, 12, "invalid signature");

    // Two DSSE signatures.
    let (img, digest) = image("neg-two").await;
    let stmt = bundle::build_statement(&digest, &none);
    let blob = bundle_with(&key, &stmt, |v| {
        let s = v["dsseEnvelope"]["signatures"][0].clone();
        v["dsseEnvelope"]["signatures"]
            .as_array_mut()
            .unwrap()
            .push(s);
    });
    push_referrer(&img, &digest, &blob, false).await;
    both_refuse(h, &img, 12, "exactly one is expected");

    // An unknown field.
    let (img, digest) = image("neg-unknown").await;
    let stmt = bundle::build_statement(&digest, &none);
    let blob = bundle_with(&key, &stmt, |v| {
        v["verificationMaterial"]["surprise"] = json!(1);
    });
    push_referrer(&img, &digest, &blob, false).await;
    both_refuse(h, &img, 12, "unknown field");

    // A wrong payloadType (signed as such, so only the type check can refuse it).
    let (img, digest) = image("neg-type").await;
    let stmt = bundle::build_statement(&digest, &none);
    let blob = {
        use p256::ecdsa::signature::Signer as _;
        let sig: p256::ecdsa::DerSignature = key.sign(&bundle::pae("text/plain", &stmt));
        bundle_with(&key, &stmt, |v| {
            v["dsseEnvelope"]["payloadType"] = json!("text/plain");
            v["dsseEnvelope"]["signatures"][0]["sig"] = json!(b64(sig.as_bytes()));
        })
    };
    push_referrer(&img, &digest, &blob, false).await;
    both_refuse(h, &img, 12, "payloadType");

    // Two layers.
    let (img, digest) = image("neg-layers").await;
    let stmt = bundle::build_statement(&digest, &none);
    push_referrer(&img, &digest, &bundle::build_bundle(&key, &stmt), true).await;
    both_refuse(h, &img, 12, "exactly one");

    // A fallback index that lists a referrer since deleted.
    let (img, digest) = image("neg-missing").await;
    let stmt = bundle::build_statement(&digest, &none);
    let gone = push_referrer(&img, &digest, &bundle::build_bundle(&key, &stmt), false).await;
    let r = Reference::parse(&img).unwrap();
    let resp = reqwest::Client::new()
        .delete(format!(
            "http://{}/v2/{}/manifests/{gone}",
            r.registry, r.repository
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202, "deleting the referrer");
    both_refuse(h, &img, 12, "missing from the registry");

    // A `cosign attest` bundle by the same key: cosign 3 takes it as a
    // signature, we do not (documented in the README).
    let (img, digest) = image("neg-attest").await;
    std::fs::write(h.join("pred.json"), r#"{"hello":"world"}"#).unwrap();
    let out = run(cosign3(h)
        .args([
            "attest",
            "--key",
            "ours.key",
            "--predicate",
            "pred.json",
            "--type",
            "custom",
            "--tlog-upload=false",
            "--use-signing-config=false",
            "--allow-insecure-registry",
            "-y",
        ])
        .arg(at_digest(&img, &digest))
        .env("COSIGN_PASSWORD", PW));
    assert_eq!(out.code, 0, "cosign attest: {}", out.stderr);
    let theirs = c3_verify(h, "ours.pub", &img, &[]);
    assert_eq!(
        theirs.code, 0,
        "cosign 3 accepts an attestation: {}",
        theirs.stderr
    );
    let ours = our_verify(h, "ours.pub", &img, &[]);
    assert_eq!(ours.code, 12, "{}", ours.stderr);
    assert!(ours.stderr.contains("_type"), "{}", ours.stderr);

    // A referrer that is not a bundle (an SBOM) is not a signature: skipped silently.
    let (img, digest) = image("neg-sbom").await;
    push_referrer_with(&img, &digest, br#"{"spdxVersion":"SPDX-2.3"}"#, |m| {
        m.artifact_type = Some("application/spdx+json".into());
        m.config.artifact_type = None;
        m.layers[0].media_type = "application/spdx+json".into();
        m.annotations = None;
    })
    .await;
    let ours = our_verify(h, "ours.pub", &img, &[]);
    assert_eq!(ours.code, 10, "{}", ours.stderr);
    assert!(!ours.stderr.contains("bundle referrer"), "{}", ours.stderr);
    assert_ne!(c3_verify(h, "ours.pub", &img, &[]).code, 0);

    // A statement signed with the right key but an attestation's predicate type.
    let (img, digest) = image("neg-predicate").await;
    let stmt = String::from_utf8(bundle::build_statement(&digest, &none))
        .unwrap()
        .replace(bundle::SIGN_PREDICATE, "https://example.com/custom");
    push_referrer(
        &img,
        &digest,
        &bundle::build_bundle(&key, stmt.as_bytes()),
        false,
    )
    .await;
    let ours = our_verify(h, "ours.pub", &img, &[]);
    assert_eq!(ours.code, 12, "{}", ours.stderr);
    assert!(ours.stderr.contains("predicate type"), "{}", ours.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bundle_blob_that_does_not_match_its_digest_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    our_keys(h, "ours");
    let key = signing_key(h, "ours");
    let repo = "bundle/lying";
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}"#;
    let digest = sha256_digest(manifest);
    let blob = bundle::build_bundle(&key, &bundle::build_statement(&digest, &BTreeMap::new()));
    let subject = Descriptor {
        media_type: OCI_MANIFEST.into(),
        size: manifest.len() as i64,
        digest: digest.clone(),
        data: None,
        urls: None,
        annotations: None,
        platform: None,
        artifact_type: None,
    };
    let referrer = serde_json::to_vec(&bundle::referrer_manifest(
        subject,
        &blob,
        "2026-11-30T00:00:00Z",
    ))
    .unwrap();
    let referrer_digest = sha256_digest(&referrer);
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "size": referrer.len(), "digest": referrer_digest}]});
    let mut tampered = blob.clone();
    tampered[10] ^= 1;
    let routes = std::collections::HashMap::from([
        (
            format!("/v2/{repo}/manifests/v1"),
            Reply::Body(OCI_MANIFEST, manifest.to_vec()),
        ),
        (
            format!("/v2/{repo}/manifests/{digest}"),
            Reply::Body(OCI_MANIFEST, manifest.to_vec()),
        ),
        (
            format!("/v2/{repo}/manifests/{}", fallback_tag(&digest)),
            Reply::Body(OCI_INDEX, serde_json::to_vec(&index).unwrap()),
        ),
        (
            format!("/v2/{repo}/manifests/{referrer_digest}"),
            Reply::Body(OCI_MANIFEST, referrer),
        ),
        (
            format!("/v2/{repo}/blobs/{}", sha256_digest(&blob)),
            Reply::Body("application/octet-stream", tampered),
        ),
    ]);
    let server = fake_registry(routes, Reply::Status(404, "{}".into())).await;
    let img = format!("{}/{repo}:v1", server.addr);
    let out = our_verify(h, "ours.pub", &img, &[]);
    assert_eq!(out.code, 12, "{}", out.stderr);
    assert!(
        out.stderr.contains("does not match its digest"),
        "{}",
        out.stderr
    );
}

/// 6. A junk bundle referrer next to a valid `.sig`: we accept (every candidate
/// on its own merits), cosign 3 refuses (it ignores `.sig` once a bundle exists).
#[tokio::test(flavor = "multi_thread")]
async fn a_junk_referrer_does_not_hide_a_valid_legacy_signature() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    our_keys(h, "ours");
    our_keys(h, "junk");
    let (img, digest) = image("junk").await;
    assert_eq!(our_sign(h, "ours.key", &[&img], &[]).code, 0);
    assert_eq!(c3_verify(h, "ours.pub", &img, &[]).code, 0);
    let stmt = bundle::build_statement(&digest, &BTreeMap::new());
    push_referrer(
        &img,
        &digest,
        &bundle::build_bundle(&signing_key(h, "junk"), &stmt),
        false,
    )
    .await;
    let ours = our_verify(h, "ours.pub", &img, &[]);
    assert_eq!(ours.code, 0, "we must accept: {}", ours.stderr);
    let theirs = c3_verify(h, "ours.pub", &img, &[]);
    assert_ne!(
        theirs.code, 0,
        "cosign 3 now refuses (it ignores .sig once a bundle exists); if it accepts, update the README"
    );
}

/// 7 (and issue 9's first item). Two signers at once on the same 20 images,
/// each with its own key: every signature survives, in both formats.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_signers_lose_no_signature() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    our_keys(h, "one");
    our_keys(h, "two");
    let mut images = Vec::new();
    for i in 0..20 {
        images.push(image(&format!("race{i}")).await.0);
    }
    for format in ["bundle", "legacy"] {
        let spawn = |key: &str| {
            harbor_lab(h)
                .args(["sign", "--key", key, "--format", format])
                .args(&images)
                .env("COSIGN_PASSWORD", PW)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn("one.key"), spawn("two.key"));
        for child in [a, b] {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{format}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        for img in &images {
            for key in ["one.pub", "two.pub"] {
                let v = our_verify(h, key, img, &["--format", format]);
                assert_eq!(v.code, 0, "{format} {img} {key}: {}", v.stderr);
            }
        }
    }
}

/// 7, the case read-back alone cannot catch: a signer that is slow between
/// its read of the tag and its write (here a proxy holds its manifest upload
/// for 1.5 s) while a fast one reads, writes and confirms in that gap. On one
/// machine the tag's lock makes the fast signer wait, so both entries stay.
#[tokio::test(flavor = "multi_thread")]
async fn a_slow_signer_does_not_erase_a_fast_ones_signature() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    our_keys(h, "fast");
    our_keys(h, "slow");
    let proxy = slow_proxy(&registry(), std::time::Duration::from_millis(1500)).await;
    // The slow signer's upload that is held while it has the tag read: the
    // .sig manifest, or (after the bundle's own manifest) the fallback index.
    for (format, held_write) in [("legacy", 1), ("bundle", 2)] {
        let (img, _) = image(&format!("slow-{format}")).await;
        let via_proxy = img.replacen(&registry(), &proxy.addr, 1);
        let before = proxy.held();
        let slow = harbor_lab(h)
            .args(["sign", "--key", "slow.key", "--format", format, &via_proxy])
            .env("COSIGN_PASSWORD", PW)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while proxy.held() < before + held_write {
            assert!(
                std::time::Instant::now() < deadline,
                "{format}: the slow signer never wrote"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        // Blocking waits off the runtime, which keeps serving the proxy.
        let (hh, i) = (h.to_path_buf(), img.clone());
        let fast = tokio::task::spawn_blocking(move || {
            our_sign(&hh, "fast.key", &[&i], &["--format", format])
        });
        let fast = fast.await.unwrap();
        assert_eq!(fast.code, 0, "{format}: {}", fast.stderr);
        let slow = tokio::task::spawn_blocking(move || slow.wait_with_output().unwrap())
            .await
            .unwrap();
        assert!(
            slow.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&slow.stderr)
        );
        for key in ["fast.pub", "slow.pub"] {
            let v = our_verify(h, key, &img, &["--format", format]);
            assert_eq!(v.code, 0, "{format} {key}: {}", v.stderr);
        }
    }
}

/// 1 and 2 through Harbor's referrers API (the double as v2.15.1): no fallback
/// tag is written, Harbor shows the bundle as a cosign signature, and its
/// cosign policy lets the signed image through. As v2.14.1 the same bundle is
/// a plain subject accessory: "not signed", and the pull is refused.
#[tokio::test(flavor = "multi_thread")]
async fn bundles_through_the_harbor_double_per_version() {
    for (version, counted) in [("v2.15.1", true), ("v2.14.1", false)] {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        our_keys(h, "ours");
        let d = double(h, version).await;
        let creds = harbor_lab::docker::engine::credentials(&d.host, "admin", DOUBLE_PW);
        let repo = unique("viadouble");
        let (img, digest) =
            push_new_image_as(&d.host, &format!("library/{repo}"), "v1", Some(creds)).await;
        let docker_config = h.join(".docker");
        let out = run(harbor_lab(h)
            .args(["sign", "--key", "ours.key", "--format", "bundle", &img])
            .env("COSIGN_PASSWORD", PW)
            .env("DOCKER_CONFIG", &docker_config));
        assert_eq!(out.code, 0, "{version}: {}", out.stderr);

        // The referrers API answered (OCI-Subject): no fallback tag upstream.
        let tags: Value = reqwest::get(format!(
            "http://{}/v2/{}/library/{repo}/tags/list",
            registry(),
            d.namespace
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(tags["tags"], json!(["v1"]), "{version}");
        let api = reqwest::Client::new()
            .get(format!(
                "http://{}/v2/library/{repo}/referrers/{digest}",
                d.host
            ))
            .basic_auth("admin", Some(DOUBLE_PW))
            .send()
            .await
            .unwrap();
        assert_eq!(api.headers()["content-type"], OCI_INDEX);
        let index = parse_index(&api.bytes().await.unwrap()).unwrap();
        assert_eq!(index.manifests.len(), 1, "{version}");

        // Both verifiers find it through the API.
        let ours = run(harbor_lab(h)
            .args(["verify", "--key", "ours.pub", &img])
            .env("DOCKER_CONFIG", &docker_config));
        assert_eq!(ours.code, 0, "{version}: {}", ours.stderr);
        let theirs = run(c3_verify_command(h, "ours.pub")
            .arg(&img)
            .env("DOCKER_CONFIG", &docker_config));
        assert_eq!(theirs.code, 0, "{version}: cosign 3: {}", theirs.stderr);
        assert_eq!(ours.stdout, theirs.stdout);

        // Harbor's view and its cosign policy, per version.
        let harbor = harbor_lab::harbor::client::Harbor::new(
            &format!("http://{}", d.host),
            "admin",
            DOUBLE_PW,
        )
        .unwrap();
        let arts = harbor.artifacts("library", &repo).await.unwrap();
        assert_eq!(arts.len(), 1, "{arts:?}");
        assert_eq!(arts[0].cosign_signed(), counted, "{version}: {arts:?}");
        harbor
            .set_cosign_enforcement("library", true)
            .await
            .unwrap();
        let pull = reqwest::Client::new()
            .get(format!("http://{}/v2/library/{repo}/manifests/v1", d.host))
            .basic_auth("admin", Some(DOUBLE_PW))
            .header("Accept", OCI_MANIFEST)
            .header(
                "Accept",
                "application/vnd.docker.distribution.manifest.v2+json",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            pull.status() == 200,
            counted,
            "{version}: {}",
            pull.status()
        );
        if !counted {
            assert_eq!(pull.status(), 412);
        }

        if counted {
            // 2. cosign 3 signs through the double; we verify.
            let out = run(cosign3(h)
                .args(["generate-key-pair", "--output-key-prefix", "c3"])
                .env("COSIGN_PASSWORD", PW));
            assert_eq!(out.code, 0, "{}", out.stderr);
            let image = format!("{}/library/{repo}@{digest}", d.host);
            let s =
                run(c3_sign_command(h, "c3.key", &image, &[]).env("DOCKER_CONFIG", &docker_config));
            assert_eq!(s.code, 0, "cosign 3 sign through the double: {}", s.stderr);
            let ours = run(harbor_lab(h)
                .args(["verify", "--key", "c3.pub", &img])
                .env("DOCKER_CONFIG", &docker_config));
            assert_eq!(ours.code, 0, "{}", ours.stderr);
        }
    }
}

/// A hint kept by an earlier run that the registry has no referrers API
/// (`registry::hints`) may speed up a pass but never decides a failure: on
/// Harbor (which has the API) a stale hint does not hide a bundle that only
/// the API lists, and the registry's answer replaces the hint.
#[tokio::test(flavor = "multi_thread")]
async fn a_stale_no_referrers_api_hint_never_hides_a_bundle() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    our_keys(h, "ours");
    let d = double(h, "v2.15.1").await;
    let creds = || {
        Some(harbor_lab::docker::engine::credentials(
            &d.host, "admin", DOUBLE_PW,
        ))
    };
    let docker_config = h.join(".docker");
    let push = |name: &'static str| {
        let host = d.host.clone();
        let creds = creds();
        async move { push_new_image_as(&host, &format!("library/{}", unique(name)), "v1", creds).await }
    };
    let (bundled, _) = push("hintb").await;
    let (legacy, _) = push("hintl").await;
    let (unsigned, _) = push("hintu").await;
    for (img, format) in [(&bundled, "bundle"), (&legacy, "legacy")] {
        let out = run(harbor_lab(h)
            .args(["sign", "--key", "ours.key", "--format", format, img])
            .env("COSIGN_PASSWORD", PW)
            .env("DOCKER_CONFIG", &docker_config));
        assert_eq!(out.code, 0, "{format}: {}", out.stderr);
    }
    let hint = no_referrers_api_hint(h, &d.host);
    let plant = || {
        std::fs::create_dir_all(hint.parent().unwrap()).unwrap();
        std::fs::write(&hint, b"").unwrap();
    };
    let verify = |img: &str| {
        let out = run(harbor_lab(h)
            .args(["verify", "--json", "--key", "ours.pub", img])
            .env("DOCKER_CONFIG", &docker_config));
        let doc: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
        (out, doc)
    };

    // Trusted for a pass: the legacy signature verifies, nothing is asked.
    plant();
    let (out, doc) = verify(&legacy);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(doc["images"][0]["formats"], json!(["legacy"]), "{doc}");
    assert!(hint.is_file(), "a pass on the hint keeps it");

    // Not trusted for a failure: the API is asked, the bundle found.
    let (out, doc) = verify(&bundled);
    assert_eq!(out.code, 0, "the hint hid the bundle: {}", out.stderr);
    assert_eq!(doc["images"][0]["formats"], json!(["bundle"]), "{doc}");
    assert!(!hint.exists(), "the registry's answer replaces the hint");

    // An unsigned image is reported only after the API was asked.
    plant();
    let (out, doc) = verify(&unsigned);
    assert_eq!(out.code, 10, "{}", out.stderr);
    assert_eq!(doc["images"][0]["verified"], false, "{doc}");
    assert!(!hint.exists(), "the failure asked the registry");
}

/// Harbor 2.9 has a referrers API that answers `application/json` (and sends
/// `OCI-Subject`, so no fallback tag is written): readers, cosign 3 and we
/// alike, ignore that answer and find no bundle.
#[tokio::test(flavor = "multi_thread")]
async fn harbor_2_9_referrers_answer_is_not_trusted() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    our_keys(h, "ours");
    let d = double(h, "v2.9.0").await;
    let creds = harbor_lab::docker::engine::credentials(&d.host, "admin", DOUBLE_PW);
    let repo = unique("v29");
    let (img, digest) =
        push_new_image_as(&d.host, &format!("library/{repo}"), "v1", Some(creds)).await;
    let docker_config = h.join(".docker");
    let out = run(harbor_lab(h)
        .args(["sign", "--key", "ours.key", "--format", "bundle", &img])
        .env("COSIGN_PASSWORD", PW)
        .env("DOCKER_CONFIG", &docker_config));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = reqwest::Client::new()
        .get(format!(
            "http://{}/v2/library/{repo}/referrers/{digest}",
            d.host
        ))
        .basic_auth("admin", Some(DOUBLE_PW))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(
        parse_index(&r.bytes().await.unwrap())
            .unwrap()
            .manifests
            .len(),
        1
    );
    let ours = run(harbor_lab(h)
        .args(["verify", "--key", "ours.pub", &img])
        .env("DOCKER_CONFIG", &docker_config));
    assert_eq!(ours.code, 10, "{}", ours.stderr);
    let theirs = run(c3_verify_command(h, "ours.pub")
        .arg(&img)
        .env("DOCKER_CONFIG", &docker_config));
    assert_ne!(
        theirs.code, 0,
        "cosign 3 read Harbor 2.9's answer: {}",
        theirs.stdout
    );
}

/// 8. The demo against Harbor v2.15.1 signs with a sigstore bundle, which
/// Harbor shows as signed and its policy lets through; the unsigned image is
/// refused. (As v2.7.1 it signs legacy: tests/lab.rs.)
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_signs_bundles_for_harbor_2_15() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let d = double(h, "v2.15.1").await;
    std::fs::write(h.join("image.tar"), rootfs_tar(&unique("demo215"))).unwrap();
    let image = format!("{}:v1", unique("hl-demo"));
    let out = run(harbor_lab(h)
        .args(["demo", "--harbor-url", &format!("http://{}", d.host)])
        .arg("--harbor-password-file")
        .arg(h.join("pw"))
        .arg("--workdir")
        .arg(h.join("work"))
        .args(["--image", &image, "--image-file"])
        .arg(h.join("image.tar"))
        .args(["--explain", "--yes", "--json"])
        .env("COSIGN_PASSWORD", PW));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let demo: Value = serde_json::from_str(&out.stdout).unwrap();
    for (k, want) in [
        ("signed_before", false),
        ("signed_after", true),
        ("verified", true),
        ("tamper_detected", true),
        ("unsigned_pull_blocked", true),
        ("signed_pull_allowed", true),
    ] {
        assert_eq!(demo[k], want, "{k}: {demo}");
    }
    assert_eq!(demo["signature_format"], "bundle", "{demo}");
    assert!(
        out.stderr.contains("--use-signing-config=false"),
        "--explain shows cosign 3's command: {}",
        out.stderr
    );
    // The demo made the lab key pair, and --explain says how by hand.
    let make_keys = format!(
        "$ cosign generate-key-pair --output-key-prefix {}",
        h.join("work/cosign").display()
    );
    assert!(out.stderr.contains(&make_keys), "{}", out.stderr);
    // The signature is a referrer, not a .sig tag.
    let digest = demo["digest"].as_str().unwrap();
    let tags: Value = reqwest::get(format!(
        "http://{}/v2/{}/library/{}/tags/list",
        registry(),
        d.namespace,
        image.split(':').next().unwrap()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let sig_tag = format!("sha256-{}.sig", &digest[7..]);
    assert!(
        !tags["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == &sig_tag),
        "{tags}"
    );
}

/// In a project that already enforces cosign signatures, Harbor refuses to show
/// the unsigned image to a client that is not cosign (412): the demo signs the
/// digest, size and media type of its own push, and the subject is exact.
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_signs_its_own_push_in_an_enforced_project() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let d = double(h, "v2.15.1").await;
    let harbor =
        harbor_lab::harbor::client::Harbor::new(&format!("http://{}", d.host), "admin", DOUBLE_PW)
            .unwrap();
    harbor.create_project("enf", false).await.unwrap();
    harbor.set_cosign_enforcement("enf", true).await.unwrap();
    std::fs::write(h.join("image.tar"), rootfs_tar(&unique("enforced"))).unwrap();
    let image = format!("{}:v1", unique("hl-enf"));
    let out = run(harbor_lab(h)
        .args(["demo", "--harbor-url", &format!("http://{}", d.host)])
        .arg("--harbor-password-file")
        .arg(h.join("pw"))
        .arg("--workdir")
        .arg(h.join("work"))
        .args(["--project", "enf", "--image", &image, "--image-file"])
        .arg(h.join("image.tar"))
        .args(["--yes", "--json"])
        .env("COSIGN_PASSWORD", PW));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let demo: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(demo["signed_after"], true, "{demo}");
    assert_eq!(demo["verified"], true, "{demo}");
    assert_eq!(demo["signature_format"], "bundle", "{demo}");
    // The referrer's subject is the manifest as the registry stores it.
    let name = image.split(':').next().unwrap();
    let upstream =
        Reference::parse(&format!("{}/{}/enf/{name}:v1", registry(), d.namespace)).unwrap();
    let c = client();
    let stored = c.get_manifest(&upstream).await.unwrap().unwrap();
    let api: Value = reqwest::Client::new()
        .get(format!(
            "http://{}/v2/enf/{name}/referrers/{}",
            d.host, stored.digest
        ))
        .basic_auth("admin", Some(DOUBLE_PW))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let referrer = api["manifests"][0]["digest"].as_str().unwrap();
    let m = c
        .get_manifest(&upstream.with_digest(referrer))
        .await
        .unwrap()
        .unwrap();
    let m: ImageManifest = serde_json::from_slice(&m.bytes).unwrap();
    let subject = m.subject.unwrap();
    assert_eq!(subject.digest, stored.digest);
    assert_eq!(subject.size as usize, stored.bytes.len());
    assert_eq!(subject.media_type, stored.media_type);
}
