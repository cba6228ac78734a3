//! Path-based filesystem syscalls: open, the *at family, stat, directories, links, cwd.

use super::file::{get_file, stat_file, stat_of};
use super::{dirfd_start, path_ctx, read_path, SysErr, SysResult};
use crate::errno::Errno;
use crate::fs::devfs::DevFile;
use crate::fs::pipe::{new_pipe, PipeEnd};
use crate::fs::procfs::{self, ProcFile};
use crate::fs::regular::{DirFile, RegularFile};
use crate::fs::{hostops, overlay};
use crate::kernel::{Kernel, Tid};
use crate::vfs::file::{FileOps, OpenFile};
use crate::vfs::inode::{FileData, Inode, InodeKind, Meta, SymlinkData};
use crate::vfs::{self, may_access, PathCtx, Time, MAY_EXEC, MAY_READ, MAY_WRITE};
use std::cell::RefCell;
use std::rc::Rc;

const AT_EMPTY_PATH: u64 = 0x1000;
const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
const AT_REMOVEDIR: u64 = 0x200;
const AT_SYMLINK_FOLLOW: u64 = 0x400;
const AT_EACCESS: u64 = 0x200;

fn check_dir_write(dir: &Inode, ctx: &PathCtx) -> Result<(), Errno> {
    if dir.is_dead_dir() {
        return Err(Errno::ENOENT);
    }
    if dir.readonly.get() {
        return Err(Errno::EROFS);
    }
    if matches!(dir.kind, InodeKind::Proc(_)) {
        return Err(Errno::EACCES);
    }
    if !may_access(&dir.meta.borrow(), &ctx.creds, MAY_WRITE | MAY_EXEC) {
        return Err(Errno::EACCES);
    }
    Ok(())
}

/// Sticky directories: only the owner of the file or the directory (or CAP_FOWNER) may
/// remove or rename entries.
fn check_sticky(dir: &Inode, victim: &Inode, ctx: &PathCtx) -> Result<(), Errno> {
    if dir.mode() & libc::S_ISVTX == 0 || ctx.creds.has_cap(vfs::CAP_FOWNER) {
        return Ok(());
    }
    let uid = ctx.creds.fsuid;
    if victim.meta.borrow().uid == uid || dir.meta.borrow().uid == uid {
        return Ok(());
    }
    Err(Errno::EPERM)
}

fn dir_entry(dir: &Rc<Inode>, name: &[u8]) -> Result<Option<Rc<Inode>>, Errno> {
    let InodeKind::Dir(d) = &dir.kind else {
        return Err(Errno::ENOTDIR);
    };
    overlay::populate(dir)?;
    let found = d.borrow().entries.get(name).cloned();
    Ok(match found {
        Some(child) => overlay::revalidate_hit(dir, name, child),
        None => overlay::revalidate_missing(dir, name),
    })
}

