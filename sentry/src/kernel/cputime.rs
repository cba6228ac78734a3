//! CPU time. A workload thread runs in a stub thread, so its CPU time is the stub's, read from
//! the host: the sentry samples a stub process's CPU clocks with clock_gettime (Linux lets a
//! process read any other process's CPU clock in its pid namespace), and a thread's own clock
//! is read by injecting the call into that thread's stub (host thread clocks are readable only
//! from inside the thread group; see syscalls/time.rs). Time the sentry spends serving a
//! syscall is not counted: the workload's system time is what its stub spends in the host
//! kernel.

use super::{Kernel, Pid, RunState};
use crate::mm::Mem;
use std::sync::OnceLock;
use std::time::Duration;

/// User and system CPU time, and the peak resident set that rusage reports beside them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub user: Duration,
    pub sys: Duration,
    /// Peak RSS in KiB (ru_maxrss); `add` keeps the larger, as Linux's cmaxrss does.
    pub maxrss_kb: u64,
}

/// USER_HZ: the unit of times(2) and /proc/pid/stat.
pub const USER_HZ: u128 = 100;

impl CpuTimes {
    pub fn total(&self) -> Duration {
        self.user + self.sys
    }

    pub fn add(self, o: CpuTimes) -> CpuTimes {
        CpuTimes {
            user: self.user + o.user,
            sys: self.sys + o.sys,
            maxrss_kb: self.maxrss_kb.max(o.maxrss_kb),
        }
    }

    /// (user, system) in clock ticks.
    pub fn ticks(&self) -> (u64, u64) {
        let t = |d: Duration| (d.as_nanos() * USER_HZ / 1_000_000_000) as u64;
        (t(self.user), t(self.sys))
    }
}

// The CPU clock id encoding of linux/posix-timers.h.
pub const CPUCLOCK_PROF: i32 = 0;
pub const CPUCLOCK_VIRT: i32 = 1;
pub const CPUCLOCK_SCHED: i32 = 2;
const CPUCLOCK_PERTHREAD: i32 = 4;

pub fn process_clock(pid: i32, which: i32) -> i32 {
    ((!pid) << 3) | which
}

pub fn thread_clock(tid: i32, which: i32) -> i32 {
    ((!tid) << 3) | CPUCLOCK_PERTHREAD | which
}

/// A dynamic CPU clock id (negative) as (pid or tid, per-thread, which clock); None when
/// it is not one Linux accepts (`which` of 3 is invalid).
pub fn decode(clock: i32) -> Option<(i32, bool, i32)> {
    if clock >= 0 || clock & 3 == 3 {
        return None;
    }
    Some((!(clock >> 3), clock & CPUCLOCK_PERTHREAD != 0, clock & 3))
}

fn host_clock(id: i32) -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out pointer; a bad clock id only makes the call fail.
    if unsafe { libc::clock_gettime(id, &mut ts) } != 0 {
        return None;
    }
    Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// A host process's CPU times: the precise total (the scheduler's clock) divided between
/// user and system in the proportion of the tick-sampled clocks, like Linux's
/// cputime_adjust.
pub fn host_process(pid: i32) -> Option<CpuTimes> {
    let total = host_clock(process_clock(pid, CPUCLOCK_SCHED))?;
    let all = host_clock(process_clock(pid, CPUCLOCK_PROF)).unwrap_or_default();
    let user = host_clock(process_clock(pid, CPUCLOCK_VIRT)).unwrap_or_default();
    Some(split(total, user, all))
}

fn split(total: Duration, user_sample: Duration, all_sample: Duration) -> CpuTimes {
    let sys_sample = all_sample.saturating_sub(user_sample);
    if sys_sample.is_zero() {
        return CpuTimes {
            user: total,
            ..Default::default()
        };
    }
    if user_sample.is_zero() {
        return CpuTimes {
            sys: total,
            ..Default::default()
        };
    }
    let sys_ns = total.as_nanos() * sys_sample.as_nanos() / all_sample.as_nanos();
    let sys = Duration::from_nanos(sys_ns.min(u64::MAX as u128) as u64).min(total);
    CpuTimes {
        user: total - sys,
        sys,
        maxrss_kb: 0,
    }
}

static TICK: OnceLock<Duration> = OnceLock::new();

/// Records the host's clock tick (the resolution of the COARSE clocks) while the sentry may
/// still make any syscall; call before sealing.
pub fn init() {
    TICK.get_or_init(|| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: valid out pointer.
        let r = unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
        if r == 0 && (ts.tv_sec, ts.tv_nsec) != (0, 0) {
            Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
        } else {
            Duration::from_millis(4)
        }
    });
}

