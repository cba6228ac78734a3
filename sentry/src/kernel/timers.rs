//! Timers: interval timers (ITIMER_REAL/VIRTUAL/PROF; alarm(2) is ITIMER_REAL), POSIX timers
//! (timer_create), and wake-ups for timer files (timerfd).
//!
//! Every deadline is a host CLOCK_MONOTONIC [`Instant`]. The event loop sleeps until the
//! nearest one ([`Timers::next_deadline`], consulted by `Kernel::wait_events`) and then fires
//! what is due ([`Kernel::fire_timers`]): signals for itimers and POSIX timers, and a
//! `dirty` wake-up for timer files so that tasks blocked on them (read, poll, epoll) retry.
//!
//! Expirations are counted exactly from the arming time and the interval (missed periods
//! become timerfd ticks or POSIX timer overruns), but wake-ups for signal timers are spaced
//! at least [`MIN_WAKE`] apart, so a timer with a 1 ns interval cannot make the sentry spin.

use super::signal::SigInfo;
use super::task::{Pid, Tid};
use super::Kernel;
use crate::errno::Errno;
use std::collections::{BTreeMap, HashMap};
use std::rc::Weak;
use std::time::{Duration, Instant};

/// si_code of signals sent by POSIX timers.
pub const SI_TIMER: i32 = -2;
/// Closest spacing of wake-ups for periodic signal timers.
pub const MIN_WAKE: Duration = Duration::from_micros(500);
/// POSIX timers one process may hold (Linux bounds them by RLIMIT_SIGPENDING).
pub const MAX_POSIX_TIMERS: usize = 4096;

/// sigev_notify values.
pub const SIGEV_SIGNAL: i32 = 0;
pub const SIGEV_NONE: i32 = 1;
pub const SIGEV_THREAD: i32 = 2;
pub const SIGEV_THREAD_ID: i32 = 4;

/// A one-shot or periodic expiry schedule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Periodic {
    /// Next expiry; None when disarmed.
    pub next: Option<Instant>,
    /// Zero for one-shot timers.
    pub interval: Duration,
    /// Do not wake the event loop for this timer before this instant (see MIN_WAKE).
    pub floor: Option<Instant>,
}

impl Periodic {
    pub fn new(next: Option<Instant>, interval: Duration) -> Periodic {
        Periodic {
            next,
            interval,
            floor: None,
        }
    }

    pub fn armed(&self) -> bool {
        self.next.is_some()
    }

    /// When the event loop should wake up for this timer.
    pub fn wake_at(&self) -> Option<Instant> {
        self.next.map(|n| self.floor.map_or(n, |f| n.max(f)))
    }

    /// Counts the expiries up to `now` and moves `next` past `now` (or disarms a one-shot).
    pub fn expire(&mut self, now: Instant) -> u64 {
        let Some(n) = self.next else { return 0 };
        if n > now {
            return 0;
        }
        if self.interval.is_zero() {
            self.next = None;
            return 1;
        }
        let iv = self.interval.as_nanos();
        let late = (now - n).as_nanos();
        let count = late / iv + 1;
        let step = iv.saturating_mul(count).min(u64::MAX as u128) as u64;
        self.next = n.checked_add(Duration::from_nanos(step));
        count.min(u64::MAX as u128) as u64
    }

    /// Time until the next expiry (zero when disarmed, like it_value).
    pub fn remaining(&self, now: Instant) -> Duration {
        self.next
            .map(|n| n.saturating_duration_since(now))
            .unwrap_or_default()
    }
}

/// Something outside the kernel proper whose state changes at a deadline (a timerfd).
pub trait TimerSource {
    /// When the source next changes state without anyone touching it. None while it has
    /// nothing to announce (disarmed, or already readable).
    fn next_wakeup(&self) -> Option<Instant>;
    /// Accounts for the passing of time up to `now`; true if the source's readiness changed.
    fn advance(&self, now: Instant) -> bool;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    None,
    /// A signal to the whole process.
    Process,
    /// A signal to one thread (SIGEV_THREAD_ID).
    Thread(Tid),
}

