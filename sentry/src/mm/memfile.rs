//! The sandbox's memory file: one sparse memfd, created at boot and inherited by every stub at
//! a fixed fd, that holds the pages of files the workload maps (and shared memory segments).
//!
//! Mapping a window of it `MAP_SHARED` gives true shared file mappings across processes and
//! with read()/write(); mapping it `MAP_PRIVATE` gives copy-on-write pages that every process
//! shares until it writes, so exec'ing the same binary does not copy it again.

use crate::errno::Errno;
use std::cell::{Cell, RefCell};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The fd number every stub holds the memory file at.
pub const STUB_FD: i32 = 100;
/// Address space reserved in the memory file per window; files larger than this stay
/// private copies.
pub const WINDOW: u64 = 1 << 32;
/// Total size of the (sparse) memory file: file windows below `pool::POOL_BASE`, the private
/// page pool above.
const FILE_SIZE: u64 = super::pool::POOL_END;

thread_local! {
    static MEMFILE: RefCell<Option<OwnedFd>> = const { RefCell::new(None) };
    static NEXT: Cell<u64> = const { Cell::new(0) };
    static FREE: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Creates the memory file. Call once, before the first stub is spawned.
pub fn init() -> Result<RawFd, Errno> {
    // SAFETY: memfd_create with a constant NUL-terminated name.
    let fd = unsafe { libc::memfd_create(c"moat-memory".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: fresh fd.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ftruncate of our own memfd.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), FILE_SIZE as i64) } != 0 {
        return Err(Errno::last());
    }
    let raw = fd.as_raw_fd();
    map_view(raw);
    MEMFILE.with(|m| *m.borrow_mut() = Some(fd));
    Ok(raw)
}

/// Where the sentry's own view of the whole memory file starts (0: no view; copies then go
/// through pread/pwrite). Stubs never keep it: they empty their address space at spawn.
static VIEW: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// Asked-for address of the view: far from the sentry's binary, heap, libraries and the
/// systrap context file, so that nothing mapped later at a fixed address collides with it.
const VIEW_AT: u64 = 0x1000_0000_0000;

fn map_view(fd: RawFd) {
    let flags = libc::MAP_SHARED | libc::MAP_NORESERVE | libc::MAP_FIXED_NOREPLACE;
    // SAFETY: a new shared mapping of our own memfd at an address nothing else uses (the
    // kernel refuses with EEXIST otherwise); it is never unmapped.
    let p = unsafe {
        libc::mmap(
            VIEW_AT as *mut libc::c_void,
            FILE_SIZE as usize,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            fd,
            0,
        )
    };
    if p != libc::MAP_FAILED && p as u64 == VIEW_AT {
        VIEW.store(VIEW_AT, std::sync::atomic::Ordering::Relaxed);
    } else {
        tracing::warn!("no view of the memory file: workload memory is copied with pread/pwrite");
    }
}

/// The view's address of memory-file offset `off` for `len` bytes, if there is a view.
fn view(off: u64, len: usize) -> Option<*mut u8> {
    let base = VIEW.load(std::sync::atomic::Ordering::Relaxed);
    if base == 0 || off.checked_add(len as u64).is_none_or(|e| e > FILE_SIZE) {
        return None;
    }
    Some((base + off) as *mut u8)
}

pub fn raw_fd() -> Option<RawFd> {
    MEMFILE.with(|m| m.borrow().as_ref().map(|f| f.as_raw_fd()))
}

/// A window of the memory file holding one file's pages. Freed (hole punched) on drop.
#[derive(Debug)]
pub struct Window {
    pub off: u64,
}

impl Window {
    pub fn alloc() -> Result<Window, Errno> {
        raw_fd().ok_or(Errno::ENOMEM)?;
        if let Some(off) = FREE.with(|f| f.borrow_mut().pop()) {
            return Ok(Window { off });
        }
        let off = NEXT.with(|n| {
            let v = n.get();
            n.set(v + WINDOW);
            v
        });
        if off + WINDOW > super::pool::POOL_BASE {
            return Err(Errno::ENOMEM);
        }
        Ok(Window { off })
    }

    pub fn read(&self, pos: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let fd = raw_fd().ok_or(Errno::EIO)?;
        let n = buf.len().min(WINDOW.saturating_sub(pos) as usize);
        // SAFETY: buf is valid for n bytes; fd is our memfd.
        let r = unsafe { libc::pread(fd, buf.as_mut_ptr() as *mut _, n, (self.off + pos) as i64) };
        if r < 0 {
            return Err(Errno::last());
        }
        Ok(r as usize)
    }

    pub fn write(&self, pos: u64, data: &[u8]) -> Result<usize, Errno> {
        let fd = raw_fd().ok_or(Errno::EIO)?;
        if pos
            .checked_add(data.len() as u64)
            .is_none_or(|e| e > WINDOW)
        {
            return Err(Errno::EFBIG);
        }
        pwrite_all(fd, data, self.off + pos)?;
        Ok(data.len())
    }

