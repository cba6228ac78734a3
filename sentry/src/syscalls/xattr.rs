//! Extended attributes: kept in sentry memory per inode. `security.*` and `system.*`
//! attributes are not emulated (ENODATA / EOPNOTSUPP, like a file system without them).

use super::file::get_file;
use super::{dirfd_start, path_ctx, read_path, SysResult};
use crate::errno::Errno;
use crate::kernel::{Kernel, Tid};
use crate::vfs::{self, may_access, Inode, MAY_READ, MAY_WRITE};
use std::rc::Rc;

const XATTR_CREATE: u64 = 1;
const XATTR_REPLACE: u64 = 2;
const XATTR_SIZE_MAX: usize = 65536;
const XATTR_LIST_MAX: usize = 65536;

fn target(k: &Kernel, tid: Tid, kind: u8, a0: u64) -> Result<Rc<Inode>, Errno> {
    match kind {
        b'f' => get_file(k, tid, a0)?.inode.clone().ok_or(Errno::EOPNOTSUPP),
        _ => {
            let path = read_path(k, tid, a0)?;
            let start = dirfd_start(k, tid, libc::AT_FDCWD, &path)?;
            let ctx = path_ctx(k, tid);
            vfs::resolve(k, &ctx, start, &path, kind != b'l')
        }
    }
}

fn read_name(k: &Kernel, tid: Tid, addr: u64) -> Result<Vec<u8>, Errno> {
    let name = k.mem_of(tid)?.read_cstr(addr, 255).map_err(|e| {
        if e == Errno::ENAMETOOLONG {
            Errno::ERANGE
        } else {
            e
        }
    })?;
    if name.is_empty() {
        return Err(Errno::ERANGE);
    }
    Ok(name)
}

fn namespace_ok(name: &[u8]) -> Result<(), Errno> {
    if name.starts_with(b"user.") || name.starts_with(b"trusted.") {
        Ok(())
    } else if name.starts_with(b"security.") || name.starts_with(b"system.") {
        Err(Errno::ENODATA)
    } else {
        Err(Errno::EOPNOTSUPP)
    }
}

fn get(k: &mut Kernel, tid: Tid, kind: u8, a: [u64; 6]) -> SysResult {
    let inode = target(k, tid, kind, a[0])?;
    let name = read_name(k, tid, a[1])?;
    if name.starts_with(b"security.") || name.starts_with(b"system.") {
        return Err(Errno::ENODATA.into());
    }
    namespace_ok(&name)?;
    let ctx = path_ctx(k, tid);
    if !may_access(&inode.meta.borrow(), &ctx.creds, MAY_READ) {
        return Err(Errno::EACCES.into());
    }
    let v = inode
        .xattrs
        .borrow()
        .get(&name)
        .cloned()
        .ok_or(Errno::ENODATA)?;
    if a[3] == 0 {
        return Ok(v.len() as i64);
    }
    if (a[3] as usize) < v.len() {
        return Err(Errno::ERANGE.into());
    }
    k.mem_of(tid)?.write(a[2], &v)?;
    Ok(v.len() as i64)
}

fn set(k: &mut Kernel, tid: Tid, kind: u8, a: [u64; 6]) -> SysResult {
    // Linux checks the flags before it looks at the name, the size or the file.
    if a[4] & !(XATTR_CREATE | XATTR_REPLACE) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let inode = target(k, tid, kind, a[0])?;
    let name = read_name(k, tid, a[1])?;
    namespace_ok(&name).map_err(|e| {
        if e == Errno::ENODATA {
            Errno::EOPNOTSUPP
        } else {
            e
        }
    })?;
    let size = a[3] as usize;
    if size > XATTR_SIZE_MAX {
        return Err(Errno::E2BIG.into());
    }
    if inode.readonly.get() {
        return Err(Errno::EROFS.into());
    }
    let ctx = path_ctx(k, tid);
    if name.starts_with(b"trusted.") && !ctx.creds.has_cap(21) {
        return Err(Errno::EPERM.into());
    }
    if inode.is_symlink() && name.starts_with(b"user.") {
        return Err(Errno::EPERM.into());
    }
    if !may_access(&inode.meta.borrow(), &ctx.creds, MAY_WRITE)
        && inode.meta.borrow().uid != ctx.creds.fsuid
    {
        return Err(Errno::EACCES.into());
    }
    let v = k.mem_of(tid)?.read_vec(a[2], size)?;
    let mut x = inode.xattrs.borrow_mut();
    let exists = x.contains_key(&name);
    if a[4] & XATTR_CREATE != 0 && exists {
        return Err(Errno::EEXIST.into());
    }
    if a[4] & XATTR_REPLACE != 0 && !exists {
        return Err(Errno::ENODATA.into());
    }
    x.insert(name, v);
    Ok(0)
}

