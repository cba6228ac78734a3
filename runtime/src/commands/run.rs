//! `moat run`: create + start, then wait for the sandbox and exit with the workload's status.
//! Signals sent to `moat run` are forwarded to the sandbox, whose sentry delivers them to the
//! workload's init.

use std::sync::atomic::{AtomicI32, Ordering};

use crate::cli::RunArgs;
use crate::commands::delete::remove_dir;
use crate::commands::{create, start, Ctx};
use crate::error::Result;
use crate::spawn::{kill_and_reap, wait_child};
use crate::state::Lock;

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

extern "C" fn forward(sig: libc::c_int) {
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
    if let Err(e) = start::start_locked(&mut container) {
        kill_and_reap(pid);
        let _ = remove_dir(&container.dir);
        return Err(e);
    }
    drop(lock);
    if args.detach {
        return Ok(0);
    }
    forward_to(pid);
    let code = wait_child(pid)?;
    SANDBOX_PID.store(0, Ordering::SeqCst);
    tracing::debug!(id = %container.state.id, code, "sandbox exited");
    if !args.keep {
        // Like `runc run`: the container is gone once it exits. It may already be deleted.
        if let Ok(_lock) = Lock::exclusive(&container.dir) {
            remove_dir(&container.dir)?;
        }
    }
    Ok(code)
}
