//! Everything else: uname, getrandom, sysinfo, scheduling, poll/select.

use super::file::get_file;
use super::{block, SysErr, SysResult};
use crate::errno::Errno;
use crate::kernel::{Blocked, Kernel, Tid};
use crate::vfs::file::{
    POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLPRI, POLLRDNORM, POLLWRNORM,
};
use std::time::{Duration, Instant};

pub fn sys_uname(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let mut b = [0u8; 65 * 6];
    let fields: [&[u8]; 6] = [
        b"Linux",
        &k.uts.hostname,
        &k.uts.release,
        b"#1 SMP PREEMPT_DYNAMIC moat",
        b"x86_64",
        &k.uts.domainname,
    ];
    for (i, f) in fields.iter().enumerate() {
        let n = f.len().min(64);
        b[i * 65..i * 65 + n].copy_from_slice(&f[..n]);
    }
    k.mem_of(tid)?.write(a[0], &b)?;
    Ok(0)
}

pub fn sys_sethostname(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if !k.proc_of(tid).creds.has_cap(21) {
        return Err(Errno::EPERM.into());
    }
    if a[1] > 64 {
        return Err(Errno::EINVAL.into());
    }
    let v = k.mem_of(tid)?.read_vec(a[0], a[1] as usize)?;
    k.uts.hostname = v;
    Ok(0)
}

pub fn sys_setdomainname(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if !k.proc_of(tid).creds.has_cap(21) {
        return Err(Errno::EPERM.into());
    }
    if a[1] > 64 {
        return Err(Errno::EINVAL.into());
    }
    let v = k.mem_of(tid)?.read_vec(a[0], a[1] as usize)?;
    k.uts.domainname = v;
    Ok(0)
}

pub fn sys_getrandom(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if a[2] & !7 != 0 {
        return Err(Errno::EINVAL.into());
    }
    let n = (a[1] as usize).min(1 << 25);
    let mut buf = vec![0u8; n];
    crate::fs::devfs::fill_random(&mut buf);
    k.mem_of(tid)?.write(a[0], &buf)?;
    Ok(n as i64)
}

pub fn sys_sysinfo(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    // SAFETY: POD.
    let mut si: libc::sysinfo = unsafe { std::mem::zeroed() };
    // Rounded up, as Linux does: a sandbox is never 0 seconds old.
    let up = k.boot_time.elapsed();
    si.uptime = up.as_secs() as i64 + i64::from(up.subsec_nanos() != 0);
    si.totalram = 2 << 30;
    si.freeram = 1 << 30;
    si.procs = k.procs.len() as u16;
    si.mem_unit = 1;
    k.mem_of(tid)?.write_pod(a[0], &si)?;
    Ok(0)
}

pub fn sys_sched_yield(_k: &mut Kernel, _tid: Tid, _a: [u64; 6]) -> SysResult {
    Ok(0)
}

/// The thread a sched_* call names: 0 is the caller; a negative id is EINVAL and an id
/// that names no thread ESRCH.
fn sched_target(k: &Kernel, tid: Tid, pid: u64) -> Result<Tid, Errno> {
    match pid as i32 {
        p if p < 0 => Err(Errno::EINVAL),
        0 => Ok(tid),
        p => {
            let t = k.id_in_ns(tid, p);
            if k.tasks.contains_key(&t) {
                Ok(t)
            } else {
                Err(Errno::ESRCH)
            }
        }
    }
}

pub fn sys_sched_getaffinity(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let target = sched_target(k, tid, a[0])?;
    let len = a[1] as usize;
    if len < 8 || len % 8 != 0 {
        return Err(Errno::EINVAL.into());
    }
    let mask = k.task(target).affinity;
    k.mem_of(tid)?.write_u64(a[2], mask)?;
    Ok(8)
}

