//! `moat run`: create + start, then wait for the sandbox and exit with the workload's status.
//! Signals sent to `moat run` are forwarded to the sandbox, whose sentry delivers them to the
//! workload's init.

use std::sync::atomic::{AtomicI32, Ordering};

use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::cli::RunArgs;
use crate::commands::delete::teardown;
use crate::commands::{create, start, Ctx};
use crate::error::Result;
use crate::spawn::{kill_and_reap, wait_child};
use crate::state::Lock;
use crate::tty::{self, Proxy, RawMode};

/// Signals `moat run` forwards to the sandbox.
const FORWARDED: [libc::c_int; 7] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

/// The started sandbox (0 until it runs the workload).
static SANDBOX_PID: AtomicI32 = AtomicI32::new(0);
/// The last signal received before the workload ran; delivered once it does.
static PENDING: AtomicI32 = AtomicI32::new(0);
/// The terminal's master while `run` keeps the container's terminal (-1: none).
static CONSOLE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn forward(sig: libc::c_int) {
    let console = CONSOLE.load(Ordering::SeqCst);
    if sig == libc::SIGWINCH && console >= 0 {
        // Our terminal changed size: so does the container's (the kernel then signals the
        // sandbox, the pty's foreground process, and the sentry tells the workload).
        // SAFETY: ioctl(2) is async-signal-safe; winsize lives on our stack.
        unsafe {
            let mut ws: libc::winsize = std::mem::zeroed();
            if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
                libc::ioctl(console, libc::TIOCSWINSZ, &ws);
            }
        }
        return;
    }
    let pid = SANDBOX_PID.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe; pid is our unreaped child.
        unsafe { libc::kill(pid, sig) };
    } else {
        PENDING.store(sig, Ordering::SeqCst);
    }
}

/// Installs the forwarding handlers. Signals that arrive before [`forward_to`] are kept.
fn install_forwarding() {
    for sig in FORWARDED {
        // SAFETY: a zeroed sigaction with a plain handler and SA_RESTART; `forward` only calls
        // async-signal-safe functions.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = forward as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// From now on signals go straight to `pid`; one that arrived earlier is sent now.
fn forward_to(pid: i32) {
    SANDBOX_PID.store(pid, Ordering::SeqCst);
    let sig = PENDING.swap(0, Ordering::SeqCst);
    if sig != 0 {
        // SAFETY: kill(2) on our unreaped child.
        unsafe { libc::kill(pid, sig) };
    }
}

pub fn run(ctx: &Ctx, args: &RunArgs) -> Result<i32> {
    if !args.detach {
        // Before create, so that a ^C during startup is neither lost nor fatal to us alone.
        install_forwarding();
    }
    let created = create::create(ctx, &args.create, args.detach)?;
    let (mut container, lock, pid) = (created.container, created.lock, created.pid);
    // process.terminal without -d: the container's terminal is a pty whose other end we copy
    // to and from our own stdio, as runc does.
    let proxy = created.console.map(|master| {
        tty::copy_winsize(0, master.as_raw_fd());
        CONSOLE.store(master.as_raw_fd(), Ordering::SeqCst);
        Proxy::new(master)
    });
    if let Err(e) = start::start_locked(&mut container) {
        kill_and_reap(pid);
        let _ = teardown(&container);
        return Err(e);
    }
    drop(lock);
    if args.detach {
        return Ok(0);
    }
    forward_to(pid);
    let code = match proxy {
        Some(p) => {
            let _raw = RawMode::enter(0);
            let copier = std::thread::spawn(move || copy_until_closed(p));
            let code = wait_child(pid);
            // What the workload wrote last is still in the pty.
            let deadline = std::time::Instant::now() + Duration::from_millis(500);
            while !copier.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            CONSOLE.store(-1, Ordering::SeqCst);
            code?
        }
        None => wait_child(pid)?,
    };
    SANDBOX_PID.store(0, Ordering::SeqCst);
    tracing::debug!(id = %container.state.id, code, "sandbox exited");
    if !args.keep {
        // Like `runc run`: the container is gone once it exits. It may already be deleted.
        if let Ok(_lock) = Lock::exclusive(&container.dir) {
            teardown(&container)?;
        }
    }
    Ok(code)
}

/// Copies between our stdio and the container's terminal until the terminal closes (every
/// holder of its slave, i.e. the sandbox, is gone).
fn copy_until_closed(mut p: Proxy) {
    loop {
        let mut pfds = p.pollfds();
        if !pfds.iter().any(|f| f.fd == p.master.as_raw_fd()) {
            return;
        }
        // SAFETY: poll on pollfds we own, for the length we pass.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, -1) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        for f in &pfds {
            p.ready(f);
        }
    }
}
