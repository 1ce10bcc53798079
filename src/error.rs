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
//! | 13 | verify --tuf: the tag is not pinned in the TUF metadata |
//! | 14 | verify --tuf: tag moved: the registry's digest is not the one TUF pins |
//! | 15 | verify --tuf: rollback: metadata older than what the client trusts |
//! | 16 | verify --tuf: freeze: the metadata has expired |
//! | 17 | verify --tuf: the TUF metadata is invalid (signature, threshold, hash, length, mix-and-match) |
//! | 130| interrupted |

pub const EXIT_OK: u8 = 0;
pub const EXIT_INTERNAL: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_ENVIRONMENT: u8 = 3;
pub const EXIT_REMOTE: u8 = 4;
pub const EXIT_NO_SIGNATURES: u8 = 10;
pub const EXIT_IMAGE_NOT_FOUND: u8 = 11;
pub const EXIT_NO_VALID_SIGNATURE: u8 = 12;
pub const EXIT_TUF_NOT_PINNED: u8 = 13;
pub const EXIT_TUF_TAG_MOVED: u8 = 14;
pub const EXIT_TUF_ROLLBACK: u8 = 15;
pub const EXIT_TUF_FREEZE: u8 = 16;
pub const EXIT_TUF_INVALID: u8 = 17;

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
    // Every typed error of the library, outermost first.
    macro_rules! coded {
        ($cause:expr, $($t:ty),* $(,)?) => {$(
            if let Some(e) = $cause.downcast_ref::<$t>() {
                return e.exit_code();
            }
        )*};
    }
    for cause in err.chain() {
        coded!(
            cause,
            UserError,
            crate::cosign::keys::KeyError,
            crate::cosign::sign::SignError,
            crate::docker::engine::DockerError,
            crate::docker::daemon_config::DaemonConfigError,
            crate::harbor::client::HarborError,
            crate::harbor::health::HealthTimeout,
            crate::installer::download::DownloadError,
            crate::installer::extract::ExtractError,
            crate::installer::render::RenderError,
            crate::installer::run::InstallError,
            crate::registry::RegistryError,
            crate::registry::reference::ReferenceError,
            crate::tuf::TufError,
            crate::tuf::repo::RepoError,
            crate::tuf::tags::PinError,
        );
        if cause.downcast_ref::<std::io::Error>().is_some() {
            return EXIT_USAGE;
        }
    }
    EXIT_INTERNAL
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn the_outermost_typed_error_decides() {
        let harbor = crate::harbor::client::HarborError::Connect {
            url: "u".into(),
            detail: "d".into(),
        };
        let err = anyhow::Error::new(harbor).context("demo step push");
        assert_eq!(exit_code(&err), EXIT_REMOTE);
        let err: anyhow::Error = UserError::environment("x").into();
        assert_eq!(exit_code(&err.context("y")), EXIT_ENVIRONMENT);
        let err = Err::<(), _>(std::io::Error::other("gone"))
            .context("reading f")
            .unwrap_err();
        assert_eq!(exit_code(&err), EXIT_USAGE);
        assert_eq!(exit_code(&anyhow::anyhow!("a bug")), EXIT_INTERNAL);
    }
}
