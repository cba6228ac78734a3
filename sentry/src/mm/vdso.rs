//! The workload's vDSO is the host kernel's own: stubs are forked from the sentry and keep its
//! `[vvar]`, `[vvar_vclock]` and `[vdso]` mappings (at the sentry's addresses) when they empty
//! their address space. The vDSO reads the host's clock data, so time read through it equals
//! what the sentry's clock syscalls report (the sentry does not offset host clocks). Fallback
//! syscalls made by vDSO code are ordinary workload syscalls: they stop in `PTRACE_SYSEMU`
//! before the host runs them, and the stub's seccomp filter kills anything not issued from
//! the stub page if a stub ever runs untraced.

use std::sync::OnceLock;

/// One of the host's vDSO mappings in the sentry (and so in every fresh stub).
#[derive(Debug, Clone)]
pub struct Region {
    pub start: u64,
    pub end: u64,
    pub prot: u32,
    pub name: String,
}

/// The host vDSO as the sentry found it at boot.
#[derive(Debug, Clone)]
pub struct HostVdso {
    /// Sorted, contiguous: [vvar], [vvar_vclock] (newer kernels), [vdso].
    pub regions: Vec<Region>,
    /// AT_SYSINFO_EHDR: the vDSO ELF image.
    pub ehdr: u64,
    /// Where `__vdso_getcpu` is, to be patched into a real getcpu syscall (see
    /// [`GETCPU_PATCH`]).
    pub getcpu: Option<u64>,
}

/// `mov eax, SYS_getcpu; syscall; ret`: the host vDSO's getcpu would report the host CPU the
/// stub runs on, but CPUs and affinity are virtual in the sandbox (sched_setaffinity is not
/// applied to the host), so getcpu is answered by the sentry like the syscall. Written into
/// each fresh stub's private copy of the vDSO text (PTRACE_POKEDATA under ptrace, the stub's
/// own /proc/self/mem under systrap).
pub const GETCPU_PATCH: [u8; 8] = [0xb8, 0x35, 0x01, 0x00, 0x00, 0x0f, 0x05, 0xc3];

impl HostVdso {
    pub fn start(&self) -> u64 {
        self.regions.first().map_or(0, |r| r.start)
    }
    pub fn end(&self) -> u64 {
        self.regions.last().map_or(0, |r| r.end)
    }
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        start < self.end() && end > self.start()
    }
}

static HOST: OnceLock<Option<HostVdso>> = OnceLock::new();
static VSYSCALL: OnceLock<Option<String>> = OnceLock::new();

/// The host's `[vsyscall]` line of /proc/self/maps, if it has one: that page is above the
/// user address space, in every process (workload included), and Linux lists it last.
pub fn vsyscall_line() -> Option<&'static str> {
    VSYSCALL.get().and_then(|l| l.as_deref())
}

/// Finds the sentry's vDSO mappings in /proc/self/maps. Call at boot, before the first stub
/// is forked and before the sentry is sealed; None if there is none (vdso=0) or the layout is
/// not the expected contiguous block around AT_SYSINFO_EHDR.
pub fn init() -> Option<&'static HostVdso> {
    HOST.get_or_init(|| {
        let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
        let _ = VSYSCALL.set(
            maps.lines()
                .find(|l| l.ends_with(" [vsyscall]"))
                .map(str::to_string),
        );
        // SAFETY: getauxval only reads the sentry's own auxv.
        let ehdr = unsafe { libc::getauxval(libc::AT_SYSINFO_EHDR) };
        // MOAT_NO_VDSO=1: a debugging switch, every clock call traps again.
        if ehdr == 0 || std::env::var_os("MOAT_NO_VDSO").is_some() {
            return None;
        }
        let regions = parse_maps(&maps);
        let mut v = HostVdso {
            regions,
            ehdr,
            getcpu: None,
        };
        let contiguous = v.regions.windows(2).all(|w| w[0].end == w[1].start);
        let has_image = v
            .regions
            .iter()
            .any(|r| r.name == "[vdso]" && r.start <= ehdr && ehdr < r.end);
        if !contiguous || !has_image {
            tracing::warn!(?v, "unexpected host vDSO layout: the workload gets no vDSO");
            return None;
        }
        let image = v.regions.iter().find(|r| r.name == "[vdso]")?;
        // SAFETY: [vdso] is a readable mapping of this process (just read from
        // /proc/self/maps); the kernel never unmaps it behind our back.
        let bytes = unsafe {
            std::slice::from_raw_parts(image.start as *const u8, (image.end - image.start) as usize)
        };
        v.getcpu = find_symbol(bytes, b"__vdso_getcpu").map(|off| image.start + off);
        if v.getcpu.is_none() {
            tracing::warn!("host vDSO without __vdso_getcpu");
        }
        Some(v)
    })
    .as_ref()
}

/// The host vDSO, if [`init`] found one.
pub fn host() -> Option<&'static HostVdso> {
    HOST.get().and_then(|h| h.as_ref())
}

