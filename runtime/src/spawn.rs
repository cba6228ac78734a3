//! Starting the sandbox process: a fork-style `clone` into new namespaces, then an `exec` of
//! this binary's hidden `boot` command, which reports over a "ready pipe" whether the sentry
//! booted.

use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// What the boot process writes on the ready pipe when the sentry is booted. Anything else is
/// the (one-line) reason it failed.
pub const READY_OK: &str = "ok";

/// How long `create` waits for the sandbox to boot.
pub const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// A sandbox process that was started and has not yet said whether it booted.
#[derive(Debug)]
pub struct Spawned {
    pub pid: i32,
    ready: File,
}

/// Creates a pipe whose ends are both close-on-exec.
fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two fds into the array we pass.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(Error::last_os("create ready pipe"));
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Clones a child with `clone_flags` (new namespaces) that execs `/proc/self/exe` with `args`
/// (`args[0]` is argv[0]). The child starts a new session and keeps `keep_fds` open across the
/// exec; `args` should name the ready pipe fd and the placement socket fd given to
/// `make_args`. With `tty`, that terminal becomes the child's stdin, stdout, stderr and
/// controlling terminal.
///
/// Placement (`place`, e.g. into the container's cgroups) overlaps the child's boot, because
/// moving a process into a cgroup v1 hierarchy can wait for an RCU grace period (about 10 ms
/// here): `place(pid)` runs while the child execs and sets up; the child then reports on the
/// placement socket that its stubs exist ([`PLACE_STUBS`]), `place` runs for each of its
/// children (the stubs, forked before the child itself was placed), and only then does the
/// child hear [`PLACE_DONE`] and go on (nothing of the workload has run yet). If `place` fails
/// the child is killed.
///
/// The caller must be single-threaded: the child runs between `clone` and `exec` on a copy of
/// the caller's memory.
pub fn spawn_boot(
    clone_flags: libc::c_int,
    keep_fds: &[RawFd],
    tty: Option<RawFd>,
    make_args: impl FnOnce(RawFd, RawFd) -> Vec<String>,
    place: impl Fn(i32) -> Result<()>,
) -> Result<Spawned> {
    let (r, w) = pipe()?;
    let (gate_ours, gate_child) = placement_socket()?;
    let args = make_args(w.as_raw_fd(), gate_child.as_raw_fd());
    // Everything the child needs is prepared here: it must not allocate.
    let path = CString::new("/proc/self/exe").map_err(|e| Error::Other(e.to_string()))?;
    let cargs: Vec<CString> = args
        .iter()
        .map(|a| CString::new(a.as_str()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::Other("argument contains a NUL byte".into()))?;
    let mut argv: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut fds: Vec<RawFd> = keep_fds.to_vec();
    fds.push(gate_child.as_raw_fd());
    fds.push(w.as_raw_fd());
    let tty = tty.unwrap_or(-1);
    let exec_failed = b"cannot exec the sandbox process (/proc/self/exe)";

    // SAFETY: a fork-style clone (no new stack, SIGCHLD on exit). The caller is single-threaded,
    // so the child's copy of memory is consistent; the child only makes async-signal-safe system
    // calls on data prepared above and then execs or exits.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (clone_flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        return Err(Error::last_os("clone the sandbox process"));
    }
    if pid == 0 {
        // SAFETY: in the child; only async-signal-safe calls on pre-built data, then exec/_exit.
        unsafe {
            libc::setsid();
            // Until it reports ready, the sandbox dies with its creator (boot clears this).
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            );
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            if tty >= 0 {
                for std_fd in 0..3 {
                    libc::dup2(tty, std_fd);
                }
                libc::ioctl(0, libc::TIOCSCTTY, 0);
            }
            for &fd in &fds {
                libc::fcntl(fd, libc::F_SETFD, 0);
            }
            libc::execv(path.as_ptr(), argv.as_ptr());
            libc::write(
                fds[fds.len() - 1],
                exec_failed.as_ptr().cast(),
                exec_failed.len(),
            );
            libc::_exit(127);
        }
    }
    let pid = pid as i32;
    drop(w);
    drop(gate_child);
    if let Err(e) = place_sandbox(pid, gate_ours, &place) {
        kill_and_reap(pid);
        return Err(e);
    }
    Ok(Spawned {
        pid,
        ready: File::from(r),
    })
}

