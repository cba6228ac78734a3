//! `moat boot` (internal): the sandbox process. It is pid 1 of a new pid namespace, cloned by
//! `create` into the namespaces the spec asks for. It prepares the host side (mount propagation,
//! network, hostname), opens the rootfs and mount sources, boots the sentry, starts the control
//! thread, reports on the ready pipe, waits for `start`, and then becomes the sentry.
//!
//! The control thread serves `<root>/<id>/control.sock` for the sandbox's whole life: one
//! `poll` loop over the listener, connections still sending their request (read without
//! blocking) and the open exec connections. It is started
//! before the sentry seals itself, and from then on lives under the sentry's seccomp filter: it
//! only uses sockets it already has (accept4, recvmsg, sendmsg, poll, fcntl, setsockopt), never
//! opens files and never starts threads.
//!
//! Its stdio belongs to the workload: its own logs go to `--log` or `<root>/<id>/sentry.log`.
//! It installs no signal handlers: the sentry handles signals once it runs.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sched::CloneFlags;
use sentry::{ExecSpec, ExecWait, Sentry, SentryHandle, WorkloadExit};

use crate::bundle::{Bundle, NamespaceKind};
use crate::cli::BootArgs;
use crate::commands::Ctx;
use crate::control::{self, ExecProcess, ProcessEntry, Request, Response, SandboxStats};
use crate::error::{Error, Result};
use crate::logging;
use crate::signal::{self, DefaultAction};
use crate::spawn::READY_OK;
use crate::state;

/// Held by the control thread from a complete request until its answer is written, so that
/// the sandbox does not exit (because the request ended the workload: `kill` of a held init)
/// before the client has its answer.
static ANSWERING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// How long a control client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Exit code when the sentry fails after `start` (the workload's own codes are 0..=255 too, so
/// the reason is also logged and written to the workload's stderr).
const SENTRY_FAILED: i32 = 255;

/// Runs the sandbox; returns its exit code (the workload's).
pub fn run(ctx: &Ctx, args: &BootArgs) -> i32 {
    let (mut ready, listener, preserved, gate) = match take_fds(args) {
        Ok(v) => v,
        Err(e) => {
            // Nowhere to report: not even the ready pipe is usable.
            let _ = writeln!(io::stderr(), "moat boot: {e}");
            return 1;
        }
    };
    let log = ctx
        .global
        .log
        .clone()
        .unwrap_or_else(|| state::container_dir(&ctx.root, &args.id).join(state::SENTRY_LOG));
    if let Err(e) = logging::init(Some(&log), ctx.global.log_format, ctx.global.debug) {
        let _ = ready.write_all(e.to_string().as_bytes());
        return 1;
    }
    let prepared = prepare(ctx, args, &preserved);
    // The sentry holds its own copies: ours must not keep a pipe open after the workload
    // closes it.
    for fd in preserved {
        // SAFETY: closing fds create passed down, which nothing in this process owns.
        unsafe { libc::close(fd) };
    }
    let (sentry, init) = match prepared {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(id = %args.id, "boot failed: {e}");
            let _ = ready.write_all(e.to_string().as_bytes());
            return 1;
        }
    };
    // The stubs exist: create places them (and us) in the container's cgroups before
    // anything of the workload runs (see spawn::spawn_boot).
    if let Some(gate) = gate {
        if let Err(e) = await_placement(gate) {
            tracing::error!(id = %args.id, "boot failed: {e}");
            let _ = ready.write_all(e.to_string().as_bytes());
            return 1;
        }
    }
    // The control thread: started now, before the sentry seals the process (no thread can be
    // created after that).
    let (to_main, from_control) = mpsc::channel();
    let server = ControlServer {
        listener,
        handle: sentry.handle(),
        main: to_main,
        phase: Phase::Created,
        serving: false,
        started: false,
        init,
        execs: Vec::new(),
        pending: Vec::new(),
        leftover: Vec::new(),
    };
    if let Err(e) = server.listener.set_nonblocking(true) {
        let _ = ready.write_all(format!("control socket: {e}").as_bytes());
        return 1;
    }
    if let Err(e) = std::thread::Builder::new()
        .name("control".into())
        .spawn(move || server.serve())
    {
        let _ = ready.write_all(format!("start the control thread: {e}").as_bytes());
        return 1;
    }
    // From now on the sandbox outlives `create` (spawn set a parent-death signal for the boot).
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0 as libc::c_ulong, 0, 0, 0) };
    if ready.write_all(READY_OK.as_bytes()).is_err() {
        tracing::error!(id = %args.id, "create went away before the sandbox was ready");
        return 1;
    }
    drop(ready);
    tracing::debug!(id = %args.id, "sandbox ready, waiting for start");

    let held = match from_control.recv() {
        Ok(ToMain::Start) => false,
        Ok(ToMain::RunHeld) => true,
        Ok(ToMain::Exit(code)) => return code,
        Err(_) => {
            tracing::error!(id = %args.id, "the control thread ended");
            return 1;
        }
    };
    let ran = if held {
        sentry.run_held()
    } else {
        sentry.run()
    };
    drop(ANSWERING.lock().unwrap_or_else(|e| e.into_inner()));
    match ran {
        Ok(exit) => {
            tracing::debug!(id = %args.id, ?exit, "workload exited");
            exit.exit_code()
        }
        Err(e) => {
            tracing::error!(id = %args.id, "sentry failed: {e}");
            let _ = writeln!(
                io::stderr(),
                "moat: sandbox failed: {}",
                logging::one_line(&e.to_string())
            );
            SENTRY_FAILED
        }
    }
}

