//! The TLS steps of `install --tls`: `tls` (the certificate pair: the lab's,
//! made and kept in `<workdir>/tls`, or the user's, checked) and
//! `docker-trust` (the CA in Docker's certs.d). Without `--tls`,
//! `docker-trust` undoes the certs.d entry an earlier `--tls` run made. The
//! daemon-config steps (daemon.rs) leave daemon.json alone in TLS mode, but
//! for taking out an `insecure-registries` entry an earlier HTTP run added.

use std::path::{Path, PathBuf};

use super::InstallRun;
use crate::context::Context;
use crate::docker::certs_d;
use crate::journal::TlsRecord;
use crate::lab::options::{InstallOptions, TlsOptions};
use crate::lab::step::{Check, Outcome};
use crate::tls::{self, lab};
use crate::workdir::Workdir;

/// The pair Harbor will serve, decided (and checked) before anything is written.
pub struct Prepared {
    pub https_port: u16,
    pub certificate: PathBuf,
    pub private_key: PathBuf,
    /// What clients trust, and its bytes (None: a CA in the system store).
    pub ca: Option<(PathBuf, Vec<u8>)>,
    /// The lab's plan (None: the user's pair).
    plan: Option<lab::Plan>,
    files: lab::LabFiles,
    pub leaf: tls::CertInfo,
}

impl Prepared {
    /// sha256 of the certificate Harbor will serve: install.sh runs again when
    /// it changes (prepare copies it into nginx's config).
    pub fn served_sha256(&self) -> String {
        crate::digest::sha256_digest(&self.leaf.der)
    }
    pub fn ca_pem(&self) -> Option<&[u8]> {
        self.ca.as_ref().map(|c| c.1.as_slice())
    }
}

/// `--tls`: check the user's pair, or plan the lab's. Writes nothing.
pub fn prepare(
    ctx: &Context,
    opts: &TlsOptions,
    workdir: &Workdir,
    host: &str,
) -> anyhow::Result<Prepared> {
    let files = lab::LabFiles::new(workdir.tls_dir());
    if let Some(g) = &opts.given {
        let given = tls::check_given(&g.cert, &g.key, g.ca.as_deref(), host, ctx.now())?;
        let ca = match &given.ca {
            Some(p) => Some((p.clone(), tls::read_file(p)?)),
            None => None,
        };
        return Ok(Prepared {
            https_port: opts.https_port,
            certificate: g.cert.clone(),
            private_key: g.key.clone(),
            ca,
            plan: None,
            files,
            leaf: given.leaf,
        });
    }
    let plan = lab::plan(&files, host, ctx.now())?;
    let ca_pem = match &plan.ca {
        Some(new) => new.cert_pem.clone().into_bytes(),
        None => tls::read_file(&files.ca_cert())?,
    };
    Ok(Prepared {
        https_port: opts.https_port,
        certificate: files.server_cert(),
        private_key: files.server_key(),
        ca: Some((files.ca_cert(), ca_pem)),
        leaf: plan.server_info.clone(),
        plan: Some(plan),
        files,
    })
}

/// The openssl and cp commands the TLS steps replace (`up --explain`).
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

fn certs_dir_for(opts: &InstallOptions, t: &TlsOptions) -> PathBuf {
    certs_d::dir_for(&t.certs_dir, &opts.host.host, t.https_port)
}

pub(super) fn plan_tls(opts: &InstallOptions) -> String {
    match &opts.tls {
        None => "serve plain HTTP, as the tutorial does (--tls for HTTPS)".into(),
        Some(t) => match &t.given {
            Some(g) => format!(
                "serve HTTPS on port {} with {}",
                t.https_port,
                g.cert.display()
            ),
            None => format!(
                "serve HTTPS on port {} with a certificate for {} from the lab CA {}",
                t.https_port,
                opts.host.host,
                opts.workdir.tls_dir().join("ca.crt").display()
            ),
        },
    }
}

/// `--explain`: the openssl and cp commands of the TLS steps (`--tls` only).
pub(super) fn explain_tls(run: &InstallRun<'_>) -> Vec<String> {
    let (Some(t), Some(p)) = (&run.opts.tls, &run.tls) else {
        return Vec::new();
    };
    explain_lines(
        &run.opts.host.host,
        &p.files.dir,
        &certs_dir_for(run.opts, t),
    )
}

pub(super) async fn check_tls(run: &mut InstallRun<'_>) -> anyhow::Result<Check> {
    let (Some(_), Some(p)) = (&run.opts.tls, &run.tls) else {
        return Ok(Check::Done("plain HTTP (no --tls)".into()));
    };
    let expires = p.leaf.expires();
    let Some(plan) = &p.plan else {
        return Ok(Check::Checked(format!(
            "{} (for {}, expires {expires}) with its key {}",
            p.certificate.display(),
            p.leaf.names(),
            p.private_key.display()
        )));
    };
    if let Some(mode) = plan.ca_key_mode {
        run.ui.warn(&format!(
            "{} could be read by other users (mode {mode:o}); {} it to 0600",
            p.files.ca_key().display(),
            if run.opts.dry_run {
                "would set"
            } else {
                "setting"
            }
        ));
    }
    if plan.changes_nothing() {
        return Ok(Check::Done(format!(
            "{} for {} is current (expires {expires})",
            p.files.server_cert().display(),
            run.opts.host.host
        )));
    }
    Ok(Check::needed(issue_text(p, &run.opts.host.host)))
}

