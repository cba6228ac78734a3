//! System V IPC: shmget/shmat/shmdt/shmctl, semget/semop/semtimedop/semctl,
//! msgget/msgsnd/msgrcv/msgctl.

use super::{SysErr, SysResult};
use crate::errno::Errno;
use crate::kernel::ipc::{IpcPerm, IpcWait, MsgQueue, SemSet, Shm, SEMVMX, SHM_DEST};
use crate::kernel::pidns::vpid;
use crate::kernel::{Blocked, Kernel, RunState, Tid};
use crate::loader::{overlaps_stub, stub_munmap, stub_syscall};
use crate::mm::memfile::{self, Window};
use crate::mm::{page_up, Vma};
use crate::vfs::Time;
use std::time::{Duration, Instant};

const IPC_CREAT: u64 = 0o1000;
const IPC_EXCL: u64 = 0o2000;
const IPC_NOWAIT: u64 = 0o4000;
const IPC_PRIVATE: i32 = 0;
const IPC_RMID: u64 = 0;
const IPC_SET: u64 = 1;
const IPC_STAT: u64 = 2;
const IPC_INFO: u64 = 3;
const SHM_RDONLY: u64 = 0o10000;
const SHM_RND: u64 = 0o20000;
const SHMLBA: u64 = 4096;
const GETPID: u64 = 11;
const GETVAL: u64 = 12;
const GETALL: u64 = 13;
const GETNCNT: u64 = 14;
const GETZCNT: u64 = 15;
const SETVAL: u64 = 16;
const SETALL: u64 = 17;
const MSG_NOERROR: u64 = 0o10000;
const MSG_EXCEPT: u64 = 0o20000;
const MSGMAX: usize = 8192;
const MSGMNB: u64 = 16384;
const SEMMSL: usize = 32000;
const SEMMNI: i32 = 32000;
const SEMOPM: i32 = 500;
const SEM_UNDO: i16 = 0x1000;
const MSGMNI: i32 = 32000;
const SHMMNI: u64 = 4096;
// *_STAT take an index (here the id itself, which IPC_INFO reports as the highest index)
// and return the id; *_STAT_ANY skip the read permission check.
const SHM_STAT: u64 = 13;
const SHM_INFO: u64 = 14;
const SHM_STAT_ANY: u64 = 15;
const SEM_STAT: u64 = 18;
const SEM_INFO: u64 = 19;
const SEM_STAT_ANY: u64 = 20;
const MSG_STAT: u64 = 11;
const MSG_INFO: u64 = 12;
const MSG_STAT_ANY: u64 = 13;

/// What an IPC_STAT-like command returns: 0, or the id for the *_STAT forms.
fn stat_result(cmd: u64, id: i32) -> i64 {
    if cmd == IPC_STAT {
        0
    } else {
        id as i64
    }
}

fn now() -> i64 {
    Time::now().sec
}

/// Parks the caller until the object changes. System V IPC calls are never restarted after
/// a signal handler, SA_RESTART or not (signal(7)).
fn block(k: &mut Kernel, tid: Tid, wait: IpcWait, deadline: Option<Instant>) -> SysErr {
    k.ipc.waits.insert(tid, wait);
    SysErr::Block(Blocked {
        nr: 0,
        args: [0; 6],
        deadline,
        host_fds: vec![],
        no_restart: true,
    })
}

/// Starts a (re-)run of a blocking IPC call: forgets the caller's previous wait and tells
/// whether it was waiting on `id` (then a vanished object means EIDRM, not EINVAL).
fn was_waiting_on(k: &mut Kernel, tid: Tid, id: i32) -> bool {
    k.ipc.waits.remove(&tid).is_some_and(|w| w.id() == id)
}

/// A blocked IPC call interrupted by a signal stops waiting.
pub fn interrupted(k: &mut Kernel, tid: Tid) {
    k.ipc.waits.remove(&tid);
}

