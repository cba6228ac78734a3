//! File locks: flock(2) (per open file description, whole file) and POSIX record locks
//! (fcntl F_SETLK/F_SETLKW/F_GETLK per process, and F_OFD_* per open file description).
//! Waiters block in the event loop and retry when any lock is released.

use crate::errno::Errno;
use std::cell::RefCell;
use std::collections::HashMap;

/// Which file: (device, inode number).
pub type FileKey = (u64, u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// A process (classic POSIX record locks).
    Process(i32),
    /// An open file description (flock and OFD locks), by address.
    File(usize),
}

#[derive(Debug, Clone, Copy)]
pub struct RecordLock {
    pub owner: Owner,
    pub write: bool,
    pub start: u64,
    /// Exclusive end; u64::MAX means "to end of file and beyond".
    pub end: u64,
    /// The pid F_GETLK reports.
    pub pid: i32,
}

#[derive(Default)]
struct Table {
    flocks: HashMap<FileKey, Vec<(usize, bool)>>,
    records: HashMap<FileKey, Vec<RecordLock>>,
}

thread_local! {
    static LOCKS: RefCell<Table> = RefCell::new(Table::default());
}

/// flock: take (or convert to) a shared/exclusive lock for open file `ofd`.
/// Returns Err(EAGAIN) if another description holds a conflicting lock.
pub fn flock(key: FileKey, ofd: usize, exclusive: bool) -> Result<(), Errno> {
    LOCKS.with(|t| {
        let mut t = t.borrow_mut();
        let holders = t.flocks.entry(key).or_default();
        let conflict = holders.iter().any(|&(o, ex)| o != ofd && (ex || exclusive));
        if conflict {
            return Err(Errno::EAGAIN);
        }
        holders.retain(|&(o, _)| o != ofd);
        holders.push((ofd, exclusive));
        Ok(())
    })
}

pub fn funlock(key: FileKey, ofd: usize) {
    LOCKS.with(|t| {
        if let Some(h) = t.borrow_mut().flocks.get_mut(&key) {
            h.retain(|&(o, _)| o != ofd);
        }
    });
}

fn overlaps(a: &RecordLock, start: u64, end: u64) -> bool {
    a.start < end && start < a.end
}

/// The first lock of another owner that conflicts with the request, if any.
pub fn conflicting(
    key: FileKey,
    owner: Owner,
    write: bool,
    start: u64,
    end: u64,
) -> Option<RecordLock> {
    LOCKS.with(|t| {
        t.borrow()
            .records
            .get(&key)?
            .iter()
            .find(|l| l.owner != owner && (l.write || write) && overlaps(l, start, end))
            .copied()
    })
}

/// Sets (or with `unlock` removes) `owner`'s lock on [start, end), splitting and merging
/// the owner's existing ranges. Conflicts must have been checked by the caller.
pub fn set_record(
    key: FileKey,
    owner: Owner,
    pid: i32,
    write: bool,
    start: u64,
    end: u64,
    unlock: bool,
) {
    LOCKS.with(|t| {
        let mut t = t.borrow_mut();
        let list = t.records.entry(key).or_default();
        let mut out = Vec::with_capacity(list.len() + 2);
        for l in list.drain(..) {
            if l.owner != owner || !overlaps(&l, start, end) {
                out.push(l);
                continue;
            }
            if l.start < start {
                out.push(RecordLock { end: start, ..l });
            }
            if l.end > end {
                out.push(RecordLock { start: end, ..l });
            }
        }
        if !unlock {
            out.push(RecordLock {
                owner,
                write,
                start,
                end,
                pid,
            });
        }
        *list = out;
    });
}

/// Drops every lock `owner` holds on a file (close by a process, last close of an OFD).
/// Returns whether it held any.
pub fn release(key: FileKey, owner: Owner) -> bool {
    LOCKS.with(|t| {
        let mut t = t.borrow_mut();
        let Some(l) = t.records.get_mut(&key) else {
            return false;
        };
        let n = l.len();
        l.retain(|x| x.owner != owner);
        let any = l.len() != n;
        if l.is_empty() {
            t.records.remove(&key);
        }
        any
    })
}

/// Drops every POSIX lock of a process (exit).
pub fn release_process(pid: i32) {
    LOCKS.with(|t| {
        for l in t.borrow_mut().records.values_mut() {
            l.retain(|x| x.owner != Owner::Process(pid));
        }
    });
}

/// Drops every lock tied to an open file description (its last close). Returns whether it
/// held any, so waiters can be woken. The description's address is its identity, and it is
/// reused once freed: a lock left behind would be inherited by an unrelated description.
pub fn release_file(ofd: usize) -> bool {
    LOCKS.with(|t| {
        let mut t = t.borrow_mut();
        let mut any = false;
        t.flocks.retain(|_, h| {
            let n = h.len();
            h.retain(|&(o, _)| o != ofd);
            any |= h.len() != n;
            !h.is_empty()
        });
        t.records.retain(|_, l| {
            let n = l.len();
            l.retain(|x| x.owner != Owner::File(ofd));
            any |= l.len() != n;
            !l.is_empty()
        });
        any
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_locks_split_and_conflict() {
        let key = (1, 99);
        let a = Owner::Process(10);
        let b = Owner::Process(11);
        set_record(key, a, 10, true, 0, 100, false);
        assert!(conflicting(key, b, false, 50, 60).is_some());
        set_record(key, a, 10, false, 40, 70, true);
        assert!(conflicting(key, b, true, 50, 60).is_none());
        assert!(conflicting(key, b, false, 80, 90).is_some());
        release_process(10);
        assert!(conflicting(key, b, true, 0, u64::MAX).is_none());
    }

    #[test]
    fn flock_shared_then_exclusive() {
        let key = (1, 100);
        flock(key, 1, false).expect("shared");
        flock(key, 2, false).expect("shared too");
        assert_eq!(flock(key, 3, true), Err(Errno::EAGAIN));
        funlock(key, 1);
        funlock(key, 2);
        flock(key, 3, true).expect("exclusive");
        release_file(3);
    }
}
