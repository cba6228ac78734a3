//! fd-based I/O: read/write and friends, dup, fcntl, ioctl, pipes, fstat, getdents64.

use super::{block_on_host, SysErr, SysResult};
use crate::errno::Errno;
use crate::fs::pipe::{new_pipe, PipeEnd};
use crate::fs::regular::{dtype_of_mode, DirEntry, DirFile};
use crate::fs::{overlay, procfs};
use crate::kernel::signal::{SigInfo, SIGPIPE};
use crate::kernel::{Kernel, Tid};
use crate::vfs::file::{OpenFile, POLLERR, POLLHUP, POLLIN, POLLOUT};
use crate::vfs::inode::{Inode, InodeKind};
use crate::vfs::locks;
use std::rc::Rc;

/// Largest single transfer we stage through sentry memory.
const MAX_IO: usize = 8 << 20;

pub fn get_file(k: &Kernel, tid: Tid, fd: u64) -> Result<Rc<OpenFile>, Errno> {
    k.proc_of(tid).fds.borrow().get(fd as i32)
}

/// Reads from an open file honouring its position (when `off` is None).
pub fn file_read(f: &OpenFile, buf: &mut [u8], off: Option<u64>) -> Result<usize, Errno> {
    if !f.readable() {
        return Err(Errno::EBADF);
    }
    if f.ops.seekable() {
        let pos = off.unwrap_or(f.pos.get());
        let n = f.ops.read(f, buf, Some(pos))?;
        if off.is_none() {
            f.pos.set(pos + n as u64);
        }
        Ok(n)
    } else {
        if off.is_some() {
            return Err(Errno::ESPIPE);
        }
        f.ops.read(f, buf, None)
    }
}

pub fn file_write(f: &OpenFile, buf: &[u8], off: Option<u64>) -> Result<usize, Errno> {
    if !f.writable() {
        return Err(Errno::EBADF);
    }
    if f.ops.seekable() {
        let append = f.flags.get() & libc::O_APPEND as u32 != 0;
        // Linux appends even when an offset is given (pwrite(2), BUGS).
        let pos = match off {
            _ if append => f.inode.as_ref().map(|i| i.size()).unwrap_or(0),
            Some(o) => o,
            None => f.pos.get(),
        };
        let n = f.ops.write(f, buf, Some(pos))?;
        if off.is_none() {
            f.pos.set(pos + n as u64);
        }
        Ok(n)
    } else {
        if off.is_some() {
            return Err(Errno::ESPIPE);
        }
        f.ops.write(f, buf, None)
    }
}

/// Where a write to `f` would start if `f` is a regular file (RLIMIT_FSIZE applies only to
/// those); None for pipes, sockets, devices. Stdio files the host handed in count when
/// they are regular files on the host.
fn regular_write_pos(f: &OpenFile, off: Option<u64>) -> Option<u64> {
    let append = f.flags.get() & libc::O_APPEND as u32 != 0;
    if let Some(i) = f.inode.as_ref() {
        if !matches!(i.kind, InodeKind::File(_)) {
            return None;
        }
        return Some(if append {
            i.size()
        } else {
            off.unwrap_or(f.pos.get())
        });
    }
    let fd = f.ops.host_fd()?;
    // SAFETY: POD out-parameter for fstat on a host fd the sentry owns.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid out pointer.
    if unsafe { libc::fstat(fd, &mut st) } != 0 || st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return None;
    }
    // SAFETY: fcntl/lseek on our own fd, no memory involved.
    let host_append = unsafe { libc::fcntl(fd, libc::F_GETFL) } & libc::O_APPEND != 0;
    if append || host_append {
        return Some(st.st_size as u64);
    }
    // SAFETY: as above.
    off.or_else(|| u64::try_from(unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) }).ok())
}

/// RLIMIT_FSIZE for a write of `len` bytes: the length allowed (a write may not pass the
/// limit), or EFBIG with SIGXFSZ for the writer when it would start at or past it.
pub(super) fn fsize_cap(
    k: &mut Kernel,
    tid: Tid,
    f: &OpenFile,
    off: Option<u64>,
    len: usize,
) -> Result<usize, SysErr> {
    let limit = k.proc_of(tid).rlimits[libc::RLIMIT_FSIZE as usize].0;
    if limit == libc::RLIM_INFINITY || len == 0 {
        return Ok(len);
    }
    let Some(pos) = regular_write_pos(f, off) else {
        return Ok(len);
    };
    if pos >= limit {
        xfsz(k, tid);
        return Err(Errno::EFBIG.into());
    }
    Ok(len.min((limit - pos).min(usize::MAX as u64) as usize))
}

/// RLIMIT_FSIZE for growing a file to `new_size` (truncate, fallocate): EFBIG + SIGXFSZ.
pub(super) fn fsize_check_grow(
    k: &mut Kernel,
    tid: Tid,
    old_size: u64,
    new_size: u64,
) -> Result<(), SysErr> {
    let limit = k.proc_of(tid).rlimits[libc::RLIMIT_FSIZE as usize].0;
    if new_size > old_size && limit != libc::RLIM_INFINITY && new_size > limit {
        xfsz(k, tid);
        return Err(Errno::EFBIG.into());
    }
    Ok(())
}

fn xfsz(k: &mut Kernel, tid: Tid) {
    let pid = k.task(tid).tgid;
    k.send_to_thread(tid, SigInfo::user(libc::SIGXFSZ, pid, 0));
}

/// Turns EAGAIN on a blocking file into a wait, EPIPE into SIGPIPE + EPIPE.
fn io_outcome(
    k: &mut Kernel,
    tid: Tid,
    f: &OpenFile,
    r: Result<usize, Errno>,
    events: u32,
) -> Result<usize, SysErr> {
    match r {
        Err(e) if e == Errno::EAGAIN && !f.nonblocking() => {
            // Sockets bound the wait by SO_RCVTIMEO / SO_SNDTIMEO.
            if let Some(to) = crate::net::io_timeout(f, events) {
                let host = f.ops.host_fd().map(|h| (h, events));
                return Err(super::net::wait_for(k, tid, host, Some(to)));
            }
            Err(block_on_host(f.ops.host_fd(), events))
        }
        Err(e) if e == Errno::EPIPE => {
            let pid = k.task(tid).tgid;
            k.send_to_thread(tid, SigInfo::user(SIGPIPE, pid, 0));
            Err(Errno::EPIPE.into())
        }
        Err(e) => Err(e.into()),
        Ok(n) => Ok(n),
    }
}

