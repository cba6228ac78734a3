//! A Kubernetes pod as one sandbox.
//!
//! containerd's CRI plugin creates a pod's sandbox (pause) container first, then each app
//! container with the annotations `io.kubernetes.cri.container-type = container` and
//! `io.kubernetes.cri.sandbox-id = <sandbox's id>`. When that sandbox is a moat container in
//! the same `--root`, `moat create` does not boot a new sentry: it adds the container to the
//! sandbox's running sentry (`--sandbox ID` asks for the same without annotations; the moat
//! shim passes it; `MOAT_JOIN_PODS=0` in moat's environment turns the annotations' effect
//! off, giving every container a sentry of its own). The new
//! container is a *member*: its state directory is its own, but its control requests go to
//! the sandbox's socket, naming it.
//!
//! `create` opens the member's rootfs and bind-mount sources itself (the sentry never opens
//! host paths) and sends them, with its stdio, as `SCM_RIGHTS` with an `add_container`
//! request whose [`MemberSpec`] describes the rest. As with a detached `exec`, a host process
//! (the holder) then stands for the container's init: it keeps the connection, forwards
//! signals, and exits with the init's status; its pid is the container's pid. Killing the
//! holder kills the container.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use serde::{Deserialize, Serialize};

use crate::bundle::Bundle;
use crate::commands::Ctx;
use crate::control::{ExecCaps, ExecProcess};
use crate::error::{Error, Result};
use crate::state::{Container, Status};
use sentry::{MountKind, MountSpec, Rlimit, SandboxSpec};

/// containerd's CRI annotations.
pub const CONTAINER_TYPE: &str = "io.kubernetes.cri.container-type";
pub const SANDBOX_ID: &str = "io.kubernetes.cri.sandbox-id";
/// `MOAT_JOIN_PODS=0` in moat's environment: CRI app containers do not join their pod's
/// sentry (each gets its own).
pub const JOIN_PODS_ENV: &str = "MOAT_JOIN_PODS";

/// The sandbox a new container joins: `--sandbox`, else the one containerd's CRI
/// annotations name for an app container. None: the container gets a sandbox of its own.
pub fn sandbox_for(
    ctx: &Ctx,
    annotations: &BTreeMap<String, String>,
    explicit: Option<&str>,
) -> Result<Option<Container>> {
    let id = match explicit {
        Some(id) => id.to_string(),
        None => {
            if std::env::var_os(JOIN_PODS_ENV).is_some_and(|v| v == "0") {
                return Ok(None);
            }
            if annotations.get(CONTAINER_TYPE).map(String::as_str) != Some("container") {
                return Ok(None);
            }
            match annotations.get(SANDBOX_ID) {
                Some(id) if !id.is_empty() => id.clone(),
                _ => {
                    return Err(Error::Config(format!(
                        "annotation {CONTAINER_TYPE}=container needs {SANDBOX_ID}"
                    )))
                }
            }
        }
    };
    let sandbox = match Container::load(&ctx.root, &id) {
        Ok(c) => c,
        Err(Error::NotExist { .. }) => {
            return Err(Error::Config(format!(
                "pod sandbox {id} does not exist (not a moat container under {})",
                ctx.root.display()
            )))
        }
        Err(e) => return Err(e),
    };
    if let Some(of) = &sandbox.state.sandbox {
        return Err(Error::Config(format!(
            "{id} is a container of pod sandbox {of}, not a sandbox"
        )));
    }
    match sandbox.status() {
        Status::Running | Status::Created => Ok(Some(sandbox)),
        s => Err(Error::State(format!("pod sandbox {id} is {s}"))),
    }
}

/// The host pid of the sandbox's process whose pid in the sandbox's own pid namespace is
/// `ns_pid` (the sentry reports its stubs' pids as it sees them): found among the
/// descendants of `sandbox_pid` by the last field of their `NSpid`.
pub fn host_pid_in_sandbox(sandbox_pid: i32, ns_pid: i32) -> Option<i32> {
    let mut todo = vec![sandbox_pid];
    let mut seen = 0;
    while let Some(pid) = todo.pop() {
        seen += 1;
        if seen > 65536 {
            break;
        }
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok();
        let last = status.as_deref().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .and_then(|v| v.split_whitespace().last())
                .and_then(|v| v.parse::<i32>().ok())
        });
        if pid != sandbox_pid && last == Some(ns_pid) {
            return Some(pid);
        }
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let children = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            todo.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<i32>().ok()),
            );
        }
    }
    None
}

