//! A systrap stub thread: the sentry's handle on one workload thread's host thread and its
//! context block. The operations mirror the ptrace platform's `Stub` (registers, injected
//! syscalls, new processes and threads, stops), but go through the shared context instead of
//! ptrace: the stub is never traced.

use super::contexts;
use super::stub::{
    self, greg, Context, BLOCK_SIZE, CONTEXT_FD, DOORBELL_FD, HELD, INJECT, INJECT_DONE, REPLY,
    REQUEST, UC_FPREGS_PTR, UC_STACK_SP,
};
use crate::arch::{self, FpRegs, Regs};
use crate::platform::Exit;
use std::cell::Cell;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The host signal the sentry sends to make a thread running application code come into
/// the handler (as SIGSTOP does under ptrace).
pub const SIG_INTERRUPT: i32 = 63;
/// The signals a stub catches: trapped syscalls, faults, and the interrupt.
const CAUGHT: [i32; 7] = [
    libc::SIGSYS,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGTRAP,
    SIG_INTERRUPT,
];

/// clone flags of an injected fork: the child is the sentry's child, so the sentry reaps it.
pub const FORK_FLAGS: u64 = (libc::CLONE_PARENT | libc::SIGCHLD) as u64;
/// clone flags of an injected new thread; the kernel clears the block's tid word when the
/// thread is gone, which is when the block may serve another thread.
pub const THREAD_FLAGS: u64 = (libc::CLONE_VM
    | libc::CLONE_FS
    | libc::CLONE_FILES
    | libc::CLONE_SIGHAND
    | libc::CLONE_THREAD
    | libc::CLONE_SYSVSEM
    | libc::CLONE_CHILD_SETTID
    | libc::CLONE_CHILD_CLEARTID) as u64;

/// How long the sentry spins on a context before it sleeps on its futex.
const SENTRY_SPINS: u32 = 20_000;
/// A stub that does not answer within this long is considered broken.
const STUB_TIMEOUT: Duration = Duration::from_secs(10);

const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;

#[derive(Debug)]
pub struct Thread {
    /// Host tid of the stub thread.
    pub tid: i32,
    /// Host pid of the stub process.
    pub pid: i32,
    block: u32,
    /// The trapped syscall's number (ptrace's orig_rax), or -1.
    orig_rax: Cell<u64>,
}

impl Drop for Thread {
    fn drop(&mut self) {
        contexts::release(self.block);
    }
}

fn futex_wake(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE (shared: the word is in a MAP_SHARED mapping) on a live atomic.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, 1) };
}

fn futex_wait(word: &AtomicU32, seen: u32, timeout: Duration) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: FUTEX_WAIT on a live atomic with a valid relative timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            seen,
            &ts as *const libc::timespec,
        )
    };
}

/// The stub thread exists and its process has not died (a dead stub process stays a zombie
/// until the sentry reaps it, and tgkill still finds a zombie).
fn thread_alive(pid: i32, tid: i32) -> bool {
    // SAFETY: signal 0 only checks that the thread exists.
    if unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, 0) } != 0 {
        return false;
    }
    // SAFETY: waitid with WNOWAIT|WNOHANG only peeks at our own child's state into a local.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL,
        );
        !(r == 0 && info.si_pid() == pid)
    }
}

/// Fills a fresh block's header.
fn init_block(i: u32) {
    let c = contexts::context(i);
    c.state.store(HELD, Ordering::Relaxed);
    c.stub_sleeping.store(0, Ordering::Relaxed);
    c.tid_word.store(0, Ordering::Relaxed);
    c.park.store(0, Ordering::Relaxed);
    c.one.store(1, Ordering::Relaxed);
    c.self_ptr.store(contexts::block_addr(i), Ordering::Relaxed);
    if let Some((features, size)) = xstate_params() {
        c.xfeatures.store(features, Ordering::Relaxed);
        c.xstate_size.store(size, Ordering::Relaxed);
    }
    c.doorbell.store(contexts::BASE, Ordering::Release);
}