fn do_read(k: &mut Kernel, tid: Tid, fd: u64, addr: u64, len: u64, off: Option<u64>) -> SysResult {
    let f = get_file(k, tid, fd)?;
    if f.is_dir() {
        return Err(Errno::EISDIR.into());
    }
    let len = (len as usize).min(MAX_IO);
    let mut buf = vec![0u8; len];
    let r = crate::fs::signalfd::read(k, tid, &f, &mut buf)
        .unwrap_or_else(|| file_read(&f, &mut buf, off));
    let n = io_outcome(k, tid, &f, r, POLLIN)?;
    crate::fs::inotify::on_access(&f, n);
    // Reading may have made room for a blocked writer.
    k.dirty = true;
    k.mem_of(tid)?.write(addr, &buf[..n])?;
    Ok(n as i64)
}

fn do_write(k: &mut Kernel, tid: Tid, fd: u64, addr: u64, len: u64, off: Option<u64>) -> SysResult {
    let f = get_file(k, tid, fd)?;
    let len = (len as usize).min(MAX_IO);
    let buf = k.mem_of(tid)?.read_vec(addr, len)?;
    let len = if f.writable() {
        fsize_cap(k, tid, &f, off, len)?
    } else {
        len
    };
    let buf = &buf[..len];
    if let Some((host, to)) = super::net::sends_all(&f) {
        let n = stream_write(k, tid, &f, host, to, buf)?;
        k.dirty = true;
        return Ok(n as i64);
    }
    let r =
        crate::fs::procfs::write_hook(k, tid, &f, buf).unwrap_or_else(|| file_write(&f, buf, off));
    let n = io_outcome(k, tid, &f, r, POLLOUT)?;
    if n > 0 {
        remove_privs_on_write(k, tid, &f);
    }
    crate::fs::inotify::on_write(&f, n);
    k.dirty = true;
    Ok(n as i64)
}

/// write/writev on a TCP socket: everything, or the count so far (see net::send_all).
fn stream_write(
    k: &mut Kernel,
    tid: Tid,
    f: &OpenFile,
    host: i32,
    timeout: Option<std::time::Duration>,
    buf: &[u8],
) -> Result<usize, SysErr> {
    match super::net::send_all(k, tid, host, timeout, buf, |d| f.ops.write(f, d, None)) {
        Err(SysErr::Errno(e)) if e == Errno::EPIPE => {
            let pid = k.task(tid).tgid;
            k.send_to_thread(tid, SigInfo::user(SIGPIPE, pid, 0));
            Err(Errno::EPIPE.into())
        }
        other => other,
    }
}

/// A write by a process without CAP_FSETID takes the set-user-ID bit off a regular file,
/// and set-group-ID when the file is group-executable (Linux's file_remove_privs), so that
/// whoever could write to a set-ID program cannot make it run their code with its owner's
/// privileges.
fn remove_privs_on_write(k: &Kernel, tid: Tid, f: &OpenFile) {
    let Some(inode) = f.inode.as_ref() else {
        return;
    };
    let mode = inode.mode();
    if mode & libc::S_IFMT != libc::S_IFREG {
        return;
    }
    let kill = crate::vfs::setid_bits_to_drop(mode);
    if kill == 0 || k.proc_of(tid).creds.has_cap(crate::vfs::CAP_FSETID) {
        return;
    }
    let perm = mode & 0o7777 & !kill;
    if crate::fs::hostops::chmod(inode, perm).is_ok() {
        let mut m = inode.meta.borrow_mut();
        m.mode = (m.mode & libc::S_IFMT) | perm;
    }
}

pub fn sys_read(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    do_read(k, tid, a[0], a[1], a[2], None)
}

pub fn sys_write(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    do_write(k, tid, a[0], a[1], a[2], None)
}

pub fn sys_pread64(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if (a[3] as i64) < 0 {
        return Err(Errno::EINVAL.into());
    }
    do_read(k, tid, a[0], a[1], a[2], Some(a[3]))
}

pub fn sys_pwrite64(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if (a[3] as i64) < 0 {
        return Err(Errno::EINVAL.into());
    }
    do_write(k, tid, a[0], a[1], a[2], Some(a[3]))
}

fn read_iovecs(k: &Kernel, tid: Tid, addr: u64, cnt: u64) -> Result<Vec<(u64, usize)>, Errno> {
    if cnt > 1024 {
        return Err(Errno::EINVAL);
    }
    let mem = k.mem_of(tid)?;
    let raw = mem.read_vec(addr, cnt as usize * 16)?;
    let mut v = Vec::with_capacity(cnt as usize);
    let mut total: usize = 0;
    for c in raw.chunks_exact(16) {
        let base = u64::from_le_bytes(c[0..8].try_into().unwrap_or([0; 8]));
        let len = u64::from_le_bytes(c[8..16].try_into().unwrap_or([0; 8]));
        if len > isize::MAX as u64 {
            return Err(Errno::EINVAL);
        }
        total = total.saturating_add(len as usize);
        v.push((base, len as usize));
    }
    let _ = total;
    Ok(v)
}

fn do_readv(k: &mut Kernel, tid: Tid, fd: u64, iov: u64, cnt: u64, off: Option<u64>) -> SysResult {
    let f = get_file(k, tid, fd)?;
    let iovs = read_iovecs(k, tid, iov, cnt)?;
    let total: usize = iovs.iter().map(|v| v.1).sum::<usize>().min(MAX_IO);
    let mut buf = vec![0u8; total];
    let r = crate::fs::signalfd::read(k, tid, &f, &mut buf)
        .unwrap_or_else(|| file_read(&f, &mut buf, off));
    let n = io_outcome(k, tid, &f, r, POLLIN)?;
    crate::fs::inotify::on_access(&f, n);
    k.dirty = true;
    let mem = k.mem_of(tid)?;
    let mut done = 0;
    for (base, len) in iovs {
        if done >= n {
            break;
        }
        let m = len.min(n - done);
        mem.write(base, &buf[done..done + m])?;
        done += m;
    }
    Ok(n as i64)
}

