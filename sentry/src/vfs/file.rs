//! Open file descriptions and per-process fd tables.

use super::inode::{Inode, InodeKind};
use crate::errno::Errno;
use std::any::Any;
use std::cell::Cell;
use std::rc::Rc;

pub const POLLIN: u32 = 0x1;
pub const POLLPRI: u32 = 0x2;
pub const POLLOUT: u32 = 0x4;
pub const POLLERR: u32 = 0x8;
pub const POLLHUP: u32 = 0x10;
pub const POLLNVAL: u32 = 0x20;
pub const POLLRDNORM: u32 = 0x40;
pub const POLLWRNORM: u32 = 0x100;

/// What an open file can do. Reads and writes that would block return `EAGAIN`; the syscall
/// layer turns that into a wait unless the file is non-blocking.
pub trait FileOps: std::fmt::Debug {
    fn read(&self, _f: &OpenFile, _buf: &mut [u8], _off: Option<u64>) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }
    fn write(&self, _f: &OpenFile, _buf: &[u8], _off: Option<u64>) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }
    /// Current readiness (POLL* bits).
    fn poll(&self) -> u32 {
        POLLIN | POLLOUT
    }
    /// A counter that grows whenever new events happen on the object behind this file (data
    /// written into a pipe, bytes read out of it for the write end). Edge-triggered epoll
    /// reports a ready file again when this changes, as Linux does on every wake-up; files
    /// that keep 0 get edges only when readiness bits newly appear.
    fn event_seq(&self) -> u64 {
        0
    }
    /// Whether lseek/pread make sense.
    fn seekable(&self) -> bool {
        false
    }
    /// A host fd to watch when this file would block (stdio pipes and ttys).
    fn host_fd(&self) -> Option<i32> {
        None
    }
    fn ioctl(
        &self,
        _f: &OpenFile,
        _req: u64,
        _arg: u64,
        _mem: &crate::mm::Mem,
    ) -> Result<i64, Errno> {
        Err(Errno::ENOTTY)
    }
    fn as_any(&self) -> &dyn Any;
}

/// An open file description, shared by dup'ed fds and across fork.
#[derive(Debug)]
pub struct OpenFile {
    /// Status flags (O_APPEND, O_NONBLOCK, ...) plus the access mode.
    pub flags: Cell<u32>,
    pub pos: Cell<u64>,
    /// The inode this was opened from, when there is one (fstat, fchdir, /proc/pid/fd).
    pub inode: Option<Rc<Inode>>,
    /// What /proc/pid/fd/N shows.
    pub path: Vec<u8>,
    pub ops: Box<dyn FileOps>,
}

impl OpenFile {
    pub fn new(
        flags: u32,
        inode: Option<Rc<Inode>>,
        path: Vec<u8>,
        ops: Box<dyn FileOps>,
    ) -> Rc<OpenFile> {
        Rc::new(OpenFile {
            flags: Cell::new(flags),
            pos: Cell::new(0),
            inode,
            path,
            ops,
        })
    }
    pub fn readable(&self) -> bool {
        let acc = self.flags.get() & libc::O_ACCMODE as u32;
        acc == libc::O_RDONLY as u32 || acc == libc::O_RDWR as u32
    }
    pub fn writable(&self) -> bool {
        let acc = self.flags.get() & libc::O_ACCMODE as u32;
        acc == libc::O_WRONLY as u32 || acc == libc::O_RDWR as u32
    }
    pub fn nonblocking(&self) -> bool {
        self.flags.get() & libc::O_NONBLOCK as u32 != 0
    }
    pub fn is_dir(&self) -> bool {
        self.inode
            .as_ref()
            .is_some_and(|i| matches!(i.kind, InodeKind::Dir(_)) || i.is_dir())
    }
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        // The last reference to the description: inotify's IN_CLOSE_*.
        crate::fs::inotify::on_close(self);
        // flock and OFD locks belong to the description and go with its last reference.
        if crate::vfs::locks::release_file(self as *const OpenFile as usize) {
            crate::kernel::timers::request_wake();
        }
    }
}

#[derive(Debug, Clone)]
pub struct FdEntry {
    pub file: Rc<OpenFile>,
    pub cloexec: bool,
}

/// A process's fd table.
#[derive(Debug, Clone, Default)]
pub struct FdTable {
    pub fds: Vec<Option<FdEntry>>,
    pub limit: usize,
}

impl FdTable {
    pub fn new(limit: usize) -> FdTable {
        FdTable {
            fds: Vec::new(),
            limit,
        }
    }

    pub fn get(&self, fd: i32) -> Result<Rc<OpenFile>, Errno> {
        if fd < 0 {
            return Err(Errno::EBADF);
        }
        self.fds
            .get(fd as usize)
            .and_then(|e| e.as_ref())
            .map(|e| e.file.clone())
            .ok_or(Errno::EBADF)
    }

    pub fn entry_mut(&mut self, fd: i32) -> Result<&mut FdEntry, Errno> {
        if fd < 0 {
            return Err(Errno::EBADF);
        }
        self.fds
            .get_mut(fd as usize)
            .and_then(|e| e.as_mut())
            .ok_or(Errno::EBADF)
    }

    /// Installs at the lowest free slot >= min.
    pub fn install(&mut self, file: Rc<OpenFile>, cloexec: bool, min: usize) -> Result<i32, Errno> {
        let mut i = min;
        while i < self.fds.len() && self.fds[i].is_some() {
            i += 1;
        }
        if i >= self.limit {
            return Err(Errno::EMFILE);
        }
        if i >= self.fds.len() {
            self.fds.resize(i + 1, None);
        }
        self.fds[i] = Some(FdEntry { file, cloexec });
        Ok(i as i32)
    }

    /// Installs at exactly `fd`, returning what was there.
    pub fn install_at(
        &mut self,
        fd: i32,
        file: Rc<OpenFile>,
        cloexec: bool,
    ) -> Result<Option<FdEntry>, Errno> {
        if fd < 0 || fd as usize >= self.limit {
            return Err(Errno::EBADF);
        }
        let i = fd as usize;
        if i >= self.fds.len() {
            self.fds.resize(i + 1, None);
        }
        Ok(self.fds[i].replace(FdEntry { file, cloexec }))
    }

    pub fn remove(&mut self, fd: i32) -> Result<FdEntry, Errno> {
        if fd < 0 {
            return Err(Errno::EBADF);
        }
        self.fds
            .get_mut(fd as usize)
            .and_then(|e| e.take())
            .ok_or(Errno::EBADF)
    }

    /// Closes the close-on-exec fds; returns them so the caller can do what a close does.
    pub fn close_on_exec(&mut self) -> Vec<FdEntry> {
        let mut closed = Vec::new();
        for e in self.fds.iter_mut() {
            if e.as_ref().is_some_and(|x| x.cloexec) {
                closed.extend(e.take());
            }
        }
        closed
    }

    pub fn open_fds(&self) -> impl Iterator<Item = (i32, &FdEntry)> {
        self.fds
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (i as i32, e)))
    }
}
