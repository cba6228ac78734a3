//! Shared helpers for moat's integration tests (tests/tests/*.rs).
//!
//! The tests drive the real `moat` binary (`$MOAT_BIN`, else `target/release/moat`) against
//! real OCI bundles whose rootfs is a copy of `build/rootfs` (made by `make rootfs`;
//! `$MOAT_TEST_ROOTFS` overrides). Every test gets its own temporary directory holding its
//! bundles and its `--root` state directory, and every container it creates is
//! `moat delete -f`'d when the [`TestEnv`] is dropped, also when the test fails.
//!
//! Every child process runs with a deadline (`$MOAT_TEST_TIMEOUT` seconds, default 30):
//! a hang is killed and reported as a failure instead of hanging CI.
//!
//! The tests need root (namespaces, chroot, ptrace of the workload). When not run as
//! root they print a `SKIP` line and pass; see [`require_root!`].

pub mod containerd;
pub mod corpus;
pub mod host_state;

use serde_json::{json, Value};
use std::ffi::CString;
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::FromRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `PATH` of every workload and native comparison run (the OCI default).
pub const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Hostname the test configs give the sandbox.
pub const HOSTNAME: &str = "moat-test";
/// RLIMIT_NOFILE the test configs set (and native runs apply too, so `ulimit -n` compares).
pub const NOFILE: u64 = 1024;
/// The release the sentry reports by default (`SentryOptions::default`).
pub const DEFAULT_SENTRY_RELEASE: &str = "6.1.0-moat";

/// Environment of every workload: the same inside moat and in native comparison runs.
pub fn default_env() -> Vec<String> {
    vec![
        PATH_ENV.to_string(),
        "HOME=/root".to_string(),
        "TERM=xterm".to_string(),
    ]
}

/// Skips the current test (returns from it) with a message when not running as root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::is_root() {
            eprintln!(
                "SKIP {}: moat integration tests must run as root (namespaces, chroot, ptrace)",
                module_path!()
            );
            return;
        }
    };
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The workspace root (parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The moat binary under test: `$MOAT_BIN`, else `$CARGO_TARGET_DIR/release/moat`, else
/// `<workspace>/target/release/moat`. Panics (fails the test) when it does not exist.
pub fn moat_bin() -> PathBuf {
    let p = if let Some(b) = std::env::var_os("MOAT_BIN") {
        let b = PathBuf::from(b);
        if b.components().count() == 1 {
            which(&b).unwrap_or(b)
        } else {
            b
        }
    } else if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        let t = PathBuf::from(t);
        let t = if t.is_absolute() {
            t
        } else {
            workspace_root().join(t)
        };
        t.join("release/moat")
    } else {
        workspace_root().join("target/release/moat")
    };
    assert!(
        p.is_file(),
        "moat binary not found at {}: run `make build` (or set MOAT_BIN)",
        p.display()
    );
    p
}

