//! futex(2): waits and wakes are kept in the sentry; the futex word lives in workload memory.
//!
//! Keys: see `FutexKey` (`Kernel::futex_key`). Shared anonymous memory is keyed by address
//! alone (processes share it through fork, at the same address); a false match only causes
//! a spurious wake-up, which futex users must tolerate anyway.

use super::{SysErr, SysResult};
use crate::errno::Errno;
use crate::kernel::{Blocked, FutexKey, FutexWaiter, Kernel, Tid};
use std::time::{Duration, Instant};

const FUTEX_WAIT: u32 = 0;
const FUTEX_WAKE: u32 = 1;
const FUTEX_REQUEUE: u32 = 3;
const FUTEX_CMP_REQUEUE: u32 = 4;
const FUTEX_WAKE_OP: u32 = 5;
const FUTEX_LOCK_PI: u32 = 6;
const FUTEX_UNLOCK_PI: u32 = 7;
const FUTEX_TRYLOCK_PI: u32 = 8;
const FUTEX_WAIT_BITSET: u32 = 9;
const FUTEX_WAKE_BITSET: u32 = 10;
const FUTEX_LOCK_PI2: u32 = 13;
const FUTEX_PRIVATE_FLAG: u32 = 128;
const FUTEX_CLOCK_REALTIME: u32 = 256;
const FUTEX_WAITERS: u32 = 0x8000_0000;
const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
const FUTEX_TID_MASK: u32 = 0x3fff_ffff;

fn key(k: &Kernel, tid: Tid, addr: u64, private: bool) -> Result<FutexKey, Errno> {
    if addr % 4 != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(k.futex_key(k.task(tid).tgid, addr, private))
}

/// Reads the timeout argument: relative for FUTEX_WAIT, absolute for the others.
fn deadline(
    k: &mut Kernel,
    tid: Tid,
    addr: u64,
    absolute: bool,
    realtime: bool,
) -> Result<Option<Instant>, Errno> {
    if let Some(d) = k.task(tid).deadline {
        return Ok(Some(d));
    }
    if addr == 0 {
        return Ok(None);
    }
    let mem = k.mem_of(tid)?;
    let sec = mem.read_u64(addr)? as i64;
    let nsec = mem.read_u64(addr + 8)? as i64;
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    let v = Duration::new(sec as u64, nsec as u32);
    let d = if absolute {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let clock = if realtime {
            libc::CLOCK_REALTIME
        } else {
            libc::CLOCK_MONOTONIC
        };
        // SAFETY: valid out pointer.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        Instant::now() + v.saturating_sub(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    } else {
        Instant::now() + v
    };
    k.task_mut(tid).deadline = Some(d);
    Ok(Some(d))
}

fn wait(
    k: &mut Kernel,
    tid: Tid,
    uaddr: u64,
    key: FutexKey,
    val: u32,
    bitset: u32,
    dl: Option<Instant>,
) -> SysResult {
    if bitset == 0 {
        return Err(Errno::EINVAL.into());
    }
    // A retry after we went to sleep: only a wake or the timeout ends it.
    if let Some(w) = k.task(tid).futex {
        if w.woken {
            k.task_mut(tid).futex = None;
            return Ok(0);
        }
        if dl.is_some_and(|d| Instant::now() >= d) {
            k.task_mut(tid).futex = None;
            return Err(Errno::ETIMEDOUT.into());
        }
        return Err(SysErr::Block(Blocked {
            nr: 0,
            args: [0; 6],
            deadline: dl,
            host_fds: vec![],
            no_restart: false,
        }));
    }
    let cur = k.mem_of(tid)?.read_u32(uaddr)?;
    if cur != val {
        return Err(Errno::EAGAIN.into());
    }
    if dl.is_some_and(|d| Instant::now() >= d) {
        return Err(Errno::ETIMEDOUT.into());
    }
    k.task_mut(tid).futex = Some(FutexWaiter {
        key,
        bitset,
        woken: false,
    });
    Err(SysErr::Block(Blocked {
        nr: 0,
        args: [0; 6],
        deadline: dl,
        host_fds: vec![],
        no_restart: false,
    }))
}

/// Moves up to `n` waiters from one futex to another.
fn requeue(k: &mut Kernel, from: FutexKey, to: FutexKey, n: usize) -> usize {
    let mut moved = 0;
    for t in k.tasks.values_mut() {
        if moved >= n {
            break;
        }
        if let Some(f) = t.futex.as_mut() {
            if f.key == from && !f.woken {
                f.key = to;
                moved += 1;
            }
        }
    }
    moved
}

