//! Path resolution: the sentry walks every component itself, following symlinks with a
//! budget, never letting ".." climb above the workload's root.

use super::inode::{Inode, InodeKind};
use super::{may_access, Creds, MAY_EXEC};
use crate::errno::Errno;
use crate::fs::{overlay, procfs};
use crate::kernel::Kernel;
use std::rc::Rc;

pub const MAX_SYMLINKS: u32 = 40;
pub const PATH_MAX: usize = 4096;

/// Who is resolving, and from where.
pub struct PathCtx {
    pub root: Rc<Inode>,
    pub cwd: Rc<Inode>,
    pub creds: Creds,
    /// Virtual pid of the caller (for /proc/self).
    pub pid: i32,
    pub tid: i32,
}

/// Looks `name` up in directory `dir`.
pub fn lookup(k: &Kernel, ctx: &PathCtx, dir: &Rc<Inode>, name: &[u8]) -> Result<Rc<Inode>, Errno> {
    match &dir.kind {
        InodeKind::Dir(d) => {
            if dir.is_dead_dir() {
                return Err(Errno::ENOENT);
            }
            overlay::populate(dir)?;
            let found = d.borrow().entries.get(name).cloned();
            match found {
                Some(child) => overlay::revalidate_hit(dir, name, child).ok_or(Errno::ENOENT),
                None => overlay::revalidate_missing(dir, name).ok_or(Errno::ENOENT),
            }
        }
        InodeKind::Proc(p) => procfs::lookup(k, ctx, dir, p, name),
        _ => Err(Errno::ENOTDIR),
    }
}

/// Reads a symlink's target (host, memory or procfs).
pub fn readlink(k: &Kernel, ctx: &PathCtx, inode: &Rc<Inode>) -> Result<Vec<u8>, Errno> {
    match &inode.kind {
        InodeKind::Symlink(_) => overlay::read_link(inode),
        InodeKind::Proc(p) => procfs::readlink(k, ctx, p),
        _ => Err(Errno::EINVAL),
    }
}

/// A procfs magic link (/proc/pid/fd/N, /proc/pid/exe, cwd, root) resolves to an inode
/// directly, not by re-walking its text.
fn magic_target(k: &Kernel, ctx: &PathCtx, inode: &Rc<Inode>) -> Option<Result<Rc<Inode>, Errno>> {
    match &inode.kind {
        InodeKind::Proc(p) => procfs::magic_target(k, ctx, p),
        _ => None,
    }
}

fn walk(
    k: &Kernel,
    ctx: &PathCtx,
    start: Rc<Inode>,
    path: &[u8],
    follow_last: bool,
    budget: &mut u32,
) -> Result<Rc<Inode>, Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    let mut cur = if path[0] == b'/' {
        ctx.root.clone()
    } else {
        start
    };
    let comps: Vec<&[u8]> = path
        .split(|&c| c == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    let trailing_slash = path.ends_with(b"/");
    for (i, comp) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        if !cur.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if !may_access(&cur.meta.borrow(), &ctx.creds, MAY_EXEC) {
            return Err(Errno::EACCES);
        }
        if comp.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        if *comp == b"." {
            continue;
        }
        if *comp == b".." {
            if !Rc::ptr_eq(&cur, &ctx.root) {
                cur = k.parent_in(&ctx.root, &cur);
            }
            continue;
        }
        let next = lookup(k, ctx, &cur, comp)?;
        let is_link = next.is_symlink();
        if is_link && (!last || follow_last || trailing_slash) {
            if *budget == 0 {
                return Err(Errno::ELOOP);
            }
            *budget -= 1;
            if let Some(t) = magic_target(k, ctx, &next) {
                cur = t?;
                continue;
            }
            let target = readlink(k, ctx, &next)?;
            cur = walk(k, ctx, cur.clone(), &target, true, budget)?;
            continue;
        }
        cur = next;
    }
    if trailing_slash && !cur.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    Ok(cur)
}

/// Resolves `path` relative to `start` (a dirfd's inode) or the cwd.
pub fn resolve(
    k: &Kernel,
    ctx: &PathCtx,
    start: Option<Rc<Inode>>,
    path: &[u8],
    follow_last: bool,
) -> Result<Rc<Inode>, Errno> {
    let mut budget = MAX_SYMLINKS;
    let start = start.unwrap_or_else(|| ctx.cwd.clone());
    walk(k, ctx, start, path, follow_last, &mut budget)
}

/// Resolves all but the last component; returns the parent directory and the last name.
/// A path whose last component is "." or ".." (or empty, i.e. "/") yields `Err(EEXIST)`-like
/// handling by callers via the returned name.
pub fn resolve_parent(
    k: &Kernel,
    ctx: &PathCtx,
    start: Option<Rc<Inode>>,
    path: &[u8],
) -> Result<(Rc<Inode>, Vec<u8>), Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    let trimmed: &[u8] = {
        let mut end = path.len();
        while end > 1 && path[end - 1] == b'/' {
            end -= 1;
        }
        &path[..end]
    };
    let (dir_part, name) = match trimmed.iter().rposition(|&c| c == b'/') {
        Some(0) => (&b"/"[..], &trimmed[1..]),
        Some(p) => (&trimmed[..p], &trimmed[p + 1..]),
        None => (&b"."[..], trimmed),
    };
    if name.len() > 255 {
        return Err(Errno::ENAMETOOLONG);
    }
    let dir = resolve(k, ctx, start, dir_part, true)?;
    if !dir.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    if !may_access(&dir.meta.borrow(), &ctx.creds, MAY_EXEC) {
        return Err(Errno::EACCES);
    }
    Ok((dir, name.to_vec()))
}
