//! The installer pipeline against a fixture release served from loopback, the
//! real dockerd (with its own --config-file), and the Harbor API double.

mod support;

use std::path::Path;
use std::process::Command;

use support::*;

const TAG: &str = FIXTURE_TAG;

fn nothing_escaped(lab: &Lab) {
    let workdir = lab.workdir();
    assert!(
        !workdir.join("harbor").exists(),
        "a refused archive left harbor/ behind"
    );
    if workdir.exists() {
        for e in std::fs::read_dir(&workdir).unwrap().flatten() {
            assert!(
                !e.file_name().to_string_lossy().starts_with(".extract-"),
                "staging left behind"
            );
        }
    }
    for p in ["evil", "escaped", "work/evil"] {
        assert!(
            !lab.path().join(p).exists(),
            "{p} was written outside the workdir"
        );
    }
    assert!(!Path::new("/tmp/harbor-lab-evil").exists());
}

async fn refused(tarball: Vec<u8>, needle: &str) {
    let lab = Lab::new();
    let server = file_server(release_files(TAG, tarball, None), None).await;
    let cfg = lab.private_daemon_config("{}\n");
    let port = free_port();
    let out = run_blocking(lab.install(
        &format!("http://{}", server.addr),
        port,
        &cfg,
        &["--no-daemon-reload"],
    ))
    .await;
    assert_ne!(out.code, 0, "accepted: {}", out.stderr);
    assert!(
        out.stderr.contains(needle),
        "expected {needle:?} in: {}",
        out.stderr
    );
    nothing_escaped(&lab);
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        "{}\n",
        "daemon.json must be untouched"
    );
}

fn raw_tar(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    build(&mut b);
    let tar = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    gz.finish().unwrap()
}

fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h
}

/// Write a raw path into a header, bypassing the tar crate's own checks.
fn set_raw_path(h: &mut tar::Header, path: &str) {
    let name = &mut h.as_old_mut().name;
    name.fill(0);
    name[..path.len()].copy_from_slice(path.as_bytes());
    h.set_cksum();
}

/// Append one entry with its path written as-is (bypassing the tar crate's own
/// checks), and a link target for links.
fn put(
    b: &mut tar::Builder<Vec<u8>>,
    kind: tar::EntryType,
    path: &str,
    link: Option<&str>,
    data: &[u8],
) {
    let mut h = header(kind, data.len() as u64);
    if let Some(target) = link {
        h.set_link_name(target).unwrap();
    }
    set_raw_path(&mut h, path);
    b.append(&h, data).unwrap();
}

fn with_installer(b: &mut tar::Builder<Vec<u8>>) {
    let mut h = header(tar::EntryType::Regular, 4);
    h.set_mode(0o755);
    h.set_cksum();
    b.append_data(&mut h, "harbor/install.sh", &b"true"[..])
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_archives_are_refused_and_leave_nothing() {
    // Path traversal.
    refused(
        raw_tar(|b| {
            with_installer(b);
            put(
                b,
                tar::EntryType::Regular,
                "harbor/../../evil",
                None,
                b"evil",
            );
        }),
        "harbor/../../evil",
    )
    .await;
    // Absolute path.
    refused(
        raw_tar(|b| {
            with_installer(b);
            put(
                b,
                tar::EntryType::Regular,
                "/tmp/harbor-lab-evil",
                None,
                b"evil",
            );
        }),
        "absolute",
    )
    .await;
    // Symlink escape, then a file through it.
    refused(
        raw_tar(|b| {
            with_installer(b);
            put(b, tar::EntryType::Symlink, "harbor/up", Some("../.."), b"");
            put(b, tar::EntryType::Regular, "harbor/up/evil", None, b"evil");
        }),
        "harbor/up",
    )
    .await;
    // A file through a symlink that itself stays inside.
    refused(
        raw_tar(|b| {
            with_installer(b);
            put(b, tar::EntryType::Symlink, "harbor/self", Some("."), b"");
            put(
                b,
                tar::EntryType::Regular,
                "harbor/self/evil",
                None,
                b"evil",
            );
        }),
        "goes through the symlink",
    )
    .await;
    // Hardlink escape.
    refused(
        raw_tar(|b| {
            with_installer(b);
            put(
                b,
                tar::EntryType::Link,
                "harbor/passwd",
                Some("../../../../etc/passwd"),
                b"",
            );
        }),
        "harbor/passwd",
    )
    .await;
    // Device and fifo entries.
    for kind in [
        tar::EntryType::Char,
        tar::EntryType::Block,
        tar::EntryType::Fifo,
    ] {
        refused(
            raw_tar(|b| {
                with_installer(b);
                put(b, kind, "harbor/dev", None, b"");
            }),
            "not allowed",
        )
        .await;
    }
    // No harbor/install.sh.
    refused(
        tgz(&[("other/install.sh", b"true", 0o755)]),
        "no harbor/install.sh",
    )
    .await;
    // Truncated gzip.
    let mut t = fixture_installer();
    t.truncate(t.len() / 2);
    refused(t, "truncated").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gzip_bomb_is_refused() {
    // Many gzip members of zeros: tiny compressed, 320 MiB decompressed.
    let mut h = header(tar::EntryType::Regular, 320 << 20);
    set_raw_path(&mut h, "harbor/big");
    let member = |data: &[u8]| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut gz, data).unwrap();
        gz.finish().unwrap()
    };
    let mut bomb = member(h.as_bytes());
    let zeros = member(&vec![0u8; 1 << 20]);
    for _ in 0..320 {
        bomb.extend_from_slice(&zeros);
    }
    assert!(bomb.len() < 2 << 20);
    refused(bomb, "gzip bomb").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn checksum_mismatch_deletes_the_download() {
    let lab = Lab::new();
    let tarball = fixture_installer();
    let server = file_server(
        release_files(TAG, tarball.clone(), Some("0".repeat(32))),
        None,
    )
    .await;
    let cfg = lab.private_daemon_config("{}\n");
    let out = run(&mut lab.install(
        &format!("http://{}", server.addr),
        free_port(),
        &cfg,
        &["--no-daemon-reload"],
    ));
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("expected md5 {}", "0".repeat(32))),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("got {}", md5_hex(&tarball))),
        "{}",
        out.stderr
    );
    let dir = lab.path().join("cache/downloads").join(TAG);
    let left: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
    nothing_escaped(&lab);
}

