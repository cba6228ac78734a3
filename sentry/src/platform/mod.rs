//! How workload code runs and how its syscalls and faults reach the sentry.
//!
//! Two platforms implement the same operations, chosen once per sandbox
//! (`--platform=ptrace|systrap`):
//! - [`ptrace`]: stubs traced with `PTRACE_SYSEMU`; every syscall is a ptrace stop;
//! - [`systrap`]: stubs catch their own syscalls with a seccomp `SECCOMP_RET_TRAP` filter and a
//!   SIGSYS handler, and talk to the sentry through shared memory; no tracer at all.
//!
//! The kernel sees only [`Stub`] and [`Exit`]; nothing above this module issues ptrace requests
//! or touches a systrap context.

pub mod bpf;
pub mod ptrace;
pub mod systrap;

use crate::arch::{FpRegs, Regs};
use std::io;
use std::sync::atomic::{AtomicU8, Ordering};

/// Why a workload thread stopped running application code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It executed a syscall instruction; registers hold the request.
    Syscall,
    /// A synchronous hardware fault (or a trap instruction).
    Fault { signal: i32, code: i32, addr: u64 },
    /// A host signal that is not a fault (e.g. a stop we sent to interrupt it).
    Interrupted { signal: i32 },
    /// The host thread is gone (killed from outside, e.g. SIGKILL to the sandbox).
    Gone { status: i32 },
}

/// The platforms, as `--platform` spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ptrace,
    Systrap,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ptrace => "ptrace",
            Kind::Systrap => "systrap",
        }
    }
}

static KIND: AtomicU8 = AtomicU8::new(0);

/// Chooses the platform for the stubs spawned from now on (at boot, before the first one).
/// systrap is refused with a clear reason when the host lacks what it needs.
pub fn select(k: Kind) -> Result<(), systrap::SystrapError> {
    if k == Kind::Systrap {
        systrap::probe()?;
    }
    KIND.store(k as u8, Ordering::Relaxed);
    Ok(())
}

pub fn kind() -> Kind {
    if KIND.load(Ordering::Relaxed) == Kind::Systrap as u8 {
        Kind::Systrap
    } else {
        Kind::Ptrace
    }
}

/// What an emptied stub address space keeps, sorted and disjoint: the platform's code (and,
/// for systrap, the context range), plus with `vdso` the host's vDSO block (see mm::vdso).
pub fn kept_regions(vdso: bool) -> Vec<(u64, u64)> {
    match kind() {
        Kind::Ptrace => ptrace::kept_regions(vdso),
        Kind::Systrap => systrap::kept_regions(vdso),
    }
}

/// True if `[start, end)` overlaps what the platform keeps in every stub (the workload may
/// not map there).
pub fn overlaps_stub(start: u64, end: u64) -> bool {
    kept_regions(false)
        .iter()
        .any(|&(s, e)| start < e && end > s)
        || crate::mm::patch::overlaps(start, end)
}

/// One workload thread's host thread, on either platform. Threads of one workload process
/// share their stub process.
#[derive(Debug)]
pub struct Stub {
    /// Host tid of the stub thread.
    pub tid: i32,
    /// Host pid of the stub process (its address space).
    pub pid: i32,
    imp: Imp,
}

#[derive(Debug)]
enum Imp {
    Ptrace(ptrace::Stub),
    Systrap(systrap::thread::Thread),
}

impl From<ptrace::Stub> for Stub {
    fn from(s: ptrace::Stub) -> Stub {
        Stub {
            tid: s.tid,
            pid: s.pid,
            imp: Imp::Ptrace(s),
        }
    }
}

impl From<systrap::thread::Thread> for Stub {
    fn from(s: systrap::thread::Thread) -> Stub {
        Stub {
            tid: s.tid,
            pid: s.pid,
            imp: Imp::Systrap(s),
        }
    }
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match &$self.imp {
            Imp::Ptrace($s) => $e,
            Imp::Systrap($s) => $e,
        }
    };
}

