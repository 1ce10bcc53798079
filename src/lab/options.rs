//! Typed options, validated once at the command edge (`commands::options`)
//! and read by the steps. No clap type below this line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;

use crate::docker::engine::PullPolicy;
use crate::error::UserError;
use crate::installer::render;
use crate::installer::versions::{self, Version};
use crate::workdir::Workdir;

/// Where the installer comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallerSource {
    /// `--installer-file` (resolved, known to be a file).
    Local(PathBuf),
    /// `<base>/<tag>/<asset>`, online or offline asset.
    Download { base: String, offline: bool },
}

/// The lab settings applied to the installer's harbor.yml template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlay {
    pub text: String,
    /// How to name it in messages (`--lab-template`'s path, or the built-in one).
    pub name: String,
}

/// Where and how Harbor is published: the host and port clients use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostOptions {
    /// A DNS name or an IPv4 address (checked by `net::check_hostname`).
    pub host: String,
    pub port: u16,
    /// `--tls`: Harbor's HTTPS port.
    pub https_port: Option<u16>,
    /// `http://host[:port]` (no `:80`), or with `--tls` `https://host[:https_port]`
    /// (no `:443`).
    pub url: String,
    /// `--allow-loopback-hostname` (tests).
    pub allow_loopback: bool,
}

impl HostOptions {
    pub fn new(host: String, port: u16, allow_loopback: bool) -> HostOptions {
        let url = if port == 80 {
            format!("http://{host}")
        } else {
            format!("http://{host}:{port}")
        };
        HostOptions {
            host,
            port,
            https_port: None,
            url,
            allow_loopback,
        }
    }

    /// Published over HTTPS on `https_port` (`--tls`).
    pub fn with_https(mut self, https_port: u16) -> HostOptions {
        self.url = if https_port == 443 {
            format!("https://{}", self.host)
        } else {
            format!("https://{}:{https_port}", self.host)
        };
        self.https_port = Some(https_port);
        self
    }

    /// The registry name Docker uses: `host:port` of the URL Harbor is at.
    pub fn registry(&self) -> String {
        self.url
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .to_string()
    }
}

/// `--tls`: the certificate pair Harbor serves and where Docker's trust goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    pub https_port: u16,
    /// `--tls-cert`/`--tls-key`/`--tls-ca` (resolved); None: the lab's own pair.
    pub given: Option<GivenPair>,
    /// Docker's registry trust directory (`--docker-certs-dir`, resolved).
    pub certs_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenPair {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: Option<PathBuf>,
}

impl TlsOptions {
    /// harbor.yml's `https` block: the pair's absolute paths on the host.
    pub fn https(&self, workdir: &Workdir) -> render::Https {
        let lab = crate::tls::lab::LabFiles::new(workdir.tls_dir());
        let (certificate, private_key) = match &self.given {
            Some(g) => (g.cert.clone(), g.key.clone()),
            None => (lab.server_cert(), lab.server_key()),
        };
        render::Https {
            port: self.https_port,
            certificate: certificate.display().to_string(),
            private_key: private_key.display().to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct InstallOptions {
    pub workdir: Workdir,
    pub host: HostOptions,
    /// The version to plan with: `--harbor-version`, else the installer file's
    /// name, else the newest known. A local installer may correct it.
    pub version: Version,
    /// The user chose the version (`--harbor-version`): a local installer that
    /// says otherwise is refused instead of followed.
    pub version_explicit: bool,
    pub installer: InstallerSource,
    /// `--admin-password-file` as given (resolved when read).
    pub admin_password_file: Option<PathBuf>,
    pub data_volume: PathBuf,
    /// The Docker daemon config (resolved; known to be readable and mergeable).
    pub daemon_config: PathBuf,
    /// Signal dockerd after changing its config (not `--no-daemon-reload`).
    pub daemon_reload: bool,
    pub with_trivy: bool,
    pub dry_run: bool,
    pub overlay: Overlay,
    pub health_timeout: Duration,
    /// `--tls`.
    pub tls: Option<TlsOptions>,
    /// Print the manual commands a step replaces (`up --explain`).
    pub explain: bool,
}

/// What the demo shows, known before Harbor is (up's plan is printed from it).
#[derive(Debug, Clone)]
pub struct StoryOptions {
    /// `--image` as given (parsed once, into a `DemoImage`, when Harbor is known).
    pub image: String,
    pub image_file: Option<PathBuf>,
    pub pull: PullPolicy,
    pub project: String,
    pub explain: bool,
    pub keep_policy: bool,
    pub fresh: bool,
    pub password_file: Option<PathBuf>,
    /// `--signature-format`; else chosen from Harbor's version.
    pub signature_format: Option<crate::cosign::sign::Format>,
}

/// The preflight checks' inputs.
#[derive(Debug, Clone)]
pub struct PreflightOptions {
    /// Whose Harbor may hold the port: this workdir's only.
    pub workdir: Workdir,
    pub host: HostOptions,
    pub data_volume: PathBuf,
    pub daemon_config: PathBuf,
    pub tls: Option<TlsOptions>,
}

impl InstallOptions {
    pub fn preflight(&self) -> PreflightOptions {
        PreflightOptions {
            workdir: self.workdir.clone(),
            host: self.host.clone(),
            data_volume: self.data_volume.clone(),
            daemon_config: self.daemon_config.clone(),
            tls: self.tls.clone(),
        }
    }
}

impl Overlay {
    /// `--lab-template` (resolved), else the built-in harbor.yml.tmpl.
    pub fn read(template: Option<&Path>) -> anyhow::Result<Overlay> {
        let Some(p) = template else {
            return Ok(Overlay {
                text: render::LAB_TEMPLATE.to_string(),
                name: "harbor.yml.tmpl (built in)".to_string(),
            });
        };
        let text = crate::fsutil::read_limited_text(p, crate::fsutil::CONFIG_FILE_MAX)
            .map_err(|e| UserError::usage(format!("--lab-template {}: {e}", p.display())))?;
        Ok(Overlay {
            text,
            name: p.display().to_string(),
        })
    }
}

/// Harbor's prepare reads the data volume as one word.
pub fn check_data_volume(dv: &Path) -> Result<(), UserError> {
    let shown = dv.display().to_string();
    if shown.contains(|c: char| c.is_whitespace() || "#'\"$".contains(c)) {
        return Err(UserError::usage(format!(
            "--data-volume {shown:?}: Harbor's prepare reads the path as one word; use a path without spaces, quotes, '#' or '$'"
        )));
    }
    Ok(())
}

/// The version to plan with before the installer is opened: --harbor-version,
/// else the one in --installer-file's name, else the newest we know. The bool
/// says whether the user chose it.
pub fn planned_version(
    flag: Option<&str>,
    installer_file: Option<&Path>,
) -> anyhow::Result<(Version, bool)> {
    if let Some(s) = flag {
        let v = Version::parse(s).ok_or_else(|| {
            UserError::usage(format!(
                "--harbor-version {s:?} is not vX.Y.Z (known: {})",
                versions::KNOWN_VERSIONS.join(", ")
            ))
        })?;
        return Ok((v, true));
    }
    let named = installer_file
        .and_then(|f| f.file_name()?.to_str())
        .and_then(versions::from_installer_name);
    let v = named
        .or(Version::parse(versions::DEFAULT_VERSION))
        .context("the built-in default version is not vX.Y.Z")?;
    Ok((v, false))
}
