//! Signals: dispositions, pending queues, and delivery onto the workload's stack.

use super::task::Tid;
use super::Kernel;
use crate::arch;
use crate::errno::Errno;
use std::collections::VecDeque;

pub type SigSet = u64;

pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;
pub const SA_NOCLDSTOP: u64 = 1;
pub const SA_NOCLDWAIT: u64 = 2;
pub const SA_SIGINFO: u64 = 4;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;
pub const SA_RESTORER: u64 = 0x0400_0000;

pub const SIGKILL: i32 = 9;
pub const SIGSTOP: i32 = 19;
pub const SIGCHLD: i32 = 17;
pub const SIGCONT: i32 = 18;
pub const SIGPIPE: i32 = 13;

pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_TKILL: i32 = -6;
pub const CLD_EXITED: i32 = 1;
pub const CLD_KILLED: i32 = 2;
pub const CLD_DUMPED: i32 = 3;

const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;

/// Does an FP area carry the XSAVE software header (magic1 in sw_reserved at offset 464)?
fn xstate_magic_ok(area: &[u8]) -> bool {
    area.len() >= 512
        && u32::from_le_bytes(area[464..468].try_into().unwrap_or([0; 4])) == FP_XSTATE_MAGIC1
}

pub fn bit(sig: i32) -> SigSet {
    1u64 << (sig - 1)
}

/// Queued siginfos one process may hold whatever its RLIMIT_SIGPENDING says.
const MAX_QUEUED: usize = 1 << 16;

/// Fault signals, dequeued before any other pending signal.
const SYNCHRONOUS: SigSet = (1 << (libc::SIGSEGV - 1))
    | (1 << (libc::SIGBUS - 1))
    | (1 << (libc::SIGILL - 1))
    | (1 << (libc::SIGTRAP - 1))
    | (1 << (libc::SIGFPE - 1))
    | (1 << (libc::SIGSYS - 1));

/// Signals that can never be blocked or caught.
pub const UNBLOCKABLE: SigSet = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));

#[derive(Debug, Clone, Copy, Default)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: SigSet,
}

/// The payload of a queued signal (what siginfo_t carries).
#[derive(Debug, Clone, Copy, Default)]
pub struct SigInfo {
    pub signo: i32,
    pub code: i32,
    pub errno: i32,
    pub pid: i32,
    pub uid: u32,
    /// si_status for SIGCHLD, si_value for queued signals.
    pub status: i32,
    pub addr: u64,
    /// The full 64-bit si_value (sival_ptr) of POSIX timer signals (code SI_TIMER, where
    /// `pid` is the timer id and `uid` the overrun count).
    pub value: u64,
}

impl SigInfo {
    pub fn user(signo: i32, pid: i32, uid: u32) -> SigInfo {
        SigInfo {
            signo,
            code: SI_USER,
            pid,
            uid,
            ..Default::default()
        }
    }
    pub fn kernel(signo: i32) -> SigInfo {
        SigInfo {
            signo,
            code: SI_KERNEL,
            ..Default::default()
        }
    }

    /// Serialises as Linux's 128-byte siginfo_t.
    pub fn to_bytes(&self) -> [u8; 128] {
        let mut b = [0u8; 128];
        b[0..4].copy_from_slice(&self.signo.to_le_bytes());
        b[4..8].copy_from_slice(&self.errno.to_le_bytes());
        b[8..12].copy_from_slice(&self.code.to_le_bytes());
        match self.signo {
            libc::SIGSEGV | libc::SIGBUS | libc::SIGFPE | libc::SIGILL | libc::SIGTRAP
                if self.code > 0 =>
            {
                b[16..24].copy_from_slice(&self.addr.to_le_bytes());
            }
            // seccomp's SIGSYS: si_call_addr, si_syscall (in `status`), si_arch (in `value`)
            libc::SIGSYS if self.code == 1 => {
                b[16..24].copy_from_slice(&self.addr.to_le_bytes());
                b[24..28].copy_from_slice(&self.status.to_le_bytes());
                b[28..32].copy_from_slice(&(self.value as u32).to_le_bytes());
            }
            _ => {
                b[16..20].copy_from_slice(&crate::kernel::pidns::vpid(self.pid).to_le_bytes());
                b[20..24].copy_from_slice(&self.uid.to_le_bytes());
                // POSIX timers and user-queued signals (rt_sigqueueinfo) carry the full
                // 64-bit si_value; for the latter `status` is its low half.
                if self.code == super::timers::SI_TIMER || self.value != 0 {
                    b[24..32].copy_from_slice(&self.value.to_le_bytes());
                } else {
                    b[24..28].copy_from_slice(&self.status.to_le_bytes());
                }
            }
        }
        b
    }
}

