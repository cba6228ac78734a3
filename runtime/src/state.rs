//! Container state on disk: `<root>/<id>/state.json`, written atomically, guarded by an
//! `flock` on `<root>/<id>/.lock`, plus the liveness check of the sandbox process.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::container_id;
use crate::error::{Error, IoContext, Result};

pub const STATE_FILE: &str = "state.json";
pub const CONTROL_SOCKET: &str = "control.sock";
pub const LOCK_FILE: &str = ".lock";
pub const SENTRY_LOG: &str = "sentry.log";
/// The container's config.json as created (exec, hooks and update read it).
pub const CONFIG_FILE: &str = "config.json";
/// `sun_path` holds 108 bytes including the terminating NUL.
pub const MAX_SOCKET_PATH: usize = 107;

/// The OCI lifecycle statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `state.json` holds: the OCI state plus what moat needs to find the sandbox again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    /// The status last recorded; [`Container::status`] also checks the sandbox is alive.
    pub status: Status,
    /// Host pid of the sandbox process (0 while creating).
    pub pid: i32,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 with nanoseconds, UTC.
    pub created: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Start time of the sandbox process (field 22 of `/proc/<pid>/stat`), to detect pid reuse.
    #[serde(default)]
    pub sandbox_start_time: u64,
    /// Version of the moat that created the container (its sandbox speaks that protocol).
    #[serde(default)]
    pub moat_version: String,
    /// The sandbox's cgroup (empty when cgroups were not set up).
    #[serde(default, skip_serializing_if = "crate::cgroups::CgroupPaths::is_empty")]
    pub cgroup: crate::cgroups::CgroupPaths,
    /// For a pod's app container (pod.rs): the id of the pod sandbox whose sentry runs it.
    /// Its `pid` is then the holder process that stands for its init.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
}

/// The state as `runc state` prints it (field order and names as runc's).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState<'a> {
    pub oci_version: &'a str,
    pub id: &'a str,
    pub pid: i32,
    pub status: Status,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: &'a BTreeMap<String, String>,
    pub owner: String,
    /// moat's addition: the pod sandbox a pod's app container runs in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<&'a str>,
}

/// Where the state of container `id` lives.
pub fn container_dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

/// The control socket path, checked against the `sun_path` limit.
pub fn control_socket_path(dir: &Path) -> Result<PathBuf> {
    let p = dir.join(CONTROL_SOCKET);
    let len = p.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(Error::Other(format!(
            "control socket path {} is {len} bytes, longer than the {MAX_SOCKET_PATH} a unix socket \
             allows: use a shorter --root or container id",
            p.display()
        )));
    }
    Ok(p)
}

/// Creates `--root` (mode 0700) if needed.
pub fn ensure_root(root: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .ctx(|| format!("create root directory {}", root.display()))
}

/// An exclusive `flock` on a container's lock file, released on drop.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Blocks until this process holds the container's lock.
    pub fn exclusive(dir: &Path) -> Result<Lock> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| not_exist_or(e, dir, || format!("open {}", path.display())))?;
        loop {
            // SAFETY: flock on an fd we own; no memory is involved.
            let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if r == 0 {
                break;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(Error::io(format!("lock {}", path.display()), e));
            }
        }
        Ok(Lock { _file: file })
    }
}

fn not_exist_or(e: io::Error, dir: &Path, ctx: impl FnOnce() -> String) -> Error {
    if e.kind() == io::ErrorKind::NotFound {
        let id = dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Error::NotExist { id }
    } else {
        Error::io(ctx(), e)
    }
}

/// A container whose state was read from disk.
#[derive(Debug, Clone)]
pub struct Container {
    pub dir: PathBuf,
    pub state: State,
}

