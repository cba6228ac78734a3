//! `exec`: a new process inside a running container, with runc's flags, exit statuses and
//! messages. Every scenario runs against moat and against runc (when installed); the outcomes
//! must be the same.

mod cli_common;

use cli_common::*;
use moat_tests::{require_root, wait_until, TestEnv};
use serde_json::json;
use std::time::Duration;

/// exec's output and exit status: plain, a code, a signal, a missing program, no program.
#[test]
fn output_and_status_like_runc() {
    require_root!();
    let mut results = Vec::new();
    for (name, env) in runtimes("exec-status") {
        let (id, _) = started(&env, "b", &["/bin/sleep", "1000"]);
        let hi = env.moat(&["exec", &id, "echo", "hi"]);
        let code = env.moat(&["exec", &id, "sh", "-c", "echo out; echo err >&2; exit 3"]);
        let sig = env.moat(&["exec", &id, "sh", "-c", "kill -9 $$"]);
        let missing = env.moat(&["exec", &id, "nosuch-program"]);
        let empty = env.moat(&["exec", &id]);
        // A flag after the command belongs to the command.
        let flag = env.moat(&["exec", &id, "echo", "--debug"]);
        assert_eq!(hi.stdout, "hi\n", "{name}: {}", hi.describe());
        assert_eq!(code.stdout, "out\n", "{name}: {}", code.describe());
        assert!(code.stderr.contains("err"), "{name}: {}", code.describe());
        assert!(
            missing.stderr.contains("exec failed")
                && missing
                    .stderr
                    .contains("executable file not found in $PATH"),
            "{name}: {}",
            missing.describe()
        );
        assert_eq!(flag.stdout, "--debug\n", "{name}: {}", flag.describe());
        results.push((
            name,
            [hi.code, code.code, sig.code, missing.code, empty.code],
            message(&empty.stderr),
        ));
    }
    assert_eq!(results[0].1, [0, 3, 137, 255, 255], "moat: {results:?}");
    for r in &results[1..] {
        assert_eq!(r.1, results[0].1, "exit codes differ: {results:?}");
        assert_eq!(r.2, results[0].2, "messages differ: {results:?}");
    }
}

/// --env, --cwd, --user, --additional-gids and the container's own environment.
#[test]
fn env_cwd_user_like_runc() {
    require_root!();
    let mut outs = Vec::new();
    for (name, env) in runtimes("exec-env") {
        let (id, _) = started(&env, "b", &["/bin/sleep", "1000"]);
        let o = env.moat(&[
            "exec",
            "-e",
            "FOO=bar",
            "--cwd",
            "/tmp",
            "-u",
            "1000:1001",
            "-g",
            "7",
            &id,
            "sh",
            "-c",
            "echo $FOO $HOME; pwd; id -u; id -g; id -G",
        ]);
        assert!(o.success(), "{name}: {}", o.describe());
        let root = env.moat(&["exec", &id, "sh", "-c", "id -u; pwd; echo $PATH"]);
        assert!(root.success(), "{name}: {}", root.describe());
        outs.push((name, o.stdout, root.stdout));
    }
    assert_eq!(
        outs[0].1, "bar /root\n/tmp\n1000\n1001\n1001 7\n",
        "moat: {outs:?}"
    );
    assert_eq!(
        outs[0].2,
        "0\n/\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
    );
    for o in &outs[1..] {
        assert_eq!((&o.1, &o.2), (&outs[0].1, &outs[0].2), "{outs:?}");
    }
}

/// --process FILE, as containerd's shim passes it.
#[test]
fn process_file_like_runc() {
    require_root!();
    let mut outs = Vec::new();
    for (name, env) in runtimes("exec-procfile") {
        let (id, _) = started(&env, "b", &["/bin/sleep", "1000"]);
        let p = env.dir().join("process.json");
        std::fs::write(
            &p,
            serde_json::to_vec(&json!({
                "terminal": false,
                "user": {"uid": 5, "gid": 6},
                "args": ["sh", "-c", "echo $X; pwd; id -u; id -g"],
                "env": ["PATH=/bin:/usr/bin", "X=from-file"],
                "cwd": "/etc",
                "noNewPrivileges": true
            }))
            .unwrap(),
        )
        .unwrap();
        let o = env.moat(&["exec", "--process", p.to_str().unwrap(), &id]);
        assert!(o.success(), "{name}: {}", o.describe());
        let bad = env.dir().join("bad.json");
        std::fs::write(&bad, "{not json").unwrap();
        let b = env.moat(&["exec", "-p", bad.to_str().unwrap(), &id]);
        assert_eq!(b.code, 255, "{name}: {}", b.describe());
        assert_eq!(b.stderr.lines().count(), 1, "{name}: {}", b.describe());
        outs.push((name, o.stdout));
    }
    assert_eq!(outs[0].1, "from-file\n/etc\n5\n6\n");
    for o in &outs[1..] {
        assert_eq!(o.1, outs[0].1, "{outs:?}");
    }
}

