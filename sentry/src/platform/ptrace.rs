//! The ptrace platform: each workload thread runs in a *stub* thread that the sentry traces
//! with `PTRACE_SYSEMU`, so every syscall it makes stops before the host kernel runs it.
//!
//! A stub process is born by `fork` from the sentry, then it unmaps everything except one page
//! of stub code (`int3; syscall; int3`) and the host vDSO (mm/vdso.rs). The stub page is how the sentry makes the stub execute a
//! host syscall of the sentry's choosing ("injection"): mmap, munmap, mprotect and fork.
//! Stubs also carry a seccomp filter that only allows those syscalls, and only from the stub
//! page, so a stub whose tracer vanished can do nothing (and `PTRACE_O_EXITKILL` kills it).

use crate::arch::{self, FpRegs, Regs};
use crate::platform::{bpf, Exit};
use std::io;

// The stub page: its own page-aligned section so unmapping everything around it leaves the
// workload an address space with nothing of the sentry in it.
std::arch::global_asm!(
    ".pushsection .text.moat_stub, \"ax\"",
    ".balign 4096",
    ".globl moat_stub_start",
    "moat_stub_start:",
    "int3",
    ".globl moat_stub_syscall",
    "moat_stub_syscall:",
    "syscall",
    "int3",
    "jmp moat_stub_syscall",
    ".balign 4096",
    ".globl moat_stub_end",
    "moat_stub_end:",
    ".popsection",
);

/// x86-64 glibc's rseq signature.
const RSEQ_SIG: u32 = 0x5305_3053;

extern "C" {
    static __rseq_offset: isize;
    static __rseq_size: u32;
    fn moat_stub_start();
    fn moat_stub_syscall();
    fn moat_stub_end();
}

/// The address range of the stub page in every stub (identical, since stubs fork from us).
pub fn stub_region() -> (u64, u64) {
    (
        moat_stub_start as *const () as usize as u64,
        moat_stub_end as *const () as usize as u64,
    )
}

/// What an emptied stub address space keeps, sorted: the stub page and, with `vdso`, the
/// host's vDSO block (see mm::vdso).
pub fn kept_regions(vdso: bool) -> Vec<(u64, u64)> {
    let mut v = vec![stub_region()];
    if let Some(h) = crate::mm::vdso::host().filter(|_| vdso) {
        v.push((h.start(), h.end()));
    }
    v.sort_unstable();
    v
}

/// The (start, len) ranges of user address space between sorted, disjoint `kept` ranges.
pub fn gaps(kept: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut at = 0;
    for &(s, e) in kept {
        if s > at {
            out.push((at, s - at));
        }
        at = at.max(e);
    }
    if at < TASK_SIZE {
        out.push((at, TASK_SIZE - at));
    }
    out
}

/// glibc registered an rseq area in the thread's TLS; once a stub unmaps it the kernel would
/// raise SIGSEGV on every return to user mode. Unregisters it (in a freshly forked stub).
///
/// # Safety
/// Only in a stub child before it empties its address space.
pub unsafe fn unregister_rseq() {
    // SAFETY: reads glibc's rseq offset/size and our own TLS pointer; rseq(2) with the
    // unregister flag on the area glibc registered.
    unsafe {
        if __rseq_size > 0 {
            let tp: usize;
            std::arch::asm!("mov {}, fs:0", out(reg) tp);
            let area = (tp as isize + __rseq_offset) as usize;
            for len in [32u32, __rseq_size] {
                if libc::syscall(libc::SYS_rseq, area, len, 1, RSEQ_SIG) == 0 {
                    break;
                }
            }
        }
    }
}

fn stub_syscall_addr() -> u64 {
    moat_stub_syscall as *const () as usize as u64
}

/// ptrace regset of the XSAVE area.
const NT_X86_XSTATE: usize = 0x202;

/// Highest user address + 1 on x86-64 with 4-level paging.
pub const TASK_SIZE: u64 = 0x7fff_ffff_f000;

const PTRACE_OPTIONS: libc::c_int = libc::PTRACE_O_TRACESYSGOOD
    | libc::PTRACE_O_EXITKILL
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACECLONE;

fn errno() -> io::Error {
    io::Error::last_os_error()
}

