//! The lab layer: what `install`, `demo`, `up`, `status` and `down` do, as
//! ordered steps, without any clap type.

pub mod image;
pub mod keys;
pub mod secrets;
