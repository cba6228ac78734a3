//! The syscall table: number -> (name, handler, support level, note), and the dispatcher.
//! Handlers live in one file per family; `moat syscalls` prints this table.

pub mod anonfd;
pub mod epoll;
pub mod file;
pub mod fs;
pub mod futex;
pub mod ipc;
pub mod misc;
pub mod mm;
pub mod names;
pub mod net;
pub mod process;
pub mod seccomp;
pub mod signal;
pub mod table;
pub mod time;
pub mod xattr;

use crate::errno::Errno;
use crate::kernel::{Blocked, Kernel, Tid};
use crate::vfs::{Inode, PathCtx};
use std::rc::Rc;

/// How a syscall ended, seen from the dispatcher.
#[derive(Debug)]
pub enum SysErr {
    Errno(Errno),
    /// Cannot complete yet; park the task and retry when something changes.
    Block(Blocked),
    /// A signal interrupted it and it should be restarted if the handler allows.
    Restart,
    /// A signal interrupted it; fail with EINTR after the handler (no restart).
    Interrupted,
    /// The handler already set the registers (execve, rt_sigreturn); just resume.
    NoReturn,
    /// The calling task no longer exists (exit).
    Gone,
}

impl From<Errno> for SysErr {
    fn from(e: Errno) -> SysErr {
        SysErr::Errno(e)
    }
}

pub type SysResult = Result<i64, SysErr>;
pub type Handler = fn(&mut Kernel, Tid, [u64; 6]) -> SysResult;

/// Support levels shown in the syscall table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    Full,
    Partial,
    /// Returns an error on purpose (e.g. EPERM for host administration).
    Refused,
}

impl Support {
    pub fn as_str(self) -> &'static str {
        match self {
            Support::Full => "full",
            Support::Partial => "partial",
            Support::Refused => "refused",
        }
    }
}

pub struct SyscallDef {
    pub nr: u64,
    pub handler: Handler,
    pub support: Support,
    pub note: &'static str,
}

pub fn name_of(nr: u64) -> &'static str {
    names::NAMES
        .get(nr as usize)
        .copied()
        .filter(|n| !n.is_empty())
        .unwrap_or("unknown")
}

/// Runs syscall `nr` for `tid`.
pub fn dispatch(k: &mut Kernel, tid: Tid, nr: u64, args: [u64; 6]) -> SysResult {
    if k.seccomp_any {
        if let Some(r) = seccomp::check(k, tid, nr, &args) {
            if k.strace {
                tracing::info!(task = tid, syscall = name_of(nr), ?args, result = ?r, "strace: seccomp profile");
            }
            return r;
        }
    }
    match table::lookup(nr) {
        Some(def) => {
            let r = (def.handler)(k, tid, args);
            if k.strace {
                tracing::info!(task = tid, syscall = name_of(nr), ?args, result = ?r, "strace");
            }
            r
        }
        None => {
            k.log_enosys(nr, name_of(nr));
            Err(Errno::ENOSYS.into())
        }
    }
}

/// A blocked syscall was interrupted by a signal. Returns the result it should report, or
/// None for the default (restart if the handler allows, else EINTR).
pub fn interrupted(k: &mut Kernel, tid: Tid, nr: u64, args: [u64; 6]) -> Option<SysResult> {
    // A TCP send that queued part of its data returns that count (net::send_all).
    let sent = std::mem::take(&mut k.task_mut(tid).sent);
    if sent > 0 {
        return Some(Ok(sent as i64));
    }
    match nr as i64 {
        libc::SYS_nanosleep | libc::SYS_clock_nanosleep => {
            time::sleep_interrupted(k, tid, nr, args)
        }
        libc::SYS_rt_sigsuspend | libc::SYS_pause | libc::SYS_rt_sigtimedwait => {
            if nr as i64 == libc::SYS_rt_sigtimedwait {
                return Some(signal::sigtimedwait_take(k, tid, args));
            }
            Some(Err(SysErr::Interrupted))
        }
        libc::SYS_open | libc::SYS_openat | libc::SYS_openat2 | libc::SYS_creat => {
            // A FIFO open waiting for its partner gives its place up (restarted or EINTR).
            crate::fs::pipe::abandon_fifo_opens(|t| t == tid);
            None
        }
        libc::SYS_semop | libc::SYS_semtimedop | libc::SYS_msgsnd | libc::SYS_msgrcv => {
            ipc::interrupted(k, tid);
            None
        }
        libc::SYS_wait4
        | libc::SYS_waitid
        | libc::SYS_read
        | libc::SYS_readv
        | libc::SYS_write
        | libc::SYS_writev => None,
        libc::SYS_ppoll | libc::SYS_select | libc::SYS_pselect6 => {
            let r = Err(SysErr::Interrupted);
            misc::write_back_remaining(k, tid, nr, args, &r);
            Some(r)
        }
        libc::SYS_poll | libc::SYS_epoll_wait | libc::SYS_epoll_pwait => {
            Some(Err(SysErr::Interrupted))
        }
        _ => None,
    }
}

pub fn block() -> SysErr {
    SysErr::Block(Blocked {
        nr: 0,
        args: [0; 6],
        deadline: None,
        host_fds: vec![],
        no_restart: false,
    })
}

pub fn block_on_host(fd: Option<i32>, events: u32) -> SysErr {
    SysErr::Block(Blocked {
        nr: 0,
        args: [0; 6],
        deadline: None,
        host_fds: fd.map(|f| vec![(f, events)]).unwrap_or_default(),
        no_restart: false,
    })
}

pub fn path_ctx(k: &Kernel, tid: Tid) -> PathCtx {
    let p = k.proc_of(tid);
    PathCtx {
        root: p.root.clone(),
        cwd: p.cwd.clone(),
        creds: p.creds.clone(),
        pid: p.pid,
        tid,
    }
}

pub fn read_path(k: &Kernel, tid: Tid, addr: u64) -> Result<Vec<u8>, Errno> {
    if addr == 0 {
        return Err(Errno::EFAULT);
    }
    let mem = k.mem_of(tid)?;
    mem.read_cstr(addr, crate::vfs::path::PATH_MAX - 1)
}

/// The directory a *at() call starts from: None for AT_FDCWD or absolute paths.
pub fn dirfd_start(
    k: &Kernel,
    tid: Tid,
    dirfd: i32,
    path: &[u8],
) -> Result<Option<Rc<Inode>>, Errno> {
    if path.first() == Some(&b'/') || dirfd == libc::AT_FDCWD {
        return Ok(None);
    }
    let f = k.proc_of(tid).fds.borrow().get(dirfd)?;
    let inode = f.inode.clone().ok_or(Errno::ENOTDIR)?;
    if !inode.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    Ok(Some(inode))
}

pub fn arg_i32(v: u64) -> i32 {
    v as i32
}
