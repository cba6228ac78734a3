//! The context file: a sparse memfd of 64 KiB blocks, one per stub thread (its [`Context`]
//! and signal stack), mapped at [`BASE`] in the sentry and, block by block, at the same
//! address in the stubs. Block 0 is the [`Doorbell`]. The sentry reads and writes a stopped
//! thread's registers and signal frame in place, without a syscall.
//!
//! A block is reused once its stub process has been reaped (or, for a thread of a live
//! process, once the kernel cleared its tid word at exit) and the sentry dropped its handle.

use super::stub::{Context, Doorbell, BLOCK_SIZE};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

/// Where the context file lives, in the sentry and in every stub (whose whole range is
/// reserved, PROT_NONE, around the blocks it maps).
pub const BASE: u64 = 0x7e00_0000_0000;
/// Number of blocks: the most stub threads a sandbox can have at once, plus the doorbell.
pub const BLOCKS: usize = 8192;
/// Bytes of address space the file takes.
pub const SIZE: u64 = (BLOCKS * BLOCK_SIZE) as u64;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Slot {
    /// Host pid of the stub process whose address space maps this block (0: free).
    owner: i32,
    /// The sentry still holds a handle on it.
    held: bool,
    /// The thread using it exited; reusable by the same process once `tid_word` is 0.
    retired: bool,
}

struct Contexts {
    file: OwnedFd,
    doorbell_fd: OwnedFd,
    slots: Vec<Slot>,
}

static CONTEXTS: Mutex<Option<Contexts>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut Contexts) -> R) -> Option<R> {
    let mut g = CONTEXTS.lock().unwrap_or_else(|p| p.into_inner());
    g.as_mut().map(f)
}

/// Creates and maps the context file and the doorbell eventfd (once; later calls are no-ops).
pub fn init() -> std::io::Result<()> {
    let mut g = CONTEXTS.lock().unwrap_or_else(|p| p.into_inner());
    if g.is_some() {
        return Ok(());
    }
    // SAFETY: memfd_create with a constant NUL-terminated name.
    let fd = unsafe { libc::memfd_create(c"moat-contexts".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fresh fd.
    let file = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ftruncate of our own memfd.
    if unsafe { libc::ftruncate(file.as_raw_fd(), SIZE as i64) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: mapping our own memfd at an address range nothing else uses
    // (MAP_FIXED_NOREPLACE fails instead of replacing a mapping).
    let at = unsafe {
        libc::mmap(
            BASE as *mut libc::c_void,
            SIZE as usize,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_FIXED_NOREPLACE,
            file.as_raw_fd(),
            0,
        )
    };
    if at == libc::MAP_FAILED || at as u64 != BASE {
        return Err(std::io::Error::other(format!(
            "cannot map the systrap context file at {BASE:#x}"
        )));
    }
    // SAFETY: plain eventfd creation.
    let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if efd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fresh fd.
    let doorbell_fd = unsafe { OwnedFd::from_raw_fd(efd) };
    let mut slots = vec![Slot::default(); BLOCKS];
    slots[0] = Slot {
        owner: -1,
        held: true,
        retired: false,
    };
    *g = Some(Contexts {
        file,
        doorbell_fd,
        slots,
    });
    Ok(())
}

/// The context file's and the doorbell's fds (to hand to a new stub), if initialised.
pub fn fds() -> Option<(RawFd, RawFd)> {
    with(|c| (c.file.as_raw_fd(), c.doorbell_fd.as_raw_fd()))
}

/// Address of block `i` (in the sentry and in stubs).
/// Whether `addr` lies in the context file's range.
pub fn contains(addr: u64) -> bool {
    (BASE..BASE + SIZE).contains(&addr)
}

pub fn block_addr(i: u32) -> u64 {
    BASE + i as u64 * BLOCK_SIZE as u64
}

/// Offset of block `i` in the context file.
pub fn block_offset(i: u32) -> u64 {
    i as u64 * BLOCK_SIZE as u64
}

/// The context at the start of block `i`.
pub fn context(i: u32) -> &'static Context {
    // SAFETY: blocks stay mapped for the sentry's life (init maps the whole file once and
    // nothing unmaps it); Context is all atomics, valid for any bit pattern.
    unsafe { &*(block_addr(i) as *const Context) }
}

pub fn doorbell() -> &'static Doorbell {
    // SAFETY: as in `context`; block 0 is the doorbell.
    unsafe { &*(BASE as *const Doorbell) }
}

/// The doorbell eventfd: readable when a stub rang while the sentry slept.
pub fn doorbell_fd() -> Option<RawFd> {
    with(|c| c.doorbell_fd.as_raw_fd())
}

/// Takes a free block for a thread of stub process `owner` (first one that process's own
/// exited threads left behind, already mapped there, when `reuse` allows). Returns the block
/// and whether it is already mapped in `owner`.
pub fn alloc(owner: i32, reuse: bool) -> Option<(u32, bool)> {
    with(|c| {
        if reuse {
            for (i, s) in c.slots.iter_mut().enumerate() {
                if s.owner == owner
                    && s.retired
                    && !s.held
                    && context(i as u32)
                        .tid_word
                        .load(std::sync::atomic::Ordering::Acquire)
                        == 0
                {
                    *s = Slot {
                        owner,
                        held: true,
                        retired: false,
                    };
                    return Some((i as u32, true));
                }
            }
        }
        let i = c.slots.iter().position(|s| s.owner == 0 && !s.held)?;
        c.slots[i] = Slot {
            owner,
            held: true,
            retired: false,
        };
        Some((i as u32, false))
    })
    .flatten()
}

/// Moves a block to another owner (the child of a fork owns the copy it runs on).
pub fn set_owner(i: u32, owner: i32) {
    with(|c| c.slots[i as usize].owner = owner);
}

/// The thread using block `i` exited (or will, once it runs the injected exit).
pub fn retire(i: u32) {
    with(|c| c.slots[i as usize].retired = true);
}

/// The sentry dropped its handle on block `i`.
pub fn release(i: u32) {
    with(|c| {
        let s = &mut c.slots[i as usize];
        s.held = false;
        if s.owner == 0 {
            *s = Slot::default();
        }
    });
}

/// Blocks mapped in stub process `pid`.
pub fn blocks_of(pid: i32) -> Vec<u32> {
    with(|c| {
        c.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.owner == pid)
            .map(|(i, _)| i as u32)
            .collect()
    })
    .unwrap_or_default()
}

/// Stub process `pid` is gone (reaped): its blocks are free once their handles are dropped.
pub fn process_gone(pid: i32) {
    with(|c| {
        for s in c.slots.iter_mut().filter(|s| s.owner == pid) {
            s.owner = 0;
            s.retired = true;
        }
        for s in c.slots.iter_mut() {
            if s.owner == 0 && !s.held {
                *s = Slot::default();
            }
        }
    });
}