/// What the booting sandbox says on the placement socket once its stubs exist.
pub const PLACE_STUBS: u8 = b's';
/// The runtime's answer: the sandbox and its stubs are placed.
pub const PLACE_DONE: u8 = b'g';

fn placement_socket() -> Result<(OwnedFd, OwnedFd)> {
    // Both ends close-on-exec; the child clears the flag on its own end.
    let (a, b) = std::os::unix::net::UnixStream::pair()
        .map_err(|e| Error::io("create the placement socket", e))?;
    Ok((a.into(), b.into()))
}

/// Places the sandbox process, then (once it says its stubs exist) each of its children, and
/// tells it so. A sandbox that fails before it has stubs closes the socket: then there is
/// nothing more to place and its ready pipe says why.
fn place_sandbox(pid: i32, gate: OwnedFd, place: &impl Fn(i32) -> Result<()>) -> Result<()> {
    place(pid)?;
    let mut sock = std::os::unix::net::UnixStream::from(gate);
    sock.set_read_timeout(Some(READY_TIMEOUT))
        .map_err(|e| Error::io("placement socket", e))?;
    let mut b = [0u8; 1];
    // (read_exact retries EINTR itself.)
    match sock.read_exact(&mut b) {
        Ok(()) if b[0] == PLACE_STUBS => {}
        Ok(()) => return Err(Error::Sandbox("unexpected placement message".into())),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
        Err(e) => return Err(Error::io("wait for the sandbox's stubs", e)),
    }
    for child in children_of(pid) {
        place(child)?;
    }
    std::io::Write::write_all(&mut sock, &[PLACE_DONE])
        .map_err(|e| Error::io("release the sandbox process", e))
}

/// Host pids of `pid`'s children (its stubs), from /proc.
fn children_of(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

impl Spawned {
    /// Waits until the sandbox reports on the ready pipe. On failure the error carries the
    /// sandbox's message; the caller must still kill and reap it ([`kill_and_reap`]).
    pub fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut buf = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Sandbox(format!(
                    "sandbox process did not boot within {}s",
                    READY_TIMEOUT.as_secs()
                )));
            }
            let mut pfd = libc::pollfd {
                fd: self.ready.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll on one pollfd we own.
            let n =
                unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Error::io("wait for the sandbox", e));
            }
            if n == 0 {
                continue;
            }
            let mut chunk = [0u8; 4096];
            match self.ready.read(&mut chunk) {
                Ok(0) => break,
                Ok(k) => {
                    buf.extend_from_slice(&chunk[..k]);
                    if buf.len() > 64 * 1024 {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io("read the ready pipe", e)),
            }
        }
        let msg = crate::logging::one_line(&String::from_utf8_lossy(&buf));
        if msg == READY_OK {
            return Ok(());
        }
        if msg.is_empty() {
            return Err(Error::Sandbox(
                "sandbox process exited before it was ready".into(),
            ));
        }
        Err(Error::Sandbox(msg))
    }
}

/// Kills (SIGKILL) and reaps our child `pid`.
pub fn kill_and_reap(pid: i32) {
    // SAFETY: signalling our own unreaped child: the pid cannot have been reused.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let _ = wait_child(pid);
}

/// Waits for our child `pid` and returns its status as a shell would: the exit code, or
/// 128 + the signal that killed it.
pub fn wait_child(pid: i32) -> Result<i32> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes the status into our local.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(Error::io("wait for the sandbox process", e));
        }
    }
    Ok(exit_code(status))
}

/// A wait status as an exit code (128 + signal for a signal death).
pub fn exit_code(status: libc::c_int) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        255
    }
}
