//! The kernel proper: the task table, the event loop that runs tasks in their stubs, and
//! process lifecycle (fork, exit, wait, job control).

pub mod container;
pub mod control;
pub mod cputime;
pub mod idmap;
pub mod ipc;
pub mod pidns;
pub mod signal;
pub mod task;
pub mod timers;

use crate::errno::Errno;
use crate::mm::Mem;
use crate::platform::{ptrace, Exit};
use crate::syscalls;
use signal::{SigAction, SigInfo, SIGCHLD};
use std::collections::{HashMap, HashSet};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::rc::Rc;
use std::time::{Duration, Instant};
pub use task::{Blocked, FutexKey, FutexWaiter, Pid, Process, RunState, Task, Tid, WaitStatus};

/// Sandbox-wide settings visible to the workload.
#[derive(Debug, Clone)]
pub struct Uts {
    pub hostname: Vec<u8>,
    pub domainname: Vec<u8>,
    pub release: Vec<u8>,
}

pub struct Kernel {
    pub tasks: idmap::IdMap<Tid, Task>,
    pub procs: idmap::IdMap<Pid, Process>,
    /// Host tid of a stub thread -> task.
    pub by_host: idmap::IdMap<i32, Tid>,
    /// The next pid of the sandbox's own pid namespace (pidns.rs).
    pub next_pid: Pid,
    /// The next pid of each app container's pid namespace.
    pub next_pid_in: HashMap<pidns::PidNs, Pid>,
    pub uts: Uts,
    pub boot_time: Instant,
    /// Something changed that blocked tasks may be waiting for.
    pub dirty: bool,
    /// Tasks we sent a host SIGSTOP to interrupt them.
    pub interrupted: HashSet<Tid>,
    /// Pid namespace inits that took a fault with the default action: like Linux's cleared
    /// SIGNAL_UNKILLABLE, the fault's default action applies to them (force_signal).
    pub init_fault_killable: HashSet<Pid>,
    /// Set when init exits: the sandbox is over.
    pub init_exit: Option<WaitStatus>,
    /// Unimplemented syscalls already logged.
    pub logged_enosys: HashSet<u64>,
    /// The sandbox container's mount table (app containers have their own: `containers`).
    pub mounts: Vec<container::MountEntry>,
    /// A pod's app containers running in this sandbox (kernel/container.rs).
    pub containers: HashMap<container::ContainerId, container::Container>,
    pub next_container: container::ContainerId,
    /// Bind-mounted host directories by (st_dev, st_ino, read-only): one tree each.
    pub shared_dirs: HashMap<(u64, u64, bool), std::rc::Weak<crate::vfs::Inode>>,
    /// Mounted directories by inode number: (root of the tree, parent there).
    pub mount_parents: HashMap<
        u64,
        Vec<(
            std::rc::Weak<crate::vfs::Inode>,
            std::rc::Weak<crate::vfs::Inode>,
        )>,
    >,
    /// /proc/sys files the spec's `linux.sysctl` set or the workload wrote: path below /proc
    /// ("sys/net/ipv4/ip_forward") -> contents (fs/procfs.rs).
    pub sysctl: HashMap<&'static str, String>,
    /// maskedPaths and readonlyPaths inside a container's procfs, by container: (masked,
    /// read-only), paths relative to the mount (fs/procfs.rs).
    pub proc_policies: HashMap<container::ContainerId, (Vec<String>, Vec<String>)>,
    /// Directories below /proc/sys that only `sysctl` entries make exist.
    pub sysctl_dirs: Vec<&'static str>,
    /// Some container has a seccomp profile.
    pub seccomp_any: bool,
    /// Interval timers (alarm), POSIX timers and timer files: see timers.rs.
    pub timers: timers::Timers,
    /// CPUs the workload sees (fixed at boot).
    pub ncpu: usize,
    /// `process.oomScoreAdj`: what new processes (the init, exec'd ones) start with.
    pub oom_score_adj: i32,
    /// Requests from the runtime (kill, ps, exec, pause, ...).
    pub(crate) control: Option<crate::control::ControlQueue>,
    /// A clean stub that new processes for `exec` are forked from.
    pub zygote: Option<crate::platform::Stub>,
    pub root: Option<Rc<crate::vfs::Inode>>,
    /// `pause`: threads that would run are parked here until `resume`.
    pub paused: bool,
    /// The loaded init while the event loop already serves `exec`'d processes but the
    /// container has not been started (`moat exec` into a created container).
    pub held_init: Option<Tid>,
    pub frozen: Vec<Tid>,
    /// Processes started by `exec`, with who waits for their exit.
    pub exec_waiters: HashMap<Pid, std::sync::mpsc::Sender<crate::WorkloadExit>>,
    /// System V IPC objects.
    pub ipc: ipc::Ipc,
    /// Log every syscall (MOAT_STRACE=1 in the sandbox's environment), like runsc --strace.
    pub strace: bool,
    /// The container's seccomp profile (OCI `linux.seccomp`), applied to every workload
    /// syscall; see syscalls/seccomp.rs.
    pub seccomp: Option<crate::syscalls::seccomp::SeccompProfile>,
    epoll: OwnedFd,
    sigfd: OwnedFd,
    /// Host fds in the epoll set, with the events asked for.
    watched: HashMap<i32, u32>,
    /// `host_fd_closes()` when `watched` was last known to be accurate.
    watched_gen: u64,
    /// systrap: a stub process may have died (SIGCHLD seen): reap before waiting.
    reap_pending: bool,
}

thread_local! {
    static HOST_FD_CLOSES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Files that own a host fd call this when they close it: the fd number may come back for
/// another file, and the event loop must then rebuild its epoll set instead of trusting a
/// registration the kernel already dropped.
pub fn note_host_fd_closed() {
    HOST_FD_CLOSES.with(|c| c.set(c.get().wrapping_add(1)));
}

fn host_fd_closes() -> u64 {
    HOST_FD_CLOSES.with(|c| c.get())
}

/// The affinity mask of every CPU the workload sees.
pub fn all_cpus(ncpu: usize) -> u64 {
    match ncpu {
        0 => 1,
        n if n >= 64 => u64::MAX,
        n => (1u64 << n) - 1,
    }
}

/// The signal of the sentry's own tick (see `Kernel::setup_tick`).
const TICK_SIGNAL: i32 = libc::SIGALRM;

/// epoll tag of the control queue's eventfd.
const CONTROL_TAG: u64 = u64::MAX - 1;
/// epoll tag of the systrap doorbell eventfd.
const DOORBELL_TAG: u64 = u64::MAX - 2;
/// How long (in polls) the systrap event loop spins on the doorbell before it sleeps.
const DOORBELL_SPINS: u32 = 20_000;

/// Host signals the sentry turns into workload signals for init.
const FORWARDED: [i32; 8] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCONT,
];