/// Pending signals: a bitmask plus the queued siginfos (one per standard signal, all
/// real-time ones).
#[derive(Debug, Clone, Default)]
pub struct SigQueue {
    pub mask: SigSet,
    pub queue: VecDeque<SigInfo>,
}

impl SigQueue {
    pub fn push(&mut self, info: SigInfo) {
        let b = bit(info.signo);
        if info.signo < 32 && self.mask & b != 0 {
            return; // standard signals do not queue
        }
        self.mask |= b;
        self.queue.push_back(info);
    }

    /// Takes the lowest-numbered pending signal not in `blocked`, synchronous ones (faults)
    /// first, as Linux's next_signal does. Several queued instances of a real-time signal
    /// come out in the order they were sent.
    pub fn take(&mut self, blocked: SigSet) -> Option<SigInfo> {
        let mut ready = self.mask & !blocked;
        if ready == 0 {
            return None;
        }
        if ready & SYNCHRONOUS != 0 {
            ready &= SYNCHRONOUS;
        }
        let sig = ready.trailing_zeros() as i32 + 1;
        let pos = self.queue.iter().position(|i| i.signo == sig)?;
        let info = self.queue.remove(pos)?;
        if !self.queue.iter().any(|i| i.signo == sig) {
            self.mask &= !bit(sig);
        }
        Some(info)
    }

    pub fn remove_sig(&mut self, sig: i32) {
        self.mask &= !bit(sig);
        self.queue.retain(|i| i.signo != sig);
    }
}

/// What the default action of a signal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultAction {
    Terminate,
    Core,
    Ignore,
    Stop,
    Continue,
}

pub fn default_action(sig: i32) -> DefaultAction {
    use DefaultAction::*;
    match sig {
        libc::SIGCHLD | libc::SIGURG | libc::SIGWINCH => Ignore,
        libc::SIGCONT => Continue,
        libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU => Stop,
        libc::SIGQUIT
        | libc::SIGILL
        | libc::SIGTRAP
        | libc::SIGABRT
        | libc::SIGBUS
        | libc::SIGFPE
        | libc::SIGSEGV
        | libc::SIGXCPU
        | libc::SIGXFSZ
        | libc::SIGSYS => Core,
        _ => Terminate,
    }
}

impl Kernel {
    /// Would delivering `sig` to process `pid` do anything at all?
    pub fn sig_ignored(&self, pid: i32, sig: i32) -> bool {
        let Some(p) = self.procs.get(&pid) else {
            return true;
        };
        let act = p.sigactions.borrow()[sig as usize];
        match act.handler {
            SIG_IGN => sig != SIGKILL && sig != SIGSTOP,
            SIG_DFL => default_action(sig) == DefaultAction::Ignore,
            _ => false,
        }
    }

    /// Would queueing one more real-time signal with a siginfo for process `pid` go over its
    /// RLIMIT_SIGPENDING? (Linux counts per user; per process bounds the sentry's memory the
    /// same way.) rt_sigqueueinfo then fails with EAGAIN.
    pub fn sigqueue_full(&self, pid: i32) -> bool {
        let Some(p) = self.procs.get(&pid) else {
            return false;
        };
        let limit = p.rlimits[libc::RLIMIT_SIGPENDING as usize]
            .0
            .min(MAX_QUEUED as u64) as usize;
        let queued = p.shared_pending.queue.len()
            + p.threads
                .iter()
                .filter_map(|t| self.tasks.get(t))
                .map(|t| t.pending.queue.len())
                .sum::<usize>();
        queued >= limit
    }

