//! The cost model of `verify`, counted by the fake registry: one invocation
//! for N images makes at most three requests per image for cosign 2's layout
//! (the image's manifest, its `.sig` manifest, the payload blob), plus, for a
//! registry that asks for a token, one challenge and one token request for all
//! the images together. A payload as cosign writes it is not fetched at all: the
//! digest in the `.sig` manifest proves the bytes `verify` writes itself.
//! Looking for cosign 3's bundles as well (the default, `--format any`) adds
//! the fallback tag per image, and one referrers-API
//! request for the whole registry (a registry without the API, like
//! distribution 2.8, lacks it for every image): four per image, plus one. That
//! "no API" is kept (`registry::hints`), so the next invocation makes no probe.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use base64::Engine as _;
use harbor_lab::cosign::{keys, payload};
use harbor_lab::registry::sha256_digest;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{DerSignature, SigningKey};
use support::*;

const IMAGES: usize = 6;

/// Routes for `IMAGES` signed images, each in its own repository and tagged
/// `v1`; returns the routes and the repositories. The payloads name the bare
/// repository, not `registry/repository` as cosign writes it: a payload `verify`
/// cannot write itself, so it must fetch it.
fn signed_images(key: &SigningKey) -> (HashMap<String, Reply>, Vec<String>) {
    signed_images_named(key, &|repo| repo.to_string())
}

/// [`signed_images`] with payloads naming `docker_reference(repo)`.
fn signed_images_named(
    key: &SigningKey,
    docker_reference: &dyn Fn(&str) -> String,
) -> (HashMap<String, Reply>, Vec<String>) {
    let mut all = HashMap::new();
    let mut repos = Vec::new();
    for i in 1..=IMAGES {
        let repo = format!("cost/app{i}");
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
                       "digest": sha256_digest(format!("config {i}").as_bytes())},
            "layers": [],
        }))
        .unwrap();
        let digest = sha256_digest(&manifest);
        let body = payload::build(&docker_reference(&repo), &digest, &BTreeMap::new());
        let sig: DerSignature = key.sign(&body);
        let b64 = base64::engine::general_purpose::STANDARD.encode(sig.as_bytes());
        let annotations = BTreeMap::from([(payload::SIGNATURE_ANNOTATION.to_string(), b64)]);
        let layers = [(
            payload::SIMPLE_SIGNING_MEDIA_TYPE.to_string(),
            body,
            annotations,
        )];
        let (routes, served) = signed_image_routes(&repo, &manifest, &layers);
        assert_eq!(served, digest);
        all.extend(routes);
        all.insert(
            format!("/v2/{repo}/manifests/v1"),
            Reply::Body("application/vnd.oci.image.manifest.v1+json", manifest),
        );
        repos.push(repo);
    }
    (all, repos)
}

/// Verify every image in one invocation against a fake registry asking for
/// `auth`; returns the requests it served, after checking all were verified.
async fn verify_all(auth: FakeAuth, format: &'static str) -> (Vec<String>, Vec<String>) {
    let home = tempfile::tempdir().unwrap();
    let (server, images, repos) = serve_signed(home.path(), auth).await;
    verify_in(home.path(), format, &images).await;
    (server.requests(), repos)
}

/// A fake registry asking for `auth`, serving `IMAGES` images signed by the
/// key `cosign.pub` in `home`; the server, the image names and repositories.
async fn serve_signed(home: &Path, auth: FakeAuth) -> (FakeRegistry, Vec<String>, Vec<String>) {
    let key = keys::generate();
    let pem = keys::public_key_pem(key.verifying_key()).unwrap();
    std::fs::write(home.join("cosign.pub"), pem).unwrap();
    let (routes, repos) = signed_images(&key);
    let server = fake_registry_with(routes, manifest_unknown(), auth).await;
    let images: Vec<String> = repos
        .iter()
        .map(|r| format!("{}/{r}:v1", server.addr))
        .collect();
    (server, images, repos)
}

/// One `verify` of `images` with the key `cosign.pub` in `home`, which must
/// verify them all.
async fn verify_in(home: &Path, format: &'static str, images: &[String]) {
    let (code, verdicts, out) = verdicts_in(home, format, images).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(verdicts, vec![true; IMAGES], "{out}");
}

