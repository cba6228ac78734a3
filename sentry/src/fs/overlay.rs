//! The rootfs overlay: a read-only host directory tree (the bundle's rootfs, reached only
//! through directory fds) under an in-memory upper layer.
//!
//! A directory imports its host entries the first time it is looked into; after that the
//! in-memory entry map is the truth, so deletions and renames need no whiteouts. A regular
//! file reads from the host until it is first written, when it is copied up into memory.
//! Every host open uses O_NOFOLLOW relative to a directory fd; no host path string is opened.

use crate::errno::Errno;
use crate::vfs::inode::{makedev, DirData, FileData, Inode, InodeKind, Meta, SymlinkData};
use crate::vfs::Time;
use std::cell::RefCell;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;

/// A name inside a host directory, reached through that directory's fd.
#[derive(Debug, Clone)]
pub struct HostLink {
    pub dir: Rc<OwnedFd>,
    pub name: CString,
}

impl HostLink {
    fn open(&self, flags: i32) -> Result<OwnedFd, Errno> {
        // SAFETY: openat on a directory fd we own with a NUL-terminated name.
        let fd = unsafe {
            libc::openat(
                self.dir.as_raw_fd(),
                self.name.as_ptr(),
                flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(Errno::last());
        }
        // SAFETY: fd was just returned by openat and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

fn time(sec: i64, nsec: i64) -> Time {
    Time { sec, nsec }
}

pub fn meta_from_stat(st: &libc::stat) -> Meta {
    Meta {
        mode: st.st_mode,
        uid: st.st_uid,
        gid: st.st_gid,
        nlink: st.st_nlink,
        size: st.st_size as u64,
        rdev: st.st_rdev,
        atime: time(st.st_atime, st.st_atime_nsec),
        mtime: time(st.st_mtime, st.st_mtime_nsec),
        ctime: time(st.st_ctime, st.st_ctime_nsec),
    }
}

fn fstat(fd: RawFd) -> Result<libc::stat, Errno> {
    // SAFETY: st is a valid out buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat on an fd we own.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(Errno::last());
    }
    Ok(st)
}

/// Makes the root inode of an overlay whose lower layer is the host directory `root`.
pub fn new_root(
    root: OwnedFd,
    readonly: bool,
    writethrough: bool,
    dev: u64,
) -> Result<Rc<Inode>, Errno> {
    let st = fstat(root.as_raw_fd())?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    let root = Rc::new(root);
    let inode = Inode::new(
        dev,
        meta_from_stat(&st),
        InodeKind::Dir(RefCell::new(DirData {
            entries: Default::default(),
            lower: Some(HostLink {
                dir: root,
                name: CString::new(".").unwrap_or_default(),
            }),
            host: None,
        })),
    );
    inode.readonly.set(readonly);
    inode.writethrough.set(writethrough && !readonly);
    Ok(inode)
}

/// A lone host regular file (a file bind mount): `name` in the host directory `dir`. Unless
/// read-only it is write-through, so writes land in the host file.
pub fn host_file(
    dir: OwnedFd,
    name: CString,
    readonly: bool,
    dev: u64,
) -> Result<Rc<Inode>, Errno> {
    // SAFETY: st is a valid out buffer, name NUL-terminated, dir a directory fd we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: see above.
    let rc = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        return Err(Errno::last());
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(Errno::EINVAL);
    }
    let link = HostLink {
        dir: Rc::new(dir),
        name,
    };
    let inode = Inode::new(
        dev,
        meta_from_stat(&st),
        InodeKind::File(RefCell::new(FileData::Host(link))),
    );
    inode.readonly.set(readonly);
    inode.writethrough.set(!readonly);
    Ok(inode)
}

/// Imports the host entries of `dir` if that has not happened yet.
pub fn populate(dir: &Rc<Inode>) -> Result<(), Errno> {
    let InodeKind::Dir(d) = &dir.kind else {
        return Ok(());
    };
    let Some(link) = d.borrow_mut().lower.take() else {
        return Ok(());
    };
    let dfd = Rc::new(link.open(libc::O_PATH | libc::O_DIRECTORY)?);
    let names = list_host_dir(&dfd)?;
    d.borrow_mut().host = Some(dfd.clone());
    let mut children = Vec::with_capacity(names.len());
    for name in names {
        if let Some(child) = host_child(dir, &dfd, &name) {
            children.push((name, child));
        }
    }
    for (name, child) in children {
        attach(dir, name, child);
    }
    Ok(())
}

/// Links `child` into `dir` as `name`, unless something is already there (entries mounted
/// over, inserted before population, win over host entries).
fn attach(dir: &Rc<Inode>, name: Vec<u8>, child: Rc<Inode>) {
    *child.parent.borrow_mut() = Rc::downgrade(dir);
    *child.name.borrow_mut() = name.clone();
    if let InodeKind::Dir(d) = &dir.kind {
        d.borrow_mut().entries.entry(name).or_insert(child);
    }
}

/// An inode for the host entry `name` of `dir` (whose host directory fd is `dfd`), or None
/// when it is gone.
fn host_child(dir: &Inode, dfd: &Rc<OwnedFd>, name: &[u8]) -> Option<Rc<Inode>> {
    let cname = CString::new(name).ok()?;
    let st = fstatat(dfd, &cname).ok()?;
    let hl = HostLink {
        dir: dfd.clone(),
        name: cname,
    };
    let meta = meta_from_stat(&st);
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => InodeKind::Dir(RefCell::new(DirData {
            entries: Default::default(),
            lower: Some(hl),
            host: None,
        })),
        libc::S_IFREG => InodeKind::File(RefCell::new(FileData::Host(hl))),
        libc::S_IFLNK => InodeKind::Symlink(RefCell::new(SymlinkData::Host(hl))),
        libc::S_IFCHR => {
            let (ma, mi) = (
                crate::vfs::inode::major(st.st_rdev),
                crate::vfs::inode::minor(st.st_rdev),
            );
            match crate::vfs::DevKind::from_rdev(ma, mi) {
                Some(k) => InodeKind::Device(k),
                None => InodeKind::Socket(Default::default()), // unknown devices cannot be opened
            }
        }
        libc::S_IFIFO => InodeKind::Fifo(RefCell::new(None)),
        _ => InodeKind::Socket(Default::default()),
    };
    let child = Inode::new(dir.dev, meta, kind);
    child.readonly.set(dir.readonly.get());
    child.writethrough.set(dir.writethrough.get());
    Some(child)
}

