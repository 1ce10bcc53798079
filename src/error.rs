//! Exit codes as a type, and the user-facing error that carries one. A leaf:
//! this module imports nothing from the crate. Which exit code an error chain
//! deserves is decided at the top, in `exit.rs`, beside `lib::run`.
//!
//! Every code and what it means: [`Exit::meaning`] (and README's table).

/// The process exit code of a command (README's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum Exit {
    #[default]
    Ok = 0,
    Internal = 1,
    Usage = 2,
    Environment = 3,
    Remote = 4,
    NotInstalled = 5,
    NotAnswering = 6,
    NoSignatures = 10,
    ImageNotFound = 11,
    NoValidSignature = 12,
    NotPinned = 13,
    TagMoved = 14,
    Rollback = 15,
    Freeze = 16,
    TufInvalid = 17,
    Interrupted = 130,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn is_ok(self) -> bool {
        self == Exit::Ok
    }

    /// What the code means (README's table; a `--json` failure's message when
    /// the command's report is the verdict, as for `status` and `verify`).
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => "success",
            Exit::Internal => "unexpected internal error (a bug: please report it)",
            Exit::Usage => "bad input: a flag, a file or a password given is wrong",
            Exit::Environment => {
                "the environment lacks something (Docker, a port, a tool, a terminal or a permission)"
            }
            Exit::Remote => "a registry, Harbor or a download server failed or refused",
            Exit::NotInstalled => "Harbor is not installed from this workdir (or was taken down)",
            Exit::NotAnswering => "Harbor is installed but does not answer healthy",
            Exit::NoSignatures => "an image has no signatures",
            Exit::ImageNotFound => "an image (tag or digest) does not exist",
            Exit::NoValidSignature => "an image has signatures but none is valid",
            Exit::NotPinned => "a tag is not pinned in the TUF metadata",
            Exit::TagMoved => "tag moved: the registry's digest is not the one TUF pins",
            Exit::Rollback => "rollback: TUF metadata older than what the client trusts",
            Exit::Freeze => "freeze: the TUF metadata has expired",
            Exit::TufInvalid => "the TUF metadata is invalid",
            Exit::Interrupted => "interrupted; run the same command again to resume",
        }
    }
}

/// A user-facing error with an explicit class: what went wrong, named so the
/// user can fix it (the flag, file or server), and the exit code it deserves.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UserError {
    pub exit: Exit,
    pub message: String,
}

impl UserError {
    pub fn usage(message: impl Into<String>) -> Self {
        UserError {
            exit: Exit::Usage,
            message: message.into(),
        }
    }
    pub fn environment(message: impl Into<String>) -> Self {
        UserError {
            exit: Exit::Environment,
            message: message.into(),
        }
    }
    pub fn remote(message: impl Into<String>) -> Self {
        UserError {
            exit: Exit::Remote,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_readme_table() {
        let table = [
            (Exit::Ok, 0),
            (Exit::Internal, 1),
            (Exit::Usage, 2),
            (Exit::Environment, 3),
            (Exit::Remote, 4),
            (Exit::NoSignatures, 10),
            (Exit::ImageNotFound, 11),
            (Exit::NoValidSignature, 12),
            (Exit::NotPinned, 13),
            (Exit::TagMoved, 14),
            (Exit::Rollback, 15),
            (Exit::Freeze, 16),
            (Exit::TufInvalid, 17),
        ];
        for (exit, code) in table {
            assert_eq!(exit.code(), code, "{exit:?}");
        }
        assert_eq!(UserError::environment("x").exit, Exit::Environment);
    }
}
