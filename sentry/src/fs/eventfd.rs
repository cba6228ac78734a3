//! eventfd: a 64-bit counter that write adds to and read takes (all of it, or 1 with
//! EFD_SEMAPHORE).

use crate::errno::Errno;
use crate::vfs::file::{FileOps, OpenFile, POLLERR, POLLIN, POLLOUT};
use std::any::Any;
use std::cell::Cell;

pub const EFD_SEMAPHORE: u32 = 1;

/// The counter never reaches this value: a write that would is refused (or waits).
const MAX: u64 = u64::MAX - 1;

#[derive(Debug)]
pub struct EventFd {
    count: Cell<u64>,
    semaphore: bool,
    /// Grows on every read and write (edge-triggered epoll).
    seq: Cell<u64>,
}

impl EventFd {
    pub fn new(init: u64, semaphore: bool) -> EventFd {
        EventFd {
            count: Cell::new(init),
            semaphore,
            seq: Cell::new(0),
        }
    }
    pub fn count(&self) -> u64 {
        self.count.get()
    }
}

impl FileOps for EventFd {
    fn read(&self, _f: &OpenFile, buf: &mut [u8], _off: Option<u64>) -> Result<usize, Errno> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let c = self.count.get();
        if c == 0 {
            return Err(Errno::EAGAIN);
        }
        let v = if self.semaphore { 1 } else { c };
        self.count.set(c - v);
        self.seq.set(self.seq.get().wrapping_add(1));
        buf[..8].copy_from_slice(&v.to_ne_bytes());
        Ok(8)
    }

    fn write(&self, _f: &OpenFile, buf: &[u8], _off: Option<u64>) -> Result<usize, Errno> {
        let b: [u8; 8] = buf
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or(Errno::EINVAL)?;
        let v = u64::from_ne_bytes(b);
        if v == u64::MAX {
            return Err(Errno::EINVAL);
        }
        let c = self.count.get();
        if MAX - c < v {
            return Err(Errno::EAGAIN);
        }
        self.count.set(c + v);
        self.seq.set(self.seq.get().wrapping_add(1));
        Ok(8)
    }

    fn poll(&self) -> u32 {
        let c = self.count.get();
        let mut m = 0;
        if c > 0 {
            m |= POLLIN;
        }
        if c < MAX {
            m |= POLLOUT;
        }
        if c == u64::MAX {
            m |= POLLERR;
        }
        m
    }

    fn event_seq(&self) -> u64 {
        self.seq.get()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    fn file(init: u64, sem: bool) -> Rc<OpenFile> {
        OpenFile::new(2, None, vec![], Box::new(EventFd::new(init, sem)))
    }

    #[test]
    fn counter_semantics() {
        let f = file(3, false);
        let mut b = [0u8; 8];
        assert_eq!(f.ops.read(&f, &mut b, None), Ok(8));
        assert_eq!(u64::from_ne_bytes(b), 3);
        assert_eq!(f.ops.read(&f, &mut b, None), Err(Errno::EAGAIN));
        assert_eq!(f.ops.read(&f, &mut [0u8; 4], None), Err(Errno::EINVAL));
        assert_eq!(
            f.ops.write(&f, &u64::MAX.to_ne_bytes(), None),
            Err(Errno::EINVAL)
        );
        assert_eq!(f.ops.write(&f, &(MAX).to_ne_bytes(), None), Ok(8));
        assert_eq!(f.ops.poll() & POLLOUT, 0);
        assert_eq!(
            f.ops.write(&f, &1u64.to_ne_bytes(), None),
            Err(Errno::EAGAIN)
        );
    }

    #[test]
    fn semaphore_takes_one() {
        let f = file(2, true);
        let mut b = [0u8; 8];
        assert_eq!(f.ops.read(&f, &mut b, None), Ok(8));
        assert_eq!(u64::from_ne_bytes(b), 1);
        assert_eq!(f.ops.read(&f, &mut b, None), Ok(8));
        assert_eq!(f.ops.read(&f, &mut b, None), Err(Errno::EAGAIN));
    }
}