/// The host's user XSAVE features (XCR0) and their standard-format size, as the kernel puts
/// them in a signal frame; None without OSXSAVE (then syscall patching stays off).
pub fn xstate_params() -> Option<(u64, u32)> {
    static PARAMS: std::sync::OnceLock<Option<(u64, u32)>> = std::sync::OnceLock::new();
    *PARAMS.get_or_init(|| {
        let leaf1 = std::arch::x86_64::__cpuid(1);
        if leaf1.ecx & (1 << 27) == 0 {
            return None;
        }
        // Leaf 0xD exists when OSXSAVE is set; the patched path uses XSAVEOPT.
        let size = std::arch::x86_64::__cpuid_count(0xd, 0).ebx;
        if std::arch::x86_64::__cpuid_count(0xd, 1).eax & 1 == 0 {
            return None;
        }
        let (lo, hi): (u32, u32);
        // SAFETY: xgetbv(0) reads XCR0; allowed in user mode when OSXSAVE is set.
        unsafe {
            std::arch::asm!("xgetbv", in("ecx") 0u32, out("eax") lo, out("edx") hi,
                options(nomem, nostack));
        }
        // The block holds the XSAVE area from PATCH_FPSTATE to its end.
        if size as usize + 4 > BLOCK_SIZE - super::stub::PATCH_FPSTATE {
            return None;
        }
        Some(((hi as u64) << 32 | lo as u64, size))
    })
}

