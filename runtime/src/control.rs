//! The control socket `<root>/<id>/control.sock`: how short-lived `moat` commands talk to a
//! sandbox.
//!
//! Protocol: a unix stream socket. A client connects, writes ONE request as a single line of
//! JSON terminated by `\n`, and reads ONE response line of JSON; then both sides close. Requests
//! are objects tagged by `"op"`; unknown fields are ignored, an unknown `op` gets an error
//! response. Responses always carry `"ok"`; on failure `"error"` holds a one-line message.
//!
//! ```text
//! -> {"op":"start"}                      <- {"ok":true}
//! -> {"op":"state"}                      <- {"ok":true,"status":"created"}
//! -> {"op":"kill","signal":15,"all":false} <- {"ok":true}
//! -> {"op":"bogus"}                      <- {"ok":false,"error":"invalid request: ..."}
//! ```
//!
//! Later ops (exec, ps, pause, resume, events) extend [`Request`]; ops that pass file
//! descriptors (exec's stdio) will send them as `SCM_RIGHTS` with the request line.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Longest request or response line accepted.
pub const MAX_LINE: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Release the loaded init task (`moat start`).
    Start,
    /// Report the sandbox's view of its status.
    State,
    /// Deliver `signal` to the workload's init (`all`: to every workload process).
    Kill {
        signal: i32,
        #[serde(default)]
        all: bool,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
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
            status: None,
        }
    }
}

/// Reads one `\n`-terminated line of at most [`MAX_LINE`] bytes. `Ok(None)` on EOF before any
/// byte.
pub fn read_line<R: Read>(r: R) -> io::Result<Option<String>> {
    let mut reader = BufReader::new(r.take(MAX_LINE as u64 + 1));
    let mut buf = Vec::new();
    let n = reader.read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        let why = if buf.len() > MAX_LINE {
            "line too long"
        } else {
            "truncated line"
        };
        return Err(io::Error::new(io::ErrorKind::InvalidData, why));
    }
    buf.pop();
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8"))
}

fn write_json<T: Serialize, W: Write>(mut w: W, v: &T) -> io::Result<()> {
    let mut line = serde_json::to_vec(v).map_err(io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line)
}

/// Sends `req` to the sandbox listening on `path` and returns its response.
pub fn request(path: &Path, req: &Request, timeout: Duration) -> Result<Response> {
    let ctl = |what: &str, e: io::Error| Error::Control(format!("{what} {}: {e}", path.display()));
    let stream = UnixStream::connect(path).map_err(|e| ctl("connect to", e))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| ctl("configure", e))?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| ctl("configure", e))?;
    write_json(&stream, req).map_err(|e| ctl("send to", e))?;
    let line = read_line(&stream)
        .map_err(|e| ctl("read from", e))?
        .ok_or_else(|| Error::Control(format!("{} closed without answering", path.display())))?;
    serde_json::from_str(&line).map_err(|e| Error::Control(format!("invalid response: {e}")))
}

/// Like [`request`], turning an `ok: false` response into an error.
pub fn call(path: &Path, req: &Request, timeout: Duration) -> Result<Response> {
    let resp = request(path, req, timeout)?;
    if resp.ok {
        Ok(resp)
    } else {
        Err(Error::Sandbox(
            resp.error.unwrap_or_else(|| "request failed".into()),
        ))
    }
}

/// One accepted connection: its request (or why it could not be parsed) and how to answer.
pub struct Incoming {
    stream: UnixStream,
    pub request: std::result::Result<Request, String>,
}

impl Incoming {
    pub fn reply(mut self, resp: &Response) {
        if let Err(e) = write_json(&mut self.stream, resp) {
            tracing::debug!("control reply failed: {e}");
        }
    }
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
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let request = match read_line(&stream) {
            Ok(Some(line)) => {
                serde_json::from_str(&line).map_err(|e| format!("invalid request: {e}"))
            }
            Ok(None) => continue,
            Err(e) => Err(format!("invalid request: {e}")),
        };
        return Ok(Incoming { stream, request });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format() {
        assert_eq!(
            serde_json::to_string(&Request::Start).unwrap(),
            r#"{"op":"start"}"#
        );
        assert_eq!(
            serde_json::to_string(&Request::Kill {
                signal: 15,
                all: false
            })
            .unwrap(),
            r#"{"op":"kill","signal":15,"all":false}"#
        );
        let r: Request = serde_json::from_str(r#"{"op":"kill","signal":9,"extra":1}"#).unwrap();
        assert_eq!(
            r,
            Request::Kill {
                signal: 9,
                all: false
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
                error: None,
                status: Some("created".into()),
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
}