pub fn sys_sched_setaffinity(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let target = sched_target(k, tid, a[0])?;
    // A shorter mask is zero-extended; bits past the CPUs that exist are ignored.
    let n = (a[1] as usize).min(8);
    let raw = k.mem_of(tid)?.read_vec(a[2], n)?;
    let mut b = [0u8; 8];
    b[..n].copy_from_slice(&raw);
    let mask = u64::from_le_bytes(b) & crate::kernel::all_cpus(k.ncpu);
    if mask == 0 {
        return Err(Errno::EINVAL.into());
    }
    k.task_mut(target).affinity = mask;
    Ok(0)
}

pub fn sys_ok(_k: &mut Kernel, _tid: Tid, _a: [u64; 6]) -> SysResult {
    Ok(0)
}

const PRIO_PROCESS: u64 = 0;
const PRIO_PGRP: u64 = 1;
const PRIO_USER: u64 = 2;

/// The threads getpriority/setpriority(which, who) name; Err(EINVAL) for a bad `which`.
fn prio_targets(k: &Kernel, tid: Tid, which: u64, who: u64) -> Result<Vec<Tid>, Errno> {
    let who = who as u32 as i32;
    let mut v: Vec<Tid> = match which {
        // A thread id: nice values are per thread in Linux.
        PRIO_PROCESS => {
            let t = if who == 0 { tid } else { k.id_in_ns(tid, who) };
            k.tasks.get(&t).map(|t| t.tid).into_iter().collect()
        }
        PRIO_PGRP => {
            let pgid = if who == 0 {
                k.proc_of(tid).pgid
            } else {
                k.id_in_ns(tid, who)
            };
            k.procs
                .values()
                .filter(|p| p.pgid == pgid && p.zombie.is_none())
                .flat_map(|p| p.threads.iter().copied())
                .collect()
        }
        PRIO_USER => {
            let uid = if who == 0 {
                k.proc_of(tid).creds.uid
            } else {
                who as u32
            };
            k.procs
                .values()
                .filter(|p| p.creds.uid == uid && p.zombie.is_none())
                .filter(|p| k.same_pidns(tid, p.pid))
                .flat_map(|p| p.threads.iter().copied())
                .collect()
        }
        _ => return Err(Errno::EINVAL),
    };
    v.sort_unstable();
    Ok(v)
}

/// The raw syscall returns 20 - nice (1..=40) so that no success looks like an error; glibc
/// turns it back into a nice value.
pub fn sys_getpriority(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    prio_targets(k, tid, a[0], a[1])?
        .iter()
        .filter_map(|t| k.tasks.get(t))
        .map(|t| 20 - t.nice as i64)
        .max()
        .ok_or_else(|| Errno::ESRCH.into())
}

pub fn sys_setpriority(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let targets = prio_targets(k, tid, a[0], a[1])?;
    let nice = (a[2] as i32).clamp(-20, 19);
    let me = k.proc_of(tid).creds.clone();
    const CAP_SYS_NICE: u32 = 23;
    let mut res: SysResult = Err(Errno::ESRCH.into());
    for t in targets {
        let Some(task) = k.tasks.get(&t) else {
            continue;
        };
        let Some(p) = k.procs.get(&task.tgid) else {
            continue;
        };
        let owner = p.creds.uid == me.euid || p.creds.euid == me.euid;
        if !owner && !me.has_cap(CAP_SYS_NICE) {
            res = Err(Errno::EPERM.into());
            continue;
        }
        // Raising priority needs CAP_SYS_NICE or room under RLIMIT_NICE (20 - nice).
        let rlim = p.rlimits[libc::RLIMIT_NICE as usize].0;
        if nice < task.nice && ((20 - nice) as u64) > rlim && !me.has_cap(CAP_SYS_NICE) {
            res = Err(Errno::EACCES.into());
            continue;
        }
        if matches!(res, Err(SysErr::Errno(Errno::ESRCH))) {
            res = Ok(0);
        }
        k.task_mut(t).nice = nice;
    }
    res
}

