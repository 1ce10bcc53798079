//! Every flag, declared once (clap derive). No I/O here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "harbor-lab",
    version,
    about = "From a machine with Docker to a running Harbor registry with cosign-compatible signing",
    after_help = "Exit codes: 0 ok, 1 internal error, 2 bad input, 3 environment, 4 registry/Harbor/server, \
10 no signatures, 11 image not found, 12 no valid signature, 13 not pinned in TUF, 14 tag moved, \
15 TUF rollback, 16 TUF freeze (expired), 17 TUF metadata invalid."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Default, Clone)]
pub struct GlobalArgs {
    /// Write one machine-readable JSON report on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Answer yes to every confirmation (required where there is no terminal).
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    /// Print only errors and results.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
}

impl GlobalArgs {
    pub fn ui_options(&self) -> crate::ui::Options {
        crate::ui::Options {
            quiet: self.quiet,
            json: self.json,
            yes: self.yes,
        }
    }
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Create and inspect cosign-compatible key pairs.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Sign images (cosign's `.sig` layout), as `cosign sign --key`.
    Sign(SignArgs),
    /// Verify image signatures, as `cosign verify --key --insecure-ignore-tlog`.
    Verify(VerifyArgs),
    /// Check that this machine can run Harbor.
    Preflight(PreflightArgs),
    /// Install Harbor: download, extract, harbor.yml, Docker daemon config, install.sh, health.
    Install(InstallCommandArgs),
    /// Show each install step (done / pending / drifted) and whether Harbor answers.
    Status(StatusArgs),
    /// Stop Harbor and restore the Docker daemon config; --purge also removes its data.
    Down(DownArgs),
    /// The tutorial's story: push unsigned, sign, verify, tamper, enforce the cosign policy, freshness with TUF.
    Demo(DemoArgs),
    /// Everything: preflight, install, keys and the demo, after one confirmation.
    Up(UpArgs),
    /// Print a shell completion script (scripts/up.sh installs them).
    Completions(CompletionsArgs),
    /// Print the man page (roff; scripts/up.sh installs it as harbor-lab(1)).
    Man,
    /// Freshness with TUF: signed tag-to-digest metadata that catches rollback, freeze and moved tags.
    #[command(subcommand)]
    Tuf(TufCommand),
}

#[derive(Debug, Subcommand)]
pub enum TufCommand {
    /// Create the repository: encrypted keys for root, targets, snapshot, timestamp and the first metadata.
    Init(TufInitArgs),
    /// Pin tags to their current digests (each must carry a valid signature by --key).
    Pin(TufPinArgs),
    /// Re-sign the timestamp alone: the heartbeat a cron job or CI runs.
    Refresh(TufRefreshArgs),
    /// List the targets, each role's version and expiry; warn when the timestamp expires within a day.
    Status(TufStatusArgs),
    /// The TUF conformance suite's client protocol (init | refresh | download).
    #[command(hide = true)]
    Client(TufClientArgs),
}

#[derive(Debug, Args, Clone)]
pub struct TufRepoArgs {
    /// The repository directory (keys/ and metadata/) [default: <workdir>/tuf].
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
    #[command(flatten)]
    pub workdir: WorkdirArgs,
}

#[derive(Debug, Args, Clone)]
pub struct TufPublishArgs {
    /// Also publish the metadata there: a directory, or oci://HOST/PROJECT/REPO[:tag] (one image in the registry).
    #[arg(long, value_name = "DIR|oci://...")]
    pub publish: Vec<String>,
    /// How long the new timestamp stays valid: 8s, 30m, 12h, 1d... [default: 1d].
    #[arg(long, value_name = "DURATION", value_parser = crate::tuf::parse_duration)]
    pub timestamp_expiry: Option<std::time::Duration>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct TufInitArgs {
    #[command(flatten)]
    pub repo: TufRepoArgs,
    #[command(flatten)]
    pub publish: TufPublishArgs,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Replace an existing repository (clients that trust its root will refuse the new one).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct TufPinArgs {
    #[command(flatten)]
    pub repo: TufRepoArgs,
    #[command(flatten)]
    pub publish: TufPublishArgs,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// The cosign public key every pinned image must be signed with.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Tags to pin (IMAGE:TAG).
    #[arg(required = true, value_name = "IMAGE:TAG")]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TufRefreshArgs {
    #[command(flatten)]
    pub repo: TufRepoArgs,
    #[command(flatten)]
    pub publish: TufPublishArgs,
}

#[derive(Debug, Args)]
pub struct TufStatusArgs {
    #[command(flatten)]
    pub repo: TufRepoArgs,
}

#[derive(Debug, Args)]
pub struct TufClientArgs {
    #[arg(long, value_name = "DIR")]
    pub metadata_dir: PathBuf,
    #[arg(long, value_name = "URL")]
    pub metadata_url: Option<String>,
    #[arg(long, value_name = "PATH")]
    pub target_name: Vec<String>,
    #[arg(long, value_name = "URL")]
    pub target_base_url: Option<String>,
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub action: TufClientAction,
}

#[derive(Debug, Subcommand)]
pub enum TufClientAction {
    Init { trusted_root: PathBuf },
    Refresh,
    Download,
}

#[derive(Debug, Args, Clone)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args, Clone)]
pub struct StoryArgs {
    /// The image the demo pushes (pulled unless --image-file is given).
    #[arg(long, value_name = "IMAGE", default_value = "busybox:latest")]
    pub image: String,
    /// Load the image from this file instead (`docker save` archive or a rootfs tarball), for offline machines.
    #[arg(long, value_name = "PATH")]
    pub image_file: Option<PathBuf>,
    /// When to pull the image, as Docker's --pull.
    #[arg(long, value_enum, default_value_t)]
    pub pull: Pull,
    /// The Harbor project the demo uses (created if missing).
    #[arg(long, value_name = "NAME", default_value = "library")]
    pub project: String,
    /// Print, before each step, the manual command the tutorial uses for it.
    #[arg(long)]
    pub explain: bool,
    /// Sign in this format [default: bundle when the Harbor version counts bundles as signatures (v2.15+), else legacy].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub signature_format: Option<SignatureFormat>,
    /// Leave the project's cosign enforcement on after the demo.
    #[arg(long)]
    pub keep_policy: bool,
    /// Run every step again, even those a previous run finished.
    #[arg(long)]
    pub fresh: bool,
    /// Read the key password from the first line of this file
    /// [default: COSIGN_PASSWORD, a prompt, or <workdir>/cosign.password].
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// Harbor's URL [default: from the workdir of `install`].
    #[arg(long, value_name = "URL")]
    pub harbor_url: Option<String>,
    /// Harbor user.
    #[arg(long, value_name = "USER", default_value = "admin")]
    pub harbor_user: String,
    /// Read the Harbor password from the first line of this file [default: the workdir's admin-password].
    #[arg(long, value_name = "FILE")]
    pub harbor_password_file: Option<PathBuf>,
    /// Key pair prefix: PREFIX.key and PREFIX.pub [default: <workdir>/cosign].
    #[arg(long, value_name = "PREFIX")]
    pub key_prefix: Option<PathBuf>,
    #[command(flatten)]
    pub story: StoryArgs,
    #[command(flatten)]
    pub workdir: WorkdirArgs,
}

#[derive(Debug, Args, Clone)]
pub struct InstallCommandArgs {
    #[command(flatten)]
    pub install: InstallArgs,
    /// Print, before each step, the manual command it replaces (hostname -I,
    /// curl and tar, the harbor.yml and daemon.json edits, ./install.sh, docker login).
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Args, Clone)]
pub struct UpArgs {
    #[command(flatten)]
    pub install: InstallArgs,
    #[command(flatten)]
    pub story: StoryArgs,
}

#[derive(Debug, Args, Clone)]
pub struct WorkdirArgs {
    /// The lab's work directory: the extracted installer, the journal, the secrets
    /// [default: $HARBOR_LAB_HOME, /var/lib/harbor-lab for root, else ~/.local/state/harbor-lab].
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct DaemonArgs {
    /// The Docker daemon's config file [default: /etc/docker/daemon.json].
    #[arg(long, value_name = "PATH")]
    pub daemon_config: Option<PathBuf>,
    /// Change the file but do not signal dockerd to reload it.
    #[arg(long)]
    pub no_daemon_reload: bool,
}

impl DaemonArgs {
    /// Where dockerd reads its config unless --daemon-config says otherwise.
    pub const DEFAULT: &'static str = "/etc/docker/daemon.json";

