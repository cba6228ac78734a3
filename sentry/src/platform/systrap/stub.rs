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
    /// The block's own address: a patched syscall site (below) finds its context through
    /// the gs base and checks it against this before trusting it.
    pub self_ptr: AtomicU64, // 336
    /// XSAVE features and standard-format size, for the FP area of a frame built by a
    /// patched site (what the kernel writes in a signal frame's `_fpx_sw_bytes`).
    pub xfeatures: AtomicU64, // 344
    pub xstate_size: AtomicU32, // 352
    /// Set by the interrupt signal when it finds the thread inside a patched syscall's
    /// way in or out (see the assembly).
    pub interrupt_pending: AtomicU32, // 356
    /// The signal mask around an injected clone (see the assembly).
    pub saved_mask: AtomicU64, // 360
}

/// The `si_code` of the SIGSYS a patched syscall site posts (no kernel signal has it).
pub const PATCHED_SI_CODE: u32 = 0x4d0;

/// Where a patched syscall site builds its stand-in signal frame inside the block: the
/// frame (return address, then the `ucontext`) and its siginfo, and the XSAVE area.
pub const PATCH_FRAME: usize = 0xB000;
pub const PATCH_SIGINFO: usize = 0xB140;
pub const PATCH_FPSTATE: usize = 0xC000;

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
    // The sentry's interrupt while the thread is inside the region can only be a thread on
    // its way into or out of a patched syscall (the trap path runs with every signal
    // blocked): note it, and if the thread is already past its last check on the way out,
    // send it to post the interrupt instead of returning to the workload.
    "cmp edi, 63",
    "jne moat_systrap_handler_body",
    "mov rax, qword ptr [rdx + 40 + 8*16]",
    "lea rcx, [rip + moat_systrap_start]",
    "cmp rax, rcx",
    "jb moat_systrap_handler_body",
    "lea rcx, [rip + moat_systrap_end]",
    "cmp rax, rcx",
    "jae moat_systrap_handler_body",
    "mov rcx, rsp",
    "and rcx, -65536",
    "mov dword ptr [rcx + 356], 1",
    "lea r8, [rip + moat_systrap_patched_return]",
    "cmp rax, r8",
    "jb 9f",
    "lea r8, [rip + moat_systrap_patched_iret_end]",
    "cmp rax, r8",
    "jae 9f",
    "lea r8, [rip + moat_systrap_patched_reinterrupt]",
    "mov qword ptr [rdx + 40 + 8*16], r8",
    "9:",
    "ret",
    "moat_systrap_handler_body:",
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
    // INJECT: run the requested syscall. A clone runs with every signal blocked: the new
    // thread or process keeps them blocked until its first rt_sigreturn, which installs its
    // signal stack and mask together (before it, a signal would find the parent's stack).
    "4:",
    "mov r14, qword ptr [r12 + 56]",
    "cmp r14, 56",
    "jne 41f",
    "mov eax, 14",
    "xor edi, edi",
    "lea rsi, [rip + moat_systrap_all_signals]",
    "lea rdx, [r12 + 360]",
    "mov r10d, 8",
    "syscall",
    "41:",
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
    // The clone's caller gets its mask back; the child (0) keeps everything blocked.
    "cmp r14, 56",
    "jne 61f",
    "test rax, rax",
    "jz 61f",
    "mov eax, 14",
    "mov edi, 2",
    "lea rsi, [r12 + 360]",
    "xor edx, edx",
    "mov r10d, 8",
    "syscall",
    "61:",
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
    ".balign 8",
    "moat_systrap_all_signals:",
    ".quad -1",
    ".globl moat_systrap_restorer",
    "moat_systrap_restorer:",
    "mov eax, 15",
    "syscall",
    "ud2",
    // A patched syscall site (syscall patching, `mm::patch`) jumps here through its
    // trampoline with eax = the syscall number and rcx = the return address, everything
    // else as the workload left it. Build on the block's stack the signal frame the kernel
    // would have built for the SIGSYS (registers, XSAVE area, siginfo), with every signal
    // blocked, and go on as the handler: the sentry sees an ordinary trap and the reply
    // returns through rt_sigreturn. The gs base is the thread's block (the sentry keeps it
    // so while the workload has no gs base of its own); a fault before the check passes is
    // served by the sentry as the syscall itself.
    ".globl moat_systrap_patched",
    "moat_systrap_patched:",
    // The flags first, before anything changes them: below the workload's red zone.
    "lea rsp, [rsp - 128]",
    "pushfq",
    ".globl moat_systrap_patched_pushed",
    "moat_systrap_patched_pushed:",
    "rdgsbase r11",
    "cmp r11, qword ptr [r11 + 336]",
    "je 27f",
    "ud2",
    "27:",
    ".globl moat_systrap_patched_checked",
    "moat_systrap_patched_checked:",
    "pop qword ptr [r11 + 0xB030 + 8*17]",
    "lea rsp, [rsp + 128]",
    "mov qword ptr [r11 + 0xB030 + 8*15], rsp",
    "lea rsp, [r11 + 0xB000]",
    "mov qword ptr [r11 + 0xB030 + 8*0], r8",
    "mov qword ptr [r11 + 0xB030 + 8*1], r9",
    "mov qword ptr [r11 + 0xB030 + 8*2], r10",
    "mov qword ptr [r11 + 0xB030 + 8*4], r12",
    "mov qword ptr [r11 + 0xB030 + 8*5], r13",
    "mov qword ptr [r11 + 0xB030 + 8*6], r14",
    "mov qword ptr [r11 + 0xB030 + 8*7], r15",
    "mov qword ptr [r11 + 0xB030 + 8*8], rdi",
    "mov qword ptr [r11 + 0xB030 + 8*9], rsi",
    "mov qword ptr [r11 + 0xB030 + 8*10], rbp",
    "mov qword ptr [r11 + 0xB030 + 8*11], rbx",
    "mov qword ptr [r11 + 0xB030 + 8*12], rdx",
    "mov qword ptr [r11 + 0xB030 + 8*13], rax",
    "mov qword ptr [r11 + 0xB030 + 8*14], rcx",
    "mov qword ptr [r11 + 0xB030 + 8*16], rcx",
    "mov rdx, qword ptr [r11 + 0xB030 + 8*17]",
    "mov qword ptr [r11 + 0xB030 + 8*3], rdx",
    "mov rdx, 0x002b000000000033",
    "mov qword ptr [r11 + 0xB030 + 8*18], rdx",
    "xor edx, edx",
    "mov qword ptr [r11 + 0xB030 + 8*19], rdx",
    "mov qword ptr [r11 + 0xB030 + 8*20], rdx",
    "mov qword ptr [r11 + 0xB030 + 8*21], rdx",
    "mov qword ptr [r11 + 0xB030 + 8*22], rdx",
    "mov r12, r11",
    "mov dword ptr [r12 + 356], 0",
    // The XSAVE area: header zeroed, then the kernel's software-reserved bytes and magic2.
    "xor eax, eax",
    "mov qword ptr [r12 + 0xC000 + 512], rax",
    "mov qword ptr [r12 + 0xC000 + 520], rax",
    "mov qword ptr [r12 + 0xC000 + 528], rax",
    "mov qword ptr [r12 + 0xC000 + 536], rax",
    "mov qword ptr [r12 + 0xC000 + 544], rax",
    "mov qword ptr [r12 + 0xC000 + 552], rax",
    "mov qword ptr [r12 + 0xC000 + 560], rax",
    "mov qword ptr [r12 + 0xC000 + 568], rax",
    "mov eax, -1",
    "mov edx, -1",
    // xsaveopt skips what has not changed since the xrstor on the way out.
    "xsaveopt [r12 + 0xC000]",
    "mov dword ptr [r12 + 0xC000 + 464], 0x46505853",
    "mov eax, dword ptr [r12 + 352]",
    "lea edx, [eax + 4]",
    "mov dword ptr [r12 + 0xC000 + 468], edx",
    "mov rdx, qword ptr [r12 + 344]",
    "mov qword ptr [r12 + 0xC000 + 472], rdx",
    "mov dword ptr [r12 + 0xC000 + 480], eax",
    "xor edx, edx",
    "mov dword ptr [r12 + 0xC000 + 484], edx",
    "mov qword ptr [r12 + 0xC000 + 488], rdx",
    "mov qword ptr [r12 + 0xC000 + 496], rdx",
    "mov qword ptr [r12 + 0xC000 + 504], rdx",
    "mov dword ptr [r12 + rax + 0xC000], 0x46505845",
    // The ucontext: flags (FP_XSTATE | SIGCONTEXT_SS | STRICT_RESTORE_SS), no link, the
    // block as the signal stack, the FP area.
    "mov qword ptr [r12 + 0xB008], 7",
    "mov qword ptr [r12 + 0xB010], rdx",
    "mov qword ptr [r12 + 0xB018], r12",
    "mov qword ptr [r12 + 0xB020], rdx",
    "mov qword ptr [r12 + 0xB028], 65536",
    "mov qword ptr [r12 + 0xB008 + 296], rdx",
    "lea rax, [r12 + 0xC000]",
    "mov qword ptr [r12 + 0xB008 + 224], rax",
    // siginfo: SIGSYS, PATCHED_SI_CODE, call address, number, AUDIT_ARCH_X86_64.
    "mov qword ptr [r12 + 0xB140], 31",
    "mov qword ptr [r12 + 0xB140 + 8], 0x4d0",
    "mov rax, qword ptr [r12 + 0xB030 + 8*16]",
    "mov qword ptr [r12 + 0xB140 + 16], rax",
    "mov eax, dword ptr [r12 + 0xB030 + 8*13]",
    "mov dword ptr [r12 + 0xB140 + 24], eax",
    "mov dword ptr [r12 + 0xB140 + 28], 0xC000003E",
    "lea rax, [rip + moat_systrap_patched_return]",
    "mov qword ptr [r12 + 0xB000], rax",
    "mov edi, 31",
    "lea rsi, [r12 + 0xB140]",
    "lea rdx, [r12 + 0xB008]",
    "jmp moat_systrap_handler_body",
    // The way back (the handler's REPLY returns here: r12 = block, r13 = ucontext): the FP
    // state, then every register at once with iretq, without a syscall. An interrupt noted
    // on the way in or here posts first.
    ".globl moat_systrap_patched_return",
    "moat_systrap_patched_return:",
    "cmp dword ptr [r12 + 356], 0",
    "jne moat_systrap_patched_reinterrupt",
    "mov eax, -1",
    "mov edx, -1",
    "xrstor [r12 + 0xC000]",
    "lea rsp, [r12 + 0xAFD8]",
    "mov rax, qword ptr [r13 + 40 + 8*16]",
    "mov qword ptr [rsp], rax",
    "mov qword ptr [rsp + 8], 0x33",
    "mov rax, qword ptr [r13 + 40 + 8*17]",
    "mov qword ptr [rsp + 16], rax",
    "mov rax, qword ptr [r13 + 40 + 8*15]",
    "mov qword ptr [rsp + 24], rax",
    "mov qword ptr [rsp + 32], 0x2b",
    // iretq faults with NT set in the current flags.
    "pushfq",
    "and qword ptr [rsp], -16385",
    "popfq",
    "mov r8, qword ptr [r13 + 40 + 8*0]",
    "mov r9, qword ptr [r13 + 40 + 8*1]",
    "mov r10, qword ptr [r13 + 40 + 8*2]",
    "mov r11, qword ptr [r13 + 40 + 8*3]",
    "mov r14, qword ptr [r13 + 40 + 8*6]",
    "mov r15, qword ptr [r13 + 40 + 8*7]",
    "mov rdi, qword ptr [r13 + 40 + 8*8]",
    "mov rsi, qword ptr [r13 + 40 + 8*9]",
    "mov rbp, qword ptr [r13 + 40 + 8*10]",
    "mov rbx, qword ptr [r13 + 40 + 8*11]",
    "mov rdx, qword ptr [r13 + 40 + 8*12]",
    "mov rax, qword ptr [r13 + 40 + 8*13]",
    "mov rcx, qword ptr [r13 + 40 + 8*14]",
    "mov r12, qword ptr [r13 + 40 + 8*4]",
    "mov r13, qword ptr [r13 + 40 + 8*5]",
    "iretq",
    ".globl moat_systrap_patched_iret_end",
    "moat_systrap_patched_iret_end:",
    // Post the interrupt with the workload's registers (still in the frame).
    ".globl moat_systrap_patched_reinterrupt",
    "moat_systrap_patched_reinterrupt:",
    "mov r12, rsp",
    "and r12, -65536",
    "mov dword ptr [r12 + 356], 0",
    "mov qword ptr [r12 + 0xB140], 63",
    "mov qword ptr [r12 + 0xB140 + 8], 0",
    "lea rsp, [r12 + 0xB000]",
    "mov edi, 63",
    "lea rsi, [r12 + 0xB140]",
    "lea rdx, [r12 + 0xB008]",
    "jmp moat_systrap_handler_body",
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
    fn moat_systrap_patched();
    fn moat_systrap_patched_pushed();
    fn moat_systrap_patched_checked();
    fn moat_systrap_patched_return();
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

