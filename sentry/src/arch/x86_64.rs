//! x86-64: register file, syscall argument registers, and the rt_sigframe layout Linux uses.

/// The general-purpose register file, as ptrace exposes it.
pub type Regs = libc::user_regs_struct;

/// The legacy FXSAVE area (512 bytes) that PTRACE_GETFPREGS returns.
pub type FpRegs = libc::user_fpregs_struct;

pub fn zeroed_regs() -> Regs {
    // SAFETY: user_regs_struct is plain old data; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

pub fn zeroed_fpregs() -> FpRegs {
    // SAFETY: user_fpregs_struct is plain old data; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

/// Syscall number of a task stopped at a syscall.
#[inline]
pub fn syscall_nr(r: &Regs) -> u64 {
    r.orig_rax
}

/// The six syscall arguments in ABI order.
#[inline]
pub fn syscall_args(r: &Regs) -> [u64; 6] {
    [r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9]
}

#[inline]
pub fn set_return(r: &mut Regs, v: i64) {
    r.rax = v as u64;
}

/// Makes the task re-execute the syscall instruction it just stopped at (restart semantics).
pub fn rewind_syscall(r: &mut Regs) {
    r.rax = r.orig_rax;
    r.rip -= 2;
}

pub fn stack_pointer(r: &Regs) -> u64 {
    r.rsp
}

/// Registers for a fresh program: everything zero but the entry point and stack.
pub fn initial_regs(template: &Regs, entry: u64, sp: u64) -> Regs {
    let mut r = zeroed_regs();
    r.rip = entry;
    r.rsp = sp;
    r.eflags = 0x202;
    r.cs = template.cs;
    r.ss = template.ss;
    r.ds = template.ds;
    r.es = template.es;
    r.fs = template.fs;
    r.gs = template.gs;
    r
}

/// Size of the red zone below the stack pointer that signal frames must skip.
pub const RED_ZONE: u64 = 128;
/// Minimum and suggested signal stack sizes reported through auxv/sysconf.
pub const MINSIGSTKSZ: u64 = 2048;

/// Offsets inside `struct rt_sigframe` (x86-64):
/// pretcode (8) | ucontext (304) | siginfo (128); fpstate lives above, 64-byte aligned.
pub const UCONTEXT_SIZE: usize = 304;
pub const SIGINFO_SIZE: usize = 128;
pub const SIGFRAME_SIZE: usize = 8 + UCONTEXT_SIZE + SIGINFO_SIZE;
pub const FPSTATE_SIZE: usize = 512;
const UC_MCONTEXT: usize = 40;
const UC_SIGMASK: usize = UC_MCONTEXT + 256;

/// Serialises a ucontext for a signal handler (the layout of Linux's `struct ucontext`).
pub fn write_ucontext(out: &mut [u8], r: &Regs, mask: u64, fpstate_addr: u64, ss: (u64, i32, u64)) {
    let mut w = |off: usize, v: u64| out[off..off + 8].copy_from_slice(&v.to_le_bytes());
    w(0, 0); // uc_flags
    w(8, 0); // uc_link
    w(16, ss.0);
    w(24, ss.1 as u32 as u64);
    w(32, ss.2);
    let m = UC_MCONTEXT;
    let gprs = [
        r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rdi, r.rsi, r.rbp, r.rbx, r.rdx,
        r.rax, r.rcx, r.rsp, r.rip, r.eflags,
    ];
    for (i, v) in gprs.iter().enumerate() {
        w(m + i * 8, *v);
    }
    // cs, gs, fs, ss as four u16.
    let segs = (r.cs & 0xffff)
        | ((r.gs & 0xffff) << 16)
        | ((r.fs & 0xffff) << 32)
        | ((r.ss & 0xffff) << 48);
    w(m + 144, segs);
    w(m + 152, 0); // err
    w(m + 160, 0); // trapno
    w(m + 168, mask); // oldmask
    w(m + 176, 0); // cr2
    w(m + 184, fpstate_addr);
    w(UC_SIGMASK, mask);
}

/// Reads back what a handler may have changed in its ucontext. Returns (regs, mask, fpstate ptr).
pub fn read_ucontext(buf: &[u8], cur: &Regs) -> (Regs, u64, u64) {
    let rd = |off: usize| u64::from_le_bytes(buf[off..off + 8].try_into().unwrap_or([0; 8]));
    let m = UC_MCONTEXT;
    let mut r = *cur;
    r.r8 = rd(m);
    r.r9 = rd(m + 8);
    r.r10 = rd(m + 16);
    r.r11 = rd(m + 24);
    r.r12 = rd(m + 32);
    r.r13 = rd(m + 40);
    r.r14 = rd(m + 48);
    r.r15 = rd(m + 56);
    r.rdi = rd(m + 64);
    r.rsi = rd(m + 72);
    r.rbp = rd(m + 80);
    r.rbx = rd(m + 88);
    r.rdx = rd(m + 96);
    r.rax = rd(m + 104);
    r.rcx = rd(m + 112);
    r.rsp = rd(m + 120);
    r.rip = rd(m + 128);
    // Only the user-modifiable flags (CF PF AF ZF SF TF DF OF, AC) may change.
    const FIX: u64 = 0x40dd5;
    r.eflags = (cur.eflags & !FIX) | (rd(m + 136) & FIX);
    r.orig_rax = u64::MAX; // no syscall restart after sigreturn
    (r, rd(UC_SIGMASK), rd(m + 184))
}

/// Raw bytes of an FXSAVE area.
pub fn fpregs_bytes(fp: &FpRegs) -> [u8; FPSTATE_SIZE] {
    let mut out = [0u8; FPSTATE_SIZE];
    // SAFETY: FpRegs is a 512-byte plain-old-data struct.
    let src = unsafe { std::slice::from_raw_parts(fp as *const FpRegs as *const u8, FPSTATE_SIZE) };
    out.copy_from_slice(src);
    out
}

pub fn fpregs_from_bytes(b: &[u8]) -> FpRegs {
    let mut fp = zeroed_fpregs();
    let n = b.len().min(FPSTATE_SIZE);
    // SAFETY: FpRegs is a 512-byte plain-old-data struct; we write at most 512 bytes into it.
    let dst =
        unsafe { std::slice::from_raw_parts_mut(&mut fp as *mut FpRegs as *mut u8, FPSTATE_SIZE) };
    dst[..n].copy_from_slice(&b[..n]);
    // MXCSR reserved bits must be zero or the restore faults.
    fp.mxcsr &= 0xffff;
    fp
}