    /// --daemon-config, else the default.
    pub fn path(&self) -> PathBuf {
        self.daemon_config
            .clone()
            .unwrap_or_else(|| PathBuf::from(Self::DEFAULT))
    }
}

#[derive(Debug, Args, Clone)]
pub struct HostArgs {
    /// The name or IP clients use to reach Harbor [default: the first non-loopback IPv4].
    #[arg(long, value_name = "HOST")]
    pub hostname: Option<String>,
    /// Allow localhost / 127.0.0.0/8 / 0.0.0.0 as the hostname (tests only: other clients cannot reach it).
    #[arg(long)]
    pub allow_loopback_hostname: bool,
    /// Harbor's HTTP port.
    #[arg(long, default_value_t = 80, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub http_port: u16,
}

#[derive(Debug, Args, Clone, Default)]
pub struct TlsArgs {
    /// Serve Harbor over HTTPS: a lab CA and a certificate for the hostname (or
    /// --tls-cert/--tls-key), trusted by Docker through certs.d; daemon.json is not touched.
    #[arg(long)]
    pub tls: bool,
    /// Harbor's HTTPS port (with --tls).
    #[arg(long, default_value_t = 443, value_name = "N", requires = "tls", value_parser = clap::value_parser!(u16).range(1..))]
    pub https_port: u16,
    /// Use this certificate (PEM, the leaf first) instead of making one; its SAN must hold the hostname.
    #[arg(long, value_name = "FILE", requires_all = ["tls", "tls_key"])]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM, unencrypted).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The CA that issued --tls-cert, for Docker and harbor-lab to trust
    /// [default: the certificate itself when it is self-signed].
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_ca: Option<PathBuf>,
    /// Docker's registry trust directory (for tests and rootless Docker).
    #[arg(long, value_name = "DIR", default_value = crate::docker::certs_d::DEFAULT_ROOT)]
    pub docker_certs_dir: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct PreflightArgs {
    #[command(flatten)]
    pub host: HostArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub workdir: WorkdirArgs,
    #[command(flatten)]
    pub daemon: DaemonArgs,
}

#[derive(Debug, Args, Clone)]
pub struct InstallArgs {
    /// The Harbor release to install [default: the newest harbor-lab knows, or, with
    /// --installer-file, the version that installer was packaged as].
    #[arg(long, value_name = "vX.Y.Z")]
    pub harbor_version: Option<String>,
    /// Use this local online or offline installer tarball instead of downloading.
    #[arg(long, value_name = "PATH")]
    pub installer_file: Option<PathBuf>,
    /// Download the offline installer (all images included) instead of the online one.
    #[arg(long)]
    pub offline: bool,
    /// Where releases are downloaded from: <base>/<tag>/<asset>.
    #[arg(long, value_name = "URL", default_value = crate::installer::DEFAULT_DOWNLOAD_BASE)]
    pub download_base: String,
    #[command(flatten)]
    pub host: HostArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Read Harbor's admin password from the first line of this file [default: random, kept 0600 in the workdir].
    #[arg(long, value_name = "FILE")]
    pub admin_password_file: Option<PathBuf>,
    /// Where Harbor keeps its data [default: <workdir>/data].
    #[arg(long, value_name = "DIR")]
    pub data_volume: Option<PathBuf>,
    #[command(flatten)]
    pub workdir: WorkdirArgs,
    #[command(flatten)]
    pub daemon: DaemonArgs,
    /// Install Trivy too (install.sh --with-trivy).
    #[arg(long)]
    pub with_trivy: bool,
    /// Print the plan and the exact changes, and write nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Use this file instead of the built-in harbor.yml.tmpl lab settings.
    #[arg(long, value_name = "FILE")]
    pub lab_template: Option<PathBuf>,
    /// How long to wait for Harbor to report healthy, in seconds.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub health_timeout: u64,
    /// Print the manual commands a step replaces (set by `up --explain` and `install --explain`).
    #[arg(skip)]
    pub explain: bool,
}

#[derive(Debug, Args, Clone)]
pub struct StatusArgs {
    #[command(flatten)]
    pub workdir: WorkdirArgs,
}

#[derive(Debug, Args, Clone)]
pub struct DownArgs {
    /// Also remove Harbor's data volume and the workdir (asks first).
    #[arg(long)]
    pub purge: bool,
    /// The flags `up` took are accepted as they were typed (--workdir,
    /// --daemon-config, --no-daemon-reload count; a --daemon-config other than
    /// the one the lab changed is refused).
    #[command(flatten)]
    pub up: UpArgs,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum KeysCommand {
    /// Write PREFIX.key (encrypted, 0600) and PREFIX.pub, as `cosign generate-key-pair`.
    Generate(GenerateArgs),
    /// Print or write the public key of a private key, as `cosign public-key`.
    PublicKey(PublicKeyArgs),
}

#[derive(Debug, Args, Clone, Default)]
pub struct PasswordArgs {
    /// Read the key password from the first line of this file (instead of
    /// COSIGN_PASSWORD or a prompt).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Write PREFIX.key and PREFIX.pub.
    #[arg(long, default_value = "cosign", value_name = "PREFIX")]
    pub output_key_prefix: String,
    /// Overwrite existing key files.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub password: PasswordArgs,
}

#[derive(Debug, Args)]
pub struct PublicKeyArgs {
    /// The private key file.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Write the public key here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub outfile: Option<PathBuf>,
    #[command(flatten)]
    pub password: PasswordArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct RegistryArgs {
    /// Allow plain HTTP and unverified TLS for registries that are not on loopback.
    #[arg(long)]
    pub allow_insecure_registry: bool,
    /// Trust this CA certificate (PEM) for registry TLS.
    #[arg(long, value_name = "FILE")]
    pub registry_cacert: Option<PathBuf>,
    /// Registry user name; the password comes from REGISTRY_PASSWORD or --registry-password-file.
    #[arg(long, value_name = "USER")]
    pub registry_username: Option<String>,
    /// Read the registry password from the first line of this file.
    #[arg(long, value_name = "FILE")]
    pub registry_password_file: Option<PathBuf>,
    /// Refused with advice: a password on the command line shows in `ps` and in
    /// shell history. Kept (hidden) so that users coming from other tools get told
    /// what to use instead of "unexpected argument".
    #[arg(long, hide = true, value_name = "PASSWORD")]
    pub registry_password: Option<String>,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The private key (cosign format).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Extra claims: the payload's `optional` section (legacy), the statement subject's annotations (bundle).
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE", value_parser = parse_kv)]
    pub annotations: Vec<(String, String)>,
    /// legacy: cosign 2's `.sig` image (read by cosign 2 and 3, skopeo and every Harbor); bundle: cosign 3's sigstore bundle on an OCI 1.1 referrer (Harbor counts it from v2.15).
    #[arg(long, value_enum, default_value_t)]
    pub format: SignatureFormat,
    #[command(flatten)]
    pub password: PasswordArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// How many images to sign at once. Fewer than verify's: the registry syncs each write to disk, and more writers at once make each wait for the others (and for its read-back) longer.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
    /// Images to sign (tags are resolved to digests).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// `--pull`, as Docker's.
#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum Pull {
    Always,
    #[default]
    Missing,
    Never,
}

impl From<Pull> for crate::docker::engine::PullPolicy {
    fn from(p: Pull) -> Self {
        use crate::docker::engine::PullPolicy;
        match p {
            Pull::Always => PullPolicy::Always,
            Pull::Missing => PullPolicy::Missing,
            Pull::Never => PullPolicy::Never,
        }
    }
}

/// `sign --format`, `demo --signature-format`.
#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum SignatureFormat {
    /// cosign 2's `.sig` image.
    #[default]
    Legacy,
    /// cosign 3's sigstore bundle on an OCI 1.1 referrer.
    Bundle,
}

impl From<SignatureFormat> for crate::cosign::sign::Format {
    fn from(f: SignatureFormat) -> Self {
        match f {
            SignatureFormat::Legacy => Self::Legacy,
            SignatureFormat::Bundle => Self::Bundle,
        }
    }
}

/// `verify --format`: which signatures count.
#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum AcceptFormat {
    Legacy,
    Bundle,
    #[default]
    Any,
}

impl From<AcceptFormat> for crate::cosign::verify::Accept {
    fn from(f: AcceptFormat) -> Self {
        match f {
            AcceptFormat::Legacy => Self::Legacy,
            AcceptFormat::Bundle => Self::Bundle,
            AcceptFormat::Any => Self::Any,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum OutputFormat {
    #[default]
    Json,
    Text,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The public key (PEM).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Require these claims in the payload's `optional` section.
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE", value_parser = parse_kv)]
    pub annotations: Vec<(String, String)>,
    /// How verified payloads are printed on stdout (as cosign's -o).
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
    /// Which signatures count: legacy (`.sig`), bundle (OCI 1.1 referrers) or any.
    #[arg(long, value_enum, default_value_t)]
    pub format: AcceptFormat,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// How many images to verify at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
    /// Also require freshness: the TUF root to trust (first use); each tag must point where TUF pins it.
    #[arg(long, value_name = "ROOT.json")]
    pub tuf: Option<PathBuf>,
    /// Where the TUF metadata is: oci://HOST/PROJECT/REPO[:tag], http(s)://... or file://DIR
    /// [default: the directory holding --tuf].
    #[arg(long, value_name = "URL", requires = "tuf")]
    pub tuf_url: Option<String>,
    /// Images to verify.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    crate::cosign::payload::parse_annotation(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
