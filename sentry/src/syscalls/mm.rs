//! Memory syscalls: the sentry validates each request and has the stub execute it.

use super::file::get_file;
use super::SysResult;
use crate::errno::Errno;
use crate::fs::overlay;
use crate::kernel::{Kernel, Tid};
use crate::loader::{overlaps_stub, stub_mmap, stub_mprotect, stub_munmap, stub_syscall};
use crate::mm::{page_up, Vma, PAGE};
use crate::platform::ptrace::TASK_SIZE;
use crate::vfs::inode::{DevKind, InodeKind};

const PASS_FLAGS: u32 = (libc::MAP_SHARED
    | libc::MAP_PRIVATE
    | libc::MAP_FIXED
    | libc::MAP_ANONYMOUS
    | libc::MAP_NORESERVE
    | libc::MAP_GROWSDOWN
    | libc::MAP_STACK
    | libc::MAP_POPULATE
    | libc::MAP_32BIT
    | libc::MAP_FIXED_NOREPLACE) as u32;

fn check_range(addr: u64, len: u64) -> Result<u64, Errno> {
    let len = page_up(len).ok_or(Errno::ENOMEM)?;
    let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
    if end > TASK_SIZE {
        return Err(Errno::ENOMEM);
    }
    if overlaps_stub(addr, end) {
        return Err(Errno::EINVAL);
    }
    Ok(len)
}

pub fn sys_mmap(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (addr, len, prot, flags, fd, off) =
        (a[0], a[1], a[2] as u32, a[3] as u32, a[4] as i32, a[5]);
    if len == 0 || off % PAGE != 0 || addr % PAGE != 0 && flags & libc::MAP_FIXED as u32 != 0 {
        return Err(Errno::EINVAL.into());
    }
    let map_type = flags & 0x3;
    if map_type == 0 {
        return Err(Errno::EINVAL.into());
    }
    if prot & !((libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC) as u32) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let len = page_up(len).ok_or(Errno::ENOMEM)?;
    let fixed = flags & (libc::MAP_FIXED | libc::MAP_FIXED_NOREPLACE) as u32 != 0;
    if fixed {
        check_range(addr, len)?;
    }
    let host_flags = (flags & PASS_FLAGS & !0x3)
        | if map_type == 3 {
            libc::MAP_SHARED as u32
        } else {
            map_type
        };
    let anon = flags & libc::MAP_ANONYMOUS as u32 != 0;
    let file = if anon {
        None
    } else {
        Some(get_file(k, tid, fd as u64)?)
    };
    let mut name = String::new();
    let mut shared = map_type != libc::MAP_PRIVATE as u32;
    let data_source = match &file {
        None => None,
        Some(f) => {
            if !f.readable() {
                return Err(Errno::EACCES.into());
            }
            if map_type != libc::MAP_PRIVATE as u32
                && prot & libc::PROT_WRITE as u32 != 0
                && !f.writable()
            {
                return Err(Errno::EACCES.into());
            }
            let inode = f.inode.clone().ok_or(Errno::ENODEV)?;
            match &inode.kind {
                InodeKind::File(_) => {
                    name = String::from_utf8_lossy(&f.path).into_owned();
                    Some(inode)
                }
                InodeKind::Device(DevKind::Zero) => {
                    shared = false;
                    None
                }
                _ => return Err(Errno::ENODEV.into()),
            }
        }
    };
    let hint_addr = if fixed || addr == 0 || check_range(addr, len).is_ok() {
        addr
    } else {
        0
    };
    // A file whose pages the mapping uses directly (see MmState::pinned).
    let mut pin = None;
    let result = match &data_source {
        None => {
            let hf = host_flags | libc::MAP_ANONYMOUS as u32;
            // /dev/zero MAP_SHARED and anonymous shared map the same way on the host.
            stub_mmap(k, tid, hint_addr, len, prot, hf)?
        }
        Some(inode)
            if crate::mm::memfile::raw_fd().is_some()
                && off
                    .checked_add(len)
                    .is_some_and(|e| e <= crate::mm::memfile::WINDOW) =>
        {
            match overlay::make_paged(inode) {
                Ok(window) => {
                    // The file's pages live in the memory file: map them directly, shared or
                    // copy-on-write as asked.
                    let hf = host_flags & !(libc::MAP_ANONYMOUS as u32);
                    pin = Some(inode.clone());
                    stub_syscall(
                        k,
                        tid,
                        libc::SYS_mmap,
                        [
                            hint_addr,
                            len,
                            prot as u64,
                            hf as u64,
                            crate::mm::memfile::STUB_FD as u64,
                            window + off,
                        ],
                    )?
                }
                Err(_) => map_copy(k, tid, inode, hint_addr, len, prot, host_flags, off)?,
            }
        }
        Some(inode) => map_copy(k, tid, inode, hint_addr, len, prot, host_flags, off)?,
    };
    if overlaps_stub(result, result + len) {
        let _ = stub_munmap(k, tid, result, len);
        return Err(Errno::ENOMEM.into());
    }
    let mm = &mut k.proc_of_mut(tid).mm;
    mm.touch(result, result + len);
    mm.add(Vma {
        start: result,
        end: result + len,
        prot,
        shared,
        name,
        file: data_source,
        pgoff: off,
    });
    if let Some(file) = pin {
        mm.pinned.push((result, result + len, file));
    }
    fence_past_eof(k, tid, result, result + len)?;
    Ok(result as i64)
}

