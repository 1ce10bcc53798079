//! The TLS steps of `install --tls`: the certificate pair (the lab's, made
//! and kept in `<workdir>/tls`, or the user's, checked), Docker's trust of the
//! CA through certs.d, and daemon.json left alone (an `insecure-registries`
//! entry an earlier HTTP run added is taken out again). Switching back to
//! HTTP undoes the certs.d entry.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;

use super::InstallReport;
use crate::cli::TlsArgs;
use crate::context::Context;
use crate::docker::{certs_d, daemon_config};
use crate::error::UserError;
use crate::fsutil::write_atomic;
use crate::installer::render;
use crate::journal::{State, TlsRecord};
use crate::tls::{self, lab};
use crate::ui::Reporter;
use crate::workdir::Workdir;

/// The pair Harbor will serve, decided (and checked) before anything is written.
pub(crate) struct Prepared {
    pub https_port: u16,
    pub certificate: PathBuf,
    pub private_key: PathBuf,
    /// What clients trust, and its bytes.
    pub ca: Option<(PathBuf, Vec<u8>)>,
    /// The lab's plan (None: the user's pair).
    plan: Option<lab::Plan>,
    files: lab::LabFiles,
    pub leaf: tls::CertInfo,
}

impl Prepared {
    pub fn https(&self) -> render::Https {
        render::Https {
            port: self.https_port,
            certificate: self.certificate.display().to_string(),
            private_key: self.private_key.display().to_string(),
        }
    }
    /// sha256 of the certificate Harbor will serve (install.sh must run again
    /// when it changes: prepare copies it into nginx's config).
    pub fn served_sha256(&self) -> String {
        crate::registry::sha256_digest(&self.leaf.der)
    }
}

/// `--tls`: check the user's pair, or plan the lab's. Writes nothing.
pub(crate) fn prepare(
    ctx: &Context,
    args: &TlsArgs,
    wd_tls: &Path,
    host: &str,
) -> anyhow::Result<Option<Prepared>> {
    if !args.tls {
        return Ok(None);
    }
    let files = lab::LabFiles::new(wd_tls);
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let (cert, key) = (ctx.resolve(cert), ctx.resolve(key));
        let ca = args.tls_ca.as_ref().map(|p| ctx.resolve(p));
        let given = tls::check_given(&cert, &key, ca.as_deref(), host, ctx.now())?;
        let ca = match &given.ca {
            Some(p) => Some((p.clone(), tls::read_file(p)?)),
            None => None,
        };
        return Ok(Some(Prepared {
            https_port: args.https_port,
            certificate: cert,
            private_key: key,
            ca,
            plan: None,
            files,
            leaf: given.leaf,
        }));
    }
    let plan = lab::plan(&files, host, ctx.now())?;
    let ca_pem = match &plan.ca {
        Some(new) => new.cert_pem.clone().into_bytes(),
        None => tls::read_file(&files.ca_cert())?,
    };
    Ok(Some(Prepared {
        https_port: args.https_port,
        certificate: files.server_cert(),
        private_key: files.server_key(),
        ca: Some((files.ca_cert(), ca_pem)),
        leaf: plan.server_info.clone(),
        plan: Some(plan),
        files,
    }))
}

/// The openssl and cp commands the TLS steps replace (`--explain`).
fn explain_lines(host: &str, dir: &Path, certs_dir: &Path) -> Vec<String> {
    let san = if host.parse::<std::net::IpAddr>().is_ok() {
        format!("IP:{host}")
    } else {
        format!("DNS:{host}")
    };
    let d = dir.display();
    vec![
        format!(
            "openssl ecparam -name prime256v1 -genkey -noout -out {d}/ca.key && chmod 600 {d}/ca.key"
        ),
        format!(
            "openssl req -x509 -new -key {d}/ca.key -sha256 -days 3650 -subj '/O=harbor-lab/CN=harbor-lab local CA' \
             -addext 'basicConstraints=critical,CA:TRUE,pathlen:0' -addext 'keyUsage=critical,keyCertSign,cRLSign' -out {d}/ca.crt"
        ),
        format!(
            "openssl ecparam -name prime256v1 -genkey -noout -out {d}/server.key && chmod 600 {d}/server.key"
        ),
        format!(
            "openssl req -new -key {d}/server.key -subj '/O=harbor-lab/CN={host}' -out {d}/server.csr"
        ),
        format!(
            "printf 'subjectAltName={san}\\nbasicConstraints=CA:FALSE\\nkeyUsage=critical,digitalSignature\\nextendedKeyUsage=serverAuth\\n' > {d}/v3.ext"
        ),
        format!(
            "openssl x509 -req -in {d}/server.csr -CA {d}/ca.crt -CAkey {d}/ca.key -CAcreateserial -days 397 -sha256 -extfile {d}/v3.ext -out {d}/server.crt"
        ),
        format!(
            "mkdir -p {c} && cp {d}/ca.crt {c}/ca.crt",
            c = certs_dir.display()
        ),
    ]
}