/// personality(2): the persona is kept per process and reported; 0xffffffff only queries.
pub fn sys_personality(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let p = k.proc_of_mut(tid);
    let old = p.personality;
    if a[0] as u32 != 0xffff_ffff {
        p.personality = a[0] as u32;
    }
    Ok(old as i64)
}

pub fn sys_sched_get_priority_max(_k: &mut Kernel, _tid: Tid, a: [u64; 6]) -> SysResult {
    Ok(match a[0] as i32 {
        libc::SCHED_FIFO | libc::SCHED_RR => 99,
        _ => 0,
    })
}

/// sched_rr_get_interval(pid, tp): every task is SCHED_OTHER, whose time slice Linux
/// reports as 0 here.
pub fn sys_sched_rr_get_interval(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let pid = a[0] as i32;
    if pid < 0 {
        return Err(Errno::EINVAL.into());
    }
    if pid != 0 && !k.tasks.contains_key(&k.id_in_ns(tid, pid)) {
        return Err(Errno::ESRCH.into());
    }
    let mem = k.mem_of(tid)?;
    mem.write_u64(a[1], 0)?;
    mem.write_u64(a[1] + 8, 0)?;
    Ok(0)
}

/// ioprio_get(which, who) / ioprio_set(which, who, ioprio): the sandbox does no I/O
/// scheduling, but the priority is kept per task (and inherited) so programs read back what
/// they set.
pub fn sys_ioprio_get(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let targets = ioprio_targets(k, tid, a[0], a[1])?;
    // Linux answers the highest priority (lowest value) of the matched tasks.
    let best = targets
        .iter()
        .filter_map(|t| k.tasks.get(t))
        .map(|t| t.ioprio)
        .min();
    Ok(i64::from(best.unwrap_or(0)))
}

pub fn sys_ioprio_set(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (class, data) = ((a[2] as u32 >> 13) & 0x7, a[2] as u32 & 0x1fff);
    let ok = match class {
        0 => data == 0,    // none
        1 | 2 => data < 8, // real time, best effort
        3 => true,         // idle
        _ => false,
    };
    if !ok || a[2] >> 16 != 0 {
        return Err(Errno::EINVAL.into());
    }
    let targets = ioprio_targets(k, tid, a[0], a[1])?;
    let creds = &k.proc_of(tid).creds;
    const CAP_SYS_NICE: u32 = 23;
    const CAP_SYS_ADMIN: u32 = 21;
    if class == 1 && !(creds.has_cap(CAP_SYS_ADMIN) || creds.has_cap(CAP_SYS_NICE)) {
        return Err(Errno::EPERM.into());
    }
    for t in targets {
        if let Some(t) = k.tasks.get_mut(&t) {
            t.ioprio = a[2] as u16;
        }
    }
    Ok(0)
}

/// The tasks ioprio's (which, who) names: 1 = a thread, 2 = a process group, 3 = a user's
/// tasks; who 0 is the caller's own.
fn ioprio_targets(k: &Kernel, tid: Tid, which: u64, who: u64) -> Result<Vec<Tid>, SysErr> {
    let who = who as i32;
    let me = k.proc_of(tid);
    let v: Vec<Tid> = match which {
        1 => vec![if who == 0 { tid } else { k.id_in_ns(tid, who) }]
            .into_iter()
            .filter(|t| k.tasks.contains_key(t))
            .collect(),
        2 => {
            let pgid = if who == 0 {
                me.pgid
            } else {
                k.id_in_ns(tid, who)
            };
            k.tasks
                .values()
                .filter(|t| k.procs.get(&t.tgid).is_some_and(|p| p.pgid == pgid))
                .map(|t| t.tid)
                .collect()
        }
        3 => {
            let uid = if who == 0 { me.creds.uid } else { who as u32 };
            k.tasks
                .values()
                .filter(|t| k.procs.get(&t.tgid).is_some_and(|p| p.creds.uid == uid))
                .filter(|t| k.same_pidns(tid, t.tid))
                .map(|t| t.tid)
                .collect()
        }
        _ => return Err(Errno::EINVAL.into()),
    };
    if v.is_empty() {
        return Err(Errno::ESRCH.into());
    }
    Ok(v)
}

