//! Syscall patching (systrap only, `MOAT_SYSCALL_PATCH=1`).
//!
//! A trapped syscall costs a SIGSYS delivery and an rt_sigreturn on the host, most of a
//! round trip. Most syscalls in compiled code are the 7 bytes `mov $nr, %eax; syscall`, and
//! glibc's generic `syscall(3)` ends in `mov 0x8(%rsp), %r9; syscall`. When such a site
//! traps the second time (a site run once is not worth a copied code page), the sentry
//! rewrites those 7 bytes in the process's
//! private copy of the page into
//!
//! ```text
//!   ff 24 25 <slot>      jmp *slot      (slot = START + 8 * index: its top bytes are 0f 05)
//! ```
//!
//! where `slot` holds the address of the site's trampoline: the replaced 5-byte instruction,
//! `movabs $ret, %rcx` (the return address, as `syscall` leaves it in rcx) and `jmp
//! moat_systrap_patched`. The
//! stub code at `moat_systrap_patched` builds the frame the kernel would have built and goes
//! on as the SIGSYS handler, so everything past it (the sentry's view, signal delivery,
//! rt_sigreturn) is the trap path's. The last two bytes of the jump are `0f 05`, the old
//! `syscall`: a thread that was between the two instructions when the page changed, or a
//! restarted syscall (rip moved back by 2), executes a real `syscall` and traps as before.
//!
//! Slots and trampolines live in one private region of the process at a fixed low address
//! (`START..END`), which the workload cannot map over. Nothing here widens what a stub can
//! do on the host: the trampolines and the patched code run as workload code, whose syscalls
//! still trap; only the stub region's code may make the filter's few host calls.

use super::space;
use crate::kernel::{Kernel, Tid};

/// The slot table: `SITES` 8-byte slots at an address whose bytes 2 and 3 are 0f 05.
pub const START: u64 = 0x050f_0000;
const SITES: u32 = 8192;
/// The trampolines, 32 bytes each.
const TRAMPOLINES: u64 = 0x0510_0000;
const TRAMPOLINE_SIZE: u64 = 32;
pub const END: u64 = TRAMPOLINES + SITES as u64 * TRAMPOLINE_SIZE;

/// Whether this sandbox patches syscall sites.
pub fn enabled() -> bool {
    crate::platform::kind() == crate::platform::Kind::Systrap
        && crate::platform::systrap::patching()
}

/// Whether [start, end) overlaps the patch region (the workload may not map there).
pub fn overlaps(start: u64, end: u64) -> bool {
    enabled() && start < END && end > START
}

/// The code that replaces `mov $nr, %eax; syscall` for slot `index`.
fn jump(index: u32) -> [u8; 7] {
    let slot = START as u32 + index * 8;
    let b = slot.to_le_bytes();
    [0xff, 0x24, 0x25, b[0], b[1], b[2], b[3]]
}

/// glibc's `syscall(3)`: `mov 0x8(%rsp), %r9; syscall`, the number already in rax.
const LOAD_R9_THEN_SYSCALL: [u8; 7] = [0x4c, 0x8b, 0x4c, 0x24, 0x08, 0x0f, 0x05];

/// The 5-byte instruction in front of a patchable `syscall` at `code[5..7]`: `mov $nr,
/// %eax` for this very number, or the stack load of glibc's generic wrapper. Both run
/// unchanged in the trampoline (neither refers to rip).
fn patchable(code: &[u8; 7], nr: u64) -> bool {
    let mut mov = [0xb8, 0, 0, 0, 0, 0x0f, 0x05];
    mov[1..5].copy_from_slice(&(nr as u32).to_le_bytes());
    *code == mov || *code == LOAD_R9_THEN_SYSCALL
}

/// The trampoline of one site: the instruction the jump replaced, then the return address
/// in rcx (as `syscall` leaves it) and on into the stub.
fn trampoline(first: &[u8], ret: u64, entry: u64) -> [u8; 29] {
    let mut t = [0u8; 29];
    t[..5].copy_from_slice(&first[..5]);
    t[5] = 0x48;
    t[6] = 0xb9;
    t[7..15].copy_from_slice(&ret.to_le_bytes());
    // jmp *0(%rip), then the absolute address.
    t[15..21].copy_from_slice(&[0xff, 0x25, 0, 0, 0, 0]);
    t[21..29].copy_from_slice(&entry.to_le_bytes());
    t
}

