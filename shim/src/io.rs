//! A process's stdio. containerd names fifos (ctr and the CRI plugin read and write the other
//! ends); the shim opens them and hands them to moat as the process's stdin, stdout and stderr,
//! or, for a terminal, receives the pty master over `--console-socket` and copies between it and
//! the fifos.
//!
//! Each fifo is also held open read-write by the shim (a *keeper*) for the process's life, as
//! runc's shim does: opening either end then never blocks, the process never sees EPIPE or a
//! premature EOF on stdin while containerd's side is not open yet, and stdin reaches EOF only
//! after `CloseIO` (the keeper is dropped) and containerd closed its end. When the process exits
//! the keepers are dropped, so containerd's readers see EOF and its I/O wait ends.

use std::fs::{File, OpenOptions};
use std::io::{IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};

use crate::error::{Error, Result};
use crate::moat::ChildStdio;

/// How long an exit waits for a terminal's last output to reach the stdout fifo.
const OUTPUT_DRAIN: Duration = Duration::from_secs(2);

/// The three stdio names containerd gave a process (empty: none).
#[derive(Debug, Clone, Default)]
pub struct StdioPaths {
    pub stdin: String,
    pub stdout: String,
    pub stderr: String,
    pub terminal: bool,
}

enum Target {
    None,
    Fifo(PathBuf),
    /// `file:///path` (ctr --log-uri file://...): appended to.
    File(PathBuf),
}

fn target(uri: &str) -> Result<Target> {
    if uri.is_empty() {
        return Ok(Target::None);
    }
    if let Some(p) = uri.strip_prefix("file://") {
        return Ok(Target::File(PathBuf::from(p)));
    }
    if let Some(p) = uri.strip_prefix("fifo://") {
        return Ok(Target::Fifo(PathBuf::from(p)));
    }
    if uri.contains("://") {
        return Err(Error::Unimplemented(format!(
            "stdio {uri:?}: only fifos and file:// are supported by the moat shim"
        )));
    }
    Ok(Target::Fifo(PathBuf::from(uri)))
}

fn open(path: &Path, read: bool, write: bool) -> Result<File> {
    OpenOptions::new()
        .read(read)
        .write(write)
        .open(path)
        .map_err(Error::io(format!("open {}", path.display())))
}

fn devnull() -> Result<File> {
    open(Path::new("/dev/null"), true, true)
}

/// An output fifo: (keeper, the write end for the process).
fn open_output(uri: &str) -> Result<(Option<File>, Option<File>)> {
    match target(uri)? {
        Target::None => Ok((None, None)),
        Target::Fifo(p) => {
            let keeper = open(&p, true, true)?;
            // Does not block: the keeper is a reader.
            let w = open(&p, false, true)?;
            Ok((Some(keeper), Some(w)))
        }
        Target::File(p) => {
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d).map_err(Error::io(format!("mkdir {}", d.display())))?;
            }
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o640)
                .open(&p)
                .map_err(Error::io(format!("open {}", p.display())))?;
            Ok((None, Some(f)))
        }
    }
}

/// The stdin fifo: (keeper, the read end for the process).
fn open_input(uri: &str) -> Result<(Option<File>, Option<File>)> {
    match target(uri)? {
        Target::None => Ok((None, None)),
        Target::Fifo(p) => {
            let keeper = open(&p, true, true)?;
            // Does not block: the keeper is a writer.
            let r = open(&p, true, false)?;
            Ok((Some(keeper), Some(r)))
        }
        Target::File(p) => Ok((None, Some(open(&p, true, false)?))),
    }
}

/// What the shim holds for one process.
#[derive(Default)]
pub struct ProcessIo {
    stdin_keeper: Option<File>,
    /// Only held: dropping them is what ends containerd's reads.
    _out_keepers: Vec<File>,
    console: Option<Console>,
}

struct Console {
    master: File,
    /// Signalled when the master → stdout copy ended (the terminal's slave side is gone).
    output_done: Option<Receiver<()>>,
}