pub fn sys_sched_get_priority_min(_k: &mut Kernel, _tid: Tid, a: [u64; 6]) -> SysResult {
    Ok(match a[0] as i32 {
        libc::SCHED_FIFO | libc::SCHED_RR => 1,
        _ => 0,
    })
}

/// Every thread runs under SCHED_OTHER with static priority 0.
pub fn sys_sched_getparam(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if a[1] == 0 || (a[0] as i32) < 0 {
        return Err(Errno::EINVAL.into());
    }
    sched_target(k, tid, a[0])?;
    k.mem_of(tid)?.write_u32(a[1], 0)?;
    Ok(0)
}

pub fn sys_sched_getscheduler(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    sched_target(k, tid, a[0])?;
    Ok(libc::SCHED_OTHER as i64)
}

/// Checks a policy and priority the way Linux does; the sandbox does not schedule, so a
/// valid request is accepted without effect.
fn check_sched(k: &Kernel, tid: Tid, policy: i64, param: u64) -> SysResult {
    if param == 0 {
        return Err(Errno::EINVAL.into());
    }
    let prio = k.mem_of(tid)?.read_u32(param)? as i32;
    // SCHED_RESET_ON_FORK may be or'ed in.
    match (policy & !0x4000_0000) as i32 {
        libc::SCHED_OTHER | libc::SCHED_BATCH | libc::SCHED_IDLE => {
            if prio != 0 {
                return Err(Errno::EINVAL.into());
            }
            Ok(0)
        }
        libc::SCHED_FIFO | libc::SCHED_RR => {
            if !(1..=99).contains(&prio) {
                return Err(Errno::EINVAL.into());
            }
            if !k.proc_of(tid).creds.has_cap(23 /* CAP_SYS_NICE */) {
                return Err(Errno::EPERM.into());
            }
            Ok(0)
        }
        _ => Err(Errno::EINVAL.into()),
    }
}

pub fn sys_sched_setscheduler(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if (a[0] as i32) < 0 || (a[1] as i32) < 0 || a[2] == 0 {
        return Err(Errno::EINVAL.into());
    }
    sched_target(k, tid, a[0])?;
    check_sched(k, tid, a[1] as i32 as i64, a[2])
}

pub fn sys_sched_setparam(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if (a[0] as i32) < 0 || a[1] == 0 {
        return Err(Errno::EINVAL.into());
    }
    sched_target(k, tid, a[0])?;
    check_sched(k, tid, libc::SCHED_OTHER as i64, a[1])
}

pub fn sys_getcpu(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let mem = k.mem_of(tid)?;
    if a[0] != 0 {
        mem.write_u32(a[0], 0)?;
    }
    if a[1] != 0 {
        mem.write_u32(a[1], 0)?;
    }
    Ok(0)
}

/// restart_syscall(2) made by the program itself: the sentry restarts interrupted calls
/// on its own, so there is never a pending restart block and Linux's answer is EINTR.
pub fn sys_restart_syscall(_k: &mut Kernel, _tid: Tid, _a: [u64; 6]) -> SysResult {
    Err(Errno::EINTR.into())
}

pub fn sys_eperm(_k: &mut Kernel, _tid: Tid, _a: [u64; 6]) -> SysResult {
    Err(Errno::EPERM.into())
}

/// Readiness of one fd for poll.
fn poll_fd(k: &Kernel, tid: Tid, fd: i32, events: u32) -> (u32, Option<i32>) {
    if fd < 0 {
        return (0, None);
    }
    match get_file(k, tid, fd as u64) {
        Err(_) => (POLLNVAL, None),
        Ok(f) => {
            let mut r = f.ops.poll();
            if r & POLLIN != 0 {
                r |= POLLRDNORM;
            }
            if r & POLLOUT != 0 {
                r |= POLLWRNORM;
            }
            (r & (events | POLLERR | POLLHUP | POLLNVAL), f.ops.host_fd())
        }
    }
}

