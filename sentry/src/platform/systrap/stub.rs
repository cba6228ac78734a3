//! The systrap stub's code region and its shared context.
//!
//! A stub thread runs with a 64 KiB signal stack whose first bytes are its [`Context`], shared
//! with the sentry. When the stub's filter traps a workload syscall, the kernel delivers SIGSYS
//! on that stack, into [`handler_addr`] (in the code region, so the handler's own futex calls
//! and its `rt_sigreturn` pass the filter). The handler finds the context by rounding its
//! stack pointer down to the stack's 64 KiB alignment, copies the thread's registers (and the
//! syscall number) there, marks the context `REQUEST`, wakes the sentry with a futex, and
//! waits until the sentry marks it `REPLY`. It then copies the registers back into the signal
//! frame and returns through [`restorer_addr`] (`rt_sigreturn`), so the thread continues with
//! whatever registers the sentry left: a syscall's result in rax, or a signal frame the sentry
//! built.

use std::sync::atomic::{AtomicU32, Ordering};

/// Size and alignment of a stub thread's signal stack; its [`Context`] is at the bottom.
pub const SIGNAL_STACK_SIZE: usize = 0x1_0000;

/// Context states.
pub const IDLE: u32 = 0;
pub const REQUEST: u32 = 1;
pub const REPLY: u32 = 2;

/// Indexes into [`Context::gregs`] (the order of the kernel's `mcontext_t` gregs).
pub const REG_RDI: usize = 8;
pub const REG_RSI: usize = 9;
pub const REG_RDX: usize = 12;
pub const REG_RAX: usize = 13;
pub const REG_RIP: usize = 16;
pub const REG_R10: usize = 2;
pub const REG_R8: usize = 0;
pub const REG_R9: usize = 1;

/// The start of a stub thread's signal stack, as the handler and the sentry share it.
#[repr(C)]
pub struct Context {
    /// [`IDLE`], [`REQUEST`] (the stub waits for the sentry) or [`REPLY`]: a futex word.
    pub state: AtomicU32,
    /// The trapped syscall's number (SIGSYS's `si_syscall`), written by the stub.
    pub nr: AtomicU32,
    /// The thread's general registers in `mcontext_t` order: the stub's while it runs, the
    /// sentry's while the state is [`REQUEST`].
    gregs: std::cell::UnsafeCell<[u64; 23]>,
}

// The code region: page-aligned, so that a stub can keep exactly these pages. Offsets used
// below: ucontext_t.uc_mcontext.gregs is at 40, siginfo_t's si_syscall at 24; the context's
// nr at 4 and gregs at 8 ([`Context`]).
std::arch::global_asm!(
    ".pushsection .text.moat_systrap, \"ax\"",
    ".balign 4096",
    ".globl moat_systrap_start",
    "moat_systrap_start:",
    ".globl moat_systrap_handler",
    "moat_systrap_handler:",
    // rsi: siginfo_t*, rdx: ucontext_t*; every register is ours (the frame holds the thread's)
    "mov r8, rsp",
    "and r8, -65536",
    "mov eax, dword ptr [rsi + 24]",
    "mov dword ptr [r8 + 4], eax",
    "mov r9, rdx",
    "lea rsi, [rdx + 40]",
    "lea rdi, [r8 + 8]",
    "mov ecx, 23",
    "cld",
    "rep movsq",
    "mov dword ptr [r8], 1",
    // futex(&ctx.state, FUTEX_WAKE, 1)
    "mov rdi, r8",
    "mov esi, 1",
    "mov edx, 1",
    "mov eax, 202",
    "syscall",
    "2:",
    "mov eax, dword ptr [r8]",
    "cmp eax, 2",
    "je 3f",
    // futex(&ctx.state, FUTEX_WAIT, REQUEST, NULL)
    "mov rdi, r8",
    "xor esi, esi",
    "mov edx, 1",
    "xor r10d, r10d",
    "mov eax, 202",
    "syscall",
    "jmp 2b",
    "3:",
    "mov dword ptr [r8], 0",
    "lea rsi, [r8 + 8]",
    "lea rdi, [r9 + 40]",
    "mov ecx, 23",
    "rep movsq",
    "ret",
    ".globl moat_systrap_restorer",
    "moat_systrap_restorer:",
    "mov eax, 15",
    "syscall",
    "ud2",
    ".balign 4096",
    ".globl moat_systrap_end",
    "moat_systrap_end:",
    ".popsection",
);

extern "C" {
    fn moat_systrap_start();
    fn moat_systrap_handler();
    fn moat_systrap_restorer();
    fn moat_systrap_end();
}

/// The stub code region `[start, end)`: the filter's "inside".
pub fn region() -> (u64, u64) {
    (
        moat_systrap_start as *const () as usize as u64,
        moat_systrap_end as *const () as usize as u64,
    )
}

/// The SIGSYS handler (SA_SIGINFO | SA_ONSTACK).
pub fn handler_addr() -> u64 {
    moat_systrap_handler as *const () as usize as u64
}

/// The handler's return: `rt_sigreturn` from inside the region.
pub fn restorer_addr() -> u64 {
    moat_systrap_restorer as *const () as usize as u64
}

