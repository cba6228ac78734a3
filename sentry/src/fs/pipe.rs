//! Pipes and FIFOs: a byte queue shared by a read end and a write end.

use crate::errno::Errno;
use crate::vfs::file::{FileOps, OpenFile, POLLERR, POLLHUP, POLLIN, POLLOUT};
use std::any::Any;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

pub const PIPE_BUF: usize = 4096;
pub const PIPE_CAPACITY: usize = 65536;

#[derive(Debug, Default)]
pub struct PipeBuf {
    pub data: VecDeque<u8>,
    /// Open ends (an O_RDWR FIFO end counts as both; a FIFO open still waiting for its
    /// partner already counts, as in Linux).
    pub readers: usize,
    pub writers: usize,
    /// Opens of each side ever: a waiting FIFO open and a reader's POLLHUP look for changes.
    pub r_counter: u64,
    pub w_counter: u64,
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
    reads: bool,
    writes: bool,
    /// For a FIFO reader opened O_NONBLOCK while there was no writer: `w_counter` then, so it
    /// reports POLLHUP only once some writer came and went since (u64::MAX otherwise).
    w_seen: u64,
}

impl PipeEnd {
    /// A read end or a write end, counted in the buffer.
    pub fn new(buf: Rc<RefCell<PipeBuf>>, write_end: bool) -> PipeEnd {
        count_open(&buf, write_end);
        PipeEnd::adopt(buf, !write_end, write_end)
    }

    /// Both ends at once (a FIFO opened O_RDWR).
    pub fn new_rdwr(buf: Rc<RefCell<PipeBuf>>) -> PipeEnd {
        count_open(&buf, false);
        count_open(&buf, true);
        PipeEnd::adopt(buf, true, true)
    }

    /// An end whose open was already counted.
    fn adopt(buf: Rc<RefCell<PipeBuf>>, reads: bool, writes: bool) -> PipeEnd {
        PipeEnd {
            buf,
            reads,
            writes,
            w_seen: u64::MAX,
        }
    }

    pub fn is_write_end(&self) -> bool {
        self.writes
    }
}

fn count_open(buf: &RefCell<PipeBuf>, write: bool) {
    let mut b = buf.borrow_mut();
    if write {
        b.writers += 1;
        b.w_counter += 1;
        b.rseq += 1;
    } else {
        b.readers += 1;
        b.r_counter += 1;
        b.wseq += 1;
    }
}

fn count_close(buf: &RefCell<PipeBuf>, write: bool) {
    let mut b = buf.borrow_mut();
    if write {
        b.writers = b.writers.saturating_sub(1);
        b.rseq += 1;
    } else {
        b.readers = b.readers.saturating_sub(1);
        b.wseq += 1;
    }
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        if self.writes {
            count_close(&self.buf, true);
        }
        if self.reads {
            count_close(&self.buf, false);
        }
    }
}

/// A FIFO open that waits for the other side: (task, FIFO, for writing, the other side's
/// open counter when it started). Its own side is already counted in the buffer.
struct OpenWaiter {
    tid: i32,
    buf: Weak<RefCell<PipeBuf>>,
    write: bool,
    seen: u64,
}

thread_local! {
    static OPEN_WAITERS: RefCell<Vec<OpenWaiter>> = const { RefCell::new(Vec::new()) };
}

/// What a FIFO open comes to.
pub enum FifoOpen {
    Ready(PipeEnd),
    /// Block and retry: the other side has not opened yet.
    Wait,
}

