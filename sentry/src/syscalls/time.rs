//! Time: clocks, sleeps, alarm.

use super::{SysErr, SysResult};
use crate::errno::Errno;
use crate::kernel::cputime;
use crate::kernel::timers::{self, Notify, Periodic, PosixTimer};
use crate::kernel::{Blocked, Kernel, Pid, Tid};
use std::time::{Duration, Instant};

fn clock_now(clock: i32) -> Result<libc::timespec, Errno> {
    let host_clock = match clock {
        libc::CLOCK_REALTIME | libc::CLOCK_REALTIME_COARSE | libc::CLOCK_TAI => clock,
        libc::CLOCK_MONOTONIC
        | libc::CLOCK_MONOTONIC_RAW
        | libc::CLOCK_MONOTONIC_COARSE
        | libc::CLOCK_BOOTTIME => clock,
        // Process and thread CPU clocks: approximate by the sandbox's monotonic time.
        libc::CLOCK_PROCESS_CPUTIME_ID | libc::CLOCK_THREAD_CPUTIME_ID => libc::CLOCK_MONOTONIC,
        c if c < 0 => libc::CLOCK_MONOTONIC, // CPU clocks of other processes/threads
        _ => return Err(Errno::EINVAL),
    };
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out pointer.
    unsafe { libc::clock_gettime(host_clock, &mut ts) };
    Ok(ts)
}

/// What a CPU-time clock id reads (kernel/cputime.rs).
enum CpuClock {
    /// A process clock, computed by the sentry: (pid, CPUCLOCK_*).
    Process(Pid, i32),
    /// A host thread clock id, to be read by the calling thread's own stub.
    Thread(i32),
}

/// Resolves CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID and the dynamic ids of
/// clock_getcpuclockid/pthread_getcpuclockid; None for the other clocks.
fn cpu_clock(k: &Kernel, tid: Tid, clock: i32) -> Result<Option<CpuClock>, Errno> {
    let (id, thread, which) = match clock {
        libc::CLOCK_PROCESS_CPUTIME_ID => (0, false, cputime::CPUCLOCK_SCHED),
        libc::CLOCK_THREAD_CPUTIME_ID => (0, true, cputime::CPUCLOCK_SCHED),
        c if c < 0 => cputime::decode(c).ok_or(Errno::EINVAL)?,
        _ => return Ok(None),
    };
    // Clock ids carry the pid or tid as the workload knows it.
    let id = if id == 0 { 0 } else { k.id_in_ns(tid, id) };
    let me = k.task(tid);
    if thread {
        // Linux: only threads of the caller's own thread group.
        let host = if id == 0 {
            me.stub.tid
        } else {
            k.tasks
                .get(&id)
                .filter(|t| t.tgid == me.tgid)
                .ok_or(Errno::EINVAL)?
                .stub
                .tid
        };
        return Ok(Some(CpuClock::Thread(cputime::thread_clock(host, which))));
    }
    // Any task names its process's clock.
    let pid = if id == 0 {
        me.tgid
    } else {
        k.tasks
            .get(&id)
            .map(|t| t.tgid)
            .or_else(|| k.procs.contains_key(&id).then_some(id))
            .ok_or(Errno::EINVAL)?
    };
    Ok(Some(CpuClock::Process(pid, which)))
}

fn write_cpu_clock(k: &mut Kernel, tid: Tid, c: CpuClock, addr: u64) -> SysResult {
    match c {
        CpuClock::Process(pid, which) => {
            let t = k.process_cpu(pid);
            let d = if which == cputime::CPUCLOCK_VIRT {
                t.user
            } else {
                t.total()
            };
            k.mem_of(tid)?.write(addr, &timespec_bytes(d))?;
            Ok(0)
        }
        CpuClock::Thread(host_clock) => {
            // The host writes straight into the caller's buffer (same address space), with
            // Linux's own EFAULT checks.
            crate::mm::space::before_host_write(k, tid, addr, 16)?;
            let t = k.task(tid);
            let mut scratch = t.regs;
            let r = t
                .stub
                .inject(
                    &mut scratch,
                    libc::SYS_clock_gettime,
                    [host_clock as u64, addr, 0, 0, 0, 0],
                )
                .map_err(|_| Errno::EFAULT)?;
            if (-4095..0).contains(&r) {
                return Err(Errno(-r as i32).into());
            }
            Ok(0)
        }
    }
}

