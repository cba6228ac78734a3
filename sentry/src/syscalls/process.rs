//! Processes: fork/vfork/clone, execve, exit, wait, ids, credentials, limits, prctl.

use super::{block, path_ctx, read_path, SysErr, SysResult};
use crate::errno::Errno;
use crate::kernel::cputime::CpuTimes;
use crate::kernel::pidns::{self, vpid};
use crate::kernel::signal::{SigAction, SIGCHLD};
use crate::kernel::{Kernel, Pid, Process, RunState, Task, Tid, WaitStatus};
use crate::loader;
use crate::vfs::{Creds, ALL_CAPS};
use std::cell::RefCell;
use std::rc::Rc;

const CLONE_VM: u64 = 0x100;
const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
const CLONE_SIGHAND: u64 = 0x800;
const CLONE_PIDFD: u64 = 0x1000;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_PARENT: u64 = 0x8000;
const CLONE_THREAD: u64 = 0x10000;
const CLONE_SETTLS: u64 = 0x80000;
const CLONE_PARENT_SETTID: u64 = 0x100000;
const CLONE_CHILD_CLEARTID: u64 = 0x200000;
const CLONE_CHILD_SETTID: u64 = 0x1000000;
const CLONE_NS_FLAGS: u64 = 0x7e02_0000; // new namespaces of any kind

/// fork, vfork and clone (processes; threads are not supported yet).
pub fn do_clone(
    k: &mut Kernel,
    tid: Tid,
    flags: u64,
    stack: u64,
    ptid: u64,
    ctid: u64,
    tls: u64,
) -> SysResult {
    // A vfork parent comes back here on every retry until its child lets go.
    if let Some(child) = k.task(tid).vfork_wait {
        let released = k.procs.get(&child).is_none_or(|c| c.vfork_parent.is_none());
        if released {
            k.task_mut(tid).vfork_wait = None;
            return Ok(child as i64);
        }
        return Err(block());
    }
    if flags & CLONE_NS_FLAGS != 0 || flags & CLONE_PIDFD != 0 {
        return Err(Errno::EINVAL.into());
    }
    if flags & CLONE_THREAD != 0 {
        return clone_thread(k, tid, flags, stack, ptid, ctid, tls);
    }
    if flags & CLONE_SIGHAND != 0 && flags & CLONE_VM == 0 {
        return Err(Errno::EINVAL.into());
    }
    let exit_signal = (flags & 0xff) as i32;
    if exit_signal > 64 {
        return Err(Errno::EINVAL.into());
    }
    let (nproc_soft, count) = {
        let p = k.proc_of(tid);
        (
            p.rlimits[libc::RLIMIT_NPROC as usize].0,
            k.procs.len() as u64,
        )
    };
    if count >= nproc_soft.min(1 << 15) && k.proc_of(tid).creds.uid != 0 {
        return Err(Errno::EAGAIN.into());
    }
    let new_pid = k.alloc_pid_in(pidns::ns_of(tid))?;
    let mut scratch = k.task(tid).regs;
    // CLONE_VM (vfork, posix_spawn): the child shares the parent's memory until it execs, so
    // it runs as another host thread of the parent's stub process. Otherwise fork the stub.
    if flags & CLONE_VM == 0 {
        crate::mm::space::prepare_fork(k, tid)?;
    }
    let child_stub = if flags & CLONE_VM != 0 {
        k.task(tid).stub.spawn_thread(&mut scratch)
    } else {
        k.task(tid).stub.fork(&mut scratch)
    }
    .map_err(|e| Errno::from_io(&e))?;
    if flags & CLONE_VM == 0 {
        let parent_stub = k.proc_of(tid).stub_pid;
        k.ipc.fork_attachments(parent_stub, child_stub.pid);
        crate::mm::space::fork_space(parent_stub, child_stub.pid);
    }
    let parent_task = k.task(tid);
    let mut regs = parent_task.regs;
    regs.rax = 0;
    if stack != 0 {
        regs.rsp = stack;
    }
    if flags & CLONE_SETTLS != 0 {
        regs.fs_base = tls;
    }
    let sigmask = parent_task.sigmask;
    let altstack = parent_task.altstack;
    let nice = parent_task.nice;
    let p = k.proc_of(tid);
    let ppid = if flags & CLONE_PARENT != 0 {
        p.ppid
    } else {
        p.pid
    };
    let fds = if flags & CLONE_FILES != 0 {
        p.fds.clone()
    } else {
        Rc::new(RefCell::new(p.fds.borrow().clone()))
    };
    let sigactions = if flags & CLONE_SIGHAND != 0 {
        p.sigactions.clone()
    } else {
        Rc::new(RefCell::new(*p.sigactions.borrow()))
    };
    let child = Process {
        pid: new_pid,
        ppid,
        pgid: p.pgid,
        sid: p.sid,
        threads: vec![new_pid],
        children: vec![],
        zombie: None,
        stub_pid: child_stub.pid,
        mm: p.mm.clone(),
        fds,
        cwd: p.cwd.clone(),
        root: p.root.clone(),
        umask: p.umask,
        sigactions,
        shared_pending: Default::default(),
        creds: p.creds.clone(),
        comm: k.task(tid).comm.clone(),
        cmdline: p.cmdline.clone(),
        environ: p.environ.clone(),
        exe: p.exe.clone(),
        exit_signal,
        vfork_parent: if flags & CLONE_VFORK != 0 {
            Some(tid)
        } else {
            None
        },
        start_ticks: k.ticks(),
        rlimits: p.rlimits,
        oom_score_adj: p.oom_score_adj,
        container: p.container,
        exiting: None,
        stop_report: None,
        cont_report: false,
        stop_waited: false,
        no_new_privs: p.no_new_privs,
        keep_caps: false,
        cpu: Default::default(),
        children_cpu: Default::default(),
        personality: p.personality,
        subreaper: false,
        pdeath_signal: 0,
        parent_tid: if flags & CLONE_PARENT != 0 {
            p.parent_tid
        } else {
            tid
        },
        dumpable: p.dumpable,
        leader_exited: None,
        membarrier: 0,
        did_exec: false,
        ctty: p.ctty.clone(),
    };
    let _ = CLONE_FS;
    let parent_pid = p.pid;
    let host_tid = child_stub.tid;
    let child_mem = crate::mm::Mem {
        pid: child_stub.pid,
    };
    let task = Task {
        tid: new_pid,
        tgid: new_pid,
        stub: child_stub,
        regs,
        state: RunState::InSentry,
        sigmask,
        pending: Default::default(),
        saved_mask: None,
        altstack,
        clear_child_tid: if flags & CLONE_CHILD_CLEARTID != 0 {
            ctid
        } else {
            0
        },
        blocked: None,
        deadline: None,
        vfork_wait: None,
        sent: 0,
        robust_list: (0, 0),
        futex: None,
        ioprio: k.task(tid).ioprio,
        comm: k.task(tid).comm.clone(),
        affinity: k.task(tid).affinity,
        nice,
    };
    k.procs.insert(new_pid, child);
    k.tasks.insert(new_pid, task);
    k.by_host.insert(host_tid, new_pid);
    if let Some(pp) = k.procs.get_mut(&ppid) {
        pp.children.push(new_pid);
    }
    let _ = parent_pid;
    if flags & CLONE_PARENT_SETTID != 0 {
        let _ = k.mem_of(tid)?.write_i32(ptid, vpid(new_pid));
    }
    if flags & CLONE_CHILD_SETTID != 0 {
        let _ = child_mem.write_i32(ctid, vpid(new_pid));
    }
    k.resume(new_pid);
    if flags & CLONE_VFORK != 0 {
        k.task_mut(tid).vfork_wait = Some(new_pid);
        return Err(block());
    }
    Ok(vpid(new_pid) as i64)
}