fn issue_text(p: &Prepared, host: &str) -> String {
    let Some(plan) = &p.plan else {
        return String::new();
    };
    let mut what: Vec<String> = Vec::new();
    if let Some(ca) = &plan.ca {
        what.push(format!("{} ({})", p.files.ca_cert().display(), ca.reason));
    }
    if let Some(s) = &plan.server {
        what.push(format!(
            "{} for {host}, expires {} ({})",
            p.files.server_cert().display(),
            p.leaf.expires(),
            s.reason
        ));
    }
    if what.is_empty() {
        format!("make {} 0600", p.files.ca_key().display())
    } else {
        format!("issue {}", what.join("; "))
    }
}

pub(super) async fn apply_tls(run: &mut InstallRun<'_>) -> anyhow::Result<Outcome> {
    let Some(p) = &run.tls else {
        return Ok(Outcome::skipped("plain HTTP (no --tls)"));
    };
    let Some(plan) = &p.plan else {
        return Ok(Outcome::skipped("the given pair is used as it is"));
    };
    lab::apply(&p.files, plan)?;
    let text = issue_text(p, &run.opts.host.host);
    Ok(Outcome::done(text.replacen("issue ", "issued ", 1)))
}

pub(super) fn plan_trust(opts: &InstallOptions) -> String {
    match &opts.tls {
        None => "remove a certs.d entry an earlier --tls run made, if any".into(),
        Some(t) => format!(
            "let Docker trust the CA through {} (no reload; daemon.json is not touched)",
            certs_dir_for(opts, t).join("ca.crt").display()
        ),
    }
}

fn record(p: &Prepared, certs_d: Option<certs_d::CertsDRecord>) -> TlsRecord {
    TlsRecord {
        https_port: p.https_port,
        certificate: p.certificate.clone(),
        private_key: p.private_key.clone(),
        ca_certificate: p.ca.as_ref().map(|c| c.0.clone()),
        certs_d,
    }
}

pub(super) async fn check_trust(run: &mut InstallRun<'_>) -> anyhow::Result<Check> {
    let previous = run.state.tls.as_ref().and_then(|t| t.certs_d.clone());
    let (Some(t), Some(p)) = (&run.opts.tls, &run.tls) else {
        return Ok(match previous {
            Some(c) => Check::needed(format!(
                "undo {} of the earlier --tls run",
                c.path.display()
            )),
            None => Check::Done("no certs.d entry of harbor-lab's".into()),
        });
    };
    let dir = certs_dir_for(run.opts, t);
    let Some((ca_path, ca_pem)) = &p.ca else {
        return Ok(Check::needed(
            "record that the certificate's CA is outside the lab (Docker trusts it through the system store)",
        ));
    };
    let here = previous
        .as_ref()
        .is_some_and(|c| c.path == dir.join("ca.crt"));
    let current = certs_d::is_current(&t.certs_dir, &run.opts.host.host, t.https_port, ca_pem);
    let recorded = run.state.tls.as_ref() == Some(&record(p, previous.clone()));
    if current && here && recorded {
        return Ok(Check::Done(format!(
            "Docker already trusts {} through {}",
            ca_path.display(),
            dir.display()
        )));
    }
    Ok(Check::needed(format!(
        "copy {} to {}",
        ca_path.display(),
        dir.join("ca.crt").display()
    )))
}

pub(super) async fn apply_trust(run: &mut InstallRun<'_>) -> anyhow::Result<Outcome> {
    let previous = run.state.tls.as_ref().and_then(|t| t.certs_d.clone());
    let (Some(t), Some(p)) = (&run.opts.tls, &run.tls) else {
        // HTTP again: certs.d as it was before the --tls run.
        let text = match &previous {
            Some(c) => removed_text(&certs_d::remove(c)?),
            None => "nothing to undo".into(),
        };
        run.state.tls = None;
        return Ok(Outcome::done(text));
    };
    let dir = certs_dir_for(run.opts, t);
    // An entry for another host or port (the hostname changed) goes first.
    let (here, elsewhere): (Option<_>, Option<_>) = match previous {
        Some(c) if c.path == dir.join("ca.crt") => (Some(c), None),
        other => (None, other),
    };
    if let Some(old) = &elsewhere {
        certs_d::remove(old)?;
    }
    let Some((ca_path, ca_pem)) = &p.ca else {
        run.state.tls = Some(record(p, None));
        return Ok(Outcome::done(
            "the certificate is issued by a CA outside the lab: Docker trusts it through the system store",
        ));
    };
    let rec = certs_d::install(
        &t.certs_dir,
        &run.opts.host.host,
        t.https_port,
        ca_pem,
        here.as_ref(),
    )?;
    let backup = rec
        .backup
        .as_ref()
        .map(|b| format!(" (your earlier one is kept as {})", b.display()))
        .unwrap_or_default();
    let detail = format!(
        "copied {} to {}{backup}; dockerd reads it on each connection, no reload",
        ca_path.display(),
        rec.path.display()
    );
    run.state.tls = Some(record(p, Some(rec)));
    Ok(Outcome::done(detail))
}

/// What `certs_d::remove` did, for a step's line.
pub fn removed_text(r: &certs_d::Removed) -> String {
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