/// The caller's stdin reaches the exec'd process.
#[test]
fn stdin_is_passed_like_runc() {
    require_root!();
    for (name, env) in runtimes("exec-stdin") {
        let (id, _) = started(&env, "b", &["/bin/sleep", "1000"]);
        let o = with_stdin(
            &env,
            &["exec", &id, "sh", "-c", "tr a-z A-Z"],
            b"hello stdin\n",
        );
        assert_eq!(o.stdout, "HELLO STDIN\n", "{name}: {}", o.describe());
        assert!(o.success(), "{name}: {}", o.describe());
    }
}

/// Exec into an unknown, a stopped and a paused container: 255 and runc's messages.
#[test]
fn wrong_states_like_runc() {
    require_root!();
    let mut all = Vec::new();
    for (name, env) in runtimes("exec-states") {
        let unknown = env.moat(&["exec", "no-such-container", "true"]);
        let (id, _) = started(&env, "b", &["/bin/sleep", "1000"]);
        assert!(env.moat(&["pause", &id]).success());
        let paused = env.moat(&["exec", &id, "true"]);
        assert!(env.moat(&["resume", &id]).success());
        assert!(env.moat(&["kill", &id, "KILL"]).success());
        assert!(wait_status(&env, &id, "stopped"), "{name}: not stopped");
        let stopped = env.moat(&["exec", &id, "true"]);
        let r: Vec<(i32, String)> = [unknown, paused, stopped]
            .iter()
            .map(|o| {
                assert_eq!(o.stderr.lines().count(), 1, "{name}: {}", o.describe());
                (o.code, message(&o.stderr))
            })
            .collect();
        all.push((name, r));
    }
    assert_eq!(all[0].1[0].0, 255);
    assert_eq!(all[0].1[0].1, "exec failed: container does not exist");
    assert_eq!(
        all[0].1[1].1,
        "exec failed: cannot exec in a paused container (use --ignore-paused to override)"
    );
    assert_eq!(
        all[0].1[2].1,
        "exec failed: cannot exec in a stopped container"
    );
    for a in &all[1..] {
        assert_eq!(a.1, all[0].1, "{all:?}");
    }
}