    /// A real-time signal over the queue limit: Linux keeps the pending bit without the
    /// siginfo, so one already pending absorbs it; a queued value is refused (callers that
    /// can fail check `sigqueue_full` first and report EAGAIN).
    fn overflow_drops(&self, pid: i32, pending: SigSet, info: &SigInfo) -> bool {
        info.signo >= 32
            && self.sigqueue_full(pid)
            && (info.code != SI_USER || pending & bit(info.signo) != 0)
    }

    /// Does some thread of process `pid` block `sig`?
    pub fn blocked_in_process(&self, pid: i32, sig: i32) -> bool {
        self.procs.get(&pid).is_some_and(|p| {
            p.threads
                .iter()
                .any(|t| self.tasks.get(t).is_some_and(|t| t.sigmask & bit(sig) != 0))
        })
    }

    /// Queues a signal for a whole process and wakes a thread that can take it.
    pub fn send_to_process(&mut self, pid: i32, info: SigInfo) {
        let sig = info.signo;
        if sig == 0 {
            return;
        }
        if self.procs.get(&pid).is_none_or(|p| p.zombie.is_some()) {
            return;
        }
        if sig == SIGKILL {
            self.kill_group(pid, super::task::WaitStatus::signaled(SIGKILL, false));
            return;
        }
        if default_action(sig) == DefaultAction::Stop {
            self.discard_pending_cont(pid);
        }
        self.queue_for_process(pid, info);
        // The group continues with SIGCONT already pending, so a SIGCONT handler runs
        // before the continued threads execute anything else.
        if sig == SIGCONT {
            self.continue_group(pid);
        }
    }

    fn queue_for_process(&mut self, pid: i32, info: SigInfo) {
        let sig = info.signo;
        // A blocked signal is queued even when its disposition discards it, as in Linux:
        // the disposition may change before it is unblocked, and signalfd or sigwaitinfo
        // may take it.
        if self.sig_ignored(pid, sig) && !self.blocked_in_process(pid, sig) {
            return;
        }
        let threads = self
            .procs
            .get(&pid)
            .map(|p| p.threads.clone())
            .unwrap_or_default();
        let shared = self.procs.get(&pid).map_or(0, |p| p.shared_pending.mask);
        if self.overflow_drops(pid, shared, &info) {
            return;
        }
        if let Some(p) = self.procs.get_mut(&pid) {
            p.shared_pending.push(info);
        }
        // Prefer a thread that does not block it.
        let target = threads
            .iter()
            .copied()
            .find(|t| self.tasks.get(t).is_some_and(|t| t.sigmask & bit(sig) == 0))
            .or_else(|| threads.first().copied());
        if let Some(t) = target {
            self.kick(t);
        }
    }

    /// Queues a signal for one thread.
    pub fn send_to_thread(&mut self, tid: Tid, info: SigInfo) {
        let Some(t) = self.tasks.get(&tid) else {
            return;
        };
        let pid = t.tgid;
        if info.signo == SIGKILL {
            self.kill_group(pid, super::task::WaitStatus::signaled(SIGKILL, false));
            return;
        }
        if default_action(info.signo) == DefaultAction::Stop {
            self.discard_pending_cont(pid);
        }
        let sig = info.signo;
        self.queue_for_thread(tid, pid, info);
        // As in send_to_process: continue with SIGCONT pending.
        if sig == SIGCONT {
            self.continue_group(pid);
        }
    }

