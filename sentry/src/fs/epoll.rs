//! epoll instances: interest lists over open files, level- and edge-triggered.
//!
//! An entry is keyed like Linux's, by (fd, open file description): it names the file it was
//! added with, holds only a `Weak` reference to it, and dies once that description is
//! closed everywhere (dups and other processes included), not when the fd alone is closed.
//!
//! Readiness is never pushed to us: the sentry re-runs a blocked epoll_wait whenever
//! anything changes (see the event loop), so every evaluation polls the entries
//! ([`FileOps::poll`]) and moves those that became ready onto a ready list, which is
//! reported in order like Linux's `rdllist` (level-triggered entries go back to its tail
//! after each report, so a small `maxevents` cycles through all of them).
//!
//! Edge-triggered entries report when readiness bits newly appear since the last
//! evaluation, or when the file's event counter ([`FileOps::event_seq`]) moved while it is
//! ready: every write into a pipe is a new EPOLLIN edge for its read end even if earlier
//! data is still unread, as with Linux's wake-up callbacks.

use crate::errno::Errno;
use crate::vfs::file::{
    FileOps, OpenFile, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM,
};
use crate::vfs::inode::{DevKind, InodeKind};
use std::any::Any;
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::{Rc, Weak};

pub const EPOLLIN: u32 = 0x001;
pub const EPOLLPRI: u32 = 0x002;
pub const EPOLLOUT: u32 = 0x004;
pub const EPOLLERR: u32 = 0x008;
pub const EPOLLHUP: u32 = 0x010;
pub const EPOLLRDNORM: u32 = 0x040;
pub const EPOLLRDBAND: u32 = 0x080;
pub const EPOLLWRNORM: u32 = 0x100;
pub const EPOLLWRBAND: u32 = 0x200;
pub const EPOLLMSG: u32 = 0x400;
pub const EPOLLRDHUP: u32 = 0x2000;
pub const EPOLLEXCLUSIVE: u32 = 1 << 28;
pub const EPOLLWAKEUP: u32 = 1 << 29;
pub const EPOLLONESHOT: u32 = 1 << 30;
pub const EPOLLET: u32 = 1 << 31;

/// Event bits (as opposed to the mode flags above them).
const EVENT_BITS: u32 = EPOLLIN
    | EPOLLPRI
    | EPOLLOUT
    | EPOLLERR
    | EPOLLHUP
    | EPOLLRDNORM
    | EPOLLRDBAND
    | EPOLLWRNORM
    | EPOLLWRBAND
    | EPOLLMSG
    | EPOLLRDHUP;
/// What EPOLLEXCLUSIVE may be combined with (Linux's EPOLLEXCLUSIVE_OK_BITS).
const EXCLUSIVE_OK: u32 = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET;
/// Linux's EP_MAX_NESTS: epoll instances nested deeper are refused with ELOOP.
const MAX_NESTS: usize = 4;
/// Bound on one instance's interest list (Linux bounds it by max_user_watches).
const MAX_ENTRIES: usize = 1 << 20;

type Key = (i32, usize);

#[derive(Debug)]
struct Entry {
    file: Weak<OpenFile>,
    /// Requested events plus mode flags (EPOLLET, EPOLLONESHOT, ...).
    events: u32,
    data: u64,
    /// EPOLLONESHOT reported: silent until EPOLL_CTL_MOD re-arms it.
    disarmed: bool,
    /// Readiness and event counter at the last evaluation (edge detection).
    last_mask: u32,
    last_seq: u64,
    /// On the ready list.
    queued: bool,
}

#[derive(Debug, Default)]
pub struct EpollState {
    entries: BTreeMap<Key, Entry>,
    ready: VecDeque<Key>,
    /// Grows whenever an entry is queued: edges for an epoll watched by another one.
    seq: u64,
}

#[derive(Debug, Default)]
pub struct EpollFile {
    state: RefCell<EpollState>,
}

