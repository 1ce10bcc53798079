//! Flags to typed options, validated once, before any step runs: a flag the
//! user got wrong fails here, names itself and writes nothing.

use std::time::Duration;

use crate::cli::{HostArgs, InstallArgs, StoryArgs, TlsArgs};
use crate::context::Context;
use crate::docker::daemon_config;
use crate::error::UserError;
use crate::lab::options::{
    GivenPair, HostOptions, InstallOptions, InstallerSource, Overlay, PreflightOptions,
    StoryOptions, TlsOptions, check_data_volume, planned_version,
};
use crate::workdir::Workdir;

pub fn install(ctx: &Context, args: &InstallArgs) -> anyhow::Result<InstallOptions> {
    let (version, version_explicit) = planned_version(
        args.harbor_version.as_deref(),
        args.installer_file.as_deref(),
    )?;
    let workdir = Workdir::from_flag(ctx, args.workdir.workdir.as_deref());
    workdir.check()?;
    let data_volume = args
        .data_volume
        .as_ref()
        .map_or_else(|| workdir.default_data_volume(), |p| ctx.resolve(p));
    check_data_volume(&data_volume)?;
    let tls = tls(ctx, &args.tls);
    let host = host(&args.host, tls.as_ref())?;
    let daemon_config = ctx.resolve(&args.daemon.path());
    // A daemon config we could not merge into fails now, before any step writes.
    let text = daemon_config::read(&daemon_config)?;
    daemon_config::merge(
        &daemon_config,
        text.as_deref(),
        &daemon_config::registry_entries(&host.host, host.port),
    )?;
    let installer = match &args.installer_file {
        Some(p) => {
            let p = ctx.resolve(p);
            if !p.is_file() {
                return Err(UserError::usage(format!(
                    "--installer-file {}: no such file",
                    p.display()
                ))
                .into());
            }
            InstallerSource::Local(p)
        }
        None => InstallerSource::Download {
            base: args.download_base.clone(),
            offline: args.offline,
        },
    };
    Ok(InstallOptions {
        workdir,
        host,
        version,
        version_explicit,
        installer,
        admin_password_file: args.admin_password_file.clone(),
        data_volume,
        daemon_config,
        daemon_reload: !args.daemon.no_daemon_reload,
        with_trivy: args.with_trivy,
        dry_run: args.dry_run,
        overlay: Overlay::read(
            args.lab_template
                .as_ref()
                .map(|p| ctx.resolve(p))
                .as_deref(),
        )?,
        health_timeout: Duration::from_secs(args.health_timeout),
        tls,
        explain: false,
    })
}

pub fn preflight(
    ctx: &Context,
    args: &crate::cli::PreflightArgs,
) -> anyhow::Result<PreflightOptions> {
    let workdir = Workdir::from_flag(ctx, args.workdir.workdir.as_deref());
    let tls = tls(ctx, &args.tls);
    Ok(PreflightOptions {
        host: host(&args.host, tls.as_ref())?,
        data_volume: workdir.default_data_volume(),
        daemon_config: ctx.resolve(&args.daemon.path()),
        workdir,
        tls,
    })
}

pub fn story(args: &StoryArgs) -> StoryOptions {
    StoryOptions {
        image: args.image.clone(),
        image_file: args.image_file.clone(),
        pull: args.pull.into(),
        project: args.project.clone(),
        explain: args.explain,
        keep_policy: args.keep_policy,
        fresh: args.fresh,
        signature_format: args.signature_format.map(Into::into),
        password_file: args.password_file.clone(),
    }
}

/// The host Harbor is published as: --hostname, else this machine's first
/// non-loopback IPv4; checked as Harbor's prepare would.
fn host(args: &HostArgs, tls: Option<&TlsOptions>) -> anyhow::Result<HostOptions> {
    let name = match &args.hostname {
        Some(h) => h.clone(),
        None => crate::net::detect_host_ip()?.to_string(),
    };
    crate::net::check_hostname(&name, args.allow_loopback_hostname)?;
    let host = HostOptions::new(name, args.http_port, args.allow_loopback_hostname);
    Ok(match tls {
        Some(t) => host.with_https(t.https_port),
        None => host,
    })
}

/// `--tls` and its pair (paths resolved; the files are checked by the tls step
/// before anything is written).
fn tls(ctx: &Context, args: &TlsArgs) -> Option<TlsOptions> {
    args.tls.then(|| TlsOptions {
        https_port: args.https_port,
        given: match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(GivenPair {
                cert: ctx.resolve(cert),
                key: ctx.resolve(key),
                ca: args.tls_ca.as_ref().map(|p| ctx.resolve(p)),
            }),
            _ => None,
        },
        certs_dir: ctx.resolve(&args.docker_certs_dir),
    })
}
