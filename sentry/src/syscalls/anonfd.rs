//! Files that are not in any directory: eventfd, timerfd, signalfd, memfd and inotify
//! (their objects live in fs/eventfd.rs, fs/timerfd.rs, fs/signalfd.rs, fs/memfd.rs and
//! fs/inotify.rs).

use super::file::get_file;
use super::time::{read_itimerspec, schedule, timespec_bytes};
use super::SysResult;
use crate::errno::Errno;
use crate::fs::eventfd::{EventFd, EFD_SEMAPHORE};
use crate::fs::signalfd::SignalFd;
use crate::fs::timerfd::{TimerFd, TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET};
use crate::kernel::timers::TimerSource;
use crate::kernel::{Kernel, Tid};
use crate::vfs::file::OpenFile;
use std::rc::{Rc, Weak};

const O_CLOEXEC: u32 = libc::O_CLOEXEC as u32;
const O_NONBLOCK: u32 = libc::O_NONBLOCK as u32;

/// Installs a new file; `flags` may carry O_CLOEXEC and O_NONBLOCK.
fn install(k: &mut Kernel, tid: Tid, f: Rc<OpenFile>, flags: u32) -> SysResult {
    Ok(k.proc_of(tid)
        .fds
        .borrow_mut()
        .install(f, flags & O_CLOEXEC != 0, 0)? as i64)
}

fn anon_file(name: &str, flags: u32, ops: Box<dyn crate::vfs::FileOps>) -> Rc<OpenFile> {
    OpenFile::new(
        libc::O_RDWR as u32 | (flags & O_NONBLOCK),
        None,
        format!("anon_inode:{name}").into_bytes(),
        ops,
    )
}

// --- eventfd -------------------------------------------------------------------------

pub fn sys_eventfd2(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (init, flags) = (a[0] as u32, a[1] as u32);
    if flags & !(O_CLOEXEC | O_NONBLOCK | EFD_SEMAPHORE) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let ops = EventFd::new(init as u64, flags & EFD_SEMAPHORE != 0);
    let f = anon_file("[eventfd]", flags, Box::new(ops));
    install(k, tid, f, flags)
}

pub fn sys_eventfd(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    sys_eventfd2(k, tid, [a[0], 0, 0, 0, 0, 0])
}

// --- timerfd -------------------------------------------------------------------------

pub fn sys_timerfd_create(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (clock, flags) = (a[0] as i32, a[1] as u32);
    match clock {
        libc::CLOCK_REALTIME | libc::CLOCK_MONOTONIC | libc::CLOCK_BOOTTIME => {}
        libc::CLOCK_REALTIME_ALARM | libc::CLOCK_BOOTTIME_ALARM => {
            // CAP_WAKE_ALARM
            if !k.proc_of(tid).creds.has_cap(35) {
                return Err(Errno::EPERM.into());
            }
        }
        _ => return Err(Errno::EINVAL.into()),
    }
    if flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let ops = TimerFd::new(clock);
    let src: Rc<dyn TimerSource> = ops.state.clone();
    let weak: Weak<dyn TimerSource> = Rc::downgrade(&src);
    let f = anon_file("[timerfd]", flags, Box::new(ops));
    let fd = install(k, tid, f, flags)?;
    k.timers.add_source(weak);
    Ok(fd)
}

fn timerfd_of(k: &Kernel, tid: Tid, fd: u64) -> Result<Rc<OpenFile>, Errno> {
    let f = get_file(k, tid, fd)?;
    if TimerFd::of(&f).is_none() {
        return Err(Errno::EINVAL);
    }
    Ok(f)
}

fn itimerspec(iv: std::time::Duration, left: std::time::Duration) -> [u8; 32] {
    let mut b = [0u8; 32];
    b[0..16].copy_from_slice(&timespec_bytes(iv));
    b[16..32].copy_from_slice(&timespec_bytes(left));
    b
}

