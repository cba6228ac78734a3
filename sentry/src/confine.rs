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
    ("pwrite64", libc::SYS_pwrite64),
    // Write-through (--overlay=none, rw bind mounts): single components relative to dir fds.
    ("mkdirat", libc::SYS_mkdirat),
    ("unlinkat", libc::SYS_unlinkat),
    ("renameat2", libc::SYS_renameat2),
    ("linkat", libc::SYS_linkat),
    ("symlinkat", libc::SYS_symlinkat),
    ("mknodat", libc::SYS_mknodat),
    ("fchmod", libc::SYS_fchmod),
    ("fchownat", libc::SYS_fchownat),
    ("utimensat", libc::SYS_utimensat),
    ("ftruncate", libc::SYS_ftruncate),
    ("fallocate", libc::SYS_fallocate),
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
    ("wait4", libc::SYS_wait4),
    ("waitid", libc::SYS_waitid),
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
    // The runtime's control-socket thread (already-open listener; no new sockets).
    ("accept4", libc::SYS_accept4),
    ("recvmsg", libc::SYS_recvmsg),
    ("sendmsg", libc::SYS_sendmsg),
    ("recvfrom", libc::SYS_recvfrom),
    ("sendto", libc::SYS_sendto),
    ("shutdown", libc::SYS_shutdown),
    ("getsockopt", libc::SYS_getsockopt),
    ("nanosleep", libc::SYS_nanosleep),
    ("clock_nanosleep", libc::SYS_clock_nanosleep),
    ("sched_yield", libc::SYS_sched_yield),
    // Workload AF_INET/AF_INET6 sockets are host sockets the sentry owns (net/inet.rs);
    // socket(2) itself is only allowed for those two families and read-only route netlink
    // (ARG_EQ below).
    ("bind", libc::SYS_bind),
    ("listen", libc::SYS_listen),
    ("connect", libc::SYS_connect),
    ("setsockopt", libc::SYS_setsockopt),
    ("getsockname", libc::SYS_getsockname),
    ("getpeername", libc::SYS_getpeername),
];

/// Only under `--platform=ptrace`: the sentry is its stubs' tracer.
pub const PTRACE_PLATFORM: &[(&str, i64)] = &[("ptrace", libc::SYS_ptrace)];

/// Only with workload memory in the stubs (`MOAT_STUB_MEMORY=1`, a debugging switch): the
/// sentry copies through the stub processes instead of the memory file.
pub const STUB_MEMORY: &[(&str, i64)] = &[
    ("process_vm_readv", libc::SYS_process_vm_readv),
    ("process_vm_writev", libc::SYS_process_vm_writev),
];

/// Which optional parts of the filter this sentry needs.
#[derive(Clone, Copy, Debug)]
pub struct Needs {
    pub ptrace: bool,
    pub stub_memory: bool,
}

impl Needs {
    /// What the running sentry uses (its platform and memory model).
    pub fn current() -> Needs {
        Needs {
            ptrace: crate::platform::kind() == crate::platform::Kind::Ptrace,
            stub_memory: !crate::mm::space::enabled(),
        }
    }
}

/// Syscalls allowed only when an argument equals one of a few values: (name, nr, arg index,
/// value). The sentry creates IP sockets for the workload, never unix, netlink or packet ones.
/// Every (arg index, value) of one entry must match.
pub const ARG_EQ: &[(&str, i64, &[(u8, u64)])] = &[
    ("socket", libc::SYS_socket, &[(0, libc::AF_INET as u64)]),
    ("socket", libc::SYS_socket, &[(0, libc::AF_INET6 as u64)]),
    // Interface and address listings (getifaddrs, `ip addr`): NETLINK_ROUTE only; the sentry
    // forwards read requests only, and holds no CAP_NET_ADMIN for anything else.
    (
        "socket",
        libc::SYS_socket,
        &[
            (0, libc::AF_NETLINK as u64),
            (2, libc::NETLINK_ROUTE as u64),
        ],
    ),
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
    // glibc's fstat(fd) is newfstatat(fd, "", buf, AT_EMPTY_PATH): it names no path.
    (
        "newfstatat",
        libc::SYS_newfstatat,
        3,
        libc::AT_EMPTY_PATH as u64,
    ),
];

