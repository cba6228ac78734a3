//! The sentry's own confinement: a seccomp filter of the host syscalls it needs (default:
//! kill the process), no_new_privs, and only the capabilities it uses.
//! docs/security.md lists this filter; keep the two in sync.

use crate::SentryError;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};
use std::collections::BTreeMap;

/// Host syscalls the sentry may make once sealed, without argument checks.
pub const ALLOWED: &[(&str, i64)] = &[
    ("read", libc::SYS_read),
    ("write", libc::SYS_write),
    ("pread64", libc::SYS_pread64),
    ("close", libc::SYS_close),
    ("fstat", libc::SYS_fstat),
    ("lseek", libc::SYS_lseek),
    ("getdents64", libc::SYS_getdents64),
    ("readlinkat", libc::SYS_readlinkat),
    ("poll", libc::SYS_poll),
    ("ppoll", libc::SYS_ppoll),
    ("epoll_wait", libc::SYS_epoll_wait),
    ("epoll_pwait", libc::SYS_epoll_pwait),
    ("epoll_ctl", libc::SYS_epoll_ctl),
    ("ptrace", libc::SYS_ptrace),
    ("wait4", libc::SYS_wait4),
    ("process_vm_readv", libc::SYS_process_vm_readv),
    ("process_vm_writev", libc::SYS_process_vm_writev),
    ("kill", libc::SYS_kill),
    ("tgkill", libc::SYS_tgkill),
    ("mmap", libc::SYS_mmap),
    ("munmap", libc::SYS_munmap),
    ("mremap", libc::SYS_mremap),
    ("madvise", libc::SYS_madvise),
    ("brk", libc::SYS_brk),
    ("rt_sigprocmask", libc::SYS_rt_sigprocmask),
    ("rt_sigreturn", libc::SYS_rt_sigreturn),
    ("sigaltstack", libc::SYS_sigaltstack),
    ("clock_gettime", libc::SYS_clock_gettime),
    ("getrandom", libc::SYS_getrandom),
    ("futex", libc::SYS_futex),
    ("getpid", libc::SYS_getpid),
    ("gettid", libc::SYS_gettid),
    ("exit", libc::SYS_exit),
    ("exit_group", libc::SYS_exit_group),
    ("fcntl", libc::SYS_fcntl),
    ("ioctl", libc::SYS_ioctl),
    ("statx", libc::SYS_statx),
];

/// Syscalls allowed only when an argument has a bit set: (name, nr, arg index, bit).
/// Host opens and stats must never follow a symlink.
pub const MASKED: &[(&str, i64, u8, u64)] = &[
    ("openat", libc::SYS_openat, 2, libc::O_NOFOLLOW as u64),
    (
        "newfstatat",
        libc::SYS_newfstatat,
        3,
        libc::AT_SYMLINK_NOFOLLOW as u64,
    ),
];

fn build() -> Result<BpfProgram, SentryError> {
    let err = |e: &dyn std::fmt::Display| SentryError::Setup(format!("seccomp filter: {e}"));
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for (_, nr) in ALLOWED {
        rules.insert(*nr, vec![]);
    }
    for (_, nr, arg, bit) in MASKED {
        let cond = SeccompCondition::new(
            *arg,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::MaskedEq(*bit),
            *bit,
        )
        .map_err(|e| err(&e))?;
        rules.insert(
            *nr,
            vec![SeccompRule::new(vec![cond]).map_err(|e| err(&e))?],
        );
    }
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        std::env::consts::ARCH.try_into().map_err(|e| err(&e))?,
    )
    .map_err(|e| err(&e))?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| err(&e))
}

/// Capabilities the sentry keeps: it reads and (for --overlay=none) writes files of any
/// owner in the bundle.
const KEEP_CAPS: &[u32] = &[
    0, /* CHOWN */
    1, /* DAC_OVERRIDE */
    2, /* DAC_READ_SEARCH */
    3, /* FOWNER */
];

fn drop_caps() -> Result<(), SentryError> {
    let keep: u64 = KEEP_CAPS.iter().map(|c| 1u64 << c).sum();
    for cap in 0..64u64 {
        if keep & (1 << cap) == 0 {
            // SAFETY: prctl with integer arguments; EINVAL past the last cap is fine.
            unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) };
        }
    }
    // SAFETY: plain prctl.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let hdr = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let data = [
        Data {
            effective: keep as u32,
            permitted: keep as u32,
            inheritable: 0,
        },
        Data {
            effective: (keep >> 32) as u32,
            permitted: (keep >> 32) as u32,
            inheritable: 0,
        },
    ];
    // SAFETY: capset with a valid header and two data structs (version 3 layout).
    let r = unsafe { libc::syscall(libc::SYS_capset, &hdr, data.as_ptr()) };
    if r != 0 {
        return Err(SentryError::Host {
            op: "capset",
            err: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// Seals the sentry: from here on it can only make the syscalls above.
pub fn seal() -> Result<(), SentryError> {
    let prog = build()?;
    drop_caps()?;
    // SAFETY: plain prctl.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(SentryError::Host {
            op: "prctl(NO_NEW_PRIVS)",
            err: std::io::Error::last_os_error(),
        });
    }
    seccompiler::apply_filter(&prog).map_err(|e| SentryError::Setup(format!("seccomp: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn filter_builds() {
        super::build().expect("sentry filter compiles");
    }
}
