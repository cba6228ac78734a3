//! The task service (containerd.task.v2.Task): what containerd asks of a shim for each
//! container of the pod (or the one container) it serves, carried out with the moat CLI.
//!
//! One `Service` serves every container whose shim this is. The state is one map behind a
//! mutex that is never held while a moat command runs; a condition variable wakes `Wait`
//! calls when a process exits.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use containerd_shim::api::{
    CloseIORequest, ConnectRequest, ConnectResponse, CreateTaskRequest, CreateTaskResponse,
    DeleteRequest, DeleteResponse, Empty, ExecProcessRequest, KillRequest, PauseRequest,
    PidsRequest, PidsResponse, ResizePtyRequest, ResumeRequest, ShutdownRequest, StartRequest,
    StartResponse, StateRequest, StateResponse, StatsRequest, StatsResponse, Status,
    UpdateTaskRequest, WaitRequest, WaitResponse,
};
use containerd_shim::protos::events::task::{
    TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskIO, TaskOOM, TaskPaused,
    TaskResumed, TaskStart,
};
use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim::protos::protobuf::MessageField;
use containerd_shim::protos::topics::{
    TASK_CREATE_EVENT_TOPIC, TASK_DELETE_EVENT_TOPIC, TASK_EXEC_ADDED_EVENT_TOPIC,
    TASK_EXEC_STARTED_EVENT_TOPIC, TASK_EXIT_EVENT_TOPIC, TASK_OOM_EVENT_TOPIC,
    TASK_PAUSED_EVENT_TOPIC, TASK_RESUMED_EVENT_TOPIC, TASK_START_EVENT_TOPIC,
};
use containerd_shim::protos::types::task::ProcessInfo;
use containerd_shim::publisher::RemotePublisher;
use containerd_shim::{ExitSignal, Task, TtrpcContext, TtrpcResult};

use crate::annotations::Placement;
use crate::cgroup::{self, Cgroup};
use crate::error::{Error, Result};
use crate::events::Events;
use crate::exits;
use crate::io::{self, ConsoleSocket, ProcessIo, StdioPaths};
use crate::moat::{read_pid, Moat};
use crate::mount;
use crate::options::ShimOptions;

/// The shim's resolved options, kept in the bundle for `containerd-shim-moat-v1 delete`, which
/// runs after a shim died and must reach the same moat root.
pub const STORED_OPTIONS: &str = "moat-shim-options.json";
const CONSOLE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `Delete` of a created container waits for its sandbox to be reaped.
const DELETE_WAIT: Duration = Duration::from_secs(20);
const OOM_POLL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Created,
    Running,
    Paused,
    Stopped,
}

struct Proc {
    /// The host pid standing for the process (0 until an exec is started).
    pid: u32,
    state: State,
    stdio: StdioPaths,
    /// Exit status (128+N for signal N) and time.
    exit: Option<(u32, Timestamp)>,
    io: Option<ProcessIo>,
    /// When the moat command that made the pid started: exits reaped before are not this one's.
    since: Instant,
    /// The exec's OCI process (JSON), until it is started.
    exec_spec: Option<Vec<u8>>,
    /// `Start` is running: an exit seen meanwhile is published after TaskStart.
    starting: bool,
    exit_deferred: bool,
}

impl Proc {
    fn new(pid: u32, stdio: StdioPaths, since: Instant) -> Proc {
        Proc {
            pid,
            state: State::Created,
            stdio,
            exit: None,
            io: None,
            since,
            exec_spec: None,
            starting: false,
            exit_deferred: false,
        }
    }

    fn status(&self) -> Status {
        match self.state {
            State::Created => Status::CREATED,
            State::Running => Status::RUNNING,
            State::Paused => Status::PAUSED,
            State::Stopped => Status::STOPPED,
        }
    }
}

struct Container {
    id: String,
    bundle: PathBuf,
    moat: Moat,
    placement: Placement,
    cgroup: Option<Cgroup>,
    oom_kills: u64,
    rootfs_mounted: bool,
    init: Proc,
    execs: HashMap<String, Proc>,
}

impl Container {
    fn process(&self, exec_id: &str) -> Result<&Proc> {
        if exec_id.is_empty() {
            return Ok(&self.init);
        }
        self.execs.get(exec_id).ok_or_else(|| {
            Error::NotFound(format!("exec {exec_id} not found in container {}", self.id))
        })
    }