/// open(2) of a FIFO with access mode `acc`. A blocking reader waits until a writer opens
/// (and a writer for a reader); O_RDONLY|O_NONBLOCK succeeds at once, O_WRONLY|O_NONBLOCK
/// without a reader is ENXIO, O_RDWR never waits. Called again when a blocked open is retried.
pub fn fifo_open(
    buf: &Rc<RefCell<PipeBuf>>,
    tid: i32,
    acc: u32,
    nonblock: bool,
) -> Result<FifoOpen, Errno> {
    if acc == libc::O_RDWR as u32 {
        return Ok(FifoOpen::Ready(PipeEnd::new_rdwr(buf.clone())));
    }
    let write = acc == libc::O_WRONLY as u32;
    // A retry of our own waiting open?
    let mine = OPEN_WAITERS.with(|w| {
        let w = w.borrow();
        w.iter()
            .position(|x| x.tid == tid && x.write == write && x.buf.as_ptr() == Rc::as_ptr(buf))
            .map(|i| (i, w[i].seen))
    });
    let partner_came = |seen: u64| {
        let b = buf.borrow();
        if write {
            b.readers > 0 || b.r_counter != seen
        } else {
            b.writers > 0 || b.w_counter != seen
        }
    };
    if let Some((i, seen)) = mine {
        if !partner_came(seen) {
            return Ok(FifoOpen::Wait);
        }
        OPEN_WAITERS.with(|w| w.borrow_mut().remove(i));
        return Ok(FifoOpen::Ready(PipeEnd::adopt(buf.clone(), !write, write)));
    }
    if nonblock {
        if write && buf.borrow().readers == 0 {
            return Err(Errno::ENXIO);
        }
        let mut end = PipeEnd::new(buf.clone(), write);
        let b = buf.borrow();
        if !write && b.writers == 0 {
            end.w_seen = b.w_counter;
        }
        drop(b);
        return Ok(FifoOpen::Ready(end));
    }
    let seen = {
        let b = buf.borrow();
        if write {
            b.r_counter
        } else {
            b.w_counter
        }
    };
    count_open(buf, write);
    // The other side may be waiting for exactly this.
    crate::kernel::timers::request_wake();
    let ready = {
        let b = buf.borrow();
        if write {
            b.readers > 0
        } else {
            b.writers > 0
        }
    };
    if ready {
        return Ok(FifoOpen::Ready(PipeEnd::adopt(buf.clone(), !write, write)));
    }
    OPEN_WAITERS.with(|w| {
        w.borrow_mut().push(OpenWaiter {
            tid,
            buf: Rc::downgrade(buf),
            write,
            seen,
        })
    });
    Ok(FifoOpen::Wait)
}

/// Gives up the waiting FIFO opens of tasks for which `gone` says so (interrupted by a
/// signal, exited): their counts leave the buffer.
pub fn abandon_fifo_opens(gone: impl Fn(i32) -> bool) {
    let dropped: Vec<OpenWaiter> = OPEN_WAITERS.with(|w| {
        let mut w = w.borrow_mut();
        let (out, keep): (Vec<_>, Vec<_>) = w.drain(..).partition(|x| gone(x.tid));
        *w = keep;
        out
    });
    for x in dropped {
        if let Some(b) = x.buf.upgrade() {
            count_close(&b, x.write);
            crate::kernel::timers::request_wake();
        }
    }
}

impl FileOps for PipeEnd {
    fn read(&self, _f: &OpenFile, buf: &mut [u8], _off: Option<u64>) -> Result<usize, Errno> {
        if !self.reads {
            return Err(Errno::EBADF);
        }
        let mut b = self.buf.borrow_mut();
        if b.data.is_empty() {
            // No writer (now): end of file, even for a FIFO that never had one.
            if b.writers == 0 {
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
        if !self.writes {
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
        match (self.reads, self.writes) {
            (true, true) => b.rseq.wrapping_add(b.wseq),
            (false, true) => b.wseq,
            _ => b.rseq,
        }
    }

    fn poll(&self) -> u32 {
        let b = self.buf.borrow();
        let mut m = 0;
        if self.writes {
            if b.readers == 0 {
                m |= POLLERR;
            }
            if b.capacity().saturating_sub(b.data.len()) >= PIPE_BUF {
                m |= POLLOUT;
            }
        }
        if self.reads {
            if !b.data.is_empty() {
                m |= POLLIN;
            }
            if b.writers == 0 && b.w_counter != self.w_seen {
                m |= POLLHUP;
            }
        }
        m
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
