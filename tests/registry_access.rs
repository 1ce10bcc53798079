//! Registry access options against a second real docker-registry that serves
//! TLS (a test CA) and Basic auth (htpasswd): --registry-cacert,
//! --allow-insecure-registry, explicit credentials, the Docker config and a
//! credential helper.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};

use bytes::Bytes;
use harbor_lab::registry::{Client, Reference, RegistryOptions, sha256_digest};
use support::*;

struct TlsRegistry {
    child: Child,
    addr: String,
}

impl Drop for TlsRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sh(dir: &Path, script: &str) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn start(dir: &Path) -> TlsRegistry {
    sh(
        dir,
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=harbor-lab-test-ca 2>/dev/null \
        && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 2>/dev/null \
        && printf 'subjectAltName=IP:127.0.0.1\\n' > ext \
        && openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile ext 2>/dev/null",
    );
    let hash = bcrypt::hash("lab-pw", 4).unwrap();
    std::fs::write(dir.join("htpasswd"), format!("lab:{hash}\n")).unwrap();
    let port = free_port();
    let d = dir.display();
    std::fs::write(
        dir.join("registry.yml"),
        format!("version: 0.1\nlog:\n  level: error\n  accesslog: {{disabled: true}}\nstorage:\n  filesystem: {{rootdirectory: {d}/data}}\nhttp:\n  addr: 127.0.0.1:{port}\n  tls: {{certificate: {d}/srv.pem, key: {d}/srv.key}}\nauth:\n  htpasswd: {{realm: lab, path: {d}/htpasswd}}\n"),
    )
    .unwrap();
    let child = Command::new("docker-registry")
        .args(["serve", "registry.yml"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry is installed (scripts/setup.sh)");
    let addr = format!("127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(&addr).is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    TlsRegistry { child, addr }
}

/// Put a small image into the registry with the library client.
async fn put_image(dir: &Path, reg: &str, repo: &str) -> String {
    let client = Client::new(RegistryOptions {
        ca_cert_pem: Some(std::fs::read(dir.join("ca.pem")).unwrap()),
        username: Some("lab".into()),
        password: Some("lab-pw".into()),
        ..Default::default()
    })
    .unwrap();
    let r = Reference::parse(&format!("{reg}/{repo}:v1")).unwrap();
    let layer = Bytes::from(tgz(&[("hello.txt", unique("hello").as_bytes(), 0o644)]));
    let layer_digest = sha256_digest(&layer);
    let config = Bytes::from(format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer_digest}"]}},"config":{{}}}}"#
    ));
    let config_digest = sha256_digest(&config);
    client
        .put_blob(&r, &layer_digest, layer.clone())
        .await
        .unwrap();
    client
        .put_blob(&r, &config_digest, config.clone())
        .await
        .unwrap();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":{},"digest":"{config_digest}"}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":{},"digest":"{layer_digest}"}}]}}"#,
        config.len(),
        layer.len()
    );
    client
        .put_manifest(
            &r,
            manifest.into(),
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .await
        .unwrap();
    r.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_and_basic_auth_registry() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let reg = start(&d).await;
    let image = put_image(&d, &reg.addr, "secure/app").await;
    let image2 = put_image(&d, &reg.addr, "secure/other").await;
    let gen_ = run(harbor_lab(&d)
        .args(["keys", "generate"])
        .env("COSIGN_PASSWORD", "k"));
    assert_eq!(gen_.code, 0, "{}", gen_.stderr);

    // Trusted CA + explicit credentials (password from the environment).
    let out = run(harbor_lab(&d)
        .args([
            "sign",
            "--key",
            "cosign.key",
            "--registry-cacert",
            "ca.pem",
            "--registry-username",
            "lab",
            &image,
            &image2,
        ])
        .env("COSIGN_PASSWORD", "k")
        .env("REGISTRY_PASSWORD", "lab-pw"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    std::fs::write(d.join("regpw"), "lab-pw\n").unwrap();
    let out = run(harbor_lab(&d).args([
        "verify",
        "--key",
        "cosign.pub",
        "--registry-cacert",
        "ca.pem",
        "--registry-username",
        "lab",
        "--registry-password-file",
        "regpw",
        &image,
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);

    // The real cosign, trusting the same CA through its own flag, agrees.
    let c = run(cosign(&d).args([
        "verify",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog=true",
        "--registry-cacert",
        "ca.pem",
        "--registry-username",
        "lab",
        "--registry-password",
        "lab-pw",
        &image,
    ]));
    assert_eq!(c.code, 0, "cosign: {}", c.stderr);

    // `verify` of the first image as user "lab", the password in the environment.
    let verify_as_lab = |extra: &[&str]| {
        run(harbor_lab(&d)
            .args([
                "verify",
                "--key",
                "cosign.pub",
                "--registry-username",
                "lab",
            ])
            .args(extra)
            .arg(&image)
            .env("REGISTRY_PASSWORD", "lab-pw"))
    };

    // Without the CA: a clear TLS error naming the registry and the fix.
    let out = verify_as_lab(&[]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.contains(&reg.addr) && out.stderr.contains("--registry-cacert"),
        "{}",
        out.stderr
    );

    // --allow-insecure-registry accepts the unknown certificate.
    let out = verify_as_lab(&["--allow-insecure-registry"]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    // A password in argv is refused before any request (even when the environment
    // holds a good one), with what to use instead, and the message does not repeat it.
    let out = verify_as_lab(&[
        "--registry-cacert",
        "ca.pem",
        "--registry-password",
        "argv-pw",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("REGISTRY_PASSWORD")
            && out.stderr.contains("--registry-password-file")
            && !out.stderr.contains("argv-pw"),
        "{}",
        out.stderr
    );

    // No credentials: the registry's Basic challenge is answered with a hint.
    let out = run(harbor_lab(&d).args([
        "verify",
        "--key",
        "cosign.pub",
        "--registry-cacert",
        "ca.pem",
        &image,
    ]));
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.contains("refused our credentials") && out.stderr.contains("docker login"),
        "{}",
        out.stderr
    );
    // A user name without a password is a usage error, not a prompt.
    let out = run(harbor_lab(&d).args([
        "verify",
        "--key",
        "cosign.pub",
        "--registry-username",
        "lab",
        &image,
    ]));
    assert_eq!(out.code, 2, "{}", out.stderr);

    // Credentials from the Docker config (DOCKER_CONFIG).
    let cfg = d.join("dockercfg");
    std::fs::create_dir_all(&cfg).unwrap();
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode("lab:lab-pw");
    std::fs::write(
        cfg.join("config.json"),
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, reg.addr),
    )
    .unwrap();
    let out = run(harbor_lab(&d)
        .args([
            "verify",
            "--key",
            "cosign.pub",
            "--registry-cacert",
            "ca.pem",
            &image,
        ])
        .env("DOCKER_CONFIG", &cfg));
    assert_eq!(out.code, 0, "{}", out.stderr);

    // ... and from a credential helper named by credsStore.
    let bin = d.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-labtest");
    std::fs::write(&helper, "#!/bin/sh\nread server\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"lab\",\"Secret\":\"lab-pw\"}' \"$server\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let helper_cfg = d.join("helpercfg");
    std::fs::create_dir_all(&helper_cfg).unwrap();
    std::fs::write(
        helper_cfg.join("config.json"),
        r#"{"credsStore":"labtest"}"#,
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = run(harbor_lab(&d)
        .args([
            "verify",
            "--key",
            "cosign.pub",
            "--registry-cacert",
            "ca.pem",
            &image2,
        ])
        .env("DOCKER_CONFIG", &helper_cfg)
        .env("PATH", path));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// A typo in a Harbor project name: Harbor answers the registry request 401,
/// as it does for wrong credentials (the double does the same), and harbor-lab
/// asks Harbor's API which it was: "project ... not found" (exit 2), never
/// "check the username and password"; a wrong password still says that.
#[tokio::test(flavor = "multi_thread")]
async fn a_missing_harbor_project_is_not_reported_as_bad_credentials() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let d = double(h, "v2.9.0").await;
    let keys = run(harbor_lab(h)
        .args(["keys", "generate", "--output-key-prefix", "k"])
        .env("COSIGN_PASSWORD", "pw"));
    assert_eq!(keys.code, 0, "{}", keys.stderr);
    let verify = |image: &str, config: &Path| {
        run(harbor_lab(h)
            .args(["verify", "--key", "k.pub", image])
            .env("DOCKER_CONFIG", config))
    };

    // The registry itself: a token is granted, the request is refused 401.
    let image = format!("{}/libary/app:v1", d.host);
    let raw = reqwest::Client::new()
        .get(format!("http://{}/v2/libary/app/manifests/v1", d.host))
        .basic_auth("admin", Some(DOUBLE_PW))
        .send()
        .await
        .unwrap();
    assert_eq!(
        raw.status(),
        401,
        "Harbor hides a missing project behind 401"
    );

    let typo = verify(&image, &h.join(".docker"));
    assert_eq!(typo.code, 2, "{}", typo.stderr);
    assert!(
        typo.stderr.contains("project libary not found") && typo.stderr.contains(&d.host),
        "{}",
        typo.stderr
    );
    assert!(
        !typo.stderr.contains("username and password"),
        "{}",
        typo.stderr
    );

    // Wrong password: the same 401 from the registry, and the API says so too.
    use base64::Engine as _;
    let bad = base64::engine::general_purpose::STANDARD.encode("admin:wrong");
    let bad_config = h.join("bad-docker");
    std::fs::create_dir_all(&bad_config).unwrap();
    std::fs::write(
        bad_config.join("config.json"),
        format!("{{\"auths\":{{\"{}\":{{\"auth\":\"{bad}\"}}}}}}", d.host),
    )
    .unwrap();
    let created = reqwest::Client::new()
        .post(format!("http://{}/api/v2.0/projects", d.host))
        .basic_auth("admin", Some(DOUBLE_PW))
        .json(&serde_json::json!({"project_name": "private", "metadata": {"public": "false"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let wrong = verify(&format!("{}/private/app:v1", d.host), &bad_config);
    assert_eq!(wrong.code, 4, "{}", wrong.stderr);
    assert!(
        wrong.stderr.contains("check the username and password"),
        "{}",
        wrong.stderr
    );
}