#[derive(Debug, Clone)]
pub struct PosixTimer {
    pub clock: i32,
    pub notify: Notify,
    pub signo: i32,
    /// sigev_value (sival_int / sival_ptr), reported as si_value.
    pub value: u64,
    pub timer: Periodic,
    /// Expirations merged into the last queued signal (timer_getoverrun).
    pub overrun: i32,
}

#[derive(Default)]
pub struct Timers {
    /// Interval timers per process: [ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF]; only
    /// processes with an armed one have an entry.
    pub itimers: HashMap<Pid, [Periodic; 3]>,
    /// POSIX timers per process, by timer id.
    pub posix: HashMap<Pid, BTreeMap<i32, PosixTimer>>,
    /// Timer files; dead ones are pruned as the loop passes over them.
    pub sources: Vec<Weak<dyn TimerSource>>,
}

impl std::fmt::Debug for Timers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timers")
            .field("itimers", &self.itimers)
            .field("posix", &self.posix)
            .field("sources", &self.sources.len())
            .finish()
    }
}

/// The signal each interval timer sends.
pub const ITIMER_SIGNALS: [i32; 3] = [libc::SIGALRM, libc::SIGVTALRM, libc::SIGPROF];

/// Host time of `clock` as a Duration since its epoch; clocks the sentry does not
/// distinguish (CPU-time clocks) read the monotonic clock.
pub fn clock_duration(clock: i32) -> Duration {
    let host = match clock {
        libc::CLOCK_REALTIME | libc::CLOCK_REALTIME_ALARM | libc::CLOCK_TAI => libc::CLOCK_REALTIME,
        libc::CLOCK_BOOTTIME | libc::CLOCK_BOOTTIME_ALARM => libc::CLOCK_BOOTTIME,
        _ => libc::CLOCK_MONOTONIC,
    };
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out pointer.
    unsafe { libc::clock_gettime(host, &mut ts) };
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// Converts an absolute time on `clock` into an Instant (past times become "now").
pub fn abs_to_instant(clock: i32, at: Duration) -> Instant {
    let now_i = Instant::now();
    let now_c = clock_duration(clock);
    match at.checked_sub(now_c) {
        Some(d) => now_i
            .checked_add(d)
            .unwrap_or(now_i + Duration::from_secs(1 << 40)),
        None => now_i,
    }
}

/// `now + d`, saturating far in the future instead of overflowing.
pub fn after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(1 << 40))
}

impl Timers {
    /// The nearest instant at which something must fire.
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut best: Option<Instant> = None;
        let mut consider = |d: Option<Instant>| {
            if let Some(d) = d {
                best = Some(best.map_or(d, |b| b.min(d)));
            }
        };
        for its in self.itimers.values() {
            for it in its {
                consider(it.wake_at());
            }
        }
        for ts in self.posix.values() {
            for t in ts.values() {
                consider(t.timer.wake_at());
            }
        }
        for s in &self.sources {
            if let Some(s) = s.upgrade() {
                consider(s.next_wakeup());
            }
        }
        best
    }

    /// Registers a timer file so its deadlines wake the event loop.
    pub fn add_source(&mut self, s: Weak<dyn TimerSource>) {
        self.sources.push(s);
    }

    /// Sets interval timer `which` of `pid`; returns the old (remaining value, interval).
    pub fn set_itimer(
        &mut self,
        pid: Pid,
        which: usize,
        value: Duration,
        interval: Duration,
    ) -> (Duration, Duration) {
        let now = Instant::now();
        let its = self.itimers.entry(pid).or_default();
        let old = (its[which].remaining(now), its[which].interval);
        its[which] = if value.is_zero() {
            Periodic::default()
        } else {
            Periodic::new(Some(after(value)), interval)
        };
        if its.iter().all(|t| !t.armed()) {
            self.itimers.remove(&pid);
        }
        old
    }

    pub fn get_itimer(&self, pid: Pid, which: usize) -> (Duration, Duration) {
        let now = Instant::now();
        match self.itimers.get(&pid) {
            Some(its) if its[which].armed() => (its[which].remaining(now), its[which].interval),
            _ => (Duration::ZERO, Duration::ZERO),
        }
    }

    /// Creates a POSIX timer; returns its id (the lowest free one, from 0 as Linux does).
    pub fn create_posix(&mut self, pid: Pid, t: PosixTimer) -> Result<i32, Errno> {
        let ts = self.posix.entry(pid).or_default();
        if ts.len() >= MAX_POSIX_TIMERS {
            return Err(Errno::EAGAIN);
        }
        let mut id = 0;
        for &k in ts.keys() {
            if k != id {
                break;
            }
            id += 1;
        }
        ts.insert(id, t);
        Ok(id)
    }

    pub fn posix_mut(&mut self, pid: Pid, id: i32) -> Result<&mut PosixTimer, Errno> {
        self.posix
            .get_mut(&pid)
            .and_then(|ts| ts.get_mut(&id))
            .ok_or(Errno::EINVAL)
    }

    pub fn delete_posix(&mut self, pid: Pid, id: i32) -> Result<PosixTimer, Errno> {
        let ts = self.posix.get_mut(&pid).ok_or(Errno::EINVAL)?;
        let t = ts.remove(&id).ok_or(Errno::EINVAL)?;
        if ts.is_empty() {
            self.posix.remove(&pid);
        }
        Ok(t)
    }

    /// execve: POSIX timers are deleted, interval timers survive.
    pub fn exec(&mut self, pid: Pid) {
        self.posix.remove(&pid);
    }

    /// The process is gone: drop all its timers.
    pub fn forget_process(&mut self, pid: Pid) {
        self.posix.remove(&pid);
        self.itimers.remove(&pid);
    }
}