/// One mount of a member, as sent to the sandbox. `bind` and `bind_file` take the next fd
/// sent with the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireMount {
    pub destination: String,
    /// proc, sysfs, tmpfs, devpts, mqueue, bind (a directory or special file), bind_file.
    pub kind: String,
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub readonly: bool,
    /// bind_file: the file's name in the directory whose fd is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The spec's source and type, for /proc/self/mountinfo.
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub fstype: String,
}

/// What `add_container` carries besides its fds: stdin, stdout, stderr, the rootfs, then one
/// per bind mount in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSpec {
    pub process: ExecProcess,
    #[serde(default)]
    pub readonly_root: bool,
    #[serde(default)]
    pub mounts: Vec<WireMount>,
    /// (RLIMIT_* number, soft, hard).
    #[serde(default)]
    pub rlimits: Vec<(u32, u64, u64)>,
    #[serde(default)]
    pub umask: Option<u32>,
    #[serde(default)]
    pub oom_score_adj: i32,
    /// The OCI `linux.seccomp` section, resolved by the sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<serde_json::Value>,
    /// Joins the sandbox's pid namespace instead of getting its own.
    #[serde(default)]
    pub share_pids: bool,
    /// `linux.maskedPaths` and `linux.readonlyPaths`.
    #[serde(default)]
    pub masked_paths: Vec<String>,
    #[serde(default)]
    pub readonly_paths: Vec<String>,
    /// `linux.devices`.
    #[serde(default)]
    pub devices: Vec<WireDevice>,
}

/// A `linux.devices` entry, as sent to the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireDevice {
    pub path: String,
    pub kind: char,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Whether a member shares the sandbox's pid namespace: containerd asks for that with a
/// pid namespace whose path is the pause process's (`shareProcessNamespace: true`), and a
/// spec without a pid namespace runs in its parent's. A pid namespace without a path is a
/// new one, as for any other container.
pub fn shares_pids(spec: &oci_spec::runtime::Spec) -> bool {
    use oci_spec::runtime::LinuxNamespaceType;
    let pid_ns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .and_then(|ns| ns.iter().find(|n| n.typ() == LinuxNamespaceType::Pid));
    match pid_ns {
        None => true,
        Some(n) => n.path().is_some(),
    }
}

/// Builds the request for `bundle` (stdio: the host fds that become the container's 0, 1, 2):
/// opens its rootfs and mount sources; returns the spec and the fds to send, in order.
pub fn encode(bundle: &Bundle, stdio: [RawFd; 3]) -> Result<(MemberSpec, Vec<OwnedFd>)> {
    let ss: SandboxSpec = bundle.sandbox_spec(sentry::SentryOptions::default(), stdio.to_vec())?;
    let mut fds = vec![ss.rootfs];
    let mut mounts = Vec::new();
    for m in ss.mounts {
        let (kind, readonly, name) = match m.kind {
            MountKind::Proc => ("proc", false, None),
            MountKind::Sysfs => ("sysfs", false, None),
            MountKind::Tmpfs => ("tmpfs", false, None),
            MountKind::Devpts => ("devpts", false, None),
            MountKind::Mqueue => ("mqueue", false, None),
            MountKind::Bind { source, readonly } => {
                fds.push(source);
                ("bind", readonly, None)
            }
            MountKind::BindFile {
                dir,
                name,
                readonly,
            } => {
                fds.push(dir);
                (
                    "bind_file",
                    readonly,
                    Some(name.to_string_lossy().into_owned()),
                )
            }
        };
        mounts.push(WireMount {
            destination: m.destination,
            kind: kind.into(),
            options: m.options,
            readonly,
            name,
            source: m.source,
            fstype: m.fstype,
        });
    }
    let seccomp = bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| Error::Config(format!("linux.seccomp: {e}")))?;
    let spec = MemberSpec {
        process: ExecProcess {
            args: ss.args,
            env: ss.env,
            cwd: ss.cwd,
            uid: ss.uid,
            gid: ss.gid,
            additional_gids: ss.additional_gids,
            capabilities: ss.capabilities.map(|c| ExecCaps {
                effective: c.effective,
                permitted: c.permitted,
                inheritable: c.inheritable,
                bounding: c.bounding,
                ambient: c.ambient,
            }),
            no_new_privs: ss.no_new_privs,
            fds: Vec::new(),
        },
        readonly_root: ss.readonly_root,
        mounts,
        rlimits: ss
            .rlimits
            .iter()
            .map(|r| (r.resource, r.soft, r.hard))
            .collect(),
        umask: ss.umask,
        oom_score_adj: ss.oom_score_adj,
        seccomp,
        share_pids: shares_pids(&bundle.spec),
        masked_paths: ss.masked_paths,
        readonly_paths: ss.readonly_paths,
        devices: ss
            .devices
            .into_iter()
            .map(|d| WireDevice {
                path: d.path,
                kind: d.kind,
                major: d.major,
                minor: d.minor,
                mode: d.mode,
                uid: d.uid,
                gid: d.gid,
            })
            .collect(),
    };
    Ok((spec, fds))
}