/// `rwf_append`: pwritev2's RWF_APPEND, O_APPEND for this one call.
fn do_writev(
    k: &mut Kernel,
    tid: Tid,
    fd: u64,
    iov: u64,
    cnt: u64,
    off: Option<u64>,
    rwf_append: bool,
) -> SysResult {
    let f = get_file(k, tid, fd)?;
    let iovs = read_iovecs(k, tid, iov, cnt)?;
    let mem = k.mem_of(tid)?;
    let mut buf = Vec::new();
    for (base, len) in iovs {
        let len = len.min(MAX_IO.saturating_sub(buf.len()));
        buf.extend_from_slice(&mem.read_vec(base, len)?);
    }
    if f.writable() {
        let append_off = if rwf_append && f.ops.seekable() {
            Some(f.inode.as_ref().map(|i| i.size()).unwrap_or(0))
        } else {
            off
        };
        let n = fsize_cap(k, tid, &f, append_off, buf.len())?;
        buf.truncate(n);
    }
    if let Some((host, to)) = super::net::sends_all(&f) {
        let n = stream_write(k, tid, &f, host, to, &buf)?;
        k.dirty = true;
        return Ok(n as i64);
    }
    let r = if rwf_append && f.ops.seekable() {
        let end = f.inode.as_ref().map(|i| i.size()).unwrap_or(0);
        let r = file_write(&f, &buf, Some(end));
        // With offset -1 the file position moves as for write(2).
        if let (Ok(n), None) = (&r, off) {
            f.pos.set(end + *n as u64);
        }
        r
    } else {
        crate::fs::procfs::write_hook(k, tid, &f, &buf).unwrap_or_else(|| file_write(&f, &buf, off))
    };
    let n = io_outcome(k, tid, &f, r, POLLOUT)?;
    if n > 0 {
        remove_privs_on_write(k, tid, &f);
    }
    crate::fs::inotify::on_write(&f, n);
    k.dirty = true;
    Ok(n as i64)
}

pub fn sys_readv(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    do_readv(k, tid, a[0], a[1], a[2], None)
}
pub fn sys_writev(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    do_writev(k, tid, a[0], a[1], a[2], None, false)
}
pub fn sys_preadv(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if (a[3] as i64) < 0 {
        return Err(Errno::EINVAL.into());
    }
    do_readv(k, tid, a[0], a[1], a[2], Some(a[3]))
}
pub fn sys_pwritev(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if (a[3] as i64) < 0 {
        return Err(Errno::EINVAL.into());
    }
    do_writev(k, tid, a[0], a[1], a[2], Some(a[3]), false)
}

/// RWF_* flags of preadv2/pwritev2 that Linux 6.1 knows: HIPRI, DSYNC, SYNC, NOWAIT, APPEND.
/// All data reaches sentry memory synchronously, so only APPEND changes anything.
const RWF_KNOWN: u64 = 0x1f;
const RWF_APPEND: u64 = 0x10;

/// preadv2/pwritev2 offsets: -1 means the file position; other negatives are invalid.
fn v2_offset(off: u64) -> Result<Option<u64>, Errno> {
    match off as i64 {
        -1 => Ok(None),
        o if o < 0 => Err(Errno::EINVAL),
        o => Ok(Some(o as u64)),
    }
}

pub fn sys_preadv2(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if a[5] & !RWF_KNOWN != 0 {
        return Err(Errno::EOPNOTSUPP.into());
    }
    let off = v2_offset(a[3])?;
    do_readv(k, tid, a[0], a[1], a[2], off)
}
pub fn sys_pwritev2(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if a[5] & !RWF_KNOWN != 0 {
        return Err(Errno::EOPNOTSUPP.into());
    }
    let off = v2_offset(a[3])?;
    do_writev(k, tid, a[0], a[1], a[2], off, a[5] & RWF_APPEND != 0)
}

pub fn sys_lseek(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    if !f.ops.seekable() {
        return Err(Errno::ESPIPE.into());
    }
    let off = a[1] as i64;
    let size = f.inode.as_ref().map(|i| i.size()).unwrap_or(0) as i64;
    let new = match a[2] as i32 {
        libc::SEEK_SET => off,
        libc::SEEK_CUR => (f.pos.get() as i64)
            .checked_add(off)
            .ok_or(Errno::EOVERFLOW)?,
        libc::SEEK_END => size.checked_add(off).ok_or(Errno::EOVERFLOW)?,
        libc::SEEK_DATA => {
            if off >= size {
                return Err(Errno::ENXIO.into());
            }
            off
        }
        libc::SEEK_HOLE => {
            if off >= size {
                return Err(Errno::ENXIO.into());
            }
            size
        }
        _ => return Err(Errno::EINVAL.into()),
    };
    if new < 0 {
        return Err(Errno::EINVAL.into());
    }
    if let Some(d) = f.ops.as_any().downcast_ref::<DirFile>() {
        if new == 0 {
            *d.snapshot.borrow_mut() = None;
        }
    }
    f.pos.set(new as u64);
    Ok(new)
}

pub fn sys_close(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let e = k.proc_of(tid).fds.borrow_mut().remove(a[0] as i32)?;
    closed_fd(k, tid, &e.file);
    drop(e);
    k.dirty = true;
    Ok(0)
}

/// POSIX: closing any fd of a file drops all of the process's record locks on it.
pub fn closed_fd(k: &Kernel, tid: Tid, f: &OpenFile) {
    if let Ok(key) = lock_key(f) {
        locks::release(key, locks::Owner::Process(k.task(tid).tgid));
    }
}

pub fn sys_close_range(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (first, last, flags) = (a[0] as u32, a[1] as u32, a[2] as u32);
    if first > last || flags & !(libc::CLOSE_RANGE_UNSHARE | libc::CLOSE_RANGE_CLOEXEC) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let fds = k.proc_of(tid).fds.clone();
    let mut t = fds.borrow_mut();
    let hi = (last as usize).min(t.fds.len().saturating_sub(1));
    for i in first as usize..=hi {
        if i >= t.fds.len() {
            break;
        }
        if flags & libc::CLOSE_RANGE_CLOEXEC != 0 {
            if let Some(e) = t.fds[i].as_mut() {
                e.cloexec = true;
            }
        } else if let Some(e) = t.fds[i].take() {
            closed_fd(k, tid, &e.file);
        }
    }
    k.dirty = true;
    Ok(0)
}

pub fn sys_dup(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let fds = k.proc_of(tid).fds.clone();
    let f = fds.borrow().get(a[0] as i32)?;
    let fd = fds.borrow_mut().install(f, false, 0)?;
    Ok(fd as i64)
}