    fn queue_for_thread(&mut self, tid: Tid, pid: i32, info: SigInfo) {
        let blocked = self
            .tasks
            .get(&tid)
            .is_some_and(|t| t.sigmask & bit(info.signo) != 0);
        if self.sig_ignored(pid, info.signo) && !blocked {
            return;
        }
        let own = self.tasks.get(&tid).map_or(0, |t| t.pending.mask);
        if self.overflow_drops(pid, own, &info) {
            return;
        }
        if let Some(t) = self.tasks.get_mut(&tid) {
            t.pending.push(info);
        }
        self.kick(tid);
    }

    /// Makes a task notice new pending signals: interrupt it if it runs application code,
    /// mark the wait set dirty if it is blocked.
    pub fn kick(&mut self, tid: Tid) {
        let Some(t) = self.tasks.get(&tid) else {
            return;
        };
        // Other tasks may wait for this signal too (a signalfd read or poll, sigtimedwait in
        // another thread): let every blocked syscall look again.
        self.dirty = true;
        match t.state {
            super::task::RunState::InApp => {
                if !self.interrupted.contains(&tid) {
                    t.stub.interrupt();
                    self.interrupted.insert(tid);
                }
            }
            _ => self.dirty = true,
        }
    }

    /// Does `tid` have a signal it must act on now?
    pub fn has_deliverable(&self, tid: Tid) -> bool {
        let Some(t) = self.tasks.get(&tid) else {
            return false;
        };
        let Some(p) = self.procs.get(&t.tgid) else {
            return false;
        };
        ((t.pending.mask | p.shared_pending.mask) & !t.sigmask) != 0 || p.exiting.is_some()
    }

    /// Dequeues the next signal for `tid`, thread-directed first.
    fn dequeue(&mut self, tid: Tid) -> Option<SigInfo> {
        let t = self.tasks.get_mut(&tid)?;
        let mask = t.sigmask;
        if let Some(i) = t.pending.take(mask) {
            return Some(i);
        }
        let pid = t.tgid;
        self.procs.get_mut(&pid)?.shared_pending.take(mask)
    }

    /// Handles pending signals before `tid` returns to application code. `restart` says how
    /// an interrupted syscall should end: None (not in a syscall or it completed), or
    /// Some(restartable) for a syscall that returned EINTR-class.
    /// Returns false if the task no longer exists (killed).
    pub fn deliver_signals(&mut self, tid: Tid, mut interrupted: Option<bool>) -> bool {
        loop {
            let Some(info) = self.dequeue(tid) else { break };
            let Some(t) = self.tasks.get(&tid) else {
                return false;
            };
            let pid = t.tgid;
            let Some(p) = self.procs.get(&pid) else {
                return false;
            };
            let sig = info.signo;
            let act = p.sigactions.borrow()[sig as usize];
            match act.handler {
                SIG_IGN => continue,
                // A pid namespace's init is immune to default actions.
                SIG_DFL
                    if super::pidns::is_ns_init(pid)
                        && !self.init_fault_killable.contains(&pid) =>
                {
                    continue
                }
                SIG_DFL => match default_action(sig) {
                    DefaultAction::Ignore | DefaultAction::Continue => continue,
                    DefaultAction::Stop => {
                        // The terminal stop signals cannot stop an orphaned process group:
                        // nobody in the session could continue it.
                        let pgid = p.pgid;
                        if sig == SIGSTOP || !self.pgrp_orphaned(pgid, None) {
                            self.stop_group(pid, sig);
                        }
                        continue;
                    }
                    DefaultAction::Terminate => {
                        self.kill_group(pid, super::task::WaitStatus::signaled(sig, false));
                        return false;
                    }
                    DefaultAction::Core => {
                        self.kill_group(pid, super::task::WaitStatus::signaled(sig, true));
                        return false;
                    }
                },
                handler => {
                    if let Some(restartable) = interrupted.take() {
                        let t = self.tasks.get_mut(&tid).expect("task exists");
                        if restartable && act.flags & SA_RESTART != 0 {
                            arch::rewind_syscall(&mut t.regs);
                        } else {
                            arch::set_return(&mut t.regs, -(libc::EINTR as i64));
                        }
                    }
                    if self.setup_frame(tid, &info, &act, handler).is_err() {
                        // Cannot write the frame: the thread dies with SIGSEGV like Linux.
                        self.kill_group(
                            pid,
                            super::task::WaitStatus::signaled(libc::SIGSEGV, true),
                        );
                        return false;
                    }
                    if act.flags & SA_RESETHAND != 0 {
                        if let Some(p) = self.procs.get(&pid) {
                            p.sigactions.borrow_mut()[sig as usize] = SigAction::default();
                        }
                    }
                    // Like Linux, every signal deliverable now gets its frame before the
                    // return to user mode, each on top of the last and dequeued under the
                    // mask of the handler below it: the last one built runs first.
                    continue;
                }
            }
        }
        if let Some(restartable) = interrupted {
            // Only ignored signals were pending: restart transparently or report EINTR.
            if let Some(t) = self.tasks.get_mut(&tid) {
                if restartable {
                    arch::rewind_syscall(&mut t.regs);
                } else {
                    arch::set_return(&mut t.regs, -(libc::EINTR as i64));
                }
            }
        }
        if let Some(t) = self.tasks.get_mut(&tid) {
            if let Some(m) = t.saved_mask.take() {
                t.sigmask = m;
            }
        }
        self.tasks.contains_key(&tid)
    }