/// The sandbox's side: the sentry's container spec from a request and the fds that came with
/// it (stdio first). Checks everything a client could get wrong.
pub fn decode(
    name: String,
    spec: MemberSpec,
    fds: Vec<OwnedFd>,
) -> std::result::Result<sentry::ContainerSpec, String> {
    let binds = spec
        .mounts
        .iter()
        .filter(|m| m.kind == "bind" || m.kind == "bind_file")
        .count();
    if fds.len() != 4 + binds {
        return Err(format!(
            "add_container: {} fds for stdio, rootfs and {binds} bind mounts, got {}",
            4 + binds,
            fds.len()
        ));
    }
    if spec.process.args.is_empty() {
        return Err("process args cannot be empty".into());
    }
    let mut fds = fds.into_iter();
    let stdio: Vec<Option<OwnedFd>> = fds.by_ref().take(3).map(Some).collect();
    let rootfs = fds.next().ok_or("add_container: no rootfs fd")?;
    let mut mounts = Vec::new();
    for m in spec.mounts {
        let kind = match m.kind.as_str() {
            "proc" => MountKind::Proc,
            "sysfs" => MountKind::Sysfs,
            "tmpfs" => MountKind::Tmpfs,
            "devpts" => MountKind::Devpts,
            "mqueue" => MountKind::Mqueue,
            "bind" => MountKind::Bind {
                source: fds.next().ok_or("add_container: missing bind fd")?,
                readonly: m.readonly,
            },
            "bind_file" => {
                let name = m
                    .name
                    .filter(|n| !n.is_empty() && !n.contains('/'))
                    .and_then(|n| CString::new(n).ok())
                    .ok_or_else(|| format!("mount {}: bad file name", m.destination))?;
                MountKind::BindFile {
                    dir: fds.next().ok_or("add_container: missing bind fd")?,
                    name,
                    readonly: m.readonly,
                }
            }
            other => return Err(format!("mount {}: unknown kind {other:?}", m.destination)),
        };
        mounts.push(MountSpec {
            destination: m.destination,
            kind,
            options: m.options,
            source: m.source,
            fstype: m.fstype,
        });
    }
    let seccomp = match spec.seccomp {
        None => None,
        Some(v) => {
            let sc: oci_spec::runtime::LinuxSeccomp =
                serde_json::from_value(v).map_err(|e| format!("linux.seccomp: {e}"))?;
            crate::bundle::seccomp_profile_of(Some(&sc)).map_err(|e| e.to_string())?
        }
    };
    let p = spec.process;
    Ok(sentry::ContainerSpec {
        name,
        rootfs,
        readonly_root: spec.readonly_root,
        mounts,
        rlimits: spec
            .rlimits
            .into_iter()
            .map(|(resource, soft, hard)| Rlimit {
                resource,
                soft,
                hard,
            })
            .collect(),
        umask: spec.umask,
        oom_score_adj: spec.oom_score_adj,
        seccomp,
        share_pids: spec.share_pids,
        masked_paths: spec.masked_paths,
        readonly_paths: spec.readonly_paths,
        devices: spec
            .devices
            .into_iter()
            .map(|d| sentry::DeviceSpec {
                path: d.path,
                kind: d.kind,
                major: d.major,
                minor: d.minor,
                mode: d.mode,
                uid: d.uid,
                gid: d.gid,
            })
            .collect(),
        process: sentry::ExecSpec {
            args: p.args,
            env: p.env,
            cwd: p.cwd,
            uid: p.uid,
            gid: p.gid,
            additional_gids: p.additional_gids,
            stdio,
            capabilities: p.capabilities.map(|c| sentry::control::CapSets {
                effective: c.effective,
                permitted: c.permitted,
                inheritable: c.inheritable,
                bounding: c.bounding,
                ambient: c.ambient,
            }),
            no_new_privs: p.no_new_privs,
        },
    })
}

