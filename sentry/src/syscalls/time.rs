//! Time: clocks, sleeps, alarm.

use super::{SysErr, SysResult};
use crate::errno::Errno;
use crate::kernel::{Blocked, Kernel, Tid};
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

pub fn sys_clock_gettime(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let ts = clock_now(a[0] as i32)?;
    k.mem_of(tid)?.write_pod(a[1], &ts)?;
    Ok(0)
}

pub fn sys_clock_getres(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    clock_now(a[0] as i32)?;
    if a[1] != 0 {
        let ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 1,
        };
        k.mem_of(tid)?.write_pod(a[1], &ts)?;
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
    let prev = k.set_alarm(
        pid,
        if a[0] == 0 {
            None
        } else {
            Some(Duration::from_secs(a[0]))
        },
    );
    Ok(prev
        .map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
        .unwrap_or(0) as i64)
}