fn dup3_impl(k: &mut Kernel, tid: Tid, old: i32, new: i32, flags: u64) -> SysResult {
    let fds = k.proc_of(tid).fds.clone();
    let f = fds.borrow().get(old)?;
    let prev = fds
        .borrow_mut()
        .install_at(new, f, flags & libc::O_CLOEXEC as u64 != 0)?;
    if let Some(e) = &prev {
        closed_fd(k, tid, &e.file);
    }
    drop(prev);
    k.dirty = true;
    Ok(new as i64)
}

pub fn sys_dup2(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if a[0] == a[1] {
        get_file(k, tid, a[0])?;
        return Ok(a[1] as i64);
    }
    dup3_impl(k, tid, a[0] as i32, a[1] as i32, 0)
}

pub fn sys_dup3(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if a[0] == a[1] || a[2] & !(libc::O_CLOEXEC as u64) != 0 {
        return Err(Errno::EINVAL.into());
    }
    dup3_impl(k, tid, a[0] as i32, a[1] as i32, a[2])
}

pub fn sys_fcntl(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let fd = a[0] as i32;
    let fds = k.proc_of(tid).fds.clone();
    let f = fds.borrow().get(fd)?;
    match a[1] as i32 {
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            let min = a[2] as usize;
            if min >= fds.borrow().limit {
                return Err(Errno::EINVAL.into());
            }
            Ok(fds
                .borrow_mut()
                .install(f, a[1] as i32 == libc::F_DUPFD_CLOEXEC, min)? as i64)
        }
        libc::F_GETFD => Ok(if fds.borrow_mut().entry_mut(fd)?.cloexec {
            1
        } else {
            0
        }),
        libc::F_SETFD => {
            fds.borrow_mut().entry_mut(fd)?.cloexec = a[2] & 1 != 0;
            Ok(0)
        }
        // O_PATH descriptions keep access mode 3 (neither read nor write) internally;
        // Linux reports just O_PATH.
        libc::F_GETFL if f.flags.get() & libc::O_PATH as u32 != 0 => {
            Ok((f.flags.get() & !(libc::O_ACCMODE as u32)) as i64)
        }
        libc::F_GETFL => Ok(f.flags.get() as i64
            | if f.is_dir() {
                libc::O_DIRECTORY as i64
            } else {
                0
            }),
        libc::F_SETFL => {
            let changeable = (libc::O_APPEND
                | libc::O_NONBLOCK
                | libc::O_ASYNC
                | libc::O_DIRECT
                | libc::O_NOATIME) as u32;
            let new = (f.flags.get() & !changeable) | (a[2] as u32 & changeable);
            f.flags.set(new);
            Ok(0)
        }
        libc::F_GETLK
        | libc::F_SETLK
        | libc::F_SETLKW
        | libc::F_OFD_GETLK
        | libc::F_OFD_SETLK
        | libc::F_OFD_SETLKW => record_lock(k, tid, &f, a[1] as i32, a[2]),
        libc::F_GETPIPE_SZ | libc::F_SETPIPE_SZ => {
            let p = f
                .ops
                .as_any()
                .downcast_ref::<PipeEnd>()
                .ok_or(Errno::EBADF)?;
            if a[1] as i32 == libc::F_GETPIPE_SZ {
                return Ok(p.buf.borrow().capacity() as i64);
            }
            // CAP_SYS_RESOURCE (24) may exceed pipe-max-size.
            let privileged = k.proc_of(tid).creds.has_cap(24);
            let n = crate::fs::pipe::set_capacity(&p.buf, a[2], privileged)?;
            // More room may let a blocked writer go on.
            k.dirty = true;
            Ok(n as i64)
        }
        libc::F_GETOWN | libc::F_SETOWN | 10 | 11 => Ok(0), // F_SETSIG, F_GETSIG
        libc::F_ADD_SEALS | libc::F_GET_SEALS => {
            Ok(crate::fs::memfd::fcntl_seals(&f, a[1] as i32, a[2])?)
        }
        _ => Err(Errno::EINVAL.into()),
    }
}

fn lock_key(f: &OpenFile) -> Result<locks::FileKey, Errno> {
    let i = f.inode.as_ref().ok_or(Errno::EINVAL)?;
    Ok((i.dev, i.ino))
}

pub fn sys_flock(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let op = a[1] as i32;
    // Linux checks the operation, then the fd; an O_PATH fd may only unlock.
    if !matches!(
        op & !libc::LOCK_NB,
        libc::LOCK_UN | libc::LOCK_SH | libc::LOCK_EX
    ) {
        return Err(Errno::EINVAL.into());
    }
    let f = get_file(k, tid, a[0])?;
    if f.flags.get() & libc::O_PATH as u32 != 0 && op & !libc::LOCK_NB != libc::LOCK_UN {
        return Err(Errno::EBADF.into());
    }
    let ofd = std::rc::Rc::as_ptr(&f) as usize;
    // Files without an inode (pipes, sockets) lock their pipe, or else their description.
    let key = lock_key(&f).unwrap_or_else(|_| match f.ops.as_any().downcast_ref::<PipeEnd>() {
        Some(p) => (crate::fs::DEV_PIPE, p.buf.borrow().ino),
        None => (u64::MAX, ofd as u64),
    });
    let nb = op & libc::LOCK_NB != 0;
    match op & !libc::LOCK_NB {
        libc::LOCK_UN => {
            locks::funlock(key, ofd);
            k.dirty = true;
            Ok(0)
        }
        libc::LOCK_SH | libc::LOCK_EX => match locks::flock(key, ofd, op & libc::LOCK_EX != 0) {
            Ok(()) => Ok(0),
            Err(e) if nb => Err(e.into()),
            Err(_) => Err(super::block()),
        },
        _ => Err(Errno::EINVAL.into()),
    }
}

