//! Serving the runtime's requests (see `crate::control`) inside the event loop.

use super::container::{Container, ContainerId, SANDBOX_CONTAINER};
use super::signal::{SigInfo, SI_USER};
use super::{Kernel, RunState};
use crate::control::{ContainerSpec, ExecSpec, ProcessInfo, Request, Stats};
use crate::errno::Errno;
use crate::vfs::Creds;

impl Kernel {
    pub(crate) fn handle_control(&mut self) {
        let Some(q) = &self.control else { return };
        let mut buf = 0u64;
        // SAFETY: draining our eventfd into an 8-byte buffer.
        unsafe {
            libc::read(
                std::os::fd::AsRawFd::as_raw_fd(&*q.wake),
                &mut buf as *mut u64 as *mut _,
                8,
            )
        };
        let reqs: Vec<Request> = q.rx.try_iter().collect();
        for r in reqs {
            self.handle_request(r);
        }
    }

    /// The app container `name` names (None: the sandbox's own), or the error to answer.
    fn resolve_container(&self, name: &Option<String>) -> Result<Option<ContainerId>, String> {
        match name {
            None => Ok(None),
            Some(n) => self
                .container_by_name(n)
                .map(Some)
                .ok_or_else(|| format!("container {n} is not running in this sandbox")),
        }
    }

    fn handle_request(&mut self, r: Request) {
        match r {
            Request::Start { container, reply } => {
                let res = match self.resolve_container(&container) {
                    Err(e) => Err(e),
                    Ok(None) => match self.held_init.take() {
                        Some(init) => {
                            self.resume(init);
                            Ok(())
                        }
                        None => Err("the init is not held".to_string()),
                    },
                    Ok(Some(cid)) => {
                        let init = self
                            .containers
                            .get_mut(&cid)
                            .and_then(|c| std::mem::take(&mut c.held).then_some(c.init));
                        match init {
                            Some(init) => {
                                self.resume(init);
                                Ok(())
                            }
                            None => Err("the container's init is not held".to_string()),
                        }
                    }
                };
                let _ = reply.send(res);
            }
            Request::Kill {
                container,
                signal,
                all,
                reply,
            } => {
                let res = if !(1..=64).contains(&signal) {
                    Err(format!("invalid signal {signal}"))
                } else {
                    self.resolve_container(&container).map(|cid| {
                        let (init, held) = match cid {
                            None => (1, self.held_init.is_some()),
                            Some(c) => self
                                .containers
                                .get(&c)
                                .map_or((0, false), |c| (c.init, c.held)),
                        };
                        let targets: Vec<i32> = match (all, cid) {
                            (true, None) => self
                                .procs
                                .values()
                                .filter(|p| p.zombie.is_none())
                                .map(|p| p.pid)
                                .collect(),
                            (true, Some(c)) => self.container_processes(c),
                            (false, _) => vec![init],
                        };
                        for pid in targets {
                            if pid == init && held {
                                self.signal_held_init(init, signal);
                                continue;
                            }
                            self.send_to_process(
                                pid,
                                SigInfo {
                                    signo: signal,
                                    code: SI_USER,
                                    ..Default::default()
                                },
                            );
                        }
                    })
                };
                let _ = reply.send(res);
            }
            Request::Signal { pid, signal, reply } => {
                let res = if !(1..=64).contains(&signal) {
                    Err(format!("invalid signal {signal}"))
                } else {
                    self.send_to_process(
                        pid,
                        SigInfo {
                            signo: signal,
                            code: SI_USER,
                            ..Default::default()
                        },
                    );
                    Ok(())
                };
                let _ = reply.send(res);
            }
            Request::Ps { container, reply } => {
                let res = self.resolve_container(&container).map(|cid| {
                    self.process_list(cid.unwrap_or(super::container::SANDBOX_CONTAINER))
                });
                let _ = reply.send(res);
            }
            Request::Exec {
                container,
                spec,
                started,
                exited,
            } => {
                let res = self
                    .resolve_container(&container)
                    .and_then(|cid| self.spawn_exec(spec, cid).map_err(|e| e.to_string()));
                match res {
                    Ok(pid) => {
                        self.exec_waiters.insert(pid, exited);
                        let _ = started.send(Ok(pid));
                    }
                    Err(e) => {
                        let _ = started.send(Err(e));
                    }
                }
            }
            Request::AddContainer {
                spec,
                started,
                exited,
            } => match self.add_container(spec) {
                Ok(pid) => {
                    self.exec_waiters.insert(pid, exited);
                    let stub = self.procs.get(&pid).map_or(0, |p| p.stub_pid);
                    let _ = started.send(Ok((pid, stub)));
                }
                Err(e) => {
                    let _ = started.send(Err(e.to_string()));
                }
            },
            Request::Pause { reply } => {
                self.paused = true;
                let running: Vec<_> = self
                    .tasks
                    .values()
                    .filter(|t| t.state == RunState::InApp)
                    .map(|t| t.tid)
                    .collect();
                for t in running {
                    self.kick(t);
                }
                let _ = reply.send(Ok(()));
            }
            Request::Resume { reply } => {
                self.paused = false;
                for t in std::mem::take(&mut self.frozen) {
                    if self
                        .tasks
                        .get(&t)
                        .is_some_and(|x| x.state == RunState::InSentry)
                    {
                        self.resume(t);
                    }
                }
                self.dirty = true;
                let _ = reply.send(Ok(()));
            }
            Request::Stats { container, reply } => {
                let res = self.resolve_container(&container).map(|cid| {
                    let live: Vec<&super::Process> = self
                        .procs
                        .values()
                        .filter(|p| p.zombie.is_none())
                        .filter(|p| cid.is_none_or(|c| p.container == c))
                        .collect();
                    Stats {
                        processes: live.len(),
                        threads: live.iter().map(|p| p.threads.len()).sum(),
                        mapped_bytes: live.iter().map(|p| p.mm.total_size()).sum(),
                    }
                });
                let _ = reply.send(res);
            }
        }
    }