/// What the download cache holds for the fixture's version.
fn cache_entries(lab: &Lab) -> Vec<String> {
    std::fs::read_dir(lab.path().join("cache/downloads").join(TAG))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endless_or_oversized_download_is_cut_off_and_leaves_nothing() {
    let asset = format!("/{TAG}/harbor-online-installer-{TAG}.tgz");
    for special in [
        Special::Endless(asset.clone()),
        Special::HugeLength(asset.clone()),
    ] {
        let lab = Lab::new();
        let server = file_server_with(
            release_files(TAG, fixture_installer(), None),
            Some(special.clone()),
        )
        .await;
        let cfg = lab.private_daemon_config("{}\n");
        let mut cmd = lab.install(
            &format!("http://{}", server.addr),
            free_port(),
            &cfg,
            &["--no-daemon-reload"],
        );
        let out = tokio::task::spawn_blocking(move || run(&mut cmd))
            .await
            .unwrap();
        assert_eq!(out.code, 4, "{special:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!("{}{asset}", server.addr))
                && out.stderr.contains("more than 104857600 bytes"),
            "{special:?}: {}",
            out.stderr
        );
        // Not retried: one request for the tarball.
        let asked = server
            .requests()
            .iter()
            .filter(|r| r.contains(&asset))
            .count();
        assert_eq!(asked, 1, "{special:?}: {:?}", server.requests());
        assert!(
            cache_entries(&lab).is_empty(),
            "{special:?}: {:?}",
            cache_entries(&lab)
        );
        assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "{}\n");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_is_an_environment_error_naming_the_file() {
    let lab = Lab::new();
    let server = file_server(release_files(TAG, fixture_installer(), None), None).await;
    // The partial file is /dev/full: every write fails with ENOSPC.
    let dir = lab.path().join("cache/downloads").join(TAG);
    std::fs::create_dir_all(&dir).unwrap();
    let partial = dir.join(format!("harbor-online-installer-{TAG}.tgz.partial"));
    std::os::unix::fs::symlink("/dev/full", &partial).unwrap();
    let cfg = lab.private_daemon_config("{}\n");
    let mut cmd = lab.install(
        &format!("http://{}", server.addr),
        free_port(),
        &cfg,
        &["--no-daemon-reload"],
    );
    let out = tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .unwrap();
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains(&partial.display().to_string()) && out.stderr.contains("is full"),
        "{}",
        out.stderr
    );
    assert!(cache_entries(&lab).is_empty(), "{:?}", cache_entries(&lab));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_downloads_into_one_cache_take_turns() {
    // The server holds the first response halfway until the tarball is asked
    // for again (or 5 s pass), so two downloads that do not take turns overlap.
    let tarball = fixture_installer();
    let asset = format!("/{TAG}/harbor-online-installer-{TAG}.tgz");
    let server = file_server_with(
        release_files(TAG, tarball.clone(), None),
        Some(Special::HoldFirst(asset.clone())),
    )
    .await;
    let cache = tempfile::tempdir().unwrap();
    let spec = harbor_lab::installer::download::Spec {
        url: format!("http://{}{asset}", server.addr),
        dest: cache.path().join(TAG).join(&asset[TAG.len() + 2..]),
        md5: Some(md5_hex(&tarball)),
        max_bytes: 100 << 20,
    };
    let client = harbor_lab::http::client(harbor_lab::http::Profile::Transfer).unwrap();
    let ui = harbor_lab::ui::Reporter::silent();
    let first = harbor_lab::installer::download::download(&client, &ui, &spec, 1);
    let second = async {
        // Start once the first one is receiving.
        while !server.requests().iter().any(|r| r.contains(&asset)) {
            tokio::task::yield_now().await;
        }
        harbor_lab::installer::download::download(&client, &ui, &spec, 1).await
    };
    let (a, b) = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        futures_util::future::join(first, second),
    )
    .await
    .expect("both downloads finish");
    let (a, b) = (a.expect("first download"), b.expect("second download"));
    assert_eq!(a.md5, md5_hex(&tarball));
    assert_eq!(b.md5, md5_hex(&tarball));
    assert!(b.cached, "the second waited and found the verified file");
    assert_eq!(std::fs::read(&spec.dest).unwrap(), tarball);
    assert_eq!(
        std::fs::read_dir(spec.dest.parent().unwrap())
            .unwrap()
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_daemon_json_is_never_touched() {
    let lab = Lab::new();
    let server = file_server(release_files(TAG, fixture_installer(), None), None).await;
    let bad = "{\"log-driver\": \"json-file\",, }\n";
    let cfg = lab.private_daemon_config(bad);
    let out = run(&mut lab.install(
        &format!("http://{}", server.addr),
        free_port(),
        &cfg,
        &["--no-daemon-reload"],
    ));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(&cfg.display().to_string()) && out.stderr.contains("not valid JSON"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read(&cfg).unwrap(), bad.as_bytes());
    assert!(!lab.path().join("daemon.json.harbor-lab.bak").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn loopback_hostname_needs_the_override() {
    let lab = Lab::new();
    let cfg = lab.private_daemon_config("{}\n");
    let out = run(harbor_lab(lab.path())
        .env("HARBOR_LAB_CACHE", lab.path().join("cache"))
        .args([
            "install",
            "--hostname",
            "127.0.0.1",
            "--download-base",
            "http://127.0.0.1:9",
            "--daemon-config",
        ])
        .arg(&cfg)
        .arg("--workdir")
        .arg(lab.workdir()));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("--hostname 127.0.0.1 is refused"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--allow-loopback-hostname"),
        "{}",
        out.stderr
    );
    assert!(!lab.workdir().join("harbor").exists());
    // A refused command writes nothing: no workdir, no lock.
    assert!(
        !lab.workdir().exists(),
        "a refused install created the workdir"
    );
    // Nor does one refused for its --data-volume, or by preflight (a port in use).
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    for (port, extra) in [
        (free_port(), vec!["--data-volume", "/tmp/with space"]),
        (busy_port, vec![]),
    ] {
        let mut c = lab.install("http://127.0.0.1:9", port, &cfg, &extra);
        let out = run(&mut c);
        assert_ne!(out.code, 0, "{extra:?}: {}", out.stderr);
        assert!(
            !lab.workdir().exists(),
            "{extra:?}: the workdir was created"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_download_resumes_with_range() {
    let lab = Lab::new();
    // Pad the tarball so that "halfway" is a real cut.
    let mut entries: Vec<(String, Vec<u8>, u32)> = vec![
        (
            "harbor/install.sh".into(),
            FIXTURE_INSTALL.as_bytes().to_vec(),
            0o755,
        ),
        (
            "harbor/prepare".into(),
            FIXTURE_PREPARE.as_bytes().to_vec(),
            0o755,
        ),
        (
            "harbor/common.sh".into(),
            FIXTURE_COMMON.as_bytes().to_vec(),
            0o644,
        ),
        (
            "harbor/harbor.yml.tmpl".into(),
            FIXTURE_TEMPLATE.as_bytes().to_vec(),
            0o644,
        ),
    ];
    // Incompressible bytes (xorshift), so the partial file is megabytes: the
    // resumed attempt re-hashes it while the new bytes are being appended. 40 MiB,
    // so that both attempts pass the writer's 16 MiB early-writeback mark (the
    // resumed one at offsets past the cut).
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..40 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    entries.push(("harbor/LICENSE".into(), noise, 0o644));
    let refs: Vec<(&str, &[u8], u32)> = entries
        .iter()
        .map(|(p, d, m)| (p.as_str(), d.as_slice(), *m))
        .collect();
    let tarball = tgz(&refs);
    let asset = format!("/{TAG}/harbor-online-installer-{TAG}.tgz");
    let server = file_server(
        release_files(TAG, tarball.clone(), None),
        Some(asset.clone()),
    )
    .await;
    let cfg = lab.private_daemon_config("{}\n");
    let port = free_port();
    let out = run_blocking(lab.install(
        &format!("http://{}", server.addr),
        port,
        &cfg,
        &["--no-daemon-reload", "--json"],
    ))
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let reqs = server.requests();
    let ranged: Vec<_> = reqs
        .iter()
        .filter(|r| r.starts_with(&format!("GET {asset} range=")))
        .collect();
    assert_eq!(ranged.len(), 1, "{reqs:?}");
    let from: usize = ranged[0].rsplit('=').next().unwrap().parse().unwrap();
    assert!(from > 0 && from < tarball.len(), "{reqs:?}");
    let cached = std::fs::read(
        lab.path()
            .join("cache/downloads")
            .join(TAG)
            .join(format!("harbor-online-installer-{TAG}.tgz")),
    )
    .unwrap();
    assert_eq!(md5_hex(&cached), md5_hex(&tarball));
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let dl = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "download")
        .unwrap();
    assert!(dl["detail"].as_str().unwrap().contains("resumed"), "{dl}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_writes_nothing_and_shows_the_changes() {
    let lab = Lab::new();
    let tarball = lab.path().join("installer.tgz");
    std::fs::write(&tarball, fixture_installer()).unwrap();
    let cfg = lab.private_daemon_config("{\"debug\": true}\n");
    let pw = lab.path().join("admin-pw");
    std::fs::write(&pw, "Given4Admin\n").unwrap();
    let out = run(&mut lab.install(
        "http://127.0.0.1:9",
        free_port(),
        &cfg,
        &[
            "--dry-run",
            "--installer-file",
            tarball.to_str().unwrap(),
            "--admin-password-file",
            pw.to_str().unwrap(),
        ],
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("hostname: 127.0.0.1"),
        "the rendered harbor.yml is shown: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("harbor_admin_password: ********")
            && !format!("{}{}", out.stdout, out.stderr).contains("Given4Admin"),
        "the admin password is hidden: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("+  \"insecure-registries\""),
        "the daemon.json diff is shown: {}",
        out.stderr
    );
    assert!(!lab.workdir().exists(), "dry run created the workdir");
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        "{\"debug\": true}\n"
    );
}

/// Flags a user can get wrong: each is refused with exit 2 by a message that
/// names the flag, and nothing is written.
#[test]
fn bad_install_flags_name_themselves() {
    let lab = Lab::new();
    let cfg = lab.private_daemon_config("{}\n");
    let tarball = lab.path().join("installer.tgz");
    std::fs::write(&tarball, fixture_installer()).unwrap();
    let a_file = lab.path().join("a-file");
    std::fs::write(&a_file, "mine\n").unwrap();
    let install = |host: &str, port: &str, workdir: &Path, daemon_config: &Path| {
        run(harbor_lab(lab.path())
            .args(["install", "--yes", "--no-daemon-reload", "--installer-file"])
            .arg(&tarball)
            .args(["--hostname", host, "--allow-loopback-hostname"])
            .args(["--http-port", port])
            .arg("--workdir")
            .arg(workdir)
            .arg("--daemon-config")
            .arg(daemon_config))
    };
    let port = free_port().to_string();
    let work = lab.workdir();
    for (out, needle) in [
        (install("127.0.0.1", "0", &work, &cfg), "--http-port"),
        (install("::1", &port, &work, &cfg), "IPv6"),
        (install("127.0.0.1", &port, &a_file, &cfg), "--workdir"),
        (
            install("127.0.0.1", &port, &work, lab.path()),
            "--daemon-config",
        ),
    ] {
        assert_eq!(out.code, 2, "{needle}: {}", out.stderr);
        assert!(out.stderr.contains(needle), "{needle}: {}", out.stderr);
    }
    assert_eq!(std::fs::read_to_string(&a_file).unwrap(), "mine\n");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "{}\n");
    assert!(!work.join("harbor/harbor.yml").exists());
}

/// A local installer says which Harbor it is (its prepare script's image tag, else
/// its file name), so --harbor-version is not needed with it, and one that
/// contradicts the installer is refused.
#[test]
fn a_local_installer_brings_its_version() {
    let lab = Lab::new();
    let cfg = lab.private_daemon_config("{}\n");
    let port = free_port().to_string();
    let dry_run = |file: &Path, extra: &[&str]| {
        run(harbor_lab(lab.path())
            .args(["install", "--installer-file"])
            .arg(file)
            .args(["--hostname", "127.0.0.1", "--allow-loopback-hostname"])
            .args(["--http-port", &port])
            .arg("--workdir")
            .arg(lab.workdir())
            .arg("--daemon-config")
            .arg(&cfg)
            .args(["--dry-run", "--json"])
            .args(extra))
    };
    let version_of = |out: &Run| {
        assert_eq!(out.code, 0, "{}", out.stderr);
        let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        report["harbor_version"].as_str().unwrap().to_string()
    };

    // Named anyhow: the prepare script's goharbor/prepare:<tag> tells.
    let tagged = lab.path().join("installer.tgz");
    std::fs::write(&tagged, fixture_installer()).unwrap();
    assert_eq!(version_of(&dry_run(&tagged, &[])), TAG);
    let out = dry_run(&tagged, &["--harbor-version", "v2.15.1"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("--installer-file")
            && out.stderr.contains(&format!("holds Harbor {TAG}"))
            && out.stderr.contains("v2.15.1"),
        "{}",
        out.stderr
    );

    // A prepare script without the tag: Harbor's file name tells.
    let untagged_prepare: String = FIXTURE_PREPARE
        .lines()
        .filter(|l| !l.contains("goharbor/prepare:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let untagged = tgz(&[
        ("harbor/install.sh", FIXTURE_INSTALL.as_bytes(), 0o755),
        ("harbor/prepare", untagged_prepare.as_bytes(), 0o755),
        ("harbor/common.sh", FIXTURE_COMMON.as_bytes(), 0o644),
        ("harbor/harbor.yml.tmpl", FIXTURE_TEMPLATE.as_bytes(), 0o644),
    ]);
    let named = lab
        .path()
        .join(format!("harbor-offline-installer-{TAG}-amd64.tgz"));
    std::fs::write(&named, &untagged).unwrap();
    assert_eq!(version_of(&dry_run(&named, &[])), TAG);

    // Neither: the newest version's rules apply, and the refusal says what to do.
    let anonymous = lab.path().join("untagged.tgz");
    std::fs::write(&anonymous, &untagged).unwrap();
    let out = dry_run(&anonymous, &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--harbor-version"), "{}", out.stderr);
    assert_eq!(
        version_of(&dry_run(&anonymous, &["--harbor-version", TAG])),
        TAG
    );
    assert!(!lab.workdir().exists(), "a dry run created the workdir");
}

fn engine_info() -> serde_json::Value {
    let out = Command::new("/usr/bin/docker")
        .args(["info", "--format", "{{json .RegistryConfig}}"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The whole pipeline on the live dockerd: install, run again, status, down.
/// One test, because it changes the daemon config the test dockerd reads.
#[tokio::test(flavor = "multi_thread")]
async fn install_is_healthy_idempotent_and_down_restores_daemon_json() {
    let daemon_config = std::env::var("HARBOR_LAB_TEST_DAEMON_CONFIG")
        .ok()
        .filter(|v| !v.is_empty())
        .expect("scripts/services.sh starts dockerd with --config-file; run scripts/test.sh");
    let daemon_config = Path::new(&daemon_config).to_path_buf();
    let original = std::fs::read(&daemon_config).unwrap();
    let lab = Lab::new();
    let server = file_server(release_files(TAG, fixture_installer(), None), None).await;
    let base = format!("http://{}", server.addr);
    let port = free_port();

    // A container that runs before the install must still run after it.
    let ctx = harbor_lab::context::Context::from_os();
    let docker = harbor_lab::docker::engine::connect(&ctx).await.unwrap();
    let image = format!("{}/keepalive/{}", registry(), unique("c"));
    harbor_lab::docker::engine::import_rootfs(
        &docker,
        rootfs_tar("keepalive").into(),
        &image,
        "v1",
    )
    .await
    .unwrap();
    let cid = String::from_utf8(
        Command::new("/usr/bin/docker")
            .args([
                "run",
                "-d",
                "--rm",
                &format!("{image}:v1"),
                "/bin/sh",
                "-c",
                "sleep 300",
            ])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    assert!(!cid.is_empty());
    let started = |id: &str| {
        String::from_utf8(
            Command::new("/usr/bin/docker")
                .args([
                    "inspect",
                    "-f",
                    "{{.State.Running}} {{.State.StartedAt}}",
                    id,
                ])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
    };
    let before = started(&cid);

    // Harbor's own containers: the fixture's compose file runs one from this image.
    let fixture_image = format!("{}/fixture-log/{}:v1", registry(), unique("f"));
    let (fi_repo, fi_tag) = fixture_image.rsplit_once(':').unwrap();
    harbor_lab::docker::engine::import_rootfs(
        &docker,
        rootfs_tar("fixture-log").into(),
        fi_repo,
        fi_tag,
    )
    .await
    .unwrap();
    let fixture_running = || {
        String::from_utf8(
            Command::new("/usr/bin/docker")
                .args([
                    "ps",
                    "--filter",
                    "name=harbor-log-fixture",
                    "--format",
                    "{{.Names}}",
                ])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
        .contains("harbor-log-fixture")
    };

    let result = std::panic::AssertUnwindSafe(async {
        let out = tokio::task::spawn_blocking({
            let mut c = lab.install(&base, port, &daemon_config, &["--json"]);
            c.env("HARBOR_FIXTURE_IMAGE", &fixture_image);
            move || run(&mut c)
        })
        .await
        .unwrap();
        assert_eq!(out.code, 0, "{}", out.stderr);
        let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(report["harbor_url"], format!("http://127.0.0.1:{port}"));
        let health: serde_json::Value =
            reqwest::get(format!("http://127.0.0.1:{port}/api/v2.0/health"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        assert_eq!(health["status"], "healthy");
        // The engine now lists the registry as insecure, without a restart.
        let info = engine_info();
        assert_eq!(
            info["IndexConfigs"][format!("127.0.0.1:{port}")]["Secure"],
            false,
            "{info}"
        );
        assert_eq!(started(&cid), before, "the running container was disturbed");
        assert!(fixture_running(), "install.sh's compose up did not run");
        // Secrets: the admin password is 0600 and not in the output.
        let pw_file = lab.workdir().join("admin-password");
        let pw = std::fs::read_to_string(&pw_file).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&pw_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(!out.stdout.contains(pw.trim()) && !out.stderr.contains(pw.trim()));
        // The harbor.yml kept the installer's comments.
        let yml = std::fs::read_to_string(lab.workdir().join("harbor/harbor.yml")).unwrap();
        assert!(
            yml.contains("# workers in the job service") && yml.contains(&format!("port: {port}"))
        );

        // Again: no work, every step says it was skipped, nothing downloaded.
        let n = server.requests().len();
        let out = run_blocking(lab.install(&base, port, &daemon_config, &["--json"])).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(
            server.requests().len(),
            n,
            "the second run downloaded again"
        );
        let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        for s in report["steps"].as_array().unwrap() {
            // Nothing is done again: each step is skipped, or only checked.
            let want = if ["preflight", "host"].contains(&s["id"].as_str().unwrap()) {
                "checked"
            } else {
                "skipped"
            };
            assert_eq!(s["status"], want, "{s}");
        }
        assert!(out.stderr.contains("Skipping"), "{}", out.stderr);

        // status
        let st = run(harbor_lab(lab.path())
            .args(["status", "--json", "--workdir"])
            .arg(lab.workdir()));
        assert_eq!(st.code, 0, "{}", st.stderr);
        let st: serde_json::Value = serde_json::from_str(&st.stdout).unwrap();
        assert_eq!(st["harbor_answers"], true);

        // A concurrent run is refused by the lock.
        let lock = std::fs::File::options()
            .write(true)
            .open(lab.workdir().join(".lock"))
            .unwrap();
        lock.try_lock().unwrap();
        let out = run(&mut lab.install(&base, port, &daemon_config, &[]));
        assert_eq!(out.code, 3, "{}", out.stderr);
        assert!(
            out.stderr.contains("another harbor-lab run"),
            "{}",
            out.stderr
        );
        drop(lock);

        // down restores daemon.json byte for byte and reloads.
        let out = run(harbor_lab(lab.path())
            .args(["down", "--workdir"])
            .arg(lab.workdir()));
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(
            !fixture_running(),
            "down left Harbor's containers running: {}",
            out.stderr
        );
        assert_eq!(std::fs::read(&daemon_config).unwrap(), original);
        let mut gone = false;
        for _ in 0..50 {
            if engine_info()["IndexConfigs"]
                .get(format!("127.0.0.1:{port}"))
                .is_none()
            {
                gone = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(gone, "dockerd still lists the registry after down");
    })
    .catch_unwind_safe()
    .await;
    // Whatever happened, give the shared dockerd its config back.
    if std::fs::read(&daemon_config).unwrap() != original {
        std::fs::write(&daemon_config, &original).unwrap();
        if let Some(pid) = harbor_lab::docker::daemon_config::dockerd_for(&daemon_config) {
            let _ = harbor_lab::docker::daemon_config::sighup(pid);
        }
    }
    let _ = Command::new("/usr/bin/docker")
        .args(["rm", "-f", &cid])
        .output();
    let _ = Command::new("/usr/bin/docker")
        .args(["rm", "-f", "harbor-log-fixture"])
        .output();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_symlinked_daemon_json_is_written_through_and_down_keeps_the_link() {
    use std::os::unix::fs::MetadataExt;
    let lab = Lab::new();
    let server = file_server(release_files(TAG, fixture_installer(), None), None).await;
    // As config management leaves it: a link to a 0600 file owned by someone else.
    std::fs::create_dir(lab.path().join("managed")).unwrap();
    let target = lab.path().join("managed/daemon.json");
    let original = b"{\n  \"log-level\": \"warn\"\n}\n";
    std::fs::write(&target, original).unwrap();
    std::fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&target, Some(4242), Some(4243)).unwrap();
    let link = lab.path().join("daemon.json");
    std::os::unix::fs::symlink("managed/daemon.json", &link).unwrap();
    let check_target = |when: &str| {
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink(),
            "{when}: the link was replaced"
        );
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            Path::new("managed/daemon.json")
        );
        let m = std::fs::metadata(&target).unwrap();
        assert_eq!(
            (m.mode() & 0o7777, m.uid(), m.gid()),
            (0o600, 4242, 4243),
            "{when}"
        );
    };
    let port = free_port();
    let out = run_blocking(lab.install(
        &format!("http://{}", server.addr),
        port,
        &link,
        &["--no-daemon-reload"],
    ))
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    check_target("after install");
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(
        text.contains(&format!("127.0.0.1:{port}")) && text.contains("log-level"),
        "{text}"
    );
    let out = run(harbor_lab(lab.path())
        .args(["down", "--no-daemon-reload", "--workdir"])
        .arg(lab.workdir()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    check_target("after down");
    assert_eq!(std::fs::read(&target).unwrap(), original);
}

trait CatchUnwindSafe: std::future::Future + Sized {
    fn catch_unwind_safe(self) -> futures_util::future::CatchUnwind<Self>
    where
        Self: std::panic::UnwindSafe,
    {
        futures_util::FutureExt::catch_unwind(self)
    }
}
impl<F: std::future::Future> CatchUnwindSafe for F {}

/// What a user can do to an install: edit harbor.yml, break install.sh,
/// leave Harbor unhealthy, export `host`, and purge it all.
#[tokio::test(flavor = "multi_thread")]
async fn edited_config_failures_and_purge() {
    let lab = Lab::new();
    let server = file_server(release_files(TAG, fixture_installer(), None), None).await;
    let base = format!("http://{}", server.addr);
    let cfg = lab.private_daemon_config("{}\n");
    let port = free_port();
    let go = |extra: &[&str], env: &[(&str, &str)]| {
        let mut c = lab.install(
            &base,
            port,
            &cfg,
            &[&["--no-daemon-reload"], extra].concat(),
        );
        for (k, v) in env {
            c.env(k, v);
        }
        run(&mut c)
    };

    // install.sh fails: its ERROR lines and the log path are shown.
    let out = go(&[], &[("HARBOR_FIXTURE_FAIL", "port is already allocated")]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("port is already allocated"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&lab.workdir().join("install.log").display().to_string()),
        "{}",
        out.stderr
    );

    // Harbor comes up unhealthy: the timeout names the components.
    let out = go(
        &["--health-timeout", "2"],
        &[("HARBOR_DOUBLE_ARGS", "--unhealthy jobservice")],
    );
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.contains("unhealthy components: jobservice"),
        "{}",
        out.stderr
    );
    lab.kill_double();

    // An exported `host` must not reach install.sh (it would rewrite hostname).
    let out = go(&[], &[("host", "evil.invalid")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let yml_path = lab.workdir().join("harbor/harbor.yml");
    assert!(
        std::fs::read_to_string(&yml_path)
            .unwrap()
            .contains("hostname: 127.0.0.1\n")
    );

    // The user edits harbor.yml: never overwritten silently.
    let mine = std::fs::read_to_string(&yml_path)
        .unwrap()
        .replace("max_job_workers: 10", "max_job_workers: 3");
    std::fs::write(&yml_path, &mine).unwrap();
    // Without --yes and without a terminal: the one question, up front, is an
    // error; nothing is touched.
    let mut c = harbor_lab(lab.path());
    c.env("HARBOR_LAB_CACHE", lab.path().join("cache"))
        .arg("install");
    fixture_install_args(&mut c, &base, port, &lab.workdir(), &cfg);
    c.arg("--no-daemon-reload");
    let out = run(&mut c);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("harbor-lab install will:") && out.stderr.contains("--yes"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&yml_path).unwrap(), mine);
    // With --yes: the diff is shown and the user's version kept as a backup.
    let out = go(&[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("-  max_job_workers: 3")
            && out.stderr.contains("+  max_job_workers: 10"),
        "the diff is shown: {}",
        out.stderr
    );
    assert!(
        std::fs::read_to_string(&yml_path)
            .unwrap()
            .contains("max_job_workers: 10")
    );
    let backup = lab.workdir().join("harbor/harbor.yml.harbor-lab.bak");
    assert_eq!(
        std::fs::read_to_string(backup).unwrap(),
        mine,
        "the user's version is kept"
    );

    // down --purge asks first; without a terminal or --yes it deletes nothing.
    let out = run(harbor_lab(lab.path())
        .args(["down", "--purge", "--workdir"])
        .arg(lab.workdir()));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(lab.workdir().join("harbor").exists());
    lab.kill_double();
    let out = run(harbor_lab(lab.path())
        .args(["down", "--purge", "--yes", "--workdir"])
        .arg(lab.workdir()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        !lab.workdir().exists(),
        "the workdir (and its data volume) is gone"
    );
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        "{}\n",
        "daemon.json restored"
    );
}

/// The entries `install` adds for the fixture Harbor on `port`.
fn entry(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

fn down(lab: &Lab) -> Run {
    run(lab
        .plain()
        .args(["down", "--no-daemon-reload", "--workdir"])
        .arg(lab.workdir()))
}

const ORIGINAL: &str = "{\n    \"log-level\": \"warn\"\n}\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_kill_after_the_daemon_json_write_leaves_the_entry_known_as_ours() {
    let lab = Lab::new();
    let server = file_server(release_files(TAG, fixture_installer(), None), None).await;
    let base = format!("http://{}", server.addr);
    let cfg = lab.private_daemon_config(ORIGINAL);
    let port = free_port();
    // Killed (SIGKILL) right after daemon.json was written.
    let mut c = lab.install(&base, port, &cfg, &["--no-daemon-reload"]);
    c.env("HARBOR_LAB_FAULT", "daemon-config-written");
    let killed = tokio::task::spawn_blocking(move || run_within(&mut c, 120))
        .await
        .unwrap();
    assert_eq!(
        killed.code, -1,
        "not killed at the fault point: {}",
        killed.stderr
    );
    assert!(
        std::fs::read_to_string(&cfg)
            .unwrap()
            .contains(&entry(port))
    );
    // The re-run knows the entry is its own, and down takes it out.
    let mut c = lab.install(&base, port, &cfg, &["--no-daemon-reload"]);
    let again = tokio::task::spawn_blocking(move || run_within(&mut c, 120))
        .await
        .unwrap();
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stderr.contains("recorded now"), "{}", again.stderr);
    let out = down(&lab);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), ORIGINAL);
    assert!(!lab.path().join("daemon.json.harbor-lab.bak").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_labs_sharing_daemon_json_each_take_out_only_their_own_entry() {
    let (a, b) = (Lab::new(), Lab::new());
    let server = file_server(release_files(TAG, fixture_installer(), None), None).await;
    let base = format!("http://{}", server.addr);
    let cfg = a.private_daemon_config(ORIGINAL);
    let backup = a.path().join("daemon.json.harbor-lab.bak");
    let (pa, pb) = (free_port(), free_port());
    for (lab, port) in [(&a, pa), (&b, pb)] {
        let mut c = lab.install(&base, port, &cfg, &["--no-daemon-reload"]);
        let out = tokio::task::spawn_blocking(move || run_within(&mut c, 120))
            .await
            .unwrap();
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let out = down(&a);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        text.contains(&entry(pb)) && !text.contains(&entry(pa)),
        "down of A must leave B's entry: {text}"
    );
    assert!(backup.exists(), "the backup went while B's entry is there");
    let out = down(&b);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), ORIGINAL);
    assert!(!backup.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn down_keeps_edits_made_after_the_install_and_says_so() {
    let lab = Lab::new();
    let server = file_server(release_files(TAG, fixture_installer(), None), None).await;
    let cfg = lab.private_daemon_config(ORIGINAL);
    let port = free_port();
    let mut c = lab.install(
        &format!("http://{}", server.addr),
        port,
        &cfg,
        &["--no-daemon-reload"],
    );
    let out = tokio::task::spawn_blocking(move || run_within(&mut c, 120))
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    // An admin adds a mirror after the install.
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    v["registry-mirrors"] = serde_json::json!(["https://mirror.example.invalid"]);
    std::fs::write(&cfg, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let out = down(&lab);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    assert_eq!(
        after["registry-mirrors"],
        serde_json::json!(["https://mirror.example.invalid"]),
        "the admin's edit was lost"
    );
    assert_eq!(after["log-level"], "warn");
    assert!(after.get("insecure-registries").is_none(), "{after}");
    assert!(
        out.stderr.contains("changed after the install") && out.stderr.contains(&entry(port)),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn preflight_refuses_a_port_held_by_another_labs_harbor_and_names_it() {
    let (a, b) = (Lab::new(), Lab::new());
    let server = file_server(release_files(TAG, fixture_installer(), None), None).await;
    let base = format!("http://{}", server.addr);
    let port = free_port();
    let cfg_a = a.private_daemon_config(ORIGINAL);
    let mut c = a.install(&base, port, &cfg_a, &["--no-daemon-reload"]);
    let out = tokio::task::spawn_blocking(move || run_within(&mut c, 120))
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    // B on A's port: refused before anything is written, naming A's workdir.
    let cfg_b = b.private_daemon_config(ORIGINAL);
    for sub in ["preflight", "install"] {
        let mut c = b.install(&base, port, &cfg_b, &["--no-daemon-reload"]);
        if sub == "preflight" {
            c = b.plain();
            c.env("HARBOR_LAB_CACHE", b.path().join("cache"))
                .args([
                    "preflight",
                    "--hostname",
                    "127.0.0.1",
                    "--allow-loopback-hostname",
                ])
                .args(["--http-port", &port.to_string(), "--workdir"])
                .arg(b.workdir())
                .arg("--daemon-config")
                .arg(&cfg_b);
        }
        // Both labs share the machine's register of labs (in the cache).
        c.env("HARBOR_LAB_CACHE", a.path().join("cache"));
        let out = tokio::task::spawn_blocking(move || run_within(&mut c, 120))
            .await
            .unwrap();
        assert_eq!(out.code, 3, "{sub}: {}", out.stderr);
        let other = a.workdir().display().to_string();
        assert!(
            out.stderr.contains(&format!("another lab, in {other}"))
                && out
                    .stderr
                    .contains(&format!("harbor-lab down --workdir {other}")),
            "{sub}: {}",
            out.stderr
        );
        assert_eq!(std::fs::read_to_string(&cfg_b).unwrap(), ORIGINAL, "{sub}");
        assert!(!b.workdir().exists(), "{sub}: the workdir was created");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn down_takes_ups_flags_refuses_another_daemon_json_and_tells_if_harbor_still_answers() {
    let lab = Lab::new();
    let server = file_server(release_files(TAG, fixture_installer(), None), None).await;
    let base = format!("http://{}", server.addr);
    let cfg = lab.private_daemon_config(ORIGINAL);
    let port = free_port();
    let mut c = lab.install(&base, port, &cfg, &["--no-daemon-reload"]);
    let out = tokio::task::spawn_blocking(move || run_within(&mut c, 120))
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The up line retyped with another daemon.json: refused, naming both files.
    let other = lab.path().join("other-daemon.json");
    let mut c = lab.plain();
    c.arg("down");
    fixture_install_args(&mut c, &base, port, &lab.workdir(), &other);
    c.args([
        "--no-daemon-reload",
        "--image",
        "busybox:latest",
        "--yes",
        "--json",
    ]);
    let out = run_within(&mut c, 60);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(&other.display().to_string())
            && out.stderr.contains(&cfg.display().to_string()),
        "{}",
        out.stderr
    );
    assert_ne!(std::fs::read_to_string(&cfg).unwrap(), ORIGINAL, "touched");
    // The same line as the install: accepted.
    let mut c = lab.plain();
    c.arg("down");
    fixture_install_args(&mut c, &base, port, &lab.workdir(), &cfg);
    c.args([
        "--no-daemon-reload",
        "--image",
        "busybox:latest",
        "--yes",
        "--json",
    ]);
    let out = run_within(&mut c, 60);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["ok"], true);
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), ORIGINAL);
    // The fixture's Harbor (the double) is not a compose service: down says it
    // still answers instead of claiming it stopped it.
    assert!(
        out.stderr
            .contains(&format!("http://127.0.0.1:{port} still answers")),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("stopped Harbor"), "{}", out.stderr);
}

/// A Harbor that answers on the port but is not healthy is not "Harbor's own
/// port" for preflight either: preflight and install agree (one
/// `Health::is_healthy`), where preflight used to pass and install then
/// failed on its own port.
#[tokio::test(flavor = "multi_thread")]
async fn preflight_and_install_agree_on_an_unhealthy_harbor() {
    let lab = Lab::new();
    let cfg = lab.private_daemon_config("{}\n");
    let unhealthy =
        br#"{"status":"unhealthy","components":[{"name":"core","status":"unhealthy"}]}"#;
    let routes = std::collections::HashMap::from([(
        "/api/v2.0/health".to_string(),
        Reply::Body("application/json", unhealthy.to_vec()),
    )]);
    let harbor = fake_registry(routes, Reply::Status(404, String::new())).await;
    let port: u16 = harbor.addr.rsplit(':').next().unwrap().parse().unwrap();
    let port_check = format!("port-{port}");
    let (lab, cfg) = (std::sync::Arc::new(lab), std::sync::Arc::new(cfg));
    let (l, c) = (lab.clone(), cfg.clone());
    let pre = tokio::task::spawn_blocking(move || {
        run(l
            .plain()
            .args(["preflight", "--json", "--hostname", "127.0.0.1"])
            .args([
                "--allow-loopback-hostname",
                "--http-port",
                &port.to_string(),
            ])
            .arg("--workdir")
            .arg(l.workdir())
            .arg("--daemon-config")
            .arg(c.as_path()))
    })
    .await
    .unwrap();
    let report: serde_json::Value = serde_json::from_str(&pre.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == port_check.as_str())
        .unwrap_or_else(|| panic!("no {port_check} check: {report}"))
        .clone();
    assert_eq!(check["result"], "fail", "{check}");
    assert_eq!(pre.code, 3, "{}", pre.stderr);
    // install stops at the same check, before it writes anything.
    let (l, c) = (lab.clone(), cfg.clone());
    let inst = tokio::task::spawn_blocking(move || {
        run(&mut l.install(
            "http://127.0.0.1:9",
            port,
            c.as_path(),
            &["--no-daemon-reload"],
        ))
    })
    .await
    .unwrap();
    assert_eq!(inst.code, 3, "{}", inst.stderr);
    assert!(
        inst.stderr.contains(&format!("preflight {port_check}")),
        "{}",
        inst.stderr
    );
    assert_eq!(std::fs::read_to_string(cfg.as_path()).unwrap(), "{}\n");
    drop(harbor);
}

#[tokio::test(flavor = "multi_thread")]
async fn status_is_a_check_with_its_table_on_stdout() {
    let lab = Lab::new();
    let server = file_server(release_files(TAG, fixture_installer(), None), None).await;
    let cfg = lab.private_daemon_config(ORIGINAL);
    let port = free_port();
    let status = || run(lab.plain().args(["status", "--workdir"]).arg(lab.workdir()));
    let row = |out: &Run, id: &str| {
        out.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no {id} row: {}", out.stdout))
            .to_string()
    };
    // Not installed: exit 5, every row pending, the table on stdout.
    let out = status();
    assert_eq!(out.code, 5, "{}", out.stderr);
    for id in ["extract", "install", "health", "keys", "demo"] {
        assert!(row(&out, id).contains("pending"), "{}", out.stdout);
    }
    // Installed and healthy: exit 0.
    let mut c = lab.install(
        &format!("http://{}", server.addr),
        port,
        &cfg,
        &["--no-daemon-reload"],
    );
    let inst = tokio::task::spawn_blocking(move || run_within(&mut c, 120))
        .await
        .unwrap();
    assert_eq!(inst.code, 0, "{}", inst.stderr);
    let out = status();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(row(&out, "health").contains("done"), "{}", out.stdout);
    assert!(row(&out, "keys").contains("pending"), "{}", out.stdout);
    // Installed, but Harbor does not answer: exit 6.
    lab.kill_double();
    let out = status();
    assert_eq!(out.code, 6, "{}", out.stdout);
    // After down, the rows say so, and it is "not installed" again.
    let out = down(&lab);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = status();
    assert_eq!(out.code, 5, "{}", out.stdout);
    assert!(
        row(&out, "install").contains("taken down"),
        "{}",
        out.stdout
    );
    assert!(
        row(&out, "daemon-config").contains("taken out"),
        "{}",
        out.stdout
    );
    let json = run(lab
        .plain()
        .args(["status", "--json", "--workdir"])
        .arg(lab.workdir()));
    assert_eq!(json.code, 5);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        (v["ok"].clone(), v["installed"].clone()),
        (false.into(), false.into())
    );
    // A verdict that is not 0 is a failure like the others: `error` says it.
    assert_eq!(v["error"]["code"], 5, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not installed"),
        "{v}"
    );
}

/// `install --explain`: before each step, the manual command it replaces, as
/// the tutorial types it, pasteable as printed (no `***`: the admin password
/// is read from its file). A dry run shows them without changing anything.
#[tokio::test(flavor = "multi_thread")]
async fn install_explain_prints_the_manual_commands() {
    let lab = Lab::new();
    let cfg = lab.private_daemon_config("{}\n");
    let server = fixture_release().await;
    let port = free_port();
    let mut c = harbor_lab(lab.path());
    c.env("HARBOR_LAB_CACHE", lab.path().join("cache"))
        .arg("install");
    let base = format!("http://{}", server.addr);
    fixture_install_args(&mut c, &base, port, &lab.workdir(), &cfg);
    c.args(["--explain", "--dry-run"]);
    let out = run_blocking(c).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let admin = lab.workdir().join("admin-password");
    let wd = lab.workdir();
    for command in [
        "$ hostname -I".to_string(),
        format!("$ curl -fLO {base}/{FIXTURE_TAG}/harbor-online-installer-{FIXTURE_TAG}.tgz"),
        "md5sum -c --ignore-missing md5sum".to_string(),
        format!(
            "$ tar -xzf harbor-online-installer-{FIXTURE_TAG}.tgz -C {}",
            wd.display()
        ),
        format!("harbor_admin_password: $(cat {})/", admin.display()),
        format!("insecure-registries\" += [\"127.0.0.1:{port}\"]"),
        "$ kill -HUP $(pidof dockerd)".to_string(),
        format!("$ cd {} && ./install.sh", wd.join("harbor").display()),
        format!(
            "$ docker login 127.0.0.1:{port} -u admin --password-stdin < {}",
            admin.display()
        ),
    ] {
        assert!(
            out.stderr.contains(&command),
            "{command:?} missing: {}",
            out.stderr
        );
    }
    assert!(!out.stderr.contains("***"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "{}\n");
}