/// Takes ownership of the ready pipe and the control listener that `create` passed down, and
/// makes them close-on-exec so nothing the sentry starts inherits them. Also returns the fds
/// `--preserve-fds` passes on (those of 3 .. 3+N that are open), which become the workload's.
fn take_fds(args: &BootArgs) -> Result<(File, UnixListener, Vec<RawFd>, Option<OwnedFd>)> {
    let mut own = vec![args.ready_fd, args.control_fd];
    own.extend(args.placement_fd);
    let preserved: Vec<RawFd> = open_fds()
        .into_iter()
        .filter(|&fd| fd >= 3 && ((fd - 3) as u32) < args.preserve_fds && !own.contains(&fd))
        .collect();
    let keep: Vec<RawFd> = own.iter().chain(&preserved).copied().collect();
    close_inherited_fds(&keep);
    for &fd in &own {
        // SAFETY: fcntl on an integer fd; F_SETFD fails harmlessly (EBADF) if it is not open.
        if fd <= 2 || unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
            return Err(Error::Other(format!("fd {fd} from create is not usable")));
        }
    }
    let mut distinct = own.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() != own.len() {
        return Err(Error::Other("the fds from create are not distinct".into()));
    }
    // SAFETY: create passed these open fds (checked above) for this process to own; nothing
    // else in this process refers to them.
    let (ready, listener) = unsafe {
        (
            File::from_raw_fd(args.ready_fd),
            UnixListener::from_raw_fd(args.control_fd),
        )
    };
    // SAFETY: as above, an open fd create passed for this process to own.
    let gate = args
        .placement_fd
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
    Ok((ready, listener, preserved, gate))
}

/// Says on the placement socket that the stubs exist and waits until create has placed them.
fn await_placement(gate: OwnedFd) -> Result<()> {
    let mut sock = UnixStream::from(gate);
    sock.write_all(&[crate::spawn::PLACE_STUBS])
        .map_err(|e| Error::io("placement socket", e))?;
    let mut b = [0u8; 1];
    // (read_exact retries EINTR itself; EOF means create gave up.)
    match io::Read::read_exact(&mut sock, &mut b) {
        Ok(()) if b[0] == crate::spawn::PLACE_DONE => Ok(()),
        Err(e) if e.kind() != io::ErrorKind::UnexpectedEof => Err(Error::io("placement socket", e)),
        _ => Err(Error::Other(
            "create did not place the sandbox in its cgroups".into(),
        )),
    }
}

/// The fds open in this process.
fn open_fds() -> Vec<RawFd> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    let listed: Vec<RawFd> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    // The listing's own fd is closed by now.
    listed
        .into_iter()
        // SAFETY: F_GETFD only queries the descriptor.
        .filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0)
        .collect()
}