pub fn sys_clock_gettime(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if let Some(c) = cpu_clock(k, tid, a[0] as i32)? {
        return write_cpu_clock(k, tid, c, a[1]);
    }
    let ts = clock_now(a[0] as i32)?;
    k.mem_of(tid)?.write_pod(a[1], &ts)?;
    Ok(0)
}

pub fn sys_clock_getres(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let clock = a[0] as i32;
    let res = match cpu_clock(k, tid, clock)? {
        // The scheduler's clocks count nanoseconds; the others are sampled at each tick.
        Some(CpuClock::Process(_, cputime::CPUCLOCK_SCHED)) => Duration::from_nanos(1),
        Some(CpuClock::Thread(c)) if c & 3 == cputime::CPUCLOCK_SCHED => Duration::from_nanos(1),
        Some(_) => cputime::tick(),
        None => {
            clock_now(clock)?;
            match clock {
                libc::CLOCK_REALTIME_COARSE | libc::CLOCK_MONOTONIC_COARSE => cputime::tick(),
                _ => Duration::from_nanos(1),
            }
        }
    };
    if a[1] != 0 {
        k.mem_of(tid)?.write(a[1], &timespec_bytes(res))?;
    }
    Ok(0)
}

pub fn sys_gettimeofday(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let ts = clock_now(libc::CLOCK_REALTIME)?;
    let mem = k.mem_of(tid)?;
    if a[0] != 0 {
        mem.write_u64(a[0], ts.tv_sec as u64)?;
        mem.write_u64(a[0] + 8, (ts.tv_nsec / 1000) as u64)?;
    }
    if a[1] != 0 {
        mem.write(a[1], &[0u8; 8])?;
    }
    Ok(0)
}

pub fn sys_time(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let ts = clock_now(libc::CLOCK_REALTIME)?;
    if a[0] != 0 {
        k.mem_of(tid)?.write_u64(a[0], ts.tv_sec as u64)?;
    }
    Ok(ts.tv_sec)
}

fn read_timespec(k: &Kernel, tid: Tid, addr: u64) -> Result<Duration, Errno> {
    let mem = k.mem_of(tid)?;
    let sec = mem.read_u64(addr)? as i64;
    let nsec = mem.read_u64(addr + 8)? as i64;
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(sec as u64, nsec as u32))
}

fn sleep_until(k: &mut Kernel, tid: Tid, d: Instant) -> SysResult {
    if Instant::now() >= d {
        return Ok(0);
    }
    k.task_mut(tid).deadline = Some(d);
    Err(SysErr::Block(Blocked {
        nr: 0,
        args: [0; 6],
        deadline: Some(d),
        host_fds: vec![],
        no_restart: true,
    }))
}

pub fn sys_nanosleep(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let d = match k.task(tid).deadline {
        Some(d) => d,
        None => Instant::now() + read_timespec(k, tid, a[0])?,
    };
    sleep_until(k, tid, d)
}

pub fn sys_clock_nanosleep(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (clock, flags, req) = (a[0] as i32, a[1], a[2]);
    clock_now(clock)?;
    let d = match k.task(tid).deadline {
        Some(d) => d,
        None => {
            let v = read_timespec(k, tid, req)?;
            if flags & libc::TIMER_ABSTIME as u64 != 0 {
                let now = clock_now(clock)?;
                let now = Duration::new(now.tv_sec as u64, now.tv_nsec as u32);
                Instant::now() + v.saturating_sub(now)
            } else {
                Instant::now() + v
            }
        }
    };
    sleep_until(k, tid, d)
}

/// A sleep cut short by a signal: write the remaining time and fail with EINTR.
pub fn sleep_interrupted(k: &mut Kernel, tid: Tid, nr: u64, a: [u64; 6]) -> Option<SysResult> {
    let (rem_addr, absolute) = if nr as i64 == libc::SYS_nanosleep {
        (a[1], false)
    } else {
        (a[3], a[1] & 1 != 0)
    };
    let deadline = k.tasks.get(&tid)?.deadline;
    if rem_addr != 0 && !absolute {
        if let (Some(d), Ok(mem)) = (deadline, k.mem_of(tid)) {
            let left = d.saturating_duration_since(Instant::now());
            let ts = libc::timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: left.subsec_nanos() as i64,
            };
            let _ = mem.write_pod(rem_addr, &ts);
        }
    }
    Some(Err(SysErr::Interrupted))
}

