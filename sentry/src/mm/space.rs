//! Workload memory owned by the sentry.
//!
//! Every page the workload can touch lives in the memory file: file pages in their file's
//! window, everything else in the private page pool (`pool.rs`). A stub only ever maps the
//! memory file `MAP_SHARED`; the sentry keeps, per stub process (one host address space), the
//! list of what it mapped where (`Pma`s, "page mapping areas": address range, memory-file
//! offset, protection, kind) and copies workload data with pread/pwrite on the memory file,
//! never through the stub (no process_vm_readv/writev, no ptrace).
//!
//! Private memory is copy-on-write under the sentry's control:
//! * a `MAP_PRIVATE` file mapping maps the file's window read-only; the first write (a fault,
//!   or a write by the sentry) copies the touched chunk into the pool;
//! * fork shares the parent's pool pages with the child (reference count 2) and maps them
//!   read-only in both; a write copies the chunk, or just restores write access when the
//!   other side has let go of it (count back to 1).
//!
//! The kernel keeps asking for host mmap/munmap/mprotect/mremap/madvise as before (the
//! loader's `inject`); `host_call` turns those requests into memory-file mappings and keeps
//! the pma list in step. A sentry write that copies a chunk leaves that range's host mapping
//! stale until `apply_pending` remaps it, which happens before any thread of the process runs
//! application code again (`Kernel::resume_raw`, faults, the next host call).

use super::{memfile, page_down, page_up, pool, PAGE};
use crate::errno::Errno;
use crate::kernel::{Kernel, Tid};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

const R: u32 = libc::PROT_READ as u32;
const W: u32 = libc::PROT_WRITE as u32;
const X: u32 = libc::PROT_EXEC as u32;

/// How much a write fault copies at once: fewer faults against more copying (each new
/// memory-file page is an allocation; 16 KiB measured best for fork+wait and fork+exec).
const COW_CHUNK: u64 = 4 * PAGE;

/// What backs a pma.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Pool pages of this address space. `cow`: maybe shared with another address space since
    /// a fork, so mapped without write access until written.
    Private { cow: bool },
    /// A `MAP_PRIVATE` view of a file window: never written in place.
    FileCow,
    /// A `MAP_SHARED` file window or System V segment (the file owns the pages).
    SharedFile,
    /// `MAP_SHARED` anonymous memory: pool pages that fork shares instead of copying.
    SharedAnon,
}

impl Kind {
    fn pooled(self) -> bool {
        matches!(self, Kind::Private { .. } | Kind::SharedAnon)
    }
    fn copies_on_write(self) -> bool {
        matches!(self, Kind::Private { cow: true } | Kind::FileCow)
    }
}

/// One range of a stub's address space and where its pages are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pma {
    pub end: u64,
    /// Memory-file offset of the range's first page.
    pub off: u64,
    /// The protection the kernel asked for (the host's lacks write while copy-on-write).
    pub prot: u32,
    pub kind: Kind,
    /// For pool pages copied from a `MAP_PRIVATE` file mapping: the file-window offset they
    /// came from (MADV_DONTNEED brings the file's pages back).
    pub origin: Option<u64>,
}

impl Pma {
    /// The same pma from `delta` bytes further on.
    fn advanced(self, delta: u64) -> Pma {
        Pma {
            off: self.off + delta,
            origin: self.origin.map(|o| o + delta),
            ..self
        }
    }

    fn host_prot(&self) -> u32 {
        if self.kind.copies_on_write() {
            self.prot & !W
        } else {
            self.prot
        }
    }
}

/// A piece of an address range: covered by one pma (its offset adjusted to `start`) or not
/// mapped by the sentry at all.
#[derive(Clone, Copy, Debug)]
struct Piece {
    start: u64,
    end: u64,
    pma: Option<Pma>,
}

/// What the sentry mapped in one stub process.
#[derive(Default, Debug)]
pub struct Space {
    pmas: BTreeMap<u64, Pma>,
    /// Ranges whose host mapping no longer matches `pmas`.
    pending: Vec<(u64, u64)>,
    /// Syscall patching: the next free trampoline (None: the patch region is not mapped).
    pub patch_next: Option<u32>,
    /// Syscall sites that are not the patchable sequence (not read again on every trap).
    pub unpatchable: std::collections::HashSet<u64>,
    /// Sites that trapped once: the second trap patches (a site run once, as in a short
    /// process, is not worth a copied code page).
    pub trapped_once: std::collections::HashSet<u64>,
}

