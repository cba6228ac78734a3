//! The control socket `<root>/<id>/control.sock`: how short-lived `moat` commands talk to a
//! sandbox.
//!
//! Protocol: a unix stream socket. A client connects, writes ONE request as a single line of
//! JSON terminated by `\n`, and reads ONE response line of JSON; then both sides close. Requests
//! are objects tagged by `"op"`; unknown fields are ignored, an unknown `op` gets an error
//! response. Responses always carry `"ok"`; on failure `"error"` holds a one-line message.
//!
//! ```text
//! -> {"op":"start"}                        <- {"ok":true}
//! -> {"op":"state"}                        <- {"ok":true,"status":"created"}
//! -> {"op":"kill","signal":15,"all":false} <- {"ok":true}
//! -> {"op":"ps"}                           <- {"ok":true,"processes":[{"pid":1,...}]}
//! -> {"op":"pause"} / {"op":"resume"}      <- {"ok":true}
//! -> {"op":"stats"}                        <- {"ok":true,"stats":{"processes":1,...}}
//! -> {"op":"exec","process":{...}} + 3 fds <- {"ok":true,"pid":7}
//!    ... the connection stays open:
//! -> {"op":"signal","signal":15}           (any number of times; no answer)
//!                                          <- {"ok":true,"exit_code":0} or {"ok":true,"exit_signal":9}
//! -> {"op":"bogus"}                        <- {"ok":false,"error":"invalid request: ..."}
//! ```
//!
//! `exec` sends the new process's stdin, stdout and stderr as `SCM_RIGHTS` with its request
//! line. The exec connection then carries the process's life: the client forwards signals on it
//! and the sandbox answers with the exit once the process is gone. A client that closes the
//! connection early takes the process with it (SIGKILL).

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Longest request or response line accepted.
pub const MAX_LINE: usize = 1024 * 1024;

/// Most file descriptors accepted with one request: the kernel's limit for one `SCM_RIGHTS`
/// message (SCM_MAX_FD), stdio plus up to 250 `--preserve-fds`.
pub const MAX_FDS: usize = 253;

/// The highest fd number (exclusive) an exec'd process can be given.
pub const MAX_FD_NUMBER: i32 = 65536;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Release the loaded init task (`moat start`). `container` (here and below): a pod's
    /// app container running in this sandbox (see pod.rs); absent: the sandbox's own.
    Start {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container: Option<String>,
    },
    /// Report the sandbox's view of its status.
    State,
    /// Deliver `signal` to the workload's init (`all`: to every workload process).
    Kill {
        signal: i32,
        #[serde(default)]
        all: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container: Option<String>,
    },
    /// Start a process in the running sandbox; its stdio (and preserved fds) come as fds with
    /// the request.
    Exec {
        process: ExecProcess,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container: Option<String>,
    },
    /// On an exec connection: deliver `signal` to the exec'd process.
    Signal {
        signal: i32,
    },
    /// The workload's processes.
    Ps {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container: Option<String>,
    },
    /// Freeze / thaw every workload thread.
    Pause,
    Resume,
    /// The sentry's counters.
    Stats {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container: Option<String>,
    },
    /// Add a pod's app container to this sandbox: its stdio, rootfs and bind-mount sources
    /// come as fds with the request (see pod.rs). Like `exec`, the connection then carries
    /// the container's life: signals in, its init's exit out.
    AddContainer {
        container: String,
        spec: crate::pod::MemberSpec,
    },
}

/// What `exec` runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecProcess {
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    pub cwd: String,
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
    #[serde(default)]
    pub additional_gids: Vec<u32>,
    /// Capability sets as bit masks (bit N = capability number N); absent: the sentry's
    /// default (all for uid 0, none otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<ExecCaps>,
    #[serde(default)]
    pub no_new_privs: bool,
    /// The numbers the fds sent with the request get in the new process, in order; empty:
    /// 0, 1, 2.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fds: Vec<i32>,
}

/// The capability sets of an exec'd process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecCaps {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub bounding: u64,
    #[serde(default)]
    pub ambient: u64,
}

/// One workload process as the sandbox reports it (virtual pids).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessEntry {
    pub pid: i32,
    pub ppid: i32,
    pub uid: u32,
    pub state: String,
    pub comm: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub threads: usize,
}

/// The sentry's own counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxStats {
    pub processes: usize,
    pub threads: usize,
    pub mapped_bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// exec: the new process's virtual pid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// add_container: the host pid of the container's init stub (for its cgroup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stub_pid: Option<i32>,
    /// exec: the process exited with this code ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// ... or was killed by this signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_signal: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes: Option<Vec<ProcessEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<SandboxStats>,
}

impl Response {
    pub fn ok() -> Response {
        Response {
            ok: true,
            ..Default::default()
        }
    }