/// The `tls` step: write the lab's CA and server certificate (or say that the
/// user's pair is used).
pub(crate) fn write_pair(
    ui: &Reporter,
    report: &mut InstallReport,
    p: &Prepared,
    host: &str,
    certs_dir: &Path,
    dry_run: bool,
    explain: bool,
) -> anyhow::Result<()> {
    if explain {
        for l in explain_lines(host, &p.files.dir, certs_dir) {
            ui.line(&format!("  $ {l}"));
        }
    }
    let expires = p.leaf.expires();
    let Some(plan) = &p.plan else {
        report.step(
            ui,
            "tls",
            "checked",
            format!(
                "{} (for {}, expires {expires}) with its key {}",
                p.certificate.display(),
                p.leaf.names(),
                p.private_key.display()
            ),
        );
        return Ok(());
    };
    if let Some(mode) = plan.ca_key_mode {
        ui.warn(&format!(
            "{} could be read by other users (mode {mode:o}); {} it to 0600",
            p.files.ca_key().display(),
            if dry_run { "would set" } else { "setting" }
        ));
    }
    let mut what: Vec<String> = Vec::new();
    if let Some(ca) = &plan.ca {
        what.push(format!("{} ({})", p.files.ca_cert().display(), ca.reason));
    }
    if let Some(s) = &plan.server {
        what.push(format!(
            "{} for {host}, expires {expires} ({})",
            p.files.server_cert().display(),
            s.reason
        ));
    }
    if plan.changes_nothing() {
        report.step(
            ui,
            "tls",
            "skipped",
            format!(
                "{} for {host} is current (expires {expires})",
                p.files.server_cert().display()
            ),
        );
    } else if dry_run {
        report.step(ui, "tls", "planned", format!("issue {}", what.join("; ")));
    } else {
        lab::apply(&p.files, plan)?;
        let detail = if what.is_empty() {
            format!("{} is 0600 again", p.files.ca_key().display())
        } else {
            format!("issued {}", what.join("; "))
        };
        report.step(ui, "tls", "done", detail);
    }
    Ok(())
}

/// The `docker-trust` step: the CA into `<certs.d>/<host>:<port>/ca.crt`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn trust(
    ui: &Reporter,
    report: &mut InstallReport,
    state: &mut State,
    wd: &Workdir,
    p: &Prepared,
    root: &Path,
    host: &str,
    dry_run: bool,
) -> anyhow::Result<()> {
    let previous = state.tls.as_ref().and_then(|t| t.certs_d.clone());
    let dir = certs_d::dir_for(root, host, p.https_port);
    let record = |certs_d| TlsRecord {
        https_port: p.https_port,
        certificate: p.certificate.clone(),
        private_key: p.private_key.clone(),
        ca_certificate: p.ca.as_ref().map(|c| c.0.clone()),
        certs_d,
    };
    // An entry for another host or port (the hostname changed) goes first.
    if let Some(prev) = previous.as_ref().filter(|r| r.path != dir.join("ca.crt"))
        && !dry_run
    {
        certs_d::remove(prev)?;
    }
    let Some((ca_path, ca_pem)) = &p.ca else {
        report.step(
            ui,
            "docker-trust",
            "skipped",
            "the certificate is issued by a CA outside the lab: Docker trusts it through the system store".into(),
        );
        if !dry_run {
            state.tls = Some(record(None));
            wd.save(state)?;
        }
        return Ok(());
    };
    let current = certs_d::is_current(root, host, p.https_port, ca_pem);
    let detail = format!("{} in {}", ca_path.display(), dir.display());
    if current && previous.is_some() {
        report.step(
            ui,
            "docker-trust",
            "skipped",
            format!("Docker already trusts {detail}"),
        );
    } else if dry_run {
        report.step(ui, "docker-trust", "planned", format!("copy {detail}"));
        return Ok(());
    } else {
        let prev_here = previous.as_ref().filter(|r| r.path == dir.join("ca.crt"));
        let rec = certs_d::install(root, host, p.https_port, ca_pem, prev_here)?;
        let backup = rec
            .backup
            .as_ref()
            .map(|b| format!(" (your earlier one is kept as {})", b.display()))
            .unwrap_or_default();
        state.tls = Some(record(Some(rec)));
        wd.save(state)?;
        report.step(
            ui,
            "docker-trust",
            "done",
            format!("copied {detail}{backup}; dockerd reads it on each connection, no reload"),
        );
        return Ok(());
    }
    let rec = state.tls.as_ref().and_then(|t| t.certs_d.clone());
    state.tls = Some(record(rec));
    wd.save(state)?;
    Ok(())
}