impl Context {
    /// The registers, for the sentry while the state is [`REQUEST`].
    ///
    /// # Safety
    /// Only while the stub waits (state [`REQUEST`]) and by one sentry thread at a time.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn regs(&self) -> &mut [u64; 23] {
        // SAFETY: the caller holds the context (see above); the stub does not touch it.
        unsafe { &mut *self.gregs.get() }
    }

    /// The sentry's side: waits (up to `timeout`) for the stub to post a request, spinning
    /// `spins` times on the state word before sleeping on the futex. Returns false on timeout.
    pub fn wait_request(&self, spins: u32, timeout: std::time::Duration) -> bool {
        for _ in 0..spins {
            if self.state.load(Ordering::Acquire) == REQUEST {
                return true;
            }
            std::hint::spin_loop();
        }
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let cur = self.state.load(Ordering::Acquire);
            if cur == REQUEST {
                return true;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            let ts = libc::timespec {
                tv_sec: left.as_secs() as libc::time_t,
                tv_nsec: left.subsec_nanos() as libc::c_long,
            };
            // SAFETY: a FUTEX_WAIT on our own live atomic, with a valid timeout.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    self.state.as_ptr(),
                    libc::FUTEX_WAIT,
                    cur,
                    &ts as *const libc::timespec,
                )
            };
        }
    }

    /// The sentry's side: hands the (possibly changed) registers back and wakes the stub.
    pub fn reply(&self) {
        self.state.store(REPLY, Ordering::Release);
        // SAFETY: a FUTEX_WAKE on our own live atomic.
        unsafe { libc::syscall(libc::SYS_futex, self.state.as_ptr(), libc::FUTEX_WAKE, 1) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::systrap::stub_filter_program;
    use std::time::Duration;

    /// A raw `syscall` outside the stub region (the filter traps it).
    #[inline(never)]
    fn raw_syscall0(nr: i64) -> i64 {
        let r: i64;
        // SAFETY: a bare syscall instruction; under the test's filter it never reaches the
        // host kernel, and registers it clobbers are declared.
        unsafe {
            std::arch::asm!("syscall", inlateout("rax") nr => r, out("rcx") _, out("r11") _,
                options(nostack));
        }
        r
    }

    /// A child process becomes a systrap stub (signal stack with the context, SIGSYS handler,
    /// filter), then calls getpid 1000 times with raw syscalls; the test serves each from the
    /// shared context with the answer 1, as the sentry would. The child records what it got;
    /// its last call (number 999999) tells the test it is done.
    #[test]
    fn sigsys_round_trip_through_the_shared_context() {
        const CALLS: u64 = 1000;
        const DONE: i64 = 999_999;
        // Shared between the test and the child: a 64 KiB-aligned signal stack block.
        // SAFETY: a fresh anonymous shared mapping; checked below.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                2 * SIGNAL_STACK_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(raw, libc::MAP_FAILED);
        let block = (raw as usize + SIGNAL_STACK_SIZE - 1) & !(SIGNAL_STACK_SIZE - 1);
        // SAFETY: block is inside the mapping, aligned, zeroed, and outlives every use.
        let ctx: &Context = unsafe { &*(block as *const Context) };
        // The child's tally, past the context.
        let tally = (block + 1024) as *mut u64;
        let (start, end) = region();
        let filter = stub_filter_program(start, end)
            .expect("region")
            .assemble()
            .expect("filter");
        // SAFETY: fork in a test process; the child only makes raw syscalls and never returns.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: the child sets up its own signal stack, handler and filter with raw
            // calls on valid structures, then only runs trapped syscalls.
            unsafe {
                let ss = libc::stack_t {
                    ss_sp: block as *mut libc::c_void,
                    ss_flags: 0,
                    ss_size: SIGNAL_STACK_SIZE,
                };
                if libc::sigaltstack(&ss, std::ptr::null_mut()) != 0 {
                    libc::_exit(10);
                }
                // struct kernel_sigaction: handler, flags, restorer, mask
                let act: [u64; 4] = [
                    handler_addr(),
                    (libc::SA_SIGINFO | libc::SA_ONSTACK | 0x0400_0000) as u64, // SA_RESTORER
                    restorer_addr(),
                    0,
                ];
                if libc::syscall(libc::SYS_rt_sigaction, libc::SIGSYS, act.as_ptr(), 0, 8) != 0 {
                    libc::_exit(11);
                }
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                    libc::_exit(12);
                }
                let prog = libc::sock_fprog {
                    len: filter.len() as u16,
                    filter: filter.as_ptr() as *mut libc::sock_filter,
                };
                if libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &prog) != 0 {
                    libc::_exit(13);
                }
                let mut ok = 0u64;
                for _ in 0..CALLS {
                    if raw_syscall0(libc::SYS_getpid) == 1 {
                        ok += 1;
                    }
                }
                tally.write_volatile(ok);
                raw_syscall0(DONE);
                loop {
                    raw_syscall0(DONE);
                }
            }
        }
        let mut served = 0;
        let mut finished = false;
        while ctx.wait_request(1000, Duration::from_secs(10)) {
            match ctx.nr.load(std::sync::atomic::Ordering::Acquire) as i64 {
                n if n == libc::SYS_getpid => {
                    // SAFETY: the stub waits while the state is REQUEST: the registers are ours.
                    unsafe { ctx.regs()[REG_RAX] = 1 };
                    served += 1;
                    ctx.reply();
                }
                DONE => {
                    finished = true;
                    break;
                }
                other => panic!("the stub trapped syscall {other}"),
            }
        }
        // SAFETY: our own child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let mut status = 0;
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(
            finished,
            "the stub did not finish (status {status:#x}, served {served})"
        );
        assert_eq!(served, CALLS);
        // SAFETY: the child wrote it before its last call.
        assert_eq!(
            unsafe { tally.read_volatile() },
            CALLS,
            "getpid did not return 1 every time"
        );
        // SAFETY: unmapping our own mapping.
        unsafe { libc::munmap(raw, 2 * SIGNAL_STACK_SIZE) };
    }
}