/// Opens the fifos of a process without a terminal: the shim's part, and the fds moat passes
/// on to the process.
pub fn open_plain(p: &StdioPaths) -> Result<(ProcessIo, ChildStdio)> {
    let (in_keeper, stdin) = open_input(&p.stdin)?;
    let (out_keeper, stdout) = open_output(&p.stdout)?;
    // CRI names two fifos; a caller may name one for both.
    let (err_keeper, stderr) = if !p.stderr.is_empty() && p.stderr == p.stdout {
        (
            None,
            stdout
                .as_ref()
                .map(File::try_clone)
                .transpose()
                .map_err(Error::io("dup stdout"))?,
        )
    } else {
        open_output(&p.stderr)?
    };
    let io = ProcessIo {
        stdin_keeper: in_keeper,
        _out_keepers: out_keeper.into_iter().chain(err_keeper).collect(),
        console: None,
    };
    let or_null =
        |f: Option<File>| -> Result<Stdio> { Ok(Stdio::from(f.map_or_else(devnull, Ok)?)) };
    Ok((
        io,
        ChildStdio {
            stdin: or_null(stdin)?,
            stdout: or_null(stdout)?,
            stderr: or_null(stderr)?,
        },
    ))
}

/// stdio for the moat command of a terminal process: the process gets the pty's slave, so the
/// command itself gets /dev/null.
pub fn null_stdio() -> Result<ChildStdio> {
    Ok(ChildStdio {
        stdin: Stdio::from(devnull()?),
        stdout: Stdio::from(devnull()?),
        stderr: Stdio::from(devnull()?),
    })
}

/// A unix socket moat connects to with `--console-socket` to send the pty master. Lives in a
/// private temporary directory (a bundle path may be too long for a socket address).
pub struct ConsoleSocket {
    _dir: tempfile::TempDir,
    path: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    pub fn new() -> Result<ConsoleSocket> {
        let dir = tempfile::Builder::new()
            .prefix("moat-shim-")
            .tempdir()
            .map_err(Error::io("console socket dir"))?;
        let path = dir.path().join("console.sock");
        let listener =
            UnixListener::bind(&path).map_err(Error::io(format!("bind {}", path.display())))?;
        Ok(ConsoleSocket {
            _dir: dir,
            path,
            listener,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The master moat sent. moat has connected and sent it before its command returned, so
    /// the connection is waiting in the backlog; `timeout` only covers a slow kernel.
    pub fn receive(&self, timeout: Duration) -> Result<OwnedFd> {
        self.listener
            .set_nonblocking(true)
            .map_err(Error::io("console socket"))?;
        let deadline = Instant::now() + timeout;
        let stream = loop {
            match self.listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(Error::Other(
                            "moat did not send the terminal over --console-socket".into(),
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(Error::io("accept on the console socket")(e)),
            }
        };
        stream
            .set_nonblocking(false)
            .and_then(|_| stream.set_read_timeout(Some(timeout)))
            .map_err(Error::io("console socket"))?;
        let mut name = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut name)];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
        let msg = recvmsg::<UnixAddr>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(Error::nix("receive the terminal"))?;
        let mut got: Option<OwnedFd> = None;
        for c in msg.cmsgs().map_err(Error::nix("receive the terminal"))? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for fd in fds {
                    // SAFETY: SCM_RIGHTS just installed `fd` in this process; nothing else
                    // owns it. Extra fds (none are expected) are closed by their drop.
                    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                    got.get_or_insert(owned);
                }
            }
        }
        got.ok_or_else(|| Error::Other("moat sent no terminal fd over --console-socket".into()))
    }
}