/// A new thread in the caller's process: a new host thread in the same stub process.
fn clone_thread(
    k: &mut Kernel,
    tid: Tid,
    flags: u64,
    stack: u64,
    ptid: u64,
    ctid: u64,
    tls: u64,
) -> SysResult {
    if flags & CLONE_SIGHAND == 0 || flags & CLONE_VM == 0 || flags & CLONE_VFORK != 0 {
        return Err(Errno::EINVAL.into());
    }
    let new_tid = k.alloc_pid_in(pidns::ns_of(tid))?;
    let mut scratch = k.task(tid).regs;
    let stub = k
        .task(tid)
        .stub
        .spawn_thread(&mut scratch)
        .map_err(|e| Errno::from_io(&e))?;
    let parent = k.task(tid);
    let mut regs = parent.regs;
    regs.rax = 0;
    if stack != 0 {
        regs.rsp = stack;
    }
    if flags & CLONE_SETTLS != 0 {
        regs.fs_base = tls;
    }
    let task = Task {
        tid: new_tid,
        tgid: parent.tgid,
        stub,
        regs,
        state: RunState::InSentry,
        sigmask: parent.sigmask,
        pending: Default::default(),
        saved_mask: None,
        altstack: (0, libc::SS_DISABLE, 0),
        clear_child_tid: if flags & CLONE_CHILD_CLEARTID != 0 {
            ctid
        } else {
            0
        },
        blocked: None,
        deadline: None,
        vfork_wait: None,
        sent: 0,
        robust_list: (0, 0),
        futex: None,
        ioprio: k.task(tid).ioprio,
        comm: parent.comm.clone(),
        affinity: parent.affinity,
        nice: parent.nice,
    };
    let host = task.stub.tid;
    let mem = k.mem_of(tid)?;
    k.proc_of_mut(tid).threads.push(new_tid);
    k.tasks.insert(new_tid, task);
    k.by_host.insert(host, new_tid);
    if flags & CLONE_PARENT_SETTID != 0 {
        let _ = mem.write_i32(ptid, vpid(new_tid));
    }
    if flags & CLONE_CHILD_SETTID != 0 {
        let _ = mem.write_i32(ctid, vpid(new_tid));
    }
    k.resume(new_tid);
    Ok(vpid(new_tid) as i64)
}

pub fn sys_fork(k: &mut Kernel, tid: Tid, _a: [u64; 6]) -> SysResult {
    do_clone(k, tid, SIGCHLD as u64, 0, 0, 0, 0)
}

pub fn sys_vfork(k: &mut Kernel, tid: Tid, _a: [u64; 6]) -> SysResult {
    do_clone(k, tid, CLONE_VM | CLONE_VFORK | SIGCHLD as u64, 0, 0, 0, 0)
}

pub fn sys_clone(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    // x86-64 order: flags, stack, parent_tid, child_tid, tls
    do_clone(k, tid, a[0], a[1], a[2], a[3], a[4])
}

pub fn sys_clone3(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if k.task(tid).vfork_wait.is_some() {
        return do_clone(k, tid, 0, 0, 0, 0, 0);
    }
    // struct clone_args: 64 bytes in its first version, 88 now. A larger struct from a newer
    // libc is fine if what we do not know is zero (E2BIG otherwise, and past a page).
    const CLONE_ARGS_MIN: u64 = 64;
    const CLONE_ARGS_KNOWN: usize = 88;
    let size = a[1];
    if size < CLONE_ARGS_MIN {
        return Err(Errno::EINVAL.into());
    }
    if size > 4096 {
        return Err(Errno::E2BIG.into());
    }
    let mem = k.mem_of(tid)?;
    let b = mem.read_vec(a[0], size as usize)?;
    if b.len() > CLONE_ARGS_KNOWN && b[CLONE_ARGS_KNOWN..].iter().any(|&x| x != 0) {
        return Err(Errno::E2BIG.into());
    }
    let f = |i: usize| {
        u64::from_le_bytes(
            b.get(i * 8..i * 8 + 8)
                .and_then(|s| s.try_into().ok())
                .unwrap_or([0; 8]),
        )
    };
    let (flags, _pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls) =
        (f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7));
    if exit_signal > 64 || flags & 0xff != 0 {
        return Err(Errno::EINVAL.into());
    }
    // A stack is an address and a size, both or neither.
    if (stack == 0) != (stack_size == 0) {
        return Err(Errno::EINVAL.into());
    }
    let sp = if stack != 0 { stack + stack_size } else { 0 };
    do_clone(k, tid, flags | exit_signal, sp, parent_tid, child_tid, tls)
}

fn exec_impl(
    k: &mut Kernel,
    tid: Tid,
    start: Option<Rc<crate::vfs::Inode>>,
    path: Vec<u8>,
    argv_addr: u64,
    envp_addr: u64,
) -> SysResult {
    let caller = tid;
    let mem = k.mem_of(tid)?;
    let limit = crate::loader::arg_limit(k.proc_of(tid).rlimits[libc::RLIMIT_STACK as usize].0);
    let argv = mem.read_str_array(argv_addr, limit)?;
    let envp = mem.read_str_array(envp_addr, limit)?;
    crate::loader::check_arg_limits(&argv, &envp, limit)?;
    let ctx = path_ctx(k, tid);
    let mut argv = argv;
    if argv.is_empty() {
        argv.push(Vec::new());
    }
    let img = loader::prepare(k, &ctx, start, &path, argv)?;
    let pid = k.task(tid).tgid;
    // Past the point of no return: the old image's robust futexes are released (the
    // exec'ing thread's too) before its memory goes.
    k.exit_robust_list(tid);
    let tid = if tid != pid {
        exec_takes_over_leader(k, tid, pid)?
    } else {
        if k.shares_address_space(pid) {
            // A CLONE_VM child (vfork) must not unmap its parent's memory: it moves to a
            // fresh stub process before loading the new program.
            k.move_to_new_stub(tid)?;
        }
        // Every other thread of the process goes away.
        let others = other_threads(k, tid);
        for t in others {
            if k.tasks.get(&t).is_some_and(|x| x.state == RunState::InApp) {
                let _ = k.task(t).stub.stop_now();
            }
            if let Some(x) = k.tasks.get_mut(&t) {
                x.clear_child_tid = 0;
            }
            k.exit_thread(t, 0);
        }
        tid
    };
    // The old image's System V shm attachments end with it.
    let stub = k.proc_of(tid).stub_pid;
    k.ipc
        .drop_attachments(stub, pid, crate::vfs::Time::now().sec);
    if let Err(e) = loader::load(k, tid, &img, &envp) {
        tracing::warn!(
            task = tid,
            errno = e.0,
            "execve failed after the point of no return"
        );
        k.kill_group(pid, WaitStatus::signaled(libc::SIGSEGV, false));
        return Err(SysErr::Gone);
    }
    k.timers.exec(pid);
    let (mode, file_uid, file_gid) = {
        let m = img.elf_inode.meta.borrow();
        (m.mode, m.uid, m.gid)
    };
    let p = k.proc_of_mut(tid);
    let nnp = p.no_new_privs;
    p.creds.after_exec(mode, file_uid, file_gid, nnp);
    p.did_exec = true;
    let closed = p.fds.borrow_mut().close_on_exec();
    // Like close(2): the process's POSIX locks on those files go.
    for e in closed {
        super::file::closed_fd(k, tid, &e.file);
    }
    let p = k.proc_of_mut(tid);
    // Handlers reset to default; ignored signals stay ignored.
    let mut acts = *p.sigactions.borrow();
    for a in acts.iter_mut() {
        if a.handler != crate::kernel::signal::SIG_IGN {
            *a = SigAction::default();
        }
    }
    p.sigactions = Rc::new(RefCell::new(acts));
    let vp = p.vfork_parent.take();
    p.membarrier = 0;
    let t = k.task_mut(tid);
    t.altstack = (0, libc::SS_DISABLE, 0);
    t.clear_child_tid = 0;
    if vp.is_some() {
        k.dirty = true;
    }
    k.dirty = true;
    if tid != caller {
        // The caller's thread id is gone: the syscall's usual resumption would not find it.
        k.resume(tid);
        return Err(SysErr::Gone);
    }
    Err(SysErr::NoReturn)
}