/// GETNCNT/GETZCNT: tasks blocked in semop on that semaphore.
fn sem_waiters(k: &Kernel, id: i32, num: usize, zero: bool) -> i64 {
    k.ipc
        .waits
        .iter()
        .filter(|(tid, w)| {
            **w == IpcWait::Sem {
                id,
                num: num as u16,
                zero,
            } && k.tasks.get(tid).is_some_and(|t| {
                t.state == RunState::Blocked
                    && t.blocked.as_ref().is_some_and(|b| {
                        b.nr == libc::SYS_semop as u64 || b.nr == libc::SYS_semtimedop as u64
                    })
            })
        })
        .count() as i64
}

/// IPC_SET: only the permission bits change (SHM_DEST and the like stay).
fn set_mode(old: u32, new: u16) -> u32 {
    (old & !0o777) | (new as u32 & 0o777)
}

/// Permission check like ipcperms(): owner/creator, group, other bits.
fn allowed(k: &Kernel, tid: Tid, p: &IpcPerm, want: u32) -> bool {
    let c = &k.proc_of(tid).creds;
    if c.has_cap(15 /* CAP_IPC_OWNER */) {
        return true;
    }
    let bits = if c.euid == p.uid || c.euid == p.cuid {
        (p.mode >> 6) & 7
    } else if c.in_group(p.gid) || c.in_group(p.cgid) {
        (p.mode >> 3) & 7
    } else {
        p.mode & 7
    };
    bits & want == want
}

fn is_owner(k: &Kernel, tid: Tid, p: &IpcPerm) -> bool {
    let c = &k.proc_of(tid).creds;
    c.has_cap(21 /* CAP_SYS_ADMIN */) || c.euid == p.uid || c.euid == p.cuid
}

fn new_perm(k: &Kernel, tid: Tid, key: i32, flags: u64) -> IpcPerm {
    let c = &k.proc_of(tid).creds;
    IpcPerm {
        key,
        uid: c.euid,
        gid: c.egid,
        cuid: c.euid,
        cgid: c.egid,
        mode: (flags & 0o777) as u32,
    }
}

/// Finds an object by key, or decides to create one. Returns Some(id) if it exists.
fn lookup_key<'a, T: 'a>(
    objs: impl Iterator<Item = (&'a i32, &'a T)>,
    perm: impl Fn(&T) -> IpcPerm,
    key: i32,
    flags: u64,
) -> Result<Option<i32>, Errno> {
    if key == IPC_PRIVATE {
        return Ok(None);
    }
    for (id, o) in objs {
        if perm(o).key == key {
            if flags & IPC_CREAT != 0 && flags & IPC_EXCL != 0 {
                return Err(Errno::EEXIST);
            }
            return Ok(Some(*id));
        }
    }
    if flags & IPC_CREAT == 0 {
        return Err(Errno::ENOENT);
    }
    Ok(None)
}

// ---- shared memory ----

pub fn sys_shmget(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (key, size, flags) = (a[0] as i32, a[1], a[2]);
    if let Some(id) = lookup_key(
        k.ipc.shm.iter().filter(|(_, s)| !s.removed),
        |s: &Shm| s.perm,
        key,
        flags,
    )? {
        let s = &k.ipc.shm[&id];
        if size > s.size {
            return Err(Errno::EINVAL.into());
        }
        if !allowed(k, tid, &s.perm, if flags & 0o200 != 0 { 6 } else { 4 }) {
            return Err(Errno::EACCES.into());
        }
        return Ok(id as i64);
    }
    if size == 0 || size > memfile::WINDOW {
        return Err(Errno::EINVAL.into());
    }
    let window = Window::alloc()?;
    let perm = new_perm(k, tid, key, flags);
    let pid = k.task(tid).tgid;
    let id = k.ipc.alloc_id();
    let t = now();
    k.ipc.shm.insert(
        id,
        Shm {
            perm,
            size,
            window,
            nattch: 0,
            removed: false,
            cpid: pid,
            lpid: 0,
            atime: 0,
            dtime: 0,
            ctime: t,
        },
    );
    Ok(id as i64)
}

