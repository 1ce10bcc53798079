//! TLS mode (`--tls`): the fixture's install.sh serving TLS with harbor.yml's
//! pair, `up --tls` end to end with real docker, cosign and skopeo over https,
//! re-runs, switching modes, bad certificate input, and `down` restoring
//! certs.d byte for byte.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use harbor_lab::tls;
use support::*;

/// The lab's files made by the library, for the fixture-level test.
fn lab_pair(dir: &Path, host: &str) -> tls::lab::LabFiles {
    let files = tls::lab::LabFiles::new(dir.join("tls"));
    let plan = tls::lab::plan(&files, host, SystemTime::now()).unwrap();
    tls::lab::apply(&files, &plan).unwrap();
    files
}

/// cosign 3.1: HARBOR_LAB_COSIGN3 (then it must exist), else scripts/peers.sh's
/// cache path when it is there. None: this checkout's peers.sh does not fetch it.
fn cosign_v3() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HARBOR_LAB_COSIGN3").filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            p.exists(),
            "HARBOR_LAB_COSIGN3={} does not exist",
            p.display()
        );
        return Some(p);
    }
    let cache =
        std::env::var("HARBOR_LAB_CACHE").unwrap_or_else(|_| "/var/cache/harbor-lab".into());
    let p = PathBuf::from(cache).join("peers/v3/usr/bin/cosign");
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "cosign 3.1 is not fetched ({}): checked with cosign 2.5 only",
            p.display()
        );
        None
    }
}

/// A reqwest client that trusts only `ca` (and follows no redirect).
fn https_client(ca: &Path) -> reqwest::Client {
    let pem = std::fs::read(ca).unwrap();
    reqwest::Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .tls_info(true)
        .build()
        .unwrap()
}