/// fcntl record locks (`struct flock`: type, whence, start, len, pid).
fn record_lock(
    k: &mut Kernel,
    tid: Tid,
    f: &std::rc::Rc<OpenFile>,
    cmd: i32,
    arg: u64,
) -> SysResult {
    let mem = k.mem_of(tid)?;
    let b = mem.read_vec(arg, 32)?;
    let ltype = i16::from_le_bytes([b[0], b[1]]) as i32;
    let whence = i16::from_le_bytes([b[2], b[3]]) as i32;
    let start = i64::from_le_bytes(b[8..16].try_into().unwrap_or([0; 8]));
    let len = i64::from_le_bytes(b[16..24].try_into().unwrap_or([0; 8]));
    let ofd_cmd = matches!(
        cmd,
        libc::F_OFD_GETLK | libc::F_OFD_SETLK | libc::F_OFD_SETLKW
    );
    if ofd_cmd && i32::from_le_bytes(b[24..28].try_into().unwrap_or([0; 4])) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let key = lock_key(f).map_err(|_| Errno::EBADF)?;
    let base: i64 = match whence {
        libc::SEEK_SET => 0,
        libc::SEEK_CUR => f.pos.get() as i64,
        libc::SEEK_END => f.inode.as_ref().map(|i| i.size()).unwrap_or(0) as i64,
        _ => return Err(Errno::EINVAL.into()),
    };
    let s = base.checked_add(start).ok_or(Errno::EOVERFLOW)?;
    let (lo, hi) = if len > 0 {
        (s, s.checked_add(len).ok_or(Errno::EOVERFLOW)?)
    } else if len < 0 {
        (s.checked_add(len).ok_or(Errno::EINVAL)?, s)
    } else {
        (s, i64::MAX)
    };
    if lo < 0 {
        return Err(Errno::EINVAL.into());
    }
    let (lo, hi) = (lo as u64, if hi == i64::MAX { u64::MAX } else { hi as u64 });
    let pid = k.task(tid).tgid;
    let owner = if ofd_cmd {
        locks::Owner::File(std::rc::Rc::as_ptr(f) as usize)
    } else {
        locks::Owner::Process(pid)
    };
    let write = match ltype {
        libc::F_RDLCK => false,
        libc::F_WRLCK => true,
        libc::F_UNLCK => false,
        _ => return Err(Errno::EINVAL.into()),
    };
    if matches!(cmd, libc::F_GETLK | libc::F_OFD_GETLK) {
        if ltype == libc::F_UNLCK {
            return Err(Errno::EINVAL.into());
        }
        let mut out = b.clone();
        match locks::conflicting(key, owner, write, lo, hi) {
            None => out[0..2].copy_from_slice(&(libc::F_UNLCK as i16).to_le_bytes()),
            Some(l) => {
                let t = if l.write {
                    libc::F_WRLCK
                } else {
                    libc::F_RDLCK
                } as i16;
                out[0..2].copy_from_slice(&t.to_le_bytes());
                out[2..4].copy_from_slice(&(libc::SEEK_SET as i16).to_le_bytes());
                out[8..16].copy_from_slice(&(l.start as i64).to_le_bytes());
                let l_len = if l.end == u64::MAX {
                    0
                } else {
                    (l.end - l.start) as i64
                };
                out[16..24].copy_from_slice(&l_len.to_le_bytes());
                let p = if matches!(l.owner, locks::Owner::File(_)) {
                    -1
                } else if k.same_pidns(tid, l.pid) {
                    crate::kernel::pidns::vpid(l.pid)
                } else {
                    // A lock of another container's process (on a shared volume).
                    0
                };
                out[24..28].copy_from_slice(&p.to_le_bytes());
            }
        }
        mem.write(arg, &out)?;
        return Ok(0);
    }
    if ltype == libc::F_RDLCK && !f.readable() || ltype == libc::F_WRLCK && !f.writable() {
        return Err(Errno::EBADF.into());
    }
    if ltype != libc::F_UNLCK {
        if locks::conflicting(key, owner, write, lo, hi).is_some() {
            if matches!(cmd, libc::F_SETLKW | libc::F_OFD_SETLKW) {
                return Err(super::block());
            }
            return Err(Errno::EAGAIN.into());
        }
    }
    locks::set_record(key, owner, pid, write, lo, hi, ltype == libc::F_UNLCK);
    k.dirty = true;
    Ok(0)
}

pub fn sys_ioctl(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let fd = a[0] as i32;
    let fds = k.proc_of(tid).fds.clone();
    let f = fds.borrow().get(fd)?;
    let mem = k.mem_of(tid)?;
    match a[1] {
        libc::FIOCLEX => {
            fds.borrow_mut().entry_mut(fd)?.cloexec = true;
            Ok(0)
        }
        libc::FIONCLEX => {
            fds.borrow_mut().entry_mut(fd)?.cloexec = false;
            Ok(0)
        }
        libc::FIONBIO => {
            let on = mem.read_u32(a[2])? != 0;
            let fl = f.flags.get();
            f.flags.set(if on {
                fl | libc::O_NONBLOCK as u32
            } else {
                fl & !(libc::O_NONBLOCK as u32)
            });
            Ok(0)
        }
        req => Ok(f.ops.ioctl(&f, req, a[2], &mem)?),
    }
}

pub fn sys_pipe2(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let flags = a[1] as u32;
    if flags & !((libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_DIRECT) as u32) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let buf = new_pipe();
    let ino = buf.borrow().ino;
    let name = format!("pipe:[{ino}]").into_bytes();
    let nb = flags & libc::O_NONBLOCK as u32;
    let r = OpenFile::new(
        libc::O_RDONLY as u32 | nb,
        None,
        name.clone(),
        Box::new(PipeEnd::new(buf.clone(), false)),
    );
    let w = OpenFile::new(
        libc::O_WRONLY as u32 | nb,
        None,
        name,
        Box::new(PipeEnd::new(buf, true)),
    );
    let cloexec = flags & libc::O_CLOEXEC as u32 != 0;
    let fds = k.proc_of(tid).fds.clone();
    let rfd = fds.borrow_mut().install(r, cloexec, 0)?;
    let wfd = match fds.borrow_mut().install(w, cloexec, 0) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = fds.borrow_mut().remove(rfd);
            return Err(e.into());
        }
    };
    let mem = k.mem_of(tid)?;
    let mut out = [0u8; 8];
    out[0..4].copy_from_slice(&rfd.to_le_bytes());
    out[4..8].copy_from_slice(&wfd.to_le_bytes());
    if let Err(e) = mem.write(a[0], &out) {
        let _ = fds.borrow_mut().remove(rfd);
        let _ = fds.borrow_mut().remove(wfd);
        return Err(e.into());
    }
    Ok(0)
}

pub fn sys_pipe(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    sys_pipe2(k, tid, [a[0], 0, 0, 0, 0, 0])
}