/// Raw numbers of the fds to send.
pub fn raw(fds: &[OwnedFd]) -> Vec<RawFd> {
    fds.iter().map(AsRawFd::as_raw_fd).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd() -> OwnedFd {
        std::fs::File::open("/").unwrap().into()
    }

    fn spec(mounts: Vec<WireMount>) -> MemberSpec {
        MemberSpec {
            process: ExecProcess {
                args: vec!["sh".into()],
                cwd: "/".into(),
                ..Default::default()
            },
            readonly_root: false,
            mounts,
            rlimits: vec![(7, 10, 20)],
            umask: None,
            oom_score_adj: 3,
            seccomp: None,
            share_pids: false,
            masked_paths: vec![],
            readonly_paths: vec![],
            devices: vec![],
        }
    }

    fn with_pid_ns(ns: serde_json::Value) -> oci_spec::runtime::Spec {
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "linux": {"namespaces": ns}
        }))
        .unwrap()
    }

    #[test]
    fn pid_namespace_sharing_follows_the_spec() {
        use serde_json::json;
        // containerd: a new pid namespace per container unless the pod shares one.
        assert!(!shares_pids(&with_pid_ns(
            json!([{"type": "pid"}, {"type": "mount"}])
        )));
        assert!(shares_pids(&with_pid_ns(
            json!([{"type": "pid", "path": "/proc/42/ns/pid"}])
        )));
        assert!(shares_pids(&with_pid_ns(json!([{"type": "mount"}]))));
    }

    #[test]
    fn decode_checks_the_fd_count_and_names() {
        let bind = WireMount {
            destination: "/data".into(),
            kind: "bind".into(),
            options: vec![],
            readonly: false,
            name: None,
            source: String::new(),
            fstype: String::new(),
        };
        let e = decode(
            "c".into(),
            spec(vec![bind.clone()]),
            vec![fd(), fd(), fd(), fd()],
        )
        .unwrap_err();
        assert!(e.contains("5 fds"), "{e}");
        let ok = decode(
            "c".into(),
            spec(vec![bind]),
            vec![fd(), fd(), fd(), fd(), fd()],
        )
        .unwrap();
        assert_eq!(ok.mounts.len(), 1);
        assert_eq!(ok.rlimits[0].soft, 10);
        let evil = WireMount {
            destination: "/x".into(),
            kind: "bind_file".into(),
            options: vec![],
            readonly: false,
            name: Some("../../etc/shadow".into()),
            source: String::new(),
            fstype: String::new(),
        };
        let e = decode(
            "c".into(),
            spec(vec![evil]),
            vec![fd(), fd(), fd(), fd(), fd()],
        )
        .unwrap_err();
        assert!(e.contains("bad file name"), "{e}");
        let mut empty = spec(vec![]);
        empty.process.args.clear();
        assert!(decode("c".into(), empty, vec![fd(), fd(), fd(), fd()]).is_err());
    }

    #[test]
    fn wire_roundtrip() {
        let s = spec(vec![]);
        let j = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<MemberSpec>(&j).unwrap(), s);
    }
}
