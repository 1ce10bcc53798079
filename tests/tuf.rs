//! Freshness with TUF, proven against python-tuf 7.0.1 (the independent peer,
//! scripts/python-tuf.sh) both ways, on the real loopback docker-registry:
//! python-tuf reads our repository from a directory, over HTTP and from the
//! registry layout; we read a repository python-tuf built; every attack is
//! refused by both; a good root rotation is followed by both; and `pin` and
//! `verify --tuf` refuse what they must, with their exit codes.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use harbor_lab::tuf::TufError;
use harbor_lab::tuf::client::{Store, Updater};
use harbor_lab::tuf::repo::{self, Lifetimes, Passwords, Pin, RepoPaths};
use harbor_lab::tuf::transport::Source;
use p256::ecdsa::SigningKey;
use p256::ecdsa::signature::Signer as _;
use serde_json::{Value, json};
use sha2::Digest as _;
use support::*;

const OFFLINE: &str = "tuf-offline-pw";
const ONLINE: &str = "tuf-online-pw";
const PW: &str = "tuf-cosign-pw";

fn python_tuf() -> PathBuf {
    let p = std::env::var("HARBOR_LAB_PYTHON_TUF")
        .ok()
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(
                std::env::var("HARBOR_LAB_CACHE").unwrap_or("/var/cache/harbor-lab".into()),
            )
            .join("python-tuf/bin/python")
        });
    assert!(
        p.exists(),
        "python-tuf's venv not found at {}: run scripts/test.sh (scripts/python-tuf.sh) or set HARBOR_LAB_PYTHON_TUF",
        p.display()
    );
    p
}

fn peer() -> Command {
    let mut c = Command::new(python_tuf());
    c.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/tuf_peer.py"));
    c
}

