//! The container's seccomp profile (OCI `linux.seccomp`), enforced on the workload's
//! *virtual* syscalls before the sentry serves them. The host kernel never sees these
//! syscalls, so the profile is evaluated here as rules, not as BPF: for each syscall the
//! rules naming it whose argument conditions all hold are collected, and the most
//! restrictive of their actions wins (the kernel's precedence between filters: kill, trap,
//! errno, trace, log, allow); no matching rule means the default action. Every workload
//! process (init and exec'd ones) is under the same profile, as under runc.

use std::collections::HashMap;

use super::{SysErr, SysResult};
use crate::errno::Errno;
use crate::kernel::task::{Tid, WaitStatus};
use crate::kernel::Kernel;

/// What to do with a syscall, in increasing order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SeccompAction {
    Allow,
    /// Allowed; Linux would log it (the sandbox has no audit log).
    Log,
    /// No tracer is ever attached, so the syscall fails with ENOSYS, as in Linux.
    Trace,
    Errno(i32),
    /// SIGSYS (si_code SYS_SECCOMP) to the calling thread.
    Trap,
    /// The whole process dies of SIGSYS (SCMP_ACT_KILL, _KILL_THREAD, _KILL_PROCESS).
    Kill,
}

impl SeccompAction {
    /// Precedence between actions of matching rules: higher wins.
    fn rank(self) -> u8 {
        match self {
            SeccompAction::Allow => 0,
            SeccompAction::Log => 1,
            SeccompAction::Trace => 2,
            SeccompAction::Errno(_) => 3,
            SeccompAction::Trap => 4,
            SeccompAction::Kill => 5,
        }
    }
}

/// An argument comparison (`SCMP_CMP_*`), on the full 64-bit argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeccompOp {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    /// `arg & value == value_two`
    MaskedEq,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeccompArg {
    pub index: usize,
    pub value: u64,
    pub value_two: u64,
    pub op: SeccompOp,
}

impl SeccompArg {
    fn holds(&self, args: &[u64; 6]) -> bool {
        let Some(&a) = args.get(self.index) else {
            return false;
        };
        match self.op {
            SeccompOp::Ne => a != self.value,
            SeccompOp::Lt => a < self.value,
            SeccompOp::Le => a <= self.value,
            SeccompOp::Eq => a == self.value,
            SeccompOp::Ge => a >= self.value,
            SeccompOp::Gt => a > self.value,
            SeccompOp::MaskedEq => a & self.value == self.value_two,
        }
    }
}

/// One rule: an action for one syscall when every argument condition holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeccompRule {
    pub action: SeccompAction,
    pub args: Vec<SeccompArg>,
}

/// A whole profile, with syscall names already resolved to x86-64 numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeccompProfile {
    pub default_action: Option<SeccompAction>,
    pub rules: HashMap<u64, Vec<SeccompRule>>,
}

impl SeccompProfile {
    /// The action for syscall `nr` called with `args`.
    pub fn decide(&self, nr: u64, args: &[u64; 6]) -> SeccompAction {
        let default = self.default_action.unwrap_or(SeccompAction::Allow);
        let Some(rules) = self.rules.get(&nr) else {
            return default;
        };
        rules
            .iter()
            .filter(|r| r.args.iter().all(|c| c.holds(args)))
            .map(|r| r.action)
            .max_by_key(|a| a.rank())
            .unwrap_or(default)
    }
}

/// The x86-64 number of a syscall name, for resolving a profile's names.
pub fn syscall_number(name: &str) -> Option<u64> {
    super::names::NAMES
        .iter()
        .position(|n| !n.is_empty() && *n == name)
        .map(|i| i as u64)
}

/// `si_code` of a seccomp SIGSYS.
const SYS_SECCOMP: i32 = 1;
/// AUDIT_ARCH_X86_64, the `si_arch` of a seccomp SIGSYS.
const AUDIT_ARCH_X86_64: u64 = 0xc000_003e;

