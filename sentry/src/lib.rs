//! The moat sentry: a user-space Linux kernel that serves every syscall of a sandboxed workload.
//!
//! The public surface is small: the runtime builds a [`SandboxSpec`] from the OCI bundle, calls
//! [`Sentry::new`] (which creates the init task's stub and loads its program, but does not run
//! it), and later [`Sentry::run`], which confines the sentry and serves the workload until its
//! init process exits.
//!
//! Rooms: `platform` (ptrace stubs), `mm` (address spaces), `kernel` (tasks, signals, the event
//! loop), `vfs` + `fs` (files), `syscalls` (the table and handlers), `loader` (ELF), `arch`.

pub mod arch;
pub mod confine;
pub mod control;
pub mod errno;
pub mod fs;
pub mod kernel;
pub mod loader;
pub mod mm;
pub mod net;
pub mod platform;
pub mod spec;
pub mod syscalls;
pub mod vfs;

pub(crate) mod boot;

pub use control::{ContainerSpec, ExecSpec, ExecWait, ProcessInfo, SentryHandle, Stats};
pub use spec::{
    DeviceSpec, MountKind, MountSpec, Rlimit, SandboxSpec, SentryOptions, WorkloadExit,
};

/// Errors the sentry reports to the runtime. Workload-visible errors are errnos, not these.
#[derive(Debug, thiserror::Error)]
pub enum SentryError {
    #[error("{0}")]
    Setup(String),
    #[error("exec: \"{0}\": executable file not found in $PATH")]
    ExecNotFound(String),
    #[error("cannot load {path}: {reason}")]
    Load { path: String, reason: String },
    #[error("host {op} failed: {err}")]
    Host {
        op: &'static str,
        err: std::io::Error,
    },
}

/// A booted sandbox whose init task is loaded but not yet running.
pub struct Sentry {
    kernel: kernel::Kernel,
    handle: SentryHandle,
}

impl Sentry {
    /// Builds the kernel, the filesystems and the init task. Errors here (missing executable,
    /// bad mounts) are reported by `moat create` before the container exists.
    pub fn new(spec: SandboxSpec) -> Result<Sentry, SentryError> {
        let mut kernel = boot::boot(spec)?;
        let (handle, queue) = control::new_queue()?;
        kernel.attach_control(queue);
        Ok(Sentry { kernel, handle })
    }

    /// A handle for requests (kill, ps, exec, pause, ...) while the sandbox runs. Use it from
    /// another thread than the one in [`Sentry::run`]; once `run` returns, requests fail.
    pub fn handle(&self) -> SentryHandle {
        self.handle.clone()
    }

    /// Confines the sentry (seccomp, capabilities), starts the init task and serves the
    /// workload until init exits. Returns how init ended.
    pub fn run(self) -> Result<WorkloadExit, SentryError> {
        self.serve(false)
    }

    /// Like [`Sentry::run`], but the init stays loaded and stopped until
    /// [`SentryHandle::start`]: meanwhile the sandbox serves `exec`'d processes (runc lets
    /// `exec` run in a created container, whose init waits for `start`).
    pub fn run_held(self) -> Result<WorkloadExit, SentryError> {
        self.serve(true)
    }

    fn serve(mut self, held: bool) -> Result<WorkloadExit, SentryError> {
        if held {
            self.kernel.held_init = Some(1);
        }
        self.kernel.setup_tick();
        confine::seal()?;
        let st = self.kernel.run(1);
        let s = st.0;
        Ok(if s & 0x7f == 0 {
            WorkloadExit::Exited((s >> 8) & 0xff)
        } else {
            WorkloadExit::Signaled(s & 0x7f)
        })
    }
}

/// The syscall table as text (number, name, support, note), for `moat syscalls`.
pub fn syscall_table() -> String {
    syscalls::table::render()
}

/// The syscall table as the Markdown page docs/syscalls.md.
pub fn syscall_table_markdown() -> String {
    syscalls::table::render_markdown()
}