fn join_path(dir: &Rc<Inode>, name: &[u8]) -> Vec<u8> {
    let mut p = dir.path();
    if p != b"/" {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

/// Builds the open file description for an inode.
pub fn open_inode(
    k: &Kernel,
    ctx: &PathCtx,
    inode: &Rc<Inode>,
    flags: u32,
    path: Vec<u8>,
) -> Result<Rc<OpenFile>, SysErr> {
    let acc = flags & libc::O_ACCMODE as u32;
    let status = flags
        & !((libc::O_CREAT | libc::O_EXCL | libc::O_NOCTTY | libc::O_TRUNC | libc::O_CLOEXEC)
            as u32);
    if flags & libc::O_PATH as u32 != 0 {
        #[derive(Debug)]
        struct PathOnly;
        impl FileOps for PathOnly {
            fn read(&self, _f: &OpenFile, _b: &mut [u8], _o: Option<u64>) -> Result<usize, Errno> {
                Err(Errno::EBADF)
            }
            fn write(&self, _f: &OpenFile, _b: &[u8], _o: Option<u64>) -> Result<usize, Errno> {
                Err(Errno::EBADF)
            }
            fn as_any(&self) -> &dyn std::any::Any {
                self
            }
        }
        return Ok(OpenFile::new(
            libc::O_PATH as u32 | 3,
            Some(inode.clone()),
            path,
            Box::new(PathOnly),
        ));
    }
    let want_write = acc == libc::O_WRONLY as u32 || acc == libc::O_RDWR as u32;
    let want_read = acc == libc::O_RDONLY as u32 || acc == libc::O_RDWR as u32;
    let mut mask = 0;
    if want_read {
        mask |= MAY_READ;
    }
    if want_write || flags & libc::O_TRUNC as u32 != 0 {
        mask |= MAY_WRITE;
    }
    // A read-only procfs path (readonlyPaths) is a read-only mount. As in Linux, O_TRUNC
    // asks for write access to the mount before the permission check (EROFS first);
    // otherwise the permission check comes first (EACCES for a 0444 file), then EROFS.
    if flags & libc::O_TRUNC as u32 != 0
        && inode.readonly.get()
        && matches!(inode.kind, InodeKind::Proc(_))
    {
        return Err(Errno::EROFS.into());
    }
    if !may_access(&inode.meta.borrow(), &ctx.creds, mask) {
        return Err(Errno::EACCES.into());
    }
    let ops: Box<dyn FileOps> = match &inode.kind {
        InodeKind::Dir(_) => {
            if want_write {
                return Err(Errno::EISDIR.into());
            }
            Box::new(DirFile::default())
        }
        InodeKind::File(_) => {
            if want_write && inode.readonly.get() {
                return Err(Errno::EROFS.into());
            }
            if flags & libc::O_TRUNC as u32 != 0 && want_write {
                overlay::truncate(inode, 0)?;
            }
            Box::new(RegularFile {
                inode: inode.clone(),
            })
        }
        // /dev/tty is the caller's controlling terminal, if its session has one.
        InodeKind::Device(crate::vfs::DevKind::Tty) => {
            return k
                .procs
                .get(&ctx.pid)
                .and_then(|p| p.ctty.clone())
                .ok_or(Errno::ENXIO.into());
        }
        InodeKind::Device(crate::vfs::DevKind::Ptmx) => return Err(Errno::ENODEV.into()),
        InodeKind::Device(crate::vfs::DevKind::Unbacked) => return Err(Errno::ENXIO.into()),
        InodeKind::Device(kind) => Box::new(DevFile { kind: *kind }),
        InodeKind::Fifo(slot) => {
            let buf = slot.borrow_mut().get_or_insert_with(new_pipe).clone();
            // Tasks whose FIFO open was abandoned (exit) no longer count as an end.
            crate::fs::pipe::abandon_fifo_opens(|t| {
                t != ctx.tid && !k.tasks.get(&t).is_some_and(|t| blocked_in_open(t))
            });
            let nonblock = flags & libc::O_NONBLOCK as u32 != 0;
            match crate::fs::pipe::fifo_open(&buf, ctx.tid, acc, nonblock)? {
                crate::fs::pipe::FifoOpen::Ready(end) => Box::new(end),
                crate::fs::pipe::FifoOpen::Wait => return Err(super::block()),
            }
        }
        InodeKind::Symlink(_) => return Err(Errno::ELOOP.into()),
        InodeKind::Socket(_) => return Err(Errno::ENXIO.into()),
        InodeKind::Proc(p) => {
            // readonlyPaths (/proc/sys under runc's defaults): a read-only mount.
            if want_write && inode.readonly.get() {
                return Err(Errno::EROFS.into());
            }
            if want_write && procfs::sysctl_read_only(k, p) {
                return Err(Errno::EACCES.into());
            }
            // A network namespace's sysctls are writable with CAP_NET_ADMIN only (Linux's
            // net_ctl_permissions gives others the "other" bits).
            if want_write
                && matches!(p, procfs::ProcNode::Static(f) if f.starts_with("sys/net/"))
                && !ctx.creds.has_cap(12)
            {
                return Err(Errno::EACCES.into());
            }
            if p.is_dir() {
                if want_write {
                    return Err(Errno::EISDIR.into());
                }
                Box::new(DirFile::default())
            } else {
                Box::new(ProcFile {
                    data: procfs::content(k, ctx, p)?,
                })
            }
        }
    };
    Ok(OpenFile::new(status, Some(inode.clone()), path, ops))
}

/// A task parked in an open(2) (a FIFO open waiting for its partner).
fn blocked_in_open(t: &crate::kernel::task::Task) -> bool {
    t.blocked.as_ref().is_some_and(|b| {
        matches!(
            b.nr as i64,
            libc::SYS_open | libc::SYS_openat | libc::SYS_openat2 | libc::SYS_creat
        )
    })
}

pub fn do_open(
    k: &mut Kernel,
    tid: Tid,
    dirfd: i32,
    path: &[u8],
    flags: u32,
    mode: u32,
) -> SysResult {
    let start = dirfd_start(k, tid, dirfd, path)?;
    let ctx = path_ctx(k, tid);
    let umask = k.proc_of(tid).umask;
    let cloexec = flags & libc::O_CLOEXEC as u32 != 0;
    let nofollow = flags & libc::O_NOFOLLOW as u32 != 0;
    if flags & libc::O_TMPFILE as u32 == libc::O_TMPFILE as u32 {
        // An unnamed file must be opened for writing.
        if flags & libc::O_ACCMODE as u32 == libc::O_RDONLY as u32 {
            return Err(Errno::EINVAL.into());
        }
        let dir = vfs::resolve(k, &ctx, start, path, true)?;
        if !dir.is_dir() {
            return Err(Errno::ENOTDIR.into());
        }
        check_dir_write(&dir, &ctx)?;
        let (gid, perm) = new_owner(&dir, &ctx.creds, libc::S_IFREG | (mode & !umask & 0o7777));
        let inode = overlay::new_mem_file(dir.dev, perm & 0o7777, ctx.creds.fsuid, gid);
        inode.meta.borrow_mut().nlink = 0;
        inode.linkable.set(flags & libc::O_EXCL as u32 == 0);
        let f = OpenFile::new(
            flags & !((libc::O_TMPFILE | libc::O_CLOEXEC) as u32) | libc::O_RDWR as u32,
            Some(inode.clone()),
            join_path(&dir, b"#tmpfile (deleted)"),
            Box::new(RegularFile { inode }),
        );
        return Ok(k.proc_of(tid).fds.borrow_mut().install(f, cloexec, 0)? as i64);
    }
    let (inode, full) = if flags & libc::O_CREAT as u32 != 0 {
        let (mut dir, mut name) = vfs::resolve_parent(k, &ctx, start.clone(), path)?;
        if name.is_empty() || name == b"." || name == b".." || path.ends_with(b"/") {
            return Err(Errno::EISDIR.into());
        }
        let mut budget = vfs::path::MAX_SYMLINKS;
        let existing = loop {
            let e = match &dir.kind {
                InodeKind::Dir(_) => dir_entry(&dir, &name)?,
                _ => vfs::path::lookup(k, &ctx, &dir, &name).ok(),
            };
            // Without O_EXCL a symlink is followed, and a dangling one creates its target.
            match e {
                Some(l)
                    if l.is_symlink()
                        && flags & libc::O_EXCL as u32 == 0
                        && !nofollow
                        && matches!(l.kind, InodeKind::Symlink(_)) =>
                {
                    if budget == 0 {
                        return Err(Errno::ELOOP.into());
                    }
                    budget -= 1;
                    let target = vfs::path::readlink(k, &ctx, &l)?;
                    let (d, n) = vfs::resolve_parent(k, &ctx, Some(dir.clone()), &target)?;
                    if n.is_empty() || n == b"." || n == b".." || target.ends_with(b"/") {
                        return Err(Errno::EISDIR.into());
                    }
                    dir = d;
                    name = n;
                }
                other => break other,
            }
        };
        match existing {
            Some(e) => {
                if flags & libc::O_EXCL as u32 != 0 {
                    return Err(Errno::EEXIST.into());
                }
                let target = if e.is_symlink() {
                    if nofollow {
                        return Err(Errno::ELOOP.into());
                    }
                    // A procfs magic link (/proc/self/fd/N) names its object directly.
                    vfs::resolve(k, &ctx, start, path, true)?
                } else {
                    e
                };
                if target.is_dir() {
                    return Err(Errno::EISDIR.into());
                }
                let p = target.path();
                (target, p)
            }
            None => {
                check_dir_write(&dir, &ctx)?;
                let (gid, perm) =
                    new_owner(&dir, &ctx.creds, libc::S_IFREG | (mode & !umask & 0o7777));
                let perm = perm & 0o7777;
                let inode = overlay::new_mem_file(dir.dev, perm, ctx.creds.fsuid, gid);
                if let Some(link) = hostops::create_file(&dir, &name, perm, ctx.creds.fsuid, gid)? {
                    if let InodeKind::File(fd) = &inode.kind {
                        *fd.borrow_mut() = FileData::Host(link);
                    }
                    inode.writethrough.set(true);
                }
                inode.readonly.set(dir.readonly.get());
                dir.link_child(&name, inode.clone())?;
                k.dirty = true;
                let p = join_path(&dir, &name);
                // The creator may write a file it made read-only.
                let f = OpenFile::new(
                    flags
                        & !((libc::O_CREAT
                            | libc::O_EXCL
                            | libc::O_TRUNC
                            | libc::O_CLOEXEC
                            | libc::O_NOCTTY) as u32),
                    Some(inode.clone()),
                    p,
                    Box::new(RegularFile { inode }),
                );
                crate::fs::inotify::on_open(&f);
                return Ok(k.proc_of(tid).fds.borrow_mut().install(f, cloexec, 0)? as i64);
            }
        }
    } else {
        let inode = vfs::resolve(k, &ctx, start, path, !nofollow)?;
        let p = inode.path();
        (inode, p)
    };
    if flags & libc::O_DIRECTORY as u32 != 0 && !inode.is_dir() {
        return Err(Errno::ENOTDIR.into());
    }
    if inode.is_symlink() && flags & libc::O_PATH as u32 == 0 {
        return Err(Errno::ELOOP.into());
    }
    // /proc/pid/fd/N of a pipe or socket reopens that object.
    if let InodeKind::Proc(p) = &inode.kind {
        if let Some(f) = procfs::fd_link_file(k, p) {
            if f.inode.is_none() {
                if let Some(pe) = f.ops.as_any().downcast_ref::<PipeEnd>() {
                    let acc = flags & libc::O_ACCMODE as u32;
                    let end = PipeEnd::new(pe.buf.clone(), acc == libc::O_WRONLY as u32);
                    let nf = OpenFile::new(
                        flags & 0o3 | (flags & libc::O_NONBLOCK as u32),
                        None,
                        f.path.clone(),
                        Box::new(end),
                    );
                    return Ok(k.proc_of(tid).fds.borrow_mut().install(nf, cloexec, 0)? as i64);
                }
                return Ok(k.proc_of(tid).fds.borrow_mut().install(f, cloexec, 0)? as i64);
            }
        }
    }
    let size_before = inode.size();
    let f = open_inode(k, &ctx, &inode, flags, full)?;
    if flags & libc::O_TRUNC as u32 != 0 {
        // Mapped pages past the new end go away (SIGBUS), as with ftruncate.
        super::mm::after_truncate(k, tid, &inode, size_before);
    }
    crate::fs::inotify::on_open(&f);
    k.dirty = true;
    Ok(k.proc_of(tid).fds.borrow_mut().install(f, cloexec, 0)? as i64)
}

pub fn sys_openat(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let path = read_path(k, tid, a[1])?;
    do_open(k, tid, a[0] as i32, &path, a[2] as u32, a[3] as u32)
}

pub fn sys_open(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let path = read_path(k, tid, a[0])?;
    do_open(k, tid, libc::AT_FDCWD, &path, a[1] as u32, a[2] as u32)
}

pub fn sys_creat(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let path = read_path(k, tid, a[0])?;
    let flags = (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u32;
    do_open(k, tid, libc::AT_FDCWD, &path, flags, a[1] as u32)
}

pub fn sys_openat2(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let path = read_path(k, tid, a[1])?;
    let mem = k.mem_of(tid)?;
    if a[3] < 24 {
        return Err(Errno::EINVAL.into());
    }
    let flags = mem.read_u64(a[2])?;
    let mode = mem.read_u64(a[2] + 8)?;
    do_open(k, tid, a[0] as i32, &path, flags as u32, mode as u32)
}

/// Resolves a path argument for the stat family (AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW).
fn stat_target(
    k: &Kernel,
    tid: Tid,
    dirfd: i32,
    path: &[u8],
    flags: u64,
) -> Result<StatTarget, Errno> {
    if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        if dirfd == libc::AT_FDCWD {
            return Ok(StatTarget::Inode(k.proc_of(tid).cwd.clone()));
        }
        return Ok(StatTarget::File(get_file(k, tid, dirfd as u64)?));
    }
    let start = dirfd_start(k, tid, dirfd, path)?;
    let ctx = path_ctx(k, tid);
    Ok(StatTarget::Inode(vfs::resolve(
        k,
        &ctx,
        start,
        path,
        flags & AT_SYMLINK_NOFOLLOW == 0,
    )?))
}

enum StatTarget {
    Inode(Rc<Inode>),
    File(Rc<OpenFile>),
}

impl StatTarget {
    fn stat(&self) -> libc::stat {
        match self {
            StatTarget::Inode(i) => stat_of(i),
            StatTarget::File(f) => stat_file(f),
        }
    }
}

pub fn sys_newfstatat(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let path = read_path(k, tid, a[1])?;
    let st = stat_target(k, tid, a[0] as i32, &path, a[3])?.stat();
    k.mem_of(tid)?.write_pod(a[2], &st)?;
    Ok(0)
}

pub fn sys_stat(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    sys_newfstatat(k, tid, [libc::AT_FDCWD as u64, a[0], a[1], 0, 0, 0])
}

pub fn sys_lstat(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    sys_newfstatat(
        k,
        tid,
        [libc::AT_FDCWD as u64, a[0], a[1], AT_SYMLINK_NOFOLLOW, 0, 0],
    )
}

pub fn sys_statx(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    const AT_NO_AUTOMOUNT: u64 = 0x800;
    const AT_STATX_SYNC_TYPE: u64 = 0x6000;
    const STATX_RESERVED: u64 = 0x8000_0000;
    let (flags, mask) = (a[2], a[3]);
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE) != 0
        || flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE
        || mask & STATX_RESERVED != 0
    {
        return Err(Errno::EINVAL.into());
    }
    let path = read_path(k, tid, a[1])?;
    let st = stat_target(k, tid, a[0] as i32, &path, a[2])?.stat();
    let mut b = [0u8; 256];
    let put32 = |b: &mut [u8; 256], o: usize, v: u32| b[o..o + 4].copy_from_slice(&v.to_le_bytes());
    let put64 = |b: &mut [u8; 256], o: usize, v: u64| b[o..o + 8].copy_from_slice(&v.to_le_bytes());
    put32(&mut b, 0, 0x7ff); // STATX_BASIC_STATS
    put32(&mut b, 4, st.st_blksize as u32);
    put32(&mut b, 16, st.st_nlink as u32);
    put32(&mut b, 20, st.st_uid);
    put32(&mut b, 24, st.st_gid);
    b[28..30].copy_from_slice(&(st.st_mode as u16).to_le_bytes());
    put64(&mut b, 32, st.st_ino);
    put64(&mut b, 40, st.st_size as u64);
    put64(&mut b, 48, st.st_blocks as u64);
    let ts = |b: &mut [u8; 256], o: usize, s: i64, ns: i64| {
        b[o..o + 8].copy_from_slice(&s.to_le_bytes());
        b[o + 8..o + 12].copy_from_slice(&(ns as u32).to_le_bytes());
    };
    ts(&mut b, 64, st.st_atime, st.st_atime_nsec);
    ts(&mut b, 80, st.st_ctime, st.st_ctime_nsec); // btime: unknown, report ctime
    ts(&mut b, 96, st.st_ctime, st.st_ctime_nsec);
    ts(&mut b, 112, st.st_mtime, st.st_mtime_nsec);
    put32(&mut b, 128, crate::vfs::inode::major(st.st_rdev) as u32);
    put32(&mut b, 132, crate::vfs::inode::minor(st.st_rdev) as u32);
    put32(&mut b, 136, crate::vfs::inode::major(st.st_dev) as u32);
    put32(&mut b, 140, crate::vfs::inode::minor(st.st_dev) as u32);
    k.mem_of(tid)?.write(a[4], &b)?;
    Ok(0)
}

fn access_impl(
    k: &mut Kernel,
    tid: Tid,
    dirfd: i32,
    path_addr: u64,
    mode: u64,
    flags: u64,
) -> SysResult {
    if mode & !7 != 0 {
        return Err(Errno::EINVAL.into());
    }
    let path = read_path(k, tid, path_addr)?;
    let start = dirfd_start(k, tid, dirfd, &path)?;
    let mut ctx = path_ctx(k, tid);
    if flags & AT_EACCESS == 0 {
        // access(2) checks with the real ids.
        ctx.creds.fsuid = ctx.creds.uid;
        ctx.creds.fsgid = ctx.creds.gid;
        if ctx.creds.uid != 0 {
            ctx.creds.cap_effective = 0;
        }
    }
    let inode = vfs::resolve(k, &ctx, start, &path, flags & AT_SYMLINK_NOFOLLOW == 0)?;
    if mode & 2 != 0 && inode.readonly.get() {
        return Err(Errno::EROFS.into());
    }
    if !may_access(&inode.meta.borrow(), &ctx.creds, mode as u32) {
        return Err(Errno::EACCES.into());
    }
    if mode & 2 != 0 && matches!(&inode.kind, InodeKind::Proc(p) if procfs::sysctl_read_only(k, p))
    {
        return Err(Errno::EACCES.into());
    }
    Ok(0)
}

pub fn sys_faccessat(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    access_impl(k, tid, a[0] as i32, a[1], a[2], 0)
}
pub fn sys_faccessat2(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if a[3] & !(AT_SYMLINK_NOFOLLOW | AT_EACCESS | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL.into());
    }
    access_impl(k, tid, a[0] as i32, a[1], a[2], a[3])
}
pub fn sys_access(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    access_impl(k, tid, libc::AT_FDCWD, a[0], a[1], 0)
}