pub fn sys_timerfd_settime(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let flags = a[1] as u32;
    if flags & !(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let f = timerfd_of(k, tid, a[0])?;
    let t = TimerFd::of(&f).ok_or(Errno::EINVAL)?;
    // TFD_TIMER_CANCEL_ON_SET only means something for absolute realtime timers, and the
    // sandbox's clock is never set, so it never cancels.
    let mem = k.mem_of(tid)?;
    let (iv, val) = read_itimerspec(&mem, a[2])?;
    let (old_iv, old_left) = t.set(schedule(
        t.state.clock,
        flags & TFD_TIMER_ABSTIME != 0,
        iv,
        val,
    ));
    if a[3] != 0 {
        mem.write(a[3], &itimerspec(old_iv, old_left))?;
    }
    // A blocked reader may be ready now (an absolute time in the past), or may need the
    // loop to pick up the new deadline.
    k.dirty = true;
    Ok(0)
}

pub fn sys_timerfd_gettime(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = timerfd_of(k, tid, a[0])?;
    let t = TimerFd::of(&f).ok_or(Errno::EINVAL)?;
    let (iv, left) = t.get();
    k.mem_of(tid)?.write(a[1], &itimerspec(iv, left))?;
    Ok(0)
}

// --- signalfd ------------------------------------------------------------------------

pub fn sys_signalfd4(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (fd, mask_addr, size, flags) = (a[0] as i32, a[1], a[2], a[3] as u32);
    if size != 8 || flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let mask = k.mem_of(tid)?.read_u64(mask_addr)?;
    if fd != -1 {
        let f = get_file(k, tid, fd as u64)?;
        let s = SignalFd::of(&f).ok_or(Errno::EINVAL)?;
        s.state.mask.set(mask & !crate::kernel::signal::UNBLOCKABLE);
        crate::fs::signalfd::refresh(k, tid);
        k.dirty = true;
        return Ok(fd as i64);
    }
    let f = anon_file("[signalfd]", flags, Box::new(SignalFd::new(mask)));
    let fd = install(k, tid, f, flags)?;
    crate::fs::signalfd::refresh(k, tid);
    Ok(fd)
}

pub fn sys_signalfd(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    sys_signalfd4(k, tid, [a[0], a[1], a[2], 0, 0, 0])
}

// --- memfd ---------------------------------------------------------------------------

pub fn sys_memfd_create(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    use crate::fs::memfd::*;
    let flags = a[1] as u32;
    let all = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC;
    let allowed = if flags & MFD_HUGETLB != 0 {
        all | MFD_HUGE_MASK
    } else {
        all
    };
    if a[1] > u32::MAX as u64 || flags & !allowed != 0 {
        return Err(Errno::EINVAL.into());
    }
    if flags & MFD_EXEC != 0 && flags & MFD_NOEXEC_SEAL != 0 {
        return Err(Errno::EINVAL.into());
    }
    if a[0] == 0 {
        return Err(Errno::EFAULT.into());
    }
    let name = match k.mem_of(tid)?.read_cstr(a[0], NAME_MAX) {
        Ok(n) => n,
        Err(e) if e == Errno::ENAMETOOLONG => return Err(Errno::EINVAL.into()),
        Err(e) => return Err(e.into()),
    };
    let creds = &k.proc_of(tid).creds;
    let f = new_memfd(&name, flags, creds.fsuid, creds.fsgid);
    let cloexec = if flags & MFD_CLOEXEC != 0 {
        O_CLOEXEC
    } else {
        0
    };
    install(k, tid, f, cloexec)
}

// --- inotify -------------------------------------------------------------------------

pub fn sys_inotify_init1(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let flags = a[0] as u32;
    if a[0] > u32::MAX as u64 || flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let f = anon_file(
        "inotify",
        flags,
        Box::new(crate::fs::inotify::Inotify::default()),
    );
    // Linux opens inotify files read-only.
    f.flags
        .set((f.flags.get() & !(libc::O_ACCMODE as u32)) | libc::O_RDONLY as u32);
    install(k, tid, f, flags)
}

pub fn sys_inotify_init(k: &mut Kernel, tid: Tid, _a: [u64; 6]) -> SysResult {
    sys_inotify_init1(k, tid, [0; 6])
}

pub fn sys_inotify_add_watch(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    use crate::fs::inotify::{check_mask, Inotify, IN_DONT_FOLLOW};
    let mask = a[2] as u32;
    check_mask(mask)?;
    let f = get_file(k, tid, a[0])?;
    let ino = Inotify::of(&f).ok_or(Errno::EINVAL)?;
    let path = super::read_path(k, tid, a[1])?;
    let ctx = super::path_ctx(k, tid);
    let inode = crate::vfs::resolve(k, &ctx, None, &path, mask & IN_DONT_FOLLOW == 0)?;
    if !crate::vfs::may_access(&inode.meta.borrow(), &ctx.creds, crate::vfs::MAY_READ) {
        return Err(Errno::EACCES.into());
    }
    Ok(ino.add_watch(&inode, mask)? as i64)
}

pub fn sys_inotify_rm_watch(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    let ino = crate::fs::inotify::Inotify::of(&f).ok_or(Errno::EINVAL)?;
    ino.rm_watch(a[1] as i32)?;
    Ok(0)
}
