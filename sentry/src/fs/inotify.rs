//! inotify: watches on inodes and the events that changes made inside the sandbox cause.
//!
//! The VFS and the syscalls call the `on_*` hooks below (one line each) where Linux calls
//! fsnotify: names created, removed and moved in directories, files opened, read, written,
//! closed, and attributes changed. Changes made on the host behind the sandbox's back are
//! not seen. The sentry is single-threaded, so the registry of watched inodes is
//! thread-local; it is keyed by inode address (a watch holds its inode, so the address
//! stays unique), and every hook returns at once while nothing is watched.
//!
//! Events that sit on a watched directory for one of its entries carry the entry's name.
//! Like Linux, an event for a file also goes to its parent directory's watches (with the
//! name), `IN_ISDIR` marks events whose subject is a directory, identical consecutive
//! events are merged, and `IN_DELETE_SELF` comes when the last link is gone and the file
//! is no longer open, followed by `IN_IGNORED` as the watch disappears.

use crate::errno::Errno;
use crate::vfs::file::{FileOps, OpenFile, POLLIN};
use crate::vfs::inode::Inode;
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::{Rc, Weak};

pub const IN_ACCESS: u32 = 0x1;
pub const IN_MODIFY: u32 = 0x2;
pub const IN_ATTRIB: u32 = 0x4;
pub const IN_CLOSE_WRITE: u32 = 0x8;
pub const IN_CLOSE_NOWRITE: u32 = 0x10;
pub const IN_OPEN: u32 = 0x20;
pub const IN_MOVED_FROM: u32 = 0x40;
pub const IN_MOVED_TO: u32 = 0x80;
pub const IN_CREATE: u32 = 0x100;
pub const IN_DELETE: u32 = 0x200;
pub const IN_DELETE_SELF: u32 = 0x400;
pub const IN_MOVE_SELF: u32 = 0x800;
pub const IN_UNMOUNT: u32 = 0x2000;
pub const IN_Q_OVERFLOW: u32 = 0x4000;
pub const IN_IGNORED: u32 = 0x8000;
pub const IN_ONLYDIR: u32 = 0x0100_0000;
pub const IN_DONT_FOLLOW: u32 = 0x0200_0000;
pub const IN_EXCL_UNLINK: u32 = 0x0400_0000;
pub const IN_MASK_CREATE: u32 = 0x1000_0000;
pub const IN_MASK_ADD: u32 = 0x2000_0000;
pub const IN_ISDIR: u32 = 0x4000_0000;
pub const IN_ONESHOT: u32 = 0x8000_0000;
pub const IN_ALL_EVENTS: u32 = 0xfff;

/// Linux's default /proc/sys/fs/inotify/max_queued_events.
const MAX_QUEUED: usize = 16384;
/// Linux's default max_user_watches is far larger; this bounds sentry memory per instance.
const MAX_WATCHES: usize = 65536;
/// sizeof(struct inotify_event) without the name.
const EVENT_HDR: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Event {
    wd: i32,
    mask: u32,
    cookie: u32,
    name: Vec<u8>,
}

impl Event {
    /// Bytes this event takes in a read: the header plus the name, NUL-padded to a
    /// multiple of the header size as Linux does.
    fn size(&self) -> usize {
        EVENT_HDR + padded_len(&self.name)
    }
}

fn padded_len(name: &[u8]) -> usize {
    if name.is_empty() {
        0
    } else {
        (name.len() + 1).div_ceil(EVENT_HDR) * EVENT_HDR
    }
}

#[derive(Debug)]
struct Watch {
    inode: Rc<Inode>,
    mask: u32,
}

#[derive(Debug, Default)]
pub struct InotifyState {
    watches: BTreeMap<i32, Watch>,
    next_wd: i32,
    queue: VecDeque<Event>,
    bytes: usize,
    overflowed: bool,
    seq: u64,
}

