//! The OCI bundle: loading and checking config.json, and turning it into the sentry's
//! [`SandboxSpec`].
//!
//! [`Bundle::load`] runs in `moat create` before anything is created, so every error it can find
//! is reported before the container exists. [`Bundle::sandbox_spec`] runs in `moat boot`, where
//! it also opens the rootfs and bind-mount sources.

use std::fs::{self, File};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxNamespaceType, LinuxSeccompAction, LinuxSeccompOperator, Mount, PosixRlimitType, Spec,
};
use sentry::syscalls::seccomp::{
    SeccompAction, SeccompArg, SeccompOp, SeccompProfile, SeccompRule,
};
use sentry::{MountKind, MountSpec, Rlimit, SandboxSpec, SentryOptions};

use crate::control::ExecCaps;
use crate::error::{Error, Result};

/// A bundle whose config.json passed [`Bundle::load`]'s checks.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Absolute bundle directory.
    pub dir: PathBuf,
    pub spec: Spec,
    /// Absolute rootfs path (`root.path` resolved against the bundle).
    pub rootfs: PathBuf,
}

/// How an OCI mount is served, before its source is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountClass {
    Proc,
    Sysfs,
    Tmpfs,
    Devpts,
    Mqueue,
    Bind {
        source: PathBuf,
        readonly: bool,
    },
    /// Accepted but not provided yet (cgroup filesystems).
    Skip,
}

/// A namespace moat can join by path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceKind {
    Network,
    Ipc,
    Uts,
}

impl NamespaceKind {
    /// The `CLONE_NEW*` flag `setns` checks the fd against.
    pub fn clone_flag(self) -> libc::c_int {
        match self {
            NamespaceKind::Network => libc::CLONE_NEWNET,
            NamespaceKind::Ipc => libc::CLONE_NEWIPC,
            NamespaceKind::Uts => libc::CLONE_NEWUTS,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            NamespaceKind::Network => "network",
            NamespaceKind::Ipc => "ipc",
            NamespaceKind::Uts => "uts",
        }
    }
}

/// The namespaces of the sandbox process, from `linux.namespaces`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespacePlan {
    /// `CLONE_NEW*` flags for the sandbox process.
    pub clone_flags: libc::c_int,
    /// A fresh network namespace (bring up `lo` in it).
    pub new_net: bool,
    /// Existing namespaces to join (`setns`), in the order they are joined: network, IPC,
    /// UTS. A Kubernetes pod's app containers get the pause container's three.
    pub join: Vec<(NamespaceKind, PathBuf)>,
    /// Namespace entries moat accepts but does not act on, for a warning.
    pub ignored: Vec<String>,
}