pub fn sys_shmat(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (id, mut addr, flags) = (a[0] as i32, a[1], a[2]);
    let s = k.ipc.shm.get(&id).ok_or(Errno::EINVAL)?;
    let ro = flags & SHM_RDONLY != 0;
    if !allowed(k, tid, &s.perm, if ro { 4 } else { 6 }) {
        return Err(Errno::EACCES.into());
    }
    let (size, off) = (s.size, s.window.off);
    if addr % SHMLBA != 0 {
        if flags & SHM_RND == 0 {
            return Err(Errno::EINVAL.into());
        }
        addr &= !(SHMLBA - 1);
    }
    let len = page_up(size).ok_or(Errno::EINVAL)?;
    if addr != 0
        && (overlaps_stub(addr, addr + len) || addr + len > crate::platform::ptrace::TASK_SIZE)
    {
        return Err(Errno::EINVAL.into());
    }
    let prot = if ro {
        libc::PROT_READ
    } else {
        libc::PROT_READ | libc::PROT_WRITE
    } as u64;
    let mut mflags = libc::MAP_SHARED as u64;
    if addr != 0 {
        mflags |= libc::MAP_FIXED as u64;
    }
    let at = stub_syscall(
        k,
        tid,
        libc::SYS_mmap,
        [addr, len, prot, mflags, memfile::STUB_FD as u64, off],
    )?;
    let stub_pid = k.mem_of(tid)?.pid;
    let pid = k.task(tid).tgid;
    k.ipc.attached.insert((stub_pid, at), (id, len));
    if let Some(s) = k.ipc.shm.get_mut(&id) {
        s.nattch += 1;
        s.lpid = pid;
        s.atime = now();
    }
    k.proc_of_mut(tid).mm.add(Vma {
        start: at,
        end: at + len,
        prot: prot as u32,
        shared: true,
        name: format!("/SYSV{:08x} (deleted)", id),
        ..Default::default()
    });
    Ok(at as i64)
}

pub fn sys_shmdt(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let stub_pid = k.mem_of(tid)?.pid;
    let (id, len) = k
        .ipc
        .attached
        .remove(&(stub_pid, a[0]))
        .ok_or(Errno::EINVAL)?;
    stub_munmap(k, tid, a[0], len)?;
    k.proc_of_mut(tid).mm.remove(a[0], a[0] + len);
    let pid = k.task(tid).tgid;
    k.ipc.shm_detached(id, pid, now());
    Ok(0)
}