/// The host's clock tick (TICK_NSEC): the resolution of the COARSE clocks and of the
/// tick-sampled CPU clocks.
pub fn tick() -> Duration {
    TICK.get().copied().unwrap_or(Duration::from_millis(4))
}

impl Kernel {
    /// CPU time a process has used so far, its exited threads included; a zombie's is final.
    pub fn process_cpu(&self, pid: Pid) -> CpuTimes {
        let Some(p) = self.procs.get(&pid) else {
            return CpuTimes::default();
        };
        if p.zombie.is_some() {
            return p.cpu;
        }
        p.cpu.add(host_process(p.stub_pid).unwrap_or_default())
    }

    /// Records the peak RSS of a process that is about to die (for its parent's wait4 and
    /// RUSAGE_CHILDREN): getrusage runs in one of its stopped stub threads, with scratch
    /// space just below that thread's stack red zone (nothing there matters any more).
    pub fn sample_maxrss(&mut self, pid: Pid) {
        let Some(p) = self.procs.get(&pid) else {
            return;
        };
        let stub_pid = p.stub_pid;
        let Some(t) = p
            .threads
            .iter()
            .filter_map(|t| self.tasks.get(t))
            .find(|t| matches!(t.state, RunState::InSentry | RunState::Blocked))
        else {
            return;
        };
        let addr = t.regs.rsp.wrapping_sub(512) & !15;
        let tid = t.tid;
        if crate::mm::space::before_host_write(self, tid, addr, 144).is_err() {
            return;
        }
        let Some(t) = self.tasks.get(&tid) else {
            return;
        };
        let mut scratch = t.regs;
        let r = t.stub.inject(
            &mut scratch,
            libc::SYS_getrusage,
            [libc::RUSAGE_SELF as u64, addr, 0, 0, 0, 0],
        );
        if !matches!(r, Ok(0)) {
            return;
        }
        let Ok(kb) = (Mem { pid: stub_pid }).read_u64(addr + 32) else {
            return;
        };
        // With workload memory in the memory file, a forked stub starts with no pages in its
        // host RSS; its own private pages count too.
        let kb = kb.max(crate::mm::space::private_resident_kb(stub_pid));
        if let Some(p) = self.procs.get_mut(&pid) {
            p.cpu.maxrss_kb = p.cpu.maxrss_kb.max(kb);
        }
    }

    /// Makes a process's CPU time final; call before its stub is killed. A process that
    /// shares its stub (a vfork child that never exec'd) leaves the stub's time to the
    /// process that owns it.
    pub fn freeze_cpu(&mut self, pid: Pid) {
        if self.shares_address_space(pid) {
            return;
        }
        let Some(p) = self.procs.get(&pid) else {
            return;
        };
        let now = host_process(p.stub_pid).unwrap_or_default();
        if let Some(p) = self.procs.get_mut(&pid) {
            p.cpu = p.cpu.add(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_ids() {
        // glibc: clock_getcpuclockid(pid) and pthread_getcpuclockid(tid).
        assert_eq!(process_clock(42, CPUCLOCK_SCHED), ((!42) << 3) | 2);
        assert_eq!(
            decode(process_clock(42, CPUCLOCK_SCHED)),
            Some((42, false, 2))
        );
        assert_eq!(decode(thread_clock(7, CPUCLOCK_VIRT)), Some((7, true, 1)));
        assert_eq!(decode(thread_clock(0, CPUCLOCK_PROF)), Some((0, true, 0)));
        assert_eq!(decode(((!1) << 3) | 3), None);
        assert_eq!(decode(libc::CLOCK_MONOTONIC), None);
    }

    #[test]
    fn split_like_cputime_adjust() {
        let ms = Duration::from_millis;
        assert_eq!(split(ms(100), ms(0), ms(0)).user, ms(100));
        assert_eq!(split(ms(100), ms(0), ms(8)).sys, ms(100));
        let c = split(ms(100), ms(12), ms(16));
        assert_eq!((c.user, c.sys), (ms(75), ms(25)));
    }

    #[test]
    fn own_process_clock_reads() {
        let pid = std::process::id() as i32;
        let t = host_process(pid).expect("own process clock");
        assert!(t.total() > Duration::ZERO);
        assert_eq!(
            CpuTimes {
                user: Duration::from_millis(1234),
                sys: Duration::from_millis(20),
                maxrss_kb: 0,
            }
            .ticks(),
            (123, 2)
        );
    }
}