fn build(needs: Needs) -> Result<BpfProgram, SentryError> {
    let err = |e: &dyn std::fmt::Display| SentryError::Setup(format!("seccomp filter: {e}"));
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let optional = [
        (needs.ptrace, PTRACE_PLATFORM),
        (needs.stub_memory, STUB_MEMORY),
    ];
    let extra = optional
        .iter()
        .filter(|(on, _)| *on)
        .flat_map(|(_, l)| l.iter());
    for (_, nr) in ALLOWED.iter().chain(extra) {
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
        rules
            .entry(*nr)
            .or_default()
            .push(SeccompRule::new(vec![cond]).map_err(|e| err(&e))?);
    }
    for (_, nr, conds) in ARG_EQ {
        let conds = conds
            .iter()
            .map(|(arg, val)| {
                SeccompCondition::new(*arg, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, *val)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err(&e))?;
        rules
            .entry(*nr)
            .or_default()
            .push(SeccompRule::new(conds).map_err(|e| err(&e))?);
    }
    // MOAT_DEBUG_SECCOMP=1: report the offending syscall instead of dying silently.
    let debug = std::env::var_os("MOAT_DEBUG_SECCOMP").is_some();
    let filter = SeccompFilter::new(
        rules,
        if debug {
            SeccompAction::Trap
        } else {
            SeccompAction::KillProcess
        },
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
    // Workload TCP/UDP sockets are the sentry's: binding ports below 1024 needs this (the
    // workload's own virtual capability is checked first, in syscalls/net.rs).
    10, /* NET_BIND_SERVICE */
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

extern "C" fn on_sigsys(_sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo; for SIGSYS the syscall number sits at offset 24.
    let nr = unsafe { *((info as *const u8).add(24) as *const i32) };
    // SAFETY: ctx is the ucontext the kernel built; gregs start at offset 40 (r10 is index 2).
    let a3 = unsafe { *((ctx as *const u8).add(40 + 16) as *const u64) };
    let mut hex = *b"arg3=0000000000000000\n";
    for i in 0..16 {
        let d = ((a3 >> ((15 - i) * 4)) & 0xf) as u8;
        hex[5 + i] = if d < 10 { b'0' + d } else { b'a' + d - 10 };
    }
    // SAFETY: async-signal-safe write.
    unsafe { libc::write(2, hex.as_ptr() as *const _, hex.len()) };
    let mut msg = *b"moat sentry: seccomp violation, syscall 000\n";
    let n = msg.len();
    msg[n - 4] = b'0' + (nr / 100 % 10) as u8;
    msg[n - 3] = b'0' + (nr / 10 % 10) as u8;
    msg[n - 2] = b'0' + (nr % 10) as u8;
    // SAFETY: async-signal-safe write and _exit.
    unsafe {
        libc::write(2, msg.as_ptr() as *const _, n);
        libc::_exit(159);
    }
}

/// Every workload TCP/UDP socket is a host fd of the sentry: use the whole hard limit (the
/// workload's own limit is the virtual RLIMIT_NOFILE of its fd tables). Best effort.
fn raise_nofile() {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 && rl.rlim_cur < rl.rlim_max {
            rl.rlim_cur = rl.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
        }
    }
}

/// Seals the sentry: from here on it can only make the syscalls above.
pub fn seal() -> Result<(), SentryError> {
    let prog = build(Needs::current())?;
    if std::env::var_os("MOAT_DEBUG_SECCOMP").is_some() {
        // SAFETY: installing a plain SA_SIGINFO handler for SIGSYS.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigsys as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO;
            libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut());
        }
    }
    raise_nofile();
    drop_caps()?;
    // SAFETY: plain prctl.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(SentryError::Host {
            op: "prctl(NO_NEW_PRIVS)",
            err: std::io::Error::last_os_error(),
        });
    }
    // Every thread of the sandbox process (the runtime's control thread too) gets the filter.
    seccompiler::apply_filter_all_threads(&prog)
        .map_err(|e| SentryError::Setup(format!("seccomp: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn filter_builds() {
        super::build(super::Needs {
            ptrace: true,
            stub_memory: true,
        })
        .expect("sentry filter compiles");
    }

    /// Applies the filter in a child and checks what it lets through.
    #[test]
    fn filter_allows_fstat_and_nofollow_opens_only() {
        let prog = super::build(super::Needs {
            ptrace: true,
            stub_memory: true,
        })
        .expect("filter");
        // SAFETY: fork in a test; the child only makes raw syscalls and exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: child side, see above.
            unsafe {
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                if seccompiler::apply_filter(&prog).is_err() {
                    libc::_exit(2);
                }
                let mut st: libc::stat = std::mem::zeroed();
                libc::fstat(0, &mut st);
                libc::fstatat(
                    libc::AT_FDCWD,
                    c"/".as_ptr(),
                    &mut st,
                    libc::AT_SYMLINK_NOFOLLOW,
                );
                libc::openat(
                    libc::AT_FDCWD,
                    c"/".as_ptr(),
                    libc::O_RDONLY | libc::O_NOFOLLOW,
                );
                libc::_exit(0);
            }
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "status {status:#x}"
        );
    }
}

