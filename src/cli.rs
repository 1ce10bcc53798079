//! Every flag, declared once (clap derive). No I/O here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "harbor-lab",
    version,
    about = "From a machine with Docker to a running Harbor registry with cosign-compatible signing",
    after_help = "Exit codes: 0 ok, 1 internal error, 2 bad input, 3 environment, 4 registry/Harbor/server, \
10 no signatures, 11 image not found, 12 no valid signature."
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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and inspect cosign-compatible key pairs.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Sign images (cosign's `.sig` layout), as `cosign sign --key`.
    Sign(SignArgs),
    /// Verify image signatures, as `cosign verify --key --insecure-ignore-tlog`.
    Verify(VerifyArgs),
}

#[derive(Debug, Subcommand)]
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
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The private key (cosign format).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Extra claims for the payload's `optional` section.
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE", value_parser = parse_kv)]
    pub annotations: Vec<(String, String)>,
    #[command(flatten)]
    pub password: PasswordArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// How many images to sign at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
    /// Images to sign (tags are resolved to digests).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
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
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// How many images to verify at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
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
