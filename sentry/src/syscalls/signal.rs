//! Signal syscalls: sigaction, masks, kill and friends, sigreturn, sigsuspend, sigaltstack.

use super::{block, SysErr, SysResult};
use crate::errno::Errno;
use crate::kernel::signal::{
    bit, SigAction, SigInfo, SigSet, SA_RESTORER, SIGKILL, SIGSTOP, SI_TKILL, SI_USER, UNBLOCKABLE,
};
use crate::kernel::{Kernel, Pid, Tid};
use crate::vfs::CAP_KILL;

pub fn sys_rt_sigaction(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (sig, act, oldact, size) = (a[0] as i32, a[1], a[2], a[3]);
    if size != 8 || !(1..=64).contains(&sig) {
        return Err(Errno::EINVAL.into());
    }
    let mem = k.mem_of(tid)?;
    let new = if act != 0 {
        if sig == SIGKILL || sig == SIGSTOP {
            return Err(Errno::EINVAL.into());
        }
        let b = mem.read_vec(act, 32)?;
        let rd = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        Some(SigAction {
            handler: rd(0),
            flags: rd(8),
            restorer: rd(16),
            mask: rd(24) & !UNBLOCKABLE,
        })
    } else {
        None
    };
    let acts = k.proc_of(tid).sigactions.clone();
    let old = acts.borrow()[sig as usize];
    if oldact != 0 {
        let mut b = [0u8; 32];
        b[0..8].copy_from_slice(&old.handler.to_le_bytes());
        b[8..16].copy_from_slice(&old.flags.to_le_bytes());
        b[16..24].copy_from_slice(&old.restorer.to_le_bytes());
        b[24..32].copy_from_slice(&old.mask.to_le_bytes());
        mem.write(oldact, &b)?;
    }
    if let Some(n) = new {
        if n.handler > 1 && n.flags & SA_RESTORER == 0 {
            // x86-64 requires a restorer; without one the handler could never return.
            tracing::debug!(task = tid, sig, "sigaction without SA_RESTORER");
        }
        acts.borrow_mut()[sig as usize] = n;
        // Setting a signal to be ignored discards it if pending.
        if k.sig_ignored(k.task(tid).tgid, sig) {
            let pid = k.task(tid).tgid;
            let threads = k
                .procs
                .get(&pid)
                .map(|p| p.threads.clone())
                .unwrap_or_default();
            if let Some(p) = k.procs.get_mut(&pid) {
                p.shared_pending.remove_sig(sig);
            }
            for t in threads {
                if let Some(t) = k.tasks.get_mut(&t) {
                    t.pending.remove_sig(sig);
                }
            }
        }
    }
    Ok(0)
}

pub fn sys_rt_sigprocmask(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (how, set, oldset, size) = (a[0] as i32, a[1], a[2], a[3]);
    if size != 8 {
        return Err(Errno::EINVAL.into());
    }
    let mem = k.mem_of(tid)?;
    let old = k.task(tid).sigmask;
    if set != 0 {
        let s = mem.read_u64(set)? & !UNBLOCKABLE;
        let new = match how {
            libc::SIG_BLOCK => old | s,
            libc::SIG_UNBLOCK => old & !s,
            libc::SIG_SETMASK => s,
            _ => return Err(Errno::EINVAL.into()),
        };
        k.task_mut(tid).sigmask = new;
    }
    if oldset != 0 {
        mem.write_u64(oldset, old)?;
    }
    Ok(0)
}

pub fn sys_rt_sigreturn(k: &mut Kernel, tid: Tid, _a: [u64; 6]) -> SysResult {
    if k.sigreturn(tid).is_err() {
        let pid = k.task(tid).tgid;
        k.kill_group(
            pid,
            crate::kernel::WaitStatus::signaled(libc::SIGSEGV, true),
        );
        return Err(SysErr::Gone);
    }
    Err(SysErr::NoReturn)
}

pub fn sys_rt_sigpending(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let t = k.task(tid);
    let p = k.proc_of(tid);
    let pending = (t.pending.mask | p.shared_pending.mask) & t.sigmask;
    k.mem_of(tid)?.write_u64(a[0], pending)?;
    Ok(0)
}

