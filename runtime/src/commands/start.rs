//! `moat start`: release the workload's init in a created container.

use std::time::Duration;

use crate::commands::Ctx;
use crate::container_id;
use crate::control::{self, Request};
use crate::error::{Error, Result};
use crate::hooks;
use crate::state::{self, Container, Lock, Status};

/// How long a command waits for the sandbox to answer on its control socket.
pub const CONTROL_TIMEOUT: Duration = Duration::from_secs(60);

pub fn run(ctx: &Ctx, id: &str) -> Result<()> {
    container_id::validate(id)?;
    let _lock = Lock::exclusive(&state::container_dir(&ctx.root, id))?;
    let mut c = Container::load(&ctx.root, id)?;
    start_locked(&mut c)
}

/// Starts `c`, whose lock the caller holds.
pub fn start_locked(c: &mut Container) -> Result<()> {
    match c.status() {
        Status::Created => {}
        Status::Stopped => {
            return Err(Error::State(
                "cannot start a container that has stopped".into(),
            ))
        }
        Status::Running => {
            return Err(Error::State(
                "cannot start an already running container".into(),
            ))
        }
        Status::Paused => {
            return Err(Error::State(
                "cannot start a container in the paused state".into(),
            ))
        }
        Status::Creating => {
            return Err(Error::State(
                "cannot start a container that is being created".into(),
            ))
        }
    }
    let spec = c.spec().ok();
    if let Some(spec) = &spec {
        // Before the workload runs; a failure stops the container.
        let st = c.state_json()?;
        if let Err(e) = hooks::run_in(spec, hooks::Kind::StartContainer, &st, c.state.pid) {
            let _ = crate::commands::kill::signal_sandbox(c, libc::SIGKILL);
            return Err(e);
        }
    }
    if let Err(e) = control::call(
        &c.control_socket(),
        &Request::Start {
            container: c.member(),
        },
        CONTROL_TIMEOUT,
    ) {
        if !c.sandbox_alive() {
            return Err(Error::State(
                "cannot start a container that has stopped".into(),
            ));
        }
        return Err(e);
    }
    c.state.status = Status::Running;
    c.save()?;
    tracing::debug!(id = %c.state.id, "container started");
    if let Some(spec) = &spec {
        // The runtime spec: a failing poststart hook is a warning; the container runs on.
        hooks::run_warn(spec, hooks::Kind::Poststart, &c.state_json()?);
    }
    Ok(())
}