impl Bundle {
    /// Reads and checks `<dir>/config.json`.
    pub fn load(dir: &Path) -> Result<Bundle> {
        let abs = std::path::absolute(dir).map_err(|e| Error::Bundle {
            path: dir.into(),
            reason: e.to_string(),
        })?;
        match fs::metadata(&abs) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::Bundle {
                    path: abs,
                    reason: "not a directory".into(),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::Bundle {
                    path: abs,
                    reason: "no such directory".into(),
                })
            }
            Err(e) => {
                return Err(Error::Bundle {
                    path: abs,
                    reason: e.to_string(),
                })
            }
        }
        // Canonical, as the state reports it and as boot reopens it.
        let abs = fs::canonicalize(&abs).map_err(|e| Error::Bundle {
            path: abs.clone(),
            reason: e.to_string(),
        })?;
        let config = abs.join("config.json");
        let data = match fs::read(&config) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::Bundle {
                    path: abs,
                    reason: "config.json not found".into(),
                })
            }
            Err(e) => {
                return Err(Error::Bundle {
                    path: abs,
                    reason: format!("read config.json: {e}"),
                })
            }
        };
        let spec: Spec = serde_json::from_slice(&data).map_err(|e| Error::Config(e.to_string()))?;
        Bundle::from_spec(abs, spec)
    }

    /// Checks an already parsed spec against bundle directory `dir` (absolute).
    pub fn from_spec(dir: PathBuf, spec: Spec) -> Result<Bundle> {
        let root = spec
            .root()
            .as_ref()
            .ok_or_else(|| Error::Config("root.path is missing".into()))?;
        if root.path().as_os_str().is_empty() {
            return Err(Error::Config("root.path is missing".into()));
        }
        let rootfs = dir.join(root.path());
        match fs::metadata(&rootfs) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::Config(format!(
                    "root.path {} is not a directory",
                    rootfs.display()
                )))
            }
            Err(e) => {
                return Err(Error::Config(format!(
                    "root.path {}: {e}",
                    rootfs.display()
                )))
            }
        }
        let process = spec
            .process()
            .as_ref()
            .ok_or_else(|| Error::Config("process is missing".into()))?;
        match process.args() {
            Some(args) if !args.is_empty() => {
                if args[0].is_empty() {
                    return Err(Error::Config("process.args[0] is empty".into()));
                }
            }
            _ => return Err(Error::Config("process.args must not be empty".into())),
        }
        if !process.cwd().is_absolute() {
            return Err(Error::Config(format!(
                "process.cwd {:?} is not an absolute path",
                process.cwd()
            )));
        }
        for s in process.env().iter().flatten() {
            if !s.contains('=') {
                return Err(Error::Config(format!(
                    "process.env entry {s:?} is not KEY=VALUE"
                )));
            }
        }
        // Linux's limit (HOST_NAME_MAX); runc fails in its init's sethostname.
        for (what, v) in [
            ("sethostname", spec.hostname()),
            ("setdomainname", spec.domainname()),
        ] {
            if v.as_ref().is_some_and(|h| h.len() > 64) {
                return Err(Error::Other(format!(
                    "unable to start container process: error during container init: {what}: invalid argument"
                )));
            }
        }
        let bundle = Bundle { dir, spec, rootfs };
        for m in bundle.spec.mounts().iter().flatten() {
            bundle.classify_mount(m)?;
        }
        bundle.namespaces()?;
        bundle.sysctls()?;
        bundle.seccomp_profile()?;
        Ok(bundle)
    }

    /// `linux.seccomp` as the sentry enforces it on the workload's syscalls (names resolved
    /// to x86-64 numbers; names the sentry does not know are skipped, as runc skips names
    /// libseccomp does not know). Seccomp agents (SCMP_ACT_NOTIFY) are refused.
    pub fn seccomp_profile(&self) -> Result<Option<SeccompProfile>> {
        seccomp_profile_of(
            self.spec
                .linux()
                .as_ref()
                .and_then(|l| l.seccomp().as_ref()),
        )
    }
}

/// `linux.seccomp` with syscall names resolved (None: no profile).
pub fn seccomp_profile_of(
    sc: Option<&oci_spec::runtime::LinuxSeccomp>,
) -> Result<Option<SeccompProfile>> {
    let Some(sc) = sc else {
        return Ok(None);
    };
    let action = |a: LinuxSeccompAction, errno: Option<u32>| -> Result<SeccompAction> {
        Ok(match a {
            LinuxSeccompAction::ScmpActAllow => SeccompAction::Allow,
            LinuxSeccompAction::ScmpActLog => SeccompAction::Log,
            LinuxSeccompAction::ScmpActTrace => SeccompAction::Trace,
            LinuxSeccompAction::ScmpActErrno => {
                let e = errno.unwrap_or(libc::EPERM as u32);
                if e > 4095 {
                    return Err(Error::Config(format!(
                        "linux.seccomp: errnoRet {e} is not an errno"
                    )));
                }
                SeccompAction::Errno(e as i32)
            }
            LinuxSeccompAction::ScmpActTrap => SeccompAction::Trap,
            LinuxSeccompAction::ScmpActKill
            | LinuxSeccompAction::ScmpActKillThread
            | LinuxSeccompAction::ScmpActKillProcess => SeccompAction::Kill,
            LinuxSeccompAction::ScmpActNotify => {
                return Err(Error::Config(
                    "linux.seccomp: SCMP_ACT_NOTIFY (seccomp agents) is not supported".into(),
                ))
            }
        })
    };
    let mut profile = SeccompProfile {
        default_action: Some(action(sc.default_action(), sc.default_errno_ret())?),
        rules: Default::default(),
    };
    for sys in sc.syscalls().iter().flatten() {
        let act = action(sys.action(), sys.errno_ret())?;
        let mut args = Vec::new();
        for a in sys.args().iter().flatten() {
            if a.index() > 5 {
                return Err(Error::Config(format!(
                    "linux.seccomp: argument index {} is out of range (0-5)",
                    a.index()
                )));
            }
            args.push(SeccompArg {
                index: a.index(),
                value: a.value(),
                value_two: a.value_two().unwrap_or(0),
                op: match a.op() {
                    LinuxSeccompOperator::ScmpCmpNe => SeccompOp::Ne,
                    LinuxSeccompOperator::ScmpCmpLt => SeccompOp::Lt,
                    LinuxSeccompOperator::ScmpCmpLe => SeccompOp::Le,
                    LinuxSeccompOperator::ScmpCmpEq => SeccompOp::Eq,
                    LinuxSeccompOperator::ScmpCmpGe => SeccompOp::Ge,
                    LinuxSeccompOperator::ScmpCmpGt => SeccompOp::Gt,
                    LinuxSeccompOperator::ScmpCmpMaskedEq => SeccompOp::MaskedEq,
                },
            });
        }
        for name in sys.names() {
            match sentry::syscalls::seccomp::syscall_number(name) {
                Some(nr) => profile.rules.entry(nr).or_default().push(SeccompRule {
                    action: act,
                    args: args.clone(),
                }),
                None => {
                    tracing::debug!(syscall = %name, "seccomp profile: unknown syscall skipped")
                }
            }
        }
    }
    Ok(Some(profile))
}

