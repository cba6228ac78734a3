//! `moat exec`: run a new process inside a running container's sandbox.
//!
//! The process is described by `--process FILE` (OCI process JSON) or by the container's own
//! `process` with the command line's arguments and overrides, as runc does. Its stdin, stdout
//! and stderr (ours, or a new pty's slave with `--tty`) travel to the sandbox over the control
//! socket as `SCM_RIGHTS`; the sentry starts the process and answers with its virtual pid.
//!
//! A host process then stands for the exec'd process, as the process itself does with runc:
//! without `--detach` that is this `moat exec`, which forwards the signals it receives and exits
//! with the process's status; with `--detach` it is a child left behind (its pid goes to
//! `--pid-file`), which does the same and whose exit is the process's exit. containerd's runc
//! shim uses exactly that (`exec --detach --pid-file`) and reaps that child as a subreaper.
//! Killing the standing process with SIGKILL kills the exec'd process too (its connection
//! closes).
//!
//! Failures exit with 255 and `exec failed: ...`, as runc's exec does.

use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;

use crate::cli::ExecArgs;
use crate::commands::create::write_pid_file;
use crate::commands::start::CONTROL_TIMEOUT;
use crate::commands::Ctx;
use crate::container_id;
use crate::control::{self, ExecProcess, Request, Response};
use crate::error::{Error, Result};
use crate::signal::{self, SignalPipe};
use crate::state::{Container, Status};
use crate::tty::{self, Proxy, RawMode};

/// Status of runc's failed exec.
const EXEC_FAILED: i32 = 255;

/// How the exec'd process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    pub fn code(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
        }
    }
}

pub fn run(ctx: &Ctx, args: &ExecArgs) -> Result<i32> {
    exec(ctx, args).map_err(|e| match e {
        e @ Error::Exit { .. } => e,
        e => Error::Exit {
            code: EXEC_FAILED,
            msg: format!("exec failed: {e}"),
        },
    })
}

fn exec(ctx: &Ctx, args: &ExecArgs) -> Result<i32> {
    container_id::validate(&args.id)?;
    let c = Container::load(&ctx.root, &args.id)?;
    match c.status() {
        Status::Stopped => return Err(Error::State("cannot exec in a stopped container".into())),
        Status::Paused if !args.ignore_paused => {
            return Err(Error::State(
                "cannot exec in a paused container (use --ignore-paused to override)".into(),
            ))
        }
        Status::Creating => {
            return Err(Error::State(
                "cannot exec in a container that is being created".into(),
            ))
        }
        _ => {}
    }
    let (mut process, terminal) = build_process(&c, args)?;
    check_terminal(terminal, args.detach, args.console_socket.is_some())?;
    // --preserve-fds: ours of 3 .. 3+N travel with stdio and keep their numbers.
    let (extra, _) = crate::commands::create::passed_fds(false, args.preserve_fds)?;
    if extra.len() + 3 > control::MAX_FDS
        || extra.last().is_some_and(|&fd| fd >= control::MAX_FD_NUMBER)
    {
        return Err(Error::Other(format!(
            "--preserve-fds: at most {} fds below {} can be passed",
            control::MAX_FDS - 3,
            control::MAX_FD_NUMBER
        )));
    }
    if !extra.is_empty() {
        process.fds = [0, 1, 2].into_iter().chain(extra.iter().copied()).collect();
    }
    if !args.cgroup.is_empty() {
        tracing::warn!("--cgroup: the exec'd process shares the sandbox's cgroup");
    }
    let pid_file = match &args.pid_file {
        Some(p) => Some(
            std::path::absolute(p)
                .map_err(|e| Error::io(format!("--pid-file {}", p.display()), e))?,
        ),
        None => None,
    };

    // Before anything is started, so no signal meant for the process is lost.
    let sigs = if args.detach {
        None
    } else {
        Some(SignalPipe::install(&signal::forwardable())?)
    };
    // The process's stdio: ours, or a pty's slave.
    let mut proxy = None;
    let pty = if terminal {
        Some(tty::open_pty()?)
    } else {
        None
    };
    let mut stdio: Vec<RawFd> = match &pty {
        Some(p) => vec![p.slave.as_raw_fd(); 3],
        None => vec![0, 1, 2],
    };
    stdio.extend(&extra);
    let (resp, stream) = control::call_with_fds(
        &c.control_socket(),
        &Request::Exec {
            process,
            container: c.member(),
        },
        &stdio,
        CONTROL_TIMEOUT,
    )
    .map_err(|e| match e {
        // The sandbox's words ("unable to start container process: ...").
        Error::Sandbox(m) => Error::Sandbox(m),
        Error::Control(_) if !c.sandbox_alive() => {
            Error::State("cannot exec in a stopped container".into())
        }
        e => e,
    })?;
    tracing::debug!(id = %args.id, pid = ?resp.pid, "exec'd process started");
    if let Some(p) = pty {
        drop(p.slave);
        match &args.console_socket {
            Some(sock) => tty::send_console(sock, &p.master)?,
            None => {
                tty::copy_winsize(0, p.master.as_raw_fd());
                proxy = Some(Proxy::new(p.master));
            }
        }
    }
    if args.detach {
        let holder = spawn_holder(stream)?;
        if let Some(p) = &pid_file {
            write_pid_file(p, holder)?;
        }
        return Ok(0);
    }
    if let Some(p) = &pid_file {
        write_pid_file(p, std::process::id() as i32)?;
    }
    let _raw = if proxy.is_some() {
        RawMode::enter(0)
    } else {
        None
    };
    let sigs = sigs.ok_or_else(|| Error::Other("no signal pipe".into()))?;
    let exit = wait_exit(stream, &sigs, proxy.as_mut());
    tracing::debug!(id = %args.id, ?exit, "exec'd process exited");
    Ok(exit.code())
}