pub(super) fn timeout_deadline(
    k: &mut Kernel,
    tid: Tid,
    timeout: Option<Duration>,
) -> Option<Instant> {
    let t = k.task_mut(tid);
    match (t.deadline, timeout) {
        (Some(d), _) => Some(d),
        (None, Some(to)) => {
            let d = Instant::now() + to;
            t.deadline = Some(d);
            Some(d)
        }
        (None, None) => None,
    }
}

fn poll_common(
    k: &mut Kernel,
    tid: Tid,
    fds_addr: u64,
    nfds: u64,
    timeout: Option<Duration>,
) -> SysResult {
    if nfds > 65536 {
        return Err(Errno::EINVAL.into());
    }
    let mem = k.mem_of(tid)?;
    let raw = mem.read_vec(fds_addr, nfds as usize * 8)?;
    let mut out = raw.clone();
    let mut ready = 0;
    let mut host = Vec::new();
    crate::fs::signalfd::refresh(k, tid);
    for (i, c) in raw.chunks_exact(8).enumerate() {
        let fd = i32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        let events = u16::from_le_bytes([c[4], c[5]]) as u32;
        let (rev, hfd) = poll_fd(k, tid, fd, events | POLLPRI);
        if let Some(h) = hfd {
            host.push((h, events));
        }
        out[i * 8 + 6..i * 8 + 8].copy_from_slice(&(rev as u16).to_le_bytes());
        if rev != 0 {
            ready += 1;
        }
    }
    let deadline = timeout_deadline(k, tid, timeout);
    if ready > 0 || deadline.is_some_and(|d| Instant::now() >= d) {
        mem.write(fds_addr, &out)?;
        return Ok(ready);
    }
    Err(SysErr::Block(Blocked {
        nr: 0,
        args: [0; 6],
        deadline,
        host_fds: host,
        no_restart: true,
    }))
}

pub fn sys_poll(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let to = a[2] as i32;
    let timeout = if to < 0 {
        None
    } else {
        Some(Duration::from_millis(to as u64))
    };
    poll_common(k, tid, a[0], a[1], timeout)
}

pub(super) fn read_ts(k: &Kernel, tid: Tid, addr: u64) -> Result<Option<Duration>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let mem = k.mem_of(tid)?;
    let s = mem.read_u64(addr)? as i64;
    let ns = mem.read_u64(addr + 8)? as i64;
    if s < 0 || !(0..1_000_000_000).contains(&ns) {
        return Err(Errno::EINVAL);
    }
    Ok(Some(Duration::new(s as u64, ns as u32)))
}

/// Installs a temporary signal mask for ppoll/pselect (restored after the call or handler).
pub(super) fn swap_mask(k: &mut Kernel, tid: Tid, addr: u64) -> Result<(), Errno> {
    if addr == 0 || k.task(tid).saved_mask.is_some() {
        return Ok(());
    }
    let m = k.mem_of(tid)?.read_u64(addr)? & !crate::kernel::signal::UNBLOCKABLE;
    let t = k.task_mut(tid);
    t.saved_mask = Some(t.sigmask);
    t.sigmask = m;
    Ok(())
}

pub(super) fn restore_mask(k: &mut Kernel, tid: Tid, r: &SysResult) {
    if matches!(r, Err(SysErr::Block(_))) {
        return;
    }
    if let Some(t) = k.tasks.get_mut(&tid) {
        if !matches!(r, Err(SysErr::Interrupted)) {
            if let Some(m) = t.saved_mask.take() {
                t.sigmask = m;
            }
        }
    }
}

pub fn sys_ppoll(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let timeout = read_ts(k, tid, a[2])?;
    if a[3] != 0 && a[4] != 8 {
        return Err(Errno::EINVAL.into());
    }
    swap_mask(k, tid, a[3])?;
    let r = poll_common(k, tid, a[0], a[1], timeout);
    write_back_remaining(k, tid, libc::SYS_ppoll as u64, a, &r);
    restore_mask(k, tid, &r);
    r
}

