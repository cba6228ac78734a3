//! OCI lifecycle hooks: `prestart`, `createRuntime`, `createContainer`, `startContainer`,
//! `poststart`, `poststop`. Each hook runs with exactly its `env`, its `args` (args[0] is argv[0]),
//! the container's state JSON on stdin, and its `timeout`.
//!
//! `prestart`, `createRuntime`, `poststart` and `poststop` run in the runtime's namespaces.
//! `createContainer` and `startContainer` run, as with runc, in the container's: the sandbox
//! process's pid, network, ipc, uts, cgroup and mount namespaces ([`run_in`]). The container's
//! filesystem lives in the sentry, so the sandbox's mount namespace is a private copy of the
//! host's (with a `/proc` of the sandbox's pid namespace): a hook's path is a host path, where
//! runc resolves `startContainer`'s in the container's root.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::{Hook, Spec};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }

    fn list(self, spec: &Spec) -> Vec<Hook> {
        let Some(h) = spec.hooks() else {
            return Vec::new();
        };
        #[allow(deprecated)]
        let l = match self {
            Kind::Prestart => h.prestart(),
            Kind::CreateRuntime => h.create_runtime(),
            Kind::CreateContainer => h.create_container(),
            Kind::StartContainer => h.start_container(),
            Kind::Poststart => h.poststart(),
            Kind::Poststop => h.poststop(),
        };
        l.clone().unwrap_or_default()
    }
}

pub const ALL: [Kind; 6] = [
    Kind::Prestart,
    Kind::CreateRuntime,
    Kind::CreateContainer,
    Kind::StartContainer,
    Kind::Poststart,
    Kind::Poststop,
];

