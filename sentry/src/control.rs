//! Requests from outside the sandbox (the runtime's control socket) into the running sentry:
//! kill, ps, exec, pause/resume, stats. The runtime talks to a [`SentryHandle`] from any
//! thread; the sentry's event loop picks requests up through an eventfd and answers on a
//! channel.

use crate::SentryError;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

/// One workload process, as `ps` shows it.
#[derive(Debug, Clone)]
pub struct ProcessInfo {
    pub pid: i32,
    pub ppid: i32,
    pub uid: u32,
    /// R, S, T, Z ...
    pub state: char,
    pub comm: String,
    pub args: Vec<String>,
    pub threads: usize,
}

/// A process to start inside a running sandbox (`moat exec`).
#[derive(Debug)]
pub struct ExecSpec {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// Host fds that become the new process's 0, 1, 2, ... (stdio, then `--preserve-fds`);
    /// `None` leaves that number closed.
    pub stdio: Vec<Option<OwnedFd>>,
    /// The process's capability sets (the OCI process's `capabilities`); `None`: all of them
    /// for uid 0, none otherwise.
    pub capabilities: Option<CapSets>,
    /// `noNewPrivileges`.
    pub no_new_privs: bool,
}

/// A pod's app container to add to a running sandbox (see kernel/container.rs): its own
/// file system and init process; everything else is the pod's.
#[derive(Debug)]
pub struct ContainerSpec {
    /// The container's id (what later requests name it by).
    pub name: String,
    /// `O_PATH | O_DIRECTORY` fd of its rootfs.
    pub rootfs: OwnedFd,
    pub readonly_root: bool,
    pub mounts: Vec<crate::spec::MountSpec>,
    pub rlimits: Vec<crate::spec::Rlimit>,
    pub umask: Option<u32>,
    pub oom_score_adj: i32,
    pub seccomp: Option<crate::syscalls::seccomp::SeccompProfile>,
    /// Joins the sandbox's pid namespace (the pod shares its process namespace) instead of
    /// getting one of its own.
    pub share_pids: bool,
    /// `linux.maskedPaths` and `linux.readonlyPaths`.
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    pub devices: Vec<crate::spec::DeviceSpec>,
    /// Its init process.
    pub process: ExecSpec,
}

/// Capability sets, a bit per capability number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSets {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub bounding: u64,
    pub ambient: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub processes: usize,
    pub threads: usize,
    /// Bytes of workload mappings (virtual).
    pub mapped_bytes: u64,
}

pub(crate) enum Request {
    /// Release the held init (see [`crate::Sentry::run_held`]).
    Start {
        container: Option<String>,
        reply: Sender<Result<(), String>>,
    },
    Kill {
        container: Option<String>,
        signal: i32,
        all: bool,
        reply: Sender<Result<(), String>>,
    },
    Signal {
        pid: i32,
        signal: i32,
        reply: Sender<Result<(), String>>,
    },
    Ps {
        container: Option<String>,
        reply: Sender<Result<Vec<ProcessInfo>, String>>,
    },
    Exec {
        container: Option<String>,
        spec: ExecSpec,
        started: Sender<Result<i32, String>>,
        exited: Sender<crate::WorkloadExit>,
    },
    Pause {
        reply: Sender<Result<(), String>>,
    },
    Resume {
        reply: Sender<Result<(), String>>,
    },
    Stats {
        container: Option<String>,
        reply: Sender<Result<Stats, String>>,
    },
    AddContainer {
        spec: ContainerSpec,
        /// The init's pid and the host pid of its stub.
        started: Sender<Result<(i32, i32), String>>,
        exited: Sender<crate::WorkloadExit>,
    },
}

/// The sentry's end: an eventfd to wake the event loop and the request queue.
pub(crate) struct ControlQueue {
    pub wake: Arc<OwnedFd>,
    pub rx: Receiver<Request>,
}

/// Cloneable, thread-safe handle for the runtime.
#[derive(Clone)]
pub struct SentryHandle {
    tx: Sender<Request>,
    wake: Arc<OwnedFd>,
}

pub(crate) fn new_queue() -> Result<(SentryHandle, ControlQueue), SentryError> {
    // SAFETY: plain eventfd creation.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(SentryError::Host {
            op: "eventfd",
            err: std::io::Error::last_os_error(),
        });
    }
    // SAFETY: fresh fd.
    let wake = Arc::new(unsafe { OwnedFd::from_raw_fd(fd) });
    let (tx, rx) = channel();
    Ok((
        SentryHandle {
            tx,
            wake: wake.clone(),
        },
        ControlQueue { wake, rx },
    ))
}

fn gone() -> SentryError {
    SentryError::Setup("the sandbox is not running".into())
}

/// Exit of a process started with [`SentryHandle::exec`].
pub struct ExecWait {
    pub pid: i32,
    exited: Receiver<crate::WorkloadExit>,
}

impl ExecWait {
    /// Blocks until the process exits (or the sandbox ends: reported as SIGKILL).
    pub fn wait(self) -> crate::WorkloadExit {
        self.exited
            .recv()
            .unwrap_or(crate::WorkloadExit::Signaled(libc::SIGKILL))
    }

    /// The exit, if the process has ended (never blocks; makes no system call). A sandbox
    /// that ended first reports SIGKILL.
    pub fn try_wait(&self) -> Option<crate::WorkloadExit> {
        use std::sync::mpsc::TryRecvError;
        match self.exited.try_recv() {
            Ok(e) => Some(e),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(crate::WorkloadExit::Signaled(libc::SIGKILL)),
        }
    }
}