    pub fn error(msg: impl Into<String>) -> Response {
        Response {
            ok: false,
            error: Some(crate::logging::one_line(&msg.into())),
            ..Default::default()
        }
    }
}

/// Reads one `\n`-terminated line of at most [`MAX_LINE`] bytes. `Ok(None)` on EOF before any
/// byte. Reads one byte at a time so nothing after the line is consumed.
pub fn read_line<R: Read>(mut r: R) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match r.read(&mut byte) {
            Ok(0) if buf.is_empty() => return Ok(None),
            Ok(0) => return Err(io::Error::new(io::ErrorKind::InvalidData, "truncated line")),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if byte[0] == b'\n' {
            break;
        }
        if buf.len() >= MAX_LINE {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
        }
        buf.push(byte[0]);
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8"))
}

/// Splits complete lines off the front of `buf` (for non-blocking readers).
pub fn take_lines(buf: &mut Vec<u8>) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(i) = buf.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = buf.drain(..=i).collect();
        out.push(String::from_utf8_lossy(&line[..i]).into_owned());
    }
    out
}

/// One JSON value as a line.
pub fn json_line<T: Serialize>(v: &T) -> io::Result<Vec<u8>> {
    let mut line = serde_json::to_vec(v).map_err(io::Error::other)?;
    line.push(b'\n');
    Ok(line)
}

fn write_json<T: Serialize, W: Write>(mut w: W, v: &T) -> io::Result<()> {
    w.write_all(&json_line(v)?)
}

/// `sendmsg` of `data` with `fds` as `SCM_RIGHTS` (all of `data` is sent; the fds go with the
/// first part). Never raises SIGPIPE.
pub fn send_with_fds(sock: RawFd, data: &[u8], fds: &[RawFd]) -> io::Result<()> {
    let mut sent = 0;
    let mut first = true;
    while sent < data.len() || (first && data.is_empty()) {
        let rest = &data[sent..];
        let mut iov = libc::iovec {
            iov_base: rest.as_ptr() as *mut libc::c_void,
            iov_len: rest.len(),
        };
        // SAFETY: CMSG_SPACE is a pure computation.
        let space = unsafe { libc::CMSG_SPACE(std::mem::size_of_val(fds) as u32) } as usize;
        let mut cbuf = vec![0u64; space.div_ceil(8)];
        // SAFETY: msghdr is plain old data; all-zero is valid.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if first && !fds.is_empty() {
            msg.msg_control = cbuf.as_mut_ptr().cast();
            msg.msg_controllen = space as _;
            // SAFETY: msg_control points at `space` bytes, enough for one header carrying
            // `fds.len()` ints; CMSG_FIRSTHDR/CMSG_DATA stay inside that buffer.
            unsafe {
                let cmsg = libc::CMSG_FIRSTHDR(&msg);
                (*cmsg).cmsg_level = libc::SOL_SOCKET;
                (*cmsg).cmsg_type = libc::SCM_RIGHTS;
                (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of_val(fds) as u32) as _;
                std::ptr::copy_nonoverlapping(
                    fds.as_ptr(),
                    libc::CMSG_DATA(cmsg).cast::<RawFd>(),
                    fds.len(),
                );
            }
        }
        // SAFETY: msg describes valid buffers for the duration of the call.
        let n = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        first = false;
        sent += n as usize;
        if data.is_empty() {
            break;
        }
    }
    Ok(())
}

/// `recvmsg` into `buf`, collecting received fds (made close-on-exec) into `fds`. Fds beyond
/// [`MAX_FDS`] in total are closed. Returns the number of bytes read (0 at EOF).
pub fn recv_with_fds(sock: RawFd, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> io::Result<usize> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for as many fds as one message can carry; beyond MAX_FDS in total we close them.
    // SAFETY: CMSG_SPACE is a pure computation.
    let space =
        unsafe { libc::CMSG_SPACE((MAX_FDS * std::mem::size_of::<RawFd>()) as u32) } as usize;
    let mut cbuf = vec![0u64; space.div_ceil(8)];
    loop {
        // SAFETY: msghdr is plain old data; all-zero is valid.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: msg describes valid buffers for the duration of the call.
        let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        // SAFETY: walking the control messages the kernel wrote into cbuf, within
        // msg_controllen; every SCM_RIGHTS payload is an array of fds now owned by us.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                    let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                    let len = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                    for i in 0..len / std::mem::size_of::<RawFd>() {
                        let fd = OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i)));
                        if fds.len() < MAX_FDS {
                            fds.push(fd);
                        }
                    }
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        if msg.msg_flags & libc::MSG_CTRUNC != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "too many file descriptors",
            ));
        }
        return Ok(n as usize);
    }
}

