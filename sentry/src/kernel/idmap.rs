//! Maps keyed by small integer ids the sentry hands out itself (tids, pids, host pids).
//!
//! The task and process tables are looked up several times per syscall; std's SipHash is
//! built to resist keys an attacker picks, which these are not (the sentry allocates them),
//! so a multiply-shift hash does.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A hasher for integer keys: one multiply by an odd constant (Fibonacci hashing).
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not used by integer keys; fold anything else in byte by byte.
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn write_i32(&mut self, v: i32) {
        self.write_u64(v as u32 as u64);
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64);
    }
}

pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_many_ids() {
        let mut m: IdMap<i32, i32> = IdMap::default();
        for i in 0..10_000 {
            m.insert(i, -i);
        }
        assert_eq!(m.len(), 10_000);
        assert!((0..10_000).all(|i| m.get(&i) == Some(&-i)));
        assert_eq!(m.get(&10_000), None);
    }
}