fn list(k: &mut Kernel, tid: Tid, kind: u8, a: [u64; 6]) -> SysResult {
    let inode = target(k, tid, kind, a[0])?;
    let mut out = Vec::new();
    for n in inode.xattrs.borrow().keys() {
        out.extend_from_slice(n);
        out.push(0);
    }
    if a[2] == 0 {
        return Ok(out.len() as i64);
    }
    if out.len() > XATTR_LIST_MAX {
        return Err(Errno::E2BIG.into());
    }
    if (a[2] as usize) < out.len() {
        return Err(Errno::ERANGE.into());
    }
    k.mem_of(tid)?.write(a[1], &out)?;
    Ok(out.len() as i64)
}

fn remove(k: &mut Kernel, tid: Tid, kind: u8, a: [u64; 6]) -> SysResult {
    let inode = target(k, tid, kind, a[0])?;
    let name = read_name(k, tid, a[1])?;
    namespace_ok(&name)?;
    if inode.readonly.get() {
        return Err(Errno::EROFS.into());
    }
    inode
        .xattrs
        .borrow_mut()
        .remove(&name)
        .ok_or(Errno::ENODATA)?;
    Ok(0)
}

pub fn sys_getxattr(k: &mut Kernel, t: Tid, a: [u64; 6]) -> SysResult {
    get(k, t, b'p', a)
}
pub fn sys_lgetxattr(k: &mut Kernel, t: Tid, a: [u64; 6]) -> SysResult {
    get(k, t, b'l', a)
}
pub fn sys_fgetxattr(k: &mut Kernel, t: Tid, a: [u64; 6]) -> SysResult {
    get(k, t, b'f', a)
}
pub fn sys_setxattr(k: &mut Kernel, t: Tid, a: [u64; 6]) -> SysResult {
    set(k, t, b'p', a)
}
pub fn sys_lsetxattr(k: &mut Kernel, t: Tid, a: [u64; 6]) -> SysResult {
    set(k, t, b'l', a)
}
pub fn sys_fsetxattr(k: &mut Kernel, t: Tid, a: [u64; 6]) -> SysResult {
    set(k, t, b'f', a)
}
pub fn sys_listxattr(k: &mut Kernel, t: Tid, a: [u64; 6]) -> SysResult {
    list(k, t, b'p', a)
}
pub fn sys_llistxattr(k: &mut Kernel, t: Tid, a: [u64; 6]) -> SysResult {
    list(k, t, b'l', a)
}
pub fn sys_flistxattr(k: &mut Kernel, t: Tid, a: [u64; 6]) -> SysResult {
    list(k, t, b'f', a)
}
pub fn sys_removexattr(k: &mut Kernel, t: Tid, a: [u64; 6]) -> SysResult {
    remove(k, t, b'p', a)
}
pub fn sys_lremovexattr(k: &mut Kernel, t: Tid, a: [u64; 6]) -> SysResult {
    remove(k, t, b'l', a)
}
pub fn sys_fremovexattr(k: &mut Kernel, t: Tid, a: [u64; 6]) -> SysResult {
    remove(k, t, b'f', a)
}