fn connect(path: &Path, timeout: Duration) -> Result<UnixStream> {
    let ctl = |what: &str, e: io::Error| Error::Control(format!("{what} {}: {e}", path.display()));
    let stream = UnixStream::connect(path).map_err(|e| ctl("connect to", e))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| ctl("configure", e))?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| ctl("configure", e))?;
    Ok(stream)
}

fn read_response(path: &Path, stream: &UnixStream) -> Result<Response> {
    let line = read_line(stream)
        .map_err(|e| Error::Control(format!("read from {}: {e}", path.display())))?
        .ok_or_else(|| Error::Control(format!("{} closed without answering", path.display())))?;
    serde_json::from_str(&line).map_err(|e| Error::Control(format!("invalid response: {e}")))
}

/// Sends `req` to the sandbox listening on `path` and returns its response.
pub fn request(path: &Path, req: &Request, timeout: Duration) -> Result<Response> {
    let stream = connect(path, timeout)?;
    write_json(&stream, req)
        .map_err(|e| Error::Control(format!("send to {}: {e}", path.display())))?;
    read_response(path, &stream)
}

/// Like [`request`], turning an `ok: false` response into an error.
pub fn call(path: &Path, req: &Request, timeout: Duration) -> Result<Response> {
    ok_or_err(request(path, req, timeout)?)
}

fn ok_or_err(resp: Response) -> Result<Response> {
    if resp.ok {
        Ok(resp)
    } else {
        Err(Error::Sandbox(
            resp.error.unwrap_or_else(|| "request failed".into()),
        ))
    }
}

/// Sends `req` with `fds` and returns the (successful) response and the still-open connection.
pub fn call_with_fds(
    path: &Path,
    req: &Request,
    fds: &[RawFd],
    timeout: Duration,
) -> Result<(Response, UnixStream)> {
    let stream = connect(path, timeout)?;
    let line = json_line(req).map_err(|e| Error::Control(format!("encode request: {e}")))?;
    send_with_fds(stream.as_raw_fd(), &line, fds)
        .map_err(|e| Error::Control(format!("send to {}: {e}", path.display())))?;
    let resp = ok_or_err(read_response(path, &stream)?)?;
    Ok((resp, stream))
}

/// One accepted connection: its request (or why it could not be parsed), the fds that came
/// with it, and how to answer.
pub struct Incoming {
    pub stream: UnixStream,
    pub request: std::result::Result<Request, String>,
    pub fds: Vec<OwnedFd>,
}

impl Incoming {
    pub fn reply(mut self, resp: &Response) {
        self.reply_keep(resp);
    }

    /// Answers and keeps the connection (exec).
    pub fn reply_keep(&mut self, resp: &Response) {
        if let Err(e) = write_json(&mut self.stream, resp) {
            tracing::debug!("control reply failed: {e}");
        }
    }
}

/// Reads a request line (and any fds sent with it) from a fresh connection.
fn read_request(stream: UnixStream, timeout: Duration) -> io::Result<Option<Incoming>> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut fds = Vec::new();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    let request = loop {
        // One byte at a time: the connection may carry more after the line (exec).
        match recv_with_fds(stream.as_raw_fd(), &mut byte, &mut fds) {
            Ok(0) if line.is_empty() => return Ok(None),
            Ok(0) => break Err("invalid request: truncated line".to_string()),
            Ok(_) if byte[0] == b'\n' => {
                break match std::str::from_utf8(&line) {
                    Ok(l) => serde_json::from_str(l).map_err(|e| format!("invalid request: {e}")),
                    Err(_) => Err("invalid request: not UTF-8".to_string()),
                }
            }
            Ok(_) if line.len() >= MAX_LINE => break Err("invalid request: line too long".into()),
            Ok(_) => line.push(byte[0]),
            Err(e) => break Err(format!("invalid request: {e}")),
        }
    };
    Ok(Some(Incoming {
        stream,
        request,
        fds,
    }))
}

