//! Open regular files and directories of the in-memory/overlay tree.

use crate::errno::Errno;
use crate::fs::overlay;
use crate::vfs::file::{FileOps, OpenFile};
use crate::vfs::inode::Inode;
use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

#[derive(Debug)]
pub struct RegularFile {
    pub inode: Rc<Inode>,
}

impl FileOps for RegularFile {
    fn read(&self, _f: &OpenFile, buf: &mut [u8], off: Option<u64>) -> Result<usize, Errno> {
        overlay::read_file(&self.inode, off.unwrap_or(0), buf)
    }
    fn write(&self, _f: &OpenFile, buf: &[u8], off: Option<u64>) -> Result<usize, Errno> {
        if self.inode.readonly.get() {
            return Err(Errno::EROFS);
        }
        overlay::write_file(&self.inode, off.unwrap_or(0), buf)
    }
    fn seekable(&self) -> bool {
        true
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// One directory entry as getdents64 reports it.
#[derive(Debug, Clone)]
pub struct DirEntry {
    pub ino: u64,
    pub dtype: u8,
    pub name: Vec<u8>,
}

/// An open directory: entries are snapshotted at the first getdents64 (or after rewind).
#[derive(Debug, Default)]
pub struct DirFile {
    pub snapshot: RefCell<Option<Vec<DirEntry>>>,
}

impl FileOps for DirFile {
    fn read(&self, _f: &OpenFile, _buf: &mut [u8], _off: Option<u64>) -> Result<usize, Errno> {
        Err(Errno::EISDIR)
    }
    fn write(&self, _f: &OpenFile, _buf: &[u8], _off: Option<u64>) -> Result<usize, Errno> {
        Err(Errno::EISDIR)
    }
    fn seekable(&self) -> bool {
        true
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

pub fn dtype_of_mode(mode: u32) -> u8 {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => 4,
        libc::S_IFREG => 8,
        libc::S_IFLNK => 10,
        libc::S_IFCHR => 2,
        libc::S_IFBLK => 6,
        libc::S_IFIFO => 1,
        libc::S_IFSOCK => 12,
        _ => 0,
    }
}