/// The threads of `tid`'s process other than `tid` itself.
fn other_threads(k: &Kernel, tid: Tid) -> Vec<Tid> {
    k.proc_of(tid)
        .threads
        .iter()
        .copied()
        .filter(|&t| t != tid)
        .collect()
}

/// execve from a thread other than the leader (Linux's de_thread): every other thread dies,
/// and the caller takes over the leader's id, so after exec its tid is the pid. The caller
/// moves to a fresh stub process and the old one (its threads, a parked zombie leader) is
/// killed; its memory is replaced by the exec anyway. Returns the caller's new id.
fn exec_takes_over_leader(k: &mut Kernel, tid: Tid, pid: Pid) -> Result<Tid, SysErr> {
    let old_stub = k.proc_of(tid).stub_pid;
    let shared = k.shares_address_space(pid);
    let others = other_threads(k, tid);
    for &t in &others {
        // Their robust locks are released while the old memory is still there.
        k.exit_robust_list(t);
    }
    k.move_to_new_stub(tid)?;
    for t in others {
        if let Some(x) = k.tasks.remove(&t) {
            k.by_host.remove(&x.stub.tid);
            k.interrupted.remove(&t);
            if shared {
                if x.state == RunState::InApp {
                    let _ = x.stub.stop_now();
                }
                x.stub.exit_thread();
            }
        }
    }
    let parked = k.proc_of_mut(tid).leader_exited.take();
    if shared {
        if let Some((_, stub)) = parked {
            stub.exit_thread();
        }
    } else {
        // SAFETY: kill(2) of a stub process the sentry created; nothing else lives in it.
        unsafe { libc::kill(old_stub, libc::SIGKILL) };
    }
    let Some(mut t) = k.tasks.remove(&tid) else {
        return Err(SysErr::Gone);
    };
    t.tid = pid;
    k.by_host.insert(t.stub.tid, pid);
    if k.interrupted.remove(&tid) {
        k.interrupted.insert(pid);
    }
    k.tasks.insert(pid, t);
    let p = k.procs.get_mut(&pid).ok_or(Errno::ESRCH)?;
    p.threads = vec![pid];
    // Children the caller created keep it as their parent thread under its new id.
    let children = p.children.clone();
    for c in children {
        if let Some(cp) = k.procs.get_mut(&c) {
            if cp.parent_tid == tid {
                cp.parent_tid = pid;
            }
        }
    }
    Ok(pid)
}

pub fn sys_execve(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let path = read_path(k, tid, a[0])?;
    exec_impl(k, tid, None, path, a[1], a[2])
}

/// execveat(2): `flags` may hold AT_EMPTY_PATH (run the file `dirfd` names) and
/// AT_SYMLINK_NOFOLLOW (a symbolic link as the last component is ELOOP); anything else is
/// EINVAL before the path is looked at.
pub fn sys_execveat(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    const AT_EMPTY_PATH: u64 = 0x1000;
    const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
    let flags = a[4] as u32 as u64;
    if flags & !(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let path = read_path(k, tid, a[1])?;
    let dirfd = a[0] as i32;
    if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT.into());
        }
        let f = super::file::get_file(k, tid, dirfd as u64)?;
        let p = f.path.clone();
        return exec_impl(k, tid, None, p, a[2], a[3]);
    }
    let start = super::dirfd_start(k, tid, dirfd, &path)?;
    if flags & AT_SYMLINK_NOFOLLOW != 0 {
        let ctx = path_ctx(k, tid);
        if crate::vfs::resolve(k, &ctx, start.clone(), &path, false)?.is_symlink() {
            return Err(Errno::ELOOP.into());
        }
    }
    exec_impl(k, tid, start, path, a[2], a[3])
}

pub fn sys_exit(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    k.exit_thread(tid, a[0] as i32);
    Err(SysErr::Gone)
}

pub fn sys_exit_group(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let pid = k.task(tid).tgid;
    k.kill_group(pid, WaitStatus::exited(a[0] as i32));
    Err(SysErr::Gone)
}

/// Which children a wait call selects.
fn matches(k: &Kernel, caller: &Process, child: Pid, sel: i64) -> bool {
    let Some(c) = k.procs.get(&child) else {
        return false;
    };
    match sel {
        -1 => true,
        0 => c.pgid == caller.pgid,
        s if s > 0 => vpid(child) as i64 == s,
        s => vpid(c.pgid) as i64 == -s,
    }
}

enum WaitHit {
    /// With the child's CPU time and its reaped children's (wait4's rusage).
    Exited(Pid, WaitStatus, CpuTimes),
    Stopped(Pid, i32),
    Continued(Pid),
}

const WALL: u64 = 0x4000_0000;
const WCLONE: u64 = 0x8000_0000;
const WNOTHREAD: u64 = 0x2000_0000;

/// Looks for a child with something to report, children in creation order and for each
/// child exit first, then a stop (WUNTRACED/WSTOPPED), then a continue (WCONTINUED), as
/// Linux's wait_consider_task does. `consume` is false for WNOWAIT. Returns the hit and
/// the child's real uid (for si_uid).
fn find_waitable(
    k: &mut Kernel,
    tid: Tid,
    sel: i64,
    options: u64,
    consume: bool,
) -> Result<Option<(WaitHit, u32)>, Errno> {
    let caller = k.proc_of(tid);
    let kids: Vec<Pid> = caller
        .children
        .iter()
        .copied()
        .filter(|&c| matches(k, caller, c, sel))
        .filter(|c| {
            let Some(p) = k.procs.get(c) else {
                return false;
            };
            // __WALL waits for all; __WCLONE only for non-SIGCHLD children; default only SIGCHLD ones.
            options & WALL != 0 || (options & WCLONE != 0) == (p.exit_signal != SIGCHLD)
        })
        .collect();
    if kids.is_empty() {
        return Err(Errno::ECHILD);
    }
    for c in kids {
        let p = k.procs.get_mut(&c).ok_or(Errno::ECHILD)?;
        let uid = p.creds.uid;
        if let Some(st) = p.zombie {
            if options & libc::WEXITED as u64 != 0 {
                let usage = p.cpu.add(p.children_cpu);
                if consume {
                    k.reap(c);
                }
                return Ok(Some((WaitHit::Exited(c, st, usage), uid)));
            }
            continue;
        }
        if let Some(sig) = p.stop_report {
            if options & libc::WUNTRACED as u64 != 0 && !p.stop_waited {
                if consume {
                    p.stop_waited = true;
                }
                return Ok(Some((WaitHit::Stopped(c, sig), uid)));
            }
        }
        if p.cont_report && options & libc::WCONTINUED as u64 != 0 {
            if consume {
                p.cont_report = false;
            }
            return Ok(Some((WaitHit::Continued(c), uid)));
        }
    }
    Ok(None)
}

