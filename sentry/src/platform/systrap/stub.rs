//! The systrap stub's code region and the context it shares with the sentry.
//!
//! Every stub thread owns one 64 KiB *block* of the context file (see [`super::contexts`]),
//! mapped at the same address in the sentry and in the stub. The block's first bytes are the
//! thread's [`Context`]; the rest is the thread's signal stack. When the thread traps (SIGSYS
//! from the stub filter, a fault, or the sentry's interrupt signal) the kernel delivers the
//! signal on that stack into [`handler_addr`], which lives in the code region (so its own
//! syscalls pass the filter). The handler finds its context by rounding its stack pointer
//! down to the block, saves the thread's registers and fs/gs base there, posts `REQUEST`
//! (waking the sentry through the doorbell eventfd only when the sentry sleeps), then waits:
//! - `INJECT`: it runs the host syscall the sentry wrote into the context (mmap, clone, ...),
//!   stores the result, posts `INJECT_DONE` and waits again. The child of an injected clone
//!   starts on a copy of the block that the sentry prepared and moves to it;
//! - `REPLY`: it copies the (possibly changed) registers back into the signal frame and
//!   returns through [`restorer_addr`] (`rt_sigreturn`), so the thread goes on with whatever
//!   the sentry left: a syscall's result in rax, or a signal frame the sentry built.
//!
//! Waiting spins briefly on the state word before sleeping on its futex; the sentry wakes the
//! futex only when the stub says it sleeps.

use std::sync::atomic::{AtomicU32, AtomicU64};

/// Size and alignment of a block: the context, then the signal stack.
pub const BLOCK_SIZE: usize = 0x1_0000;

/// Context states. The stub writes `REQUEST`, `INJECT_DONE` and `RUNNING`; the sentry
/// `HELD` (it took the request), `REPLY` and `INJECT`.
pub const RUNNING: u32 = 0;
pub const REQUEST: u32 = 1;
pub const HELD: u32 = 2;
pub const REPLY: u32 = 3;
pub const INJECT: u32 = 4;
pub const INJECT_DONE: u32 = 5;

/// How often the stub polls its state before it sleeps on the futex.
pub const STUB_SPINS: u32 = 2000;

/// Indexes into [`Context::gregs`] (the order of the kernel's `mcontext_t` gregs).
pub mod greg {
    pub const R8: usize = 0;
    pub const R9: usize = 1;
    pub const R10: usize = 2;
    pub const R11: usize = 3;
    pub const R12: usize = 4;
    pub const R13: usize = 5;
    pub const R14: usize = 6;
    pub const R15: usize = 7;
    pub const RDI: usize = 8;
    pub const RSI: usize = 9;
    pub const RBP: usize = 10;
    pub const RBX: usize = 11;
    pub const RDX: usize = 12;
    pub const RAX: usize = 13;
    pub const RCX: usize = 14;
    pub const RSP: usize = 15;
    pub const RIP: usize = 16;
    pub const EFL: usize = 17;
    pub const CSGSFS: usize = 18;
    pub const COUNT: usize = 23;
}

/// Offsets inside a `ucontext_t` the sentry edits in a copied block.
pub const UC_STACK_SP: usize = 16;
pub const UC_GREGS: usize = 40;
pub const UC_FPREGS_PTR: usize = 40 + 8 * greg::COUNT;

