//! Terminals: a host pty pair for `process.terminal` (create) and `exec --tty`, the
//! `--console-socket` hand-over of its master as runc does it, and the copy loop `run`/`exec`
//! use when they keep the terminal themselves.
//!
//! The slave becomes the workload's stdin, stdout and stderr; the sentry treats a host tty as
//! stdio (reads, writes, window size) and answers job-control ioctls itself.

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::control::send_with_fds;
use crate::error::{Error, Result};

/// A pty pair: the master (for the caller) and the slave (the workload's stdio).
#[derive(Debug)]
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    /// `/dev/pts/N`.
    pub slave_path: String,
}

/// Allocates a pty pair on the host (both ends close-on-exec).
pub fn open_pty() -> Result<Pty> {
    // SAFETY: posix_openpt returns a new fd or -1.
    let m = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if m < 0 {
        return Err(Error::last_os("open /dev/ptmx"));
    }
    // SAFETY: m is a fresh fd owned here.
    let master = unsafe { OwnedFd::from_raw_fd(m) };
    // SAFETY: grantpt/unlockpt on our master fd.
    if unsafe { libc::grantpt(m) } != 0 || unsafe { libc::unlockpt(m) } != 0 {
        return Err(Error::last_os("unlock pty"));
    }
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: ptsname_r writes a NUL-terminated name into our buffer of the given size.
    if unsafe { libc::ptsname_r(m, name.as_mut_ptr(), name.len()) } != 0 {
        return Err(Error::last_os("ptsname"));
    }
    // SAFETY: ptsname_r succeeded, so the buffer holds a NUL-terminated string.
    let path = unsafe { CStr::from_ptr(name.as_ptr()) };
    // SAFETY: opening the slave by the path the kernel gave us.
    let s = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if s < 0 {
        return Err(Error::last_os(format!("open {}", path.to_string_lossy())));
    }
    // SAFETY: s is a fresh fd owned here.
    let slave = unsafe { OwnedFd::from_raw_fd(s) };
    Ok(Pty {
        master,
        slave,
        slave_path: path.to_string_lossy().into_owned(),
    })
}

/// Sends `master` over the unix socket at `socket` as runc does: one `SCM_RIGHTS` message whose
/// data is the file's name.
pub fn send_console(socket: &Path, master: &OwnedFd) -> Result<()> {
    let stream = UnixStream::connect(socket)
        .map_err(|e| Error::io(format!("connect to console socket {}", socket.display()), e))?;
    send_with_fds(stream.as_raw_fd(), b"/dev/ptmx", &[master.as_raw_fd()])
        .map_err(|e| Error::io(format!("send console to {}", socket.display()), e))
}

/// Copies the window size of `from` (a terminal) to `to`; nothing if `from` is no terminal.
pub fn copy_winsize(from: RawFd, to: RawFd) {
    // SAFETY: winsize is plain old data.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes into our winsize.
    if unsafe { libc::ioctl(from, libc::TIOCGWINSZ, &mut ws) } == 0 {
        // SAFETY: TIOCSWINSZ reads our winsize.
        unsafe { libc::ioctl(to, libc::TIOCSWINSZ, &ws) };
    }
}

/// Puts a terminal in raw mode until dropped (what runc does to its own terminal when it keeps
/// the container's).
pub struct RawMode {
    fd: RawFd,
    saved: libc::termios,
}

impl RawMode {
    /// `None` when `fd` is not a terminal.
    pub fn enter(fd: RawFd) -> Option<RawMode> {
        // SAFETY: termios is plain old data.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr writes into our termios.
        if unsafe { libc::tcgetattr(fd, &mut t) } != 0 {
            return None;
        }
        let saved = t;
        // SAFETY: cfmakeraw edits our termios; tcsetattr applies it.
        unsafe {
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(fd, libc::TCSANOW, &t);
        }
        Some(RawMode { fd, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `enter`.
        unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved) };
    }
}

/// Moves bytes between our stdin/stdout and a pty master inside a poll loop.
pub struct Proxy {
    pub master: File,
    stdin_open: bool,
    master_open: bool,
}

impl Proxy {
    pub fn new(master: OwnedFd) -> Proxy {
        // SAFETY: F_SETFL O_NONBLOCK on an fd we own.
        unsafe {
            let fl = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(master.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
        Proxy {
            master: File::from(master),
            stdin_open: true,
            master_open: true,
        }
    }

    /// The pollfds this proxy wants: stdin, then the master.
    pub fn pollfds(&self) -> Vec<libc::pollfd> {
        let mut v = Vec::new();
        if self.stdin_open {
            v.push(libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        if self.master_open {
            v.push(libc::pollfd {
                fd: self.master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        v
    }

    /// Handles readiness reported for one of [`Proxy::pollfds`].
    pub fn ready(&mut self, pfd: &libc::pollfd) {
        if pfd.revents == 0 {
            return;
        }
        if pfd.fd == 0 {
            if !copy_once(0, self.master.as_raw_fd()) {
                self.stdin_open = false;
            }
        } else if !copy_once(self.master.as_raw_fd(), 1) {
            self.master_open = false;
        }
    }

    /// Copies what is left in the master to stdout (after the process ended).
    pub fn drain(&mut self) {
        while self.master_open && copy_once(self.master.as_raw_fd(), 1) {
            let mut p = libc::pollfd {
                fd: self.master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll on one pollfd we own.
            if unsafe { libc::poll(&mut p, 1, 50) } <= 0 {
                break;
            }
        }
    }
}

/// One read from `from` and a full write to `to`; false at EOF or on error (EAGAIN is not).
fn copy_once(from: RawFd, to: RawFd) -> bool {
    let mut buf = [0u8; 8192];
    // SAFETY: read into our buffer.
    let n = unsafe { libc::read(from, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
        );
    }
    if n == 0 {
        return false;
    }
    let mut off = 0usize;
    while off < n as usize {
        // SAFETY: write from our buffer.
        let w = unsafe { libc::write(to, buf[off..].as_ptr().cast(), n as usize - off) };
        if w < 0 {
            let e = io::Error::last_os_error();
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) {
                continue;
            }
            return false;
        }
        off += w as usize;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn pty_pair_carries_bytes() {
        let p = open_pty().unwrap();
        assert!(p.slave_path.starts_with("/dev/pts/"));
        // SAFETY: isatty only inspects the fd.
        assert_eq!(unsafe { libc::isatty(p.slave.as_raw_fd()) }, 1);
        let mut slave = File::from(p.slave);
        let mut master = File::from(p.master);
        slave.write_all(b"x\n").unwrap();
        let mut buf = [0u8; 16];
        let n = master.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"x"));
    }
}
