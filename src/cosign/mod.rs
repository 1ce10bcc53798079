//! A self-contained, cosign-compatible implementation of key-based signing in
//! cosign's legacy layout: the simple-signing payload is a layer of an OCI
//! image tagged `sha256-<hex>.sig` next to the signed image.

pub mod keys;
pub mod payload;
pub mod sign;
pub mod verify;

/// The tag cosign stores signatures under for `digest` (`sha256:<hex>`).
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replacen(':', "-", 1))
}