/// `exec --detach --pid-file`, as containerd's shim runs it: the pid file names a host
/// process whose exit is the exec'd process's exit (code or signal) and which forwards the
/// signals it gets; killing it with SIGKILL ends the exec'd process too.
#[test]
fn detach_pid_file_like_runc() {
    require_root!();
    subreaper();
    let mut seen = Vec::new();
    for (name, env) in runtimes("exec-detach") {
        let (id, _) = started(&env, "b", &["/bin/sleep", "1000"]);
        let pidfile = |n: &str| env.dir().join(n);
        let read_pid = |n: &str| -> i32 {
            std::fs::read_to_string(pidfile(n))
                .unwrap_or_default()
                .trim()
                .parse()
                .unwrap_or(0)
        };
        // 1. A signal to the pid reaches the process, which exits with its own code.
        let o = env.moat(&[
            "exec",
            "-d",
            "--pid-file",
            pidfile("p1").to_str().unwrap(),
            &id,
            "sh",
            "-c",
            "trap 'exit 7' TERM; touch /tmp/ready; while :; do sleep 0.1; done",
        ]);
        assert!(o.success(), "{name}: {}", o.describe());
        let p1 = read_pid("p1");
        assert!(p1 > 0, "{name}: pid file");
        assert!(
            wait_until(Duration::from_secs(10), || env
                .moat(&["exec", &id, "test", "-e", "/tmp/ready"])
                .success()),
            "{name}: the exec'd shell never ran"
        );
        // SAFETY: kill(2) on the pid from the pid file (our adopted child).
        unsafe { libc::kill(p1, libc::SIGTERM) };
        let e1 = wait_pid(p1, Duration::from_secs(10));
        // 2. A process that dies by a signal: its stand-in dies by the same signal.
        let o = env.moat(&[
            "exec",
            "-d",
            "--pid-file",
            pidfile("p2").to_str().unwrap(),
            &id,
            "sh",
            "-c",
            "sleep 0.2; kill -USR1 $$",
        ]);
        assert!(o.success(), "{name}: {}", o.describe());
        let e2 = wait_pid(read_pid("p2"), Duration::from_secs(10));
        // 3. A plain exit code.
        let o = env.moat(&[
            "exec",
            "-d",
            "--pid-file",
            pidfile("p3").to_str().unwrap(),
            &id,
            "sh",
            "-c",
            "exit 42",
        ]);
        assert!(o.success(), "{name}: {}", o.describe());
        let e3 = wait_pid(read_pid("p3"), Duration::from_secs(10));
        seen.push((name, [e1, e2, e3]));

        // 4. SIGKILL to the pid: the exec'd process is gone too.
        let o = env.moat(&[
            "exec",
            "-d",
            "--pid-file",
            pidfile("p4").to_str().unwrap(),
            &id,
            "sleep",
            "4242",
        ]);
        assert!(o.success(), "{name}: {}", o.describe());
        let p4 = read_pid("p4");
        let ps_has = |needle: &str| {
            let o = env.moat(&["exec", &id, "ps", "-o", "args"]);
            o.stdout.lines().any(|l| l.trim().ends_with(needle))
        };
        assert!(ps_has("sleep 4242"), "{name}: exec'd sleep not running");
        // SAFETY: kill(2) on the pid from the pid file.
        unsafe { libc::kill(p4, libc::SIGKILL) };
        assert_eq!(
            wait_pid(p4, Duration::from_secs(10)),
            Some(Ended::Signal(libc::SIGKILL))
        );
        assert!(
            wait_until(Duration::from_secs(10), || !ps_has("sleep 4242")),
            "{name}: the exec'd process outlived its killed stand-in"
        );
    }
    assert_eq!(
        seen[0].1,
        [
            Some(Ended::Code(7)),
            Some(Ended::Signal(libc::SIGUSR1)),
            Some(Ended::Code(42))
        ],
        "{seen:?}"
    );
    for s in &seen[1..] {
        assert_eq!(s.1, seen[0].1, "{seen:?}");
    }
}

/// Without --detach, `exec` forwards the signals it receives and exits with the process's
/// status; --pid-file then names exec itself.
#[test]
fn attached_exec_forwards_signals_like_runc() {
    require_root!();
    let mut seen = Vec::new();
    for (name, env) in runtimes("exec-fwd") {
        let (id, _) = started(&env, "b", &["/bin/sleep", "1000"]);
        let out = Capture::new();
        let pf = env.dir().join("exec.pid");
        let mut child = spawn(
            &env,
            &[
                "exec",
                "--pid-file",
                pf.to_str().unwrap(),
                &id,
                "sh",
                "-c",
                "trap 'echo got-usr1' USR1; trap 'echo got-term; exit 5' TERM; echo up; \
                 while :; do sleep 0.1; done",
            ],
            &out,
        );
        assert!(
            out.wait_for("up", Duration::from_secs(10)),
            "{name}: {}",
            out.text()
        );
        assert!(wait_until(Duration::from_secs(5), || pf.exists()));
        // SAFETY: kill(2) on our child.
        unsafe { libc::kill(child.id() as i32, libc::SIGUSR1) };
        assert!(
            out.wait_for("got-usr1", Duration::from_secs(10)),
            "{name}: {}",
            out.text()
        );
        // SAFETY: kill(2) on our child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let st = child.wait().unwrap();
        seen.push((name, st.code(), out.text()));
    }
    assert_eq!(seen[0].1, Some(5), "{seen:?}");
    assert_eq!(seen[0].2, "up\ngot-usr1\ngot-term\n", "{seen:?}");
    for s in &seen[1..] {
        assert_eq!((s.1, &s.2), (seen[0].1, &seen[0].2), "{seen:?}");
    }
}