fn ptrace(req: libc::c_uint, tid: i32, addr: usize, data: usize) -> io::Result<libc::c_long> {
    // SAFETY: ptrace requests used here read or write only the buffers passed in by our callers,
    // which are valid for the sizes the request implies.
    let r = unsafe { libc::ptrace(req, tid, addr, data) };
    if r == -1 {
        Err(errno())
    } else {
        Ok(r)
    }
}

/// Waits for one state change of `tid` (or any traced child with -1).
pub fn waitpid(tid: i32, flags: i32) -> io::Result<Option<(i32, i32)>> {
    let mut status = 0;
    loop {
        // SAFETY: status is a valid out pointer.
        let r = unsafe { libc::waitpid(tid, &mut status, flags | libc::__WALL) };
        if r == -1 {
            let e = errno();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        if r == 0 {
            return Ok(None);
        }
        return Ok(Some((r, status)));
    }
}

/// Blocks until any stub changes state; returns None when a signal (the sentry's tick)
/// interrupted the wait.
pub fn wait_any_interruptible() -> io::Result<Option<(i32, i32)>> {
    let mut status = 0;
    // SAFETY: status is a valid out pointer.
    let r = unsafe { libc::waitpid(-1, &mut status, libc::__WALL) };
    if r == -1 {
        let e = errno();
        if e.raw_os_error() == Some(libc::EINTR) {
            return Ok(None);
        }
        return Err(e);
    }
    Ok(Some((r, status)))
}

/// The host syscalls a stub may make, all injected by the sentry from the stub page.
pub const STUB_SYSCALLS: [i64; 11] = [
    // A workload thread's CPU time is read by the thread itself (host thread clocks are
    // private to their thread group).
    libc::SYS_clock_gettime,
    libc::SYS_getrusage,
    libc::SYS_mmap,
    libc::SYS_munmap,
    libc::SYS_mprotect,
    libc::SYS_mremap,
    libc::SYS_madvise,
    libc::SYS_msync,
    libc::SYS_clone,
    libc::SYS_exit,
    libc::SYS_exit_group,
];

/// The stub's seccomp filter as data: allow [`STUB_SYSCALLS`] only when issued from the
/// instruction at `syscall_ip` (the stub page's `syscall`; seccomp reports the address after
/// it); kill the process for anything else. Under `PTRACE_SYSEMU` the workload's own syscalls
/// never reach the filter: it is what stops a stub whose tracer is gone.
pub fn stub_filter_program(syscall_ip: u64) -> bpf::Program {
    use bpf::Insn::*;
    let ip = syscall_ip + 2;
    let mut p = bpf::Program::new();
    p.push(Load(bpf::OFF_ARCH))
        .push(JumpEq(bpf::ARCH_X86_64, None, Some("kill")))
        .push(Load(bpf::OFF_IP_LO))
        .push(JumpEq(ip as u32, None, Some("kill")))
        .push(Load(bpf::OFF_IP_HI))
        .push(JumpEq((ip >> 32) as u32, None, Some("kill")))
        .push(Load(bpf::OFF_NR));
    for nr in STUB_SYSCALLS {
        p.push(JumpEq(nr as u32, Some("allow"), None));
    }
    p.push(Label("kill"))
        .push(Ret(libc::SECCOMP_RET_KILL_PROCESS))
        .push(Label("allow"))
        .push(Ret(libc::SECCOMP_RET_ALLOW));
    p
}

fn stub_filter() -> Vec<libc::sock_filter> {
    // The program is fixed: a failure here is a bug in it, caught by the tests below.
    stub_filter_program(stub_syscall_addr())
        .assemble()
        .unwrap_or_else(|_| {
            vec![libc::sock_filter {
                code: (libc::BPF_RET | libc::BPF_K) as u16,
                jt: 0,
                jf: 0,
                k: libc::SECCOMP_RET_KILL_PROCESS,
            }]
        })
}

/// One traced stub thread. Threads of one workload process share their stub process.
#[derive(Debug)]
pub struct Stub {
    /// Host tid of the stub thread.
    pub tid: i32,
    /// Host pid of the stub process (its address space).
    pub pid: i32,
}

impl Stub {
    /// Forks a fresh stub process from the sentry, with an empty address space except the
    /// stub page. Must be called before the sentry seals itself.
    pub fn spawn(memfile: Option<i32>) -> io::Result<Stub> {
        let filter = stub_filter();
        let prog = libc::sock_fprog {
            len: filter.len() as u16,
            filter: filter.as_ptr() as *mut _,
        };
        // SAFETY: fork in a single-threaded sentry; the child only makes raw syscalls below.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(errno());
        }
        if pid == 0 {
            // SAFETY: child of fork: only async-signal-safe raw syscalls until the stub stops.
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) != 0 {
                    libc::_exit(120);
                }
                // Ignore nothing, block nothing: signal dispositions are the sentry's business,
                // the stub only ever receives faults and our own stop requests.
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
                // The only fd a stub keeps is the sandbox memory file, at a fixed number.
                let keep = crate::mm::memfile::STUB_FD;
                match memfile {
                    Some(m) if libc::dup2(m, keep) == keep => {
                        libc::syscall(libc::SYS_close_range, 0u32, (keep - 1) as u32, 0u32);
                        libc::syscall(libc::SYS_close_range, (keep + 1) as u32, u32::MAX, 0u32);
                    }
                    _ => {
                        libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32);
                    }
                }
                unregister_rseq();
                // A stub needs no privilege at all. (It must also hold no capability the sealed
                // sentry lacks, or the sentry could no longer read its memory.)
                let hdr: [u32; 2] = [0x2008_0522, 0];
                let data = [0u32; 6];
                libc::syscall(libc::SYS_capset, hdr.as_ptr(), data.as_ptr());
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                if libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &prog) != 0 {
                    libc::_exit(121);
                }
                // Traps into the sentry; never returns here.
                let entry: extern "C" fn() =
                    std::mem::transmute(moat_stub_start as *const () as usize);
                entry();
                libc::_exit(122);
            }
        }
        let stub = Stub { tid: pid, pid };
        match waitpid(pid, 0)? {
            Some((_, st)) if libc::WIFSTOPPED(st) && libc::WSTOPSIG(st) == libc::SIGTRAP => {}
            other => {
                return Err(io::Error::other(format!(
                    "stub did not stop as expected: {other:?}"
                )));
            }
        }
        ptrace(libc::PTRACE_SETOPTIONS, pid, 0, PTRACE_OPTIONS as usize)?;
        let mut regs = stub.get_regs()?;
        for (start, len) in gaps(&kept_regions(true)) {
            stub.inject(&mut regs, libc::SYS_munmap, [start, len, 0, 0, 0, 0])?;
        }
        if let Some(at) = crate::mm::vdso::host().and_then(|v| v.getcpu) {
            // POKEDATA writes through the read-only text (FOLL_FORCE) into a private copy.
            let word = u64::from_le_bytes(crate::mm::vdso::GETCPU_PATCH);
            ptrace(libc::PTRACE_POKEDATA, pid, at as usize, word as usize)?;
        }
        Ok(stub)
    }

    pub fn get_regs(&self) -> io::Result<Regs> {
        let mut r = arch::zeroed_regs();
        ptrace(
            libc::PTRACE_GETREGS,
            self.tid,
            0,
            &mut r as *mut Regs as usize,
        )?;
        Ok(r)
    }

    pub fn set_regs(&self, r: &Regs) -> io::Result<()> {
        ptrace(libc::PTRACE_SETREGS, self.tid, 0, r as *const Regs as usize).map(|_| ())
    }

    pub fn get_fpregs(&self) -> io::Result<FpRegs> {
        let mut f = arch::zeroed_fpregs();
        ptrace(
            libc::PTRACE_GETFPREGS,
            self.tid,
            0,
            &mut f as *mut FpRegs as usize,
        )?;
        Ok(f)
    }

    pub fn set_fpregs(&self, f: &FpRegs) -> io::Result<()> {
        ptrace(
            libc::PTRACE_SETFPREGS,
            self.tid,
            0,
            f as *const FpRegs as usize,
        )
        .map(|_| ())
    }

    /// The full XSAVE area (x87, SSE, AVX, ... as the CPU has it), as signal frames carry it.
    pub fn get_xstate(&self) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; 16384];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr() as *mut _,
            iov_len: buf.len(),
        };
        ptrace(
            libc::PTRACE_GETREGSET,
            self.tid,
            NT_X86_XSTATE,
            &mut iov as *mut _ as usize,
        )?;
        buf.truncate(iov.iov_len);
        Ok(buf)
    }

    pub fn set_xstate(&self, data: &[u8]) -> io::Result<()> {
        let mut iov = libc::iovec {
            iov_base: data.as_ptr() as *mut _,
            iov_len: data.len(),
        };
        ptrace(
            libc::PTRACE_SETREGSET,
            self.tid,
            NT_X86_XSTATE,
            &mut iov as *mut _ as usize,
        )
        .map(|_| ())
    }

    /// Lets the thread run application code until its next syscall, fault or signal.
    /// `regs`, when given, are loaded first.
    pub fn resume(&self, regs: Option<&Regs>) -> io::Result<()> {
        if let Some(r) = regs {
            self.set_regs(r)?;
        }
        ptrace(libc::PTRACE_SYSEMU, self.tid, 0, 0).map(|_| ())
    }

    /// Makes the stub execute one host syscall and returns its raw result. `scratch` is
    /// clobbered (callers pass a copy of the task registers they will restore later).
    pub fn inject(&self, scratch: &mut Regs, nr: i64, args: [u64; 6]) -> io::Result<i64> {
        scratch.rax = nr as u64;
        scratch.orig_rax = u64::MAX;
        scratch.rdi = args[0];
        scratch.rsi = args[1];
        scratch.rdx = args[2];
        scratch.r10 = args[3];
        scratch.r8 = args[4];
        scratch.r9 = args[5];
        scratch.rip = stub_syscall_addr();
        self.set_regs(scratch)?;
        ptrace(libc::PTRACE_CONT, self.tid, 0, 0)?;
        self.wait_trap()?;
        let r = self.get_regs()?;
        Ok(r.rax as i64)
    }

    /// Waits for the int3 after an injected syscall, swallowing unrelated signals.
    fn wait_trap(&self) -> io::Result<()> {
        loop {
            match waitpid(self.tid, 0)? {
                Some((_, st)) if libc::WIFSTOPPED(st) => {
                    let sig = libc::WSTOPSIG(st);
                    if sig == libc::SIGTRAP && (st >> 16) == 0 {
                        return Ok(());
                    }
                    // Some other stop (a host signal sent to the stub): drop it and go on.
                    if std::env::var_os("MOAT_DEBUG_STUB").is_some() {
                        let r = self.get_regs()?;
                        eprintln!(
                            "stub stop status={st:#x} sig={sig} rip={:#x} rax={:#x}",
                            r.rip, r.rax as i64
                        );
                    }
                    ptrace(libc::PTRACE_CONT, self.tid, 0, 0)?;
                }
                other => {
                    return Err(io::Error::other(format!(
                        "stub died during injection: {other:?}"
                    )))
                }
            }
        }
    }

    /// Forks the stub process (the new process gets a copy-on-write copy of the address
    /// space) and returns the child stub, stopped and traced.
    pub fn fork(&self, scratch: &mut Regs) -> io::Result<Stub> {
        // clone(CLONE_PARENT | SIGCHLD): the child is the sentry's child, so we reap it.
        let child = self.clone_stub(
            scratch,
            (libc::CLONE_PARENT | libc::SIGCHLD) as u64,
            libc::PTRACE_EVENT_FORK,
        )?;
        Ok(Stub {
            tid: child,
            pid: child,
        })
    }

    /// Adds a host thread to this stub process (for a workload thread), stopped and traced.
    pub fn spawn_thread(&self, scratch: &mut Regs) -> io::Result<Stub> {
        let flags = libc::CLONE_VM
            | libc::CLONE_FS
            | libc::CLONE_FILES
            | libc::CLONE_SIGHAND
            | libc::CLONE_THREAD
            | libc::CLONE_SYSVSEM;
        let child = self.clone_stub(scratch, flags as u64, libc::PTRACE_EVENT_CLONE)?;
        Ok(Stub {
            tid: child,
            pid: self.pid,
        })
    }

    fn clone_stub(&self, scratch: &mut Regs, flags: u64, event: i32) -> io::Result<i32> {
        scratch.rax = libc::SYS_clone as u64;
        scratch.orig_rax = u64::MAX;
        scratch.rdi = flags;
        scratch.rsi = 0;
        scratch.rdx = 0;
        scratch.r10 = 0;
        scratch.r8 = 0;
        scratch.rip = stub_syscall_addr();
        self.set_regs(scratch)?;
        ptrace(libc::PTRACE_CONT, self.tid, 0, 0)?;
        // First stop: the fork/clone event in the parent.
        let child;
        loop {
            match waitpid(self.tid, 0)? {
                Some((_, st)) if libc::WIFSTOPPED(st) && (st >> 16) == event => {
                    let mut msg: libc::c_ulong = 0;
                    ptrace(
                        libc::PTRACE_GETEVENTMSG,
                        self.tid,
                        0,
                        &mut msg as *mut _ as usize,
                    )?;
                    child = msg as i32;
                    break;
                }
                Some((_, st)) if libc::WIFSTOPPED(st) && libc::WSTOPSIG(st) == libc::SIGTRAP => {
                    // int3 reached without a clone event: clone failed.
                    let r = self.get_regs()?;
                    return Err(io::Error::from_raw_os_error((-(r.rax as i64)) as i32));
                }
                Some((_, st)) if libc::WIFSTOPPED(st) => {
                    ptrace(libc::PTRACE_CONT, self.tid, 0, 0)?;
                }
                other => {
                    return Err(io::Error::other(format!(
                        "stub died during clone: {other:?}"
                    )))
                }
            }
        }
        ptrace(libc::PTRACE_CONT, self.tid, 0, 0)?;
        self.wait_trap()?;
        // The child starts with a SIGSTOP stop, already traced with our options.
        loop {
            match waitpid(child, 0)? {
                Some((_, st)) if libc::WIFSTOPPED(st) => break,
                other => {
                    return Err(io::Error::other(format!(
                        "new stub did not stop: {other:?}"
                    )))
                }
            }
        }
        Ok(child)
    }

    /// Ends this host thread only (the workload thread exited). Its exit is collected later
    /// by the event loop's waitpid.
    pub fn exit_thread(&self) {
        if let Ok(mut r) = self.get_regs() {
            r.rax = libc::SYS_exit as u64;
            r.orig_rax = u64::MAX;
            r.rdi = 0;
            r.rip = stub_syscall_addr();
            if self.set_regs(&r).is_ok() && ptrace(libc::PTRACE_CONT, self.tid, 0, 0).is_ok() {
                return;
            }
        }
        // Could not make it exit cleanly: the thread must not run workload code again.
        // SAFETY: tgkill of our own traced thread.
        unsafe { libc::syscall(libc::SYS_tgkill, self.pid, self.tid, libc::SIGKILL) };
    }

    /// Stops a thread that runs application code and waits until it is in a ptrace stop.
    pub fn stop_now(&self) -> io::Result<()> {
        // SAFETY: tgkill of our own traced thread.
        unsafe { libc::syscall(libc::SYS_tgkill, self.pid, self.tid, libc::SIGSTOP) };
        match waitpid(self.tid, 0)? {
            Some((_, st)) if libc::WIFSTOPPED(st) => Ok(()),
            other => Err(io::Error::other(format!("thread did not stop: {other:?}"))),
        }
    }

    /// Kills the whole stub process (all its threads).
    pub fn kill(&self) {
        // SAFETY: plain kill(2) of a process we created.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
    }

    /// Sends a host signal to the stub thread to make it stop (used to interrupt a thread
    /// running application code).
    pub fn interrupt(&self) {
        // SAFETY: tgkill of our own traced thread.
        unsafe { libc::syscall(libc::SYS_tgkill, self.pid, self.tid, libc::SIGSTOP) };
    }

    /// Resumes a thread stopped by a host signal without delivering it.
    pub fn siginfo(&self) -> io::Result<libc::siginfo_t> {
        // SAFETY: siginfo_t is POD; PTRACE_GETSIGINFO fills it.
        let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
        ptrace(
            libc::PTRACE_GETSIGINFO,
            self.tid,
            0,
            &mut si as *mut _ as usize,
        )?;
        Ok(si)
    }
}

