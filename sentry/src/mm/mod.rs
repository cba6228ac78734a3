//! The workload's address spaces. The sentry chooses and validates mappings and has the stub
//! execute them (injection). Workload memory lives in the memory file (`space.rs`: the
//! sentry copies through the file), or with `MOAT_STUB_MEMORY=1` in the stub processes
//! themselves (copied with process_vm_readv/writev).

pub mod memfile;
pub mod patch;
pub mod pool;
pub mod space;
pub mod vdso;

use crate::errno::Errno;
use crate::platform::ptrace;
use crate::vfs::Inode;
use std::rc::Rc;

pub const PAGE: u64 = 4096;

pub fn page_down(a: u64) -> u64 {
    a & !(PAGE - 1)
}
pub fn page_up(a: u64) -> Option<u64> {
    a.checked_add(PAGE - 1).map(|v| v & !(PAGE - 1))
}

/// A handle to copy data in and out of one address space.
#[derive(Debug, Clone, Copy)]
pub struct Mem {
    pub pid: i32,
}

impl Mem {
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        if addr
            .checked_add(buf.len() as u64)
            .is_none_or(|e| e > ptrace::TASK_SIZE)
        {
            return Err(Errno::EFAULT);
        }
        if space::enabled() {
            return space::read(self.pid, addr, buf);
        }
        ptrace::read_mem(self.pid, addr, buf).map_err(|_| Errno::EFAULT)
    }

    pub fn read_vec(&self, addr: u64, len: usize) -> Result<Vec<u8>, Errno> {
        let mut v = vec![0u8; len];
        self.read(addr, &mut v)?;
        Ok(v)
    }

    pub fn write(&self, addr: u64, buf: &[u8]) -> Result<(), Errno> {
        if addr
            .checked_add(buf.len() as u64)
            .is_none_or(|e| e > ptrace::TASK_SIZE)
        {
            return Err(Errno::EFAULT);
        }
        if space::enabled() {
            return space::write(self.pid, addr, buf);
        }
        ptrace::write_mem(self.pid, addr, buf).map_err(|_| Errno::EFAULT)
    }

    pub fn read_u64(&self, addr: u64) -> Result<u64, Errno> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    pub fn read_u32(&self, addr: u64) -> Result<u32, Errno> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    pub fn write_u64(&self, addr: u64, v: u64) -> Result<(), Errno> {
        self.write(addr, &v.to_le_bytes())
    }
    pub fn write_u32(&self, addr: u64, v: u32) -> Result<(), Errno> {
        self.write(addr, &v.to_le_bytes())
    }
    pub fn write_i32(&self, addr: u64, v: i32) -> Result<(), Errno> {
        self.write(addr, &v.to_le_bytes())
    }

    /// Writes a plain-old-data value.
    pub fn write_pod<T: Copy>(&self, addr: u64, v: &T) -> Result<(), Errno> {
        // SAFETY: T is Copy plain data; we view its bytes only for the duration of the copy.
        let b = unsafe {
            std::slice::from_raw_parts(v as *const T as *const u8, std::mem::size_of::<T>())
        };
        self.write(addr, b)
    }

    /// Reads a plain-old-data value. T must be valid for any bit pattern.
    pub fn read_pod<T: Copy>(&self, addr: u64) -> Result<T, Errno> {
        let mut v = std::mem::MaybeUninit::<T>::zeroed();
        // SAFETY: the buffer covers exactly the storage of v.
        let b = unsafe {
            std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut u8, std::mem::size_of::<T>())
        };
        self.read(addr, b)?;
        // SAFETY: callers only use integer-only structs, valid for any bytes.
        Ok(unsafe { v.assume_init() })
    }

    /// Reads a NUL-terminated string of at most `max` bytes (without the NUL).
    pub fn read_cstr(&self, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        let mut a = addr;
        loop {
            let chunk = (PAGE - (a % PAGE)) as usize;
            let mut buf = vec![0u8; chunk];
            // A page is readable whole or not at all.
            self.read(a, &mut buf)?;
            let n = chunk;
            if let Some(z) = buf[..n].iter().position(|&c| c == 0) {
                out.extend_from_slice(&buf[..z]);
                if out.len() > max {
                    return Err(Errno::ENAMETOOLONG);
                }
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
            if out.len() > max {
                return Err(Errno::ENAMETOOLONG);
            }
            a += n as u64;
        }
    }

    /// Reads a NULL-terminated array of string pointers (argv, envp).
    pub fn read_str_array(&self, addr: u64, max_total: usize) -> Result<Vec<Vec<u8>>, Errno> {
        let mut out = Vec::new();
        if addr == 0 {
            return Ok(out);
        }
        let mut total = 0usize;
        for i in 0.. {
            let p = self.read_u64(addr + i * 8)?;
            if p == 0 {
                break;
            }
            // One string longer than Linux's MAX_ARG_STRLEN is E2BIG too.
            let s = self
                .read_cstr(p, crate::loader::MAX_ARG_STRLEN - 1)
                .map_err(|e| {
                    if e == Errno::ENAMETOOLONG {
                        Errno::E2BIG
                    } else {
                        e
                    }
                })?;
            total += s.len() + 1 + 8;
            if total > max_total {
                return Err(Errno::E2BIG);
            }
            out.push(s);
        }
        Ok(out)
    }
}