/// Many execs, some at once, in one container (the control thread serves them all).
#[test]
fn concurrent_execs() {
    require_root!();
    let env = TestEnv::new("exec-many");
    let (id, _) = started(&env, "b", &["/bin/sleep", "1000"]);
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let mut c = env.moat_cmd(&["exec", &id, "sh", "-c", &format!("sleep 0.3; echo {i}")]);
            c.stdin(std::process::Stdio::null());
            std::thread::spawn(move || c.output().unwrap())
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        let o = t.join().unwrap();
        assert!(o.status.success(), "{o:?}");
        assert_eq!(String::from_utf8_lossy(&o.stdout), format!("{i}\n"));
    }
    // The init is unaffected.
    assert_eq!(status(&env, &id).as_deref(), Some("running"));
}

/// The process's capability sets (from --process, and --cap on top of the container's), as
/// /proc/self/status shows them.
#[test]
fn capabilities_like_runc() {
    require_root!();
    let mut seen = Vec::new();
    for (name, env) in runtimes("exec-caps") {
        let b = small_bundle(&env, "b", &["/bin/sleep", "1000"]);
        let mut c = b.config();
        // (runc 1.1's --cap needs the container's process to have capabilities.)
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]
        });
        b.write_config(&c);
        let id = started_bundle(&env, &b);
        let p = env.dir().join("process.json");
        std::fs::write(
            &p,
            serde_json::to_vec(&json!({
                "user": {"uid": 0, "gid": 0},
                "args": ["sh", "-c", "grep -E '^Cap(Inh|Prm|Eff|Bnd)' /proc/self/status"],
                "env": ["PATH=/bin:/usr/bin"],
                "cwd": "/",
                "capabilities": {
                    "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                    "effective": ["CAP_CHOWN", "CAP_KILL"],
                    "permitted": ["CAP_CHOWN", "CAP_KILL"],
                    "inheritable": []
                }
            }))
            .unwrap(),
        )
        .unwrap();
        let o = env.moat(&["exec", "-p", p.to_str().unwrap(), &id]);
        assert!(o.success(), "{name}: {}", o.describe());
        // The same sets for uid 1000: execve leaves it only its (empty) ambient set.
        let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        v["user"] = json!({"uid": 1000, "gid": 1000});
        std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
        let user = env.moat(&["exec", "-p", p.to_str().unwrap(), &id]);
        assert!(user.success(), "{name}: {}", user.describe());
        assert_eq!(
            user.stdout,
            "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n\
             CapBnd:\t0000000000000421\n",
            "{name}"
        );
        let flag = env.moat(&[
            "exec",
            "--cap",
            "CAP_NET_ADMIN",
            &id,
            "sh",
            "-c",
            "grep -E '^Cap(Prm|Eff|Bnd)' /proc/self/status",
        ]);
        assert!(flag.success(), "{name}: {}", flag.describe());
        seen.push((name, o.stdout, flag.stdout));
    }
    assert_eq!(
        seen[0].1,
        "CapInh:\t0000000000000000\nCapPrm:\t0000000000000421\nCapEff:\t0000000000000421\n\
         CapBnd:\t0000000000000421\n",
        "{seen:?}"
    );
    assert_eq!(
        seen[0].2,
        "CapPrm:\t0000000000001001\nCapEff:\t0000000000001001\nCapBnd:\t0000000000001001\n",
        "{seen:?}"
    );
    for s in &seen[1..] {
        assert_eq!((&s.1, &s.2), (&seen[0].1, &seen[0].2), "{seen:?}");
    }
}

