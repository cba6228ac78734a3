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
}

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
        if ehdr == 0 {
            return None;
        }
        let regions = parse_maps(&maps);
        let v = HostVdso { regions, ehdr };
        let contiguous = v.regions.windows(2).all(|w| w[0].end == w[1].start);
        let has_image = v
            .regions
            .iter()
            .any(|r| r.name == "[vdso]" && r.start <= ehdr && ehdr < r.end);
        if !contiguous || !has_image {
            tracing::warn!(?v, "unexpected host vDSO layout: the workload gets no vDSO");
            return None;
        }
        Some(v)
    })
    .as_ref()
}

/// The host vDSO, if [`init`] found one.
pub fn host() -> Option<&'static HostVdso> {
    HOST.get().and_then(|h| h.as_ref())
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
        };
        assert!(v.overlaps(0x7f77b4c59000, 0x7f77b4c5b000));
        assert!(!v.overlaps(0x7f77b4c5a000, 0x7f77b4c5b000));
    }
}
