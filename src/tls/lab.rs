//! The lab's own CA and Harbor's server certificate, kept in `<workdir>/tls/`.
//!
//! `plan` decides everything in memory (reuse, issue, renew and why) and
//! writes nothing, so a dry run or a refused command leaves the files alone;
//! `apply` writes what the plan made, atomically, keys 0600. A re-run reuses
//! both certificates; the server certificate is issued again when Harbor's
//! hostname changed or fewer than [`RENEW_DAYS`] days are left, with the same
//! key, so a private key is never replaced.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

use super::{
    CertInfo, RENEW_DAYS, SERVER_MAX_DAYS, TlsError, bad, parse_key, read_cert, read_file,
};
use crate::fsutil::write_atomic;

/// The CA lives ten years: it is what users import into browsers and stores.
const CA_DAYS: u64 = 3650;
const DAY: u64 = 86_400;

/// The file layout of `<workdir>/tls`.
#[derive(Debug, Clone)]
pub struct LabFiles {
    pub dir: PathBuf,
}

impl LabFiles {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LabFiles { dir: dir.into() }
    }
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }
    pub fn ca_key(&self) -> PathBuf {
        self.dir.join("ca.key")
    }
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.crt")
    }
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
}

/// One certificate (and maybe its key) the plan will write.
#[derive(Debug, Clone)]
pub struct NewCert {
    pub cert_pem: String,
    /// None: the key on disk is kept.
    pub key_pem: Option<String>,
    /// Why it is issued ("new", "the hostname changed", ...).
    pub reason: String,
}

/// What `apply` will do, decided without writing.
#[derive(Debug, Clone)]
pub struct Plan {
    pub ca: Option<NewCert>,
    pub server: Option<NewCert>,
    /// The CA key's permission bits when they let others read it (fixed to 0600).
    pub ca_key_mode: Option<u32>,
    /// The server certificate that will be in place after `apply`.
    pub server_info: CertInfo,
}

impl Plan {
    pub fn changes_nothing(&self) -> bool {
        self.ca.is_none() && self.server.is_none() && self.ca_key_mode.is_none()
    }
}

fn issue_err(e: rcgen::Error) -> TlsError {
    TlsError::Issue(e.to_string())
}

fn random_serial() -> rcgen::SerialNumber {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the operating system's random source failed");
    b[0] &= 0x7f;
    rcgen::SerialNumber::from_slice(&b)
}

fn validity(params: &mut CertificateParams, now: SystemTime, days: u64) {
    // An hour back covers clocks that are a little behind; the whole
    // lifetime, from not_before, stays within `days`.
    let start = now - Duration::from_secs(3600);
    params.not_before = start.into();
    params.not_after = (start + Duration::from_secs(days * DAY)).into();
}

fn ca_params(now: SystemTime) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "harbor-lab");
    dn.push(DnType::CommonName, "harbor-lab local CA");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.serial_number = Some(random_serial());
    validity(&mut p, now, CA_DAYS);
    p
}

fn server_params(host: &str, now: SystemTime) -> Result<CertificateParams, TlsError> {
    let mut p = CertificateParams::default();
    let san = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => SanType::IpAddress(ip),
        Err(_) => SanType::DnsName(
            host.to_string()
                .try_into()
                .map_err(|_| TlsError::Issue(format!("{host:?} is not a DNS name")))?,
        ),
    };
    p.subject_alt_names = vec![san];
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "harbor-lab");
    dn.push(DnType::CommonName, host);
    p.distinguished_name = dn;
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.use_authority_key_identifier_extension = true;
    p.serial_number = Some(random_serial());
    validity(&mut p, now, SERVER_MAX_DAYS);
    Ok(p)
}

fn new_key() -> Result<KeyPair, TlsError> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(issue_err)
}