    fn process_mut(&mut self, exec_id: &str) -> Result<&mut Proc> {
        if exec_id.is_empty() {
            return Ok(&mut self.init);
        }
        let id = self.id.clone();
        self.execs
            .get_mut(exec_id)
            .ok_or_else(|| Error::NotFound(format!("exec {exec_id} not found in container {id}")))
    }
}

#[derive(Default)]
struct Tasks {
    containers: HashMap<String, Container>,
}

impl Tasks {
    fn get(&self, id: &str) -> Result<&Container> {
        self.containers
            .get(id)
            .ok_or_else(|| Error::NotFound(format!("container {id} not found in this shim")))
    }

    fn get_mut(&mut self, id: &str) -> Result<&mut Container> {
        self.containers
            .get_mut(id)
            .ok_or_else(|| Error::NotFound(format!("container {id} not found in this shim")))
    }
}

struct Shared {
    namespace: String,
    tasks: Mutex<Tasks>,
    changed: Condvar,
    events: Events,
    exit: Arc<ExitSignal>,
}

#[derive(Clone)]
pub struct Service {
    s: Arc<Shared>,
}

fn now() -> Timestamp {
    containerd_shim::util::timestamp().unwrap_or_default()
}

fn read_spec(bundle: &Path) -> Result<serde_json::Value> {
    let p = bundle.join("config.json");
    let text = std::fs::read_to_string(&p).map_err(Error::io(format!("read {}", p.display())))?;
    serde_json::from_str(&text).map_err(|e| Error::InvalidArgument(format!("{}: {e}", p.display())))
}

/// The container's cgroup: the sandbox process's, else the spec's cgroupsPath.
fn find_cgroup(pid: u32, spec_path: Option<&str>) -> Option<Cgroup> {
    cgroup::of_pid(pid)
        .or_else(|e| match spec_path {
            Some(p) => cgroup::of_cgroups_path(p),
            None => Err(e),
        })
        .map_err(|e| log::warn!("cgroup of pid {pid}: {e}"))
        .ok()
}

/// moat's words for a process that is gone, which containerd expects as NotFound (runc's
/// shim does the same with runc's).
fn already_finished(e: Error) -> Error {
    match &e {
        Error::Moat { msg, .. }
            if msg.contains("not running")
                || msg.contains("does not exist")
                || msg.contains("no such process") =>
        {
            Error::NotFound(format!("process already finished: {msg}"))
        }
        _ => e,
    }
}

impl Service {
    pub fn new(namespace: &str, publisher: RemotePublisher, exit: Arc<ExitSignal>) -> Service {
        let svc = Service {
            s: Arc::new(Shared {
                namespace: namespace.to_string(),
                tasks: Mutex::new(Tasks::default()),
                changed: Condvar::new(),
                events: Events::start(publisher, namespace.to_string()),
                exit,
            }),
        };
        let w = svc.clone();
        if let Err(e) = exits::start_watcher(move |pid| w.on_reaped(pid)) {
            log::error!("cannot watch exits: {e}");
        }
        let o = svc.clone();
        let spawned = std::thread::Builder::new()
            .name("oom".into())
            .spawn(move || loop {
                std::thread::sleep(OOM_POLL);
                o.check_oom();
            });
        if let Err(e) = spawned {
            log::error!("cannot watch for OOM kills: {e}");
        }
        svc
    }

    fn lock(&self) -> MutexGuard<'_, Tasks> {
        // The maps stay consistent if a holder panicked (no unwinding half-way through an
        // update here): keep serving.
        self.s.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A child was reaped: if it is one of ours, record its exit.
    fn on_reaped(&self, pid: i32) {
        let found = {
            let t = self.lock();
            t.containers.values().find_map(|c| {
                let hit = |p: &Proc| p.pid as i32 == pid && p.pid != 0 && p.exit.is_none();
                if hit(&c.init) {
                    return Some((c.id.clone(), String::new(), c.init.since));
                }
                c.execs
                    .iter()
                    .find(|(_, p)| hit(p))
                    .map(|(e, p)| (c.id.clone(), e.clone(), p.since))
            })
        };
        if let Some((cid, eid, since)) = found {
            if let Some(code) = exits::take(pid, since) {
                self.exited(&cid, &eid, code);
            }
        }
    }