impl Space {
    fn split(&mut self, at: u64) {
        let hit = self.pmas.range(..at).next_back().map(|(&s, &p)| (s, p));
        if let Some((s, p)) = hit {
            if at < p.end {
                self.pmas.insert(s, Pma { end: at, ..p });
                self.pmas.insert(at, p.advanced(at - s));
            }
        }
    }

    /// Drops what is mapped in [start, end), giving its pool pages up.
    fn forget(&mut self, start: u64, end: u64) {
        if start < super::patch::END && end > super::patch::START {
            self.patch_next = None;
            self.unpatchable.clear();
            self.trapped_once.clear();
        }
        self.split(start);
        self.split(end);
        let keys: Vec<u64> = self.pmas.range(start..end).map(|(&s, _)| s).collect();
        for s in keys {
            if let Some(p) = self.pmas.remove(&s) {
                if p.kind.pooled() {
                    pool::release(p.off, p.end - s);
                }
            }
        }
    }

    fn pieces(&self, start: u64, end: u64) -> Vec<Piece> {
        let mut out = Vec::new();
        let mut at = start;
        let first = self
            .pmas
            .range(..=start)
            .next_back()
            .map(|(&s, _)| s)
            .unwrap_or(start);
        for (&s, p) in self.pmas.range(first..end) {
            if p.end <= at {
                continue;
            }
            if s > at {
                out.push(Piece {
                    start: at,
                    end: s,
                    pma: None,
                });
                at = s;
            }
            let hi = p.end.min(end);
            out.push(Piece {
                start: at,
                end: hi,
                pma: Some(Pma {
                    end: hi,
                    ..p.advanced(at - s)
                }),
            });
            at = hi;
        }
        if at < end {
            out.push(Piece {
                start: at,
                end,
                pma: None,
            });
        }
        out
    }

    /// Applies `f` to every pma in [start, end) (split at the edges first).
    fn update(&mut self, start: u64, end: u64, mut f: impl FnMut(u64, &mut Pma)) {
        self.split(start);
        self.split(end);
        for (&s, p) in self.pmas.range_mut(start..end) {
            f(s, p);
        }
    }

    /// Moves the pmas of [start, end) to `dest` (their pages do not change).
    fn move_range(&mut self, start: u64, end: u64, dest: u64) {
        self.split(start);
        self.split(end);
        let moved: Vec<(u64, Pma)> = self.pmas.range(start..end).map(|(&s, &p)| (s, p)).collect();
        for (s, _) in &moved {
            self.pmas.remove(s);
        }
        for (s, p) in moved {
            let ns = dest + (s - start);
            self.pmas.insert(
                ns,
                Pma {
                    end: ns + (p.end - s),
                    ..p
                },
            );
        }
    }

    /// Gives [start, end) pages of its own: copies what is shared or file-backed into the
    /// pool. The host mapping is stale until `apply_pending`.
    fn make_private(&mut self, start: u64, end: u64) -> Result<(), Errno> {
        self.split(start);
        self.split(end);
        // Split further where the pool's sharing counts change.
        let mut cuts = Vec::new();
        for (&s, p) in self.pmas.range(start..end) {
            if p.kind == (Kind::Private { cow: true }) {
                for (rs, _, _) in pool::runs(p.off, p.end - s).into_iter().skip(1) {
                    cuts.push(s + (rs - p.off));
                }
            }
        }
        for c in cuts {
            self.split(c);
        }
        let mut changed = false;
        for (&s, p) in self.pmas.range_mut(start..end) {
            let len = p.end - s;
            match p.kind {
                Kind::FileCow => {
                    let new = pool::alloc(len)?;
                    copy_pages(p.off, new, len)?;
                    p.origin = Some(p.off);
                    p.off = new;
                }
                Kind::Private { cow: true } => {
                    let shared = pool::runs(p.off, len).first().is_some_and(|r| r.2 > 1);
                    if shared {
                        let new = pool::alloc(len)?;
                        copy_pages(p.off, new, len)?;
                        pool::release(p.off, len);
                        p.off = new;
                    }
                }
                _ => continue,
            }
            p.kind = Kind::Private { cow: false };
            changed = true;
        }
        if changed {
            self.mark_pending(start, end);
        }
        Ok(())
    }