fn kill_pid_file(p: &Path) {
    if let Ok(pid) = std::fs::read_to_string(p) {
        let _ = Command::new("kill").arg(pid.trim()).status();
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

/// Proof 1: install.sh starts the double with the certificate and key that
/// harbor.yml names, TLS on the https port; http redirects to https (308, to
/// the host the client asked for); plain HTTP on the https port gets nginx's 400.
#[tokio::test(flavor = "multi_thread")]
async fn fixture_install_sh_serves_tls_with_the_pair_harbor_yml_names() {
    let root = tempfile::tempdir().unwrap();
    let harbor = root.path().join("harbor");
    std::fs::create_dir_all(&harbor).unwrap();
    for (name, text, mode) in [
        ("install.sh", FIXTURE_INSTALL, 0o755),
        ("prepare", FIXTURE_PREPARE, 0o755),
        ("common.sh", FIXTURE_COMMON, 0o644),
    ] {
        use std::os::unix::fs::PermissionsExt;
        let p = harbor.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let files = lab_pair(root.path(), "127.0.0.1");
    let (http, https) = (free_port(), free_port());
    let data = root.path().join("data");
    let yml = harbor_lab::installer::render::render(
        FIXTURE_TEMPLATE,
        harbor_lab::installer::render::LAB_TEMPLATE,
        "lab",
        &harbor_lab::installer::render::Settings {
            hostname: "127.0.0.1".into(),
            http_port: http,
            admin_password: "Secret12345".into(),
            data_volume: data.display().to_string(),
            https: Some(harbor_lab::installer::render::Https {
                port: https,
                certificate: files.server_cert().display().to_string(),
                private_key: files.server_key().display().to_string(),
            }),
        },
    )
    .unwrap();
    std::fs::write(harbor.join("harbor.yml"), &yml).unwrap();
    let out = run(Command::new(harbor.join("install.sh"))
        .env("HARBOR_DOUBLE_BIN", harbor_double_bin())
        .env("HARBOR_DOUBLE_UPSTREAM", format!("http://{}", registry()))
        .env("HARBOR_DOUBLE_NAMESPACE", unique("tlsfixture"))
        .env("PATH", std::env::var("PATH").unwrap()));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        !out.stdout.contains("HTTP protocol is insecure"),
        "{}",
        out.stdout
    );
    let _stop = Stop(data.join("double.pid"));

    let client = https_client(&files.ca_cert());
    let url = format!("https://127.0.0.1:{https}/api/v2.0/health");
    let mut resp = None;
    for _ in 0..50 {
        if let Ok(r) = client.get(&url).send().await {
            resp = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let resp = resp.expect("the double never answered over TLS");
    assert_eq!(resp.status(), 200);
    // The certificate served is the one harbor.yml names.
    let served = resp
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|t| t.peer_certificate())
        .unwrap()
        .to_vec();
    let named = tls::read_cert(&files.server_cert()).unwrap().remove(0).der;
    assert_eq!(served, named);

    // The http port redirects to https on the host asked for.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = plain
        .get(format!(
            "http://127.0.0.1:{http}/v2/library/x/manifests/v1?n=1"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(
        r.headers()["location"],
        format!("https://127.0.0.1:{https}/v2/library/x/manifests/v1?n=1").as_str()
    );
    // Plain HTTP to the https port: nginx's 400.
    let r = plain
        .get(format!("http://127.0.0.1:{https}/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("The plain HTTP request was sent to HTTPS port")
    );
    // A client that does not trust the lab CA is refused.
    assert!(reqwest::Client::new().get(&url).send().await.is_err());
}

/// Stops the double whose pid file this names.
struct Stop(PathBuf);

impl Drop for Stop {
    fn drop(&mut self) {
        kill_pid_file(&self.0);
    }
}

const TAG: &str = FIXTURE_TAG;

/// Every file under `dir` with its bytes and mode, for "left as it was".
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let meta = std::fs::metadata(&p).unwrap();
            if meta.is_dir() {
                out.push((p.clone(), Vec::new(), meta.permissions().mode()));
                stack.push(p);
            } else {
                out.push((
                    p.clone(),
                    std::fs::read(&p).unwrap(),
                    meta.permissions().mode(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// `harbor-lab <sub>` for the fixture with --tls on `https` and certs.d at `certs`.
fn tls_cmd(lab: &Lab, sub: &str, base: &str, http: u16, https: u16, certs: &Path) -> Command {
    let mut c = lab.cmd(sub);
    fixture_install_args(
        &mut c,
        base,
        http,
        &lab.workdir(),
        &lab.path().join("daemon.json"),
    );
    c.args([
        "--health-timeout",
        "30",
        "--tls",
        "--https-port",
        &https.to_string(),
    ])
    .arg("--docker-certs-dir")
    .arg(certs);
    c
}

/// Proofs 2, 3, 4 (re-run) and 6: `up --tls` tells the whole story over
/// https; daemon.json is byte-identical; cosign verifies and skopeo copies
/// with the lab CA (skopeo through the certs.d entry, as Docker reads it);
/// a re-run changes nothing; `down` leaves certs.d as it was, a user's
/// ca.crt for the same host included; `down --purge` removes the CA.
#[tokio::test(flavor = "multi_thread")]
async fn up_tls_tells_the_story_over_https_and_down_restores_certs_d() {
    let lab = std::sync::Arc::new(Lab::new().with_story());
    // A daemon.json no dockerd reads: TLS mode must neither change it nor reload.
    let daemon_json = b"{ \"debug\": true,\n  \"insecure-registries\": [\"10.9.9.9:5000\"] }\n";
    std::fs::write(lab.path().join("daemon.json"), daemon_json).unwrap();
    let server = fixture_release().await;
    let base = format!("http://{}", server.addr);
    let (http, https) = (free_port(), free_port());
    // certs.d with another registry's entry and a user's ca.crt for this one.
    let certs = lab.path().join("certs.d");
    let mine = certs.join(format!("127.0.0.1:{https}"));
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::create_dir_all(certs.join("other.example:5000")).unwrap();
    std::fs::write(certs.join("other.example:5000/ca.crt"), "other CA\n").unwrap();
    std::fs::write(mine.join("ca.crt"), "the user's own CA\r\n").unwrap();
    let before = snapshot(&certs);

    let up = {
        let (l, b, c) = (lab.clone(), base.clone(), certs.clone());
        move || {
            let mut cmd = tls_cmd(&l, "up", &b, http, https, &c);
            l.story_args(&mut cmd);
            run(cmd.args(["--yes", "--json"]))
        }
    };
    let out = blocking(up.clone()).await.unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let demo = &report["demo"];
    assert_whole_story(demo);
    let ca = lab.workdir().join("tls/ca.crt");
    assert_eq!(report["ca_certificate"], ca.display().to_string());
    assert_eq!(report["harbor_url"], format!("https://127.0.0.1:{https}"));
    assert_eq!(report["registry"], format!("127.0.0.1:{https}"));
    // daemon.json: byte-identical.
    assert_eq!(
        std::fs::read(lab.path().join("daemon.json")).unwrap(),
        daemon_json
    );
    // certs.d: the lab CA for this registry, the user's kept aside.
    assert_eq!(
        std::fs::read(mine.join("ca.crt")).unwrap(),
        std::fs::read(&ca).unwrap()
    );
    assert!(mine.join("ca.crt.harbor-lab.bak").exists());
    // harbor.yml names the pair Harbor serves.
    let yml = std::fs::read_to_string(lab.workdir().join("harbor/harbor.yml")).unwrap();
    for line in [
        format!("  port: {https}\n"),
        format!(
            "  certificate: {}\n",
            lab.workdir().join("tls/server.crt").display()
        ),
        format!(
            "  private_key: {}\n",
            lab.workdir().join("tls/server.key").display()
        ),
    ] {
        assert!(yml.contains(&line), "{line} in {yml}");
    }

    // Proof 3: the real cosign verifies over https with --registry-cacert.
    let image = format!("127.0.0.1:{https}/library/{}", lab.image);
    let digest = demo["digest"].as_str().unwrap().to_string();
    let public = report["public_key"].as_str().unwrap().to_string();
    let home = lab.path().to_path_buf();
    let peers = std::iter::once(("cosign 2.5", cosign_path()))
        .chain(cosign_v3().map(|p| ("cosign 3.1", p)));
    for (name, bin) in peers {
        let (h, img, pk, cacert) = (home.clone(), image.clone(), public.clone(), ca.clone());
        let (trusted, untrusted) = blocking(move || {
            let verify = |extra: &[&str]| {
                run(Command::new(&bin)
                    .env_remove("COSIGN_PASSWORD")
                    .env("HOME", &h)
                    .env("TUF_ROOT", h.join(format!(".sigstore-{name}")))
                    .current_dir(&h)
                    .args(["verify", "--insecure-ignore-tlog=true", "--key", &pk])
                    .args(extra)
                    .arg(&img))
            };
            (
                verify(&["--registry-cacert", cacert.to_str().unwrap()]),
                verify(&[]),
            )
        })
        .await
        .unwrap();
        assert_eq!(trusted.code, 0, "{name}: {}", trusted.stderr);
        assert!(trusted.stdout.contains(&digest), "{}", trusted.stdout);
        assert_ne!(untrusted.code, 0, "{name} verified without the lab CA");
    }

    // skopeo copies it, trusting the CA through the certs.d entry we wrote.
    let (h, img, dir) = (home.clone(), image.clone(), mine.clone());
    let (copied, refused) = blocking(move || {
        let copy = |cert_dir: Option<&Path>, dest: &str| {
            let mut c = skopeo(&h);
            c.args(["--insecure-policy", "copy"]);
            if let Some(d) = cert_dir {
                c.arg("--src-cert-dir").arg(d);
            }
            run(c
                .arg(format!("docker://{img}"))
                .arg(format!("dir:{}", h.join(dest).display())))
        };
        (copy(Some(&dir), "copied"), copy(None, "refused"))
    })
    .await
    .unwrap();
    assert_eq!(copied.code, 0, "skopeo: {}", copied.stderr);
    assert!(home.join("copied/manifest.json").exists());
    assert_ne!(refused.code, 0, "skopeo copied without trusting the lab CA");
    assert!(refused.stderr.contains("certificate"), "{}", refused.stderr);

    // Our own verify reaches the lab over https with no CA flag: the workdir knows it.
    let ours = run(harbor_lab(&home)
        .env("HARBOR_LAB_HOME", lab.workdir())
        .args(["verify", "--key", &public, &image]));
    assert_eq!(ours.code, 0, "{}", ours.stderr);
    // Without the lab's workdir it is refused: the workdir's CA is what is trusted.
    let elsewhere = run(harbor_lab(&home)
        .env("HARBOR_LAB_HOME", home.join("no-lab"))
        .args(["verify", "--key", &public, &image]));
    assert_ne!(elsewhere.code, 0, "verified without the lab CA");
    // sign too (the lab key again: a layer by this key is already there, so
    // nothing is pushed, but the registry is reached and read over https).
    let signed = run(harbor_lab(&home)
        .env("HARBOR_LAB_HOME", lab.workdir())
        .args(["sign", "--key"])
        .arg(lab.workdir().join("cosign.key"))
        .arg("--password-file")
        .arg(lab.workdir().join("cosign.password"))
        .arg(&image));
    assert_eq!(signed.code, 0, "{}", signed.stderr);
    // ... and --registry-cacert still works beside it.
    let ours = run(harbor_lab(&home)
        .env("HARBOR_LAB_HOME", lab.workdir())
        .args(["verify", "--key", &public, "--registry-cacert"])
        .arg(&ca)
        .arg(&image));
    assert_eq!(ours.code, 0, "{}", ours.stderr);

    // status: the certificate's expiry; "drifted" once certs.d changes.
    let status = |l: &Lab| {
        let out = run(l
            .plain()
            .args(["status", "--json", "--workdir"])
            .arg(l.workdir()));
        assert_eq!(out.code, 0, "{}", out.stderr);
        serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap()
    };
    let st = status(&lab);
    let exp = st["tls"]["certificate_expires"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(exp.len(), 10, "{st}");
    let step = |st: &serde_json::Value, id: &str| {
        st["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no {id} in {st}"))
    };
    assert_eq!(step(&st, "docker-trust")["status"], "done", "{st}");
    assert!(step(&st, "tls")["detail"].as_str().unwrap().contains(&exp));
    assert_eq!(st["harbor_answers"], true, "{st}");
    let ours_bytes = std::fs::read(mine.join("ca.crt")).unwrap();
    std::fs::write(mine.join("ca.crt"), "someone else\n").unwrap();
    assert_eq!(step(&status(&lab), "docker-trust")["status"], "drifted");
    std::fs::write(mine.join("ca.crt"), &ours_bytes).unwrap();

    // Proof 4: a re-run changes nothing, the same certificate bytes.
    let pair = |l: &Lab| {
        [
            "tls/ca.crt",
            "tls/ca.key",
            "tls/server.crt",
            "tls/server.key",
        ]
        .map(|f| std::fs::read(l.workdir().join(f)).unwrap())
    };
    let first = pair(&lab);
    let again = blocking(up).await.unwrap();
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(pair(&lab), first);
    let r2: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    for s in r2["install"]["steps"].as_array().unwrap() {
        let id = s["id"].as_str().unwrap();
        let want = if ["preflight", "host"].contains(&id) {
            "checked"
        } else {
            "skipped"
        };
        assert_eq!(s["status"], want, "{s}");
    }
    assert_eq!(
        std::fs::read(lab.path().join("daemon.json")).unwrap(),
        daemon_json
    );

    // --explain shows the openssl and cp commands the TLS steps replace.
    let mut c = tls_cmd(&lab, "up", &base, http, https, &certs);
    lab.story_args(&mut c);
    let shown = run(c.args(["--dry-run", "--explain", "--yes"]));
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    for cmd in [
        "openssl ecparam -name prime256v1",
        "openssl x509 -req",
        "subjectAltName=IP:127.0.0.1",
    ] {
        assert!(shown.stderr.contains(cmd), "{cmd}: {}", shown.stderr);
    }
    assert!(
        shown.stderr.contains(&format!("cp {}", ca.display()))
            || shown
                .stderr
                .contains(&format!("/tls/ca.crt {}", mine.display())),
        "{}",
        shown.stderr
    );

    // Proof 6: down leaves certs.d as it was before up, byte for byte.
    let out = run(lab.plain().args(["down", "--workdir"]).arg(lab.workdir()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(snapshot(&certs), before);
    assert_eq!(
        std::fs::read(lab.path().join("daemon.json")).unwrap(),
        daemon_json
    );
    // down --purge removes the CA with the workdir.
    lab.kill_double();
    let out = run(lab
        .plain()
        .args(["down", "--purge", "--yes", "--workdir"])
        .arg(lab.workdir()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!ca.exists());
    assert_eq!(snapshot(&certs), before);
}

fn engine_insecure(entry: &str) -> bool {
    let out = Command::new("/usr/bin/docker")
        .args(["info", "--format", "{{json .RegistryConfig}}"])
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    info["IndexConfigs"][entry]["Secure"] == false
}

/// Proof 4, switching: an HTTP lab switched to --tls loses our
/// insecure-registries entry (reload confirmed by docker info), a new
/// --hostname gets a new certificate, and switching back adds the entry
/// again and takes the certs.d entry away. On the live dockerd's config file.
#[tokio::test(flavor = "multi_thread")]
async fn switching_between_http_and_tls_moves_dockers_trust() {
    let daemon_config = PathBuf::from(
        std::env::var("HARBOR_LAB_TEST_DAEMON_CONFIG")
            .ok()
            .filter(|v| !v.is_empty())
            .expect("scripts/services.sh starts dockerd with --config-file; run scripts/test.sh"),
    );
    let original = std::fs::read(&daemon_config).unwrap();
    let lab = Lab::new();
    let server = fixture_release().await;
    let base = format!("http://{}", server.addr);
    let (http, https) = (free_port(), free_port());
    let certs = lab.path().join("certs.d");
    std::fs::create_dir_all(&certs).unwrap();
    let entry = format!("127.0.0.1:{http}");
    let install = |host: &str, tls: bool| {
        let mut c = lab.cmd("install");
        c.args(["--harbor-version", TAG, "--download-base", &base])
            .args(["--hostname", host, "--allow-loopback-hostname"])
            .args(["--http-port", &http.to_string(), "--health-timeout", "30"])
            .arg("--workdir")
            .arg(lab.workdir())
            .arg("--daemon-config")
            .arg(&daemon_config)
            .args(["--yes", "--json"]);
        if tls {
            c.args(["--tls", "--https-port", &https.to_string()])
                .arg("--docker-certs-dir")
                .arg(&certs);
        }
        c
    };
    let lists = |e: &str| {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&daemon_config).unwrap()).unwrap();
        v["insecure-registries"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == e))
    };
    let result = std::panic::AssertUnwindSafe(async {
        let out = run_blocking(install("127.0.0.1", false)).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(lists(&entry) && engine_insecure(&entry));

        // HTTP -> TLS: our entry goes, dockerd reloaded without it.
        let out = run_blocking(install("127.0.0.1", true)).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(!lists(&entry), "daemon.json still lists {entry}");
        assert!(!engine_insecure(&entry), "docker info still lists {entry}");
        let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let status = |id: &str| {
            report["steps"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["id"] == id)
                .map(|s| s["status"].as_str().unwrap().to_string())
        };
        assert_eq!(status("daemon-reload").as_deref(), Some("done"), "{report}");
        assert_eq!(status("install").as_deref(), Some("done"), "{report}");
        let served = |host: &str, port: u16| {
            let ca = lab.workdir().join("tls/ca.crt");
            let url = format!("https://{host}:{port}/api/v2.0/health");
            async move { https_client(&ca).get(url).send().await.map(|r| r.status()) }
        };
        assert_eq!(served("127.0.0.1", https).await.unwrap(), 200);
        let first = std::fs::read(lab.workdir().join("tls/server.crt")).unwrap();
        assert!(certs.join(format!("127.0.0.1:{https}/ca.crt")).exists());

        // A new hostname: a new certificate for it, and it says why.
        let out = run_blocking(install("127.0.0.2", true)).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stderr.contains("hostname changed"), "{}", out.stderr);
        let second = std::fs::read(lab.workdir().join("tls/server.crt")).unwrap();
        assert_ne!(first, second);
        let info = tls::read_cert(&lab.workdir().join("tls/server.crt")).unwrap();
        assert_eq!(
            info[0].ip_addresses,
            vec!["127.0.0.2".parse::<std::net::IpAddr>().unwrap()]
        );
        assert_eq!(served("127.0.0.2", https).await.unwrap(), 200);
        assert!(!certs.join(format!("127.0.0.1:{https}")).exists());
        assert!(certs.join(format!("127.0.0.2:{https}/ca.crt")).exists());

        // TLS -> HTTP: the entry comes back, certs.d is emptied.
        let out = run_blocking(install("127.0.0.1", false)).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(lists(&entry) && engine_insecure(&entry));
        assert_eq!(std::fs::read_dir(&certs).unwrap().count(), 0);

        let out = run(lab.plain().args(["down", "--workdir"]).arg(lab.workdir()));
        assert_eq!(out.code, 0, "{}", out.stderr);
    });
    let result = futures_util::FutureExt::catch_unwind(result).await;
    // Whatever happened, the live daemon config goes back.
    if std::fs::read(&daemon_config).unwrap() != original {
        std::fs::write(&daemon_config, &original).unwrap();
    }
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    assert!(!engine_insecure(&entry));
}

/// A certificate for `sans` signed by its own new key, valid from
/// `not_before` to `not_after` (Unix seconds). Returns (cert PEM, key PEM).
fn own_cert(sans: &[&str], not_before: i64, not_after: i64) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p =
        rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    p.not_before = time::OffsetDateTime::from_unix_timestamp(not_before).unwrap();
    p.not_after = time::OffsetDateTime::from_unix_timestamp(not_after).unwrap();
    let cert = p.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// Proof 5: a --tls-cert for another hostname, a key that does not match, an
/// expired certificate: each a clear error naming the file, exit 2, and
/// nothing written. A world-readable lab CA key: a warning, and 0600 after.
#[tokio::test(flavor = "multi_thread")]
async fn bad_certificates_are_refused_before_anything_is_written() {
    let lab = Lab::new();
    let daemon = lab.private_daemon_config("{}\n");
    let server = fixture_release().await;
    let base = format!("http://{}", server.addr);
    let (http, https) = (free_port(), free_port());
    let certs = lab.path().join("certs.d");
    std::fs::create_dir_all(&certs).unwrap();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let day = 86_400;
    let write = |name: &str, text: &str| {
        let p = lab.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let (other_cert, other_key) = own_cert(&["harbor.other.test"], now - day, now + 90 * day);
    let (good_cert, _) = own_cert(&["127.0.0.1"], now - day, now + 90 * day);
    let (old_cert, old_key) = own_cert(&["127.0.0.1"], now - 100 * day, now - day);
    let cases = [
        (
            write("other.crt", &other_cert),
            write("other.key", &other_key),
            "other.crt",
            "not for Harbor's hostname 127.0.0.1",
        ),
        (
            write("good.crt", &good_cert),
            write("other2.key", &other_key),
            "other2.key",
            "does not belong to the certificate",
        ),
        (
            write("old.crt", &old_cert),
            write("old.key", &old_key),
            "old.crt",
            "expired on",
        ),
    ];
    for (cert, key, names, says) in &cases {
        for sub in ["install", "preflight"] {
            let mut c = tls_cmd(&lab, sub, &base, http, https, &certs);
            if sub == "preflight" {
                // preflight takes only the host, workdir, daemon and TLS flags.
                c = lab.cmd("preflight");
                c.args([
                    "--hostname",
                    "127.0.0.1",
                    "--allow-loopback-hostname",
                    "--tls",
                ])
                .args(["--https-port", &https.to_string()])
                .arg("--workdir")
                .arg(lab.workdir());
            }
            c.arg("--tls-cert")
                .arg(cert)
                .arg("--tls-key")
                .arg(key)
                .arg("--yes");
            let out = run(&mut c);
            assert_eq!(out.code, 2, "{sub} {names}: {}", out.stderr);
            assert!(
                out.stderr.contains(names) && out.stderr.contains(says),
                "{sub}: {}",
                out.stderr
            );
            assert_eq!(
                out.stderr.matches("error").count(),
                1,
                "one message: {}",
                out.stderr
            );
        }
        assert!(
            !lab.workdir().exists(),
            "a refused command wrote the workdir"
        );
        assert_eq!(std::fs::read_dir(&certs).unwrap().count(), 0);
        assert_eq!(std::fs::read(&daemon).unwrap(), b"{}\n");
    }

    // preflight checks the https port too.
    let busy = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    let out = run(lab
        .cmd("preflight")
        .args([
            "--hostname",
            "127.0.0.1",
            "--allow-loopback-hostname",
            "--tls",
        ])
        .args(["--https-port", &busy_port.to_string(), "--json"])
        .arg("--workdir")
        .arg(lab.workdir()));
    assert_ne!(out.code, 0, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == format!("port-{busy_port}"))
        .cloned()
        .unwrap_or_else(|| panic!("no https port check: {report}"));
    assert_eq!(check["result"], "fail", "{check}");
    assert!(
        check["fix"].as_str().unwrap().contains("--https-port"),
        "{check}"
    );
    drop(busy);

    // A lab CA key others can read: a warning, and 0600 afterwards.
    use std::os::unix::fs::PermissionsExt;
    let files = lab_pair(&lab.workdir(), "127.0.0.1");
    std::fs::set_permissions(files.ca_key(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(tls_cmd(&lab, "install", &base, http, https, &certs).arg("--yes"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("could be read by other users") && out.stderr.contains("ca.key"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("CA certificate:  {}", files.ca_cert().display())),
        "{}",
        out.stderr
    );
    let mode = std::fs::metadata(files.ca_key())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    // The pair made before is the one in use: nothing was issued again.
    let served = tls::read_cert(&files.server_cert()).unwrap();
    assert!(served[0].covers("127.0.0.1"));
}

/// A network namespace of this test's own, joined to the host by a veth pair
/// (10.213.N.1 here, 10.213.N.2 inside), with a docker-registry of its own on
/// the namespace's loopback. Everything is removed on drop.
struct Netns {
    name: String,
    link: String,
    inside: String,
    registry: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Netns {
    fn new() -> Netns {
        let id = std::process::id();
        let name = format!("hltls-{id}");
        let link = format!("hlt{}", id % 100_000);
        let net = format!("10.213.{}", 1 + id % 250);
        let ip = |args: &[&str]| {
            let out = run(Command::new("ip").args(args));
            assert_eq!(out.code, 0, "ip {args:?}: {}", out.stderr);
        };
        let _ = run(Command::new("ip").args(["link", "del", &link]));
        let _ = run(Command::new("ip").args(["netns", "del", &name]));
        ip(&["netns", "add", &name]);
        ip(&[
            "link",
            "add",
            &link,
            "type",
            "veth",
            "peer",
            "name",
            &format!("{link}p"),
        ]);
        ip(&["link", "set", &format!("{link}p"), "netns", &name]);
        ip(&["addr", "add", &format!("{net}.1/30"), "dev", &link]);
        ip(&["link", "set", &link, "up"]);
        let ns = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &name, "ip"];
            all.extend_from_slice(args);
            ip(&all);
        };
        ns(&[
            "addr",
            "add",
            &format!("{net}.2/30"),
            "dev",
            &format!("{link}p"),
        ]);
        ns(&["link", "set", &format!("{link}p"), "up"]);
        ns(&["link", "set", "lo", "up"]);
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("registry.yml");
        std::fs::write(
            &cfg,
            format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog: {{disabled: true}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\nhttp:\n  addr: 127.0.0.1:5055\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let registry = Command::new("ip")
            .args(["netns", "exec", &name, "docker-registry", "serve"])
            .arg(&cfg)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let up = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            run(Command::new("ip").args([
                "netns",
                "exec",
                &name,
                "curl",
                "-fsS",
                "http://127.0.0.1:5055/v2/",
            ]))
            .code
                == 0
        });
        assert!(up, "the namespace's docker-registry did not start");
        Netns {
            name,
            link,
            inside: format!("{net}.2"),
            registry,
            _dir: dir,
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = self.registry.kill();
        let _ = self.registry.wait();
        let _ = run(Command::new("ip").args(["link", "del", &self.link]));
        let _ = run(Command::new("ip").args(["netns", "del", &self.name]));
    }
}

/// Proof 2, with dockerd really reading certs.d: Harbor (the double) on an
/// address of a namespace this test made, which dockerd does not treat as
/// insecure. `up --tls` pushes and pulls through dockerd, which trusts the
/// lab CA only through /etc/docker/certs.d/<host>:<port>/ca.crt; without the
/// entry the same pull fails on the certificate. `down` takes it away again.
#[tokio::test(flavor = "multi_thread")]
async fn dockerd_trusts_the_lab_ca_through_certs_d() {
    let netns = Netns::new();
    let host = netns.inside.clone();
    let lab = std::sync::Arc::new(Lab::new().with_story());
    let server = fixture_release().await;
    let base = format!("http://{}", server.addr);
    let (http, https) = (free_port(), free_port());
    let certs = Path::new(harbor_lab::docker::certs_d::DEFAULT_ROOT).to_path_buf();
    let entry = certs.join(format!("{host}:{https}"));
    assert!(
        !entry.exists(),
        "{} is there before the test",
        entry.display()
    );
    let registry = format!("{host}:{https}");
    let (l, b, h, ns) = (lab.clone(), base.clone(), host.clone(), netns.name.clone());
    let out = blocking(move || {
        let mut c = l.cmd("up");
        c.args(["--harbor-version", TAG, "--download-base", &b])
            .args(["--hostname", &h, "--http-port", &http.to_string()])
            .args(["--tls", "--https-port", &https.to_string()])
            .arg("--workdir")
            .arg(l.workdir())
            .arg("--daemon-config")
            .arg(l.path().join("daemon.json"))
            .args(["--health-timeout", "30", "--yes", "--json"])
            .env("HARBOR_DOUBLE_NETNS", &ns)
            .env("HARBOR_DOUBLE_UPSTREAM", "http://127.0.0.1:5055");
        l.story_args(&mut c);
        run(&mut c)
    })
    .await
    .unwrap();
    let result = std::panic::AssertUnwindSafe(async {
        assert_eq!(out.code, 0, "{}", out.stderr);
        let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let demo = &report["demo"];
        assert_whole_story(demo);
        assert_eq!(report["registry"], registry);
        assert!(
            !engine_insecure(&registry),
            "dockerd treats {registry} as insecure"
        );
        assert_eq!(
            std::fs::read(entry.join("ca.crt")).unwrap(),
            std::fs::read(lab.workdir().join("tls/ca.crt")).unwrap()
        );
        // The same pull without the certs.d entry: refused on the certificate.
        let image = format!("{registry}/library/{}", lab.image);
        let pull = || run(Command::new("/usr/bin/docker").args(["pull", &image]));
        let _ = run(Command::new("/usr/bin/docker").args(["rmi", "-f", &image]));
        let aside = lab.path().join("ca.crt.aside");
        std::fs::rename(entry.join("ca.crt"), &aside).unwrap();
        let refused = pull();
        std::fs::rename(&aside, entry.join("ca.crt")).unwrap();
        assert_ne!(refused.code, 0, "dockerd pulled without the lab CA");
        assert!(refused.stderr.contains("certificate"), "{}", refused.stderr);
        let pulled = pull();
        assert_eq!(pulled.code, 0, "{}", pulled.stderr);
        let _ = run(Command::new("/usr/bin/docker").args(["rmi", "-f", &image]));
    });
    let result = futures_util::FutureExt::catch_unwind(result).await;
    // down takes the certs.d entry away (whatever happened above).
    let down = run(lab.plain().args(["down", "--workdir"]).arg(lab.workdir()));
    lab.kill_double();
    let left = entry.exists();
    if left {
        let _ = std::fs::remove_dir_all(&entry);
    }
    drop(netns);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    assert_eq!(down.code, 0, "{}", down.stderr);
    assert!(!left, "down left {}", entry.display());
}
