//! Helpers shared by the runc-compatibility tests (exec, process management, cgroups, hooks,
//! terminal, containerd): running the same scenario against moat and against runc, starting
//! long-running containers, waiting for host processes.
#![allow(dead_code)]

use moat_tests::{run_with_timeout, wait_until, Bundle, Output, TestEnv};
use serde_json::Value;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

/// runc, the reference (None when it is not installed: the comparisons are then skipped).
pub fn runc_bin() -> Option<PathBuf> {
    [
        "/usr/sbin/runc",
        "/usr/bin/runc",
        "/usr/local/sbin/runc",
        "/usr/local/bin/runc",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// A test environment whose commands run `bin` instead of moat.
pub fn env_with(bin: &Path, tag: &str) -> TestEnv {
    let mut e = TestEnv::new(tag);
    e.bin = bin.to_path_buf();
    e
}

/// moat's environment, then runc's when runc is installed: `(name, env)`.
pub fn runtimes(tag: &str) -> Vec<(&'static str, TestEnv)> {
    let mut v = vec![("moat", TestEnv::new(tag))];
    if let Some(r) = runc_bin() {
        v.push(("runc", env_with(&r, &format!("{tag}-runc"))));
    }
    v
}

/// `msg="..."` of a logrus line (the whole line when there is none), with the runtime's name
/// replaced by RUNTIME and runc's command prefixes removed, for comparing moat's errors with
/// runc's.
pub fn message(stderr: &str) -> String {
    let line = stderr.lines().last().unwrap_or("").trim();
    let m = match line.find("msg=\"") {
        Some(i) => serde_json::Deserializer::from_str(&line[i + 4..])
            .into_iter::<String>()
            .next()
            .and_then(Result::ok)
            .unwrap_or_else(|| line.to_string()),
        None => line.to_string(),
    };
    m.replace("runc create failed: ", "")
        .replace("runc run failed: ", "")
        .replace("runc", "RUNTIME")
        .replace("moat", "RUNTIME")
}

/// A bundle like [`TestEnv::bundle`] whose rootfs is only the busybox part of the test rootfs
/// (no test programs, no python): these tests need a shell and its tools, and a small copy is
/// made in a fraction of the time.
pub fn small_bundle(env: &TestEnv, name: &str, args: &[&str]) -> Bundle {
    let dir = env.dir().join(name);
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    let mut sh = Command::new("/bin/sh");
    sh.arg("-c")
        .arg(
            "tar -C \"$1\" --exclude=./opt --exclude=./usr/lib --exclude='./usr/bin/python3*' \
             -cf - . | tar -C \"$2\" -xf -",
        )
        .arg("sh")
        .arg(moat_tests::rootfs_dir())
        .arg(&rootfs);
    let o = run_with_timeout(sh, Duration::from_secs(120));
    assert!(o.success(), "copy the rootfs: {}", o.describe());
    let b = Bundle { dir };
    b.write_config(&moat_tests::oci_config(args));
    b
}

/// Runs `args` to completion in a [`small_bundle`] under moat and, when installed, runc, after
/// `edit` adjusted each bundle's config (and files); returns `(runtime, "exit N\n" + stdout)`
/// in that order.
pub fn outputs_under_each(
    tag: &str,
    args: &[&str],
    edit: impl Fn(&mut Value, &Bundle),
) -> Vec<(&'static str, String)> {
    let mut outs = Vec::new();
    for (name, env) in runtimes(tag) {
        let b = small_bundle(&env, "bundle", args);
        let mut c = b.config();
        edit(&mut c, &b);
        b.write_config(&c);
        let (_, o) = env.run_bundle(&b);
        assert!(!o.timed_out, "{name}: {}", o.describe());
        outs.push((name, format!("exit {}\n{}", o.code, o.stdout)));
    }
    outs
}

/// moat's output equals runc's (from [`outputs_under_each`]); without runc the comparison is
/// skipped with a note.
pub fn assert_same_outputs(outs: &[(&'static str, String)]) {
    if outs.len() < 2 {
        eprintln!(
            "SKIP comparison: runc is not installed; moat said:\n{}",
            outs[0].1
        );
        return;
    }
    assert_eq!(
        outs[0].1, outs[1].1,
        "moat and runc differ:\n--- moat\n{}\n--- runc\n{}",
        outs[0].1, outs[1].1
    );
}

/// A bundle running `args`, created and started; returns the id.
pub fn started(env: &TestEnv, name: &str, args: &[&str]) -> (String, Bundle) {
    let b = small_bundle(env, name, args);
    let id = started_bundle(env, &b);
    (id, b)
}

/// Creates and starts `b`; returns the id.
pub fn started_bundle(env: &TestEnv, b: &Bundle) -> String {
    let id = env.new_id();
    let o = env.moat(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert!(o.success(), "create: {}", o.describe());
    let o = env.moat(&["start", &id]);
    assert!(o.success(), "start: {}", o.describe());
    id
}

pub fn status(env: &TestEnv, id: &str) -> Option<String> {
    env.state(id)
        .and_then(|s| s["status"].as_str().map(str::to_string))
}

pub fn wait_status(env: &TestEnv, id: &str, want: &str) -> bool {
    wait_until(Duration::from_secs(15), || {
        status(env, id).as_deref() == Some(want)
    })
}

/// The sandbox (or runc init) pid from `state`.
pub fn state_pid(env: &TestEnv, id: &str) -> i32 {
    env.state(id).and_then(|s| s["pid"].as_i64()).unwrap_or(0) as i32
}

/// Makes this test process a child subreaper (once), so detached processes left by `exec -d`
/// become our children and can be waited for, as containerd's shim does.
pub fn subreaper() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: prctl with integer arguments.
        let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(r, 0, "PR_SET_CHILD_SUBREAPER");
    });
}

/// How a waited-for process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Code(i32),
    Signal(i32),
}

/// Waits for our child (or adopted orphan) `pid` up to `timeout`.
pub fn wait_pid(pid: i32, timeout: Duration) -> Option<Ended> {
    let deadline = Instant::now() + timeout;
    loop {
        let mut st = 0;
        // SAFETY: waitpid on a specific pid, status into our local.
        let r = unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) };
        if r == pid {
            return Some(if libc::WIFEXITED(st) {
                Ended::Code(libc::WEXITSTATUS(st))
            } else {
                Ended::Signal(libc::WTERMSIG(st))
            });
        }
        if r < 0 || Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// An in-memory file for a child's output that can be read while the child runs.
pub struct Capture {
    file: File,
}

impl Capture {
    pub fn new() -> Capture {
        // SAFETY: static NUL-terminated name; the fd is owned by the File.
        let fd = unsafe { libc::memfd_create(c"capture".as_ptr(), libc::MFD_CLOEXEC) };
        assert!(fd >= 0);
        // SAFETY: fresh fd.
        Capture {
            file: unsafe { File::from_raw_fd(fd) },
        }
    }
    pub fn stdio(&self) -> Stdio {
        Stdio::from(self.file.try_clone().unwrap())
    }
    pub fn text(&self) -> String {
        let mut f = self.file.try_clone().unwrap();
        let mut s = Vec::new();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.read_to_end(&mut s).unwrap();
        String::from_utf8_lossy(&s).into_owned()
    }
    /// Waits until the text contains `needle`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.text().contains(needle))
    }
}