pub fn sys_wait4(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (sel, status_addr, options, rusage) = (a[0] as i32 as i64, a[1], a[2] & 0xffff_ffff, a[3]);
    let known =
        (libc::WNOHANG | libc::WUNTRACED | libc::WCONTINUED) as u64 | WNOTHREAD | WALL | WCLONE;
    if options & !known != 0 {
        return Err(Errno::EINVAL.into());
    }
    // -INT_MIN cannot name a process group.
    if sel == i32::MIN as i64 {
        return Err(Errno::ESRCH.into());
    }
    let hit = find_waitable(k, tid, sel, options | libc::WEXITED as u64, true)?;
    let mem = k.mem_of(tid)?;
    let usage = wait_usage(k, &hit);
    let (pid, status) = match hit {
        Some((WaitHit::Exited(p, st, _), _)) => (p, st.0),
        Some((WaitHit::Stopped(p, sig), _)) => (p, (sig << 8) | 0x7f),
        Some((WaitHit::Continued(p), _)) => (p, 0xffff),
        None if options & libc::WNOHANG as u64 != 0 => return Ok(0),
        None => return Err(block()),
    };
    if status_addr != 0 {
        mem.write_i32(status_addr, status)?;
    }
    if rusage != 0 {
        mem.write(rusage, &rusage_bytes(usage))?;
    }
    Ok(vpid(pid) as i64)
}

pub fn sys_waitid(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (idtype, id, infop, options, rusage) =
        (a[0] as i32, a[1] as i32, a[2], a[3] & 0xffff_ffff, a[4]);
    let known = (libc::WNOHANG | libc::WNOWAIT | libc::WEXITED | libc::WSTOPPED | libc::WCONTINUED)
        as u64
        | WNOTHREAD
        | WALL
        | WCLONE;
    if options & !known != 0 {
        return Err(Errno::EINVAL.into());
    }
    if options & (libc::WEXITED | libc::WSTOPPED | libc::WCONTINUED) as u64 == 0 {
        return Err(Errno::EINVAL.into());
    }
    // A nonblocking pidfd makes the wait nonblocking (EAGAIN instead of sleeping).
    let mut pidfd_nonblock = false;
    let sel: i64 = match idtype as u32 {
        libc::P_ALL => -1,
        libc::P_PIDFD => {
            let f = super::file::get_file(k, tid, id as u32 as u64)?;
            let pfd = crate::fs::pidfd::PidFd::of(&f).ok_or(Errno::EBADF)?;
            pidfd_nonblock = f.flags.get() & libc::O_NONBLOCK as u32 != 0;
            // find_waitable compares in the caller's numbers.
            vpid(pfd.pid) as i64
        }
        libc::P_PID if id > 0 => id as i64,
        libc::P_PGID if id >= 0 => {
            if id == 0 {
                0
            } else {
                -(id as i64)
            }
        }
        _ => return Err(Errno::EINVAL.into()),
    };
    let consume = options & libc::WNOWAIT as u64 == 0;
    // WSTOPPED is WUNTRACED's value.
    let hit = find_waitable(k, tid, sel, options, consume)?;
    let mem = k.mem_of(tid)?;
    let usage = wait_usage(k, &hit);
    let (pid, uid, code, st) = match hit {
        Some((WaitHit::Exited(p, ws, _), uid)) => {
            let s = ws.0;
            if s & 0x7f == 0 {
                (p, uid, crate::kernel::signal::CLD_EXITED, (s >> 8) & 0xff)
            } else if s & 0x80 != 0 {
                (p, uid, crate::kernel::signal::CLD_DUMPED, s & 0x7f)
            } else {
                (p, uid, crate::kernel::signal::CLD_KILLED, s & 0x7f)
            }
        }
        Some((WaitHit::Stopped(p, sig), uid)) => (p, uid, 5, sig),
        Some((WaitHit::Continued(p), uid)) => (p, uid, 6, libc::SIGCONT),
        None if options & libc::WNOHANG as u64 != 0 => (0, 0, 0, 0),
        None if pidfd_nonblock => return Err(Errno::EAGAIN.into()),
        None => return Err(block()),
    };
    if infop != 0 {
        // Linux stores these fields one by one (zeros when WNOHANG found nothing) and leaves
        // the rest of the caller's siginfo_t as it was.
        let signo = if pid == 0 { 0 } else { SIGCHLD };
        let mut b = [0u8; 28];
        b[0..4].copy_from_slice(&signo.to_le_bytes());
        b[8..12].copy_from_slice(&code.to_le_bytes());
        b[16..20].copy_from_slice(&vpid(pid).to_le_bytes());
        b[20..24].copy_from_slice(&uid.to_le_bytes());
        b[24..28].copy_from_slice(&st.to_le_bytes());
        mem.write(infop, &b)?;
    }
    if rusage != 0 {
        mem.write(rusage, &rusage_bytes(usage))?;
    }
    Ok(0)
}

/// The CPU time wait4/waitid report for what they found: the child's own and that of the
/// children it reaped.
fn wait_usage(k: &Kernel, hit: &Option<(WaitHit, u32)>) -> CpuTimes {
    match *hit {
        Some((WaitHit::Exited(_, _, u), _)) => u,
        Some((WaitHit::Stopped(p, _), _)) | Some((WaitHit::Continued(p), _)) => k
            .process_cpu(p)
            .add(k.procs.get(&p).map(|p| p.children_cpu).unwrap_or_default()),
        None => CpuTimes::default(),
    }
}

/// A `struct rusage` with only the CPU times filled in.
fn rusage_bytes(t: CpuTimes) -> [u8; 144] {
    let mut b = [0u8; 144];
    b[0..16].copy_from_slice(&timeval_bytes(t.user));
    b[16..32].copy_from_slice(&timeval_bytes(t.sys));
    b[32..40].copy_from_slice(&t.maxrss_kb.to_le_bytes());
    b
}

pub fn sys_getpid(k: &mut Kernel, tid: Tid, _a: [u64; 6]) -> SysResult {
    Ok(vpid(k.task(tid).tgid) as i64)
}
pub fn sys_gettid(_k: &mut Kernel, tid: Tid, _a: [u64; 6]) -> SysResult {
    Ok(vpid(tid) as i64)
}
pub fn sys_getppid(k: &mut Kernel, tid: Tid, _a: [u64; 6]) -> SysResult {
    let p = k.proc_of(tid);
    // Init's parent is outside the namespace, as is the runtime that started an `exec`.
    Ok(if pidns::is_ns_init(p.pid) || !k.same_pidns(tid, p.ppid) {
        0
    } else {
        vpid(p.ppid) as i64
    })
}

