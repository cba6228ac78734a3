//! Program loading: ELF (static, static-pie, dynamic with PT_INTERP), `#!` scripts, and the
//! initial stack with argv, envp and auxv.

pub mod elf;

use crate::errno::Errno;
use crate::fs::overlay;
use crate::kernel::{Kernel, Tid};
use crate::mm::vdso::HostVdso;
use crate::mm::{page_down, page_up, Mem, MmState, Vma, PAGE};
use crate::platform::ptrace;
use crate::vfs::{self, Inode, InodeKind};
use elf::{Elf, PF_R, PF_W, PF_X, PT_INTERP, PT_LOAD};
use std::rc::Rc;

/// Where the main program's stack ends.
pub const STACK_TOP: u64 = 0x7fff_ffff_e000;
pub const STACK_SIZE: u64 = 8 << 20;
/// Load address of position-independent executables and of the dynamic linker.
const PIE_BASE: u64 = 0x5555_5555_4000;
const INTERP_BASE: u64 = 0x7fff_f7fc_0000 - (64 << 20);
const MAX_FILE: u64 = 1 << 30;

/// Reads a whole regular file.
/// Linux's longest single argument or environment string, with its NUL (32 pages).
pub const MAX_ARG_STRLEN: usize = 32 * 4096;

/// How many bytes of argv and envp (strings with their NULs, plus a pointer each) execve
/// takes, as Linux's bprm_stack_limits: a quarter of the stack rlimit, at most 6 MiB (three
/// quarters of _STK_LIM) and at least ARG_MAX (128 KiB).
pub fn arg_limit(stack_rlimit: u64) -> usize {
    (stack_rlimit / 4).min(6 << 20).max(128 << 10) as usize
}

/// E2BIG when `argv` and `envp` do not fit in `limit` ([`arg_limit`]) or one string is
/// longer than [`MAX_ARG_STRLEN`].
pub fn check_arg_limits(argv: &[Vec<u8>], envp: &[Vec<u8>], limit: usize) -> Result<(), Errno> {
    let mut total = 0usize;
    for s in argv.iter().chain(envp) {
        if s.len() + 1 > MAX_ARG_STRLEN {
            return Err(Errno::E2BIG);
        }
        total += s.len() + 1 + 8;
    }
    if total > limit {
        return Err(Errno::E2BIG);
    }
    Ok(())
}

pub fn read_whole(inode: &Inode) -> Result<Vec<u8>, Errno> {
    if !matches!(inode.kind, InodeKind::File(_)) {
        return Err(Errno::EACCES);
    }
    let size = inode.size();
    if size > MAX_FILE {
        return Err(Errno::EFBIG);
    }
    let mut data = vec![0u8; size as usize];
    let mut off = 0usize;
    while off < data.len() {
        let n = overlay::read_file(inode, off as u64, &mut data[off..])?;
        if n == 0 {
            break;
        }
        off += n;
    }
    data.truncate(off);
    Ok(data)
}

/// Reads enough of a file for its ELF header and program headers (or a `#!` line).
pub fn read_head(inode: &Inode) -> Result<Vec<u8>, Errno> {
    if !matches!(inode.kind, InodeKind::File(_)) {
        return Err(Errno::EACCES);
    }
    let mut data = vec![0u8; 8192];
    let n = overlay::read_file(inode, 0, &mut data)?;
    data.truncate(n);
    if let Ok(e) = Elf::parse(&data) {
        let _ = e;
    } else if data.len() >= 64 && &data[0..4] == b"\x7fELF" {
        // Program headers beyond the first 8 KiB: read what they need.
        let phoff = u64::from_le_bytes(data[32..40].try_into().unwrap_or([0; 8]));
        let phnum = u16::from_le_bytes([data[56], data[57]]) as u64;
        let need = phoff.saturating_add(phnum * 56).min(1 << 20);
        if need > data.len() as u64 {
            let mut more = vec![0u8; need as usize];
            let n = overlay::read_file(inode, 0, &mut more)?;
            more.truncate(n);
            return Ok(more);
        }
    }
    Ok(data)
}