fn mkdir_impl(k: &mut Kernel, tid: Tid, dirfd: i32, path_addr: u64, mode: u32) -> SysResult {
    let path = read_path(k, tid, path_addr)?;
    let start = dirfd_start(k, tid, dirfd, &path)?;
    let ctx = path_ctx(k, tid);
    let (dir, name) = vfs::resolve_parent(k, &ctx, start, &path)?;
    if name.is_empty() || name == b"." || name == b".." {
        return Err(Errno::EEXIST.into());
    }
    if !matches!(dir.kind, InodeKind::Dir(_)) {
        return Err(Errno::EACCES.into());
    }
    if dir_entry(&dir, &name)?.is_some() {
        return Err(Errno::EEXIST.into());
    }
    check_dir_write(&dir, &ctx)?;
    let umask = k.proc_of(tid).umask;
    let (gid, mode) = new_owner(&dir, &ctx.creds, libc::S_IFDIR | (mode & !umask & 0o7777));
    let mode = mode & 0o7777;
    let child = Inode::new_dir(dir.dev, mode, ctx.creds.fsuid, gid);
    child.readonly.set(dir.readonly.get());
    if let Some(link) = hostops::mkdir(&dir, &name, mode, ctx.creds.fsuid, gid)? {
        if let InodeKind::Dir(d) = &child.kind {
            d.borrow_mut().lower = Some(link);
        }
        child.writethrough.set(true);
    }
    dir.link_child(&name, child)?;
    Ok(0)
}