fn select_common(
    k: &mut Kernel,
    tid: Tid,
    nfds: u64,
    sets: [u64; 3],
    timeout: Option<Duration>,
) -> SysResult {
    if nfds > 65536 {
        return Err(Errno::EINVAL.into());
    }
    let nfds = nfds as usize;
    let bytes = nfds.div_ceil(64) * 8;
    let mem = k.mem_of(tid)?;
    let mut ins: [Vec<u8>; 3] = Default::default();
    for i in 0..3 {
        ins[i] = if sets[i] != 0 {
            mem.read_vec(sets[i], bytes)?
        } else {
            vec![0u8; bytes]
        };
    }
    let mut outs: [Vec<u8>; 3] = [vec![0u8; bytes], vec![0u8; bytes], vec![0u8; bytes]];
    let mut ready = 0;
    let mut host = Vec::new();
    crate::fs::signalfd::refresh(k, tid);
    for fd in 0..nfds {
        let (byte, bitm) = (fd / 8, 1u8 << (fd % 8));
        let want: [bool; 3] = [
            ins[0][byte] & bitm != 0,
            ins[1][byte] & bitm != 0,
            ins[2][byte] & bitm != 0,
        ];
        if !want.iter().any(|w| *w) {
            continue;
        }
        let (rev, hfd) = poll_fd(k, tid, fd as i32, POLLIN | POLLOUT | POLLPRI);
        if rev & POLLNVAL != 0 {
            return Err(Errno::EBADF.into());
        }
        if let Some(h) = hfd {
            // Watch only what the sets ask for: a socket that is writable must not wake a
            // select() that waits to read from it.
            let ev = if want[0] { POLLIN } else { 0 }
                | if want[1] { POLLOUT } else { 0 }
                | if want[2] { POLLPRI } else { 0 };
            host.push((h, ev));
        }
        let got = [
            rev & (POLLIN | POLLHUP | POLLERR) != 0,
            rev & (POLLOUT | POLLERR) != 0,
            rev & POLLPRI != 0,
        ];
        for i in 0..3 {
            if want[i] && got[i] {
                outs[i][byte] |= bitm;
                ready += 1;
            }
        }
    }
    let deadline = timeout_deadline(k, tid, timeout);
    if ready > 0 || deadline.is_some_and(|d| Instant::now() >= d) {
        for i in 0..3 {
            if sets[i] != 0 {
                mem.write(sets[i], &outs[i])?;
            }
        }
        return Ok(ready);
    }
    Err(SysErr::Block(Blocked {
        nr: 0,
        args: [0; 6],
        deadline,
        host_fds: host,
        no_restart: true,
    }))
}

pub fn sys_select(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let timeout = if a[4] == 0 {
        None
    } else {
        let mem = k.mem_of(tid)?;
        let s = mem.read_u64(a[4])? as i64;
        let us = mem.read_u64(a[4] + 8)? as i64;
        if s < 0 || !(0..1_000_000).contains(&us) {
            return Err(Errno::EINVAL.into());
        }
        Some(Duration::new(s as u64, us as u32 * 1000))
    };
    let r = select_common(k, tid, a[0], [a[1], a[2], a[3]], timeout);
    write_back_remaining(k, tid, libc::SYS_select as u64, a, &r);
    r
}