/// One `verify` of `images` with the key `cosign.pub` in `home`: its exit code,
/// whether each image was verified, and what it wrote.
async fn verdicts_in(
    home: &Path,
    format: &'static str,
    images: &[String],
) -> (i32, Vec<bool>, String) {
    let home_path = home.to_path_buf();
    let args = images.to_vec();
    let out = tokio::task::spawn_blocking(move || {
        run(harbor_lab(&home_path)
            .args([
                "verify",
                "--json",
                "--format",
                format,
                "--key",
                "cosign.pub",
            ])
            .args(&args))
    })
    .await
    .unwrap();
    let written = format!("{}\n{}", out.stdout, out.stderr);
    let Ok(report) = serde_json::from_str::<serde_json::Value>(&out.stdout) else {
        panic!("no JSON report: {written}");
    };
    let verdicts = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["verified"] == true)
        .collect();
    (out.code, verdicts, written)
}

/// The requests that touched `repo` and were answered (not challenged).
fn served_for<'a>(requests: &'a [String], repo: &str) -> Vec<&'a String> {
    let prefix = format!(" /v2/{repo}/");
    requests
        .iter()
        .filter(|r| r.contains(&prefix) && !r.ends_with(" 401"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_costs_three_requests_per_image() {
    for (format, per_image, probes) in [("legacy", 3, 0), ("any", 4, 1)] {
        let (requests, repos) = verify_all(FakeAuth::Anonymous, format).await;
        let referrers = |r: &&String| r.contains("/referrers/");
        let asked_api = requests.iter().filter(referrers).count();
        assert_eq!(asked_api, probes, "{format}: {requests:#?}");
        for repo in &repos {
            let mine: Vec<_> = served_for(&requests, repo)
                .into_iter()
                .filter(|r| !referrers(r))
                .collect();
            assert!(mine.len() <= per_image, "{format} {repo}: {mine:#?}");
        }
        assert!(
            requests.len() <= per_image * IMAGES + probes,
            "{format}: {} requests for {IMAGES} images: {requests:#?}",
            requests.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_registry_costs_one_challenge_and_one_token_for_all_images() {
    let (requests, repos) = verify_all(FakeAuth::Bearer, "legacy").await;
    for repo in &repos {
        let mine = served_for(&requests, repo);
        assert!(mine.len() <= 3, "{repo}: {mine:#?}");
    }
    let challenged = requests.iter().filter(|r| r.ends_with(" 401")).count();
    let tokens: Vec<&String> = requests
        .iter()
        .filter(|r| r.contains(" /service/token"))
        .collect();
    assert!(challenged <= 1, "{challenged} challenges: {requests:#?}");
    assert_eq!(tokens.len(), 1, "{tokens:#?}");
    // The one token asks for every repository the invocation reads.
    for repo in &repos {
        let scope = format!("repository%3A{}%3Apull", repo.replace('/', "%2F"));
        assert!(tokens[0].contains(&scope), "{repo}: {}", tokens[0]);
    }
    assert!(
        requests.len() <= 3 * IMAGES + 2,
        "{} requests for {IMAGES} images: {requests:#?}",
        requests.len()
    );
}

/// A registry without the referrers API says so once: the next invocation
/// takes it from the hint the first one kept, and asks only for the fallback
/// tag beside the `.sig` image. The payload blobs, named by their digests,
/// come from the content store: three requests per image, no probe.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_verify_asks_only_for_what_can_change() {
    let home = tempfile::tempdir().unwrap();
    let (server, images, repos) = serve_signed(home.path(), FakeAuth::Anonymous).await;
    let hint = no_referrers_api_hint(home.path(), &server.addr);
    verify_in(home.path(), "any", &images).await;
    let first = server.requests();
    let referrers = |r: &&String| r.contains("/referrers/");
    assert_eq!(first.iter().filter(referrers).count(), 1, "{first:#?}");
    assert!(hint.is_file(), "no hint at {}", hint.display());

    verify_in(home.path(), "any", &images).await;
    let second = &server.requests()[first.len()..];
    assert_eq!(second.iter().filter(referrers).count(), 0, "{second:#?}");
    for repo in &repos {
        let mine = served_for(second, repo);
        assert_eq!(mine.len(), 3, "{repo}: {mine:#?}");
        for (what, asked) in [
            ("the tag", "/manifests/v1 "),
            ("the .sig image", ".sig "),
            ("the fallback tag", "/manifests/sha256-"),
        ] {
            assert!(
                mine.iter().any(|r| r.contains(asked)),
                "{what} is not asked again: {mine:#?}"
            );
        }
    }
    assert!(second.iter().all(|r| !r.contains("/blobs/")), "{second:#?}");
    assert_eq!(second.len(), 3 * IMAGES, "{second:#?}");

    // A stored payload that was changed is not trusted: fetched again.
    let store = private_cache(home.path()).join("content/sha256");
    let mut changed = 0;
    for entry in std::fs::read_dir(&store).unwrap() {
        std::fs::write(entry.unwrap().path(), b"changed").unwrap();
        changed += 1;
    }
    assert_eq!(changed, IMAGES);
    let before = server.requests().len();
    verify_in(home.path(), "any", &images).await;
    let third = &server.requests()[before..];
    let blobs = third.iter().filter(|r| r.contains("/blobs/")).count();
    assert_eq!(blobs, IMAGES, "{third:#?}");
}

/// Payloads as cosign 2 writes them (naming `registry/repository`) are written
/// by `verify` too, and their digests in the `.sig` manifests prove the bytes:
/// no blob is fetched, two requests per image. The signature is still checked
/// on those bytes: one made by another key fails.
#[tokio::test(flavor = "multi_thread")]
async fn a_payload_cosign_writes_is_not_fetched_but_still_checked() {
    let home = tempfile::tempdir().unwrap();
    let key = keys::generate();
    let pem = keys::public_key_pem(key.verifying_key()).unwrap();
    std::fs::write(home.path().join("cosign.pub"), pem).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (mut routes, repos) = signed_images_named(&key, &|repo| format!("{addr}/{repo}"));
    // The last image's signature, over the same payload, by another key.
    let last = repos.last().unwrap();
    let sig_path = routes
        .keys()
        .find(|p| p.starts_with(&format!("/v2/{last}/manifests/")) && p.ends_with(".sig"))
        .unwrap()
        .clone();
    let Some(Reply::Body(media_type, sig_manifest)) = routes.get(&sig_path).cloned() else {
        panic!("no .sig manifest for {last}");
    };
    let mut sig_manifest: serde_json::Value = serde_json::from_slice(&sig_manifest).unwrap();
    let layer = &mut sig_manifest["layers"][0];
    let body_path = format!("/v2/{last}/blobs/{}", layer["digest"].as_str().unwrap());
    let Some(Reply::Body(_, body)) = routes.get(&body_path).cloned() else {
        panic!("no payload for {last}");
    };
    let other: DerSignature = keys::generate().sign(&body);
    layer["annotations"][payload::SIGNATURE_ANNOTATION] = base64::engine::general_purpose::STANDARD
        .encode(other.as_bytes())
        .into();
    routes.insert(
        sig_path,
        Reply::Body(media_type, serde_json::to_vec(&sig_manifest).unwrap()),
    );
    let server = fake_registry_on(listener, routes, manifest_unknown(), FakeAuth::Anonymous);
    let images: Vec<String> = repos.iter().map(|r| format!("{addr}/{r}:v1")).collect();

    let (code, verdicts, out) = verdicts_in(home.path(), "legacy", &images).await;
    let mut want = vec![true; IMAGES];
    want[IMAGES - 1] = false;
    assert_eq!(verdicts, want, "{out}");
    assert_eq!(code, 12, "no valid signature: {out}");
    let requests = server.requests();
    assert!(
        requests.iter().all(|r| !r.contains("/blobs/")),
        "{requests:#?}"
    );
    for repo in &repos {
        assert_eq!(
            served_for(&requests, repo).len(),
            2,
            "{repo}: {requests:#?}"
        );
    }
}
