//! Which exit code an error deserves: the one place that knows both the
//! library's error types and the CLI's exit codes (README's table). It sits at
//! the top, beside `lib::run`, so the adapters (`cosign/`, `registry/`,
//! `harbor/`, `docker/`, `installer/`) know nothing of exit codes.

use crate::cosign::keys::KeyError;
use crate::cosign::sign::SignError;
use crate::docker::certs_d::CertsDError;
use crate::docker::daemon_config::DaemonConfigError;
use crate::docker::engine::DockerError;
use crate::error::{Exit, UserError};
use crate::harbor::client::HarborError;
use crate::harbor::health::HealthTimeout;
use crate::http::BodyError;
use crate::installer::download::DownloadError;
use crate::installer::extract::ExtractError;
use crate::installer::render::RenderError;
use crate::installer::run::InstallError;
use crate::registry::RegistryError;
use crate::registry::reference::ReferenceError;
use crate::tls::TlsError;
use crate::tuf::TufError;
use crate::tuf::repo::RepoError;
use crate::tuf::tags::PinError;

/// An error that knows which exit code it deserves.
pub trait ExitCoded {
    fn exit(&self) -> Exit;
}

impl ExitCoded for UserError {
    fn exit(&self) -> Exit {
        self.exit
    }
}

impl ExitCoded for KeyError {
    fn exit(&self) -> Exit {
        Exit::Usage
    }
}

impl ExitCoded for SignError {
    fn exit(&self) -> Exit {
        match self {
            SignError::ImageNotFound(_) => Exit::ImageNotFound,
            SignError::Registry { source, .. } => source.exit(),
            SignError::BadSignatureImage { .. } => Exit::Remote,
        }
    }
}

impl ExitCoded for DockerError {
    fn exit(&self) -> Exit {
        match self {
            DockerError::Unreachable { .. } => Exit::Environment,
            DockerError::Engine { .. } => Exit::Remote,
        }
    }
}

impl ExitCoded for DaemonConfigError {
    fn exit(&self) -> Exit {
        match self {
            DaemonConfigError::Reload(_) => Exit::Environment,
            _ => Exit::Usage,
        }
    }
}

impl ExitCoded for CertsDError {
    fn exit(&self) -> Exit {
        Exit::Environment
    }
}

impl ExitCoded for TlsError {
    fn exit(&self) -> Exit {
        match self {
            // A certificate or key file the user gave (or the workdir holds) is wrong.
            TlsError::BadFile { .. } => Exit::Usage,
            TlsError::Io { .. } | TlsError::Issue(_) => Exit::Environment,
        }
    }
}

impl ExitCoded for HarborError {
    fn exit(&self) -> Exit {
        match self {
            // The user and password came from the user.
            HarborError::Login { .. } => Exit::Usage,
            _ => Exit::Remote,
        }
    }
}

impl ExitCoded for HealthTimeout {
    fn exit(&self) -> Exit {
        Exit::Remote
    }
}

impl ExitCoded for BodyError {
    fn exit(&self) -> Exit {
        Exit::Remote
    }
}

impl ExitCoded for DownloadError {
    fn exit(&self) -> Exit {
        match self {
            DownloadError::Io { .. } => Exit::Usage,
            DownloadError::DiskFull { .. } => Exit::Environment,
            _ => Exit::Remote,
        }
    }
}

impl ExitCoded for ExtractError {
    fn exit(&self) -> Exit {
        Exit::Usage
    }
}

impl ExitCoded for RenderError {
    fn exit(&self) -> Exit {
        Exit::Usage
    }
}

impl ExitCoded for InstallError {
    fn exit(&self) -> Exit {
        Exit::Environment
    }
}

impl ExitCoded for RegistryError {
    fn exit(&self) -> Exit {
        match self {
            RegistryError::Options(_) | RegistryError::ProjectNotFound { .. } => Exit::Usage,
            _ => Exit::Remote,
        }
    }
}

impl ExitCoded for ReferenceError {
    fn exit(&self) -> Exit {
        Exit::Usage
    }
}

impl ExitCoded for TufError {
    fn exit(&self) -> Exit {
        match self {
            TufError::Rollback { .. } => Exit::Rollback,
            TufError::Freeze { .. } => Exit::Freeze,
            TufError::Invalid(_) => Exit::TufInvalid,
            TufError::Fetch { .. } => Exit::Remote,
            TufError::Store(_) => Exit::Usage,
        }
    }
}

impl ExitCoded for RepoError {
    fn exit(&self) -> Exit {
        match self {
            RepoError::Sign { .. } => Exit::Internal,
            _ => Exit::Usage,
        }
    }
}

impl ExitCoded for PinError {
    fn exit(&self) -> Exit {
        match self {
            PinError::NotFound { .. } => Exit::ImageNotFound,
            PinError::Unsigned { .. } => Exit::NoSignatures,
            PinError::BadSignature { .. } => Exit::NoValidSignature,
            PinError::Digest { .. } => Exit::Usage,
            PinError::Registry(e) => e.exit(),
        }
    }
}

/// Walk the chain and take the code of the outermost error that has one. A
/// plain `io::Error` (a file the user named could not be read) is bad input;
/// anything else is a bug.
pub fn classify(err: &anyhow::Error) -> Exit {
    // Every typed error of the library, outermost first.
    macro_rules! coded {
        ($cause:expr, $($t:ty),* $(,)?) => {$(
            if let Some(e) = $cause.downcast_ref::<$t>() {
                return e.exit();
            }
        )*};
    }
    for cause in err.chain() {
        coded!(
            cause,
            UserError,
            KeyError,
            SignError,
            DockerError,
            DaemonConfigError,
            CertsDError,
            HarborError,
            HealthTimeout,
            BodyError,
            DownloadError,
            ExtractError,
            RenderError,
            InstallError,
            RegistryError,
            ReferenceError,
            TufError,
            RepoError,
            PinError,
            TlsError,
        );
        if cause.downcast_ref::<std::io::Error>().is_some() {
            return Exit::Usage;
        }
    }
    Exit::Internal
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn the_outermost_typed_error_decides() {
        let harbor = HarborError::Connect {
            url: "u".into(),
            detail: "d".into(),
        };
        let err = anyhow::Error::new(harbor).context("demo step push");
        assert_eq!(classify(&err), Exit::Remote);
        let err: anyhow::Error = UserError::environment("x").into();
        assert_eq!(classify(&err.context("y")), Exit::Environment);
        let err = Err::<(), _>(std::io::Error::other("gone"))
            .context("reading f")
            .unwrap_err();
        assert_eq!(classify(&err), Exit::Usage);
        assert_eq!(classify(&anyhow::anyhow!("a bug")), Exit::Internal);
    }
}