/// The CA on disk: its certificate, key, and key file mode.
fn load_ca(files: &LabFiles) -> Result<Option<(String, CertInfo, KeyPair, u32)>, TlsError> {
    let (cert_path, key_path) = (files.ca_cert(), files.ca_key());
    match (cert_path.exists(), key_path.exists()) {
        (false, false) => return Ok(None),
        (true, false) => {
            return Err(bad(
                &key_path,
                format!(
                    "is missing, but {} is there; put the CA key back, or remove {} to start a new lab CA (clients that trusted the old one must then trust the new one)",
                    cert_path.display(),
                    files.dir.display()
                ),
            ));
        }
        (false, true) => {
            return Err(bad(
                &cert_path,
                format!(
                    "is missing, but its key {} is there; put the CA certificate back, or remove {} to start a new lab CA",
                    key_path.display(),
                    files.dir.display()
                ),
            ));
        }
        (true, true) => {}
    }
    let cert_pem = String::from_utf8(read_file(&cert_path)?)
        .map_err(|_| bad(&cert_path, "is not a PEM file"))?;
    let info = read_cert(&cert_path)?.swap_remove(0);
    let key = parse_key(&read_file(&key_path)?).map_err(|d| bad(&key_path, d))?;
    if !super::key_matches(&info, &key) {
        return Err(bad(
            &key_path,
            format!(
                "is not the key of the lab CA {}; remove {} to start a new lab CA",
                cert_path.display(),
                files.dir.display()
            ),
        ));
    }
    let mode = std::fs::metadata(&key_path)
        .map(|m| m.permissions().mode() & 0o7777)
        .map_err(|e| bad(&key_path, e.to_string()))?;
    Ok(Some((cert_pem, info, key, mode)))
}

/// Decide what the lab's TLS files need for Harbor at `host`.
pub fn plan(files: &LabFiles, host: &str, now: SystemTime) -> Result<Plan, TlsError> {
    let t = super::unix(now);
    let (ca_pem, ca_info, ca_key, ca_new, ca_key_mode) = match load_ca(files)? {
        Some((pem, info, key, mode)) => {
            // A CA key is never replaced behind the user's back: clients trust it.
            let left = info.not_after - t;
            if !info.is_ca || left < (RENEW_DAYS * DAY) as i64 {
                let what = if info.is_ca {
                    format!("the lab CA expires on {}", info.expires())
                } else {
                    "is not a CA certificate".to_string()
                };
                return Err(bad(
                    &files.ca_cert(),
                    format!(
                        "{what}; remove {} to start a new lab CA (clients must then trust the new one)",
                        files.dir.display()
                    ),
                ));
            }
            let lax = (mode & 0o077 != 0).then_some(mode);
            (pem, info, key, None, lax)
        }
        None => {
            let key = new_key()?;
            let cert = ca_params(now).self_signed(&key).map_err(issue_err)?;
            let pem = cert.pem();
            let info = super::parse_der(cert.der()).map_err(TlsError::Issue)?;
            let new = NewCert {
                cert_pem: pem.clone(),
                key_pem: Some(key.serialize_pem()),
                reason: "new lab CA".to_string(),
            };
            (pem, info, key, Some(new), None)
        }
    };

    // The server certificate: reuse when it is ours, for this host, and fresh.
    let (cert_path, key_path) = (files.server_cert(), files.server_key());
    let old_key = if key_path.exists() {
        Some(parse_key(&read_file(&key_path)?).map_err(|d| bad(&key_path, d))?)
    } else {
        None
    };
    let old_cert = if cert_path.exists() {
        read_cert(&cert_path).ok().map(|mut v| v.swap_remove(0))
    } else {
        None
    };
    let verdict = match (&old_cert, &old_key) {
        (Some(c), Some(k)) if super::key_matches(c, k) => {
            if ca_new.is_some() {
                Some("the lab CA is new".to_string())
            } else if super::chains_to(c, &[], &ca_info, now).is_err() && c.not_after >= t {
                Some(format!(
                    "{} is not issued by the lab CA",
                    cert_path.display()
                ))
            } else if !c.covers(host) {
                Some(format!(
                    "the hostname changed (the certificate is for {}, Harbor is now {host})",
                    c.names()
                ))
            } else if c.not_after - t < (RENEW_DAYS * DAY) as i64 {
                Some(format!(
                    "the certificate expires on {} (fewer than {RENEW_DAYS} days left)",
                    c.expires()
                ))
            } else {
                None
            }
        }
        (Some(_), Some(_)) => Some(format!(
            "{} does not belong to {}",
            key_path.display(),
            cert_path.display()
        )),
        (None, Some(_)) => Some(format!("{} is missing", cert_path.display())),
        _ => Some("new server certificate".to_string()),
    };
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, &ca_key).map_err(issue_err)?;
    let (server, server_info) = match verdict {
        None => (None, old_cert.expect("checked above")),
        Some(reason) => {
            // Keep a server key we have (it matches no other certificate we
            // would lose); make one only when there is none.
            let (key, key_pem) = match old_key {
                Some(k) => (k, None),
                None => {
                    let k = new_key()?;
                    let pem = k.serialize_pem();
                    (k, Some(pem))
                }
            };
            let cert = server_params(host, now)?
                .signed_by(&key, &issuer)
                .map_err(issue_err)?;
            let info = super::parse_der(cert.der()).map_err(TlsError::Issue)?;
            (
                Some(NewCert {
                    cert_pem: cert.pem(),
                    key_pem,
                    reason,
                }),
                info,
            )
        }
    };
    Ok(Plan {
        ca: ca_new,
        server,
        ca_key_mode,
        server_info,
    })
}