/// May the caller signal process `target`?
fn may_signal(k: &Kernel, tid: Tid, target: Pid) -> bool {
    let me = &k.proc_of(tid).creds;
    let Some(t) = k.procs.get(&target) else {
        return false;
    };
    me.has_cap(CAP_KILL)
        || me.euid == t.creds.uid
        || me.euid == t.creds.suid
        || me.uid == t.creds.uid
        || me.uid == t.creds.suid
}

/// Does process `target` drop signal `sig` sent from inside the sandbox because it is its
/// pid namespace's init (Linux's SIGNAL_UNKILLABLE)? An init only gets the signals it has a
/// handler for, or that it blocks (for sigwaitinfo or a signalfd); SIGKILL and SIGSTOP
/// from its own namespace never reach it. Every sender in the sandbox is in the target's
/// namespace or cannot name it, so the ancestor-namespace exception never applies here.
fn init_discards(k: &Kernel, target: Pid, sig: i32) -> bool {
    if sig == 0 || !crate::kernel::pidns::is_ns_init(target) {
        return false;
    }
    if sig != SIGKILL && sig != SIGSTOP && k.blocked_in_process(target, sig) {
        return false;
    }
    k.procs
        .get(&target)
        .is_some_and(|p| p.sigactions.borrow()[sig as usize].handler <= 1)
}

fn kill_one(k: &mut Kernel, tid: Tid, target: Pid, sig: i32) -> Result<(), Errno> {
    // A zombie still has its pid until it is reaped: signalling it succeeds and does nothing.
    if !k.procs.contains_key(&target) {
        return Err(Errno::ESRCH);
    }
    if !may_signal(k, tid, target) {
        return Err(Errno::EPERM);
    }
    if init_discards(k, target, sig) {
        return Ok(());
    }
    let me = k.task(tid).tgid;
    let uid = k.proc_of(tid).creds.uid;
    k.send_to_process(
        target,
        SigInfo {
            signo: sig,
            code: SI_USER,
            pid: me,
            uid,
            ..Default::default()
        },
    );
    Ok(())
}

pub fn sys_kill(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (pid, sig) = (a[0] as i32, a[1] as i32);
    if !(0..=64).contains(&sig) {
        return Err(Errno::EINVAL.into());
    }
    let me = k.task(tid).tgid;
    let targets: Vec<Pid> = if pid > 0 {
        vec![k.pid_arg(tid, pid as i64)?]
    } else if pid == 0 {
        let pg = k.proc_of(tid).pgid;
        k.procs
            .values()
            .filter(|p| p.pgid == pg)
            .map(|p| p.pid)
            .collect()
    } else if pid == -1 {
        k.procs
            .values()
            .filter(|p| !crate::kernel::pidns::is_ns_init(p.pid) && p.pid != me)
            .filter(|p| k.same_pidns(tid, p.pid))
            .map(|p| p.pid)
            .collect()
    } else {
        let pg = k.id_in_ns(tid, pid.checked_neg().unwrap_or(0));
        k.procs
            .values()
            .filter(|p| p.pgid == pg)
            .map(|p| p.pid)
            .collect()
    };
    if targets.is_empty() {
        return Err(Errno::ESRCH.into());
    }
    let mut ok = false;
    let mut last = Errno::ESRCH;
    // Signal others first so a self-kill does not cut the loop short.
    let mut sorted = targets;
    sorted.sort_by_key(|&p| p == me);
    for t in sorted {
        match kill_one(k, tid, t, sig) {
            Ok(()) => ok = true,
            Err(e) => last = e,
        }
        if !k.tasks.contains_key(&tid) {
            return Err(SysErr::Gone);
        }
    }
    if ok {
        Ok(0)
    } else {
        Err(last.into())
    }
}