pub fn sys_shmctl(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (id, cmd, buf) = (a[0] as i32, a[1] & 0xff, a[2]);
    let mem = k.mem_of(tid)?;
    let max_id = k.ipc.shm.keys().max().copied().unwrap_or(0) as i64;
    if cmd == IPC_INFO {
        // struct shminfo: shmmax, shmmin, shmmni, shmseg, shmall (+ 4 unused). A segment
        // is one memory-file window, so that is the largest size.
        let v = [memfile::WINDOW, 1, SHMMNI, SHMMNI, u64::MAX - (1 << 24)];
        let mut b = [0u8; 72];
        for (i, x) in v.iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&x.to_le_bytes());
        }
        mem.write(buf, &b)?;
        return Ok(max_id);
    }
    if cmd == SHM_INFO {
        // struct shm_info: used_ids, then shm_tot (pages), shm_rss, shm_swp, swap counts.
        let pages: u64 = k.ipc.shm.values().map(|s| s.size.div_ceil(4096)).sum();
        let mut b = [0u8; 48];
        b[0..4].copy_from_slice(&(k.ipc.shm.len() as i32).to_le_bytes());
        b[8..16].copy_from_slice(&pages.to_le_bytes());
        b[16..24].copy_from_slice(&pages.to_le_bytes());
        mem.write(buf, &b)?;
        return Ok(max_id);
    }
    let s = k.ipc.shm.get(&id).ok_or(Errno::EINVAL)?;
    match cmd {
        IPC_STAT | SHM_STAT | SHM_STAT_ANY => {
            if cmd != SHM_STAT_ANY && !allowed(k, tid, &s.perm, 4) {
                return Err(Errno::EACCES.into());
            }
            let mut b = vec![0u8; 112];
            b[0..48].copy_from_slice(&s.perm.to_bytes(id as u16));
            b[48..56].copy_from_slice(&s.size.to_le_bytes());
            b[56..64].copy_from_slice(&s.atime.to_le_bytes());
            b[64..72].copy_from_slice(&s.dtime.to_le_bytes());
            b[72..80].copy_from_slice(&s.ctime.to_le_bytes());
            b[80..84].copy_from_slice(&vpid(s.cpid).to_le_bytes());
            b[84..88].copy_from_slice(&vpid(s.lpid).to_le_bytes());
            b[88..96].copy_from_slice(&s.nattch.to_le_bytes());
            mem.write(buf, &b)?;
            Ok(stat_result(cmd, id))
        }
        IPC_SET => {
            if !is_owner(k, tid, &s.perm) {
                return Err(Errno::EPERM.into());
            }
            let b = mem.read_vec(buf, 48)?;
            let s = k.ipc.shm.get_mut(&id).ok_or(Errno::EINVAL)?;
            s.perm.uid = u32::from_le_bytes(b[4..8].try_into().unwrap_or([0; 4]));
            s.perm.gid = u32::from_le_bytes(b[8..12].try_into().unwrap_or([0; 4]));
            s.perm.mode = set_mode(s.perm.mode, u16::from_le_bytes([b[20], b[21]]));
            s.ctime = now();
            Ok(0)
        }
        IPC_RMID => {
            if !is_owner(k, tid, &s.perm) {
                return Err(Errno::EPERM.into());
            }
            if s.nattch == 0 {
                k.ipc.shm.remove(&id);
            } else if let Some(s) = k.ipc.shm.get_mut(&id) {
                // Stays until the last detach; the key is released now.
                s.removed = true;
                s.perm.key = IPC_PRIVATE;
                s.perm.mode |= SHM_DEST;
            }
            Ok(0)
        }
        11 | 12 => Ok(0), // SHM_LOCK, SHM_UNLOCK
        _ => Err(Errno::EINVAL.into()),
    }
}

// ---- semaphores ----

pub fn sys_semget(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (key, nsems, flags) = (a[0] as i32, a[1] as i64, a[2]);
    if let Some(id) = lookup_key(k.ipc.sem.iter(), |s: &SemSet| s.perm, key, flags)? {
        let s = &k.ipc.sem[&id];
        if nsems as usize > s.vals.len() {
            return Err(Errno::EINVAL.into());
        }
        if !allowed(k, tid, &s.perm, 4) {
            return Err(Errno::EACCES.into());
        }
        return Ok(id as i64);
    }
    if nsems <= 0 || nsems as usize > SEMMSL {
        return Err(Errno::EINVAL.into());
    }
    let perm = new_perm(k, tid, key, flags);
    let id = k.ipc.alloc_id();
    k.ipc.sem.insert(
        id,
        SemSet {
            perm,
            vals: vec![0; nsems as usize],
            pids: vec![0; nsems as usize],
            otime: 0,
            ctime: now(),
        },
    );
    Ok(id as i64)
}

