//! Errors of the moat runtime library. Each renders as one line, worded like runc's where
//! callers (containerd, Podman) are known to match on the text.

use std::io;
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId { id: String, reason: &'static str },
    #[error("container does not exist")]
    NotExist { id: String },
    #[error("container with given ID already exists")]
    Exists(String),
    /// A request that the container's current status does not allow (runc's wording).
    #[error("{0}")]
    State(String),
    #[error("bundle {}: {reason}", path.display())]
    Bundle { path: PathBuf, reason: String },
    #[error("invalid config.json: {0}")]
    Config(String),
    #[error("unknown signal {0:?}")]
    UnknownSignal(String),
    #[error("{0}")]
    Sandbox(String),
    #[error("control socket: {0}")]
    Control(String),
    #[error("{ctx}: {err}")]
    Io {
        ctx: String,
        #[source]
        err: io::Error,
    },
    #[error("{0}")]
    Other(String),
    /// A failure after which moat exits with `code` rather than 1 (runc's `exec failed`: 255).
    #[error("{msg}")]
    Exit { code: i32, msg: String },
}

impl Error {
    /// Wraps an I/O error with what was being done, e.g. `io("open /x", e)`.
    pub fn io(ctx: impl Into<String>, err: io::Error) -> Error {
        Error::Io {
            ctx: ctx.into(),
            err,
        }
    }

    /// The status moat exits with for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Exit { code, .. } => *code,
            _ => 1,
        }
    }

    /// The last OS error, wrapped with `ctx`.
    pub fn last_os(ctx: impl Into<String>) -> Error {
        Error::io(ctx, io::Error::last_os_error())
    }
}

/// Adds context to `io::Result`s.
pub trait IoContext<T> {
    fn ctx<C: Into<String>>(self, ctx: impl FnOnce() -> C) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx<C: Into<String>>(self, ctx: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| Error::io(ctx(), e))
    }
}
