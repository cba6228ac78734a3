//! Write-through: namespace and attribute changes mirrored onto the host file system, for a
//! rootfs run with `--overlay=none` and for rw bind mounts. Every call names one component
//! relative to a directory fd and never follows a symlink on the host.

use crate::errno::Errno;
use crate::fs::overlay::{self, HostLink};
use crate::vfs::inode::{FileData, Inode, InodeKind, SymlinkData};
use crate::vfs::Time;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::rc::Rc;

fn check(r: i32) -> Result<(), Errno> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

fn cname(name: &[u8]) -> Result<CString, Errno> {
    if name.contains(&b'/') || name.is_empty() {
        return Err(Errno::EINVAL);
    }
    CString::new(name).map_err(|_| Errno::EINVAL)
}

/// The host directory fd of a write-through directory, or None when changes stay in memory.
pub fn dir_fd(dir: &Rc<Inode>) -> Result<Option<Rc<OwnedFd>>, Errno> {
    if !dir.writethrough.get() {
        return Ok(None);
    }
    overlay::populate(dir)?;
    let InodeKind::Dir(d) = &dir.kind else {
        return Err(Errno::ENOTDIR);
    };
    Ok(d.borrow().host.clone())
}

/// Where an inode lives on the host: its directory fd and name.
fn link_of(inode: &Inode) -> Option<HostLink> {
    if !inode.writethrough.get() {
        return None;
    }
    match &inode.kind {
        InodeKind::File(f) => match &*f.borrow() {
            FileData::Host(l) => Some(l.clone()),
            _ => inode.mirror.borrow().clone(),
        },
        InodeKind::Symlink(s) => match &*s.borrow() {
            SymlinkData::Host(l) => Some(l.clone()),
            SymlinkData::Mem(_) => None,
        },
        InodeKind::Dir(_) | InodeKind::Fifo(_) | InodeKind::Device(_) | InodeKind::Socket(_) => {
            let parent = inode.parent.borrow().upgrade()?;
            let InodeKind::Dir(pd) = &parent.kind else {
                return None;
            };
            let dir = pd.borrow().host.clone()?;
            let name = CString::new(inode.name.borrow().clone()).ok()?;
            Some(HostLink { dir, name })
        }
        InodeKind::Proc(_) => None,
    }
}