/// A client that connects to the control socket and says nothing holds up nobody.
#[test]
fn silent_control_client_blocks_nobody() {
    require_root!();
    let env = TestEnv::new("exec-silent");
    let (id, _) = started(&env, "b", &["/bin/sleep", "1000"]);
    let sock = env.root.join(&id).join("control.sock");
    let silent: Vec<_> = (0..3)
        .map(|_| std::os::unix::net::UnixStream::connect(&sock).unwrap())
        .collect();
    let t = std::time::Instant::now();
    let o = env.moat(&["exec", &id, "echo", "hi"]);
    assert_eq!(o.stdout, "hi\n", "{}", o.describe());
    let ps = env.moat(&["ps", "--format", "json", &id]);
    assert_eq!(ps.stdout.trim(), "[1]", "{}", ps.describe());
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // A garbage line gets an error answer.
    use std::io::{BufRead, Write};
    let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    s.write_all(b"{garbage\n").unwrap();
    let mut line = String::new();
    std::io::BufReader::new(&s).read_line(&mut line).unwrap();
    assert!(line.contains("\"ok\":false"), "{line}");
    drop(silent);
    assert_eq!(status(&env, &id).as_deref(), Some("running"));
}

/// `exec` into a created (not yet started) container runs while the init waits for `start`;
/// the container stays `created` (pause and resume included) until `start`. A terminating
/// signal for the waiting init ends the container, exec'd processes included.
#[test]
fn exec_in_created_container_like_runc() {
    require_root!();
    let mut seen = Vec::new();
    for (name, env) in runtimes("exec-created") {
        let b = small_bundle(
            &env,
            "b",
            &["/bin/sh", "-c", "echo init runs; exec sleep 1000"],
        );
        let id = env.new_id();
        let out = Capture::new();
        let mut c = spawn(
            &env,
            &["create", "--bundle", b.dir.to_str().unwrap(), &id],
            &out,
        );
        assert!(c.wait().unwrap().success(), "{name}: {}", out.text());
        let hi = env.moat(&["exec", &id, "sh", "-c", "echo hi; exit 3"]);
        let after_exec = status(&env, &id);
        let d = env.moat(&["exec", "-d", &id, "sleep", "1000"]);
        assert!(d.success(), "{name}: {}", d.describe());
        let ps = json(&env.moat(&["ps", "--format", "json", &id]));
        let pause = env.moat(&["pause", &id]);
        let paused = status(&env, &id);
        let resume = env.moat(&["resume", &id]);
        let resumed = status(&env, &id);
        let init_ran_before_start = out.text().contains("init runs");
        let start = env.moat(&["start", &id]);
        assert!(start.success(), "{name}: {}", start.describe());
        assert!(
            out.wait_for("init runs", Duration::from_secs(10)),
            "{name}: {}",
            out.text()
        );
        let started = status(&env, &id);
        let again = env.moat(&["exec", &id, "echo", "again"]);

        // A second container: SIGTERM before start ends it, with its exec'd process.
        let id2 = env.new_id();
        assert!(env
            .moat(&["create", "--bundle", b.dir.to_str().unwrap(), &id2])
            .success());
        assert!(env.moat(&["exec", "-d", &id2, "sleep", "1000"]).success());
        let term = env.moat(&["kill", &id2, "TERM"]);
        let stopped = wait_status(&env, &id2, "stopped");
        let ps2 = env.moat(&["ps", "--format", "json", &id2]);
        seen.push((
            name,
            (hi.code, hi.stdout),
            [after_exec, paused, resumed, started],
            ps.as_array().map_or(0, Vec::len),
            [pause.code, resume.code, term.code],
            init_ran_before_start,
            again.stdout,
            stopped,
            ps2.stdout.trim().to_string(),
        ));
    }
    let m = &seen[0];
    assert_eq!(m.1, (3, "hi\n".to_string()), "{seen:?}");
    assert_eq!(
        m.2,
        [
            Some("created".to_string()),
            Some("paused".to_string()),
            Some("created".to_string()),
            Some("running".to_string())
        ],
        "{seen:?}"
    );
    assert_eq!(m.3, 2, "init and the detached exec: {seen:?}");
    assert_eq!(m.4, [0, 0, 0], "{seen:?}");
    assert!(!m.5, "the init ran before start: {seen:?}");
    assert_eq!(m.6, "again\n");
    assert!(m.7, "{seen:?}");
    assert_eq!(m.8, "null", "{seen:?}");
    for s in &seen[1..] {
        assert_eq!(
            (&s.1, &s.2, s.3, s.4, s.5, &s.6, s.7, &s.8),
            (&m.1, &m.2, m.3, m.4, m.5, &m.6, m.7, &m.8),
            "{seen:?}"
        );
    }
}
