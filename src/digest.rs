//! Content digests and input fingerprints, for whoever needs a hash: the
//! registry client, the journal, the steps that tell their own files apart.

use sha2::{Digest as _, Sha256};

/// `sha256:<hex>` of some bytes (an OCI digest).
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// The hex of a `sha256:<64 lower-case hex digits>` digest; `None` for
/// anything else (another algorithm, upper case, a wrong length).
pub fn sha256_hex(digest: &str) -> Option<&str> {
    digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// A short fingerprint of some inputs (each length-prefixed, so `["ab", "c"]`
/// and `["a", "bc"]` differ). Journal records compare these.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(&h.finalize()[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_fingerprints() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
        assert_eq!(fingerprint(&["x"]).len(), 24);
        let d = sha256_digest(b"");
        assert_eq!(sha256_hex(&d), Some(&d[7..]));
        assert_eq!(
            sha256_hex(&d.to_uppercase().replace("SHA256", "sha256")),
            None
        );
        assert_eq!(sha256_hex(&d[..70]), None);
        assert_eq!(sha256_hex(&d.replace("sha256", "sha512")), None);
    }
}