/// select, pselect6 and ppoll write the time that was left back into the caller's timeout
/// (Linux behaviour; glibc's pselect and ppoll hide it, select does not). A zero timeout is
/// left alone, as are failures to write (the call itself already succeeded).
pub(super) fn write_back_remaining(k: &mut Kernel, tid: Tid, nr: u64, a: [u64; 6], r: &SysResult) {
    if matches!(r, Err(SysErr::Block(_))) {
        return;
    }
    let (addr, usec) = match nr as i64 {
        libc::SYS_select => (a[4], true),
        libc::SYS_pselect6 => (a[4], false),
        libc::SYS_ppoll => (a[2], false),
        _ => return,
    };
    let Some(deadline) = k.tasks.get(&tid).and_then(|t| t.deadline) else {
        return;
    };
    if addr == 0 {
        return;
    }
    let Ok(mem) = k.mem_of(tid) else { return };
    let (Ok(s), Ok(sub)) = (mem.read_u64(addr), mem.read_u64(addr + 8)) else {
        return;
    };
    if s == 0 && sub == 0 {
        return;
    }
    let left = deadline.saturating_duration_since(Instant::now());
    let sub = if usec {
        left.subsec_micros() as u64
    } else {
        left.subsec_nanos() as u64
    };
    let _ = mem.write_u64(addr, left.as_secs());
    let _ = mem.write_u64(addr + 8, sub);
}

pub fn sys_pselect6(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let timeout = read_ts(k, tid, a[4])?;
    if a[5] != 0 {
        let mem = k.mem_of(tid)?;
        let set = mem.read_u64(a[5])?;
        let size = mem.read_u64(a[5] + 8)?;
        if set != 0 && size != 8 {
            return Err(Errno::EINVAL.into());
        }
        swap_mask(k, tid, set)?;
    }
    let r = select_common(k, tid, a[0], [a[1], a[2], a[3]], timeout);
    write_back_remaining(k, tid, libc::SYS_pselect6 as u64, a, &r);
    restore_mask(k, tid, &r);
    r
}

pub fn sys_block_forever(_k: &mut Kernel, _tid: Tid, _a: [u64; 6]) -> SysResult {
    Err(block())
}

/// rseq: not offered; glibc and others fall back when registration fails with ENOSYS.
pub fn sys_rseq(_k: &mut Kernel, _tid: Tid, _a: [u64; 6]) -> SysResult {
    Err(Errno::ENOSYS.into())
}

/// membarrier(2). QUERY offers what works: GLOBAL, the expedited commands with their
/// registrations (private expedited without registering first is EPERM, as in Linux) and
/// GET_REGISTRATIONS. The sentry already serialises every thread's syscalls; the commands
/// return at once without forcing a barrier on threads running application code.
pub fn sys_membarrier(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    const QUERY: u64 = 0;
    const GLOBAL: u32 = 1;
    const GLOBAL_EXPEDITED: u32 = 2;
    const REGISTER_GLOBAL_EXPEDITED: u32 = 4;
    const PRIVATE_EXPEDITED: u32 = 8;
    const REGISTER_PRIVATE_EXPEDITED: u32 = 16;
    const GET_REGISTRATIONS: u32 = 512;
    const SUPPORTED: u32 = GLOBAL
        | GLOBAL_EXPEDITED
        | REGISTER_GLOBAL_EXPEDITED
        | PRIVATE_EXPEDITED
        | REGISTER_PRIVATE_EXPEDITED
        | GET_REGISTRATIONS;
    if a[1] != 0 {
        return Err(Errno::EINVAL.into());
    }
    if a[0] == QUERY {
        return Ok(SUPPORTED as i64);
    }
    let cmd = u32::try_from(a[0]).map_err(|_| Errno::EINVAL)?;
    match cmd {
        GLOBAL | GLOBAL_EXPEDITED => Ok(0),
        REGISTER_GLOBAL_EXPEDITED | REGISTER_PRIVATE_EXPEDITED => {
            k.proc_of_mut(tid).membarrier |= cmd;
            Ok(0)
        }
        PRIVATE_EXPEDITED => {
            if k.proc_of(tid).membarrier & REGISTER_PRIVATE_EXPEDITED == 0 {
                return Err(Errno::EPERM.into());
            }
            Ok(0)
        }
        GET_REGISTRATIONS => Ok(k.proc_of(tid).membarrier as i64),
        _ => Err(Errno::EINVAL.into()),
    }
}