type Registry = HashMap<usize, Vec<(Weak<RefCell<InotifyState>>, i32)>>;

thread_local! {
    /// Watched inodes: inode address -> (instance, watch descriptor).
    static WATCHED: RefCell<Registry> = RefCell::new(HashMap::new());
    /// Number of watches in WATCHED: the hooks' fast path.
    static ACTIVE: Cell<usize> = const { Cell::new(0) };
    static COOKIE: Cell<u32> = const { Cell::new(0) };
}

fn key(inode: &Inode) -> usize {
    inode as *const Inode as usize
}

fn active() -> bool {
    ACTIVE.with(|a| a.get()) > 0
}

impl InotifyState {
    fn push(&mut self, ev: Event) -> bool {
        if self.queue.back() == Some(&ev) {
            return false;
        }
        if self.queue.len() >= MAX_QUEUED {
            if !self.overflowed {
                self.overflowed = true;
                let ov = Event {
                    wd: -1,
                    mask: IN_Q_OVERFLOW,
                    cookie: 0,
                    name: Vec::new(),
                };
                self.bytes += ov.size();
                self.queue.push_back(ov);
                self.seq += 1;
            }
            return true;
        }
        self.bytes += ev.size();
        self.queue.push_back(ev);
        self.seq += 1;
        true
    }
}

/// Drops registry entries of `wd` in `st` for `inode` (and of dead instances).
fn unregister(inode: &Inode, st: &Rc<RefCell<InotifyState>>, wd: i32) {
    WATCHED.with(|w| {
        let mut w = w.borrow_mut();
        let k = key(inode);
        if let Some(v) = w.get_mut(&k) {
            let before = v.len();
            v.retain(|(s, d)| {
                s.strong_count() > 0
                    && !(*d == wd && s.upgrade().is_some_and(|s2| Rc::ptr_eq(&s2, st)))
            });
            let removed = before - v.len();
            ACTIVE.with(|a| a.set(a.get().saturating_sub(removed)));
            if v.is_empty() {
                w.remove(&k);
            }
        }
    });
}

/// Queues `mask` for the watches on `inode` (name empty: the inode itself).
fn deliver(inode: &Inode, mask: u32, cookie: u32, name: &[u8]) {
    let targets: Vec<(Rc<RefCell<InotifyState>>, i32)> = WATCHED.with(|w| {
        w.borrow()
            .get(&key(inode))
            .map(|v| {
                v.iter()
                    .filter_map(|(s, wd)| s.upgrade().map(|s| (s, *wd)))
                    .collect()
            })
            .unwrap_or_default()
    });
    let mut queued = false;
    for (st, wd) in targets {
        let Ok(mut s) = st.try_borrow_mut() else {
            continue;
        };
        let Some(w) = s.watches.get(&wd) else {
            continue;
        };
        let wmask = w.mask;
        let always = mask & (IN_IGNORED | IN_Q_OVERFLOW | IN_UNMOUNT) != 0;
        if !always && wmask & mask & IN_ALL_EVENTS == 0 {
            continue;
        }
        queued |= s.push(Event {
            wd,
            mask,
            cookie,
            name: name.to_vec(),
        });
        if wmask & IN_ONESHOT != 0 && !always {
            if let Some(w) = s.watches.remove(&wd) {
                s.push(Event {
                    wd,
                    mask: IN_IGNORED,
                    cookie: 0,
                    name: Vec::new(),
                });
                drop(s);
                unregister(&w.inode, &st, wd);
            }
        }
    }
    if queued {
        crate::kernel::timers::request_wake();
    }
}

fn isdir(inode: &Inode) -> u32 {
    if inode.is_dir() {
        IN_ISDIR
    } else {
        0
    }
}