impl Bundle {
    /// Maps one OCI mount to the filesystem the sentry provides.
    pub fn classify_mount(&self, m: &Mount) -> Result<MountClass> {
        let dest = m.destination();
        if !dest.is_absolute() {
            return Err(Error::Config(format!(
                "mount destination {:?} is not an absolute path",
                dest
            )));
        }
        let options = m.options().as_deref().unwrap_or_default();
        let has = |o: &str| options.iter().any(|x| x == o);
        let typ = m.typ().as_deref().unwrap_or("");
        if has("bind") || has("rbind") || typ == "bind" {
            let source = m.source().as_ref().ok_or_else(|| {
                Error::Config(format!("bind mount {} has no source", dest.display()))
            })?;
            return Ok(MountClass::Bind {
                source: self.dir.join(source),
                readonly: has("ro") || has("rro"),
            });
        }
        Ok(match typ {
            "proc" => MountClass::Proc,
            "sysfs" => MountClass::Sysfs,
            "tmpfs" => MountClass::Tmpfs,
            "devpts" => MountClass::Devpts,
            "mqueue" => MountClass::Mqueue,
            "cgroup" | "cgroup2" => MountClass::Skip,
            "" => return Err(Error::Config(format!("mount {} has no type", dest.display()))),
            other => {
                return Err(Error::Config(format!(
                    "mount {}: unsupported type {other:?} (moat provides proc, sysfs, tmpfs, devpts, mqueue and bind)",
                    dest.display()
                )))
            }
        })
    }

