//! `moat boot` (internal): the sandbox process. It is pid 1 of a new pid namespace, cloned by
//! `create` into the namespaces the spec asks for. It prepares the host side (mount propagation,
//! network, hostname), opens the rootfs and mount sources, boots the sentry, reports on the ready
//! pipe, waits on the control socket for `start`, and then becomes the sentry.
//!
//! Its stdio belongs to the workload: its own logs go to `--log` or `<root>/<id>/sentry.log`.
//! It installs no signal handlers: the sentry handles signals once it runs.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::Duration;

use sentry::Sentry;

use crate::bundle::Bundle;
use crate::cli::BootArgs;
use crate::commands::Ctx;
use crate::control::{self, Request, Response};
use crate::error::{Error, Result};
use crate::logging;
use crate::signal::{self, DefaultAction};
use crate::spawn::READY_OK;
use crate::state;

/// How long a control client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Exit code when the sentry fails after `start` (the workload's own codes are 0..=255 too, so
/// the reason is also logged and written to the workload's stderr).
const SENTRY_FAILED: i32 = 255;

/// Runs the sandbox; returns its exit code (the workload's).
pub fn run(ctx: &Ctx, args: &BootArgs) -> i32 {
    let (mut ready, listener) = match take_fds(args) {
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
    let sentry = match prepare(ctx, args) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(id = %args.id, "boot failed: {e}");
            let _ = ready.write_all(e.to_string().as_bytes());
            return 1;
        }
    };
    // From now on the sandbox outlives `create` (spawn set a parent-death signal for the boot).
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0 as libc::c_ulong, 0, 0, 0) };
    if ready.write_all(READY_OK.as_bytes()).is_err() {
        tracing::error!(id = %args.id, "create went away before the sandbox was ready");
        return 1;
    }
    drop(ready);
    tracing::debug!(id = %args.id, "sandbox ready, waiting for start");

    if let Some(code) = serve_until_start(&listener) {
        return code;
    }
    drop(listener);
    match sentry.run() {
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
/// makes them close-on-exec so nothing the sentry starts inherits them.
fn take_fds(args: &BootArgs) -> Result<(File, UnixListener)> {
    close_inherited_fds(&[args.ready_fd, args.control_fd]);
    for fd in [args.ready_fd, args.control_fd] {
        // SAFETY: fcntl on an integer fd; F_SETFD fails harmlessly (EBADF) if it is not open.
        if fd <= 2 || unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
            return Err(Error::Other(format!("fd {fd} from create is not usable")));
        }
    }
    if args.ready_fd == args.control_fd {
        return Err(Error::Other("ready and control fds are the same".into()));
    }
    // SAFETY: create passed these open fds (checked above) for this process to own; nothing
    // else in this process refers to them.
    let (ready, listener) = unsafe {
        (
            File::from_raw_fd(args.ready_fd),
            UnixListener::from_raw_fd(args.control_fd),
        )
    };
    Ok((ready, listener))
}

/// Closes every fd above 2 except `keep`: whatever `create`'s caller leaked to it must not
/// stay open in the sentry.
fn close_inherited_fds(keep: &[RawFd]) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<RawFd> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds {
        if fd > 2 && !keep.contains(&fd) {
            // SAFETY: nothing in this process owns these fds yet (the read_dir fd is already
            // closed, so closing its number fails harmlessly).
            unsafe { libc::close(fd) };
        }
    }
}

/// The host-side setup and the sentry's boot. Everything that can fail for a bad bundle fails
/// here, before `create` returns.
fn prepare(ctx: &Ctx, args: &BootArgs) -> Result<Sentry> {
    let bundle = Bundle::load(&args.bundle)?;
    let plan = bundle.namespaces()?;
    make_mounts_private()?;
    if let Some(path) = &plan.join_net {
        join_netns(path)?;
    }
    if plan.new_net {
        if let Err(e) = loopback_up() {
            tracing::warn!("bring up lo: {e}");
        }
    }
    if let Some(h) = bundle.spec.hostname() {
        set_name(h, false);
    }
    if let Some(d) = bundle.spec.domainname() {
        set_name(d, true);
    }
    let spec = bundle.sandbox_spec(ctx.sentry_options(), [0, 1, 2])?;
    Sentry::new(spec).map_err(|e| Error::Sandbox(e.to_string()))
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

fn join_netns(path: &Path) -> Result<()> {
    let f = File::open(path)
        .map_err(|e| Error::io(format!("open network namespace {}", path.display()), e))?;
    let fd: OwnedFd = f.into();
    // SAFETY: setns on an fd we own.
    if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(Error::last_os(format!(
            "join network namespace {}",
            path.display()
        )));
    }
    Ok(())
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

/// Answers control requests until `start`. Returns `Some(code)` if the sandbox must exit instead
/// (a terminating signal sent before start, or a broken listener).
fn serve_until_start(listener: &UnixListener) -> Option<i32> {
    loop {
        let incoming = match control::accept(listener, REQUEST_TIMEOUT) {
            Ok(i) => i,
            Err(e) => {
                tracing::error!("control socket: {e}");
                return Some(1);
            }
        };
        let req = match &incoming.request {
            Ok(r) => r.clone(),
            Err(msg) => {
                tracing::warn!("control socket: {msg}");
                let msg = msg.clone();
                incoming.reply(&Response::error(msg));
                continue;
            }
        };
        tracing::debug!(?req, "control request");
        match req {
            Request::Start => {
                incoming.reply(&Response::ok());
                return None;
            }
            Request::State => {
                incoming.reply(&Response {
                    ok: true,
                    error: None,
                    status: Some("created".into()),
                });
            }
            Request::Kill { signal: sig, .. } => {
                if !(1..=signal::MAX_SIGNAL).contains(&sig) {
                    incoming.reply(&Response::error(format!("invalid signal {sig}")));
                    continue;
                }
                incoming.reply(&Response::ok());
                // The init has not run: it reacts as with default dispositions.
                if signal::default_action(sig) == DefaultAction::Terminate {
                    tracing::debug!("{} before start: container stops", signal::name(sig));
                    return Some(128 + sig);
                }
            }
        }
    }
}
