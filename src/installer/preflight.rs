//! Preflight: can this machine run Harbor? Each check says how to fix itself.

use std::net::TcpListener;
use std::path::Path;

use serde::Serialize;

use crate::context::Context;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Check {
    pub name: String,
    /// "ok", "warn" or "fail".
    pub result: String,
    pub detail: String,
    /// How to fix it (empty when ok).
    pub fix: String,
}

fn check(name: &str, result: &str, detail: String, fix: &str) -> Check {
    Check {
        name: name.into(),
        result: result.into(),
        detail,
        fix: fix.into(),
    }
}

/// What preflight needs to know.
pub struct Inputs<'a> {
    pub http_port: u16,
    /// Whose Harbor, if any, answers on the port: this lab's (a re-run) may
    /// hold it; another lab's may not.
    pub port_owner: crate::labs::PortOwner,
    /// `--tls`: Harbor's HTTPS port.
    pub https_port: Option<u16>,
    pub data_volume: &'a Path,
    pub daemon_config: &'a Path,
    /// Oldest Docker engine accepted (`versions::MIN_DOCKER`, the same for
    /// every Harbor version we support).
    pub min_docker: (u32, u32),
}

pub async fn run(ctx: &Context, inputs: &Inputs<'_>) -> Vec<Check> {
    let mut out = Vec::new();
    // Docker engine.
    match crate::docker::engine::connect(ctx).await {
        Ok(docker) => match docker.version().await {
            Ok(v) => {
                let version = v.version.unwrap_or_default();
                let mut parts = version
                    .split(['.', '-', '+'])
                    .map(|p| p.parse::<u32>().unwrap_or(0));
                let have = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
                if have >= inputs.min_docker {
                    out.push(check(
                        "docker",
                        "ok",
                        format!("Docker engine {version}"),
                        "",
                    ));
                } else {
                    out.push(check(
                        "docker",
                        "fail",
                        format!(
                            "Docker engine {version} is older than {}.{}",
                            inputs.min_docker.0, inputs.min_docker.1
                        ),
                        "upgrade Docker (apt-get install docker.io)",
                    ));
                }
            }
            Err(e) => out.push(check(
                "docker",
                "fail",
                e.to_string(),
                "start dockerd, or set DOCKER_HOST",
            )),
        },
        Err(e) => out.push(check(
            "docker",
            "fail",
            e.to_string(),
            "install Docker (apt-get install docker.io) and start it (systemctl start docker)",
        )),
    }
    // Compose: the v2 plugin or docker-compose v1.
    let plugin = [
        "/usr/libexec/docker/cli-plugins/docker-compose",
        "/usr/lib/docker/cli-plugins/docker-compose",
        "/usr/local/lib/docker/cli-plugins/docker-compose",
    ]
    .iter()
    .any(|p| Path::new(p).is_file())
        || ctx
            .home()
            .is_some_and(|h| h.join(".docker/cli-plugins/docker-compose").is_file());
    if plugin {
        out.push(check(
            "compose",
            "ok",
            "docker compose (v2 plugin)".into(),
            "",
        ));
    } else if let Some(p) = ctx.which("docker-compose") {
        out.push(check(
            "compose",
            "ok",
            format!("docker-compose at {}", p.display()),
            "",
        ));
    } else {
        out.push(check(
            "compose",
            "fail",
            "neither `docker compose` nor `docker-compose` is installed".into(),
            "apt-get install docker-compose (or the docker-compose-plugin package)",
        ));
    }
    // Ports.
    let mut ports = vec![(inputs.http_port, "Harbor's HTTP port", "--http-port")];
    if let Some(p) = inputs.https_port {
        ports.push((p, "Harbor's HTTPS port", "--https-port"));
    }
    ports.push((1514, "harbor-log (127.0.0.1:1514)", ""));
    for (port, what, flag) in ports {
        let addr = if port == 1514 { "127.0.0.1" } else { "0.0.0.0" };
        let free = TcpListener::bind((addr, port)).is_ok();
        if !free && let crate::labs::PortOwner::OtherHarbor(other) = &inputs.port_owner {
            let (detail, fix) = match other {
                Some(w) => (
                    format!(
                        "port {port} ({what}) is held by the Harbor of another lab, in {}",
                        w.display()
                    ),
                    format!(
                        "run `harbor-lab down --workdir {}` there, or pick another port with --http-port",
                        w.display()
                    ),
                ),
                None => (
                    format!(
                        "port {port} ({what}) is held by a Harbor this workdir did not install"
                    ),
                    "stop that Harbor, or pick another port with --http-port".to_string(),
                ),
            };
            out.push(check(&format!("port-{port}"), "fail", detail, &fix));
            continue;
        }
        if free || inputs.port_owner == crate::labs::PortOwner::ThisLab {
            let detail = if free {
                format!("port {port} is free")
            } else {
                format!("port {port} is Harbor's own")
            };
            out.push(check(&format!("port-{port}"), "ok", detail, ""));
        } else {
            out.push(check(
                &format!("port-{port}"),
                "fail",
                format!("port {port} ({what}) is already in use"),
                &if port == 1514 {
                    "stop what listens on 127.0.0.1:1514".to_string()
                } else {
                    format!("stop what listens there, or pick another port with {flag}")
                },
            ));
        }
    }
    // Permissions.
    let writable = inputs
        .daemon_config
        .parent()
        .is_some_and(|d| !d.exists() || access_w(d));
    if ctx.is_root {
        out.push(check("user", "ok", "running as root".into(), ""));
    } else if writable && in_docker_group() {
        out.push(check(
            "user",
            "ok",
            "in the docker group, and the daemon config is writable".into(),
            "",
        ));
    } else {
        out.push(check(
            "user",
            "fail",
            format!(
                "not root, and cannot both use Docker and write {}",
                inputs.daemon_config.display()
            ),
            "run with sudo",
        ));
    }
    // Hardware (Harbor's documented minimum: 2 CPU, 4 GB memory, 40 GB disk).
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    out.push(if cpus >= 2 {
        check("cpu", "ok", format!("{cpus} CPUs"), "")
    } else {
        check(
            "cpu",
            "warn",
            format!("{cpus} CPU; Harbor wants at least 2"),
            "expect a slow Harbor",
        )
    });
    let mem_gb = meminfo_kib().map_or(0.0, |k| k as f64 / 1024.0 / 1024.0);
    out.push(if mem_gb >= 3.8 {
        check("memory", "ok", format!("{mem_gb:.1} GiB"), "")
    } else {
        check(
            "memory",
            "warn",
            format!("{mem_gb:.1} GiB; Harbor wants at least 4 GB"),
            "add memory or expect swapping",
        )
    });
    let probe = inputs
        .data_volume
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    let free_gb = free_bytes(probe).map_or(0.0, |b| b as f64 / 1e9);
    out.push(if free_gb >= 40.0 {
        check(
            "disk",
            "ok",
            format!("{free_gb:.0} GB free at {}", probe.display()),
            "",
        )
    } else {
        check(
            "disk",
            "warn",
            format!(
                "{free_gb:.1} GB free at {}; Harbor wants 40 GB",
                probe.display()
            ),
            "free space, or use --data-volume on a bigger disk",
        )
    });
    out
}

fn access_w(p: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access(2) reads a NUL-terminated path we own.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

fn in_docker_group() -> bool {
    let Ok(groups) = std::fs::read_to_string("/etc/group") else {
        return false;
    };
    let Some(gid) = groups
        .lines()
        .find(|l| l.starts_with("docker:"))
        .and_then(|l| l.split(':').nth(2))
        .and_then(|g| g.parse::<u32>().ok())
    else {
        return false;
    };
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Groups:"))
                .map(str::to_string)
        })
        .is_some_and(|l| l.split_whitespace().skip(1).any(|g| g.parse() == Ok(gid)))
}

fn meminfo_kib() -> Option<u64> {
    std::fs::read_to_string("/proc/meminfo")
        .ok()?
        .lines()
        .find(|l| l.starts_with("MemTotal:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn free_bytes(p: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: statvfs(3) fills the struct we own from a NUL-terminated path.
    (unsafe { libc::statvfs(c.as_ptr(), &mut s) } == 0)
        .then(|| s.f_bavail as u64 * s.f_frsize as u64)
}
