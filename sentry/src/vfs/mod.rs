//! The virtual filesystem: inodes, path resolution, open file descriptions and fd tables.
//!
//! Every path the workload names is resolved here, one component at a time, including
//! symlinks; host files are reached only through directory fds (see `fs::overlay`).

pub mod file;
pub mod inode;
pub mod locks;
pub mod mounts;
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
    /// Ambient set: kept over execve of a program without file capabilities (always a
    /// subset of permitted and inheritable).
    pub cap_ambient: u64,
}

pub const CAP_CHOWN: u32 = 0;
pub const CAP_DAC_OVERRIDE: u32 = 1;
pub const CAP_DAC_READ_SEARCH: u32 = 2;
pub const CAP_FOWNER: u32 = 3;
pub const CAP_FSETID: u32 = 4;
pub const CAP_KILL: u32 = 5;
pub const CAP_SETGID: u32 = 6;
pub const CAP_SETUID: u32 = 7;
pub const CAP_SETPCAP: u32 = 8;

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
            cap_ambient: 0,
        }
    }

    pub fn has_cap(&self, cap: u32) -> bool {
        self.cap_effective & (1u64 << cap) != 0
    }

    /// The credentials after execve of a file with `mode`, owned by `file_uid`:`file_gid`,
    /// as Linux computes them for a program without file capabilities and without
    /// securebits: set-user-ID and set-group-ID bits take effect unless `no_new_privs`;
    /// root (real or effective) gets permitted = inheritable | bounding; everyone keeps the
    /// ambient set unless the exec changed an id; effective is all of permitted for an
    /// effective root, else the ambient set. Under `no_new_privs` permitted never grows.
    pub fn after_exec(&mut self, mode: u32, file_uid: u32, file_gid: u32, no_new_privs: bool) {
        let old = self.clone();
        if !no_new_privs {
            if mode & libc::S_ISUID != 0 {
                self.euid = file_uid;
            }
            // Without group execute the bit means mandatory locking, not set-group-ID.
            if mode & libc::S_ISGID != 0 && mode & libc::S_IXGRP != 0 {
                self.egid = file_gid;
            }
        }
        let changed_id = self.euid != old.uid || self.egid != old.gid;
        if changed_id {
            self.cap_ambient = 0;
        }
        let root = self.euid == 0 || self.uid == 0;
        let mut permitted = self.cap_ambient;
        if root {
            permitted |= self.cap_inheritable | self.cap_bounding;
        }
        if no_new_privs && permitted & !old.cap_permitted != 0 {
            permitted &= old.cap_permitted;
        }
        self.cap_permitted = permitted;
        self.cap_effective = if self.euid == 0 {
            permitted
        } else {
            self.cap_ambient & permitted
        };
        self.suid = self.euid;
        self.fsuid = self.euid;
        self.sgid = self.egid;
        self.fsgid = self.egid;
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

/// The set-ID bits Linux takes off a file whose owner changes, or that someone without
/// CAP_FSETID writes to: set-user-ID, and set-group-ID only with group-execute (without it
/// the bit marks mandatory locking, not a privilege).
pub fn setid_bits_to_drop(mode: u32) -> u32 {
    let mut bits = mode & libc::S_ISUID;
    if mode & (libc::S_ISGID | libc::S_IXGRP) == libc::S_ISGID | libc::S_IXGRP {
        bits |= libc::S_ISGID;
    }
    bits
}

#[cfg(test)]
mod exec_creds_tests {
    use super::*;

    fn user(uid: u32) -> Creds {
        let mut c = Creds::root();
        c.uid = uid;
        c.euid = uid;
        c.suid = uid;
        c.fsuid = uid;
        c.cap_effective = 0;
        c.cap_permitted = 0;
        c
    }

    #[test]
    fn root_gets_bounding_and_inheritable() {
        let mut c = Creds::root();
        c.cap_bounding = 0b111;
        c.cap_permitted = 0b1;
        c.cap_effective = 0;
        c.cap_inheritable = 0b1000;
        c.after_exec(0o755, 0, 0, false);
        assert_eq!(c.cap_permitted, 0b1111);
        assert_eq!(c.cap_effective, 0b1111);
    }

    #[test]
    fn non_root_keeps_only_ambient() {
        let mut c = user(1000);
        c.cap_permitted = 0b111;
        c.cap_effective = 0b111;
        c.cap_inheritable = 0b11;
        c.cap_ambient = 0b10;
        c.after_exec(0o755, 0, 0, false);
        assert_eq!(
            (c.cap_permitted, c.cap_effective, c.cap_ambient),
            (0b10, 0b10, 0b10)
        );
    }

    #[test]
    fn setuid_root_file_makes_effective_root_and_clears_ambient() {
        let mut c = user(1000);
        c.cap_ambient = 0b10;
        c.cap_bounding = 0b111;
        c.after_exec(0o4755, 0, 0, false);
        assert_eq!((c.uid, c.euid, c.suid, c.fsuid), (1000, 0, 0, 0));
        assert_eq!(c.cap_ambient, 0);
        assert_eq!(c.cap_effective, 0b111);
    }

    #[test]
    fn no_new_privs_ignores_setid_bits_and_never_grows_permitted() {
        let mut c = user(1000);
        c.after_exec(0o6755, 0, 0, true);
        assert_eq!((c.euid, c.egid, c.cap_permitted), (1000, 0, 0));
        let mut r = Creds::root();
        r.cap_permitted = 0b1;
        r.cap_bounding = 0b111;
        r.after_exec(0o755, 0, 0, true);
        assert_eq!(r.cap_permitted, 0b1);
    }

    #[test]
    fn setgid_without_group_exec_is_not_setgid() {
        let mut c = user(1000);
        c.gid = 1000;
        c.egid = 1000;
        c.after_exec(0o2745, 0, 50, false);
        assert_eq!(c.egid, 1000);
        c.after_exec(0o2755, 0, 50, false);
        assert_eq!((c.egid, c.sgid), (50, 50));
    }
}