fn which(name: &Path) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The prepared rootfs (`$MOAT_TEST_ROOTFS`, else `<workspace>/build/rootfs`).
pub fn rootfs_dir() -> PathBuf {
    let p = std::env::var_os("MOAT_TEST_ROOTFS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("build/rootfs"));
    assert!(
        p.join("bin/sh").exists() || p.join("bin/sh").is_symlink(),
        "test rootfs not found at {}: run `make rootfs` (or set MOAT_TEST_ROOTFS)",
        p.display()
    );
    p
}

/// Per-child-process deadline (`$MOAT_TEST_TIMEOUT` seconds, default 30).
pub fn default_timeout() -> Duration {
    let secs = std::env::var("MOAT_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(30);
    Duration::from_secs(secs)
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(tag: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let tag: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(20)
        .collect();
    format!("{}-{}-{}", std::process::id(), n, tag)
}

// ------------------------------------------------------------------------------------------
// Temporary directories

/// A temporary directory removed on drop. It is never removed while something is mounted
/// below it (a leaked mount is reported instead, and the directory is left for inspection).
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let base = std::env::var_os("MOAT_TEST_TMPDIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let path = base.join(format!("moat-test-{}", unique(tag)));
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TempDir { path }
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("MOAT_TEST_KEEP").is_some() {
            eprintln!("MOAT_TEST_KEEP: leaving {}", self.path.display());
            return;
        }
        let under = mounts_under(&self.path);
        if !under.is_empty() {
            eprintln!(
                "not removing {}: mounts below it: {:?}",
                self.path.display(),
                under
            );
            return;
        }
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Mount points (from /proc/self/mountinfo) at or below `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let d = dir.to_string_lossy().to_string();
    mountinfo()
        .iter()
        .filter_map(|l| l.split(' ').nth(4).map(unescape_mountinfo))
        .filter(|mp| mp == &d || mp.starts_with(&format!("{d}/")))
        .collect()
}

fn unescape_mountinfo(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Lines of /proc/self/mountinfo.
pub fn mountinfo() -> Vec<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

// ------------------------------------------------------------------------------------------
// Running child processes with a deadline

/// What a child process did.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code, or 128+N when killed by signal N (the convention of `runc run` and shells).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// The deadline passed and the child's process group was SIGKILLed.
    pub timed_out: bool,
    /// What was run (for messages).
    pub what: String,
}

impl Output {
    pub fn success(&self) -> bool {
        !self.timed_out && self.code == 0
    }
    /// A multi-line description for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "{}\n  exit: {}{}\n  stdout: {:?}\n  stderr: {:?}",
            self.what,
            self.code,
            if self.timed_out {
                " (TIMED OUT, killed)"
            } else {
                ""
            },
            truncate(&self.stdout, 4000),
            truncate(&self.stderr, 4000),
        )
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        s.to_string()
    } else {
        let mut end = n;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...[{} more bytes]", &s[..end], s.len() - end)
    }
}

/// An anonymous in-memory file used to capture a child's stdout/stderr. A file, not a pipe,
/// so that a process that outlives the command (a sandbox left behind by a bug, a detached
/// container) can never block the test on a read.
fn capture_file(name: &str) -> File {
    let c = CString::new(name).unwrap();
    // SAFETY: valid NUL-terminated name; the returned fd is owned by the File.
    let fd = unsafe { libc::memfd_create(c.as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
    // SAFETY: fd is a fresh, owned descriptor.
    unsafe { File::from_raw_fd(fd) }
}

fn read_capture(mut f: File) -> String {
    let mut v = Vec::new();
    let _ = f.seek(SeekFrom::Start(0));
    let _ = f.read_to_end(&mut v);
    String::from_utf8_lossy(&v).into_owned()
}

/// Runs `cmd` with stdin from /dev/null, capturing stdout and stderr, in its own process
/// group. After `timeout` the whole process group is SIGKILLed and the result is marked
/// `timed_out`.
pub fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Output {
    let what = format!("{cmd:?}");
    let out = capture_file("stdout");
    let err = capture_file("stderr");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(err.try_clone().unwrap()))
        .process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => panic!("cannot spawn {what}: {e}"),
    };
    drop(cmd); // closes the parent's copies of the capture fds held by the Command
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => {}
            Err(e) => panic!("wait for {what}: {e}"),
        }
        if Instant::now() >= deadline {
            timed_out = true;
            // SAFETY: kill(2) on the child's process group (pgid == child pid).
            unsafe {
                libc::kill(-(child.id() as i32), libc::SIGKILL);
            }
            let _ = child.kill();
            break child.wait().expect("wait after kill");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let code = match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => -1,
    };
    Output {
        code,
        stdout: read_capture(out),
        stderr: read_capture(err),
        timed_out,
        what: truncate(&what, 600),
    }
}

/// Runs `args` natively, chrooted into `rootfs`, with exactly [`default_env`] as
/// environment, umask 022, RLIMIT_NOFILE [`NOFILE`] and no core dumps (what the test configs give a
/// sandbox), cwd `/`, stdin /dev/null. `rootfs` should be a private copy: scripts write.
pub fn run_native(rootfs: &Path, args: &[&str], timeout: Duration) -> Output {
    let mut cmd = Command::new("chroot");
    cmd.arg(rootfs).args(args).env_clear().current_dir("/");
    for kv in default_env() {
        let (k, v) = kv.split_once('=').unwrap();
        cmd.env(k, v);
    }
    // `chroot` itself is found through the PATH given to the child.
    // SAFETY: only async-signal-safe calls (umask, setrlimit) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            native_limits();
            Ok(())
        });
    }
    run_with_timeout(cmd, timeout)
}

/// The limits of the sandbox's workload, for a native comparison run: umask 022,
/// RLIMIT_NOFILE [`NOFILE`], no core dumps. Only async-signal-safe calls, so it can run between
/// fork and exec (`pre_exec`).
pub fn native_limits() {
    let rl = libc::rlimit {
        rlim_cur: NOFILE,
        rlim_max: NOFILE,
    };
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: umask and setrlimit only change this process's attributes.
    unsafe {
        libc::umask(0o022);
        libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
    }
}

/// Copies `src` to `dst` preserving everything (`cp -a --reflink=auto`): fast, and never
/// shares inodes with the original, so a write through a bundle cannot damage build/rootfs.
pub fn copy_tree(src: &Path, dst: &Path) {
    let mut cmd = Command::new("cp");
    cmd.arg("-a").arg("--reflink=auto").arg(src).arg(dst);
    let o = run_with_timeout(cmd, Duration::from_secs(120));
    assert!(o.success(), "copying the rootfs failed: {}", o.describe());
}

/// Copies the test rootfs `src` to `dst` without python3's standard library (a third of the
/// rootfs, and only the python corpus needs it): most tests make a private copy per run, and
/// CI has two CPUs.
pub fn copy_rootfs_lite(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    let script = "tar -C \"$1\" --exclude='./usr/lib/python3*' -cf - . | tar -C \"$2\" -xf -";
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script, "sh"]).arg(src).arg(dst);
    let o = run_with_timeout(cmd, Duration::from_secs(120));
    assert!(o.success(), "copying the rootfs failed: {}", o.describe());
}

// ------------------------------------------------------------------------------------------
// OCI configs and bundles

/// A minimal OCI config running `args` as uid/gid 0 with [`default_env`], cwd `/`, a
/// writable root at `rootfs`, hostname [`HOSTNAME`], `/proc` and a tmpfs `/dev`, and new
/// pid, ipc, uts, mount and network namespaces.
/// The capabilities this (test) process has in its bounding set: the tests' containers run
/// as a root as privileged as the native runs they are compared with (without
/// `process.capabilities` a runc-style runtime gives the process none; runc refuses a set
/// the host cannot grant).
pub fn host_caps() -> Vec<&'static str> {
    let bnd = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(0);
    ALL_CAPS
        .iter()
        .enumerate()
        .filter(|(i, _)| bnd & (1u64 << i) != 0)
        .map(|(_, c)| *c)
        .collect()
}

/// Every capability Linux 6.x has, by number.
pub const ALL_CAPS: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

pub fn oci_config(args: &[&str]) -> Value {
    let caps = host_caps();
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": args,
            "env": default_env(),
            "cwd": "/",
            "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": NOFILE, "soft": NOFILE } ],
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps
            },
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": false },
        "hostname": HOSTNAME,
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] }
        ],
        "linux": {
            "namespaces": [
                { "type": "pid" }, { "type": "ipc" }, { "type": "uts" },
                { "type": "mount" }, { "type": "network" }
            ]
        }
    })
}

/// An OCI bundle directory: `config.json` + `rootfs/` (a private copy of the test rootfs).
pub struct Bundle {
    pub dir: PathBuf,
}

impl Bundle {
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    pub fn write_config(&self, config: &Value) {
        fs::write(
            self.config_path(),
            serde_json::to_vec_pretty(config).unwrap(),
        )
        .expect("write config.json");
    }
    pub fn config(&self) -> Value {
        serde_json::from_slice(&fs::read(self.config_path()).expect("read config.json"))
            .expect("parse config.json")
    }
    /// Replaces `process.args`.
    pub fn set_args(&self, args: &[&str]) {
        let mut c = self.config();
        c["process"]["args"] = json!(args);
        self.write_config(&c);
    }
}

// ------------------------------------------------------------------------------------------
// A test's world: temp dir, --root, bundles, containers

/// One test's environment. Holds a temp dir with the bundles and the `--root` state dir;
/// on drop, `moat delete -f`s every container id it handed out, then removes the temp dir.
pub struct TestEnv {
    pub bin: PathBuf,
    /// `--root` passed to every moat command.
    pub root: PathBuf,
    pub timeout: Duration,
    ids: Mutex<Vec<String>>,
    tag: String,
    // Dropped last (fields drop in declaration order, after Drop::drop).
    tmp: TempDir,
}

impl TestEnv {
    /// A fresh environment; `tag` only makes paths and ids readable.
    pub fn new(tag: &str) -> TestEnv {
        let bin = moat_bin();
        let tmp = TempDir::new(tag);
        let root = tmp.path().join("state");
        TestEnv {
            bin,
            root,
            timeout: default_timeout(),
            ids: Mutex::new(Vec::new()),
            tag: tag.to_string(),
            tmp,
        }
    }

    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    /// A new unique container id, deleted (`delete -f`) when the environment is dropped.
    pub fn new_id(&self) -> String {
        let id = format!("mt-{}", unique(&self.tag));
        self.ids.lock().unwrap().push(id.clone());
        id
    }

    /// A private copy of the test rootfs at `<tmp>/<name>` (for native runs).
    pub fn rootfs_copy(&self, name: &str) -> PathBuf {
        let dst = self.dir().join(name);
        copy_rootfs_lite(&rootfs_dir(), &dst);
        dst
    }

    /// A new bundle `<tmp>/<name>` with a private rootfs copy and [`oci_config`]`(args)`.
    pub fn bundle(&self, name: &str, args: &[&str]) -> Bundle {
        let dir = self.dir().join(name);
        fs::create_dir_all(&dir).unwrap();
        copy_rootfs_lite(&rootfs_dir(), &dir.join("rootfs"));
        let b = Bundle { dir };
        b.write_config(&oci_config(args));
        b
    }

    /// `moat --root <root> ARGS...` (not yet run).
    pub fn moat_cmd<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root).args(args);
        c
    }

    /// Runs `moat --root <root> ARGS...` with the deadline.
    pub fn moat<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        run_with_timeout(self.moat_cmd(args), self.timeout)
    }

    /// `moat --root <root> run --bundle <bundle> <new id>`; returns the id too.
    pub fn run_bundle(&self, bundle: &Bundle) -> (String, Output) {
        let id = self.new_id();
        let o = self.moat(&[
            "run".as_ref(),
            "--bundle".as_ref(),
            bundle.dir.as_os_str(),
            id.as_ref(),
        ]);
        (id, o)
    }

    /// [`TestEnv::run_bundle`] from `/` with its own deadline, for runs longer than the
    /// default one (fuzzers, the corpus).
    pub fn run_bundle_from_root(&self, bundle: &Bundle, timeout: Duration) -> (String, Output) {
        let id = self.new_id();
        let mut cmd = self.moat_cmd(&[
            "run".as_ref(),
            "--bundle".as_ref(),
            bundle.dir.as_os_str(),
            id.as_ref(),
        ]);
        cmd.current_dir("/");
        (id, run_with_timeout(cmd, timeout))
    }

    /// Runs `/bin/sh -c SCRIPT` under moat in a new bundle; returns the output and the bundle.
    pub fn run_script(&self, name: &str, script: &str) -> (Output, Bundle) {
        let b = self.bundle(name, &["/bin/sh", "-c", script]);
        let (_, o) = self.run_bundle(&b);
        (o, b)
    }

    /// Runs `/bin/sh -c SCRIPT` natively (chroot) in a new private rootfs copy.
    pub fn run_script_native(&self, name: &str, script: &str) -> Output {
        let r = self.rootfs_copy(name);
        run_native(&r, &["/bin/sh", "-c", script], self.timeout)
    }

    /// `moat state ID` parsed as JSON, or None when the command fails.
    pub fn state(&self, id: &str) -> Option<Value> {
        let o = self.moat(&["state", id]);
        if !o.success() {
            return None;
        }
        serde_json::from_str(&o.stdout).ok()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let ids = std::mem::take(&mut *self.ids.lock().unwrap_or_else(|e| e.into_inner()));
        for id in ids {
            let mut c = Command::new(&self.bin);
            c.arg("--root").arg(&self.root).args(["delete", "-f", &id]);
            let _ = run_with_timeout(c, Duration::from_secs(15));
        }
    }
}

// ------------------------------------------------------------------------------------------
// Leftover checks

/// Live processes (not zombies) other than this one whose command line contains `needle`.
pub fn processes_matching(needle: &str) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let mut v = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return v;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(raw) = fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if !cmdline.contains(needle) {
            continue;
        }
        if proc_state(pid) == Some('Z') {
            continue;
        }
        v.push((pid, cmdline.trim_end().to_string()));
    }
    v
}

/// The state letter of /proc/PID/stat (R, S, Z, ...).
pub fn proc_state(pid: i32) -> Option<char> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &s[s.rfind(')')? + 1..];
    after.trim_start().chars().next()
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The host's kernel release (`uname -r`).
pub fn host_release() -> String {
    // SAFETY: utsname is plain data; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::uname(&mut u) }, 0);
    // SAFETY: uname NUL-terminates the fields.
    unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// The release the sentry is expected to report: `$MOAT_EXPECT_RELEASE` or the default.
pub fn expected_release() -> String {
    std::env::var("MOAT_EXPECT_RELEASE").unwrap_or_else(|_| DEFAULT_SENTRY_RELEASE.to_string())
}

/// Parses `key=value` lines.
pub fn kv_lines(s: &str) -> std::collections::BTreeMap<String, String> {
    s.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