fn key_of(fd: i32, f: &Rc<OpenFile>) -> Key {
    (fd, Rc::as_ptr(f) as usize)
}

/// A file's readiness as epoll reports it for `events` (errors and hang-ups always).
pub fn revents(f: &OpenFile, events: u32) -> u32 {
    let mut r = f.ops.poll();
    if r & POLLIN != 0 {
        r |= POLLRDNORM;
    }
    if r & POLLOUT != 0 {
        r |= POLLWRNORM;
    }
    r & (events & EVENT_BITS | POLLERR | POLLHUP)
}

/// Files epoll refuses (EPERM): those Linux has no poll method for, i.e. regular files,
/// directories, and the memory devices.
pub fn pollable(f: &OpenFile) -> bool {
    match f.inode.as_ref().map(|i| &i.kind) {
        Some(InodeKind::File(_)) | Some(InodeKind::Dir(_)) => false,
        Some(InodeKind::Device(d)) => !matches!(d, DevKind::Null | DevKind::Zero | DevKind::Full),
        Some(InodeKind::Proc(_)) => false,
        _ => !f.is_dir(),
    }
}

impl EpollFile {
    pub fn of(f: &OpenFile) -> Option<&EpollFile> {
        f.ops.as_any().downcast_ref::<EpollFile>()
    }

    /// EPOLL_CTL_ADD. `target` is the file at `fd` in the caller's table; `me` is this
    /// instance's own open file (to refuse adding it to itself or making a cycle).
    pub fn add(
        &self,
        me: &Rc<OpenFile>,
        fd: i32,
        target: &Rc<OpenFile>,
        events: u32,
        data: u64,
    ) -> Result<(), Errno> {
        if Rc::ptr_eq(me, target) {
            return Err(Errno::EINVAL);
        }
        if !pollable(target) {
            return Err(Errno::EPERM);
        }
        if events & EPOLLEXCLUSIVE != 0
            && (events & !(EXCLUSIVE_OK | EPOLLEXCLUSIVE) != 0 || EpollFile::of(target).is_some())
        {
            return Err(Errno::EINVAL);
        }
        if let Some(inner) = EpollFile::of(target) {
            // Adding `inner` below us: it must not reach back to us, and the nesting must
            // stay within Linux's depth limit.
            // We only hold downward links, so a chain built top-down is not caught here;
            // the depth guard in `poll` bounds the recursion for those.
            if inner.reaches(me, 0)? || inner.depth_below(0)? >= MAX_NESTS {
                return Err(Errno::ELOOP);
            }
        }
        let mut st = self.state.try_borrow_mut().map_err(|_| Errno::EINVAL)?;
        let key = key_of(fd, target);
        if st.entries.contains_key(&key) {
            return Err(Errno::EEXIST);
        }
        if st.entries.len() >= MAX_ENTRIES {
            return Err(Errno::ENOSPC);
        }
        st.entries.insert(
            key,
            Entry {
                file: Rc::downgrade(target),
                events: events | EPOLLERR | EPOLLHUP,
                data,
                disarmed: false,
                last_mask: 0,
                last_seq: target.ops.event_seq(),
                queued: false,
            },
        );
        Ok(())
    }

    /// EPOLL_CTL_MOD: new events and data; a disarmed EPOLLONESHOT entry is re-armed, and a
    /// ready entry is reported again (also when edge-triggered), as Linux does.
    pub fn modify(
        &self,
        fd: i32,
        target: &Rc<OpenFile>,
        events: u32,
        data: u64,
    ) -> Result<(), Errno> {
        let mut st = self.state.try_borrow_mut().map_err(|_| Errno::EINVAL)?;
        let e = st
            .entries
            .get_mut(&key_of(fd, target))
            .ok_or(Errno::ENOENT)?;
        if events & EPOLLEXCLUSIVE != 0 || e.events & EPOLLEXCLUSIVE != 0 {
            return Err(Errno::EINVAL);
        }
        e.events = events | EPOLLERR | EPOLLHUP;
        e.data = data;
        e.disarmed = false;
        e.last_mask = 0;
        Ok(())
    }