pub fn sys_futex(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (uaddr, op, val, timeout, uaddr2, val3) =
        (a[0], a[1] as u32, a[2] as u32, a[3], a[4], a[5] as u32);
    let private = op & FUTEX_PRIVATE_FLAG != 0;
    let realtime = op & FUTEX_CLOCK_REALTIME != 0;
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    let k1 = key(k, tid, uaddr, private)?;
    match cmd {
        FUTEX_WAIT => {
            let dl = deadline(k, tid, timeout, false, false)?;
            wait(k, tid, uaddr, k1, val, u32::MAX, dl)
        }
        FUTEX_WAIT_BITSET => {
            let dl = deadline(k, tid, timeout, true, realtime)?;
            wait(k, tid, uaddr, k1, val, val3, dl)
        }
        FUTEX_WAKE => Ok(k.futex_wake(k1, val as usize, u32::MAX) as i64),
        FUTEX_WAKE_BITSET => {
            if val3 == 0 {
                return Err(Errno::EINVAL.into());
            }
            Ok(k.futex_wake(k1, val as usize, val3) as i64)
        }
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            if cmd == FUTEX_CMP_REQUEUE && k.mem_of(tid)?.read_u32(uaddr)? != val3 {
                return Err(Errno::EAGAIN.into());
            }
            let k2 = key(k, tid, uaddr2, private)?;
            let woken = k.futex_wake(k1, val as usize, u32::MAX);
            let moved = requeue(k, k1, k2, timeout as usize);
            Ok((woken + moved) as i64)
        }
        FUTEX_WAKE_OP => {
            let k2 = key(k, tid, uaddr2, private)?;
            let mem = k.mem_of(tid)?;
            // Not atomic against threads running at the same moment; glibc no longer uses it.
            let old = mem.read_u32(uaddr2)?;
            let (opn, cmp) = ((val3 >> 28) & 0xf, (val3 >> 24) & 0xf);
            let mut oparg = (val3 >> 12) & 0xfff;
            let cmparg = val3 & 0xfff;
            if opn & 8 != 0 {
                oparg = 1u32.checked_shl(oparg).unwrap_or(0);
            }
            let new = match opn & 7 {
                0 => oparg,
                1 => old.wrapping_add(oparg),
                2 => old | oparg,
                3 => old & !oparg,
                4 => old ^ oparg,
                _ => return Err(Errno::ENOSYS.into()),
            };
            mem.write_u32(uaddr2, new)?;
            let hit = match cmp {
                0 => old == cmparg,
                1 => old != cmparg,
                2 => (old as i32) < cmparg as i32,
                3 => (old as i32) <= cmparg as i32,
                4 => (old as i32) > cmparg as i32,
                5 => (old as i32) >= cmparg as i32,
                _ => return Err(Errno::ENOSYS.into()),
            };
            let mut n = k.futex_wake(k1, val as usize, u32::MAX);
            if hit {
                n += k.futex_wake(k2, timeout as usize, u32::MAX);
            }
            Ok(n as i64)
        }
        FUTEX_LOCK_PI | FUTEX_LOCK_PI2 | FUTEX_TRYLOCK_PI => {
            // Lock words hold the tid the workload knows (its namespace's).
            let me = crate::kernel::pidns::vpid(tid) as u32;
            let mem = k.mem_of(tid)?;
            let cur = mem.read_u32(uaddr)?;
            if k.task(tid).futex.is_some_and(|w| w.woken) {
                k.task_mut(tid).futex = None;
            }
            if cur & FUTEX_TID_MASK == 0 {
                // A dead owner's mark stays for the new owner to see (robust PI mutexes).
                mem.write_u32(uaddr, me | (cur & (FUTEX_WAITERS | FUTEX_OWNER_DIED)))?;
                return Ok(0);
            }
            if cur & FUTEX_TID_MASK == me {
                return Err(Errno::EDEADLK.into());
            }
            if cmd == FUTEX_TRYLOCK_PI {
                return Err(Errno::EAGAIN.into());
            }
            let dl = deadline(k, tid, timeout, true, cmd == FUTEX_LOCK_PI || realtime)?;
            if dl.is_some_and(|d| Instant::now() >= d) {
                k.task_mut(tid).futex = None;
                return Err(Errno::ETIMEDOUT.into());
            }
            mem.write_u32(uaddr, cur | FUTEX_WAITERS)?;
            k.task_mut(tid).futex = Some(FutexWaiter {
                key: k1,
                bitset: u32::MAX,
                woken: false,
            });
            Err(SysErr::Block(Blocked {
                nr: 0,
                args: [0; 6],
                deadline: dl,
                host_fds: vec![],
                no_restart: false,
            }))
        }
        FUTEX_UNLOCK_PI => {
            let me = crate::kernel::pidns::vpid(tid) as u32;
            let mem = k.mem_of(tid)?;
            let cur = mem.read_u32(uaddr)?;
            if cur & FUTEX_TID_MASK != me {
                return Err(Errno::EPERM.into());
            }
            // Release; woken waiters retry the lock (they find it free).
            mem.write_u32(uaddr, 0)?;
            k.futex_wake(k1, 1, u32::MAX);
            Ok(0)
        }
        _ => Err(Errno::ENOSYS.into()),
    }
}
