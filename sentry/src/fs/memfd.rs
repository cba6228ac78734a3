//! memfd_create: an anonymous in-memory regular file (in no directory), with file seals.
//!
//! The data lives in an ordinary in-memory inode (overlay::new_mem_file), so read, write,
//! mmap, fstat and ftruncate work as for any file. Seals are kept with the file
//! description that memfd_create returned and enforced on writes and truncation made
//! through it; a second description opened through /proc/self/fd/N is an ordinary file.

use crate::errno::Errno;
use crate::fs::overlay;
use crate::vfs::file::{FileOps, OpenFile};
use crate::vfs::inode::Inode;
use std::any::Any;
use std::cell::Cell;
use std::rc::Rc;

pub const MFD_CLOEXEC: u32 = 0x1;
pub const MFD_ALLOW_SEALING: u32 = 0x2;
pub const MFD_HUGETLB: u32 = 0x4;
pub const MFD_NOEXEC_SEAL: u32 = 0x8;
pub const MFD_EXEC: u32 = 0x10;
/// Huge page size bits (6 bits at 26) that may accompany MFD_HUGETLB.
pub const MFD_HUGE_MASK: u32 = 0x3f << 26;
/// Linux's MFD_NAME_MAX_LEN.
pub const NAME_MAX: usize = 249;

pub const F_SEAL_SEAL: u32 = 0x1;
pub const F_SEAL_SHRINK: u32 = 0x2;
pub const F_SEAL_GROW: u32 = 0x4;
pub const F_SEAL_WRITE: u32 = 0x8;
pub const F_SEAL_FUTURE_WRITE: u32 = 0x10;
pub const F_SEAL_EXEC: u32 = 0x20;
const ALL_SEALS: u32 =
    F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | F_SEAL_EXEC;

#[derive(Debug)]
pub struct MemFd {
    pub inode: Rc<Inode>,
    pub seals: Cell<u32>,
}

impl MemFd {
    pub fn of(f: &OpenFile) -> Option<&MemFd> {
        f.ops.as_any().downcast_ref::<MemFd>()
    }
}