pub fn sys_alarm(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let pid = k.task(tid).tgid;
    // alarm(2) is ITIMER_REAL; seconds beyond INT_MAX are clamped as Linux does.
    let secs = a[0].min(i32::MAX as u64);
    let prev = k.set_alarm(pid, (secs != 0).then(|| Duration::from_secs(secs)));
    // Linux rounds the time left to the nearest second, and reports at least 1 while armed.
    Ok(prev
        .map(|d| {
            let us = d.subsec_micros();
            d.as_secs() + u64::from(us >= 500_000 || (d.as_secs() == 0 && us > 0))
        })
        .unwrap_or(0) as i64)
}

// ---------------------------------------------------------------------------------------
// Interval timers and POSIX timers (state and firing in kernel/timers.rs).

/// Reads a `struct timeval` as a Duration (EINVAL when out of range).
fn read_timeval(mem: &crate::mm::Mem, addr: u64) -> Result<Duration, Errno> {
    let sec = mem.read_u64(addr)? as i64;
    let usec = mem.read_u64(addr + 8)? as i64;
    if sec < 0 || !(0..1_000_000).contains(&usec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(sec as u64, usec as u32 * 1000))
}

fn timeval_bytes(d: Duration) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0..8].copy_from_slice(&(d.as_secs() as i64).to_le_bytes());
    b[8..16].copy_from_slice(&(d.subsec_micros() as i64).to_le_bytes());
    b
}

/// Reads a `struct timespec` as a Duration (EINVAL when out of range).
pub fn read_timespec_mem(mem: &crate::mm::Mem, addr: u64) -> Result<Duration, Errno> {
    let sec = mem.read_u64(addr)? as i64;
    let nsec = mem.read_u64(addr + 8)? as i64;
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(sec as u64, nsec as u32))
}

pub fn timespec_bytes(d: Duration) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0..8].copy_from_slice(&(d.as_secs() as i64).to_le_bytes());
    b[8..16].copy_from_slice(&(d.subsec_nanos() as i64).to_le_bytes());
    b
}

/// An armed interval timer reports at least 1 us left, as Linux does.
fn itimer_left(d: Duration, armed: bool) -> Duration {
    if armed && d < Duration::from_micros(1) {
        Duration::from_micros(1)
    } else {
        d
    }
}

pub fn sys_getitimer(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let which = a[0] as i32;
    if !(0..3).contains(&which) {
        return Err(Errno::EINVAL.into());
    }
    let pid = k.task(tid).tgid;
    let (left, iv) = k.timers.get_itimer(pid, which as usize);
    let armed = k
        .timers
        .itimers
        .get(&pid)
        .is_some_and(|t| t[which as usize].armed());
    let mut b = [0u8; 32];
    b[0..16].copy_from_slice(&timeval_bytes(iv));
    b[16..32].copy_from_slice(&timeval_bytes(itimer_left(left, armed)));
    k.mem_of(tid)?.write(a[1], &b)?;
    Ok(0)
}

pub fn sys_setitimer(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let which = a[0] as i32;
    if !(0..3).contains(&which) {
        return Err(Errno::EINVAL.into());
    }
    let mem = k.mem_of(tid)?;
    // A NULL new value disarms, as Linux has always accepted.
    let (iv, val) = if a[1] == 0 {
        (Duration::ZERO, Duration::ZERO)
    } else {
        (read_timeval(&mem, a[1])?, read_timeval(&mem, a[1] + 16)?)
    };
    let pid = k.task(tid).tgid;
    let was_armed = k
        .timers
        .itimers
        .get(&pid)
        .is_some_and(|t| t[which as usize].armed());
    let (old_left, old_iv) = k.timers.set_itimer(pid, which as usize, val, iv);
    if a[2] != 0 {
        let mut b = [0u8; 32];
        b[0..16].copy_from_slice(&timeval_bytes(old_iv));
        b[16..32].copy_from_slice(&timeval_bytes(itimer_left(old_left, was_armed)));
        mem.write(a[2], &b)?;
    }
    Ok(0)
}