    /// `linux.devices`, checked as runc checks them (an absolute path not below /dev/.. , a
    /// known type); fileMode defaults to 0666 and the owner to root.
    pub fn devices(&self) -> Result<Vec<sentry::DeviceSpec>> {
        let Some(devs) = self
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.devices().as_ref())
        else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for d in devs {
            let path = d.path().to_string_lossy().into_owned();
            if !path.starts_with('/') || path.split('/').any(|c| c == "..") {
                return Err(Error::Config(format!(
                    "device path {path:?} must be absolute and stay below /"
                )));
            }
            let kind = match d.typ() {
                oci_spec::runtime::LinuxDeviceType::C | oci_spec::runtime::LinuxDeviceType::U => {
                    'c'
                }
                oci_spec::runtime::LinuxDeviceType::B => 'b',
                oci_spec::runtime::LinuxDeviceType::P => 'p',
                other => {
                    return Err(Error::Config(format!(
                        "device {path}: type {other:?} is not one of c, u, b, p"
                    )))
                }
            };
            out.push(sentry::DeviceSpec {
                path,
                kind,
                major: d.major() as u64,
                minor: d.minor() as u64,
                mode: d.file_mode().unwrap_or(0o666) & 0o7777,
                uid: d.uid().unwrap_or(0),
                gid: d.gid().unwrap_or(0),
            });
        }
        Ok(out)
    }

    /// `linux.sysctl`, checked as runc checks it: only sysctls of a namespace the container
    /// has of its own (IPC, UTS, and network unless it shares the host's).
    pub fn sysctls(&self) -> Result<Vec<(String, String)>> {
        let Some(map) = self.spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
            return Ok(Vec::new());
        };
        if map.len() > sentry::fs::procfs::MAX_SYSCTLS {
            return Err(Error::Config(format!(
                "linux.sysctl: at most {} entries",
                sentry::fs::procfs::MAX_SYSCTLS
            )));
        }
        let own_net = self
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().as_ref())
            .is_some_and(|ns| {
                ns.iter()
                    .any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Network)
            });
        const IPC: &[&str] = &[
            "kernel.msgmax",
            "kernel.msgmnb",
            "kernel.msgmni",
            "kernel.sem",
            "kernel.shmall",
            "kernel.shmmax",
            "kernel.shmmni",
            "kernel.shm_rmid_forced",
        ];
        let mut out: Vec<(String, String)> = Vec::new();
        for (key, value) in map {
            let well_formed = !key.is_empty()
                && key.split('.').all(|p| {
                    !p.is_empty()
                        && p.bytes()
                            .all(|c| c.is_ascii_alphanumeric() || b"_-".contains(&c))
                });
            let allowed = IPC.contains(&key.as_str())
                || key.starts_with("fs.mqueue.")
                || key == "kernel.hostname"
                || key == "kernel.domainname"
                || key.starts_with("net.");
            if !well_formed || !allowed {
                return Err(Error::Config(format!(
                    "sysctl {key:?} is not in a separate kernel namespace"
                )));
            }
            let field = match key.as_str() {
                "kernel.hostname" => self.spec.hostname().as_ref().map(|_| "hostname"),
                "kernel.domainname" => self.spec.domainname().as_ref().map(|_| "domainname"),
                _ => None,
            };
            if let Some(field) = field {
                return Err(Error::Config(format!(
                    "sysctl {key:?} is not allowed as it conflicts with the OCI {field:?} field"
                )));
            }
            if key.starts_with("net.") && !own_net {
                return Err(Error::Config(format!(
                    "sysctl {key:?} not allowed in host network namespace"
                )));
            }
            if value.contains('\0') || value.len() > 4096 {
                return Err(Error::Config(format!("sysctl {key:?}: bad value")));
            }
            out.push((key.clone(), value.clone()));
        }
        out.sort();
        Ok(out)
    }

    /// Every namespace `path` in the spec names a namespace of its entry's type, as runc's
    /// setns would insist (EINVAL otherwise): checked with NS_GET_NSTYPE on the open file.
    pub fn check_namespace_paths(&self) -> Result<()> {
        // linux/nsfs.h: NS_GET_NSTYPE is _IO(0xb7, 0x3) (nix's ioctl feature is not enabled).
        const NS_GET_NSTYPE: libc::c_ulong = 0xb703;
        let namespaces = self
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().as_ref());
        for ns in namespaces.into_iter().flatten() {
            let Some(path) = ns.path() else { continue };
            let want = match ns.typ() {
                LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
                LinuxNamespaceType::Network => libc::CLONE_NEWNET,
                LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
                LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
                LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
                LinuxNamespaceType::User => libc::CLONE_NEWUSER,
                LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
                LinuxNamespaceType::Time => libc::CLONE_NEWTIME,
            };
            let f = File::open(path).map_err(|e| {
                Error::Config(format!(
                    "open {} namespace {}: {e}",
                    ns.typ(),
                    path.display()
                ))
            })?;
            // SAFETY: NS_GET_NSTYPE takes no argument and only reads the open nsfs file.
            let got = unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&f), NS_GET_NSTYPE) };
            match got {
                t if t == want => {}
                _ => {
                    return Err(Error::Config(format!(
                    "join {} namespace {}: not a namespace of that type (setns: invalid argument)",
                    ns.typ(),
                    path.display()
                )))
                }
            }
        }
        Ok(())
    }

    /// Which namespaces the sandbox process gets. Its own pid, mount, ipc and uts namespaces are
    /// always new: they isolate the sentry itself (the workload's are the sentry's own).
    pub fn namespaces(&self) -> Result<NamespacePlan> {
        let mut plan = NamespacePlan {
            clone_flags: libc::CLONE_NEWPID
                | libc::CLONE_NEWNS
                | libc::CLONE_NEWIPC
                | libc::CLONE_NEWUTS,
            new_net: false,
            join: Vec::new(),
            ignored: Vec::new(),
        };
        let namespaces = self
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default();
        let mut seen = Vec::new();
        for ns in &namespaces {
            let typ = ns.typ();
            if seen.contains(&typ) {
                return Err(Error::Config(format!("namespace {typ} is listed twice")));
            }
            seen.push(typ);
            match (typ, ns.path()) {
                (LinuxNamespaceType::Network, None) => {
                    plan.clone_flags |= libc::CLONE_NEWNET;
                    plan.new_net = true;
                }
                (
                    t @ (LinuxNamespaceType::Network
                    | LinuxNamespaceType::Ipc
                    | LinuxNamespaceType::Uts),
                    Some(p),
                ) => {
                    if !p.is_absolute() {
                        return Err(Error::Config(format!(
                            "namespace path {} is not absolute",
                            p.display()
                        )));
                    }
                    let kind = match t {
                        LinuxNamespaceType::Network => NamespaceKind::Network,
                        LinuxNamespaceType::Ipc => NamespaceKind::Ipc,
                        _ => NamespaceKind::Uts,
                    };
                    plan.join.push((kind, p.clone()));
                }
                (LinuxNamespaceType::Cgroup, None) => plan.clone_flags |= libc::CLONE_NEWCGROUP,
                (
                    LinuxNamespaceType::Pid | LinuxNamespaceType::Mount | LinuxNamespaceType::Ipc,
                    None,
                )
                | (LinuxNamespaceType::Uts, None) => {}
                // A pid or mount namespace path: the sentry's own pid and mount namespaces
                // are what isolate it, so those stay new.
                (t, Some(p)) => plan
                    .ignored
                    .push(format!("{t} namespace path {}", p.display())),
                (t, None) => plan.ignored.push(format!("{t} namespace")),
            }
        }
        // A fixed order (network, IPC, UTS), whatever order the spec lists them in.
        plan.join.sort_by_key(|(k, _)| *k as u8);
        Ok(plan)
    }

    /// Builds the sentry's spec, opening the rootfs and bind-mount sources. `stdio` are the host
    /// fds that become the workload's 0, 1, 2, ... (negative: closed).
    pub fn sandbox_spec(&self, options: SentryOptions, stdio: Vec<i32>) -> Result<SandboxSpec> {
        let spec = &self.spec;
        let root = spec
            .root()
            .as_ref()
            .ok_or_else(|| Error::Config("root.path is missing".into()))?;
        let process = spec
            .process()
            .as_ref()
            .ok_or_else(|| Error::Config("process is missing".into()))?;
        let rootfs = open_path(&self.rootfs, true)
            .map_err(|e| Error::Config(format!("open rootfs {}: {e}", self.rootfs.display())))?;
        let mut mounts = Vec::new();
        for m in spec.mounts().iter().flatten() {
            let mut bind_type = None;
            let kind = match self.classify_mount(m)? {
                MountClass::Proc => MountKind::Proc,
                MountClass::Sysfs => MountKind::Sysfs,
                MountClass::Tmpfs => MountKind::Tmpfs,
                MountClass::Devpts => MountKind::Devpts,
                MountClass::Mqueue => MountKind::Mqueue,
                MountClass::Bind { source, readonly } => {
                    let open_err = |e: io::Error| {
                        Error::Config(format!(
                            "mount {}: open source {}: {e}",
                            m.destination().display(),
                            source.display()
                        ))
                    };
                    let fd = open_path(&source, false).map_err(open_err)?;
                    bind_type = host_fs_type(&fd);
                    match host_file_link(&source).map_err(open_err)? {
                        Some((dir, name)) => MountKind::BindFile {
                            dir,
                            name,
                            readonly,
                        },
                        None => MountKind::Bind {
                            source: fd,
                            readonly,
                        },
                    }
                }
                MountClass::Skip => {
                    tracing::warn!(
                        destination = %m.destination().display(),
                        typ = m.typ().as_deref().unwrap_or(""),
                        "mount not provided yet; skipped"
                    );
                    continue;
                }
            };
            mounts.push(MountSpec {
                destination: m.destination().to_string_lossy().into_owned(),
                kind,
                options: m.options().clone().unwrap_or_default(),
                source: m
                    .source()
                    .as_ref()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                fstype: bind_type.unwrap_or_else(|| m.typ().clone().unwrap_or_default()),
            });
        }
        let rlimits = process
            .rlimits()
            .iter()
            .flatten()
            .map(|r| Rlimit {
                resource: rlimit_number(r.typ()),
                soft: r.soft(),
                hard: r.hard(),
            })
            .collect();
        let user = process.user();
        let (host_name, host_domain) = host_names();
        let linux = spec.linux().as_ref();
        Ok(SandboxSpec {
            devices: self.devices()?,
            sysctl: self.sysctls()?,
            masked_paths: linux
                .and_then(|l| l.masked_paths().clone())
                .unwrap_or_default(),
            readonly_paths: linux
                .and_then(|l| l.readonly_paths().clone())
                .unwrap_or_default(),
            rootfs,
            readonly_root: root.readonly().unwrap_or(false),
            args: process.args().clone().unwrap_or_default(),
            env: crate::passwd::with_home(
                process.env().clone().unwrap_or_default(),
                &self.rootfs,
                user.uid(),
            ),
            cwd: process.cwd().to_string_lossy().into_owned(),
            // Empty or absent: the UTS namespace keeps the host's names, as under runc.
            hostname: spec
                .hostname()
                .clone()
                .filter(|h| !h.is_empty())
                .unwrap_or(host_name),
            domainname: spec
                .domainname()
                .clone()
                .filter(|d| !d.is_empty())
                .unwrap_or(host_domain),
            uid: user.uid(),
            gid: user.gid(),
            additional_gids: user.additional_gids().clone().unwrap_or_default(),
            umask: user.umask(),
            mounts,
            rlimits,
            stdio,
            options,
            capabilities: process_capabilities(process)?.map(|c| sentry::control::CapSets {
                effective: c.effective,
                permitted: c.permitted,
                inheritable: c.inheritable,
                bounding: c.bounding,
                ambient: c.ambient,
            }),
            no_new_privs: process.no_new_privileges() == Some(true),
            oom_score_adj: process.oom_score_adj().unwrap_or(0),
            seccomp: self.seccomp_profile()?,
        })
    }
}