    /// A signal from the runtime for an init that has not run: its dispositions are the
    /// defaults, so it either dies of the signal (and the sandbox with it) or ignores it.
    fn signal_held_init(&mut self, init: i32, signal: i32) {
        use super::signal::{default_action, DefaultAction};
        match default_action(signal) {
            DefaultAction::Terminate | DefaultAction::Core => {
                self.kill_group(init, super::WaitStatus::signaled(signal, false));
            }
            DefaultAction::Ignore | DefaultAction::Stop | DefaultAction::Continue => {}
        }
    }

    /// The processes of container `cid`, numbered as they see themselves (their pid
    /// namespace's numbers; a parent outside it shows as 0).
    pub fn process_list(&self, cid: ContainerId) -> Vec<ProcessInfo> {
        use super::pidns::{is_ns_init, ns_of, vpid};
        let mut out: Vec<ProcessInfo> = self
            .procs
            .values()
            .filter(|p| p.container == cid)
            .map(|p| {
                let state = if p.zombie.is_some() {
                    'Z'
                } else if p.stop_report.is_some() || self.paused {
                    'T'
                } else if p.threads.iter().any(|t| {
                    self.tasks
                        .get(t)
                        .is_some_and(|t| t.state != RunState::Blocked)
                }) {
                    'R'
                } else {
                    'S'
                };
                ProcessInfo {
                    pid: vpid(p.pid),
                    ppid: if is_ns_init(p.pid) || ns_of(p.ppid) != ns_of(p.pid) {
                        0
                    } else {
                        vpid(p.ppid)
                    },
                    uid: p.creds.uid,
                    state,
                    comm: String::from_utf8_lossy(&p.comm).into_owned(),
                    args: p
                        .cmdline
                        .split(|&c| c == 0)
                        .filter(|a| !a.is_empty())
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect(),
                    threads: p.threads.len(),
                }
            })
            .collect();
        out.sort_by_key(|p| p.pid);
        out
    }

    /// Starts a new process inside the sandbox (in app container `cid`, else the sandbox's
    /// own) from the zygote stub.
    fn spawn_exec(
        &mut self,
        spec: ExecSpec,
        cid: Option<ContainerId>,
    ) -> Result<i32, crate::SentryError> {
        let (root, rlimits, umask) = match cid {
            Some(c) => {
                let c = self.containers.get(&c).ok_or_else(|| {
                    crate::SentryError::Setup("the container is not running".into())
                })?;
                (c.root.clone(), c.rlimits, c.umask)
            }
            None => {
                let root = self
                    .root
                    .clone()
                    .ok_or_else(|| crate::SentryError::Setup("no root".into()))?;
                let (rlimits, umask) = self
                    .procs
                    .get(&1)
                    .map(|p| (p.rlimits, p.umask))
                    .unwrap_or(([(u64::MAX, u64::MAX); 16], 0o022));
                (root, rlimits, umask)
            }
        };
        let pid =
            self.spawn_process(spec, cid.unwrap_or(SANDBOX_CONTAINER), root, rlimits, umask)?;
        self.resume(pid);
        Ok(pid)
    }