/// An event about `inode` itself: to its directory's watches with its name, then to its
/// own (Linux's order). The directory is the one it was last linked or moved into; like a
/// dentry's parent, it still hears about a file that was unlinked while open.
fn notify_inode(inode: &Inode, mask: u32) {
    let mask = mask | isdir(inode);
    let parent = inode.parent.borrow().upgrade();
    if let Some(p) = parent {
        if !std::ptr::eq(Rc::as_ptr(&p), inode) {
            let name = inode.name.borrow().clone();
            deliver(&p, mask, 0, &name);
        }
    }
    deliver(inode, mask, 0, b"");
}

/// The watches on `inode` end: IN_IGNORED, and they are dropped.
fn drop_watches(inode: &Inode) {
    let targets: Vec<(Rc<RefCell<InotifyState>>, i32)> = WATCHED.with(|w| {
        w.borrow()
            .get(&key(inode))
            .map(|v| {
                v.iter()
                    .filter_map(|(s, wd)| s.upgrade().map(|s| (s, *wd)))
                    .collect()
            })
            .unwrap_or_default()
    });
    for (st, wd) in targets {
        if let Ok(mut s) = st.try_borrow_mut() {
            if s.watches.remove(&wd).is_some() {
                s.push(Event {
                    wd,
                    mask: IN_IGNORED,
                    cookie: 0,
                    name: Vec::new(),
                });
            }
        }
        unregister(inode, &st, wd);
    }
    crate::kernel::timers::request_wake();
}

fn watch_count(inode: &Inode) -> usize {
    WATCHED.with(|w| w.borrow().get(&key(inode)).map_or(0, |v| v.len()))
}

/// IN_DELETE_SELF once the inode has no links and nothing but `holders` references (the
/// caller's) and the watches themselves keep it.
fn maybe_deleted(inode: &Rc<Inode>, holders: usize) {
    if inode.meta.try_borrow().map_or(true, |m| m.nlink > 0) && !inode.is_dir() {
        return;
    }
    let n = watch_count(inode);
    if n == 0 || Rc::strong_count(inode) > holders + n {
        return;
    }
    // (Self-destruction events carry no IN_ISDIR on Linux.)
    deliver(inode, IN_DELETE_SELF, 0, b"");
    drop_watches(inode);
}

// --- hooks ---------------------------------------------------------------------------

/// `child` was linked into `dir` as `name` (create, mkdir, mknod, symlink, link, bind).
pub fn on_create(dir: &Inode, name: &[u8], child: &Inode) {
    if !active() {
        return;
    }
    deliver(dir, IN_CREATE | isdir(child), 0, name);
}

/// `name` (the inode `victim`) was removed from `dir`. The caller holds one reference.
pub fn on_unlink(dir: &Inode, name: &[u8], victim: &Rc<Inode>) {
    if !active() {
        return;
    }
    // Linux's order: the link count change, the inode's end (when nothing holds it open),
    // then the directory entry's removal.
    if victim.is_dir() {
        deliver(victim, IN_DELETE_SELF, 0, b"");
        drop_watches(victim);
    } else {
        deliver(victim, IN_ATTRIB, 0, b"");
        maybe_deleted(victim, 1);
    }
    deliver(dir, IN_DELETE | isdir(victim), 0, name);
}

/// `src` moved from `odir`/`oname` to `ndir`/`nname`, replacing `replaced` if any.
pub fn on_rename(
    odir: &Inode,
    oname: &[u8],
    ndir: &Inode,
    nname: &[u8],
    src: &Rc<Inode>,
    replaced: Option<&Rc<Inode>>,
) {
    if !active() {
        return;
    }
    let cookie = COOKIE.with(|c| {
        c.set(c.get().wrapping_add(1));
        c.get()
    });
    let d = isdir(src);
    deliver(odir, IN_MOVED_FROM | d, cookie, oname);
    deliver(ndir, IN_MOVED_TO | d, cookie, nname);
    if let Some(r) = replaced {
        if !Rc::ptr_eq(r, src) {
            if !r.is_dir() {
                deliver(r, IN_ATTRIB, 0, b"");
            }
            maybe_deleted(r, 1);
        }
    }
    deliver(src, IN_MOVE_SELF, 0, b"");
}