fn tkill_impl(k: &mut Kernel, tid: Tid, tgid: Option<Pid>, target: Tid, sig: i32) -> SysResult {
    if !(0..=64).contains(&sig) || target <= 0 || tgid.is_some_and(|g| g <= 0) {
        return Err(Errno::EINVAL.into());
    }
    let target = k.pid_arg(tid, target as i64)?;
    let tgid = tgid.map(|g| k.id_in_ns(tid, g));
    let t = k.tasks.get(&target).ok_or(Errno::ESRCH)?;
    if tgid.is_some_and(|g| g != t.tgid) {
        return Err(Errno::ESRCH.into());
    }
    let tp = t.tgid;
    if !may_signal(k, tid, tp) {
        return Err(Errno::EPERM.into());
    }
    if sig == 0 || init_discards(k, tp, sig) {
        return Ok(0);
    }
    let me = k.task(tid).tgid;
    let uid = k.proc_of(tid).creds.uid;
    k.send_to_thread(
        target,
        SigInfo {
            signo: sig,
            code: SI_TKILL,
            pid: me,
            uid,
            ..Default::default()
        },
    );
    if !k.tasks.contains_key(&tid) {
        return Err(SysErr::Gone);
    }
    Ok(0)
}

pub fn sys_tkill(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    tkill_impl(k, tid, None, a[0] as Tid, a[1] as i32)
}
pub fn sys_tgkill(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    tkill_impl(k, tid, Some(a[0] as Pid), a[1] as Tid, a[2] as i32)
}

/// Reads the siginfo a workload queues itself (rt_sigqueueinfo, rt_tgsigqueueinfo). Linux
/// takes si_code, si_pid, si_uid and si_value as given; the signal number comes from the
/// syscall argument. A sender other than the target itself may not claim a kernel code
/// (si_code >= 0) or pretend to be tkill: EPERM.
fn user_siginfo(
    k: &Kernel,
    tid: Tid,
    addr: u64,
    sig: i32,
    to_self: bool,
) -> Result<SigInfo, Errno> {
    let b = k.mem_of(tid)?.read_vec(addr, 32)?;
    let rd32 = |i: usize| i32::from_le_bytes(b[i..i + 4].try_into().unwrap_or([0; 4]));
    let code = rd32(8);
    if (code >= 0 || code == SI_TKILL) && !to_self {
        return Err(Errno::EPERM);
    }
    let value = u64::from_le_bytes(b[24..32].try_into().unwrap_or([0; 8]));
    Ok(SigInfo {
        signo: sig,
        errno: rd32(4),
        code,
        pid: rd32(16),
        uid: rd32(20) as u32,
        status: value as i32,
        value,
        ..Default::default()
    })
}

pub fn sys_rt_sigqueueinfo(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (pid, sig) = (a[0] as Pid, a[1] as i32);
    if !(0..=64).contains(&sig) {
        return Err(Errno::EINVAL.into());
    }
    let pid = k.id_in_ns(tid, pid);
    let info = user_siginfo(k, tid, a[2], sig, pid == k.task(tid).tgid)?;
    if pid <= 0 || !k.procs.contains_key(&pid) {
        return Err(Errno::ESRCH.into());
    }
    queue_siginfo(k, tid, pid, info)?;
    if !k.tasks.contains_key(&tid) {
        return Err(SysErr::Gone);
    }
    Ok(0)
}

/// Sends a caller-built siginfo to process `pid` (rt_sigqueueinfo, pidfd_send_signal): the
/// permission check, signal 0 as a probe, the real-time queue limit, then delivery.
fn queue_siginfo(k: &mut Kernel, tid: Tid, pid: Pid, info: SigInfo) -> Result<(), SysErr> {
    if !may_signal(k, tid, pid) {
        return Err(Errno::EPERM.into());
    }
    if info.signo == 0 {
        return Ok(());
    }
    if init_discards(k, pid, info.signo) {
        return Ok(());
    }
    if info.signo >= 32 && k.sigqueue_full(pid) {
        return Err(Errno::EAGAIN.into());
    }
    k.send_to_process(pid, info);
    Ok(())
}