/// Creates a regular file on the host; returns the link for the new inode's data.
pub fn create_file(
    dir: &Rc<Inode>,
    name: &[u8],
    mode: u32,
    uid: u32,
    gid: u32,
) -> Result<Option<HostLink>, Errno> {
    let Some(dfd) = dir_fd(dir)? else {
        return Ok(None);
    };
    let n = cname(name)?;
    // SAFETY: openat relative to our directory fd with a NUL-terminated single component.
    let fd = unsafe {
        libc::openat(
            dfd.as_raw_fd(),
            n.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_RDWR | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            mode & 0o7777,
        )
    };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: fresh fd.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: fchownat on our fd with an empty path is not used; use fchownat by name, no follow.
    unsafe {
        libc::fchownat(
            dfd.as_raw_fd(),
            n.as_ptr(),
            uid,
            gid,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    drop(fd);
    Ok(Some(HostLink { dir: dfd, name: n }))
}

pub fn mkdir(
    dir: &Rc<Inode>,
    name: &[u8],
    mode: u32,
    uid: u32,
    gid: u32,
) -> Result<Option<HostLink>, Errno> {
    let Some(dfd) = dir_fd(dir)? else {
        return Ok(None);
    };
    let n = cname(name)?;
    // SAFETY: mkdirat/fchownat relative to our directory fd, single component.
    unsafe {
        check(libc::mkdirat(dfd.as_raw_fd(), n.as_ptr(), mode & 0o7777))?;
        libc::fchownat(
            dfd.as_raw_fd(),
            n.as_ptr(),
            uid,
            gid,
            libc::AT_SYMLINK_NOFOLLOW,
        );
    }
    Ok(Some(HostLink { dir: dfd, name: n }))
}

pub fn symlink(
    dir: &Rc<Inode>,
    name: &[u8],
    target: &[u8],
    uid: u32,
    gid: u32,
) -> Result<Option<HostLink>, Errno> {
    let Some(dfd) = dir_fd(dir)? else {
        return Ok(None);
    };
    let n = cname(name)?;
    let t = CString::new(target).map_err(|_| Errno::EINVAL)?;
    // SAFETY: symlinkat/fchownat relative to our directory fd, single component.
    unsafe {
        check(libc::symlinkat(t.as_ptr(), dfd.as_raw_fd(), n.as_ptr()))?;
        libc::fchownat(
            dfd.as_raw_fd(),
            n.as_ptr(),
            uid,
            gid,
            libc::AT_SYMLINK_NOFOLLOW,
        );
    }
    Ok(Some(HostLink { dir: dfd, name: n }))
}

pub fn mkfifo(dir: &Rc<Inode>, name: &[u8], mode: u32) -> Result<(), Errno> {
    let Some(dfd) = dir_fd(dir)? else {
        return Ok(());
    };
    let n = cname(name)?;
    // SAFETY: mknodat relative to our directory fd, single component.
    check(unsafe {
        libc::mknodat(
            dfd.as_raw_fd(),
            n.as_ptr(),
            libc::S_IFIFO | (mode & 0o7777),
            0,
        )
    })
}

pub fn unlink(dir: &Rc<Inode>, name: &[u8], is_dir: bool) -> Result<(), Errno> {
    let Some(dfd) = dir_fd(dir)? else {
        return Ok(());
    };
    let n = cname(name)?;
    let flags = if is_dir { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: unlinkat relative to our directory fd, single component.
    check(unsafe { libc::unlinkat(dfd.as_raw_fd(), n.as_ptr(), flags) })
}

/// Mirrors a rename; `moved` is the inode that now lives at (ndir, nname).
pub fn rename(
    odir: &Rc<Inode>,
    oname: &[u8],
    ndir: &Rc<Inode>,
    nname: &[u8],
    flags: u64,
    moved: &Inode,
) -> Result<(), Errno> {
    let (Some(ofd), Some(nfd)) = (dir_fd(odir)?, dir_fd(ndir)?) else {
        return Ok(());
    };
    let (on, nn) = (cname(oname)?, cname(nname)?);
    // SAFETY: renameat2 between two directory fds we own, single components.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            ofd.as_raw_fd(),
            on.as_ptr(),
            nfd.as_raw_fd(),
            nn.as_ptr(),
            flags as u32,
        )
    };
    if r < 0 {
        return Err(Errno::last());
    }
    // The moved file's data link now has a new name.
    let new_link = HostLink { dir: nfd, name: nn };
    match &moved.kind {
        InodeKind::File(f) => {
            if let FileData::Host(l) = &mut *f.borrow_mut() {
                *l = new_link.clone();
            }
            if moved.mirror.borrow().is_some() {
                *moved.mirror.borrow_mut() = Some(new_link);
            }
        }
        InodeKind::Symlink(s) => {
            if let SymlinkData::Host(l) = &mut *s.borrow_mut() {
                *l = new_link;
            }
        }
        InodeKind::Dir(d) => {
            let mut d = d.borrow_mut();
            if d.lower.is_some() {
                d.lower = Some(new_link);
            }
        }
        _ => {}
    }
    Ok(())
}

pub fn link(src: &Inode, ndir: &Rc<Inode>, nname: &[u8]) -> Result<(), Errno> {
    let Some(nfd) = dir_fd(ndir)? else {
        return Ok(());
    };
    let Some(l) = link_of(src) else {
        return Err(Errno::EXDEV);
    };
    let nn = cname(nname)?;
    // SAFETY: linkat between directory fds we own, no symlink following.
    check(unsafe {
        libc::linkat(
            l.dir.as_raw_fd(),
            l.name.as_ptr(),
            nfd.as_raw_fd(),
            nn.as_ptr(),
            0,
        )
    })
}

pub fn chmod(inode: &Inode, mode: u32) -> Result<(), Errno> {
    let Some(l) = link_of(inode) else {
        return Ok(());
    };
    if matches!(inode.kind, InodeKind::Symlink(_)) {
        return Ok(());
    }
    // Open without following, then change the object we opened.
    // SAFETY: openat relative to our directory fd; fchmod on the fd we got.
    unsafe {
        let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
        let fd = libc::openat(l.dir.as_raw_fd(), l.name.as_ptr(), flags);
        if fd < 0 {
            return Err(Errno::last());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        check(libc::fchmod(fd.as_raw_fd(), mode & 0o7777))
    }
}

pub fn chown(inode: &Inode, uid: u32, gid: u32) -> Result<(), Errno> {
    let Some(l) = link_of(inode) else {
        return Ok(());
    };
    // SAFETY: fchownat relative to our directory fd, no symlink following.
    check(unsafe {
        libc::fchownat(
            l.dir.as_raw_fd(),
            l.name.as_ptr(),
            uid,
            gid,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
}

pub fn set_times(inode: &Inode, atime: Time, mtime: Time) -> Result<(), Errno> {
    let Some(l) = link_of(inode) else {
        return Ok(());
    };
    let ts = [
        libc::timespec {
            tv_sec: atime.sec,
            tv_nsec: atime.nsec,
        },
        libc::timespec {
            tv_sec: mtime.sec,
            tv_nsec: mtime.nsec,
        },
    ];
    // SAFETY: utimensat relative to our directory fd, no symlink following.
    check(unsafe {
        libc::utimensat(
            l.dir.as_raw_fd(),
            l.name.as_ptr(),
            ts.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
}