fn semop_impl(
    k: &mut Kernel,
    tid: Tid,
    id: i32,
    sops: u64,
    nsops: u64,
    timeout: Option<Duration>,
) -> SysResult {
    let waited = was_waiting_on(k, tid, id);
    if nsops == 0 {
        return Err(Errno::EINVAL.into());
    }
    if nsops > SEMOPM as u64 {
        return Err(Errno::E2BIG.into());
    }
    let raw = k.mem_of(tid)?.read_vec(sops, nsops as usize * 6)?;
    let ops: Vec<(u16, i16, i16)> = raw
        .chunks_exact(6)
        .map(|c| {
            (
                u16::from_le_bytes([c[0], c[1]]),
                i16::from_le_bytes([c[2], c[3]]),
                i16::from_le_bytes([c[4], c[5]]),
            )
        })
        .collect();
    let pid = k.task(tid).tgid;
    let Some(s) = k.ipc.sem.get(&id) else {
        return Err(if waited { Errno::EIDRM } else { Errno::EINVAL }.into());
    };
    if ops.iter().any(|o| o.0 as usize >= s.vals.len()) {
        return Err(Errno::EFBIG.into());
    }
    let alter = ops.iter().any(|o| o.1 != 0);
    if !allowed(k, tid, &s.perm, if alter { 2 } else { 4 }) {
        return Err(Errno::EACCES.into());
    }
    // All operations apply atomically, or none does.
    let mut vals = s.vals.clone();
    let mut blocked_on = None;
    for &(num, op, flg) in &ops {
        let v = &mut vals[num as usize];
        let cur = *v as i32;
        if op > 0 {
            if cur + op as i32 > SEMVMX {
                return Err(Errno::ERANGE.into());
            }
            *v = (cur + op as i32) as u16;
        } else if op < 0 {
            if cur + (op as i32) < 0 {
                if flg as u64 & IPC_NOWAIT != 0 {
                    return Err(Errno::EAGAIN.into());
                }
                blocked_on = Some((num, false));
                break;
            }
            *v = (cur + op as i32) as u16;
        } else if cur != 0 {
            if flg as u64 & IPC_NOWAIT != 0 {
                return Err(Errno::EAGAIN.into());
            }
            blocked_on = Some((num, true));
            break;
        }
    }
    if let Some((num, zero)) = blocked_on {
        let t = k.task_mut(tid);
        let d = match (t.deadline, timeout) {
            (Some(d), _) => Some(d),
            (None, Some(to)) => {
                let d = Instant::now() + to;
                t.deadline = Some(d);
                Some(d)
            }
            _ => None,
        };
        if d.is_some_and(|d| Instant::now() >= d) {
            return Err(Errno::EAGAIN.into());
        }
        return Err(block(k, tid, IpcWait::Sem { id, num, zero }, d));
    }
    // SEM_UNDO: remember the opposite of each adjustment, for the process's exit.
    let mut undo = k.ipc.undo.get(&pid).cloned().unwrap_or_default();
    for &(num, op, flg) in &ops {
        if flg & SEM_UNDO != 0 && op != 0 {
            let adj = undo.entry((id, num)).or_insert(0);
            *adj -= op as i32;
            if !(-SEMVMX - 1..=SEMVMX).contains(adj) {
                return Err(Errno::ERANGE.into());
            }
        }
    }
    if ops.iter().any(|o| o.2 & SEM_UNDO != 0) {
        k.ipc.undo.insert(pid, undo);
    }
    let s = k.ipc.sem.get_mut(&id).ok_or(Errno::EIDRM)?;
    s.vals = vals;
    for &(num, _, _) in &ops {
        if let Some(p) = s.pids.get_mut(num as usize) {
            *p = pid;
        }
    }
    s.otime = now();
    k.dirty = true;
    Ok(0)
}

pub fn sys_semop(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    semop_impl(k, tid, a[0] as i32, a[1], a[2], None)
}

pub fn sys_semtimedop(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let timeout = if a[3] == 0 {
        None
    } else {
        let mem = k.mem_of(tid)?;
        let s = mem.read_u64(a[3])? as i64;
        let ns = mem.read_u64(a[3] + 8)? as i64;
        if s < 0 || !(0..1_000_000_000).contains(&ns) {
            return Err(Errno::EINVAL.into());
        }
        Some(Duration::new(s as u64, ns as u32))
    };
    semop_impl(k, tid, a[0] as i32, a[1], a[2], timeout)
}