/// A private copy of file data in anonymous memory (no memory file, or a huge file).
#[allow(clippy::too_many_arguments)]
fn map_copy(
    k: &mut Kernel,
    tid: Tid,
    inode: &crate::vfs::Inode,
    hint_addr: u64,
    len: u64,
    prot: u32,
    host_flags: u32,
    off: u64,
) -> Result<u64, Errno> {
    let rw = (libc::PROT_READ | libc::PROT_WRITE) as u32;
    let hf = (host_flags & !(libc::MAP_SHARED as u32))
        | libc::MAP_PRIVATE as u32
        | libc::MAP_ANONYMOUS as u32;
    let at = stub_mmap(k, tid, hint_addr, len, rw, hf)?;
    let size = inode.size();
    if off < size {
        let n = (size - off).min(len) as usize;
        let mut buf = vec![0u8; n];
        let mut got = 0;
        while got < n {
            let r = overlay::read_file(inode, off + got as u64, &mut buf[got..])?;
            if r == 0 {
                break;
            }
            got += r;
        }
        k.mem_of(tid)?.write(at, &buf[..got])?;
    }
    if prot != rw {
        stub_mprotect(k, tid, at, len, prot)?;
    }
    Ok(at)
}

pub fn sys_munmap(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if a[0] % PAGE != 0 || a[1] == 0 {
        return Err(Errno::EINVAL.into());
    }
    let len = check_range(a[0], a[1])?;
    stub_munmap(k, tid, a[0], len)?;
    let mm = &mut k.proc_of_mut(tid).mm;
    mm.touch(a[0], a[0] + len);
    mm.remove(a[0], a[0] + len);
    Ok(0)
}

pub fn sys_mprotect(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if a[0] % PAGE != 0 {
        return Err(Errno::EINVAL.into());
    }
    if a[1] == 0 {
        return Ok(0);
    }
    let prot = a[2] as u32;
    let allowed = (libc::PROT_READ
        | libc::PROT_WRITE
        | libc::PROT_EXEC
        | libc::PROT_GROWSDOWN
        | libc::PROT_GROWSUP) as u32;
    if prot & !allowed != 0 {
        return Err(Errno::EINVAL.into());
    }
    let len = check_range(a[0], a[1]).map_err(|_| Errno::ENOMEM)?;
    stub_mprotect(k, tid, a[0], len, prot)?;
    let mm = &mut k.proc_of_mut(tid).mm;
    mm.touch(a[0], a[0] + len);
    mm.protect(a[0], a[0] + len, prot & 7);
    // The host protection now applies to pages past EOF too: fence them again.
    mm.unfence(a[0], a[0] + len);
    fence_past_eof(k, tid, a[0], a[0] + len)?;
    Ok(0)
}