pub fn sys_rt_tgsigqueueinfo(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (tgid, target, sig) = (a[0] as Pid, a[1] as Tid, a[2] as i32);
    if tgid <= 0 || target <= 0 || !(0..=64).contains(&sig) {
        return Err(Errno::EINVAL.into());
    }
    let (tgid, target) = (k.id_in_ns(tid, tgid), k.id_in_ns(tid, target));
    // Linux compares the target thread with the caller itself here, not its process.
    let info = user_siginfo(k, tid, a[3], sig, target == tid)?;
    let t = k.tasks.get(&target).ok_or(Errno::ESRCH)?;
    if t.tgid != tgid {
        return Err(Errno::ESRCH.into());
    }
    if !may_signal(k, tid, tgid) {
        return Err(Errno::EPERM.into());
    }
    if sig == 0 || init_discards(k, tgid, sig) {
        return Ok(0);
    }
    if sig >= 32 && k.sigqueue_full(tgid) {
        return Err(Errno::EAGAIN.into());
    }
    k.send_to_thread(target, info);
    if !k.tasks.contains_key(&tid) {
        return Err(SysErr::Gone);
    }
    Ok(0)
}

/// The process a pidfd names: Ok(None) when it has exited but is not reaped yet (signals to
/// it succeed and do nothing), ESRCH once it is gone, EBADF if `fd` is not a pidfd.
pub fn pidfd_target(k: &Kernel, tid: Tid, fd: u64) -> Result<(Pid, bool), Errno> {
    let f = super::file::get_file(k, tid, fd)?;
    let pfd = crate::fs::pidfd::PidFd::of(&f).ok_or(Errno::EBADF)?;
    let pid = pfd.pid;
    if !pfd.exited() {
        return Ok((pid, true));
    }
    match k.procs.get(&pid) {
        Some(p) if p.zombie.is_some() => Ok((pid, false)),
        _ => Err(Errno::ESRCH),
    }
}

pub fn sys_pidfd_open(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (pid, flags) = (a[0] as i32, a[1] as u32);
    if flags & !(libc::O_NONBLOCK as u32) != 0 || pid <= 0 {
        return Err(Errno::EINVAL.into());
    }
    let pid = k.id_in_ns(tid, pid);
    let zombie = match k.procs.get(&pid) {
        Some(p) => p.zombie.is_some(),
        // A thread that is not its group's leader: pidfds name processes.
        None if k.tasks.contains_key(&pid) => return Err(Errno::ENOENT.into()),
        None => return Err(Errno::ESRCH.into()),
    };
    let f = crate::vfs::OpenFile::new(
        libc::O_RDWR as u32 | (flags & libc::O_NONBLOCK as u32),
        None,
        b"anon_inode:[pidfd]".to_vec(),
        Box::new(crate::fs::pidfd::PidFd::new(pid, zombie)),
    );
    // pidfds are always close-on-exec.
    Ok(k.proc_of(tid).fds.borrow_mut().install(f, true, 0)? as i64)
}

pub fn sys_pidfd_send_signal(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    const PIDFD_SIGNAL_THREAD_GROUP: u64 = 2;
    let (fd, sig, infop, flags) = (a[0], a[1] as i32, a[2], a[3] as u32 as u64);
    if flags & !PIDFD_SIGNAL_THREAD_GROUP != 0 {
        return Err(Errno::EINVAL.into());
    }
    let (pid, alive) = pidfd_target(k, tid, fd)?;
    let info = if infop != 0 {
        let b = k.mem_of(tid)?.read_vec(infop, 4)?;
        if i32::from_le_bytes(b[0..4].try_into().unwrap_or([0; 4])) != sig {
            return Err(Errno::EINVAL.into());
        }
        Some(user_siginfo(k, tid, infop, sig, pid == tid)?)
    } else {
        None
    };
    if !(0..=64).contains(&sig) {
        return Err(Errno::EINVAL.into());
    }
    if !alive {
        return Ok(0);
    }
    match info {
        None => kill_one(k, tid, pid, sig)?,
        Some(info) => queue_siginfo(k, tid, pid, info)?,
    }
    if !k.tasks.contains_key(&tid) {
        return Err(SysErr::Gone);
    }
    Ok(0)
}

pub fn sys_rt_sigsuspend(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if a[1] != 8 {
        return Err(Errno::EINVAL.into());
    }
    let t = k.task(tid);
    if t.saved_mask.is_none() {
        let mask = k.mem_of(tid)?.read_u64(a[0])? & !UNBLOCKABLE;
        let t = k.task_mut(tid);
        t.saved_mask = Some(t.sigmask);
        t.sigmask = mask;
    }
    Err(block())
}

