//! `moat create`: check the bundle, boot the sandbox, record the state. On any failure nothing
//! is left behind: no state directory, no process.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use std::os::fd::OwnedFd;

use crate::bundle::Bundle;
use crate::cgroups::{self, CgroupPaths};
use crate::cli::CreateArgs;
use crate::commands::Ctx;
use crate::container_id;
use crate::error::{Error, Result};
use crate::hooks;
use crate::spawn::{self, kill_and_reap};
use crate::state::{self, Container, Lock, State, Status};
use crate::time::rfc3339_nano;
use crate::tty;

/// A container `create` made. The lock is still held, so `run` can start it before anyone else
/// sees it.
#[derive(Debug)]
pub struct Created {
    pub container: Container,
    pub lock: Lock,
    /// Host pid of the sandbox process: our child.
    pub pid: i32,
    /// The terminal's master when `run` keeps the container's terminal itself.
    pub console: Option<OwnedFd>,
}

pub fn run(ctx: &Ctx, args: &CreateArgs) -> Result<()> {
    create(ctx, args, true).map(|_| ())
}

/// runc's checks on `process.terminal` and `--console-socket` (`detach`: create, or run -d).
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

/// Removes a half-created container (and its sandbox process) unless disarmed.
struct Cleanup {
    dir: PathBuf,
    child: Option<i32>,
    cgroup: CgroupPaths,
    armed: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.child {
            kill_and_reap(pid);
        }
        cgroups::destroy(&self.cgroup);
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            tracing::warn!("remove {}: {e}", self.dir.display());
        }
    }
}