    /// `[start, end)` changed behind the host mapping: remap it before the process runs.
    fn mark_pending(&mut self, start: u64, end: u64) {
        if self.pending.is_empty() {
            PENDING_SPACES.with(|n| n.set(n.get() + 1));
        }
        self.pending.push((start, end));
    }

    fn take_pending(&mut self) -> Vec<(u64, u64)> {
        if !self.pending.is_empty() {
            PENDING_SPACES.with(|n| n.set(n.get().saturating_sub(1)));
        }
        std::mem::take(&mut self.pending)
    }

    fn pma_at(&self, addr: u64) -> Option<(u64, Pma)> {
        self.pmas
            .range(..=addr)
            .next_back()
            .filter(|(_, p)| addr < p.end)
            .map(|(&s, &p)| (s, p))
    }
}

impl Drop for Space {
    fn drop(&mut self) {
        for (&s, p) in &self.pmas {
            if p.kind.pooled() {
                pool::release(p.off, p.end - s);
            }
        }
    }
}

/// Copies pages inside the memory file, leaving holes where the source reads as zeros.
fn copy_pages(from: u64, to: u64, len: u64) -> Result<(), Errno> {
    let mut buf = vec![0u8; COW_CHUNK.min(len) as usize];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(buf.len() as u64) as usize;
        memfile::read_at(from + done, &mut buf[..n])?;
        if buf[..n].iter().any(|&b| b != 0) {
            memfile::write_at(to + done, &buf[..n])?;
        }
        done += n as u64;
    }
    Ok(())
}

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(false) };
    static SPACES: RefCell<crate::kernel::idmap::IdMap<i32, Space>> = RefCell::new(Default::default());
    /// How many spaces have ranges to remap: lets every resume skip the lookup when none has
    /// (the common case).
    static PENDING_SPACES: Cell<usize> = const { Cell::new(0) };
}

/// A space leaves the table.
fn forget(old: Option<Space>) {
    if let Some(mut sp) = old {
        drop(sp.take_pending());
    }
}

/// Turns sentry-owned memory on (at boot, before the first stub maps anything).
pub fn enable(on: bool) {
    ENABLED.with(|e| e.set(on && memfile::raw_fd().is_some()));
}

/// Whether workload memory lives in the memory file (else in the stubs, copied with
/// process_vm_readv/writev).
pub fn enabled() -> bool {
    ENABLED.with(|e| e.get())
}

fn with<R>(pid: i32, f: impl FnOnce(&mut Space) -> R) -> R {
    SPACES.with(|s| f(s.borrow_mut().entry(pid).or_default()))
}

/// A new stub process with nothing mapped yet (spawned, or forked from the zygote): forget
/// whatever an earlier process with the same host pid had.
pub fn reset(pid: i32) {
    forget(SPACES.with(|s| s.borrow_mut().remove(&pid)));
}

/// The stub process is gone: its pages go back to the pool.
pub fn drop_space(pid: i32) {
    reset(pid);
}

/// The stub process `child` was forked from `parent` (see `prepare_fork`).
pub fn fork_space(parent: i32, child: i32) {
    let (pmas, patch_next, unpatchable, trapped_once) = with(parent, |s| {
        (
            s.pmas.clone(),
            s.patch_next,
            s.unpatchable.clone(),
            s.trapped_once.clone(),
        )
    });
    for (&s, p) in &pmas {
        if p.kind.pooled() {
            pool::share(p.off, p.end - s);
        }
    }
    let old = SPACES.with(|m| {
        m.borrow_mut().insert(
            child,
            Space {
                pmas,
                pending: Vec::new(),
                patch_next,
                unpatchable,
                trapped_once,
            },
        )
    });
    forget(old);
}

/// Before the caller's stub process is forked: its private pages become copy-on-write, so
/// they lose write access on the host (the child inherits the same mappings).
pub fn prepare_fork(k: &Kernel, tid: Tid) -> Result<(), Errno> {
    if !enabled() {
        return Ok(());
    }
    apply_pending(k, tid)?;
    let pid = k.proc_of(tid).stub_pid;
    let mut ranges: Vec<(u64, u64, u32)> = Vec::new();
    with(pid, |s| {
        for (&st, p) in s.pmas.iter_mut() {
            if p.kind == (Kind::Private { cow: false }) {
                let before = p.host_prot();
                p.kind = Kind::Private { cow: true };
                let after = p.host_prot();
                if before != after {
                    match ranges.last_mut() {
                        Some(last) if last.1 == st && last.2 == after => last.1 = p.end,
                        _ => ranges.push((st, p.end, after)),
                    }
                }
            }
        }
    });
    for (s, e, prot) in ranges {
        inject_raw(k, tid, libc::SYS_mprotect, [s, e - s, prot as u64, 0, 0, 0])?;
    }
    Ok(())
}