pub fn sys_getpgid(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let pid = if a[0] == 0 {
        k.task(tid).tgid
    } else {
        k.pid_arg(tid, a[0] as i32 as i64)?
    };
    Ok(vpid(
        k.procs
            .get(&pid)
            .filter(|p| p.zombie.is_none())
            .ok_or(Errno::ESRCH)?
            .pgid,
    ) as i64)
}
pub fn sys_getpgrp(k: &mut Kernel, tid: Tid, _a: [u64; 6]) -> SysResult {
    Ok(vpid(k.proc_of(tid).pgid) as i64)
}
pub fn sys_getsid(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let pid = if a[0] == 0 {
        k.task(tid).tgid
    } else {
        k.pid_arg(tid, a[0] as i32 as i64)?
    };
    Ok(vpid(k.procs.get(&pid).ok_or(Errno::ESRCH)?.sid) as i64)
}

pub fn sys_setpgid(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let me = k.task(tid).tgid;
    if (a[1] as i32) < 0 {
        return Err(Errno::EINVAL.into());
    }
    let pid = if a[0] as i32 == 0 {
        me
    } else {
        k.pid_arg(tid, a[0] as i32 as i64)?
    };
    let pgid = if a[1] as i32 == 0 {
        pid
    } else {
        // A group number that cannot exist in our namespace is a group of nobody (EPERM).
        k.pid_arg(tid, a[1] as i32 as i64)
            .map_err(|_| Errno::EPERM)?
    };
    let my_sid = k.proc_of(tid).sid;
    let Some(target) = k.procs.get(&pid) else {
        // A thread that is not its group's leader exists but cannot be moved.
        return Err(if k.tasks.contains_key(&pid) {
            Errno::EINVAL
        } else {
            Errno::ESRCH
        }
        .into());
    };
    // Linux checks in this order: a child of ours (same session, not exec'd yet), or
    // ourselves; then not a session leader; then the group exists in our session.
    if pid != me {
        if target.ppid != me {
            return Err(Errno::ESRCH.into());
        }
        if target.sid != my_sid {
            return Err(Errno::EPERM.into());
        }
        if target.did_exec {
            return Err(Errno::EACCES.into());
        }
    }
    if target.pid == target.sid {
        return Err(Errno::EPERM.into());
    }
    if pgid != pid && !k.procs.values().any(|p| p.pgid == pgid && p.sid == my_sid) {
        return Err(Errno::EPERM.into());
    }
    if let Some(t) = k.procs.get_mut(&pid) {
        t.pgid = pgid;
    }
    Ok(0)
}

pub fn sys_setsid(k: &mut Kernel, tid: Tid, _a: [u64; 6]) -> SysResult {
    let me = k.task(tid).tgid;
    if k.procs.values().any(|p| p.pgid == me) {
        return Err(Errno::EPERM.into());
    }
    let p = k.proc_of_mut(tid);
    p.sid = me;
    p.pgid = me;
    // A new session has no controlling terminal.
    p.ctty = None;
    Ok(vpid(me) as i64)
}

pub fn sys_set_tid_address(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    k.task_mut(tid).clear_child_tid = a[0];
    Ok(vpid(tid) as i64)
}

pub fn sys_set_robust_list(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if a[1] != 24 {
        return Err(Errno::EINVAL.into());
    }
    k.task_mut(tid).robust_list = (a[0], a[1]);
    Ok(0)
}

pub fn sys_get_robust_list(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let target = if a[0] == 0 {
        tid
    } else {
        k.pid_arg(tid, a[0] as i32 as i64)?
    };
    let (head, len) = k.tasks.get(&target).ok_or(Errno::ESRCH)?.robust_list;
    let mem = k.mem_of(tid)?;
    mem.write_u64(a[1], head)?;
    mem.write_u64(a[2], len)?;
    Ok(0)
}

pub fn sys_arch_prctl(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    const ARCH_SET_GS: u64 = 0x1001;
    const ARCH_SET_FS: u64 = 0x1002;
    const ARCH_GET_FS: u64 = 0x1003;
    const ARCH_GET_GS: u64 = 0x1004;
    const ARCH_GET_CPUID: u64 = 0x1011;
    const ARCH_SET_CPUID: u64 = 0x1012;
    match a[0] {
        ARCH_SET_FS => {
            if a[1] >= crate::platform::ptrace::TASK_SIZE {
                return Err(Errno::EPERM.into());
            }
            k.task_mut(tid).regs.fs_base = a[1];
            Ok(0)
        }
        ARCH_SET_GS => {
            if a[1] >= crate::platform::ptrace::TASK_SIZE {
                return Err(Errno::EPERM.into());
            }
            k.task_mut(tid).regs.gs_base = a[1];
            Ok(0)
        }
        ARCH_GET_FS => {
            let v = k.task(tid).regs.fs_base;
            k.mem_of(tid)?.write_u64(a[1], v)?;
            Ok(0)
        }
        ARCH_GET_GS => {
            let v = k.task(tid).regs.gs_base;
            k.mem_of(tid)?.write_u64(a[1], v)?;
            Ok(0)
        }
        // CPUID is never made to fault in the sandbox: GET says enabled; SET answers as a
        // host without CPUID faulting does (ENODEV), whichever mode is asked for.
        ARCH_GET_CPUID => Ok(1),
        ARCH_SET_CPUID => Err(Errno::ENODEV.into()),
        _ => Err(Errno::EINVAL.into()),
    }
}

