//! The systrap platform (`--platform=systrap`).
//!
//! Under systrap a workload thread's syscalls are caught by the stub's own seccomp filter
//! (`SECCOMP_RET_TRAP`: SIGSYS in the thread) instead of by a tracer: the SIGSYS handler lives
//! in the stub's code region, saves the thread's state into a context shared with the sentry,
//! wakes the sentry and waits for its answer. No ptrace stop, no tracer round trip.
//!
//! - [`stub`]: the code region (the handler) and the [`stub::Context`] layout;
//! - [`contexts`]: the context file of per-thread blocks and the doorbell;
//! - [`thread`]: the sentry's handle on one stub thread ([`thread::Thread`]);
//! - [`stub_filter_program`] and [`probe`] here.

pub mod contexts;
pub mod stub;
pub mod thread;

use crate::platform::bpf;
use std::sync::atomic::{AtomicBool, Ordering};

static PATCHING: AtomicBool = AtomicBool::new(false);

/// Syscall patching (`MOAT_SYSCALL_PATCH=1`): a trapped `mov $nr, %eax; syscall` is
/// rewritten into a jump to a per-site trampoline that enters the stub without a signal
/// (see `mm::patch`). Set at boot, before the first stub runs.
pub fn enable_patching(on: bool) {
    PATCHING.store(on, Ordering::Relaxed);
}

pub fn patching() -> bool {
    PATCHING.load(Ordering::Relaxed)
}