/// The host syscall itself, run by the task's stub.
pub fn inject_raw(k: &Kernel, tid: Tid, nr: i64, args: [u64; 6]) -> Result<u64, Errno> {
    let t = k.task(tid);
    let mut scratch = t.regs;
    let r = t
        .stub
        .inject(&mut scratch, nr, args)
        .map_err(|_| Errno::EFAULT)?;
    if (-4095..0).contains(&r) {
        return Err(Errno(-r as i32));
    }
    Ok(r as u64)
}

/// Maps memory-file offset `off` shared at `addr` in the task's stub (the only kind of
/// mapping a stub gets for workload memory); `flags` adds MAP_FIXED and friends.
fn map_memfile(
    k: &Kernel,
    tid: Tid,
    addr: u64,
    len: u64,
    prot: u32,
    flags: u32,
    off: u64,
) -> Result<u64, Errno> {
    let flags = flags | libc::MAP_SHARED as u32;
    let fd = memfile::STUB_FD as u64;
    inject_raw(
        k,
        tid,
        libc::SYS_mmap,
        [addr, len, prot as u64, flags as u64, fd, off],
    )
}

/// Runs a memory host syscall the kernel asks for in the task's stub, in terms of the memory
/// file when the sentry owns workload memory.
pub fn host_call(k: &Kernel, tid: Tid, nr: i64, a: [u64; 6]) -> Result<u64, Errno> {
    if !enabled() {
        return inject_raw(k, tid, nr, a);
    }
    apply_pending(k, tid)?;
    let pid = k.proc_of(tid).stub_pid;
    match nr {
        libc::SYS_mmap => map(k, tid, pid, a),
        libc::SYS_munmap => {
            let len = page_up(a[1]).ok_or(Errno::EINVAL)?;
            inject_raw(k, tid, nr, [a[0], len, 0, 0, 0, 0])?;
            with(pid, |s| s.forget(a[0], a[0] + len));
            Ok(0)
        }
        libc::SYS_mprotect => protect(k, tid, pid, a[0], a[1], a[2] as u32),
        libc::SYS_mremap => remap(k, tid, pid, a),
        libc::SYS_madvise if a[2] == libc::MADV_DONTNEED as u64 => dont_need(k, tid, pid, a),
        _ => inject_raw(k, tid, nr, a),
    }
}

fn map(k: &Kernel, tid: Tid, pid: i32, a: [u64; 6]) -> Result<u64, Errno> {
    let (addr, prot, flags, fd, off) = (a[0], a[2] as u32, a[3] as u32, a[4] as i32, a[5]);
    let len = page_up(a[1]).filter(|&l| l > 0).ok_or(Errno::EINVAL)?;
    let shared = flags & 3 != libc::MAP_PRIVATE as u32;
    let kind = if flags & libc::MAP_ANONYMOUS as u32 != 0 {
        if shared {
            Kind::SharedAnon
        } else {
            Kind::Private { cow: false }
        }
    } else if fd == memfile::STUB_FD {
        if shared {
            Kind::SharedFile
        } else {
            Kind::FileCow
        }
    } else {
        // Not memory the sentry owns (nothing asks for this today).
        return inject_raw(k, tid, libc::SYS_mmap, a);
    };
    let off = if kind.pooled() {
        pool::alloc(len)?
    } else {
        off
    };
    let pma = Pma {
        end: 0,
        off,
        prot: prot & (R | W | X),
        kind,
        origin: None,
    };
    let keep = (libc::MAP_FIXED
        | libc::MAP_FIXED_NOREPLACE
        | libc::MAP_NORESERVE
        | libc::MAP_POPULATE
        | libc::MAP_32BIT) as u32;
    let r = map_memfile(k, tid, addr, len, pma.host_prot(), flags & keep, off);
    match r {
        Err(e) => {
            if kind.pooled() {
                pool::release(off, len);
            }
            Err(e)
        }
        Ok(at) => {
            with(pid, |s| {
                s.forget(at, at + len);
                s.pmas.insert(
                    at,
                    Pma {
                        end: at + len,
                        ..pma
                    },
                );
            });
            Ok(at)
        }
    }
}

