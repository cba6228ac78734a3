//! What the runtime tells the sentry about the sandbox it must boot.

use std::os::fd::{OwnedFd, RawFd};

/// Everything the sentry needs to boot a sandbox. Built by the runtime from config.json.
#[derive(Debug)]
pub struct SandboxSpec {
    /// `O_PATH | O_DIRECTORY` fd of the bundle's rootfs, opened by the runtime.
    pub rootfs: OwnedFd,
    /// `root.readonly` from the spec.
    pub readonly_root: bool,
    /// `process.args`; `args[0]` is resolved against `PATH` from `env` like execvp.
    pub args: Vec<String>,
    /// `process.env` as `KEY=VALUE` strings.
    pub env: Vec<String>,
    /// `process.cwd` (absolute, inside the sandbox).
    pub cwd: String,
    pub hostname: String,
    pub domainname: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub umask: Option<u32>,
    /// `mounts` from the spec, in order.
    pub mounts: Vec<MountSpec>,
    pub rlimits: Vec<Rlimit>,
    /// Host fds that become the workload's fds 0, 1, 2, ...: stdio, then the fds `--preserve-fds`
    /// passes (a negative entry leaves that number closed). The sentry duplicates them; the
    /// caller keeps (and should close) its own.
    pub stdio: Vec<RawFd>,
    pub options: SentryOptions,
    /// `process.capabilities` as the workload's init has them after its execve; `None`: all
    /// of them for uid 0, none otherwise.
    pub capabilities: Option<crate::control::CapSets>,
    /// `process.noNewPrivileges`.
    pub no_new_privs: bool,
    /// `process.oomScoreAdj` (what /proc/PID/oom_score_adj shows; 0 when unset).
    pub oom_score_adj: i32,
    /// `linux.seccomp`, names resolved (see syscalls/seccomp.rs).
    pub seccomp: Option<crate::syscalls::seccomp::SeccompProfile>,
    /// `linux.sysctl`: dotted names and values (the runtime checks that each is one a
    /// container may set); /proc/sys shows them.
    pub sysctl: Vec<(String, String)>,
    /// `linux.maskedPaths` and `linux.readonlyPaths` (boot.rs: apply_path_policies).
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    /// `linux.devices`: nodes made below the container's root after its mounts.
    pub devices: Vec<DeviceSpec>,
}

/// One `linux.devices` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    /// Absolute path inside the container.
    pub path: String,
    /// `c` (or `u`), `b` or `p`.
    pub kind: char,
    pub major: u64,
    pub minor: u64,
    /// Permission bits (runc's default 0666).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug)]
pub struct MountSpec {
    /// Absolute path inside the sandbox.
    pub destination: String,
    pub kind: MountKind,
    /// Mount options from the spec (`ro`, `nosuid`, `mode=755`, ...).
    pub options: Vec<String>,
    /// The spec's `source` (a device name such as `tmpfs`, or a bind mount's host path) and
    /// `type`, as /proc/self/mountinfo shows them.
    pub source: String,
    pub fstype: String,
}

#[derive(Debug)]
pub enum MountKind {
    Proc,
    Sysfs,
    Tmpfs,
    Devpts,
    Mqueue,
    /// A host directory (or a special file, copied in), opened `O_PATH` by the runtime.
    Bind {
        source: OwnedFd,
        readonly: bool,
    },
    /// A host regular file, named by its directory (opened `O_PATH` by the runtime) and its
    /// name there, so that reads and writes reach the host file itself (a pod's
    /// /dev/termination-log, /etc/hosts), as with a Linux bind mount.
    BindFile {
        dir: OwnedFd,
        name: std::ffi::CString,
        readonly: bool,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct Rlimit {
    /// `RLIMIT_*` number.
    pub resource: u32,
    pub soft: u64,
    pub hard: u64,
}

/// Tunables that do not come from the OCI spec.
#[derive(Debug, Clone)]
pub struct SentryOptions {
    /// Release string the workload's `uname` reports.
    pub uname_release: String,
    /// Writes to the rootfs land in sentry memory (true, the default) or in the bundle.
    pub overlay: bool,
    /// Keep the sentry and its stubs on one CPU (cheaper ptrace hand-offs on small VMs; under
    /// systrap, whose hand-offs spin, it costs instead). None: the platform's default.
    pub pin_cpu: Option<bool>,
    /// How workload syscalls reach the sentry.
    pub platform: crate::platform::Kind,
    /// Syscall patching under systrap (mm/patch.rs, on by default): trapped
    /// `mov $nr, %eax; syscall` sites become jumps into the stub, without a signal.
    pub syscall_patch: bool,
}

impl Default for SentryOptions {
    fn default() -> Self {
        SentryOptions {
            uname_release: "6.1.0-moat".into(),
            overlay: true,
            pin_cpu: None,
            platform: crate::platform::Kind::Systrap,
            syscall_patch: true,
        }
    }
}

/// How the workload's init process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadExit {
    Exited(i32),
    Signaled(i32),
}

impl WorkloadExit {
    /// The status `runc run` exits with: the code, or 128 + signal.
    pub fn exit_code(self) -> i32 {
        match self {
            WorkloadExit::Exited(c) => c,
            WorkloadExit::Signaled(s) => 128 + s,
        }
    }
}