/// The image to start: what execve resolved after following `#!` lines.
pub struct Image {
    /// The start of the ELF file (headers and program headers) and the file itself.
    pub elf_data: Vec<u8>,
    pub elf_inode: Rc<Inode>,
    pub interp: Option<(Vec<u8>, Rc<Inode>)>,
    pub argv: Vec<Vec<u8>>,
    /// Path given to execve (AT_EXECFN) and the resolved executable path (/proc/pid/exe).
    pub execfn: Vec<u8>,
    pub exe_path: Vec<u8>,
}

/// Resolves `path` to an executable image, following up to 4 levels of `#!` interpreters.
/// Nothing of the caller's address space is touched, so errors can still be returned.
pub fn prepare(
    k: &Kernel,
    ctx: &vfs::PathCtx,
    start: Option<Rc<Inode>>,
    path: &[u8],
    mut argv: Vec<Vec<u8>>,
) -> Result<Image, Errno> {
    let execfn = path.to_vec();
    let mut path = path.to_vec();
    let mut start = start;
    for _ in 0..5 {
        let inode = vfs::resolve(k, ctx, start.clone(), &path, true)?;
        if inode.is_dir() {
            return Err(Errno::EACCES);
        }
        if !matches!(inode.kind, InodeKind::File(_)) {
            return Err(Errno::EACCES);
        }
        if !vfs::may_access(&inode.meta.borrow(), &ctx.creds, vfs::MAY_EXEC) {
            return Err(Errno::EACCES);
        }
        let data = read_head(&inode)?;
        if data.starts_with(b"#!") {
            let line_end = data
                .iter()
                .position(|&c| c == b'\n')
                .unwrap_or(data.len())
                .min(256);
            let line = &data[2..line_end];
            let line: Vec<u8> = line
                .iter()
                .copied()
                .skip_while(|c| *c == b' ' || *c == b'\t')
                .collect();
            let mut parts = line.splitn(2, |c| *c == b' ' || *c == b'\t');
            let interp = parts.next().unwrap_or(&[]).to_vec();
            let arg = parts
                .next()
                .map(|a| a.trim_ascii().to_vec())
                .filter(|a| !a.is_empty());
            if interp.is_empty() {
                return Err(Errno::ENOEXEC);
            }
            let mut new_argv = vec![interp.clone()];
            if let Some(a) = arg {
                new_argv.push(a);
            }
            new_argv.push(path.clone());
            new_argv.extend(argv.into_iter().skip(1));
            argv = new_argv;
            path = interp;
            start = None;
            continue;
        }
        let elf = Elf::parse(&data)?;
        let interp = match elf.phdrs.iter().find(|p| p.kind == PT_INTERP) {
            Some(ph) => {
                let raw = data
                    .get(ph.offset as usize..(ph.offset + ph.filesz) as usize)
                    .ok_or(Errno::ENOEXEC)?;
                let name: Vec<u8> = raw.iter().copied().take_while(|&c| c != 0).collect();
                let ii = vfs::resolve(k, ctx, None, &name, true)?;
                if !matches!(ii.kind, InodeKind::File(_)) {
                    return Err(Errno::EACCES);
                }
                let idata = read_head(&ii)?;
                Elf::parse(&idata)?;
                Some((idata, ii))
            }
            None => None,
        };
        // /proc/pid/exe names the file itself, after symlinks (busybox applets show
        // /bin/busybox, as on Linux).
        let exe_path = inode.path();
        return Ok(Image {
            elf_data: data,
            elf_inode: inode,
            interp,
            argv,
            execfn,
            exe_path,
        });
    }
    Err(Errno::ELOOP)
}

/// A memory host syscall for the task's stub (see mm::space::host_call).
fn inject(k: &Kernel, tid: Tid, nr: i64, args: [u64; 6]) -> Result<u64, Errno> {
    crate::mm::space::host_call(k, tid, nr, args)
}

/// Maps anonymous memory in the task's stub.
pub fn stub_mmap(
    k: &Kernel,
    tid: Tid,
    addr: u64,
    len: u64,
    prot: u32,
    flags: u32,
) -> Result<u64, Errno> {
    inject(
        k,
        tid,
        libc::SYS_mmap,
        [addr, len, prot as u64, flags as u64, u64::MAX, 0],
    )
}