pub fn sys_semctl(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (id, num, cmd, arg) = (a[0] as i32, a[1] as usize, a[2] & 0xff, a[3]);
    let mem = k.mem_of(tid)?;
    if cmd == IPC_INFO || cmd == SEM_INFO {
        // struct seminfo: semmap, semmni, semmns, semmnu, semmsl, semopm, semume, semusz,
        // semvmx, semaem; SEM_INFO puts usage into semusz (sets) and semaem (semaphores).
        let semmns = SEMMNI * SEMMSL as i32;
        let mut v = [
            semmns,
            SEMMNI,
            semmns,
            semmns,
            SEMMSL as i32,
            SEMOPM,
            SEMOPM,
            16,
            SEMVMX,
            SEMVMX,
        ];
        if cmd == SEM_INFO {
            v[7] = k.ipc.sem.len() as i32;
            v[9] = k.ipc.sem.values().map(|s| s.vals.len() as i32).sum();
        }
        let b: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        mem.write(arg, &b)?;
        return Ok(k.ipc.sem.keys().max().copied().unwrap_or(0) as i64);
    }
    let s = k.ipc.sem.get(&id).ok_or(Errno::EINVAL)?;
    let n = s.vals.len();
    let read_ok = allowed(k, tid, &s.perm, 4);
    let write_ok = allowed(k, tid, &s.perm, 2);
    match cmd {
        IPC_RMID => {
            if !is_owner(k, tid, &s.perm) {
                return Err(Errno::EPERM.into());
            }
            k.ipc.sem.remove(&id);
            k.dirty = true;
            Ok(0)
        }
        IPC_STAT | SEM_STAT | SEM_STAT_ANY => {
            if cmd != SEM_STAT_ANY && !read_ok {
                return Err(Errno::EACCES.into());
            }
            let mut b = vec![0u8; 104];
            b[0..48].copy_from_slice(&s.perm.to_bytes(id as u16));
            b[48..56].copy_from_slice(&s.otime.to_le_bytes());
            b[64..72].copy_from_slice(&s.ctime.to_le_bytes());
            b[80..88].copy_from_slice(&(n as u64).to_le_bytes());
            mem.write(arg, &b)?;
            Ok(stat_result(cmd, id))
        }
        IPC_SET => {
            if !is_owner(k, tid, &s.perm) {
                return Err(Errno::EPERM.into());
            }
            let b = mem.read_vec(arg, 48)?;
            let s = k.ipc.sem.get_mut(&id).ok_or(Errno::EINVAL)?;
            s.perm.uid = u32::from_le_bytes(b[4..8].try_into().unwrap_or([0; 4]));
            s.perm.gid = u32::from_le_bytes(b[8..12].try_into().unwrap_or([0; 4]));
            s.perm.mode = set_mode(s.perm.mode, u16::from_le_bytes([b[20], b[21]]));
            Ok(0)
        }
        GETVAL | GETPID | GETNCNT | GETZCNT => {
            if !read_ok {
                return Err(Errno::EACCES.into());
            }
            if num >= n {
                return Err(Errno::EINVAL.into());
            }
            Ok(match cmd {
                GETVAL => s.vals[num] as i64,
                GETPID => vpid(s.pids[num]) as i64,
                GETNCNT => sem_waiters(k, id, num, false),
                _ => sem_waiters(k, id, num, true),
            })
        }
        GETALL => {
            if !read_ok {
                return Err(Errno::EACCES.into());
            }
            let b: Vec<u8> = s.vals.iter().flat_map(|v| v.to_le_bytes()).collect();
            mem.write(arg, &b)?;
            Ok(0)
        }
        SETVAL => {
            if !write_ok {
                return Err(Errno::EACCES.into());
            }
            let v = arg as i32;
            if num >= n || !(0..=SEMVMX).contains(&v) {
                return Err(Errno::if_range(num >= n).into());
            }
            let s = k.ipc.sem.get_mut(&id).ok_or(Errno::EINVAL)?;
            s.vals[num] = v as u16;
            s.ctime = now();
            k.ipc.clear_undo(id, Some(num as u16));
            k.dirty = true;
            Ok(0)
        }
        SETALL => {
            if !write_ok {
                return Err(Errno::EACCES.into());
            }
            let b = mem.read_vec(arg, n * 2)?;
            let vals: Vec<u16> = b
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            if vals.iter().any(|&v| v as i32 > SEMVMX) {
                return Err(Errno::ERANGE.into());
            }
            let s = k.ipc.sem.get_mut(&id).ok_or(Errno::EINVAL)?;
            s.vals = vals;
            s.ctime = now();
            k.ipc.clear_undo(id, None);
            k.dirty = true;
            Ok(0)
        }
        _ => Err(Errno::EINVAL.into()),
    }
}

