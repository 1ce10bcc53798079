//! From a Harbor version (or a local tarball) to an extracted installer with a
//! valid harbor.yml, and `install.sh` run.

pub mod download;
pub mod extract;
pub mod preflight;
pub mod render;
pub mod run;
pub mod versions;

/// Harbor's release downloads.
pub const DEFAULT_DOWNLOAD_BASE: &str = "https://github.com/goharbor/harbor/releases/download";
