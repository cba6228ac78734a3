//! tmpfs `size=`: a page budget per mounted tmpfs (by device number). A file is charged for
//! the pages up to the end of the data written into it (writes and fallocate), gives them back
//! when it shrinks and when the inode goes away; growing a file with truncate charges nothing,
//! as tmpfs holes take no memory.

use crate::errno::Errno;
use std::cell::RefCell;
use std::collections::HashMap;

pub const PAGE: u64 = 4096;

/// The memory the sandbox says it has (/proc/meminfo's MemTotal), for `size=N%`.
pub const RAM: u64 = 2 << 30;

#[derive(Debug, Clone, Copy)]
struct Budget {
    max_pages: u64,
    used_pages: u64,
}

thread_local! {
    static BUDGETS: RefCell<HashMap<u64, Budget>> = RefCell::new(HashMap::new());
}

fn pages(bytes: u64) -> u64 {
    bytes.div_ceil(PAGE)
}

/// Limits the filesystem on `dev` to `bytes` (rounded up to whole pages, as tmpfs does).
pub fn set_limit(dev: u64, bytes: u64) {
    BUDGETS.with(|b| {
        b.borrow_mut().insert(
            dev,
            Budget {
                max_pages: pages(bytes),
                used_pages: 0,
            },
        )
    });
}

/// (total, free) pages of a limited filesystem.
pub fn usage(dev: u64) -> Option<(u64, u64)> {
    BUDGETS.with(|b| {
        b.borrow()
            .get(&dev)
            .map(|x| (x.max_pages, x.max_pages.saturating_sub(x.used_pages)))
    })
}

/// A file that holds `charged` pages wants data up to byte `end`. Returns how far it may go:
/// `end`, or less when the budget runs out (ENOSPC when not even one more byte fits).
/// The new charge is stored in `charged`.
pub fn charge_to(
    dev: u64,
    charged: &std::cell::Cell<u64>,
    start: u64,
    end: u64,
) -> Result<u64, Errno> {
    BUDGETS.with(|b| {
        let mut b = b.borrow_mut();
        let Some(x) = b.get_mut(&dev) else {
            return Ok(end);
        };
        let want = pages(end);
        let have = charged.get();
        if want <= have {
            return Ok(end);
        }
        let free = x.max_pages.saturating_sub(x.used_pages);
        let grant = (want - have).min(free);
        let limit = (have + grant) * PAGE;
        if limit <= start {
            return Err(Errno::ENOSPC);
        }
        x.used_pages += grant;
        charged.set(have + grant);
        Ok(end.min(limit))
    })
}

/// The file now holds data only up to byte `len`: gives back the pages past it.
pub fn shrink_to(dev: u64, charged: &std::cell::Cell<u64>, len: u64) {
    let keep = pages(len).min(charged.get());
    release(dev, charged.get() - keep);
    charged.set(keep);
}

/// Gives back `n` pages (a file that shrank or went away).
pub fn release(dev: u64, n: u64) {
    if n == 0 {
        return;
    }
    // try_with: inodes may be dropped while thread-local storage is torn down.
    let _ = BUDGETS.try_with(|b| {
        if let Some(x) = b.borrow_mut().get_mut(&dev) {
            x.used_pages = x.used_pages.saturating_sub(n);
        }
    });
}

/// Parses a tmpfs size option: bytes with an optional k/m/g suffix, or a percentage of
/// `ram` bytes.
pub fn parse_size(v: &str, ram: u64) -> Option<u64> {
    if let Some(p) = v.strip_suffix('%') {
        return p.parse::<u64>().ok().map(|p| ram / 100 * p);
    }
    let (num, mul) = match v.chars().last()? {
        'k' | 'K' => (&v[..v.len() - 1], 1u64 << 10),
        'm' | 'M' => (&v[..v.len() - 1], 1 << 20),
        'g' | 'G' => (&v[..v.len() - 1], 1 << 30),
        't' | 'T' => (&v[..v.len() - 1], 1 << 40),
        _ => (v, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn budget_is_enforced_and_given_back() {
        let dev = 0x7777;
        set_limit(dev, 3 * PAGE);
        let a = Cell::new(0);
        assert_eq!(charge_to(dev, &a, 0, 10), Ok(10));
        assert_eq!(a.get(), 1);
        // Only two more pages: the write is cut short, then refused.
        assert_eq!(charge_to(dev, &a, 10, 5 * PAGE), Ok(3 * PAGE));
        assert_eq!(charge_to(dev, &a, 3 * PAGE, 4 * PAGE), Err(Errno::ENOSPC));
        assert_eq!(usage(dev), Some((3, 0)));
        shrink_to(dev, &a, PAGE);
        assert_eq!(usage(dev), Some((3, 2)));
        release(dev, a.get());
        assert_eq!(usage(dev), Some((3, 3)));
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("1m", 0), Some(1 << 20));
        assert_eq!(parse_size("64k", 0), Some(65536));
        assert_eq!(parse_size("4096", 0), Some(4096));
        assert_eq!(parse_size("50%", 1000), Some(500));
        assert_eq!(parse_size("x", 0), None);
    }
}
