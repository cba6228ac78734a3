//! Terminals: `process.terminal` with `--console-socket` (create) and `exec --tty --detach
//! --console-socket`: the runtime sends a pty master over the socket as runc does, and the
//! workload's stdio is the slave (a real tty: the host's line discipline echoes input and turns
//! `\n` into `\r\n`). Compared with runc byte for byte. Also runc's checks on terminal flags.

mod cli_common;

use cli_common::*;
use moat_tests::{require_root, Bundle, TestEnv};
use serde_json::json;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A console socket: a listener that receives one fd.
struct Console {
    path: PathBuf,
    listener: UnixListener,
}

impl Console {
    fn new(env: &TestEnv, name: &str) -> Console {
        let path = env.dir().join(name);
        let listener = UnixListener::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        Console { path, listener }
    }

    fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// The master fd and the name sent with it.
    fn receive(&self) -> (File, String) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let stream = loop {
            match self.listener.accept() {
                Ok((s, _)) => break s,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(e) => panic!("no connection on the console socket: {e}"),
            }
        };
        stream.set_nonblocking(false).unwrap();
        let mut data = [0u8; 256];
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        let mut cbuf = [0u64; 8];
        // SAFETY: msghdr is plain old data.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&cbuf) as _;
        // SAFETY: msg points at live buffers.
        let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        assert!(n >= 0, "recvmsg: {}", std::io::Error::last_os_error());
        // SAFETY: the kernel wrote a control message into cbuf.
        let fd = unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            assert!(!c.is_null(), "no fd on the console socket");
            assert_eq!((*c).cmsg_type, libc::SCM_RIGHTS);
            std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<i32>())
        };
        // SAFETY: the received fd is ours.
        let f = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        (f, String::from_utf8_lossy(&data[..n as usize]).into_owned())
    }
}

/// Reads `master` until `end` appears (or 10 s pass).
fn read_until(master: &mut File, end: &str) -> String {
    let fd = master.as_raw_fd();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && !String::from_utf8_lossy(&out).contains(end) {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one fd we own.
        if unsafe { libc::poll(&mut p, 1, 100) } <= 0 {
            continue;
        }
        let mut buf = [0u8; 1024];
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A bundle with /dev/pts (runc needs it for a terminal), with or without process.terminal.
fn pts_bundle(env: &TestEnv, name: &str, args: &[&str], terminal: bool) -> Bundle {
    let b = small_bundle(env, name, args);
    let mut c = b.config();
    c["process"]["terminal"] = json!(terminal);
    c["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/dev/pts", "type": "devpts", "source": "devpts",
        "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]
    }));
    b.write_config(&c);
    b
}

fn terminal_bundle(env: &TestEnv, args: &[&str]) -> Bundle {
    pts_bundle(env, "b", args, true)
}

/// create + --console-socket: the master arrives, input is echoed and read, output has the
/// tty's \r\n.
#[test]
fn create_console_socket_like_runc() {
    require_root!();
    let mut seen = Vec::new();
    for (name, env) in runtimes("tty-create") {
        let b = terminal_bundle(&env, &["/bin/sh", "-c", "read x; echo got-$x; echo done"]);
        let console = Console::new(&env, "console.sock");
        let id = env.new_id();
        let o = env.moat(&[
            "create",
            "--console-socket",
            console.path(),
            "--bundle",
            b.dir.to_str().unwrap(),
            &id,
        ]);
        assert!(o.success(), "{name}: {}", o.describe());
        let (mut master, fname) = console.receive();
        assert!(!fname.is_empty(), "{name}: a name comes with the fd");
        assert!(env.moat(&["start", &id]).success());
        master.write_all(b"ping\n").unwrap();
        let out = read_until(&mut master, "done\r\n");
        assert!(env.moat(&["delete", "-f", &id]).success());
        seen.push((name, out));
    }
    assert_eq!(seen[0].1, "ping\r\ngot-ping\r\ndone\r\n", "{seen:?}");
    for s in &seen[1..] {
        assert_eq!(s.1, seen[0].1, "{seen:?}");
    }
}