fn fstatat(dfd: &OwnedFd, name: &CString) -> Result<libc::stat, Errno> {
    // SAFETY: st is a valid out buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstatat relative to a directory fd we own, with a NUL-terminated name.
    let rc = unsafe {
        libc::fstatat(
            dfd.as_raw_fd(),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        return Err(Errno::last());
    }
    Ok(st)
}

/// A write-through directory is shared with the host and maybe with other sandboxes (a rw
/// bind mount, a pod's emptyDir): after its first import, a name it does not hold may have
/// been created there since. Looks `name` up on the host and imports it. None: not there.
pub fn revalidate_missing(dir: &Rc<Inode>, name: &[u8]) -> Option<Rc<Inode>> {
    if !dir.writethrough.get() || name.is_empty() || name.contains(&b'/') {
        return None;
    }
    let InodeKind::Dir(d) = &dir.kind else {
        return None;
    };
    let dfd = d.borrow().host.clone()?;
    let child = host_child(dir, &dfd, name)?;
    attach(dir, name.to_vec(), child.clone());
    Some(child)
}

/// Whether `child` of a write-through directory stands for a host entry (rather than a mount
/// or an in-memory file).
fn host_backed(dir: &Inode, child: &Inode) -> bool {
    if child.dev != dir.dev {
        return false; // something mounted here
    }
    match &child.kind {
        InodeKind::File(f) => {
            matches!(&*f.borrow(), FileData::Host(_)) || child.mirror.borrow().is_some()
        }
        InodeKind::Dir(cd) => {
            let cd = cd.borrow();
            cd.lower.is_some() || cd.host.is_some()
        }
        InodeKind::Symlink(s) => matches!(&*s.borrow(), SymlinkData::Host(_)),
        _ => true,
    }
}

/// Brings a populated write-through directory in line with the host before it is listed:
/// imports names created there since and drops host entries removed there. Entries whose
/// host file still exists keep their inode (open files, cached data).
pub fn refresh(dir: &Rc<Inode>) -> Result<(), Errno> {
    if !dir.writethrough.get() {
        return Ok(());
    }
    let InodeKind::Dir(d) = &dir.kind else {
        return Ok(());
    };
    let Some(dfd) = d.borrow().host.clone() else {
        return populate(dir);
    };
    let names: std::collections::BTreeSet<Vec<u8>> = list_host_dir(&dfd)?.into_iter().collect();
    let gone: Vec<Vec<u8>> = d
        .borrow()
        .entries
        .iter()
        .filter(|(n, c)| !names.contains(*n) && host_backed(dir, c))
        .map(|(n, _)| n.clone())
        .collect();
    for n in gone {
        d.borrow_mut().entries.remove(&n);
    }
    let new: Vec<Vec<u8>> = names
        .into_iter()
        .filter(|n| !d.borrow().entries.contains_key(n))
        .collect();
    for n in new {
        if let Some(child) = host_child(dir, &dfd, &n) {
            attach(dir, n, child);
        }
    }
    Ok(())
}

/// Checks an entry `child` (named `name`) of a write-through directory against the host:
/// gone there, it is dropped (None); a regular file gets its attributes refreshed (the host
/// or another sandbox may have written it).
pub fn revalidate_hit(dir: &Rc<Inode>, name: &[u8], child: Rc<Inode>) -> Option<Rc<Inode>> {
    if !dir.writethrough.get() || !host_backed(dir, &child) {
        return Some(child);
    }
    let InodeKind::Dir(d) = &dir.kind else {
        return Some(child);
    };
    let Some(dfd) = d.borrow().host.clone() else {
        return Some(child);
    };
    let Ok(cname) = CString::new(name) else {
        return Some(child);
    };
    match fstatat(&dfd, &cname) {
        Ok(st) => {
            if st.st_mode & libc::S_IFMT == libc::S_IFREG {
                if let InodeKind::File(f) = &child.kind {
                    if matches!(&*f.borrow(), FileData::Host(_)) {
                        let mut m = child.meta.borrow_mut();
                        m.size = st.st_size as u64;
                        m.mtime = time(st.st_mtime, st.st_mtime_nsec);
                        m.ctime = time(st.st_ctime, st.st_ctime_nsec);
                        m.atime = time(st.st_atime, st.st_atime_nsec);
                    }
                }
            }
            Some(child)
        }
        Err(Errno::ENOENT) => {
            d.borrow_mut().entries.remove(name);
            None
        }
        Err(_) => Some(child),
    }
}

fn list_host_dir(dfd: &OwnedFd) -> Result<Vec<Vec<u8>>, Errno> {
    // SAFETY: openat with a constant NUL-terminated path relative to our O_PATH dir fd.
    let fd = unsafe {
        libc::openat(
            dfd.as_raw_fd(),
            c".".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
        )
    };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: fresh fd from openat.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut names = Vec::new();
    let mut buf = vec![0u8; 32768];
    loop {
        // SAFETY: buf is valid for buf.len() bytes.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                fd.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        if n < 0 {
            return Err(Errno::last());
        }
        if n == 0 {
            break;
        }
        let mut off = 0usize;
        while off + 19 <= n as usize {
            let reclen = u16::from_le_bytes([buf[off + 16], buf[off + 17]]) as usize;
            if reclen == 0 {
                break;
            }
            let name = &buf[off + 19..off + reclen];
            let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
            let name = &name[..end];
            if name != b"." && name != b".." {
                names.push(name.to_vec());
            }
            off += reclen;
        }
    }
    Ok(names)
}