/// Decodes a waitpid status of a stub thread into an [`Exit`]. Returns None for stops that
/// need no kernel attention (group-stop noise, ptrace events).
pub fn decode_status(stub_tid: i32, status: i32) -> Option<Exit> {
    if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
        return Some(Exit::Gone { status });
    }
    if !libc::WIFSTOPPED(status) {
        return None;
    }
    let sig = libc::WSTOPSIG(status);
    if sig == (libc::SIGTRAP | 0x80) {
        return Some(Exit::Syscall);
    }
    if status >> 16 != 0 {
        // ptrace event stops (fork/clone in a thread we did not inject): ignore.
        return None;
    }
    match sig {
        libc::SIGSEGV | libc::SIGBUS | libc::SIGFPE | libc::SIGILL | libc::SIGTRAP => {
            let stub = Stub {
                tid: stub_tid,
                pid: stub_tid,
            };
            let (code, addr) = match stub.siginfo() {
                // SAFETY: si_addr is valid to read for fault signals.
                Ok(si) => (si.si_code, unsafe { si.si_addr() } as u64),
                Err(_) => (0, 0),
            };
            std::mem::forget(stub);
            Some(Exit::Fault {
                signal: sig,
                code,
                addr,
            })
        }
        _ => Some(Exit::Interrupted { signal: sig }),
    }
}