impl FileOps for MemFd {
    fn read(&self, _f: &OpenFile, buf: &mut [u8], off: Option<u64>) -> Result<usize, Errno> {
        overlay::read_file(&self.inode, off.unwrap_or(0), buf)
    }
    fn write(&self, _f: &OpenFile, buf: &[u8], off: Option<u64>) -> Result<usize, Errno> {
        let seals = self.seals.get();
        if seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) != 0 {
            return Err(Errno::EPERM);
        }
        let off = off.unwrap_or(0);
        let mut buf = buf;
        if seals & F_SEAL_GROW != 0 {
            // Linux writes page by page and stops at the first page that would grow the
            // file: a write running past the end is cut short, or fails if nothing fit.
            let size = self.inode.size();
            let want = off.checked_add(buf.len() as u64).ok_or(Errno::EFBIG)?;
            let mut end = off;
            while end < want {
                let chunk_end = want.min((end / 4096 + 1) * 4096);
                if chunk_end > size {
                    break;
                }
                end = chunk_end;
            }
            if end == off && !buf.is_empty() {
                return Err(Errno::EPERM);
            }
            buf = &buf[..(end - off) as usize];
        }
        overlay::write_file(&self.inode, off, buf)
    }
    fn seekable(&self) -> bool {
        true
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A new memfd named `name` with memfd_create `flags` (already validated).
pub fn new_memfd(name: &[u8], flags: u32, uid: u32, gid: u32) -> Rc<OpenFile> {
    let noexec = flags & MFD_NOEXEC_SEAL != 0;
    let mode = if noexec { 0o666 } else { 0o777 };
    let inode = overlay::new_mem_file(crate::fs::DEV_TMPFS, mode, uid, gid);
    // Not linked anywhere, like an unlinked tmpfs file.
    inode.meta.borrow_mut().nlink = 0;
    let mut seals = if flags & (MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL) != 0 {
        0
    } else {
        F_SEAL_SEAL
    };
    if noexec {
        seals |= F_SEAL_EXEC;
    }
    let mut path = b"/memfd:".to_vec();
    path.extend_from_slice(name);
    path.extend_from_slice(b" (deleted)");
    OpenFile::new(
        // O_RDWR | O_LARGEFILE, as F_GETFL shows on Linux.
        libc::O_RDWR as u32 | 0o100000,
        Some(inode.clone()),
        path,
        Box::new(MemFd {
            inode,
            seals: Cell::new(seals),
        }),
    )
}

/// fcntl F_ADD_SEALS / F_GET_SEALS (EINVAL for files that are not memfds).
pub fn fcntl_seals(f: &OpenFile, cmd: i32, arg: u64) -> Result<i64, Errno> {
    let m = MemFd::of(f).ok_or(Errno::EINVAL)?;
    if cmd == libc::F_GET_SEALS {
        return Ok(m.seals.get() as i64);
    }
    if !f.writable() {
        return Err(Errno::EPERM);
    }
    let add = u32::try_from(arg).map_err(|_| Errno::EINVAL)?;
    if add & !ALL_SEALS != 0 {
        return Err(Errno::EINVAL);
    }
    let cur = m.seals.get();
    if cur & F_SEAL_SEAL != 0 {
        return Err(Errno::EPERM);
    }
    m.seals.set(cur | add);
    Ok(0)
}

/// ftruncate through a sealed memfd: F_SEAL_SHRINK / F_SEAL_GROW forbid it.
pub fn check_truncate(f: &OpenFile, len: u64) -> Result<(), Errno> {
    let Some(m) = MemFd::of(f) else {
        return Ok(());
    };
    let size = m.inode.size();
    let seals = m.seals.get();
    if (len < size && seals & F_SEAL_SHRINK != 0) || (len > size && seals & F_SEAL_GROW != 0) {
        return Err(Errno::EPERM);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals() {
        let f = new_memfd(b"t", MFD_ALLOW_SEALING, 0, 0);
        assert_eq!(f.ops.write(&f, b"hello", Some(0)), Ok(5));
        assert_eq!(fcntl_seals(&f, libc::F_GET_SEALS, 0), Ok(0));
        assert_eq!(
            fcntl_seals(&f, libc::F_ADD_SEALS, (F_SEAL_GROW | F_SEAL_SHRINK) as u64),
            Ok(0)
        );
        assert_eq!(f.ops.write(&f, b"HELLO", Some(0)), Ok(5));
        assert_eq!(f.ops.write(&f, b"!", Some(5)), Err(Errno::EPERM));
        // Past the end within one page: the whole chunk is refused, as in Linux.
        assert_eq!(f.ops.write(&f, b"LO!", Some(3)), Err(Errno::EPERM));
        assert_eq!(check_truncate(&f, 2), Err(Errno::EPERM));
        assert_eq!(check_truncate(&f, 5), Ok(()));
        assert_eq!(
            fcntl_seals(&f, libc::F_ADD_SEALS, (F_SEAL_WRITE | F_SEAL_SEAL) as u64),
            Ok(0)
        );
        assert_eq!(f.ops.write(&f, b"x", Some(0)), Err(Errno::EPERM));
        assert_eq!(
            fcntl_seals(&f, libc::F_ADD_SEALS, F_SEAL_GROW as u64),
            Err(Errno::EPERM)
        );
        assert_eq!(
            fcntl_seals(&f, libc::F_ADD_SEALS, 0x1000),
            Err(Errno::EINVAL)
        );
        let plain = new_memfd(b"u", 0, 0, 0);
        assert_eq!(
            fcntl_seals(&plain, libc::F_GET_SEALS, 0),
            Ok(F_SEAL_SEAL as i64)
        );
        assert_eq!(
            fcntl_seals(&plain, libc::F_ADD_SEALS, F_SEAL_GROW as u64),
            Err(Errno::EPERM)
        );
    }
}