fn protect(k: &Kernel, tid: Tid, pid: i32, addr: u64, len: u64, prot: u32) -> Result<u64, Errno> {
    let len = page_up(len).ok_or(Errno::ENOMEM)?;
    let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
    let want = prot & (R | W | X);
    let pieces = with(pid, |s| s.pieces(addr, end));
    // One host call per run of pieces with the same host protection.
    let mut runs: Vec<(u64, u64, Option<u32>)> = Vec::new();
    for p in pieces {
        let hp = p.pma.map(|m| Pma { prot: want, ..m }.host_prot());
        match runs.last_mut() {
            Some(last) if last.1 == p.start && last.2 == hp => last.1 = p.end,
            _ => runs.push((p.start, p.end, hp)),
        }
    }
    for (s, e, hp) in runs {
        // Outside the sentry's pmas (the vDSO) the host decides, with the caller's bits.
        let host = hp.unwrap_or(prot);
        inject_raw(k, tid, libc::SYS_mprotect, [s, e - s, host as u64, 0, 0, 0])?;
        if hp.is_some() {
            with(pid, |sp| sp.update(s, e, |_, p| p.prot = want));
        }
    }
    Ok(0)
}

/// A host mapping for [at, at+len) that continues `like` (the last piece of a range that
/// grows): more of the same file, or fresh pool pages.
fn map_more(
    k: &Kernel,
    tid: Tid,
    pid: i32,
    at: u64,
    len: u64,
    like: &Piece,
    fixed_flag: i32,
) -> Result<(), Errno> {
    let Some(last) = like.pma else {
        return Err(Errno::EFAULT);
    };
    let (kind, off) = match last.kind {
        Kind::Private { .. } => (Kind::Private { cow: false }, pool::alloc(len)?),
        Kind::SharedAnon => (Kind::SharedAnon, pool::alloc(len)?),
        k @ (Kind::FileCow | Kind::SharedFile) => (k, last.off + (like.end - like.start)),
    };
    let pma = Pma {
        end: at + len,
        off,
        prot: last.prot,
        kind,
        origin: None,
    };
    let r = map_memfile(k, tid, at, len, pma.host_prot(), fixed_flag as u32, off);
    match r {
        Ok(got) if got == at => {
            with(pid, |s| {
                s.forget(at, at + len);
                s.pmas.insert(at, pma);
            });
            Ok(())
        }
        other => {
            if let Ok(got) = other {
                let _ = inject_raw(k, tid, libc::SYS_munmap, [got, len, 0, 0, 0, 0]);
            }
            if kind.pooled() {
                pool::release(off, len);
            }
            Err(other.err().unwrap_or(Errno::ENOMEM))
        }
    }
}