/// Reads file data at `off`.
pub fn read_file(inode: &Inode, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    let InodeKind::File(f) = &inode.kind else {
        return Err(Errno::EINVAL);
    };
    match &*f.borrow() {
        FileData::Mem(v) => {
            if off >= v.len() as u64 {
                return Ok(0);
            }
            let start = off as usize;
            let n = buf.len().min(v.len() - start);
            buf[..n].copy_from_slice(&v[start..start + n]);
            Ok(n)
        }
        FileData::Paged(w) => {
            let size = inode.meta.borrow().size;
            if off >= size {
                return Ok(0);
            }
            let n = buf.len().min((size - off) as usize);
            w.read(off, &mut buf[..n])
        }
        FileData::Host(link) => {
            let fd = host_read_fd(inode, link)?;
            // SAFETY: buf valid for its length; fd is a host fd we own.
            let n = unsafe { libc::pread(fd, buf.as_mut_ptr() as *mut _, buf.len(), off as i64) };
            if n < 0 {
                return Err(Errno::last());
            }
            Ok(n as usize)
        }
    }
}

thread_local! {
    /// Cache of read-only host fds for lower files, keyed by inode number; bounded.
    static HOST_FDS: RefCell<std::collections::HashMap<u64, OwnedFd>> = RefCell::new(Default::default());
}

