//! The private page pool: the upper half of the memory file, which backs workload memory that
//! belongs to no file (anonymous mappings, the heap, stacks, pages copied on write).
//!
//! Offsets are handed out in page-aligned runs. Each allocated page has a reference count: one
//! per address space that maps it. Fork shares runs between parent and child (count 2) until
//! one of them writes; a page whose count drops to zero is punched out of the file (its
//! memory goes back to the host at once) and its offset range is reused.

use super::memfile;
use super::PAGE;
use crate::errno::Errno;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Included, Unbounded};

/// Where the pool starts in the memory file (file windows live below it).
pub const POOL_BASE: u64 = 1 << 45;
/// Where it ends: the memory file's size.
pub const POOL_END: u64 = 1 << 46;

#[derive(Default)]
struct Pool {
    /// Offsets never handed out start here.
    next: u64,
    /// Returned runs, start -> end, coalesced.
    free: BTreeMap<u64, u64>,
    /// Allocated runs, start -> (end, count), non-overlapping.
    counts: BTreeMap<u64, (u64, u32)>,
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool { next: POOL_BASE, ..Default::default() });
}

impl Pool {
    /// Makes `at` a boundary between count runs.
    fn split_at(&mut self, at: u64) {
        let hit = self
            .counts
            .range((Unbounded, Excluded(at)))
            .next_back()
            .map(|(&s, &(e, c))| (s, e, c));
        if let Some((s, e, c)) = hit {
            if s < at && at < e {
                self.counts.insert(s, (at, c));
                self.counts.insert(at, (e, c));
            }
        }
    }

    fn alloc(&mut self, len: u64) -> Result<u64, Errno> {
        let reuse = self
            .free
            .iter()
            .find(|(&s, &e)| e - s >= len)
            .map(|(&s, &e)| (s, e));
        let off = match reuse {
            Some((s, e)) => {
                self.free.remove(&s);
                if e - s > len {
                    self.free.insert(s + len, e);
                }
                s
            }
            None => {
                let off = self.next;
                if off.checked_add(len).is_none_or(|end| end > POOL_END) {
                    return Err(Errno::ENOMEM);
                }
                self.next = off + len;
                off
            }
        };
        self.counts.insert(off, (off + len, 1));
        Ok(off)
    }

    /// Adds `delta` to the count of every page in [off, off+len); returns the runs that
    /// reached zero.
    fn add(&mut self, off: u64, len: u64, delta: i32) -> Vec<(u64, u64)> {
        let end = off + len;
        self.split_at(off);
        self.split_at(end);
        let keys: Vec<u64> = self
            .counts
            .range((Included(off), Excluded(end)))
            .map(|(&s, _)| s)
            .collect();
        let mut freed = Vec::new();
        for s in keys {
            let Some(&(e, c)) = self.counts.get(&s) else {
                continue;
            };
            let n = c as i64 + delta as i64;
            if n <= 0 {
                self.counts.remove(&s);
                freed.push((s, e));
            } else {
                self.counts.insert(s, (e, n as u32));
            }
        }
        for &(s, e) in &freed {
            self.give_back(s, e);
        }
        freed
    }

    fn give_back(&mut self, mut s: u64, mut e: u64) {
        if let Some((&ps, &pe)) = self.free.range((Unbounded, Included(s))).next_back() {
            if pe == s {
                self.free.remove(&ps);
                s = ps;
            }
        }
        if let Some(&ne) = self.free.get(&e) {
            self.free.remove(&e);
            e = ne;
        }
        if e == self.next {
            self.next = s;
        } else {
            self.free.insert(s, e);
        }
    }

    /// The runs of [off, off+len) with their counts (0 for pages not allocated).
    fn runs(&self, off: u64, len: u64) -> Vec<(u64, u64, u32)> {
        let end = off + len;
        let mut out = Vec::new();
        let mut at = off;
        let first = self
            .counts
            .range((Unbounded, Included(off)))
            .next_back()
            .map(|(&s, _)| s)
            .unwrap_or(off);
        for (&s, &(e, c)) in self.counts.range((Included(first), Excluded(end))) {
            if e <= at {
                continue;
            }
            if s > at {
                out.push((at, s, 0));
            }
            let lo = s.max(at);
            let hi = e.min(end);
            out.push((lo, hi, c));
            at = hi;
        }
        if at < end {
            out.push((at, end, 0));
        }
        out
    }
}

/// Allocates `len` bytes (page multiple) of zero pages with a count of one.
pub fn alloc(len: u64) -> Result<u64, Errno> {
    if len == 0 || len % PAGE != 0 {
        return Err(Errno::EINVAL);
    }
    memfile::raw_fd().ok_or(Errno::ENOMEM)?;
    POOL.with(|p| p.borrow_mut().alloc(len))
}

/// One more address space maps [off, off+len).
pub fn share(off: u64, len: u64) {
    POOL.with(|p| p.borrow_mut().add(off, len, 1));
}

/// One address space fewer maps [off, off+len): pages nobody maps any more are freed.
pub fn release(off: u64, len: u64) {
    let freed = POOL.with(|p| p.borrow_mut().add(off, len, -1));
    for (s, e) in freed {
        // A failure leaves the pages allocated, no worse: the offsets are free either way.
        let _ = memfile::punch(s, e - s);
    }
}

/// The runs of [off, off+len) with how many address spaces map each.
pub fn runs(off: u64, len: u64) -> Vec<(u64, u64, u32)> {
    POOL.with(|p| p.borrow().runs(off, len))
}

/// Pages currently allocated (for tests and diagnostics).
pub fn allocated_pages() -> u64 {
    POOL.with(|p| {
        p.borrow()
            .counts
            .iter()
            .map(|(&s, &(e, _))| (e - s) / PAGE)
            .sum()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> Pool {
        Pool {
            next: POOL_BASE,
            ..Default::default()
        }
    }

    #[test]
    fn counts_split_and_free() {
        let mut p = fresh();
        let a = p.alloc(8 * PAGE).unwrap();
        assert_eq!(a, POOL_BASE);
        p.add(a + 2 * PAGE, 2 * PAGE, 1);
        assert_eq!(
            p.runs(a, 8 * PAGE),
            vec![
                (a, a + 2 * PAGE, 1),
                (a + 2 * PAGE, a + 4 * PAGE, 2),
                (a + 4 * PAGE, a + 8 * PAGE, 1)
            ]
        );
        let freed = p.add(a, 8 * PAGE, -1);
        assert_eq!(freed.len(), 2);
        assert_eq!(
            p.runs(a + 2 * PAGE, 2 * PAGE),
            vec![(a + 2 * PAGE, a + 4 * PAGE, 1)]
        );
        // Freed runs are reused.
        let b = p.alloc(2 * PAGE).unwrap();
        assert_eq!(b, a);
        let freed = p.add(a + 2 * PAGE, 2 * PAGE, -1);
        assert_eq!(freed, vec![(a + 2 * PAGE, a + 4 * PAGE)]);
        p.add(b, 2 * PAGE, -1);
        // Everything returned: the bump pointer is back at the start.
        assert_eq!(p.next, POOL_BASE);
        assert!(p.free.is_empty());
    }

    #[test]
    fn runs_report_unallocated_gaps() {
        let mut p = fresh();
        let a = p.alloc(PAGE).unwrap();
        assert_eq!(
            p.runs(a, 3 * PAGE),
            vec![(a, a + PAGE, 1), (a + PAGE, a + 3 * PAGE, 0)]
        );
    }
}