/// Fills a `struct stat` for an inode.
pub fn stat_of(inode: &Inode) -> libc::stat {
    let m = inode.meta.borrow();
    // SAFETY: libc::stat is POD; zero is a valid start.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    st.st_dev = inode.dev;
    st.st_ino = inode.ino;
    st.st_nlink = m.nlink;
    st.st_mode = m.mode;
    st.st_uid = m.uid;
    st.st_gid = m.gid;
    st.st_rdev = m.rdev;
    let size = if matches!(inode.kind, InodeKind::Symlink(_)) {
        overlay::read_link(inode)
            .map(|t| t.len() as u64)
            .unwrap_or(m.size)
    } else {
        drop(m);
        let s = inode.size();
        let m2 = inode.meta.borrow();
        let _ = &m2;
        s
    };
    let m = inode.meta.borrow();
    st.st_size = size as i64;
    st.st_blksize = 4096;
    st.st_blocks = size.div_ceil(512) as i64;
    st.st_atime = m.atime.sec;
    st.st_atime_nsec = m.atime.nsec;
    st.st_mtime = m.mtime.sec;
    st.st_mtime_nsec = m.mtime.nsec;
    st.st_ctime = m.ctime.sec;
    st.st_ctime_nsec = m.ctime.nsec;
    st
}

/// stat of an open file (inode or synthetic: pipes, host stdio).
pub fn stat_file(f: &OpenFile) -> libc::stat {
    if let Some(i) = &f.inode {
        return stat_of(i);
    }
    // Sockets (host-backed ones too) report the sentry's socket inode, S_IFSOCK.
    if let Some(st) = crate::net::stat_socket(f) {
        return st;
    }
    // SAFETY: POD.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    st.st_blksize = 4096;
    st.st_nlink = 1;
    if let Some(fd) = f.ops.host_fd() {
        // SAFETY: fstat of a host fd we own into a valid buffer.
        unsafe { libc::fstat(fd, &mut st) };
        st.st_dev = crate::fs::DEV_PIPE;
        return st;
    }
    if let Some(p) = f.ops.as_any().downcast_ref::<PipeEnd>() {
        st.st_mode = libc::S_IFIFO | 0o600;
        st.st_ino = p.buf.borrow().ino;
        st.st_dev = crate::fs::DEV_PIPE;
        return st;
    }
    st.st_mode = libc::S_IFREG | 0o600;
    st
}

pub fn sys_fstat(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    let st = stat_file(&f);
    k.mem_of(tid)?.write_pod(a[1], &st)?;
    Ok(0)
}

pub fn sys_getdents64(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    getdents(k, tid, a, DirentFormat::Dirent64)
}

/// The old getdents(2): `struct linux_dirent` (d_type in the record's last byte).
pub fn sys_getdents(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    getdents(k, tid, a, DirentFormat::Legacy)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum DirentFormat {
    /// `struct linux_dirent64 { u64 ino; s64 off; u16 reclen; u8 type; char name[]; }`
    Dirent64,
    /// `struct linux_dirent { unsigned long ino, off; u16 reclen; char name[]; u8 pad; u8 type; }`
    Legacy,
}

fn getdents(k: &mut Kernel, tid: Tid, a: [u64; 6], format: DirentFormat) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    let Some(d) = f.ops.as_any().downcast_ref::<DirFile>() else {
        return Err(Errno::ENOTDIR.into());
    };
    let inode = f.inode.clone().ok_or(Errno::ENOTDIR)?;
    if inode.is_dead_dir() {
        // Linux does not list a removed directory, not even "." and "..".
        return Err(Errno::ENOENT.into());
    }
    if d.snapshot.borrow().is_none() {
        let mut entries = vec![
            DirEntry {
                ino: inode.ino,
                dtype: 4,
                name: b".".to_vec(),
            },
            DirEntry {
                ino: inode.parent_dir().ino,
                dtype: 4,
                name: b"..".to_vec(),
            },
        ];
        match &inode.kind {
            InodeKind::Dir(dd) => {
                overlay::populate(&inode)?;
                overlay::refresh(&inode)?;
                for (name, child) in dd.borrow().entries.iter() {
                    entries.push(DirEntry {
                        ino: child.ino,
                        dtype: dtype_of_mode(child.mode()),
                        name: name.clone(),
                    });
                }
            }
            InodeKind::Proc(p) => {
                let ctx = super::path_ctx(k, tid);
                for (i, (name, dt)) in procfs::list(k, &ctx, p)?.into_iter().enumerate() {
                    entries.push(DirEntry {
                        ino: 0x10000 + i as u64,
                        dtype: dt,
                        name,
                    });
                }
            }
            _ => return Err(Errno::ENOTDIR.into()),
        }
        *d.snapshot.borrow_mut() = Some(entries);
    }
    let snap = d.snapshot.borrow();
    let entries = snap.as_ref().ok_or(Errno::EIO)?;
    let cap = (a[2] as usize).min(1 << 20);
    let mut out = Vec::with_capacity(cap.min(65536));
    let mut idx = f.pos.get() as usize;
    while idx < entries.len() {
        let e = &entries[idx];
        // header, name, its NUL (and the legacy format's trailing type byte), 8-aligned
        let reclen = match format {
            DirentFormat::Dirent64 => (19 + e.name.len() + 1).div_ceil(8) * 8,
            DirentFormat::Legacy => (18 + e.name.len() + 2).div_ceil(8) * 8,
        };
        if out.len() + reclen > cap {
            break;
        }
        let start = out.len();
        out.extend_from_slice(&e.ino.to_le_bytes());
        out.extend_from_slice(&((idx + 1) as u64).to_le_bytes());
        out.extend_from_slice(&(reclen as u16).to_le_bytes());
        if format == DirentFormat::Dirent64 {
            out.push(e.dtype);
        }
        out.extend_from_slice(&e.name);
        out.resize(start + reclen, 0);
        if format == DirentFormat::Legacy {
            out[start + reclen - 1] = e.dtype;
        }
        idx += 1;
    }
    if out.is_empty() && idx < entries.len() {
        return Err(Errno::EINVAL.into());
    }
    f.pos.set(idx as u64);
    k.mem_of(tid)?.write(a[1], &out)?;
    crate::fs::inotify::on_readdir(&f);
    Ok(out.len() as i64)
}