/// runc's checks on `--tty`, `--detach` and `--console-socket`.
fn check_terminal(terminal: bool, detach: bool, console_socket: bool) -> Result<()> {
    if detach && terminal && !console_socket {
        return Err(Error::Other(
            "cannot allocate tty if moat will detach without setting console socket".into(),
        ));
    }
    if (!detach || !terminal) && console_socket {
        return Err(Error::Other(
            "cannot use console socket if moat will not detach or allocate tty".into(),
        ));
    }
    Ok(())
}

/// The process to run and whether it wants a terminal: `--process FILE`, or the container's
/// process with the command line's arguments and overrides (runc's rules).
pub fn build_process(c: &Container, args: &ExecArgs) -> Result<(ExecProcess, bool)> {
    let p: oci_spec::runtime::Process = match &args.process {
        Some(path) => {
            let data = fs::read(path)
                .map_err(|e| Error::io(format!("read process {}", path.display()), e))?;
            serde_json::from_slice(&data)
                .map_err(|e| Error::Other(format!("invalid process {}: {e}", path.display())))?
        }
        None => {
            let spec = c.spec()?;
            let mut p = spec
                .process()
                .clone()
                .ok_or_else(|| Error::Config("process is missing".into()))?;
            p.set_args(Some(args.command.clone()));
            if let Some(cwd) = &args.cwd {
                p.set_cwd(cwd.into());
            }
            let mut env = p.env().clone().unwrap_or_default();
            env.extend(args.env.iter().cloned());
            p.set_env(Some(env));
            p.set_terminal(Some(args.tty));
            if let Some(u) = &args.user {
                let (uid, gid) = parse_user(u)?;
                let mut user = p.user().clone();
                user.set_uid(uid);
                if let Some(g) = gid {
                    user.set_gid(g);
                }
                p.set_user(user);
            }
            if args.no_new_privs {
                p.set_no_new_privileges(Some(true));
            }
            if !args.cap.is_empty() {
                // runc adds each --cap to every set.
                let mut caps = p.capabilities().clone().unwrap_or_default();
                let mut names = Vec::new();
                let mut unknown = Vec::new();
                for c in &args.cap {
                    if crate::features::check_capability(c).is_err() {
                        unknown.push(c.as_str());
                        continue;
                    }
                    let upper = c.to_ascii_uppercase();
                    names.push(if upper.starts_with("CAP_") {
                        upper
                    } else {
                        format!("CAP_{upper}")
                    });
                }
                if !unknown.is_empty() {
                    // runc's words; it goes on without them too.
                    tracing::warn!(
                        "ignoring unknown or unavailable capabilities: [{}]",
                        unknown.join(" ")
                    );
                }
                let add = |set: Option<oci_spec::runtime::Capabilities>| -> Result<_> {
                    let mut set = set.unwrap_or_default();
                    for n in &names {
                        let cap = serde_json::from_value(serde_json::Value::String(n.clone()))
                            .map_err(|_| Error::Other(format!("unknown capability {n:?}")))?;
                        set.insert(cap);
                    }
                    Ok(Some(set))
                };
                caps.set_bounding(add(caps.bounding().clone())?);
                caps.set_effective(add(caps.effective().clone())?);
                caps.set_permitted(add(caps.permitted().clone())?);
                caps.set_inheritable(add(caps.inheritable().clone())?);
                p.set_capabilities(Some(caps));
            }
            if !args.additional_gids.is_empty() {
                let mut user = p.user().clone();
                let mut g = user.additional_gids().clone().unwrap_or_default();
                g.extend(&args.additional_gids);
                user.set_additional_gids(Some(g));
                p.set_user(user);
            }
            p
        }
    };
    let argv = p.args().clone().unwrap_or_default();
    if argv.is_empty() {
        return Err(Error::Other("process args cannot be empty".into()));
    }
    let cwd = p.cwd().to_string_lossy().into_owned();
    if cwd.is_empty() {
        return Err(Error::Other("cwd property must not be empty".into()));
    }
    if !cwd.starts_with('/') {
        return Err(Error::Other(format!(
            "cwd {cwd:?} must be an absolute path"
        )));
    }
    for kv in p.env().iter().flatten() {
        if !kv.contains('=') {
            return Err(Error::Other(format!(
                "process.env entry {kv:?} is not KEY=VALUE"
            )));
        }
    }
    let user = p.user();
    let capabilities = crate::bundle::process_capabilities(&p)?;
    Ok((
        ExecProcess {
            args: argv,
            env: crate::passwd::with_home(
                p.env().clone().unwrap_or_default(),
                &c.state.rootfs,
                user.uid(),
            ),
            cwd,
            uid: user.uid(),
            gid: user.gid(),
            additional_gids: user.additional_gids().clone().unwrap_or_default(),
            capabilities,
            no_new_privs: p.no_new_privileges() == Some(true),
            fds: Vec::new(),
        },
        p.terminal() == Some(true),
    ))
}

