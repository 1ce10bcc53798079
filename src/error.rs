//! Exit codes, and how an error chain maps onto one.
//!
//! | code | meaning |
//! |------|---------|
//! | 0  | success |
//! | 1  | unexpected internal error (a bug: please report it) |
//! | 2  | bad input: a flag, a file or a password the user gave is wrong |
//! | 3  | environment: Docker, a port, a tool, a terminal or a permission is missing |
//! | 4  | remote: a registry, Harbor or a download server failed or refused |
//! | 10 | verify: the image has no signatures (as cosign) |
//! | 11 | verify: the image (tag or digest) does not exist (as cosign) |
//! | 12 | verify: signatures exist but none is valid (as cosign) |
//! | 130| interrupted |

pub const EXIT_OK: u8 = 0;
pub const EXIT_INTERNAL: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_ENVIRONMENT: u8 = 3;
pub const EXIT_REMOTE: u8 = 4;
pub const EXIT_NO_SIGNATURES: u8 = 10;
pub const EXIT_IMAGE_NOT_FOUND: u8 = 11;
pub const EXIT_NO_VALID_SIGNATURE: u8 = 12;

/// An error that knows which exit code it deserves.
pub trait ExitCoded {
    fn exit_code(&self) -> u8;
}

/// A user-facing error with an explicit class, for the orchestration layer.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UserError {
    pub code: u8,
    pub message: String,
}

impl UserError {
    pub fn usage(message: impl Into<String>) -> Self {
        UserError {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }
    pub fn environment(message: impl Into<String>) -> Self {
        UserError {
            code: EXIT_ENVIRONMENT,
            message: message.into(),
        }
    }
    pub fn remote(message: impl Into<String>) -> Self {
        UserError {
            code: EXIT_REMOTE,
            message: message.into(),
        }
    }
}

impl ExitCoded for UserError {
    fn exit_code(&self) -> u8 {
        self.code
    }
}

/// Walk the chain and take the code of the outermost error that has one.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<UserError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<crate::cosign::keys::KeyError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<crate::docker::engine::DockerError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<crate::cosign::sign::SignError>() {
            return e.exit_code();
        }
        macro_rules! coded {
            ($($t:ty),*) => {$(
                if let Some(e) = cause.downcast_ref::<$t>() {
                    return e.exit_code();
                }
            )*};
        }
        coded!(
            crate::installer::download::DownloadError,
            crate::installer::extract::ExtractError,
            crate::installer::render::RenderError,
            crate::installer::run::InstallError,
            crate::docker::daemon_config::DaemonConfigError,
            crate::harbor::health::HealthTimeout
        );
        if let Some(e) = cause.downcast_ref::<crate::registry::RegistryError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<crate::registry::reference::ReferenceError>() {
            return e.exit_code();
        }
        if cause.downcast_ref::<std::io::Error>().is_some() {
            return EXIT_USAGE;
        }
    }
    EXIT_INTERNAL
}
