//! The virtual filesystem: inodes, path resolution, open file descriptions and fd tables.
//!
//! Every path the workload names is resolved here, one component at a time, including
//! symlinks; host files are reached only through directory fds (see `fs::overlay`).

pub mod file;
pub mod inode;
pub mod locks;
pub mod path;

pub use file::{FdTable, FileOps, OpenFile};
pub use inode::{DevKind, Inode, InodeKind, Meta};
pub use path::{resolve, resolve_parent, PathCtx};

/// Timespec as stored in inode metadata.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Time {
    pub sec: i64,
    pub nsec: i64,
}

impl Time {
    pub fn now() -> Time {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: ts is a valid out pointer.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
        Time {
            sec: ts.tv_sec,
            nsec: ts.tv_nsec,
        }
    }
}

/// The credentials that permission checks use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creds {
    pub uid: u32,
    pub euid: u32,
    pub suid: u32,
    pub fsuid: u32,
    pub gid: u32,
    pub egid: u32,
    pub sgid: u32,
    pub fsgid: u32,
    pub groups: Vec<u32>,
    /// Effective capability set (bit per capability).
    pub cap_effective: u64,
    pub cap_permitted: u64,
    pub cap_inheritable: u64,
    pub cap_bounding: u64,
}

pub const CAP_CHOWN: u32 = 0;
pub const CAP_DAC_OVERRIDE: u32 = 1;
pub const CAP_DAC_READ_SEARCH: u32 = 2;
pub const CAP_FOWNER: u32 = 3;
pub const CAP_KILL: u32 = 5;
pub const CAP_SETGID: u32 = 6;
pub const CAP_SETUID: u32 = 7;

impl Creds {
    pub fn root() -> Creds {
        Creds {
            uid: 0,
            euid: 0,
            suid: 0,
            fsuid: 0,
            gid: 0,
            egid: 0,
            sgid: 0,
            fsgid: 0,
            groups: vec![],
            cap_effective: ALL_CAPS,
            cap_permitted: ALL_CAPS,
            cap_inheritable: 0,
            cap_bounding: ALL_CAPS,
        }
    }

    pub fn has_cap(&self, cap: u32) -> bool {
        self.cap_effective & (1u64 << cap) != 0
    }

    pub fn in_group(&self, gid: u32) -> bool {
        self.fsgid == gid || self.groups.contains(&gid)
    }
}

pub const ALL_CAPS: u64 = (1u64 << 41) - 1;

/// Access bits for [`may_access`].
pub const MAY_READ: u32 = 4;
pub const MAY_WRITE: u32 = 2;
pub const MAY_EXEC: u32 = 1;

/// Unix permission check of `mask` against an inode's mode for `creds`.
pub fn may_access(meta: &Meta, creds: &Creds, mask: u32) -> bool {
    let mode = meta.mode;
    let is_dir = mode & libc::S_IFMT == libc::S_IFDIR;
    if creds.has_cap(CAP_DAC_OVERRIDE) {
        // Root may do anything except execute a file with no execute bit at all.
        if mask & MAY_EXEC == 0 || is_dir || mode & 0o111 != 0 {
            return true;
        }
    }
    if creds.has_cap(CAP_DAC_READ_SEARCH)
        && (mask & MAY_WRITE == 0)
        && (mask & MAY_EXEC == 0 || is_dir)
    {
        return true;
    }
    let bits = if creds.fsuid == meta.uid {
        (mode >> 6) & 7
    } else if creds.in_group(meta.gid) {
        (mode >> 3) & 7
    } else {
        mode & 7
    };
    bits & mask == mask
}
