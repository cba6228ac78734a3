//! signalfd: reading dequeues pending signals in the file's mask, as `struct
//! signalfd_siginfo` records.
//!
//! As in Linux, what a signalfd holds depends on who looks: a read takes signals from the
//! *reading* task's queues (its own, then its process's), and readiness is that of the
//! polling task. `FileOps` has no kernel access, so reads go through [`read`] (a hook in
//! the read syscalls) and readiness is a cache that [`refresh`] fills from the caller's
//! queues before poll, select and epoll_wait evaluate their files. The sentry is
//! single-threaded; the registry of live signalfds is a thread-local list of weak refs.

use crate::errno::Errno;
use crate::kernel::signal::{SigInfo, SigSet, UNBLOCKABLE};
use crate::kernel::timers::SI_TIMER;
use crate::kernel::{Kernel, Tid};
use crate::vfs::file::{FileOps, OpenFile, POLLIN};
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

/// sizeof(struct signalfd_siginfo).
pub const SIGINFO_SIZE: usize = 128;

#[derive(Debug, Default)]
pub struct SigFdState {
    pub mask: Cell<SigSet>,
    /// Pending signals in the mask, as of the last refresh.
    ready: Cell<SigSet>,
    seq: Cell<u64>,
}

#[derive(Debug)]
pub struct SignalFd {
    pub state: Rc<SigFdState>,
}

thread_local! {
    static LIVE: RefCell<Vec<Weak<SigFdState>>> = const { RefCell::new(Vec::new()) };
}

impl SignalFd {
    pub fn new(mask: SigSet) -> SignalFd {
        let state = Rc::new(SigFdState::default());
        state.mask.set(mask & !UNBLOCKABLE);
        LIVE.with(|l| {
            let mut l = l.borrow_mut();
            l.retain(|w| w.strong_count() > 0);
            l.push(Rc::downgrade(&state));
        });
        SignalFd { state }
    }

    pub fn of(f: &OpenFile) -> Option<&SignalFd> {
        f.ops.as_any().downcast_ref::<SignalFd>()
    }
}

/// The signals pending for `tid` (its own and its process's).
fn pending_of(k: &Kernel, tid: Tid) -> SigSet {
    let Some(t) = k.tasks.get(&tid) else {
        return 0;
    };
    let shared = k.procs.get(&t.tgid).map_or(0, |p| p.shared_pending.mask);
    t.pending.mask | shared
}

/// Recomputes every signalfd's readiness as seen by `tid`, which is about to poll files.
pub fn refresh(k: &Kernel, tid: Tid) {
    let live = LIVE.with(|l| {
        l.borrow()
            .iter()
            .filter_map(|w| w.upgrade())
            .collect::<Vec<_>>()
    });
    if live.is_empty() {
        return;
    }
    let pending = pending_of(k, tid);
    for s in live {
        let now = pending & s.mask.get();
        if now & !s.ready.get() != 0 {
            s.seq.set(s.seq.get().wrapping_add(1));
        }
        s.ready.set(now);
    }
}

