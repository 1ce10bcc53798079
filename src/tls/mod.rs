//! TLS for the lab's Harbor: what a certificate says (names, validity, key),
//! the checks a user's `--tls-cert/--tls-key[/--tls-ca]` must pass before
//! anything is written, and (in `lab`) the lab's own CA and server certificate.
//!
//! Parsing is x509-parser; the name and chain checks are rustls-webpki, the
//! same code rustls clients use, so "valid here" means "valid for a client".

pub mod lab;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use x509_parser::extensions::{GeneralName, ParsedExtension};

/// Browsers and Apple clients refuse server certificates that live longer.
pub const SERVER_MAX_DAYS: u64 = 397;
/// A lab server certificate with fewer days left than this is issued again.
pub const RENEW_DAYS: u64 = 30;
const DAY: u64 = 86_400;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file is wrong: names the file and what to do.
    #[error("{path}: {detail}")]
    BadFile { path: PathBuf, detail: String },
    /// A file could not be read or written.
    #[error("{path}: {detail}")]
    Io { path: PathBuf, detail: String },
    #[error("issuing a certificate: {0}")]
    Issue(String),
}

fn bad(path: &Path, detail: impl Into<String>) -> TlsError {
    TlsError::BadFile {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// Read a file; a missing or unreadable one is the user's to fix (exit 2).
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| bad(path, format!("cannot read it ({e})")))
}

/// What one certificate says.
#[derive(Debug, Clone)]
pub struct CertInfo {
    pub der: Vec<u8>,
    /// Seconds since the epoch.
    pub not_before: i64,
    pub not_after: i64,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub is_ca: bool,
    /// Issuer and subject are the same name.
    pub self_issued: bool,
    /// The SubjectPublicKeyInfo, DER (to match a private key).
    pub spki: Vec<u8>,
}

impl CertInfo {
    /// The SAN entries, for messages.
    pub fn names(&self) -> String {
        let mut v: Vec<String> = self.dns_names.clone();
        v.extend(self.ip_addresses.iter().map(|ip| format!("IP {ip}")));
        if v.is_empty() {
            "no subject alternative name".into()
        } else {
            v.join(", ")
        }
    }

    /// Does the certificate hold `host` the way clients check it (SAN only,
    /// an IP address as an IP SAN)?
    pub fn covers(&self, host: &str) -> bool {
        let Ok(name) = ServerName::try_from(host) else {
            return false;
        };
        let der = CertificateDer::from(self.der.as_slice());
        webpki::EndEntityCert::try_from(&der)
            .is_ok_and(|ee| ee.verify_is_valid_for_subject_name(&name).is_ok())
    }

    /// Whole days from `now` until the certificate expires (negative: expired).
    pub fn days_left(&self, now: SystemTime) -> i64 {
        (self.not_after - unix(now)).div_euclid(DAY as i64)
    }

    pub fn expires(&self) -> String {
        date(self.not_after)
    }
}

pub(crate) fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `YYYY-MM-DD` (UTC) of a Unix time.
pub fn date(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .map_or_else(|_| format!("@{secs}"), |t| t.date().to_string())
}

/// The PEM blocks of `text` labelled `label`, as DER.
pub(crate) fn pem_blocks(text: &[u8], label: &str) -> Vec<Vec<u8>> {
    pem::parse_many(text)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.tag() == label)
        .map(|p| p.into_contents())
        .collect()
}

/// Parse one DER certificate.
pub fn parse_der(der: &[u8]) -> Result<CertInfo, String> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("not an X.509 certificate ({e})"))?;
    if !rest.is_empty() {
        return Err("trailing bytes after the certificate".into());
    }
    let mut info = CertInfo {
        der: der.to_vec(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        dns_names: Vec::new(),
        ip_addresses: Vec::new(),
        is_ca: false,
        self_issued: cert.issuer().as_raw() == cert.subject().as_raw(),
        spki: cert.public_key().raw.to_vec(),
    };
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(d) => info.dns_names.push(d.to_string()),
                        GeneralName::IPAddress(b) => match b.len() {
                            4 => info
                                .ip_addresses
                                .push(IpAddr::from(<[u8; 4]>::try_from(*b).expect("4 bytes"))),
                            16 => info
                                .ip_addresses
                                .push(IpAddr::from(<[u8; 16]>::try_from(*b).expect("16 bytes"))),
                            _ => {}
                        },
                        _ => {}
                    }
                }
            }
            ParsedExtension::BasicConstraints(bc) => info.is_ca = bc.ca,
            _ => {}
        }
    }
    Ok(info)
}

/// The certificates of a PEM file, first (the leaf, in a chain file) first.
pub fn parse_pem_chain(text: &[u8]) -> Result<Vec<CertInfo>, String> {
    let blocks = pem_blocks(text, "CERTIFICATE");
    if blocks.is_empty() {
        return Err("holds no PEM CERTIFICATE block".into());
    }
    blocks.iter().map(|b| parse_der(b)).collect()
}

/// Read a PEM certificate file (the first certificate; the rest as a chain).
pub fn read_cert(path: &Path) -> Result<Vec<CertInfo>, TlsError> {
    let text = read_file(path)?;
    parse_pem_chain(&text).map_err(|d| bad(path, d))
}