/// One mapping, as /proc/pid/maps shows it.
#[derive(Debug, Clone, Default)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    pub prot: u32,
    pub shared: bool,
    pub name: String,
    /// The mapped file (device, inode and the " (deleted)" mark in /proc/pid/maps; the EOF
    /// check for SIGBUS) and the file offset of `start`.
    pub file: Option<Rc<Inode>>,
    pub pgoff: u64,
}

impl Vma {
    /// The /proc/pid/maps line (without the newline), in Linux's format: the path starts at
    /// column 73; an unlinked file is marked " (deleted)".
    pub fn maps_line(&self) -> String {
        let r = if self.prot & 1 != 0 { 'r' } else { '-' };
        let w = if self.prot & 2 != 0 { 'w' } else { '-' };
        let x = if self.prot & 4 != 0 { 'x' } else { '-' };
        let sh = if self.shared { 's' } else { 'p' };
        let (off, dev, ino) = match &self.file {
            Some(f) => (self.pgoff, f.dev, f.ino),
            None => (0, 0, 0),
        };
        let line = format!(
            "{:08x}-{:08x} {r}{w}{x}{sh} {off:08x} {:02x}:{:02x} {ino} ",
            self.start,
            self.end,
            crate::vfs::inode::major(dev),
            crate::vfs::inode::minor(dev),
        );
        let deleted = self.file.as_ref().is_some_and(|f| {
            matches!(f.kind, crate::vfs::InodeKind::File(_)) && f.meta.borrow().nlink == 0
        }) && !self.name.ends_with(" (deleted)");
        if self.name.is_empty() {
            line
        } else if deleted {
            format!("{line:<73}{} (deleted)", self.name)
        } else {
            format!("{line:<73}{}", self.name)
        }
    }

    /// The part of this mapping that starts at `at` (inside it): the file offset moves along.
    fn from(&self, at: u64) -> Vma {
        Vma {
            start: at,
            // The offset is the workload's (mmap's last argument): never overflow on it.
            pgoff: self.pgoff.wrapping_add(at - self.start),
            ..self.clone()
        }
    }
}

/// What the sentry knows about one address space.
#[derive(Debug, Clone, Default)]
pub struct MmState {
    pub brk_start: u64,
    pub brk: u64,
    pub vmas: Vec<Vma>,
    pub stack_top: u64,
    pub arg_start: u64,
    pub arg_end: u64,
    pub env_start: u64,
    pub env_end: u64,
    /// Files whose memory-file pages back mappings here, as (start, end, file). A mapping
    /// keeps its file's pages alive after the last name and descriptor are gone, as in Linux:
    /// without this the file's window would be freed under the mapping (reading zeros) and
    /// handed to the next file. Kept in step with `vmas` by `remove`.
    pub pinned: Vec<(u64, u64, Rc<Inode>)>,
    /// The workload unmapped, moved, replaced or re-protected part of the host vDSO block
    /// (see vdso.rs): exec must then start from a fresh stub.
    pub vdso_disturbed: bool,
    /// Pages of file mappings that lie wholly past the file's end, made inaccessible on the host
    /// (PROT_NONE) so that a touch faults: the fault becomes SIGBUS, or, when the file has
    /// grown since, the pages get their protection back (syscalls/mm.rs: file_fault).
    pub fences: Vec<(u64, u64)>,
    /// The auxiliary vector the loader gave this image (/proc/pid/auxv), AT_NULL included.
    pub auxv: Vec<u8>,
}

