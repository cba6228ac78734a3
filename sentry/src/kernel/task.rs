//! Tasks (threads) and thread groups (processes).

use super::cputime::CpuTimes;
use super::signal::{SigAction, SigQueue, SigSet};
use crate::arch::Regs;
use crate::mm::MmState;
use crate::platform::Stub;
use crate::vfs::{Creds, FdTable, Inode};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

pub type Tid = i32;
pub type Pid = i32;

/// Where a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Executing application code in its stub.
    InApp,
    /// Stopped in the sentry; about to be resumed.
    InSentry,
    /// Waiting in a blocking syscall.
    Blocked,
    /// Stopped by a job-control signal.
    Stopped,
    /// Gone; only kept until removed from the table.
    Dead,
}

/// A syscall that could not complete yet. It is retried when anything changes.
#[derive(Debug, Clone)]
pub struct Blocked {
    pub nr: u64,
    pub args: [u64; 6],
    pub deadline: Option<Instant>,
    /// Host fds to watch while waiting (stdio pipes), with POLL* events.
    pub host_fds: Vec<(i32, u32)>,
    /// A signal interrupting this wait makes the syscall fail with EINTR even under SA_RESTART.
    pub no_restart: bool,
}

#[derive(Debug)]
pub struct Task {
    pub tid: Tid,
    pub tgid: Pid,
    pub stub: Stub,
    pub regs: Regs,
    pub state: RunState,
    pub sigmask: SigSet,
    pub pending: SigQueue,
    /// Mask to restore after a handler runs when the syscall swapped it (sigsuspend, pselect).
    pub saved_mask: Option<SigSet>,
    pub altstack: (u64, i32, u64),
    pub clear_child_tid: u64,
    pub blocked: Option<Blocked>,
    /// Deadline of the syscall currently blocked, kept across retries.
    pub deadline: Option<Instant>,
    /// vfork: the child this task waits for (until it execs or exits).
    /// Bytes a blocking send on a TCP socket has already queued while it waits for room
    /// for the rest (survives the re-runs; see syscalls::net::send_all).
    pub sent: usize,
    pub vfork_wait: Option<Pid>,
    pub robust_list: (u64, u64),
    /// Set while the task sleeps in FUTEX_WAIT.
    pub futex: Option<FutexWaiter>,
    /// I/O priority (ioprio_set); kept and inherited, not acted on.
    pub ioprio: u16,
    /// This thread's name (PR_SET_NAME, /proc/PID/task/TID/comm). The leader's is mirrored in
    /// `Process::comm`, which is what /proc/PID shows.
    pub comm: Vec<u8>,
    /// CPUs this thread may run on (sched_setaffinity), bit N = CPU N.
    pub affinity: u64,
    /// Nice value (-20..=19), per thread as in Linux; only reported, not enforced.
    pub nice: i32,
}

/// Identity of a futex word. Private futexes: the address space (stub pid) and the address.
/// Shared futexes in a shared file mapping: the file (`file` = device, inode) and the offset
/// in it, since each process may map it elsewhere (POSIX semaphores in /dev/shm). Other
/// shared futexes: `mm` 0 and the address (memory shared by fork is at the same address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FutexKey {
    pub mm: i32,
    pub file: (u64, u64),
    pub addr: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct FutexWaiter {
    pub key: FutexKey,
    pub bitset: u32,
    pub woken: bool,
}

/// Exit status as wait(2) encodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitStatus(pub i32);

impl WaitStatus {
    pub fn exited(code: i32) -> WaitStatus {
        WaitStatus((code & 0xff) << 8)
    }
    pub fn signaled(sig: i32, core: bool) -> WaitStatus {
        WaitStatus((sig & 0x7f) | if core { 0x80 } else { 0 })
    }
}

#[derive(Debug)]
pub struct Process {
    pub pid: Pid,
    pub ppid: Pid,
    pub pgid: Pid,
    pub sid: Pid,
    pub threads: Vec<Tid>,
    pub children: Vec<Pid>,
    /// Set once the last thread exited: the status a waiting parent collects.
    pub zombie: Option<WaitStatus>,
    /// Host pid of the stub process that holds this address space.
    pub stub_pid: i32,
    pub mm: MmState,
    pub fds: Rc<RefCell<FdTable>>,
    pub cwd: Rc<Inode>,
    pub root: Rc<Inode>,
    pub umask: u32,
    pub sigactions: Rc<RefCell<[SigAction; 65]>>,
    pub shared_pending: SigQueue,
    pub creds: Creds,
    pub comm: Vec<u8>,
    pub cmdline: Vec<u8>,
    pub environ: Vec<u8>,
    pub exe: Vec<u8>,
    pub exit_signal: i32,
    /// A vfork parent waiting for this child to exec or exit.
    pub vfork_parent: Option<Tid>,
    pub start_ticks: u64,
    pub rlimits: [(u64, u64); 16],
    /// The container of the pod it belongs to (kernel/container.rs), inherited over fork.
    pub container: super::container::ContainerId,
    /// /proc/PID/oom_score_adj (-1000..=1000), inherited over fork. The host's OOM killer
    /// sees the sandbox-wide value the runtime set on the sentry and its stubs.
    pub oom_score_adj: i32,
    /// Exit code the group is exiting with (exit_group in progress).
    pub exiting: Option<WaitStatus>,
    /// Times this process was stopped / continued, for WUNTRACED / WCONTINUED reporting.
    pub stop_report: Option<i32>,
    pub cont_report: bool,
    /// The current stop was already reported to a WUNTRACED waiter.
    pub stop_waited: bool,
    pub no_new_privs: bool,
    pub keep_caps: bool,
    /// CPU time of stubs this process no longer runs in, and once it is a zombie its
    /// final total (kernel/cputime.rs).
    pub cpu: CpuTimes,
    /// CPU time of reaped children (RUSAGE_CHILDREN).
    pub children_cpu: CpuTimes,
    /// personality(2) persona; stored and reported, not enforced.
    pub personality: u32,
    pub subreaper: bool,
    pub pdeath_signal: i32,
    /// The thread that created this process (Linux's real_parent is a thread):
    /// PR_SET_PDEATHSIG fires when it exits.
    pub parent_tid: Tid,
    /// PR_SET_DUMPABLE.
    pub dumpable: bool,
    /// The leader thread called exit(2) while other threads ran: its exit code, and its host
    /// thread, parked in a ptrace stop until the group ends. Linux keeps such a leader as a
    /// zombie thread; the host thread must stay too, because the stub's memory is reached
    /// through its pid.
    pub leader_exited: Option<(i32, Stub)>,
    /// membarrier(2) registrations of this address space (MEMBARRIER_CMD_REGISTER_* bits).
    pub membarrier: u32,
    /// The process called execve (after that its parent's setpgid on it is EACCES).
    pub did_exec: bool,
    /// The controlling terminal of the process's session (a host tty), what /dev/tty opens.
    pub ctty: Option<Rc<crate::vfs::OpenFile>>,
}
