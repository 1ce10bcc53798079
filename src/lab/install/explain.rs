//! `--explain` for install: the manual command each step replaces, as the
//! tutorial types it, pasteable as printed (the admin password is read from
//! its file, never shown).

use super::InstallRun;
use crate::lab::options::InstallerSource;

pub(super) fn host(run: &InstallRun<'_>) -> Vec<String> {
    vec![format!(
        "hostname -I | awk '{{print $1}}'   # the address to publish Harbor on ({} here)",
        run.opts.host.host
    )]
}

pub(super) fn download(run: &InstallRun<'_>) -> Vec<String> {
    let InstallerSource::Download { base, offline } = &run.opts.installer else {
        return Vec::new();
    };
    let r = super::download::release(run, base, *offline);
    vec![
        format!("curl -fLO {}", r.url),
        format!(
            "curl -fLO {} && md5sum -c --ignore-missing md5sum",
            r.sums_url
        ),
    ]
}

pub(super) fn extract(run: &InstallRun<'_>) -> Vec<String> {
    let installer = match &run.opts.installer {
        InstallerSource::Local(p) => p.display().to_string(),
        InstallerSource::Download { base, offline } => {
            super::download::release(run, base, *offline).asset
        }
    };
    vec![format!(
        "tar -xzf {installer} -C {}",
        run.opts.workdir.root().display()
    )]
}

pub(super) fn harbor_yml(run: &InstallRun<'_>) -> Vec<String> {
    let yml = run.opts.workdir.harbor_yml();
    let (yml, password) = (
        yml.display(),
        run.opts.workdir.admin_password_file().display().to_string(),
    );
    let dir = run.opts.workdir.harbor_dir();
    vec![
        format!("cp {}/harbor.yml.tmpl {yml}", dir.display()),
        format!(
            "sed -i -e 's/^hostname: .*/hostname: {}/' -e 's/^  port: 80$/  port: {}/' {yml}",
            run.opts.host.host, run.opts.host.port
        ),
        format!(
            "sed -i \"s/^harbor_admin_password: .*/harbor_admin_password: $(cat {password})/\" {yml}"
        ),
    ]
}

pub(super) fn daemon_config(run: &InstallRun<'_>) -> Vec<String> {
    if run.opts.tls.is_some() {
        return Vec::new();
    }
    let d = run.opts.daemon_config.display();
    let entry = format!("{}:{}", run.opts.host.host, run.opts.host.port);
    vec![format!(
        "jq '.\"insecure-registries\" += [\"{entry}\"]' {d} > {d}.new && mv {d}.new {d}"
    )]
}

pub(super) fn daemon_reload(run: &InstallRun<'_>) -> Vec<String> {
    if !run.opts.daemon_reload {
        return Vec::new();
    }
    vec![
        "kill -HUP $(pidof dockerd)".into(),
        "docker info --format '{{.RegistryConfig.InsecureRegistryCIDRs}} {{.RegistryConfig.IndexConfigs}}'".into(),
    ]
}

pub(super) fn install_sh(run: &InstallRun<'_>) -> Vec<String> {
    let trivy = if run.opts.with_trivy {
        " --with-trivy"
    } else {
        ""
    };
    vec![format!(
        "cd {} && ./install.sh{trivy}",
        run.opts.workdir.harbor_dir().display()
    )]
}

pub(super) fn health(run: &InstallRun<'_>) -> Vec<String> {
    vec![
        format!("curl -s {}/api/v2.0/health", run.opts.host.url),
        format!(
            "docker login {} -u admin --password-stdin < {}",
            run.opts.host.registry(),
            run.opts.workdir.admin_password_file().display()
        ),
    ]
}