/// Closes every fd above 2 except `keep`: whatever `create`'s caller leaked to it must not
/// stay open in the sentry.
fn close_inherited_fds(keep: &[RawFd]) {
    for fd in open_fds() {
        if fd > 2 && !keep.contains(&fd) {
            // SAFETY: nothing in this process owns these fds yet (the read_dir fd is already
            // closed, so closing its number fails harmlessly).
            unsafe { libc::close(fd) };
        }
    }
}

/// The host-side setup and the sentry's boot. Everything that can fail for a bad bundle fails
/// here, before `create` returns.
fn prepare(ctx: &Ctx, args: &BootArgs, preserved: &[RawFd]) -> Result<(Sentry, ProcessEntry)> {
    let bundle = Bundle::load(&args.bundle)?;
    let plan = bundle.namespaces()?;
    make_mounts_private()?;
    // As runc does for the container's init: here the sentry, inherited by every stub it
    // forks, so the host's OOM killer weighs the whole sandbox as the spec asks.
    if let Some(adj) = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.oom_score_adj())
    {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| Error::io(format!("set oom_score_adj {adj}"), e))?;
    }
    // Join the namespaces given by path while /proc is still the host's: containerd names a
    // pod's namespaces as /proc/<pause pid>/ns/*, which the sandbox's own /proc has not got.
    // Joining the UTS namespace also gives the sandbox the pod's hostname (read below by
    // `sandbox_spec` when the spec sets none).
    for (kind, path) in &plan.join {
        join_namespace(*kind, path)?;
    }
    // A /proc of our own pid namespace, so that tools which enter the sandbox's namespaces
    // from the host (podman top, nsenter) see the sandbox, not the host's processes.
    if let Err(e) = mount_proc() {
        tracing::warn!("mount /proc for the sandbox's pid namespace: {e}");
    }
    if plan.new_net {
        if let Err(e) = loopback_up() {
            tracing::warn!("bring up lo: {e}");
        }
    }
    // runc sets only a non-empty name; an empty one keeps the host's.
    if let Some(h) = bundle.spec.hostname().as_ref().filter(|h| !h.is_empty()) {
        set_name(h, false);
    }
    if let Some(d) = bundle.spec.domainname().as_ref().filter(|d| !d.is_empty()) {
        set_name(d, true);
    }
    // Stdio, then the preserved fds at their own numbers (the ones not open stay closed).
    let count = preserved
        .iter()
        .map(|&fd| fd as usize + 1)
        .max()
        .unwrap_or(3)
        .max(3);
    let fds: Vec<RawFd> = (0..count as RawFd)
        .map(|fd| {
            if fd < 3 || preserved.contains(&fd) {
                fd
            } else {
                -1
            }
        })
        .collect();
    let mut spec = bundle.sandbox_spec(ctx.sentry_options(), fds)?;
    if args.listen_fds > 0 {
        // Socket activation, as runc passes it on: the fds are the init's (pid 1).
        spec.env.push(format!("LISTEN_FDS={}", args.listen_fds));
        spec.env.push("LISTEN_PID=1".into());
    }
    // What `ps` shows before `start`: the loaded, not yet running init.
    let init = ProcessEntry {
        pid: 1,
        ppid: 0,
        uid: spec.uid,
        state: "S".into(),
        comm: spec
            .args
            .first()
            .map(|a| a.rsplit('/').next().unwrap_or(a).chars().take(15).collect())
            .unwrap_or_default(),
        args: spec.args.clone(),
        threads: 1,
    };
    let sentry = Sentry::new(spec).map_err(|e| Error::Sandbox(e.to_string()))?;
    Ok((sentry, init))
}