pub fn sys_mkdirat(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    mkdir_impl(k, tid, a[0] as i32, a[1], a[2] as u32)
}
pub fn sys_mkdir(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    mkdir_impl(k, tid, libc::AT_FDCWD, a[0], a[1] as u32)
}

fn unlink_impl(k: &mut Kernel, tid: Tid, dirfd: i32, path_addr: u64, flags: u64) -> SysResult {
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL.into());
    }
    let path = read_path(k, tid, path_addr)?;
    let start = dirfd_start(k, tid, dirfd, &path)?;
    let ctx = path_ctx(k, tid);
    let (dir, name) = vfs::resolve_parent(k, &ctx, start, &path)?;
    let rmdir = flags & AT_REMOVEDIR != 0;
    if name == b"." {
        return Err(if rmdir { Errno::EINVAL } else { Errno::EISDIR }.into());
    }
    if name == b".." || name.is_empty() {
        return Err(if rmdir {
            Errno::ENOTEMPTY
        } else {
            Errno::EISDIR
        }
        .into());
    }
    if !matches!(dir.kind, InodeKind::Dir(_)) {
        return Err(Errno::EACCES.into());
    }
    let victim = dir_entry(&dir, &name)?.ok_or(Errno::ENOENT)?;
    if !rmdir && path.ends_with(b"/") {
        return Err(if victim.is_dir() {
            Errno::EISDIR
        } else {
            Errno::ENOTDIR
        }
        .into());
    }
    check_dir_write(&dir, &ctx)?;
    check_sticky(&dir, &victim, &ctx)?;
    if rmdir {
        let InodeKind::Dir(vd) = &victim.kind else {
            return Err(Errno::ENOTDIR.into());
        };
        overlay::populate(&victim)?;
        if !vd.borrow().entries.is_empty() {
            return Err(Errno::ENOTEMPTY.into());
        }
        if Rc::ptr_eq(&victim, &ctx.root)
            || k.mounts_of(ctx.pid)
                .iter()
                .any(|m| m.target == victim.path())
        {
            return Err(Errno::EBUSY.into());
        }
    } else if victim.is_dir() {
        return Err(Errno::EISDIR.into());
    }
    hostops::unlink(&dir, &name, rmdir)?;
    if let InodeKind::Dir(d) = &dir.kind {
        d.borrow_mut().entries.remove(&name);
    }
    {
        let mut m = victim.meta.borrow_mut();
        m.nlink = m.nlink.saturating_sub(if rmdir { 2 } else { 1 });
        m.ctime = Time::now();
    }
    if rmdir {
        let mut m = dir.meta.borrow_mut();
        m.nlink = m.nlink.saturating_sub(1);
    }
    dir.touch_mtime();
    crate::fs::inotify::on_unlink(&dir, &name, &victim);
    k.dirty = true;
    Ok(0)
}

pub fn sys_unlinkat(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    unlink_impl(k, tid, a[0] as i32, a[1], a[2])
}
pub fn sys_unlink(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    unlink_impl(k, tid, libc::AT_FDCWD, a[0], 0)
}
pub fn sys_rmdir(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    unlink_impl(k, tid, libc::AT_FDCWD, a[0], AT_REMOVEDIR)
}

fn is_ancestor(anc: &Rc<Inode>, node: &Rc<Inode>) -> bool {
    let mut cur = node.clone();
    for _ in 0..4096 {
        if Rc::ptr_eq(&cur, anc) {
            return true;
        }
        let p = cur.parent_dir();
        if Rc::ptr_eq(&p, &cur) {
            return false;
        }
        cur = p;
    }
    false
}