pub fn stub_munmap(k: &Kernel, tid: Tid, addr: u64, len: u64) -> Result<u64, Errno> {
    inject(k, tid, libc::SYS_munmap, [addr, len, 0, 0, 0, 0])
}

pub fn stub_mprotect(k: &Kernel, tid: Tid, addr: u64, len: u64, prot: u32) -> Result<u64, Errno> {
    inject(
        k,
        tid,
        libc::SYS_mprotect,
        [addr, len, prot as u64, 0, 0, 0],
    )
}

pub fn stub_syscall(k: &Kernel, tid: Tid, nr: i64, args: [u64; 6]) -> Result<u64, Errno> {
    inject(k, tid, nr, args)
}

fn prot_of(flags: u32) -> u32 {
    let mut p = 0;
    if flags & PF_R != 0 {
        p |= libc::PROT_READ as u32;
    }
    if flags & PF_W != 0 {
        p |= libc::PROT_WRITE as u32;
    }
    if flags & PF_X != 0 {
        p |= libc::PROT_EXEC as u32;
    }
    p
}

/// True if [start, end) overlaps what every stub keeps (see platform::overlaps_stub).
pub fn overlaps_stub(start: u64, end: u64) -> bool {
    crate::platform::overlaps_stub(start, end)
}

struct Loaded {
    bias: u64,
    entry: u64,
    phdr: u64,
    phnum: u64,
    end: u64,
}

/// Maps an ELF image's PT_LOAD segments at `base` (ignored for ET_EXEC). File pages come from
/// the sandbox memory file (copy-on-write, shared between processes) when it exists; otherwise
/// the file data is copied into anonymous memory.
#[allow(clippy::too_many_arguments)]
fn load_elf(
    k: &Kernel,
    tid: Tid,
    mm: &mut MmState,
    head: &[u8],
    inode: &Rc<Inode>,
    base: u64,
    name: &str,
    vdso: &mut Option<&'static HostVdso>,
) -> Result<Loaded, Errno> {
    let elf = Elf::parse(head)?;
    let loads: Vec<_> = elf.phdrs.iter().filter(|p| p.kind == PT_LOAD).collect();
    if loads.is_empty() {
        return Err(Errno::ENOEXEC);
    }
    let min_vaddr = loads.iter().map(|p| page_down(p.vaddr)).min().unwrap_or(0);
    let mut bias = if elf.is_dyn {
        base.wrapping_sub(min_vaddr)
    } else {
        0
    };
    let max_end = loads
        .iter()
        .filter_map(|p| p.vaddr.checked_add(p.memsz))
        .max()
        .ok_or(Errno::ENOEXEC)?;
    let span = page_up(max_end - min_vaddr).ok_or(Errno::ENOEXEC)?;
    if elf.is_dyn {
        // Position-independent: move out of the way of the stub page and the vDSO.
        let fits = |b: u64| {
            let Some(s) = min_vaddr.checked_add(b) else {
                return false;
            };
            let Some(e) = s.checked_add(span) else {
                return false;
            };
            e <= ptrace::TASK_SIZE
                && !overlaps_stub(s, e)
                && !vdso.is_some_and(|v| v.overlaps(s, e))
        };
        let candidates = [bias, bias.wrapping_add(0x1000_0000_0000)]
            .into_iter()
            .chain((1..=64u64).filter_map(|i| bias.checked_sub(i << 28)));
        bias = candidates
            .into_iter()
            .find(|&b| fits(b))
            .ok_or(Errno::ENOMEM)?;
    } else if let Some(v) = *vdso {
        let (s, e) = (min_vaddr, page_up(max_end).ok_or(Errno::ENOEXEC)?);
        if v.overlaps(s, e) {
            // A fixed-address image where the vDSO is: it gets no vDSO.
            stub_munmap(k, tid, v.start(), v.end() - v.start())?;
            *vdso = None;
        }
    }
    for ph in &loads {
        let end = ph
            .vaddr
            .checked_add(ph.memsz)
            .and_then(|e| e.checked_add(bias))
            .and_then(page_up);
        let ok = end.is_some_and(|e| {
            e <= ptrace::TASK_SIZE && !overlaps_stub(page_down(ph.vaddr + bias), e)
        });
        if !ok || ph.filesz > ph.memsz || ph.offset.checked_add(ph.filesz).is_none() {
            return Err(Errno::ENOEXEC);
        }
    }
    let congruent = loads.iter().all(|p| p.vaddr % PAGE == p.offset % PAGE);
    let window = if congruent && crate::mm::memfile::raw_fd().is_some() {
        overlay::make_paged(inode).ok()
    } else {
        None
    };
    match window {
        Some(w) => map_segments_from_memfile(k, tid, &loads, bias, w)?,
        None => copy_segments(k, tid, &loads, bias, &read_whole(inode)?)?,
    }
    for ph in &loads {
        // File pages show the file (offset, device, inode); the bss pages past them are
        // anonymous, as in Linux.
        let start = page_down(ph.vaddr + bias);
        let file_end = page_up(ph.vaddr + ph.filesz + bias).ok_or(Errno::ENOEXEC)?;
        let end = page_up(ph.vaddr + ph.memsz + bias).ok_or(Errno::ENOEXEC)?;
        if ph.filesz > 0 {
            mm.add(Vma {
                start,
                end: file_end,
                prot: prot_of(ph.flags),
                name: name.to_string(),
                file: Some(inode.clone()),
                pgoff: page_down(ph.offset),
                ..Default::default()
            });
        }
        let anon_start = if ph.filesz > 0 { file_end } else { start };
        if end > anon_start {
            mm.add(Vma {
                start: anon_start,
                end,
                prot: prot_of(ph.flags),
                ..Default::default()
            });
        }
    }
    let phdr = match elf.phdr_vaddr() {
        Some(v) => v + bias,
        None => 0,
    };
    Ok(Loaded {
        bias,
        entry: elf.entry + bias,
        phdr,
        phnum: elf.phdrs.len() as u64,
        end: page_up(max_end + bias).ok_or(Errno::ENOEXEC)?,
    })
}