/// Where the handler returns to for a frame a patched site built.
pub fn patched_return_addr() -> u64 {
    moat_systrap_patched_return as *const () as usize as u64
}

/// Where a patched syscall site's trampoline jumps.
pub fn patched_entry_addr() -> u64 {
    moat_systrap_patched as *const () as usize as u64
}

/// A fault with the instruction pointer in `[entry, checked)` means the stack below the red
/// zone was not there or the thread's gs base was not its block: the sentry serves the
/// syscall itself (eax = number, rcx = return). Returns (entry, pushed, checked): from
/// `pushed` on, the workload's flags are at rsp and rsp is 136 below the workload's; before
/// it, 128 below.
pub fn patched_check_range() -> (u64, u64, u64) {
    (
        patched_entry_addr(),
        moat_systrap_patched_pushed as *const () as usize as u64,
        moat_systrap_patched_checked as *const () as usize as u64,
    )
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
        assert_eq!(offset_of!(Context, self_ptr), 336);
        assert_eq!(offset_of!(Context, xfeatures), 344);
        assert_eq!(offset_of!(Context, xstate_size), 352);
        assert_eq!(offset_of!(Context, interrupt_pending), 356);
        assert_eq!(offset_of!(Context, saved_mask), 360);
        assert!(std::mem::size_of::<Context>() < PATCH_FRAME);
        // The frame: return address, ucontext (304 bytes), then the siginfo.
        assert!(PATCH_FRAME + 8 + 304 <= PATCH_SIGINFO);
        assert!(PATCH_SIGINFO + 128 <= PATCH_FPSTATE);
        assert_eq!(offset_of!(Doorbell, sleeping), 8);
        assert_eq!(DOORBELL_FD, 101);
        assert_eq!(libc::SYS_clone, 56);
    }
}
