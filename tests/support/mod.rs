//! Shared test fixtures, one file per concern:
//! - `bin`: our binary, the peers (cosign, skopeo), the loopback registry, `Run`;
//! - `lab`: the one lab fixture for tests that install the fixture Harbor;
//! - `double`: the Harbor API double and the environment that starts it;
//! - `fixtures`: rootfs images through dockerd, the fixture installer, tarballs;
//! - `fake_registry`: a scriptable registry for answers a real one never gives;
//! - `file_server`: a Range-honouring release server that can cut a download;
//! - `referrers`: OCI 1.1 referrers pushed by hand (the fallback tag's index);
//! - `slow_proxy`: a loopback proxy that holds back manifest uploads.
#![allow(dead_code, unused_imports)]

pub mod bin;
pub mod double;
pub mod fake_registry;
pub mod file_server;
pub mod fixtures;
pub mod lab;
pub mod referrers;
pub mod slow_proxy;

pub use bin::*;
pub use double::*;
pub use fake_registry::*;
pub use file_server::*;
pub use fixtures::*;
pub use lab::*;
pub use referrers::*;
pub use slow_proxy::*;