/// Clocks timer_create accepts; Err for the rest (EINVAL, or EOPNOTSUPP for clocks that
/// exist but cannot drive timers).
fn timer_clock_ok(k: &Kernel, tid: Tid, clock: i32) -> Result<(), Errno> {
    match clock {
        libc::CLOCK_REALTIME
        | libc::CLOCK_MONOTONIC
        | libc::CLOCK_PROCESS_CPUTIME_ID
        | libc::CLOCK_THREAD_CPUTIME_ID
        | libc::CLOCK_BOOTTIME
        | libc::CLOCK_TAI => Ok(()),
        libc::CLOCK_REALTIME_ALARM | libc::CLOCK_BOOTTIME_ALARM => {
            // CAP_WAKE_ALARM
            if k.proc_of(tid).creds.has_cap(35) {
                Ok(())
            } else {
                Err(Errno::EPERM)
            }
        }
        libc::CLOCK_MONOTONIC_RAW | libc::CLOCK_REALTIME_COARSE | libc::CLOCK_MONOTONIC_COARSE => {
            Err(Errno::EOPNOTSUPP)
        }
        // CPU clocks of other processes and threads: approximated by the monotonic clock.
        c if c < 0 => Ok(()),
        _ => Err(Errno::EINVAL),
    }
}

pub fn sys_timer_create(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let clock = a[0] as i32;
    timer_clock_ok(k, tid, clock)?;
    let mem = k.mem_of(tid)?;
    let pid = k.task(tid).tgid;
    // struct sigevent: sigval (8), signo (4), notify (4), union { tid (4), ... }.
    let (value, signo, notify, thread) = if a[1] == 0 {
        (u64::MAX, libc::SIGALRM, timers::SIGEV_SIGNAL, 0)
    } else {
        let b = mem.read_vec(a[1], 20)?;
        let rd = |i: usize| i32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let value = u64::from_le_bytes(b[0..8].try_into().unwrap_or([0; 8]));
        (value, rd(8), rd(12), rd(16))
    };
    let notify = match notify {
        timers::SIGEV_NONE => Notify::None,
        timers::SIGEV_SIGNAL | timers::SIGEV_THREAD => Notify::Process,
        n if n == timers::SIGEV_THREAD_ID
            || n == timers::SIGEV_THREAD_ID | timers::SIGEV_SIGNAL =>
        {
            if !k.tasks.get(&thread).is_some_and(|t| t.tgid == pid) {
                return Err(Errno::EINVAL.into());
            }
            Notify::Thread(thread)
        }
        _ => return Err(Errno::EINVAL.into()),
    };
    if notify != Notify::None && !(1..=64).contains(&signo) {
        return Err(Errno::EINVAL.into());
    }
    let t = PosixTimer {
        clock,
        notify,
        signo,
        value,
        timer: Periodic::default(),
        overrun: 0,
    };
    let id = k.timers.create_posix(pid, t)?;
    // Without a sigevent, si_value is the timer id.
    if a[1] == 0 {
        if let Ok(t) = k.timers.posix_mut(pid, id) {
            t.value = id as u64;
        }
    }
    if let Err(e) = mem.write_i32(a[2], id) {
        let _ = k.timers.delete_posix(pid, id);
        return Err(e.into());
    }
    Ok(0)
}

fn itimerspec_bytes(iv: Duration, left: Duration) -> [u8; 32] {
    let mut b = [0u8; 32];
    b[0..16].copy_from_slice(&timespec_bytes(iv));
    b[16..32].copy_from_slice(&timespec_bytes(left));
    b
}

/// Reads a `struct itimerspec` as (interval, value).
pub fn read_itimerspec(mem: &crate::mm::Mem, addr: u64) -> Result<(Duration, Duration), Errno> {
    Ok((
        read_timespec_mem(mem, addr)?,
        read_timespec_mem(mem, addr + 16)?,
    ))
}

/// The schedule an (it_interval, it_value) pair sets: relative, or absolute on `clock`.
pub fn schedule(clock: i32, absolute: bool, iv: Duration, val: Duration) -> Periodic {
    if val.is_zero() {
        return Periodic::default();
    }
    let next = if absolute {
        timers::abs_to_instant(clock, val)
    } else {
        timers::after(val)
    };
    Periodic::new(Some(next), iv)
}

pub fn sys_timer_settime(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (id, flags) = (a[0] as i32, a[1] as i32);
    let pid = k.task(tid).tgid;
    let mem = k.mem_of(tid)?;
    k.timers.posix_mut(pid, id)?;
    let (iv, val) = read_itimerspec(&mem, a[2])?;
    let t = k.timers.posix_mut(pid, id)?;
    let now = Instant::now();
    let old = itimerspec_bytes(t.timer.interval, t.timer.remaining(now));
    t.timer = schedule(t.clock, flags & libc::TIMER_ABSTIME != 0, iv, val);
    t.overrun = 0;
    if a[3] != 0 {
        mem.write(a[3], &old)?;
    }
    Ok(0)
}