/// Copies workload memory out of a stub process.
pub fn read_mem(pid: i32, addr: u64, buf: &mut [u8]) -> Result<(), ()> {
    if buf.is_empty() {
        return Ok(());
    }
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut _,
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut _,
        iov_len: buf.len(),
    };
    // SAFETY: local iovec covers our own buffer; the remote side is checked by the kernel.
    let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    if n == buf.len() as isize {
        Ok(())
    } else {
        Err(())
    }
}

/// Copies data into workload memory.
pub fn write_mem(pid: i32, addr: u64, buf: &[u8]) -> Result<(), ()> {
    if buf.is_empty() {
        return Ok(());
    }
    let local = libc::iovec {
        iov_base: buf.as_ptr() as *mut _,
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut _,
        iov_len: buf.len(),
    };
    // SAFETY: local iovec covers our own buffer; the remote side is checked by the kernel.
    let n = unsafe { libc::process_vm_writev(pid, &local, 1, &remote, 1, 0) };
    if n == buf.len() as isize {
        Ok(())
    } else {
        Err(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::bpf::{run, SeccompData, ARCH_X86_64};

    const IP: u64 = 0x7f12_3456_7000;

    fn call(nr: i64, ip: u64) -> u32 {
        let f = stub_filter_program(IP)
            .assemble()
            .expect("the stub filter assembles");
        run(
            &f,
            &SeccompData {
                nr: nr as i32,
                arch: ARCH_X86_64,
                instruction_pointer: ip,
                args: [0; 6],
            },
        )
    }

    #[test]
    fn stub_filter_allows_injected_calls_from_the_stub_page_only() {
        let from_stub = IP + 2;
        for nr in STUB_SYSCALLS {
            assert_eq!(call(nr, from_stub), libc::SECCOMP_RET_ALLOW, "nr {nr}");
        }
        // A host-only syscall from the stub's instruction, or an allowed one from anywhere
        // else (the heap, the other half of the address), kills the stub.
        for nr in [
            libc::SYS_socket,
            libc::SYS_ptrace,
            libc::SYS_kill,
            libc::SYS_execve,
        ] {
            assert_eq!(
                call(nr, from_stub),
                libc::SECCOMP_RET_KILL_PROCESS,
                "nr {nr}"
            );
        }
        assert_eq!(
            call(libc::SYS_mmap, 0x5555_0000_1000),
            libc::SECCOMP_RET_KILL_PROCESS
        );
        assert_eq!(
            call(libc::SYS_mmap, from_stub ^ (1 << 40)),
            libc::SECCOMP_RET_KILL_PROCESS
        );
        // Another architecture's numbering (int 0x80, i386) kills too.
        let f = stub_filter_program(IP).assemble().unwrap();
        let i386 = SeccompData {
            nr: libc::SYS_mmap as i32,
            arch: 0x4000_0003,
            instruction_pointer: from_stub,
            args: [0; 6],
        };
        assert_eq!(run(&f, &i386), libc::SECCOMP_RET_KILL_PROCESS);
    }

    /// docs/security.md ("The stub filter") lists exactly these syscalls.
    #[test]
    fn security_doc_lists_the_stub_filter() {
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/security.md"))
                .expect("docs/security.md");
        let section = doc
            .split("## The stub filter")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("docs/security.md has a stub filter section");
        for nr in STUB_SYSCALLS {
            let name = crate::syscalls::names::NAMES[nr as usize];
            assert!(
                section
                    .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .any(|w| w == name),
                "docs/security.md's stub filter section does not list {name}"
            );
        }
    }
}