fn remap(k: &Kernel, tid: Tid, pid: i32, a: [u64; 6]) -> Result<u64, Errno> {
    let (old, flags, new_addr) = (a[0], a[3], a[4]);
    let old_len = page_up(a[1]).ok_or(Errno::EINVAL)?;
    let new_len = page_up(a[2]).ok_or(Errno::EINVAL)?;
    let may_move = flags & libc::MREMAP_MAYMOVE as u64 != 0;
    let fixed = flags & libc::MREMAP_FIXED as u64 != 0;
    if flags & !((libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED) as u64) != 0
        || fixed && !may_move
        || old_len == 0
        || new_len == 0
    {
        return Err(Errno::EINVAL);
    }
    let old_end = old.checked_add(old_len).ok_or(Errno::EFAULT)?;
    let pieces = with(pid, |s| s.pieces(old, old_end));
    if pieces.iter().all(|p| p.pma.is_none()) {
        // Not the sentry's (the vDSO): the host decides.
        return inject_raw(k, tid, libc::SYS_mremap, a);
    }
    if pieces.iter().any(|p| p.pma.is_none()) {
        return Err(Errno::EFAULT);
    }
    let last = *pieces.last().ok_or(Errno::EFAULT)?;
    if fixed {
        if new_addr % PAGE != 0 {
            return Err(Errno::EINVAL);
        }
        if new_addr < old_end && old < new_addr.saturating_add(new_len) {
            return Err(Errno::EINVAL);
        }
    } else {
        if new_len <= old_len {
            if new_len < old_len {
                inject_raw(
                    k,
                    tid,
                    libc::SYS_munmap,
                    [old + new_len, old_len - new_len, 0, 0, 0, 0],
                )?;
                with(pid, |s| s.forget(old + new_len, old_end));
            }
            return Ok(old);
        }
        // Grow in place when the pages after it are free.
        let grow_end = old.checked_add(new_len).ok_or(Errno::ENOMEM)?;
        let free = with(pid, |s| {
            s.pieces(old_end, grow_end).iter().all(|p| p.pma.is_none())
        }) && !crate::platform::overlaps_stub(old_end, grow_end)
            && grow_end <= crate::platform::ptrace::TASK_SIZE;
        if free
            && map_more(
                k,
                tid,
                pid,
                old_end,
                new_len - old_len,
                &last,
                libc::MAP_FIXED_NOREPLACE,
            )
            .is_ok()
        {
            return Ok(old);
        }
        if !may_move {
            return Err(Errno::ENOMEM);
        }
    }
    let dest = if fixed {
        new_addr
    } else {
        // A reservation the moved pages and the growth replace.
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
        let at = inject_raw(
            k,
            tid,
            libc::SYS_mmap,
            [
                0,
                new_len,
                libc::PROT_NONE as u64,
                flags as u64,
                u64::MAX,
                0,
            ],
        )?;
        if crate::platform::overlaps_stub(at, at + new_len) {
            let _ = inject_raw(k, tid, libc::SYS_munmap, [at, new_len, 0, 0, 0, 0]);
            return Err(Errno::ENOMEM);
        }
        at
    };
    with(pid, |s| s.forget(dest, dest + new_len));
    let keep = old_len.min(new_len);
    for p in &pieces {
        let (s, e) = (p.start, p.end.min(old + keep));
        if s >= e {
            continue;
        }
        let move_flags = (libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED) as u64;
        inject_raw(
            k,
            tid,
            libc::SYS_mremap,
            [s, e - s, e - s, move_flags, dest + (s - old), 0],
        )?;
    }
    with(pid, |s| s.move_range(old, old + keep, dest));
    if old_len > keep {
        inject_raw(
            k,
            tid,
            libc::SYS_munmap,
            [old + keep, old_len - keep, 0, 0, 0, 0],
        )?;
        with(pid, |s| s.forget(old + keep, old_end));
    }
    if new_len > old_len {
        map_more(
            k,
            tid,
            pid,
            dest + old_len,
            new_len - old_len,
            &last,
            libc::MAP_FIXED,
        )?;
    }
    Ok(dest)
}

/// MADV_DONTNEED: private pages read as zeros afterwards (their pool pages are punched out
/// or replaced), shared and file pages keep their contents, as on Linux.
fn dont_need(k: &Kernel, tid: Tid, pid: i32, a: [u64; 6]) -> Result<u64, Errno> {
    let len = page_up(a[1]).ok_or(Errno::EINVAL)?;
    let end = a[0].checked_add(len).ok_or(Errno::ENOMEM)?;
    let pieces = with(pid, |s| s.pieces(a[0], end));
    for p in pieces {
        let Some(pma) = p.pma else {
            inject_raw(
                k,
                tid,
                libc::SYS_madvise,
                [
                    p.start,
                    p.end - p.start,
                    libc::MADV_DONTNEED as u64,
                    0,
                    0,
                    0,
                ],
            )?;
            continue;
        };
        if !matches!(pma.kind, Kind::Private { .. }) {
            continue;
        }
        if pma.origin.is_some() {
            // Copied from a private file mapping: the file's pages come back.
            with(pid, |sp| {
                sp.update(p.start, p.end, |st, m| {
                    if let Some(o) = m.origin.take() {
                        pool::release(m.off, m.end - st);
                        m.off = o;
                        m.kind = Kind::FileCow;
                    }
                });
                sp.mark_pending(p.start, p.end);
            });
            continue;
        }
        let mut replace = Vec::new();
        for (rs, re, count) in pool::runs(pma.off, p.end - p.start) {
            if count > 1 {
                replace.push((p.start + (rs - pma.off), p.start + (re - pma.off)));
            } else {
                memfile::punch(rs, re - rs)?;
            }
        }
        for (s, e) in replace {
            let fresh = pool::alloc(e - s)?;
            with(pid, |sp| {
                sp.update(s, e, |st, m| {
                    pool::release(m.off, m.end - st);
                    m.off = fresh + (st - s);
                    m.kind = Kind::Private { cow: false };
                });
                sp.mark_pending(s, e);
            });
        }
    }
    apply_pending(k, tid)?;
    Ok(0)
}