/// `UID[:GID]`, numbers only (as runc).
fn parse_user(u: &str) -> Result<(u32, Option<u32>)> {
    let bad = || Error::Other(format!("invalid --user {u:?}: want UID[:GID]"));
    let (uid, gid) = match u.split_once(':') {
        Some((a, b)) => (a, Some(b)),
        None => (u, None),
    };
    let uid = uid.parse().map_err(|_| bad())?;
    let gid = match gid {
        Some(g) => Some(g.parse().map_err(|_| bad())?),
        None => None,
    };
    Ok((uid, gid))
}

/// Forks the host process that stands for a detached exec'd process; returns its pid.
pub fn spawn_holder(stream: UnixStream) -> Result<i32> {
    // SAFETY: fork in a single-threaded process; the child only continues with this
    // process's own code and ends in _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Error::last_os("fork"));
    }
    if pid > 0 {
        return Ok(pid);
    }
    // The child: not in the caller's session or process group (as runc's detached process),
    // and holding none of the caller's stdio (those are the exec'd process's) nor any other
    // of its fds (`create` holds the container's state lock, which must not outlive it).
    let keep = stream.as_raw_fd() as libc::c_uint;
    // SAFETY: close_range on fd ranges of our own (forked, single-threaded) process; the
    // stream's fd is left out.
    unsafe {
        if keep > 3 {
            libc::syscall(
                libc::SYS_close_range,
                3 as libc::c_uint,
                keep - 1,
                0 as libc::c_uint,
            );
        }
        libc::syscall(
            libc::SYS_close_range,
            keep + 1,
            libc::c_uint::MAX,
            0 as libc::c_uint,
        );
    }
    // SAFETY: setsid/open/dup2 on our own process; the path is a static C string.
    unsafe {
        libc::setsid();
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if null >= 0 {
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
            libc::close(null);
        }
    }
    let code = match SignalPipe::install(&signal::forwardable()) {
        Ok(sigs) => {
            let exit = wait_exit(stream, &sigs, None);
            if let Exit::Signal(s) = exit {
                die_by(s);
            }
            exit.code()
        }
        Err(_) => 255,
    };
    // SAFETY: _exit ends this forked child without running the parent's destructors.
    unsafe { libc::_exit(code) }
}