/// Creates the container. `detach`: the caller will not wait for it (create, run --detach).
pub fn create(ctx: &Ctx, args: &CreateArgs, detach: bool) -> Result<Created> {
    container_id::validate(&args.id)?;
    let bundle = Bundle::load(&args.bundle)?;
    // A host that cannot run the chosen platform is told so before anything exists.
    if ctx.sentry_options().platform == sentry::platform::Kind::Systrap {
        sentry::platform::systrap::probe().map_err(|e| Error::Other(e.to_string()))?;
    }
    let plan = bundle.namespaces()?;
    bundle.check_namespace_paths()?;
    for what in &plan.ignored {
        tracing::warn!("{what}: not supported yet, ignored");
    }
    let process = bundle
        .spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::Config("process is missing".into()))?;
    check_terminal(
        process.terminal() == Some(true),
        detach,
        args.console_socket.is_some(),
    )?;
    let annotations: std::collections::BTreeMap<String, String> = bundle
        .spec
        .annotations()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    // A pod's app container joins its sandbox's sentry.
    let member_of = crate::pod::sandbox_for(ctx, &annotations, args.sandbox.as_deref())?;
    if member_of.is_some() && args.preserve_fds > 0 {
        return Err(Error::Other(
            "--preserve-fds is not supported for a container in a pod sandbox".into(),
        ));
    }
    let linux = bundle.spec.linux().as_ref();
    let layout = cgroups::Layout::detect()?;
    let mut cgroup = if layout.mode() == "none" {
        tracing::warn!("no cgroup hierarchy is mounted: resources are not limited");
        CgroupPaths::default()
    } else {
        cgroups::resolve(
            &layout,
            linux
                .and_then(|l| l.cgroups_path().as_ref())
                .map(|p| p.to_string_lossy())
                .as_deref(),
            &args.id,
            ctx.global.systemd_cgroup,
        )?
    };
    hooks::validate(&bundle.spec)?;
    let terminal = process.terminal() == Some(true);
    // runc's check, before anything is created.
    let (passed, n_listen) = passed_fds(true, args.preserve_fds)?;
    let pid_file = match &args.pid_file {
        Some(p) => Some(
            std::path::absolute(p)
                .map_err(|e| Error::io(format!("--pid-file {}", p.display()), e))?,
        ),
        None => None,
    };

    let dir = state::container_dir(&ctx.root, &args.id);
    let sock = state::control_socket_path(&dir)?;
    state::ensure_root(&ctx.root)?;
    match fs::DirBuilder::new().mode(0o711).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(Error::Exists(args.id.clone()))
        }
        Err(e) => return Err(Error::io(format!("create {}", dir.display()), e)),
    }
    let mut cleanup = Cleanup {
        dir: dir.clone(),
        child: None,
        cgroup: CgroupPaths::default(),
        armed: true,
    };
    let lock = Lock::exclusive(&dir)?;
    // The spec as created: exec, hooks and update read this copy, not the bundle.
    state::write_atomic(
        &dir.join(state::CONFIG_FILE),
        &serde_json::to_vec(&bundle.spec)
            .map_err(|e| Error::Other(format!("encode config: {e}")))?,
        0o600,
    )?;
    if !cgroup.is_empty() {
        cgroups::create(&mut cgroup, &layout)?;
        cleanup.cgroup = cgroup.clone();
        if let Some(r) = linux.and_then(|l| l.resources().as_ref()) {
            cgroups::apply(&cgroup, r)?;
        }
    }
    // The terminal: its master goes to the console socket (or stays with `run`).
    let mut console = None;
    let mut slave = None;
    if terminal {
        let pty = tty::open_pty()?;
        match &args.console_socket {
            Some(sock) => tty::send_console(sock, &pty.master)?,
            None => console = Some(pty.master),
        }
        slave = Some(pty.slave);
    }

    let mut container = Container {
        dir: dir.clone(),
        state: State {
            oci_version: oci_spec::runtime::version(),
            id: args.id.clone(),
            status: Status::Creating,
            pid: 0,
            bundle: bundle.dir.clone(),
            rootfs: bundle.rootfs.clone(),
            created: rfc3339_nano(SystemTime::now()),
            annotations: bundle
                .spec
                .annotations()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            sandbox_start_time: 0,
            moat_version: env!("CARGO_PKG_VERSION").to_string(),
            cgroup: cgroup.clone(),
            sandbox: member_of.as_ref().map(|s| s.state.id.clone()),
        },
    };
    container.save()?;

    if let Some(sandbox) = &member_of {
        let oom_score_adj = process.oom_score_adj();
        let holder = join_sandbox(&bundle, &args.id, sandbox, slave.as_ref(), |pids| {
            for &pid in pids {
                if !cgroup.is_empty() {
                    cgroups::add_pid(&cgroup, pid)?;
                }
                if let Some(v) = oom_score_adj {
                    set_oom_score_adj(pid, v);
                }
            }
            Ok(())
        })?;
        cleanup.child = Some(holder);
        drop(slave);
        container.state.pid = holder;
        container.state.sandbox_start_time = state::process_start_time(holder).unwrap_or(0);
        container.save()?;
        let st = container.state_json()?;
        for kind in [hooks::Kind::Prestart, hooks::Kind::CreateRuntime] {
            hooks::run(&bundle.spec, kind, &st)?;
        }
        hooks::run_in(
            &bundle.spec,
            hooks::Kind::CreateContainer,
            &st,
            sandbox.state.pid,
        )?;
        container.state.status = Status::Created;
        container.save()?;
        if let Some(p) = &pid_file {
            write_pid_file(p, holder)?;
        }
        cleanup.armed = false;
        tracing::debug!(id = %args.id, sandbox = %sandbox.state.id, holder, "container created in its pod sandbox");
        return Ok(Created {
            container,
            lock,
            pid: holder,
            console,
        });
    }

    let listener =
        UnixListener::bind(&sock).map_err(|e| Error::io(format!("bind {}", sock.display()), e))?;
    fs::set_permissions(&sock, fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::io(format!("chmod {}", sock.display()), e))?;
    let control_fd = listener.as_raw_fd();
    let globals = ctx.boot_global_args();
    let bundle_dir = bundle.dir.to_string_lossy().into_owned();
    let slave_fd = slave.as_ref().map(std::os::fd::AsRawFd::as_raw_fd);
    let mut keep = vec![control_fd];
    keep.extend(&passed);
    let preserve = passed.len().to_string();
    let listen = n_listen.to_string();
    let mut child = spawn::spawn_boot(
        plan.clone_flags,
        &keep,
        slave_fd,
        |ready_fd, gate_fd| {
            let mut v = vec!["moat".to_string()];
            v.extend(globals);
            v.extend([
                "boot".into(),
                "--id".into(),
                args.id.clone(),
                "--bundle".into(),
                bundle_dir,
                "--ready-fd".into(),
                ready_fd.to_string(),
                "--placement-fd".into(),
                gate_fd.to_string(),
                "--control-fd".into(),
                control_fd.to_string(),
                "--preserve-fds".into(),
                preserve,
                "--listen-fds".into(),
                listen,
            ]);
            v
        },
        |pid| {
            if cgroup.is_empty() {
                Ok(())
            } else {
                cgroups::add_pid(&cgroup, pid)
            }
        },
    )?;
    cleanup.child = Some(child.pid);
    drop(listener);
    drop(slave);

    container.state.pid = child.pid;
    container.state.sandbox_start_time = state::process_start_time(child.pid).unwrap_or(0);
    container.save()?;
    tracing::debug!(id = %args.id, pid = child.pid, "sandbox process started");

    child.wait_ready()?;
    // The sandbox's namespaces exist; the workload has not run.
    let st = container.state_json()?;
    for kind in [hooks::Kind::Prestart, hooks::Kind::CreateRuntime] {
        hooks::run(&bundle.spec, kind, &st)?;
    }
    // In the container's namespaces, as runc runs it.
    hooks::run_in(&bundle.spec, hooks::Kind::CreateContainer, &st, child.pid)?;
    container.state.status = Status::Created;
    container.save()?;
    if let Some(p) = &pid_file {
        write_pid_file(p, child.pid)?;
    }
    cleanup.armed = false;
    tracing::debug!(id = %args.id, pid = child.pid, "container created");
    Ok(Created {
        container,
        lock,
        pid: child.pid,
        console,
    })
}

