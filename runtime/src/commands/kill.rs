//! `moat kill`: send a signal to the container's init (`--all`: to every workload process).
//!
//! The signal goes over the control socket; the sentry delivers it to the workload's init (or,
//! with `--all`, to every workload process). SIGKILL instead kills the sandbox process itself,
//! which takes the whole workload with it, as SIGKILL to runc's init (or to all) does. A created
//! container's init has not run yet: the sandbox acts as an init with default signal
//! dispositions would (a terminating signal stops the container). If the control socket does
//! not answer, the signal goes to the sandbox process with kill(2), and the sentry forwards it.

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
    // runc passes a number through as it is: 0 only checks, one past the last signal is
    // the kernel's EINVAL.
    let number = args
        .signal
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|&n| n == 0 || n > signal::MAX_SIGNAL as u32);
    let sig = match number {
        Some(_) => 0,
        None => signal::parse(&args.signal)?,
    };
    container_id::validate(&args.id)?;
    let _lock = Lock::exclusive(&state::container_dir(&ctx.root, &args.id))?;
    let c = Container::load(&ctx.root, &args.id)?;
    match c.status() {
        Status::Stopped => Err(Error::State("container not running".into())),
        _ if number.is_some_and(|n| n > 0) => Err(Error::Other(
            "unable to signal init: invalid argument".into(),
        )),
        _ if sig == 0 => Ok(()),
        _ if sig == libc::SIGKILL => signal_sandbox(&c, sig),
        _ => {
            let req = Request::Kill {
                signal: sig,
                all: args.all,
                container: c.member(),
            };
            match control::call(&c.control_socket(), &req, CONTROL_TIMEOUT) {
                Ok(_) => Ok(()),
                // The sandbox no longer listens (e.g. a start that died half way): signal it.
                Err(Error::Control(_)) => signal_sandbox(&c, sig),
                Err(e) => Err(e),
            }
        }
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