/// The capability sets an OCI process ends up with (`None` when the spec has no
/// `capabilities`: root keeps every capability, as under runc). runc sets the OCI sets and
/// then execve()s the program, which recomputes them for a program without file
/// capabilities: root gets permitted = effective = inheritable | bounding | ambient; anyone
/// else keeps only the ambient set.
pub fn process_capabilities(p: &oci_spec::runtime::Process) -> Result<Option<ExecCaps>> {
    // No `capabilities`: every set empty, as runc leaves it (root too).
    let Some(c) = p.capabilities() else {
        return Ok(Some(ExecCaps::default()));
    };
    let mask = |set: &Option<oci_spec::runtime::Capabilities>| -> Result<u64> {
        let mut m = 0u64;
        for cap in set.iter().flatten() {
            let name = serde_json::to_value(cap)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            m |= 1 << crate::features::capability_number(&name)?;
        }
        Ok(m)
    };
    let (inheritable, bounding, ambient) = (
        mask(c.inheritable())?,
        mask(c.bounding())?,
        mask(c.ambient())?,
    );
    let permitted = if p.user().uid() == 0 {
        inheritable | bounding | ambient
    } else {
        ambient & mask(c.permitted())? & inheritable
    };
    Ok(Some(ExecCaps {
        effective: permitted,
        permitted,
        inheritable,
        bounding,
        // Linux keeps only ambient capabilities that are permitted and inheritable.
        ambient: ambient & permitted & inheritable,
    }))
}