    /// Records that process (cid, eid) exited with `code`: its output is drained and its
    /// fifos closed, `Wait` returns, TaskExit is published.
    fn exited(&self, cid: &str, eid: &str, code: i32) {
        let io = {
            let mut t = self.lock();
            match t.get_mut(cid).and_then(|c| c.process_mut(eid)) {
                Ok(p) => p.io.take(),
                Err(_) => return,
            }
        };
        if let Some(io) = io {
            io.finish();
        }
        let mut t = self.lock();
        let Ok(p) = t.get_mut(cid).and_then(|c| c.process_mut(eid)) else {
            return;
        };
        let status = u32::try_from(code).unwrap_or(255);
        p.exit = Some((status, now()));
        p.state = State::Stopped;
        log::info!("{cid} {eid}: pid {} exited with {status}", p.pid);
        if p.starting {
            p.exit_deferred = true;
        } else {
            let ev = exit_event(cid, eid, p);
            self.s.events.send(TASK_EXIT_EVENT_TOPIC, ev);
        }
        self.s.changed.notify_all();
    }

    fn check_oom(&self) {
        let mut t = self.lock();
        for c in t.containers.values_mut() {
            if c.init.exit.is_some() {
                continue;
            }
            let Some(n) = c.cgroup.as_ref().and_then(cgroup::oom_kills) else {
                continue;
            };
            if n > c.oom_kills {
                c.oom_kills = n;
                log::info!("{}: OOM kill in its cgroup", c.id);
                self.s.events.send(
                    TASK_OOM_EVENT_TOPIC,
                    TaskOOM {
                        container_id: c.id.clone(),
                        ..Default::default()
                    },
                );
            }
        }
    }

    fn do_create(&self, req: CreateTaskRequest) -> Result<CreateTaskResponse> {
        let id = req.id.clone();
        if id.is_empty() {
            return Err(Error::InvalidArgument("container id is empty".into()));
        }
        if self.lock().containers.contains_key(&id) {
            return Err(Error::AlreadyExists(format!(
                "container {id} already exists"
            )));
        }
        if !req.checkpoint.is_empty() {
            return Err(Error::Unimplemented(
                "moat cannot restore a checkpoint yet".into(),
            ));
        }
        let bundle = PathBuf::from(&req.bundle);
        let opts = match req.options.as_ref() {
            Some(any) => ShimOptions::from_any(&any.type_url, &any.value)?,
            None => ShimOptions::default(),
        };
        if opts.debug {
            log::set_max_level(log::LevelFilter::Debug);
        }
        if opts.strace {
            log::warn!("{id}: option strace is ignored: moat has no syscall trace yet");
        }
        let spec = read_spec(&bundle)?;
        let placement = Placement::from_annotations(&id, spec["annotations"].as_object());
        if let Some(sb) = placement.sandbox() {
            let t = self.lock();
            match t.containers.get(sb) {
                Some(c) if c.init.exit.is_none() => {}
                Some(_) => {
                    return Err(Error::FailedPrecondition(format!(
                        "container {id}: its pod sandbox {sb} has stopped"
                    )))
                }
                None => {
                    return Err(Error::NotFound(format!(
                        "container {id}: pod sandbox {sb} is not served by this shim (unknown \
                         sandbox id, or the sandbox is gone)"
                    )))
                }
            }
        }
        let cgroups_path = spec["linux"]["cgroupsPath"].as_str().map(str::to_string);
        let moat = Moat::new(&opts, &self.s.namespace, &id, &bundle);
        let stored = bundle.join(STORED_OPTIONS);
        serde_json::to_vec(&opts)
            .map_err(|e| Error::Other(e.to_string()))
            .and_then(|v| {
                std::fs::write(&stored, v).map_err(Error::io(format!("write {}", stored.display())))
            })?;
        std::fs::create_dir_all(moat.root())
            .map_err(Error::io(format!("mkdir {}", moat.root().display())))?;

        let rootfs = bundle.join("rootfs");
        let mut mounted = false;
        let cleanup = |mounted: bool, delete: bool| {
            if delete {
                if let Err(e) = moat.delete(&id, true) {
                    log::warn!("{id}: cleanup after failed create: {e}");
                }
            }
            if mounted {
                mount::unmount_all(&rootfs);
            }
        };
        if !req.rootfs.is_empty() {
            std::fs::create_dir_all(&rootfs)
                .map_err(Error::io(format!("mkdir {}", rootfs.display())))?;
            for m in &req.rootfs {
                if let Err(e) = mount::mount_one(&m.type_, &m.source, &m.options, &rootfs) {
                    cleanup(mounted, false);
                    return Err(e);
                }
                mounted = true;
            }
        }
        let stdio = StdioPaths {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
        };
        let pid_file = bundle.join("init.pid");
        let since = Instant::now();
        let launch = placement.launch();
        let made = (|| -> Result<(ProcessIo, u32)> {
            let pio = if req.terminal {
                let sock = ConsoleSocket::new()?;
                moat.create(
                    &id,
                    &bundle,
                    &pid_file,
                    Some(sock.path()),
                    &launch,
                    io::null_stdio()?,
                )?;
                let master = sock.receive(CONSOLE_TIMEOUT)?;
                io::open_console(master, &stdio)?
            } else {
                let (pio, child) = io::open_plain(&stdio)?;
                moat.create(&id, &bundle, &pid_file, None, &launch, child)?;
                pio
            };
            Ok((pio, read_pid(&pid_file)?))
        })();
        let (pio, pid) = match made {
            Ok(v) => v,
            Err(e) => {
                // `moat create` leaves nothing behind when it fails; a failure after it
                // (console, pid file) leaves a created container to remove.
                let created = !matches!(e, Error::Moat { ref cmd, .. } if cmd == "create");
                cleanup(mounted, created);
                return Err(e);
            }
        };
        let cg = find_cgroup(pid, cgroups_path.as_deref());
        let oom_kills = cg.as_ref().and_then(cgroup::oom_kills).unwrap_or(0);
        let mut init = Proc::new(pid, stdio.clone(), since);
        init.io = Some(pio);
        {
            let mut t = self.lock();
            t.containers.insert(
                id.clone(),
                Container {
                    id: id.clone(),
                    bundle: bundle.clone(),
                    moat,
                    placement,
                    cgroup: cg,
                    oom_kills,
                    rootfs_mounted: mounted,
                    init,
                    execs: HashMap::new(),
                },
            );
            self.s.events.send(
                TASK_CREATE_EVENT_TOPIC,
                TaskCreate {
                    container_id: id.clone(),
                    bundle: req.bundle.clone(),
                    rootfs: req.rootfs.clone(),
                    io: MessageField::some(TaskIO {
                        stdin: stdio.stdin,
                        stdout: stdio.stdout,
                        stderr: stdio.stderr,
                        terminal: stdio.terminal,
                        ..Default::default()
                    }),
                    checkpoint: req.checkpoint.clone(),
                    pid,
                    ..Default::default()
                },
            );
        }
        if let Some(code) = exits::take(pid as i32, since) {
            self.exited(&id, "", code);
        }
        log::info!("{id}: created, sandbox pid {pid}");
        Ok(CreateTaskResponse {
            pid,
            ..Default::default()
        })
    }

