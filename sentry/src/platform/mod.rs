//! How workload code runs and how its syscalls and faults reach the sentry.
//!
//! The kernel only sees [`Exit`] values and the operations of [`ptrace::Stub`]; nothing above
//! this module issues ptrace requests.

pub mod bpf;
pub mod ptrace;
pub mod systrap;

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
