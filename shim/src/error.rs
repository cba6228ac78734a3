//! The shim's errors, and how they reach containerd: every task API call answers with a ttrpc
//! status whose code containerd maps to its errdefs (NotFound, AlreadyExists, ...), so ctr and
//! the CRI plugin print the message and act on the code.

use containerd_shim::protos::ttrpc;

use crate::options::OptionsError;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An unknown container or exec id, or a process that already ended.
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    InvalidArgument(String),
    /// The call does not fit the process's state (delete of a running task, ...).
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    Unimplemented(String),
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// A moat command failed; `msg` is moat's own error line.
    #[error("moat {cmd}: {msg}")]
    Moat { cmd: String, msg: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

impl Error {
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }

    pub fn nix(what: impl Into<String>) -> impl FnOnce(nix::Error) -> Error {
        let what = what.into();
        move |e| Error::Io {
            what,
            source: std::io::Error::from(e),
        }
    }

    fn code(&self) -> ttrpc::Code {
        match self {
            Error::NotFound(_) => ttrpc::Code::NOT_FOUND,
            Error::AlreadyExists(_) => ttrpc::Code::ALREADY_EXISTS,
            Error::InvalidArgument(_) | Error::Options(_) => ttrpc::Code::INVALID_ARGUMENT,
            Error::FailedPrecondition(_) => ttrpc::Code::FAILED_PRECONDITION,
            Error::Unimplemented(_) => ttrpc::Code::UNIMPLEMENTED,
            Error::Moat { .. } | Error::Io { .. } | Error::Other(_) => ttrpc::Code::UNKNOWN,
        }
    }
}

impl From<Error> for ttrpc::Error {
    fn from(e: Error) -> ttrpc::Error {
        ttrpc::Error::RpcStatus(ttrpc::get_status(e.code(), e.to_string()))
    }
}

impl From<Error> for containerd_shim::Error {
    fn from(e: Error) -> containerd_shim::Error {
        containerd_shim::Error::Other(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_reach_ttrpc() {
        let e: ttrpc::Error = Error::NotFound("container x not found".into()).into();
        match e {
            ttrpc::Error::RpcStatus(s) => {
                assert_eq!(s.code(), ttrpc::Code::NOT_FOUND);
                assert_eq!(s.message(), "container x not found");
            }
            other => panic!("{other:?}"),
        }
        let e: ttrpc::Error = Error::Options(OptionsError::Toml {
            path: "/x.toml".into(),
            msg: "bad".into(),
        })
        .into();
        match e {
            ttrpc::Error::RpcStatus(s) => {
                assert_eq!(s.code(), ttrpc::Code::INVALID_ARGUMENT);
                assert!(s.message().contains("/x.toml"), "{}", s.message());
            }
            other => panic!("{other:?}"),
        }
    }
}
