//! Interoperability with the real cosign 2.5 and skopeo 1.18, both ways, on a
//! real loopback docker-registry with images made through dockerd; and the
//! negative cases, refused by us and by cosign alike.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use base64::Engine as _;
use bytes::Bytes;
use harbor_lab::cosign::keys;
use harbor_lab::registry::{Reference, manifest::ImageManifest, sha256_digest};
use support::*;

const PW: &str = KEY_PW;

fn cosign_keys(home: &Path, prefix: &str) {
    let out = run(cosign(home)
        .args(["generate-key-pair", "--output-key-prefix", prefix])
        .env("COSIGN_PASSWORD", PW));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

fn cosign_sign(home: &Path, key: &str, image: &str) -> Run {
    run(&mut cosign_sign_command(home, key, PW, image, &[]))
}

fn cosign_verify(home: &Path, key: &str, image: &str, extra: &[&str]) -> Run {
    run(cosign(home)
        .args([
            "verify",
            "--key",
            key,
            "--insecure-ignore-tlog=true",
            "--allow-insecure-registry",
        ])
        .args(extra)
        .arg(image))
}

async fn image(name: &str) -> (String, String) {
    push_new_image(&registry(), &format!("interop/{}", unique(name)), "v1").await
}

async fn sig_manifest(image: &str, digest: &str) -> ImageManifest {
    let r = Reference::parse(image).unwrap();
    let m = client()
        .get_manifest(&r.with_tag(&harbor_lab::cosign::signature_tag(digest)))
        .await
        .unwrap()
        .expect("a .sig manifest");
    assert_eq!(m.media_type, "application/vnd.oci.image.manifest.v1+json");
    serde_json::from_slice(&m.bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn cosign_verifies_what_we_sign_and_we_verify_it_too() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    our_keys(h, "ours");
    let (img, digest) = image("we-sign").await;
    let out = our_sign(h, "ours.key", &[&img], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let c = cosign_verify(h, "ours.pub", &img, &[]);
    assert_eq!(c.code, 0, "cosign: {}", c.stderr);
    assert!(c.stdout.contains(&digest), "{}", c.stdout);
    let v = our_verify(h, "ours.pub", &img, &[]);
    assert_eq!(v.code, 0, "{}", v.stderr);
    assert!(
        v.stderr.contains(&format!("Verification for {img} --")),
        "{}",
        v.stderr
    );
    // stdout is cosign's: a blank line, then the JSON list of payloads.
    let list: serde_json::Value = serde_json::from_str(v.stdout.trim()).unwrap();
    assert_eq!(
        list[0]["critical"]["image"]["docker-manifest-digest"],
        digest.as_str()
    );
    assert_eq!(
        list[0]["critical"]["identity"]["docker-reference"],
        img.trim_end_matches(":v1")
    );

    // The signature image has cosign's exact layout.
    let m = sig_manifest(&img, &digest).await;
    assert_eq!(m.layers.len(), 1);
    assert_eq!(m.config.size, 233);
    assert_eq!(
        m.layers[0].media_type,
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );

    // Signing again with the same key and claims adds nothing.
    let again = our_sign(h, "ours.key", &[&img], &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stderr.contains("already signed"), "{}", again.stderr);
    assert_eq!(sig_manifest(&img, &digest).await.layers.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn we_verify_what_cosign_signs_and_append_to_it() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    cosign_keys(h, "theirs");
    our_keys(h, "ours");
    let (img, digest) = image("cosign-signs").await;
    let c = cosign_sign(h, "theirs.key", &img);
    assert_eq!(c.code, 0, "cosign sign: {}", c.stderr);
    let v = our_verify(h, "theirs.pub", &img, &[]);
    assert_eq!(v.code, 0, "{}", v.stderr);

    // We append our layer to cosign's .sig; both signatures stand.
    let out = our_sign(h, "ours.key", &[&img], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let m = sig_manifest(&img, &digest).await;
    assert_eq!(m.layers.len(), 2);
    // Same image, same claims: our payload is cosign's, byte for byte.
    assert_eq!(m.layers[0].digest, m.layers[1].digest);
    assert_eq!(m.layers[0].size, m.layers[1].size);
    for key in ["theirs.pub", "ours.pub"] {
        assert_eq!(
            cosign_verify(h, key, &img, &[]).code,
            0,
            "cosign with {key}"
        );
        assert_eq!(our_verify(h, key, &img, &[]).code, 0, "ours with {key}");
    }
    // cosign appends to ours in turn.
    let (img2, digest2) = image("append-cosign").await;
    assert_eq!(our_sign(h, "ours.key", &[&img2], &[]).code, 0);
    assert_eq!(cosign_sign(h, "theirs.key", &img2).code, 0);
    assert_eq!(sig_manifest(&img2, &digest2).await.layers.len(), 2);
    assert_eq!(our_verify(h, "ours.pub", &img2, &[]).code, 0);
    assert_eq!(our_verify(h, "theirs.pub", &img2, &[]).code, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn cosign_signs_with_our_key_and_agrees_on_its_public_key() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    our_keys(h, "ours");
    let pk = run(cosign(h)
        .args(["public-key", "--key", "ours.key"])
        .env("COSIGN_PASSWORD", PW));
    assert_eq!(pk.code, 0, "{}", pk.stderr);
    assert_eq!(
        pk.stdout,
        std::fs::read_to_string(h.join("ours.pub")).unwrap()
    );
    let (img, _) = image("cosign-our-key").await;
    assert_eq!(cosign_sign(h, "ours.key", &img).code, 0);
    assert_eq!(our_verify(h, "ours.pub", &img, &[]).code, 0);
    assert_eq!(cosign_verify(h, "ours.pub", &img, &[]).code, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn we_sign_with_a_key_cosign_generated() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    cosign_keys(h, "theirs");
    let (img, _) = image("our-sign-cosign-key").await;
    let out = our_sign(h, "theirs.key", &[&img], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(cosign_verify(h, "theirs.pub", &img, &[]).code, 0);
    assert_eq!(our_verify(h, "theirs.pub", &img, &[]).code, 0);
    // And our public-key of cosign's key equals cosign's .pub.
    let pk = run(harbor_lab(h)
        .args(["keys", "public-key", "--key", "theirs.key"])
        .env("COSIGN_PASSWORD", PW));
    assert_eq!(
        pk.stdout,
        std::fs::read_to_string(h.join("theirs.pub")).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn many_images_are_signed_in_one_invocation_with_annotations() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    our_keys(h, "ours");
    let mut imgs = Vec::new();
    for i in 0..4 {
        imgs.push(image(&format!("many{i}")).await.0);
    }
    let refs: Vec<&str> = imgs.iter().map(String::as_str).collect();
    let out = our_sign(
        h,
        "ours.key",
        &refs,
        &["-a", "team=lab", "-a", "note=<a&b>"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    for img in &imgs {
        assert_eq!(
            cosign_verify(h, "ours.pub", img, &["-a", "team=lab"]).code,
            0
        );
        assert_eq!(
            our_verify(h, "ours.pub", img, &["-a", "team=lab", "-a", "note=<a&b>"]).code,
            0
        );
        let wrong = our_verify(h, "ours.pub", img, &["-a", "team=other"]);
        assert_eq!(wrong.code, 12, "{}", wrong.stderr);
        assert!(wrong.stderr.contains("annotation"), "{}", wrong.stderr);
        assert_ne!(
            cosign_verify(h, "ours.pub", img, &["-a", "team=other"]).code,
            0
        );
        // Our stdout is cosign's, byte for byte (Go escapes <, > and & in strings).
        let ours = our_verify(h, "ours.pub", img, &[]);
        let theirs = cosign_verify(h, "ours.pub", img, &[]);
        assert_eq!(ours.stdout, theirs.stdout);
        assert!(
            ours.stdout.contains("\\u003ca\\u0026b\\u003e"),
            "{}",
            ours.stdout
        );
    }
}

/// The repository's templates/ for podman/skopeo, filled in for this registry and key.
fn skopeo_config(home: &Path, pubkey: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let fill = |t: &str| {
        t.replace("{{ registry }}", &registry())
            .replace("{{ public_key }}", &pubkey.display().to_string())
    };
    let policy = home.join("policy.json");
    std::fs::write(
        &policy,
        fill(include_str!("../templates/containers-policy.json.tmpl")),
    )
    .unwrap();
    let regd = home.join("registries.d");
    std::fs::create_dir_all(&regd).unwrap();
    std::fs::write(
        regd.join("lab.yaml"),
        fill(include_str!("../templates/registries.d.yaml.tmpl")),
    )
    .unwrap();
    (policy, regd)
}

#[tokio::test(flavor = "multi_thread")]
async fn skopeo_policy_accepts_our_signature_and_refuses_unsigned() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    our_keys(h, "ours");
    let (signed, _) = image("skopeo-signed").await;
    let (unsigned, _) = image("skopeo-unsigned").await;
    assert_eq!(our_sign(h, "ours.key", &[&signed], &[]).code, 0);
    let (policy, regd) = skopeo_config(h, &h.join("ours.pub"));
    let copy = |img: &str, dest: &str| {
        run(skopeo(h)
            .arg("--policy")
            .arg(&policy)
            .arg("--registries.d")
            .arg(&regd)
            .args(["copy", "--src-tls-verify=false"])
            .arg(format!("docker://{img}"))
            .arg(format!("dir:{}", h.join(dest).display())))
    };
    let ok = copy(&signed, "out-signed");
    assert_eq!(ok.code, 0, "skopeo refused our signed image: {}", ok.stderr);
    let refused = copy(&unsigned, "out-unsigned");
    assert_ne!(refused.code, 0, "skopeo accepted an unsigned image");
    assert!(refused.stderr.contains("signature"), "{}", refused.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn we_verify_what_skopeo_signs_with_our_key() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    our_keys(h, "ours");
    std::fs::write(h.join("pass"), format!("{PW}\n")).unwrap();
    let (src, _) = image("skopeo-src").await;
    let dest = format!("{}/interop/{}:v1", registry(), unique("skopeo-dest"));
    let (_, regd) = skopeo_config(h, &h.join("ours.pub"));
    let out = run(skopeo(h)
        .arg("--insecure-policy")
        .arg("--registries.d")
        .arg(&regd)
        .args([
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--sign-by-sigstore-private-key",
            "ours.key",
            "--sign-passphrase-file",
            "pass",
        ])
        .arg(format!("docker://{src}"))
        .arg(format!("docker://{dest}")));
    assert_eq!(out.code, 0, "skopeo sign: {}", out.stderr);
    let v = our_verify(h, "ours.pub", &dest, &[]);
    assert_eq!(v.code, 0, "{}", v.stderr);
    // skopeo's payload names the tag; cosign ignores that, and so do we.
    assert!(v.stdout.contains(&dest), "{}", v.stdout);
}

// ---------------------------------------------------------------------------
// Negative cases, on the real registry.

/// Write a `.sig` image for `image` with one layer (payload, signature) using
/// the library client directly, as a hostile or broken signer would.
async fn put_sig(image: &str, for_digest: &str, payload: &[u8], signature_b64: &str) {
    let r = Reference::parse(image).unwrap();
    let sig_ref = r.with_tag(&harbor_lab::cosign::signature_tag(for_digest));
    let c = client();
    let pd = sha256_digest(payload);
    c.put_blob(&sig_ref, &pd, Bytes::copy_from_slice(payload))
        .await
        .unwrap();
    let mut cfg = harbor_lab::registry::manifest::ConfigFile::empty();
    cfg.append_layer(&pd);
    let cfg = serde_json::to_vec(&cfg).unwrap();
    let cd = sha256_digest(&cfg);
    c.put_blob(&sig_ref, &cd, cfg.clone().into()).await.unwrap();
    let m = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": cfg.len(), "digest": cd},
        "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "size": payload.len(), "digest": pd,
                    "annotations": {"dev.cosignproject.cosign/signature": signature_b64}}]
    });
    c.put_manifest(
        &sig_ref,
        serde_json::to_vec(&m).unwrap().into(),
        "application/vnd.oci.image.manifest.v1+json",
    )
    .await
    .unwrap();
}

fn sign_bytes(home: &Path, payload: &[u8]) -> String {
    use p256::ecdsa::signature::Signer;
    let key = keys::decrypt_private_key(
        &std::fs::read(home.join("ours.key")).unwrap(),
        PW.as_bytes(),
    )
    .unwrap();
    let sig: p256::ecdsa::DerSignature = key.sign(payload);
    base64::engine::general_purpose::STANDARD.encode(sig.as_bytes())
}

fn both_refuse(h: &Path, key: &str, img: &str, code: i32, reason: &str) {
    let ours = our_verify(h, key, img, &[]);
    assert_eq!(ours.code, code, "ours: {}", ours.stderr);
    assert!(
        ours.stderr.contains(reason),
        "expected {reason:?} in: {}",
        ours.stderr
    );
    let theirs = cosign_verify(h, key, img, &[]);
    assert_eq!(theirs.code, code, "cosign: {}", theirs.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn negative_cases_are_refused_by_us_and_by_cosign() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    our_keys(h, "ours");
    our_keys(h, "other");

    // Wrong key.
    let (signed, signed_digest) = image("neg-signed").await;
    assert_eq!(our_sign(h, "ours.key", &[&signed], &[]).code, 0);
    both_refuse(h, "other.pub", &signed, 12, "invalid signature");

    // Unsigned image.
    let (unsigned, _) = image("neg-unsigned").await;
    both_refuse(h, "ours.pub", &unsigned, 10, "no signatures found");

    // A .sig copied onto another image's digest (same repository).
    let r = Reference::parse(&signed).unwrap();
    let c = client();
    let sig = c
        .get_manifest(&r.with_tag(&harbor_lab::cosign::signature_tag(&signed_digest)))
        .await
        .unwrap()
        .unwrap();
    let (victim, victim_digest) = {
        // a second image in the same repository
        let repo = r.repository.clone();
        push_new_image(&registry(), &repo, "other").await
    };
    c.put_manifest(
        &r.with_tag(&harbor_lab::cosign::signature_tag(&victim_digest)),
        sig.bytes.clone(),
        &sig.media_type,
    )
    .await
    .unwrap();
    both_refuse(h, "ours.pub", &victim, 12, "digest in claim");

    // A tampered payload blob, with the original signature.
    let (img, digest) = image("neg-tampered").await;
    let name = Reference::parse(&img).unwrap().name();
    let good = harbor_lab::cosign::payload::build(&name, &digest, &BTreeMap::new());
    let sig_b64 = sign_bytes(h, &good);
    let mut tampered = good.clone();
    let n = tampered.len();
    tampered[n - 2] = b' '; // "null}" -> "nul }"
    put_sig(&img, &digest, &tampered, &sig_b64).await;
    both_refuse(h, "ours.pub", &img, 12, "invalid signature");

    // A payload signed correctly but claiming another digest.
    let (img, digest) = image("neg-claim").await;
    let name = Reference::parse(&img).unwrap().name();
    let lie = harbor_lab::cosign::payload::build(
        &name,
        &format!("sha256:{}", "0".repeat(64)),
        &BTreeMap::new(),
    );
    put_sig(&img, &digest, &lie, &sign_bytes(h, &lie)).await;
    both_refuse(h, "ours.pub", &img, 12, "digest in claim");

    // A payload that is not JSON, validly signed.
    let (img, digest) = image("neg-notjson").await;
    put_sig(&img, &digest, b"&", &sign_bytes(h, b"&")).await;
    both_refuse(h, "ours.pub", &img, 12, "not simple-signing JSON");

    // A bad layer next to a good one never hides the good one.
    let (img, digest) = image("neg-mixed").await;
    put_sig(&img, &digest, b"&", &sign_bytes(h, b"&")).await;
    assert_eq!(our_sign(h, "ours.key", &[&img], &[]).code, 0);
    assert_eq!(our_verify(h, "ours.pub", &img, &[]).code, 0);
    assert_eq!(cosign_verify(h, "ours.pub", &img, &[]).code, 0);

    // A tag that does not exist.
    let missing = format!("{}/interop/{}:nope", registry(), unique("missing"));
    both_refuse(h, "ours.pub", &missing, 11, "image not found");
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_registries_give_clear_errors() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    our_keys(h, "ours");
    let manifest = std::fs::read(vectors().join("signed/valid/manifest.json")).unwrap();
    let digest = sha256_digest(&manifest);
    let cases: Vec<(&str, Reply, &str)> = vec![
        (
            "http-500",
            Reply::Status(
                500,
                r#"{"errors":[{"code":"UNKNOWN","message":"internal server error"}]}"#.into(),
            ),
            "HTTP 500",
        ),
        ("garbage", Reply::Garbage, "cannot reach registry"),
        ("endless", Reply::Endless, "larger than"),
        ("huge-length", Reply::HugeLength, "larger than"),
        (
            "not-json",
            Reply::Body(
                "application/vnd.oci.image.manifest.v1+json",
                b"\x00\x01garbage".to_vec(),
            ),
            "not an image manifest",
        ),
    ];
    for (name, reply, needle) in cases {
        // The image manifest is fine; the .sig manifest answers badly.
        let mut routes = HashMap::new();
        routes.insert(
            format!("/v2/hostile/x/manifests/{digest}"),
            Reply::Body(
                "application/vnd.docker.distribution.manifest.v2+json",
                manifest.clone(),
            ),
        );
        let tag = harbor_lab::cosign::signature_tag(&digest);
        routes.insert(format!("/v2/hostile/x/manifests/{tag}"), reply);
        let server = fake_registry(routes, Reply::Status(404, "{}".into())).await;
        let img = format!("{}/hostile/x@{digest}", server.addr);
        let hp = h.to_path_buf();
        let img2 = img.clone();
        let out = tokio::task::spawn_blocking(move || our_verify(&hp, "ours.pub", &img2, &[]))
            .await
            .unwrap();
        let expected = if name == "not-json" { 12 } else { 4 };
        assert_eq!(out.code, expected, "{name}: {}", out.stderr);
        assert!(
            out.stderr.contains(needle),
            "{name}: expected {needle:?} in {}",
            out.stderr
        );
        assert!(
            out.stderr.contains(&server.addr) || name == "not-json",
            "{name}: the server is named: {}",
            out.stderr
        );
        let hp = h.to_path_buf();
        let theirs = tokio::task::spawn_blocking(move || cosign_verify(&hp, "ours.pub", &img, &[]))
            .await
            .unwrap();
        assert_ne!(theirs.code, 0, "{name}: cosign accepted it");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_index_is_signed_as_the_index_and_text_output_is_raw() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    our_keys(h, "ours");
    let (img, digest) = image("index").await;
    let r = Reference::parse(&img).unwrap();
    let c = client();
    let m = c.get_manifest(&r).await.unwrap().unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": m.media_type, "size": m.bytes.len(), "digest": digest,
                       "platform": {"architecture": "amd64", "os": "linux"}}]
    });
    let bytes = serde_json::to_vec(&index).unwrap();
    let index_digest = c
        .put_manifest(
            &r.with_tag("idx"),
            bytes.into(),
            "application/vnd.oci.image.index.v1+json",
        )
        .await
        .unwrap();
    let idx = format!("{}:idx", r.name());
    let out = our_sign(h, "ours.key", &[&idx], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The index itself is signed (as cosign does without --recursive), not its child.
    assert_eq!(sig_manifest(&idx, &index_digest).await.layers.len(), 1);
    let theirs = cosign_verify(h, "ours.pub", &idx, &[]);
    assert_eq!(theirs.code, 0, "{}", theirs.stderr);
    assert!(theirs.stdout.contains(&index_digest));
    assert_eq!(
        our_verify(h, "ours.pub", &img, &[]).code,
        10,
        "the child image has no signature of its own"
    );

    // -o text prints the raw payload, exactly the signed bytes.
    let text = our_verify(h, "ours.pub", &idx, &["-o", "text"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    let expected = harbor_lab::cosign::payload::build(&r.name(), &index_digest, &BTreeMap::new());
    assert_eq!(
        text.stdout,
        format!("{}\n", String::from_utf8(expected).unwrap())
    );

    // keys public-key --outfile writes the same PEM as the .pub.
    let out = run(harbor_lab(h)
        .args([
            "keys",
            "public-key",
            "--key",
            "ours.key",
            "--outfile",
            "again.pub",
        ])
        .env("COSIGN_PASSWORD", PW));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        std::fs::read(h.join("again.pub")).unwrap(),
        std::fs::read(h.join("ours.pub")).unwrap()
    );
}

/// cosign 2.5's payloads are the ones `verify` writes itself (the image's
/// name and digest, the annotations it was signed with when they are asked
/// for), so verifying its signatures fetches no payload blob: a log of the
/// requests in front of the registry shows none. A payload with annotations
/// not asked for is one `verify` cannot write: fetched, and verified still.
#[tokio::test(flavor = "multi_thread")]
async fn cosign_payloads_are_written_by_verify_not_fetched() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    cosign_keys(h, "theirs");
    let proxy = slow_proxy(&registry(), std::time::Duration::ZERO).await;
    let (plain, _) = image("written-plain").await;
    let (annotated, _) = image("written-annotated").await;
    let via_proxy = |img: &str| img.replacen(&registry(), &proxy.addr, 1);
    let (plain, annotated) = (via_proxy(&plain), via_proxy(&annotated));
    assert_eq!(cosign_sign(h, "theirs.key", &plain).code, 0);
    let annotation = ["-a", "team=blue"];
    let signed = run(&mut cosign_sign_command(
        h,
        "theirs.key",
        PW,
        &annotated,
        &annotation,
    ));
    assert_eq!(signed.code, 0, "{}", signed.stderr);

    let before = proxy.requests().len();
    let v = our_verify(h, "theirs.pub", &plain, &[]);
    assert_eq!(v.code, 0, "{}", v.stderr);
    let v = our_verify(h, "theirs.pub", &annotated, &annotation);
    assert_eq!(v.code, 0, "{}", v.stderr);
    let seen = &proxy.requests()[before..];
    let sig_reads = seen.iter().filter(|r| r.ends_with(".sig")).count();
    assert_eq!(sig_reads, 2, "{seen:#?}");
    assert!(seen.iter().all(|r| !r.contains("/blobs/")), "{seen:#?}");

    let before = proxy.requests().len();
    let v = our_verify(h, "theirs.pub", &annotated, &[]);
    assert_eq!(v.code, 0, "{}", v.stderr);
    let seen = &proxy.requests()[before..];
    let blobs = seen.iter().filter(|r| r.contains("/blobs/")).count();
    assert_eq!(blobs, 1, "{seen:#?}");
}