impl SentryHandle {
    fn send(&self, r: Request) -> Result<(), SentryError> {
        self.tx.send(r).map_err(|_| gone())?;
        let one: u64 = 1;
        // SAFETY: writing 8 bytes to our eventfd.
        unsafe { libc::write(self.wake.as_raw_fd(), &one as *const u64 as *const _, 8) };
        Ok(())
    }

    /// Lets the init of a sandbox started with [`crate::Sentry::run_held`] run.
    pub fn start(&self) -> Result<(), SentryError> {
        self.start_in(None)
    }

    /// Lets the init of `container` (None: the sandbox's own) run.
    pub fn start_in(&self, container: Option<String>) -> Result<(), SentryError> {
        let (reply, rx) = channel();
        self.send(Request::Start { container, reply })?;
        rx.recv().map_err(|_| gone())?.map_err(SentryError::Setup)
    }

    /// Sends `signal` to the workload's init, or to every workload process with `all`. While
    /// the init is held (never ran), a signal whose default action ends a process ends the
    /// sandbox (init dies of it, as an init with default dispositions would); others are
    /// discarded for it.
    pub fn kill(&self, signal: i32, all: bool) -> Result<(), SentryError> {
        self.kill_in(None, signal, all)
    }

    /// [`SentryHandle::kill`] for the init (or every process, `all`) of `container`.
    pub fn kill_in(
        &self,
        container: Option<String>,
        signal: i32,
        all: bool,
    ) -> Result<(), SentryError> {
        let (reply, rx) = channel();
        self.send(Request::Kill {
            container,
            signal,
            all,
            reply,
        })?;
        rx.recv().map_err(|_| gone())?.map_err(SentryError::Setup)
    }

    /// Sends `signal` to the workload process with virtual pid `pid` (e.g. one started by
    /// [`SentryHandle::exec`]). A process that is gone is not an error.
    pub fn signal(&self, pid: i32, signal: i32) -> Result<(), SentryError> {
        let (reply, rx) = channel();
        self.send(Request::Signal { pid, signal, reply })?;
        rx.recv().map_err(|_| gone())?.map_err(SentryError::Setup)
    }

    pub fn ps(&self) -> Result<Vec<ProcessInfo>, SentryError> {
        self.ps_in(None)
    }

    /// The processes of `container` (None: every process of the sandbox).
    pub fn ps_in(&self, container: Option<String>) -> Result<Vec<ProcessInfo>, SentryError> {
        let (reply, rx) = channel();
        self.send(Request::Ps { container, reply })?;
        rx.recv().map_err(|_| gone())?.map_err(SentryError::Setup)
    }

    /// Starts a process inside the sandbox; returns its virtual pid and a way to wait for it.
    pub fn exec(&self, spec: ExecSpec) -> Result<ExecWait, SentryError> {
        self.exec_in(None, spec)
    }

    /// [`SentryHandle::exec`] into `container` (its file system; None: the sandbox's own).
    pub fn exec_in(
        &self,
        container: Option<String>,
        spec: ExecSpec,
    ) -> Result<ExecWait, SentryError> {
        let (started, srx) = channel();
        let (exited, erx) = channel();
        self.send(Request::Exec {
            container,
            spec,
            started,
            exited,
        })?;
        let pid = srx
            .recv()
            .map_err(|_| gone())?
            .map_err(SentryError::Setup)?;
        Ok(ExecWait { pid, exited: erx })
    }

    /// Freezes every workload thread (they stay in the sentry until resume).
    pub fn pause(&self) -> Result<(), SentryError> {
        let (reply, rx) = channel();
        self.send(Request::Pause { reply })?;
        rx.recv().map_err(|_| gone())?.map_err(SentryError::Setup)
    }

    pub fn resume(&self) -> Result<(), SentryError> {
        let (reply, rx) = channel();
        self.send(Request::Resume { reply })?;
        rx.recv().map_err(|_| gone())?.map_err(SentryError::Setup)
    }

    pub fn stats(&self) -> Result<Stats, SentryError> {
        self.stats_in(None)
    }

    /// Statistics of `container`'s processes (None: the whole sandbox).
    pub fn stats_in(&self, container: Option<String>) -> Result<Stats, SentryError> {
        let (reply, rx) = channel();
        self.send(Request::Stats { container, reply })?;
        rx.recv().map_err(|_| gone())?.map_err(SentryError::Setup)
    }

    /// Adds a pod's app container to the running sandbox. Its init is loaded but held until
    /// [`SentryHandle::start_in`]; returns the init's virtual pid and a way to wait for it.
    /// Also returns the host pid of the init's stub: the runtime puts it in the container's
    /// own cgroup, and the stubs of the processes it forks follow it there.
    pub fn add_container(&self, spec: ContainerSpec) -> Result<(ExecWait, i32), SentryError> {
        let (started, srx) = channel();
        let (exited, erx) = channel();
        self.send(Request::AddContainer {
            spec,
            started,
            exited,
        })?;
        let (pid, stub_pid) = srx
            .recv()
            .map_err(|_| gone())?
            .map_err(SentryError::Setup)?;
        Ok((ExecWait { pid, exited: erx }, stub_pid))
    }
}
