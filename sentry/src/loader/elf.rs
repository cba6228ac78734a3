//! A minimal, bounds-checked ELF64 header parser.

use crate::errno::Errno;

pub const PT_LOAD: u32 = 1;
pub const PT_INTERP: u32 = 3;
pub const PT_PHDR: u32 = 6;
pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;
pub const PF_R: u32 = 4;

#[derive(Debug, Clone)]
pub struct Phdr {
    pub kind: u32,
    pub flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
}

#[derive(Debug)]
pub struct Elf {
    pub entry: u64,
    pub is_dyn: bool,
    pub phoff: u64,
    pub phdrs: Vec<Phdr>,
}

fn u16_at(d: &[u8], o: usize) -> Result<u16, Errno> {
    d.get(o..o + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or(Errno::ENOEXEC)
}
fn u32_at(d: &[u8], o: usize) -> Result<u32, Errno> {
    d.get(o..o + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or(Errno::ENOEXEC)
}
fn u64_at(d: &[u8], o: usize) -> Result<u64, Errno> {
    d.get(o..o + 8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .ok_or(Errno::ENOEXEC)
}

impl Elf {
    pub fn parse(d: &[u8]) -> Result<Elf, Errno> {
        if d.len() < 64 || &d[0..4] != b"\x7fELF" {
            return Err(Errno::ENOEXEC);
        }
        // 64-bit, little endian, x86-64.
        if d[4] != 2 || d[5] != 1 || u16_at(d, 18)? != 62 {
            return Err(Errno::ENOEXEC);
        }
        let etype = u16_at(d, 16)?;
        if etype != 2 && etype != 3 {
            return Err(Errno::ENOEXEC);
        }
        let entry = u64_at(d, 24)?;
        let phoff = u64_at(d, 32)?;
        let phentsize = u16_at(d, 54)? as u64;
        let phnum = u16_at(d, 56)? as u64;
        if phentsize != 56 || phnum == 0 || phnum > 128 {
            return Err(Errno::ENOEXEC);
        }
        let mut phdrs = Vec::with_capacity(phnum as usize);
        for i in 0..phnum {
            let o = phoff.checked_add(i * phentsize).ok_or(Errno::ENOEXEC)? as usize;
            phdrs.push(Phdr {
                kind: u32_at(d, o)?,
                flags: u32_at(d, o + 4)?,
                offset: u64_at(d, o + 8)?,
                vaddr: u64_at(d, o + 16)?,
                filesz: u64_at(d, o + 32)?,
                memsz: u64_at(d, o + 40)?,
            });
        }
        Ok(Elf {
            entry,
            is_dyn: etype == 3,
            phoff,
            phdrs,
        })
    }

    /// Virtual address of the program headers once loaded (bias not applied).
    pub fn phdr_vaddr(&self) -> Option<u64> {
        if let Some(p) = self.phdrs.iter().find(|p| p.kind == PT_PHDR) {
            return Some(p.vaddr);
        }
        self.phdrs
            .iter()
            .find(|p| {
                p.kind == PT_LOAD && p.offset <= self.phoff && self.phoff < p.offset + p.filesz
            })
            .map(|p| p.vaddr + (self.phoff - p.offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage() {
        assert!(Elf::parse(b"not an elf").is_err());
        let mut h = vec![0u8; 64];
        h[0..4].copy_from_slice(b"\x7fELF");
        assert!(Elf::parse(&h).is_err());
    }

    #[test]
    fn parses_own_binary() {
        let exe = std::fs::read("/proc/self/exe").expect("read self");
        let e = Elf::parse(&exe).expect("parse self");
        assert!(e.phdrs.iter().any(|p| p.kind == PT_LOAD));
    }
}