fn rename_impl(
    k: &mut Kernel,
    tid: Tid,
    odfd: i32,
    opath: u64,
    ndfd: i32,
    npath: u64,
    flags: u64,
) -> SysResult {
    const NOREPLACE: u64 = 1;
    const EXCHANGE: u64 = 2;
    if flags & !(NOREPLACE | EXCHANGE | 4) != 0 || (flags & NOREPLACE != 0 && flags & EXCHANGE != 0)
    {
        return Err(Errno::EINVAL.into());
    }
    let op = read_path(k, tid, opath)?;
    let np = read_path(k, tid, npath)?;
    let os = dirfd_start(k, tid, odfd, &op)?;
    let ns = dirfd_start(k, tid, ndfd, &np)?;
    let ctx = path_ctx(k, tid);
    let (odir, oname) = vfs::resolve_parent(k, &ctx, os, &op)?;
    let (ndir, nname) = vfs::resolve_parent(k, &ctx, ns, &np)?;
    for n in [&oname, &nname] {
        if n.is_empty() || n.as_slice() == b"." || n.as_slice() == b".." {
            return Err(Errno::EBUSY.into());
        }
    }
    if !matches!(odir.kind, InodeKind::Dir(_)) || !matches!(ndir.kind, InodeKind::Dir(_)) {
        return Err(Errno::EXDEV.into());
    }
    if odir.dev != ndir.dev {
        return Err(Errno::EXDEV.into());
    }
    let src = dir_entry(&odir, &oname)?.ok_or(Errno::ENOENT)?;
    let dst = dir_entry(&ndir, &nname)?;
    check_dir_write(&odir, &ctx)?;
    check_dir_write(&ndir, &ctx)?;
    check_sticky(&odir, &src, &ctx)?;
    if src.is_dir() && is_ancestor(&src, &ndir) {
        return Err(Errno::EINVAL.into());
    }
    if let Some(d) = &dst {
        // NOREPLACE first: Linux refuses an existing target even when it is the same file.
        if flags & NOREPLACE != 0 {
            return Err(Errno::EEXIST.into());
        }
        if Rc::ptr_eq(d, &src) {
            return Ok(0);
        }
        check_sticky(&ndir, d, &ctx)?;
        if flags & EXCHANGE == 0 {
            if src.is_dir() && !d.is_dir() {
                return Err(Errno::ENOTDIR.into());
            }
            if !src.is_dir() && d.is_dir() {
                return Err(Errno::EISDIR.into());
            }
            if let InodeKind::Dir(dd) = &d.kind {
                overlay::populate(d)?;
                if !dd.borrow().entries.is_empty() {
                    return Err(Errno::ENOTEMPTY.into());
                }
            }
        }
    } else if flags & EXCHANGE != 0 {
        return Err(Errno::ENOENT.into());
    }
    let (InodeKind::Dir(od), InodeKind::Dir(nd)) = (&odir.kind, &ndir.kind) else {
        return Err(Errno::EXDEV.into());
    };
    hostops::rename(&odir, &oname, &ndir, &nname, flags, &src)?;
    if flags & EXCHANGE != 0 {
        let d = dst.ok_or(Errno::ENOENT)?;
        od.borrow_mut().entries.insert(oname.clone(), d.clone());
        nd.borrow_mut().entries.insert(nname.clone(), src.clone());
        for (node, parent, name) in [(&d, &odir, &oname), (&src, &ndir, &nname)] {
            *node.parent.borrow_mut() = Rc::downgrade(parent);
            *node.name.borrow_mut() = name.clone();
        }
        crate::fs::inotify::on_exchange(&odir, &oname, &ndir, &nname, &src, &d);
    } else {
        od.borrow_mut().entries.remove(&oname);
        if let Some(d) = nd.borrow_mut().entries.insert(nname.clone(), src.clone()) {
            let mut m = d.meta.borrow_mut();
            m.nlink = m.nlink.saturating_sub(if d.is_dir() { 2 } else { 1 });
        }
        if src.is_dir() && !Rc::ptr_eq(&odir, &ndir) {
            odir.meta.borrow_mut().nlink -= 1;
            ndir.meta.borrow_mut().nlink += 1;
        }
        crate::fs::inotify::on_rename(&odir, &oname, &ndir, &nname, &src, dst.as_ref());
        *src.parent.borrow_mut() = Rc::downgrade(&ndir);
        *src.name.borrow_mut() = nname;
    }
    odir.touch_mtime();
    ndir.touch_mtime();
    src.meta.borrow_mut().ctime = Time::now();
    Ok(0)
}

pub fn sys_renameat2(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    rename_impl(k, tid, a[0] as i32, a[1], a[2] as i32, a[3], a[4])
}
pub fn sys_renameat(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    rename_impl(k, tid, a[0] as i32, a[1], a[2] as i32, a[3], 0)
}
pub fn sys_rename(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    rename_impl(k, tid, libc::AT_FDCWD, a[0], libc::AT_FDCWD, a[1], 0)
}

fn link_impl(
    k: &mut Kernel,
    tid: Tid,
    odfd: i32,
    opath: u64,
    ndfd: i32,
    npath: u64,
    flags: u64,
) -> SysResult {
    let op = read_path(k, tid, opath)?;
    let np = read_path(k, tid, npath)?;
    let ctx = path_ctx(k, tid);
    let src = if op.is_empty() && flags & AT_EMPTY_PATH != 0 {
        get_file(k, tid, odfd as u64)?
            .inode
            .clone()
            .ok_or(Errno::ENOENT)?
    } else {
        let os = dirfd_start(k, tid, odfd, &op)?;
        vfs::resolve(k, &ctx, os, &op, flags & AT_SYMLINK_FOLLOW != 0)?
    };
    if src.is_dir() {
        return Err(Errno::EPERM.into());
    }
    let ns = dirfd_start(k, tid, ndfd, &np)?;
    let (ndir, nname) = vfs::resolve_parent(k, &ctx, ns, &np)?;
    if nname.is_empty() || nname == b"." || nname == b".." {
        return Err(Errno::EEXIST.into());
    }
    if !matches!(ndir.kind, InodeKind::Dir(_)) {
        return Err(Errno::EACCES.into());
    }
    if dir_entry(&ndir, &nname)?.is_some() {
        return Err(Errno::EEXIST.into());
    }
    if ndir.dev != src.dev {
        return Err(Errno::EXDEV.into());
    }
    check_dir_write(&ndir, &ctx)?;
    // A file whose last name is gone stays nameless, except a fresh O_TMPFILE without O_EXCL.
    if src.meta.borrow().nlink == 0 && !src.linkable.get() {
        return Err(Errno::ENOENT.into());
    }
    src.linkable.set(false);
    hostops::link(&src, &ndir, &nname)?;
    ndir.link_child(&nname, src.clone())?;
    let mut m = src.meta.borrow_mut();
    m.nlink += 1;
    m.ctime = Time::now();
    Ok(0)
}

pub fn sys_linkat(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    link_impl(k, tid, a[0] as i32, a[1], a[2] as i32, a[3], a[4])
}
pub fn sys_link(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    link_impl(k, tid, libc::AT_FDCWD, a[0], libc::AT_FDCWD, a[1], 0)
}