/// Maps file pages copy-on-write from the memory file, zero-fills the bss.
fn map_segments_from_memfile(
    k: &Kernel,
    tid: Tid,
    loads: &[&elf::Phdr],
    bias: u64,
    window: u64,
) -> Result<(), Errno> {
    let mem = Mem {
        pid: k.proc_of(tid).stub_pid,
    };
    let fixed_priv = (libc::MAP_PRIVATE | libc::MAP_FIXED) as u32;
    let anon = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED) as u32;
    for ph in loads {
        let prot = prot_of(ph.flags);
        let start = page_down(ph.vaddr + bias);
        let file_end = ph.vaddr + bias + ph.filesz;
        let mem_end = page_up(ph.vaddr + bias + ph.memsz).ok_or(Errno::ENOEXEC)?;
        let mut anon_start = start;
        if ph.filesz > 0 {
            let map_end = page_up(file_end).ok_or(Errno::ENOEXEC)?;
            let tail = file_end % PAGE != 0 && ph.memsz > ph.filesz;
            let first_prot = if tail {
                prot | libc::PROT_WRITE as u32
            } else {
                prot
            };
            let off = window + page_down(ph.offset);
            inject(
                k,
                tid,
                libc::SYS_mmap,
                [
                    start,
                    map_end - start,
                    first_prot as u64,
                    fixed_priv as u64,
                    crate::mm::memfile::STUB_FD as u64,
                    off,
                ],
            )?;
            if tail {
                // The bss starts inside the last file page: zero the rest of that page.
                mem.write(file_end, &vec![0u8; (map_end - file_end) as usize])?;
                if first_prot != prot {
                    stub_mprotect(k, tid, start, map_end - start, prot)?;
                }
            }
            anon_start = map_end;
        }
        if mem_end > anon_start {
            stub_mmap(k, tid, anon_start, mem_end - anon_start, prot, anon)?;
        }
    }
    Ok(())
}