    fn setup_frame(
        &mut self,
        tid: Tid,
        info: &SigInfo,
        act: &SigAction,
        handler: u64,
    ) -> Result<(), Errno> {
        let t = self.tasks.get(&tid).ok_or(Errno::ESRCH)?;
        let mem = self.mem_of(tid)?;
        // The FP area: the full XSAVE state when ptrace gives it (with the software-reserved
        // header the kernel fills in and FP_XSTATE_MAGIC2 after it, as Linux lays it out),
        // else the legacy 512-byte FXSAVE area.
        let fp_area = match t.stub.get_xstate() {
            Ok(mut x) if x.len() > arch::FPSTATE_SIZE + 64 => {
                // ptrace puts XCR0 in the software-reserved bytes; a signal frame carries
                // the _fpx_sw_bytes header there instead.
                let xcr0 = u64::from_le_bytes(x[464..472].try_into().unwrap_or([0; 8]));
                let size = x.len() as u32;
                x[464..468].copy_from_slice(&FP_XSTATE_MAGIC1.to_le_bytes());
                x[468..472].copy_from_slice(&(size + 4).to_le_bytes());
                x[472..480].copy_from_slice(&xcr0.to_le_bytes());
                x[480..484].copy_from_slice(&size.to_le_bytes());
                x.extend_from_slice(&FP_XSTATE_MAGIC2.to_le_bytes());
                x
            }
            _ => arch::fpregs_bytes(&t.stub.get_fpregs().map_err(|_| Errno::EFAULT)?).to_vec(),
        };
        let xstate = fp_area.len() > arch::FPSTATE_SIZE;
        let regs = t.regs;
        let old_mask = t.saved_mask.unwrap_or(t.sigmask);
        let (ss_sp, ss_flags, ss_size) = t.altstack;
        let on_alt = ss_size != 0 && regs.rsp > ss_sp && regs.rsp <= ss_sp + ss_size;
        let mut sp = if act.flags & SA_ONSTACK != 0
            && ss_size != 0
            && ss_flags & libc::SS_DISABLE == 0
            && !on_alt
        {
            ss_sp + ss_size
        } else {
            regs.rsp - arch::RED_ZONE
        };
        sp -= fp_area.len() as u64;
        sp &= !63;
        let fp_addr = sp;
        mem.write(fp_addr, &fp_area)?;
        let frame = ((sp - arch::SIGFRAME_SIZE as u64) & !15) - 8;
        let mut buf = vec![0u8; arch::SIGFRAME_SIZE];
        buf[0..8].copy_from_slice(&act.restorer.to_le_bytes());
        let cur_flags = if on_alt {
            libc::SS_ONSTACK
        } else if ss_size == 0 {
            libc::SS_DISABLE
        } else {
            0
        };
        arch::write_ucontext(
            &mut buf[8..8 + arch::UCONTEXT_SIZE],
            &regs,
            old_mask,
            fp_addr,
            (ss_sp, cur_flags, ss_size),
        );
        if xstate {
            // uc_flags: UC_FP_XSTATE
            buf[8..16].copy_from_slice(&1u64.to_le_bytes());
        }
        buf[8 + arch::UCONTEXT_SIZE..].copy_from_slice(&info.to_bytes());
        mem.write(frame, &buf)?;
        let t = self.tasks.get_mut(&tid).ok_or(Errno::ESRCH)?;
        t.saved_mask = None;
        let mut new_mask = t.sigmask | act.mask;
        if act.flags & SA_NODEFER == 0 {
            new_mask |= bit(info.signo);
        }
        t.sigmask = new_mask & !UNBLOCKABLE;
        let r = &mut t.regs;
        r.rsp = frame;
        r.rip = handler;
        r.rdi = info.signo as u64;
        r.rsi = frame + 8 + arch::UCONTEXT_SIZE as u64;
        r.rdx = frame + 8;
        r.rax = 0;
        r.eflags &= !(0x100 | 0x400); // clear TF and DF for the handler
        Ok(())
    }