impl MmState {
    /// Records a new mapping, replacing whatever it overlaps.
    pub fn add(&mut self, vma: Vma) {
        self.remove(vma.start, vma.end);
        let pos = self.vmas.partition_point(|v| v.start < vma.start);
        self.vmas.insert(pos, vma);
    }

    /// Notes a change of [start, end) made by the workload (munmap, mremap, MAP_FIXED,
    /// mprotect): if it touches the vDSO block, exec can no longer reuse this stub's.
    pub fn touch(&mut self, start: u64, end: u64) {
        if vdso::host().is_some_and(|v| v.overlaps(start, end)) {
            self.vdso_disturbed = true;
        }
    }

    /// Forgets [start, end), splitting mappings that straddle it.
    pub fn remove(&mut self, start: u64, end: u64) {
        let mut out = Vec::with_capacity(self.vmas.len() + 1);
        for v in self.vmas.drain(..) {
            if v.end <= start || v.start >= end {
                out.push(v);
                continue;
            }
            if v.start < start {
                out.push(Vma {
                    end: start,
                    ..v.clone()
                });
            }
            if v.end > end {
                out.push(v.from(end));
            }
        }
        self.vmas = out;
        self.unfence(start, end);
        let mut pins = Vec::with_capacity(self.pinned.len() + 1);
        for (s, e, file) in self.pinned.drain(..) {
            if e <= start || s >= end {
                pins.push((s, e, file));
                continue;
            }
            if s < start {
                pins.push((s, start, file.clone()));
            }
            if e > end {
                pins.push((end, e, file));
            }
        }
        self.pinned = pins;
    }

    /// Forgets the fences in [start, end).
    pub fn unfence(&mut self, start: u64, end: u64) {
        let mut out = Vec::with_capacity(self.fences.len() + 1);
        for (s, e) in self.fences.drain(..) {
            if e <= start || s >= end {
                out.push((s, e));
                continue;
            }
            if s < start {
                out.push((s, start));
            }
            if e > end {
                out.push((end, e));
            }
        }
        self.fences = out;
    }

    /// The fence holding `addr`, if any.
    pub fn fence_at(&self, addr: u64) -> Option<(u64, u64)> {
        self.fences
            .iter()
            .copied()
            .find(|&(s, e)| s <= addr && addr < e)
    }

    pub fn protect(&mut self, start: u64, end: u64, prot: u32) {
        let affected: Vec<Vma> = self
            .vmas
            .iter()
            .filter(|v| v.start < end && v.end > start)
            .cloned()
            .collect();
        for v in affected {
            let s = v.start.max(start);
            let e = v.end.min(end);
            self.add(Vma {
                end: e,
                prot,
                ..v.from(s)
            });
        }
    }

    pub fn total_size(&self) -> u64 {
        self.vmas.iter().map(|v| v.end - v.start).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vma_split_and_protect() {
        let mut m = MmState::default();
        m.add(Vma {
            start: 0x1000,
            end: 0x5000,
            prot: 3,
            ..Default::default()
        });
        m.remove(0x2000, 0x3000);
        assert_eq!(m.vmas.len(), 2);
        m.protect(0x3000, 0x4000, 1);
        assert_eq!(m.vmas.len(), 3);
        // The file offset follows the pieces.
        assert_eq!(m.vmas[1].start, 0x3000);
        assert_eq!(m.vmas[1].pgoff, 0x2000);
        assert_eq!(m.vmas[2].pgoff, 0x3000);
        assert_eq!(m.total_size(), 0x3000);
    }
}