/// The host file system type of a bind mount's source, by its magic number (what Linux's
/// mountinfo shows for a bind mount); None when it cannot be told.
fn host_fs_type(fd: &OwnedFd) -> Option<String> {
    let Ok(st) = nix::sys::statfs::fstatfs(fd) else {
        return None;
    };
    let magic = st.filesystem_type().0 as u64;
    let name: String = match magic {
        0xEF53 => "ext4",
        0x58465342 => "xfs",
        0x9123683E => "btrfs",
        0x01021994 => "tmpfs",
        0x794c7630 => "overlay",
        0x9fa0 => "proc",
        0x62656572 => "sysfs",
        0x1cd1 => "devpts",
        0x6969 => "nfs",
        0x65735546 => "fuse",
        0x2fc12fc1 => "zfs",
        0x01021997 => "9p",
        0xf2f52010 => "f2fs",
        _ => return None,
    }
    .into();
    Some(name)
}

/// For a bind source that is a regular file: its real directory (opened `O_PATH`) and its
/// name there, which the sentry writes through to. None for directories and special files.
fn host_file_link(source: &Path) -> io::Result<Option<(OwnedFd, std::ffi::CString)>> {
    // A bind mount follows symlinks in its source, so resolve them here, on the host side.
    let real = fs::canonicalize(source)?;
    if !fs::metadata(&real)?.is_file() {
        return Ok(None);
    }
    let (Some(dir), Some(name)) = (real.parent(), real.file_name()) else {
        return Ok(None);
    };
    let name = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(name))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    Ok(Some((open_path(dir, true)?, name)))
}

/// Opens `path` with `O_PATH | O_CLOEXEC` (and `O_DIRECTORY` when `dir`).
fn open_path(path: &Path, dir: bool) -> io::Result<OwnedFd> {
    let mut flags = libc::O_PATH | libc::O_CLOEXEC;
    if dir {
        flags |= libc::O_DIRECTORY;
    }
    let f = File::options().read(true).custom_flags(flags).open(path)?;
    Ok(f.into())
}