impl Thread {
    fn ctx(&self) -> &'static Context {
        contexts::context(self.block)
    }

    fn block_range(&self) -> (u64, u64) {
        let s = contexts::block_addr(self.block);
        (s, s + BLOCK_SIZE as u64)
    }

    /// Forks a fresh stub process from the sentry: an empty address space except the
    /// systrap code region, the host vDSO, the doorbell and its own block; the memory file,
    /// the doorbell eventfd and the context file at fixed fds; the signal handlers and the
    /// filter. It comes back stopped in its handler. Call before the sentry seals itself.
    pub fn spawn(memfile: Option<i32>) -> io::Result<Thread> {
        super::probe().map_err(io::Error::other)?;
        contexts::init()?;
        let (ctx_fd, bell_fd) = contexts::fds().ok_or_else(|| io::Error::other("no contexts"))?;
        let (start, end) = stub::region();
        let filter = super::stub_filter_program(start, end)
            .and_then(|p| p.assemble().map_err(Into::into))
            .map_err(io::Error::other)?;
        let prog = libc::sock_fprog {
            len: filter.len() as u16,
            filter: filter.as_ptr() as *mut _,
        };
        let (block, _) =
            contexts::alloc(-2, false).ok_or_else(|| io::Error::other("no free context"))?;
        init_block(block);
        contexts::context(block)
            .state
            .store(stub::RUNNING, Ordering::Release);
        let block_at = contexts::block_addr(block);
        let getcpu = crate::mm::vdso::host().and_then(|v| v.getcpu);
        // SAFETY: fork in a single-threaded sentry (before the control thread starts); the
        // child only makes raw syscalls below.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            contexts::release(block);
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: child of fork: only async-signal-safe raw syscalls on valid local data.
            unsafe { stub_child(memfile, ctx_fd, bell_fd, block_at, getcpu, &prog) }
        }
        contexts::set_owner(block, pid);
        let t = Thread {
            tid: pid,
            pid,
            block,
            orig_rax: Cell::new(u64::MAX),
        };
        t.wait_for(REQUEST)?;
        t.ctx().state.store(HELD, Ordering::Release);
        // Empty the address space around what the stub keeps.
        let kept = super::kept_regions(true);
        let mut scratch = arch::zeroed_regs();
        for (s, len) in crate::platform::ptrace::gaps(&kept) {
            t.inject(&mut scratch, libc::SYS_munmap, [s, len, 0, 0, 0, 0])?;
        }
        // Of the context file, only the doorbell and its own block.
        let first = contexts::BASE + BLOCK_SIZE as u64;
        if block_at > first {
            t.reserve(first, block_at - first)?;
        }
        let after = block_at + BLOCK_SIZE as u64;
        if after < contexts::BASE + contexts::SIZE {
            t.reserve(after, contexts::BASE + contexts::SIZE - after)?;
        }
        Ok(t)
    }

    /// Replaces `[at, at+len)` with an inaccessible reservation.
    fn reserve(&self, at: u64, len: u64) -> io::Result<()> {
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | libc::MAP_NORESERVE;
        let r = self.inject_raw(
            libc::SYS_mmap,
            [at, len, libc::PROT_NONE as u64, flags as u64, u64::MAX, 0],
        )?;
        if r as u64 != at {
            return Err(io::Error::from_raw_os_error((-r) as i32));
        }
        Ok(())
    }

    /// Maps block `i` of the context file into this thread's address space.
    fn map_block(&self, i: u32) -> io::Result<()> {
        let at = contexts::block_addr(i);
        let r = self.inject_raw(
            libc::SYS_mmap,
            [
                at,
                BLOCK_SIZE as u64,
                (libc::PROT_READ | libc::PROT_WRITE) as u64,
                (libc::MAP_SHARED | libc::MAP_FIXED) as u64,
                CONTEXT_FD as u64,
                contexts::block_offset(i),
            ],
        )?;
        if r as u64 != at {
            return Err(io::Error::from_raw_os_error((-r) as i32));
        }
        Ok(())
    }

    /// Waits until the context's state is `want` (the stub thread must be alive).
    fn wait_for(&self, want: u32) -> io::Result<()> {
        let c = self.ctx();
        for _ in 0..SENTRY_SPINS {
            if c.state.load(Ordering::Acquire) == want {
                return Ok(());
            }
            std::hint::spin_loop();
        }
        let deadline = Instant::now() + STUB_TIMEOUT;
        loop {
            let cur = c.state.load(Ordering::Acquire);
            if cur == want {
                return Ok(());
            }
            if !thread_alive(self.pid, self.tid) {
                return Err(io::Error::other("the stub thread is gone"));
            }
            if Instant::now() > deadline {
                return Err(io::Error::other("the stub thread does not answer"));
            }
            // A post (REQUEST) does not wake the state futex, only the doorbell: poll it
            // often. INJECT_DONE does wake it.
            let nap = if want == REQUEST {
                Duration::from_micros(200)
            } else {
                Duration::from_millis(10)
            };
            futex_wait(&c.state, cur, nap);
        }
    }

    /// Hands the context back to the stub in state `to` and wakes it if it sleeps.
    fn hand_over(&self, to: u32) {
        let c = self.ctx();
        c.park.store(0, Ordering::Relaxed);
        c.state.swap(to, Ordering::AcqRel);
        if c.stub_sleeping.load(Ordering::Acquire) != 0 {
            futex_wake(&c.state);
        }
    }

    /// If the thread has posted a request, takes it (the stub now waits for the sentry) and
    /// says what it was.
    pub fn take_posted(&self) -> Option<Exit> {
        let c = self.ctx();
        if c.state.load(Ordering::Relaxed) != REQUEST
            || c.state
                .compare_exchange(REQUEST, HELD, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return None;
        }
        Some(self.decode())
    }

    /// Whether the last syscall post came from a patched site (not a SIGSYS trap).
    pub fn came_through_patch(&self) -> bool {
        self.ctx().code.load(Ordering::Relaxed) == super::stub::PATCHED_SI_CODE
    }

    fn decode(&self) -> Exit {
        let c = self.ctx();
        let signo = c.signo.load(Ordering::Relaxed) as i32;
        match signo {
            libc::SIGSYS => {
                let nr = if c.arch.load(Ordering::Relaxed) == crate::platform::bpf::ARCH_X86_64 {
                    c.nr.load(Ordering::Relaxed) as i32 as i64 as u64
                } else {
                    // An i386 syscall (int 0x80): the sandbox has no 32-bit syscall table,
                    // so it fails as an unknown number does (ENOSYS).
                    u64::MAX
                };
                self.orig_rax.set(nr);
                // As ptrace shows a syscall stop: rax holds -ENOSYS, orig_rax the number.
                c.gregs[greg::RAX].store(-(libc::ENOSYS as i64) as u64, Ordering::Relaxed);
                Exit::Syscall
            }
            SIG_INTERRUPT => {
                self.orig_rax.set(u64::MAX);
                Exit::Interrupted { signal: signo }
            }
            _ => {
                self.orig_rax.set(u64::MAX);
                Exit::Fault {
                    signal: signo,
                    code: c.code.load(Ordering::Relaxed) as i32,
                    addr: c.addr.load(Ordering::Relaxed),
                }
            }
        }
    }

    pub fn get_regs(&self) -> io::Result<Regs> {
        let g = |i: usize| self.ctx().gregs[i].load(Ordering::Relaxed);
        let c = self.ctx();
        let mut r = arch::zeroed_regs();
        r.r8 = g(greg::R8);
        r.r9 = g(greg::R9);
        r.r10 = g(greg::R10);
        r.r11 = g(greg::R11);
        r.r12 = g(greg::R12);
        r.r13 = g(greg::R13);
        r.r14 = g(greg::R14);
        r.r15 = g(greg::R15);
        r.rdi = g(greg::RDI);
        r.rsi = g(greg::RSI);
        r.rbp = g(greg::RBP);
        r.rbx = g(greg::RBX);
        r.rdx = g(greg::RDX);
        r.rax = g(greg::RAX);
        r.rcx = g(greg::RCX);
        r.rsp = g(greg::RSP);
        r.rip = g(greg::RIP);
        r.eflags = g(greg::EFL);
        let csgsfs = g(greg::CSGSFS);
        r.cs = csgsfs & 0xffff;
        r.ss = (csgsfs >> 48) & 0xffff;
        r.orig_rax = self.orig_rax.get();
        r.fs_base = c.fs_base.load(Ordering::Relaxed);
        r.gs_base = c.gs_base.load(Ordering::Relaxed);
        if super::patching() && contexts::contains(r.gs_base) {
            // The gs base is the block (patched syscall sites find their context through
            // it): the workload's own is 0.
            r.gs_base = 0;
        }
        Ok(r)
    }

    pub fn set_regs(&self, r: &Regs) -> io::Result<()> {
        let c = self.ctx();
        // Store only what changed: the stub wrote these lines and reads them back; a line the
        // sentry leaves alone stays in the stub's cache (a syscall return changes rax alone).
        let store = |w: &std::sync::atomic::AtomicU64, v: u64| {
            if w.load(Ordering::Relaxed) != v {
                w.store(v, Ordering::Relaxed)
            }
        };
        let s = |i: usize, v: u64| store(&c.gregs[i], v);
        s(greg::R8, r.r8);
        s(greg::R9, r.r9);
        s(greg::R10, r.r10);
        s(greg::R11, r.r11);
        s(greg::R12, r.r12);
        s(greg::R13, r.r13);
        s(greg::R14, r.r14);
        s(greg::R15, r.r15);
        s(greg::RDI, r.rdi);
        s(greg::RSI, r.rsi);
        s(greg::RBP, r.rbp);
        s(greg::RBX, r.rbx);
        s(greg::RDX, r.rdx);
        s(greg::RAX, r.rax);
        s(greg::RCX, r.rcx);
        s(greg::RSP, r.rsp);
        s(greg::RIP, r.rip);
        s(greg::EFL, r.eflags);
        // fs/gs base are written back with wrfsbase/wrgsbase, which fault on a
        // non-canonical address: keep those out.
        let canonical = |v: u64| (v as i64) << 16 >> 16 == v as i64;
        if canonical(r.fs_base) {
            store(&c.fs_base, r.fs_base);
        }
        if super::patching() && r.gs_base == 0 {
            store(&c.gs_base, contexts::block_addr(self.block));
        } else if canonical(r.gs_base) {
            store(&c.gs_base, r.gs_base);
        }
        self.orig_rax.set(r.orig_rax);
        Ok(())
    }

    /// The signal frame's FP area in the block (address, size), bounds-checked: the frame
    /// is in workload-writable memory.
    fn fp_area(&self) -> io::Result<(u64, usize)> {
        let (lo, hi) = self.block_range();
        let bad = || io::Error::from_raw_os_error(libc::EFAULT);
        let uctx = self.ctx().uctx.load(Ordering::Relaxed);
        if uctx < lo + 512 || uctx + UC_FPREGS_PTR as u64 + 8 > hi {
            return Err(bad());
        }
        // SAFETY: inside our mapped block (checked above); racy writes only yield garbage,
        // which the checks below bound.
        let fp = unsafe { std::ptr::read_volatile((uctx + UC_FPREGS_PTR as u64) as *const u64) };
        if fp < lo + 512 || fp % 64 != 0 || fp + 512 > hi {
            return Err(bad());
        }
        // SAFETY: as above, fp..fp+512 is inside the block.
        let magic = unsafe { std::ptr::read_volatile((fp + 464) as *const u32) };
        let mut size = 512usize;
        if magic == FP_XSTATE_MAGIC1 {
            // SAFETY: as above.
            let xs = unsafe { std::ptr::read_volatile((fp + 480) as *const u32) } as u64;
            size = xs.clamp(512, hi - fp) as usize;
        }
        Ok((fp, size))
    }

    pub fn get_xstate(&self) -> io::Result<Vec<u8>> {
        let (fp, size) = self.fp_area()?;
        let mut v = vec![0u8; size];
        // SAFETY: fp..fp+size is inside the block (fp_area).
        unsafe { std::ptr::copy_nonoverlapping(fp as *const u8, v.as_mut_ptr(), size) };
        Ok(v)
    }

    /// Writes an XSAVE image into the frame, keeping the frame's own software-reserved
    /// bytes and a header the kernel's rt_sigreturn accepts.
    pub fn set_xstate(&self, data: &[u8]) -> io::Result<()> {
        let (fp, size) = self.fp_area()?;
        let mut img = self.get_xstate()?;
        let n = data.len().min(size);
        let keep: Vec<u8> = img[464..512].to_vec();
        img[..n].copy_from_slice(&data[..n]);
        img[464..512].copy_from_slice(&keep);
        sanitize_fx(&mut img);
        if size >= 576 {
            let xfeatures = u64::from_le_bytes(img[472..480].try_into().unwrap_or([0; 8]));
            let bv = u64::from_le_bytes(img[512..520].try_into().unwrap_or([0; 8])) & xfeatures;
            img[512..520].copy_from_slice(&bv.to_le_bytes());
            img[520..576].fill(0);
        }
        // SAFETY: fp..fp+size is inside the block (fp_area).
        unsafe { std::ptr::copy_nonoverlapping(img.as_ptr(), fp as *mut u8, size) };
        Ok(())
    }

    pub fn get_fpregs(&self) -> io::Result<FpRegs> {
        let (fp, _) = self.fp_area()?;
        let mut f = arch::zeroed_fpregs();
        // SAFETY: fp..fp+512 is inside the block; FpRegs is the 512-byte FXSAVE layout.
        unsafe {
            std::ptr::copy_nonoverlapping(fp as *const u8, &mut f as *mut FpRegs as *mut u8, 512)
        };
        Ok(f)
    }

    /// Writes the legacy FXSAVE area (set_xstate keeps the rest of the frame's XSAVE image
    /// and its software-reserved bytes).
    pub fn set_fpregs(&self, f: &FpRegs) -> io::Result<()> {
        // SAFETY: FpRegs is 512 bytes of plain data.
        let src = unsafe { std::slice::from_raw_parts(f as *const FpRegs as *const u8, 512) };
        self.set_xstate(src)
    }

    /// The thread's syscall blocked: its stub should sleep instead of spinning for the answer.
    pub fn park(&self) {
        let c = self.ctx();
        c.park.store(1, Ordering::Release);
    }

    /// Lets the thread run application code until its next syscall, fault or interrupt.
    pub fn resume(&self, regs: Option<&Regs>) -> io::Result<()> {
        if let Some(r) = regs {
            self.set_regs(r)?;
        }
        if self.ctx().state.load(Ordering::Acquire) != HELD {
            return Err(io::Error::other(
                "resume of a thread the sentry does not hold",
            ));
        }
        self.hand_over(REPLY);
        Ok(())
    }

    fn inject_raw(&self, nr: i64, args: [u64; 6]) -> io::Result<i64> {
        let c = self.ctx();
        if c.state.load(Ordering::Acquire) != HELD {
            return Err(io::Error::other(
                "injection into a thread the sentry does not hold",
            ));
        }
        c.inj_nr.store(nr as u64, Ordering::Relaxed);
        for (slot, a) in c.inj_args.iter().zip(args) {
            slot.store(a, Ordering::Relaxed);
        }
        self.hand_over(INJECT);
        if let Err(e) = self.wait_for(INJECT_DONE) {
            tracing::warn!(
                nr,
                tid = self.tid,
                state = c.state.load(Ordering::Relaxed),
                "systrap injection failed: {e}"
            );
            return Err(e);
        }
        c.state.store(HELD, Ordering::Release);
        Ok(c.inj_res.load(Ordering::Relaxed) as i64)
    }

    /// Makes the stub thread execute one host syscall and returns its raw result.
    pub fn inject(&self, _scratch: &mut Regs, nr: i64, args: [u64; 6]) -> io::Result<i64> {
        self.inject_raw(nr, args)
    }

    /// Copies this thread's block (its context and signal frame) into block `to`, fixing
    /// the frame's pointers, so a clone's child can run on it. Returns the address offset.
    fn copy_block_to(&self, to: u32) -> io::Result<u64> {
        let (lo, hi) = self.block_range();
        let dst = contexts::block_addr(to);
        let delta = dst.wrapping_sub(lo);
        let c = self.ctx();
        let uctx = c.uctx.load(Ordering::Relaxed);
        let rsp = c.handler_rsp.load(Ordering::Relaxed);
        let inside = |a: u64, len: u64| a >= lo + 512 && a + len <= hi;
        if !inside(uctx, UC_FPREGS_PTR as u64 + 8) || !inside(rsp, 8) {
            return Err(io::Error::from_raw_os_error(libc::EFAULT));
        }
        // SAFETY: both blocks are mapped in the sentry and distinct; BLOCK_SIZE bytes each.
        unsafe { std::ptr::copy_nonoverlapping(lo as *const u8, dst as *mut u8, BLOCK_SIZE) };
        let n = contexts::context(to);
        n.uctx.store(uctx.wrapping_add(delta), Ordering::Relaxed);
        n.handler_rsp
            .store(rsp.wrapping_add(delta), Ordering::Relaxed);
        let new_uctx = uctx.wrapping_add(delta);
        // SAFETY: new_uctx..+UC_FPREGS_PTR+8 is inside block `to` (same offsets as checked).
        unsafe {
            std::ptr::write_volatile((new_uctx + UC_STACK_SP as u64) as *mut u64, dst);
            let fpp = (new_uctx + UC_FPREGS_PTR as u64) as *mut u64;
            let fp = std::ptr::read_volatile(fpp);
            if fp >= lo && fp < hi {
                std::ptr::write_volatile(fpp, fp.wrapping_add(delta));
            }
        }
        // A frame built by a patched syscall site returns with iretq, which leaves the signal
        // stack alone; a new thread has none yet (the kernel clears it for CLONE_VM), so its
        // first return goes through rt_sigreturn, which installs the one in the frame.
        let new_rsp = rsp.wrapping_add(delta);
        // SAFETY: new_rsp..+8 is inside block `to` (checked above for the source offsets).
        unsafe {
            let ret = new_rsp as *mut u64;
            if std::ptr::read_volatile(ret) == stub::patched_return_addr() {
                std::ptr::write_volatile(ret, stub::restorer_addr());
            }
        }
        init_block(to);
        Ok(delta)
    }

    /// Forks the stub process; the child is stopped in its handler on a block of its own.
    pub fn fork(&self, _scratch: &mut Regs) -> io::Result<Thread> {
        let (nb, _) = contexts::alloc(self.pid, false)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EAGAIN))?;
        let undo = |e: io::Error| {
            let _ = self.reserve(contexts::block_addr(nb), BLOCK_SIZE as u64);
            contexts::set_owner(nb, 0);
            contexts::release(nb);
            e
        };
        let delta = self.copy_block_to(nb).map_err(undo)?;
        self.map_block(nb).map_err(undo)?;
        let rsp = self.ctx().handler_rsp.load(Ordering::Relaxed);
        let r = self
            .inject_raw(
                libc::SYS_clone,
                [FORK_FLAGS, rsp.wrapping_add(delta), 0, 0, 0, 0],
            )
            .map_err(undo)?;
        if r < 0 {
            return Err(undo(io::Error::from_raw_os_error((-r) as i32)));
        }
        let child = r as i32;
        contexts::set_owner(nb, child);
        let th = Thread {
            tid: child,
            pid: child,
            block: nb,
            orig_rax: Cell::new(self.orig_rax.get()),
        };
        // The parent drops the child's block; the child drops the parent's.
        self.reserve(contexts::block_addr(nb), BLOCK_SIZE as u64)?;
        th.wait_for(INJECT_DONE)?;
        th.ctx().state.store(HELD, Ordering::Release);
        for b in contexts::blocks_of(self.pid) {
            th.reserve(contexts::block_addr(b), BLOCK_SIZE as u64)?;
        }
        Ok(th)
    }

    /// Adds a host thread to this stub process, stopped in its handler on a block of its own.
    pub fn spawn_thread(&self, _scratch: &mut Regs) -> io::Result<Thread> {
        let (nb, mapped) = contexts::alloc(self.pid, true)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EAGAIN))?;
        let undo = |e: io::Error| {
            contexts::retire(nb);
            contexts::release(nb);
            e
        };
        let delta = self.copy_block_to(nb).map_err(undo)?;
        if !mapped {
            self.map_block(nb).map_err(undo)?;
        }
        let rsp = self.ctx().handler_rsp.load(Ordering::Relaxed);
        let ctid = contexts::block_addr(nb) + std::mem::offset_of!(Context, tid_word) as u64;
        let r = self
            .inject_raw(
                libc::SYS_clone,
                [THREAD_FLAGS, rsp.wrapping_add(delta), 0, ctid, 0, 0],
            )
            .map_err(undo)?;
        if r < 0 {
            return Err(undo(io::Error::from_raw_os_error((-r) as i32)));
        }
        let th = Thread {
            tid: r as i32,
            pid: self.pid,
            block: nb,
            orig_rax: Cell::new(self.orig_rax.get()),
        };
        th.wait_for(INJECT_DONE)?;
        th.ctx().state.store(HELD, Ordering::Release);
        Ok(th)
    }

    /// Ends this host thread only (the workload thread exited).
    pub fn exit_thread(&self) {
        contexts::retire(self.block);
        let c = self.ctx();
        if c.state.load(Ordering::Acquire) == HELD {
            c.inj_nr.store(libc::SYS_exit as u64, Ordering::Relaxed);
            for a in &c.inj_args {
                a.store(0, Ordering::Relaxed);
            }
            self.hand_over(INJECT);
            return;
        }
        // Not in the handler: it must not run workload code again.
        // SAFETY: tgkill of our own stub thread.
        unsafe { libc::syscall(libc::SYS_tgkill, self.pid, self.tid, libc::SIGKILL) };
    }

    /// Brings a thread that runs application code into its handler and holds it there.
    pub fn stop_now(&self) -> io::Result<()> {
        let c = self.ctx();
        if c.state.load(Ordering::Acquire) == HELD {
            return Ok(());
        }
        self.interrupt();
        self.wait_for(REQUEST)?;
        c.state
            .compare_exchange(REQUEST, HELD, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
            .map_err(|_| io::Error::other("the stub thread changed state under the sentry"))
    }

    /// Kills the whole stub process.
    pub fn kill(&self) {
        // SAFETY: plain kill(2) of a process we created.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
    }

    /// Makes a thread that runs application code come into its handler.
    pub fn interrupt(&self) {
        // SAFETY: tgkill of our own stub thread.
        unsafe { libc::syscall(libc::SYS_tgkill, self.pid, self.tid, SIG_INTERRUPT) };
    }
}