/// Applies the sandbox's profile to syscall `nr` of `tid`: `None` lets it run, `Some(r)` is
/// the syscall's outcome instead.
pub fn check(k: &mut Kernel, tid: Tid, nr: u64, args: &[u64; 6]) -> Option<SysResult> {
    let pid = k.task(tid).tgid;
    let action = k.seccomp_of(pid)?.decide(nr, args);
    match action {
        SeccompAction::Allow | SeccompAction::Log => None,
        SeccompAction::Trace => Some(Err(Errno::ENOSYS.into())),
        SeccompAction::Errno(e) => Some(Err(Errno(e).into())),
        SeccompAction::Trap => {
            let rip = k.task(tid).regs.rip;
            let info = crate::kernel::signal::SigInfo {
                signo: libc::SIGSYS,
                code: SYS_SECCOMP,
                errno: 0,
                pid: 0,
                uid: 0,
                status: nr as i32,
                addr: rip,
                value: AUDIT_ARCH_X86_64,
            };
            k.force_signal(tid, info);
            // The syscall is skipped and returns -ENOSYS, as on Linux's x86-64 entry path.
            Some(Err(Errno::ENOSYS.into()))
        }
        SeccompAction::Kill => {
            let pid = k.task(tid).tgid;
            k.kill_group(pid, WaitStatus::signaled(libc::SIGSYS, true));
            Some(Err(SysErr::Gone))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> SeccompProfile {
        let mut rules = HashMap::new();
        rules.insert(
            syscall_number("getpid").unwrap(),
            vec![SeccompRule {
                action: SeccompAction::Allow,
                args: vec![],
            }],
        );
        // clone allowed unless it asks for a new namespace (Docker's rule)
        rules.insert(
            syscall_number("clone").unwrap(),
            vec![SeccompRule {
                action: SeccompAction::Allow,
                args: vec![SeccompArg {
                    index: 0,
                    value: 0x7e02_0000,
                    value_two: 0,
                    op: SeccompOp::MaskedEq,
                }],
            }],
        );
        // personality(0xffffffff) allowed, and an errno rule that must win over an allow
        rules.insert(
            syscall_number("personality").unwrap(),
            vec![
                SeccompRule {
                    action: SeccompAction::Allow,
                    args: vec![SeccompArg {
                        index: 0,
                        value: 0,
                        value_two: 0,
                        op: SeccompOp::Ge,
                    }],
                },
                SeccompRule {
                    action: SeccompAction::Errno(libc::EACCES),
                    args: vec![SeccompArg {
                        index: 0,
                        value: 8,
                        value_two: 0,
                        op: SeccompOp::Eq,
                    }],
                },
            ],
        );
        SeccompProfile {
            default_action: Some(SeccompAction::Errno(libc::EPERM)),
            rules,
        }
    }

    #[test]
    fn rules_and_default() {
        let p = profile();
        let z = [0u64; 6];
        assert_eq!(p.decide(39, &z), SeccompAction::Allow); // getpid
        assert_eq!(p.decide(102, &z), SeccompAction::Errno(libc::EPERM)); // getuid: default
        let mut a = z;
        a[0] = libc::SIGCHLD as u64;
        assert_eq!(p.decide(56, &a), SeccompAction::Allow); // clone, plain fork
        a[0] = libc::CLONE_NEWNS as u64 | libc::SIGCHLD as u64;
        assert_eq!(p.decide(56, &a), SeccompAction::Errno(libc::EPERM));
        a[0] = 8;
        assert_eq!(p.decide(135, &a), SeccompAction::Errno(libc::EACCES)); // most restrictive
        a[0] = 0xffff_ffff;
        assert_eq!(p.decide(135, &a), SeccompAction::Allow);
    }

    #[test]
    fn names_resolve() {
        assert_eq!(syscall_number("read"), Some(0));
        assert_eq!(syscall_number("openat"), Some(257));
        assert_eq!(syscall_number("no_such_syscall"), None);
        assert_eq!(syscall_number(""), None);
    }
}