pub fn sys_prctl(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let mem = k.mem_of(tid)?;
    match a[0] as i32 {
        libc::PR_SET_NAME => {
            let name = mem
                .read_cstr(a[1], 4096)
                .or_else(|_| mem.read_vec(a[1], 16))?;
            k.set_comm(tid, &name);
            Ok(0)
        }
        libc::PR_GET_NAME => {
            let mut n = k.task(tid).comm.clone();
            n.resize(16, 0);
            mem.write(a[1], &n)?;
            Ok(0)
        }
        libc::PR_SET_PDEATHSIG => {
            if a[1] > 64 {
                return Err(Errno::EINVAL.into());
            }
            k.proc_of_mut(tid).pdeath_signal = a[1] as i32;
            Ok(0)
        }
        libc::PR_GET_PDEATHSIG => {
            let s = k.proc_of(tid).pdeath_signal;
            mem.write_i32(a[1], s)?;
            Ok(0)
        }
        libc::PR_SET_CHILD_SUBREAPER => {
            k.proc_of_mut(tid).subreaper = a[1] != 0;
            Ok(0)
        }
        libc::PR_GET_CHILD_SUBREAPER => {
            let s = k.proc_of(tid).subreaper as i32;
            mem.write_i32(a[1], s)?;
            Ok(0)
        }
        libc::PR_SET_NO_NEW_PRIVS => {
            if a[1] != 1 || a[2] != 0 || a[3] != 0 || a[4] != 0 {
                return Err(Errno::EINVAL.into());
            }
            k.proc_of_mut(tid).no_new_privs = true;
            Ok(0)
        }
        libc::PR_GET_NO_NEW_PRIVS => {
            if a[1] != 0 || a[2] != 0 || a[3] != 0 || a[4] != 0 {
                return Err(Errno::EINVAL.into());
            }
            Ok(k.proc_of(tid).no_new_privs as i64)
        }
        libc::PR_GET_DUMPABLE => Ok(k.proc_of(tid).dumpable as i64),
        libc::PR_SET_DUMPABLE => {
            // SUID_DUMP_DISABLE (0) and SUID_DUMP_USER (1); 2 is only for the suid_dumpable
            // sysctl.
            if a[1] > 1 {
                return Err(Errno::EINVAL.into());
            }
            k.proc_of_mut(tid).dumpable = a[1] == 1;
            Ok(0)
        }
        libc::PR_SET_KEEPCAPS => {
            k.proc_of_mut(tid).keep_caps = a[1] != 0;
            Ok(0)
        }
        libc::PR_GET_KEEPCAPS => Ok(k.proc_of(tid).keep_caps as i64),
        libc::PR_CAPBSET_READ => {
            if a[1] > 40 {
                return Err(Errno::EINVAL.into());
            }
            Ok(((k.proc_of(tid).creds.cap_bounding >> a[1]) & 1) as i64)
        }
        libc::PR_CAPBSET_DROP => {
            if a[1] > 40 {
                return Err(Errno::EINVAL.into());
            }
            let c = &mut k.proc_of_mut(tid).creds;
            if !c.has_cap(crate::vfs::CAP_SETPCAP) {
                return Err(Errno::EPERM.into());
            }
            c.cap_bounding &= !(1 << a[1]);
            Ok(0)
        }
        libc::PR_GET_SECUREBITS => Ok(0),
        libc::PR_GET_TIMERSLACK => Ok(50_000),
        libc::PR_SET_TIMERSLACK | libc::PR_SET_VMA | libc::PR_SET_MM => Ok(0),
        libc::PR_GET_SECCOMP => Ok(0),
        libc::PR_SET_SECCOMP => Err(Errno::EINVAL.into()),
        libc::PR_CAP_AMBIENT => cap_ambient(k, tid, a),
        libc::PR_GET_THP_DISABLE => Ok(0),
        _ => Err(Errno::EINVAL.into()),
    }
}

/// prctl(PR_CAP_AMBIENT, op, cap, 0, 0): IS_SET, RAISE (the capability must be permitted and
/// inheritable; EPERM), LOWER, CLEAR_ALL, with Linux's argument checks (EINVAL).
fn cap_ambient(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    const IS_SET: u64 = 1;
    const RAISE: u64 = 2;
    const LOWER: u64 = 3;
    const CLEAR_ALL: u64 = 4;
    const LAST_CAP: u64 = 40;
    let c = &mut k.proc_of_mut(tid).creds;
    if a[1] == CLEAR_ALL {
        if a[2] != 0 || a[3] != 0 || a[4] != 0 {
            return Err(Errno::EINVAL.into());
        }
        c.cap_ambient = 0;
        return Ok(0);
    }
    if a[3] != 0 || a[4] != 0 || a[2] > LAST_CAP {
        return Err(Errno::EINVAL.into());
    }
    let bit = 1u64 << a[2];
    match a[1] {
        IS_SET => Ok(i64::from(c.cap_ambient & bit != 0)),
        RAISE => {
            if c.cap_permitted & bit == 0 || c.cap_inheritable & bit == 0 {
                return Err(Errno::EPERM.into());
            }
            c.cap_ambient |= bit;
            Ok(0)
        }
        LOWER => {
            c.cap_ambient &= !bit;
            Ok(0)
        }
        _ => Err(Errno::EINVAL.into()),
    }
}

fn rlimit_index(r: u64) -> Result<usize, Errno> {
    if r >= 16 {
        return Err(Errno::EINVAL);
    }
    Ok(r as usize)
}

fn set_rlimit(
    k: &mut Kernel,
    pid: Pid,
    res: usize,
    soft: u64,
    hard: u64,
    creds: &Creds,
) -> Result<(), Errno> {
    if soft > hard {
        return Err(Errno::EINVAL);
    }
    let p = k.procs.get_mut(&pid).ok_or(Errno::ESRCH)?;
    if hard > p.rlimits[res].1 && !creds.has_cap(24) {
        return Err(Errno::EPERM);
    }
    if res == libc::RLIMIT_NOFILE as usize {
        if hard > 1 << 20 {
            return Err(Errno::EPERM);
        }
        p.fds.borrow_mut().limit = soft as usize;
    }
    p.rlimits[res] = (soft, hard);
    Ok(())
}

pub fn sys_prlimit64(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let pid = if a[0] == 0 {
        k.task(tid).tgid
    } else {
        k.pid_arg(tid, a[0] as i32 as i64)?
    };
    let res = rlimit_index(a[1])?;
    let mem = k.mem_of(tid)?;
    let old = k.procs.get(&pid).ok_or(Errno::ESRCH)?.rlimits[res];
    if a[2] != 0 {
        let soft = mem.read_u64(a[2])?;
        let hard = mem.read_u64(a[2] + 8)?;
        let creds = k.proc_of(tid).creds.clone();
        set_rlimit(k, pid, res, soft, hard, &creds)?;
    }
    if a[3] != 0 {
        mem.write_u64(a[3], old.0)?;
        mem.write_u64(a[3] + 8, old.1)?;
    }
    Ok(0)
}

pub fn sys_getrlimit(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    sys_prlimit64(k, tid, [0, a[0], 0, a[1], 0, 0])
}

pub fn sys_setrlimit(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    sys_prlimit64(k, tid, [0, a[0], a[1], 0, 0, 0])
}

fn timeval_bytes(d: std::time::Duration) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0..8].copy_from_slice(&(d.as_secs() as i64).to_le_bytes());
    b[8..16].copy_from_slice(&(d.subsec_micros() as i64).to_le_bytes());
    b
}

/// getrusage: the calling thread's and its process's figures come from the host, by running
/// getrusage in the caller's stub (it writes the caller's buffer, faults checked as Linux
/// does); the process's CPU times are then replaced by the sentry's account (which survives
/// a move to a new stub). RUSAGE_CHILDREN is the sentry's account of reaped children.
pub fn sys_getrusage(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let who = a[0] as i32;
    let times = match who {
        libc::RUSAGE_SELF => k.process_cpu(k.task(tid).tgid),
        libc::RUSAGE_CHILDREN => {
            let p = k.proc_of(tid);
            p.children_cpu
        }
        libc::RUSAGE_THREAD => Default::default(),
        _ => return Err(Errno::EINVAL.into()),
    };
    let mem = k.mem_of(tid)?;
    if who == libc::RUSAGE_CHILDREN {
        mem.write(a[1], &rusage_bytes(times))?;
        return Ok(0);
    } else {
        crate::mm::space::before_host_write(k, tid, a[1], 144)?;
        let t = k.task(tid);
        let mut scratch = t.regs;
        let r = t
            .stub
            .inject(
                &mut scratch,
                libc::SYS_getrusage,
                [who as u64, a[1], 0, 0, 0, 0],
            )
            .map_err(|_| Errno::EFAULT)?;
        if (-4095..0).contains(&r) {
            return Err(Errno(-r as i32).into());
        }
        if who == libc::RUSAGE_THREAD {
            return Ok(0);
        }
    }
    mem.write(a[1], &timeval_bytes(times.user))?;
    mem.write(a[1] + 16, &timeval_bytes(times.sys))?;
    Ok(0)
}