#[cfg(test)]
mod socket_tests {
    /// Runs `f` in a forked child under the sealed filter; returns the wait status.
    fn under_filter(f: fn() -> i32) -> i32 {
        under_filter_with(
            super::Needs {
                ptrace: true,
                stub_memory: true,
            },
            f,
        )
    }

    fn under_filter_with(needs: super::Needs, f: fn() -> i32) -> i32 {
        let prog = super::build(needs).expect("filter");
        // SAFETY: fork in a test; the child only makes raw syscalls and exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: child side, see above.
            unsafe {
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                if seccompiler::apply_filter(&prog).is_err() {
                    libc::_exit(2);
                }
                libc::_exit(f());
            }
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        status
    }

    /// Under systrap with workload memory in the memory file, ptrace and process_vm_readv
    /// kill the sentry.
    #[test]
    fn systrap_filter_has_no_ptrace_or_process_vm() {
        let needs = super::Needs {
            ptrace: false,
            stub_memory: false,
        };
        let ok = under_filter_with(needs, || {
            // SAFETY: a getpid(2) call.
            unsafe { libc::getpid() };
            0
        });
        assert!(
            libc::WIFEXITED(ok) && libc::WEXITSTATUS(ok) == 0,
            "status {ok:#x}"
        );
        let st = under_filter_with(needs, || {
            // SAFETY: PTRACE_PEEKDATA of our parent fails or kills; it changes nothing.
            unsafe { libc::ptrace(libc::PTRACE_PEEKDATA, libc::getppid(), 0, 0) };
            0
        });
        assert!(libc::WIFSIGNALED(st), "ptrace allowed: status {st:#x}");
        let st = under_filter_with(needs, || {
            let mut b = [0u8; 8];
            let local = libc::iovec {
                iov_base: b.as_mut_ptr() as *mut _,
                iov_len: 8,
            };
            let remote = libc::iovec {
                iov_base: b.as_mut_ptr() as *mut _,
                iov_len: 8,
            };
            // SAFETY: reads our own memory into our own buffer, if it were allowed.
            unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
            0
        });
        assert!(
            libc::WIFSIGNALED(st),
            "process_vm_readv allowed: status {st:#x}"
        );
    }

    /// The sentry may create IP sockets (workload TCP/UDP) and nothing else.
    #[test]
    fn filter_allows_ip_sockets_only() {
        let st = under_filter(|| {
            // SAFETY: plain socket(2) calls.
            let a = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
            // SAFETY: as above.
            let b = unsafe { libc::socket(libc::AF_INET6, libc::SOCK_DGRAM, 0) };
            i32::from(a < 0 || b < 0)
        });
        assert!(
            libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0,
            "status {st:#x}"
        );
        let st = under_filter(|| {
            // SAFETY: plain socket(2) call.
            let r = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE) };
            i32::from(r < 0)
        });
        assert!(
            libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0,
            "route netlink: {st:#x}"
        );
        for domain in [libc::AF_UNIX, libc::AF_NETLINK, libc::AF_PACKET] {
            let st = match domain {
                // SAFETY: plain socket(2) calls in the filtered child.
                libc::AF_UNIX => {
                    under_filter(|| unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) })
                }
                // SAFETY: as above. Any netlink family but NETLINK_ROUTE (here: audit).
                libc::AF_NETLINK => under_filter(|| unsafe {
                    libc::socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_AUDIT)
                }),
                // SAFETY: as above.
                _ => under_filter(|| unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) }),
            };
            assert!(
                libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == libc::SIGSYS,
                "socket({domain}) not killed: status {st:#x}"
            );
        }
    }
}

#[cfg(test)]
mod doc_tests {
    /// docs/security.md lists the filter; keep them in sync.
    #[test]
    fn security_doc_lists_every_allowed_syscall() {
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/security.md"))
                .expect("docs/security.md");
        let all = super::ALLOWED
            .iter()
            .chain(super::PTRACE_PLATFORM)
            .chain(super::STUB_MEMORY);
        for (name, _) in all {
            assert!(
                doc.split_whitespace().any(|w| w == *name),
                "docs/security.md does not list {name}"
            );
        }
        for (name, ..) in super::MASKED {
            assert!(doc.contains(name), "docs/security.md does not list {name}");
        }
        for (name, ..) in super::ARG_EQ {
            assert!(doc.contains(name), "docs/security.md does not list {name}");
        }
    }
}