    fn do_start(&self, req: StartRequest) -> Result<StartResponse> {
        if req.exec_id.is_empty() {
            self.start_init(&req.id)
        } else {
            self.start_exec(&req.id, &req.exec_id)
        }
    }

    fn start_init(&self, id: &str) -> Result<StartResponse> {
        let moat = {
            let mut t = self.lock();
            let c = t.get_mut(id)?;
            let p = &mut c.init;
            if p.exit.is_some() {
                return Err(Error::FailedPrecondition(
                    "cannot start a container that has stopped".into(),
                ));
            }
            if p.state != State::Created || p.starting {
                return Err(Error::FailedPrecondition(format!(
                    "cannot start container {id}: it is not created"
                )));
            }
            p.starting = true;
            c.moat.clone()
        };
        let r = moat.start(id);
        let mut t = self.lock();
        let c = t.get_mut(id)?;
        let p = &mut c.init;
        p.starting = false;
        if r.is_ok() {
            if p.exit.is_none() {
                p.state = State::Running;
            }
            self.s.events.send(
                TASK_START_EVENT_TOPIC,
                TaskStart {
                    container_id: id.to_string(),
                    pid: p.pid,
                    ..Default::default()
                },
            );
        }
        if std::mem::take(&mut p.exit_deferred) {
            self.s
                .events
                .send(TASK_EXIT_EVENT_TOPIC, exit_event(id, "", p));
        }
        r?;
        Ok(StartResponse {
            pid: p.pid,
            ..Default::default()
        })
    }