pub fn sys_times(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if a[0] != 0 {
        let (u, s) = k.process_cpu(k.task(tid).tgid).ticks();
        let (cu, cs) = k.proc_of(tid).children_cpu.ticks();
        let mut b = [0u8; 32];
        for (i, x) in [u, s, cu, cs].iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&x.to_le_bytes());
        }
        k.mem_of(tid)?.write(a[0], &b)?;
    }
    Ok(k.ticks() as i64 + 10_000)
}

// ---- credentials ----

pub fn sys_getuid(k: &mut Kernel, tid: Tid, _a: [u64; 6]) -> SysResult {
    Ok(k.proc_of(tid).creds.uid as i64)
}
pub fn sys_geteuid(k: &mut Kernel, tid: Tid, _a: [u64; 6]) -> SysResult {
    Ok(k.proc_of(tid).creds.euid as i64)
}
pub fn sys_getgid(k: &mut Kernel, tid: Tid, _a: [u64; 6]) -> SysResult {
    Ok(k.proc_of(tid).creds.gid as i64)
}
pub fn sys_getegid(k: &mut Kernel, tid: Tid, _a: [u64; 6]) -> SysResult {
    Ok(k.proc_of(tid).creds.egid as i64)
}

pub fn sys_getresuid(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let c = k.proc_of(tid).creds.clone();
    let mem = k.mem_of(tid)?;
    mem.write_u32(a[0], c.uid)?;
    mem.write_u32(a[1], c.euid)?;
    mem.write_u32(a[2], c.suid)?;
    Ok(0)
}
pub fn sys_getresgid(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let c = k.proc_of(tid).creds.clone();
    let mem = k.mem_of(tid)?;
    mem.write_u32(a[0], c.gid)?;
    mem.write_u32(a[1], c.egid)?;
    mem.write_u32(a[2], c.sgid)?;
    Ok(0)
}

/// Capability effects of uid changes (the Linux rules without securebits).
fn fix_caps(old: &Creds, new: &mut Creds, keep: bool) {
    let was_root = old.uid == 0 || old.euid == 0 || old.suid == 0;
    let now_root = new.uid == 0 || new.euid == 0 || new.suid == 0;
    if was_root && !now_root {
        if !keep {
            new.cap_permitted = 0;
            new.cap_effective = 0;
        }
        // Linux clears ambient here even with keepcaps: pre-ambient programs expect a
        // setuid to non-root followed by execve to drop every capability.
        new.cap_ambient = 0;
    }
    if old.euid == 0 && new.euid != 0 {
        new.cap_effective = 0;
    }
    if old.euid != 0 && new.euid == 0 {
        new.cap_effective = new.cap_permitted;
    }
}

fn setresuid_impl(k: &mut Kernel, tid: Tid, r: u32, e: u32, s: u32, setfs: bool) -> SysResult {
    let keep = k.proc_of(tid).keep_caps;
    let old = k.proc_of(tid).creds.clone();
    let mut c = old.clone();
    let priv_ = old.has_cap(crate::vfs::CAP_SETUID);
    let ok = |v: u32| v == u32::MAX || priv_ || v == old.uid || v == old.euid || v == old.suid;
    if !ok(r) || !ok(e) || !ok(s) {
        return Err(Errno::EPERM.into());
    }
    if r != u32::MAX {
        c.uid = r;
    }
    if e != u32::MAX {
        c.euid = e;
    }
    if s != u32::MAX {
        c.suid = s;
    }
    if setfs {
        c.fsuid = c.euid;
    }
    fix_caps(&old, &mut c, keep);
    k.proc_of_mut(tid).creds = c;
    Ok(0)
}

pub fn sys_setuid(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let uid = a[0] as u32;
    let c = k.proc_of(tid).creds.clone();
    if c.has_cap(crate::vfs::CAP_SETUID) {
        setresuid_impl(k, tid, uid, uid, uid, true)
    } else if uid == c.uid || uid == c.suid {
        setresuid_impl(k, tid, u32::MAX, uid, u32::MAX, true)
    } else {
        Err(Errno::EPERM.into())
    }
}
/// setreuid(2) and setregid(2) as Linux: without the capability the real id may become the
/// old real or effective one and the effective id any of the three; the saved id follows the
/// new effective id when the real id is set or the effective id leaves the old real one.
/// Returns (real, effective, saved) to apply, or EPERM.
fn setre_ids(
    old: (u32, u32, u32),
    r: u32,
    e: u32,
    privileged: bool,
) -> Result<(u32, u32, u32), Errno> {
    let (ouid, oeuid, osuid) = old;
    let (mut nr, mut ne, mut ns) = old;
    if r != u32::MAX {
        if !privileged && r != ouid && r != oeuid {
            return Err(Errno::EPERM);
        }
        nr = r;
    }
    if e != u32::MAX {
        if !privileged && e != ouid && e != oeuid && e != osuid {
            return Err(Errno::EPERM);
        }
        ne = e;
    }
    if r != u32::MAX || (e != u32::MAX && e != ouid) {
        ns = ne;
    }
    Ok((nr, ne, ns))
}

pub fn sys_setreuid(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let c = &k.proc_of(tid).creds;
    let privileged = c.has_cap(crate::vfs::CAP_SETUID);
    let (r, e, s) = setre_ids(
        (c.uid, c.euid, c.suid),
        a[0] as u32,
        a[1] as u32,
        privileged,
    )?;
    setresuid_impl(k, tid, r, e, s, true)
}
pub fn sys_setresuid(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    setresuid_impl(k, tid, a[0] as u32, a[1] as u32, a[2] as u32, true)
}

fn setresgid_impl(k: &mut Kernel, tid: Tid, r: u32, e: u32, s: u32) -> SysResult {
    let old = k.proc_of(tid).creds.clone();
    let priv_ = old.has_cap(crate::vfs::CAP_SETGID);
    let ok = |v: u32| v == u32::MAX || priv_ || v == old.gid || v == old.egid || v == old.sgid;
    if !ok(r) || !ok(e) || !ok(s) {
        return Err(Errno::EPERM.into());
    }
    let c = &mut k.proc_of_mut(tid).creds;
    if r != u32::MAX {
        c.gid = r;
    }
    if e != u32::MAX {
        c.egid = e;
    }
    if s != u32::MAX {
        c.sgid = s;
    }
    c.fsgid = c.egid;
    Ok(0)
}

pub fn sys_setgid(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let gid = a[0] as u32;
    let c = k.proc_of(tid).creds.clone();
    if c.has_cap(crate::vfs::CAP_SETGID) {
        setresgid_impl(k, tid, gid, gid, gid)
    } else if gid == c.gid || gid == c.sgid {
        setresgid_impl(k, tid, u32::MAX, gid, u32::MAX)
    } else {
        Err(Errno::EPERM.into())
    }
}
pub fn sys_setregid(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let c = &k.proc_of(tid).creds;
    let privileged = c.has_cap(crate::vfs::CAP_SETGID);
    let (r, e, s) = setre_ids(
        (c.gid, c.egid, c.sgid),
        a[0] as u32,
        a[1] as u32,
        privileged,
    )?;
    setresgid_impl(k, tid, r, e, s)
}
pub fn sys_setresgid(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    setresgid_impl(k, tid, a[0] as u32, a[1] as u32, a[2] as u32)
}

