//! Pipes and FIFOs: a byte queue shared by a read end and a write end.

use crate::errno::Errno;
use crate::vfs::file::{FileOps, OpenFile, POLLERR, POLLHUP, POLLIN, POLLOUT};
use std::any::Any;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

pub const PIPE_BUF: usize = 4096;
pub const PIPE_CAPACITY: usize = 65536;

#[derive(Debug, Default)]
pub struct PipeBuf {
    pub data: VecDeque<u8>,
    pub readers: usize,
    pub writers: usize,
    /// Ever had a writer (FIFO readers opened before any writer see no EOF yet).
    pub had_writer: bool,
    pub ino: u64,
    /// Event counters for edge-triggered epoll (FileOps::event_seq): `rseq` grows with what
    /// read ends wait for (writes, the last writer closing), `wseq` with what write ends
    /// wait for (reads, the last reader closing).
    pub rseq: u64,
    pub wseq: u64,
    /// Size set with F_SETPIPE_SZ; 0 until then (the default, PIPE_CAPACITY).
    pub capacity: usize,
}

impl PipeBuf {
    pub fn capacity(&self) -> usize {
        if self.capacity == 0 {
            PIPE_CAPACITY
        } else {
            self.capacity
        }
    }
}

/// Largest size an unprivileged F_SETPIPE_SZ may ask for (Linux's default pipe-max-size).
pub const PIPE_MAX_SIZE: usize = 1 << 20;

/// F_SETPIPE_SZ: rounds `size` up as Linux does (whole pages, a power of two of them) and
/// applies it. `privileged`: CAP_SYS_RESOURCE, which lifts PIPE_MAX_SIZE.
pub fn set_capacity(buf: &RefCell<PipeBuf>, size: u64, privileged: bool) -> Result<usize, Errno> {
    if size > 1 << 31 {
        return Err(Errno::EINVAL);
    }
    let pages = (size as usize).div_ceil(4096).max(1);
    let new = pages.next_power_of_two() * 4096;
    if new > PIPE_MAX_SIZE && !privileged {
        return Err(Errno::EPERM);
    }
    let mut b = buf.borrow_mut();
    if new < b.data.len() {
        return Err(Errno::EBUSY);
    }
    b.capacity = new;
    Ok(new)
}

pub fn new_pipe() -> Rc<RefCell<PipeBuf>> {
    Rc::new(RefCell::new(PipeBuf {
        ino: crate::vfs::inode::next_ino(),
        ..Default::default()
    }))
}

#[derive(Debug)]
pub struct PipeEnd {
    pub buf: Rc<RefCell<PipeBuf>>,
    pub write_end: bool,
}

impl PipeEnd {
    pub fn new(buf: Rc<RefCell<PipeBuf>>, write_end: bool) -> PipeEnd {
        {
            let mut b = buf.borrow_mut();
            if write_end {
                b.writers += 1;
                b.had_writer = true;
            } else {
                b.readers += 1;
            }
        }
        PipeEnd { buf, write_end }
    }
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        let mut b = self.buf.borrow_mut();
        if self.write_end {
            b.writers -= 1;
            b.rseq += 1;
        } else {
            b.readers -= 1;
            b.wseq += 1;
        }
    }
}

impl FileOps for PipeEnd {
    fn read(&self, _f: &OpenFile, buf: &mut [u8], _off: Option<u64>) -> Result<usize, Errno> {
        if self.write_end {
            return Err(Errno::EBADF);
        }
        let mut b = self.buf.borrow_mut();
        if b.data.is_empty() {
            if b.writers == 0 && b.had_writer {
                return Ok(0);
            }
            if buf.is_empty() {
                return Ok(0);
            }
            return Err(Errno::EAGAIN);
        }
        let n = buf.len().min(b.data.len());
        for (i, byte) in b.data.drain(..n).enumerate() {
            buf[i] = byte;
        }
        b.wseq += 1;
        Ok(n)
    }

    fn write(&self, _f: &OpenFile, buf: &[u8], _off: Option<u64>) -> Result<usize, Errno> {
        if !self.write_end {
            return Err(Errno::EBADF);
        }
        let mut b = self.buf.borrow_mut();
        if b.readers == 0 {
            return Err(Errno::EPIPE);
        }
        let room = b.capacity().saturating_sub(b.data.len());
        // Writes of up to PIPE_BUF bytes are atomic: all or nothing.
        if room == 0 || (buf.len() <= PIPE_BUF && room < buf.len()) {
            return Err(Errno::EAGAIN);
        }
        let n = buf.len().min(room);
        b.data.extend(&buf[..n]);
        b.rseq += 1;
        Ok(n)
    }

    fn event_seq(&self) -> u64 {
        let b = self.buf.borrow();
        if self.write_end {
            b.wseq
        } else {
            b.rseq
        }
    }

    fn poll(&self) -> u32 {
        let b = self.buf.borrow();
        if self.write_end {
            let mut m = 0;
            if b.readers == 0 {
                m |= POLLERR;
            }
            if b.capacity().saturating_sub(b.data.len()) >= PIPE_BUF {
                m |= POLLOUT;
            }
            m
        } else {
            let mut m = 0;
            if !b.data.is_empty() {
                m |= POLLIN;
            }
            if b.writers == 0 && b.had_writer {
                m |= POLLHUP;
            }
            m
        }
    }

    fn ioctl(&self, _f: &OpenFile, req: u64, arg: u64, mem: &crate::mm::Mem) -> Result<i64, Errno> {
        if req == libc::FIONREAD {
            let n = self.buf.borrow().data.len() as i32;
            mem.write_i32(arg, n)?;
            return Ok(0);
        }
        Err(Errno::ENOTTY)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
