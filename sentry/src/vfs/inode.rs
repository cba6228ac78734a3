//! Inodes: one type for every filesystem, with the per-filesystem part in [`InodeKind`].

use super::Time;
use crate::errno::Errno;
use crate::fs::overlay::HostLink;
use crate::fs::procfs::ProcNode;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

#[derive(Debug, Clone)]
pub struct Meta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u64,
    pub size: u64,
    pub rdev: u64,
    pub atime: Time,
    pub mtime: Time,
    pub ctime: Time,
}

impl Meta {
    pub fn new(mode: u32, uid: u32, gid: u32) -> Meta {
        let now = Time::now();
        Meta {
            mode,
            uid,
            gid,
            nlink: 1,
            size: 0,
            rdev: 0,
            atime: now,
            mtime: now,
            ctime: now,
        }
    }
    pub fn file_type(&self) -> u32 {
        self.mode & libc::S_IFMT
    }
}

/// Character devices the sentry implements itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevKind {
    Null,
    Zero,
    Full,
    Random,
    Urandom,
    Tty,
    /// /dev/pts/ptmx, the pseudo-terminal multiplexer. The sentry has no pseudo-terminals
    /// yet: opening it fails with ENODEV (a terminal container uses the host's pty).
    Ptmx,
    /// A `linux.devices` node for hardware the sandbox has no driver for (its numbers are
    /// in the inode's rdev): open fails with ENXIO.
    Unbacked,
}

impl DevKind {
    pub fn from_rdev(major: u64, minor: u64) -> Option<DevKind> {
        Some(match (major, minor) {
            (1, 3) => DevKind::Null,
            (1, 5) => DevKind::Zero,
            (1, 7) => DevKind::Full,
            (1, 8) => DevKind::Random,
            (1, 9) => DevKind::Urandom,
            (5, 0) => DevKind::Tty,
            (5, 2) => DevKind::Ptmx,
            _ => return None,
        })
    }
    pub fn rdev(self) -> (u64, u64) {
        match self {
            DevKind::Null => (1, 3),
            DevKind::Zero => (1, 5),
            DevKind::Full => (1, 7),
            DevKind::Random => (1, 8),
            DevKind::Urandom => (1, 9),
            DevKind::Tty => (5, 0),
            DevKind::Ptmx => (5, 2),
            DevKind::Unbacked => (0, 0),
        }
    }
}

pub fn makedev(major: u64, minor: u64) -> u64 {
    ((major & 0xfffff000) << 32)
        | ((major & 0xfff) << 8)
        | ((minor & 0xffffff00) << 12)
        | (minor & 0xff)
}

pub fn major(dev: u64) -> u64 {
    ((dev >> 32) & 0xfffff000) | ((dev >> 8) & 0xfff)
}

pub fn minor(dev: u64) -> u64 {
    ((dev >> 12) & 0xffffff00) | (dev & 0xff)
}

/// Directory contents. `lower` is a host directory whose entries have not been imported yet.
#[derive(Debug, Default)]
pub struct DirData {
    pub entries: BTreeMap<Vec<u8>, Rc<Inode>>,
    pub lower: Option<HostLink>,
    /// The host directory's own O_PATH fd, kept after import for write-through changes.
    pub host: Option<Rc<std::os::fd::OwnedFd>>,
}

/// Regular file contents: in sentry memory, or still only on the host (read-only lower).
#[derive(Debug)]
pub enum FileData {
    Mem(Vec<u8>),
    Host(HostLink),
    /// Pages in the sandbox memory file (the file is, or was, mapped into a stub).
    Paged(crate::mm::memfile::Window),
}

#[derive(Debug)]
pub enum SymlinkData {
    Mem(Vec<u8>),
    Host(HostLink),
}

#[derive(Debug)]
pub enum InodeKind {
    Dir(RefCell<DirData>),
    File(RefCell<FileData>),
    Symlink(RefCell<SymlinkData>),
    Device(DevKind),
    Fifo(RefCell<Option<Rc<RefCell<crate::fs::pipe::PipeBuf>>>>),
    /// A socket file; the slot names the AF_UNIX endpoint bound to it while it lives.
    Socket(crate::net::unix::BoundSlot),
    Proc(ProcNode),
}

#[derive(Debug)]
pub struct Inode {
    pub ino: u64,
    pub dev: u64,
    pub meta: RefCell<Meta>,
    pub kind: InodeKind,
    /// Directory tree links, kept for "..", getcwd and /proc/pid/cwd.
    pub parent: RefCell<Weak<Inode>>,
    pub name: RefCell<Vec<u8>>,
    /// The filesystem refuses writes (read-only rootfs or `ro` mount).
    pub readonly: Cell<bool>,
    /// Changes go to the host file system too (`--overlay=none`, rw bind mounts).
    pub writethrough: Cell<bool>,
    /// For a write-through file whose pages moved into the memory file: the host file to
    /// keep in step.
    pub mirror: RefCell<Option<HostLink>>,
    /// Extended attributes set inside the sandbox (kept in sentry memory).
    pub xattrs: RefCell<BTreeMap<Vec<u8>, Vec<u8>>>,
    /// An O_TMPFILE file opened without O_EXCL that has never been linked: linkat may give
    /// it a name although its link count is 0 (Linux's I_LINKABLE).
    pub linkable: Cell<bool>,
    /// Pages charged to a size-limited tmpfs for this file's data (fs::quota).
    pub quota_pages: Cell<u64>,
}