/// The start of a block, as the handler (offsets in the assembly below) and the sentry share
/// it. Everything in it is also writable by the workload thread's own process, so the sentry
/// treats it as untrusted input.
#[repr(C)]
pub struct Context {
    /// The futex word: one of the states above.
    pub state: AtomicU32, // 0
    /// The trapped syscall's number (SIGSYS's `si_syscall`).
    pub nr: AtomicU32, // 4
    /// The signal that brought the thread into the handler, its `si_code` and `si_addr`.
    pub signo: AtomicU32, // 8
    pub code: AtomicU32, // 12
    pub addr: AtomicU64, // 16
    /// The signal frame's `ucontext_t` (inside this block).
    pub uctx: AtomicU64, // 24
    /// The handler's stack pointer (the frame's return address is there).
    pub handler_rsp: AtomicU64, // 32
    pub fs_base: AtomicU64, // 40
    pub gs_base: AtomicU64, // 48
    /// An injected syscall: number, arguments, result.
    pub inj_nr: AtomicU64, // 56
    pub inj_args: [AtomicU64; 6], // 64
    pub inj_res: AtomicU64, // 112
    /// Address of the sandbox's [`Doorbell`].
    pub doorbell: AtomicU64, // 120
    /// The eventfd counter value the stub writes (always 1).
    pub one: AtomicU64, // 128
    /// The thread's host tid (CLONE_CHILD_SETTID), cleared by the kernel when it exits.
    pub tid_word: AtomicU32, // 136
    /// Non-zero while the stub sleeps on `state`.
    pub stub_sleeping: AtomicU32, // 140
    /// The thread's general registers in `mcontext_t` order.
    pub gregs: [AtomicU64; greg::COUNT], // 144
    /// SIGSYS's `si_arch`: AUDIT_ARCH_X86_64, or i386 for an `int 0x80` syscall.
    pub arch: AtomicU32, // 328
    /// Non-zero when the sentry does not expect to answer soon (the syscall blocked): the
    /// stub stops spinning and sleeps on its futex at once.
    pub park: AtomicU32, // 332
}

/// The first block of the context file: how stubs wake a sleeping sentry.
#[repr(C)]
pub struct Doorbell {
    /// Bumped by every post.
    pub count: AtomicU64,
    /// Non-zero while the sentry sleeps: a posting stub then writes the doorbell eventfd.
    pub sleeping: AtomicU32,
}

/// The fd number of the doorbell eventfd in every stub.
pub const DOORBELL_FD: i32 = 101;
/// The fd number of the context file in every stub (injected mmaps of new blocks use it).
pub const CONTEXT_FD: i32 = 102;