pub fn sys_timer_gettime(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let pid = k.task(tid).tgid;
    let t = k.timers.posix_mut(pid, a[0] as i32)?;
    let b = itimerspec_bytes(t.timer.interval, t.timer.remaining(Instant::now()));
    k.mem_of(tid)?.write(a[1], &b)?;
    Ok(0)
}

pub fn sys_timer_getoverrun(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let pid = k.task(tid).tgid;
    Ok(k.timers.posix_mut(pid, a[0] as i32)?.overrun as i64)
}

pub fn sys_timer_delete(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let pid = k.task(tid).tgid;
    let id = a[0] as i32;
    k.timers.delete_posix(pid, id)?;
    // A signal of the deleted timer that is still queued is discarded, as in Linux.
    let threads = k.proc_of(tid).threads.clone();
    let forget = |q: &mut crate::kernel::signal::SigQueue| {
        let before = q.queue.len();
        q.queue
            .retain(|i| !(i.code == timers::SI_TIMER && i.pid == id));
        if q.queue.len() != before {
            q.mask = q
                .queue
                .iter()
                .fold(0, |m, i| m | crate::kernel::signal::bit(i.signo));
        }
    };
    forget(&mut k.proc_of_mut(tid).shared_pending);
    for t in threads {
        if let Some(t) = k.tasks.get_mut(&t) {
            forget(&mut t.pending);
        }
    }
    Ok(0)
}

/// adjtimex(2) for the sandbox's CLOCK_REALTIME, which is the host's and which the sandbox
/// may never steer: a read (modes 0, or ADJ_OFFSET_SS_READ) fills `struct timex` with the
/// state of a clock that no NTP daemon disciplines, as a fresh Linux reports it, and returns
/// TIME_ERROR; any change is EPERM (the CAP_SYS_TIME a container may hold is not the host's).
pub fn sys_adjtimex(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    adjtime_realtime(k, tid, a[0])
}

/// clock_adjtime(2): CLOCK_REALTIME as adjtimex; other clocks cannot be adjusted
/// (EOPNOTSUPP), unknown ones are EINVAL.
pub fn sys_clock_adjtime(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let clock = a[0] as i32;
    if clock == libc::CLOCK_REALTIME {
        return adjtime_realtime(k, tid, a[1]);
    }
    if cpu_clock(k, tid, clock)?.is_some() {
        return Err(Errno::EOPNOTSUPP.into());
    }
    clock_now(clock)?;
    Err(Errno::EOPNOTSUPP.into())
}

fn adjtime_realtime(k: &mut Kernel, tid: Tid, buf: u64) -> SysResult {
    const ADJ_OFFSET_SINGLESHOT: u32 = 0x0001;
    const ADJ_OFFSET_READONLY: u32 = 0x2000;
    const ADJ_ADJTIME: u32 = 0x8000;
    const STA_UNSYNC: i32 = 0x0040;
    const TIME_ERROR: i64 = 5;
    let mem = k.mem_of(tid)?;
    let modes = mem.read_u32(buf)?;
    if modes & ADJ_ADJTIME != 0 {
        if modes & ADJ_OFFSET_SINGLESHOT == 0 {
            return Err(Errno::EINVAL.into());
        }
        if modes & ADJ_OFFSET_READONLY == 0 {
            return Err(Errno::EPERM.into());
        }
    } else if modes != 0 {
        return Err(Errno::EPERM.into());
    }
    // struct timex (208 bytes on x86-64): modes stays, the rest is the clock's state.
    let mut t = [0u8; 208];
    t[0..4].copy_from_slice(&modes.to_le_bytes());
    let put =
        |t: &mut [u8; 208], off: usize, v: i64| t[off..off + 8].copy_from_slice(&v.to_le_bytes());
    put(&mut t, 24, 16_000_000); // maxerror, us
    put(&mut t, 32, 16_000_000); // esterror, us
    t[40..44].copy_from_slice(&STA_UNSYNC.to_le_bytes());
    put(&mut t, 48, 2); // constant
    put(&mut t, 56, 1); // precision, us
    put(&mut t, 64, 32_768_000); // tolerance, ppm << 16
    let now = clock_now(libc::CLOCK_REALTIME)?;
    put(&mut t, 72, now.tv_sec);
    put(&mut t, 80, now.tv_nsec / 1000); // microseconds: STA_NANO is not set
    put(&mut t, 88, 1_000_000 / 100); // tick, us per USER_HZ tick
    mem.write(buf, &t)?;
    Ok(TIME_ERROR)
}
