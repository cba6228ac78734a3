//! Exit statuses. The shim is a child subreaper (containerd_shim sets PR_SET_CHILD_SUBREAPER),
//! so the sandbox process `moat create` leaves behind, and the host process `moat exec --detach`
//! leaves for an exec'd process, become its children when their parents exit. containerd_shim's
//! SIGCHLD thread reaps every child with waitpid and hands (pid, status) to its monitor; both the
//! moat commands the shim runs and the watcher here subscribe to it.
//!
//! A container's process may exit before the shim has read its pid from the pid file, so an exit
//! nobody claimed is kept for a while ([`take`]) and claimed when the pid becomes known.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek};
use std::process::{Command, Stdio};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use containerd_shim::monitor::{monitor_subscribe, Subject, Topic};

/// Unclaimed exits older than this are forgotten (they were moat commands or strangers).
const KEEP_UNCLAIMED: Duration = Duration::from_secs(300);

#[derive(Default)]
struct Registry {
    /// Pids of moat commands being run by [`run`]: their exits are theirs.
    commands: HashSet<i32>,
    /// pid -> (status, when it was reaped).
    unclaimed: HashMap<i32, (i32, Instant)>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Default::default);

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    // A panic while holding the lock cannot leave the maps inconsistent: keep going.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts the thread that records every reaped child and then calls `on_exit(pid)`, which
/// claims the exit with [`take`] if the pid is one of the shim's processes. Call it before any
/// container process is started.
pub fn start_watcher(on_exit: impl Fn(i32) + Send + 'static) -> std::io::Result<()> {
    let sub = monitor_subscribe(Topic::Pid).map_err(std::io::Error::other)?;
    std::thread::Builder::new()
        .name("exit-watcher".into())
        .spawn(move || {
            for ev in sub.rx.iter() {
                let Subject::Pid(pid) = ev.subject else {
                    continue;
                };
                {
                    let mut r = registry();
                    if r.commands.remove(&pid) {
                        continue;
                    }
                    let now = Instant::now();
                    r.unclaimed
                        .retain(|_, (_, at)| now.duration_since(*at) < KEEP_UNCLAIMED);
                    r.unclaimed.insert(pid, (ev.exit_code, now));
                }
                on_exit(pid);
            }
        })?;
    Ok(())
}

/// The exit status of `pid` if it was reaped at or after `since` and nobody took it yet.
pub fn take(pid: i32, since: Instant) -> Option<i32> {
    let mut r = registry();
    match r.unclaimed.get(&pid) {
        Some(&(code, at)) if at >= since => {
            r.unclaimed.remove(&pid);
            Some(code)
        }
        _ => None,
    }
}

/// What a finished command left.
#[derive(Debug)]
pub struct Finished {
    /// Exit code; 128+N when signal N killed it.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

/// Runs `cmd` to completion with the monitor as the source of its status (std's wait would
/// race containerd_shim's reaper). stdout and stderr go to unnamed temporary files unless the
/// caller set them, so a process left behind holding them cannot make this hang. After
/// `timeout` the command is killed.
pub fn run(
    mut cmd: Command,
    input: Option<&[u8]>,
    capture: bool,
    timeout: Duration,
) -> std::io::Result<Finished> {
    let mut out = None;
    let mut err = None;
    if capture {
        let o = tempfile::tempfile()?;
        let e = tempfile::tempfile()?;
        cmd.stdout(Stdio::from(o.try_clone()?));
        cmd.stderr(Stdio::from(e.try_clone()?));
        out = Some(o);
        err = Some(e);
    }
    let mut infile = None;
    if let Some(data) = input {
        // A file, not a pipe: no writer thread, and moat sees EOF at the end of the data.
        let mut f = tempfile::tempfile()?;
        std::io::Write::write_all(&mut f, data)?;
        f.rewind()?;
        infile = Some(f);
    }
    if let Some(f) = infile {
        cmd.stdin(Stdio::from(f));
    }
    let sub = monitor_subscribe(Topic::Pid).map_err(std::io::Error::other)?;
    let mut child = cmd.spawn()?;
    drop(cmd); // the parent's copies of the child's stdio
    let pid = child.id() as i32;
    registry().commands.insert(pid);
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let code = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match sub.rx.recv_timeout(if timed_out {
            Duration::from_secs(10)
        } else {
            left
        }) {
            Ok(ev) => match ev.subject {
                Subject::Pid(p) if p == pid => break ev.exit_code,
                _ => {}
            },
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) if !timed_out => {
                timed_out = true;
                let _ = child.kill();
            }
            Err(_) => {
                break -1;
            }
        }
    };
    {
        let mut r = registry();
        r.commands.remove(&pid);
        r.unclaimed.remove(&pid);
    }
    let read = |f: Option<std::fs::File>| -> String {
        let mut s = String::new();
        if let Some(mut f) = f {
            let _ = f.rewind();
            let mut b = Vec::new();
            let _ = f.read_to_end(&mut b);
            s = String::from_utf8_lossy(&b).into_owned();
        }
        s
    };
    Ok(Finished {
        code,
        stdout: read(out),
        stderr: read(err),
        timed_out,
    })
}