/// Remaps the ranges of the task's address space whose host mapping is stale.
pub fn apply_pending(k: &Kernel, tid: Tid) -> Result<(), Errno> {
    if !enabled() || PENDING_SPACES.with(|n| n.get()) == 0 {
        return Ok(());
    }
    let Some(pid) = k
        .tasks
        .get(&tid)
        .and_then(|t| k.procs.get(&t.tgid))
        .map(|p| p.stub_pid)
    else {
        return Ok(());
    };
    let pending = with(pid, |s| s.take_pending());
    for (start, end) in pending {
        let pieces = with(pid, |s| s.pieces(start, end));
        // Adjacent pieces with consecutive offsets and one protection map in one call.
        let mut runs: Vec<(u64, u64, u64, u32)> = Vec::new();
        for p in pieces {
            let Some(m) = p.pma else { continue };
            let hp = m.host_prot();
            match runs.last_mut() {
                Some(r) if r.1 == p.start && r.2 + (r.1 - r.0) == m.off && r.3 == hp => r.1 = p.end,
                _ => runs.push((p.start, p.end, m.off, hp)),
            }
        }
        for (s, e, off, hp) in runs {
            map_memfile(k, tid, s, e - s, hp, libc::MAP_FIXED as u32, off)?;
        }
    }
    Ok(())
}

/// A SIGSEGV at `addr` in the task: true if it was a write to a copy-on-write page (now
/// copied) or to a range whose host mapping was stale, and the instruction can run again.
pub fn on_fault(k: &Kernel, tid: Tid, addr: u64) -> bool {
    if !enabled() {
        return false;
    }
    let pid = k.proc_of(tid).stub_pid;
    if with(pid, |s| !s.pending.is_empty()) {
        return apply_pending(k, tid).is_ok();
    }
    let Some((start, pma)) = with(pid, |s| s.pma_at(addr)) else {
        return false;
    };
    if !pma.kind.copies_on_write() || pma.prot & W == 0 {
        return false;
    }
    let lo = (page_down(addr) & !(COW_CHUNK - 1)).max(start);
    let hi = (lo + COW_CHUNK).min(pma.end);
    if with(pid, |s| s.make_private(lo, hi)).is_err() {
        return false;
    }
    apply_pending(k, tid).is_ok()
}

/// Before a host syscall injected into the task writes [addr, addr+len) of its memory
/// (clock_gettime, getrusage): give those pages write access.
pub fn before_host_write(k: &Kernel, tid: Tid, addr: u64, len: u64) -> Result<(), Errno> {
    if !enabled() || len == 0 {
        return Ok(());
    }
    let pid = k.proc_of(tid).stub_pid;
    let end = page_up(addr.checked_add(len).ok_or(Errno::EFAULT)?).ok_or(Errno::EFAULT)?;
    with(pid, |s| s.make_private(page_down(addr), end))?;
    apply_pending(k, tid)
}

/// Memory-file pages behind the private memory of stub process `pid`, in KiB: what its
/// resident set holds of its own, whether or not the host counts the pages in its RSS.
pub fn private_resident_kb(pid: i32) -> u64 {
    if !enabled() {
        return 0;
    }
    let runs: Vec<(u64, u64)> = with(pid, |s| {
        s.pmas
            .iter()
            .filter(|(_, p)| matches!(p.kind, Kind::Private { .. }))
            .map(|(&st, p)| (p.off, p.end - st))
            .collect()
    });
    runs.iter()
        .map(|&(off, len)| memfile::data_bytes(off, len))
        .sum::<u64>()
        / 1024
}

/// Runs `f` on the space of stub process `pid`.
pub fn with_space<R>(pid: i32, f: impl FnOnce(&mut Space) -> R) -> R {
    with(pid, f)
}