impl Drop for Inode {
    fn drop(&mut self) {
        // The file's data goes with it.
        crate::fs::quota::release(self.dev, self.quota_pages.get());
    }
}

thread_local! {
    static NEXT_INO: Cell<u64> = const { Cell::new(1000) };
}

pub fn next_ino() -> u64 {
    NEXT_INO.with(|n| {
        let v = n.get();
        n.set(v + 1);
        v
    })
}

impl Inode {
    pub fn new(dev: u64, meta: Meta, kind: InodeKind) -> Rc<Inode> {
        Rc::new(Inode {
            ino: next_ino(),
            dev,
            meta: RefCell::new(meta),
            kind,
            parent: RefCell::new(Weak::new()),
            name: RefCell::new(Vec::new()),
            readonly: Cell::new(false),
            writethrough: Cell::new(false),
            mirror: RefCell::new(None),
            xattrs: RefCell::new(BTreeMap::new()),
            linkable: Cell::new(false),
            quota_pages: Cell::new(0),
        })
    }

    pub fn new_dir(dev: u64, mode: u32, uid: u32, gid: u32) -> Rc<Inode> {
        let mut m = Meta::new(libc::S_IFDIR | (mode & 0o7777), uid, gid);
        m.nlink = 2;
        m.size = 4096;
        Inode::new(dev, m, InodeKind::Dir(RefCell::new(DirData::default())))
    }

    pub fn is_dir(&self) -> bool {
        matches!(self.kind, InodeKind::Dir(_))
            || matches!(&self.kind, InodeKind::Proc(p) if p.is_dir())
    }

    /// A directory that was removed (rmdir, or replaced by rename) while something still
    /// refers to it: nothing can be looked up or created in it any more.
    pub fn is_dead_dir(&self) -> bool {
        matches!(self.kind, InodeKind::Dir(_)) && self.meta.borrow().nlink == 0
    }

    pub fn is_symlink(&self) -> bool {
        self.meta.borrow().file_type() == libc::S_IFLNK
    }

    pub fn mode(&self) -> u32 {
        self.meta.borrow().mode
    }

    /// The directory this one hangs from ("/" is its own parent).
    pub fn parent_dir(self: &Rc<Self>) -> Rc<Inode> {
        self.parent
            .borrow()
            .upgrade()
            .unwrap_or_else(|| self.clone())
    }

    /// Inserts a child under `name`, wiring its tree links.
    pub fn link_child(self: &Rc<Self>, name: &[u8], child: Rc<Inode>) -> Result<(), Errno> {
        let InodeKind::Dir(d) = &self.kind else {
            return Err(Errno::ENOTDIR);
        };
        if child.is_dir() {
            *child.parent.borrow_mut() = Rc::downgrade(self);
            *child.name.borrow_mut() = name.to_vec();
            self.meta.borrow_mut().nlink += 1;
        } else if child.parent.borrow().upgrade().is_none() {
            *child.parent.borrow_mut() = Rc::downgrade(self);
            *child.name.borrow_mut() = name.to_vec();
        }
        d.borrow_mut().entries.insert(name.to_vec(), child.clone());
        crate::fs::inotify::on_create(self, name, &child);
        let now = Time::now();
        let mut m = self.meta.borrow_mut();
        m.mtime = now;
        m.ctime = now;
        Ok(())
    }

    /// Absolute path of a directory, following tree links up to the root.
    pub fn path(self: &Rc<Self>) -> Vec<u8> {
        let mut parts = Vec::new();
        let mut cur = self.clone();
        for _ in 0..4096 {
            let parent = cur.parent.borrow().upgrade();
            match parent {
                Some(p) if !Rc::ptr_eq(&p, &cur) => {
                    parts.push(cur.name.borrow().clone());
                    cur = p;
                }
                _ => break,
            }
        }
        if parts.is_empty() {
            return b"/".to_vec();
        }
        let mut out = Vec::new();
        for p in parts.iter().rev() {
            out.push(b'/');
            out.extend_from_slice(p);
        }
        out
    }

    pub fn size(&self) -> u64 {
        match &self.kind {
            InodeKind::File(f) => match &*f.borrow() {
                FileData::Mem(v) => v.len() as u64,
                FileData::Host(_) | FileData::Paged(_) => self.meta.borrow().size,
            },
            _ => self.meta.borrow().size,
        }
    }

    pub fn touch_mtime(&self) {
        let now = Time::now();
        let mut m = self.meta.borrow_mut();
        m.mtime = now;
        m.ctime = now;
    }
}
