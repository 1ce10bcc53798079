//! Harbor itself: the REST API client and the health wait.

pub mod health;
