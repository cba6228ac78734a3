//! epoll_create/epoll_create1/epoll_ctl/epoll_wait/epoll_pwait/epoll_pwait2 (the instances
//! themselves are in fs/epoll.rs).

use super::file::get_file;
use super::misc::{read_ts, restore_mask, swap_mask, timeout_deadline};
use super::{SysErr, SysResult};
use crate::errno::Errno;
use crate::fs::epoll::{new_epoll, EpollFile};
use crate::kernel::{Blocked, Kernel, Tid};
use std::time::{Duration, Instant};

/// sizeof(struct epoll_event) on x86-64 (packed: u32 events, u64 data).
const EVENT_SIZE: usize = 12;

fn install_epoll(k: &mut Kernel, tid: Tid, cloexec: bool) -> SysResult {
    let f = new_epoll();
    Ok(k.proc_of(tid).fds.borrow_mut().install(f, cloexec, 0)? as i64)
}

pub fn sys_epoll_create(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if (a[0] as i32) <= 0 {
        return Err(Errno::EINVAL.into());
    }
    install_epoll(k, tid, false)
}

pub fn sys_epoll_create1(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let flags = a[0] as i32;
    if flags & !libc::EPOLL_CLOEXEC != 0 {
        return Err(Errno::EINVAL.into());
    }
    install_epoll(k, tid, flags & libc::EPOLL_CLOEXEC != 0)
}

pub fn sys_epoll_ctl(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (epfd, op, fd, ev) = (a[0] as i32, a[1] as i32, a[2] as i32, a[3]);
    let me = get_file(k, tid, epfd as u64)?;
    let target = get_file(k, tid, fd as u64)?;
    let ep = EpollFile::of(&me).ok_or(Errno::EINVAL)?;
    let read_event = |k: &Kernel| -> Result<(u32, u64), Errno> {
        let b = k.mem_of(tid)?.read_vec(ev, EVENT_SIZE)?;
        let events = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let data = u64::from_le_bytes(b[4..12].try_into().unwrap_or([0; 8]));
        Ok((events, data))
    };
    match op {
        libc::EPOLL_CTL_ADD => {
            let (events, data) = read_event(k)?;
            ep.add(&me, fd, &target, events, data)?;
        }
        libc::EPOLL_CTL_MOD => {
            let (events, data) = read_event(k)?;
            ep.modify(fd, &target, events, data)?;
        }
        libc::EPOLL_CTL_DEL => ep.remove(fd, &target)?,
        _ => return Err(Errno::EINVAL.into()),
    }
    // A waiter on this instance may now have something to report.
    k.dirty = true;
    Ok(0)
}

/// The common body of the epoll_wait family.
fn wait_common(
    k: &mut Kernel,
    tid: Tid,
    epfd: i32,
    events_addr: u64,
    maxevents: i32,
    timeout: Option<Duration>,
) -> SysResult {
    if maxevents <= 0 || maxevents as usize > (i32::MAX as usize) / EVENT_SIZE {
        return Err(Errno::EINVAL.into());
    }
    // Like Linux's access_ok: a buffer outside the address space fails before any event
    // is consumed.
    let len = maxevents as u64 * EVENT_SIZE as u64;
    if events_addr
        .checked_add(len)
        .is_none_or(|end| end > crate::platform::ptrace::TASK_SIZE)
    {
        return Err(Errno::EFAULT.into());
    }
    let f = get_file(k, tid, epfd as u64)?;
    let ep = EpollFile::of(&f).ok_or(Errno::EINVAL)?;
    // Bound what we stage in sentry memory; more than this many ready files are reported
    // over several calls.
    let max = (maxevents as usize).min(65536);
    crate::fs::signalfd::refresh(k, tid);
    let got = ep.collect(max);
    if !got.is_empty() {
        let mut out = Vec::with_capacity(got.len() * EVENT_SIZE);
        for (ev, data) in &got {
            out.extend_from_slice(&ev.to_le_bytes());
            out.extend_from_slice(&data.to_le_bytes());
        }
        k.mem_of(tid)?.write(events_addr, &out)?;
        return Ok(got.len() as i64);
    }
    let deadline = timeout_deadline(k, tid, timeout);
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return Ok(0);
    }
    let mut host_fds = Vec::new();
    ep.host_fds(&mut host_fds, 0);
    Err(SysErr::Block(Blocked {
        nr: 0,
        args: [0; 6],
        deadline,
        host_fds,
        // epoll_wait is never restarted after a signal handler: it fails with EINTR.
        no_restart: true,
    }))
}

fn ms_timeout(ms: i32) -> Option<Duration> {
    (ms >= 0).then(|| Duration::from_millis(ms as u64))
}

pub fn sys_epoll_wait(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    wait_common(
        k,
        tid,
        a[0] as i32,
        a[1],
        a[2] as i32,
        ms_timeout(a[3] as i32),
    )
}

/// epoll_pwait and epoll_pwait2: the signal mask is swapped for the duration of the wait.
fn pwait(k: &mut Kernel, tid: Tid, a: [u64; 6], timeout: Option<Duration>) -> SysResult {
    if a[4] != 0 && a[5] != 8 {
        return Err(Errno::EINVAL.into());
    }
    swap_mask(k, tid, a[4])?;
    let r = wait_common(k, tid, a[0] as i32, a[1], a[2] as i32, timeout);
    restore_mask(k, tid, &r);
    r
}

pub fn sys_epoll_pwait(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    pwait(k, tid, a, ms_timeout(a[3] as i32))
}

pub fn sys_epoll_pwait2(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let timeout = read_ts(k, tid, a[3])?;
    pwait(k, tid, a, timeout)
}