fn host_read_fd(inode: &Inode, link: &HostLink) -> Result<RawFd, Errno> {
    HOST_FDS.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(fd) = c.get(&inode.ino) {
            return Ok(fd.as_raw_fd());
        }
        if c.len() > 256 {
            c.clear();
        }
        let fd = link.open(libc::O_RDONLY)?;
        let raw = fd.as_raw_fd();
        c.insert(inode.ino, fd);
        Ok(raw)
    })
}

thread_local! {
    /// Read-write host fds of write-through files, keyed by inode number; bounded.
    static HOST_RW_FDS: RefCell<std::collections::HashMap<u64, OwnedFd>> = RefCell::new(Default::default());
}

fn host_rw_fd(inode: &Inode, link: &HostLink) -> Result<RawFd, Errno> {
    if !inode.writethrough.get() {
        return Err(Errno::EROFS);
    }
    HOST_RW_FDS.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(fd) = c.get(&inode.ino) {
            return Ok(fd.as_raw_fd());
        }
        if c.len() > 256 {
            c.clear();
        }
        let fd = link.open(libc::O_RDWR)?;
        let raw = fd.as_raw_fd();
        c.insert(inode.ino, fd);
        Ok(raw)
    })
}

/// Writes a mapped write-through file's pages back to the host (msync, close).
pub fn sync_mirror(inode: &Inode) {
    let InodeKind::File(f) = &inode.kind else {
        return;
    };
    let FileData::Paged(w) = &*f.borrow() else {
        return;
    };
    let Some(link) = inode.mirror.borrow().clone() else {
        return;
    };
    let Ok(fd) = host_rw_fd(inode, &link) else {
        return;
    };
    let size = inode.meta.borrow().size;
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0u64;
    while off < size {
        let n = (size - off).min(buf.len() as u64) as usize;
        let Ok(got) = w.read(off, &mut buf[..n]) else {
            return;
        };
        if got == 0 {
            break;
        }
        // SAFETY: buf[..got] is valid; fd is a host fd we own.
        unsafe { libc::pwrite(fd, buf.as_ptr() as *const _, got, off as i64) };
        off += got as u64;
    }
}

/// Closes every cached host fd. A pod's app container that ended must leave no fd into its
/// rootfs, or the host cannot unmount it (containerd deletes the task right away).
pub fn forget_host_fds() {
    HOST_FDS.with(|c| c.borrow_mut().clear());
    HOST_RW_FDS.with(|c| c.borrow_mut().clear());
    crate::kernel::note_host_fd_closed();
}

/// Drops the cached host fd of an inode (after copy-up).
fn forget_host_fd(ino: u64) {
    HOST_FDS.with(|c| {
        c.borrow_mut().remove(&ino);
    });
}

/// Copies a lower file into memory so it can be written.
pub fn copy_up(inode: &Inode) -> Result<(), Errno> {
    let InodeKind::File(f) = &inode.kind else {
        return Err(Errno::EINVAL);
    };
    if !matches!(&*f.borrow(), FileData::Host(_)) || inode.writethrough.get() {
        return Ok(());
    }
    if inode.meta.borrow().size > MEM_FILE_MAX {
        // A large lower file goes straight into the (sparse) memory file.
        return make_paged(inode).map(|_| ());
    }
    let size = inode.meta.borrow().size as usize;
    let mut data = vec![0u8; size];
    let mut off = 0;
    while off < size {
        let n = read_file(inode, off as u64, &mut data[off..])?;
        if n == 0 {
            break;
        }
        off += n;
    }
    data.truncate(off);
    *f.borrow_mut() = FileData::Mem(data);
    forget_host_fd(inode.ino);
    Ok(())
}