// The code region: page-aligned, so that a stub keeps exactly these pages. The offsets are
// those of `Context` (checked by a test); siginfo_t's si_code is at 8, si_addr at 16 and
// si_syscall at 24, si_arch at 28; the ucontext's gregs at 40. r12 holds the context, r13 the ucontext, r14
// the number of an injected syscall (syscall preserves all three).
std::arch::global_asm!(
    ".pushsection .text.moat_systrap, \"ax\"",
    ".balign 4096",
    ".globl moat_systrap_start",
    "moat_systrap_start:",
    ".globl moat_systrap_handler",
    "moat_systrap_handler:",
    "mov r12, rsp",
    "and r12, -65536",
    "mov r13, rdx",
    "mov dword ptr [r12 + 8], edi",
    "mov eax, dword ptr [rsi + 8]",
    "mov dword ptr [r12 + 12], eax",
    "mov rax, qword ptr [rsi + 16]",
    "mov qword ptr [r12 + 16], rax",
    "mov eax, dword ptr [rsi + 24]",
    "mov dword ptr [r12 + 4], eax",
    "mov eax, dword ptr [rsi + 28]",
    "mov dword ptr [r12 + 328], eax",
    "mov qword ptr [r12 + 24], rdx",
    "mov qword ptr [r12 + 32], rsp",
    "lea rsi, [rdx + 40]",
    "lea rdi, [r12 + 144]",
    "mov ecx, 23",
    "cld",
    "rep movsq",
    "rdfsbase rax",
    "mov qword ptr [r12 + 40], rax",
    "rdgsbase rax",
    "mov qword ptr [r12 + 48], rax",
    // Post, then ring the doorbell if the sentry sleeps (xchg and lock inc order the loads).
    "mov eax, 1",
    "xchg dword ptr [r12], eax",
    "mov rax, qword ptr [r12 + 120]",
    "lock inc qword ptr [rax]",
    "mov ecx, dword ptr [rax + 8]",
    "test ecx, ecx",
    "jz 2f",
    "mov edi, 101",
    "lea rsi, [r12 + 128]",
    "mov edx, 8",
    "mov eax, 1",
    "syscall",
    // Wait for REPLY or INJECT.
    "2:",
    "mov ecx, {spins}",
    "3:",
    "mov eax, dword ptr [r12]",
    "cmp eax, 3",
    "je 5f",
    "cmp eax, 4",
    "je 4f",
    "cmp dword ptr [r12 + 332], 0",
    "jne 8f",
    "pause",
    "dec ecx",
    "jnz 3b",
    "8:",
    "mov edx, 1",
    "xchg dword ptr [r12 + 140], edx",
    "mov edx, dword ptr [r12]",
    "cmp edx, 3",
    "je 7f",
    "cmp edx, 4",
    "je 7f",
    // futex(&state, FUTEX_WAIT, seen, NULL)
    "lea rdi, [r12]",
    "xor esi, esi",
    "xor r10d, r10d",
    "mov eax, 202",
    "syscall",
    "7:",
    "mov dword ptr [r12 + 140], 0",
    "jmp 2b",
    // INJECT: run the requested syscall.
    "4:",
    "mov r14, qword ptr [r12 + 56]",
    "mov rax, r14",
    "mov rdi, qword ptr [r12 + 64]",
    "mov rsi, qword ptr [r12 + 72]",
    "mov rdx, qword ptr [r12 + 80]",
    "mov r10, qword ptr [r12 + 88]",
    "mov r8, qword ptr [r12 + 96]",
    "mov r9, qword ptr [r12 + 104]",
    "syscall",
    "test rax, rax",
    "jnz 6f",
    "cmp r14, 56",
    "jne 6f",
    // The child of an injected clone runs on the new block's stack: move to that block.
    "mov rcx, rsp",
    "and rcx, -65536",
    "sub r13, r12",
    "add r13, rcx",
    "mov r12, rcx",
    "6:",
    "mov qword ptr [r12 + 112], rax",
    "mov eax, 5",
    "xchg dword ptr [r12], eax",
    // futex(&state, FUTEX_WAKE, 1): the sentry may sleep on it.
    "lea rdi, [r12]",
    "mov esi, 1",
    "mov edx, 1",
    "mov eax, 202",
    "syscall",
    "jmp 2b",
    // REPLY: registers back into the frame, then return into rt_sigreturn.
    "5:",
    "lea rsi, [r12 + 144]",
    "lea rdi, [r13 + 40]",
    "mov ecx, 23",
    "cld",
    "rep movsq",
    "mov rax, qword ptr [r12 + 40]",
    "wrfsbase rax",
    "mov rax, qword ptr [r12 + 48]",
    "wrgsbase rax",
    "mov dword ptr [r12], 0",
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
    spins = const STUB_SPINS,
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

/// The handler of every signal a stub catches (SA_SIGINFO | SA_ONSTACK).
pub fn handler_addr() -> u64 {
    moat_systrap_handler as *const () as usize as u64
}

/// The handler's return: `rt_sigreturn` from inside the region.
pub fn restorer_addr() -> u64 {
    moat_systrap_restorer as *const () as usize as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    /// The assembly hard-codes these offsets.
    #[test]
    fn context_layout_matches_the_handler() {
        assert_eq!(offset_of!(Context, state), 0);
        assert_eq!(offset_of!(Context, nr), 4);
        assert_eq!(offset_of!(Context, signo), 8);
        assert_eq!(offset_of!(Context, code), 12);
        assert_eq!(offset_of!(Context, addr), 16);
        assert_eq!(offset_of!(Context, uctx), 24);
        assert_eq!(offset_of!(Context, handler_rsp), 32);
        assert_eq!(offset_of!(Context, fs_base), 40);
        assert_eq!(offset_of!(Context, gs_base), 48);
        assert_eq!(offset_of!(Context, inj_nr), 56);
        assert_eq!(offset_of!(Context, inj_args), 64);
        assert_eq!(offset_of!(Context, inj_res), 112);
        assert_eq!(offset_of!(Context, doorbell), 120);
        assert_eq!(offset_of!(Context, one), 128);
        assert_eq!(offset_of!(Context, tid_word), 136);
        assert_eq!(offset_of!(Context, stub_sleeping), 140);
        assert_eq!(offset_of!(Context, gregs), 144);
        assert_eq!(offset_of!(Context, arch), 328);
        assert_eq!(offset_of!(Context, park), 332);
        assert_eq!(offset_of!(Doorbell, sleeping), 8);
        assert_eq!(DOORBELL_FD, 101);
        assert_eq!(libc::SYS_clone, 56);
    }
}
