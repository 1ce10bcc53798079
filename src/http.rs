//! The crate's one home for HTTP plumbing: the client builder (user agent,
//! timeouts, never a cookie store: Harbor turns a kept `sid` cookie into a
//! CSRF 403 on basic-auth writes; TLS roots read only when TLS is used),
//! bounded body reads, and error texts.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// How long a client waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Downloads and registries: 15 s to connect, 60 s between reads, so a
    /// large body may take as long as it keeps moving.
    Transfer,
    /// Harbor's REST API: 10 s to connect, 60 s for a whole request.
    Api,
}

/// A client builder with harbor-lab's user agent and `profile`'s timeouts,
/// trusting the system's roots (read at the first TLS handshake, see [`Trust`]).
pub fn builder(profile: Profile) -> reqwest::ClientBuilder {
    base(profile).tls_backend_preconfigured(lazy_roots(Vec::new()))
}

/// [`builder`], trusting `trust` instead.
pub fn builder_trusting(profile: Profile, trust: Trust) -> Result<reqwest::ClientBuilder, String> {
    Ok(match trust {
        Trust::System => builder(profile),
        Trust::SystemAnd(pem) => {
            let mut extra = Vec::new();
            let mut check = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| format!("not a PEM certificate: {e}"))?;
                // Refuse a bad certificate now, not at the first handshake.
                check
                    .add(cert.clone())
                    .map_err(|e| format!("not a usable CA certificate: {e}"))?;
                extra.push(cert);
            }
            base(profile).tls_backend_preconfigured(lazy_roots(extra))
        }
        // reqwest's own verifier for this case loads no roots either.
        Trust::Anyone => base(profile).tls_danger_accept_invalid_certs(true),
    })
}

fn base(profile: Profile) -> reqwest::ClientBuilder {
    let b =
        reqwest::Client::builder().user_agent(concat!("harbor-lab/", env!("CARGO_PKG_VERSION")));
    match profile {
        Profile::Transfer => b
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(60)),
        Profile::Api => b
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60)),
    }
}

/// A client for `profile` that also trusts the CA certificates in `ca_pem`
/// (PEM, one or more): the lab CA of a `--tls` Harbor, or `--registry-cacert`.
/// The extra roots go into the same lazily built verifier as the system's
/// (see [`Trust`]); reqwest's `add_root_certificate` would be ignored there.
pub fn client_trusting(
    profile: Profile,
    ca_pem: Option<&[u8]>,
) -> Result<reqwest::Client, ClientError> {
    let b = match ca_pem {
        Some(pem) => {
            builder_trusting(profile, Trust::SystemAnd(pem)).map_err(ClientError::Certificate)?
        }
        None => builder(profile),
    };
    Ok(b.build()?)
}

/// Why [`client_trusting`] could not make a client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Certificate(String),
    #[error(transparent)]
    Build(#[from] reqwest::Error),
}

/// A client for `profile` (see [`builder`]).
pub fn client(profile: Profile) -> Result<reqwest::Client, reqwest::Error> {
    builder(profile).build()
}

/// Whom a client trusts for HTTPS.
///
/// The system's trust store is 146 files under `/etc/ssl/certs` on Debian;
/// reading and parsing them was four fifths of a `verify` against a plain-HTTP
/// registry, which never needs them. So they are read at the first TLS
/// handshake a client makes, by the same verifier reqwest would have built
/// (rustls-platform-verifier over the aws-lc provider), and never otherwise.
#[derive(Debug, Clone, Copy)]
pub enum Trust<'a> {
    /// The system's roots.
    System,
    /// The system's roots and the certificates in this PEM text.
    SystemAnd(&'a [u8]),
    /// Any certificate (`--allow-insecure-registry`).
    Anyone,
}

/// TLS settings as reqwest makes them (HTTP/2 and HTTP/1.1 offered), with a
/// verifier that loads the roots when first asked to check a certificate.
fn lazy_roots(extra: Vec<CertificateDer<'static>>) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(LazyRoots {
        extra,
        provider: provider.clone(),
        verifier: OnceLock::new(),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("aws-lc supports rustls's default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

#[derive(Debug)]
struct LazyRoots {
    extra: Vec<CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    verifier: OnceLock<Result<rustls_platform_verifier::Verifier, rustls::Error>>,
}

impl LazyRoots {
    fn get(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.verifier
            .get_or_init(|| {
                rustls_platform_verifier::Verifier::new_with_extra_roots(
                    self.extra.clone(),
                    self.provider.clone(),
                )
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl ServerCertVerifier for LazyRoots {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.get()?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.get()?.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.get()?.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        // What the platform verifier answers too, without loading anything.
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A body could not be read within its bound.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("{url}: the response is larger than {limit} bytes; refusing to read it")]
    TooLarge { url: String, limit: usize },
    #[error("{url}: unexpected response: reading the body: {detail}")]
    Read { url: String, detail: String },
}

/// Read a body, failing as soon as it would exceed `limit` bytes.
pub async fn read_limited(resp: reqwest::Response, limit: usize) -> Result<Bytes, BodyError> {
    let url = resp.url().to_string();
    if resp.content_length().is_some_and(|l| l > limit as u64) {
        return Err(BodyError::TooLarge { url, limit });
    }
    let mut buf = BytesMut::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyError::Read {
            url: url.clone(),
            detail: error_chain(&e),
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { url, limit });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// `{"errors":[{"code":..,"message":..}]}` (distribution's and Harbor's error
/// body) → the first error's code and message; other text becomes the message.
pub fn parse_error_body(body: &[u8]) -> (Option<String>, Option<String>) {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        code: Option<String>,
        message: Option<String>,
    }
    match serde_json::from_slice::<Errors>(body) {
        Ok(e) => match e.errors.into_iter().next() {
            Some(i) => (i.code, i.message),
            None => (None, None),
        },
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                (None, None)
            } else {
                (None, Some(text.chars().take(200).collect()))
            }
        }
    }
}

/// The innermost cause of an error (e.g. "Connection refused (os error 111)"),
/// for one-line messages where the whole chain is too long.
pub fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// An error with its sources, on one line (a source already quoted by its
/// parent is not repeated).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        let (c, m) = parse_error_body(
            br#"{"errors":[{"code":"PROJECTPOLICYVIOLATION","message":"The image is not signed by cosign."}]}"#,
        );
        assert_eq!(c.as_deref(), Some("PROJECTPOLICYVIOLATION"));
        assert_eq!(m.as_deref(), Some("The image is not signed by cosign."));
        assert_eq!(parse_error_body(b""), (None, None));
        assert_eq!(parse_error_body(b"oops").1.as_deref(), Some("oops"));
    }
}