pub fn sys_ftruncate(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    if (a[1] as i64) < 0 {
        return Err(Errno::EINVAL.into());
    }
    if !f.writable() {
        return Err(Errno::EINVAL.into());
    }
    let inode = f.inode.clone().ok_or(Errno::EINVAL)?;
    if !matches!(inode.kind, InodeKind::File(_)) {
        return Err(Errno::EINVAL.into());
    }
    if inode.readonly.get() {
        return Err(Errno::EROFS.into());
    }
    crate::fs::memfd::check_truncate(&f, a[1])?;
    let old = inode.size();
    fsize_check_grow(k, tid, old, a[1])?;
    overlay::truncate(&inode, a[1])?;
    super::mm::after_truncate(k, tid, &inode, old);
    crate::fs::inotify::on_modify(&f);
    Ok(0)
}

pub fn sys_fsync(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    // Only files and directories can be synced; pipes, sockets, devices and /proc files have
    // no fsync in Linux (EINVAL).
    match f.inode.as_ref().map(|i| &i.kind) {
        Some(InodeKind::File(_)) | Some(InodeKind::Dir(_)) => Ok(0),
        _ => Err(Errno::EINVAL.into()),
    }
}

/// syncfs works on any fd (it syncs the filesystem holding it); there is nothing to flush.
pub fn sys_syncfs(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    get_file(k, tid, a[0])?;
    Ok(0)
}

/// Moves up to `count` bytes from `inp` to `out` without losing data: never reads more than
/// the output can take right now. `in_off`/`out_off` are explicit offsets (pointers in workload
/// memory) or None to use and advance the files' positions.
fn transfer(
    k: &mut Kernel,
    tid: Tid,
    out: &OpenFile,
    inp: &OpenFile,
    count: u64,
    in_off: Option<u64>,
    out_off: Option<u64>,
) -> SysResult {
    if !inp.readable() || !out.writable() {
        return Err(Errno::EBADF.into());
    }
    if out.flags.get() & libc::O_APPEND as u32 != 0 && out_off.is_some() {
        return Err(Errno::EINVAL.into());
    }
    let mem = k.mem_of(tid)?;
    if out.ops.poll() & POLLOUT == 0 {
        let r = Err(Errno::EAGAIN);
        io_outcome(k, tid, out, r, POLLOUT)?;
    }
    // A pipe with POLLOUT has room for at least PIPE_BUF bytes.
    let chunk = if out.ops.seekable() {
        MAX_IO
    } else {
        crate::fs::pipe::PIPE_BUF
    };
    let want = (count as usize).min(chunk);
    let mut buf = vec![0u8; want];
    let in_pos = match in_off {
        Some(p) => Some(mem.read_u64(p)?),
        None if inp.ops.seekable() => Some(inp.pos.get()),
        None => None,
    };
    let r = file_read(inp, &mut buf, in_pos);
    let n = io_outcome(k, tid, inp, r, POLLIN)?;
    if n == 0 {
        return Ok(0);
    }
    let out_pos = match out_off {
        Some(p) => Some(mem.read_u64(p)?),
        None => None,
    };
    let r = file_write(out, &buf[..n], out_pos);
    let w = io_outcome(k, tid, out, r, POLLOUT)?;
    match (in_off, in_pos) {
        (Some(p), Some(pos)) => mem.write_u64(p, pos + w as u64)?,
        (None, Some(pos)) => inp.pos.set(pos + w as u64),
        _ => {}
    }
    if let (Some(p), Some(pos)) = (out_off, out_pos) {
        mem.write_u64(p, pos + w as u64)?;
    }
    k.dirty = true;
    Ok(w as i64)
}

pub fn sys_sendfile(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let out = get_file(k, tid, a[0])?;
    let inp = get_file(k, tid, a[1])?;
    // A pipe cannot be sendfile's input (Linux has no splice_read for pipes): EINVAL, where
    // reading it would even block.
    if inp.ops.as_any().is::<PipeEnd>() {
        return Err(Errno::EINVAL.into());
    }
    if !inp.ops.seekable() && a[2] != 0 {
        return Err(Errno::ESPIPE.into());
    }
    transfer(
        k,
        tid,
        &out,
        &inp,
        a[3],
        if a[2] != 0 { Some(a[2]) } else { None },
        None,
    )
}

pub fn sys_copy_file_range(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let inp = get_file(k, tid, a[0])?;
    let out = get_file(k, tid, a[2])?;
    if a[5] != 0 {
        return Err(Errno::EINVAL.into());
    }
    if !inp.ops.seekable() || !out.ops.seekable() {
        return Err(Errno::EINVAL.into());
    }
    if inp.is_dir() || out.is_dir() {
        return Err(Errno::EISDIR.into());
    }
    let in_off = if a[1] != 0 { Some(a[1]) } else { None };
    let out_off = if a[3] != 0 { Some(a[3]) } else { None };
    if let (Some(i), Some(o)) = (&inp.inode, &out.inode) {
        if Rc::ptr_eq(i, o) {
            // No overlapping copy within one file (the count cut at EOF, as Linux checks it).
            let mem = k.mem_of(tid)?;
            let pos_in = in_off.map_or(Ok(inp.pos.get()), |p| mem.read_u64(p))?;
            let pos_out = out_off.map_or(Ok(out.pos.get()), |p| mem.read_u64(p))?;
            let count = a[4].min(i.size().saturating_sub(pos_in));
            if pos_out.saturating_add(count) > pos_in && pos_out < pos_in.saturating_add(count) {
                return Err(Errno::EINVAL.into());
            }
        }
    }
    transfer(k, tid, &out, &inp, a[4], in_off, out_off)
}

/// splice/tee flag: the pipes of this one call act as if O_NONBLOCK.
const SPLICE_F_NONBLOCK: u64 = 2;

/// splice(2) and tee(2) between pipes and files (data passes through the sentry).
pub fn sys_splice(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let inp = get_file(k, tid, a[0])?;
    let out = get_file(k, tid, a[2])?;
    let in_pipe = inp.ops.as_any().is::<PipeEnd>();
    let out_pipe = out.ops.as_any().is::<PipeEnd>();
    if !in_pipe && !out_pipe {
        return Err(Errno::EINVAL.into());
    }
    if (in_pipe && a[1] != 0) || (out_pipe && a[3] != 0) {
        return Err(Errno::ESPIPE.into());
    }
    let in_off = if a[1] != 0 { Some(a[1]) } else { None };
    let out_off = if a[3] != 0 { Some(a[3]) } else { None };
    if a[5] & SPLICE_F_NONBLOCK != 0
        && (in_pipe && inp.ops.poll() & (POLLIN | POLLHUP) == 0
            || out_pipe && out.ops.poll() & (POLLOUT | POLLERR) == 0)
    {
        return Err(Errno::EAGAIN.into());
    }
    transfer(k, tid, &out, &inp, a[4], in_off, out_off)
}

