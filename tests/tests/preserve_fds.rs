//! `--preserve-fds N`: fds 3 .. 3+N of `create`/`run`/`exec` become the container process's own
//! fds 3 .. 3+N (systemd's LISTEN_FDS style). Compared with runc.

mod cli_common;

use cli_common::*;
use moat_tests::{require_root, run_with_timeout, Output, TestEnv};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::time::Duration;

fn pipe() -> (File, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fresh fds into the array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both fds are fresh and owned by nobody else.
    unsafe { (File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Runs the runtime with `extra[i]` as its fd 3+i (`None`: closed).
fn with_fds(env: &TestEnv, args: &[&str], extra: &[Option<RawFd>]) -> Output {
    let mut cmd = env.moat_cmd(args);
    let extra = extra.to_vec();
    // SAFETY: only fcntl/dup2/close (async-signal-safe) between fork and exec. Every source is
    // first copied out of the way so that no target clobbers a source not yet placed.
    unsafe {
        cmd.pre_exec(move || {
            let mut tmp = [-1; 16];
            for (i, fd) in extra.iter().enumerate() {
                if let Some(fd) = fd {
                    tmp[i] = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 200);
                    if tmp[i] < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
            }
            for i in 0..extra.len() {
                let target = 3 + i as RawFd;
                if tmp[i] < 0 {
                    libc::close(target);
                } else if libc::dup2(tmp[i], target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    run_with_timeout(cmd, env.timeout)
}

/// Everything that comes out of `r` until EOF (all writers closed), within a deadline.
fn read_to_eof(mut r: File) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        let _ = tx.send(s);
    });
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| "<no EOF>".into())
}

/// A file and a pipe passed to `create` reach the container's init as fds 3 and 4; once the
/// workload closes fd 4 the host reader sees EOF (nobody else holds the pipe) while the
/// container still runs. `exec --preserve-fds` passes fds to the exec'd process the same way.
#[test]
fn create_and_exec_pass_fds_like_runc() {
    require_root!();
    let mut results = Vec::new();
    for (name, env) in runtimes("preserve-fds") {
        let b = small_bundle(
            &env,
            "b",
            &[
                "/bin/sh",
                "-c",
                "read line <&3; echo \"init got: $line\" >&4; \
                 (: >&5) 2>/dev/null && echo 'fd 5 open' >&4; exec 4>&-; exec sleep 1000",
            ],
        );
        let input = env.dir().join("input");
        std::fs::write(&input, "from the host\n").unwrap();
        let file = File::open(&input).unwrap();
        let (r, w) = pipe();
        let id = env.new_id();
        let o = with_fds(
            &env,
            &[
                "create",
                "--preserve-fds",
                "2",
                "--bundle",
                b.dir.to_str().unwrap(),
                &id,
            ],
            &[Some(file.as_raw_fd()), Some(w.as_raw_fd())],
        );
        assert!(o.success(), "{name} create: {}", o.describe());
        drop(w);
        drop(file);
        let o = env.moat(&["start", &id]);
        assert!(o.success(), "{name} start: {}", o.describe());
        let from_init = read_to_eof(r);
        assert_eq!(status(&env, &id).as_deref(), Some("running"), "{name}");

        let (r, w) = pipe();
        let o = with_fds(
            &env,
            &[
                "exec",
                "--preserve-fds",
                "1",
                &id,
                "sh",
                "-c",
                "echo exec got fd 3 >&3; (: >&4) 2>/dev/null && echo 'fd 4 open' >&3; true",
            ],
            &[Some(w.as_raw_fd())],
        );
        assert!(o.success(), "{name} exec: {}", o.describe());
        drop(w);
        let from_exec = read_to_eof(r);

        // Without --preserve-fds nothing beyond stdio is passed.
        let (r, w) = pipe();
        let o = with_fds(
            &env,
            &[
                "exec",
                &id,
                "sh",
                "-c",
                "(: >&3) 2>/dev/null && echo 'fd 3 open'; true",
            ],
            &[Some(w.as_raw_fd())],
        );
        assert!(o.success(), "{name} exec: {}", o.describe());
        drop(w);
        let not_passed = read_to_eof(r);
        results.push((name, from_init, from_exec, o.stdout, not_passed));
    }
    assert_eq!(
        (
            results[0].1.as_str(),
            results[0].2.as_str(),
            results[0].3.as_str(),
            results[0].4.as_str()
        ),
        ("init got: from the host\n", "exec got fd 3\n", "", ""),
        "moat: {results:?}"
    );
    for r in &results[1..] {
        assert_eq!(r.1, results[0].1, "{results:?}");
        assert_eq!(r.2, results[0].2, "{results:?}");
        assert_eq!(r.3, results[0].3, "{results:?}");
    }
}

/// `run --preserve-fds` with a number in the range left closed by the caller fails, as runc's
/// check means to (runc itself usually finds an fd of its own open there and passes that).
#[test]
fn run_refuses_fds_not_passed() {
    require_root!();
    let env = TestEnv::new("preserve-fds-run");
    let b = small_bundle(&env, "b", &["/bin/true"]);
    let (_r, w) = pipe();
    let id = env.new_id();
    let o = with_fds(
        &env,
        &[
            "run",
            "--preserve-fds",
            "2",
            "--bundle",
            b.dir.to_str().unwrap(),
            &id,
        ],
        &[Some(w.as_raw_fd()), None],
    );
    assert_eq!(o.code, 1, "{}", o.describe());
    assert_eq!(
        message(&o.stderr),
        "unable to stat preserved-fd 1 (of 2): fd 4 is not open",
        "{}",
        o.describe()
    );
    assert!(env.state(&id).is_none(), "a container was left behind");
}

/// systemd socket activation: with `LISTEN_PID` our pid, the `LISTEN_FDS` fds from 3 are passed
/// first (the workload gets `LISTEN_FDS=N LISTEN_PID=1`), then the `--preserve-fds` ones.
#[test]
fn listen_fds_like_runc() {
    require_root!();
    let mut seen = Vec::new();
    for (name, env) in runtimes("listen-fds") {
        let b = small_bundle(
            &env,
            "b",
            &[
                "/bin/sh",
                "-c",
                "echo LISTEN_FDS=$LISTEN_FDS LISTEN_PID=$LISTEN_PID; cat <&3; cat <&4; \
                 (: <&5) 2>/dev/null && echo fd 5 open; true",
            ],
        );
        let (one, two) = (env.dir().join("one"), env.dir().join("two"));
        std::fs::write(&one, "activation fd\n").unwrap();
        std::fs::write(&two, "preserved fd\n").unwrap();
        let id = env.new_id();
        // The shell's pid is the runtime's after its exec.
        let mut sh = std::process::Command::new("/bin/sh");
        sh.arg("-c")
            .arg("export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$@\" 3<\"$ONE\" 4<\"$TWO\"")
            .arg("sh")
            .arg(&env.bin)
            .args([
                "--root",
                env.root.to_str().unwrap(),
                "run",
                "--preserve-fds",
                "1",
            ])
            .args(["--bundle", b.dir.to_str().unwrap(), &id])
            .env("ONE", &one)
            .env("TWO", &two);
        let o = run_with_timeout(sh, env.timeout);
        assert!(o.success(), "{name}: {}", o.describe());
        seen.push((name, o.stdout));
    }
    assert_eq!(
        seen[0].1, "LISTEN_FDS=1 LISTEN_PID=1\nactivation fd\npreserved fd\n",
        "{seen:?}"
    );
    for s in &seen[1..] {
        assert_eq!(s.1, seen[0].1, "{seen:?}");
    }
}