/// Starts copying between a terminal's master and the process's fifos: stdin fifo → master,
/// master → stdout fifo.
pub fn open_console(master: OwnedFd, p: &StdioPaths) -> Result<ProcessIo> {
    let master = File::from(master);
    let (in_keeper, stdin) = open_input(&p.stdin)?;
    let (out_keeper, stdout) = open_output(&p.stdout)?;
    if let Some(mut input) = stdin {
        let mut m = master.try_clone().map_err(Error::io("dup terminal"))?;
        std::thread::Builder::new()
            .name("tty-stdin".into())
            .spawn(move || {
                let _ = std::io::copy(&mut input, &mut m);
            })
            .map_err(Error::io("start the stdin copy"))?;
    }
    let mut output_done = None;
    if let Some(mut out) = stdout {
        let mut m = master.try_clone().map_err(Error::io("dup terminal"))?;
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name("tty-stdout".into())
            .spawn(move || {
                // Ends with EIO once the last slave fd (the sandbox's) is closed.
                let mut buf = [0u8; 32 * 1024];
                loop {
                    match m.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            if out.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                let _ = tx.send(());
            })
            .map_err(Error::io("start the stdout copy"))?;
        output_done = Some(rx);
    }
    Ok(ProcessIo {
        stdin_keeper: in_keeper,
        _out_keepers: out_keeper.into_iter().collect(),
        console: Some(Console {
            master,
            output_done,
        }),
    })
}

nix::ioctl_write_ptr_bad!(set_winsize, libc::TIOCSWINSZ, libc::winsize);

impl ProcessIo {
    /// containerd's CloseIO: stdin reaches EOF once containerd's end is closed too.
    pub fn close_stdin(&mut self) {
        self.stdin_keeper = None;
    }

    pub fn resize(&self, width: u32, height: u32) -> Result<()> {
        let Some(c) = &self.console else {
            return Ok(());
        };
        let ws = libc::winsize {
            ws_row: u16::try_from(height).unwrap_or(u16::MAX),
            ws_col: u16::try_from(width).unwrap_or(u16::MAX),
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which outlives the call; the
        // fd is the pty master this struct owns.
        unsafe { set_winsize(c.master.as_fd().as_raw_fd(), &ws) }
            .map_err(Error::nix("resize the terminal"))?;
        Ok(())
    }

    /// The process exited: let a terminal's last output through, then close everything, so
    /// containerd's readers see EOF.
    pub fn finish(mut self) {
        if let Some(c) = self.console.as_mut() {
            if let Some(rx) = c.output_done.take() {
                let _ = rx.recv_timeout(OUTPUT_DRAIN);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::stat::Mode;
    use nix::unistd::mkfifo;

    #[test]
    fn fifos_open_without_peers_and_eof_follows_the_keepers() {
        let dir = tempfile::tempdir().unwrap();
        let (i, o) = (dir.path().join("in"), dir.path().join("out"));
        mkfifo(&i, Mode::S_IRWXU).unwrap();
        mkfifo(&o, Mode::S_IRWXU).unwrap();
        let paths = StdioPaths {
            stdin: i.display().to_string(),
            stdout: o.display().to_string(),
            stderr: String::new(),
            terminal: false,
        };
        // No reader or writer on the other side yet: nothing blocks.
        let (io, _child) = open_plain(&paths).unwrap();
        assert!(io.stdin_keeper.is_some());
        assert_eq!(io._out_keepers.len(), 1);
        // containerd's reader: open, and it sees EOF once the shim's keeper and the process's
        // write end are gone.
        let mut reader = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&o)
            .unwrap();
        drop(_child);
        io.finish();
        let mut s = String::new();
        assert_eq!(reader.read_to_string(&mut s).unwrap(), 0);
    }

    #[test]
    fn uris() {
        assert!(matches!(target("").unwrap(), Target::None));
        assert!(matches!(target("/run/x/stdout").unwrap(), Target::Fifo(_)));
        assert!(
            matches!(target("file:///var/log/x").unwrap(), Target::File(p) if p == Path::new("/var/log/x"))
        );
        let e = target("binary:///usr/bin/logger?x=1").err().unwrap();
        assert!(e.to_string().contains("only fifos"), "{e}");
    }

    #[test]
    fn file_uri_output() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("sub/log");
        let paths = StdioPaths {
            stdout: format!("file://{}", f.display()),
            ..Default::default()
        };
        let (_io, _child) = open_plain(&paths).unwrap();
        assert!(f.exists());
    }
}