    /// rt_sigreturn: restore what setup_frame saved.
    pub fn sigreturn(&mut self, tid: Tid) -> Result<(), Errno> {
        let mem = self.mem_of(tid)?;
        let t = self.tasks.get(&tid).ok_or(Errno::ESRCH)?;
        let uc = t.regs.rsp - 8 + 8; // the restorer's `ret` popped pretcode
        let buf = mem.read_vec(uc, arch::UCONTEXT_SIZE)?;
        let (regs, mask, fp_addr) = arch::read_ucontext(&buf, &t.regs);
        if fp_addr != 0 {
            let fpb = mem.read_vec(fp_addr, arch::FPSTATE_SIZE)?;
            let xsize = if xstate_magic_ok(&fpb) {
                u32::from_le_bytes(fpb[464 + 16..464 + 20].try_into().unwrap_or([0; 4])) as usize
            } else {
                0
            };
            if xsize > arch::FPSTATE_SIZE && xsize <= 16384 {
                let mut x = mem.read_vec(fp_addr, xsize)?;
                let xcr0 = x[472..480].to_vec();
                x[464..472].copy_from_slice(&xcr0);
                // Reserved MXCSR bits set by the handler would fault the restore.
                let mxcsr = u32::from_le_bytes(x[24..28].try_into().unwrap_or([0; 4])) & 0xffff;
                x[24..28].copy_from_slice(&mxcsr.to_le_bytes());
                if t.stub.set_xstate(&x).is_err() {
                    let fp = arch::fpregs_from_bytes(&fpb);
                    t.stub.set_fpregs(&fp).map_err(|_| Errno::EFAULT)?;
                }
            } else {
                let fp = arch::fpregs_from_bytes(&fpb);
                t.stub.set_fpregs(&fp).map_err(|_| Errno::EFAULT)?;
            }
        }
        let ss_sp = u64::from_le_bytes(buf[16..24].try_into().unwrap_or([0; 8]));
        let ss_flags = i32::from_le_bytes(buf[24..28].try_into().unwrap_or([0; 4]));
        let ss_size = u64::from_le_bytes(buf[32..40].try_into().unwrap_or([0; 8]));
        let t = self.tasks.get_mut(&tid).ok_or(Errno::ESRCH)?;
        t.regs = regs;
        t.sigmask = mask & !UNBLOCKABLE;
        if t.altstack.2 != 0 && ss_flags & libc::SS_ONSTACK == 0 {
            t.altstack = (ss_sp, ss_flags & libc::SS_DISABLE, ss_size);
        }
        Ok(())
    }
}