pub fn sys_brk(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (start, cur) = {
        let mm = &k.proc_of(tid).mm;
        (mm.brk_start, mm.brk)
    };
    let want = a[0];
    if want < start || want > start + (1 << 40) {
        return Ok(cur as i64);
    }
    let (Some(old_top), Some(new_top)) = (page_up(cur), page_up(want)) else {
        return Ok(cur as i64);
    };
    if new_top > old_top {
        if overlaps_stub(old_top, new_top) {
            return Ok(cur as i64);
        }
        let rw = (libc::PROT_READ | libc::PROT_WRITE) as u32;
        let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE) as u32;
        match stub_mmap(k, tid, old_top, new_top - old_top, rw, flags) {
            Ok(at) if at == old_top => {}
            Ok(at) => {
                let _ = stub_munmap(k, tid, at, new_top - old_top);
                return Ok(cur as i64);
            }
            Err(_) => return Ok(cur as i64),
        }
        let mm = &mut k.proc_of_mut(tid).mm;
        mm.remove(start, old_top);
        mm.add(Vma {
            start: page_up(start).unwrap_or(start),
            end: new_top,
            prot: rw,
            name: "[heap]".into(),
            ..Default::default()
        });
    } else if new_top < old_top {
        stub_munmap(k, tid, new_top, old_top - new_top)?;
        k.proc_of_mut(tid).mm.remove(new_top, old_top);
    }
    k.proc_of_mut(tid).mm.brk = want;
    Ok(want as i64)
}

pub fn sys_mremap(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let (old, old_len, new_len, flags, new_addr) = (a[0], a[1], a[2], a[3], a[4]);
    if old % PAGE != 0 || new_len == 0 {
        return Err(Errno::EINVAL.into());
    }
    check_range(old, old_len.max(1))?;
    if flags & libc::MREMAP_FIXED as u64 != 0 {
        check_range(new_addr, new_len)?;
    }
    let r = stub_syscall(
        k,
        tid,
        libc::SYS_mremap,
        [old, old_len, new_len, flags, new_addr, 0],
    )?;
    let new_len_p = page_up(new_len).ok_or(Errno::ENOMEM)?;
    if overlaps_stub(r, r + new_len_p) {
        return Err(Errno::ENOMEM.into());
    }
    let mm = &mut k.proc_of_mut(tid).mm;
    let template = mm
        .vmas
        .iter()
        .find(|v| v.start <= old && old < v.end)
        .cloned();
    let old_end = old + page_up(old_len).unwrap_or(old_len);
    mm.touch(old, old_end.max(old + new_len_p));
    mm.touch(r, r + new_len_p);
    // The file pinned by the old range, if any, now backs the new one.
    let file = mm
        .pinned
        .iter()
        .find(|(s, e, _)| *s < old_end && *e > old)
        .map(|(_, _, f)| f.clone());
    mm.remove(old, old_end);
    if let Some(v) = template {
        mm.add(Vma {
            start: r,
            end: r + new_len_p,
            pgoff: v.pgoff.wrapping_add(old.saturating_sub(v.start)),
            ..v
        });
    }
    if let Some(f) = file {
        mm.pinned.push((r, r + new_len_p, f));
    }
    // Fenced pages moved with the mapping, and a grown one maps more of the file: give a file
    // mapping its protection back and fence what is past EOF now.
    let file_vma = mm
        .vmas
        .iter()
        .find(|v| v.start == r && v.file.is_some() && v.prot != 0)
        .map(|v| v.prot);
    if let Some(prot) = file_vma {
        stub_mprotect(k, tid, r, new_len_p, prot)?;
        fence_past_eof(k, tid, r, r + new_len_p)?;
    }
    Ok(r as i64)
}

pub fn sys_madvise(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if a[0] % PAGE != 0 {
        return Err(Errno::EINVAL.into());
    }
    if a[1] == 0 {
        return Ok(0);
    }
    let len = check_range(a[0], a[1])?;
    match a[2] as i32 {
        libc::MADV_DONTNEED | libc::MADV_FREE | libc::MADV_REMOVE => {
            stub_syscall(
                k,
                tid,
                libc::SYS_madvise,
                [a[0], len, libc::MADV_DONTNEED as u64, 0, 0, 0],
            )?;
            Ok(0)
        }
        libc::MADV_NORMAL
        | libc::MADV_RANDOM
        | libc::MADV_SEQUENTIAL
        | libc::MADV_WILLNEED
        | libc::MADV_DONTFORK
        | libc::MADV_DOFORK
        | libc::MADV_MERGEABLE
        | libc::MADV_UNMERGEABLE
        | libc::MADV_HUGEPAGE
        | libc::MADV_NOHUGEPAGE
        | libc::MADV_DONTDUMP
        | libc::MADV_DODUMP => {
            if fully_mapped(k, tid, a[0], a[0] + len) {
                Ok(0)
            } else {
                Err(Errno::ENOMEM.into())
            }
        }
        _ => Err(Errno::EINVAL.into()),
    }
}

