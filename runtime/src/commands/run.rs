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

static SANDBOX_PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = SANDBOX_PID.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe; pid is our unreaped child.
        unsafe { libc::kill(pid, sig) };
    }
}

fn install_forwarding(pid: i32) {
    SANDBOX_PID.store(pid, Ordering::SeqCst);
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

pub fn run(ctx: &Ctx, args: &RunArgs) -> Result<i32> {
    let create::Created {
        mut container,
        lock,
        pid,
    } = create::create(ctx, &args.create, args.detach)?;
    if !args.detach {
        install_forwarding(pid);
    }
    if let Err(e) = start::start_locked(&mut container) {
        kill_and_reap(pid);
        let _ = remove_dir(&container.dir);
        return Err(e);
    }
    drop(lock);
    if args.detach {
        return Ok(0);
    }
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
