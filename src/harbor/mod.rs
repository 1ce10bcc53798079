//! Harbor itself: the REST API client and the health wait.

pub mod client;
pub mod health;
