//! Files backed by a host fd the sandbox was given (the workload's stdio). The workload never
//! holds the host fd: the sentry reads and writes it on the workload's behalf, only when a
//! zero-timeout poll says the operation will not block.

use crate::errno::Errno;
use crate::mm::Mem;
use crate::vfs::file::{FileOps, OpenFile, POLLIN, POLLOUT};
use std::any::Any;
use std::os::fd::{AsRawFd, OwnedFd};

/// sizeof(struct termios) in the kernel's ioctl ABI (x86-64).
const KERNEL_TERMIOS_SIZE: usize = 36;

#[derive(Debug)]
pub struct HostFile {
    pub fd: OwnedFd,
    pub is_tty: bool,
    pub seekable: bool,
}

impl HostFile {
    pub fn new(fd: OwnedFd) -> HostFile {
        // SAFETY: isatty only inspects the fd.
        let is_tty = unsafe { libc::isatty(fd.as_raw_fd()) } == 1;
        // SAFETY: lseek on our own fd, no memory involved.
        let seekable = unsafe { libc::lseek(fd.as_raw_fd(), 0, libc::SEEK_CUR) } >= 0;
        HostFile {
            fd,
            is_tty,
            seekable,
        }
    }

    fn ready(&self, events: i16) -> u32 {
        let mut p = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        if n <= 0 {
            0
        } else {
            p.revents as u32
        }
    }
}

impl FileOps for HostFile {
    fn read(&self, _f: &OpenFile, buf: &mut [u8], _off: Option<u64>) -> Result<usize, Errno> {
        if !self.seekable && self.ready(libc::POLLIN) == 0 {
            return Err(Errno::EAGAIN);
        }
        // SAFETY: buf valid for its length.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr() as *mut _, buf.len()) };
        if n < 0 {
            return Err(Errno::last());
        }
        Ok(n as usize)
    }

    fn write(&self, _f: &OpenFile, buf: &[u8], _off: Option<u64>) -> Result<usize, Errno> {
        if !self.seekable {
            let r = self.ready(libc::POLLOUT);
            if r & (libc::POLLERR as u32) != 0 {
                return Err(Errno::EPIPE);
            }
            if r & (libc::POLLOUT as u32) == 0 {
                return Err(Errno::EAGAIN);
            }
        }
        // SAFETY: buf valid for its length.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), buf.as_ptr() as *const _, buf.len()) };
        if n < 0 {
            return Err(Errno::last());
        }
        Ok(n as usize)
    }

    fn poll(&self) -> u32 {
        if self.seekable {
            return POLLIN | POLLOUT;
        }
        self.ready(libc::POLLIN | libc::POLLOUT)
    }

    fn host_fd(&self) -> Option<i32> {
        Some(self.fd.as_raw_fd())
    }

    fn ioctl(&self, _f: &OpenFile, req: u64, arg: u64, mem: &Mem) -> Result<i64, Errno> {
        if !self.is_tty {
            return Err(Errno::ENOTTY);
        }
        match req {
            // The ioctl ABI uses the kernel's 36-byte `struct termios` (glibc's is larger):
            // copy exactly that many bytes each way.
            libc::TCGETS => {
                let mut t = [0u8; KERNEL_TERMIOS_SIZE];
                // SAFETY: the buffer holds a kernel termios.
                if unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::TCGETS, t.as_mut_ptr()) } != 0 {
                    return Err(Errno::last());
                }
                mem.write(arg, &t)?;
                Ok(0)
            }
            libc::TCSETS | libc::TCSETSW | libc::TCSETSF => {
                let mut t = [0u8; KERNEL_TERMIOS_SIZE];
                mem.read(arg, &mut t)?;
                // SAFETY: the buffer holds a kernel termios.
                if unsafe { libc::ioctl(self.fd.as_raw_fd(), req, t.as_ptr()) } != 0 {
                    return Err(Errno::last());
                }
                Ok(0)
            }
            libc::TIOCGWINSZ => {
                // SAFETY: winsize is POD.
                let mut w: libc::winsize = unsafe { std::mem::zeroed() };
                // SAFETY: valid out pointer.
                if unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::TIOCGWINSZ, &mut w) } != 0 {
                    return Err(Errno::last());
                }
                mem.write_pod(arg, &w)?;
                Ok(0)
            }
            libc::TIOCSWINSZ => {
                let w: libc::winsize = mem.read_pod(arg)?;
                // SAFETY: valid in pointer.
                if unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::TIOCSWINSZ, &w) } != 0 {
                    return Err(Errno::last());
                }
                Ok(0)
            }
            // Job control stays inside the sandbox: report the workload's own groups.
            libc::TIOCGPGRP | libc::TIOCGSID => {
                mem.write_i32(arg, 1)?;
                Ok(0)
            }
            libc::TIOCSPGRP => Ok(0),
            _ => Err(Errno::ENOTTY),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