thread_local! {
    /// Set by objects that change state where no `&mut Kernel` is at hand (inotify events
    /// queued by VFS hooks and by the last close of a file); the event loop turns it into
    /// `dirty` (in fire_timers, which runs on every pass).
    static WAKE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Asks the event loop to retry blocked syscalls on its next pass.
pub fn request_wake() {
    WAKE.with(|w| w.set(true));
}

impl Kernel {
    /// Arms (or disarms) a process's alarm; returns the time that was left. alarm(2) is
    /// ITIMER_REAL with no interval.
    pub fn set_alarm(&mut self, pid: Pid, after: Option<Duration>) -> Option<Duration> {
        let (old, _) = self
            .timers
            .set_itimer(pid, 0, after.unwrap_or_default(), Duration::ZERO);
        (!old.is_zero()).then_some(old)
    }

    /// Fires every timer that is due: signals for interval and POSIX timers, a wake-up
    /// (`dirty`) for timer files whose readiness changed.
    pub fn fire_timers(&mut self) {
        if WAKE.with(|w| w.replace(false)) {
            self.dirty = true;
        }
        let t = &self.timers;
        if t.itimers.is_empty() && t.posix.is_empty() && t.sources.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut changed = false;
        self.timers.sources.retain(|w| match w.upgrade() {
            Some(s) => {
                changed |= s.advance(now);
                true
            }
            None => false,
        });
        if changed {
            self.dirty = true;
        }
        let mut sigs: Vec<(Pid, i32)> = Vec::new();
        self.timers.itimers.retain(|pid, its| {
            for (i, it) in its.iter_mut().enumerate() {
                if it.expire(now) > 0 {
                    sigs.push((*pid, ITIMER_SIGNALS[i]));
                    space_wakeup(it, now);
                }
            }
            its.iter().any(|t| t.armed())
        });
        for (pid, sig) in sigs {
            self.send_to_process(pid, SigInfo::kernel(sig));
        }
        let mut due: Vec<(Pid, i32, u64)> = Vec::new();
        for (pid, ts) in self.timers.posix.iter_mut() {
            for (id, t) in ts.iter_mut() {
                let n = t.timer.expire(now);
                if n > 0 {
                    space_wakeup(&mut t.timer, now);
                    due.push((*pid, *id, n));
                }
            }
        }
        for (pid, id, n) in due {
            self.posix_timer_signal(pid, id, n);
        }
    }

    /// Queues the signal of POSIX timer `id` for `n` expirations; while an earlier signal of
    /// the same timer is still pending, the expirations are added to its overrun instead.
    fn posix_timer_signal(&mut self, pid: Pid, id: i32, n: u64) {
        let Some(t) = self
            .timers
            .posix
            .get(&pid)
            .and_then(|ts| ts.get(&id))
            .cloned()
        else {
            return;
        };
        let extra = i32::try_from(n - 1).unwrap_or(i32::MAX);
        let target = match t.notify {
            Notify::None => {
                if let Ok(pt) = self.timers.posix_mut(pid, id) {
                    pt.overrun = extra;
                }
                return;
            }
            Notify::Thread(tid) if self.tasks.get(&tid).is_some_and(|x| x.tgid == pid) => Some(tid),
            _ => None,
        };
        // Already pending? Merge into it.
        let queued = match target {
            Some(tid) => self.tasks.get_mut(&tid).map(|x| &mut x.pending),
            None => self.procs.get_mut(&pid).map(|p| &mut p.shared_pending),
        }
        .and_then(|q| {
            q.queue
                .iter_mut()
                .find(|i| i.code == SI_TIMER && i.pid == id && i.signo == t.signo)
        });
        if let Some(info) = queued {
            let ov = (info.uid as i32).saturating_add(extra).saturating_add(1);
            info.uid = ov as u32;
            if let Ok(pt) = self.timers.posix_mut(pid, id) {
                pt.overrun = ov;
            }
            return;
        }
        if let Ok(pt) = self.timers.posix_mut(pid, id) {
            pt.overrun = extra;
        }
        let info = SigInfo {
            signo: t.signo,
            code: SI_TIMER,
            pid: id,
            uid: extra as u32,
            status: t.value as i32,
            value: t.value,
            ..Default::default()
        };
        match target {
            Some(tid) => self.send_to_thread(tid, info),
            None => self.send_to_process(pid, info),
        }
    }
}

/// After a periodic signal timer fired, keep its next wake-up at least MIN_WAKE away. Only
/// the wake-up moves: expire() still counts every period from the original phase, so the
/// skipped ones become overruns.
fn space_wakeup(p: &mut Periodic, now: Instant) {
    p.floor = (!p.interval.is_zero() && p.interval < MIN_WAKE).then(|| now + MIN_WAKE);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oneshot_expires_once() {
        let now = Instant::now();
        let mut p = Periodic::new(Some(now), Duration::ZERO);
        assert_eq!(p.expire(now), 1);
        assert!(!p.armed());
        assert_eq!(p.expire(now + Duration::from_secs(1)), 0);
    }

    #[test]
    fn periodic_counts_missed_periods() {
        let now = Instant::now();
        let mut p = Periodic::new(Some(now), Duration::from_millis(10));
        assert_eq!(p.expire(now + Duration::from_millis(35)), 4);
        assert_eq!(p.next, Some(now + Duration::from_millis(40)));
        assert_eq!(p.expire(now + Duration::from_millis(39)), 0);
    }

    #[test]
    fn tiny_interval_huge_lateness_does_not_overflow() {
        let now = Instant::now();
        let mut p = Periodic::new(Some(now), Duration::from_nanos(1));
        let n = p.expire(now + Duration::from_secs(3600));
        assert_eq!(n, 3600 * 1_000_000_000 + 1);
    }

    #[test]
    fn posix_ids_fill_lowest_gap() {
        let mut t = Timers::default();
        let mk = || PosixTimer {
            clock: libc::CLOCK_MONOTONIC,
            notify: Notify::None,
            signo: 0,
            value: 0,
            timer: Periodic::default(),
            overrun: 0,
        };
        assert_eq!(t.create_posix(1, mk()), Ok(0));
        assert_eq!(t.create_posix(1, mk()), Ok(1));
        assert_eq!(t.create_posix(1, mk()), Ok(2));
        assert!(t.delete_posix(1, 1).is_ok());
        assert_eq!(t.create_posix(1, mk()), Ok(1));
        assert_eq!(t.delete_posix(1, 7).err(), Some(Errno::EINVAL));
    }
}