/// Waits for the next connection with a request line. A client that connects and says nothing
/// for `timeout` is dropped.
pub fn accept(listener: &UnixListener, timeout: Duration) -> io::Result<Incoming> {
    loop {
        let (stream, _) = match listener.accept() {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if let Some(inc) = read_request(stream, timeout)? {
            return Ok(inc);
        }
    }
}

/// Accepts one pending connection on a non-blocking listener: `Ok(None)` when there is none
/// (or it closed without a request).
pub fn accept_one(listener: &UnixListener, timeout: Duration) -> io::Result<Option<Incoming>> {
    let (stream, _) = match listener.accept() {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    match read_request(stream, timeout) {
        Ok(r) => Ok(r),
        // A client that vanished mid-request is not the listener's failure.
        Err(e) => {
            tracing::debug!("control connection: {e}");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format() {
        assert_eq!(
            serde_json::to_string(&Request::Start { container: None }).unwrap(),
            r#"{"op":"start"}"#
        );
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"op":"ps","container":"app"}"#).unwrap(),
            Request::Ps {
                container: Some("app".into())
            }
        );
        assert_eq!(
            serde_json::to_string(&Request::Kill {
                signal: 15,
                all: false,
                container: None
            })
            .unwrap(),
            r#"{"op":"kill","signal":15,"all":false}"#
        );
        let r: Request = serde_json::from_str(r#"{"op":"kill","signal":9,"extra":1}"#).unwrap();
        assert_eq!(
            r,
            Request::Kill {
                signal: 9,
                all: false,
                container: None
            }
        );
        assert!(serde_json::from_str::<Request>(r#"{"op":"bogus"}"#).is_err());
        assert!(serde_json::from_str::<Request>(r#"{"op":"kill"}"#).is_err());
        assert_eq!(
            serde_json::to_string(&Response::ok()).unwrap(),
            r#"{"ok":true}"#
        );
        assert_eq!(
            serde_json::to_string(&Response::error("a\nb")).unwrap(),
            r#"{"ok":false,"error":"a b"}"#
        );
    }

    #[test]
    fn bounded_lines() {
        assert_eq!(read_line(&b"abc\nrest"[..]).unwrap(), Some("abc".into()));
        assert_eq!(read_line(&b""[..]).unwrap(), None);
        assert!(read_line(&b"no newline"[..]).is_err());
        let big = vec![b'x'; MAX_LINE + 10];
        assert!(read_line(&big[..]).is_err());
        assert!(read_line(&b"\xff\xfe\n"[..]).is_err());
    }

    #[test]
    fn round_trip_over_a_socket() {
        let dir = std::env::temp_dir().join(format!("moat-ctl-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let inc = accept(&listener, Duration::from_secs(5)).unwrap();
            assert_eq!(inc.request, Ok(Request::State));
            inc.reply(&Response {
                ok: true,
                status: Some("created".into()),
                ..Default::default()
            });
            let inc = accept(&listener, Duration::from_secs(5)).unwrap();
            assert!(inc.request.is_err());
            inc.reply(&Response::error("nope"));
        });
        let r = request(&path, &Request::State, Duration::from_secs(5)).unwrap();
        assert_eq!(r.status.as_deref(), Some("created"));
        // A raw malformed request.
        let mut s = UnixStream::connect(&path).unwrap();
        s.write_all(b"{garbage\n").unwrap();
        let line = read_line(&s).unwrap().unwrap();
        assert!(line.contains("\"ok\":false"));
        server.join().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fds_travel_with_the_request() {
        let dir = std::env::temp_dir().join(format!("moat-ctl-fds-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let mut inc = accept(&listener, Duration::from_secs(5)).unwrap();
            assert!(matches!(inc.request, Ok(Request::Exec { .. })));
            assert_eq!(inc.fds.len(), 3);
            // The fd is the write end of the client's pipe.
            let mut f = std::fs::File::from(inc.fds.remove(1));
            f.write_all(b"hello").unwrap();
            inc.reply_keep(&Response {
                ok: true,
                pid: Some(7),
                ..Default::default()
            });
            // A signal line follows on the same connection.
            let line = read_line(&inc.stream).unwrap().unwrap();
            assert_eq!(
                serde_json::from_str::<Request>(&line).unwrap(),
                Request::Signal { signal: 15 }
            );
            inc.reply(&Response {
                ok: true,
                exit_code: Some(3),
                ..Default::default()
            });
        });
        let (r, w) = std::io::pipe().unwrap();
        let fds = [0, w.as_raw_fd(), 2];
        let req = Request::Exec {
            process: ExecProcess {
                args: vec!["true".into()],
                cwd: "/".into(),
                ..Default::default()
            },
            container: None,
        };
        let (resp, mut stream) = call_with_fds(&path, &req, &fds, Duration::from_secs(5)).unwrap();
        assert_eq!(resp.pid, Some(7));
        drop(w);
        stream
            .write_all(&json_line(&Request::Signal { signal: 15 }).unwrap())
            .unwrap();
        let exit: Response = serde_json::from_str(&read_line(&stream).unwrap().unwrap()).unwrap();
        assert_eq!(exit.exit_code, Some(3));
        let mut got = String::new();
        let mut r = r;
        r.read_to_string(&mut got).unwrap();
        assert_eq!(got, "hello");
        server.join().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn line_splitting() {
        let mut b = b"a\nbc\nrest".to_vec();
        assert_eq!(take_lines(&mut b), ["a", "bc"]);
        assert_eq!(b, b"rest");
    }
}