/// After the trap of a syscall whose instruction ends at `rip`: patch the site if it is
/// the plain `mov $nr, %eax; syscall` in private code. Failures leave the site trapping.
pub fn after_trap(k: &Kernel, tid: Tid, rip: u64, nr: u64) {
    if !enabled() || nr >= 1024 || rip < 7 {
        return;
    }
    let site = rip - 7;
    let Ok(mem) = k.mem_of(tid) else { return };
    let pid = mem.pid;
    let first = space::with_space(pid, |s| {
        if s.unpatchable.contains(&site) {
            return true;
        }
        // Bounded like `unpatchable`.
        s.trapped_once.len() < 4096 && s.trapped_once.insert(site)
    });
    if first {
        return;
    }
    let mut code = [0u8; 7];
    if mem.read(site, &mut code).is_err() || !patchable(&code, nr) {
        // Bounded: a program with more such sites just reads them again.
        space::with_space(pid, |s| {
            if s.unpatchable.len() < 4096 {
                s.unpatchable.insert(site);
            }
        });
        return;
    }
    let Some(index) = next_index(k, tid, pid) else {
        return;
    };
    let entry = crate::platform::systrap::stub::patched_entry_addr();
    let tramp = trampoline(&code, rip, entry);
    let at = TRAMPOLINES + index as u64 * TRAMPOLINE_SIZE;
    let slot = START + index as u64 * 8;
    let ok = space::poke(pid, at, &tramp).unwrap_or(false)
        && space::poke(pid, slot, &at.to_le_bytes()).unwrap_or(false)
        && space::poke(pid, site, &jump(index)).unwrap_or(false);
    if ok {
        space::with_space(pid, |s| s.patch_next = Some(index + 1));
        tracing::trace!(task = tid, nr, site, index, "patched syscall site");
    }
}

/// A fault at the start of the patched-syscall entry (see `stub::patched_check_range`):
/// turns the task's registers into those of the syscall the trampoline was entering (eax =
/// number, rcx = return address, r11 = flags, as `syscall` leaves them) and says so.
pub fn entry_fault(k: &mut Kernel, tid: Tid) -> bool {
    if !enabled() {
        return false;
    }
    let (entry, pushed, checked) = crate::platform::systrap::stub::patched_check_range();
    let mut r = k.task(tid).regs;
    if !(entry..checked).contains(&r.rip) {
        return false;
    }
    if r.rip < pushed {
        r.rsp = r.rsp.wrapping_add(128);
    } else {
        let Ok(flags) = k.mem_of(tid).and_then(|m| m.read_u64(r.rsp)) else {
            return false;
        };
        r.eflags = flags;
        r.rsp = r.rsp.wrapping_add(136);
    }
    r.orig_rax = r.rax;
    r.rip = r.rcx;
    r.r11 = r.eflags;
    k.task_mut(tid).regs = r;
    true
}

/// The next free slot, mapping the region on first use.
fn next_index(k: &Kernel, tid: Tid, pid: i32) -> Option<u32> {
    match space::with_space(pid, |s| s.patch_next) {
        Some(i) if i < SITES => return Some(i),
        Some(_) => return None,
        None => {}
    }
    let rx = (libc::PROT_READ | libc::PROT_EXEC) as u64;
    let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE) as u64;
    let r = space::host_call(
        k,
        tid,
        libc::SYS_mmap,
        [START, END - START, rx, flags, u64::MAX, 0],
    );
    match r {
        Ok(at) if at == START => {
            space::with_space(pid, |s| s.patch_next = Some(0));
            Some(0)
        }
        _ => {
            // Something is there (or the host refused): this process keeps trapping.
            space::with_space(pid, |s| s.patch_next = Some(SITES));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jump_ends_in_the_old_syscall_instruction() {
        for i in [0, 1, 4095, SITES - 1] {
            let j = jump(i);
            assert_eq!(&j[..3], &[0xff, 0x24, 0x25]);
            assert_eq!(&j[5..], &[0x0f, 0x05], "slot {i}");
            let slot = u32::from_le_bytes([j[3], j[4], j[5], j[6]]) as u64;
            assert_eq!(slot, START + 8 * i as u64);
            assert!(slot + 8 <= TRAMPOLINES);
        }
    }

    #[test]
    fn only_the_two_known_sequences_are_patched() {
        assert!(patchable(&[0xb8, 39, 0, 0, 0, 0x0f, 0x05], 39));
        assert!(!patchable(&[0xb8, 39, 0, 0, 0, 0x0f, 0x05], 40));
        assert!(patchable(&LOAD_R9_THEN_SYSCALL, 39));
        assert!(!patchable(&[0x48, 0x89, 0xc7, 0x90, 0x90, 0x0f, 0x05], 39));
    }

    #[test]
    fn trampoline_sets_number_and_return_address() {
        let t = trampoline(&[0xb8, 39, 0, 0, 0], 0x7fff_1234_5678, 0x5555_0000_1000);
        assert_eq!(&t[..5], &[0xb8, 39, 0, 0, 0]);
        assert_eq!(
            u64::from_le_bytes(t[7..15].try_into().unwrap()),
            0x7fff_1234_5678
        );
        assert_eq!(
            u64::from_le_bytes(t[21..29].try_into().unwrap()),
            0x5555_0000_1000
        );
        assert!(t.len() as u64 <= TRAMPOLINE_SIZE);
    }
}