/// Fallback: anonymous memory filled with a copy of the file data.
fn copy_segments(
    k: &Kernel,
    tid: Tid,
    loads: &[&elf::Phdr],
    bias: u64,
    data: &[u8],
) -> Result<(), Errno> {
    let mem = Mem {
        pid: k.proc_of(tid).stub_pid,
    };
    let fixed = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED) as u32;
    let rw = (libc::PROT_READ | libc::PROT_WRITE) as u32;
    // Map every segment writable first, then fill, then apply the final protections: two
    // segments may share a page.
    for ph in loads {
        let start = page_down(ph.vaddr + bias);
        let end = page_up(ph.vaddr + ph.memsz + bias).ok_or(Errno::ENOEXEC)?;
        stub_mmap(k, tid, start, end - start, rw, fixed)?;
    }
    for ph in loads {
        let file = data
            .get(ph.offset as usize..(ph.offset + ph.filesz) as usize)
            .ok_or(Errno::ENOEXEC)?;
        mem.write(ph.vaddr + bias, file)?;
    }
    for ph in loads {
        let start = page_down(ph.vaddr + bias);
        let end = page_up(ph.vaddr + ph.memsz + bias).ok_or(Errno::ENOEXEC)?;
        let prot = prot_of(ph.flags);
        if prot != rw {
            stub_mprotect(k, tid, start, end - start, prot)?;
        }
    }
    Ok(())
}

/// Replaces the task's address space with `img` and sets up its registers. Past the first
/// unmap there is no way back: errors after it must kill the process.
pub fn load(k: &mut Kernel, tid: Tid, img: &Image, envp: &[Vec<u8>]) -> Result<(), Errno> {
    let mut vdso = crate::mm::vdso::host();
    if vdso.is_some() && k.proc_of(tid).mm.vdso_disturbed {
        // The old image unmapped, moved or changed the vDSO, and no user-space call can map
        // the kernel's again: the new image starts in a fresh stub (from the zygote).
        if let Err(e) = k.move_to_new_stub(tid) {
            tracing::warn!(task = tid, errno = e.0, "exec without a vDSO");
            vdso = None;
        }
    }
    // Empty the address space except the stub page and the vDSO.
    for (start, len) in ptrace::gaps(&crate::platform::kept_regions(vdso.is_some())) {
        stub_munmap(k, tid, start, len)?;
    }
    let mut mm = MmState::default();
    let exe_name = String::from_utf8_lossy(&img.exe_path).into_owned();
    let main = load_elf(
        k,
        tid,
        &mut mm,
        &img.elf_data,
        &img.elf_inode,
        PIE_BASE,
        &exe_name,
        &mut vdso,
    )?;
    let mut at_base = 0;
    let mut entry = main.entry;
    if let Some((idata, iinode)) = &img.interp {
        let iname = String::from_utf8_lossy(&iinode.path()).into_owned();
        let li = load_elf(
            k,
            tid,
            &mut mm,
            idata,
            iinode,
            INTERP_BASE,
            &iname,
            &mut vdso,
        )?;
        at_base = li.bias;
        entry = li.entry;
    }
    mm.brk_start = main.end;
    mm.brk = main.end;
    // Stack.
    let stack_lo = STACK_TOP - STACK_SIZE;
    if let Some(v) = vdso.filter(|v| v.overlaps(stack_lo, STACK_TOP)) {
        // Older kernels put the vDSO just above the stack: then this image has none.
        stub_munmap(k, tid, v.start(), v.end() - v.start())?;
        vdso = None;
    }
    let mut at_sysinfo_ehdr = 0;
    if let Some(v) = vdso {
        for r in &v.regions {
            mm.add(Vma {
                start: r.start,
                end: r.end,
                prot: r.prot,
                name: r.name.clone(),
                ..Default::default()
            });
        }
        at_sysinfo_ehdr = v.ehdr;
    }
    let rw = (libc::PROT_READ | libc::PROT_WRITE) as u32;
    stub_mmap(
        k,
        tid,
        stack_lo,
        STACK_SIZE,
        rw,
        (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED) as u32,
    )?;
    mm.add(Vma {
        start: stack_lo,
        end: STACK_TOP,
        prot: rw,
        name: "[stack]".into(),
        ..Default::default()
    });
    mm.stack_top = STACK_TOP;
    let creds = k.proc_of(tid).creds.clone();
    let mem = Mem {
        pid: k.proc_of(tid).stub_pid,
    };
    let sp = build_stack(
        &mem,
        &mut mm,
        &img.argv,
        envp,
        &img.execfn,
        &main,
        at_base,
        entry_of_main(&main),
        &creds,
        at_sysinfo_ehdr,
    )?;
    let t = k.task_mut(tid);
    let template = t.regs;
    t.regs = crate::arch::initial_regs(&template, entry, sp);
    let mut fp = crate::arch::zeroed_fpregs();
    fp.cwd = 0x37f;
    fp.mxcsr = 0x1f80;
    let _ = t.stub.set_fpregs(&fp);
    let p = k.proc_of_mut(tid);
    p.mm = mm;
    p.exe = img.exe_path.clone();
    // comm is the basename of the path given to execve: /bin/sh stays "sh" even when it is a
    // link to busybox (exe names the resolved file).
    let comm = img
        .execfn
        .rsplit(|&c| c == b'/')
        .next()
        .unwrap_or(b"")
        .to_vec();
    p.comm = comm.into_iter().take(15).collect();
    let comm = p.comm.clone();
    let mut cmdline = Vec::new();
    for a in &img.argv {
        cmdline.extend_from_slice(a);
        cmdline.push(0);
    }
    p.cmdline = cmdline;
    let mut env = Vec::new();
    for a in envp {
        env.extend_from_slice(a);
        env.push(0);
    }
    p.environ = env;
    k.task_mut(tid).comm = comm;
    Ok(())
}

