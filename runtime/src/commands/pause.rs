//! `moat pause` / `moat resume`: freeze and thaw every workload thread.
//!
//! The sentry stops running the workload's threads (they stay in the sentry) until resumed; the
//! sandbox itself keeps answering, so `ps`, `events` and `kill` work on a paused container. The
//! cgroup is not frozen: that would freeze the sentry too. As with runc, a created container can
//! be paused (its exec'd processes freeze) and is `created` again after resume.

use crate::commands::start::CONTROL_TIMEOUT;
use crate::commands::Ctx;
use crate::container_id;
use crate::control::{self, Request};
use crate::error::{Error, Result};
use crate::state::{self, Container, Lock, Status};

pub fn pause(ctx: &Ctx, id: &str) -> Result<()> {
    container_id::validate(id)?;
    let _lock = Lock::exclusive(&state::container_dir(&ctx.root, id))?;
    let mut c = Container::load(&ctx.root, id)?;
    // runc pauses a created container too: its exec'd processes freeze, and it is
    // `created` again after resume.
    if !matches!(c.status(), Status::Running | Status::Created) {
        return Err(Error::State("container not running".into()));
    }
    refuse_member(&c)?;
    control::call(&c.control_socket(), &Request::Pause, CONTROL_TIMEOUT)?;
    c.state.status = Status::Paused;
    c.save()?;
    tracing::debug!(id, "container paused");
    Ok(())
}

/// Pausing freezes the whole sentry, so it is the pod sandbox's to do, not one app
/// container's.
fn refuse_member(c: &Container) -> Result<()> {
    match &c.state.sandbox {
        Some(sb) => Err(Error::Other(format!(
            "a container in pod sandbox {sb} cannot be paused alone: pause the sandbox"
        ))),
        None => Ok(()),
    }
}

pub fn resume(ctx: &Ctx, id: &str) -> Result<()> {
    container_id::validate(id)?;
    let _lock = Lock::exclusive(&state::container_dir(&ctx.root, id))?;
    let mut c = Container::load(&ctx.root, id)?;
    if c.status() != Status::Paused {
        return Err(Error::State("container not paused".into()));
    }
    refuse_member(&c)?;
    control::call(&c.control_socket(), &Request::Resume, CONTROL_TIMEOUT)?;
    // Back to what it was: running, or created if it was paused before start.
    let now = control::call(&c.control_socket(), &Request::State, CONTROL_TIMEOUT)?;
    c.state.status = match now.status.as_deref() {
        Some("created") => Status::Created,
        _ => Status::Running,
    };
    c.save()?;
    tracing::debug!(id, "container resumed");
    Ok(())
}