fn write(path: &Path, data: &str, mode: u32) -> Result<(), TlsError> {
    write_atomic(path, data.as_bytes(), mode).map_err(|e| TlsError::Io {
        path: path.to_path_buf(),
        detail: format!("cannot write it ({e})"),
    })
}

/// Write what `plan` decided: keys first (0600), then certificates (0644).
pub fn apply(files: &LabFiles, plan: &Plan) -> Result<(), TlsError> {
    std::fs::create_dir_all(&files.dir).map_err(|e| TlsError::Io {
        path: files.dir.clone(),
        detail: format!("cannot create it ({e})"),
    })?;
    if plan.ca_key_mode.is_some() {
        let p = files.ca_key();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
            TlsError::Io {
                path: p.clone(),
                detail: format!("cannot make it 0600 ({e})"),
            }
        })?;
    }
    for (new, cert, key) in [
        (&plan.ca, files.ca_cert(), files.ca_key()),
        (&plan.server, files.server_cert(), files.server_key()),
    ] {
        if let Some(n) = new {
            if let Some(k) = &n.key_pem {
                write(&key, k, 0o600)?;
            }
            write(&cert, &n.cert_pem, 0o644)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(days: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + days * DAY)
    }

    #[test]
    fn issues_reuses_and_renews() {
        let dir = tempfile::tempdir().unwrap();
        let files = LabFiles::new(dir.path().join("tls"));
        let p = plan(&files, "10.0.0.5", at(0)).unwrap();
        assert!(p.ca.is_some() && p.server.is_some());
        assert!(!files.dir.exists(), "plan writes nothing");
        apply(&files, &p).unwrap();
        let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(files.ca_key()), 0o600);
        assert_eq!(mode(files.server_key()), 0o600);
        let info = read_cert(&files.server_cert()).unwrap().swap_remove(0);
        assert!(info.covers("10.0.0.5") && !info.covers("10.0.0.6"));
        assert_eq!(
            info.ip_addresses,
            vec!["10.0.0.5".parse::<std::net::IpAddr>().unwrap()]
        );
        assert!(info.dns_names.is_empty());
        assert!(info.not_after - info.not_before <= (SERVER_MAX_DAYS * DAY) as i64);
        let ca = read_cert(&files.ca_cert()).unwrap().swap_remove(0);
        assert!(ca.is_ca);
        super::super::chains_to(&info, &[], &ca, at(1)).unwrap();

        // Re-run: nothing changes.
        assert!(plan(&files, "10.0.0.5", at(10)).unwrap().changes_nothing());
        // A new hostname: a new server certificate, same CA, same key.
        let p = plan(&files, "harbor.lab.test", at(10)).unwrap();
        assert!(p.ca.is_none());
        let s = p.server.as_ref().unwrap();
        assert!(s.reason.contains("hostname changed"), "{}", s.reason);
        assert!(s.key_pem.is_none());
        assert_eq!(p.server_info.dns_names, vec!["harbor.lab.test"]);
        // Close to expiry: renewed, and it says so.
        let p = plan(&files, "10.0.0.5", at(380)).unwrap();
        assert!(p.server.unwrap().reason.contains("fewer than 30 days"));
    }

    #[test]
    fn a_readable_ca_key_is_fixed_and_a_lost_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let files = LabFiles::new(dir.path());
        apply(&files, &plan(&files, "h.test", at(0)).unwrap()).unwrap();
        std::fs::set_permissions(files.ca_key(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let p = plan(&files, "h.test", at(1)).unwrap();
        assert_eq!(p.ca_key_mode, Some(0o644));
        apply(&files, &p).unwrap();
        assert_eq!(
            std::fs::metadata(files.ca_key())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        std::fs::remove_file(files.ca_key()).unwrap();
        let e = plan(&files, "h.test", at(1)).unwrap_err().to_string();
        assert!(e.contains("ca.key") && e.contains("missing"), "{e}");
    }
}
