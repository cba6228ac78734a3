//! /dev: the character devices the sentry implements, and the devfs tree mounted at /dev.

use crate::errno::Errno;
use crate::fs::overlay;
use crate::vfs::file::{FileOps, OpenFile};
use crate::vfs::inode::{makedev, DevKind, Inode, InodeKind, Meta};
use std::any::Any;
use std::rc::Rc;

#[derive(Debug)]
pub struct DevFile {
    pub kind: DevKind,
}

pub fn fill_random(buf: &mut [u8]) {
    let mut off = 0;
    while off < buf.len() {
        // SAFETY: writes into buf[off..], valid for the given length.
        let n = unsafe { libc::getrandom(buf[off..].as_mut_ptr() as *mut _, buf.len() - off, 0) };
        if n <= 0 {
            break;
        }
        off += n as usize;
    }
}

impl FileOps for DevFile {
    fn read(&self, _f: &OpenFile, buf: &mut [u8], _off: Option<u64>) -> Result<usize, Errno> {
        match self.kind {
            DevKind::Null => Ok(0),
            DevKind::Zero | DevKind::Full => {
                buf.fill(0);
                Ok(buf.len())
            }
            DevKind::Random | DevKind::Urandom => {
                fill_random(buf);
                Ok(buf.len())
            }
            DevKind::Tty | DevKind::Ptmx | DevKind::Unbacked => Err(Errno::ENXIO),
        }
    }

    fn write(&self, _f: &OpenFile, buf: &[u8], _off: Option<u64>) -> Result<usize, Errno> {
        match self.kind {
            DevKind::Full => Err(Errno::ENOSPC),
            DevKind::Tty | DevKind::Ptmx | DevKind::Unbacked => Err(Errno::ENXIO),
            _ => Ok(buf.len()),
        }
    }

    fn seekable(&self) -> bool {
        true
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A /dev/null node, for masking a path (maskedPaths).
pub fn null_node() -> Rc<Inode> {
    dev_node(DevKind::Null)
}

fn dev_node(kind: DevKind) -> Rc<Inode> {
    let (ma, mi) = kind.rdev();
    let mut m = Meta::new(libc::S_IFCHR | 0o666, 0, 0);
    m.rdev = makedev(ma, mi);
    Inode::new(crate::fs::DEV_DEVFS, m, InodeKind::Device(kind))
}

/// A devpts file system (`/dev/pts`): its `ptmx` node, mode `ptmxmode=` (Linux's default
/// is 0000).
pub fn new_devpts(options: &[String]) -> Rc<Inode> {
    let dir = Inode::new_dir(crate::boot::next_dev(), 0o755, 0, 0);
    let mode = options
        .iter()
        .find_map(|o| o.strip_prefix("ptmxmode="))
        .and_then(|v| u32::from_str_radix(v, 8).ok())
        .unwrap_or(0)
        & 0o777;
    let (ma, mi) = DevKind::Ptmx.rdev();
    let mut m = Meta::new(libc::S_IFCHR | mode, 0, 0);
    m.rdev = makedev(ma, mi);
    let node = Inode::new(dir.dev, m, InodeKind::Device(DevKind::Ptmx));
    // A fresh directory has no entry of that name.
    let _ = dir.link_child(b"ptmx", node);
    dir
}

/// Builds the /dev tree: devices, /dev/pts, /dev/shm and the usual symlinks.
pub fn new_devfs() -> Result<Rc<Inode>, Errno> {
    let root = Inode::new_dir(crate::fs::DEV_DEVFS, 0o755, 0, 0);
    for (name, kind) in [
        ("null", DevKind::Null),
        ("zero", DevKind::Zero),
        ("full", DevKind::Full),
        ("random", DevKind::Random),
        ("urandom", DevKind::Urandom),
        ("tty", DevKind::Tty),
    ] {
        root.link_child(name.as_bytes(), dev_node(kind))?;
    }
    root.link_child(b"pts", Inode::new_dir(crate::fs::DEV_DEVFS, 0o755, 0, 0))?;
    root.link_child(b"shm", Inode::new_dir(crate::fs::DEV_TMPFS, 0o1777, 0, 0))?;
    root.link_child(
        b"mqueue",
        Inode::new_dir(crate::fs::DEV_TMPFS, 0o1777, 0, 0),
    )?;
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        root.link_child(
            name.as_bytes(),
            overlay::new_symlink(crate::fs::DEV_DEVFS, target.as_bytes(), 0, 0),
        )?;
    }
    Ok(root)
}