    /// EPOLL_CTL_DEL.
    pub fn remove(&self, fd: i32, target: &Rc<OpenFile>) -> Result<(), Errno> {
        let mut st = self.state.try_borrow_mut().map_err(|_| Errno::EINVAL)?;
        let key = key_of(fd, target);
        st.entries.remove(&key).ok_or(Errno::ENOENT)?;
        st.ready.retain(|k| *k != key);
        Ok(())
    }

    /// Does this instance (or one nested in it) watch `target`?
    fn reaches(&self, target: &Rc<OpenFile>, depth: usize) -> Result<bool, Errno> {
        if depth > MAX_NESTS {
            return Err(Errno::ELOOP);
        }
        let st = self.state.try_borrow().map_err(|_| Errno::ELOOP)?;
        for e in st.entries.values() {
            let Some(f) = e.file.upgrade() else { continue };
            if Rc::ptr_eq(&f, target) {
                return Ok(true);
            }
            if let Some(inner) = EpollFile::of(&f) {
                if inner.reaches(target, depth + 1)? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Longest chain of epoll instances below this one (itself counts 1).
    fn depth_below(&self, depth: usize) -> Result<usize, Errno> {
        if depth > MAX_NESTS {
            return Err(Errno::ELOOP);
        }
        let st = self.state.try_borrow().map_err(|_| Errno::ELOOP)?;
        let mut best = 0;
        for e in st.entries.values() {
            let Some(f) = e.file.upgrade() else { continue };
            if let Some(inner) = EpollFile::of(&f) {
                best = best.max(inner.depth_below(depth + 1)?);
            }
        }
        Ok(best + 1)
    }

    /// Moves newly ready entries onto the ready list and forgets entries whose file is gone.
    fn scan(st: &mut EpollState) {
        let mut dead = Vec::new();
        let mut queued = Vec::new();
        for (key, e) in st.entries.iter_mut() {
            let Some(f) = e.file.upgrade() else {
                dead.push(*key);
                continue;
            };
            let r = revents(&f, e.events);
            let seq = f.ops.event_seq();
            let wake = if e.events & EPOLLET != 0 {
                let edge = r & !e.last_mask != 0 || (seq != e.last_seq && r != 0);
                e.last_mask = r;
                e.last_seq = seq;
                edge
            } else {
                r != 0
            };
            if wake && !e.disarmed && !e.queued {
                e.queued = true;
                queued.push(*key);
            }
        }
        if !queued.is_empty() {
            st.seq += 1;
            st.ready.extend(queued);
        }
        if !dead.is_empty() {
            for k in &dead {
                st.entries.remove(k);
            }
            st.ready.retain(|k| !dead.contains(k));
        }
    }

    /// Takes up to `max` events (epoll_wait).
    pub fn collect(&self, max: usize) -> Vec<(u32, u64)> {
        let Ok(mut st) = self.state.try_borrow_mut() else {
            return Vec::new();
        };
        Self::scan(&mut st);
        let mut out = Vec::new();
        let mut again = Vec::new();
        while out.len() < max {
            let Some(key) = st.ready.pop_front() else {
                break;
            };
            let Some(e) = st.entries.get_mut(&key) else {
                continue;
            };
            e.queued = false;
            let Some(f) = e.file.upgrade() else { continue };
            if e.disarmed {
                continue;
            }
            let r = revents(&f, e.events);
            if r == 0 {
                continue;
            }
            out.push((r, e.data));
            if e.events & EPOLLONESHOT != 0 {
                e.disarmed = true;
            } else if e.events & EPOLLET == 0 {
                e.queued = true;
                again.push(key);
            }
        }
        st.ready.extend(again);
        out
    }

    /// Host fds of watched files (stdio, host sockets), nested instances included, so the
    /// event loop wakes when one of them becomes ready.
    pub fn host_fds(&self, out: &mut Vec<(i32, u32)>, depth: usize) {
        if depth > MAX_NESTS {
            return;
        }
        let Ok(st) = self.state.try_borrow() else {
            return;
        };
        for e in st.entries.values() {
            let Some(f) = e.file.upgrade() else { continue };
            if let Some(inner) = EpollFile::of(&f) {
                inner.host_fds(out, depth + 1);
            } else if let Some(h) = f.ops.host_fd() {
                let ev = e.events & (POLLIN | POLLOUT | crate::vfs::file::POLLPRI);
                if !out.iter().any(|x| x.0 == h) {
                    out.push((h, ev));
                }
            }
        }
    }
}

impl FileOps for EpollFile {
    fn read(&self, _f: &OpenFile, _buf: &mut [u8], _off: Option<u64>) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }
    fn write(&self, _f: &OpenFile, _buf: &[u8], _off: Option<u64>) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }
    /// Readable when an epoll_wait would report something. Re-entrance (a cycle) finds the
    /// state borrowed and reports nothing instead of recursing.
    fn poll(&self) -> u32 {
        let Ok(mut st) = self.state.try_borrow_mut() else {
            return 0;
        };
        let Some(_guard) = DepthGuard::enter() else {
            return 0;
        };
        Self::scan(&mut st);
        let st = &*st;
        let any = st.ready.iter().any(|k| {
            st.entries.get(k).is_some_and(|e| {
                !e.disarmed && e.file.upgrade().is_some_and(|f| revents(&f, e.events) != 0)
            })
        });
        if any {
            POLLIN
        } else {
            0
        }
    }
    fn event_seq(&self) -> u64 {
        self.state.try_borrow().map(|s| s.seq).unwrap_or(0)
    }
    fn host_fd(&self) -> Option<i32> {
        let mut v = Vec::new();
        self.host_fds(&mut v, 0);
        v.first().map(|x| x.0)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

thread_local! {
    static POLL_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Bounds the recursion of polling nested epoll instances (the sentry's stack is finite).
struct DepthGuard;

impl DepthGuard {
    fn enter() -> Option<DepthGuard> {
        POLL_DEPTH.with(|d| {
            if d.get() > MAX_NESTS + 1 {
                return None;
            }
            d.set(d.get() + 1);
            Some(DepthGuard)
        })
    }
}

impl Drop for DepthGuard {
    fn drop(&mut self) {
        POLL_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// A new epoll instance as an open file.
pub fn new_epoll() -> Rc<OpenFile> {
    OpenFile::new(
        libc::O_RDWR as u32,
        None,
        b"anon_inode:[eventpoll]".to_vec(),
        Box::new(EpollFile::default()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::pipe::{new_pipe, PipeEnd};

    fn pipe() -> (Rc<OpenFile>, Rc<OpenFile>) {
        let b = new_pipe();
        let r = OpenFile::new(
            0,
            None,
            b"pipe".to_vec(),
            Box::new(PipeEnd::new(b.clone(), false)),
        );
        let w = OpenFile::new(1, None, b"pipe".to_vec(), Box::new(PipeEnd::new(b, true)));
        (r, w)
    }

    fn ep(f: &Rc<OpenFile>) -> &EpollFile {
        EpollFile::of(f).expect("epoll")
    }

    #[test]
    fn level_triggered_reports_until_drained() {
        let e = new_epoll();
        let (r, w) = pipe();
        ep(&e).add(&e, 3, &r, EPOLLIN, 7).expect("add");
        assert!(ep(&e).collect(8).is_empty());
        w.ops.write(&w, b"x", None).expect("write");
        assert_eq!(ep(&e).collect(8), vec![(EPOLLIN, 7)]);
        assert_eq!(ep(&e).collect(8), vec![(EPOLLIN, 7)]);
        let mut b = [0u8; 4];
        r.ops.read(&r, &mut b, None).expect("read");
        assert!(ep(&e).collect(8).is_empty());
    }

    #[test]
    fn edge_triggered_once_per_write() {
        let e = new_epoll();
        let (r, w) = pipe();
        ep(&e).add(&e, 3, &r, EPOLLIN | EPOLLET, 1).expect("add");
        w.ops.write(&w, b"x", None).expect("write");
        assert_eq!(ep(&e).collect(8).len(), 1);
        assert!(ep(&e).collect(8).is_empty());
        w.ops.write(&w, b"y", None).expect("write");
        assert_eq!(ep(&e).collect(8).len(), 1);
        assert!(ep(&e).collect(8).is_empty());
    }

    #[test]
    fn oneshot_needs_mod() {
        let e = new_epoll();
        let (r, w) = pipe();
        ep(&e)
            .add(&e, 3, &r, EPOLLIN | EPOLLONESHOT, 1)
            .expect("add");
        w.ops.write(&w, b"x", None).expect("write");
        assert_eq!(ep(&e).collect(8).len(), 1);
        assert!(ep(&e).collect(8).is_empty());
        ep(&e)
            .modify(3, &r, EPOLLIN | EPOLLONESHOT, 2)
            .expect("mod");
        assert_eq!(ep(&e).collect(8), vec![(EPOLLIN, 2)]);
    }

    #[test]
    fn entry_dies_with_its_file() {
        let e = new_epoll();
        let (r, w) = pipe();
        ep(&e).add(&e, 3, &r, EPOLLIN, 1).expect("add");
        w.ops.write(&w, b"x", None).expect("write");
        drop(r);
        assert!(ep(&e).collect(8).is_empty());
        assert!(ep(&e).state.borrow().entries.is_empty());
    }

    #[test]
    fn hangup_is_always_reported() {
        let e = new_epoll();
        let (r, w) = pipe();
        ep(&e).add(&e, 3, &r, EPOLLOUT, 1).expect("add");
        drop(w);
        assert_eq!(ep(&e).collect(8), vec![(EPOLLHUP, 1)]);
    }

    #[test]
    fn cycles_and_self_are_refused() {
        let a = new_epoll();
        let b = new_epoll();
        assert_eq!(ep(&a).add(&a, 3, &a, EPOLLIN, 0), Err(Errno::EINVAL));
        ep(&a).add(&a, 4, &b, EPOLLIN, 0).expect("a watches b");
        assert_eq!(ep(&b).add(&b, 3, &a, EPOLLIN, 0), Err(Errno::ELOOP));
        assert_eq!(ep(&a).add(&a, 4, &b, EPOLLIN, 0), Err(Errno::EEXIST));
    }

    #[test]
    fn nested_epoll_is_readable() {
        let outer = new_epoll();
        let inner = new_epoll();
        let (r, w) = pipe();
        ep(&inner).add(&inner, 3, &r, EPOLLIN, 1).expect("add");
        ep(&outer).add(&outer, 4, &inner, EPOLLIN, 9).expect("add");
        assert!(ep(&outer).collect(8).is_empty());
        w.ops.write(&w, b"x", None).expect("write");
        assert_eq!(ep(&outer).collect(8), vec![(EPOLLIN, 9)]);
    }

    #[test]
    fn small_maxevents_round_robins() {
        let e = new_epoll();
        let (r1, w1) = pipe();
        let (r2, w2) = pipe();
        ep(&e).add(&e, 3, &r1, EPOLLIN, 1).expect("add");
        ep(&e).add(&e, 5, &r2, EPOLLIN, 2).expect("add");
        w1.ops.write(&w1, b"x", None).expect("write");
        w2.ops.write(&w2, b"x", None).expect("write");
        assert_eq!(ep(&e).collect(1)[0].1, 1);
        assert_eq!(ep(&e).collect(1)[0].1, 2);
        assert_eq!(ep(&e).collect(1)[0].1, 1);
    }
}