/// `RLIMIT_*` resource numbers (the same on every Linux architecture moat targets).
#[allow(clippy::unnecessary_cast)] // c_int on some libcs
pub fn rlimit_number(t: PosixRlimitType) -> u32 {
    (match t {
        PosixRlimitType::RlimitCpu => libc::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => libc::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => libc::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => libc::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => libc::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => libc::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => libc::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => libc::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => libc::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => libc::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => libc::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => libc::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => libc::RLIMIT_RTTIME,
    }) as u32
}

/// The host's node and domain names (what a container without `hostname` sees).
fn host_names() -> (String, String) {
    // SAFETY: utsname is plain old data; all-zero is a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname writes into the struct we pass and nothing else.
    if unsafe { libc::uname(&mut u) } != 0 {
        return (String::new(), String::new());
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let domain = field(&u.domainname);
    (
        field(&u.nodename),
        if domain == "(none)" {
            String::new()
        } else {
            domain
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct TmpBundle(PathBuf);
    impl Drop for TmpBundle {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn bundle(tag: &str, config: &serde_json::Value) -> TmpBundle {
        let d = std::env::temp_dir().join(format!("moat-bundle-test-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(d.join("rootfs")).unwrap();
        fs::create_dir_all(d.join("data")).unwrap();
        fs::write(d.join("config.json"), serde_json::to_vec(config).unwrap()).unwrap();
        TmpBundle(d)
    }

    fn base() -> serde_json::Value {
        json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs", "readonly": true},
            "process": {"args": ["/bin/sh", "-c", "true"], "cwd": "/", "env": ["PATH=/bin"],
                        "user": {"uid": 1000, "gid": 1000, "additionalGids": [5], "umask": 18},
                        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512}]},
            "hostname": "box",
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]},
                {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup"},
                {"destination": "/data", "type": "bind", "source": "data", "options": ["rbind", "ro"]}
            ],
            "linux": {"namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "mount"}]}
        })
    }

    fn load_err(tag: &str, cfg: serde_json::Value) -> String {
        let b = bundle(tag, &cfg);
        let e = Bundle::load(&b.0).unwrap_err().to_string();
        assert!(!e.contains('\n'), "{e}");
        e
    }

    #[test]
    fn maps_a_full_spec() {
        let b = bundle("full", &base());
        let bundle = Bundle::load(&b.0).unwrap();
        let s = bundle
            .sandbox_spec(SentryOptions::default(), vec![0, 1, 2])
            .unwrap();
        assert_eq!(s.args, ["/bin/sh", "-c", "true"]);
        assert_eq!((s.uid, s.gid, s.umask), (1000, 1000, Some(18)));
        assert_eq!(s.additional_gids, [5]);
        assert_eq!(s.hostname, "box");
        assert!(s.readonly_root);
        assert_eq!(s.mounts.len(), 3, "cgroup is skipped");
        assert!(matches!(s.mounts[0].kind, MountKind::Proc));
        assert!(matches!(s.mounts[1].kind, MountKind::Tmpfs));
        assert!(matches!(
            s.mounts[2].kind,
            MountKind::Bind { readonly: true, .. }
        ));
        assert_eq!(s.rlimits.len(), 1);
        assert_eq!(s.rlimits[0].resource, libc::RLIMIT_NOFILE as u32);
        assert_eq!((s.rlimits[0].soft, s.rlimits[0].hard), (512, 1024));
        let plan = bundle.namespaces().unwrap();
        assert!(plan.new_net);
        assert_ne!(plan.clone_flags & libc::CLONE_NEWNET, 0);
        assert_ne!(plan.clone_flags & libc::CLONE_NEWPID, 0);
    }

    #[test]
    fn missing_bundle_and_config() {
        let e = Bundle::load(Path::new("/nonexistent/moat-bundle"))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "bundle /nonexistent/moat-bundle: no such directory");
        let b = bundle("noconfig", &base());
        fs::remove_file(b.0.join("config.json")).unwrap();
        assert!(Bundle::load(&b.0)
            .unwrap_err()
            .to_string()
            .ends_with("config.json not found"));
        fs::write(b.0.join("config.json"), "{").unwrap();
        assert!(Bundle::load(&b.0)
            .unwrap_err()
            .to_string()
            .starts_with("invalid config.json: "));
    }

    #[test]
    fn config_errors() {
        let mut c = base();
        c.as_object_mut().unwrap().remove("root");
        assert_eq!(
            load_err("noroot", c),
            "invalid config.json: root.path is missing"
        );
        let mut c = base();
        c["root"]["path"] = json!("");
        assert_eq!(
            load_err("emptyroot", c),
            "invalid config.json: root.path is missing"
        );
        let mut c = base();
        c["root"]["path"] = json!("nope");
        assert!(load_err("badroot", c).contains("root.path"));
        let mut c = base();
        c["process"]["args"] = json!([]);
        assert_eq!(
            load_err("noargs", c),
            "invalid config.json: process.args must not be empty"
        );
        let mut c = base();
        c["process"].as_object_mut().unwrap().remove("args");
        assert_eq!(
            load_err("noargs2", c),
            "invalid config.json: process.args must not be empty"
        );
        let mut c = base();
        c.as_object_mut().unwrap().remove("process");
        assert_eq!(
            load_err("noproc", c),
            "invalid config.json: process is missing"
        );
        let mut c = base();
        c["process"]["cwd"] = json!("rel");
        assert!(load_err("cwd", c).contains("process.cwd"));
        let mut c = base();
        c["mounts"] = json!([{"destination": "/x", "type": "nfs", "source": "srv:/x"}]);
        assert!(load_err("nfs", c).contains("unsupported type \"nfs\""));
        let mut c = base();
        c["mounts"] = json!([{"destination": "x", "type": "tmpfs"}]);
        assert!(load_err("reldest", c).contains("not an absolute path"));
        let mut c = base();
        c["mounts"] = json!([{"destination": "/x", "options": ["bind"]}]);
        assert!(load_err("nosrc", c).contains("has no source"));
        let mut c = base();
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]);
        assert!(load_err("rlimit", c).starts_with("invalid config.json"));
        let mut c = base();
        c["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "pid"}]);
        assert!(load_err("dupns", c).contains("listed twice"));
    }

    #[test]
    fn bind_source_must_exist_at_boot() {
        let mut c = base();
        c["mounts"] = json!([{"destination": "/x", "type": "bind", "source": "/nonexistent/src", "options": ["bind"]}]);
        let b = bundle("bindsrc", &c);
        let bundle = Bundle::load(&b.0).unwrap();
        let e = bundle
            .sandbox_spec(SentryOptions::default(), vec![0, 1, 2])
            .unwrap_err()
            .to_string();
        assert!(e.contains("open source /nonexistent/src"), "{e}");
    }

    #[test]
    fn namespace_paths_must_name_their_type() {
        let mut c = base();
        c["linux"]["namespaces"] = json!([{"type": "cgroup", "path": "/proc/self/ns/ipc"}]);
        let b = bundle("nstype", &c);
        let e = Bundle::load(&b.0)
            .unwrap()
            .check_namespace_paths()
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a namespace of that type"), "{e}");
        c["linux"]["namespaces"] = json!([{"type": "ipc", "path": "/proc/self/ns/ipc"},
                                         {"type": "uts", "path": "/proc/self/ns/uts"}]);
        let b = bundle("nstype-ok", &c);
        Bundle::load(&b.0).unwrap().check_namespace_paths().unwrap();
        c["linux"]["namespaces"] = json!([{"type": "network", "path": "/nonexistent/ns"}]);
        let b = bundle("nstype-missing", &c);
        let e = Bundle::load(&b.0)
            .unwrap()
            .check_namespace_paths()
            .unwrap_err()
            .to_string();
        assert!(e.contains("open net namespace /nonexistent/ns"), "{e}");
    }

    #[test]
    fn namespace_plan() {
        let mut c = base();
        // What containerd's CRI plugin gives a pod's app container (uts listed before net).
        c["linux"]["namespaces"] = json!([
            {"type": "uts", "path": "/proc/7/ns/uts"},
            {"type": "network", "path": "/var/run/netns/x"},
            {"type": "ipc", "path": "/proc/7/ns/ipc"},
            {"type": "user"}, {"type": "cgroup"}]);
        let b = bundle("ns", &c);
        let plan = Bundle::load(&b.0).unwrap().namespaces().unwrap();
        assert!(!plan.new_net);
        assert_eq!(
            plan.join,
            [
                (NamespaceKind::Network, PathBuf::from("/var/run/netns/x")),
                (NamespaceKind::Ipc, PathBuf::from("/proc/7/ns/ipc")),
                (NamespaceKind::Uts, PathBuf::from("/proc/7/ns/uts")),
            ]
        );
        assert_eq!(plan.clone_flags & libc::CLONE_NEWNET, 0);
        assert_ne!(plan.clone_flags & libc::CLONE_NEWCGROUP, 0);
        assert_eq!(plan.ignored, ["user namespace"]);
    }
}