    fn start_exec(&self, id: &str, eid: &str) -> Result<StartResponse> {
        let (moat, bundle, spec, stdio) = {
            let mut t = self.lock();
            let c = t.get_mut(id)?;
            if c.init.exit.is_some() {
                return Err(Error::FailedPrecondition(format!(
                    "cannot start exec {eid}: container {id} has stopped"
                )));
            }
            let (moat, bundle) = (c.moat.clone(), c.bundle.clone());
            let p = c.process_mut(eid)?;
            let Some(spec) = p.exec_spec.take() else {
                return Err(Error::FailedPrecondition(format!(
                    "exec {eid} was already started"
                )));
            };
            (moat, bundle, spec, p.stdio.clone())
        };
        // Both files live in a private directory in the bundle, removed when done.
        let dir = tempfile::Builder::new()
            .prefix(".exec-")
            .tempdir_in(&bundle)
            .map_err(Error::io(format!("temp dir in {}", bundle.display())))?;
        let process = dir.path().join("process.json");
        let pid_file = dir.path().join("pid");
        std::fs::write(&process, &spec)
            .map_err(Error::io(format!("write {}", process.display())))?;
        let since = Instant::now();
        let made = (|| -> Result<(ProcessIo, u32)> {
            let pio = if stdio.terminal {
                let sock = ConsoleSocket::new()?;
                moat.exec(
                    id,
                    &process,
                    &pid_file,
                    Some(sock.path()),
                    io::null_stdio()?,
                )?;
                let master = sock.receive(CONSOLE_TIMEOUT)?;
                io::open_console(master, &stdio)?
            } else {
                let (pio, child) = io::open_plain(&stdio)?;
                moat.exec(id, &process, &pid_file, None, child)?;
                pio
            };
            Ok((pio, read_pid(&pid_file)?))
        })();
        let (pio, pid) = match made {
            Ok(v) => v,
            Err(e) => {
                // The exec never ran: containerd deletes it next; a Wait sees status 255.
                let mut t = self.lock();
                if let Ok(p) = t.get_mut(id).and_then(|c| c.process_mut(eid)) {
                    p.exit = Some((255, now()));
                    p.state = State::Stopped;
                }
                self.s.changed.notify_all();
                return Err(e);
            }
        };
        {
            let mut t = self.lock();
            let p = t.get_mut(id)?.process_mut(eid)?;
            p.pid = pid;
            p.since = since;
            p.state = State::Running;
            p.io = Some(pio);
            self.s.events.send(
                TASK_EXEC_STARTED_EVENT_TOPIC,
                TaskExecStarted {
                    container_id: id.to_string(),
                    exec_id: eid.to_string(),
                    pid,
                    ..Default::default()
                },
            );
        }
        if let Some(code) = exits::take(pid as i32, since) {
            self.exited(id, eid, code);
        }
        Ok(StartResponse {
            pid,
            ..Default::default()
        })
    }