    /// Adds a pod's app container: builds its file system, loads its init (held until
    /// `start`). Returns the init's pid.
    fn add_container(&mut self, spec: ContainerSpec) -> Result<i32, crate::SentryError> {
        if self.init_exit.is_some() {
            return Err(crate::SentryError::Setup("the sandbox has stopped".into()));
        }
        if spec.name.is_empty() || self.container_by_name(&spec.name).is_some() {
            return Err(crate::SentryError::Setup(format!(
                "container {:?} already exists in this sandbox",
                spec.name
            )));
        }
        // Whatever an earlier failed add left for this id.
        self.proc_policies.remove(&self.next_container);
        let (root, mounts) = crate::boot::build_root(
            self,
            spec.rootfs,
            spec.readonly_root,
            false,
            crate::boot::next_dev(),
            spec.mounts,
            &spec.masked_paths,
            &spec.readonly_paths,
            &spec.devices,
            // The id the container gets below.
            self.next_container,
        )?;
        let mut rlimits = crate::boot::default_rlimits();
        for r in &spec.rlimits {
            if (r.resource as usize) < rlimits.len() {
                rlimits[r.resource as usize] = (r.soft, r.hard);
            }
        }
        let umask = spec.umask.unwrap_or(0o022);
        // Its own pid namespace, unless the pod shares one (the sandbox's).
        let pidns = if spec.share_pids {
            0
        } else {
            self.alloc_pidns()
                .map_err(|_| crate::SentryError::Setup("too many pid namespaces".into()))?
        };
        let cid = self.next_container;
        self.next_container += 1;
        // Registered before the init is loaded: loading resolves paths in its tree.
        self.containers.insert(
            cid,
            Container {
                name: spec.name,
                init: 0,
                held: true,
                root: root.clone(),
                mounts,
                seccomp: spec.seccomp.map(std::rc::Rc::new),
                rlimits,
                umask,
                pidns,
            },
        );
        match self.spawn_process(spec.process, cid, root, rlimits, umask) {
            Ok(pid) => {
                if let Some(p) = self.procs.get_mut(&pid) {
                    p.oom_score_adj = spec.oom_score_adj.clamp(-1000, 1000);
                }
                if let Some(c) = self.containers.get_mut(&cid) {
                    c.init = pid;
                }
                self.refresh_seccomp_flag();
                Ok(pid)
            }
            Err(e) => {
                self.containers.remove(&cid);
                self.proc_policies.remove(&cid);
                Err(e)
            }
        }
    }

    /// A new process from the zygote stub, loaded with `spec`'s program but not running.
    fn spawn_process(
        &mut self,
        spec: ExecSpec,
        cid: ContainerId,
        root: std::rc::Rc<crate::vfs::Inode>,
        rlimits: [(u64, u64); 16],
        umask: u32,
    ) -> Result<i32, crate::SentryError> {
        let host = |op: &'static str, e: Errno| crate::SentryError::Host {
            op,
            err: std::io::Error::from_raw_os_error(e.0),
        };
        if self.init_exit.is_some() {
            return Err(crate::SentryError::Setup(
                "cannot exec in a stopped container".into(),
            ));
        }
        let zygote = self
            .zygote
            .as_ref()
            .ok_or_else(|| crate::SentryError::Setup("no zygote stub".into()))?;
        let mut scratch = zygote.get_regs().map_err(|e| crate::SentryError::Host {
            op: "ptrace",
            err: e,
        })?;
        let stub = zygote
            .fork(&mut scratch)
            .map_err(|e| crate::SentryError::Host {
                op: "fork stub",
                err: e,
            })?;
        crate::mm::space::reset(stub.pid);
        let ns = self.containers.get(&cid).map_or(0, |c| c.pidns);
        let pid = self.alloc_pid_in(ns).map_err(|e| host("alloc pid", e))?;
        let mut creds = Creds::root();
        creds.uid = spec.uid;
        creds.euid = spec.uid;
        creds.suid = spec.uid;
        creds.fsuid = spec.uid;
        creds.gid = spec.gid;
        creds.egid = spec.gid;
        creds.sgid = spec.gid;
        creds.fsgid = spec.gid;
        creds.groups = spec.additional_gids.clone();
        creds.groups.sort_unstable(); // the kernel sorts them at setgroups, as for runc
        if spec.uid != 0 {
            creds.cap_effective = 0;
            creds.cap_permitted = 0;
        }
        if let Some(c) = spec.capabilities {
            creds.cap_effective = c.effective;
            creds.cap_permitted = c.permitted;
            creds.cap_inheritable = c.inheritable;
            creds.cap_bounding = c.bounding;
            creds.cap_ambient = c.ambient;
        }
        let raw: Vec<i32> = spec
            .stdio
            .iter()
            .map(|f| f.as_ref().map_or(-1, std::os::fd::AsRawFd::as_raw_fd))
            .collect();
        let fds = crate::boot::stdio_table(
            &raw,
            rlimits[libc::RLIMIT_NOFILE as usize].0.min(1 << 20) as usize,
        );
        let cwd = {
            let ctx = crate::vfs::PathCtx {
                root: root.clone(),
                cwd: root.clone(),
                creds: creds.clone(),
                pid,
                tid: pid,
            };
            crate::vfs::resolve(self, &ctx, None, spec.cwd.as_bytes(), true)
                .ok()
                .filter(|c| c.is_dir())
                .unwrap_or_else(|| root.clone())
        };
        let stub_pid = stub.pid;
        if let Err(e) =
            crate::boot::create_process(self, stub, pid, 0, creds, fds, cwd, root, umask, rlimits)
        {
            // SAFETY: kill(2) of the stub process the sentry just forked for this process.
            unsafe { libc::kill(stub_pid, libc::SIGKILL) };
            return Err(host("create process", e));
        }
        if let Some(p) = self.procs.get_mut(&pid) {
            p.no_new_privs = spec.no_new_privs;
            p.container = cid;
        }
        if let Err(e) = crate::boot::load_program(self, pid, &spec.args, &spec.env) {
            self.kill_group(pid, super::WaitStatus::signaled(libc::SIGKILL, false));
            return Err(e);
        }
        Ok(pid)
    }
}
