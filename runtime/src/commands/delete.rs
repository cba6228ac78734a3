//! `moat delete`: kill the sandbox if needed, wait until it is gone, remove the state.

use std::fs;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::cgroups;
use crate::cli::DeleteArgs;
use crate::commands::Ctx;
use crate::container_id;
use crate::error::{Error, Result};
use crate::hooks;
use crate::state::{self, Container, Lock, Status};

/// How long to wait for a killed sandbox to disappear.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

pub fn run(ctx: &Ctx, args: &DeleteArgs) -> Result<()> {
    container_id::validate(&args.id)?;
    let dir = state::container_dir(&ctx.root, &args.id);
    let not_exist = || {
        if args.force {
            Ok(())
        } else {
            Err(Error::NotExist {
                id: args.id.clone(),
            })
        }
    };
    if !dir.is_dir() {
        return not_exist();
    }
    let _lock = match Lock::exclusive(&dir) {
        Err(Error::NotExist { .. }) => return not_exist(),
        r => r?,
    };
    let c = match Container::load(&ctx.root, &args.id) {
        Ok(c) => c,
        // A directory without state: what a crashed create leaves. --force cleans it up.
        Err(Error::NotExist { .. }) if args.force => return remove_dir(&dir),
        Err(e) => return Err(e),
    };
    let status = c.status();
    if matches!(status, Status::Running | Status::Paused) && !args.force {
        return Err(Error::State(format!(
            "cannot delete container {} that is not stopped: {status}",
            args.id
        )));
    }
    teardown(&c)
}

/// Kills the sandbox, removes its cgroup, runs the poststop hooks and removes the state
/// directory. The caller holds the lock.
pub fn teardown(c: &Container) -> Result<()> {
    destroy(c)?;
    cgroups::destroy(&c.state.cgroup);
    if let Ok(spec) = c.spec() {
        if let Ok(st) = c.state_json() {
            hooks::run_warn(&spec, hooks::Kind::Poststop, &st);
        }
    }
    remove_dir(&c.dir)
}

/// Kills the sandbox (if it is still the live process we started) and waits until it is gone.
pub fn destroy(c: &Container) -> Result<()> {
    if c.state.pid <= 0 || !c.sandbox_alive() {
        return Ok(());
    }
    kill_and_wait(c.state.pid, c.state.sandbox_start_time)
}

fn kill_and_wait(pid: i32, start_time: u64) -> Result<()> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if pidfd >= 0 {
        // SAFETY: the fd was just returned by pidfd_open and is owned here.
        let pidfd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(pidfd) };
        use std::os::fd::AsRawFd;
        // The pidfd pins the process: check it is still ours before signalling through it.
        if !state::process_alive(pid, start_time) {
            return Ok(());
        }
        // SAFETY: pidfd_send_signal on our pidfd, no siginfo.
        let r = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                pidfd.as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<u8>(),
                0,
            )
        };
        if r != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(Error::io(format!("kill sandbox pid {pid}"), e));
            }
        }
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut pfd = libc::pollfd {
                fd: pidfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll on one pollfd we own.
            let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) };
            if n > 0 {
                return Ok(());
            }
            if n == 0 || left.is_zero() {
                return Err(Error::Other(format!(
                    "sandbox pid {pid} did not exit after SIGKILL"
                )));
            }
        }
    }
    // No pidfd support: signal and poll /proc.
    // SAFETY: kill(2) on a pid we checked just before (tiny reuse window accepted here).
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let deadline = Instant::now() + EXIT_TIMEOUT;
    while state::process_alive(pid, start_time) {
        if Instant::now() > deadline {
            return Err(Error::Other(format!(
                "sandbox pid {pid} did not exit after SIGKILL"
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Removes a container directory, retrying if a concurrent command recreated its lock file.
pub fn remove_dir(dir: &Path) -> Result<()> {
    let mut tries = 0;
    loop {
        match fs::remove_dir_all(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if tries < 5 && e.raw_os_error() == Some(libc::ENOTEMPTY) => tries += 1,
            Err(e) => return Err(Error::io(format!("remove {}", dir.display()), e)),
        }
    }
}