/// Ends this process with signal `s` (no core dump), so its waiter sees what the exec'd
/// process's waiter would.
fn die_by(s: i32) {
    signal::reset_handlers(&[s]);
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit, sigprocmask and raise on our own process.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &zero);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, s);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(s);
    }
}

/// Forwards signals over the exec connection (and moves terminal bytes) until the sandbox
/// reports the process's exit. A connection that ends without one means the sandbox is gone:
/// the process was killed with it.
pub fn wait_exit(mut stream: UnixStream, sigs: &SignalPipe, mut proxy: Option<&mut Proxy>) -> Exit {
    if stream.set_nonblocking(true).is_err() {
        return Exit::Signal(libc::SIGKILL);
    }
    let mut buf = Vec::new();
    loop {
        let mut pfds = vec![
            libc::pollfd {
                fd: stream.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: sigs.fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        if let Some(p) = proxy.as_deref() {
            pfds.extend(p.pollfds());
        }
        // SAFETY: poll on pollfds we own, for the length we pass.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, -1) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Exit::Signal(libc::SIGKILL);
        }
        if pfds[1].revents != 0 {
            for sig in sigs.drain() {
                match proxy.as_deref() {
                    Some(p) if sig == libc::SIGWINCH => copy_winsize_to(p, 0),
                    _ => forward(&mut stream, sig),
                }
            }
        }
        if let Some(p) = proxy.as_deref_mut() {
            for pfd in &pfds[2..] {
                p.ready(pfd);
            }
        }
        if pfds[0].revents != 0 {
            let mut chunk = [0u8; 512];
            match stream.read(&mut chunk) {
                Ok(0) => return Exit::Signal(libc::SIGKILL),
                Ok(k) => buf.extend_from_slice(&chunk[..k]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => return Exit::Signal(libc::SIGKILL),
            }
            for line in control::take_lines(&mut buf) {
                let Ok(resp) = serde_json::from_str::<Response>(&line) else {
                    continue;
                };
                let exit = match (resp.exit_code, resp.exit_signal) {
                    (Some(c), _) => Exit::Code(c),
                    (None, Some(s)) => Exit::Signal(s),
                    _ => continue,
                };
                if let Some(p) = proxy.as_deref_mut() {
                    p.drain();
                }
                return exit;
            }
        }
    }
}

fn copy_winsize_to(p: &Proxy, from: RawFd) {
    tty::copy_winsize(from, p.master.as_raw_fd());
}

/// Sends `{"op":"signal"}` on the exec connection.
fn forward(stream: &mut UnixStream, sig: i32) {
    let Ok(line) = control::json_line(&Request::Signal { signal: sig }) else {
        return;
    };
    let _ = stream.set_nonblocking(false);
    if let Err(e) = stream.write_all(&line) {
        tracing::debug!("forward {}: {e}", signal::name(sig));
    }
    let _ = stream.set_nonblocking(true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users() {
        assert_eq!(parse_user("5").unwrap(), (5, None));
        assert_eq!(parse_user("5:6").unwrap(), (5, Some(6)));
        assert!(parse_user("root").is_err());
        assert!(parse_user("5:x").is_err());
        assert!(parse_user("").is_err());
    }

    #[test]
    fn terminal_rules() {
        assert!(check_terminal(true, true, true).is_ok());
        assert!(check_terminal(true, false, false).is_ok());
        assert!(check_terminal(false, false, false).is_ok());
        assert!(check_terminal(true, true, false).is_err());
        assert!(check_terminal(false, true, true).is_err());
        assert_eq!(Exit::Signal(9).code(), 137);
    }
}