/// Spawns `env`'s runtime with `args`, stdout and stderr to `out`, stdin from /dev/null, in
/// its own process group.
pub fn spawn(env: &TestEnv, args: &[&str], out: &Capture) -> Child {
    use std::os::unix::process::CommandExt;
    let mut c = env.moat_cmd(args);
    c.stdin(Stdio::null())
        .stdout(out.stdio())
        .stderr(out.stdio())
        .process_group(0);
    c.spawn().expect("spawn runtime")
}

/// Runs `env`'s runtime with `args` and `stdin` as its standard input.
pub fn with_stdin(env: &TestEnv, args: &[&str], stdin: &[u8]) -> Output {
    let dir = env.dir().join("stdin-file");
    std::fs::write(&dir, stdin).unwrap();
    // run_with_timeout sets stdin to /dev/null; a shell redirects it.
    let mut sh = Command::new("/bin/sh");
    sh.arg("-c")
        .arg("exec \"$@\" < \"$STDIN_FILE\"")
        .arg("sh")
        .arg(&env.bin)
        .arg("--root")
        .arg(&env.root)
        .args(args)
        .env("STDIN_FILE", &dir);
    run_with_timeout(sh, env.timeout)
}

/// Parses JSON output.
pub fn json(o: &Output) -> Value {
    serde_json::from_str(o.stdout.trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", o.describe()))
}

/// The directory of `pid`'s cgroup in the v1 hierarchy of `controller` (or cgroup2 for "").
pub fn cgroup_dir(pid: i32, controller: &str) -> Option<PathBuf> {
    let data = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = data.lines().find_map(|l| {
        let mut it = l.splitn(3, ':');
        let (_, ctrls, p) = (it.next()?, it.next()?, it.next()?);
        let hit = if controller.is_empty() {
            ctrls.is_empty()
        } else {
            ctrls.split(',').any(|c| c == controller)
        };
        hit.then(|| p.to_string())
    })?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    for l in mounts.lines() {
        let (pre, post) = l.split_once(" - ")?;
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        let ok = if controller.is_empty() {
            post[0] == "cgroup2"
        } else {
            post[0] == "cgroup"
                && post
                    .get(2)
                    .is_some_and(|o| o.split(',').any(|c| c == controller))
        };
        if ok {
            let rel = path.strip_prefix(pre[3]).unwrap_or(&path);
            return Some(PathBuf::from(pre[4]).join(rel.trim_start_matches('/')));
        }
    }
    None
}

/// Host pids of `pid` and all its descendants.
pub fn descendants(pid: i32) -> Vec<i32> {
    let mut parent_of = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let ppid = stat[close + 1..]
            .split_whitespace()
            .nth(1)
            .and_then(|x| x.parse::<i32>().ok())
            .unwrap_or(0);
        parent_of.push((p, ppid));
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let cur = out[i];
        out.extend(
            parent_of
                .iter()
                .filter(|(_, pp)| *pp == cur)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    out
}