/// Writes file data at `off`, copying the file up first.
pub fn write_file(inode: &Inode, off: u64, data: &[u8]) -> Result<usize, Errno> {
    copy_up(inode)?;
    let InodeKind::File(f) = &inode.kind else {
        return Err(Errno::EINVAL);
    };
    let end = off.checked_add(data.len() as u64).ok_or(Errno::EFBIG)?;
    if end > (1 << 34) {
        return Err(Errno::EFBIG);
    }
    page_if_large(inode, end)?;
    let mut f = f.borrow_mut();
    if let FileData::Host(link) = &*f {
        // Write-through file: straight to the host file.
        let fd = host_rw_fd(inode, link)?;
        let mut done = 0;
        while done < data.len() {
            // SAFETY: data[done..] is valid; fd is a host fd we own.
            let r = unsafe {
                libc::pwrite(
                    fd,
                    data[done..].as_ptr() as *const _,
                    data.len() - done,
                    (off + done as u64) as i64,
                )
            };
            if r < 0 {
                return Err(Errno::last());
            }
            done += r as usize;
        }
        drop(f);
        let mut m = inode.meta.borrow_mut();
        m.size = m.size.max(end);
        let now = Time::now();
        m.mtime = now;
        m.ctime = now;
        return Ok(done);
    }
    // A size-limited tmpfs may take only part of the data (or none: ENOSPC).
    let end = crate::fs::quota::charge_to(inode.dev, &inode.quota_pages, off, end)?;
    let data = &data[..(end - off) as usize];
    if let FileData::Paged(w) = &*f {
        w.write(off, data)?;
        if let Some(link) = inode.mirror.borrow().as_ref() {
            // A write-through file that is also mapped: keep the host copy current.
            let fd = host_rw_fd(inode, link)?;
            // SAFETY: data is valid; fd is a host fd we own.
            unsafe { libc::pwrite(fd, data.as_ptr() as *const _, data.len(), off as i64) };
        }
        drop(f);
        let mut m = inode.meta.borrow_mut();
        m.size = m.size.max(end);
        let now = Time::now();
        m.mtime = now;
        m.ctime = now;
        return Ok(data.len());
    }
    let FileData::Mem(v) = &mut *f else {
        return Err(Errno::EIO);
    };
    if v.len() < end as usize {
        v.resize(end as usize, 0);
    }
    v[off as usize..end as usize].copy_from_slice(data);
    let len = v.len() as u64;
    drop(f);
    let mut m = inode.meta.borrow_mut();
    m.size = len;
    let now = Time::now();
    m.mtime = now;
    m.ctime = now;
    Ok(data.len())
}

pub fn truncate(inode: &Inode, len: u64) -> Result<(), Errno> {
    if len > (1 << 34) {
        return Err(Errno::EFBIG);
    }
    copy_up(inode)?;
    let InodeKind::File(f) = &inode.kind else {
        return Err(Errno::EINVAL);
    };
    page_if_large(inode, len)?;
    crate::fs::quota::shrink_to(inode.dev, &inode.quota_pages, len);
    match &mut *f.borrow_mut() {
        FileData::Mem(v) => v.resize(len as usize, 0),
        FileData::Paged(w) => {
            if len > crate::mm::memfile::WINDOW {
                return Err(Errno::EFBIG);
            }
            if len < inode.meta.borrow().size {
                w.clear_from(len);
            }
        }
        FileData::Host(link) => {
            if inode.writethrough.get() {
                let fd = host_rw_fd(inode, link)?;
                // SAFETY: ftruncate of a host fd we own.
                if unsafe { libc::ftruncate(fd, len as i64) } != 0 {
                    return Err(Errno::last());
                }
            }
        }
    }
    if let Some(link) = inode.mirror.borrow().as_ref() {
        if let Ok(fd) = host_rw_fd(inode, link) {
            // SAFETY: ftruncate of a host fd we own.
            unsafe { libc::ftruncate(fd, len as i64) };
        }
    }
    let mut m = inode.meta.borrow_mut();
    m.size = len;
    let now = Time::now();
    m.mtime = now;
    m.ctime = now;
    Ok(())
}

/// Largest file kept as a plain buffer in sentry memory. A file that grows past it moves into
/// the sandbox memory file, which is sparse: a truncate or a write far past the end then
/// costs only the pages written, as on tmpfs, instead of a zero-filled buffer of the whole
/// length (a workload's ftruncate to gigabytes would otherwise grow the sentry by as much).
const MEM_FILE_MAX: u64 = 1 << 20;

/// Moves an in-memory file that is to reach `end` bytes into the memory file when that is
/// past MEM_FILE_MAX. Files in sentry memory can then be at most one window large (EFBIG).
fn page_if_large(inode: &Inode, end: u64) -> Result<(), Errno> {
    let InodeKind::File(f) = &inode.kind else {
        return Ok(());
    };
    if end <= MEM_FILE_MAX || !matches!(&*f.borrow(), FileData::Mem(_)) {
        return Ok(());
    }
    if end > crate::mm::memfile::WINDOW {
        return Err(Errno::EFBIG);
    }
    make_paged(inode).map(|_| ())
}