/// exec --tty --detach --console-socket.
#[test]
fn exec_tty_console_socket_like_runc() {
    require_root!();
    subreaper();
    let mut seen = Vec::new();
    for (name, env) in runtimes("tty-exec") {
        let b = pts_bundle(&env, "b", &["/bin/sleep", "1000"], false);
        let id = started_bundle(&env, &b);
        let console = Console::new(&env, "exec-console.sock");
        let pf = env.dir().join("exec.pid");
        let o = env.moat(&[
            "exec",
            "-t",
            "-d",
            "--console-socket",
            console.path(),
            "--pid-file",
            pf.to_str().unwrap(),
            &id,
            "sh",
            "-c",
            "read line; echo exec-$line; exit 3",
        ]);
        assert!(o.success(), "{name}: {}", o.describe());
        let (mut master, _) = console.receive();
        master.write_all(b"tty\n").unwrap();
        let out = read_until(&mut master, "exec-tty\r\n");
        let pid: i32 = std::fs::read_to_string(&pf)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let ended = wait_pid(pid, Duration::from_secs(10));
        seen.push((name, out, ended));
    }
    assert_eq!(seen[0].1, "tty\r\nexec-tty\r\n", "{seen:?}");
    assert_eq!(seen[0].2, Some(Ended::Code(3)));
    for s in &seen[1..] {
        assert_eq!((&s.1, s.2), (&seen[0].1, seen[0].2), "{seen:?}");
    }
}

/// runc's rules on terminal flags, with runc's words.
#[test]
fn terminal_flag_errors_like_runc() {
    require_root!();
    let mut seen = Vec::new();
    for (name, env) in runtimes("tty-errors") {
        let tb = terminal_bundle(&env, &["/bin/true"]);
        let plain = small_bundle(&env, "plain", &["/bin/sleep", "100"]);
        let sock = env.dir().join("unused.sock");
        let id = env.new_id();
        let no_socket = env.moat(&["create", "--bundle", tb.dir.to_str().unwrap(), &id]);
        let id2 = env.new_id();
        let needless = env.moat(&[
            "create",
            "--console-socket",
            sock.to_str().unwrap(),
            "--bundle",
            plain.dir.to_str().unwrap(),
            &id2,
        ]);
        let id3 = started_bundle(&env, &plain);
        let exec_no_socket = env.moat(&["exec", "-t", "-d", &id3, "true"]);
        let exec_needless = env.moat(&[
            "exec",
            "--console-socket",
            sock.to_str().unwrap(),
            &id3,
            "true",
        ]);
        let r: Vec<(i32, String)> = [no_socket, needless, exec_no_socket, exec_needless]
            .iter()
            .map(|o| (o.code, message(&o.stderr)))
            .collect();
        assert!(
            env.state(&id).is_none() && env.state(&id2).is_none(),
            "{name}"
        );
        seen.push((name, r));
    }
    let m = &seen[0].1;
    assert_eq!(
        m[0],
        (
            1,
            "cannot allocate tty if RUNTIME will detach without setting console socket".into()
        )
    );
    assert_eq!(
        m[1],
        (
            1,
            "cannot use console socket if RUNTIME will not detach or allocate tty".into()
        )
    );
    assert_eq!(m[2].0, 255);
    assert_eq!(m[3].0, 255);
    for s in &seen[1..] {
        assert_eq!(&s.1, m, "{seen:?}");
    }
}

/// `run` without --detach keeps the container's terminal and copies it to its own stdout.
#[test]
fn run_attached_terminal() {
    require_root!();
    let env = TestEnv::new("tty-run");
    let b = terminal_bundle(&env, &["/bin/sh", "-c", "echo line1; echo line2; exit 4"]);
    let (_, o) = env.run_bundle(&b);
    assert_eq!(o.code, 4, "{}", o.describe());
    assert_eq!(o.stdout, "line1\r\nline2\r\n", "{}", o.describe());
}

/// `exec -t` without --detach keeps the pty itself and copies it to its own stdout (runc
/// insists on a terminal as its own stdin here; moat does not).
#[test]
fn exec_tty_attached() {
    require_root!();
    let env = TestEnv::new("tty-exec-att");
    let b = pts_bundle(&env, "b", &["/bin/sleep", "1000"], false);
    let id = started_bundle(&env, &b);
    let o = env.moat(&["exec", "-t", &id, "sh", "-c", "echo tty-exec; exit 6"]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (6, "tty-exec\r\n"),
        "{}",
        o.describe()
    );
}
