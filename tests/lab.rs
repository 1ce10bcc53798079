//! The tutorial end to end: `up` against the fixture installer and the Harbor
//! API double in front of the real registry, real docker pushes and pulls,
//! judged afterwards by the real cosign.

mod support;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn up_tells_the_whole_story_then_does_nothing_again() {
    let lab = std::sync::Arc::new(Lab::new().with_story());
    let server = fixture_release().await;
    let base = format!("http://{}", server.addr);
    let port = free_port();

    let (l, b) = (lab.clone(), base.clone());
    let out = blocking(move || l.up(&b, port)).await.unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let demo = &report["demo"];
    assert_whole_story(demo);
    assert_eq!(
        demo["policy_message"], "The image is not signed in Cosign.",
        "{demo}"
    );
    // Harbor v2.7.1 counts only the legacy `.sig` layout.
    assert_eq!(demo["signature_format"], "legacy", "{demo}");
    assert_eq!(report["registry"], format!("127.0.0.1:{port}"));
    let public = PathBuf::from(report["public_key"].as_str().unwrap());
    assert!(public.exists());
    // The --json contract: ok and version at the top, the generated key
    // password's file named, no internal fields.
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        report["key_password_file"],
        lab.workdir().join("cosign.password").display().to_string()
    );
    assert!(!out.stdout.contains("fingerprint"), "{}", out.stdout);
    // Install and demo steps share one shape.
    let install_steps = report["install"]["steps"].as_array().unwrap();
    for s in install_steps
        .iter()
        .chain(demo["steps"].as_array().unwrap())
    {
        assert_step_shape(s);
    }
    // The summary says what to do next and where the logs are (the human
    // summary: a run without --json; everything is done, so it is quick).
    // With --explain: every step done already, the manual commands are shown
    // all the same (the tamper and policy ones too), pasteable (no `***`).
    let mut c = lab.cmd("up");
    lab.install_args(&mut c, &base, port);
    lab.story_args(&mut c);
    c.args(["--yes", "--explain"]);
    let human = run(&mut c);
    assert_eq!(human.code, 0, "{}", human.stderr);
    let admin_file = lab.workdir().join("admin-password");
    for command in [
        format!(
            "$ cosign generate-key-pair --output-key-prefix {}",
            lab.workdir().join("cosign").display()
        ),
        "# a different image, same tag".to_string(),
        format!("$ curl -u \"admin:$(cat {})\" -X PUT", admin_file.display()),
        "enable_content_trust_cosign".to_string(),
        "# unsigned: refused".to_string(),
        "$ hostname -I".to_string(),
        "$ docker tag ".to_string(),
        "?with_accessory=true".to_string(),
        format!(
            "$ cosign verify --key {} --insecure-ignore-tlog",
            lab.workdir().join("cosign.pub").display()
        ),
    ] {
        assert!(
            human.stderr.contains(&command),
            "{command:?} missing: {}",
            human.stderr
        );
    }
    assert!(!human.stderr.contains("***"), "{}", human.stderr);
    for next in [
        format!("docker login 127.0.0.1:{port} -u admin --password-stdin < "),
        format!("harbor-lab status --workdir {}", lab.workdir().display()),
        format!("harbor-lab down --workdir {}", lab.workdir().display()),
        format!(
            "{} (install.sh)",
            lab.workdir().join("install.log").display()
        ),
        "/var/log/harbor (Harbor's containers)".to_string(),
    ] {
        assert!(
            human.stderr.contains(&next),
            "{next:?} missing: {}",
            human.stderr
        );
    }
    // Secrets never appear in the report.
    let admin = std::fs::read_to_string(lab.workdir().join("admin-password")).unwrap();
    let keypw = std::fs::read_to_string(lab.workdir().join("cosign.password")).unwrap();
    assert!(!out.stdout.contains(admin.trim()) && !out.stdout.contains(keypw.trim()));
    assert!(!out.stderr.contains(admin.trim()) && !out.stderr.contains(keypw.trim()));
    use std::os::unix::fs::PermissionsExt;
    for f in ["admin-password", "cosign.password", "cosign.key"] {
        let mode = std::fs::metadata(lab.workdir().join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
    // Harbor's API agrees: the artifact has a signature.cosign accessory.
    let digest = demo["digest"].as_str().unwrap().to_string();
    let name = lab.image.split(':').next().unwrap().to_string();
    let art: serde_json::Value = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/v2.0/projects/library/repositories/{name}/artifacts/{digest}?with_accessory=true"))
        .basic_auth("admin", Some(admin.trim()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(art["accessories"][0]["type"], "signature.cosign", "{art}");

    // The real cosign accepts the demo image with the lab's public key.
    let image = format!("127.0.0.1:{port}/library/{}", lab.image);
    let home = lab.path().to_path_buf();
    let (pubc, img) = (public.clone(), image.clone());
    let c = blocking(move || {
        run(cosign(&home)
            .args([
                "verify",
                "--insecure-ignore-tlog=true",
                "--allow-insecure-registry",
                "--key",
            ])
            .arg(&pubc)
            .arg(&img))
    })
    .await
    .unwrap();
    assert_eq!(c.code, 0, "cosign: {}", c.stderr);
    assert!(c.stdout.contains(&digest));

    // Again: every step is already done, nothing is pushed, same answers.
    let (l, b) = (lab.clone(), base.clone());
    let again = blocking(move || l.up(&b, port)).await.unwrap();
    assert_eq!(again.code, 0, "{}", again.stderr);
    let r2: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert_nothing_done_again(&r2);
    let steps = r2["demo"]["steps"].as_array().unwrap();
    let detail = |n: &str| step_detail(&r2["demo"], n);
    // What Harbor says now (its API: signed), the first run's "not signed"
    // labelled as a replay; the key was never opened.
    let unsigned = detail("show-unsigned");
    assert!(
        unsigned.contains("now: signed by cosign") && unsigned.contains("replayed"),
        "{unsigned}"
    );
    assert!(
        detail("sign").contains("was not opened"),
        "{}",
        detail("sign")
    );
    // The freshness act (a push, a signature, a timestamp left to expire) is
    // replayed, not acted again; its findings stay in the report.
    assert!(
        detail("freshness").starts_with("replayed from an earlier run"),
        "{}",
        detail("freshness")
    );
    assert!(!steps.iter().any(|s| s["id"] == "tuf-update"), "{r2}");
    assert_eq!(r2["demo"]["freshness_rollback_caught"], true, "{r2}");
    assert!(
        !again.stderr.contains("Pushing signature"),
        "{}",
        again.stderr
    );
    assert_same_answers(&r2["demo"], demo);
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_harbor_mid_demo_names_the_step_and_up_finishes() {
    let lab = std::sync::Arc::new(Lab::new().with_story());
    let server = fixture_release().await;
    let base = format!("http://{}", server.addr);
    let port = free_port();
    let mut c = lab.cmd("install");
    lab.install_args(&mut c, &base, port);
    c.arg("--yes");
    let out = run(&mut c);
    assert_eq!(out.code, 0, "{}", out.stderr);

    // --pull never with an image the engine does not have: a usage error.
    let absent = format!("{}:v1", unique("absent"));
    let out = run(lab
        .cmd("demo")
        .arg("--workdir")
        .arg(lab.workdir())
        .args(["--image", &absent, "--pull", "never"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("--pull never") && out.stderr.contains(&absent),
        "{}",
        out.stderr
    );

    // Start the demo and kill Harbor as soon as the first step is through.
    let mut c = lab.cmd("demo");
    c.arg("--workdir")
        .arg(lab.workdir())
        .args(["--explain", "--json"]);
    lab.story_args(&mut c);
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("connect:") {
            lab.kill_double();
        }
    }
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the demo succeeded without Harbor: {seen}"
    );
    // One --json document all the same: the error, and the steps done so
    // far, the one that failed last.
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["ok"], false, "{doc}");
    assert_eq!(doc["error"]["code"], status.code().unwrap(), "{doc}");
    let steps = doc["steps"].as_array().unwrap();
    assert_eq!(steps[0]["id"], "connect", "{doc}");
    assert_eq!(steps[0]["status"], "ok", "{doc}");
    let last = steps.last().unwrap();
    assert_eq!(last["status"], "failed", "{doc}");
    assert!(
        last["detail"].as_str().unwrap().contains("demo step "),
        "{doc}"
    );
    steps.iter().for_each(assert_step_shape);
    assert!(
        seen.contains("demo step "),
        "the error names the step: {seen}"
    );
    assert!(
        seen.contains(&format!("127.0.0.1:{port}")),
        "the error names the server: {seen}"
    );

    // `up` afterwards finishes the job.
    let (l, b) = (lab.clone(), base.clone());
    let out = blocking(move || l.up(&b, port)).await.unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["demo"]["verified"], true);
    assert_eq!(report["demo"]["unsigned_pull_blocked"], true);
}

/// The one step shape of every report: `{id, status, detail}`.
fn assert_step_shape(s: &serde_json::Value) {
    let mut keys: Vec<&String> = s.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["detail", "id", "status"], "{s}");
}

/// `up --json` that fails: one document with `ok: false`, the error, and the
/// steps done so far where a finished `up` reports them (`install.steps`),
/// the failed one last.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_up_reports_the_steps_done_so_far() {
    let lab = Lab::new();
    // A release server that has nothing: the download step fails (404).
    let empty = file_server(Default::default(), None).await;
    let mut c = lab.cmd("up");
    lab.install_args(&mut c, &format!("http://{}", empty.addr), free_port());
    c.args(["--yes", "--json"]);
    let out = run_blocking(c).await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["ok"], false, "{doc}");
    assert_eq!(doc["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["error"]["code"], 4, "{doc}");
    let steps = doc["install"]["steps"].as_array().unwrap();
    assert_eq!(steps[0]["id"], "preflight", "{doc}");
    assert_eq!(steps[0]["status"], "checked", "{doc}");
    let last = steps.last().unwrap();
    assert_eq!(
        (&last["id"], &last["status"]),
        (&"download".into(), &"failed".into()),
        "{doc}"
    );
    steps.iter().for_each(assert_step_shape);
    assert!(doc["demo"].is_null(), "{doc}");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_terminal_and_no_yes_is_an_error_not_a_hang() {
    let lab = Lab::new().with_story();
    let mut c = lab.cmd("up");
    lab.install_args(&mut c, "http://127.0.0.1:9", free_port());
    let out = run(&mut c);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    assert!(
        !lab.workdir().exists(),
        "nothing may change before the confirmation"
    );
}

/// The double, checked the other way round: the real cosign signs and
/// verifies through it, and its API reports what Harbor would.
#[tokio::test(flavor = "multi_thread")]
async fn real_cosign_signs_and_verifies_through_the_double() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_path_buf();
    // Killed when dropped, a failed assertion included.
    let d = double(&h, "v2.9.0").await;
    let host = d.host.clone();
    let creds = harbor_lab::docker::engine::credentials(&host, "admin", DOUBLE_PW);
    let (image, digest) = push_new_image_as(
        &host,
        &format!("library/{}", unique("via-double")),
        "v1",
        Some(creds.clone()),
    )
    .await;
    let repo = image.trim_end_matches(":v1").to_string();
    let ctx = harbor_lab::context::Context::from_os();
    let docker = harbor_lab::docker::engine::connect(&ctx).await.unwrap();
    // Unauthenticated pushes get Harbor's challenge.
    let r = reqwest::Client::new()
        .put(format!("http://{host}/v2/library/x/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("service=\"harbor-registry\"")
    );

    let out = run(cosign(&h)
        .args(["generate-key-pair"])
        .env("COSIGN_PASSWORD", "k"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = run(cosign_sign_command(&h, "cosign.key", "k", &image, &[])
        .env("DOCKER_CONFIG", h.join(".docker")));
    assert_eq!(
        out.code, 0,
        "cosign sign through the double: {}",
        out.stderr
    );
    let out = run(cosign(&h)
        .args([
            "verify",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog=true",
            "--allow-insecure-registry",
            &image,
        ])
        .env("DOCKER_CONFIG", h.join(".docker")));
    assert_eq!(
        out.code, 0,
        "cosign verify through the double: {}",
        out.stderr
    );
    let ours = run(harbor_lab(&h)
        .args(["verify", "--key", "cosign.pub", &image])
        .env("DOCKER_CONFIG", h.join(".docker")));
    assert_eq!(ours.code, 0, "{}", ours.stderr);

    // Harbor's view: signed by cosign, signature hidden from the list.
    let api =
        harbor_lab::harbor::client::Harbor::new(&format!("http://{host}"), "admin", DOUBLE_PW)
            .unwrap();
    let name = repo.rsplit('/').next().unwrap();
    let arts = api.artifacts("library", name).await.unwrap();
    assert_eq!(arts.len(), 1, "{arts:?}");
    assert_eq!(arts[0].digest, digest);
    assert!(arts[0].cosign_signed());
    // Enforcement: 412 with v2.9's message on an unsigned manifest.
    api.set_cosign_enforcement("library", true).await.unwrap();
    let (other, _) = push_new_image_as(
        &host,
        &format!("library/{}", unique("unsigned")),
        "v1",
        Some(creds.clone()),
    )
    .await;
    let err = harbor_lab::docker::engine::pull(
        &docker,
        &harbor_lab::ui::Reporter::silent(),
        &harbor_lab::registry::Reference::parse(&other).unwrap(),
        Some(creds.clone()),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("The image is not signed by cosign."),
        "{err}"
    );
    harbor_lab::docker::engine::pull(
        &docker,
        &harbor_lab::ui::Reporter::silent(),
        &harbor_lab::registry::Reference::parse(&image).unwrap(),
        Some(creds),
    )
    .await
    .unwrap();
    // A basic-auth write that carries Harbor's session cookie is a CSRF 403.
    let r = reqwest::Client::new()
        .put(format!("http://{host}/api/v2.0/projects/library"))
        .basic_auth("admin", Some(DOUBLE_PW))
        .header("Cookie", "sid=abc")
        .body("{\"metadata\":{}}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Duplicate projects: 409 with Harbor's message.
    assert_eq!(
        api.create_project("library", true).await.unwrap(),
        harbor_lab::harbor::client::Created::Exists
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_pulls_or_loads_its_image_and_reports_json() {
    let lab = std::sync::Arc::new(Lab::new().with_story());
    let server = fixture_release().await;
    let base = format!("http://{}", server.addr);
    let port = free_port();
    let mut c = lab.cmd("install");
    lab.install_args(&mut c, &base, port);
    c.arg("--yes");
    let out = run(&mut c);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let harbor = format!("http://127.0.0.1:{port}");
    let pwfile = lab.workdir().join("admin-password");

    // --pull always: a real pull through dockerd (from the loopback registry).
    let (source, _) = push_new_image(&registry(), &format!("pullsrc/{}", unique("p")), "v1").await;
    let out = run(lab
        .cmd("demo")
        .args(["--harbor-url", &harbor, "--harbor-password-file"])
        .arg(&pwfile)
        .arg("--workdir")
        .arg(lab.workdir())
        .args([
            "--image",
            &source,
            "--pull",
            "always",
            "--project",
            "pulled",
            "--json",
        ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    for k in ["harbor_url", "image", "digest", "public_key", "steps"] {
        assert!(!r[k].is_null(), "{k} missing: {r}");
    }
    assert_eq!(r["harbor_url"], harbor.as_str());
    assert!(
        r["image"]
            .as_str()
            .unwrap()
            .starts_with(&format!("127.0.0.1:{port}/pulled/"))
    );
    assert!(r["steps"].as_array().unwrap().iter().any(|s| {
        s["id"] == "connect"
            && s["status"] == "ok"
            && s["detail"]
                .as_str()
                .unwrap()
                .contains("created project pulled")
    }));
    for k in [
        "signed_after",
        "verified",
        "tamper_detected",
        "unsigned_pull_blocked",
        "signed_pull_allowed",
    ] {
        assert_eq!(r[k], true, "{k}: {r}");
    }
    assert_eq!(r["signed_before"], false);

    // --image-file with a `docker save` archive (loaded, not imported).
    let saved = lab.path().join("saved.tar");
    let st = Command::new("/usr/bin/docker")
        .args(["save", "-o"])
        .arg(&saved)
        .arg(&source)
        .status()
        .unwrap();
    assert!(st.success());
    let _ = Command::new("/usr/bin/docker")
        .args(["rmi", "-f", &source])
        .output();
    let out = run(lab
        .cmd("demo")
        .arg("--workdir")
        .arg(lab.workdir())
        .args(["--image", &source, "--image-file"])
        .arg(&saved)
        .args(["--project", "loaded", "--json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r2: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    // The same image, so the same digest, now in another project.
    assert_eq!(r2["digest"], r["digest"]);
    assert_eq!(r2["verified"], true);
    // The demo ends with its result lines, even with --quiet.
    let quiet = run(lab
        .cmd("demo")
        .arg("--workdir")
        .arg(lab.workdir())
        .args(["--image", &source, "--image-file"])
        .arg(&saved)
        .args(["--project", "loaded", "--quiet"]));
    assert_eq!(quiet.code, 0, "{}", quiet.stderr);
    assert!(
        quiet.stderr.contains("Signed by cosign in Harbor: yes")
            && quiet.stderr.contains("tamper caught: yes")
            && quiet.stderr.contains("harbor-lab verify --key"),
        "{}",
        quiet.stderr
    );

    // What the user gave is wrong: exit 2, and the message names the flag.
    let garbage = lab.path().join("garbage.tar");
    std::fs::write(&garbage, b"not a tarball at all\n").unwrap();
    let wrong_pw = lab.path().join("wrong-password");
    std::fs::write(&wrong_pw, "not-the-admin-password\n").unwrap();
    let demo = |pw: &Path, image_file: &Path| {
        run(lab
            .cmd("demo")
            .args(["--harbor-url", &harbor, "--harbor-password-file"])
            .arg(pw)
            .arg("--workdir")
            .arg(lab.workdir())
            .args(["--image", &source, "--project", "loaded", "--image-file"])
            .arg(image_file))
    };
    for (out, flag) in [
        (demo(&pwfile, &garbage), "--image-file"),
        (demo(&wrong_pw, &saved), "--harbor-password-file"),
    ] {
        assert_eq!(out.code, 2, "{flag}: {}", out.stderr);
        assert!(out.stderr.contains(flag), "{flag}: {}", out.stderr);
    }
}

fn docker_cli(args: &[&str]) -> String {
    let out = Command::new("/usr/bin/docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn image_id(name: &str) -> String {
    docker_cli(&["image", "inspect", "-f", "{{.Id}}", name])
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_file_never_replaces_the_users_image_and_keeps_its_cmd() {
    let lab = std::sync::Arc::new(Lab::new().with_story());
    let server = fixture_release().await;
    let base = format!("http://{}", server.addr);
    let port = free_port();
    let mut c = lab.cmd("install");
    lab.install_args(&mut c, &base, port);
    c.arg("--yes");
    let out = run(&mut c);
    assert_eq!(out.code, 0, "{}", out.stderr);

    // A `docker save` archive of an image with a CMD, tagged with the name the
    // user's own image has; then the user's image (another one) takes that name.
    let user = format!("{}:latest", unique("users-image"));
    let rootfs = lab.path().join("rootfs.tar");
    std::fs::write(&rootfs, rootfs_tar(&unique("file"))).unwrap();
    let rootfs_s = rootfs.display().to_string();
    docker_cli(&[
        "import",
        "--change",
        r#"CMD ["/bin/busybox", "echo", "from the file"]"#,
        &rootfs_s,
        &user,
    ]);
    let saved = lab.path().join("saved.tar");
    docker_cli(&["save", "-o", &saved.display().to_string(), &user]);
    let mine = lab.path().join("mine.tar");
    std::fs::write(&mine, rootfs_tar(&unique("mine"))).unwrap();
    docker_cli(&["import", &mine.display().to_string(), &user]);
    let users_id = image_id(&user);

    for (file, project) in [(&saved, "saved"), (&rootfs, "rootfs")] {
        let out = run(lab
            .cmd("demo")
            .arg("--workdir")
            .arg(lab.workdir())
            .args(["--image", &user, "--project", project, "--image-file"])
            .arg(file));
        assert_eq!(out.code, 0, "{project}: {}", out.stderr);
        assert_eq!(
            image_id(&user),
            users_id,
            "{project}: the user's {user} was replaced"
        );
    }
    // The loaded archive kept its CMD on the way to Harbor.
    let name = user.split(':').next().unwrap();
    let pushed = format!("127.0.0.1:{port}/saved/{name}:latest");
    assert_eq!(
        docker_cli(&["image", "inspect", "-f", "{{json .Config.Cmd}}", &pushed]),
        r#"["/bin/busybox","echo","from the file"]"#
    );
    for image in [
        user.clone(),
        pushed,
        format!("harbor-lab-demo/{name}:latest"),
        format!("127.0.0.1:{port}/rootfs/{name}:latest"),
    ] {
        let _ = Command::new("/usr/bin/docker")
            .args(["rmi", "-f", &image])
            .output();
    }
}

#[test]
fn ctrl_c_says_how_to_resume_and_exits_130_with_one_json_document() {
    // A "Harbor" that accepts the connection and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let lab = Lab::new();
    let pw = lab.path().join("pw");
    std::fs::write(&pw, "x\n").unwrap();
    let child = lab
        .plain()
        .args([
            "--json",
            "demo",
            "--harbor-url",
            &format!("http://127.0.0.1:{port}"),
        ])
        .arg("--harbor-password-file")
        .arg(&pw)
        .arg("--workdir")
        .arg(lab.workdir())
        .env("COSIGN_PASSWORD", "x")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once it is waiting on Harbor, interrupt it as Ctrl-C would.
    let (_conn, _) = silent.accept().unwrap();
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the interrupted run ends")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted; run the same command again to resume"),
        "{stderr}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["error"]["code"], 130);
}

#[test]
fn the_plan_shows_the_detected_host_ip() {
    let lab = Lab::new();
    lab.private_daemon_config("{}\n");
    // No --hostname; no terminal and no --yes: the plan, then a refusal, before
    // any traffic.
    let out = run(lab
        .plain()
        .args([
            "up",
            "--download-base",
            "http://127.0.0.1:9",
            "--http-port",
            "8089",
        ])
        .arg("--workdir")
        .arg(lab.workdir())
        .arg("--daemon-config")
        .arg(lab.path().join("daemon.json")));
    assert_eq!(out.code, 3, "{}", out.stderr);
    let ip = harbor_lab::net::detect_host_ip().unwrap();
    assert!(
        out.stderr.contains(&format!("http://{ip}:8089")),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("first IPv4 address"), "{}", out.stderr);
}

/// Issue 8: a workdir made by the harbor-lab of da58c46 resumes with this
/// version. tests/fixtures/compat-da58c46.tgz is what that binary's `up` left
/// (made once by tests/fixtures/compat-da58c46.sh: its journal's fingerprints
/// come from the old code, none is computed here). The test puts it back
/// exactly where it was made (the fingerprints name its paths, port and
/// image), puts what the old demo pushed back in the registry, starts the
/// Harbor double the old install started and the release server it
/// downloaded from, and runs this version's `up` with the old command line:
/// every finished step is skipped, nothing is downloaded, install.sh does not
/// run, nothing is pushed or signed again.
#[tokio::test(flavor = "multi_thread")]
async fn a_workdir_made_by_da58c46_resumes_with_every_finished_step_skipped() {
    use harbor_lab::registry::Reference;
    use serde_json::Value;
    const ROOT: &str = "/tmp/compat-da58c46";
    const PORT: u16 = 41329;
    const NS: &str = "compat-da58c46";
    // The directory and the port are fixed: one run at a time on a machine.
    let guard = std::fs::File::create("/tmp/compat-da58c46.lock").unwrap();
    guard.lock().unwrap();
    let root = Path::new(ROOT);
    let _ = std::fs::remove_dir_all(root);
    let tgz = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compat-da58c46.tgz"),
    )
    .unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(tgz.as_slice()));
    ar.set_preserve_permissions(true);
    ar.unpack("/tmp").unwrap();
    let read_json = |p: &str| -> Value {
        serde_json::from_slice(&std::fs::read(root.join(p)).unwrap()).unwrap()
    };
    // The download record stamps the cached installer's size and mtime (ns).
    let ns: u64 = std::fs::read_to_string(root.join("cache-mtime-ns"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::fs::File::options()
        .write(true)
        .open(root.join("cache/downloads/v2.7.1/harbor-online-installer-v2.7.1.tgz"))
        .unwrap()
        .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns))
        .unwrap();
    // The release server the old up downloaded from, on its port again.
    let release = dir_files(&root.join("release/v2.7.1"), "/v2.7.1");
    let server = file_server_on("127.0.0.1:41330", release, None).await;

    // What the old demo pushed: the image at v1 and its `.sig`.
    let repo = Reference::parse(&format!("{}/{NS}/library/hl-compat:v1", registry())).unwrap();
    let c = client();
    for e in std::fs::read_dir(root.join("registry/blobs")).unwrap() {
        let e = e.unwrap();
        let digest = e.file_name().to_string_lossy().replacen('-', ":", 1);
        let data = std::fs::read(e.path()).unwrap();
        c.put_blob(&repo, &digest, data.into()).await.unwrap();
    }
    let pushed = read_json("registry/index.json");
    for m in pushed.as_array().unwrap() {
        let bytes =
            std::fs::read(root.join("registry").join(m["manifest"].as_str().unwrap())).unwrap();
        let d = c
            .put_manifest(
                &repo.with_tag(m["tag"].as_str().unwrap()),
                bytes.into(),
                m["media_type"].as_str().unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(d, m["digest"].as_str().unwrap());
    }

    // Harbor as the old install left it running: the double on the journal's port.
    drop(
        std::net::TcpListener::bind(("127.0.0.1", PORT)).unwrap_or_else(|e| {
            panic!("127.0.0.1:{PORT} must be free (the old journal names it): {e}")
        }),
    );
    struct Double(std::process::Child);
    impl Drop for Double {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _double = Double(
        Command::new(harbor_double_bin())
            .args([
                "--listen",
                &format!("127.0.0.1:{PORT}"),
                "--public-url",
                &format!("http://127.0.0.1:{PORT}"),
                "--upstream",
                &format!("http://{}", registry()),
                "--namespace",
                NS,
                "--version",
                FIXTURE_TAG,
                "--admin-password-file",
            ])
            .arg(root.join("work/data/admin-password"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let health = format!("http://127.0.0.1:{PORT}/api/v2.0/health");
    let mut up = false;
    for _ in 0..100 {
        if reqwest::get(&health).await.is_ok_and(|r| r.status() == 200) {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "the Harbor double did not answer at {health}");

    let old = read_json("work/state.json");
    let install_log = std::fs::read(root.join("work/install.log")).unwrap();
    // The old command line, from the same directory. With the double's
    // environment: had install.sh run, it would have started a double of its
    // own and written work/data/double.pid.
    let mut cmd = harbor_lab_with_double(root, NS);
    cmd.arg("up");
    fixture_install_args(
        &mut cmd,
        &format!("http://{}", server.addr),
        PORT,
        Path::new("work"),
        Path::new("daemon.json"),
    );
    cmd.args(["--no-daemon-reload", "--health-timeout", "30"])
        .args(["--image", "hl-compat:v1", "--image-file", "image.tar"])
        .args(["--yes", "--json"]);
    let out = run_blocking(cmd).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();

    // Nothing done again: install's steps skipped, the demo's acts not redone.
    assert_nothing_done_again(&r);
    // No download: the cached installer is trusted without a request.
    assert_eq!(server.requests(), Vec::<String>::new());
    assert!(
        !root.join("work/data/double.pid").exists(),
        "install.sh ran again: {}",
        out.stderr
    );
    assert_eq!(
        std::fs::read(root.join("work/install.log")).unwrap(),
        install_log
    );
    assert_eq!(
        std::fs::read_to_string(root.join("daemon.json.harbor-lab.bak")).unwrap(),
        "{}\n",
        "the user's daemon.json backup is the original"
    );
    // The old journal's records stand: the same fingerprints, and extract and
    // install not recorded again (health is re-checked, so it is re-stamped).
    let new = read_json("work/state.json");
    for id in ["download", "extract", "install"] {
        assert_eq!(new["steps"][id], old["steps"][id], "{id}");
    }
    assert_eq!(
        new["steps"]["health"]["fingerprint"],
        old["steps"]["health"]["fingerprint"]
    );

    // The demo's answers are the old journal's.
    assert_same_answers(&r["demo"], &old["demo"]);
    // No second signature: the `.sig` is the old one.
    let sig = &pushed[1];
    let m = c
        .get_manifest(&repo.with_tag(sig["tag"].as_str().unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.digest, sig["digest"].as_str().unwrap());
    let _ = std::fs::remove_dir_all(root);
}