pub fn sys_tee(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let inp = get_file(k, tid, a[0])?;
    let out = get_file(k, tid, a[1])?;
    let (Some(pi), Some(po)) = (
        inp.ops.as_any().downcast_ref::<PipeEnd>(),
        out.ops.as_any().downcast_ref::<PipeEnd>(),
    ) else {
        return Err(Errno::EINVAL.into());
    };
    if std::rc::Rc::ptr_eq(&pi.buf, &po.buf) {
        return Err(Errno::EINVAL.into());
    }
    let data: Vec<u8> = pi
        .buf
        .borrow()
        .data
        .iter()
        .take((a[2] as usize).min(crate::fs::pipe::PIPE_BUF))
        .copied()
        .collect();
    if data.is_empty() {
        if pi.buf.borrow().writers == 0 {
            return Ok(0);
        }
        if a[3] & SPLICE_F_NONBLOCK != 0 {
            return Err(Errno::EAGAIN.into());
        }
        let r = Err(Errno::EAGAIN);
        io_outcome(k, tid, &inp, r, POLLIN)?;
    }
    let r = file_write(&out, &data, None);
    if a[3] & SPLICE_F_NONBLOCK != 0 && r == Err(Errno::EAGAIN) {
        return Err(Errno::EAGAIN.into());
    }
    let n = io_outcome(k, tid, &out, r, POLLOUT)?;
    k.dirty = true;
    Ok(n as i64)
}

/// fallocate: mode 0 extends the file; PUNCH_HOLE|KEEP_SIZE and ZERO_RANGE zero a range.
pub fn sys_fallocate(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    let (mode, off, len) = (a[1] as i32, a[2] as i64, a[3] as i64);
    if off < 0 || len <= 0 {
        return Err(Errno::EINVAL.into());
    }
    if !f.writable() {
        return Err(Errno::EBADF.into());
    }
    let inode = f.inode.clone().ok_or(Errno::ESPIPE)?;
    if !matches!(inode.kind, InodeKind::File(_)) {
        return Err(if inode.is_dir() {
            Errno::EISDIR
        } else {
            Errno::ENODEV
        }
        .into());
    }
    if inode.readonly.get() {
        return Err(Errno::EROFS.into());
    }
    let end = off.checked_add(len).ok_or(Errno::EFBIG)? as u64;
    let size = inode.size();
    if mode & 1 == 0 {
        // KEEP_SIZE never grows the file.
        fsize_check_grow(k, tid, size, end)?;
    }
    const KEEP_SIZE: i32 = 1;
    const PUNCH_HOLE: i32 = 2;
    const ZERO_RANGE: i32 = 0x10;
    match mode {
        0 | KEEP_SIZE => {
            // The range is allocated: a size-limited tmpfs must have room for all of it.
            let quota = crate::fs::quota::usage(inode.dev).is_some();
            if quota
                && crate::fs::quota::charge_to(inode.dev, &inode.quota_pages, off as u64, end)?
                    < end
            {
                crate::fs::quota::shrink_to(inode.dev, &inode.quota_pages, size);
                return Err(Errno::ENOSPC.into());
            }
            if end > size && mode == 0 {
                overlay::truncate(&inode, end)?;
            }
        }
        m if m == PUNCH_HOLE | KEEP_SIZE || m == ZERO_RANGE || m == ZERO_RANGE | KEEP_SIZE => {
            let zero_end = if m & KEEP_SIZE != 0 {
                end.min(size)
            } else {
                end
            };
            // ZERO_RANGE without KEEP_SIZE grows the file first; then the range is zeroed
            // without writing pages that were never there.
            if zero_end > size {
                overlay::truncate(&inode, zero_end)?;
            }
            overlay::zero_range(&inode, off as u64, zero_end)?;
        }
        _ => return Err(Errno::EOPNOTSUPP.into()),
    }
    Ok(0)
}

/// fadvise64(fd, offset, len, advice): the advice is only checked (pipes and FIFOs ESPIPE, a
/// negative length or an unknown advice EINVAL), as for a file without page cache to tune.
pub fn sys_fadvise(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    const POSIX_FADV_NOREUSE: u64 = 5;
    let f = get_file(k, tid, a[0])?;
    let fifo = f.ops.as_any().is::<crate::fs::pipe::PipeEnd>()
        || f.inode
            .as_ref()
            .is_some_and(|i| i.mode() & libc::S_IFMT == libc::S_IFIFO);
    if fifo {
        return Err(Errno::ESPIPE.into());
    }
    if (a[2] as i64) < 0 || a[3] as u32 as u64 > POSIX_FADV_NOREUSE {
        return Err(Errno::EINVAL.into());
    }
    Ok(0)
}

/// readahead(fd, offset, count): a hint; the file must be a regular file open for reading.
pub fn sys_readahead(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    if !f.readable() {
        return Err(Errno::EBADF.into());
    }
    match f.inode.as_ref().map(|i| &i.kind) {
        Some(InodeKind::File(_)) => Ok(0),
        _ => Err(Errno::EINVAL.into()),
    }
}

/// sync_file_range(fd, offset, nbytes, flags): sandbox files are synced by fsync, so this
/// only validates.
pub fn sys_sync_file_range(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    const VALID: u64 = 1 | 2 | 4; // WAIT_BEFORE | WRITE | WAIT_AFTER
    let (off, n) = (a[1] as i64, a[2] as i64);
    if a[3] & !VALID != 0 || off < 0 || n < 0 || off.checked_add(n).is_none() {
        return Err(Errno::EINVAL.into());
    }
    let f = get_file(k, tid, a[0])?;
    match f.inode.as_ref().map(|i| &i.kind) {
        Some(InodeKind::File(_)) | Some(InodeKind::Dir(_)) => Ok(0),
        Some(_) => Err(Errno::ESPIPE.into()),
        None => Err(Errno::ESPIPE.into()),
    }
}
