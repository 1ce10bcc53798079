//! A self-contained, cosign-compatible implementation of key-based signing in
//! both of cosign's layouts: the legacy one (cosign 2), where the simple-signing
//! payload is a layer of an OCI image tagged `sha256-<hex>.sig` next to the
//! signed image, and the sigstore bundle (cosign 3's default), an OCI 1.1
//! referrer of the image.

pub mod bundle;
pub mod keys;
pub mod payload;
pub mod sign;
pub mod verify;

/// The tag cosign stores signatures under for `digest` (`sha256:<hex>`).
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replacen(':', "-", 1))
}