/// Mounts in our new mount namespace stop propagating to and from the host.
fn make_mounts_private() -> Result<()> {
    let root = CString::new("/").map_err(|e| Error::Other(e.to_string()))?;
    // SAFETY: mount(2) with a valid C string target and null source/type/data.
    let r = unsafe {
        libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    if r != 0 {
        return Err(Error::last_os("make mounts private"));
    }
    Ok(())
}

fn mount_proc() -> nix::Result<()> {
    use nix::mount::{mount, MsFlags};
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
}

/// `setns` into the namespace at `path` (checked to be of `kind`).
fn join_namespace(kind: NamespaceKind, path: &Path) -> Result<()> {
    let what = kind.name();
    let f = File::open(path)
        .map_err(|e| Error::io(format!("open {what} namespace {}", path.display()), e))?;
    nix::sched::setns(&f, CloneFlags::from_bits_retain(kind.clone_flag())).map_err(|e| {
        Error::io(
            format!("join {what} namespace {}", path.display()),
            io::Error::from(e),
        )
    })
}

/// `ip link set lo up` in our fresh network namespace.
fn loopback_up() -> io::Result<()> {
    // SAFETY: socket(2) returns a new fd or -1.
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: s is a new fd owned here.
    let sock = unsafe { OwnedFd::from_raw_fd(s) };
    // SAFETY: ifreq is plain old data; all-zero is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS fills the union's flags in the ifreq we pass.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: ifru_flags is the member SIOCGIFFLAGS just wrote.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads the ifreq we pass.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sets our UTS namespace's host or domain name (best effort: the workload sees the sentry's).
fn set_name(name: &str, domain: bool) {
    // SAFETY: the pointer and length describe `name`'s bytes, which outlive the call.
    let r = unsafe {
        if domain {
            libc::setdomainname(name.as_ptr().cast(), name.len())
        } else {
            libc::sethostname(name.as_ptr().cast(), name.len())
        }
    };
    if r != 0 {
        tracing::warn!(
            "set {}name {name:?}: {}",
            if domain { "domain" } else { "host" },
            io::Error::last_os_error()
        );
    }
}

/// What the control thread tells the main thread.
enum ToMain {
    /// Run the workload.
    Start,
    /// Serve the sandbox (exec'd processes, pause) but keep the init stopped until the control
    /// thread releases it through the sentry (`SentryHandle::start`).
    RunHeld,
    /// Exit without running it (a terminating signal before `start`).
    Exit(i32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Created,
    Running,
    Paused,
}

/// A process started by `exec`, and the connection of the client waiting for it.
struct ExecConn {
    pid: i32,
    wait: ExecWait,
    stream: UnixStream,
    buf: Vec<u8>,
}

/// How often the control thread looks for exec'd processes that ended (only while there are).
const EXEC_POLL_MS: i32 = 20;

struct ControlServer {
    listener: UnixListener,
    handle: SentryHandle,
    main: mpsc::Sender<ToMain>,
    phase: Phase,
    /// The main thread runs the sentry (the control thread may use `handle`).
    serving: bool,
    /// `start` released the init (a paused container returns to `running`, else `created`).
    started: bool,
    init: ProcessEntry,
    execs: Vec<ExecConn>,
    /// Connections whose request line is not complete yet.
    pending: Vec<PendingConn>,
    /// Bytes a client sent after its request line (an exec client's first signal lines).
    leftover: Vec<u8>,
}

/// A connection still sending its request.
struct PendingConn {
    stream: UnixStream,
    buf: Vec<u8>,
    fds: Vec<OwnedFd>,
    since: Instant,
}

/// Answers on a connection that is about to be dropped.
fn reply_now(stream: UnixStream, resp: &Response) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(REQUEST_TIMEOUT));
    if let Ok(line) = control::json_line(resp) {
        let _ = io::Write::write_all(&mut &stream, &line);
    }
}

impl ControlServer {
    /// Serves the control socket until the process exits. Connections are read without
    /// blocking: a client that is slow to send its request holds up nobody, and is dropped
    /// after [`REQUEST_TIMEOUT`].
    fn serve(mut self) {
        loop {
            self.reap_execs();
            let now = Instant::now();
            self.pending.retain(|p| {
                let keep = now.duration_since(p.since) < REQUEST_TIMEOUT;
                if !keep {
                    tracing::debug!("control client sent no request in time: dropped");
                }
                keep
            });
            let mut pfds = vec![libc::pollfd {
                fd: self.listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            for fd in self
                .pending
                .iter()
                .map(|p| p.stream.as_raw_fd())
                .chain(self.execs.iter().map(|e| e.stream.as_raw_fd()))
            {
                pfds.push(libc::pollfd {
                    fd,
                    events: libc::POLLIN | libc::POLLRDHUP,
                    revents: 0,
                });
            }
            let mut timeout = if self.execs.is_empty() {
                -1
            } else {
                EXEC_POLL_MS
            };
            if let Some(oldest) = self.pending.iter().map(|p| p.since).min() {
                let left = (oldest + REQUEST_TIMEOUT).saturating_duration_since(now);
                let ms = left.as_millis().min(i32::MAX as u128) as i32 + 1;
                timeout = if timeout < 0 { ms } else { timeout.min(ms) };
            }
            // SAFETY: poll on pollfds we own, for the length we pass.
            let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::error!("control socket: poll: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
                continue;
            }
            let np = self.pending.len();
            let exec_ready: Vec<bool> = pfds[1 + np..].iter().map(|p| p.revents != 0).collect();
            let pending_ready: Vec<bool> = pfds[1..1 + np].iter().map(|p| p.revents != 0).collect();
            // Exec connections first, then pending requests (highest index first: both remove
            // with swap_remove), then new connections.
            for i in (0..exec_ready.len()).rev() {
                if exec_ready[i] {
                    self.exec_input(i);
                }
            }
            for i in (0..pending_ready.len()).rev() {
                if pending_ready[i] {
                    self.pending_input(i);
                }
            }
            if pfds[0].revents != 0 {
                self.accept_all();
            }
        }
    }

    /// Accepts every waiting connection (the listener is non-blocking).
    fn accept_all(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if stream.set_nonblocking(true).is_ok() {
                        self.pending.push(PendingConn {
                            stream,
                            buf: Vec::new(),
                            fds: Vec::new(),
                            since: Instant::now(),
                        });
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::error!("control socket: accept: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                    return;
                }
            }
        }
    }

    /// Reads what a new connection sent; once its request line is complete, answers it.
    fn pending_input(&mut self, i: usize) {
        let mut chunk = [0u8; 4096];
        let p = &mut self.pending[i];
        let n = control::recv_with_fds(p.stream.as_raw_fd(), &mut chunk, &mut p.fds);
        match n {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return
            }
            Ok(0) | Err(_) => {
                self.pending.swap_remove(i);
                return;
            }
            Ok(k) => p.buf.extend_from_slice(&chunk[..k]),
        }
        let Some(nl) = p.buf.iter().position(|&b| b == b'\n') else {
            if p.buf.len() > control::MAX_LINE {
                let p = self.pending.swap_remove(i);
                reply_now(p.stream, &Response::error("invalid request: line too long"));
            }
            return;
        };
        let mut p = self.pending.swap_remove(i);
        let rest = p.buf.split_off(nl + 1);
        p.buf.truncate(nl);
        let request = match std::str::from_utf8(&p.buf) {
            Ok(l) => serde_json::from_str(l).map_err(|e| format!("invalid request: {e}")),
            Err(_) => Err("invalid request: not UTF-8".to_string()),
        };
        if p.stream.set_nonblocking(false).is_err()
            || p.stream.set_write_timeout(Some(REQUEST_TIMEOUT)).is_err()
        {
            return;
        }
        self.leftover = rest;
        let _answering = ANSWERING.lock().unwrap_or_else(|e| e.into_inner());
        self.handle_request(control::Incoming {
            stream: p.stream,
            request,
            fds: p.fds,
        });
        self.leftover.clear();
    }

    /// Reports the exit of every exec'd process that ended.
    fn reap_execs(&mut self) {
        let mut i = 0;
        while i < self.execs.len() {
            match self.execs[i].wait.try_wait() {
                Some(exit) => {
                    let mut e = self.execs.swap_remove(i);
                    let resp = match exit {
                        WorkloadExit::Exited(c) => Response {
                            ok: true,
                            exit_code: Some(c),
                            ..Default::default()
                        },
                        WorkloadExit::Signaled(s) => Response {
                            ok: true,
                            exit_signal: Some(s),
                            ..Default::default()
                        },
                    };
                    tracing::debug!(pid = e.pid, ?exit, "exec'd process exited");
                    if let Ok(line) = control::json_line(&resp) {
                        let _ = e.stream.set_nonblocking(false);
                        let _ = io::Write::write_all(&mut e.stream, &line);
                    }
                }
                None => i += 1,
            }
        }
    }

    /// Signal lines from an exec client; its hang-up kills the process.
    fn exec_input(&mut self, i: usize) {
        let mut chunk = [0u8; 1024];
        let n = io::Read::read(&mut self.execs[i].stream, &mut chunk);
        match n {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            Ok(0) | Err(_) => {
                let e = self.execs.swap_remove(i);
                tracing::debug!(pid = e.pid, "exec client went away: killing the process");
                let _ = self.handle.signal(e.pid, libc::SIGKILL);
            }
            Ok(k) => {
                self.execs[i].buf.extend_from_slice(&chunk[..k]);
                self.exec_lines(i);
            }
        }
    }

    /// Acts on the complete lines an exec client sent: signals for its process.
    fn exec_lines(&mut self, i: usize) {
        let e = &mut self.execs[i];
        if e.buf.len() > control::MAX_LINE {
            e.buf.clear();
        }
        let pid = e.pid;
        for line in control::take_lines(&mut e.buf) {
            match serde_json::from_str::<Request>(&line) {
                Ok(Request::Signal { signal }) if (1..=signal::MAX_SIGNAL).contains(&signal) => {
                    if let Err(err) = self.handle.signal(pid, signal) {
                        tracing::debug!(pid, signal, "forward signal: {err}");
                    }
                }
                other => tracing::debug!(pid, ?other, "ignored on an exec connection"),
            }
        }
    }

    fn handle_request(&mut self, mut incoming: control::Incoming) {
        let req = match &incoming.request {
            Ok(r) => r.clone(),
            Err(msg) => {
                tracing::warn!("control socket: {msg}");
                let msg = msg.clone();
                incoming.reply(&Response::error(msg));
                return;
            }
        };
        tracing::debug!(?req, "control request");
        let created = self.phase == Phase::Created;
        if let Some(resp) = self.member_request(&req, &mut incoming) {
            match resp {
                Some(r) => incoming.reply(&r),
                None => {} // the connection now carries the container's life
            }
            return;
        }
        let resp = match req {
            Request::Start { .. } if created && self.serving => {
                let r = self.handle.start();
                if r.is_ok() {
                    self.phase = Phase::Running;
                    self.started = true;
                }
                result(r)
            }
            Request::Start { .. } if created => {
                self.phase = Phase::Running;
                self.started = true;
                self.serving = true;
                let _ = self.main.send(ToMain::Start);
                Response::ok()
            }
            Request::Start { .. } => Response::error("cannot start an already running container"),
            Request::State => Response {
                ok: true,
                status: Some(
                    match self.phase {
                        Phase::Created => "created",
                        Phase::Running => "running",
                        Phase::Paused => "paused",
                    }
                    .into(),
                ),
                ..Default::default()
            },
            Request::Kill { signal: sig, .. } if !(1..=signal::MAX_SIGNAL).contains(&sig) => {
                Response::error(format!("invalid signal {sig}"))
            }
            // The sentry runs (exec'd processes): it acts for the held init itself.
            Request::Kill {
                signal: sig, all, ..
            } if created && self.serving => result(self.handle.kill(sig, all)),
            Request::Kill { signal: sig, .. } if created => {
                // The init has not run: it reacts as with default dispositions.
                if signal::default_action(sig) == DefaultAction::Terminate {
                    tracing::debug!("{} before start: container stops", signal::name(sig));
                    incoming.reply(&Response::ok());
                    let _ = self.main.send(ToMain::Exit(128 + sig));
                    return;
                }
                Response::ok()
            }
            Request::Kill {
                signal: sig, all, ..
            } => result(self.handle.kill(sig, all)),
            Request::AddContainer { .. } => Response::error("add_container: not handled"),
            Request::Signal { .. } => Response::error("signal is only valid on an exec connection"),
            Request::Exec { process, .. } => {
                let fds = std::mem::take(&mut incoming.fds);
                match self.exec(process, fds, None) {
                    Ok((pid, wait)) => {
                        self.keep_exec(incoming, pid, wait, None);
                        return;
                    }
                    Err(e) => Response::error(e),
                }
            }
            Request::Ps { .. } if created && !self.serving => Response {
                ok: true,
                processes: Some(vec![self.init.clone()]),
                ..Default::default()
            },
            Request::Ps { .. } => match self.handle.ps() {
                Ok(list) => ps_response(list, |p| p.pid == 1 && created),
                Err(e) => Response::error(e.to_string()),
            },
            Request::Pause if self.phase == Phase::Paused => {
                Response::error("container already paused")
            }
            Request::Pause => {
                // runc pauses a created container too (its exec'd processes freeze; start
                // waits for resume).
                self.serve_held();
                let r = self.handle.pause();
                if r.is_ok() {
                    self.phase = Phase::Paused;
                }
                result(r)
            }
            Request::Resume if self.phase != Phase::Paused => {
                Response::error("container not paused")
            }
            Request::Resume => {
                let r = self.handle.resume();
                if r.is_ok() {
                    self.phase = if self.started {
                        Phase::Running
                    } else {
                        Phase::Created
                    };
                }
                result(r)
            }
            Request::Stats { .. } if created && !self.serving => Response {
                ok: true,
                stats: Some(SandboxStats {
                    processes: 1,
                    threads: 1,
                    mapped_bytes: 0,
                }),
                ..Default::default()
            },
            Request::Stats { .. } => stats_response(self.handle.stats()),
        };
        incoming.reply(&resp);
    }

    /// Keeps an exec (or app container) connection: answers with the pid, then the
    /// connection carries signals in and the exit out.
    fn keep_exec(
        &mut self,
        mut incoming: control::Incoming,
        pid: i32,
        wait: ExecWait,
        stub_pid: Option<i32>,
    ) {
        incoming.reply_keep(&Response {
            ok: true,
            pid: Some(pid),
            stub_pid,
            ..Default::default()
        });
        if incoming.stream.set_nonblocking(true).is_ok() {
            self.execs.push(ExecConn {
                pid,
                wait,
                stream: incoming.stream,
                buf: std::mem::take(&mut self.leftover),
            });
            // Signal lines that came with the request.
            self.exec_lines(self.execs.len() - 1);
        } else {
            let _ = self.handle.signal(pid, libc::SIGKILL);
        }
    }

    /// Requests about a pod's app container in this sandbox (pod.rs). None: not such a
    /// request. Some(None): answered, and the connection kept (add_container, exec).
    fn member_request(
        &mut self,
        req: &Request,
        incoming: &mut control::Incoming,
    ) -> Option<Option<Response>> {
        let one = |r: std::result::Result<(), sentry::SentryError>| Some(Some(result(r)));
        match req.clone() {
            Request::AddContainer { container, spec } => {
                if let Err(e) = crate::container_id::validate(&container) {
                    return Some(Some(Response::error(e.to_string())));
                }
                let fds = std::mem::take(&mut incoming.fds);
                let spec = match crate::pod::decode(container.clone(), spec, fds) {
                    Ok(s) => s,
                    Err(e) => return Some(Some(Response::error(e))),
                };
                // A sandbox not started yet serves now, its own init still held.
                self.serve_held();
                match self.handle.add_container(spec) {
                    Ok((wait, stub_pid)) => {
                        tracing::debug!(%container, pid = wait.pid, "app container added");
                        let pid = wait.pid;
                        let taken = std::mem::replace(
                            incoming,
                            control::Incoming {
                                stream: match incoming.stream.try_clone() {
                                    Ok(s) => s,
                                    Err(e) => return Some(Some(Response::error(e.to_string()))),
                                },
                                request: Err(String::new()),
                                fds: Vec::new(),
                            },
                        );
                        self.keep_exec(taken, pid, wait, Some(stub_pid));
                        Some(None)
                    }
                    Err(e) => Some(Some(Response::error(format!(
                        "unable to start container process: {e}"
                    )))),
                }
            }
            Request::Start { container: Some(c) } => one(self.handle.start_in(Some(c))),
            Request::Kill {
                container: Some(c),
                signal: sig,
                all,
            } => {
                if !(1..=signal::MAX_SIGNAL).contains(&sig) {
                    return Some(Some(Response::error(format!("invalid signal {sig}"))));
                }
                one(self.handle.kill_in(Some(c), sig, all))
            }
            Request::Ps { container: Some(c) } => Some(Some(match self.handle.ps_in(Some(c)) {
                Ok(list) => ps_response(list, |_| false),
                Err(e) => Response::error(e.to_string()),
            })),
            Request::Stats { container: Some(c) } => {
                Some(Some(stats_response(self.handle.stats_in(Some(c)))))
            }
            Request::Exec {
                container: Some(c),
                process,
            } => {
                let fds = std::mem::take(&mut incoming.fds);
                match self.exec(process, fds, Some(c)) {
                    Ok((pid, wait)) => {
                        let taken = std::mem::replace(
                            incoming,
                            control::Incoming {
                                stream: match incoming.stream.try_clone() {
                                    Ok(s) => s,
                                    Err(e) => return Some(Some(Response::error(e.to_string()))),
                                },
                                request: Err(String::new()),
                                fds: Vec::new(),
                            },
                        );
                        self.keep_exec(taken, pid, wait, None);
                        Some(None)
                    }
                    Err(e) => Some(Some(Response::error(e))),
                }
            }
            _ => None,
        }
    }

    /// Makes the main thread run the sentry with the init held, if it does not run yet.
    fn serve_held(&mut self) {
        if !self.serving {
            self.serving = true;
            let _ = self.main.send(ToMain::RunHeld);
        }
    }

    fn exec(
        &mut self,
        p: ExecProcess,
        fds: Vec<OwnedFd>,
        container: Option<String>,
    ) -> std::result::Result<(i32, ExecWait), String> {
        if p.args.is_empty() {
            return Err("process args cannot be empty".into());
        }
        // In a created container the sandbox starts serving, its init still held (as runc's
        // init waits for start while exec'd processes run).
        self.serve_held();
        let numbers: Vec<i32> = if p.fds.is_empty() {
            vec![0, 1, 2]
        } else {
            p.fds.clone()
        };
        if numbers.len() != fds.len() {
            return Err(format!(
                "exec names {} fds but {} came with the request",
                numbers.len(),
                fds.len()
            ));
        }
        if !numbers.starts_with(&[0, 1, 2])
            || numbers.windows(2).any(|w| w[0] >= w[1])
            || numbers.last().is_some_and(|&n| n >= control::MAX_FD_NUMBER)
        {
            return Err(format!(
                "exec fds must be 0, 1, 2 and then increasing numbers below {}",
                control::MAX_FD_NUMBER
            ));
        }
        let mut stdio: Vec<Option<OwnedFd>> = Vec::new();
        for (n, fd) in numbers.into_iter().zip(fds) {
            let n = n as usize;
            stdio.resize_with(n, || None);
            stdio.push(Some(fd));
        }
        let spec = ExecSpec {
            args: p.args,
            env: p.env,
            cwd: p.cwd,
            uid: p.uid,
            gid: p.gid,
            additional_gids: p.additional_gids,
            stdio,
            capabilities: p.capabilities.map(|c| sentry::control::CapSets {
                effective: c.effective,
                permitted: c.permitted,
                inheritable: c.inheritable,
                bounding: c.bounding,
                ambient: c.ambient,
            }),
            no_new_privs: p.no_new_privs,
        };
        let wait = self
            .handle
            .exec_in(container, spec)
            .map_err(|e| format!("unable to start container process: {e}"))?;
        tracing::debug!(pid = wait.pid, "exec'd process started");
        Ok((wait.pid, wait))
    }
}

/// The answer to `ps`; `held` says which entry is an init still waiting for start (it
/// sleeps, it does not run).
fn ps_response(
    list: Vec<sentry::ProcessInfo>,
    held: impl Fn(&sentry::ProcessInfo) -> bool,
) -> Response {
    Response {
        ok: true,
        processes: Some(
            list.into_iter()
                .map(|p| ProcessEntry {
                    state: if held(&p) && p.state == 'R' {
                        "S".into()
                    } else {
                        p.state.to_string()
                    },
                    pid: p.pid,
                    ppid: p.ppid,
                    uid: p.uid,
                    comm: p.comm,
                    args: p.args,
                    threads: p.threads,
                })
                .collect(),
        ),
        ..Default::default()
    }
}

fn stats_response(r: std::result::Result<sentry::Stats, sentry::SentryError>) -> Response {
    match r {
        Ok(s) => Response {
            ok: true,
            stats: Some(SandboxStats {
                processes: s.processes,
                threads: s.threads,
                mapped_bytes: s.mapped_bytes,
            }),
            ..Default::default()
        },
        Err(e) => Response::error(e.to_string()),
    }
}

fn result(r: std::result::Result<(), sentry::SentryError>) -> Response {
    match r {
        Ok(()) => Response::ok(),
        Err(e) => Response::error(e.to_string()),
    }
}