    fn do_delete(&self, req: DeleteRequest) -> Result<DeleteResponse> {
        let (id, eid) = (req.id.as_str(), req.exec_id.as_str());
        if !eid.is_empty() {
            let mut t = self.lock();
            let c = t.get_mut(id)?;
            let p = c.process(eid)?;
            if p.exit.is_none() && p.exec_spec.is_none() {
                return Err(Error::FailedPrecondition(format!(
                    "cannot delete exec {eid}: it is running"
                )));
            }
            let p = c
                .execs
                .remove(eid)
                .ok_or_else(|| Error::NotFound(eid.to_string()))?;
            let (status, at) = p.exit.clone().unwrap_or((0, now()));
            return Ok(DeleteResponse {
                pid: p.pid,
                exit_status: status,
                exited_at: MessageField::some(at),
                ..Default::default()
            });
        }
        let (moat, state, exited) = {
            let t = self.lock();
            let c = t.get(id)?;
            (c.moat.clone(), c.init.state, c.init.exit.is_some())
        };
        if !exited && (state == State::Running || state == State::Paused) {
            return Err(Error::FailedPrecondition(format!(
                "cannot delete container {id}: it is {}",
                if state == State::Running {
                    "running"
                } else {
                    "paused"
                }
            )));
        }
        // A created (never started) container, or a stopped one: moat removes the sandbox
        // and its state; a created one's sandbox exit is then reaped.
        if let Err(e) = moat.delete(id, true) {
            log::warn!("{id}: moat delete: {e}");
        }
        if !exited {
            let t = self.lock();
            let deadline = Instant::now() + DELETE_WAIT;
            let mut t = t;
            while t.get(id).map(|c| c.init.exit.is_none()).unwrap_or(false) {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::Other(format!(
                        "container {id}: its sandbox did not exit after moat delete"
                    )));
                }
                t = self
                    .s
                    .changed
                    .wait_timeout(t, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        let c = {
            let mut t = self.lock();
            t.containers
                .remove(id)
                .ok_or_else(|| Error::NotFound(format!("container {id} not found in this shim")))?
        };
        if c.rootfs_mounted {
            mount::unmount_all(&c.bundle.join("rootfs"));
        }
        let _ = std::fs::remove_file(c.bundle.join("init.pid"));
        let (status, at) = c.init.exit.clone().unwrap_or((0, now()));
        self.s.events.send(
            TASK_DELETE_EVENT_TOPIC,
            TaskDelete {
                container_id: id.to_string(),
                pid: c.init.pid,
                exit_status: status,
                exited_at: MessageField::some(at.clone()),
                id: id.to_string(),
                ..Default::default()
            },
        );
        self.s.changed.notify_all();
        log::info!("{id}: deleted ({:?})", c.placement);
        Ok(DeleteResponse {
            pid: c.init.pid,
            exit_status: status,
            exited_at: MessageField::some(at),
            ..Default::default()
        })
    }

    fn do_kill(&self, req: KillRequest) -> Result<()> {
        let (id, eid) = (req.id.as_str(), req.exec_id.as_str());
        let (moat, pid, exited, started) = {
            let t = self.lock();
            let c = t.get(id)?;
            let p = c.process(eid)?;
            (
                c.moat.clone(),
                p.pid,
                p.exit.is_some(),
                p.exec_spec.is_none(),
            )
        };
        if eid.is_empty() {
            if exited && !req.all {
                return Err(Error::NotFound(format!(
                    "process already finished: container {id} has stopped"
                )));
            }
            return moat.kill(id, req.signal, req.all).map_err(already_finished);
        }
        if exited || !started || pid == 0 {
            return Err(Error::NotFound(format!(
                "process already finished: exec {eid} is not running"
            )));
        }
        let sig = i32::try_from(req.signal)
            .ok()
            .filter(|s| (1..=64).contains(s))
            .ok_or_else(|| Error::InvalidArgument(format!("invalid signal {}", req.signal)))?;
        // The exec's host process forwards the signal into the sandbox. libc, not nix:
        // nix's Signal has no real-time signals.
        // SAFETY: kill(2) with a pid this shim reaps (not yet reaped, as exit is None) and a
        // checked signal number; no memory is involved.
        if unsafe { libc::kill(pid as i32, sig) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ESRCH) {
                return Err(Error::NotFound(format!(
                    "process already finished: exec {eid}"
                )));
            }
            return Err(Error::io(format!("kill exec {eid}"))(e));
        }
        Ok(())
    }