/// RENAME_EXCHANGE of `a` (at `odir`/`oname`) and `b` (at `ndir`/`nname`).
pub fn on_exchange(
    odir: &Inode,
    oname: &[u8],
    ndir: &Inode,
    nname: &[u8],
    a: &Rc<Inode>,
    b: &Rc<Inode>,
) {
    if !active() {
        return;
    }
    on_rename(odir, oname, ndir, nname, a, None);
    on_rename(ndir, nname, odir, oname, b, None);
}

/// Data written or truncated.
pub fn on_modify(f: &OpenFile) {
    if let Some(i) = &f.inode {
        on_modify_inode(i);
    }
}

/// Data changed through a path (truncate).
pub fn on_modify_inode(i: &Inode) {
    if !active() {
        return;
    }
    notify_inode(i, IN_MODIFY);
}

/// `n` bytes written (nothing happens for 0, as in Linux).
pub fn on_write(f: &OpenFile, n: usize) {
    if n > 0 {
        on_modify(f);
    }
}

/// `n` bytes read.
pub fn on_access(f: &OpenFile, n: usize) {
    if !active() || n == 0 {
        return;
    }
    if let Some(i) = &f.inode {
        notify_inode(i, IN_ACCESS);
    }
}

/// A directory was listed (getdents).
pub fn on_readdir(f: &OpenFile) {
    on_access(f, 1);
}

/// Metadata changed (chmod, chown, utimes).
pub fn on_attrib(inode: &Inode) {
    if !active() {
        return;
    }
    notify_inode(inode, IN_ATTRIB);
}

/// A path was opened.
pub fn on_open(f: &OpenFile) {
    if !active() || f.flags.get() & libc::O_PATH as u32 != 0 {
        return;
    }
    if let Some(i) = &f.inode {
        notify_inode(i, IN_OPEN);
    }
}

/// The last reference to an open file description went away.
pub fn on_close(f: &OpenFile) {
    if !active() || f.flags.get() & libc::O_PATH as u32 != 0 {
        return;
    }
    let Some(i) = &f.inode else { return };
    let m = if f.writable() {
        IN_CLOSE_WRITE
    } else {
        IN_CLOSE_NOWRITE
    };
    notify_inode(i, m);
    // References that go away with this description: its own, and its ops' for regular
    // files and memfds.
    let ops = f.ops.as_any();
    let own = 1 + usize::from(
        ops.is::<crate::fs::regular::RegularFile>() || ops.is::<crate::fs::memfd::MemFd>(),
    );
    maybe_deleted(i, own);
}

// --- the inotify file ----------------------------------------------------------------

