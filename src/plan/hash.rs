//! A fast, non-cryptographic hasher for the task-id index (the FxHash function of rustc).
//! Task ids come from the user's own plan, so hash flooding is not a concern, and SipHash
//! showed up in profiles of 10k-task plans.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FxHash: multiply-rotate over 8-byte words.
#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by task id.
pub type IdMap<V> = HashMap<String, V, BuildHasherDefault<FxHasher>>;

#[cfg(test)]
mod tests {
    use super::IdMap;

    #[test]
    fn behaves_like_a_map() {
        let mut m = IdMap::default();
        for i in 0..1000 {
            m.insert(format!("phase-{}/task-{i:06}", i % 5), i);
        }
        assert_eq!(m.len(), 1000);
        assert_eq!(m.get("phase-2/task-000007"), Some(&7));
        assert_eq!(m.get("phase-2/task-000008"), None);
    }
}