/// Keeps an FXSAVE image's MXCSR to bits the CPU accepts (reserved bits fault in XRSTOR).
fn sanitize_fx(img: &mut [u8]) {
    if img.len() >= 32 {
        let m = u32::from_le_bytes(img[24..28].try_into().unwrap_or([0; 4])) & 0xffff;
        img[24..28].copy_from_slice(&m.to_le_bytes());
    }
}

/// The new stub's side of `spawn`: becomes a systrap stub and traps into its handler.
///
/// # Safety
/// Only in the child of fork; never returns.
unsafe fn stub_child(
    memfile: Option<i32>,
    ctx_fd: i32,
    bell_fd: i32,
    block_at: u64,
    getcpu: Option<u64>,
    prog: &libc::sock_fprog,
) -> ! {
    // SAFETY: raw syscalls on valid local data, in a fresh single-threaded child.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        // The fds a stub keeps, at fixed numbers: first out of the way, then into place.
        let mem = memfile.map(|m| libc::fcntl(m, libc::F_DUPFD, 200));
        let ctx = libc::fcntl(ctx_fd, libc::F_DUPFD, 200);
        let bell = libc::fcntl(bell_fd, libc::F_DUPFD, 200);
        if ctx < 0 || bell < 0 {
            libc::_exit(120);
        }
        let keep = crate::mm::memfile::STUB_FD;
        if let Some(m) = mem.filter(|&m| m >= 0) {
            libc::dup2(m, keep);
        }
        libc::dup2(bell, DOORBELL_FD);
        libc::dup2(ctx, CONTEXT_FD);
        libc::syscall(libc::SYS_close_range, 0u32, (keep - 1) as u32, 0u32);
        libc::syscall(
            libc::SYS_close_range,
            (CONTEXT_FD + 1) as u32,
            u32::MAX,
            0u32,
        );
        if memfile.is_none() {
            libc::close(keep);
        }
        crate::platform::ptrace::unregister_rseq();
        // A stub needs no privilege at all.
        let hdr: [u32; 2] = [0x2008_0522, 0];
        let data = [0u32; 6];
        libc::syscall(libc::SYS_capset, hdr.as_ptr(), data.as_ptr());
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        let ss = libc::stack_t {
            ss_sp: block_at as *mut libc::c_void,
            ss_flags: 0,
            ss_size: BLOCK_SIZE,
        };
        if libc::sigaltstack(&ss, std::ptr::null_mut()) != 0 {
            libc::_exit(121);
        }
        // struct kernel_sigaction: handler, flags, restorer, mask (every signal blocked
        // while the handler runs).
        let act: [u64; 4] = [
            stub::handler_addr(),
            (libc::SA_SIGINFO | libc::SA_ONSTACK | 0x0400_0000) as u64, // SA_RESTORER
            stub::restorer_addr(),
            u64::MAX,
        ];
        for sig in CAUGHT {
            if libc::syscall(libc::SYS_rt_sigaction, sig, act.as_ptr(), 0, 8) != 0 {
                libc::_exit(122);
            }
        }
        if let Some(at) = getcpu {
            // The host vDSO's getcpu becomes a real (trapped) syscall, answered by the
            // sentry: patch this stub's private copy of the read-only text through
            // /proc/self/mem, which writes with FOLL_FORCE as ptrace's POKEDATA does.
            let patch = crate::mm::vdso::GETCPU_PATCH;
            let fd = libc::open(c"/proc/self/mem".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
            let written = fd >= 0
                && libc::pwrite(fd, patch.as_ptr() as *const libc::c_void, 8, at as i64) == 8;
            if fd >= 0 {
                libc::close(fd);
            }
            if !written {
                // No /proc: try making the page writable (a vDSO without VM_MAYWRITE refuses;
                // getcpu then reports the host's CPU, a cosmetic difference).
                let page = at & !0xfff;
                let len = (at + 8 - page).next_multiple_of(4096) as usize;
                let rwx = libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC;
                if libc::mprotect(page as *mut _, len, rwx) == 0 {
                    std::ptr::copy_nonoverlapping(patch.as_ptr(), at as *mut u8, 8);
                    libc::mprotect(page as *mut _, len, libc::PROT_READ | libc::PROT_EXEC);
                }
            }
        }
        if libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, prog) != 0 {
            libc::_exit(123);
        }
        // A syscall from outside the region traps: the stub is now in its handler, waiting.
        loop {
            let _r: i64;
            std::arch::asm!("syscall", inlateout("rax") libc::SYS_getpid => _r,
                out("rcx") _, out("r11") _, options(nostack));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stub spawned from this process: it answers injected mmaps, forks a child that
    /// answers too, and runs workload code whose syscalls come back as posts.
    #[test]
    fn spawn_inject_fork_and_trap() {
        if super::super::probe().is_err() {
            return;
        }
        let t = Thread::spawn(None).expect("spawn");
        let mut scratch = arch::zeroed_regs();
        let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64;
        let rw = (libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC) as u64;
        let at = t
            .inject(
                &mut scratch,
                libc::SYS_mmap,
                [0, 4096, rw, flags, u64::MAX, 0],
            )
            .expect("inject mmap");
        assert!(at > 0 && at % 4096 == 0, "mmap gave {at:#x}");
        let child = t.fork(&mut scratch).expect("fork");
        let at2 = child
            .inject(
                &mut scratch,
                libc::SYS_mmap,
                [0, 4096, rw, flags, u64::MAX, 0],
            )
            .expect("inject mmap in the child");
        assert!(at2 > 0);
        // Code: `mov eax, 39; syscall; jmp back to the syscall` written into the page.
        let code: [u8; 9] = [0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7];
        crate::platform::ptrace::write_mem(t.pid, at as u64, &code).expect("write code");
        let mut r = t.get_regs().unwrap();
        r.rip = at as u64;
        r.rsp = at as u64 + 4000;
        t.resume(Some(&r)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut exits = 0;
        while exits < 100 && Instant::now() < deadline {
            if let Some(e) = t.take_posted() {
                assert_eq!(e, Exit::Syscall);
                let mut r = t.get_regs().unwrap();
                assert_eq!(r.orig_rax, 39);
                r.rax = 7;
                t.resume(Some(&r)).unwrap();
                exits += 1;
            }
        }
        assert_eq!(exits, 100);
        child.kill();
        t.kill();
        // SAFETY: reaping our own children.
        unsafe {
            libc::waitpid(child.pid, std::ptr::null_mut(), 0);
            libc::waitpid(t.pid, std::ptr::null_mut(), 0);
        }
    }
}