pub fn sys_pause(_k: &mut Kernel, _tid: Tid, _a: [u64; 6]) -> SysResult {
    Err(block())
}

/// rt_sigtimedwait: take a pending signal from `set` without running a handler.
pub fn sys_rt_sigtimedwait(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if a[3] != 8 {
        return Err(Errno::EINVAL.into());
    }
    let r = sigtimedwait_take(k, tid, a);
    if let Err(SysErr::Interrupted) = r {
        if a[2] != 0 {
            let mem = k.mem_of(tid)?;
            let sec = mem.read_u64(a[2])? as i64;
            let nsec = mem.read_u64(a[2] + 8)? as i64;
            if !(0..1_000_000_000).contains(&nsec) || sec < 0 {
                return Err(Errno::EINVAL.into());
            }
            let t = k.task_mut(tid);
            let d = *t.deadline.get_or_insert_with(|| {
                std::time::Instant::now() + std::time::Duration::new(sec as u64, nsec as u32)
            });
            if d <= std::time::Instant::now() {
                return Err(Errno::EAGAIN.into());
            }
            let mut b = block();
            if let SysErr::Block(bl) = &mut b {
                bl.deadline = Some(d);
            }
            return Err(b);
        }
        return Err(block());
    }
    r
}

/// Dequeues a signal from the set at a[0]; Err(Interrupted) when none is pending.
pub fn sigtimedwait_take(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let mem = k.mem_of(tid)?;
    let set: SigSet = mem.read_u64(a[0])? & !UNBLOCKABLE;
    let t = k.task_mut(tid);
    let pid = t.tgid;
    let mut info = t.pending.take(!set);
    if info.is_none() {
        info = k
            .procs
            .get_mut(&pid)
            .and_then(|p| p.shared_pending.take(!set));
    }
    match info {
        Some(i) => {
            if a[1] != 0 {
                mem.write(a[1], &i.to_bytes())?;
            }
            Ok(i.signo as i64)
        }
        None => {
            // A signal outside the set interrupts the wait.
            if k.has_deliverable(tid) {
                let t = k.task(tid);
                let p = k.proc_of(tid);
                if ((t.pending.mask | p.shared_pending.mask) & !t.sigmask & !set) != 0 {
                    return Err(Errno::EINTR.into());
                }
            }
            Err(SysErr::Interrupted)
        }
    }
}

pub fn sys_sigaltstack(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let mem = k.mem_of(tid)?;
    let cur = k.task(tid).altstack;
    let rsp = k.task(tid).regs.rsp;
    let on = cur.2 != 0 && rsp > cur.0 && rsp <= cur.0 + cur.2;
    if a[1] != 0 {
        let mut b = [0u8; 24];
        b[0..8].copy_from_slice(&cur.0.to_le_bytes());
        let flags = if on {
            libc::SS_ONSTACK
        } else if cur.2 == 0 {
            libc::SS_DISABLE
        } else {
            cur.1
        };
        b[8..12].copy_from_slice(&flags.to_le_bytes());
        b[16..24].copy_from_slice(&cur.2.to_le_bytes());
        mem.write(a[1], &b)?;
    }
    if a[0] != 0 {
        if on {
            return Err(Errno::EPERM.into());
        }
        let b = mem.read_vec(a[0], 24)?;
        let sp = u64::from_le_bytes(b[0..8].try_into().unwrap_or([0; 8]));
        let flags = i32::from_le_bytes(b[8..12].try_into().unwrap_or([0; 4]));
        let size = u64::from_le_bytes(b[16..24].try_into().unwrap_or([0; 8]));
        if flags & !(libc::SS_DISABLE | (1 << 31)) != 0 {
            return Err(Errno::EINVAL.into());
        }
        if flags & libc::SS_DISABLE != 0 {
            k.task_mut(tid).altstack = (0, libc::SS_DISABLE, 0);
        } else {
            if size < crate::arch::MINSIGSTKSZ {
                return Err(Errno::ENOMEM.into());
            }
            k.task_mut(tid).altstack = (sp, 0, size);
        }
    }
    Ok(0)
}

pub fn blocked_bit(sig: i32) -> SigSet {
    bit(sig)
}