/// The capabilities that only act on the filesystem (Linux's CAP_FS_MASK: CHOWN, DAC_OVERRIDE,
/// DAC_READ_SEARCH, FOWNER, FSETID, LINUX_IMMUTABLE, MKNOD, MAC_OVERRIDE).
const CAP_FS_MASK: u64 = 0x1f | 1 << 9 | 1 << 27 | 1 << 32;

pub fn sys_setfsuid(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let c = &mut k.proc_of_mut(tid).creds;
    let old = c.fsuid;
    let v = a[0] as u32;
    if v != u32::MAX
        && (c.has_cap(crate::vfs::CAP_SETUID)
            || v == c.uid
            || v == c.euid
            || v == c.suid
            || v == c.fsuid)
    {
        c.fsuid = v;
        // Leaving fsuid 0 drops the filesystem capabilities from the effective set, going back
        // to 0 raises the permitted ones again (otherwise DAC_OVERRIDE would hide the new fsuid).
        if old == 0 && v != 0 {
            c.cap_effective &= !CAP_FS_MASK;
        } else if old != 0 && v == 0 {
            c.cap_effective |= c.cap_permitted & CAP_FS_MASK;
        }
    }
    Ok(old as i64)
}
pub fn sys_setfsgid(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let c = &mut k.proc_of_mut(tid).creds;
    let old = c.fsgid;
    let v = a[0] as u32;
    if v != u32::MAX
        && (c.has_cap(crate::vfs::CAP_SETGID)
            || v == c.gid
            || v == c.egid
            || v == c.sgid
            || v == c.fsgid)
    {
        c.fsgid = v;
    }
    Ok(old as i64)
}

pub fn sys_getgroups(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let groups = k.proc_of(tid).creds.groups.clone();
    let n = a[0] as i32;
    if n < 0 {
        return Err(Errno::EINVAL.into());
    }
    if n == 0 {
        return Ok(groups.len() as i64);
    }
    if (n as usize) < groups.len() {
        return Err(Errno::EINVAL.into());
    }
    let mut b = Vec::with_capacity(groups.len() * 4);
    for g in &groups {
        b.extend_from_slice(&g.to_le_bytes());
    }
    k.mem_of(tid)?.write(a[1], &b)?;
    Ok(groups.len() as i64)
}

pub fn sys_setgroups(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if !k.proc_of(tid).creds.has_cap(crate::vfs::CAP_SETGID) {
        return Err(Errno::EPERM.into());
    }
    // An int: a negative size is a huge unsigned one (EINVAL).
    let n = a[0] as u32 as usize;
    if n > 65536 {
        return Err(Errno::EINVAL.into());
    }
    let b = k.mem_of(tid)?.read_vec(a[1], n * 4)?;
    let mut groups: Vec<u32> = b
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    // Linux keeps the list sorted (groups_sort), so getgroups returns it in order.
    groups.sort_unstable();
    k.proc_of_mut(tid).creds.groups = groups;
    Ok(0)
}

/// capget/capset header versions: v1 carries one 32-bit set of each kind, v2 and v3 two.
const CAP_V1: u32 = 0x1998_0330;
const CAP_V2: u32 = 0x2007_1026;
const CAP_V3: u32 = 0x2008_0522;

/// The number of 32-bit data structs a header version carries, None for an unknown version.
fn cap_words(version: u32) -> Option<usize> {
    match version {
        CAP_V1 => Some(1),
        CAP_V2 | CAP_V3 => Some(2),
        _ => None,
    }
}

/// capget(2). An unknown version is answered with the preferred one written into the header:
/// EINVAL, or success when `data` is NULL (how libcap probes). Then the pid (negative: EINVAL;
/// 0 or its own: the caller; another: that process, ESRCH if none).
pub fn sys_capget(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let mem = k.mem_of(tid)?;
    let version = mem.read_u32(a[0])?;
    let Some(words) = cap_words(version) else {
        mem.write_u32(a[0], CAP_V3)?;
        return if a[1] == 0 {
            Ok(0)
        } else {
            Err(Errno::EINVAL.into())
        };
    };
    if a[1] == 0 {
        return Ok(0);
    }
    let pid = mem.read_u32(a[0] + 4)? as i32;
    if pid < 0 {
        return Err(Errno::EINVAL.into());
    }
    let c = if pid == 0 || pid == vpid(k.task(tid).tgid) {
        k.proc_of(tid).creds.clone()
    } else {
        let pid = k.pid_arg(tid, pid as i64)?;
        k.procs.get(&pid).ok_or(Errno::ESRCH)?.creds.clone()
    };
    let mut b = [0u8; 24];
    for (i, v) in [c.cap_effective, c.cap_permitted, c.cap_inheritable]
        .iter()
        .enumerate()
    {
        b[i * 4..i * 4 + 4].copy_from_slice(&(*v as u32).to_le_bytes());
        b[12 + i * 4..12 + i * 4 + 4].copy_from_slice(&((*v >> 32) as u32).to_le_bytes());
    }
    mem.write(a[1], &b[..12 * words])?;
    Ok(0)
}

/// capset(2), for the caller only (another pid: EPERM). A v1 header sets the low 32
/// capabilities and clears the rest; bits past the last capability are ignored. As Linux's
/// cap_capset: the new inheritable set stays within the old inheritable plus permitted
/// (unless CAP_SETPCAP) and within the old inheritable plus bounding, permitted only
/// shrinks, effective stays within the new permitted; ambient loses what leaves permitted
/// or inheritable.
pub fn sys_capset(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let mem = k.mem_of(tid)?;
    let version = mem.read_u32(a[0])?;
    let Some(words) = cap_words(version) else {
        mem.write_u32(a[0], CAP_V3)?;
        return Err(Errno::EINVAL.into());
    };
    let pid = mem.read_u32(a[0] + 4)? as Pid;
    if pid != 0 && pid != vpid(k.task(tid).tgid) {
        return Err(Errno::EPERM.into());
    }
    let mut b = [0u8; 24];
    b[..12 * words].copy_from_slice(&mem.read_vec(a[1], 12 * words)?);
    let rd = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as u64;
    let eff = (rd(0) | (rd(12) << 32)) & ALL_CAPS;
    let prm = (rd(4) | (rd(16) << 32)) & ALL_CAPS;
    let inh = (rd(8) | (rd(20) << 32)) & ALL_CAPS;
    let c = &mut k.proc_of_mut(tid).creds;
    if !c.has_cap(crate::vfs::CAP_SETPCAP) && inh & !(c.cap_inheritable | c.cap_permitted) != 0 {
        return Err(Errno::EPERM.into());
    }
    if inh & !(c.cap_inheritable | c.cap_bounding) != 0 {
        return Err(Errno::EPERM.into());
    }
    if prm & !c.cap_permitted != 0 || eff & !prm != 0 {
        return Err(Errno::EPERM.into());
    }
    c.cap_effective = eff;
    c.cap_permitted = prm;
    c.cap_ambient &= prm & inh;
    c.cap_inheritable = inh;
    Ok(0)
}
