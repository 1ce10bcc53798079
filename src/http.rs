//! The crate's one home for HTTP plumbing: the client builder (user agent,
//! timeouts, never a cookie store: Harbor turns a kept `sid` cookie into a
//! CSRF 403 on basic-auth writes), bounded body reads, and error texts.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

/// How long a client waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Downloads and registries: 15 s to connect, 60 s between reads, so a
    /// large body may take as long as it keeps moving.
    Transfer,
    /// Harbor's REST API: 10 s to connect, 60 s for a whole request.
    Api,
}

/// A client builder with harbor-lab's user agent and `profile`'s timeouts.
pub fn builder(profile: Profile) -> reqwest::ClientBuilder {
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

/// `b`, also trusting the CA certificates in `ca_pem` (PEM, one or more):
/// the lab CA of a `--tls` Harbor, or `--registry-cacert`.
pub fn trusting(
    mut b: reqwest::ClientBuilder,
    ca_pem: Option<&[u8]>,
) -> Result<reqwest::ClientBuilder, reqwest::Error> {
    if let Some(pem) = ca_pem {
        for c in reqwest::Certificate::from_pem_bundle(pem)? {
            b = b.add_root_certificate(c);
        }
    }
    Ok(b)
}

/// A client for `profile` (see [`builder`]).
pub fn client(profile: Profile) -> Result<reqwest::Client, reqwest::Error> {
    builder(profile).build()
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