/// The argument checks inotify_add_watch makes before looking at the path.
pub fn check_mask(mask: u32) -> Result<(), Errno> {
    let known = IN_ALL_EVENTS
        | IN_ONLYDIR
        | IN_DONT_FOLLOW
        | IN_EXCL_UNLINK
        | IN_MASK_CREATE
        | IN_MASK_ADD
        | IN_ONESHOT;
    if mask & known == 0 || (mask & IN_MASK_ADD != 0 && mask & IN_MASK_CREATE != 0) {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

#[derive(Debug, Default)]
pub struct Inotify {
    st: Rc<RefCell<InotifyState>>,
}

impl Inotify {
    pub fn of(f: &OpenFile) -> Option<&Inotify> {
        f.ops.as_any().downcast_ref::<Inotify>()
    }

    /// inotify_add_watch on a resolved inode.
    pub fn add_watch(&self, inode: &Rc<Inode>, mask: u32) -> Result<i32, Errno> {
        check_mask(mask)?;
        if mask & IN_ONLYDIR != 0 && !inode.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let keep = IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK;
        let mut s = self.st.try_borrow_mut().map_err(|_| Errno::EBUSY)?;
        if let Some((&wd, w)) = s
            .watches
            .iter_mut()
            .find(|(_, w)| Rc::ptr_eq(&w.inode, inode))
        {
            if mask & IN_MASK_CREATE != 0 {
                return Err(Errno::EEXIST);
            }
            w.mask = if mask & IN_MASK_ADD != 0 {
                w.mask | (mask & keep)
            } else {
                mask & keep
            };
            return Ok(wd);
        }
        if s.watches.len() >= MAX_WATCHES {
            return Err(Errno::ENOSPC);
        }
        // Linux hands out descriptors from 1 upwards and does not reuse them soon.
        s.next_wd = s.next_wd.checked_add(1).ok_or(Errno::ENOSPC)?;
        let wd = s.next_wd;
        s.watches.insert(
            wd,
            Watch {
                inode: inode.clone(),
                mask: mask & keep,
            },
        );
        drop(s);
        WATCHED.with(|w| {
            w.borrow_mut()
                .entry(key(inode))
                .or_default()
                .push((Rc::downgrade(&self.st), wd))
        });
        ACTIVE.with(|a| a.set(a.get() + 1));
        Ok(wd)
    }

    pub fn rm_watch(&self, wd: i32) -> Result<(), Errno> {
        let mut s = self.st.try_borrow_mut().map_err(|_| Errno::EBUSY)?;
        let w = s.watches.remove(&wd).ok_or(Errno::EINVAL)?;
        s.push(Event {
            wd,
            mask: IN_IGNORED,
            cookie: 0,
            name: Vec::new(),
        });
        drop(s);
        unregister(&w.inode, &self.st, wd);
        crate::kernel::timers::request_wake();
        Ok(())
    }
}

impl Drop for Inotify {
    fn drop(&mut self) {
        // Take our watches out of the registry.
        let watches = match self.st.try_borrow_mut() {
            Ok(mut s) => std::mem::take(&mut s.watches),
            Err(_) => return,
        };
        for (wd, w) in watches {
            unregister(&w.inode, &self.st, wd);
        }
    }
}

impl FileOps for Inotify {
    fn read(&self, _f: &OpenFile, buf: &mut [u8], _off: Option<u64>) -> Result<usize, Errno> {
        let mut s = self.st.try_borrow_mut().map_err(|_| Errno::EAGAIN)?;
        let Some(first) = s.queue.front() else {
            return Err(Errno::EAGAIN);
        };
        if first.size() > buf.len() {
            return Err(Errno::EINVAL);
        }
        let mut n = 0;
        while let Some(ev) = s.queue.front() {
            let size = ev.size();
            if n + size > buf.len() {
                break;
            }
            let out = &mut buf[n..n + size];
            out.fill(0);
            out[0..4].copy_from_slice(&ev.wd.to_ne_bytes());
            out[4..8].copy_from_slice(&ev.mask.to_ne_bytes());
            out[8..12].copy_from_slice(&ev.cookie.to_ne_bytes());
            out[12..16].copy_from_slice(&((size - EVENT_HDR) as u32).to_ne_bytes());
            out[EVENT_HDR..EVENT_HDR + ev.name.len()].copy_from_slice(&ev.name);
            n += size;
            s.bytes -= size;
            s.queue.pop_front();
        }
        if s.queue.is_empty() {
            s.overflowed = false;
        }
        Ok(n)
    }

    fn write(&self, _f: &OpenFile, _buf: &[u8], _off: Option<u64>) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }

    fn poll(&self) -> u32 {
        match self.st.try_borrow() {
            Ok(s) if !s.queue.is_empty() => POLLIN,
            _ => 0,
        }
    }

    fn event_seq(&self) -> u64 {
        self.st.try_borrow().map(|s| s.seq).unwrap_or(0)
    }

    fn ioctl(&self, _f: &OpenFile, req: u64, arg: u64, mem: &crate::mm::Mem) -> Result<i64, Errno> {
        if req == libc::FIONREAD {
            let n = self.st.try_borrow().map(|s| s.bytes).unwrap_or(0);
            mem.write_i32(arg, n.min(i32::MAX as usize) as i32)?;
            return Ok(0);
        }
        Err(Errno::ENOTTY)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::overlay::new_mem_file;

    fn read_all(i: &Inotify) -> Vec<(i32, u32, Vec<u8>)> {
        let f = OpenFile::new(0, None, vec![], Box::new(Inotify::default()));
        let mut buf = vec![0u8; 4096];
        let n = i.read(&f, &mut buf, None).unwrap_or(0);
        let mut out = Vec::new();
        let mut o = 0;
        while o < n {
            let wd = i32::from_ne_bytes(buf[o..o + 4].try_into().unwrap());
            let mask = u32::from_ne_bytes(buf[o + 4..o + 8].try_into().unwrap());
            let len = u32::from_ne_bytes(buf[o + 12..o + 16].try_into().unwrap()) as usize;
            let name = buf[o + 16..o + 16 + len]
                .iter()
                .copied()
                .take_while(|&c| c != 0)
                .collect();
            out.push((wd, mask, name));
            o += 16 + len;
        }
        out
    }

    #[test]
    fn create_modify_delete_in_a_directory() {
        let dir = Inode::new_dir(1, 0o755, 0, 0);
        let ino = Inotify::default();
        let wd = ino
            .add_watch(&dir, IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE)
            .expect("watch");
        assert_eq!(wd, 1);
        let file = new_mem_file(1, 0o644, 0, 0);
        dir.link_child(b"a", file.clone()).expect("link");
        on_create(&dir, b"a", &file);
        let f = OpenFile::new(
            libc::O_WRONLY as u32,
            Some(file.clone()),
            vec![],
            Box::new(Inotify::default()),
        );
        on_modify(&f);
        on_modify(&f); // merged with the previous one
        drop(f); // the last reference: IN_CLOSE_WRITE
        file.meta.borrow_mut().nlink = 0;
        on_unlink(&dir, b"a", &file);
        let evs = read_all(&ino);
        assert_eq!(
            evs,
            vec![
                (1, IN_CREATE, b"a".to_vec()),
                (1, IN_MODIFY, b"a".to_vec()),
                (1, IN_CLOSE_WRITE, b"a".to_vec()),
                (1, IN_DELETE, b"a".to_vec()),
            ]
        );
        assert_eq!(ino.rm_watch(1), Ok(()));
        assert_eq!(ino.rm_watch(1), Err(Errno::EINVAL));
        assert_eq!(read_all(&ino), vec![(1, IN_IGNORED, vec![])]);
    }

    #[test]
    fn registry_empties_when_instance_dies() {
        let dir = Inode::new_dir(1, 0o755, 0, 0);
        let before = ACTIVE.with(|a| a.get());
        {
            let ino = Inotify::default();
            ino.add_watch(&dir, IN_CREATE).expect("watch");
            assert_eq!(ACTIVE.with(|a| a.get()), before + 1);
        }
        assert_eq!(ACTIVE.with(|a| a.get()), before);
    }

    #[test]
    fn small_buffer_is_einval() {
        let dir = Inode::new_dir(1, 0o755, 0, 0);
        let ino = Inotify::default();
        ino.add_watch(&dir, IN_CREATE).expect("watch");
        let child = new_mem_file(1, 0o644, 0, 0);
        on_create(&dir, b"some-long-name", &child);
        let f = OpenFile::new(0, None, vec![], Box::new(Inotify::default()));
        let mut small = [0u8; 20];
        assert_eq!(ino.read(&f, &mut small, None), Err(Errno::EINVAL));
        assert_eq!(padded_len(b"some-long-name"), 16);
        assert_eq!(padded_len(b"0123456789abcdef"), 32);
    }
}