/// Writes code into private pages of stub process `pid` whatever their protection (syscall
/// patching): shared and file-backed pages are copied first, so no file ever changes.
/// Returns false, writing nothing, where the range is not private memory.
pub fn poke(pid: i32, addr: u64, data: &[u8]) -> Result<bool, Errno> {
    let end = addr.checked_add(data.len() as u64).ok_or(Errno::EFAULT)?;
    let pieces = with(pid, |s| s.pieces(addr, end));
    let private = |k: Kind| matches!(k, Kind::Private { .. } | Kind::FileCow);
    if pieces
        .iter()
        .any(|p| p.pma.is_none_or(|m| !private(m.kind)))
    {
        return Ok(false);
    }
    let hi = page_up(end).ok_or(Errno::EFAULT)?;
    with(pid, |s| s.make_private(page_down(addr), hi))?;
    for p in with(pid, |s| s.pieces(addr, end)) {
        let m = p.pma.ok_or(Errno::EFAULT)?;
        let at = (p.start - addr) as usize;
        memfile::write_at(m.off, &data[at..at + (p.end - p.start) as usize])?;
    }
    Ok(true)
}

/// Copies workload memory of stub process `pid` into `buf`.
pub fn read(pid: i32, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
    let end = addr.checked_add(buf.len() as u64).ok_or(Errno::EFAULT)?;
    let pieces = with(pid, |s| s.pieces(addr, end));
    for p in pieces {
        let m = p.pma.filter(|m| m.prot != 0).ok_or(Errno::EFAULT)?;
        let at = (p.start - addr) as usize;
        memfile::read_at(m.off, &mut buf[at..at + (p.end - p.start) as usize])?;
    }
    Ok(())
}

/// Copies `data` into workload memory of stub process `pid`: copy-on-write pages are copied
/// first (their host mapping is redone before the process runs again).
pub fn write(pid: i32, addr: u64, data: &[u8]) -> Result<(), Errno> {
    let end = addr.checked_add(data.len() as u64).ok_or(Errno::EFAULT)?;
    let mut pieces = with(pid, |s| s.pieces(addr, end));
    if pieces.iter().any(|p| p.pma.is_none_or(|m| m.prot & W == 0)) {
        return Err(Errno::EFAULT);
    }
    if pieces
        .iter()
        .any(|p| p.pma.is_some_and(|m| m.kind.copies_on_write()))
    {
        let hi = page_up(end).ok_or(Errno::EFAULT)?;
        with(pid, |s| s.make_private(page_down(addr), hi))?;
        pieces = with(pid, |s| s.pieces(addr, end));
    }
    for p in pieces {
        let m = p.pma.ok_or(Errno::EFAULT)?;
        let at = (p.start - addr) as usize;
        memfile::write_at(m.off, &data[at..at + (p.end - p.start) as usize])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pma(end: u64, off: u64, kind: Kind) -> Pma {
        Pma {
            end,
            off,
            prot: R | W,
            kind,
            origin: None,
        }
    }

    #[test]
    fn pieces_split_and_move() {
        let mut s = Space::default();
        s.pmas
            .insert(0x1000, pma(0x5000, 0x10_0000, Kind::SharedFile));
        s.pmas
            .insert(0x8000, pma(0x9000, 0x20_0000, Kind::SharedFile));
        let p = s.pieces(0x2000, 0x8800);
        let spans: Vec<_> = p
            .iter()
            .map(|p| (p.start, p.end, p.pma.map(|m| m.off)))
            .collect();
        assert_eq!(
            spans,
            vec![
                (0x2000, 0x5000, Some(0x10_1000)),
                (0x5000, 0x8000, None),
                (0x8000, 0x8800, Some(0x20_0000)),
            ]
        );
        s.update(0x2000, 0x3000, |_, m| m.prot = R);
        assert_eq!(s.pmas.len(), 4);
        assert_eq!(s.pmas[&0x2000].prot, R);
        assert_eq!(s.pmas[&0x3000].off, 0x10_2000);
        s.move_range(0x1000, 0x5000, 0x40_0000);
        assert_eq!(
            s.pma_at(0x40_1000).map(|(st, m)| (st, m.off)),
            Some((0x40_1000, 0x10_1000))
        );
        assert!(s.pma_at(0x1000).is_none());
        s.forget(0x40_0000, 0x41_0000);
        assert_eq!(s.pmas.len(), 1);
    }

    #[test]
    fn host_protection_drops_write_while_copy_on_write() {
        assert_eq!(pma(1, 0, Kind::FileCow).host_prot(), R);
        assert_eq!(pma(1, 0, Kind::Private { cow: true }).host_prot(), R);
        assert_eq!(pma(1, 0, Kind::Private { cow: false }).host_prot(), R | W);
        assert_eq!(pma(1, 0, Kind::SharedAnon).host_prot(), R | W);
    }
}