/// Checks every hook of the spec (absolute path, positive timeout).
pub fn validate(spec: &Spec) -> Result<()> {
    for kind in ALL {
        for (i, h) in kind.list(spec).iter().enumerate() {
            if !h.path().is_absolute() {
                return Err(Error::Config(format!(
                    "hooks.{}[{i}].path {:?} is not an absolute path",
                    kind.name(),
                    h.path()
                )));
            }
            if let Some(t) = h.timeout() {
                if t <= 0 {
                    return Err(Error::Config(format!(
                        "hooks.{}[{i}].timeout must be positive, not {t}",
                        kind.name()
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Runs the `kind` hooks of `spec` in order with `state` (JSON) on stdin; stops at the first
/// failure.
pub fn run(spec: &Spec, kind: Kind, state: &[u8]) -> Result<()> {
    run_hooks(spec, kind, state, None)
}

/// Like [`run`], with the hooks in the namespaces of the sandbox process `pid` (the
/// container's), as runc runs `createContainer` and `startContainer`.
pub fn run_in(spec: &Spec, kind: Kind, state: &[u8], pid: i32) -> Result<()> {
    let hooks = kind.list(spec);
    if hooks.is_empty() {
        return Ok(());
    }
    let ns = Namespaces::of(pid).map_err(|why| {
        Error::Other(format!(
            "error running {} hook: namespaces of pid {pid}: {why}",
            kind.name()
        ))
    })?;
    run_hooks(spec, kind, state, Some(&ns))
}

/// Open namespaces of the sandbox process that differ from ours.
struct Namespaces {
    /// Entered by the hook's process before its exec (`setns` with these `CLONE_NEW*` types).
    enter: Vec<(OwnedFd, libc::c_int)>,
    /// The sandbox's pid namespace and our own: we enter the first for our children while we
    /// spawn a hook (a process cannot change its own pid namespace), then go back.
    pid: Option<(OwnedFd, OwnedFd)>,
}

impl Namespaces {
    fn of(pid: i32) -> std::result::Result<Namespaces, String> {
        use std::os::unix::fs::MetadataExt;
        let open = |path: &str| -> std::result::Result<(OwnedFd, u64), String> {
            let f = File::open(path).map_err(|e| format!("{path}: {e}"))?;
            let ino = f.metadata().map_err(|e| format!("{path}: {e}"))?.ino();
            Ok((f.into(), ino))
        };
        let mut enter = Vec::new();
        // The mount namespace last: entering it changes our root and cwd.
        for (name, flag) in [
            ("net", libc::CLONE_NEWNET),
            ("ipc", libc::CLONE_NEWIPC),
            ("uts", libc::CLONE_NEWUTS),
            ("cgroup", libc::CLONE_NEWCGROUP),
            ("mnt", libc::CLONE_NEWNS),
        ] {
            let (theirs, ino) = open(&format!("/proc/{pid}/ns/{name}"))?;
            let (_, own) = open(&format!("/proc/self/ns/{name}"))?;
            if ino != own {
                enter.push((theirs, flag));
            }
        }
        let (theirs, ino) = open(&format!("/proc/{pid}/ns/pid"))?;
        let (own_fd, own) = open("/proc/self/ns/pid")?;
        let pid = (ino != own).then_some((theirs, own_fd));
        Ok(Namespaces { enter, pid })
    }
}

fn run_hooks(spec: &Spec, kind: Kind, state: &[u8], ns: Option<&Namespaces>) -> Result<()> {
    for (i, h) in kind.list(spec).iter().enumerate() {
        run_one(h, state, ns).map_err(|why| {
            Error::Other(format!("error running {} hook #{i}: {why}", kind.name()))
        })?;
        tracing::debug!(hook = kind.name(), index = i, "hook ran");
    }
    Ok(())
}

/// Runs the hooks and only logs a failure (poststart, poststop: the lifecycle goes on).
pub fn run_warn(spec: &Spec, kind: Kind, state: &[u8]) {
    if let Err(e) = run(spec, kind, state) {
        tracing::warn!("{e}");
    }
}

fn memfd(name: &str) -> std::result::Result<File, String> {
    let c = CString::new(name).map_err(|e| e.to_string())?;
    // SAFETY: valid NUL-terminated name; the returned fd is owned by the File.
    let fd = unsafe { libc::memfd_create(c.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(format!("memfd_create: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: fd is a fresh, owned descriptor.
    Ok(unsafe { File::from_raw_fd(fd) })
}

fn read_back(mut f: File) -> String {
    let mut v = Vec::new();
    let _ = f.seek(SeekFrom::Start(0));
    let _ = f.take(64 * 1024).read_to_end(&mut v);
    crate::logging::one_line(&String::from_utf8_lossy(&v))
}

fn run_one(h: &Hook, state: &[u8], ns: Option<&Namespaces>) -> std::result::Result<(), String> {
    // stdin, stdout and stderr are in-memory files: no pipe can block us or the hook.
    let mut input = memfd("hook-stdin")?;
    input.write_all(state).map_err(|e| e.to_string())?;
    input.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let out = memfd("hook-stdout")?;
    let err = memfd("hook-stderr")?;
    let args = h.args().clone().unwrap_or_default();
    let mut cmd = Command::new(h.path());
    if let Some(a0) = args.first() {
        cmd.arg0(a0);
    }
    cmd.args(args.iter().skip(1)).env_clear();
    for kv in h.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::from(input))
        .stdout(Stdio::from(out.try_clone().map_err(|e| e.to_string())?))
        .stderr(Stdio::from(err.try_clone().map_err(|e| e.to_string())?))
        .current_dir("/")
        .process_group(0);
    if let Some(ns) = ns {
        let enter: Vec<(RawFd, libc::c_int)> =
            ns.enter.iter().map(|(f, t)| (f.as_raw_fd(), *t)).collect();
        // SAFETY: between fork and exec the closure only makes setns calls (async-signal-safe)
        // on fds that stay open until the spawn returned.
        unsafe {
            cmd.pre_exec(move || {
                for &(fd, t) in &enter {
                    if libc::setns(fd, t) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
    }
    let spawned = match ns.and_then(|n| n.pid.as_ref()) {
        Some((theirs, ours)) => {
            // SAFETY: setns on a namespace fd we own; it only changes the pid namespace of
            // the children we create from now on.
            if unsafe { libc::setns(theirs.as_raw_fd(), libc::CLONE_NEWPID) } != 0 {
                return Err(format!(
                    "enter the container's pid namespace: {}",
                    std::io::Error::last_os_error()
                ));
            }
            let r = cmd.spawn();
            // SAFETY: as above; our own (active) pid namespace may always be re-entered.
            if unsafe { libc::setns(ours.as_raw_fd(), libc::CLONE_NEWPID) } != 0 {
                tracing::warn!(
                    "return to our pid namespace: {}",
                    std::io::Error::last_os_error()
                );
            }
            r
        }
        None => cmd.spawn(),
    };
    let mut child = spawned.map_err(|e| format!("{}: {e}", h.path().display()))?;
    drop(cmd);
    let timeout = h
        .timeout()
        .filter(|&t| t > 0)
        .map(|t| Duration::from_secs(t as u64));
    let deadline = timeout.map(|t| Instant::now() + t);
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => {}
            Err(e) => return Err(format!("wait: {e}")),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            // SAFETY: kill(2) on the hook's process group (pgid == its pid).
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "hook ran past specified timeout of {:.1}s",
                timeout.map(|t| t.as_secs_f64()).unwrap_or(0.0)
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    if status.success() {
        return Ok(());
    }
    let why = match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("signal: {}", crate::signal::name(s)),
        _ => "failed".into(),
    };
    Err(format!(
        "{why}, stdout: {}, stderr: {}",
        read_back(out),
        read_back(err)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(hooks: serde_json::Value) -> Spec {
        let mut s = Spec::default();
        s.set_hooks(Some(serde_json::from_value(hooks).unwrap()));
        s
    }

    #[test]
    fn runs_with_state_env_and_args() {
        let dir = std::env::temp_dir().join(format!("moat-hooks-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        let s = spec(json!({"createRuntime": [{
            "path": "/bin/sh",
            "args": ["sh", "-c", "cat > \"$OUT\"; echo \"$0 $1\" >> \"$OUT\"", "a0", "a1"],
            "env": [format!("OUT={}", out.display())]
        }]}));
        run(&s, Kind::CreateRuntime, b"{\"id\":\"x\"}").unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"id\":\"x\"}a0 a1\n"
        );
        run(&s, Kind::Poststop, b"{}").unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failures_and_timeouts() {
        let s = spec(json!({"prestart": [
            {"path": "/bin/true"},
            {"path": "/bin/sh", "args": ["sh", "-c", "echo out; echo err >&2; exit 3"]}
        ]}));
        let e = run(&s, Kind::Prestart, b"{}").unwrap_err().to_string();
        assert_eq!(
            e,
            "error running prestart hook #1: exit status 3, stdout: out, stderr: err"
        );
        let s = spec(json!({"poststart": [
            {"path": "/bin/sleep", "args": ["sleep", "10"], "timeout": 1}
        ]}));
        let t = Instant::now();
        let e = run(&s, Kind::Poststart, b"{}").unwrap_err().to_string();
        assert!(e.contains("timeout of 1.0s"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(5));
        let s = spec(json!({"poststop": [{"path": "rel/hook"}]}));
        assert!(validate(&s).is_err());
        let s = spec(json!({"poststop": [{"path": "/x", "timeout": 0}]}));
        assert!(validate(&s).is_err());
    }
}