impl Stub {
    /// A fresh stub process with an empty address space, on the selected platform. Must be
    /// called before the sentry seals itself.
    pub fn spawn(memfile: Option<i32>) -> io::Result<Stub> {
        match kind() {
            Kind::Ptrace => ptrace::Stub::spawn(memfile).map(Into::into),
            Kind::Systrap => systrap::thread::Thread::spawn(memfile).map(Into::into),
        }
    }

    /// systrap: the thread's pending request, taken (ptrace reports stops through waitpid).
    pub fn take_posted(&self) -> Option<Exit> {
        match &self.imp {
            Imp::Ptrace(_) => None,
            Imp::Systrap(t) => t.take_posted(),
        }
    }

    /// The thread's syscall blocked in the sentry: systrap stubs stop spinning for the answer.
    pub fn park(&self) {
        if let Imp::Systrap(t) = &self.imp {
            t.park();
        }
    }

    pub fn get_regs(&self) -> io::Result<Regs> {
        each!(self, s => s.get_regs())
    }
    /// Whether the syscall being served came from a patched site (systrap) rather than a
    /// trap of the syscall instruction itself.
    pub fn came_through_patch(&self) -> bool {
        match &self.imp {
            Imp::Systrap(s) => s.came_through_patch(),
            Imp::Ptrace(_) => false,
        }
    }
    pub fn set_regs(&self, r: &Regs) -> io::Result<()> {
        each!(self, s => s.set_regs(r))
    }
    pub fn get_fpregs(&self) -> io::Result<FpRegs> {
        each!(self, s => s.get_fpregs())
    }
    pub fn set_fpregs(&self, f: &FpRegs) -> io::Result<()> {
        each!(self, s => s.set_fpregs(f))
    }
    /// The full XSAVE area, as signal frames carry it.
    pub fn get_xstate(&self) -> io::Result<Vec<u8>> {
        each!(self, s => s.get_xstate())
    }
    pub fn set_xstate(&self, data: &[u8]) -> io::Result<()> {
        each!(self, s => s.set_xstate(data))
    }
    /// Lets the thread run application code until its next syscall, fault or signal;
    /// `regs`, when given, are loaded first.
    pub fn resume(&self, regs: Option<&Regs>) -> io::Result<()> {
        each!(self, s => s.resume(regs))
    }
    /// Makes the stub execute one host syscall and returns its raw result. `scratch` may be
    /// clobbered.
    pub fn inject(&self, scratch: &mut Regs, nr: i64, args: [u64; 6]) -> io::Result<i64> {
        each!(self, s => s.inject(scratch, nr, args))
    }
    /// Forks the stub process; the child comes back stopped.
    pub fn fork(&self, scratch: &mut Regs) -> io::Result<Stub> {
        match &self.imp {
            Imp::Ptrace(s) => s.fork(scratch).map(Into::into),
            Imp::Systrap(s) => s.fork(scratch).map(Into::into),
        }
    }
    /// Adds a host thread to this stub process, stopped.
    pub fn spawn_thread(&self, scratch: &mut Regs) -> io::Result<Stub> {
        match &self.imp {
            Imp::Ptrace(s) => s.spawn_thread(scratch).map(Into::into),
            Imp::Systrap(s) => s.spawn_thread(scratch).map(Into::into),
        }
    }
    /// Ends this host thread only.
    pub fn exit_thread(&self) {
        each!(self, s => s.exit_thread())
    }
    /// Stops a thread that runs application code and holds it.
    pub fn stop_now(&self) -> io::Result<()> {
        each!(self, s => s.stop_now())
    }
    /// Kills the whole stub process.
    pub fn kill(&self) {
        each!(self, s => s.kill())
    }
    /// Makes a thread that runs application code stop and report `Exit::Interrupted`.
    pub fn interrupt(&self) {
        each!(self, s => s.interrupt())
    }
}
