//! The moat sentry: a user-space Linux kernel that serves every syscall of a sandboxed workload.
//!
//! The public surface is small: the runtime builds a [`SandboxSpec`] from the OCI bundle, calls
//! [`Sentry::new`] (which creates the init task's stub and loads its program, but does not run
//! it), and later [`Sentry::run`], which confines the sentry and serves the workload until its
//! init process exits.

pub mod spec;

pub use spec::{MountKind, MountSpec, Rlimit, SandboxSpec, SentryOptions, WorkloadExit};

/// Errors the sentry reports to the runtime. Workload-visible errors are errnos, not these.
#[derive(Debug, thiserror::Error)]
pub enum SentryError {
    #[error("{0}")]
    Setup(String),
    #[error("executable file not found: {0}")]
    ExecNotFound(String),
    #[error("cannot load {path}: {reason}")]
    Load { path: String, reason: String },
    #[error("host {op} failed: {err}")]
    Host { op: &'static str, err: std::io::Error },
}

/// A booted sandbox whose init task is loaded but not yet running.
pub struct Sentry {
    _private: (),
}

impl Sentry {
    /// Builds the kernel, the filesystems and the init task. Errors here (missing executable,
    /// bad mounts) are reported by `moat create` before the container exists.
    pub fn new(_spec: SandboxSpec) -> Result<Sentry, SentryError> {
        Err(SentryError::Setup("sentry not implemented yet".into()))
    }

    /// Confines the sentry (seccomp, capabilities), starts the init task and serves the
    /// workload until init exits. Returns how init ended.
    pub fn run(self) -> Result<WorkloadExit, SentryError> {
        Err(SentryError::Setup("sentry not implemented yet".into()))
    }
}