/// Serialises a dequeued signal as `struct signalfd_siginfo`.
pub fn siginfo_bytes(i: &SigInfo) -> [u8; SIGINFO_SIZE] {
    let mut b = [0u8; SIGINFO_SIZE];
    let put32 = |b: &mut [u8; SIGINFO_SIZE], o: usize, v: u32| {
        b[o..o + 4].copy_from_slice(&v.to_le_bytes())
    };
    put32(&mut b, 0, i.signo as u32);
    put32(&mut b, 4, i.errno as u32);
    put32(&mut b, 8, i.code as u32);
    let fault = matches!(
        i.signo,
        libc::SIGSEGV | libc::SIGBUS | libc::SIGFPE | libc::SIGILL | libc::SIGTRAP
    ) && i.code > 0;
    if fault {
        b[72..80].copy_from_slice(&i.addr.to_le_bytes()); // ssi_addr
    } else if i.code == SI_TIMER {
        put32(&mut b, 24, i.pid as u32); // ssi_tid: the timer id
        put32(&mut b, 32, i.uid); // ssi_overrun
        put32(&mut b, 44, i.value as u32); // ssi_int
        b[48..56].copy_from_slice(&i.value.to_le_bytes()); // ssi_ptr
    } else {
        put32(&mut b, 12, crate::kernel::pidns::vpid(i.pid) as u32); // ssi_pid
        put32(&mut b, 16, i.uid); // ssi_uid
        if i.signo == libc::SIGCHLD && i.code > 0 {
            put32(&mut b, 40, i.status as u32); // ssi_status
        } else if i.code < 0 {
            // sigqueue and friends carry a value.
            put32(&mut b, 44, i.status as u32); // ssi_int
            let ptr = if i.value != 0 {
                i.value
            } else {
                i.status as u32 as u64
            };
            b[48..56].copy_from_slice(&ptr.to_le_bytes()); // ssi_ptr
        }
    }
    b
}

/// The read syscalls' hook: None if `f` is not a signalfd, else the read's outcome, with
/// the records in `buf`.
pub fn read(
    k: &mut Kernel,
    tid: Tid,
    f: &OpenFile,
    buf: &mut [u8],
) -> Option<Result<usize, Errno>> {
    let sfd = SignalFd::of(f)?;
    if !f.readable() {
        return Some(Err(Errno::EBADF));
    }
    if buf.len() < SIGINFO_SIZE {
        return Some(Err(Errno::EINVAL));
    }
    let mask = sfd.state.mask.get();
    let mut n = 0;
    while n + SIGINFO_SIZE <= buf.len() {
        let Some(t) = k.tasks.get_mut(&tid) else {
            break;
        };
        let pid = t.tgid;
        let info = match t.pending.take(!mask) {
            Some(i) => Some(i),
            None => k
                .procs
                .get_mut(&pid)
                .and_then(|p| p.shared_pending.take(!mask)),
        };
        let Some(info) = info else { break };
        buf[n..n + SIGINFO_SIZE].copy_from_slice(&siginfo_bytes(&info));
        n += SIGINFO_SIZE;
    }
    refresh(k, tid);
    Some(if n == 0 { Err(Errno::EAGAIN) } else { Ok(n) })
}

impl FileOps for SignalFd {
    /// Reads happen in [`read`], which can reach the kernel's signal queues.
    fn read(&self, _f: &OpenFile, _buf: &mut [u8], _off: Option<u64>) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }
    fn write(&self, _f: &OpenFile, _buf: &[u8], _off: Option<u64>) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }
    fn poll(&self) -> u32 {
        if self.state.ready.get() != 0 {
            POLLIN
        } else {
            0
        }
    }
    fn event_seq(&self) -> u64 {
        self.state.seq.get()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siginfo_layout() {
        let b = siginfo_bytes(&SigInfo {
            signo: libc::SIGUSR1,
            code: 0,
            pid: 42,
            uid: 7,
            ..Default::default()
        });
        assert_eq!(
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            libc::SIGUSR1 as u32
        );
        assert_eq!(u32::from_le_bytes([b[12], b[13], b[14], b[15]]), 42);
        assert_eq!(u32::from_le_bytes([b[16], b[17], b[18], b[19]]), 7);
        let t = siginfo_bytes(&SigInfo {
            signo: 34,
            code: SI_TIMER,
            pid: 3,
            uid: 2,
            value: 0x1234_5678_9abc,
            ..Default::default()
        });
        assert_eq!(u32::from_le_bytes([t[24], t[25], t[26], t[27]]), 3);
        assert_eq!(u32::from_le_bytes([t[32], t[33], t[34], t[35]]), 2);
        assert_eq!(
            u64::from_le_bytes(t[48..56].try_into().unwrap()),
            0x1234_5678_9abc
        );
    }
}