impl Container {
    /// Reads `<root>/<id>/state.json`. A missing directory or file is "container does not exist".
    pub fn load(root: &Path, id: &str) -> Result<Container> {
        container_id::validate(id)?;
        let dir = container_dir(root, id);
        let path = dir.join(STATE_FILE);
        let data = fs::read(&path)
            .map_err(|e| not_exist_or(e, &dir, || format!("read {}", path.display())))?;
        let state: State = serde_json::from_slice(&data)
            .map_err(|e| Error::Other(format!("corrupt state file {}: {e}", path.display())))?;
        if state.id != id {
            return Err(Error::Other(format!(
                "state file {} names container {:?}",
                path.display(),
                state.id
            )));
        }
        Ok(Container { dir, state })
    }

    /// Writes `state.json` atomically (temporary file + rename).
    pub fn save(&self) -> Result<()> {
        write_atomic(
            &self.dir.join(STATE_FILE),
            &serde_json::to_vec(&self.state).map_err(json_err)?,
            0o600,
        )
    }

    /// Whether the sandbox process recorded in the state is still the live process.
    pub fn sandbox_alive(&self) -> bool {
        self.state.pid > 0 && process_alive(self.state.pid, self.state.sandbox_start_time)
    }

    /// The status with the sandbox's liveness taken into account.
    pub fn status(&self) -> Status {
        match self.state.status {
            Status::Stopped => Status::Stopped,
            // A create still under way (or one that died half way) has no pid yet.
            Status::Creating if self.state.pid == 0 => Status::Creating,
            s if self.sandbox_alive() => s,
            _ => Status::Stopped,
        }
    }

    /// The pid to report: 0 once stopped, as runc does.
    pub fn reported_pid(&self) -> i32 {
        if self.status() == Status::Stopped {
            0
        } else {
            self.state.pid
        }
    }

    /// The socket to send this container's requests to: its own sandbox's, or for a pod's
    /// app container its pod sandbox's (with [`Container::member`] in the request).
    pub fn control_socket(&self) -> PathBuf {
        match &self.state.sandbox {
            Some(sb) => self
                .dir
                .parent()
                .unwrap_or(Path::new("/"))
                .join(sb)
                .join(CONTROL_SOCKET),
            None => self.dir.join(CONTROL_SOCKET),
        }
    }

    /// The name control requests give this container: Some(id) for a pod's app container.
    pub fn member(&self) -> Option<String> {
        self.state.sandbox.as_ref().map(|_| self.state.id.clone())
    }

    /// The OCI state as hooks get it on stdin.
    pub fn state_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(&self.oci_state(String::new())).map_err(json_err)
    }

    /// The spec the container was created from (the saved copy, else the bundle's).
    pub fn spec(&self) -> Result<oci_spec::runtime::Spec> {
        let saved = self.dir.join(CONFIG_FILE);
        let data = match fs::read(&saved) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let p = self.state.bundle.join("config.json");
                fs::read(&p).map_err(|e| Error::io(format!("read {}", p.display()), e))?
            }
            Err(e) => return Err(Error::io(format!("read {}", saved.display()), e)),
        };
        serde_json::from_slice(&data).map_err(|e| Error::Config(e.to_string()))
    }

    /// The OCI state for `moat state` / `moat list --format json`.
    pub fn oci_state(&self, owner: String) -> OciState<'_> {
        OciState {
            oci_version: &self.state.oci_version,
            id: &self.state.id,
            pid: self.reported_pid(),
            status: self.status(),
            bundle: &self.state.bundle,
            rootfs: &self.state.rootfs,
            created: &self.state.created,
            annotations: &self.state.annotations,
            owner,
            sandbox: self.state.sandbox.as_deref(),
        }
    }
}

fn json_err(e: serde_json::Error) -> Error {
    Error::Other(format!("encode state: {e}"))
}

/// Writes `data` to `path` via a temporary file in the same directory and `rename`: a reader
/// (or a crash of this process) sees the old file or the new one, never a torn one. No fsync,
/// as runc: the state lives under /run, which a reboot empties anyway, and on a disk-backed
/// root each fsync cost about 0.4 ms of every create (five per `run`).
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let write = || -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp)?;
        f.write_all(data)?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io(format!("write {}", path.display()), e)
    })
}