/// The host syscalls a systrap stub may make, each only from its code region: the signal
/// handler's way back (`rt_sigreturn`) and its wait for the sentry (`futex`), and what the
/// sentry asks the stub to run for it (memory mappings, new threads and processes, exit, and
/// the thread's own CPU clock), the doorbell write that wakes a sleeping sentry, and the
/// signal mask an injected clone runs under.
pub const STUB_SYSCALLS: [i64; 15] = [
    libc::SYS_rt_sigreturn,
    libc::SYS_rt_sigprocmask,
    libc::SYS_futex,
    libc::SYS_write,
    libc::SYS_mmap,
    libc::SYS_munmap,
    libc::SYS_mprotect,
    libc::SYS_mremap,
    libc::SYS_madvise,
    libc::SYS_msync,
    libc::SYS_clone,
    libc::SYS_exit,
    libc::SYS_exit_group,
    libc::SYS_clock_gettime,
    libc::SYS_getrusage,
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SystrapError {
    #[error("the stub code region {0:#x}..{1:#x} crosses a 4 GiB boundary")]
    RegionSplit(u64, u64),
    #[error("the host kernel lacks {0}, which --platform=systrap needs; use --platform=ptrace")]
    Missing(&'static str),
    #[error(transparent)]
    Bpf(#[from] bpf::BpfError),
}

/// The systrap stub's filter as data:
/// - another architecture's syscall (i386 `int 0x80`) traps wherever it is, for the sentry
///   to refuse (the sandbox has no 32-bit syscall table; trapping never runs it);
/// - a syscall from outside the code region `[start, end)` (the workload's own, wherever its
///   instruction is: heap, stack, vDSO, a JIT page) traps (SIGSYS), for the sentry to serve;
/// - from inside the region, only [`STUB_SYSCALLS`] run; anything else (a workload that
///   jumps to the region's `syscall` with a host-only number) kills the stub.
pub fn stub_filter_program(start: u64, end: u64) -> Result<bpf::Program, SystrapError> {
    use bpf::Insn::*;
    if start >= end || start >> 32 != (end - 1) >> 32 {
        return Err(SystrapError::RegionSplit(start, end));
    }
    let mut p = bpf::Program::new();
    p.push(Load(bpf::OFF_ARCH))
        .push(JumpEq(bpf::ARCH_X86_64, None, Some("trap")))
        .push(Load(bpf::OFF_IP_HI))
        .push(JumpEq((start >> 32) as u32, None, Some("trap")))
        .push(Load(bpf::OFF_IP_LO))
        .push(JumpGe(start as u32, None, Some("trap")));
    // `end` may be the first address of the next window: then every address of this window
    // at or above `start` is inside.
    if end >> 32 == start >> 32 {
        p.push(JumpGe(end as u32, Some("trap"), None));
    }
    p.push(Load(bpf::OFF_NR));
    for nr in STUB_SYSCALLS {
        let to = match nr {
            libc::SYS_write => "write",
            libc::SYS_clone => "clone",
            _ => "allow",
        };
        p.push(JumpEq(nr as u32, Some(to), None));
    }
    p.push(Goto("kill"));
    // write: only to the doorbell eventfd.
    p.push(Label("write"))
        .push(Load(bpf::off_arg_hi(0)))
        .push(JumpEq(0, None, Some("kill")))
        .push(Load(bpf::off_arg_lo(0)))
        .push(JumpEq(
            stub::DOORBELL_FD as u32,
            Some("allow"),
            Some("kill"),
        ));
    // clone: only the two flag sets the sentry injects (no namespaces, no vfork).
    p.push(Label("clone"))
        .push(Load(bpf::off_arg_hi(0)))
        .push(JumpEq(0, None, Some("kill")))
        .push(Load(bpf::off_arg_lo(0)))
        .push(JumpEq(thread::FORK_FLAGS as u32, Some("allow"), None))
        .push(JumpEq(
            thread::THREAD_FLAGS as u32,
            Some("allow"),
            Some("kill"),
        ));
    p.push(Label("kill"))
        .push(Ret(libc::SECCOMP_RET_KILL_PROCESS))
        .push(Label("trap"))
        .push(Ret(libc::SECCOMP_RET_TRAP))
        .push(Label("allow"))
        .push(Ret(libc::SECCOMP_RET_ALLOW));
    Ok(p)
}

/// What an emptied systrap stub keeps, sorted: the code region, the context range and, with
/// `vdso`, the host's vDSO block.
pub fn kept_regions(vdso: bool) -> Vec<(u64, u64)> {
    let mut v = vec![
        stub::region(),
        (contexts::BASE, contexts::BASE + contexts::SIZE),
    ];
    if let Some(h) = crate::mm::vdso::host().filter(|_| vdso) {
        v.push((h.start(), h.end()));
    }
    v.sort_unstable();
    v
}

/// AT_HWCAP2's FSGSBASE bit: user space may read and write fs/gs base directly.
const HWCAP2_FSGSBASE: u64 = 1 << 1;

/// Checks that the host kernel offers what systrap needs: seccomp filters whose action is
/// `SECCOMP_RET_TRAP`, and FSGSBASE (the SIGSYS handler saves and restores the thread's fs
/// and gs base without a syscall).
pub fn probe() -> Result<(), SystrapError> {
    let trap: u32 = libc::SECCOMP_RET_TRAP;
    // SAFETY: SECCOMP_GET_ACTION_AVAIL only reads the u32 we point at.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL,
            0,
            &trap as *const u32,
        )
    };
    if r != 0 {
        return Err(SystrapError::Missing("seccomp's SECCOMP_RET_TRAP action"));
    }
    // SAFETY: getauxval has no preconditions.
    let hwcap2 = unsafe { libc::getauxval(libc::AT_HWCAP2) };
    if hwcap2 & HWCAP2_FSGSBASE == 0 {
        return Err(SystrapError::Missing(
            "FSGSBASE (x86-64 fs/gs base instructions)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::bpf::{run, SeccompData, ARCH_X86_64};

    const START: u64 = 0x7f00_1234_0000;
    const END: u64 = START + 0x2000;

    fn action(nr: i64, ip: u64, arch: u32) -> u32 {
        action_with(nr, ip, arch, [0; 6])
    }

    fn action_with(nr: i64, ip: u64, arch: u32, args: [u64; 6]) -> u32 {
        let f = stub_filter_program(START, END).unwrap().assemble().unwrap();
        run(
            &f,
            &SeccompData {
                nr: nr as i32,
                arch,
                instruction_pointer: ip,
                args,
            },
        )
    }

    /// Arguments the sentry really passes for the calls whose arguments the filter checks.
    fn good_args(nr: i64) -> [u64; 6] {
        match nr {
            libc::SYS_write => [stub::DOORBELL_FD as u64, 0, 8, 0, 0, 0],
            libc::SYS_clone => [thread::FORK_FLAGS, 0, 0, 0, 0, 0],
            _ => [0; 6],
        }
    }

    #[test]
    fn workload_syscalls_trap_wherever_they_are() {
        // heap, stack, a JIT page, the vDSO, just below and at the end of the region
        for ip in [
            0x5555_5555_9000,
            0x7ffd_0000_1000,
            0x7f00_0000_0000,
            START - 2,
            END,
        ] {
            for nr in [
                libc::SYS_getpid,
                libc::SYS_socket,
                libc::SYS_mmap,
                libc::SYS_ptrace,
            ] {
                assert_eq!(
                    action(nr, ip, ARCH_X86_64),
                    libc::SECCOMP_RET_TRAP,
                    "{nr} at {ip:#x}"
                );
            }
        }
        // Same low half, other 4 GiB window: still outside.
        assert_eq!(
            action(libc::SYS_mmap, START + (1 << 32), ARCH_X86_64),
            libc::SECCOMP_RET_TRAP
        );
    }

    #[test]
    fn the_region_runs_only_the_stubs_own_calls() {
        for nr in STUB_SYSCALLS {
            let a = good_args(nr);
            assert_eq!(
                action_with(nr, START + 0x10, ARCH_X86_64, a),
                libc::SECCOMP_RET_ALLOW
            );
            assert_eq!(
                action_with(nr, END - 1, ARCH_X86_64, a),
                libc::SECCOMP_RET_ALLOW
            );
        }
        let t = [thread::THREAD_FLAGS, 0, 0, 0, 0, 0];
        assert_eq!(
            action_with(libc::SYS_clone, START, ARCH_X86_64, t),
            libc::SECCOMP_RET_ALLOW
        );
        // write to any other fd (the memory file!), clone with other flags (namespaces,
        // vfork), or the right low half with a high half set: killed.
        for (nr, a0) in [
            (libc::SYS_write, crate::mm::memfile::STUB_FD as u64),
            (libc::SYS_write, 1),
            (libc::SYS_write, (1 << 32) | stub::DOORBELL_FD as u64),
            (
                libc::SYS_clone,
                thread::FORK_FLAGS | libc::CLONE_NEWUSER as u64,
            ),
            (
                libc::SYS_clone,
                (libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD) as u64,
            ),
            (libc::SYS_clone, thread::FORK_FLAGS | (1 << 32)),
        ] {
            assert_eq!(
                action_with(nr, START + 0x10, ARCH_X86_64, [a0, 0, 0, 0, 0, 0]),
                libc::SECCOMP_RET_KILL_PROCESS,
                "{nr} {a0:#x}"
            );
        }
        // A jump to the region's syscall instruction with a host-only number.
        for nr in [
            libc::SYS_socket,
            libc::SYS_ptrace,
            libc::SYS_kill,
            libc::SYS_execve,
            libc::SYS_openat,
        ] {
            assert_eq!(
                action(nr, START + 0x10, ARCH_X86_64),
                libc::SECCOMP_RET_KILL_PROCESS
            );
        }
        // x32 numbering of an allowed call, and i386.
        assert_eq!(
            action(libc::SYS_mmap | 0x4000_0000, START + 0x10, ARCH_X86_64),
            libc::SECCOMP_RET_KILL_PROCESS
        );
        // An i386 syscall traps, inside the region or out (trapping never runs it).
        assert_eq!(
            action(libc::SYS_mmap, START + 0x10, 0x4000_0003),
            libc::SECCOMP_RET_TRAP
        );
        assert_eq!(
            action(libc::SYS_mmap, 0x5555_0000_0000, 0x4000_0003),
            libc::SECCOMP_RET_TRAP
        );
    }

    #[test]
    fn regions_across_a_4g_boundary_are_refused() {
        assert!(stub_filter_program(0x1_ffff_f000, 0x2_0000_1000).is_err());
        assert!(stub_filter_program(0x2000, 0x1000).is_err());
        // Ending exactly at a window's end is fine.
        let p = stub_filter_program(0x1_ffff_e000, 0x2_0000_0000)
            .unwrap()
            .assemble()
            .unwrap();
        let d = |ip| SeccompData {
            nr: libc::SYS_futex as i32,
            arch: ARCH_X86_64,
            instruction_pointer: ip,
            args: [0; 6],
        };
        assert_eq!(run(&p, &d(0x1_ffff_e010)), libc::SECCOMP_RET_ALLOW);
        assert_eq!(run(&p, &d(0x1_ffff_ffff)), libc::SECCOMP_RET_ALLOW);
        assert_eq!(run(&p, &d(0x2_0000_0010)), libc::SECCOMP_RET_TRAP);
    }

    /// docs/security.md lists exactly these syscalls for the systrap stub.
    #[test]
    fn security_doc_lists_the_systrap_stub_filter() {
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/security.md"))
                .expect("docs/security.md");
        let section = doc
            .split("## The systrap stub filter")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("docs/security.md has a systrap stub filter section");
        for nr in STUB_SYSCALLS {
            let name = crate::syscalls::names::NAMES[nr as usize];
            assert!(
                section
                    .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .any(|w| w == name),
                "docs/security.md's systrap stub filter section does not list {name}"
            );
        }
    }

    #[test]
    fn this_host_has_what_systrap_needs_or_says_what_is_missing() {
        match probe() {
            Ok(()) => {}
            Err(e) => assert!(e.to_string().contains("--platform=ptrace"), "{e}"),
        }
    }
}