fn entry_of_main(l: &Loaded) -> u64 {
    l.entry
}

/// What the host kernel told the sentry in its own auxiliary vector, for the workload's.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostAux {
    pub hwcap: u64,
    pub hwcap2: u64,
    pub minsigstksz: u64,
}

static HOST_AUX: std::sync::OnceLock<HostAux> = std::sync::OnceLock::new();

/// Reads the sentry's auxv as the kernel wrote it. glibc's getauxval(AT_HWCAP) is not that on
/// x86-64 (ld.so replaces it with its own HWCAP_X86_* bits), so read /proc/self/auxv. Call at
/// boot, before the sentry is sealed; later calls keep the first answer.
pub fn init_host_aux() -> HostAux {
    *HOST_AUX.get_or_init(|| {
        // SAFETY: getauxval only reads the sentry's own auxv (the fallback if procfs is not
        // readable).
        let mut h = unsafe {
            HostAux {
                hwcap: libc::getauxval(AT_HWCAP),
                hwcap2: libc::getauxval(AT_HWCAP2),
                minsigstksz: libc::getauxval(AT_MINSIGSTKSZ),
            }
        };
        if let Ok(raw) = std::fs::read("/proc/self/auxv") {
            for pair in raw.chunks_exact(16) {
                let word =
                    |i: usize| u64::from_le_bytes(pair[i..i + 8].try_into().unwrap_or([0; 8]));
                match word(0) {
                    AT_HWCAP => h.hwcap = word(8),
                    AT_HWCAP2 => h.hwcap2 = word(8),
                    AT_MINSIGSTKSZ => h.minsigstksz = word(8),
                    _ => {}
                }
            }
        }
        h
    })
}

fn host_aux() -> HostAux {
    init_host_aux()
}

const AT_NULL: u64 = 0;
const AT_PHDR: u64 = 3;
const AT_PHENT: u64 = 4;
const AT_PHNUM: u64 = 5;
const AT_PAGESZ: u64 = 6;
const AT_BASE: u64 = 7;
const AT_FLAGS: u64 = 8;
const AT_ENTRY: u64 = 9;
const AT_UID: u64 = 11;
const AT_EUID: u64 = 12;
const AT_GID: u64 = 13;
const AT_EGID: u64 = 14;
const AT_PLATFORM: u64 = 15;
const AT_HWCAP: u64 = 16;
const AT_CLKTCK: u64 = 17;
const AT_SECURE: u64 = 23;
const AT_RANDOM: u64 = 25;
const AT_HWCAP2: u64 = 26;
const AT_EXECFN: u64 = 31;
const AT_SYSINFO_EHDR: u64 = 33;
const AT_MINSIGSTKSZ: u64 = 51;

