//! Classic BPF for seccomp filters, written as data.
//!
//! The stub filters test the instruction pointer (a syscall is allowed only from the stub's own
//! code), which seccompiler cannot express, so they are built here: a [`Program`] is a list of
//! [`Insn`]s with symbolic jump targets, [`Program::assemble`] resolves them into the kernel's
//! `sock_filter` array, and [`run`] executes an assembled program against a crafted
//! `seccomp_data` so that unit tests check what a filter does without installing it.

/// `struct seccomp_data` as the kernel hands it to a filter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeccompData {
    pub nr: i32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

/// AUDIT_ARCH_X86_64.
pub const ARCH_X86_64: u32 = 0xc000_003e;
/// Syscall numbers with this bit are the x32 ABI.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Offsets into `seccomp_data`.
pub const OFF_NR: u32 = 0;
pub const OFF_ARCH: u32 = 4;
pub const OFF_IP_LO: u32 = 8;
pub const OFF_IP_HI: u32 = 12;
/// Low 32 bits of argument `i`.
pub const fn off_arg_lo(i: u32) -> u32 {
    16 + 8 * i
}
/// High 32 bits of argument `i`.
pub const fn off_arg_hi(i: u32) -> u32 {
    20 + 8 * i
}

/// One instruction, with jump targets as label names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Insn {
    /// A = the 32-bit word at this offset of seccomp_data.
    Load(u32),
    /// A &= k.
    And(u32),
    /// if A == k goto t else goto f (None: the next instruction).
    JumpEq(u32, Option<&'static str>, Option<&'static str>),
    /// if A >= k (unsigned) goto t else goto f.
    JumpGe(u32, Option<&'static str>, Option<&'static str>),
    /// if A & k != 0 goto t else goto f.
    JumpSet(u32, Option<&'static str>, Option<&'static str>),
    /// Unconditional jump.
    Goto(&'static str),
    /// Return this action.
    Ret(u32),
    /// A position jumps can name.
    Label(&'static str),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BpfError {
    #[error("BPF label {0:?} is not defined")]
    NoLabel(&'static str),
    #[error("BPF label {0:?} is defined twice")]
    DuplicateLabel(&'static str),
    #[error("BPF jump to {0:?} goes backwards or too far")]
    BadJump(&'static str),
    #[error("BPF program has {0} instructions (at most 4096)")]
    TooLong(usize),
    #[error("BPF program can run off its end")]
    NoReturn,
}

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const ALU_AND_K: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// A filter under construction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Program(pub Vec<Insn>);

impl Program {
    pub fn new() -> Program {
        Program(Vec::new())
    }

    pub fn push(&mut self, i: Insn) -> &mut Program {
        self.0.push(i);
        self
    }

    /// Resolves labels into the kernel's array. Jumps only go forward, as the kernel demands.
    pub fn assemble(&self) -> Result<Vec<libc::sock_filter>, BpfError> {
        // Index of each real instruction, and of each label (the next real instruction).
        let mut labels: Vec<(&'static str, usize)> = Vec::new();
        let mut n = 0usize;
        for i in &self.0 {
            match i {
                Insn::Label(l) => {
                    if labels.iter().any(|(x, _)| x == l) {
                        return Err(BpfError::DuplicateLabel(l));
                    }
                    labels.push((l, n));
                }
                _ => n += 1,
            }
        }
        if n > 4096 {
            return Err(BpfError::TooLong(n));
        }
        let at = |l: &'static str| {
            labels
                .iter()
                .find(|(x, _)| *x == l)
                .map(|&(_, i)| i)
                .ok_or(BpfError::NoLabel(l))
        };
        let mut out = Vec::with_capacity(n);
        for i in &self.0 {
            let pc = out.len();
            // Offset from the instruction after this one.
            let rel = |t: Option<&'static str>, max: usize| -> Result<usize, BpfError> {
                match t {
                    None => Ok(0),
                    Some(l) => {
                        let to = at(l)?;
                        if to <= pc || to - pc - 1 > max {
                            return Err(BpfError::BadJump(l));
                        }
                        Ok(to - pc - 1)
                    }
                }
            };
            let cond = |code: u16, k: u32, t, f| -> Result<libc::sock_filter, BpfError> {
                Ok(libc::sock_filter {
                    code,
                    jt: rel(t, 255)? as u8,
                    jf: rel(f, 255)? as u8,
                    k,
                })
            };
            let stmt = |code: u16, k: u32| libc::sock_filter {
                code,
                jt: 0,
                jf: 0,
                k,
            };
            out.push(match *i {
                Insn::Label(_) => continue,
                Insn::Load(off) => stmt(LD_W_ABS, off),
                Insn::And(k) => stmt(ALU_AND_K, k),
                Insn::JumpEq(k, t, f) => cond(JEQ_K, k, t, f)?,
                Insn::JumpGe(k, t, f) => cond(JGE_K, k, t, f)?,
                Insn::JumpSet(k, t, f) => cond(JSET_K, k, t, f)?,
                Insn::Goto(l) => stmt(JA, rel(Some(l), u32::MAX as usize)? as u32),
                Insn::Ret(k) => stmt(RET_K, k),
            });
        }
        match out.last() {
            Some(l) if l.code == RET_K || l.code == JA => Ok(out),
            _ => Err(BpfError::NoReturn),
        }
    }
}

/// Runs an assembled filter on `data` as the kernel would and returns its action. Used by
/// tests; an instruction the builder never emits, or a jump off the end, returns
/// `SECCOMP_RET_KILL_PROCESS` (the kernel would have refused the program).
pub fn run(prog: &[libc::sock_filter], data: &SeccompData) -> u32 {
    let word = |off: u32| -> Option<u32> {
        let v = match off {
            OFF_NR => data.nr as u32,
            OFF_ARCH => data.arch,
            OFF_IP_LO => data.instruction_pointer as u32,
            OFF_IP_HI => (data.instruction_pointer >> 32) as u32,
            o if (16..64).contains(&o) && o % 4 == 0 => {
                let a = data.args[((o - 16) / 8) as usize];
                if (o - 16) % 8 == 0 {
                    a as u32
                } else {
                    (a >> 32) as u32
                }
            }
            _ => return None,
        };
        Some(v)
    };
    let mut acc: u32 = 0;
    let mut pc = 0usize;
    for _ in 0..=prog.len() {
        let Some(i) = prog.get(pc) else {
            break;
        };
        let branch = |taken: bool| pc + 1 + if taken { i.jt } else { i.jf } as usize;
        pc = match i.code {
            LD_W_ABS => match word(i.k) {
                Some(v) => {
                    acc = v;
                    pc + 1
                }
                None => break,
            },
            ALU_AND_K => {
                acc &= i.k;
                pc + 1
            }
            JEQ_K => branch(acc == i.k),
            JGE_K => branch(acc >= i.k),
            JSET_K => branch(acc & i.k != 0),
            JA => pc + 1 + i.k as usize,
            RET_K => return i.k,
            _ => break,
        };
    }
    libc::SECCOMP_RET_KILL_PROCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(nr: i64, ip: u64) -> SeccompData {
        SeccompData {
            nr: nr as i32,
            arch: ARCH_X86_64,
            instruction_pointer: ip,
            args: [0; 6],
        }
    }

    #[test]
    fn labels_resolve_forward() {
        let mut p = Program::new();
        p.push(Insn::Load(OFF_NR))
            .push(Insn::JumpEq(39, Some("allow"), None))
            .push(Insn::JumpGe(1000, Some("trap"), Some("kill")))
            .push(Insn::Label("allow"))
            .push(Insn::Ret(libc::SECCOMP_RET_ALLOW))
            .push(Insn::Label("trap"))
            .push(Insn::Ret(libc::SECCOMP_RET_TRAP))
            .push(Insn::Label("kill"))
            .push(Insn::Ret(libc::SECCOMP_RET_KILL_PROCESS));
        let f = p.assemble().unwrap();
        assert_eq!(f.len(), 6);
        assert_eq!(run(&f, &data(39, 0)), libc::SECCOMP_RET_ALLOW);
        assert_eq!(run(&f, &data(2000, 0)), libc::SECCOMP_RET_TRAP);
        assert_eq!(run(&f, &data(1, 0)), libc::SECCOMP_RET_KILL_PROCESS);
    }

    #[test]
    fn bad_programs_are_refused() {
        let mut p = Program::new();
        p.push(Insn::Label("top")).push(Insn::Goto("top"));
        assert_eq!(p.assemble().err(), Some(BpfError::BadJump("top")));
        let mut p = Program::new();
        p.push(Insn::Goto("nowhere"));
        assert_eq!(p.assemble().err(), Some(BpfError::NoLabel("nowhere")));
        let mut p = Program::new();
        p.push(Insn::Load(OFF_NR));
        assert_eq!(p.assemble().err(), Some(BpfError::NoReturn));
        let mut p = Program::new();
        p.push(Insn::Label("a"))
            .push(Insn::Label("a"))
            .push(Insn::Ret(0));
        assert_eq!(p.assemble().err(), Some(BpfError::DuplicateLabel("a")));
    }

    #[test]
    fn arguments_and_masks() {
        let mut p = Program::new();
        p.push(Insn::Load(off_arg_hi(2)))
            .push(Insn::JumpEq(0x1234, None, Some("no")))
            .push(Insn::Load(off_arg_lo(2)))
            .push(Insn::And(0xff))
            .push(Insn::JumpSet(0x80, Some("no"), None))
            .push(Insn::Ret(libc::SECCOMP_RET_ALLOW))
            .push(Insn::Label("no"))
            .push(Insn::Ret(libc::SECCOMP_RET_KILL_PROCESS));
        let f = p.assemble().unwrap();
        let mut d = data(0, 0);
        d.args[2] = 0x1234_0000_0001;
        assert_eq!(run(&f, &d), libc::SECCOMP_RET_ALLOW);
        d.args[2] = 0x1234_0000_0081;
        assert_eq!(run(&f, &d), libc::SECCOMP_RET_KILL_PROCESS);
        d.args[2] = 0x1;
        assert_eq!(run(&f, &d), libc::SECCOMP_RET_KILL_PROCESS);
    }
}