/// Whether [start, end) is covered by the process's mappings without a gap: Linux fails
/// madvise and msync on a range with unmapped pages with ENOMEM.
fn fully_mapped(k: &Kernel, tid: Tid, start: u64, end: u64) -> bool {
    let mut at = start;
    // vmas are sorted by start and do not overlap.
    for v in &k.proc_of(tid).mm.vmas {
        if v.end <= at {
            continue;
        }
        if v.start > at {
            return false;
        }
        at = v.end;
        if at >= end {
            return true;
        }
    }
    at >= end
}

pub fn sys_msync(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    let flags = a[2] as i32;
    if a[0] % PAGE != 0
        || flags & !(libc::MS_ASYNC | libc::MS_INVALIDATE | libc::MS_SYNC) != 0
        || flags & libc::MS_ASYNC != 0 && flags & libc::MS_SYNC != 0
    {
        return Err(Errno::EINVAL.into());
    }
    let len = page_up(a[1]).ok_or(Errno::ENOMEM)?;
    let end = a[0].checked_add(len).ok_or(Errno::ENOMEM)?;
    if !fully_mapped(k, tid, a[0], end) {
        return Err(Errno::ENOMEM.into());
    }
    Ok(0)
}

pub fn sys_mlock(_k: &mut Kernel, _tid: Tid, _a: [u64; 6]) -> SysResult {
    Ok(0)
}

/// mlock2(addr, len, flags): like mlock (a no-op) with MLOCK_ONFAULT as the only flag.
pub fn sys_mlock2(_k: &mut Kernel, _tid: Tid, a: [u64; 6]) -> SysResult {
    const MLOCK_ONFAULT: u64 = 1;
    if a[2] & !MLOCK_ONFAULT != 0 {
        return Err(Errno::EINVAL.into());
    }
    Ok(0)
}

/// mincore(addr, len, vec): one byte per page of a mapped range. The sentry cannot see which
/// pages the host has resident, so every mapped page is reported resident (bit 0 set), which
/// is what a program that just touched its memory expects.
pub fn sys_mincore(k: &mut Kernel, tid: Tid, a: [u64; 6]) -> SysResult {
    if a[0] % PAGE != 0 {
        return Err(Errno::EINVAL.into());
    }
    let len = page_up(a[1]).ok_or(Errno::ENOMEM)?;
    let end = a[0].checked_add(len).ok_or(Errno::ENOMEM)?;
    if end > TASK_SIZE {
        return Err(Errno::ENOMEM.into());
    }
    if len == 0 {
        return Ok(0);
    }
    if !fully_mapped(k, tid, a[0], end) {
        return Err(Errno::ENOMEM.into());
    }
    let pages = (len / PAGE) as usize;
    // Written in bounded chunks: the length comes from the workload.
    let chunk = vec![1u8; pages.min(1 << 16)];
    let mem = k.mem_of(tid)?;
    let mut done = 0usize;
    while done < pages {
        let n = (pages - done).min(chunk.len());
        mem.write(a[2] + done as u64, &chunk[..n])?;
        done += n;
    }
    Ok(0)
}

/// Makes the pages of file mappings in [start, end) that lie wholly past the end of their file
/// inaccessible (PROT_NONE on the host) and records them as fences, so that touching one
/// faults (see [`file_fault`]). Mappings without access rights stay as they are.
fn fence_past_eof(k: &mut Kernel, tid: Tid, start: u64, end: u64) -> Result<(), Errno> {
    let mut todo = Vec::new();
    for v in &k.proc_of(tid).mm.vmas {
        if v.end <= start || v.start >= end || v.prot == 0 {
            continue;
        }
        let Some(file) = &v.file else { continue };
        let Some(eof) = page_up(file.size()) else {
            continue;
        };
        let lo = if eof <= v.pgoff {
            v.start
        } else {
            match v.start.checked_add(eof - v.pgoff) {
                Some(a) => a,
                None => continue,
            }
        };
        let (lo, hi) = (lo.max(start), v.end.min(end));
        if lo < hi {
            todo.push((lo, hi));
        }
    }
    for (lo, hi) in todo {
        stub_mprotect(k, tid, lo, hi - lo, libc::PROT_NONE as u32)?;
        let mm = &mut k.proc_of_mut(tid).mm;
        mm.unfence(lo, hi);
        mm.fences.push((lo, hi));
    }
    Ok(())
}