impl Kernel {
    pub fn new(uts: Uts) -> Result<Kernel, Errno> {
        cputime::init();
        // SAFETY: sigset manipulation on a local set; sigprocmask on our own thread.
        let sigfd = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGCHLD);
            for s in FORWARDED {
                libc::sigaddset(&mut set, s);
            }
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK)
        };
        if sigfd < 0 {
            return Err(Errno::last());
        }
        // SAFETY: fresh fd.
        let sigfd = unsafe { OwnedFd::from_raw_fd(sigfd) };
        // SAFETY: plain epoll_create1.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            return Err(Errno::last());
        }
        // SAFETY: fresh fd.
        let epoll = unsafe { OwnedFd::from_raw_fd(ep) };
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: u64::MAX,
        };
        // SAFETY: valid epoll and signalfd fds, valid event pointer.
        unsafe {
            libc::epoll_ctl(
                epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                sigfd.as_raw_fd(),
                &mut ev,
            )
        };
        Ok(Kernel {
            tasks: Default::default(),
            procs: Default::default(),
            by_host: Default::default(),
            next_pid: 1,
            next_pid_in: HashMap::new(),
            sysctl: HashMap::new(),
            sysctl_dirs: Vec::new(),
            proc_policies: HashMap::new(),
            uts,
            boot_time: Instant::now(),
            dirty: false,
            interrupted: HashSet::new(),
            init_fault_killable: HashSet::new(),
            init_exit: None,
            logged_enosys: HashSet::new(),
            mounts: Vec::new(),
            containers: HashMap::new(),
            next_container: 1,
            shared_dirs: HashMap::new(),
            mount_parents: HashMap::new(),
            seccomp_any: false,
            timers: timers::Timers::default(),
            control: None,
            ipc: Default::default(),
            zygote: None,
            root: None,
            paused: false,
            held_init: None,
            frozen: Vec::new(),
            exec_waiters: HashMap::new(),
            strace: std::env::var_os("MOAT_STRACE").is_some_and(|v| v == "1"),
            seccomp: None,
            oom_score_adj: 0,
            ncpu: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            epoll,
            sigfd,
            watched: HashMap::new(),
            watched_gen: 0,
            reap_pending: false,
        })
    }

    /// Connects the runtime's request queue to the event loop.
    pub(crate) fn attach_control(&mut self, q: crate::control::ControlQueue) {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: CONTROL_TAG,
        };
        // SAFETY: adding our eventfd to our epoll set.
        unsafe {
            libc::epoll_ctl(
                self.epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                q.wake.as_raw_fd(),
                &mut ev,
            )
        };
        self.control = Some(q);
    }

    pub fn mem_of(&self, tid: Tid) -> Result<Mem, Errno> {
        let t = self.tasks.get(&tid).ok_or(Errno::ESRCH)?;
        let p = self.procs.get(&t.tgid).ok_or(Errno::ESRCH)?;
        Ok(Mem { pid: p.stub_pid })
    }

    pub fn task(&self, tid: Tid) -> &Task {
        self.tasks.get(&tid).expect("current task exists")
    }
    pub fn task_mut(&mut self, tid: Tid) -> &mut Task {
        self.tasks.get_mut(&tid).expect("current task exists")
    }
    pub fn proc_of(&self, tid: Tid) -> &Process {
        let pid = self.task(tid).tgid;
        self.procs.get(&pid).expect("current process exists")
    }
    pub fn proc_of_mut(&mut self, tid: Tid) -> &mut Process {
        let pid = self.task(tid).tgid;
        self.procs.get_mut(&pid).expect("current process exists")
    }

    /// Renames a thread (at most 15 bytes); the leader's name is also the process's.
    pub fn set_comm(&mut self, tid: Tid, name: &[u8]) {
        let name: Vec<u8> = name.iter().copied().take(15).collect();
        let Some(t) = self.tasks.get_mut(&tid) else {
            return;
        };
        t.comm = name.clone();
        if t.tid == t.tgid {
            let pid = t.tgid;
            if let Some(p) = self.procs.get_mut(&pid) {
                p.comm = name;
            }
        }
    }

    pub fn ticks(&self) -> u64 {
        (self.boot_time.elapsed().as_millis() / 10) as u64
    }

    /// Runs the workload until init exits. A held init ([`Kernel::held_init`]) only runs once
    /// the runtime's start request releases it.
    pub fn run(&mut self, init: Tid) -> WaitStatus {
        if self.held_init.is_none() {
            self.resume(init);
        }
        if crate::platform::kind() == crate::platform::Kind::Systrap {
            return self.run_systrap();
        }
        loop {
            if let Some(st) = self.init_exit {
                return st;
            }
            if !self.dirty && self.only_stubs_to_wait_for() {
                // Fast path: the next event can only be a stub stop, so wait for it directly
                // (one syscall instead of epoll + signalfd reads + a drain). The tick
                // interrupts this wait now and then so host signals and control requests
                // are still seen.
                match ptrace::wait_any_interruptible() {
                    Ok(Some((host, status))) => self.handle_stop(host, status),
                    _ => self.poll_events_now(),
                }
                continue;
            }
            let mut progressed = false;
            // Drain every pending ptrace stop.
            while let Ok(Some((host, status))) = ptrace::waitpid(-1, libc::WNOHANG) {
                progressed = true;
                self.handle_stop(host, status);
                if self.init_exit.is_some() {
                    break;
                }
            }
            if self.init_exit.is_some() {
                continue;
            }
            progressed |= self.run_due_work();
            if progressed {
                continue;
            }
            self.wait_events();
        }
    }

    /// The event loop under systrap: stubs post requests into their contexts; the loop takes
    /// them, reaps stub processes that died, runs timers and blocked syscalls, and when there
    /// is nothing to do spins on the doorbell for a while before it sleeps in epoll (the
    /// doorbell eventfd, host signals, control requests, host fds of blocked syscalls).
    fn run_systrap(&mut self) -> WaitStatus {
        use crate::platform::systrap::contexts;
        use std::sync::atomic::Ordering;
        let bell = contexts::doorbell();
        if let Some(fd) = contexts::doorbell_fd() {
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: DOORBELL_TAG,
            };
            // SAFETY: adding the sentry's own eventfd to its own epoll set.
            unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        }
        let mut rounds: u32 = 0;
        loop {
            if let Some(st) = self.init_exit {
                return st;
            }
            let seen = bell.count.load(Ordering::SeqCst);
            let mut progressed = self.serve_posted();
            rounds = rounds.wrapping_add(1);
            if rounds % 64 == 0 {
                self.poll_events_now();
            }
            if self.reap_pending {
                self.reap_pending = false;
                progressed |= self.reap_stubs();
            }
            if self.init_exit.is_some() {
                continue;
            }
            progressed |= self.run_due_work();
            if progressed {
                continue;
            }
            // Spin long only while a CPU is left over for the sentry: with every CPU running
            // workload threads, a long spin steals the time they need to make a request.
            let in_app = self
                .tasks
                .values()
                .filter(|t| t.state == RunState::InApp)
                .count();
            let spins = if in_app < self.ncpu {
                DOORBELL_SPINS
            } else {
                DOORBELL_SPINS / 10
            };
            if in_app > 0 {
                let mut rang = false;
                for _ in 0..spins {
                    if bell.count.load(Ordering::Acquire) != seen {
                        rang = true;
                        break;
                    }
                    std::hint::spin_loop();
                }
                if rang {
                    continue;
                }
            }
            bell.sleeping.swap(1, Ordering::SeqCst);
            if bell.count.load(Ordering::SeqCst) == seen {
                self.wait_events();
            }
            bell.sleeping.store(0, Ordering::SeqCst);
        }
    }

    /// Fires due timers and, when something changed or a deadline passed, retries the
    /// blocked syscalls. True if it retried them.
    fn run_due_work(&mut self) -> bool {
        self.fire_timers();
        if self.dirty || self.any_deadline_passed() {
            self.dirty = false;
            self.retry_blocked();
            return true;
        }
        false
    }

    /// systrap: takes every posted request and handles it.
    fn serve_posted(&mut self) -> bool {
        let posted: Vec<(Tid, i32, Exit)> = self
            .tasks
            .values()
            .filter(|t| t.state != RunState::Dead)
            .filter_map(|t| t.stub.take_posted().map(|e| (t.tid, t.stub.tid, e)))
            .collect();
        let any = !posted.is_empty();
        for (tid, host, exit) in posted {
            if self.init_exit.is_some() {
                break;
            }
            if self
                .tasks
                .get(&tid)
                .is_some_and(|t| t.state != RunState::Dead && t.stub.tid == host)
            {
                self.handle_exit(tid, host, exit);
            }
        }
        any
    }

    /// systrap: collects stub processes that died; their tasks are gone.
    fn reap_stubs(&mut self) -> bool {
        let mut any = false;
        while let Ok(Some((pid, status))) = ptrace::waitpid(-1, libc::WNOHANG) {
            if !(libc::WIFEXITED(status) || libc::WIFSIGNALED(status)) {
                continue;
            }
            any = true;
            crate::platform::systrap::contexts::process_gone(pid);
            let tid = self.by_host.get(&pid).copied().or_else(|| {
                self.tasks
                    .values()
                    .find(|t| t.stub.pid == pid && t.state != RunState::Dead)
                    .map(|t| t.tid)
            });
            tracing::debug!(stub = pid, status, task = ?tid, "stub process gone");
            if let Some(tid) = tid {
                self.handle_exit(tid, pid, Exit::Gone { status });
            }
        }
        any
    }

    /// True when some thread runs application code and nothing else can wake us: no
    /// deadlines, no host fds to watch.
    fn only_stubs_to_wait_for(&self) -> bool {
        if self.timers.next_deadline().is_some() || self.paused {
            return false;
        }
        let mut running = false;
        for t in self.tasks.values() {
            match t.state {
                RunState::InApp => running = true,
                RunState::Blocked => {
                    if t.blocked
                        .as_ref()
                        .is_some_and(|b| b.deadline.is_some() || !b.host_fds.is_empty())
                    {
                        return false;
                    }
                }
                _ => {}
            }
        }
        running
    }

    /// Looks at host signals and control requests without sleeping.
    fn poll_events_now(&mut self) {
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 8];
        // SAFETY: evs is a valid buffer of 8 events; zero timeout.
        let n = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), evs.as_mut_ptr(), 8, 0) };
        for ev in evs.iter().take(n.max(0) as usize) {
            self.on_epoll_event(ev.u64);
        }
    }

    /// Acts on one ready entry of the sentry's epoll set, by its tag.
    fn on_epoll_event(&mut self, tag: u64) {
        match tag {
            u64::MAX => self.read_host_signals(),
            CONTROL_TAG => self.handle_control(),
            DOORBELL_TAG => drain_doorbell(),
            // A host fd a blocked syscall waits on.
            _ => self.dirty = true,
        }
    }

    /// Arms a periodic signal to this thread alone, so a blocking waitpid never hides host
    /// signals or control requests for long. Call before sealing (timer_create is not
    /// allowed afterwards).
    pub fn setup_tick(&mut self) {
        extern "C" fn on_tick(_: libc::c_int) {}
        // SAFETY: installing an empty handler without SA_RESTART, creating a thread-directed
        // POSIX timer for our own thread; all structures are local and valid.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_tick as *const () as usize;
            sa.sa_flags = 0;
            libc::sigaction(TICK_SIGNAL, &sa, std::ptr::null_mut());
            let mut sev: libc::sigevent = std::mem::zeroed();
            sev.sigev_notify = libc::SIGEV_THREAD_ID;
            sev.sigev_signo = TICK_SIGNAL;
            sev.sigev_notify_thread_id = libc::gettid();
            let mut timer: libc::timer_t = std::ptr::null_mut();
            if libc::timer_create(libc::CLOCK_MONOTONIC, &mut sev, &mut timer) != 0 {
                tracing::warn!(
                    "no tick timer: host signals may wait for the next workload syscall"
                );
                return;
            }
            let period = libc::timespec {
                tv_sec: 0,
                tv_nsec: 20_000_000,
            };
            let its = libc::itimerspec {
                it_interval: period,
                it_value: period,
            };
            libc::timer_settime(timer, 0, &its, std::ptr::null_mut());
        }
    }

    fn any_deadline_passed(&self) -> bool {
        let now = Instant::now();
        self.tasks.values().any(|t| {
            t.state == RunState::Blocked
                && t.blocked
                    .as_ref()
                    .and_then(|b| b.deadline)
                    .is_some_and(|d| d <= now)
        })
    }

    /// Sleeps until a stub stops, a host signal arrives, a watched host fd is ready, or the
    /// earliest deadline passes.
    fn wait_events(&mut self) {
        let mut deadline: Option<Instant> = self.timers.next_deadline();
        let mut want: HashMap<i32, u32> = HashMap::new();
        for t in self.tasks.values() {
            if t.state != RunState::Blocked {
                continue;
            }
            if let Some(b) = &t.blocked {
                if let Some(d) = b.deadline {
                    deadline = Some(deadline.map_or(d, |x: Instant| x.min(d)));
                }
                for (fd, ev) in &b.host_fds {
                    *want.entry(*fd).or_insert(0) |= *ev;
                }
            }
        }
        // Keep the epoll set equal to the fds blocked tasks wait on (level-triggered), for the
        // events they wait for: a reader must not be woken over and over because its socket
        // is writable.
        let gen = host_fd_closes();
        if gen != self.watched_gen {
            self.watched_gen = gen;
            for fd in std::mem::take(&mut self.watched).into_keys() {
                // SAFETY: removing an fd from our epoll set (ENOENT if it was closed).
                unsafe {
                    libc::epoll_ctl(
                        self.epoll.as_raw_fd(),
                        libc::EPOLL_CTL_DEL,
                        fd,
                        std::ptr::null_mut(),
                    )
                };
            }
        }
        for fd in self.watched.keys().copied().collect::<Vec<_>>() {
            if !want.contains_key(&fd) {
                // SAFETY: removing an fd from our epoll set.
                unsafe {
                    libc::epoll_ctl(
                        self.epoll.as_raw_fd(),
                        libc::EPOLL_CTL_DEL,
                        fd,
                        std::ptr::null_mut(),
                    )
                };
                self.watched.remove(&fd);
            }
        }
        for (&fd, &asked) in &want {
            // POLL* and EPOLL* share their values; errors and hangups are always reported.
            let mut events =
                asked & (libc::EPOLLIN | libc::EPOLLPRI | libc::EPOLLOUT | libc::EPOLLRDHUP) as u32;
            if events == 0 {
                events = (libc::EPOLLIN | libc::EPOLLOUT) as u32;
            }
            let known = self.watched.get(&fd).copied();
            if known == Some(events) {
                continue;
            }
            let mut ev = libc::epoll_event {
                events,
                u64: fd as u64,
            };
            let (first, second) = if known.is_some() {
                (libc::EPOLL_CTL_MOD, libc::EPOLL_CTL_ADD)
            } else {
                (libc::EPOLL_CTL_ADD, libc::EPOLL_CTL_MOD)
            };
            // SAFETY: adding (or updating) a host fd the sentry owns in our epoll set; if the
            // set disagrees with `watched` (EEXIST/ENOENT), the other operation fixes it.
            unsafe {
                if libc::epoll_ctl(self.epoll.as_raw_fd(), first, fd, &mut ev) != 0 {
                    libc::epoll_ctl(self.epoll.as_raw_fd(), second, fd, &mut ev);
                }
            }
            self.watched.insert(fd, events);
        }
        let timeout = match deadline {
            None => -1,
            Some(d) => {
                let now = Instant::now();
                if d <= now {
                    0
                } else {
                    ((d - now).as_micros().div_ceil(1000)).min(i32::MAX as u128) as i32
                }
            }
        };
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 16];
        // SAFETY: evs is a valid buffer of 16 events.
        let n = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), evs.as_mut_ptr(), 16, timeout) };
        for ev in evs.iter().take(n.max(0) as usize) {
            self.on_epoll_event(ev.u64);
        }
        if deadline.is_some() {
            self.dirty = true;
        }
    }

    fn read_host_signals(&mut self) {
        // (SIGCHLD only marks that a stub may have died; the loop reaps.)
        loop {
            // SAFETY: signalfd_siginfo is POD.
            let mut si: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let sz = std::mem::size_of::<libc::signalfd_siginfo>();
            // SAFETY: reading into a properly sized buffer.
            let n = unsafe { libc::read(self.sigfd.as_raw_fd(), &mut si as *mut _ as *mut _, sz) };
            if n != sz as isize {
                break;
            }
            let sig = si.ssi_signo as i32;
            if sig == SIGCHLD {
                self.reap_pending = true;
            } else {
                tracing::debug!(signal = sig, "forwarding host signal to init");
                self.send_to_process(
                    1,
                    SigInfo {
                        signo: sig,
                        code: signal::SI_USER,
                        pid: 0,
                        ..Default::default()
                    },
                );
            }
        }
    }

    /// Processes one ptrace stop of a stub thread.
    fn handle_stop(&mut self, host: i32, status: i32) {
        let Some(&tid) = self.by_host.get(&host) else {
            // A thread we already let go (it is on its way out): let it finish exiting.
            if libc::WIFSTOPPED(status) {
                // SAFETY: resuming our own tracee without a signal.
                unsafe { libc::ptrace(libc::PTRACE_CONT, host, 0, 0) };
            }
            return;
        };
        let Some(exit) = ptrace::decode_status(host, status) else {
            if libc::WIFSTOPPED(status) {
                let _ = self.task(tid).stub.resume(None);
            }
            return;
        };
        self.handle_exit(tid, host, exit);
    }

    /// Acts on why a stub thread stopped running application code (either platform).
    fn handle_exit(&mut self, tid: Tid, host: i32, exit: Exit) {
        match exit {
            Exit::Gone { status } => {
                self.by_host.remove(&host);
                let pid = self.task(tid).tgid;
                let ws = if libc::WIFSIGNALED(status) {
                    WaitStatus::signaled(libc::WTERMSIG(status), false)
                } else {
                    WaitStatus::exited(libc::WEXITSTATUS(status))
                };
                if self
                    .tasks
                    .get(&tid)
                    .is_some_and(|t| t.state != RunState::Dead)
                {
                    self.kill_group(pid, ws);
                }
            }
            Exit::Syscall => {
                let t = self.task_mut(tid);
                t.state = RunState::InSentry;
                match t.stub.get_regs() {
                    Ok(r) => t.regs = r,
                    Err(_) => return,
                }
                if !t.stub.came_through_patch() {
                    let regs = t.regs;
                    let nr = crate::arch::syscall_nr(&regs);
                    crate::mm::patch::after_trap(self, tid, regs.rip, nr);
                }
                self.do_syscall(tid);
            }
            Exit::Fault { signal, code, addr } => {
                let t = self.task_mut(tid);
                t.state = RunState::InSentry;
                if let Ok(r) = t.stub.get_regs() {
                    t.regs = r;
                }
                tracing::debug!(task = tid, signal, code, addr, ip = t.regs.rip, "fault");
                if crate::mm::patch::entry_fault(self, tid) {
                    // A patched syscall site in a thread whose gs base is its own: serve the
                    // syscall the trampoline was entering.
                    self.do_syscall(tid);
                    return;
                }
                // File mappings past EOF are fenced with PROT_NONE (syscalls/mm.rs).
                if signal == libc::SIGSEGV && crate::mm::space::on_fault(self, tid, addr) {
                    self.resume(tid);
                    return;
                }
                let (signal, code) = if signal == libc::SIGSEGV {
                    match syscalls::mm::file_fault(self, tid, addr) {
                        syscalls::mm::FaultKind::Retry => {
                            self.resume(tid);
                            return;
                        }
                        syscalls::mm::FaultKind::PastEof => (libc::SIGBUS, libc::BUS_ADRERR),
                        syscalls::mm::FaultKind::Segv => (signal, code),
                    }
                } else {
                    (signal, code)
                };
                let info = SigInfo {
                    signo: signal,
                    code,
                    addr,
                    ..Default::default()
                };
                self.force_signal(tid, info);
                self.resume(tid);
            }
            Exit::Interrupted { signal: _ } => {
                self.interrupted.remove(&tid);
                let t = self.task_mut(tid);
                if t.state == RunState::InApp {
                    t.state = RunState::InSentry;
                    if let Ok(r) = t.stub.get_regs() {
                        t.regs = r;
                    }
                    self.resume(tid);
                } else {
                    let _ = t.stub.resume(None);
                }
            }
        }
    }

    /// A synchronous fault: deliver it even if blocked or ignored (like force_sig_info).
    pub(crate) fn force_signal(&mut self, tid: Tid, info: SigInfo) {
        let sig = info.signo;
        let t = self.task_mut(tid);
        let blocked = t.sigmask & signal::bit(sig) != 0;
        t.sigmask &= !signal::bit(sig);
        let pid = t.tgid;
        if let Some(p) = self.procs.get(&pid) {
            let mut acts = p.sigactions.borrow_mut();
            if blocked || acts[sig as usize].handler == signal::SIG_IGN {
                acts[sig as usize] = SigAction::default();
            }
            // A fault a namespace's init does not handle kills it (Linux lifts its immunity
            // to default actions); otherwise it would fault again forever.
            if acts[sig as usize].handler == signal::SIG_DFL {
                drop(acts);
                self.init_fault_killable.insert(pid);
            }
        }
        self.task_mut(tid).pending.push(info);
    }

    /// Runs one syscall for a task that stopped at it.
    fn do_syscall(&mut self, tid: Tid) {
        let regs = self.task(tid).regs;
        let nr = crate::arch::syscall_nr(&regs);
        let args = crate::arch::syscall_args(&regs);
        let res = syscalls::dispatch(self, tid, nr, args);
        self.finish_syscall(tid, nr, args, res);
    }

    fn finish_syscall(&mut self, tid: Tid, nr: u64, args: [u64; 6], res: syscalls::SysResult) {
        use syscalls::SysErr;
        match res {
            Ok(v) => {
                if let Some(t) = self.tasks.get_mut(&tid) {
                    t.deadline = None;
                    crate::arch::set_return(&mut t.regs, v);
                    self.resume(tid);
                }
            }
            Err(SysErr::Errno(e)) => {
                if let Some(t) = self.tasks.get_mut(&tid) {
                    t.deadline = None;
                    crate::arch::set_return(&mut t.regs, -(e.0 as i64));
                    self.resume(tid);
                }
            }
            Err(SysErr::Block(mut b)) => {
                b.nr = nr;
                b.args = args;
                let Some(t) = self.tasks.get_mut(&tid) else {
                    return;
                };
                if b.deadline.is_none() {
                    b.deadline = t.deadline;
                }
                t.blocked = Some(b);
                t.state = RunState::Blocked;
                t.stub.park();
                // A signal may already be waiting.
                if self.has_deliverable(tid) {
                    self.dirty = true;
                }
            }
            Err(SysErr::Restart) => {
                if let Some(t) = self.tasks.get_mut(&tid) {
                    t.deadline = None;
                    self.resume_interrupted(tid, true);
                }
            }
            Err(SysErr::Interrupted) => {
                if self.tasks.contains_key(&tid) {
                    self.task_mut(tid).deadline = None;
                    self.resume_interrupted(tid, false);
                }
            }
            Err(SysErr::NoReturn) => {
                if self
                    .tasks
                    .get(&tid)
                    .is_some_and(|t| t.state != RunState::Dead && t.state != RunState::Blocked)
                {
                    self.resume(tid);
                }
            }
            Err(SysErr::Gone) => {}
        }
    }

    /// Retries every blocked syscall once; those that can finish do.
    fn retry_blocked(&mut self) {
        let mut blocked: Vec<Tid> = self
            .tasks
            .values()
            .filter(|t| t.state == RunState::Blocked)
            .map(|t| t.tid)
            .collect();
        blocked.sort_unstable();
        for tid in blocked {
            let Some(t) = self.tasks.get(&tid) else {
                continue;
            };
            if t.state != RunState::Blocked {
                continue;
            }
            let Some(b) = t.blocked.clone() else { continue };
            if self.has_deliverable(tid) {
                let t = self.task_mut(tid);
                t.blocked = None;
                t.state = RunState::InSentry;
                // Let the syscall observe the interruption (e.g. nanosleep writes the
                // remaining time) through the Interrupted path.
                let res = syscalls::interrupted(self, tid, b.nr, b.args);
                match res {
                    Some(r) => self.finish_syscall(tid, b.nr, b.args, r),
                    None => self.resume_interrupted(tid, !b.no_restart),
                }
                continue;
            }
            let t = self.task_mut(tid);
            t.blocked = None;
            t.state = RunState::InSentry;
            t.deadline = b.deadline;
            let res = syscalls::dispatch(self, tid, b.nr, b.args);
            self.finish_syscall(tid, b.nr, b.args, res);
        }
    }

    /// Ends a syscall that a signal interrupted: deliver the signal (restarting or failing
    /// with EINTR as the handler's SA_RESTART says) and resume.
    fn resume_interrupted(&mut self, tid: Tid, restartable: bool) {
        if !self.deliver_signals(tid, Some(restartable)) {
            return;
        }
        self.resume_raw(tid);
    }

    /// Delivers pending signals, then lets the task run application code.
    pub fn resume(&mut self, tid: Tid) {
        if self.has_deliverable(tid) && !self.deliver_signals(tid, None) {
            return;
        }
        self.resume_raw(tid);
    }

    fn resume_raw(&mut self, tid: Tid) {
        let Some(t) = self.tasks.get_mut(&tid) else {
            return;
        };
        if t.state == RunState::Stopped || t.state == RunState::Dead {
            return;
        }
        if self.paused {
            if !self.frozen.contains(&tid) {
                self.frozen.push(tid);
            }
            return;
        }
        if let Some(pid) = self.procs.get(&t.tgid) {
            if pid.stop_report.is_some() && pid.zombie.is_none() {
                t.state = RunState::Stopped;
                return;
            }
        }
        if crate::mm::space::apply_pending(self, tid).is_err() {
            tracing::warn!(task = tid, "could not remap copied pages");
        }
        let Some(t) = self.tasks.get_mut(&tid) else {
            return;
        };
        t.state = RunState::InApp;
        if t.stub.resume(Some(&t.regs)).is_err() {
            // The stub vanished; its exit status arrives through waitpid.
            t.state = RunState::InSentry;
        }
    }

    /// Wakes up to `n` waiters on a futex whose bitset intersects `bitset`.
    pub fn futex_wake(&mut self, key: FutexKey, n: usize, bitset: u32) -> usize {
        let mut woken = 0;
        let mut tids: Vec<Tid> = self
            .tasks
            .values()
            .filter(|t| {
                t.futex
                    .is_some_and(|f| f.key == key && !f.woken && f.bitset & bitset != 0)
            })
            .map(|t| t.tid)
            .collect();
        tids.sort_unstable();
        for t in tids {
            if woken >= n {
                break;
            }
            if let Some(f) = self.tasks.get_mut(&t).and_then(|t| t.futex.as_mut()) {
                f.woken = true;
                woken += 1;
            }
        }
        if woken > 0 {
            self.dirty = true;
        }
        woken
    }

    /// Ends one thread (exit(2), or the others at execve). The last thread ends the process;
    /// a leader that exits before the others stays as a zombie thread (see
    /// `Process::leader_exited`).
    pub fn exit_thread(&mut self, tid: Tid, code: i32) {
        let Some(t) = self.tasks.get(&tid) else {
            return;
        };
        let pid = t.tgid;
        self.exit_robust_list(tid);
        let Some(p) = self.procs.get(&pid) else {
            return;
        };
        if p.threads.iter().all(|&x| x == tid) {
            // Without exit_group, the group's status is the leader's own exit code.
            let code = p.leader_exited.as_ref().map_or(code, |l| l.0);
            self.kill_group(pid, WaitStatus::exited(code));
            return;
        }
        let Some(mut t) = self.tasks.remove(&tid) else {
            return;
        };
        t.state = RunState::Dead;
        self.by_host.remove(&t.stub.tid);
        self.interrupted.remove(&tid);
        let mut heir = tid;
        if let Some(p) = self.procs.get_mut(&pid) {
            p.threads.retain(|&x| x != tid);
            heir = p.threads.first().copied().unwrap_or(pid);
        }
        if t.clear_child_tid != 0 {
            if let Ok(mem) = self.mem_of_pid(pid) {
                let _ = mem.write_u32(t.clear_child_tid, 0);
                self.futex_wake_any_key(pid, t.clear_child_tid, 1);
            }
        }
        self.parent_thread_gone(pid, tid, heir);
        self.dirty = true;
        if tid == pid {
            // The stub's memory is reached through the host leader's pid, so its host
            // thread must not exit before the others: park it (it stays in its ptrace stop).
            if let Some(p) = self.procs.get_mut(&pid) {
                p.leader_exited = Some((code, t.stub));
            }
        } else {
            t.stub.exit_thread();
        }
    }

    /// Children created by thread `tid` of `pid` lose their parent thread: PR_SET_PDEATHSIG
    /// fires (Linux's real_parent is a thread), and `heir` becomes their parent thread.
    fn parent_thread_gone(&mut self, pid: Pid, tid: Tid, heir: Tid) {
        let children = match self.procs.get(&pid) {
            Some(p) => p.children.clone(),
            None => return,
        };
        for c in children {
            let Some(cp) = self.procs.get_mut(&c) else {
                continue;
            };
            if cp.parent_tid != tid || cp.zombie.is_some() {
                continue;
            }
            cp.parent_tid = heir;
            let sig = cp.pdeath_signal;
            if sig > 0 {
                self.send_to_process(
                    c,
                    SigInfo {
                        signo: sig,
                        code: signal::SI_USER,
                        pid,
                        ..Default::default()
                    },
                );
            }
        }
    }

    /// The key of the futex word at `addr` in process `pid` (see `FutexKey`).
    pub fn futex_key(&self, pid: Pid, addr: u64, private: bool) -> FutexKey {
        let Some(p) = self.procs.get(&pid) else {
            return FutexKey {
                mm: 0,
                file: (0, 0),
                addr,
            };
        };
        if private {
            return FutexKey {
                mm: p.stub_pid,
                file: (0, 0),
                addr,
            };
        }
        let vmas = &p.mm.vmas;
        let i = vmas.partition_point(|v| v.end <= addr);
        if let Some(v) = vmas.get(i).filter(|v| v.start <= addr && v.shared) {
            if let Some(f) = &v.file {
                return FutexKey {
                    mm: 0,
                    file: (f.dev, f.ino),
                    addr: v.pgoff.wrapping_add(addr - v.start),
                };
            }
        }
        FutexKey {
            mm: 0,
            file: (0, 0),
            addr,
        }
    }

    /// Wakes waiters on a futex word of process `pid` whichever way they keyed it (private
    /// or shared).
    fn futex_wake_any_key(&mut self, pid: Pid, addr: u64, n: usize) {
        let private = self.futex_key(pid, addr, true);
        let woken = self.futex_wake(private, n, u32::MAX);
        if woken < n {
            let shared = self.futex_key(pid, addr, false);
            self.futex_wake(shared, n - woken, u32::MAX);
        }
    }

    /// Walks a dying thread's robust futex list (set_robust_list), as Linux does at exit and
    /// exec: every lock word it still owns gets FUTEX_OWNER_DIED and one waiter is woken, so
    /// the next locker sees EOWNERDEAD. The list lives in workload memory and is untrusted:
    /// bad pointers end the walk and at most ROBUST_LIST_LIMIT entries are looked at.
    pub fn exit_robust_list(&mut self, tid: Tid) {
        const ROBUST_LIST_LIMIT: usize = 2048;
        let Some(t) = self.tasks.get_mut(&tid) else {
            return;
        };
        let (head, len) = std::mem::take(&mut t.robust_list);
        if head == 0 || len != 24 {
            return;
        }
        let Ok(mem) = self.mem_of(tid) else {
            return;
        };
        // struct robust_list_head { next; long futex_offset; list_op_pending; }; bit 0 of an
        // entry pointer marks a PI futex.
        let (Ok(first), Ok(offset), Ok(pending)) = (
            mem.read_u64(head),
            mem.read_u64(head + 8),
            mem.read_u64(head + 16),
        ) else {
            return;
        };
        let offset = offset as i64;
        let pending_entry = pending & !1;
        let mut entry = first;
        for _ in 0..ROBUST_LIST_LIMIT {
            if entry & !1 == head {
                break;
            }
            let this = entry & !1;
            let Ok(next) = mem.read_u64(this) else {
                break;
            };
            if this != pending_entry {
                self.futex_owner_died(
                    &mem,
                    tid,
                    this.wrapping_add_signed(offset),
                    entry & 1 != 0,
                    false,
                );
            }
            entry = next;
        }
        if pending_entry != 0 {
            self.futex_owner_died(
                &mem,
                tid,
                pending_entry.wrapping_add_signed(offset),
                pending & 1 != 0,
                true,
            );
        }
    }

    /// handle_futex_death: the owner `tid` of the lock word at `addr` is gone.
    fn futex_owner_died(&mut self, mem: &Mem, tid: Tid, addr: u64, pi: bool, pending: bool) {
        let pid = self.tasks.get(&tid).map_or(0, |t| t.tgid);
        const FUTEX_WAITERS: u32 = 0x8000_0000;
        const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
        const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
        if addr % 4 != 0 {
            return;
        }
        let Ok(val) = mem.read_u32(addr) else {
            return;
        };
        if pending && !pi && val == 0 {
            // Died between taking the lock in user space and listing it (or while
            // releasing it): a waiter may have missed its wake-up.
            self.futex_wake_any_key(pid, addr, 1);
            return;
        }
        if val & FUTEX_TID_MASK != pidns::vpid(tid) as u32 {
            return;
        }
        // Not atomic against threads running at this moment (Linux uses a cmpxchg loop);
        // they would be racing with a lock owner that is already gone.
        if mem
            .write_u32(addr, (val & FUTEX_WAITERS) | FUTEX_OWNER_DIED)
            .is_err()
        {
            return;
        }
        // PI waiters retry FUTEX_LOCK_PI and find the word free, so they are woken too.
        if val & FUTEX_WAITERS != 0 {
            self.futex_wake_any_key(pid, addr, 1);
        }
    }

    pub fn mem_of_pid(&self, pid: Pid) -> Result<Mem, Errno> {
        Ok(Mem {
            pid: self.procs.get(&pid).ok_or(Errno::ESRCH)?.stub_pid,
        })
    }

    /// Ends every thread of a process with `status` and makes it a zombie.
    pub fn kill_group(&mut self, pid: Pid, status: WaitStatus) {
        self.init_fault_killable.remove(&pid);
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        if p.zombie.is_some() {
            return;
        }
        if !self.shares_address_space(pid) {
            self.sample_maxrss(pid);
        }
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        let threads = std::mem::take(&mut p.threads);
        let stub_pid = p.stub_pid;
        let mut dead_stubs = Vec::new();
        if let Some((_, leader)) = p.leader_exited.take() {
            // Parked in its ptrace stop, not running.
            dead_stubs.push((leader, false));
        }
        // Robust futexes are released while the memory can still be reached.
        for &tid in &threads {
            self.exit_robust_list(tid);
        }
        for tid in threads {
            if let Some(mut t) = self.tasks.remove(&tid) {
                let was_running = t.state == RunState::InApp;
                t.state = RunState::Dead;
                self.by_host.remove(&t.stub.tid);
                self.interrupted.remove(&tid);
                if t.clear_child_tid != 0 {
                    let _ = Mem { pid: stub_pid }.write_u32(t.clear_child_tid, 0);
                }
                dead_stubs.push((t.stub, was_running));
            }
        }
        if self
            .procs
            .values()
            .any(|o| o.pid != pid && o.zombie.is_none() && o.stub_pid == stub_pid)
        {
            // Another process (a vfork parent) lives in this stub: end only our host threads.
            for (stub, running) in dead_stubs {
                if running {
                    let _ = stub.stop_now();
                }
                stub.exit_thread();
            }
        } else {
            self.freeze_cpu(pid);
            let now = crate::vfs::Time::now().sec;
            self.ipc.drop_attachments(stub_pid, pid, now);
            // SAFETY: kill our own stub process.
            unsafe { libc::kill(stub_pid, libc::SIGKILL) };
            crate::mm::space::drop_space(stub_pid);
        }
        self.exit_process(pid, status);
    }

    /// Does another live process run in the same stub process (a CLONE_VM child)?
    pub fn shares_address_space(&self, pid: Pid) -> bool {
        let Some(p) = self.procs.get(&pid) else {
            return false;
        };
        self.procs
            .values()
            .any(|o| o.pid != pid && o.zombie.is_none() && o.stub_pid == p.stub_pid)
    }

    /// Gives a task a stub process of its own (forked from the zygote), ending its host
    /// thread in the shared one. Used at execve by CLONE_VM children.
    pub fn move_to_new_stub(&mut self, tid: Tid) -> Result<(), Errno> {
        let zygote = self.zygote.as_ref().ok_or(Errno::ENOMEM)?;
        let mut scratch = zygote.get_regs().map_err(|e| Errno::from_io(&e))?;
        let fresh = zygote.fork(&mut scratch).map_err(|e| Errno::from_io(&e))?;
        crate::mm::space::reset(fresh.pid);
        let fresh_regs = fresh.get_regs().map_err(|e| Errno::from_io(&e))?;
        let t = self.tasks.get_mut(&tid).ok_or(Errno::ESRCH)?;
        let old = std::mem::replace(&mut t.stub, fresh);
        // Keep the workload registers' segment selectors valid for the new stub.
        t.regs.cs = fresh_regs.cs;
        t.regs.ss = fresh_regs.ss;
        let new_host = t.stub.tid;
        let new_pid = t.stub.pid;
        let tgid = t.tgid;
        self.by_host.remove(&old.tid);
        self.by_host.insert(new_host, tid);
        if !self.shares_address_space(tgid) {
            // The old stub goes away with this process's CPU time and shm attachments.
            self.freeze_cpu(tgid);
            let now = crate::vfs::Time::now().sec;
            self.ipc.drop_attachments(old.pid, tgid, now);
            crate::mm::space::drop_space(old.pid);
        }
        if let Some(p) = self.procs.get_mut(&tgid) {
            p.stub_pid = new_pid;
        }
        old.exit_thread();
        Ok(())
    }

    /// Turns a process whose threads are gone into a zombie and tells its parent.
    fn exit_process(&mut self, pid: Pid, status: WaitStatus) {
        self.dirty = true;
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        p.zombie = Some(status);
        crate::vfs::locks::release_process(pid);
        // SEM_UNDO adjustments go back in (and may let a waiter through).
        self.ipc.exit_sem(pid);
        crate::fs::pidfd::process_exited(pid);
        self.timers.forget_process(pid);
        // Close its files now: pipe ends must see EOF while the zombie waits to be reaped.
        let fds = std::mem::take(&mut *p.fds.borrow_mut());
        drop(fds);
        let children = std::mem::take(&mut p.children);
        let ppid = p.ppid;
        let vfork_parent = p.vfork_parent.take();
        let exit_signal = p.exit_signal;
        if let Some(vp) = vfork_parent {
            self.wake_vfork_parent(vp);
        }
        if pid == 1 {
            // The sandbox ends with its init; every other process dies with it.
            self.init_exit = Some(status);
            let all: Vec<Pid> = self.procs.keys().copied().filter(|&p| p != 1).collect();
            for other in all {
                self.kill_group(other, WaitStatus::signaled(libc::SIGKILL, false));
            }
            return;
        }
        if let Some(w) = self.exec_waiters.remove(&pid) {
            let s = status.0;
            let exit = if s & 0x7f == 0 {
                crate::WorkloadExit::Exited((s >> 8) & 0xff)
            } else {
                crate::WorkloadExit::Signaled(s & 0x7f)
            };
            let _ = w.send(exit);
        }
        self.container_init_exited(pid);
        // Reparent children to the nearest subreaper or init; those that asked for it get
        // their PR_SET_PDEATHSIG signal.
        let mut reaper = self.find_reaper(pid, ppid);
        if reaper == pid {
            // A container's init is gone and its processes were killed above: as Linux's
            // namespace teardown does, nobody waits for them; they are reaped as they exit.
            reaper = 0;
            for &c in &children {
                if self.procs.get(&c).is_some_and(|p| p.zombie.is_some()) {
                    self.procs.remove(&c);
                }
            }
        }
        for &c in &children {
            let mut pdeath = 0;
            if let Some(cp) = self.procs.get_mut(&c) {
                cp.ppid = reaper;
                cp.parent_tid = reaper;
                if cp.zombie.is_none() {
                    pdeath = cp.pdeath_signal;
                }
            }
            if let Some(r) = self.procs.get_mut(&reaper) {
                r.children.push(c);
            }
            if pdeath > 0 {
                self.send_to_process(
                    c,
                    SigInfo {
                        signo: pdeath,
                        code: signal::SI_USER,
                        pid,
                        ..Default::default()
                    },
                );
            }
        }
        // Our exit may orphan our children's groups, and our own.
        for &c in &children {
            if self.procs.get(&c).is_some_and(|c| c.zombie.is_none()) {
                self.kill_orphaned_pgrp(c, pid, None);
            }
        }
        self.kill_orphaned_pgrp(pid, ppid, Some(pid));
        // Tell the parent.
        let Some(parent) = self.procs.get(&ppid) else {
            // No parent inside the sandbox (an `exec`ed process): nobody will wait for it.
            self.reap(pid);
            return;
        };
        let act = parent.sigactions.borrow()[SIGCHLD as usize];
        let autoreap = exit_signal == SIGCHLD
            && (act.handler == signal::SIG_IGN || act.flags & signal::SA_NOCLDWAIT != 0);
        if autoreap {
            self.reap(pid);
            return;
        }
        if exit_signal > 0 {
            let (code, st) = if status.0 & 0x7f == 0 {
                (signal::CLD_EXITED, (status.0 >> 8) & 0xff)
            } else if status.0 & 0x80 != 0 {
                (signal::CLD_DUMPED, status.0 & 0x7f)
            } else {
                (signal::CLD_KILLED, status.0 & 0x7f)
            };
            let info = SigInfo {
                signo: exit_signal,
                code,
                pid,
                uid: self.procs.get(&pid).map_or(0, |p| p.creds.uid),
                status: st,
                ..Default::default()
            };
            self.send_to_process(ppid, info);
        }
    }

    /// Who adopts the children of `dying` (whose parent is `ppid`): the nearest subreaper
    /// among its ancestors, else the init of its pid namespace.
    fn find_reaper(&self, dying: Pid, mut ppid: Pid) -> Pid {
        for _ in 0..1024 {
            match self.procs.get(&ppid) {
                Some(p) if p.subreaper && p.zombie.is_none() => return ppid,
                Some(p) if !pidns::is_ns_init(p.pid) => ppid = p.ppid,
                _ => break,
            }
        }
        pidns::internal(pidns::ns_of(dying), 1)
    }

    /// Removes a zombie for good.
    pub fn reap(&mut self, pid: Pid) {
        if let Some(p) = self.procs.remove(&pid) {
            if let Some(parent) = self.procs.get_mut(&p.ppid) {
                parent.children.retain(|&c| c != pid);
                parent.children_cpu = parent.children_cpu.add(p.cpu.add(p.children_cpu));
            }
        }
    }

    fn wake_vfork_parent(&mut self, tid: Tid) {
        if let Some(t) = self.tasks.get_mut(&tid) {
            if let Some(b) = &t.blocked {
                if b.nr == libc::SYS_vfork as u64
                    || b.nr == libc::SYS_clone as u64
                    || b.nr == libc::SYS_clone3 as u64
                {
                    self.dirty = true;
                }
            }
        }
    }

    /// Default action of a stop signal: stop every thread and tell the parent.
    pub fn stop_group(&mut self, pid: Pid, sig: i32) {
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        if p.stop_report.is_some() {
            return;
        }
        p.stop_report = Some(sig);
        // A new stop is reported afresh, and replaces a continue nobody collected.
        p.stop_waited = false;
        p.cont_report = false;
        let threads = p.threads.clone();
        let ppid = p.ppid;
        let uid = p.creds.uid;
        for t in threads {
            if let Some(task) = self.tasks.get_mut(&t) {
                if task.state == RunState::InApp {
                    task.stub.interrupt();
                    self.interrupted.insert(t);
                }
            }
        }
        self.dirty = true;
        if self.parent_wants_cldstop(ppid) {
            let info = SigInfo {
                signo: SIGCHLD,
                code: 5, /* CLD_STOPPED */
                pid,
                uid,
                status: sig,
                ..Default::default()
            };
            self.send_to_process(ppid, info);
        }
    }

    /// Sending a stop signal discards a pending SIGCONT (Linux's prepare_signal).
    pub fn discard_pending_cont(&mut self, pid: Pid) {
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        p.shared_pending.remove_sig(signal::SIGCONT);
        let all = p.threads.clone();
        for t in all {
            if let Some(t) = self.tasks.get_mut(&t) {
                t.pending.remove_sig(signal::SIGCONT);
            }
        }
    }

    /// SIGCONT: resume a stopped group.
    pub fn continue_group(&mut self, pid: Pid) {
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        // Pending stop signals are discarded by SIGCONT, thread-directed ones too.
        const STOPS: [i32; 4] = [libc::SIGSTOP, libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU];
        for s in STOPS {
            p.shared_pending.remove_sig(s);
        }
        let all = p.threads.clone();
        for t in all {
            if let Some(t) = self.tasks.get_mut(&t) {
                for s in STOPS {
                    t.pending.remove_sig(s);
                }
            }
        }
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        if p.stop_report.take().is_none() {
            return;
        }
        p.cont_report = true;
        let threads = p.threads.clone();
        let ppid = p.ppid;
        let uid = p.creds.uid;
        for t in threads {
            if self
                .tasks
                .get(&t)
                .is_some_and(|x| x.state == RunState::Stopped)
            {
                self.task_mut(t).state = RunState::InSentry;
                self.resume(t);
            }
        }
        self.dirty = true;
        // SA_NOCLDSTOP silences CLD_CONTINUED as well as CLD_STOPPED.
        if !self.parent_wants_cldstop(ppid) {
            return;
        }
        let info = SigInfo {
            signo: SIGCHLD,
            code: 6, /* CLD_CONTINUED */
            pid,
            uid,
            status: libc::SIGCONT,
            ..Default::default()
        };
        self.send_to_process(ppid, info);
    }

    /// Does the parent want SIGCHLD for its children's stops and continues?
    fn parent_wants_cldstop(&self, ppid: Pid) -> bool {
        self.procs.get(&ppid).is_some_and(|pp| {
            pp.sigactions.borrow()[SIGCHLD as usize].flags & signal::SA_NOCLDSTOP == 0
        })
    }

    /// Is process group `pgid` orphaned: does no live member have a parent in another group
    /// of the same session? (Linux's will_become_orphaned_pgrp; a parent outside the sandbox,
    /// as init's, does not count.) `ignore` is a process about to leave.
    pub fn pgrp_orphaned(&self, pgid: Pid, ignore: Option<Pid>) -> bool {
        !self.procs.values().any(|p| {
            p.pgid == pgid
                && p.zombie.is_none()
                && Some(p.pid) != ignore
                && self
                    .procs
                    .get(&p.ppid)
                    .is_some_and(|pp| pp.pgid != pgid && pp.sid == p.sid)
        })
    }

    /// A process group that just became orphaned while some member is stopped gets SIGHUP
    /// then SIGCONT, so its stopped jobs are not left stopped forever (Linux's
    /// kill_orphaned_pgrp). `member` is a process of the group, `outside` the process whose
    /// exit cut the group's link to its session.
    fn kill_orphaned_pgrp(&mut self, member: Pid, outside: Pid, ignore: Option<Pid>) {
        let (Some(m), Some(o)) = (self.procs.get(&member), self.procs.get(&outside)) else {
            return;
        };
        let pgid = m.pgid;
        if o.pgid == pgid || o.sid != m.sid || !self.pgrp_orphaned(pgid, ignore) {
            return;
        }
        let members: Vec<Pid> = self
            .procs
            .values()
            .filter(|p| p.pgid == pgid && p.zombie.is_none())
            .map(|p| p.pid)
            .collect();
        if !members
            .iter()
            .any(|p| self.procs.get(p).is_some_and(|p| p.stop_report.is_some()))
        {
            return;
        }
        for sig in [libc::SIGHUP, libc::SIGCONT] {
            for &p in &members {
                self.send_to_process(p, SigInfo::kernel(sig));
            }
        }
    }

    /// Logs an unimplemented syscall, once per sandbox.
    pub fn log_enosys(&mut self, nr: u64, name: &str) {
        if self.logged_enosys.insert(nr) {
            tracing::warn!(syscall = name, nr, "unsupported syscall: returning ENOSYS");
        }
    }

    pub fn new_sigactions() -> Rc<std::cell::RefCell<[SigAction; 65]>> {
        Rc::new(std::cell::RefCell::new([SigAction::default(); 65]))
    }

    pub fn now_deadline(timeout: Duration) -> Instant {
        Instant::now() + timeout
    }
}

/// Empties the systrap doorbell eventfd (it only says "look at the contexts").
fn drain_doorbell() {
    if let Some(fd) = crate::platform::systrap::contexts::doorbell_fd() {
        let mut v = 0u64;
        // SAFETY: an 8-byte read from our own non-blocking eventfd into a local.
        unsafe { libc::read(fd, &mut v as *mut u64 as *mut libc::c_void, 8) };
    }
}