/// The offset in `img` (a vDSO image as mapped) of a defined dynamic symbol, found through
/// PT_DYNAMIC, DT_SYMTAB, DT_STRTAB and DT_HASH. Every read is bounds-checked.
fn find_symbol(img: &[u8], name: &[u8]) -> Option<u64> {
    let u16_at = |o: u64| -> Option<u64> {
        let o = usize::try_from(o).ok()?;
        Some(u16::from_le_bytes(img.get(o..o.checked_add(2)?)?.try_into().ok()?) as u64)
    };
    let u32_at = |o: u64| -> Option<u64> {
        let o = usize::try_from(o).ok()?;
        Some(u32::from_le_bytes(img.get(o..o.checked_add(4)?)?.try_into().ok()?) as u64)
    };
    let u64_at = |o: u64| -> Option<u64> {
        let o = usize::try_from(o).ok()?;
        Some(u64::from_le_bytes(
            img.get(o..o.checked_add(8)?)?.try_into().ok()?,
        ))
    };
    if img.get(..4)? != b"\x7fELF" {
        return None;
    }
    let (phoff, phnum) = (u64_at(32)?, u16_at(56)?);
    // Virtual addresses of the image -> offsets: the first PT_LOAD maps offset p_offset at
    // p_vaddr.
    let mut bias: Option<i128> = None;
    let mut dynamic = None;
    for i in 0..phnum {
        let ph = phoff.checked_add(i * 56)?;
        match u32_at(ph)? {
            1 if bias.is_none() => bias = Some(u64_at(ph + 8)? as i128 - u64_at(ph + 16)? as i128),
            2 => dynamic = Some(u64_at(ph + 8)?),
            _ => {}
        }
    }
    let bias = bias?;
    let off = |vaddr: u64| u64::try_from(vaddr as i128 + bias).ok();
    let (mut symtab, mut strtab, mut hash) = (None, None, None);
    let mut d = dynamic?;
    for _ in 0..256 {
        let (tag, val) = (u64_at(d)?, u64_at(d + 8)?);
        match tag {
            0 => break,
            4 => hash = off(val),
            5 => strtab = off(val),
            6 => symtab = off(val),
            _ => {}
        }
        d += 16;
    }
    let (symtab, strtab, hash) = (symtab?, strtab?, hash?);
    let nsyms = u32_at(hash + 4)?.min(4096);
    for i in 0..nsyms {
        let sym = symtab + i * 24;
        let shndx = u16_at(sym + 6)?;
        let s = usize::try_from(strtab + u32_at(sym)?).ok()?;
        let n = img.get(s..)?;
        let n = &n[..n.iter().position(|&c| c == 0)?];
        if n == name && shndx != 0 {
            return off(u64_at(sym + 8)?);
        }
    }
    None
}

fn parse_maps(maps: &str) -> Vec<Region> {
    let mut out = Vec::new();
    for line in maps.lines() {
        let mut it = line.split_ascii_whitespace();
        let (Some(range), Some(perms)) = (it.next(), it.next()) else {
            continue;
        };
        let Some(name) = it.nth(3) else { continue };
        if !(name.starts_with("[vvar") || name == "[vdso]") {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else {
            continue;
        };
        let p = perms.as_bytes();
        let mut prot = 0;
        if p.first() == Some(&b'r') {
            prot |= libc::PROT_READ as u32;
        }
        if p.get(1) == Some(&b'w') {
            prot |= libc::PROT_WRITE as u32;
        }
        if p.get(2) == Some(&b'x') {
            prot |= libc::PROT_EXEC as u32;
        }
        out.push(Region {
            start,
            end,
            prot,
            name: name.to_string(),
        });
    }
    out.sort_by_key(|r| r.start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vdso_lines() {
        let maps = "\
55d0c0000000-55d0c0001000 r--p 00000000 08:01 123   /usr/bin/x
7f77b4c52000-7f77b4c56000 r--p 00000000 00:00 0                          [vvar]
7f77b4c56000-7f77b4c58000 r--p 00000000 00:00 0                          [vvar_vclock]
7f77b4c58000-7f77b4c5a000 r-xp 00000000 00:00 0                          [vdso]
7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]
";
        let r = parse_maps(maps);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].name, "[vvar]");
        assert_eq!(r[2].start, 0x7f77b4c58000);
        assert_eq!(r[2].prot, 5);
        let v = HostVdso {
            regions: r,
            ehdr: 0x7f77b4c58000,
            getcpu: None,
        };
        assert!(v.overlaps(0x7f77b4c59000, 0x7f77b4c5b000));
        assert!(!v.overlaps(0x7f77b4c5a000, 0x7f77b4c5b000));
    }

    #[test]
    fn finds_getcpu_in_the_sentrys_vdso() {
        if let Some(v) = init() {
            let g = v.getcpu.expect("__vdso_getcpu");
            assert!(v.overlaps(g, g + 1));
        }
        assert_eq!(find_symbol(b"\x7fELF", b"x"), None);
        assert_eq!(find_symbol(&[0u8; 64], b"x"), None);
    }
}
