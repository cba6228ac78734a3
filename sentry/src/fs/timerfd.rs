//! timerfd: a timer whose expirations are read as a count.
//!
//! Expirations are counted lazily from the schedule whenever the file is looked at (read,
//! poll, settime/gettime); the kernel's timer registry (kernel/timers.rs) holds a `Weak`
//! to the state so that the event loop also wakes at the next expiry, which is what lets
//! a blocked read, poll or epoll_wait notice it.

use crate::errno::Errno;
use crate::kernel::timers::{Periodic, TimerSource};
use crate::vfs::file::{FileOps, OpenFile, POLLIN};
use std::any::Any;
use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

pub const TFD_TIMER_ABSTIME: u32 = 1;
pub const TFD_TIMER_CANCEL_ON_SET: u32 = 2;
/// ioctl(TFD_IOC_SET_TICKS): _IOW('T', 0, u64).
pub const TFD_IOC_SET_TICKS: u64 = 0x4008_5400;

#[derive(Debug)]
pub struct TimerState {
    pub clock: i32,
    timer: Cell<Periodic>,
    /// Expirations not read yet.
    ticks: Cell<u64>,
    /// Grows with each batch of expirations (edge-triggered epoll).
    seq: Cell<u64>,
}

impl TimerState {
    /// Counts expirations up to `now`; true if there were any.
    fn update(&self, now: Instant) -> bool {
        let mut t = self.timer.get();
        let n = t.expire(now);
        self.timer.set(t);
        if n == 0 {
            return false;
        }
        self.ticks.set(self.ticks.get().saturating_add(n));
        self.seq.set(self.seq.get().wrapping_add(1));
        true
    }
}

impl TimerSource for TimerState {
    fn next_wakeup(&self) -> Option<Instant> {
        // Once readable, later expirations only add to the count: nobody needs waking.
        if self.ticks.get() > 0 {
            return None;
        }
        self.timer.get().next
    }
    fn advance(&self, now: Instant) -> bool {
        self.update(now)
    }
}

#[derive(Debug)]
pub struct TimerFd {
    pub state: Rc<TimerState>,
}

impl TimerFd {
    pub fn new(clock: i32) -> TimerFd {
        TimerFd {
            state: Rc::new(TimerState {
                clock,
                timer: Cell::new(Periodic::default()),
                ticks: Cell::new(0),
                seq: Cell::new(0),
            }),
        }
    }

    pub fn of(f: &OpenFile) -> Option<&TimerFd> {
        f.ops.as_any().downcast_ref::<TimerFd>()
    }

    /// (interval, time to the next expiry), as timerfd_gettime reports it.
    pub fn get(&self) -> (Duration, Duration) {
        let now = Instant::now();
        self.state.update(now);
        let t = self.state.timer.get();
        (t.interval, t.remaining(now))
    }

    /// Arms or disarms; returns the old setting. Unread expirations are dropped.
    pub fn set(&self, schedule: Periodic) -> (Duration, Duration) {
        let old = self.get();
        self.state.timer.set(schedule);
        self.state.ticks.set(0);
        old
    }
}

impl FileOps for TimerFd {
    fn read(&self, _f: &OpenFile, buf: &mut [u8], _off: Option<u64>) -> Result<usize, Errno> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        self.state.update(Instant::now());
        let n = self.state.ticks.replace(0);
        if n == 0 {
            return Err(Errno::EAGAIN);
        }
        buf[..8].copy_from_slice(&n.to_ne_bytes());
        Ok(8)
    }

    fn write(&self, _f: &OpenFile, _buf: &[u8], _off: Option<u64>) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }

    fn poll(&self) -> u32 {
        self.state.update(Instant::now());
        if self.state.ticks.get() > 0 {
            POLLIN
        } else {
            0
        }
    }

    fn event_seq(&self) -> u64 {
        self.state.seq.get()
    }

    fn ioctl(&self, _f: &OpenFile, req: u64, arg: u64, mem: &crate::mm::Mem) -> Result<i64, Errno> {
        if req == TFD_IOC_SET_TICKS {
            let v = mem.read_u64(arg)?;
            if v == 0 {
                return Err(Errno::EINVAL);
            }
            self.state.ticks.set(v);
            self.state.seq.set(self.state.seq.get().wrapping_add(1));
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

    #[test]
    fn expirations_accumulate_and_read_resets() {
        let t = TimerFd::new(libc::CLOCK_MONOTONIC);
        let f = OpenFile::new(
            0,
            None,
            vec![],
            Box::new(TimerFd::new(libc::CLOCK_MONOTONIC)),
        );
        let past = Instant::now() - Duration::from_millis(35);
        t.set(Periodic::new(Some(past), Duration::from_millis(10)));
        assert_eq!(t.poll(), POLLIN);
        let mut b = [0u8; 8];
        assert_eq!(t.read(&f, &mut b, None), Ok(8));
        assert!(u64::from_ne_bytes(b) >= 4);
        assert_eq!(t.read(&f, &mut b, None), Err(Errno::EAGAIN));
        assert!(t.state.next_wakeup().is_some());
        t.set(Periodic::default());
        assert_eq!(t.state.next_wakeup(), None);
        assert_eq!(t.get(), (Duration::ZERO, Duration::ZERO));
    }
}