/// `/proc/<pid>/stat`: (state letter, start time in clock ticks since boot).
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let data = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&data)
}

/// Parses the fields after `comm`, which may itself contain spaces and parentheses.
fn parse_stat(data: &str) -> Option<(char, u64)> {
    let rest = &data[data.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // Field 3 is the state; field 22 is starttime, i.e. the 20th after the state.
    let state = fields.next()?.chars().next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// The start time of a live process, for recording in the state.
pub fn process_start_time(pid: i32) -> Option<u64> {
    proc_stat(pid).map(|(_, t)| t)
}

/// True if `pid` exists, is not a zombie, and (when `start_time` is non-zero) is the process that
/// started at that time.
pub fn process_alive(pid: i32, start_time: u64) -> bool {
    match proc_stat(pid) {
        Some((state, start)) => {
            !matches!(state, 'Z' | 'X' | 'x') && (start_time == 0 || start == start_time)
        }
        None => false,
    }
}

/// The user name owning `path` (runc's `owner` column), or `#uid`.
pub fn owner_name(uid: u32) -> String {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    for line in passwd.lines() {
        let mut parts = line.split(':');
        let (Some(name), _, Some(u)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if u.parse() == Ok(uid) {
            return name.to_string();
        }
    }
    format!("#{uid}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("moat-state-test-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn sample(id: &str) -> State {
        State {
            oci_version: "1.0.2".into(),
            id: id.into(),
            status: Status::Created,
            pid: std::process::id() as i32,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2024-01-01T00:00:00.5Z".into(),
            annotations: [("k".to_string(), "v".to_string())].into(),
            sandbox_start_time: process_start_time(std::process::id() as i32).unwrap(),
            moat_version: "0.1.0".into(),
            cgroup: Default::default(),
            sandbox: None,
        }
    }

    #[test]
    fn round_trip() {
        let root = tmpdir("rt");
        let dir = container_dir(&root, "c1");
        fs::create_dir(&dir).unwrap();
        let c = Container {
            dir: dir.clone(),
            state: sample("c1"),
        };
        c.save().unwrap();
        let back = Container::load(&root, "c1").unwrap();
        assert_eq!(back.state, c.state);
        assert_eq!(back.status(), Status::Created);
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(STATE_FILE)]);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn missing_is_not_exist() {
        let root = tmpdir("missing");
        let err = Container::load(&root, "nope").unwrap_err();
        assert!(matches!(err, Error::NotExist { .. }));
        assert_eq!(err.to_string(), "container does not exist");
        assert!(matches!(
            Container::load(&root, "../x").unwrap_err(),
            Error::InvalidId { .. }
        ));
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn corrupt_state_is_an_error() {
        let root = tmpdir("corrupt");
        let dir = container_dir(&root, "c");
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join(STATE_FILE), b"{not json").unwrap();
        assert!(Container::load(&root, "c")
            .unwrap_err()
            .to_string()
            .starts_with("corrupt state file"));
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn dead_or_reused_pid_is_stopped() {
        let mut s = sample("c");
        s.sandbox_start_time += 1; // same pid, different process
        let c = Container {
            dir: "/nonexistent".into(),
            state: s,
        };
        assert_eq!(c.status(), Status::Stopped);
        assert_eq!(c.reported_pid(), 0);
        let mut s = sample("c");
        s.status = Status::Running;
        let c = Container {
            dir: "/nonexistent".into(),
            state: s,
        };
        assert_eq!(c.status(), Status::Running);
    }

    #[test]
    fn stat_parsing() {
        let line = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 12345 1000 10";
        assert_eq!(parse_stat(line), Some(('S', 12345)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn socket_path_limit() {
        assert!(control_socket_path(Path::new("/run/moat/abc")).is_ok());
        let long = PathBuf::from(format!("/{}", "x".repeat(100)));
        assert!(control_socket_path(&long).is_err());
    }
}