/// What a SIGSEGV in the workload turns out to be.
pub enum FaultKind {
    /// A fence over pages the file has grown into: they are accessible again, run the
    /// instruction again.
    Retry,
    /// A page of a file mapping wholly past the end of the file: SIGBUS (BUS_ADRERR).
    PastEof,
    /// A real SIGSEGV.
    Segv,
}

/// Classifies a SIGSEGV at `addr` (see [`fence_past_eof`]).
pub fn file_fault(k: &mut Kernel, tid: Tid, addr: u64) -> FaultKind {
    let Some(p) = k.procs.get(&k.task(tid).tgid) else {
        return FaultKind::Segv;
    };
    let Some((fs, fe)) = p.mm.fence_at(addr) else {
        return FaultKind::Segv;
    };
    let Some(v) =
        p.mm.vmas
            .iter()
            .find(|v| v.start <= addr && addr < v.end && v.prot != 0)
    else {
        return FaultKind::Segv;
    };
    let Some(file) = &v.file else {
        return FaultKind::Segv;
    };
    let Some(eof) = page_up(file.size()) else {
        return FaultKind::Segv;
    };
    let page = crate::mm::page_down(addr);
    if v.pgoff.saturating_add(page - v.start) >= eof {
        return FaultKind::PastEof;
    }
    // The file grew: open up the fenced pages that are inside it now.
    let hi = fe.min(v.end).min(v.start.saturating_add(eof - v.pgoff));
    let lo = fs.max(v.start);
    let prot = v.prot;
    k.proc_of_mut(tid).mm.unfence(lo, hi);
    match stub_mprotect(k, tid, lo, hi - lo, prot) {
        Ok(_) => FaultKind::Retry,
        Err(_) => FaultKind::Segv,
    }
}

/// After a file shrank: pages of its mappings that are now wholly past the end are taken
/// away (fenced) in every process that maps it and has a thread stopped in the sentry (the
/// caller's always). A process whose threads all run application code right now keeps
/// access to those pages (they read zeros) until it maps, remaps or re-protects them.
pub fn after_truncate(k: &mut Kernel, tid: Tid, inode: &std::rc::Rc<crate::vfs::Inode>, old: u64) {
    if inode.size() >= old {
        return;
    }
    let me = k.task(tid).tgid;
    let mut seen_stubs = Vec::new();
    let mut work = Vec::new();
    for (pid, p) in &k.procs {
        if p.zombie.is_some() || seen_stubs.contains(&p.stub_pid) {
            continue;
        }
        let ranges: Vec<(u64, u64)> =
            p.mm.vmas
                .iter()
                .filter(|v| {
                    v.file
                        .as_ref()
                        .is_some_and(|f| std::rc::Rc::ptr_eq(f, inode))
                })
                .map(|v| (v.start, v.end))
                .collect();
        if ranges.is_empty() {
            continue;
        }
        let runner = if *pid == me {
            Some(tid)
        } else {
            p.threads.iter().copied().find(|t| {
                k.tasks.get(t).is_some_and(|t| {
                    // Stopped in a syscall (blocked or being served): safe to inject into.
                    matches!(
                        t.state,
                        crate::kernel::RunState::Blocked | crate::kernel::RunState::InSentry
                    )
                })
            })
        };
        if let Some(t) = runner {
            seen_stubs.push(p.stub_pid);
            work.push((t, ranges));
        }
    }
    for (t, ranges) in work {
        for (s, e) in ranges {
            if let Err(err) = fence_past_eof(k, t, s, e) {
                tracing::debug!(
                    task = t,
                    errno = err.0,
                    "could not fence a truncated mapping"
                );
            }
        }
    }
}