    fn do_exec(&self, req: ExecProcessRequest) -> Result<()> {
        let (id, eid) = (req.id.as_str(), req.exec_id.as_str());
        if eid.is_empty() {
            return Err(Error::InvalidArgument("exec id is empty".into()));
        }
        let spec = req
            .spec
            .as_ref()
            .map(|a| a.value.clone())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::InvalidArgument(format!("exec {eid}: no process spec")))?;
        // The spec is OCI process JSON (typeurl's JSON encoding of specs.Process).
        serde_json::from_slice::<serde_json::Value>(&spec)
            .map_err(|e| Error::InvalidArgument(format!("exec {eid}: process spec: {e}")))?;
        let mut t = self.lock();
        let c = t.get_mut(id)?;
        if c.init.exit.is_some() {
            return Err(Error::FailedPrecondition(format!(
                "cannot exec in container {id}: it has stopped"
            )));
        }
        if c.execs.contains_key(eid) {
            return Err(Error::AlreadyExists(format!(
                "exec {eid} already exists in {id}"
            )));
        }
        let mut p = Proc::new(
            0,
            StdioPaths {
                stdin: req.stdin.clone(),
                stdout: req.stdout.clone(),
                stderr: req.stderr.clone(),
                terminal: req.terminal,
            },
            Instant::now(),
        );
        p.exec_spec = Some(spec);
        c.execs.insert(eid.to_string(), p);
        self.s.events.send(
            TASK_EXEC_ADDED_EVENT_TOPIC,
            TaskExecAdded {
                container_id: id.to_string(),
                exec_id: eid.to_string(),
                ..Default::default()
            },
        );
        Ok(())
    }

    fn set_paused(&self, id: &str, pause: bool) -> Result<()> {
        let moat = {
            let t = self.lock();
            let c = t.get(id)?;
            if c.init.exit.is_some() {
                return Err(Error::FailedPrecondition(format!(
                    "container {id} has stopped"
                )));
            }
            c.moat.clone()
        };
        if pause {
            moat.pause(id)?;
        } else {
            moat.resume(id)?;
        }
        let mut t = self.lock();
        let c = t.get_mut(id)?;
        if c.init.exit.is_none() {
            c.init.state = match (pause, c.init.state) {
                (true, State::Running) => State::Paused,
                (false, State::Paused) => State::Running,
                (_, s) => s,
            };
        }
        if pause {
            self.s.events.send(
                TASK_PAUSED_EVENT_TOPIC,
                TaskPaused {
                    container_id: id.to_string(),
                    ..Default::default()
                },
            );
        } else {
            self.s.events.send(
                TASK_RESUMED_EVENT_TOPIC,
                TaskResumed {
                    container_id: id.to_string(),
                    ..Default::default()
                },
            );
        }
        Ok(())
    }

    fn do_state(&self, req: &StateRequest) -> Result<StateResponse> {
        let t = self.lock();
        let c = t.get(&req.id)?;
        let p = c.process(&req.exec_id)?;
        let (exit_status, exited_at) = match &p.exit {
            Some((s, at)) => (*s, MessageField::some(at.clone())),
            None => (0, MessageField::none()),
        };
        Ok(StateResponse {
            id: if req.exec_id.is_empty() {
                req.id.clone()
            } else {
                req.exec_id.clone()
            },
            bundle: c.bundle.display().to_string(),
            pid: p.pid,
            status: p.status().into(),
            stdin: p.stdio.stdin.clone(),
            stdout: p.stdio.stdout.clone(),
            stderr: p.stdio.stderr.clone(),
            terminal: p.stdio.terminal,
            exit_status,
            exited_at,
            exec_id: req.exec_id.clone(),
            ..Default::default()
        })
    }

    fn do_wait(&self, req: &WaitRequest) -> Result<WaitResponse> {
        let mut t = self.lock();
        loop {
            let p = t.get(&req.id)?.process(&req.exec_id)?;
            if let Some((status, at)) = &p.exit {
                return Ok(WaitResponse {
                    exit_status: *status,
                    exited_at: MessageField::some(at.clone()),
                    ..Default::default()
                });
            }
            t = self.s.changed.wait(t).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn do_stats(&self, req: &StatsRequest) -> Result<StatsResponse> {
        let (cg, pid) = {
            let t = self.lock();
            let c = t.get(&req.id)?;
            (c.cgroup.clone(), c.init.pid)
        };
        let cg = match cg {
            Some(cg) => cg,
            None => find_cgroup(pid, None)
                .ok_or_else(|| Error::NotFound(format!("container {}: no cgroup found", req.id)))?,
        };
        let any = cgroup::metrics_any(&cg).map_err(|e| Error::Other(e.to_string()))?;
        Ok(StatsResponse {
            stats: MessageField::some(any),
            ..Default::default()
        })
    }
}

fn exit_event(cid: &str, eid: &str, p: &Proc) -> TaskExit {
    let (status, at) = p.exit.clone().unwrap_or((0, now()));
    TaskExit {
        container_id: cid.to_string(),
        id: if eid.is_empty() { cid } else { eid }.to_string(),
        pid: p.pid,
        exit_status: status,
        exited_at: MessageField::some(at),
        ..Default::default()
    }
}

/// Logs a failed call with its error (containerd shows only the message).
fn answer<T>(what: &str, id: &str, r: Result<T>) -> TtrpcResult<T> {
    r.map_err(|e| {
        log::warn!("{what} {id}: {e}");
        e.into()
    })
}

impl Task for Service {
    fn state(&self, _: &TtrpcContext, req: StateRequest) -> TtrpcResult<StateResponse> {
        answer("state", &req.id, self.do_state(&req))
    }

    fn create(&self, _: &TtrpcContext, req: CreateTaskRequest) -> TtrpcResult<CreateTaskResponse> {
        let id = req.id.clone();
        answer("create", &id, self.do_create(req))
    }

    fn start(&self, _: &TtrpcContext, req: StartRequest) -> TtrpcResult<StartResponse> {
        let id = req.id.clone();
        answer("start", &id, self.do_start(req))
    }

    fn delete(&self, _: &TtrpcContext, req: DeleteRequest) -> TtrpcResult<DeleteResponse> {
        let id = req.id.clone();
        answer("delete", &id, self.do_delete(req))
    }

    fn pids(&self, _: &TtrpcContext, req: PidsRequest) -> TtrpcResult<PidsResponse> {
        let r = (|| {
            let moat = self.lock().get(&req.id)?.moat.clone();
            let pids = moat.ps(&req.id)?;
            Ok(PidsResponse {
                processes: pids
                    .into_iter()
                    .map(|pid| ProcessInfo {
                        pid,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        })();
        answer("pids", &req.id, r)
    }

    fn pause(&self, _: &TtrpcContext, req: PauseRequest) -> TtrpcResult<Empty> {
        answer(
            "pause",
            &req.id,
            self.set_paused(&req.id, true).map(|_| Empty::new()),
        )
    }

    fn resume(&self, _: &TtrpcContext, req: ResumeRequest) -> TtrpcResult<Empty> {
        answer(
            "resume",
            &req.id,
            self.set_paused(&req.id, false).map(|_| Empty::new()),
        )
    }

    fn kill(&self, _: &TtrpcContext, req: KillRequest) -> TtrpcResult<Empty> {
        let id = req.id.clone();
        answer("kill", &id, self.do_kill(req).map(|_| Empty::new()))
    }

    fn exec(&self, _: &TtrpcContext, req: ExecProcessRequest) -> TtrpcResult<Empty> {
        let id = req.id.clone();
        answer("exec", &id, self.do_exec(req).map(|_| Empty::new()))
    }

    fn resize_pty(&self, _: &TtrpcContext, req: ResizePtyRequest) -> TtrpcResult<Empty> {
        let r = (|| {
            let t = self.lock();
            let p = t.get(&req.id)?.process(&req.exec_id)?;
            if let Some(io) = &p.io {
                io.resize(req.width, req.height)?;
            }
            Ok(Empty::new())
        })();
        answer("resize_pty", &req.id, r)
    }

    fn close_io(&self, _: &TtrpcContext, req: CloseIORequest) -> TtrpcResult<Empty> {
        let r = (|| {
            let mut t = self.lock();
            let p = t.get_mut(&req.id)?.process_mut(&req.exec_id)?;
            if req.stdin {
                if let Some(io) = p.io.as_mut() {
                    io.close_stdin();
                }
            }
            Ok(Empty::new())
        })();
        answer("close_io", &req.id, r)
    }

    fn update(&self, _: &TtrpcContext, req: UpdateTaskRequest) -> TtrpcResult<Empty> {
        let r = (|| {
            let moat = self.lock().get(&req.id)?.moat.clone();
            let res = req
                .resources
                .as_ref()
                .map(|a| a.value.clone())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Error::InvalidArgument("update: no resources".into()))?;
            moat.update(&req.id, &res)?;
            Ok(Empty::new())
        })();
        answer("update", &req.id, r)
    }

    fn wait(&self, _: &TtrpcContext, req: WaitRequest) -> TtrpcResult<WaitResponse> {
        answer("wait", &req.id, self.do_wait(&req))
    }

    fn stats(&self, _: &TtrpcContext, req: StatsRequest) -> TtrpcResult<StatsResponse> {
        answer("stats", &req.id, self.do_stats(&req))
    }

    fn connect(&self, _: &TtrpcContext, req: ConnectRequest) -> TtrpcResult<ConnectResponse> {
        let task_pid = self
            .lock()
            .containers
            .get(&req.id)
            .map(|c| c.init.pid)
            .unwrap_or(0);
        Ok(ConnectResponse {
            shim_pid: std::process::id(),
            task_pid,
            version: crate::VERSION_STRING.to_string(),
            ..Default::default()
        })
    }

    fn shutdown(&self, _: &TtrpcContext, req: ShutdownRequest) -> TtrpcResult<Empty> {
        let t = self.lock();
        // A pod's shim stays while any of its containers does.
        if t.containers.is_empty() || req.now {
            log::info!("shutdown");
            self.s.exit.signal();
        }
        Ok(Empty::new())
    }
}