// ---- message queues ----

pub fn sys_msgget(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (key, flags) = (a[0] as i32, a[1]);
    if let Some(id) = lookup_key(k.ipc.msg.iter(), |q: &MsgQueue| q.perm, key, flags)? {
        if !allowed(k, tid, &k.ipc.msg[&id].perm, 4) {
            return Err(Errno::EACCES.into());
        }
        return Ok(id as i64);
    }
    let perm = new_perm(k, tid, key, flags);
    let id = k.ipc.alloc_id();
    k.ipc.msg.insert(
        id,
        MsgQueue {
            perm,
            msgs: Default::default(),
            qbytes: MSGMNB,
            lspid: 0,
            lrpid: 0,
            stime: 0,
            rtime: 0,
            ctime: now(),
        },
    );
    Ok(id as i64)
}

pub fn sys_msgsnd(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (id, msgp, size, flags) = (a[0] as i32, a[1], a[2] as usize, a[3]);
    if size > MSGMAX {
        return Err(Errno::EINVAL.into());
    }
    let waited = was_waiting_on(k, tid, id);
    let Some(q) = k.ipc.msg.get(&id) else {
        return Err(if waited { Errno::EIDRM } else { Errno::EINVAL }.into());
    };
    if !allowed(k, tid, &q.perm, 2) {
        return Err(Errno::EACCES.into());
    }
    let mem = k.mem_of(tid)?;
    let mtype = mem.read_u64(msgp)? as i64;
    if mtype <= 0 {
        return Err(Errno::EINVAL.into());
    }
    let data = mem.read_vec(msgp + 8, size)?;
    if q.bytes() + size as u64 > q.qbytes {
        if flags & IPC_NOWAIT != 0 {
            return Err(Errno::EAGAIN.into());
        }
        return Err(block(k, tid, IpcWait::Msg { id }, None));
    }
    let pid = k.task(tid).tgid;
    let q = k.ipc.msg.get_mut(&id).ok_or(Errno::EIDRM)?;
    q.msgs.push_back((mtype, data));
    q.lspid = pid;
    q.stime = now();
    k.dirty = true;
    Ok(0)
}

pub fn sys_msgrcv(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (id, msgp, size, typ, flags) = (a[0] as i32, a[1], a[2] as usize, a[3] as i64, a[4]);
    if (size as i64) < 0 {
        return Err(Errno::EINVAL.into());
    }
    let waited = was_waiting_on(k, tid, id);
    let Some(q) = k.ipc.msg.get(&id) else {
        return Err(if waited { Errno::EIDRM } else { Errno::EINVAL }.into());
    };
    if !allowed(k, tid, &q.perm, 4) {
        return Err(Errno::EACCES.into());
    }
    let pos = if typ == 0 {
        if q.msgs.is_empty() {
            None
        } else {
            Some(0)
        }
    } else if typ > 0 {
        if flags & MSG_EXCEPT != 0 {
            q.msgs.iter().position(|m| m.0 != typ)
        } else {
            q.msgs.iter().position(|m| m.0 == typ)
        }
    } else {
        let lim = -typ;
        q.msgs
            .iter()
            .enumerate()
            .filter(|(_, m)| m.0 <= lim)
            .min_by_key(|(i, m)| (m.0, *i))
            .map(|(i, _)| i)
    };
    let Some(pos) = pos else {
        if flags & IPC_NOWAIT != 0 {
            return Err(Errno::ENOMSG.into());
        }
        return Err(block(k, tid, IpcWait::Msg { id }, None));
    };
    if q.msgs[pos].1.len() > size && flags & MSG_NOERROR == 0 {
        return Err(Errno::E2BIG.into());
    }
    let pid = k.task(tid).tgid;
    let mem = k.mem_of(tid)?;
    let q = k.ipc.msg.get_mut(&id).ok_or(Errno::EIDRM)?;
    let (mtype, data) = q.msgs.remove(pos).ok_or(Errno::EIO)?;
    q.lrpid = pid;
    q.rtime = now();
    let n = data.len().min(size);
    mem.write_u64(msgp, mtype as u64)?;
    mem.write(msgp + 8, &data[..n])?;
    k.dirty = true;
    Ok(n as i64)
}