#[allow(clippy::too_many_arguments)]
fn build_stack(
    mem: &Mem,
    mm: &mut MmState,
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
    execfn: &[u8],
    main: &Loaded,
    at_base: u64,
    main_entry: u64,
    creds: &vfs::Creds,
    at_sysinfo_ehdr: u64,
) -> Result<u64, Errno> {
    let mut sp = STACK_TOP;
    let push_bytes = |sp: &mut u64, b: &[u8]| -> Result<u64, Errno> {
        *sp -= b.len() as u64;
        mem.write(*sp, b)?;
        Ok(*sp)
    };
    let with_nul = |s: &[u8]| {
        let mut v = s.to_vec();
        v.push(0);
        v
    };
    let execfn_addr = push_bytes(&mut sp, &with_nul(execfn))?;
    let env_end = sp;
    let mut env_ptrs = Vec::with_capacity(envp.len());
    for e in envp.iter().rev() {
        env_ptrs.push(push_bytes(&mut sp, &with_nul(e))?);
    }
    env_ptrs.reverse();
    let env_start = sp;
    let arg_end = sp;
    let mut arg_ptrs = Vec::with_capacity(argv.len());
    for a in argv.iter().rev() {
        arg_ptrs.push(push_bytes(&mut sp, &with_nul(a))?);
    }
    arg_ptrs.reverse();
    let arg_start = sp;
    let platform = push_bytes(&mut sp, b"x86_64\0")?;
    let mut rnd = [0u8; 16];
    crate::fs::devfs::fill_random(&mut rnd);
    let random = push_bytes(&mut sp, &rnd)?;
    sp &= !15;
    let host = host_aux();
    let mut auxv: Vec<(u64, u64)> = vec![
        (AT_HWCAP, host.hwcap),
        (AT_PAGESZ, PAGE),
        (AT_CLKTCK, 100),
        (AT_PHDR, main.phdr),
        (AT_PHENT, 56),
        (AT_PHNUM, main.phnum),
        (AT_BASE, at_base),
        (AT_FLAGS, 0),
        (AT_ENTRY, main_entry),
        (AT_UID, creds.uid as u64),
        (AT_EUID, creds.euid as u64),
        (AT_GID, creds.gid as u64),
        (AT_EGID, creds.egid as u64),
        (AT_SECURE, 0),
        (AT_RANDOM, random),
        (AT_HWCAP2, host.hwcap2),
        (AT_EXECFN, execfn_addr),
        (AT_PLATFORM, platform),
        (
            AT_MINSIGSTKSZ,
            host.minsigstksz.max(crate::arch::MINSIGSTKSZ),
        ),
        (AT_NULL, 0),
    ];
    if at_sysinfo_ehdr != 0 {
        // First, as Linux puts it.
        auxv.insert(0, (AT_SYSINFO_EHDR, at_sysinfo_ehdr));
    }
    let words = 1 + arg_ptrs.len() + 1 + env_ptrs.len() + 1 + auxv.len() * 2;
    sp -= (words * 8) as u64;
    sp &= !15;
    let mut buf = Vec::with_capacity(words * 8);
    buf.extend_from_slice(&(argv.len() as u64).to_le_bytes());
    for p in &arg_ptrs {
        buf.extend_from_slice(&p.to_le_bytes());
    }
    buf.extend_from_slice(&0u64.to_le_bytes());
    for p in &env_ptrs {
        buf.extend_from_slice(&p.to_le_bytes());
    }
    buf.extend_from_slice(&0u64.to_le_bytes());
    for (a, v) in &auxv {
        buf.extend_from_slice(&a.to_le_bytes());
        buf.extend_from_slice(&v.to_le_bytes());
    }
    mem.write(sp, &buf)?;
    mm.auxv = buf[(1 + arg_ptrs.len() + 1 + env_ptrs.len() + 1) * 8..].to_vec();
    mm.arg_start = arg_start;
    mm.arg_end = arg_end;
    mm.env_start = env_start;
    mm.env_end = env_end;
    Ok(sp)
}
