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