pub fn sys_msgctl(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (id, cmd, buf) = (a[0] as i32, a[1] & 0xff, a[2]);
    let mem = k.mem_of(tid)?;
    if cmd == IPC_INFO || cmd == MSG_INFO {
        // struct msginfo: msgpool, msgmap, msgmax, msgmnb, msgmni, msgssz, msgtql (ints),
        // msgseg (unsigned short); MSG_INFO puts usage into msgpool (queues), msgmap
        // (messages) and msgtql (bytes).
        let mut v = [
            MSGMNI * MSGMNB as i32 / 1024,
            MSGMNB as i32,
            MSGMAX as i32,
            MSGMNB as i32,
            MSGMNI,
            16,
            MSGMNB as i32,
        ];
        if cmd == MSG_INFO {
            v[0] = k.ipc.msg.len() as i32;
            v[1] = k.ipc.msg.values().map(|q| q.msgs.len() as i32).sum();
            v[6] = k.ipc.msg.values().map(|q| q.bytes() as i32).sum();
        }
        let mut b: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        b.extend_from_slice(&0xffffu16.to_le_bytes());
        b.extend_from_slice(&[0, 0]);
        mem.write(buf, &b)?;
        return Ok(k.ipc.msg.keys().max().copied().unwrap_or(0) as i64);
    }
    let q = k.ipc.msg.get(&id).ok_or(Errno::EINVAL)?;
    match cmd {
        IPC_RMID => {
            if !is_owner(k, tid, &q.perm) {
                return Err(Errno::EPERM.into());
            }
            k.ipc.msg.remove(&id);
            k.dirty = true;
            Ok(0)
        }
        IPC_STAT | MSG_STAT | MSG_STAT_ANY => {
            if cmd != MSG_STAT_ANY && !allowed(k, tid, &q.perm, 4) {
                return Err(Errno::EACCES.into());
            }
            let mut b = vec![0u8; 120];
            b[0..48].copy_from_slice(&q.perm.to_bytes(id as u16));
            b[48..56].copy_from_slice(&q.stime.to_le_bytes());
            b[56..64].copy_from_slice(&q.rtime.to_le_bytes());
            b[64..72].copy_from_slice(&q.ctime.to_le_bytes());
            b[72..80].copy_from_slice(&q.bytes().to_le_bytes());
            b[80..88].copy_from_slice(&(q.msgs.len() as u64).to_le_bytes());
            b[88..96].copy_from_slice(&q.qbytes.to_le_bytes());
            b[96..100].copy_from_slice(&vpid(q.lspid).to_le_bytes());
            b[100..104].copy_from_slice(&vpid(q.lrpid).to_le_bytes());
            mem.write(buf, &b)?;
            Ok(stat_result(cmd, id))
        }
        IPC_SET => {
            if !is_owner(k, tid, &q.perm) {
                return Err(Errno::EPERM.into());
            }
            let b = mem.read_vec(buf, 96)?;
            let q = k.ipc.msg.get_mut(&id).ok_or(Errno::EINVAL)?;
            q.perm.uid = u32::from_le_bytes(b[4..8].try_into().unwrap_or([0; 4]));
            q.perm.gid = u32::from_le_bytes(b[8..12].try_into().unwrap_or([0; 4]));
            q.perm.mode = set_mode(q.perm.mode, u16::from_le_bytes([b[20], b[21]]));
            q.qbytes = u64::from_le_bytes(b[88..96].try_into().unwrap_or([0; 8])).max(1);
            Ok(0)
        }
        _ => Err(Errno::EINVAL.into()),
    }
}