    /// Zeroes bytes `from..to` of the window: partial pages are written, whole pages freed.
    pub fn zero_range(&self, from: u64, to: u64) -> Result<(), Errno> {
        raw_fd().ok_or(Errno::EIO)?;
        let to = to.min(WINDOW);
        if from >= to {
            return Ok(());
        }
        let (first, last) = (from.div_ceil(4096) * 4096, to / 4096 * 4096);
        if first >= last {
            self.write(from, &vec![0u8; (to - from) as usize])?;
            return Ok(());
        }
        self.write(from, &vec![0u8; (first - from) as usize])?;
        self.write(last, &vec![0u8; (to - last) as usize])?;
        punch(self.off + first, last - first)
    }

    /// Zeroes (and frees) the pages from `from` to the end of the window.
    pub fn clear_from(&self, from: u64) {
        if raw_fd().is_none() {
            return;
        }
        let page_from = from.div_ceil(4096) * 4096;
        if from < page_from {
            let zeros = vec![0u8; (page_from - from) as usize];
            let _ = self.write(from, &zeros);
        }
        if page_from < WINDOW {
            // A failure leaves the pages allocated, no worse.
            let _ = punch(self.off + page_from, WINDOW - page_from);
        }
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        self.clear_from(0);
        FREE.with(|f| f.borrow_mut().push(self.off));
    }
}

/// Reads memory-file bytes at `off` (holes read as zeros).
pub fn read_at(off: u64, buf: &mut [u8]) -> Result<(), Errno> {
    if let Some(p) = view(off, buf.len()) {
        // SAFETY: the view maps the whole file, which is FILE_SIZE long; `buf` is ours.
        // Stubs may write these pages concurrently: the bytes are then just some state of
        // workload memory, as with any copy from a running process.
        unsafe { std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), buf.len()) };
        return Ok(());
    }
    let fd = raw_fd().ok_or(Errno::EFAULT)?;
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: pread into the unfilled tail of `buf`.
        let r = unsafe {
            libc::pread(
                fd,
                buf[done..].as_mut_ptr() as *mut _,
                buf.len() - done,
                (off + done as u64) as i64,
            )
        };
        if r <= 0 {
            return Err(Errno::EFAULT);
        }
        done += r as usize;
    }
    Ok(())
}

/// Writes memory-file bytes at `off`.
pub fn write_at(off: u64, data: &[u8]) -> Result<(), Errno> {
    if let Some(p) = view(off, data.len()) {
        // SAFETY: as in read_at; the range lies inside the mapped file.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
        return Ok(());
    }
    let fd = raw_fd().ok_or(Errno::EFAULT)?;
    // A failure is most likely the sandbox's cgroup out of memory: a bad address for the
    // workload's copy.
    pwrite_all(fd, data, off).map_err(|_| Errno::EFAULT)
}

/// pwrite of all of `data` at `off`, or the errno of the call that failed.
fn pwrite_all(fd: RawFd, data: &[u8], off: u64) -> Result<(), Errno> {
    let mut done = 0;
    while done < data.len() {
        // SAFETY: pwrite from the unwritten tail of `data`.
        let r = unsafe {
            libc::pwrite(
                fd,
                data[done..].as_ptr() as *const _,
                data.len() - done,
                (off + done as u64) as i64,
            )
        };
        if r < 0 {
            return Err(Errno::last());
        }
        if r == 0 {
            return Err(Errno::EIO);
        }
        done += r as usize;
    }
    Ok(())
}

/// How many bytes of [off, off+len) hold pages (not holes), by SEEK_DATA/SEEK_HOLE; at most
/// 256 extents are looked at.
pub fn data_bytes(off: u64, len: u64) -> u64 {
    let Some(fd) = raw_fd() else { return 0 };
    let end = off + len;
    let (mut at, mut total) = (off, 0);
    for _ in 0..256 {
        if at >= end {
            break;
        }
        // SAFETY: lseek on our own memfd; only the returned offsets are used.
        let data = unsafe { libc::lseek(fd, at as i64, libc::SEEK_DATA) };
        if data < 0 || data as u64 >= end {
            break;
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(fd, data, libc::SEEK_HOLE) };
        let hole = if hole < 0 {
            end
        } else {
            (hole as u64).min(end)
        };
        total += hole - data as u64;
        at = hole;
    }
    total
}

/// Gives the pages of [off, off+len) back to the host; they read as zeros afterwards, in
/// every mapping of them.
pub fn punch(off: u64, len: u64) -> Result<(), Errno> {
    let fd = raw_fd().ok_or(Errno::EIO)?;
    // SAFETY: fallocate on our own memfd.
    let r = unsafe {
        libc::fallocate(
            fd,
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            off as i64,
            len as i64,
        )
    };
    if r != 0 {
        return Err(Errno::last());
    }
    Ok(())
}