/// HTTP mode after a TLS run: put certs.d back as it was.
pub(crate) fn untrust(
    ui: &Reporter,
    report: &mut InstallReport,
    state: &mut State,
    wd: &Workdir,
    dry_run: bool,
) -> anyhow::Result<()> {
    let Some(rec) = state.tls.clone() else {
        return Ok(());
    };
    if dry_run {
        report.step(
            ui,
            "docker-trust",
            "planned",
            "undo the certs.d entry of the earlier --tls run".into(),
        );
        return Ok(());
    }
    if let Some(c) = &rec.certs_d {
        let done = certs_d::remove(c)?;
        report.step(ui, "docker-trust", "done", removed_text(&done));
    }
    state.tls = None;
    wd.save(state)?;
    Ok(())
}

pub(crate) fn removed_text(r: &certs_d::Removed) -> String {
    match r {
        certs_d::Removed::Restored(p) => format!("restored your {}", p.display()),
        certs_d::Removed::Deleted(p) => format!("removed {}", p.display()),
        certs_d::Removed::KeptChanged(p) => {
            format!(
                "left {} alone: it changed since harbor-lab wrote it",
                p.display()
            )
        }
        certs_d::Removed::Untouched(p) => format!("{} was yours; left as it is", p.display()),
    }
}

/// TLS mode leaves daemon.json alone, except for the `insecure-registries`
/// entries an earlier HTTP run of harbor-lab added: those go, with a reload
/// confirmed through `docker info`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn drop_insecure(
    ctx: &Context,
    ui: &Reporter,
    report: &mut InstallReport,
    state: &mut State,
    wd: &Workdir,
    path: &Path,
    dry_run: bool,
    no_reload: bool,
) -> anyhow::Result<()> {
    let ours = state
        .daemon_config
        .as_ref()
        .map(|r| r.added.clone())
        .unwrap_or_default();
    let current = daemon_config::read(path)?;
    let removal = daemon_config::remove(path, current.as_deref(), &ours)?;
    let Some(new) = removal.new_text else {
        report.step(
            ui,
            "daemon-config",
            "skipped",
            format!("TLS: {} is not touched", path.display()),
        );
        return Ok(());
    };
    let gone = removal.added;
    if dry_run {
        report.step(
            ui,
            "daemon-config",
            "planned",
            format!(
                "take {} (added by an earlier HTTP run) out of insecure-registries in {}",
                gone.join(", "),
                path.display()
            ),
        );
        return Ok(());
    }
    write_atomic(path, new.as_bytes(), 0o644)
        .with_context(|| format!("writing {}", path.display()))?;
    if let Some(rec) = state.daemon_config.as_mut() {
        rec.added.retain(|e| !gone.contains(e));
    }
    wd.save(state)?;
    report.step(
        ui,
        "daemon-config",
        "done",
        format!(
            "took {} out of insecure-registries in {} (TLS needs no insecure entry)",
            gone.join(", "),
            path.display()
        ),
    );
    if no_reload {
        report.step(ui, "daemon-reload", "skipped", "--no-daemon-reload".into());
        return Ok(());
    }
    let pid = super::daemon::signal_dockerd(path)?;
    let docker = crate::docker::engine::connect(ctx).await?;
    if !daemon_config::confirm_gone(&docker, &gone, Duration::from_secs(10)).await {
        return Err(UserError::environment(format!(
            "dockerd (pid {pid}) still lists {} as insecure after a reload; restart Docker and run again",
            gone.join(", ")
        ))
        .into());
    }
    report.step(
        ui,
        "daemon-reload",
        "done",
        format!(
            "dockerd (pid {pid}) reloaded; docker info no longer lists {}",
            gone.join(", ")
        ),
    );
    Ok(())
}