fn file_url(p: &Path) -> String {
    format!("file://{}", p.display())
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

fn passwords() -> Passwords {
    Passwords {
        offline: OFFLINE.into(),
        online: ONLINE.into(),
    }
}

/// A pin for made-up manifest bytes.
fn fake_pin(name: &str, content: &[u8]) -> Pin {
    Pin {
        name: name.into(),
        length: content.len() as u64,
        sha256: hex::encode(sha2::Sha256::digest(content)),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
    }
}

fn key(paths: &RepoPaths, role: &str) -> SigningKey {
    let pw = if role == "root" || role == "targets" {
        OFFLINE
    } else {
        ONLINE
    };
    let text = std::fs::read(paths.key(role)).unwrap();
    harbor_lab::cosign::keys::decrypt_private_key(&text, pw.as_bytes()).unwrap()
}

fn key_id(k: &SigningKey) -> String {
    hex::encode(harbor_lab::tuf::signer::key_id(k.verifying_key()).unwrap())
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// Sign `signed` with `keys`, as a metadata file.
fn envelope(signed: &Value, keys: &[&SigningKey]) -> Vec<u8> {
    let canonical = harbor_lab::tuf::metadata::canonical(signed).unwrap();
    let sigs: Vec<Value> = keys
        .iter()
        .map(|k| {
            let s: p256::ecdsa::DerSignature = k.sign(&canonical);
            json!({"keyid": key_id(k), "sig": hex::encode(s.as_bytes())})
        })
        .collect();
    serde_json::to_vec_pretty(&json!({"signed": signed, "signatures": sigs})).unwrap()
}

fn meta_for(data: &[u8], version: u64) -> Value {
    json!({"version": version, "length": data.len(), "hashes": {"sha256": hex::encode(sha2::Sha256::digest(data))}})
}

fn iso(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A timestamp `version` for the snapshot file `snapshot` (version `sv`).
fn timestamp(
    dir: &Path,
    paths: &RepoPaths,
    version: u64,
    sv: u64,
    expires: jiff::Timestamp,
) -> Vec<u8> {
    let snap = std::fs::read(dir.join(format!("{sv}.snapshot.json"))).unwrap();
    let signed = json!({"_type": "timestamp", "spec_version": "1.0.0", "version": version,
        "expires": iso(expires), "meta": {"snapshot.json": meta_for(&snap, sv)}});
    envelope(&signed, &[&key(paths, "timestamp")])
}

/// Publish snapshot version 4 listing `targets` (its meta entry), and
/// timestamp 5 over it, both expiring at `expires`.
fn snapshot_4(dir: &Path, paths: &RepoPaths, targets: Value, expires: jiff::Timestamp) {
    let snap = json!({"_type": "snapshot", "spec_version": "1.0.0", "version": 4,
        "expires": iso(expires), "meta": {"targets.json": targets}});
    std::fs::write(
        dir.join("4.snapshot.json"),
        envelope(&snap, &[&key(paths, "snapshot")]),
    )
    .unwrap();
    std::fs::write(
        dir.join("timestamp.json"),
        timestamp(dir, paths, 5, 4, expires),
    )
    .unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Our client (the library) refreshing from `served` into `store` at `at`.
async fn ours(store: &Path, served: &Path, at: jiff::Timestamp) -> Result<(), TufError> {
    let source = Source::open(served.to_str().unwrap(), None).unwrap();
    let mut u = Updater::new(Store { dir: store.into() }, &source, at)?;
    u.refresh().await
}

/// python-tuf refreshing from `served` into `store` (exit code).
fn theirs(store: &Path, served: &Path, at: Option<jiff::Timestamp>) -> Run {
    let mut c = peer();
    c.args(["client", "--metadata-dir"])
        .arg(store)
        .args(["--metadata-url", &file_url(served)]);
    if let Some(t) = at {
        c.args(["--now", &iso(t)]);
    }
    run(c.arg("refresh"))
}

/// Our repository with two pins and a heartbeat: targets v3, snapshot v3,
/// timestamp v4. The first timestamp was made two days ago, valid for one day.
async fn our_repo(dir: &Path) -> (RepoPaths, Vec<Vec<u8>>) {
    let paths = RepoPaths::new(dir.join("repo"));
    let l = Lifetimes::default();
    let two_days_ago = jiff::Timestamp::from_second(now().as_second() - 2 * 86_400).unwrap();
    repo::init(&paths, &passwords(), &l, two_days_ago, false)
        .await
        .unwrap();
    let md = paths.metadata();
    let mut timestamps = vec![std::fs::read(md.join("timestamp.json")).unwrap()];
    for (name, content) in [
        ("127.0.0.1:5055/app/web:v1", &b"manifest one"[..]),
        ("127.0.0.1:5055/app/web:v2", b"manifest two"),
    ] {
        repo::pin(&paths, &passwords(), &[fake_pin(name, content)], &l, now())
            .await
            .unwrap();
        timestamps.push(std::fs::read(md.join("timestamp.json")).unwrap());
    }
    repo::refresh(&paths, ONLINE, &l, now()).await.unwrap();
    timestamps.push(std::fs::read(md.join("timestamp.json")).unwrap());
    (paths, timestamps)
}

/// Both clients trust the current state of `served`, each in its own store.
async fn trusting_clients(base: &Path, served: &Path) -> (PathBuf, PathBuf) {
    let (a, b) = (base.join("ours"), base.join("theirs"));
    for s in [&a, &b] {
        std::fs::create_dir_all(s).unwrap();
        std::fs::copy(served.join("1.root.json"), s.join("root.json")).unwrap();
    }
    ours(&a, served, now()).await.expect("our first refresh");
    let r = theirs(&b, served, None);
    assert_eq!(r.code, 0, "python-tuf's first refresh: {}", r.stderr);
    (a, b)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_attack_is_refused_by_us_and_by_python_tuf() {
    let tmp = tempfile::tempdir().unwrap();
    let (paths, timestamps) = our_repo(tmp.path()).await;
    let md = paths.metadata();
    let later = jiff::Timestamp::from_second(now().as_second() + 86_400).unwrap();

    type Attack = Box<dyn Fn(&Path)>;
    let p = paths.clone();
    let ts = timestamps.clone();
    let attacks: Vec<(&str, Attack, &str, Option<jiff::Timestamp>)> = vec![
        (
            "rolled-back timestamp",
            Box::new(move |d: &Path| std::fs::write(d.join("timestamp.json"), &ts[2]).unwrap()),
            "rollback: timestamp version 3 is older than trusted version 4",
            None,
        ),
        (
            "rolled-back snapshot",
            Box::new({
                let p = p.clone();
                move |d: &Path| {
                    std::fs::write(d.join("timestamp.json"), timestamp(d, &p, 5, 2, later)).unwrap()
                }
            }),
            "rollback: snapshot version 2 is older than trusted version 3",
            None,
        ),
        (
            "rolled-back targets",
            Box::new({
                let p = p.clone();
                move |d: &Path| {
                    let t2 = std::fs::read(d.join("2.targets.json")).unwrap();
                    snapshot_4(d, &p, meta_for(&t2, 2), later);
                }
            }),
            "rollback: targets version 2 is older than trusted version 3",
            None,
        ),
        (
            "expired timestamp",
            Box::new({
                let p = p.clone();
                move |d: &Path| {
                    let past = jiff::Timestamp::from_second(now().as_second() - 60).unwrap();
                    std::fs::write(d.join("timestamp.json"), timestamp(d, &p, 5, 3, past)).unwrap()
                }
            }),
            "freeze: timestamp expired at",
            None,
        ),
        (
            "mix and match: a snapshot that does not match targets",
            Box::new({
                let p = p.clone();
                move |d: &Path| {
                    // Snapshot 4 says targets 4 (no hashes); 4.targets.json is really version 3.
                    std::fs::copy(d.join("3.targets.json"), d.join("4.targets.json")).unwrap();
                    snapshot_4(d, &p, json!({"version": 4}), later);
                }
            }),
            "targets version 3",
            None,
        ),
        (
            "bad signature",
            Box::new({
                let p = p.clone();
                move |d: &Path| {
                    let mut v: Value =
                        serde_json::from_slice(&timestamp(d, &p, 5, 3, later)).unwrap();
                    let sig = v["signatures"][0]["sig"].as_str().unwrap().to_string();
                    let flipped = format!(
                        "{}{}",
                        &sig[..sig.len() - 2],
                        if sig.ends_with("00") { "01" } else { "00" }
                    );
                    v["signatures"][0]["sig"] = json!(flipped);
                    std::fs::write(d.join("timestamp.json"), serde_json::to_vec(&v).unwrap())
                        .unwrap();
                }
            }),
            "timestamp metadata has 0 valid signature(s), its threshold is 1",
            None,
        ),
        (
            "threshold of 2 with one signature",
            Box::new({
                let p = p.clone();
                move |d: &Path| {
                    let mut root = read_json(&d.join("1.root.json"))["signed"].clone();
                    let extra = harbor_lab::cosign::keys::generate();
                    let extra_id = key_id(&extra);
                    root["version"] = json!(2);
                    root["keys"][&extra_id] = serde_json::to_value(
                        harbor_lab::tuf::signer::tuf_key(extra.verifying_key()),
                    )
                    .unwrap();
                    root["roles"]["timestamp"]["keyids"]
                        .as_array_mut()
                        .unwrap()
                        .push(json!(extra_id));
                    root["roles"]["timestamp"]["threshold"] = json!(2);
                    std::fs::write(d.join("2.root.json"), envelope(&root, &[&key(&p, "root")]))
                        .unwrap();
                    std::fs::write(d.join("timestamp.json"), timestamp(d, &p, 5, 3, later))
                        .unwrap();
                }
            }),
            "timestamp metadata has 1 valid signature(s), its threshold is 2",
            None,
        ),
        (
            "root rotation signed only by the new key",
            Box::new(move |d: &Path| {
                let mut root = read_json(&d.join("1.root.json"))["signed"].clone();
                let new = harbor_lab::cosign::keys::generate();
                let id = key_id(&new);
                root["version"] = json!(2);
                root["keys"][&id] =
                    serde_json::to_value(harbor_lab::tuf::signer::tuf_key(new.verifying_key()))
                        .unwrap();
                root["roles"]["root"]["keyids"] = json!([id]);
                std::fs::write(d.join("2.root.json"), envelope(&root, &[&new])).unwrap();
            }),
            "root metadata has 0 valid signature(s), its threshold is 1",
            None,
        ),
        (
            "metadata larger than its declared length",
            Box::new({
                let p = p.clone();
                move |d: &Path| {
                    std::fs::copy(d.join("3.snapshot.json"), d.join("4.snapshot.json")).unwrap();
                    let snap = read_json(&d.join("3.snapshot.json"));
                    let mut signed = snap["signed"].clone();
                    signed["version"] = json!(4);
                    std::fs::write(
                        d.join("4.snapshot.json"),
                        envelope(&signed, &[&key(&p, "snapshot")]),
                    )
                    .unwrap();
                    std::fs::write(d.join("timestamp.json"), timestamp(d, &p, 5, 4, later))
                        .unwrap();
                    let mut padded = std::fs::read(d.join("4.snapshot.json")).unwrap();
                    padded.extend_from_slice(&[b' '; 4096]);
                    std::fs::write(d.join("4.snapshot.json"), padded).unwrap();
                }
            }),
            "is larger than the",
            None,
        ),
        (
            "a clock stepped backwards, replaying an old timestamp",
            Box::new({
                let ts = timestamps.clone();
                move |d: &Path| std::fs::write(d.join("timestamp.json"), &ts[0]).unwrap()
            }),
            "rollback: timestamp version 1 is older than trusted version 4",
            // Back to when the first timestamp (one day's lifetime) was valid.
            Some(jiff::Timestamp::from_second(now().as_second() - 2 * 86_400 + 3600).unwrap()),
        ),
    ];

    for (i, (name, attack, expected, clock)) in attacks.into_iter().enumerate() {
        let case = tmp.path().join(format!("case{i}"));
        let served = case.join("served");
        copy_dir(&md, &served);
        let (our_store, their_store) = trusting_clients(&case, &served).await;
        attack(&served);
        let at = clock.unwrap_or_else(now);
        let err = ours(&our_store, &served, at)
            .await
            .expect_err(&format!("{name}: we accepted it"));
        assert!(
            err.to_string().contains(expected),
            "{name}: our refusal was {err:?}, expected {expected:?}"
        );
        let r = theirs(&their_store, &served, clock);
        assert_eq!(r.code, 1, "{name}: python-tuf accepted it: {}", r.stderr);
        assert!(
            r.stderr.contains("python-tuf refused"),
            "{name}: {}",
            r.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_whose_digest_differs_is_refused_by_us_and_by_python_tuf() {
    let tmp = tempfile::tempdir().unwrap();
    let (paths, _) = our_repo(tmp.path()).await;
    let served = tmp.path().join("served");
    copy_dir(&paths.metadata(), &served);
    let name = "127.0.0.1:5055/app/web:v1";
    let sha = hex::encode(sha2::Sha256::digest(b"manifest one"));
    let targets = tmp.path().join("targets");
    std::fs::create_dir_all(targets.join("127.0.0.1:5055/app")).unwrap();
    // The right length, other bytes.
    std::fs::write(
        targets.join(format!("127.0.0.1:5055/app/{sha}.web:v1")),
        b"manifest 0ne",
    )
    .unwrap();
    // `who`'s client (ours, or python-tuf) downloads the target into `who-dl`.
    let download = |who: &str| {
        let dl = tmp.path().join(format!("{who}-dl"));
        let mut c = if who == "ours" {
            let mut c = harbor_lab(tmp.path());
            c.args(["tuf", "client"]);
            c
        } else {
            let mut c = peer();
            c.arg("client");
            c
        };
        let r = run(c
            .arg("--metadata-dir")
            .arg(tmp.path().join(who))
            .args(["--metadata-url", &file_url(&served)])
            .args(["--target-name", name])
            .args(["--target-base-url", &file_url(&targets)])
            .arg("--target-dir")
            .arg(&dl)
            .arg("download"));
        (r, dl.join("127.0.0.1%3A5055%2Fapp%2Fweb%3Av1"))
    };
    for who in ["ours", "theirs"] {
        let store = tmp.path().join(who);
        std::fs::create_dir_all(&store).unwrap();
        std::fs::copy(served.join("1.root.json"), store.join("root.json")).unwrap();
        let (r, file) = download(who);
        assert_eq!(
            r.code, 1,
            "{who} accepted a target with another digest: {}",
            r.stderr
        );
        assert!(!file.exists());
        if who == "ours" {
            assert!(r.stderr.contains("has sha256"), "{}", r.stderr);
        }
    }
    // With the right bytes, both download it, to the same file name.
    std::fs::write(
        targets.join(format!("127.0.0.1:5055/app/{sha}.web:v1")),
        b"manifest one",
    )
    .unwrap();
    for who in ["ours", "theirs"] {
        let (r, file) = download(who);
        assert_eq!(r.code, 0, "{who}: {}", r.stderr);
        assert_eq!(std::fs::read(file).unwrap(), b"manifest one");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_good_root_rotation_is_followed_by_us_and_by_python_tuf() {
    let tmp = tempfile::tempdir().unwrap();
    let (paths, _) = our_repo(tmp.path()).await;
    let served = tmp.path().join("served");
    copy_dir(&paths.metadata(), &served);
    let (our_store, their_store) = trusting_clients(tmp.path(), &served).await;
    let mut root = read_json(&served.join("1.root.json"))["signed"].clone();
    let new = harbor_lab::cosign::keys::generate();
    let id = key_id(&new);
    root["version"] = json!(2);
    root["keys"][&id] =
        serde_json::to_value(harbor_lab::tuf::signer::tuf_key(new.verifying_key())).unwrap();
    root["roles"]["root"]["keyids"] = json!([id]);
    std::fs::write(
        served.join("2.root.json"),
        envelope(&root, &[&key(&paths, "root"), &new]),
    )
    .unwrap();
    ours(&our_store, &served, now())
        .await
        .expect("we follow the rotation");
    assert_eq!(
        read_json(&our_store.join("root.json"))["signed"]["version"],
        2
    );
    let r = theirs(&their_store, &served, None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        read_json(&their_store.join("root.json"))["signed"]["version"],
        2
    );
    // A third root signed by the retired key alone is refused by both.
    root["version"] = json!(3);
    std::fs::write(
        served.join("3.root.json"),
        envelope(&root, &[&key(&paths, "root")]),
    )
    .unwrap();
    assert!(ours(&our_store, &served, now()).await.is_err());
    assert_eq!(theirs(&their_store, &served, None).code, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn we_read_repositories_python_tuf_built() {
    let tmp = tempfile::tempdir().unwrap();
    let content = b"a manifest python-tuf pinned";
    let sha = hex::encode(sha2::Sha256::digest(content));
    for rotate in ["", "good", "bad"] {
        let out = tmp.path().join(format!("py{rotate}"));
        let mut c = peer();
        c.arg("build").arg(&out).args([
            "--target",
            &format!("127.0.0.1:5055/py/app:v1={sha}:{}", content.len()),
        ]);
        if !rotate.is_empty() {
            c.args(["--rotate", rotate]);
        }
        let r = run(&mut c);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let md = out.join("metadata");
        let root = read_json(&md.join("1.root.json"));
        assert_eq!(root["signed"]["spec_version"], "1.0.0");
        let key = root["signed"]["keys"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .clone();
        assert_eq!(key["keytype"], "ecdsa");
        assert_eq!(key["scheme"], "ecdsa-sha2-nistp256");
        let store = out.join("store");
        let r = run(harbor_lab(tmp.path())
            .args(["tuf", "client", "--metadata-dir"])
            .arg(&store)
            .arg("init")
            .arg(md.join("1.root.json")));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let r = run(harbor_lab(tmp.path())
            .args(["tuf", "client", "--metadata-dir"])
            .arg(&store)
            .args(["--metadata-url", &file_url(&md), "refresh"]));
        if rotate == "bad" {
            assert_eq!(r.code, 1, "we followed a root signed only by the new key");
            assert!(
                r.stderr.contains("root metadata has 0 valid signature"),
                "{}",
                r.stderr
            );
            continue;
        }
        assert_eq!(r.code, 0, "{rotate}: {}", r.stderr);
        let want = if rotate == "good" { 2 } else { 1 };
        assert_eq!(
            read_json(&store.join("root.json"))["signed"]["version"],
            want
        );
        // The stored metadata is byte for byte what python-tuf wrote.
        assert_eq!(
            std::fs::read(store.join("timestamp.json")).unwrap(),
            std::fs::read(md.join("timestamp.json")).unwrap()
        );
        let source = Source::open(md.to_str().unwrap(), None).unwrap();
        let mut u = Updater::new(Store { dir: store.clone() }, &source, now()).unwrap();
        let t = u
            .target("127.0.0.1:5055/py/app:v1")
            .await
            .unwrap()
            .expect("the target");
        assert_eq!(t.hashes["sha256"], json!(sha));
        assert!(
            u.target("127.0.0.1:5055/py/app:v2")
                .await
                .unwrap()
                .is_none()
        );
    }
}

// ---------------------------------------------------------------------------
// The commands, on the real registry.

fn lab(home: &Path) -> Command {
    let mut c = harbor_lab(home);
    c.env("COSIGN_PASSWORD", PW)
        .env("HARBOR_LAB_HOME", home.join("state"));
    c
}

fn keys(home: &Path, prefix: &str) {
    let r = run(lab(home).args(["keys", "generate", "--output-key-prefix", prefix]));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

fn sign(home: &Path, prefix: &str, image: &str) {
    let r = run(lab(home).args(["sign", "--key", &format!("{prefix}.key"), image]));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// `sign --format bundle`: a sigstore bundle referrer, as cosign 3 writes it.
fn sign_bundle(home: &Path, prefix: &str, image: &str) {
    let r = run(lab(home).args([
        "sign",
        "--key",
        &format!("{prefix}.key"),
        "--format",
        "bundle",
        image,
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

fn verify_tuf(home: &Path, image: &str, root: &Path, url: &str) -> Run {
    run(lab(home)
        .args(["verify", "--key", "cosign.pub", "--tuf"])
        .arg(root)
        .args(["--tuf-url", url, image]))
}

fn target(image: &str) -> String {
    image.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn python_tuf_reads_our_repository_from_a_directory_over_http_and_from_the_registry() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    keys(home, "cosign");
    let repo_name = unique("tufpeer");
    let (img1, d1) = push_new_image(&registry(), &format!("{repo_name}/app"), "v1").await;
    let (img2, d2) = push_new_image(&registry(), &format!("{repo_name}/app"), "v2").await;
    sign(home, "cosign", &img1);
    sign(home, "cosign", &img2);
    let oci = format!("oci://{}/{repo_name}/tuf-metadata", registry());
    let r = run(lab(home).args(["tuf", "init", "--repo", "repo", "--publish", &oci]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(lab(home)
        .args([
            "tuf",
            "pin",
            "--repo",
            "repo",
            "--key",
            "cosign.pub",
            "--publish",
            &oci,
        ])
        .args([&img1, &img2]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let md = home.join("repo/metadata");
    let root = md.join("1.root.json");
    // A static HTTP server holding the published files.
    let published = home.join("www");
    let r = run(lab(home).args([
        "tuf",
        "refresh",
        "--repo",
        "repo",
        "--publish",
        "www",
        "--publish",
        &oci,
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let server = file_server(dir_files(&published, "/tuf"), None).await;
    let http = format!("http://{}/tuf", server.addr);
    for url in [file_url(&md), http.clone(), oci.clone()] {
        let r = run(peer().args(["resolve", "--root"]).arg(&root).args([
            "--url",
            &url,
            &target(&img1),
            &target(&img2),
            "127.0.0.1:1/not/pinned:v1",
        ]));
        assert_eq!(r.code, 0, "python-tuf over {url}: {}", r.stderr);
        let got: Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(got[&img1], json!(d1.trim_start_matches("sha256:")), "{url}");
        assert_eq!(got[&img2], json!(d2.trim_start_matches("sha256:")), "{url}");
        assert_eq!(got["127.0.0.1:1/not/pinned:v1"], Value::Null);
        // And our own verify --tuf over the same location.
        let r = verify_tuf(home, &img1, &root, &url);
        assert_eq!(r.code, 0, "verify --tuf over {url}: {}", r.stderr);
    }
    // 100 images, one metadata fetch: each file is asked for once at most.
    let before = server.requests().len();
    let images: Vec<String> = (0..50).flat_map(|_| [img1.clone(), img2.clone()]).collect();
    let r = run(lab(home)
        .args(["verify", "--key", "cosign.pub", "--tuf"])
        .arg(&root)
        .args(["--tuf-url", &http])
        .args(&images));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let asked: Vec<String> = server.requests()[before..].to_vec();
    assert_eq!(
        asked
            .iter()
            .filter(|r| r.ends_with("/timestamp.json"))
            .count(),
        1,
        "{asked:?}"
    );
    assert!(
        asked.len() <= 3,
        "one refresh, not one per image: {asked:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pin_refuses_unsigned_and_foreign_images_and_verify_catches_moved_tags_rollback_and_freeze()
{
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    keys(home, "cosign");
    keys(home, "other");
    let repo_name = unique("tufpin");
    let (unsigned, _) = push_new_image(&registry(), &format!("{repo_name}/app"), "unsigned").await;
    let (foreign, _) = push_new_image(&registry(), &format!("{repo_name}/app"), "foreign").await;
    sign(home, "other", &foreign);
    let r = run(lab(home).args(["tuf", "init", "--repo", "repo"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let before = std::fs::read(home.join("repo/metadata/timestamp.json")).unwrap();
    // `tuf pin` of `image` is refused with `code`, saying `why`.
    let refused = |image: &str, code: i32, why: &str| {
        let r = run(lab(home).args(["tuf", "pin", "--repo", "repo", "--key", "cosign.pub", image]));
        assert_eq!(r.code, code, "{image}: {}", r.stderr);
        assert!(
            r.stderr.contains("refusing to pin") && r.stderr.contains(why),
            "{image}: {}",
            r.stderr
        );
    };
    refused(&unsigned, 10, "no cosign signature");
    refused(&foreign, 12, "no signature verifies with the key");
    // The same two refusals for the bundle format (sigstore bundles on OCI 1.1
    // referrers, listed under the fallback tag): an image whose only referrer
    // is not a signature (an SBOM) is unsigned, and a bundle by another key
    // does not count.
    let (sbom_only, sbom_digest) =
        push_new_image(&registry(), &format!("{repo_name}/app"), "sbom-only").await;
    push_referrer_with(
        &sbom_only,
        &sbom_digest,
        br#"{"spdxVersion":"SPDX-2.3"}"#,
        |m| {
            m.artifact_type = Some("application/spdx+json".into());
            m.config.artifact_type = None;
            m.layers[0].media_type = "application/spdx+json".into();
            m.annotations = None;
        },
    )
    .await;
    refused(&sbom_only, 10, "no cosign signature");
    let (foreign_bundle, _) =
        push_new_image(&registry(), &format!("{repo_name}/app"), "foreign-bundle").await;
    sign_bundle(home, "other", &foreign_bundle);
    refused(&foreign_bundle, 12, "no signature verifies with the key");
    // A refused pin wrote nothing.
    assert_eq!(
        std::fs::read(home.join("repo/metadata/timestamp.json")).unwrap(),
        before
    );

    // Moved tags, on images signed by us and by the real cosign 2.5 (the legacy
    // `.sig` layout), and by us as sigstore bundles (`sign --format bundle`:
    // OCI 1.1 referrers, under the fallback tag on this registry).
    let root = home.join("repo/metadata/1.root.json");
    let md = home.join("repo/metadata");
    for signer in ["harbor-lab", "cosign", "bundle"] {
        let (old, old_digest) =
            push_new_image(&registry(), &format!("{repo_name}/{signer}"), "prod").await;
        let old_ref = format!("{}@{old_digest}", old.rsplit_once(':').unwrap().0);
        let sign_it = |image: &str| {
            if signer == "cosign" {
                let r = run(&mut cosign_sign_command(home, "cosign.key", PW, image, &[]));
                assert_eq!(r.code, 0, "{}", r.stderr);
            } else if signer == "bundle" {
                sign_bundle(home, "cosign", image);
            } else {
                sign(home, "cosign", image);
            }
        };
        sign_it(&old_ref);
        let r = run(lab(home).args(["tuf", "pin", "--repo", "repo", "--key", "cosign.pub", &old]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let (new, new_digest) =
            push_new_image(&registry(), &format!("{repo_name}/{signer}"), "prod").await;
        sign_it(&new);
        let r = verify_tuf(home, &new, &root, &file_url(&md));
        assert_eq!(r.code, 14, "the tag moved ahead of its pin: {}", r.stderr);
        let r = run(lab(home).args(["tuf", "pin", "--repo", "repo", "--key", "cosign.pub", &new]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let r = verify_tuf(home, &new, &root, &file_url(&md));
        assert_eq!(r.code, 0, "{}", r.stderr);
        // The attacker moves the tag back to the old, validly signed digest.
        let m = client()
            .get_manifest(&harbor_lab::registry::Reference::parse(&old_ref).unwrap())
            .await
            .unwrap()
            .unwrap();
        client()
            .put_manifest(
                &harbor_lab::registry::Reference::parse(&new).unwrap(),
                m.bytes,
                &m.media_type,
            )
            .await
            .unwrap();
        // The real cosign of that format accepts the rolled-back tag (cosign 3
        // reads the bundle), and so does plain `verify` in that format.
        let mut peer = if signer == "bundle" {
            cosign3(home)
        } else {
            cosign(home)
        };
        let r = run(peer.args([
            "verify",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog=true",
            "--allow-insecure-registry",
            &new,
        ]));
        assert_eq!(
            r.code, 0,
            "cosign accepts the rolled-back tag: {}",
            r.stderr
        );
        let format = if signer == "bundle" {
            "bundle"
        } else {
            "legacy"
        };
        let r = run(lab(home).args(["verify", "--key", "cosign.pub", "--format", format, &new]));
        assert_eq!(
            r.code, 0,
            "plain verify accepts the rolled-back tag: {}",
            r.stderr
        );
        let r = verify_tuf(home, &new, &root, &file_url(&md));
        assert_eq!(r.code, 14, "{}", r.stderr);
        let sv =
            read_json(&md.join("timestamp.json"))["signed"]["meta"]["snapshot.json"]["version"]
                .as_u64()
                .unwrap();
        let version = read_json(&md.join(format!("{sv}.snapshot.json")))["signed"]["meta"]["targets.json"]["version"].as_u64().unwrap();
        assert!(
            r.stderr.contains(&format!(
                "tag moved: registry has {old_digest}, TUF version {version} says {new_digest}"
            )),
            "{}",
            r.stderr
        );
    }

    // Not pinned.
    let r = verify_tuf(home, &foreign, &root, &file_url(&md));
    assert_eq!(r.code, 13, "{}", r.stderr);
    assert!(r.stderr.contains("not pinned"), "{}", r.stderr);

    // Rollback: the client trusts the newest timestamp; an older one comes back.
    let (any, _) = push_new_image(&registry(), &format!("{repo_name}/good"), "v1").await;
    sign(home, "cosign", &any);
    let r = run(lab(home).args(["tuf", "pin", "--repo", "repo", "--key", "cosign.pub", &any]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let old_ts = std::fs::read(md.join("timestamp.json")).unwrap();
    let r = run(lab(home).args(["tuf", "refresh", "--repo", "repo"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let trusted: u64 = read_json(&md.join("timestamp.json"))["signed"]["version"]
        .as_u64()
        .unwrap();
    let r = verify_tuf(home, &any, &root, &file_url(&md));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let new_ts = std::fs::read(md.join("timestamp.json")).unwrap();
    std::fs::write(md.join("timestamp.json"), &old_ts).unwrap();
    let r = verify_tuf(home, &any, &root, &file_url(&md));
    assert_eq!(r.code, 15, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "rollback: timestamp version {} is older than trusted version {trusted}",
            trusted - 1
        )),
        "{}",
        r.stderr
    );

    std::fs::write(md.join("timestamp.json"), &new_ts).unwrap();

    // Freeze: a timestamp that has expired.
    let r = run(lab(home).args([
        "tuf",
        "refresh",
        "--repo",
        "repo",
        "--timestamp-expiry",
        "1s",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let expires = read_json(&md.join("timestamp.json"))["signed"]["expires"]
        .as_str()
        .unwrap()
        .to_string();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let r = verify_tuf(home, &any, &root, &file_url(&md));
    assert_eq!(r.code, 16, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("freeze: timestamp expired at {expires}")),
        "{}",
        r.stderr
    );
    let r = run(lab(home).args(["tuf", "status", "--repo", "repo"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("the timestamp expired at"),
        "{}",
        r.stderr
    );
    // The heartbeat brings it back.
    let r = run(lab(home).args(["tuf", "refresh", "--repo", "repo"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = verify_tuf(home, &any, &root, &file_url(&md));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn init_refuses_to_overwrite_and_keeps_keys_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let r = run(lab(home).args(["tuf", "init", "--repo", "repo"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    for f in [
        "root.key",
        "targets.key",
        "snapshot.key",
        "timestamp.key",
        "online.password",
    ] {
        let mode = std::fs::metadata(home.join("repo/keys").join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    let root = std::fs::read(home.join("repo/metadata/1.root.json")).unwrap();
    let r = run(lab(home).args(["tuf", "init", "--repo", "repo"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    assert_eq!(
        std::fs::read(home.join("repo/metadata/1.root.json")).unwrap(),
        root
    );
    let v = read_json(&home.join("repo/metadata/1.root.json"));
    assert_eq!(v["signed"]["spec_version"], "1.0.0");
    assert_eq!(v["signed"]["consistent_snapshot"], true);
    assert!(
        harbor_lab::tuf::metadata::parse_expiry(v["signed"]["expires"].as_str().unwrap()).is_ok()
    );
    // The root and targets keys open with the user's password, like a cosign key.
    let text = std::fs::read(home.join("repo/keys/targets.key")).unwrap();
    assert!(harbor_lab::cosign::keys::decrypt_private_key(&text, PW.as_bytes()).is_ok());
    let r = run(lab(home).args([
        "tuf",
        "refresh",
        "--repo",
        "repo",
        "--timestamp-expiry",
        "10",
    ]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run(lab(home).args(["tuf", "status", "--repo", "nowhere"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("tuf init"), "{}", r.stderr);
}

/// A repository kept for every case, and its published files.
type Published = (tempfile::TempDir, Vec<(String, Vec<u8>)>);

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    #[test]
    fn mangled_metadata_never_panics_the_client(flips in proptest::collection::vec((0usize..4096, proptest::num::u8::ANY), 1..8)) {
        static BASE: std::sync::OnceLock<Published> = std::sync::OnceLock::new();
        let (dir, files) = BASE.get_or_init(|| {
            let tmp = tempfile::tempdir().unwrap();
            let rt = tokio::runtime::Runtime::new().unwrap();
            let (paths, _) = rt.block_on(our_repo(tmp.path()));
            let files = repo::published_files(&paths).unwrap();
            (tmp, files)
        });
        let case = tempfile::tempdir_in(dir.path()).unwrap();
        let served = case.path().join("served");
        std::fs::create_dir_all(&served).unwrap();
        for (i, (n, d)) in files.iter().enumerate() {
            let mut d = d.clone();
            for (pos, b) in &flips {
                if (pos % files.len()) == i && !d.is_empty() {
                    let at = pos % d.len();
                    d[at] = *b;
                }
            }
            std::fs::write(served.join(n), d).unwrap();
        }
        let store = case.path().join("store");
        std::fs::create_dir_all(&store).unwrap();
        std::fs::write(store.join("root.json"), &files[0].1).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let _ = rt.block_on(ours(&store, &served, now()));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_freshness_act_against_the_harbor_double() {
    let lab = std::sync::Arc::new(Lab::new().with_story());
    let server = file_server(release_files(FIXTURE_TAG, fixture_installer(), None), None).await;
    let base = format!("http://{}", server.addr);
    let port = free_port();
    // The real cosign on PATH, so that the demo shows (and reports) its verdict.
    let cosign_dir = cosign_path().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        cosign_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let l = lab.clone();
    let out = tokio::task::spawn_blocking(move || {
        let mut c = l.cmd("up");
        l.install_args(&mut c, &base, port);
        l.story_args(&mut c);
        c.args(["--yes", "--json", "--explain"])
            .env("PATH", &path)
            .env("TUF_ROOT", l.path().join(".sigstore"));
        run(&mut c)
    })
    .await
    .unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let demo = &report["demo"];
    assert_eq!(demo["freshness_rollback_caught"], true, "{demo}");
    assert_eq!(demo["freshness_freeze_caught"], true, "{demo}");
    // cosign alone accepts the rolled-back tag: that is what TUF adds.
    assert_eq!(demo["freshness_cosign_verdict"], "accepted", "{demo}");
    let root = PathBuf::from(demo["tuf_root"].as_str().unwrap());
    assert_eq!(read_json(&root)["signed"]["_type"], "root");
    let steps = demo["steps"].as_array().unwrap();
    for name in ["tuf-pin", "tuf-update", "tuf-rollback", "tuf-freeze"] {
        let s = steps
            .iter()
            .find(|s| s["id"] == name)
            .unwrap_or_else(|| panic!("no {name} step: {demo}"));
        assert_eq!(s["status"], "ok", "{s}");
    }
    let detail = |n: &str| step_detail(demo, n);
    assert!(
        detail("tuf-rollback").contains("cosign accepted"),
        "{}",
        detail("tuf-rollback")
    );
    assert!(
        detail("tuf-rollback").contains("tag moved: registry has"),
        "{}",
        detail("tuf-rollback")
    );
    assert!(
        detail("tuf-freeze").contains("freeze: timestamp expired at"),
        "{}",
        detail("tuf-freeze")
    );
    // --explain says what TUF adds, and cosign's own output is shown.
    assert!(out.stderr.contains("TUF adds"), "{}", out.stderr);
    assert!(out.stderr.contains("cosign: "), "{}", out.stderr);
    // The metadata lives in Harbor's `tuf` project, without the cosign policy.
    let admin = std::fs::read_to_string(lab.workdir().join("admin-password")).unwrap();
    let project: Value = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/v2.0/projects/tuf"))
        .basic_auth("admin", Some(admin.trim()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(
        project["metadata"]["enable_content_trust_cosign"], "true",
        "{project}"
    );
    // And python-tuf reads it from Harbor's registry, through the double.
    let name = lab.image.split(':').next().unwrap();
    // The demo image's own tag is v1, so the act pins v1-tuf.
    let image = format!("127.0.0.1:{port}/library/{name}:v1-tuf");
    let r = run(peer().args(["resolve", "--root"]).arg(&root).args([
        "--url",
        &format!("oci://127.0.0.1:{port}/tuf/{name}-demo"),
        &image,
    ]));
    if r.code != 0 {
        // A Harbor that wants a token for pulls: python-tuf's fetcher is anonymous.
        assert!(r.stderr.contains("401"), "{}", r.stderr);
    } else {
        let got: Value = serde_json::from_str(&r.stdout).unwrap();
        assert!(got[&image].is_string(), "{got}");
    }
}
