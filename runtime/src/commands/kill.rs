//! `moat kill`: send a signal to the container's init.
//!
//! A running container gets the signal with kill(2) on the sandbox process; the sentry (pid 1 of
//! the sandbox) forwards it to the workload's init. A created container's init has not run yet,
//! so the sandbox is asked over the control socket, and acts as an init with default signal
//! dispositions would (a terminating signal stops the container).

use std::io;

use crate::cli::KillArgs;
use crate::commands::start::CONTROL_TIMEOUT;
use crate::commands::Ctx;
use crate::container_id;
use crate::control::{self, Request};
use crate::error::{Error, Result};
use crate::signal;
use crate::state::{self, Container, Lock, Status};

pub fn run(ctx: &Ctx, args: &KillArgs) -> Result<()> {
    let sig = signal::parse(&args.signal)?;
    container_id::validate(&args.id)?;
    let _lock = Lock::exclusive(&state::container_dir(&ctx.root, &args.id))?;
    let c = Container::load(&ctx.root, &args.id)?;
    match c.status() {
        Status::Stopped => Err(Error::State("container not running".into())),
        Status::Created if sig != libc::SIGKILL => {
            let req = Request::Kill {
                signal: sig,
                all: args.all,
            };
            match control::call(&c.control_socket(), &req, CONTROL_TIMEOUT) {
                Ok(_) => Ok(()),
                // The sandbox no longer listens (e.g. a start that died half way): signal it.
                Err(Error::Control(_)) => signal_sandbox(&c, sig),
                Err(e) => Err(e),
            }
        }
        _ => signal_sandbox(&c, sig),
    }
}

/// kill(2) on the sandbox process, after checking it is still the process we started.
pub fn signal_sandbox(c: &Container, sig: i32) -> Result<()> {
    if !c.sandbox_alive() {
        return Err(Error::State("container not running".into()));
    }
    // SAFETY: kill(2) with a pid we just checked is the sandbox (pid and start time).
    if unsafe { libc::kill(c.state.pid, sig) } != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            return Err(Error::State("container not running".into()));
        }
        return Err(Error::io(
            format!("send {} to pid {}", signal::name(sig), c.state.pid),
            e,
        ));
    }
    tracing::debug!(id = %c.state.id, sig, "signal sent");
    Ok(())
}