fn symlink_impl(k: &mut Kernel, tid: Tid, target_addr: u64, ndfd: i32, npath: u64) -> SysResult {
    let target = read_path(k, tid, target_addr)?;
    if target.is_empty() {
        return Err(Errno::ENOENT.into());
    }
    let np = read_path(k, tid, npath)?;
    let ns = dirfd_start(k, tid, ndfd, &np)?;
    let ctx = path_ctx(k, tid);
    let (dir, name) = vfs::resolve_parent(k, &ctx, ns, &np)?;
    if name.is_empty() || name == b"." || name == b".." {
        return Err(Errno::EEXIST.into());
    }
    if !matches!(dir.kind, InodeKind::Dir(_)) {
        return Err(Errno::EACCES.into());
    }
    if dir_entry(&dir, &name)?.is_some() {
        return Err(Errno::EEXIST.into());
    }
    check_dir_write(&dir, &ctx)?;
    let (gid, _) = new_owner(&dir, &ctx.creds, libc::S_IFLNK | 0o777);
    let l = overlay::new_symlink(dir.dev, &target, ctx.creds.fsuid, gid);
    if let Some(link) = hostops::symlink(&dir, &name, &target, ctx.creds.fsuid, gid)? {
        if let InodeKind::Symlink(s) = &l.kind {
            *s.borrow_mut() = SymlinkData::Host(link);
        }
        l.writethrough.set(true);
    }
    dir.link_child(&name, l)?;
    Ok(0)
}

pub fn sys_symlinkat(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    symlink_impl(k, tid, a[0], a[1] as i32, a[2])
}
pub fn sys_symlink(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    symlink_impl(k, tid, a[0], libc::AT_FDCWD, a[1])
}

fn readlink_impl(
    k: &mut Kernel,
    tid: Tid,
    dirfd: i32,
    path_addr: u64,
    buf: u64,
    size: u64,
) -> SysResult {
    if (size as i64) <= 0 {
        return Err(Errno::EINVAL.into());
    }
    let path = read_path(k, tid, path_addr)?;
    let ctx = path_ctx(k, tid);
    let inode = if path.is_empty() {
        get_file(k, tid, dirfd as u64)?
            .inode
            .clone()
            .ok_or(Errno::ENOENT)?
    } else {
        let start = dirfd_start(k, tid, dirfd, &path)?;
        vfs::resolve(k, &ctx, start, &path, false)?
    };
    if !inode.is_symlink() {
        return Err(Errno::EINVAL.into());
    }
    let target = vfs::path::readlink(k, &ctx, &inode)?;
    let n = target.len().min(size as usize);
    k.mem_of(tid)?.write(buf, &target[..n])?;
    Ok(n as i64)
}

pub fn sys_readlinkat(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    readlink_impl(k, tid, a[0] as i32, a[1], a[2], a[3])
}
pub fn sys_readlink(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    readlink_impl(k, tid, libc::AT_FDCWD, a[0], a[1], a[2])
}

fn chmod_inode(ctx: &PathCtx, inode: &Inode, mode: u32) -> SysResult {
    if inode.readonly.get() {
        return Err(Errno::EROFS.into());
    }
    let mut m = inode.meta.borrow_mut();
    if ctx.creds.fsuid != m.uid && !ctx.creds.has_cap(vfs::CAP_FOWNER) {
        return Err(Errno::EPERM.into());
    }
    let mut mode = mode & 0o7777;
    if ctx.creds.fsuid != 0 && !ctx.creds.in_group(m.gid) && !ctx.creds.has_cap(vfs::CAP_FOWNER) {
        mode &= !libc::S_ISGID;
    }
    hostops::chmod(inode, mode)?;
    m.mode = (m.mode & libc::S_IFMT) | mode;
    m.ctime = Time::now();
    drop(m);
    crate::fs::inotify::on_attrib(inode);
    Ok(0)
}

pub fn sys_fchmodat(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let path = read_path(k, tid, a[1])?;
    let start = dirfd_start(k, tid, a[0] as i32, &path)?;
    let ctx = path_ctx(k, tid);
    let inode = vfs::resolve(k, &ctx, start, &path, true)?;
    chmod_inode(&ctx, &inode, a[2] as u32)
}
pub fn sys_chmod(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    sys_fchmodat(k, tid, [libc::AT_FDCWD as u64, a[0], a[1], 0, 0, 0])
}
pub fn sys_fchmod(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    if f.flags.get() & libc::O_PATH as u32 != 0 {
        return Err(Errno::EBADF.into());
    }
    let ctx = path_ctx(k, tid);
    let inode = f.inode.clone().ok_or(Errno::EINVAL)?;
    chmod_inode(&ctx, &inode, a[1] as u32)
}

fn chown_inode(ctx: &PathCtx, inode: &Inode, uid: u32, gid: u32) -> SysResult {
    if inode.readonly.get() {
        return Err(Errno::EROFS.into());
    }
    let mut m = inode.meta.borrow_mut();
    let can_chown = ctx.creds.has_cap(vfs::CAP_CHOWN);
    if uid != u32::MAX && uid != m.uid && !can_chown {
        return Err(Errno::EPERM.into());
    }
    if gid != u32::MAX
        && gid != m.gid
        && !can_chown
        && !(ctx.creds.fsuid == m.uid && ctx.creds.in_group(gid))
    {
        return Err(Errno::EPERM.into());
    }
    hostops::chown(inode, uid, gid)?;
    if uid != u32::MAX {
        m.uid = uid;
    }
    if gid != u32::MAX {
        m.gid = gid;
    }
    if m.file_type() != libc::S_IFDIR {
        m.mode &= !vfs::setid_bits_to_drop(m.mode);
    }
    m.ctime = Time::now();
    drop(m);
    crate::fs::inotify::on_attrib(inode);
    Ok(0)
}

pub fn sys_fchownat(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let path = read_path(k, tid, a[1])?;
    let ctx = path_ctx(k, tid);
    let inode = if path.is_empty() && a[4] & AT_EMPTY_PATH != 0 {
        get_file(k, tid, a[0])?.inode.clone().ok_or(Errno::EINVAL)?
    } else {
        let start = dirfd_start(k, tid, a[0] as i32, &path)?;
        vfs::resolve(k, &ctx, start, &path, a[4] & AT_SYMLINK_NOFOLLOW == 0)?
    };
    chown_inode(&ctx, &inode, a[2] as u32, a[3] as u32)
}
pub fn sys_chown(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    sys_fchownat(k, tid, [libc::AT_FDCWD as u64, a[0], a[1], a[2], 0, 0])
}
pub fn sys_lchown(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    sys_fchownat(
        k,
        tid,
        [
            libc::AT_FDCWD as u64,
            a[0],
            a[1],
            a[2],
            AT_SYMLINK_NOFOLLOW,
            0,
        ],
    )
}
pub fn sys_fchown(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    if f.flags.get() & libc::O_PATH as u32 != 0 {
        return Err(Errno::EBADF.into());
    }
    let ctx = path_ctx(k, tid);
    let inode = f.inode.clone().ok_or(Errno::EINVAL)?;
    chown_inode(&ctx, &inode, a[1] as u32, a[2] as u32)
}

