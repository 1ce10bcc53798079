//! Everything that talks to or configures the local Docker engine.

pub mod certs_d;
pub mod daemon_config;
pub mod engine;