/// Zeroes bytes `from..to` of a file's data (fallocate's PUNCH_HOLE and ZERO_RANGE) without
/// growing it; pages of a paged file are freed, not written.
pub fn zero_range(inode: &Inode, from: u64, to: u64) -> Result<(), Errno> {
    copy_up(inode)?;
    let InodeKind::File(f) = &inode.kind else {
        return Err(Errno::EINVAL);
    };
    let size = inode.size();
    let to = to.min(size);
    if from >= to {
        return Ok(());
    }
    let host = match &mut *f.borrow_mut() {
        FileData::Mem(v) => {
            v[from as usize..to as usize].fill(0);
            None
        }
        FileData::Paged(w) => {
            w.zero_range(from, to)?;
            inode.mirror.borrow().clone()
        }
        // copy_up left it on the host: a write-through file.
        FileData::Host(link) => Some(link.clone()),
    };
    if let Some(link) = host {
        let fd = host_rw_fd(inode, &link)?;
        // SAFETY: fallocate on a host fd we own.
        let r = unsafe {
            libc::fallocate(
                fd,
                libc::FALLOC_FL_ZERO_RANGE | libc::FALLOC_FL_KEEP_SIZE,
                from as i64,
                (to - from) as i64,
            )
        };
        if r != 0 {
            return Err(Errno::last());
        }
    }
    Ok(())
}

/// Moves a file's data into the sandbox memory file so it can be mapped into stubs.
/// Returns the window's offset in the memory file.
pub fn make_paged(inode: &Inode) -> Result<u64, Errno> {
    let InodeKind::File(f) = &inode.kind else {
        return Err(Errno::ENODEV);
    };
    if let FileData::Paged(w) = &*f.borrow() {
        return Ok(w.off);
    }
    let size = inode.size();
    if size > crate::mm::memfile::WINDOW {
        return Err(Errno::EFBIG);
    }
    let w = crate::mm::memfile::Window::alloc()?;
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0u64;
    while off < size {
        let n = read_file(inode, off, &mut buf)?;
        if n == 0 {
            break;
        }
        w.write(off, &buf[..n])?;
        off += n as u64;
    }
    let at = w.off;
    let old = std::mem::replace(&mut *f.borrow_mut(), FileData::Paged(w));
    if inode.writethrough.get() {
        if let FileData::Host(link) = old {
            *inode.mirror.borrow_mut() = Some(link);
        }
    }
    forget_host_fd(inode.ino);
    inode.meta.borrow_mut().size = off;
    Ok(at)
}

pub fn read_link(inode: &Inode) -> Result<Vec<u8>, Errno> {
    let InodeKind::Symlink(s) = &inode.kind else {
        return Err(Errno::EINVAL);
    };
    let target = match &*s.borrow() {
        SymlinkData::Mem(v) => return Ok(v.clone()),
        SymlinkData::Host(link) => {
            let mut buf = vec![0u8; 4096];
            // SAFETY: buf valid for its length; link.dir is a directory fd we own.
            let n = unsafe {
                libc::readlinkat(
                    link.dir.as_raw_fd(),
                    link.name.as_ptr(),
                    buf.as_mut_ptr() as *mut _,
                    buf.len(),
                )
            };
            if n < 0 {
                return Err(Errno::last());
            }
            buf.truncate(n as usize);
            buf
        }
    };
    *s.borrow_mut() = SymlinkData::Mem(target.clone());
    Ok(target)
}

pub fn new_mem_file(dev: u64, mode: u32, uid: u32, gid: u32) -> Rc<Inode> {
    Inode::new(
        dev,
        Meta::new(libc::S_IFREG | (mode & 0o7777), uid, gid),
        InodeKind::File(RefCell::new(FileData::Mem(Vec::new()))),
    )
}

pub fn new_symlink(dev: u64, target: &[u8], uid: u32, gid: u32) -> Rc<Inode> {
    let mut m = Meta::new(libc::S_IFLNK | 0o777, uid, gid);
    m.size = target.len() as u64;
    Inode::new(
        dev,
        m,
        InodeKind::Symlink(RefCell::new(SymlinkData::Mem(target.to_vec()))),
    )
}

/// Device number encoding used for st_rdev of sentry devices.
pub fn rdev(major: u64, minor: u64) -> u64 {
    makedev(major, minor)
}