/// `UTIME_NOW` / `UTIME_OMIT` in a timespec's nanoseconds (utimensat(2)).
const UTIME_NOW: i64 = (1 << 30) - 1;
const UTIME_OMIT: i64 = (1 << 30) - 2;

pub fn sys_utimensat(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if a[3] & !(AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH as u64) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let times = read_time_pairs(k, tid, a[2])?;
    set_times(k, tid, a[0], a[1], times, a[3] & AT_SYMLINK_NOFOLLOW == 0)
}

/// utimes(path, timeval[2]).
pub fn sys_utimes(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let times = read_timevals(k, tid, a[1])?;
    set_times(k, tid, libc::AT_FDCWD as u64, a[0], times, true)
}

/// futimesat(dirfd, path, timeval[2]): utimes relative to a directory fd.
pub fn sys_futimesat(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let times = read_timevals(k, tid, a[2])?;
    set_times(k, tid, a[0], a[1], times, true)
}

/// utime(path, struct utimbuf { actime, modtime }): whole seconds.
pub fn sys_utime(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let times = if a[1] == 0 {
        None
    } else {
        let mem = k.mem_of(tid)?;
        Some([
            (mem.read_u64(a[1])? as i64, 0),
            (mem.read_u64(a[1] + 8)? as i64, 0),
        ])
    };
    if a[0] == 0 {
        return Err(Errno::EFAULT.into());
    }
    set_times(k, tid, libc::AT_FDCWD as u64, a[0], times, true)
}

/// Two (seconds, sub-second) pairs at `addr`, the layout of both `struct timespec[2]` and
/// `struct timeval[2]`; None for a NULL pointer ("now").
fn read_time_pairs(
    k: &mut Kernel,
    tid: Tid,
    addr: u64,
) -> Result<Option<[(i64, i64); 2]>, super::SysErr> {
    if addr == 0 {
        return Ok(None);
    }
    let mem = k.mem_of(tid)?;
    let mut t = [(0i64, 0i64); 2];
    for (i, v) in t.iter_mut().enumerate() {
        let base = addr + i as u64 * 16;
        *v = (mem.read_u64(base)? as i64, mem.read_u64(base + 8)? as i64);
    }
    Ok(Some(t))
}

/// Two `struct timeval`s at `addr` as (sec, nsec) pairs; None for a NULL pointer ("now").
fn read_timevals(
    k: &mut Kernel,
    tid: Tid,
    addr: u64,
) -> Result<Option<[(i64, i64); 2]>, super::SysErr> {
    let Some(mut t) = read_time_pairs(k, tid, addr)? else {
        return Ok(None);
    };
    for v in t.iter_mut() {
        if !(0..1_000_000).contains(&v.1) {
            return Err(Errno::EINVAL.into());
        }
        v.1 *= 1000;
    }
    Ok(Some(t))
}

/// The common part of utimensat, utimes, futimesat and utime: `path` (a user pointer; 0
/// means the file `dirfd` itself) relative to `dirfd`, and (sec, nsec) access and
/// modification times with UTIME_NOW/UTIME_OMIT, or None for "both now".
fn set_times(
    k: &mut Kernel,
    tid: Tid,
    dirfd: u64,
    path: u64,
    times: Option<[(i64, i64); 2]>,
    follow: bool,
) -> SysResult {
    let ctx = path_ctx(k, tid);
    let inode = if path == 0 {
        get_file(k, tid, dirfd)?
            .inode
            .clone()
            .ok_or(Errno::EINVAL)?
    } else {
        let path = read_path(k, tid, path)?;
        let start = dirfd_start(k, tid, dirfd as i32, &path)?;
        vfs::resolve(k, &ctx, start, &path, follow)?
    };
    let now = Time::now();
    let mut out = [None, None];
    // Both "now" (NULL or UTIME_NOW twice) needs only write access; anything else ownership.
    let only_now = times.is_none_or(|t| t[0].1 == UTIME_NOW && t[1].1 == UTIME_NOW);
    match times {
        None => out = [Some(now), Some(now)],
        Some(t) => {
            for (o, (sec, nsec)) in out.iter_mut().zip(t) {
                *o = match nsec {
                    UTIME_NOW => Some(now),
                    UTIME_OMIT => None,
                    n if (0..1_000_000_000).contains(&n) => Some(Time { sec, nsec }),
                    _ => return Err(Errno::EINVAL.into()),
                };
            }
        }
    }
    if out == [None, None] {
        return Ok(0);
    }
    if inode.readonly.get() {
        return Err(Errno::EROFS.into());
    }
    let owner = inode.meta.borrow().uid == ctx.creds.fsuid || ctx.creds.has_cap(vfs::CAP_FOWNER);
    if !owner {
        // Setting explicit times needs ownership; "now" also works with write access.
        if !only_now {
            return Err(Errno::EPERM.into());
        }
        if !may_access(&inode.meta.borrow(), &ctx.creds, MAY_WRITE) {
            return Err(Errno::EACCES.into());
        }
    }
    let (at, mt) = (out[0], out[1]);
    {
        let m = inode.meta.borrow();
        hostops::set_times(&inode, at.unwrap_or(m.atime), mt.unwrap_or(m.mtime))?;
    }
    let mut m = inode.meta.borrow_mut();
    if let Some(t) = at {
        m.atime = t;
    }
    if let Some(t) = mt {
        m.mtime = t;
    }
    m.ctime = now;
    drop(m);
    crate::fs::inotify::on_attrib(&inode);
    Ok(0)
}

pub fn sys_chdir(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let path = read_path(k, tid, a[0])?;
    let ctx = path_ctx(k, tid);
    let inode = vfs::resolve(k, &ctx, None, &path, true)?;
    if !inode.is_dir() {
        return Err(Errno::ENOTDIR.into());
    }
    if !may_access(&inode.meta.borrow(), &ctx.creds, MAY_EXEC) {
        return Err(Errno::EACCES.into());
    }
    k.proc_of_mut(tid).cwd = inode;
    Ok(0)
}

pub fn sys_fchdir(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    let inode = f.inode.clone().ok_or(Errno::ENOTDIR)?;
    if !inode.is_dir() {
        return Err(Errno::ENOTDIR.into());
    }
    k.proc_of_mut(tid).cwd = inode;
    Ok(0)
}

pub fn sys_getcwd(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let cwd = k.proc_of(tid).cwd.clone();
    if cwd.is_dead_dir() {
        return Err(Errno::ENOENT.into());
    }
    let mut p = cwd.path();
    p.push(0);
    if p.len() > a[1] as usize {
        return Err(Errno::ERANGE.into());
    }
    k.mem_of(tid)?.write(a[0], &p)?;
    Ok(p.len() as i64)
}