/// Parse a PEM private key (PKCS#8, SEC1 or PKCS#1; not encrypted).
pub fn parse_key(text: &[u8]) -> Result<rcgen::KeyPair, String> {
    let s = std::str::from_utf8(text).map_err(|_| "not a PEM file".to_string())?;
    if s.contains("ENCRYPTED PRIVATE KEY") {
        return Err("the key is encrypted; Harbor's nginx needs it unencrypted".into());
    }
    rcgen::KeyPair::from_pem(s).map_err(|_| {
        "not a PEM private key (PKCS#8 \"PRIVATE KEY\", \"EC PRIVATE KEY\" or \"RSA PRIVATE KEY\")"
            .to_string()
    })
}

/// Does the key pair belong to the certificate?
pub fn key_matches(cert: &CertInfo, key: &rcgen::KeyPair) -> bool {
    use rcgen::PublicKeyData;
    key.subject_public_key_info() == cert.spki
}

/// Is `leaf` (with `chain` as intermediates) issued by `ca` for serverAuth
/// and valid at `now`? The error says why not.
pub fn chains_to(
    leaf: &CertInfo,
    chain: &[CertInfo],
    ca: &CertInfo,
    now: SystemTime,
) -> Result<(), String> {
    let leaf_der = CertificateDer::from(leaf.der.as_slice());
    let ee = webpki::EndEntityCert::try_from(&leaf_der).map_err(|e| format!("{e:?}"))?;
    let ca_der = CertificateDer::from(ca.der.as_slice());
    let anchor = webpki::anchor_from_trusted_cert(&ca_der).map_err(|e| format!("{e:?}"))?;
    let intermediates: Vec<CertificateDer> = chain
        .iter()
        .map(|c| CertificateDer::from(c.der.as_slice()))
        .collect();
    let secs = u64::try_from(unix(now)).unwrap_or(0);
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[anchor],
        &intermediates,
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs)),
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )
    .map(|_| ())
    .map_err(|e| format!("{e:?}"))
}

/// A user's certificate and key, checked.
#[derive(Debug, Clone)]
pub struct Given {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The CA clients must trust: --tls-ca, else the certificate itself when it
    /// is self-signed, else none (a CA the system store already trusts).
    pub ca: Option<PathBuf>,
    pub leaf: CertInfo,
}

/// Check `--tls-cert/--tls-key[/--tls-ca]` for Harbor at `host`, before
/// anything is written. Every failure names the file and what is wrong.
pub fn check_given(
    cert: &Path,
    key: &Path,
    ca: Option<&Path>,
    host: &str,
    now: SystemTime,
) -> Result<Given, TlsError> {
    let chain = read_cert(cert).map_err(|e| flag(e, "--tls-cert"))?;
    let leaf = chain[0].clone();
    let pair = parse_key(&read_file(key).map_err(|e| flag(e, "--tls-key"))?)
        .map_err(|d| bad(key, format!("--tls-key: {d}")))?;
    if !key_matches(&leaf, &pair) {
        return Err(bad(
            key,
            format!(
                "--tls-key does not belong to the certificate {} (their public keys differ); pass the key that was made with it",
                cert.display()
            ),
        ));
    }
    if !leaf.covers(host) {
        return Err(bad(
            cert,
            format!(
                "--tls-cert is for {}, not for Harbor's hostname {host}; issue one whose subject alternative name holds {host} (an IP address as an IP SAN), or leave --tls-cert out and let harbor-lab make one",
                leaf.names()
            ),
        ));
    }
    let t = unix(now);
    if leaf.not_after < t {
        return Err(bad(
            cert,
            format!("--tls-cert expired on {}; renew it", leaf.expires()),
        ));
    }
    if leaf.not_before > t {
        return Err(bad(
            cert,
            format!("--tls-cert is not valid before {}", date(leaf.not_before)),
        ));
    }
    let ca_path = match ca {
        Some(p) => {
            let anchors = read_cert(p).map_err(|e| flag(e, "--tls-ca"))?;
            let ok = anchors
                .iter()
                .any(|a| chains_to(&leaf, &chain[1..], a, now).is_ok());
            if !ok {
                let why = chains_to(&leaf, &chain[1..], &anchors[0], now).unwrap_err();
                return Err(bad(
                    cert,
                    format!(
                        "--tls-cert is not issued by --tls-ca {} for server use ({why})",
                        p.display()
                    ),
                ));
            }
            Some(p.to_path_buf())
        }
        None if leaf.self_issued => Some(cert.to_path_buf()),
        None => None,
    };
    Ok(Given {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        ca: ca_path,
        leaf,
    })
}

/// Prefix a file error's detail with the flag that named the file.
fn flag(e: TlsError, name: &str) -> TlsError {
    match e {
        TlsError::BadFile { path, detail } => TlsError::BadFile {
            path,
            detail: format!("{name}: {detail}"),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_refused_without_panic() {
        for t in [
            &b""[..],
            b"x",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ] {
            assert!(parse_pem_chain(t).is_err());
            assert!(parse_key(t).is_err());
        }
        assert!(parse_der(&[0x30, 0x03, 0x02, 0x01, 0x01]).is_err());
    }

    #[test]
    fn dates_are_days() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(86_400 * 365), "1971-01-01");
    }
}
