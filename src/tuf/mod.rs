//! TUF for tag freshness: signed metadata that says which digest each tag must
//! have now, so that a registry that moves a tag back to an older signed digest
//! (rollback), withholds updates (freeze) or repoints a tag is caught.
//!
//! - [`metadata`]: the metadata documents as a client reads them, with the
//!   checks of TUF's client workflow (signatures, thresholds, versions, expiry,
//!   lengths and hashes), leniently as python-tuf reads them.
//! - [`client`]: the client workflow (spec §5) over a [`transport`] and a
//!   persistent trusted store.
//! - [`transport`]: `file://`, `http(s)://` and `oci://` behind tough's
//!   `Transport` trait; [`oci`] is the registry layout.
//! - [`repo`]: the repository side (keys, init, pin, refresh, status), signed
//!   with tough's editor types over [`signer`] (cosign-format keys).

pub mod client;
pub mod metadata;
pub mod oci;
pub mod repo;
pub mod signer;
pub mod tags;
pub mod transport;

use std::time::Duration;

/// The media type of a metadata layer in the OCI layout.
pub const METADATA_MEDIA_TYPE: &str = "application/vnd.tuf.metadata+json";
/// The annotation naming the metadata file a layer holds.
pub const FILENAME_ANNOTATION: &str = "tuf.io/filename";

/// Why the client refused the repository's metadata.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TufError {
    #[error("rollback: {role} version {got} is older than trusted version {trusted}")]
    Rollback {
        role: String,
        got: u64,
        trusted: u64,
    },
    #[error("freeze: {role} expired at {expires}")]
    Freeze { role: String, expires: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{url}: {detail}")]
    Fetch { url: String, detail: String },
    #[error("{0}")]
    Store(String),
}

/// A directory name for the trusted store of one repository URL: readable,
/// and unique (a hash of the whole URL).
pub fn store_name(url: &str) -> String {
    use sha2::Digest as _;
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let readable: String = crate::fsutil::file_name_part(rest)
        .chars()
        .take(60)
        .collect();
    let hash = hex::encode(&sha2::Sha256::digest(url.as_bytes())[..6]);
    format!("{readable}-{hash}")
}

/// Parse a duration written like `8s`, `30m`, `12h`, `1d` or `2w`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} has no unit: write it like 8s, 30m, 12h, 1d or 2w"))?;
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?} does not start with a number (like 8s, 30m, 1d)"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use s, m, h, d or w)"
            ));
        }
    };
    if n == 0 {
        return Err(format!("{text:?} must be longer than zero"));
    }
    n.checked_mul(secs)
        .filter(|s| *s <= 100 * 365 * 86_400)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is longer than 100 years"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("8s").unwrap(), Duration::from_secs(8));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        for bad in ["", "8", "s", "0s", "1y", "-1d", "99999999999999w"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn durations_never_panic(s in ".{0,24}") {
            let _ = parse_duration(&s);
        }
    }
}