pub fn sys_truncate(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let path = read_path(k, tid, a[0])?;
    let ctx = path_ctx(k, tid);
    let inode = vfs::resolve(k, &ctx, None, &path, true)?;
    if inode.is_dir() {
        return Err(Errno::EISDIR.into());
    }
    if !matches!(inode.kind, InodeKind::File(_)) || (a[1] as i64) < 0 {
        return Err(Errno::EINVAL.into());
    }
    if inode.readonly.get() {
        return Err(Errno::EROFS.into());
    }
    if !may_access(&inode.meta.borrow(), &ctx.creds, MAY_WRITE) {
        return Err(Errno::EACCES.into());
    }
    let old = inode.size();
    super::file::fsize_check_grow(k, tid, old, a[1])?;
    overlay::truncate(&inode, a[1])?;
    super::mm::after_truncate(k, tid, &inode, old);
    crate::fs::inotify::on_modify_inode(&inode);
    Ok(0)
}

fn mknod_impl(
    k: &mut Kernel,
    tid: Tid,
    dirfd: i32,
    path_addr: u64,
    mode: u32,
    dev: u64,
) -> SysResult {
    // The file type is checked before the path is looked at (may_mknod).
    match mode & libc::S_IFMT {
        0 | libc::S_IFREG | libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO | libc::S_IFSOCK => {}
        libc::S_IFDIR => return Err(Errno::EPERM.into()),
        _ => return Err(Errno::EINVAL.into()),
    }
    let path = read_path(k, tid, path_addr)?;
    let start = dirfd_start(k, tid, dirfd, &path)?;
    let ctx = path_ctx(k, tid);
    let (dir, name) = vfs::resolve_parent(k, &ctx, start, &path)?;
    if name.is_empty() || name == b"." || name == b".." {
        return Err(Errno::EEXIST.into());
    }
    if !matches!(dir.kind, InodeKind::Dir(_)) {
        return Err(Errno::EACCES.into());
    }
    if dir_entry(&dir, &name)?.is_some() {
        return Err(Errno::EEXIST.into());
    }
    check_dir_write(&dir, &ctx)?;
    let umask = k.proc_of(tid).umask;
    let perm = mode & 0o7777 & !umask;
    let (fmt, kind) = match mode & libc::S_IFMT {
        0 | libc::S_IFREG => (
            libc::S_IFREG,
            InodeKind::File(RefCell::new(FileData::Mem(Vec::new()))),
        ),
        libc::S_IFIFO => (libc::S_IFIFO, InodeKind::Fifo(RefCell::new(None))),
        libc::S_IFSOCK => (libc::S_IFSOCK, InodeKind::Socket(Default::default())),
        libc::S_IFCHR => {
            if !ctx.creds.has_cap(27) {
                return Err(Errno::EPERM.into());
            }
            let (ma, mi) = (crate::vfs::inode::major(dev), crate::vfs::inode::minor(dev));
            match crate::vfs::DevKind::from_rdev(ma, mi) {
                Some(d) => (libc::S_IFCHR, InodeKind::Device(d)),
                None => return Err(Errno::EPERM.into()),
            }
        }
        _ => return Err(Errno::EPERM.into()),
    };
    let (gid, mode) = new_owner(&dir, &ctx.creds, fmt | perm);
    let mut meta = Meta::new(mode, ctx.creds.fsuid, gid);
    meta.rdev = dev;
    let inode = Inode::new(dir.dev, meta, kind);
    if fmt == libc::S_IFIFO {
        hostops::mkfifo(&dir, &name, perm)?;
        inode.writethrough.set(dir.writethrough.get());
    }
    dir.link_child(&name, inode)?;
    Ok(0)
}

pub fn sys_mknodat(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    mknod_impl(k, tid, a[0] as i32, a[1], a[2] as u32, a[3])
}
pub fn sys_mknod(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    mknod_impl(k, tid, libc::AT_FDCWD, a[0], a[1] as u32, a[2])
}

pub fn sys_umask(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let p = k.proc_of_mut(tid);
    let old = p.umask;
    p.umask = a[0] as u32 & 0o777;
    Ok(old as i64)
}

fn fill_statfs(k: &Kernel, tid: Tid, inode: &Inode, addr: u64) -> SysResult {
    let f_type: u64 = match inode.dev {
        crate::fs::DEV_PROC => 0x9fa0,
        crate::fs::DEV_SYSFS => 0x62656572,
        crate::fs::DEV_ROOT => 0x794c7630, // overlayfs
        _ => 0x01021994,                   // tmpfs
    };
    let flags: u64 = if inode.readonly.get() {
        libc::ST_RDONLY
    } else {
        0
    };
    let (blocks, free) = crate::fs::quota::usage(inode.dev).unwrap_or((1 << 20, 1 << 19));
    // struct statfs: type bsize blocks bfree bavail files ffree fsid namelen frsize flags spare[4]
    let words: [u64; 15] = [
        f_type,
        4096,
        blocks,
        free,
        free,
        1 << 20,
        1 << 19,
        0,
        255,
        4096,
        flags,
        0,
        0,
        0,
        0,
    ];
    let mut b = Vec::with_capacity(120);
    for w in words {
        b.extend_from_slice(&w.to_le_bytes());
    }
    k.mem_of(tid)?.write(addr, &b)?;
    Ok(0)
}

pub fn sys_statfs(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let path = read_path(k, tid, a[0])?;
    let ctx = path_ctx(k, tid);
    let inode = vfs::resolve(k, &ctx, None, &path, true)?;
    fill_statfs(k, tid, &inode, a[1])
}

pub fn sys_fstatfs(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let f = get_file(k, tid, a[0])?;
    match f.inode.clone() {
        Some(i) => fill_statfs(k, tid, &i, a[1]),
        None => {
            let tmp = Inode::new_dir(crate::fs::DEV_PIPE, 0o755, 0, 0);
            fill_statfs(k, tid, &tmp, a[1])
        }
    }
}

pub fn sys_chroot(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let path = read_path(k, tid, a[0])?;
    let ctx = path_ctx(k, tid);
    if !ctx.creds.has_cap(18) {
        return Err(Errno::EPERM.into());
    }
    let inode = vfs::resolve(k, &ctx, None, &path, true)?;
    if !inode.is_dir() {
        return Err(Errno::ENOTDIR.into());
    }
    k.proc_of_mut(tid).root = inode;
    Ok(0)
}

/// The group and mode a new inode in `dir` gets (Linux's inode_init_owner): the creator's
/// fsgid, or the directory's group when the directory is set-group-ID; there a new directory
/// inherits the bit, and a new group-executable file keeps S_ISGID only if its creator is in
/// that group or holds CAP_FSETID.
pub fn new_owner(dir: &Inode, creds: &crate::vfs::Creds, mode: u32) -> (u32, u32) {
    if dir.mode() & libc::S_ISGID == 0 {
        return (creds.fsgid, mode);
    }
    let gid = dir.meta.borrow().gid;
    let mut mode = mode;
    if mode & libc::S_IFMT == libc::S_IFDIR {
        mode |= libc::S_ISGID;
    } else if mode & (libc::S_ISGID | libc::S_IXGRP) == libc::S_ISGID | libc::S_IXGRP
        && !creds.in_group(gid)
        && !creds.has_cap(vfs::CAP_FSETID)
    {
        mode &= !libc::S_ISGID;
    }
    (gid, mode)
}