/// Adds the bundle's container to the running pod sandbox's sentry and forks the holder, the
/// host process that stands for its init (see pod.rs). `place` puts the holder and the
/// init's stub in the container's cgroup (the stubs of every process the init forks are
/// born there, so the cgroup's CPU and memory figures are the container's own) before the
/// container starts. Returns the holder's pid.
fn join_sandbox(
    bundle: &Bundle,
    id: &str,
    sandbox: &Container,
    slave: Option<&OwnedFd>,
    place: impl FnOnce(&[i32]) -> Result<()>,
) -> Result<i32> {
    let stdio = match slave {
        Some(s) => [s.as_raw_fd(); 3],
        None => [0, 1, 2],
    };
    let (spec, fds) = crate::pod::encode(bundle, stdio)?;
    let mut raw = stdio.to_vec();
    raw.extend(crate::pod::raw(&fds));
    if raw.len() > crate::control::MAX_FDS {
        return Err(Error::Config(format!(
            "a container in a pod sandbox can have at most {} bind mounts",
            crate::control::MAX_FDS - 4
        )));
    }
    let req = crate::control::Request::AddContainer {
        container: id.to_string(),
        spec,
    };
    let (resp, stream) = crate::control::call_with_fds(
        &sandbox.control_socket(),
        &req,
        &raw,
        crate::commands::start::CONTROL_TIMEOUT,
    )
    .map_err(|e| match e {
        Error::Control(_) if !sandbox.sandbox_alive() => {
            Error::State(format!("pod sandbox {} is not running", sandbox.state.id))
        }
        e => e,
    })?;
    drop(fds);
    let holder = crate::commands::exec::spawn_holder(stream)?;
    let mut pids = vec![holder];
    match resp
        .stub_pid
        .filter(|&p| p > 0)
        .map(|p| (p, crate::pod::host_pid_in_sandbox(sandbox.state.pid, p)))
    {
        Some((_, Some(host))) => pids.push(host),
        Some((p, None)) => tracing::warn!(stub = p, "the init's stub is not found on the host"),
        None => {}
    }
    if let Err(e) = place(&pids) {
        // The holder's end kills the container in the sandbox.
        kill_and_reap(holder);
        return Err(e);
    }
    Ok(holder)
}

/// The container's `oomScoreAdj` for a host process of it (the holder, the init's stub).
/// Lowering the value needs CAP_SYS_RESOURCE: without it the host keeps the sandbox's value.
fn set_oom_score_adj(pid: i32, value: i32) {
    let path = format!("/proc/{pid}/oom_score_adj");
    if let Err(e) = fs::write(&path, value.to_string()) {
        tracing::warn!("{path}: {e}");
    }
}

/// Whether `fd` is one our caller gave us: open and not close-on-exec (every fd moat opens
/// itself is close-on-exec).
fn inherited(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only queries the descriptor.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    fl >= 0 && fl & libc::FD_CLOEXEC == 0
}

/// The fds passed on to the container's process, as runc picks them: first the socket
/// activation fds systemd gave us (`LISTEN_FDS` fds from 3 when `LISTEN_PID` is our pid; only
/// `listen` is true for create/run), then `preserve` more. Returns the fds and how many of them
/// are activation fds. Like runc, fails if a preserved fd is not open.
pub fn passed_fds(listen: bool, preserve: u32) -> Result<(Vec<RawFd>, u32)> {
    let mut n_listen = 0u32;
    if listen {
        let ours = std::env::var("LISTEN_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            == Some(std::process::id());
        if ours {
            n_listen = std::env::var("LISTEN_FDS")
                .ok()
                .and_then(|n| n.parse::<u32>().ok())
                .unwrap_or(0);
        }
    }
    let mut v = Vec::new();
    for i in 0..n_listen {
        let fd = 3 + i as RawFd;
        if inherited(fd) {
            v.push(fd);
        } else {
            tracing::warn!("LISTEN_FDS: fd {fd} is not open");
            n_listen = i;
            break;
        }
    }
    let base = 3 + n_listen as RawFd;
    for i in 0..preserve {
        let fd = base.saturating_add(i as RawFd);
        if !inherited(fd) {
            return Err(Error::Other(format!(
                "unable to stat preserved-fd {i} (of {preserve}): fd {fd} is not open"
            )));
        }
        v.push(fd);
    }
    Ok((v, n_listen))
}

/// Writes the pid (no newline, as runc does) atomically.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    state::write_atomic(path, pid.to_string().as_bytes(), 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_checks_like_runc() {
        assert!(check_terminal(false, true, false).is_ok());
        assert!(check_terminal(false, false, false).is_ok());
        assert!(check_terminal(true, true, true).is_ok());
        assert!(
            check_terminal(true, false, false).is_ok(),
            "run without -d keeps the terminal"
        );
        assert!(check_terminal(true, true, false)
            .unwrap_err()
            .to_string()
            .starts_with("cannot allocate tty"));
        assert!(check_terminal(false, true, true)
            .unwrap_err()
            .to_string()
            .starts_with("cannot use console socket"));
        assert!(check_terminal(true, false, true)
            .unwrap_err()
            .to_string()
            .starts_with("cannot use console socket"));
    }
}
